//! The HTTP edge: `POST /webhook`, `GET /healthz`, `GET /readyz` (the metrics and the details
//! page, `GET /pr/…` in `crate::details`, are merged in by `serve`).
//!
//! The webhook handler only verifies, decodes and stores: signature (HMAC-SHA256 of the raw
//! body), [`decode`](crate::gitea::webhook::decode) into an [`Event`], then the durable inbox. It
//! makes no Gitea call; workers drain the inbox (woken through [`AppState`]'s `Notify`). Gitea
//! never retries a failed delivery and the poller catches up what was lost, so every answer
//! is about *this* delivery:
//!
//! | answer | when |
//! | --- | --- |
//! | 202 `queued` / `duplicate` | stored in the inbox (or already there under its dedup key) |
//! | 200 `ignored: <why>` | an event type, repository or author sopbot does not act on (a commit status: one on a context that is not sopbot's, or posted by the bot itself) |
//! | 400 | the body is not the event its headers claim |
//! | 401 | a secret is configured and the signature is missing or wrong; nothing is read |
//! | 413 | the body is larger than `max_body` |
//! | 503 | the inbox could not be written: not acknowledged (visible in Gitea's delivery log) |
//!
//! A delivery is acknowledged only once its inbox row is committed, synced, in the file at the
//! configured path. During a database outage every delivery is refused with 503 while the store
//! logs the outage once, when it starts and when it ends (not once per delivery).
//!
//! Every log line of a request carries `delivery`, `event`, `repo` and `pr` (the span of the
//! request). Neither the secret nor a body is ever logged.

use crate::repos::Served;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tracing::Instrument;

use crate::bot::event::Event;
use crate::gitea::webhook::{self, Decoded};
use crate::gitea::GiteaClient;
use crate::secret::Secret;
use crate::store::{Enqueued, EventSource, NewEvent, Store};
use crate::types::PrNumber;

/// Body limit when none is set (the config's default too).
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;

/// How long `/readyz` waits for each dependency.
pub const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// How deliveries are authenticated. Running without a secret must be asked for by name.
#[derive(Debug, Clone)]
pub enum WebhookAuth {
    /// Every delivery must carry a valid HMAC-SHA256 signature made with this secret.
    Secret(Secret),
    /// Accept unsigned deliveries (`--insecure-no-webhook-secret`): anyone who can reach the
    /// port can queue events.
    InsecureNone,
}

/// What the routes need. Build with [`AppState::new`] and the `with_*` methods.
pub struct AppState {
    store: Store,
    secret: Option<Secret>,
    /// The served repositories as the workers see them (`[[repo]]` and `[[org]]` discoveries);
    /// deliveries for others are ignored.
    served: Arc<Served>,
    /// The bot's own login: its comments and statuses are ignored.
    bot_login: Option<String>,
    /// The gate and N/A contexts: a `status` delivery on another context is ignored.
    contexts: Vec<String>,
    max_body: usize,
    /// For `/readyz`; never called on the webhook path.
    gitea: Option<GiteaClient>,
    /// Woken after each new event so a worker starts at once.
    notify: Arc<Notify>,
}

impl AppState {
    /// State for the given inbox, authentication and served repositories, with a body limit
    /// of [`DEFAULT_MAX_BODY`], no bot login, no Gitea client (`/readyz` then answers 503) and
    /// a fresh `Notify`.
    pub fn new(store: Store, auth: WebhookAuth, served: Arc<Served>) -> AppState {
        AppState {
            store,
            secret: match auth {
                WebhookAuth::Secret(s) => Some(s),
                WebhookAuth::InsecureNone => None,
            },
            served,
            bot_login: None,
            contexts: Vec::new(),
            max_body: DEFAULT_MAX_BODY,
            gitea: None,
            notify: Arc::new(Notify::new()),
        }
    }

    /// The bot's login (`GET /user`); comments it wrote are ignored.
    pub fn with_bot_login(mut self, login: impl Into<String>) -> AppState {
        self.bot_login = Some(login.into());
        self
    }

    /// sopbot's status contexts (every gate's and the N/A one): a `status` delivery is acted
    /// on only for these. Without them every `status` delivery is ignored.
    pub fn with_status_contexts(mut self, contexts: Vec<String>) -> AppState {
        self.contexts = contexts;
        self
    }

