//! The tier check: a pure function from facts (PR, reviews, waivers, membership answers, gate
//! config) to a verdict per gate. No I/O here; the caller gathers the facts.
//!
//! Membership is probed lazily: [`evaluate`] either returns a [`Verdict`] or asks for one more
//! membership answer ([`Step::Probe`]). The caller asks Gitea and calls again with the answer
//! added, so a typical check costs one probe (it stops at the first member) while the decision
//! itself stays a pure, table-testable function.

mod authorise;
mod describe;
mod hold;
pub mod lifecycle;
mod policy;

use std::collections::HashMap;

use serde::Serialize;

use crate::types::TeamRef;

pub use authorise::{authorise_revoke, authorise_waiver, AuthStep, Authorisation};
pub use describe::clip;
pub use hold::{authorise_hold, hold_teams, HoldAction};
pub use policy::{BadGlob, Committers, GatePolicy, PathFilter};

/// Longest status description we post; Gitea's UI cuts longer ones.
pub const MAX_DESCRIPTION: usize = 140;

/// Whether two logins name the same account: Gitea logins are ASCII and case-insensitive
/// (`Alice` is `alice`), so every comparison of logins goes through here.
pub fn same_login(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// [`same_login`] with an optional second login (an author Gitea may not give).
pub fn is_login(a: &str, b: Option<&str>) -> bool {
    b.is_some_and(|b| same_login(a, b))
}

/// What Gitea said when asked whether a user is in a team. Only `Member` ever opens a gate:
/// `Forbidden` and `Error` are "unknown", never "no" and never "yes".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Membership {
    /// 200 with the user, for a team the token can see.
    Member,
    /// 404 for a team the token has been shown to see.
    NotMember,
    /// 403: the token owner may not read this team's members.
    Forbidden,
    /// 403 because the token lacks these scopes (any one would do): a token to remake, not a
    /// team to join.
    MissingScope(Vec<String>),
    /// Anything else after retries (5xx, timeout, an unconfirmed 404 …), with what happened.
    Error(String),
}

impl Membership {
    /// The name used in JSON output: `member`, `not-member`, `forbidden`, `missing-scope`,
    /// `error`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Membership::Member => "member",
            Membership::NotMember => "not-member",
            Membership::Forbidden => "forbidden",
            Membership::MissingScope(_) => "missing-scope",
            Membership::Error(_) => "error",
        }
    }
}

impl Serialize for Membership {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The state posted for a gate. `warning` is deliberately absent: it does not block merging.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GateState {
    Success,
    Failure,
    Error,
}

impl GateState {
    pub fn as_str(&self) -> &'static str {
        match self {
            GateState::Success => "success",
            GateState::Failure => "failure",
            GateState::Error => "error",
        }
    }
}

/// A gate as the evaluation needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateSpec {
    pub name: String,
    /// The team whose approval opens the gate.
    pub team: TeamRef,
    /// Teams whose members may waive it.
    pub waivable_by: Vec<TeamRef>,
    /// Count only approvals Gitea marked official (the team had write access to the code, or
    /// was in the branch rule's approvals whitelist, when the review was submitted).
    pub require_official: bool,
    /// Approvals needed, paths, blocks, committers (`docs/policies.md`).
    pub policy: GatePolicy,
}

/// The pull request, as far as the gates care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrFacts {
    pub author: Option<String>,
    pub open: bool,
    pub head_sha: String,
    pub base_sha: String,
    pub merge_base: Option<String>,
    pub base_branch: String,
    /// Whether the base branch is protected (from config, or Gitea's own flag).
    pub base_protected: bool,
}

/// Gitea's review states. `Unknown` never counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReviewKind {
    Approved,
    RequestChanges,
    Comment,
    Pending,
    RequestReview,
    Unknown,
}

/// One review, as the gates care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewFacts {
    pub id: i64,
    /// `None` for a deleted or migrated user: such a review never counts.
    pub reviewer: Option<String>,
    pub kind: ReviewKind,
    pub official: bool,
    pub dismissed: bool,
    pub commit_id: String,
    pub has_body: bool,
}

