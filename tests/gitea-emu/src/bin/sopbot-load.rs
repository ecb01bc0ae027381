//! `sopbot-load`: the end-to-end load benchmark. Starts the emulator in this process (200 open
//! PRs on `acme/widgets`, a configurable answer latency), starts `sopbot serve` as a separate
//! process against it, sends signed webhooks from a bounded number of concurrent senders, and
//! prints one JSON line with what it measured.
//!
//! ```text
//! cargo build --release --workspace --bins
//! target/release/sopbot-load [--events 10000] [--prs 200] [--senders 16] [--latency-ms 0]
//!     [--workers N] [--seed 1] [--paced-secs 5] [--paced-rate R] [--sopbot PATH] [--keep]
//! ```
//!
//! Five phases, one bot process and one world (PRs collect history as it runs):
//! 0. **accept**: `--events / 2` deliveries of the mix, built and signed beforehand, posted as
//!    fast as the senders go: webhooks accepted (202) per second. Built beforehand because
//!    building a Gitea payload costs the emulator more than accepting it costs the bot.
//! 1. **burst**: `--events` events, a seeded mix over the PRs, sent as fast as the senders go.
//!    Each sender owns a share of the PRs and sends their events in order, as Gitea does for one
//!    PR; it performs the user's action in the emulated Gitea first (comment, review, push),
//!    then delivers the webhook. Gives processed/s (events done over the time until the last is
//!    done) and the latency of a saturated bot.
//! 2. **commands**: `--command-events` (default `--events / 5`) `/refire` and `/sop-n/a`
//!    comments only, as fast as the senders go: command events processed per second.
//! 3. **paced**: `--paced-secs` of the mix at `--paced-rate` events/s (default: half the
//!    burst's processed rate), for the latency of a bot that keeps up.
//! 4. **calibration**: for each kind of event (plain comment, `/refire`, `/sop-n/a`, review,
//!    push), one event on each PR at once; the emulator's call log over the phase divided by the
//!    events gives the Gitea API calls per event of that kind.
//!
//! With `--poll-prs 10,100,1000` it measures the poller instead, and nothing else: for each
//! number of open PRs, a fresh world whose history is hours old and a bot polling every second
//! (sweep every hour), it counts the Gitea API calls of the start-up pass (fast pass plus the
//! first sweep: the sweep's listing of the open PRs and the evaluations it queues) and of each
//! idle fast pass after it (median of three).
//!
//! Latency is from just before the delivery is sent to the event's `done_at` in the bot's inbox,
//! which is written after the event's last effect (its last status and its reply): an upper
//! bound of "delivery to last status". Both clocks are this machine's wall clock.
//!
//! Lost events are accepted (202 `queued`) deliveries whose inbox row is not `done` at the end;
//! duplicate replies are bot replies beyond the first to one comment (found by the reply marker
//! in the emulated Gitea). Both must be 0. Peak RSS is the bot's `VmHWM`, idle RSS its `VmRSS`
//! once it listens (and again after the load).

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use gitea_emu::{Call, Delivery, Emulator, World};
use serde_json::{json, Value};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::SqlitePool;

const USAGE: &str = "usage: sopbot-load [--events N] [--prs N] [--senders N] [--latency-ms MS] \
[--workers N] [--seed N] [--command-events N] [--paced-secs S] [--paced-rate R] [--calibrate N] \
[--sopbot PATH] [--timeout-secs S] [--keep] | [--poll-prs N,N,…]";

const REPO: &str = "widgets";
const SECRET: &str = "load-webhook-secret";
const BOT: &str = "sopbot";

#[derive(Debug, Clone)]
struct Args {
    sopbot: Option<PathBuf>,
    events: usize,
    prs: usize,
    senders: usize,
    latency_ms: u64,
    workers: Option<usize>,
    seed: u64,
    paced_secs: f64,
    paced_rate: Option<f64>,
    calibrate: Option<usize>,
    command_events: Option<usize>,
    timeout: Duration,
    keep: bool,
    poll_prs: Vec<usize>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        sopbot: None,
        events: 10_000,
        prs: 200,
        senders: 16,
        latency_ms: 0,
        workers: None,
        seed: 1,
        paced_secs: 5.0,
        paced_rate: None,
        calibrate: None,
        command_events: None,
        timeout: Duration::from_secs(900),
        keep: false,
        poll_prs: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "-h" | "--help" => return Err(USAGE.into()),
            "--keep" => {
                a.keep = true;
                continue;
            }
            _ => {}
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let bad = || format!("{flag}: not a number: {value}");
        let int = || value.parse::<usize>().map_err(|_| bad());
        let float = || value.parse::<f64>().map_err(|_| bad());
        match flag.as_str() {
            "--sopbot" => a.sopbot = Some(PathBuf::from(&value)),
            "--events" => a.events = int()?,
            "--prs" => a.prs = int()?.max(1),
            "--senders" => a.senders = int()?.max(1),
            "--latency-ms" => a.latency_ms = int()? as u64,
            "--workers" => a.workers = Some(int()?),
            "--seed" => a.seed = int()? as u64,
            "--paced-secs" => a.paced_secs = float()?,
            "--paced-rate" => a.paced_rate = Some(float()?),
            "--calibrate" => a.calibrate = Some(int()?),
            "--command-events" => a.command_events = Some(int()?),
            "--timeout-secs" => a.timeout = Duration::from_secs(int()? as u64),
            "--poll-prs" => {
                a.poll_prs = value
                    .split(',')
                    .map(|n| n.trim().parse::<usize>().map(|n| n.max(1)))
                    .collect::<Result<_, _>>()
                    .map_err(|_| bad())?
            }
            _ => return Err(format!("unknown option {flag}\n{USAGE}")),
        }
    }
    Ok(a)
}

