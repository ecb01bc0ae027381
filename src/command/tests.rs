//! The parsing rules of `commands/*.md`, one test each, through the public entry points.

use super::*;

fn gates() -> GateNames {
    GateNames::default_gates()
}

fn parse(body: &str) -> Vec<ParsedLine> {
    parse_comment(body, &gates())
}

/// The single entry of a one-command comment.
fn one(body: &str) -> Result<Command, CommandError> {
    let mut parsed = parse(body);
    assert_eq!(parsed.len(), 1, "{body:?} gave {parsed:?}");
    parsed.remove(0).result
}

fn ok(body: &str) -> Command {
    one(body).unwrap_or_else(|e| panic!("{body:?} refused: {e}"))
}

/// The whole human message of a refused one-command comment.
fn refused(body: &str) -> String {
    match one(body) {
        Ok(command) => panic!("{body:?} accepted as {command:?}"),
        Err(error) => error.to_string(),
    }
}

fn names(gates: &[&str]) -> Vec<String> {
    gates.iter().map(|g| g.to_string()).collect()
}

fn waive(gates: &[&str], reason: &str) -> Command {
    Command::Waive {
        gates: names(gates),
        reason: reason.into(),
    }
}

fn refire(gates: &[&str]) -> Command {
    Command::Refire {
        gates: names(gates),
    }
}

fn revoke(gates: &[&str]) -> Command {
    Command::Revoke {
        gates: names(gates),
    }
}

fn lines(parsed: &[ParsedLine]) -> Vec<usize> {
    parsed.iter().map(|p| p.line).collect()
}

// Rule 1: start of line only; several per comment among prose.

#[test]
fn a_command_counts_only_at_the_start_of_a_line() {
    assert!(parse("to /refire you need to comment").is_empty());
    assert!(parse("- /refire").is_empty());
    assert!(parse("`/refire`").is_empty());
    assert_eq!(ok("/refire qa"), refire(&["qa"]));
    assert_eq!(ok("   /refire qa"), refire(&["qa"]));
    // 4+ columns of indentation continue a paragraph line lazily: still a paragraph.
    assert_eq!(ok("Please:\n      /refire qa"), refire(&["qa"]));
    assert_eq!(ok("Please:\n\t \t/refire qa"), refire(&["qa"]));
}

#[test]
fn several_commands_stand_among_prose_one_per_line() {
    let body = "Thanks for the review!\n/refire qa\nThe docs part needs no security review:\n\n/sop-n/a security docs only\nsee /usr/share/doc\n/sop-help";
    let parsed = parse(body);
    assert_eq!(lines(&parsed), [2, 5, 7]);
    assert_eq!(parsed[0].result, Ok(refire(&["qa"])));
    assert_eq!(parsed[1].result, Ok(waive(&["security"], "docs only")));
    assert_eq!(parsed[2].result, Ok(Command::Help));
}

// Rule 2: command words are normalised.

#[test]
fn command_words_are_normalised() {
    let cases = [
        ("/SOP_N/A qa docs", CommandKind::Waive),
        ("/Sop-N/A: docs", CommandKind::Waive),
        ("/sop n/a qa docs", CommandKind::Waive),
        ("/sop--revoke qa", CommandKind::Revoke),
        ("/SOP_Revoke. qa", CommandKind::Revoke),
        ("/Refire!", CommandKind::Refire),
        ("/REFIRE, qa", CommandKind::Refire),
        ("/sop-help.", CommandKind::Help),
        ("/sop help", CommandKind::Help),
        ("/sop_HELP;", CommandKind::Help),
        ("/sop-help?", CommandKind::Help),
    ];
    for (body, kind) in cases {
        assert_eq!(ok(body).kind(), kind, "{body:?}");
    }
}

// Rule 3: unknown words.

