//! Which gates guard which repository: `[[repo]] gates = [...]` picks gates, `[repo.gate.NAME]`
//! overrides a gate's team or waivers for that repository, and `[[org]] name, topic` serves
//! every repository of an organisation that carries a topic (found at run time by
//! `crate::repos`). Kept apart from the rest of the config because only this part varies per
//! repository.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Config, ConfigError, Gate, GateConfig, RepoConfig};
use crate::types::{RepoName, TeamRef};

/// `[[org]]`: every repository of `name` with `topic` is served as if listed under `[[repo]]`
/// with the `branches`, `gates` and `gate` overrides given here.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OrgConfig {
    /// The organisation (its login).
    pub name: String,
    /// The repository topic that opts a repository in (Gitea keeps topics lower case).
    pub topic: String,
    #[serde(default)]
    pub branches: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gates: Option<Vec<String>>,
    #[serde(default, rename = "gate", skip_serializing_if = "BTreeMap::is_empty")]
    pub gate_overrides: BTreeMap<String, GateOverride>,
}

/// `[repo.gate.NAME]` / `[org.gate.NAME]`: what one repository changes of a gate. The status
/// context, aliases and every other key stay the gate's, so branch protection and commands read
/// the same everywhere.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct GateOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<i64>,
    /// Teams whose members may waive the gate here. Left out, the gate's waiving teams stay,
    /// with the gate's own team replaced by this override's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waivable_by: Option<Vec<String>>,
}

impl OrgConfig {
    /// The `[[repo]]` entry a discovered repository of this organisation is served with.
    pub fn repo_config(&self, name: RepoName) -> RepoConfig {
        RepoConfig {
            name,
            branches: self.branches.clone(),
            gates: self.gates.clone(),
            gate_overrides: self.gate_overrides.clone(),
        }
    }

    /// Whether a repository's topics opt it in (case-insensitively).
    pub fn matches(&self, topics: &[String]) -> bool {
        topics.iter().any(|t| t.eq_ignore_ascii_case(&self.topic))
    }
}

impl GateOverride {
    /// `base` with this override laid over it (waiving teams: see [`Config::gates_for`]).
    fn apply(&self, base: &GateConfig) -> GateConfig {
        let mut gate = base.clone();
        if self.team.is_some() || self.team_id.is_some() {
            gate.team = self.team.clone();
            gate.team_id = self.team_id;
        }
        if let Some(w) = &self.waivable_by {
            gate.waivable_by = w.clone();
        }
        gate
    }
}

impl Config {
    /// The gates guarding `repo`, with its overrides applied, in name order.
    pub fn gates_for(&self, repo: &RepoConfig) -> Vec<Gate> {
        self.gates
            .iter()
            .filter(|(name, _)| repo.gates.as_ref().is_none_or(|g| g.contains(name)))
            .map(|(name, g)| {
                let base = self.gate(name, g);
                let Some(o) = repo.gate_overrides.get(name) else {
                    return base;
                };
                let mut gate = self.gate(name, &o.apply(g));
                if o.waivable_by.is_none() {
                    // "The gate's own team may waive it" follows the team to this repository.
                    let mut waivers: Vec<TeamRef> = Vec::new();
                    for t in &base.waivable_by {
                        let t = if t.same_team(&base.team) {
                            &gate.team
                        } else {
                            t
                        };
                        if !waivers.contains(t) {
                            waivers.push(t.clone());
                        }
                    }
                    gate.waivable_by = waivers;
                }
                gate
            })
            .collect()
    }

    /// Checks `[[repo]]` gate selections and overrides and every `[[org]]`.
    pub(super) fn validate_repos(&self) -> Result<(), ConfigError> {
        for (i, repo) in self.repos.iter().enumerate() {
            self.validate_repo_policy(
                &format!("repo[{i}]"),
                repo.gates.as_deref(),
                &repo.gate_overrides,
            )?;
        }
        let mut seen = std::collections::HashSet::new();
        for (i, org) in self.orgs.iter().enumerate() {
            let key = format!("org[{i}]");
            let valid_name = !org.name.is_empty()
                && org
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !valid_name {
                return Err(self.invalid(key + ".name", "must be an organisation login"));
            }
            let valid_topic = org.topic.starts_with(|c: char| c.is_ascii_alphanumeric())
                && org.topic.len() <= 50
                && org
                    .topic
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
            if !valid_topic {
                return Err(self.invalid(
                    key + ".topic",
                    "must be a Gitea topic: a letter or digit, then letters, digits, `-` and `.`, at most 50",
                ));
            }
            if !seen.insert(org.name.to_ascii_lowercase()) {
                return Err(self.invalid(key + ".name", "organisation listed twice"));
            }
            self.validate_repo_policy(&key, org.gates.as_deref(), &org.gate_overrides)?;
        }
        Ok(())
    }

