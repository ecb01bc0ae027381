//! Traffic and checks for the fault suite: a seeded mix of what people do on many PRs (comments,
//! commands, reviews, pushes), delivered as signed webhooks to the real `sopbot serve`, and the
//! checks that must hold once the bot is done, whatever went wrong on the way: every accepted
//! event done, one reply per command comment, statuses that match the world, no gate ever
//! passed without an approval or a waiver behind it, no waiver or audit row written twice.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use gitea_emu::{Delivery, Emulator, World};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::SqlitePool;

pub const REPO: &str = "widgets";
pub const FULL_REPO: &str = "acme/widgets";
pub const QA: &str = "qa-review / approved";
pub const SECURITY: &str = "security-review / approved";
pub const NA: &str = "sop-checklist / na-declarations (pull_request)";
pub const SECRET: &str = "faults-webhook-secret";

/// The §11 scene on a manual clock (every action a distinct second, so no two events share a
/// dedup key by accident), dave in no team, mia in `managers` (may waive both gates), and
/// `prs` open PRs by alice (#7 and more). Returns the world and the PR numbers.
pub fn world(prs: usize) -> (World, Vec<u64>) {
    let start = Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap();
    let mut w = World::example_at(start)
        .with_user("dave")
        .with_team("managers", &["mia", "sopbot"]);
    let mut numbers = vec![7];
    numbers.extend(w.open_prs(REPO, "alice", "main", "work/", prs.saturating_sub(1)));
    (w, numbers)
}

/// A `serve` config against `emu`: the qa and security gates, the database in `dir`, the
/// poller off, and the Gitea client's `timeout` (retries: 3).
pub fn config(emu: &Emulator, dir: &Path, timeout: &str) -> String {
    super::ConfigToml::new(emu)
        .timeout(timeout, 3)
        .server(&format!("webhook_secret = \"{SECRET}\"\n"))
        .db(&dir.join("sopbot.db").display().to_string())
        .render()
}

/// What a user does on a PR before Gitea delivers the webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The PR's `opened` webhook (every plan starts with one per PR).
    Open,
    /// Discussion, no command (dave).
    Talk,
    /// `/refire` or `/refire security` (dave).
    Refire(bool),
    /// `/sop-n/a qa|security reason` (mia).
    Waive(&'static str),
    /// `/sop-revoke qa|security` (mia).
    Revoke(&'static str),
    /// A verdict: (reviewer, approve?).
    Review(&'static str, bool),
    /// A new commit on the head branch.
    Push,
}

impl Action {
    pub fn is_command(self) -> bool {
        matches!(
            self,
            Action::Refire(_) | Action::Waive(_) | Action::Revoke(_)
        )
    }

    fn pick(rng: &mut fastrand::Rng) -> Action {
        fn gate(rng: &mut fastrand::Rng) -> &'static str {
            if rng.bool() {
                "qa"
            } else {
                "security"
            }
        }
        match rng.u32(0..100) {
            0..20 => Action::Talk,
            20..40 => Action::Refire(rng.bool()),
            40..52 => Action::Waive(gate(rng)),
            52..57 => Action::Revoke(gate(rng)),
            57..67 => Action::Review("bob", rng.u32(0..3) > 0),
            67..77 => Action::Review("carol", rng.u32(0..3) > 0),
            77..85 => Action::Review("dave", true),
            _ => Action::Push,
        }
    }
}

/// A seeded plan: each PR opened, then `n` actions on `prs`, each PR's in order.
pub fn plan(seed: u64, prs: &[u64], n: usize) -> Vec<(u64, Action)> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let opened = prs.iter().map(|&pr| (pr, Action::Open));
    opened
        .chain((0..n).map(|_| (prs[rng.usize(..prs.len())], Action::pick(&mut rng))))
        .collect()
}

