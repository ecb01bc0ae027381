//! The waiver lifecycle (`[waiver] invalidate_on_push`, `max_age`,
//! `require_declarer_membership`), `sopbot waivers list`'s filters, and holds (`/sop-hold`,
//! `/sop-unhold`), end to end: signed deliveries into the in-process bot against the emulator,
//! checked by what people see — statuses, replies, comments — and by `waivers list` and `audit`.

use crate::support::tester::{Tester, PR, REPO};

use serde_json::Value;

const SECURITY: &str = "security-review / approved";
const HOLD: &str = "sop / hold";

/// carol waives `security`, and the gate shows it.
async fn carol_waives_security(c: &Tester) {
    let id = c.comment("carol", "/sop-n/a security docs only").await;
    c.expect_reply(id).await;
    c.expect_status(SECURITY, "success", "waived by @carol: docs only")
        .await;
}

/// The bot's comments on the PR that are not replies (no reply marker).
fn notes(c: &Tester) -> Vec<String> {
    c.world(|w| w.comments(REPO, PR))
        .into_iter()
        .filter(|x| x.user.as_deref() == Some("sopbot") && !x.body.starts_with("<!-- sopbot:"))
        .map(|x| x.body)
        .collect()
}

/// `sopbot waivers list ARGS… --json`.
async fn list(c: &Tester, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["waivers", "list"];
    all.extend_from_slice(args);
    c.cli_json(&all).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_invalidate_on_push_always_a_push_ends_the_waiver_with_a_comment_and_an_audit_row() {
    let c = Tester::setup()
        .config(|c| c.extra("[waiver]\ninvalidate_on_push = \"always\"\n"))
        .start()
        .await;
    carol_waives_security(&c).await;
    let head = c.push().await;
    c.expect_status(SECURITY, "failure", "awaiting an approval")
        .await;
    let said = c
        .eventually("the comment saying the waiver ended", || async {
            notes(&c).into_iter().find(|n| n.contains("ended"))
        })
        .await;
    let short = &head[..7];
    assert!(
        said.contains("@carol") && said.contains(&format!("push {short}")),
        "{said}"
    );
    let ended = c.audit_of("waiver.ended").await;
    assert_eq!(ended.len(), 1, "{ended:#?}");
    assert_eq!(ended[0]["actor"], "sopbot");
    assert_eq!(ended[0]["gate"], "security");
    assert!(
        ended[0]["detail"]
            .as_str()
            .unwrap()
            .starts_with(&format!("push {short}")),
        "{}",
        ended[0]
    );
    let all = list(&c, &["--all"]).await;
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0]["ended"], "pushed");
    assert_eq!(all[0]["revoked_by"], "sopbot");
    assert!(list(&c, &[]).await.is_empty(), "no active waiver left");
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_keeps_a_waiver_across_pushes() {
    let c = Tester::start().await;
    carol_waives_security(&c).await;
    c.push().await;
    c.expect_status(SECURITY, "success", "waived by @carol")
        .await;
    c.barrier().await;
    assert!(c.audit_of("waiver.ended").await.is_empty());
    assert_eq!(list(&c, &[]).await.len(), 1);
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_of_the_base_keeps_the_waiver_and_a_push_whose_webhook_was_lost_ends_it() {
    let c = Tester::setup()
        .config(|c| c.extra("[waiver]\ninvalidate_on_push = \"unless-merge-from-base\"\n"))
        .start()
        .await;
    carol_waives_security(&c).await;
    // main moves on, and alice merges it into her branch ("update branch"): the waiver stands.
    c.world(|w| w.advance_branch(REPO, "main"));
    let merged = c.world(|w| w.merge_base_into(REPO, PR));
    let hook = c.world(|w| w.webhook_for_pr(REPO, PR, "synchronized"));
    c.deliver(&hook).await;
    c.expect_status_on(&merged, SECURITY, "success", "waived by @carol")
        .await;
    assert!(c.audit_of("waiver.ended").await.is_empty());
    // Then she pushes a change and Gitea's webhook is lost: the next evaluation (a /refire
    // here; the poller's sweep otherwise) sees the new head, and the reply says why it ended.
    let head = c.world(|w| w.push(REPO, PR));
    let id = c.comment("dave", "/refire security").await;
    let reply = c.expect_reply(id).await;
    assert!(
        reply.contains("ended") && reply.contains(&format!("push {}", &head[..7])),
        "{reply}"
    );
    c.expect_status_on(&head, SECURITY, "failure", "awaiting an approval")
        .await;
    let ended = c.audit_of("waiver.ended").await;
    assert_eq!(ended.len(), 1, "{ended:#?}");
    // Ended once: no second comment or row on the next evaluation.
    c.barrier().await;
    assert_eq!(c.audit_of("waiver.ended").await.len(), 1);
    assert!(
        notes(&c).is_empty(),
        "said in the reply, not again: {:#?}",
        notes(&c)
    );
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_commit_that_does_not_merge_the_base_ends_the_waiver() {
    let c = Tester::setup()
        .config(|c| c.extra("[waiver]\ninvalidate_on_push = \"unless-merge-from-base\"\n"))
        .start()
        .await;
    carol_waives_security(&c).await;
    // A merge whose other parent is not on main (another feature branch): a change.
    let head = c.world(|w| {
        let old = w.head_sha(REPO, PR);
        let other = w.advance_branch(REPO, "main");
        let sha = w.merge_base_into(REPO, PR);
        // Rewrite the merged parent to a commit that is not main's.
        w.set_commit_parents(&sha, &[old, format!("{other}0")]);
        sha
    });
    let hook = c.world(|w| w.webhook_for_pr(REPO, PR, "synchronized"));
    c.deliver(&hook).await;
    c.expect_status_on(&head, SECURITY, "failure", "awaiting an approval")
        .await;
    assert_eq!(c.audit_of("waiver.ended").await.len(), 1);
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiver_older_than_max_age_ends_at_the_sweep_without_any_event() {
    let c = Tester::setup()
        .config(|c| {
            c.poll(1, "sweep_interval = \"1s\"\n")
                .extra("[waiver]\nmax_age = \"3s\"\n")
        })
        .start()
        .await;
    carol_waives_security(&c).await;
    // Nobody does anything: the sweep evaluates the PR again and the waiver has expired.
    c.expect_status_on(&c.head(), SECURITY, "failure", "awaiting an approval")
        .await;
    let said = c
        .eventually("the comment saying the waiver expired", || async {
            notes(&c).into_iter().find(|n| n.contains("expired"))
        })
        .await;
    assert!(said.contains("@carol") && said.contains("3s"), "{said}");
    let all = list(&c, &["--all"]).await;
    assert_eq!(all[0]["ended"], "expired", "{all:#?}");
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declarer_who_left_the_team_loses_the_waiver_when_membership_is_required() {
    let c = Tester::setup()
        .config(|c| {
            c.gitea("membership_cache_ttl = 0\n")
                .extra("[waiver]\nrequire_declarer_membership = true\n")
        })
        .start()
        .await;
    carol_waives_security(&c).await;
    // Still a member: a /refire keeps it.
    let id = c.comment("dave", "/refire security").await;
    assert!(!c.expect_reply(id).await.contains("ended"));
    c.world(|w| {
        let security = w.team_id("security");
        w.remove_team_member(security, "carol");
    });
    let id = c.comment("dave", "/refire security").await;
    let reply = c.expect_reply(id).await;
    assert!(reply.contains("declarer left the team"), "{reply}");
    c.expect_status(SECURITY, "failure", "awaiting an approval")
        .await;
    let all = list(&c, &["--all"]).await;
    assert_eq!(all[0]["ended"], "declarer-left", "{all:#?}");
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waivers_list_filters_by_gate_declarer_and_date() {
    let c = Tester::start().await;
    carol_waives_security(&c).await;
    c.approve("bob").await;
    let id = c.comment("mia", "/sop-n/a qa config only").await;
    c.expect_reply(id).await;
    let ids = |v: Vec<Value>| -> Vec<String> {
        v.iter()
            .map(|w| format!("{}:{}", w["gate"].as_str().unwrap(), w["declared_by"]))
            .collect()
    };
    assert_eq!(
        ids(list(&c, &["--gate", "qa"]).await),
        ["qa:\"mia\""],
        "--gate"
    );
    // An alias lists its gate, as in commands.
    assert_eq!(
        ids(list(&c, &["--gate", "QA-Review"]).await),
        ["qa:\"mia\""],
        "--gate alias"
    );
    assert_eq!(
        ids(list(&c, &["--declarer", "CAROL"]).await),
        ["security:\"carol\""],
        "--declarer, any case"
    );
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(
        list(&c, &["--since", &today, "--until", &today])
            .await
            .len(),
        2,
        "a day is the whole day"
    );
    assert!(list(&c, &["--until", "2000-01-01"]).await.is_empty());
    assert!(list(&c, &["--since", "2999-01-01T00:00:00Z"])
        .await
        .is_empty());
    // The table says how each ended; a bad date is refused naming the option.
    let out = crate::support::sopbot(&c.config, &["waivers", "list", "--all"]).await;
    let text = crate::support::stdout(&out);
    assert!(text.contains("ENDED"), "{text}");
    let out = crate::support::sopbot(&c.config, &["waivers", "list", "--since", "yesterday"]).await;
    assert!(!out.status.success());
    assert!(crate::support::stderr(&out).contains("--since"));
    let backwards = [
        "waivers",
        "list",
        "--since",
        "2026-02-01",
        "--until",
        "2026-01-01",
    ];
    let out = crate::support::sopbot(&c.config, &backwards).await;
    assert!(!out.status.success());
    assert!(crate::support::stderr(&out).contains("--since must be before --until"));
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_fails_its_status_until_a_gate_team_member_releases_it() {
    let c = Tester::start().await;
    // Not a gate-team member: refused, nothing posted.
    let id = c.comment("dave", "/sop-hold I do not like it").await;
    let reply = c.expect_reply(id).await;
    assert!(
        reply.contains("refused") && reply.contains("not a member"),
        "{reply}"
    );
    // In a code block: not a command.
    let quoted = c.comment("bob", "```\n/sop-hold example\n```").await;
    c.expect_no_reply(quoted).await;
    assert!(c
        .world(|w| w.status(REPO, &w.head_sha(REPO, PR), HOLD))
        .is_none());

    let id = c
        .comment("bob", "/sop-hold waiting for the freeze to end")
        .await;
    let reply = c.expect_reply(id).await;
    assert!(reply.contains("on hold"), "{reply}");
    c.expect_status(
        HOLD,
        "failure",
        "held by @bob: waiting for the freeze to end",
    )
    .await;
    // It is stored: a push puts it on the new head too.
    c.push().await;
    c.expect_status(HOLD, "failure", "held by @bob").await;
    // A second hold is answered with who holds it.
    let id = c.comment("carol", "/sop-hold me too").await;
    assert!(c.expect_reply(id).await.contains("already held by @bob"));
    // The author may not release it; another gate-team member may.
    c.world(|w| {
        let qa = w.team_id("qa");
        w.add_team_member(qa, "alice");
    });
    let id = c.comment("alice", "/sop-unhold").await;
    let reply = c.expect_reply(id).await;
    assert!(
        reply.contains("refused") && reply.contains("wrote this PR"),
        "{reply}"
    );
    let id = c.comment("carol", "/sop-unhold: the freeze is over").await;
    let reply = c.expect_reply(id).await;
    assert!(reply.contains("released the hold by @bob"), "{reply}");
    c.expect_status(HOLD, "success", "not held").await;

    let placed = c.audit_of("hold.placed").await;
    assert_eq!(placed.len(), 1, "{placed:#?}");
    assert_eq!(placed[0]["actor"], "bob");
    let released = c.audit_of("hold.released").await;
    assert_eq!(released.len(), 1, "{released:#?}");
    assert_eq!(released[0]["actor"], "carol");
    assert!(released[0]["detail"]
        .as_str()
        .unwrap()
        .contains("the freeze is over"));
    assert_eq!(c.audit_of("hold.refused").await.len(), 2);
    c.finish();
}

#[test]
fn the_example_lifecycle_lines_are_valid_and_bad_values_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    // The example's commented [waiver] and [hold] lines, switched on.
    let example = include_str!("../../deploy/sopbot.example.toml")
        .replace(
            "# invalidate_on_push = \"never\"",
            "invalidate_on_push = \"unless-merge-from-base\"",
        )
        .replace("# max_age = \"none\"", "max_age = \"14d\"")
        .replace(
            "# require_declarer_membership = false",
            "require_declarer_membership = true",
        )
        .replace("# post_always = false", "post_always = true");
    let good = dir.path().join("good.toml");
    std::fs::write(&good, example).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sopbot"))
        .args(["config", "check", good.to_str().unwrap()])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{shown}");
    for line in [
        "invalidate_on_push = \"unless-merge-from-base\"",
        "max_age = \"14d\"",
        "require_declarer_membership = true",
        "context = \"sop / hold\"",
        "post_always = true",
    ] {
        assert!(shown.contains(line), "{line} not in:\n{shown}");
    }
    for (text, key) in [
        ("[waiver]\nmax_age = \"14 fortnights\"\n", "waiver.max_age"),
        (
            "[waiver]\ninvalidate_on_push = \"on-tuesdays\"\n",
            "waiver.invalidate_on_push",
        ),
    ] {
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, text).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sopbot"))
            .args(["config", "check", bad.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(78), "{err}");
        assert!(err.contains(key), "{err}");
    }
}

/// A `/sop-unhold` whose webhook was lost, found after a later `/sop-hold` was handled, must not
/// release that newer hold: it is answered as late, and the hold stands.
#[tokio::test]
async fn a_late_unhold_does_not_release_a_newer_hold() {
    let c = Tester::start().await;
    let first = c.comment("bob", "/sop-hold the freeze").await;
    assert!(c.expect_reply(first).await.contains("on hold"));
    // carol releases it, but Gitea never delivers that comment …
    let lost = c.comment_unsent("carol", "/sop-unhold");
    // … and bob holds again, delivered and handled.
    let again = c.comment("bob", "/sop-unhold").await;
    assert!(c.expect_reply(again).await.contains("released"));
    let newer = c.comment("bob", "/sop-hold the second freeze").await;
    assert!(c.expect_reply(newer).await.contains("on hold"));
    // The lost release arrives now (a redelivery, or the poller): it is late.
    c.deliver(&c.comment_hook(lost, "created")).await;
    let reply = c.expect_reply(lost).await;
    assert!(
        reply.contains("not done") && reply.contains("later comments"),
        "{reply}"
    );
    c.expect_status(HOLD, "failure", "held by @bob: the second freeze")
        .await;
    assert_eq!(c.audit_of("hold.released").await.len(), 1);
    c.finish();
}

/// `/refire qa` after a push whose webhook was lost ends security's waiver: security's status
/// says so at once, not at the next full evaluation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refire_of_one_gate_that_ends_another_gates_waiver_posts_that_gate_too() {
    let c = Tester::setup()
        .config(|c| c.extra("[waiver]\ninvalidate_on_push = \"always\"\n"))
        .start()
        .await;
    carol_waives_security(&c).await;
    // alice pushes; Gitea never delivers the webhook.
    c.world(|w| w.push(REPO, PR));
    let id = c.comment("bob", "/refire qa").await;
    let reply = c.expect_reply(id).await;
    assert!(reply.contains("@carol"), "{reply}");
    // On the new head, in the same evaluation: no sweep runs in this test.
    c.expect_status(SECURITY, "failure", "awaiting an approval")
        .await;
    assert_eq!(c.audit_of("waiver.ended").await.len(), 1);
    c.finish();
}
