//! `serve`'s start when Gitea is not up yet (a boot where both start together, a Gitea
//! upgrade): instead of exiting, sopbot listens at once, answers `/healthz` and a 503 `/readyz`
//! saying what it waits for, and asks Gitea again with a growing pause until it answers. A
//! token Gitea refuses, or a TLS certificate sopbot does not trust, is a configuration error
//! (exit 78): retrying cannot fix it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::config::{Config, ConfigError};
use crate::gitea::{GiteaClient, GiteaError};

/// First pause between attempts; doubled after each failure up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(500);
const MAX_PAUSE: Duration = Duration::from_secs(30);

/// Returns `listener` once `GET /user` answers with the token. Meanwhile a stand-in server on
/// the same socket answers `/healthz` 200, and `/readyz` and `/webhook` 503.
pub async fn wait_for_gitea(config: &Config, listener: TcpListener) -> anyhow::Result<TcpListener> {
    let client = GiteaClient::new(
        config.gitea_url()?,
        config.gitea_token()?,
        super::client_options(config)?,
    )?;
    let first = match client.current_user().await {
        Ok(_) => return Ok(listener),
        Err(e) => fatal(e)?,
    };
    let std_listener = listener.into_std()?;
    let waiting_listener = TcpListener::from_std(std_listener.try_clone()?)?;
    let last = Arc::new(Mutex::new(first));
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let router = waiting_router(last.clone());
    let server = tokio::spawn(async move {
        axum::serve(waiting_listener, router)
            .with_graceful_shutdown(async {
                let _ = done_rx.await;
            })
            .await
    });
    let mut pause = FIRST_PAUSE;
    let result = loop {
        warn!(
            error = %last.lock().expect("not poisoned"),
            retry_in = ?pause,
            "Gitea does not answer yet; not ready until it does"
        );
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MAX_PAUSE);
        match client.current_user().await {
            Ok(_) => break Ok(()),
            Err(e) => match fatal(e) {
                Ok(message) => *last.lock().expect("not poisoned") = message,
                Err(e) => break Err(e),
            },
        }
    };
    let _ = done_tx.send(());
    let _ = server.await;
    result?;
    info!("Gitea answers");
    Ok(TcpListener::from_std(std_listener)?)
}

/// The error's text when waiting can help, or a configuration error when it cannot.
fn fatal(e: GiteaError) -> anyhow::Result<String> {
    match e {
        GiteaError::Unauthorized { .. } | GiteaError::Forbidden { .. } | GiteaError::Setup { .. } => {
            Err(ConfigError::Missing(format!(
                "Gitea refuses the bot's token ({e}): check gitea.token / gitea.token_file and the token's scopes (sopbot doctor)"
            ))
            .into())
        }
        // Waiting does not make a certificate trusted.
        e if e.is_untrusted_certificate() => Err(ConfigError::Missing(e.to_string()).into()),
        other => Ok(other.to_string()),
    }
}

fn waiting_router(last: Arc<Mutex<String>>) -> Router {
    let not_ready = move || {
        let last = last.clone();
        async move {
            let gitea = format!("waiting: {}", last.lock().expect("not poisoned"));
            let body = serde_json::json!({"database": "not opened yet", "gitea": gitea});
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    };
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(not_ready))
        .route("/webhook", post(starting))
}

async fn starting() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "sopbot is starting: waiting for Gitea to answer\n",
    )
        .into_response()
}
