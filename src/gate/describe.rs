//! The wording of status descriptions: short (≤ 140 characters), saying what to do next, and
//! never carrying a secret. Kept in one place so the wording is reviewed in one file.

use crate::text::{self, Md};
use crate::types::TeamRef;

use super::{Candidate, Membership, PrFacts, Skip, WaiverFacts};

/// Cuts `s` to at most `max` characters (not bytes: never inside a character), ending with `…`
/// when cut.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A description in its two forms: plain text for the commit status (Gitea shows it as an
/// escaped text), and Markdown for the reply's table, where every part someone else wrote (a
/// reason, a branch name) is inert and the logins the bot names stay mentions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Described {
    pub plain: String,
    pub markdown: String,
}

impl Described {
    /// The bot's own wording, the same in both forms.
    pub fn said(s: &str) -> Self {
        Described::default().say(s)
    }

    fn say(mut self, s: &str) -> Self {
        self.plain.push_str(s);
        self.markdown.push_str(s);
        self
    }

    /// A login the bot names: a mention in the reply.
    fn login(mut self, login: &str) -> Self {
        self.plain.push('@');
        self.plain.push_str(&text::one_line(login));
        self.markdown.push_str(&text::mention(login, Md::Cell));
        self
    }

    /// Text someone else wrote: one line in the status, a code span in the reply (cut there
    /// too, as a table cell is no place for a long text).
    fn quote(mut self, s: &str) -> Self {
        self.plain.push_str(&text::one_line(s));
        let long = text::one_line(s);
        let short = clip(&long, super::MAX_DESCRIPTION);
        self.markdown.push_str(&text::code(&short, Md::Cell));
        self
    }

    /// A configured name: as is when it is a plain word, else quoted.
    fn name(self, s: &str) -> Self {
        if text::is_login(s) {
            self.say(s)
        } else {
            self.quote(s)
        }
    }

    fn team(self, t: &TeamRef) -> Self {
        match t {
            TeamRef::Name(n) => self.say("team ").name(n),
            // `#7` alone would link issue 7 in the reply.
            TeamRef::Id(id) => self.say("team ").quote(&format!("#{id}")),
        }
    }
}

pub(super) fn skipped(skip: &Skip, pr: &PrFacts) -> Described {
    match skip {
        Skip::NotOpen => Described::said("not applicable: the PR is closed"),
        Skip::EmptyDiff => Described::said("not applicable: the PR has no changes"),
        Skip::BaseNotProtected => Described::said("not applicable: base branch ")
            .name(&pr.base_branch)
            .say(" is not protected"),
        // The watched paths are in `no_matching_path`, which the gate builds instead.
        Skip::NoMatchingPath => Described::said("not applicable: no change under the gate's paths"),
    }
}

pub(super) fn waived(w: &WaiverFacts) -> Described {
    Described::said("waived by ")
        .login(&w.declared_by)
        .say(": ")
        .quote(&w.reason)
}

pub(super) fn approved(login: &str, t: &TeamRef) -> Described {
    Described::said("approved by ")
        .login(login)
        .say(" (")
        .team(t)
        .say(")")
}

pub(super) fn forbidden(t: &TeamRef) -> Described {
    Described::said("cannot check ").team(t).say(
        ": the bot's token may not read it (403). Admin: add the bot to that team, then /refire",
    )
}

pub(super) fn missing_scope(t: &TeamRef, scopes: &[String]) -> Described {
    // Statuses keep 140 characters: the full token command is in the reply and `doctor`.
    Described::said("cannot check ").team(t).say(&format!(
        ": the bot's token lacks {}. Admin: make a token with that scope, then /refire",
        scopes.join(" / "),
    ))
}

pub(super) fn lookup_failed(t: &TeamRef, _error: &str) -> Described {
    Described::said("could not check ")
        .team(t)
        .say(" (Gitea error); comment /refire to retry")
}

pub(super) fn awaiting(t: &TeamRef, probed: &[Candidate], misfiled: Option<&str>) -> Described {
    let s = Described::said("awaiting an approval from a member of ").team(t);
    let outsiders: Vec<&str> = probed
        .iter()
        .filter(|c| c.membership == Membership::NotMember)
        .map(|c| c.login.as_str())
        .collect();
    if let Some(login) = misfiled {
        s.say("; ")
            .login(login)
            .say("'s review is PENDING: resubmit it as APPROVED")
    } else if let [one] = outsiders.as_slice() {
        s.say(" (").login(one).say(" is not in it)")
    } else if !outsiders.is_empty() {
        s.say(&format!(" ({} approvers are not in it)", outsiders.len()))
    } else {
        s
    }
}