// ----- the events ---------------------------------------------------------------------------------

/// What a user does in Gitea before the webhook is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Kind {
    /// A comment without a command (most PR discussion).
    Comment,
    /// `/refire` or `/refire qa` by dave (in no team).
    Refire,
    /// `/sop-n/a GATE reason` by mia (managers); `/sop-revoke GATE` when the gate is waived.
    Waive,
    /// A review: approvals by members and outsiders, change requests.
    Review,
    /// A push to the PR's head branch (`synchronized`).
    Push,
}

impl Kind {
    const ALL: [Kind; 5] = [
        Kind::Comment,
        Kind::Refire,
        Kind::Waive,
        Kind::Review,
        Kind::Push,
    ];

    fn name(self) -> &'static str {
        match self {
            Kind::Comment => "comment",
            Kind::Refire => "refire",
            Kind::Waive => "sop-n/a",
            Kind::Review => "review",
            Kind::Push => "push",
        }
    }

    fn is_command(self) -> bool {
        matches!(self, Kind::Refire | Kind::Waive)
    }

    /// The mix, in per cent: discussion dominates, commands next, then reviews and pushes.
    fn weight(self) -> u32 {
        match self {
            Kind::Comment => 35,
            Kind::Refire => 25,
            Kind::Waive => 10,
            Kind::Review => 20,
            Kind::Push => 10,
        }
    }

    fn pick(rng: &mut fastrand::Rng) -> Kind {
        let mut x = rng.u32(0..100);
        for k in Kind::ALL {
            if x < k.weight() {
                return k;
            }
            x -= k.weight();
        }
        Kind::Comment
    }
}

const PROSE: &str = "Thanks, this reads well. I had a look at src/bot/engine.rs and the retry in \
src/gitea/client.rs; the 5xx/429 path could back off less. CI at \
https://ci.example.com/acme/widgets/builds/98765 is green.\n\ncc @bob for the qa side.";

/// What one PR has seen so far: the state the next action depends on.
#[derive(Debug, Default, Clone)]
struct PrState {
    waived: [bool; 2],
    waive_turn: usize,
    review_turn: usize,
    refire_turn: usize,
}

/// Performs `kind` on PR `n` in the world and builds the delivery Gitea would send. Returns
/// the delivery and, for comments, the comment id.
fn act(world: &mut World, n: u64, kind: Kind, st: &mut PrState) -> (Delivery, Option<i64>) {
    match kind {
        Kind::Comment => {
            let id = world.comment(REPO, n, "dave", PROSE);
            (world.webhook_for_comment(REPO, n, id, "created"), Some(id))
        }
        Kind::Refire => {
            st.refire_turn += 1;
            let body = ["/refire qa", "/refire"][st.refire_turn & 1];
            let id = world.comment(REPO, n, "dave", body);
            (world.webhook_for_comment(REPO, n, id, "created"), Some(id))
        }
        Kind::Waive => {
            let gate = st.waive_turn % 2;
            st.waive_turn += 1;
            let name = ["qa", "security"][gate];
            let body = if st.waived[gate] {
                format!("/sop-revoke {name}")
            } else {
                format!("/sop-n/a {name} docs-only change, no review needed")
            };
            st.waived[gate] = !st.waived[gate];
            let id = world.comment(REPO, n, "mia", &body);
            (world.webhook_for_comment(REPO, n, id, "created"), Some(id))
        }
        Kind::Review => {
            const TURNS: [(&str, &str, &str); 5] = [
                ("bob", "APPROVED", "approved"),
                ("dave", "APPROVED", "approved"),
                ("carol", "APPROVED", "approved"),
                ("bob", "REQUEST_CHANGES", "rejected"),
                ("carol", "REQUEST_CHANGES", "rejected"),
            ];
            let (who, state, hook) = TURNS[st.review_turn % TURNS.len()];
            st.review_turn += 1;
            world.review(REPO, n, who, state, "looked at it");
            (world.webhook_for_review(REPO, n, who, hook), None)
        }
        Kind::Push => {
            world.push(REPO, n);
            (world.webhook_for_pr(REPO, n, "synchronized"), None)
        }
    }
}

