//! Holds: `/sop-hold REASON` keeps a PR's hold status at `failure` until `/sop-unhold`. Stored
//! so a hold survives restarts; written inside a comment's outcome transaction with its audit
//! row (`hold.placed`, `hold.released`), never deleted.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::SqliteConnection;

use super::audit::{actions, insert_audit, NewAudit};
use super::{reason, ts, Store, StoreError};

/// One hold, active (`released_at` is `None`) or released.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, Serialize)]
pub struct HoldRow {
    pub id: i64,
    pub repo: String,
    pub pr: i64,
    pub held_by: String,
    pub reason: String,
    pub comment_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub released_at: Option<DateTime<Utc>>,
    pub released_by: Option<String>,
}

/// A hold to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHold {
    pub repo: String,
    pub pr: i64,
    pub held_by: String,
    pub reason: String,
    pub comment_id: Option<i64>,
}

impl Store {
    /// The PR's active hold, else its latest released one, else `None`: what its hold status
    /// stands for, in one statement (it is read at every evaluation).
    pub async fn latest_hold(&self, repo: &str, pr: i64) -> Result<Option<HoldRow>, StoreError> {
        let row = sqlx::query_as!(
            HoldRow,
            r#"SELECT id AS "id!", repo, pr, held_by, reason, comment_id,
                      created_at AS "created_at: DateTime<Utc>",
                      released_at AS "released_at: DateTime<Utc>", released_by
               FROM holds WHERE repo = ? AND pr = ?
               ORDER BY released_at IS NULL DESC, id DESC LIMIT 1"#,
            repo,
            pr
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row)
    }

    /// The PR's active hold, if any.
    pub async fn active_hold(&self, repo: &str, pr: i64) -> Result<Option<HoldRow>, StoreError> {
        let row = sqlx::query_as!(
            HoldRow,
            r#"SELECT id AS "id!", repo, pr, held_by, reason, comment_id,
                      created_at AS "created_at: DateTime<Utc>",
                      released_at AS "released_at: DateTime<Utc>", released_by
               FROM holds WHERE repo = ? AND pr = ? AND released_at IS NULL"#,
            repo,
            pr
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row)
    }
}

/// Records a hold and its `hold.placed` audit row inside the caller's transaction.
/// [`StoreError::ActiveWaiverExists`] is not used: a second hold on a held PR is refused by the
/// handler before it gets here, and by the unique index if it races.
pub(crate) async fn insert_hold_in(
    tx: &mut SqliteConnection,
    now: DateTime<Utc>,
    new: &NewHold,
) -> Result<i64, StoreError> {
    let why = reason(&new.reason)?;
    let created_at = ts(now);
    let id = sqlx::query_scalar!(
        r#"INSERT INTO holds (repo, pr, held_by, reason, comment_id, created_at)
           VALUES (?, ?, ?, ?, ?, ?) RETURNING id AS "id!""#,
        new.repo,
        new.pr,
        new.held_by,
        why,
        new.comment_id,
        created_at
    )
    .fetch_one(&mut *tx)
    .await?;
    insert_audit(
        tx,
        now,
        &NewAudit {
            actor: new.held_by.clone(),
            action: actions::HOLD_PLACED.into(),
            repo: Some(new.repo.clone()),
            pr: Some(new.pr),
            gate: None,
            waiver_id: None,
            detail: why.to_string(),
        },
    )
    .await?;
    Ok(id)
}

/// Releases the PR's active hold with its `hold.released` audit row, inside the caller's
/// transaction. Nothing to release (released meanwhile) is fine: returns `false`.
pub(crate) async fn release_hold_in(
    tx: &mut SqliteConnection,
    now: DateTime<Utc>,
    repo: &str,
    pr: i64,
    by: &str,
    detail: &str,
) -> Result<bool, StoreError> {
    let released_at = ts(now);
    let released = sqlx::query_scalar!(
        r#"UPDATE holds SET released_at = ?, released_by = ?
           WHERE repo = ? AND pr = ? AND released_at IS NULL RETURNING id AS "id!""#,
        released_at,
        by,
        repo,
        pr
    )
    .fetch_optional(&mut *tx)
    .await?;
    if released.is_none() {
        return Ok(false);
    }
    insert_audit(
        tx,
        now,
        &NewAudit {
            actor: by.to_string(),
            action: actions::HOLD_RELEASED.into(),
            repo: Some(repo.to_string()),
            pr: Some(pr),
            gate: None,
            waiver_id: None,
            detail: detail.to_string(),
        },
    )
    .await?;
    Ok(true)
}
