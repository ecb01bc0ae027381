//! The grammar of one command line, in nom: the command word, gate lists, the separator and the
//! reason, and the rules that turn them into a [`Command`], a refusal, or nothing (prose).
//!
//! Words are matched after [`normalise`]; a name may be typed as up to three words
//! (`security review`), matched longest first. The grammar lines below use EBNF over the text of
//! one line; `blank` is any Unicode whitespace (spaces, tabs, no-break spaces).

use nom::bytes::complete::{take_till1, take_while, take_while1};
use nom::character::complete::{char, one_of};
use nom::combinator::{eof, peek, value};
use nom::sequence::{preceded, terminated};
use nom::{branch::alt, IResult, Parser};

use super::normalise::{
    clip, fold, longer_than, looks_like, nearest, normalise, normalised_starts_with, normalises_to,
};
use super::{Command, CommandKind, GateNames};

/// Why a command line was refused: what was wrong and what was expected, and maybe a nearby
/// valid word. The caller adds the line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub message: String,
    pub suggestion: Option<String>,
}

impl Refusal {
    fn new(message: String, suggestion: Option<String>) -> Self {
        Refusal {
            message,
            suggestion,
        }
    }
}

type Res<'a, O> = IResult<&'a str, O>;

/// Longest word quoted back in an error message.
const QUOTE_MAX: usize = 40;

/// Most words one name may be typed as (`security review` is two).
const PHRASE_MAX: usize = 3;

/// indent = { " " | "\t" } ;
fn indent(input: &str) -> Res<'_, &str> {
    take_while(|c| c == ' ' || c == '\t').parse(input)
}

/// blank1 = blank { blank } ;
fn blank1(input: &str) -> Res<'_, &str> {
    take_while1(char::is_whitespace).parse(input)
}

/// word = { char - blank - "," - "—" - "–" - ":" }- ;   a command word or a gate before a reason
fn word(input: &str) -> Res<'_, &str> {
    take_till1(|c: char| c.is_whitespace() || matches!(c, ',' | '—' | '–' | ':')).parse(input)
}

/// item = { char - blank - "," }- ;   an entry of a gate list
fn item(input: &str) -> Res<'_, &str> {
    take_till1(|c: char| c.is_whitespace() || c == ',').parse(input)
}

/// list_gap = { blank | "," } ;
fn list_gap(input: &str) -> Res<'_, &str> {
    take_while(|c: char| c.is_whitespace() || c == ',').parse(input)
}

/// separator = "—" | "–" | ":" | "-" { "-" } &( blank | end ) ;
///
/// The reference behaviour knew the dashes and the colon; a free-standing ASCII `-` or `--` is
/// what people type when their keyboard has no dash, so it separates too.
fn separator(input: &str) -> Res<'_, ()> {
    let ascii_dashes = terminated(take_while1(|c| c == '-'), peek(alt((blank1, eof))));
    alt((value((), one_of("—–:")), value((), ascii_dashes))).parse(input)
}

/// A name typed as one to [`PHRASE_MAX`] words separated by blanks: where each word ends.
struct Phrase<'a> {
    input: &'a str,
    ends: [usize; PHRASE_MAX],
    words: usize,
}

impl<'a> Phrase<'a> {
    /// phrase(w) = w [ blank1 w [ blank1 w ] ] ;
    fn parse(input: &'a str, w: fn(&str) -> Res<'_, &str>) -> Option<Self> {
        let (mut rest, _) = w(input).ok()?;
        let mut phrase = Phrase {
            input,
            ends: [input.len() - rest.len(); PHRASE_MAX],
            words: 1,
        };
        while phrase.words < PHRASE_MAX {
            let Ok((after, _)) = preceded(blank1, w).parse(rest) else {
                break;
            };
            rest = after;
            phrase.ends[phrase.words] = input.len() - rest.len();
            phrase.words += 1;
        }
        Some(phrase)
    }

    /// The text of the first `k` words, blanks between them included.
    fn text(&self, k: usize) -> &'a str {
        &self.input[..self.ends[k - 1]]
    }

    /// What follows the first `k` words.
    fn rest(&self, k: usize) -> &'a str {
        &self.input[self.ends[k - 1]..]
    }

    /// The longest leading run of words that `find` knows, and what follows it.
    fn longest<T>(&self, find: impl Fn(&str) -> Option<T>) -> Option<(T, &'a str)> {
        (1..=self.words)
            .rev()
            .find_map(|k| find(self.text(k)).map(|found| (found, self.rest(k))))
    }
}

