//! The command reference: the pages in `commands/`, compiled in. `/sop-help` and
//! `sopbot commands` print [`reference`]; `tests/commands_reference.rs` checks every example in
//! the pages against the parser, so the reference and the grammar cannot disagree.

use std::sync::OnceLock;

use super::CommandKind;

/// The reference page of one command (Markdown).
pub fn page(kind: CommandKind) -> &'static str {
    // Exhaustive: a new command does not compile until it has a page.
    match kind {
        CommandKind::Waive => include_str!("../../commands/sop-n-a.md"),
        CommandKind::Revoke => include_str!("../../commands/sop-revoke.md"),
        CommandKind::Refire => include_str!("../../commands/refire.md"),
        CommandKind::Help => include_str!("../../commands/sop-help.md"),
        CommandKind::Hold => include_str!("../../commands/sop-hold.md"),
        CommandKind::Unhold => include_str!("../../commands/sop-unhold.md"),
    }
}

/// Every page, in [`CommandKind::ALL`] order, separated by a blank line.
pub fn reference() -> &'static str {
    static REFERENCE: OnceLock<String> = OnceLock::new();
    REFERENCE.get_or_init(|| {
        CommandKind::ALL
            .map(|kind| page(kind).trim_end())
            .join("\n\n")
            + "\n"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_holds_every_page_in_order_under_its_command_heading() {
        let reference = reference();
        let mut last = 0;
        for kind in CommandKind::ALL {
            let heading = format!("# /{}\n", kind.name());
            assert!(page(kind).starts_with(&heading), "{kind:?} page heading");
            let at = reference[last..]
                .find(page(kind).trim_end())
                .unwrap_or_else(|| panic!("{kind:?} page missing or out of order"));
            last += at;
        }
    }

    #[test]
    fn every_command_kind_is_listed() {
        // Exhaustive: fails to compile when a kind is added, as a reminder to extend ALL.
        let listed = |kind: CommandKind| match kind {
            CommandKind::Waive
            | CommandKind::Revoke
            | CommandKind::Refire
            | CommandKind::Help
            | CommandKind::Hold
            | CommandKind::Unhold => CommandKind::ALL.contains(&kind),
        };
        for kind in [
            CommandKind::Waive,
            CommandKind::Revoke,
            CommandKind::Refire,
            CommandKind::Help,
            CommandKind::Hold,
            CommandKind::Unhold,
        ] {
            assert!(listed(kind), "{kind:?}");
        }
    }
}
