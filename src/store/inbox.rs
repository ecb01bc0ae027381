//! The inbox: a durable queue between the edges that learn of events (webhook, poller, CLI) and
//! the workers that act on them. An event survives a crash; the same event seen twice (webhook
//! and poller, or a redelivery) is stored once thanks to its `dedup_key`.
//!
//! Ordering guarantee, enforced by [`Store::claim_next`] in one SQL statement (so it holds across
//! any number of workers, tasks or processes sharing the file): events of one (repo, PR) are
//! claimed strictly in arrival order, one at a time — an event is claimable only when no older
//! event of its PR is still pending or running. Events of different PRs are claimed in parallel.
//! A pending event waiting for its retry time (`not_before`) therefore holds back the later
//! events of its PR; an event that finally failed does not. Events without a PR (`pr` NULL)
//! form one queue per repository.
//!
//! Life of an event: `pending` → (claim) `running` → `done`, or back to `pending` with a
//! `not_before` for a retry, or `failed` after [`MAX_ATTEMPTS`] claims. At start-up
//! [`Store::reset_running`] returns the events of a dead process to `pending`.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use super::health::{failed, Health};
use super::{ts, Store, StoreError};
use crate::types::PrNumber;

mod housekeeping;

/// Claims after which a failing event is given up (`failed`) even if a retry time is offered.
// With the workers' backoff (1 s doubling, capped at 5 min) 30 claims span about two hours:
// a Gitea outage of that length loses nothing, since the poller will not find a done key again.
pub const MAX_ATTEMPTS: i64 = 30;

/// Which edge saw the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type, Serialize)]
#[sqlx(rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum EventSource {
    Webhook,
    Poller,
    Cli,
}

impl EventSource {
    pub fn as_str(self) -> &'static str {
        match self {
            EventSource::Webhook => "webhook",
            EventSource::Poller => "poller",
            EventSource::Cli => "cli",
        }
    }
}

impl fmt::Display for EventSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an event is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type, Serialize)]
#[sqlx(rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum EventState {
    Pending,
    Running,
    Done,
    Failed,
}

/// One stored event.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, Serialize)]
pub struct EventRow {
    /// Arrival order.
    pub id: i64,
    pub dedup_key: String,
    pub source: EventSource,
    /// The event type, as the engine dispatches on it.
    pub kind: String,
    pub repo: String,
    pub pr: Option<i64>,
    /// `X-Gitea-Delivery` of the webhook, for tracing a delivery through the logs.
    pub delivery_id: Option<String>,
    /// JSON.
    pub payload: String,
    pub received_at: DateTime<Utc>,
    pub state: EventState,
    /// How many times the event was claimed.
    pub attempts: i64,
    /// Not claimable before this time (retry backoff).
    pub not_before: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub done_at: Option<DateTime<Utc>>,
}

/// An event to enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// Identifies the event whichever path saw it, for example
    /// `comment:<repo>:<comment_id>:<action>:<body_sha256>` or `pr:<repo>:<n>:<head_sha>:<kind>`.
    pub dedup_key: String,
    pub source: EventSource,
    pub kind: String,
    pub repo: String,
    pub pr: Option<i64>,
    pub delivery_id: Option<String>,
    /// Must be valid JSON (the database checks).
    pub payload: String,
}

/// The outcome of [`Store::enqueue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// Stored with this id.
    New(i64),
    /// An event with the same dedup key was already stored, with this id; nothing was written.
    Duplicate(i64),
}

impl Enqueued {
    /// The id of the stored event, new or not.
    pub fn id(self) -> i64 {
        match self {
            Enqueued::New(id) | Enqueued::Duplicate(id) => id,
        }
    }
}

/// An event waiting for the inbox writer, with its arrival time and where to answer.
pub(super) struct Pending {
    new: NewEvent,
    received_at: String,
    reply: oneshot::Sender<Result<Enqueued, StoreError>>,
}

/// Most events the writer stores in one transaction.
const BATCH: usize = 128;

/// Starts the inbox writer on the durable (synchronous FULL) pool and returns its queue.
///
/// Group commit: every event that arrives while a transaction is being written goes into the
/// next one, so a burst of webhooks costs one fsync per batch instead of one per webhook, and
/// each is still answered only once it is on disk. Alone, an event is one transaction as before.
pub(super) fn spawn_writer(durable: SqlitePool, health: Arc<Health>) -> mpsc::Sender<Pending> {
    let (tx, mut rx) = mpsc::channel::<Pending>(4 * BATCH);
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(BATCH);
        while rx.recv_many(&mut batch, BATCH).await > 0 {
            write_batch(&durable, &health, std::mem::take(&mut batch)).await;
        }
    });
    tx
}

