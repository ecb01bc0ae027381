//! Token scopes, as Gitea 1.25 enforces them (`routers/api/v1/api.go`, `tokenRequiresScopes`):
//! each route group needs one scope category, at `read` for GET and `write` for POST, PUT,
//! PATCH and DELETE; a token without it gets 403 before the route looks anything up.
//! Scope names and their implications: `models/auth/access_token_scope.go` (`all` holds every
//! scope, `write:x` holds `read:x`).

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::{json_error, lock, AppState};

/// The category a route group needs, by the path under `/api/v1`; `None` for public routes.
/// Issues, their comments, reactions and timeline form the second `/repos` group (`issue`).
fn category(path: &str) -> Option<&'static str> {
    let path = path.strip_prefix("/api/v1").unwrap_or(path);
    let mut parts = path.trim_start_matches('/').split('/');
    match parts.next()? {
        "user" | "users" => Some("user"),
        "orgs" | "teams" => Some("organization"),
        "repos" => match (parts.next(), parts.next(), parts.next()) {
            (Some(_), Some(_), Some("issues")) => Some("issue"),
            _ => Some("repository"),
        },
        _ => None,
    }
}

/// Whether `held` covers `required` (`read:issue` is covered by itself, `write:issue`, `all`).
fn covers(held: &[String], required: &str) -> bool {
    let (level, cat) = required.split_once(':').unwrap_or(("", required));
    held.iter()
        .any(|h| h == "all" || h == required || (level == "read" && *h == format!("write:{cat}")))
}

/// The token of an `Authorization: token|bearer <t>` header, as `flavor` reads it.
fn token(req: &Request, flavor: crate::Flavor) -> Option<&str> {
    let v = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, t) = v.trim().split_once(char::is_whitespace)?;
    flavor.accepts_scheme(scheme).then(|| t.trim())
}

/// The middleware: 403 `{"message","url"}` with the server's text (Gitea's or Forgejo's) when the
/// token lacks the scope.
pub(super) async fn check(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let flavor = lock(&st.world).flavor;
    if let (Some(cat), Some(t)) = (category(req.uri().path()), token(&req, flavor)) {
        let level = match *req.method() {
            Method::POST | Method::PUT | Method::PATCH | Method::DELETE => "write",
            _ => "read",
        };
        let required = format!("{level}:{cat}");
        let w = lock(&st.world);
        // An unknown token falls through to the handler's 401, as Gitea authenticates first.
        if let (Some(_), Some(held)) = (w.login_for_token(t), w.token_scopes(t)) {
            if !covers(held, &required) {
                let message = w.flavor.scope_denial(&required, held);
                return json_error(&w, StatusCode::FORBIDDEN, &message);
            }
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_groups_map_to_gitea_categories() {
        assert_eq!(category("/api/v1/version"), None);
        assert_eq!(category("/api/v1/user"), Some("user"));
        assert_eq!(category("/api/v1/user/teams"), Some("user"));
        assert_eq!(
            category("/api/v1/teams/3/members/bob"),
            Some("organization")
        );
        assert_eq!(category("/api/v1/orgs/acme/teams"), Some("organization"));
        assert_eq!(category("/api/v1/repos/a/b/pulls/1"), Some("repository"));
        assert_eq!(category("/api/v1/repos/a/b/statuses/x"), Some("repository"));
        assert_eq!(
            category("/api/v1/repos/a/b/issues/1/timeline"),
            Some("issue")
        );
        assert_eq!(
            category("/api/v1/repos/a/b/issues/comments/9/reactions"),
            Some("issue")
        );
    }

    #[test]
    fn write_implies_read_and_all_implies_everything() {
        let held = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(covers(&held(&["write:issue"]), "read:issue"));
        assert!(!covers(&held(&["read:issue"]), "write:issue"));
        assert!(covers(&held(&["all"]), "write:organization"));
        assert!(!covers(&held(&["write:repository"]), "read:organization"));
    }
}
