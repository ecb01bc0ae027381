//! The emulated Gitea's state: one organisation, its users, teams and repositories, and the pull
//! requests, reviews, comments, statuses and reactions on them.
//!
//! Builders (`with_*`) set the world up; actions (`open_pr`, `push`, `review`, `comment`, …) are
//! what users do in Gitea's UI and mimic its side effects (stale and official flags, timeline
//! entries); readers (`statuses`, `comments`, …) let a test assert what the bot did. Actions panic
//! on an unknown repo, PR or user: that is a bug in the test, not a situation to emulate.
//!
//! The rules follow `docs/gitea-api.md` (Gitea 1.25.4).

use std::fmt::Write as _;

use chrono::{DateTime, Duration, SubsecRound, TimeZone, Utc};
use sha2::{Digest, Sha256};

mod changes;
pub use changes::{ChangedFile, GitIdent, PrChanges, PrCommit};

/// Id of the "Owners" team every organisation has.
pub const OWNERS_TEAM_ID: i64 = 1;
/// Id given to the first team created with [`World::with_team`]; later ones count up.
pub const FIRST_TEAM_ID: i64 = 20;
/// Reaction names Gitea allows by default (`[ui] REACTIONS`).
pub const ALLOWED_REACTIONS: [&str; 8] = [
    "+1", "-1", "laugh", "hooray", "confused", "heart", "rocket", "eyes",
];

/// The organisation that owns every repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    pub id: i64,
    pub login: String,
    pub full_name: String,
    pub created: DateTime<Utc>,
}

/// An account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub login: String,
    pub full_name: String,
    pub email: String,
    pub created: DateTime<Utc>,
    /// API tokens that authenticate as this user.
    pub tokens: Vec<String>,
    pub site_admin: bool,
    /// Read access only: cannot post statuses, reviews are not official.
    pub read_only: bool,
    /// Reviews are never official (a stand-in for "not in the approvals whitelist").
    pub unofficial: bool,
}

/// A team of the organisation. Team id 1 is "Owners".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// `owner` for Owners; else `read` (Gitea's default for a new team), `write` or `admin`,
    /// which is also its access to every unit (`units_map`).
    pub permission: String,
    pub members: Vec<String>,
}

/// A branch and, for protected ones, the parts of the rule `GET …/branches/{b}` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Branch {
    pub name: String,
    pub sha: String,
    pub protected: bool,
    pub required_approvals: i64,
    pub enable_status_check: bool,
    pub status_check_contexts: Vec<String>,
    /// Approvals are dismissed when a push changes the diff.
    pub dismiss_stale_approvals: bool,
    /// Only the whitelisted users and teams give official reviews (else: write on code).
    pub enable_approvals_whitelist: bool,
    pub approvals_whitelist_users: Vec<String>,
    /// Team names.
    pub approvals_whitelist_teams: Vec<String>,
}

/// A repository webhook (`/repos/{o}/{r}/hooks`). Gitea never shows the secret back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Hook {
    pub id: i64,
    pub repo: String,
    pub url: String,
    pub content_type: String,
    #[serde(skip_serializing)]
    pub secret: String,
    pub events: Vec<String>,
    pub active: bool,
}

/// A repository of the organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub private: bool,
    pub created: DateTime<Utc>,
    pub default_branch: String,
    pub branches: Vec<Branch>,
    pub issues: Vec<Issue>,
    /// Every commit SHA the repo knows (branch tips, old heads, merge commits).
    pub commits: Vec<String>,
    /// The index the next issue or PR gets.
    pub next_index: u64,
    /// Lower case, as Gitea stores them.
    pub topics: Vec<String>,
    pub archived: bool,
    /// No team of anyone but the org's owners has access: listed only to them and site admins.
    pub hidden: bool,
}

/// An issue; a pull request is an issue with `pull` set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub id: i64,
    pub index: u64,
    pub author: String,
    pub title: String,
    pub body: String,
    pub closed: bool,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Who closed or merged it last.
    pub closed_by: Option<String>,
    pub pull: Option<Pull>,
}

/// The pull-request half of an issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pull {
    pub id: i64,
    pub base_ref: String,
    pub head_ref: String,
    pub head_sha: String,
    pub merge_base: String,
    pub merged: bool,
    pub merged_at: Option<DateTime<Utc>>,
    pub merged_by: Option<String>,
    pub merge_commit_sha: Option<String>,
    pub additions: i64,
    pub deletions: i64,
    pub changed_files: i64,
    /// What the last `edited` action changed, for its webhook.
    pub last_change: Option<PrChange>,
    /// The head the PR listing still reports after a push, while it lags behind the PR itself
    /// (see [`World::with_list_head_lag`]); `None` when they agree.
    pub listed_head: Option<String>,
}

/// A change that makes Gitea send `pull_request` `edited`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrChange {
    Title { from: String },
    Body { from: String },
    Base { from: String },
}

/// The kinds of issue comment rows the emulator creates. Only `Comment` is a "comment" to the
/// comments endpoints; the others appear in the timeline only, except `Code` (a comment on a
/// line of the diff, or a reply in its thread), which appears in neither (`docs/gitea-api.md` §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentKind {
    Comment,
    Review,
    PullPush,
    Close,
    Reopen,
    MergePull,
    DismissReview,
    ReviewRequest,
    ChangeTitle,
    ChangeTargetBranch,
    Code,
}

impl CommentKind {
    /// Gitea's `CommentType.String()`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Comment => "comment",
            Self::Review => "review",
            Self::PullPush => "pull_push",
            Self::Close => "close",
            Self::Reopen => "reopen",
            Self::MergePull => "merge_pull",
            Self::DismissReview => "dismiss_review",
            Self::ReviewRequest => "review_request",
            Self::ChangeTitle => "change_title",
            Self::ChangeTargetBranch => "change_target_branch",
            Self::Code => "code",
        }
    }
}

/// A row of Gitea's comment table: a plain comment or a timeline event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub id: i64,
    pub repo_id: i64,
    /// Index of the issue or PR.
    pub index: u64,
    pub kind: CommentKind,
    /// `None` for a poster id of 0 (migrated content): the API sends `"user": null`.
    pub user: Option<String>,
    pub body: String,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub review_id: i64,
    /// Body before the last edit (for the `edited` webhook's `changes`).
    pub previous_body: Option<String>,
    pub old_ref: String,
    pub new_ref: String,
    pub old_title: String,
    pub new_title: String,
    /// Review requests: the requested user.
    pub assignee: Option<String>,
    /// Who deleted it (set on rows in the deleted list).
    pub deleted_by: Option<String>,
    /// Code comments: the file and line of the diff the thread is on.
    pub tree_path: String,
    pub line: i64,
}

impl CommentKind {
    /// Gitea's `CommentType.HasContentSupport` (`models/issues/comment.go` @ v1.25.4): the rows
    /// the edit and delete routes accept.
    pub fn has_content_support(self) -> bool {
        matches!(
            self,
            Self::Comment | Self::Code | Self::Review | Self::DismissReview
        )
    }
}

/// A review row. `REQUEST_REVIEW` rows are review requests (for a team: `user` is `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    pub id: i64,
    pub repo_id: i64,
    pub index: u64,
    pub user: Option<String>,
    pub team: Option<i64>,
    /// `APPROVED`, `REQUEST_CHANGES`, `COMMENT`, `PENDING` or `REQUEST_REVIEW`.
    pub state: String,
    pub body: String,
    pub commit_id: String,
    pub stale: bool,
    pub official: bool,
    pub dismissed: bool,
    pub submitted: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    /// The timeline comment of a submitted review (its `html_url` points there).
    pub comment_id: Option<i64>,
}

/// A commit status row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Per (repo, sha): 1, 2, 3…
    pub id: i64,
    pub repo_id: i64,
    pub sha: String,
    pub state: String,
    pub target_url: String,
    pub description: String,
    pub context: String,
    /// Login of the token owner that posted it.
    pub creator: String,
    pub created: DateTime<Utc>,
}

/// A reaction on a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaction {
    pub comment_id: i64,
    pub user: String,
    pub content: String,
    pub created: DateTime<Utc>,
}

/// A user's permission on the organisation's repositories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    None,
    Read,
    Write,
    Admin,
}

/// Why `reqTeamMembership` refuses (`docs/gitea-api.md` §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeamDenial {
    /// The team id is unknown, or the caller is not in the org at all: 404.
    NotFound,
    /// The caller is an org member but neither owner nor in this team: 403.
    Forbidden,
}

#[derive(Debug, Clone)]
enum Clock {
    /// Wall-clock time, truncated to seconds.
    Real,
    /// A manual clock that moves one second per event, for deterministic tests.
    Manual(DateTime<Utc>),
}

/// The whole emulated Gitea.
#[derive(Debug, Clone)]
pub struct World {
    pub(crate) root_url: String,
    pub(crate) root_url_fixed: bool,
    /// Gitea, or Forgejo's version, auth, wording and webhook headers.
    pub(crate) flavor: crate::Flavor,
    clock: Clock,
    pub(crate) org: Org,
    pub(crate) users: Vec<User>,
    pub(crate) teams: Vec<Team>,
    pub(crate) repos: Vec<Repo>,
    pub(crate) comments: Vec<Comment>,
    pub(crate) deleted_comments: Vec<Comment>,
    pub(crate) reviews: Vec<Review>,
    pub(crate) statuses: Vec<Status>,
    pub(crate) reactions: Vec<Reaction>,
    pub(crate) bot: Option<String>,
    pub(crate) hooks: Vec<Hook>,
    /// Edits of hooks behave as Gitea 1.23's (see [`World::with_gitea_1_23_hook_edit`]).
    pub(crate) hook_edit_1_23: bool,
    /// Pushes leave the PR listing on the old head until [`World::settle_list_heads`].
    pub(crate) list_head_lag: bool,
    /// Scopes of tokens made with [`World::with_scoped_token`]; any other token has `all`.
    pub(crate) token_scopes: std::collections::HashMap<String, Vec<String>>,
    /// The parents of commits made by pushes (`git/commits/{sha}`); others have none.
    pub(crate) parents: std::collections::HashMap<String, Vec<String>>,
    next_user_id: i64,
    next_team_id: i64,
    next_repo_id: i64,
    next_issue_id: i64,
    next_pull_id: i64,
    next_comment_id: i64,
    next_review_id: i64,
    sha_counter: u64,
    /// Set while [`World::review_unchecked`] stores a review Gitea's API would refuse.
    unchecked: bool,
    /// Files and commits per (repo id, PR number), see [`World::pr_changes`].
    pub(crate) pr_changes: std::collections::HashMap<(i64, u64), PrChanges>,
}

