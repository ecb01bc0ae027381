//! `GET /pr/{owner}/{repo}/{number}?sig=…`: the details page, as HTML (askama: compile-time
//! checked, everything escaped) or, for `Accept: application/json`, as the stored report in
//! `sopbot check --json`'s shape with a `details` object added. Three store reads, no Gitea
//! call. A repository not served, an unknown PR and a missing or wrong signature all get the
//! same 404.

use crate::repos::Served;
use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::config::Config;
use crate::store::{AuditRow, DetailsRow, Store, WaiverRow};
use crate::types::{RepoName, TeamRef};

use super::{Diagnosis, Links, Record};

/// Audit entries shown: the most recent ones of the PR.
const AUDIT_LIMIT: i64 = 200;

/// Waivers shown: a PR's first ones (a PR has a handful).
const WAIVER_LIMIT: i64 = 500;

/// The body of every 404: an unknown repository, PR or signature look the same.
const NOT_FOUND: &str = "not found";

/// What the page needs: the store it reads, the link key, and the config (served repositories,
/// each gate's team, Gitea's address for links).
#[derive(Clone)]
pub struct DetailsState {
    store: Store,
    links: Links,
    config: Arc<Config>,
    /// The served repositories (`[[repo]]` and those found through `[[org]]`).
    served: Arc<Served>,
}

impl DetailsState {
    pub fn new(
        store: Store,
        links: Links,
        config: Arc<Config>,
        served: Arc<Served>,
    ) -> DetailsState {
        DetailsState {
            store,
            links,
            config,
            served,
        }
    }
}

/// The page's route, to merge into the server's router.
pub fn router(state: DetailsState) -> Router {
    Router::new()
        // One route for everything under /pr/: any other shape is the same 404 as a wrong
        // signature (a route per shape would answer some with axum's own empty 404).
        .route("/pr/{*path}", get(page))
        .layer(axum::middleware::map_response(private_headers))
        .with_state(Arc::new(state))
}

/// Every answer under `/pr/`: never cached by a proxy or kept after the tab is closed, the HTML
/// and JSON told apart, no script, no frame, no referrer carrying the signed link elsewhere.
async fn private_headers(mut response: Response) -> Response {
    use axum::http::HeaderValue;
    let h = response.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, private"),
    );
    h.insert(header::VARY, HeaderValue::from_static("Accept"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
        ),
    );
    response
}

#[derive(Deserialize)]
struct Signed {
    sig: Option<String>,
}

async fn page(
    State(st): State<Arc<DetailsState>>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<Signed>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let (Ok(Path(path)), Ok(Query(Signed { sig: Some(sig) }))) = (path, query) else {
        return not_found();
    };
    let [owner, repo, number] = path.split('/').collect::<Vec<_>>()[..] else {
        return not_found();
    };
    let Some((repo, pr)) = st.signed(owner, repo, number, &sig) else {
        return not_found();
    };
    let read = async {
        let Some(row) = st.store.details(&repo.full(), pr as i64).await? else {
            return Ok(None);
        };
        let waivers = st
            .store
            .pr_waivers(&repo.full(), pr as i64, WAIVER_LIMIT)
            .await?;
        let audit = st
            .store
            .pr_audit(&repo.full(), pr as i64, AUDIT_LIMIT)
            .await?;
        Ok::<_, crate::store::StoreError>(Some((row, waivers, audit)))
    };
    let (row, waivers, audit) = match read.await {
        Ok(Some(found)) => found,
        Ok(None) => return not_found(),
        Err(e) => {
            tracing::warn!(error = %e, "details page: cannot read the store");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "the bot's database cannot be read now; try again shortly",
            )
                .into_response();
        }
    };
    let Ok(record) = serde_json::from_str::<Record>(&row.record) else {
        return not_found();
    };
    if wants_json(&headers) {
        return Json(json(&row, &record, &waivers, &audit)).into_response();
    }
    let view = st.view(&repo, pr, &row, &record, &waivers, &audit);
    match view.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "details page: cannot render");
            (StatusCode::INTERNAL_SERVER_ERROR, "cannot render the page").into_response()
        }
    }
}

