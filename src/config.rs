//! The TOML configuration: parsing, secrets from file or environment, and validation that names
//! the file, the key and what is wrong.
//!
//! Relative paths (`database.path`, `*_file`) are resolved against the directory of the config
//! file, so `sopbot --config /etc/sopbot/sopbot.toml` does not depend on the working directory.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use crate::command::GateNames;
use crate::gate::lifecycle::{InvalidateOnPush, Lifecycle};
use crate::secret::Secret;
use crate::types::{RepoName, TeamRef};

pub mod env;
mod repos;

pub use repos::{GateOverride, OrgConfig};

/// Environment variable holding the Gitea token when neither `token` nor `token_file` is set.
pub const TOKEN_ENV: &str = "SOPBOT_GITEA_TOKEN";
/// Environment variable holding the webhook secret when the file gives none.
pub const WEBHOOK_SECRET_ENV: &str = "SOPBOT_WEBHOOK_SECRET";
/// Config file used when neither `--config` nor `SOPBOT_CONFIG` names one.
pub const DEFAULT_CONFIG_PATH: &str = "sopbot.toml";

/// A configuration problem, always naming the file and, where there is one, the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: `{key}`: {message}")]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
    /// A `SOPBOT_*` variable that names no key or holds a value of the wrong type.
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    /// No configuration at all, or a setting a command cannot run without.
    #[error("{0}")]
    Missing(String),
}

/// The whole configuration, as read from the file (secrets still unresolved).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub gitea: GiteaConfig,
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub database: DatabaseConfig,
    #[serde(default)]
    pub poller: PollerConfig,
    #[serde(default, rename = "repo")]
    pub repos: Vec<RepoConfig>,
    /// Organisations whose repositories with a topic are served (`[[org]]`).
    #[serde(default, rename = "org", skip_serializing_if = "Vec::is_empty")]
    pub orgs: Vec<OrgConfig>,
    #[serde(default = "default_gates", rename = "gate")]
    pub gates: BTreeMap<String, GateConfig>,
    #[serde(default)]
    pub waiver: WaiverConfig,
    #[serde(default)]
    pub evaluation: EvaluationConfig,
    #[serde(default)]
    pub hold: HoldConfig,
    /// Where the file was read from; relative paths are resolved against its directory.
    #[serde(skip)]
    pub source: PathBuf,
}

