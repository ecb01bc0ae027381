//! Carrying out what a handler planned: the store writes that come before publishing, the
//! statuses (with the status guard), and the one reply to a command comment. `serve` (through
//! the handlers) and `sopbot check --post` publish through here alike.
//!
//! Safe to run again after a crash: a comment's effects are recorded in one transaction before
//! anything is published, replies carry a marker and are edited rather than posted twice, and
//! statuses are only posted when they change.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use tracing::{info, warn};

use crate::gate::GateState;
use crate::gitea::PullRequest;
use crate::store::{actions, CommentOutcome, NewAudit, NewEvaluation, StoreError};
use crate::types::RepoName;

use super::replies::{self, Reply};
use super::statuses::{self, Posted};
use super::{Ctx, PrEvaluation};

/// What a handler decided to do; [`run`] does it.
#[derive(Debug)]
pub enum Plan {
    /// Nothing (a comment without commands, an event about another repository).
    Nothing,
    /// Only an audit row: something not acted on, on purpose (an edit by someone other than
    /// the author, commands in a code-review thread).
    Audit(NewAudit),
    /// End waivers (when any), then evaluate the PR and post its statuses.
    Evaluate {
        target: Target,
        end: Option<Ending>,
        /// The poller's digest of what it saw, recorded with the evaluation.
        fingerprint: Option<String>,
    },
    /// Record a command comment's effects (unless recorded before), then publish its reply.
    Reply(Box<ReplyPlan>),
}

/// The PR to evaluate: fetched already, or to fetch.
#[derive(Debug)]
pub enum Target {
    Fetched(Box<PullRequest>),
    Number(u64),
}

