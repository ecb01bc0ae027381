//! `GiteaClient`: the typed, retrying HTTP client for the Gitea API (`/api/v1`).
//!
//! Retry policy (all retries use exponential backoff with full jitter, `retries` extra attempts
//! at most):
//! - reads (`GET`), and writes whose repetition is harmless, are retried on connection errors,
//!   timeouts, 5xx and 429. Harmless writes: `PATCH` a comment (same body), a reaction (Gitea
//!   answers 200 for one that exists) and a commit status (a duplicate row; the latest per
//!   context wins anyway);
//! - creating a comment is not idempotent: a request that timed out, or got a 500 or 504, may
//!   have been applied, and a retry would post the reply twice. It is retried only when it
//!   provably was not sent (the connection failed) or the answer normally means Gitea never
//!   handled it (429, 502, 503 from a proxy or a restarting server; a 502 after Gitea crashed
//!   mid-request is the accepted residual risk). The engine looks for its hidden marker before
//!   posting again;
//! - other 4xx are never retried;
//! - a 429's `Retry-After` (seconds or an HTTP date) is waited out when it is at most
//!   [`ClientOptions::retry_after_max`] (default 30 s); a longer one fails the call at once with
//!   the 429, so a worker is never parked for minutes; the poller will come back.
//!
//! Lists are paged with `page` and `limit=50` (Gitea returns *everything* when `page` is absent
//! on several endpoints). A listing ends on an empty page, when `X-Total-Count` items have been
//! read, or, when the server sends no `X-Total-Count`, on a short page. A short page does not
//! end a listing whose `X-Total-Count` is not reached yet: Gitea pages reviews *before* it drops
//! the hidden PENDING ones, so a middle page can be short, and a server whose
//! `MAX_RESPONSE_ITEMS` is below 50 sends short pages throughout. The cost is one extra request
//! (an empty page) when hidden reviews exist.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tracing::debug;

use super::error::{mask, GiteaError};
use super::models::*;
use crate::secret::Secret;
use crate::types::RepoName;

mod admin;
mod changes;
mod commits;

pub use admin::{BranchProtection, Hook};
pub use changes::{ChangedFile, PrCommit};
pub use commits::{CommitRef, GitCommit};

/// Items asked for per page: Gitea's default `MAX_RESPONSE_ITEMS`.
pub const PAGE_SIZE: usize = 50;
/// A listing longer than this many pages is treated as a server bug (a server that ignores
/// `page` would otherwise be read forever).
const MAX_PAGES: u32 = 1000;

/// How the client talks to Gitea.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Whole-request timeout (connect, send, read the body). Default 10 s.
    pub timeout: Duration,
    /// Extra attempts after the first, for retryable failures. Default 3.
    pub retries: u32,
    /// First backoff ceiling; doubles per attempt. Default 200 ms.
    pub backoff_base: Duration,
    /// Largest backoff ceiling. Default 5 s.
    pub backoff_max: Duration,
    /// Longest `Retry-After` the client waits out; longer ones fail the call. Default 30 s.
    pub retry_after_max: Duration,
    pub user_agent: String,
    /// Requests per second at most, across every clone of the client (a burst of one second's
    /// worth); 0: no limit. Default 0 (the config's default is modest).
    pub max_requests_per_second: u32,
    /// Trusted for HTTPS besides the system store (`SSL_CERT_FILE`/`SSL_CERT_DIR` honoured) and
    /// the built-in webpki roots: `gitea.ca_file`.
    pub ca_certs: Vec<reqwest::Certificate>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: Duration::from_secs(10),
            retries: 3,
            backoff_base: Duration::from_millis(200),
            backoff_max: Duration::from_secs(5),
            retry_after_max: Duration::from_secs(30),
            user_agent: concat!("sopbot/", env!("CARGO_PKG_VERSION")).to_string(),
            max_requests_per_second: 0,
            ca_certs: Vec::new(),
        }
    }
}

/// One HTTP attempt, as seen by an observer (metrics). Retries give one record each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    pub method: &'static str,
    /// The route with placeholders, e.g. `/repos/{o}/{r}/pulls/{n}`: a bounded label set.
    pub endpoint_template: &'static str,
    /// `None` when no answer came (timeout, connection error).
    pub status: Option<u16>,
    pub elapsed: Duration,
    /// 0 for the first attempt.
    pub attempt: u32,
}

/// Called after every HTTP attempt.
pub type CallObserver = Arc<dyn Fn(&CallRecord) + Send + Sync>;

/// The Gitea API client. Cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct GiteaClient {
    http: reqwest::Client,
    /// `<base>/api/v1`.
    api: Url,
    /// Kept only to mask it out of error messages; the header is built once in `new`.
    token: Secret,
    opts: ClientOptions,
    observer: Option<CallObserver>,
    /// Shared by every clone: workers, the poller and the sweep draw from one budget.
    limiter: Option<Arc<governor::DefaultDirectRateLimiter>>,
}

impl fmt::Debug for GiteaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GiteaClient")
            .field("api", &crate::config::redact_url(self.api.as_str()))
            .field("token", &self.token)
            .field("opts", &self.opts)
            .field("observer", &self.observer.is_some())
            .field("limited", &self.limiter.is_some())
            .finish()
    }
}

/// Whether repeating a request could duplicate a side effect (see the module header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repeat {
    Safe,
    Once,
}

/// One API request, before it is sent.
#[derive(Clone)]
struct Call {
    method: Method,
    template: &'static str,
    segments: Vec<String>,
    query: Vec<(&'static str, String)>,
    body: Option<Vec<u8>>,
    repeat: Repeat,
}

impl Call {
    fn new(method: Method, template: &'static str, segments: &[&str]) -> Self {
        Call {
            method,
            template,
            segments: segments.iter().map(|s| s.to_string()).collect(),
            query: Vec::new(),
            body: None,
            repeat: Repeat::Safe,
        }
    }

    fn get(template: &'static str, segments: &[&str]) -> Self {
        Self::new(Method::GET, template, segments)
    }

    fn query(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.query.push((key, value.into()));
        self
    }

    fn json<B: Serialize + ?Sized>(mut self, body: &B) -> Self {
        self.body = Some(serde_json::to_vec(body).expect("request bodies serialise"));
        self
    }

    fn once(mut self) -> Self {
        self.repeat = Repeat::Once;
        self
    }

