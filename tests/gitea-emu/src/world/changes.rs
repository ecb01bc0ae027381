//! What a PR changes and who wrote it: its changed files (`GET /pulls/{n}/files`) and its
//! commits with their git identities (`GET /pulls/{n}/commits`). Opening a PR records one
//! commit by its author changing `README.md` and `src/lib.rs`; every push records one more by
//! the author; tests set other files, identities, and force-pushes explicitly.

use chrono::{DateTime, Utc};

use super::{User, World};

/// One changed file, as Gitea's `ChangedFile` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedFile {
    pub filename: String,
    /// The old name of a renamed file; empty otherwise.
    pub previous_filename: String,
    /// `added`, `modified`, `deleted` or `renamed`.
    pub status: String,
}

/// A git identity (`user.name`, `user.email`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitIdent {
    pub name: String,
    pub email: String,
}

impl GitIdent {
    /// An identity no account has (an unregistered email).
    pub fn stranger(name: &str) -> Self {
        GitIdent {
            name: name.into(),
            email: format!("{name}@elsewhere.example"),
        }
    }
}

/// One commit of a PR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrCommit {
    pub sha: String,
    pub author: GitIdent,
    pub committer: GitIdent,
    pub message: String,
    pub created: DateTime<Utc>,
}

/// The files and commits of one PR.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrChanges {
    pub files: Vec<ChangedFile>,
    pub commits: Vec<PrCommit>,
    /// What `/pulls/{n}/files` still serves while `refs/pull/N/head` lags a push: an older
    /// head and its files (Gitea moves the ref after the push, asynchronously).
    pub lagging: Option<(String, Vec<ChangedFile>)>,
}

fn modified(path: &str) -> ChangedFile {
    ChangedFile {
        filename: path.into(),
        previous_filename: String::new(),
        status: "modified".into(),
    }
}

impl World {
    /// A user's git identity: their full name (or login) and email.
    pub fn identity(&self, login: &str) -> GitIdent {
        let u = self
            .user(login)
            .unwrap_or_else(|| panic!("gitea-emu: no user {login:?}"));
        GitIdent {
            name: if u.full_name.is_empty() {
                u.login.clone()
            } else {
                u.full_name.clone()
            },
            email: u.email.clone(),
        }
    }

    /// The account Gitea links to a git email (`GetUserByEmail`: case-insensitive).
    pub fn user_by_email(&self, email: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| !u.email.is_empty() && u.email.eq_ignore_ascii_case(email))
    }

    /// The PR's files and commits.
    pub fn pr_changes(&self, repo: &str, n: u64) -> PrChanges {
        let id = self.repo(repo).id;
        self.pr_changes.get(&(id, n)).cloned().unwrap_or_default()
    }

    /// Called when a PR is opened or pushed to: one commit `sha` by `author`. Opening also sets
    /// the default files.
    pub(super) fn record_commit(&mut self, repo_id: i64, n: u64, sha: &str, author: &str) {
        let ident = self.identity(author);
        let created = self.now();
        let c = self.pr_changes.entry((repo_id, n)).or_default();
        if c.commits.is_empty() && c.files.is_empty() {
            c.files = vec![modified("README.md"), modified("src/lib.rs")];
        }
        c.commits.push(PrCommit {
            sha: sha.into(),
            author: ident.clone(),
            committer: ident,
            message: format!("Change {}", &sha[..7]),
            created,
        });
    }

    fn changes_mut(&mut self, repo: &str, n: u64) -> &mut PrChanges {
        let id = self.repo(repo).id;
        self.issue(repo, n);
        self.pr_changes.entry((id, n)).or_default()
    }

    /// From now until [`World::catch_up_diff`], `/pulls/{n}/files` and `/commits` answer as of
    /// the PR's current head, whatever is pushed meanwhile: the lag of `refs/pull/N/head`.
    pub fn lag_diff(&mut self, repo: &str, n: u64) {
        let head = self.head_sha(repo, n);
        let c = self.changes_mut(repo, n);
        c.lagging = Some((head, c.files.clone()));
    }

    /// Gitea has moved `refs/pull/N/head` to the pushed head.
    pub fn catch_up_diff(&mut self, repo: &str, n: u64) {
        self.changes_mut(repo, n).lagging = None;
    }

    /// Sets the PR's changed files (all `modified`).
    pub fn set_pr_files(&mut self, repo: &str, n: u64, paths: &[&str]) {
        let files: Vec<ChangedFile> = paths.iter().map(|p| modified(p)).collect();
        let count = files.len() as i64;
        self.changes_mut(repo, n).files = files;
        super::pull_mut(self.issue_mut(repo, n)).changed_files = count;
    }

    /// Adds a rename `from` → `to` to the PR's changed files.
    pub fn rename_pr_file(&mut self, repo: &str, n: u64, from: &str, to: &str) {
        self.changes_mut(repo, n).files.push(ChangedFile {
            filename: to.into(),
            previous_filename: from.into(),
            status: "renamed".into(),
        });
    }

    /// Pushes a commit written by `author` and committed by `committer` (a push by the PR's
    /// author, as [`World::push`]); returns the new head.
    pub fn push_commit(
        &mut self,
        repo: &str,
        n: u64,
        author: GitIdent,
        committer: GitIdent,
    ) -> String {
        let sha = self.push(repo, n);
        let last = self
            .changes_mut(repo, n)
            .commits
            .last_mut()
            .expect("push records a commit");
        last.author = author;
        last.committer = committer;
        sha
    }

    /// Force-pushes the PR to a new history: its commits become `commits` (author, committer
    /// pairs), the last one the new head; returns it.
    pub fn force_push(&mut self, repo: &str, n: u64, commits: &[(GitIdent, GitIdent)]) -> String {
        assert!(
            !commits.is_empty(),
            "gitea-emu: a force-push needs a commit"
        );
        let head = self.push(repo, n);
        let created = self.now();
        let mut history = Vec::with_capacity(commits.len());
        for (i, (author, committer)) in commits.iter().enumerate() {
            let sha = if i + 1 == commits.len() {
                head.clone()
            } else {
                self.new_sha()
            };
            history.push(PrCommit {
                message: format!("Change {}", &sha[..7]),
                sha,
                author: author.clone(),
                committer: committer.clone(),
                created,
            });
        }
        self.changes_mut(repo, n).commits = history;
        head
    }
}
