//! The fault suite: the real `sopbot serve` under load from many PRs while the emulated Gitea
//! misbehaves — 20 % of calls failing with 500/502/503, 429s with `Retry-After`, dropped
//! connections, answers stalled past the client timeout, Gitea down for a while — and while the
//! bot itself is SIGKILLed at random points and restarted. Afterwards: every accepted event is
//! done, every status matches the world, no reply or waiver or audit row exists twice, and no
//! gate ever showed `success` without a member's approval or a waiver behind it.
//!
//! Small numbers (8–16 PRs, 40–160 events), seeded plans and faults, and every wait is a poll
//! for an outcome with a deadline: figures belong to the benchmark (`sopbot-load`), not here.

use crate::support as common;
use crate::support::reliability;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::serve::Bot;
use gitea_emu::Emulator;
use reliability::{
    active_waivers, drained, expect_every_accepted_event_done, expect_every_success_justified,
    expect_no_duplicate_waivers_or_audit, expect_one_reply_per_command, heads, plan, send, story,
    until, wrong_statuses, Action, Heads, Sent, Target,
};
use sqlx::SqlitePool;

/// How long the bot may take to finish everything it accepted, faults included (its retry
/// backoff doubles from 1 s).
const DRAIN: Duration = Duration::from_secs(120);

/// One test's world: the emulator with `prs` open PRs, the bot, and its database.
struct Rig {
    dir: tempfile::TempDir,
    config: PathBuf,
    emu: Arc<Emulator>,
    bot: Bot,
    target: Target,
    db: SqlitePool,
    prs: Vec<u64>,
    heads: Heads,
}

impl Rig {
    /// The bot's client gives up on a call after `timeout`; every Gitea answer is delayed by
    /// `latency_ms`.
    async fn start(prs: usize, timeout: &str, latency_ms: u64) -> Rig {
        let (world, prs) = reliability::world(prs);
        let emu = Arc::new(Emulator::start(world).await);
        emu.set_latency(Duration::from_millis(latency_ms));
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("sopbot.toml");
        std::fs::write(&config, reliability::config(&emu, dir.path(), timeout)).unwrap();
        let bot = Bot::start(&config, &dir.path().join("bot.log")).await;
        let target = Target::new(&bot.url);
        let db = reliability::db(dir.path()).await;
        let heads = heads(&emu, &prs);
        Rig {
            dir,
            config,
            emu,
            bot,
            target,
            db,
            prs,
            heads,
        }
    }

    /// Copies the bot's log and database out of the temporary directory, for a post-mortem.
    fn keep(&self) -> PathBuf {
        let keep = std::env::temp_dir().join(format!("sopbot-faults-{}", std::process::id()));
        std::fs::create_dir_all(&keep).unwrap();
        for f in ["bot.log", "sopbot.db", "sopbot.db-wal", "sopbot.db-shm"] {
            let _ = std::fs::copy(self.dir.path().join(f), keep.join(f));
        }
        keep
    }

    fn log(&self) -> String {
        common::serve::tail(&self.dir.path().join("bot.log"))
    }

    async fn send(&self, plan: &[(u64, Action)], senders: usize) -> Vec<Sent> {
        send(
            &self.emu,
            &self.target,
            &self.heads,
            plan,
            senders,
            Arc::new(|| {}),
        )
        .await
    }

    async fn drained(&self) {
        drained(&self.db, DRAIN, || self.log()).await;
    }

    /// A `/refire` on every PR (Gitea healthy again): the statuses are evaluated anew.
    async fn refire_all(&self) -> Vec<Sent> {
        let plan: Vec<(u64, Action)> = self
            .prs
            .iter()
            .map(|&n| (n, Action::Refire(true)))
            .collect();
        self.send(&plan, 4).await
    }

    /// Everything that must hold once the bot is done.
    async fn expect_all_right(&self, sent: &[Sent], tolerate_errors: bool) {
        expect_every_accepted_event_done(&self.db, sent).await;
        expect_one_reply_per_command(&self.emu, &self.prs, sent);
        expect_no_duplicate_waivers_or_audit(&self.db).await;
        expect_every_success_justified(&self.emu, &self.db, &self.heads, &self.prs).await;
        let waived = active_waivers(&self.db).await;
        let wrong = wrong_statuses(&self.emu, &self.prs, &waived, tolerate_errors);
        if !wrong.is_empty() {
            let mut stories = Vec::new();
            for n in wrong
                .iter()
                .map(|w| w.0)
                .collect::<std::collections::BTreeSet<_>>()
            {
                stories.push(story(&self.emu, &self.db, sent, n).await);
            }
            let keep = self.keep();
            panic!(
                "statuses that do not match the world: {wrong:#?}\n{}\n(bot log and database in {})",
                stories.join("\n"),
                keep.display()
            );
        }
    }

