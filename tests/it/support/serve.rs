//! Running the real `sopbot serve` as a child process: its config, its address (read from the
//! `sopbot listening on http://ADDR as @LOGIN` line), signed webhook deliveries into it, and a
//! guard that kills it when the test ends, passes or not.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use gitea_emu::{Delivery, Emulator};

/// The webhook secret of [`serve_config`].
pub const SECRET: &str = "e2e-webhook-secret";

/// How long the bot may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A config for `serve` against `emu`: the gates of [`super::config_text`], the webhook secret
/// [`SECRET`], a 64 KiB body limit, and the poller every `poll_secs` (0: off).
pub fn serve_config(emu: &Emulator, poll_secs: u64, extra: &str) -> String {
    super::ConfigToml::new(emu)
        .webhook_secret(SECRET)
        .poll(poll_secs, "")
        .extra(extra)
        .render()
}

/// A running `sopbot serve`. Dropping it kills the process.
pub struct Bot {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The bot's login, as it announced it.
    pub login: String,
    log: PathBuf,
    http: reqwest::Client,
}

impl Bot {
    /// Starts `sopbot --config CONFIG serve`, logs appended to `log`, and waits until it listens.
    pub async fn start(config: &Path, log: &Path) -> Bot {
        let config = config.to_path_buf();
        let log = log.to_path_buf();
        let (child, line, log) = tokio::task::spawn_blocking(move || {
            let err = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)
                .unwrap();
            let mut child = Command::new(assert_cmd::cargo::cargo_bin("sopbot"))
                .arg("--config")
                .arg(&config)
                .arg("serve")
                .env_remove("SOPBOT_GITEA_TOKEN")
                .env_remove("SOPBOT_WEBHOOK_SECRET")
                .env("RUST_LOG", "sopbot=debug,info")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(err)
                .spawn()
                .expect("cannot start sopbot");
            let stdout = child.stdout.take().unwrap();
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                // Keep reading to the end so the bot never blocks on a full pipe.
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
            let deadline = Instant::now() + START_TIMEOUT;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match rx.recv_timeout(left) {
                    Ok(line) if line.starts_with("sopbot listening on ") => {
                        return (child, line, log)
                    }
                    Ok(_) => continue,
                    Err(_) => {
                        let _ = child.kill();
                        let status = child.wait().ok();
                        panic!(
                            "sopbot serve did not start listening ({status:?}); its log:\n{}",
                            tail(&log)
                        );
                    }
                }
            }
        })
        .await
        .unwrap();
        // `sopbot listening on http://127.0.0.1:PORT as @sopbot`
        let rest = line.trim_start_matches("sopbot listening on ");
        let (url, login) = rest.split_once(" as @").expect("the listening line");
        Bot {
            child,
            url: url.to_string(),
            login: login.to_string(),
            log,
            http: reqwest::Client::new(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The end of the bot's log, for failure messages.
    pub fn log_tail(&self) -> String {
        tail(&self.log)
    }

    /// Posts a delivery signed with [`SECRET`], as Gitea would. Returns status and body.
    pub async fn deliver(&self, d: &Delivery) -> (u16, String) {
        self.post(&d.signed_headers(SECRET), d.body.clone()).await
    }

    /// Posts a delivery that must be accepted (202).
    pub async fn deliver_ok(&self, d: &Delivery) -> String {
        let (status, body) = self.deliver(d).await;
        assert_eq!(
            status, 202,
            "delivery {} {} answered {status} {body}",
            d.event_type, d.delivery_id
        );
        body
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

    /// SIGKILL, and reap the process: no chance to clean up.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits up to `timeout` for the exit.
    pub async fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        let pid = self.pid().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill(1) runs");
        assert!(sent.success(), "kill -TERM {pid} failed");
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "sopbot did not stop within {timeout:?} of SIGTERM; its log:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The last 60 lines of a log file.
pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

/// Polls `f` every 20 ms until it gives a value, for at most `timeout`; panics with `what` and
/// `context()` (a bot's log, say) when it never does.
pub async fn wait_for<T>(
    what: &str,
    timeout: Duration,
    context: impl Fn() -> String,
    mut f: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() >= deadline {
            panic!(
                "timed out after {timeout:?} waiting for {what}\n{}",
                context()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