    /// Largest accepted body in bytes (`server.max_body_bytes`).
    pub fn with_max_body(mut self, bytes: usize) -> AppState {
        self.max_body = bytes;
        self
    }

    /// The Gitea client `/readyz` checks.
    pub fn with_gitea(mut self, client: GiteaClient) -> AppState {
        self.gitea = Some(client);
        self
    }

    /// The `Notify` the workers wait on (`notify_one` after each new event).
    pub fn with_notify(mut self, notify: Arc<Notify>) -> AppState {
        self.notify = notify;
        self
    }

    /// The `Notify` woken after each new event.
    pub fn notifier(&self) -> Arc<Notify> {
        self.notify.clone()
    }

    /// The configured spelling of `repo` if it is served (Gitea names are case-insensitive).
    /// Until an `[[org]]` has been listed once, every repository it owns is served as spelled
    /// in the delivery: its events wait in the inbox for the listing rather than being lost.
    fn served(&self, repo: &str) -> Option<String> {
        match self.served.get(repo) {
            Some(r) => Some(r.name.full()),
            None => self.served.undecided(repo).then(|| repo.to_string()),
        }
    }

    fn is_bot(&self, login: Option<&str>) -> bool {
        matches!((login, &self.bot_login), (Some(l), Some(b)) if l.eq_ignore_ascii_case(b))
    }
}

/// The routes: `POST /webhook`, `GET /healthz`, `GET /readyz`.
pub fn router(state: AppState) -> Router {
    let max_body = state.max_body;
    Router::new()
        .route("/webhook", post(webhook))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(Arc::new(state))
}

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting and lets
/// requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "listening");
    }
    // The peer's address is in each request's extensions (`ConnectInfo`), for the logs.
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

async fn healthz() -> &'static str {
    "ok"
}

/// `{"database":"ok","gitea":"ok"}`, or 503 naming what failed. The database is ok when a
/// probe write commits in the file at the configured path (not deleted, not replaced).
async fn readyz(State(app): State<Arc<AppState>>) -> Response {
    let database = async {
        // A real write, committed: a database that only answers reads is not ready.
        match tokio::time::timeout(READY_TIMEOUT, app.store.check_writable()).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(format!("not writable: {e}")),
            Err(_) => Some(format!("error: no answer within {READY_TIMEOUT:?}")),
        }
    };
    let gitea = async {
        let Some(client) = &app.gitea else {
            return Some("not configured".to_string());
        };
        match tokio::time::timeout(READY_TIMEOUT, client.version()).await {
            Ok(Ok(_)) => None,
            // An answer, but not the version: a wrong URL or a broken server.
            Ok(Err(e)) if e.status().is_some() => Some(format!("error: {e}")),
            Ok(Err(e)) => Some(format!("unreachable: {e}")),
            Err(_) => Some(format!("unreachable: no answer within {READY_TIMEOUT:?}")),
        }
    };
    let (database, gitea) = tokio::join!(database, gitea);
    let status = if database.is_none() && gitea.is_none() {
        StatusCode::OK
    } else {
        tracing::debug!(?database, ?gitea, "not ready");
        StatusCode::SERVICE_UNAVAILABLE
    };
    let ok = || "ok".to_string();
    let body = serde_json::json!({
        "database": database.unwrap_or_else(ok),
        "gitea": gitea.unwrap_or_else(ok),
    });
    (status, Json(body)).into_response()
}

/// `POST /webhook`: opens the request's span, then [`handle_delivery`].
async fn webhook(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let delivery = webhook::delivery_id(&headers);
    let event = webhook::event_name(&headers).unwrap_or_default();
    let span = tracing::info_span!(
        "webhook",
        delivery = delivery.as_deref().unwrap_or("-"),
        event = %event,
        repo = tracing::field::Empty,
        pr = tracing::field::Empty,
    );
    handle_delivery(&app, &headers, delivery, body)
        .instrument(span)
        .await
}

