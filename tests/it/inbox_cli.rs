//! `sopbot inbox list|retry|prune` on a real database: failed events are listed and can be
//! queued again; pruning deletes only handled events.

use crate::support as common;

use assert_cmd::Command;
use predicates::prelude::*;
use sopbot::store::{EventSource, NewEvent, Store};

fn event(n: i64) -> NewEvent {
    NewEvent {
        dedup_key: format!("test:{n}"),
        source: EventSource::Poller,
        kind: "reevaluate".into(),
        repo: "acme/widgets".into(),
        pr: Some(n),
        delivery_id: None,
        payload: "{}".into(),
    }
}

fn sopbot(config: &std::path::Path) -> Command {
    let mut cmd = Command::cargo_bin("sopbot").unwrap();
    cmd.arg("--config").arg(config);
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_events_are_listed_retried_and_done_ones_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::write_config(dir.path(), "[database]\npath = \"sopbot.db\"\n");
    let store = Store::open(&dir.path().join("sopbot.db")).await.unwrap();
    for n in 1..=3 {
        store.enqueue(&event(n)).await.unwrap();
    }
    // 1: failed for good; 2: done; 3: pending.
    let first = store.claim_next().await.unwrap().unwrap();
    store
        .mark_failed(first.id, "GET /repos/acme/widgets answered 500", None)
        .await
        .unwrap();
    let second = store.claim_next().await.unwrap().unwrap();
    store.mark_done(second.id).await.unwrap();
    store.close().await;

    let out = sopbot(&config)
        .args(["inbox", "list"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(
        text.contains("failed") && text.contains("answered 500"),
        "{text}"
    );

    let out = sopbot(&config)
        .args(["inbox", "list", "--state", "all", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["events"].as_array().unwrap().len(), 3);

    let id = first.id.to_string();
    sopbot(&config)
        .args(["inbox", "retry", &id])
        .assert()
        .success()
        .stdout(predicate::str::contains("queued again"));
    sopbot(&config)
        .args(["inbox", "retry", &id])
        .assert()
        .code(2)
        .stderr(format!("error: no failed event with id {id}\n"));

    sopbot(&config)
        .args(["inbox", "prune", "--older-than", "0s"])
        .assert()
        .success()
        .stdout("deleted 1 handled events older than 0s\n");
    let store = Store::open(&dir.path().join("sopbot.db")).await.unwrap();
    let left = store.list_events(None, 10).await.unwrap();
    let states: Vec<_> = left.iter().map(|r| (r.id, r.attempts)).collect();
    // The retried event is pending with its attempts reset; the pending one untouched.
    assert_eq!(states, [(3, 0), (first.id, 0)]);
    assert_eq!(store.pending_count().await.unwrap(), 2);
}