    /// The statuses the emulator answered with, counted (0: no answer was sent).
    fn answered(&self) -> std::collections::BTreeMap<u16, usize> {
        let mut out = std::collections::BTreeMap::new();
        for c in self.emu.calls() {
            *out.entry(c.status).or_insert(0) += 1;
        }
        out
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flaky_gitea_loses_nothing_repeats_nothing_and_passes_no_gate_by_error() {
    const SEED: u64 = 0x5eed_f1a6;
    let r = Rig::start(12, "1s", 0).await;
    r.emu.seed_faults(SEED);
    r.emu.fail_ratio(0.2, &[500, 502, 503]);
    let plan = plan(SEED, &r.prs, 120);
    let mut sent = Vec::new();
    // On top of the 20 %, a volley of each other fault while the bot works through the events.
    let volleys: [&dyn Fn(&Emulator); 3] = [
        &|e| e.rate_limit_next(4, 1),
        &|e| e.drop_next(4),
        // Past the client's 1 s timeout, short of the bot's first retry (1 s later).
        &|e| e.stall_next(3, Duration::from_millis(1500)),
    ];
    for (chunk, volley) in plan.chunks(40).zip(volleys) {
        volley(&r.emu);
        sent.extend(r.send(chunk, 4).await);
    }
    r.drained().await;
    let answered = r.answered();
    for status in [0, 429, 500, 502, 503] {
        assert!(
            answered.get(&status).copied().unwrap_or(0) > 0,
            "no call was answered {status}: the fault never happened ({answered:?})"
        );
    }
    r.emu.clear_faults();
    // An `error` saying Gitea failed is the truth for a look-up that failed four times.
    r.expect_all_right(&sent, true).await;

    // Gitea healthy again: one /refire per PR, and every status is exactly right.
    sent.extend(r.refire_all().await);
    r.drained().await;
    r.expect_all_right(&sent, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitea_down_for_a_while_then_back_loses_nothing() {
    let r = Rig::start(8, "1s", 0).await;
    r.emu.set_down(true);
    let sent = r.send(&plan(42, &r.prs, 40), 4).await;
    // Proof that the bot met the outage: events failed and wait for a retry, /readyz says why.
    until(
        "events failing against the outage",
        Duration::from_secs(30),
        || async {
            let (n,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM inbox WHERE attempts > 0 AND last_error IS NOT NULL",
            )
            .fetch_one(&r.db)
            .await
            .unwrap();
            n >= 5
        },
    )
    .await;
    let (status, body) = r.bot.get("/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("gitea"), "{body}");

    r.emu.set_down(false);
    r.drained().await;
    let (status, body) = r.bot.get("/readyz").await;
    assert_eq!(status, 200, "{body}");
    // Every evaluation ran after Gitea came back: the statuses are exactly right.
    r.expect_all_right(&sent, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_points_under_load_loses_nothing_and_repeats_nothing() {
    const SEED: u64 = 0x0c0f_fee5;
    const EVENTS: usize = 160;
    // 3 ms per Gitea answer: an event takes a while, so kills land in the middle of some.
    let mut r = Rig::start(16, "2s", 3).await;
    let plan = plan(SEED, &r.prs, EVENTS);
    let mut rng = fastrand::Rng::with_seed(SEED);
    let mut kills: Vec<usize> = (0..4).map(|_| rng.usize(10..EVENTS - 10)).collect();
    kills.sort_unstable();

    let accepted = Arc::new(AtomicUsize::new(0));
    let sender = {
        let (emu, target, heads) = (r.emu.clone(), r.target.clone(), r.heads.clone());
        let counter = accepted.clone();
        tokio::spawn(async move {
            let count: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
                counter.fetch_add(1, Ordering::SeqCst);
            });
            send(&emu, &target, &heads, &plan, 4, count).await
        })
    };
    let mut restarts = 0;
    for k in &kills {
        until(
            "deliveries before the next kill",
            Duration::from_secs(60),
            || async { accepted.load(Ordering::SeqCst) >= *k },
        )
        .await;
        r.bot.kill();
        r.bot = Bot::start(&r.config, &r.dir.path().join("bot.log")).await;
        r.target.set(&r.bot.url);
        restarts += 1;
    }
    let sent = sender.await.unwrap();
    // Once more while it works through the backlog.
    tokio::time::sleep(Duration::from_millis(rng.u64(20..200))).await;
    r.bot.kill();
    r.bot = Bot::start(&r.config, &r.dir.path().join("bot.log")).await;
    restarts += 1;
    r.drained().await;

    let resent = sent.iter().filter(|s| s.tries > 1).count();
    let rerun: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM inbox WHERE attempts > 1")
        .fetch_one(&r.db)
        .await
        .unwrap();
    eprintln!(
        "seed {SEED:#x}: {restarts} SIGKILLs at {kills:?} deliveries and once draining; \
         {resent} deliveries resent, {} events run again after a kill",
        rerun.0
    );
    r.expect_all_right(&sent, false).await;
}