#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GiteaConfig {
    /// Base URL of the Gitea server; the API is under `/api/v1`. Shown (Debug, `config check`)
    /// with its password redacted.
    #[serde(default, serialize_with = "serialize_redacted_url")]
    pub url: String,
    #[serde(default, skip_serializing)]
    pub token: Option<Secret>,
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// PEM file of CA certificates trusted for Gitea's HTTPS besides the system store and the
    /// built-in (webpki) roots: for a Gitea whose certificate comes from an internal CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Per-request timeout.
    #[serde(default = "default_timeout", with = "duration")]
    pub timeout: Duration,
    /// Retries for connection errors, 5xx and 429 (never other 4xx).
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// How long a membership answer is reused; 0 disables the cache. `/refire` always asks anew.
    #[serde(default = "default_membership_ttl", with = "duration")]
    pub membership_cache_ttl: Duration,
    /// Requests per second sopbot sends Gitea at most, shared by the workers, the poller and
    /// the sweep (bursts up to one second's worth); 0 lifts the limit.
    #[serde(default = "default_max_rps")]
    pub max_requests_per_second: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    #[serde(default = "default_listen")]
    pub listen: String,
    #[serde(default, skip_serializing)]
    pub webhook_secret: Option<Secret>,
    #[serde(default)]
    pub webhook_secret_file: Option<PathBuf>,
    /// Largest webhook body accepted; larger ones get 413.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// The bot's public base URL (`https://sopbot.example.com`): every status links to the PR's
    /// details page under it. Unset: statuses carry no link and the page is off.
    #[serde(default)]
    pub external_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    #[serde(default = "default_db_path")]
    pub path: PathBuf,
    /// Handled inbox events older than this are deleted (hourly by serve); 0 keeps them.
    /// Waivers, audit rows and failed events are never deleted.
    #[serde(default = "default_inbox_retention", with = "duration")]
    pub inbox_retention: Duration,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PollerConfig {
    /// Seconds between polls; 0 disables polling.
    #[serde(default = "default_poll_interval")]
    pub interval_secs: u64,
    /// On a first start, comments older than this are not replayed.
    #[serde(default = "default_first_window", with = "duration")]
    pub first_start_window: Duration,
    /// How often every open PR is evaluated again even though nothing seen changed: Gitea sends
    /// no webhook when someone leaves a team, so this bounds how long an approval by a former
    /// member keeps a gate open (with the membership cache's TTL). 0 disables the sweep.
    #[serde(default = "default_sweep_interval", with = "duration")]
    pub sweep_interval: Duration,
    /// How many repositories, and PRs within one, the poller reads from Gitea at once.
    #[serde(default = "default_poll_concurrency")]
    pub concurrency: usize,
    /// How often the repositories of each `[[org]]` are listed again to find those that gained
    /// or lost its topic.
    #[serde(default = "default_discover_interval", with = "duration")]
    pub discover_interval: Duration,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RepoConfig {
    pub name: RepoName,
    /// Protected base branches. Empty: ask Gitea whether the base branch is protected.
    #[serde(default)]
    pub branches: Vec<String>,
    /// The gates guarding this repository; default every `[gate.*]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gates: Option<Vec<String>>,
    /// `[repo.gate.NAME]`: this repository's team or waivers for a gate.
    #[serde(default, rename = "gate", skip_serializing_if = "BTreeMap::is_empty")]
    pub gate_overrides: BTreeMap<String, GateOverride>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GateConfig {
    /// Team name in the repository owner's organisation.
    #[serde(default)]
    pub team: Option<String>,
    /// Team id, instead of a name.
    #[serde(default)]
    pub team_id: Option<i64>,
    /// Commit status context; default `<gate>-review / approved`.
    #[serde(default)]
    pub context: Option<String>,
    /// Teams whose members may waive this gate; default: the gate's own team.
    #[serde(default)]
    pub waivable_by: Vec<String>,
    /// More names people may use for the gate in commands (`<gate>-review` is always one).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Count only approvals Gitea marked official (default, the replaced system's rule). When
    /// false, any team member's approval counts, even by a reviewer without write access.
    #[serde(default = "default_true")]
    pub require_official: bool,
    /// Distinct team members whose approval is needed (`docs/policies.md`).
    #[serde(default = "default_approvals")]
    pub approvals: u32,
    /// Globs: the gate applies only to PRs changing a file they select (default: every PR).
    #[serde(default)]
    pub paths: Vec<String>,
    /// Globs of changed files that never make the gate apply.
    #[serde(default)]
    pub paths_ignore: Vec<String>,
    /// A team member's standing REQUEST_CHANGES makes the gate `failure`.
    #[serde(default)]
    pub block_on_request_changes: bool,
    /// A waiver opens the gate even while a request for changes blocks it.
    #[serde(default)]
    pub waiver_overrides_block: bool,
    /// Approvals and waivers by the PR's commit authors and committers do not count.
    #[serde(default)]
    pub exclude_committers: bool,
    /// Ask the gate's team for a review once, when the gate first awaits approval.
    #[serde(default)]
    pub request_review: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WaiverConfig {
    /// Context of the status listing waived gates.
    #[serde(default = "default_waiver_context")]
    pub context: String,
    /// When a push ends the PR's waivers: `never` (default), `always`, or
    /// `unless-merge-from-base` (docs/waivers.md).
    #[serde(default, with = "lifecycle_keys::invalidate_on_push")]
    pub invalidate_on_push: InvalidateOnPush,
    /// A waiver older than this ends (`"14d"`); `"none"` (default): no limit.
    #[serde(default, with = "lifecycle_keys::max_age")]
    pub max_age: Option<Duration>,
    /// End a waiver whose declarer is no longer in any of the gate's `waivable_by` teams.
    #[serde(default)]
    pub require_declarer_membership: bool,
}

/// `[hold]`: the status `/sop-hold` sets to `failure` until `/sop-unhold`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HoldConfig {
    /// Context of the hold status; branch protection must require it for a hold to block.
    #[serde(default = "default_hold_context")]
    pub context: String,
    /// Post the hold status (`success`, "not held") on every gated PR, not only on PRs that
    /// were held: needed when branch protection requires the context.
    #[serde(default)]
    pub post_always: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluationConfig {
    /// Count an approval only when it was given on the PR's current head commit.
    #[serde(default)]
    pub strict_head_sha: bool,
    /// Also count issue comments (by team members, not the author) that start with one of
    /// `comment_approval_prefixes` or say one of `comment_approval_words`. Off by default.
    #[serde(default)]
    pub comment_approvals: bool,
    #[serde(default)]
    pub comment_approval_prefixes: Vec<String>,
    #[serde(default = "default_approval_words")]
    pub comment_approval_words: Vec<String>,
    /// Act on edited comments too (only on comments not answered yet: an answered comment is
    /// never run again). Off by default, so nobody can turn an old comment into a waiver by
    /// editing it.
    #[serde(default)]
    pub handle_edited_comments: bool,
}

/// A gate as the rest of the program sees it: defaults applied, names canonical.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gate {
    pub name: String,
    pub team: TeamRef,
    pub context: String,
    pub waivable_by: Vec<TeamRef>,
    pub require_official: bool,
    pub policy: crate::gate::GatePolicy,
}

impl fmt::Debug for GiteaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GiteaConfig")
            .field("url", &redact_url(&self.url))
            .field("token", &self.token)
            .field("token_file", &self.token_file)
            .field("ca_file", &self.ca_file)
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .field("membership_cache_ttl", &self.membership_cache_ttl)
            .field("max_requests_per_second", &self.max_requests_per_second)
            .finish()
    }
}

fn serialize_redacted_url<S: serde::Serializer>(url: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&redact_url(url))
}

