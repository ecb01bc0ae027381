//! `sopbot doctor`: finds a misprovisioned bot before a PR does. One line per check, each
//! failure with its fix; exit 1 if any check fails.

use crate::config::{Config, RepoConfig};
use crate::gitea::{
    scope_fix, GiteaClient, GiteaError, RequiredContexts, ServerKind, TeamDirectory, TeamError,
    User,
};
use crate::repos::Served;
use crate::store::Store;
use crate::text::visible;
use crate::types::TeamRef;

use super::Outcome;

/// The checks' results: printed as they come (they quote Gitea's answers, so controls are
/// shown escaped), or collected for `--json`.
struct Report {
    failed: bool,
    /// `Some` with `--json`: `{"status","check","fix"}` per check.
    json: Option<Vec<serde_json::Value>>,
    /// Missing token scopes already reported: one line each, however many calls hit them.
    scopes: Vec<String>,
    /// The server, once `GET /version` answered: `{"kind","version","gitea_version"}`.
    server: Option<serde_json::Value>,
}

impl Report {
    fn add(&mut self, status: &str, what: &str, fix: Option<&str>) {
        match &mut self.json {
            Some(list) => {
                list.push(serde_json::json!({"status": status, "check": what, "fix": fix}))
            }
            None => match fix {
                Some(fix) => println!("{status:<5} {}\n      fix: {}", visible(what), visible(fix)),
                None => println!("{status:<5} {}", visible(what)),
            },
        }
    }
    fn ok(&mut self, what: &str) {
        self.add("ok", what, None);
    }
    fn warn(&mut self, what: &str, fix: &str) {
        self.add("warn", what, Some(fix));
    }
    fn fail(&mut self, what: &str, fix: &str) {
        self.failed = true;
        self.add("FAIL", what, Some(fix));
    }
    /// Reports a 403 for a missing token scope as that scope, by name (once per scope); false
    /// for any other error, which the caller reports.
    fn missing_scope(&mut self, e: &GiteaError) -> bool {
        let Some(scopes) = e.missing_scopes() else {
            return false;
        };
        for s in scopes {
            if !self.scopes.contains(&s) {
                let what = format!("the bot's token lacks the {s} scope ({e})");
                self.fail(&what, &scope_fix(std::slice::from_ref(&s)));
                self.scopes.push(s);
            }
        }
        true
    }
}

/// Runs every check; with `json`, prints one document (`schema_version` 1) at the end.
pub async fn run(config: &Config, json: bool) -> anyhow::Result<Outcome> {
    let mut r = Report {
        failed: false,
        json: json.then(Vec::new),
        scopes: Vec::new(),
        server: None,
    };
    run_checks(config, &mut r).await?;
    if let Some(checks) = r.json.take() {
        super::print_json(&serde_json::json!({
            "schema_version": 1,
            "ok": !r.failed,
            "server": r.server,
            "checks": checks,
        }))?;
    }
    Ok(if r.failed {
        Outcome::CheckFailed
    } else {
        Outcome::Ok
    })
}

async fn run_checks(config: &Config, r: &mut Report) -> anyhow::Result<()> {
    check_local(config, r).await;
    let Some((client, bot)) = connect(config, r).await? else {
        return Ok(());
    };
    let repos = served_repos(config, &client, r).await;
    for repo in &repos {
        check_repo(config, &client, &bot.login, repo, r).await;
    }
    let directory = TeamDirectory::new(client.clone(), std::time::Duration::ZERO);
    check_teams(config, &repos, &directory, &bot.login, r).await;
    check_official(config, &repos, &client, &directory, r).await;
    check_approvals(config, &repos, &client, &directory, &bot.login, r).await;
    r.add(
        "note",
        "write:repository and write:issue cannot be checked without side effects; the first status or reply will show them",
        None,
    );
    Ok(())
}

