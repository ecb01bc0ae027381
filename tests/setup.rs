//! `sopbot setup` against the emulator: the webhook and the branch protection contexts, a dry
//! run that changes nothing, idempotence, and a clear refusal without repo admin.

mod common;

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
            "pull_request_comment",
            "pull_request",
            "pull_request_sync",
            "pull_request_review",
            "pull_request_review_request",
            "status"
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
async fn setup_counts_contexts_a_pattern_already_requires() {
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
        text.contains("= branch protection main: requires every gate's status"),
        "{text}"
    );
}