/// `url` with the password of its userinfo shown as `***` (`https://user:***@gitea.example/`),
/// for every place a Gitea URL is printed: a password there is as secret as the token. Text
/// that is not an http(s) URL but has an `@` loses everything before its last `@`.
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if matches!(parsed.scheme(), "http" | "https") => {
            let mut hidden = false;
            if parsed.password().is_some() {
                // `user:pass@`: the user may stay, the password never.
                hidden |= parsed.set_password(Some("***")).is_ok();
            } else if !parsed.username().is_empty() {
                // A lone userinfo may be a token (`https://TOKEN@host`).
                hidden |= parsed.set_username("***").is_ok();
            }
            if parsed.query_pairs().any(|(k, _)| is_secret_param(&k)) {
                let pairs: Vec<(String, String)> = parsed
                    .query_pairs()
                    .map(|(k, v)| {
                        let v = if is_secret_param(&k) {
                            "***".into()
                        } else {
                            v.into_owned()
                        };
                        (k.into_owned(), v)
                    })
                    .collect();
                parsed.query_pairs_mut().clear().extend_pairs(pairs);
                hidden = true;
            }
            if hidden {
                parsed.to_string()
            } else {
                url.to_string()
            }
        }
        _ => match (url.find("://"), url.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                format!("{}***{}", &url[..scheme + 3], &url[at..])
            }
            (None, Some(at)) => format!("***{}", &url[at..]),
            _ => url.to_string(),
        },
    }
}

/// Query parameters that carry credentials (`?token=`, `?access_token=`).
fn is_secret_param(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.contains("token") || key.contains("secret") || key.contains("password")
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_retries() -> u32 {
    3
}
fn default_max_rps() -> u32 {
    50
}
fn default_poll_concurrency() -> usize {
    4
}
fn default_membership_ttl() -> Duration {
    Duration::from_secs(60)
}
fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
fn default_max_body() -> usize {
    1024 * 1024
}
fn default_db_path() -> PathBuf {
    PathBuf::from("sopbot.db")
}
fn default_inbox_retention() -> Duration {
    Duration::from_secs(7 * 24 * 3600)
}
fn default_poll_interval() -> u64 {
    30
}
fn default_first_window() -> Duration {
    Duration::from_secs(3600)
}
fn default_sweep_interval() -> Duration {
    Duration::from_secs(600)
}
fn default_discover_interval() -> Duration {
    Duration::from_secs(600)
}
fn default_waiver_context() -> String {
    "sop-checklist / na-declarations (pull_request)".into()
}
fn default_hold_context() -> String {
    "sop / hold".into()
}
fn default_true() -> bool {
    true
}
fn default_approvals() -> u32 {
    1
}
fn default_approval_words() -> Vec<String> {
    ["APPROVED", "LGTM", "ACCEPTED"].map(String::from).to_vec()
}
fn default_gates() -> BTreeMap<String, GateConfig> {
    let gate = |team: &str| GateConfig {
        team: Some(team.into()),
        team_id: None,
        context: None,
        waivable_by: vec![team.into()],
        aliases: vec![],
        require_official: true,
        approvals: default_approvals(),
        paths: vec![],
        paths_ignore: vec![],
        block_on_request_changes: false,
        waiver_overrides_block: false,
        exclude_committers: false,
        request_review: false,
    };
    BTreeMap::from([
        ("qa".into(), gate("qa")),
        ("security".into(), gate("security")),
    ])
}

impl Default for GiteaConfig {
    fn default() -> Self {
        GiteaConfig {
            url: String::new(),
            token: None,
            token_file: None,
            ca_file: None,
            timeout: default_timeout(),
            retries: default_retries(),
            membership_cache_ttl: default_membership_ttl(),
            max_requests_per_second: default_max_rps(),
        }
    }
}
impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: default_listen(),
            webhook_secret: None,
            webhook_secret_file: None,
            max_body_bytes: default_max_body(),
            external_url: None,
        }
    }
}
impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            path: default_db_path(),
            inbox_retention: default_inbox_retention(),
        }
    }
}
impl Default for PollerConfig {
    fn default() -> Self {
        PollerConfig {
            interval_secs: default_poll_interval(),
            first_start_window: default_first_window(),
            sweep_interval: default_sweep_interval(),
            concurrency: default_poll_concurrency(),
            discover_interval: default_discover_interval(),
        }
    }
}
impl Default for WaiverConfig {
    fn default() -> Self {
        WaiverConfig {
            context: default_waiver_context(),
            invalidate_on_push: InvalidateOnPush::Never,
            max_age: None,
            require_declarer_membership: false,
        }
    }
}
impl Default for HoldConfig {
    fn default() -> Self {
        HoldConfig {
            context: default_hold_context(),
            post_always: false,
        }
    }
}
impl Default for EvaluationConfig {
    fn default() -> Self {
        EvaluationConfig {
            strict_head_sha: false,
            comment_approvals: false,
            comment_approval_prefixes: vec![],
            comment_approval_words: default_approval_words(),
            handle_edited_comments: false,
        }
    }
}

