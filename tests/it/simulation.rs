//! The simulation test (issue 9, "Trust"), in the style of FoundationDB's simulation and Jepsen's
//! checkers: one seed drives random people in the emulated Gitea (commands and near-miss
//! commands, reviews, dismissals, review requests, pushes, PRs sharing a head, team membership
//! changes, edits, deletions, closes and reopens), random webhook faults (dropped, duplicated,
//! delayed so reordered), Gitea faults (5xx, 429, stalls, dropped connections) and SIGKILLs of
//! the real `sopbot serve`. Once the world is quiet and a whole poll pass found nothing new, the
//! checker ([`oracle`]) holds the bot to the emulator's ground truth.
//!
//! ```sh
//! cargo test --test it simulation:: -- --nocapture                      # the CI seeds
//! SOPBOT_SIM_SEEDS=1000 cargo test --release --test it simulation:: -- --nocapture
//! SOPBOT_SIM_SEED=17 cargo test --test it simulation:: -- --nocapture   # replay one seed
//! SOPBOT_SIM_DISABLE=shared-head,edit cargo test --test it simulation:: # without those kinds
//! ```
//! Other knobs: `SOPBOT_SIM_FIRST` (first seed of a range), `SOPBOT_SIM_ACTIONS` (per seed),
//! `SOPBOT_SIM_JOBS` (seeds at once), `SOPBOT_SIM_LIVENESS=0` (skip the converse check).
//! A seed replays the same action script and faults; process timing (which event a SIGKILL
//! interrupts, when a retry lands) is the machine's, so a timing-dependent failure may need a
//! few runs of its seed.

use crate::support as common;
mod oracle;
mod script;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::serve::{Bot, SECRET};
use common::ConfigToml;
use gitea_emu::{Delivery, Emulator};
use oracle::Violation;
use script::{Kind, Options, Script, PROTECTED, REPO};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::SqlitePool;

/// Seeds `cargo test --workspace` runs, and actions per seed: about a minute on 2 cores.
const CI_SEEDS: u64 = 16;
const ACTIONS: usize = 40;
/// How long the bot may take to settle once the faults stop (its retry backoff doubles from 1 s).
const SETTLE: Duration = Duration::from_secs(120);

fn env<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

struct Plan {
    seeds: Vec<u64>,
    opts: Options,
    jobs: usize,
    liveness: bool,
}

fn plan() -> Plan {
    let seeds = match env::<u64>("SOPBOT_SIM_SEED") {
        Some(one) => vec![one],
        None => {
            let first = env("SOPBOT_SIM_FIRST").unwrap_or(1);
            (first..first + env("SOPBOT_SIM_SEEDS").unwrap_or(CI_SEEDS)).collect()
        }
    };
    let disabled: BTreeSet<Kind> = std::env::var("SOPBOT_SIM_DISABLE")
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            Kind::parse(s).unwrap_or_else(|| {
                panic!(
                    "SOPBOT_SIM_DISABLE: unknown kind {s:?}; kinds: {:?}",
                    Kind::ALL.map(Kind::name)
                )
            })
        })
        .collect();
    Plan {
        seeds,
        opts: Options {
            actions: env("SOPBOT_SIM_ACTIONS").unwrap_or(ACTIONS),
            disabled,
        },
        jobs: env("SOPBOT_SIM_JOBS").unwrap_or(2).max(1),
        liveness: env::<u8>("SOPBOT_SIM_LIVENESS") != Some(0),
    }
}

/// The command that replays `seed` as this run did.
fn repro(seed: u64, p: &Plan) -> String {
    let mut cmd = format!("SOPBOT_SIM_SEED={seed}");
    if !p.opts.disabled.is_empty() {
        let kinds: Vec<&str> = p.opts.disabled.iter().map(|k| k.name()).collect();
        cmd += &format!(" SOPBOT_SIM_DISABLE={}", kinds.join(","));
    }
    if p.opts.actions != ACTIONS {
        cmd += &format!(" SOPBOT_SIM_ACTIONS={}", p.opts.actions);
    }
    if !p.liveness {
        cmd += " SOPBOT_SIM_LIVENESS=0";
    }
    cmd + " cargo test --test it simulation:: -- --nocapture"
}

/// What one seed did, and what it broke.
struct Outcome {
    seed: u64,
    summary: String,
    violations: Vec<Violation>,
    report: String,
}

