//! Decoding of the recorded Gitea deliveries (`tests/gitea-emu/fixtures/gitea/webhooks/`) and
//! of payloads edited from them; the signature check.

use super::*;
use axum::http::HeaderValue;
use proptest::prelude::*;
use serde_json::Value;
use sha2::Digest;
use std::path::PathBuf;

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/gitea-emu/fixtures/gitea/webhooks")
}

/// The example body and the header set Gitea sent with it.
fn example(file: &str) -> (Vec<u8>, serde_json::Map<String, Value>) {
    let dir = examples_dir();
    let headers: Value =
        serde_json::from_slice(&std::fs::read(dir.join("headers.json")).unwrap()).unwrap();
    let h = headers[file].as_object().unwrap().clone();
    (std::fs::read(dir.join(file)).unwrap(), h)
}

fn decode_example(file: &str) -> Decoded {
    let (body, h) = example(file);
    decode(h["X-Gitea-Event-Type"].as_str().unwrap(), &body).unwrap()
}

fn event_of(file: &str) -> Event {
    match decode_example(file) {
        Decoded::Event(e) => e,
        other => panic!("{file}: {other:?}"),
    }
}

fn t(s: &str) -> Option<DateTime<Utc>> {
    Some(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc))
}

const REFIRE: &str = "Team membership was fixed, re-checking.\n/refire qa";

#[test]
fn every_example_file_is_covered() {
    let mut files: Vec<String> = std::fs::read_dir(examples_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|f| f.ends_with(".json") && f != "headers.json")
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "issue_comment_created.json",
            "issue_comment_deleted.json",
            "issue_comment_edited.json",
            "pull_request_closed_merged.json",
            "pull_request_opened.json",
            "pull_request_review_approved.json",
            "pull_request_review_rejected.json",
            "pull_request_review_request.json",
            "pull_request_synchronized.json",
            "status_success_by_hand.json",
        ]
    );
    for f in &files {
        assert!(matches!(decode_example(f), Decoded::Event(_)), "{f}");
    }
}

#[test]
fn review_request_is_a_review_request_event() {
    let e = event_of("pull_request_review_request.json");
    assert_eq!(
        e,
        Event::ReviewRequest {
            repo: "acme/widgets".into(),
            pr: PrNumber(7),
            removed: false,
            reviewer: Some("carol".into()),
            updated_at: t("2026-03-03T10:40:09Z"),
        }
    );
    assert_eq!(e.kind_name(), "review_request");
    assert_eq!(e.pr(), Some(PrNumber(7)));
    assert_eq!(
        e.dedup_key(),
        "review_request:acme/widgets:7:requested:carol:2026-03-03T10:40:09Z"
    );
    let (body, _) = example("pull_request_review_request.json");
    let text = String::from_utf8(body).unwrap().replacen(
        "\"action\": \"review_requested\"",
        "\"action\": \"review_request_removed\"",
        1,
    );
    let Decoded::Event(removed) = decode("pull_request_review_request", text.as_bytes()).unwrap()
    else {
        panic!("ignored")
    };
    assert!(matches!(
        removed,
        Event::ReviewRequest { removed: true, .. }
    ));
    assert_ne!(removed.dedup_key(), e.dedup_key());
    // Only the coarse header: `pull_request` with the review-request action.
    assert_eq!(
        decode_coarse("pull_request", text.as_bytes()).unwrap(),
        Decoded::Event(removed)
    );
}

#[test]
fn status_is_a_status_event_without_a_pr() {
    let e = event_of("status_success_by_hand.json");
    assert_eq!(
        e,
        Event::Status {
            repo: "acme/widgets".into(),
            sha: "e4e6e9ec6e81c321e9cb30e1d44458c60d5ecafe".into(),
            context: "qa-review / approved".into(),
            state: "success".into(),
            id: 41,
            sender: Some("alice".into()),
        }
    );
    assert_eq!((e.kind_name(), e.pr()), ("status", None));
    assert_eq!(
        e.dedup_key(),
        "status:acme/widgets:e4e6e9ec6e81c321e9cb30e1d44458c60d5ecafe:qa-review / approved:41"
    );
    let (body, _) = example("status_success_by_hand.json");
    assert_eq!(decode_coarse("status", &body).unwrap(), Decoded::Event(e));
    let bad = String::from_utf8(body).unwrap().replace(
        "\"sha\": \"e4e6e9ec6e81c321e9cb30e1d44458c60d5ecafe\"",
        "\"sha\": \"../etc\"",
    );
    assert_eq!(
        decode("status", bad.as_bytes()).unwrap_err().field(),
        Some("sha")
    );
}