impl Default for Config {
    /// The built-in defaults: the qa and security gates, no repositories, no Gitea.
    fn default() -> Self {
        Config {
            gitea: GiteaConfig::default(),
            server: ServerConfig::default(),
            database: DatabaseConfig::default(),
            poller: PollerConfig::default(),
            repos: vec![],
            orgs: vec![],
            gates: default_gates(),
            waiver: WaiverConfig::default(),
            evaluation: EvaluationConfig::default(),
            hold: HoldConfig::default(),
            source: PathBuf::new(),
        }
    }
}

impl Config {
    /// Reads a config file, lays the `SOPBOT_*` environment over it ([`env`]) and validates.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::from_sources(Some(&text), path, &std::env::vars().collect::<Vec<_>>())
    }

    /// The configuration from `text` (the file at `path`, if there is one) with `vars` laid
    /// over it: environment over file over defaults. Errors in the file keep its line numbers.
    pub fn from_sources(
        text: Option<&str>,
        path: &Path,
        vars: &[(String, String)],
    ) -> Result<Config, ConfigError> {
        let text = text.unwrap_or("");
        let parse_err = |e: toml::de::Error| ConfigError::Parse {
            path: path.to_path_buf(),
            message: one_line(&e, text),
        };
        // The file alone first, so that its mistakes are reported with their line.
        toml::from_str::<Config>(text).map_err(parse_err)?;
        let mut doc: toml::Table = toml::from_str(text).map_err(parse_err)?;
        env::overlay(&mut doc, vars).map_err(|e| ConfigError::Env {
            var: e.var,
            message: e.message,
        })?;
        let mut config: Config =
            doc.try_into()
                .map_err(|e: toml::de::Error| ConfigError::Parse {
                    path: path.to_path_buf(),
                    message: format!("with the SOPBOT_* environment: {}", e.message().trim()),
                })?;
        config.source = path.to_path_buf();
        config.validate()?;
        Ok(config)
    }

    /// Parses and validates config text; `path` is used in messages and to resolve relative paths.
    pub fn from_toml(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: one_line(&e, text),
        })?;
        config.source = path.to_path_buf();
        config.validate()?;
        Ok(config)
    }

    fn invalid(&self, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.source.clone(),
            key: key.into(),
            message: message.into(),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let url = &self.gitea.url;
        if !url.is_empty() && !url.starts_with("http://") && !url.starts_with("https://") {
            return Err(self.invalid("gitea.url", "must start with http:// or https://"));
        }
        if self.gitea.token.is_some() && self.gitea.token_file.is_some() {
            return Err(self.invalid("gitea.token", "give either token or token_file, not both"));
        }
        if self.server.webhook_secret.is_some() && self.server.webhook_secret_file.is_some() {
            return Err(self.invalid(
                "server.webhook_secret",
                "give either webhook_secret or webhook_secret_file, not both",
            ));
        }
        if self.server.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(self.invalid("server.listen", "must be an address like 127.0.0.1:8080"));
        }
        if let Some(url) = &self.server.external_url {
            if let Err(why) = crate::details::check_external_url(url) {
                return Err(self.invalid("server.external_url", why));
            }
        }
        if self.gates.is_empty() {
            return Err(self.invalid("gate", "at least one gate must be configured"));
        }
        let mut contexts = std::collections::HashSet::new();
        for (name, gate) in &self.gates {
            let key = format!("gate.{name}");
            let well_formed = !name.is_empty()
                && !name.starts_with('-')
                && !name.ends_with('-')
                && !name.contains("--")
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !well_formed {
                return Err(self.invalid(
                    key,
                    "gate names are lower case, with `-` between words (e.g. `qa`)",
                ));
            }
            match (&gate.team, gate.team_id) {
                (Some(_), Some(_)) => {
                    return Err(self.invalid(key + ".team", "give either team or team_id"))
                }
                (None, None) => return Err(self.invalid(key + ".team", "is required")),
                (Some(t), None) if t.trim().is_empty() => {
                    return Err(self.invalid(key + ".team", "must not be empty"))
                }
                _ => {}
            }
            self.validate_policy(&key, gate)?;
            if !contexts.insert(self.gate_context(name, gate)) {
                return Err(self.invalid(key + ".context", "two gates share this status context"));
            }
        }
        if contexts.contains(&self.waiver.context) {
            return Err(self.invalid("waiver.context", "must differ from every gate's context"));
        }
        if contexts.contains(&self.hold.context) || self.hold.context == self.waiver.context {
            return Err(self.invalid(
                "hold.context",
                "must differ from every gate's context and from waiver.context",
            ));
        }
        if self.hold.context.trim().is_empty() {
            return Err(self.invalid("hold.context", "must not be empty"));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, repo) in self.repos.iter().enumerate() {
            if !seen.insert(&repo.name) {
                return Err(self.invalid(format!("repo[{i}].name"), "repository listed twice"));
            }
        }
        if self.poller.discover_interval.is_zero() && !self.orgs.is_empty() {
            return Err(self.invalid("poller.discover_interval", "must be more than 0"));
        }
        self.validate_repos()
    }

    /// A policy that cannot work is an error naming its key (`docs/policies.md`). Whether
    /// `approvals` exceeds the team's size only Gitea knows: `doctor` reports that.
    fn validate_policy(&self, key: &str, gate: &GateConfig) -> Result<(), ConfigError> {
        if gate.approvals == 0 {
            return Err(self.invalid(
                format!("{key}.approvals"),
                "must be at least 1 (a gate nobody needs to approve is no gate: remove it)",
            ));
        }
        if let Err(bad) = crate::gate::PathFilter::new(&gate.paths, &gate.paths_ignore) {
            return Err(self.invalid(
                format!("{key}.{}", bad.key),
                format!("glob `{}` does not parse: {}", bad.pattern, bad.message),
            ));
        }
        if gate.waiver_overrides_block && !gate.block_on_request_changes {
            return Err(self.invalid(
                format!("{key}.waiver_overrides_block"),
                "has no effect without block_on_request_changes = true",
            ));
        }
        Ok(())
    }

    fn gate_context(&self, name: &str, gate: &GateConfig) -> String {
        gate.context
            .clone()
            .unwrap_or_else(|| format!("{name}-review / approved"))
    }

    /// The gates with defaults applied, in name order (a repository may use fewer:
    /// [`Config::gates_for`]).
    pub fn gates(&self) -> Vec<Gate> {
        self.gates
            .iter()
            .map(|(name, g)| self.gate(name, g))
            .collect()
    }

    /// One gate with defaults applied.
    fn gate(&self, name: &str, g: &GateConfig) -> Gate {
        let team = match (&g.team, g.team_id) {
            (_, Some(id)) => TeamRef::Id(id),
            (Some(t), None) => TeamRef::Name(t.clone()),
            (None, None) => TeamRef::Name(name.to_string()),
        };
        let waivable_by = if g.waivable_by.is_empty() {
            vec![team.clone()]
        } else {
            g.waivable_by.iter().cloned().map(TeamRef::Name).collect()
        };
        Gate {
            name: name.to_string(),
            team,
            context: self.gate_context(name, g),
            waivable_by,
            require_official: g.require_official,
            policy: crate::gate::GatePolicy {
                approvals: g.approvals,
                // Validated when read; were it not, the gate applies to every PR.
                paths: crate::gate::PathFilter::new(&g.paths, &g.paths_ignore).unwrap_or(None),
                block_on_request_changes: g.block_on_request_changes,
                waiver_overrides_block: g.waiver_overrides_block,
                exclude_committers: g.exclude_committers,
                request_review: g.request_review,
            },
        }
    }

    /// The contexts sopbot posts: every gate's, then the N/A (waiver) one and the hold one.
    pub fn status_contexts(&self) -> Vec<String> {
        let mut contexts: Vec<String> = self.gates().into_iter().map(|g| g.context).collect();
        contexts.push(self.waiver.context.clone());
        contexts.push(self.hold.context.clone());
        contexts
    }

    /// The `[waiver]` lifecycle rules as the pure core takes them.
    pub fn lifecycle(&self) -> Lifecycle {
        Lifecycle {
            invalidate_on_push: self.waiver.invalidate_on_push,
            max_age: self
                .waiver
                .max_age
                .and_then(|d| chrono::Duration::from_std(d).ok()),
            require_declarer_membership: self.waiver.require_declarer_membership,
        }
    }

    /// The gate names and aliases the command parser accepts.
    pub fn gate_names(&self) -> GateNames {
        GateNames::new(self.gates.iter().map(|(name, g)| {
            let mut aliases = g.aliases.clone();
            // `qa-review / approved` also answers to `qa-review`.
            if let Some(ctx) = &g.context {
                if let Some(first) = ctx.split('/').next() {
                    aliases.push(first.trim().to_string());
                }
            }
            (name.clone(), aliases)
        }))
    }

    /// `path` resolved against the config file's directory.
    pub fn resolve_path(&self, path: &Path) -> PathBuf {
        match self.source.parent() {
            Some(dir) if path.is_relative() && !dir.as_os_str().is_empty() => dir.join(path),
            _ => path.to_path_buf(),
        }
    }

    /// The SQLite database file.
    pub fn database_path(&self) -> PathBuf {
        self.resolve_path(&self.database.path)
    }

    /// The Gitea base URL, or an error saying it must be set.
    pub fn gitea_url(&self) -> Result<&str, ConfigError> {
        if self.gitea.url.is_empty() {
            return Err(self.invalid("gitea.url", "is required to talk to Gitea"));
        }
        Ok(&self.gitea.url)
    }

    /// The certificates of `gitea.ca_file` (none when unset). A file that cannot be read, holds
    /// no certificate, or one that does not parse is an error naming the key.
    pub fn gitea_ca_certs(&self) -> Result<Vec<reqwest::Certificate>, ConfigError> {
        let Some(file) = &self.gitea.ca_file else {
            return Ok(Vec::new());
        };
        let path = self.resolve_path(file);
        let bad = |why: String| self.invalid("gitea.ca_file", format!("{}: {why}", path.display()));
        let pem = std::fs::read(&path).map_err(|e| bad(format!("cannot read it: {e}")))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| bad(format!("not PEM certificates: {e}")))?;
        if certs.is_empty() {
            return Err(bad(
                "holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
            ));
        }
        // The DER inside is parsed only when a client adds it to its trust store: do that now.
        certs
            .iter()
            .try_fold(reqwest::Client::builder(), |b, c| {
                Ok::<_, ConfigError>(b.add_root_certificate(c.clone()))
            })?
            .tls_built_in_root_certs(false)
            .build()
            .map_err(|_| bad("holds a certificate that cannot be parsed".into()))?;
        Ok(certs)
    }

    /// The Gitea token: `token`, else `token_file`, else `SOPBOT_GITEA_TOKEN`.
    pub fn gitea_token(&self) -> Result<Secret, ConfigError> {
        self.secret(
            "gitea.token",
            self.gitea.token.as_ref(),
            self.gitea.token_file.as_deref(),
            TOKEN_ENV,
        )?
        .ok_or_else(|| {
            self.invalid(
                "gitea.token",
                format!("no token: set gitea.token, gitea.token_file or {TOKEN_ENV}"),
            )
        })
    }

    /// The webhook secret, if any: `webhook_secret`, else `webhook_secret_file`, else
    /// `SOPBOT_WEBHOOK_SECRET`.
    pub fn webhook_secret(&self) -> Result<Option<Secret>, ConfigError> {
        self.secret(
            "server.webhook_secret",
            self.server.webhook_secret.as_ref(),
            self.server.webhook_secret_file.as_deref(),
            WEBHOOK_SECRET_ENV,
        )
    }

    fn secret(
        &self,
        key: &str,
        inline: Option<&Secret>,
        file: Option<&Path>,
        env: &str,
    ) -> Result<Option<Secret>, ConfigError> {
        let value = if let Some(v) = inline {
            v.expose().trim().to_string()
        } else if let Some(file) = file {
            let path = self.resolve_path(file);
            std::fs::read_to_string(&path)
                .map_err(|e| {
                    self.invalid(format!("{key}_file"), format!("{}: {e}", path.display()))
                })?
                .trim()
                .to_string()
        } else {
            match std::env::var(env) {
                Ok(v) => v.trim().to_string(),
                Err(_) => return Ok(None),
            }
        };
        if value.is_empty() {
            return Err(self.invalid(key, "is empty"));
        }
        Ok(Some(Secret::new(value)))
    }
}

