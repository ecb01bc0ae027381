//! Echoing text that someone else wrote (a waiver reason, a mistyped word, a branch name) so it
//! shows as exactly that text and does nothing else: no Markdown, no pings, no terminal tricks.
//!
//! Gitea renders comments with goldmark (CommonMark + GFM) and then runs its own processors over
//! the HTML text: `@user` and `@org/team` mentions, `#123` references, `:emoji:`, bare URLs and
//! e-mail addresses. Backslash escapes only reach the first step: `\@carol` is still a text
//! `@carol` for the processors (and for the mention notifications, which Gitea finds in the
//! Markdown stripped of markup). The processors skip `<code>` and so does the notification
//! scan, so foreign text goes into a code span ([`code`]) whose fence is longer than any run of
//! backticks inside it. A status description is plain text in Gitea's UI (an HTML-escaped
//! template value): it only needs to be one line without control characters ([`one_line`]).

/// Where a Markdown fragment goes: GFM splits table cells on every `|` that is not escaped,
/// even inside a code span, and removes the backslash of `\|` before reading the cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Md {
    /// Running text: a list item, a paragraph.
    Inline,
    /// A cell of a GFM table.
    Cell,
}

/// Characters that act instead of showing: C0/C1 controls (a terminal escape starts with ESC)
/// and the bidirectional marks and overrides that make text read in another order than it is
/// stored (U+061C, U+200E–U+200F, U+202A–U+202E, U+2066–U+2069).
pub fn is_hazard(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every [`is_hazard`] character written as a visible `\u{…}` escape (`\u{1b}`).
pub fn visible(s: &str) -> String {
    escape_where(s, is_hazard)
}

/// Like [`visible`], but newlines stay: for multi-line human output printed on a terminal.
pub fn terminal(s: &str) -> String {
    escape_where(s, |c| c != '\n' && is_hazard(c))
}

fn escape_where(s: &str, hazard: impl Fn(char) -> bool) -> String {
    if !s.chars().any(&hazard) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if hazard(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// One line of plain text: whitespace runs (newlines included) become one space, the ends are
/// trimmed, and the remaining controls and bidi overrides are made [`visible`].
pub fn one_line(s: &str) -> String {
    visible(&s.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// `s` as a Markdown code span that renders as exactly [`one_line`]`(s)`, and as nothing else:
/// the fence is one backtick longer than the longest run of backticks in the text, and a space
/// pads text that starts or ends with a backtick (CommonMark strips one space on each side).
/// Empty text gives an empty string.
pub fn code(s: &str, md: Md) -> String {
    let text = one_line(s);
    if text.is_empty() {
        return String::new();
    }
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    let text = match md {
        Md::Inline => text,
        Md::Cell => text.replace('|', "\\|"),
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// Whether `login` is a Gitea login (`[A-Za-z0-9_.-]`, as Gitea restricts user names), safe to
/// write after an `@`.
pub fn is_login(login: &str) -> bool {
    !login.is_empty()
        && login
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// `@login` as a live mention when `login` is a login, else the text inert in a code span: the
/// bot pings the people it addresses and lists, never what a malformed name would make of it.
pub fn mention(login: &str, md: Md) -> String {
    if is_login(login) {
        format!("@{login}")
    } else {
        code(&format!("@{login}"), md)
    }
}

#[cfg(test)]
/// What pulldown-cmark (CommonMark + GFM tables) makes of `markdown`: the code spans, the
/// plain text, and whether anything else appeared (a link, an image, HTML, another cell …).
pub(crate) fn rendered(markdown: &str, want_cells: usize) -> (Vec<String>, String, Vec<String>) {
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
    let (mut codes, mut text, mut other) = (Vec::new(), String::new(), Vec::new());
    let mut cells = 0;
    for event in Parser::new_ext(
        markdown,
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH,
    ) {
        match event {
            Event::Code(c) => codes.push(c.to_string()),
            Event::Text(t) => text.push_str(&t),
            Event::Start(Tag::TableCell) => cells += 1,
            Event::Start(
                Tag::Paragraph
                | Tag::List(None)
                | Tag::Item
                | Tag::Table(_)
                | Tag::TableHead
                | Tag::TableRow,
            )
            | Event::End(
                TagEnd::Paragraph
                | TagEnd::List(false)
                | TagEnd::Item
                | TagEnd::Table
                | TagEnd::TableHead
                | TagEnd::TableRow
                | TagEnd::TableCell,
            ) => {}
            e => other.push(format!("{e:?}")),
        }
    }
    if cells != want_cells {
        other.push(format!("{cells} cells"));
    }
    (codes, text, other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_becomes_one_code_span() {
        let table: &[(&str, &str)] = &[
            ("docs only", "`docs only`"),
            ("![x](http://evil/x.png)", "`![x](http://evil/x.png)`"),
            ("@carol @acme/security", "`@carol @acme/security`"),
            ("<img src=x>", "`<img src=x>`"),
            ("see #123 :smile:", "`see #123 :smile:`"),
            ("www.evil.example", "`www.evil.example`"),
            ("a `code` b", "``a `code` b``"),
            ("``x", "``` ``x ```"),
            ("x`", "`` x` ``"),
            ("`", "`` ` ``"),
            ("two\nlines\r\n\tand  tabs ", "`two lines and tabs`"),
            ("esc \u{1b}[31m red", "`esc \\u{1b}[31m red`"),
            ("nul \0 here", "`nul \\u{0} here`"),
            ("bidi \u{202e}txt.exe", "`bidi \\u{202e}txt.exe`"),
            ("back\\slash", "`back\\slash`"),
            ("", ""),
            ("   ", ""),
        ];
        for (input, want) in table {
            assert_eq!(code(input, Md::Inline), *want, "{input:?}");
        }
    }

    #[test]
    fn pipes_are_escaped_only_in_table_cells() {
        assert_eq!(code("| a | b |", Md::Inline), "`| a | b |`");
        assert_eq!(code("| a | b |", Md::Cell), "`\\| a \\| b \\|`");
        let table = format!("| h |\n| --- |\n| {} |\n", code("a\\|b", Md::Cell));
        assert_eq!(
            rendered(&table, 2),
            (vec!["a\\|b".to_string()], "h".into(), vec![])
        );
    }

    #[test]
    fn logins_stay_mentions_and_anything_else_is_inert() {
        assert_eq!(mention("carol", Md::Inline), "@carol");
        assert_eq!(mention("a.b-c_9", Md::Inline), "@a.b-c_9");
        assert_eq!(mention("acme/security", Md::Inline), "`@acme/security`");
        assert_eq!(mention("x](http://e)", Md::Inline), "`@x](http://e)`");
        assert_eq!(mention("", Md::Inline), "`@`");
    }

    #[test]
    fn terminal_output_keeps_newlines_and_shows_every_other_control() {
        assert_eq!(
            terminal("a\u{1b}]0;pwned\u{7}\nb\u{2066}c\u{9b}"),
            "a\\u{1b}]0;pwned\\u{7}\nb\\u{2066}c\\u{9b}"
        );
        assert_eq!(visible("a\nb"), "a\\u{a}b");
        assert_eq!(one_line("  ok\u{85}fine  "), "ok fine");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// In a list item, the code span is the only thing the text becomes.
        #[test]
        fn inline_code_renders_as_exactly_the_text(
            s in proptest::string::string_regex("([ -~]|[\\t\\n\\r\\x00\\x1b]|[\u{a0}-\u{3000}]|`{1,4}|\\\\\\|){0,40}").unwrap()
        ) {
            let want = one_line(&s);
            proptest::prop_assume!(!want.is_empty());
            let (codes, text, other) = rendered(&format!("- why: {}", code(&s, Md::Inline)), 0);
            proptest::prop_assert_eq!(codes, vec![want]);
            proptest::prop_assert_eq!(text, "why: ");
            proptest::prop_assert!(other.is_empty(), "{:?}", other);
        }

        /// In a table cell, likewise: one cell, one code span, nothing else.
        #[test]
        fn cell_code_renders_as_exactly_the_text(
            s in proptest::string::string_regex("([ -~]|[\\t\\n\\x00]|`{1,4}|\\|{1,2}){0,40}").unwrap()
        ) {
            let want = one_line(&s);
            proptest::prop_assume!(!want.is_empty());
            let table = format!("| gate | why |\n| --- | --- |\n| qa | {} |\n", code(&s, Md::Cell));
            let (codes, text, other) = rendered(&table, 4);
            proptest::prop_assert_eq!(codes, vec![want]);
            proptest::prop_assert_eq!(text, "gatewhyqa");
            proptest::prop_assert!(other.is_empty(), "{:?}", other);
        }
    }
}
