//! Whether a waiver still stands: the `[waiver]` lifecycle rules (`invalidate_on_push`,
//! `max_age`, `require_declarer_membership`) as a pure decision over what the caller gathered —
//! the time, the PR's head now, what the commits since the waiver's head are, and membership
//! answers (probed lazily, like the gate evaluation). See `docs/waivers.md`.
//!
//! The end of a waiver is decided here, at evaluation, from the head the waiver was declared on
//! and the head now — not from a push event — so a lost push webhook ends it all the same when
//! the poller or the sweep evaluates the PR.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::types::TeamRef;

use super::authorise::{in_any_team, Authorisation};
use super::{Answers, AuthStep};

/// When a push to the PR ends its waivers (`[waiver] invalidate_on_push`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InvalidateOnPush {
    /// A waiver lasts until it is revoked or the PR closes (the default).
    #[default]
    Never,
    /// Any new head commit ends it.
    Always,
    /// A new head ends it unless every new commit only merges the base branch in.
    UnlessMergeFromBase,
}

impl InvalidateOnPush {
    pub const ALL: [InvalidateOnPush; 3] = [
        InvalidateOnPush::Never,
        InvalidateOnPush::Always,
        InvalidateOnPush::UnlessMergeFromBase,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InvalidateOnPush::Never => "never",
            InvalidateOnPush::Always => "always",
            InvalidateOnPush::UnlessMergeFromBase => "unless-merge-from-base",
        }
    }
}

impl FromStr for InvalidateOnPush {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s.trim())
            .ok_or_else(|| {
                format!("`{s}` is not one of \"never\", \"always\", \"unless-merge-from-base\"")
            })
    }
}

impl fmt::Display for InvalidateOnPush {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The lifecycle rules, from the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Lifecycle {
    pub invalidate_on_push: InvalidateOnPush,
    /// A waiver older than this ends; `None`: no limit.
    pub max_age: Option<Duration>,
    /// The declarer must still be in one of the gate's `waivable_by` teams.
    pub require_declarer_membership: bool,
}

/// An active waiver, as its lifecycle needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared<'a> {
    pub declared_by: &'a str,
    /// The PR's head when the waiver was declared.
    pub head_sha: &'a str,
    /// When the bot recorded it (the bot's own clock, as `now` is).
    pub created_at: DateTime<Utc>,
    /// The teams whose members may waive the gate.
    pub waivable_by: &'a [TeamRef],
}

/// What the commits between the waiver's head and the PR's head now are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pushed {
    /// The head is the one the waiver was declared on.
    Nothing,
    /// Every new commit is a merge of the base branch into the PR.
    OnlyBaseMerges,
    /// Anything else, or it could not be told (fail closed: the push counts).
    Changes,
}

/// Why a waiver ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "why", rename_all = "kebab-case")]
pub enum Ended {
    /// The PR's head moved from the waiver's head to `head`.
    Pushed { from: String, head: String },
    /// Older than `max_age`.
    Expired { max_age: String },
    /// The declarer is in none of the gate's waiving teams any more.
    DeclarerLeft { declarer: String },
}

impl Ended {
    /// `pushed`, `expired` or `declarer-left`: how the waiver ended, in `waivers list`.
    pub fn kind(&self) -> &'static str {
        match self {
            Ended::Pushed { .. } => "pushed",
            Ended::Expired { .. } => "expired",
            Ended::DeclarerLeft { .. } => "declarer-left",
        }
    }
}

impl fmt::Display for Ended {
    /// The revoke reason stored and shown: starts with the kind's words, so `waivers list` can
    /// tell how a waiver ended.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ended::Pushed { from, head } => {
                write!(f, "push {} (declared on {})", short(head), short(from))
            }
            Ended::Expired { max_age } => write!(f, "expired (older than max_age {max_age})"),
            Ended::DeclarerLeft { declarer } => write!(
                f,
                "declarer left the team (@{declarer} is in no team that may waive the gate)"
            ),
        }
    }
}

/// The first 7 characters of a commit id, as Gitea shows them.
pub fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

/// Whether a waiver stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    Stands,
    Ends(Ended),
    /// The declarer's membership could not be verified: the waiver does not count now, but is
    /// not ended (a Gitea outage must not end waivers for good).
    Unverified(String),
}

