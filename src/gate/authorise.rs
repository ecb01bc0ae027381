//! Who may waive a gate and who may revoke a waiver: pure decisions over membership answers,
//! probed lazily like the gate evaluation.

use crate::text::{self, Md};
use crate::types::TeamRef;

use super::{Answers, GateSpec, Membership};

/// The outcome of an authorisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorisation {
    /// Allowed; `via` names the team (or `declarer` for the waiver's own declarer).
    Allowed { via: String },
    /// Refused, with the reason to tell the person.
    Refused { reason: String },
    /// Membership could not be verified; nothing is done and the reason says what to fix.
    Unknown { reason: String },
}

/// One step of a lazy authorisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthStep {
    Done(Authorisation),
    Probe { team: TeamRef, login: String },
}

/// May `declarer` waive `gate` on a PR by `pr_author`? Not the author, and a member of one of
/// the gate's `waivable_by` teams.
pub fn authorise_waiver(
    gate: &GateSpec,
    declarer: &str,
    pr_author: Option<&str>,
    answers: &Answers,
) -> AuthStep {
    if super::is_login(declarer, pr_author) {
        return AuthStep::Done(Authorisation::Refused {
            reason: format!(
                "@{declarer} wrote this PR, and the author can never waive a gate on their own PR"
            ),
        });
    }
    in_any_team(&gate.waivable_by, declarer, answers, || {
        format!(
            "@{declarer} is not a member of {}, the teams that may waive {}",
            list(&gate.waivable_by),
            gate.name
        )
    })
}

/// May `actor` revoke a waiver of `gate` declared by `declared_by`? The declarer, or a member
/// of a waiving team.
pub fn authorise_revoke(
    gate: &GateSpec,
    declared_by: &str,
    actor: &str,
    answers: &Answers,
) -> AuthStep {
    if super::same_login(actor, declared_by) {
        return AuthStep::Done(Authorisation::Allowed {
            via: "declarer".into(),
        });
    }
    in_any_team(&gate.waivable_by, actor, answers, || {
        format!(
            "@{actor} neither declared this waiver nor is a member of {}, the teams that may waive {}",
            list(&gate.waivable_by),
            gate.name
        )
    })
}

/// Whether `login` is in one of `teams`: allowed, refused (`refusal`), or unknown when a team
/// could not be read.
pub(super) fn in_any_team(
    teams: &[TeamRef],
    login: &str,
    answers: &Answers,
    refusal: impl FnOnce() -> String,
) -> AuthStep {
    let mut unreadable = Vec::new();
    let mut failed = Vec::new();
    for team in teams {
        match answers.get(&(team.clone(), login.to_string())) {
            None => {
                return AuthStep::Probe {
                    team: team.clone(),
                    login: login.to_string(),
                }
            }
            Some(Membership::Member) => {
                return AuthStep::Done(Authorisation::Allowed {
                    via: team.to_string(),
                })
            }
            Some(Membership::NotMember) => {}
            Some(Membership::Forbidden) => unreadable.push(team.clone()),
            Some(Membership::MissingScope(s)) => {
                return AuthStep::Done(Authorisation::Unknown {
                    reason: crate::gitea::scope_fix(s),
                })
            }
            Some(Membership::Error(e)) => failed.push((team.clone(), e.clone())),
        }
    }
    // A team we could not read might have had them: that is doubt, not a "no".
    let outcome = if !unreadable.is_empty() {
        Authorisation::Unknown {
            reason: format!(
                "the bot's token may not read {} (403), so membership could not be checked; an admin must add the bot to {}",
                list(&unreadable),
                if unreadable.len() == 1 { "that team" } else { "those teams" }
            ),
        }
    } else if let Some((_, first)) = failed.first() {
        let teams: Vec<TeamRef> = failed.iter().map(|(t, _)| t.clone()).collect();
        Authorisation::Unknown {
            reason: format!(
                "membership of {} could not be checked ({})",
                list(&teams),
                text::code(first, Md::Inline)
            ),
        }
    } else {
        Authorisation::Refused { reason: refusal() }
    };
    AuthStep::Done(outcome)
}

pub(super) fn list(teams: &[TeamRef]) -> String {
    let names: Vec<String> = teams
        .iter()
        .map(|t| text::code(&t.to_string(), Md::Inline))
        .collect();
    match names.as_slice() {
        [] => "no team".into(),
        [one] => format!("team {one}"),
        [init @ .., last] => format!("teams {} or {last}", init.join(", ")),
    }
}