#[test]
fn pr_comment_created_is_a_comment_event() {
    let e = event_of("issue_comment_created.json");
    assert_eq!(
        e,
        Event::Comment {
            repo: "acme/widgets".into(),
            pr: PrNumber(7),
            comment_id: 1042,
            action: CommentAction::Created,
            author: Some("bob".into()),
            body: REFIRE.into(),
            updated_at: t("2026-03-02T14:03:27Z"),
            sender: Some("bob".into()),
        }
    );
    assert_eq!(e.kind_name(), "comment");
    assert_eq!((e.repo(), e.pr()), ("acme/widgets", Some(PrNumber(7))));
    assert_eq!(
        e.dedup_key(),
        format!(
            "comment:acme/widgets:1042:created:{}",
            hex::encode(Sha256::digest(REFIRE))
        )
    );
}

#[test]
fn edited_comment_carries_the_new_body_and_a_new_key() {
    let created = event_of("issue_comment_created.json");
    let edited = event_of("issue_comment_edited.json");
    let Event::Comment {
        action,
        body,
        comment_id,
        updated_at,
        ..
    } = &edited
    else {
        panic!("{edited:?}")
    };
    assert_eq!(*action, CommentAction::Edited);
    assert_eq!(*comment_id, 1042);
    assert!(body.ends_with("/refire qa security"));
    assert_eq!(*updated_at, t("2026-03-02T14:05:02Z"));
    assert_ne!(created.dedup_key(), edited.dedup_key());
    assert!(edited
        .dedup_key()
        .starts_with("comment:acme/widgets:1042:edited:"));
}

