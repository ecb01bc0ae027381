//! `/refire`: evaluates the named gates again with a fresh membership look-up.

use super::comment::Planned;
use crate::bot::replies;

pub fn command_refire(line: usize, gates: &[String]) -> Planned {
    Planned {
        lines: vec![replies::refire(line, gates)],
        evaluate: gates.to_vec(),
        fresh: true,
        ..Planned::default()
    }
}
