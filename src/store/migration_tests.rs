//! Every migration applied in order to a database that holds rows written by the schema before
//! it, as an upgraded installation would: after the last one, the old rows are intact and the
//! store API reads them.

use std::path::Path;

use crate::types::PrNumber;
use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;
use sqlx::SqlitePool;

use super::{EventState, Store, WaiverFilter};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Applies the migrations up to `version` (included), with sqlx's own migrator, from a
/// directory holding just those files of `migrations/`.
async fn migrate_to(pool: &SqlitePool, scratch: &Path, version: &str) {
    let dir = scratch.join(format!("upto-{version}"));
    std::fs::create_dir(&dir).unwrap();
    let mut files: Vec<_> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files
        .iter()
        .filter(|f| f.file_name().unwrap().to_str().unwrap()[..4] <= *version)
    {
        std::fs::copy(f, dir.join(f.file_name().unwrap())).unwrap();
    }
    Migrator::new(dir).await.unwrap().run(pool).await.unwrap();
}

async fn exec(pool: &SqlitePool, sql: &str) {
    sqlx::raw_sql(sql).execute(pool).await.unwrap();
}

#[tokio::test]
async fn rows_of_every_schema_survive_all_later_migrations() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let pool = SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true),
    )
    .await
    .unwrap();

    migrate_to(&pool, dir.path(), "0001").await;
    exec(
        &pool,
        r#"
        INSERT INTO waivers (repo, pr, gate, declared_by, reason, comment_id, head_sha, created_at)
        VALUES ('acme/widgets', 7, 'security', 'carol', 'docs only', 1042, 'f1d3a6',
                '2024-05-01T12:00:00.000000Z');
        INSERT INTO waivers (repo, pr, gate, declared_by, reason, comment_id, head_sha, created_at,
                             revoked_at, revoked_by, revoke_reason)
        VALUES ('acme/widgets', 7, 'qa', 'carol', 'no ui', NULL, 'f1d3a6',
                '2024-05-01T12:00:00.000000Z', '2024-05-02T08:30:00.250000Z', 'dave', 'has ui');
        INSERT INTO audit (at, actor, action, repo, pr, gate, waiver_id, detail)
        VALUES ('2024-05-01T12:00:00.000000Z', 'carol', 'waiver.created', 'acme/widgets', 7,
                'security', 1, '{"reason":"docs only"}');
        INSERT INTO inbox (dedup_key, source, kind, repo, pr, delivery_id, payload, received_at)
        VALUES ('comment:acme/widgets:1042:created:ab', 'webhook', 'issue_comment',
                'acme/widgets', 7, 'd-1', '{"body":"/refire"}', '2024-05-01T11:59:59.000000Z');
        INSERT INTO comment_replies (repo, comment_id, reply_comment_id, body_sha256, handled_at)
        VALUES ('acme/widgets', 1001, 1002, 'aa', '2024-05-01T10:00:00.000000Z');
        INSERT INTO poll_cursors (repo, comments_since, updated_at)
        VALUES ('acme/widgets', '2024-05-01T09:00:00.000000Z', '2024-05-01T09:00:01.000000Z');
        INSERT INTO pr_evaluations (repo, pr, head_sha, reviews_fingerprint, evaluated_at)
        VALUES ('acme/widgets', 7, 'f1d3a6', 'r1', '2024-05-01T12:00:00.000000Z');
        INSERT INTO posted_statuses (repo, sha, context, state, description, posted_at)
        VALUES ('acme/widgets', 'f1d3a6', 'qa-review / approved', 'failure', 'awaiting',
                '2024-05-01T12:00:00.000000Z');
    "#,
    )
    .await;
    migrate_to(&pool, dir.path(), "0002").await;
    exec(
        &pool,
        r#"
        INSERT INTO comment_replies (repo, comment_id, reply_comment_id, body_sha256, handled_at,
                                     outcome)
        VALUES ('acme/widgets', 1003, NULL, 'bb', '2024-05-01T10:05:00.000000Z', '{"lines":[]}');
    "#,
    )
    .await;
    migrate_to(&pool, dir.path(), "0003").await;
    migrate_to(&pool, dir.path(), "0004").await;
    exec(
        &pool,
        r#"
        INSERT INTO comment_replies (repo, comment_id, reply_comment_id, body_sha256, handled_at,
                                     outcome, pr)
        VALUES ('acme/widgets', 1010, 1011, 'cc', '2024-05-01T10:10:00.000000Z', '{}', 7);
    "#,
    )
    .await;
    migrate_to(&pool, dir.path(), "0005").await;
    exec(
        &pool,
        r#"
        INSERT INTO poll_cursors (repo, comments_since, updated_at, pulls_since, swept_at)
        VALUES ('acme/gadgets', '2024-05-01T09:00:00.000000Z', '2024-05-01T09:00:01.000000Z',
                '2024-05-01T08:00:00.000000Z', '2024-05-01T07:00:00.000000Z');
    "#,
    )
    .await;
    pool.close().await;

    // The rest (and every later migration) as sopbot applies them when it starts.
    let store = Store::open(&path).await.unwrap();

    let waivers = store
        .list_waivers(&WaiverFilter {
            include_revoked: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(waivers.len(), 2);
    let (active, revoked) = (&waivers[0], &waivers[1]);
    assert_eq!(
        (active.gate.as_str(), active.comment_id),
        ("security", Some(1042))
    );
    assert_eq!(active.created_at, at("2024-05-01T12:00:00Z"));
    assert!(active.is_active());
    assert_eq!(revoked.revoked_at, Some(at("2024-05-02T08:30:00.25Z")));
    assert_eq!(revoked.revoke_reason.as_deref(), Some("has ui"));
    let open = store
        .active_waivers("acme/widgets", PrNumber(7))
        .await
        .unwrap();
    assert_eq!(open, vec![active.clone()]);

    let audit = store.list_audit(&Default::default()).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(
        (audit[0].action.as_str(), audit[0].waiver_id),
        ("waiver.created", Some(1))
    );

    let event = store
        .claim_next()
        .await
        .unwrap()
        .expect("the old event is claimable");
    assert_eq!(event.dedup_key, "comment:acme/widgets:1042:created:ab");
    assert_eq!((event.state, event.attempts), (EventState::Running, 1));
    assert_eq!(event.received_at, at("2024-05-01T11:59:59Z"));

    let before_outcomes = store
        .handled_comment("acme/widgets", 1001)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(before_outcomes.outcome, "{}");
    assert_eq!(before_outcomes.reply.reply_comment_id, Some(1002));
    let with_outcome = store
        .handled_comment("acme/widgets", 1003)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(with_outcome.outcome, r#"{"lines":[]}"#);
    // Rows from before 0004 have no PR: only the later one counts as the PR's newest.
    assert_eq!(
        store
            .newest_handled_comment("acme/widgets", 7)
            .await
            .unwrap(),
        Some(1010)
    );

    let old_cursor = store.cursor("acme/widgets").await.unwrap().unwrap();
    assert_eq!(old_cursor.comments_since, at("2024-05-01T09:00:00Z"));
    assert_eq!((old_cursor.pulls_since, old_cursor.swept_at), (None, None));
    let new_cursor = store.cursor("acme/gadgets").await.unwrap().unwrap();
    assert_eq!(new_cursor.pulls_since, Some(at("2024-05-01T08:00:00Z")));
    assert_eq!(new_cursor.swept_at, Some(at("2024-05-01T07:00:00Z")));

    let eval = store
        .last_evaluation("acme/widgets", PrNumber(7))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (eval.head_sha.as_str(), eval.reviews_fingerprint.as_str()),
        ("f1d3a6", "r1")
    );

    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert!(!tables.iter().any(|t| t == "posted_statuses"), "{tables:?}");
    store.check_writable().await.unwrap();
    store.close().await;
}
