//! The command line: one file per subcommand. Each returns an [`Outcome`]; errors are printed
//! once, here, on one line, and give exit code 2.

mod audit;
mod check;
mod commands;
mod config_check;
pub(crate) mod doctor;
mod healthcheck;
mod inbox;
mod logging;
mod parse;
mod serve;
mod setup;
mod startup;
mod table;
mod waivers;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use anyhow::Context;

use crate::bot::Ctx;
use crate::config::{Config, DEFAULT_CONFIG_PATH};
use crate::gitea::{ClientOptions, GiteaClient, TeamDirectory};
use crate::store::Store;

/// `--version`: the crate version and the commit it was built from.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("SOPBOT_BUILD_COMMIT"),
    ")"
);

/// sopbot: gates Gitea pull requests on team reviews, and records who waived what.
#[derive(Debug, Parser)]
#[command(name = "sopbot", version = VERSION, about, long_about = None)]
pub struct Cli {
    /// Config file (TOML).
    #[arg(long, global = true, env = "SOPBOT_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Log format: human-readable text, or one JSON object per line (for log collectors).
    #[arg(long, global = true, env = "SOPBOT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the bot: webhook server, poller and workers.
    Serve(serve::Args),
    /// Parse a comment as sopbot would (stdin without FILE).
    #[command(after_help = "Example:\n  echo '/sop-n/a qa docs only' | sopbot parse --json")]
    Parse(parse::Args),
    /// Waivers recorded in the database.
    #[command(subcommand)]
    Waivers(waivers::Command),
    /// The event inbox: list failed events, retry them, prune handled ones.
    #[command(subcommand)]
    Inbox(inbox::Command),
    /// The audit log: every state change, oldest first.
    Audit(audit::Args),
    /// Print the command reference (the pages in commands/).
    #[command(after_help = "Example:\n  sopbot commands | less")]
    Commands,
    /// Evaluate every gate of a PR and explain the verdicts (posts nothing without --post).
    Check(check::Args),
    /// Check config, database, Gitea, the token and every team; one line per check.
    #[command(
        after_help = "Example:\n  sopbot --config /etc/sopbot/sopbot.toml doctor\n\nExit status: 0 all checks pass, 1 a check failed (each failure says how to fix it)."
    )]
    Doctor {
        /// Print one JSON document (`schema_version`, `ok`, `checks`: status, check, fix).
        #[arg(long)]
        json: bool,
    },
    /// Probe the running bot's /readyz (or /healthz) at the configured listen address: the
    /// container HEALTHCHECK, no curl needed.
    Healthcheck(healthcheck::Args),
    /// Create or update the repository's webhook and add the gate contexts to its branch
    /// protection (needs repo admin); prints every change.
    Setup(setup::Args),
    /// Configuration tools.
    #[command(subcommand)]
    Config(config_check::Command),
    /// Print a shell completion script.
    #[command(after_help = "Example:\n  sopbot completions bash > /etc/bash_completion.d/sopbot")]
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or write one page per subcommand into a directory.
    #[command(
        after_help = "Example:\n  sopbot man > /usr/local/share/man/man1/sopbot.1\n  sopbot man --dir /usr/local/share/man/man1   # sopbot.1, sopbot-serve.1, sopbot-waivers-list.1, …"
    )]
    Man {
        /// Write sopbot.1 and a sopbot-SUBCOMMAND.1 for every subcommand here instead.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// Exit status of a configuration error (sysexits' EX_CONFIG): systemd's
/// `RestartPreventExitStatus=78` stops restarting a service whose config cannot work.
pub const EXIT_CONFIG: u8 = 78;

/// How a subcommand ended, mapped to the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Ok,
    /// Exit 1: the command ran, and what it checked did not pass.
    CheckFailed,
}

/// Runs the CLI: 0 ok, 1 check failed, 2 error (unreadable database, Gitea failing, bad input),
/// 78 configuration error (the file, a `SOPBOT_*` variable, or a secret that cannot be read).
pub async fn run(cli: Cli) -> ExitCode {
    // The server logs what it does; one-shot commands only their warnings.
    let level = if matches!(cli.command, Command::Serve(_)) {
        "info"
    } else {
        "warn"
    };
    logging::init(level, cli.log_format);
    match dispatch(cli).await {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::CheckFailed) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            if is_config_error(&e) {
                ExitCode::from(EXIT_CONFIG)
            } else {
                ExitCode::from(2)
            }
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<Outcome> {
    let config = cli.config.as_deref();
    match cli.command {
        Command::Serve(args) => serve::run(required_config(config)?, args).await,
        Command::Parse(args) => parse::run(&optional_config(config)?, args),
        Command::Commands => commands::run(),
        Command::Waivers(cmd) => {
            let config = required_config(config)?;
            waivers::run(&open_store(&config).await?, &config.gate_names(), cmd).await
        }
        Command::Inbox(cmd) => {
            let config = required_config(config)?;
            let store = open_store(&config).await?;
            inbox::run(&store, config.database.inbox_retention, cmd).await
        }
        Command::Audit(args) => {
            audit::run(&open_store(&required_config(config)?).await?, args).await
        }
        Command::Check(args) => check::run(&required_config(config)?, args).await,
        Command::Doctor { json } => doctor::run(&required_config(config)?, json).await,
        Command::Config(cmd) => config_check::run(config, cmd),
        Command::Setup(args) => setup::run(&required_config(config)?, args).await,
        Command::Healthcheck(args) => healthcheck::run(&optional_config(config)?, args).await,
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "sopbot", &mut std::io::stdout());
            Ok(Outcome::Ok)
        }
        Command::Man { dir } => {
            use clap::CommandFactory;
            match dir {
                Some(dir) => clap_mangen::generate_to(Cli::command(), &dir)
                    .with_context(|| format!("cannot write man pages into {}", dir.display()))?,
                None => clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?,
            }
            Ok(Outcome::Ok)
        }
    }
}

