//! A comment created, edited or deleted. A comment with commands is answered once: its
//! commands run in order (each in its own handler, seeing what the earlier ones planned), and
//! their effects and answer are recorded together before anything is published.

use sha2::{Digest, Sha256};
use tracing::{info, warn};

use crate::command::{parse_comment, Command, CommandError, ParsedLine};
use crate::gitea::PullRequest;
use crate::store::{actions, CommentOutcome, Effect, NewAudit, WaiverRow};
use crate::types::RepoName;

use super::{help, hold, refire, revoke, waive};
use crate::bot::event::{CommentAction, Event};
use crate::bot::publish::{Ending, Plan, ReplyPlan, Target};
use crate::bot::replies::{self, Reply};
use crate::bot::Ctx;

/// What one command plans: the reply's lines, the store writes, the gates to evaluate.
#[derive(Debug, Default)]
pub struct Planned {
    pub lines: Vec<String>,
    pub effects: Vec<Effect>,
    pub audits: Vec<NewAudit>,
    pub evaluate: Vec<String>,
    /// Ask Gitea anew about membership (`/refire`).
    pub fresh: bool,
    /// Append the command reference (`/sop-help`).
    pub help: bool,
}

/// The comment being decided on, and the waivers as its earlier commands left them.
#[derive(Debug, Clone)]
pub struct Thread {
    pub repo: RepoName,
    pub pr: u64,
    pub comment_id: i64,
    pub author: String,
    /// The PR, when a command needs it (`/sop-n/a`).
    pub pull: Option<PullRequest>,
    /// Whether the comment reached the bot after later comments of its PR were handled.
    pub late: bool,
    /// The PR's active waivers (read only when a command needs them).
    pub active: Vec<WaiverRow>,
    /// Gates waived by earlier commands of this comment.
    pub planned: Vec<String>,
    /// Who holds the PR (read only for `/sop-hold` and `/sop-unhold`), as earlier commands of
    /// this comment leave it.
    pub held_by: Option<String>,
}

impl Thread {
    /// Takes a planned effect into account, for the commands after it.
    pub fn apply(&mut self, effect: &Effect) {
        match effect {
            Effect::Waive(w) => self.planned.push(w.gate.clone()),
            Effect::Revoke(r) => self.active.retain(|a| a.id != r.waiver_id),
            Effect::Withdraw { gate, .. } => self.planned.retain(|g| g != gate),
            Effect::Hold(h) => self.held_by = Some(h.held_by.clone()),
            Effect::Unhold { .. } => self.held_by = None,
        }
    }
}

/// Dispatches a comment event: a deletion ends the comment's waivers; the bot's own comments
/// and comments without an author are not read; an edit is read only when allowed and done by
/// the author.
pub async fn handle_comment(ctx: &Ctx, repo: &RepoName, event: &Event) -> anyhow::Result<Plan> {
    let Event::Comment {
        pr,
        comment_id,
        action,
        author,
        body,
        sender,
        ..
    } = event
    else {
        return Ok(Plan::Nothing);
    };
    let (pr, comment_id) = (u64::from(*pr), *comment_id);
    // A deleted comment ends its waivers whoever wrote it (a deleted account is `user: null`),
    // and whatever its author's login.
    if *action == CommentAction::Deleted {
        return comment_deleted(ctx, repo, pr, comment_id, author.as_deref()).await;
    }
    let Some(author) = author.as_deref() else {
        return Ok(Plan::Nothing);
    };
    if author.eq_ignore_ascii_case(&ctx.bot) {
        return Ok(Plan::Nothing);
    }
    let edited = match action {
        CommentAction::Created => false,
        CommentAction::Edited if ctx.config.evaluation.handle_edited_comments => {
            let editor = sender.as_deref();
            if !editor.is_some_and(|e| crate::gate::same_login(e, author)) {
                return Ok(foreign_edit(repo, pr, comment_id, author, editor));
            }
            true
        }
        CommentAction::Edited | CommentAction::Deleted => return Ok(Plan::Nothing),
    };
    let said = Said {
        pr,
        comment_id,
        author,
        body,
        edited,
    };
    command_comment(ctx, repo, said).await
}

/// A comment that may hold commands.
struct Said<'a> {
    pr: u64,
    comment_id: i64,
    author: &'a str,
    body: &'a str,
    edited: bool,
}

