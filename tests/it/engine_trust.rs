//! End to end, the bot in-process over the emulator (tests/it/support/tester.rs): the trust
//! fixes of the engine — one head commit shared by several PRs, out-of-order PR deliveries,
//! logins in any case, edited comments, a fresh `/refire` every time, and the commands of a
//! comment run in order. Each test checks what people see: statuses on the commit, replies,
//! `sopbot waivers list --json` and `sopbot audit --json`.

use crate::support as common;

use common::serve::wait_for;
use common::tester::{Setup, Tester, REPO, WAIT};
use gitea_emu::{Delivery, World};
use serde_json::Value;

const QA: &str = "qa-review / approved";
const SECURITY: &str = "security-review / approved";
const NA: &str = "sop-checklist / na-declarations (pull_request)";
/// The head branch of alice's PR #7 in the example world.
const HEAD_BRANCH: &str = "feature/rate-limiter";

/// The example world (alice's PR #7 into main; bob in qa, carol in security), dave in no team,
/// mia in `managers` (may waive every gate), and two more bases: `release` (protected, gated)
/// and `sandbox` (not gated).
fn world() -> World {
    World::example()
        .with_user("dave")
        .with_team("managers", &["mia", "sopbot"])
        .with_branch(REPO, "release", true)
        .with_branch(REPO, "sandbox", false)
}

/// `world` with `main` and `release` gated, a sweep every second and no membership cache (what
/// the catch-up tests need to see within seconds), the poller every `poll_secs` (0: off), and
/// `extra` after the gates.
fn setup_in(world: World, poll_secs: u64, extra: &'static str) -> Setup {
    Tester::setup_in(world).config(move |c| {
        c.branches(&["main", "release"])
            .gitea("membership_cache_ttl = 0\n")
            .poll(poll_secs, "sweep_interval = \"1s\"\n")
            .extra(extra)
    })
}

async fn start(world: World, extra: &'static str) -> Tester {
    setup_in(world, 0, extra).start().await
}

/// Restarts the bot with the poller on (every second).
async fn restart_polling(c: &mut Tester) {
    c.restart_with(|text| text.replace("interval_secs = 0\n", "interval_secs = 1\n"))
        .await;
}

/// alice opens another PR from PR #7's branch: same head commit.
fn open_sibling(c: &Tester, base: &str) -> u64 {
    c.world(|w| w.open_pr_from_branch(REPO, "alice", base, HEAD_BRANCH))
}

