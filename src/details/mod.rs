//! The details page behind every status: `{external_url}/pr/OWNER/REPO/N?sig=…` explains each
//! gate of the PR — every review considered, who can approve, the waivers, the audit trail, the
//! last evaluation, and for an `error` the `doctor` diagnosis and its fix (docs/details-page.md).
//!
//! Each evaluation stores what it found ([`Record`], written on the publish path with no extra
//! Gitea call); the page reads only the store, so a view never reaches Gitea. Links are signed
//! with a key derived from the webhook secret ([`Links`]): only someone who saw a status (or
//! was given its link) can open the page, and an unsigned or altered link is 404 like an
//! unknown PR.

mod page;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::bot::PrEvaluation;
use crate::config::{Config, Gate};
use crate::gate::{GateState, Membership};
use crate::secret::Secret;

pub use page::{router, DetailsState};

type HmacSha256 = Hmac<Sha256>;

/// What the link key is derived for: changing it invalidates every link.
const KEY_LABEL: &[u8] = b"sopbot details-page link key v1";

/// Bytes of HMAC-SHA256 kept in a link's signature (128 bits), hex in the link.
const SIGNATURE_BYTES: usize = 16;

/// Whether `url` can be `[server] external_url`: an absolute http(s) URL with a host and no
/// query or fragment (the page's path is appended to it).
pub fn check_external_url(url: &str) -> Result<(), &'static str> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|_| "must be an absolute URL like https://sopbot.example.com")?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("must start with http:// or https://");
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("must name a host, like https://sopbot.example.com");
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err("must not have a query or fragment: the page's path is appended to it");
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not carry a user or password: it is shown to everyone in each status");
    }
    Ok(())
}

/// `config check`'s line about the page: on (and where), or off and why.
pub fn describe_setting(config: &Config) -> String {
    match (&config.server.external_url, config.webhook_secret()) {
        (None, _) => "details page: off (set server.external_url to link every status to it)".into(),
        (Some(_), Ok(None)) => {
            "details page: off (its links are signed with a key derived from the webhook secret, which is not set)".into()
        }
        (Some(url), _) => format!(
            "details page: on, statuses link to {}/pr/OWNER/REPO/N",
            url.trim_end_matches('/')
        ),
    }
}

/// Signs and checks details-page links. The key is HMAC-SHA256 of a fixed label under the
/// webhook secret: no second secret to provision, and rotating the webhook secret rotates the
/// links. Debug shows only the base URL.
#[derive(Clone)]
pub struct Links {
    /// `external_url` without a trailing `/`.
    base: String,
    /// The derived key, hex.
    key: Secret,
}

impl std::fmt::Debug for Links {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Links")
            .field("base", &self.base)
            .field("key", &self.key)
            .finish()
    }
}

