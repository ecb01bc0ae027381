//! A gate's policy beyond "one approval by a team member" (`docs/policies.md`): how many
//! approvals, which changed paths make it apply, whether a standing request for changes blocks
//! it, and whether the PR's committers may open it. Pure data; the defaults are the old rule.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde::Serialize;

/// The policy keys of one gate. [`GatePolicy::default`] keeps the original behaviour exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GatePolicy {
    /// Distinct team members whose approval is needed (at least 1).
    pub approvals: u32,
    /// The gate applies only when the PR changes a file these select; `None`: every PR.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paths: Option<PathFilter>,
    /// A team member's standing `REQUEST_CHANGES` makes the gate `failure`.
    pub block_on_request_changes: bool,
    /// A waiver opens the gate even while it is blocked.
    pub waiver_overrides_block: bool,
    /// Approvals and waivers by anyone who authored or committed a commit of the PR do not count.
    pub exclude_committers: bool,
    /// Ask the team for a review when the gate first awaits approval.
    pub request_review: bool,
}

impl Default for GatePolicy {
    fn default() -> Self {
        GatePolicy {
            approvals: 1,
            paths: None,
            block_on_request_changes: false,
            waiver_overrides_block: false,
            exclude_committers: false,
            request_review: false,
        }
    }
}

/// `paths` / `paths_ignore`: globs over the repository-relative paths a PR changes. `*` stays
/// within one directory, `**` spans directories (`src/auth/**`), matching is case-sensitive.
#[derive(Clone)]
pub struct PathFilter {
    include: Vec<String>,
    ignore: Vec<String>,
    include_set: GlobSet,
    ignore_set: GlobSet,
}

/// A glob that does not parse, with globset's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadGlob {
    /// `paths` or `paths_ignore`.
    pub key: &'static str,
    pub pattern: String,
    pub message: String,
}

impl PathFilter {
    /// Compiles the filter. `None` when both lists are empty (the gate applies to every PR).
    pub fn new(include: &[String], ignore: &[String]) -> Result<Option<PathFilter>, BadGlob> {
        if include.is_empty() && ignore.is_empty() {
            return Ok(None);
        }
        Ok(Some(PathFilter {
            include_set: compile("paths", include)?,
            ignore_set: compile("paths_ignore", ignore)?,
            include: include.to_vec(),
            ignore: ignore.to_vec(),
        }))
    }

    /// Whether a change to `path` makes the gate apply: selected by `paths` (every path when
    /// it is empty) and not by `paths_ignore`.
    pub fn selects(&self, path: &str) -> bool {
        let path = path.trim_start_matches('/');
        (self.include.is_empty() || self.include_set.is_match(path))
            && !self.ignore_set.is_match(path)
    }

    /// What the gate watches, for "not applicable: no change under …".
    pub fn describe(&self) -> String {
        if self.include.is_empty() {
            format!("outside {}", self.ignore.join(", "))
        } else {
            format!("under {}", self.include.join(", "))
        }
    }
}

fn compile(key: &'static str, patterns: &[String]) -> Result<GlobSet, BadGlob> {
    let mut set = GlobSetBuilder::new();
    for p in patterns {
        let bad = |message: String| BadGlob {
            key,
            pattern: p.clone(),
            message,
        };
        if p.trim().is_empty() {
            return Err(bad("an empty pattern matches nothing".into()));
        }
        let glob = GlobBuilder::new(p.trim_start_matches('/'))
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .map_err(|e| bad(e.kind().to_string()))?;
        set.add(glob);
    }
    set.build().map_err(|e| BadGlob {
        key,
        pattern: patterns.join(", "),
        message: e.to_string(),
    })
}

impl PartialEq for PathFilter {
    fn eq(&self, other: &Self) -> bool {
        self.include == other.include && self.ignore == other.ignore
    }
}

impl Eq for PathFilter {}

impl std::fmt::Debug for PathFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PathFilter")
            .field("paths", &self.include)
            .field("paths_ignore", &self.ignore)
            .finish()
    }
}

impl Serialize for PathFilter {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("PathFilter", 2)?;
        st.serialize_field("paths", &self.include)?;
        st.serialize_field("paths_ignore", &self.ignore)?;
        st.end()
    }
}

/// The commit identities of a PR, for `exclude_committers`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Committers {
    /// Logins Gitea links to a commit's author or committer.
    pub logins: Vec<String>,
    /// Short SHAs of commits whose author or committer Gitea links to no account: who wrote
    /// them cannot be told, so no approval can be shown to come from a non-committer.
    pub unlinked: Vec<String>,
}

impl Committers {
    pub fn contains(&self, login: &str) -> bool {
        self.logins.iter().any(|l| super::same_login(l, login))
    }
}
