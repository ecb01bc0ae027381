//! The engine: one event in, effects out — statuses, one reply per command comment, waiver and
//! audit rows. Every handler is safe to run again after a crash: a comment's effects are
//! recorded in one transaction before anything is published, replies carry a marker and are
//! edited rather than posted twice, and statuses are only posted when they change.

use std::sync::Arc;

use anyhow::Context;
use sha2::{Digest, Sha256};
use tracing::{info, warn};

use crate::command::{parse_comment, Command, GateNames, ParsedLine};
use crate::config::Gate;
use crate::gate::{
    authorise_revoke, authorise_waiver, Answers, AuthStep, Authorisation, GateSpec, GateState,
};
use crate::gitea::PullRequest;
use crate::store::{
    actions, CommentOutcome, Effect, NewAudit, NewEvaluation, NewWaiver, Revocation, StoreError,
};
use crate::types::RepoName;

use super::event::{CommentAction, Event, PrAction};
use super::replies::{self, Answer};
use super::{statuses, Evaluator, PrEvaluation};

/// A comment to decide on: who said what, and whether it reached the bot after later comments
/// of its PR were handled.
struct Said<'a> {
    comment_id: i64,
    author: &'a str,
    body: &'a str,
    late: bool,
}

/// Held while a head commit's PRs are evaluated and its statuses posted.
type HeadLock = Arc<tokio::sync::Mutex<()>>;

/// The bot's decision-making, shared by the workers.
pub struct Engine {
    ev: Evaluator,
    bot: String,
    gate_names: GateNames,
    /// One evaluate-and-post at a time per head commit. Workers run one event per PR at a time,
    /// but the PRs sharing a commit share its statuses: without this, a worker that evaluated
    /// before another PR's waiver was revoked could post its stale `success` after the
    /// revocation's `failure`.
    heads: std::sync::Mutex<std::collections::HashMap<(String, String), HeadLock>>,
}

impl Engine {
    pub fn new(ev: Evaluator, bot_login: impl Into<String>) -> Arc<Engine> {
        let gate_names = ev.config.gate_names();
        Arc::new(Engine {
            ev,
            bot: bot_login.into(),
            gate_names,
            heads: std::sync::Mutex::default(),
        })
    }

    pub fn evaluator(&self) -> &Evaluator {
        &self.ev
    }

