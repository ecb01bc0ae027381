//! HTTPS to a Gitea whose certificate comes from an internal CA: the test makes a CA and a
//! server certificate (rcgen), the emulator serves HTTPS with it, and the real `sopbot doctor`
//! trusts it through `gitea.ca_file` or `SSL_CERT_FILE`, and with neither says what to do.

use crate::support as common;

use std::path::Path;
use std::process::Output;

use common::{config_text, stderr, stdout, write_config};
use gitea_emu::{Emulator, World};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

/// A CA certificate (PEM), and a server certificate for `127.0.0.1`/`localhost` signed by it
/// with its key (PEM).
fn internal_ca() -> (String, String, String) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "ACME Internal Root CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);

    let mut server =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    server
        .distinguished_name
        .push(DnType::CommonName, "gitea.acme.internal");
    let server_key = KeyPair::generate().unwrap();
    let server_cert = server.signed_by(&server_key, &issuer).unwrap();
    (ca_cert.pem(), server_cert.pem(), server_key.serialize_pem())
}

struct Tls {
    emu: Emulator,
    dir: tempfile::TempDir,
}

async fn start() -> Tls {
    let (ca, cert, key) = internal_ca();
    let world = World::example().with_team("managers", &["mia", "sopbot"]);
    let emu = Emulator::start_tls(world, &cert, &key).await;
    assert!(emu.base_url().starts_with("https://127.0.0.1:"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca).unwrap();
    Tls { emu, dir }
}

/// `sopbot --config CONFIG doctor` with `env` set, and no inherited `SSL_CERT_*`.
async fn doctor(config: &Path, env: &[(&str, &Path)]) -> Output {
    let config = config.to_path_buf();
    let env: Vec<(String, std::path::PathBuf)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_path_buf()))
        .collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("sopbot"))
            .arg("--config")
            .arg(&config)
            .arg("doctor")
            .env_remove("SOPBOT_GITEA_TOKEN")
            .env_remove("SOPBOT_GITEA_CA_FILE")
            .env_remove("SSL_CERT_FILE")
            .env_remove("SSL_CERT_DIR")
            .envs(env)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn assert_clean(t: &Tls, out: &Output) {
    let (text, err) = (stdout(out), stderr(out));
    assert!(!text.contains(&t.emu.token()) && !err.contains(&t.emu.token()));
    assert!(!err.contains("panicked"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitea_ca_file_makes_the_internal_ca_trusted() {
    let t = start().await;
    // Relative: resolved against the config file's directory.
    let config = write_config(
        t.dir.path(),
        &config_text(&t.emu, "").replace("[gitea]\n", "[gitea]\nca_file = \"ca.pem\"\n"),
    );
    let out = doctor(&config, &[]).await;
    assert_clean(&t, &out);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(
        text.contains(&format!(
            "ok    Gitea at {} answers: Gitea 1.25.4",
            t.emu.base_url()
        )),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssl_cert_file_makes_the_internal_ca_trusted() {
    let t = start().await;
    let config = write_config(t.dir.path(), &config_text(&t.emu, ""));
    let out = doctor(&config, &[("SSL_CERT_FILE", &t.dir.path().join("ca.pem"))]).await;
    assert_clean(&t, &out);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("ok    token belongs to @sopbot"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_fails_saying_how_to_trust_it() {
    let t = start().await;
    let config = write_config(t.dir.path(), &config_text(&t.emu, ""));
    let out = doctor(&config, &[]).await;
    assert_clean(&t, &out);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let fail = text
        .lines()
        .skip_while(|l| !l.starts_with("FAIL"))
        .take(2)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        fail.contains("Gitea's TLS certificate is not trusted"),
        "{text}"
    );
    assert!(fail.contains("invalid peer certificate"), "{text}");
    assert!(fail.contains("fix: set gitea.ca_file"), "{text}");
    assert!(fail.contains("SSL_CERT_FILE"), "{text}");
    // Retrying cannot help: one attempt, not four.
    let calls = t.emu.calls();
    assert!(
        calls.is_empty(),
        "the handshake fails before any request: {calls:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusable_ca_file_is_a_config_error_naming_the_key() {
    let t = start().await;
    std::fs::write(t.dir.path().join("junk.pem"), "not a certificate\n").unwrap();
    std::fs::write(
        t.dir.path().join("broken.pem"),
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    for (file, why) in [
        ("missing.pem", "cannot read it"),
        ("junk.pem", "holds no PEM certificate"),
        ("broken.pem", "cannot be parsed"),
    ] {
        let text = config_text(&t.emu, "")
            .replace("[gitea]\n", &format!("[gitea]\nca_file = \"{file}\"\n"));
        let config = write_config(t.dir.path(), &text);
        for args in [&["doctor"][..], &["config", "check"][..]] {
            let out = common::sopbot(&config, args).await;
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(78), "{file} {args:?}: {err}");
            assert!(err.contains("`gitea.ca_file`"), "{err}");
            assert!(err.contains(file) && err.contains(why), "{file}: {err}");
            assert!(!err.contains("panicked"), "{err}");
        }
    }
    // A good one is shown by `config check`.
    let text = config_text(&t.emu, "").replace("[gitea]\n", "[gitea]\nca_file = \"ca.pem\"\n");
    let config = write_config(t.dir.path(), &text);
    let out = common::sopbot(&config, &["config", "check"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("ca_file = \"ca.pem\""),
        "{}",
        stdout(&out)
    );
}

/// `serve` does not wait for an untrusted Gitea to become trusted: exit 78, saying why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refuses_an_untrusted_gitea() {
    let t = start().await;
    let config = write_config(t.dir.path(), &common::serve::serve_config(&t.emu, 0, ""));
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("sopbot"))
            .arg("--config")
            .arg(&config)
            .arg("serve")
            .env_remove("SOPBOT_GITEA_TOKEN")
            .env_remove("SSL_CERT_FILE")
            .env_remove("SSL_CERT_DIR")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_clean(&t, &out);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(
        err.contains("Gitea's TLS certificate is not trusted: set gitea.ca_file"),
        "{err}"
    );
}