async fn handle_delivery(
    app: &AppState,
    headers: &HeaderMap,
    delivery: Option<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match verified_body(app, headers, body) {
        Ok(body) => body,
        Err((status, message)) => return reply(status, message),
    };
    let decoded = webhook::decode_delivery(headers, &body);
    let event = match decoded {
        Ok(Decoded::Event(event)) => event,
        Ok(Decoded::Ignored(why)) => return ignored(why),
        Err(e) => {
            // The field, not the message: serde's detail may quote the payload.
            tracing::warn!(field = e.field().unwrap_or("-"), "malformed payload");
            return reply(StatusCode::BAD_REQUEST, e.to_string());
        }
    };
    let span = tracing::Span::current();
    span.record("repo", event.repo());
    if let Some(pr) = event.pr() {
        span.record("pr", pr.0);
    }
    match acted_on(app, event) {
        Ok(event) => enqueue(app, event, delivery).await,
        Err(why) => ignored(why),
    }
}

/// The body, read within the limit and (with a secret) signed by Gitea; else the answer.
fn verified_body(
    app: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Bytes, (StatusCode, String)> {
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            tracing::warn!(limit = app.max_body, "body too large");
            return Err((
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("body larger than {} bytes", app.max_body),
            ));
        }
        Err(rejection) => {
            tracing::warn!(error = %rejection.body_text(), "cannot read the body");
            return Err((rejection.status(), rejection.body_text()));
        }
    };
    if let Some(secret) = &app.secret {
        if let Err(problem) = webhook::verify_signature(secret, headers, &body) {
            tracing::warn!(problem = problem.as_str(), "refused: signature");
            let mut message = problem.as_str().to_string();
            if is_form(headers) {
                message.push_str(" (set the hook's content type to application/json)");
            }
            return Err((StatusCode::UNAUTHORIZED, message));
        }
    }
    Ok(body)
}

/// The event with the repository spelled as configured, or why sopbot does not act on it.
fn acted_on(app: &AppState, event: Event) -> Result<Event, &'static str> {
    let Some(repo) = app.served(event.repo()) else {
        return Err("repository not served");
    };
    let event = event.with_repo(repo);
    match &event {
        Event::Comment { author, .. } if app.is_bot(author.as_deref()) => {
            Err("comment by the bot itself")
        }
        // The bot's own statuses would otherwise come back as events: a loop.
        Event::Status { sender, .. } if app.is_bot(sender.as_deref()) => {
            Err("status posted by the bot itself")
        }
        Event::Status { context, .. } if !app.contexts.contains(context) => {
            Err("status on a context that is not sopbot's")
        }
        _ => Ok(event),
    }
}

/// Stores the event in the inbox and wakes the workers: 202 once stored, 503 when the
/// database refuses.
async fn enqueue(app: &AppState, event: Event, delivery: Option<String>) -> Response {
    let new = NewEvent {
        dedup_key: event.dedup_key(),
        source: EventSource::Webhook,
        kind: event.kind_name().to_string(),
        repo: event.repo().to_string(),
        // `decode` only yields numbers that fit.
        pr: event.pr().map(PrNumber::to_sql),
        delivery_id: delivery,
        payload: event.to_json(),
    };
    match app.store.enqueue(&new).await {
        Ok(Enqueued::New(id)) => {
            tracing::info!(id, %event, "queued");
            crate::metrics::get().event_received(event.kind_name());
            app.notify.notify_one();
            reply(StatusCode::ACCEPTED, "queued".into())
        }
        Ok(Enqueued::Duplicate(id)) => {
            tracing::info!(id, %event, "duplicate of a stored event");
            reply(StatusCode::ACCEPTED, "duplicate".into())
        }
        // The store logs the outage once; one line per refused delivery would flood the log.
        Err(e) => {
            tracing::debug!(error = %e, "not stored: refused");
            reply(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "not stored, not queued: {e}. Gitea does not redeliver; sopbot's poller \
                     picks the event up once the database is writable (or redeliver it from \
                     the webhook's recent deliveries)"
                ),
            )
        }
    }
}

fn reply(status: StatusCode, message: String) -> Response {
    (status, message).into_response()
}

fn ignored(why: &'static str) -> Response {
    tracing::debug!(why, "ignored");
    reply(StatusCode::OK, format!("ignored: {why}"))
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}
