//! The admin CLI as a user runs it: the real binary, real files, exit codes and output.

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;
use sopbot::store::{NewWaiver, Store};

use crate::support as common;

fn sopbot() -> Command {
    let mut c = Command::cargo_bin("sopbot").unwrap();
    c.env_remove("SOPBOT_CONFIG")
        .env_remove("SOPBOT_GITEA_TOKEN")
        .env_remove("SOPBOT_WEBHOOK_SECRET")
        .env("USER", "admin");
    c
}

fn json(out: &[u8]) -> Value {
    serde_json::from_slice(out).unwrap()
}

#[test]
fn parse_json_gives_commands_and_errors_with_lines() {
    let out = sopbot()
        .args(["parse", "--json"])
        .write_stdin("Thanks!\n/refire qa\n> /refire security\n  /sop-n/a security — docs only\n/refire secuirty\n")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(
        json(&out),
        serde_json::json!([
            {"line": 2, "command": "refire", "gates": ["qa"]},
            {"line": 4, "command": "sop-n/a", "gates": ["security"], "reason": "docs only"},
            {"line": 5, "error": "unknown gate `secuirty`; did you mean `security`?"}
        ])
    );
}

#[test]
fn parse_json_refuses_a_gate_typo_that_would_waive_every_gate() {
    let out = sopbot()
        .args(["parse", "--json"])
        .write_stdin("/sop-n/a qs docs only\n/sop-n/a ｑａ docs only\n\n    /sop-n/a example only\n/sop-n/a docs only\n")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(
        json(&out),
        serde_json::json!([
            {"line": 1, "error": "unknown gate `qs` (a reason that starts with this word needs `:` before it); did you mean `qa`?"},
            {"line": 2, "error": "unknown gate `ｑａ`: it is spelt with look-alike or full-width characters; did you mean `qa`?"},
            {"line": 5, "command": "sop-n/a", "gates": [], "reason": "docs only"}
        ])
    );
}

#[test]
fn parse_reads_a_file_and_fails_on_an_unreadable_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("comment.md");
    std::fs::write(&file, "/sop-help\n").unwrap();
    sopbot()
        .args(["parse", file.to_str().unwrap()])
        .assert()
        .success()
        .stdout("line 1: /sop-help\n");
    sopbot()
        .args(["parse", "/nonexistent/comment.md"])
        .assert()
        .code(2)
        .stderr(predicate::str::starts_with(
            "error: cannot read /nonexistent/comment.md",
        ));
}

#[test]
fn parse_uses_the_configured_gates() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sopbot.toml");
    std::fs::write(&config, "[gate.docs]\nteam = \"writers\"\n").unwrap();
    let out = sopbot()
        .args(["--config", config.to_str().unwrap(), "parse", "--json"])
        .write_stdin("/refire docs-review\n")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(json(&out)[0]["gates"], serde_json::json!(["docs"]));
}

fn config_with_db(dir: &std::path::Path) -> std::path::PathBuf {
    let config = dir.join("sopbot.toml");
    std::fs::write(&config, "[database]\npath = \"state/sopbot.db\"\n").unwrap();
    std::fs::create_dir(dir.join("state")).unwrap();
    config
}

#[test]
fn waivers_list_on_a_fresh_database_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_db(dir.path());
    sopbot()
        .args([
            "--config",
            config.to_str().unwrap(),
            "waivers",
            "list",
            "--json",
        ])
        .assert()
        .success()
        .stdout("[]\n");
    sopbot()
        .args(["--config", config.to_str().unwrap(), "waivers", "list"])
        .assert()
        .success()
        .stdout("no active waivers\n");
}

