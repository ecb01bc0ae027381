//! The HTTP side: an axum router answering Gitea's REST API under `/api/v1` from the shared
//! [`World`], behind a gate that records every call and applies the armed [`Faults`].
//!
//! Connections are served by our own accept loop (hyper's HTTP/1 server) rather than
//! `axum::serve`, so a "dropped" call can really close its TCP connection without an answer:
//! the handler signals its connection task, which drops the connection.

// Handlers return `Result<Response, Response>` so an error answer can leave early with `?`;
// the size of an axum `Response` in the `Err` variant does not matter for a test server.
#![allow(clippy::result_large_err)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;
use tower_service::Service;

mod routes;
mod scopes;

use routes::{
    admin, changes, comments::*, commits::*, issues::*, pulls::*, repos::*, statuses::*, teams::*,
};

use crate::faults::{Action, Faults};
use crate::json::{self, ApiErrorJson, NotFoundJson};
use crate::world::{Access, CommentKind, Issue, Repo, TeamDenial, World, ALLOWED_REACTIONS};

/// One request the emulator received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// `GET`, `POST`, …
    pub method: String,
    /// The full path, e.g. `/api/v1/repos/acme/widgets/pulls/7`.
    pub path: String,
    /// The raw query string (`""` when none).
    pub query: String,
    /// The status answered; 0 when no answer was sent (a dropped connection, or a client that
    /// gave up before a stalled answer).
    pub status: u16,
}

impl Call {
    /// Whether this call is `method` on exactly `path` (query ignored).
    pub fn is(&self, method: &str, path: &str) -> bool {
        self.method == method && self.path == path
    }
}

/// A running emulator. Dropping it stops the server too; [`Emulator::shutdown`] waits for that.
pub struct Emulator {
    addr: SocketAddr,
    /// `http`, or `https` for [`Emulator::start_tls`].
    scheme: &'static str,
    state: AppState,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

#[derive(Clone)]
struct AppState {
    world: Arc<Mutex<World>>,
    faults: Arc<Faults>,
    calls: Arc<Mutex<Vec<Call>>>,
}

/// Put into every request's extensions by the connection task: notifying it drops the
/// connection.
#[derive(Clone)]
struct ConnKill(Arc<Notify>);

impl Emulator {
    /// Starts a server for `world` on `127.0.0.1` at a free port. Unless the world has a fixed
    /// root URL, its ROOT_URL becomes this server's base URL.
    pub async fn start(world: World) -> Emulator {
        Self::bind(world, "127.0.0.1:0")
            .await
            .expect("gitea-emu: cannot bind 127.0.0.1:0")
    }

    /// Starts a server for `world` on `addr` (e.g. `127.0.0.1:3000`).
    pub async fn bind(world: World, addr: &str) -> std::io::Result<Emulator> {
        Self::bind_with(world, addr, None).await
    }

    /// Starts an HTTPS server on `127.0.0.1` at a free port, presenting `cert_chain_pem` (the
    /// server's certificate first) with `key_pem` (PKCS#8, PKCS#1 or SEC1): a Gitea behind a
    /// certificate from an internal CA. Panics on bad PEM.
    pub async fn start_tls(world: World, cert_chain_pem: &str, key_pem: &str) -> Emulator {
        use tokio_rustls::rustls;
        use tokio_rustls::rustls::pki_types::pem::PemObject;
        use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs = CertificateDer::pem_slice_iter(cert_chain_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .expect("gitea-emu: a PEM certificate chain");
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).expect("gitea-emu: a PEM key");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("gitea-emu: the key matches the certificate");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        Self::bind_with(world, "127.0.0.1:0", Some(acceptor))
            .await
            .expect("gitea-emu: cannot bind 127.0.0.1:0")
    }

