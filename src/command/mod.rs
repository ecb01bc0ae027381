//! The slash-command grammar: which lines of a pull-request comment are commands, and what they
//! say. Pure: it knows the configured gate names ([`GateNames`]) and nothing else of the crate.
//!
//! [`parse_comment`] gives one [`ParsedLine`] per command line, in order: a [`Command`] or a
//! [`CommandError`] to answer with. The rules and their reasons are in `commands/*.md` (the user
//! reference, whose examples the tests check against this parser) and in the module docs of
//! `scan.rs` (which lines are skipped) and `grammar.rs` (what a line means).

mod grammar;
mod normalise;
pub mod reference;
mod scan;

use serde::Serialize;
use serde_json::{json, Value};

pub use reference::{page, reference};

/// At most this many entries (commands and errors) come from one comment.
pub const MAX_COMMANDS: usize = 10;

/// Only this many bytes of a comment are read for commands: a pasted multi-MiB log must cost
/// nothing.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The configured gates: each canonical name with the aliases that resolve to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateNames {
    canonical: Vec<String>,
    /// (normalised alias, index into `canonical`), config order; the first gate to claim an
    /// alias keeps it.
    aliases: Vec<(String, usize)>,
}

impl GateNames {
    /// Canonical names in config order, each with extra aliases. Every canonical name is also
    /// its own alias and gets `<name>-review`; aliases are matched after normalisation.
    pub fn new(gates: impl IntoIterator<Item = (String, Vec<String>)>) -> Self {
        let mut names = GateNames {
            canonical: Vec::new(),
            aliases: Vec::new(),
        };
        for (name, extra) in gates {
            let index = names.canonical.len();
            let own = normalise::normalise(&name);
            let review = format!("{own}-review");
            names.canonical.push(name);
            for alias in [own, review]
                .into_iter()
                .chain(extra.iter().map(|a| normalise::normalise(a)))
            {
                if !alias.is_empty() && names.lookup(&alias).is_none() {
                    names.aliases.push((alias, index));
                }
            }
        }
        names
    }

    /// `qa` (alias `qa-review`) and `security` (alias `security-review`): the default config's
    /// gates.
    pub fn default_gates() -> Self {
        GateNames::new([
            ("qa".to_owned(), vec!["qa-review".to_owned()]),
            ("security".to_owned(), vec!["security-review".to_owned()]),
        ])
    }

    /// Canonical names, config order.
    pub fn canonical(&self) -> &[String] {
        &self.canonical
    }

    /// The canonical name for `word` (any alias, any spelling normalisation allows).
    pub fn resolve(&self, word: &str) -> Option<&str> {
        self.lookup(&normalise::normalise(word))
    }

    /// The canonical name for an already normalised alias.
    fn lookup(&self, normalised: &str) -> Option<&str> {
        self.aliases
            .iter()
            .find(|(alias, _)| alias == normalised)
            .map(|&(_, index)| self.canonical[index].as_str())
    }

    /// The canonical name for a typed `word`, without allocating.
    fn find(&self, word: &str) -> Option<&str> {
        self.aliases
            .iter()
            .find(|(alias, _)| normalise::normalises_to(word, alias))
            .map(|&(_, index)| self.canonical[index].as_str())
    }

    /// Every normalised alias (canonical names included), for "did you mean".
    fn aliases(&self) -> impl Iterator<Item = &str> {
        self.aliases.iter().map(|(alias, _)| alias.as_str())
    }
}

/// The commands, without their arguments: what `/sop-help` lists and what the reference
/// pages describe. Every exhaustive `match` on it is a place that must learn a new command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandKind {
    Waive,
    Revoke,
    Refire,
    Help,
    Hold,
    Unhold,
}

impl CommandKind {
    /// Every kind, in reference order.
    pub const ALL: [CommandKind; 6] = [
        CommandKind::Waive,
        CommandKind::Revoke,
        CommandKind::Refire,
        CommandKind::Help,
        CommandKind::Hold,
        CommandKind::Unhold,
    ];

    /// The command word, without the `/`.
    pub fn name(self) -> &'static str {
        match self {
            CommandKind::Waive => "sop-n/a",
            CommandKind::Revoke => "sop-revoke",
            CommandKind::Refire => "refire",
            CommandKind::Help => "sop-help",
            CommandKind::Hold => "sop-hold",
            CommandKind::Unhold => "sop-unhold",
        }
    }

    /// The one-line usage shown in replies.
    pub fn usage(self) -> &'static str {
        match self {
            CommandKind::Waive => "usage: /sop-n/a [GATE...] REASON",
            CommandKind::Revoke => "usage: /sop-revoke GATE...",
            CommandKind::Refire => "usage: /refire [GATE...|all]",
            CommandKind::Help => "usage: /sop-help",
            CommandKind::Hold => "usage: /sop-hold REASON",
            CommandKind::Unhold => "usage: /sop-unhold [NOTE]",
        }
    }

    /// The kind a typed command word names (`/SOP_N/A`, `refire!`), if any.
    pub fn from_name(word: &str) -> Option<Self> {
        let word = word.trim();
        Self::from_typed(word.strip_prefix('/').unwrap_or(word))
    }

    /// The kind a typed word names, without allocating.
    fn from_typed(word: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|kind| normalise::normalises_to(word, kind.name()))
    }
}