    /// `GET /repos/acme/widgets/pulls/7`: what errors and logs show.
    fn endpoint(&self) -> String {
        format!("{} /{}", self.method, self.segments.join("/"))
    }
}

/// What ends a paged listing: the listing ends at …
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ends {
    /// `X-Total-Count` reached, a short page without one, or an empty page.
    Total,
    /// Only an empty page: the timeline drops rows from a page after reading it
    /// (`docs/gitea-api.md` §2), so neither the count nor a short page can be trusted.
    EmptyPage,
    /// Only the `Link` header's lack of `next`: `/orgs/{org}/repos` pages every repository and
    /// then drops those the caller may not see, so even an empty page may have more after it.
    LastLink,
}

/// A 2xx answer.
struct Received {
    /// The HTTP status (a 2xx).
    status: u16,
    body: Vec<u8>,
    total_count: Option<u64>,
    /// The server's clock when it answered (the `Date` header, whole seconds).
    date: Option<DateTime<Utc>>,
    /// Whether the `Link` header names a `next` page.
    next_page: bool,
}

/// Why an attempt failed.
enum Failure {
    Answered {
        status: u16,
        body: Vec<u8>,
        retry_after: Option<Duration>,
    },
    Timeout,
    /// The connection could not be made: nothing was sent.
    Connect(String),
    Transport(String),
}

fn repo_segments<'a>(repo: &'a RepoName, rest: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["repos", repo.owner.as_str(), repo.name.as_str()];
    v.extend_from_slice(rest);
    v
}

fn method_name(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        _ => "OTHER",
    }
}

/// The whole error chain of a transport error, without the URL.
fn describe(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    // rustls: `invalid peer certificate: UnknownIssuer`. Only an unknown issuer is a setup
    // problem (exit 78, no restart); an expired or misnamed certificate may be a renewal in
    // progress, and is retried like any transport error.
    if text.contains("invalid peer certificate") && text.contains("UnknownIssuer") {
        text.push_str(" — ");
        text.push_str(super::error::UNTRUSTED_CERTIFICATE);
    }
    text
}

/// `Retry-After` as seconds or as an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((when - Utc::now()).to_std().unwrap_or(Duration::ZERO))
}

