//! Gathers the facts of one pull request from Gitea and the store, and runs the pure gate
//! evaluation over them, probing team membership lazily. Shared by `sopbot check`, the handlers
//! and the demo, so all three decide the same way.
//!
//! Cost of a typical evaluation, with team ids cached and base branches configured: the PR, its
//! reviews, and one membership probe per gate until the first member. Reviews are not fetched
//! when every gate is skipped or waived; the timeline (misfiled reviews) only when a gate fails.

use std::collections::{HashMap, HashSet};

use anyhow::Context;

use crate::config::{EvaluationConfig, Gate};
use crate::gate::{
    self, Answers, CommentFacts, Facts, GateSpec, GateState, Membership, Options, PrFacts,
    ReviewFacts, ReviewKind, Step, Verdict, WaiverFacts,
};
use crate::gitea::{PullRequest, Review, ReviewState, TeamError};
use crate::types::{CommitSha, RepoName, TeamRef};

/// The config's gate as the pure evaluation takes it: `gate/` knows no config type.
impl From<&Gate> for GateSpec {
    fn from(g: &Gate) -> Self {
        GateSpec {
            name: g.name.clone(),
            team: g.team.clone(),
            waivable_by: g.waivable_by.clone(),
            require_official: g.require_official,
            policy: g.policy.clone(),
        }
    }
}

/// The config's `[evaluation]` table as the pure evaluation takes it.
impl From<&EvaluationConfig> for Options {
    fn from(c: &EvaluationConfig) -> Self {
        Options {
            strict_head_sha: c.strict_head_sha,
            comment_approvals: c.comment_approvals,
            comment_approval_prefixes: c.comment_approval_prefixes.clone(),
            comment_approval_words: c.comment_approval_words.clone(),
        }
    }
}

use super::Ctx;

/// The verdicts for one PR, on its head commit.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PrEvaluation {
    pub repo: String,
    pub pr: u64,
    pub head_sha: String,
    pub gates: Vec<Verdict>,
    /// The PR's title, for the details page.
    #[serde(skip)]
    pub title: String,
    /// The author, for replies and waiver checks.
    #[serde(skip)]
    pub author: Option<String>,
    /// Gates waived on this PR, for the N/A status.
    #[serde(skip)]
    pub waived: Vec<String>,
    /// Whether the PR is open: statuses are only posted on open PRs.
    #[serde(skip)]
    pub open: bool,
    /// [`pr_fingerprint`] of what was read, when the reviews were read.
    #[serde(skip)]
    pub reviews_fingerprint: Option<String>,
    /// Waivers the `[waiver]` lifecycle rules end (ended in the store when published).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ended: Vec<super::EndedWaiver>,
    /// The PR's hold (`/sop-hold`), when it was ever held.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold: Option<super::HoldState>,
}

impl PrEvaluation {
    pub fn all_pass(&self) -> bool {
        self.gates.iter().all(|v| v.state == GateState::Success)
    }
}

impl Ctx {
    /// Evaluates `gates` (all configured gates when `None`) of a PR. `fresh` bypasses the
    /// membership cache (`/refire`).
    pub async fn evaluate(
        &self,
        repo: &RepoName,
        number: u64,
        gates: Option<&[String]>,
        fresh: bool,
    ) -> anyhow::Result<PrEvaluation> {
        let pr = self.client.pull(repo, number).await?;
        self.evaluate_pr(repo, &pr, gates, fresh).await
    }

