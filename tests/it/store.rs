//! The store against real SQLite files in temporary directories: opening and migrating, the
//! waiver life cycle and its audit trail, what the database itself refuses, and the inbox's
//! ordering and retry rules.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use sopbot::clock::Clock;
use sopbot::store::{
    actions, AuditFilter, CommentOutcome, Enqueued, EventSource, EventState, NewAudit,
    NewEvaluation, NewEvent, NewWaiver, Store, StoreError, WaiverFilter, MAX_ATTEMPTS,
};
use sopbot::types::PrNumber;
use tempfile::TempDir;

use crate::support as common;
use common::waive;

/// A clock the test moves by hand (the store's [`Clock`], moved by chrono durations).
#[derive(Clone)]
struct TestClock(Clock);

impl TestClock {
    fn new() -> TestClock {
        let start = DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        TestClock(Clock::manual(start))
    }

    fn now(&self) -> DateTime<Utc> {
        self.0.now()
    }

    fn advance(&self, by: Duration) {
        self.0.advance(by.to_std().unwrap());
    }
}

struct Fixture {
    _dir: TempDir,
    path: PathBuf,
    store: Store,
    clock: TestClock,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sopbot.db");
    let clock = TestClock::new();
    let store = Store::open(&path)
        .await
        .unwrap()
        .with_clock(clock.0.clone());
    Fixture {
        _dir: dir,
        path,
        store,
        clock,
    }
}

fn waiver(pr: i64, gate: &str) -> NewWaiver {
    NewWaiver {
        repo: "acme/widgets".into(),
        pr,
        gate: gate.into(),
        declared_by: "carol".into(),
        reason: "docs-only change".into(),
        comment_id: Some(1000 + pr),
        head_sha: "abc123".into(),
    }
}

fn event(key: &str, pr: i64) -> NewEvent {
    NewEvent {
        dedup_key: key.into(),
        source: EventSource::Webhook,
        kind: "issue_comment".into(),
        repo: "acme/widgets".into(),
        pr: Some(pr),
        delivery_id: Some(format!("delivery-{key}")),
        payload: r#"{"body":"/refire"}"#.into(),
    }
}

/// One event by id, as the operator's listing shows it.
async fn event_row(store: &Store, id: i64) -> sopbot::store::EventRow {
    let all = store.list_events(None, i64::MAX).await.unwrap();
    all.into_iter().find(|e| e.id == id).expect("stored event")
}

async fn pragma(store: &Store, name: &str) -> String {
    let value: (String,) = sqlx::query_as(&format!("PRAGMA {name}"))
        .fetch_one(store.pool())
        .await
        .unwrap();
    value.0
}

// --- opening -------------------------------------------------------------------------------

#[tokio::test]
async fn open_creates_the_file_and_applies_the_schema() {
    let f = fixture().await;
    assert!(f.path.exists());
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .fetch_all(f.store.pool())
            .await
            .unwrap();
    for table in [
        "audit",
        "comment_replies",
        "inbox",
        "poll_cursors",
        "pr_evaluations",
        "waivers",
    ] {
        assert!(tables.iter().any(|t| t == table), "missing {table}");
    }
    assert!(
        !tables.iter().any(|t| t == "posted_statuses"),
        "dropped by 0006"
    );
}

#[tokio::test]
async fn journal_is_wal_and_foreign_keys_are_enforced() {
    let f = fixture().await;
    assert_eq!(pragma(&f.store, "journal_mode").await, "wal");
    let fk: (i64,) = sqlx::query_as("PRAGMA foreign_keys")
        .fetch_one(f.store.pool())
        .await
        .unwrap();
    assert_eq!(fk.0, 1);
    let orphan = f
        .store
        .record_audit(&NewAudit {
            actor: "sopbot".into(),
            action: actions::COMMAND_ERROR.into(),
            waiver_id: Some(999),
            ..Default::default()
        })
        .await;
    assert!(matches!(orphan, Err(StoreError::Db(_))), "{orphan:?}");
}