/// What needs no Gitea: the config itself, the database, the webhook secret.
async fn check_local(config: &Config, r: &mut Report) {
    r.ok(&format!(
        "config {} is valid ({} repos, {} gates)",
        config.source.display(),
        config.repos.len(),
        config.gates.len()
    ));
    if config.repos.is_empty() && config.orgs.is_empty() {
        r.warn(
            "no [[repo]] or [[org]] configured",
            "add a [[repo]] section per repository sopbot serves (or an [[org]] with a topic)",
        );
    }

    let db = config.database_path();
    match Store::open(&db).await {
        Ok(store) => {
            r.ok(&format!("database {} opens and is migrated", db.display()));
            store.close().await;
        }
        Err(e) => r.fail(
            &e.to_string(),
            "check database.path: its directory must exist and be writable by the sopbot user",
        ),
    }

    match config.webhook_secret() {
        Ok(Some(_)) => r.ok("webhook secret is set"),
        Ok(None) => r.warn(
            "no webhook secret: serve refuses to start without one",
            "set server.webhook_secret_file (or SOPBOT_WEBHOOK_SECRET) and the same secret on the Gitea webhook",
        ),
        Err(e) => r.fail(&e.to_string(), "fix the webhook secret setting"),
    }
}

/// Gitea answers and the token is good: the client and the bot's account, or `None` (the
/// failure reported) when the later checks cannot run.
async fn connect(config: &Config, r: &mut Report) -> anyhow::Result<Option<(GiteaClient, User)>> {
    let (url, token) = match (config.gitea_url(), config.gitea_token()) {
        (Ok(u), Ok(t)) => (u, t),
        (Err(e), _) | (_, Err(e)) => {
            r.fail(
                &e.to_string(),
                "set gitea.url and the bot's token (gitea.token_file or SOPBOT_GITEA_TOKEN)",
            );
            return Ok(None);
        }
    };
    let client = GiteaClient::new(url, token, super::client_options(config)?)?;
    let url = crate::config::redact_url(url);

    match client.server_kind().await {
        Ok(kind) => {
            r.ok(&format!("Gitea at {url} answers: {kind}"));
            let gitea = match &kind {
                ServerKind::Forgejo { gitea, .. } => Some(gitea.as_str()),
                ServerKind::Gitea { .. } => None,
            };
            r.server = Some(serde_json::json!({
                "kind": kind.name(),
                "version": kind.version(),
                "gitea_version": gitea,
            }));
        }
        Err(e) => {
            let fix = if e.is_untrusted_certificate() {
                "set gitea.ca_file to the CA's PEM file (or SSL_CERT_FILE / SSL_CERT_DIR), then run doctor again"
            } else {
                "check gitea.url and that this host can reach it"
            };
            r.fail(&format!("Gitea at {url} does not answer: {e}"), fix);
            return Ok(None);
        }
    }

    let bot = match client.current_user().await {
        Ok(u) => {
            r.ok(&format!(
                "token belongs to @{}{}",
                u.login,
                if u.is_admin { " (site admin)" } else { "" }
            ));
            u
        }
        Err(e) if r.missing_scope(&e) => return Ok(None),
        Err(e) => {
            let fix = match &e {
                GiteaError::Unauthorized { .. } => "the token is invalid or revoked: create a new one for the bot account",
                GiteaError::Forbidden { .. } => "the token lacks the read:user scope, or the account is disabled: recreate it with read:user, read:organization, write:repository, write:issue",
                _ => "check that Gitea is healthy and retry",
            };
            r.fail(&format!("token check failed: {e}"), fix);
            return Ok(None);
        }
    };
    Ok(Some((client, bot)))
}

