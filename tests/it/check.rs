//! `sopbot check` against the Gitea emulator: the real binary, real HTTP, a real SQLite file.
//! Each test sets up a world, runs `check --json` and asserts the state a user would see.

use crate::support as common;

use common::{config_text, sopbot, stderr, stdout, write_config};
use gitea_emu::{Emulator, World};
use serde_json::Value;

const PR: &str = "acme/widgets#7";

struct Case {
    _dir: tempfile::TempDir,
    config: std::path::PathBuf,
    emu: Emulator,
}

async fn case(world: World, extra: &str) -> Case {
    let emu = Emulator::start(world).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &config_text(&emu, extra));
    Case {
        _dir: dir,
        config,
        emu,
    }
}

/// The example world (alice's PR #7; bob in qa, carol in security, sopbot in both) plus dave,
/// who is in no team.
fn world() -> World {
    World::example()
        .with_user("dave")
        .with_team("managers", &["mia", "sopbot"])
}

async fn check(c: &Case) -> (i32, Value) {
    let out = sopbot(&c.config, &["check", PR, "--json"]).await;
    let code = out.status.code().unwrap();
    assert_ne!(code, 2, "check failed: {}", stderr(&out));
    (code, serde_json::from_str(&stdout(&out)).unwrap())
}

fn gate<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["gate"] == name)
        .unwrap_or_else(|| panic!("no gate {name} in {v}"))
}