    /// The other open PRs whose head is `pr`'s head commit. Gitea keeps statuses per commit
    /// (and repository), so the statuses there answer for every one of them. Listing every
    /// open PR would cost a call per 50 of them on every evaluation; instead:
    /// - the open PRs updated most recently (one call): when that page is not full it is every
    ///   open PR; otherwise a PR opened or pushed to lately, even one whose webhook is lost or
    ///   not yet handled, is on it;
    /// - the heads recorded in the store by every evaluation and by the sweep's census of all
    ///   open PRs (`Store::note_head`, `Store::census_head`): an older PR on this commit, read
    ///   again from Gitea to confirm it is still open and still there.
    ///
    /// Without a census (the poller or its sweep off, or not run yet) and more open PRs than a
    /// page, every open PR is listed. A closed `pr` still has siblings.
    pub async fn sharing_head(
        &self,
        repo: &RepoName,
        pr: &PullRequest,
    ) -> anyhow::Result<Vec<PullRequest>> {
        let context = "cannot list the open PRs that may share the head commit";
        let on_head = |p: &PullRequest| p.number != pr.number && p.head.sha == pr.head.sha;
        let recent = self
            .client
            .recently_updated_open_pulls(repo)
            .await
            .context(context)?;
        if recent.len() < crate::gitea::PAGE_SIZE {
            return Ok(recent.into_iter().filter(on_head).collect());
        }
        let census = self
            .store
            .cursor(&repo.full())
            .await?
            .is_some_and(|c| c.swept_at.is_some());
        if !census {
            let open = self.client.open_pulls(repo).await.context(context)?;
            return Ok(open.into_iter().filter(on_head).collect());
        }
        let mut siblings: Vec<PullRequest> = recent.into_iter().filter(on_head).collect();
        let head = CommitSha::from(pr.head.sha.as_str());
        for n in self.store.prs_on_head(&repo.full(), &head).await? {
            let n = u64::from(n);
            if n == pr.number || siblings.iter().any(|s| s.number == n) {
                continue;
            }
            match self.client.pull(repo, n).await {
                Ok(other) if other.is_open() && other.head.sha == pr.head.sha => {
                    siblings.push(other)
                }
                Ok(_) => {}
                // Deleted: it shares nothing, and must not block this commit's evaluations.
                Err(e) if e.is_not_found() => {
                    self.store.forget_evaluation(&repo.full(), n.into()).await?
                }
                Err(e) => {
                    return Err(anyhow::Error::new(e)
                        .context(format!("cannot read #{n}, which may share the head commit")))
                }
            }
        }
        Ok(siblings)
    }

    /// Evaluates `gates` of `pr` and of every other open PR on its head commit: what the
    /// statuses on that commit must stand for. The first evaluation is `pr`'s.
    pub async fn evaluate_head(
        &self,
        repo: &RepoName,
        pr: &PullRequest,
        gates: Option<&[String]>,
        fresh: bool,
    ) -> anyhow::Result<Vec<PrEvaluation>> {
        let mut evals = vec![self.evaluate_pr(repo, pr, gates, fresh).await?];
        for sibling in self.sharing_head(repo, pr).await? {
            evals.push(self.evaluate_pr(repo, &sibling, gates, fresh).await?);
        }
        Ok(evals)
    }