/// One seed's running rig: the emulator, the bot, its database, and the deliveries in flight.
struct Rig {
    dir: tempfile::TempDir,
    config: PathBuf,
    emu: Arc<Emulator>,
    bot: Bot,
    db: SqlitePool,
    /// (delivery id, what) of each delivery answered `202 queued`.
    queued: Vec<(String, String)>,
    /// Held-back deliveries: (release at step, delivery).
    delayed: Vec<(usize, Delivery)>,
    violations: Vec<Violation>,
    stats: Stats,
}

#[derive(Default, Debug)]
struct Stats {
    sent: usize,
    dropped: usize,
    duplicated: usize,
    delayed: usize,
    gitea_faults: usize,
    kills: usize,
}

fn config(emu: &Emulator, dir: &Path, handle_edits: bool) -> String {
    ConfigToml::new(emu)
        .timeout("1s", 2)
        // Every evaluation asks Gitea: a team removal (no webhook) is seen at the next sweep.
        .gitea("membership_cache_ttl = 0\n")
        .server(&format!("webhook_secret = \"{SECRET}\"\n"))
        .db(&dir.join("sopbot.db").display().to_string())
        .poll(1, "sweep_interval = \"2s\"\n")
        .branches(&["main", "release"])
        .extra(&format!(
            "\n[evaluation]\nhandle_edited_comments = {handle_edits}\n"
        ))
        .render()
}

