//! The simulated people and network: one seeded RNG picks every action (what someone does in the
//! emulated Gitea), every delivery fault (dropped, duplicated, delayed and so reordered
//! webhooks), every Gitea fault and every SIGKILL, and the script records what a correct bot
//! must conclude from it — independently of the bot's code: which comment declared which
//! waiver, whether its author could waive that gate at the time, which replies are due.

use std::collections::{BTreeSet, HashSet};

use chrono::{SubsecRound, Utc};
use gitea_emu::{Delivery, World};

pub const REPO: &str = "widgets";
pub const FULL_REPO: &str = "acme/widgets";
/// Protected base branches (the bot's config says the same); `dev` is not protected.
pub const PROTECTED: [&str; 2] = ["main", "release"];
pub const BASES: [&str; 3] = ["main", "release", "dev"];

/// A gate: its name, status context, team, and the teams that may waive it.
pub struct GateDef {
    pub name: &'static str,
    pub context: &'static str,
    pub team: &'static str,
    pub waivable_by: [&'static str; 2],
}

pub const GATES: [GateDef; 2] = [
    GateDef {
        name: "qa",
        context: "qa-review / approved",
        team: "qa",
        waivable_by: ["qa", "managers"],
    },
    GateDef {
        name: "security",
        context: "security-review / approved",
        team: "security",
        waivable_by: ["security", "managers"],
    },
];

/// What the simulation can do; each kind can be switched off with `SOPBOT_SIM_DISABLE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Talk,
    Refire,
    Help,
    Waive,
    Revoke,
    NearMiss,
    Combo,
    Edit,
    Delete,
    Review,
    Dismiss,
    Request,
    Push,
    SharedHead,
    Membership,
    CloseReopen,
    // Faults.
    Drop,
    Duplicate,
    Delay,
    GiteaFault,
    Kill,
}

impl Kind {
    pub const ALL: [Kind; 21] = [
        Kind::Talk,
        Kind::Refire,
        Kind::Help,
        Kind::Waive,
        Kind::Revoke,
        Kind::NearMiss,
        Kind::Combo,
        Kind::Edit,
        Kind::Delete,
        Kind::Review,
        Kind::Dismiss,
        Kind::Request,
        Kind::Push,
        Kind::SharedHead,
        Kind::Membership,
        Kind::CloseReopen,
        Kind::Drop,
        Kind::Duplicate,
        Kind::Delay,
        Kind::GiteaFault,
        Kind::Kill,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Talk => "talk",
            Kind::Refire => "refire",
            Kind::Help => "help",
            Kind::Waive => "waive",
            Kind::Revoke => "revoke",
            Kind::NearMiss => "near-miss",
            Kind::Combo => "combo",
            Kind::Edit => "edit",
            Kind::Delete => "delete",
            Kind::Review => "review",
            Kind::Dismiss => "dismiss",
            Kind::Request => "request",
            Kind::Push => "push",
            Kind::SharedHead => "shared-head",
            Kind::Membership => "membership",
            Kind::CloseReopen => "close-reopen",
            Kind::Drop => "drop",
            Kind::Duplicate => "duplicate",
            Kind::Delay => "delay",
            Kind::GiteaFault => "gitea-fault",
            Kind::Kill => "kill",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s.trim())
    }

    /// Relative weight among the user actions (faults have their own probabilities).
    fn weight(self) -> u32 {
        match self {
            Kind::Talk => 6,
            Kind::Refire => 8,
            Kind::Help => 2,
            Kind::Waive => 14,
            Kind::Revoke => 7,
            Kind::NearMiss => 8,
            Kind::Combo => 3,
            Kind::Edit => 5,
            Kind::Delete => 4,
            Kind::Review => 16,
            Kind::Dismiss => 5,
            Kind::Request => 2,
            Kind::Push => 8,
            Kind::SharedHead => 3,
            Kind::Membership => 5,
            Kind::CloseReopen => 4,
            _ => 0,
        }
    }
}