/// One command, as the comment's author asked for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "command")]
pub enum Command {
    /// `/sop-n/a`: gates empty means "every gate the declarer may waive".
    #[serde(rename = "sop-n/a")]
    Waive { gates: Vec<String>, reason: String },
    /// `/sop-revoke`: at least one gate.
    #[serde(rename = "sop-revoke")]
    Revoke { gates: Vec<String> },
    /// `/refire`: gates always expanded: no gate or `all` gives every configured gate.
    #[serde(rename = "refire")]
    Refire { gates: Vec<String> },
    /// `/sop-help`.
    #[serde(rename = "sop-help")]
    Help,
    /// `/sop-hold`: the reason is required.
    #[serde(rename = "sop-hold")]
    Hold { reason: String },
    /// `/sop-unhold`: an optional note for the audit log.
    #[serde(rename = "sop-unhold")]
    Unhold { reason: Option<String> },
}

impl Command {
    pub fn kind(&self) -> CommandKind {
        match self {
            Command::Waive { .. } => CommandKind::Waive,
            Command::Revoke { .. } => CommandKind::Revoke,
            Command::Refire { .. } => CommandKind::Refire,
            Command::Help => CommandKind::Help,
            Command::Hold { .. } => CommandKind::Hold,
            Command::Unhold { .. } => CommandKind::Unhold,
        }
    }

    /// `sop-n/a`, `sop-revoke`, `refire`, `sop-help`, `sop-hold` or `sop-unhold`.
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// Canonical gate names the command is about (none for `/sop-help` and the holds).
    pub fn gates(&self) -> &[String] {
        match self {
            Command::Waive { gates, .. }
            | Command::Revoke { gates }
            | Command::Refire { gates } => gates,
            Command::Help | Command::Hold { .. } | Command::Unhold { .. } => &[],
        }
    }
}

/// A command line that cannot be run: what was wrong and what was expected. `Display` gives the
/// whole message, did-you-mean included.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}{}", did_you_mean(.suggestion))]
pub struct CommandError {
    /// 1-based line of the comment.
    pub line: usize,
    pub message: String,
    /// A nearby valid word, as it should be typed (`security`, `/sop-n/a`).
    pub suggestion: Option<String>,
}

fn did_you_mean(suggestion: &Option<String>) -> String {
    suggestion
        .as_ref()
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default()
}

/// One command line of a comment and what it came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedLine {
    /// 1-based line of the comment.
    pub line: usize,
    pub result: Result<Command, CommandError>,
}

/// Every command line of a comment, in order: at most [`MAX_COMMANDS`], plus one error entry
/// when more were there. Lines inside code blocks, quotes and HTML comments are skipped, and only
/// the first [`MAX_BODY_BYTES`] are read. Never panics.
pub fn parse_comment(body: &str, gates: &GateNames) -> Vec<ParsedLine> {
    let text = scan::readable_prefix(body);
    if !scan::has_candidate(text) {
        return Vec::new();
    }
    let mut parsed = Vec::new();
    for candidate in scan::Candidates::new(text) {
        let Some(result) = grammar::command_line(&candidate.text, gates) else {
            continue;
        };
        let line = candidate.line;
        if parsed.len() == MAX_COMMANDS {
            parsed.push(ParsedLine {
                line,
                result: Err(CommandError {
                    line,
                    message: format!(
                        "at most {MAX_COMMANDS} commands per comment; this line and the ones after it were not run"
                    ),
                    suggestion: None,
                }),
            });
            break;
        }
        let result = result.map_err(|refusal| CommandError {
            line,
            message: refusal.message,
            suggestion: refusal.suggestion,
        });
        parsed.push(ParsedLine { line, result });
    }
    parsed
}

/// One entry of `sopbot parse --json`: `{"line","command","gates","reason"}` (`reason` only for
/// `sop-n/a`, `sop-hold`, and `sop-unhold` with a note) or `{"line","error"}` with the whole human message.
pub fn to_json(parsed: &ParsedLine) -> Value {
    match &parsed.result {
        Ok(command) => {
            let mut entry = json!({
                "line": parsed.line,
                "command": command.name(),
                "gates": command.gates(),
            });
            match command {
                Command::Waive { reason, .. } | Command::Hold { reason } => {
                    entry["reason"] = Value::from(reason.as_str());
                }
                Command::Unhold {
                    reason: Some(reason),
                } => entry["reason"] = Value::from(reason.as_str()),
                _ => {}
            }
            entry
        }
        Err(error) => json!({ "line": parsed.line, "error": error.to_string() }),
    }
}

/// The one-line usage of a command (`sop-n/a` or `/sop-n/a`, any spelling), or of all of them
/// for a name that is not a command.
pub fn usage(name: &str) -> &'static str {
    match CommandKind::from_name(name) {
        Some(kind) => kind.usage(),
        None => {
            "usage: /sop-n/a [GATE...] REASON | /sop-revoke GATE... | /refire [GATE...|all] | /sop-help | /sop-hold REASON | /sop-unhold [NOTE]"
        }
    }
}

#[cfg(test)]
mod tests;