/// An issue comment that may count as an approval when comment approvals are on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentFacts {
    pub id: i64,
    pub author: Option<String>,
    pub body: String,
}

/// An active waiver for one gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaiverFacts {
    pub id: i64,
    pub gate: String,
    pub declared_by: String,
    pub reason: String,
}

/// Everything the evaluation of one PR reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub pr: PrFacts,
    pub reviews: Vec<ReviewFacts>,
    pub comments: Vec<CommentFacts>,
    pub waivers: Vec<WaiverFacts>,
    /// Reviewers whose review Gitea stored as PENDING although it looks like a verdict
    /// (a misfiled `APPROVE` …), when the token can see them.
    pub misfiled: Vec<String>,
    /// The paths the PR changes (a rename gives both names), read only when a gate has
    /// `paths`: `None` not read, `Err` the listing failed (the gate is then `error`).
    pub files: Option<Result<Vec<String>, String>>,
    /// Who authored and committed the PR's commits, read only for `exclude_committers`.
    pub committers: Option<Result<Committers, String>>,
}

impl Default for PrFacts {
    fn default() -> Self {
        PrFacts {
            author: None,
            open: true,
            head_sha: String::new(),
            base_sha: String::new(),
            merge_base: None,
            base_branch: "main".into(),
            base_protected: true,
        }
    }
}

/// Evaluation options (the caller maps them from the config).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Count an approval only on the current head commit.
    pub strict_head_sha: bool,
    pub comment_approvals: bool,
    pub comment_approval_prefixes: Vec<String>,
    pub comment_approval_words: Vec<String>,
}

/// Membership answers gathered so far, keyed by team and login.
pub type Answers = HashMap<(TeamRef, String), Membership>;

/// Why a gate does not apply to a PR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Skip {
    NotOpen,
    EmptyDiff,
    BaseNotProtected,
    /// The gate has `paths` and the PR changes none of them.
    NoMatchingPath,
}

impl Skip {
    /// Whether the verdict is posted as a status all the same. A gate whose `paths` a PR does
    /// not touch must not block it, so its "not applicable" success is posted, and ranked with
    /// the other PRs on the commit (one that touches the paths still holds the commit).
    /// The other skips post nothing: the PR is not gated at all.
    pub fn posts_status(&self) -> bool {
        matches!(self, Skip::NoMatchingPath)
    }
}

/// A reviewer considered for the gate and what Gitea said about their membership.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    pub login: String,
    pub membership: Membership,
    /// Whether Gitea marked the approval official. A member's non-official approval does not
    /// open a gate that requires official approvals: the verdict says how to fix that.
    pub official: bool,
    /// The approval lost `official` because the reviewer's review was requested again after it
    /// (Gitea's `AddReviewRequest`): the fix is a new approval, not access.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub re_requested: bool,
}

/// A review or comment that was not considered, and why (for the human explanation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ignored {
    pub login: String,
    pub why: String,
}

/// The decision for one gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub gate: String,
    pub state: GateState,
    /// ≤ 140 characters on one line, says what to do next: the status description.
    pub description: String,
    /// The description as Markdown for the reply, foreign text inert (not clipped).
    #[serde(skip)]
    pub why: String,
    pub approved_by: Option<String>,
    pub waiver: Option<WaiverFacts>,
    pub candidates: Vec<Candidate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<Skip>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignored: Vec<Ignored>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub misfiled: Vec<String>,
}

/// One step of a lazy evaluation.
// A step is moved once per membership probe, each of which costs an HTTP call: boxing the
// verdict would buy nothing measurable.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Done(Verdict),
    /// Ask whether `login` is in `team`, add the answer, and evaluate again.
    Probe {
        team: TeamRef,
        login: String,
    },
}

/// Evaluates one gate from the facts and the membership answers known so far.
pub fn evaluate(gate: &GateSpec, facts: &Facts, opts: &Options, answers: &Answers) -> Step {
    decide(gate, facts, opts, |team, login| {
        answers.get(&(team.clone(), login.to_string())).cloned()
    })
}

