//! Every text sopbot writes on a PR, built by named functions in one place so the wording is
//! reviewed in one file. Replies are Markdown; none ever carries a secret.

use serde::{Deserialize, Serialize};

use crate::command::{usage, CommandError};
use crate::gate::{GateState, Membership, Verdict};

use super::PrEvaluation;

/// The hidden marker that ties a reply to the comment it answers, so a retry after a crash
/// finds the reply and edits it instead of posting a second one.
pub fn marker(comment_id: i64) -> String {
    format!("<!-- sopbot:reply-to:{comment_id} -->")
}

/// What a command comment was answered, stored with the comment's effects and published (again,
/// after a crash) from there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub pr: u64,
    /// Who wrote the comment, to address the reply.
    pub to: String,
    /// One Markdown bullet per command outcome, in comment order.
    pub lines: Vec<String>,
    /// Gates whose statuses to evaluate and post after the effects are recorded.
    pub evaluate: Vec<String>,
    /// Ask Gitea anew about membership (`/refire`).
    pub fresh: bool,
    /// Nothing but `/refire`: a recent evaluation of the PR may answer it.
    pub only_refire: bool,
    /// Append the command reference (`/sop-help`).
    pub help: bool,
}

fn cmd(line: usize, text: &str) -> String {
    format!("line {line}, `{text}`")
}

pub fn malformed(line: usize, e: &CommandError, command: Option<&str>) -> String {
    let mut s = format!("- line {line}: {e}");
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
        one_line(reason)
    )
}

pub fn already_waived(line: usize, gate: &str, by: &str, id: i64) -> String {
    format!(
        "- {}: `{gate}` is already waived by @{by} (waiver #{id}); `/sop-revoke {gate}` first to change it",
        cmd(line, "/sop-n/a")
    )
}

pub fn pr_not_open(line: usize) -> String {
    format!(
        "- {}: **not waived**: this PR is closed; its gates no longer apply",
        cmd(line, "/sop-n/a")
    )
}

/// A waiver in a comment that reached the bot after later comments of the PR were handled.
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
        "- {}: revoked waiver #{id} of `{gate}` (declared by @{declared_by})",
        cmd(line, "/sop-revoke")
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
    answer: &Answer,
    eval: Option<&PrEvaluation>,
    guard: &[String],
) -> String {
    let mut s = marker(comment_id);
    s.push_str(&format!("\n@{}\n\n", answer.to));
    for line in &answer.lines {
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
                v.description.replace('|', "\\|")
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
    if answer.help {
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
                "`{}`: @{} approved but is not a member of the gate's team",
                v.gate, c.login
            )),
            Membership::Forbidden => notes.push(format!(
                "`{}`: the bot's token got **403** reading the team of @{}'s approval. An admin must add the bot account to that team (or make it an org owner); `sopbot doctor` checks this",
                v.gate, c.login
            )),
            Membership::Error(e) => notes.push(format!(
                "`{}`: could not check @{}: {e}",
                v.gate, c.login
            )),
            Membership::Member => {}
        }
    }
    for i in &v.ignored {
        notes.push(format!(
            "`{}`: @{}'s approval does not count: {}",
            v.gate, i.login, i.why
        ));
    }
    for m in &v.misfiled {
        notes.push(format!(
            "`{}`: @{m} has a review Gitea stored as PENDING, probably submitted with a wrong event (`APPROVE`?): resubmit it with the event `APPROVED`",
            v.gate
        ));
    }
    notes
}

/// Said on the PR when someone posted on one of sopbot's status contexts by hand.
pub fn guard(context: &str, who: &str, state: &str, ours: &str) -> String {
    format!(
        "⚠️ @{who} posted `{state}` on `{context}` by hand. Only sopbot decides this status: its verdict (`{ours}`) has been posted on top, and the attempt is in the audit log."
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

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
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
            one_line(description)
        ));
    }
    s
}

/// A `/sop-revoke` of a waiver declared earlier in the same comment: it is recorded, and ended.
pub fn withdrawn(line: usize, gate: &str) -> String {
    format!(
        "- {}: revoked the waiver of `{gate}` declared earlier in this comment",
        cmd(line, "/sop-revoke")
    )
}
