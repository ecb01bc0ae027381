//! Which server the emulator answers as: Gitea 1.25 (the default) or Forgejo 11.
//!
//! Forgejo is a hard fork of Gitea with the same `/api/v1`, and differs where a client can tell
//! (read from Forgejo's `v11.0/forgejo` branch; the main branch is the same on each point):
//! - `GET /version` is `FORGEJO_VERSION`, `<forgejo version>+gitea-<compatible Gitea>`
//!   (`Makefile`: `GITEA_COMPATIBILITY ?= gitea-1.22.0`, appended to `git describe`).
//! - The API token header: `strings.Fields(auHead)` gives exactly two fields and the scheme is
//!   `auths[0] == "token" || strings.ToLower(auths[0]) == "bearer"` (`services/auth/oauth2.go`
//!   `parseToken`): `Token x` is no token at all, so the request is anonymous and a route that
//!   needs a token answers 401 `token is required` (`routers/api/v1/api.go` `reqToken`). Gitea
//!   compares both schemes without case.
//! - A token that matches nothing: `OAuth2.Verify` returns `user_model.ErrUserNotExist{}`, which
//!   `apiAuth` (`routers/api/shared/middleware.go`) sends as the 401 message:
//!   `user does not exist [uid: 0, name: ]` (`models/user/error.go`). Gitea says `invalid
//!   username, password or token`.
//! - Scope denial: `token does not have at least one of required scope(s): [read:issue]`
//!   (`routers/api/v1/api.go` `tokenRequiresScopes`), without Gitea's `required=…, token
//!   scope=…`. The scope names are Gitea's (`models/auth/access_token_scope.go`).
//! - Webhooks: `services/webhook/shared/payloader.go` `AddDefaultHeaders` adds the
//!   `X-Forgejo-{Delivery,Event,Event-Type,Signature}` set before Gitea's, and neither
//!   `X-Gitea-` nor `X-GitHub-Hook-Installation-Target-Type`. Forgejo has no `status` webhook
//!   event (`modules/webhook/type.go` has no `HookEventStatus`).

/// The server the emulator answers as.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Flavor {
    /// Gitea 1.25.4.
    #[default]
    Gitea,
    /// Forgejo 11.0.3, compatible with Gitea 1.22.0.
    Forgejo,
}

/// The version `GET /version` reports in Gitea mode.
pub const GITEA_VERSION: &str = "1.25.4";
/// The version `GET /version` reports in Forgejo mode.
pub const FORGEJO_VERSION: &str = "11.0.3+gitea-1.22.0";

impl Flavor {
    /// `Gitea` or `Forgejo`, for `--flavor` and messages.
    pub fn parse(s: &str) -> Option<Flavor> {
        match s.to_ascii_lowercase().as_str() {
            "gitea" => Some(Flavor::Gitea),
            "forgejo" => Some(Flavor::Forgejo),
            _ => None,
        }
    }

    /// What `GET /version` answers.
    pub fn version(self) -> &'static str {
        match self {
            Flavor::Gitea => GITEA_VERSION,
            Flavor::Forgejo => FORGEJO_VERSION,
        }
    }

    /// Whether `scheme` of `Authorization: <scheme> <token>` names an API token.
    pub(crate) fn accepts_scheme(self, scheme: &str) -> bool {
        match self {
            Flavor::Gitea => {
                scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer")
            }
            Flavor::Forgejo => scheme == "token" || scheme.eq_ignore_ascii_case("bearer"),
        }
    }

    /// The 401 message for a token that matches no user.
    pub(crate) fn invalid_token_message(self) -> &'static str {
        match self {
            Flavor::Gitea => "invalid username, password or token",
            Flavor::Forgejo => "user does not exist [uid: 0, name: ]",
        }
    }

    /// The 403 message for a token without the route group's scope (`held` as stored).
    pub(crate) fn scope_denial(self, required: &str, held: &[String]) -> String {
        match self {
            // `fmt.Sprintf("… required=%v, token scope=%v", requiredScopes, scope)`: Go prints
            // the slice as `[read:organization]`, the token's scope as stored.
            Flavor::Gitea => format!(
                "token does not have at least one of required scope(s), required=[{required}], token scope={}",
                held.join(",")
            ),
            Flavor::Forgejo => {
                format!("token does not have at least one of required scope(s): [{required}]")
            }
        }
    }

    /// Whether deliveries carry the `X-Gitea-` and `X-GitHub-Hook-Installation-Target-Type`
    /// headers (Gitea only); Forgejo sends its `X-Forgejo-*` set instead.
    pub(crate) fn sends_installation_target(self) -> bool {
        self == Flavor::Gitea
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forgejo_takes_only_lowercase_token_and_any_case_bearer() {
        assert!(Flavor::Forgejo.accepts_scheme("token"));
        assert!(!Flavor::Forgejo.accepts_scheme("Token"));
        assert!(Flavor::Forgejo.accepts_scheme("Bearer"));
        assert!(Flavor::Gitea.accepts_scheme("TOKEN"));
        assert!(!Flavor::Gitea.accepts_scheme("basic"));
    }
}