/// The repository is visible and writable, and each configured branch requires every gate.
async fn check_repo(
    config: &Config,
    client: &GiteaClient,
    bot: &str,
    repo: &RepoConfig,
    r: &mut Report,
) {
    match client.repo(&repo.name).await {
        Ok(info) => {
            let push = info.permissions.as_ref().is_some_and(|p| p.push);
            if push {
                r.ok(&format!("repository {} is visible and writable", repo.name));
            } else {
                r.fail(
                    &format!("repository {} is visible but @{} has no write access", repo.name, bot),
                    "give the bot write access (a team with write on the repo, or collaborator): statuses need it",
                );
            }
        }
        Err(e) if r.missing_scope(&e) => {}
        Err(e) if e.is_not_found() => r.fail(
            &format!("repository {} is not visible to @{}", repo.name, bot),
            "check the name, and that the bot is in a team with access to it",
        ),
        Err(e) => r.fail(
            &format!("repository {}: {e}", repo.name),
            "check Gitea and retry",
        ),
    }
    for branch in &repo.branches {
        check_branch(config, client, repo, branch, r).await;
    }
}

/// The branch is protected and requires every gate's status by name.
async fn check_branch(
    config: &Config,
    client: &GiteaClient,
    repo: &RepoConfig,
    branch: &str,
    r: &mut Report,
) {
    match client.branch(&repo.name, branch).await {
        Ok(b) if !b.protected => r.warn(
            &format!("{}: branch {branch} is not protected in Gitea", repo.name),
            "add a branch protection rule requiring the gate status contexts (README: branch protection)",
        ),
        Ok(b) => {
            let required = RequiredContexts::new(&b.status_check_contexts);
            if b.enable_status_check {
                for p in &required.invalid {
                    r.warn(
                        &format!("{}: branch {branch} requires the status check pattern `{p}`, which is not a valid glob: Gitea ignores it", repo.name),
                        "fix or remove the pattern in the rule's required status checks (Gitea's glob: * ? [...] {a,b} \\)",
                    );
                }
            }
            let here = config.gates_for(repo);
            let missing: Vec<String> = here
                .iter()
                .map(|g| g.context.clone())
                .filter(|c| !b.enable_status_check || !required.requires(c))
                .collect();
            let foreign: Vec<String> = config
                .gates()
                .into_iter()
                .filter(|g| !here.iter().any(|h| h.name == g.name))
                .map(|g| g.context)
                .filter(|c| b.enable_status_check && required.requires(c))
                .collect();
            if !foreign.is_empty() {
                r.warn(
                    &format!("{}: branch {branch} requires {}, of gates that do not guard this repository: sopbot never posts them here, so only a status posted by hand satisfies them", repo.name, foreign.join(", ")),
                    "remove them from the rule's required status checks, or add their gates to this repository's `gates`",
                );
            }
            if missing.is_empty() {
                r.ok(&format!("{}: branch {branch} requires every gate's status", repo.name));
            } else {
                let wildcards: Vec<String> = missing
                    .iter()
                    .filter_map(|c| Some(format!("`{}` matches {c}", required.wildcard_for(c)?)))
                    .collect();
                let why = if wildcards.is_empty() || !b.enable_status_check {
                    String::new()
                } else {
                    format!(
                        " by name ({}, but Gitea accepts any status matching a pattern: another job's success would open the gate)",
                        wildcards.join("; ")
                    )
                };
                r.warn(
                    &format!("{}: branch {branch} does not require {}{why}", repo.name, missing.join(", ")),
                    "add them by name to the rule's required status checks, or the gates do not block merging",
                );
            }
        }
        Err(e) if r.missing_scope(&e) => {}
        Err(e) => r.fail(&format!("{}: branch {branch}: {e}", repo.name), "check the branch name in [[repo]].branches"),
    }
}

/// Every team a gate reads resolves and its members can be read.
async fn check_teams(
    config: &Config,
    repos: &[RepoConfig],
    directory: &TeamDirectory,
    bot: &str,
    r: &mut Report,
) {
    // Every team a gate reads: its own team and the teams that may waive it, in every org served.
    let mut teams: Vec<(String, TeamRef)> = Vec::new();
    for repo in repos {
        for gate in config.gates_for(repo) {
            for team in std::iter::once(gate.team).chain(gate.waivable_by) {
                let key = (repo.name.owner.clone(), team);
                if !teams.contains(&key) {
                    teams.push(key);
                }
            }
        }
    }
    for (org, team) in teams {
        match directory.resolve(&org, &team).await {
            Ok(t) => r.ok(&format!(
                "team {org}/{} (id {}) resolves and the bot can read its members",
                t.name, t.id
            )),
            Err(TeamError::MissingScope { cause, .. }) => {
                r.missing_scope(&cause);
            }
            Err(e) => r.fail(
                &format!("team {team} in {org}: {e}"),
                &team_fix(&e, bot, &org),
            ),
        }
    }
}