/// One command of a comment, in line order. `Waive(None)`: no gate named, so every gate the
/// declarer may waive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Waive(Option<Vec<&'static str>>),
    Revoke(Vec<&'static str>),
}

/// How many replies a comment must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replies {
    One,
    Zero,
    AtMostOne,
}

/// One body a comment had, and what its author could do when it was written.
#[derive(Debug, Clone)]
pub struct Version {
    pub step: usize,
    pub body: String,
    /// The commands a correct parser reads in the body.
    pub ops: Vec<Op>,
    /// Gates the author could waive then: in a `waivable_by` team and not the PR's author.
    pub may_waive: Vec<&'static str>,
    /// Gates whose waiving team the author was in then (may revoke).
    pub in_waiving_team: Vec<&'static str>,
    /// An edit (not the comment as first posted).
    pub edited: bool,
    /// Whether the author is the PR's author (who may never waive).
    pub is_author: bool,
}

/// A comment the simulation posted.
#[derive(Debug, Clone)]
pub struct CommentRec {
    pub id: i64,
    pub pr: u64,
    /// The author's login as Gitea spells it.
    pub author: String,
    pub versions: Vec<Version>,
    pub replies: Replies,
    pub deleted: bool,
}

/// The simulation's knobs for one seed.
#[derive(Debug, Clone)]
pub struct Options {
    pub actions: usize,
    pub disabled: BTreeSet<Kind>,
}

impl Options {
    pub fn on(&self, k: Kind) -> bool {
        !self.disabled.contains(&k)
    }
}

/// What a step asks of the runner besides its deliveries.
#[derive(Debug, Default)]
pub struct StepOut {
    pub deliveries: Vec<Delivery>,
}

/// The script: the world's builder, the seed's RNG and every record the oracle needs.
pub struct Script {
    pub rng: fastrand::Rng,
    pub opts: Options,
    pub handle_edits: bool,
    pub comments: Vec<CommentRec>,
    /// (pr, step) of every close.
    pub closes: Vec<(u64, usize)>,
    pub membership_changed: bool,
    /// (step, login, team) of every addition to a team: the bot decides a comment when it
    /// handles it, which a retry after a fault may put after such a change.
    pub grants: Vec<(usize, String, &'static str)>,
    /// When the last membership change happened, for the runner's wait for a sweep.
    pub last_membership_change: Option<std::time::SystemTime>,
    /// (step, pr, what): the action script, for failure messages.
    pub log: Vec<(usize, Option<u64>, String)>,
    pub step: usize,
    pub prs: Vec<u64>,
    users: Vec<String>,
}

impl Script {
    /// The seed's scene: alice (maybe `Alice`) authors, bob in qa, carol in security, mia
    /// (maybe `Mia`) in managers, dave and erin in no team; PRs into `main`, some sharing a
    /// head branch with a PR into `release` (protected) or `dev` (not).
    pub fn new(seed: u64, opts: Options) -> (Script, World) {
        let mut rng = fastrand::Rng::with_seed(seed);
        let author = if rng.bool() { "Alice" } else { "alice" };
        let mia = if rng.bool() { "Mia" } else { "mia" };
        let mut w = World::new("acme")
            .with_clock(Utc::now().trunc_subsecs(0))
            .with_user(author)
            .with_user("bob")
            .with_user("carol")
            .with_user(mia)
            .with_user("dave")
            .with_user("erin")
            .with_bot("sopbot")
            .with_team("qa", &["bob", "sopbot"])
            .with_team("security", &["carol", "sopbot"])
            .with_team("managers", &[&mia.to_lowercase(), "sopbot"])
            // Gate teams write code, so their approvals are official (README: Gitea setup).
            .with_team_permission("qa", "write")
            .with_team_permission("security", "write")
            .with_repo(REPO)
            .with_branch(REPO, "release", true)
            .with_branch(REPO, "dev", false)
            .with_next_index(REPO, 7);
        let mut prs = vec![
            w.open_pr(REPO, author, "main", "feature/a"),
            w.open_pr(
                REPO,
                if rng.bool() { "carol" } else { author },
                "main",
                "feature/b",
            ),
        ];
        if opts.on(Kind::SharedHead) {
            if rng.bool() {
                prs.push(w.open_pr_from_branch(REPO, author, "dev", "feature/a"));
            }
            if rng.bool() {
                prs.push(w.open_pr_from_branch(REPO, "dave", "release", "feature/b"));
            }
        }
        let handle_edits = rng.bool();
        let users = [author, "bob", "carol", mia, "dave", "erin"]
            .map(String::from)
            .to_vec();
        let s = Script {
            rng,
            opts,
            handle_edits,
            comments: Vec::new(),
            closes: Vec::new(),
            membership_changed: false,
            grants: Vec::new(),
            last_membership_change: None,
            log: Vec::new(),
            step: 0,
            prs,
            users,
        };
        (s, w)
    }