impl World {
    /// A world with one organisation (id 2, like a Gitea whose admin is user 1) and its Owners
    /// team (id 1, no members).
    pub fn new(org: &str) -> Self {
        let mut w = World {
            root_url: "http://gitea.emu/".to_string(),
            root_url_fixed: false,
            flavor: crate::Flavor::Gitea,
            clock: Clock::Real,
            org: Org {
                id: 2,
                login: org.to_string(),
                full_name: String::new(),
                created: DateTime::<Utc>::MIN_UTC,
            },
            users: Vec::new(),
            teams: Vec::new(),
            repos: Vec::new(),
            comments: Vec::new(),
            deleted_comments: Vec::new(),
            reviews: Vec::new(),
            statuses: Vec::new(),
            reactions: Vec::new(),
            bot: None,
            hooks: Vec::new(),
            hook_edit_1_23: false,
            list_head_lag: false,
            token_scopes: std::collections::HashMap::new(),
            parents: std::collections::HashMap::new(),
            next_user_id: 3,
            next_team_id: FIRST_TEAM_ID,
            next_repo_id: 1,
            next_issue_id: 1,
            next_pull_id: 1,
            next_comment_id: 1,
            next_review_id: 1,
            sha_counter: 0,
            unchecked: false,
            pr_changes: Default::default(),
        };
        w.org.created = w.now();
        w.teams.push(Team {
            id: OWNERS_TEAM_ID,
            name: "Owners".to_string(),
            description: String::new(),
            permission: "owner".to_string(),
            members: Vec::new(),
        });
        w
    }

    /// The fixtures' scenario (`fixtures/gitea/README.md`): org `acme` ("ACME Corp"), repo
    /// `widgets` (`main` protected), `alice` the author, `bob` in `qa`, `carol` in `security`, the
    /// bot `sopbot` in both, and PR #7 from `feature/rate-limiter` into `main` by alice.
    pub fn example() -> Self {
        Self::example_from(World::new("acme"))
    }

    /// [`World::example`] on a manual clock starting at `start` (deterministic times).
    pub fn example_at(start: DateTime<Utc>) -> Self {
        let mut w = World::new("acme").with_clock(start);
        w.org.created = w.now();
        Self::example_from(w)
    }

    fn example_from(w: World) -> Self {
        let mut w = w
            .with_org_full_name("ACME Corp")
            .with_user("alice")
            .with_full_name("alice", "Alice Author")
            .with_user("bob")
            .with_full_name("bob", "Bob Quinn")
            .with_user("carol")
            .with_full_name("carol", "Carol Secure")
            .with_bot("sopbot")
            .with_team("qa", &["bob", "sopbot"])
            .with_team("security", &["carol", "sopbot"])
            // As the README tells admins: gate teams write code, so their reviews are official.
            .with_team_permission("qa", "write")
            .with_team_permission("security", "write")
            .with_repo("widgets")
            .with_next_index("widgets", 7);
        let n = w.open_pr("widgets", "alice", "main", "feature/rate-limiter");
        w.set_pr_text(
            "widgets",
            n,
            "Add token-bucket rate limiter to widget API",
            "Adds a token-bucket rate limiter in front of `/v1/widgets`.\n\nCloses #5",
        );
        w
    }

    // ----- builders -------------------------------------------------------------------------

    /// Adds a user (no-op if it exists).
    pub fn with_user(mut self, login: &str) -> Self {
        self.ensure_user(login);
        self
    }

    /// Sets a user's full name (created if missing).
    pub fn with_full_name(mut self, login: &str, full_name: &str) -> Self {
        self.ensure_user(login);
        self.user_mut(login).full_name = full_name.to_string();
        self
    }

    /// Sets the organisation's full name.
    pub fn with_org_full_name(mut self, full_name: &str) -> Self {
        self.org.full_name = full_name.to_string();
        self
    }

    /// Adds the bot: the token owner whose token is `emu-token-<login>` (`emu-token-sopbot`).
    pub fn with_bot(mut self, login: &str) -> Self {
        self.ensure_user(login);
        let token = format!("emu-token-{login}");
        let u = self.user_mut(login);
        if !u.tokens.contains(&token) {
            u.tokens.push(token);
        }
        self.bot = Some(login.to_string());
        self
    }

    /// Gives a user (created if missing) an API token.
    pub fn with_token(mut self, login: &str, token: &str) -> Self {
        self.ensure_user(login);
        self.user_mut(login).tokens.push(token.to_string());
        self
    }

    /// Gives a user (created if missing) a token limited to `scopes` (`read:organization`, …),
    /// as `gitea admin user generate-access-token --scopes` makes it.
    pub fn with_scoped_token(mut self, login: &str, token: &str, scopes: &[&str]) -> Self {
        self = self.with_token(login, token);
        self.set_token_scopes(token, scopes);
        self
    }

    /// Limits an existing token (the bot's `emu-token-<bot>` too) to `scopes`.
    pub fn set_token_scopes(&mut self, token: &str, scopes: &[&str]) {
        let scopes = scopes.iter().map(|s| s.to_string()).collect();
        self.token_scopes.insert(token.to_string(), scopes);
    }

    /// Adds a team with these members (users created if missing). Ids are 20, 21, … in order.
    pub fn with_team(mut self, name: &str, members: &[&str]) -> Self {
        for m in members {
            self.ensure_user(m);
        }
        let id = self.next_team_id;
        self.next_team_id += 1;
        self.teams.push(Team {
            id,
            name: name.to_string(),
            description: String::new(),
            permission: "read".to_string(),
            members: members.iter().map(|m| m.to_string()).collect(),
        });
        self
    }

    /// Sets a team's permission (`read`, `write`, `admin`) on every unit.
    pub fn with_team_permission(mut self, team: &str, permission: &str) -> Self {
        self.set_team_permission(team, permission);
        self
    }

    /// An admin changes a team's permission (earlier reviews keep their `official` flag).
    pub fn set_team_permission(&mut self, team: &str, permission: &str) {
        let id = self.team_id(team);
        self.team_mut(id).permission = permission.to_string();
    }

    /// Enables the approvals whitelist of a protected branch's rule, with these users and teams.
    pub fn with_approvals_whitelist(
        mut self,
        repo: &str,
        branch: &str,
        users: &[&str],
        teams: &[&str],
    ) -> Self {
        let b = self.branch_mut(repo, branch);
        b.enable_approvals_whitelist = true;
        b.approvals_whitelist_users = users.iter().map(|u| u.to_string()).collect();
        b.approvals_whitelist_teams = teams.iter().map(|t| t.to_string()).collect();
        self
    }

    /// Makes a user an owner of the organisation (a member of its Owners team).
    pub fn with_org_owner(mut self, login: &str) -> Self {
        self.ensure_user(login);
        self.add_team_member(OWNERS_TEAM_ID, login);
        self
    }

    /// Makes a user a site administrator.
    pub fn with_site_admin(mut self, login: &str) -> Self {
        self.ensure_user(login);
        self.user_mut(login).site_admin = true;
        self
    }

    /// Gives a user read access only (403 on writes; reviews not official).
    pub fn with_read_only(mut self, login: &str) -> Self {
        self.ensure_user(login);
        self.user_mut(login).read_only = true;
        self
    }

    /// Makes a user's approvals and rejections non-official.
    pub fn with_unofficial(mut self, login: &str) -> Self {
        self.ensure_user(login);
        self.user_mut(login).unofficial = true;
        self
    }

    /// Adds a private repository with a protected `main` branch.
    pub fn with_repo(mut self, name: &str) -> Self {
        let id = self.next_repo_id;
        self.next_repo_id += 1;
        let created = self.now();
        let sha = self.new_sha();
        self.repos.push(Repo {
            id,
            name: name.to_string(),
            description: String::new(),
            private: true,
            created,
            default_branch: "main".to_string(),
            branches: vec![Branch::new("main", &sha, true)],
            issues: Vec::new(),
            commits: vec![sha],
            next_index: 1,
            topics: Vec::new(),
            archived: false,
            hidden: false,
        });
        self
    }

    /// Sets a repository's topics (Gitea lower-cases them).
    pub fn with_topics(mut self, repo: &str, topics: &[&str]) -> Self {
        self.set_topics(repo, topics);
        self
    }

    /// `PUT /repos/{o}/{r}/topics`, for a test that changes them while the bot runs.
    pub fn set_topics(&mut self, repo: &str, topics: &[&str]) {
        let ri = self.repo_index(repo);
        self.repos[ri].topics = topics.iter().map(|t| t.to_lowercase()).collect();
    }

    /// A repository only the org's owners (and site admins) see.
    pub fn with_hidden_repo(mut self, name: &str) -> Self {
        self = self.with_repo(name);
        let ri = self.repo_index(name);
        self.repos[ri].hidden = true;
        self
    }

    /// Archives (or unarchives) a repository.
    pub fn set_archived(&mut self, repo: &str, archived: bool) {
        let ri = self.repo_index(repo);
        self.repos[ri].archived = archived;
    }

    /// Adds a branch (or changes whether an existing one is protected).
    pub fn with_branch(mut self, repo: &str, name: &str, protected: bool) -> Self {
        let ri = self.repo_index(repo);
        if let Some(b) = self.repos[ri].branches.iter_mut().find(|b| b.name == name) {
            b.protected = protected;
            return self;
        }
        let sha = self.new_sha();
        let r = &mut self.repos[ri];
        r.commits.push(sha.clone());
        r.branches.push(Branch::new(name, &sha, protected));
        self
    }