#[test]
fn an_unknown_sop_word_is_an_error_with_did_you_mean_when_near() {
    let cases = [
        (
            "/sop-na qa docs",
            "unknown command `/sop-na`; did you mean `/sop-n/a`?",
        ),
        (
            "/sop-n-a qa docs",
            "unknown command `/sop-n-a`; did you mean `/sop-n/a`?",
        ),
        (
            "/sop-revok qa",
            "unknown command `/sop-revok`; did you mean `/sop-revoke`?",
        ),
        (
            "/sop-hlep",
            "unknown command `/sop-hlep`; did you mean `/sop-help`?",
        ),
        (
            "/sop na qa docs",
            "unknown command `/sop na`; did you mean `/sop-n/a`?",
        ),
    ];
    for (body, want) in cases {
        assert_eq!(refused(body), want, "{body:?}");
    }
}

#[test]
fn an_unknown_sop_word_far_from_every_command_lists_the_commands() {
    for body in ["/sop-ack", "/sop", "/SOP-whatever is this"] {
        let message = refused(body);
        assert!(message.starts_with("unknown command `/"), "{message}");
        assert!(
            message.ends_with(
                "the commands are /sop-n/a, /sop-revoke, /refire, /sop-help, /sop-hold and /sop-unhold"
            ),
            "{message}"
        );
    }
}

#[test]
fn a_near_miss_of_a_command_name_is_an_error_with_did_you_mean() {
    let cases = [
        (
            "/refier qa",
            "unknown command `/refier`; did you mean `/refire`?",
        ),
        (
            "/refrie",
            "unknown command `/refrie`; did you mean `/refire`?",
        ),
        (
            "/Refires all",
            "unknown command `/Refires`; did you mean `/refire`?",
        ),
        (
            "//refire",
            "unknown command `//refire`; did you mean `/refire`?",
        ),
    ];
    for (body, want) in cases {
        assert_eq!(refused(body), want, "{body:?}");
    }
}

#[test]
fn any_other_slash_word_is_prose() {
    for body in [
        "/usr/bin is broken",
        "/cc @bob",
        "/me waves",
        "/ refire",
        "/",
        "/refire.sh is the script",
        "/api/v1/repos/acme/widgets",
    ] {
        assert!(parse(body).is_empty(), "{body:?} gave {:?}", parse(body));
    }
}

// Rule 4: gate names.

#[test]
fn gate_names_are_normalised_and_resolve_to_canonical_names() {
    let cases = [
        ("/refire qa", &["qa"][..]),
        ("/refire QA_Review", &["qa"]),
        ("/refire Security_Review.", &["security"]),
        ("/refire security review", &["security"]),
        ("/refire SECURITY  --  review!", &["security"]),
        ("/refire security-review qa", &["security", "qa"]),
    ];
    for (body, want) in cases {
        assert_eq!(ok(body), refire(want), "{body:?}");
    }
}

#[test]
fn gates_are_comma_and_or_space_separated() {
    let cases = [
        "/refire qa,security",
        "/refire qa, security",
        "/refire qa , security",
        "/refire qa security",
        "/refire qa-review,,security review",
    ];
    for body in cases {
        assert_eq!(ok(body), refire(&["qa", "security"]), "{body:?}");
    }
}

#[test]
fn gate_words_join_only_across_blanks_not_commas() {
    assert_eq!(
        refused("/sop-revoke security, review"),
        "unknown gate `review`; known gates: qa, security"
    );
}

#[test]
fn gate_names_come_from_the_configuration() {
    let gates = GateNames::new([
        ("docs".to_owned(), vec!["documentation".to_owned()]),
        ("perf".to_owned(), vec![]),
    ]);
    assert_eq!(gates.canonical(), ["docs", "perf"]);
    assert_eq!(gates.resolve("Documentation."), Some("docs"));
    assert_eq!(gates.resolve("docs review"), Some("docs"));
    assert_eq!(gates.resolve("perf_review"), Some("perf"));
    assert_eq!(gates.resolve("qa"), None);
    let parsed = parse_comment("/refire\n/sop-n/a perf: no code", &gates);
    assert_eq!(parsed[0].result, Ok(refire(&["docs", "perf"])));
    assert_eq!(parsed[1].result, Ok(waive(&["perf"], "no code")));
}