#[test]
fn deleted_comment_keeps_author_and_body() {
    let e = event_of("issue_comment_deleted.json");
    let Event::Comment {
        action,
        author,
        body,
        comment_id,
        ..
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!(*action, CommentAction::Deleted);
    assert_eq!(author.as_deref(), Some("carol"));
    assert_eq!(*comment_id, 1047);
    assert_eq!(body, "/sop-n/a security-review — docs-only change");
}

#[test]
fn pull_request_examples() {
    assert_eq!(
        event_of("pull_request_opened.json"),
        Event::PullRequest {
            repo: "acme/widgets".into(),
            pr: PrNumber(7),
            action: PrAction::Opened,
            merged: false,
            head_sha: "a13c339ad9f05d355c00842a246adb36420e01d6".into(),
            updated_at: t("2026-03-02T10:15:04Z"),
        }
    );
    let sync = event_of("pull_request_synchronized.json");
    assert_eq!(
        sync.dedup_key(),
        "pr:acme/widgets:7:synchronized:e4e6e9ec6e81c321e9cb30e1d44458c60d5ecafe:\
         2026-03-03T09:02:18Z"
    );
    let merged = event_of("pull_request_closed_merged.json");
    assert!(matches!(
        merged,
        Event::PullRequest {
            action: PrAction::Closed,
            merged: true,
            ..
        }
    ));
    assert_eq!(merged.kind_name(), "pull_request");
}

#[test]
fn review_examples() {
    let approved = event_of("pull_request_review_approved.json");
    assert_eq!(
        approved,
        Event::Review {
            repo: "acme/widgets".into(),
            pr: PrNumber(7),
            reviewer: Some("bob".into()),
            verdict: ReviewVerdict::Approved,
            updated_at: t("2026-03-03T10:40:09Z"),
        }
    );
    assert_eq!(
        approved.dedup_key(),
        "review:acme/widgets:7:bob:approved:2026-03-03T10:40:09Z"
    );
    let rejected = event_of("pull_request_review_rejected.json");
    assert!(matches!(
        &rejected,
        Event::Review { reviewer: Some(r), verdict: ReviewVerdict::Rejected, .. } if r == "carol"
    ));
    assert_eq!(rejected.kind_name(), "review");
}

#[test]
fn coarse_event_header_gives_the_same_events() {
    for file in [
        "issue_comment_created.json",
        "issue_comment_edited.json",
        "issue_comment_deleted.json",
        "pull_request_opened.json",
        "pull_request_synchronized.json",
        "pull_request_closed_merged.json",
        "pull_request_review_approved.json",
        "pull_request_review_rejected.json",
    ] {
        let (body, h) = example(file);
        let coarse = decode_coarse(h["X-Gitea-Event"].as_str().unwrap(), &body).unwrap();
        assert_eq!(coarse, decode_example(file), "{file}");
    }
    assert_eq!(
        decode_coarse("pull_request_comment", b"not even json"),
        Ok(Decoded::Ignored("review comment"))
    );
}

fn modified(file: &str, edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let (body, _) = example(file);
    let mut v: Value = serde_json::from_slice(&body).unwrap();
    edit(&mut v);
    serde_json::to_vec(&v).unwrap()
}

#[test]
fn plain_issue_comments_are_ignored() {
    let body = modified("issue_comment_created.json", |v| {
        v["issue"]["pull_request"] = Value::Null;
        v["is_pull"] = Value::Bool(false);
        v.as_object_mut().unwrap().remove("pull_request");
    });
    assert!(matches!(
        decode("issue_comment", &body),
        Ok(Decoded::Ignored(_))
    ));
    assert!(matches!(
        decode_coarse("issue_comment", &body),
        Ok(Decoded::Ignored(_))
    ));
    assert!(matches!(
        decode("pull_request_comment", &body),
        Ok(Decoded::Ignored(_))
    ));
    // Gitea before 1.25: no top-level pull_request, but is_pull says it is a PR.
    let old = modified("issue_comment_created.json", |v| {
        v["issue"]["pull_request"] = Value::Null;
        v.as_object_mut().unwrap().remove("pull_request");
    });
    assert!(matches!(
        decode("pull_request_comment", &old),
        Ok(Decoded::Event(Event::Comment {
            pr: PrNumber(7),
            ..
        }))
    ));
}

#[test]
fn null_users_are_tolerated() {
    let body = modified("issue_comment_created.json", |v| {
        v["comment"]["user"] = Value::Null;
        v["sender"] = Value::Null;
    });
    assert!(matches!(
        decode("pull_request_comment", &body),
        Ok(Decoded::Event(Event::Comment { author: None, .. }))
    ));
    let body = modified("pull_request_review_approved.json", |v| {
        v["sender"] = Value::Null;
    });
    assert!(matches!(
        decode("pull_request_review_approved", &body),
        Ok(Decoded::Event(Event::Review { reviewer: Some(r), .. })) if r == "bob"
    ));
    let body = modified("pull_request_review_approved.json", |v| {
        v["sender"] = Value::Null;
        v["requested_reviewer"] = Value::Null;
    });
    let Ok(Decoded::Event(e)) = decode("pull_request_review_approved", &body) else {
        panic!()
    };
    assert_eq!(
        e.dedup_key(),
        "review:acme/widgets:7::approved:2026-03-03T10:40:09Z"
    );
}

#[test]
fn edits_count_only_when_the_base_changes() {
    let title = modified("pull_request_opened.json", |v| {
        v["action"] = "edited".into();
        v["changes"] = serde_json::json!({"title": {"from": "old"}});
    });
    assert!(matches!(
        decode("pull_request", &title),
        Ok(Decoded::Ignored(_))
    ));
    let base = modified("pull_request_opened.json", |v| {
        v["action"] = "edited".into();
        v["changes"] = serde_json::json!({"ref": {"from": "develop"}});
    });
    assert!(matches!(
        decode("pull_request", &base),
        Ok(Decoded::Event(Event::PullRequest {
            action: PrAction::BaseChanged,
            ..
        }))
    ));
}

#[test]
fn other_actions_and_types_are_ignored_without_parsing() {
    let labelled = modified("pull_request_opened.json", |v| {
        v["action"] = "label_updated".into();
    });
    assert!(matches!(
        decode("pull_request", &labelled),
        Ok(Decoded::Ignored(_))
    ));
    for ty in [
        "pull_request_review_comment",
        "pull_request_label",
        "pull_request_assign",
        "pull_request_milestone",
        "push",
        "issue_comment",
        "",
        "something_new",
    ] {
        assert!(
            matches!(decode(ty, b"\xff not json"), Ok(Decoded::Ignored(_))),
            "{ty}"
        );
    }
}

#[test]
fn malformed_payloads_name_what_is_missing() {
    assert!(matches!(
        decode("pull_request_comment", b"{"),
        Err(DecodeError::NotJson { .. })
    ));
    assert_eq!(decode("pull_request", b"[]"), Err(DecodeError::NotObject));
    let no_comment = modified("issue_comment_created.json", |v| {
        v.as_object_mut().unwrap().remove("comment");
    });
    let err = decode("pull_request_comment", &no_comment).unwrap_err();
    assert_eq!(err.field(), Some("comment"));
    assert_eq!(
        err.to_string(),
        "pull_request_comment payload has no `comment`"
    );
    let no_body = modified("issue_comment_created.json", |v| {
        v["comment"].as_object_mut().unwrap().remove("body");
    });
    assert_eq!(
        decode("pull_request_comment", &no_body)
            .unwrap_err()
            .field(),
        Some("comment.body")
    );
    let no_head = modified("pull_request_synchronized.json", |v| {
        v["pull_request"]["head"] = Value::Null;
    });
    assert_eq!(
        decode("pull_request_sync", &no_head).unwrap_err().field(),
        Some("pull_request.head.sha")
    );
    let no_pr = modified("pull_request_review_approved.json", |v| {
        v.as_object_mut().unwrap().remove("pull_request");
    });
    assert_eq!(
        decode("pull_request_review_approved", &no_pr)
            .unwrap_err()
            .to_string(),
        "pull_request_review_approved payload has no `pull_request`"
    );
    let bad_number = modified("issue_comment_created.json", |v| {
        v["issue"]["number"] = (-3).into();
    });
    assert_eq!(
        decode("pull_request_comment", &bad_number)
            .unwrap_err()
            .field(),
        Some("issue.number")
    );
    let bad_repo = modified("pull_request_opened.json", |v| {
        v["repository"]["full_name"] = "widgets".into();
    });
    assert_eq!(
        decode("pull_request", &bad_repo).unwrap_err().field(),
        Some("repository.full_name")
    );
}

#[test]
fn times_in_other_zones_give_the_same_key() {
    let utc = event_of("pull_request_synchronized.json");
    let body = modified("pull_request_synchronized.json", |v| {
        v["pull_request"]["updated_at"] = "2026-03-03T11:02:18+02:00".into();
    });
    let Ok(Decoded::Event(zoned)) = decode("pull_request_sync", &body) else {
        panic!()
    };
    assert_eq!(utc.dedup_key(), zoned.dedup_key());
}

#[test]
fn the_json_form_is_tagged_by_kind_and_round_trips() {
    for file in [
        "issue_comment_created.json",
        "pull_request_closed_merged.json",
        "pull_request_review_rejected.json",
    ] {
        let e = event_of(file);
        let json: Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(json["kind"], e.kind_name());
        assert_eq!(serde_json::from_value::<Event>(json).unwrap(), e);
    }
    let r = Event::Reevaluate {
        repo: "acme/widgets".into(),
        pr: PrNumber(7),
        why: "poll".into(),
        fingerprint: None,
    };
    assert_eq!(
        r.to_json(),
        r#"{"kind":"reevaluate","repo":"acme/widgets","pr":7,"why":"poll","fingerprint":null}"#
    );
    assert_eq!(r.dedup_key(), "reeval:acme/widgets:7:poll");
    let without_field: Event =
        serde_json::from_str(r#"{"kind":"reevaluate","repo":"a/b","pr":1,"why":"cli"}"#).unwrap();
    assert!(matches!(
        without_field,
        Event::Reevaluate {
            fingerprint: None,
            ..
        }
    ));
    let fp = Event::Reevaluate {
        repo: "acme/widgets".into(),
        pr: PrNumber(7),
        why: "reviews changed".into(),
        fingerprint: Some("f00d".into()),
    };
    assert_eq!(fp.dedup_key(), "reeval:acme/widgets:7:reviews changed:f00d");
    assert_eq!(
        event_of("pull_request_review_approved.json").to_json(),
        r#"{"kind":"review","repo":"acme/widgets","pr":7,"reviewer":"bob","verdict":"approved","updated_at":"2026-03-03T10:40:09Z"}"#
    );
}

#[test]
fn with_repo_respells_the_repository() {
    let e = event_of("pull_request_opened.json").with_repo("Acme/Widgets");
    assert_eq!(e.repo(), "Acme/Widgets");
    assert!(e.dedup_key().starts_with("pr:Acme/Widgets:7:opened:"));
}

const TYPES: [&str; 6] = [
    "pull_request_comment",
    "pull_request",
    "pull_request_sync",
    "pull_request_review_approved",
    "pull_request_review_rejected",
    "issue_comment",
];

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        "(2026-03-0[0-9]T[0-9:]{8}(Z|[+-][0-9]{2}:[0-9]{2}))".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("action".to_string()),
                    Just("number".to_string()),
                    Just("is_pull".to_string()),
                    Just("issue".to_string()),
                    Just("comment".to_string()),
                    Just("pull_request".to_string()),
                    Just("repository".to_string()),
                    Just("sender".to_string()),
                    Just("changes".to_string()),
                    Just("head".to_string()),
                    Just("user".to_string()),
                    Just("login".to_string()),
                    Just("full_name".to_string()),
                    Just("id".to_string()),
                    Just("body".to_string()),
                    Just("sha".to_string()),
                    Just("ref".to_string()),
                    Just("updated_at".to_string()),
                    ".{0,6}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn decode_never_panics_on_bytes(body in prop::collection::vec(any::<u8>(), 0..512)) {
        for ty in TYPES {
            let _ = decode(ty, &body);
            let _ = decode_coarse(ty, &body);
        }
    }

    #[test]
    fn decode_never_panics_on_json(value in any_json()) {
        let body = serde_json::to_vec(&value).unwrap();
        for ty in TYPES {
            if let Ok(Decoded::Event(e)) = decode(ty, &body) {
                let _ = e.dedup_key();
                prop_assert!(serde_json::from_str::<Event>(&e.to_json()).is_ok());
            }
            let _ = decode_coarse(ty, &body);
        }
    }

    #[test]
    fn decode_never_panics_on_mutated_examples(
        file in prop::sample::select(vec![
            "issue_comment_created.json",
            "pull_request_synchronized.json",
            "pull_request_review_approved.json",
            "pull_request_closed_merged.json",
        ]),
        path in prop::sample::select(vec![
            "action", "number", "is_pull", "issue", "issue.number", "issue.pull_request",
            "comment", "comment.id", "comment.body", "comment.user", "comment.updated_at",
            "pull_request", "pull_request.head", "pull_request.head.sha",
            "pull_request.number", "pull_request.merged", "pull_request.updated_at",
            "repository", "repository.full_name", "sender", "changes",
        ]),
        replacement in any_json(),
    ) {
        let body = modified(file, |v| {
            let mut target = v;
            for key in path.split('.') {
                target = &mut target[key];
            }
            *target = replacement;
        });
        for ty in TYPES {
            let _ = decode(ty, &body);
        }
    }
}

