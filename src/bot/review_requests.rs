//! `[gate.NAME] request_review` (`docs/policies.md`): when a gate of an open PR awaits approval,
//! its team is asked for a review once — claimed in the store first, so never again for that PR
//! and gate, across restarts. Asking is a courtesy: a failure is logged and audited, and never
//! changes or delays a verdict.

use tracing::{info, warn};

use crate::gate::GateState;
use crate::store::{actions, NewAudit};
use crate::types::{RepoName, TeamRef};

use super::{Ctx, PrEvaluation};

/// Asks each awaiting gate's team for a review of each open PR in `evals`, once.
pub(crate) async fn request_reviews(ctx: &Ctx, repo: &RepoName, evals: &[PrEvaluation]) {
    let gates = ctx.gates(repo);
    for eval in evals.iter().filter(|e| e.open) {
        for v in &eval.gates {
            let Some(gate) = gates.iter().find(|g| g.name == v.gate) else {
                continue;
            };
            if !gate.policy.request_review || v.state != GateState::Failure || v.skipped.is_some() {
                continue;
            }
            if let Err(e) = request_one(ctx, repo, eval.pr, &gate.name, &gate.team).await {
                warn!(%repo, pr = eval.pr, gate = %gate.name, error = %e, "cannot record a review request");
            }
        }
    }
}

async fn request_one(
    ctx: &Ctx,
    repo: &RepoName,
    pr: u64,
    gate: &str,
    team: &TeamRef,
) -> anyhow::Result<()> {
    if !ctx
        .store
        .claim_review_request(&repo.full(), pr as i64, gate)
        .await?
    {
        return Ok(());
    }
    let asked = match ctx.teams.resolve(&repo.owner, team).await {
        Ok(t) => ctx
            .client
            .request_team_review(repo, pr, &t.name)
            .await
            .map(|_| t.name)
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let (action, detail) = match &asked {
        Ok(name) => {
            info!(%repo, pr, gate, team = %name, "review requested");
            (
                actions::REVIEW_REQUESTED,
                format!("asked team `{name}` to review for gate `{gate}`"),
            )
        }
        Err(e) => {
            warn!(%repo, pr, gate, error = %e, "cannot request a review");
            (
                actions::REVIEW_REQUEST_FAILED,
                format!("could not ask team `{team}` to review for gate `{gate}`: {e}"),
            )
        }
    };
    ctx.store
        .record_audit(&NewAudit {
            actor: "sopbot".into(),
            action: action.into(),
            repo: Some(repo.full()),
            pr: Some(pr as i64),
            gate: Some(gate.into()),
            waiver_id: None,
            detail,
        })
        .await?;
    Ok(())
}