    async fn bind_with(
        mut world: World,
        addr: &str,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> std::io::Result<Emulator> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        if !world.root_url_fixed {
            world.root_url = format!("{scheme}://{addr}/");
        }
        let state = AppState {
            world: Arc::new(Mutex::new(world)),
            faults: Arc::new(Faults::default()),
            calls: Arc::new(Mutex::new(Vec::new())),
        };
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, router(state.clone()), tls, stopped));
        Ok(Emulator {
            addr,
            scheme,
            state,
            stop,
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT` (`https://` for [`Emulator::start_tls`]; no trailing slash; the
    /// API is under `/api/v1`).
    pub fn base_url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// `http://127.0.0.1:PORT/api/v1`.
    pub fn api_url(&self) -> String {
        format!("{}/api/v1", self.base_url())
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bot's token (`emu-token-<bot>`); panics if the world has no bot.
    pub fn token(&self) -> String {
        self.with_world(|w| w.bot_token())
            .expect("gitea-emu: the world has no bot (use .with_bot)")
    }

    /// The shared world. Lock it briefly; never hold the guard across an `.await`.
    pub fn world(&self) -> Arc<Mutex<World>> {
        self.state.world.clone()
    }

    /// Runs `f` on the world under its lock: `emu.with_world(|w| w.push("widgets", 7))`.
    pub fn with_world<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        f(&mut lock(&self.state.world))
    }

    /// Every call received so far, in arrival order.
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.state.calls).clone()
    }

    /// Forgets the recorded calls.
    pub fn clear_calls(&self) {
        lock(&self.state.calls).clear();
    }

    /// The fault switches (also reachable through the shortcuts below).
    pub fn faults(&self) -> &Faults {
        &self.state.faults
    }

    /// Delays every answer by `d`.
    pub fn set_latency(&self, d: Duration) {
        self.state.faults.set_latency(d);
    }

    /// The next `n` calls to exactly `path` answer `status` (see [`Faults::fail_path`]).
    pub fn fail_path(&self, path: &str, n: u32, status: u16) {
        self.faults().fail_path(path, n, status)
    }

    /// The next `n` calls answer `status`: a 500 has Gitea's JSON error body, other statuses
    /// a plain-text body as a proxy would send.
    pub fn fail_next(&self, n: u32, status: u16) {
        self.state.faults.fail_next(n, status);
    }

    /// A random share of calls (0.0–1.0) fails with one of `statuses`; see [`Emulator::seed_faults`].
    pub fn fail_ratio(&self, ratio: f64, statuses: &[u16]) {
        self.state.faults.fail_ratio(ratio, statuses);
    }

    /// Seeds the generator behind [`Emulator::fail_ratio`].
    pub fn seed_faults(&self, seed: u64) {
        self.state.faults.seed(seed);
    }

    /// The next `n` calls answer 429 with `Retry-After: retry_after_secs`.
    pub fn rate_limit_next(&self, n: u32, retry_after_secs: u64) {
        self.state.faults.rate_limit_next(n, retry_after_secs);
    }

    /// The next `n` calls wait `d` before answering.
    pub fn stall_next(&self, n: u32, d: Duration) {
        self.state.faults.stall_next(n, d);
    }

    /// The next `n` `method` calls to exactly `path` take effect at once but are answered
    /// only after `d` (see [`Faults::hold_answer`]).
    pub fn hold_answer(&self, method: &str, path: &str, n: u32, d: Duration) {
        self.state.faults.hold_answer(method, path, n, d);
    }

    /// The next `n` calls have their TCP connection closed without any answer.
    pub fn drop_next(&self, n: u32) {
        self.state.faults.drop_next(n);
    }

    /// While down, every call answers 503 with a plain-text body.
    pub fn set_down(&self, down: bool) {
        self.state.faults.set_down(down);
    }

    /// Disarms every fault and the latency.
    pub fn clear_faults(&self) {
        self.state.faults.clear();
    }

    /// Stops accepting, closes open connections and waits for the server task.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

async fn accept_loop(
    listener: TcpListener,
    app: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    let for_conns = stopped.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let (app, stopped) = (app.clone(), for_conns.clone());
                match &tls {
                    None => { conns.spawn(serve_connection(stream, app, stopped)); }
                    Some(tls) => {
                        let tls = tls.clone();
                        conns.spawn(async move {
                            // A client that refuses the certificate ends the handshake: no answer.
                            if let Ok(stream) = tls.accept(stream).await {
                                serve_connection(stream, app, stopped).await;
                            }
                        });
                    }
                }
                while conns.try_join_next().is_some() {}
            }
            _ = stopped.wait_for(|s| *s) => break,
        }
    }
    conns.shutdown().await;
}