impl DetailsState {
    /// The served repository and PR number a link names, when its signature is right.
    fn signed(&self, owner: &str, repo: &str, number: &str, sig: &str) -> Option<(RepoName, u64)> {
        let asked = format!("{owner}/{repo}");
        // One spelling per PR: digits, no sign, no leading zero.
        if number.starts_with('0') || !number.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let pr: u64 = number.parse().ok().filter(|n| *n > 0)?;
        // The signature first (it covers the lower-cased name): how fast an unsigned link is
        // refused must not tell whether a repository is served.
        if !self.links.verify(&asked, pr, sig) {
            return None;
        }
        Some((self.served.get(&asked)?.name, pr))
    }

    /// Gitea's web address, without any user or password the config's URL may carry.
    fn gitea_web(&self) -> String {
        let Ok(url) = self.config.gitea_url() else {
            return String::new();
        };
        match reqwest::Url::parse(url) {
            Ok(mut u) => {
                let _ = u.set_username("");
                let _ = u.set_password(None);
                u.as_str().trim_end_matches('/').to_string()
            }
            Err(_) => String::new(),
        }
    }

    fn view(
        &self,
        repo: &RepoName,
        pr: u64,
        row: &DetailsRow,
        record: &Record,
        waivers: &[WaiverRow],
        audit: &[AuditRow],
    ) -> PageView {
        let gitea = self.gitea_web();
        let pr_url = format!("{gitea}/{}/pulls/{pr}", repo.full());
        let report: Report = serde_json::from_value(record.report.clone()).unwrap_or_default();
        let teams: HashMap<String, TeamRef> = self
            .served
            .gates(repo)
            .into_iter()
            .map(|g| (g.name, g.team))
            .collect();
        let gates: Vec<GateView> = report
            .gates
            .iter()
            .map(|g| {
                let team = teams.get(&g.gate);
                let team_url = match team {
                    Some(TeamRef::Name(n)) => {
                        format!("{gitea}/org/{}/teams/{}", repo.owner, n.to_lowercase())
                    }
                    _ => format!("{gitea}/org/{}/teams", repo.owner),
                };
                let diagnosis = record.diagnoses.iter().find(|d| d.gate == g.gate).cloned();
                gate_view(g, team, team_url, diagnosis)
            })
            .collect();
        let passing = gates.iter().filter(|g| g.state == "success").count();
        let (active, past): (Vec<&WaiverRow>, Vec<&WaiverRow>) =
            waivers.iter().partition(|w| w.is_active());
        let waiver = |w: &&WaiverRow| waiver_view(w, &pr_url);
        let (active, past) = (
            active.iter().map(waiver).collect(),
            past.iter().map(waiver).collect(),
        );
        PageView {
            repo: repo.full(),
            pr,
            title: record.title.clone(),
            author: record.author.clone().unwrap_or_else(|| "unknown".into()),
            open: record.open,
            pr_url,
            head_sha: row.head_sha.clone(),
            head_short: row.head_sha.chars().take(10).collect(),
            evaluated_at: when(row.evaluated_at),
            summary: format!("{passing} of {} gates pass", gates.len()),
            gates,
            active,
            past,
            audit: audit.iter().map(audit_view).collect(),
        }
    }
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, NOT_FOUND).into_response()
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"))
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The stored report with the page's other content under `details`.
fn json(
    row: &DetailsRow,
    record: &Record,
    waivers: &[WaiverRow],
    audit: &[AuditRow],
) -> serde_json::Value {
    let mut out = record.report.clone();
    let waivers: Vec<serde_json::Value> = waivers
        .iter()
        .map(|w| {
            serde_json::json!({
                "id": w.id, "gate": w.gate, "declared_by": w.declared_by, "reason": w.reason,
                "comment_id": w.comment_id, "head_sha": w.head_sha, "created_at": w.created_at,
                "active": w.is_active(), "revoked_at": w.revoked_at, "revoked_by": w.revoked_by,
                "revoke_reason": w.revoke_reason,
            })
        })
        .collect();
    let audit: Vec<serde_json::Value> = audit
        .iter()
        .map(|a| {
            serde_json::json!({
                "id": a.id, "at": a.at, "actor": a.actor, "action": a.action, "gate": a.gate,
                "waiver_id": a.waiver_id, "detail": a.detail,
            })
        })
        .collect();
    if let Some(obj) = out.as_object_mut() {
        obj.insert(
            "details".into(),
            serde_json::json!({
                "title": record.title,
                "author": record.author,
                "open": record.open,
                "evaluated_at": row.evaluated_at,
                "diagnoses": record.diagnoses,
                "waivers": waivers,
                "audit": audit,
            }),
        );
    }
    out
}

// ----- the stored report, read back (`sopbot check --json`'s shape; unknown fields ignored) ----

