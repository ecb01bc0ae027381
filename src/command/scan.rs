//! Finding the lines of a comment that may hold a command, and skipping the regions that
//! Gitea's Markdown renderer (goldmark, CommonMark) does not show as text a reader typed as a
//! command: code (fenced, indented, in list items, code spans), HTML (blocks such as `<pre>` or
//! `<details>`, inline HTML), images and struck-out text, quoted lines and HTML comments.
//!
//! The common comment has no `/` at the start of any line, so [`has_candidate`] answers that
//! with one pass of `memchr`-style searching and no allocation; only when it says yes does
//! [`Candidates`] run a CommonMark parser (pulldown-cmark) over the comment and walk it line by
//! line.
//!
//! A line is a candidate when its first non-blank character is `/` and pulldown-cmark puts that
//! `/` in text a reader sees: a paragraph (or heading) line. So 1–3 leading spaces are fine, and
//! so are 4 or more on a lazy continuation line right after a paragraph line; 4 or more after a
//! blank line make an indented code block, which is not a command. A list item's own line
//! (`- /refire`) starts with its marker, not `/`, and is not a command.
//!
//! Decisions where we are stricter or plainer than CommonMark:
//! - A quoted line is one whose first non-blank character is `>`. A line typed without `>` is
//!   never quoted, even where CommonMark's lazy continuation would fold it into the quote above:
//!   what the author sees in the editor is what counts, and quoting someone else's command must
//!   take a `>` on every line.
//! - `<!--` opens an HTML comment anywhere on a visible line except inside an inline code span on
//!   that line; `-->` closes it (or the end of the comment does). The part of a command line
//!   inside a comment is not part of the command. Inside a quote or a code block, `<!--` is text.

use std::borrow::Cow;
use std::ops::Range;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use super::MAX_BODY_BYTES;

/// The part of `body` that is read for commands: the first [`MAX_BODY_BYTES`], cut back to a
/// char boundary, minus a last line that the cut split (it is dropped, not half-read).
pub(crate) fn readable_prefix(body: &str) -> &str {
    if body.len() <= MAX_BODY_BYTES {
        return body;
    }
    let mut cut = MAX_BODY_BYTES;
    while !body.is_char_boundary(cut) {
        cut -= 1;
    }
    let after = &body.as_bytes()[cut..];
    if after.starts_with(b"\n") || after.starts_with(b"\r\n") {
        return &body[..cut]; // the cut falls on a line end: the last line is whole
    }
    body[..cut].rfind('\n').map_or("", |nl| &body[..=nl])
}

/// Whether some line of `text` has `/` as its first non-blank character. A line scan: each `/`
/// is found by `str::find` (memchr) and checked by looking back over blanks to a line start.
pub(crate) fn has_candidate(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(found) = text[from..].find('/') {
        let slash = from + found;
        let blanks = bytes[..slash]
            .iter()
            .rev()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        if slash == blanks || bytes[slash - blanks - 1] == b'\n' {
            return true;
        }
        from = slash + 1;
    }
    false
}

/// A line that may hold a command: its 1-based number and its visible text from the `/` on
/// (with any HTML comment cut out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidate<'a> {
    pub line: usize,
    pub text: Cow<'a, str>,
}

/// The candidate lines of a comment, in order.
pub(crate) struct Candidates<'a> {
    text: &'a str,
    /// Byte offset of the next line's start; `None` once every line has been read.
    pos: Option<usize>,
    /// Number of the line that starts at `pos`.
    line: usize,
    /// Where the comment renders as code or as visible text.
    layout: Layout,
    /// Lines starting before this offset lie inside an HTML comment.
    comment_until: usize,
    /// Cached `<!--` search: (searched from, first opener at or after it).
    opener: Option<(usize, Option<usize>)>,
    /// Inside a math block (`$$` or `\[` on a line of its own): the marker that closes it.
    math_close: Option<&'static [u8]>,
}