/// Waivers that end before the evaluation.
#[derive(Debug)]
pub enum Ending {
    /// Every active waiver of the PR ends (it was closed).
    Expire { pr: u64, why: &'static str },
    /// These waivers end (the comment that declared them was deleted).
    Revoke { waivers: Vec<i64>, why: String },
}

/// A command comment's answer, and the effects to record before it is published.
#[derive(Debug)]
pub struct ReplyPlan {
    pub comment_id: i64,
    /// `None` when recorded before a crash: the reply is published from the record.
    pub outcome: Option<CommentOutcome>,
    pub reply: Reply,
    /// The PR as fetched for the decision, when at hand: evaluating from it saves asking Gitea
    /// for it again (a push meanwhile is the next event of this PR, evaluated next).
    pub pull: Option<PullRequest>,
}

/// Does what `plan` says for `repo`.
pub async fn run(ctx: &Ctx, repo: &RepoName, plan: Plan) -> anyhow::Result<()> {
    match plan {
        Plan::Nothing => Ok(()),
        Plan::Audit(audit) => Ok(ctx.store.record_audit(&audit).await.map(|_| ())?),
        Plan::Evaluate {
            target,
            end,
            fingerprint,
        } => {
            if let Some(end) = end {
                end_waivers(ctx, repo, end).await?;
            }
            let pull = match target {
                Target::Fetched(pull) => *pull,
                Target::Number(n) => ctx.client.pull(repo, n).await?,
            };
            evaluate(ctx, repo, &pull, fingerprint).await
        }
        Plan::Reply(plan) => reply(ctx, repo, *plan).await,
    }
}

async fn end_waivers(ctx: &Ctx, repo: &RepoName, end: Ending) -> anyhow::Result<()> {
    match end {
        Ending::Expire { pr, why } => {
            let ended = ctx
                .store
                .expire_waivers_for_pr(&repo.full(), pr as i64, "sopbot", why)
                .await?;
            if !ended.is_empty() {
                info!(%repo, pr, count = ended.len(), why, "waivers expired");
            }
        }
        Ending::Revoke { waivers, why } => {
            for id in waivers {
                match ctx.store.revoke_waiver(id, "sopbot", &why).await {
                    Ok(_) | Err(StoreError::AlreadyRevoked { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    Ok(())
}

/// Records the comment's effects (first write wins: a rerun publishes the recorded answer),
/// evaluates what the answer asks, posts the statuses, and posts or edits the one reply.
/// Every `/refire` evaluates anew: its reply promises a fresh membership look-up.
async fn reply(ctx: &Ctx, repo: &RepoName, plan: ReplyPlan) -> anyhow::Result<()> {
    let ReplyPlan {
        comment_id,
        outcome,
        mut reply,
        pull,
    } = plan;
    let mut retry = true;
    if let Some(outcome) = outcome {
        let recorded = ctx.store.record_comment_outcome(&outcome).await?;
        retry = !recorded.is_new();
        if retry {
            reply = serde_json::from_str(&recorded.into_row().outcome)?;
        }
    }
    let mut notes = Vec::new();
    let eval = if reply.evaluate.is_empty() {
        None
    } else {
        let pull = match pull {
            Some(pull) => pull,
            None => ctx.client.pull(repo, reply.pr).await?,
        };
        let published =
            statuses_of_head(ctx, repo, &pull, Some(&reply.evaluate), reply.fresh).await?;
        notes = published.notes;
        notes.extend(shared_head_note(ctx, &published.evals));
        published.evals.into_iter().next()
    };
    let body = replies::compose(comment_id, &reply, eval.as_ref(), &notes);
    let existing = if retry {
        find_reply(ctx, repo, reply.pr, comment_id).await?
    } else {
        None
    };
    let posted = match existing {
        Some(id) => ctx.client.edit_comment(repo, id, &body).await?,
        None => ctx.client.post_comment(repo, reply.pr, &body).await?,
    };
    ctx.store
        .set_reply_comment_id(&repo.full(), comment_id, posted.id)
        .await?;
    info!(%repo, pr = reply.pr, comment_id, reply = posted.id, "answered");
    Ok(())
}

/// The bot's earlier reply to a comment, found by its marker (after a crash).
async fn find_reply(
    ctx: &Ctx,
    repo: &RepoName,
    pr: u64,
    comment_id: i64,
) -> anyhow::Result<Option<i64>> {
    let marker = replies::marker(comment_id);
    let comments = ctx.client.issue_comments(repo, pr).await?;
    Ok(comments
        .iter()
        .find(|c| {
            c.author().is_some_and(|a| a.eq_ignore_ascii_case(&ctx.bot))
                && c.body.starts_with(&marker)
        })
        .map(|c| c.id))
}

/// Evaluates every gate of a PR, and of the other open PRs on its head commit, posts the
/// statuses, tells the PR about overturned statuses, and records the evaluations (pushes,
/// reviews, the poller).
async fn evaluate(
    ctx: &Ctx,
    repo: &RepoName,
    pull: &PullRequest,
    fingerprint: Option<String>,
) -> anyhow::Result<()> {
    let published = statuses_of_head(ctx, repo, pull, None, false).await?;
    if !published.notes.is_empty() {
        ctx.client
            .post_comment(repo, pull.number, &published.notes.join("\n\n"))
            .await?;
    }
    for (i, eval) in published.evals.iter().enumerate() {
        // The poller's fingerprint stands for the PR it saw; siblings record their own.
        let fp = if i == 0 { fingerprint.clone() } else { None };
        // A closed PR's record was just forgotten (see `statuses_of_head`).
        if let Some(fp) = fp
            .or_else(|| eval.reviews_fingerprint.clone())
            .filter(|_| eval.open)
        {
            ctx.store
                .record_evaluation(&NewEvaluation {
                    repo: repo.full(),
                    pr: eval.pr as i64,
                    head_sha: eval.head_sha.clone(),
                    reviews_fingerprint: fp,
                })
                .await?;
        }
        let failing: Vec<&str> = eval
            .gates
            .iter()
            .filter(|v| v.state != GateState::Success)
            .map(|v| v.gate.as_str())
            .collect();
        info!(%repo, pr = eval.pr, head = %eval.head_sha, ?failing, "evaluated");
    }
    Ok(())
}

/// What publishing the statuses of one head commit did.
pub struct Published {
    /// The PR's evaluation first, then those of the other open PRs on its head commit.
    pub evals: Vec<PrEvaluation>,
    pub posted: Posted,
    /// What to tell the PR about statuses the guard overturned.
    pub notes: Vec<String>,
}

/// Evaluates `gates` (all when `None`) of a PR and of the other open PRs on its head commit,
/// posts the statuses they stand for, and runs the status guard: a status another account
/// posted on one of sopbot's contexts is overturned, audited, and noted for the PR. Holds the
/// commit's lock throughout (see [`HeadLocks`]). `fresh` bypasses the membership cache.
pub async fn statuses_of_head(
    ctx: &Ctx,
    repo: &RepoName,
    pull: &PullRequest,
    gates: Option<&[String]>,
    fresh: bool,
) -> anyhow::Result<Published> {
    let key = (repo.full(), pull.head.sha.clone());
    ctx.heads
        .hold(key, async {
            let evals = ctx.evaluate_head(repo, pull, gates, fresh).await?;
            let ended = super::lifecycle::end_waivers(ctx, repo, &evals).await?;
            // Recorded before posting, under the lock: an evaluation of another PR on this
            // commit that comes next finds this one (`Ctx::sharing_head`).
            for eval in &evals {
                if eval.open {
                    ctx.store
                        .note_head(&repo.full(), eval.pr.into(), &eval.head_sha.as_str().into())
                        .await?;
                } else {
                    ctx.store
                        .forget_evaluation(&repo.full(), eval.pr.into())
                        .await?;
                }
            }
            crate::details::record_evaluations(ctx, &evals, gates.is_some()).await?;
            let all: Vec<&PrEvaluation> = evals.iter().collect();
            let links = ctx.links.as_ref();
            let posted = statuses::post(&ctx.client, &ctx.config, links, repo, &all, &ctx.bot)
                .await
                .context("cannot post statuses")?;
            let mut notes = ended;
            notes.extend(guard(ctx, repo, &evals, &posted).await?);
            super::review_requests::request_reviews(ctx, repo, &evals).await;
            Ok(Published {
                evals,
                posted,
                notes,
            })
        })
        .await
}

/// The status guard: audits each overturned status, and returns what to tell the PR.
async fn guard(
    ctx: &Ctx,
    repo: &RepoName,
    evals: &[PrEvaluation],
    posted: &Posted,
) -> anyhow::Result<Vec<String>> {
    let Some(eval) = evals.first() else {
        return Ok(vec![]);
    };
    let mut notes = Vec::new();
    for o in &posted.overturned {
        let (context, who, state, ours) = (&o.context, &o.by, &o.state, &o.ours);
        ctx.store
            .record_audit(&NewAudit {
                actor: who.clone(),
                action: actions::STATUS_GUARD.into(),
                repo: Some(repo.full()),
                pr: Some(eval.pr as i64),
                gate: None,
                waiver_id: None,
                detail: format!(
                    "`{state}` posted on `{context}` at {} by @{who}; sopbot re-posted `{ours}`",
                    eval.head_sha
                ),
            })
            .await?;
        warn!(%repo, pr = eval.pr, context, by = who, "status guard: overturned a hand-posted status");
        notes.push(replies::guard(context, who, state, ours));
    }
    Ok(notes)
}

/// When other open PRs share this PR's head commit, which of this PR's passing gates the
/// commit's statuses still hold back, and why (the PR that waits).
fn shared_head_note(ctx: &Ctx, evals: &[PrEvaluation]) -> Option<String> {
    let (own, others) = evals.split_first()?;
    if others.is_empty() || !own.open {
        return None;
    }
    let all: Vec<&PrEvaluation> = evals.iter().collect();
    let combined = statuses::desired(&ctx.config, None, &all);
    let gates = ctx.config.gates();
    let held: Vec<(String, String, String)> = own
        .gates
        .iter()
        .filter(|v| v.state == GateState::Success && v.skipped.is_none())
        .filter_map(|v| {
            let context = &gates.iter().find(|g| g.name == v.gate)?.context;
            let s = combined.iter().find(|s| &s.context == context)?;
            (s.state.as_str() != "success").then(|| {
                (
                    context.clone(),
                    s.state.as_str().to_string(),
                    s.description.clone(),
                )
            })
        })
        .collect();
    let numbers: Vec<u64> = others.iter().map(|e| e.pr).collect();
    Some(replies::shared_head(&own.head_sha, &numbers, &held))
}

/// Held while a head commit's PRs are evaluated and its statuses posted.
type HeadLock = Arc<tokio::sync::Mutex<()>>;

/// One evaluate-and-post at a time per head commit. Workers run one event per PR at a time,
/// but the PRs sharing a commit share its statuses: without this, a worker that evaluated
/// before another PR's waiver was revoked could post its stale `success` after the
/// revocation's `failure`.
#[derive(Debug, Default)]
pub(crate) struct HeadLocks(Mutex<HashMap<(String, String), HeadLock>>);

impl HeadLocks {
    /// Runs `work` holding the lock of `key` (repository, head commit).
    async fn hold<T>(
        &self,
        key: (String, String),
        work: impl std::future::Future<Output = T>,
    ) -> T {
        let lock = {
            let mut heads = self.0.lock().unwrap_or_else(|e| e.into_inner());
            heads.entry(key.clone()).or_default().clone()
        };
        let result = {
            let _held = lock.lock().await;
            work.await
        };
        let mut heads = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // Forget the lock when nobody else holds or waits for it (the map and ours).
        if Arc::strong_count(&lock) == 2 {
            heads.remove(&key);
        }
        result
    }
}