    /// Requires these status contexts on a protected branch.
    pub fn with_status_check_contexts(
        mut self,
        repo: &str,
        branch: &str,
        contexts: &[&str],
    ) -> Self {
        let b = self.branch_mut(repo, branch);
        b.enable_status_check = !contexts.is_empty();
        b.status_check_contexts = contexts.iter().map(|c| c.to_string()).collect();
        self
    }

    /// Sets a protected branch's `required_approvals`.
    pub fn with_required_approvals(mut self, repo: &str, branch: &str, n: i64) -> Self {
        self.branch_mut(repo, branch).required_approvals = n;
        self
    }

    /// Turns on `dismiss_stale_approvals` for a branch.
    pub fn with_dismiss_stale_approvals(mut self, repo: &str, branch: &str) -> Self {
        self.branch_mut(repo, branch).dismiss_stale_approvals = true;
        self
    }

    /// The next issue or PR of `repo` gets this index (to start at PR #7, say).
    pub fn with_next_index(mut self, repo: &str, index: u64) -> Self {
        let ri = self.repo_index(repo);
        self.repos[ri].next_index = index;
        self
    }

    /// Answers as `flavor` (Gitea by default): see [`crate::flavor`].
    pub fn with_flavor(mut self, flavor: crate::Flavor) -> Self {
        self.flavor = flavor;
        self
    }

    /// The server this world answers as.
    pub fn flavor(&self) -> crate::Flavor {
        self.flavor
    }

    /// Fixes the server's ROOT_URL (default: the emulator's own base URL once started).
    pub fn with_root_url(mut self, url: &str) -> Self {
        let mut url = url.to_string();
        if !url.ends_with('/') {
            url.push('/');
        }
        self.root_url = url;
        self.root_url_fixed = true;
        self
    }

    /// Uses a manual clock starting at `start` that moves one second per event, so times are
    /// deterministic. The default is the wall clock (whole seconds).
    pub fn with_clock(mut self, start: DateTime<Utc>) -> Self {
        self.clock = Clock::Manual(start.trunc_subsecs(0));
        self
    }

    // ----- team membership changes (no webhook in Gitea) -------------------------------------

    /// Adds a user to a team (by id).
    pub fn add_team_member(&mut self, team_id: i64, login: &str) {
        self.ensure_user(login);
        let t = self.team_mut(team_id);
        if !t.members.iter().any(|m| m.eq_ignore_ascii_case(login)) {
            t.members.push(login.to_string());
        }
    }

    /// Removes a user from a team (by id).
    pub fn remove_team_member(&mut self, team_id: i64, login: &str) {
        self.team_mut(team_id)
            .members
            .retain(|m| !m.eq_ignore_ascii_case(login));
    }

    // ----- clock ----------------------------------------------------------------------------

    /// The PR listing lags behind a push: `GET /pulls` reports a pushed PR's previous head until
    /// [`World::settle_list_heads`], while `GET /pulls/{n}` has the new one (the issue tracker
    /// for sopbot records that Gitea's list and single PR may disagree for a moment).
    pub fn with_list_head_lag(mut self) -> Self {
        self.list_head_lag = true;
        self
    }

    /// The PR listing catches up with every push.
    pub fn settle_list_heads(&mut self) {
        for p in self
            .repos
            .iter_mut()
            .flat_map(|r| r.issues.iter_mut())
            .filter_map(|i| i.pull.as_mut())
        {
            p.listed_head = None;
        }
    }

    /// Sets the manual clock to `at` (a world built in the past, then brought to the present).
    pub fn set_clock(&mut self, at: DateTime<Utc>) {
        self.clock = Clock::Manual(at.trunc_subsecs(0));
    }

    /// Moves a manual clock forward (no effect on the wall clock).
    pub fn advance_clock(&mut self, by: Duration) {
        if let Clock::Manual(t) = &mut self.clock {
            *t += by;
        }
    }

    /// The time of a new event. A manual clock moves one second per call.
    pub(crate) fn now(&mut self) -> DateTime<Utc> {
        match &mut self.clock {
            Clock::Real => Utc::now().trunc_subsecs(0),
            Clock::Manual(t) => {
                let now = *t;
                *t += Duration::seconds(1);
                now
            }
        }
    }

    // ----- pull requests and issues ------------------------------------------------------------

    /// Opens a PR from `head_ref` into `base` (both in `repo`); returns its number. The head
    /// branch is created if missing, with a new commit on top of the base.
    pub fn open_pr(&mut self, repo: &str, author: &str, base: &str, head_ref: &str) -> u64 {
        let head_sha = self.new_sha();
        self.open_pr_at(repo, author, base, head_ref, head_sha)
    }

    /// Opens a PR from an existing branch `head_ref` into `base` without a new commit: its head
    /// is the branch's current tip, so it shares its head commit (and so Gitea's statuses) with
    /// every other open PR from that branch.
    pub fn open_pr_from_branch(
        &mut self,
        repo: &str,
        author: &str,
        base: &str,
        head_ref: &str,
    ) -> u64 {
        let head_sha = self.branch(repo, head_ref).sha.clone();
        self.open_pr_at(repo, author, base, head_ref, head_sha)
    }

    fn open_pr_at(
        &mut self,
        repo: &str,
        author: &str,
        base: &str,
        head_ref: &str,
        head_sha: String,
    ) -> u64 {
        self.expect_user(author);
        let ri = self.repo_index(repo);
        let base_sha = self.repos[ri]
            .branches
            .iter()
            .find(|b| b.name == base)
            .unwrap_or_else(|| panic!("gitea-emu: no branch {base:?} in {repo}"))
            .sha
            .clone();
        let now = self.now();
        let issue_id = self.next_issue_id;
        self.next_issue_id += 1;
        let pull_id = self.next_pull_id;
        self.next_pull_id += 1;
        let r = &mut self.repos[ri];
        if !r.commits.contains(&head_sha) {
            r.commits.push(head_sha.clone());
        }
        match r.branches.iter_mut().find(|b| b.name == head_ref) {
            Some(b) => b.sha = head_sha.clone(),
            None => r.branches.push(Branch::new(head_ref, &head_sha, false)),
        }
        let index = r.next_index;
        r.next_index += 1;
        r.issues.push(Issue {
            id: issue_id,
            index,
            author: author.to_string(),
            title: format!("Changes from {head_ref}"),
            body: String::new(),
            closed: false,
            created: now,
            updated: now,
            closed_at: None,
            closed_by: None,
            pull: Some(Pull {
                id: pull_id,
                base_ref: base.to_string(),
                head_ref: head_ref.to_string(),
                head_sha,
                merge_base: base_sha,
                merged: false,
                merged_at: None,
                merged_by: None,
                merge_commit_sha: None,
                additions: 12,
                deletions: 3,
                changed_files: 2,
                last_change: None,
                listed_head: None,
            }),
        });
        let (repo_id, head) = (
            self.repos[ri].id,
            self.repos[ri]
                .issues
                .last()
                .and_then(|i| i.pull.as_ref())
                .map(|p| p.head_sha.clone())
                .unwrap_or_default(),
        );
        self.record_commit(repo_id, index, &head, author);
        index
    }

    /// Opens `count` PRs by `author` into `base`, from head branches `{prefix}0`, `{prefix}1`,
    /// …; returns their numbers in order (the load benchmark's 200 PRs).
    pub fn open_prs(
        &mut self,
        repo: &str,
        author: &str,
        base: &str,
        prefix: &str,
        count: usize,
    ) -> Vec<u64> {
        (0..count)
            .map(|i| self.open_pr(repo, author, base, &format!("{prefix}{i}")))
            .collect()
    }

    /// Opens a plain issue (not a PR); returns its number.
    pub fn open_issue(&mut self, repo: &str, author: &str, title: &str) -> u64 {
        self.expect_user(author);
        let ri = self.repo_index(repo);
        let now = self.now();
        let id = self.next_issue_id;
        self.next_issue_id += 1;
        let r = &mut self.repos[ri];
        let index = r.next_index;
        r.next_index += 1;
        r.issues.push(Issue {
            id,
            index,
            author: author.to_string(),
            title: title.to_string(),
            body: String::new(),
            closed: false,
            created: now,
            updated: now,
            closed_at: None,
            closed_by: None,
            pull: None,
        });
        index
    }

    /// Sets a PR's title and body without an `edited` event (for setting a scene up).
    pub fn set_pr_text(&mut self, repo: &str, n: u64, title: &str, body: &str) {
        let i = self.issue_mut(repo, n);
        i.title = title.to_string();
        i.body = body.to_string();
    }

    /// Renames a PR, as the author would in the UI: a `change_title` timeline entry, and the
    /// change is what `webhook_for_pr(…, "edited")` reports.
    pub fn edit_pr_title(&mut self, repo: &str, n: u64, title: &str) {
        let now = self.now();
        let (repo_id, author) = (self.repo(repo).id, self.issue(repo, n).author.clone());
        let i = self.issue_mut(repo, n);
        let old = std::mem::replace(&mut i.title, title.to_string());
        i.updated = now;
        pull_mut(i).last_change = Some(PrChange::Title { from: old.clone() });
        let mut c = self.new_comment(repo_id, n, CommentKind::ChangeTitle, Some(author), "", now);
        c.old_title = old;
        c.new_title = title.to_string();
        self.insert_comment(c);
    }

    /// Changes a PR's body (an `edited` event).
    pub fn edit_pr_body(&mut self, repo: &str, n: u64, body: &str) {
        let now = self.now();
        let i = self.issue_mut(repo, n);
        let old = std::mem::replace(&mut i.body, body.to_string());
        i.updated = now;
        pull_mut(i).last_change = Some(PrChange::Body { from: old });
    }

