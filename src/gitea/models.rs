//! The parts of Gitea's JSON the bot reads, as serde types.
//!
//! Every model is tolerant: unknown fields are ignored, missing fields take their default, and a
//! `null` where Gitea normally sends a string, number, bool or list also takes the default
//! (Go pointers and nil slices come back as `null`). Users are `Option<User>` because migrated
//! content has `"user": null`; a deleted user comes back as the Ghost (`id` -1).
//! Field meanings are those of `docs/gitea-api.md`.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `null` or a missing field becomes `T::default()`.
fn nd<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A Gitea account (user or, as a repo owner, an organisation).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct User {
    #[serde(deserialize_with = "nd")]
    pub id: i64,
    #[serde(deserialize_with = "nd")]
    pub login: String,
    #[serde(deserialize_with = "nd")]
    pub full_name: String,
    /// Only meaningful from `GET /user`: webhooks always send `false` (`docs/gitea-api.md` §6).
    #[serde(deserialize_with = "nd")]
    pub is_admin: bool,
}

impl User {
    /// The user of deleted content (`id` -1, login `Ghost`).
    pub fn is_ghost(&self) -> bool {
        self.id == -1
    }
}

/// `head` or `base` of a pull request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PrBranch {
    #[serde(rename = "ref", deserialize_with = "nd")]
    pub ref_name: String,
    #[serde(deserialize_with = "nd")]
    pub sha: String,
    #[serde(deserialize_with = "nd")]
    pub repo_id: i64,
}

/// A PR as the issue listing shows it (`GET /repos/{o}/{r}/issues?type=pulls`): enough to know
/// that it changed and whether it is still open, not its head (read the PR for that).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IssueSummary {
    #[serde(deserialize_with = "nd")]
    pub number: u64,
    /// `open` or `closed`.
    #[serde(deserialize_with = "nd")]
    pub state: String,
    pub updated_at: Option<DateTime<Utc>>,
    /// Present for a PR.
    pub pull_request: Option<PullRequestMeta>,
}

/// `PullRequestMeta`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PullRequestMeta {
    #[serde(deserialize_with = "nd")]
    pub merged: bool,
}

/// A pull request (`GET /repos/{o}/{r}/pulls/{n}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PullRequest {
    #[serde(deserialize_with = "nd")]
    pub number: u64,
    #[serde(deserialize_with = "nd")]
    pub title: String,
    /// `open` or `closed` (a merged PR is `closed` with `merged: true`).
    #[serde(deserialize_with = "nd")]
    pub state: String,
    #[serde(deserialize_with = "nd")]
    pub merged: bool,
    pub user: Option<User>,
    #[serde(deserialize_with = "nd")]
    pub head: PrBranch,
    /// `base.sha` is the tip of the base branch, not the merge base.
    #[serde(deserialize_with = "nd")]
    pub base: PrBranch,
    pub merge_base: Option<String>,
    #[serde(deserialize_with = "nd")]
    pub html_url: String,
    pub updated_at: Option<DateTime<Utc>>,
}

impl PullRequest {
    pub fn is_open(&self) -> bool {
        self.state == "open" && !self.merged
    }

    /// The author's login, if the author is known.
    pub fn author(&self) -> Option<&str> {
        self.user.as_ref().map(|u| u.login.as_str())
    }
}

/// A review's `state`, from Gitea's exact strings. Anything else (including `""`, which Gitea
/// sends for an unknown type) is kept as `Unknown` and never counts as a verdict.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReviewState {
    Approved,
    RequestChanges,
    Comment,
    Pending,
    RequestReview,
    Unknown(String),
}

impl Default for ReviewState {
    fn default() -> Self {
        Self::Unknown(String::new())
    }
}

impl ReviewState {
    /// Exact, case-sensitive: `approved` or `APPROVE` are `Unknown` (`docs/gitea-api.md` §3).
    pub fn parse(s: &str) -> Self {
        match s {
            "APPROVED" => Self::Approved,
            "REQUEST_CHANGES" => Self::RequestChanges,
            "COMMENT" => Self::Comment,
            "PENDING" => Self::Pending,
            "REQUEST_REVIEW" => Self::RequestReview,
            other => Self::Unknown(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Approved => "APPROVED",
            Self::RequestChanges => "REQUEST_CHANGES",
            Self::Comment => "COMMENT",
            Self::Pending => "PENDING",
            Self::RequestReview => "REQUEST_REVIEW",
            Self::Unknown(s) => s,
        }
    }
}

impl fmt::Display for ReviewState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ReviewState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ReviewState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        Ok(Self::parse(s.as_deref().unwrap_or("")))
    }
}