/// Active waivers (`sopbot waivers list --json`), as (pr, gate, declared_by).
async fn active_waivers(c: &Tester) -> Vec<(i64, String, String)> {
    c.waivers(false)
        .await
        .iter()
        .map(|w| {
            (
                w["pr"].as_i64().unwrap(),
                w["gate"].as_str().unwrap().to_string(),
                w["declared_by"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

// ----- one commit, several PRs --------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiver_on_a_second_pr_with_the_same_head_does_not_open_the_first() {
    let c = start(world(), "").await;
    let second = open_sibling(&c, "release");
    assert_eq!(c.world(|w| w.head_sha(REPO, second)), c.head());

    // mia waives everything on #8; #7 still waits for its reviews, and the commit says so.
    let id = c
        .comment_on(second, "mia", "/sop-n/a release backport, reviewed on #7")
        .await;
    let reply = c.expect_reply_on(second, id).await;
    assert!(
        reply.contains("| qa | ✅ success | waived by @mia"),
        "{reply}"
    );
    assert!(
        reply.contains("is also the head of #7: its statuses show the strictest verdict"),
        "{reply}"
    );
    assert!(
        reply.contains(
            "- `qa-review / approved` stays `failure`: `#7: awaiting an approval from a member of team qa`"
        ),
        "{reply}"
    );
    c.expect_status_is(
        QA,
        "failure",
        "#7: awaiting an approval from a member of team qa",
    )
    .await;
    c.expect_status_is(
        SECURITY,
        "failure",
        "#7: awaiting an approval from a member of team security",
    )
    .await;
    c.expect_status_is(NA, "success", "N/A: qa (#8 only), security (#8 only)")
        .await;

    // An approval on #7 re-evaluates both: qa passes on the commit, naming each PR's reason.
    c.approve_on(7, "bob").await;
    c.expect_status_is(
        QA,
        "success",
        "#7: approved by @bob (team qa); #8: waived by @mia: release backport, reviewed on #7",
    )
    .await;
    c.expect_status_is(
        SECURITY,
        "failure",
        "#7: awaiting an approval from a member of team security (@bob is not in it)",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_on_one_pr_does_not_pass_another_waiting_on_the_same_commit() {
    let c = start(world(), "").await;
    let second = open_sibling(&c, "release");
    c.approve_on(7, "bob").await;
    // #8 has no approval: the qa status on the shared commit waits for it.
    c.expect_status_is(
        QA,
        "failure",
        "#8: awaiting an approval from a member of team qa",
    )
    .await;
    c.expect_status_is(NA, "success", "no gates waived").await;
    // Both wait, each for its own reason.
    let both = "#7: awaiting an approval from a member of team security (@bob is not in it); \
                #8: awaiting an approval from a member of team security";
    c.expect_status_is(SECURITY, "failure", both).await;

    // Closing #8 leaves #7 alone on the commit: its own verdict, as before.
    let hook = c.world(|w| {
        w.close_pr(REPO, second, false);
        w.webhook_for_pr(REPO, second, "closed")
    });
    c.deliver(&hook).await;
    c.expect_status_is(QA, "success", "approved by @bob (team qa)")
        .await;
    c.expect_status_is(
        SECURITY,
        "failure",
        "awaiting an approval from a member of team security (@bob is not in it)",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pr_into_an_ungated_branch_does_not_weaken_the_gated_one() {
    let c = start(world(), "").await;
    let sandbox = open_sibling(&c, "sandbox");
    // A refire on the ungated PR evaluates #7 too; its verdict alone shows on the commit.
    let id = c.comment_on(sandbox, "alice", "/refire").await;
    let reply = c.expect_reply_on(sandbox, id).await;
    assert!(reply.contains("is also the head of #7"), "{reply}");
    c.expect_status_is(
        QA,
        "failure",
        "awaiting an approval from a member of team qa",
    )
    .await;
    c.approve_on(7, "bob").await;
    c.expect_status_is(QA, "success", "approved by @bob (team qa)")
        .await;
    c.expect_status_is(NA, "success", "no gates waived").await;
}

// ----- out-of-order deliveries ----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_delivery_handled_after_the_reopen_still_ends_the_waivers() {
    let c = start(world(), "").await;
    let id = c
        .comment_on(7, "carol", "/sop-n/a security docs only")
        .await;
    c.expect_reply_on(7, id).await;
    c.expect_status_is(SECURITY, "success", "waived by @carol: docs only")
        .await;
    // Closed, then reopened; Gitea's deliveries arrive the other way round.
    let closed = c.world(|w| {
        w.close_pr(REPO, 7, false);
        w.webhook_for_pr(REPO, 7, "closed")
    });
    let reopened = c.world(|w| {
        w.reopen_pr(REPO, 7);
        w.webhook_for_pr(REPO, 7, "reopened")
    });
    c.deliver(&reopened).await;
    c.deliver(&closed).await;
    c.barrier_on(7).await;
    // It was closed: the waiver ended, whatever order the news came in, and the PR (open now)
    // waits for its review again.
    assert!(active_waivers(&c).await.is_empty());
    c.expect_status_is(
        SECURITY,
        "failure",
        "awaiting an approval from a member of team security",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_closed_delivery_still_ends_the_waivers_at_the_reopen() {
    let c = start(world(), "").await;
    let id = c
        .comment_on(7, "carol", "/sop-n/a security docs only")
        .await;
    c.expect_reply_on(7, id).await;
    c.expect_status_is(SECURITY, "success", "waived by @carol: docs only")
        .await;
    let reopened = c.world(|w| {
        w.close_pr(REPO, 7, false);
        w.reopen_pr(REPO, 7);
        w.webhook_for_pr(REPO, 7, "reopened")
    });
    c.deliver(&reopened).await;
    c.expect_status_is(
        SECURITY,
        "failure",
        "awaiting an approval from a member of team security",
    )
    .await;
    assert!(active_waivers(&c).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_delivery_expires_the_waivers_and_a_later_reopen_fails_the_gate() {
    let c = start(world(), "").await;
    let id = c
        .comment_on(7, "carol", "/sop-n/a security docs only")
        .await;
    c.expect_reply_on(7, id).await;
    let closed = c.world(|w| {
        w.close_pr(REPO, 7, false);
        w.webhook_for_pr(REPO, 7, "closed")
    });
    c.deliver(&closed).await;
    c.barrier_on(7).await;
    assert!(active_waivers(&c).await.is_empty());
    let reopened = c.world(|w| {
        w.reopen_pr(REPO, 7);
        w.webhook_for_pr(REPO, 7, "reopened")
    });
    c.deliver(&reopened).await;
    c.expect_status_is(
        SECURITY,
        "failure",
        "awaiting an approval from a member of team security",
    )
    .await;
}

// ----- logins in any case -------------------------------------------------------------------

/// The delivery with the logins at these JSON pointers set to `login`, as a Gitea that spells
/// an account's login in another case would send it.
fn with_logins(d: &Delivery, pointers: &[&str], login: &str) -> Delivery {
    let mut v: Value = serde_json::from_slice(&d.body).unwrap();
    for p in pointers {
        *v.pointer_mut(p).unwrap_or_else(|| panic!("no {p}")) = Value::from(login);
    }
    Delivery::new(&d.event, &d.event_type, serde_json::to_vec(&v).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_author_spelled_in_another_case_still_cannot_waive_her_pr() {
    // alice is a manager, so only the author rule stands between her and a waiver.
    let c = start(
        world().with_team("managers", &["mia", "alice", "sopbot"]),
        "",
    )
    .await;
    let id = c.world(|w| w.comment(REPO, 7, "alice", "/sop-n/a qa trust me"));
    let hook = c.world(|w| w.webhook_for_comment(REPO, 7, id, "created"));
    let hook = with_logins(&hook, &["/comment/user/login", "/sender/login"], "ALICE");
    c.deliver(&hook).await;
    let reply = c.expect_reply_on(7, id).await;
    assert!(reply.contains("**not waived**"), "{reply}");
    assert!(
        reply.contains("can never waive a gate on their own PR"),
        "{reply}"
    );
    assert!(active_waivers(&c).await.is_empty());
    c.expect_status_is(
        QA,
        "failure",
        "awaiting an approval from a member of team qa",
    )
    .await;
    let refused = c.cli_json(&["audit"]).await;
    assert!(
        refused
            .iter()
            .any(|a| a["action"] == "waiver.refused" && a["actor"] == "ALICE"),
        "{refused:#?}"
    );
}

// ----- /refire is fresh -----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refire_right_after_another_sees_a_member_removed_meanwhile() {
    let c = start(world(), "").await;
    c.world(|w| w.review(REPO, 7, "bob", "APPROVED", "lgtm"));
    let first = c.comment_on(7, "alice", "/refire qa").await;
    let reply = c.expect_reply_on(7, first).await;
    assert!(
        reply.contains("| qa | ✅ success | approved by @bob (team qa) |"),
        "{reply}"
    );
    // bob leaves qa; alice asks again at once (no webhook tells the bot).
    c.world(|w| {
        let qa = w.team_id("qa");
        w.remove_team_member(qa, "bob")
    });
    let second = c.comment_on(7, "alice", "/refire qa").await;
    let reply = c.expect_reply_on(7, second).await;
    assert!(
        reply.contains("| qa | ❌ failure | awaiting an approval from a member of team qa (@bob is not in it) |"),
        "{reply}"
    );
    c.expect_status_is(
        QA,
        "failure",
        "awaiting an approval from a member of team qa (@bob is not in it)",
    )
    .await;
}

// ----- typos, lost webhooks, team removals ---------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gate_typo_in_a_waiver_is_refused_and_waives_nothing() {
    let c = start(world(), "").await;
    let id = c.comment_on(7, "mia", "/sop-n/a qs docs only").await;
    let reply = c.expect_reply_on(7, id).await;
    assert!(reply.contains("did you mean `qa`?"), "{reply}");
    assert!(!reply.contains("waived `"), "{reply}");
    // Full-width and Cyrillic look-alikes are refused the same way.
    for typo in ["\u{ff51}\u{ff41}", "q\u{0430}"] {
        let id = c
            .comment_on(7, "mia", &format!("/sop-n/a {typo} docs only"))
            .await;
        let reply = c.expect_reply_on(7, id).await;
        assert!(reply.contains("did you mean `qa`?"), "{typo}: {reply}");
    }
    assert!(active_waivers(&c).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiver_the_poller_finds_after_a_later_revoke_was_handled_is_refused() {
    let mut c = start(world(), "").await;
    // mia's waiver: its webhook is lost. Her revoke, posted after it, is delivered.
    let lost = c.world(|w| w.comment(REPO, 7, "mia", "/sop-n/a qa docs only"));
    let id = c.comment_on(7, "mia", "/sop-revoke qa").await;
    let reply = c.expect_reply_on(7, id).await;
    assert!(reply.contains("no active waiver"), "{reply}");
    // The bot starts polling (a restart with the poller on): it finds the lost comment.
    restart_polling(&mut c).await;
    // The poller finds the lost comment: in thread order it was revoked, so it waives nothing.
    let reply = c.expect_reply_on(7, lost).await;
    assert!(
        reply.contains("**not waived**: this comment reached sopbot only after later comments"),
        "{reply}"
    );
    assert!(active_waivers(&c).await.is_empty());
    c.expect_status_is(
        QA,
        "failure",
        "awaiting an approval from a member of team qa",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_by_someone_who_left_the_team_stops_counting_at_the_next_sweep() {
    let c = setup_in(world(), 1, "").start().await;
    c.approve_on(7, "bob").await;
    c.expect_status_is(QA, "success", "approved by @bob (team qa)")
        .await;
    // Gitea sends no webhook when bob leaves qa: the sweep finds it.
    c.world(|w| {
        let qa = w.team_id("qa");
        w.remove_team_member(qa, "bob")
    });
    c.expect_status_is(
        QA,
        "failure",
        "awaiting an approval from a member of team qa (@bob is not in it)",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quick_edit_of_a_managers_comment_found_by_the_poller_waives_nothing() {
    let mut c = start(world(), "").await;
    let id = c.comment_on(7, "mia", "thanks, having a look").await;
    // alice edits it within the second (Gitea's `updated` is the creation time); the edit's
    // webhook (sender alice) is ignored, as edits are by default.
    c.world(|w| w.edit_comment(REPO, id, "/sop-n/a qa, security all fine"));
    let hook = c.world(|w| w.webhook_for_comment(REPO, 7, id, "edited"));
    c.deliver(&with_logins(&hook, &["/sender/login"], "alice"))
        .await;
    c.barrier_on(7).await;
    // The poller lists the comment: seen before with another body, so it is an edit, not mia's.
    restart_polling(&mut c).await;
    let listings = || {
        c.emu
            .calls()
            .iter()
            .filter(|x| {
                x.method == "GET" && x.path.ends_with("/repos/acme/widgets/issues/comments")
            })
            .count()
    };
    // Two listings: the first pass ran to its end.
    wait_for(
        "two poll passes",
        WAIT,
        || c.log(),
        || (listings() >= 2).then_some(()),
    )
    .await;
    c.barrier_on(7).await;
    assert!(c.cli_json(&["waivers", "list", "--all"]).await.is_empty());
    c.expect_status_is(
        QA,
        "failure",
        "awaiting an approval from a member of team qa",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_delivered_before_its_comment_leaves_no_waiver() {
    let c = start(world(), "").await;
    let (created, deleted) = c.world(|w| {
        let id = w.comment(REPO, 7, "mia", "/sop-n/a qa docs only");
        let created = w.webhook_for_comment(REPO, 7, id, "created");
        w.delete_comment(REPO, id);
        (created, w.webhook_for_comment(REPO, 7, id, "deleted"))
    });
    c.deliver(&deleted).await;
    c.deliver(&created).await;
    let id = c.comment_on(7, "dave", "/refire").await;
    c.expect_reply_on(7, id).await;
    assert!(c.cli_json(&["waivers", "list", "--all"]).await.is_empty());
    c.expect_status_is(
        QA,
        "failure",
        "awaiting an approval from a member of team qa",
    )
    .await;
}

// ----- commands run in order ----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiver_revoked_later_in_the_same_comment_is_not_active() {
    let c = start(world(), "").await;
    let id = c
        .comment_on(
            7,
            "carol",
            "/sop-n/a security docs only\n/sop-revoke security",
        )
        .await;
    let reply = c.expect_reply_on(7, id).await;
    assert!(
        reply.contains("- line 1, `/sop-n/a`: waived `security`"),
        "{reply}"
    );
    assert!(
        reply.contains(
            "- line 2, `/sop-revoke`: revoked the waiver of `security` declared earlier in this comment"
        ),
        "{reply}"
    );
    assert!(reply.contains("| security | ❌ failure |"), "{reply}");
    assert!(active_waivers(&c).await.is_empty());
    let all = c.cli_json(&["waivers", "list", "--all"]).await;
    assert_eq!(all.len(), 1, "recorded, and revoked: {all:#?}");
    assert_eq!(all[0]["revoked_by"], "carol");
    c.expect_status_is(
        SECURITY,
        "failure",
        "awaiting an approval from a member of team security",
    )
    .await;
    c.expect_status_is(NA, "success", "no gates waived").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoke_then_a_waiver_in_one_comment_replaces_the_waiver() {
    let c = start(world(), "").await;
    let first = c
        .comment_on(7, "carol", "/sop-n/a security docs only")
        .await;
    c.expect_reply_on(7, first).await;
    let id = c
        .comment_on(
            7,
            "carol",
            "/sop-revoke security\n/sop-n/a security docs and config only",
        )
        .await;
    let reply = c.expect_reply_on(7, id).await;
    assert!(
        reply.contains("- line 1, `/sop-revoke`: revoked waiver #1 of `security`"),
        "{reply}"
    );
    assert!(
        reply.contains("- line 2, `/sop-n/a`: waived `security`"),
        "{reply}"
    );
    let active = c.cli_json(&["waivers", "list"]).await;
    assert_eq!(active.len(), 1, "{active:#?}");
    assert_eq!(active[0]["reason"], "docs and config only");
    assert_eq!(active[0]["comment_id"], id);
    c.expect_status_is(
        SECURITY,
        "success",
        "waived by @carol: docs and config only",
    )
    .await;
    c.expect_status_is(NA, "success", "N/A: security").await;
}

// ----- edits are the editor's ---------------------------------------------------------------

const EDITS_ON: &str = "[evaluation]\nhandle_edited_comments = true\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_author_editing_a_managers_comment_into_a_waiver_is_ignored_and_audited() {
    let c = start(world(), EDITS_ON).await;
    let id = c.comment_on(7, "mia", "thanks, having a look").await;
    // alice (the author, with write access) edits mia's comment; Gitea's sender is alice.
    c.world(|w| w.edit_comment(REPO, id, "/sop-n/a qa, security all fine"));
    let hook = c.world(|w| w.webhook_for_comment(REPO, 7, id, "edited"));
    c.deliver(&with_logins(&hook, &["/sender/login"], "alice"))
        .await;
    c.barrier_on(7).await;
    let marker = format!("<!-- sopbot:reply-to:{id} -->");
    let replied = c
        .world(|w| w.comments(REPO, 7))
        .iter()
        .any(|c| c.body.starts_with(&marker));
    assert!(!replied, "no reply to the edit");
    assert!(c.cli_json(&["waivers", "list", "--all"]).await.is_empty());
    let audit = c.cli_json(&["audit"]).await;
    let ignored: Vec<&Value> = audit
        .iter()
        .filter(|a| a["action"] == "comment.edit_ignored")
        .collect();
    assert_eq!(ignored.len(), 1, "{audit:#?}");
    assert_eq!(ignored[0]["actor"], "alice");
    assert_eq!(
        ignored[0]["detail"],
        format!("@alice edited comment {id} by @mia; the edit was not acted on")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_editing_her_own_comment_into_a_waiver_is_acted_on() {
    let c = start(world(), EDITS_ON).await;
    let id = c.comment_on(7, "mia", "thanks, having a look").await;
    c.world(|w| w.edit_comment(REPO, id, "/sop-n/a security docs only"));
    let hook = c.world(|w| w.webhook_for_comment(REPO, 7, id, "edited"));
    c.deliver(&hook).await;
    let reply = c.expect_reply_on(7, id).await;
    assert!(reply.contains("waived `security`"), "{reply}");
    assert_eq!(
        active_waivers(&c).await,
        [(7, "security".to_string(), "mia".to_string())]
    );
}

// ----- review requests and commit statuses, acted on at once ----------------------------------

/// The calls the emulator saw of `method` whose path ends with `suffix`.
fn calls_to(c: &Tester, method: &str, suffix: &str) -> usize {
    c.emu
        .calls()
        .iter()
        .filter(|x| x.method == method && x.path.ends_with(suffix))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_posted_success_is_overturned_at_once_by_the_status_webhook() {
    // The poller is off: only the status webhook can catch it.
    let c = start(world(), "").await;
    let awaiting = "awaiting an approval from a member of team qa";
    c.deliver(&c.world(|w| w.webhook_for_pr(REPO, 7, "opened")))
        .await;
    c.expect_status_is(QA, "failure", awaiting).await;
    let head = c.head();
    c.emu.clear_calls();

    // alice, the author, posts `success` on the qa gate; Gitea 1.23+ sends the status webhook.
    let hook = c.world(|w| {
        let s = w.post_status(REPO, &head, "alice", "success", QA, "trust me", "");
        w.webhook_for_status(REPO, &head, s.id)
    });
    c.deliver(&hook).await;
    let ours = c.expect_status_is(QA, "failure", awaiting).await;
    let note = wait_for(
        "the guard's note on the PR",
        WAIT,
        || c.log(),
        || {
            c.world(|w| w.comments(REPO, 7)).into_iter().find(|x| {
                x.user.as_deref() == Some("sopbot") && x.body.contains("posted `success` on")
            })
        },
    )
    .await;
    assert!(
        note.body.contains(
            "@alice posted `success` on `qa-review / approved` by hand. Only sopbot decides this status: its verdict (`failure`) has been posted on top"
        ),
        "{}",
        note.body
    );
    let audit = c.cli_json(&["audit"]).await;
    let guard: Vec<&Value> = audit
        .iter()
        .filter(|a| a["action"] == "status.guard")
        .collect();
    assert_eq!(guard.len(), 1, "{audit:#?}");
    assert_eq!(guard[0]["actor"], "alice");
    assert!(guard[0]["detail"].as_str().unwrap().contains(QA));

    // Gitea sends the webhook of sopbot's own re-post too: ignored, so nothing loops. A
    // redelivery of alice's status is the same event, not a second one.
    let own = c.world(|w| w.webhook_for_status(REPO, &head, ours.id));
    assert_eq!(
        c.bot.deliver(&own).await,
        (200, "ignored: status posted by the bot itself".into())
    );
    let mut again = hook.clone();
    again.delivery_id = gitea_emu::webhook::uuid_v4();
    assert_eq!(c.bot.deliver(&again).await, (202, "duplicate".into()));
    // A sweep-free barrier: an event of PR #7 answered after all of the above.
    c.barrier_on(7).await;
    let statuses = format!("/statuses/{head}");
    assert_eq!(calls_to(&c, "POST", &statuses), 1, "one re-post");
    let notes = c
        .world(|w| w.comments(REPO, 7))
        .into_iter()
        .filter(|x| x.user.as_deref() == Some("sopbot") && x.body.contains("by hand"))
        .count();
    assert_eq!(notes, 1, "the PR is told once");
    let total = c.emu.calls().len();
    assert!(total < 40, "bounded: {total} calls\n{:#?}", c.emu.calls());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_on_another_context_or_commit_changes_nothing() {
    // The real binary: only its log tells that the stray status event was handled.
    let c = setup_in(world(), 0, "").process().start().await;
    let head = c.head();
    // CI's status: not sopbot's context, answered at once, never queued.
    let ci = c.world(|w| {
        let s = w.post_status(REPO, &head, "alice", "success", "ci/build", "", "");
        w.webhook_for_status(REPO, &head, s.id)
    });
    let (code, text) = c.bot.deliver(&ci).await;
    assert_eq!(
        (code, text.as_str()),
        (200, "ignored: status on a context that is not sopbot's")
    );
    // A gate context on a commit that is no open PR's head: queued, handled, nothing posted.
    let old = "0123456789abcdef0123456789abcdef01234567";
    let stray = c.world(|w| {
        let s = w.post_status(REPO, old, "alice", "success", QA, "", "");
        w.webhook_for_status(REPO, old, s.id)
    });
    c.deliver(&stray).await;
    wait_for(
        "the status event handled",
        WAIT,
        || c.log(),
        || c.log().contains("no open PR's head").then_some(()),
    )
    .await;
    assert_eq!(calls_to(&c, "POST", &format!("/statuses/{old}")), 0);
    assert_eq!(calls_to(&c, "POST", &format!("/statuses/{head}")), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_review_request_webhook_re_evaluates_the_pr() {
    let c = start(world(), "").await;
    // bob's approval reached Gitea but its webhook was lost (the poller is off).
    c.world(|w| w.review(REPO, 7, "bob", "APPROVED", "lgtm"));
    // alice then asks carol for a review: that delivery re-evaluates the PR.
    let hook = c.world(|w| {
        w.request_review(REPO, 7, "carol");
        w.webhook_for_review_request(REPO, 7, "alice", "carol", false)
    });
    c.deliver(&hook).await;
    c.expect_status_is(QA, "success", "approved by @bob (team qa)")
        .await;
}
