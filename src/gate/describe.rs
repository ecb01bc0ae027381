//! The wording of status descriptions: short (≤ 140 characters), saying what to do next, and
//! never carrying a secret. Kept in one place so the wording is reviewed in one file.

use crate::config::TeamRef;

use super::{Candidate, Membership, PrFacts, Skip, WaiverFacts};

/// Cuts `s` to at most `max` characters, ending with `…` when cut.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn team(t: &TeamRef) -> String {
    match t {
        TeamRef::Name(n) => format!("team {n}"),
        TeamRef::Id(id) => format!("team #{id}"),
    }
}

pub(super) fn skipped(skip: &Skip, pr: &PrFacts) -> String {
    match skip {
        Skip::NotOpen => "not applicable: the PR is closed".into(),
        Skip::EmptyDiff => "not applicable: the PR has no changes".into(),
        Skip::BaseNotProtected => format!(
            "not applicable: base branch {} is not protected",
            pr.base_branch
        ),
    }
}

pub(super) fn waived(w: &WaiverFacts) -> String {
    format!("waived by @{}: {}", w.declared_by, one_line(&w.reason))
}

pub(super) fn approved(login: &str, t: &TeamRef) -> String {
    format!("approved by @{login} ({})", team(t))
}

pub(super) fn forbidden(t: &TeamRef) -> String {
    format!(
        "cannot check {}: the bot's token may not read it (403). Admin: add the bot to that team, then /refire",
        team(t)
    )
}

pub(super) fn lookup_failed(t: &TeamRef, _error: &str) -> String {
    format!(
        "could not check {} (Gitea error); comment /refire to retry",
        team(t)
    )
}

pub(super) fn awaiting(t: &TeamRef, probed: &[Candidate], misfiled: Option<&str>) -> String {
    let mut s = format!("awaiting an approval from a member of {}", team(t));
    let outsiders: Vec<&str> = probed
        .iter()
        .filter(|c| c.membership == Membership::NotMember)
        .map(|c| c.login.as_str())
        .collect();
    if let Some(login) = misfiled {
        s.push_str(&format!(
            "; @{login}'s review is PENDING: resubmit it as APPROVED"
        ));
    } else if let [one] = outsiders.as_slice() {
        s.push_str(&format!(" (@{one} is not in it)"));
    } else if !outsiders.is_empty() {
        s.push_str(&format!(" ({} approvers are not in it)", outsiders.len()));
    }
    s
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
