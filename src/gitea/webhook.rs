//! Gitea's webhook format: the delivery headers, the signature check, and the payloads as
//! typed structs decoded into sopbot's inbox [`Event`].
//!
//! [`decode`] dispatches on `X-Gitea-Event-Type` (`docs/gitea-api.md` §6: the coarse
//! `X-Gitea-Event` files PR comments under `issue_comment` and review *comments* under
//! `pull_request_comment`); [`decode_coarse`] is the fallback when only `X-Gitea-Event` came.
//! Each payload is one `#[derive(Deserialize)]` struct holding only the fields sopbot reads:
//! serde skips everything else without building it (a payload is 12–16 KiB of repository, user
//! and PR objects around a dozen scalars), and `serde_path_to_error` names the field an error
//! is about (`comment.body`). The inbox stores the decoded [`Event`], never the payload.

use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::de::{DeserializeOwned, Deserializer, IgnoredAny};
use serde::Deserialize;
use sha2::Sha256;

use crate::bot::event::{CommentAction, Event, PrAction, ReviewVerdict};
use crate::secret::Secret;
use crate::types::PrNumber;

/// Signature headers, in the order they are read, with the prefix their value carries. All
/// that are present and non-empty must verify; Gitea sends the same HMAC in each.
const SIGNATURE_HEADERS: [(&str, &str); 4] = [
    ("x-gitea-signature", ""),
    ("x-forgejo-signature", ""),
    ("x-gogs-signature", ""),
    ("x-hub-signature-256", "sha256="),
];
const DELIVERY_HEADERS: [&str; 4] = [
    "x-gitea-delivery",
    "x-forgejo-delivery",
    "x-gogs-delivery",
    "x-github-delivery",
];
const EVENT_TYPE_HEADERS: [&str; 4] = [
    "x-gitea-event-type",
    "x-forgejo-event-type",
    "x-gogs-event-type",
    "x-github-event-type",
];
const EVENT_HEADERS: [&str; 4] = [
    "x-gitea-event",
    "x-forgejo-event",
    "x-gogs-event",
    "x-github-event",
];

/// Header values longer than this are cut before they are logged or stored.
const MAX_HEADER_ECHO: usize = 128;

/// The delivery id (`X-Gitea-Delivery` or a sibling), cut for logs and the inbox.
pub fn delivery_id(headers: &HeaderMap) -> Option<String> {
    first_header(headers, &DELIVERY_HEADERS)
}

/// The event type, else the coarse event, for logs.
pub fn event_name(headers: &HeaderMap) -> Option<String> {
    first_header(headers, &EVENT_TYPE_HEADERS).or_else(|| first_header(headers, &EVENT_HEADERS))
}

/// Decodes a delivery by its event type header, else by its coarse event header.
pub fn decode_delivery(headers: &HeaderMap, body: &[u8]) -> Result<Decoded, DecodeError> {
    match (
        first_header(headers, &EVENT_TYPE_HEADERS),
        first_header(headers, &EVENT_HEADERS),
    ) {
        (Some(event_type), _) => decode(&event_type, body),
        (None, Some(coarse)) => decode_coarse(&coarse, body),
        (None, None) => Ok(Decoded::Ignored(
            "no X-Gitea-Event-Type or X-Gitea-Event header",
        )),
    }
}

/// The first of `names` present with a readable value, cut to [`MAX_HEADER_ECHO`].
fn first_header(headers: &HeaderMap, names: &[&str]) -> Option<String> {
    names.iter().find_map(|name| {
        let value = headers.get(*name)?.to_str().ok()?.trim();
        (!value.is_empty()).then(|| value.chars().take(MAX_HEADER_ECHO).collect())
    })
}

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureProblem {
    /// No signature header, or only the empty ones Gitea sends for a hook without a secret.
    Missing,
    /// A signature that is not hex or does not match the body.
    Bad,
}

impl SignatureProblem {
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureProblem::Missing => "missing signature",
            SignatureProblem::Bad => "bad signature",
        }
    }
}

