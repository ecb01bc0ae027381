//! `GET /metrics` after real events: the bot process, the emulator behind it, signed webhooks in.

use crate::support as common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{config_text, write_config};
use gitea_emu::{Emulator, World};

const SECRET: &str = "metrics-test-secret";

struct Bot(Child);

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `sopbot serve` and returns it with the address it printed.
fn serve(config: &std::path::Path) -> (Bot, String) {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("sopbot"))
        .arg("--config")
        .arg(config)
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    (Bot(child), addr)
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn value(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no `{prefix}` in:\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_real_events() {
    let emu = Emulator::start(World::example()).await;
    let dir = tempfile::tempdir().unwrap();
    let text = config_text(&emu, "").replace(
        "[server]\n",
        &format!("[server]\nwebhook_secret = \"{SECRET}\"\n"),
    );
    let config = write_config(dir.path(), &text);
    let (_bot, url) = tokio::task::spawn_blocking(move || serve(&config))
        .await
        .unwrap();
    let http = reqwest::Client::new();

    let id = emu.with_world(|w| w.comment("widgets", 7, "bob", "/refire qa"));
    let delivery = emu.with_world(|w| w.webhook_for_comment("widgets", 7, id, "created"));
    let mut req = http
        .post(format!("{url}/webhook"))
        .body(delivery.body.clone());
    for (k, v) in delivery.signed_headers(SECRET) {
        req = req.header(k, v);
    }
    assert_eq!(req.send().await.unwrap().status(), 202);
    // One forged delivery too.
    let forged = http
        .post(format!("{url}/webhook"))
        .header("X-Gitea-Event-Type", "pull_request_comment")
        .header("X-Gitea-Signature", "00")
        .body(delivery.body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);

    eventually("the bot's reply", || {
        emu.with_world(|w| w.comments("widgets", 7).len()) == 2
    })
    .await;
    let scrape = || async {
        http.get(format!("{url}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    // Series with known labels exist at zero before anything happened to them.
    // Prometheus asks for OpenMetrics and gets it, with its content type.
    let resp = http
        .get(format!("{url}/metrics"))
        .header(
            "accept",
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let text = resp.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    // Anyone else gets the classic text format, which promtool lints.
    let resp = http.get(format!("{url}/metrics")).send().await.unwrap();
    assert_eq!(
        resp.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let classic = resp.text().await.unwrap();
    assert!(!classic.contains("# EOF"), "{classic}");
    promtool_accepts(&classic);
    assert_eq!(
        value(&text, "sopbot_events_failed_total{kind=\"review\"}"),
        0.0
    );
    assert_eq!(
        value(
            &text,
            "sopbot_commands_total{command=\"sop-n/a\",outcome=\"refused\"}"
        ),
        0.0
    );
    let info = text
        .lines()
        .find(|l| l.starts_with("sopbot_build_info{"))
        .unwrap_or_else(|| panic!("no build_info:\n{text}"));
    assert!(
        info.contains(&format!("version=\"{}\"", env!("CARGO_PKG_VERSION")))
            && info.contains("commit=\"")
            && info.ends_with(" 1"),
        "{info}"
    );
    let mut text = scrape().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !text.contains("sopbot_events_processed_total{kind=\"comment\"} 1") {
        assert!(Instant::now() < deadline, "event never counted:\n{text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
        text = scrape().await;
    }
    assert_eq!(
        value(
            &text,
            "sopbot_webhook_requests_total{event=\"pull_request_comment\",status=\"202\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "sopbot_webhook_requests_total{event=\"pull_request_comment\",status=\"401\"}"
        ),
        1.0
    );
    assert_eq!(
        value(&text, "sopbot_events_processed_total{kind=\"comment\"}"),
        1.0
    );
    // Received, processed and failed speak of the same kinds (not Gitea's event names).
    assert_eq!(
        value(&text, "sopbot_events_received_total{kind=\"comment\"}"),
        1.0
    );
    assert!(!text.contains("sopbot_events_received_total{kind=\"pull_request_comment\"}"));
    assert_eq!(
        value(
            &text,
            "sopbot_commands_total{command=\"refire\",outcome=\"ok\"}"
        ),
        1.0
    );
    assert!(
        value(
            &text,
            "sopbot_gitea_api_calls_total{method=\"GET\",endpoint=\"/repos/{o}/{r}/pulls/{n}\",status=\"200\"}"
        ) >= 1.0
    );
    assert!(
        text.contains("sopbot_gitea_api_latency_seconds_bucket"),
        "{text}"
    );
    assert_eq!(value(&text, "sopbot_inbox_depth "), 0.0);
    assert_eq!(value(&text, "sopbot_waivers_active "), 0.0);
}

/// `promtool check metrics` (Prometheus's own linter) passes on a scrape. CI installs
/// promtool (Debian's `prometheus`); where it is missing the check says so and passes.
fn promtool_accepts(scrape: &str) {
    use std::io::Write;
    let child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("SKIPPED: promtool is not installed");
        return;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(scrape.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{scrape}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