/// Runs [`evaluate`] to the end with a membership oracle; for tests, benchmarks and callers whose
/// answers are already at hand. The oracle is asked exactly what [`evaluate`] would probe, in
/// the same order, but the facts are read once instead of once per probe.
pub fn evaluate_with(
    gate: &GateSpec,
    facts: &Facts,
    opts: &Options,
    mut oracle: impl FnMut(&TeamRef, &str) -> Membership,
) -> Verdict {
    match decide(gate, facts, opts, |team, login| Some(oracle(team, login))) {
        Step::Done(v) => v,
        Step::Probe { .. } => unreachable!("the oracle answers every membership question"),
    }
}

/// The evaluation itself. `lookup` gives a membership answer, or `None` when it is unknown:
/// the evaluation then stops and asks for it ([`Step::Probe`]).
/// Long (~120 lines) on purpose: the evaluation reads top to bottom in the order the README
/// states the rules (skip, waiver, approvals, why nothing counts), each step short.
fn decide(
    gate: &GateSpec,
    facts: &Facts,
    opts: &Options,
    mut lookup: impl FnMut(&TeamRef, &str) -> Option<Membership>,
) -> Step {
    let committers = match applies(gate, facts) {
        Ok(c) => c,
        Err(v) => return Step::Done(v),
    };
    let not_counted = match waiver_or_block(gate, facts, committers, &mut lookup) {
        Ok(not_counted) => not_counted,
        Err(step) => return step,
    };
    let considered = candidates(facts, opts, gate.require_official, committers);
    let (approvers, probed, unofficial_member) =
        match approvals(gate, facts, &considered, &mut lookup) {
            Ok(found) => found,
            Err(step) => return step,
        };
    let needed = gate.policy.approvals.max(1) as usize;
    if approvers.len() >= needed {
        let described = if needed == 1 {
            describe::approved(&approvers[0], &gate.team)
        } else {
            describe::approved_by_all(&approvers, &gate.team)
        };
        let mut v = verdict(gate, GateState::Success, described);
        v.approved_by = approvers.into_iter().next();
        v.candidates = probed;
        v.ignored = considered.ignored();
        return Step::Done(v);
    }
    let (state, mut description) = match unknown(&gate.team, &probed) {
        Some(described) => (GateState::Error, described),
        None => (
            GateState::Failure,
            awaiting(gate, facts, &approvers, &probed, unofficial_member),
        ),
    };
    if state == GateState::Failure {
        // Say why an approval or a waiver someone sees on the PR does not count.
        if let Some(excluded) = not_counted {
            description = excluded.then(description);
        } else if let Some((login, _)) =
            considered.ignored.iter().find(|(_, why)| *why == COMMITTED)
        {
            description = description.then(describe::committer(login, "approval"));
        }
    }
    let mut v = verdict(gate, state, description);
    v.candidates = probed;
    v.ignored = considered.ignored();
    v.misfiled = facts.misfiled.clone();
    Step::Done(v)
}

/// A verdict with nothing but its state and description.
fn verdict(gate: &GateSpec, state: GateState, described: describe::Described) -> Verdict {
    Verdict {
        gate: gate.name.clone(),
        state,
        description: clip(&described.plain, MAX_DESCRIPTION),
        why: described.markdown,
        approved_by: None,
        waiver: None,
        candidates: vec![],
        skipped: None,
        ignored: vec![],
        misfiled: vec![],
    }
}

