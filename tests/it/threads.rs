//! End to end, the real `sopbot serve` against the emulator: commands in a reply in a
//! code-review thread. Gitea delivers such a reply exactly like a conversation comment
//! (`pull_request_comment`) but answers `GET /issues/comments/{id}` with 204 and lists it
//! nowhere (`docs/gitea-api.md` §2; `tests/gitea-emu/tests/threads.rs`). sopbot's rule
//! (README, "Commands"): such commands are not acted on — no waiver, no reaction, no reply, the
//! gate unchanged — audited once, and neither the webhook nor the poller comes back to them.

use crate::support as common;

use std::time::Duration;

use common::serve::{serve_config, tail, wait_for, Bot};
use common::{sopbot, stderr, stdout, write_config};
use gitea_emu::{Call, Emulator, World};
use serde_json::Value;

const REPO: &str = "widgets";
const QA: &str = "qa-review / approved";
const WAIT: Duration = Duration::from_secs(10);

struct Case {
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
    emu: Emulator,
    bot: Bot,
}

impl Case {
    /// The example world (alice's PR #7; bob in qa, carol in security, dave in no team), the
    /// poller every second.
    async fn start() -> Case {
        let emu = Emulator::start(World::example().with_user("dave")).await;
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(dir.path(), &serve_config(&emu, 1, ""));
        let bot = Bot::start(&config, &dir.path().join("bot.log")).await;
        Case {
            dir,
            config,
            emu,
            bot,
        }
    }

    fn log(&self) -> String {
        tail(&self.dir.path().join("bot.log"))
    }

    fn world<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        self.emu.with_world(f)
    }

    /// `user` says `body` in the PR conversation and Gitea delivers it; returns the comment id.
    async fn say(&self, user: &str, body: &str) -> i64 {
        let id = self.world(|w| w.comment(REPO, 7, user, body));
        let hook = self.world(|w| w.webhook_for_comment(REPO, 7, id, "created"));
        self.bot.deliver_ok(&hook).await;
        id
    }

    /// The bot's reply to comment `id`, if any.
    fn reply_to(&self, id: i64) -> Option<String> {
        let marker = format!("<!-- sopbot:reply-to:{id} -->");
        self.world(|w| w.comments(REPO, 7))
            .into_iter()
            .find(|c| c.user.as_deref() == Some("sopbot") && c.body.starts_with(&marker))
            .map(|c| c.body)
    }

    async fn wait_reply(&self, id: i64) -> String {
        wait_for(
            &format!("the reply to comment {id}"),
            WAIT,
            || self.log(),
            || self.reply_to(id),
        )
        .await
    }

    async fn cli_json(&self, args: &[&str]) -> Vec<Value> {
        let mut all = args.to_vec();
        all.push("--json");
        let out = sopbot(&self.config, &all).await;
        assert!(out.status.success(), "sopbot {args:?}: {}", stderr(&out));
        serde_json::from_str(&stdout(&out)).unwrap()
    }

    async fn thread_audits(&self) -> Vec<Value> {
        self.cli_json(&["audit"])
            .await
            .into_iter()
            .filter(|a| a["action"] == "comment.thread_ignored")
            .collect()
    }

    fn qa_status(&self) -> (String, String) {
        let sha = self.world(|w| w.head_sha(REPO, 7));
        let s = self
            .world(|w| w.status(REPO, &sha, QA))
            .expect("a qa status");
        (s.state, s.description)
    }

    /// Calls whose path names comment `id` (the comment itself, its reactions).
    fn calls_on(&self, id: i64) -> Vec<Call> {
        let path = format!("/api/v1/repos/acme/{REPO}/issues/comments/{id}");
        self.emu
            .calls()
            .into_iter()
            .filter(|c| c.path == path || c.path.starts_with(&format!("{path}/")))
            .collect()
    }

    /// Waits until the poller has listed the repo's comments `n` more times.
    async fn poller_rounds(&self, n: usize) {
        let listings = || {
            self.emu
                .calls()
                .iter()
                .filter(|c| c.is("GET", &format!("/api/v1/repos/acme/{REPO}/issues/comments")))
                .count()
        };
        let target = listings() + n;
        wait_for(
            &format!("{n} poller rounds"),
            WAIT,
            || self.log(),
            || (listings() >= target).then_some(()),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiver_in_a_code_review_thread_is_not_acted_on_and_audited_once() {
    let c = Case::start().await;
    // The gate is failing before: nobody approved (the poller's first round posts it).
    let sha = c.world(|w| w.head_sha(REPO, 7));
    wait_for(
        "the qa status",
        WAIT,
        || c.log(),
        || c.world(|w| w.status(REPO, &sha, QA)),
    )
    .await;
    let gate_before = c.qa_status();
    assert_eq!(gate_before.0, "failure");

    // carol comments on a line; bob (qa, may waive qa) replies in the thread with a waiver.
    let reply = c.world(|w| {
        let first = w.code_comment(REPO, 7, "carol", "src/limiter.rs", 12, "why a mutex?");
        w.reply_in_thread(REPO, 7, "bob", first, "/sop-n/a qa docs only")
    });
    let hook = c.world(|w| w.webhook_for_comment(REPO, 7, reply, "created"));
    assert_eq!(hook.event_type, "pull_request_comment");
    c.bot.deliver_ok(&hook).await;
    // Events of a PR are handled in order: once dave's later `/sop-help` is answered, the
    // thread reply has been handled.
    let barrier = c.say("dave", "/sop-help").await;
    c.wait_reply(barrier).await;

    assert!(
        c.reply_to(reply).is_none(),
        "no reply to the thread comment"
    );
    assert!(
        c.world(|w| w.reactions(reply)).is_empty(),
        "no reaction on it"
    );
    assert!(c.cli_json(&["waivers", "list", "--all"]).await.is_empty());
    assert_eq!(c.qa_status(), gate_before, "the gate is as it was");
    let audits = c.thread_audits().await;
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
    let calls = c.calls_on(reply);
    assert_eq!(calls.len(), 1, "one look at the comment: {calls:#?}");
    assert_eq!((calls[0].method.as_str(), calls[0].status), ("GET", 204));

    // Gitea's "redeliver", then several poller rounds: nothing more happens.
    c.bot.deliver(&hook).await;
    c.poller_rounds(3).await;
    let barrier = c.say("dave", "/sop-help").await;
    c.wait_reply(barrier).await;
    assert_eq!(c.thread_audits().await.len(), 1);
    assert_eq!(c.calls_on(reply).len(), 1, "{:#?}", c.calls_on(reply));
    assert!(c.cli_json(&["waivers", "list", "--all"]).await.is_empty());
    assert_eq!(c.qa_status(), gate_before);
    let log = std::fs::read_to_string(c.dir.path().join("bot.log")).unwrap();
    assert!(
        !log.lines().any(|l| l.contains("WARN")),
        "no warnings: {}",
        c.log()
    );

    // The same words in the conversation are a waiver: the rule is about where, not what.
    let said = c.say("bob", "/sop-n/a qa docs only").await;
    let answer = c.wait_reply(said).await;
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
