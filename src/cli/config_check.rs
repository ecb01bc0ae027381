//! `sopbot config check [FILE]`: validates a config without starting anything, and prints the
//! effective configuration (file, then the `SOPBOT_*` environment over it) with every default
//! filled in and the secrets redacted. `sopbot config init` prints a commented starting config.

use std::path::{Path, PathBuf};

use crate::config::env;

use super::Outcome;

/// The commented example (every key with its default), the same file the tests validate.
const EXAMPLE: &str = include_str!("../../deploy/sopbot.example.toml");

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Validate a config file and print the effective configuration (secrets redacted).
    #[command(
        after_help = "Example:\n  sopbot config check deploy/sopbot.example.toml\n  SOPBOT_SERVER_LISTEN=0.0.0.0:8080 sopbot config check /etc/sopbot/sopbot.toml\n\nExit status: 0 valid, 78 the configuration is wrong (the message names the file or variable and the key)."
    )]
    Check {
        /// The file; default: --config, SOPBOT_CONFIG, or sopbot.toml (or the SOPBOT_*
        /// environment alone when there is none).
        file: Option<PathBuf>,
    },
    /// Print a commented configuration to start from: loopback listener, secrets read from
    /// files, every other key at its default.
    #[command(after_help = "Example:\n  sopbot config init > /etc/sopbot/sopbot.toml")]
    Init,
}

pub fn run(global: Option<&Path>, cmd: Command) -> anyhow::Result<Outcome> {
    let file = match cmd {
        Command::Init => {
            print!("{}", init_text());
            return Ok(Outcome::Ok);
        }
        Command::Check { file } => file,
    };
    let config = super::required_config(file.as_deref().or(global))?;
    // Secrets are resolved too (a token_file that cannot be read is an error), never shown.
    let token = match config.gitea_token() {
        Ok(_) => "set",
        Err(_) if config.gitea.token_file.is_none() && config.gitea.token.is_none() => {
            "not set (required by serve, check and doctor)"
        }
        Err(e) => return Err(e.into()),
    };
    // A `gitea.ca_file` that cannot be used is an error here too, before serve meets it.
    config.gitea_ca_certs()?;
    let secret = match config.webhook_secret()? {
        Some(_) => "set",
        None => "not set (serve refuses to start without one)",
    };
    println!(
        "# {} is valid. Effective configuration:",
        config.source.display()
    );
    println!("# gitea token: {token}; webhook secret: {secret}");
    println!("# {}", crate::details::describe_setting(&config));
    for line in gate_lines(&config) {
        println!("# {line}");
    }
    print!("{}", toml::to_string(&config)?);
    Ok(Outcome::Ok)
}

/// Which gates guard which repository, with the team of each (`[[repo]] gates`, overrides,
/// `[[org]]`): what the rest of the file means per repository.
fn gate_lines(config: &crate::config::Config) -> Vec<String> {
    let describe = |gates: Vec<crate::config::Gate>| {
        gates
            .iter()
            .map(|g| match &g.team {
                crate::types::TeamRef::Name(n) => format!("{} (team {n})", g.name),
                id => format!("{} ({id})", g.name),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut lines: Vec<String> = config
        .repos
        .iter()
        .map(|r| format!("{}: gates {}", r.name, describe(config.gates_for(r))))
        .collect();
    for org in &config.orgs {
        let example = org.repo_config(crate::types::RepoName {
            owner: org.name.clone(),
            name: "*".into(),
        });
        lines.push(format!(
            "{}/* with topic `{}` (listed every {}; `sopbot doctor` shows them): gates {}",
            org.name,
            org.topic,
            crate::config::duration::format(&config.poller.discover_interval),
            describe(config.gates_for(&example))
        ));
    }
    lines
}

/// The example with a header naming the environment variables that override it.
fn init_text() -> String {
    let mut vars = String::new();
    for chunk in env::variable_names().chunks(3) {
        vars.push_str(&format!("#   {}\n", chunk.join("  ")));
    }
    format!(
        "# Written by `sopbot config init` (sopbot {version}).\n\
         # Every key can also be set from the environment, which wins over this file:\n{vars}\
         #   SOPBOT_GATE_<NAME>_TEAM (…_TEAM_ID, _CONTEXT, _WAIVABLE_BY, _ALIASES, _APPROVALS, _PATHS …)\n\
         #   SOPBOT_REPOS=\"acme/widgets:main,acme/gadgets\"\n\
         # Check the result with: sopbot config check FILE\n\n{EXAMPLE}",
        version = env!("CARGO_PKG_VERSION"),
    )
}
