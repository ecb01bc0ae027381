//! The webhook server over real HTTP: a real SQLite inbox in a temporary directory, the
//! example deliveries of `tests/gitea-emu/fixtures/gitea/webhooks/` with the exact headers Gitea
//! sent (`headers.json`, secret `sopbot-example-secret`), and reqwest as the client. Every
//! refused delivery must leave the inbox empty.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sopbot::config::Config;
use sopbot::gitea::{ClientOptions, GiteaClient};
use sopbot::repos::Served;
use sopbot::secret::Secret;
use sopbot::server::{self, AppState, WebhookAuth};
use sopbot::store::{EventRow, Store};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;

const SECRET: &str = "sopbot-example-secret";
const LIMIT: usize = 64 * 1024;
const FILES: [&str; 8] = [
    "issue_comment_created.json",
    "issue_comment_edited.json",
    "issue_comment_deleted.json",
    "pull_request_opened.json",
    "pull_request_synchronized.json",
    "pull_request_closed_merged.json",
    "pull_request_review_approved.json",
    "pull_request_review_rejected.json",
];

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/gitea-emu/fixtures/gitea/webhooks")
}

/// The body of an example file and the headers Gitea sent with it.
fn example(file: &str) -> (Vec<u8>, Vec<(String, String)>) {
    let all: Value =
        serde_json::from_slice(&std::fs::read(examples().join("headers.json")).unwrap()).unwrap();
    let headers = all[file]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    (std::fs::read(examples().join(file)).unwrap(), headers)
}

/// The example's JSON after `edit`, re-serialized (sign it again with [`signed`]).
fn edited(file: &str, edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&example(file).0).unwrap();
    edit(&mut v);
    serde_json::to_vec_pretty(&v).unwrap()
}

fn sign(body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Minimal Gitea headers for `body`, signed with the example secret.
fn signed(event_type: &str, delivery: &str, body: &[u8]) -> Vec<(String, String)> {
    vec![
        ("Content-Type".into(), "application/json".into()),
        ("X-Gitea-Event-Type".into(), event_type.into()),
        ("X-Gitea-Delivery".into(), delivery.into()),
        ("X-Gitea-Signature".into(), sign(body)),
    ]
}

/// A running sopbot server on 127.0.0.1:0 with its inbox.
struct Bot {
    url: String,
    store: Store,
    notify: Arc<Notify>,
    http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
    _dir: TempDir,
}

impl Bot {
    async fn start() -> Bot {
        Bot::start_with(|s| s, WebhookAuth::Secret(Secret::new(SECRET))).await
    }

    async fn start_with(configure: impl FnOnce(AppState) -> AppState, auth: WebhookAuth) -> Bot {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("sopbot.db")).await.unwrap();
        let notify = Arc::new(Notify::new());
        let config = Config::from_toml(
            "[[repo]]\nname = \"acme/widgets\"\n",
            &dir.path().join("sopbot.toml"),
        )
        .unwrap();
        let served = Arc::new(Served::new(Arc::new(config)));
        let state = AppState::new(store.clone(), auth, served)
            .with_bot_login("sopbot")
            .with_max_body(LIMIT)
            .with_notify(notify.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server::serve(
            listener,
            server::router(configure(state)),
            async move {
                let _ = stopped.await;
            },
        ));
        Bot {
            url,
            store,
            notify,
            http: reqwest::Client::new(),
            stop: Some(stop),
            task,
            _dir: dir,
        }
    }

    async fn post(&self, headers: &[(String, String)], body: Vec<u8>) -> (StatusCode, String) {
        let mut req = self.http.post(format!("{}/webhook", self.url)).body(body);
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let resp = req.send().await.expect("an HTTP answer");
        let status = resp.status();
        (status, resp.text().await.unwrap())
    }

    async fn post_example(&self, file: &str) -> (StatusCode, String) {
        let (body, headers) = example(file);
        self.post(&headers, body).await
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        let resp = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.text().await.unwrap())
    }

    async fn rows(&self) -> Vec<EventRow> {
        let mut rows = self.store.list_events(None, i64::MAX).await.unwrap();
        rows.reverse();
        rows
    }

    async fn expect_inbox_empty(&self) {
        assert_eq!(self.rows().await, vec![], "nothing may be stored");
    }

    async fn stop(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("the server stops")
            .unwrap()
            .unwrap();
    }
}

