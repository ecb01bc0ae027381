//! A [`Tester`]: one test's world — the emulator, a config in a temp dir, the bot (in-process by
//! default, the real `sopbot serve` process where the process matters) — driven by what people
//! do on alice's PR #7 (`comment`, `approve`, `push`, `dismiss`, `request_review`, `close`) and
//! checked by what they see (`expect_status`, `expect_reply`, `expect_no_reply`, the CLI's
//! waivers and audit).
//!
//! Every wait polls for the expected outcome with a deadline; "nothing happened" is proven with
//! a barrier: a later command on the same PR, whose reply means every earlier event of the PR
//! was handled (the inbox runs one PR's events in arrival order). A test ends with
//! [`Tester::finish`], which fails if the bot posted a reply the test did not look at, or more
//! than one reply to a comment.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use gitea_emu::{Comment, Delivery, Emulator, Flavor, Status, World};
use serde_json::Value;

use super::inproc::InProc;
use super::serve::{tail, wait_for, Bot, SECRET};
use super::{sopbot, stderr, stdout, write_config, ConfigToml};

pub const REPO: &str = "widgets";
pub const PR: u64 = 7;
/// Upper bound for anything the bot does in answer to one event.
pub const WAIT: Duration = Duration::from_secs(10);

/// The example world (alice's PR #7; bob in qa, carol in security, sopbot in both) plus dave,
/// who is in no team, and the `managers` team the config lets waive every gate.
pub fn world() -> World {
    World::example()
        .with_user("dave")
        .with_team("managers", &["mia", "sopbot"])
}

/// The bot under test: in-process, or the real binary as a child process.
pub enum Runner {
    InProc(InProc),
    Process(Bot),
}

impl Runner {
    pub fn login(&self) -> &str {
        match self {
            Runner::InProc(b) => &b.login,
            Runner::Process(b) => &b.login,
        }
    }

    /// Posts a delivery signed with the config's secret, as Gitea would.
    pub async fn deliver(&self, d: &Delivery) -> (u16, String) {
        self.post(&d.signed_headers(SECRET), d.body.clone()).await
    }

    /// Posts a delivery that must be accepted (202); returns the answer's body.
    pub async fn deliver_ok(&self, d: &Delivery) -> String {
        let (status, body) = self.deliver(d).await;
        assert_eq!(
            status, 202,
            "delivery {} {} answered {status} {body}",
            d.event_type, d.delivery_id
        );
        body
    }

    /// `POST /webhook` with exactly these headers and body.
    pub async fn post(&self, headers: &[(String, String)], body: Vec<u8>) -> (u16, String) {
        match self {
            Runner::InProc(b) => b.post(headers, body).await,
            Runner::Process(b) => b.post(headers, body).await,
        }
    }

    /// `GET path`: status and body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        match self {
            Runner::InProc(b) => b.get(path).await,
            Runner::Process(b) => b.get(path).await,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        match self {
            Runner::InProc(b) => &b.url,
            Runner::Process(b) => &b.url,
        }
    }

    fn process(&mut self) -> &mut Bot {
        match self {
            Runner::Process(b) => b,
            Runner::InProc(_) => panic!("signals need the bot as a process: Tester::process()"),
        }
    }

    /// SIGKILL the process.
    pub fn kill(&mut self) {
        self.process().kill()
    }

    /// SIGTERM the process and wait for its exit.
    pub async fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        self.process().terminate(timeout).await
    }
}

/// What runs on the emulator before the bot starts.
type Prepare = Box<dyn FnOnce(&Emulator)>;

/// How a [`Tester`] starts: the world, the config, in-process or as a process.
pub struct Setup {
    world: World,
    config: Box<dyn FnOnce(ConfigToml) -> ConfigToml>,
    process: bool,
    /// Run on the emulator before the bot starts (faults to meet it with).
    prepare: Option<Prepare>,
}

impl Setup {
    /// The config on top of [`ConfigToml::new`] with the webhook secret.
    pub fn config(mut self, edit: impl FnOnce(ConfigToml) -> ConfigToml + 'static) -> Setup {
        let before = self.config;
        self.config = Box::new(move |c| edit(before(c)));
        self
    }

