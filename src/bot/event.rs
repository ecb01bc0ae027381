//! sopbot's own event type: what the inbox stores (its JSON is the inbox payload) and what the
//! engine consumes, whichever edge saw it: the webhook (decoded from Gitea's format in
//! [`crate::gitea::webhook`]), the poller or the CLI. It keeps only what the engine needs;
//! everything else is fetched fresh from Gitea when the event is handled.
//!
//! The JSON form is stored: rows written by an earlier version are read back by a later one, so
//! a change to it must keep old payloads loading (see the test of stored payloads below).
//!
//! [`Event::dedup_key`] identifies an event by its content, not by its delivery: a replay from
//! Gitea's UI (a new `X-Gitea-Delivery`), an org hook next to a repo hook, and the poller
//! finding the same comment all give one key, so the inbox stores the event once.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::types::{CommitSha, PrNumber};

/// One thing that happened, as the engine sees it. Serialized with a `kind` tag
/// (`comment`, `pull_request`, `review`, `review_request`, `status`, `reevaluate`): that JSON
/// is the inbox payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A comment on a pull request was created, edited or deleted.
    Comment {
        /// `owner/name`.
        repo: String,
        pr: PrNumber,
        comment_id: i64,
        action: CommentAction,
        /// The comment's author (`None` for migrated comments whose user is `null`). On a
        /// deletion this is still the author, not who deleted it.
        author: Option<String>,
        /// The body; a deleted comment still carries it (a waiver to revoke).
        body: String,
        /// The comment's `updated_at`.
        #[serde(default)]
        updated_at: Option<DateTime<Utc>>,
        /// Who did it (the webhook's `sender`): on an edit, the editor, who may not be the
        /// author. `None` when unknown (the poller).
        #[serde(default)]
        sender: Option<String>,
    },
    /// A pull request was opened, reopened, pushed to, retargeted or closed.
    PullRequest {
        repo: String,
        pr: PrNumber,
        action: PrAction,
        /// Only meaningful with [`PrAction::Closed`].
        #[serde(default)]
        merged: bool,
        /// The PR's head commit as the payload gives it.
        head_sha: CommitSha,
        /// The PR's `updated_at`, which tells two events with the same action apart.
        #[serde(default)]
        updated_at: Option<DateTime<Utc>>,
    },
    /// A review approving or requesting changes was submitted. The payload carries no review
    /// id or state beyond the verdict: the engine reads the reviews from the API.
    Review {
        repo: String,
        pr: PrNumber,
        reviewer: Option<String>,
        verdict: ReviewVerdict,
        /// The PR's `updated_at`.
        #[serde(default)]
        updated_at: Option<DateTime<Utc>>,
    },
    /// A review was requested from `reviewer`, or the request withdrawn. Re-requesting a review
    /// makes Gitea clear `official` on the reviewer's earlier reviews: the gates are evaluated
    /// again at once.
    ReviewRequest {
        repo: String,
        pr: PrNumber,
        /// `review_request_removed` rather than `review_requested`.
        removed: bool,
        reviewer: Option<String>,
        /// The PR's `updated_at`.
        #[serde(default)]
        updated_at: Option<DateTime<Utc>>,
    },
    /// A commit status was posted (Gitea 1.23+). It names a commit, not a PR: the engine
    /// re-evaluates the open PRs whose head it is, so the status guard overturns a hand-posted
    /// verdict at once instead of at the next sweep.
    Status {
        repo: String,
        sha: CommitSha,
        context: String,
        state: String,
        /// The status's id: each posted status is one event.
        id: i64,
        /// Who posted it (the payload's `sender`).
        sender: Option<String>,
    },
    /// Evaluate all gates of a PR again (poller, CLI).
    Reevaluate {
        repo: String,
        pr: PrNumber,
        /// Why, for logs and the dedup key: one re-evaluation per distinct `why`.
        why: String,
        /// The reviews fingerprint the poller saw (`bot::pr_fingerprint`), recorded with
        /// the evaluation so the same reviews are not re-evaluated again.
        #[serde(default)]
        fingerprint: Option<String>,
    },
}

/// What happened to a comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommentAction {
    Created,
    Edited,
    Deleted,
}

/// What happened to a pull request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrAction {
    Opened,
    Reopened,
    /// New commits on the head branch.
    Synchronized,
    /// `edited` with `changes.ref`: the base branch changed.
    BaseChanged,
    /// Closed, merged or not (see `merged`).
    Closed,
}

