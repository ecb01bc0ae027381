//! Counting Gitea API calls: fewer calls is faster and kinder to Gitea. Asserted from the
//! emulator's call log.

use std::sync::Arc;
use std::time::Duration;

use gitea_emu::{Emulator, World};
use sopbot::bot::Ctx;
use sopbot::config::Config;
use sopbot::gitea::{ClientOptions, GiteaClient, TeamDirectory};
use sopbot::poller::Poller;
use sopbot::secret::Secret;
use sopbot::store::Store;

async fn evaluator(emu: &Emulator, dir: &std::path::Path) -> Arc<Ctx> {
    let text = format!(
        "[gitea]\nurl = \"{}\"\n[[repo]]\nname = \"acme/widgets\"\nbranches = [\"main\"]\n",
        emu.base_url()
    );
    let config = Config::from_toml(&text, &dir.join("sopbot.toml")).unwrap();
    let client = GiteaClient::new(
        &emu.base_url(),
        Secret::new(emu.token()),
        ClientOptions::default(),
    )
    .unwrap();
    Ctx::new(
        Arc::new(config),
        client.clone(),
        TeamDirectory::new(client, Duration::from_secs(60)),
        Store::open(&dir.join("sopbot.db")).await.unwrap(),
        "sopbot",
        false,
    )
}

#[tokio::test]
async fn refire_of_one_gate_with_one_approving_member_costs_three_gets() {
    let emu = Emulator::start(World::example()).await;
    emu.with_world(|w| w.review("widgets", 7, "bob", "APPROVED", "lgtm"));
    let dir = tempfile::tempdir().unwrap();
    let ev = evaluator(&emu, dir.path()).await;
    let repo = "acme/widgets".parse().unwrap();
    let qa = ["qa".to_string()];

    // The first evaluation resolves the team (listing, visibility): later ones have it cached.
    ev.evaluate(&repo, 7, Some(&qa), true).await.unwrap();
    emu.clear_calls();

    // `/refire qa`: a fresh membership look-up, the team id cached.
    let eval = ev.evaluate(&repo, 7, Some(&qa), true).await.unwrap();
    assert_eq!(eval.gates[0].approved_by.as_deref(), Some("bob"));
    let calls = emu.calls();
    let paths: Vec<String> = calls
        .iter()
        .map(|c| format!("{} {}", c.method, c.path))
        .collect();
    assert!(calls.len() <= 3, "{paths:#?}");
    assert!(calls.iter().all(|c| c.method == "GET"), "{paths:#?}");
    assert!(paths.contains(&"GET /api/v1/repos/acme/widgets/pulls/7".to_string()));
    assert!(paths.contains(&"GET /api/v1/repos/acme/widgets/pulls/7/reviews".to_string()));
    assert!(paths.contains(&"GET /api/v1/teams/20/members/bob".to_string()));
}

#[tokio::test]
async fn a_cached_membership_is_not_asked_again_but_refire_asks() {
    let emu = Emulator::start(World::example()).await;
    emu.with_world(|w| w.review("widgets", 7, "bob", "APPROVED", "lgtm"));
    let dir = tempfile::tempdir().unwrap();
    let ev = evaluator(&emu, dir.path()).await;
    let repo = "acme/widgets".parse().unwrap();
    let qa = ["qa".to_string()];
    ev.evaluate(&repo, 7, Some(&qa), false).await.unwrap();
    emu.clear_calls();
    ev.evaluate(&repo, 7, Some(&qa), false).await.unwrap();
    let probes = |emu: &Emulator| {
        emu.calls()
            .iter()
            .filter(|c| c.path.contains("/members/"))
            .count()
    };
    assert_eq!(probes(&emu), 0, "cached answer reused");
    ev.evaluate(&repo, 7, Some(&qa), true).await.unwrap();
    assert_eq!(probes(&emu), 1, "a refire asks anew");
}