/// Whether the gate applies to the PR at all (`Err`: the verdict that says it does not, or
/// that it cannot tell), and the PR's committers when the gate excludes them.
// `Err` is the decided step or verdict, moved once per evaluation: boxing it buys nothing.
#[allow(clippy::result_large_err)]
fn applies<'a>(gate: &GateSpec, facts: &'a Facts) -> Result<Option<&'a Committers>, Verdict> {
    if facts.pr.head_sha.is_empty() {
        // Without a head commit nothing can be judged, least of all "no changes".
        return Err(verdict(
            gate,
            GateState::Error,
            describe::Described::said(
                "Gitea gave no head commit for this PR; comment /refire to retry",
            ),
        ));
    }
    let skipped = |skip: Skip, described| {
        let mut v = verdict(gate, GateState::Success, described);
        v.skipped = Some(skip);
        Err(v)
    };
    if let Some(skip) = skip_reason(&facts.pr) {
        let described = describe::skipped(&skip, &facts.pr);
        return skipped(skip, described);
    }
    if let Some(filter) = &gate.policy.paths {
        match &facts.files {
            Some(Ok(files)) if !files.iter().any(|f| filter.selects(f)) => {
                let described = describe::no_matching_path(&filter.describe());
                return skipped(Skip::NoMatchingPath, described);
            }
            Some(Ok(_)) => {}
            // Never "not applicable" on doubt: a listing that failed may have hidden the match.
            Some(Err(e)) => {
                let described = describe::files_unknown(Some(e));
                return Err(verdict(gate, GateState::Error, described));
            }
            None => {
                let described = describe::files_unknown(None);
                return Err(verdict(gate, GateState::Error, described));
            }
        }
    }
    match (&facts.committers, gate.policy.exclude_committers) {
        (_, false) => Ok(None),
        (Some(Ok(c)), true) => Ok(Some(c)),
        (_, true) => Err(verdict(gate, GateState::Error, describe::commits_unknown())),
    }
}

/// A waiver, a block, or a commit nobody can be tied to decides the gate (`Err`, or a probe);
/// otherwise the approvals do, and `Ok` says why a waiver on the PR did not count, if one did
/// not (its declarer committed).
// `Err` is the decided step or verdict, moved once per evaluation: boxing it buys nothing.
#[allow(clippy::result_large_err)]
fn waiver_or_block(
    gate: &GateSpec,
    facts: &Facts,
    committers: Option<&Committers>,
    lookup: &mut impl FnMut(&TeamRef, &str) -> Option<Membership>,
) -> Result<Option<describe::Described>, Step> {
    let mut waiver = facts.waivers.iter().find(|w| w.gate == gate.name);
    let mut not_counted = None;
    if let Some(w) = waiver.filter(|w| committers.is_some_and(|c| c.contains(&w.declared_by))) {
        not_counted = Some(describe::committer(&w.declared_by, "waiver"));
        waiver = None;
    }
    let waived = |w: &WaiverFacts| {
        let mut v = verdict(gate, GateState::Success, describe::waived(w));
        v.waiver = Some(w.clone());
        Err(Step::Done(v))
    };
    let policy = &gate.policy;
    if let Some(w) = waiver {
        if !policy.block_on_request_changes || policy.waiver_overrides_block {
            return waived(w);
        }
    }
    if policy.block_on_request_changes {
        let block = match blocked(gate, facts, lookup) {
            Blocked::Ask(login) => return Err(probe(gate, &login)),
            Blocked::By(login) => Some((
                GateState::Failure,
                describe::blocked(&login, waiver.is_some()),
            )),
            Blocked::Unknown(described) => Some((GateState::Error, described)),
            Blocked::No => None,
        };
        if let Some((state, described)) = block {
            return Err(Step::Done(verdict(gate, state, described)));
        }
    }
    if let Some(w) = waiver {
        return waived(w);
    }
    unlinked(gate, committers)?;
    Ok(not_counted)
}

/// With committers excluded, a commit no account is linked to leaves every approval in doubt.
// `Err` is the decided step or verdict, moved once per evaluation: boxing it buys nothing.
#[allow(clippy::result_large_err)]
fn unlinked(gate: &GateSpec, committers: Option<&Committers>) -> Result<(), Step> {
    match committers.and_then(|c| c.unlinked.first()) {
        Some(sha) => Err(Step::Done(verdict(
            gate,
            GateState::Failure,
            describe::unlinked_commit(sha),
        ))),
        None => Ok(()),
    }
}

