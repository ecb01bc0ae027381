//! The small records that make the bot idempotent and let the poller catch up cheaply:
//! - `comment_replies`: a comment is handled and answered once, whichever path saw it;
//! - `poll_cursors`: where the poller's comment listing resumes, per repository;
//! - `pr_evaluations`: what an open PR looked like when last evaluated, so the poller
//!   re-evaluates only PRs whose head or reviews changed (Gitea sends no webhook when a review
//!   is dismissed).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{ts, Store, StoreError};
use crate::types::{CommitSha, PrNumber};

/// The outcome of a first-write-wins record.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded<T> {
    /// Written now.
    New(T),
    /// Already there (returned as stored); nothing was written.
    Existing(T),
}

impl<T> Recorded<T> {
    pub fn is_new(&self) -> bool {
        matches!(self, Recorded::New(_))
    }

    /// The stored row, new or not.
    pub fn into_row(self) -> T {
        match self {
            Recorded::New(row) | Recorded::Existing(row) => row,
        }
    }
}

/// A handled comment.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, Serialize)]
pub struct ReplyRow {
    pub repo: String,
    pub comment_id: i64,
    /// The bot's reply; `None` while not (yet) posted, or when no reply was due.
    pub reply_comment_id: Option<i64>,
    /// Hex SHA-256 of the comment body as handled (an edit changes it).
    pub body_sha256: String,
    pub handled_at: DateTime<Utc>,
}

/// The poller's position in one repository's comments.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, Serialize)]
pub struct CursorRow {
    pub repo: String,
    /// List comments updated since this time next round.
    pub comments_since: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// List PRs updated since this time next round; `None` before the first fast pass.
    pub pulls_since: Option<DateTime<Utc>>,
    /// When the last full sweep of the repository's open PRs finished.
    pub swept_at: Option<DateTime<Utc>>,
}

/// What an open PR looked like when last evaluated.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, Serialize)]
pub struct EvaluationRow {
    pub repo: String,
    pub pr: i64,
    pub head_sha: String,
    /// An opaque digest of the reviews (ids, states, dismissed flags) chosen by the caller.
    pub reviews_fingerprint: String,
    pub evaluated_at: DateTime<Utc>,
}

/// An evaluation to remember.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvaluation {
    pub repo: String,
    pub pr: i64,
    pub head_sha: String,
    pub reviews_fingerprint: String,
}

impl Store {
    /// Notes the id of the reply posted for a handled comment. [`StoreError::NotFound`] if the
    /// comment was never recorded.
    pub async fn set_reply_comment_id(
        &self,
        repo: &str,
        comment_id: i64,
        reply_comment_id: i64,
    ) -> Result<ReplyRow, StoreError> {
        let row = sqlx::query_as!(
            ReplyRow,
            r#"UPDATE comment_replies SET reply_comment_id = ?
               WHERE repo = ? AND comment_id = ?
               RETURNING repo, comment_id, reply_comment_id, body_sha256,
                         handled_at AS "handled_at: DateTime<Utc>""#,
            reply_comment_id,
            repo,
            comment_id
        )
        .fetch_optional(&self.pool)
        .await?;
        row.ok_or(StoreError::NotFound)
    }

    /// The poller's cursor for a repository; `None` before its first round.
    pub async fn cursor(&self, repo: &str) -> Result<Option<CursorRow>, StoreError> {
        let row = sqlx::query_as!(
            CursorRow,
            r#"SELECT repo, comments_since AS "comments_since: DateTime<Utc>",
                      updated_at AS "updated_at: DateTime<Utc>",
                      pulls_since AS "pulls_since: DateTime<Utc>",
                      swept_at AS "swept_at: DateTime<Utc>"
               FROM poll_cursors WHERE repo = ?"#,
            repo
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row)
    }