/// One delivery and what the bot answered.
#[derive(Debug, Clone)]
struct Sent {
    kind: Kind,
    delivery: String,
    comment: Option<i64>,
    sent: DateTime<Utc>,
    acked: DateTime<Utc>,
    status: u16,
    answer: String,
}

// ----- the bot process ----------------------------------------------------------------------------

/// The running `sopbot serve`; killed when dropped.
struct Bot {
    child: Child,
    url: String,
}

impl Bot {
    fn start(
        binary: &Path,
        config: &Path,
        log: &Path,
        workers: Option<usize>,
    ) -> Result<Bot, String> {
        let err = std::fs::File::create(log).map_err(|e| format!("cannot create {log:?}: {e}"))?;
        let mut cmd = Command::new(binary);
        cmd.arg("--config").arg(config).arg("serve");
        if let Some(w) = workers {
            cmd.arg("--workers").arg(w.to_string());
        }
        let mut child = cmd
            .env_remove("SOPBOT_GITEA_TOKEN")
            .env_remove("SOPBOT_WEBHOOK_SECRET")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {binary:?}: {e}"))?;
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.starts_with("sopbot listening on ") => {
                    let rest = line.trim_start_matches("sopbot listening on ");
                    let url = rest.split(' ').next().unwrap_or_default().to_string();
                    return Ok(Bot { child, url });
                }
                Ok(_) => continue,
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let log = std::fs::read_to_string(log).unwrap_or_default();
                    return Err(format!("sopbot serve did not start; its log:\n{log}"));
                }
            }
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, and a few seconds to stop; SIGKILL after that.
    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `VmRSS`/`VmHWM`-style line of `/proc/PID/status`, in MiB.
fn proc_status_mib(pid: u32, key: &str) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// User + system CPU seconds of a process (`/proc/PID/stat`, USER_HZ = 100).
fn proc_cpu_secs(pid: &str) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = text.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn default_sopbot() -> PathBuf {
    let here = std::env::current_exe().ok();
    let sibling = here
        .as_deref()
        .and_then(Path::parent)
        .map(|d| d.join("sopbot"));
    match sibling {
        Some(p) if p.exists() => p,
        _ if Path::new("target/release/sopbot").exists() => "target/release/sopbot".into(),
        _ => "target/debug/sopbot".into(),
    }
}

/// The poller is on, as by default, but passes once an hour: its first pass sweeps (and takes
/// the census of heads that evaluations use to find PRs sharing a commit), then it stays out of
/// the way of the measured phases.
fn config_text(emu: &Emulator, db: &Path) -> String {
    poll_config_text(emu, db, "interval_secs = 3600\nsweep_interval = \"1h\"")
}

/// Waits until the start-up sweep has queued an event for each of `open` PRs and all are done.
async fn wait_startup_sweep(db: &SqlitePool, open: usize, timeout: Duration) -> Result<(), String> {
    wait_sweep(db, 0, open, timeout).await
}

async fn inbox_count(db: &SqlitePool) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM inbox")
        .fetch_one(db)
        .await
        .unwrap_or(0)
}