/// A pull-request review (`GET /repos/{o}/{r}/pulls/{n}/reviews`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Review {
    #[serde(deserialize_with = "nd")]
    pub id: i64,
    /// `null` for a team review request, and for migrated content.
    pub user: Option<User>,
    #[serde(deserialize_with = "nd")]
    pub state: ReviewState,
    #[serde(deserialize_with = "nd")]
    pub body: String,
    /// The head SHA that was reviewed.
    #[serde(deserialize_with = "nd")]
    pub commit_id: String,
    #[serde(deserialize_with = "nd")]
    pub stale: bool,
    /// Gitea always sends it. If it is ever missing or `null` it reads as `false`: fail closed,
    /// an approval whose officialness is unknown does not count.
    #[serde(deserialize_with = "nd")]
    pub official: bool,
    #[serde(deserialize_with = "nd")]
    pub dismissed: bool,
    pub submitted_at: Option<DateTime<Utc>>,
}

impl Review {
    pub fn reviewer(&self) -> Option<&str> {
        self.user.as_ref().map(|u| u.login.as_str())
    }
}

/// A plain issue or PR comment. Review bodies and code comments are not comments (see
/// [`TimelineComment`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Comment {
    #[serde(deserialize_with = "nd")]
    pub id: i64,
    pub user: Option<User>,
    #[serde(deserialize_with = "nd")]
    pub body: String,
    #[serde(deserialize_with = "nd")]
    pub created_at: DateTime<Utc>,
    /// `since` filters on this, not on `created_at` (`docs/gitea-api.md` §2).
    #[serde(deserialize_with = "nd")]
    pub updated_at: DateTime<Utc>,
    #[serde(deserialize_with = "nd")]
    pub html_url: String,
    /// HTML URL of the PR (`…/acme/widgets/pulls/7`); `""` on a plain issue.
    #[serde(deserialize_with = "nd")]
    pub pull_request_url: String,
    /// HTML URL of the issue; `""` on a PR.
    #[serde(deserialize_with = "nd")]
    pub issue_url: String,
}

impl Comment {
    /// The PR number, parsed from the last path segment of `pull_request_url`. `None` for a
    /// comment on a plain issue (Gitea puts no number in a comment).
    pub fn pr_number(&self) -> Option<u64> {
        last_number(&self.pull_request_url)
    }

    pub fn author(&self) -> Option<&str> {
        self.user.as_ref().map(|u| u.login.as_str())
    }
}

fn last_number(url: &str) -> Option<u64> {
    let url = url.split(['?', '#']).next()?.trim_end_matches('/');
    if url.is_empty() {
        return None;
    }
    url.rsplit('/')
        .next()?
        .parse()
        .ok()
        .filter(|n: &u64| *n > 0)
}

/// The organisation a team belongs to. Gitea sends the name twice (`name`, `username`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Organization {
    #[serde(deserialize_with = "nd")]
    pub id: i64,
    #[serde(deserialize_with = "nd")]
    pub name: String,
    #[serde(deserialize_with = "nd")]
    pub username: String,
}

impl Organization {
    /// The org's login, whichever of the two fields is filled.
    pub fn login(&self) -> &str {
        if self.name.is_empty() {
            &self.username
        } else {
            &self.name
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Team {
    #[serde(deserialize_with = "nd")]
    pub id: i64,
    #[serde(deserialize_with = "nd")]
    pub name: String,
    pub organization: Option<Organization>,
    /// `read`, `write`, `admin` or `owner` (Gitea's summary of `units_map`).
    #[serde(deserialize_with = "nd")]
    pub permission: String,
    /// Access per unit (`repo.code` → `read` …); decides whether its members' reviews are
    /// official.
    #[serde(deserialize_with = "nd")]
    pub units_map: std::collections::BTreeMap<String, String>,
}

impl Team {
    /// Whether the team may write the code (so its members' reviews are official when no
    /// approvals whitelist applies). The unit map decides when given, else the permission.
    pub fn writes_code(&self) -> bool {
        let level = self.units_map.get("repo.code").unwrap_or(&self.permission);
        matches!(level.as_str(), "write" | "admin" | "owner")
    }
}

/// One commit status as Gitea answers it. The response names the state `status` (requests say
/// `state`, see [`NewStatus`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CommitStatus {
    #[serde(deserialize_with = "nd")]
    pub id: i64,
    /// `pending`, `success`, `error`, `failure`, `warning`, `skipped`, or anything a client
    /// stored (Gitea does not validate it).
    #[serde(rename = "status", deserialize_with = "nd")]
    pub state: String,
    #[serde(deserialize_with = "nd")]
    pub context: String,
    #[serde(deserialize_with = "nd")]
    pub description: String,
    #[serde(deserialize_with = "nd")]
    pub target_url: String,
    pub creator: Option<User>,
    pub created_at: Option<DateTime<Utc>>,
}

/// `GET /repos/{o}/{r}/commits/{ref}/status`: the latest status per context (one page of them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CombinedStatus {
    /// `""` when the commit has no status at all.
    #[serde(deserialize_with = "nd")]
    pub state: String,
    #[serde(deserialize_with = "nd")]
    pub sha: String,
    #[serde(deserialize_with = "nd")]
    pub total_count: i64,
    /// `null` when the commit has no status at all.
    pub statuses: Option<Vec<CommitStatus>>,
}

/// The states the bot posts. `warning` and `skipped` are left out on purpose: current Gitea
/// counts both as success, and the bot never marks a gate that has not passed that way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusState {
    Pending,
    Success,
    Error,
    Failure,
}