#[test]
fn the_first_gate_to_claim_an_alias_keeps_it() {
    let gates = GateNames::new([
        ("a".to_owned(), vec!["shared".to_owned()]),
        ("b".to_owned(), vec!["shared".to_owned(), "a".to_owned()]),
    ]);
    assert_eq!(gates.resolve("shared"), Some("a"));
    assert_eq!(gates.resolve("a"), Some("a"));
    assert_eq!(gates.resolve("b-review"), Some("b"));
}

// Rule 5: /sop-n/a.

#[test]
fn waive_takes_gates_then_an_optional_separator_then_the_reason() {
    let cases = [
        (
            "/sop-n/a qa-review docs-only change",
            waive(&["qa"], "docs-only change"),
        ),
        (
            "/sop-n/a qa-review — docs only",
            waive(&["qa"], "docs only"),
        ),
        ("/sop-n/a qa-review—docs only", waive(&["qa"], "docs only")),
        ("/sop-n/a qa–docs only", waive(&["qa"], "docs only")),
        ("/sop-n/a qa: docs", waive(&["qa"], "docs")),
        ("/sop-n/a qa:docs", waive(&["qa"], "docs")),
        ("/sop-n/a qa - docs", waive(&["qa"], "docs")),
        ("/sop-n/a qa -- docs", waive(&["qa"], "docs")),
        (
            "/sop-n/a qa, security: no code",
            waive(&["qa", "security"], "no code"),
        ),
        (
            "/sop-n/a security review   typo fix  ",
            waive(&["security"], "typo fix"),
        ),
        (
            "/sop-n/a qa: security: see #12",
            waive(&["qa"], "security: see #12"),
        ),
        (
            "/sop-n/a qa see: https://x/y",
            waive(&["qa"], "see: https://x/y"),
        ),
    ];
    for (body, want) in cases {
        assert_eq!(ok(body), want, "{body:?}");
    }
}

#[test]
fn waive_without_a_gate_covers_every_gate_the_declarer_may_waive() {
    let cases = [
        ("/sop-n/a docs only change", waive(&[], "docs only change")),
        ("/sop-n/a — docs only", waive(&[], "docs only")),
        ("/sop-n/a: docs only", waive(&[], "docs only")),
        (
            "/sop-n/a all of it is docs",
            waive(&[], "all of it is docs"),
        ),
    ];
    for (body, want) in cases {
        assert_eq!(ok(body), want, "{body:?}");
    }
}

#[test]
fn waive_without_a_reason_is_refused_with_usage() {
    for body in [
        "/sop-n/a qa",
        "/sop-n/a qa —",
        "/sop-n/a qa:   ",
        "/sop-n/a",
        "/sop-n/a —",
        "/sop-n/a qa, security",
    ] {
        assert_eq!(
            refused(body),
            "missing reason: say why the gate does not apply; usage: /sop-n/a [GATE...] REASON",
            "{body:?}"
        );
    }
}

#[test]
fn waive_refuses_a_near_miss_of_a_gate_that_would_widen_the_waiver() {
    let cases = [
        ("/sop-n/a secuirty not applicable", "secuirty", "security"),
        (
            "/sop-n/a Secuirty_Review. docs",
            "Secuirty_Review.",
            "security-review",
        ),
        ("/sop-n/a qa-reveiw docs", "qa-reveiw", "qa-review"),
        ("/sop-n/a qa securty docs", "securty", "security"),
    ];
    for (body, typed, alias) in cases {
        assert_eq!(
            refused(body),
            format!(
                "unknown gate `{typed}` (a reason that starts with this word needs `:` before it); did you mean `{alias}`?"
            ),
            "{body:?}"
        );
    }
    // After a separator the reason is taken as written.
    assert_eq!(
        ok("/sop-n/a — securely handled elsewhere"),
        waive(&[], "securely handled elsewhere")
    );
    // Two edits from `qa` is too far for a two-letter name.
    assert_eq!(ok("/sop-n/a qaqa docs"), waive(&[], "qaqa docs"));
    // One edit from a 4-letter name is a near miss, `doc` included: a separator keeps it.
    let docs = GateNames::new([("docs".to_owned(), vec![])]);
    let parsed = parse_comment(
        "/sop-n/a doc changes only\n/sop-n/a dosc: x\n/sop-n/a — doc changes only",
        &docs,
    );
    for entry in &parsed[..2] {
        assert_eq!(
            entry.result.as_ref().map_err(|e| e.suggestion.clone()),
            Err(Some("docs".to_owned()))
        );
    }
    assert_eq!(parsed[2].result, Ok(waive(&[], "doc changes only")));
}

