//! Every text sopbot writes on a PR, built by named functions in one place so the wording is
//! reviewed in one file. Replies are Markdown; none ever carries a secret.

use serde::{Deserialize, Serialize};

use crate::command::{usage, CommandError};
use crate::gate::{GateState, Membership, Verdict};
use crate::text::{code, mention, Md};

use super::PrEvaluation;

/// The hidden marker that ties a reply to the comment it answers, so a retry after a crash
/// finds the reply and edits it instead of posting a second one.
pub fn marker(comment_id: i64) -> String {
    format!("<!-- sopbot:reply-to:{comment_id} -->")
}

/// What a command comment is answered, stored with the comment's effects and published (again,
/// after a crash) from there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub pr: u64,
    /// Who wrote the comment, to address the reply.
    pub to: String,
    /// One Markdown bullet per command outcome, in comment order.
    pub lines: Vec<String>,
    /// Gates whose statuses to evaluate and post after the effects are recorded.
    pub evaluate: Vec<String>,
    /// Ask Gitea anew about membership (`/refire`).
    pub fresh: bool,
    /// Append the command reference (`/sop-help`).
    pub help: bool,
}

fn cmd(line: usize, text: &str) -> String {
    format!("line {line}, `{text}`")
}

pub fn malformed(line: usize, e: &CommandError, command: Option<&str>) -> String {
    let mut s = format!("- line {line}: {}", requote(&e.to_string()));
    if let Some(name) = command {
        s.push_str(&format!(" — usage: `{}`", usage(name)));
    }
    s
}

pub fn refire(line: usize, gates: &[String]) -> String {
    format!(
        "- {}: re-checked {} with a fresh membership look-up (results below)",
        cmd(line, "/refire"),
        code_list(gates)
    )
}

pub fn help(line: usize) -> String {
    format!(
        "- {}: the command reference is below",
        cmd(line, "/sop-help")
    )
}

pub fn waived(line: usize, gate: &str, reason: &str, implicit: bool) -> String {
    format!(
        "- {}: waived `{gate}`{}: {}",
        cmd(line, "/sop-n/a"),
        if implicit {
            " (no gate named: every gate you may waive)"
        } else {
            ""
        },
        code(reason, Md::Inline)
    )
}

pub fn already_waived(line: usize, gate: &str, by: &str, id: i64) -> String {
    format!(
        "- {}: `{gate}` is already waived by {} (waiver #{id}); `/sop-revoke {gate}` first to change it",
        cmd(line, "/sop-n/a"),
        mention(by, Md::Inline)
    )
}

pub fn pr_not_open(line: usize) -> String {
    format!(
        "- {}: **not waived**: this PR is closed; its gates no longer apply",
        cmd(line, "/sop-n/a")
    )
}

/// A waiver in a comment that reached the bot after later comments of the PR were handled.
pub fn hold_late(line: usize, name: &str) -> String {
    format!(
        "- {}: **not done**: this comment reached sopbot only after later comments on this PR \
         had been handled (its webhook was lost), so it could undo what they did; post the \
         command again if it still applies",
        cmd(line, &format!("/{name}"))
    )
}

pub fn waive_late(line: usize) -> String {
    format!(
        "- {}: **not waived**: this comment reached sopbot only after later comments on this PR \
         had been handled (its webhook was lost), so it could undo what they did; post the \
         command again if it still applies",
        cmd(line, "/sop-n/a")
    )
}

pub fn nothing_to_waive(line: usize) -> String {
    format!(
        "- {}: every gate you may waive is already waived on this PR",
        cmd(line, "/sop-n/a")
    )
}

pub fn waive_refused(line: usize, gate: &str, reason: &str) -> String {
    format!(
        "- {}: **not waived** `{gate}`: {reason}",
        cmd(line, "/sop-n/a")
    )
}

pub fn waive_unverified(line: usize, gate: &str, reason: &str) -> String {
    format!(
        "- {}: **not waived** `{gate}`: {reason}. Nothing was recorded.",
        cmd(line, "/sop-n/a")
    )
}

pub fn revoked(line: usize, gate: &str, id: i64, declared_by: &str) -> String {
    format!(
        "- {}: revoked waiver #{id} of `{gate}` (declared by {})",
        cmd(line, "/sop-revoke"),
        mention(declared_by, Md::Inline)
    )
}

pub fn nothing_to_revoke(line: usize, gate: &str) -> String {
    format!(
        "- {}: `{gate}` has no active waiver on this PR",
        cmd(line, "/sop-revoke")
    )
}

