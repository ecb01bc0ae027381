//! What can go wrong talking to Gitea, as variants callers match on.
//!
//! `endpoint` is the method and the path under `/api/v1`, such as
//! `GET /repos/acme/widgets/pulls/7`: no host, no query string, never the token.

/// Every scope the bot's token needs (README: Gitea setup).
pub const TOKEN_SCOPES: &str = "read:user,read:organization,write:repository,write:issue";

/// How an admin gets a token with every scope the bot needs, `missing` among them.
pub fn scope_fix(missing: &[String]) -> String {
    format!(
        "the bot's token lacks the {} scope: make a new token with `gitea admin user generate-access-token --username BOT --token-name sopbot --scopes {TOKEN_SCOPES}` (or Settings → Applications with those scopes) and restart sopbot",
        missing.join(" / ")
    )
}

/// Appended to a TLS error about Gitea's certificate: what to do about it.
pub const UNTRUSTED_CERTIFICATE: &str = "Gitea's TLS certificate is not trusted: set gitea.ca_file to the PEM file of the CA that issued it, or add that CA to the system store (or point SSL_CERT_FILE / SSL_CERT_DIR at it)";

/// An error from one Gitea API call, after retries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GiteaError {
    /// 401: the token is missing, invalid or revoked.
    #[error("{endpoint} answered 401: {message}")]
    Unauthorized { endpoint: String, message: String },
    /// 403: a token scope is missing, or the token owner lacks a permission.
    #[error("{endpoint} answered 403: {message}")]
    Forbidden { endpoint: String, message: String },
    /// 404: unknown, or invisible to the token owner (Gitea hides private things behind 404).
    #[error("{endpoint} answered 404: {message}")]
    NotFound { endpoint: String, message: String },
    /// Any other non-2xx answer, after retries for 429 and 5xx.
    #[error("{endpoint} answered {status}: {message}")]
    Status {
        endpoint: String,
        status: u16,
        message: String,
    },
    /// No complete answer within the client's timeout, after retries.
    #[error("{endpoint} timed out")]
    Timeout { endpoint: String },
    /// Connection refused, reset, TLS failure…, after retries.
    #[error("{endpoint} failed: {message}")]
    Transport { endpoint: String, message: String },
    /// A 2xx answer whose body is not the JSON expected.
    #[error("{endpoint} sent an answer that cannot be read: {message}")]
    Decode { endpoint: String, message: String },
    /// The client cannot be built (a bad base URL, a token that is not a valid header value).
    #[error("cannot set up the Gitea client: {message}")]
    Setup { message: String },
}

impl GiteaError {
    /// The HTTP status Gitea answered, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Unauthorized { .. } => Some(401),
            Self::Forbidden { .. } => Some(403),
            Self::NotFound { .. } => Some(404),
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// `METHOD /path` of the failed call (`""` for [`GiteaError::Setup`]).
    pub fn endpoint(&self) -> &str {
        match self {
            Self::Unauthorized { endpoint, .. }
            | Self::Forbidden { endpoint, .. }
            | Self::NotFound { endpoint, .. }
            | Self::Status { endpoint, .. }
            | Self::Timeout { endpoint }
            | Self::Transport { endpoint, .. }
            | Self::Decode { endpoint, .. } => endpoint,
            Self::Setup { .. } => "",
        }
    }

    /// Whether the call failed because Gitea's TLS certificate is not trusted.
    pub fn is_untrusted_certificate(&self) -> bool {
        matches!(self, Self::Transport { message, .. } if message.contains(UNTRUSTED_CERTIFICATE))
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }

    pub fn is_forbidden(&self) -> bool {
        matches!(self, Self::Forbidden { .. })
    }

    /// The scopes a 403 says the token lacks, when Gitea denied it for a scope rather than a
    /// permission: Gitea 1.25 says `… required scope(s), required=[read:organization], token
    /// scope=…`, older Gitea and Forgejo `… required scope(s): [read:organization]`
    /// (`routers/api/v1/api.go`, `tokenRequiresScopes`). Any one of the listed scopes would do.
    pub fn missing_scopes(&self) -> Option<Vec<String>> {
        let Self::Forbidden { message, .. } = self else {
            return None;
        };
        let (_, rest) = message.split_once("required scope(s)")?;
        let list = rest.split_once('[')?.1.split_once(']')?.0;
        let scopes: Vec<String> = list
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        (!scopes.is_empty()).then_some(scopes)
    }