impl StatusState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Success => "success",
            Self::Error => "error",
            Self::Failure => "failure",
        }
    }
}

impl fmt::Display for StatusState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Body of `POST /repos/{o}/{r}/statuses/{sha}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewStatus {
    pub state: StatusState,
    pub context: String,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_url: Option<String>,
}

/// `GET /repos/{o}/{r}/branches/{branch}`: readable with code read, no admin needed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Branch {
    #[serde(deserialize_with = "nd")]
    pub name: String,
    #[serde(deserialize_with = "nd")]
    pub protected: bool,
    #[serde(deserialize_with = "nd")]
    pub required_approvals: i64,
    #[serde(deserialize_with = "nd")]
    pub enable_status_check: bool,
    /// Glob patterns.
    #[serde(deserialize_with = "nd")]
    pub status_check_contexts: Vec<String>,
}

/// One entry of `GET /repos/{o}/{r}/issues/{n}/timeline`. A `kind` of `review` with a
/// `review_id` missing from the visible reviews betrays a hidden PENDING review
/// (`docs/gitea-api.md` §3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TimelineComment {
    #[serde(deserialize_with = "nd")]
    pub id: i64,
    #[serde(rename = "type", deserialize_with = "nd")]
    pub kind: String,
    #[serde(deserialize_with = "nd")]
    pub review_id: i64,
    pub user: Option<User>,
    #[serde(deserialize_with = "nd")]
    pub body: String,
    pub created_at: Option<DateTime<Utc>>,
}

/// `GET /version`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerVersion {
    #[serde(deserialize_with = "nd")]
    pub version: String,
}

/// The token owner's rights on a repository.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Permission {
    #[serde(deserialize_with = "nd")]
    pub admin: bool,
    #[serde(deserialize_with = "nd")]
    pub push: bool,
    #[serde(deserialize_with = "nd")]
    pub pull: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Repository {
    #[serde(deserialize_with = "nd")]
    pub id: i64,
    #[serde(deserialize_with = "nd")]
    pub full_name: String,
    pub owner: Option<User>,
    pub permissions: Option<Permission>,
    #[serde(deserialize_with = "nd")]
    pub private: bool,
    #[serde(deserialize_with = "nd")]
    pub archived: bool,
    #[serde(deserialize_with = "nd")]
    pub default_branch: String,
    /// Lower case in Gitea; `[[org]] topic` opts a repository in.
    #[serde(default, deserialize_with = "nd")]
    pub topics: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The `comment` object of the webhook fixture `issue_comment_created.json`
    /// (`tests/gitea-emu/fixtures/gitea/webhooks/`), inlined so this module test reads no file.
    const WEBHOOK_COMMENT: &str = r#"{
      "id": 1042,
      "html_url": "https://git.acme.example/acme/widgets/pulls/7#issuecomment-1042",
      "pull_request_url": "https://git.acme.example/acme/widgets/pulls/7",
      "issue_url": "",
      "user": {
        "id": 4, "login": "bob", "login_name": "", "source_id": 0, "full_name": "Bob Quinn",
        "email": "bob@noreply.git.acme.example",
        "avatar_url": "https://git.acme.example/avatars/c2541976b94265c3722f23a4f14560c2",
        "html_url": "https://git.acme.example/bob", "language": "", "is_admin": false,
        "last_login": "0001-01-01T00:00:00Z", "created": "2025-01-15T10:02:55Z",
        "restricted": false, "active": false, "prohibit_login": false, "location": "",
        "website": "", "description": "", "visibility": "public", "followers_count": 0,
        "following_count": 0, "starred_repos_count": 0, "username": "bob"
      },
      "original_author": "",
      "original_author_id": 0,
      "body": "Team membership was fixed, re-checking.\n/refire qa",
      "assets": [],
      "created_at": "2026-03-02T14:03:27Z",
      "updated_at": "2026-03-02T14:03:27Z"
    }"#;

    #[test]
    fn comment_pr_number_comes_from_the_example_webhook_comment() {
        let c: Comment = serde_json::from_str(WEBHOOK_COMMENT).unwrap();
        assert_eq!(c.id, 1042);
        assert_eq!(c.pr_number(), Some(7));
        assert_eq!(c.author(), Some("bob"));
        assert!(c.body.contains("/refire qa"));
        assert_eq!(c.updated_at.to_rfc3339(), "2026-03-02T14:03:27+00:00");
    }

    #[test]
    fn comment_on_a_plain_issue_has_no_pr_number() {
        let c: Comment = serde_json::from_value(json!({
            "id": 5, "pull_request_url": "", "issue_url": "https://g/acme/widgets/issues/3",
            "created_at": "2026-03-02T14:03:27+02:00", "updated_at": "2026-03-02T14:03:27+02:00"
        }))
        .unwrap();
        assert_eq!(c.pr_number(), None);
        // Times in the server's local zone are converted to UTC.
        assert_eq!(c.created_at.to_rfc3339(), "2026-03-02T12:03:27+00:00");
        assert_eq!(last_number("https://g/acme/widgets/pulls/12/"), Some(12));
        assert_eq!(last_number("https://g/acme/widgets/pulls/x"), None);
    }

    #[test]
    fn models_tolerate_null_users_nulls_and_unknown_fields() {
        let r: Review = serde_json::from_value(json!({
            "id": 3, "user": null, "team": {"id": 20, "name": "qa"}, "state": "REQUEST_REVIEW",
            "body": null, "commit_id": "", "brand_new_field": [1, 2, 3]
        }))
        .unwrap();
        assert_eq!(r.user, None);
        assert_eq!(r.reviewer(), None);
        assert_eq!(r.state, ReviewState::RequestReview);
        assert_eq!(r.body, "");
        assert!(!r.official, "a missing `official` fails closed");

        let pr: PullRequest = serde_json::from_value(json!({
            "number": 7, "state": "open", "user": null, "head": {"ref": "f", "sha": "abc",
            "repo_id": 1, "repo": null}, "base": null, "merge_base": null, "labels": null
        }))
        .unwrap();
        assert!(pr.is_open());
        assert_eq!(pr.author(), None);
        assert_eq!(pr.head.ref_name, "f");
        assert_eq!(pr.base, PrBranch::default());

        let ghost: User =
            serde_json::from_value(json!({"id": -1, "login": "Ghost", "username": "Ghost"}))
                .unwrap();
        assert!(ghost.is_ghost());
    }

    #[test]
    fn review_states_are_gitea_exact_strings() {
        let state = |s: serde_json::Value| {
            serde_json::from_value::<Review>(json!({ "state": s }))
                .unwrap()
                .state
        };
        assert_eq!(state(json!("APPROVED")), ReviewState::Approved);
        assert_eq!(state(json!("REQUEST_CHANGES")), ReviewState::RequestChanges);
        assert_eq!(state(json!("COMMENT")), ReviewState::Comment);
        assert_eq!(state(json!("PENDING")), ReviewState::Pending);
        assert_eq!(
            state(json!("approved")),
            ReviewState::Unknown("approved".into())
        );
        assert_eq!(state(json!("")), ReviewState::Unknown(String::new()));
        assert_eq!(state(json!(null)), ReviewState::Unknown(String::new()));
        assert_eq!(
            serde_json::to_value(ReviewState::RequestChanges).unwrap(),
            json!("REQUEST_CHANGES")
        );
    }

    #[test]
    fn commit_status_reads_the_status_field() {
        let s: CommitStatus = serde_json::from_value(json!({
            "id": 1, "status": "success", "context": "qa-review / approved",
            "description": "ok", "target_url": "", "creator": null,
            "created_at": "2026-03-02T14:03:27Z", "updated_at": "2026-03-02T14:03:27Z"
        }))
        .unwrap();
        assert_eq!(s.state, "success");
        assert_eq!(s.context, "qa-review / approved");

        let none: CombinedStatus =
            serde_json::from_value(json!({"state": "", "sha": "abc", "statuses": null})).unwrap();
        assert_eq!(none.statuses, None);
    }

    #[test]
    fn new_status_serialises_state_lowercase() {
        let s = NewStatus {
            state: StatusState::Failure,
            context: "qa-review / approved".into(),
            description: "waiting".into(),
            target_url: None,
        };
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            json!({"state": "failure", "context": "qa-review / approved", "description": "waiting"})
        );
    }

    #[test]
    fn team_organization_login_reads_either_field() {
        let t: Team = serde_json::from_value(json!({
            "id": 20, "name": "qa", "organization": {"id": 2, "username": "acme"}
        }))
        .unwrap();
        assert_eq!(t.organization.unwrap().login(), "acme");
    }
}