#[test]
fn errors_name_the_nested_field_and_what_is_wrong() {
    let no_body = modified("issue_comment_created.json", |v| {
        v["comment"].as_object_mut().unwrap().remove("body");
    });
    assert_eq!(
        decode("pull_request_comment", &no_body)
            .unwrap_err()
            .to_string(),
        "pull_request_comment payload has no `comment.body`"
    );
    let null_body = modified("issue_comment_created.json", |v| {
        v["comment"]["body"] = Value::Null;
    });
    let err = decode("pull_request_comment", &null_body).unwrap_err();
    assert_eq!(err.field(), Some("comment.body"));
    assert!(
        err.to_string().starts_with(
            "pull_request_comment payload has an invalid `comment.body`: invalid type: null, \
             expected a string"
        ),
        "{err}"
    );
    let no_sha = modified("pull_request_synchronized.json", |v| {
        v["pull_request"]["head"]
            .as_object_mut()
            .unwrap()
            .remove("sha");
    });
    assert_eq!(
        decode("pull_request_sync", &no_sha)
            .unwrap_err()
            .to_string(),
        "pull_request_sync payload has no `pull_request.head.sha`"
    );
    let string_id = modified("status_success_by_hand.json", |v| {
        v["id"] = "41".into();
    });
    let err = decode("status", &string_id).unwrap_err();
    assert_eq!(err.field(), Some("id"));
    // Only the first thing wrong is named; a body that is not JSON says so, field or not.
    assert!(matches!(
        decode(
            "pull_request_comment",
            br#"{"comment": {"body": "\ud800"}}"#
        ),
        Err(DecodeError::NotJson { .. })
    ));
    assert!(matches!(
        decode("status", b"[1,"),
        Err(DecodeError::NotJson { .. })
    ));
    assert_eq!(decode("status", b" null "), Err(DecodeError::NotObject));
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(*k, HeaderValue::from_str(v).unwrap());
    }
    h
}