fn body_hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[tokio::test]
async fn every_example_is_queued_once_with_its_dedup_key() {
    let bot = Bot::start().await;
    for file in FILES {
        let answer = bot.post_example(file).await;
        assert_eq!(answer, (StatusCode::ACCEPTED, "queued".into()), "{file}");
        tokio::time::timeout(Duration::from_secs(1), bot.notify.notified())
            .await
            .expect("a worker is woken after each event");
    }
    let rows = bot.rows().await;
    assert_eq!(rows.len(), FILES.len());
    for (file, row) in FILES.iter().zip(&rows) {
        let (_, headers) = example(file);
        let delivery = headers
            .iter()
            .find(|(k, _)| k == "X-Gitea-Delivery")
            .map(|(_, v)| v.clone());
        assert_eq!(row.delivery_id, delivery, "{file}");
        assert_eq!(row.repo, "acme/widgets");
        assert_eq!(row.pr, Some(7));
        assert_eq!(row.source.as_str(), "webhook");
        let payload: Value = serde_json::from_str(&row.payload).unwrap();
        assert_eq!(payload["kind"], row.kind.as_str(), "{file}");
    }
    let summary: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.kind.as_str(), r.dedup_key.as_str()))
        .collect();
    let created = body_hash("Team membership was fixed, re-checking.\n/refire qa");
    let edited = body_hash("Team membership was fixed, re-checking.\n/refire qa security");
    let deleted = body_hash("/sop-n/a security-review — docs-only change");
    let head1 = "a13c339ad9f05d355c00842a246adb36420e01d6";
    let head2 = "e4e6e9ec6e81c321e9cb30e1d44458c60d5ecafe";
    assert_eq!(
        summary,
        vec![
            (
                "comment",
                format!("comment:acme/widgets:1042:created:{created}").as_str()
            ),
            (
                "comment",
                format!("comment:acme/widgets:1042:edited:{edited}").as_str()
            ),
            (
                "comment",
                format!("comment:acme/widgets:1047:deleted:{deleted}").as_str()
            ),
            (
                "pull_request",
                format!("pr:acme/widgets:7:opened:{head1}:2026-03-02T10:15:04Z").as_str()
            ),
            (
                "pull_request",
                format!("pr:acme/widgets:7:synchronized:{head2}:2026-03-03T09:02:18Z").as_str()
            ),
            (
                "pull_request",
                format!("pr:acme/widgets:7:closed:{head2}:2026-03-04T08:30:00Z").as_str()
            ),
            (
                "review",
                "review:acme/widgets:7:bob:approved:2026-03-03T10:40:09Z"
            ),
            (
                "review",
                "review:acme/widgets:7:carol:rejected:2026-03-03T11:12:40Z"
            ),
        ]
    );
    bot.stop().await;
}

#[tokio::test]
async fn a_replay_with_a_new_delivery_id_is_stored_once() {
    let bot = Bot::start().await;
    assert_eq!(
        bot.post_example("issue_comment_created.json").await,
        (StatusCode::ACCEPTED, "queued".into())
    );
    let (body, mut headers) = example("issue_comment_created.json");
    for (k, v) in headers.iter_mut() {
        if k.ends_with("-Delivery") {
            *v = "a1f3c7e2-0000-4000-8000-000000000001".into();
        }
    }
    assert_eq!(
        bot.post(&headers, body).await,
        (StatusCode::ACCEPTED, "duplicate".into())
    );
    let rows = bot.rows().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].delivery_id.as_deref(),
        Some("0b7c0dc0-1a00-45ae-a5e5-e8e10be438af"),
        "the first delivery is the one stored"
    );
}