pub fn revoke_refused(line: usize, gate: &str, reason: &str) -> String {
    format!(
        "- {}: **not revoked** `{gate}`: {reason}",
        cmd(line, "/sop-revoke")
    )
}

/// The whole reply: marker, the command outcomes, the verdicts, and help when asked.
pub fn compose(
    comment_id: i64,
    reply: &Reply,
    eval: Option<&PrEvaluation>,
    guard: &[String],
) -> String {
    let mut s = marker(comment_id);
    s.push_str(&format!("\n{}\n\n", mention(&reply.to, Md::Inline)));
    for line in &reply.lines {
        s.push_str(line);
        s.push('\n');
    }
    if let Some(eval) = eval {
        let short = eval.head_sha.get(..10).unwrap_or(&eval.head_sha);
        s.push_str(&format!(
            "\nGates on `{short}`:\n\n| gate | state | why |\n| --- | --- | --- |\n"
        ));
        for v in &eval.gates {
            s.push_str(&format!(
                "| {} | {} {} | {} |\n",
                v.gate,
                icon(v.state),
                v.state.as_str(),
                v.why
            ));
        }
        let notes: Vec<String> = eval.gates.iter().flat_map(verdict_notes).collect();
        if !notes.is_empty() {
            s.push('\n');
            for n in notes {
                s.push_str(&format!("- {n}\n"));
            }
        }
    }
    for g in guard {
        s.push_str(&format!("\n{g}\n"));
    }
    if reply.help {
        s.push_str("\n<details><summary>sopbot commands</summary>\n\n");
        s.push_str(crate::command::reference());
        s.push_str("\n</details>\n");
    }
    s
}

/// Why a gate is where it is, beyond its one-line description: who is not a member, what the
/// bot's token may not read, a review that looks misfiled.
fn verdict_notes(v: &Verdict) -> Vec<String> {
    let mut notes = Vec::new();
    if v.state == GateState::Success {
        return notes;
    }
    for c in &v.candidates {
        match &c.membership {
            Membership::NotMember => notes.push(format!(
                "`{}`: {} approved but is not a member of the gate's team",
                v.gate,
                mention(&c.login, Md::Inline)
            )),
            Membership::Forbidden => notes.push(format!(
                "`{}`: the bot's token got **403** reading the team of {}'s approval. An admin must add the bot account to that team (or make it an org owner); `sopbot doctor` checks this",
                v.gate,
                mention(&c.login, Md::Inline)
            )),
            Membership::MissingScope(s) => notes.push(format!(
                "`{}`: could not check {}'s approval: {}. This is the token, not team membership; `sopbot doctor` checks it",
                v.gate,
                mention(&c.login, Md::Inline),
                crate::gitea::scope_fix(s)
            )),
            Membership::Error(e) => notes.push(format!(
                "`{}`: could not check {}: {}",
                v.gate,
                mention(&c.login, Md::Inline),
                code(e, Md::Inline)
            )),
            Membership::Member if c.re_requested => notes.push(format!(
                "`{}`: {login}'s approval is no longer official: Gitea clears that flag on a reviewer's earlier reviews when their review is requested again. The access is fine: {login} approves again",
                v.gate,
                login = mention(&c.login, Md::Inline)
            )),
            Membership::Member if !c.official => notes.push(format!(
                "`{}`: {} is in the gate's team, but Gitea did not mark the approval official: the team had no write access to the code and no place in the branch rule's approvals whitelist when it was given. Gitea never recomputes this, so after the fix the approval must be given again; `sopbot doctor` checks this",
                v.gate,
                mention(&c.login, Md::Inline)
            )),
            Membership::Member => {}
        }
    }
    for i in &v.ignored {
        notes.push(format!(
            "`{}`: {}'s approval does not count: {}",
            v.gate,
            mention(&i.login, Md::Inline),
            i.why
        ));
    }
    for m in &v.misfiled {
        notes.push(format!(
            "`{}`: {} has a review Gitea stored as PENDING, probably submitted with a wrong event (`APPROVE`?): resubmit it with the event `APPROVED`",
            v.gate,
            mention(m, Md::Inline)
        ));
    }
    notes
}

/// Said on the PR when someone posted on one of sopbot's status contexts by hand.
pub fn guard(context: &str, who: &str, state: &str, ours: &str) -> String {
    format!(
        "⚠️ {} posted {} on `{context}` by hand. Only sopbot decides this status: its verdict (`{ours}`) has been posted on top, and the attempt is in the audit log.",
        mention(who, Md::Inline),
        code(state, Md::Inline)
    )
}