    /// The `opened` deliveries of the scene's PRs.
    pub fn opening(&mut self, w: &World) -> Vec<Delivery> {
        let prs = self.prs.clone();
        for &n in &prs {
            self.note(Some(n), format!("opened #{n} ({})", describe_pr(w, n)));
        }
        prs.iter()
            .map(|&n| w.webhook_for_pr(REPO, n, "opened"))
            .collect()
    }

    fn note(&mut self, pr: Option<u64>, what: String) {
        self.log.push((self.step, pr, what));
    }

    /// The next action's kind (the runner lets the bot catch up before a membership change).
    pub fn pick_kind(&mut self) -> Kind {
        let kinds: Vec<Kind> = Kind::ALL
            .into_iter()
            .filter(|k| k.weight() > 0 && self.opts.on(*k))
            .collect();
        let total: u32 = kinds.iter().map(|k| k.weight()).sum();
        let mut x = self.rng.u32(0..total.max(1));
        for k in kinds {
            if x < k.weight() {
                return k;
            }
            x -= k.weight();
        }
        Kind::Talk
    }

    fn pick<T: Clone>(&mut self, xs: &[T]) -> T {
        xs[self.rng.usize(..xs.len())].clone()
    }

    /// A login as someone might type it: Gitea finds users case-insensitively.
    fn typed(&mut self, login: &str) -> String {
        match self.rng.u32(0..6) {
            0 => login.to_uppercase(),
            1 => login.to_lowercase(),
            _ => login.to_string(),
        }
    }

    fn open_prs(&self, w: &World) -> Vec<u64> {
        self.prs
            .iter()
            .copied()
            .filter(|&n| !w.issue(REPO, n).closed)
            .collect()
    }

