//! Configuration from the environment: every key of the file as `SOPBOT_SECTION_KEY`, laid over
//! the file before it is deserialized, so that precedence is flag > environment > file > default
//! and a container or a systemd unit can be configured without editing the file.
//!
//! - `[gitea] url` → `SOPBOT_GITEA_URL`, `[server] webhook_secret_file` →
//!   `SOPBOT_SERVER_WEBHOOK_SECRET_FILE` (the `*_FILE` variant of a secret), and so on.
//! - Lists are comma-separated: `SOPBOT_EVALUATION_COMMENT_APPROVAL_WORDS=LGTM,APPROVED`.
//! - Gates: `SOPBOT_GATE_<NAME>_<KEY>`, `_` in NAME meaning `-` (`SOPBOT_GATE_QA_TEAM=qa`).
//! - Repositories: `SOPBOT_REPOS="acme/widgets:main:release,acme/gadgets"` (branches after `:`)
//!   replaces every `[[repo]]` of the file.
//!
//! Setting one of a secret's two forms (`token` / `token_file`) removes the other from the file's
//! values, so the environment can override either. A `SOPBOT_<SECTION>_…` variable naming no key
//! is an error, not ignored: a typo must not silently leave a setting at its default.

use toml::{Table, Value};

/// Prefix of every configuration variable.
pub const PREFIX: &str = "SOPBOT_";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str,
    Int,
    Bool,
    List,
    Duration,
}

/// Every key of the plain sections, with its type (keep in step with `Config`; a test checks).
const KEYS: &[(&str, &str, Kind)] = &[
    ("gitea", "url", Kind::Str),
    ("gitea", "token", Kind::Str),
    ("gitea", "token_file", Kind::Str),
    ("gitea", "ca_file", Kind::Str),
    ("gitea", "timeout", Kind::Duration),
    ("gitea", "retries", Kind::Int),
    ("gitea", "membership_cache_ttl", Kind::Duration),
    ("gitea", "max_requests_per_second", Kind::Int),
    ("server", "listen", Kind::Str),
    ("server", "webhook_secret", Kind::Str),
    ("server", "webhook_secret_file", Kind::Str),
    ("server", "max_body_bytes", Kind::Int),
    ("server", "external_url", Kind::Str),
    ("database", "path", Kind::Str),
    ("database", "inbox_retention", Kind::Duration),
    ("poller", "interval_secs", Kind::Int),
    ("poller", "first_start_window", Kind::Duration),
    ("poller", "sweep_interval", Kind::Duration),
    ("poller", "concurrency", Kind::Int),
    ("poller", "discover_interval", Kind::Duration),
    ("waiver", "context", Kind::Str),
    ("waiver", "invalidate_on_push", Kind::Str),
    ("waiver", "max_age", Kind::Str),
    ("waiver", "require_declarer_membership", Kind::Bool),
    ("hold", "context", Kind::Str),
    ("hold", "post_always", Kind::Bool),
    ("evaluation", "strict_head_sha", Kind::Bool),
    ("evaluation", "comment_approvals", Kind::Bool),
    ("evaluation", "comment_approval_prefixes", Kind::List),
    ("evaluation", "comment_approval_words", Kind::List),
    ("evaluation", "handle_edited_comments", Kind::Bool),
];

/// The keys of a `[gate.NAME]`, longest first so `team_id` is not read as `team`.
const GATE_KEYS: &[(&str, Kind)] = &[
    ("block_on_request_changes", Kind::Bool),
    ("waiver_overrides_block", Kind::Bool),
    ("exclude_committers", Kind::Bool),
    ("require_official", Kind::Bool),
    ("request_review", Kind::Bool),
    ("paths_ignore", Kind::List),
    ("waivable_by", Kind::List),
    ("team_id", Kind::Int),
    ("context", Kind::Str),
    ("approvals", Kind::Int),
    ("aliases", Kind::List),
    ("paths", Kind::List),
    ("team", Kind::Str),
];

/// Pairs that are either/or: setting one from the environment drops the other.
const EXCLUSIVE: &[(&str, &str)] = &[
    ("token", "token_file"),
    ("webhook_secret", "webhook_secret_file"),
    ("team", "team_id"),
];