/// Checks every non-empty signature header against the HMAC-SHA256 of `body`, in constant
/// time; at least one must be there.
pub fn verify_signature(
    secret: &Secret,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), SignatureProblem> {
    // Gitea sends the same HMAC in up to three headers: computed once, at the first.
    let mut mac: Option<Hmac<Sha256>> = None;
    let mut seen = false;
    for (name, prefix) in SIGNATURE_HEADERS {
        for value in headers.get_all(name) {
            let value = value.to_str().map_err(|_| SignatureProblem::Bad)?.trim();
            let hex_sig = match value.get(..prefix.len()) {
                Some(p) if p.eq_ignore_ascii_case(prefix) => &value[prefix.len()..],
                _ if value.is_empty() => "",
                _ => return Err(SignatureProblem::Bad),
            };
            if hex_sig.is_empty() {
                continue;
            }
            seen = true;
            let sig = hex::decode(hex_sig).map_err(|_| SignatureProblem::Bad)?;
            let mac = mac.get_or_insert_with(|| {
                let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose().as_bytes())
                    .expect("HMAC accepts keys of any length");
                mac.update(body);
                mac
            });
            // In constant time.
            mac.clone()
                .verify_slice(&sig)
                .map_err(|_| SignatureProblem::Bad)?;
        }
    }
    if seen {
        Ok(())
    } else {
        Err(SignatureProblem::Missing)
    }
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
    /// A field the event needs is absent.
    #[error("{event} payload has no `{field}`")]
    Missing { event: &'static str, field: String },
    /// A field the event needs is `null`, has the wrong type or an impossible value.
    #[error("{event} payload has an invalid `{field}`: {detail}")]
    Invalid {
        event: &'static str,
        field: String,
        detail: String,
    },
}

impl DecodeError {
    /// The offending field (`pull_request.head.sha`), if one. Logs name it instead of the
    /// message, whose detail may quote payload content.
    pub fn field(&self) -> Option<&str> {
        match self {
            DecodeError::Missing { field, .. } | DecodeError::Invalid { field, .. } => Some(field),
            DecodeError::NotJson { .. } | DecodeError::NotObject => None,
        }
    }

    fn missing(event: &'static str, field: &str) -> DecodeError {
        DecodeError::Missing {
            event,
            field: field.to_string(),
        }
    }

