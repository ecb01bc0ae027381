//! Operating sopbot: configuration from the environment and its precedence (flag > environment >
//! file > default), exit codes (78 for configuration errors, 2 for runtime failures), and
//! `serve` waiting for a Gitea that is not up yet instead of exiting.

use crate::support as common;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::serve::{serve_config, SECRET};
use common::write_config;
use gitea_emu::{Emulator, World};

fn bin() -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("sopbot"));
    // Nothing from the environment running the tests leaks into the case.
    for (name, _) in std::env::vars() {
        if name.starts_with("SOPBOT_") {
            cmd.env_remove(name);
        }
    }
    cmd
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let out: Output = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

const FILE: &str = "[gitea]\nurl = \"http://from-file:3000\"\ntimeout = \"7s\"\n[server]\nlisten = \"127.0.0.1:9001\"\n";

#[test]
fn the_environment_overrides_the_file_which_overrides_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), FILE);
    let (code, out, err) = run(bin()
        .args(["config", "check"])
        .arg(&config)
        .env("SOPBOT_SERVER_LISTEN", "0.0.0.0:8080")
        .env("SOPBOT_EVALUATION_COMMENT_APPROVAL_WORDS", "LGTM,SHIP IT"));
    assert_eq!(code, 0, "{err}");
    // env over file
    assert!(out.contains("listen = \"0.0.0.0:8080\""), "{out}");
    // file over default
    assert!(out.contains("url = \"http://from-file:3000\""), "{out}");
    assert!(out.contains("timeout = \"7s\""), "{out}");
    // default where neither says anything
    assert!(out.contains("retries = 3"), "{out}");
    assert!(
        out.contains("comment_approval_words = [\"LGTM\", \"SHIP IT\"]"),
        "{out}"
    );
}

#[test]
fn secrets_come_from_file_variables_and_are_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "tok-from-file\n").unwrap();
    let config = write_config(dir.path(), "[gitea]\ntoken = \"tok-inline\"\n");
    let (code, out, err) = run(bin()
        .args(["config", "check"])
        .arg(&config)
        .env("SOPBOT_GITEA_TOKEN_FILE", &token)
        .env("SOPBOT_SERVER_WEBHOOK_SECRET", "hook-from-env"));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("gitea token: set; webhook secret: set"),
        "{out}"
    );
    for secret in ["tok-from-file", "tok-inline", "hook-from-env"] {
        assert!(!out.contains(secret) && !err.contains(secret), "{out}{err}");
    }
    // An unreadable *_FILE is a configuration error naming the key, not the contents.
    let (code, _, err) = run(bin()
        .args(["config", "check"])
        .arg(&config)
        .env("SOPBOT_GITEA_TOKEN_FILE", dir.path().join("nope")));
    assert_eq!(code, 78, "{err}");
    assert!(err.contains("`gitea.token_file`"), "{err}");
}

#[test]
fn without_a_file_the_environment_alone_configures_sopbot() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = run(bin()
        .current_dir(dir.path())
        .args(["config", "check"])
        .env("SOPBOT_GITEA_URL", "http://gitea:3000")
        .env("SOPBOT_REPOS", "acme/widgets:main,acme/gadgets")
        .env("SOPBOT_GATE_QA_TEAM", "qa-leads"));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("url = \"http://gitea:3000\""), "{out}");
    assert!(out.contains("name = \"acme/gadgets\""), "{out}");
    assert!(out.contains("team = \"qa-leads\""), "{out}");
}