#[tokio::test]
async fn the_github_style_signature_alone_is_accepted() {
    let bot = Bot::start().await;
    let (body, _) = example("pull_request_opened.json");
    let headers = vec![
        ("content-type".to_string(), "application/json".to_string()),
        ("X-GitHub-Event-Type".into(), "pull_request".into()),
        ("X-GitHub-Delivery".into(), "d-hub".into()),
        (
            "X-Hub-Signature-256".into(),
            format!("sha256={}", sign(&body)),
        ),
    ];
    assert_eq!(
        bot.post(&headers, body).await,
        (StatusCode::ACCEPTED, "queued".into())
    );
    assert_eq!(bot.rows().await[0].delivery_id.as_deref(), Some("d-hub"));
}

#[tokio::test]
async fn missing_or_wrong_signatures_are_refused_and_store_nothing() {
    let bot = Bot::start().await;
    let (body, headers) = example("issue_comment_created.json");
    let without = |names: &[&str]| -> Vec<(String, String)> {
        headers
            .iter()
            .filter(|(k, _)| !names.iter().any(|n| k.eq_ignore_ascii_case(n)))
            .cloned()
            .collect()
    };
    let sig_headers = [
        "X-Gitea-Signature",
        "X-Gogs-Signature",
        "X-Hub-Signature",
        "X-Hub-Signature-256",
    ];

    // No signature at all.
    let unsigned = without(&sig_headers);
    assert_eq!(
        bot.post(&unsigned, body.clone()).await,
        (StatusCode::UNAUTHORIZED, "missing signature".into())
    );

    // What Gitea sends for a hook without a secret.
    let mut empty = unsigned.clone();
    empty.push(("X-Gitea-Signature".into(), "".into()));
    empty.push(("X-Hub-Signature-256".into(), "sha256=".into()));
    assert_eq!(
        bot.post(&empty, body.clone()).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Signed with another secret.
    let mut other_secret = unsigned.clone();
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"not-the-secret").unwrap();
    mac.update(&body);
    other_secret.push((
        "X-Gitea-Signature".into(),
        hex::encode(mac.finalize().into_bytes()),
    ));
    assert_eq!(
        bot.post(&other_secret, body.clone()).await,
        (StatusCode::UNAUTHORIZED, "bad signature".into())
    );

    // The real signature of another body.
    let (other_body, _) = example("issue_comment_deleted.json");
    assert_eq!(
        bot.post(&headers, other_body).await.0,
        StatusCode::UNAUTHORIZED
    );

    // The same JSON without the indentation: the signature is over the raw bytes.
    let reserialized =
        serde_json::to_vec(&serde_json::from_slice::<Value>(&body).unwrap()).unwrap();
    assert_eq!(
        bot.post(&headers, reserialized).await.0,
        StatusCode::UNAUTHORIZED
    );

    // A form-encoded hook gets a hint.
    let mut form = without(&["Content-Type"]);
    form.push((
        "Content-Type".into(),
        "application/x-www-form-urlencoded".into(),
    ));
    let (status, text) = bot.post(&form, b"payload=%7B%7D".to_vec()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(text.contains("application/json"), "{text}");

    bot.expect_inbox_empty().await;
}

#[tokio::test]
async fn bodies_over_the_limit_are_413() {
    let bot = Bot::start().await;
    for size in [LIMIT + 1, 2 * LIMIT, 16 * LIMIT, 256 * LIMIT] {
        let mut body = b"{\"pad\":\"".to_vec();
        body.resize(size - 2, b'x');
        body.extend_from_slice(b"\"}");
        let headers = signed("pull_request", "d-big", &body);
        let (status, text) = bot.post(&headers, body).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{size} bytes");
        assert!(text.contains(&LIMIT.to_string()), "{text}");
    }
    // Exactly at the limit is read (and here refused as malformed, not as too large).
    let mut body = b"{\"pad\":\"".to_vec();
    body.resize(LIMIT - 2, b'x');
    body.extend_from_slice(b"\"}");
    let headers = signed("pull_request", "d-edge", &body);
    assert_eq!(bot.post(&headers, body).await.0, StatusCode::BAD_REQUEST);
    bot.expect_inbox_empty().await;
}

#[tokio::test]
async fn malformed_payloads_are_400() {
    let bot = Bot::start().await;
    for (event_type, body) in [
        ("pull_request_comment", b"{".to_vec()),
        ("pull_request", b"[]".to_vec()),
        ("pull_request_sync", b"".to_vec()),
    ] {
        let headers = signed(event_type, "d-bad", &body);
        assert_eq!(
            bot.post(&headers, body).await.0,
            StatusCode::BAD_REQUEST,
            "{event_type}"
        );
    }
    let no_comment = edited("issue_comment_created.json", |v| {
        v.as_object_mut().unwrap().remove("comment");
    });
    let headers = signed("pull_request_comment", "d-nocomment", &no_comment);
    assert_eq!(
        bot.post(&headers, no_comment).await,
        (
            StatusCode::BAD_REQUEST,
            "pull_request_comment payload has no `comment`".into()
        )
    );
    bot.expect_inbox_empty().await;
}

#[tokio::test]
async fn events_sopbot_does_not_act_on_are_200() {
    let bot = Bot::start().await;

    let body = br#"{"anything": true}"#.to_vec();
    let (status, text) = bot
        .post(&signed("pull_request_label", "d-1", &body), body.clone())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.starts_with("ignored: "), "{text}");
    assert_eq!(
        bot.post(&signed("repository", "d-2", &body), body).await.0,
        StatusCode::OK
    );

    let other_repo = edited("pull_request_opened.json", |v| {
        v["repository"]["full_name"] = "acme/gadgets".into();
    });
    assert_eq!(
        bot.post(&signed("pull_request", "d-3", &other_repo), other_repo)
            .await,
        (StatusCode::OK, "ignored: repository not served".into())
    );

    let by_bot = edited("issue_comment_created.json", |v| {
        v["comment"]["user"]["login"] = "SopBot".into();
        v["sender"]["login"] = "sopbot".into();
    });
    assert_eq!(
        bot.post(&signed("pull_request_comment", "d-4", &by_bot), by_bot)
            .await,
        (StatusCode::OK, "ignored: comment by the bot itself".into())
    );

    let issue_comment = edited("issue_comment_created.json", |v| {
        v["issue"]["pull_request"] = Value::Null;
        v["is_pull"] = false.into();
    });
    assert_eq!(
        bot.post(
            &signed("issue_comment", "d-5", &issue_comment),
            issue_comment
        )
        .await
        .0,
        StatusCode::OK
    );

    let title_edit = edited("pull_request_opened.json", |v| {
        v["action"] = "edited".into();
        v["changes"] = serde_json::json!({"title": {"from": "WIP"}});
    });
    assert_eq!(
        bot.post(&signed("pull_request", "d-6", &title_edit), title_edit)
            .await
            .0,
        StatusCode::OK
    );
    bot.expect_inbox_empty().await;
}