/// The verdict of a submitted review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewVerdict {
    Approved,
    /// `REQUEST_CHANGES`.
    Rejected,
}

impl CommentAction {
    pub fn as_str(self) -> &'static str {
        match self {
            CommentAction::Created => "created",
            CommentAction::Edited => "edited",
            CommentAction::Deleted => "deleted",
        }
    }
}

impl PrAction {
    pub fn as_str(self) -> &'static str {
        match self {
            PrAction::Opened => "opened",
            PrAction::Reopened => "reopened",
            PrAction::Synchronized => "synchronized",
            PrAction::BaseChanged => "base_changed",
            PrAction::Closed => "closed",
        }
    }
}

impl ReviewVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewVerdict::Approved => "approved",
            ReviewVerdict::Rejected => "rejected",
        }
    }
}

impl Event {
    /// `owner/name` of the repository.
    pub fn repo(&self) -> &str {
        match self {
            Event::Comment { repo, .. }
            | Event::PullRequest { repo, .. }
            | Event::Review { repo, .. }
            | Event::ReviewRequest { repo, .. }
            | Event::Status { repo, .. }
            | Event::Reevaluate { repo, .. } => repo,
        }
    }

    /// The pull request number; `None` for a commit status, which is about a commit (its
    /// events form one queue per repository).
    pub fn pr(&self) -> Option<PrNumber> {
        match self {
            Event::Comment { pr, .. }
            | Event::PullRequest { pr, .. }
            | Event::Review { pr, .. }
            | Event::ReviewRequest { pr, .. }
            | Event::Reevaluate { pr, .. } => Some(*pr),
            Event::Status { .. } => None,
        }
    }

    /// The `kind` tag of the JSON form, also stored in the inbox's `kind` column.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Event::Comment { .. } => "comment",
            Event::PullRequest { .. } => "pull_request",
            Event::Review { .. } => "review",
            Event::ReviewRequest { .. } => "review_request",
            Event::Status { .. } => "status",
            Event::Reevaluate { .. } => "reevaluate",
        }
    }

    /// The same event with its repository spelled `repo` (the configured spelling: Gitea
    /// names are case-insensitive, config look-ups are not).
    pub fn with_repo(mut self, new: impl Into<String>) -> Event {
        let new = new.into();
        match &mut self {
            Event::Comment { repo, .. }
            | Event::PullRequest { repo, .. }
            | Event::Review { repo, .. }
            | Event::ReviewRequest { repo, .. }
            | Event::Status { repo, .. }
            | Event::Reevaluate { repo, .. } => *repo = new,
        }
        self
    }

    /// The inbox deduplication key: equal for the same event whichever path saw it.
    ///
    /// - `comment:{repo}:{id}:{action}:{sha256hex(body)}` — a redelivery, a second hook and
    ///   the poller all see the same id, action and body; an edit changes the body.
    /// - `pr:{repo}:{n}:{action}:{head_sha}:{updated_at}`
    /// - `review:{repo}:{n}:{reviewer}:{verdict}:{updated_at}` (the PR's `updated_at`: the
    ///   payload has no review id)
    /// - `review_request:{repo}:{n}:{requested|removed}:{reviewer}:{updated_at}`
    /// - `status:{repo}:{sha}:{context}:{id}` (a status is never posted twice)
    /// - `reeval:{repo}:{n}:{why}`, then `:{fingerprint}` when there is one (so a poller
    ///   that finds new reviews again with the same `why` is not taken for a duplicate)
    ///
    /// A missing reviewer or time is an empty field. Times are UTC RFC 3339 with `Z`, so a
    /// server in another zone gives the same key.
    pub fn dedup_key(&self) -> String {
        match self {
            Event::Comment {
                repo,
                comment_id,
                action,
                body,
                ..
            } => format!(
                "comment:{repo}:{comment_id}:{}:{}",
                action.as_str(),
                hex::encode(Sha256::digest(body.as_bytes()))
            ),
            Event::PullRequest {
                repo,
                pr,
                action,
                head_sha,
                updated_at,
                ..
            } => format!(
                "pr:{repo}:{pr}:{}:{head_sha}:{}",
                action.as_str(),
                key_time(updated_at)
            ),
            Event::Review {
                repo,
                pr,
                reviewer,
                verdict,
                updated_at,
            } => format!(
                "review:{repo}:{pr}:{}:{}:{}",
                reviewer.as_deref().unwrap_or(""),
                verdict.as_str(),
                key_time(updated_at)
            ),
            Event::ReviewRequest {
                repo,
                pr,
                removed,
                reviewer,
                updated_at,
            } => format!(
                "review_request:{repo}:{pr}:{}:{}:{}",
                if *removed { "removed" } else { "requested" },
                reviewer.as_deref().unwrap_or(""),
                key_time(updated_at)
            ),
            Event::Status {
                repo,
                sha,
                context,
                id,
                ..
            } => format!("status:{repo}:{sha}:{context}:{id}"),
            Event::Reevaluate {
                repo,
                pr,
                why,
                fingerprint: None,
            } => format!("reeval:{repo}:{pr}:{why}"),
            Event::Reevaluate {
                repo,
                pr,
                why,
                fingerprint: Some(fp),
            } => format!("reeval:{repo}:{pr}:{why}:{fp}"),
        }
    }

    /// The JSON stored as the inbox payload.
    pub fn to_json(&self) -> String {
        // A derived Serialize of strings, numbers and enums cannot fail.
        serde_json::to_string(self).expect("an Event always serializes")
    }
}

