//! `/sop-n/a [gates] reason`: declares gates not applicable, for those the declarer may waive.

use tracing::info;

use super::comment::{Planned, Thread};
use crate::bot::replies;
use crate::bot::Ctx;
use crate::config::Gate;
use crate::gate::{authorise_waiver, Authorisation, GateSpec};
use crate::store::{actions, Effect, NewAudit, NewWaiver};

const NAME: &str = "sop-n/a";

/// Plans the waivers of `named` gates (every gate when none is named: then only what the
/// declarer may waive, silently skipping the rest). A closed PR or a late comment waives
/// nothing.
pub async fn command_waive(
    ctx: &Ctx,
    thread: &Thread,
    line: usize,
    named: &[String],
    reason: &str,
) -> Planned {
    let mut planned = Planned::default();
    let Some(pull) = thread.pull.as_ref().filter(|p| p.is_open()) else {
        ctx.metrics.command(NAME, "refused");
        planned.lines.push(replies::pr_not_open(line));
        return planned;
    };
    if thread.late {
        ctx.metrics.command(NAME, "refused");
        planned.lines.push(replies::waive_late(line));
        return planned;
    }
    let implicit = named.is_empty();
    let gates = ctx.gates(&thread.repo);
    let targets = gates.iter().filter(|g| implicit || named.contains(&g.name));
    let mut refusals = Vec::new();
    for gate in targets {
        planned.evaluate.push(gate.name.clone());
        if let Some(w) = thread.active.iter().find(|w| w.gate == gate.name) {
            if !implicit {
                let text = replies::already_waived(line, &gate.name, &w.declared_by, w.id);
                planned.lines.push(text);
            }
            continue;
        }
        if thread.planned.contains(&gate.name) {
            continue;
        }
        let spec = GateSpec::from(gate);
        let decision = super::authorise(ctx, &thread.repo, |a| {
            authorise_waiver(&spec, &thread.author, pull.author(), a)
        })
        .await;
        match decision {
            Authorisation::Allowed { via } => {
                ctx.metrics.command(NAME, "ok");
                info!(repo = %thread.repo, pr = pull.number, gate = %gate.name,
                    declarer = thread.author, via, "waiver granted");
                planned.effects.push(waiver(thread, gate, reason));
                let text = replies::waived(line, &gate.name, reason, implicit);
                planned.lines.push(text);
            }
            Authorisation::Refused { reason: why } => {
                ctx.metrics.command(NAME, "refused");
                planned
                    .audits
                    .push(refusal(thread, &gate.name, why.clone()));
                refusals.push(replies::waive_refused(line, &gate.name, &why));
            }
            Authorisation::Unknown { reason: why } => {
                ctx.metrics.command(NAME, "unverified");
                let detail = format!("could not verify: {why}");
                planned.audits.push(refusal(thread, &gate.name, detail));
                refusals.push(replies::waive_unverified(line, &gate.name, &why));
            }
        }
    }
    // Naming no gate waives what the declarer may waive; refusals matter only when nothing
    // was waived, or when the gate was named.
    let any = !planned.effects.is_empty();
    if implicit && !any && refusals.is_empty() {
        planned.lines.push(replies::nothing_to_waive(line));
    }
    if !implicit || !any {
        planned.lines.extend(refusals);
    }
    planned
}

fn waiver(thread: &Thread, gate: &Gate, reason: &str) -> Effect {
    let pull = thread
        .pull
        .as_ref()
        .expect("a waiver is planned on a fetched PR");
    Effect::Waive(NewWaiver {
        repo: thread.repo.full(),
        pr: pull.number as i64,
        gate: gate.name.clone(),
        declared_by: thread.author.clone(),
        reason: reason.to_string(),
        comment_id: Some(thread.comment_id),
        head_sha: pull.head.sha.clone(),
    })
}

/// The audit row of a refused (or unverifiable) waiver or revocation.
pub(super) fn refusal(thread: &Thread, gate: &str, detail: String) -> NewAudit {
    NewAudit {
        actor: thread.author.clone(),
        action: actions::WAIVER_REFUSED.into(),
        repo: Some(thread.repo.full()),
        pr: Some(thread.pr as i64),
        gate: Some(gate.to_string()),
        waiver_id: None,
        detail,
    }
}