/// Waits until `open` events more than `before` are in the inbox and none is unfinished.
async fn wait_sweep(
    db: &SqlitePool,
    before: i64,
    open: usize,
    timeout: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        if (inbox_count(db).await - before) as usize >= open && unfinished(db).await == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("a sweep of {open} PRs did not finish"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The bot's config with `poller` as the `[poller]` section's lines. The shared rate limit
/// towards Gitea (`max_requests_per_second`, 50 by default) is lifted: the benchmark measures
/// what the bot can do, not the limit.
fn poll_config_text(emu: &Emulator, db: &Path, poller: &str) -> String {
    format!(
        r#"[gitea]
url = "{url}"
token = "{token}"
max_requests_per_second = 0

[server]
listen = "127.0.0.1:0"
webhook_secret = "{SECRET}"

[database]
path = "{db}"

[poller]
{poller}

[[repo]]
name = "acme/widgets"
branches = ["main"]

[gate.qa]
team = "qa"
context = "qa-review / approved"
waivable_by = ["qa", "managers"]

[gate.security]
team = "security"
context = "security-review / approved"
waivable_by = ["security", "managers"]
"#,
        url = emu.base_url(),
        token = emu.token(),
        db = db.display(),
    )
}

// ----- sending ----------------------------------------------------------------------------------

struct Ctx {
    emu: Emulator,
    http: reqwest::Client,
    webhook: String,
    db: SqlitePool,
    states: std::sync::Mutex<HashMap<u64, PrState>>,
}

/// Sends `plan` (PR, kind) with `senders` concurrent senders, each owning the PRs whose
/// position is its number modulo `senders`, so one PR's events go out in order. With `rate`,
/// event `i` is not sent before `i / rate` seconds from the start (open loop).
async fn send_all(
    ctx: &Arc<Ctx>,
    plan: &[(u64, Kind)],
    senders: usize,
    rate: Option<f64>,
    prebuilt: bool,
) -> Vec<Sent> {
    type Lane = Vec<(usize, u64, Kind, Option<Built>)>;
    let mut lanes: Vec<Lane> = (0..senders).map(|_| Vec::new()).collect();
    for (i, &(pr, kind)) in plan.iter().enumerate() {
        // Prebuilt: every action done and every delivery signed before the first is sent, so
        // the senders only post.
        let built = prebuilt.then(|| build(ctx, pr, kind));
        lanes[(pr as usize) % senders].push((i, pr, kind, built));
    }
    let start = tokio::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for lane in lanes.into_iter().filter(|l| !l.is_empty()) {
        let ctx = ctx.clone();
        tasks.spawn(async move {
            let mut out = Vec::with_capacity(lane.len());
            for (i, pr, kind, built) in lane {
                if let Some(rate) = rate {
                    tokio::time::sleep_until(start + Duration::from_secs_f64(i as f64 / rate))
                        .await;
                }
                let built = match built {
                    Some(b) => b,
                    None => build(&ctx, pr, kind),
                };
                out.push(send_one(&ctx, kind, built).await);
            }
            out
        });
    }
    let mut all = Vec::with_capacity(plan.len());
    while let Some(done) = tasks.join_next().await {
        all.extend(done.expect("a sender panicked"));
    }
    all
}

/// A delivery ready to send: the user's action is done in the world.
struct Built {
    delivery: Delivery,
    headers: Vec<(String, String)>,
    comment: Option<i64>,
}

/// Performs the action in the world and signs its delivery.
fn build(ctx: &Ctx, pr: u64, kind: Kind) -> Built {
    let (delivery, comment) = {
        let mut states = ctx.states.lock().unwrap_or_else(|e| e.into_inner());
        let st = states.entry(pr).or_default();
        ctx.emu.with_world(|w| act(w, pr, kind, st))
    };
    Built {
        headers: delivery.signed_headers(SECRET),
        delivery,
        comment,
    }
}

async fn send_one(ctx: &Ctx, kind: Kind, built: Built) -> Sent {
    let Built {
        delivery,
        headers,
        comment,
    } = built;
    let mut req = ctx.http.post(&ctx.webhook);
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let sent = Utc::now();
    let (status, answer) = match req.body(delivery.body).send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            (status, resp.text().await.unwrap_or_default())
        }
        Err(e) => (0, e.to_string()),
    };
    Sent {
        kind,
        delivery: delivery.delivery_id,
        comment,
        sent,
        acked: Utc::now(),
        status,
        answer,
    }
}

// ----- the inbox --------------------------------------------------------------------------------

/// One inbox row, as far as the benchmark cares.
struct Row {
    state: String,
    done_at: Option<DateTime<Utc>>,
    attempts: i64,
}

async fn open_db(path: &Path) -> SqlitePool {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .busy_timeout(Duration::from_secs(5));
    SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .expect("cannot open the bot's database")
}

async fn unfinished(db: &SqlitePool) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM inbox WHERE state IN ('pending', 'running')")
        .fetch_one(db)
        .await
        .unwrap_or(i64::MAX)
}