fn key_time(t: &Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        .unwrap_or_default()
}

impl fmt::Display for Event {
    /// A short description for logs: no bodies.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Comment {
                repo,
                pr,
                comment_id,
                action,
                ..
            } => write!(f, "comment {comment_id} {} on {repo}#{pr}", action.as_str()),
            Event::PullRequest {
                repo, pr, action, ..
            } => write!(f, "pull request {repo}#{pr} {}", action.as_str()),
            Event::Review {
                repo, pr, verdict, ..
            } => write!(f, "review {} on {repo}#{pr}", verdict.as_str()),
            Event::ReviewRequest {
                repo, pr, removed, ..
            } => {
                let what = if *removed { "withdrawn" } else { "made" };
                write!(f, "review request {what} on {repo}#{pr}")
            }
            Event::Status {
                repo, sha, context, ..
            } => write!(f, "status {context} on {repo}@{sha}"),
            Event::Reevaluate { repo, pr, .. } => write!(f, "re-evaluation of {repo}#{pr}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inbox payloads exactly as the previous version stored them (one per kind, with fields
    /// it left out): after an upgrade they load and keep their dedup keys.
    #[test]
    fn stored_payloads_of_the_previous_version_load() {
        let refire = hex::encode(Sha256::digest("/refire qa"));
        let stored = [
            (
                r#"{"kind":"comment","repo":"acme/widgets","pr":7,"comment_id":1042,"action":"created","author":"bob","body":"/refire qa","updated_at":"2026-03-02T14:03:27Z","sender":"bob"}"#,
                format!("comment:acme/widgets:1042:created:{refire}"),
            ),
            (
                r#"{"kind":"pull_request","repo":"acme/widgets","pr":7,"action":"synchronized","merged":false,"head_sha":"e4e6e9ec","updated_at":"2026-03-03T09:02:18Z"}"#,
                "pr:acme/widgets:7:synchronized:e4e6e9ec:2026-03-03T09:02:18Z".to_string(),
            ),
            (
                r#"{"kind":"review","repo":"acme/widgets","pr":7,"reviewer":"bob","verdict":"approved","updated_at":"2026-03-03T10:40:09Z"}"#,
                "review:acme/widgets:7:bob:approved:2026-03-03T10:40:09Z".to_string(),
            ),
            (
                r#"{"kind":"review_request","repo":"acme/widgets","pr":7,"removed":true,"reviewer":null}"#,
                "review_request:acme/widgets:7:removed::".to_string(),
            ),
            (
                r#"{"kind":"status","repo":"acme/widgets","sha":"e4e6e9ec","context":"qa-review / approved","state":"success","id":41,"sender":"alice"}"#,
                "status:acme/widgets:e4e6e9ec:qa-review / approved:41".to_string(),
            ),
            (
                r#"{"kind":"reevaluate","repo":"a/b","pr":1,"why":"cli"}"#,
                "reeval:a/b:1:cli".to_string(),
            ),
        ];
        for (json, key) in stored {
            let event: Event = serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(event.dedup_key(), key, "{json}");
            let again: Event = serde_json::from_str(&event.to_json()).unwrap();
            assert_eq!(again, event, "{json}");
        }
    }
}