/// Variables with the prefix that are not configuration keys.
const NOT_KEYS: &[&str] = &["CONFIG", "LOG_FORMAT", "WEBHOOK_SECRET"];

/// An environment variable that cannot be used: its name and what is wrong (never its value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvError {
    pub var: String,
    pub message: String,
}

/// All config keys as their variable names, for documentation and `config init`.
pub fn variable_names() -> Vec<String> {
    KEYS.iter()
        .map(|(s, k, _)| format!("{PREFIX}{}_{}", s, k).to_ascii_uppercase())
        .collect()
}

/// True when some variable sets a configuration key (so a config file is not needed).
pub fn any_set(vars: &[(String, String)]) -> bool {
    vars.iter().any(|(name, _)| {
        name.strip_prefix(PREFIX)
            .is_some_and(|rest| !NOT_KEYS.contains(&rest) && section_of(rest).is_some())
    })
}

/// Lays the `SOPBOT_*` variables over `doc` (the parsed file). Returns the names applied.
pub fn overlay(doc: &mut Table, vars: &[(String, String)]) -> Result<Vec<String>, EnvError> {
    let mut applied = Vec::new();
    let mut sorted: Vec<&(String, String)> = vars.iter().collect();
    sorted.sort();
    for (name, value) in sorted {
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        if NOT_KEYS.contains(&rest) {
            continue;
        }
        let err = |message: String| EnvError {
            var: name.clone(),
            message,
        };
        let Some((section, key)) = section_of(rest) else {
            continue;
        };
        match section {
            "repos" => {
                doc.insert("repo".into(), repos(value));
            }
            "gate" => {
                let (gate, key, kind) = gate_key(key).ok_or_else(|| {
                    err("names no gate key (SOPBOT_GATE_<NAME>_TEAM, _TEAM_ID, _CONTEXT, _WAIVABLE_BY, _ALIASES, _REQUIRE_OFFICIAL, or a policy key: _APPROVALS, _PATHS, _PATHS_IGNORE, _BLOCK_ON_REQUEST_CHANGES, _WAIVER_OVERRIDES_BLOCK, _EXCLUDE_COMMITTERS, _REQUEST_REVIEW)".into())
                })?;
                let gates = table_in(doc, "gate");
                let table = table_in(gates, &gate);
                set(table, key, kind, value).map_err(err)?;
            }
            _ => {
                let key = key.to_ascii_lowercase();
                let (_, key, kind) = KEYS
                    .iter()
                    .find(|(s, k, _)| *s == section && *k == key)
                    .ok_or_else(|| err(format!("`{section}` has no key `{key}`")))?;
                set(table_in(doc, section), key, *kind, value).map_err(err)?;
            }
        }
        applied.push(name.clone());
    }
    Ok(applied)
}

/// `GITEA_URL` → (`gitea`, `URL`); `REPOS` → (`repos`, ``); None for other prefixes.
fn section_of(rest: &str) -> Option<(&'static str, &str)> {
    if rest == "REPOS" {
        return Some(("repos", ""));
    }
    let sections = [
        "gitea",
        "server",
        "database",
        "poller",
        "waiver",
        "evaluation",
        "hold",
        "gate",
    ];
    sections.into_iter().find_map(|s| {
        rest.strip_prefix(&s.to_ascii_uppercase())
            .and_then(|k| k.strip_prefix('_'))
            .filter(|k| !k.is_empty())
            .map(|k| (s, k))
    })
}

/// `QA_TEAM_ID` → (`qa`, `team_id`); `CORE_QA_CONTEXT` → (`core-qa`, `context`).
fn gate_key(rest: &str) -> Option<(String, &'static str, Kind)> {
    let lower = rest.to_ascii_lowercase();
    GATE_KEYS.iter().find_map(|(key, kind)| {
        let name = lower.strip_suffix(key)?.strip_suffix('_')?;
        (!name.is_empty()).then(|| (name.replace('_', "-"), *key, *kind))
    })
}