#[test]
fn waive_refuses_a_reason_word_that_looks_like_a_short_gate() {
    for typed in ["qs", "q", "aq", "Q", "qa-reveiw", "q/a"] {
        let body = format!("/sop-n/a {typed} docs only");
        assert_eq!(
            refused(&body),
            format!(
                "unknown gate `{typed}` (a reason that starts with this word needs `:` before it); did you mean `{}`?",
                if typed.contains("rev") { "qa-review" } else { "qa" }
            ),
            "{body:?}"
        );
    }
    // Ordinary reason words still mean "every gate you may waive".
    for reason in [
        "docs only",
        "typo fix",
        "a typo fix",
        "n/a for docs",
        "no code change",
        "as discussed",
        "i18n strings only",
    ] {
        assert_eq!(
            ok(&format!("/sop-n/a {reason}")),
            waive(&[], reason),
            "{reason:?}"
        );
    }
}

#[test]
fn waive_refuses_a_gate_wrapped_in_quotes_brackets_or_a_slash_list() {
    let wrapped = ": name gates plainly, without quotes, brackets or `/` (a reason that starts \
                   with this word needs `:` before it)";
    let cases = [
        ("`qa` docs only", "`` `qa` ``", "qa"),
        ("(qa) docs only", "`(qa)`", "qa"),
        ("\"qa\" docs", "`\"qa\"`", "qa"),
        ("“qa” docs", "`“qa”`", "qa"),
        ("[Security_Review] docs", "`[Security_Review]`", "security"),
        ("qa/security docs", "`qa/security`", "qa, security"),
        ("qa+security docs", "`qa+security`", "qa, security"),
        ("security&qa docs", "`security&qa`", "security, qa"),
        ("QA's tests are irrelevant", "`QA's`", "qa"),
        ("QA’s tests", "`QA’s`", "qa"),
        ("(secuirty) docs", "`(secuirty)`", "security"),
        ("docs/qa only", "`docs/qa`", "qa"),
    ];
    for (reason, quoted, suggestion) in cases {
        let body = format!("/sop-n/a {reason}");
        assert_eq!(
            refused(&body),
            format!("unknown gate {quoted}{wrapped}; did you mean `{suggestion}`?"),
            "{body:?}"
        );
    }
    // With a separator the reason is taken as written; ordinary words still start a reason.
    assert_eq!(ok("/sop-n/a qa: `qa` docs"), waive(&["qa"], "`qa` docs"));
    for reason in [
        "n/a docs",
        "CI/CD only",
        "a typo",
        "(docs) only",
        "it's docs",
        "R&D notes",
    ] {
        assert_eq!(
            ok(&format!("/sop-n/a {reason}")),
            waive(&[], reason),
            "{reason:?}"
        );
    }
}

