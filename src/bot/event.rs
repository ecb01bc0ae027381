//! sopbot's own event type, and the decoding of Gitea webhook deliveries into it.
//!
//! An [`Event`] is what the inbox stores (its JSON is the inbox payload) and what the engine
//! consumes, whichever edge saw it: the webhook, the poller or the CLI. It keeps only what the
//! engine needs; everything else is fetched fresh from Gitea when the event is handled.
//!
//! [`decode`] dispatches on `X-Gitea-Event-Type` (`docs/gitea-api.md` §6: the
//! coarse `X-Gitea-Event` files PR comments under `issue_comment` and review *comments* under
//! `pull_request_comment`); [`decode_coarse`] is the fallback when only `X-Gitea-Event` came.
//! Payloads are read field by field from a [`serde_json::Value`], so that an error names the
//! field that is missing (`comment.body`) and unknown or extra fields never matter.
//!
//! [`Event::dedup_key`] identifies an event by its content, not by its delivery: a replay from
//! Gitea's UI (a new `X-Gitea-Delivery`), an org hook next to a repo hook, and the poller
//! finding the same comment all give one key, so the inbox stores the event once.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

mod prune;

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
        pr: u64,
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
        pr: u64,
        action: PrAction,
        /// Only meaningful with [`PrAction::Closed`].
        #[serde(default)]
        merged: bool,
        /// The PR's head commit as the payload gives it.
        head_sha: String,
        /// The PR's `updated_at`, which tells two events with the same action apart.
        #[serde(default)]
        updated_at: Option<DateTime<Utc>>,
    },
    /// A review approving or requesting changes was submitted. The payload carries no review
    /// id or state beyond the verdict: the engine reads the reviews from the API.
    Review {
        repo: String,
        pr: u64,
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
        pr: u64,
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
        sha: String,
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
        pr: u64,
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
    pub fn pr(&self) -> Option<u64> {
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

/// The outcome of decoding a delivery that is well-formed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// An event for the inbox.
    Event(Event),
    /// A delivery sopbot does not act on, and why (answered `200 ignored: <why>`).
    Ignored(&'static str),
}

/// A delivery whose body is not the event its headers claim (answered 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The body is not JSON at all. `detail` is serde_json's position message.
    #[error("the body is not JSON: {detail}")]
    NotJson { detail: String },
    /// The body is JSON but not an object.
    #[error("the body is JSON but not an object")]
    NotObject,
    /// A field the event needs is absent or `null`.
    #[error("{event} payload has no `{field}`")]
    Missing {
        event: &'static str,
        field: &'static str,
    },
    /// A field the event needs has the wrong type or an impossible value.
    #[error("{event} payload has an invalid `{field}`: {detail}")]
    Invalid {
        event: &'static str,
        field: &'static str,
        detail: String,
    },
}

impl DecodeError {
    /// The offending field, if one. Logs name it instead of the message, whose detail may
    /// quote payload content.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            DecodeError::Missing { field, .. } | DecodeError::Invalid { field, .. } => Some(field),
            DecodeError::NotJson { .. } | DecodeError::NotObject => None,
        }
    }
}

/// Decodes a delivery by its `X-Gitea-Event-Type` (see the module header).
///
/// | event type | gives |
/// | --- | --- |
/// | `pull_request_comment` | [`Event::Comment`] (created / edited / deleted) |
/// | `pull_request` | [`Event::PullRequest`]: opened / reopened / closed / edited with `changes.ref` |
/// | `pull_request_sync` | [`Event::PullRequest`] with [`PrAction::Synchronized`] |
/// | `pull_request_review_approved` / `_rejected` | [`Event::Review`] |
/// | `pull_request_review_request` (requested or removed) | [`Event::ReviewRequest`] |
/// | `status` (Gitea 1.23+) | [`Event::Status`] |
/// | anything else (`issue_comment` on plain issues, review comments, labels, …) | ignored |
///
/// Ignored types are not parsed: their body may be anything.
pub fn decode(event_type: &str, body: &[u8]) -> Result<Decoded, DecodeError> {
    match event_type.trim() {
        "pull_request_comment" => comment(&parse(body)?, PR_COMMENT, false),
        "pull_request" => pull_request(&parse(body)?, PULL_REQUEST),
        "pull_request_sync" => pull_request_sync(&parse(body)?),
        "pull_request_review_approved" => review(&parse(body)?, APPROVED, ReviewVerdict::Approved),
        "pull_request_review_rejected" => review(&parse(body)?, REJECTED, ReviewVerdict::Rejected),
        "issue_comment" => Ok(Decoded::Ignored("comment on an issue, not a pull request")),
        "pull_request_review_comment" => Ok(Decoded::Ignored("review comment")),
        "pull_request_review_request" => review_request(&parse(body)?),
        "pull_request_label" | "pull_request_assign" | "pull_request_milestone" => {
            Ok(Decoded::Ignored("labels, assignees or milestone"))
        }
        "status" => status(&parse(body)?),
        "" => Ok(Decoded::Ignored("no event type")),
        _ => Ok(Decoded::Ignored("event type not handled")),
    }
}