    /// As [`Ctx::evaluate`], for a PR already fetched.
    ///
    /// Long (~85 lines): each Gitea read happens only when the facts gathered so far have not
    /// decided every gate, and that order of reads is the point; it reads top to bottom.
    pub async fn evaluate_pr(
        &self,
        repo: &RepoName,
        pr: &PullRequest,
        gates: Option<&[String]>,
        fresh: bool,
    ) -> anyhow::Result<PrEvaluation> {
        // No gates would read as "all pass": a repository no longer served is an error.
        let Some(served) = self.served.get(&repo.full()) else {
            anyhow::bail!("{repo} is not served (no [[repo]], or its [[org]] topic is gone)");
        };
        let (standing, ended) = self.standing_waivers(repo, pr, fresh).await?;
        // A gate whose waiver just ended is evaluated too (`/refire qa` may end security's), so
        // its status is posted now rather than at the next full evaluation.
        let selected: Vec<Gate> = self
            .config
            .gates_for(&served)
            .into_iter()
            .filter(|g| {
                gates.is_none_or(|names| names.contains(&g.name))
                    || ended.iter().any(|e| e.gate == g.name)
            })
            .collect();
        let waivers: Vec<WaiverFacts> = standing
            .into_iter()
            .map(|w| WaiverFacts {
                id: w.id,
                gate: w.gate,
                declared_by: w.declared_by,
                reason: w.reason,
            })
            .collect();
        let mut facts = Facts {
            pr: PrFacts {
                author: pr.author().map(str::to_string),
                open: pr.is_open(),
                head_sha: pr.head.sha.clone(),
                base_sha: pr.base.sha.clone(),
                merge_base: pr.merge_base.clone(),
                base_branch: pr.base.ref_name.clone(),
                base_protected: true,
            },
            waivers,
            ..Facts::default()
        };
        let waived: Vec<String> = facts.waivers.iter().map(|w| w.gate.clone()).collect();
        let opts = Options::from(&self.config.evaluation);

        // Skip rules and waivers first: they need no reviews and no probes. A waiver that a
        // request for changes may override is not decided without the reviews.
        let decided_without_reviews = |facts: &Facts| {
            selected.iter().all(|g| {
                let block = g.policy.block_on_request_changes && !g.policy.waiver_overrides_block;
                matches!(
                    gate::evaluate(&GateSpec::from(g), facts, &opts, &Answers::new()),
                    Step::Done(v) if v.skipped.is_some() || (v.waiver.is_some() && !block)
                )
            })
        };
        if facts.pr.open && !decided_without_reviews(&facts) {
            facts.pr.base_protected = self.base_protected(repo, &pr.base.ref_name).await?;
        }
        if facts.pr.open && facts.pr.base_protected {
            self.read_changes(repo, pr, &selected, &mut facts).await;
        }
        let mut answers = Answers::new();
        let mut reviews = None;
        // Whether Gitea may be hiding reviews from the bot: unknown without a total.
        let mut hidden_reviews = true;
        if !decided_without_reviews(&facts) {
            let fetched;
            (fetched, hidden_reviews) = self.read_reviews(repo, pr, &mut facts, &opts).await?;
            reviews = Some(fetched);
        }
        let waiver_ids: Vec<i64> = facts.waivers.iter().map(|w| w.id).collect();
        let fingerprint = reviews
            .as_deref()
            .map(|r| pr_fingerprint(&pr.base.ref_name, r, &waiver_ids));
        let mut verdicts = self
            .run_gates(repo, &selected, &facts, &opts, fresh, &mut answers)
            .await;
        if let Some(reviews) = reviews.filter(|_| !self.bot_is_admin) {
            // Only when a gate fails, and the listing's total says some reviews were hidden, is it
            // worth a call to look for misfiled ones; the second pass reuses every answer, so it
            // probes nothing.
            if hidden_reviews && verdicts.iter().any(|v| v.state == GateState::Failure) {
                facts.misfiled = self.misfiled_hidden(repo, pr, &reviews).await;
                if !facts.misfiled.is_empty() {
                    verdicts = self
                        .run_gates(repo, &selected, &facts, &opts, fresh, &mut answers)
                        .await;
                }
            }
        }
        let mut eval = self.finish(repo, pr, verdicts, waived);
        eval.reviews_fingerprint = fingerprint;
        eval.ended = ended;
        eval.hold = self.hold_state(repo, pr.number).await?;
        Ok(eval)
    }

    /// Reads what the selected gates' policies need: the changed paths for `paths`, the
    /// committers for `exclude_committers` (each cached per head and base). A failure is kept
    /// in the facts, where it makes those gates `error`.
    async fn read_changes(
        &self,
        repo: &RepoName,
        pr: &PullRequest,
        selected: &[Gate],
        facts: &mut Facts,
    ) {
        if selected.iter().any(|g| g.policy.paths.is_some()) {
            let files = self.changes.paths(&self.client, repo, pr).await;
            if let Err(e) = &files {
                tracing::warn!(repo = %repo.full(), pr = pr.number, error = %e, "cannot list the PR's changed files");
            }
            facts.files = Some(files);
        }
        if selected.iter().any(|g| g.policy.exclude_committers) {
            let committers = self.changes.committers(&self.client, repo, pr).await;
            if let Err(e) = &committers {
                tracing::warn!(repo = %repo.full(), pr = pr.number, error = %e, "cannot list the PR's commits");
            }
            facts.committers = Some(committers);
        }
    }