#[derive(Debug, Default, Deserialize)]
struct Report {
    #[serde(default)]
    gates: Vec<VerdictIn>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct VerdictIn {
    gate: String,
    state: String,
    description: String,
    approved_by: Option<String>,
    waiver: Option<WaiverIn>,
    candidates: Vec<CandidateIn>,
    skipped: Option<String>,
    ignored: Vec<IgnoredIn>,
    misfiled: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WaiverIn {
    id: i64,
    declared_by: String,
    reason: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CandidateIn {
    login: String,
    membership: String,
    official: bool,
    re_requested: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct IgnoredIn {
    login: String,
    why: String,
}

// ----- what the template shows --------------------------------------------------------------

#[derive(Template)]
#[template(path = "details.html")]
struct PageView {
    repo: String,
    pr: u64,
    title: String,
    author: String,
    open: bool,
    pr_url: String,
    head_sha: String,
    head_short: String,
    evaluated_at: String,
    summary: String,
    gates: Vec<GateView>,
    active: Vec<WaiverView>,
    past: Vec<WaiverView>,
    audit: Vec<AuditView>,
}

struct GateView {
    name: String,
    /// `success`, `failure` or `error`: the CSS class.
    state: String,
    /// What the state means, in words (colour is never the only sign).
    label: &'static str,
    description: String,
    team: String,
    team_url: String,
    /// How the gate was decided when it passes: approved by, waived, or not applicable.
    decided: Option<String>,
    reviews: Vec<ReviewView>,
    diagnosis: Option<Diagnosis>,
}

struct ReviewView {
    login: String,
    counts: bool,
    why: String,
}

struct WaiverView {
    id: i64,
    gate: String,
    by: String,
    reason: String,
    at: String,
    comment_url: Option<String>,
    ended: Option<String>,
}

struct AuditView {
    at: String,
    actor: String,
    action: String,
    gate: String,
    detail: String,
}

fn gate_view(
    g: &VerdictIn,
    team: Option<&TeamRef>,
    team_url: String,
    diagnosis: Option<Diagnosis>,
) -> GateView {
    let team = team.map(|t| t.to_string()).unwrap_or_else(|| "?".into());
    let decided = if let Some(w) = &g.waiver {
        Some(format!(
            "waived by @{} (waiver #{}): {}",
            w.declared_by, w.id, w.reason
        ))
    } else if let Some(s) = &g.skipped {
        Some(format!("not applicable: {}", s.replace('-', " ")))
    } else {
        g.approved_by
            .as_ref()
            .map(|l| format!("approved by @{l}, a member of team {team}"))
    };
    let mut reviews: Vec<ReviewView> = g
        .candidates
        .iter()
        .map(|c| candidate_view(c, &team, g.approved_by.as_deref()))
        .collect();
    reviews.extend(g.ignored.iter().map(|i| ReviewView {
        login: i.login.clone(),
        counts: false,
        why: i.why.clone(),
    }));
    reviews.extend(g.misfiled.iter().map(|m| ReviewView {
        login: m.clone(),
        counts: false,
        why: "a PENDING review with a body: probably a misfiled approval; resubmit it with the event APPROVED".into(),
    }));
    let (label, state) = match g.state.as_str() {
        "success" => ("passes", "success"),
        "failure" => ("fails", "failure"),
        _ => ("error: could not be verified", "error"),
    };
    GateView {
        name: g.gate.clone(),
        state: state.into(),
        label,
        description: g.description.clone(),
        team,
        team_url,
        decided,
        reviews,
        diagnosis,
    }
}

/// Why one approval counted or not, in the words of `sopbot check`.
fn candidate_view(c: &CandidateIn, team: &str, approved_by: Option<&str>) -> ReviewView {
    let counts = approved_by.is_some_and(|a| a.eq_ignore_ascii_case(&c.login));
    let why = match c.membership.as_str() {
        "member" if counts => format!("member of team {team}: this approval opens the gate"),
        "member" if c.re_requested => "member of the team; the approval was cleared by a new review request (access is fine: approve again)".into(),
        "member" if !c.official => format!("member of team {team}, but the approval is not official: give team {team} write access to code, or add it to the approvals whitelist; then approve again"),
        "member" => format!("member of team {team}"),
        "not-member" => format!("not a member of team {team}"),
        "forbidden" => format!("could not be checked: the bot's token got 403 for team {team} (see the diagnosis)"),
        "missing-scope" => "could not be checked: the bot's token lacks a scope (see the diagnosis)".into(),
        _ => "could not be checked: Gitea failed (see the diagnosis)".into(),
    };
    ReviewView {
        login: c.login.clone(),
        counts,
        why,
    }
}

fn waiver_view(w: &WaiverRow, pr_url: &str) -> WaiverView {
    let ended = w.revoked_at.map(|at| {
        let by = w.revoked_by.as_deref().unwrap_or("unknown");
        let reason = w.revoke_reason.as_deref().unwrap_or_default();
        if by == "sopbot" {
            format!("ended by sopbot at {}: {reason}", when(at))
        } else {
            format!("revoked by @{by} at {}: {reason}", when(at))
        }
    });
    WaiverView {
        id: w.id,
        gate: w.gate.clone(),
        by: w.declared_by.clone(),
        reason: w.reason.clone(),
        at: when(w.created_at),
        comment_url: w.comment_id.map(|id| format!("{pr_url}#issuecomment-{id}")),
        ended,
    }
}

fn audit_view(a: &AuditRow) -> AuditView {
    AuditView {
        at: when(a.at),
        actor: a.actor.clone(),
        action: a.action.clone(),
        gate: a.gate.clone().unwrap_or_default(),
        detail: a.detail.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = include_str!("../../templates/details.html");

    /// The `--name: #rrggbb` colours of the template's `:root` block number `n` (0: light,
    /// 1: dark).
    fn palette(n: usize) -> HashMap<String, [f64; 3]> {
        let block = TEMPLATE.split(":root {").nth(n + 1).unwrap();
        let block = &block[..block.find('}').unwrap()];
        block
            .split(';')
            .filter_map(|decl| {
                let (name, value) = decl.trim().split_once(':')?;
                let hex = value.trim().strip_prefix('#')?;
                let c = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap() as f64 / 255.0;
                Some((
                    name.trim().trim_start_matches("--").to_string(),
                    [c(0), c(2), c(4)],
                ))
            })
            .collect()
    }

    /// WCAG 2 contrast ratio.
    fn contrast(a: [f64; 3], b: [f64; 3]) -> f64 {
        let lum = |c: [f64; 3]| {
            let f = |v: f64| {
                if v <= 0.03928 {
                    v / 12.92
                } else {
                    ((v + 0.055) / 1.055).powf(2.4)
                }
            };
            0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2])
        };
        let (x, y) = (lum(a), lum(b));
        (x.max(y) + 0.05) / (x.min(y) + 0.05)
    }

    #[test]
    fn every_text_colour_has_a_contrast_of_4_5_in_light_and_dark() {
        for (scheme, n) in [("light", 0), ("dark", 1)] {
            let p = palette(n);
            for text in ["fg", "muted", "link", "success", "failure", "error"] {
                for background in ["bg", "card"] {
                    let ratio = contrast(p[text], p[background]);
                    assert!(
                        ratio >= 4.5,
                        "{scheme}: --{text} on --{background} is {ratio:.2}:1"
                    );
                }
            }
        }
        assert!(TEMPLATE.contains("@media (prefers-color-scheme: dark)"));
        assert!(!TEMPLATE.contains("<script"), "no JavaScript");
    }

    #[test]
    fn a_link_is_signed_for_one_pr_of_one_repository_in_any_case() {
        let links = Links::new(
            "https://bot.example/",
            &crate::secret::Secret::new("s3cret"),
        );
        let sig = links.signature("acme/widgets", 7);
        assert_eq!(sig.len(), 32);
        assert!(links.verify("acme/widgets", 7, &sig));
        assert!(links.verify("ACME/Widgets", 7, &sig));
        assert!(!links.verify("acme/widgets", 8, &sig));
        assert!(!links.verify("acme/gadgets", 7, &sig));
        assert!(!links.verify("acme/widgets", 7, &sig[..30]));
        assert!(!links.verify("acme/widgets", 7, &format!("{sig}00")));
        assert!(!links.verify("acme/widgets", 7, "not hex"));
        let other = Links::new("https://bot.example", &crate::secret::Secret::new("other"));
        assert!(!other.verify("acme/widgets", 7, &sig));
        assert_eq!(
            links.url("acme/widgets", 7),
            format!("https://bot.example/pr/acme/widgets/7?sig={sig}")
        );
        // The key is derived, never the secret itself, and never printed.
        assert!(!format!("{links:?}").contains("s3cret"));
        assert!(format!("{links:?}").contains("***"));
    }
}