    /// Retargets a PR to another base branch (an `edited` event with `changes.ref`). Reviews are
    /// marked stale as on a diff-changing push.
    pub fn change_pr_base(&mut self, repo: &str, n: u64, base: &str) {
        let now = self.now();
        let repo_id = self.repo(repo).id;
        let base_sha = self.branch(repo, base).sha.clone();
        let author = self.issue(repo, n).author.clone();
        let i = self.issue_mut(repo, n);
        i.updated = now;
        let p = pull_mut(i);
        let old = std::mem::replace(&mut p.base_ref, base.to_string());
        p.merge_base = base_sha;
        p.last_change = Some(PrChange::Base { from: old.clone() });
        let head = p.head_sha.clone();
        let mut c = self.new_comment(
            repo_id,
            n,
            CommentKind::ChangeTargetBranch,
            Some(author),
            "",
            now,
        );
        c.old_ref = old;
        c.new_ref = base.to_string();
        self.insert_comment(c);
        self.mark_stale(repo_id, n, &head);
    }

    /// Pushes a new commit to the PR's head branch; returns the new head SHA. As in Gitea, every
    /// review of the PR becomes stale except those whose `commit_id` is the new head, approvals
    /// are dismissed if the base branch has `dismiss_stale_approvals`, and a `pull_push` timeline
    /// entry is added.
    pub fn push(&mut self, repo: &str, n: u64) -> String {
        self.push_inner(repo, n, true)
    }

    /// Pushes a commit that leaves the PR's diff unchanged (e.g. a rebase with no conflicts):
    /// a new head SHA, but no review becomes stale.
    pub fn push_same_diff(&mut self, repo: &str, n: u64) -> String {
        self.push_inner(repo, n, false)
    }

    fn push_inner(&mut self, repo: &str, n: u64, diff_changed: bool) -> String {
        let sha = self.new_sha();
        let now = self.now();
        let lag = self.list_head_lag;
        let ri = self.repo_index(repo);
        let repo_id = self.repos[ri].id;
        let i = self.issue_mut(repo, n);
        assert!(!i.closed, "gitea-emu: cannot push to closed PR {repo}#{n}");
        i.updated = now;
        let author = i.author.clone();
        let p = pull_mut(i);
        let old = std::mem::replace(&mut p.head_sha, sha.clone());
        if lag {
            p.listed_head.get_or_insert(old.clone());
        }
        if diff_changed {
            p.additions += 7;
            p.deletions += 1;
            p.changed_files = p.changed_files.max(1);
        }
        let (head_ref, base_ref) = (p.head_ref.clone(), p.base_ref.clone());
        self.parents.insert(sha.clone(), vec![old]);
        let r = &mut self.repos[ri];
        r.commits.push(sha.clone());
        if let Some(b) = r.branches.iter_mut().find(|b| b.name == head_ref) {
            b.sha = sha.clone();
        }
        // A push moves the branch, so every other open PR from it moves too (Gitea's
        // AddTestPullRequestTask synchronises each of them).
        let siblings: Vec<u64> = r
            .issues
            .iter_mut()
            .filter(|i| !i.closed && i.index != n)
            .filter_map(|i| {
                let p = i.pull.as_mut()?;
                (p.head_ref == head_ref).then(|| {
                    p.head_sha = sha.clone();
                    i.updated = now;
                    i.index
                })
            })
            .collect();
        if diff_changed {
            for s in siblings {
                self.mark_stale(repo_id, s, &sha);
            }
        }
        self.record_commit(repo_id, n, &sha, &author);
        let body = format!("{{\"is_force_push\":false,\"commit_ids\":[\"{sha}\"]}}");
        let c = self.new_comment(repo_id, n, CommentKind::PullPush, Some(author), &body, now);
        self.insert_comment(c);
        if diff_changed {
            self.mark_stale(repo_id, n, &sha);
            if self.branch(repo, &base_ref).dismiss_stale_approvals {
                for r in self.reviews.iter_mut() {
                    if r.repo_id == repo_id && r.index == n && r.state == "APPROVED" {
                        r.dismissed = true;
                    }
                }
            }
        }
        sha
    }

    /// Merges the base branch's tip into the PR's head branch (Gitea's "update branch" by
    /// merge): a new head whose parents are the old head and the base tip, which becomes the
    /// PR's merge base. The diff is unchanged. Returns the new head.
    pub fn merge_base_into(&mut self, repo: &str, n: u64) -> String {
        let base_ref = pull_mut(self.issue_mut(repo, n)).base_ref.clone();
        let base_tip = self.branch(repo, &base_ref).sha.clone();
        let old = self.head_sha(repo, n);
        let sha = self.push_inner(repo, n, false);
        self.parents
            .insert(sha.clone(), vec![old, base_tip.clone()]);
        pull_mut(self.issue_mut(repo, n)).merge_base = base_tip;
        sha
    }

    /// Sets a commit's parents (a history the helpers above do not make).
    pub fn set_commit_parents(&mut self, sha: &str, parents: &[String]) {
        self.parents.insert(sha.to_string(), parents.to_vec());
    }

    /// The parents of a commit made by a push (none for others).
    pub fn commit_parents(&self, sha: &str) -> Vec<String> {
        self.parents.get(sha).cloned().unwrap_or_default()
    }

    /// Gitea's `MarkReviewsAsStale` then `MarkReviewsAsNotStale(head)`.
    fn mark_stale(&mut self, repo_id: i64, n: u64, head: &str) {
        for r in self.reviews.iter_mut() {
            if r.repo_id == repo_id && r.index == n {
                r.stale = r.commit_id != head;
            }
        }
    }

    /// Moves a branch's tip to a new commit (someone pushed to the base); returns the SHA.
    pub fn advance_branch(&mut self, repo: &str, branch: &str) -> String {
        let sha = self.new_sha();
        let ri = self.repo_index(repo);
        self.repos[ri].commits.push(sha.clone());
        self.branch_mut(repo, branch).sha = sha.clone();
        sha
    }

    /// Makes the PR's diff empty (no changed files), as when the head has nothing the base lacks.
    pub fn set_pr_empty_diff(&mut self, repo: &str, n: u64) {
        let p = pull_mut(self.issue_mut(repo, n));
        p.additions = 0;
        p.deletions = 0;
        p.changed_files = 0;
    }

    /// Closes the PR, merging it if `merged` (acting user: the PR's author).
    pub fn close_pr(&mut self, repo: &str, n: u64, merged: bool) {
        let author = self.issue(repo, n).author.clone();
        self.close_pr_by(repo, n, merged, &author);
    }

    /// Closes or merges the PR as `user`. A merge creates a merge commit on the base branch.
    pub fn close_pr_by(&mut self, repo: &str, n: u64, merged: bool, user: &str) {
        self.expect_user(user);
        let now = self.now();
        let repo_id = self.repo(repo).id;
        let merge_sha = merged.then(|| self.new_sha());
        let i = self.issue_mut(repo, n);
        assert!(!i.closed, "gitea-emu: {repo}#{n} is already closed");
        i.closed = true;
        i.closed_at = Some(now);
        i.closed_by = Some(user.to_string());
        i.updated = now;
        let p = pull_mut(i);
        let base_ref = p.base_ref.clone();
        if let Some(sha) = &merge_sha {
            p.merged = true;
            p.merged_at = Some(now);
            p.merged_by = Some(user.to_string());
            p.merge_commit_sha = Some(sha.clone());
        }
        if let Some(sha) = merge_sha {
            let ri = self.repo_index(repo);
            self.repos[ri].commits.push(sha.clone());
            self.branch_mut(repo, &base_ref).sha = sha;
        }
        let kind = if merged {
            CommentKind::MergePull
        } else {
            CommentKind::Close
        };
        let c = self.new_comment(repo_id, n, kind, Some(user.to_string()), "", now);
        self.insert_comment(c);
    }

    /// Reopens a closed, unmerged PR (acting user: its author).
    pub fn reopen_pr(&mut self, repo: &str, n: u64) {
        let now = self.now();
        let repo_id = self.repo(repo).id;
        let i = self.issue_mut(repo, n);
        assert!(i.closed, "gitea-emu: {repo}#{n} is open");
        assert!(
            !i.pull.as_ref().is_some_and(|p| p.merged),
            "gitea-emu: a merged PR cannot be reopened"
        );
        i.closed = false;
        i.closed_at = None;
        i.updated = now;
        let author = i.author.clone();
        let c = self.new_comment(repo_id, n, CommentKind::Reopen, Some(author), "", now);
        self.insert_comment(c);
    }

    // ----- reviews ----------------------------------------------------------------------------

    /// Submits a review of the PR's current head as `user`; returns the review id.
    ///
    /// `state` is `APPROVED`, `REQUEST_CHANGES`, `COMMENT` or `PENDING`; like Gitea's API, any
    /// other string (`APPROVE`, `approved`, …) is stored as a misfiled `PENDING` review. Side
    /// effects as in Gitea's `SubmitReview`/`CreateReview`: a new APPROVED or REQUEST_CHANGES
    /// first makes all of the user's earlier reviews on the PR non-official and dismisses their
    /// earlier approvals and rejections; it is official when the user has write access and is
    /// not `with_unofficial`; the user's review request (and, for a verdict, requests of teams
    /// they are in) is removed; every review, PENDING included, gets a `review` timeline entry.
    ///
    /// Panics where Gitea answers 422: the author approving or rejecting their own PR, a verdict
    /// on a closed PR, a COMMENT or PENDING review without a body.
    pub fn review(&mut self, repo: &str, n: u64, user: &str, state: &str, body: &str) -> i64 {
        let head = self.pull(repo, n).head_sha.clone();
        self.review_commit(repo, n, user, state, body, &head)
    }

    /// A review stored without the 422 checks: data today's API refuses but a database may hold
    /// (an author's approval from an older Gitea, a migration). The bot must still not count it.
    pub fn review_unchecked(
        &mut self,
        repo: &str,
        n: u64,
        user: &str,
        state: &str,
        body: &str,
    ) -> i64 {
        self.unchecked = true;
        let id = self.review(repo, n, user, state, body);
        self.unchecked = false;
        id
    }

