//! The checker: what must hold once the world has quiesced and a poll pass ran, computed from
//! the emulator's ground truth and the script's records, never from the bot's code.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use gitea_emu::World;
use sqlx::SqlitePool;

use super::script::{CommentRec, Op, Replies, Script, FULL_REPO, GATES, PROTECTED, REPO};

/// One broken invariant: which, and the precise facts.
#[derive(Debug, Clone)]
pub struct Violation {
    pub invariant: &'static str,
    pub pr: Option<u64>,
    pub detail: String,
}

fn v(invariant: &'static str, pr: Option<u64>, detail: String) -> Violation {
    Violation {
        invariant,
        pr,
        detail,
    }
}

/// A waiver row of the bot's database.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WaiverRow {
    pub id: i64,
    pub pr: i64,
    pub gate: String,
    pub declared_by: String,
    pub comment_id: Option<i64>,
    pub revoked_at: Option<String>,
}

pub async fn waiver_rows(db: &SqlitePool) -> Vec<WaiverRow> {
    sqlx::query_as(
        "SELECT id, pr, gate, declared_by, comment_id, revoked_at FROM waivers WHERE repo = ?
         ORDER BY id",
    )
    .bind(FULL_REPO)
    .fetch_all(db)
    .await
    .unwrap()
}

/// The version of the comment that declares `row` legitimately, if any: it waives that gate,
/// its author (the declarer) could waive it when it was written, and it is the comment as posted
/// or an edit the bot is configured to act on.
fn declaring(s: &Script, rec: &CommentRec, row: &WaiverRow) -> Option<(usize, usize)> {
    if !rec.author.eq_ignore_ascii_case(&row.declared_by) {
        return None;
    }
    rec.versions.iter().enumerate().find_map(|(vi, ver)| {
        if ver.edited && !s.handle_edits {
            return None;
        }
        let line = ver.ops.iter().position(|op| match op {
            Op::Waive(Some(gates)) => gates.iter().any(|g| *g == row.gate),
            Op::Waive(None) => true,
            Op::Revoke(_) => false,
        })?;
        // Authorised when written, or by a team it joined before the bot decided (a retry
        // after a fault decides later, on the membership of then).
        let granted_later = || {
            !ver.is_author
                && GATES.iter().filter(|g| g.name == row.gate).any(|g| {
                    s.grants.iter().any(|(step, who, team)| {
                        *step >= ver.step
                            && who.eq_ignore_ascii_case(&row.declared_by)
                            && g.waivable_by.contains(team)
                    })
                })
        };
        (ver.may_waive.iter().any(|g| *g == row.gate) || granted_later()).then_some((vi, line))
    })
}

/// Invariant 3, and the oracle's set of active waivers: every waiver row traces to a comment
/// whose author could waive that gate then; it is active when the bot says so and it was not
/// ended in Gitea (comment deleted, PR closed since, revoked by a later authorised command).
pub fn check_waivers(
    s: &Script,
    rows: &[WaiverRow],
    out: &mut Vec<Violation>,
) -> HashMap<(u64, String), i64> {
    let by_id: HashMap<i64, &CommentRec> = s.comments.iter().map(|c| (c.id, c)).collect();
    let mut active = HashMap::new();
    for row in rows {
        let pr = row.pr as u64;
        let Some(rec) = row.comment_id.and_then(|id| by_id.get(&id)) else {
            out.push(v(
                "waiver-traces-to-authorised-comment",
                Some(pr),
                format!(
                    "waiver #{} ({} on #{pr} by {}) names comment {:?}, which nobody posted",
                    row.id, row.gate, row.declared_by, row.comment_id
                ),
            ));
            continue;
        };
        let Some((vi, line)) = declaring(s, rec, row) else {
            out.push(v(
                "waiver-traces-to-authorised-comment",
                Some(pr),
                format!(
                    "waiver #{} ({} on #{pr} declared by {}) from comment {} by {}: no version \
                     of it waives {} by someone who could (edits acted on: {}); versions: {:?}",
                    row.id,
                    row.gate,
                    row.declared_by,
                    rec.id,
                    rec.author,
                    row.gate,
                    s.handle_edits,
                    rec.versions
                        .iter()
                        .map(|v| (v.body.as_str(), &v.may_waive, v.edited))
                        .collect::<Vec<_>>()
                ),
            ));
            continue;
        };
        if row.revoked_at.is_some() || rec.deleted {
            continue;
        }
        let at = (rec.versions[vi].step, rec.id, line);
        let closed_since = s.closes.iter().any(|&(n, step)| n == pr && step >= at.0);
        let revoked_later = s
            .comments
            .iter()
            // An edited comment may never have been seen as first posted (its creation's
            // webhook lost, the edit made within the second Gitea's `updated` resolves): its
            // first version's revoke is not a certainty.
            .filter(|c| !c.deleted && c.pr == pr && c.versions.len() == 1)
            .any(|c| {
                let first = &c.versions[0];
                let authorised = c.author.eq_ignore_ascii_case(&row.declared_by)
                    || first.in_waiving_team.iter().any(|g| *g == row.gate);
                authorised
                    && first.ops.iter().enumerate().any(|(l, op)| {
                        matches!(op, Op::Revoke(gates) if gates.iter().any(|g| *g == row.gate))
                            && (first.step, c.id, l) > at
                    })
            });
        if !closed_since && !revoked_later {
            active.insert((pr, row.gate.clone()), row.id);
        }
    }
    active
}

