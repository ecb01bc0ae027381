//! sopbot: a Gitea bot that gates pull requests on team reviews.
//!
//! Data flows one way: webhook or poller → inbox (SQLite) → engine → Gitea client and store.
//! The command grammar ([`command`]) and the gate evaluation ([`gate`]) are pure; all I/O lives
//! in [`gitea`], [`store`] and the edges that drive them.

pub mod bot;
pub mod cli;
pub mod clock;
pub mod command;
pub mod config;
pub mod details;
pub mod gate;
pub mod gitea;
pub mod metrics;
pub mod poller;
pub mod repos;
pub mod secret;
pub mod server;
pub mod store;
pub mod text;
pub mod types;

/// The commit this binary was built from (`git rev-parse --short HEAD` at build time, or
/// `unknown` outside a git checkout, e.g. in a container build without `.git`).
pub const BUILD_COMMIT: &str = env!("SOPBOT_BUILD_COMMIT");
