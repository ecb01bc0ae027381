//! Issue 10, the "official approval" trap, against the emulator (`check` and `doctor` as the
//! real binary, the bot in-process). Gitea counts a review as official only when, at
//! submission, the reviewer had write access to the code (or was in the branch rule's approvals
//! whitelist when the rule has one), and never recomputes it. sopbot counts only official
//! approvals by default, so a gate team without write access never opens a gate: `check`, the
//! gate's status and the reply must say who approved and how to fix it; `require_official =
//! false` trades that rule away.

use crate::support as common;

use std::path::PathBuf;

use common::tester::{Tester, REPO};
use common::{config_text, sopbot, stderr, stdout, write_config};
use gitea_emu::{Emulator, World};
use serde_json::Value;

const PR: &str = "acme/widgets#7";
const SECURITY: &str = "security-review / approved";

/// What the gate says when carol, in team security, approved without an official review.
const NOT_OFFICIAL: &str = "@carol's approval is not official: give team security write access to code, or add it to the approvals whitelist; then @carol approves again";

/// The example world (alice's PR #7; bob in qa, carol in security) and dave in no team.
fn world() -> World {
    World::example().with_user("dave")
}

/// The security gate of the common config with `require_official = false`.
const LAX_SECURITY: &str = "waivable_by = [\"security\", \"managers\"]\nrequire_official = false\n";

fn lax(config: String) -> String {
    let text = config.replace("waivable_by = [\"security\", \"managers\"]\n", LAX_SECURITY);
    assert!(text.contains("require_official = false"));
    text
}

/// `sopbot check` on PR #7 against `world`, with the config changed by `edit`.
struct Check {
    _dir: tempfile::TempDir,
    config: PathBuf,
    emu: Emulator,
}

impl Check {
    async fn start(world: World, edit: fn(String) -> String) -> Check {
        let emu = Emulator::start(world).await;
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(dir.path(), &edit(config_text(&emu, "")));
        Check {
            _dir: dir,
            config,
            emu,
        }
    }

    async fn json(&self) -> Value {
        let out = sopbot(&self.config, &["check", PR, "--json"]).await;
        assert_ne!(out.status.code(), Some(2), "check: {}", stderr(&out));
        serde_json::from_str(&stdout(&out)).unwrap()
    }

    async fn human(&self) -> String {
        stdout(&sopbot(&self.config, &["check", PR]).await)
    }
}

fn gate<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["gate"] == name)
        .unwrap_or_else(|| panic!("no gate {name} in {v}"))
}

/// The bot in-process on `world`, webhooks only.
async fn serve(world: World) -> Tester {
    Tester::setup_in(world).start().await
}

/// `user` comments on PR #7, Gitea delivers the webhook; returns the bot's reply.
async fn say(t: &Tester, user: &str, body: &str) -> String {
    let id = t.comment(user, body).await;
    t.expect_reply(id).await
}