/// Whether PR `n` has a verified approval for `gate` now: APPROVED, not dismissed, official, not
/// by the author, by a current member of the gate's team.
pub fn approved(w: &World, n: u64, team: &str) -> Option<String> {
    let author = w.issue(REPO, n).author.clone();
    let team_id = w.team_id(team);
    w.reviews(REPO, n).into_iter().find_map(|r| {
        let who = r.user?;
        (r.state == "APPROVED"
            && !r.dismissed
            && r.official
            && !who.eq_ignore_ascii_case(&author)
            && w.is_team_member(team_id, &who))
        .then_some(who)
    })
}

/// Invariant 1 (and, where nothing outside the bot's view changed, its converse): on the head of
/// every open PR into a protected branch, a gate's latest status is `success` only if every such
/// PR with that head has a verified approval or an active waiver for it.
pub fn check_gates(
    s: &Script,
    w: &World,
    active: &HashMap<(u64, String), i64>,
    liveness: bool,
    out: &mut Vec<Violation>,
) {
    let mut by_head: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for &n in &s.prs {
        let (i, p) = (w.issue(REPO, n), w.pull(REPO, n));
        if !i.closed && PROTECTED.contains(&p.base_ref.as_str()) {
            by_head.entry(p.head_sha.clone()).or_default().push(n);
        }
    }
    for (sha, prs) in &by_head {
        for g in &GATES {
            let why = |n: u64| {
                approved(w, n, g.team)
                    .map(|who| format!("approved by {who}"))
                    .or_else(|| {
                        active
                            .get(&(n, g.name.to_string()))
                            .map(|id| format!("waiver #{id}"))
                    })
            };
            let unjustified: Vec<u64> = prs.iter().copied().filter(|&n| why(n).is_none()).collect();
            let seen = w.status(REPO, sha, g.context);
            let state = seen.as_ref().map(|s| s.state.as_str()).unwrap_or("none");
            let desc = seen.as_ref().map(|s| s.description.as_str()).unwrap_or("");
            if state == "success" && !unjustified.is_empty() {
                out.push(v(
                    "gate-success-needs-approval-or-waiver",
                    unjustified.first().copied(),
                    format!(
                        "{} on {sha} is success ({desc:?}) but open PR(s) {unjustified:?} with that \
                         head have no verified approval by a current {} member and no active \
                         waiver; PRs on this head: {:?}",
                        g.context,
                        g.team,
                        prs.iter().map(|&n| (n, why(n))).collect::<Vec<_>>()
                    ),
                ));
            }
            if liveness && state != "success" && unjustified.is_empty() {
                out.push(v(
                    "liveness-justified-gate-passes",
                    prs.first().copied(),
                    format!(
                        "{} on {sha} is {state} ({desc:?}) after quiescence and a poll pass, but \
                         every PR on it passes: {:?}",
                        g.context,
                        prs.iter().map(|&n| (n, why(n))).collect::<Vec<_>>()
                    ),
                ));
            }
        }
    }
}