    fn validate_repo_policy(
        &self,
        key: &str,
        gates: Option<&[String]>,
        overrides: &BTreeMap<String, GateOverride>,
    ) -> Result<(), ConfigError> {
        if let Some(gates) = gates {
            if gates.is_empty() {
                return Err(self.invalid(
                    format!("{key}.gates"),
                    "names no gate: remove the repository instead",
                ));
            }
            if let Some(unknown) = gates.iter().find(|g| !self.gates.contains_key(*g)) {
                return Err(self.invalid(
                    format!("{key}.gates"),
                    format!("`{unknown}` is not a configured [gate.*]"),
                ));
            }
        }
        for (name, o) in overrides {
            let okey = format!("{key}.gate.{name}");
            if !self.gates.contains_key(name) {
                return Err(self.invalid(okey, "overrides a gate that is not configured"));
            }
            if gates.is_some_and(|g| !g.contains(name)) {
                return Err(self.invalid(okey, "overrides a gate this entry's `gates` leaves out"));
            }
            match (&o.team, o.team_id) {
                (Some(_), Some(_)) => {
                    return Err(self.invalid(okey + ".team", "give either team or team_id"))
                }
                (Some(t), None) if t.trim().is_empty() => {
                    return Err(self.invalid(okey + ".team", "must not be empty"))
                }
                _ => {}
            }
            if o.waivable_by.as_ref().is_some_and(|w| w.is_empty()) {
                return Err(self.invalid(
                    okey + ".waivable_by",
                    "is empty: leave it out to keep the gate's waiving teams",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn load(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, Path::new("/etc/sopbot/sopbot.toml"))
    }

    const GATES: &str = r#"
[gate.qa]
team = "qa"
[gate.security]
team = "security"
waivable_by = ["security", "managers"]
"#;

    #[test]
    fn a_repo_without_gates_has_every_gate() {
        let c = load(&format!("[[repo]]\nname = \"acme/a\"\n{GATES}")).unwrap();
        let names: Vec<_> = c
            .gates_for(&c.repos[0])
            .into_iter()
            .map(|g| g.name)
            .collect();
        assert_eq!(names, ["qa", "security"]);
        assert_eq!(c.gates_for(&c.repos[0]), c.gates());
    }

    #[test]
    fn a_repo_picks_its_gates_and_overrides_a_team() {
        let text = format!(
            "[[repo]]\nname = \"acme/web\"\ngates = [\"qa\"]\n[repo.gate.qa]\nteam = \"web-qa\"\n{GATES}"
        );
        let c = load(&text).unwrap();
        let gates = c.gates_for(&c.repos[0]);
        assert_eq!(gates.len(), 1);
        assert_eq!(gates[0].team, TeamRef::Name("web-qa".into()));
        // The gate's own team waived it; the override's team does now.
        assert_eq!(gates[0].waivable_by, [TeamRef::Name("web-qa".into())]);
        assert_eq!(gates[0].context, "qa-review / approved");
    }

    #[test]
    fn a_team_override_replaces_the_gate_team_among_its_waivers() {
        let text =
            format!("[[repo]]\nname = \"acme/web\"\n[repo.gate.security]\nteam_id = 7\n{GATES}");
        let c = load(&text).unwrap();
        let sec = &c.gates_for(&c.repos[0])[1];
        assert_eq!(sec.team, TeamRef::Id(7));
        assert_eq!(
            sec.waivable_by,
            [TeamRef::Id(7), TeamRef::Name("managers".into())]
        );
    }

    #[test]
    fn policies_that_cannot_work_name_the_key() {
        let cases = [
            ("[[repo]]\nname = \"a/b\"\ngates = [\"qa\", \"sec\"]\n", "repo[0].gates", "`sec`"),
            ("[[repo]]\nname = \"a/b\"\ngates = []\n", "repo[0].gates", "names no gate"),
            (
                "[[repo]]\nname = \"a/b\"\n[repo.gate.perf]\nteam = \"p\"\n",
                "repo[0].gate.perf",
                "not configured",
            ),
            (
                "[[repo]]\nname = \"a/b\"\ngates = [\"qa\"]\n[repo.gate.security]\nteam = \"s\"\n",
                "repo[0].gate.security",
                "leaves out",
            ),
            (
                "[[repo]]\nname = \"a/b\"\n[repo.gate.qa]\nteam = \"q\"\nteam_id = 3\n",
                "repo[0].gate.qa.team",
                "either",
            ),
            ("[[org]]\nname = \"acme\"\ntopic = \"sop gated\"\n", "org[0].topic", "topic"),
            ("[[org]]\nname = \"\"\ntopic = \"t\"\n", "org[0].name", "login"),
            (
                "[[org]]\nname = \"acme\"\ntopic = \"t\"\n[[org]]\nname = \"ACME\"\ntopic = \"u\"\n",
                "org[1].name",
                "twice",
            ),
            (
                "[[org]]\nname = \"acme\"\ntopic = \"t\"\ngates = [\"perf\"]\n",
                "org[0].gates",
                "`perf`",
            ),
        ];
        for (text, key, says) in cases {
            let err = load(&format!("{text}{GATES}")).unwrap_err().to_string();
            assert!(err.contains(&format!("`{key}`")), "{text}: {err}");
            assert!(err.contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn an_org_gives_its_policy_to_each_discovered_repo() {
        let text = format!(
            "[[org]]\nname = \"acme\"\ntopic = \"sop-gated\"\nbranches = [\"main\"]\ngates = [\"security\"]\n{GATES}"
        );
        let c = load(&text).unwrap();
        let org = &c.orgs[0];
        assert!(org.matches(&["go".into(), "SOP-gated".into()]));
        assert!(!org.matches(&["sop-gated-not".into()]));
        let repo = org.repo_config("acme/api".parse().unwrap());
        assert_eq!(repo.branches, ["main"]);
        let names: Vec<_> = c.gates_for(&repo).into_iter().map(|g| g.name).collect();
        assert_eq!(names, ["security"]);
    }
}