#[tokio::test]
async fn reopening_keeps_earlier_data_and_migrates_again_cleanly() {
    let f = fixture().await;
    let w = waive(&f.store, &waiver(7, "qa")).await.unwrap();
    f.store.enqueue(&event("k1", 7)).await.unwrap();
    f.store.close().await;

    let reopened = Store::open(&f.path).await.unwrap();
    assert_eq!(reopened.get_waiver(w.id).await.unwrap(), Some(w.clone()));
    assert_eq!(reopened.pending_count().await.unwrap(), 1);
    let next = waive(&reopened, &waiver(7, "security")).await.unwrap();
    assert!(next.id > w.id);
}

#[tokio::test]
async fn a_directory_as_the_path_is_an_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let err = Store::open(dir.path()).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    assert!(text.contains(&dir.path().display().to_string()), "{text}");
    assert!(!text.contains('\n'), "{text}");
}

#[tokio::test]
async fn a_garbage_file_is_an_error_naming_the_path_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.db");
    std::fs::write(&path, vec![0x5a_u8; 8192]).unwrap();
    let err = Store::open(&path).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("not a database"), "{text}");
    assert!(!text.contains('\n'), "{text}");
}

#[tokio::test]
async fn a_missing_parent_directory_is_an_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/dir/sopbot.db");
    let err = Store::open(&path).await.unwrap_err();
    assert!(err.to_string().contains(&path.display().to_string()));
}

// --- waivers -------------------------------------------------------------------------------

#[tokio::test]
async fn waiver_round_trips_through_insert_show_and_list() {
    let f = fixture().await;
    let w = waive(&f.store, &waiver(7, "qa")).await.unwrap();
    assert_eq!(w.repo, "acme/widgets");
    assert_eq!(w.pr, 7);
    assert_eq!(w.gate, "qa");
    assert_eq!(w.declared_by, "carol");
    assert_eq!(w.reason, "docs-only change");
    assert_eq!(w.comment_id, Some(1007));
    assert_eq!(w.head_sha, "abc123");
    assert_eq!(w.created_at, f.clock.now());
    assert!(w.is_active());

    assert_eq!(f.store.get_waiver(w.id).await.unwrap(), Some(w.clone()));
    assert_eq!(f.store.get_waiver(w.id + 1).await.unwrap(), None);
    let listed = f
        .store
        .list_waivers(&WaiverFilter::default())
        .await
        .unwrap();
    assert_eq!(listed, vec![w.clone()]);
    assert_eq!(
        f.store
            .active_waivers("acme/widgets", PrNumber(7))
            .await
            .unwrap(),
        vec![w.clone()]
    );
    assert_eq!(
        f.store
            .active_waivers_for_comment("acme/widgets", 1007)
            .await
            .unwrap(),
        vec![w.clone()]
    );

    let json = serde_json::to_value(&w).unwrap();
    assert_eq!(json["created_at"], "2024-05-01T12:00:00Z");
    assert_eq!(json["revoked_at"], serde_json::Value::Null);
    let stored: String = sqlx::query_scalar("SELECT created_at FROM waivers WHERE id = ?")
        .bind(w.id)
        .fetch_one(f.store.pool())
        .await
        .unwrap();
    assert_eq!(stored, "2024-05-01T12:00:00.000000Z");
}