/// A review request is a PR event; a status is acted on only on sopbot's contexts and not when
/// the bot posted it (its own statuses would come back as events: a loop). A queued status has
/// no PR: it is about a commit.
#[tokio::test]
async fn review_requests_and_foreign_statuses_on_sopbots_contexts_are_queued() {
    let contexts = vec![
        "qa-review / approved".to_string(),
        "sop-checklist / na-declarations (pull_request)".to_string(),
    ];
    let bot = Bot::start_with(
        |s| s.with_status_contexts(contexts),
        WebhookAuth::Secret(Secret::new(SECRET)),
    )
    .await;
    let rr = "pull_request_review_request.json";
    assert_eq!(
        bot.post_example(rr).await,
        (StatusCode::ACCEPTED, "queued".into())
    );
    let st = "status_success_by_hand.json";
    assert_eq!(
        bot.post_example(st).await,
        (StatusCode::ACCEPTED, "queued".into())
    );
    assert_eq!(
        bot.post_example(st).await,
        (StatusCode::ACCEPTED, "duplicate".into())
    );

    let by_bot = edited(st, |v| {
        v["id"] = 42.into();
        v["sender"]["login"] = "SopBot".into();
    });
    assert_eq!(
        bot.post(&signed("status", "s-1", &by_bot), by_bot).await,
        (
            StatusCode::OK,
            "ignored: status posted by the bot itself".into()
        )
    );
    let ci = edited(st, |v| {
        v["id"] = 43.into();
        v["context"] = "ci/build".into();
    });
    assert_eq!(
        bot.post(&signed("status", "s-2", &ci), ci).await,
        (
            StatusCode::OK,
            "ignored: status on a context that is not sopbot's".into()
        )
    );
    let na = edited(st, |v| {
        v["id"] = 44.into();
        v["context"] = "sop-checklist / na-declarations (pull_request)".into();
        v["state"] = "failure".into();
    });
    assert_eq!(
        bot.post(&signed("status", "s-3", &na), na).await,
        (StatusCode::ACCEPTED, "queued".into())
    );

    let rows = bot.rows().await;
    let summary: Vec<(&str, Option<i64>, &str)> = rows
        .iter()
        .map(|r| (r.kind.as_str(), r.pr, r.dedup_key.as_str()))
        .collect();
    let head = "e4e6e9ec6e81c321e9cb30e1d44458c60d5ecafe";
    assert_eq!(
        summary,
        vec![
            (
                "review_request",
                Some(7),
                "review_request:acme/widgets:7:requested:carol:2026-03-03T10:40:09Z"
            ),
            (
                "status",
                None,
                format!("status:acme/widgets:{head}:qa-review / approved:41").as_str()
            ),
            (
                "status",
                None,
                format!(
                    "status:acme/widgets:{head}:sop-checklist / na-declarations (pull_request):44"
                )
                .as_str()
            ),
        ]
    );
    bot.stop().await;

    // Without configured contexts (the default state) no status is acted on.
    let bare = Bot::start().await;
    assert_eq!(
        bare.post_example(st).await,
        (
            StatusCode::OK,
            "ignored: status on a context that is not sopbot's".into()
        )
    );
    bare.expect_inbox_empty().await;
    bare.stop().await;
}