/// Stores a batch and answers each of its events. Acknowledged means stored: when the file at
/// the path is no longer the one open, or the transaction does not commit, every event of the
/// batch is refused with the same reason — none of them is on disk.
async fn write_batch(pool: &SqlitePool, health: &Health, batch: Vec<Pending>) {
    let stored = match health.check_file() {
        Ok(()) => insert_batch(pool, &batch).await.map_err(failed),
        Err(e) => Err(e),
    };
    health.record(stored.as_ref().map(|_| ()));
    match stored {
        Ok(results) => {
            for (p, result) in batch.into_iter().zip(results) {
                let _ = p.reply.send(result);
            }
        }
        Err(e) => {
            for p in batch {
                let _ = p.reply.send(Err(e.clone().into()));
            }
        }
    }
}

/// One transaction for the batch. An event refused by the database (invalid JSON, say) fails
/// alone: SQLite backs out the statement, not the transaction.
async fn insert_batch(
    pool: &SqlitePool,
    batch: &[Pending],
) -> Result<Vec<Result<Enqueued, StoreError>>, sqlx::Error> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let mut results = Vec::with_capacity(batch.len());
    for p in batch {
        results.push(insert(&mut tx, &p.new, &p.received_at).await);
    }
    tx.commit().await?;
    Ok(results)
}

