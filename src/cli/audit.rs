//! `sopbot audit [--json]`: every recorded state change, oldest first.

use chrono::SecondsFormat;

use crate::store::{AuditFilter, Store};
use crate::types::RepoName;

use super::{table, Outcome};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  sopbot audit\n  sopbot audit --repo acme/widgets --pr 7 --json"
)]
pub struct Args {
    /// Only this repository (OWNER/REPO).
    #[arg(long)]
    pub repo: Option<RepoName>,
    /// Only this pull request number.
    #[arg(long)]
    pub pr: Option<i64>,
    /// Only the last N entries.
    #[arg(long)]
    pub limit: Option<i64>,
    /// Machine output: a JSON array.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(store: &Store, args: Args) -> anyhow::Result<Outcome> {
    let rows = store
        .list_audit(&AuditFilter {
            repo: args.repo.map(|r| r.full()),
            pr: args.pr,
            limit: args.limit,
        })
        .await?;
    if args.json {
        super::print_json(&rows)?;
        return Ok(Outcome::Ok);
    }
    if rows.is_empty() {
        println!("no audit entries");
        return Ok(Outcome::Ok);
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|a| {
            let target = match (&a.repo, a.pr) {
                (Some(r), Some(pr)) => format!("{r}#{pr}"),
                (Some(r), None) => r.clone(),
                _ => "-".into(),
            };
            vec![
                a.id.to_string(),
                a.at.to_rfc3339_opts(SecondsFormat::Secs, true),
                a.actor.clone(),
                a.action.clone(),
                target,
                a.gate.clone().unwrap_or_else(|| "-".into()),
                a.waiver_id
                    .map(|w| w.to_string())
                    .unwrap_or_else(|| "-".into()),
                table::cell(&a.detail, 70),
            ]
        })
        .collect();
    print!(
        "{}",
        table::render(
            &["ID", "AT", "ACTOR", "ACTION", "PR", "GATE", "WAIVER", "DETAIL"],
            &cells
        )
    );
    Ok(Outcome::Ok)
}
