//! Forgejo mode (`World::with_flavor(Flavor::Forgejo)`): where Forgejo 11 answers differently
//! from Gitea 1.25, each test citing the Forgejo source file (branch `v11.0/forgejo`) it encodes.

mod common;

use common::*;
use gitea_emu::{Emulator, Flavor, World, FORGEJO_VERSION};
use serde_json::json;

fn forgejo() -> World {
    scene().with_flavor(Flavor::Forgejo)
}

/// `Makefile`: `FORGEJO_VERSION` is `git describe` plus `+${GITEA_COMPATIBILITY}`
/// (`gitea-1.22.0`), and `routers/api/v1/misc/version.go` answers `setting.AppVer`, which
/// `main.go` sets to it.
#[tokio::test]
async fn version_is_forgejos_with_the_gitea_compatibility_suffix() {
    let emu = Emulator::start(forgejo()).await;
    let a = Api::new(&emu).call("GET", None, "/version", None).await;
    assert_eq!(
        (a.status, &a.json),
        (200, &json!({"version": "11.0.3+gitea-1.22.0"}))
    );
    assert_eq!(FORGEJO_VERSION, "11.0.3+gitea-1.22.0");
}

/// `services/auth/oauth2.go` `parseToken`: `auths[0] == "token" || strings.ToLower(auths[0]) ==
/// "bearer"`; any other scheme is no token, so `reqToken` (`routers/api/v1/api.go`) answers 401
/// `token is required`. An unknown token: `OAuth2.Verify` returns `ErrUserNotExist{}`, sent by
/// `apiAuth` (`routers/api/shared/middleware.go`) as its message (`models/user/error.go`).
#[tokio::test]
async fn only_lowercase_token_and_any_case_bearer_authenticate() {
    let emu = Emulator::start(forgejo()).await;
    let api = Api::new(&emu);
    let with = |value: String| {
        let req = api
            .http
            .get(format!("{}/user", api.base))
            .header("Authorization", value);
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().await.unwrap())
        }
    };
    assert_eq!(with(format!("token {BOT}")).await.0, 200);
    assert_eq!(with(format!("Bearer {BOT}")).await.0, 200);
    assert_eq!(with(format!("BEARER {BOT}")).await.0, 200);
    for refused in [format!("Token {BOT}"), format!("TOKEN {BOT}")] {
        let (status, body) = with(refused.clone()).await;
        assert_eq!(
            (status, &body["message"]),
            (401, &json!("token is required")),
            "{refused}"
        );
    }
    let (status, body) = with("token nope".into()).await;
    assert_eq!(
        (status, &body["message"]),
        (401, &json!("user does not exist [uid: 0, name: ]"))
    );

    // The same headers against Gitea: both schemes in any case.
    let gitea = Emulator::start(scene()).await;
    let r = reqwest::Client::new()
        .get(format!("{}/user", gitea.api_url()))
        .header("Authorization", format!("Token {BOT}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// `routers/api/v1/api.go` `tokenRequiresScopes`: `fmt.Sprintf("token does not have at least
/// one of required scope(s): %v", requiredScopes)` — no `required=`/`token scope=` as in Gitea.
/// Scope names are Gitea's (`models/auth/access_token_scope.go`).
#[tokio::test]
async fn a_missing_scope_is_denied_in_forgejos_words() {
    const NARROW: &str = "tok-narrow";
    let world = forgejo().with_scoped_token("sopbot", NARROW, &["write:repository", "read:issue"]);
    let emu = Emulator::start(world).await;
    let api = Api::new(&emu);
    let a = api.get(NARROW, "/orgs/acme/teams").await;
    assert_eq!(
        (a.status, &a.json["message"]),
        (
            403,
            &json!("token does not have at least one of required scope(s): [read:organization]")
        )
    );
    assert_eq!(api.get(NARROW, "/repos/acme/widgets").await.status, 200);
    let a = api
        .post(
            NARROW,
            "/repos/acme/widgets/issues/7/comments",
            json!({"body": "x"}),
        )
        .await;
    assert_eq!(
        a.json["message"],
        "token does not have at least one of required scope(s): [write:issue]"
    );
}

/// `services/webhook/shared/payloader.go` `AddDefaultHeaders`: `X-Forgejo-Delivery`, `-Event`,
/// `-Event-Type`, `-Signature` first, then the Gitea, Gogs, Hub and GitHub sets, and no
/// `*-Hook-Installation-Target-Type`.
#[tokio::test]
async fn deliveries_carry_forgejos_header_set() {
    let mut w = forgejo();
    let id = w.comment("widgets", 7, "bob", "/refire qa");
    let d = w.webhook_for_comment("widgets", 7, id, "created");
    assert_eq!(d.flavor, Flavor::Forgejo);
    let h = d.signed_headers("s3cret");
    let names: Vec<&str> = h.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "Content-Type",
            "X-Forgejo-Delivery",
            "X-Forgejo-Event",
            "X-Forgejo-Event-Type",
            "X-Forgejo-Signature",
            "X-Gitea-Delivery",
            "X-Gitea-Event",
            "X-Gitea-Event-Type",
            "X-Gitea-Signature",
            "X-Gogs-Delivery",
            "X-Gogs-Event",
            "X-Gogs-Event-Type",
            "X-Gogs-Signature",
            "X-Hub-Signature",
            "X-Hub-Signature-256",
            "X-GitHub-Delivery",
            "X-GitHub-Event",
            "X-GitHub-Event-Type",
        ]
    );
    let get = |k: &str| h.iter().find(|(n, _)| n == k).unwrap().1.clone();
    assert_eq!(get("X-Forgejo-Signature"), d.signature("s3cret"));
    assert_eq!(get("X-Forgejo-Signature"), get("X-Gitea-Signature"));
    assert_eq!(get("X-Forgejo-Event-Type"), "pull_request_comment");
    assert_eq!(get("X-Forgejo-Delivery"), d.delivery_id);

    // Gitea's own set is unchanged: no X-Forgejo-*, the installation target type.
    let g = scene();
    let gd = g
        .webhook_for_pr("widgets", 7, "opened")
        .signed_headers("s3cret");
    assert!(gd.iter().all(|(k, _)| !k.starts_with("X-Forgejo")));
    assert!(gd
        .iter()
        .any(|(k, _)| k == "X-Gitea-Hook-Installation-Target-Type"));
}

/// `modules/webhook/type.go` has no `HookEventStatus`: Forgejo never sends a `status` delivery.
#[test]
#[should_panic(expected = "Forgejo sends no status webhook")]
fn forgejo_has_no_status_webhook() {
    let w = forgejo();
    let sha = w.head_sha("widgets", 7);
    let _ = w.webhook_for_status("widgets", &sha, 1);
}