/// Waits until no event is pending or running; false on timeout.
async fn wait_processed(db: &SqlitePool, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if unfinished(db).await == 0 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

async fn inbox_rows(db: &SqlitePool) -> HashMap<String, Row> {
    let rows: Vec<(Option<String>, String, Option<String>, i64)> =
        sqlx::query_as("SELECT delivery_id, state, done_at, attempts FROM inbox")
            .fetch_all(db)
            .await
            .expect("cannot read the inbox");
    rows.into_iter()
        .filter_map(|(delivery, state, done_at, attempts)| {
            let done_at = done_at
                .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                .map(|t| t.with_timezone(&Utc));
            Some((
                delivery?,
                Row {
                    state,
                    done_at,
                    attempts,
                },
            ))
        })
        .collect()
}

// ----- figures ----------------------------------------------------------------------------------

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn round(x: f64, places: i32) -> Value {
    if !x.is_finite() {
        return Value::Null;
    }
    let f = 10f64.powi(places);
    json!((x * f).round() / f)
}

fn secs(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_microseconds().unwrap_or(0) as f64 / 1e6
}

/// What one phase came to.
struct Phase {
    sent: usize,
    accepted: usize,
    queued: usize,
    duplicates: usize,
    refused: BTreeMap<u16, usize>,
    accepted_per_s: f64,
    processed: usize,
    processed_per_s: f64,
    lost: usize,
    failed: usize,
    retried: usize,
    latencies: Vec<f64>,
    calls: Vec<Call>,
    bot_cpu_s: f64,
    /// CPU of this process (the emulator and the senders) over the phase.
    load_cpu_s: f64,
    /// Command comments whose delivery was accepted: each must get exactly one reply.
    commands: Vec<i64>,
}

impl Phase {
    fn latency_json(&self) -> Value {
        let l = &self.latencies;
        json!({
            "p50": round(percentile(l, 50.0), 1),
            "p95": round(percentile(l, 95.0), 1),
            "p99": round(percentile(l, 99.0), 1),
            "max": round(l.last().copied().unwrap_or(f64::NAN), 1),
        })
    }

    fn calls_per_event(&self) -> f64 {
        self.calls.len() as f64 / self.processed.max(1) as f64
    }
}

/// Runs one phase: sends, waits until the bot is done, reads the inbox and the call log.
async fn phase(
    ctx: &Arc<Ctx>,
    bot: &Bot,
    plan: &[(u64, Kind)],
    senders: usize,
    rate: Option<f64>,
    timeout: Duration,
    prebuilt: bool,
) -> Phase {
    ctx.emu.clear_calls();
    let pid = bot.pid().to_string();
    let cpu_before = proc_cpu_secs(&pid).unwrap_or(0.0);
    let load_before = proc_cpu_secs("self").unwrap_or(0.0);
    let sent = send_all(ctx, plan, senders, rate, prebuilt).await;
    if !wait_processed(&ctx.db, timeout).await {
        eprintln!("sopbot-load: events still unfinished after {timeout:?}");
    }
    let calls = ctx.emu.calls();
    let cpu = proc_cpu_secs(&pid).unwrap_or(0.0) - cpu_before;
    let load_cpu = proc_cpu_secs("self").unwrap_or(0.0) - load_before;
    let rows = inbox_rows(&ctx.db).await;

    let first = sent.iter().map(|s| s.sent).min().unwrap_or_else(Utc::now);
    let last_ack = sent.iter().map(|s| s.acked).max().unwrap_or(first);
    let mut refused = BTreeMap::new();
    let (mut accepted, mut queued, mut duplicates) = (0, 0, 0);
    let (mut processed, mut lost, mut failed, mut retried) = (0, 0, 0, 0);
    let mut last_done = first;
    let mut latencies = Vec::new();
    for s in &sent {
        if s.status != 202 {
            *refused.entry(s.status).or_insert(0) += 1;
            continue;
        }
        accepted += 1;
        if s.answer.trim() == "duplicate" {
            duplicates += 1;
            continue;
        }
        queued += 1;
        match rows.get(&s.delivery) {
            Some(Row {
                state,
                done_at: Some(done),
                attempts,
            }) if state == "done" => {
                processed += 1;
                if *attempts > 1 {
                    retried += 1;
                }
                last_done = last_done.max(*done);
                latencies.push(secs(s.sent, *done) * 1000.0);
            }
            Some(Row { state, .. }) if state == "failed" => {
                failed += 1;
                lost += 1;
            }
            _ => lost += 1,
        }
    }
    latencies.sort_by(|a, b| a.total_cmp(b));
    let commands = sent
        .iter()
        .filter(|s| s.kind.is_command() && s.status == 202)
        .filter_map(|s| s.comment)
        .collect();
    Phase {
        sent: sent.len(),
        accepted,
        queued,
        duplicates,
        refused,
        accepted_per_s: accepted as f64 / secs(first, last_ack).max(1e-6),
        processed,
        processed_per_s: processed as f64 / secs(first, last_done).max(1e-6),
        lost,
        failed,
        retried,
        latencies,
        calls,
        bot_cpu_s: cpu,
        load_cpu_s: load_cpu,
        commands,
    }
}

/// `GET pulls/{n}/reviews`: the call with its numbers, SHAs and logins folded.
fn endpoint(call: &Call) -> String {
    let path = call
        .path
        .trim_start_matches("/api/v1/")
        .trim_start_matches("repos/acme/widgets/");
    let mut out = Vec::new();
    let mut after_members = false;
    for seg in path.split('/') {
        let folded = if after_members {
            "{login}"
        } else if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
            "{n}"
        } else if seg.len() == 40 && seg.bytes().all(|b| b.is_ascii_hexdigit()) {
            "{sha}"
        } else {
            seg
        };
        after_members = seg == "members";
        out.push(folded.to_string());
    }
    format!("{} {}", call.method, out.join("/"))
}