/// One step of a lazy lifecycle decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LifeStep {
    Done(Standing),
    Probe { team: TeamRef, login: String },
}

/// Whether `w` still stands at `now`, the commits since its head being `pushed`. Age first (it
/// needs no I/O), then the push, then the declarer's membership (the only probe). A waiver
/// recorded "in the future" (the clock stepped back) is not expired: its age counts from now.
pub fn standing(
    w: &Declared<'_>,
    rules: &Lifecycle,
    now: DateTime<Utc>,
    current_head: &str,
    pushed: &Pushed,
    answers: &Answers,
) -> LifeStep {
    if let Some(max) = rules.max_age {
        if now.signed_duration_since(w.created_at) > max {
            return LifeStep::Done(Standing::Ends(Ended::Expired {
                max_age: human(max),
            }));
        }
    }
    if w.head_sha != current_head {
        let ends = match rules.invalidate_on_push {
            InvalidateOnPush::Never => false,
            InvalidateOnPush::Always => true,
            InvalidateOnPush::UnlessMergeFromBase => *pushed != Pushed::OnlyBaseMerges,
        };
        if ends {
            return LifeStep::Done(Standing::Ends(Ended::Pushed {
                from: w.head_sha.to_string(),
                head: current_head.to_string(),
            }));
        }
    }
    if !rules.require_declarer_membership {
        return LifeStep::Done(Standing::Stands);
    }
    match in_any_team(w.waivable_by, w.declared_by, answers, String::new) {
        AuthStep::Probe { team, login } => LifeStep::Probe { team, login },
        AuthStep::Done(Authorisation::Allowed { .. }) => LifeStep::Done(Standing::Stands),
        AuthStep::Done(Authorisation::Refused { .. }) => {
            LifeStep::Done(Standing::Ends(Ended::DeclarerLeft {
                declarer: w.declared_by.to_string(),
            }))
        }
        AuthStep::Done(Authorisation::Unknown { reason }) => {
            LifeStep::Done(Standing::Unverified(reason))
        }
    }
}