/// A member approved, but Gitea did not mark the approval official: the team had neither write
/// access to the code nor a place in the branch rule's approvals whitelist when it was given,
/// and Gitea never recomputes the flag, so the member must approve again after the fix.
pub(super) fn not_official(login: &str, t: &TeamRef) -> Described {
    Described::said("")
        .login(login)
        .say("'s approval is not official: give ")
        .team(t)
        .say(" write access to code, or add it to the approvals whitelist; then ")
        .login(login)
        .say(" approves again")
}

/// A member's approval that Gitea unmarked as official when their review was requested again
/// (its `AddReviewRequest`): access is fine, only a new approval counts.
pub(super) fn re_requested(login: &str) -> Described {
    Described::said("")
        .login(login)
        .say("'s approval was cleared by a new review request; ")
        .login(login)
        .say(" approves again")
}

// ----- policies (`docs/policies.md`) -----------------------------------------------------------

impl Described {
    /// `self`, then `; `, then `next`.
    pub(super) fn then(self, next: Described) -> Self {
        let mut s = self.say("; ");
        s.plain.push_str(&next.plain);
        s.markdown.push_str(&next.markdown);
        s
    }

    /// A team by its bare name (`security`), as in "1/2 from security".
    fn short_team(self, t: &TeamRef) -> Self {
        match t {
            TeamRef::Name(n) => self.name(n),
            TeamRef::Id(_) => self.team(t),
        }
    }

    fn logins(mut self, logins: &[String]) -> Self {
        for (i, l) in logins.iter().enumerate() {
            if i > 0 {
                self = self.say(", ");
            }
            self = self.login(l);
        }
        self
    }
}

/// The gate's `paths` select none of the PR's changes.
pub(super) fn no_matching_path(watched: &str) -> Described {
    Described::said("not applicable: no change ").quote(watched)
}

/// The gate has `paths`, but the PR's changed files are not known.
pub(super) fn files_unknown(error: Option<&str>) -> Described {
    let _ = error; // Gitea's text is in the log; a status keeps the fix.
    Described::said(
        "cannot tell whether the gate applies: the PR's changed files could not be read; comment /refire to retry",
    )
}

/// The gate excludes committers, but the PR's commits are not known.
pub(super) fn commits_unknown() -> Described {
    Described::said(
        "cannot tell who committed to this PR: its commits could not be read; comment /refire to retry",
    )
}

/// Some commit's author or committer is no Gitea account.
pub(super) fn unlinked_commit(sha: &str) -> Described {
    Described::said("cannot tell who wrote commit ")
        .quote(sha)
        .say(" (its email is no Gitea account's), so no approval counts: a waiver by a non-committer opens the gate")
}

/// Enough members approved.
pub(super) fn approved_by_all(logins: &[String], t: &TeamRef) -> Described {
    Described::said("approved by ")
        .logins(logins)
        .say(" (")
        .team(t)
        .say(")")
}

/// Some but not enough members approved: "1/2 from security (@carol)".
pub(super) fn partly_approved(logins: &[String], needed: u32, t: &TeamRef) -> Described {
    Described::said(&format!("{}/{needed} from ", logins.len()))
        .short_team(t)
        .say(" (")
        .logins(logins)
        .say(")")
}

/// "Needs N approvals": the awaiting wording when more than one is needed.
pub(super) fn awaiting_many(needed: u32, t: &TeamRef) -> Described {
    Described::said(&format!("0/{needed} from ")).short_team(t)
}

/// A team member's standing request for changes.
pub(super) fn blocked(login: &str, waived: bool) -> Described {
    let s = Described::said("blocked by ")
        .login(login)
        .say(": changes requested; ")
        .login(login)
        .say(" approves, or the review is dismissed");
    if waived {
        s.say(" (a waiver does not clear a block)")
    } else {
        s
    }
}

/// A login whose approval or waiver does not count because they committed to the PR.
pub(super) fn committer(login: &str, what: &str) -> Described {
    Described::said("")
        .login(login)
        .say(&format!("'s {what} does not count: "))
        .login(login)
        .say(" committed to this PR")
}
