//! Which server sopbot talks to, from `GET /version`: Gitea, or Forgejo (a hard fork with the
//! same API) whose version reads `11.0.3+gitea-1.22.0` (`docs/gitea-api.md`, "Forgejo").

use std::fmt;

/// The server behind `gitea.url`, as its version string tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerKind {
    /// Gitea, with its version as reported (`1.25.4`, `1.24.0+dev-12-gabc`).
    Gitea { version: String },
    /// Forgejo 7 or later: its own version, and the Gitea version it is compatible with.
    /// (Forgejo before 7.0 reported a Gitea-style version and is taken for that Gitea.)
    Forgejo { version: String, gitea: String },
}

impl ServerKind {
    /// Reads a `GET /version` answer: Forgejo appends `+gitea-<version>` (its Makefile's
    /// `GITEA_COMPATIBILITY`); anything else is Gitea.
    pub fn detect(version: &str) -> ServerKind {
        let version = version.trim();
        match version.split_once("+gitea-") {
            Some((own, gitea)) => ServerKind::Forgejo {
                version: own.to_string(),
                gitea: gitea.to_string(),
            },
            None => ServerKind::Gitea {
                version: version.to_string(),
            },
        }
    }

    /// `gitea` or `forgejo`, for `--json`.
    pub fn name(&self) -> &'static str {
        match self {
            ServerKind::Gitea { .. } => "gitea",
            ServerKind::Forgejo { .. } => "forgejo",
        }
    }

    /// The server's own version (Forgejo's without the `+gitea-…` suffix).
    pub fn version(&self) -> &str {
        match self {
            ServerKind::Gitea { version } | ServerKind::Forgejo { version, .. } => version,
        }
    }

    /// Whether the server sends `status` webhooks: Gitea 1.23 and later (an unreadable Gitea
    /// version, a development build say, is taken to send them); Forgejo has no such event
    /// (its `modules/webhook/type.go` has no `HookEventStatus`).
    pub fn sends_status_webhook(&self) -> bool {
        let ServerKind::Gitea { version } = self else {
            return false;
        };
        let mut parts = version.trim_start_matches('v').split('.');
        match (
            parts.next(),
            parts.next().and_then(|m| m.parse::<u32>().ok()),
        ) {
            (Some("1"), Some(minor)) => minor >= 23,
            _ => true,
        }
    }
}

impl fmt::Display for ServerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerKind::Gitea { version } => write!(f, "Gitea {version}"),
            ServerKind::Forgejo { version, gitea } => {
                write!(f, "Forgejo {version} (Gitea {gitea} compatible)")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forgejo_is_told_by_its_gitea_compatibility_suffix() {
        let k = ServerKind::detect("11.0.3+gitea-1.22.0");
        assert_eq!(k.to_string(), "Forgejo 11.0.3 (Gitea 1.22.0 compatible)");
        assert_eq!((k.name(), k.version()), ("forgejo", "11.0.3"));
        let k = ServerKind::detect("7.0.0-dev-123-abc+gitea-1.21.11");
        assert_eq!(k.version(), "7.0.0-dev-123-abc");
        let k = ServerKind::detect(" 1.25.4\n");
        assert_eq!(
            k,
            ServerKind::Gitea {
                version: "1.25.4".into()
            }
        );
        assert_eq!(k.to_string(), "Gitea 1.25.4");
    }

    #[test]
    fn status_webhooks_from_gitea_1_23_never_from_forgejo() {
        for (version, sends) in [
            ("1.22.6", false),
            ("1.21.11", false),
            ("1.23.0", true),
            ("1.25.4", true),
            ("v1.24.0+dev-12-gabc", true),
            ("11.0.3+gitea-1.22.0", false),
            ("12.0.0+gitea-1.22.0", false),
            ("development", true),
        ] {
            let kind = ServerKind::detect(version);
            assert_eq!(kind.sends_status_webhook(), sends, "{version}");
        }
    }
}