impl<'a> Candidates<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Candidates {
            text,
            pos: Some(0),
            line: 1,
            layout: Layout::of(text),
            comment_until: 0,
            opener: None,
            math_close: None,
        }
    }

    /// The first `<!--` at or after `from`. Searches resume from the last answer, so the whole
    /// comment is searched about once however many lines ask.
    fn next_opener(&mut self, from: usize) -> Option<usize> {
        if let Some((searched, found)) = self.opener {
            match found {
                Some(at) if at >= from && searched <= from => return Some(at),
                None if searched <= from => return None,
                _ => {}
            }
        }
        let found = self.text[from..].find("<!--").map(|i| from + i);
        self.opener = Some((from, found));
        found
    }

    /// Tracks HTML comments opened on the visible stretch `[from, end)` of a line (`from` is the
    /// line start, or where a comment closed on it). With `keep`, returns the visible pieces of
    /// the stretch when some comment cut it; `None` when the whole stretch is visible.
    fn track_comments(
        &mut self,
        mut from: usize,
        end: usize,
        keep: bool,
    ) -> Option<Vec<(usize, usize)>> {
        let mut pieces: Option<Vec<(usize, usize)>> = None;
        let mut spans = CodeSpans::default();
        let mut search = from;
        while let Some(open) = self.next_opener(search).filter(|&at| at < end) {
            if spans.covers(&self.text.as_bytes()[from..end], open - from) {
                search = open + 1;
                continue;
            }
            let close = self.text[open + 4..]
                .find("-->")
                .map_or(self.text.len(), |i| open + 4 + i + 3);
            if keep {
                pieces.get_or_insert_with(Vec::new).push((from, open));
            }
            self.comment_until = close;
            if close >= end {
                return pieces;
            }
            from = close;
            search = close;
            spans = CodeSpans::default();
        }
        if let Some(pieces) = pieces.as_mut() {
            pieces.push((from, end));
        }
        pieces
    }

    /// The text of a candidate line: the line from its `/`, less any commented-out pieces.
    fn visible_text(
        &self,
        slash: usize,
        end: usize,
        pieces: Option<Vec<(usize, usize)>>,
    ) -> Cow<'a, str> {
        let text: &'a str = self.text;
        match pieces {
            None => Cow::Borrowed(&text[slash..end]),
            Some(pieces) => Cow::Owned(
                pieces
                    .into_iter()
                    .map(|(a, b)| &text[a.max(slash)..b.max(slash)])
                    .collect(),
            ),
        }
    }
}

impl<'a> Iterator for Candidates<'a> {
    type Item = Candidate<'a>;

    fn next(&mut self) -> Option<Candidate<'a>> {
        loop {
            let start = self.pos?;
            let number = self.line;
            let newline = self.text[start..].find('\n').map(|i| start + i);
            self.pos = newline.map(|nl| nl + 1);
            self.line += 1;
            let mut end = newline.unwrap_or(self.text.len());
            if end > start && self.text.as_bytes()[end - 1] == b'\r' {
                end -= 1;
            }
            let line = &self.text.as_bytes()[start..end];

            if start < self.comment_until {
                // Inside an HTML comment; it may close on this line and another open after.
                if self.comment_until < end {
                    self.track_comments(self.comment_until, end, false);
                }
                continue;
            }
            let blanks = line
                .iter()
                .take_while(|&&b| b == b' ' || b == b'\t')
                .count();
            if let Some(close) = self.math_close {
                // A math block, shown as code; it ends at its marker on a line of its own.
                let rest = &line[blanks..];
                if indent_width(&line[..blanks]) < 4
                    && rest.starts_with(close)
                    && rest[close.len()..].iter().all(u8::is_ascii_whitespace)
                {
                    self.math_close = None;
                }
                continue;
            }
            if self.layout.code.contains(start + blanks) {
                continue; // a code block: `<!--` in it is text
            }
            if line.get(blanks) != Some(&b'>') {
                if let Some(close) = math_opener(after_list_markers(&line[blanks..])) {
                    self.math_close = Some(close);
                    continue;
                }
            }
            if self.layout.math.contains(start + blanks) {
                continue; // display math is shown as code
            }
            match line.get(blanks) {
                Some(b'>') => continue,
                Some(b'/') if self.layout.text.contains(start + blanks) => {
                    let pieces = self.track_comments(start, end, true);
                    let text = self.visible_text(start + blanks, end, pieces);
                    return Some(Candidate { line: number, text });
                }
                _ => {
                    self.track_comments(start, end, false);
                }
            }
        }
    }
}