/// glued = { ":" | "," } ;
///
/// Punctuation stuck to the command word belongs to it, like the `.` of `/sop-help.`: in
/// `/sop-n/a: qa docs` the colon is not the reason separator, and `qa` is still a gate.
fn glued(input: &str) -> Res<'_, &str> {
    take_while(|c| c == ':' || c == ',').parse(input)
}

/// command_line = indent "/" phrase(word) glued arguments ;
///
/// `None` when the line is prose that happens to start with `/` (`/usr/bin is broken`).
pub(crate) fn command_line(line: &str, gates: &GateNames) -> Option<Result<Command, Refusal>> {
    let (after_slash, _) = preceded(indent, char('/')).parse(line).ok()?;
    let phrase = Phrase::parse(after_slash, word)?;
    let Some((kind, rest)) = phrase.longest(CommandKind::from_typed) else {
        return unknown_command(&phrase).map(Err);
    };
    let (rest, _) = glued(rest).unwrap_or((rest, ""));
    if kind != CommandKind::Help {
        if let Some(control) = rest.chars().find(|&c| c.is_control() && c != '\t') {
            return Some(Err(malformed(kind, control)));
        }
    }
    Some(match kind {
        CommandKind::Waive => waive(rest, gates),
        CommandKind::Revoke => revoke(rest, gates),
        CommandKind::Refire => refire(rest, gates),
        CommandKind::Help => Ok(Command::Help),
        CommandKind::Hold => hold(rest),
        CommandKind::Unhold => Ok(unhold(rest)),
    })
}

/// A command line holding a control character (NUL, ESC, …; tab is fine): refused whole, so a
/// reason never carries one into a status, a reply or a terminal.
fn malformed(kind: CommandKind, control: char) -> Refusal {
    Refusal::new(
        format!(
            "malformed command: control character U+{:04X} is not allowed in a command line; {}",
            u32::from(control),
            kind.usage()
        ),
        None,
    )
}

/// A `/word` that is no command: a refusal for `/sop-…` words and near misses of a command name,
/// `None` (prose) for anything else.
fn unknown_command(phrase: &Phrase<'_>) -> Option<Refusal> {
    // `/sop na` was meant as one word, like `/sop help`.
    let words = if phrase.words > 1 && normalises_to(phrase.text(1), "sop") {
        2
    } else {
        1
    };
    let raw = phrase.text(words);
    let ours = normalises_to(raw, "sop") || normalised_starts_with(raw, "sop-");
    // Paths and URLs are prose: rule them out before normalising. near_miss allows 2 edits, and
    // only on words of 4 characters or more, so a short `/cc` or `/me` never comes close.
    let longest = CommandKind::ALL.map(|k| k.name().len()).into_iter().max();
    if !ours && longer_than(raw, longest.unwrap_or(0) + 2) {
        return None;
    }
    let suggestion = nearest(&normalise(raw), CommandKind::ALL.map(CommandKind::name));
    if !ours && suggestion.is_none() {
        return None;
    }
    let raw = clip(raw, QUOTE_MAX);
    Some(match suggestion {
        Some(name) => Refusal::new(
            format!("unknown command `/{raw}`"),
            Some(format!("/{name}")),
        ),
        None => Refusal::new(
            format!(
                "unknown command `/{raw}`; the commands are /sop-n/a, /sop-revoke, /refire, /sop-help, /sop-hold and /sop-unhold"
            ),
            None,
        ),
    })
}

/// waive_arguments = { list_gap phrase(word) } list_gap [ separator ] reason ;
/// reason = { char }- ;   the rest of the line, trimmed
fn waive(input: &str, gates: &GateNames) -> Result<Command, Refusal> {
    let mut named: Vec<String> = Vec::new();
    let mut rest = input;
    let (reason, separated) = loop {
        let (at, _) = list_gap(rest).unwrap_or((rest, ""));
        if let Ok((after, ())) = separator(at) {
            break (after, true);
        }
        let found = Phrase::parse(at, word).and_then(|p| p.longest(|w| gates.find(w)));
        match found {
            Some((gate, after)) => {
                push_unique(&mut named, gate);
                rest = after;
            }
            None => break (at, false),
        }
    };
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Refusal::new(
            format!(
                "missing reason: say why the gate does not apply; {}",
                CommandKind::Waive.usage()
            ),
            None,
        ));
    }
    // A mistyped gate would otherwise read as the reason's first word and widen the waiver to
    // every gate the declarer may waive. After a separator the reason is taken as written.
    let first = word(reason).map(|(_, first)| first);
    if let (false, Ok(first)) = (separated, first) {
        if let Some(refusal) = gate_in_reason(first, gates) {
            return Err(refusal);
        }
    }
    Ok(Command::Waive {
        gates: named,
        reason: reason.to_owned(),
    })
}

