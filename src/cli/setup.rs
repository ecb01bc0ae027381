//! `sopbot setup OWNER/REPO --webhook-url URL [--dry-run]`: the Gitea side of a repository from
//! the bot itself. Creates or updates the webhook (URL, secret, the events sopbot needs, JSON,
//! active) and adds the gate contexts to the branch protection rules of the configured
//! branches, printing every change. Running it again changes nothing. Needs the token's user to
//! be an admin of the repository; without that it stops at the first read with one clear line.

use crate::config::Config;
use crate::gitea::{GiteaClient, GiteaError};
use crate::types::RepoName;

use super::Outcome;

/// The webhook events sopbot acts on (Gitea's names for `POST /repos/{o}/{r}/hooks`).
pub const HOOK_EVENTS: [&str; 4] = [
    "pull_request_comment",
    "pull_request_only",
    "pull_request_sync",
    "pull_request_review",
];

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  sopbot setup acme/widgets --webhook-url https://sopbot.example.com/webhook --dry-run\n\nExit status: 0 done (or nothing to do), 2 Gitea refused or failed, 78 bad configuration."
)]
pub struct Args {
    /// The repository, as configured in [[repo]].
    pub repo: RepoName,
    /// The URL Gitea delivers to: sopbot's public address plus /webhook.
    #[arg(long, value_name = "URL")]
    pub webhook_url: String,
    /// Print what would change; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also set the webhook secret on an existing hook (Gitea never shows it back, so setup
    /// cannot tell whether it matches).
    #[arg(long)]
    pub reset_secret: bool,
}

pub async fn run(config: &Config, args: Args) -> anyhow::Result<Outcome> {
    let repo_cfg = config.repo(&args.repo).ok_or_else(|| {
        anyhow::anyhow!(
            "{} is not in the config: add a [[repo]] for it first",
            args.repo.full()
        )
    })?;
    let secret = config.webhook_secret()?.ok_or_else(|| {
        crate::config::ConfigError::Missing(
            "no webhook secret: set server.webhook_secret_file first (the hook must carry it)"
                .into(),
        )
    })?;
    let client = GiteaClient::new(
        config.gitea_url()?,
        config.gitea_token()?,
        super::client_options(config),
    )?;
    let repo = &args.repo;
    let verb = if args.dry_run { "would" } else { "will" };
    println!("setup {} ({verb} change only what differs)", repo.full());

    let hooks = client.hooks(repo).await.map_err(|e| refused(repo, e))?;
    let mut body = serde_json::json!({
        "type": "gitea",
        "config": {"url": args.webhook_url, "content_type": "json"},
        "events": HOOK_EVENTS,
        "active": true,
        "branch_filter": "*",
    });
    match hooks.iter().find(|h| h.config.url == args.webhook_url) {
        None => {
            body["config"]["secret"] = secret.expose().into();
            println!(
                "+ webhook {} (events: {})",
                args.webhook_url,
                HOOK_EVENTS.join(", ")
            );
            if !args.dry_run {
                client.save_hook(repo, None, &body).await?;
            }
        }
        Some(h) => {
            let mut changes = Vec::new();
            let mut have: Vec<&str> = h.events.iter().map(String::as_str).collect();
            have.sort_unstable();
            let mut want = HOOK_EVENTS.to_vec();
            want.sort_unstable();
            if have != want {
                changes.push(format!("events {} -> {}", have.join(","), want.join(",")));
            }
            if h.config.content_type != "json" {
                changes.push(format!("content type {} -> json", h.config.content_type));
            }
            if !h.active {
                changes.push("inactive -> active".into());
            }
            if args.reset_secret {
                body["config"]["secret"] = secret.expose().into();
                changes.push("secret reset".into());
            }
            if changes.is_empty() {
                println!("= webhook {} (#{}) is as needed", args.webhook_url, h.id);
            } else {
                println!(
                    "~ webhook {} (#{}): {}",
                    args.webhook_url,
                    h.id,
                    changes.join("; ")
                );
                if !args.dry_run {
                    client.save_hook(repo, Some(h.id), &body).await?;
                }
            }
        }
    }

    let contexts: Vec<String> = config.gates().into_iter().map(|g| g.context).collect();
    let branches = if repo_cfg.branches.is_empty() {
        vec![client.repo(repo).await?.default_branch]
    } else {
        repo_cfg.branches.clone()
    };
    let rules = client
        .branch_protections(repo)
        .await
        .map_err(|e| refused(repo, e))?;
    for branch in &branches {
        let rule = rules.iter().find(|r| &r.rule_name == branch);
        let mut list = rule
            .map(|r| r.status_check_contexts.clone())
            .unwrap_or_default();
        let missing: Vec<&String> = contexts.iter().filter(|c| !list.contains(c)).collect();
        let enable = !rule.is_some_and(|r| r.enable_status_check);
        if missing.is_empty() && !enable {
            println!("= branch protection {branch}: requires every gate's status");
            continue;
        }
        let sign = if rule.is_some() { "~" } else { "+" };
        let names: Vec<&str> = missing.iter().map(|c| c.as_str()).collect();
        println!(
            "{sign} branch protection {branch}: require {}",
            if names.is_empty() {
                "status checks".to_string()
            } else {
                names.join(", ")
            }
        );
        list.extend(missing.into_iter().cloned());
        let body = serde_json::json!({
            "rule_name": branch,
            "branch_name": branch,
            "enable_status_check": true,
            "status_check_contexts": list,
        });
        if !args.dry_run {
            client
                .save_branch_protection(repo, branch, rule.is_some(), &body)
                .await?;
        }
    }
    if args.dry_run {
        println!("dry run: nothing changed");
    }
    Ok(Outcome::Ok)
}

/// A 403 on the first reads: say what permission is missing, once.
fn refused(repo: &RepoName, e: GiteaError) -> anyhow::Error {
    match e {
        GiteaError::Forbidden { .. } => anyhow::anyhow!(
            "Gitea refuses: the bot's user is not an admin of {} ({e}); make it a repository admin, or set up the webhook and branch protection by hand (deploy/README.md)",
            repo.full()
        ),
        other => other.into(),
    }
}
