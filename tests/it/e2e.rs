//! End to end: the real `sopbot serve` process, the Gitea emulator behind it, and signed webhook
//! deliveries over HTTP, as Gitea would send them. Each test is a small conversation on alice's
//! PR #7 (bob is in qa, carol in security, dave in no team) and checks what people see: the
//! statuses on the PR's head commit, the bot's 👀 and its reply comments, and the waiver and
//! audit rows through `sopbot waivers list --json` and `sopbot audit --json`.
//!
//! Every wait polls for the expected outcome with a deadline; "nothing happened" is proven with
//! a barrier: a later command on the same PR, whose reply means every earlier event of the PR
//! was handled (the inbox runs one PR's events in arrival order). A test ends with
//! [`Case::finish`], which fails if the bot posted a reply the test did not look at, or more
//! than one reply to a comment.

use crate::support as common;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::serve::{serve_config, tail, wait_for, Bot};
use common::{sopbot, stderr, stdout, write_config};
use gitea_emu::{Comment, Delivery, Emulator, Flavor, Status, World};
use serde_json::Value;

const REPO: &str = "widgets";
const PR: u64 = 7;
const QA: &str = "qa-review / approved";
const SECURITY: &str = "security-review / approved";
const NA: &str = "sop-checklist / na-declarations (pull_request)";
/// Upper bound for anything the bot does in answer to one event.
const WAIT: Duration = Duration::from_secs(10);
const COMMENTS_PATH: &str = "/api/v1/repos/acme/widgets/issues/7/comments";

/// The example world (alice's PR #7; bob in qa, carol in security, sopbot in both) plus dave,
/// who is in no team, and the `managers` team the config lets waive every gate.
fn world() -> World {
    World::example()
        .with_user("dave")
        .with_team("managers", &["mia", "sopbot"])
}

/// One test's world: a temp dir with the config, database and the bot's log, the emulator, and
/// the running bot.
struct Case {
    dir: tempfile::TempDir,
    config: PathBuf,
    emu: Emulator,
    bot: Bot,
    /// Command comments whose reply the test has looked at.
    answered: Mutex<BTreeSet<i64>>,
}

impl Case {
    /// The example world; the poller off.
    async fn start() -> Case {
        Case::start_with(world(), 0).await
    }

    /// The example world as `flavor` serves it; the poller off.
    async fn start_as(flavor: Flavor) -> Case {
        Case::start_with(world().with_flavor(flavor), 0).await
    }

    /// The example world; the poller every second.
    async fn start_polling() -> Case {
        Case::start_with(world(), 1).await
    }

    /// The example world; the poller every second, sweeping every second.
    async fn start_sweeping() -> Case {
        Case::start_config(world(), 1, |text| {
            text.replace(
                "interval_secs = 1\n",
                "interval_secs = 1\nsweep_interval = \"1s\"\n",
            )
        })
        .await
    }

    async fn start_with(world: World, poll_secs: u64) -> Case {
        Case::start_config(world, poll_secs, |text| text).await
    }

    async fn start_config(
        world: World,
        poll_secs: u64,
        edit: impl FnOnce(String) -> String,
    ) -> Case {
        let emu = Emulator::start(world).await;
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(dir.path(), &edit(serve_config(&emu, poll_secs, "")));
        let bot = Bot::start(&config, &dir.path().join("bot.log")).await;
        assert_eq!(bot.login, "sopbot");
        Case {
            dir,
            config,
            emu,
            bot,
            answered: Mutex::new(BTreeSet::new()),
        }
    }

    /// Starts a new bot process on the same config and database (kill the old one first).
    async fn restart(&mut self) {
        self.bot.kill();
        self.bot = Bot::start(&self.config, &self.dir.path().join("bot.log")).await;
    }

    fn log(&self) -> String {
        tail(&self.dir.path().join("bot.log"))
    }