    /// The poller every second.
    pub fn polling(self) -> Setup {
        self.config(|c| c.poll(1, ""))
    }

    /// `f` on the emulator before the bot starts, e.g. a fault the bot meets at start-up.
    pub fn before_start(mut self, f: impl FnOnce(&Emulator) + 'static) -> Setup {
        self.prepare = Some(Box::new(f));
        self
    }

    /// The real `sopbot serve` binary instead of the in-process bot.
    pub fn process(mut self) -> Setup {
        self.process = true;
        self
    }

    pub async fn start(self) -> Tester {
        let emu = Emulator::start(self.world).await;
        if let Some(prepare) = self.prepare {
            prepare(&emu);
        }
        let dir = tempfile::tempdir().unwrap();
        let text = (self.config)(ConfigToml::new(&emu).webhook_secret(SECRET)).render();
        let config = write_config(dir.path(), &text);
        let log = dir.path().join("bot.log");
        let bot = if self.process {
            Runner::Process(Bot::start(&config, &log).await)
        } else {
            Runner::InProc(InProc::start(&config).await)
        };
        assert_eq!(bot.login(), "sopbot");
        Tester {
            dir,
            config,
            emu,
            bot,
            answered: Mutex::new(BTreeSet::new()),
        }
    }
}

/// One test's world: a temp dir with the config, database (and the process's log), the
/// emulator, and the running bot.
pub struct Tester {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub emu: Emulator,
    pub bot: Runner,
    /// Command comments whose reply the test has looked at.
    answered: Mutex<BTreeSet<i64>>,
}

impl Tester {
    /// [`world`], in-process, the poller off; change it with [`Setup`]'s methods.
    pub fn setup() -> Setup {
        Tester::setup_in(world())
    }

    pub fn setup_in(world: World) -> Setup {
        Setup {
            world,
            config: Box::new(|c| c),
            process: false,
            prepare: None,
        }
    }

    /// [`world`], in-process, the poller off.
    pub async fn start() -> Tester {
        Tester::setup().start().await
    }

    /// [`world`] as `flavor` serves it.
    pub async fn start_as(flavor: Flavor) -> Tester {
        Tester::setup_in(world().with_flavor(flavor)).start().await
    }

    /// The poller every second.
    pub async fn start_polling() -> Tester {
        Tester::setup().polling().start().await
    }

    /// The poller every second, sweeping every second.
    pub async fn start_sweeping() -> Tester {
        Tester::setup()
            .config(|c| c.poll(1, "sweep_interval = \"1s\"\n"))
            .start()
            .await
    }

    /// Starts a new bot process on the same config and database (kills the old one first).
    pub async fn restart(&mut self) {
        self.bot.kill();
        self.bot =
            Runner::Process(Bot::start(&self.config, &self.dir.path().join("bot.log")).await);
    }

    /// Stops the bot, rewrites the config with `edit`, and starts the bot the same way again
    /// (in-process or as a process) on the same database.
    pub async fn restart_with(&mut self, edit: impl FnOnce(String) -> String) {
        let text = edit(std::fs::read_to_string(&self.config).unwrap());
        std::fs::write(&self.config, text).unwrap();
        let log = self.dir.path().join("bot.log");
        self.bot = match &mut self.bot {
            Runner::Process(b) => {
                b.kill();
                Runner::Process(Bot::start(&self.config, &log).await)
            }
            Runner::InProc(b) => {
                b.stop().await;
                Runner::InProc(InProc::start(&self.config).await)
            }
        };
    }

    /// The bot's log (a process's; an in-process bot logs nowhere), for failure messages.
    pub fn log(&self) -> String {
        match self.bot {
            Runner::Process(_) => tail(&self.dir.path().join("bot.log")),
            Runner::InProc(_) => "(the bot ran in-process: no log)".into(),
        }
    }

