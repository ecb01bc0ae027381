//! `sopbot commands`: prints the command reference, the same text `/sop-help` answers with.

use super::Outcome;

pub fn run() -> anyhow::Result<Outcome> {
    print!("{}", crate::command::reference());
    Ok(Outcome::Ok)
}