#[tokio::test]
async fn revocation_records_who_why_and_when() {
    let f = fixture().await;
    let w = waive(&f.store, &waiver(7, "qa")).await.unwrap();
    f.clock.advance(Duration::minutes(5));
    let r = f
        .store
        .revoke_waiver(w.id, "cli:admin", "  declared by mistake ")
        .await
        .unwrap();
    assert_eq!(r.revoked_at, Some(f.clock.now()));
    assert_eq!(r.revoked_by.as_deref(), Some("cli:admin"));
    assert_eq!(r.revoke_reason.as_deref(), Some("declared by mistake"));
    assert!(!r.is_active());
    assert_eq!(f.store.get_waiver(w.id).await.unwrap(), Some(r.clone()));
    assert!(f
        .store
        .active_waivers("acme/widgets", PrNumber(7))
        .await
        .unwrap()
        .is_empty());
    let all = f
        .store
        .list_waivers(&WaiverFilter {
            include_revoked: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all, vec![r]);
}

#[tokio::test]
async fn revoking_twice_is_refused_naming_the_first_revocation() {
    let f = fixture().await;
    let w = waive(&f.store, &waiver(7, "qa")).await.unwrap();
    let first = f.store.revoke_waiver(w.id, "carol", "oops").await.unwrap();
    let err = f
        .store
        .revoke_waiver(w.id, "dave", "again")
        .await
        .unwrap_err();
    match err {
        StoreError::AlreadyRevoked { id, at, by } => {
            assert_eq!(id, w.id);
            assert_eq!(Some(at), first.revoked_at);
            assert_eq!(by, "carol");
        }
        other => panic!("expected AlreadyRevoked, got {other:?}"),
    }
    assert_eq!(f.store.get_waiver(w.id).await.unwrap(), Some(first));
}

#[tokio::test]
async fn revoking_an_unknown_waiver_is_not_found() {
    let f = fixture().await;
    let err = f.store.revoke_waiver(42, "carol", "why").await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
}

#[tokio::test]
async fn waivers_and_revocations_need_a_reason() {
    let f = fixture().await;
    let mut w = waiver(7, "qa");
    w.reason = "   ".into();
    assert!(matches!(
        waive(&f.store, &w).await,
        Err(StoreError::EmptyReason)
    ));
    let ok = waive(&f.store, &waiver(7, "qa")).await.unwrap();
    assert!(matches!(
        f.store.revoke_waiver(ok.id, "carol", "").await,
        Err(StoreError::EmptyReason)
    ));
    assert!(f
        .store
        .get_waiver(ok.id)
        .await
        .unwrap()
        .unwrap()
        .is_active());
}

#[tokio::test]
async fn a_second_active_waiver_on_the_same_gate_is_refused_until_revoked() {
    let f = fixture().await;
    let first = waive(&f.store, &waiver(7, "qa")).await.unwrap();
    let err = waive(&f.store, &waiver(7, "qa")).await.unwrap_err();
    assert!(
        matches!(err, StoreError::ActiveWaiverExists { id } if id == first.id),
        "{err:?}"
    );
    // Other gates and other PRs are independent.
    waive(&f.store, &waiver(7, "security")).await.unwrap();
    waive(&f.store, &waiver(8, "qa")).await.unwrap();

    f.store
        .revoke_waiver(first.id, "carol", "wrong gate")
        .await
        .unwrap();
    let again = waive(&f.store, &waiver(7, "qa")).await.unwrap();
    assert!(again.id > first.id);
    let audit = f.store.list_audit(&AuditFilter::default()).await.unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|a| a.action == actions::WAIVER_CREATED)
            .count(),
        4,
        "the refused insert wrote no audit row"
    );
}

