//! `sopbot setup` against the emulator: the webhook and the branch protection contexts, a dry
//! run that changes nothing, idempotence, and a clear refusal without repo admin.

use crate::support as common;

use common::serve::{serve_config, SECRET};
use common::{sopbot, stderr, stdout, write_config};
use gitea_emu::{Emulator, World};

const URL: &str = "https://sopbot.example.com/webhook";

/// Writes (POST, PATCH) the emulator saw.
fn writes(emu: &Emulator) -> usize {
    emu.calls()
        .iter()
        .filter(|c| c.method == "POST" || c.method == "PATCH")
        .count()
}

async fn case(world: World) -> (Emulator, tempfile::TempDir, std::path::PathBuf) {
    let emu = Emulator::start(world).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &serve_config(&emu, 0, ""));
    (emu, dir, config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_dry_run_then_apply_then_nothing_to_do() {
    let world = World::example()
        .with_site_admin("sopbot")
        .with_status_check_contexts("widgets", "main", &["ci/build"]);
    let (emu, _dir, config) = case(world).await;

    let out = sopbot(
        &config,
        &["setup", "acme/widgets", "--webhook-url", URL, "--dry-run"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains(&format!("+ webhook {URL} (events: pull_request_comment, pull_request_only, pull_request_sync, pull_request_review, pull_request_review_request, status)")), "{text}");
    assert!(
        text.contains(
            "~ branch protection main: require qa-review / approved, security-review / approved"
        ),
        "{text}"
    );
    assert!(text.contains("dry run: nothing changed"), "{text}");
    assert_eq!(writes(&emu), 0);
    assert!(emu.with_world(|w| w.hooks("widgets")).is_empty());

    let out = sopbot(&config, &["setup", "acme/widgets", "--webhook-url", URL]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stdout(&out).contains(SECRET) && !stderr(&out).contains(SECRET));
    let hooks = emu.with_world(|w| w.hooks("widgets"));
    assert_eq!(hooks.len(), 1);
    let hook = &hooks[0];
    assert_eq!(hook.url, URL);
    assert_eq!(hook.secret, SECRET);
    assert_eq!(hook.content_type, "json");
    assert!(hook.active);
    assert_eq!(
        hook.events,
        [
            "status",
            "pull_request",
            "pull_request_comment",
            "pull_request_review",
            "pull_request_review_request",
            "pull_request_sync",
        ]
    );
    let main = emu.with_world(|w| w.branch("widgets", "main").clone());
    assert!(main.enable_status_check);
    // Added to, not replaced: the rule's own contexts stay.
    assert_eq!(
        main.status_check_contexts,
        [
            "ci/build",
            "qa-review / approved",
            "security-review / approved"
        ]
    );

    let before = writes(&emu);
    let out = sopbot(&config, &["setup", "acme/widgets", "--webhook-url", URL]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("= webhook {URL} (#1) is as needed")),
        "{text}"
    );
    assert!(
        text.contains("= branch protection main: requires every gate's status"),
        "{text}"
    );
    assert_eq!(writes(&emu), before, "a second run wrote:\n{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_refuses_clearly_without_repo_admin() {
    let (emu, _dir, config) = case(World::example()).await;
    let out = sopbot(&config, &["setup", "acme/widgets", "--webhook-url", URL]).await;
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.starts_with("error: Gitea refuses: the bot's user is not an admin of acme/widgets"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(writes(&emu), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_of_an_unconfigured_repo_is_refused() {
    let (_emu, _dir, config) = case(World::example().with_site_admin("sopbot")).await;
    let out = sopbot(&config, &["setup", "acme/other", "--webhook-url", URL]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not in the config"),
        "{}",
        stderr(&out)
    );
}

/// A rule that already requires the gates through a pattern is left alone: Gitea matches
/// required contexts as globs (`services/pull/commit_status.go`), and so does setup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_adds_by_name_the_contexts_a_wildcard_only_matches() {
    // `*-review / approved` matches both gates, but Gitea is satisfied by any one status that
    // matches it: qa's success alone would open the PR. Setup requires each gate by name.
    let world = World::example()
        .with_site_admin("sopbot")
        .with_status_check_contexts("widgets", "main", &["*-review / approved"]);
    let (_emu, _dir, config) = case(world).await;
    let out = sopbot(
        &config,
        &["setup", "acme/widgets", "--webhook-url", URL, "--dry-run"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(
            "the rule's pattern `*-review / approved` matches qa-review / approved, but any \
             status matching it would satisfy Gitea: qa-review / approved is added by name"
        ),
        "{text}"
    );
    assert!(
        !text.contains("= branch protection main: requires every gate's status"),
        "{text}"
    );
    assert!(text.contains("~ branch protection main"), "{text}");
}

/// A hook made by hand before sopbot needed review requests and statuses (and with `push`,
/// which the admin wants kept).
async fn old_hook(emu: &Emulator) {
    let answer = reqwest::Client::new()
        .post(format!("{}/repos/acme/widgets/hooks", emu.api_url()))
        .header("Authorization", format!("token {}", emu.token()))
        .json(&serde_json::json!({
            "type": "gitea", "active": true,
            "config": {"url": URL, "content_type": "json"},
            "events": ["push", "pull_request_only", "pull_request_comment", "pull_request_sync",
                       "pull_request_review"],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 201);
}

/// Gitea 1.25's `editHook` sets every event from the list (`updateHookEvents`,
/// `routers/api/v1/utils/hook.go` @ v1.25.4), and reads `pull_request` there as every pull
/// request event: setup sends the hook's own events back as Gitea names the bare ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_adds_the_missing_events_to_an_existing_hook_and_keeps_the_rest() {
    let (emu, _dir, config) = case(World::example().with_site_admin("sopbot")).await;
    old_hook(&emu).await;
    let out = sopbot(&config, &["setup", "acme/widgets", "--webhook-url", URL]).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(
        text.contains(&format!(
            "~ webhook {URL} (#1): add events pull_request_review_request,status"
        )),
        "{text}"
    );
    let hooks = emu.with_world(|w| w.hooks("widgets"));
    assert_eq!(
        hooks[0].events,
        [
            "push",
            "status",
            "pull_request",
            "pull_request_comment",
            "pull_request_review",
            "pull_request_review_request",
            "pull_request_sync",
        ],
        "no pull_request_assign / _label / _milestone: `pull_request` was not sent back"
    );
}

/// Gitea 1.23's `editHook` never sets `status` (`routers/api/v1/utils/hook.go` @ v1.23.8) and
/// answers 200 all the same: setup reads the saved hook back, says what to tick, and fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_says_to_tick_statuses_by_hand_when_gitea_1_23_ignores_it_on_an_edit() {
    let world = World::example()
        .with_site_admin("sopbot")
        .with_gitea_1_23_hook_edit();
    let (emu, _dir, config) = case(world).await;
    old_hook(&emu).await;
    let out = sopbot(&config, &["setup", "acme/widgets", "--webhook-url", URL]).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(
        text.contains("! webhook #1: Gitea did not turn on status (Gitea 1.23 ignores `status` when a hook is edited through the API): tick it in the webhook's settings in Gitea (Statuses), or delete the webhook and run setup again"),
        "{text}"
    );
    let hooks = emu.with_world(|w| w.hooks("widgets"));
    assert!(hooks[0]
        .events
        .contains(&"pull_request_review_request".to_string()));
    // The branch protection is still done.
    assert!(
        text.contains("branch protection main: require qa-review / approved"),
        "{text}"
    );
}