/// The width of an indent of spaces and tabs, tabs stopping every 4 columns.
fn indent_width(blanks: &[u8]) -> usize {
    blanks
        .iter()
        .fold(0, |w, &b| if b == b'\t' { w + 4 - w % 4 } else { w + 1 })
}

/// `line` (from its first non-blank) after any list item markers (`- `, `* `, `+ `, `1. `,
/// `1) `), which may start a math block inside a list item.
fn after_list_markers(mut line: &[u8]) -> &[u8] {
    loop {
        let digits = line.iter().take_while(|b| b.is_ascii_digit()).count();
        let marker = match line.get(digits) {
            Some(b'-' | b'*' | b'+') if digits == 0 => 1,
            Some(b'.' | b')') if (1..=9).contains(&digits) => digits + 1,
            _ => return line,
        };
        let blanks = line[marker..]
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        if blanks == 0 {
            return line;
        }
        line = &line[marker + blanks..];
    }
}

/// Whether `line` opens a math block as Gitea reads one: it starts with `$$` or `\[` and does
/// not close on the same line. Returns the closing marker.
fn math_opener(line: &[u8]) -> Option<&'static [u8]> {
    let close: &'static [u8] = if line.starts_with(b"$$") {
        b"$$"
    } else if line.starts_with(b"\\[") {
        b"\\]"
    } else {
        return None;
    };
    let closed_here = line[2..].windows(2).any(|w| w == close);
    (!closed_here).then_some(close)
}

/// Byte ranges of a comment, in order and not overlapping.
#[derive(Debug, Default)]
struct Ranges(Vec<Range<usize>>);

impl Ranges {
    fn contains(&self, at: usize) -> bool {
        let i = self.0.partition_point(|r| r.end <= at);
        self.0.get(i).is_some_and(|r| r.start <= at)
    }
}

/// How CommonMark lays a comment out, as far as commands care.
#[derive(Debug, Default)]
struct Layout {
    /// Code blocks: fenced (at any list or quote depth) and indented.
    code: Ranges,
    /// Display math (`$$…$$` inside a paragraph), which Gitea shows as code.
    math: Ranges,
    /// Text a reader sees as typed: text events outside code, HTML, images and struck-out text.
    text: Ranges,
}

impl Layout {
    /// The layout of `text` by pulldown-cmark with the GFM extensions Gitea enables that change
    /// what is text (tables, strikethrough, task lists, math).
    fn of(text: &str) -> Self {
        let options = Options::ENABLE_TABLES
            | Options::ENABLE_STRIKETHROUGH
            | Options::ENABLE_TASKLISTS
            | Options::ENABLE_MATH;
        let mut layout = Layout::default();
        // Depth of open elements whose text is not shown as typed.
        let mut hidden = 0usize;
        let mut inline_html = InlineHtml::default();
        for (event, range) in Parser::new_ext(text, options).into_offset_iter() {
            match &event {
                Event::Start(tag) if !is_inline(tag) => inline_html.blocks += 1,
                Event::End(tag) if !is_inline_end(*tag) => inline_html.end_block(),
                Event::InlineHtml(html) => inline_html.tag(html),
                _ => {}
            }
            match event {
                Event::Start(Tag::CodeBlock(_)) => {
                    layout.code.0.push(range);
                    hidden += 1;
                }
                // Gitea renders display math as `<pre><code class="language-math">`.
                Event::DisplayMath(_) => layout.math.0.push(range),
                Event::Start(Tag::HtmlBlock | Tag::Image { .. } | Tag::Strikethrough) => {
                    hidden += 1
                }
                Event::End(
                    TagEnd::CodeBlock | TagEnd::HtmlBlock | TagEnd::Image | TagEnd::Strikethrough,
                ) => hidden = hidden.saturating_sub(1),
                Event::Text(_) if hidden == 0 && inline_html.open.is_empty() => {
                    layout.text.0.push(range)
                }
                _ => {}
            }
        }
        layout
    }
}