#[test]
fn a_gate_typed_in_look_alike_or_full_width_characters_is_refused_not_ignored() {
    // Cyrillic а, full-width ｑａ, a zero-width space, Cyrillic ѕ and е in "security".
    for typed in ["qа", "ｑａ", "Ｑａ", "q\u{200b}a", "ѕеcurity"] {
        let want = if typed.ends_with("urity") {
            "security"
        } else {
            "qa"
        };
        for body in [
            format!("/sop-n/a {typed} docs only"),
            format!("/sop-n/a qa {typed}: docs only"),
            format!("/refire {typed}"),
            format!("/sop-revoke {typed}"),
        ] {
            let error = one(&body).expect_err(&body);
            assert_eq!(
                error.message,
                format!(
                    "unknown gate `{typed}`: it is spelt with look-alike or full-width characters"
                ),
                "{body:?}"
            );
            assert_eq!(error.suggestion.as_deref(), Some(want), "{body:?}");
        }
    }
    assert_eq!(
        refused("/refire ａｌｌ"),
        "unknown gate `ａｌｌ`: it is spelt with look-alike or full-width characters; did you mean `all`?"
    );
}

#[test]
fn a_control_character_makes_a_command_line_malformed() {
    for (body, code, usage) in [
        ("/sop-n/a qa: docs\u{0} only", "0000", CommandKind::Waive),
        ("/sop-n/a docs \u{1b}[31monly", "001B", CommandKind::Waive),
        ("/sop-n/a qa docs\u{7f}", "007F", CommandKind::Waive),
        ("/refire qa\u{0}", "0000", CommandKind::Refire),
        ("/sop-revoke qa\u{1b}", "001B", CommandKind::Revoke),
    ] {
        assert_eq!(
            refused(body),
            format!(
                "malformed command: control character U+{code} is not allowed in a command line; {}",
                usage.usage()
            ),
            "{body:?}"
        );
    }
    // A tab is a blank, and /sop-help ignores what follows it.
    assert_eq!(ok("/sop-n/a qa:\tdocs\tonly"), waive(&["qa"], "docs\tonly"));
    assert_eq!(ok("/sop-help \u{0}"), Command::Help);
}

#[test]
fn a_colon_stuck_to_the_command_word_is_not_the_reason_separator() {
    // Read as the separator, the colon would turn `qa` into reason text and the waiver would
    // cover every gate.
    assert_eq!(ok("/sop-n/a: QA: docs"), waive(&["qa"], "docs"));
    assert_eq!(ok("/sop-N/A:qa docs"), waive(&["qa"], "docs"));
    assert_eq!(ok("/sop-n/a : qa docs"), waive(&[], "qa docs"));
    assert_eq!(ok("/refire:security"), refire(&["security"]));
}

#[test]
fn waive_collapses_duplicate_gates_keeping_first_order() {
    assert_eq!(
        ok("/sop-n/a security qa-review security_review qa: docs"),
        waive(&["security", "qa"], "docs")
    );
}

// Rule 6: /sop-revoke.

#[test]
fn revoke_names_one_or_more_gates() {
    assert_eq!(ok("/sop-revoke qa-review"), revoke(&["qa"]));
    assert_eq!(
        ok("/sop-revoke security review, qa, qa"),
        revoke(&["security", "qa"])
    );
}

#[test]
fn revoke_without_a_gate_is_refused_with_usage() {
    assert_eq!(
        refused("/sop-revoke"),
        "missing gate: name the waived gate to revoke (known gates: qa, security); usage: /sop-revoke GATE..."
    );
}

#[test]
fn revoke_refuses_unknown_gates() {
    assert_eq!(
        refused("/sop-revoke qa secuirty"),
        "unknown gate `secuirty`; did you mean `security`?"
    );
    assert_eq!(
        refused("/sop-revoke qa because wrong PR"),
        "unknown gate `because`; known gates: qa, security"
    );
    assert_eq!(
        refused("/sop-revoke all"),
        "unknown gate `all`; known gates: qa, security"
    );
}

// Rule 7: /refire.

#[test]
fn refire_without_a_gate_or_with_all_means_every_gate_in_config_order() {
    for body in [
        "/refire",
        "/refire all",
        "/refire ALL.",
        "/refire qa all",
        "/refire:",
    ] {
        assert_eq!(ok(body), refire(&["qa", "security"]), "{body:?}");
    }
    assert_eq!(ok("/refire security, qa"), refire(&["security", "qa"]));
    assert_eq!(ok("/refire qa. qa!"), refire(&["qa"]));
}