    /// One random user action: changes the world, returns Gitea's deliveries for it.
    pub fn act(&mut self, w: &mut World, kind: Kind) -> StepOut {
        self.step += 1;
        let open = self.open_prs(w);
        let mut out = StepOut::default();
        let Some(&n) = open.get(self.rng.usize(..open.len().max(1))) else {
            // Every PR closed: reopen one.
            let n = self.pick(&self.prs.clone());
            self.reopen(w, n, &mut out);
            return out;
        };
        match kind {
            Kind::Talk => {
                let who = self.pick(&self.users.clone());
                let body = "Looks reasonable; see src/lib.rs/parse() for /path and the qa notes.";
                self.post(w, n, &who, body, vec![], Replies::Zero, &mut out);
            }
            Kind::Refire => {
                let who = self.pick(&self.users.clone());
                let body = self.pick(&["/refire", "/refire qa", "/refire all", "/refire security"]);
                self.post(w, n, &who, body, vec![], Replies::One, &mut out);
            }
            Kind::Help => {
                let who = self.pick(&self.users.clone());
                self.post(w, n, &who, "/sop-help", vec![], Replies::One, &mut out);
            }
            Kind::Waive => {
                let who = self.pick(&self.users.clone());
                let (text, gates) = self.pick(&[
                    ("qa", Some(vec!["qa"])),
                    ("security", Some(vec!["security"])),
                    ("qa-review", Some(vec!["qa"])),
                    ("qa, security", Some(vec!["qa", "security"])),
                    ("", None),
                ]);
                let body = format!("/sop-n/a {text} docs-only change");
                let ops = vec![Op::Waive(gates)];
                self.post(w, n, &who, &body, ops, Replies::One, &mut out);
            }
            Kind::Revoke => {
                let who = self.pick(&self.users.clone());
                let gate = self.pick(&["qa", "security"]);
                let body = format!("/sop-revoke {gate}");
                let ops = vec![Op::Revoke(vec![gate])];
                self.post(w, n, &who, &body, ops, Replies::One, &mut out);
            }
            Kind::NearMiss => {
                // By someone who may waive qa, so that a misread would be an "authorised" waiver.
                let who = self.pick(&["bob".to_string(), self.users[3].clone()]);
                let (body, replies) = self.pick(&NEAR_MISSES);
                self.post(w, n, &who, body, vec![], replies, &mut out);
            }
            Kind::Combo => {
                let who = self.pick(&["bob".to_string(), self.users[3].clone()]);
                let (body, ops) = if self.rng.bool() {
                    (
                        "/sop-n/a qa docs only\n/sop-revoke qa",
                        vec![Op::Waive(Some(vec!["qa"])), Op::Revoke(vec!["qa"])],
                    )
                } else {
                    (
                        "/sop-revoke qa\n/sop-n/a qa docs only",
                        vec![Op::Revoke(vec!["qa"]), Op::Waive(Some(vec!["qa"]))],
                    )
                };
                self.post(w, n, &who, body, ops, Replies::One, &mut out);
            }
            Kind::Edit => self.edit(w, &mut out),
            Kind::Delete => self.delete(w, &mut out),
            Kind::Review => self.review(w, n, &mut out),
            Kind::Dismiss => {
                let live: Vec<i64> = w
                    .reviews(REPO, n)
                    .iter()
                    .filter(|r| {
                        !r.dismissed && (r.state == "APPROVED" || r.state == "REQUEST_CHANGES")
                    })
                    .map(|r| r.id)
                    .collect();
                if let Some(&id) = live.get(self.rng.usize(..live.len().max(1))) {
                    w.dismiss(REPO, n, id);
                    self.note(Some(n), format!("review {id} dismissed (no webhook)"));
                }
            }
            Kind::Request => {
                let who = self.pick(&["bob", "carol", "erin"]);
                let author = w.issue(REPO, n).author.clone();
                if !author.eq_ignore_ascii_case(who) {
                    // Clears `official` on an official reviewer's earlier reviews, as Gitea does.
                    w.request_review(REPO, n, who);
                    self.note(Some(n), format!("review requested from {who}"));
                    out.deliveries
                        .push(w.webhook_for_review_request(REPO, n, &author, who, false));
                }
            }
            Kind::Push => {
                let sha = w.push(REPO, n);
                let head_ref = w.pull(REPO, n).head_ref.clone();
                self.note(Some(n), format!("push {head_ref} -> {}", short(&sha)));
                for m in self.open_prs(w) {
                    if w.pull(REPO, m).head_ref == head_ref {
                        out.deliveries
                            .push(w.webhook_for_pr(REPO, m, "synchronized"));
                    }
                }
            }
            Kind::SharedHead => self.open_shared(w, n, &mut out),
            Kind::Membership => {
                let user = self.pick(&["erin", "bob", "carol", "dave"]);
                let team = self.pick(&["qa", "security", "managers"]);
                let id = w.team_id(team);
                let typed = self.typed(user);
                if w.is_team_member(id, user) {
                    w.remove_team_member(id, &typed);
                    self.note(None, format!("{user} removed from {team} (no webhook)"));
                } else {
                    w.add_team_member(id, &typed);
                    self.note(None, format!("{user} added to {team} (no webhook)"));
                    self.grants.push((self.step, user.to_string(), team));
                }
                self.membership_changed = true;
                self.last_membership_change = Some(std::time::SystemTime::now());
            }
            Kind::CloseReopen => {
                let closed: Vec<u64> = self
                    .prs
                    .iter()
                    .copied()
                    .filter(|&m| w.issue(REPO, m).closed)
                    .collect();
                if !closed.is_empty() && self.rng.bool() {
                    let m = self.pick(&closed);
                    self.reopen(w, m, &mut out);
                } else {
                    w.close_pr(REPO, n, false);
                    self.closes.push((n, self.step));
                    self.note(Some(n), format!("#{n} closed"));
                    out.deliveries.push(w.webhook_for_pr(REPO, n, "closed"));
                }
            }
            _ => unreachable!("faults are not picked as actions"),
        }
        out
    }

