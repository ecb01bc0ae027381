//! Fidelity: every endpoint the emulator serves is called over real HTTP and its answer checked
//! against Gitea 1.25.4's swagger spec (`fixtures/gitea/swagger.v1.json`), with a small
//! validator for the OpenAPI 2 subset the spec uses. Error bodies are checked against
//! `APIError`. Key status codes from `docs/gitea-api.md` are asserted on the way.

mod common;

use std::path::PathBuf;

use common::*;
use gitea_emu::Emulator;
use serde_json::{json, Value};

/// Properties Gitea really sends that its spec does not declare.
const KNOWN_EXTRAS: &[(&str, &str)] = &[
    // `User.MarshalJSON` adds `username` (a copy of `login`) for compatibility.
    ("User", "username"),
];

struct Spec {
    doc: Value,
}

impl Spec {
    fn load() -> Spec {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/gitea/swagger.v1.json");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Spec {
            doc: serde_json::from_str(&text).expect("the spec is JSON"),
        }
    }

    /// The response schema for `method path status`; `None` when the spec gives no body
    /// schema (e.g. `empty`, `notFound`). Panics if the spec does not list the operation.
    fn response_schema(&self, method: &str, path: &str, status: u16) -> Option<Value> {
        let op = &self.doc["paths"][path][method];
        assert!(op.is_object(), "the spec has no {method} {path}");
        let resp = &op["responses"][status.to_string()];
        assert!(
            resp.is_object(),
            "the spec lists no {status} for {method} {path}"
        );
        let resp = match resp["$ref"].as_str() {
            Some(r) => &self.doc["responses"][r.trim_start_matches("#/responses/")],
            None => resp,
        };
        resp.get("schema").cloned()
    }

    fn definition(&self, name: &str) -> Value {
        self.doc["definitions"][name].clone()
    }

    /// Every property the value has that the schema lacks, and every type mismatch. Nulls are
    /// allowed anywhere (Go pointers and nil slices).
    fn validate(&self, schema: &Value, value: &Value) -> Vec<String> {
        let mut errs = Vec::new();
        self.check(schema, value, "$", None, &mut errs);
        errs
    }

    fn check(
        &self,
        schema: &Value,
        value: &Value,
        at: &str,
        def: Option<&str>,
        errs: &mut Vec<String>,
    ) {
        if let Some(r) = schema["$ref"].as_str() {
            let name = r.trim_start_matches("#/definitions/");
            let target = self.definition(name);
            assert!(target.is_object(), "dangling $ref {r}");
            return self.check(&target, value, at, Some(name), errs);
        }
        if value.is_null() {
            return;
        }
        let ty = schema["type"]
            .as_str()
            .or_else(|| schema.get("properties").map(|_| "object"));
        match ty {
            Some("object") => {
                let Some(obj) = value.as_object() else {
                    return errs.push(format!("{at}: expected object, got {value}"));
                };
                let props = schema["properties"].as_object();
                let extra = schema.get("additionalProperties");
                for (k, v) in obj {
                    let here = format!("{at}.{k}");
                    match (props.and_then(|p| p.get(k)), extra) {
                        (Some(s), _) => self.check(s, v, &here, None, errs),
                        (None, Some(s)) if s.is_object() => self.check(s, v, &here, None, errs),
                        _ if def.is_some_and(|d| KNOWN_EXTRAS.contains(&(d, k.as_str()))) => {}
                        _ => errs.push(format!(
                            "{here}: not in the spec's {}",
                            def.unwrap_or("schema")
                        )),
                    }
                }
            }
            Some("array") => {
                let Some(items) = value.as_array() else {
                    return errs.push(format!("{at}: expected array, got {value}"));
                };
                for (i, v) in items.iter().enumerate() {
                    self.check(&schema["items"], v, &format!("{at}[{i}]"), None, errs);
                }
            }
            Some("string") if !value.is_string() => {
                errs.push(format!("{at}: expected string, got {value}"))
            }
            Some("integer") if !(value.is_i64() || value.is_u64()) => {
                errs.push(format!("{at}: expected integer, got {value}"))
            }
            Some("number") if !value.is_number() => {
                errs.push(format!("{at}: expected number, got {value}"))
            }
            Some("boolean") if !value.is_boolean() => {
                errs.push(format!("{at}: expected boolean, got {value}"))
            }
            _ => {}
        }
    }
}

