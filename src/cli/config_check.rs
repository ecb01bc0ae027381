//! `sopbot config check [FILE]`: validates a config without starting anything, and prints the
//! effective configuration with every default filled in and the secrets redacted.

use std::path::{Path, PathBuf};

use crate::config::{Config, DEFAULT_CONFIG_PATH};

use super::Outcome;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Validate a config file and print the effective configuration (secrets redacted).
    #[command(after_help = "Example:\n  sopbot config check deploy/sopbot.example.toml")]
    Check {
        /// The file; default: --config, SOPBOT_CONFIG, or sopbot.toml.
        file: Option<PathBuf>,
    },
}

pub fn run(global: Option<&Path>, cmd: Command) -> anyhow::Result<Outcome> {
    let Command::Check { file } = cmd;
    let path = file
        .as_deref()
        .or(global)
        .unwrap_or(Path::new(DEFAULT_CONFIG_PATH));
    let config = Config::load(path)?;
    // Secrets are resolved too (a token_file that cannot be read is an error), never shown.
    let token = match config.gitea_token() {
        Ok(_) => "set",
        Err(_) if config.gitea.token_file.is_none() && config.gitea.token.is_none() => {
            "not set (required by serve, check and doctor)"
        }
        Err(e) => return Err(e.into()),
    };
    let secret = match config.webhook_secret()? {
        Some(_) => "set",
        None => "not set (serve refuses to start without one)",
    };
    println!("# {} is valid. Effective configuration:", path.display());
    println!("# gitea token: {token}; webhook secret: {secret}");
    print!("{}", toml::to_string(&config)?);
    Ok(Outcome::Ok)
}
