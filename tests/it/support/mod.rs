//! Shared by the integration tests: a config pointing at an emulator, and running the real
//! `sopbot` binary against it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use gitea_emu::Emulator;

pub mod config;
pub mod inproc;
pub mod reliability;
pub mod serve;
pub mod tester;

pub use config::ConfigToml;

/// The config every test starts from: the emulator, a database in `dir`, acme/widgets with
/// `main` protected, the qa and security gates waivable by their team or `managers`.
pub fn config_text(emu: &Emulator, extra: &str) -> String {
    config_text_with(emu, "", 0, extra)
}

/// [`config_text`] with more lines in `[server]` and the poller every `poll_secs` (0: off).
pub fn config_text_with(emu: &Emulator, server: &str, poll_secs: u64, extra: &str) -> String {
    ConfigToml::new(emu)
        .server(server)
        .poll(poll_secs, "")
        .extra(extra)
        .render()
}

/// Writes `sopbot.toml` into `dir` and returns its path.
pub fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("sopbot.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `sopbot --config CONFIG ARGS…` without blocking the emulator's runtime.
pub async fn sopbot(config: &Path, args: &[&str]) -> Output {
    let config = config.to_path_buf();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("sopbot"))
            .arg("--config")
            .arg(&config)
            .args(&args)
            .env_remove("SOPBOT_GITEA_TOKEN")
            .env_remove("SOPBOT_WEBHOOK_SECRET")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Records a waiver the way the bot does: as the effect of a handled comment (a fresh one per
/// call, so that each call records). Returns the waiver as stored.
pub async fn waive(
    store: &sopbot::store::Store,
    waiver: &sopbot::store::NewWaiver,
) -> Result<sopbot::store::WaiverRow, sopbot::store::StoreError> {
    use sopbot::store::{CommentOutcome, Effect, WaiverFilter};
    static NEXT_COMMENT: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(900_000);
    let comment_id = NEXT_COMMENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    store
        .record_comment_outcome(&CommentOutcome {
            repo: waiver.repo.clone(),
            pr: Some(waiver.pr),
            comment_id,
            body_sha256: String::new(),
            effects: vec![Effect::Waive(waiver.clone())],
            audits: vec![],
            outcome: "{}".into(),
        })
        .await?;
    let all = WaiverFilter {
        include_revoked: true,
        ..Default::default()
    };
    Ok(store
        .list_waivers(&all)
        .await?
        .pop()
        .expect("the waiver just recorded"))
}
