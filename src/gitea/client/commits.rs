//! One git commit and its parents (`GET /repos/{o}/{r}/git/commits/{sha}`): what the waiver
//! lifecycle reads to tell a push that only merges the base branch in from any other.

use serde::Deserialize;

use super::{repo_segments, Call, GiteaClient};
use crate::gitea::GiteaError;
use crate::types::RepoName;

/// A commit, as far as its place in the history goes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct GitCommit {
    pub sha: String,
    #[serde(default)]
    pub parents: Vec<CommitRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CommitRef {
    pub sha: String,
}

impl GiteaClient {
    /// The commit `sha` with its parents. Asks Gitea to leave out the stats and file list,
    /// which it would otherwise compute for the answer.
    pub async fn git_commit(&self, repo: &RepoName, sha: &str) -> Result<GitCommit, GiteaError> {
        let segs = repo_segments(repo, &["git", "commits", sha]);
        let call = Call::get("/repos/{o}/{r}/git/commits/{sha}", &segs)
            .query("stat", "false")
            .query("files", "false")
            .query("verification", "false");
        self.get_json(call).await
    }
}