/// Collects problems across all endpoints so one run reports them all.
struct Report {
    spec: Spec,
    problems: Vec<String>,
    checked: usize,
}

impl Report {
    /// Checks a success answer against the spec's schema for `method path status`.
    fn ok(&mut self, method: &str, path: &str, expect: u16, a: &Answer) {
        self.checked += 1;
        if a.status != expect {
            self.problems.push(format!(
                "{method} {path}: status {} (want {expect}): {}",
                a.status, a.text
            ));
            return;
        }
        let Some(schema) = self.spec.response_schema(method, path, expect) else {
            return;
        };
        assert!(!a.json.is_null(), "{method} {path}: no JSON body");
        for e in self.spec.validate(&schema, &a.json) {
            self.problems.push(format!("{method} {path} {expect}: {e}"));
        }
    }

    /// Checks an error answer: the expected status and an `APIError` body (404s may add
    /// `errors`).
    fn err(&mut self, what: &str, expect: u16, a: &Answer) {
        self.checked += 1;
        if a.status != expect {
            self.problems.push(format!(
                "{what}: status {} (want {expect}): {}",
                a.status, a.text
            ));
            return;
        }
        let mut schema = self.spec.definition("APIError");
        if expect == 404 {
            schema["properties"]["errors"] = json!({"type": "array", "items": {"type": "string"}});
        }
        for e in self.spec.validate(&schema, &a.json) {
            self.problems.push(format!("{what}: {e}"));
        }
        if !a.json.is_object() {
            self.problems
                .push(format!("{what}: body is not a JSON object: {:?}", a.text));
        }
    }
}

#[test]
fn the_validator_reports_extra_properties_and_type_mismatches() {
    let spec = Spec::load();
    let schema = json!({"$ref": "#/definitions/CommitStatus"});
    let good = json!({"id": 1, "status": "success", "creator": null});
    assert!(spec.validate(&schema, &good).is_empty());
    let bad = json!({"id": "1", "state": "success", "creator": {"login": 5, "username": "x"}});
    let errs = spec.validate(&schema, &bad);
    assert_eq!(errs.len(), 3, "{errs:#?}");
    assert!(errs
        .iter()
        .any(|e| e.contains("$.state: not in the spec's CommitStatus")));
    assert!(errs.iter().any(|e| e.contains("$.id: expected integer")));
    assert!(errs
        .iter()
        .any(|e| e.contains("$.creator.login: expected string")));
}

