//! The deploy files are real: the example config validates, the systemd unit passes
//! `systemd-analyze verify` and `security` (.ci/run installs systemd's tools when missing), and
//! the unit's way of passing config and secrets works for an unprivileged user.

use std::os::unix::fs::{chown, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gitea_emu::{Emulator, World};

const UNIT: &str = include_str!("../../deploy/sopbot.service");

/// The unit with ExecStart pointing at the binary just built, written into `dir`.
fn unit_file(dir: &Path) -> std::path::PathBuf {
    let unit = UNIT.replace(
        "/usr/local/bin/sopbot",
        assert_cmd::cargo::cargo_bin("sopbot").to_str().unwrap(),
    );
    let path = dir.join("sopbot.service");
    std::fs::write(&path, unit).unwrap();
    path
}

#[test]
fn systemd_unit_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let path = unit_file(dir.path());
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
    let unit = UNIT;
    let exec = unit.lines().find(|l| l.starts_with("ExecStart=")).unwrap();
    assert!(
        !exec.contains("token") && !exec.contains("secret"),
        "{exec}"
    );
    assert!(unit.contains("LoadCredential=gitea-token:"));
    // The config itself is a credential: DynamicUser has no group that could read /etc/sopbot.
    assert!(unit.contains("LoadCredential=sopbot.toml:/etc/sopbot/sopbot.toml"));
    assert!(unit.contains("StateDirectory=sopbot"));
    assert!(unit.contains("NoNewPrivileges=yes"));
    // A bad config exits 78 and is not restarted every 5 s forever.
    assert!(unit.contains("\nRestartPreventExitStatus=78\n"));
}

/// `systemd-analyze security` no longer lists the hardening the bot does not need to give up.
#[test]
fn systemd_unit_is_hardened() {
    let dir = tempfile::tempdir().unwrap();
    let path = unit_file(dir.path());
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&path)
        .output()
        .expect("systemd-analyze is needed (apt-get install systemd)");
    let text = String::from_utf8_lossy(&out.stdout);
    let exposed: Vec<&str> = text.lines().filter(|l| l.starts_with('✗')).collect();
    for setting in [
        "PrivateUsers=",
        "ProtectProc=",
        "ProcSubset=",
        "PrivateMounts=",
        "AF_UNIX",
        "NoNewPrivileges=",
        "CapabilityBoundingSet=",
        "SystemCallFilter=",
    ] {
        assert!(
            !exposed.iter().any(|l| l.contains(setting)),
            "{setting} still exposed:\n{}",
            exposed.join("\n")
        );
    }
    let level = text
        .lines()
        .find_map(|l| l.split("exposure level for sopbot.service: ").nth(1))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{text}"));
    assert!(level <= 1.5, "exposure {level}:\n{text}");
}

/// `KEY=value` / `KEY: value` settings of SOPBOT_* variables in a Dockerfile `ENV` or a compose
/// `environment:` map (plain lines, as these files write them).
fn sopbot_vars(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(|l| {
            l.trim()
                .trim_start_matches("ENV ")
                .trim_end_matches('\\')
                .trim()
        })
        .filter(|l| l.starts_with("SOPBOT_"))
        .filter_map(|l| {
            let (k, v) = l.split_once('=').or_else(|| l.split_once(": "))?;
            Some((k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

const DOCKERFILE: &str = include_str!("../../deploy/Dockerfile");
const COMPOSE: &str = include_str!("../../deploy/compose.yaml");

/// The compose config with the image's and compose's variables is valid up to its secret files,
/// which exist only inside the container: config check says exactly that, and with them in
/// place (here: temporary files) the result listens on 0.0.0.0:8080 and talks to `gitea`.
#[test]
fn compose_config_validates_up_to_its_secret_files() {
    let mut vars = sopbot_vars(DOCKERFILE);
    vars.extend(sopbot_vars(COMPOSE));
    assert!(
        vars.iter().any(|(k, _)| k == "SOPBOT_SERVER_LISTEN"),
        "{vars:?}"
    );
    let check = |vars: &[(String, String)]| {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("sopbot"));
        cmd.args(["config", "check"])
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/deploy/compose/sopbot.toml"
            ))
            .env_remove("SOPBOT_GITEA_TOKEN")
            .envs(vars.iter().cloned());
        cmd.output().unwrap()
    };
    let out = check(&vars);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78));
    assert!(
        err.contains("`gitea.token_file`: /run/secrets/gitea-token"),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    for (k, v) in vars.iter_mut() {
        if k.ends_with("_FILE") {
            let path = dir.path().join(k.as_str());
            std::fs::write(&path, "x").unwrap();
            *v = path.to_str().unwrap().to_string();
        }
    }
    let out = check(&vars);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("listen = \"0.0.0.0:8080\""), "{text}");
    assert!(text.contains("url = \"http://gitea:3000\""), "{text}");
    assert!(
        text.contains("path = \"/var/lib/sopbot/sopbot.db\""),
        "{text}"
    );
}

