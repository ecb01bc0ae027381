//! `sopbot serve`: the webhook server, the poller and the workers, wired to one inbox.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::{watch, Notify};
use tracing::{info, warn, Instrument};

use crate::bot::{worker, Ctx};
use crate::config::{Config, ConfigError};
use crate::metrics;
use crate::poller::Poller;
use crate::server::{self, AppState, WebhookAuth};

use super::{startup, Outcome};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  sopbot --config /etc/sopbot/sopbot.toml serve\n\nStops cleanly on SIGTERM or SIGINT: no new deliveries, in-flight events finish or stay in the inbox."
)]
pub struct Args {
    /// Accept unsigned webhooks. Anyone who can reach the port can then feed the bot events.
    #[arg(long)]
    pub insecure_no_webhook_secret: bool,
    /// Events processed in parallel (always one at a time per PR). A worker spends most of an
    /// event waiting for Gitea: at 20 ms per call, 4 workers handle about 40 events/s and 16
    /// about 160 (BENCHMARKS.md).
    #[arg(long, default_value_t = 16)]
    pub workers: usize,
    /// Address to listen on, over server.listen and SOPBOT_SERVER_LISTEN (e.g. 0.0.0.0:8080).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}

/// How long in-flight events get to finish after a stop signal.
const DRAIN: Duration = Duration::from_secs(10);

pub async fn run(mut config: Config, args: Args) -> anyhow::Result<Outcome> {
    info!(
        version = env!("CARGO_PKG_VERSION"),
        commit = crate::BUILD_COMMIT,
        "starting"
    );
    let auth = apply_args(&mut config, &args)?;
    let listener = tokio::net::TcpListener::bind(&config.server.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.server.listen))?;
    let listener = startup::wait_for_gitea(&config, listener).await?;
    let ctx = super::connect(&config).await?;
    match ctx.client.server_kind().await {
        Ok(kind) => info!(
            server = kind.name(),
            version = kind.version(),
            "talking to {kind}"
        ),
        Err(e) => warn!(error = %e, "cannot read the server's version"),
    }
    let store = ctx.store.clone();
    let requeued = store.reset_running().await?;
    if requeued > 0 {
        info!(
            requeued,
            "events interrupted by the last stop will run again"
        );
    }
    let config = ctx.config.clone();
    let client = ctx.client.clone();
    let bot = ctx.bot.clone();
    let served = ctx.served.clone();
    let notify = Arc::new(Notify::new());

    let addr = listener.local_addr()?;
    let router = routes(&ctx, auth, notify.clone());

    let (stop_tx, stop_rx) = watch::channel(false);
    let workers = tokio::spawn(worker::run(
        ctx,
        store.clone(),
        notify.clone(),
        args.workers,
        stop_rx.clone(),
    ));
    let poller = tokio::spawn(
        Poller::new(
            config.clone(),
            client.clone(),
            store.clone(),
            bot.clone(),
            notify,
        )
        .run(stop_rx.clone()),
    );
    let discovery = tokio::spawn(served.clone().run(client, stop_rx));
    let pruner = tokio::spawn(prune_hourly(store.clone(), config.database.inbox_retention));
    // The line scripts wait for: the address really bound (port 0 picks one).
    println!("sopbot listening on http://{addr} as @{bot}");
    info!(%addr, bot, repos = config.repos.len(), orgs = config.orgs.len(), "serving");

    server::serve(listener, router, shutdown_signal()).await?;
    info!("stopping: no new deliveries; letting in-flight events finish");
    let _ = stop_tx.send(true);
    if tokio::time::timeout(DRAIN, async {
        let _ = workers.await;
        let _ = poller.await;
        let _ = discovery.await;
    })
    .await
    .is_err()
    {
        warn!("events still running after {DRAIN:?}: they stay in the inbox and run on the next start");
    }
    pruner.abort();
    store.close().await;
    Ok(Outcome::Ok)
}

/// Every route `serve` answers: webhooks, health, metrics and the details page.
fn routes(ctx: &Ctx, auth: WebhookAuth, notify: Arc<Notify>) -> axum::Router {
    let (config, store, served) = (&ctx.config, &ctx.store, &ctx.served);
    let state = AppState::new(store.clone(), auth, served.clone())
        .with_bot_login(ctx.bot.clone())
        .with_status_contexts(config.status_contexts())
        .with_max_body(config.server.max_body_bytes)
        .with_gitea(ctx.client.clone())
        .with_notify(notify);
    server::router(state)
        .merge(metrics::router(store.clone()))
        .merge(crate::details::routes(
            config.clone(),
            store.clone(),
            served.clone(),
        ))
        .layer(axum::middleware::from_fn(metrics::count_webhooks))
        .layer(axum::middleware::from_fn(peer_span))
}

/// `--listen` over the config's address, and how deliveries are authenticated: the webhook
/// secret, or nothing only when `--insecure-no-webhook-secret` says so.
fn apply_args(config: &mut Config, args: &Args) -> anyhow::Result<WebhookAuth> {
    if let Some(listen) = &args.listen {
        if listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError::Missing(format!(
                "--listen {listen}: must be an address like 127.0.0.1:8080"
            ))
            .into());
        }
        config.server.listen = listen.clone();
    }
    Ok(match config.webhook_secret()? {
        Some(secret) => WebhookAuth::Secret(secret),
        None if args.insecure_no_webhook_secret => {
            warn!("webhook signatures are NOT checked (--insecure-no-webhook-secret)");
            WebhookAuth::InsecureNone
        }
        None => return Err(ConfigError::Missing(
            "no webhook secret: set server.webhook_secret_file (or SOPBOT_SERVER_WEBHOOK_SECRET_FILE), or pass --insecure-no-webhook-secret".into()
        ).into()),
    })
}

/// Deletes handled inbox events older than `retention` (0: never), at start and every hour.
async fn prune_hourly(store: crate::store::Store, retention: Duration) {
    if retention.is_zero() {
        return;
    }
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        let Ok(age) = chrono::Duration::from_std(retention) else {
            return;
        };
        match store.prune_done(chrono::Utc::now() - age).await {
            Ok(0) => {}
            Ok(pruned) => info!(pruned, "deleted handled inbox events past the retention"),
            Err(e) => warn!(error = %e, "cannot prune the inbox"),
        }
    }
}

/// Every request's logs carry the peer's address (`peer`), so a refused delivery says who sent it.
async fn peer_span(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.to_string())
        .unwrap_or_else(|| "-".into());
    next.run(req)
        .instrument(tracing::info_span!("request", peer = %peer))
        .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
