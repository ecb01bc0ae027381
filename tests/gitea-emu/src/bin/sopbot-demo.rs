//! `sopbot-demo`: the real `sopbot serve` against the emulated Gitea, on a machine with no Gitea.
//!
//! ```text
//! cargo run -p gitea-emu --bin sopbot-demo
//! ```
//! Builds the `sopbot` binary (`cargo build -p sopbot --bin sopbot`, or takes `$SOPBOT_BIN`),
//! seeds the emulator (org `acme`, repo `widgets`, alice's PR #7, bob in qa, carol in security,
//! the bot in both), starts the bot on a free port with a temporary config and database, and
//! plays a conversation as Gitea would deliver it — real comments in the emulated Gitea, real
//! signed webhooks into the bot:
//!
//! 1. alice: `/refire qa` before any review (qa fails);
//! 2. bob approves the PR (a review webhook: qa passes with no command);
//! 3. alice: `/refire qa` again (passes, naming bob);
//! 4. alice tries to waive the security gate on her own PR (refused);
//! 5. carol, in security, waives it (accepted);
//! 6. carol revokes her waiver.
//!
//! It prints each comment with the bot's reply, the statuses on the PR's head, and
//! `sopbot waivers list` (active, then `--all`) and `sopbot audit`; then stops the bot with
//! SIGTERM. Exit code 0 when every step was answered as expected, 1 otherwise.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use gitea_emu::{Delivery, Emulator, World};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const SECRET: &str = "demo-webhook-secret";
const REPO: &str = "widgets";
const PR: u64 = 7;
/// How long any one answer may take.
const WAIT: Duration = Duration::from_secs(15);

type Result<T> = std::result::Result<T, String>;

