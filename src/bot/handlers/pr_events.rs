//! Events about a pull request as a whole: opened, pushed to, retargeted, closed, reopened;
//! a status posted on its head commit; the poller's re-evaluation.

use anyhow::Context;
use tracing::info;

use crate::bot::event::PrAction;
use crate::bot::publish::{Ending, Plan, Target};
use crate::bot::Ctx;
use crate::types::RepoName;

/// A PR closed, or reopened: either way it was closed, and a close ends the waivers declared
/// before it — also when the `closed` delivery arrives after the reopen (out of order), or
/// never (lost: the reopen says it happened). The gates are then evaluated on the PR as Gitea
/// has it now. Any other action (opened, a push, a retarget) evaluates the gates again.
pub async fn handle_pull_request(
    ctx: &Ctx,
    repo: &RepoName,
    pr: u64,
    action: PrAction,
) -> anyhow::Result<Plan> {
    if !matches!(action, PrAction::Closed | PrAction::Reopened) {
        return Ok(handle_reevaluate(pr, None));
    }
    let pull = ctx.client.pull(repo, pr).await?;
    let why = match (action, pull.is_open(), pull.merged) {
        (PrAction::Reopened, ..) => "PR closed (now reopened)",
        (_, true, _) => "PR closed (since reopened)",
        (_, false, true) => "PR merged",
        (_, false, false) => "PR closed",
    };
    Ok(Plan::Evaluate {
        target: Target::Fetched(Box::new(pull)),
        end: Some(Ending::Expire { pr, why }),
        fingerprint: None,
    })
}

/// Evaluates every gate of a PR (the poller passes the fingerprint of what it saw).
pub fn handle_reevaluate(pr: u64, fingerprint: Option<String>) -> Plan {
    Plan::Evaluate {
        target: Target::Number(pr),
        end: None,
        fingerprint,
    }
}

/// Someone else posted a status on one of sopbot's contexts: the open PRs whose head is that
/// commit are evaluated again (the first one with its siblings, as every evaluation is), so the
/// status guard puts sopbot's verdict back on top at once. A commit that is no open PR's head
/// gates nothing; the bot's own statuses call for nothing.
pub async fn handle_status(
    ctx: &Ctx,
    repo: &RepoName,
    sha: &str,
    sender: Option<&str>,
) -> anyhow::Result<Plan> {
    if sender.is_some_and(|s| s.eq_ignore_ascii_case(&ctx.bot)) {
        return Ok(Plan::Nothing);
    }
    let open = ctx
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
        return Ok(Plan::Nothing);
    };
    Ok(handle_reevaluate(pr, None))
}