impl Links {
    pub fn new(external_url: &str, webhook_secret: &Secret) -> Links {
        let mut mac = HmacSha256::new_from_slice(webhook_secret.expose().as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(KEY_LABEL);
        Links {
            base: external_url.trim_end_matches('/').to_string(),
            key: Secret::new(hex::encode(mac.finalize().into_bytes())),
        }
    }

    /// The links of a config: `None` when `external_url` or the webhook secret is not set.
    pub fn from_config(config: &Config) -> Option<Links> {
        let url = config.server.external_url.as_deref()?;
        let secret = config.webhook_secret().ok().flatten()?;
        Some(Links::new(url, &secret))
    }

    fn mac(&self, repo: &str, pr: u64) -> HmacSha256 {
        let key = hex::decode(self.key.expose()).expect("the key is hex");
        let mut mac = HmacSha256::new_from_slice(&key).expect("HMAC takes a key of any length");
        // Gitea's owner and repository names are case-insensitive: so are links.
        mac.update(format!("{}#{pr}", repo.to_ascii_lowercase()).as_bytes());
        mac
    }

    /// The signature of `repo#pr`'s link (hex, 32 characters).
    pub fn signature(&self, repo: &str, pr: u64) -> String {
        hex::encode(&self.mac(repo, pr).finalize().into_bytes()[..SIGNATURE_BYTES])
    }

    /// Whether `signature` is `repo#pr`'s, compared in constant time.
    pub fn verify(&self, repo: &str, pr: u64, signature: &str) -> bool {
        match hex::decode(signature) {
            // Exactly the length given out: a shorter tag would be easier to guess.
            Ok(tag) if tag.len() == SIGNATURE_BYTES => {
                self.mac(repo, pr).verify_truncated_left(&tag).is_ok()
            }
            _ => false,
        }
    }

    /// The page of `repo#pr` (`repo` as `owner/name`).
    pub fn url(&self, repo: &str, pr: u64) -> String {
        format!(
            "{}/pr/{repo}/{pr}?sig={}",
            self.base,
            self.signature(repo, pr)
        )
    }

    /// The page of `repo#pr` at one gate's section.
    pub fn gate_url(&self, repo: &str, pr: u64, gate: &str) -> String {
        format!("{}#gate-{gate}", self.url(repo, pr))
    }
}

/// What one evaluation found, as stored for the page: the report `sopbot check --json` prints,
/// and what the page adds without asking Gitea again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The evaluation in `sopbot check --json`'s shape (served as is for JSON).
    pub report: serde_json::Value,
    pub title: String,
    pub author: Option<String>,
    pub open: bool,
    /// For each gate in `error`: what `doctor` would say and its fix.
    pub diagnoses: Vec<Diagnosis>,
}

/// Why a gate is in `error`, in `sopbot doctor`'s words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnosis {
    pub gate: String,
    pub check: String,
    pub fix: String,
}

impl Record {
    /// The record of `eval`, by the bot `bot`, with the repository's `gates`: no Gitea call.
    pub fn of(gates: &[Gate], bot: &str, eval: &PrEvaluation) -> Record {
        let org = eval.repo.split('/').next().unwrap_or_default();
        let diagnoses = eval
            .gates
            .iter()
            .filter(|v| v.state == GateState::Error)
            .map(|v| {
                let team = gates
                    .iter()
                    .find(|g| g.name == v.gate)
                    .map(|g| g.team.clone());
                let membership = v.candidates.iter().find_map(|c| match &c.membership {
                    Membership::Member | Membership::NotMember => None,
                    m => Some((c.login.as_str(), m)),
                });
                let (check, fix) = match (membership, team) {
                    (Some((_, Membership::MissingScope(scopes))), _) => (
                        format!("the bot's token lacks the {} scope", scopes.join(" / ")),
                        crate::gitea::scope_fix(scopes),
                    ),
                    (Some((_, Membership::Forbidden)), Some(team)) => (
                        format!(
                            "team {team} in {org}: team {team} of org `{org}` is not readable by the bot (403)"
                        ),
                        crate::cli::doctor::forbidden_fix(bot, &team, org),
                    ),
                    (Some((login, Membership::Error(e))), Some(team)) => (
                        format!("membership of @{login} in team {team} could not be checked: {e}"),
                        "check that Gitea is healthy and retry: comment /refire".into(),
                    ),
                    _ => (
                        v.description.clone(),
                        "comment /refire to retry; `sopbot doctor` checks the bot's access".into(),
                    ),
                };
                Diagnosis {
                    gate: v.gate.clone(),
                    check,
                    fix,
                }
            })
            .collect();
        Record {
            report: serde_json::to_value(eval).unwrap_or_default(),
            title: eval.title.clone(),
            author: eval.author.clone(),
            open: eval.open,
            diagnoses,
        }
    }
}

