//! `sopbot setup OWNER/REPO --webhook-url URL [--dry-run]`: the Gitea side of a repository from
//! the bot itself. Creates or updates the webhook (URL, secret, the events sopbot needs, JSON,
//! active) and adds the gate contexts to the branch protection rules of the configured
//! branches, printing every change. Running it again changes nothing. Needs the token's user to
//! be an admin of the repository; without that it stops at the first read with one clear line.

use crate::config::Config;
use crate::gitea::{gitea_glob, BranchProtection, GiteaClient, GiteaError, Hook, RequiredContexts};
use crate::secret::Secret;
use crate::types::RepoName;

use super::Outcome;

/// The webhook events sopbot acts on (Gitea's names for `POST /repos/{o}/{r}/hooks`). Gitea
/// matches the list against the names it knows and drops the rest without an error
/// (`routers/api/v1/utils/hook.go` `addHook`), so Gitea 1.22, which has no `status` event, takes
/// the list as it is and reports the hook back without `status`.
pub const HOOK_EVENTS: [&str; 6] = [
    "pull_request_comment",
    "pull_request_only",
    "pull_request_sync",
    "pull_request_review",
    "pull_request_review_request",
    "status",
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
    // A repository of an `[[org]]` is set up with the org's policy (its topic is up to the
    // admin: serve gates it once it has the topic).
    let org_repo = config
        .orgs
        .iter()
        .find(|o| o.name.eq_ignore_ascii_case(&args.repo.owner))
        .map(|o| o.repo_config(args.repo.clone()));
    // Names compare as Gitea's do (case-insensitively); a `[[repo]]` wins over its `[[org]]`.
    let listed =
        crate::repos::Served::new(std::sync::Arc::new(config.clone())).get(&args.repo.full());
    if listed.is_none() && org_repo.is_some() {
        println!(
            "note: {} is served as a repository of its [[org]] once it carries the org's topic",
            args.repo
        );
    }
    let repo_cfg = listed.or(org_repo).ok_or_else(|| {
        anyhow::anyhow!(
            "{} is not in the config: add a [[repo]] for it first (or an [[org]] for its owner)",
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
        super::client_options(config)?,
    )?;
    let repo = &args.repo;
    let verb = if args.dry_run { "would" } else { "will" };
    println!("setup {} ({verb} change only what differs)", repo.full());

    let hooks = client.hooks(repo).await.map_err(|e| refused(repo, e))?;
    let server = client.server_kind().await?;
    let statuses = server.sends_status_webhook();
    if !statuses {
        println!(
            "  {server} sends no status webhook (Gitea 1.23 and later do): a hand-posted status is overturned at the poller's next sweep"
        );
    }
    let mut outcome = ensure_hook(&client, &args, &secret, statuses, &hooks).await?;
    let contexts: Vec<String> = config
        .gates_for(&repo_cfg)
        .into_iter()
        .map(|g| g.context)
        .collect();
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
        if !ensure_protection(&client, repo, branch, &rules, &contexts, args.dry_run).await? {
            outcome = Outcome::CheckFailed;
        }
    }
    if args.dry_run {
        println!("dry run: nothing changed");
    }
    Ok(outcome)
}

/// Creates sopbot's webhook, or brings the existing one (found by its URL) up to what sopbot
/// needs, printing each change. `CheckFailed` when Gitea did not keep an event it was sent.
async fn ensure_hook(
    client: &GiteaClient,
    args: &Args,
    secret: &Secret,
    statuses: bool,
    hooks: &[Hook],
) -> anyhow::Result<Outcome> {
    let mut body = serde_json::json!({
        "type": "gitea",
        "config": {"url": args.webhook_url, "content_type": "json"},
        "events": HOOK_EVENTS,
        "active": true,
        "branch_filter": "*",
    });
    let mut outcome = Outcome::Ok;
    match hooks
        .iter()
        .find(|h| same_url(&h.config.url, &args.webhook_url))
    {
        None => {
            body["config"]["secret"] = secret.expose().into();
            println!(
                "+ webhook {} (events: {})",
                args.webhook_url,
                HOOK_EVENTS.join(", ")
            );
            if !args.dry_run {
                let saved = client.save_hook(&args.repo, None, &body).await?;
                outcome = unsaved_events(saved.id, &saved.events, statuses);
            }
        }
        Some(h) => {
            let mut changes = Vec::new();
            let missing = missing_events(&h.events, statuses);
            if !missing.is_empty() {
                changes.push(format!("add events {}", missing.join(",")));
            }
            // Keep what the hook already sends (Gitea rebuilds the list on an edit); add what
            // sopbot needs.
            let mut events = resend_events(&h.events);
            events.extend(missing.iter().map(|e| e.to_string()));
            body["events"] = events.into();
            // An existing hook keeps its branch filter.
            if let Some(b) = body.as_object_mut() {
                b.remove("branch_filter");
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
                    let saved = client.save_hook(&args.repo, Some(h.id), &body).await?;
                    outcome = unsaved_events(saved.id, &saved.events, statuses);
                }
            }
        }
    }

    Ok(outcome)
}