/// Whether `tag` is an inline element (the rest are blocks, which end inline HTML regions).
fn is_inline(tag: &Tag<'_>) -> bool {
    is_inline_end(tag.to_end())
}

fn is_inline_end(tag: TagEnd) -> bool {
    matches!(
        tag,
        TagEnd::Emphasis
            | TagEnd::Strong
            | TagEnd::Strikethrough
            | TagEnd::Superscript
            | TagEnd::Subscript
            | TagEnd::Link
            | TagEnd::Image
    )
}

/// Inline HTML opened inside a paragraph (`x <pre>`, `see <details>`, `x <del>`): Gitea passes
/// the tag through, so what follows is preformatted, struck out or hidden until the closing tag
/// or the end of the block that holds the opener. Failing closed, every tag opens such a region
/// except void and self-closing ones (`<br>`, `<img …>`, `<x/>`); comments are handled apart.
#[derive(Default)]
struct InlineHtml {
    /// Open block elements.
    blocks: usize,
    /// Open regions: lower-cased tag name and the block depth of the opener.
    open: Vec<(String, usize)>,
}

impl InlineHtml {
    /// Elements that never have content.
    const VOID: &'static [&'static str] = &[
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
        "source", "track", "wbr",
    ];

    fn end_block(&mut self) {
        self.blocks = self.blocks.saturating_sub(1);
        let blocks = self.blocks;
        self.open.retain(|&(_, depth)| depth <= blocks);
    }

    /// An inline HTML event: an opening tag opens a region, a closing tag closes the latest
    /// region of its name. Anything else (comments, declarations, a tag's continuation line) is
    /// ignored.
    fn tag(&mut self, html: &str) {
        let (closing, rest) = match html.strip_prefix("</") {
            Some(rest) => (true, rest),
            None => match html.strip_prefix('<') {
                Some(rest) => (false, rest),
                None => return,
            },
        };
        let name_len = rest
            .find(|c: char| !c.is_ascii_alphanumeric() && c != '-')
            .unwrap_or(rest.len());
        if name_len == 0 || !rest.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return;
        }
        let name = rest[..name_len].to_ascii_lowercase();
        if closing {
            if let Some(i) = self.open.iter().rposition(|(open, _)| *open == name) {
                self.open.remove(i);
            }
        } else if !Self::VOID.contains(&name.as_str()) && !html.trim_end().ends_with("/>") {
            self.open.push((name, self.blocks));
        }
    }
}

/// The inline code spans of one stretch of a line, found left to right as they are asked about:
/// a run of n backticks up to the next run of exactly n backticks on the same line (an unmatched
/// run is literal text). Asking about increasing offsets costs one pass over the stretch.
#[derive(Default)]
struct CodeSpans {
    /// Everything before this offset has been classified.
    next: usize,
    /// End of the last span found.
    span_end: usize,
}

