//! `sopbot waivers list|show|revoke`: the admin's view of N/A declarations.

use anyhow::{bail, Context};
use chrono::SecondsFormat;

use crate::bot::event::Event;
use crate::store::{EventSource, NewEvent, Store, StoreError, WaiverFilter, WaiverRow};
use crate::types::{PrNumber, RepoName};

use super::{table, Outcome};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List waivers (active ones unless --all).
    #[command(
        after_help = "Examples:\n  sopbot waivers list\n  sopbot waivers list --repo acme/widgets --pr 7 --all --json"
    )]
    List {
        /// Only this repository (OWNER/REPO).
        #[arg(long)]
        repo: Option<RepoName>,
        /// Only this pull request number.
        #[arg(long)]
        pr: Option<i64>,
        /// Include revoked and expired waivers.
        #[arg(long)]
        all: bool,
        /// Machine output: a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Show one waiver, with its revocation if any.
    Show {
        /// The waiver's id (from `waivers list`).
        id: i64,
        /// Print it as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a waiver; the gate stops passing on it. Recorded with who and why.
    #[command(
        after_help = "Example:\n  sopbot waivers revoke 3 --reason \"declared on the wrong PR\""
    )]
    Revoke {
        /// The waiver's id (from `waivers list`).
        id: i64,
        /// Why (mandatory, kept in the audit log).
        #[arg(long)]
        reason: String,
    },
}

pub async fn run(store: &Store, cmd: Command) -> anyhow::Result<Outcome> {
    match cmd {
        Command::List {
            repo,
            pr,
            all,
            json,
        } => {
            let filter = WaiverFilter {
                repo: repo.map(|r| r.full()),
                pr,
                include_revoked: all,
            };
            let rows = store.list_waivers(&filter).await?;
            if json {
                super::print_json(&rows)?;
            } else if rows.is_empty() {
                println!("no {}waivers", if all { "" } else { "active " });
            } else {
                print!("{}", list_table(&rows, all));
            }
        }
        Command::Show { id, json } => {
            let Some(w) = store.get_waiver(id).await? else {
                bail!("no waiver with id {id}");
            };
            if json {
                super::print_json(&w)?;
            } else {
                print!("{}", crate::text::terminal(&details(&w)));
            }
        }
        Command::Revoke { id, reason } => {
            let by = format!("cli:{}", os_user());
            let w = match store.revoke_waiver(id, &by, &reason).await {
                Err(StoreError::NotFound) => bail!("no waiver with id {id}"),
                Err(StoreError::EmptyReason) => bail!("--reason must say why"),
                other => other.context("cannot revoke")?,
            };
            // The running bot (sharing this database) re-evaluates the PR from its inbox.
            let event = Event::Reevaluate {
                repo: w.repo.clone(),
                pr: PrNumber::from_sql(w.pr),
                why: format!("waiver {} revoked by {by}", w.id),
                fingerprint: None,
            };
            store
                .enqueue(&NewEvent {
                    dedup_key: event.dedup_key(),
                    source: EventSource::Cli,
                    kind: event.kind_name().to_string(),
                    repo: w.repo.clone(),
                    pr: Some(w.pr),
                    delivery_id: None,
                    payload: event.to_json(),
                })
                .await?;
            println!(
                "revoked waiver {} ({} on {}#{}); the running bot will re-evaluate the PR's gates",
                w.id, w.gate, w.repo, w.pr
            );
        }
    }
    Ok(Outcome::Ok)
}

fn time(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn list_table(rows: &[WaiverRow], all: bool) -> String {
    let mut header = vec![
        "ID",
        "REPO",
        "PR",
        "GATE",
        "DECLARED BY",
        "CREATED",
        "REASON",
    ];
    if all {
        header.push("REVOKED");
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|w| {
            let mut row = vec![
                w.id.to_string(),
                w.repo.clone(),
                w.pr.to_string(),
                w.gate.clone(),
                w.declared_by.clone(),
                time(&w.created_at),
                table::cell(&w.reason, 60),
            ];
            if all {
                row.push(match (&w.revoked_at, &w.revoked_by) {
                    (Some(at), Some(by)) => format!("{} by {by}", time(at)),
                    _ => "-".into(),
                });
            }
            row
        })
        .collect();
    table::render(&header, &cells)
}

fn details(w: &WaiverRow) -> String {
    let mut s = format!(
        "waiver {}\n  repo:        {}\n  pr:          #{}\n  gate:        {}\n  declared by: {}\n  reason:      {}\n  comment:     {}\n  head:        {}\n  created:     {}\n",
        w.id,
        w.repo,
        w.pr,
        w.gate,
        w.declared_by,
        crate::text::one_line(&w.reason),
        w.comment_id.map(|c| c.to_string()).unwrap_or_else(|| "-".into()),
        w.head_sha,
        time(&w.created_at),
    );
    match (&w.revoked_at, &w.revoked_by, &w.revoke_reason) {
        (Some(at), Some(by), why) => s.push_str(&format!(
            "  state:       revoked {} by {by}: {}\n",
            time(at),
            crate::text::one_line(why.as_deref().unwrap_or(""))
        )),
        _ => s.push_str("  state:       active\n"),
    }
    s
}

/// Who ran the CLI, for the audit log.
fn os_user() -> String {
    std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into())
}
