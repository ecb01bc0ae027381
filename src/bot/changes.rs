//! The PR facts only gate policies need (`docs/policies.md`): the changed paths (`paths`) and
//! who authored or committed its commits (`exclude_committers`). Both depend only on the head
//! and base commits, so each is read once per (PR, head, base) and kept in memory: a
//! re-evaluation without a push costs no call, and a push (a new head) reads them afresh.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::gate::Committers;
use crate::gitea::{GiteaClient, PrCommit, PullRequest};
use crate::types::RepoName;

/// Entries kept per kind before the cache starts over (a few hundred bytes each).
const CAPACITY: usize = 4096;

type Key = (String, u64, String, String);

/// Changed paths and committers per (repository, PR, head SHA, base SHA).
#[derive(Default)]
pub(crate) struct ChangesCache {
    files: Mutex<HashMap<Key, Vec<String>>>,
    committers: Mutex<HashMap<Key, Committers>>,
}

fn key(repo: &RepoName, pr: &PullRequest) -> Key {
    (
        repo.full(),
        pr.number,
        pr.head.sha.clone(),
        pr.base.sha.clone(),
    )
}

fn remember<V: Clone>(map: &Mutex<HashMap<Key, V>>, key: Key, value: &V) {
    let mut map = map.lock().expect("changes cache poisoned");
    if map.len() >= CAPACITY {
        map.clear();
    }
    map.insert(key, value.clone());
}

impl ChangesCache {
    /// Every path the PR changes; a rename or copy gives both its old and its new name, so a
    /// file moved out of `src/auth/` still changes `src/auth/`.
    pub async fn paths(
        &self,
        client: &GiteaClient,
        repo: &RepoName,
        pr: &PullRequest,
    ) -> Result<Vec<String>, String> {
        let key = key(repo, pr);
        if let Some(hit) = self.files.lock().expect("poisoned").get(&key) {
            return Ok(hit.clone());
        }
        let files = client
            .pull_files(repo, pr.number)
            .await
            .map_err(|e| e.to_string())?;
        // Only a listing of this very head may say "no change under src/auth/**": Gitea diffs
        // `refs/pull/N/head`, which lags a push (`contents_url` names the commit it diffed).
        let diffed = format!("?ref={}", pr.head.sha);
        if files.is_empty() || files.iter().any(|f| !f.contents_url.ends_with(&diffed)) {
            return Err(format!(
                "Gitea has not listed the changes of head {} yet; they are read again at the next evaluation (or /refire)",
                pr.head.sha.get(..10).unwrap_or(&pr.head.sha)
            ));
        }
        let mut paths = Vec::with_capacity(files.len());
        for f in files {
            if !f.previous_filename.is_empty() && f.previous_filename != f.filename {
                paths.push(f.previous_filename);
            }
            paths.push(f.filename);
        }
        remember(&self.files, key, &paths);
        Ok(paths)
    }

    /// The accounts Gitea links to the authors and committers of the PR's commits.
    pub async fn committers(
        &self,
        client: &GiteaClient,
        repo: &RepoName,
        pr: &PullRequest,
    ) -> Result<Committers, String> {
        let key = key(repo, pr);
        if let Some(hit) = self.committers.lock().expect("poisoned").get(&key) {
            return Ok(hit.clone());
        }
        let commits = client
            .pull_commits(repo, pr.number)
            .await
            .map_err(|e| e.to_string())?;
        // As for the files: Gitea lists `refs/pull/N/head`'s commits, which lag a push; a list
        // without this head could miss the commit of a would-be approver.
        if !commits.iter().any(|c| c.sha == pr.head.sha) {
            return Err(format!(
                "Gitea has not listed the commits of head {} yet; they are read again at the next evaluation (or /refire)",
                pr.head.sha.get(..10).unwrap_or(&pr.head.sha)
            ));
        }
        let committers = committers_of(&commits);
        remember(&self.committers, key, &committers);
        Ok(committers)
    }
}

/// Gitea links a git identity to the account whose (activated) email it carries. An identity
/// it links to no account — an unregistered email, a deleted user — could be anyone's, an
/// approver's included: its commit is listed as unlinked and the gate fails closed.
pub(crate) fn committers_of(commits: &[PrCommit]) -> Committers {
    let mut out = Committers::default();
    for c in commits {
        let mut linked = true;
        for user in [&c.author, &c.committer] {
            match user.as_ref().filter(|u| u.id > 0 && !u.login.is_empty()) {
                Some(u) => {
                    if !out.contains(&u.login) {
                        out.logins.push(u.login.clone());
                    }
                }
                None => linked = false,
            }
        }
        if !linked {
            out.unlinked.push(c.sha.chars().take(10).collect());
        }
    }
    out
}
