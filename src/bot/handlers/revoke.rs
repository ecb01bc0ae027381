//! `/sop-revoke gates`: ends active waivers, for those who may revoke them; a waiver declared
//! earlier in the same comment is withdrawn.

use super::comment::{Planned, Thread};
use super::waive::refusal;
use crate::bot::replies;
use crate::bot::Ctx;
use crate::gate::{authorise_revoke, Authorisation, GateSpec};
use crate::store::{Effect, Revocation};

const NAME: &str = "sop-revoke";

/// Plans the revocation of each named gate's active waiver.
pub async fn command_revoke(ctx: &Ctx, thread: &Thread, line: usize, named: &[String]) -> Planned {
    let mut planned = Planned::default();
    // The waivers as this command's own earlier revocations leave them.
    let mut thread = thread.clone();
    let gates = ctx.gates(&thread.repo);
    let reason = format!("/sop-revoke in comment {}", thread.comment_id);
    for name in named {
        planned.evaluate.push(name.clone());
        // Declared earlier in this comment, by its author: withdrawn.
        if thread.planned.contains(name) {
            let effect = Effect::Withdraw {
                gate: name.clone(),
                by: thread.author.clone(),
                reason: reason.clone(),
            };
            thread.apply(&effect);
            planned.effects.push(effect);
            planned.lines.push(replies::withdrawn(line, name));
            continue;
        }
        let Some(w) = thread.active.iter().find(|w| &w.gate == name).cloned() else {
            planned.lines.push(replies::nothing_to_revoke(line, name));
            continue;
        };
        let Some(gate) = gates.iter().find(|g| &g.name == name) else {
            continue;
        };
        let spec = GateSpec::from(gate);
        let author = thread.author.as_str();
        let decision = super::authorise(ctx, &thread.repo, |a| {
            authorise_revoke(&spec, &w.declared_by, author, a)
        })
        .await;
        match decision {
            Authorisation::Allowed { .. } => {
                ctx.metrics.command(NAME, "ok");
                let effect = Effect::Revoke(Revocation {
                    waiver_id: w.id,
                    by: thread.author.clone(),
                    reason: reason.clone(),
                });
                thread.apply(&effect);
                planned.effects.push(effect);
                let text = replies::revoked(line, name, w.id, &w.declared_by);
                planned.lines.push(text);
            }
            Authorisation::Refused { reason: why } | Authorisation::Unknown { reason: why } => {
                ctx.metrics.command(NAME, "refused");
                let detail = format!("revoke refused: {why}");
                planned.audits.push(refusal(&thread, name, detail));
                planned
                    .lines
                    .push(replies::revoke_refused(line, name, &why));
            }
        }
    }
    planned
}