async fn serve_connection<S>(stream: S, app: Router, mut stopped: watch::Receiver<bool>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let kill = Arc::new(Notify::new());
    let handle = ConnKill(kill.clone());
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(handle.clone());
        let mut app = app.clone();
        async move { app.call(req).await }
    });
    let conn =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc);
    tokio::select! {
        _ = conn => {}
        _ = kill.notified() => {}
        _ = stopped.wait_for(|s| *s) => {}
    }
}

fn router(state: AppState) -> Router {
    let repo = "/repos/{owner}/{repo}";
    let api = Router::new()
        .route("/version", get(version))
        .route("/user", get(get_user))
        .route("/user/teams", get(user_teams))
        .route(repo, get(get_repo))
        .route(&format!("{repo}/branches/{{*branch}}"), get(get_branch))
        .route(&format!("{repo}/git/commits/{{sha}}"), get(git_commit))
        .route(&format!("{repo}/pulls"), get(list_pulls))
        .route(&format!("{repo}/pulls/{{index}}"), get(get_pull))
        .route(
            &format!("{repo}/pulls/{{index}}/reviews"),
            get(list_reviews),
        )
        .route(
            &format!("{repo}/pulls/{{index}}/reviews/{{id}}"),
            get(get_review),
        )
        .route(
            &format!("{repo}/pulls/{{index}}/files"),
            get(changes::pull_files),
        )
        .route(
            &format!("{repo}/pulls/{{index}}/commits"),
            get(changes::pull_commits),
        )
        .route(
            &format!("{repo}/pulls/{{index}}/requested_reviewers"),
            axum::routing::post(changes::request_reviewers),
        )
        .route(&format!("{repo}/issues"), get(list_issues))
        .route(&format!("{repo}/issues/comments"), get(list_repo_comments))
        .route(
            &format!("{repo}/issues/comments/{{id}}"),
            get(get_comment).patch(edit_comment).delete(delete_comment),
        )
        .route(
            &format!("{repo}/issues/comments/{{id}}/reactions"),
            get(list_reactions)
                .post(post_reaction)
                .delete(delete_reaction),
        )
        .route(
            &format!("{repo}/issues/{{index}}/comments"),
            get(list_comments).post(post_comment),
        )
        .route(&format!("{repo}/issues/{{index}}/timeline"), get(timeline))
        .route(
            &format!("{repo}/statuses/{{sha}}"),
            get(list_statuses).post(post_status),
        )
        .route(
            &format!("{repo}/commits/{{ref}}/statuses"),
            get(list_statuses_by_ref),
        )
        .route(
            &format!("{repo}/commits/{{ref}}/status"),
            get(combined_status),
        )
        .route("/teams/{id}", get(get_team))
        .route("/teams/{id}/members", get(team_members))
        .route("/teams/{id}/members/{username}", get(team_member))
        .route("/orgs/{org}/teams", get(org_teams))
        .route("/orgs/{org}/repos", get(org_repos))
        .route(
            &format!("{repo}/hooks"),
            get(admin::list_hooks).post(admin::create_hook),
        )
        .route(
            &format!("{repo}/hooks/{{id}}"),
            axum::routing::patch(admin::edit_hook),
        )
        .route(
            &format!("{repo}/branch_protections"),
            get(admin::list_protections).post(admin::create_protection),
        )
        .route(
            &format!("{repo}/branch_protections/{{name}}"),
            axum::routing::patch(admin::edit_protection),
        )
        .layer(from_fn_with_state(state.clone(), scopes::check));
    Router::new()
        .nest("/api/v1", api)
        .fallback(unknown_route)
        .layer(from_fn_with_state(state.clone(), gate))
        .with_state(state)
}

// ----- the gate: call log and faults -----------------------------------------------------------