/// Counting approvals: the members found (up to the number needed), every reviewer probed,
/// and, when too few count, a member whose approval only lacks Gitea's `official` flag.
// `Err` is the decided step or verdict, moved once per evaluation: boxing it buys nothing.
#[allow(clippy::result_large_err)]
#[allow(clippy::type_complexity)]
fn approvals<'a>(
    gate: &GateSpec,
    facts: &Facts,
    considered: &Considered<'a>,
    lookup: &mut impl FnMut(&TeamRef, &str) -> Option<Membership>,
) -> Result<(Vec<String>, Vec<Candidate>, Option<&'a str>), Step> {
    let needed = gate.policy.approvals.max(1) as usize;
    let mut probed = Vec::with_capacity(considered.logins.len());
    let mut approvers: Vec<String> = Vec::new();
    for &login in &considered.logins {
        let Some(m) = lookup(&gate.team, login) else {
            return Err(probe(gate, login));
        };
        if m == Membership::Member {
            approvers.push(login.to_string());
        }
        probed.push(Candidate {
            login: login.to_string(),
            membership: m,
            official: considered.is_official(login),
            re_requested: false,
        });
        if approvers.len() >= needed {
            return Ok((approvers, probed, None));
        }
    }
    // Too few count. A member whose approval Gitea did not mark official is the likeliest
    // reason on a new installation: find one, to say how to fix it.
    for &login in &considered.unofficial {
        let Some(m) = lookup(&gate.team, login) else {
            return Err(probe(gate, login));
        };
        let member = m == Membership::Member;
        probed.push(Candidate {
            login: login.to_string(),
            membership: m,
            official: false,
            re_requested: member && re_requested(&facts.reviews, login),
        });
        if member {
            return Ok((approvers, probed, Some(login)));
        }
    }
    Ok((approvers, probed, None))
}

/// What a gate with too few approvals awaits.
fn awaiting(
    gate: &GateSpec,
    facts: &Facts,
    approvers: &[String],
    probed: &[Candidate],
    unofficial_member: Option<&str>,
) -> describe::Described {
    let needed = gate.policy.approvals;
    if let Some(login) = unofficial_member {
        if re_requested(&facts.reviews, login) {
            describe::re_requested(login)
        } else {
            describe::not_official(login, &gate.team)
        }
    } else if !approvers.is_empty() {
        describe::partly_approved(approvers, needed, &gate.team)
    } else if needed > 1 {
        describe::awaiting_many(needed, &gate.team)
    } else {
        let misfiled = facts.misfiled.first().map(String::as_str);
        describe::awaiting(&gate.team, probed, misfiled)
    }
}

/// Why an approval by a committer is ignored (`exclude_committers`).
const COMMITTED: &str = "committed to this PR";

/// A doubt among the probed reviewers' memberships, described: a missing scope, a 403, an error.
fn unknown(team: &TeamRef, probed: &[Candidate]) -> Option<describe::Described> {
    let scopes = probed.iter().find_map(|c| match &c.membership {
        Membership::MissingScope(s) => Some(s.clone()),
        _ => None,
    });
    let forbidden = probed.iter().any(|c| c.membership == Membership::Forbidden);
    let error = probed.iter().find_map(|c| match &c.membership {
        Membership::Error(e) => Some(e.clone()),
        _ => None,
    });
    if let Some(scopes) = scopes {
        Some(describe::missing_scope(team, &scopes))
    } else if forbidden {
        Some(describe::forbidden(team))
    } else {
        error.map(|e| describe::lookup_failed(team, &e))
    }
}

/// Whether a team member's request for changes stands (`block_on_request_changes`).
enum Blocked {
    No,
    By(String),
    /// The login whose membership to ask for first.
    Ask(String),
    /// A blocker's membership could not be verified.
    Unknown(describe::Described),
}

