//! A handled comment's effects, recorded at once: the waivers it created, the ones it revoked,
//! the audit rows (refusals too), and the answer to publish. One transaction, so a crash leaves
//! either nothing (the comment is handled again from scratch) or everything (only the answer is
//! published again) — never a waiver without its record, nor an audit row twice.

use super::audit::{insert_audit, NewAudit};
use super::cursors::{Recorded, ReplyRow};
use super::holds::{insert_hold_in, release_hold_in, NewHold};
use super::waivers::{insert_waiver_in, revoke_waiver_in, NewWaiver};
use super::{ts, Store, StoreError};
use chrono::{DateTime, Utc};

/// A waiver to end because of a comment (`/sop-revoke`, a deleted comment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    pub waiver_id: i64,
    pub by: String,
    pub reason: String,
}

/// One write a comment causes. A comment's effects are applied in its commands' order, so
/// `/sop-revoke qa` then `/sop-n/a qa …` replaces the waiver, and the other way round leaves
/// none active.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Waive(NewWaiver),
    /// Ends a stored waiver.
    Revoke(Revocation),
    /// Ends the waiver of `gate` that an earlier [`Effect::Waive`] of the same comment records.
    Withdraw {
        gate: String,
        by: String,
        reason: String,
    },
    /// Puts a hold on the PR (`/sop-hold`).
    Hold(NewHold),
    /// Releases the PR's active hold (`/sop-unhold`); `detail` goes to the audit row.
    Unhold {
        by: String,
        detail: String,
    },
}

/// Everything a comment caused.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CommentOutcome {
    pub repo: String,
    /// The PR the comment is on; `None` only in tests of the store alone.
    pub pr: Option<i64>,
    pub comment_id: i64,
    pub body_sha256: String,
    /// Waivers and revocations, in order.
    pub effects: Vec<Effect>,
    /// Entries with no waiver row of their own (refusals).
    pub audits: Vec<NewAudit>,
    /// The answer to publish, as JSON (the engine's own format).
    pub outcome: String,
}

/// A handled comment with its recorded answer.
#[derive(Debug, Clone, PartialEq)]
pub struct HandledComment {
    pub reply: ReplyRow,
    pub outcome: String,
}

impl Store {
    /// Records a comment's effects and answer, first write wins: when the comment was already
    /// handled nothing is written and the stored answer is returned.
    pub async fn record_comment_outcome(
        &self,
        o: &CommentOutcome,
    ) -> Result<Recorded<HandledComment>, StoreError> {
        let now = self.now();
        // Durable before the reply is posted: a lost record would let a rerun reply again.
        let mut tx = self.durable.begin_with("BEGIN IMMEDIATE").await?;
        if let Some(existing) = handled_in(&mut tx, &o.repo, o.comment_id).await? {
            return Ok(Recorded::Existing(existing));
        }
        // The waivers this comment records, by gate, for a withdrawal later in it.
        let mut recorded: Vec<(&str, i64)> = Vec::new();
        for e in &o.effects {
            match e {
                Effect::Waive(w) => {
                    let row = insert_waiver_in(&mut tx, now, w).await?;
                    recorded.push((&w.gate, row.id));
                }
                Effect::Revoke(r) => {
                    match revoke_waiver_in(&mut tx, now, r.waiver_id, &r.by, &r.reason).await {
                        // Revoked meanwhile (the CLI): the outcome holds all the same.
                        Err(StoreError::AlreadyRevoked { .. }) => {}
                        other => {
                            other?;
                        }
                    }
                }
                Effect::Withdraw { gate, by, reason } => {
                    let (_, id) = recorded
                        .iter()
                        .rev()
                        .find(|(g, _)| g == gate)
                        .ok_or(StoreError::NotFound)?;
                    revoke_waiver_in(&mut tx, now, *id, by, reason).await?;
                }
                Effect::Hold(h) => {
                    insert_hold_in(&mut tx, now, h).await?;
                }
                Effect::Unhold { by, detail } => {
                    let pr = o.pr.ok_or(StoreError::NotFound)?;
                    release_hold_in(&mut tx, now, &o.repo, pr, by, detail).await?;
                }
            }
        }
        for a in &o.audits {
            insert_audit(&mut tx, now, a).await?;
        }
        let handled_at = ts(now);
        sqlx::query!(
            "INSERT INTO comment_replies (repo, comment_id, reply_comment_id, body_sha256,
                                          handled_at, outcome, pr)
             VALUES (?, ?, NULL, ?, ?, ?, ?)",
            o.repo,
            o.comment_id,
            o.body_sha256,
            handled_at,
            o.outcome,
            o.pr
        )
        .execute(&mut *tx)
        .await?;
        let stored = handled_in(&mut tx, &o.repo, o.comment_id)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        Ok(Recorded::New(stored))
    }

    /// The newest (highest id: Gitea numbers comments in creation order) comment of a PR the
    /// bot has handled, if any.
    pub async fn newest_handled_comment(
        &self,
        repo: &str,
        pr: i64,
    ) -> Result<Option<i64>, StoreError> {
        let newest = sqlx::query_scalar!(
            r#"SELECT MAX(comment_id) AS "newest?: i64" FROM comment_replies
               WHERE repo = ? AND pr = ?"#,
            repo,
            pr
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(newest)
    }

    /// The recorded effects of a comment, if it was handled.
    pub async fn handled_comment(
        &self,
        repo: &str,
        comment_id: i64,
    ) -> Result<Option<HandledComment>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        handled_in(&mut conn, repo, comment_id).await
    }
}

