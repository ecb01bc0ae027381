//! `sopbot waivers list|show|revoke`: the admin's view of N/A declarations.

use anyhow::{bail, Context};
use chrono::{DateTime, Days, NaiveDate, NaiveTime, SecondsFormat, Utc};

use crate::bot::event::Event;
use crate::store::{EventSource, NewEvent, Store, StoreError, WaiverFilter, WaiverRow};
use crate::types::{PrNumber, RepoName};

use super::{table, Outcome};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List waivers (active ones unless --all), and how each ended.
    #[command(
        after_help = "Examples:\n  sopbot waivers list\n  sopbot waivers list --repo acme/widgets --pr 7 --all --json\n  sopbot waivers list --all --gate security --declarer carol --since 2026-01-01 --until 2026-03-31\n\nENDED (and \"ended\" in --json) says how a waiver ended: revoked, closed, comment-deleted,\npushed, expired or declarer-left (null while active)."
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
        /// Only this gate (its configured name).
        #[arg(long)]
        gate: Option<String>,
        /// Only waivers declared by this login (any case).
        #[arg(long)]
        declarer: Option<String>,
        /// Only waivers declared on or after this day (YYYY-MM-DD, UTC) or time (RFC 3339).
        #[arg(long, value_parser = since_arg)]
        since: Option<DateTime<Utc>>,
        /// Only waivers declared on or before this day (YYYY-MM-DD, UTC: the whole day) or
        /// before this time (RFC 3339).
        #[arg(long, value_parser = until_arg)]
        until: Option<DateTime<Utc>>,
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

/// `gates` resolves `--gate` as commands do (`qa-review` is `qa`).
pub async fn run(
    store: &Store,
    gates: &crate::command::GateNames,
    cmd: Command,
) -> anyhow::Result<Outcome> {
    match cmd {
        Command::List {
            repo,
            pr,
            all,
            gate,
            declarer,
            since,
            until,
            json,
        } => {
            if let (Some(s), Some(u)) = (since, until) {
                anyhow::ensure!(s < u, "--since must be before --until");
            }
            // An alias lists its gate; a name no gate has now may still be in the history.
            let gate = gate.map(|g| match gates.resolve(&g) {
                Some(canonical) => canonical.to_string(),
                None => {
                    eprintln!(
                        "note: `{g}` is not a configured gate (known: {}); listing waivers recorded under that name",
                        gates.canonical().join(", ")
                    );
                    g
                }
            });
            let filter = WaiverFilter {
                repo: repo.map(|r| r.full()),
                pr,
                include_revoked: all,
                gate,
                declarer,
                since,
                until,
            };
            let rows = store.list_waivers(&filter).await?;
            if json {
                let listed: Vec<Listed> = rows
                    .iter()
                    .map(|row| Listed {
                        row,
                        ended: row.ended(),
                    })
                    .collect();
                super::print_json(&listed)?;
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

/// A waiver as `waivers list --json` prints it: the stored row and how it ended.
#[derive(serde::Serialize)]
struct Listed<'a> {
    #[serde(flatten)]
    row: &'a WaiverRow,
    ended: Option<&'static str>,
}

/// `--since`: a day (from its start, UTC) or an RFC 3339 time.
fn since_arg(s: &str) -> Result<DateTime<Utc>, String> {
    day_or_time(s, 0)
}

/// `--until`: a day (the whole day, UTC) or an RFC 3339 time.
fn until_arg(s: &str) -> Result<DateTime<Utc>, String> {
    day_or_time(s, 1)
}

fn day_or_time(s: &str, days_after: u64) -> Result<DateTime<Utc>, String> {
    if let Ok(day) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let day = day
            .checked_add_days(Days::new(days_after))
            .ok_or_else(|| format!("`{s}` is out of range"))?;
        return Ok(day.and_time(NaiveTime::MIN).and_utc());
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("`{s}` is neither a day (2026-01-31) nor an RFC 3339 time"))
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
        header.push("ENDED");
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
                row.push(w.ended().unwrap_or("-").to_string());
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
            "  state:       {} {} by {by}: {}\n",
            w.ended().unwrap_or("revoked"),
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