/// Stores what the evaluations of one head commit found, for their pages (only when the page
/// is on): one store write per PR, and one read per PR when only some gates were evaluated
/// (`/refire qa`), so that the others' last verdicts stay on the page. No Gitea call.
pub async fn record_evaluations(
    ctx: &crate::bot::Ctx,
    evals: &[PrEvaluation],
    partial: bool,
) -> Result<(), crate::store::StoreError> {
    if ctx.links.is_none() {
        return Ok(());
    }
    for eval in evals {
        let gates = match eval.repo.parse::<crate::types::RepoName>() {
            Ok(repo) => ctx.gates(&repo),
            Err(_) => Vec::new(),
        };
        let mut record = Record::of(&gates, &ctx.bot, eval);
        if partial {
            if let Some(old) = ctx.store.details(&eval.repo, eval.pr as i64).await? {
                if old.head_sha == eval.head_sha {
                    if let Ok(old) = serde_json::from_str::<Record>(&old.record) {
                        record.keep_others(old, &gates);
                    }
                }
            }
        }
        let json = serde_json::to_string(&record)
            .map_err(|e| crate::store::StoreError::Db(sqlx::Error::Encode(Box::new(e))))?;
        ctx.store
            .record_details(&eval.repo, eval.pr as i64, &eval.head_sha, &json)
            .await?;
    }
    Ok(())
}

impl Record {
    /// Keeps `old`'s verdicts (and diagnoses) of the gates this record lacks, in the config's
    /// gate order: a `/refire` of one gate leaves the others as last evaluated.
    fn keep_others(&mut self, old: Record, order: &[Gate]) {
        let name = |g: &serde_json::Value| g["gate"].as_str().unwrap_or_default().to_string();
        let Some(gates) = self.report["gates"].as_array_mut() else {
            return;
        };
        let have: Vec<String> = gates.iter().map(name).collect();
        let kept: Vec<serde_json::Value> = old.report["gates"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|g| !have.contains(&name(g)))
            .cloned()
            .collect();
        let kept_names: Vec<String> = kept.iter().map(name).collect();
        gates.extend(kept);
        let order: Vec<String> = order.iter().map(|g| g.name.clone()).collect();
        gates.sort_by_key(|g| order.iter().position(|n| *n == name(g)));
        self.diagnoses.extend(
            old.diagnoses
                .into_iter()
                .filter(|d| kept_names.contains(&d.gate)),
        );
    }
}

/// The page's routes for `serve`: none when the page is off (no `external_url` or no webhook
/// secret), so every `/pr/…` is then 404 too.
pub fn routes(
    config: std::sync::Arc<Config>,
    store: crate::store::Store,
    served: std::sync::Arc<crate::repos::Served>,
) -> axum::Router {
    match Links::from_config(&config) {
        Some(links) => router(DetailsState::new(store, links, config, served)),
        None => axum::Router::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::Config;

    fn load(server: &str) -> Result<Config, String> {
        Config::from_toml(&format!("[server]\n{server}"), Path::new("sopbot.toml"))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn external_url_must_be_an_absolute_http_url_without_query_or_credentials() {
        for ok in [
            "https://sopbot.example.com",
            "https://sopbot.example.com/",
            "http://10.0.0.5:8080/bots/sopbot/",
        ] {
            load(&format!("external_url = \"{ok}\"\n")).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "sopbot.example.com",
            "/pr",
            "ftp://sopbot.example.com",
            "https://sopbot.example.com/?a=1",
            "https://sopbot.example.com/#top",
            "https://user:pw@sopbot.example.com",
            "",
        ] {
            let e = load(&format!("external_url = \"{bad}\"\n")).unwrap_err();
            assert!(e.contains("server.external_url"), "{bad}: {e}");
            assert!(!bad.contains("pw") || !e.contains("pw@"), "{e}");
        }
    }

    #[test]
    fn config_check_says_whether_the_page_is_on() {
        let off = load("").unwrap();
        assert!(
            super::describe_setting(&off).starts_with("details page: off (set server.external_url")
        );
        assert!(super::Links::from_config(&off).is_none());
        let no_secret = load("external_url = \"https://bot.example\"\n").unwrap();
        assert!(super::describe_setting(&no_secret).contains("webhook secret, which is not set"));
        let on = load("external_url = \"https://bot.example/\"\nwebhook_secret = \"s\"\n").unwrap();
        assert_eq!(
            super::describe_setting(&on),
            "details page: on, statuses link to https://bot.example/pr/OWNER/REPO/N"
        );
        assert!(super::Links::from_config(&on).is_some());
    }
}