    /// [`World::review`] of a given commit; the review is stale when `commit_id` is not the head.
    pub fn review_commit(
        &mut self,
        repo: &str,
        n: u64,
        user: &str,
        state: &str,
        body: &str,
        commit_id: &str,
    ) -> i64 {
        self.expect_user(user);
        let state = match state {
            "APPROVED" | "REQUEST_CHANGES" | "COMMENT" | "PENDING" => state,
            _ => "PENDING",
        };
        let verdict = state == "APPROVED" || state == "REQUEST_CHANGES";
        let issue = self.issue(repo, n);
        let head = self.pull(repo, n).head_sha.clone();
        if verdict {
            if !self.unchecked {
                assert!(
                    !issue.author.eq_ignore_ascii_case(user),
                    "gitea-emu: Gitea refuses (422) a verdict by the PR's author"
                );
                assert!(
                    !issue.closed,
                    "gitea-emu: Gitea refuses (422) a verdict on a closed PR"
                );
            }
        } else {
            assert!(
                !body.trim().is_empty(),
                "gitea-emu: Gitea refuses (422) a {state} review without a body"
            );
        }
        let repo_id = self.repo(repo).id;
        let now = self.now();
        let official = verdict && self.can_review_officially(repo, n, user);
        let user_teams: Vec<i64> = self
            .teams
            .iter()
            .filter(|t| t.members.iter().any(|m| m.eq_ignore_ascii_case(user)))
            .map(|t| t.id)
            .collect();
        for r in self.reviews.iter_mut() {
            if r.repo_id != repo_id || r.index != n {
                continue;
            }
            let mine = r
                .user
                .as_deref()
                .is_some_and(|u| u.eq_ignore_ascii_case(user));
            if verdict && mine {
                r.official = false;
                if r.state == "APPROVED" || r.state == "REQUEST_CHANGES" {
                    r.dismissed = true;
                }
            }
        }
        self.reviews.retain(|r| {
            let request = r.repo_id == repo_id && r.index == n && r.state == "REQUEST_REVIEW";
            let mine = r
                .user
                .as_deref()
                .is_some_and(|u| u.eq_ignore_ascii_case(user));
            let my_team = r.team.is_some_and(|t| user_teams.contains(&t));
            !(request && ((mine && state != "PENDING") || (my_team && verdict)))
        });
        let id = self.next_review_id;
        self.next_review_id += 1;
        let mut c = self.new_comment(
            repo_id,
            n,
            CommentKind::Review,
            Some(user.to_string()),
            body,
            now,
        );
        c.review_id = id;
        let comment_id = c.id;
        self.insert_comment(c);
        self.reviews.push(Review {
            id,
            repo_id,
            index: n,
            user: Some(user.to_string()),
            team: None,
            state: state.to_string(),
            body: body.to_string(),
            commit_id: commit_id.to_string(),
            stale: commit_id != head,
            official,
            dismissed: false,
            submitted: now,
            updated: now,
            comment_id: Some(comment_id),
        });
        self.issue_mut(repo, n).updated = now;
        id
    }

    /// Dismisses an APPROVED or REQUEST_CHANGES review (Gitea ignores other types). Sends no
    /// webhook in Gitea; adds a `dismiss_review` timeline entry.
    pub fn dismiss(&mut self, repo: &str, n: u64, review_id: i64) {
        let repo_id = self.repo(repo).id;
        let now = self.now();
        let r = self
            .reviews
            .iter_mut()
            .find(|r| r.id == review_id && r.repo_id == repo_id && r.index == n)
            .unwrap_or_else(|| panic!("gitea-emu: no review {review_id} on {repo}#{n}"));
        if r.dismissed || (r.state != "APPROVED" && r.state != "REQUEST_CHANGES") {
            return;
        }
        r.dismissed = true;
        let admin = self.org_admin_login();
        let mut c = self.new_comment(repo_id, n, CommentKind::DismissReview, admin, "", now);
        c.review_id = review_id;
        self.insert_comment(c);
    }

    /// Requests a review from a user (a `REQUEST_REVIEW` row; listed in `requested_reviewers`).
    pub fn request_review(&mut self, repo: &str, n: u64, user: &str) -> i64 {
        self.expect_user(user);
        let official = self.can_review_officially(repo, n, user);
        if official {
            // Gitea's AddReviewRequest (models/issues/review.go): re-requesting an official
            // reviewer clears `official` on all their earlier reviews of the PR, so their
            // approval counts again only once they approve anew.
            let repo_id = self.repo(repo).id;
            for r in self.reviews.iter_mut() {
                if r.repo_id == repo_id
                    && r.index == n
                    && r.user
                        .as_deref()
                        .is_some_and(|u| u.eq_ignore_ascii_case(user))
                {
                    r.official = false;
                }
            }
        }
        self.push_request(repo, n, Some(user.to_string()), None, official)
    }

    /// Requests a review from a team (a `REQUEST_REVIEW` row whose `user` is null).
    pub fn request_team_review(&mut self, repo: &str, n: u64, team: &str) -> i64 {
        let id = self.team_id(team);
        self.push_request(repo, n, None, Some(id), false)
    }

    fn push_request(
        &mut self,
        repo: &str,
        n: u64,
        user: Option<String>,
        team: Option<i64>,
        official: bool,
    ) -> i64 {
        let repo_id = self.repo(repo).id;
        let now = self.now();
        let author = self.issue(repo, n).author.clone();
        let id = self.next_review_id;
        self.next_review_id += 1;
        let mut c = self.new_comment(
            repo_id,
            n,
            CommentKind::ReviewRequest,
            Some(author),
            "",
            now,
        );
        c.review_id = id;
        c.assignee = user.clone();
        self.insert_comment(c);
        self.reviews.push(Review {
            id,
            repo_id,
            index: n,
            user,
            team,
            state: "REQUEST_REVIEW".to_string(),
            body: String::new(),
            commit_id: String::new(),
            stale: false,
            official,
            dismissed: false,
            submitted: now,
            updated: now,
            comment_id: None,
        });
        id
    }

    /// Gitea's `IsOfficialReviewer` (`models/issues/review.go`), computed once at submission:
    /// under a protection rule with the approvals whitelist enabled, only whitelisted users and
    /// members of whitelisted teams; otherwise write access to the code
    /// (`IsUserOfficialReviewer`, `models/git/protected_branch.go`). `with_unofficial` users
    /// never are.
    fn can_review_officially(&self, repo: &str, n: u64, login: &str) -> bool {
        if self.user(login).is_some_and(|u| u.unofficial) {
            return false;
        }
        let base = self
            .issue(repo, n)
            .pull
            .as_ref()
            .map(|p| p.base_ref.clone())
            .unwrap_or_default();
        let rule = self
            .repo(repo)
            .branches
            .iter()
            .find(|b| b.name == base && b.protected);
        match rule {
            Some(b) if b.enable_approvals_whitelist => {
                b.approvals_whitelist_users
                    .iter()
                    .any(|u| u.eq_ignore_ascii_case(login))
                    || b.approvals_whitelist_teams.iter().any(|t| {
                        self.teams.iter().any(|x| {
                            x.name.eq_ignore_ascii_case(t) && self.is_team_member(x.id, login)
                        })
                    })
            }
            _ => self.code_access(login) >= Access::Write,
        }
    }

    /// A user's access to the code: [`World::access`], narrowed by teams for org members (the
    /// best permission of their teams); users in no team keep their collaborator access.
    pub fn code_access(&self, login: &str) -> Access {
        let access = self.access(login);
        if access != Access::Write {
            return access;
        }
        self.teams
            .iter()
            .filter(|t| t.members.iter().any(|m| m.eq_ignore_ascii_case(login)))
            .map(|t| match t.permission.as_str() {
                "owner" | "admin" => Access::Admin,
                "write" => Access::Write,
                _ => Access::Read,
            })
            .max()
            .map_or(access, |team| team.min(Access::Write))
    }

    /// The login shown as the actor of an admin action (an org owner, else the bot).
    fn org_admin_login(&self) -> Option<String> {
        self.team_by_id(OWNERS_TEAM_ID)
            .and_then(|t| t.members.first().cloned())
            .or_else(|| self.bot.clone())
    }

    // ----- comments and reactions ----------------------------------------------------------------

    /// `user` comments on the issue or PR; returns the comment id.
    pub fn comment(&mut self, repo: &str, n: u64, user: &str, body: &str) -> i64 {
        self.expect_user(user);
        self.add_comment(repo, n, Some(user.to_string()), body)
    }

    /// `user` comments on `line` of `path` in the PR's diff ("Add single comment"). Gitea makes
    /// a COMMENT review with an empty body holding this one code comment and submits it: the
    /// timeline gets a `review` row, the delivery is `pull_request_review_comment`
    /// ([`World::webhook_for_review`] `"comment"`), and no comment webhook is sent for the code
    /// comment itself (`CreateCodeComment` and `SubmitReview`, `services/pull/review.go` @
    /// v1.25.4; the webhook notifier has no `PullRequestCodeComment`). Returns the code
    /// comment's id, which starts the thread [`World::reply_in_thread`] answers in.
    pub fn code_comment(
        &mut self,
        repo: &str,
        n: u64,
        user: &str,
        path: &str,
        line: i64,
        body: &str,
    ) -> i64 {
        self.expect_user(user);
        let repo_id = self.repo(repo).id;
        let head = self.pull(repo, n).head_sha.clone();
        let now = self.now();
        let review_id = self.next_review_id;
        self.next_review_id += 1;
        let mut header = self.new_comment(
            repo_id,
            n,
            CommentKind::Review,
            Some(user.to_string()),
            "",
            now,
        );
        header.review_id = review_id;
        let header_id = header.id;
        self.comments.push(header);
        self.reviews.push(Review {
            id: review_id,
            repo_id,
            index: n,
            user: Some(user.to_string()),
            team: None,
            state: "COMMENT".to_string(),
            body: String::new(),
            commit_id: head,
            stale: false,
            official: false,
            dismissed: false,
            submitted: now,
            updated: now,
            comment_id: Some(header_id),
        });
        self.add_code_comment(repo, n, user, review_id, path, line, body)
    }