/// Performs `action` on PR `n` and builds Gitea's delivery; the comment id for comments, the
/// new head for a push.
pub fn act(w: &mut World, n: u64, action: Action) -> (Delivery, Option<i64>, Option<String>) {
    let comment = |w: &mut World, who: &str, body: &str| {
        let id = w.comment(REPO, n, who, body);
        (
            w.webhook_for_comment(REPO, n, id, "created"),
            Some(id),
            None,
        )
    };
    match action {
        Action::Open => (w.webhook_for_pr(REPO, n, "opened"), None, None),
        Action::Talk => comment(
            w,
            "dave",
            "Looks reasonable; see src/lib.rs/parse() for /path.",
        ),
        Action::Refire(all) => comment(w, "dave", if all { "/refire" } else { "/refire security" }),
        Action::Waive(gate) => comment(w, "mia", &format!("/sop-n/a {gate} docs-only change")),
        Action::Revoke(gate) => comment(w, "mia", &format!("/sop-revoke {gate}")),
        Action::Review(who, approve) => {
            let (state, kind) = if approve {
                ("APPROVED", "approved")
            } else {
                ("REQUEST_CHANGES", "rejected")
            };
            w.review(REPO, n, who, state, "reviewed");
            (w.webhook_for_review(REPO, n, who, kind), None, None)
        }
        Action::Push => {
            let sha = w.push(REPO, n);
            (w.webhook_for_pr(REPO, n, "synchronized"), None, Some(sha))
        }
    }
}

/// One action and what the bot answered its delivery (the last answer, after resends).
#[derive(Debug, Clone)]
pub struct Sent {
    pub pr: u64,
    pub action: Action,
    pub delivery: String,
    pub comment: Option<i64>,
    pub status: u16,
    pub answer: String,
    /// How many times it was sent (resent after a connection error: a bot being restarted).
    pub tries: u32,
}

/// Where the bot is: its URL changes when it is restarted (port 0).
#[derive(Clone)]
pub struct Target {
    url: Arc<RwLock<String>>,
    http: reqwest::Client,
}

impl Target {
    pub fn new(url: &str) -> Target {
        Target {
            url: Arc::new(RwLock::new(url.to_string())),
            http: reqwest::Client::new(),
        }
    }

    pub fn set(&self, url: &str) {
        *self.url.write().unwrap() = url.to_string();
    }

    fn url(&self) -> String {
        self.url.read().unwrap().clone()
    }