#[tokio::test]
async fn a_waived_or_skipped_pr_reads_no_reviews() {
    let emu = Emulator::start(World::example()).await;
    emu.with_world(|w| w.close_pr("widgets", 7, false));
    let dir = tempfile::tempdir().unwrap();
    let ev = evaluator(&emu, dir.path()).await;
    let repo = "acme/widgets".parse().unwrap();
    emu.clear_calls();
    ev.evaluate(&repo, 7, None, false).await.unwrap();
    assert_eq!(emu.calls().len(), 1, "{:?}", emu.calls());
}

#[tokio::test]
async fn a_failing_gate_reads_the_timeline_only_when_reviews_are_hidden() {
    let emu = Emulator::start(World::example()).await;
    let dir = tempfile::tempdir().unwrap();
    let ev = evaluator(&emu, dir.path()).await;
    let repo = "acme/widgets".parse().unwrap();
    ev.evaluate(&repo, 7, None, false).await.unwrap();
    emu.clear_calls();

    // No approval, nothing hidden: the reviews' X-Total-Count says so, no timeline call.
    let eval = ev.evaluate(&repo, 7, None, false).await.unwrap();
    assert!(!eval.all_pass());
    let timeline = |emu: &Emulator| {
        emu.calls()
            .iter()
            .filter(|c| c.path.ends_with("/timeline"))
            .count()
    };
    assert_eq!(timeline(&emu), 0, "{:#?}", emu.calls());

    // A verdict misfiled as PENDING, which Gitea hides from the bot but counts: now it looks.
    emu.with_world(|w| w.review("widgets", 7, "bob", "PENDING", "Looks good, approving"));
    // One page, and the empty page that ends the timeline (a short one does not: Gitea drops
    // code comments from a page after reading it, `docs/gitea-api.md` §2).
    let eval = ev.evaluate(&repo, 7, None, false).await.unwrap();
    assert_eq!(timeline(&emu), 2);
    assert_eq!(eval.gates[0].misfiled, ["bob"]);
}

// ----- the poller -------------------------------------------------------------------------------

/// A poller over `acme/widgets` whose sweep runs every `sweep`, and its inbox.
async fn poller(emu: &Emulator, dir: &std::path::Path, sweep: &str) -> (Poller, Store) {
    let text = format!(
        "[gitea]\nurl = \"{}\"\n[poller]\nsweep_interval = \"{sweep}\"\n\
         [[repo]]\nname = \"acme/widgets\"\nbranches = [\"main\"]\n",
        emu.base_url()
    );
    let config = Config::from_toml(&text, &dir.join("sopbot.toml")).unwrap();
    let client = GiteaClient::new(
        &emu.base_url(),
        Secret::new(emu.token()),
        ClientOptions::default(),
    )
    .unwrap();
    let store = Store::open(&dir.join("sopbot.db")).await.unwrap();
    let poller = Poller::new(
        Arc::new(config),
        client,
        store.clone(),
        "sopbot".into(),
        Arc::new(tokio::sync::Notify::new()),
    );
    (poller, store)
}

/// The example world plus `extra` open PRs, whose history is hours old; what happens next
/// happens a minute ago (so Gitea's clock is past the second of every change).
fn world_with_open_prs(extra: usize) -> World {
    let now = chrono::Utc::now();
    let mut w = World::example_at(now - chrono::Duration::hours(3));
    w.open_prs("widgets", "alice", "main", "feature", extra);
    w.set_clock(now - chrono::Duration::minutes(1));
    w
}

fn paths(emu: &Emulator) -> Vec<String> {
    emu.calls()
        .iter()
        .map(|c| format!("{} {}", c.method, c.path))
        .collect()
}