async fn gate(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let call = Call {
        method: req.method().to_string(),
        path: req.uri().path().to_string(),
        query: req.uri().query().unwrap_or("").to_string(),
        status: 0,
    };
    let (method, path) = (call.method.clone(), call.path.clone());
    // Logged before answering, so a call whose answer never goes out keeps status 0.
    let slot = {
        let mut calls = lock(&st.calls);
        calls.push(call);
        calls.len() - 1
    };
    let decision = st.faults.decide_for(req.uri().path());
    if !decision.latency.is_zero() {
        tokio::time::sleep(decision.latency).await;
    }
    let resp = match decision.action {
        Action::Pass => next.run(req).await,
        Action::Stall(d) => {
            tokio::time::sleep(d).await;
            next.run(req).await
        }
        Action::Fail(code) => fault_response(&st, code),
        Action::RateLimit(secs) => {
            let mut r = text(StatusCode::TOO_MANY_REQUESTS);
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            r
        }
        Action::Down => text(StatusCode::SERVICE_UNAVAILABLE),
        Action::Drop => return drop_connection(&req).await,
    };
    if let Some(d) = st.faults.take_hold(&method, &path) {
        tokio::time::sleep(d).await;
    }
    if let Some(c) = lock(&st.calls).get_mut(slot) {
        c.status = resp.status().as_u16();
    }
    resp
}

/// Asks the connection task to close the connection, then never answers.
fn drop_connection(req: &Request) -> impl Future<Output = Response> {
    if let Some(k) = req.extensions().get::<ConnKill>() {
        k.0.notify_one();
    }
    std::future::pending()
}

fn fault_response(st: &AppState, code: u16) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        let w = lock(&st.world);
        return json_error(&w, status, "");
    }
    text(status)
}