#[tokio::test]
async fn the_database_refuses_to_delete_waivers_or_audit_rows() {
    let f = fixture().await;
    let w = waive(&f.store, &waiver(7, "qa")).await.unwrap();
    for sql in ["DELETE FROM waivers", "DELETE FROM audit"] {
        let err = sqlx::query(sql).execute(f.store.pool()).await.unwrap_err();
        assert!(
            err.to_string().contains("never deleted") || err.to_string().contains("append-only")
        );
    }
    assert_eq!(f.store.get_waiver(w.id).await.unwrap(), Some(w));
    assert_eq!(
        f.store
            .list_audit(&AuditFilter::default())
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn the_database_allows_only_revoking_a_waiver_once() {
    let f = fixture().await;
    let w = waive(&f.store, &waiver(7, "qa")).await.unwrap();
    let pool = f.store.pool();
    for sql in [
        "UPDATE waivers SET reason = 'changed'",
        "UPDATE waivers SET gate = 'security'",
        "UPDATE waivers SET head_sha = 'def'",
        "UPDATE audit SET actor = 'mallory'",
    ] {
        assert!(sqlx::query(sql).execute(pool).await.is_err(), "{sql}");
    }
    // The three revocation columns go together.
    assert!(
        sqlx::query("UPDATE waivers SET revoked_at = '2024-05-01T13:00:00.000000Z'")
            .execute(pool)
            .await
            .is_err()
    );
    f.store.revoke_waiver(w.id, "carol", "done").await.unwrap();
    assert!(sqlx::query("UPDATE waivers SET revoked_by = 'mallory'")
        .execute(pool)
        .await
        .is_err());
}

#[tokio::test]
async fn every_waiver_state_change_leaves_an_audit_row() {
    let f = fixture().await;
    let a = waive(&f.store, &waiver(7, "qa")).await.unwrap();
    let b = waive(&f.store, &waiver(7, "security")).await.unwrap();
    let c = waive(&f.store, &waiver(9, "qa")).await.unwrap();
    f.store.revoke_waiver(a.id, "carol", "oops").await.unwrap();
    f.clock.advance(Duration::hours(1));
    let expired = f
        .store
        .expire_waivers_for_pr("acme/widgets", 7, "sopbot", "pull request merged")
        .await
        .unwrap();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].id, b.id);
    assert_eq!(expired[0].revoked_by.as_deref(), Some("sopbot"));
    assert_eq!(expired[0].revoked_at, Some(f.clock.now()));
    assert!(f
        .store
        .expire_waivers_for_pr("acme/widgets", 7, "sopbot", "closed")
        .await
        .unwrap()
        .is_empty());

    let log = f.store.list_audit(&AuditFilter::default()).await.unwrap();
    let summary: Vec<(&str, Option<i64>, &str)> = log
        .iter()
        .map(|e| (e.action.as_str(), e.waiver_id, e.actor.as_str()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (actions::WAIVER_CREATED, Some(a.id), "carol"),
            (actions::WAIVER_CREATED, Some(b.id), "carol"),
            (actions::WAIVER_CREATED, Some(c.id), "carol"),
            (actions::WAIVER_REVOKED, Some(a.id), "carol"),
            (actions::WAIVER_EXPIRED, Some(b.id), "sopbot"),
        ]
    );
    assert_eq!(log[4].detail, "pull request merged");
    assert_eq!(log[4].gate.as_deref(), Some("security"));
    let created: serde_json::Value = serde_json::from_str(&log[0].detail).unwrap();
    assert_eq!(created["reason"], "docs-only change");
    assert!(f.store.get_waiver(c.id).await.unwrap().unwrap().is_active());
}

