//! `/sop-help`: the command reference, appended to the reply.

use super::comment::Planned;
use crate::bot::replies;

pub fn command_help(line: usize) -> Planned {
    Planned {
        lines: vec![replies::help(line)],
        help: true,
        ..Planned::default()
    }
}