    fn world<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        self.emu.with_world(f)
    }

    // ----- what people do ------------------------------------------------------------------

    /// `user` comments on the PR in Gitea; no webhook is delivered.
    fn comment(&self, user: &str, body: &str) -> i64 {
        self.world(|w| w.comment(REPO, PR, user, body))
    }

    /// `user` comments on the PR, and Gitea delivers the `created` webhook (accepted: 202).
    async fn say(&self, user: &str, body: &str) -> i64 {
        let id = self.comment(user, body);
        self.deliver(&self.comment_hook(id, "created")).await;
        id
    }

    fn comment_hook(&self, id: i64, action: &str) -> Delivery {
        self.world(|w| w.webhook_for_comment(REPO, PR, id, action))
    }

    /// Delivers a webhook that must be accepted (202); returns the answer's body.
    async fn deliver(&self, d: &Delivery) -> String {
        self.bot.deliver_ok(d).await
    }

    /// `reviewer` submits an approving review, and Gitea delivers its webhook.
    async fn approve(&self, reviewer: &str) {
        let hook = self.world(|w| {
            w.review(REPO, PR, reviewer, "APPROVED", "lgtm");
            w.webhook_for_review(REPO, PR, reviewer, "approved")
        });
        self.deliver(&hook).await;
    }

    /// A `/sop-help` by dave, answered: every event of the PR delivered before it is handled.
    async fn barrier(&self) {
        let id = self.say("dave", "/sop-help").await;
        self.reply(id).await;
    }

    // ----- what people see -----------------------------------------------------------------

    fn head(&self) -> String {
        self.world(|w| w.head_sha(REPO, PR))
    }

    /// The bot's replies to comment `id` (found by their hidden marker).
    fn replies(&self, id: i64) -> Vec<Comment> {
        let marker = format!("<!-- sopbot:reply-to:{id} -->");
        self.world(|w| w.comments(REPO, PR))
            .into_iter()
            .filter(|c| c.user.as_deref() == Some("sopbot") && c.body.starts_with(&marker))
            .collect()
    }

    /// Waits for the bot's reply to comment `id` and returns its body.
    async fn reply(&self, id: i64) -> String {
        let body = wait_for(
            &format!("the reply to comment {id}"),
            WAIT,
            || self.log(),
            || self.replies(id).first().map(|c| c.body.clone()),
        )
        .await;
        self.answered.lock().unwrap().insert(id);
        body
    }

    /// Whether the bot reacted 👀 to comment `id`.
    fn eyes(&self, id: i64) -> usize {
        self.world(|w| w.reactions(id))
            .iter()
            .filter(|r| r.user == "sopbot" && r.content == "eyes")
            .count()
    }

    /// Waits until the latest `context` status on `sha` is the bot's, in `state`, with a
    /// description containing `words`.
    async fn expect_status_on(&self, sha: &str, context: &str, state: &str, words: &str) -> Status {
        wait_for(
            &format!("{context} = {state} ({words:?}) by sopbot on {sha}"),
            WAIT,
            || {
                let now = self.world(|w| w.latest_statuses(REPO, sha));
                format!("statuses now: {now:#?}\n{}", self.log())
            },
            || {
                self.world(|w| w.status(REPO, sha, context)).filter(|s| {
                    s.creator == "sopbot" && s.state == state && s.description.contains(words)
                })
            },
        )
        .await
    }

    /// [`Case::expect_status_on`] the current head.
    async fn expect_status(&self, context: &str, state: &str, words: &str) -> Status {
        self.expect_status_on(&self.head(), context, state, words)
            .await
    }

    /// `sopbot ARGS… --json`, parsed.
    async fn cli_json(&self, args: &[&str]) -> Vec<Value> {
        let mut all: Vec<&str> = args.to_vec();
        all.push("--json");
        let out = sopbot(&self.config, &all).await;
        assert!(
            out.status.success(),
            "sopbot {args:?} failed: {}",
            stderr(&out)
        );
        serde_json::from_str(&stdout(&out)).unwrap()
    }

    /// `sopbot waivers list --json` (with `--all` when `all`).
    async fn waivers(&self, all: bool) -> Vec<Value> {
        if all {
            self.cli_json(&["waivers", "list", "--all"]).await
        } else {
            self.cli_json(&["waivers", "list"]).await
        }
    }

    /// `sopbot audit --json`.
    async fn audit(&self) -> Vec<Value> {
        self.cli_json(&["audit"]).await
    }

    /// The audit rows with this action.
    async fn audit_of(&self, action: &str) -> Vec<Value> {
        self.audit()
            .await
            .into_iter()
            .filter(|a| a["action"] == action)
            .collect()
    }

    /// Polls an async check (a CLI call, say) every 50 ms until it gives a value.
    async fn eventually<T, Fut: Future<Output = Option<T>>>(
        &self,
        what: &str,
        mut f: impl FnMut() -> Fut,
    ) -> T {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(v) = f().await {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for a complete poller pass that started after this call: its comment listing,
    /// then its listing of updated PRs (which comes after the comments found were stored).
    async fn poller_pass(&self) {
        let from = self.emu.calls().len();
        wait_for(
            "a poller pass",
            WAIT,
            || self.log(),
            || {
                let calls = self.emu.calls();
                let listed = calls[from..].iter().position(|c| {
                    c.method == "GET" && c.path == "/api/v1/repos/acme/widgets/issues/comments"
                })?;
                calls[from + listed..]
                    .iter()
                    .any(|c| c.method == "GET" && c.path == "/api/v1/repos/acme/widgets/issues")
                    .then_some(())
            },
        )
        .await;
    }

    /// Every reply the bot posted was looked at by the test, and no comment got two.
    fn finish(&self) {
        let mut count: BTreeMap<i64, usize> = BTreeMap::new();
        for c in self.world(|w| w.comments(REPO, PR)) {
            if c.user.as_deref() != Some("sopbot") {
                continue;
            }
            if let Some(id) = c
                .body
                .strip_prefix("<!-- sopbot:reply-to:")
                .and_then(|r| r.split_once(" -->"))
                .and_then(|(id, _)| id.parse::<i64>().ok())
            {
                *count.entry(id).or_default() += 1;
            }
        }
        let answered = self.answered.lock().unwrap().clone();
        for (id, n) in &count {
            assert_eq!(*n, 1, "comment {id} got {n} replies");
            assert!(
                answered.contains(id),
                "the bot replied to comment {id} and the test never checked it"
            );
        }
        for id in &answered {
            assert!(count.contains_key(id), "comment {id} lost its reply");
        }
    }
}

// ----- /refire and reviews ------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refire_before_an_approval_fails_and_after_bob_approves_succeeds_naming_him() {
    refire_qa_before_and_after_bobs_approval(Case::start().await).await
}