    /// Moves the poller's cursor for a repository (creating it).
    pub async fn set_cursor(
        &self,
        repo: &str,
        since: DateTime<Utc>,
    ) -> Result<CursorRow, StoreError> {
        let (since, now) = (ts(since), ts(self.now()));
        let row = sqlx::query_as!(
            CursorRow,
            r#"INSERT INTO poll_cursors (repo, comments_since, updated_at) VALUES (?, ?, ?)
               ON CONFLICT (repo) DO UPDATE SET
                   comments_since = excluded.comments_since, updated_at = excluded.updated_at
               RETURNING repo, comments_since AS "comments_since: DateTime<Utc>",
                         updated_at AS "updated_at: DateTime<Utc>",
                         pulls_since AS "pulls_since: DateTime<Utc>",
                         swept_at AS "swept_at: DateTime<Utc>""#,
            repo,
            since,
            now
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(row)
    }

    /// Moves the poller's PR cursor for a repository (creating the row: the comment cursor
    /// then starts at the same time).
    pub async fn set_pulls_cursor(
        &self,
        repo: &str,
        since: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (since, now) = (ts(since), ts(self.now()));
        sqlx::query!(
            "INSERT INTO poll_cursors (repo, comments_since, updated_at, pulls_since)
             VALUES (?1, ?2, ?3, ?2)
             ON CONFLICT (repo) DO UPDATE SET
                 pulls_since = excluded.pulls_since, updated_at = excluded.updated_at",
            repo,
            since,
            now
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records that a full sweep of the repository finished at `at`.
    pub async fn set_swept_at(&self, repo: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let (at, now) = (ts(at), ts(self.now()));
        sqlx::query!(
            "INSERT INTO poll_cursors (repo, comments_since, updated_at, swept_at)
             VALUES (?1, ?2, ?3, ?2)
             ON CONFLICT (repo) DO UPDATE SET
                 swept_at = excluded.swept_at, updated_at = excluded.updated_at",
            repo,
            at,
            now
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// What the PR looked like at its last evaluation; `None` if never evaluated.
    pub async fn last_evaluation(
        &self,
        repo: &str,
        pr: PrNumber,
    ) -> Result<Option<EvaluationRow>, StoreError> {
        let pr = pr.to_sql();
        let row = sqlx::query_as!(
            EvaluationRow,
            r#"SELECT repo, pr, head_sha, reviews_fingerprint,
                      evaluated_at AS "evaluated_at: DateTime<Utc>"
               FROM pr_evaluations WHERE repo = ? AND pr = ?"#,
            repo,
            pr
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row)
    }

    /// Remembers an evaluation (replacing the previous one of that PR).
    pub async fn record_evaluation(
        &self,
        new: &NewEvaluation,
    ) -> Result<EvaluationRow, StoreError> {
        let now = ts(self.now());
        let row = sqlx::query_as!(
            EvaluationRow,
            r#"INSERT INTO pr_evaluations (repo, pr, head_sha, reviews_fingerprint, evaluated_at)
               VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (repo, pr) DO UPDATE SET
                   head_sha = excluded.head_sha,
                   reviews_fingerprint = excluded.reviews_fingerprint,
                   evaluated_at = excluded.evaluated_at
               RETURNING repo, pr, head_sha, reviews_fingerprint,
                         evaluated_at AS "evaluated_at: DateTime<Utc>""#,
            new.repo,
            new.pr,
            new.head_sha,
            new.reviews_fingerprint,
            now
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(row)
    }

    /// Records that an open PR's head is `head_sha` (every evaluation does, under the commit's
    /// lock, before it posts): the PRs that share a head commit are found here, without
    /// listing every open PR. A PR seen for the first time, or on a new head, gets an empty
    /// fingerprint, so the poller compares its reviews again until an evaluation is recorded.
    pub async fn note_head(
        &self,
        repo: &str,
        pr: PrNumber,
        head_sha: &CommitSha,
    ) -> Result<(), StoreError> {
        let (pr, head_sha) = (pr.to_sql(), head_sha.as_str());
        let now = ts(self.now());
        sqlx::query!(
            "INSERT INTO pr_evaluations (repo, pr, head_sha, reviews_fingerprint, evaluated_at)
             VALUES (?1, ?2, ?3, '', ?4)
             ON CONFLICT (repo, pr) DO UPDATE SET
                 reviews_fingerprint = CASE WHEN head_sha = excluded.head_sha
                     THEN reviews_fingerprint ELSE '' END,
                 head_sha = excluded.head_sha",
            repo,
            pr,
            head_sha,
            now
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The sweep's census: the head of an open PR never recorded (an evaluation's own record,
    /// read from the PR itself, is never replaced by the listing's, which may lag).
    pub async fn census_head(
        &self,
        repo: &str,
        pr: PrNumber,
        head_sha: &CommitSha,
    ) -> Result<(), StoreError> {
        let (pr, head_sha) = (pr.to_sql(), head_sha.as_str());
        let now = ts(self.now());
        sqlx::query!(
            "INSERT INTO pr_evaluations (repo, pr, head_sha, reviews_fingerprint, evaluated_at)
             VALUES (?1, ?2, ?3, '', ?4)
             ON CONFLICT (repo, pr) DO NOTHING",
            repo,
            pr,
            head_sha,
            now
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The PRs whose recorded head is `head_sha` (see [`Store::note_head`]).
    pub async fn prs_on_head(
        &self,
        repo: &str,
        head_sha: &CommitSha,
    ) -> Result<Vec<PrNumber>, StoreError> {
        let head_sha = head_sha.as_str();
        let prs = sqlx::query_scalar!(
            "SELECT pr FROM pr_evaluations WHERE repo = ? AND head_sha = ? ORDER BY pr",
            repo,
            head_sha
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(prs.into_iter().map(PrNumber::from_sql).collect())
    }

    /// Forgets a closed PR's last evaluation: it shares no head any more, and a reopen (whose
    /// webhook may be lost) makes the poller evaluate it afresh.
    pub async fn forget_evaluation(&self, repo: &str, pr: PrNumber) -> Result<(), StoreError> {
        let pr = pr.to_sql();
        sqlx::query!(
            "DELETE FROM pr_evaluations WHERE repo = ? AND pr = ?",
            repo,
            pr
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
