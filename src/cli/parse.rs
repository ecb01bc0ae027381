//! `sopbot parse [FILE] [--json]`: shows what sopbot would read in a comment.

use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;

use crate::command::{parse_comment, to_json, Command, MAX_BODY_BYTES};
use crate::config::Config;
use crate::text::visible;

use super::Outcome;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// File holding the comment body; standard input when absent.
    pub file: Option<PathBuf>,
    /// Machine output: an array of {"line","command","gates","reason"} or {"line","error"}.
    #[arg(long)]
    pub json: bool,
}

pub fn run(config: &Config, args: Args) -> anyhow::Result<Outcome> {
    // Only the first 64 KiB are ever parsed; a few more bytes let the parser see the cut.
    let limit = (MAX_BODY_BYTES + 4) as u64;
    let mut raw = Vec::new();
    match &args.file {
        Some(path) => std::fs::File::open(path)
            .and_then(|f| f.take(limit).read_to_end(&mut raw))
            .with_context(|| format!("cannot read {}", path.display()))?,
        None => std::io::stdin()
            .take(limit)
            .read_to_end(&mut raw)
            .context("cannot read standard input")?,
    };
    let body = String::from_utf8_lossy(&raw);
    let parsed = parse_comment(&body, &config.gate_names());
    if args.json {
        let entries: Vec<_> = parsed.iter().map(to_json).collect();
        super::print_json(&entries)?;
        return Ok(Outcome::Ok);
    }
    if parsed.is_empty() {
        println!("no commands");
    }
    for p in &parsed {
        match &p.result {
            Ok(cmd) => println!("line {}: {}", p.line, visible(&describe(cmd))),
            Err(e) => println!("line {}: error: {}", p.line, visible(&e.to_string())),
        }
    }
    Ok(Outcome::Ok)
}

fn describe(cmd: &Command) -> String {
    let gates = |g: &[String]| {
        if g.is_empty() {
            "every gate the declarer may waive".to_string()
        } else {
            g.join(", ")
        }
    };
    match cmd {
        Command::Waive { gates: g, reason } => format!("/sop-n/a {} — reason: {reason}", gates(g)),
        Command::Revoke { gates: g } => format!("/sop-revoke {}", g.join(", ")),
        Command::Refire { gates: g } => format!("/refire {}", g.join(", ")),
        Command::Help => "/sop-help".to_string(),
        Command::Hold { reason } => format!("/sop-hold — reason: {reason}"),
        Command::Unhold { reason: None } => "/sop-unhold".to_string(),
        Command::Unhold { reason: Some(note) } => format!("/sop-unhold — note: {note}"),
    }
}