/// `14d`, `36h`, `90m` or `45s`: the largest unit that divides the duration.
pub fn human(d: Duration) -> String {
    let s = d.num_seconds();
    match s {
        s if s > 0 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s > 0 && s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s > 0 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::Membership;

    const W: &str = "aaaaaaa111";
    const H: &str = "bbbbbbb222";

    fn at(h: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + h * 3600, 0).unwrap()
    }

    fn teams() -> Vec<TeamRef> {
        vec![TeamRef::Name("qa".into()), TeamRef::Name("managers".into())]
    }

    fn rules(mode: InvalidateOnPush, max_age_h: Option<i64>, members: bool) -> Lifecycle {
        Lifecycle {
            invalidate_on_push: mode,
            max_age: max_age_h.map(Duration::hours),
            require_declarer_membership: members,
        }
    }

    fn decide(
        rules: &Lifecycle,
        now_h: i64,
        head: &str,
        pushed: Pushed,
        qa: Membership,
    ) -> Standing {
        let teams = teams();
        let w = Declared {
            declared_by: "Carol",
            head_sha: W,
            created_at: at(0),
            waivable_by: &teams,
        };
        let mut answers = Answers::new();
        answers.insert((teams[0].clone(), "Carol".into()), qa);
        answers.insert((teams[1].clone(), "Carol".into()), Membership::NotMember);
        match standing(&w, rules, at(now_h), head, &pushed, &answers) {
            LifeStep::Done(s) => s,
            LifeStep::Probe { .. } => panic!("every answer was given"),
        }
    }

    #[test]
    fn the_lifecycle_table() {
        use InvalidateOnPush::*;
        use Membership::*;
        let pushed = |h: &str| {
            Standing::Ends(Ended::Pushed {
                from: W.into(),
                head: h.into(),
            })
        };
        let expired = |m: &str| Standing::Ends(Ended::Expired { max_age: m.into() });
        let left = Standing::Ends(Ended::DeclarerLeft {
            declarer: "Carol".into(),
        });
        #[rustfmt::skip]
        let table: Vec<(Lifecycle, i64, &str, Pushed, Membership, Standing)> = vec![
            // The default keeps today's behaviour: pushes, age and membership do not matter.
            (rules(Never, None, false), 10_000, H, Pushed::Changes, NotMember, Standing::Stands),
            // invalidate_on_push
            (rules(Always, None, false), 1, W, Pushed::Nothing, Member, Standing::Stands),
            (rules(Always, None, false), 1, H, Pushed::OnlyBaseMerges, Member, pushed(H)),
            (rules(Always, None, false), 1, H, Pushed::Changes, Member, pushed(H)),
            (rules(UnlessMergeFromBase, None, false), 1, H, Pushed::OnlyBaseMerges, Member, Standing::Stands),
            (rules(UnlessMergeFromBase, None, false), 1, H, Pushed::Changes, Member, pushed(H)),
            (rules(UnlessMergeFromBase, None, false), 1, W, Pushed::Nothing, Member, Standing::Stands),
            // max_age: at the limit it stands, past it it ends; a clock stepped back is no age.
            (rules(Never, Some(336), false), 336, W, Pushed::Nothing, Member, Standing::Stands),
            (rules(Never, Some(336), false), 337, W, Pushed::Nothing, Member, expired("14d")),
            (rules(Never, Some(36), false), -50, W, Pushed::Nothing, Member, Standing::Stands),
            (rules(Never, Some(36), false), 37, W, Pushed::Nothing, Member, expired("36h")),
            // expiry is told before the push
            (rules(Always, Some(1), false), 2, H, Pushed::Changes, Member, expired("1h")),
            // require_declarer_membership
            (rules(Never, None, true), 1, W, Pushed::Nothing, Member, Standing::Stands),
            (rules(Never, None, true), 1, W, Pushed::Nothing, NotMember, left.clone()),
            (rules(Never, None, false), 1, W, Pushed::Nothing, NotMember, Standing::Stands),
            // a push ends it before membership is asked
            (rules(Always, None, true), 1, H, Pushed::Changes, NotMember, pushed(H)),
        ];
        for (i, (rules, now, head, push, qa, want)) in table.into_iter().enumerate() {
            assert_eq!(decide(&rules, now, head, push, qa), want, "row {i}");
        }
    }

    #[test]
    fn membership_that_cannot_be_read_suspends_without_ending() {
        let r = rules(InvalidateOnPush::Never, None, true);
        for m in [Membership::Forbidden, Membership::Error("502".into())] {
            let s = decide(&r, 1, W, Pushed::Nothing, m.clone());
            assert!(matches!(s, Standing::Unverified(_)), "{m:?}: {s:?}");
        }
    }

    #[test]
    fn membership_is_probed_lazily_team_by_team() {
        let teams = teams();
        let w = Declared {
            declared_by: "carol",
            head_sha: W,
            created_at: at(0),
            waivable_by: &teams,
        };
        let r = rules(InvalidateOnPush::Never, None, true);
        let step = standing(&w, &r, at(1), W, &Pushed::Nothing, &Answers::new());
        assert_eq!(
            step,
            LifeStep::Probe {
                team: teams[0].clone(),
                login: "carol".into()
            }
        );
        // Without the rule nothing is probed.
        let r = rules(InvalidateOnPush::Never, None, false);
        let step = standing(&w, &r, at(1), W, &Pushed::Nothing, &Answers::new());
        assert_eq!(step, LifeStep::Done(Standing::Stands));
    }

    #[test]
    fn the_reasons_read_as_the_audit_and_reply_say_them() {
        let p = Ended::Pushed {
            from: "1234567890".into(),
            head: "abcdef0123".into(),
        };
        assert_eq!(p.to_string(), "push abcdef0 (declared on 1234567)");
        assert!(Ended::Expired {
            max_age: "14d".into()
        }
        .to_string()
        .starts_with("expired"));
        assert!(Ended::DeclarerLeft {
            declarer: "carol".into()
        }
        .to_string()
        .starts_with("declarer left the team"));
    }

    #[test]
    fn modes_parse_only_as_written() {
        for m in InvalidateOnPush::ALL {
            assert_eq!(m.as_str().parse::<InvalidateOnPush>(), Ok(m));
        }
        assert!("sometimes".parse::<InvalidateOnPush>().is_err());
        assert!("Always".parse::<InvalidateOnPush>().is_err());
        assert_eq!(human(Duration::days(14)), "14d");
        assert_eq!(human(Duration::minutes(90)), "90m");
        assert_eq!(human(Duration::seconds(3)), "3s");
    }
}