// ----- the explanation ----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_the_member_whose_approval_is_not_official_and_the_fix() {
    let c = Check::start(world().with_unofficial("carol"), |t| t).await;
    c.emu
        .with_world(|w| w.review(REPO, 7, "carol", "APPROVED", ""));
    let v = c.json().await;
    let sec = gate(&v, "security");
    assert_eq!(sec["state"], "failure", "{sec}");
    assert_eq!(sec["description"], NOT_OFFICIAL);
    assert_eq!(sec["approved_by"], Value::Null);
    assert_eq!(sec["candidates"][0]["login"], "carol");
    assert_eq!(sec["candidates"][0]["membership"], "member");
    assert_eq!(sec["candidates"][0]["official"], false);

    let text = c.human().await;
    assert!(text.contains(NOT_OFFICIAL), "{text}");
    assert!(
        text.contains("@carol approved: member of the team, but the approval is not official"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_and_the_reply_name_the_reviewer_and_the_fix() {
    let s = serve(world().with_unofficial("carol")).await;
    s.approve("carol").await;
    s.expect_status_is(SECURITY, "failure", NOT_OFFICIAL).await;

    let reply = say(&s, "dave", "/refire").await;
    assert!(
        reply.contains(&format!("| security | ❌ failure | {NOT_OFFICIAL} |")),
        "{reply}"
    );
    assert!(
        reply.contains("`security`: @carol is in the gate's team, but Gitea did not mark the approval official"),
        "{reply}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outsiders_unofficial_approval_is_explained_as_an_outsider() {
    let c = Check::start(world().with_unofficial("dave"), |t| t).await;
    c.emu
        .with_world(|w| w.review(REPO, 7, "dave", "APPROVED", ""));
    let sec = gate(&c.json().await, "security").clone();
    assert_eq!(
        sec["description"],
        "awaiting an approval from a member of team security (@dave is not in it)"
    );
}

// ----- require_official = false -------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_require_official_a_members_unofficial_approval_opens_only_that_gate() {
    let c = Check::start(world().with_unofficial("carol").with_unofficial("bob"), lax).await;
    c.emu.with_world(|w| {
        w.review(REPO, 7, "carol", "APPROVED", "");
        w.review(REPO, 7, "bob", "APPROVED", "");
    });
    let v = c.json().await;
    let sec = gate(&v, "security");
    assert_eq!(sec["state"], "success", "{sec}");
    assert_eq!(sec["approved_by"], "carol");
    assert_eq!(sec["candidates"][0]["official"], false);
    // qa still requires official approvals.
    assert_eq!(gate(&v, "qa")["state"], "failure");
}

// ----- a read-only gate team, as Gitea creates it -------------------------------------------

/// The example world with team security left at Gitea's default, read.
fn read_only_security() -> World {
    world().with_team_permission("security", "read")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_gate_team_is_explained_in_check_the_status_and_the_reply() {
    let c = Check::start(read_only_security(), |t| t).await;
    c.emu
        .with_world(|w| w.review(REPO, 7, "carol", "APPROVED", ""));
    let v = c.json().await;
    assert_eq!(gate(&v, "security")["description"], NOT_OFFICIAL);
    assert_eq!(gate(&v, "security")["candidates"][0]["official"], false);

    // A manual clock (a second per event): the second approval's webhook differs in time.
    let s = serve(read_only_security().with_clock(chrono::Utc::now())).await;
    s.approve("carol").await;
    s.expect_status_is(SECURITY, "failure", NOT_OFFICIAL).await;
    let reply = say(&s, "dave", "/refire security").await;
    assert!(reply.contains(NOT_OFFICIAL), "{reply}");

    // The admin gives security write access: Gitea does not recompute the old approval, so the
    // gate stays shut until carol approves again.
    s.world(|w| w.set_team_permission("security", "write"));
    let reply = say(&s, "dave", "/refire security").await;
    assert!(reply.contains(NOT_OFFICIAL), "{reply}");
    s.approve("carol").await;
    s.expect_status_is(SECURITY, "success", "approved by @carol (team security)")
        .await;
}

// ----- a review requested again -------------------------------------------------------------

/// What the gate says when carol's approval lost `official` to a new request for her review.
const CLEARED: &str =
    "@carol's approval was cleared by a new review request; @carol approves again";

/// Gitea's `AddReviewRequest` (`models/issues/review.go` @ v1.25.4) clears `official` on an
/// official reviewer's earlier reviews: the team has write access, so the advice is to approve
/// again, not to change access; the request's webhook re-evaluates at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_cleared_by_a_review_request_asks_for_a_new_approval() {
    let s = serve(world().with_clock(chrono::Utc::now())).await;
    s.approve("carol").await;
    s.expect_status_is(SECURITY, "success", "approved by @carol (team security)")
        .await;

    let hook = s.world(|w| {
        w.request_review(REPO, 7, "carol");
        w.webhook_for_review_request(REPO, 7, "alice", "carol", false)
    });
    s.deliver(&hook).await;
    s.expect_status_is(SECURITY, "failure", CLEARED).await;

    let reply = say(&s, "dave", "/refire security").await;
    assert!(
        reply.contains(&format!("| security | ❌ failure | {CLEARED} |")),
        "{reply}"
    );
    assert!(
        reply.contains("`security`: @carol's approval is no longer official: Gitea clears that flag on a reviewer's earlier reviews when their review is requested again. The access is fine: @carol approves again"),
        "{reply}"
    );
    assert!(!reply.contains("write access"), "{reply}");

    s.approve("carol").await;
    s.expect_status_is(SECURITY, "success", "approved by @carol (team security)")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_says_an_approval_was_cleared_by_a_review_request() {
    let c = Check::start(world(), |t| t).await;
    c.emu.with_world(|w| {
        w.review(REPO, 7, "carol", "APPROVED", "");
        w.request_review(REPO, 7, "carol");
    });
    let v = c.json().await;
    let sec = gate(&v, "security");
    assert_eq!(sec["description"], CLEARED, "{sec}");
    assert_eq!(sec["candidates"][0]["re_requested"], true, "{sec}");
    let text = c.human().await;
    assert!(
        text.contains("@carol approved: member of the team; the approval was cleared by a new review request (access is fine: approve again)"),
        "{text}"
    );
}

async fn doctor(world: World) -> (Option<i32>, String) {
    let c = Check::start(world, |t| t).await;
    let out = sopbot(&c.config, &["doctor"]).await;
    (out.status.code(), stdout(&out) + &stderr(&out))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_says_a_read_only_gate_team_cannot_approve_officially_and_how_to_fix_it() {
    // The bot is no repo admin: the branch rule is unreadable, so a warning that names the fix.
    let (_, text) = doctor(read_only_security()).await;
    assert!(
        text.contains("gate security: team security's approvals on acme/widgets:main are not official unless the branch rule's approvals whitelist names it"),
        "{text}"
    );
    assert!(
        text.contains("give team security write access to code"),
        "{text}"
    );
    assert!(
        text.contains(
            "gate qa: team qa's approvals on acme/widgets:main are official (team writes code)"
        ),
        "{text}"
    );

    // As repo admin the bot reads the rule: read-only is a failure, the whitelist decides.
    let admin = || read_only_security().with_org_owner("sopbot");
    let (code, text) = doctor(admin()).await;
    assert_ne!(code, Some(0), "{text}");
    assert!(
        text.contains("team security has only read access to code"),
        "{text}"
    );
    let w = admin().with_approvals_whitelist(REPO, "main", &[], &["security"]);
    let (_, text) = doctor(w).await;
    assert!(
        text.contains("gate security: team security's approvals on acme/widgets:main are official (approvals whitelist)"),
        "{text}"
    );
    assert!(
        text.contains("gate qa: team qa's approvals on acme/widgets:main are not official: the branch rule's approvals whitelist does not name team qa"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_skips_the_official_check_for_a_gate_that_does_not_require_it() {
    let c = Check::start(read_only_security(), lax).await;
    let text = stdout(&sopbot(&c.config, &["doctor"]).await);
    assert!(!text.contains("gate security: team security"), "{text}");
    assert!(text.contains("gate qa: team qa's approvals"), "{text}");
}
