//! The audit log: an append-only record of every state change and every refusal, for admins
//! (`sopbot audit`) and for after-the-fact questions ("who waived security on #42, and why?").
//! The database refuses UPDATE and DELETE on it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::SqliteConnection;

use super::{ts, Store, StoreError};

/// The `action` values sopbot writes, in one place so that readers of the log can rely on them.
pub mod actions {
    /// A waiver was recorded (written by [`crate::store::Store::record_comment_outcome`]).
    pub const WAIVER_CREATED: &str = "waiver.created";
    /// A waiver was revoked by a person (written by [`crate::store::Store::revoke_waiver`]).
    pub const WAIVER_REVOKED: &str = "waiver.revoked";
    /// A waiver ended because its PR was closed or merged.
    pub const WAIVER_EXPIRED: &str = "waiver.expired";
    /// A waiver was asked for and refused (not allowed, author, no reason …).
    pub const WAIVER_REFUSED: &str = "waiver.refused";
    /// A waiver ended by the `[waiver]` lifecycle rules: a push, `max_age`, or its declarer
    /// left the waiving teams (the detail says which).
    pub const WAIVER_ENDED: &str = "waiver.ended";
    /// `/sop-hold` put a hold on a PR.
    pub const HOLD_PLACED: &str = "hold.placed";
    /// `/sop-unhold` released a PR's hold.
    pub const HOLD_RELEASED: &str = "hold.released";
    /// `/sop-hold` or `/sop-unhold` refused (not a gate-team member, the author releasing
    /// another's hold) or not verifiable.
    pub const HOLD_REFUSED: &str = "hold.refused";
    /// Someone other than sopbot posted a status on one of sopbot's contexts.
    pub const STATUS_GUARD: &str = "status.guard";
    /// A command could not be carried out.
    pub const COMMAND_ERROR: &str = "command.error";
    /// A comment edited by someone other than its author (or by an account unknown): the edit
    /// is not acted on.
    pub const EDIT_IGNORED: &str = "comment.edit_ignored";
    /// Commands in a reply in a code-review thread: not acted on (`README.md`, Commands).
    pub const THREAD_IGNORED: &str = "comment.thread_ignored";
    /// sopbot asked a gate's team to review a PR (`request_review`), or failed to.
    pub const REVIEW_REQUESTED: &str = "review.requested";
    pub const REVIEW_REQUEST_FAILED: &str = "review.request_failed";
}

/// One audit entry.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, Serialize)]
pub struct AuditRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// A login, `sopbot`, or `cli:<user>`.
    pub actor: String,
    /// One of [`actions`] (or a newer one).
    pub action: String,
    pub repo: Option<String>,
    pub pr: Option<i64>,
    pub gate: Option<String>,
    pub waiver_id: Option<i64>,
    /// Free text or JSON.
    pub detail: String,
}

/// An audit entry to append; `at` is the store's clock.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewAudit {
    pub actor: String,
    pub action: String,
    pub repo: Option<String>,
    pub pr: Option<i64>,
    pub gate: Option<String>,
    pub waiver_id: Option<i64>,
    pub detail: String,
}

/// Which entries [`Store::list_audit`] returns. The default is the whole log.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditFilter {
    pub repo: Option<String>,
    pub pr: Option<i64>,
    /// Only the most recent `limit` entries (still returned oldest first).
    pub limit: Option<i64>,
}

/// Appends inside the caller's transaction, so a state change and its audit row commit together.
pub(crate) async fn insert_audit(
    conn: &mut SqliteConnection,
    at: DateTime<Utc>,
    new: &NewAudit,
) -> Result<AuditRow, StoreError> {
    let at = ts(at);
    let row = sqlx::query_as!(
        AuditRow,
        r#"INSERT INTO audit (at, actor, action, repo, pr, gate, waiver_id, detail)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           RETURNING id, at AS "at: DateTime<Utc>", actor, action, repo, pr, gate, waiver_id,
                     detail"#,
        at,
        new.actor,
        new.action,
        new.repo,
        new.pr,
        new.gate,
        new.waiver_id,
        new.detail
    )
    .fetch_one(conn)
    .await?;
    Ok(row)
}

impl Store {
    /// Appends one entry on its own (refusals, guards, errors: events with no other write).
    pub async fn record_audit(&self, new: &NewAudit) -> Result<AuditRow, StoreError> {
        let mut conn = self.pool.acquire().await?;
        insert_audit(&mut conn, self.now(), new).await
    }

    /// Entries matching `filter`, oldest first.
    /// The newest `limit` audit rows of one PR, oldest first (the details page): by the
    /// `(repo, pr)` index, never a scan, since anyone with a link may ask.
    pub async fn pr_audit(
        &self,
        repo: &str,
        pr: i64,
        limit: i64,
    ) -> Result<Vec<AuditRow>, StoreError> {
        let mut rows = sqlx::query_as!(
            AuditRow,
            r#"SELECT id AS "id!", at AS "at: DateTime<Utc>", actor, action, repo, pr, gate,
                      waiver_id, detail
               FROM audit INDEXED BY audit_by_pr
               WHERE repo = ? AND pr = ?
               ORDER BY id DESC LIMIT ?"#,
            repo,
            pr,
            limit
        )
        .fetch_all(&self.pool)
        .await?;
        rows.reverse();
        Ok(rows)
    }

    pub async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRow>, StoreError> {
        // A negative LIMIT is no limit in SQLite.
        let limit = filter.limit.map_or(-1, |l| l.max(0));
        let mut rows = sqlx::query_as!(
            AuditRow,
            r#"SELECT id, at AS "at: DateTime<Utc>", actor, action, repo, pr, gate, waiver_id,
                      detail
               FROM audit
               WHERE (?1 IS NULL OR repo = ?1) AND (?2 IS NULL OR pr = ?2)
               ORDER BY id DESC LIMIT ?3"#,
            filter.repo,
            filter.pr,
            limit
        )
        .fetch_all(&self.pool)
        .await?;
        rows.reverse();
        Ok(rows)
    }
}