/// Each reviewer's latest review that is an approval or a request for changes and is not
/// dismissed (Gitea's own rule: comments neither block nor unblock) decides whether they block.
/// The PR author's own request counts too: a block is never opened on a doubt.
fn blocked(
    gate: &GateSpec,
    facts: &Facts,
    lookup: &mut impl FnMut(&TeamRef, &str) -> Option<Membership>,
) -> Blocked {
    let mut latest: Vec<(&str, &ReviewFacts)> = Vec::new();
    for r in &facts.reviews {
        let Some(login) = r.reviewer.as_deref() else {
            continue;
        };
        if r.dismissed || !matches!(r.kind, ReviewKind::Approved | ReviewKind::RequestChanges) {
            continue;
        }
        match latest.iter_mut().find(|(l, _)| same_login(l, login)) {
            Some(entry) if entry.1.id < r.id => entry.1 = r,
            Some(_) => {}
            None => latest.push((login, r)),
        }
    }
    let mut probed = Vec::new();
    for (login, r) in latest {
        if r.kind != ReviewKind::RequestChanges {
            continue;
        }
        match lookup(&gate.team, login) {
            None => return Blocked::Ask(login.to_string()),
            Some(Membership::Member) => return Blocked::By(login.to_string()),
            Some(m) => probed.push(Candidate {
                login: login.to_string(),
                membership: m,
                official: r.official,
                re_requested: false,
            }),
        }
    }
    match unknown(&gate.team, &probed) {
        Some(described) => Blocked::Unknown(described),
        None => Blocked::No,
    }
}

/// Whether `login`'s approval lost `official` to a later request for their review. Gitea's
/// `AddReviewRequest` (`models/issues/review.go` @ v1.25.4) unsets `official` on all the
/// reviewer's earlier reviews of the PR when they may review officially, and records the
/// request as a `REQUEST_REVIEW` review that is itself official then (any later review by them
/// deletes it). A request that is not official means they still may not: the access fix holds.
fn re_requested(reviews: &[ReviewFacts], login: &str) -> bool {
    let by = |r: &&ReviewFacts| r.reviewer.as_deref().is_some_and(|l| same_login(l, login));
    let last_approval = reviews
        .iter()
        .filter(by)
        .filter(|r| r.kind == ReviewKind::Approved)
        .map(|r| r.id)
        .max();
    reviews
        .iter()
        .filter(by)
        .any(|r| r.kind == ReviewKind::RequestReview && r.official && Some(r.id) > last_approval)
}

fn probe(gate: &GateSpec, login: &str) -> Step {
    Step::Probe {
        team: gate.team.clone(),
        login: login.to_string(),
    }
}

fn skip_reason(pr: &PrFacts) -> Option<Skip> {
    if !pr.open {
        Some(Skip::NotOpen)
    } else if pr.head_sha == pr.base_sha || pr.merge_base.as_deref() == Some(pr.head_sha.as_str()) {
        Some(Skip::EmptyDiff)
    } else if !pr.base_protected {
        Some(Skip::BaseNotProtected)
    } else {
        None
    }
}

/// The reviewers a gate may count, borrowed from the facts: read once per evaluation, with no
/// allocation per review.
struct Considered<'a> {
    /// Logins whose approval would open the gate if they are team members, in the order given,
    /// each once.
    logins: Vec<&'a str>,
    /// Logins whose approval would count but for Gitea's `official` flag (when the gate
    /// requires it), in the order given, each once and none of `logins`.
    unofficial: Vec<&'a str>,
    /// Logins among `logins` whose counting approval is not official (the gate does not
    /// require it): reported as such.
    lax: Vec<&'a str>,
    /// Approvals that do not count, with why.
    ignored: Vec<(&'a str, &'static str)>,
}

impl Considered<'_> {
    fn is_official(&self, login: &str) -> bool {
        !self.lax.iter().any(|l| same_login(l, login))
    }

    /// The ignored approvals for the verdict. An approval that was later superseded by a
    /// counting one is not worth reporting, nor one reported as a candidate.
    fn ignored(&self) -> Vec<Ignored> {
        self.ignored
            .iter()
            .filter(|(login, _)| {
                !self
                    .logins
                    .iter()
                    .chain(&self.unofficial)
                    .any(|l| same_login(l, login))
            })
            .map(|(login, why)| Ignored {
                login: login.to_string(),
                why: why.to_string(),
            })
            .collect()
    }
}

