//! The waiver lifecycle at evaluation time: which of a PR's active waivers still stand under the
//! `[waiver]` rules (`invalidate_on_push`, `max_age`, `require_declarer_membership`), decided by
//! the pure core (`gate::lifecycle`) over facts gathered here; and, when statuses are published,
//! ending the others with an audit row and a line on the PR saying why (docs/waivers.md).
//!
//! Deciding at evaluation, from the head a waiver was declared on and the head now, is what makes
//! a lost push webhook harmless: the poller or the sweep evaluates the PR and the waiver ends.
//! `sopbot check` evaluates too, but only publishing ends anything.

use std::collections::HashMap;

use serde::Serialize;
use tracing::{info, warn};

use crate::gate::lifecycle::{
    standing, Declared, Ended, InvalidateOnPush, LifeStep, Pushed, Standing,
};
use crate::gate::Answers;
use crate::gitea::PullRequest;
use crate::store::{StoreError, WaiverRow};
use crate::types::RepoName;

use super::{replies, Ctx, PrEvaluation};

/// How many commits back from the head a push of base merges is followed before it counts as
/// a change (fail closed).
const MAX_MERGES: usize = 20;

/// A waiver the lifecycle rules end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EndedWaiver {
    pub id: i64,
    pub gate: String,
    pub declared_by: String,
    #[serde(flatten)]
    pub ended: Ended,
}

impl Ctx {
    /// The PR's active waivers that stand, and those the lifecycle rules end now. A closed PR's
    /// waivers end with the close; a waiver whose declarer's membership cannot be read does not
    /// count now but is not ended.
    pub(super) async fn standing_waivers(
        &self,
        repo: &RepoName,
        pr: &PullRequest,
        fresh: bool,
    ) -> anyhow::Result<(Vec<WaiverRow>, Vec<EndedWaiver>)> {
        let rows = self
            .store
            .active_waivers(&repo.full(), pr.number.into())
            .await?;
        let rules = self.config.lifecycle();
        if rows.is_empty() || !pr.is_open() || rules == Default::default() {
            return Ok((rows, vec![]));
        }
        let now = self.store.now();
        let gates = self.gates(repo);
        let mut pushes: HashMap<String, Pushed> = HashMap::new();
        let (mut stand, mut ended) = (Vec::new(), Vec::new());
        for w in rows {
            // A gate no longer configured is not evaluated: its waiver is left as it is.
            let Some(gate) = gates.iter().find(|g| g.name == w.gate) else {
                stand.push(w);
                continue;
            };
            let pushed = if w.head_sha == pr.head.sha {
                Pushed::Nothing
            } else if rules.invalidate_on_push != InvalidateOnPush::UnlessMergeFromBase {
                Pushed::Changes
            } else if let Some(p) = pushes.get(&w.head_sha) {
                p.clone()
            } else {
                let p = self.pushed_since(repo, pr, &w.head_sha).await;
                pushes.insert(w.head_sha.clone(), p.clone());
                p
            };
            let declared = Declared {
                declared_by: &w.declared_by,
                head_sha: &w.head_sha,
                created_at: w.created_at,
                waivable_by: &gate.waivable_by,
            };
            let mut answers = Answers::new();
            let decision = loop {
                match standing(&declared, &rules, now, &pr.head.sha, &pushed, &answers) {
                    LifeStep::Done(s) => break s,
                    LifeStep::Probe { team, login } => {
                        // `/refire` asks Gitea anew, as it does for approvers.
                        let m = self.membership(repo, &team, &login, fresh).await;
                        answers.insert((team, login), m);
                    }
                }
            };
            match decision {
                Standing::Stands => stand.push(w),
                Standing::Ends(why) => ended.push(EndedWaiver {
                    id: w.id,
                    gate: w.gate,
                    declared_by: w.declared_by,
                    ended: why,
                }),
                Standing::Unverified(why) => {
                    warn!(%repo, pr = pr.number, waiver = w.id, %why,
                        "waiver not counted: its declarer's membership could not be verified");
                }
            }
        }
        Ok((stand, ended))
    }

    /// What the commits from `from` (a waiver's head) to the PR's head are: only merges of the
    /// base branch when, following the history back from the head, every commit has exactly two
    /// parents, one of them the base branch's tip or the PR's merge base (Gitea's merge base is
    /// the base commit merged last), the other leading on to `from`. Anything else, or a
    /// commit Gitea cannot give, is a change.
    async fn pushed_since(&self, repo: &RepoName, pr: &PullRequest, from: &str) -> Pushed {
        let base: Vec<&str> = [Some(pr.base.sha.as_str()), pr.merge_base.as_deref()]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect();
        let mut sha = pr.head.sha.clone();
        for _ in 0..MAX_MERGES {
            if sha == from {
                return Pushed::OnlyBaseMerges;
            }
            let commit = match self.client.git_commit(repo, &sha).await {
                Ok(c) => c,
                Err(e) => {
                    warn!(%repo, pr = pr.number, sha, error = %e,
                        "cannot read a commit of the push: it counts as a change");
                    return Pushed::Changes;
                }
            };
            let parents: Vec<&str> = commit.parents.iter().map(|p| p.sha.as_str()).collect();
            let [a, b] = parents.as_slice() else {
                return Pushed::Changes;
            };
            sha = match (base.contains(a), base.contains(b)) {
                (_, true) => a.to_string(),
                (true, false) => b.to_string(),
                (false, false) => return Pushed::Changes,
            };
        }
        Pushed::Changes
    }
}

/// Ends the waivers the evaluations found ended, each with its `waiver.ended` audit row, and
/// returns what to tell the PR. A waiver another worker ended first is not told twice.
pub(super) async fn end_waivers(
    ctx: &Ctx,
    repo: &RepoName,
    evals: &[PrEvaluation],
) -> anyhow::Result<Vec<String>> {
    let mut notes = Vec::new();
    for eval in evals {
        for e in &eval.ended {
            match ctx.store.end_waiver(e.id, &e.ended.to_string()).await {
                Ok(_) => {
                    info!(%repo, pr = eval.pr, waiver = e.id, gate = %e.gate, why = %e.ended,
                        "waiver ended");
                    if eval.pr == evals[0].pr {
                        notes.push(replies::waiver_ended(
                            e.id,
                            &e.gate,
                            &e.declared_by,
                            &e.ended,
                        ));
                    } else {
                        // A sibling on the same head: said on its own PR.
                        let text = replies::waiver_ended(e.id, &e.gate, &e.declared_by, &e.ended);
                        ctx.client.post_comment(repo, eval.pr, &text).await?;
                    }
                }
                Err(StoreError::AlreadyRevoked { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(notes)
}