    pub fn world<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        self.emu.with_world(f)
    }

    // ----- what people do ------------------------------------------------------------------

    /// `user` comments on the PR, and Gitea delivers the `created` webhook (accepted: 202).
    pub async fn comment(&self, user: &str, body: &str) -> i64 {
        self.comment_on(PR, user, body).await
    }

    /// [`Tester::comment`] on another PR of the repo, `pr`.
    pub async fn comment_on(&self, pr: u64, user: &str, body: &str) -> i64 {
        let id = self.world(|w| w.comment(REPO, pr, user, body));
        let hook = self.world(|w| w.webhook_for_comment(REPO, pr, id, "created"));
        self.deliver(&hook).await;
        id
    }

    /// `user` comments on the PR in Gitea; no webhook is delivered.
    pub fn comment_unsent(&self, user: &str, body: &str) -> i64 {
        self.world(|w| w.comment(REPO, PR, user, body))
    }

    pub fn comment_hook(&self, id: i64, action: &str) -> Delivery {
        self.world(|w| w.webhook_for_comment(REPO, PR, id, action))
    }

    /// Delivers a webhook that must be accepted (202); returns the answer's body.
    pub async fn deliver(&self, d: &Delivery) -> String {
        self.bot.deliver_ok(d).await
    }

    /// `reviewer` submits an approving review, and Gitea delivers its webhook.
    pub async fn approve(&self, reviewer: &str) {
        self.approve_on(PR, reviewer).await
    }

    /// [`Tester::approve`] on another PR of the repo, `pr`.
    pub async fn approve_on(&self, pr: u64, reviewer: &str) {
        let hook = self.world(|w| {
            w.review(REPO, pr, reviewer, "APPROVED", "lgtm");
            w.webhook_for_review(REPO, pr, reviewer, "approved")
        });
        self.deliver(&hook).await;
    }

    /// alice pushes a commit, and Gitea delivers `synchronized`. Returns the new head.
    pub async fn push(&self) -> String {
        let new = self.world(|w| w.push(REPO, PR));
        let hook = self.world(|w| w.webhook_for_pr(REPO, PR, "synchronized"));
        assert_eq!(hook.event_type, "pull_request_sync");
        self.deliver(&hook).await;
        new
    }

    /// An admin dismisses `reviewer`'s latest approval. Gitea sends no webhook for it.
    pub fn dismiss(&self, reviewer: &str) {
        self.world(|w| {
            let review = w
                .reviews(REPO, PR)
                .iter()
                .rev()
                .find(|r| r.state == "APPROVED" && r.user.as_deref() == Some(reviewer))
                .unwrap_or_else(|| panic!("no approval by {reviewer} to dismiss"))
                .id;
            w.dismiss(REPO, PR, review)
        });
    }

    /// alice re-requests `reviewer`'s review (its webhook lost: only the poller sees it).
    pub fn request_review(&self, reviewer: &str) {
        self.world(|w| w.request_review(REPO, PR, reviewer));
    }

    /// The PR is closed (or merged), and Gitea delivers `closed`.
    pub async fn close(&self, merged: bool) {
        let hook = self.world(|w| {
            w.close_pr(REPO, PR, merged);
            w.webhook_for_pr(REPO, PR, "closed")
        });
        self.deliver(&hook).await;
    }

    /// A `/sop-help` by dave, answered: every event of the PR delivered before it is handled.
    pub async fn barrier(&self) {
        self.barrier_on(PR).await
    }

    /// [`Tester::barrier`] on PR `pr`: every event of that PR delivered before it is handled.
    pub async fn barrier_on(&self, pr: u64) {
        let id = self.comment_on(pr, "dave", "/sop-help").await;
        self.expect_reply_on(pr, id).await;
    }

    // ----- what people see -----------------------------------------------------------------

    pub fn head(&self) -> String {
        self.world(|w| w.head_sha(REPO, PR))
    }

    /// The bot's replies to comment `id` (found by their hidden marker).
    pub fn replies(&self, id: i64) -> Vec<Comment> {
        self.replies_on(PR, id)
    }

    /// The bot's replies to comment `id` on PR `pr`.
    pub fn replies_on(&self, pr: u64, id: i64) -> Vec<Comment> {
        let marker = format!("<!-- sopbot:reply-to:{id} -->");
        self.world(|w| w.comments(REPO, pr))
            .into_iter()
            .filter(|c| c.user.as_deref() == Some("sopbot") && c.body.starts_with(&marker))
            .collect()
    }

    /// Waits for the bot's reply to comment `id` and returns its body.
    pub async fn expect_reply(&self, id: i64) -> String {
        self.expect_reply_on(PR, id).await
    }

    /// [`Tester::expect_reply`] to a comment on PR `pr`.
    pub async fn expect_reply_on(&self, pr: u64, id: i64) -> String {
        let body = wait_for(
            &format!("the reply to comment {id}"),
            WAIT,
            || self.log(),
            || self.replies_on(pr, id).first().map(|c| c.body.clone()),
        )
        .await;
        self.answered.lock().unwrap().insert(id);
        body
    }

    /// [`Tester::expect_reply`] without the hidden marker line: what a reader sees, for
    /// snapshots.
    pub async fn expect_reply_text(&self, id: i64) -> String {
        let body = self.expect_reply(id).await;
        let marker = format!("<!-- sopbot:reply-to:{id} -->");
        body.strip_prefix(&marker)
            .unwrap_or(&body)
            .trim_start_matches('\n')
            .to_string()
    }

    /// After a [`Tester::barrier`], comment `id` has no reply.
    pub async fn expect_no_reply(&self, id: i64) {
        self.barrier().await;
        let replies = self.replies(id);
        assert!(replies.is_empty(), "comment {id} got a reply: {replies:#?}");
    }

    /// Whether the bot reacted 👀 to comment `id`.
    pub fn eyes(&self, id: i64) -> usize {
        self.world(|w| w.reactions(id))
            .iter()
            .filter(|r| r.user == "sopbot" && r.content == "eyes")
            .count()
    }

    /// Waits until the latest `context` status on `sha` is the bot's, in `state`, with a
    /// description containing `words`.
    pub async fn expect_status_on(
        &self,
        sha: &str,
        context: &str,
        state: &str,
        words: &str,
    ) -> Status {
        let what = format!("{context} = {state} ({words:?}) by sopbot on {sha}");
        self.expect_status_where(sha, context, state, &what, |d| d.contains(words))
            .await
    }

    /// Waits until the latest `context` status on the current head is the bot's, in `state`,
    /// with exactly this `description`.
    pub async fn expect_status_is(&self, context: &str, state: &str, description: &str) -> Status {
        let sha = self.head();
        let what = format!("{context} = {state} {description:?} by sopbot on {sha}");
        self.expect_status_where(&sha, context, state, &what, |d| d == description)
            .await
    }

    /// Waits until the latest `context` status on `sha` is the bot's, in `state`, with a
    /// description that satisfies `ok`.
    async fn expect_status_where(
        &self,
        sha: &str,
        context: &str,
        state: &str,
        what: &str,
        ok: impl Fn(&str) -> bool,
    ) -> Status {
        wait_for(
            what,
            WAIT,
            || {
                let now = self.world(|w| w.latest_statuses(REPO, sha));
                format!("statuses now: {now:#?}\n{}", self.log())
            },
            || {
                self.world(|w| w.status(REPO, sha, context))
                    .filter(|s| s.creator == "sopbot" && s.state == state && ok(&s.description))
            },
        )
        .await
    }

    /// [`Tester::expect_status_on`] the current head.
    pub async fn expect_status(&self, context: &str, state: &str, words: &str) -> Status {
        self.expect_status_on(&self.head(), context, state, words)
            .await
    }

    /// `sopbot ARGS… --json`, parsed.
    pub async fn cli_json(&self, args: &[&str]) -> Vec<Value> {
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
    pub async fn waivers(&self, all: bool) -> Vec<Value> {
        if all {
            self.cli_json(&["waivers", "list", "--all"]).await
        } else {
            self.cli_json(&["waivers", "list"]).await
        }
    }

    /// `sopbot audit --json`.
    pub async fn audit(&self) -> Vec<Value> {
        self.cli_json(&["audit"]).await
    }

    /// The audit rows with this action.
    pub async fn audit_of(&self, action: &str) -> Vec<Value> {
        self.audit()
            .await
            .into_iter()
            .filter(|a| a["action"] == action)
            .collect()
    }

    /// Polls an async check (a CLI call, say) every 50 ms until it gives a value.
    pub async fn eventually<T, Fut: Future<Output = Option<T>>>(
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
    pub async fn poller_pass(&self) {
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
    pub fn finish(&self) {
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