    /// Reads the PR's reviews (and, with comment approvals, its never-edited comments) into
    /// `facts`. Returns the reviews and whether Gitea may be hiding some from the bot.
    async fn read_reviews(
        &self,
        repo: &RepoName,
        pr: &PullRequest,
        facts: &mut Facts,
        opts: &Options,
    ) -> anyhow::Result<(Vec<Review>, bool)> {
        let (fetched, total) = self.client.reviews_counted(repo, pr.number).await?;
        let hidden = total.is_none_or(|t| t > fetched.len() as u64);
        facts.reviews = fetched.iter().map(review_facts).collect();
        if self.bot_is_admin {
            facts.misfiled = misfiled_visible(&fetched, facts.pr.author.as_deref());
        }
        if opts.comment_approvals {
            facts.comments = self
                .client
                .issue_comments(repo, pr.number)
                .await?
                .into_iter()
                // Anyone with write access can edit another's comment, and Gitea does not say
                // who did: only a comment never edited speaks for its author.
                .filter(|c| c.updated_at <= c.created_at + chrono::Duration::seconds(1))
                .map(|c| CommentFacts {
                    id: c.id,
                    author: c.author().map(str::to_string),
                    body: c.body,
                })
                .collect();
        }
        Ok((fetched, hidden))
    }

    fn finish(
        &self,
        repo: &RepoName,
        pr: &PullRequest,
        gates: Vec<Verdict>,
        waived: Vec<String>,
    ) -> PrEvaluation {
        PrEvaluation {
            repo: repo.full(),
            pr: pr.number,
            head_sha: pr.head.sha.clone(),
            gates,
            title: pr.title.clone(),
            author: pr.author().map(str::to_string),
            waived,
            open: pr.is_open(),
            reviews_fingerprint: None,
            ended: vec![],
            hold: None,
        }
    }

    /// Runs each gate's evaluation to the end, asking Gitea for each membership it needs.
    async fn run_gates(
        &self,
        repo: &RepoName,
        gates: &[Gate],
        facts: &Facts,
        opts: &Options,
        fresh: bool,
        answers: &mut Answers,
    ) -> Vec<Verdict> {
        let mut verdicts = Vec::with_capacity(gates.len());
        for g in gates {
            let spec = GateSpec::from(g);
            loop {
                match gate::evaluate(&spec, facts, opts, answers) {
                    Step::Done(v) => {
                        verdicts.push(v);
                        break;
                    }
                    Step::Probe { team, login } => {
                        let m = self.membership(repo, &team, &login, fresh).await;
                        answers.insert((team, login), m);
                    }
                }
            }
        }
        verdicts
    }

    /// Is `login` in `team` (of the repository owner's organisation)?
    pub async fn membership(
        &self,
        repo: &RepoName,
        team: &TeamRef,
        login: &str,
        fresh: bool,
    ) -> Membership {
        match self.teams.resolve(&repo.owner, team).await {
            Ok(resolved) => self.teams.membership(&resolved, login, fresh).await,
            // The bot may not read the team (or, for names, list the org's teams): that is the
            // seed's 403, which an admin fixes by provisioning.
            Err(TeamError::MissingScope { scopes, .. }) => Membership::MissingScope(scopes),
            Err(TeamError::TeamForbidden { .. } | TeamError::CannotListTeams { .. }) => {
                Membership::Forbidden
            }
            Err(e) => Membership::Error(e.to_string()),
        }
    }