impl GiteaClient {
    /// A client for the Gitea at `base_url` (without `/api/v1`; a trailing slash, or a trailing
    /// `/api/v1`, is tolerated).
    pub fn new(base_url: &str, token: Secret, opts: ClientOptions) -> Result<Self, GiteaError> {
        let setup = |message: String| GiteaError::Setup { message };
        let shown = crate::config::redact_url(base_url);
        let mut api = Url::parse(base_url.trim())
            .map_err(|e| setup(format!("the Gitea URL `{shown}` is not a URL: {e}")))?;
        if !matches!(api.scheme(), "http" | "https") || api.cannot_be_a_base() {
            return Err(setup(format!(
                "the Gitea URL `{shown}` must start with http:// or https://"
            )));
        }
        api.set_query(None);
        api.set_fragment(None);
        {
            let mut segs = api
                .path_segments_mut()
                .map_err(|_| setup(format!("the Gitea URL `{shown}` cannot have a path")))?;
            segs.pop_if_empty();
        }
        if !api.path().ends_with("/api/v1") {
            api.path_segments_mut()
                .expect("checked above")
                .extend(["api", "v1"]);
        }

        let mut auth =
            HeaderValue::from_str(&format!("token {}", token.expose())).map_err(|_| {
                setup("the Gitea token contains characters not allowed in a header".into())
            })?;
        auth.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, auth);
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));

        let http = opts
            .ca_certs
            .iter()
            .fold(reqwest::Client::builder(), |b, c| {
                b.add_root_certificate(c.clone())
            })
            .timeout(opts.timeout)
            .user_agent(opts.user_agent.clone())
            .default_headers(headers)
            .build()
            .map_err(|e| setup(describe(e)))?;
        let limiter = std::num::NonZeroU32::new(opts.max_requests_per_second).map(|n| {
            Arc::new(governor::RateLimiter::direct(governor::Quota::per_second(
                n,
            )))
        });
        Ok(GiteaClient {
            http,
            api,
            token,
            opts,
            observer: None,
            limiter,
        })
    }

    /// Report every HTTP attempt to `observer` (for metrics).
    pub fn with_observer(mut self, observer: CallObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    /// `<base>/api/v1`, for messages: a password in it redacted.
    pub fn api_url(&self) -> String {
        crate::config::redact_url(self.api.as_str())
    }

    pub fn options(&self) -> &ClientOptions {
        &self.opts
    }

    // ----- endpoints -------------------------------------------------------------------------

    /// `GET /version` (needs no auth).
    pub async fn version(&self) -> Result<ServerVersion, GiteaError> {
        self.get_json(Call::get("/version", &["version"])).await
    }

    /// Gitea or Forgejo, and its version, from `GET /version`.
    pub async fn server_kind(&self) -> Result<super::ServerKind, GiteaError> {
        Ok(super::ServerKind::detect(&self.version().await?.version))
    }

    /// `GET /user`: the token owner, with `is_admin`.
    pub async fn current_user(&self) -> Result<User, GiteaError> {
        self.get_json(Call::get("/user", &["user"])).await
    }

    pub async fn repo(&self, repo: &RepoName) -> Result<Repository, GiteaError> {
        self.get_json(Call::get("/repos/{o}/{r}", &repo_segments(repo, &[])))
            .await
    }

    /// `GET /orgs/{org}/repos`: the organisation's repositories the token can see, with their
    /// topics. Gitea pages every repository of the organisation and only then drops those the
    /// caller may not see, so a page may be short or even empty with more to come: only the
    /// `Link` header's `next` (computed with the page size Gitea really used) ends the listing.
    /// Ending early would stop serving every repository after the gap.
    pub async fn org_repos(&self, org: &str) -> Result<Vec<Repository>, GiteaError> {
        let call = Call::get("/orgs/{org}/repos", &["orgs", org, "repos"]);
        let items = |body: &[u8]| {
            Ok(serde_json::from_slice::<Option<Vec<Repository>>>(body)?.unwrap_or_default())
        };
        Ok(self.paged_counted(call, items, Ends::LastLink).await?.0)
    }

    pub async fn pull(&self, repo: &RepoName, number: u64) -> Result<PullRequest, GiteaError> {
        let n = number.to_string();
        let segs = repo_segments(repo, &["pulls", &n]);
        self.get_json(Call::get("/repos/{o}/{r}/pulls/{n}", &segs))
            .await
    }

    /// Every open pull request of the repo.
    pub async fn open_pulls(&self, repo: &RepoName) -> Result<Vec<PullRequest>, GiteaError> {
        let segs = repo_segments(repo, &["pulls"]);
        self.get_paged(Call::get("/repos/{o}/{r}/pulls", &segs).query("state", "open"))
            .await
    }

    /// Every PR (open or not) whose `updated_at` is at or after `since`: Gitea moves it on every
    /// comment, review, dismissal, review request, push and state change (`docs/gitea-api.md`),
    /// so an idle repository answers with one empty page. The issue listing filters in the
    /// database when no keyword is given, never through a lagging search indexer.
    /// Also returns Gitea's clock when it answered, if it said.
    pub async fn pulls_updated_since(
        &self,
        repo: &RepoName,
        since: DateTime<Utc>,
    ) -> Result<(Vec<IssueSummary>, Option<DateTime<Utc>>), GiteaError> {
        let segs = repo_segments(repo, &["issues"]);
        let since = since.to_rfc3339_opts(SecondsFormat::Secs, true);
        let call = Call::get("/repos/{o}/{r}/issues", &segs)
            .query("type", "pulls")
            .query("state", "all")
            .query("since", since);
        let (all, _, date) = self
            .paged_dated(
                call,
                |body| {
                    Ok(serde_json::from_slice::<Option<Vec<IssueSummary>>>(body)?
                        .unwrap_or_default())
                },
                Ends::Total,
            )
            .await?;
        let pulls = all
            .into_iter()
            .filter(|i| i.pull_request.is_some())
            .collect();
        Ok((pulls, date))
    }

    /// The (up to) 50 open PRs updated most recently, one call: a PR opened or pushed to lately
    /// is among them (both move `updated_at`, `docs/gitea-api.md`).
    pub async fn recently_updated_open_pulls(
        &self,
        repo: &RepoName,
    ) -> Result<Vec<PullRequest>, GiteaError> {
        let segs = repo_segments(repo, &["pulls"]);
        let call = Call::get("/repos/{o}/{r}/pulls", &segs)
            .query("state", "open")
            .query("sort", "recentupdate")
            .query("page", "1")
            .query("limit", PAGE_SIZE.to_string());
        self.get_json(call).await
    }

    /// Every review the token owner can see, oldest first (others' PENDING ones are hidden
    /// unless the bot is a site admin).
    pub async fn reviews(&self, repo: &RepoName, number: u64) -> Result<Vec<Review>, GiteaError> {
        Ok(self.reviews_counted(repo, number).await?.0)
    }

    /// [`GiteaClient::reviews`] with the listing's `X-Total-Count`, when the server sent one.
    /// Gitea counts before it drops the PENDING reviews the token may not see
    /// (`docs/gitea-api.md` §2), so a total above the number listed means some reviews are hidden.
    pub async fn reviews_counted(
        &self,
        repo: &RepoName,
        number: u64,
    ) -> Result<(Vec<Review>, Option<u64>), GiteaError> {
        let n = number.to_string();
        let segs = repo_segments(repo, &["pulls", &n, "reviews"]);
        let call = Call::get("/repos/{o}/{r}/pulls/{n}/reviews", &segs);
        self.paged_counted(
            call,
            |body| Ok(serde_json::from_slice::<Option<Vec<Review>>>(body)?.unwrap_or_default()),
            Ends::Total,
        )
        .await
    }

    pub async fn timeline(
        &self,
        repo: &RepoName,
        number: u64,
    ) -> Result<Vec<TimelineComment>, GiteaError> {
        let n = number.to_string();
        let segs = repo_segments(repo, &["issues", &n, "timeline"]);
        let call = Call::get("/repos/{o}/{r}/issues/{n}/timeline", &segs);
        // Gitea's timeline `X-Total-Count` is the length of the page just sent, and code
        // comments are dropped from a page after it is read (`docs/gitea-api.md` §2): read on
        // until an empty page.
        let items = |body: &[u8]| {
            Ok(serde_json::from_slice::<Option<Vec<TimelineComment>>>(body)?.unwrap_or_default())
        };
        Ok(self.paged_counted(call, items, Ends::EmptyPage).await?.0)
    }

    /// Every plain comment of one issue or PR. Gitea does not page this endpoint. An unknown
    /// number answers 500, not 404.
    pub async fn issue_comments(
        &self,
        repo: &RepoName,
        number: u64,
    ) -> Result<Vec<Comment>, GiteaError> {
        let n = number.to_string();
        let segs = repo_segments(repo, &["issues", &n, "comments"]);
        let call = Call::get("/repos/{o}/{r}/issues/{n}/comments", &segs);
        let endpoint = call.endpoint();
        let answer = self.send(call).await?;
        decode_list(&endpoint, &answer.body)
    }

    /// Repo-wide comments (issues and PRs) whose `updated_at` is at or after `since`, oldest
    /// first. Edited comments come back: dedupe on `id` + `updated_at`.
    pub async fn repo_comments_since(
        &self,
        repo: &RepoName,
        since: DateTime<Utc>,
    ) -> Result<Vec<Comment>, GiteaError> {
        let segs = repo_segments(repo, &["issues", "comments"]);
        let since = since.to_rfc3339_opts(SecondsFormat::Secs, true);
        self.get_paged(Call::get("/repos/{o}/{r}/issues/comments", &segs).query("since", since))
            .await
    }

    /// One comment by id; `None` when Gitea answers its bodiless 204: the id is not a
    /// conversation comment (a reply in a code-review thread, a timeline row), see
    /// `docs/gitea-api.md` §2. A deleted comment is a `NotFound` error.
    pub async fn comment(&self, repo: &RepoName, id: i64) -> Result<Option<Comment>, GiteaError> {
        let id = id.to_string();
        let segs = repo_segments(repo, &["issues", "comments", &id]);
        let call = Call::get("/repos/{o}/{r}/issues/comments/{id}", &segs);
        let endpoint = call.endpoint();
        let answer = self.send(call).await?;
        // Only Gitea's 204 says "not a conversation comment"; any other empty answer is an
        // error to retry, not a reason to ignore a command.
        if answer.status == 204 {
            return Ok(None);
        }
        serde_json::from_slice(&answer.body)
            .map(Some)
            .map_err(|e| GiteaError::Decode {
                endpoint,
                message: e.to_string(),
            })
    }

    /// Post a comment on an issue or PR. Not retried once it may have been applied (see the
    /// module header).
    pub async fn post_comment(
        &self,
        repo: &RepoName,
        number: u64,
        body: &str,
    ) -> Result<Comment, GiteaError> {
        let n = number.to_string();
        let segs = repo_segments(repo, &["issues", &n, "comments"]);
        let call = Call::new(Method::POST, "/repos/{o}/{r}/issues/{n}/comments", &segs)
            .json(&serde_json::json!({ "body": body }))
            .once();
        self.get_json(call).await
    }

    pub async fn edit_comment(
        &self,
        repo: &RepoName,
        id: i64,
        body: &str,
    ) -> Result<Comment, GiteaError> {
        let id = id.to_string();
        let segs = repo_segments(repo, &["issues", "comments", &id]);
        let call = Call::new(Method::PATCH, "/repos/{o}/{r}/issues/comments/{id}", &segs)
            .json(&serde_json::json!({ "body": body }));
        self.get_json(call).await
    }

    /// Add a reaction (`eyes`, `+1`, …) to a comment. 201 (added) and 200 (already there) are
    /// both success; a name not in the server's list is a 403.
    pub async fn react(
        &self,
        repo: &RepoName,
        comment_id: i64,
        content: &str,
    ) -> Result<(), GiteaError> {
        let id = comment_id.to_string();
        let segs = repo_segments(repo, &["issues", "comments", &id, "reactions"]);
        let call = Call::new(
            Method::POST,
            "/repos/{o}/{r}/issues/comments/{id}/reactions",
            &segs,
        )
        .json(&serde_json::json!({ "content": content }));
        self.send(call).await.map(|_| ())
    }

    /// Post a commit status on `sha` (use the full head SHA).
    pub async fn post_status(
        &self,
        repo: &RepoName,
        sha: &str,
        status: &NewStatus,
    ) -> Result<CommitStatus, GiteaError> {
        let segs = repo_segments(repo, &["statuses", sha]);
        let call = Call::new(Method::POST, "/repos/{o}/{r}/statuses/{sha}", &segs).json(status);
        self.get_json(call).await
    }

    /// The full status history of `sha`, newest first. `sha` must be the full SHA: this endpoint
    /// does not resolve short ones and answers `[]`.
    pub async fn statuses(
        &self,
        repo: &RepoName,
        sha: &str,
    ) -> Result<Vec<CommitStatus>, GiteaError> {
        let segs = repo_segments(repo, &["statuses", sha]);
        self.get_paged(Call::get("/repos/{o}/{r}/statuses/{sha}", &segs))
            .await
    }

    /// The latest status per context on `git_ref` (a SHA, branch or tag), from the combined
    /// endpoint, all pages of contexts. Empty when the commit has none.
    pub async fn latest_statuses(
        &self,
        repo: &RepoName,
        git_ref: &str,
    ) -> Result<Vec<CommitStatus>, GiteaError> {
        let segs = repo_segments(repo, &["commits", git_ref, "status"]);
        let call = Call::get("/repos/{o}/{r}/commits/{ref}/status", &segs);
        self.paged(call, |body| {
            let combined: Option<CombinedStatus> = serde_json::from_slice(body)?;
            Ok(combined.and_then(|c| c.statuses).unwrap_or_default())
        })
        .await
    }

    /// A branch, with `protected` and the required status contexts (needs only code read).
    /// The name may contain `/`.
    pub async fn branch(&self, repo: &RepoName, name: &str) -> Result<Branch, GiteaError> {
        let mut segs = repo_segments(repo, &["branches"]);
        segs.extend(name.split('/'));
        self.get_json(Call::get("/repos/{o}/{r}/branches/{branch}", &segs))
            .await
    }

    /// Every team of the org (the bot must be an org member: 403 otherwise).
    pub async fn org_teams(&self, org: &str) -> Result<Vec<Team>, GiteaError> {
        self.get_paged(Call::get("/orgs/{org}/teams", &["orgs", org, "teams"]))
            .await
    }

    /// One team: 200 proves the bot may read the team's members (`docs/gitea-api.md` §4).
    pub async fn team(&self, id: i64) -> Result<Team, GiteaError> {
        let id = id.to_string();
        self.get_json(Call::get("/teams/{id}", &["teams", &id]))
            .await
    }

    /// The token owner's own teams.
    pub async fn user_teams(&self) -> Result<Vec<Team>, GiteaError> {
        self.get_paged(Call::get("/user/teams", &["user", "teams"]))
            .await
    }

    /// `GET /teams/{id}/members/{login}`, raw: 200 is `true`, 404 is `false`. A 404 only means
    /// "not a member" once `GET /teams/{id}` answered 200; use
    /// [`TeamDirectory::membership`](super::TeamDirectory::membership), which checks that.
    /// An empty login is in no team, and is not sent: `/teams/{id}/members/` would be the
    /// member *list*, whose 200 must never read as "member".
    pub async fn team_member(&self, team_id: i64, login: &str) -> Result<bool, GiteaError> {
        if login.trim().is_empty() {
            return Ok(false);
        }
        let id = team_id.to_string();
        let call = Call::get(
            "/teams/{id}/members/{login}",
            &["teams", &id, "members", login],
        );
        match self.send(call).await {
            Ok(_) => Ok(true),
            Err(GiteaError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    // ----- plumbing --------------------------------------------------------------------------

    async fn get_json<T: DeserializeOwned>(&self, call: Call) -> Result<T, GiteaError> {
        let endpoint = call.endpoint();
        let answer = self.send(call).await?;
        serde_json::from_slice(&answer.body).map_err(|e| GiteaError::Decode {
            endpoint,
            message: e.to_string(),
        })
    }

    async fn get_paged<T: DeserializeOwned>(&self, call: Call) -> Result<Vec<T>, GiteaError> {
        self.paged(call, |body| {
            Ok(serde_json::from_slice::<Option<Vec<T>>>(body)?.unwrap_or_default())
        })
        .await
    }

    /// Read every page of a listing; `items` takes one page's body apart.
    async fn paged<T>(
        &self,
        call: Call,
        items: impl Fn(&[u8]) -> Result<Vec<T>, serde_json::Error>,
    ) -> Result<Vec<T>, GiteaError> {
        Ok(self.paged_counted(call, items, Ends::Total).await?.0)
    }

    /// [`GiteaClient::paged`], with the last `X-Total-Count` the server sent, ended as `ends`
    /// says.
    async fn paged_counted<T>(
        &self,
        call: Call,
        items: impl Fn(&[u8]) -> Result<Vec<T>, serde_json::Error>,
        ends: Ends,
    ) -> Result<(Vec<T>, Option<u64>), GiteaError> {
        let (all, total, _) = self.paged_dated(call, items, ends).await?;
        Ok((all, total))
    }

    /// [`GiteaClient::paged_counted`], with the server's clock when it sent the first page.
    async fn paged_dated<T>(
        &self,
        call: Call,
        items: impl Fn(&[u8]) -> Result<Vec<T>, serde_json::Error>,
        ends: Ends,
    ) -> Result<(Vec<T>, Option<u64>, Option<DateTime<Utc>>), GiteaError> {
        let endpoint = call.endpoint();
        let mut all = Vec::new();
        let mut total = None;
        let mut date = None;
        for page in 1..=MAX_PAGES {
            let this = call
                .clone()
                .query("page", page.to_string())
                .query("limit", PAGE_SIZE.to_string());
            let answer = self.send(this).await?;
            let got = items(&answer.body).map_err(|e| GiteaError::Decode {
                endpoint: endpoint.clone(),
                message: e.to_string(),
            })?;
            let n = got.len();
            all.extend(got);
            total = answer.total_count.or(total);
            date = date.or(answer.date);
            let done = match (ends, answer.total_count) {
                (Ends::LastLink, _) => !answer.next_page,
                _ if n == 0 => true,
                (Ends::EmptyPage, _) => false,
                (Ends::Total, Some(total)) => all.len() as u64 >= total,
                (Ends::Total, None) => n < PAGE_SIZE,
            };
            if done {
                return Ok((all, total, date));
            }
        }
        Err(GiteaError::Decode {
            endpoint,
            message: format!("the listing did not end after {MAX_PAGES} pages"),
        })
    }

    fn url(&self, call: &Call) -> Url {
        let mut url = self.api.clone();
        url.path_segments_mut()
            .expect("the base URL was checked in new()")
            .extend(&call.segments);
        if !call.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&call.query);
        }
        url
    }

    /// The backoff ceiling doubles per attempt up to `backoff_max`; the sleep is uniform in
    /// `[0, ceiling]` (full jitter).
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .opts
            .backoff_base
            .saturating_mul(2u32.saturating_pow(attempt))
            .min(self.opts.backoff_max);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(fastrand::u64(0..=nanos))
    }

    /// How long to wait before retrying after `failure`, or `None` not to retry.
    fn retry_delay(&self, failure: &Failure, repeat: Repeat, attempt: u32) -> Option<Duration> {
        let safe = repeat == Repeat::Safe;
        match failure {
            Failure::Answered {
                status: 429,
                retry_after: Some(wait),
                ..
            } => (*wait <= self.opts.retry_after_max).then_some(*wait),
            Failure::Answered { status: 429, .. } => Some(self.backoff(attempt)),
            Failure::Answered {
                status: 502 | 503, ..
            } => Some(self.backoff(attempt)),
            Failure::Answered { status, .. } if *status >= 500 && safe => {
                Some(self.backoff(attempt))
            }
            Failure::Answered { .. } => None,
            // An untrusted certificate stays untrusted: asking again cannot help.
            Failure::Connect(m) if m.contains(super::error::UNTRUSTED_CERTIFICATE) => None,
            Failure::Connect(_) => Some(self.backoff(attempt)),
            Failure::Timeout | Failure::Transport(_) if safe => Some(self.backoff(attempt)),
            Failure::Timeout | Failure::Transport(_) => None,
        }
    }

    /// Send `call`, retrying per the module's policy; a 2xx is `Ok`.
    async fn send(&self, call: Call) -> Result<Received, GiteaError> {
        let endpoint = call.endpoint();
        let url = self.url(&call);
        let mut attempt = 0;
        loop {
            if let Some(limiter) = &self.limiter {
                limiter.until_ready().await;
            }
            let started = Instant::now();
            let outcome = self.attempt(&call, url.clone()).await;
            let elapsed = started.elapsed();
            let status = match &outcome {
                Ok((status, _)) => Some(*status),
                Err(Failure::Answered { status, .. }) => Some(*status),
                Err(_) => None,
            };
            debug!(
                endpoint = %endpoint,
                status = status.map(|s| s as i64).unwrap_or(-1),
                elapsed_ms = elapsed.as_millis() as u64,
                attempt,
                "gitea call"
            );
            if let Some(observe) = &self.observer {
                observe(&CallRecord {
                    method: method_name(&call.method),
                    endpoint_template: call.template,
                    status,
                    elapsed,
                    attempt,
                });
            }
            let failure = match outcome {
                Ok((_, answer)) => return Ok(answer),
                Err(f) => f,
            };
            if attempt < self.opts.retries {
                if let Some(wait) = self.retry_delay(&failure, call.repeat, attempt) {
                    debug!(endpoint = %endpoint, wait_ms = wait.as_millis() as u64, "gitea retry");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                    continue;
                }
            }
            return Err(self.error(endpoint, failure));
        }
    }

    /// One HTTP exchange, body included.
    async fn attempt(&self, call: &Call, url: Url) -> Result<(u16, Received), Failure> {
        let mut request = self.http.request(call.method.clone(), url);
        if let Some(body) = &call.body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let classify = |e: reqwest::Error| {
            if e.is_connect() {
                Failure::Connect(describe(e))
            } else if e.is_timeout() {
                Failure::Timeout
            } else {
                Failure::Transport(describe(e))
            }
        };
        let response = request.send().await.map_err(classify)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body: Vec<u8> = response.bytes().await.map_err(classify)?.into();
        if status.is_success() {
            let total_count = headers
                .get("x-total-count")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok());
            let date = headers
                .get(reqwest::header::DATE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
                .map(|d| d.with_timezone(&Utc));
            let next_page = headers
                .get_all(reqwest::header::LINK)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .any(|v| v.contains("rel=\"next\""));
            return Ok((
                status.as_u16(),
                Received {
                    status: status.as_u16(),
                    body,
                    total_count,
                    date,
                    next_page,
                },
            ));
        }
        let retry_after = (status == StatusCode::TOO_MANY_REQUESTS)
            .then(|| {
                headers
                    .get(RETRY_AFTER)?
                    .to_str()
                    .ok()
                    .and_then(parse_retry_after)
            })
            .flatten();
        Err(Failure::Answered {
            status: status.as_u16(),
            body,
            retry_after,
        })
    }

    fn error(&self, endpoint: String, failure: Failure) -> GiteaError {
        let token = self.token.expose();
        match failure {
            Failure::Answered { status, body, .. } => {
                GiteaError::from_status(endpoint, status, &body, token)
            }
            Failure::Timeout => GiteaError::Timeout { endpoint },
            Failure::Connect(message) | Failure::Transport(message) => GiteaError::Transport {
                endpoint,
                message: mask(&message, token),
            },
        }
    }
}

