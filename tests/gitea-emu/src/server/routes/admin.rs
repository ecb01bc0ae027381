//! Repository administration: webhooks (`/repos/{o}/{r}/hooks`) and branch protection rules
//! (`/repos/{o}/{r}/branch_protections`), enough for `sopbot setup`. Both need repo admin
//! (403 otherwise), as in Gitea. A rule here is the protection of the branch of the same name.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use crate::server::{find_repo, json_body, json_error, not_found, ok, parse_body, AppState, Res};
use crate::world::{Access, Branch, Hook, World};

/// The repo's name if the caller is its admin; else 403 (404 when it cannot see it).
fn admin_repo(w: &World, o: &str, r: &str, doer: &str) -> Result<String, Response> {
    let repo = find_repo(w, o, r, doer)?;
    if w.access(doer) < Access::Admin {
        return Err(json_error(
            w,
            StatusCode::FORBIDDEN,
            "user should be an owner or a collaborator with admin write of a repository",
        ));
    }
    Ok(repo.name.clone())
}

fn hook_json(h: &Hook) -> Value {
    json!({
        "id": h.id,
        "type": "gitea",
        "branch_filter": "*",
        "config": {"content_type": h.content_type, "url": h.url},
        "events": h.events,
        "authorization_header": "",
        "active": h.active,
    })
}

fn rule_json(b: &Branch) -> Value {
    json!({
        "branch_name": b.name,
        "rule_name": b.name,
        "priority": 0,
        "enable_status_check": b.enable_status_check,
        "status_check_contexts": b.status_check_contexts,
        "required_approvals": b.required_approvals,
        "dismiss_stale_approvals": b.dismiss_stale_approvals,
        "enable_approvals_whitelist": b.enable_approvals_whitelist,
        "approvals_whitelist_username": b.approvals_whitelist_users,
        "approvals_whitelist_teams": b.approvals_whitelist_teams,
    })
}