/// Makes the protection rule of `branch` require every gate's status by name, printing the
/// change. `false` when a pattern rule covers the branch and setup refused to add a narrower
/// one (the admin edits the pattern rule).
async fn ensure_protection(
    client: &GiteaClient,
    repo: &RepoName,
    branch: &str,
    rules: &[BranchProtection],
    contexts: &[String],
    dry_run: bool,
) -> anyhow::Result<bool> {
    let rule = rules.iter().find(|r| r.rule_name == branch);
    if rule.is_none() {
        // Gitea applies the rule of the exact name before any pattern: a new rule named
        // after the branch would silently replace the pattern rule's approvals and push
        // limits. Refuse, and say which rule to edit.
        if let Some(p) = rules.iter().find(|r| pattern_covers(&r.rule_name, branch)) {
            println!(
                "! branch protection {branch}: covered by the rule `{}`; setup will not add a \
                 narrower rule that would override it: add {} to that rule in Gitea",
                p.rule_name,
                contexts.join(", ")
            );
            return Ok(false);
        }
    }
    let mut list = rule
        .map(|r| r.status_check_contexts.clone())
        .unwrap_or_default();
    // Only a context named in the rule is required: Gitea is satisfied by any status that
    // matches a wildcard pattern (see `RequiredContexts::requires`), so one is added by name.
    let required = RequiredContexts::new(&list);
    let missing: Vec<&String> = contexts.iter().filter(|c| !required.requires(c)).collect();
    for c in &missing {
        if let Some(p) = required.wildcard_for(c) {
            println!(
                "  the rule's pattern `{p}` matches {c}, but any status matching it would \
                 satisfy Gitea: {c} is added by name"
            );
        }
    }
    let enable = !rule.is_some_and(|r| r.enable_status_check);
    if missing.is_empty() && !enable {
        println!("= branch protection {branch}: requires every gate's status");
        return Ok(true);
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
    if !dry_run {
        client
            .save_branch_protection(repo, branch, rule.is_some(), &body)
            .await?;
    }
    Ok(true)
}

/// The events of [`HOOK_EVENTS`] a hook's list lacks. Gitea reports `pull_request_only` back as
/// `pull_request`, and before 1.23 split `pull_request_review` into `_approved`, `_rejected`
/// and `_comment`: those count as the same events. Without `statuses` (Gitea 1.22) `status`
/// is never reported back, so it is not missing.
fn missing_events(have: &[String], statuses: bool) -> Vec<&'static str> {
    let has = |e: &str| have.iter().any(|h| h == e);
    HOOK_EVENTS
        .into_iter()
        .filter(|want| match *want {
            "status" if !statuses => false,
            "pull_request_only" => !(has("pull_request_only") || has("pull_request")),
            "pull_request_review" => {
                !(has("pull_request_review")
                    || (has("pull_request_review_approved") && has("pull_request_review_rejected")))
            }
            other => !has(other),
        })
        .collect()
}