/// The logins whose approval would open a gate if they are team members, in the order given,
/// each once; those whose approval lacks only Gitea's `official` flag; and the approvals that
/// do not count, with why.
fn candidates<'a>(
    facts: &'a Facts,
    opts: &Options,
    require_official: bool,
    committers: Option<&Committers>,
) -> Considered<'a> {
    let committed = |login: &str| committers.is_some_and(|c| c.contains(login));
    let author = facts.pr.author.as_deref();
    let mut logins = Logins::default();
    let mut unofficial = Vec::new();
    let mut lax = Vec::new();
    let mut official = Vec::new();
    let mut ignored = Vec::new();
    for r in &facts.reviews {
        if r.kind != ReviewKind::Approved {
            continue;
        }
        let Some(login) = r.reviewer.as_deref() else {
            continue;
        };
        let why = if is_login(login, author) {
            Some("is the PR author")
        } else if committed(login) {
            Some(COMMITTED)
        } else if r.dismissed {
            Some("approval was dismissed")
        } else if opts.strict_head_sha && r.commit_id != facts.pr.head_sha {
            Some("approved an older commit")
        } else {
            None
        };
        match why {
            Some(why) => ignored.push((login, why)),
            None if r.official => {
                add_once(&mut official, login);
                logins.add(login);
            }
            None if require_official => add_once(&mut unofficial, login),
            None => {
                add_once(&mut lax, login);
                logins.add(login);
            }
        }
    }
    if opts.comment_approvals {
        for c in &facts.comments {
            let Some(login) = c.author.as_deref() else {
                continue;
            };
            if !is_comment_approval(&c.body, opts) {
                continue;
            }
            if is_login(login, author) {
                ignored.push((login, "is the PR author"));
            } else if committed(login) {
                ignored.push((login, COMMITTED));
            } else {
                logins.add(login);
            }
        }
    }
    let logins = logins.into_vec();
    unofficial.retain(|u| !logins.iter().any(|l| same_login(l, u)));
    // A counting official approval by the same login makes the login official.
    lax.retain(|l| !official.iter().any(|o| same_login(o, l)));
    Considered {
        logins,
        unofficial,
        lax,
        ignored,
    }
}

fn add_once<'a>(list: &mut Vec<&'a str>, login: &'a str) {
    if !list.iter().any(|l| same_login(l, login)) {
        list.push(login);
    }
}

/// Distinct logins in first-seen order. A PR has a handful of approvers, checked by a scan;
/// past [`Logins::SCAN`] they are collected and deduplicated once by sorting, so 50 distinct
/// approvers do not cost 50² comparisons.
#[derive(Default)]
struct Logins<'a> {
    order: Vec<&'a str>,
    /// Every counting approval past the scan, duplicates included.
    rest: Vec<&'a str>,
}

impl<'a> Logins<'a> {
    const SCAN: usize = 16;

    fn add(&mut self, login: &'a str) {
        if self.order.len() < Self::SCAN && self.rest.is_empty() {
            if !self.order.iter().any(|l| same_login(l, login)) {
                self.order.push(login);
            }
        } else {
            self.rest.push(login);
        }
    }

    fn into_vec(mut self) -> Vec<&'a str> {
        if self.rest.is_empty() {
            return self.order;
        }
        self.order.append(&mut self.rest);
        let mut indexed: Vec<(String, usize, &str)> = self
            .order
            .iter()
            .enumerate()
            .map(|(i, l)| (l.to_ascii_lowercase(), i, *l))
            .collect();
        // Sorted by (login in lower case, position): the first of each run is the login's
        // first sighting.
        indexed.sort_unstable();
        indexed.dedup_by(|later, first| later.0 == first.0);
        indexed.sort_unstable_by_key(|&(_, i, _)| i);
        indexed.into_iter().map(|(_, _, l)| l).collect()
    }
}

/// A comment approves when it starts with a configured prefix, or its first word is one of the
/// approval words (`LGTM`, …). "This is not APPROVED" does not approve.
fn is_comment_approval(body: &str, opts: &Options) -> bool {
    let body = body.trim_start();
    if opts
        .comment_approval_prefixes
        .iter()
        .any(|p| !p.is_empty() && body.starts_with(p.as_str()))
    {
        return true;
    }
    let first = body
        .split_whitespace()
        .next()
        .unwrap_or("")
        .trim_end_matches(['.', '!', ',', ':']);
    opts.comment_approval_words
        .iter()
        .any(|w| w.eq_ignore_ascii_case(first))
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod policy_tests;