/// toml's messages span several lines with a source excerpt; keep the first line and the key.
fn one_line(e: &toml::de::Error, text: &str) -> String {
    let msg = e.message().trim().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let line = text.get(..span.start).unwrap_or(text).matches('\n').count() + 1;
            // toml quotes the offending value: never for a secret (a token typed as a number).
            let key = text.lines().nth(line - 1).unwrap_or("").split('=').next();
            let secret = key.is_some_and(|k| k.contains("token") || k.contains("secret"));
            let msg = if secret { hide_quoted(&msg) } else { msg };
            format!("line {line}: {msg}")
        }
        None => msg,
    }
}

/// `msg` with every `` `…` `` quotation replaced by `` `***` ``.
fn hide_quoted(msg: &str) -> String {
    msg.split('`')
        .enumerate()
        .map(|(i, part)| if i % 2 == 1 { "***" } else { part })
        .collect::<Vec<_>>()
        .join("`")
}

/// The `[waiver]` lifecycle keys, (de)serialised with errors that name the key: a mode or an
/// age that cannot work is a config error, never a silent default.
mod lifecycle_keys {
    pub mod invalidate_on_push {
        use super::super::*;

        pub fn serialize<S: serde::Serializer>(
            m: &InvalidateOnPush,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            s.serialize_str(m.as_str())
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<InvalidateOnPush, D::Error> {
            let text = String::deserialize(d)?;
            text.parse()
                .map_err(|e| serde::de::Error::custom(format!("`waiver.invalidate_on_push`: {e}")))
        }
    }