#[test]
fn refire_refuses_unknown_gates() {
    assert_eq!(
        refused("/refire secuirty"),
        "unknown gate `secuirty`; did you mean `security`?"
    );
    assert_eq!(
        refused("/refire al"),
        "unknown gate `al`; did you mean `all`?"
    );
    assert_eq!(
        refused("/refire qa please"),
        "unknown gate `please`; known gates: qa, security, or all"
    );
}

// Rule 8: /sop-help.

#[test]
fn help_ignores_anything_after_it() {
    for body in [
        "/sop-help",
        "/sop-help me please",
        "/sop-help: what is n/a?",
    ] {
        assert_eq!(ok(body), Command::Help, "{body:?}");
    }
}

// Rule 9: ignored regions.

#[test]
fn commands_in_fenced_code_blocks_are_ignored() {
    let body =
        "```\n/refire\n```\n~~~~ text\n/sop-help\n~~~\n/refire\n~~~~\n/refire qa\n```\n/sop-help";
    let parsed = parse(body);
    assert_eq!(lines(&parsed), [9]);
}

#[test]
fn commands_in_indented_code_blocks_are_ignored() {
    for body in [
        "      /refire qa",
        "\t/refire qa",
        "Example:\n\n    /sop-n/a docs only\n",
        "- step one\n\n      /sop-n/a docs only\n",
    ] {
        assert!(parse(body).is_empty(), "{body:?} gave {:?}", parse(body));
    }
}

#[test]
fn commands_in_fences_nested_in_list_items_are_ignored() {
    for body in [
        "- to waive:\n  ```\n  /sop-n/a docs only\n  ```\n",
        "1. a\n   - b\n     ~~~\n     /refire\n     ~~~\n",
        "> - quoted list\n>   ```\n>   /refire\n>   ```\n",
    ] {
        assert!(parse(body).is_empty(), "{body:?} gave {:?}", parse(body));
    }
    // A paragraph in a list item is text, as on the first line of a comment.
    assert_eq!(lines(&parse("- item\n\n  /refire qa")), [3]);
}

#[test]
fn commands_in_html_blocks_code_spans_and_struck_out_text_are_ignored() {
    for body in [
        "<pre>\n/sop-n/a docs only\n</pre>",
        "<div>\n/refire\n</div>",
        "<details>\n/sop-n/a docs only\n</details>",
        "<table><tr><td>\n/refire\n</td></tr></table>",
        "``\n/refire qa\n``",
        "~~not any more:\n/sop-n/a docs only~~",
        "![screenshot\n/refire qa](shot.png)",
    ] {
        assert!(parse(body).is_empty(), "{body:?} gave {:?}", parse(body));
    }
    // After a blank line, `<details>` content is Markdown again: a paragraph, shown as text.
    let body = "<details>\n<summary>why</summary>\n\n/sop-n/a docs only\n\n</details>";
    assert_eq!(lines(&parse(body)), [4]);
}

#[test]
fn commands_in_quotes_are_ignored_but_a_lazy_continuation_line_is_not() {
    let body = "> /refire\n> > /sop-help\n  > /refire qa\n> some quote\n/refire security";
    let parsed = parse(body);
    assert_eq!(lines(&parsed), [5]);
    assert_eq!(parsed[0].result, Ok(refire(&["security"])));
}

#[test]
fn commands_in_html_comments_are_ignored() {
    let body = "<!--\n/refire\n-->\n/sop-help <!-- /refire -->\ntext <!-- hidden\n/sop-n/a qa x\n--> /refire\n/refire qa <!-- security\n/refire\n-->";
    let parsed = parse(body);
    assert_eq!(lines(&parsed), [4, 8]);
    assert_eq!(parsed[0].result, Ok(Command::Help));
    assert_eq!(parsed[1].result, Ok(refire(&["qa"])));
}

// Rule 10: at most MAX_COMMANDS entries.

