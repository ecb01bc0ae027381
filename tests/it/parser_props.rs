//! Properties of the comment parser on hostile input: it never panics, never returns more than
//! `MAX_COMMANDS + 1` entries, numbers lines in increasing order, and costs no allocation when a
//! comment holds no command.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use proptest::prelude::*;
use sopbot::command::{
    parse_comment, to_json, GateNames, ParsedLine, MAX_BODY_BYTES, MAX_COMMANDS,
};

/// Counts allocations made by the current thread while `COUNTING` is set.
struct CountingAllocator;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.with(|n| n.set(n.get() + 1));
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above, that is from the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn allocations_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    ALLOCATIONS.with(|n| n.set(0));
    COUNTING.with(|c| c.set(true));
    let out = f();
    COUNTING.with(|c| c.set(false));
    (out, ALLOCATIONS.with(Cell::get))
}

/// The invariants every parse must keep, whatever the input.
fn check(body: &str) -> Result<(), TestCaseError> {
    let parsed: Vec<ParsedLine> = parse_comment(body, &GateNames::default_gates());
    prop_assert!(parsed.len() <= MAX_COMMANDS + 1, "{} entries", parsed.len());
    let lines_in_body = body.split('\n').count();
    let mut previous = 0;
    for (i, entry) in parsed.iter().enumerate() {
        prop_assert!(
            entry.line > previous,
            "line {} after {}",
            entry.line,
            previous
        );
        prop_assert!(entry.line <= lines_in_body);
        previous = entry.line;
        if let Err(error) = &entry.result {
            prop_assert_eq!(error.line, entry.line);
            let limit = error.message.starts_with("at most");
            prop_assert_eq!(limit, i == MAX_COMMANDS, "limit error only as entry 11");
        }
        let json = to_json(entry);
        prop_assert_eq!(json["line"].as_u64(), Some(entry.line as u64));
    }
    let any_line_starts_with_slash = body
        .split('\n')
        .any(|line| line.trim_start_matches([' ', '\t']).starts_with('/'));
    if !any_line_starts_with_slash {
        prop_assert!(parsed.is_empty());
    }
    Ok(())
}

/// Markdown and command fragments, so generated comments hit the interesting paths.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("\n".to_owned()),
        Just("\r\n".to_owned()),
        Just("/refire".to_owned()),
        Just("/sop-n/a".to_owned()),
        Just("/sop-revoke".to_owned()),
        Just("/sop-help".to_owned()),
        Just("/sop-hold".to_owned()),
        Just("/sop-unhold".to_owned()),
        Just("/sop-na".to_owned()),
        Just("/sop".to_owned()),
        Just("/usr/bin".to_owned()),
        Just(" qa".to_owned()),
        Just(" security review".to_owned()),
        Just(" all".to_owned()),
        Just("```".to_owned()),
        Just("~~~~".to_owned()),
        Just("> ".to_owned()),
        Just("<!--".to_owned()),
        Just("-->".to_owned()),
        Just("`".to_owned()),
        Just("<pre>".to_owned()),
        Just("</pre>".to_owned()),
        Just("$$".to_owned()),
        Just("\\[".to_owned()),
        Just(" — ".to_owned()),
        Just("–".to_owned()),
        Just(":".to_owned()),
        Just(",".to_owned()),
        Just(" - ".to_owned()),
        Just("   ".to_owned()),
        Just("\t".to_owned()),
        Just("é".to_owned()),
        Just("💥".to_owned()),
        "[a-zA-Z_./!?-]{0,12}",
        any::<char>().prop_map(String::from),
    ]
}