#[test]
fn configuration_errors_exit_78_and_name_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), FILE);
    // A variable with a typo in its key.
    let (code, _, err) = run(bin()
        .args(["config", "check"])
        .arg(&config)
        .env("SOPBOT_GITEA_ULR", "http://x"));
    assert_eq!(code, 78, "{err}");
    assert_eq!(
        err,
        "error: environment variable SOPBOT_GITEA_ULR: `gitea` has no key `ulr`\n"
    );
    // A value of the wrong type: named, not echoed.
    let (code, _, err) = run(bin()
        .args(["--config", config.to_str().unwrap(), "doctor"])
        .env("SOPBOT_GITEA_RETRIES", "plenty"));
    assert_eq!(code, 78, "{err}");
    assert!(
        err.contains("SOPBOT_GITEA_RETRIES") && !err.contains("plenty"),
        "{err}"
    );
    // An invalid value set by the environment is validated like one from the file.
    let (code, _, err) = run(bin()
        .args(["config", "check"])
        .arg(&config)
        .env("SOPBOT_SERVER_LISTEN", "everywhere"));
    assert_eq!(code, 78, "{err}");
    assert!(err.contains("`server.listen`"), "{err}");
    // serve without a webhook secret is a configuration error too.
    let (code, _, err) = run(bin()
        .args(["--config", config.to_str().unwrap(), "serve"])
        .env("SOPBOT_GITEA_TOKEN", "t"));
    assert_eq!(code, 78, "{err}");
    assert!(err.contains("no webhook secret"), "{err}");
    // A missing file named explicitly.
    let (code, _, err) = run(bin().args(["--config", "/nonexistent/sopbot.toml", "doctor"]));
    assert_eq!(code, 78, "{err}");
}

#[test]
fn config_init_prints_a_config_that_passes_check() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, _) = run(bin().args(["config", "init"]));
    assert_eq!(code, 0);
    assert!(out.contains("SOPBOT_GITEA_TOKEN_FILE"), "{out}");
    // Safe: no secret inline, nothing listening beyond this host.
    assert!(!out.lines().any(|l| l.starts_with("token =")), "{out}");
    assert!(!out
        .lines()
        .any(|l| l.starts_with("listen") && l.contains("0.0.0.0")));
    let path = write_config(dir.path(), &out);
    let (code, _, err) = run(bin().args(["config", "check"]).arg(&path));
    assert_eq!(code, 0, "{err}");
}

/// A `sopbot serve` child, killed when dropped.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn get(url: &str) -> Option<(u16, String)> {
    let resp = reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()?;
    Some((
        resp.status().as_u16(),
        resp.text().await.unwrap_or_default(),
    ))
}

