//! Waivers (N/A declarations): who declared which gate of which PR not applicable, why, from
//! which comment and on which head commit — and, once revoked or expired, who ended it and why.
//!
//! Nothing is ever deleted (a trigger refuses it) and every change writes its audit row in the
//! same transaction, so the audit trail cannot miss a state change.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::SqliteConnection;

use super::audit::{actions, insert_audit, NewAudit};
use super::{reason, ts, Store, StoreError};
use crate::types::PrNumber;

/// One waiver, active (`revoked_at` is `None`) or ended. Serialises to the JSON of
/// `sopbot waivers list --json`.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, Serialize)]
pub struct WaiverRow {
    pub id: i64,
    /// `owner/name`.
    pub repo: String,
    pub pr: i64,
    /// Canonical gate name from the config (`qa`, `security`).
    pub gate: String,
    /// Login of the declarer.
    pub declared_by: String,
    pub reason: String,
    /// The comment that declared it; `None` when made otherwise (CLI, tests).
    pub comment_id: Option<i64>,
    /// The PR head when declared.
    pub head_sha: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Login, `sopbot` or `cli:<user>`.
    pub revoked_by: Option<String>,
    pub revoke_reason: Option<String>,
}

impl WaiverRow {
    /// Whether the waiver still opens its gate.
    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }

    /// How the waiver ended, for `waivers list`: `revoked` (by a person: `/sop-revoke`, the
    /// CLI), `closed` (its PR closed or merged), `comment-deleted`, `pushed`, `expired`,
    /// `declarer-left` (the `[waiver]` lifecycle rules), or `None` while active. Only the bot's
    /// own reasons (revoked by `sopbot`) are read for the kind; they start with fixed words.
    pub fn ended(&self) -> Option<&'static str> {
        self.revoked_at?;
        if self.revoked_by.as_deref() != Some("sopbot") {
            return Some("revoked");
        }
        let why = self.revoke_reason.as_deref().unwrap_or("");
        Some(match why {
            w if w.starts_with("PR closed") || w.starts_with("PR merged") => "closed",
            w if w.starts_with("push ") => "pushed",
            w if w.starts_with("expired") => "expired",
            w if w.starts_with("declarer left") => "declarer-left",
            w if w.starts_with("comment ") && w.ends_with("was deleted") => "comment-deleted",
            _ => "ended",
        })
    }
}

/// A waiver to record.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewWaiver {
    pub repo: String,
    pub pr: i64,
    pub gate: String,
    pub declared_by: String,
    /// Mandatory; trimmed before it is stored.
    pub reason: String,
    pub comment_id: Option<i64>,
    pub head_sha: String,
}

/// Which waivers [`Store::list_waivers`] returns. The default is every active waiver.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WaiverFilter {
    pub repo: Option<String>,
    pub pr: Option<i64>,
    /// Also list revoked and expired waivers.
    pub include_revoked: bool,
    /// Only this gate (canonical name).
    pub gate: Option<String>,
    /// Only waivers declared by this login (any case).
    pub declarer: Option<String>,
    /// Only waivers declared at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only waivers declared before this time.
    pub until: Option<DateTime<Utc>>,
}

impl Store {
    /// One waiver by id, active or not (`sopbot waivers show`).
    pub async fn get_waiver(&self, id: i64) -> Result<Option<WaiverRow>, StoreError> {
        let row = sqlx::query_as!(
            WaiverRow,
            r#"SELECT id AS "id!", repo, pr, gate, declared_by, reason, comment_id, head_sha,
                      created_at AS "created_at: DateTime<Utc>",
                      revoked_at AS "revoked_at: DateTime<Utc>", revoked_by, revoke_reason
               FROM waivers WHERE id = ?"#,
            id
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row)
    }

