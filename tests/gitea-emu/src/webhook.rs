//! Webhook deliveries as Gitea 1.25 sends them: the payload bytes (`json.MarshalIndent` with a
//! two-space indent and Go's HTML escaping) and the header set of `deliver.go`, signed with
//! HMAC-SHA256 (and SHA-1 for `X-Hub-Signature`).
//!
//! The builders are `World` methods; the test posts the [`Delivery`] to the bot itself (for
//! instance with [`Delivery::request`] into the bot's router). Gitea never sends webhooks for
//! dismissals, PENDING reviews or flag changes, so there are no builders for those.

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha1::Sha1;
use sha2::Sha256;

use crate::json::{self, CommentJson, LabelJson, PullRequestJson, RepositoryJson, UserJson};
use crate::world::{Access, Comment, Issue, PrChange, Repo, Status, World};
use crate::Flavor;

/// One webhook delivery: what goes in the event headers, and the exact body bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// `X-Gitea-Event` (the coarse event, e.g. `pull_request_approved`).
    pub event: String,
    /// `X-Gitea-Event-Type` (the fine-grained type to dispatch on).
    pub event_type: String,
    /// `X-Gitea-Delivery`: a random UUID v4.
    pub delivery_id: String,
    /// The payload, byte for byte as Gitea sends it (no trailing newline).
    pub body: Vec<u8>,
    /// Who sends it: Forgejo's header set differs (see [`crate::flavor`]).
    pub flavor: Flavor,
}

impl Delivery {
    /// Builds a delivery with a fresh random delivery id.
    pub fn new(event: &str, event_type: &str, body: Vec<u8>) -> Self {
        Delivery {
            event: event.to_string(),
            event_type: event_type.to_string(),
            delivery_id: uuid_v4(),
            body,
            flavor: Flavor::Gitea,
        }
    }

    /// The same delivery as `flavor` sends it.
    pub fn from_server(mut self, flavor: Flavor) -> Self {
        self.flavor = flavor;
        self
    }

    /// Lower-case hex HMAC-SHA256 of the body; `""` without a secret (as Gitea).
    pub fn signature(&self, secret: &str) -> String {
        if secret.is_empty() {
            return String::new();
        }
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
        mac.update(&self.body);
        hex::encode(mac.finalize().into_bytes())
    }

    fn signature_sha1(&self, secret: &str) -> String {
        if secret.is_empty() {
            return String::new();
        }
        let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("any key length");
        mac.update(&self.body);
        hex::encode(mac.finalize().into_bytes())
    }