/// A comment that may hold commands: react, decide, and plan the reply. Reads only what its
/// commands need: the PR for `/sop-n/a`, `/sop-revoke` and `/refire` (they evaluate), the
/// waivers for `/sop-n/a` and `/sop-revoke`, the thread order for `/sop-n/a`.
/// Long (~95 lines) because its reads run concurrently (`tokio::join!`) and the futures share
/// its locals; split, each piece would take most of them as arguments.
async fn command_comment(ctx: &Ctx, repo: &RepoName, said: Said<'_>) -> anyhow::Result<Plan> {
    let Said {
        pr,
        comment_id,
        author,
        ..
    } = said;
    // Most comments are discussion: the parser (pure) rules them out before the store is
    // asked anything. A comment without commands never has a record.
    let mut parsed = parse_comment(said.body, &ctx.gate_names);
    if parsed.is_empty() {
        return Ok(Plan::Nothing);
    }
    confine(&mut parsed, ctx, repo);
    let store = &ctx.store;
    // Gitea may deliver the deletion before the creation: a deleted comment declares nothing.
    let full = repo.full();
    let (deleted, handled) = tokio::join!(
        store.comment_deleted_seen(&full, comment_id),
        store.handled_comment(&full, comment_id)
    );
    if deleted? {
        info!(%repo, pr, comment_id, "comment already deleted: not acted on");
        return Ok(Plan::Nothing);
    }
    if let Some(done) = handled? {
        if done.reply.reply_comment_id.is_some() {
            return Ok(Plan::Nothing);
        }
        // Decided before a crash, not yet answered: answer now, from the record.
        let reply: Reply = serde_json::from_str(&done.outcome)?;
        return Ok(Plan::Reply(Box::new(ReplyPlan {
            comment_id,
            outcome: None,
            reply,
            pull: None,
        })));
    }
    let needs = |f: fn(&Command) -> bool| parsed.iter().any(|p| p.result.as_ref().is_ok_and(f));
    let waives = needs(|c| matches!(c, Command::Waive { .. }));
    let needs_waivers = waives || needs(|c| matches!(c, Command::Revoke { .. }));
    let holds = needs(|c| matches!(c, Command::Hold { .. } | Command::Unhold { .. }));
    let needs_pull = needs_waivers || holds || needs(|c| matches!(c, Command::Refire { .. }));
    // Where the comment is and what the PR is: independent reads, made together.
    let pull = async {
        match needs_pull {
            true => ctx.client.pull(repo, pr).await.map(Some),
            false => Ok(None),
        }
    };
    let (outside, pull) = tokio::join!(
        outside_conversation(ctx, repo, pr, comment_id, author),
        pull
    );
    // A PR that cannot be read is retried before a missing comment drops the commands: lost
    // access (a disabled unit, a transfer) answers 404 for both.
    let pull = pull?;
    if let Some(audit) = outside? {
        return Ok(audit);
    }
    // The reaction only says "seen": it runs alongside the decision, not before it.
    let reaction = async {
        if let Err(e) = ctx.client.react(repo, comment_id, "eyes").await {
            warn!(%repo, pr, comment_id, error = %e, "cannot react to the comment");
        }
    };
    let decision = async {
        // Thread order: a comment found after later ones were handled (its webhook was lost)
        // must not declare a waiver that a later `/sop-revoke` already answered for, nor
        // release (or bring back) a hold that a later comment placed (or released).
        let late = async {
            if !(waives || holds) || said.edited {
                return Ok(false);
            }
            let newest = store.newest_handled_comment(&full, pr as i64).await?;
            anyhow::Ok(newest.is_some_and(|newest| newest > comment_id))
        };
        let active = async {
            if !needs_waivers {
                return Ok(vec![]);
            }
            anyhow::Ok(store.active_waivers(&full, pr.into()).await?)
        };
        let held_by = async {
            if !holds {
                return Ok(None);
            }
            let hold = store.active_hold(&full, pr as i64).await?;
            anyhow::Ok(hold.map(|h| h.held_by))
        };
        let (late, active, held_by) = tokio::try_join!(late, active, held_by)?;
        let thread = Thread {
            repo: repo.clone(),
            pr,
            comment_id,
            author: author.to_string(),
            pull,
            late,
            active,
            planned: vec![],
            held_by,
        };
        decide(ctx, thread, said.body, &parsed).await
    };
    let ((), plan) = tokio::join!(reaction, decision);
    plan
}

/// Runs each command in order, each seeing what the earlier ones planned, and gathers their
/// plans into the comment's outcome and reply.
async fn decide(
    ctx: &Ctx,
    mut thread: Thread,
    body: &str,
    parsed: &[ParsedLine],
) -> anyhow::Result<Plan> {
    let pr = thread.pr;
    let mut outcome = CommentOutcome {
        repo: thread.repo.full(),
        pr: Some(pr as i64),
        comment_id: thread.comment_id,
        body_sha256: hex::encode(Sha256::digest(body.as_bytes())),
        ..CommentOutcome::default()
    };
    let mut reply = Reply {
        pr,
        to: thread.author.clone(),
        ..Reply::default()
    };
    for p in parsed {
        let line = p.line;
        let planned = match &p.result {
            Err(e) => {
                ctx.metrics.command("malformed", "malformed");
                Planned {
                    lines: vec![replies::malformed(line, e, None)],
                    ..Planned::default()
                }
            }
            Ok(cmd @ Command::Help) => {
                ctx.metrics.command(cmd.name(), "ok");
                help::command_help(line)
            }
            Ok(cmd @ Command::Refire { gates }) => {
                ctx.metrics.command(cmd.name(), "ok");
                refire::command_refire(line, gates)
            }
            Ok(Command::Waive { gates, reason }) => {
                waive::command_waive(ctx, &thread, line, gates, reason).await
            }
            Ok(Command::Revoke { gates }) => {
                revoke::command_revoke(ctx, &thread, line, gates).await
            }
            Ok(Command::Hold { reason }) => {
                hold::command_hold(ctx, &thread, line, true, Some(reason)).await
            }
            Ok(Command::Unhold { reason }) => {
                hold::command_hold(ctx, &thread, line, false, reason.as_deref()).await
            }
        };
        for e in &planned.effects {
            thread.apply(e);
        }
        for gate in planned.evaluate {
            if !reply.evaluate.contains(&gate) {
                reply.evaluate.push(gate);
            }
        }
        reply.lines.extend(planned.lines);
        reply.fresh |= planned.fresh;
        reply.help |= planned.help;
        outcome.effects.extend(planned.effects);
        outcome.audits.extend(planned.audits);
    }
    outcome.outcome = serde_json::to_string(&reply)?;
    Ok(Plan::Reply(Box::new(ReplyPlan {
        comment_id: thread.comment_id,
        outcome: Some(outcome),
        reply,
        pull: thread.pull,
    })))
}