fn decode_list<T: DeserializeOwned>(endpoint: &str, body: &[u8]) -> Result<Vec<T>, GiteaError> {
    serde_json::from_slice::<Option<Vec<T>>>(body)
        .map(Option::unwrap_or_default)
        .map_err(|e| GiteaError::Decode {
            endpoint: endpoint.to_string(),
            message: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    use serde_json::json;

    use super::*;
    use crate::gitea::testkit::{fast_options, Reply, TestServer, TOKEN};

    fn widgets() -> RepoName {
        "acme/widgets".parse().unwrap()
    }

    fn pr_json(n: u64) -> serde_json::Value {
        json!({"number": n, "state": "open", "user": {"id": 3, "login": "alice"},
               "head": {"ref": "f", "sha": "abc", "repo_id": 1},
               "base": {"ref": "main", "sha": "def", "repo_id": 1}})
    }

    fn items(range: std::ops::Range<usize>) -> serde_json::Value {
        range.map(|i| json!({"id": i, "body": "x"})).collect()
    }

    #[tokio::test]
    async fn retries_a_500_then_succeeds() {
        let server = TestServer::start(|_, i| {
            if i == 0 {
                Reply::error(500, "")
            } else {
                Reply::json(200, pr_json(7))
            }
        })
        .await;
        let pr = server.client().pull(&widgets(), 7).await.unwrap();
        assert_eq!(pr.number, 7);
        assert_eq!(pr.author(), Some("alice"));
        assert_eq!(server.count("/repos/acme/widgets/pulls/7"), 2);
    }

    /// Every clone shares one budget: ten calls at five a second cannot all go out within the
    /// first second (the first five are the burst). A lower bound the limiter guarantees.
    #[tokio::test]
    async fn the_rate_limit_is_shared_by_every_clone() {
        let server = TestServer::start(|_, _| Reply::json(200, pr_json(7))).await;
        let opts = ClientOptions {
            max_requests_per_second: 5,
            ..fast_options()
        };
        let client = GiteaClient::new(&server.base_url, Secret::new(TOKEN), opts).unwrap();
        let started = std::time::Instant::now();
        let calls = (0..10).map(|_| {
            let c = client.clone();
            async move { c.pull(&widgets(), 7).await.unwrap() }
        });
        futures_util::future::join_all(calls).await;
        assert!(started.elapsed() >= Duration::from_millis(900));
        assert_eq!(server.count("/repos/acme/widgets/pulls/7"), 10);
    }

    #[tokio::test]
    async fn gives_up_on_5xx_after_the_configured_retries() {
        let server = TestServer::start(|_, _| Reply::text(502, "bad gateway")).await;
        let err = server.client().pull(&widgets(), 7).await.unwrap_err();
        assert_eq!(server.calls().len(), 3, "first attempt + 2 retries");
        assert_eq!(err.status(), Some(502));
        assert_eq!(
            err.to_string(),
            "GET /repos/acme/widgets/pulls/7 answered 502: bad gateway"
        );
    }

    #[tokio::test]
    async fn does_not_retry_other_4xx() {
        for (status, message) in [
            (404, "not found"),
            (403, "Must be a team member"),
            (422, "[Body]: Required"),
        ] {
            let server = TestServer::start(move |_, _| Reply::error(status, message)).await;
            let err = server.client().pull(&widgets(), 7).await.unwrap_err();
            assert_eq!(server.calls().len(), 1, "{status} must not be retried");
            assert_eq!(err.status(), Some(status));
            assert!(err.to_string().ends_with(message), "{err}");
            match status {
                404 => assert!(err.is_not_found()),
                403 => assert!(err.is_forbidden()),
                _ => assert!(matches!(err, GiteaError::Status { status: 422, .. })),
            }
        }
    }

    #[tokio::test]
    async fn maps_401_to_unauthorized() {
        let server =
            TestServer::start(|_, _| Reply::error(401, "invalid username, password or token"))
                .await;
        let err = server.client().current_user().await.unwrap_err();
        assert!(matches!(err, GiteaError::Unauthorized { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "GET /user answered 401: invalid username, password or token"
        );
    }

    #[tokio::test]
    async fn honours_retry_after_on_429() {
        let server = TestServer::start(|_, i| {
            if i == 0 {
                Reply::text(429, "slow down").header("retry-after", 1)
            } else {
                Reply::json(200, json!({"version": "1.25.4"}))
            }
        })
        .await;
        let started = Instant::now();
        let v = server.client().version().await.unwrap();
        assert_eq!(v.version, "1.25.4");
        assert_eq!(server.calls().len(), 2);
        assert!(
            started.elapsed() >= Duration::from_millis(950),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn a_retry_after_beyond_the_cap_fails_at_once() {
        let server =
            TestServer::start(|_, _| Reply::text(429, "").header("retry-after", 3600)).await;
        let err = server.client().version().await.unwrap_err();
        assert_eq!(server.calls().len(), 1);
        assert_eq!(
            err.to_string(),
            "GET /version answered 429: Too Many Requests"
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[tokio::test]
    async fn a_stalled_server_gives_timeout_after_retries() {
        let server = TestServer::start(|_, _| {
            Reply::json(200, json!({"version": "1"})).after(Duration::from_secs(2))
        })
        .await;
        let opts = ClientOptions {
            timeout: Duration::from_millis(60),
            ..fast_options()
        };
        let client = GiteaClient::new(&server.base_url, Secret::new(TOKEN), opts).unwrap();
        let err = client.version().await.unwrap_err();
        assert_eq!(
            err,
            GiteaError::Timeout {
                endpoint: "GET /version".into()
            }
        );
        assert_eq!(server.calls().len(), 3);
    }

    #[tokio::test]
    async fn creating_a_comment_is_not_retried_once_it_may_have_been_applied() {
        // 500 and timeouts: the comment may exist. One attempt only.
        let server = TestServer::start(|_, _| Reply::error(500, "")).await;
        let err = server
            .client()
            .post_comment(&widgets(), 7, "hi")
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(500));
        assert_eq!(server.calls().len(), 1);

        let server = TestServer::start(|_, _| {
            Reply::json(201, json!({"id": 1})).after(Duration::from_secs(2))
        })
        .await;
        let opts = ClientOptions {
            timeout: Duration::from_millis(60),
            ..fast_options()
        };
        let client = GiteaClient::new(&server.base_url, Secret::new(TOKEN), opts).unwrap();
        let err = client.post_comment(&widgets(), 7, "hi").await.unwrap_err();
        assert!(matches!(err, GiteaError::Timeout { .. }));
        assert_eq!(server.calls().len(), 1);

        // 503: not processed; retried.
        let server = TestServer::start(|_, i| {
            if i == 0 {
                Reply::text(503, "")
            } else {
                Reply::json(
                    201,
                    json!({"id": 99, "body": "hi",
                    "pull_request_url": "http://g/acme/widgets/pulls/7"}),
                )
            }
        })
        .await;
        let c = server
            .client()
            .post_comment(&widgets(), 7, "hi")
            .await
            .unwrap();
        assert_eq!((c.id, c.pr_number()), (99, Some(7)));
        let calls = server.calls();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[1].method, "POST");
        assert_eq!(calls[1].path, "/repos/acme/widgets/issues/7/comments");
        assert_eq!(calls[1].body, r#"{"body":"hi"}"#);
    }

    #[tokio::test]
    async fn a_refused_connection_is_retried_then_reported_as_transport() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let attempts = Arc::new(AtomicUsize::new(0));
        let counter = attempts.clone();
        let client = GiteaClient::new(
            &format!("http://127.0.0.1:{port}"),
            Secret::new(TOKEN),
            fast_options(),
        )
        .unwrap()
        .with_observer(Arc::new(move |r: &CallRecord| {
            assert_eq!(r.status, None);
            counter.fetch_add(1, Ordering::SeqCst);
        }));
        // Even a comment: a refused connection sent nothing.
        let err = client.post_comment(&widgets(), 7, "hi").await.unwrap_err();
        assert!(matches!(err, GiteaError::Transport { .. }), "{err:?}");
        assert_eq!(attempts.load(Ordering::SeqCst), 3);
        assert!(err
            .to_string()
            .starts_with("POST /repos/acme/widgets/issues/7/comments failed: "));
    }

    #[tokio::test]
    async fn paging_always_sends_page_and_limit_and_stops_on_a_short_page() {
        // No X-Total-Count: a short page ends the listing.
        let server = TestServer::start(|seen, _| match seen.q("page") {
            Some("1") => Reply::json(200, items(0..50)),
            Some("2") => Reply::json(200, items(50..57)),
            _ => panic!("page 3 must not be asked for"),
        })
        .await;
        let comments = server
            .client()
            .repo_comments_since(&widgets(), "2026-03-02T14:03:27.9Z".parse().unwrap())
            .await
            .unwrap();
        assert_eq!(comments.len(), 57);
        let calls = server.calls();
        assert_eq!(calls.len(), 2);
        for (i, c) in calls.iter().enumerate() {
            assert_eq!(c.path, "/repos/acme/widgets/issues/comments");
            assert_eq!(c.q("page"), Some((i + 1).to_string().as_str()));
            assert_eq!(c.q("limit"), Some("50"));
            assert_eq!(c.q("since"), Some("2026-03-02T14:03:27Z"));
        }
    }

    #[tokio::test]
    async fn paging_stops_when_x_total_count_is_reached() {
        let server = TestServer::start(|seen, _| match seen.q("page") {
            Some("1") => Reply::json(200, items(0..50)).header("x-total-count", 100),
            Some("2") => Reply::json(200, items(50..100)).header("x-total-count", 100),
            _ => panic!("page 3 must not be asked for"),
        })
        .await;
        let reviews = server.client().reviews(&widgets(), 7).await.unwrap();
        assert_eq!(reviews.len(), 100);
        assert_eq!(server.calls().len(), 2);
    }

    #[tokio::test]
    async fn paging_reads_past_a_short_page_while_x_total_count_says_more() {
        // Gitea pages reviews before hiding PENDING ones: page 1 lost 2 of its 50 rows, and the
        // total counts them. Page 2 must still be read; the empty page 3 ends the listing.
        let server = TestServer::start(|seen, _| {
            let page = match seen.q("page") {
                Some("1") => items(0..48),
                Some("2") => items(50..52),
                Some("3") => json!([]),
                other => panic!("unexpected page {other:?}"),
            };
            Reply::json(200, page).header("x-total-count", 52)
        })
        .await;
        let reviews = server.client().reviews(&widgets(), 7).await.unwrap();
        assert_eq!(reviews.len(), 50);
        assert_eq!(reviews.last().unwrap().id, 51);
        assert_eq!(server.calls().len(), 3);
    }

    /// Gitea answers the timeline with `X-Total-Count` = the page's length
    /// (`routers/api/v1/repo/issue_comment.go` `ListIssueCommentsAndTimeline`:
    /// `ctx.SetTotalCountHeader(int64(len(apiComments)))`) and drops code comments from a page
    /// after reading it (`comment.Type != CommentTypeCode`, same function @ v1.25.4), so a
    /// short page is not the end either.
    #[tokio::test]
    async fn the_timeline_is_read_to_an_empty_page_whatever_x_total_count_says() {
        let server = TestServer::start(|seen, _| {
            let page = match seen.q("page") {
                Some("1") => items(0..50),
                Some("2") => items(50..98),
                Some("3") => items(100..103),
                Some("4") => items(0..0),
                other => panic!("unexpected page {other:?}"),
            };
            let n = page.as_array().unwrap().len();
            Reply::json(200, page).header("x-total-count", n)
        })
        .await;
        let timeline = server.client().timeline(&widgets(), 7).await.unwrap();
        assert_eq!(timeline.len(), 101);
        assert_eq!(server.calls().len(), 4);
    }

    #[tokio::test]
    async fn a_null_list_reads_as_empty() {
        let server = TestServer::start(|_, _| Reply::text(200, "null")).await;
        assert!(server
            .client()
            .timeline(&widgets(), 7)
            .await
            .unwrap()
            .is_empty());
    }

    #[tokio::test]
    async fn issue_comments_are_read_in_one_unpaged_request() {
        let server = TestServer::start(|_, _| Reply::json(200, items(0..120))).await;
        let comments = server.client().issue_comments(&widgets(), 7).await.unwrap();
        assert_eq!(comments.len(), 120);
        let calls = server.calls();
        assert_eq!(calls.len(), 1);
        assert!(calls[0].query.is_empty());
    }

    #[tokio::test]
    async fn errors_and_debug_never_show_the_token() {
        // A proxy that echoes the auth header back in its error page.
        let server = TestServer::start(|seen, _| {
            Reply::text(400, &format!("bad request: {:?}", seen.authorization))
        })
        .await;
        let client = server.client();
        let err = client.pull(&widgets(), 7).await.unwrap_err();
        assert_eq!(
            server.calls()[0].authorization.as_deref(),
            Some(format!("token {TOKEN}").as_str())
        );
        for text in [err.to_string(), format!("{err:?}"), format!("{client:?}")] {
            assert!(!text.contains(TOKEN), "{text}");
        }
        assert!(err
            .to_string()
            .starts_with("GET /repos/acme/widgets/pulls/7 answered 400:"));
        assert!(format!("{client:?}").contains("***"));
    }

    #[tokio::test]
    async fn an_undecodable_answer_is_a_decode_error() {
        let server = TestServer::start(|_, _| Reply::text(200, "<html>login</html>")).await;
        let err = server.client().current_user().await.unwrap_err();
        assert!(matches!(err, GiteaError::Decode { .. }), "{err:?}");
        assert!(err.to_string().starts_with("GET /user sent an answer"));
    }

    #[tokio::test]
    async fn base_url_may_end_in_a_slash_or_api_v1_and_may_have_a_sub_path() {
        let server = TestServer::start(|_, _| Reply::json(200, json!({"version": "1"}))).await;
        for base in [
            format!("{}/", server.base_url),
            format!("{}/api/v1", server.base_url),
        ] {
            let c = GiteaClient::new(&base, Secret::new(TOKEN), fast_options()).unwrap();
            c.version().await.unwrap();
        }
        assert!(server.calls().iter().all(|s| s.path == "/version"));

        let c =
            GiteaClient::new("https://h.example/gitea/", Secret::new("t"), fast_options()).unwrap();
        assert_eq!(c.api_url(), "https://h.example/gitea/api/v1");
        assert!(matches!(
            GiteaClient::new("h.example", Secret::new("t"), fast_options()),
            Err(GiteaError::Setup { .. })
        ));
        assert!(matches!(
            GiteaClient::new("ftp://h.example", Secret::new("t"), fast_options()),
            Err(GiteaError::Setup { .. })
        ));
    }

    #[tokio::test]
    async fn branch_names_keep_their_slashes_and_other_segments_are_escaped() {
        let server = TestServer::start(|_, _| {
            Reply::json(
                200,
                json!({"name": "feature/x", "protected": true,
                "status_check_contexts": null}),
            )
        })
        .await;
        let b = server
            .client()
            .branch(&widgets(), "feature/x")
            .await
            .unwrap();
        assert!(b.protected);
        assert!(b.status_check_contexts.is_empty());
        server.client().team_member(3, "a b?").await.unwrap();
        let calls = server.calls();
        assert_eq!(calls[0].path, "/repos/acme/widgets/branches/feature/x");
        assert_eq!(calls[1].path, "/teams/3/members/a%20b%3F");
    }

    #[tokio::test]
    async fn team_member_reads_200_as_yes_404_as_no_and_403_as_forbidden() {
        let server = TestServer::start(|seen, _| match seen.path.as_str() {
            "/teams/20/members/bob" => Reply::json(200, json!({"id": 4, "login": "bob"})),
            "/teams/20/members/dave" => Reply::error(404, "not found"),
            _ => Reply::error(403, "Must be a team member"),
        })
        .await;
        let c = server.client();
        assert!(c.team_member(20, "bob").await.unwrap());
        assert!(!c.team_member(20, "dave").await.unwrap());
        let err = c.team_member(21, "bob").await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "GET /teams/21/members/bob answered 403: Must be a team member"
        );
        // An empty login is never sent: `/teams/20/members/` is the member list.
        assert!(!c.team_member(20, "").await.unwrap());
        assert_eq!(server.calls().len(), 3);
    }

    #[tokio::test]
    async fn reactions_accept_200_and_201() {
        let server = TestServer::start(|_, i| {
            Reply::json(if i == 0 { 201 } else { 200 }, json!({"content": "eyes"}))
        })
        .await;
        let c = server.client();
        c.react(&widgets(), 1042, "eyes").await.unwrap();
        c.react(&widgets(), 1042, "eyes").await.unwrap();
        let calls = server.calls();
        assert_eq!(
            calls[0].path,
            "/repos/acme/widgets/issues/comments/1042/reactions"
        );
        assert_eq!(calls[0].body, r#"{"content":"eyes"}"#);
    }

    #[tokio::test]
    async fn statuses_post_state_and_read_status() {
        let server = TestServer::start(|seen, _| match seen.method.as_str() {
            "POST" => Reply::json(
                201,
                json!({"id": 1, "status": "failure",
                "context": "qa-review / approved", "description": "waiting"}),
            ),
            _ => match seen.q("page") {
                Some("1") => Reply::json(
                    200,
                    json!({"state": "", "sha": "abc",
                    "total_count": 0, "statuses": null}),
                ),
                other => panic!("unexpected page {other:?}"),
            },
        })
        .await;
        let c = server.client();
        let posted = c
            .post_status(
                &widgets(),
                "abc",
                &NewStatus {
                    state: StatusState::Failure,
                    context: "qa-review / approved".into(),
                    description: "waiting".into(),
                    target_url: Some("http://bot/x".into()),
                },
            )
            .await
            .unwrap();
        assert_eq!(posted.state, "failure");
        assert!(c
            .latest_statuses(&widgets(), "abc")
            .await
            .unwrap()
            .is_empty());
        let calls = server.calls();
        assert_eq!(calls[0].path, "/repos/acme/widgets/statuses/abc");
        let body: serde_json::Value = serde_json::from_str(&calls[0].body).unwrap();
        assert_eq!(body["state"], "failure");
        assert_eq!(calls[1].path, "/repos/acme/widgets/commits/abc/status");
    }

    #[tokio::test]
    async fn latest_statuses_pages_through_contexts() {
        let server = TestServer::start(|seen, _| {
            let page = seen.q("page").unwrap().parse::<usize>().unwrap();
            let statuses: Vec<_> = ((page - 1) * 50..(page * 50).min(70))
                .map(|i| json!({"id": i, "status": "success", "context": format!("c{i}")}))
                .collect();
            Reply::json(
                200,
                json!({"state": "success", "sha": "abc", "statuses": statuses}),
            )
            .header("x-total-count", 70)
        })
        .await;
        let latest = server
            .client()
            .latest_statuses(&widgets(), "abc")
            .await
            .unwrap();
        assert_eq!(latest.len(), 70);
        assert_eq!(server.calls().len(), 2);
    }

    #[tokio::test]
    async fn the_observer_sees_every_attempt_with_its_template() {
        let server = TestServer::start(|_, i| {
            if i == 0 {
                Reply::text(500, "")
            } else {
                Reply::json(200, json!([])).header("x-total-count", 0)
            }
        })
        .await;
        let records = Arc::new(Mutex::new(Vec::new()));
        let sink = records.clone();
        let client = server
            .client()
            .with_observer(Arc::new(move |r: &CallRecord| {
                sink.lock().unwrap().push(r.clone())
            }));
        client.open_pulls(&widgets()).await.unwrap();
        let records = records.lock().unwrap();
        let seen: Vec<_> = records
            .iter()
            .map(|r| (r.method, r.endpoint_template, r.status, r.attempt))
            .collect();
        assert_eq!(
            seen,
            [
                ("GET", "/repos/{o}/{r}/pulls", Some(500), 0),
                ("GET", "/repos/{o}/{r}/pulls", Some(200), 1)
            ]
        );
        assert_eq!(server.calls()[1].q("state"), Some("open"));
    }
}
