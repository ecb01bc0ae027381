//! What a pull request changes and who wrote it, for the gate policies (`docs/policies.md`):
//! `GET /pulls/{n}/files` (`paths`), `GET /pulls/{n}/commits` (`exclude_committers`), and
//! `POST /pulls/{n}/requested_reviewers` (`request_review`). Gitea pages the two listings with
//! `page`/`limit` and sends `X-Total-Count` (`routers/api/v1/repo/pull.go` @ v1.25.4).

use reqwest::Method;
use serde::Deserialize;

use super::{repo_segments, Call, GiteaClient};
use crate::gitea::{GiteaError, User};
use crate::types::RepoName;

/// One changed file of a PR (Gitea's `ChangedFile`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ChangedFile {
    pub filename: String,
    /// The name before a rename or copy; empty otherwise.
    pub previous_filename: String,
    /// `added`, `deleted`, `modified`, `renamed`, `copied` …
    pub status: String,
    /// `…/contents/{path}?ref={commit}`: the commit Gitea diffed (`refs/pull/N/head`, which
    /// Gitea moves after the push, asynchronously: it may still be the previous head).
    pub contents_url: String,
}

/// A git identity of a commit (`CommitUser`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct GitIdentity {
    pub name: String,
    pub email: String,
}

/// The git half of a commit (`RepoCommit`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct GitCommit {
    pub author: Option<GitIdentity>,
    pub committer: Option<GitIdentity>,
}

/// One commit of a PR (Gitea's `Commit`). `author` and `committer` are the Gitea accounts
/// whose email matches the git identity, `null` when none does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct PrCommit {
    pub sha: String,
    pub commit: GitCommit,
    pub author: Option<User>,
    pub committer: Option<User>,
}

impl GiteaClient {
    /// Every file the PR changes, all pages. A listing that ends before its `X-Total-Count` is
    /// an error: a gate must not read "no change under src/auth/**" from half a list.
    pub async fn pull_files(
        &self,
        repo: &RepoName,
        number: u64,
    ) -> Result<Vec<ChangedFile>, GiteaError> {
        let n = number.to_string();
        let segs = repo_segments(repo, &["pulls", &n, "files"]);
        let call = Call::get("/repos/{o}/{r}/pulls/{n}/files", &segs);
        self.complete(call).await
    }

    /// Every commit of the PR (base branch to head), all pages, without the per-commit
    /// verification and file lists Gitea would otherwise compute.
    pub async fn pull_commits(
        &self,
        repo: &RepoName,
        number: u64,
    ) -> Result<Vec<PrCommit>, GiteaError> {
        let n = number.to_string();
        let segs = repo_segments(repo, &["pulls", &n, "commits"]);
        let call = Call::get("/repos/{o}/{r}/pulls/{n}/commits", &segs)
            .query("verification", "false")
            .query("files", "false");
        self.complete(call).await
    }

    /// Requests a review of the PR from an org team (`team_reviewers`). Not retried once it
    /// may have been applied: a second request would only repeat the notification.
    pub async fn request_team_review(
        &self,
        repo: &RepoName,
        number: u64,
        team: &str,
    ) -> Result<(), GiteaError> {
        let n = number.to_string();
        let segs = repo_segments(repo, &["pulls", &n, "requested_reviewers"]);
        let call = Call::new(
            Method::POST,
            "/repos/{o}/{r}/pulls/{n}/requested_reviewers",
            &segs,
        )
        .json(&serde_json::json!({ "reviewers": [], "team_reviewers": [team] }))
        .once();
        self.send(call).await.map(|_| ())
    }

    /// Every member of a team (`doctor`: can the team give `approvals` approvals at all?).
    pub async fn team_members(&self, team_id: i64) -> Result<Vec<User>, GiteaError> {
        let id = team_id.to_string();
        self.complete(Call::get("/teams/{id}/members", &["teams", &id, "members"]))
            .await
    }

    /// A paged listing read to its end, refused when shorter than the total Gitea announced.
    async fn complete<T: serde::de::DeserializeOwned>(
        &self,
        call: Call,
    ) -> Result<Vec<T>, GiteaError> {
        let endpoint = call.endpoint();
        let items =
            |body: &[u8]| Ok(serde_json::from_slice::<Option<Vec<T>>>(body)?.unwrap_or_default());
        let (all, total) = self.paged_counted(call, items, super::Ends::Total).await?;
        match total {
            Some(t) if (all.len() as u64) < t => Err(GiteaError::Decode {
                endpoint,
                message: format!("the listing ended after {} of {t} items", all.len()),
            }),
            _ => Ok(all),
        }
    }
}