#[test]
fn the_eleventh_command_line_stops_parsing_with_one_error() {
    let mut body = String::new();
    for i in 0..15 {
        body.push_str(if i % 2 == 0 {
            "/refire\n"
        } else {
            "/sop-na\nprose /x\n/usr/bin\n"
        });
    }
    let parsed = parse(&body);
    assert_eq!(parsed.len(), MAX_COMMANDS + 1);
    let last = parsed.last().expect("entries");
    assert_eq!(
        last.result.as_ref().map_err(|e| e.to_string()),
        Err("at most 10 commands per comment; this line and the ones after it were not run".into())
    );
    assert_eq!(last.line, lines(&parse(&body[..body.len() - 1]))[10]);

    let ten = "/refire\n".repeat(MAX_COMMANDS) + "/usr/bin\nprose";
    assert!(parse(&ten).iter().all(|p| p.result.is_ok()));
}

// Rule 11: only the first MAX_BODY_BYTES are read.

#[test]
fn only_the_first_64_kib_are_read_and_a_cut_command_line_is_dropped() {
    let filler = "x".repeat(MAX_BODY_BYTES - 40) + "\n";
    let body = format!("/refire qa\n{filler}/sop-help\n/refire security review\n/refire qa");
    let parsed = parse(&body);
    assert_eq!(lines(&parsed), [1, 3], "the cut falls inside line 4");
    assert_eq!(parsed[1].result, Ok(Command::Help));

    let past = format!("{}\n/refire", "y".repeat(MAX_BODY_BYTES));
    assert!(parse(&past).is_empty());
}

// Rule 12: the no-command path.

#[test]
fn a_comment_without_a_line_start_slash_yields_nothing_and_allocates_nothing() {
    let parsed = parse("see https://example.com/a/b and src/main.rs\n  - item /x\n");
    assert!(parsed.is_empty());
    assert_eq!(parsed.capacity(), 0);
}

// Rule 13: errors carry their line and say what was expected.

#[test]
fn errors_carry_their_line_number() {
    let parsed = parse("hello\n\n/refire nope\n/sop-n/a qa");
    assert_eq!(lines(&parsed), [3, 4]);
    for entry in &parsed {
        assert_eq!(entry.result.as_ref().map_err(|e| e.line), Err(entry.line));
    }
}

#[test]
fn a_quoted_word_in_an_error_is_clipped() {
    let long = "z".repeat(200);
    let message = refused(&format!("/refire {long}"));
    assert!(message.len() < 120, "{message}");
    assert!(message.contains("…"), "{message}");
}

// The output contracts.

#[test]
fn json_output_matches_the_cli_contract() {
    let parsed = parse("/sop-n/a qa: docs\n/refire\n/sop-revoke security\n/sop-help\n/refire x");
    let json: Vec<Value> = parsed.iter().map(to_json).collect();
    assert_eq!(
        Value::Array(json),
        json!([
            {"line": 1, "command": "sop-n/a", "gates": ["qa"], "reason": "docs"},
            {"line": 2, "command": "refire", "gates": ["qa", "security"]},
            {"line": 3, "command": "sop-revoke", "gates": ["security"]},
            {"line": 4, "command": "sop-help", "gates": []},
            {"line": 5, "error": "unknown gate `x`; known gates: qa, security, or all"},
        ])
    );
}

#[test]
fn commands_serialize_with_their_name_as_tag() {
    assert_eq!(
        serde_json::to_value(waive(&["qa"], "docs")).expect("serialize"),
        json!({"command": "sop-n/a", "gates": ["qa"], "reason": "docs"})
    );
    assert_eq!(
        serde_json::to_value(Command::Help).expect("serialize"),
        json!({"command": "sop-help"})
    );
}

#[test]
fn usage_is_one_line_per_command_under_any_spelling() {
    assert_eq!(usage("sop-n/a"), "usage: /sop-n/a [GATE...] REASON");
    assert_eq!(usage("/SOP_N/A"), "usage: /sop-n/a [GATE...] REASON");
    assert_eq!(usage("sop-revoke"), "usage: /sop-revoke GATE...");
    assert_eq!(usage("refire"), "usage: /refire [GATE...|all]");
    assert_eq!(usage("sop-help"), "usage: /sop-help");
    assert!(usage("nope").contains("/sop-revoke GATE..."));
    for kind in CommandKind::ALL {
        assert_eq!(CommandKind::from_name(kind.name()), Some(kind));
        assert!(!kind.usage().contains('\n'));
    }
}

