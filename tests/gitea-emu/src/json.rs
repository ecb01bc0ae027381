//! Gitea 1.25's JSON shapes (`modules/structs`, `services/convert`), built from the world.
//!
//! Each shape is a struct whose field order is Gitea's, so a serialised body has the key order
//! a Go `json.Marshal` would give (webhook bodies are compared byte for byte). Times are UTC,
//! whole seconds, like a Gitea server running in UTC.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::world::{Access, Comment, CommentKind, Issue, Repo, Review, Status, Team, World};

/// `2026-03-02T14:03:27Z`.
pub fn ts(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn ts_opt(t: &Option<DateTime<Utc>>) -> Option<String> {
    t.as_ref().map(ts)
}

/// How much of a user the caller may see (`convert.ToUser`): anonymous (webhooks, `doer` nil)
/// gets a placeholder email; a signed-in caller the real one; the user themself or a site admin
/// also the owner-only fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserView {
    Anonymous,
    Signed,
    Authed,
}

impl UserView {
    /// The view `doer` gets of `login`.
    pub fn of(w: &World, login: &str, doer: Option<&str>) -> Self {
        match doer {
            None => Self::Anonymous,
            Some(d) if d.eq_ignore_ascii_case(login) || w.is_site_admin(d) => Self::Authed,
            Some(_) => Self::Signed,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct UserJson {
    pub id: i64,
    pub login: String,
    pub login_name: String,
    pub source_id: i64,
    pub full_name: String,
    pub email: String,
    pub avatar_url: String,
    pub html_url: String,
    pub language: String,
    pub is_admin: bool,
    pub last_login: String,
    pub created: String,
    pub restricted: bool,
    pub active: bool,
    pub prohibit_login: bool,
    pub location: String,
    pub website: String,
    pub description: String,
    pub visibility: String,
    pub followers_count: i64,
    pub following_count: i64,
    pub starred_repos_count: i64,
    /// Not in the swagger spec: Gitea's `User.MarshalJSON` adds it for compatibility.
    pub username: String,
}

fn avatar(w: &World, login: &str) -> String {
    let d = Sha256::digest(login.to_lowercase());
    format!("{}avatars/{}", w.root_url(), hex::encode(&d[..16]))
}

fn no_reply_host(w: &World) -> String {
    let host = w
        .root_url()
        .split("://")
        .nth(1)
        .unwrap_or("")
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    format!("noreply.{host}")
}

/// A user as `doer` sees them; `None` if the login is unknown.
pub fn user(w: &World, login: &str, doer: Option<&str>) -> Option<UserJson> {
    let u = w.user(login)?;
    let view = UserView::of(w, login, doer);
    let authed = view == UserView::Authed;
    Some(UserJson {
        id: u.id,
        login: u.login.clone(),
        login_name: String::new(),
        source_id: 0,
        full_name: u.full_name.clone(),
        email: match view {
            UserView::Anonymous => format!("{}@{}", u.login, no_reply_host(w)),
            _ => u.email.clone(),
        },
        avatar_url: avatar(w, &u.login),
        html_url: format!("{}{}", w.root_url(), u.login),
        language: if authed {
            "en-US".into()
        } else {
            String::new()
        },
        is_admin: authed && u.site_admin,
        last_login: ts(&if authed {
            u.created
        } else {
            crate::world::zero_time()
        }),
        created: ts(&u.created),
        restricted: false,
        active: authed,
        prohibit_login: false,
        location: String::new(),
        website: String::new(),
        description: String::new(),
        visibility: "public".into(),
        followers_count: 0,
        following_count: 0,
        starred_repos_count: 0,
        username: u.login.clone(),
    })
}

/// The organisation as a user (a repository's `owner`).
pub fn org_as_user(w: &World) -> UserJson {
    let o = &w.org;
    UserJson {
        id: o.id,
        login: o.login.clone(),
        login_name: String::new(),
        source_id: 0,
        full_name: o.full_name.clone(),
        email: String::new(),
        avatar_url: avatar(w, &o.login),
        html_url: format!("{}{}", w.root_url(), o.login),
        language: String::new(),
        is_admin: false,
        last_login: ts(&crate::world::zero_time()),
        created: ts(&o.created),
        restricted: false,
        active: false,
        prohibit_login: false,
        location: String::new(),
        website: String::new(),
        description: String::new(),
        visibility: "public".into(),
        followers_count: 0,
        following_count: 0,
        starred_repos_count: 0,
        username: o.login.clone(),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct OrganizationJson {
    pub id: i64,
    pub name: String,
    pub full_name: String,
    pub email: String,
    pub avatar_url: String,
    pub description: String,
    pub website: String,
    pub location: String,
    pub visibility: String,
    pub repo_admin_change_team_access: bool,
    pub username: String,
}

pub fn organization(w: &World) -> OrganizationJson {
    let o = &w.org;
    OrganizationJson {
        id: o.id,
        name: o.login.clone(),
        full_name: o.full_name.clone(),
        email: String::new(),
        avatar_url: avatar(w, &o.login),
        description: String::new(),
        website: String::new(),
        location: String::new(),
        visibility: "public".into(),
        repo_admin_change_team_access: false,
        username: o.login.clone(),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TeamJson {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub organization: Option<OrganizationJson>,
    pub includes_all_repositories: bool,
    pub permission: String,
    pub units: Vec<String>,
    pub units_map: BTreeMap<String, String>,
    pub can_create_org_repo: bool,
}

const UNITS: [&str; 10] = [
    "repo.actions",
    "repo.code",
    "repo.ext_issues",
    "repo.ext_wiki",
    "repo.issues",
    "repo.packages",
    "repo.projects",
    "repo.pulls",
    "repo.releases",
    "repo.wiki",
];

/// A team; `organization` is filled only where Gitea loads it (`GET /teams/{id}`,
/// `GET /user/teams`), null in `GET /orgs/{org}/teams`.
pub fn team(w: &World, t: &Team, with_org: bool) -> TeamJson {
    let owner = t.permission == "owner";
    TeamJson {
        id: t.id,
        name: t.name.clone(),
        description: t.description.clone(),
        organization: with_org.then(|| organization(w)),
        includes_all_repositories: true,
        permission: t.permission.clone(),
        units: UNITS.iter().map(|u| u.to_string()).collect(),
        units_map: UNITS
            .iter()
            .map(|u| {
                (
                    u.to_string(),
                    if owner {
                        "owner".to_string()
                    } else {
                        t.permission.clone()
                    },
                )
            })
            .collect(),
        can_create_org_repo: owner,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PermissionJson {
    pub admin: bool,
    pub push: bool,
    pub pull: bool,
}

impl PermissionJson {
    pub fn of(access: Access) -> Self {
        PermissionJson {
            admin: access >= Access::Admin,
            push: access >= Access::Write,
            pull: access >= Access::Read,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct InternalTrackerJson {
    pub enable_time_tracker: bool,
    pub allow_only_contributors_to_track_time: bool,
    pub enable_issue_dependencies: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct RepositoryJson {
    pub id: i64,
    pub owner: UserJson,
    pub name: String,
    pub full_name: String,
    pub description: String,
    pub empty: bool,
    pub private: bool,
    pub fork: bool,
    pub template: bool,
    pub mirror: bool,
    pub size: i64,
    pub language: String,
    pub languages_url: String,
    pub html_url: String,
    pub url: String,
    pub link: String,
    pub ssh_url: String,
    pub clone_url: String,
    pub original_url: String,
    pub website: String,
    pub stars_count: i64,
    pub forks_count: i64,
    pub watchers_count: i64,
    pub open_issues_count: i64,
    pub open_pr_counter: i64,
    pub release_counter: i64,
    pub default_branch: String,
    pub archived: bool,
    pub created_at: String,
    pub updated_at: String,
    pub archived_at: String,
    pub permissions: PermissionJson,
    pub has_code: bool,
    pub has_issues: bool,
    pub internal_tracker: InternalTrackerJson,
    pub has_wiki: bool,
    pub has_pull_requests: bool,
    pub has_projects: bool,
    pub projects_mode: String,
    pub has_releases: bool,
    pub has_packages: bool,
    pub has_actions: bool,
    pub ignore_whitespace_conflicts: bool,
    pub allow_merge_commits: bool,
    pub allow_rebase: bool,
    pub allow_rebase_explicit: bool,
    pub allow_squash_merge: bool,
    pub allow_fast_forward_only_merge: bool,
    pub allow_rebase_update: bool,
    pub allow_manual_merge: bool,
    pub autodetect_manual_merge: bool,
    pub default_delete_branch_after_merge: bool,
    pub default_merge_style: String,
    pub default_allow_maintainer_edit: bool,
    pub avatar_url: String,
    pub internal: bool,
    pub mirror_interval: String,
    pub object_format_name: String,
    pub mirror_updated: String,
    pub topics: Vec<String>,
    pub licenses: Vec<String>,
}

pub fn repo_api_url(w: &World, r: &Repo) -> String {
    format!("{}api/v1/repos/{}/{}", w.root_url(), w.org.login, r.name)
}

pub fn repo_html_url(w: &World, r: &Repo) -> String {
    format!("{}{}/{}", w.root_url(), w.org.login, r.name)
}

/// A repository with the permissions `access` gives.
pub fn repository(w: &World, r: &Repo, access: Access) -> RepositoryJson {
    let full_name = format!("{}/{}", w.org.login, r.name);
    let host = w
        .root_url()
        .split("://")
        .nth(1)
        .unwrap_or("")
        .trim_end_matches('/');
    let host = host.split(':').next().unwrap_or(host);
    let updated = r
        .issues
        .iter()
        .map(|i| i.updated)
        .max()
        .unwrap_or(r.created)
        .max(r.created);
    let open_prs = r
        .issues
        .iter()
        .filter(|i| !i.closed && i.pull.is_some())
        .count() as i64;
    let open_issues = r
        .issues
        .iter()
        .filter(|i| !i.closed && i.pull.is_none())
        .count() as i64;
    RepositoryJson {
        id: r.id,
        owner: org_as_user(w),
        name: r.name.clone(),
        full_name: full_name.clone(),
        description: r.description.clone(),
        empty: false,
        private: r.private,
        fork: false,
        template: false,
        mirror: false,
        size: 0,
        language: String::new(),
        languages_url: format!("{}/languages", repo_api_url(w, r)),
        html_url: repo_html_url(w, r),
        url: repo_api_url(w, r),
        link: String::new(),
        ssh_url: format!("git@{host}:{full_name}.git"),
        clone_url: format!("{}.git", repo_html_url(w, r)),
        original_url: String::new(),
        website: String::new(),
        stars_count: 0,
        forks_count: 0,
        watchers_count: 0,
        open_issues_count: open_issues,
        open_pr_counter: open_prs,
        release_counter: 0,
        default_branch: r.default_branch.clone(),
        archived: r.archived,
        created_at: ts(&r.created),
        updated_at: ts(&updated),
        archived_at: "1970-01-01T00:00:00Z".into(),
        permissions: PermissionJson::of(access),
        has_code: true,
        has_issues: true,
        internal_tracker: InternalTrackerJson {
            enable_time_tracker: true,
            allow_only_contributors_to_track_time: true,
            enable_issue_dependencies: true,
        },
        has_wiki: true,
        has_pull_requests: true,
        has_projects: true,
        projects_mode: "all".into(),
        has_releases: true,
        has_packages: true,
        has_actions: true,
        ignore_whitespace_conflicts: false,
        allow_merge_commits: true,
        allow_rebase: true,
        allow_rebase_explicit: true,
        allow_squash_merge: true,
        allow_fast_forward_only_merge: true,
        allow_rebase_update: true,
        allow_manual_merge: false,
        autodetect_manual_merge: false,
        default_delete_branch_after_merge: false,
        default_merge_style: "merge".into(),
        default_allow_maintainer_edit: false,
        avatar_url: String::new(),
        internal: false,
        mirror_interval: String::new(),
        object_format_name: "sha1".into(),
        mirror_updated: ts(&crate::world::zero_time()),
        topics: r.topics.clone(),
        licenses: Vec::new(),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LabelJson {
    pub id: i64,
    pub name: String,
    pub exclusive: bool,
    pub is_archived: bool,
    pub color: String,
    pub description: String,
    pub url: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PrBranchJson {
    pub label: String,
    #[serde(rename = "ref")]
    pub ref_name: String,
    pub sha: String,
    pub repo_id: i64,
    pub repo: RepositoryJson,
}

#[derive(Debug, Clone, Serialize)]
pub struct PullRequestJson {
    pub id: i64,
    pub url: String,
    pub number: u64,
    pub user: Option<UserJson>,
    pub title: String,
    pub body: String,
    pub labels: Vec<LabelJson>,
    pub milestone: Option<()>,
    pub assignee: Option<UserJson>,
    pub assignees: Vec<UserJson>,
    pub requested_reviewers: Vec<UserJson>,
    pub requested_reviewers_teams: Vec<TeamJson>,
    pub state: String,
    pub draft: bool,
    pub is_locked: bool,
    pub comments: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub review_comments: i64,
    pub additions: Option<i64>,
    pub deletions: Option<i64>,
    pub changed_files: Option<i64>,
    pub html_url: String,
    pub diff_url: String,
    pub patch_url: String,
    pub mergeable: bool,
    pub merged: bool,
    pub merged_at: Option<String>,
    pub merge_commit_sha: Option<String>,
    pub merged_by: Option<UserJson>,
    pub allow_maintainer_edit: bool,
    pub base: PrBranchJson,
    pub head: PrBranchJson,
    pub merge_base: String,
    pub due_date: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub closed_at: Option<String>,
    pub pin_order: i64,
}

/// `PullRequestMeta`: what an issue listing says of a PR.
#[derive(Debug, Clone, Serialize)]
pub struct PullRequestMetaJson {
    pub merged: bool,
    pub merged_at: Option<String>,
    pub draft: bool,
    pub html_url: String,
}

/// An issue or PR as `GET /repos/{o}/{r}/issues` lists it (`convert.ToAPIIssue`).
#[derive(Debug, Clone, Serialize)]
pub struct IssueJson {
    pub id: i64,
    pub url: String,
    pub html_url: String,
    pub number: u64,
    pub user: Option<UserJson>,
    pub original_author: String,
    pub original_author_id: i64,
    pub title: String,
    pub body: String,
    #[serde(rename = "ref")]
    pub ref_name: String,
    pub assets: Vec<()>,
    pub labels: Vec<LabelJson>,
    pub milestone: Option<()>,
    pub assignee: Option<UserJson>,
    pub assignees: Option<Vec<UserJson>>,
    pub state: String,
    pub is_locked: bool,
    pub comments: i64,
    pub created_at: String,
    pub updated_at: String,
    pub closed_at: Option<String>,
    pub due_date: Option<String>,
    pub time_estimate: i64,
    pub pull_request: Option<PullRequestMetaJson>,
    pub repository: RepoMetaJson,
    pub pin_order: i64,
}

/// `RepositoryMeta`: the short repository an issue names.
#[derive(Debug, Clone, Serialize)]
pub struct RepoMetaJson {
    pub id: i64,
    pub name: String,
    pub owner: String,
    pub full_name: String,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// `…/acme/widgets/pulls/7` (or `/issues/7` for an issue).
pub fn issue_html_url(w: &World, r: &Repo, i: &Issue) -> String {
    let kind = if i.pull.is_some() { "pulls" } else { "issues" };
    format!("{}/{}/{}", repo_html_url(w, r), kind, i.index)
}

/// Gitea's default `WORK_IN_PROGRESS_PREFIXES`, matched case-insensitively.
pub fn is_draft(title: &str) -> bool {
    let t = title.to_uppercase();
    t.starts_with("WIP:") || t.starts_with("[WIP]")
}

fn plain_comment_count(w: &World, r: &Repo, i: &Issue) -> i64 {
    w.comments
        .iter()
        .filter(|c| c.repo_id == r.id && c.index == i.index && c.kind == CommentKind::Comment)
        .count() as i64
}

/// An issue or PR as the issue listing shows it to `doer` (`convert.ToAPIIssue`).
pub fn issue(w: &World, r: &Repo, i: &Issue, doer: Option<&str>) -> IssueJson {
    let html = issue_html_url(w, r, i);
    let owner = w.org.login.clone();
    IssueJson {
        id: i.id,
        url: format!("{}/issues/{}", repo_api_url(w, r), i.index),
        html_url: html.clone(),
        number: i.index,
        user: user(w, &i.author, doer),
        original_author: String::new(),
        original_author_id: 0,
        title: i.title.clone(),
        body: i.body.clone(),
        ref_name: String::new(),
        assets: Vec::new(),
        labels: Vec::new(),
        milestone: None,
        assignee: None,
        assignees: None,
        state: if i.closed { "closed" } else { "open" }.into(),
        is_locked: false,
        comments: plain_comment_count(w, r, i),
        created_at: ts(&i.created),
        updated_at: ts(&i.updated),
        closed_at: ts_opt(&i.closed_at),
        due_date: None,
        time_estimate: 0,
        pull_request: i.pull.as_ref().map(|p| PullRequestMetaJson {
            merged: p.merged,
            merged_at: ts_opt(&p.merged_at),
            draft: is_draft(&i.title),
            html_url: html.clone(),
        }),
        repository: RepoMetaJson {
            id: r.id,
            name: r.name.clone(),
            owner: owner.clone(),
            full_name: format!("{owner}/{}", r.name),
        },
        pin_order: 0,
    }
}

/// A pull request as `doer` sees it (`convert.ToAPIPullRequest`). Panics if `i` is not a PR.
pub fn pull_request(w: &World, r: &Repo, i: &Issue, doer: Option<&str>) -> PullRequestJson {
    let p = i.pull.as_ref().expect("gitea-emu: not a pull request");
    let access = doer.map_or(Access::Read, |d| w.access(d));
    let html = issue_html_url(w, r, i);
    let base_sha = r
        .branches
        .iter()
        .find(|b| b.name == p.base_ref)
        .map(|b| b.sha.clone())
        .unwrap_or_default();
    let requests: Vec<&Review> = w
        .reviews
        .iter()
        .filter(|x| x.repo_id == r.id && x.index == i.index && x.state == "REQUEST_REVIEW")
        .collect();
    let branch = |label: &str, sha: &str| PrBranchJson {
        label: label.to_string(),
        ref_name: label.to_string(),
        sha: sha.to_string(),
        repo_id: r.id,
        repo: repository(w, r, access),
    };
    PullRequestJson {
        id: p.id,
        url: html.clone(),
        number: i.index,
        user: user(w, &i.author, doer),
        title: i.title.clone(),
        body: i.body.clone(),
        labels: Vec::new(),
        milestone: None,
        assignee: None,
        assignees: Vec::new(),
        requested_reviewers: requests
            .iter()
            .filter_map(|x| x.user.as_deref())
            .filter_map(|u| user(w, u, doer))
            .collect(),
        requested_reviewers_teams: requests
            .iter()
            .filter_map(|x| x.team)
            .filter_map(|t| w.team_by_id(t))
            .map(|t| team(w, t, false))
            .collect(),
        state: if i.closed { "closed" } else { "open" }.into(),
        draft: is_draft(&i.title),
        is_locked: false,
        comments: plain_comment_count(w, r, i),
        review_comments: 0,
        additions: Some(p.additions),
        deletions: Some(p.deletions),
        changed_files: Some(p.changed_files),
        html_url: html.clone(),
        diff_url: format!("{html}.diff"),
        patch_url: format!("{html}.patch"),
        mergeable: !is_draft(&i.title),
        merged: p.merged,
        merged_at: ts_opt(&p.merged_at),
        merge_commit_sha: p.merge_commit_sha.clone(),
        merged_by: p.merged_by.as_deref().and_then(|u| user(w, u, None)),
        allow_maintainer_edit: false,
        base: branch(&p.base_ref, &base_sha),
        head: branch(&p.head_ref, &p.head_sha),
        merge_base: p.merge_base.clone(),
        due_date: None,
        created_at: ts(&i.created),
        updated_at: ts(&i.updated),
        closed_at: ts_opt(&i.closed_at),
        pin_order: 0,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PullReviewJson {
    pub id: i64,
    pub user: Option<UserJson>,
    pub team: Option<TeamJson>,
    pub state: String,
    pub body: String,
    pub commit_id: String,
    pub stale: bool,
    pub official: bool,
    pub dismissed: bool,
    pub comments_count: i64,
    pub submitted_at: String,
    pub updated_at: String,
    pub html_url: String,
    pub pull_request_url: String,
}

pub fn review(w: &World, r: &Repo, i: &Issue, x: &Review, doer: Option<&str>) -> PullReviewJson {
    let html = issue_html_url(w, r, i);
    PullReviewJson {
        id: x.id,
        user: x.user.as_deref().and_then(|u| user(w, u, doer)),
        team: x
            .team
            .and_then(|t| w.team_by_id(t))
            .map(|t| team(w, t, false)),
        state: x.state.clone(),
        body: x.body.clone(),
        commit_id: x.commit_id.clone(),
        stale: x.stale,
        official: x.official,
        dismissed: x.dismissed,
        // `GetCodeCommentsCount` (`models/issues/review.go` @ v1.25.4): thread replies count.
        comments_count: w
            .comments
            .iter()
            .filter(|c| c.kind == crate::world::CommentKind::Code && c.review_id == x.id)
            .count() as i64,
        submitted_at: ts(&x.submitted),
        updated_at: ts(&x.updated),
        html_url: x
            .comment_id
            .map(|c| format!("{html}#issuecomment-{c}"))
            .unwrap_or_default(),
        pull_request_url: html,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CommentJson {
    pub id: i64,
    pub html_url: String,
    pub pull_request_url: String,
    pub issue_url: String,
    pub user: Option<UserJson>,
    pub original_author: String,
    pub original_author_id: i64,
    pub body: String,
    pub assets: Vec<()>,
    pub created_at: String,
    pub updated_at: String,
}

/// `(html_url, pull_request_url, issue_url)` of a comment row: HTML URLs, and on a PR
/// `issue_url` is `""` (`docs/gitea-api.md` §2).
fn comment_urls(w: &World, r: &Repo, i: &Issue, c: &Comment) -> (String, String, String) {
    let html = issue_html_url(w, r, i);
    let anchor = format!("{html}#issuecomment-{}", c.id);
    if i.pull.is_some() {
        (anchor, html, String::new())
    } else {
        (anchor, String::new(), html)
    }
}

/// A comment; `doer` is the caller (`None` in webhooks, where `user` is anonymous).
pub fn comment(w: &World, r: &Repo, i: &Issue, c: &Comment, doer: Option<&str>) -> CommentJson {
    let (html_url, pull_request_url, issue_url) = comment_urls(w, r, i, c);
    CommentJson {
        id: c.id,
        html_url,
        pull_request_url,
        issue_url,
        user: c.user.as_deref().and_then(|u| user(w, u, doer)),
        original_author: String::new(),
        original_author_id: 0,
        body: c.body.clone(),
        assets: Vec::new(),
        created_at: ts(&c.created),
        updated_at: ts(&c.updated),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TimelineCommentJson {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub html_url: String,
    pub pull_request_url: String,
    pub issue_url: String,
    pub user: Option<UserJson>,
    pub body: String,
    pub created_at: String,
    pub updated_at: String,
    pub old_project_id: i64,
    pub project_id: i64,
    pub old_milestone: Option<()>,
    pub milestone: Option<()>,
    pub tracked_time: Option<()>,
    pub old_title: String,
    pub new_title: String,
    pub old_ref: String,
    pub new_ref: String,
    pub ref_issue: Option<()>,
    pub ref_comment: Option<()>,
    pub ref_action: String,
    pub ref_commit_sha: String,
    pub review_id: i64,
    pub label: Option<()>,
    pub assignee: Option<UserJson>,
    pub assignee_team: Option<TeamJson>,
    pub removed_assignee: bool,
    pub resolve_doer: Option<UserJson>,
    pub dependent_issue: Option<()>,
}

pub fn timeline_comment(
    w: &World,
    r: &Repo,
    i: &Issue,
    c: &Comment,
    doer: Option<&str>,
) -> TimelineCommentJson {
    let (html_url, pull_request_url, issue_url) = comment_urls(w, r, i, c);
    let team_request = (c.kind == CommentKind::ReviewRequest && c.assignee.is_none())
        .then(|| w.reviews.iter().find(|x| x.id == c.review_id))
        .flatten()
        .and_then(|x| x.team)
        .and_then(|t| w.team_by_id(t))
        .map(|t| team(w, t, false));
    TimelineCommentJson {
        id: c.id,
        kind: c.kind.as_str().into(),
        html_url,
        pull_request_url,
        issue_url,
        user: c.user.as_deref().and_then(|u| user(w, u, doer)),
        body: c.body.clone(),
        created_at: ts(&c.created),
        updated_at: ts(&c.updated),
        old_project_id: 0,
        project_id: 0,
        old_milestone: None,
        milestone: None,
        tracked_time: None,
        old_title: c.old_title.clone(),
        new_title: c.new_title.clone(),
        old_ref: c.old_ref.clone(),
        new_ref: c.new_ref.clone(),
        ref_issue: None,
        ref_comment: None,
        ref_action: String::new(),
        ref_commit_sha: String::new(),
        review_id: c.review_id,
        label: None,
        assignee: c.assignee.as_deref().and_then(|u| user(w, u, doer)),
        assignee_team: team_request,
        removed_assignee: false,
        resolve_doer: None,
        dependent_issue: None,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ReactionJson {
    pub user: Option<UserJson>,
    pub content: String,
    pub created_at: String,
}

pub fn reaction(w: &World, x: &crate::world::Reaction, doer: Option<&str>) -> ReactionJson {
    ReactionJson {
        user: user(w, &x.user, doer),
        content: x.content.clone(),
        created_at: ts(&x.created),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CommitStatusJson {
    pub id: i64,
    /// Gitea's key is `status`, not `state`.
    pub status: String,
    pub target_url: String,
    pub description: String,
    pub url: String,
    pub context: String,
    pub creator: Option<UserJson>,
    pub created_at: String,
    pub updated_at: String,
}

pub fn commit_status(w: &World, r: &Repo, s: &Status) -> CommitStatusJson {
    CommitStatusJson {
        id: s.id,
        status: s.state.clone(),
        target_url: s.target_url.clone(),
        description: s.description.clone(),
        url: format!("{}/statuses/{}", repo_api_url(w, r), s.sha),
        context: s.context.clone(),
        creator: user(w, &s.creator, None),
        created_at: ts(&s.created),
        updated_at: ts(&s.created),
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CombinedStatusJson {
    pub state: String,
    pub sha: String,
    pub total_count: i64,
    pub statuses: Option<Vec<CommitStatusJson>>,
    pub repository: Option<RepositoryJson>,
    pub commit_url: String,
    pub url: String,
}

/// `CommitStatusStates.Combine`: any error or failure → failure; all success, warning or
/// skipped → success; otherwise pending.
pub fn combine_states<'a>(states: impl IntoIterator<Item = &'a str>) -> String {
    let mut n = 0;
    let mut ok = 0;
    for s in states {
        n += 1;
        match s {
            "error" | "failure" => return "failure".into(),
            "success" | "warning" | "skipped" => ok += 1,
            _ => {}
        }
    }
    if n > 0 && ok == n {
        "success"
    } else {
        "pending"
    }
    .into()
}

#[derive(Debug, Clone, Serialize)]
pub struct PayloadUserJson {
    pub name: String,
    pub email: String,
    pub username: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PayloadCommitVerificationJson {
    pub verified: bool,
    pub reason: String,
    pub signature: String,
    pub signer: Option<PayloadUserJson>,
    pub payload: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PayloadCommitJson {
    pub id: String,
    pub message: String,
    pub url: String,
    pub author: PayloadUserJson,
    pub committer: PayloadUserJson,
    pub verification: PayloadCommitVerificationJson,
    pub timestamp: String,
    pub added: Option<Vec<String>>,
    pub removed: Option<Vec<String>>,
    pub modified: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BranchJson {
    pub name: String,
    pub commit: PayloadCommitJson,
    pub protected: bool,
    pub required_approvals: i64,
    pub enable_status_check: bool,
    pub status_check_contexts: Vec<String>,
    pub user_can_push: bool,
    pub user_can_merge: bool,
    pub effective_branch_protection_name: String,
}

pub fn branch(w: &World, r: &Repo, b: &crate::world::Branch, doer: &str) -> BranchJson {
    let who = PayloadUserJson {
        name: w.org.full_name.clone(),
        email: format!("git@{}.example", w.org.login),
        username: String::new(),
    };
    let write = w.access(doer) >= Access::Write;
    let admin = w.access(doer) >= Access::Admin;
    BranchJson {
        name: b.name.clone(),
        commit: PayloadCommitJson {
            id: b.sha.clone(),
            message: format!("Commit {}\n", &b.sha[..7]),
            url: format!("{}/commit/{}", repo_html_url(w, r), b.sha),
            author: who.clone(),
            committer: who,
            verification: PayloadCommitVerificationJson {
                verified: false,
                reason: "gpg.error.not_signed_commit".into(),
                signature: String::new(),
                signer: None,
                payload: String::new(),
            },
            timestamp: ts(&r.created),
            added: None,
            removed: None,
            modified: None,
        },
        protected: b.protected,
        required_approvals: if b.protected { b.required_approvals } else { 0 },
        enable_status_check: b.protected && b.enable_status_check,
        status_check_contexts: if b.protected {
            b.status_check_contexts.clone()
        } else {
            Vec::new()
        },
        user_can_push: if b.protected { admin } else { write },
        user_can_merge: write,
        effective_branch_protection_name: if b.protected {
            b.name.clone()
        } else {
            String::new()
        },
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerVersionJson {
    pub version: String,
}

/// Error body: `{"message","url"}` (`APIError`).
#[derive(Debug, Clone, Serialize)]
pub struct ApiErrorJson {
    pub message: String,
    pub url: String,
}

/// Error body of `APIErrorNotFound`: a Go map, so keys come sorted; `errors` is null when empty.
#[derive(Debug, Clone, Serialize)]
pub struct NotFoundJson {
    pub errors: Option<Vec<String>>,
    pub message: String,
    pub url: String,
}

/// `<ROOT_URL>api/swagger`, the `url` of every error body.
pub fn swagger_url(w: &World) -> String {
    format!("{}api/swagger", w.root_url())
}