fn table_in<'a>(doc: &'a mut Table, key: &str) -> &'a mut Table {
    let entry = doc
        .entry(key.to_string())
        .or_insert_with(|| Value::Table(Table::new()));
    if !entry.is_table() {
        *entry = Value::Table(Table::new());
    }
    entry.as_table_mut().expect("just made a table")
}

fn set(table: &mut Table, key: &str, kind: Kind, raw: &str) -> Result<(), String> {
    let value = match kind {
        Kind::Str => Value::String(raw.to_string()),
        Kind::Int => Value::Integer(
            raw.trim()
                .parse::<i64>()
                .map_err(|_| "is not a whole number".to_string())?,
        ),
        Kind::Bool => match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Value::Boolean(true),
            "false" | "0" | "no" | "off" => Value::Boolean(false),
            _ => return Err("is not true or false".into()),
        },
        Kind::Duration => {
            // The value is never echoed: a misplaced secret must not reach the journal.
            super::duration::parse(raw)
                .map_err(|_| "is not a duration like \"30s\", \"5m\" or \"250ms\"".to_string())?;
            Value::String(raw.trim().to_string())
        }
        Kind::List => Value::Array(list(raw, ',').map(Value::String).collect()),
    };
    for (a, b) in EXCLUSIVE {
        if key == *a {
            table.remove(*b);
        } else if key == *b {
            table.remove(*a);
        }
    }
    table.insert(key.to_string(), value);
    Ok(())
}

fn list(raw: &str, sep: char) -> impl Iterator<Item = String> + '_ {
    raw.split(sep)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
}

