//! Repository administration for `sopbot setup`: the repository's webhooks and its branch
//! protection rules. Both need the token's user to be a repository admin (403 otherwise).

use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::{repo_segments, Call, GiteaClient};
use crate::gitea::GiteaError;
use crate::types::RepoName;

/// A repository webhook as Gitea shows it (never with its secret).
#[derive(Debug, Clone, Deserialize)]
pub struct Hook {
    pub id: i64,
    #[serde(default)]
    pub config: HookConfig,
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(default)]
    pub active: bool,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct HookConfig {
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub content_type: String,
}

/// A branch protection rule: only what setup reads and changes.
#[derive(Debug, Clone, Deserialize)]
pub struct BranchProtection {
    pub rule_name: String,
    #[serde(default)]
    pub enable_status_check: bool,
    #[serde(default)]
    pub status_check_contexts: Vec<String>,
    /// When on, only the whitelisted users and teams give official reviews.
    #[serde(default)]
    pub enable_approvals_whitelist: bool,
    #[serde(default)]
    pub approvals_whitelist_teams: Vec<String>,
    #[serde(default)]
    pub approvals_whitelist_username: Vec<String>,
}

impl GiteaClient {
    /// The repository's webhooks.
    pub async fn hooks(&self, repo: &RepoName) -> Result<Vec<Hook>, GiteaError> {
        let segs = repo_segments(repo, &["hooks"]);
        self.get_paged(Call::get("/repos/{o}/{r}/hooks", &segs))
            .await
    }

    /// Creates (`id` None) or edits a webhook; `body` is Gitea's CreateHookOption /
    /// EditHookOption. Not retried once it may have been applied.
    pub async fn save_hook(
        &self,
        repo: &RepoName,
        id: Option<i64>,
        body: &serde_json::Value,
    ) -> Result<Hook, GiteaError> {
        let call = match id {
            None => Call::new(
                Method::POST,
                "/repos/{o}/{r}/hooks",
                &repo_segments(repo, &["hooks"]),
            ),
            Some(id) => {
                let id = id.to_string();
                Call::new(
                    Method::PATCH,
                    "/repos/{o}/{r}/hooks/{id}",
                    &repo_segments(repo, &["hooks", &id]),
                )
            }
        };
        self.get_json(call.json(body).once()).await
    }

    /// The repository's branch protection rules (not paginated by Gitea).
    pub async fn branch_protections(
        &self,
        repo: &RepoName,
    ) -> Result<Vec<BranchProtection>, GiteaError> {
        let segs = repo_segments(repo, &["branch_protections"]);
        self.get_json(Call::get("/repos/{o}/{r}/branch_protections", &segs))
            .await
    }

    /// Creates a rule (`existing` false) or edits the rule named `rule`.
    pub async fn save_branch_protection(
        &self,
        repo: &RepoName,
        rule: &str,
        existing: bool,
        body: &serde_json::Value,
    ) -> Result<BranchProtection, GiteaError> {
        let call = if existing {
            Call::new(
                Method::PATCH,
                "/repos/{o}/{r}/branch_protections/{name}",
                &repo_segments(repo, &["branch_protections", rule]),
            )
        } else {
            Call::new(
                Method::POST,
                "/repos/{o}/{r}/branch_protections",
                &repo_segments(repo, &["branch_protections"]),
            )
        };
        self.get_json(call.json(body).once()).await
    }
}