/// Whether a comment with commands is not in the PR's conversation, and so not acted on:
/// gone (404), or a reply in a code-review thread, which Gitea delivers exactly like a
/// conversation comment but answers `GET /issues/comments/{id}` with 204 for
/// (`docs/gitea-api.md` §2). The poller can never list thread replies, so acting on them would
/// depend on a webhook arriving; and a reply would land away from the thread. The thread reply
/// is audited once (the inbox hands each delivery over once); nothing is posted. Any other
/// failure is an error: the event is tried again later.
async fn outside_conversation(
    ctx: &Ctx,
    repo: &RepoName,
    pr: u64,
    comment_id: i64,
    author: &str,
) -> anyhow::Result<Option<Plan>> {
    match ctx.client.comment(repo, comment_id).await {
        Ok(Some(_)) => Ok(None),
        Err(e) if e.is_not_found() => {
            info!(%repo, pr, comment_id, "comment gone: not acted on");
            Ok(Some(Plan::Nothing))
        }
        Err(e) => Err(e.into()),
        Ok(None) => {
            info!(%repo, pr, comment_id, author, "commands in a code-review thread: not acted on");
            Ok(Some(Plan::Audit(NewAudit {
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
            })))
        }
    }
}

/// A comment edited by someone other than its author: acting on it would speak in the
/// author's name (a PR author editing a manager's comment into a waiver). Ignored, and
/// audited.
fn foreign_edit(
    repo: &RepoName,
    pr: u64,
    comment_id: i64,
    author: &str,
    editor: Option<&str>,
) -> Plan {
    let who = editor.map_or("an account Gitea did not name".to_string(), |e| {
        format!("@{e}")
    });
    warn!(%repo, pr, comment_id, author, editor, "ignored an edit not by the comment's author");
    Plan::Audit(NewAudit {
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
}

/// A deleted comment takes its waivers with it; the gates are evaluated again.
async fn comment_deleted(
    ctx: &Ctx,
    repo: &RepoName,
    pr: u64,
    comment_id: i64,
    author: Option<&str>,
) -> anyhow::Result<Plan> {
    let author = author.map_or("a deleted user".to_string(), |a| format!("@{a}"));
    let waivers = ctx
        .store
        .active_waivers_for_comment(&repo.full(), comment_id)
        .await?;
    if waivers.is_empty() {
        return Ok(Plan::Nothing);
    }
    Ok(Plan::Evaluate {
        target: Target::Number(pr),
        end: Some(Ending::Revoke {
            waivers: waivers.iter().map(|w| w.id).collect(),
            why: format!("comment {comment_id} by {author} that declared it was deleted"),
        }),
        fingerprint: None,
    })
}

/// Commands name only the gates of `repo` (`[[repo]] gates`): one that names another configured
/// gate is refused with the repository's gates listed, never read as a reason or applied to the
/// gates that are here. `/refire` or `/refire all` (every configured gate) means the gates here.
fn confine(parsed: &mut [ParsedLine], ctx: &Ctx, repo: &RepoName) {
    let here: Vec<String> = ctx.gates(repo).into_iter().map(|g| g.name).collect();
    let everywhere = ctx.gate_names.canonical();
    if here.len() == everywhere.len() {
        return;
    }
    for p in parsed.iter_mut() {
        let Ok(command) = &mut p.result else {
            continue;
        };
        let named = match command {
            Command::Refire { gates } if gates.as_slice() == everywhere => {
                gates.retain(|g| here.contains(g));
                continue;
            }
            Command::Waive { gates, .. }
            | Command::Revoke { gates }
            | Command::Refire { gates } => gates,
            _ => continue,
        };
        if let Some(foreign) = named.iter().find(|g| !here.contains(g)) {
            p.result = Err(CommandError {
                line: p.line,
                message: format!(
                    "gate `{foreign}` does not guard {repo}; its gates: {}",
                    here.join(", ")
                ),
                suggestion: None,
            });
        }
    }
}
