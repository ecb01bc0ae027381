//! Issue 10: a token made without a scope Gitea requires is diagnosed as that scope, by name,
//! in the gate's status, `check` and the reply — never as a team-membership problem. The
//! emulator answers as Gitea 1.25 does (`routers/api/v1/api.go`, `tokenRequiresScopes`).

use crate::support as common;

use common::tester::{Tester, REPO};
use common::{config_text, sopbot, stdout, write_config};
use gitea_emu::{Emulator, World};

const SECURITY: &str = "security-review / approved";

/// What the security gate says when the token cannot read teams.
const NO_ORG_SCOPE: &str = "cannot check team security: the bot's token lacks read:organization. Admin: make a token with that scope, then /refire";

/// The example world, with the bot's token made without `read:organization`.
fn world() -> World {
    let mut w = World::example().with_user("dave");
    w.set_token_scopes(
        "emu-token-sopbot",
        &["read:user", "write:repository", "write:issue"],
    );
    w.review(REPO, 7, "carol", "APPROVED", "lgtm");
    w
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_the_missing_scope_not_the_team() {
    let emu = Emulator::start(world()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &config_text(&emu, ""));
    let out = sopbot(&config, &["check", "acme/widgets#7", "--json"]).await;
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let sec = v["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["gate"] == "security")
        .unwrap();
    assert_eq!(sec["state"], "error", "{sec}");
    assert_eq!(sec["description"], NO_ORG_SCOPE);
    assert_eq!(sec["candidates"][0]["membership"], "missing-scope");
    let text = stdout(&sopbot(&config, &["check", "acme/widgets#7"]).await);
    assert!(
        text.contains("the bot's token lacks the read:organization scope"),
        "{text}"
    );
    assert!(!text.contains("add the bot"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_and_the_reply_name_the_missing_scope() {
    let c = Tester::setup_in(world()).start().await;
    let id = c.comment("dave", "/refire").await;
    c.expect_status_is(SECURITY, "error", NO_ORG_SCOPE).await;
    let reply = c.expect_reply(id).await;
    assert!(reply.contains(NO_ORG_SCOPE), "{reply}");
    assert!(
        reply.contains("--scopes read:user,read:organization,write:repository,write:issue"),
        "{reply}"
    );
    assert!(
        reply.contains("This is the token, not team membership"),
        "{reply}"
    );
    assert!(
        !reply.contains("add the bot account to that team"),
        "{reply}"
    );
}