    fn reopen(&mut self, w: &mut World, n: u64, out: &mut StepOut) {
        // Another open PR from the same branch into the same base would make Gitea refuse.
        let (head_ref, base) = {
            let p = w.pull(REPO, n);
            (p.head_ref.clone(), p.base_ref.clone())
        };
        let clash = self.open_prs(w).into_iter().any(|m| {
            let p = w.pull(REPO, m);
            p.head_ref == head_ref && p.base_ref == base
        });
        if clash || !w.issue(REPO, n).closed {
            return;
        }
        w.reopen_pr(REPO, n);
        self.note(Some(n), format!("#{n} reopened"));
        out.deliveries.push(w.webhook_for_pr(REPO, n, "reopened"));
    }

    fn open_shared(&mut self, w: &mut World, n: u64, out: &mut StepOut) {
        if self.prs.len() >= 7 {
            return;
        }
        let head_ref = w.pull(REPO, n).head_ref.clone();
        let taken: HashSet<String> = self
            .prs
            .iter()
            .map(|&m| w.pull(REPO, m))
            .filter(|p| p.head_ref == head_ref)
            .map(|p| p.base_ref.clone())
            .collect();
        let free: Vec<&str> = BASES.into_iter().filter(|b| !taken.contains(*b)).collect();
        if free.is_empty() {
            return;
        }
        let base = self.pick(&free);
        let author = self.pick(&[self.users[0].clone(), "dave".to_string()]);
        let m = w.open_pr_from_branch(REPO, &author, base, &head_ref);
        self.prs.push(m);
        self.note(Some(m), format!("opened #{m} ({})", describe_pr(w, m)));
        out.deliveries.push(w.webhook_for_pr(REPO, m, "opened"));
    }

    fn review(&mut self, w: &mut World, n: u64, out: &mut StepOut) {
        let author = w.issue(REPO, n).author.clone();
        let who = self.pick(&self.users.clone());
        if who.eq_ignore_ascii_case(&author) {
            return;
        }
        let (state, kind) = self.pick(&[
            ("APPROVED", "approved"),
            ("APPROVED", "approved"),
            ("APPROVED", "approved"),
            ("REQUEST_CHANGES", "rejected"),
            ("COMMENT", "comment"),
        ]);
        let typed = self.typed(&who);
        w.review(REPO, n, &typed, state, "reviewed");
        self.note(Some(n), format!("{who} reviews {state}"));
        out.deliveries
            .push(w.webhook_for_review(REPO, n, &typed, kind));
    }

    /// Someone (an admin, or the author) edits a comment into a waiver.
    fn edit(&mut self, w: &mut World, out: &mut StepOut) {
        let live: Vec<usize> = (0..self.comments.len())
            .filter(|&i| !self.comments[i].deleted)
            .collect();
        if live.is_empty() {
            return;
        }
        let i = self.pick(&live);
        let (id, pr, author) = {
            let c = &self.comments[i];
            (c.id, c.pr, c.author.clone())
        };
        if w.issue(REPO, pr).closed {
            return;
        }
        let gate = self.pick(&["qa", "security"]);
        let body = format!("/sop-n/a {gate} edited in later");
        w.edit_comment(REPO, id, &body);
        let v = self.version(
            w,
            pr,
            &author,
            &body,
            vec![Op::Waive(Some(vec![gate]))],
            true,
        );
        let c = &mut self.comments[i];
        c.versions.push(v);
        // An edit makes one reply uncertain both ways: a comment the bot first sees edited
        // (its creation's webhook lost) is ignored like any edit the bot cannot attribute.
        c.replies = Replies::AtMostOne;
        self.note(
            Some(pr),
            format!("comment {id} by {author} edited into {body:?}"),
        );
        out.deliveries
            .push(w.webhook_for_comment(REPO, pr, id, "edited"));
    }