    /// Build the error for a non-2xx answer.
    pub(crate) fn from_status(endpoint: String, status: u16, body: &[u8], token: &str) -> Self {
        let message = error_message(status, body, token);
        match status {
            401 => Self::Unauthorized { endpoint, message },
            403 => Self::Forbidden { endpoint, message },
            404 => Self::NotFound { endpoint, message },
            _ => Self::Status {
                endpoint,
                status,
                message,
            },
        }
    }
}

/// Longest message kept from an error body, in characters.
const MAX_MESSAGE: usize = 200;

/// The JSON `message` if the body is a JSON object, else the start of the body; if that is blank,
/// status's reason phrase (Gitea sometimes answers with an empty body, and a 500's message is
/// blank for non-admins). Any occurrence of the token is masked, in case a proxy echoes it.
pub(crate) fn error_message(status: u16, body: &[u8], token: &str) -> String {
    let text = match serde_json::from_slice::<serde_json::Value>(body) {
        // A JSON error body: its `message`, possibly blank.
        Ok(serde_json::Value::Object(o)) if o.contains_key("message") => o
            .get("message")
            .and_then(|m| m.as_str())
            .unwrap_or_default()
            .to_string(),
        _ => String::from_utf8_lossy(body).into_owned(),
    };
    let text = mask(&text, token);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return reqwest::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("no message")
            .to_string();
    }
    truncate(&text, MAX_MESSAGE)
}

pub(crate) fn mask(text: &str, token: &str) -> String {
    if token.is_empty() {
        text.to_string()
    } else {
        text.replace(token, "***")
    }
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_endpoint_and_gitea_message() {
        let e = GiteaError::from_status(
            "GET /teams/21/members/bob".into(),
            403,
            br#"{"message":"Must be a team member","url":"https://g/api/swagger"}"#,
            "tok",
        );
        assert!(e.is_forbidden());
        assert_eq!(
            e.to_string(),
            "GET /teams/21/members/bob answered 403: Must be a team member"
        );
    }

    #[test]
    fn a_scope_denial_names_its_scopes_in_either_wording() {
        let denied = |body: &str| {
            GiteaError::from_status("GET /teams/3".into(), 403, body.as_bytes(), "tok-1234567")
        };
        let gitea_125 = denied(
            r#"{"message":"token does not have at least one of required scope(s), required=[read:organization], token scope=write:repository,write:issue","url":"x"}"#,
        );
        assert_eq!(
            gitea_125.missing_scopes(),
            Some(vec!["read:organization".to_string()])
        );
        let older = denied(
            r#"{"message":"token does not have at least one of required scope(s): [read:organization read:repository]"}"#,
        );
        assert_eq!(
            older.missing_scopes(),
            Some(vec![
                "read:organization".to_string(),
                "read:repository".to_string()
            ])
        );
        assert_eq!(
            denied(r#"{"message":"Must be a team member"}"#).missing_scopes(),
            None
        );
        let not_403 = GiteaError::from_status(
            "GET /x".into(),
            401,
            br#"{"message":"required scope(s): [read:user]"}"#,
            "t",
        );
        assert_eq!(not_403.missing_scopes(), None);
    }

    #[test]
    fn error_message_falls_back_to_body_then_reason() {
        assert_eq!(error_message(403, b"", "tok-1234567"), "Forbidden");
        assert_eq!(
            error_message(500, br#"{"message":"","url":"x"}"#, "tok-1234567"),
            "Internal Server Error"
        );
        assert_eq!(
            error_message(502, b"<html>\n  Bad   gateway\n</html>", "tok-1234567"),
            "<html> Bad gateway </html>"
        );
        let long = "x".repeat(1000);
        assert_eq!(
            error_message(500, long.as_bytes(), "tok-1234567")
                .chars()
                .count(),
            201
        );
        assert_eq!(
            error_message(400, b"bad token s3cret here", "s3cret"),
            "bad token *** here"
        );
    }
}
