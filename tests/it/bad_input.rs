//! The bad-input suite, against the bot in-process behind a real port (tests/it/support, the
//! same router and workers `sopbot serve` runs): malformed JSON, wrong types, missing and null
//! fields, impossible numbers, huge bodies, deep nesting, invalid UTF-8 in headers and bodies,
//! replayed and forged signatures, wrong methods and bytes that are not HTTP at all. Each gets
//! the answer `server.rs` documents — 401 before anything is read, 413 over the limit, 400 for a
//! body that is not the event its headers claim, 200 for what sopbot does not act on, 202 once
//! stored — and afterwards the bot is alive, serving, and has stored exactly the deliveries it
//! accepted (a panic that took the server down, or a stack overflow, fails the test).
//!
//! The decoder itself is also run on random bytes and on mutated real payloads (proptest): it
//! returns an answer and never panics. `fuzz/` has the cargo-fuzz targets for longer runs.

use crate::support as common;

use std::time::Duration;

use common::serve::{wait_for, SECRET};
use common::tester::Tester;
use gitea_emu::{Delivery, World};
use proptest::prelude::*;
use reqwest::header::{HeaderName, HeaderValue};
use serde_json::{json, Value};
use sopbot::gitea::webhook::{decode, decode_coarse};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `server.max_body_bytes` of the Tester's config (`ConfigToml::webhook_secret`).
const LIMIT: usize = 64 * 1024;

/// The bot in-process (the real router behind a real port, as `sopbot serve` runs it) over the
/// example world with dave in no team.
async fn start() -> Tester {
    Tester::setup_in(World::example().with_user("dave"))
        .start()
        .await
}

/// A real delivery: dave's comment `body` on PR #7.
fn dave_says(c: &Tester, body: &str) -> Delivery {
    c.world(|w| {
        let id = w.comment("widgets", 7, "dave", body);
        w.webhook_for_comment("widgets", 7, id, "created")
    })
}

/// POST /webhook with raw header bytes: status and body (0 when no HTTP answer came).
async fn post_raw(c: &Tester, headers: &Headers, body: Vec<u8>) -> (u16, String) {
    let mut req = reqwest::Client::new().post(format!("{}/webhook", c.bot.url()));
    for (k, v) in headers {
        let name = HeaderName::from_bytes(k.as_bytes()).unwrap();
        req = req.header(name, HeaderValue::from_bytes(v).unwrap());
    }
    match req.body(body).send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.text().await.unwrap_or_default())
        }
        Err(e) => (0, e.to_string()),
    }
}

/// `body` as a delivery of `event_type`, correctly signed.
async fn signed(c: &Tester, event_type: &str, body: Vec<u8>) -> (u16, String) {
    let d = Delivery::new(coarse(event_type), event_type, body);
    c.bot.deliver(&d).await
}

/// How many deliveries the inbox holds.
async fn stored(c: &Tester) -> i64 {
    let db = sopbot::store::Store::open(&c.dir.path().join("sopbot.db"))
        .await
        .unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM inbox")
        .fetch_one(db.pool())
        .await
        .unwrap();
    db.close().await;
    n
}

/// The bot is alive and answers.
async fn expect_serving(c: &Tester) {
    assert_eq!(c.bot.get("/healthz").await, (200, "ok".to_string()));
}

/// Header names and raw values (which may be invalid UTF-8).
type Headers = Vec<(String, Vec<u8>)>;

fn raw(pairs: &[(String, String)]) -> Headers {
    pairs
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().into_bytes()))
        .collect()
}

fn coarse(event_type: &str) -> &'static str {
    match event_type {
        "pull_request_comment" => "issue_comment",
        "pull_request_review_approved" => "pull_request_approved",
        _ => "pull_request",
    }
}

/// `v` with the value at a dotted path replaced (`None`: removed).
fn with(v: &Value, path: &str, new: Option<Value>) -> Vec<u8> {
    let mut v = v.clone();
    let (parent, last) = match path.rsplit_once('.') {
        Some((p, l)) => (p.split('.').fold(&mut v, |v, k| &mut v[k]), l),
        None => (&mut v, path),
    };
    let obj = parent.as_object_mut().expect("an object on the path");
    match new {
        Some(x) => {
            obj.insert(last.to_string(), x);
        }
        None => {
            obj.remove(last);
        }
    }
    serde_json::to_vec(&v).unwrap()
}

