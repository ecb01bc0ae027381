//! sopbot against the emulator in Forgejo mode (`gitea_emu::flavor`): `doctor` tells Forgejo
//! from Gitea (human and `--json`) and reads Forgejo's scope-denial wording as the missing scope.
//! The end-to-end conversations in Forgejo mode are `tests/e2e.rs`'s `forgejo` module.

use crate::support as common;

use common::{config_text, sopbot, stderr, stdout, write_config};
use gitea_emu::{Emulator, Flavor, World};
use serde_json::Value;

fn forgejo() -> World {
    World::example()
        .with_team("managers", &["mia", "sopbot"])
        .with_flavor(Flavor::Forgejo)
}

async fn doctor(world: World, args: &[&str]) -> (i32, String) {
    let emu = Emulator::start(world).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &config_text(&emu, ""));
    let mut all = vec!["doctor"];
    all.extend_from_slice(args);
    let out = sopbot(&config, &all).await;
    let text = stdout(&out);
    assert!(!text.contains(&emu.token()), "the token leaked: {text}");
    assert!(!stderr(&out).contains(&emu.token()));
    (out.status.code().unwrap(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_names_forgejo_and_passes() {
    let (code, text) = doctor(forgejo(), &[]).await;
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(" answers: Forgejo 11.0.3 (Gitea 1.22.0 compatible)\n"),
        "{text}"
    );
    assert!(!text.contains("Gitea 1.25"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_json_has_the_server_kind() {
    let (code, text) = doctor(forgejo(), &["--json"]).await;
    assert_eq!(code, 0, "{text}");
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        doc["server"],
        serde_json::json!({"kind": "forgejo", "version": "11.0.3", "gitea_version": "1.22.0"})
    );
    let (_, text) = doctor(World::example(), &["--json"]).await;
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        doc["server"],
        serde_json::json!({"kind": "gitea", "version": "1.25.4", "gitea_version": null})
    );
}

/// Forgejo says `token does not have at least one of required scope(s): [read:organization]`:
/// still one line naming the scope, not a team-membership problem.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_scope_in_forgejos_words_is_named() {
    let mut w = forgejo();
    w.set_token_scopes(
        "emu-token-sopbot",
        &["read:user", "write:repository", "write:issue"],
    );
    let (code, text) = doctor(w, &[]).await;
    assert_eq!(code, 1, "{text}");
    let fails: Vec<&str> = text.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(fails.len(), 1, "{text}");
    assert!(
        fails[0].contains("the bot's token lacks the read:organization scope"),
        "{text}"
    );
    assert!(!text.contains("add @sopbot to team"), "{text}");
}