fn icon(state: GateState) -> &'static str {
    match state {
        GateState::Success => "✅",
        GateState::Failure => "❌",
        GateState::Error => "⚠️",
    }
}

fn code_list(gates: &[String]) -> String {
    gates
        .iter()
        .map(|g| format!("`{g}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A parser message as Markdown: the words it quotes in backticks (a mistyped gate, perhaps
/// with backticks of its own) become code spans that show them as typed. A quoted word never
/// holds whitespace (the parser splits words on it), so a quote runs from a space-separated
/// token's opening backtick to the last backtick of that token. A stray backtick is quoted too.
fn requote(message: &str) -> String {
    message
        .split(' ')
        .map(
            |token| match token.strip_prefix('`').and_then(|t| t.rsplit_once('`')) {
                Some((quoted, after)) => format!("{}{after}", code(quoted, Md::Inline)),
                None if token.contains('`') => code(token, Md::Inline),
                None => token.to_string(),
            },
        )
        .collect::<Vec<_>>()
        .join(" ")
}

/// Said in a reply when other open PRs share the head commit: Gitea keeps statuses per commit,
/// so they show the strictest verdict of all those PRs. `held` lists, as (context, state,
/// description), the statuses that stay red although this PR's gate passes.
pub fn shared_head(head_sha: &str, others: &[u64], held: &[(String, String, String)]) -> String {
    let short = head_sha.get(..10).unwrap_or(head_sha);
    let prs = others
        .iter()
        .map(|n| format!("#{n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut s = format!(
        "ℹ️ `{short}` is also the head of {prs}: its statuses show the strictest verdict of these PRs."
    );
    for (context, state, description) in held {
        s.push_str(&format!(
            "\n- `{context}` stays `{state}`: {}",
            code(description, Md::Inline)
        ));
    }
    s
}

/// Said on the PR when the `[waiver]` lifecycle rules end a waiver (a push, `max_age`, the
/// declarer left the waiving teams).
pub fn waiver_ended(
    id: i64,
    gate: &str,
    declared_by: &str,
    why: &crate::gate::lifecycle::Ended,
) -> String {
    format!(
        "⏹️ The waiver of `{gate}` by {} (waiver #{id}) ended: {}. The gate counts approvals again; a member of a waiving team may waive it anew.",
        mention(declared_by, Md::Inline),
        code(&why.to_string(), Md::Inline)
    )
}

pub fn held(line: usize, reason: &str) -> String {
    format!(
        "- {}: this PR is on hold ({}); its hold status stays `failure` until `/sop-unhold`",
        cmd(line, "/sop-hold"),
        code(reason, Md::Inline)
    )
}

pub fn already_held(line: usize, by: &str) -> String {
    format!(
        "- {}: this PR is already held by {}; `/sop-unhold` first to hold it anew",
        cmd(line, "/sop-hold"),
        mention(by, Md::Inline)
    )
}

pub fn unheld(line: usize, held_by: &str) -> String {
    format!(
        "- {}: released the hold by {}",
        cmd(line, "/sop-unhold"),
        mention(held_by, Md::Inline)
    )
}

pub fn nothing_to_unhold(line: usize) -> String {
    format!("- {}: this PR is not held", cmd(line, "/sop-unhold"))
}

pub fn hold_pr_not_open(line: usize, name: &str) -> String {
    format!(
        "- {}: this PR is not open; nothing changed",
        cmd(line, &format!("/{name}"))
    )
}

pub fn hold_refused(line: usize, name: &str, reason: &str) -> String {
    format!(
        "- {}: refused — {reason}; nothing changed",
        cmd(line, &format!("/{name}"))
    )
}

/// A `/sop-revoke` of a waiver declared earlier in the same comment: it is recorded, and ended.
pub fn withdrawn(line: usize, gate: &str) -> String {
    format!(
        "- {}: revoked the waiver of `{gate}` declared earlier in this comment",
        cmd(line, "/sop-revoke")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{parse_comment, GateNames};
    use crate::gate::{evaluate_with, Facts, GatePolicy, GateSpec, Options, PrFacts, WaiverFacts};
    use crate::text::rendered;
    use crate::types::TeamRef;

    const HOSTILE: &str =
        "![x](http://evil/x.png) @carol @acme/security <img src=x> | a | b | `code";

    fn waived_eval(reason: &str) -> PrEvaluation {
        let gate = GateSpec {
            name: "security".into(),
            team: TeamRef::Name("security".into()),
            waivable_by: vec![TeamRef::Name("managers".into())],
            require_official: true,
            policy: GatePolicy::default(),
        };
        let facts = Facts {
            pr: PrFacts {
                head_sha: "0123456789abcdef".into(),
                base_sha: "fedcba".into(),
                ..PrFacts::default()
            },
            waivers: vec![WaiverFacts {
                id: 1,
                gate: "security".into(),
                declared_by: "carol".into(),
                reason: reason.into(),
            }],
            ..Facts::default()
        };
        let verdict = evaluate_with(&gate, &facts, &Options::default(), |_, _| {
            crate::gate::Membership::NotMember
        });
        PrEvaluation {
            ended: vec![],
            hold: None,
            repo: "acme/widgets".into(),
            pr: 7,
            head_sha: facts.pr.head_sha.clone(),
            gates: vec![verdict],
            title: String::new(),
            author: Some("alice".into()),
            waived: vec!["security".into()],
            open: true,
            reviews_fingerprint: None,
        }
    }

    /// The reply to a hostile waiver reason: the reason is one code span in the bullet and one
    /// in the table, the only mentions are the bot's own (`@alice` addressed, `@carol` listed),
    /// and nothing is a link, an image or HTML besides the bot's hidden marker.
    #[test]
    fn a_hostile_reason_is_echoed_inert_in_the_reply() {
        let reply = Reply {
            pr: 7,
            to: "alice".into(),
            lines: vec![waived(1, "security", HOSTILE, false)],
            ..Reply::default()
        };
        let reply = compose(42, &reply, Some(&waived_eval(HOSTILE)), &[]);
        let body = reply.strip_prefix(&marker(42)).unwrap();
        let table_rows = body.lines().filter(|l| l.starts_with("| security |"));
        assert_eq!(table_rows.count(), 1, "{reply}");
        let (codes, text, other) = rendered(body, 6);
        assert_eq!(
            codes,
            vec!["/sop-n/a", "security", HOSTILE, "0123456789", HOSTILE],
            "{reply}"
        );
        assert!(other.is_empty(), "{other:?}\n{reply}");
        assert!(text.starts_with("@alice"), "{text}");
        assert!(text.contains("waived by @carol: "), "{text}");
        assert_eq!(text.matches('@').count(), 2, "{text}");
    }

    #[test]
    fn a_login_that_is_not_a_login_is_not_a_mention() {
        let line = revoked(1, "qa", 3, "acme/security");
        assert_eq!(
            line,
            "- line 1, `/sop-revoke`: revoked waiver #3 of `qa` (declared by `@acme/security`)"
        );
        let guard = guard(
            "qa-review / approved",
            "mallory",
            "success](http://x)",
            "failure",
        );
        assert!(
            guard.starts_with("⚠️ @mallory posted `success](http://x)` on"),
            "{guard}"
        );
    }

    /// What the parser quotes back (a mistyped word) shows as typed, whatever it holds.
    #[test]
    fn quoted_words_in_parser_errors_stay_code() {
        let gates = GateNames::default_gates();
        for (comment, want) in [
            ("/refire secuirty", vec!["secuirty", "security"]),
            ("/refire a`<img`b", vec!["a`<img`b"]),
            ("/refire x`;", vec!["x`;"]),
            ("/refire @acme/security", vec!["@acme/security"]),
        ] {
            let parsed = parse_comment(comment, &gates);
            let Err(e) = &parsed[0].result else {
                panic!("{comment} parsed")
            };
            let line = malformed(1, e, Some("refire"));
            let (codes, text, other) = rendered(&line, 0);
            assert_eq!(codes[..want.len()], want[..], "{line}");
            assert!(other.is_empty(), "{other:?} {line}");
            assert!(!text.contains('`') && !text.contains('@'), "{line}");
        }
    }

    proptest::proptest! {
        /// Any mistyped gate word is one code span in the reply, and nothing else is made of it.
        #[test]
        fn any_mistyped_gate_is_inert(word in "[!-~]{1,30}") {
            let gates = GateNames::default_gates();
            let parsed = parse_comment(&format!("/sop-revoke {word}"), &gates);
            if let Some(Err(e)) = parsed.first().map(|p| &p.result) {
                let line = malformed(1, e, None);
                let (codes, text, other) = rendered(&line, 0);
                proptest::prop_assert!(other.is_empty(), "{:?} {}", other, line);
                proptest::prop_assert!(!text.contains('`') && !text.contains('@'), "{}", line);
                if e.message.starts_with("unknown gate") {
                    // The parser quotes the entry it could not read: a part of the word.
                    proptest::prop_assert!(word.contains(codes[0].as_str()), "{:?} {}", codes, line);
                }
            }
        }
    }
}