fn markdownish() -> impl Strategy<Value = String> {
    prop::collection::vec(fragment(), 0..300).prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn arbitrary_strings_never_break_the_parser(body in any::<String>()) {
        check(&body)?;
    }

    #[test]
    fn markdown_like_comments_never_break_the_parser(body in markdownish()) {
        check(&body)?;
    }

    #[test]
    fn many_command_lines_never_break_the_parser(
        lines in prop::collection::vec(prop_oneof![
            Just("/refire"), Just("/refire nope"), Just("  /sop-help"), Just("/x"),
            Just("> /refire"), Just("```"), Just("/sop-n/a qa"), Just("/sop-n/a qa docs"),
        ], 0..60),
    ) {
        check(&lines.join("\n"))?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn huge_lines_never_break_the_parser(
        prefix in markdownish(),
        piece in fragment(),
        repeat in 1usize..40_000,
        suffix in markdownish(),
    ) {
        check(&format!("{prefix}{}{suffix}", piece.repeat(repeat)))?;
    }

    #[test]
    fn deep_quote_nesting_never_breaks_the_parser(depth in 0usize..100_000, tail in markdownish()) {
        check(&format!("{}/refire\n{tail}", "> ".repeat(depth)))?;
        check(&format!("/refire {}\n{tail}", ">".repeat(depth)))?;
    }

    #[test]
    fn unbalanced_fences_and_comments_never_break_the_parser(
        opens in prop::collection::vec(
            prop_oneof![Just("```\n"), Just("~~~\n"), Just("<!--\n"), Just("-->\n"), Just("/refire\n"), Just("`` <!-- ``\n")],
            0..2_000,
        ),
    ) {
        check(&opens.concat())?;
    }

    #[test]
    fn multi_byte_text_across_the_size_limit_never_breaks_the_parser(
        back in 0usize..16,
        tail in markdownish(),
        wide in prop_oneof![Just("é"), Just("€"), Just("💥")],
    ) {
        let mut body = "x".repeat(MAX_BODY_BYTES - back);
        body.push_str(&wide.repeat(8));
        body.push_str(&tail);
        check(&body)?;
        let mut body = String::from("/refire\n");
        body.push_str(&wide.repeat(MAX_BODY_BYTES / wide.len() + 2));
        body.push_str("\n/refire");
        check(&body)?;
    }
}

proptest! {
    /// What Gitea shows as code or HTML is never a command, whatever the command and the text
    /// around it.
    #[test]
    fn commands_shown_as_code_or_html_never_run(
        command in prop_oneof![
            Just("/sop-n/a docs only"), Just("/sop-n/a qa: docs"), Just("/refire"),
            Just("/sop-revoke qa"), Just("/sop-na qa"),
        ],
        before in "[a-z ]{0,20}",
        wrap in 0usize..12,
        tag in prop_oneof![Just("pre"), Just("code"), Just("del"), Just("details"), Just("span")],
    ) {
        let body = match wrap {
            0 => format!("{before}\n\n    {command}\n"),
            1 => format!("- {before}\n  ```\n  {command}\n  ```\n"),
            2 => format!("1. {before}\n   - x\n\n         {command}\n"),
            3 => format!("<pre>\n{before}\n{command}\n</pre>\n"),
            4 => format!("<details>\n{command}\n</details>\n\n{before}"),
            5 => format!("x{before} <{tag}>\n{command}\n</{tag}>\n"),
            6 => format!("x{before} <{tag} class=\"a\">\n{command}\n"),
            7 => format!("- x{before} <{tag}>\n  {command}\n"),
            8 => format!("{before}\n$$\n{command}\n$$\n"),
            9 => format!("{before}\n\\[\n\n{command}\n"),
            10 => format!("- $$\n  {before}\n  {command}\n  $$\n"),
            _ => format!("> ```\n> {command}\n> ```\n"),
        };
        let parsed = parse_comment(&body, &GateNames::default_gates());
        prop_assert!(parsed.is_empty(), "{body:?} gave {parsed:?}");
    }
}

#[test]
fn a_comment_without_commands_costs_no_allocation() {
    let paragraph = "Looked at https://gitea.example.com/acme/widgets/pulls/12/files and the\n\
                     change to src/bot/engine.rs: the retry in /api/v1/repos is fine; see the\n\
                     docs at docs/ops/runbook.md, and cc @bob / @carol for the rest.\n\n";
    let body = paragraph.repeat(MAX_BODY_BYTES / paragraph.len() + 1);
    let gates = GateNames::default_gates();
    let (parsed, allocations) = allocations_during(|| parse_comment(&body, &gates));
    assert!(parsed.is_empty());
    assert_eq!(allocations, 0);
    // The counter does count: a command allocates its entry.
    let (parsed, allocations) = allocations_during(|| parse_comment("/refire", &gates));
    assert_eq!(parsed.len(), 1);
    assert!(allocations > 0);
}

#[test]
fn the_eleventh_command_is_the_limit_error_even_among_errors() {
    let body = "/sop-na\n".repeat(30);
    let parsed = parse_comment(&body, &GateNames::default_gates());
    assert_eq!(parsed.len(), MAX_COMMANDS + 1);
    assert_eq!(parsed[MAX_COMMANDS].line, MAX_COMMANDS + 1);
}