    /// Whether PRs into `branch` are gated: the repo's configured branches, or Gitea's flag.
    async fn base_protected(&self, repo: &RepoName, branch: &str) -> anyhow::Result<bool> {
        match self.served.get(&repo.full()) {
            Some(r) if !r.branches.is_empty() => Ok(r.branches.iter().any(|b| b == branch)),
            _ => Ok(self
                .client
                .branch(repo, branch)
                .await
                .with_context(|| format!("cannot tell whether {branch} is protected"))?
                .protected),
        }
    }

    /// Reviewers whose submitted review Gitea filed as PENDING, seen through the timeline: a
    /// `review` entry whose review is missing from the visible list (`docs/gitea-api.md` §3).
    /// Best effort: a failure here only loses the hint.
    async fn misfiled_hidden(
        &self,
        repo: &RepoName,
        pr: &PullRequest,
        reviews: &[Review],
    ) -> Vec<String> {
        let visible: HashSet<i64> = reviews.iter().map(|r| r.id).collect();
        let Ok(timeline) = self.client.timeline(repo, pr.number).await else {
            return vec![];
        };
        let author = pr.author();
        let mut out: Vec<String> = Vec::new();
        for t in timeline {
            let login = t.user.as_ref().map(|u| u.login.clone());
            if t.kind == "review"
                && t.review_id > 0
                && !visible.contains(&t.review_id)
                && !t.body.trim().is_empty()
            {
                if let Some(login) = login {
                    if !gate::is_login(&login, author)
                        && !out.iter().any(|l| gate::same_login(l, &login))
                    {
                        out.push(login);
                    }
                }
            }
        }
        out
    }
}

fn review_facts(r: &Review) -> ReviewFacts {
    ReviewFacts {
        id: r.id,
        reviewer: r
            .user
            .as_ref()
            .filter(|u| !u.is_ghost() && u.id > 0)
            .map(|u| u.login.clone()),
        kind: match &r.state {
            ReviewState::Approved => ReviewKind::Approved,
            ReviewState::RequestChanges => ReviewKind::RequestChanges,
            ReviewState::Comment => ReviewKind::Comment,
            ReviewState::Pending => ReviewKind::Pending,
            ReviewState::RequestReview => ReviewKind::RequestReview,
            ReviewState::Unknown(_) => ReviewKind::Unknown,
        },
        official: r.official,
        dismissed: r.dismissed,
        commit_id: r.commit_id.clone(),
        has_body: !r.body.trim().is_empty(),
    }
}

/// PENDING reviews with a body by someone other than the author: almost certainly a verdict
/// submitted with a wrong event string. Visible only to a site-admin bot.
fn misfiled_visible(reviews: &[Review], author: Option<&str>) -> Vec<String> {
    let mut seen: HashMap<String, ()> = HashMap::new();
    reviews
        .iter()
        .filter(|r| r.state == ReviewState::Pending && !r.body.trim().is_empty())
        .filter_map(|r| r.user.as_ref().map(|u| u.login.clone()))
        .filter(|l| !gate::is_login(l, author))
        .filter(|l| seen.insert(l.to_ascii_lowercase(), ()).is_none())
        .collect()
}

/// A short digest of what can change a PR's verdict besides its head commit — the base branch,
/// the reviews (state, dismissal, official, commit) and the active waivers — so the poller
/// re-evaluates a PR only when it changed. Gitea sends no webhook when a review is dismissed,
/// and a lost webhook for a retarget or a reopen must not leave a stale status.
pub fn pr_fingerprint(base: &str, reviews: &[Review], waiver_ids: &[i64]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(format!("base:{base};waivers:{waiver_ids:?};"));
    for r in reviews {
        h.update(format!(
            "{}:{}:{}:{}:{}:{};",
            r.id,
            r.state.as_str(),
            r.dismissed,
            r.official,
            r.stale,
            r.commit_id
        ));
    }
    hex::encode(&h.finalize()[..12])
}
