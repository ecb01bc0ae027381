//! Webhook deliveries against the example files of `fixtures/gitea/webhooks/`: the
//! signatures and header sets of `headers.json`, and for each example the same payload
//! structure (keys in Gitea's order, same JSON types) from the same scenario.

use std::fmt;
use std::path::PathBuf;

use gitea_emu::{Delivery, World};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

const SECRET: &str = "sopbot-example-secret";

fn example_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/gitea/webhooks")
}

fn example(name: &str) -> Vec<u8> {
    let p = example_dir().join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// JSON that keeps object keys in document order (`serde_json::Value` sorts them).
#[derive(Debug, Clone, PartialEq)]
enum J {
    Null,
    Bool,
    Num,
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl<'de> Deserialize<'de> for J {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<J, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = J;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("JSON")
            }
            fn visit_unit<E>(self) -> Result<J, E> {
                Ok(J::Null)
            }
            fn visit_bool<E>(self, _: bool) -> Result<J, E> {
                Ok(J::Bool)
            }
            fn visit_i64<E>(self, _: i64) -> Result<J, E> {
                Ok(J::Num)
            }
            fn visit_u64<E>(self, _: u64) -> Result<J, E> {
                Ok(J::Num)
            }
            fn visit_f64<E>(self, _: f64) -> Result<J, E> {
                Ok(J::Num)
            }
            fn visit_str<E>(self, s: &str) -> Result<J, E> {
                Ok(J::Str(s.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<J, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = a.next_element()? {
                    v.push(x);
                }
                Ok(J::Arr(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<J, A::Error> {
                let mut v = Vec::new();
                while let Some((k, x)) = a.next_entry()? {
                    v.push((k, x));
                }
                Ok(J::Obj(v))
            }
        }
        d.deserialize_any(V)
    }
}

fn parse(bytes: &[u8]) -> J {
    serde_json::from_slice(bytes).expect("JSON")
}

/// Differences in structure: key lists (and their order) of every object, and value types.
/// A null on either side matches anything (Go pointers); arrays compare their first elements.
fn shape_diff(ours: &J, theirs: &J, at: &str, out: &mut Vec<String>) {
    match (ours, theirs) {
        (J::Null, _) | (_, J::Null) => {}
        (J::Obj(a), J::Obj(b)) => {
            let ka: Vec<&str> = a.iter().map(|(k, _)| k.as_str()).collect();
            let kb: Vec<&str> = b.iter().map(|(k, _)| k.as_str()).collect();
            if ka != kb {
                out.push(format!("{at}: keys\n  ours:   {ka:?}\n  Gitea:  {kb:?}"));
            }
            for (k, x) in a {
                if let Some((_, y)) = b.iter().find(|(kb, _)| kb == k) {
                    shape_diff(x, y, &format!("{at}.{k}"), out);
                }
            }
        }
        (J::Arr(a), J::Arr(b)) => {
            if let (Some(x), Some(y)) = (a.first(), b.first()) {
                shape_diff(x, y, &format!("{at}[0]"), out);
            }
        }
        (J::Str(_), J::Str(_)) | (J::Num, J::Num) | (J::Bool, J::Bool) => {}
        (x, y) => out.push(format!("{at}: ours {x:?}, Gitea {y:?}")),
    }
}

fn assert_same_shape(d: &Delivery, file: &str) {
    let mut diffs = Vec::new();
    shape_diff(&parse(&d.body), &parse(&example(file)), "$", &mut diffs);
    assert!(diffs.is_empty(), "{file}:\n{}", diffs.join("\n"));
}

/// The headers of one example file, in order.
fn example_headers(file: &str) -> Vec<(String, String)> {
    let J::Obj(all) = parse(&example("headers.json")) else {
        panic!("headers.json")
    };
    let (_, J::Obj(h)) = all.into_iter().find(|(k, _)| k == file).expect("listed") else {
        panic!("{file}: not an object")
    };
    h.into_iter()
        .map(|(k, v)| match v {
            J::Str(s) => (k, s),
            other => panic!("{k}: {other:?}"),
        })
        .collect()
}

const FILES: [&str; 10] = [
    "issue_comment_created.json",
    "issue_comment_edited.json",
    "issue_comment_deleted.json",
    "pull_request_opened.json",
    "pull_request_synchronized.json",
    "pull_request_closed_merged.json",
    "pull_request_review_approved.json",
    "pull_request_review_rejected.json",
    "pull_request_review_request.json",
    "status_success_by_hand.json",
];

#[test]
fn signing_the_example_bodies_gives_the_example_headers() {
    for file in FILES {
        let want = example_headers(file);
        let get = |k: &str| want.iter().find(|(n, _)| n == k).unwrap().1.clone();
        let d = Delivery {
            event: get("X-Gitea-Event"),
            event_type: get("X-Gitea-Event-Type"),
            delivery_id: get("X-Gitea-Delivery"),
            body: example(file),
            flavor: gitea_emu::Flavor::Gitea,
        };
        assert_eq!(d.signed_headers(SECRET), want, "{file}");
    }
}

#[test]
fn issue_comment_created_signature() {
    let d = Delivery::new(
        "issue_comment",
        "pull_request_comment",
        example("issue_comment_created.json"),
    );
    assert_eq!(
        d.signature(SECRET),
        "403e32705ed9fabedfe6177050ee319ae93f84087feea3a11cf64899788e9f4b"
    );
}

/// The §11 scenario with the example files' server URL.
fn world() -> World {
    World::example().with_root_url("https://git.acme.example/")
}

fn header(d: &Delivery, k: &str) -> String {
    d.signed_headers(SECRET)
        .into_iter()
        .find(|(n, _)| n == k)
        .unwrap()
        .1
}

#[test]
fn comment_deliveries_match_the_examples() {
    let mut w = world();
    let id = w.comment(
        "widgets",
        7,
        "bob",
        "Team membership was fixed, re-checking.\n/refire qa",
    );
    let created = w.webhook_for_comment("widgets", 7, id, "created");
    assert_same_shape(&created, "issue_comment_created.json");
    assert_eq!(
        (created.event.as_str(), created.event_type.as_str()),
        ("issue_comment", "pull_request_comment")
    );
    let v = created.json();
    assert_eq!(v["action"], "created");
    assert_eq!(v["is_pull"], true);
    assert_eq!(v["sender"]["login"], "bob");
    assert_eq!(
        v["sender"]["email"], "bob@noreply.git.acme.example",
        "webhook users are anonymous"
    );
    assert_eq!(v["issue"]["user"]["email"], "alice@acme.example");
    assert_eq!(
        v["comment"]["html_url"],
        format!("https://git.acme.example/acme/widgets/pulls/7#issuecomment-{id}")
    );
    assert_eq!(
        v["comment"]["pull_request_url"],
        "https://git.acme.example/acme/widgets/pulls/7"
    );
    assert_eq!(v["comment"]["issue_url"], "");
    assert_eq!(
        v["issue"]["pull_request"]["html_url"],
        "https://git.acme.example/acme/widgets/pulls/7"
    );
    assert_eq!(v["pull_request"]["number"], 7, "1.25 carries the full PR");
    assert_eq!(
        v["repository"]["permissions"],
        serde_json::json!({"admin": false, "push": true, "pull": true})
    );
    assert!(v.get("changes").is_none());

    w.edit_comment(
        "widgets",
        id,
        "Team membership was fixed, re-checking.\n/refire qa security",
    );
    let edited = w.webhook_for_comment("widgets", 7, id, "edited");
    assert_same_shape(&edited, "issue_comment_edited.json");
    let v = edited.json();
    assert_eq!(
        v["changes"]["body"]["from"],
        "Team membership was fixed, re-checking.\n/refire qa"
    );
    assert_eq!(v["changes"]["added_labels"], Value::Null);
    assert_eq!(
        v["comment"]["body"],
        "Team membership was fixed, re-checking.\n/refire qa security"
    );

    let waiver = w.comment(
        "widgets",
        7,
        "carol",
        "/sop-n/a security-review — docs-only change",
    );
    w.delete_comment("widgets", waiver);
    let deleted = w.webhook_for_comment("widgets", 7, waiver, "deleted");
    assert_same_shape(&deleted, "issue_comment_deleted.json");
    let v = deleted.json();
    assert_eq!(
        (v["sender"]["login"].as_str(), v["comment"]["body"].as_str()),
        (
            Some("carol"),
            Some("/sop-n/a security-review — docs-only change")
        )
    );

    assert_ne!(
        created.delivery_id, edited.delivery_id,
        "a new UUID per delivery"
    );
}

#[test]
fn comment_on_a_plain_issue_is_an_issue_comment() {
    let mut w = world();
    let n = w.open_issue("widgets", "alice", "bug");
    let id = w.comment("widgets", n, "bob", "me too");
    let d = w.webhook_for_comment("widgets", n, id, "created");
    assert_eq!(
        (d.event.as_str(), d.event_type.as_str()),
        ("issue_comment", "issue_comment")
    );
    let v = d.json();
    assert!(v.get("pull_request").is_none());
    assert_eq!(
        (&v["is_pull"], &v["issue"]["pull_request"]),
        (&Value::Bool(false), &Value::Null)
    );
    assert_eq!(v["comment"]["pull_request_url"], "");
}

#[test]
fn pull_request_deliveries_match_the_examples() {
    let mut w = world();
    let opened = w.webhook_for_pr("widgets", 7, "opened");
    assert_same_shape(&opened, "pull_request_opened.json");
    assert_eq!(
        (opened.event.as_str(), opened.event_type.as_str()),
        ("pull_request", "pull_request")
    );
    assert_eq!(opened.json()["sender"]["login"], "alice");
    assert_eq!(opened.json()["commit_id"], "");

    let head = w.push("widgets", 7);
    let sync = w.webhook_for_pr("widgets", 7, "synchronized");
    assert_same_shape(&sync, "pull_request_synchronized.json");
    assert_eq!(
        (sync.event.as_str(), sync.event_type.as_str()),
        ("pull_request", "pull_request_sync")
    );
    let v = sync.json();
    assert_eq!(v["action"], "synchronized");
    assert_eq!(v["pull_request"]["head"]["sha"], head.as_str());
    assert_eq!(
        v["repository"]["permissions"],
        serde_json::json!({"admin": true, "push": true, "pull": true})
    );

    w.close_pr_by("widgets", 7, true, "bob");
    let merged = w.webhook_for_pr("widgets", 7, "closed");
    assert_same_shape(&merged, "pull_request_closed_merged.json");
    let v = merged.json();
    assert_eq!(
        (v["action"].as_str(), &v["pull_request"]["merged"]),
        (Some("closed"), &Value::Bool(true))
    );
    assert_eq!(v["pull_request"]["merged_by"]["login"], "bob");
    assert_eq!(
        v["pull_request"]["merge_commit_sha"],
        v["pull_request"]["base"]["sha"]
    );
    assert_eq!(v["sender"]["login"], "bob");
}

#[test]
fn edited_carries_the_change() {
    let mut w = world();
    w.change_pr_base("widgets", 7, "main");
    let w = w.with_branch("widgets", "release", true);
    let mut w = w;
    w.change_pr_base("widgets", 7, "release");
    let v = w.webhook_for_pr("widgets", 7, "edited").json();
    assert_eq!(v["changes"]["ref"]["from"], "main");
    assert_eq!(v["pull_request"]["base"]["ref"], "release");
    w.edit_pr_title("widgets", 7, "New title");
    let v = w.webhook_for_pr("widgets", 7, "edited").json();
    assert_eq!(
        v["changes"]["title"]["from"],
        "Add token-bucket rate limiter to widget API"
    );
    assert!(v["changes"].get("ref").is_none());
}

#[test]
fn review_deliveries_match_the_examples() {
    let mut w = world();
    w.review("widgets", 7, "bob", "APPROVED", "Tested on staging, LGTM.");
    let d = w.webhook_for_review("widgets", 7, "bob", "approved");
    assert_same_shape(&d, "pull_request_review_approved.json");
    assert_eq!(
        (d.event.as_str(), d.event_type.as_str()),
        ("pull_request_approved", "pull_request_review_approved")
    );
    assert_eq!(header(&d, "X-GitHub-Event"), "pull_request_approved");
    let v = d.json();
    assert_eq!(v["action"], "reviewed");
    assert_eq!(
        v["review"],
        serde_json::json!({"type": "pull_request_review_approved", "content": "Tested on staging, LGTM."})
    );
    assert_eq!(
        (
            v["sender"]["login"].as_str(),
            v["requested_reviewer"]["login"].as_str()
        ),
        (Some("bob"), Some("bob"))
    );

    let msg = "The refill uses the wall clock; please switch to a monotonic clock.";
    w.review("widgets", 7, "carol", "REQUEST_CHANGES", msg);
    let d = w.webhook_for_review("widgets", 7, "carol", "rejected");
    assert_same_shape(&d, "pull_request_review_rejected.json");
    assert_eq!(
        (d.event.as_str(), d.event_type.as_str()),
        ("pull_request_rejected", "pull_request_review_rejected")
    );
    assert_eq!(d.json()["review"]["content"], msg);

    w.review("widgets", 7, "carol", "COMMENT", "one nit");
    let d = w.webhook_for_review("widgets", 7, "carol", "comment");
    assert_eq!(
        (d.event.as_str(), d.event_type.as_str()),
        ("pull_request_comment", "pull_request_review_comment")
    );
}

/// `services/webhook/notifier.go` `PullRequestReviewRequest`: one event type for a request and
/// its withdrawal, coarse event `pull_request`, `review: null`.
#[test]
fn review_request_deliveries_match_the_example() {
    let mut w = world();
    w.request_review("widgets", 7, "carol");
    let d = w.webhook_for_review_request("widgets", 7, "alice", "carol", false);
    assert_same_shape(&d, "pull_request_review_request.json");
    assert_eq!(
        (d.event.as_str(), d.event_type.as_str()),
        ("pull_request", "pull_request_review_request")
    );
    let v = d.json();
    assert_eq!(v["action"], "review_requested");
    assert_eq!(v["requested_reviewer"]["login"], "carol");
    assert_eq!(v["sender"]["login"], "alice");
    assert!(v["review"].is_null());
    let removed = w.webhook_for_review_request("widgets", 7, "alice", "carol", true);
    assert_eq!(removed.event_type, "pull_request_review_request");
    assert_eq!(removed.json()["action"], "review_request_removed");
}

/// `services/webhook/notifier.go` `CreateCommitStatus` (Gitea 1.23+): the status as posted,
/// sent by its creator.
#[test]
fn status_deliveries_match_the_example() {
    let mut w = world();
    let head = w.head_sha("widgets", 7);
    let s = w.post_status(
        "widgets",
        &head,
        "alice",
        "success",
        "qa-review / approved",
        "trust me",
        "",
    );
    let d = w.webhook_for_status("widgets", &head, s.id);
    assert_same_shape(&d, "status_success_by_hand.json");
    assert_eq!(
        (d.event.as_str(), d.event_type.as_str()),
        ("status", "status")
    );
    let v = d.json();
    assert_eq!(
        (
            &v["sha"],
            &v["context"],
            &v["state"],
            &v["id"],
            &v["sender"]["login"]
        ),
        (
            &serde_json::json!(head),
            &serde_json::json!("qa-review / approved"),
            &serde_json::json!("success"),
            &serde_json::json!(s.id),
            &serde_json::json!("alice")
        )
    );
    assert_eq!(v["commit"]["id"], head.as_str());
    assert_eq!(v["repository"]["permissions"]["admin"], true);
}

#[test]
fn bodies_are_go_marshal_indent() {
    let mut w = world();
    let id = w.comment("widgets", 7, "bob", "a <b> & c");
    let d = w.webhook_for_comment("widgets", 7, id, "created");
    let text = String::from_utf8(d.body.clone()).unwrap();
    assert!(text.starts_with("{\n  \"action\": \"created\",\n  \"issue\": {\n    \"id\": "));
    assert!(
        text.ends_with("\n  \"is_pull\": true\n}"),
        "no trailing newline"
    );
    assert!(text.contains("a \\u003cb\\u003e \\u0026 c"));
    assert_eq!(d.json()["comment"]["body"], "a <b> & c");
    assert_eq!(header(&d, "X-Gitea-Signature"), d.signature(SECRET));
    assert_eq!(
        header(&d, "X-Hub-Signature-256"),
        format!("sha256={}", d.signature(SECRET))
    );

    let req = d.request("/webhook", SECRET);
    assert_eq!(req.method(), "POST");
    assert_eq!(req.headers()["x-gitea-event-type"], "pull_request_comment");
    assert_eq!(req.headers()["x-gitea-delivery"], d.delivery_id.as_str());
}

#[test]
fn the_shape_check_notices_a_different_payload() {
    let w = world();
    let opened = w.webhook_for_pr("widgets", 7, "opened");
    let mut diffs = Vec::new();
    shape_diff(
        &parse(&opened.body),
        &parse(&example("issue_comment_created.json")),
        "$",
        &mut diffs,
    );
    assert!(diffs.iter().any(|d| d.starts_with("$: keys")), "{diffs:?}");
    let mut diffs = Vec::new();
    shape_diff(
        &parse(br#"{"a":{"x":1,"y":"s"}}"#),
        &parse(br#"{"a":{"y":"s","x":true}}"#),
        "$",
        &mut diffs,
    );
    assert_eq!(diffs.len(), 2, "{diffs:?}");
}