#[test]
fn signatures() {
    let secret = Secret::new("s3cret");
    let body = br#"{"a":1}"#;
    let good = sign("s3cret", body);
    let check = |pairs: &[(&'static str, &str)]| verify_signature(&secret, &headers(pairs), body);
    assert_eq!(check(&[("X-Gitea-Signature", &good)]), Ok(()));
    assert_eq!(check(&[("x-forgejo-signature", &good)]), Ok(()));
    assert_eq!(
        check(&[("X-Gitea-Signature", &good.to_uppercase())]),
        Ok(())
    );
    let hub = format!("sha256={good}");
    assert_eq!(check(&[("X-Hub-Signature-256", &hub)]), Ok(()));
    // Gitea's placeholders for a hook without a secret.
    assert_eq!(
        check(&[
            ("X-Gitea-Signature", ""),
            ("X-Hub-Signature-256", "sha256=")
        ]),
        Err(SignatureProblem::Missing)
    );
    assert_eq!(check(&[]), Err(SignatureProblem::Missing));
    assert_eq!(
        check(&[("X-Hub-Signature-256", &good)]),
        Err(SignatureProblem::Bad),
        "the sha256= prefix is required"
    );
    assert_eq!(
        check(&[("X-Gitea-Signature", "zz")]),
        Err(SignatureProblem::Bad)
    );
    assert_eq!(
        check(&[("X-Gitea-Signature", &good[..32])]),
        Err(SignatureProblem::Bad)
    );
    assert_eq!(
        check(&[("X-Gitea-Signature", &sign("other", body))]),
        Err(SignatureProblem::Bad)
    );
    // One wrong header spoils a right one.
    assert_eq!(
        check(&[
            ("X-Gitea-Signature", &good),
            ("X-Hub-Signature-256", "sha256=00")
        ]),
        Err(SignatureProblem::Bad)
    );
}

#[test]
fn header_values_are_trimmed_and_cut() {
    let long = "d".repeat(500);
    let h = headers(&[
        ("X-GitHub-Delivery", &long),
        ("x-gitea-event", " pull_request "),
    ]);
    assert_eq!(delivery_id(&h).unwrap().len(), MAX_HEADER_ECHO);
    assert_eq!(event_name(&h).as_deref(), Some("pull_request"));
    assert_eq!(first_header(&h, &EVENT_TYPE_HEADERS), None);
}
