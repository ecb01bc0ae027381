//! The application context: what every handler and the CLI need to reach Gitea, the store and
//! the configuration, built once at start-up.

use std::sync::Arc;

use crate::command::GateNames;
use crate::config::Config;
use crate::gitea::{GiteaClient, TeamDirectory};
use crate::metrics::Metrics;
use crate::repos::Served;
use crate::store::Store;

use super::publish::HeadLocks;

/// The config, Gitea (client and team directory), the store, the bot's identity and the
/// metrics. Evaluation ([`super::evaluate`]) and the handlers are methods and functions over it.
pub struct Ctx {
    pub config: Arc<Config>,
    pub client: GiteaClient,
    pub teams: TeamDirectory,
    pub store: Store,
    /// The bot's login: its own comments and statuses are not acted on.
    pub bot: String,
    /// Whether the bot is a site admin, so it sees other users' PENDING reviews.
    pub bot_is_admin: bool,
    pub metrics: &'static Metrics,
    /// The gate names and aliases the command parser accepts: every configured gate, so that
    /// naming a gate a repository does not have is refused rather than read as a reason.
    pub gate_names: GateNames,
    /// The served repositories and their gates (`[[repo]]` and `[[org]]`).
    pub served: Arc<Served>,
    /// One evaluate-and-post at a time per head commit (see [`HeadLocks`]).
    pub(crate) heads: HeadLocks,
    /// Signs the details-page link of each status; `None` when `server.external_url` (or the
    /// webhook secret) is not set.
    pub links: Option<crate::details::Links>,
    /// Changed paths and committers per head, for the gate policies.
    pub(crate) changes: super::changes::ChangesCache,
}

impl Ctx {
    pub fn new(
        config: Arc<Config>,
        client: GiteaClient,
        teams: TeamDirectory,
        store: Store,
        bot_login: impl Into<String>,
        bot_is_admin: bool,
    ) -> Arc<Ctx> {
        Arc::new(Ctx {
            links: crate::details::Links::from_config(&config),
            gate_names: config.gate_names(),
            served: Arc::new(Served::new(config.clone())),
            config,
            client,
            teams,
            store,
            bot: bot_login.into(),
            bot_is_admin,
            metrics: crate::metrics::get(),
            heads: HeadLocks::default(),
            changes: Default::default(),
        })
    }

    /// The gates guarding `repo`, its overrides applied.
    pub fn gates(&self, repo: &crate::types::RepoName) -> Vec<crate::config::Gate> {
        self.served.gates(repo)
    }
}