    /// The headers of a repository hook of type `gitea` with JSON content, in the server's
    /// order: `Content-Type`, then Forgejo's `X-Forgejo-*` set (Forgejo only), the `X-Gitea-*`,
    /// `X-Gogs-*`, `X-Hub-Signature(-256)` and `X-GitHub-*` sets; the
    /// `*-Hook-Installation-Target-Type` headers are Gitea's only. The `*-Signature` headers are
    /// the hex HMAC-SHA256 of the body, `X-Hub-Signature-256` the same with `sha256=`.
    pub fn signed_headers(&self, secret: &str) -> Vec<(String, String)> {
        let sig = self.signature(secret);
        let sig1 = self.signature_sha1(secret);
        let id = &self.delivery_id;
        let (ev, ty) = (&self.event, &self.event_type);
        let target = self.flavor.sends_installation_target();
        let mut h = vec![("Content-Type", "application/json".to_string())];
        if self.flavor == Flavor::Forgejo {
            h.extend([
                ("X-Forgejo-Delivery", id.clone()),
                ("X-Forgejo-Event", ev.clone()),
                ("X-Forgejo-Event-Type", ty.clone()),
                ("X-Forgejo-Signature", sig.clone()),
            ]);
        }
        h.extend([
            ("X-Gitea-Delivery", id.clone()),
            ("X-Gitea-Event", ev.clone()),
            ("X-Gitea-Event-Type", ty.clone()),
            ("X-Gitea-Signature", sig.clone()),
        ]);
        if target {
            h.push(("X-Gitea-Hook-Installation-Target-Type", "repository".into()));
        }
        h.extend([
            ("X-Gogs-Delivery", id.clone()),
            ("X-Gogs-Event", ev.clone()),
            ("X-Gogs-Event-Type", ty.clone()),
            ("X-Gogs-Signature", sig.clone()),
            ("X-Hub-Signature", format!("sha1={sig1}")),
            ("X-Hub-Signature-256", format!("sha256={sig}")),
            ("X-GitHub-Delivery", id.clone()),
            ("X-GitHub-Event", ev.clone()),
            ("X-GitHub-Event-Type", ty.clone()),
        ]);
        if target {
            h.push((
                "X-GitHub-Hook-Installation-Target-Type",
                "repository".into(),
            ));
        }
        h.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    /// A `POST uri` request carrying this delivery, signed with `secret`, ready for
    /// `tower::ServiceExt::oneshot` into the bot's router (or any HTTP client).
    pub fn request(&self, uri: &str, secret: &str) -> axum::http::Request<axum::body::Body> {
        let mut b = axum::http::Request::post(uri).header("User-Agent", "Go-http-client/1.1");
        for (k, v) in self.signed_headers(secret) {
            b = b.header(k, v);
        }
        b.body(axum::body::Body::from(self.body.clone()))
            .expect("valid webhook request")
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the emulator writes valid JSON")
    }
}

/// Go's `json.MarshalIndent(v, "", "  ")`: two-space indent, and `<`, `>`, `&`, U+2028 and
/// U+2029 escaped as `\u003c`, `\u003e`, `\u0026`, `\u2028`, `\u2029`.
pub fn marshal_indent<T: Serialize>(v: &T) -> Vec<u8> {
    let s = serde_json::to_string_pretty(v).expect("serialisable payload");
    let mut out = String::with_capacity(s.len());
    // These characters can only occur inside JSON strings, so replacing them is safe.
    for c in s.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.into_bytes()
}

/// A random version-4 UUID, like the `X-Gitea-Delivery` of each hook task.
pub fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    for x in b.iter_mut() {
        *x = fastrand::u8(..);
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[derive(Serialize)]
struct ChangesFrom {
    from: String,
}

#[derive(Serialize)]
struct Changes {
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<ChangesFrom>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<ChangesFrom>,
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    ref_name: Option<ChangesFrom>,
    added_labels: Option<Vec<LabelJson>>,
    removed_labels: Option<Vec<LabelJson>>,
}

impl Changes {
    fn of(c: &PrChange) -> Self {
        let from = |s: &String| Some(ChangesFrom { from: s.clone() });
        let mut out = Changes {
            title: None,
            body: None,
            ref_name: None,
            added_labels: None,
            removed_labels: None,
        };
        match c {
            PrChange::Title { from: f } => out.title = from(f),
            PrChange::Body { from: f } => out.body = from(f),
            PrChange::Base { from: f } => out.ref_name = from(f),
        }
        out
    }
}

#[derive(Serialize)]
struct PullRequestMeta {
    merged: bool,
    merged_at: Option<String>,
    draft: bool,
    html_url: String,
}

#[derive(Serialize)]
struct RepositoryMeta {
    id: i64,
    name: String,
    owner: String,
    full_name: String,
}

/// The `issue` object of an issue-comment payload (`convert.ToAPIIssue`).
#[derive(Serialize)]
struct IssueJson {
    id: i64,
    url: String,
    html_url: String,
    number: u64,
    user: Option<UserJson>,
    original_author: String,
    original_author_id: i64,
    title: String,
    body: String,
    #[serde(rename = "ref")]
    ref_name: String,
    assets: Vec<()>,
    labels: Vec<LabelJson>,
    milestone: Option<()>,
    assignee: Option<UserJson>,
    assignees: Option<Vec<UserJson>>,
    state: String,
    is_locked: bool,
    comments: i64,
    created_at: String,
    updated_at: String,
    closed_at: Option<String>,
    due_date: Option<String>,
    time_estimate: i64,
    pull_request: Option<PullRequestMeta>,
    repository: RepositoryMeta,
    pin_order: i64,
}

#[derive(Serialize)]
struct IssueCommentPayload {
    action: String,
    issue: IssueJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    pull_request: Option<PullRequestJson>,
    comment: CommentJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    changes: Option<Changes>,
    repository: RepositoryJson,
    sender: UserJson,
    is_pull: bool,
}

#[derive(Serialize)]
struct ReviewPayload {
    #[serde(rename = "type")]
    kind: String,
    content: String,
}

#[derive(Serialize)]
struct PullRequestPayload {
    action: String,
    number: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    changes: Option<Changes>,
    pull_request: PullRequestJson,
    requested_reviewer: Option<UserJson>,
    repository: RepositoryJson,
    sender: UserJson,
    commit_id: String,
    review: Option<ReviewPayload>,
}

/// `PayloadUser` (`modules/structs/hook.go`): a commit's author or committer.
#[derive(Serialize)]
struct PayloadUser {
    name: String,
    email: String,
    username: String,
}

/// `PayloadCommitVerification`: the emulator's commits are never signed.
#[derive(Serialize)]
struct PayloadCommitVerification {
    verified: bool,
    reason: String,
    signer: Option<PayloadUser>,
    signature: String,
    payload: String,
}

/// `PayloadCommit` (`repository.ToAPIPayloadCommit`).
#[derive(Serialize)]
struct PayloadCommit {
    id: String,
    message: String,
    url: String,
    author: PayloadUser,
    committer: PayloadUser,
    verification: PayloadCommitVerification,
    timestamp: String,
    added: Vec<String>,
    removed: Vec<String>,
    modified: Vec<String>,
}

/// `CommitStatusPayload` (`modules/structs/hook.go`, Gitea 1.23+), keys in Gitea's order.
#[derive(Serialize)]
struct CommitStatusPayload {
    commit: PayloadCommit,
    context: String,
    created_at: String,
    description: String,
    id: i64,
    repository: RepositoryJson,
    sender: UserJson,
    sha: String,
    state: String,
    target_url: String,
    updated_at: String,
}

fn issue_json(w: &World, r: &Repo, i: &Issue, doer: Option<&str>) -> IssueJson {
    let html = json::issue_html_url(w, r, i);
    let comments = w
        .comments
        .iter()
        .filter(|c| {
            c.repo_id == r.id && c.index == i.index && c.kind == crate::world::CommentKind::Comment
        })
        .count() as i64;
    IssueJson {
        id: i.id,
        url: format!("{}/issues/{}", json::repo_api_url(w, r), i.index),
        html_url: html.clone(),
        number: i.index,
        user: json::user(w, &i.author, doer),
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
        comments,
        created_at: json::ts(&i.created),
        updated_at: json::ts(&i.updated),
        closed_at: i.closed_at.as_ref().map(json::ts),
        due_date: None,
        time_estimate: 0,
        pull_request: i.pull.as_ref().map(|p| PullRequestMeta {
            merged: p.merged,
            merged_at: p.merged_at.as_ref().map(json::ts),
            draft: json::is_draft(&i.title),
            html_url: html.clone(),
        }),
        repository: RepositoryMeta {
            id: r.id,
            name: r.name.clone(),
            owner: w.org.login.clone(),
            full_name: format!("{}/{}", w.org.login, r.name),
        },
        pin_order: 0,
    }
}

/// The sender: `ToUser(u, nil)`, so anonymous (placeholder email, no admin flag).
fn sender(w: &World, login: Option<&str>) -> UserJson {
    login
        .and_then(|l| json::user(w, l, None))
        .unwrap_or_else(|| json::org_as_user(w))
}

impl World {
    /// A delivery from this world's server (Gitea or Forgejo).
    fn delivery(&self, event: &str, event_type: &str, body: Vec<u8>) -> Delivery {
        Delivery::new(event, event_type, body).from_server(self.flavor)
    }

    /// The `issue_comment` delivery for a comment `created`, `edited` or `deleted` (a deleted
    /// comment is still found). On a PR: Event `issue_comment`, Event-Type
    /// `pull_request_comment`; on an issue both are `issue_comment`.
    pub fn webhook_for_comment(
        &self,
        repo: &str,
        n: u64,
        comment_id: i64,
        action: &str,
    ) -> Delivery {
        assert!(
            matches!(action, "created" | "edited" | "deleted"),
            "gitea-emu: comment action is created, edited or deleted, not {action:?}"
        );
        let r = self.repo(repo);
        let i = self.issue(repo, n);
        let c: &Comment = self
            .comments
            .iter()
            .chain(self.deleted_comments.iter())
            .find(|c| c.id == comment_id && c.repo_id == r.id && c.index == n)
            .unwrap_or_else(|| panic!("gitea-emu: no comment {comment_id} on {repo}#{n}"));
        let actor = if action == "deleted" {
            c.deleted_by.as_deref().or(c.user.as_deref())
        } else {
            c.user.as_deref()
        };
        let access = actor.map_or(Access::Read, |a| self.access(a));
        let changes = (action == "edited").then(|| Changes {
            title: None,
            body: Some(ChangesFrom {
                from: c.previous_body.clone().unwrap_or_else(|| c.body.clone()),
            }),
            ref_name: None,
            added_labels: None,
            removed_labels: None,
        });
        let payload = IssueCommentPayload {
            action: action.to_string(),
            issue: issue_json(self, r, i, actor),
            pull_request: i
                .pull
                .as_ref()
                .map(|_| json::pull_request(self, r, i, actor)),
            comment: json::comment(self, r, i, c, None),
            changes,
            repository: json::repository(self, r, access),
            sender: sender(self, actor),
            is_pull: i.pull.is_some(),
        };
        let event_type = if i.pull.is_some() {
            "pull_request_comment"
        } else {
            "issue_comment"
        };
        self.delivery("issue_comment", event_type, marshal_indent(&payload))
    }

    /// The `pull_request` delivery for `opened`, `reopened`, `closed` (merged or not),
    /// `synchronized` (Event-Type `pull_request_sync`) or `edited` (with the `changes` of the
    /// last `edit_pr_*`/`change_pr_base`). The sender is the author, or who closed it.
    pub fn webhook_for_pr(&self, repo: &str, n: u64, action: &str) -> Delivery {
        let r = self.repo(repo);
        let i = self.issue(repo, n);
        let p = self.pull(repo, n);
        let (event_type, actor, access) = match action {
            "opened" | "reopened" | "edited" => {
                ("pull_request", i.author.as_str(), self.access(&i.author))
            }
            "closed" => {
                let by = i.closed_by.as_deref().unwrap_or(&i.author);
                ("pull_request", by, self.access(by))
            }
            // The sync payload is built in owner mode: admin, push and pull all true.
            "synchronized" => ("pull_request_sync", i.author.as_str(), Access::Admin),
            other => panic!("gitea-emu: no pull_request action {other:?}"),
        };
        let changes = if action == "edited" {
            p.last_change.as_ref().map(Changes::of)
        } else {
            None
        };
        let payload = PullRequestPayload {
            action: action.to_string(),
            number: n,
            changes,
            pull_request: json::pull_request(self, r, i, Some(actor)),
            requested_reviewer: None,
            repository: json::repository(self, r, access),
            sender: sender(self, Some(actor)),
            commit_id: String::new(),
            review: None,
        };
        self.delivery("pull_request", event_type, marshal_indent(&payload))
    }

    /// The delivery for `reviewer`'s latest review of kind `approved` (APPROVED), `rejected`
    /// (REQUEST_CHANGES) or `comment` (COMMENT): action `reviewed`, `review: {type, content}`,
    /// sender and requested_reviewer both the reviewer, repository permissions the author's.
    pub fn webhook_for_review(&self, repo: &str, n: u64, reviewer: &str, kind: &str) -> Delivery {
        let (state, event, event_type) = match kind {
            "approved" => (
                "APPROVED",
                "pull_request_approved",
                "pull_request_review_approved",
            ),
            "rejected" => (
                "REQUEST_CHANGES",
                "pull_request_rejected",
                "pull_request_review_rejected",
            ),
            "comment" => (
                "COMMENT",
                "pull_request_comment",
                "pull_request_review_comment",
            ),
            other => panic!(
                "gitea-emu: review webhook kind is approved, rejected or comment, not {other:?}"
            ),
        };
        let r = self.repo(repo);
        let i = self.issue(repo, n);
        let review = self
            .reviews(repo, n)
            .into_iter()
            .rev()
            .find(|x| {
                x.state == state
                    && x.user
                        .as_deref()
                        .is_some_and(|u| u.eq_ignore_ascii_case(reviewer))
            })
            .unwrap_or_else(|| panic!("gitea-emu: {reviewer} has no {state} review on {repo}#{n}"));
        let payload = PullRequestPayload {
            action: "reviewed".to_string(),
            number: n,
            changes: None,
            pull_request: json::pull_request(self, r, i, Some(reviewer)),
            requested_reviewer: json::user(self, reviewer, None),
            repository: json::repository(self, r, self.access(&i.author)),
            sender: sender(self, Some(reviewer)),
            commit_id: String::new(),
            review: Some(ReviewPayload {
                kind: event_type.to_string(),
                content: review.body,
            }),
        };
        self.delivery(event, event_type, marshal_indent(&payload))
    }

    /// The `pull_request_review_request` delivery (`services/webhook/notifier.go`,
    /// `PullRequestReviewRequest`): `doer` requested a review from `reviewer` (action
    /// `review_requested`) or withdrew the request (`removed`: `review_request_removed`). Gitea
    /// has one event type for both; the coarse `X-Gitea-Event` is `pull_request`. The PR is
    /// converted without a doer; the repository permissions are the doer's. A team request is
    /// one delivery per member: call this once per member.
    pub fn webhook_for_review_request(
        &self,
        repo: &str,
        n: u64,
        doer: &str,
        reviewer: &str,
        removed: bool,
    ) -> Delivery {
        let r = self.repo(repo);
        let i = self.issue(repo, n);
        let action = if removed {
            "review_request_removed"
        } else {
            "review_requested"
        };
        let payload = PullRequestPayload {
            action: action.to_string(),
            number: n,
            changes: None,
            pull_request: json::pull_request(self, r, i, None),
            requested_reviewer: json::user(self, reviewer, None),
            repository: json::repository(self, r, self.access(doer)),
            sender: sender(self, Some(doer)),
            commit_id: String::new(),
            review: None,
        };
        self.delivery(
            "pull_request",
            "pull_request_review_request",
            marshal_indent(&payload),
        )
    }

    /// The `status` delivery Gitea (1.23+) sends when status `id` is posted on `sha`
    /// (`services/webhook/notifier.go`, `CreateCommitStatus`): the sender is the status's
    /// creator, the repository in owner mode. The commit's message is the title of the PR whose
    /// head it is (the emulator keeps no commits).
    /// Panics in Forgejo mode: Forgejo has no `status` event.
    pub fn webhook_for_status(&self, repo: &str, sha: &str, id: i64) -> Delivery {
        assert_eq!(
            self.flavor,
            Flavor::Gitea,
            "Forgejo sends no status webhook"
        );
        let r = self.repo(repo);
        let s: Status = self
            .statuses(repo, sha)
            .into_iter()
            .find(|s| s.id == id)
            .unwrap_or_else(|| panic!("gitea-emu: no status {id} on {repo}@{sha}"));
        let pr = r
            .issues
            .iter()
            .find(|i| i.pull.as_ref().is_some_and(|p| p.head_sha == sha));
        let author = pr.map_or_else(|| s.creator.clone(), |i| i.author.clone());
        let person = || {
            let u = self.user(&author);
            PayloadUser {
                name: u.map_or_else(|| author.clone(), |u| u.full_name.clone()),
                email: u.map_or_else(String::new, |u| u.email.clone()),
                username: author.clone(),
            }
        };
        let created = json::ts(&s.created);
        let payload = CommitStatusPayload {
            commit: PayloadCommit {
                id: sha.to_string(),
                message: pr.map_or_else(String::new, |i| i.title.clone()),
                url: format!("{}/commit/{sha}", json::repo_html_url(self, r)),
                author: person(),
                committer: person(),
                verification: PayloadCommitVerification {
                    verified: false,
                    reason: "gpg.error.not_signed_commit".into(),
                    signer: None,
                    signature: String::new(),
                    payload: String::new(),
                },
                timestamp: created.clone(),
                added: Vec::new(),
                removed: Vec::new(),
                modified: Vec::new(),
            },
            context: s.context.clone(),
            created_at: created.clone(),
            description: s.description.clone(),
            id: s.id,
            repository: json::repository(self, r, Access::Admin),
            sender: sender(self, Some(&s.creator)),
            sha: sha.to_string(),
            state: s.state.clone(),
            target_url: s.target_url.clone(),
            updated_at: created,
        };
        self.delivery("status", "status", marshal_indent(&payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marshal_indent_escapes_like_go() {
        let v = serde_json::json!({"a": "<b> & \u{2028}", "e": [], "o": {}});
        let s = String::from_utf8(marshal_indent(&v)).unwrap();
        assert_eq!(
            s,
            "{\n  \"a\": \"\\u003cb\\u003e \\u0026 \\u2028\",\n  \"e\": [],\n  \"o\": {}\n}"
        );
    }

    #[test]
    fn uuid_v4_is_well_formed() {
        let u = uuid_v4();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(u, uuid_v4());
    }

    #[test]
    fn no_secret_gives_empty_signatures() {
        let d = Delivery::new("issue_comment", "pull_request_comment", b"{}".to_vec());
        let h = d.signed_headers("");
        let get = |k: &str| h.iter().find(|(n, _)| n == k).unwrap().1.clone();
        assert_eq!(get("X-Gitea-Signature"), "");
        assert_eq!(get("X-Hub-Signature-256"), "sha256=");
        assert_eq!(get("X-Hub-Signature"), "sha1=");
    }
}
