//! `sopbot inbox list|retry|prune`: the event inbox for an operator. A failed event (it ran out
//! of attempts) stays `failed` until someone looks; `retry` puts it back for the running bot.

use anyhow::bail;
use chrono::Utc;

use crate::store::{EventState, Store, StoreError};

use super::{table, Outcome};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List events, newest first (default: the failed ones).
    #[command(
        after_help = "Example:\n  sopbot inbox list\n  sopbot inbox list --state all --limit 20 --json"
    )]
    List {
        /// Which events: failed, pending, running, done or all.
        #[arg(long, default_value = "failed", value_parser = ["failed", "pending", "running", "done", "all"])]
        state: String,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Print JSON (`schema_version` 1) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Put failed events back in the queue; the running bot runs them again.
    #[command(after_help = "Example:\n  sopbot inbox retry 42 43")]
    Retry {
        /// Ids of failed events (from `inbox list`).
        #[arg(required = true)]
        ids: Vec<i64>,
    },
    /// Delete handled (`done`) events older than the retention now (serve does it hourly).
    #[command(after_help = "Example:\n  sopbot inbox prune --older-than 30d")]
    Prune {
        /// Age limit; default database.inbox_retention.
        #[arg(long, value_name = "DURATION", value_parser = crate::config::duration::parse)]
        older_than: Option<std::time::Duration>,
    },
}

pub async fn run(
    store: &Store,
    retention: std::time::Duration,
    cmd: Command,
) -> anyhow::Result<Outcome> {
    match cmd {
        Command::List { state, limit, json } => {
            let state = match state.as_str() {
                "failed" => Some(EventState::Failed),
                "pending" => Some(EventState::Pending),
                "running" => Some(EventState::Running),
                "done" => Some(EventState::Done),
                _ => None,
            };
            let rows = store.list_events(state, limit).await?;
            if json {
                super::print_json(&serde_json::json!({"schema_version": 1, "events": rows}))?;
                return Ok(Outcome::Ok);
            }
            let header = [
                "ID",
                "STATE",
                "KIND",
                "REPO",
                "PR",
                "ATTEMPTS",
                "RECEIVED",
                "LAST ERROR",
            ];
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.id.to_string(),
                        format!("{:?}", r.state).to_lowercase(),
                        r.kind.clone(),
                        r.repo.clone(),
                        r.pr.map(|p| format!("#{p}")).unwrap_or_default(),
                        r.attempts.to_string(),
                        r.received_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                        table::cell(r.last_error.as_deref().unwrap_or(""), 60),
                    ]
                })
                .collect();
            print!("{}", table::render(&header, &cells));
        }
        Command::Retry { ids } => {
            for id in ids {
                match store.retry_event(id).await {
                    Ok(row) => println!("event {id} ({} {}) queued again", row.kind, row.repo),
                    Err(StoreError::NotFound) => bail!("no failed event with id {id}"),
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Command::Prune { older_than } => {
            if older_than.is_none() && retention.is_zero() {
                // A retention of 0 means "keep them", never "delete them all".
                println!("kept every event: the retention is 0 (keep); pass --older-than to prune");
                return Ok(Outcome::Ok);
            }
            let age = older_than.unwrap_or(retention);
            let before = Utc::now() - chrono::Duration::from_std(age)?;
            let n = store.prune_done(before).await?;
            println!(
                "deleted {n} handled events older than {}",
                crate::config::duration::format(&age)
            );
        }
    }
    Ok(Outcome::Ok)
}