    /// Posts a delivery until the bot answers (resending after a connection error, as Gitea's
    /// "redeliver" would), for at most `patience`.
    async fn deliver(&self, d: &Delivery, patience: Duration) -> (u16, String, u32) {
        let deadline = Instant::now() + patience;
        let mut tries = 0;
        loop {
            tries += 1;
            let mut req = self.http.post(format!("{}/webhook", self.url()));
            for (k, v) in d.signed_headers(SECRET) {
                req = req.header(k, v);
            }
            match req.body(d.body.clone()).send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    if let Ok(answer) = resp.text().await {
                        return (status, answer, tries);
                    }
                }
                Err(_) if Instant::now() < deadline => {}
                Err(e) => return (0, e.to_string(), tries),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The PRs' head commits so far (statuses are checked on all of them).
pub type Heads = Arc<Mutex<HashMap<u64, Vec<String>>>>;

pub fn heads(emu: &Emulator, prs: &[u64]) -> Heads {
    let map = emu.with_world(|w| {
        prs.iter()
            .map(|&n| (n, vec![w.head_sha(REPO, n)]))
            .collect()
    });
    Arc::new(Mutex::new(map))
}

/// Sends `plan` from `senders` concurrent senders, each owning the PRs `n % senders`, so one
/// PR's deliveries go out in order. `on_accept` is called after each answered delivery.
pub async fn send(
    emu: &Arc<Emulator>,
    target: &Target,
    heads: &Heads,
    plan: &[(u64, Action)],
    senders: usize,
    on_accept: Arc<dyn Fn() + Send + Sync>,
) -> Vec<Sent> {
    let mut lanes: Vec<Vec<(u64, Action)>> = vec![Vec::new(); senders];
    for &(pr, action) in plan {
        lanes[pr as usize % senders].push((pr, action));
    }
    let mut tasks = tokio::task::JoinSet::new();
    for lane in lanes {
        let (emu, target, heads, on_accept) = (
            emu.clone(),
            target.clone(),
            heads.clone(),
            on_accept.clone(),
        );
        tasks.spawn(async move {
            let mut out = Vec::new();
            for (pr, action) in lane {
                let (d, comment, head) = emu.with_world(|w| act(w, pr, action));
                if let Some(sha) = head {
                    heads.lock().unwrap().entry(pr).or_default().push(sha);
                }
                let (status, answer, tries) = target.deliver(&d, Duration::from_secs(60)).await;
                on_accept();
                out.push(Sent {
                    pr,
                    action,
                    delivery: d.delivery_id,
                    comment,
                    status,
                    answer,
                    tries,
                });
            }
            out
        });
    }
    let mut all = Vec::new();
    while let Some(lane) = tasks.join_next().await {
        all.extend(lane.unwrap());
    }
    all
}

// ----- the bot's database ---------------------------------------------------------------------

pub async fn db(dir: &Path) -> SqlitePool {
    let options = SqliteConnectOptions::new()
        .filename(dir.join("sopbot.db"))
        .busy_timeout(Duration::from_secs(5));
    SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap()
}

/// Inbox rows by state.
pub async fn inbox_states(db: &SqlitePool) -> BTreeMap<String, i64> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT state, COUNT(*) FROM inbox GROUP BY state")
            .fetch_all(db)
            .await
            .unwrap();
    rows.into_iter().collect()
}

/// Waits until no event is pending or running, for at most `timeout`; panics with the inbox
/// and `log()` if it never happens.
pub async fn drained(db: &SqlitePool, timeout: Duration, log: impl Fn() -> String) {
    let deadline = Instant::now() + timeout;
    loop {
        let states = inbox_states(db).await;
        let open = states.get("pending").copied().unwrap_or(0)
            + states.get("running").copied().unwrap_or(0);
        if open == 0 {
            return;
        }
        if Instant::now() > deadline {
            let errors: Vec<(i64, String, i64, Option<String>)> = sqlx::query_as(
                "SELECT id, state, attempts, last_error FROM inbox
                 WHERE state <> 'done' ORDER BY id LIMIT 10",
            )
            .fetch_all(db)
            .await
            .unwrap();
            panic!(
                "events still open after {timeout:?}: {states:?}\n{errors:#?}\n{}",
                log()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `f` holds, polling every 20 ms for at most `timeout`.
pub async fn until<F, Fut>(what: &str, timeout: Duration, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !f().await {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ----- the checks -----------------------------------------------------------------------------

/// Every accepted delivery is a `done` event, and nothing else is left in the inbox.
pub async fn expect_every_accepted_event_done(db: &SqlitePool, sent: &[Sent]) {
    let states = inbox_states(db).await;
    assert_eq!(
        states.keys().collect::<Vec<_>>(),
        ["done"],
        "inbox: {states:?}"
    );
    let rows: Vec<(Option<String>, String)> =
        sqlx::query_as("SELECT delivery_id, state FROM inbox")
            .fetch_all(db)
            .await
            .unwrap();
    let done: HashMap<String, String> = rows
        .into_iter()
        .filter_map(|(d, s)| Some((d?, s)))
        .collect();
    for s in sent {
        assert_eq!(
            s.status, 202,
            "{:?} on #{} answered {} {}",
            s.action, s.pr, s.status, s.answer
        );
        assert_eq!(
            done.get(&s.delivery).map(String::as_str),
            Some("done"),
            "accepted {:?} on #{} ({}) is not done",
            s.action,
            s.pr,
            s.delivery
        );
    }
}

/// Every command comment has exactly one reply from the bot; nothing else has one.
pub fn expect_one_reply_per_command(emu: &Emulator, prs: &[u64], sent: &[Sent]) {
    let mut replies: HashMap<i64, usize> = HashMap::new();
    emu.with_world(|w| {
        for c in prs.iter().flat_map(|&n| w.comments(REPO, n)) {
            if c.user.as_deref() != Some("sopbot") {
                continue;
            }
            let id = c
                .body
                .strip_prefix("<!-- sopbot:reply-to:")
                .and_then(|rest| rest.split(' ').next())
                .and_then(|id| id.parse::<i64>().ok());
            if let Some(id) = id {
                *replies.entry(id).or_default() += 1;
            }
        }
    });
    for s in sent {
        let Some(id) = s.comment else { continue };
        let n = replies.remove(&id).unwrap_or(0);
        let want = usize::from(s.action.is_command());
        assert_eq!(
            n, want,
            "{:?} (comment {id} on #{}): {n} replies",
            s.action, s.pr
        );
    }
    assert!(
        replies.is_empty(),
        "replies to unknown comments: {replies:?}"
    );
}

/// No waiver comes twice from one comment, and no waiver has two `created` or `revoked` rows.
pub async fn expect_no_duplicate_waivers_or_audit(db: &SqlitePool) {
    let twice: Vec<(Option<i64>, String, i64)> = sqlx::query_as(
        "SELECT comment_id, gate, COUNT(*) FROM waivers WHERE comment_id IS NOT NULL
         GROUP BY comment_id, gate HAVING COUNT(*) > 1",
    )
    .fetch_all(db)
    .await
    .unwrap();
    assert!(twice.is_empty(), "waivers written twice: {twice:?}");
    let twice: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT action, waiver_id, COUNT(*) FROM audit WHERE waiver_id IS NOT NULL
         GROUP BY action, waiver_id HAVING COUNT(*) > 1",
    )
    .fetch_all(db)
    .await
    .unwrap();
    assert!(twice.is_empty(), "audit rows written twice: {twice:?}");
}

/// Gates with an active waiver on each PR, from the bot's own record.
pub async fn active_waivers(db: &SqlitePool) -> HashMap<u64, Vec<String>> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT pr, gate FROM waivers WHERE repo = ? AND revoked_at IS NULL ORDER BY gate",
    )
    .bind(FULL_REPO)
    .fetch_all(db)
    .await
    .unwrap();
    let mut out: HashMap<u64, Vec<String>> = HashMap::new();
    for (pr, gate) in rows {
        out.entry(pr as u64).or_default().push(gate);
    }
    out
}

/// Whether `who` has a counting approval on PR `n` now (official, not dismissed).
fn approves(w: &World, n: u64, who: &str) -> bool {
    w.reviews(REPO, n).iter().any(|r| {
        r.user.as_deref() == Some(who) && r.state == "APPROVED" && r.official && !r.dismissed
    })
}

/// A gate status that is not what the world and the waivers say: (pr, context, got, want).
pub type Wrong = (u64, &'static str, String, String);

/// The latest statuses on each PR's head against the world: a gate passes when its team's
/// member (bob for qa, carol for security) approves or it is waived. With `tolerate_errors`,
/// an `error` saying Gitea failed is accepted (it is the truth when the look-up failed).
pub fn wrong_statuses(
    emu: &Emulator,
    prs: &[u64],
    waived: &HashMap<u64, Vec<String>>,
    tolerate_errors: bool,
) -> Vec<Wrong> {
    let mut wrong = Vec::new();
    emu.with_world(|w| {
        for &n in prs {
            let head = w.head_sha(REPO, n);
            let latest = w.latest_statuses(REPO, &head);
            let got = |context: &str| {
                latest
                    .iter()
                    .find(|s| s.context == context)
                    .map(|s| (s.state.clone(), s.description.clone()))
            };
            let none = Vec::new();
            let waived = waived.get(&n).unwrap_or(&none);
            for (context, gate, member) in [(QA, "qa", "bob"), (SECURITY, "security", "carol")] {
                let want = if waived.iter().any(|g| g == gate) || approves(w, n, member) {
                    "success"
                } else {
                    "failure"
                };
                match got(context) {
                    Some((state, _)) if state == want => {}
                    Some((state, d))
                        if tolerate_errors && state == "error" && d.contains("Gitea") => {}
                    other => wrong.push((n, context, format!("{other:?}"), want.to_string())),
                }
            }
            let want_na = if waived.is_empty() {
                "no gates waived".to_string()
            } else {
                format!("N/A: {}", waived.join(", "))
            };
            match got(NA) {
                Some((state, d)) if state == "success" && d == want_na => {}
                other => wrong.push((n, NA, format!("{other:?}"), want_na)),
            }
        }
    });
    wrong
}

/// Every `success` ever posted on a gate context, on every head a PR had, names a member who
/// approved that PR or the waiver that covered it: a gate never passes because of an error.
pub async fn expect_every_success_justified(
    emu: &Emulator,
    db: &SqlitePool,
    heads: &Heads,
    prs: &[u64],
) {
    let waivers: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT pr, gate, declared_by FROM waivers WHERE repo = ?")
            .bind(FULL_REPO)
            .fetch_all(db)
            .await
            .unwrap();
    let heads = heads.lock().unwrap().clone();
    let mut checked = 0;
    emu.with_world(|w| {
        for &n in prs {
            let ever_approved = |who: &str| {
                w.reviews(REPO, n)
                    .iter()
                    .any(|r| r.user.as_deref() == Some(who) && r.state == "APPROVED")
            };
            for sha in heads.get(&n).into_iter().flatten() {
                for s in w.statuses(REPO, sha) {
                    let (gate, member, team) = match s.context.as_str() {
                        QA => ("qa", "bob", "qa"),
                        SECURITY => ("security", "carol", "security"),
                        _ => continue,
                    };
                    assert_eq!(s.creator, "sopbot");
                    assert!(
                        matches!(s.state.as_str(), "success" | "failure" | "error"),
                        "#{n} {}: state {}",
                        s.context,
                        s.state
                    );
                    if s.state != "success" {
                        continue;
                    }
                    checked += 1;
                    let by_approval = s.description
                        == format!("approved by @{member} (team {team})")
                        && ever_approved(member);
                    let by_waiver = s.description.starts_with("waived by @mia: ")
                        && waivers
                            .iter()
                            .any(|(pr, g, who)| *pr as u64 == n && g == gate && who == "mia");
                    assert!(
                        by_approval || by_waiver,
                        "#{n} {} = success on {sha} without an approval or waiver behind it: {:?}",
                        s.context,
                        s.description
                    );
                }
            }
        }
    });
    assert!(
        checked > 0,
        "no success was ever posted: the check proved nothing"
    );
}

/// What happened to PR `n`, for a failure message: the actions sent, the inbox rows, and every
/// status on its last head.
pub async fn story(emu: &Emulator, db: &SqlitePool, sent: &[Sent], n: u64) -> String {
    let actions: Vec<String> = sent
        .iter()
        .filter(|s| s.pr == n)
        .map(|s| format!("{:?} {} {} x{}", s.action, s.status, s.answer, s.tries))
        .collect();
    let rows: Vec<(i64, String, String, i64, Option<String>)> = sqlx::query_as(
        "SELECT id, kind, state, attempts, last_error FROM inbox WHERE pr = ? ORDER BY id",
    )
    .bind(n as i64)
    .fetch_all(db)
    .await
    .unwrap();
    let statuses: Vec<String> = emu.with_world(|w| {
        let head = w.head_sha(REPO, n);
        w.statuses(REPO, &head)
            .iter()
            .map(|s| format!("{} {} {:?}", s.context, s.state, s.description))
            .collect()
    });
    format!("#{n}\n  sent: {actions:#?}\n  inbox: {rows:#?}\n  statuses on head: {statuses:#?}")
}