#[tokio::main]
async fn main() {
    let dir = std::env::temp_dir().join(format!("sopbot-demo-{}", std::process::id()));
    let outcome = run(&dir).await;
    if let Err(e) = &outcome {
        eprintln!("\nsopbot-demo: {e}");
        let log = std::fs::read_to_string(dir.join("sopbot.log")).unwrap_or_default();
        if !log.is_empty() {
            let lines: Vec<&str> = log.lines().collect();
            eprintln!("--- the bot's log (last lines) ---");
            for l in &lines[lines.len().saturating_sub(40)..] {
                eprintln!("{l}");
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::process::exit(if outcome.is_ok() { 0 } else { 1 });
}

async fn run(dir: &Path) -> Result<()> {
    let bin = sopbot_binary()?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;

    let emu = Emulator::start(World::example()).await;
    let config = dir.join("sopbot.toml");
    std::fs::write(&config, config_text(&emu)).map_err(|e| e.to_string())?;
    let mut bot = Bot::start(&bin, &config, &dir.join("sopbot.log")).await?;
    let demo = Demo {
        emu: &emu,
        bot: &bot,
        http: reqwest::Client::new(),
        bin: &bin,
        config: &config,
    };

    rule("sopbot demo");
    println!(
        "Gitea {} (emulated) at {}: org acme, repo widgets, PR #{PR} \"{}\" by @alice",
        gitea_emu::GITEA_VERSION,
        emu.base_url(),
        emu.with_world(|w| w.issue(REPO, PR).title.clone())
    );
    println!("teams: qa = @bob, @sopbot · security = @carol, @sopbot");
    println!(
        "sopbot listening on {} as @{} (a temporary config and database in {}, removed at the end)",
        bot.url,
        bot.login,
        dir.display()
    );
    println!("every step below is a real comment or review in the emulated Gitea, followed by the signed webhook Gitea would send");

    rule("1. a /refire before anyone reviewed");
    demo.say("alice", "/refire qa", "❌ failure").await?;

    rule("2. bob approves the PR in Gitea");
    let hook = emu.with_world(|w| {
        w.review(REPO, PR, "bob", "APPROVED", "Looks good to me");
        w.webhook_for_review(REPO, PR, "bob", "approved")
    });
    demo.deliver(&hook).await?;
    demo.status_becomes("qa-review / approved", "success")
        .await?;
    println!("(no command needed: sopbot re-evaluated on the review webhook)");
    demo.print_statuses();

    rule("3. the same /refire after the approval");
    demo.say("alice", "/refire qa", "approved by @bob").await?;

    rule("4. the author tries to waive a gate on her own PR");
    demo.say(
        "alice",
        "/sop-n/a security it is only a rate limiter",
        "**not waived**",
    )
    .await?;

    rule("5. a member of the security team waives it");
    demo.say(
        "carol",
        "/sop-n/a security — no auth, crypto or input handling touched; reviewed the diff",
        "waived `security`",
    )
    .await?;
    demo.print_statuses();
    demo.cli("sopbot waivers list", &["waivers", "list"])
        .await?;

    rule("6. she revokes it");
    demo.say("carol", "/sop-revoke security", "revoked waiver")
        .await?;

    rule("where it ends");
    demo.print_statuses();
    demo.cli("sopbot waivers list", &["waivers", "list"])
        .await?;
    demo.cli("sopbot waivers list --all", &["waivers", "list", "--all"])
        .await?;
    demo.cli("sopbot audit", &["audit"]).await?;

    let code = bot.terminate().await?;
    println!("\nsopbot stopped on SIGTERM (exit {code}); the emulator stops with the demo.");
    emu.shutdown().await;
    if code != 0 {
        return Err(format!("sopbot exited with {code}"));
    }
    Ok(())
}

fn config_text(emu: &Emulator) -> String {
    format!(
        r#"[gitea]
url = "{url}"
token = "{token}"

[server]
listen = "127.0.0.1:0"
webhook_secret = "{SECRET}"

[database]
path = "sopbot.db"

[poller]
# The demo delivers every webhook itself; a real deployment polls as well.
interval_secs = 0

[[repo]]
name = "acme/widgets"
branches = ["main"]

[gate.qa]
team = "qa"
context = "qa-review / approved"
waivable_by = ["qa"]

[gate.security]
team = "security"
context = "security-review / approved"
waivable_by = ["security"]
"#,
        url = emu.base_url(),
        token = emu.token(),
    )
}

/// The `sopbot` binary: `$SOPBOT_BIN`, or built now with cargo (same profile as the demo).
fn sopbot_binary() -> Result<PathBuf> {
    if let Some(bin) = std::env::var_os("SOPBOT_BIN") {
        return Ok(PathBuf::from(bin));
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
    eprintln!("sopbot-demo: building sopbot (cargo build -p sopbot --bin sopbot) …");
    let mut cmd = std::process::Command::new(cargo);
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(&manifest)
        .args(["-p", "sopbot", "--bin", "sopbot"])
        .arg("--message-format=json-render-diagnostics")
        .stderr(Stdio::inherit());
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    // `cargo run` gave the demo the variables of *its* package. Build scripts track some of
    // them (ring's `rerun-if-env-changed=CARGO_MANIFEST_DIR`), so passing them on would make
    // this build, and the next ordinary one, rebuild half the dependency tree.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let from_cargo_run = key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_CFG_")
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_MANIFEST_LINKS",
                "CARGO_CRATE_NAME",
                "CARGO_BIN_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "CARGO_RUSTC_CURRENT_DIR",
                "OUT_DIR",
            ]
            .contains(&key.as_ref());
        if from_cargo_run {
            cmd.env_remove(key.as_ref());
        }
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run cargo to build sopbot: {e} (or set SOPBOT_BIN)"))?;
    if !out.status.success() {
        return Err("building sopbot failed (see above)".into());
    }
    // The artifact message of the binary names its path, wherever the target dir is.
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "sopbot")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| "cargo built no sopbot executable".to_string())
}

/// A running `sopbot serve`; killed if the demo ends early.
struct Bot {
    child: Child,
    url: String,
    login: String,
}

impl Bot {
    async fn start(bin: &Path, config: &Path, log: &Path) -> Result<Bot> {
        let log = std::fs::File::create(log).map_err(|e| e.to_string())?;
        let mut child = Command::new(bin)
            .arg("--config")
            .arg(config)
            .arg("serve")
            .env_remove("SOPBOT_GITEA_TOKEN")
            .env_remove("SOPBOT_WEBHOOK_SECRET")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(WAIT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.starts_with("sopbot listening on ") {
                    return Some(line);
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .ok_or("sopbot serve did not start listening")?;
        // Keep draining stdout so the bot never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let rest = line.trim_start_matches("sopbot listening on ");
        let (url, login) = rest
            .split_once(" as @")
            .ok_or("unexpected listening line")?;
        Ok(Bot {
            child,
            url: url.to_string(),
            login: login.to_string(),
        })
    }

    /// SIGTERM (a graceful stop), and the exit code.
    async fn terminate(&mut self) -> Result<i32> {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        match tokio::time::timeout(WAIT, self.child.wait()).await {
            Ok(Ok(status)) => Ok(status.code().unwrap_or(-1)),
            _ => {
                let _ = self.child.start_kill();
                Err("sopbot did not stop on SIGTERM".into())
            }
        }
    }
}

struct Demo<'a> {
    emu: &'a Emulator,
    bot: &'a Bot,
    http: reqwest::Client,
    bin: &'a Path,
    config: &'a Path,
}

impl Demo<'_> {
    /// `user` comments on the PR; Gitea delivers the webhook; the bot's reply is printed. The
    /// reply must contain `expect`.
    async fn say(&self, user: &str, body: &str, expect: &str) -> Result<()> {
        let id = self.emu.with_world(|w| w.comment(REPO, PR, user, body));
        println!("@{user} comments (#{id}):");
        for line in body.lines() {
            println!("    {line}");
        }
        let hook = self
            .emu
            .with_world(|w| w.webhook_for_comment(REPO, PR, id, "created"));
        self.deliver(&hook).await?;
        let marker = format!("<!-- sopbot:reply-to:{id} -->");
        let reply = self
            .wait(&format!("sopbot's reply to comment #{id}"), || {
                self.emu.with_world(|w| {
                    w.comments(REPO, PR).into_iter().find(|c| {
                        c.user.as_deref() == Some("sopbot") && c.body.starts_with(&marker)
                    })
                })
            })
            .await?;
        let eyes = self
            .emu
            .with_world(|w| w.reactions(id))
            .iter()
            .any(|r| r.user == "sopbot" && r.content == "eyes");
        println!(
            "\n@sopbot {}replies (#{}):",
            if eyes { "reacts 👀 and " } else { "" },
            reply.id
        );
        // The first line is the hidden marker (an HTML comment Gitea does not show).
        for line in reply.body.lines().skip(1) {
            println!("  │ {line}");
        }
        if !reply.body.contains(expect) {
            return Err(format!("the reply to #{id} does not say {expect:?}"));
        }
        Ok(())
    }

    /// Posts a delivery to the bot, signed as Gitea signs it; it must be accepted.
    async fn deliver(&self, d: &Delivery) -> Result<()> {
        let mut req = self.http.post(format!("{}/webhook", self.bot.url));
        for (k, v) in d.signed_headers(SECRET) {
            req = req.header(k, v);
        }
        let resp = req
            .body(d.body.clone())
            .send()
            .await
            .map_err(|e| format!("cannot deliver the webhook: {e}"))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        println!(
            "  → webhook {} (X-Gitea-Delivery {}…, signed): {status} {text}",
            d.event_type,
            &d.delivery_id[..8]
        );
        if status != 202 {
            return Err(format!("the bot refused the webhook: {status} {text}"));
        }
        Ok(())
    }

    async fn status_becomes(&self, context: &str, state: &str) -> Result<()> {
        let head = self.emu.with_world(|w| w.head_sha(REPO, PR));
        self.wait(&format!("{context} to become {state}"), || {
            self.emu
                .with_world(|w| w.status(REPO, &head, context))
                .filter(|s| s.state == state && s.creator == "sopbot")
        })
        .await
        .map(|_| ())
    }

    fn print_statuses(&self) {
        let head = self.emu.with_world(|w| w.head_sha(REPO, PR));
        println!("\nstatuses on the PR's head {}:", &head[..10]);
        for s in self.emu.with_world(|w| w.latest_statuses(REPO, &head)) {
            println!(
                "  {:<48} {:<8} {}  (by @{})",
                s.context, s.state, s.description, s.creator
            );
        }
    }

    /// Runs `sopbot ARGS` on the demo's config and prints what it prints.
    async fn cli(&self, title: &str, args: &[&str]) -> Result<()> {
        let out = Command::new(self.bin)
            .arg("--config")
            .arg(self.config)
            .args(args)
            .output()
            .await
            .map_err(|e| e.to_string())?;
        println!("\n$ {title}");
        print!("{}", String::from_utf8_lossy(&out.stdout));
        if !out.status.success() {
            return Err(format!(
                "{title} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(())
    }

    async fn wait<T>(&self, what: &str, mut f: impl FnMut() -> Option<T>) -> Result<T> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(v) = f() {
                return Ok(v);
            }
            if Instant::now() >= deadline {
                return Err(format!("no {what} within {WAIT:?}"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn rule(title: &str) {
    let pad = 92usize.saturating_sub(title.chars().count() + 4);
    println!("\n── {title} {}", "─".repeat(pad));
}