    /// `user` replies in the code-review thread that code comment `thread` belongs to. Gitea
    /// stores a `code` comment in the thread's review and sends a `pull_request_comment`
    /// delivery exactly like a conversation comment's ([`World::webhook_for_comment`]
    /// `"created"`; `CreateCodeComment`, `services/pull/review.go` @ v1.25.4, calls
    /// `notify_service.CreateIssueComment`); but `GET /issues/comments/{id}` answers 204 for
    /// it and neither comment listing nor the timeline shows it. Returns the reply's id.
    pub fn reply_in_thread(
        &mut self,
        repo: &str,
        n: u64,
        user: &str,
        thread: i64,
        body: &str,
    ) -> i64 {
        self.expect_user(user);
        let first = self
            .comments
            .iter()
            .find(|c| c.id == thread && c.kind == CommentKind::Code && c.index == n)
            .unwrap_or_else(|| panic!("gitea-emu: no code comment {thread} on {repo}#{n}"))
            .clone();
        self.add_code_comment(
            repo,
            n,
            user,
            first.review_id,
            &first.tree_path,
            first.line,
            body,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn add_code_comment(
        &mut self,
        repo: &str,
        n: u64,
        user: &str,
        review_id: i64,
        path: &str,
        line: i64,
        body: &str,
    ) -> i64 {
        assert!(
            !body.trim().is_empty(),
            "gitea-emu: Gitea refuses an empty code comment"
        );
        let repo_id = self.repo(repo).id;
        let now = self.now();
        let mut c = self.new_comment(
            repo_id,
            n,
            CommentKind::Code,
            Some(user.to_string()),
            body,
            now,
        );
        c.review_id = review_id;
        c.tree_path = path.to_string();
        c.line = line;
        let id = c.id;
        self.comments.push(c);
        self.issue_mut(repo, n).updated = now;
        id
    }

    /// A comment whose poster id is 0 (migrated content): the API sends `"user": null`.
    pub fn comment_without_user(&mut self, repo: &str, n: u64, body: &str) -> i64 {
        self.add_comment(repo, n, None, body)
    }

    pub(crate) fn add_comment(
        &mut self,
        repo: &str,
        n: u64,
        user: Option<String>,
        body: &str,
    ) -> i64 {
        let repo_id = self.repo(repo).id;
        let now = self.now();
        let c = self.new_comment(repo_id, n, CommentKind::Comment, user, body, now);
        let id = c.id;
        self.insert_comment(c);
        self.issue_mut(repo, n).updated = now;
        id
    }

    /// Edits a comment's body (`updated_at` moves; an unchanged body changes nothing).
    pub fn edit_comment(&mut self, repo: &str, comment_id: i64, body: &str) {
        let repo_id = self.repo(repo).id;
        let now = self.now();
        let c = self
            .comments
            .iter_mut()
            .find(|c| c.id == comment_id && c.repo_id == repo_id)
            .unwrap_or_else(|| panic!("gitea-emu: no comment {comment_id} in {repo}"));
        if c.body != body {
            c.previous_body = Some(std::mem::replace(&mut c.body, body.to_string()));
            c.updated = now;
        }
    }

    /// Deletes a comment (by its poster). It stays available to `webhook_for_comment(…,
    /// "deleted")`.
    pub fn delete_comment(&mut self, repo: &str, comment_id: i64) {
        let repo_id = self.repo(repo).id;
        let pos = self
            .comments
            .iter()
            .position(|c| c.id == comment_id && c.repo_id == repo_id)
            .unwrap_or_else(|| panic!("gitea-emu: no comment {comment_id} in {repo}"));
        let mut c = self.comments.remove(pos);
        c.deleted_by = c.user.clone();
        self.reactions.retain(|r| r.comment_id != comment_id);
        self.deleted_comments.push(c);
    }

    /// `user` reacts to a comment; returns false if they already had that reaction.
    pub fn react(&mut self, comment_id: i64, user: &str, content: &str) -> bool {
        self.expect_user(user);
        assert!(
            ALLOWED_REACTIONS.contains(&content),
            "gitea-emu: {content:?} is not an allowed reaction"
        );
        if self.reactions.iter().any(|r| {
            r.comment_id == comment_id && r.user.eq_ignore_ascii_case(user) && r.content == content
        }) {
            return false;
        }
        let created = self.now();
        self.reactions.push(Reaction {
            comment_id,
            user: user.to_string(),
            content: content.to_string(),
            created,
        });
        true
    }

    /// Posts a commit status as `creator` (what the API does for the token owner).
    #[allow(clippy::too_many_arguments)]
    pub fn post_status(
        &mut self,
        repo: &str,
        sha: &str,
        creator: &str,
        state: &str,
        context: &str,
        description: &str,
        target_url: &str,
    ) -> Status {
        let repo_id = self.repo(repo).id;
        let created = self.now();
        let id = self
            .statuses
            .iter()
            .filter(|s| s.repo_id == repo_id && s.sha == sha)
            .count() as i64
            + 1;
        let s = Status {
            id,
            repo_id,
            sha: sha.to_string(),
            state: state.trim().to_string(),
            target_url: target_url.trim().to_string(),
            description: description.trim().to_string(),
            context: context.trim().to_string(),
            creator: creator.to_string(),
            created,
        };
        self.statuses.push(s.clone());
        s
    }

    // ----- readers ------------------------------------------------------------------------------

    /// Every status posted on `sha`, oldest first.
    pub fn statuses(&self, repo: &str, sha: &str) -> Vec<Status> {
        let repo_id = self.repo(repo).id;
        self.statuses
            .iter()
            .filter(|s| s.repo_id == repo_id && s.sha == sha)
            .cloned()
            .collect()
    }

    /// The latest status of each context on `sha`, ordered by context.
    pub fn latest_statuses(&self, repo: &str, sha: &str) -> Vec<Status> {
        let mut latest: Vec<Status> = Vec::new();
        for s in self.statuses(repo, sha) {
            match latest.iter_mut().find(|l| l.context == s.context) {
                Some(l) => *l = s,
                None => latest.push(s),
            }
        }
        latest.sort_by(|a, b| a.context.cmp(&b.context));
        latest
    }

    /// The latest status of `context` on `sha`.
    pub fn status(&self, repo: &str, sha: &str, context: &str) -> Option<Status> {
        self.statuses(repo, sha)
            .into_iter()
            .rev()
            .find(|s| s.context == context)
    }

    /// The plain comments of an issue or PR, oldest first.
    pub fn comments(&self, repo: &str, n: u64) -> Vec<Comment> {
        let repo_id = self.repo(repo).id;
        self.comments
            .iter()
            .filter(|c| c.repo_id == repo_id && c.index == n && c.kind == CommentKind::Comment)
            .cloned()
            .collect()
    }

    /// The timeline of an issue or PR, oldest first: every comment row but code comments.
    pub fn timeline(&self, repo: &str, n: u64) -> Vec<Comment> {
        let repo_id = self.repo(repo).id;
        self.comments
            .iter()
            .filter(|c| c.repo_id == repo_id && c.index == n && c.kind != CommentKind::Code)
            .cloned()
            .collect()
    }

    /// A comment row by id (deleted ones excluded).
    pub fn comment_by_id(&self, id: i64) -> Option<Comment> {
        self.comments.iter().find(|c| c.id == id).cloned()
    }

    /// The reactions on a comment, oldest first.
    pub fn reactions(&self, comment_id: i64) -> Vec<Reaction> {
        self.reactions
            .iter()
            .filter(|r| r.comment_id == comment_id)
            .cloned()
            .collect()
    }

    /// Every review row of a PR (PENDING and requests included), oldest first.
    pub fn reviews(&self, repo: &str, n: u64) -> Vec<Review> {
        let repo_id = self.repo(repo).id;
        self.reviews
            .iter()
            .filter(|r| r.repo_id == repo_id && r.index == n)
            .cloned()
            .collect()
    }

    /// The issue (or PR) `n` of `repo`.
    pub fn issue(&self, repo: &str, n: u64) -> &Issue {
        self.find_issue(repo, n)
            .unwrap_or_else(|| panic!("gitea-emu: no issue {repo}#{n}"))
    }

    /// The PR part of `repo#n`.
    pub fn pull(&self, repo: &str, n: u64) -> &Pull {
        self.issue(repo, n)
            .pull
            .as_ref()
            .unwrap_or_else(|| panic!("gitea-emu: {repo}#{n} is an issue, not a PR"))
    }

    /// The PR's current head SHA.
    pub fn head_sha(&self, repo: &str, n: u64) -> String {
        self.pull(repo, n).head_sha.clone()
    }

    /// A branch of a repo.
    pub fn branch(&self, repo: &str, name: &str) -> &Branch {
        self.repo(repo)
            .branches
            .iter()
            .find(|b| b.name == name)
            .unwrap_or_else(|| panic!("gitea-emu: no branch {name:?} in {repo}"))
    }

    /// A team's id by name (case-insensitive).
    pub fn team_id(&self, name: &str) -> i64 {
        self.teams
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
            .unwrap_or_else(|| panic!("gitea-emu: no team {name:?}"))
            .id
    }

    /// The bot's login (set by [`World::with_bot`]).
    pub fn bot(&self) -> Option<&str> {
        self.bot.as_deref()
    }

    /// The bot's token (`emu-token-<login>`).
    pub fn bot_token(&self) -> Option<String> {
        self.bot.as_ref().map(|b| format!("emu-token-{b}"))
    }

    /// The organisation's login.
    pub fn org_login(&self) -> &str {
        &self.org.login
    }

    /// The server's ROOT_URL, with a trailing slash.
    pub fn root_url(&self) -> &str {
        &self.root_url
    }

    // ----- access rules -------------------------------------------------------------------------

    /// A user by login (case-insensitive, as Gitea's lower_name).
    pub fn user(&self, login: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| u.login.eq_ignore_ascii_case(login))
    }

    pub(crate) fn login_for_token(&self, token: &str) -> Option<&str> {
        self.users
            .iter()
            .find(|u| u.tokens.iter().any(|t| t == token))
            .map(|u| u.login.as_str())
    }

    /// The token's scopes; `None` for a token with every scope (`all`).
    pub(crate) fn token_scopes(&self, token: &str) -> Option<&[String]> {
        self.token_scopes.get(token).map(Vec::as_slice)
    }

    pub(crate) fn team_by_id(&self, id: i64) -> Option<&Team> {
        self.teams.iter().find(|t| t.id == id)
    }

    /// Hook edits (`PATCH …/hooks/{id}`) as in Gitea 1.23.x, whose `editHook`
    /// (`routers/api/v1/utils/hook.go` @ v1.23.8) sets every event from the list except
    /// `status` and `package`, which keep their old value; creation sets them. Gitea 1.24 moved
    /// both to the shared `updateHookEvents`, so from then on an edit sets them too.
    pub fn with_gitea_1_23_hook_edit(mut self) -> Self {
        self.hook_edit_1_23 = true;
        self
    }

    /// The webhooks of repository `repo` (its name in the org), oldest first.
    pub fn hooks(&self, repo: &str) -> Vec<Hook> {
        self.hooks
            .iter()
            .filter(|h| h.repo == repo)
            .cloned()
            .collect()
    }

    /// Whether `login` is a site administrator.
    pub fn is_site_admin(&self, login: &str) -> bool {
        self.user(login).is_some_and(|u| u.site_admin)
    }

    /// Whether `login` is in the team with this id.
    pub fn is_team_member(&self, team_id: i64, login: &str) -> bool {
        self.team_by_id(team_id)
            .is_some_and(|t| t.members.iter().any(|m| m.eq_ignore_ascii_case(login)))
    }

    /// Whether `login` owns the organisation (is in its Owners team).
    pub fn is_org_owner(&self, login: &str) -> bool {
        self.is_team_member(OWNERS_TEAM_ID, login)
    }

    /// Org membership is membership of any of its teams.
    pub fn is_org_member(&self, login: &str) -> bool {
        self.teams
            .iter()
            .any(|t| t.members.iter().any(|m| m.eq_ignore_ascii_case(login)))
    }

    /// The emulator's simple permission model: site admins and org owners are admins, a
    /// `with_read_only` user reads, every other known user writes (a collaborator).
    pub fn access(&self, login: &str) -> Access {
        match self.user(login) {
            None => Access::None,
            Some(u) if u.site_admin || self.is_org_owner(login) => Access::Admin,
            Some(u) if u.read_only => Access::Read,
            Some(_) => Access::Write,
        }
    }

    /// Gitea's `reqTeamMembership` middleware for the caller `login` and team `team_id`.
    pub fn check_team_access(&self, login: &str, team_id: i64) -> Result<(), TeamDenial> {
        if self.team_by_id(team_id).is_none() {
            return Err(TeamDenial::NotFound);
        }
        if self.is_site_admin(login)
            || self.is_org_owner(login)
            || self.is_team_member(team_id, login)
        {
            return Ok(());
        }
        if self.is_org_member(login) {
            Err(TeamDenial::Forbidden)
        } else {
            Err(TeamDenial::NotFound)
        }
    }

    // ----- lookups used by the server --------------------------------------------------------------

    pub(crate) fn find_repo(&self, owner: &str, name: &str) -> Option<&Repo> {
        if !owner.eq_ignore_ascii_case(&self.org.login) {
            return None;
        }
        self.repos
            .iter()
            .find(|r| r.name.eq_ignore_ascii_case(name))
    }

    pub(crate) fn find_issue(&self, repo: &str, n: u64) -> Option<&Issue> {
        self.repo(repo).issues.iter().find(|i| i.index == n)
    }

    /// A repository by name (`widgets` or `acme/widgets`).
    pub fn repo(&self, name: &str) -> &Repo {
        let name = self.strip_owner(name);
        self.repos
            .iter()
            .find(|r| r.name.eq_ignore_ascii_case(name))
            .unwrap_or_else(|| panic!("gitea-emu: no repo {name:?}"))
    }

    /// Expands a full or abbreviated (≥ 7 hex) SHA the repo knows.
    pub(crate) fn resolve_sha(&self, repo: &str, sha: &str) -> Option<String> {
        let sha = sha.to_ascii_lowercase();
        if sha.len() < 7 {
            return None;
        }
        self.repo(repo)
            .commits
            .iter()
            .find(|c| c.starts_with(&sha))
            .cloned()
    }

    fn strip_owner<'a>(&self, name: &'a str) -> &'a str {
        match name.split_once('/') {
            Some((o, r)) if o.eq_ignore_ascii_case(&self.org.login) => r,
            _ => name,
        }
    }

    fn repo_index(&self, name: &str) -> usize {
        let name = self.strip_owner(name);
        self.repos
            .iter()
            .position(|r| r.name.eq_ignore_ascii_case(name))
            .unwrap_or_else(|| panic!("gitea-emu: no repo {name:?}"))
    }

    /// Stores a new timeline row and, as Gitea's `CreateComment` does for every kind
    /// (`updateCommentInfos`, `models/issues/comment.go` @ v1.25.4), moves the issue's `updated`:
    /// comments, reviews, dismissals, review requests, pushes, closes and reopens all do.
    fn insert_comment(&mut self, c: Comment) {
        let (repo_id, index, at) = (c.repo_id, c.index, c.created);
        self.comments.push(c);
        if let Some(i) = self
            .repos
            .iter_mut()
            .filter(|r| r.id == repo_id)
            .flat_map(|r| r.issues.iter_mut())
            .find(|i| i.index == index)
        {
            i.updated = i.updated.max(at);
        }
    }

    fn issue_mut(&mut self, repo: &str, n: u64) -> &mut Issue {
        let ri = self.repo_index(repo);
        self.repos[ri]
            .issues
            .iter_mut()
            .find(|i| i.index == n)
            .unwrap_or_else(|| panic!("gitea-emu: no issue {repo}#{n}"))
    }

    fn branch_mut(&mut self, repo: &str, name: &str) -> &mut Branch {
        let ri = self.repo_index(repo);
        self.repos[ri]
            .branches
            .iter_mut()
            .find(|b| b.name == name)
            .unwrap_or_else(|| panic!("gitea-emu: no branch {name:?} in {repo}"))
    }

    fn team_mut(&mut self, id: i64) -> &mut Team {
        self.teams
            .iter_mut()
            .find(|t| t.id == id)
            .unwrap_or_else(|| panic!("gitea-emu: no team {id}"))
    }

    fn user_mut(&mut self, login: &str) -> &mut User {
        self.users
            .iter_mut()
            .find(|u| u.login.eq_ignore_ascii_case(login))
            .unwrap_or_else(|| panic!("gitea-emu: no user {login:?}"))
    }

    fn expect_user(&self, login: &str) {
        assert!(self.user(login).is_some(), "gitea-emu: no user {login:?}");
    }

    fn ensure_user(&mut self, login: &str) {
        if self.user(login).is_some() {
            return;
        }
        assert!(
            !login.eq_ignore_ascii_case(&self.org.login),
            "gitea-emu: {login:?} is the organisation"
        );
        let id = self.next_user_id;
        self.next_user_id += 1;
        let created = self.now();
        let email = format!("{login}@{}.example", self.org.login);
        self.users.push(User {
            id,
            login: login.to_string(),
            full_name: String::new(),
            email,
            created,
            tokens: Vec::new(),
            site_admin: false,
            read_only: false,
            unofficial: false,
        });
    }

    pub(crate) fn new_comment(
        &mut self,
        repo_id: i64,
        index: u64,
        kind: CommentKind,
        user: Option<String>,
        body: &str,
        now: DateTime<Utc>,
    ) -> Comment {
        let id = self.next_comment_id;
        self.next_comment_id += 1;
        Comment {
            id,
            repo_id,
            index,
            kind,
            user,
            body: body.to_string(),
            created: now,
            updated: now,
            review_id: 0,
            previous_body: None,
            old_ref: String::new(),
            new_ref: String::new(),
            old_title: String::new(),
            new_title: String::new(),
            assignee: None,
            deleted_by: None,
            tree_path: String::new(),
            line: 0,
        }
    }

    /// A new, well-formed 40-hex commit SHA (deterministic per world).
    fn new_sha(&mut self) -> String {
        self.sha_counter += 1;
        let digest = Sha256::digest(format!("gitea-emu commit {}", self.sha_counter));
        let mut s = String::with_capacity(40);
        for b in &digest[..20] {
            let _ = write!(s, "{b:02x}");
        }
        s
    }
}

