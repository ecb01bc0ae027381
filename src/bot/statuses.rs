//! Posting the gate statuses and the N/A status of a PR evaluation, skipping the ones already
//! on the commit with the same state and description, and noticing statuses on our contexts
//! that another account posted (the status guard).

use crate::config::Config;
use crate::gate::GateState;
use crate::gitea::{GiteaClient, NewStatus, StatusState};
use crate::types::RepoName;

use super::PrEvaluation;

/// What posting did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Posted {
    /// Contexts posted now.
    pub posted: Vec<String>,
    /// Contexts already showing the same verdict, by us.
    pub unchanged: Vec<String>,
    /// Contexts whose latest status was posted by another account, with that account's login
    /// and the state it set: our verdict now stands on top of it.
    pub overturned: Vec<(String, String, String)>,
}

/// The statuses an evaluation stands for: one per gate, and the N/A status.
///
/// A gate that does not apply (base branch not protected, no diff, PR closed) posts nothing:
/// statuses belong to the commit, not the PR, and a "not applicable" success on a commit would
/// also open the gates of another PR with the same head into a protected branch.
pub fn desired(config: &Config, eval: &PrEvaluation) -> Vec<NewStatus> {
    let gates = config.gates();
    let mut out: Vec<NewStatus> = eval
        .gates
        .iter()
        .filter(|v| v.skipped.is_none())
        .filter_map(|v| {
            let gate = gates.iter().find(|g| g.name == v.gate)?;
            Some(NewStatus {
                state: match v.state {
                    GateState::Success => StatusState::Success,
                    GateState::Failure => StatusState::Failure,
                    GateState::Error => StatusState::Error,
                },
                context: gate.context.clone(),
                description: v.description.clone(),
                target_url: None,
            })
        })
        .collect();
    if out.is_empty() {
        return out;
    }
    let mut waived = eval.waived.clone();
    waived.sort();
    waived.dedup();
    out.push(NewStatus {
        state: StatusState::Success,
        context: config.waiver.context.clone(),
        description: if waived.is_empty() {
            "no gates waived".into()
        } else {
            crate::gate::clip(
                &format!("N/A: {}", waived.join(", ")),
                crate::gate::MAX_DESCRIPTION,
            )
        },
        target_url: None,
    });
    out
}

/// Posts what changed. One call reads the latest status per context; one call per change.
pub async fn post(
    client: &GiteaClient,
    config: &Config,
    repo: &RepoName,
    eval: &PrEvaluation,
    bot_login: &str,
) -> Result<Posted, crate::gitea::GiteaError> {
    let latest = client.latest_statuses(repo, &eval.head_sha).await?;
    let mut result = Posted::default();
    for want in desired(config, eval) {
        let current = latest.iter().find(|s| s.context == want.context);
        let creator = current
            .and_then(|s| s.creator.as_ref())
            .map(|u| u.login.as_str());
        match current {
            Some(s)
                if creator == Some(bot_login)
                    && s.state == want.state.as_str()
                    && s.description == want.description =>
            {
                result.unchanged.push(want.context.clone());
                continue;
            }
            Some(s) if creator != Some(bot_login) => result.overturned.push((
                want.context.clone(),
                creator.unwrap_or("unknown").to_string(),
                s.state.clone(),
            )),
            _ => {}
        }
        client.post_status(repo, &eval.head_sha, &want).await?;
        result.posted.push(want.context);
    }
    Ok(result)
}