impl CodeSpans {
    /// Whether byte `at` of `line` lies inside a code span; `at` must not decrease between calls.
    fn covers(&mut self, line: &[u8], at: usize) -> bool {
        if at < self.span_end {
            return true;
        }
        let run_len = |from: usize| line[from..].iter().take_while(|&&b| b == b'`').count();
        while self.next < at {
            let i = self.next;
            if line[i] != b'`' {
                self.next += 1;
                continue;
            }
            let n = run_len(i);
            // An unmatched run of n means no later run of exactly n: unmatched runs have
            // distinct lengths, so these searches stay few even on a hostile line.
            let mut j = i + n;
            let close = loop {
                match line[j..].iter().position(|&b| b == b'`') {
                    None => break None,
                    Some(k) => {
                        let m = run_len(j + k);
                        if m == n {
                            break Some(j + k);
                        }
                        j += k + m;
                    }
                }
            };
            match close {
                Some(c) => {
                    self.next = c + n;
                    self.span_end = c + n;
                    if self.span_end > at {
                        return true;
                    }
                }
                None => self.next = i + n,
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<(usize, String)> {
        Candidates::new(text)
            .map(|c| (c.line, c.text.into_owned()))
            .collect()
    }

    #[test]
    fn a_slash_counts_only_at_the_start_of_a_line_after_blanks() {
        let text = "to /refire you need\n/refire\n   \t /sop-help\nsee https://x/y\n";
        assert_eq!(
            lines(text),
            [(2, "/refire".into()), (3, "/sop-help".into())]
        );
        assert!(has_candidate(text));
        assert!(!has_candidate(
            "to /refire you need\nsee a/b and /usr/bin\n"
        ));
        assert!(has_candidate("/x"));
        assert!(has_candidate("a\n\t/x"));
    }

    #[test]
    fn crlf_line_endings_are_read_as_lines() {
        assert_eq!(
            lines("hi\r\n/refire qa\r\n/sop-help\r\n"),
            [(2, "/refire qa".into()), (3, "/sop-help".into())]
        );
    }

    #[test]
    fn fenced_code_blocks_are_skipped() {
        let cases: &[(&str, &[usize])] = &[
            ("```\n/refire\n```\n/refire", &[4]),
            ("~~~\n/refire\n~~~\n/refire", &[4]),
            ("  ```rust\n/refire\n   ```\n/refire", &[4]),
            // a shorter or different fence does not close
            ("````\n/a\n```\n/b\n~~~~\n/c\n````\n/d", &[8]),
            // text after the closing run means it is not a close
            ("```\n/a\n``` x\n/b\n```\n/c", &[6]),
            // unclosed: runs to the end
            ("/a\n```\n/b\n/c", &[1]),
            // indented 4 columns (or a tab): not a fence
            ("    ```\n/a\n\t```\n/b", &[2, 4]),
            // backtick fence with a backtick in its info string: not a fence
            ("``` a`b\n/a", &[2]),
            // two backticks: not a fence
            ("``\n/a", &[2]),
        ];
        for (text, want) in cases {
            let got: Vec<usize> = lines(text).into_iter().map(|(n, _)| n).collect();
            assert_eq!(&got, want, "{text:?}");
        }
    }

    #[test]
    fn quoted_lines_are_skipped_but_lazy_continuations_are_not() {
        let text =
            "> /refire\n  > /refire\n> > /sop-help\n>/refire\n/refire qa\n> quote\n/sop-help";
        assert_eq!(
            lines(text),
            [(5, "/refire qa".into()), (7, "/sop-help".into())]
        );
    }

    #[test]
    fn html_comments_hide_the_lines_they_span() {
        let text = "<!--\n/refire\n-->\n/sop-help\nx <!-- a\n/refire\nb --> <!-- c\n/refire\n-->\n/refire qa";
        assert_eq!(
            lines(text),
            [(4, "/sop-help".into()), (10, "/refire qa".into())]
        );
        // unclosed: runs to the end of the comment
        assert_eq!(lines("<!-- no end\n/refire\n/sop-help"), []);
    }

    #[test]
    fn html_comment_text_is_cut_out_of_a_command_line() {
        assert_eq!(
            lines("/refire qa <!-- security --> all\n/refire"),
            [(1, "/refire qa  all".into()), (2, "/refire".into())]
        );
        assert_eq!(
            lines("/refire qa <!-- x\n/refire\n-->"),
            [(1, "/refire qa ".into())]
        );
    }

    #[test]
    fn comment_markers_in_code_spans_quotes_and_fences_are_text() {
        let text = "use `<!--` to hide\n/refire\n> <!--\n/sop-help\n```\n<!--\n```\n/refire qa";
        assert_eq!(
            lines(text),
            [
                (2, "/refire".into()),
                (4, "/sop-help".into()),
                (8, "/refire qa".into())
            ]
        );
        // an unmatched backtick does not open a span
        assert_eq!(lines("a ` <!--\n/refire"), []);
    }

    #[test]
    fn inline_html_hides_lines_up_to_its_closing_tag_or_the_block_end() {
        for tag in ["pre", "code", "del", "details", "span", "PRE"] {
            let text = format!("x <{tag}>\n/sop-n/a qa docs\ny</{tag}>\n/refire");
            assert_eq!(lines(&text), [(4, "/refire".into())], "{text:?}");
            // unclosed: hidden to the end of the paragraph
            let text = format!("see <{tag} class=\"a\">\n/refire\n\n/sop-help");
            assert_eq!(lines(&text), [(4, "/sop-help".into())], "{text:?}");
        }
        // in a list item, to the end of the item
        assert_eq!(
            lines("- x <pre>\n  /refire\n- y\n\n/sop-help"),
            [(5, "/sop-help".into())]
        );
        // void and self-closing tags, and comments, open nothing
        for html in [
            "<br>",
            "<img src=\"a.png\">",
            "<b/>",
            "<!-- c -->",
            "</pre>",
        ] {
            let text = format!("x {html}\n/refire");
            assert_eq!(lines(&text), [(2, "/refire".into())], "{text:?}");
        }
    }

    #[test]
    fn math_blocks_are_skipped_like_code() {
        let cases: &[(&str, &[usize])] = &[
            ("$$\n/refire\n$$\n/sop-help", &[4]),
            ("\\[\n/refire\n\\]\n/sop-help", &[4]),
            ("text\n$$\n/refire\n\n/refire\n$$\n/sop-help", &[7]),
            ("- $$\n  /refire\n  $$\n/sop-help", &[4]),
            // unclosed: to the end
            ("$$\n/refire\n/sop-help", &[]),
            // closed on its own line, or inline: nothing hidden
            ("$$ x $$\n/refire", &[2]),
            ("x $$y$$ z\n/refire", &[2]),
            // in code or quoted: not math
            ("```\n$$\n```\n/refire", &[4]),
            ("> $$\n/refire", &[2]),
            // an indented marker does not close
            ("$$\n    $$\n/refire\n$$\n/sop-help", &[5]),
        ];
        for (text, want) in cases {
            let got: Vec<usize> = lines(text).into_iter().map(|(n, _)| n).collect();
            assert_eq!(&got, want, "{text:?}");
        }
    }

    #[test]
    fn fences_inside_html_comments_do_not_open() {
        assert_eq!(lines("<!--\n```\n-->\n/refire"), [(4, "/refire".into())]);
    }

    #[test]
    fn the_body_is_cut_at_the_limit_dropping_a_split_line() {
        let short = "/refire\n";
        assert_eq!(readable_prefix(short), short);

        let mut exact = "x".repeat(MAX_BODY_BYTES - 8);
        exact.push_str("\n/refire\nmore");
        assert_eq!(readable_prefix(&exact).len(), MAX_BODY_BYTES);
        assert!(readable_prefix(&exact).ends_with("\n/refire"));

        let mut split = "x".repeat(MAX_BODY_BYTES - 4);
        split.push_str("\n/refire qa\n");
        assert!(readable_prefix(&split).ends_with("x\n"));

        let line_at_cut = "x".repeat(MAX_BODY_BYTES - 8) + "\n/refire";
        assert!(readable_prefix(&(line_at_cut.clone() + "\r\nmore")).ends_with("/refire"));
        assert!(readable_prefix(&(line_at_cut + "\rmore")).ends_with("x\n"));

        // a multi-byte char across the limit
        let mut multi = "é".repeat(MAX_BODY_BYTES / 2 + 1);
        multi.insert(0, 'x');
        let cut = readable_prefix(&multi);
        assert!(cut.len() <= MAX_BODY_BYTES);
        assert_eq!(cut, "", "a single split line is dropped whole");

        let mut one_line = "/refire ".to_string();
        one_line.push_str(&"x".repeat(MAX_BODY_BYTES));
        assert_eq!(readable_prefix(&one_line), "");
    }
}
