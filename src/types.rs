//! Small newtypes shared across the crate: a repository name, a team reference and a
//! pull-request reference.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// `owner/name` of a Gitea repository.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RepoName {
    pub owner: String,
    pub name: String,
}

impl RepoName {
    pub fn full(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

fn valid_part(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl FromStr for RepoName {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('/') {
            Some((owner, name)) if valid_part(owner) && valid_part(name) => Ok(RepoName {
                owner: owner.to_string(),
                name: name.to_string(),
            }),
            _ => Err(format!(
                "`{s}` is not a repository name of the form OWNER/REPO"
            )),
        }
    }
}

impl TryFrom<String> for RepoName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<RepoName> for String {
    fn from(r: RepoName) -> String {
        r.full()
    }
}

/// A team as the config names it, in the repository owner's org. Shared by the config, the
/// gate evaluation and the Gitea team directory that resolves it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum TeamRef {
    /// A team name in the org, matched exactly but case-insensitively (Gitea keeps names unique
    /// by their lower-case form). `qa` never matches `qa-leads`.
    Name(String),
    /// A team id (`team_id = 20` in the config).
    Id(i64),
}

impl TeamRef {
    /// Whether two references name the same team as Gitea matches team names
    /// (case-insensitively); an id and a name never compare equal (unresolved).
    pub fn same_team(&self, other: &TeamRef) -> bool {
        match (self, other) {
            (TeamRef::Name(a), TeamRef::Name(b)) => a.eq_ignore_ascii_case(b),
            (a, b) => a == b,
        }
    }
}

impl fmt::Display for TeamRef {
    /// `qa`, or `team #20`: how status descriptions and replies name it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TeamRef::Name(n) => f.write_str(n),
            TeamRef::Id(id) => write!(f, "team #{id}"),
        }
    }
}

/// `OWNER/REPO#N`: one pull request, as the CLI takes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PrRef {
    pub repo: RepoName,
    pub number: u64,
}

impl fmt::Display for PrRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.repo, self.number)
    }
}

impl FromStr for PrRef {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || format!("`{s}` is not a pull request of the form OWNER/REPO#N");
        let (repo, n) = s.split_once('#').ok_or_else(err)?;
        let number: u64 = n.parse().map_err(|_| err())?;
        if number == 0 {
            return Err(err());
        }
        Ok(PrRef {
            repo: repo.parse().map_err(|_| err())?,
            number,
        })
    }
}

/// A pull request's number in its repository (Gitea's `index`). Serialized as the bare number;
/// stored as SQLite's INTEGER ([`PrNumber::to_sql`] at the store's edge).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PrNumber(pub u64);

impl PrNumber {
    /// The number as the database stores it. Gitea's numbers are int64, so every real one fits;
    /// one that does not is stored as `i64::MAX`, which no PR has.
    pub fn to_sql(self) -> i64 {
        i64::try_from(self.0).unwrap_or(i64::MAX)
    }

    /// A number read back from the database (never negative: only [`PrNumber::to_sql`]
    /// writes them).
    pub fn from_sql(n: i64) -> PrNumber {
        PrNumber(u64::try_from(n).unwrap_or(0))
    }
}

impl From<u64> for PrNumber {
    fn from(n: u64) -> PrNumber {
        PrNumber(n)
    }
}

impl From<PrNumber> for u64 {
    fn from(n: PrNumber) -> u64 {
        n.0
    }
}

impl fmt::Display for PrNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A commit's SHA as Gitea spells it (lower-case hex). Serialized as the bare string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct CommitSha(pub String);

impl CommitSha {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for CommitSha {
    fn from(s: String) -> CommitSha {
        CommitSha(s)
    }
}

impl From<&str> for CommitSha {
    fn from(s: &str) -> CommitSha {
        CommitSha(s.to_string())
    }
}

impl From<CommitSha> for String {
    fn from(s: CommitSha) -> String {
        s.0
    }
}

impl AsRef<str> for CommitSha {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CommitSha {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_repo_and_pr_refs() {
        let pr: PrRef = "acme/widgets#7".parse().unwrap();
        assert_eq!(pr.repo.owner, "acme");
        assert_eq!(pr.repo.name, "widgets");
        assert_eq!(pr.number, 7);
        assert_eq!(pr.to_string(), "acme/widgets#7");
        assert!("acme#7".parse::<PrRef>().is_err());
        assert!("acme/widgets#x".parse::<PrRef>().is_err());
        assert!("acme/widgets#0".parse::<PrRef>().is_err());
        assert!("/widgets".parse::<RepoName>().is_err());
        assert!("a/b/c".parse::<RepoName>().is_err());
    }

    #[test]
    fn pr_numbers_and_shas_serialize_bare_and_pr_numbers_fit_the_database() {
        let pr: PrNumber = serde_json::from_str("7").unwrap();
        assert_eq!(
            (pr, serde_json::to_string(&pr).unwrap()),
            (PrNumber(7), "7".into())
        );
        assert_eq!(pr.to_string(), "7");
        assert_eq!(PrNumber::from_sql(pr.to_sql()), pr);
        assert_eq!(PrNumber(u64::MAX).to_sql(), i64::MAX);
        let sha: CommitSha = serde_json::from_str("\"abc123\"").unwrap();
        assert_eq!(serde_json::to_string(&sha).unwrap(), "\"abc123\"");
        assert_eq!(sha.to_string(), "abc123");
    }
}