/// Polls `url` until `pred` holds for its answer, for at most 30 s.
async fn until(url: &str, log: &Path, pred: impl Fn(u16, &str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some((status, body)) = get(url).await {
            if pred(status, &body) {
                return body;
            }
        }
        assert!(
            Instant::now() < deadline,
            "timed out polling {url}; log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_waits_for_gitea_and_is_not_ready_until_it_answers() {
    let emu = Emulator::start(World::example()).await;
    emu.set_down(true);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &serve_config(&emu, 0, ""));
    let log = dir.path().join("log");
    let port = free_port();
    // The flag wins over the environment, which wins over the file (127.0.0.1:0).
    let child = bin()
        .args(["--config", config.to_str().unwrap(), "serve", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .env("SOPBOT_SERVER_LISTEN", "127.0.0.1:1")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut bot = Serve(child);
    let base = format!("http://127.0.0.1:{port}");
    // Alive and saying why it is not ready, while Gitea is down.
    until(&format!("{base}/healthz"), &log, |s, _| s == 200).await;
    let body = until(&format!("{base}/readyz"), &log, |s, _| s == 503).await;
    assert!(body.contains("waiting"), "{body}");
    assert!(!body.contains(&emu.token()), "{body}");
    assert!(bot.0.try_wait().unwrap().is_none(), "serve exited");
    // The container's healthcheck, on a wildcard listen address: alive, not ready.
    let healthcheck = |live: bool| {
        let mut cmd = bin();
        cmd.args(["--config", config.to_str().unwrap(), "healthcheck"])
            .env("SOPBOT_SERVER_LISTEN", format!("0.0.0.0:{port}"));
        if live {
            cmd.arg("--live");
        }
        run(&mut cmd)
    };
    let (code, out, _) = healthcheck(false);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("/readyz answered 503"), "{out}");
    assert_eq!(healthcheck(true).0, 0);
    // Gitea comes up: ready, without a restart.
    emu.set_down(false);
    let body = until(&format!("{base}/readyz"), &log, |s, _| s == 200).await;
    assert!(body.contains("\"gitea\":\"ok\""), "{body}");
    assert!(bot.0.try_wait().unwrap().is_none(), "serve exited");
    assert_eq!(healthcheck(false).0, 0);
    drop(bot);
    let (code, out, _) = healthcheck(true);
    assert_eq!(code, 1, "nothing listens any more: {out}");
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(log_text.contains("Gitea does not answer yet"), "{log_text}");
    assert!(!log_text.contains(SECRET) && !log_text.contains(&emu.token()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_gitea_refuses_is_a_configuration_error_not_a_retry() {
    let emu = Emulator::start(World::example()).await;
    let dir = tempfile::tempdir().unwrap();
    let text = serve_config(&emu, 0, "").replace(&emu.token(), "not-the-token");
    let config = write_config(dir.path(), &text);
    let out = tokio::task::spawn_blocking(move || {
        run(bin().args(["--config", config.to_str().unwrap(), "serve"]))
    })
    .await
    .unwrap();
    assert_eq!(out.0, 78, "{}", out.2);
    assert!(out.2.contains("refuses the bot's token"), "{}", out.2);
    assert!(!out.2.contains("not-the-token"), "{}", out.2);
}

/// Starts `sopbot serve` on a free port with `args` before `serve`, stderr to `log`; returns it
/// once /readyz answers 200, with its base URL.
async fn serve_ready(config: &Path, log: &Path, global: &[&str]) -> (Serve, String) {
    let port = free_port();
    let child = bin()
        .args(global)
        .args(["--config", config.to_str().unwrap(), "serve", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    until(&format!("{base}/readyz"), log, |s, _| s == 200).await;
    (Serve(child), base)
}

/// A delivery with a wrong signature: 401.
async fn forge(base: &str) {
    let resp = reqwest::Client::new()
        .post(format!("{base}/webhook"))
        .header("X-Gitea-Event-Type", "pull_request_comment")
        .header("X-Gitea-Delivery", "forged-1")
        .header("X-Gitea-Signature", "00")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

/// Polls the log until a line contains `what`.
async fn log_line(log: &Path, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(l) = text.lines().find(|l| l.contains(what)) {
            return l.to_string();
        }
        assert!(Instant::now() < deadline, "no `{what}` in the log:\n{text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_flat_with_stable_types_and_name_refused_peers() {
    let emu = Emulator::start(World::example()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &serve_config(&emu, 0, ""));
    let log = dir.path().join("log");
    let (bot, base) = serve_ready(&config, &log, &["--log-format", "json"]).await;
    forge(&base).await;
    // A real event too, so worker spans (with the inbox id) are in the log.
    let id = emu.with_world(|w| w.comment("widgets", 7, "bob", "/refire qa"));
    let d = emu.with_world(|w| w.webhook_for_comment("widgets", 7, id, "created"));
    let mut req = reqwest::Client::new()
        .post(format!("{base}/webhook"))
        .body(d.body.clone());
    for (k, v) in d.signed_headers(SECRET) {
        req = req.header(k, v);
    }
    assert_eq!(req.send().await.unwrap().status(), 202);
    log_line(&log, "\"answered\"").await;
    let refused = log_line(&log, "refused").await;
    drop(bot);

    let refused: serde_json::Value = serde_json::from_str(&refused).unwrap();
    assert!(
        refused["peer"]
            .as_str()
            .is_some_and(|p| p.starts_with("127.0.0.1:")),
        "{refused}"
    );
    assert_eq!(refused["delivery"], "forged-1");
    let text = std::fs::read_to_string(&log).unwrap();
    let mut starting = false;
    for line in text.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let obj = v.as_object().unwrap();
        for (k, field) in obj {
            assert!(
                !field.is_object() && !field.is_array(),
                "`{k}` is nested: {line}"
            );
        }
        for key in ["timestamp", "level", "target", "message"] {
            assert!(obj[key].is_string(), "{key}: {line}");
        }
        if let Some(event) = obj.get("event") {
            assert!(event.is_string(), "event: {line}");
        }
        if let Some(id) = obj.get("event_id") {
            assert!(id.is_number(), "event_id: {line}");
        }
        if obj["message"] == "starting" {
            starting = obj["version"] == env!("CARGO_PKG_VERSION");
        }
    }
    assert!(starting, "no startup line:\n{text}");
    assert!(!text.contains(SECRET) && !text.contains(&emu.token()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_logs_have_no_colour_codes_off_a_terminal() {
    let emu = Emulator::start(World::example()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &serve_config(&emu, 0, ""));
    let log = dir.path().join("log");
    let (_bot, base) = serve_ready(&config, &log, &[]).await;
    forge(&base).await;
    let line = log_line(&log, "refused").await;
    assert!(line.contains("peer=127.0.0.1:"), "{line}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains('\u{1b}'), "ANSI escapes in:\n{text}");
}

/// Every argument of every subcommand says what it is for.
#[test]
fn every_argument_has_help() {
    use clap::CommandFactory;
    fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if arg.is_hide_set() || id == "help" || id == "version" {
                continue;
            }
            if arg.get_help().is_none() && arg.get_long_help().is_none() {
                missing.push(format!("{path} {id}"));
            }
        }
        for sub in cmd.get_subcommands() {
            assert!(
                sub.get_about().is_some(),
                "{path} {} has no about",
                sub.get_name()
            );
            walk(sub, &format!("{path} {}", sub.get_name()), missing);
        }
    }
    let mut missing = Vec::new();
    walk(&sopbot::cli::Cli::command(), "sopbot", &mut missing);
    assert!(missing.is_empty(), "arguments without help: {missing:?}");
}

#[test]
fn man_writes_a_page_for_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(bin().args(["man", "--dir"]).arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    for page in [
        "sopbot.1",
        "sopbot-serve.1",
        "sopbot-setup.1",
        "sopbot-healthcheck.1",
        "sopbot-config-init.1",
        "sopbot-waivers-list.1",
        "sopbot-doctor.1",
    ] {
        let text = std::fs::read_to_string(dir.path().join(page))
            .unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH"), "{page}");
    }
}

#[test]
fn version_names_the_commit() {
    let (code, out, _) = run(bin().arg("--version"));
    assert_eq!(code, 0);
    assert!(
        out.starts_with(&format!("sopbot {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_json_is_one_versioned_document() {
    let emu = Emulator::start(World::example()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &serve_config(&emu, 0, ""));
    let out = tokio::task::spawn_blocking(move || {
        run(bin().args(["--config", config.to_str().unwrap(), "doctor", "--json"]))
    })
    .await
    .unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&out.1).unwrap_or_else(|e| panic!("{e}: {}", out.1));
    assert_eq!(v["schema_version"], 1);
    // The example world has no `managers` team: a failure, with its fix, exit 1.
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(out.0, 1);
    let checks = v["checks"].as_array().unwrap();
    assert!(checks
        .iter()
        .any(|c| c["status"] == "ok" && c["check"].as_str().unwrap().starts_with("config ")));
    assert!(
        checks.iter().any(|c| c["status"] == "FAIL"
            && c["check"].as_str().unwrap().contains("managers")
            && c["fix"].is_string()),
        "{v}"
    );
    assert!(!out.1.contains(&emu.token()));
}