#[tokio::test]
async fn the_server_keeps_serving_after_bad_requests() {
    let bot = Bot::start().await;
    let (body, headers) = example("pull_request_review_approved.json");
    let mut wrong = headers.clone();
    for (k, v) in wrong.iter_mut() {
        if k == "X-Gitea-Signature" {
            *v = "00".repeat(32);
        }
    }
    assert_eq!(
        bot.post(&wrong, body.clone()).await.0,
        StatusCode::UNAUTHORIZED
    );
    let big = vec![b'{'; 4 * LIMIT];
    assert_eq!(
        bot.post(&signed("pull_request", "d", &big), big).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(
        bot.post(&signed("pull_request", "d", b"{"), b"{".to_vec())
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    let junk: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    assert_eq!(
        bot.post(&signed("pull_request_comment", "d", &junk), junk)
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        bot.post(&headers, body).await,
        (StatusCode::ACCEPTED, "queued".into())
    );
    assert_eq!(bot.rows().await.len(), 1);
    bot.stop().await;
}

#[tokio::test]
async fn only_the_coarse_event_header_still_works() {
    let bot = Bot::start().await;
    let (body, headers) = example("pull_request_review_rejected.json");
    let coarse: Vec<(String, String)> = headers
        .into_iter()
        .filter(|(k, _)| !k.ends_with("-Event-Type"))
        .collect();
    assert_eq!(
        bot.post(&coarse, body).await,
        (StatusCode::ACCEPTED, "queued".into())
    );
    assert_eq!(bot.rows().await[0].kind, "review");
}

#[tokio::test]
async fn repository_names_are_matched_without_case_and_stored_as_configured() {
    let bot = Bot::start().await;
    let body = edited("pull_request_synchronized.json", |v| {
        v["repository"]["full_name"] = "ACME/Widgets".into();
    });
    assert_eq!(
        bot.post(&signed("pull_request_sync", "d-case", &body), body)
            .await
            .0,
        StatusCode::ACCEPTED
    );
    let row = &bot.rows().await[0];
    assert_eq!(row.repo, "acme/widgets");
    assert!(row.dedup_key.starts_with("pr:acme/widgets:7:synchronized:"));
}

#[tokio::test]
async fn without_a_secret_unsigned_deliveries_are_accepted_when_asked_for() {
    let bot = Bot::start_with(|s| s, WebhookAuth::InsecureNone).await;
    let (body, headers) = example("pull_request_opened.json");
    let unsigned: Vec<(String, String)> = headers
        .into_iter()
        .filter(|(k, _)| !k.contains("Signature"))
        .collect();
    assert_eq!(
        bot.post(&unsigned, body).await,
        (StatusCode::ACCEPTED, "queued".into())
    );
}

#[tokio::test]
async fn a_store_failure_is_503() {
    let bot = Bot::start().await;
    bot.store.close().await;
    let (status, text) = bot.post_example("pull_request_opened.json").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        text.starts_with("not stored, not queued: ") && text.contains("poller"),
        "{text}"
    );
    let (status, text) = bot.get("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let ready: Value = serde_json::from_str(&text).unwrap();
    assert!(
        ready["database"]
            .as_str()
            .unwrap()
            .starts_with("not writable: "),
        "{text}"
    );
}

#[tokio::test]
async fn healthz_answers_ok() {
    let bot = Bot::start().await;
    assert_eq!(bot.get("/healthz").await, (StatusCode::OK, "ok".into()));
}

/// A stand-in Gitea that only knows `GET /api/v1/version`.
async fn stub_gitea() -> String {
    let app = axum::Router::new().route(
        "/api/v1/version",
        get(|| async { axum::Json(serde_json::json!({"version": "1.25.4"})) }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

fn client(url: &str) -> GiteaClient {
    let opts = ClientOptions {
        retries: 0,
        ..ClientOptions::default()
    };
    GiteaClient::new(url, Secret::new("token"), opts).unwrap()
}

#[tokio::test]
async fn readyz_checks_the_database_and_gitea() {
    let gitea = client(&stub_gitea().await);
    let bot = Bot::start_with(
        |s| s.with_gitea(gitea),
        WebhookAuth::Secret(Secret::new(SECRET)),
    )
    .await;
    let (status, text) = bot.get("/readyz").await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let ready: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(ready, serde_json::json!({"database": "ok", "gitea": "ok"}));
}

#[tokio::test]
async fn readyz_names_an_unreachable_gitea() {
    // A port that was free a moment ago: nothing listens there.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let gitea = client(&format!("http://127.0.0.1:{port}"));
    let bot = Bot::start_with(
        |s| s.with_gitea(gitea),
        WebhookAuth::Secret(Secret::new(SECRET)),
    )
    .await;
    let started = std::time::Instant::now();
    let (status, text) = bot.get("/readyz").await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let ready: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(ready["database"], "ok");
    assert!(
        ready["gitea"]
            .as_str()
            .unwrap()
            .starts_with("unreachable: "),
        "{text}"
    );

    let without = Bot::start().await;
    let (status, text) = without.get("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(text.contains("\"gitea\":\"not configured\""), "{text}");
}

/// A body without a length, far over the limit: the server stops reading and answers 413; the
/// client may see its writes fail, but the answer is there to read (no bare connection reset).
#[tokio::test]
async fn a_chunked_body_over_the_limit_is_413() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let bot = Bot::start().await;
    let addr = bot.url.trim_start_matches("http://").to_string();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        b"POST /webhook HTTP/1.1\r\nHost: sopbot\r\nTransfer-Encoding: chunked\r\n\
          X-Gitea-Event-Type: pull_request\r\nX-Gitea-Signature: 00\r\n\r\n",
    )
    .await
    .unwrap();
    let chunk = vec![b'x'; 8192];
    let mut frame = format!("{:x}\r\n", chunk.len()).into_bytes();
    frame.extend_from_slice(&chunk);
    frame.extend_from_slice(b"\r\n");
    let mut sent = 0;
    while sent < 64 * LIMIT && s.write_all(&frame).await.is_ok() {
        sent += chunk.len();
    }
    let _ = s.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    bot.expect_inbox_empty().await;
}
