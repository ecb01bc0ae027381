//! End to end, the real `sopbot serve` against the emulator: commands in a reply in a
//! code-review thread. Gitea delivers such a reply exactly like a conversation comment
//! (`pull_request_comment`) but answers `GET /issues/comments/{id}` with 204 and lists it
//! nowhere (`docs/gitea-api.md` §2; `tests/gitea-emu/tests/threads.rs`). sopbot's rule
//! (README, "Commands"): such commands are not acted on — no waiver, no reaction, no reply, the
//! gate unchanged — audited once, and neither the webhook nor the poller comes back to them.

use crate::support as common;

use common::serve::wait_for;
use common::tester::{Tester, REPO, WAIT};
use gitea_emu::{Call, World};
use serde_json::Value;

const QA: &str = "qa-review / approved";

/// The example world (alice's PR #7; bob in qa, carol in security, dave in no team), the
/// poller every second. The real binary: the test reads its log for warnings.
async fn start() -> Tester {
    Tester::setup_in(World::example().with_user("dave"))
        .polling()
        .process()
        .start()
        .await
}

async fn thread_audits(c: &Tester) -> Vec<Value> {
    c.audit_of("comment.thread_ignored").await
}

fn qa_status(c: &Tester) -> (String, String) {
    let sha = c.head();
    let s = c.world(|w| w.status(REPO, &sha, QA)).expect("a qa status");
    (s.state, s.description)
}

/// Calls whose path names comment `id` (the comment itself, its reactions).
fn calls_on(c: &Tester, id: i64) -> Vec<Call> {
    let path = format!("/api/v1/repos/acme/{REPO}/issues/comments/{id}");
    c.emu
        .calls()
        .into_iter()
        .filter(|c| c.path == path || c.path.starts_with(&format!("{path}/")))
        .collect()
}

/// Waits until the poller has listed the repo's comments `n` more times.
async fn poller_rounds(c: &Tester, n: usize) {
    let listings = || {
        c.emu
            .calls()
            .iter()
            .filter(|x| x.is("GET", &format!("/api/v1/repos/acme/{REPO}/issues/comments")))
            .count()
    };
    let target = listings() + n;
    wait_for(
        &format!("{n} poller rounds"),
        WAIT,
        || c.log(),
        || (listings() >= target).then_some(()),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiver_in_a_code_review_thread_is_not_acted_on_and_audited_once() {
    let c = start().await;
    // The gate is failing before: nobody approved (the poller's first round posts it).
    let sha = c.world(|w| w.head_sha(REPO, 7));
    wait_for(
        "the qa status",
        WAIT,
        || c.log(),
        || c.world(|w| w.status(REPO, &sha, QA)),
    )
    .await;
    let gate_before = qa_status(&c);
    assert_eq!(gate_before.0, "failure");

    // carol comments on a line; bob (qa, may waive qa) replies in the thread with a waiver.
    let reply = c.world(|w| {
        let first = w.code_comment(REPO, 7, "carol", "src/limiter.rs", 12, "why a mutex?");
        w.reply_in_thread(REPO, 7, "bob", first, "/sop-n/a qa docs only")
    });
    let hook = c.world(|w| w.webhook_for_comment(REPO, 7, reply, "created"));
    assert_eq!(hook.event_type, "pull_request_comment");
    c.deliver(&hook).await;
    // Events of a PR are handled in order: once dave's later `/sop-help` is answered, the
    // thread reply has been handled.
    let barrier = c.comment("dave", "/sop-help").await;
    c.expect_reply(barrier).await;

    assert!(
        c.replies(reply).is_empty(),
        "no reply to the thread comment"
    );
    assert!(
        c.world(|w| w.reactions(reply)).is_empty(),
        "no reaction on it"
    );
    assert!(c.waivers(true).await.is_empty());
    assert_eq!(qa_status(&c), gate_before, "the gate is as it was");
    let audits = thread_audits(&c).await;
    assert_eq!(audits.len(), 1, "{audits:#?}");
    assert_eq!(audits[0]["actor"], "bob");
    assert_eq!(audits[0]["pr"], 7);
    assert_eq!(
        audits[0]["detail"],
        format!(
            "comment {reply} by @bob is in a code-review thread; \
             commands are only read from the PR conversation"
        )
    );
    let calls = calls_on(&c, reply);
    assert_eq!(calls.len(), 1, "one look at the comment: {calls:#?}");
    assert_eq!((calls[0].method.as_str(), calls[0].status), ("GET", 204));

    // Gitea's "redeliver", then several poller rounds: nothing more happens.
    c.bot.deliver(&hook).await;
    poller_rounds(&c, 3).await;
    let barrier = c.comment("dave", "/sop-help").await;
    c.expect_reply(barrier).await;
    assert_eq!(thread_audits(&c).await.len(), 1);
    assert_eq!(calls_on(&c, reply).len(), 1, "{:#?}", calls_on(&c, reply));
    assert!(c.waivers(true).await.is_empty());
    assert_eq!(qa_status(&c), gate_before);
    let log = std::fs::read_to_string(c.dir.path().join("bot.log")).unwrap();
    assert!(
        !log.lines().any(|l| l.contains("WARN")),
        "no warnings: {}",
        c.log()
    );

    // The same words in the conversation are a waiver: the rule is about where, not what.
    let said = c.comment("bob", "/sop-n/a qa docs only").await;
    let answer = c.expect_reply(said).await;
    assert!(answer.contains("waived `qa`"), "{answer}");
    wait_for(
        "qa waived",
        WAIT,
        || c.log(),
        || {
            c.world(|w| w.status(REPO, &sha, QA))
                .filter(|s| s.state == "success")
        },
    )
    .await;
}