#[tokio::test]
async fn waivers_list_show_revoke_and_audit_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_db(dir.path());
    let store = Store::open(&dir.path().join("state/sopbot.db"))
        .await
        .unwrap();
    for (pr, gate) in [(7, "security"), (8, "qa")] {
        common::waive(
            &store,
            &NewWaiver {
                repo: "acme/widgets".into(),
                pr,
                gate: gate.into(),
                declared_by: "carol".into(),
                reason: "docs only".into(),
                comment_id: Some(1042),
                head_sha: "f1d3a681d0dcc99cfa5b1d60880defabacd5d09d".into(),
            },
        )
        .await
        .unwrap();
    }
    store.close().await;
    let cfg = config.to_str().unwrap();

    let out = sopbot()
        .args(["--config", cfg, "waivers", "list", "--json", "--pr", "7"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let list = json(&out);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let w = &list[0];
    for key in [
        "id",
        "repo",
        "pr",
        "gate",
        "declared_by",
        "reason",
        "comment_id",
        "head_sha",
        "created_at",
        "revoked_at",
        "revoked_by",
        "revoke_reason",
    ] {
        assert!(w.get(key).is_some(), "missing {key} in {w}");
    }
    assert_eq!(w["gate"], "security");
    assert!(chrono::DateTime::parse_from_rfc3339(w["created_at"].as_str().unwrap()).is_ok());

    // The human table is aligned under its header.
    let table = sopbot()
        .args(["--config", cfg, "waivers", "list"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let table = String::from_utf8(table).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    let col = lines[0].find("GATE").unwrap();
    assert_eq!(&lines[1][col..col + 8], "security", "{table}");

    sopbot()
        .args(["--config", cfg, "waivers", "show", "1"])
        .assert()
        .success()
        .stdout(predicate::str::contains("state:       active"));

    sopbot()
        .args([
            "--config",
            cfg,
            "waivers",
            "revoke",
            "1",
            "--reason",
            "declared on the wrong PR",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("revoked waiver 1"));
    // Revoking twice is an error that says when and by whom.
    sopbot()
        .args([
            "--config", cfg, "waivers", "revoke", "1", "--reason", "again",
        ])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("already revoked").and(predicate::str::contains("cli:admin")),
        );
    sopbot()
        .args(["--config", cfg, "waivers", "revoke", "99", "--reason", "x"])
        .assert()
        .code(2)
        .stderr("error: no waiver with id 99\n");

    // Active list no longer shows it; --all does, with who and why; nothing was deleted.
    let out = sopbot()
        .args(["--config", cfg, "waivers", "list", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(json(&out).as_array().unwrap().len(), 1);
    let out = sopbot()
        .args(["--config", cfg, "waivers", "list", "--all", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let all = json(&out);
    assert_eq!(all.as_array().unwrap().len(), 2);
    assert_eq!(all[0]["revoked_by"], "cli:admin");
    assert_eq!(all[0]["revoke_reason"], "declared on the wrong PR");

    let out = sopbot()
        .args(["--config", cfg, "audit", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let actions: Vec<String> = json(&out)
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        actions,
        ["waiver.created", "waiver.created", "waiver.revoked"]
    );
}

/// A stored reason with a terminal escape, a NUL and a bidi override (the parser refuses such
/// text today, an older or hand-edited database may hold it): the human outputs show them as
/// visible escapes, the JSON keeps the text exact.
#[tokio::test]
async fn control_characters_in_stored_text_are_shown_escaped_and_json_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_db(dir.path());
    let store = Store::open(&dir.path().join("state/sopbot.db"))
        .await
        .unwrap();
    let reason = "docs\u{1b}[2J\u{1b}]0;o\u{7} only\0 \u{202e}x\u{2066}";
    common::waive(
        &store,
        &NewWaiver {
            repo: "acme/widgets".into(),
            pr: 7,
            gate: "security".into(),
            declared_by: "carol".into(),
            reason: reason.into(),
            comment_id: Some(1042),
            head_sha: "f1d3a681d0dcc99cfa5b1d60880defabacd5d09d".into(),
        },
    )
    .await
    .unwrap();
    store
        .record_audit(&sopbot::store::NewAudit {
            actor: "carol".into(),
            action: "waiver.note".into(),
            repo: Some("acme/widgets".into()),
            pr: Some(7),
            gate: Some("security".into()),
            waiver_id: None,
            detail: reason.into(),
        })
        .await
        .unwrap();
    store.close().await;
    let cfg = config.to_str().unwrap();
    let shown = r"docs\u{1b}[2J\u{1b}]0;o\u{7} only\u{0} \u{202e}x\u{2066}";
    let hazard = |s: &str| {
        s.chars()
            .any(|c| (c.is_control() && c != '\n') || ('\u{202a}'..='\u{2069}').contains(&c))
    };
    for args in [
        &["waivers", "list"][..],
        &["waivers", "list", "--all"],
        &["waivers", "show", "1"],
        &["audit"],
    ] {
        let out = sopbot()
            .args(["--config", cfg])
            .args(args)
            .assert()
            .success();
        let out = String::from_utf8(out.get_output().stdout.clone()).unwrap();
        assert!(out.contains(shown), "{args:?}: {out}");
        assert!(!hazard(&out), "{args:?}: {out:?}");
    }
    let out = sopbot()
        .args(["--config", cfg, "waivers", "list", "--json"])
        .assert()
        .success();
    assert_eq!(json(&out.get_output().stdout)[0]["reason"], reason);
    let out = sopbot()
        .args(["--config", cfg, "audit", "--json"])
        .assert()
        .success();
    let entries = json(&out.get_output().stdout);
    let note = entries
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "waiver.note");
    assert_eq!(note.unwrap()["detail"], reason);
}

#[test]
fn an_unreadable_database_is_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sopbot.toml");
    // The database path is a directory.
    std::fs::write(&config, "[database]\npath = \".\"\n").unwrap();
    let out = sopbot()
        .args(["--config", config.to_str().unwrap(), "waivers", "list"])
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(out).unwrap();
    assert!(err.starts_with("error: cannot open database"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn bad_config_names_the_file_and_key_and_exits_78() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sopbot.toml");
    std::fs::write(&config, "[gitea]\nurl = \"http://x\"\ntokn = \"abc\"\n").unwrap();
    sopbot()
        .args(["--config", config.to_str().unwrap(), "waivers", "list"])
        .assert()
        .code(78)
        .stderr(predicate::str::contains(
            "sopbot.toml: line 3: unknown field `tokn`",
        ));
    sopbot()
        .args(["config", "check", config.to_str().unwrap()])
        .assert()
        .code(78)
        .stderr(predicate::str::contains("tokn"));
}

#[test]
fn missing_config_is_an_error_for_commands_that_need_one() {
    let dir = tempfile::tempdir().unwrap();
    sopbot()
        .current_dir(dir.path())
        .args(["waivers", "list"])
        .assert()
        .code(78)
        .stderr(predicate::str::contains("sopbot.toml not found"));
}

#[test]
fn config_check_passes_the_example_and_hides_secrets() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/sopbot.example.toml");
    sopbot()
        .args(["config", "check", example])
        .assert()
        .success()
        .stdout(predicate::str::contains("is valid").and(predicate::str::contains("[gate.qa]")));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sopbot.toml");
    std::fs::write(
        &config,
        "[gitea]\nurl = \"http://x\"\ntoken = \"s3cr3t-token\"\n[server]\nwebhook_secret = \"hook-s3cret\"\n",
    )
    .unwrap();
    sopbot()
        .args(["config", "check", config.to_str().unwrap()])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("gitea token: set")
                .and(predicate::str::contains("s3cr3t").not())
                .and(predicate::str::contains("hook-s3cret").not()),
        );
}

#[test]
fn config_check_redacts_a_password_in_the_gitea_url() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sopbot.toml");
    std::fs::write(
        &config,
        "[gitea]\nurl = \"https://bot:hunter2@gitea.example/\"\ntoken = \"t\"\n",
    )
    .unwrap();
    sopbot()
        .args(["config", "check", config.to_str().unwrap()])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("url = \"https://bot:***@gitea.example/\"")
                .and(predicate::str::contains("hunter2").not()),
        );
}

#[test]
fn bad_arguments_are_exit_2() {
    sopbot().args(["waivers", "frobnicate"]).assert().code(2);
    sopbot()
        .args(["check", "not-a-pr"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("OWNER/REPO#N"));
}

#[test]
fn completions_man_and_version() {
    sopbot()
        .args(["completions", "bash"])
        .assert()
        .success()
        .stdout(predicate::str::contains("_sopbot()"));
    sopbot()
        .arg("man")
        .assert()
        .success()
        .stdout(predicate::str::contains(".TH sopbot 1"));
    sopbot()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::starts_with("sopbot "));
}

#[test]
fn commands_prints_every_page() {
    sopbot().arg("commands").assert().success().stdout(
        predicate::str::contains("# /sop-n/a")
            .and(predicate::str::contains("# /sop-revoke"))
            .and(predicate::str::contains("# /refire"))
            .and(predicate::str::contains("# /sop-help")),
    );
}
