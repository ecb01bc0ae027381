//! `/sop-hold REASON` and `/sop-unhold [NOTE]`: a hold on the PR, for gate-team members
//! (`gate::authorise_hold`). The hold status is posted by the evaluation that follows
//! (`bot::holds`).

use super::comment::{Planned, Thread};
use crate::bot::replies;
use crate::bot::Ctx;
use crate::gate::{authorise_hold, hold_teams, Authorisation, GateSpec, HoldAction};
use crate::store::{actions, Effect, NewAudit, NewHold};

/// Plans a hold, or a release (`reason` `None` and `hold` false: `/sop-unhold` without a note).
pub async fn command_hold(
    ctx: &Ctx,
    thread: &Thread,
    line: usize,
    hold: bool,
    reason: Option<&str>,
) -> Planned {
    let name = if hold { "sop-hold" } else { "sop-unhold" };
    let mut planned = Planned::default();
    let Some(pull) = thread.pull.as_ref().filter(|p| p.is_open()) else {
        ctx.metrics.command(name, "refused");
        planned.lines.push(replies::hold_pr_not_open(line, name));
        return planned;
    };
    if thread.late {
        ctx.metrics.command(name, "refused");
        planned.lines.push(replies::hold_late(line, name));
        return planned;
    }
    let action = match (&thread.held_by, hold) {
        (Some(by), true) => {
            ctx.metrics.command(name, "refused");
            planned.lines.push(replies::already_held(line, by));
            return planned;
        }
        (None, false) => {
            ctx.metrics.command(name, "refused");
            planned.lines.push(replies::nothing_to_unhold(line));
            return planned;
        }
        (None, true) => HoldAction::Hold,
        (Some(by), false) => HoldAction::Unhold { held_by: by },
    };
    let here = ctx.gates(&thread.repo);
    let gates: Vec<GateSpec> = here.iter().map(GateSpec::from).collect();
    let teams = hold_teams(&gates);
    let decision = super::authorise(ctx, &thread.repo, |a| {
        authorise_hold(&teams, &thread.author, pull.author(), action, a)
    })
    .await;
    match decision {
        Authorisation::Allowed { .. } => {
            ctx.metrics.command(name, "ok");
            planned.evaluate = here.iter().map(|g| g.name.clone()).collect();
            plan_allowed(&mut planned, thread, line, pull.number, action, reason);
        }
        Authorisation::Refused { reason: why } | Authorisation::Unknown { reason: why } => {
            ctx.metrics.command(name, "refused");
            planned.audits.push(NewAudit {
                actor: thread.author.clone(),
                action: actions::HOLD_REFUSED.into(),
                repo: Some(thread.repo.full()),
                pr: Some(thread.pr as i64),
                gate: None,
                waiver_id: None,
                detail: format!("/{name} refused: {why}"),
            });
            planned.lines.push(replies::hold_refused(line, name, &why));
        }
    }
    planned
}

/// The hold (or release) an authorised `/sop-hold` (`/sop-unhold`) plans, and its reply line.
fn plan_allowed(
    planned: &mut Planned,
    thread: &Thread,
    line: usize,
    pr: u64,
    action: HoldAction<'_>,
    reason: Option<&str>,
) {
    match action {
        HoldAction::Hold => {
            let reason = reason.unwrap_or_default();
            planned.effects.push(Effect::Hold(NewHold {
                repo: thread.repo.full(),
                pr: pr as i64,
                held_by: thread.author.clone(),
                reason: reason.to_string(),
                comment_id: Some(thread.comment_id),
            }));
            planned.lines.push(replies::held(line, reason));
        }
        HoldAction::Unhold { held_by } => {
            let mut detail = format!(
                "/sop-unhold in comment {} released the hold by @{held_by}",
                thread.comment_id
            );
            if let Some(note) = reason {
                detail.push_str(&format!(": {note}"));
            }
            planned.effects.push(Effect::Unhold {
                by: thread.author.clone(),
                detail,
            });
            planned.lines.push(replies::unheld(line, held_by));
        }
    }
}