    /// Handles one event to the end. An error means "try again later": nothing half-done shows.
    pub async fn handle(&self, event: &Event) -> anyhow::Result<()> {
        let repo: RepoName = event
            .repo()
            .parse()
            .map_err(|e: String| anyhow::anyhow!(e))?;
        if self.ev.config.repo(&repo).is_none() {
            return Ok(());
        }
        match event {
            Event::Comment {
                pr,
                comment_id,
                action,
                author,
                body,
                sender,
                ..
            } => {
                // A deleted comment ends its waivers whoever wrote it (a deleted account is
                // `user: null`), and whatever its author's login.
                if *action == CommentAction::Deleted {
                    return self
                        .comment_deleted(&repo, *pr, *comment_id, author.as_deref())
                        .await;
                }
                let Some(author) = author.as_deref() else {
                    return Ok(());
                };
                if author.eq_ignore_ascii_case(&self.bot) {
                    return Ok(());
                }
                match action {
                    CommentAction::Created => {
                        self.command_comment(&repo, *pr, *comment_id, author, body, false)
                            .await
                    }
                    CommentAction::Edited if self.ev.config.evaluation.handle_edited_comments => {
                        let editor = sender.as_deref();
                        if editor.is_some_and(|e| crate::gate::same_login(e, author)) {
                            self.command_comment(&repo, *pr, *comment_id, author, body, true)
                                .await
                        } else {
                            self.foreign_edit(&repo, *pr, *comment_id, author, editor)
                                .await
                        }
                    }
                    CommentAction::Edited => Ok(()),
                    CommentAction::Deleted => Ok(()),
                }
            }
            Event::PullRequest { pr, action, .. } => match action {
                PrAction::Closed | PrAction::Reopened => {
                    self.pr_closed_or_reopened(&repo, *pr, *action).await
                }
                _ => self.reevaluate(&repo, *pr, None).await,
            },
            Event::Review { pr, .. } | Event::ReviewRequest { pr, .. } => {
                self.reevaluate(&repo, *pr, None).await
            }
            Event::Status { sha, sender, .. } => {
                if sender
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case(&self.bot))
                {
                    return Ok(());
                }
                self.status_posted(&repo, sha).await
            }
            Event::Reevaluate {
                pr, fingerprint, ..
            } => self.reevaluate(&repo, *pr, fingerprint.clone()).await,
        }
    }

    /// A comment that may hold commands: react, decide, record, publish.
    async fn command_comment(
        &self,
        repo: &RepoName,
        pr: u64,
        comment_id: i64,
        author: &str,
        body: &str,
        edited: bool,
    ) -> anyhow::Result<()> {
        // Most comments are discussion: the parser (pure) rules them out before the store is
        // asked anything. A comment without commands never has a record.
        let parsed = parse_comment(body, &self.gate_names);
        if parsed.is_empty() {
            return Ok(());
        }
        let store = &self.ev.store;
        // Gitea may deliver the deletion before the creation: a deleted comment declares nothing.
        if store.comment_deleted_seen(&repo.full(), comment_id).await? {
            info!(%repo, pr, comment_id, "comment already deleted: not acted on");
            return Ok(());
        }
        if let Some(done) = store.handled_comment(&repo.full(), comment_id).await? {
            if done.reply.reply_comment_id.is_some() {
                return Ok(());
            }
            // Decided before a crash, not yet answered: answer now, from the record.
            let answer: Answer = serde_json::from_str(&done.outcome)?;
            return self.publish(repo, comment_id, &answer, true, None).await;
        }
        // Where the comment is and what the PR is: independent reads, made together.
        let (outside, pull) = tokio::join!(
            self.outside_conversation(repo, pr, comment_id, author),
            self.ev.client.pull(repo, pr)
        );
        if outside? {
            return Ok(());
        }
        let pull = pull?;
        // The reaction only says "seen": it runs alongside the decision, not before it.
        let reaction = async {
            if let Err(e) = self.ev.client.react(repo, comment_id, "eyes").await {
                warn!(%repo, pr, comment_id, error = %e, "cannot react to the comment");
            }
        };
        let decision = async {
            // Thread order: a comment found after later ones were handled (its webhook was
            // lost) must not declare a waiver that a later `/sop-revoke` already answered for.
            let late = !edited
                && store
                    .newest_handled_comment(&repo.full(), pr as i64)
                    .await?
                    .is_some_and(|newest| newest > comment_id);
            let said = Said {
                comment_id,
                author,
                body,
                late,
            };
            self.decide(repo, &pull, said, &parsed).await
        };
        let ((), decided) = tokio::join!(reaction, decision);
        let (outcome, answer) = decided?;
        let recorded = store.record_comment_outcome(&outcome).await?;
        let retry = !recorded.is_new();
        let answer = if retry {
            serde_json::from_str(&recorded.into_row().outcome)?
        } else {
            answer
        };
        self.publish(repo, comment_id, &answer, retry, Some(&pull))
            .await
    }

    /// Whether a comment with commands is not in the PR's conversation, and so not acted on:
    /// gone (404), or a reply in a code-review thread, which Gitea delivers exactly like a
    /// conversation comment but answers `GET /issues/comments/{id}` with 204 for
    /// (`docs/gitea-api.md` §2). The poller can never list thread replies, so acting on them
    /// would depend on a webhook arriving; and a reply would land away from the thread. The
    /// thread reply is audited once (the inbox hands each delivery over once); nothing is
    /// posted. Any other failure is an error: the event is tried again later.
    async fn outside_conversation(
        &self,
        repo: &RepoName,
        pr: u64,
        comment_id: i64,
        author: &str,
    ) -> anyhow::Result<bool> {
        match self.ev.client.comment(repo, comment_id).await {
            Ok(Some(_)) => Ok(false),
            Err(e) if e.is_not_found() => {
                info!(%repo, pr, comment_id, "comment gone: not acted on");
                Ok(true)
            }
            Err(e) => Err(e.into()),
            Ok(None) => {
                info!(%repo, pr, comment_id, author, "commands in a code-review thread: not acted on");
                self.ev
                    .store
                    .record_audit(&NewAudit {
                        actor: author.to_string(),
                        action: actions::THREAD_IGNORED.into(),
                        repo: Some(repo.full()),
                        pr: Some(pr as i64),
                        gate: None,
                        waiver_id: None,
                        detail: format!(
                            "comment {comment_id} by @{author} is in a code-review thread; \
                             commands are only read from the PR conversation"
                        ),
                    })
                    .await?;
                Ok(true)
            }
        }
    }

    /// Runs each command: authorises, plans the store writes, and writes the answer's lines.
    /// Only reads happen here; the writes are recorded by the caller in one transaction.
    async fn decide(
        &self,
        repo: &RepoName,
        pull: &PullRequest,
        said: Said<'_>,
        parsed: &[ParsedLine],
    ) -> anyhow::Result<(CommentOutcome, Answer)> {
        let Said {
            comment_id,
            author,
            body,
            late,
        } = said;
        let gates = self.ev.config.gates();
        // A running view of the waivers: each command sees what the earlier ones did.
        let mut active = self
            .ev
            .store
            .active_waivers(&repo.full(), pull.number as i64)
            .await?;
        let mut planned: Vec<String> = Vec::new();
        let mut outcome = CommentOutcome {
            repo: repo.full(),
            pr: Some(pull.number as i64),
            comment_id,
            body_sha256: hex::encode(Sha256::digest(body.as_bytes())),
            ..CommentOutcome::default()
        };
        let mut answer = Answer {
            pr: pull.number,
            to: author.to_string(),
            ..Answer::default()
        };
        let evaluate = |answer: &mut Answer, gate: &str| {
            if !answer.evaluate.iter().any(|g| g == gate) {
                answer.evaluate.push(gate.to_string());
            }
        };
        let refusal = |gate: &str, detail: String| NewAudit {
            actor: author.to_string(),
            action: actions::WAIVER_REFUSED.into(),
            repo: Some(repo.full()),
            pr: Some(pull.number as i64),
            gate: Some(gate.to_string()),
            waiver_id: None,
            detail,
        };
        let count = |command: &str, outcome: &str| crate::metrics::get().command(command, outcome);
        for p in parsed {
            let line = p.line;
            let cmd = match &p.result {
                Err(e) => {
                    count("malformed", "malformed");
                    answer.lines.push(replies::malformed(line, e, None));
                    continue;
                }
                Ok(cmd) => cmd,
            };
            match cmd {
                Command::Help => {
                    count(cmd.name(), "ok");
                    answer.help = true;
                    answer.lines.push(replies::help(line));
                }
                Command::Refire { gates: named } => {
                    count(cmd.name(), "ok");
                    answer.fresh = true;
                    for g in named {
                        evaluate(&mut answer, g);
                    }
                    answer.lines.push(replies::refire(line, named));
                }
                Command::Waive { .. } if !pull.is_open() => {
                    count(cmd.name(), "refused");
                    answer.lines.push(replies::pr_not_open(line));
                }
                Command::Waive { .. } if late => {
                    count(cmd.name(), "refused");
                    answer.lines.push(replies::waive_late(line));
                }
                Command::Waive {
                    gates: named,
                    reason,
                } => {
                    let implicit = named.is_empty();
                    let targets: Vec<&Gate> = gates
                        .iter()
                        .filter(|g| implicit || named.contains(&g.name))
                        .collect();
                    let mut any = false;
                    let mut refusals = Vec::new();
                    for gate in targets {
                        evaluate(&mut answer, &gate.name);
                        if let Some(w) = active.iter().find(|w| w.gate == gate.name) {
                            if !implicit {
                                answer.lines.push(replies::already_waived(
                                    line,
                                    &gate.name,
                                    &w.declared_by,
                                    w.id,
                                ));
                            }
                            continue;
                        }
                        if planned.contains(&gate.name) {
                            continue;
                        }
                        let spec = GateSpec::from(gate);
                        let decision = self
                            .authorise(repo, |a| authorise_waiver(&spec, author, pull.author(), a))
                            .await;
                        match decision {
                            Authorisation::Allowed { via } => {
                                count(cmd.name(), "ok");
                                any = true;
                                info!(%repo, pr = pull.number, gate = %gate.name, declarer = author, via, "waiver granted");
                                planned.push(gate.name.clone());
                                outcome.effects.push(Effect::Waive(NewWaiver {
                                    repo: repo.full(),
                                    pr: pull.number as i64,
                                    gate: gate.name.clone(),
                                    declared_by: author.to_string(),
                                    reason: reason.clone(),
                                    comment_id: Some(comment_id),
                                    head_sha: pull.head.sha.clone(),
                                }));
                                answer
                                    .lines
                                    .push(replies::waived(line, &gate.name, reason, implicit));
                            }
                            Authorisation::Refused { reason: why } => {
                                count(cmd.name(), "refused");
                                outcome.audits.push(refusal(&gate.name, why.clone()));
                                refusals.push(replies::waive_refused(line, &gate.name, &why));
                            }
                            Authorisation::Unknown { reason: why } => {
                                count(cmd.name(), "unverified");
                                outcome
                                    .audits
                                    .push(refusal(&gate.name, format!("could not verify: {why}")));
                                refusals.push(replies::waive_unverified(line, &gate.name, &why));
                            }
                        }
                    }
                    // Naming no gate waives what the declarer may waive; refusals matter only
                    // when nothing was waived, or when the gate was named.
                    if implicit && !any && refusals.is_empty() {
                        answer.lines.push(replies::nothing_to_waive(line));
                    }
                    if !implicit || !any {
                        answer.lines.extend(refusals);
                    }
                }
                Command::Revoke { gates: named } => {
                    for name in named {
                        evaluate(&mut answer, name);
                        // Declared earlier in this comment, by its author: withdrawn.
                        if let Some(i) = planned.iter().position(|g| g == name) {
                            planned.remove(i);
                            outcome.effects.push(Effect::Withdraw {
                                gate: name.clone(),
                                by: author.to_string(),
                                reason: format!("/sop-revoke in comment {comment_id}"),
                            });
                            answer.lines.push(replies::withdrawn(line, name));
                            continue;
                        }
                        let Some(w) = active.iter().find(|w| &w.gate == name).cloned() else {
                            answer.lines.push(replies::nothing_to_revoke(line, name));
                            continue;
                        };
                        let Some(gate) = gates.iter().find(|g| &g.name == name) else {
                            continue;
                        };
                        let spec = GateSpec::from(gate);
                        let decision = self
                            .authorise(repo, |a| authorise_revoke(&spec, &w.declared_by, author, a))
                            .await;
                        match decision {
                            Authorisation::Allowed { .. } => {
                                count(cmd.name(), "ok");
                                active.retain(|a| a.id != w.id);
                                outcome.effects.push(Effect::Revoke(Revocation {
                                    waiver_id: w.id,
                                    by: author.to_string(),
                                    reason: format!("/sop-revoke in comment {comment_id}"),
                                }));
                                answer.lines.push(replies::revoked(
                                    line,
                                    name,
                                    w.id,
                                    &w.declared_by,
                                ));
                            }
                            Authorisation::Refused { reason: why }
                            | Authorisation::Unknown { reason: why } => {
                                count(cmd.name(), "refused");
                                outcome
                                    .audits
                                    .push(refusal(name, format!("revoke refused: {why}")));
                                answer.lines.push(replies::revoke_refused(line, name, &why));
                            }
                        }
                    }
                }
            }
        }
        outcome.outcome = serde_json::to_string(&answer)?;
        Ok((outcome, answer))
    }

    /// Runs a lazy authorisation to the end, asking Gitea anew for each answer: a waiver is a
    /// security decision and must not rest on a cached membership.
    async fn authorise(
        &self,
        repo: &RepoName,
        step: impl Fn(&Answers) -> AuthStep,
    ) -> Authorisation {
        let mut answers = Answers::new();
        loop {
            match step(&answers) {
                AuthStep::Done(a) => return a,
                AuthStep::Probe { team, login } => {
                    let m = self.ev.membership(repo, &team, &login, true).await;
                    answers.insert((team, login), m);
                }
            }
        }
    }

    /// Evaluates what the answer asks, posts the statuses, and posts or edits the one reply.
    /// `pull` is the PR as fetched for the decision, when at hand: evaluating from it saves
    /// asking Gitea for it again (a push meanwhile is the next event of this PR, evaluated next).
    /// Every `/refire` evaluates anew: its reply promises a fresh membership look-up.
    async fn publish(
        &self,
        repo: &RepoName,
        comment_id: i64,
        answer: &Answer,
        retry: bool,
        pull: Option<&PullRequest>,
    ) -> anyhow::Result<()> {
        let mut guard_notes = Vec::new();
        let eval = if answer.evaluate.is_empty() {
            None
        } else {
            let pull = match pull {
                Some(pull) => pull.clone(),
                None => self.ev.client.pull(repo, answer.pr).await?,
            };
            let gates = Some(answer.evaluate.as_slice());
            let evals;
            (evals, guard_notes) = self
                .evaluate_and_post(repo, &pull, gates, answer.fresh)
                .await?;
            guard_notes.extend(self.shared_head_note(&evals));
            evals.into_iter().next()
        };
        let body = replies::compose(comment_id, answer, eval.as_ref(), &guard_notes);
        let client = &self.ev.client;
        let existing = if retry {
            self.find_reply(repo, answer.pr, comment_id).await?
        } else {
            None
        };
        let reply = match existing {
            Some(id) => client.edit_comment(repo, id, &body).await?,
            None => client.post_comment(repo, answer.pr, &body).await?,
        };
        self.ev
            .store
            .set_reply_comment_id(&repo.full(), comment_id, reply.id)
            .await?;
        info!(%repo, pr = answer.pr, comment_id, reply = reply.id, "answered");
        Ok(())
    }

    /// The bot's earlier reply to a comment, found by its marker (after a crash).
    async fn find_reply(
        &self,
        repo: &RepoName,
        pr: u64,
        comment_id: i64,
    ) -> anyhow::Result<Option<i64>> {
        let marker = replies::marker(comment_id);
        let comments = self.ev.client.issue_comments(repo, pr).await?;
        Ok(comments
            .iter()
            .find(|c| {
                c.author()
                    .is_some_and(|a| a.eq_ignore_ascii_case(&self.bot))
                    && c.body.starts_with(&marker)
            })
            .map(|c| c.id))
    }

    /// Evaluates a PR and the other open PRs on its head commit, and posts their statuses,
    /// holding the commit's lock throughout (see [`Engine::heads`]).
    async fn evaluate_and_post(
        &self,
        repo: &RepoName,
        pull: &PullRequest,
        gates: Option<&[String]>,
        fresh: bool,
    ) -> anyhow::Result<(Vec<PrEvaluation>, Vec<String>)> {
        let key = (repo.full(), pull.head.sha.clone());
        let lock = {
            let mut heads = self.heads.lock().unwrap_or_else(|e| e.into_inner());
            heads.entry(key.clone()).or_default().clone()
        };
        let result = {
            let _held = lock.lock().await;
            match self.ev.evaluate_head(repo, pull, gates, fresh).await {
                Ok(evals) => self
                    .post_statuses(repo, &evals)
                    .await
                    .map(|notes| (evals, notes)),
                Err(e) => Err(e),
            }
        };
        let mut heads = self.heads.lock().unwrap_or_else(|e| e.into_inner());
        // Forget the lock when nobody else holds or waits for it (the map and ours).
        if Arc::strong_count(&lock) == 2 {
            heads.remove(&key);
        }
        result
    }

    /// Posts the statuses the evaluations of the open PRs on one head commit stand for, and
    /// handles the status guard. Returns the notes to tell the PR about overturned statuses.
    async fn post_statuses(
        &self,
        repo: &RepoName,
        evals: &[PrEvaluation],
    ) -> anyhow::Result<Vec<String>> {
        let Some(eval) = evals.first() else {
            return Ok(vec![]);
        };
        let all: Vec<&PrEvaluation> = evals.iter().collect();
        let posted = statuses::post(&self.ev.client, &self.ev.config, repo, &all, &self.bot)
            .await
            .context("cannot post statuses")?;
        let mut notes = Vec::new();
        for o in posted.overturned {
            let (context, who, state, ours) = (&o.context, &o.by, &o.state, &o.ours);
            self.ev
                .store
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
    fn shared_head_note(&self, evals: &[PrEvaluation]) -> Option<String> {
        let (own, others) = evals.split_first()?;
        if others.is_empty() || !own.open {
            return None;
        }
        let all: Vec<&PrEvaluation> = evals.iter().collect();
        let combined = statuses::desired(&self.ev.config, &all);
        let gates = self.ev.config.gates();
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

    /// Evaluates every gate of a PR, and of the other open PRs on its head commit, and posts
    /// the statuses (pushes, reviews, the poller).
    async fn reevaluate(
        &self,
        repo: &RepoName,
        pr: u64,
        fingerprint: Option<String>,
    ) -> anyhow::Result<()> {
        let pull = self.ev.client.pull(repo, pr).await?;
        self.reevaluate_pull(repo, &pull, fingerprint).await
    }

    /// [`Engine::reevaluate`] of a PR just fetched.
    async fn reevaluate_pull(
        &self,
        repo: &RepoName,
        pull: &PullRequest,
        fingerprint: Option<String>,
    ) -> anyhow::Result<()> {
        let pr = pull.number;
        let (evals, notes) = self.evaluate_and_post(repo, pull, None, false).await?;
        if !notes.is_empty() {
            self.ev
                .client
                .post_comment(repo, pr, &notes.join("\n\n"))
                .await?;
        }
        for (i, eval) in evals.iter().enumerate() {
            // The poller's fingerprint stands for the PR it saw; siblings record their own.
            let fp = if i == 0 { fingerprint.clone() } else { None };
            if let Some(fp) = fp.or_else(|| eval.reviews_fingerprint.clone()) {
                self.ev
                    .store
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

    /// Someone else posted a status on one of sopbot's contexts: the open PRs whose head is
    /// that commit are evaluated again (the first one with its siblings, as every evaluation
    /// is), so the status guard puts sopbot's verdict back on top at once. A commit that is no
    /// open PR's head gates nothing.
    async fn status_posted(&self, repo: &RepoName, sha: &str) -> anyhow::Result<()> {
        let open = self
            .ev
            .client
            .open_pulls(repo)
            .await
            .context("cannot list the open PRs to find those on the commit")?;
        let Some(pr) = open
            .iter()
            .filter(|p| p.head.sha == sha)
            .map(|p| p.number)
            .min()
        else {
            info!(%repo, sha, "status on a commit that is no open PR's head: nothing to do");
            return Ok(());
        };
        self.reevaluate(repo, pr, None).await
    }

    /// A PR closed, or reopened: either way it was closed, and a close ends the waivers declared
    /// before it — also when the `closed` delivery arrives after the reopen (out of order), or
    /// never (lost: the reopen says it happened). The gates are then evaluated on the PR as
    /// Gitea has it now.
    async fn pr_closed_or_reopened(
        &self,
        repo: &RepoName,
        pr: u64,
        action: PrAction,
    ) -> anyhow::Result<()> {
        let pull = self.ev.client.pull(repo, pr).await?;
        let why = match (action, pull.is_open(), pull.merged) {
            (PrAction::Reopened, ..) => "PR closed (now reopened)",
            (_, true, _) => "PR closed (since reopened)",
            (_, false, true) => "PR merged",
            (_, false, false) => "PR closed",
        };
        let ended = self
            .ev
            .store
            .expire_waivers_for_pr(&repo.full(), pr as i64, "sopbot", why)
            .await?;
        if !ended.is_empty() {
            info!(%repo, pr, count = ended.len(), why, "waivers expired");
        }
        self.reevaluate_pull(repo, &pull, None).await
    }

    /// A comment edited by someone other than its author: acting on it would speak in the
    /// author's name (a PR author editing a manager's comment into a waiver). Ignored, and
    /// audited.
    async fn foreign_edit(
        &self,
        repo: &RepoName,
        pr: u64,
        comment_id: i64,
        author: &str,
        editor: Option<&str>,
    ) -> anyhow::Result<()> {
        let who = editor.map_or("an account Gitea did not name".to_string(), |e| {
            format!("@{e}")
        });
        warn!(%repo, pr, comment_id, author, editor, "ignored an edit not by the comment's author");
        self.ev
            .store
            .record_audit(&NewAudit {
                actor: editor.unwrap_or("unknown").to_string(),
                action: actions::EDIT_IGNORED.into(),
                repo: Some(repo.full()),
                pr: Some(pr as i64),
                gate: None,
                waiver_id: None,
                detail: format!(
                    "{who} edited comment {comment_id} by @{author}; the edit was not acted on"
                ),
            })
            .await?;
        Ok(())
    }

    /// A deleted comment takes its waivers with it; the gates are evaluated again.
    async fn comment_deleted(
        &self,
        repo: &RepoName,
        pr: u64,
        comment_id: i64,
        author: Option<&str>,
    ) -> anyhow::Result<()> {
        let author = author.map_or("a deleted user".to_string(), |a| format!("@{a}"));
        let waivers = self
            .ev
            .store
            .active_waivers_for_comment(&repo.full(), comment_id)
            .await?;
        if waivers.is_empty() {
            return Ok(());
        }
        for w in &waivers {
            let why = format!("comment {comment_id} by {author} that declared it was deleted");
            match self.ev.store.revoke_waiver(w.id, "sopbot", &why).await {
                Ok(_) | Err(StoreError::AlreadyRevoked { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.reevaluate(repo, pr, None).await
    }
}