/// Also run against Forgejo ([`forgejo`]).
async fn refire_qa_before_and_after_bobs_approval(c: Case) {
    let first = c.say("alice", "/refire qa").await;
    let reply = c.reply(first).await;
    assert!(reply.contains("@alice"), "{reply}");
    assert!(
        reply.contains("- line 1, `/refire`: re-checked `qa` with a fresh membership look-up"),
        "{reply}"
    );
    assert!(
        reply.contains("| qa | ❌ failure | awaiting an approval from a member of team qa |"),
        "{reply}"
    );
    assert!(
        !reply.contains("| security |"),
        "only qa was asked: {reply}"
    );
    c.expect_status(
        QA,
        "failure",
        "awaiting an approval from a member of team qa",
    )
    .await;
    assert_eq!(c.eyes(first), 1, "👀 on the command comment");

    c.approve("bob").await;
    let second = c.say("alice", "/refire qa").await;
    let reply = c.reply(second).await;
    assert!(
        reply.contains("| qa | ✅ success | approved by @bob (team qa) |"),
        "{reply}"
    );
    c.expect_status(QA, "success", "approved by @bob (team qa)")
        .await;
    assert_eq!(c.eyes(second), 1);
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approving_review_reevaluates_without_any_command() {
    let c = Case::start().await;
    let opened = c.world(|w| w.webhook_for_pr(REPO, PR, "opened"));
    c.deliver(&opened).await;
    c.expect_status(QA, "failure", "awaiting").await;
    c.expect_status(SECURITY, "failure", "awaiting").await;
    c.expect_status(NA, "success", "no gates waived").await;

    c.approve("bob").await;
    c.expect_status(QA, "success", "approved by @bob (team qa)")
        .await;
    c.approve("carol").await;
    c.expect_status(SECURITY, "success", "approved by @carol (team security)")
        .await;
    // Unchanged verdicts are not posted again: qa twice (failure, success; carol's review
    // left it as it was), N/A once. Security three times: bob's approval changed its failure's
    // description ("@bob is not in it"), then carol's made it pass.
    let head = c.head();
    let posted = |context: &str| {
        c.world(|w| w.statuses(REPO, &head))
            .iter()
            .filter(|s| s.context == context)
            .count()
    };
    assert_eq!(
        (posted(QA), posted(SECURITY), posted(NA)),
        (2, 3, 1),
        "{:#?}",
        c.world(|w| w.statuses(REPO, &head))
    );
    // Reviews need no answer: no comment at all from the bot.
    assert!(c
        .world(|w| w.comments(REPO, PR))
        .iter()
        .all(|x| x.user.as_deref() != Some("sopbot")));
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_moves_the_statuses_to_the_new_head() {
    push_moves_the_statuses(Case::start().await).await
}

/// Also run against Forgejo ([`forgejo`]).
async fn push_moves_the_statuses(c: Case) {
    let old = c.head();
    c.approve("bob").await;
    c.expect_status_on(&old, QA, "success", "approved by @bob")
        .await;
    // The N/A status is posted last: the evaluation is complete.
    c.expect_status_on(&old, NA, "success", "no gates waived")
        .await;
    let before = c.world(|w| w.statuses(REPO, &old));

    let new = c.world(|w| w.push(REPO, PR));
    let hook = c.world(|w| w.webhook_for_pr(REPO, PR, "synchronized"));
    assert_eq!(hook.event_type, "pull_request_sync");
    c.deliver(&hook).await;
    // Bob's approval of the old head still counts (no strict_head_sha), on the new head.
    c.expect_status_on(&new, QA, "success", "approved by @bob")
        .await;
    c.expect_status_on(&new, SECURITY, "failure", "awaiting")
        .await;
    c.expect_status_on(&new, NA, "success", "no gates waived")
        .await;
    assert_eq!(
        c.world(|w| w.statuses(REPO, &old)),
        before,
        "nothing more on the old head"
    );
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dismissed_approval_is_caught_by_the_poller() {
    let c = Case::start_polling().await;
    c.approve("bob").await;
    c.expect_status(QA, "success", "approved by @bob").await;
    // Gitea sends no webhook for a dismissal.
    let review = c.world(|w| {
        w.reviews(REPO, PR)
            .iter()
            .rev()
            .find(|r| r.state == "APPROVED")
            .unwrap()
            .id
    });
    c.world(|w| w.dismiss(REPO, PR, review));
    c.expect_status(QA, "failure", "awaiting an approval").await;
    c.finish();
}

// ----- waivers --------------------------------------------------------------------------------

/// A reason full of Markdown, mentions, HTML and table pipes is echoed as its literal text: one
/// code span in the reply's bullet and one in its table (so Gitea renders no image, link or
/// HTML, pings nobody and adds no table cell), plain single-line text in the gate's status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_waiver_reason_is_echoed_inert() {
    use pulldown_cmark::{Event, Options, Parser, Tag};
    const REASON: &str =
        "![x](http://evil/x.png) @carol @acme/security <img src=x> | a | b | `code";
    let c = Case::start().await;
    let id = c.say("carol", &format!("/sop-n/a security {REASON}")).await;
    let reply = c.reply(id).await;
    assert!(
        reply.contains(&format!(
            "- line 1, `/sop-n/a`: waived `security`: ``{REASON}``"
        )),
        "{reply}"
    );
    let cell = REASON.replace('|', "\\|");
    assert!(
        reply.contains(&format!(
            "| security | ✅ success | waived by @carol: ``{cell}`` |"
        )),
        "{reply}"
    );
    // Rendered: the reason twice as code, the only HTML the bot's hidden marker, no link or
    // image, three cells a row, and the only `@` outside code the bot's own mentions.
    let (mut codes, mut html, mut text, mut cells) = (vec![], vec![], String::new(), 0);
    let parser = Parser::new_ext(&reply, Options::ENABLE_TABLES);
    for event in parser {
        match event {
            Event::Code(code) => codes.push(code.to_string()),
            Event::Html(h) | Event::InlineHtml(h) => html.push(h.to_string()),
            Event::Text(t) => text.push_str(&t),
            Event::Start(Tag::Link { .. } | Tag::Image { .. }) => panic!("a link: {reply}"),
            Event::Start(Tag::TableCell) => cells += 1,
            _ => {}
        }
    }
    assert_eq!(
        codes.iter().filter(|c| *c == REASON).count(),
        2,
        "{codes:?}"
    );
    assert!(
        html.iter().all(|h| h.starts_with("<!-- sopbot:reply-to:")),
        "{html:?}"
    );
    assert_eq!(cells % 3, 0, "{reply}");
    assert_eq!(
        text.match_indices('@').count(),
        2,
        "only @alice and @carol: {text}"
    );
    let status = c
        .expect_status(SECURITY, "success", "waived by @carol")
        .await;
    assert_eq!(status.description, format!("waived by @carol: {REASON}"));
    c.expect_status(NA, "success", "N/A: security").await;
    let waivers = c.waivers(false).await;
    assert_eq!(waivers[0]["reason"], REASON);
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_security_member_waives_the_security_gate() {
    security_member_waives(Case::start().await).await
}

/// Also run against Forgejo ([`forgejo`]).
async fn security_member_waives(c: Case) {
    let head = c.head();
    let id = c.say("carol", "/sop-n/a security docs only").await;
    let reply = c.reply(id).await;
    assert!(
        reply.contains("- line 1, `/sop-n/a`: waived `security`: `docs only`"),
        "{reply}"
    );
    assert!(
        reply.contains("| security | ✅ success | waived by @carol: `docs only` |"),
        "{reply}"
    );
    assert_eq!(c.eyes(id), 1);
    c.expect_status(SECURITY, "success", "waived by @carol: docs only")
        .await;
    c.expect_status(NA, "success", "N/A: security").await;

    let waivers = c.waivers(false).await;
    assert_eq!(waivers.len(), 1, "{waivers:#?}");
    let w = &waivers[0];
    assert_eq!(
        (
            &w["repo"],
            &w["pr"],
            &w["gate"],
            &w["declared_by"],
            &w["reason"]
        ),
        (
            &Value::from("acme/widgets"),
            &Value::from(7),
            &Value::from("security"),
            &Value::from("carol"),
            &Value::from("docs only")
        )
    );
    assert_eq!(w["comment_id"], id);
    assert_eq!(w["head_sha"], head.as_str());
    assert!(w["revoked_at"].is_null());

    let created = c.audit_of("waiver.created").await;
    assert_eq!(created.len(), 1, "{created:#?}");
    assert_eq!(created[0]["actor"], "carol");
    assert_eq!(created[0]["gate"], "security");
    assert_eq!(created[0]["waiver_id"], w["id"]);
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn author_cannot_waive_own_pr() {
    let c = Case::start().await;
    let id = c.say("alice", "/sop-n/a security trust me").await;
    let reply = c.reply(id).await;
    assert!(
        reply.contains("- line 1, `/sop-n/a`: **not waived** `security`"),
        "{reply}"
    );
    assert!(reply.contains("author"), "says why: {reply}");
    c.expect_status(SECURITY, "failure", "awaiting").await;
    c.expect_status(NA, "success", "no gates waived").await;
    assert!(c.waivers(true).await.is_empty());
    let refused = c.audit_of("waiver.refused").await;
    assert_eq!(refused.len(), 1, "{refused:#?}");
    assert_eq!(
        (&refused[0]["actor"], &refused[0]["gate"]),
        (&Value::from("alice"), &Value::from("security"))
    );
    assert!(c.audit_of("waiver.created").await.is_empty());
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_member_cannot_waive() {
    let c = Case::start().await;
    let id = c.say("dave", "/sop-n/a security docs only").await;
    let reply = c.reply(id).await;
    assert!(
        reply.contains("- line 1, `/sop-n/a`: **not waived** `security`"),
        "{reply}"
    );
    c.expect_status(SECURITY, "failure", "awaiting").await;
    assert!(c.waivers(true).await.is_empty());
    let refused = c.audit_of("waiver.refused").await;
    assert_eq!(refused.len(), 1, "{refused:#?}");
    assert_eq!(refused[0]["actor"], "dave");
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_declarer_revokes_a_waiver_and_the_gate_fails_again() {
    declarer_revokes(Case::start().await).await
}

/// Also run against Forgejo ([`forgejo`]).
async fn declarer_revokes(c: Case) {
    let waive = c.say("carol", "/sop-n/a security docs only").await;
    c.reply(waive).await;
    c.expect_status(SECURITY, "success", "waived by @carol")
        .await;

    let revoke = c.say("carol", "/sop-revoke security").await;
    let reply = c.reply(revoke).await;
    assert!(
        reply.contains(
            "- line 1, `/sop-revoke`: revoked waiver #1 of `security` (declared by @carol)"
        ),
        "{reply}"
    );
    assert!(reply.contains("| security | ❌ failure |"), "{reply}");
    c.expect_status(SECURITY, "failure", "awaiting").await;
    c.expect_status(NA, "success", "no gates waived").await;

    assert!(c.waivers(false).await.is_empty(), "no active waiver");
    let all = c.waivers(true).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["revoked_by"], "carol");
    assert!(all[0]["revoked_at"].is_string(), "{:#?}", all[0]);
    let revoked = c.audit_of("waiver.revoked").await;
    assert_eq!(revoked.len(), 1, "{revoked:#?}");
    assert_eq!(revoked[0]["actor"], "carol");
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_revoking_from_the_cli_makes_the_running_bot_reevaluate() {
    let c = Case::start().await;
    let waive = c.say("carol", "/sop-n/a security docs only").await;
    c.reply(waive).await;
    c.expect_status(SECURITY, "success", "waived by @carol")
        .await;

    let out = sopbot(
        &c.config,
        &[
            "waivers",
            "revoke",
            "1",
            "--reason",
            "declared on the wrong PR",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    // No webhook, no poller (interval 0): the inbox event the CLI queued does it.
    c.expect_status(SECURITY, "failure", "awaiting").await;
    c.expect_status(NA, "success", "no gates waived").await;
    let all = c.waivers(true).await;
    assert_eq!(all[0]["revoke_reason"], "declared on the wrong PR");
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_pr_expires_its_waivers_without_deleting_them() {
    let c = Case::start().await;
    let waive = c.say("carol", "/sop-n/a security docs only").await;
    c.reply(waive).await;
    assert_eq!(c.waivers(false).await.len(), 1);

    let hook = c.world(|w| {
        w.close_pr(REPO, PR, false);
        w.webhook_for_pr(REPO, PR, "closed")
    });
    c.deliver(&hook).await;
    c.eventually("the waiver to expire", || async {
        c.waivers(false).await.is_empty().then_some(())
    })
    .await;
    let all = c.waivers(true).await;
    assert_eq!(all.len(), 1, "recorded, not deleted");
    assert_eq!(all[0]["revoked_by"], "sopbot");
    assert_eq!(all[0]["revoke_reason"], "PR closed");
    let expired = c.audit_of("waiver.expired").await;
    assert_eq!(expired.len(), 1, "{expired:#?}");
    assert_eq!(expired[0]["waiver_id"], all[0]["id"]);
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_comment_that_carried_a_waiver_revokes_it() {
    let c = Case::start().await;
    let waive = c.say("carol", "/sop-n/a security docs only").await;
    c.reply(waive).await;
    c.expect_status(SECURITY, "success", "waived by @carol")
        .await;

    c.world(|w| w.delete_comment(REPO, waive));
    c.deliver(&c.comment_hook(waive, "deleted")).await;
    c.expect_status(SECURITY, "failure", "awaiting").await;
    c.expect_status(NA, "success", "no gates waived").await;
    assert!(c.waivers(false).await.is_empty());
    let all = c.waivers(true).await;
    assert_eq!(all[0]["revoked_by"], "sopbot");
    let why = all[0]["revoke_reason"].as_str().unwrap();
    assert!(why.contains("was deleted"), "{why}");
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_comment_does_not_become_a_waiver() {
    let c = Case::start().await;
    let id = c.say("carol", "thanks, looking").await;
    c.world(|w| w.edit_comment(REPO, id, "/sop-n/a security sneaky"));
    c.deliver(&c.comment_hook(id, "edited")).await;
    c.barrier().await;
    assert!(c.replies(id).is_empty());
    assert_eq!(c.eyes(id), 0);
    assert!(c.waivers(true).await.is_empty());
    c.finish();
}

// ----- exactly once -----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_webhook_and_the_poller_cause_no_second_reply() {
    let c = Case::start_polling().await;
    let id = c.comment("bob", "/refire qa\n/sop-help");
    let hook = c.comment_hook(id, "created");
    // The poller may have found the comment first: then the delivery is the duplicate.
    let first = c.deliver(&hook).await;
    assert!(first == "queued" || first == "duplicate", "{first}");
    let reply = c.reply(id).await;
    // Both commands, one reply.
    assert!(reply.contains("- line 1, `/refire`"), "{reply}");
    assert!(reply.contains("- line 2, `/sop-help`"), "{reply}");
    assert!(
        reply.contains("<summary>sopbot commands</summary>"),
        "{reply}"
    );

    // Replayed from Gitea's UI: same body, new delivery id.
    let mut replay = hook.clone();
    replay.delivery_id = gitea_emu::webhook::uuid_v4();
    assert_eq!(c.deliver(&replay).await, "duplicate");
    // The poller lists the comment too.
    c.poller_pass().await;
    c.barrier().await;
    assert_eq!(c.replies(id).len(), 1);
    assert_eq!(c.eyes(id), 1);
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_comment_never_delivered_is_handled_by_the_poller() {
    let c = Case::start_polling().await;
    // No webhook configured: Gitea delivers nothing.
    let id = c.comment("bob", "/refire qa");
    let reply = c.reply(id).await;
    assert!(reply.contains("| qa | ❌ failure |"), "{reply}");
    assert_eq!(c.eyes(id), 1);
    c.expect_status(QA, "failure", "awaiting").await;
    // The webhook turns up late after all: the same comment, not a second event.
    assert_eq!(c.deliver(&c.comment_hook(id, "created")).await, "duplicate");
    c.barrier().await;
    assert_eq!(c.replies(id).len(), 1);
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_never_reacts_to_its_own_comments() {
    let c = Case::start_polling().await;
    let id = c.say("bob", "/refire qa").await;
    c.reply(id).await;
    let reply_id = c.replies(id)[0].id;
    let (status, body) = c.bot.deliver(&c.comment_hook(reply_id, "created")).await;
    assert_eq!(
        (status, body.as_str()),
        (200, "ignored: comment by the bot itself")
    );
    // Even a command in the bot's own words is not one: not by webhook, not by the poller.
    let own = c.comment("sopbot", "/sop-n/a security the bot said so");
    let (status, _) = c.bot.deliver(&c.comment_hook(own, "created")).await;
    assert_eq!(status, 200);
    c.poller_pass().await;
    c.barrier().await;
    for bot_comment in [reply_id, own] {
        assert!(c.world(|w| w.reactions(bot_comment)).is_empty());
        assert!(c.replies(bot_comment).is_empty());
    }
    assert!(c.waivers(true).await.is_empty());
    c.finish();
}

// ----- the status guard ----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_posted_success_whose_webhook_was_lost_is_overturned_by_the_sweep() {
    // A status moves no PR's `updated_at`: without its `status` webhook, the sweep finds it.
    let c = Case::start_sweeping().await;
    // The poller's first sweep evaluates the PR.
    c.expect_status(QA, "failure", "awaiting").await;
    let head = c.head();
    c.world(|w| w.post_status(REPO, &head, "alice", "success", QA, "trust me", ""));
    c.expect_status(QA, "failure", "awaiting").await;

    let note = wait_for(
        "the guard's note on the PR",
        WAIT,
        || c.log(),
        || {
            c.world(|w| w.comments(REPO, PR)).into_iter().find(|x| {
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
    let guard = c.audit_of("status.guard").await;
    assert_eq!(guard.len(), 1, "{guard:#?}");
    assert_eq!(guard[0]["actor"], "alice");
    assert!(guard[0]["detail"].as_str().unwrap().contains(QA));
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_posted_success_is_overturned_by_the_next_evaluation() {
    let c = Case::start().await;
    let head = c.head();
    c.world(|w| w.post_status(REPO, &head, "alice", "success", SECURITY, "lgtm", ""));
    let id = c.say("bob", "/refire security").await;
    let reply = c.reply(id).await;
    assert!(
        reply.contains("@alice posted `success` on `security-review / approved` by hand. Only sopbot decides this status: its verdict (`failure`) has been posted on top"),
        "{reply}"
    );
    c.expect_status(SECURITY, "failure", "awaiting").await;
    let guard = c.audit_of("status.guard").await;
    assert_eq!(guard.len(), 1, "{guard:#?}");
    assert_eq!(guard[0]["actor"], "alice");
    c.finish();
}

// ----- crashes and bad input -------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_between_acceptance_and_completion_loses_nothing_and_repeats_nothing() {
    let mut c = Case::start().await;
    c.world(|w| w.review(REPO, PR, "bob", "APPROVED", "lgtm"));
    // Slow Gitea: every event spends a second or more in flight.
    c.emu.set_latency(Duration::from_millis(100));
    let commands = [
        ("bob", "/refire qa"),
        ("carol", "/sop-n/a security docs only"),
        ("alice", "/sop-n/a qa mine"),
        ("dave", "/refire"),
    ];
    let mut ids = Vec::new();
    for (user, body) in commands {
        ids.push(c.say(user, body).await);
    }
    // Kill 1: the second comment has its 👀 and no reply yet — its event is half done.
    wait_for(
        "the 👀 on the second comment",
        WAIT,
        || c.log(),
        || (c.eyes(ids[1]) == 1).then_some(()),
    )
    .await;
    c.bot.kill();
    assert!(c.replies(ids[1]).is_empty(), "killed too late");
    let answered = ids.iter().filter(|id| !c.replies(**id).is_empty()).count();
    assert!(answered < ids.len(), "killed too late to prove anything");

    // Kill 2: a reply lands in Gitea, and the bot dies before it hears back.
    let before: usize = ids.iter().map(|id| c.replies(*id).len()).sum();
    c.emu
        .hold_answer("POST", COMMENTS_PATH, 1, Duration::from_secs(5));
    c.restart().await;
    wait_for(
        "a reply after the restart",
        WAIT,
        || c.log(),
        || {
            let now: usize = ids.iter().map(|id| c.replies(*id).len()).sum();
            (now > before).then_some(())
        },
    )
    .await;
    c.bot.kill();

    // The third start finishes everything.
    c.emu.clear_faults();
    c.restart().await;
    for id in &ids {
        let reply = c.reply(*id).await;
        assert!(reply.contains("Gates on `"), "a complete reply: {reply}");
    }
    let db = sopbot::store::Store::open(&c.dir.path().join("sopbot.db"))
        .await
        .unwrap();
    c.eventually("every accepted event done", || async {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM inbox WHERE state <> 'done'")
            .fetch_one(db.pool())
            .await
            .unwrap();
        (n == 0).then_some(())
    })
    .await;
    db.close().await;
    for id in &ids {
        assert_eq!(c.replies(*id).len(), 1, "one reply to comment {id}");
        assert_eq!(c.eyes(*id), 1, "one 👀 on comment {id}");
    }
    let reply = c.reply(ids[1]).await;
    assert!(reply.contains("waived `security`: `docs only`"), "{reply}");
    let reply = c.reply(ids[2]).await;
    assert!(reply.contains("**not waived** `qa`"), "{reply}");

    let audit = c.audit().await;
    let rows: Vec<(String, String, String)> = audit
        .iter()
        .map(|a| {
            (
                a["action"].as_str().unwrap().to_string(),
                a["actor"].as_str().unwrap().to_string(),
                a["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let unique: BTreeSet<_> = rows.iter().cloned().collect();
    assert_eq!(rows.len(), unique.len(), "an audit row twice: {audit:#?}");
    let actions: Vec<(&str, &str)> = rows
        .iter()
        .map(|(a, who, _)| (a.as_str(), who.as_str()))
        .collect();
    assert_eq!(
        actions,
        [("waiver.created", "carol"), ("waiver.refused", "alice")]
    );
    assert_eq!(c.waivers(false).await.len(), 1);
    c.expect_status(QA, "success", "approved by @bob").await;
    c.expect_status(SECURITY, "success", "waived by @carol")
        .await;
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_webhooks_are_refused_and_change_nothing() {
    let c = Case::start().await;
    let id = c.comment("carol", "/sop-n/a security docs only");
    let hook = c.comment_hook(id, "created");

    // Unsigned, as from a hook without a secret.
    assert_eq!(
        c.bot
            .post(&hook.signed_headers(""), hook.body.clone())
            .await,
        (401, "missing signature".to_string())
    );
    // Signed with another secret.
    assert_eq!(
        c.bot
            .post(&hook.signed_headers("not-the-secret"), hook.body.clone())
            .await,
        (401, "bad signature".to_string())
    );
    // Correctly signed, but not the event it claims.
    for body in [b"{not json".to_vec(), b"{}".to_vec(), b"[1,2]".to_vec()] {
        let bad = Delivery::new("issue_comment", "pull_request_comment", body.clone());
        let (status, why) = c.bot.deliver(&bad).await;
        assert_eq!(status, 400, "{} → {why}", String::from_utf8_lossy(&body));
    }
    // Over the 64 KiB limit.
    let mut big = hook.json();
    big["comment"]["body"] = Value::from("x".repeat(70 * 1024));
    let big = Delivery::new(
        "issue_comment",
        "pull_request_comment",
        serde_json::to_vec(&big).unwrap(),
    );
    assert_eq!(c.bot.deliver(&big).await.0, 413);

    // Still serving; nothing of the refused deliveries was stored or done.
    assert_eq!(c.bot.get("/healthz").await, (200, "ok".to_string()));
    assert!(c.replies(id).is_empty());
    assert_eq!(c.eyes(id), 0);
    assert!(c.waivers(true).await.is_empty());
    // The same comment, properly signed, is new to the bot.
    assert_eq!(c.deliver(&hook).await, "queued");
    c.reply(id).await;
    c.expect_status(SECURITY, "success", "waived by @carol")
        .await;
    assert_eq!(c.waivers(false).await.len(), 1);
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_bot_cleanly() {
    let mut c = Case::start().await;
    let id = c.say("bob", "/refire qa").await;
    c.reply(id).await;
    let status = c.bot.terminate(WAIT).await;
    assert_eq!(status.code(), Some(0), "{}", c.log());
    c.finish();
}

// ----- what the poller catches up ----------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_whose_webhook_was_lost_is_caught_by_the_poller() {
    let c = Case::start_polling().await;
    c.approve("bob").await;
    c.expect_status(QA, "success", "approved by @bob").await;
    let new = c.world(|w| w.push(REPO, PR));
    c.expect_status_on(&new, QA, "success", "approved by @bob")
        .await;
    c.expect_status_on(&new, SECURITY, "failure", "awaiting")
        .await;
    c.expect_status_on(&new, NA, "success", "no gates waived")
        .await;
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_whose_webhook_was_lost_is_caught_by_the_poller() {
    let c = Case::start_polling().await;
    c.expect_status(QA, "failure", "awaiting").await;
    // A review moves the PR's `updated_at`: the fast pass lists it.
    c.world(|w| w.review(REPO, PR, "bob", "APPROVED", "lgtm"));
    c.expect_status(QA, "success", "approved by @bob").await;
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_review_re_requested_while_its_webhook_was_lost_is_caught_by_the_poller() {
    let c = Case::start_polling().await;
    c.approve("bob").await;
    c.expect_status(QA, "success", "approved by @bob").await;
    // Re-requesting bob's review clears `official` on his approval (Gitea's AddReviewRequest):
    // it no longer counts, and the request moves the PR's `updated_at`.
    c.world(|w| w.request_review(REPO, PR, "bob"));
    c.expect_status(QA, "failure", "").await;
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pr_closed_while_its_webhook_was_lost_still_expires_its_waivers() {
    let c = Case::start_polling().await;
    let waive = c.say("carol", "/sop-n/a security docs only").await;
    c.reply(waive).await;
    assert_eq!(c.waivers(false).await.len(), 1);
    c.world(|w| w.close_pr(REPO, PR, true));
    c.eventually("the waiver of the merged PR to expire", || async {
        c.waivers(false).await.is_empty().then_some(())
    })
    .await;
    let all = c.waivers(true).await;
    assert_eq!(all[0]["revoked_by"], "sopbot");
    assert_eq!(all[0]["revoke_reason"], "PR merged");
    // The webhook turns up after all: the same event, nothing more happens.
    let late = c.world(|w| w.webhook_for_pr(REPO, PR, "closed"));
    assert_eq!(c.deliver(&late).await, "duplicate");
    assert_eq!(c.audit_of("waiver.expired").await.len(), 1);
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiver_comment_deleted_while_its_webhook_was_lost_is_caught_by_the_poller() {
    let c = Case::start_polling().await;
    let waive = c.say("carol", "/sop-n/a security docs only").await;
    c.reply(waive).await;
    c.expect_status(SECURITY, "success", "waived by @carol")
        .await;
    c.world(|w| w.delete_comment(REPO, waive));
    c.expect_status(SECURITY, "failure", "awaiting").await;
    c.expect_status(NA, "success", "no gates waived").await;
    let all = c.waivers(true).await;
    assert_eq!(all[0]["revoked_by"], "sopbot");
    // The webhook turns up after all: nothing more to revoke.
    c.deliver(&c.comment_hook(waive, "deleted")).await;
    c.barrier().await;
    assert_eq!(c.audit_of("waiver.revoked").await.len(), 1);
    c.finish();
}

// ----- the reasons a reply gives ---------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiver_without_a_reason_gets_usage_help_and_changes_nothing() {
    let c = Case::start().await;
    let id = c.say("carol", "/sop-n/a security").await;
    let reply = c.reply(id).await;
    assert!(
        reply.contains("- line 1: missing reason: say why the gate does not apply; usage: /sop-n/a [GATE...] REASON"),
        "{reply}"
    );
    assert!(!reply.contains("Gates on"), "nothing to evaluate: {reply}");
    assert!(c.waivers(true).await.is_empty());
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refire_explains_an_approval_by_someone_outside_the_team() {
    let c = Case::start().await;
    c.approve("dave").await;
    let id = c.say("alice", "/refire qa").await;
    let reply = c.reply(id).await;
    assert!(
        reply.contains("| qa | ❌ failure | awaiting an approval from a member of team qa (@dave is not in it) |"),
        "{reply}"
    );
    assert!(
        reply.contains("- `qa`: @dave approved but is not a member of the gate's team"),
        "{reply}"
    );
    c.expect_status(QA, "failure", "@dave is not in it").await;
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_the_bot_cannot_read_is_an_error_with_the_fix_until_provisioned() {
    // The seed's 403: the bot is in the org (through qa) but not in security.
    let mut w = world();
    let security = w.team_id("security");
    w.remove_team_member(security, "sopbot");
    let c = Case::start_with(w, 0).await;
    c.world(|w| w.review(REPO, PR, "carol", "APPROVED", "ok"));
    let id = c.say("alice", "/refire security").await;
    let reply = c.reply(id).await;
    assert!(
        reply.contains("the bot's token got **403** reading the team of @carol's approval. An admin must add the bot account to that team"),
        "{reply}"
    );
    c.expect_status(SECURITY, "error", "may not read it (403)")
        .await;

    // An admin provisions the bot, and someone asks again: every /refire looks afresh.
    c.world(|w| w.add_team_member(security, "sopbot"));
    let again = c.say("alice", "/refire security").await;
    let reply = c.reply(again).await;
    assert!(
        reply.contains("| security | ✅ success | approved by @carol (team security) |"),
        "{reply}"
    );
    c.expect_status(SECURITY, "success", "approved by @carol")
        .await;
    c.finish();
}

/// The core conversations once more against the emulator in Forgejo mode (`gitea_emu::flavor`):
/// Forgejo's version string, its lower-case `token` auth and its `X-Forgejo-*` webhook headers.
/// Only these few: the rest of the suite does not depend on which server sends the events.
mod forgejo {
    use super::*;

    async fn start() -> Case {
        let c = Case::start_as(Flavor::Forgejo).await;
        assert_eq!(c.world(|w| w.flavor()), Flavor::Forgejo);
        c
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refire_before_and_after_an_approval() {
        let c = start().await;
        assert!(
            c.log()
                .contains("talking to Forgejo 11.0.3 (Gitea 1.22.0 compatible)"),
            "the bot logs the server it found: {}",
            c.log()
        );
        refire_qa_before_and_after_bobs_approval(c).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_push_moves_the_statuses() {
        push_moves_the_statuses(start().await).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_waiver_then_its_revocation() {
        let c = start().await;
        security_member_waives(c).await;
        declarer_revokes(start().await).await
    }

    /// Only Forgejo's own headers, as a receiver that reads just those would see them: the
    /// `X-Forgejo-Signature` is checked (a wrong one is refused even when the others are
    /// right), and `X-Forgejo-Event-Type`/`-Delivery` are enough to route the event.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_x_forgejo_signature_is_checked() {
        let c = start().await;
        let id = c.comment("carol", "/sop-n/a security docs only");
        let hook = c.comment_hook(id, "created");
        let good = hook.signed_headers(common::serve::SECRET);
        assert!(good.iter().any(|(k, _)| k == "X-Forgejo-Signature"));

        let forged: Vec<(String, String)> = good
            .iter()
            .map(|(k, v)| match k.as_str() {
                "X-Forgejo-Signature" => (k.clone(), hook.signature("not-the-secret")),
                _ => (k.clone(), v.clone()),
            })
            .collect();
        assert_eq!(
            c.bot.post(&forged, hook.body.clone()).await,
            (401, "bad signature".to_string())
        );
        assert!(c.replies(id).is_empty());

        let only_forgejo: Vec<(String, String)> = good
            .into_iter()
            .filter(|(k, _)| k == "Content-Type" || k.starts_with("X-Forgejo-"))
            .collect();
        assert_eq!(only_forgejo.len(), 5);
        assert_eq!(c.bot.post(&only_forgejo, hook.body.clone()).await.0, 202);
        c.reply(id).await;
        c.expect_status(SECURITY, "success", "waived by @carol")
            .await;
        c.finish();
    }
}