async fn handled_in(
    conn: &mut sqlx::SqliteConnection,
    repo: &str,
    comment_id: i64,
) -> Result<Option<HandledComment>, StoreError> {
    let row = sqlx::query!(
        r#"SELECT repo, comment_id, reply_comment_id, body_sha256,
                  handled_at AS "handled_at: DateTime<Utc>", outcome
           FROM comment_replies WHERE repo = ? AND comment_id = ?"#,
        repo,
        comment_id
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| HandledComment {
        reply: ReplyRow {
            repo: r.repo,
            comment_id: r.comment_id,
            reply_comment_id: r.reply_comment_id,
            body_sha256: r.body_sha256,
            handled_at: r.handled_at,
        },
        outcome: r.outcome,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{actions, NewAudit, NewWaiver, WaiverFilter};

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("t.db")).await.unwrap();
        (dir, s)
    }

    fn outcome(comment_id: i64) -> CommentOutcome {
        CommentOutcome {
            repo: "acme/widgets".into(),
            pr: None,
            comment_id,
            body_sha256: "ab".into(),
            effects: vec![Effect::Waive(NewWaiver {
                repo: "acme/widgets".into(),
                pr: 7,
                gate: "security".into(),
                declared_by: "carol".into(),
                reason: "docs only".into(),
                comment_id: Some(comment_id),
                head_sha: "h".into(),
            })],
            audits: vec![NewAudit {
                actor: "carol".into(),
                action: actions::WAIVER_REFUSED.into(),
                repo: Some("acme/widgets".into()),
                pr: Some(7),
                gate: Some("qa".into()),
                waiver_id: None,
                detail: "not in qa".into(),
            }],
            outcome: r#"{"lines":[]}"#.into(),
        }
    }

    #[tokio::test]
    async fn a_comment_is_recorded_once_with_all_its_effects() {
        let (_d, s) = store().await;
        let first = s.record_comment_outcome(&outcome(1042)).await.unwrap();
        assert!(first.is_new());
        let again = s.record_comment_outcome(&outcome(1042)).await.unwrap();
        assert!(!again.is_new());
        assert_eq!(again.into_row().outcome, r#"{"lines":[]}"#);
        let waivers = s.list_waivers(&WaiverFilter::default()).await.unwrap();
        assert_eq!(waivers.len(), 1);
        let audit = s.list_audit(&Default::default()).await.unwrap();
        let kinds: Vec<_> = audit.iter().map(|a| a.action.as_str()).collect();
        assert_eq!(kinds, [actions::WAIVER_CREATED, actions::WAIVER_REFUSED]);
        let handled = s
            .handled_comment("acme/widgets", 1042)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(handled.reply.reply_comment_id, None);
    }

    #[tokio::test]
    async fn a_failing_effect_records_nothing() {
        let (_d, s) = store().await;
        let mut bad = outcome(1);
        if let Effect::Waive(w) = &mut bad.effects[0] {
            w.reason = "  ".into();
        }
        assert!(s.record_comment_outcome(&bad).await.is_err());
        assert!(s
            .handled_comment("acme/widgets", 1)
            .await
            .unwrap()
            .is_none());
        assert!(s.list_audit(&Default::default()).await.unwrap().is_empty());
    }
}