impl Rig {
    async fn start(s: &Script, world: gitea_emu::World, seed: u64) -> Rig {
        let emu = Arc::new(Emulator::start(world).await);
        emu.seed_faults(seed);
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("sopbot.toml");
        std::fs::write(&config, self::config(&emu, dir.path(), s.handle_edits)).unwrap();
        let bot = Bot::start(&config, &dir.path().join("bot.log")).await;
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join("sopbot.db"))
            .busy_timeout(Duration::from_secs(5));
        let db = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .unwrap();
        Rig {
            dir,
            config,
            emu,
            bot,
            db,
            queued: Vec::new(),
            delayed: Vec::new(),
            violations: Vec::new(),
            stats: Stats::default(),
        }
    }

    async fn send(&mut self, d: &Delivery) {
        self.stats.sent += 1;
        let (status, body) = self.bot.deliver(d).await;
        let what = format!("{} {}", d.event_type, action_of(d));
        match (status, body.as_str()) {
            (202, "queued") => self.queued.push((d.delivery_id.clone(), what)),
            (202, "duplicate") | (200, _) => {}
            _ => self.violations.push(Violation {
                invariant: "accepted-delivery-done",
                pr: None,
                detail: format!("a valid signed delivery ({what}) was answered {status} {body}"),
            }),
        }
    }

    /// Delivers as a flaky network would: dropped, held back (and so reordered), or twice.
    async fn deliver(&mut self, s: &mut Script, d: Delivery) {
        let what = format!("{} {}", d.event_type, action_of(&d));
        if s.opts.on(Kind::Drop) && s.rng.u32(0..100) < 7 {
            self.stats.dropped += 1;
            s.log
                .push((s.step, None, format!("  delivery {what} dropped")));
            return;
        }
        if s.opts.on(Kind::Delay) && s.rng.u32(0..100) < 10 {
            self.stats.delayed += 1;
            let at = s.step + s.rng.usize(1..6);
            s.log.push((
                s.step,
                None,
                format!("  delivery {what} held until step {at}"),
            ));
            self.delayed.push((at, d));
            return;
        }
        self.send(&d).await;
        if s.opts.on(Kind::Duplicate) && s.rng.u32(0..100) < 7 {
            self.stats.duplicated += 1;
            s.log
                .push((s.step, None, format!("  delivery {what} sent twice")));
            self.send(&d).await;
        }
    }

    async fn release_due(&mut self, s: &mut Script) {
        let (due, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.delayed)
            .into_iter()
            .partition(|(at, _)| *at <= s.step);
        self.delayed = keep;
        for (_, d) in due {
            s.log.push((
                s.step,
                None,
                format!("  held delivery {} {} sent", d.event_type, action_of(&d)),
            ));
            self.send(&d).await;
        }
    }

    /// Maybe a Gitea fault for the next calls, maybe a SIGKILL and restart of the bot.
    async fn faults(&mut self, s: &mut Script) {
        if s.opts.on(Kind::GiteaFault) && s.rng.u32(0..100) < 10 {
            self.stats.gitea_faults += 1;
            let what = match s.rng.u32(0..4) {
                0 => {
                    let (n, status) = (s.rng.u32(1..4), [500, 502, 503][s.rng.usize(..3)]);
                    self.emu.fail_next(n, status);
                    format!("{n} x {status}")
                }
                1 => {
                    let n = s.rng.u32(1..3);
                    self.emu.rate_limit_next(n, 1);
                    format!("{n} x 429 Retry-After 1")
                }
                2 => {
                    self.emu.stall_next(1, Duration::from_millis(1200));
                    "1 stall past the timeout".to_string()
                }
                _ => {
                    let n = s.rng.u32(1..3);
                    self.emu.drop_next(n);
                    format!("{n} dropped connections")
                }
            };
            s.log.push((s.step, None, format!("  gitea fault: {what}")));
        }
        if s.opts.on(Kind::Kill) && s.rng.u32(0..100) < 4 {
            self.stats.kills += 1;
            s.log
                .push((s.step, None, "  SIGKILL sopbot, restart".into()));
            self.bot.kill();
            // `serve` exits when a fault hits its start-up `GET /user` (systemd would restart
            // it): the pending Gitea faults end with the process.
            self.emu.clear_faults();
            self.bot = Bot::start(&self.config, &self.dir.path().join("bot.log")).await;
        }
    }

    async fn inbox_open(&self) -> (i64, i64) {
        sqlx::query_as(
            // The sweep queues a re-evaluation of every PR every few seconds: not new work.
            "SELECT COALESCE(SUM(instr(payload, 'sweep: last evaluated') = 0), 0),
                    COALESCE(SUM(state IN ('pending', 'running')
                                 AND instr(payload, 'sweep: last evaluated') = 0), 0)
             FROM inbox",
        )
        .fetch_one(&self.db)
        .await
        .unwrap()
    }

    /// Waits (up to 3 s) until no event is running or waiting for its first attempt, so that a
    /// membership change lands after the comments already delivered were decided, as it would
    /// in Gitea; events retrying after a fault stay behind, and may see the new membership.
    async fn calm(&self) {
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            let (busy,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM inbox WHERE state = 'running'
                 OR (state = 'pending' AND attempts = 0)",
            )
            .fetch_one(&self.db)
            .await
            .unwrap();
            if busy == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Poll passes started so far (each starts by listing the repository's comments).
    fn poll_starts(&self) -> usize {
        self.emu
            .calls()
            .iter()
            .filter(|c| {
                c.method == "GET" && c.path.ends_with("/repos/acme/widgets/issues/comments")
            })
            .count()
    }

    /// Waits until every open PR into a protected branch was evaluated after `at`.
    async fn swept_since(&self, s: &Script, at: std::time::SystemTime) -> Result<(), String> {
        let at: chrono::DateTime<chrono::Utc> = at.into();
        let open: Vec<u64> = self.emu.with_world(|w| {
            s.prs
                .iter()
                .copied()
                .filter(|&n| {
                    !w.issue(REPO, n).closed
                        && PROTECTED.contains(&w.pull(REPO, n).base_ref.as_str())
                })
                .collect()
        });
        let deadline = Instant::now() + SETTLE;
        loop {
            let rows: Vec<(i64, String)> =
                sqlx::query_as("SELECT pr, evaluated_at FROM pr_evaluations")
                    .fetch_all(&self.db)
                    .await
                    .unwrap();
            let swept = open.iter().all(|&n| {
                rows.iter().any(|(pr, t)| {
                    *pr == n as i64 && chrono::DateTime::parse_from_rfc3339(t).is_ok_and(|t| t > at)
                })
            });
            if swept {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "no sweep re-evaluated every open PR of {open:?} within {SETTLE:?}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the inbox is drained and then a whole poll pass found nothing new.
    async fn settle(&self) -> Result<(), String> {
        let deadline = Instant::now() + SETTLE;
        for _round in 0..8 {
            while self.inbox_open().await.1 > 0 {
                if Instant::now() > deadline {
                    return Err(format!("events still open after {SETTLE:?}"));
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            let (rows, _) = self.inbox_open().await;
            let starts = self.poll_starts();
            // The pass after the next one has begun: the next one ran to its end.
            while self.poll_starts() < starts + 2 {
                if Instant::now() > deadline {
                    return Err("the poller stopped polling".into());
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            let (now_rows, open) = self.inbox_open().await;
            if now_rows == rows && open == 0 {
                return Ok(());
            }
        }
        Err("every poll pass finds new work: the bot never settles".into())
    }

    /// Copies the log and database out, for a post-mortem of a failing seed.
    fn keep(&self, seed: u64) -> PathBuf {
        let keep = std::env::temp_dir().join(format!("sopbot-sim-{seed}"));
        std::fs::create_dir_all(&keep).unwrap();
        for f in [
            "bot.log",
            "sopbot.db",
            "sopbot.db-wal",
            "sopbot.db-shm",
            "sopbot.toml",
        ] {
            let _ = std::fs::copy(self.dir.path().join(f), keep.join(f));
        }
        keep
    }
}

/// `action` of a pull-request or comment payload, for the script.
fn action_of(d: &Delivery) -> String {
    let j = d.json();
    let n = j["number"]
        .as_u64()
        .or_else(|| j["issue"]["number"].as_u64())
        .unwrap_or(0);
    format!("{} #{n}", j["action"].as_str().unwrap_or("?"))
}

async fn run_seed(seed: u64, p: &Plan) -> Outcome {
    let started = Instant::now();
    let (mut s, world) = Script::new(seed, p.opts.clone());
    let mut rig = Rig::start(&s, world, seed).await;
    for d in rig.emu.with_world(|w| s.opening(w)) {
        rig.deliver(&mut s, d).await;
    }
    for _ in 0..p.opts.actions {
        let kind = s.pick_kind();
        if kind == Kind::Membership {
            rig.calm().await;
        }
        let out = rig.emu.with_world(|w| s.act(w, kind));
        for d in out.deliveries {
            rig.deliver(&mut s, d).await;
        }
        rig.release_due(&mut s).await;
        rig.faults(&mut s).await;
    }
    // Quiet: the held deliveries arrive in some order, Gitea heals.
    let mut held = std::mem::take(&mut rig.delayed);
    s.rng.shuffle(&mut held);
    for (_, d) in held {
        rig.send(&d).await;
    }
    rig.emu.clear_faults();
    let mut settled = rig.settle().await;
    if let (Ok(()), Some(at)) = (&settled, s.last_membership_change) {
        // Gitea sends no webhook when someone leaves a team: the sweep is what finds it.
        settled = rig.swept_since(&s, at).await.and(rig.settle().await);
    }
    if let Err(e) = settled {
        rig.violations.push(Violation {
            invariant: "accepted-delivery-done",
            pr: None,
            detail: e,
        });
    }
    let w = rig.emu.with_world(|w| w.clone());
    let mut v = std::mem::take(&mut rig.violations);
    oracle::check_inbox(&rig.db, &rig.queued, &mut v).await;
    oracle::check_duplicates(&rig.db, &mut v).await;
    let rows = oracle::waiver_rows(&rig.db).await;
    let active = oracle::check_waivers(&s, &rows, &mut v);
    oracle::check_gates(&s, &w, &active, p.liveness && !s.membership_changed, &mut v);
    oracle::check_replies(&s, &w, &mut v);
    let token = rig.emu.token();
    oracle::check_secrets(&w, &s.prs, rig.dir.path(), &[&token, SECRET], &mut v);

    let summary = format!(
        "{} actions, {} PRs, edits {}, {:?}, {:.1}s",
        p.opts.actions,
        s.prs.len(),
        if s.handle_edits { "on" } else { "off" },
        rig.stats,
        started.elapsed().as_secs_f64()
    );
    let report = if v.is_empty() {
        String::new()
    } else {
        report(seed, p, &s, &w, &v, &rig.keep(seed))
    };
    Outcome {
        seed,
        summary,
        violations: v,
        report,
    }
}

/// A failing seed's message: each violation, the script around the PRs involved, the repro.
fn report(
    seed: u64,
    p: &Plan,
    s: &Script,
    w: &gitea_emu::World,
    v: &[Violation],
    keep: &Path,
) -> String {
    let mut out = format!("\n=== seed {seed}: {} violation(s)\n", v.len());
    for x in v {
        let pr = x.pr.map(|n| format!(" #{n}")).unwrap_or_default();
        out += &format!("- [{}]{pr} {}\n", x.invariant, x.detail);
    }
    let prs: BTreeSet<u64> = v.iter().filter_map(|x| x.pr).collect();
    out += "  PRs at the end:\n";
    for &n in &s.prs {
        let closed = if w.issue("widgets", n).closed {
            " (closed)"
        } else {
            ""
        };
        out += &format!("    #{n} {}{closed}\n", script::describe_pr(w, n));
    }
    out += "  script (steps touching those PRs, and the faults):\n";
    for (step, pr, what) in &s.log {
        if pr.is_none_or(|n| prs.is_empty() || prs.contains(&n)) {
            out += &format!("    {step:>3} {what}\n");
        }
    }
    out += &format!(
        "  bot log and database: {}\n  reproduce: {}\n",
        keep.display(),
        repro(seed, p)
    );
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulation_seeds_hold_every_invariant() {
    let p = Arc::new(plan());
    let started = Instant::now();
    let mut outcomes = Vec::new();
    for chunk in p.seeds.chunks(p.jobs) {
        let mut tasks = tokio::task::JoinSet::new();
        for &seed in chunk {
            let p = p.clone();
            tasks.spawn(async move { run_seed(seed, &p).await });
        }
        while let Some(o) = tasks.join_next().await {
            let o = o.expect("a seed's run panicked");
            let verdict = if o.violations.is_empty() {
                "ok".to_string()
            } else {
                let kinds: BTreeSet<&str> = o.violations.iter().map(|v| v.invariant).collect();
                format!("FAIL {kinds:?}")
            };
            eprintln!("seed {}: {verdict} ({})", o.seed, o.summary);
            if !o.report.is_empty() {
                eprintln!("{}", o.report);
            }
            outcomes.push(o);
        }
    }
    let failed: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| !o.violations.is_empty())
        .collect();
    eprintln!(
        "{} seeds in {:.1}s, {} failed",
        outcomes.len(),
        started.elapsed().as_secs_f64(),
        failed.len()
    );
    if !failed.is_empty() {
        let lines: Vec<String> = failed
            .iter()
            .map(|o| {
                let kinds: BTreeSet<&str> = o.violations.iter().map(|v| v.invariant).collect();
                format!("seed {} {kinds:?}: {}", o.seed, repro(o.seed, &p))
            })
            .collect();
        panic!("invariants broken:\n{}", lines.join("\n"));
    }
}

/// The checker itself: each invariant flags a state that breaks it, and passes the same state
/// once it is made right (so a green simulation means the bot held them, not that the checker
/// is blind).
#[test]
fn the_checker_flags_what_breaks_an_invariant() {
    use oracle::WaiverRow;
    let opts = Options {
        actions: 0,
        disabled: Kind::ALL.into_iter().collect(),
    };
    let (s, mut w) = Script::new(1, opts);
    let n = s.prs[0];
    let head = w.head_sha("widgets", n);
    let qa = "qa-review / approved";
    w.post_status("widgets", &head, "sopbot", "success", qa, "looks fine", "");
    let gates = |w: &gitea_emu::World, active: &std::collections::HashMap<(u64, String), i64>| {
        let mut v = Vec::new();
        oracle::check_gates(&s, w, active, false, &mut v);
        v.iter().filter(|v| v.detail.starts_with(qa)).count()
    };
    let none = std::collections::HashMap::new();
    assert_eq!(gates(&w, &none), 1, "success without approval or waiver");
    w.review("widgets", n, "bob", "APPROVED", "ok");
    assert_eq!(gates(&w, &none), 0, "bob (qa) approved");
    w.remove_team_member(w.team_id("qa"), "BOB");
    assert_eq!(gates(&w, &none), 1, "bob left qa");
    let active = [((n, "qa".to_string()), 1)].into_iter().collect();
    assert_eq!(gates(&w, &active), 0, "an active waiver");

    let row = WaiverRow {
        id: 1,
        pr: n as i64,
        gate: "qa".into(),
        declared_by: "mia".into(),
        comment_id: Some(999),
        revoked_at: None,
    };
    let mut v = Vec::new();
    assert!(oracle::check_waivers(&s, &[row], &mut v).is_empty());
    assert_eq!(v.len(), 1, "a waiver from a comment nobody posted: {v:?}");

    let dir = tempfile::tempdir().unwrap();
    let mut v = Vec::new();
    oracle::check_secrets(&w, &s.prs, dir.path(), &[SECRET], &mut v);
    assert!(v.is_empty(), "{v:?}");
    w.comment("widgets", n, "sopbot", &format!("oops {SECRET}"));
    oracle::check_secrets(&w, &s.prs, dir.path(), &[SECRET], &mut v);
    assert_eq!(v.len(), 1, "the secret in a comment: {v:?}");
}