#[tokio::test]
async fn every_endpoint_matches_the_swagger_spec() {
    let emu = Emulator::start(scene()).await;
    let api = Api::new(&emu);
    let mut rep = Report {
        spec: Spec::load(),
        problems: Vec::new(),
        checked: 0,
    };
    let (head, qa, security) = emu.with_world(|w| {
        let head = w.head_sha("widgets", 7);
        w.review("widgets", 7, "bob", "APPROVED", "LGTM");
        w.review(
            "widgets",
            7,
            "carol",
            "REQUEST_CHANGES",
            "Use a monotonic clock.",
        );
        w.review("widgets", 7, "carol", "APPROVE", "misfiled");
        w.request_team_review("widgets", 7, "security");
        w.request_review("widgets", 7, "olga");
        w.comment("widgets", 7, "bob", "/refire qa");
        w.comment_without_user("widgets", 7, "migrated comment");
        w.push("widgets", 7);
        w.edit_pr_title("widgets", 7, "Add rate limiter");
        (head, w.team_id("qa"), w.team_id("security"))
    });

    let a = api.call("GET", None, "/version", None).await;
    assert_eq!(a.json, json!({"version": "1.25.4"}));
    rep.ok("get", "/version", 200, &a);

    let a = api.get(BOT, "/user").await;
    assert_eq!(
        (a.json["login"].as_str(), a.json["is_admin"].as_bool()),
        (Some("sopbot"), Some(false))
    );
    rep.ok("get", "/user", 200, &api.get(BOT, "/user").await);
    let a = api.get(ROOT, "/user").await;
    assert_eq!(a.json["is_admin"], true);
    rep.ok("get", "/user", 200, &a);
    rep.ok(
        "get",
        "/user/teams",
        200,
        &api.get(BOT, "/user/teams").await,
    );

    rep.ok(
        "get",
        "/repos/{owner}/{repo}",
        200,
        &api.get(BOT, "/repos/acme/widgets").await,
    );
    let a = api.get(BOT, "/repos/acme/widgets/branches/main").await;
    assert_eq!(a.json["protected"], true);
    assert_eq!(
        a.json["status_check_contexts"],
        json!(["qa-review / approved"])
    );
    rep.ok("get", "/repos/{owner}/{repo}/branches/{branch}", 200, &a);
    let a = api
        .get(BOT, "/repos/acme/widgets/branches/feature/rate-limiter")
        .await;
    assert_eq!(
        (a.json["name"].as_str(), &a.json["protected"]),
        (Some("feature/rate-limiter"), &json!(false))
    );
    rep.ok("get", "/repos/{owner}/{repo}/branches/{branch}", 200, &a);

    let a = api
        .get(BOT, "/repos/acme/widgets/pulls?state=open&page=1&limit=30")
        .await;
    assert_eq!(a.total(), Some(1));
    rep.ok("get", "/repos/{owner}/{repo}/pulls", 200, &a);
    let a = api.get(BOT, "/repos/acme/widgets/pulls/7").await;
    assert_eq!(a.json["user"]["login"], "alice");
    assert_eq!(a.json["head"]["ref"], "feature/rate-limiter");
    assert_eq!(a.json["requested_reviewers"][0]["login"], "olga");
    assert_eq!(a.json["requested_reviewers_teams"][0]["name"], "security");
    rep.ok("get", "/repos/{owner}/{repo}/pulls/{index}", 200, &a);

    let a = api.get(ROOT, "/repos/acme/widgets/pulls/7/reviews").await;
    assert!(a
        .json
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["user"].is_null() && r["team"]["name"] == "security"));
    rep.ok(
        "get",
        "/repos/{owner}/{repo}/pulls/{index}/reviews",
        200,
        &a,
    );
    let id = a.json[0]["id"].as_i64().unwrap();
    let a = api
        .get(BOT, &format!("/repos/acme/widgets/pulls/7/reviews/{id}"))
        .await;
    rep.ok(
        "get",
        "/repos/{owner}/{repo}/pulls/{index}/reviews/{id}",
        200,
        &a,
    );

    // A PR's files and commits (`GetPullRequestFiles`, `GetPullRequestCommits` in
    // routers/api/v1/repo/pull.go @ v1.25.4): always paged, X-Total-Count and Link; a commit's
    // `author`/`committer` are the accounts its git emails belong to, null for a stranger.
    emu.with_world(|w| {
        w.set_pr_files("widgets", 7, &["README.md", "src/auth/a.rs", "src/b.rs"]);
        w.rename_pr_file("widgets", 7, "src/auth/old.rs", "src/new.rs");
        let alice = w.identity("alice");
        w.push_commit("widgets", 7, gitea_emu::GitIdent::stranger("ghost"), alice);
    });
    let a = api
        .get(BOT, "/repos/acme/widgets/pulls/7/files?page=2&limit=3")
        .await;
    assert_eq!(a.total(), Some(4));
    assert_eq!(a.json[0]["filename"], "src/new.rs");
    assert_eq!(a.json[0]["previous_filename"], "src/auth/old.rs");
    assert_eq!(a.json[0]["status"], "renamed");
    assert!(
        a.header("link").unwrap().contains("rel=\"first\""),
        "{:?}",
        a.headers
    );
    rep.ok("get", "/repos/{owner}/{repo}/pulls/{index}/files", 200, &a);
    let a = api
        .get(
            BOT,
            "/repos/acme/widgets/pulls/7/commits?verification=false&files=false",
        )
        .await;
    let commits = a.json.as_array().unwrap();
    assert_eq!(a.total(), Some(commits.len()));
    assert_eq!(commits[0]["author"]["login"], "alice");
    let last = commits.last().unwrap();
    assert!(last["author"].is_null(), "{last}");
    assert_eq!(last["commit"]["author"]["email"], "ghost@elsewhere.example");
    assert_eq!(last["committer"]["login"], "alice");
    rep.ok(
        "get",
        "/repos/{owner}/{repo}/pulls/{index}/commits",
        200,
        &a,
    );
    let a = api
        .post(
            BOT,
            "/repos/acme/widgets/pulls/7/requested_reviewers",
            json!({"team_reviewers": ["qa"]}),
        )
        .await;
    assert_eq!(a.json[0]["team"]["name"], "qa", "{}", a.text);
    rep.ok(
        "post",
        "/repos/{owner}/{repo}/pulls/{index}/requested_reviewers",
        201,
        &a,
    );
    let a = api
        .post(
            BOT,
            "/repos/acme/widgets/pulls/7/requested_reviewers",
            json!({"team_reviewers": ["no-such-team"]}),
        )
        .await;
    assert_eq!(a.status, 422, "{}", a.text);

    let a = api.get(BOT, "/repos/acme/widgets/issues/7/timeline").await;
    let kinds: Vec<&str> = a
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["type"].as_str().unwrap())
        .collect();
    for k in [
        "review",
        "comment",
        "pull_push",
        "review_request",
        "change_title",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    rep.ok(
        "get",
        "/repos/{owner}/{repo}/issues/{index}/timeline",
        200,
        &a,
    );

    let a = api.get(BOT, "/repos/acme/widgets/issues/7/comments").await;
    assert!(
        a.json[1]["user"].is_null(),
        "a poster id of 0 gives user null"
    );
    assert_eq!(a.json[0]["issue_url"], "");
    rep.ok(
        "get",
        "/repos/{owner}/{repo}/issues/{index}/comments",
        200,
        &a,
    );
    rep.ok(
        "get",
        "/repos/{owner}/{repo}/issues/comments",
        200,
        &api.get(BOT, "/repos/acme/widgets/issues/comments?page=1&limit=50")
            .await,
    );
    let a = api
        .post(
            BOT,
            "/repos/acme/widgets/issues/7/comments",
            json!({"body": "gate: qa ✅"}),
        )
        .await;
    rep.ok(
        "post",
        "/repos/{owner}/{repo}/issues/{index}/comments",
        201,
        &a,
    );
    let cid = a.json["id"].as_i64().unwrap();
    let a = api
        .patch(
            BOT,
            &format!("/repos/acme/widgets/issues/comments/{cid}"),
            json!({"body": "gate: qa ❌"}),
        )
        .await;
    rep.ok(
        "patch",
        "/repos/{owner}/{repo}/issues/comments/{id}",
        200,
        &a,
    );
    let a = api
        .get(BOT, &format!("/repos/acme/widgets/issues/comments/{cid}"))
        .await;
    rep.ok("get", "/repos/{owner}/{repo}/issues/comments/{id}", 200, &a);
    let reactions = format!("/repos/acme/widgets/issues/comments/{cid}/reactions");
    let a = api.post(BOT, &reactions, json!({"content": "eyes"})).await;
    rep.ok(
        "post",
        "/repos/{owner}/{repo}/issues/comments/{id}/reactions",
        201,
        &a,
    );
    let a = api.post(BOT, &reactions, json!({"content": "eyes"})).await;
    rep.ok(
        "post",
        "/repos/{owner}/{repo}/issues/comments/{id}/reactions",
        200,
        &a,
    );
    rep.ok(
        "get",
        "/repos/{owner}/{repo}/issues/comments/{id}/reactions",
        200,
        &api.get(BOT, &reactions).await,
    );

    let new_head = emu.with_world(|w| w.head_sha("widgets", 7));
    let empty = api
        .get(
            BOT,
            &format!("/repos/acme/widgets/commits/{new_head}/status"),
        )
        .await;
    assert_eq!(
        (&empty.json["state"], &empty.json["statuses"]),
        (&json!(""), &Value::Null)
    );
    rep.ok(
        "get",
        "/repos/{owner}/{repo}/commits/{ref}/status",
        200,
        &empty,
    );
    let body = json!({"state": "failure", "context": "qa-review / approved",
                      "description": "waiting for a qa approval", "target_url": ""});
    let a = api
        .post(
            BOT,
            &format!("/repos/acme/widgets/statuses/{new_head}"),
            body,
        )
        .await;
    assert_eq!(
        a.json["status"], "failure",
        "CommitStatus says `status`, not `state`"
    );
    assert!(a.json.get("state").is_none());
    assert_eq!(a.json["creator"]["login"], "sopbot");
    rep.ok("post", "/repos/{owner}/{repo}/statuses/{sha}", 201, &a);
    rep.ok(
        "get",
        "/repos/{owner}/{repo}/statuses/{sha}",
        200,
        &api.get(BOT, &format!("/repos/acme/widgets/statuses/{new_head}"))
            .await,
    );
    rep.ok(
        "get",
        "/repos/{owner}/{repo}/commits/{ref}/statuses",
        200,
        &api.get(
            BOT,
            "/repos/acme/widgets/commits/feature%2Frate-limiter/statuses",
        )
        .await,
    );
    let a = api
        .get(
            BOT,
            &format!("/repos/acme/widgets/commits/{new_head}/status"),
        )
        .await;
    assert_eq!(a.json["state"], "failure");
    rep.ok("get", "/repos/{owner}/{repo}/commits/{ref}/status", 200, &a);

    let a = api.get(BOT, &format!("/teams/{qa}")).await;
    assert_eq!(a.json["organization"]["name"], "acme");
    rep.ok("get", "/teams/{id}", 200, &a);
    rep.ok(
        "get",
        "/teams/{id}/members",
        200,
        &api.get(BOT, &format!("/teams/{qa}/members")).await,
    );
    let a = api.get(BOT, &format!("/teams/{qa}/members/bob")).await;
    assert_eq!(
        a.json["login"], "bob",
        "a member gives 200 and the user, never 204"
    );
    rep.ok("get", "/teams/{id}/members/{username}", 200, &a);
    rep.ok(
        "get",
        "/orgs/{org}/teams",
        200,
        &api.get(BOT, "/orgs/acme/teams").await,
    );

    // Error answers: status and body shape.
    let a = api.get("wrong", "/user").await;
    assert_eq!(a.json["message"], "invalid username, password or token");
    rep.err("bad token", 401, &a);
    rep.err("no token", 401, &api.call("GET", None, "/user", None).await);
    let a = api.get(CAROL, &format!("/teams/{qa}/members/bob")).await;
    assert_eq!(a.json["message"], "Must be a team member");
    rep.err("org member probing another team", 403, &a);
    rep.err(
        "outsider probing a team",
        404,
        &api.get(MALLORY, &format!("/teams/{security}/members/carol"))
            .await,
    );
    rep.err(
        "unknown team",
        404,
        &api.get(BOT, "/teams/999/members/bob").await,
    );
    let a = api.get(BOT, &format!("/teams/{qa}/members/carol")).await;
    assert_eq!(a.json["message"], "not found");
    rep.err("non-member", 404, &a);
    let a = api.get(BOT, &format!("/teams/{qa}/members/nobody")).await;
    assert_eq!(a.json["message"], "GetUserByName");
    rep.err("unknown user", 404, &a);
    rep.err(
        "org teams by an outsider",
        403,
        &api.get(MALLORY, "/orgs/acme/teams").await,
    );
    let a = api.get(BOT, "/repos/acme/widgets/issues/99/comments").await;
    assert_eq!(
        a.json["message"], "",
        "500 has a blank message for non-admins"
    );
    rep.err("comments of an unknown issue", 500, &a);
    rep.err(
        "comment on an unknown issue",
        500,
        &api.post(
            BOT,
            "/repos/acme/widgets/issues/99/comments",
            json!({"body": "x"}),
        )
        .await,
    );
    rep.err(
        "empty comment",
        422,
        &api.post(
            BOT,
            "/repos/acme/widgets/issues/7/comments",
            json!({"body": ""}),
        )
        .await,
    );
    rep.err(
        "unknown PR",
        404,
        &api.get(BOT, "/repos/acme/widgets/pulls/99").await,
    );
    rep.err("unknown repo", 404, &api.get(BOT, "/repos/acme/nope").await);
    rep.err(
        "unknown branch",
        404,
        &api.get(BOT, "/repos/acme/widgets/branches/nope").await,
    );
    rep.err(
        "status on an unknown sha",
        500,
        &api.post(
            BOT,
            &format!("/repos/acme/widgets/statuses/{}", "f".repeat(40)),
            json!({"state": "success"}),
        )
        .await,
    );
    rep.err(
        "status by a read-only user",
        403,
        &api.post(
            READER,
            &format!("/repos/acme/widgets/statuses/{head}"),
            json!({"state": "success"}),
        )
        .await,
    );
    rep.err(
        "unknown reaction",
        403,
        &api.post(BOT, &reactions, json!({"content": ":tada:"}))
            .await,
    );
    rep.err(
        "bad since",
        422,
        &api.get(BOT, "/repos/acme/widgets/issues/comments?since=yesterday")
            .await,
    );
    rep.err(
        "unknown route",
        404,
        &api.get(BOT, "/repos/acme/widgets/wikis").await,
    );

    assert!(rep.checked >= 45, "only {} checks ran", rep.checked);
    assert!(
        rep.problems.is_empty(),
        "spec mismatches:\n{}",
        rep.problems.join("\n")
    );
}