/// A proxy-style plain-text answer: `503 Service Unavailable`.
fn text(status: StatusCode) -> Response {
    let body = format!(
        "{} {}\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

// ----- response helpers --------------------------------------------------------------------------

type Res = Result<Response, Response>;

fn json_body<T: Serialize>(status: StatusCode, v: &T) -> Response {
    let body = serde_json::to_vec(v).expect("serialisable response");
    (
        status,
        [(header::CONTENT_TYPE, "application/json;charset=utf-8")],
        body,
    )
        .into_response()
}

fn ok<T: Serialize>(v: &T) -> Res {
    Ok(json_body(StatusCode::OK, v))
}

/// `{"message","url"}`.
fn json_error(w: &World, status: StatusCode, message: &str) -> Response {
    json_body(
        status,
        &ApiErrorJson {
            message: message.to_string(),
            url: json::swagger_url(w),
        },
    )
}

/// `APIErrorNotFound(msg?, errs…)`: `{"errors","message","url"}`.
fn not_found_with(w: &World, message: &str, errors: Vec<String>) -> Response {
    json_body(
        StatusCode::NOT_FOUND,
        &NotFoundJson {
            errors: (!errors.is_empty()).then_some(errors),
            message: message.to_string(),
            url: json::swagger_url(w),
        },
    )
}

fn not_found(w: &World) -> Response {
    not_found_with(w, "not found", Vec::new())
}

/// `APIErrorInternal`: the message is blank in production unless the caller is a site admin.
fn internal(w: &World, doer: &str, detail: &str) -> Response {
    let message = if w.is_site_admin(doer) { detail } else { "" };
    json_error(w, StatusCode::INTERNAL_SERVER_ERROR, message)
}

/// `ctx.Status(code)`: no body at all.
fn bare(status: StatusCode) -> Response {
    status.into_response()
}

fn with_total(mut r: Response, total: usize) -> Response {
    r.headers_mut()
        .insert("X-Total-Count", HeaderValue::from(total));
    r
}

// ----- request helpers ---------------------------------------------------------------------------

impl AppState {
    /// Locks the world, authenticates the caller, and runs the handler body.
    fn api(&self, headers: &HeaderMap, f: impl FnOnce(&mut World, &str) -> Res) -> Response {
        let mut w = lock(&self.world);
        let doer = match authenticate(&w, headers) {
            Ok(d) => d,
            Err(r) => return r,
        };
        match f(&mut w, &doer) {
            Ok(r) | Err(r) => r,
        }
    }
}

/// `Authorization: token <t>` or `Bearer <t>`; Gitea takes either scheme in any case, Forgejo
/// only a lower-case `token` (see [`crate::flavor`]): any other header is no token at all.
fn authenticate(w: &World, headers: &HeaderMap) -> Result<String, Response> {
    let required = || json_error(w, StatusCode::UNAUTHORIZED, "token is required");
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(required());
    };
    let invalid = || {
        let message = w.flavor.invalid_token_message();
        json_error(w, StatusCode::UNAUTHORIZED, message)
    };
    let value = value.to_str().map_err(|_| invalid())?;
    let (scheme, token) = value
        .trim()
        .split_once(char::is_whitespace)
        .ok_or_else(invalid)?;
    if !w.flavor.accepts_scheme(scheme) {
        return Err(match w.flavor {
            crate::Flavor::Gitea => invalid(),
            crate::Flavor::Forgejo => required(),
        });
    }
    w.login_for_token(token.trim())
        .map(str::to_string)
        .ok_or_else(invalid)
}

/// Query parameters, read like Gitea's `ctx.FormInt` (missing or malformed: 0).
struct Params(Vec<(String, String)>);

impl Params {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn int(&self, key: &str) -> i64 {
        self.get(key)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }

    /// `limit` as `ToCorrectPageSize`: ≤ 0 → 30, above 50 → 50.
    fn page_size(&self) -> usize {
        match self.int("limit") {
            l if l <= 0 => 30,
            l if l > 50 => 50,
            l => l as usize,
        }
    }

    /// Lists that are always paged: page ≤ 0 is page 1.
    fn paging(&self) -> Paging {
        Paging {
            page: self.int("page").max(1) as usize,
            size: self.page_size(),
        }
    }

    /// Lists paged only when `page` is given (> 0); otherwise everything.
    fn paging_if_page(&self) -> Option<Paging> {
        (self.int("page") > 0).then(|| self.paging())
    }

    /// `since` and `before` (RFC 3339); a bad value is a 422 with Go's parse error.
    fn since_before(&self, w: &World) -> Result<(Option<i64>, Option<i64>), Response> {
        let parse = |key: &str| -> Result<Option<i64>, Response> {
            match self.get(key) {
                None | Some("") => Ok(None),
                Some(v) => DateTime::parse_from_rfc3339(v)
                    .map(|t| Some(t.timestamp()))
                    .map_err(|_| {
                        let msg = format!(
                            "parsing time \"{v}\" as \"2006-01-02T15:04:05Z07:00\": cannot parse \"{v}\" as \"2006\""
                        );
                        json_error(w, StatusCode::UNPROCESSABLE_ENTITY, &msg)
                    }),
            }
        };
        Ok((parse("since")?, parse("before")?))
    }
}

#[derive(Debug, Clone, Copy)]
struct Paging {
    page: usize,
    size: usize,
}

fn page_of<T>(items: Vec<T>, p: Option<Paging>) -> Vec<T> {
    match p {
        None => items,
        Some(p) => items
            .into_iter()
            .skip((p.page - 1) * p.size)
            .take(p.size)
            .collect(),
    }
}

/// Gitea's `SetLinkHeader`: `next`, `last`, `first`, `prev` links (in that order, comma
/// separated) with the query re-encoded, keys sorted, as Go's `url.Values.Encode`.
fn link_header(w: &World, uri: &Uri, params: &Params, total: usize, size: usize) -> Option<String> {
    let size = size.max(1);
    let pages = if total == 0 { 1 } else { total.div_ceil(size) };
    let cur = (params.int("page").max(1) as usize).min(pages);
    let link = |page: usize, rel: &str| {
        let mut q: Vec<(String, String)> = params
            .0
            .iter()
            .filter(|(k, _)| k != "page")
            .cloned()
            .collect();
        q.push(("page".into(), page.to_string()));
        q.sort_by(|a, b| a.0.cmp(&b.0));
        let query: Vec<String> = q
            .iter()
            .map(|(k, v)| format!("{}={}", query_escape(k), query_escape(v)))
            .collect();
        format!(
            "<{}{}?{}>; rel=\"{rel}\"",
            w.root_url(),
            uri.path().trim_start_matches('/'),
            query.join("&")
        )
    };
    let has_next = total > cur * size;
    let is_last = total == 0 || (total > (cur - 1) * size && !has_next);
    let mut links = Vec::new();
    if has_next {
        links.push(link(cur + 1, "next"));
    }
    if !is_last {
        links.push(link(pages, "last"));
    }
    if cur != 1 {
        links.push(link(1, "first"));
    }
    if cur > 1 {
        links.push(link(cur - 1, "prev"));
    }
    (!links.is_empty()).then(|| links.join(","))
}

/// Go's `url.QueryEscape`.
fn query_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn with_link(mut r: Response, link: Option<String>) -> Response {
    if let Some(l) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        r.headers_mut().insert(header::LINK, l);
    }
    r
}