#[tokio::test]
async fn an_idle_fast_pass_costs_two_calls_per_repository_at_1000_open_prs() {
    let emu = Emulator::start(world_with_open_prs(1000)).await;
    let dir = tempfile::tempdir().unwrap();
    let (poller, _) = poller(&emu, dir.path(), "10m").await;
    // The first pass sweeps (every open PR is queued once); later ones are fast passes.
    let first = poller.poll_once().await;
    assert!(first.reevaluations >= 1000, "{first:?}");
    emu.clear_calls();

    let idle = poller.poll_once().await;
    assert_eq!(idle.comments + idle.reevaluations, 0);
    assert_eq!(
        paths(&emu),
        [
            "GET /api/v1/repos/acme/widgets/issues/comments",
            "GET /api/v1/repos/acme/widgets/issues",
        ]
    );

    // One change costs the PR and its reviews, once: the next pass is idle again.
    emu.with_world(|w| w.review("widgets", 7, "bob", "APPROVED", "lgtm"));
    emu.clear_calls();
    let busy = poller.poll_once().await;
    assert_eq!(busy.reevaluations, 1, "{busy:?}");
    let mut seen = paths(&emu);
    seen.sort();
    assert_eq!(
        seen,
        [
            "GET /api/v1/repos/acme/widgets/issues",
            "GET /api/v1/repos/acme/widgets/issues/comments",
            "GET /api/v1/repos/acme/widgets/pulls/7",
            "GET /api/v1/repos/acme/widgets/pulls/7/reviews",
        ]
    );
    emu.clear_calls();
    poller.poll_once().await;
    assert_eq!(paths(&emu).len(), 2, "{:#?}", paths(&emu));
}

#[tokio::test]
async fn the_sweep_lists_open_prs_in_pages_and_queues_each_once() {
    let emu = Emulator::start(world_with_open_prs(120)).await;
    let dir = tempfile::tempdir().unwrap();
    let (poller, _) = poller(&emu, dir.path(), "10m").await;
    // The fast pass finds nothing new (history is two hours old); the sweep queues 121 open PRs.
    let first = poller.poll_once().await;
    assert_eq!(first.reevaluations, 121, "{first:?}");
    let listings = paths(&emu)
        .iter()
        .filter(|p| *p == "GET /api/v1/repos/acme/widgets/pulls")
        .count();
    // 121 open PRs at 50 a page.
    assert_eq!(listings, 3, "{:#?}", paths(&emu));
    // Not due again for ten minutes: the next pass lists no open PRs.
    emu.clear_calls();
    poller.poll_once().await;
    assert!(!paths(&emu).iter().any(|p| p.ends_with("/pulls")));
}

#[tokio::test]
async fn a_pr_list_lagging_behind_a_push_causes_one_reevaluation_at_the_new_head_and_no_loop() {
    let emu = Emulator::start(world_with_open_prs(3).with_list_head_lag()).await;
    let dir = tempfile::tempdir().unwrap();
    let (poller, _) = poller(&emu, dir.path(), "10m").await;
    poller.poll_once().await;
    // A push whose webhook was lost; the PR listing still says the old head.
    let new = emu.with_world(|w| w.push("widgets", 7));
    let found = poller.poll_once().await;
    assert_eq!(found.reevaluations, 1, "{found:?}");
    // The event names the head of the PR itself, not the listing's.
    let last = last_event(&dir).await;
    assert!(last.payload.contains(&new), "{}", last.payload);
    // While the listing lags, and after it catches up, nothing more is queued.
    for _ in 0..2 {
        assert_eq!(poller.poll_once().await.reevaluations, 0);
    }
    emu.with_world(|w| w.settle_list_heads());
    assert_eq!(poller.poll_once().await.reevaluations, 0);
}

/// The newest inbox event (its PR and payload), read from the database file.
struct LastEvent {
    pr: Option<i64>,
    payload: String,
}

async fn last_event(dir: &tempfile::TempDir) -> LastEvent {
    use sqlx::sqlite::SqliteConnectOptions;
    use sqlx::{ConnectOptions, Connection};
    let mut conn = SqliteConnectOptions::new()
        .filename(dir.path().join("sopbot.db"))
        .connect()
        .await
        .unwrap();
    let (pr, payload): (Option<i64>, String) =
        sqlx::query_as("SELECT pr, payload FROM inbox ORDER BY id DESC LIMIT 1")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    conn.close().await.unwrap();
    LastEvent { pr, payload }
}