#[test]
fn command_name_and_gates_accessors() {
    assert_eq!(waive(&["qa"], "x").name(), "sop-n/a");
    assert_eq!(revoke(&["qa"]).name(), "sop-revoke");
    assert_eq!(refire(&[]).name(), "refire");
    assert_eq!(Command::Help.name(), "sop-help");
    assert_eq!(revoke(&["qa"]).gates(), ["qa"]);
    assert!(Command::Help.gates().is_empty());
}

// Holds: /sop-hold REASON, /sop-unhold [NOTE].

#[test]
fn hold_takes_the_rest_of_the_line_as_its_reason() {
    let hold = |r: &str| Command::Hold { reason: r.into() };
    assert_eq!(ok("/sop-hold release freeze"), hold("release freeze"));
    assert_eq!(ok("/SOP_Hold: qa is not done"), hold("qa is not done"));
    assert_eq!(ok("/sop hold — wait for #12"), hold("wait for #12"));
    assert_eq!(ok("  /sop-hold   spaced out  "), hold("spaced out"));
    // Gate names mean nothing to a hold: they are part of the reason.
    assert_eq!(ok("/sop-hold security"), hold("security"));
}

#[test]
fn hold_without_a_reason_is_refused_with_usage() {
    for body in ["/sop-hold", "/sop-hold:", "/sop-hold —  ", "/sop-hold -"] {
        assert_eq!(
            refused(body),
            "missing reason: say why the PR is held; usage: /sop-hold REASON",
            "{body:?}"
        );
    }
}

#[test]
fn unhold_takes_an_optional_note() {
    assert_eq!(ok("/sop-unhold"), Command::Unhold { reason: None });
    assert_eq!(ok("/sop-unhold."), Command::Unhold { reason: None });
    assert_eq!(
        ok("/sop-unhold: freeze over"),
        Command::Unhold {
            reason: Some("freeze over".into())
        }
    );
    assert_eq!(ok("/sop-unhold").kind(), CommandKind::Unhold);
    assert!(ok("/sop-unhold").gates().is_empty());
}

#[test]
fn holds_in_code_quotes_and_comments_are_not_commands() {
    for body in [
        "```\n/sop-hold x\n```",
        "> /sop-unhold",
        "<!-- /sop-hold x -->",
        "see `/sop-hold x`",
    ] {
        assert!(parse(body).is_empty(), "{body:?}");
    }
}

#[test]
fn near_misses_of_the_hold_commands_are_suggested() {
    let e = one("/sop-hodl wait").unwrap_err();
    assert_eq!(e.suggestion.as_deref(), Some("/sop-hold"), "{e}");
    let e = one("/sop-unhodl").unwrap_err();
    assert_eq!(e.suggestion.as_deref(), Some("/sop-unhold"), "{e}");
    // The help command is still found as typed.
    assert_eq!(ok("/sop-help"), Command::Help);
}

#[test]
fn hold_commands_print_as_json_with_their_reason() {
    let parsed = parse("/sop-hold freeze\n/sop-unhold\n/sop-unhold: done");
    let json: Vec<Value> = parsed.iter().map(to_json).collect();
    assert_eq!(
        json,
        [
            json!({"line": 1, "command": "sop-hold", "gates": [], "reason": "freeze"}),
            json!({"line": 2, "command": "sop-unhold", "gates": []}),
            json!({"line": 3, "command": "sop-unhold", "gates": [], "reason": "done"}),
        ]
    );
    assert_eq!(usage("sop-hold"), "usage: /sop-hold REASON");
    assert_eq!(usage("/sop-unhold"), "usage: /sop-unhold [NOTE]");
}