/// Characters that join gate names into one word: `qa/security`, `qa+security`, `qa&security`.
const JOINERS: &[char] = &['/', '+', '&', ',', '|'];

/// The gate names a reason's first word `first` hides, as a refusal: the word itself or, once
/// its wrapping (quotes, backticks, brackets, a possessive `'s`) is stripped and it is split at
/// [`JOINERS`], any piece that is or looks like a gate. `` `qa` ``, `(qa)`, `qa/security` and
/// `QA's` would otherwise start a reason and widen the waiver to every gate.
fn gate_in_reason(first: &str, gates: &GateNames) -> Option<Refusal> {
    let known = Known::new(gates.aliases())?;
    let quoted = code_span(&clip(first, QUOTE_MAX));
    let plain = first.trim_end_matches(['.', '!', ',', ';', ':', '?']);
    let wrapped = unwrap_word(first) != plain;
    if let Some((name, look_alike)) = known.lookalike(first).filter(|_| !wrapped) {
        let hint = if look_alike {
            LOOK_ALIKE
        } else {
            " (a reason that starts with this word needs `:` before it)"
        };
        return Some(Refusal::new(
            format!("unknown gate {quoted}{hint}"),
            Some(name.to_owned()),
        ));
    }
    let mut found: Vec<&str> = Vec::new();
    for piece in first.split(JOINERS).map(unwrap_word) {
        if let Some((alias, _)) = known.lookalike(piece) {
            let name = gates.resolve(alias).unwrap_or(alias);
            if !found.contains(&name) {
                found.push(name);
            }
        }
    }
    (!found.is_empty()).then(|| {
        Refusal::new(
            format!("unknown gate {quoted}{WRAPPED}"),
            Some(found.join(", ")),
        )
    })
}

/// `word` without what may wrap a gate name: leading and trailing characters that are neither
/// letters nor digits (quotes, backticks, brackets, typographic quotes, `#`, `@`, …) and a
/// possessive `'s` or `’s`.
fn unwrap_word(word: &str) -> &str {
    fn trim(w: &str) -> &str {
        w.trim_matches(|c: char| !c.is_alphanumeric())
    }
    let word = trim(word);
    let possessive = ["'s", "'S", "’s", "’S"]
        .iter()
        .find_map(|s| word.strip_suffix(s));
    possessive.map_or(word, trim)
}

/// `text` as a Markdown code span, with a fence longer than any backtick run inside it.
fn code_span(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    if longest == 0 {
        return format!("`{text}`");
    }
    let fence = "`".repeat(longest + 1);
    format!("{fence} {text} {fence}")
}

/// Why a gate name written inside quotes, brackets or a `/` list is refused.
const WRAPPED: &str = ": name gates plainly, without quotes, brackets or `/` (a reason that \
starts with this word needs `:` before it)";

/// Why a word that folds to a gate name is refused.
const LOOK_ALIKE: &str = ": it is spelt with look-alike or full-width characters";

/// The name (a normalised gate alias, or `all`) that `typed` looks like by
/// [`looks_like`](super::normalise::looks_like), if any, and whether it is that very name in
/// look-alike characters. Exact look-alikes win over near misses.
fn lookalike<'g>(typed: &str, names: impl Iterator<Item = &'g str>) -> Option<(&'g str, bool)> {
    Known::new(names)?.lookalike(typed)
}

/// Names folded once, to ask [`Known::lookalike`] about many words.
struct Known<'g> {
    names: Vec<(&'g str, String)>,
    /// Characters in the longest folded name.
    longest: usize,
}

impl<'g> Known<'g> {
    /// `None` when there are no names.
    fn new(names: impl Iterator<Item = &'g str>) -> Option<Self> {
        let names: Vec<(&str, String)> = names.map(|n| (n, fold(n, usize::MAX))).collect();
        let longest = names.iter().map(|(_, f)| f.chars().count()).max()?;
        Some(Known { names, longest })
    }

    /// See [`lookalike`].
    fn lookalike(&self, typed: &str) -> Option<(&'g str, bool)> {
        let typed = fold(typed, self.longest + 2);
        let names = &self.names;
        names
            .iter()
            .find(|(_, f)| *f == typed)
            .map(|&(name, _)| (name, true))
            .or_else(|| {
                names
                    .iter()
                    .find(|(_, f)| looks_like(&typed, f))
                    .map(|&(name, _)| (name, false))
            })
    }
}

/// hold_arguments = blank1 [ separator ] reason ;   the reason is required
fn hold(input: &str) -> Result<Command, Refusal> {
    match note(input) {
        Some(reason) => Ok(Command::Hold { reason }),
        None => Err(Refusal::new(
            format!(
                "missing reason: say why the PR is held; {}",
                CommandKind::Hold.usage()
            ),
            None,
        )),
    }
}