#[tokio::test]
async fn a_pr_that_cannot_be_read_does_not_hide_the_others_and_is_read_again_next_pass() {
    let emu = Emulator::start(world_with_open_prs(3)).await;
    let dir = tempfile::tempdir().unwrap();
    let (poller, _) = poller(&emu, dir.path(), "10m").await;
    poller.poll_once().await;
    // Two PRs change (no webhook); reading #7 keeps failing.
    // The example's PR is #7; the extra ones follow it.
    let other = 8;
    emu.with_world(|w| {
        w.review("widgets", 7, "bob", "APPROVED", "lgtm");
        w.review("widgets", other, "bob", "APPROVED", "lgtm");
    });
    emu.fail_path("/api/v1/repos/acme/widgets/pulls/7", 100, 500);
    let found = poller.poll_once().await;
    assert_eq!(found.reevaluations, 1, "{found:?}");
    let last = last_event(&dir).await;
    assert_eq!(last.pr, Some(other as i64));
    // Gitea answers again: the next pass lists #7 once more (the cursor waited for it).
    emu.faults().clear();
    let found = poller.poll_once().await;
    assert_eq!(found.reevaluations, 1, "{found:?}");
    let last = last_event(&dir).await;
    assert_eq!(last.pr, Some(7));
}

#[tokio::test]
async fn a_sweep_does_not_queue_a_pr_whose_event_is_still_waiting() {
    let emu = Emulator::start(world_with_open_prs(5)).await;
    let dir = tempfile::tempdir().unwrap();
    let (poller, store) = poller(&emu, dir.path(), "10m").await;
    assert_eq!(poller.poll_once().await.reevaluations, 6);
    // The sweep is due again while nobody handled the first one's events (the bot is slow):
    // nothing is queued twice, so a backlog cannot grow sweep after sweep.
    store
        .set_swept_at(
            "acme/widgets",
            chrono::Utc::now() - chrono::Duration::hours(1),
        )
        .await
        .unwrap();
    assert_eq!(poller.poll_once().await.reevaluations, 0);
}

/// With more open PRs than a page, an old PR on the same commit as a new one is found: by
/// listing every open PR while no sweep has taken a census of heads, and from the census (one
/// page and one read, not a listing of all) once one has.
#[tokio::test]
async fn an_old_pr_on_a_shared_head_is_found_among_many_open_prs() {
    let now = chrono::Utc::now();
    let mut w =
        World::example_at(now - chrono::Duration::hours(3)).with_branch("widgets", "release", true);
    w.open_prs("widgets", "alice", "main", "feature", 60);
    w.set_clock(now - chrono::Duration::minutes(1));
    // #7 is old and unapproved; a new PR from its branch into release is approved.
    let new = w.open_pr_from_branch("widgets", "alice", "release", "feature/rate-limiter");
    w.review("widgets", new, "bob", "APPROVED", "lgtm");
    let emu = Emulator::start(w).await;
    let dir = tempfile::tempdir().unwrap();
    let ctx = evaluator(&emu, dir.path()).await;
    let repo = "acme/widgets".parse().unwrap();
    let pull = ctx.client.pull(&repo, new).await.unwrap();
    let siblings = |evals: &[sopbot::bot::PrEvaluation]| -> Vec<u64> {
        evals.iter().skip(1).map(|e| e.pr).collect()
    };

    emu.clear_calls();
    let evals = ctx.evaluate_head(&repo, &pull, None, false).await.unwrap();
    assert_eq!(siblings(&evals), [7]);
    let listings = |emu: &Emulator| {
        emu.calls()
            .iter()
            .filter(|c| c.path == "/api/v1/repos/acme/widgets/pulls")
            .count()
    };
    assert_eq!(
        listings(&emu),
        3,
        "no census yet: a page, then every open PR (2 pages)"
    );

    // A sweep takes the census; now one page and #7 read by number suffice.
    let (poller, _) = poller(&emu, dir.path(), "10m").await;
    poller.poll_once().await;
    emu.clear_calls();
    let evals = ctx.evaluate_head(&repo, &pull, None, false).await.unwrap();
    assert_eq!(siblings(&evals), [7]);
    assert_eq!(listings(&emu), 1);
}