/// What the container files promise, checked as text (no container engine here to build them).
#[test]
fn container_files_are_pinned_non_root_and_self_checking() {
    for from in DOCKERFILE.lines().filter(|l| l.starts_with("FROM ")) {
        let image = from.split_whitespace().nth(1).unwrap();
        let (registry, rest) = image.split_once('/').unwrap();
        assert!(registry.contains('.'), "not fully qualified: {image}");
        let tag = rest.rsplit_once(':').map(|(_, t)| t).unwrap_or("");
        assert!(
            !tag.is_empty() && tag != "latest" && tag.chars().any(|c| c.is_ascii_digit()),
            "not pinned: {image}"
        );
    }
    let user = DOCKERFILE
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .unwrap();
    let uid: u32 = user
        .split(':')
        .next()
        .unwrap()
        .parse()
        .expect("a numeric USER");
    assert_ne!(uid, 0);
    assert!(DOCKERFILE.contains("CMD [\"/usr/local/bin/sopbot\", \"healthcheck\"]"));
    assert!(!DOCKERFILE.contains("curl"));
    let ignore = include_str!("../../.dockerignore");
    assert!(ignore.lines().any(|l| l == "**/target"), "{ignore}");
    assert_eq!(COMPOSE.matches("restart: unless-stopped").count(), 2);
    assert!(COMPOSE.contains("condition: service_healthy"));
    assert!(COMPOSE.contains("/api/healthz"));
    assert!(COMPOSE.contains("\nsecrets:\n"));
    for image in COMPOSE
        .lines()
        .filter_map(|l| l.trim().strip_prefix("image: "))
    {
        assert!(
            image.starts_with("docker.io/") || image == "sopbot:local",
            "{image}"
        );
    }
}

/// The unit's Environment= values with `%d` (the credentials directory) and `%S` (the state
/// root) replaced as systemd would.
fn unit_environment(creds: &Path, state_root: &Path) -> Vec<(String, String)> {
    UNIT.lines()
        .filter_map(|l| l.strip_prefix("Environment="))
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            let v = v
                .replace("%d", creds.to_str().unwrap())
                .replace("%S", state_root.to_str().unwrap());
            (k.to_string(), v)
        })
        .collect()
}

/// What the unit asks systemd to do, done by hand, then the bot run as `nobody` (65534): the
/// documented files in /etc/sopbot stay root-only (0600), the credentials directory holds
/// copies owned by the service user (0400, as LoadCredential makes them), the state directory
/// is the user's (0700). `sopbot serve`, started with the unit's ExecStart and Environment,
/// must reach a ready /readyz against the emulator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unit_layout_serves_as_an_unprivileged_user() {
    if !nix_is_root() {
        eprintln!("SKIPPED: needs root to switch to uid 65534 (CI runs as root)");
        return;
    }
    let emu = Emulator::start(World::example()).await;
    let root = tempfile::tempdir().unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();

    // /etc/sopbot as deploy/README.md installs it: `sopbot config init`, edited.
    let init = Command::new(assert_cmd::cargo::cargo_bin("sopbot"))
        .args(["config", "init"])
        .output()
        .unwrap();
    let config = String::from_utf8(init.stdout)
        .unwrap()
        .replace("http://127.0.0.1:3000", &emu.base_url())
        .replace(
            "# listen = \"127.0.0.1:8080\"",
            &format!("listen = \"127.0.0.1:{port}\""),
        );
    let etc = root.path().join("etc-sopbot");
    std::fs::create_dir(&etc).unwrap();
    std::fs::set_permissions(&etc, std::fs::Permissions::from_mode(0o700)).unwrap();
    let files = [
        ("sopbot.toml", config),
        ("gitea-token", emu.token()),
        ("webhook-secret", "a-webhook-secret".to_string()),
    ];
    // LoadCredential: copies, owned by the service's user, read-only, in a directory only it
    // can enter.
    let creds = root.path().join("credentials");
    std::fs::create_dir(&creds).unwrap();
    for (name, text) in &files {
        let original = etc.join(name);
        std::fs::write(&original, text).unwrap();
        std::fs::set_permissions(&original, std::fs::Permissions::from_mode(0o600)).unwrap();
        let copy = creds.join(name);
        std::fs::write(&copy, text).unwrap();
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o400)).unwrap();
        chown(&copy, Some(65534), Some(65534)).unwrap();
    }
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o500)).unwrap();
    chown(&creds, Some(65534), Some(65534)).unwrap();
    // StateDirectory=sopbot, StateDirectoryMode=0700.
    let state_root = root.path().join("state");
    std::fs::create_dir_all(state_root.join("sopbot")).unwrap();
    std::fs::set_permissions(
        state_root.join("sopbot"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    chown(state_root.join("sopbot"), Some(65534), Some(65534)).unwrap();

    let exec = UNIT
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .unwrap();
    let mut argv = exec.split_whitespace();
    assert_eq!(argv.next(), Some("/usr/local/bin/sopbot"));
    let log = root.path().join("log");
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(assert_cmd::cargo::cargo_bin("sopbot"))
        .args(argv)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .envs(unit_environment(&creds, &state_root))
        .current_dir("/")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut child = Kill(cmd.spawn().expect("setpriv runs"));

    // The user the service runs as cannot read the originals: only the credentials work.
    let peek = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg("cat")
        .arg(etc.join("gitea-token"))
        .output()
        .unwrap();
    assert!(!peek.status.success());

    let url = format!("http://127.0.0.1:{port}/readyz");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = reqwest::get(&url).await {
            if r.status() == 200 {
                break;
            }
        }
        if let Some(status) = child.0.try_wait().unwrap() {
            panic!(
                "sopbot exited {status}:\n{}",
                std::fs::read_to_string(&log).unwrap()
            );
        }
        assert!(
            Instant::now() < deadline,
            "not ready within 30 s:\n{}",
            std::fs::read_to_string(&log).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The database is where the unit says, owned by the service's user.
    let db = state_root.join("sopbot/sopbot.db");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(&db).unwrap().uid(), 65534);
}

fn nix_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}

/// A child killed when the test ends.
struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