    fn invalid(event: &'static str, field: &str, detail: &str) -> DecodeError {
        DecodeError::Invalid {
            event,
            field: field.to_string(),
            detail: detail.to_string(),
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
        "pull_request_comment" => comment(parse(PR_COMMENT, body)?, PR_COMMENT, false),
        "pull_request" => pull_request(parse(PULL_REQUEST, body)?, PULL_REQUEST),
        "pull_request_sync" => pr_event(parse(PR_SYNC, body)?, PR_SYNC, PrAction::Synchronized),
        "pull_request_review_approved" => {
            review(parse(APPROVED, body)?, APPROVED, ReviewVerdict::Approved)
        }
        "pull_request_review_rejected" => {
            review(parse(REJECTED, body)?, REJECTED, ReviewVerdict::Rejected)
        }
        "issue_comment" => Ok(Decoded::Ignored("comment on an issue, not a pull request")),
        "pull_request_review_comment" => Ok(Decoded::Ignored("review comment")),
        "pull_request_review_request" => review_request(parse(REVIEW_REQUEST, body)?),
        "pull_request_label" | "pull_request_assign" | "pull_request_milestone" => {
            Ok(Decoded::Ignored("labels, assignees or milestone"))
        }
        "status" => status(parse(STATUS, body)?),
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
        "issue_comment" => comment(parse(ISSUE_COMMENT, body)?, ISSUE_COMMENT, true),
        "pull_request" => pull_request(parse(PULL_REQUEST, body)?, PULL_REQUEST),
        "pull_request_comment" => Ok(Decoded::Ignored("review comment")),
        "status" => status(parse(STATUS, body)?),
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

/// `IssueCommentPayload` (`modules/structs/hook.go`).
#[derive(Debug, Deserialize)]
struct IssueCommentPayload {
    action: String,
    issue: Issue,
    comment: Comment,
    repository: Repository,
    /// Since Gitea 1.12; older payloads say it with `issue.pull_request`.
    is_pull: Option<bool>,
    sender: Option<User>,
}

#[derive(Debug, Deserialize)]
struct Issue {
    number: u64,
    /// Present (non-null) when the issue is a pull request; its content is not read.
    pull_request: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
struct Comment {
    id: i64,
    body: String,
    /// `null` for comments migrated from elsewhere.
    user: Option<User>,
    #[serde(default, deserialize_with = "lenient_time")]
    updated_at: Option<DateTime<Utc>>,
}

/// `PullRequestPayload`: the `pull_request`, `pull_request_sync`, review and review-request
/// events.
#[derive(Debug, Deserialize)]
struct PullRequestPayload {
    /// Required where it decides the event; a review's is not read.
    action: Option<String>,
    /// The PR number when `pull_request.number` is absent.
    number: Option<u64>,
    pull_request: PullRequest,
    repository: Repository,
    changes: Option<Changes>,
    sender: Option<User>,
    requested_reviewer: Option<User>,
}

#[derive(Debug, Deserialize)]
struct PullRequest {
    number: Option<u64>,
    merged: Option<bool>,
    /// Required for PR events, not read for reviews.
    head: Option<Head>,
    #[serde(default, deserialize_with = "lenient_time")]
    updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
struct Head {
    sha: String,
}

/// `changes` of an `edited` PR: `ref` (non-null) when the base branch changed.
#[derive(Debug, Deserialize)]
struct Changes {
    #[serde(rename = "ref")]
    base: Option<IgnoredAny>,
}

/// `CommitStatusPayload` (`modules/structs/hook.go`, Gitea 1.23+).
#[derive(Debug, Deserialize)]
struct CommitStatusPayload {
    sha: String,
    context: String,
    state: String,
    id: i64,
    repository: Repository,
    sender: Option<User>,
}

#[derive(Debug, Deserialize)]
struct Repository {
    full_name: String,
}

#[derive(Debug, Deserialize)]
struct User {
    login: Option<String>,
}

/// A time in any RFC 3339 offset, as UTC. A time that is not one is `None`: times only refine
/// dedup keys and are not worth refusing an event for.
fn lenient_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(d)?;
    Ok(value
        .as_ref()
        .and_then(serde_json::Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc)))
}

/// A user's login; an empty login counts as none.
fn login(user: Option<User>) -> Option<String> {
    user.and_then(|u| u.login).filter(|l| !l.is_empty())
}

/// Parses `body` (UTF-8 checked first, so a skipped string cannot hide bad bytes) as `T`,
/// naming the field an error is about.
fn parse<T: DeserializeOwned>(event: &'static str, body: &[u8]) -> Result<T, DecodeError> {
    let text = std::str::from_utf8(body).map_err(|e| DecodeError::NotJson {
        detail: format!("invalid UTF-8 at byte {}", e.valid_up_to()),
    })?;
    // Derived structs also accept arrays (fields by position): only an object is a payload.
    if !text.trim_start().starts_with('{') {
        return Err(match serde_json::from_str::<IgnoredAny>(text) {
            Ok(_) => DecodeError::NotObject,
            Err(e) => DecodeError::NotJson {
                detail: e.to_string(),
            },
        });
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| field_error(event, e))?;
    de.end().map_err(|e| DecodeError::NotJson {
        detail: e.to_string(),
    })?;
    Ok(value)
}

/// Maps a serde error to what the delivery did wrong. A missing field is reported by serde at
/// its parent's path, with the name in the message (serde's `missing field `name``).
fn field_error(
    event: &'static str,
    e: serde_path_to_error::Error<serde_json::Error>,
) -> DecodeError {
    let path = e.path().to_string();
    let at_root = e.path().iter().next().is_none();
    let inner = e.into_inner();
    if !inner.is_data() {
        return DecodeError::NotJson {
            detail: inner.to_string(),
        };
    }
    let detail = inner.to_string();
    let missing = detail
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(name, _)| name);
    match (missing, at_root) {
        (Some(name), true) => DecodeError::missing(event, name),
        (Some(name), false) => DecodeError::missing(event, &format!("{path}.{name}")),
        (None, _) => DecodeError::Invalid {
            event,
            field: path,
            detail,
        },
    }
}

/// `repository.full_name`, which must look like `owner/name`.
fn repo_name(event: &'static str, repo: Repository) -> Result<String, DecodeError> {
    let name = repo.full_name;
    match name.split_once('/') {
        Some((o, n)) if !o.is_empty() && !n.is_empty() && !n.contains('/') => Ok(name),
        _ => Err(DecodeError::invalid(
            event,
            "repository.full_name",
            "not of the form owner/name",
        )),
    }
}

/// A PR number: positive and storable as an SQLite integer.
fn pr_number(event: &'static str, field: &str, n: u64) -> Result<PrNumber, DecodeError> {
    if n == 0 || i64::try_from(n).is_err() {
        return Err(DecodeError::invalid(
            event,
            field,
            "not a pull request number",
        ));
    }
    Ok(PrNumber(n))
}

/// A comment event. With `lenient_issue`, a comment that is not on a PR is ignored for being
/// on an issue (the coarse `issue_comment` covers both).
fn comment(
    p: IssueCommentPayload,
    event: &'static str,
    lenient_issue: bool,
) -> Result<Decoded, DecodeError> {
    let action = match p.action.as_str() {
        "created" => CommentAction::Created,
        "edited" => CommentAction::Edited,
        "deleted" => CommentAction::Deleted,
        _ => return Ok(Decoded::Ignored("comment action not handled")),
    };
    let repo = repo_name(event, p.repository)?;
    if p.issue.pull_request.is_none() && !p.is_pull.unwrap_or(false) {
        return Ok(Decoded::Ignored(if lenient_issue {
            "comment on an issue, not a pull request"
        } else {
            "comment payload says it is not on a pull request"
        }));
    }
    Ok(Decoded::Event(Event::Comment {
        repo,
        pr: pr_number(event, "issue.number", p.issue.number)?,
        comment_id: p.comment.id,
        action,
        author: login(p.comment.user),
        body: p.comment.body,
        updated_at: p.comment.updated_at,
        sender: login(p.sender),
    }))
}

/// The `action` a PR payload must have where it decides the event.
fn action<'a>(p: &'a PullRequestPayload, event: &'static str) -> Result<&'a str, DecodeError> {
    p.action
        .as_deref()
        .ok_or_else(|| DecodeError::missing(event, "action"))
}

/// `PullRequestPayload` with `X-Gitea-Event-Type: pull_request` (or the coarse event).
fn pull_request(p: PullRequestPayload, event: &'static str) -> Result<Decoded, DecodeError> {
    let action = match action(&p, event)? {
        "opened" => PrAction::Opened,
        "reopened" => PrAction::Reopened,
        "closed" => PrAction::Closed,
        "synchronized" => PrAction::Synchronized,
        "edited" if p.changes.as_ref().is_some_and(|c| c.base.is_some()) => PrAction::BaseChanged,
        "edited" => return Ok(Decoded::Ignored("pull request edited, base unchanged")),
        "review_requested" | "review_request_removed" => return review_request(p),
        _ => return Ok(Decoded::Ignored("pull request action not handled")),
    };
    pr_event(p, event, action)
}

fn pr_event(
    p: PullRequestPayload,
    event: &'static str,
    action: PrAction,
) -> Result<Decoded, DecodeError> {
    let repo = repo_name(event, p.repository)?;
    let pr = payload_pr(event, p.pull_request.number, p.number)?;
    let head = p.pull_request.head;
    Ok(Decoded::Event(Event::PullRequest {
        repo,
        pr,
        action,
        merged: p.pull_request.merged.unwrap_or(false),
        head_sha: head
            .ok_or_else(|| DecodeError::missing(event, "pull_request.head.sha"))?
            .sha
            .into(),
        updated_at: p.pull_request.updated_at,
    }))
}

/// `pull_request.number`, or the top-level `number` when the PR object lacks one.
fn payload_pr(
    event: &'static str,
    in_pr: Option<u64>,
    top: Option<u64>,
) -> Result<PrNumber, DecodeError> {
    match (in_pr, top) {
        (Some(n), _) => pr_number(event, "pull_request.number", n),
        (None, Some(n)) => pr_number(event, "number", n),
        (None, None) => Err(DecodeError::missing(event, "number")),
    }
}

/// A review event: the reviewer is the `sender` (§10: `sender` and `requested_reviewer` are
/// both the reviewer).
fn review(
    p: PullRequestPayload,
    event: &'static str,
    verdict: ReviewVerdict,
) -> Result<Decoded, DecodeError> {
    Ok(Decoded::Event(Event::Review {
        repo: repo_name(event, p.repository)?,
        pr: payload_pr(event, p.pull_request.number, p.number)?,
        reviewer: login(p.sender).or_else(|| login(p.requested_reviewer)),
        verdict,
        updated_at: p.pull_request.updated_at,
    }))
}

/// `PullRequestPayload` with action `review_requested` or `review_request_removed` (Gitea has
/// one event type for both: `services/webhook/notifier.go` `PullRequestReviewRequest`). The
/// requested user is `requested_reviewer`; a team request arrives once per member.
fn review_request(p: PullRequestPayload) -> Result<Decoded, DecodeError> {
    let event = REVIEW_REQUEST;
    let removed = match action(&p, event)? {
        "review_requested" => false,
        "review_request_removed" => true,
        _ => return Ok(Decoded::Ignored("review request action not handled")),
    };
    Ok(Decoded::Event(Event::ReviewRequest {
        repo: repo_name(event, p.repository)?,
        pr: payload_pr(event, p.pull_request.number, p.number)?,
        removed,
        reviewer: login(p.requested_reviewer),
        updated_at: p.pull_request.updated_at,
    }))
}

/// A commit status. Whether sopbot acts on it (its own contexts, not its own statuses) is the
/// webhook handler's decision: it knows the configuration.
fn status(p: CommitStatusPayload) -> Result<Decoded, DecodeError> {
    let repo = repo_name(STATUS, p.repository)?;
    if p.sha.is_empty() || !p.sha.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(DecodeError::invalid(STATUS, "sha", "not a commit id"));
    }
    Ok(Decoded::Event(Event::Status {
        repo,
        sha: p.sha.into(),
        context: p.context,
        state: p.state,
        id: p.id,
        sender: login(p.sender),
    }))
}

#[cfg(test)]
mod tests;