/// A hook's events as Gitea reports them, in the names an edit must send to keep exactly them:
/// Gitea reports the bare events as `pull_request` and `issues`, but reads those names in a
/// list as *every* pull request or issue event (`pullHook` / `issuesHook`,
/// `routers/api/v1/utils/hook.go` @ v1.25.4); the bare events are `pull_request_only` and
/// `issues_only` there.
fn resend_events(have: &[String]) -> Vec<String> {
    have.iter()
        .map(|e| match e.as_str() {
            "pull_request" => "pull_request_only".to_string(),
            "issues" => "issues_only".to_string(),
            other => other.to_string(),
        })
        .collect()
}

/// Checks the hook Gitea saved: Gitea 1.23's API edit never turns `status` on (`editHook`,
/// `routers/api/v1/utils/hook.go` @ v1.23.8; fixed in 1.24), and says nothing about it.
fn unsaved_events(id: i64, events: &[String], statuses: bool) -> Outcome {
    let still = missing_events(events, statuses);
    if still.is_empty() {
        return Outcome::Ok;
    }
    println!(
        "! webhook #{}: Gitea did not turn on {} (Gitea 1.23 ignores `status` when a hook is \
         edited through the API): tick it in the webhook's settings in Gitea (Statuses), or \
         delete the webhook and run setup again",
        id,
        still.join(", ")
    );
    Outcome::CheckFailed
}

/// Webhook URLs compare without a trailing slash and without case in the scheme and host.
fn same_url(a: &str, b: &str) -> bool {
    let norm = |u: &str| {
        let u = u.trim().trim_end_matches('/');
        match u.find("://") {
            Some(i) => {
                let rest = &u[i + 3..];
                let host_end = rest.find('/').unwrap_or(rest.len());
                format!(
                    "{}://{}{}",
                    u[..i].to_ascii_lowercase(),
                    rest[..host_end].to_ascii_lowercase(),
                    &rest[host_end..]
                )
            }
            None => u.to_string(),
        }
    };
    norm(a) == norm(b)
}

/// Whether a protection rule named by a glob pattern (Gitea: `*`, `?`, `[`, `{`; `/` is a
/// separator) covers `branch`.
fn pattern_covers(rule: &str, branch: &str) -> bool {
    if !rule.contains(['*', '?', '[', '{']) {
        return false;
    }
    gitea_glob(rule, true).is_ok_and(|g| g.is_match(branch))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gitea_spellings_of_the_events_count_as_present() {
        let have = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let gitea = have(&[
            "pull_request_comment",
            "pull_request",
            "pull_request_sync",
            "pull_request_review",
            "pull_request_review_request",
            "status",
        ]);
        assert!(missing_events(&gitea, true).is_empty());
        let old = have(&[
            "pull_request_comment",
            "pull_request_only",
            "pull_request_sync",
            "pull_request_review_approved",
            "pull_request_review_rejected",
            "pull_request_review_request",
        ]);
        // Gitea 1.22 knows no `status` event: it is not missing there.
        assert!(missing_events(&old, false).is_empty());
        assert_eq!(missing_events(&old, true), ["status"]);
        assert_eq!(missing_events(&have(&["push"]), true).len(), 6);
        assert_eq!(missing_events(&have(&["push"]), false).len(), 5);
    }

    #[test]
    fn pattern_rules_cover_branches_as_gitea_globs_do() {
        assert!(pattern_covers("*", "main"));
        assert!(pattern_covers("ma*", "main"));
        assert!(!pattern_covers("release/*", "release/1/x"));
        assert!(pattern_covers("release/**", "release/1/x"));
        assert!(!pattern_covers("main", "main"));
        assert!(!pattern_covers("dev*", "main"));
    }

    #[test]
    fn webhook_urls_compare_loosely() {
        assert!(same_url(
            "https://Bot.example/webhook/",
            "https://bot.example/webhook"
        ));
        assert!(!same_url(
            "https://bot.example/webhook",
            "https://bot.example/Webhook"
        ));
    }
}
