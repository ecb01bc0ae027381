//! Which repositories sopbot serves, and with which gates: every `[[repo]]`, and the
//! repositories of each `[[org]]` that carry its topic. An organisation's repositories are listed
//! at start and again every `[poller] discover_interval`, so a repository that gains the topic
//! is served within that interval and one that loses it (or is archived) stops being served.
//!
//! A listing that fails keeps what the last one found: a Gitea hiccup must not ungate a
//! repository. Until an organisation has been listed once, events for its repositories wait
//! (the worker retries them) rather than being dropped as "not served".

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::watch;
use tracing::{error, info, warn};

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
    /// Served repositories the last listing missed (lower-case full name): the next miss
    /// removes them.
    missed: HashSet<String>,
    /// When repositories were added after their organisation's first listing.
    added_at: HashMap<String, chrono::DateTime<chrono::Utc>>,
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
    /// excluded: nothing merges there). On error what was found before stays. A repository
    /// stops being served only when two listings in a row miss it: one odd listing (a
    /// repository moved between pages while they were read) must not ungate it.
    pub async fn discover_org(
        &self,
        client: &GiteaClient,
        org: &OrgConfig,
    ) -> Result<Discovery, GiteaError> {
        let listed = client.org_repos(&org.name).await?;
        let seen: Vec<RepoName> = listed
            .into_iter()
            .filter(|r| !r.archived && org.matches(&r.topics))
            .filter_map(|r| r.full_name.parse::<RepoName>().ok())
            .collect();
        let key = org.name.to_ascii_lowercase();
        let mut found = self.found.write().unwrap_or_else(|e| e.into_inner());
        let found = &mut *found;
        let first = !found.listed.contains(&key);
        let before: Vec<RepoName> = found
            .by_org
            .get(&key)
            .map(|v| v.iter().map(|r| r.name.clone()).collect())
            .unwrap_or_default();
        let lower = |n: &RepoName| n.full().to_ascii_lowercase();
        let mut change = Discovery::default();
        let mut now: Vec<RepoName> = seen.clone();
        for gone in before
            .iter()
            .filter(|b| !seen.iter().any(|n| lower(n) == lower(b)))
        {
            if found.missed.remove(&lower(gone)) {
                change.removed.push(gone.clone());
            } else {
                found.missed.insert(lower(gone));
                now.push(gone.clone());
            }
        }
        for n in &seen {
            found.missed.remove(&lower(n));
            if !before.iter().any(|b| lower(b) == lower(n)) {
                change.added.push(n.clone());
                if !first {
                    found.added_at.insert(lower(n), chrono::Utc::now());
                }
            }
        }
        now.sort_by_key(lower);
        change.served = now.len();
        let repos = now.into_iter().map(|n| org.repo_config(n)).collect();
        found.by_org.insert(key.clone(), repos);
        found.listed.insert(key);
        Ok(change)
    }

    /// When `repo` began to be served by a listing after its organisation's first one in this
    /// process (it gained the topic while the bot ran): the poller does not replay what was said
    /// before that beyond `first_start_window`, however old its stored cursor is.
    pub fn served_since(&self, repo: &RepoName) -> Option<chrono::DateTime<chrono::Utc>> {
        let found = self.found.read().unwrap_or_else(|e| e.into_inner());
        found
            .added_at
            .get(&repo.full().to_ascii_lowercase())
            .copied()
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
                Ok(d) => {
                    if !d.added.is_empty() {
                        info!(org = %org.name, topic = %org.topic, served = d.served,
                            added = %join(&d.added), "repositories now served");
                    }
                    if !d.removed.is_empty() {
                        warn!(org = %org.name, topic = %org.topic, served = d.served,
                            removed = %join(&d.removed),
                            "repositories no longer served (topic removed, archived, or hidden from the bot): their statuses stay as last posted");
                    }
                }
                Err(e) if self.undecided(&format!("{}/", org.name)) => error!(
                    org = %org.name,
                    error = %e,
                    "cannot list the organisation's repositories, and never could: deliveries for its repositories wait in the inbox; run `sopbot doctor`"
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
