//! `sopbot doctor` against the emulator: a misprovisioned bot is found before any PR hits it.

use crate::support as common;

use common::{config_text, sopbot, stderr, stdout, write_config};
use gitea_emu::{Emulator, World};

async fn doctor(world: World) -> (i32, String) {
    let emu = Emulator::start(world).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &config_text(&emu, ""));
    let out = sopbot(&config, &["doctor"]).await;
    let text = stdout(&out);
    assert!(!text.contains(&emu.token()), "the token leaked: {text}");
    assert!(!stderr(&out).contains(&emu.token()));
    (out.status.code().unwrap(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bot_outside_the_security_team_fails_and_names_the_fix() {
    let w = World::example().with_team("managers", &["mia", "sopbot"]);
    let w = {
        let mut w = w;
        let sec = w.team_id("security");
        w.remove_team_member(sec, "sopbot");
        w
    };
    let (code, text) = doctor(w).await;
    assert_eq!(code, 1, "{text}");
    let fail = text
        .lines()
        .skip_while(|l| !l.starts_with("FAIL"))
        .take(2)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(fail.contains("security"), "{text}");
    assert!(fail.contains("add @sopbot to team"), "{text}");
    // Everything else was fine and said so.
    assert!(text.contains("ok    token belongs to @sopbot"), "{text}");
    assert!(text.contains("ok    team acme/qa"), "{text}");
    assert_eq!(text.matches("FAIL").count(), 1, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn correct_provisioning_passes() {
    let w = World::example().with_team("managers", &["mia", "sopbot"]);
    let (code, text) = doctor(w).await;
    assert_eq!(code, 0, "{text}");
    assert!(!text.contains("FAIL"), "{text}");
    assert!(text.contains("Gitea at"), "{text}");
    assert!(text.contains("1.25.4"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_token_fails_with_what_to_do() {
    let emu = Emulator::start(World::example()).await;
    let dir = tempfile::tempdir().unwrap();
    let text = config_text(&emu, "").replace(&emu.token(), "not-a-token");
    let config = write_config(dir.path(), &text);
    let out = sopbot(&config, &["doctor"]).await;
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("FAIL  token check failed"), "{text}");
    assert!(text.contains("invalid or revoked"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_missing_from_the_org_is_named() {
    // No managers team at all.
    let (code, text) = doctor(World::example()).await;
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("managers"), "{text}");
}

/// A password in `gitea.url` is as secret as the token: doctor shows `user:***@`, both when
/// Gitea answers and when the connection fails (reqwest's errors carry the URL).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_in_the_url_is_redacted() {
    let w = World::example().with_team("managers", &["mia", "sopbot"]);
    let emu = Emulator::start(w).await;
    let dir = tempfile::tempdir().unwrap();
    let with_password = config_text(&emu, "").replace("http://", "http://bot:hunter2@");
    assert!(with_password.contains("hunter2"));
    let config = write_config(dir.path(), &with_password);
    let out = sopbot(&config, &["doctor"]).await;
    let (text, err) = (stdout(&out), stderr(&out));
    assert!(
        text.contains("Gitea at http://bot:***@127.0.0.1:"),
        "{text}"
    );
    assert!(
        !text.contains("hunter2") && !err.contains("hunter2"),
        "{text}{err}"
    );

    // Nothing listens on the port any more: the transport error is shown, the password is not.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = with_password
        .lines()
        .find(|l| l.starts_with("url"))
        .unwrap()
        .to_string();
    let unreachable = with_password.replace(
        &url,
        &format!("url = \"http://bot:hunter2@127.0.0.1:{closed}/\""),
    );
    let config = write_config(dir.path(), &unreachable);
    let out = sopbot(&config, &["doctor"]).await;
    let (text, err) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{text}{err}");
    assert!(
        text.contains(&format!(
            "Gitea at http://bot:***@127.0.0.1:{closed}/ does not answer"
        )),
        "{text}"
    );
    assert!(
        !text.contains("hunter2") && !err.contains("hunter2"),
        "{text}{err}"
    );
}

/// A token made without `read:organization` (Gitea answers 403 "token does not have at least
/// one of required scope(s)…" on every team call) is one line naming that scope, with the
/// command that makes a token with every scope — not "add the bot to the team".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_token_scope_is_named_once_with_the_fix() {
    let mut w = World::example().with_team("managers", &["mia", "sopbot"]);
    w.set_token_scopes(
        "emu-token-sopbot",
        &["read:user", "write:repository", "write:issue"],
    );
    let (code, text) = doctor(w).await;
    assert_eq!(code, 1, "{text}");
    let fails: Vec<&str> = text.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(fails.len(), 1, "one line per missing scope: {text}");
    assert!(
        fails[0].contains("the bot's token lacks the read:organization scope"),
        "{text}"
    );
    assert!(
        text.contains("--scopes read:user,read:organization,write:repository,write:issue"),
        "{text}"
    );
    assert!(
        !text.contains("add @sopbot to team"),
        "not a membership problem: {text}"
    );
    assert!(text.contains("ok    repository acme/widgets"), "{text}");
}

/// Gitea 1.25 matches required contexts as globs with no separator, and drops a pattern that
/// does not compile (`services/pull/commit_status.go` `MergeRequiredContextsCommitStatus`):
/// doctor reads the rule the same way and names the broken pattern.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_contexts_are_read_as_gitea_globs() {
    // A pattern that matches the gates does not require them: any status matching it (a CI
    // job's `qa-review / lint`) satisfies Gitea, so doctor asks for them by name.
    let w = World::example()
        .with_team("managers", &["mia", "sopbot"])
        .with_status_check_contexts("widgets", "main", &["{qa,security}-review / *"]);
    let (_, text) = doctor(w).await;
    assert!(
        text.contains(
            "warn  acme/widgets: branch main does not require qa-review / approved, \
             security-review / approved by name (`{qa,security}-review / *` matches \
             qa-review / approved; `{qa,security}-review / *` matches security-review / approved, \
             but Gitea accepts any status matching a pattern: another job's success would open \
             the gate)"
        ),
        "{text}"
    );
    let w = World::example()
        .with_team("managers", &["mia", "sopbot"])
        .with_status_check_contexts(
            "widgets",
            "main",
            &["ci/*", "qa-review / approved", "security-review / approved"],
        );
    let (code, text) = doctor(w).await;
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("ok    acme/widgets: branch main requires every gate's status"),
        "{text}"
    );

    // `*` crosses `/` in a context, but `[` opens a class (the pattern is dropped), and `qa*`
    // only matches qa's gate: neither gate is required.
    let w = World::example()
        .with_team("managers", &["mia", "sopbot"])
        .with_status_check_contexts("widgets", "main", &["qa*", "security-review / [approved"]);
    let (_, text) = doctor(w).await;
    assert!(
        text.contains("warn  acme/widgets: branch main requires the status check pattern `security-review / [approved`, which is not a valid glob: Gitea ignores it"),
        "{text}"
    );
    assert!(
        text.contains(
            "warn  acme/widgets: branch main does not require qa-review / approved, \
             security-review / approved by name (`qa*` matches qa-review / approved, but"
        ),
        "{text}"
    );
}