fn by_endpoint(calls: &[Call], events: usize) -> Value {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for c in calls {
        *counts.entry(endpoint(c)).or_insert(0) += 1;
    }
    let mut v: Vec<(String, usize)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Value::Object(
        v.into_iter()
            .map(|(k, n)| (k, round(n as f64 / events.max(1) as f64, 3)))
            .collect(),
    )
}

/// The poller's cost with `open` open PRs: the start-up pass (fast pass and first sweep, with
/// the evaluations the sweep queues) and idle fast passes, in Gitea API calls.
async fn poll_costs(binary: &Path, open: usize, latency_ms: u64) -> Result<Value, String> {
    let now = Utc::now();
    // History hours old (the first pass's window is an hour), then the present.
    let mut world = World::example_at(now - chrono::Duration::hours(6));
    world.open_prs(REPO, "alice", "main", "load/", open - 1);
    world.set_clock(now - chrono::Duration::minutes(1));
    let emu = Emulator::start(world).await;
    emu.set_latency(Duration::from_millis(latency_ms));
    let dir = std::env::temp_dir().join(format!(
        "sopbot-poll-{}-{}",
        std::process::id(),
        now.timestamp_micros()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {dir:?}: {e}"))?;
    let db_path = dir.join("sopbot.db");
    let config = dir.join("sopbot.toml");
    let text = poll_config_text(&emu, &db_path, "interval_secs = 1\nsweep_interval = \"1h\"");
    std::fs::write(&config, text).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let _bot = Bot::start(binary, &config, &dir.join("bot.log"), None)?;
    let db = open_db(&db_path).await;
    // The start-up pass is over when the sweep's evaluations are done.
    wait_startup_sweep(&db, open, Duration::from_secs(900)).await?;
    let sweep_secs = started.elapsed().as_secs_f64();
    let startup = emu.calls();
    // Idle passes: the calls between consecutive comment listings (each pass starts with one).
    emu.clear_calls();
    let pass_start = |c: &Call| c.path == "/api/v1/repos/acme/widgets/issues/comments";
    let deadline = Instant::now() + Duration::from_secs(30);
    let passes = loop {
        let calls = emu.calls();
        let starts: Vec<usize> = calls
            .iter()
            .enumerate()
            .filter(|(_, c)| pass_start(c))
            .map(|(i, _)| i)
            .collect();
        if starts.len() >= 4 {
            break starts.windows(2).map(|w| w[1] - w[0]).collect::<Vec<_>>();
        }
        if Instant::now() > deadline {
            return Err("no idle poller passes seen".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut sorted = passes.clone();
    sorted.sort_unstable();
    // A sweep of a quiet repository: due again (its time moved back), every PR re-evaluated.
    let before = inbox_count(&db).await;
    emu.clear_calls();
    sqlx::query("UPDATE poll_cursors SET swept_at = '2000-01-01T00:00:00Z'")
        .execute(&db)
        .await
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    wait_sweep(&db, before, open, Duration::from_secs(900)).await?;
    let sweep = emu.calls();
    let sweep_secs2 = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(json!({
        "open_prs": open,
        "latency_ms": latency_ms,
        "idle_fast_pass_calls": sorted[sorted.len() / 2],
        "idle_fast_pass_calls_each": passes,
        "idle_sweep": {
            "calls": sweep.len(),
            "calls_per_open_pr": round(sweep.len() as f64 / open as f64, 2),
            "by_endpoint": by_endpoint(&sweep, 1),
            "secs": round(sweep_secs2, 2),
        },
        "startup_pass": {
            "calls": startup.len(),
            "by_endpoint": by_endpoint(&startup, 1),
            "secs": round(sweep_secs, 2),
        },
    }))
}

/// Bot replies per command comment, from the emulated Gitea: (duplicates, missing).
fn replies(emu: &Emulator, prs: &[u64], commands: &[i64]) -> (usize, usize) {
    let mut count: HashMap<i64, usize> = HashMap::new();
    emu.with_world(|w| {
        for c in prs.iter().flat_map(|&n| w.comments(REPO, n)) {
            if c.user.as_deref() != Some(BOT) {
                continue;
            }
            let Some(rest) = c.body.strip_prefix("<!-- sopbot:reply-to:") else {
                continue;
            };
            let id: Option<i64> = rest.split(' ').next().and_then(|s| s.parse().ok());
            if let Some(id) = id {
                *count.entry(id).or_insert(0) += 1;
            }
        }
    });
    let duplicates = count.values().map(|n| n.saturating_sub(1)).sum();
    let missing = commands.iter().filter(|id| !count.contains_key(id)).count();
    (duplicates, missing)
}

fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_string())
        .unwrap_or_default();
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map(|kib| kib / 1024.0 / 1024.0)
        .unwrap_or(0.0);
    json!({
        "nproc": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "cpu": model,
        "mem_gib": round(mem_gib, 1),
    })
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(args).await {
        eprintln!("sopbot-load: {e}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), String> {
    let binary = args.sopbot.clone().unwrap_or_else(default_sopbot);
    if !binary.exists() {
        return Err(format!(
            "no sopbot binary at {} (cargo build --release --workspace --bins, or --sopbot PATH)",
            binary.display()
        ));
    }
    if !args.poll_prs.is_empty() {
        let mut sizes = Vec::new();
        for &n in &args.poll_prs {
            sizes.push(poll_costs(&binary, n, args.latency_ms).await?);
        }
        println!("{}", json!({ "poller": sizes, "machine": machine() }));
        return Ok(());
    }

    // The world: the §11 scene on a manual clock (distinct times, so no two events share a
    // dedup key), dave in no team, mia in managers, and the PRs.
    let mut world = World::example_at(Utc::now())
        .with_user("dave")
        .with_team("managers", &["mia", BOT]);
    let mut prs = vec![7];
    prs.extend(world.open_prs(REPO, "alice", "main", "load/", args.prs - 1));
    let emu = Emulator::start(world).await;
    emu.set_latency(Duration::from_millis(args.latency_ms));

    let dir = std::env::temp_dir().join(format!(
        "sopbot-load-{}-{}",
        std::process::id(),
        Utc::now().timestamp_micros()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {dir:?}: {e}"))?;
    let db_path = dir.join("sopbot.db");
    let config = dir.join("sopbot.toml");
    std::fs::write(&config, config_text(&emu, &db_path)).map_err(|e| e.to_string())?;
    let mut bot = Bot::start(&binary, &config, &dir.join("bot.log"), args.workers)?;
    let pid = bot.pid();

    // Idle: listening, nothing done yet.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle_rss = proc_status_mib(pid, "VmRSS:").unwrap_or(f64::NAN);
    // The poller's start-up sweep evaluates every PR once; the phases start after it.
    wait_startup_sweep(&open_db(&db_path).await, prs.len(), args.timeout).await?;
    emu.clear_calls();

    let ctx = Arc::new(Ctx {
        emu,
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(args.senders)
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| e.to_string())?,
        webhook: format!("{}/webhook", bot.url),
        db: open_db(&db_path).await,
        states: std::sync::Mutex::new(HashMap::new()),
    });

    let mut rng = fastrand::Rng::with_seed(args.seed);
    let mut mix = |n: usize| -> Vec<(u64, Kind)> {
        (0..n)
            .map(|_| (prs[rng.usize(..prs.len())], Kind::pick(&mut rng)))
            .collect()
    };
    let plan = mix(args.events);
    let kinds = {
        let mut k: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, kind) in &plan {
            *k.entry(kind.name()).or_insert(0) += 1;
        }
        k
    };
    let mut commands: Vec<i64> = Vec::new();

    // 0. Accepting: half as many deliveries of the mix, built beforehand, posted as fast as
    // the senders go: the webhook path's rate, not the senders' (building a delivery costs
    // the emulator more than accepting it costs the bot). The bot works through them after.
    let accept_plan = mix(args.events.div_ceil(2));
    let mut accept = phase(
        &ctx,
        &bot,
        &accept_plan,
        args.senders,
        None,
        args.timeout,
        true,
    )
    .await;
    commands.append(&mut accept.commands);

    // 1. Burst: the mix, each action done just before its delivery, as fast as the senders go.
    let mut burst = phase(&ctx, &bot, &plan, args.senders, None, args.timeout, false).await;
    commands.append(&mut burst.commands);
    let peak_rss = proc_status_mib(pid, "VmHWM:").unwrap_or(f64::NAN);

    // 2. Commands only (`/refire` and `/sop-n/a` in the mix's proportions), as fast as the
    // senders go: the command throughput.
    let n_commands = args.command_events.unwrap_or(args.events.div_ceil(5));
    let command_plan: Vec<(u64, Kind)> = mix(n_commands * 4)
        .into_iter()
        .filter(|(_, k)| k.is_command())
        .take(n_commands)
        .collect();
    let mut commands_phase = phase(
        &ctx,
        &bot,
        &command_plan,
        args.senders,
        None,
        args.timeout,
        false,
    )
    .await;
    commands.append(&mut commands_phase.commands);

    // 3. Paced: the mix at a rate the bot keeps up with.
    let rate = args
        .paced_rate
        .unwrap_or((burst.processed_per_s / 2.0).max(1.0));
    let paced_n = (rate * args.paced_secs).round() as usize;
    let paced = if paced_n > 0 {
        let plan = mix(paced_n);
        let mut p = phase(
            &ctx,
            &bot,
            &plan,
            args.senders,
            Some(rate),
            args.timeout,
            false,
        )
        .await;
        commands.append(&mut p.commands);
        Some(p)
    } else {
        None
    };
    // 4. Calibration: API calls per event, one kind at a time, on PRs that have a history.
    let per_kind = args.calibrate.unwrap_or(args.prs).min(prs.len());
    let mut calibration = serde_json::Map::new();
    let mut calibration_rate = serde_json::Map::new();
    let mut calibration_endpoints = serde_json::Map::new();
    let mut lost = 0;
    for kind in Kind::ALL {
        let plan: Vec<(u64, Kind)> = prs[..per_kind].iter().map(|&n| (n, kind)).collect();
        let p = phase(&ctx, &bot, &plan, args.senders, None, args.timeout, false).await;
        lost += p.lost;
        calibration.insert(kind.name().into(), round(p.calls_per_event(), 2));
        calibration_rate.insert(kind.name().into(), round(p.processed_per_s, 0));
        calibration_endpoints.insert(kind.name().into(), by_endpoint(&p.calls, p.processed));
        commands.extend(p.commands);
    }

    tokio::time::sleep(Duration::from_millis(500)).await;
    let after_rss = proc_status_mib(pid, "VmRSS:").unwrap_or(f64::NAN);
    let peak_rss = proc_status_mib(pid, "VmHWM:").unwrap_or(peak_rss);

    let (dup_replies, missing_replies) = replies(&ctx.emu, &prs, &commands);
    lost += accept.lost + burst.lost + commands_phase.lost + paced.as_ref().map_or(0, |p| p.lost);
    bot.stop();

    let mut out = json!({
        "bench": "sopbot-load",
        "events": args.events,
        "prs": prs.len(),
        "senders": args.senders,
        "emulator_latency_ms": args.latency_ms,
        "workers": args.workers.map_or(Value::from("default"), Value::from),
        "seed": args.seed,
        "mix": kinds,
        "accepted_per_s": round(accept.accepted_per_s, 0),
        "accepted_per_s_live": round(burst.accepted_per_s, 0),
        "processed_per_s": round(burst.processed_per_s, 0),
        "latency_ms": burst.latency_json(),
        "commands": {
            "bot_cpu_ms_per_event": round(commands_phase.bot_cpu_s * 1000.0 / commands_phase.processed.max(1) as f64, 3),
            "load_cpu_ms_per_event": round(commands_phase.load_cpu_s * 1000.0 / commands_phase.processed.max(1) as f64, 3),
            "events": commands_phase.processed,
            "processed_per_s": round(commands_phase.processed_per_s, 0),
            "latency_ms": commands_phase.latency_json(),
        },
        "paced": paced.as_ref().map(|p| json!({
            "rate_per_s": round(rate, 0),
            "events": p.processed,
            "processed_per_s": round(p.processed_per_s, 0),
            "latency_ms": p.latency_json(),
        })),
        "api_calls_per_event": {
            "mix": round(burst.calls_per_event(), 2),
            "by_kind": calibration,
        },
        "api_calls_per_event_by_endpoint": {
            "mix": by_endpoint(&burst.calls, burst.processed),
            "by_kind": calibration_endpoints,
        },
        "calibration_processed_per_s": calibration_rate,
        "rss_mib": {
            "idle": round(idle_rss, 1),
            "peak": round(peak_rss, 1),
            "after": round(after_rss, 1),
        },
        "bot_cpu_ms_per_event": round(burst.bot_cpu_s * 1000.0 / burst.processed.max(1) as f64, 3),
        "load_cpu_ms_per_event": round(burst.load_cpu_s * 1000.0 / burst.processed.max(1) as f64, 3),
        "sent": burst.sent,
        "accepted": burst.accepted,
        "queued": burst.queued,
        "refused": burst.refused.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "duplicate_deliveries": burst.duplicates,
        "retried_events": burst.retried,
        "failed_events": burst.failed,
        "lost_events": lost,
        "duplicate_replies": dup_replies,
        "missing_replies": missing_replies,
        "machine": machine(),
    });
    if args.keep {
        out["dir"] = json!(dir.display().to_string());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    println!("{out}");
    Ok(())
}