    fn delete(&mut self, w: &mut World, out: &mut StepOut) {
        let live: Vec<usize> = (0..self.comments.len())
            .filter(|&i| !self.comments[i].deleted)
            .collect();
        if live.is_empty() {
            return;
        }
        let i = self.pick(&live);
        let c = &mut self.comments[i];
        c.deleted = true;
        // Deleted before the bot saw it, it may never be answered.
        if c.replies == Replies::One {
            c.replies = Replies::AtMostOne;
        }
        let (id, pr) = (c.id, c.pr);
        w.delete_comment(REPO, id);
        self.note(Some(pr), format!("comment {id} deleted"));
        out.deliveries
            .push(w.webhook_for_comment(REPO, pr, id, "deleted"));
    }

    fn version(
        &self,
        w: &World,
        pr: u64,
        author: &str,
        body: &str,
        ops: Vec<Op>,
        edited: bool,
    ) -> Version {
        let is_author = w.issue(REPO, pr).author.eq_ignore_ascii_case(author);
        let in_waiving_team: Vec<&'static str> = GATES
            .iter()
            .filter(|g| {
                g.waivable_by
                    .iter()
                    .any(|t| w.is_team_member(w.team_id(t), author))
            })
            .map(|g| g.name)
            .collect();
        Version {
            step: self.step,
            body: body.to_string(),
            ops,
            may_waive: if is_author {
                Vec::new()
            } else {
                in_waiving_team.clone()
            },
            in_waiving_team,
            edited,
            is_author,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn post(
        &mut self,
        w: &mut World,
        n: u64,
        who: &str,
        body: &str,
        ops: Vec<Op>,
        replies: Replies,
        out: &mut StepOut,
    ) {
        let author = w.user(who).expect("a known user").login.clone();
        let typed = self.typed(who);
        let id = w.comment(REPO, n, &typed, body);
        let v = self.version(w, n, &author, body, ops, false);
        self.note(
            Some(n),
            format!(
                "comment {id} by {author} (may waive {:?}): {body:?}",
                v.may_waive
            ),
        );
        self.comments.push(CommentRec {
            id,
            pr: n,
            author,
            versions: vec![v],
            replies,
            deleted: false,
        });
        out.deliveries
            .push(w.webhook_for_comment(REPO, n, id, "created"));
    }
}

/// Near-miss and hidden commands: none is a waiver. (body, replies due)
const NEAR_MISSES: [(&str, Replies); 9] = [
    ("/sop-n/a qs docs only", Replies::AtMostOne),
    ("/sop-n/a q\u{0430} docs only", Replies::AtMostOne),
    ("/sop-n/a \u{ff51}\u{ff41} docs only", Replies::AtMostOne),
    ("/sop-n/a qa-revue docs only", Replies::AtMostOne),
    ("Like this:\n\n    /sop-n/a qa docs only\n", Replies::Zero),
    (
        "- try:\n  ```\n  /sop-n/a qa docs only\n  ```\n",
        Replies::Zero,
    ),
    ("<pre>\n/sop-n/a qa docs only\n</pre>", Replies::AtMostOne),
    ("> /sop-n/a qa docs only", Replies::Zero),
    ("<!--\n/sop-n/a qa docs only\n-->", Replies::Zero),
];

pub fn short(sha: &str) -> &str {
    &sha[..sha.len().min(8)]
}

pub fn describe_pr(w: &World, n: u64) -> String {
    let (i, p) = (w.issue(REPO, n), w.pull(REPO, n));
    format!(
        "by {} {} -> {} at {}",
        i.author,
        p.head_ref,
        p.base_ref,
        short(&p.head_sha)
    )
}