/// Whether each gate team's approvals can be official on each configured branch, as Gitea
/// decides at submission: the rule's approvals whitelist when it has one, else write access to
/// the code. Gates with `require_official = false` are skipped. Reading the rules needs repo
/// admin; without it the whitelist is unknown and a read-only team is only a warning.
async fn check_official(
    config: &Config,
    repos: &[RepoConfig],
    client: &GiteaClient,
    directory: &TeamDirectory,
    r: &mut Report,
) {
    for repo in repos {
        let rules = client.branch_protections(&repo.name).await.ok();
        for gate in config
            .gates_for(repo)
            .into_iter()
            .filter(|g| g.require_official)
        {
            // A team that does not resolve was reported above.
            let Ok(resolved) = directory.resolve(&repo.name.owner, &gate.team).await else {
                continue;
            };
            let Ok(team) = client.team(resolved.id).await else {
                continue;
            };
            let t = &team.name;
            let fix = |branch: &str| {
                format!("give team {t} write access to code (Organisation → Teams → {t} → Edit: Code = Write), or add it to the approvals whitelist of branch {branch}'s rule; then its members approve again (Gitea never recomputes `official`)")
            };
            for branch in &repo.branches {
                let rule = rules
                    .as_ref()
                    .and_then(|rs| rs.iter().find(|b| b.rule_name == *branch));
                let what = format!(
                    "gate {}: team {t}'s approvals on {}:{branch}",
                    gate.name, repo.name
                );
                match rule {
                    Some(b) if b.enable_approvals_whitelist => {
                        if b.approvals_whitelist_teams.iter().any(|w| w.eq_ignore_ascii_case(t)) {
                            r.ok(&format!("{what} are official (approvals whitelist)"));
                        } else {
                            r.fail(
                                &format!("{what} are not official: the branch rule's approvals whitelist does not name team {t}"),
                                &format!("add team {t} to the approvals whitelist of branch {branch}'s rule; then its members approve again"),
                            );
                        }
                    }
                    _ if team.writes_code() => {
                        r.ok(&format!("{what} are official (team writes code)"))
                    }
                    Some(_) => r.fail(
                        &format!("{what} are not official: team {t} has only {} access to code", code_level(&team)),
                        &fix(branch),
                    ),
                    None => r.warn(
                        &format!("{what} are not official unless the branch rule's approvals whitelist names it (the bot cannot read the rule): team {t} has only {} access to code", code_level(&team)),
                        &fix(branch),
                    ),
                }
            }
        }
    }
}

fn code_level(team: &crate::gitea::Team) -> &str {
    team.units_map
        .get("repo.code")
        .unwrap_or(&team.permission)
        .as_str()
}

/// What an admin does when the bot's token gets 403 for a team's members (the details page of
/// a gate in `error` says the same).
pub(crate) fn forbidden_fix(bot: &str, team: &TeamRef, org: &str) -> String {
    format!(
        "add @{bot} to team {team} in {org} (Organisation → Teams → {team} → Add member), or make it an owner of {org}; the token needs read:organization"
    )
}