    pub mod max_age {
        use super::super::*;

        pub fn serialize<S: serde::Serializer>(
            d: &Option<Duration>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match d.map(chrono::Duration::from_std) {
                // In the unit it was likely written in: "14d", not "1209600s".
                Some(Ok(age)) if d.is_some_and(|d| d.subsec_nanos() == 0) => {
                    s.serialize_str(&crate::gate::lifecycle::human(age))
                }
                Some(_) => duration::serialize(&d.unwrap_or_default(), s),
                None => s.serialize_str("none"),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            let named = |e: String| serde::de::Error::custom(format!("`waiver.max_age`: {e}"));
            let text = String::deserialize(d)?;
            if text.trim() == "none" {
                return Ok(None);
            }
            let age = duration::parse(&text).map_err(named)?;
            if age.is_zero() {
                return Err(named(
                    "must be longer than 0 (or \"none\" for no limit)".into(),
                ));
            }
            // Beyond ten years is a typo, and would not fit the clock's arithmetic.
            if age > Duration::from_secs(3650 * 86400) {
                return Err(named(
                    "is longer than ten years (write \"none\" for no limit)".into(),
                ));
            }
            Ok(Some(age))
        }
    }
}

/// Durations in human form: `"30s"`, `"5m"`, `"250ms"`, `"1h"`, or a bare number of seconds.
pub mod duration {
    use super::*;