/// `acme/widgets:main:release,acme/gadgets` → `[[repo]]` tables.
fn repos(raw: &str) -> Value {
    Value::Array(
        list(raw, ',')
            .map(|entry| {
                let mut parts = entry.split(':').map(str::trim);
                let mut t = Table::new();
                t.insert(
                    "name".into(),
                    Value::String(parts.next().unwrap_or("").into()),
                );
                let branches: Vec<Value> = parts
                    .filter(|b| !b.is_empty())
                    .map(|b| Value::String(b.into()))
                    .collect();
                t.insert("branches".into(), Value::Array(branches));
                Value::Table(t)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn policy_keys_of_a_gate_come_from_the_environment_too() {
        let mut doc = Table::new();
        overlay(
            &mut doc,
            &vars(&[
                ("SOPBOT_GATE_AUTH_APPROVALS", "2"),
                ("SOPBOT_GATE_AUTH_PATHS", "src/auth/**"),
                ("SOPBOT_GATE_AUTH_PATHS_IGNORE", "docs/**, **/*.md"),
                ("SOPBOT_GATE_AUTH_BLOCK_ON_REQUEST_CHANGES", "true"),
                ("SOPBOT_GATE_AUTH_EXCLUDE_COMMITTERS", "yes"),
            ]),
        )
        .unwrap();
        let auth = &doc["gate"]["auth"];
        assert_eq!(auth["approvals"].as_integer(), Some(2));
        assert_eq!(auth["paths"].as_array().unwrap().len(), 1);
        assert_eq!(auth["paths_ignore"][1].as_str(), Some("**/*.md"));
        assert_eq!(auth["block_on_request_changes"].as_bool(), Some(true));
        assert_eq!(auth["exclude_committers"].as_bool(), Some(true));
    }

    #[test]
    fn keys_land_in_their_sections_with_their_types() {
        let mut doc: Table =
            toml::from_str("[gitea]\nurl = \"http://file\"\nretries = 1\n").unwrap();
        overlay(
            &mut doc,
            &vars(&[
                ("SOPBOT_GITEA_URL", "http://env"),
                ("SOPBOT_GITEA_MEMBERSHIP_CACHE_TTL", "5m"),
                ("SOPBOT_SERVER_MAX_BODY_BYTES", "42"),
                ("SOPBOT_EVALUATION_STRICT_HEAD_SHA", "yes"),
                ("SOPBOT_EVALUATION_COMMENT_APPROVAL_WORDS", "LGTM, OK"),
                ("SOPBOT_GATE_CORE_QA_TEAM_ID", "7"),
                ("SOPBOT_GATE_CORE_QA_REQUIRE_OFFICIAL", "off"),
                ("SOPBOT_REPOS", "acme/widgets:main:rel, acme/gadgets"),
                ("SOPBOT_CONFIG", "/x"),
                ("OTHER_GITEA_URL", "ignored"),
            ]),
        )
        .unwrap();
        assert_eq!(doc["gitea"]["url"].as_str(), Some("http://env"));
        assert_eq!(doc["gitea"]["retries"].as_integer(), Some(1));
        assert_eq!(doc["server"]["max_body_bytes"].as_integer(), Some(42));
        assert_eq!(doc["evaluation"]["strict_head_sha"].as_bool(), Some(true));
        assert_eq!(
            doc["evaluation"]["comment_approval_words"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        assert_eq!(doc["gate"]["core-qa"]["team_id"].as_integer(), Some(7));
        assert_eq!(
            doc["gate"]["core-qa"]["require_official"].as_bool(),
            Some(false)
        );
        assert_eq!(doc["repo"][0]["branches"][1].as_str(), Some("rel"));
        assert_eq!(doc["repo"][1]["name"].as_str(), Some("acme/gadgets"));
    }

    #[test]
    fn a_secret_from_the_environment_replaces_either_form_in_the_file() {
        let mut doc: Table = toml::from_str("[gitea]\ntoken_file = \"/f\"\n").unwrap();
        overlay(&mut doc, &vars(&[("SOPBOT_GITEA_TOKEN", "t")])).unwrap();
        assert!(doc["gitea"].get("token_file").is_none());
        overlay(&mut doc, &vars(&[("SOPBOT_GITEA_TOKEN_FILE", "/g")])).unwrap();
        assert!(doc["gitea"].get("token").is_none());
    }

    #[test]
    fn typos_and_bad_values_name_the_variable_not_the_value() {
        let mut doc = Table::new();
        let e = overlay(&mut doc, &vars(&[("SOPBOT_GITEA_ULR", "x")])).unwrap_err();
        assert_eq!(e.var, "SOPBOT_GITEA_ULR");
        assert!(e.message.contains("`ulr`"), "{}", e.message);
        let e = overlay(&mut doc, &vars(&[("SOPBOT_GITEA_RETRIES", "many")])).unwrap_err();
        assert!(!e.message.contains("many"), "{}", e.message);
        let e = overlay(&mut doc, &vars(&[("SOPBOT_GATE_QA_COLOUR", "x")])).unwrap_err();
        assert_eq!(e.var, "SOPBOT_GATE_QA_COLOUR");
        assert!(overlay(&mut doc, &vars(&[("SOPBOT_GITEA_TIMEOUT", "3 parsecs")])).is_err());
    }

    #[test]
    fn the_key_table_matches_the_config() {
        // Every key the table knows deserializes into Config, and every key Config writes out is
        // in the table.
        let mut doc = Table::new();
        let mut all = Vec::new();
        for (s, k, kind) in KEYS {
            let v = match kind {
                Kind::Str if k.ends_with("url") => "http://x",
                Kind::Str if *k == "listen" => "127.0.0.1:1",
                Kind::Str if *k == "invalidate_on_push" => "always",
                Kind::Str if *k == "max_age" => "14d",
                Kind::Int => "1",
                Kind::Bool => "true",
                Kind::Duration => "1s",
                _ => "v",
            };
            all.push((
                format!("SOPBOT_{s}_{k}").to_ascii_uppercase(),
                v.to_string(),
            ));
        }
        // token and token_file exclude each other: keep only the files.
        all.retain(|(n, _)| n != "SOPBOT_GITEA_TOKEN" && n != "SOPBOT_SERVER_WEBHOOK_SECRET");
        overlay(&mut doc, &all).unwrap();
        let config: super::super::Config = Table::try_into(doc).unwrap();
        let written: Table = toml::from_str(&toml::to_string(&config).unwrap()).unwrap();
        for (section, value) in &written {
            let Some(t) = value.as_table() else { continue };
            if section == "gate" {
                continue;
            }
            for key in t.keys() {
                assert!(
                    KEYS.iter().any(|(s, k, _)| s == section && k == key),
                    "{section}.{key} has no SOPBOT_ variable"
                );
            }
        }
    }
}