fn state(v: &Value, name: &str) -> String {
    gate(v, name)["state"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn team_member_approval_passes_and_names_the_approver() {
    let c = case(world(), "").await;
    c.emu
        .with_world(|w| w.review("widgets", 7, "bob", "APPROVED", "lgtm"));
    let (code, v) = check(&c).await;
    assert_eq!(state(&v, "qa"), "success");
    assert_eq!(gate(&v, "qa")["approved_by"], "bob");
    assert_eq!(gate(&v, "qa")["candidates"][0]["membership"], "member");
    // security has no approval yet: the PR as a whole does not pass.
    assert_eq!(state(&v, "security"), "failure");
    assert_eq!(code, 1);
    assert_eq!(v["repo"], "acme/widgets");
    assert_eq!(v["pr"], 7);
    let head = c.emu.with_world(|w| w.head_sha("widgets", 7));
    assert_eq!(v["head_sha"], head);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_gates_approved_exits_zero() {
    let c = case(world(), "").await;
    c.emu.with_world(|w| {
        w.review("widgets", 7, "bob", "APPROVED", "");
        w.review("widgets", 7, "carol", "APPROVED", "");
    });
    let (code, v) = check(&c).await;
    assert_eq!(
        (state(&v, "qa").as_str(), state(&v, "security").as_str()),
        ("success", "success")
    );
    assert_eq!(code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn author_self_approval_does_not_count() {
    // alice is in qa too; Gitea's API refuses a self-approval today (422), but older data can
    // hold one: it still must not open the gate.
    let c = case(world(), "").await;
    c.emu.with_world(|w| {
        let qa = w.team_id("qa");
        w.add_team_member(qa, "alice");
        w.review_unchecked("widgets", 7, "alice", "APPROVED", "");
    });
    let (_, v) = check(&c).await;
    assert_eq!(state(&v, "qa"), "failure");
    assert!(gate(&v, "qa")["candidates"].as_array().unwrap().is_empty());
    assert_eq!(gate(&v, "qa")["ignored"][0]["why"], "is the PR author");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_member_approval_fails_and_says_who() {
    let c = case(world(), "").await;
    c.emu
        .with_world(|w| w.review("widgets", 7, "dave", "APPROVED", ""));
    let (_, v) = check(&c).await;
    assert_eq!(state(&v, "qa"), "failure");
    let qa = gate(&v, "qa");
    assert_eq!(qa["candidates"][0]["login"], "dave");
    assert_eq!(qa["candidates"][0]["membership"], "not-member");
    assert!(
        qa["description"].as_str().unwrap().contains("@dave"),
        "{qa}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dismissed_approval_does_not_count() {
    let c = case(world(), "").await;
    c.emu.with_world(|w| {
        let id = w.review("widgets", 7, "bob", "APPROVED", "");
        w.dismiss("widgets", 7, id);
    });
    let (_, v) = check(&c).await;
    assert_eq!(state(&v, "qa"), "failure");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_official_approval_does_not_count() {
    let c = case(world().with_unofficial("bob"), "").await;
    c.emu
        .with_world(|w| w.review("widgets", 7, "bob", "APPROVED", ""));
    let (_, v) = check(&c).await;
    assert_eq!(state(&v, "qa"), "failure");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_approval_counts_only_when_not_strict() {
    let lax = case(world(), "").await;
    let strict = case(world(), "[evaluation]\nstrict_head_sha = true\n").await;
    for c in [&lax, &strict] {
        c.emu.with_world(|w| {
            w.review("widgets", 7, "bob", "APPROVED", "");
            w.push("widgets", 7);
        });
    }
    assert_eq!(state(&check(&lax).await.1, "qa"), "success");
    assert_eq!(state(&check(&strict).await.1, "qa"), "failure");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pr_into_an_unprotected_branch_passes_as_not_applicable() {
    // No branches configured: Gitea's own `protected` flag decides.
    let w = world().with_branch("widgets", "dev", false);
    let c = case(w, "").await;
    let text = std::fs::read_to_string(&c.config)
        .unwrap()
        .replace("branches = [\"main\"]", "");
    std::fs::write(&c.config, text).unwrap();
    let n = c
        .emu
        .with_world(|w| w.open_pr("widgets", "alice", "dev", "feature/x"));
    let out = sopbot(
        &c.config,
        &["check", &format!("acme/widgets#{n}"), "--json"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(state(&v, "qa"), "success");
    assert!(gate(&v, "qa")["description"]
        .as_str()
        .unwrap()
        .contains("not protected"));
    // And PR #7 into protected main is still gated.
    assert_eq!(state(&check(&c).await.1, "qa"), "failure");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gate_that_does_not_apply_posts_no_status() {
    // Statuses belong to the commit: a "not applicable" success for a PR into an unprotected
    // branch would also open the gates of any PR into main with the same head commit.
    let c = case(world().with_branch("widgets", "dev", false), "").await;
    let n = c
        .emu
        .with_world(|w| w.open_pr("widgets", "alice", "dev", "feature/rate-limiter"));
    let out = sopbot(
        &c.config,
        &["check", &format!("acme/widgets#{n}"), "--post"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let head = c.emu.with_world(|w| w.head_sha("widgets", n));
    assert!(c
        .emu
        .with_world(|w| w.statuses("widgets", &head))
        .is_empty());
    // PR #7 still fails its gates.
    let (code, v) = check(&c).await;
    assert_eq!((code, state(&v, "qa").as_str()), (1, "failure"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_pr_passes_as_not_applicable() {
    let c = case(world(), "").await;
    c.emu.with_world(|w| w.close_pr("widgets", 7, false));
    let (code, v) = check(&c).await;
    assert_eq!(state(&v, "qa"), "success");
    assert_eq!(code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waived_gate_passes_and_names_the_waiver() {
    let c = case(world(), "").await;
    let store = sopbot::store::Store::open(&c.config.parent().unwrap().join("sopbot.db"))
        .await
        .unwrap();
    let head = c.emu.with_world(|w| w.head_sha("widgets", 7));
    common::waive(
        &store,
        &sopbot::store::NewWaiver {
            repo: "acme/widgets".into(),
            pr: 7,
            gate: "security".into(),
            declared_by: "carol".into(),
            reason: "no security surface".into(),
            comment_id: None,
            head_sha: head,
        },
    )
    .await
    .unwrap();
    store.close().await;
    let (_, v) = check(&c).await;
    let sec = gate(&v, "security");
    assert_eq!(sec["state"], "success");
    assert_eq!(sec["waiver"]["declared_by"], "carol");
    assert_eq!(sec["description"], "waived by @carol: no security surface");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_review_fails_with_the_misfiled_hint_when_visible() {
    // A site-admin bot sees other people's PENDING reviews.
    let c = case(world().with_site_admin("sopbot"), "").await;
    c.emu
        .with_world(|w| w.review("widgets", 7, "bob", "PENDING", "Looks good, approving"));
    let (_, v) = check(&c).await;
    let qa = gate(&v, "qa");
    assert_eq!(qa["state"], "failure");
    assert!(
        qa["description"].as_str().unwrap().contains("PENDING"),
        "{qa}"
    );
    assert_eq!(qa["misfiled"][0], "bob");

    // A plain bot sees the review only through the timeline, and reports it too.
    let c = case(world(), "").await;
    c.emu
        .with_world(|w| w.review("widgets", 7, "bob", "PENDING", "Looks good, approving"));
    let (_, v) = check(&c).await;
    assert_eq!(state(&v, "qa"), "failure");
    assert_eq!(gate(&v, "qa")["misfiled"][0], "bob");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_403_on_one_candidate_is_skipped_and_the_next_member_decides() {
    let c = case(world(), "").await;
    c.emu.with_world(|w| {
        let qa = w.team_id("qa");
        w.add_team_member(qa, "erin");
        w.review("widgets", 7, "erin", "APPROVED", "");
        w.review("widgets", 7, "bob", "APPROVED", "");
    });
    c.emu.fail_path("/api/v1/teams/20/members/erin", 1, 403);
    let (_, v) = check(&c).await;
    let qa = gate(&v, "qa");
    assert_eq!(qa["state"], "success", "{qa}");
    assert_eq!(qa["approved_by"], "bob");
    assert_eq!(qa["candidates"][0]["login"], "erin");
    assert_eq!(qa["candidates"][0]["membership"], "forbidden");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_probes_forbidden_is_an_error_naming_the_team() {
    // The bot is in the org (qa) but not in security: Gitea answers 403 on every probe.
    let w = World::example().with_team("managers", &["sopbot"]);
    let c = case(w, "").await;
    c.emu.with_world(|w| {
        let sec = w.team_id("security");
        w.remove_team_member(sec, "sopbot");
        w.review("widgets", 7, "carol", "APPROVED", "");
    });
    let (code, v) = check(&c).await;
    let sec = gate(&v, "security");
    assert_eq!(sec["state"], "error", "{sec}");
    assert_eq!(sec["candidates"][0]["membership"], "forbidden");
    let why = sec["description"].as_str().unwrap();
    assert!(
        why.contains("security") && why.contains("add the bot"),
        "{why}"
    );
    assert_eq!(code, 1);

    // The human output says what to provision too.
    let out = sopbot(&c.config, &["check", PR]).await;
    let text = stdout(&out);
    assert!(text.contains("403"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitea_5xx_is_retried_and_the_answer_is_right() {
    let c = case(world(), "").await;
    c.emu
        .with_world(|w| w.review("widgets", 7, "bob", "APPROVED", ""));
    c.emu.fail_next(2, 502);
    let (_, v) = check(&c).await;
    assert_eq!(state(&v, "qa"), "success");
    let failed = c.emu.calls().iter().filter(|x| x.status == 502).count();
    assert_eq!(failed, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitea_down_is_an_error_exit_not_a_pass() {
    let c = case(world(), "").await;
    c.emu
        .with_world(|w| w.review("widgets", 7, "bob", "APPROVED", ""));
    c.emu.set_down(true);
    let out = sopbot(&c.config, &["check", PR, "--json"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).is_empty());
    let err = stderr(&out);
    assert!(err.starts_with("error: "), "{err}");
    assert!(!err.contains(&c.emu.token()), "the token leaked: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_puts_the_statuses_on_the_head_commit_once() {
    let c = case(world(), "").await;
    c.emu
        .with_world(|w| w.review("widgets", 7, "bob", "APPROVED", ""));
    let out = sopbot(&c.config, &["check", PR, "--post"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let head = c.emu.with_world(|w| w.head_sha("widgets", 7));
    let latest = |ctx: &str| {
        c.emu
            .with_world(|w| w.status("widgets", &head, ctx))
            .map(|s| (s.state.clone(), s.creator.clone()))
    };
    assert_eq!(
        latest("qa-review / approved"),
        Some(("success".into(), "sopbot".into()))
    );
    assert_eq!(latest("security-review / approved").unwrap().0, "failure");
    assert_eq!(
        latest("sop-checklist / na-declarations (pull_request)")
            .unwrap()
            .0,
        "success"
    );
    // Posting again changes nothing: no new status rows.
    let before = c.emu.with_world(|w| w.statuses("widgets", &head).len());
    sopbot(&c.config, &["check", PR, "--post"]).await;
    let after = c.emu.with_world(|w| w.statuses("widgets", &head).len());
    assert_eq!(before, after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_pr_is_an_error() {
    let c = case(world(), "").await;
    let out = sopbot(&c.config, &["check", "acme/widgets#99"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("404"), "{}", stderr(&out));
}