/// Decodes a delivery that carries only the coarse `X-Gitea-Event` (no `X-Gitea-Event-Type`):
/// the §10 mapping where it is unambiguous, the payload deciding where the header alone is not.
///
/// - `pull_request_approved` / `pull_request_rejected` are the review verdicts;
/// - `issue_comment` is a PR comment when the payload says it is on a PR (`is_pull`,
///   `issue.pull_request`), else a plain-issue comment (ignored);
/// - `pull_request` covers opened … synchronized and the label, assignee and review-request
///   changes: its `action` tells which, and only ours are decoded;
/// - `status` is the commit status event, as with the event type;
/// - `pull_request_comment` is a *review* comment (ignored), like every other event.
pub fn decode_coarse(event: &str, body: &[u8]) -> Result<Decoded, DecodeError> {
    match event.trim() {
        "pull_request_approved" => decode("pull_request_review_approved", body),
        "pull_request_rejected" => decode("pull_request_review_rejected", body),
        "issue_comment" => comment(&parse(body)?, ISSUE_COMMENT, true),
        "pull_request" => pull_request(&parse(body)?, PULL_REQUEST),
        "pull_request_comment" => Ok(Decoded::Ignored("review comment")),
        "status" => status(&parse(body)?),
        "" => Ok(Decoded::Ignored("no event type")),
        _ => Ok(Decoded::Ignored("event type not handled")),
    }
}

// Event names used in error messages.
const PR_COMMENT: &str = "pull_request_comment";
const ISSUE_COMMENT: &str = "issue_comment";
const PULL_REQUEST: &str = "pull_request";
const PR_SYNC: &str = "pull_request_sync";
const APPROVED: &str = "pull_request_review_approved";
const REJECTED: &str = "pull_request_review_rejected";
const REVIEW_REQUEST: &str = "pull_request_review_request";
const STATUS: &str = "status";

/// The body as a `Value` holding only the fields decoders read ([`prune`]).
fn parse(body: &[u8]) -> Result<Value, DecodeError> {
    let v = prune::parse(body, &prune::PAYLOAD).map_err(|e| DecodeError::NotJson {
        detail: e.to_string(),
    })?;
    if v.is_object() {
        Ok(v)
    } else {
        Err(DecodeError::NotObject)
    }
}

/// `IssueCommentPayload`: `action`, `issue.number`, `comment.{id,body,user,updated_at}`,
/// `repository.full_name`. With `lenient_issue`, a comment that is not on a PR is ignored
/// instead of read (the coarse `issue_comment` covers both).
fn comment(v: &Value, event: &'static str, lenient_issue: bool) -> Result<Decoded, DecodeError> {
    let p = Payload { v, event };
    let action = match p.req::<String>("action")?.as_str() {
        "created" => CommentAction::Created,
        "edited" => CommentAction::Edited,
        "deleted" => CommentAction::Deleted,
        _ => return Ok(Decoded::Ignored("comment action not handled")),
    };
    let repo = p.repo()?;
    p.req::<Value>("issue")?;
    p.req::<Value>("comment")?;
    let on_pr = p.opt::<Value>("issue.pull_request")?.is_some()
        || p.opt::<bool>("is_pull")?.unwrap_or(false);
    if !on_pr {
        return Ok(Decoded::Ignored(if lenient_issue {
            "comment on an issue, not a pull request"
        } else {
            "comment payload says it is not on a pull request"
        }));
    }
    let pr = p.number("issue.number")?;
    Ok(Decoded::Event(Event::Comment {
        repo,
        pr,
        comment_id: p.req("comment.id")?,
        action,
        author: p.login("comment.user.login")?,
        body: p.req("comment.body")?,
        updated_at: p.time("comment.updated_at")?,
        sender: p.login("sender.login")?,
    }))
}

