//! Which repositories sopbot serves, and with which gates: every `[[repo]]`, and the
//! repositories of each `[[org]]` that carry its topic. An organisation's repositories are listed
//! at start and again every `[poller] discover_interval`, so a repository that gains the topic
//! is served within that interval and one that loses it (or is archived) stops being served.
//!
//! A listing that fails keeps what the last one found: a Gitea hiccup must not ungate a
//! repository. Until an organisation has been listed once, events for its repositories wait
//! (the worker retries them) rather than being dropped as "not served".

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::watch;
use tracing::{info, warn};

use crate::config::{Config, Gate, OrgConfig, RepoConfig};
use crate::gitea::{GiteaClient, GiteaError};
use crate::types::RepoName;

/// The served repositories: the config's, plus those discovered through `[[org]]`.
pub struct Served {
    config: Arc<Config>,
    found: RwLock<Found>,
}

/// What the organisation listings found.
#[derive(Default)]
struct Found {
    /// Discovered repositories by organisation (lower-case login).
    by_org: BTreeMap<String, Vec<RepoConfig>>,
    /// Organisations listed successfully at least once (lower-case login).
    listed: HashSet<String>,
}

/// What one organisation's listing changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Discovery {
    pub added: Vec<RepoName>,
    pub removed: Vec<RepoName>,
    pub served: usize,
}

impl Served {
    pub fn new(config: Arc<Config>) -> Served {
        Served {
            config,
            found: RwLock::default(),
        }
    }

    /// The repository's entry, spelled as configured or as Gitea listed it (names compare
    /// case-insensitively, as Gitea's do). A `[[repo]]` entry wins over a discovered one.
    pub fn get(&self, name: &str) -> Option<RepoConfig> {
        let same = |r: &&RepoConfig| r.name.full().eq_ignore_ascii_case(name);
        if let Some(r) = self.config.repos.iter().find(same) {
            return Some(r.clone());
        }
        let found = self.found.read().unwrap_or_else(|e| e.into_inner());
        found.by_org.values().flatten().find(same).cloned()
    }

    /// Every served repository: the configured ones, then the discovered ones.
    pub fn names(&self) -> Vec<RepoName> {
        let mut names: Vec<RepoName> = self.config.repos.iter().map(|r| r.name.clone()).collect();
        let found = self.found.read().unwrap_or_else(|e| e.into_inner());
        for r in found.by_org.values().flatten() {
            if !names
                .iter()
                .any(|n| n.full().eq_ignore_ascii_case(&r.name.full()))
            {
                names.push(r.name.clone());
            }
        }
        names
    }

    /// Whether `repo` (not served now) may yet turn out to be: its owner is an `[[org]]` whose
    /// repositories have not been listed yet. Its events wait instead of being dropped.
    pub fn undecided(&self, repo: &str) -> bool {
        let Some((owner, _)) = repo.split_once('/') else {
            return false;
        };
        let found = self.found.read().unwrap_or_else(|e| e.into_inner());
        self.org(owner)
            .is_some_and(|o| !found.listed.contains(&o.name.to_ascii_lowercase()))
    }

    /// The gates guarding `repo` (none when it is not served).
    pub fn gates(&self, repo: &RepoName) -> Vec<Gate> {
        self.get(&repo.full())
            .map(|r| self.config.gates_for(&r))
            .unwrap_or_default()
    }

    fn org(&self, owner: &str) -> Option<&OrgConfig> {
        self.config
            .orgs
            .iter()
            .find(|o| o.name.eq_ignore_ascii_case(owner))
    }

    /// Lists one organisation's repositories and serves those with its topic (archived ones
    /// excluded: nothing merges there). On error what was found before stays.
    pub async fn discover_org(
        &self,
        client: &GiteaClient,
        org: &OrgConfig,
    ) -> Result<Discovery, GiteaError> {
        let listed = client.org_repos(&org.name).await?;
        let mut repos: Vec<RepoConfig> = listed
            .into_iter()
            .filter(|r| !r.archived && org.matches(&r.topics))
            .filter_map(|r| r.full_name.parse::<RepoName>().ok())
            .map(|name| org.repo_config(name))
            .collect();
        repos.sort_by_key(|r| r.name.full().to_ascii_lowercase());
        let key = org.name.to_ascii_lowercase();
        let mut found = self.found.write().unwrap_or_else(|e| e.into_inner());
        let before: Vec<RepoName> = found
            .by_org
            .get(&key)
            .map(|v| v.iter().map(|r| r.name.clone()).collect())
            .unwrap_or_default();
        let now: Vec<RepoName> = repos.iter().map(|r| r.name.clone()).collect();
        let change = Discovery {
            added: now
                .iter()
                .filter(|n| !before.contains(n))
                .cloned()
                .collect(),
            removed: before
                .iter()
                .filter(|n| !now.contains(n))
                .cloned()
                .collect(),
            served: now.len(),
        };
        found.by_org.insert(key.clone(), repos);
        found.listed.insert(key);
        Ok(change)
    }

    /// [`Served::get`], listing the repository's `[[org]]` first when it is one's and not served
    /// yet: for one-off commands (`sopbot check`) that run no discovery.
    pub async fn find(
        &self,
        client: &GiteaClient,
        repo: &RepoName,
    ) -> Result<Option<RepoConfig>, GiteaError> {
        if let Some(r) = self.get(&repo.full()) {
            return Ok(Some(r));
        }
        if let Some(org) = self.org(&repo.owner) {
            self.discover_org(client, org).await?;
        }
        Ok(self.get(&repo.full()))
    }

    /// Every organisation, once; failures are logged and leave that organisation as it was.
    pub async fn discover(&self, client: &GiteaClient) {
        for org in &self.config.orgs {
            match self.discover_org(client, org).await {
                Ok(d) if d.added.is_empty() && d.removed.is_empty() => {}
                Ok(d) => info!(
                    org = %org.name,
                    topic = %org.topic,
                    served = d.served,
                    added = %join(&d.added),
                    removed = %join(&d.removed),
                    "repositories discovered"
                ),
                Err(e) => warn!(
                    org = %org.name,
                    error = %e,
                    "cannot list the organisation's repositories; keeping what was found before"
                ),
            }
        }
    }

    /// Discovers now and then every `interval` until `stop`.
    pub async fn run(self: Arc<Self>, client: GiteaClient, mut stop: watch::Receiver<bool>) {
        if self.config.orgs.is_empty() {
            return;
        }
        let interval = self
            .config
            .poller
            .discover_interval
            .max(Duration::from_secs(1));
        loop {
            self.discover(&client).await;
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = stop.changed() => return,
            }
            if *stop.borrow() {
                return;
            }
        }
    }
}

fn join(names: &[RepoName]) -> String {
    names
        .iter()
        .map(RepoName::full)
        .collect::<Vec<_>>()
        .join(", ")
}