/// Inserts one event unless its dedup key is stored (see [`Store::enqueue`]).
async fn insert(
    conn: &mut SqliteConnection,
    new: &NewEvent,
    received_at: &str,
) -> Result<Enqueued, StoreError> {
    let inserted = sqlx::query_scalar!(
        r#"INSERT INTO inbox (dedup_key, source, kind, repo, pr, delivery_id, payload,
                            received_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (dedup_key) DO UPDATE
             SET state = 'pending', attempts = 0, not_before = NULL, last_error = NULL,
                 done_at = NULL
             WHERE inbox.state = 'failed'
         RETURNING id AS "id!""#,
        new.dedup_key,
        new.source,
        new.kind,
        new.repo,
        new.pr,
        new.delivery_id,
        new.payload,
        received_at
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = inserted {
        return Ok(Enqueued::New(id));
    }
    let id = sqlx::query_scalar!(
        r#"SELECT id AS "id!" FROM inbox WHERE dedup_key = ?"#,
        new.dedup_key
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(Enqueued::Duplicate(id))
}

impl Store {
    /// Stores an event unless one with the same dedup key already exists (an event handled once
    /// is not handled again). The exception is an event that was given up (`failed`): seeing
    /// it again (the poller, a redelivery) puts it back to `pending` with fresh attempts, so a
    /// long Gitea outage loses nothing that is still visible.
    pub async fn enqueue(&self, new: &NewEvent) -> Result<Enqueued, StoreError> {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            new: new.clone(),
            received_at: ts(self.now()),
            reply,
        };
        // The writer stops only with the process; a send error means it is gone.
        let gone = || StoreError::Db(sqlx::Error::PoolClosed);
        self.inbox_writer.send(pending).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// Whether the inbox holds an event of comment `comment_id` whose dedup key differs from
    /// `key`: the comment was seen before with another body (or action).
    pub async fn comment_seen_otherwise(
        &self,
        repo: &str,
        comment_id: i64,
        key: &str,
    ) -> Result<bool, StoreError> {
        self.has_comment_key(&format!("comment:{repo}:{comment_id}:"), Some(key))
            .await
    }

    /// Whether the inbox holds the deletion of comment `comment_id`.
    pub async fn comment_deleted_seen(
        &self,
        repo: &str,
        comment_id: i64,
    ) -> Result<bool, StoreError> {
        self.has_comment_key(&format!("comment:{repo}:{comment_id}:deleted:"), None)
            .await
    }

    /// Whether a dedup key starting with `prefix` (which ends in `:`), other than `except`, is
    /// in the inbox: a range scan of the unique index (`;` follows `:` in ASCII).
    async fn has_comment_key(
        &self,
        prefix: &str,
        except: Option<&str>,
    ) -> Result<bool, StoreError> {
        let end = format!("{};", prefix.trim_end_matches(':'));
        let found = sqlx::query_scalar!(
            "SELECT id FROM inbox WHERE dedup_key >= ? AND dedup_key < ?
               AND dedup_key IS NOT ? LIMIT 1",
            prefix,
            end,
            except
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    /// Takes the oldest claimable event and marks it `running` (counting the attempt), or
    /// `None` when nothing is claimable now. See the module header for the ordering guarantee:
    /// it is one atomic statement, so no two workers ever hold events of the same PR.
    ///
    /// The statement runs in an explicit transaction so that a commit that fails (disk full,
    /// read-only file) is an error: in autocommit, the row of `RETURNING` reaches the caller
    /// before the commit, whose failure would leave the event `pending` for the next worker
    /// while this one runs it. The file is checked first: a deleted or replaced database is
    /// not worked from.
    pub async fn claim_next(&self) -> Result<Option<EventRow>, StoreError> {
        self.check_file()?;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let now = ts(self.now());
        let row = sqlx::query_as!(
            EventRow,
            r#"UPDATE inbox SET state = 'running', attempts = attempts + 1
             WHERE id = (
                 SELECT i.id FROM inbox AS i
                 WHERE i.state = 'pending'
                   AND (i.not_before IS NULL OR i.not_before <= ?)
                   AND NOT EXISTS (
                       SELECT 1 FROM inbox AS o
                       WHERE o.repo = i.repo AND o.pr IS i.pr AND o.id <> i.id
                         AND (o.state = 'running' OR (o.state = 'pending' AND o.id < i.id)))
                 ORDER BY i.id
                 LIMIT 1)
             RETURNING id, dedup_key, source AS "source: EventSource", kind, repo, pr, delivery_id,
                       payload, received_at AS "received_at: DateTime<Utc>",
                       state AS "state: EventState", attempts,
                       not_before AS "not_before: DateTime<Utc>", last_error,
                       done_at AS "done_at: DateTime<Utc>""#,
            now
        )
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Marks a claimed event handled. [`StoreError::NotFound`] if no running event has this id.
    pub async fn mark_done(&self, id: i64) -> Result<(), StoreError> {
        self.check_file()?;
        let now = ts(self.now());
        let done = sqlx::query!(
            "UPDATE inbox SET state = 'done', done_at = ?, not_before = NULL
             WHERE id = ? AND state = 'running'",
            now,
            id
        )
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Records that handling a claimed event failed with `error`. With `retry_at`, and fewer
    /// than [`MAX_ATTEMPTS`] claims so far, the event goes back to `pending`, not claimable
    /// before `retry_at`; otherwise it is `failed` for good. Returns the updated event.
    /// [`StoreError::NotFound`] if no running event has this id. Like the claim, one explicit
    /// transaction, so that a failed commit is reported rather than lost after `RETURNING`.
    pub async fn mark_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<EventRow, StoreError> {
        self.check_file()?;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let (retry_at, now) = (retry_at.map(ts), ts(self.now()));
        let row = sqlx::query_as!(
            EventRow,
            r#"UPDATE inbox SET
                 state = CASE WHEN ?1 IS NOT NULL AND attempts < ?2 THEN 'pending'
                              ELSE 'failed' END,
                 not_before = CASE WHEN attempts < ?2 THEN ?1 END,
                 done_at = CASE WHEN ?1 IS NOT NULL AND attempts < ?2 THEN NULL ELSE ?3 END,
                 last_error = ?4
             WHERE id = ?5 AND state = 'running'
             RETURNING id, dedup_key, source AS "source: EventSource", kind, repo, pr, delivery_id,
                       payload, received_at AS "received_at: DateTime<Utc>",
                       state AS "state: EventState", attempts,
                       not_before AS "not_before: DateTime<Utc>", last_error,
                       done_at AS "done_at: DateTime<Utc>""#,
            retry_at,
            MAX_ATTEMPTS,
            now,
            error,
            id
        )
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        row.ok_or(StoreError::NotFound)
    }

    /// At start-up, before any worker runs: events left `running` by a process that died go
    /// back to `pending` (their attempt still counts). Returns how many.
    pub async fn reset_running(&self) -> Result<u64, StoreError> {
        let done = sqlx::query!("UPDATE inbox SET state = 'pending' WHERE state = 'running'")
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Events waiting to be handled, including those waiting for a retry (a metric).
    /// Whether the PR has an event not yet handled (pending or running): the sweep adds none.
    pub async fn has_unfinished_event(&self, repo: &str, pr: PrNumber) -> Result<bool, StoreError> {
        let pr = pr.to_sql();
        let n = sqlx::query_scalar!(
            "SELECT COUNT(*) FROM inbox
             WHERE repo = ? AND pr = ? AND state IN ('pending', 'running')",
            repo,
            pr
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    pub async fn pending_count(&self) -> Result<i64, StoreError> {
        let n = sqlx::query_scalar!("SELECT COUNT(*) FROM inbox WHERE state = 'pending'")
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }

    /// How long the oldest pending event has waited since it arrived (a metric: a growing value
    /// means workers are stuck or too slow); `None` when nothing is pending.
    pub async fn oldest_pending_age(&self) -> Result<Option<chrono::Duration>, StoreError> {
        let oldest = sqlx::query_scalar!(
            r#"SELECT MIN(received_at) AS "oldest?: DateTime<Utc>" FROM inbox
               WHERE state = 'pending'"#
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(oldest.map(|t| self.now() - t))
    }
}
