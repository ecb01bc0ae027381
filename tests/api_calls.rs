//! Counting Gitea API calls: fewer calls is faster and kinder to Gitea. Asserted from the
//! emulator's call log.

use std::sync::Arc;
use std::time::Duration;

use gitea_emu::{Emulator, World};
use sopbot::bot::Evaluator;
use sopbot::config::Config;
use sopbot::gitea::{ClientOptions, GiteaClient, TeamDirectory};
use sopbot::secret::Secret;
use sopbot::store::Store;

async fn evaluator(emu: &Emulator, dir: &std::path::Path) -> Evaluator {
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
    Evaluator {
        config: Arc::new(config),
        teams: TeamDirectory::new(client.clone(), Duration::from_secs(60)),
        client,
        store: Store::open(&dir.join("sopbot.db")).await.unwrap(),
        bot_is_admin: false,
    }
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