/// `repoAssignment`: an unknown repo, or one the caller cannot read, is 404.
fn find_repo<'a>(w: &'a World, owner: &str, name: &str, doer: &str) -> Result<&'a Repo, Response> {
    match w.find_repo(owner, name) {
        Some(r) if w.access(doer) >= Access::Read => Ok(r),
        _ => Err(not_found(w)),
    }
}

fn find_pr<'a>(w: &'a World, r: &'a Repo, index: &str) -> Result<&'a Issue, Response> {
    let n: u64 = index.parse().unwrap_or(0);
    r.issues
        .iter()
        .find(|i| i.index == n && i.pull.is_some())
        .ok_or_else(|| not_found(w))
}

/// Issue-level comment routes answer 500 (blank message) for an unknown index.
fn find_issue_or_500<'a>(
    w: &'a World,
    r: &'a Repo,
    index: &str,
    doer: &str,
) -> Result<&'a Issue, Response> {
    let n: u64 = index.parse().unwrap_or(0);
    r.issues.iter().find(|i| i.index == n).ok_or_else(|| {
        internal(
            w,
            doer,
            &format!("issue does not exist [repo_id: {}, index: {n}]", r.id),
        )
    })
}

fn parse_body(w: &World, body: &Bytes) -> Result<serde_json::Value, Response> {
    if body.is_empty() {
        return Ok(serde_json::Value::Object(Default::default()));
    }
    serde_json::from_slice(body).map_err(|_| {
        json_error(
            w,
            StatusCode::UNPROCESSABLE_ENTITY,
            "[]: Deserialization Error",
        )
    })
}

fn str_field(v: &serde_json::Value, key: &str) -> String {
    v.get(key)
        .and_then(|x| x.as_str())
        .unwrap_or("")
        .to_string()
}

/// `updated` within `since`/`before` (inclusive, whole seconds).
fn in_window(t: &DateTime<Utc>, since: Option<i64>, before: Option<i64>) -> bool {
    since.is_none_or(|s| t.timestamp() >= s) && before.is_none_or(|b| t.timestamp() <= b)
}

// ----- handlers: misc (the resources' are in `routes/`) ----------------------------------------

async fn unknown_route(State(st): State<AppState>) -> Response {
    not_found(&lock(&st.world))
}

async fn version(State(st): State<AppState>) -> Response {
    let version = lock(&st.world).flavor.version().to_string();
    json_body(StatusCode::OK, &json::ServerVersionJson { version })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_escape_matches_go() {
        assert_eq!(query_escape("a b&c/é"), "a+b%26c%2F%C3%A9");
        assert_eq!(query_escape("Az09-_.~"), "Az09-_.~");
    }

    #[test]
    fn link_header_has_next_last_first_prev_in_gitea_order() {
        let w = World::new("acme").with_root_url("http://g.test/");
        let uri: Uri = "/api/v1/repos/acme/widgets/pulls?limit=2&page=2&state=open"
            .parse()
            .unwrap();
        let params = Params(vec![
            ("state".into(), "open".into()),
            ("limit".into(), "2".into()),
            ("page".into(), "2".into()),
        ]);
        let l = link_header(&w, &uri, &params, 7, 2).unwrap();
        let base = "http://g.test/api/v1/repos/acme/widgets/pulls?limit=2";
        assert_eq!(
            l,
            format!(
                "<{base}&page=3&state=open>; rel=\"next\",<{base}&page=4&state=open>; rel=\"last\",\
                 <{base}&page=1&state=open>; rel=\"first\",<{base}&page=1&state=open>; rel=\"prev\""
            )
        );
        let first = Params(vec![]);
        assert_eq!(link_header(&w, &uri, &first, 3, 30), None);
    }
}