    pub fn parse(s: &str) -> Result<Duration, String> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let n: u64 = num
            .parse()
            .map_err(|_| format!("`{s}` is not a duration like \"30s\", \"5m\" or \"250ms\""))?;
        let d = match unit.trim() {
            "" | "s" | "sec" | "secs" => Duration::from_secs(n),
            "ms" => Duration::from_millis(n),
            "m" | "min" | "mins" => Duration::from_secs(n.saturating_mul(60)),
            "h" => Duration::from_secs(n.saturating_mul(3600)),
            "d" => Duration::from_secs(n.saturating_mul(86400)),
            other => {
                return Err(format!(
                    "unknown duration unit `{other}` (use ms, s, m, h or d)"
                ))
            }
        };
        Ok(d)
    }

    pub fn format(d: &Duration) -> String {
        let ms = d.as_millis();
        if !ms.is_multiple_of(1000) {
            format!("{ms}ms")
        } else {
            format!("{}s", d.as_secs())
        }
    }

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Secs(n) => Ok(Duration::from_secs(n)),
            Raw::Text(t) => parse(&t).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, Path::new("/etc/sopbot/sopbot.toml"))
    }

    const DESIGN_EXAMPLE: &str = r#"
[gitea]
url = "http://127.0.0.1:3000"
token = "t0ken"
[server]
listen = "127.0.0.1:8080"
webhook_secret = "s3cret"
[database]
path = "sopbot.db"
[poller]
interval_secs = 30
[[repo]]
name = "acme/widgets"
branches = ["main"]
[gate.qa]
team = "qa"
context = "qa-review / approved"
waivable_by = ["qa", "managers"]
[gate.security]
team = "security"
context = "security-review / approved"
waivable_by = ["security", "managers"]
[waiver]
context = "sop-checklist / na-declarations (pull_request)"
"#;

    #[test]
    fn design_example_loads() {
        let c = load(DESIGN_EXAMPLE).unwrap();
        assert_eq!(c.gitea_token().unwrap().expose(), "t0ken");
        assert_eq!(c.database_path(), PathBuf::from("/etc/sopbot/sopbot.db"));
        let gates = c.gates();
        assert_eq!(gates[0].name, "qa");
        assert_eq!(gates[0].team, TeamRef::Name("qa".into()));
        assert_eq!(gates[1].context, "security-review / approved");
        assert_eq!(
            gates[1].waivable_by,
            vec![
                TeamRef::Name("security".into()),
                TeamRef::Name("managers".into())
            ]
        );
        assert_eq!(c.repos[0].name.full(), "acme/widgets");
    }

    #[test]
    fn example_file_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/sopbot.example.toml");
        let c = Config::load(&path).unwrap();
        assert_eq!(c.gates().len(), 2);
        assert_eq!(c.repos[0].branches, ["main"]);
    }

    #[test]
    fn unknown_key_is_named() {
        let err = load("[gitea]\nurl = \"http://x\"\ntokn = \"a\"\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("tokn"), "{msg}");
        assert!(msg.starts_with("/etc/sopbot/sopbot.toml"), "{msg}");
    }

    #[test]
    fn both_token_and_token_file_is_refused() {
        let err = load("[gitea]\ntoken = \"a\"\ntoken_file = \"t\"\n").unwrap_err();
        assert!(err.to_string().contains("`gitea.token`"), "{err}");
    }

    #[test]
    fn token_file_is_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "abc123\n").unwrap();
        let path = dir.path().join("sopbot.toml");
        let c = Config::from_toml("[gitea]\ntoken_file = \"token\"\n", &path).unwrap();
        assert_eq!(c.gitea_token().unwrap().expose(), "abc123");
    }

    #[test]
    fn missing_token_file_names_the_key_not_the_secret() {
        let c = load("[gitea]\ntoken_file = \"/nonexistent/token\"\n").unwrap();
        let err = c.gitea_token().unwrap_err().to_string();
        assert!(err.contains("gitea.token_file"), "{err}");
    }

    #[test]
    fn debug_never_shows_secrets() {
        let c = load(DESIGN_EXAMPLE).unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("s3cret") && !dbg.contains("t0ken"), "{dbg}");
        let shown = toml::to_string(&c).unwrap();
        assert!(
            !shown.contains("t0ken") && !shown.contains("s3cret"),
            "{shown}"
        );
    }

    #[test]
    fn gate_without_team_is_refused() {
        let err = load("[gate.qa]\ncontext = \"qa\"\n").unwrap_err();
        assert!(err.to_string().contains("`gate.qa.team`"), "{err}");
    }

    #[test]
    fn defaults_give_qa_and_security() {
        let c = load("").unwrap();
        let names: Vec<_> = c.gates().into_iter().map(|g| g.name).collect();
        assert_eq!(names, ["qa", "security"]);
        assert_eq!(c.gates()[0].context, "qa-review / approved");
        assert_eq!(c.gitea.membership_cache_ttl, Duration::from_secs(60));
    }

    #[test]
    fn durations_accept_human_forms() {
        let c = load("[gitea]\ntimeout = \"250ms\"\nmembership_cache_ttl = \"5m\"\n").unwrap();
        assert_eq!(c.gitea.timeout, Duration::from_millis(250));
        assert_eq!(c.gitea.membership_cache_ttl, Duration::from_secs(300));
        let c = load("[gitea]\nmembership_cache_ttl = 0\n").unwrap();
        assert_eq!(c.gitea.membership_cache_ttl, Duration::ZERO);
        let err = load("[gitea]\ntimeout = \"5 parsecs\"\n").unwrap_err();
        assert!(err.to_string().contains("parsecs"), "{err}");
    }

    #[test]
    fn waiver_lifecycle_keys_default_to_today_and_errors_name_the_key() {
        let c = load("").unwrap();
        assert_eq!(c.lifecycle(), Lifecycle::default());
        assert_eq!(c.hold.context, "sop / hold");
        let c = load(
            "[waiver]\ninvalidate_on_push = \"unless-merge-from-base\"\nmax_age = \"14d\"\nrequire_declarer_membership = true\n",
        )
        .unwrap();
        let l = c.lifecycle();
        assert_eq!(l.invalidate_on_push, InvalidateOnPush::UnlessMergeFromBase);
        assert_eq!(l.max_age, Some(chrono::Duration::days(14)));
        assert!(l.require_declarer_membership);
        // `config check` prints every key, `none` for no age limit.
        let shown = toml::to_string(&load("").unwrap()).unwrap();
        for key in [
            "invalidate_on_push = \"never\"",
            "max_age = \"none\"",
            "require_declarer_membership = false",
            "[hold]",
            "post_always = false",
        ] {
            assert!(shown.contains(key), "{key} missing from:\n{shown}");
        }
        assert!(load(&shown).is_ok(), "the printed config loads again");
        for (text, key) in [
            (
                "[waiver]\nmax_age = \"14 fortnights\"\n",
                "`waiver.max_age`",
            ),
            ("[waiver]\nmax_age = \"0s\"\n", "`waiver.max_age`"),
            (
                "[waiver]\ninvalidate_on_push = \"sometimes\"\n",
                "`waiver.invalidate_on_push`",
            ),
            (
                "[hold]\ncontext = \"qa-review / approved\"\n",
                "`hold.context`",
            ),
        ] {
            let err = load(text).unwrap_err().to_string();
            assert!(err.contains(key), "{text}: {err}");
        }
    }

    #[test]
    fn duplicate_contexts_are_refused() {
        let err =
            load("[gate.a]\nteam=\"x\"\ncontext=\"c\"\n[gate.b]\nteam=\"y\"\ncontext=\"c\"\n")
                .unwrap_err();
        assert!(err.to_string().contains("context"), "{err}");
    }

    #[test]
    fn bad_repo_name_is_named() {
        let err = load("[[repo]]\nname = \"widgets\"\n").unwrap_err();
        assert!(err.to_string().contains("widgets"), "{err}");
    }

    #[test]
    fn a_token_in_the_url_userinfo_or_query_is_redacted() {
        assert_eq!(
            redact_url("https://abc123@git.example/"),
            "https://***@git.example/"
        );
        let q = redact_url("https://git.example/?access_token=abc123&x=1");
        assert!(!q.contains("abc123") && q.contains("x=1"), "{q}");
        assert_eq!(redact_url("https://git.example/"), "https://git.example/");
    }

    #[test]
    fn a_secret_of_the_wrong_type_is_not_echoed_in_the_error() {
        let e = load("[gitea]\ntoken = 98765432109876\n")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("98765432109876"), "{e}");
        assert!(e.contains("line 2"), "{e}");
        let vars = [("SOPBOT_GITEA_TIMEOUT".to_string(), "hunter2".to_string())];
        let e = Config::from_sources(Some(""), Path::new("x.toml"), &vars)
            .unwrap_err()
            .to_string();
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn a_password_in_a_url_is_redacted_wherever_it_is_shown() {
        for (url, shown) in [
            (
                "https://user:pass@gitea.example/",
                "https://user:***@gitea.example/",
            ),
            ("http://u:p%40ss@h:3000/git", "http://u:***@h:3000/git"),
            ("https://gitea.example/", "https://gitea.example/"),
            // A lone userinfo may be a token: hidden too.
            ("https://user@gitea.example/", "https://***@gitea.example/"),
            ("https://u:pa/ss@h/", "https://***@h/"),
            ("u:secret@h", "***@h"),
            ("", ""),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
        let mut c = Config::default();
        c.gitea.url = "https://user:pass@gitea.example/".into();
        assert!(!format!("{c:?}").contains("pass@"));
        assert!(toml::to_string(&c).unwrap().contains("user:***@"));
    }
}
