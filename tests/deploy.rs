//! The deploy files are real: the example config validates, the systemd unit passes
//! `systemd-analyze verify` (.ci/run installs systemd's tools when missing).

use std::process::Command;

#[test]
fn systemd_unit_verifies() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/sopbot.service"
    ))
    .unwrap();
    // Point ExecStart at the binary just built, since /usr/local/bin/sopbot is not installed here.
    let unit = unit.replace(
        "/usr/local/bin/sopbot",
        assert_cmd::cargo::cargo_bin("sopbot").to_str().unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sopbot.service");
    std::fs::write(&path, unit).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .expect("systemd-analyze is needed (apt-get install systemd)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "systemd-analyze verify failed:\n{stderr}"
    );
    assert!(
        !stderr.contains("sopbot.service:"),
        "systemd-analyze complained:\n{stderr}"
    );
}

#[test]
fn unit_keeps_secrets_out_of_the_command_line() {
    let unit = include_str!("../deploy/sopbot.service");
    let exec = unit.lines().find(|l| l.starts_with("ExecStart=")).unwrap();
    assert!(
        !exec.contains("token") && !exec.contains("secret"),
        "{exec}"
    );
    assert!(unit.contains("LoadCredential=gitea-token:"));
    assert!(unit.contains("StateDirectory=sopbot"));
    assert!(unit.contains("NoNewPrivileges=yes"));
}

/// Valid as TOML and as config; its secret files exist only inside the container, and config
/// check says exactly that.
#[test]
fn compose_config_validates_up_to_its_secret_files() {
    let out = Command::new(assert_cmd::cargo::cargo_bin("sopbot"))
        .args(["config", "check"])
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/deploy/compose/sopbot.toml"
        ))
        .env_remove("SOPBOT_GITEA_TOKEN")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78));
    assert!(
        err.contains("`gitea.token_file`: /etc/sopbot/secrets/gitea-token"),
        "{err}"
    );
}
