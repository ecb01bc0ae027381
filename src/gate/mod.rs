//! The tier check: a pure function from facts (PR, reviews, waivers, membership answers, gate
//! config) to a verdict per gate. No I/O here; the caller gathers the facts.

/// What Gitea said when asked whether a user is in a team. Only `Member` ever opens a gate:
/// `Forbidden` and `Error` are "unknown", never "no" and never "yes".
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Membership {
    /// 200 with the user, for a team the token can see.
    Member,
    /// 404 for a team the token has been shown to see.
    NotMember,
    /// 403: the token owner may not read this team's members.
    Forbidden,
    /// Anything else after retries (5xx, timeout, an unconfirmed 404 …), with what happened.
    Error(String),
}