impl Branch {
    fn new(name: &str, sha: &str, protected: bool) -> Self {
        Branch {
            name: name.to_string(),
            sha: sha.to_string(),
            protected,
            required_approvals: if protected { 1 } else { 0 },
            enable_status_check: false,
            status_check_contexts: Vec::new(),
            dismiss_stale_approvals: false,
            enable_approvals_whitelist: false,
            approvals_whitelist_users: Vec::new(),
            approvals_whitelist_teams: Vec::new(),
        }
    }
}

fn pull_mut(i: &mut Issue) -> &mut Pull {
    let index = i.index;
    i.pull
        .as_mut()
        .unwrap_or_else(|| panic!("gitea-emu: #{index} is an issue, not a PR"))
}

/// Gitea's zero time, `0001-01-01T00:00:00Z`.
pub(crate) fn zero_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world() -> World {
        World::new("acme")
            .with_clock(Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap())
            .with_user("alice")
            .with_bot("sopbot")
            .with_team("qa", &["bob", "sopbot"])
            .with_team_permission("qa", "write")
            .with_repo("widgets")
    }

    #[test]
    fn team_ids_start_at_twenty_and_owners_is_one() {
        let w = world().with_team("security", &["carol"]);
        assert_eq!(w.team_id("Owners"), 1);
        assert_eq!(w.team_id("qa"), 20);
        assert_eq!(w.team_id("security"), 21);
    }

    #[test]
    fn open_pr_creates_forty_hex_shas_and_counts_indexes() {
        let mut w = world();
        let n = w.open_pr("widgets", "alice", "main", "feature/x");
        let m = w.open_pr("acme/widgets", "alice", "main", "feature/y");
        assert_eq!((n, m), (1, 2));
        let p = w.pull("widgets", n);
        assert_eq!(p.head_sha.len(), 40);
        assert!(p.head_sha.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(p.merge_base, w.branch("widgets", "main").sha);
        assert_ne!(p.head_sha, w.pull("widgets", m).head_sha);
    }

    #[test]
    fn push_makes_every_review_stale_but_those_on_the_new_head() {
        let mut w = world();
        let n = w.open_pr("widgets", "alice", "main", "f");
        let old = w.review("widgets", n, "bob", "APPROVED", "");
        let sha = w.push("widgets", n);
        let on_new = w.review("widgets", n, "sopbot", "COMMENT", "looks fine");
        let rs = w.reviews("widgets", n);
        assert!(rs.iter().find(|r| r.id == old).unwrap().stale);
        assert!(!rs.iter().find(|r| r.id == on_new).unwrap().stale);
        w.push_same_diff("widgets", n);
        let rs = w.reviews("widgets", n);
        assert!(
            !rs.iter().find(|r| r.id == on_new).unwrap().stale,
            "same diff keeps reviews"
        );
        assert_ne!(sha, w.head_sha("widgets", n));
    }

    #[test]
    fn a_new_verdict_makes_earlier_ones_unofficial_and_dismissed() {
        let mut w = world();
        let n = w.open_pr("widgets", "alice", "main", "f");
        let first = w.review("widgets", n, "bob", "APPROVED", "");
        let comment = w.review("widgets", n, "bob", "COMMENT", "one more thing");
        assert!(
            w.reviews("widgets", n)
                .iter()
                .find(|r| r.id == first)
                .unwrap()
                .official
        );
        let second = w.review("widgets", n, "bob", "REQUEST_CHANGES", "no");
        let rs = w.reviews("widgets", n);
        let get = |id| rs.iter().find(|r| r.id == id).unwrap();
        assert!(!get(first).official && get(first).dismissed);
        assert!(!get(comment).official && !get(comment).dismissed);
        assert!(get(second).official && !get(second).dismissed);
    }

    #[test]
    fn unofficial_and_read_only_reviewers_never_count() {
        let mut w = world().with_unofficial("bob").with_read_only("carol");
        let n = w.open_pr("widgets", "alice", "main", "f");
        let b = w.review("widgets", n, "bob", "APPROVED", "");
        let c = w.review("widgets", n, "carol", "APPROVED", "");
        assert!(
            w.reviews("widgets", n).iter().all(|r| !r.official),
            "{b} {c}"
        );
    }

    #[test]
    fn misfiled_event_strings_become_pending_with_a_timeline_entry() {
        let mut w = world();
        let n = w.open_pr("widgets", "alice", "main", "f");
        let id = w.review("widgets", n, "bob", "APPROVE", "LGTM");
        let r = &w.reviews("widgets", n)[0];
        assert_eq!((r.id, r.state.as_str(), r.official), (id, "PENDING", false));
        assert!(w
            .timeline("widgets", n)
            .iter()
            .any(|c| c.kind == CommentKind::Review && c.review_id == id));
    }

    #[test]
    #[should_panic(expected = "author")]
    fn the_author_cannot_approve_their_own_pr() {
        let mut w = world();
        let n = w.open_pr("widgets", "alice", "main", "f");
        w.review("widgets", n, "alice", "APPROVED", "");
    }

    #[test]
    fn review_requests_go_away_when_the_reviewer_answers() {
        let mut w = world();
        let n = w.open_pr("widgets", "alice", "main", "f");
        w.request_review("widgets", n, "bob");
        w.request_team_review("widgets", n, "qa");
        w.review("widgets", n, "bob", "APPROVED", "");
        assert!(w
            .reviews("widgets", n)
            .iter()
            .all(|r| r.state != "REQUEST_REVIEW"));
    }

    #[test]
    fn dismiss_only_touches_verdicts() {
        let mut w = world();
        let n = w.open_pr("widgets", "alice", "main", "f");
        let a = w.review("widgets", n, "bob", "APPROVED", "");
        let c = w.review("widgets", n, "sopbot", "COMMENT", "hm");
        w.dismiss("widgets", n, a);
        w.dismiss("widgets", n, c);
        let rs = w.reviews("widgets", n);
        assert!(rs[0].dismissed && !rs[1].dismissed);
    }

    #[test]
    fn dismiss_stale_approvals_dismisses_on_push() {
        let mut w = world().with_dismiss_stale_approvals("widgets", "main");
        let n = w.open_pr("widgets", "alice", "main", "f");
        w.review("widgets", n, "bob", "APPROVED", "");
        w.push("widgets", n);
        assert!(w.reviews("widgets", n)[0].dismissed);
    }

    #[test]
    fn merging_moves_the_base_branch_to_the_merge_commit() {
        let mut w = world();
        let n = w.open_pr("widgets", "alice", "main", "f");
        w.close_pr_by("widgets", n, true, "bob");
        let p = w.pull("widgets", n);
        assert!(p.merged);
        assert_eq!(p.merged_by.as_deref(), Some("bob"));
        assert_eq!(
            p.merge_commit_sha.as_ref().unwrap(),
            &w.branch("widgets", "main").sha
        );
        assert!(w.issue("widgets", n).closed);
    }

    #[test]
    fn team_access_follows_req_team_membership() {
        let w = world()
            .with_team("security", &["carol"])
            .with_user("mallory")
            .with_org_owner("olga")
            .with_site_admin("root");
        let qa = w.team_id("qa");
        assert_eq!(w.check_team_access("sopbot", qa), Ok(()));
        assert_eq!(w.check_team_access("olga", qa), Ok(()));
        assert_eq!(w.check_team_access("root", qa), Ok(()));
        assert_eq!(w.check_team_access("carol", qa), Err(TeamDenial::Forbidden));
        assert_eq!(
            w.check_team_access("mallory", qa),
            Err(TeamDenial::NotFound)
        );
        assert_eq!(
            w.check_team_access("sopbot", 999),
            Err(TeamDenial::NotFound)
        );
    }

    #[test]
    fn manual_clock_moves_a_second_per_event() {
        let mut w = world();
        let n = w.open_pr("widgets", "alice", "main", "f");
        let a = w.comment("widgets", n, "bob", "one");
        let b = w.comment("widgets", n, "bob", "two");
        let (ca, cb) = (w.comment_by_id(a).unwrap(), w.comment_by_id(b).unwrap());
        assert_eq!(cb.created - ca.created, Duration::seconds(1));
    }

    #[test]
    fn edits_keep_the_previous_body_and_deletes_keep_a_tombstone() {
        let mut w = world();
        let n = w.open_pr("widgets", "alice", "main", "f");
        let id = w.comment("widgets", n, "bob", "/refire qa");
        w.edit_comment("widgets", id, "/refire qa security");
        let c = w.comment_by_id(id).unwrap();
        assert_eq!(c.previous_body.as_deref(), Some("/refire qa"));
        assert!(c.updated > c.created);
        w.react(id, "sopbot", "eyes");
        w.delete_comment("widgets", id);
        assert!(w.comments("widgets", n).is_empty());
        assert!(w.reactions(id).is_empty());
        assert_eq!(w.deleted_comments[0].deleted_by.as_deref(), Some("bob"));
    }

    #[test]
    fn status_ids_count_per_sha() {
        let mut w = world();
        let n = w.open_pr("widgets", "alice", "main", "f");
        let sha = w.head_sha("widgets", n);
        let a = w.post_status("widgets", &sha, "sopbot", "pending", "qa", "", "");
        let b = w.post_status("widgets", &sha, "sopbot", "success", "qa", " ok ", "");
        let main = w.branch("widgets", "main").sha.clone();
        let c = w.post_status("widgets", &main, "sopbot", "success", "qa", "", "");
        assert_eq!((a.id, b.id, c.id), (1, 2, 1));
        assert_eq!(w.status("widgets", &sha, "qa").unwrap().description, "ok");
        assert_eq!(w.latest_statuses("widgets", &sha).len(), 1);
    }

    #[test]
    fn re_requesting_an_official_reviewer_clears_their_earlier_approval() {
        let mut w = world();
        let n = w.open_pr("widgets", "alice", "main", "f");
        w.review("widgets", n, "bob", "APPROVED", "ok");
        let official = |w: &World| {
            w.reviews("widgets", n)
                .iter()
                .filter(|r| r.user.as_deref() == Some("bob") && r.state == "APPROVED")
                .all(|r| r.official)
        };
        assert!(official(&w));
        w.request_review("widgets", n, "Bob");
        assert!(!official(&w));
        w.review("widgets", n, "bob", "APPROVED", "again");
        assert!(w
            .reviews("widgets", n)
            .iter()
            .any(|r| r.body == "again" && r.official));
    }

    #[test]
    fn prs_from_one_branch_share_their_head_and_move_together() {
        let mut w = world().with_branch("widgets", "release", true);
        let a = w.open_pr("widgets", "alice", "main", "f");
        let b = w.open_pr_from_branch("widgets", "alice", "release", "f");
        assert_eq!(w.head_sha("widgets", a), w.head_sha("widgets", b));
        let sha = w.push("widgets", a);
        assert_eq!(w.head_sha("widgets", b), sha);
        assert_eq!(w.branch("widgets", "f").sha, sha);
    }

    #[test]
    fn example_world_is_the_api_notes_scenario() {
        let w = World::example();
        let p = w.issue("widgets", 7);
        assert_eq!(p.author, "alice");
        assert_eq!(w.pull("widgets", 7).head_ref, "feature/rate-limiter");
        assert!(w.is_team_member(w.team_id("qa"), "bob"));
        assert!(w.is_team_member(w.team_id("security"), "carol"));
        assert!(w.is_team_member(w.team_id("security"), "sopbot"));
        assert_eq!(w.bot_token().as_deref(), Some("emu-token-sopbot"));
    }
}
