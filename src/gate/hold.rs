//! Who may hold a PR (`/sop-hold`) and release its hold (`/sop-unhold`): a member of any
//! configured gate's team or waiving teams. The PR author may hold their own PR (it only
//! delays it) but may release only a hold they placed themselves: otherwise an author who is
//! in some gate team could lift a colleague's hold on their own work.

use crate::types::TeamRef;

use super::authorise::{in_any_team, list};
use super::{is_login, same_login, Answers, AuthStep, Authorisation, GateSpec};

/// What is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldAction<'a> {
    Hold,
    /// Release the hold placed by `held_by`.
    Unhold {
        held_by: &'a str,
    },
}

/// Every team of every gate (its own, then its waiving teams), each once, in config order.
pub fn hold_teams(gates: &[GateSpec]) -> Vec<TeamRef> {
    let mut teams: Vec<TeamRef> = Vec::new();
    for g in gates {
        for t in std::iter::once(&g.team).chain(&g.waivable_by) {
            if !teams.contains(t) {
                teams.push(t.clone());
            }
        }
    }
    teams
}

/// May `actor` do `action` on a PR by `pr_author`, given the gate teams `teams`?
pub fn authorise_hold(
    teams: &[TeamRef],
    actor: &str,
    pr_author: Option<&str>,
    action: HoldAction<'_>,
    answers: &Answers,
) -> AuthStep {
    if let HoldAction::Unhold { held_by } = action {
        if is_login(actor, pr_author) && !same_login(actor, held_by) {
            return AuthStep::Done(Authorisation::Refused {
                reason: format!(
                    "@{actor} wrote this PR, and the author may only release a hold they placed themselves (this one is @{held_by}'s)"
                ),
            });
        }
    }
    in_any_team(teams, actor, answers, || {
        format!(
            "@{actor} is not a member of {}, the gate teams that may hold or release a PR",
            list(teams)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::Membership;

    fn gates() -> Vec<GateSpec> {
        let spec = |name: &str, team: &str, waivers: &[&str]| GateSpec {
            name: name.into(),
            team: TeamRef::Name(team.into()),
            waivable_by: waivers
                .iter()
                .map(|t| TeamRef::Name(t.to_string()))
                .collect(),
            require_official: true,
            policy: Default::default(),
        };
        vec![
            spec("qa", "qa", &["qa", "managers"]),
            spec("security", "security", &["security", "managers"]),
        ]
    }

    fn decide(
        actor: &str,
        author: &str,
        action: HoldAction<'_>,
        member_of: &[&str],
    ) -> Authorisation {
        let teams = hold_teams(&gates());
        let mut answers = Answers::new();
        for t in &teams {
            let m = if member_of.iter().any(|n| TeamRef::Name(n.to_string()) == *t) {
                Membership::Member
            } else {
                Membership::NotMember
            };
            answers.insert((t.clone(), actor.to_string()), m);
        }
        match authorise_hold(&teams, actor, Some(author), action, &answers) {
            AuthStep::Done(a) => a,
            AuthStep::Probe { .. } => panic!("every answer was given"),
        }
    }

    #[test]
    fn the_teams_are_every_gate_team_once() {
        let names: Vec<String> = hold_teams(&gates()).iter().map(|t| t.to_string()).collect();
        assert_eq!(names, ["qa", "managers", "security"]);
    }

    #[test]
    fn who_may_hold_and_release() {
        let allowed = |a: &Authorisation| matches!(a, Authorisation::Allowed { .. });
        let carols = HoldAction::Unhold { held_by: "carol" };
        #[rustfmt::skip]
        let table: Vec<(&str, &str, HoldAction, &[&str], bool)> = vec![
            // a member of any gate's team or waiving team
            ("carol", "alice", HoldAction::Hold, &["security"], true),
            ("mia", "alice", HoldAction::Hold, &["managers"], true),
            ("dave", "alice", HoldAction::Hold, &[], false),
            // the author may hold their own PR when a member
            ("alice", "alice", HoldAction::Hold, &["qa"], true),
            ("alice", "alice", HoldAction::Hold, &[], false),
            // anyone in a gate team may release another member's hold
            ("bob", "alice", carols, &["qa"], true),
            ("Carol", "alice", carols, &["security"], true),
            ("dave", "alice", carols, &[], false),
            // the author may not release someone else's hold, even as a member
            ("ALICE", "alice", carols, &["qa"], false),
            ("alice", "alice", HoldAction::Unhold { held_by: "Alice" }, &["qa"], true),
        ];
        for (i, (actor, author, action, teams, want)) in table.into_iter().enumerate() {
            let got = decide(actor, author, action, teams);
            assert_eq!(allowed(&got), want, "row {i}: {got:?}");
        }
    }

    #[test]
    fn a_team_that_cannot_be_read_is_doubt_not_refusal() {
        let teams = hold_teams(&gates());
        let mut answers = Answers::new();
        answers.insert((teams[0].clone(), "bob".into()), Membership::Forbidden);
        answers.insert((teams[1].clone(), "bob".into()), Membership::NotMember);
        answers.insert((teams[2].clone(), "bob".into()), Membership::NotMember);
        let got = authorise_hold(&teams, "bob", Some("alice"), HoldAction::Hold, &answers);
        assert!(
            matches!(got, AuthStep::Done(Authorisation::Unknown { .. })),
            "{got:?}"
        );
    }
}