/// unhold_arguments = [ blank1 [ separator ] note ] ;
fn unhold(input: &str) -> Command {
    Command::Unhold {
        reason: note(input),
    }
}

/// The rest of a line after an optional separator, trimmed; `None` when nothing is left.
fn note(input: &str) -> Option<String> {
    let (at, _) = list_gap(input).unwrap_or((input, ""));
    let text = match separator(at) {
        Ok((after, ())) => after,
        Err(_) => at,
    };
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// revoke_arguments = gate_list ;   at least one gate
fn revoke(input: &str, gates: &GateNames) -> Result<Command, Refusal> {
    let (named, _) = gate_list(input, gates, false)?;
    if named.is_empty() {
        return Err(Refusal::new(
            format!(
                "missing gate: name the waived gate to revoke ({}); {}",
                known_gates(gates, false),
                CommandKind::Revoke.usage()
            ),
            None,
        ));
    }
    Ok(Command::Revoke { gates: named })
}

/// refire_arguments = gate_list ;   gates or `all`; none means all
fn refire(input: &str, gates: &GateNames) -> Result<Command, Refusal> {
    let (named, all) = gate_list(input, gates, true)?;
    let gates = if all || named.is_empty() {
        gates.canonical().to_vec()
    } else {
        named
    };
    Ok(Command::Refire { gates })
}

/// gate_list = { list_gap ( phrase(item) | "all" ) } ;
///
/// Every entry must name a gate (or be `all`, where `allow_all`); an entry that normalises to
/// nothing (a stray `.`) is skipped. Returns the canonical gates, first mention first, and
/// whether `all` was named.
fn gate_list(
    input: &str,
    gates: &GateNames,
    allow_all: bool,
) -> Result<(Vec<String>, bool), Refusal> {
    let mut named = Vec::new();
    let mut all = false;
    let mut rest = input;
    loop {
        let (at, _) = list_gap(rest).unwrap_or((rest, ""));
        let Some(phrase) = Phrase::parse(at, item) else {
            return Ok((named, all));
        };
        if let Some((gate, after)) = phrase.longest(|w| gates.find(w)) {
            push_unique(&mut named, gate);
            rest = after;
            continue;
        }
        let typed = phrase.text(1);
        if allow_all && normalises_to(typed, "all") {
            all = true;
        } else if !normalises_to(typed, "") {
            return Err(unknown_gate(typed, gates, allow_all));
        }
        rest = phrase.rest(1);
    }
}

fn unknown_gate(raw: &str, gates: &GateNames, allow_all: bool) -> Refusal {
    let all = allow_all.then_some("all");
    let quoted = clip(raw, QUOTE_MAX);
    if let Some((name, look_alike)) = lookalike(raw, gates.aliases().chain(all)) {
        let hint = if look_alike { LOOK_ALIKE } else { "" };
        return Refusal::new(
            format!("unknown gate `{quoted}`{hint}"),
            Some(name.to_owned()),
        );
    }
    match nearest(&normalise(raw), gates.aliases().chain(all)) {
        Some(alias) => Refusal::new(format!("unknown gate `{quoted}`"), Some(alias.to_owned())),
        None => Refusal::new(
            format!("unknown gate `{quoted}`; {}", known_gates(gates, allow_all)),
            None,
        ),
    }
}

/// "known gates: qa, security" (", or all" for `/refire`).
fn known_gates(gates: &GateNames, allow_all: bool) -> String {
    let mut list = format!("known gates: {}", gates.canonical().join(", "));
    if allow_all {
        list.push_str(", or all");
    }
    list
}

fn push_unique(named: &mut Vec<String>, gate: &str) {
    if !named.iter().any(|g| g == gate) {
        named.push(gate.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separator_accepts_dashes_colon_and_free_standing_ascii_dashes() {
        for input in ["— x", "–x", ":x", "- x", "-- x", "-"] {
            assert!(separator(input).is_ok(), "{input:?}");
        }
        for input in ["-x", "docs", ""] {
            assert!(separator(input).is_err(), "{input:?}");
        }
    }

    #[test]
    fn phrase_reads_at_most_three_words() {
        let p = Phrase::parse("security  review now please", word).expect("a phrase");
        assert_eq!(p.words, 3);
        assert_eq!(p.text(2), "security  review");
        assert_eq!(p.rest(3), " please");
        assert!(Phrase::parse(" x", word).is_none());
        assert!(Phrase::parse("", word).is_none());
    }
}