    /// Waivers matching `filter`, oldest first (`sopbot waivers list`).
    pub async fn list_waivers(&self, filter: &WaiverFilter) -> Result<Vec<WaiverRow>, StoreError> {
        // Times are stored fixed-width (`ts`), so text order is time order.
        let since = filter.since.map(ts);
        let until = filter.until.map(ts);
        let rows = sqlx::query_as!(
            WaiverRow,
            r#"SELECT id AS "id!", repo, pr, gate, declared_by, reason, comment_id, head_sha,
                      created_at AS "created_at: DateTime<Utc>",
                      revoked_at AS "revoked_at: DateTime<Utc>", revoked_by, revoke_reason
               FROM waivers
               WHERE (?1 IS NULL OR repo = ?1) AND (?2 IS NULL OR pr = ?2)
                 AND (?3 OR revoked_at IS NULL)
                 AND (?4 IS NULL OR gate = ?4)
                 AND (?5 IS NULL OR declared_by = ?5 COLLATE NOCASE)
                 AND (?6 IS NULL OR created_at >= ?6) AND (?7 IS NULL OR created_at < ?7)
               ORDER BY id"#,
            filter.repo,
            filter.pr,
            filter.include_revoked,
            filter.gate,
            filter.declarer,
            since,
            until
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// Every waiver of one PR, revoked ones too, oldest first, at most `limit` (the details
    /// page): by the `(repo, pr)` index, never a scan, since anyone with a link may ask.
    pub async fn pr_waivers(
        &self,
        repo: &str,
        pr: i64,
        limit: i64,
    ) -> Result<Vec<WaiverRow>, StoreError> {
        let rows = sqlx::query_as!(
            WaiverRow,
            r#"SELECT id AS "id!", repo, pr, gate, declared_by, reason, comment_id, head_sha,
                      created_at AS "created_at: DateTime<Utc>",
                      revoked_at AS "revoked_at: DateTime<Utc>", revoked_by, revoke_reason
               FROM waivers WHERE repo = ? AND pr = ? ORDER BY id LIMIT ?"#,
            repo,
            pr,
            limit
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// The active waivers of one PR, the input of the gate evaluation.
    pub async fn active_waivers(
        &self,
        repo: &str,
        pr: PrNumber,
    ) -> Result<Vec<WaiverRow>, StoreError> {
        let pr = pr.to_sql();
        // Its own statement (not `list_waivers`): the hot path keeps the `waivers_by_pr` index.
        let rows = sqlx::query_as!(
            WaiverRow,
            r#"SELECT id AS "id!", repo, pr, gate, declared_by, reason, comment_id, head_sha,
                      created_at AS "created_at: DateTime<Utc>",
                      revoked_at AS "revoked_at: DateTime<Utc>", revoked_by, revoke_reason
               FROM waivers WHERE repo = ? AND pr = ? AND revoked_at IS NULL ORDER BY id"#,
            repo,
            pr
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// The active waivers declared by one comment: when that comment is deleted, they are
    /// revoked.
    pub async fn active_waivers_for_comment(
        &self,
        repo: &str,
        comment_id: i64,
    ) -> Result<Vec<WaiverRow>, StoreError> {
        let rows = sqlx::query_as!(
            WaiverRow,
            r#"SELECT id AS "id!", repo, pr, gate, declared_by, reason, comment_id, head_sha,
                      created_at AS "created_at: DateTime<Utc>",
                      revoked_at AS "revoked_at: DateTime<Utc>", revoked_by, revoke_reason
               FROM waivers
               WHERE repo = ? AND comment_id = ? AND revoked_at IS NULL ORDER BY id"#,
            repo,
            comment_id
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// Revokes one waiver and writes its `waiver.revoked` audit row (actor: `by`) in one
    /// transaction. [`StoreError::NotFound`] for an unknown id, [`StoreError::AlreadyRevoked`]
    /// the second time, [`StoreError::EmptyReason`] without a reason.
    pub async fn revoke_waiver(
        &self,
        id: i64,
        by: &str,
        reason_text: &str,
    ) -> Result<WaiverRow, StoreError> {
        let now = self.now();
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let row = revoke_waiver_in(&mut tx, now, id, by, reason_text).await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Ends one waiver under the `[waiver]` lifecycle rules (by `sopbot`, the reason saying
    /// why: a push, expired, the declarer left) with its `waiver.ended` audit row, in one
    /// transaction. [`StoreError::AlreadyRevoked`] when it ended meanwhile (another worker, a
    /// `/sop-revoke`): then nothing is written.
    pub async fn end_waiver(&self, id: i64, why: &str) -> Result<WaiverRow, StoreError> {
        let why = reason(why)?;
        let now = self.now();
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let revoked_at = ts(now);
        let row = sqlx::query_as!(
            WaiverRow,
            r#"UPDATE waivers SET revoked_at = ?, revoked_by = 'sopbot', revoke_reason = ?
               WHERE id = ? AND revoked_at IS NULL
               RETURNING id AS "id!", repo, pr, gate, declared_by, reason, comment_id, head_sha,
                         created_at AS "created_at: DateTime<Utc>",
                         revoked_at AS "revoked_at: DateTime<Utc>", revoked_by, revoke_reason"#,
            revoked_at,
            why,
            id
        )
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            drop(tx);
            return match self.get_waiver(id).await? {
                Some(WaiverRow {
                    revoked_at: Some(at),
                    revoked_by: Some(by),
                    ..
                }) => Err(StoreError::AlreadyRevoked { id, at, by }),
                _ => Err(StoreError::NotFound),
            };
        };
        insert_audit(
            &mut tx,
            now,
            &NewAudit {
                actor: "sopbot".into(),
                action: actions::WAIVER_ENDED.into(),
                repo: Some(row.repo.clone()),
                pr: Some(row.pr),
                gate: Some(row.gate.clone()),
                waiver_id: Some(row.id),
                detail: why.to_string(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Ends every active waiver of a PR that was closed or merged, each with a `waiver.expired`
    /// audit row, in one transaction. Returns the waivers it ended (none is fine).
    pub async fn expire_waivers_for_pr(
        &self,
        repo: &str,
        pr: i64,
        by: &str,
        why: &str,
    ) -> Result<Vec<WaiverRow>, StoreError> {
        let why = reason(why)?;
        let now = self.now();
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let revoked_at = ts(now);
        let mut rows = sqlx::query_as!(
            WaiverRow,
            r#"UPDATE waivers SET revoked_at = ?, revoked_by = ?, revoke_reason = ?
               WHERE repo = ? AND pr = ? AND revoked_at IS NULL
               RETURNING id AS "id!", repo, pr, gate, declared_by, reason, comment_id, head_sha,
                         created_at AS "created_at: DateTime<Utc>",
                         revoked_at AS "revoked_at: DateTime<Utc>", revoked_by, revoke_reason"#,
            revoked_at,
            by,
            why,
            repo,
            pr
        )
        .fetch_all(&mut *tx)
        .await?;
        rows.sort_by_key(|w| w.id);
        for row in &rows {
            insert_audit(
                &mut tx,
                now,
                &NewAudit {
                    actor: by.to_string(),
                    action: actions::WAIVER_EXPIRED.into(),
                    repo: Some(row.repo.clone()),
                    pr: Some(row.pr),
                    gate: Some(row.gate.clone()),
                    waiver_id: Some(row.id),
                    detail: why.to_string(),
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(rows)
    }
}

/// Records a waiver and its `waiver.created` audit row (actor: the declarer) inside the
/// caller's transaction (a comment's outcome). Refuses with [`StoreError::ActiveWaiverExists`]
/// when the gate of that PR is already waived, and with [`StoreError::EmptyReason`] without a
/// reason.
pub(crate) async fn insert_waiver_in(
    tx: &mut SqliteConnection,
    now: DateTime<Utc>,
    new: &NewWaiver,
) -> Result<WaiverRow, StoreError> {
    let why = reason(&new.reason)?;
    let existing = sqlx::query_scalar!(
        r#"SELECT id AS "id!" FROM waivers WHERE repo = ? AND pr = ? AND gate = ? AND revoked_at IS NULL"#,
        new.repo,
        new.pr,
        new.gate
    )
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(id) = existing {
        return Err(StoreError::ActiveWaiverExists { id });
    }
    let created_at = ts(now);
    let row = sqlx::query_as!(
        WaiverRow,
        r#"INSERT INTO waivers (repo, pr, gate, declared_by, reason, comment_id, head_sha,
                               created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           RETURNING id AS "id!", repo, pr, gate, declared_by, reason, comment_id, head_sha,
                     created_at AS "created_at: DateTime<Utc>",
                     revoked_at AS "revoked_at: DateTime<Utc>", revoked_by, revoke_reason"#,
        new.repo,
        new.pr,
        new.gate,
        new.declared_by,
        why,
        new.comment_id,
        new.head_sha,
        created_at
    )
    .fetch_one(&mut *tx)
    .await?;
    let detail = serde_json::json!({
        "reason": row.reason,
        "comment_id": row.comment_id,
        "head_sha": row.head_sha,
    });
    insert_audit(
        tx,
        now,
        &NewAudit {
            actor: row.declared_by.clone(),
            action: actions::WAIVER_CREATED.into(),
            repo: Some(row.repo.clone()),
            pr: Some(row.pr),
            gate: Some(row.gate.clone()),
            waiver_id: Some(row.id),
            detail: detail.to_string(),
        },
    )
    .await?;
    Ok(row)
}

/// [`Store::revoke_waiver`] inside a caller's transaction.
pub(crate) async fn revoke_waiver_in(
    tx: &mut SqliteConnection,
    now: DateTime<Utc>,
    id: i64,
    by: &str,
    reason_text: &str,
) -> Result<WaiverRow, StoreError> {
    let why = reason(reason_text)?;
    let current = sqlx::query_as!(
        WaiverRow,
        r#"SELECT id AS "id!", repo, pr, gate, declared_by, reason, comment_id, head_sha,
                  created_at AS "created_at: DateTime<Utc>",
                  revoked_at AS "revoked_at: DateTime<Utc>", revoked_by, revoke_reason
           FROM waivers WHERE id = ?"#,
        id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(StoreError::NotFound)?;
    if let (Some(at), Some(by)) = (current.revoked_at, current.revoked_by) {
        return Err(StoreError::AlreadyRevoked { id, at, by });
    }
    let revoked_at = ts(now);
    let row = sqlx::query_as!(
        WaiverRow,
        r#"UPDATE waivers SET revoked_at = ?, revoked_by = ?, revoke_reason = ?
           WHERE id = ?
           RETURNING id AS "id!", repo, pr, gate, declared_by, reason, comment_id, head_sha,
                     created_at AS "created_at: DateTime<Utc>",
                     revoked_at AS "revoked_at: DateTime<Utc>", revoked_by, revoke_reason"#,
        revoked_at,
        by,
        why,
        id
    )
    .fetch_one(&mut *tx)
    .await?;
    insert_audit(
        tx,
        now,
        &NewAudit {
            actor: by.to_string(),
            action: actions::WAIVER_REVOKED.into(),
            repo: Some(row.repo.clone()),
            pr: Some(row.pr),
            gate: Some(row.gate.clone()),
            waiver_id: Some(row.id),
            detail: why.to_string(),
        },
    )
    .await?;
    Ok(row)
}
