//! One handler per event kind and per command. Each reads what it needs and returns what it
//! plans ([`Plan`]); [`publish::run`] carries it out. An error means "try again later": nothing
//! half-done shows.

mod comment;
mod help;
mod hold;
mod pr_events;
mod refire;
mod review;
mod revoke;
mod waive;

use crate::types::RepoName;

use super::event::Event;
use super::publish::{self, Plan};
use super::Ctx;

/// Handles one event to the end.
pub async fn handle(ctx: &Ctx, event: &Event) -> anyhow::Result<()> {
    let repo: RepoName = event
        .repo()
        .parse()
        .map_err(|e: String| anyhow::anyhow!(e))?;
    if ctx.served.get(&repo.full()).is_none() {
        if ctx.served.undecided(&repo.full()) {
            anyhow::bail!(
                "the repositories of {} have not been listed yet",
                repo.owner
            );
        }
        return Ok(());
    }
    let plan = plan(ctx, &repo, event).await?;
    publish::run(ctx, &repo, plan).await
}

/// What the event calls for.
async fn plan(ctx: &Ctx, repo: &RepoName, event: &Event) -> anyhow::Result<Plan> {
    match event {
        Event::Comment { .. } => comment::handle_comment(ctx, repo, event).await,
        Event::PullRequest { pr, action, .. } => {
            pr_events::handle_pull_request(ctx, repo, (*pr).into(), *action).await
        }
        Event::Review { pr, .. } | Event::ReviewRequest { pr, .. } => {
            Ok(review::handle_review((*pr).into()))
        }
        Event::Status { sha, sender, .. } => {
            pr_events::handle_status(ctx, repo, sha.as_str(), sender.as_deref()).await
        }
        Event::Reevaluate {
            pr, fingerprint, ..
        } => Ok(pr_events::handle_reevaluate(
            (*pr).into(),
            fingerprint.clone(),
        )),
    }
}

/// Runs a lazy authorisation to the end, asking Gitea anew for each answer: a waiver is a
/// security decision and must not rest on a cached membership.
async fn authorise(
    ctx: &Ctx,
    repo: &RepoName,
    step: impl Fn(&crate::gate::Answers) -> crate::gate::AuthStep,
) -> crate::gate::Authorisation {
    use crate::gate::{Answers, AuthStep};
    let mut answers = Answers::new();
    loop {
        match step(&answers) {
            AuthStep::Done(a) => return a,
            AuthStep::Probe { team, login } => {
                let m = ctx.membership(repo, &team, &login, true).await;
                answers.insert((team, login), m);
            }
        }
    }
}