/// Invariant 2b: every command comment has exactly one reply; no reply to anything else.
pub fn check_replies(s: &Script, w: &World, out: &mut Vec<Violation>) {
    let bot = w.bot().unwrap_or("sopbot").to_string();
    let mut replies: HashMap<i64, usize> = HashMap::new();
    for &n in &s.prs {
        for c in w.comments(REPO, n) {
            if !c
                .user
                .as_deref()
                .is_some_and(|u| u.eq_ignore_ascii_case(&bot))
            {
                continue;
            }
            let id = c
                .body
                .split("<!-- sopbot:reply-to:")
                .nth(1)
                .and_then(|rest| rest.split(' ').next())
                .and_then(|id| id.parse::<i64>().ok());
            match id {
                Some(id) => *replies.entry(id).or_default() += 1,
                None => out.push(v(
                    "one-reply-per-command",
                    Some(n),
                    format!("a bot comment without a reply marker: {:?}", c.body),
                )),
            }
        }
    }
    for c in &s.comments {
        let got = replies.remove(&c.id).unwrap_or(0);
        let ok = match c.replies {
            Replies::One => got == 1,
            Replies::Zero => got == 0,
            Replies::AtMostOne => got <= 1,
        };
        if !ok {
            out.push(v(
                "one-reply-per-command",
                Some(c.pr),
                format!(
                    "comment {} by {} ({:?}) has {got} replies, want {:?}",
                    c.id,
                    c.author,
                    c.versions.last().map(|v| v.body.as_str()).unwrap_or(""),
                    c.replies
                ),
            ));
        }
    }
    for (id, got) in replies {
        out.push(v(
            "one-reply-per-command",
            None,
            format!("{got} replies to comment {id}, which the simulation never posted"),
        ));
    }
}

/// Invariant 2a: every accepted delivery is a `done` event, and nothing is left undone.
pub async fn check_inbox(db: &SqlitePool, queued: &[(String, String)], out: &mut Vec<Violation>) {
    /// id, delivery id, state, attempts, last error.
    type Row = (i64, Option<String>, String, i64, Option<String>);
    let rows: Vec<Row> =
        // The sweep's own re-evaluations come every few seconds: not accepted deliveries.
        sqlx::query_as(
            "SELECT id, delivery_id, state, attempts, last_error FROM inbox
             WHERE instr(payload, 'sweep: last evaluated') = 0",
        )
            .fetch_all(db)
            .await
            .unwrap();
    let by_delivery: HashMap<&str, &str> = rows
        .iter()
        .filter_map(|r| Some((r.1.as_deref()?, r.2.as_str())))
        .collect();
    for (delivery, what) in queued {
        match by_delivery.get(delivery.as_str()) {
            Some(&"done") => {}
            other => out.push(v(
                "accepted-delivery-done",
                None,
                format!("delivery {delivery} ({what}) answered 202 queued; inbox state {other:?}"),
            )),
        }
    }
    for r in rows.iter().filter(|r| r.2 != "done") {
        out.push(v(
            "accepted-delivery-done",
            None,
            format!(
                "inbox event {} is {} after {} attempts: {:?}",
                r.0, r.2, r.3, r.4
            ),
        ));
    }
}

/// Invariant 2c: no waiver or audit row written twice for one comment or waiver.
pub async fn check_duplicates(db: &SqlitePool, out: &mut Vec<Violation>) {
    let twice: Vec<(Option<i64>, String, i64)> = sqlx::query_as(
        "SELECT comment_id, gate, COUNT(*) FROM waivers WHERE comment_id IS NOT NULL
         GROUP BY comment_id, gate HAVING COUNT(*) > 1",
    )
    .fetch_all(db)
    .await
    .unwrap();
    for t in twice {
        out.push(v(
            "effects-exactly-once",
            None,
            format!("waivers written twice: {t:?}"),
        ));
    }
    let twice: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT action, waiver_id, COUNT(*) FROM audit WHERE waiver_id IS NOT NULL
         GROUP BY action, waiver_id HAVING COUNT(*) > 1",
    )
    .fetch_all(db)
    .await
    .unwrap();
    for t in twice {
        out.push(v(
            "effects-exactly-once",
            None,
            format!("audit rows written twice: {t:?}"),
        ));
    }
}

/// Invariant 4: no secret in the log, the database files, any comment or any status.
pub fn check_secrets(
    w: &World,
    prs: &[u64],
    dir: &Path,
    secrets: &[&str],
    out: &mut Vec<Violation>,
) {
    let mut places: Vec<(String, Vec<u8>)> = Vec::new();
    for f in ["bot.log", "sopbot.db", "sopbot.db-wal"] {
        if let Ok(bytes) = std::fs::read(dir.join(f)) {
            places.push((f.to_string(), bytes));
        }
    }
    for &n in prs {
        for c in w.comments(REPO, n) {
            places.push((format!("comment {}", c.id), c.body.into_bytes()));
        }
    }
    for sha in &w.repo(REPO).commits {
        for s in w.statuses(REPO, sha) {
            let text = format!("{} {} {}", s.context, s.description, s.target_url);
            places.push((format!("status {} on {sha}", s.context), text.into_bytes()));
        }
    }
    for (place, bytes) in places {
        for secret in secrets {
            if bytes
                .windows(secret.len())
                .any(|win| win == secret.as_bytes())
            {
                out.push(v(
                    "no-secret-anywhere",
                    None,
                    format!("the secret {}… appears in {place}", &secret[..4]),
                ));
            }
        }
    }
}
