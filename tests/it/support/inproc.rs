//! The bot in-process: the same pieces `sopbot serve` wires together (src/cli/serve.rs) — the
//! real webhook router, the inbox workers running the engine, the poller — on the test's own
//! runtime, behind a real TCP port. Starting it costs no process and no log file; a test that
//! is about the process itself (signals, SIGKILL, exit codes, logs) uses [`super::serve::Bot`].

use std::path::Path;
use std::sync::Arc;

use gitea_emu::Delivery;
use sopbot::bot::worker;
use sopbot::config::Config;
use sopbot::poller::Poller;
use sopbot::server::{self, AppState, WebhookAuth};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

/// Inbox workers, as `sopbot serve`'s default.
const WORKERS: usize = 16;

/// A running in-process bot. Dropping it stops the server, the workers and the poller.
pub struct InProc {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The bot's login, from its token.
    pub login: String,
    http: reqwest::Client,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl InProc {
    /// Loads the config file at `path` (no `SOPBOT_*` environment) and starts serving.
    pub async fn start(path: &Path) -> InProc {
        let text = std::fs::read_to_string(path).unwrap();
        let config = Config::from_sources(Some(&text), path, &[]).expect("a valid config");
        let auth = match config.webhook_secret().unwrap() {
            Some(secret) => WebhookAuth::Secret(secret),
            None => WebhookAuth::InsecureNone,
        };
        let ctx = sopbot::cli::connect(&config)
            .await
            .expect("the bot connects");
        let login = ctx.bot.clone();
        let store = ctx.store.clone();
        store.reset_running().await.unwrap();
        let (config, client) = (ctx.config.clone(), ctx.client.clone());
        let notify = Arc::new(Notify::new());
        let served = ctx.served.clone();
        let state = AppState::new(store.clone(), auth, served.clone())
            .with_bot_login(login.clone())
            .with_status_contexts(config.status_contexts())
            .with_max_body(config.server.max_body_bytes)
            .with_gitea(client.clone())
            .with_notify(notify.clone());
        let router = server::router(state).merge(sopbot::details::routes(
            config.clone(),
            store.clone(),
            served.clone(),
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stop_rx) = watch::channel(false);
        let mut server_stop = stop_rx.clone();
        let tasks = vec![
            tokio::spawn(async move {
                let stopped = async move {
                    let _ = server_stop.wait_for(|s| *s).await;
                };
                server::serve(listener, router, stopped).await.unwrap();
            }),
            tokio::spawn(worker::run(
                ctx,
                store.clone(),
                notify.clone(),
                WORKERS,
                stop_rx.clone(),
            )),
            tokio::spawn(served.clone().run(client.clone(), stop_rx.clone())),
            tokio::spawn(
                Poller::new(config, client, store, login.clone(), notify)
                    .with_served(served)
                    .run(stop_rx),
            ),
        ];
        InProc {
            url,
            login,
            http: reqwest::Client::new(),
            stop,
            tasks,
        }
    }

    /// Posts a delivery signed with `secret`, as Gitea would. Returns status and body.
    pub async fn deliver(&self, d: &Delivery, secret: &str) -> (u16, String) {
        self.post(&d.signed_headers(secret), d.body.clone()).await
    }

    /// `POST /webhook` with exactly these headers and body.
    pub async fn post(&self, headers: &[(String, String)], body: Vec<u8>) -> (u16, String) {
        let mut req = self.http.post(format!("{}/webhook", self.url));
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let resp = req.body(body).send().await.expect("the bot answers");
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap_or_default())
    }

    /// `GET path`: status and body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let resp = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .expect("the bot answers");
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap_or_default())
    }
}

impl InProc {
    /// Stops the server, the workers and the poller, and waits until they are gone (a bot
    /// started after this is the only one using the database).
    pub async fn stop(&mut self) {
        let _ = self.stop.send(true);
        for t in self.tasks.drain(..) {
            t.abort();
            let _ = t.await;
        }
    }
}

impl Drop for InProc {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        for t in &self.tasks {
            t.abort();
        }
    }
}