/// `PullRequestPayload` with `X-Gitea-Event-Type: pull_request` (or the coarse event).
fn pull_request(v: &Value, event: &'static str) -> Result<Decoded, DecodeError> {
    let p = Payload { v, event };
    let action = match p.req::<String>("action")?.as_str() {
        "opened" => PrAction::Opened,
        "reopened" => PrAction::Reopened,
        "closed" => PrAction::Closed,
        "synchronized" => PrAction::Synchronized,
        "edited" if p.opt::<Value>("changes.ref")?.is_some() => PrAction::BaseChanged,
        "edited" => return Ok(Decoded::Ignored("pull request edited, base unchanged")),
        "review_requested" | "review_request_removed" => return review_request(v),
        _ => return Ok(Decoded::Ignored("pull request action not handled")),
    };
    pr_event(&p, action)
}

fn pull_request_sync(v: &Value) -> Result<Decoded, DecodeError> {
    pr_event(&Payload { v, event: PR_SYNC }, PrAction::Synchronized)
}

fn pr_event(p: &Payload<'_>, action: PrAction) -> Result<Decoded, DecodeError> {
    let repo = p.repo()?;
    let pr = p.pr_number()?;
    Ok(Decoded::Event(Event::PullRequest {
        repo,
        pr,
        action,
        merged: p.opt("pull_request.merged")?.unwrap_or(false),
        head_sha: p.req("pull_request.head.sha")?,
        updated_at: p.time("pull_request.updated_at")?,
    }))
}

/// A review event: the reviewer is the `sender` (§10: `sender` and `requested_reviewer` are
/// both the reviewer).
fn review(v: &Value, event: &'static str, verdict: ReviewVerdict) -> Result<Decoded, DecodeError> {
    let p = Payload { v, event };
    let repo = p.repo()?;
    let pr = p.pr_number()?;
    let reviewer = match p.login("sender.login")? {
        Some(login) => Some(login),
        None => p.login("requested_reviewer.login")?,
    };
    Ok(Decoded::Event(Event::Review {
        repo,
        pr,
        reviewer,
        verdict,
        updated_at: p.time("pull_request.updated_at")?,
    }))
}

/// `PullRequestPayload` with action `review_requested` or `review_request_removed` (Gitea has
/// one event type for both: `services/webhook/notifier.go` `PullRequestReviewRequest`). The
/// requested user is `requested_reviewer`; a team request arrives once per member.
fn review_request(v: &Value) -> Result<Decoded, DecodeError> {
    let p = Payload {
        v,
        event: REVIEW_REQUEST,
    };
    let removed = match p.req::<String>("action")?.as_str() {
        "review_requested" => false,
        "review_request_removed" => true,
        _ => return Ok(Decoded::Ignored("review request action not handled")),
    };
    Ok(Decoded::Event(Event::ReviewRequest {
        repo: p.repo()?,
        pr: p.pr_number()?,
        removed,
        reviewer: p.login("requested_reviewer.login")?,
        updated_at: p.time("pull_request.updated_at")?,
    }))
}

/// `CommitStatusPayload` (`modules/structs/hook.go`, Gitea 1.23+): `sha`, `context`, `state`,
/// `id`, `sender`, `repository`. Whether sopbot acts on it (its own contexts, not its own
/// statuses) is the webhook handler's decision: it knows the configuration.
fn status(v: &Value) -> Result<Decoded, DecodeError> {
    let p = Payload { v, event: STATUS };
    let repo = p.repo()?;
    let sha: String = p.req("sha")?;
    if sha.is_empty() || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(p.invalid("sha", "not a commit id"));
    }
    Ok(Decoded::Event(Event::Status {
        repo,
        sha,
        context: p.req("context")?,
        state: p.req("state")?,
        id: p.req("id")?,
        sender: p.login("sender.login")?,
    }))
}

/// A payload being read, with the event name for error messages.
struct Payload<'a> {
    v: &'a Value,
    event: &'static str,
}