/// What an admin does about a team the bot cannot use.
fn team_fix(e: &TeamError, bot: &str, org: &str) -> String {
    match e {
        TeamError::TeamForbidden { team, .. } => forbidden_fix(bot, team, org),
        TeamError::CannotListTeams { .. } => {
            format!("add @{bot} to {org}'s gate teams (any team makes it an org member)")
        }
        TeamError::TeamNotVisible { .. } | TeamError::OrgNotFound { .. } => format!(
            "add @{bot} to the team in {org}, and check the team name or team_id in the config"
        ),
        TeamError::NotInOrg { .. } => "fix the team name in the config, or create the team".into(),
        TeamError::WrongOrg { .. } => "use a team of the repository owner's organisation".into(),
        TeamError::Api { .. } => "check that Gitea is healthy and retry".into(),
        TeamError::MissingScope { scopes, .. } => scope_fix(scopes),
    }
}

/// The `[[repo]]` entries and, for each `[[org]]`, the repositories that carry its topic now
/// (as `serve` will find them), each listing reported.
async fn served_repos(config: &Config, client: &GiteaClient, r: &mut Report) -> Vec<RepoConfig> {
    let served = Served::new(std::sync::Arc::new(config.clone()));
    for org in &config.orgs {
        match served.discover_org(client, org).await {
            Ok(d) if d.added.is_empty() => r.warn(
                &format!("org {}: no repository has the topic `{}`", org.name, org.topic),
                "add the topic to each repository to gate (Settings → Topics), or check that the bot can see them",
            ),
            Ok(d) => r.ok(&format!(
                "org {}: {} repositories with topic `{}`: {}",
                org.name,
                d.served,
                org.topic,
                d.added.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            )),
            Err(e) if r.missing_scope(&e) => {}
            Err(e) if e.is_not_found() => r.fail(
                &format!("org {} is not visible to the bot", org.name),
                "check [[org]] name, and that the bot is a member of the organisation",
            ),
            Err(e) => r.fail(&format!("org {}: {e}", org.name), "check Gitea and retry"),
        }
    }
    served
        .names()
        .iter()
        .filter_map(|n| served.get(&n.full()))
        .collect()
}

/// A gate needing more approvals than its team has members (the bot, which never approves, not
/// counted) can never open: `[gate.NAME] approvals` names it. Equal is a warning: a PR by one of
/// them can never get that many, the author never counting (`docs/policies.md`).
async fn check_approvals(
    config: &Config,
    repos: &[RepoConfig],
    client: &GiteaClient,
    directory: &TeamDirectory,
    bot: &str,
    r: &mut Report,
) {
    // Each (organisation, gate) once: repositories may give a gate another team.
    let mut checks: Vec<(String, crate::config::Gate)> = Vec::new();
    for repo in repos {
        for gate in config
            .gates_for(repo)
            .into_iter()
            .filter(|g| g.policy.approvals > 1)
        {
            let key = (repo.name.owner.clone(), gate);
            if !checks
                .iter()
                .any(|(o, g)| *o == key.0 && g.name == key.1.name && g.team == key.1.team)
            {
                checks.push(key);
            }
        }
    }
    for (org, gate) in checks {
        let org = &org;
        {
            // A team that does not resolve was reported above.
            let Ok(team) = directory.resolve(org, &gate.team).await else {
                continue;
            };
            let what = format!("gate.{}.approvals = {}", gate.name, gate.policy.approvals);
            let members = match client.team_members(team.id).await {
                Ok(m) => m
                    .iter()
                    .filter(|u| !u.login.eq_ignore_ascii_case(bot))
                    .count(),
                Err(e) => {
                    r.fail(
                        &format!("{what}: cannot list team {} in {org}: {e}", team.name),
                        "give the bot's token read:organization, and add it to the team",
                    );
                    continue;
                }
            };
            let needed = gate.policy.approvals as usize;
            let team_has = format!(
                "needs {needed} approvals, team {} in {org} has {members}",
                team.name
            );
            if needed > members {
                r.fail(
                    &format!("{what}: {team_has}"),
                    "lower approvals, or add members to the team",
                );
            } else if needed == members {
                r.warn(&format!("{what}: {team_has}, so a PR by one of them can never pass (the author never counts)"), "lower approvals, or add a member to the team");
            } else {
                r.ok(&format!(
                    "{what}: team {} in {org} has {members} members",
                    team.name
                ));
            }
        }
    }
}
