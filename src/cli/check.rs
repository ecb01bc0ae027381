//! `sopbot check OWNER/REPO#N [--json] [--post]`: explains every gate of a PR, as the bot
//! would decide it now.

use anyhow::Context;

use crate::bot::{publish, PrEvaluation};
use crate::config::Config;
use crate::gate::GateState;
use crate::types::PrRef;

use super::{table, Outcome};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  sopbot check acme/widgets#7\n  sopbot check acme/widgets#7 --json\n  sopbot check acme/widgets#7 --post   # also post the statuses\n\nExit status: 0 every gate passes, 1 a gate does not, 2 error."
)]
pub struct Args {
    /// The pull request, as OWNER/REPO#N.
    pub pr: PrRef,
    /// Machine output.
    #[arg(long)]
    pub json: bool,
    /// Also post the statuses on the PR's head commit (only those that changed).
    #[arg(long)]
    pub post: bool,
}

pub async fn run(config: &Config, args: Args) -> anyhow::Result<Outcome> {
    let ctx = super::connect(config).await?;
    let repo = &args.pr.repo;
    // An unserved repository has no gates: "nothing to check" must not read as a pass.
    if ctx.served.find(&ctx.client, repo).await?.is_none() {
        anyhow::bail!(
            "{repo} is not served: add a [[repo]] for it (or the topic of its [[org]]) to this config"
        );
    }
    let pull = ctx.client.pull(repo, args.pr.number).await?;
    let (eval, posted) = if args.post {
        // The statuses on the head commit answer for every open PR on it; posted as `serve`
        // posts them, status guard included.
        let published = publish::statuses_of_head(&ctx, repo, &pull, None, false).await?;
        let eval = published.evals.into_iter().next();
        (eval.context("no evaluation")?, Some(published.posted))
    } else {
        (ctx.evaluate_pr(repo, &pull, None, false).await?, None)
    };
    if args.json {
        super::print_json(&eval)?;
    } else {
        print!("{}", crate::text::terminal(&explain(&eval)));
        if let Some(p) = posted {
            println!(
                "statuses: {} posted, {} already current",
                p.posted.len(),
                p.unchanged.len()
            );
            for o in p.overturned {
                println!(
                    "{}",
                    crate::text::terminal(&format!(
                        "  `{}` had `{}` posted by @{}: replaced by the bot's verdict",
                        o.context, o.state, o.by
                    ))
                );
            }
        }
    }
    Ok(if eval.all_pass() {
        Outcome::Ok
    } else {
        Outcome::CheckFailed
    })
}

/// The human explanation: one block per gate with who decided it and every candidate probed.
fn explain(eval: &PrEvaluation) -> String {
    let short = eval.head_sha.get(..10).unwrap_or(&eval.head_sha);
    let mut out = format!(
        "{}#{} at {short} (author @{})\n",
        eval.repo,
        eval.pr,
        eval.author.as_deref().unwrap_or("unknown")
    );
    let rows: Vec<Vec<String>> = eval
        .gates
        .iter()
        .map(|v| {
            vec![
                v.gate.clone(),
                v.state.as_str().into(),
                v.description.clone(),
            ]
        })
        .collect();
    out.push_str(&table::render(&["GATE", "STATE", "WHY"], &rows));
    for v in &eval.gates {
        let mut notes = Vec::new();
        if let Some(w) = &v.waiver {
            notes.push(format!(
                "waiver #{} by @{}: {}",
                w.id, w.declared_by, w.reason
            ));
        }
        for c in &v.candidates {
            notes.push(format!(
                "@{} approved: {}",
                c.login,
                match &c.membership {
                    crate::gate::Membership::Member if c.re_requested => {
                        "member of the team; the approval was cleared by a new review request (access is fine: approve again)".to_string()
                    }
                    crate::gate::Membership::Member if !c.official => {
                        "member of the team, but the approval is not official (the team needs write access to code or a place in the approvals whitelist; then approve again)".to_string()
                    }
                    crate::gate::Membership::Member => "member of the team".to_string(),
                    crate::gate::Membership::NotMember => "not a member of the team".to_string(),
                    crate::gate::Membership::Forbidden => {
                        "membership unreadable: the bot's token got 403 for this team".to_string()
                    }
                    crate::gate::Membership::MissingScope(s) => {
                        format!("membership unreadable: {}", crate::gitea::scope_fix(s))
                    }
                    crate::gate::Membership::Error(e) => format!("membership check failed: {e}"),
                }
            ));
        }
        for i in &v.ignored {
            notes.push(format!("@{}'s approval does not count: {}", i.login, i.why));
        }
        for m in &v.misfiled {
            notes.push(format!(
                "@{m} has a PENDING review with a body: probably a misfiled approval; resubmit it with the event APPROVED"
            ));
        }
        if v.state == GateState::Error && notes.is_empty() {
            notes.push("membership could not be verified".into());
        }
        if !notes.is_empty() {
            out.push_str(&format!("{}:\n", v.gate));
            for n in notes {
                out.push_str(&format!("  - {n}\n"));
            }
        }
    }
    out
}