/// Whether `e` is a configuration problem (exit 78) rather than a runtime failure (exit 2).
fn is_config_error(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.is::<crate::config::ConfigError>())
}

/// The config named by `--config`/`SOPBOT_CONFIG`, else `sopbot.toml` if it exists, else the
/// built-in defaults; the `SOPBOT_*` environment over either (enough for commands that need no
/// Gitea and no database).
fn optional_config(explicit: Option<&Path>) -> anyhow::Result<Config> {
    match explicit {
        Some(path) => Ok(Config::load(path)?),
        None if Path::new(DEFAULT_CONFIG_PATH).exists() => {
            Ok(Config::load(Path::new(DEFAULT_CONFIG_PATH))?)
        }
        None => Ok(env_only_config()?),
    }
}

/// The config commands that touch the database or Gitea need: the file, or with no file (none
/// named and no `sopbot.toml` here) the `SOPBOT_*` environment alone, if it sets anything.
fn required_config(explicit: Option<&Path>) -> anyhow::Result<Config> {
    let path = explicit.unwrap_or(Path::new(DEFAULT_CONFIG_PATH));
    if explicit.is_none() && !path.exists() {
        let vars: Vec<_> = std::env::vars().collect();
        if !crate::config::env::any_set(&vars) {
            return Err(crate::config::ConfigError::Missing(format!(
                "no config file: {DEFAULT_CONFIG_PATH} not found; pass --config PATH, set SOPBOT_CONFIG, or set SOPBOT_GITEA_URL and the other SOPBOT_* variables (sopbot config init prints a starting point)"
            ))
            .into());
        }
        return Ok(env_only_config()?);
    }
    Ok(Config::load(path)?)
}

/// Defaults with the environment over them; relative paths are taken from the working directory.
fn env_only_config() -> Result<Config, crate::config::ConfigError> {
    let vars: Vec<_> = std::env::vars().collect();
    Config::from_sources(None, Path::new(DEFAULT_CONFIG_PATH), &vars)
}

async fn open_store(config: &Config) -> anyhow::Result<Store> {
    // The store's errors already name the file.
    Ok(Store::open(&config.database_path()).await?)
}

/// An error chain on one line: "cannot open database x: unable to open: permission denied".
fn one_line(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let s = cause.to_string().replace('\n', " ");
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ")
}

/// Prints JSON on stdout, one document.
fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// The client settings from the config.
/// The client settings of `[gitea]`; a `ca_file` that cannot be used is a config error.
fn client_options(config: &Config) -> Result<ClientOptions, crate::config::ConfigError> {
    Ok(ClientOptions {
        timeout: config.gitea.timeout,
        retries: config.gitea.retries,
        max_requests_per_second: config.gitea.max_requests_per_second,
        ca_certs: config.gitea_ca_certs()?,
        ..ClientOptions::default()
    })
}

/// Gitea, the store and the bot's identity, ready to evaluate (public for the in-process bot
/// of the integration tests, tests/it/support/inproc.rs).
pub async fn connect(config: &Config) -> anyhow::Result<std::sync::Arc<Ctx>> {
    let client = GiteaClient::new(
        config.gitea_url()?,
        config.gitea_token()?,
        client_options(config)?,
    )?
    .with_observer(std::sync::Arc::new(|call| {
        crate::metrics::get().api_call(call)
    }));
    let bot = client
        .current_user()
        .await
        .context("cannot identify the bot from its token (run sopbot doctor)")?;
    let store = open_store(config).await?;
    let teams = TeamDirectory::new(client.clone(), config.gitea.membership_cache_ttl);
    let config = std::sync::Arc::new(config.clone());
    Ok(Ctx::new(
        config,
        client,
        teams,
        store,
        bot.login,
        bot.is_admin,
    ))
}