/// `depth` nested arrays around `inner`.
fn nested(depth: usize, inner: &str) -> String {
    format!("{}{inner}{}", "[".repeat(depth), "]".repeat(depth))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_delivery_gets_its_documented_answer_and_the_bot_keeps_serving() {
    let c = start().await;
    let comment = dave_says(&c, "/refire").json();
    let pr = c
        .emu
        .with_world(|w| w.webhook_for_pr("widgets", 7, "opened").json());
    let review = c.emu.with_world(|w| {
        w.review("widgets", 7, "bob", "APPROVED", "ok");
        w.webhook_for_review("widgets", 7, "bob", "approved").json()
    });
    let huge_number = Value::from(serde_json::Number::from_f64(1e30).unwrap());

    // Correctly signed, but not the event the headers claim: 400, nothing stored.
    let c400: Vec<(&str, &str, Vec<u8>)> = vec![
        ("empty body", "pull_request_comment", vec![]),
        (
            "not JSON",
            "pull_request_comment",
            b"{\"action\": ".to_vec(),
        ),
        ("trailing garbage", "pull_request", {
            let mut b = serde_json::to_vec(&pr).unwrap();
            b.extend_from_slice(b" }{");
            b
        }),
        ("an array", "pull_request", b"[]".to_vec()),
        ("a string", "pull_request", b"\"pull_request\"".to_vec()),
        ("null", "pull_request_review_approved", b"null".to_vec()),
        ("invalid UTF-8 in a string", "pull_request_comment", {
            let mut b = br#"{"action": "created", "comment": {"body": ""#.to_vec();
            b.extend_from_slice(&[0xff, 0xfe]);
            b.extend_from_slice(br#""}}"#);
            b
        }),
        (
            "a lone surrogate",
            "pull_request_comment",
            String::from_utf8(with(&comment, "comment.body", Some(json!("X"))))
                .unwrap()
                .replace("\"X\"", "\"\\ud800\"")
                .into_bytes(),
        ),
        (
            "number as a string",
            "pull_request_comment",
            with(&comment, "issue.number", Some(json!("seven"))),
        ),
        (
            "negative number",
            "pull_request_comment",
            with(&comment, "issue.number", Some(json!(-3))),
        ),
        (
            "zero",
            "pull_request_comment",
            with(&comment, "issue.number", Some(json!(0))),
        ),
        (
            "1e30",
            "pull_request_comment",
            with(&comment, "issue.number", Some(huge_number.clone())),
        ),
        (
            "2^64",
            "pull_request",
            String::from_utf8(with(&pr, "pull_request.number", Some(json!("N"))))
                .unwrap()
                .replace("\"N\"", "18446744073709551616")
                .into_bytes(),
        ),
        (
            "comment id as a string",
            "pull_request_comment",
            with(&comment, "comment.id", Some(json!("x"))),
        ),
        (
            "body as a number",
            "pull_request_comment",
            with(&comment, "comment.body", Some(json!(5))),
        ),
        (
            "body null",
            "pull_request_comment",
            with(&comment, "comment.body", Some(Value::Null)),
        ),
        (
            "no comment",
            "pull_request_comment",
            with(&comment, "comment", None),
        ),
        (
            "no repository",
            "pull_request_comment",
            with(&comment, "repository", None),
        ),
        (
            "repository not owner/name",
            "pull_request_comment",
            with(&comment, "repository.full_name", Some(json!("widgets"))),
        ),
        (
            "repository name empty",
            "pull_request",
            with(&pr, "repository.full_name", Some(json!(""))),
        ),
        (
            "action a number",
            "pull_request",
            with(&pr, "action", Some(json!(5))),
        ),
        (
            "no head sha",
            "pull_request",
            with(&pr, "pull_request.head.sha", None),
        ),
        (
            "head sha an object",
            "pull_request",
            with(&pr, "pull_request.head.sha", Some(json!({"sha": "x"}))),
        ),
        (
            "review without a PR number",
            "pull_request_review_approved",
            with(&review, "pull_request", None),
        ),
        (
            "deep nesting",
            "pull_request_comment",
            format!("{{\"action\": {}}}", nested(20_000, "1")).into_bytes(),
        ),
        (
            "deep nesting in a field",
            "pull_request_comment",
            String::from_utf8(with(&comment, "comment.body", Some(json!("X"))))
                .unwrap()
                .replace("\"X\"", &nested(5_000, "\"x\""))
                .into_bytes(),
        ),
        (
            "deep nesting in a status (parsed since Gitea 1.23 sends it)",
            "status",
            nested(20_000, "").into_bytes(),
        ),
    ];
    for (what, event_type, body) in c400 {
        assert!(body.len() <= LIMIT, "{what}: {} bytes", body.len());
        let (status, answer) = signed(&c, event_type, body).await;
        assert_eq!(status, 400, "{what}: {answer}");
    }
    assert_eq!(stored(&c).await, 0, "a 400 stored something");

    // What sopbot does not act on: 200 and nothing read beyond what decides it.
    let c200: Vec<(&str, &str, Vec<u8>)> = vec![
        (
            "unknown event type, garbage body",
            "wiki",
            b"\x00\xff not json".to_vec(),
        ),
        (
            "deep nesting in an ignored event",
            "push",
            nested(20_000, "").into_bytes(),
        ),
        (
            "unknown comment action",
            "pull_request_comment",
            with(&comment, "action", Some(json!("frobbed"))),
        ),
        (
            "another repository",
            "pull_request",
            with(&pr, "repository.full_name", Some(json!("acme/gadgets"))),
        ),
    ];
    for (what, event_type, body) in c200 {
        let (status, answer) = signed(&c, event_type, body).await;
        assert_eq!(status, 200, "{what}: {answer}");
        assert!(answer.starts_with("ignored: "), "{what}: {answer}");
    }
    assert_eq!(stored(&c).await, 0, "a 200 stored something");

    // Over the body limit: 413, however it is made.
    for (what, body) in [
        (
            "a huge comment",
            with(&comment, "comment.body", Some(json!("x".repeat(LIMIT)))),
        ),
        (
            "deep nesting over the limit",
            nested(40_000, "").into_bytes(),
        ),
        ("one byte over", vec![b' '; LIMIT + 1]),
    ] {
        let (status, answer) = signed(&c, "pull_request_comment", body).await;
        assert_eq!(status, 413, "{what}: {answer}");
    }
    // A large comment under the limit is an ordinary comment.
    let big = dave_says(&c, &format!("{}\n/refire", "lorem ipsum ".repeat(4000)));
    assert!(big.body.len() < LIMIT);
    assert_eq!(c.bot.deliver(&big).await, (202, "queued".to_string()));

    // Signatures: checked before anything else is read.
    let d = dave_says(&c, "/refire qa");
    let good = raw(&d.signed_headers(SECRET));
    let replace = |name: &str, value: &[u8]| -> Headers {
        good.iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    if k == name { value.to_vec() } else { v.clone() },
                )
            })
            .collect()
    };
    let only = |content_type: &str, pairs: &[(&str, String)]| -> Headers {
        let mut h = raw(&[
            ("Content-Type".to_string(), content_type.to_string()),
            ("X-Gitea-Event".to_string(), "issue_comment".to_string()),
            (
                "X-Gitea-Event-Type".to_string(),
                "pull_request_comment".to_string(),
            ),
        ]);
        h.extend(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone().into_bytes())),
        );
        h
    };
    let json = "application/json";
    let sig = d.signature(SECRET);
    let other = Delivery::new("issue_comment", "pull_request_comment", b"{}".to_vec());
    let c401: Vec<(&str, Headers, Vec<u8>)> = vec![
        ("unsigned", only(json, &[]), d.body.clone()),
        (
            "empty signatures, as a hook without a secret sends",
            raw(&d.signed_headers("")),
            d.body.clone(),
        ),
        (
            "another secret",
            raw(&d.signed_headers("guess")),
            d.body.clone(),
        ),
        (
            "a signature replayed on another body",
            good.clone(),
            other.body.clone(),
        ),
        (
            "truncated",
            only(json, &[("X-Gitea-Signature", sig[..40].to_string())]),
            d.body.clone(),
        ),
        (
            "not hex",
            only(json, &[("X-Gitea-Signature", "z".repeat(64))]),
            d.body.clone(),
        ),
        (
            "sha256= where a bare hex is due",
            only(json, &[("X-Gitea-Signature", format!("sha256={sig}"))]),
            d.body.clone(),
        ),
        (
            "bare hex where sha256= is due",
            only(json, &[("X-Hub-Signature-256", sig.clone())]),
            d.body.clone(),
        ),
        (
            "one good, one bad",
            replace("X-Gogs-Signature", "0".repeat(64).as_bytes()),
            d.body.clone(),
        ),
        (
            "invalid UTF-8 in the signature",
            replace("X-Gitea-Signature", &[0xff; 64]),
            d.body.clone(),
        ),
        (
            "form-encoded",
            only(
                "application/x-www-form-urlencoded",
                &[("X-Gitea-Signature", sig.clone())],
            ),
            format!("payload={}", String::from_utf8_lossy(&d.body)).into_bytes(),
        ),
    ];
    for (what, headers, body) in c401 {
        let (status, answer) = post_raw(&c, &headers, body).await;
        assert_eq!(status, 401, "{what}: {answer}");
    }
    assert_eq!(stored(&c).await, 1, "a 401 stored something");

    // Invalid UTF-8 where sopbot only reads: the delivery id is dropped, the event type is
    // taken from the next header that carries it, and with none readable the delivery is
    // ignored.
    let (status, answer) = post_raw(
        &c,
        &replace("X-Gitea-Delivery", b"\xff\xfe-delivery"),
        d.body.clone(),
    )
    .await;
    assert_eq!((status, answer.as_str()), (202, "queued"));
    let unreadable: Headers = good
        .iter()
        .map(|(k, v)| {
            let v = if k.to_ascii_lowercase().contains("event") {
                b"pull_request_comment\xff".to_vec()
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect();
    let (status, answer) = post_raw(&c, &unreadable, d.body.clone()).await;
    assert_eq!(status, 200, "{answer}");

    // Replays: the same delivery again, and again under a new delivery id (Gitea's
    // "redeliver"): stored once, answered once.
    assert_eq!(c.bot.deliver(&d).await, (202, "duplicate".to_string()));
    let mut again = d.clone();
    again.delivery_id = "redelivered-1".into();
    assert_eq!(c.bot.deliver(&again).await, (202, "duplicate".to_string()));
    assert_eq!(stored(&c).await, 2);

    // Upper-case hex is the same signature.
    let e = dave_says(&c, "/refire security");
    let upper: Headers = raw(&e.signed_headers(SECRET))
        .into_iter()
        .map(|(k, v)| {
            let v = if k == "X-Gitea-Signature" {
                v.to_ascii_uppercase()
            } else {
                v
            };
            (k, v)
        })
        .collect();
    assert_eq!(
        post_raw(&c, &upper, e.body.clone()).await,
        (202, "queued".to_string())
    );

    // Not the webhook route, or not HTTP at all.
    let url = c.bot.url().to_string();
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(format!("{url}/webhook"))
            .send()
            .await
            .unwrap()
            .status(),
        405
    );
    assert_eq!(
        http.put(format!("{url}/webhook"))
            .send()
            .await
            .unwrap()
            .status(),
        405
    );
    assert_eq!(
        http.post(format!("{url}/webhooks"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let addr = url.trim_start_matches("http://").to_string();
    for junk in [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 a TLS hello".to_vec(),
        b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"short\":".to_vec(),
        b"GARBAGE\r\n\r\n".to_vec(),
    ] {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(&junk).await.unwrap();
        let _ = s.shutdown().await;
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut answer)).await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 4"),
            "{answer}"
        );
    }

    // Still serving, and it did what the accepted deliveries asked: three
    // command comments, three replies.
    expect_serving(&c).await;
    assert_eq!(stored(&c).await, 3);
    let log = || c.log();
    wait_for("three replies", Duration::from_secs(20), log, || {
        let n = c.emu.with_world(|w| {
            w.comments("widgets", 7)
                .iter()
                .filter(|x| x.user.as_deref() == Some("sopbot"))
                .count()
        });
        (n >= 3).then_some(())
    })
    .await;
    expect_serving(&c).await;
}

/// A real payload of each kind sopbot decodes, with its event type.
fn samples() -> Vec<(&'static str, Vec<u8>)> {
    let mut w = World::example().with_user("dave");
    let id = w.comment("widgets", 7, "dave", "/sop-n/a qa docs only");
    w.review("widgets", 7, "bob", "APPROVED", "ok");
    w.push("widgets", 7);
    vec![
        (
            "pull_request_comment",
            w.webhook_for_comment("widgets", 7, id, "created").body,
        ),
        (
            "pull_request",
            w.webhook_for_pr("widgets", 7, "opened").body,
        ),
        (
            "pull_request_sync",
            w.webhook_for_pr("widgets", 7, "synchronized").body,
        ),
        (
            "pull_request_review_approved",
            w.webhook_for_review("widgets", 7, "bob", "approved").body,
        ),
    ]
}

const EVENT_TYPES: [&str; 8] = [
    "pull_request_comment",
    "pull_request",
    "pull_request_sync",
    "pull_request_review_approved",
    "pull_request_review_rejected",
    "issue_comment",
    "status",
    "",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any bytes, any event type: an answer, never a panic.
    #[test]
    fn decoding_random_bytes_never_panics(
        kind in 0..EVENT_TYPES.len(),
        body in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let _ = decode(EVENT_TYPES[kind], &body);
        let _ = decode_coarse(EVENT_TYPES[kind], &body);
    }

    /// Real payloads with bytes flipped, cut or spliced: an answer, never a panic; and a
    /// payload that still decodes to an event has a dedup key and serialises.
    #[test]
    fn decoding_mutated_payloads_never_panics(
        sample in 0..4usize,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let (event_type, mut body) = samples().swap_remove(sample);
        for (at, byte) in flips {
            let i = at.index(body.len());
            body[i] = byte;
        }
        if truncate {
            body.truncate(cut.index(body.len() + 1));
        }
        if let Ok(sopbot::gitea::webhook::Decoded::Event(e)) = decode(event_type, &body) {
            prop_assert!(!e.dedup_key().is_empty());
            let _ = e.to_json();
        }
    }

    /// JSON values of any shape at the places the decoder reads: an answer, never a panic.
    #[test]
    fn decoding_odd_values_never_panics(
        sample in 0..4usize,
        path in prop::sample::select(vec![
            "action", "number", "is_pull", "issue", "issue.number", "issue.pull_request",
            "comment", "comment.id", "comment.body", "comment.user", "comment.updated_at",
            "repository", "repository.full_name", "pull_request", "pull_request.head",
            "pull_request.head.sha", "pull_request.merged", "sender", "changes",
        ]),
        value in prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
            ".{0,40}".prop_map(Value::from),
            Just(json!([])),
            Just(json!({})),
            Just(json!({"login": 5, "sha": null})),
        ],
    ) {
        let (event_type, body) = samples().swap_remove(sample);
        let v: Value = serde_json::from_slice(&body).unwrap();
        let mut v = v;
        let mut at = &mut v;
        let parts: Vec<&str> = path.split('.').collect();
        for p in &parts[..parts.len() - 1] {
            if !at.get(*p).is_some_and(Value::is_object) {
                at[*p] = json!({});
            }
            at = &mut at[*p];
        }
        at[parts[parts.len() - 1]] = value;
        let _ = decode(event_type, &serde_json::to_vec(&v).unwrap());
    }
}