/// Applies the fields of a hook option body (create or edit).
fn apply_hook(h: &mut Hook, form: &Value) {
    if let Some(config) = form.get("config") {
        if let Some(url) = config.get("url").and_then(Value::as_str) {
            h.url = url.to_string();
        }
        if let Some(ct) = config.get("content_type").and_then(Value::as_str) {
            h.content_type = ct.to_string();
        }
        if let Some(secret) = config.get("secret").and_then(Value::as_str) {
            h.secret = secret.to_string();
        }
    }
    // Create and edit both rebuild the events from the list, a missing list included.
    let list: Vec<&str> = form
        .get("events")
        .and_then(Value::as_array)
        .map(|l| l.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    h.events = hook_events(&list);
    if let Some(active) = form.get("active").and_then(Value::as_bool) {
        h.active = active;
    }
}

/// Gitea's `updateHookEvents` (`routers/api/v1/utils/hook.go` @ v1.25.4): the list, matched
/// without case, becomes the set of events Gitea knows (other names are dropped); an empty list
/// means `push`; `issues` turns on every issue event and `pull_request` every pull request
/// event, while `issues_only` / `pull_request_only` name the bare ones. Reported back under the
/// event type names (`EventsArray`: `pull_request_only` comes back as `pull_request`), here in
/// `updateHookEvents` order (Gitea: map order).
fn hook_events(list: &[&str]) -> Vec<String> {
    const PLAIN: [&str; 11] = [
        "create",
        "push",
        "delete",
        "fork",
        "repository",
        "wiki",
        "release",
        "package",
        "status",
        "workflow_run",
        "workflow_job",
    ];
    const ISSUES: [(&str, &str); 5] = [
        ("issues", "issues_only"),
        ("issue_assign", "issue_assign"),
        ("issue_label", "issue_label"),
        ("issue_milestone", "issue_milestone"),
        ("issue_comment", "issue_comment"),
    ];
    const PULLS: [(&str, &str); 8] = [
        ("pull_request", "pull_request_only"),
        ("pull_request_assign", "pull_request_assign"),
        ("pull_request_label", "pull_request_label"),
        ("pull_request_milestone", "pull_request_milestone"),
        ("pull_request_comment", "pull_request_comment"),
        ("pull_request_review", "pull_request_review"),
        ("pull_request_review_request", "pull_request_review_request"),
        ("pull_request_sync", "pull_request_sync"),
    ];
    let list = if list.is_empty() { &["push"][..] } else { list };
    let has = |name: &str| list.iter().any(|e| e.eq_ignore_ascii_case(name));
    let plain = PLAIN.into_iter().filter(|e| has(e));
    let issues = ISSUES
        .into_iter()
        .filter(|(_, asked)| has(asked) || has("issues"))
        .map(|(e, _)| e);
    let pulls = PULLS
        .into_iter()
        .filter(|(_, asked)| has(asked) || has("pull_request"))
        .map(|(e, _)| e);
    plain.chain(issues).chain(pulls).map(String::from).collect()
}

pub(crate) async fn list_hooks(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((o, r)): Path<(String, String)>,
) -> Response {
    st.api(&headers, |w, doer| {
        let repo = admin_repo(w, &o, &r, doer)?;
        let hooks: Vec<Value> = w.hooks(&repo).iter().map(hook_json).collect();
        ok(&hooks)
    })
}

pub(crate) async fn create_hook(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((o, r)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    st.api(&headers, |w, doer| {
        let repo = admin_repo(w, &o, &r, doer)?;
        let form = parse_body(w, &body)?;
        let mut hook = Hook {
            id: w.hooks.iter().map(|h| h.id).max().unwrap_or(0) + 1,
            repo,
            url: String::new(),
            content_type: String::new(),
            secret: String::new(),
            events: Vec::new(),
            // An API-created hook is inactive unless asked for.
            active: false,
        };
        apply_hook(&mut hook, &form);
        if hook.url.is_empty() || hook.content_type.is_empty() {
            return Err(json_error(
                w,
                StatusCode::UNPROCESSABLE_ENTITY,
                "Missing config option: url / content_type",
            ));
        }
        let out = hook_json(&hook);
        w.hooks.push(hook);
        Ok(json_body(StatusCode::CREATED, &out))
    })
}

pub(crate) async fn edit_hook(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((o, r, id)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    st.api(&headers, |w, doer| {
        let repo = admin_repo(w, &o, &r, doer)?;
        let form = parse_body(w, &body)?;
        let id: i64 = id.parse().unwrap_or(0);
        let Some(i) = w.hooks.iter().position(|h| h.id == id && h.repo == repo) else {
            return Err(not_found(w));
        };
        let before = w.hooks[i].events.clone();
        apply_hook(&mut w.hooks[i], &form);
        if w.hook_edit_1_23 {
            // Gitea 1.23's editHook never touches these two: they stay as they were.
            let events = &mut w.hooks[i].events;
            for kept in ["status", "package"] {
                events.retain(|e| e != kept);
                if before.iter().any(|e| e == kept) {
                    events.push(kept.to_string());
                }
            }
        }
        let out = hook_json(&w.hooks[i]);
        ok(&out)
    })
}

pub(crate) async fn list_protections(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((o, r)): Path<(String, String)>,
) -> Response {
    st.api(&headers, |w, doer| {
        let repo = admin_repo(w, &o, &r, doer)?;
        let rules: Vec<Value> = w
            .repo(&repo)
            .branches
            .iter()
            .filter(|b| b.protected)
            .map(rule_json)
            .collect();
        ok(&rules)
    })
}

/// `POST …/branch_protections` (`rule_name`) and `PATCH …/branch_protections/{name}`.
fn set_rule(w: &mut World, repo: &str, name: &str, form: &Value, create: bool) -> Res {
    let Some(r) = w.repos.iter_mut().find(|x| x.name == repo) else {
        return Err(not_found(w));
    };
    let Some(b) = r.branches.iter_mut().find(|b| b.name == name) else {
        return Err(not_found(w));
    };
    if create == b.protected {
        return Err(if create {
            json_error(w, StatusCode::FORBIDDEN, "Branch protection already exist")
        } else {
            not_found(w)
        });
    }
    b.protected = true;
    if let Some(on) = form.get("enable_status_check").and_then(Value::as_bool) {
        b.enable_status_check = on;
    }
    if let Some(list) = form.get("status_check_contexts").and_then(Value::as_array) {
        b.status_check_contexts = list
            .iter()
            .filter_map(|c| c.as_str().map(String::from))
            .collect();
    }
    let out = rule_json(b);
    let status = if create {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_body(status, &out))
}

pub(crate) async fn create_protection(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((o, r)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    st.api(&headers, |w, doer| {
        let repo = admin_repo(w, &o, &r, doer)?;
        let form = parse_body(w, &body)?;
        let name = form
            .get("rule_name")
            .or_else(|| form.get("branch_name"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        set_rule(w, &repo, &name, &form, true)
    })
}

pub(crate) async fn edit_protection(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((o, r, name)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    st.api(&headers, |w, doer| {
        let repo = admin_repo(w, &o, &r, doer)?;
        let form = parse_body(w, &body)?;
        set_rule(w, &repo, &name, &form, false)
    })
}