impl Payload<'_> {
    /// The value at a dotted path; `None` when a step is absent or `null`.
    fn at(&self, path: &str) -> Option<&Value> {
        path.split('.')
            .try_fold(self.v, |v, key| v.get(key))
            .filter(|v| !v.is_null())
    }

    fn opt<T: DeserializeOwned>(&self, path: &'static str) -> Result<Option<T>, DecodeError> {
        self.at(path)
            .map(|v| {
                T::deserialize(v).map_err(|e| DecodeError::Invalid {
                    event: self.event,
                    field: path,
                    detail: e.to_string(),
                })
            })
            .transpose()
    }

    fn req<T: DeserializeOwned>(&self, path: &'static str) -> Result<T, DecodeError> {
        self.opt(path)?.ok_or(DecodeError::Missing {
            event: self.event,
            field: path,
        })
    }

    fn invalid(&self, field: &'static str, detail: &str) -> DecodeError {
        DecodeError::Invalid {
            event: self.event,
            field,
            detail: detail.to_string(),
        }
    }

    /// `repository.full_name`, which must look like `owner/name`.
    fn repo(&self) -> Result<String, DecodeError> {
        const FIELD: &str = "repository.full_name";
        let name: String = self.req(FIELD)?;
        match name.split_once('/') {
            Some((o, n)) if !o.is_empty() && !n.is_empty() && !n.contains('/') => Ok(name),
            _ => Err(self.invalid(FIELD, "not of the form owner/name")),
        }
    }

    /// A PR number: positive and storable as an SQLite integer.
    fn number(&self, path: &'static str) -> Result<u64, DecodeError> {
        let n: u64 = self.req(path)?;
        if n == 0 || i64::try_from(n).is_err() {
            return Err(self.invalid(path, "not a pull request number"));
        }
        Ok(n)
    }

    /// `pull_request.number`, or the top-level `number` when the PR object lacks one. The PR
    /// object itself is required: the head and `updated_at` come from it.
    fn pr_number(&self) -> Result<u64, DecodeError> {
        self.req::<Value>("pull_request")?;
        if self.at("pull_request.number").is_some() {
            self.number("pull_request.number")
        } else {
            self.number("number")
        }
    }

    /// A user's login; an empty login counts as none.
    fn login(&self, path: &'static str) -> Result<Option<String>, DecodeError> {
        Ok(self.opt::<String>(path)?.filter(|l| !l.is_empty()))
    }

    /// A time in any RFC 3339 offset, as UTC. Unparsable times are `None`: they only refine
    /// dedup keys and are not worth refusing an event for.
    fn time(&self, path: &'static str) -> Result<Option<DateTime<Utc>>, DecodeError> {
        Ok(self.opt::<String>(path).ok().flatten().and_then(|s| {
            DateTime::parse_from_rfc3339(&s)
                .ok()
                .map(|t| t.with_timezone(&Utc))
        }))
    }
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
    use proptest::prelude::*;
    use std::path::PathBuf;

    fn examples_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/gitea-emu/fixtures/gitea/webhooks")
    }

    /// The example body and the header set Gitea sent with it.
    fn example(file: &str) -> (Vec<u8>, serde_json::Map<String, Value>) {
        let dir = examples_dir();
        let headers: Value =
            serde_json::from_slice(&std::fs::read(dir.join("headers.json")).unwrap()).unwrap();
        let h = headers[file].as_object().unwrap().clone();
        (std::fs::read(dir.join(file)).unwrap(), h)
    }

    fn decode_example(file: &str) -> Decoded {
        let (body, h) = example(file);
        decode(h["X-Gitea-Event-Type"].as_str().unwrap(), &body).unwrap()
    }

    fn event_of(file: &str) -> Event {
        match decode_example(file) {
            Decoded::Event(e) => e,
            other => panic!("{file}: {other:?}"),
        }
    }

    fn t(s: &str) -> Option<DateTime<Utc>> {
        Some(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc))
    }

    const REFIRE: &str = "Team membership was fixed, re-checking.\n/refire qa";

    #[test]
    fn every_example_file_is_covered() {
        let mut files: Vec<String> = std::fs::read_dir(examples_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|f| f.ends_with(".json") && f != "headers.json")
            .collect();
        files.sort();
        assert_eq!(
            files,
            [
                "issue_comment_created.json",
                "issue_comment_deleted.json",
                "issue_comment_edited.json",
                "pull_request_closed_merged.json",
                "pull_request_opened.json",
                "pull_request_review_approved.json",
                "pull_request_review_rejected.json",
                "pull_request_review_request.json",
                "pull_request_synchronized.json",
                "status_success_by_hand.json",
            ]
        );
        for f in &files {
            assert!(matches!(decode_example(f), Decoded::Event(_)), "{f}");
        }
    }

    #[test]
    fn review_request_is_a_review_request_event() {
        let e = event_of("pull_request_review_request.json");
        assert_eq!(
            e,
            Event::ReviewRequest {
                repo: "acme/widgets".into(),
                pr: 7,
                removed: false,
                reviewer: Some("carol".into()),
                updated_at: t("2026-03-03T10:40:09Z"),
            }
        );
        assert_eq!(e.kind_name(), "review_request");
        assert_eq!(e.pr(), Some(7));
        assert_eq!(
            e.dedup_key(),
            "review_request:acme/widgets:7:requested:carol:2026-03-03T10:40:09Z"
        );
        let (body, _) = example("pull_request_review_request.json");
        let text = String::from_utf8(body).unwrap().replacen(
            "\"action\": \"review_requested\"",
            "\"action\": \"review_request_removed\"",
            1,
        );
        let Decoded::Event(removed) =
            decode("pull_request_review_request", text.as_bytes()).unwrap()
        else {
            panic!("ignored")
        };
        assert!(matches!(
            removed,
            Event::ReviewRequest { removed: true, .. }
        ));
        assert_ne!(removed.dedup_key(), e.dedup_key());
        // Only the coarse header: `pull_request` with the review-request action.
        assert_eq!(
            decode_coarse("pull_request", text.as_bytes()).unwrap(),
            Decoded::Event(removed)
        );
    }

    #[test]
    fn status_is_a_status_event_without_a_pr() {
        let e = event_of("status_success_by_hand.json");
        assert_eq!(
            e,
            Event::Status {
                repo: "acme/widgets".into(),
                sha: "e4e6e9ec6e81c321e9cb30e1d44458c60d5ecafe".into(),
                context: "qa-review / approved".into(),
                state: "success".into(),
                id: 41,
                sender: Some("alice".into()),
            }
        );
        assert_eq!((e.kind_name(), e.pr()), ("status", None));
        assert_eq!(
            e.dedup_key(),
            "status:acme/widgets:e4e6e9ec6e81c321e9cb30e1d44458c60d5ecafe:qa-review / approved:41"
        );
        let (body, _) = example("status_success_by_hand.json");
        assert_eq!(decode_coarse("status", &body).unwrap(), Decoded::Event(e));
        let bad = String::from_utf8(body).unwrap().replace(
            "\"sha\": \"e4e6e9ec6e81c321e9cb30e1d44458c60d5ecafe\"",
            "\"sha\": \"../etc\"",
        );
        assert_eq!(
            decode("status", bad.as_bytes()).unwrap_err().field(),
            Some("sha")
        );
    }

    #[test]
    fn pr_comment_created_is_a_comment_event() {
        let e = event_of("issue_comment_created.json");
        assert_eq!(
            e,
            Event::Comment {
                repo: "acme/widgets".into(),
                pr: 7,
                comment_id: 1042,
                action: CommentAction::Created,
                author: Some("bob".into()),
                body: REFIRE.into(),
                updated_at: t("2026-03-02T14:03:27Z"),
                sender: Some("bob".into()),
            }
        );
        assert_eq!(e.kind_name(), "comment");
        assert_eq!((e.repo(), e.pr()), ("acme/widgets", Some(7)));
        assert_eq!(
            e.dedup_key(),
            format!(
                "comment:acme/widgets:1042:created:{}",
                hex::encode(Sha256::digest(REFIRE))
            )
        );
    }

    #[test]
    fn edited_comment_carries_the_new_body_and_a_new_key() {
        let created = event_of("issue_comment_created.json");
        let edited = event_of("issue_comment_edited.json");
        let Event::Comment {
            action,
            body,
            comment_id,
            updated_at,
            ..
        } = &edited
        else {
            panic!("{edited:?}")
        };
        assert_eq!(*action, CommentAction::Edited);
        assert_eq!(*comment_id, 1042);
        assert!(body.ends_with("/refire qa security"));
        assert_eq!(*updated_at, t("2026-03-02T14:05:02Z"));
        assert_ne!(created.dedup_key(), edited.dedup_key());
        assert!(edited
            .dedup_key()
            .starts_with("comment:acme/widgets:1042:edited:"));
    }

    #[test]
    fn deleted_comment_keeps_author_and_body() {
        let e = event_of("issue_comment_deleted.json");
        let Event::Comment {
            action,
            author,
            body,
            comment_id,
            ..
        } = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!(*action, CommentAction::Deleted);
        assert_eq!(author.as_deref(), Some("carol"));
        assert_eq!(*comment_id, 1047);
        assert_eq!(body, "/sop-n/a security-review — docs-only change");
    }

    #[test]
    fn pull_request_examples() {
        assert_eq!(
            event_of("pull_request_opened.json"),
            Event::PullRequest {
                repo: "acme/widgets".into(),
                pr: 7,
                action: PrAction::Opened,
                merged: false,
                head_sha: "a13c339ad9f05d355c00842a246adb36420e01d6".into(),
                updated_at: t("2026-03-02T10:15:04Z"),
            }
        );
        let sync = event_of("pull_request_synchronized.json");
        assert_eq!(
            sync.dedup_key(),
            "pr:acme/widgets:7:synchronized:e4e6e9ec6e81c321e9cb30e1d44458c60d5ecafe:\
             2026-03-03T09:02:18Z"
        );
        let merged = event_of("pull_request_closed_merged.json");
        assert!(matches!(
            merged,
            Event::PullRequest {
                action: PrAction::Closed,
                merged: true,
                ..
            }
        ));
        assert_eq!(merged.kind_name(), "pull_request");
    }

    #[test]
    fn review_examples() {
        let approved = event_of("pull_request_review_approved.json");
        assert_eq!(
            approved,
            Event::Review {
                repo: "acme/widgets".into(),
                pr: 7,
                reviewer: Some("bob".into()),
                verdict: ReviewVerdict::Approved,
                updated_at: t("2026-03-03T10:40:09Z"),
            }
        );
        assert_eq!(
            approved.dedup_key(),
            "review:acme/widgets:7:bob:approved:2026-03-03T10:40:09Z"
        );
        let rejected = event_of("pull_request_review_rejected.json");
        assert!(matches!(
            &rejected,
            Event::Review { reviewer: Some(r), verdict: ReviewVerdict::Rejected, .. } if r == "carol"
        ));
        assert_eq!(rejected.kind_name(), "review");
    }

    #[test]
    fn coarse_event_header_gives_the_same_events() {
        for file in [
            "issue_comment_created.json",
            "issue_comment_edited.json",
            "issue_comment_deleted.json",
            "pull_request_opened.json",
            "pull_request_synchronized.json",
            "pull_request_closed_merged.json",
            "pull_request_review_approved.json",
            "pull_request_review_rejected.json",
        ] {
            let (body, h) = example(file);
            let coarse = decode_coarse(h["X-Gitea-Event"].as_str().unwrap(), &body).unwrap();
            assert_eq!(coarse, decode_example(file), "{file}");
        }
        assert_eq!(
            decode_coarse("pull_request_comment", b"not even json"),
            Ok(Decoded::Ignored("review comment"))
        );
    }

    fn modified(file: &str, edit: impl FnOnce(&mut Value)) -> Vec<u8> {
        let (body, _) = example(file);
        let mut v: Value = serde_json::from_slice(&body).unwrap();
        edit(&mut v);
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn plain_issue_comments_are_ignored() {
        let body = modified("issue_comment_created.json", |v| {
            v["issue"]["pull_request"] = Value::Null;
            v["is_pull"] = Value::Bool(false);
            v.as_object_mut().unwrap().remove("pull_request");
        });
        assert!(matches!(
            decode("issue_comment", &body),
            Ok(Decoded::Ignored(_))
        ));
        assert!(matches!(
            decode_coarse("issue_comment", &body),
            Ok(Decoded::Ignored(_))
        ));
        assert!(matches!(
            decode("pull_request_comment", &body),
            Ok(Decoded::Ignored(_))
        ));
        // Gitea before 1.25: no top-level pull_request, but is_pull says it is a PR.
        let old = modified("issue_comment_created.json", |v| {
            v["issue"]["pull_request"] = Value::Null;
            v.as_object_mut().unwrap().remove("pull_request");
        });
        assert!(matches!(
            decode("pull_request_comment", &old),
            Ok(Decoded::Event(Event::Comment { pr: 7, .. }))
        ));
    }

    #[test]
    fn null_users_are_tolerated() {
        let body = modified("issue_comment_created.json", |v| {
            v["comment"]["user"] = Value::Null;
            v["sender"] = Value::Null;
        });
        assert!(matches!(
            decode("pull_request_comment", &body),
            Ok(Decoded::Event(Event::Comment { author: None, .. }))
        ));
        let body = modified("pull_request_review_approved.json", |v| {
            v["sender"] = Value::Null;
        });
        assert!(matches!(
            decode("pull_request_review_approved", &body),
            Ok(Decoded::Event(Event::Review { reviewer: Some(r), .. })) if r == "bob"
        ));
        let body = modified("pull_request_review_approved.json", |v| {
            v["sender"] = Value::Null;
            v["requested_reviewer"] = Value::Null;
        });
        let Ok(Decoded::Event(e)) = decode("pull_request_review_approved", &body) else {
            panic!()
        };
        assert_eq!(
            e.dedup_key(),
            "review:acme/widgets:7::approved:2026-03-03T10:40:09Z"
        );
    }

    #[test]
    fn edits_count_only_when_the_base_changes() {
        let title = modified("pull_request_opened.json", |v| {
            v["action"] = "edited".into();
            v["changes"] = serde_json::json!({"title": {"from": "old"}});
        });
        assert!(matches!(
            decode("pull_request", &title),
            Ok(Decoded::Ignored(_))
        ));
        let base = modified("pull_request_opened.json", |v| {
            v["action"] = "edited".into();
            v["changes"] = serde_json::json!({"ref": {"from": "develop"}});
        });
        assert!(matches!(
            decode("pull_request", &base),
            Ok(Decoded::Event(Event::PullRequest {
                action: PrAction::BaseChanged,
                ..
            }))
        ));
    }

    #[test]
    fn other_actions_and_types_are_ignored_without_parsing() {
        let labelled = modified("pull_request_opened.json", |v| {
            v["action"] = "label_updated".into();
        });
        assert!(matches!(
            decode("pull_request", &labelled),
            Ok(Decoded::Ignored(_))
        ));
        for ty in [
            "pull_request_review_comment",
            "pull_request_label",
            "pull_request_assign",
            "pull_request_milestone",
            "push",
            "issue_comment",
            "",
            "something_new",
        ] {
            assert!(
                matches!(decode(ty, b"\xff not json"), Ok(Decoded::Ignored(_))),
                "{ty}"
            );
        }
    }

    #[test]
    fn malformed_payloads_name_what_is_missing() {
        assert!(matches!(
            decode("pull_request_comment", b"{"),
            Err(DecodeError::NotJson { .. })
        ));
        assert_eq!(decode("pull_request", b"[]"), Err(DecodeError::NotObject));
        let no_comment = modified("issue_comment_created.json", |v| {
            v.as_object_mut().unwrap().remove("comment");
        });
        let err = decode("pull_request_comment", &no_comment).unwrap_err();
        assert_eq!(err.field(), Some("comment"));
        assert_eq!(
            err.to_string(),
            "pull_request_comment payload has no `comment`"
        );
        let no_body = modified("issue_comment_created.json", |v| {
            v["comment"].as_object_mut().unwrap().remove("body");
        });
        assert_eq!(
            decode("pull_request_comment", &no_body)
                .unwrap_err()
                .field(),
            Some("comment.body")
        );
        let no_head = modified("pull_request_synchronized.json", |v| {
            v["pull_request"]["head"] = Value::Null;
        });
        assert_eq!(
            decode("pull_request_sync", &no_head).unwrap_err().field(),
            Some("pull_request.head.sha")
        );
        let no_pr = modified("pull_request_review_approved.json", |v| {
            v.as_object_mut().unwrap().remove("pull_request");
        });
        assert_eq!(
            decode("pull_request_review_approved", &no_pr)
                .unwrap_err()
                .to_string(),
            "pull_request_review_approved payload has no `pull_request`"
        );
        let bad_number = modified("issue_comment_created.json", |v| {
            v["issue"]["number"] = (-3).into();
        });
        assert_eq!(
            decode("pull_request_comment", &bad_number)
                .unwrap_err()
                .field(),
            Some("issue.number")
        );
        let bad_repo = modified("pull_request_opened.json", |v| {
            v["repository"]["full_name"] = "widgets".into();
        });
        assert_eq!(
            decode("pull_request", &bad_repo).unwrap_err().field(),
            Some("repository.full_name")
        );
    }

    #[test]
    fn times_in_other_zones_give_the_same_key() {
        let utc = event_of("pull_request_synchronized.json");
        let body = modified("pull_request_synchronized.json", |v| {
            v["pull_request"]["updated_at"] = "2026-03-03T11:02:18+02:00".into();
        });
        let Ok(Decoded::Event(zoned)) = decode("pull_request_sync", &body) else {
            panic!()
        };
        assert_eq!(utc.dedup_key(), zoned.dedup_key());
    }

    #[test]
    fn the_json_form_is_tagged_by_kind_and_round_trips() {
        for file in [
            "issue_comment_created.json",
            "pull_request_closed_merged.json",
            "pull_request_review_rejected.json",
        ] {
            let e = event_of(file);
            let json: Value = serde_json::from_str(&e.to_json()).unwrap();
            assert_eq!(json["kind"], e.kind_name());
            assert_eq!(serde_json::from_value::<Event>(json).unwrap(), e);
        }
        let r = Event::Reevaluate {
            repo: "acme/widgets".into(),
            pr: 7,
            why: "poll".into(),
            fingerprint: None,
        };
        assert_eq!(
            r.to_json(),
            r#"{"kind":"reevaluate","repo":"acme/widgets","pr":7,"why":"poll","fingerprint":null}"#
        );
        assert_eq!(r.dedup_key(), "reeval:acme/widgets:7:poll");
        let without_field: Event =
            serde_json::from_str(r#"{"kind":"reevaluate","repo":"a/b","pr":1,"why":"cli"}"#)
                .unwrap();
        assert!(matches!(
            without_field,
            Event::Reevaluate {
                fingerprint: None,
                ..
            }
        ));
        let fp = Event::Reevaluate {
            repo: "acme/widgets".into(),
            pr: 7,
            why: "reviews changed".into(),
            fingerprint: Some("f00d".into()),
        };
        assert_eq!(fp.dedup_key(), "reeval:acme/widgets:7:reviews changed:f00d");
        assert_eq!(
            event_of("pull_request_review_approved.json").to_json(),
            r#"{"kind":"review","repo":"acme/widgets","pr":7,"reviewer":"bob","verdict":"approved","updated_at":"2026-03-03T10:40:09Z"}"#
        );
    }

    #[test]
    fn with_repo_respells_the_repository() {
        let e = event_of("pull_request_opened.json").with_repo("Acme/Widgets");
        assert_eq!(e.repo(), "Acme/Widgets");
        assert!(e.dedup_key().starts_with("pr:Acme/Widgets:7:opened:"));
    }

    const TYPES: [&str; 6] = [
        "pull_request_comment",
        "pull_request",
        "pull_request_sync",
        "pull_request_review_approved",
        "pull_request_review_rejected",
        "issue_comment",
    ];

    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            ".{0,12}".prop_map(Value::String),
            "(2026-03-0[0-9]T[0-9:]{8}(Z|[+-][0-9]{2}:[0-9]{2}))".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(
                    prop_oneof![
                        Just("action".to_string()),
                        Just("number".to_string()),
                        Just("is_pull".to_string()),
                        Just("issue".to_string()),
                        Just("comment".to_string()),
                        Just("pull_request".to_string()),
                        Just("repository".to_string()),
                        Just("sender".to_string()),
                        Just("changes".to_string()),
                        Just("head".to_string()),
                        Just("user".to_string()),
                        Just("login".to_string()),
                        Just("full_name".to_string()),
                        Just("id".to_string()),
                        Just("body".to_string()),
                        Just("sha".to_string()),
                        Just("ref".to_string()),
                        Just("updated_at".to_string()),
                        ".{0,6}",
                    ],
                    inner,
                    0..6
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn decode_never_panics_on_bytes(body in prop::collection::vec(any::<u8>(), 0..512)) {
            for ty in TYPES {
                let _ = decode(ty, &body);
                let _ = decode_coarse(ty, &body);
            }
        }

        #[test]
        fn decode_never_panics_on_json(value in any_json()) {
            let body = serde_json::to_vec(&value).unwrap();
            for ty in TYPES {
                if let Ok(Decoded::Event(e)) = decode(ty, &body) {
                    let _ = e.dedup_key();
                    prop_assert!(serde_json::from_str::<Event>(&e.to_json()).is_ok());
                }
                let _ = decode_coarse(ty, &body);
            }
        }

        #[test]
        fn decode_never_panics_on_mutated_examples(
            file in prop::sample::select(vec![
                "issue_comment_created.json",
                "pull_request_synchronized.json",
                "pull_request_review_approved.json",
                "pull_request_closed_merged.json",
            ]),
            path in prop::sample::select(vec![
                "action", "number", "is_pull", "issue", "issue.number", "issue.pull_request",
                "comment", "comment.id", "comment.body", "comment.user", "comment.updated_at",
                "pull_request", "pull_request.head", "pull_request.head.sha",
                "pull_request.number", "pull_request.merged", "pull_request.updated_at",
                "repository", "repository.full_name", "sender", "changes",
            ]),
            replacement in any_json(),
        ) {
            let body = modified(file, |v| {
                let mut target = v;
                for key in path.split('.') {
                    target = &mut target[key];
                }
                *target = replacement;
            });
            for ty in TYPES {
                let _ = decode(ty, &body);
            }
        }
    }
}