#[tokio::test]
async fn waiver_list_filters_by_repo_and_pr() {
    let f = fixture().await;
    let a = waive(&f.store, &waiver(7, "qa")).await.unwrap();
    let b = waive(&f.store, &waiver(8, "qa")).await.unwrap();
    let mut other = waiver(7, "qa");
    other.repo = "acme/gadgets".into();
    let c = waive(&f.store, &other).await.unwrap();
    f.store.revoke_waiver(b.id, "carol", "no").await.unwrap();

    let list = |repo: Option<&str>, pr: Option<i64>, include_revoked: bool| {
        let store = f.store.clone();
        let filter = WaiverFilter {
            repo: repo.map(String::from),
            pr,
            include_revoked,
            ..Default::default()
        };
        async move {
            store
                .list_waivers(&filter)
                .await
                .unwrap()
                .into_iter()
                .map(|w| w.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(list(None, None, false).await, vec![a.id, c.id]);
    assert_eq!(list(None, None, true).await, vec![a.id, b.id, c.id]);
    assert_eq!(
        list(Some("acme/widgets"), None, true).await,
        vec![a.id, b.id]
    );
    assert_eq!(list(Some("acme/widgets"), Some(7), true).await, vec![a.id]);
    assert_eq!(list(None, Some(7), false).await, vec![a.id, c.id]);
}

// --- audit ---------------------------------------------------------------------------------

#[tokio::test]
async fn audit_list_filters_and_limits_to_the_most_recent_in_order() {
    let f = fixture().await;
    for (i, pr) in [(1, 7), (2, 8), (3, 7), (4, 7)] {
        let row = f
            .store
            .record_audit(&NewAudit {
                actor: "bob".into(),
                action: actions::WAIVER_REFUSED.into(),
                repo: Some("acme/widgets".into()),
                pr: Some(pr),
                gate: Some("qa".into()),
                waiver_id: None,
                detail: format!("refusal {i}"),
            })
            .await
            .unwrap();
        assert_eq!(row.at, f.clock.now());
        f.clock.advance(Duration::seconds(1));
    }
    let details =
        |rows: Vec<sopbot::store::AuditRow>| rows.into_iter().map(|r| r.detail).collect::<Vec<_>>();
    let pr7 = f
        .store
        .list_audit(&AuditFilter {
            repo: Some("acme/widgets".into()),
            pr: Some(7),
            limit: None,
        })
        .await
        .unwrap();
    assert_eq!(details(pr7), ["refusal 1", "refusal 3", "refusal 4"]);
    let last_two = f
        .store
        .list_audit(&AuditFilter {
            limit: Some(2),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(details(last_two), ["refusal 3", "refusal 4"]);
}

// --- inbox ---------------------------------------------------------------------------------

#[tokio::test]
async fn an_event_seen_twice_is_stored_once() {
    let f = fixture().await;
    let first = f.store.enqueue(&event("comment:1", 7)).await.unwrap();
    let Enqueued::New(id) = first else {
        panic!("{first:?}")
    };
    let mut again = event("comment:1", 7);
    again.source = EventSource::Poller;
    assert_eq!(
        f.store.enqueue(&again).await.unwrap(),
        Enqueued::Duplicate(id)
    );
    assert_eq!(f.store.pending_count().await.unwrap(), 1);
    let row = event_row(&f.store, id).await;
    assert_eq!(row.source, EventSource::Webhook);
    assert_eq!(row.state, EventState::Pending);
    assert_eq!(row.received_at, f.clock.now());

    // Still a duplicate once handled: an event is handled once.
    f.store.claim_next().await.unwrap().unwrap();
    f.store.mark_done(id).await.unwrap();
    assert_eq!(
        f.store.enqueue(&again).await.unwrap(),
        Enqueued::Duplicate(id)
    );
    assert_eq!(f.store.claim_next().await.unwrap(), None);
}

#[tokio::test]
async fn events_of_one_pr_are_claimed_in_order_one_at_a_time() {
    let f = fixture().await;
    let a1 = f.store.enqueue(&event("a1", 7)).await.unwrap().id();
    let a2 = f.store.enqueue(&event("a2", 7)).await.unwrap().id();
    let b1 = f.store.enqueue(&event("b1", 8)).await.unwrap().id();

    let first = f.store.claim_next().await.unwrap().unwrap();
    assert_eq!(
        (first.id, first.state, first.attempts),
        (a1, EventState::Running, 1)
    );
    // a2 waits for a1; PR 8's event is free.
    let second = f.store.claim_next().await.unwrap().unwrap();
    assert_eq!(second.id, b1);
    assert_eq!(f.store.claim_next().await.unwrap(), None);

    f.store.mark_done(a1).await.unwrap();
    let third = f.store.claim_next().await.unwrap().unwrap();
    assert_eq!(third.id, a2);
    let done = event_row(&f.store, a1).await;
    assert_eq!(done.state, EventState::Done);
    assert_eq!(done.done_at, Some(f.clock.now()));
    assert!(matches!(
        f.store.mark_done(a1).await,
        Err(StoreError::NotFound)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_workers_never_hold_two_events_of_one_pr() {
    let f = fixture().await;
    for i in 0..30 {
        f.store
            .enqueue(&event(&format!("e{i}"), 1 + i % 3))
            .await
            .unwrap();
    }
    let held: Arc<Mutex<Vec<i64>>> = Arc::default();
    let order: Arc<Mutex<Vec<(i64, i64)>>> = Arc::default();
    let mut workers = Vec::new();
    for _ in 0..6 {
        let store = f.store.clone();
        let held = held.clone();
        let order = order.clone();
        workers.push(tokio::spawn(async move {
            let mut idle = 0;
            while idle < 20 {
                let Some(ev) = store.claim_next().await.unwrap() else {
                    idle += 1;
                    tokio::task::yield_now().await;
                    continue;
                };
                idle = 0;
                let pr = ev.pr.unwrap();
                {
                    let mut h = held.lock().unwrap();
                    assert!(!h.contains(&pr), "two workers on PR {pr}");
                    h.push(pr);
                }
                order.lock().unwrap().push((pr, ev.id));
                tokio::task::yield_now().await;
                held.lock().unwrap().retain(|p| *p != pr);
                store.mark_done(ev.id).await.unwrap();
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let order = order.lock().unwrap().clone();
    assert_eq!(order.len(), 30);
    for pr in 1..=3 {
        let ids: Vec<i64> = order
            .iter()
            .filter(|(p, _)| *p == pr)
            .map(|x| x.1)
            .collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted, "PR {pr} out of order");
    }
    assert_eq!(f.store.pending_count().await.unwrap(), 0);
}

#[tokio::test]
async fn reset_running_returns_a_dead_workers_events_to_pending() {
    let f = fixture().await;
    let id = f.store.enqueue(&event("a1", 7)).await.unwrap().id();
    f.store.claim_next().await.unwrap().unwrap();
    assert_eq!(f.store.claim_next().await.unwrap(), None);
    f.store.close().await;

    let restarted = Store::open(&f.path).await.unwrap();
    assert_eq!(restarted.reset_running().await.unwrap(), 1);
    let again = restarted.claim_next().await.unwrap().unwrap();
    assert_eq!((again.id, again.attempts), (id, 2));
}

#[tokio::test]
async fn a_failed_event_is_retried_after_its_backoff_and_holds_its_pr_back() {
    let f = fixture().await;
    let a1 = f.store.enqueue(&event("a1", 7)).await.unwrap().id();
    let a2 = f.store.enqueue(&event("a2", 7)).await.unwrap().id();
    let b1 = f.store.enqueue(&event("b1", 8)).await.unwrap().id();
    f.store.claim_next().await.unwrap().unwrap();
    let retry_at = f.clock.now() + Duration::seconds(30);
    let failed = f
        .store
        .mark_failed(a1, "gitea answered 502", Some(retry_at))
        .await
        .unwrap();
    assert_eq!(failed.state, EventState::Pending);
    assert_eq!(failed.not_before, Some(retry_at));
    assert_eq!(failed.last_error.as_deref(), Some("gitea answered 502"));

    // Before the retry time: neither a1 nor a2 (held back), only PR 8.
    assert_eq!(f.store.claim_next().await.unwrap().unwrap().id, b1);
    assert_eq!(f.store.claim_next().await.unwrap(), None);
    f.clock.advance(Duration::seconds(30));
    let retried = f.store.claim_next().await.unwrap().unwrap();
    assert_eq!((retried.id, retried.attempts), (a1, 2));
    f.store.mark_done(a1).await.unwrap();
    assert_eq!(f.store.claim_next().await.unwrap().unwrap().id, a2);
}

#[tokio::test]
async fn an_event_fails_for_good_without_retry_or_after_too_many_attempts() {
    let f = fixture().await;
    let a1 = f.store.enqueue(&event("a1", 7)).await.unwrap().id();
    let a2 = f.store.enqueue(&event("a2", 7)).await.unwrap().id();
    for attempt in 1..=MAX_ATTEMPTS {
        let ev = f.store.claim_next().await.unwrap().unwrap();
        assert_eq!((ev.id, ev.attempts), (a1, attempt));
        let row = f
            .store
            .mark_failed(a1, "boom", Some(f.clock.now()))
            .await
            .unwrap();
        let expected = if attempt < MAX_ATTEMPTS {
            EventState::Pending
        } else {
            EventState::Failed
        };
        assert_eq!(row.state, expected);
    }
    let gone = event_row(&f.store, a1).await;
    assert_eq!(gone.done_at, Some(f.clock.now()));
    assert_eq!(gone.not_before, None);
    // A failed event no longer holds its PR back.
    let next = f.store.claim_next().await.unwrap().unwrap();
    assert_eq!(next.id, a2);
    let row = f.store.mark_failed(a2, "bad payload", None).await.unwrap();
    assert_eq!(row.state, EventState::Failed);
    assert_eq!(f.store.pending_count().await.unwrap(), 0);
}

#[tokio::test]
async fn pending_metrics_count_and_age_the_queue() {
    let f = fixture().await;
    assert_eq!(f.store.pending_count().await.unwrap(), 0);
    assert_eq!(f.store.oldest_pending_age().await.unwrap(), None);
    f.store.enqueue(&event("a1", 7)).await.unwrap();
    f.clock.advance(Duration::seconds(10));
    f.store.enqueue(&event("b1", 8)).await.unwrap();
    f.clock.advance(Duration::seconds(5));
    assert_eq!(f.store.pending_count().await.unwrap(), 2);
    assert_eq!(
        f.store.oldest_pending_age().await.unwrap(),
        Some(Duration::seconds(15))
    );
}

#[tokio::test]
async fn an_event_payload_must_be_json() {
    let f = fixture().await;
    let mut bad = event("a1", 7);
    bad.payload = "not json".into();
    assert!(matches!(
        f.store.enqueue(&bad).await,
        Err(StoreError::Db(_))
    ));
}

// --- replies, cursors, evaluations -----------------------------------------------

#[tokio::test]
async fn a_handled_comment_notes_its_reply_once_posted() {
    let f = fixture().await;
    assert_eq!(
        f.store.handled_comment("acme/widgets", 55).await.unwrap(),
        None
    );
    let outcome = CommentOutcome {
        repo: "acme/widgets".into(),
        pr: Some(7),
        comment_id: 55,
        body_sha256: "aa".into(),
        outcome: r#"{"lines":[]}"#.into(),
        ..Default::default()
    };
    assert!(f
        .store
        .record_comment_outcome(&outcome)
        .await
        .unwrap()
        .is_new());
    let with_reply = f
        .store
        .set_reply_comment_id("acme/widgets", 55, 56)
        .await
        .unwrap();
    assert_eq!(with_reply.reply_comment_id, Some(56));
    let handled = f.store.handled_comment("acme/widgets", 55).await.unwrap();
    assert_eq!(handled.map(|h| h.reply), Some(with_reply));
    assert_eq!(
        f.store
            .newest_handled_comment("acme/widgets", 7)
            .await
            .unwrap(),
        Some(55)
    );
    assert!(matches!(
        f.store.set_reply_comment_id("acme/widgets", 99, 1).await,
        Err(StoreError::NotFound)
    ));
}

#[tokio::test]
async fn cursors_and_evaluations_keep_the_latest_value() {
    let f = fixture().await;
    let s = &f.store;
    assert_eq!(s.cursor("acme/widgets").await.unwrap(), None);
    let t1 = f.clock.now() - Duration::minutes(1);
    s.set_cursor("acme/widgets", t1).await.unwrap();
    f.clock.advance(Duration::seconds(30));
    let c = s.set_cursor("acme/widgets", f.clock.now()).await.unwrap();
    assert_eq!(c.comments_since, f.clock.now());
    assert_eq!(s.cursor("acme/widgets").await.unwrap(), Some(c));

    assert_eq!(
        s.last_evaluation("acme/widgets", PrNumber(7))
            .await
            .unwrap(),
        None
    );
    let mut eval = NewEvaluation {
        repo: "acme/widgets".into(),
        pr: 7,
        head_sha: "abc".into(),
        reviews_fingerprint: "r1".into(),
    };
    s.record_evaluation(&eval).await.unwrap();
    eval.reviews_fingerprint = "r2".into();
    let e = s.record_evaluation(&eval).await.unwrap();
    assert_eq!(e.reviews_fingerprint, "r2");
    assert_eq!(
        s.last_evaluation("acme/widgets", PrNumber(7))
            .await
            .unwrap(),
        Some(e)
    );
}

#[tokio::test]
async fn an_event_given_up_and_seen_again_is_retried_but_a_done_one_is_not() {
    let f = fixture().await;
    let s = &f.store;
    let id = s.enqueue(&event("k1", 7)).await.unwrap().id();
    let claimed = s.claim_next().await.unwrap().unwrap();
    assert_eq!(claimed.id, id);
    s.mark_failed(id, "Gitea down", None).await.unwrap();
    assert_eq!(s.pending_count().await.unwrap(), 0);

    // The poller finds the same comment again: the event is pending once more, same id.
    assert_eq!(s.enqueue(&event("k1", 7)).await.unwrap(), Enqueued::New(id));
    let again = s.claim_next().await.unwrap().unwrap();
    assert_eq!((again.id, again.attempts), (id, 1));
    s.mark_done(id).await.unwrap();
    assert_eq!(
        s.enqueue(&event("k1", 7)).await.unwrap(),
        Enqueued::Duplicate(id)
    );
    assert!(s.claim_next().await.unwrap().is_none());
}
