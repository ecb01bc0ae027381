//! The command reference (`commands/*.md`) is also the parser's golden test: every fenced block
//! with the info string `example` holds a comment, and the `json` block right after it holds what
//! `sopbot parse --json` prints for it with the default gates. This test runs them all.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sopbot::command::{page, parse_comment, to_json, CommandKind, GateNames};

/// A fenced code block of a Markdown page.
#[derive(Debug)]
struct Block {
    /// First word of the info string.
    info: String,
    body: String,
    /// 1-based line of the opening fence.
    line: usize,
    /// Whether only blank lines stand between the previous block's closing fence and this one.
    follows_previous: bool,
}

/// The fenced blocks of `markdown` (fences of 3+ backticks or tildes, indented at most 3 spaces,
/// closed by 3+ of the same character, at least as many as opened).
fn fenced_blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<(char, usize, Block)> = None;
    let mut only_blank_since_close = false;
    for (index, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start_matches(' ');
        let indent = line.len() - trimmed.len();
        let fence_char = trimmed.chars().next().filter(|c| *c == '`' || *c == '~');
        let run = fence_char.map_or(0, |c| trimmed.chars().take_while(|&d| d == c).count());
        let is_fence = indent <= 3 && run >= 3;
        match open.take() {
            Some((c, len, block)) => {
                if is_fence
                    && fence_char == Some(c)
                    && run >= len
                    && trimmed[run..].trim().is_empty()
                {
                    blocks.push(block);
                    only_blank_since_close = true;
                } else {
                    let mut block = block;
                    block.body.push_str(line);
                    block.body.push('\n');
                    open = Some((c, len, block));
                }
            }
            None if is_fence => {
                let c = fence_char.unwrap_or('`');
                let block = Block {
                    info: trimmed[run..]
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .to_owned(),
                    body: String::new(),
                    line: index + 1,
                    follows_previous: only_blank_since_close,
                };
                open = Some((c, run, block));
            }
            None => only_blank_since_close &= line.trim().is_empty(),
        }
    }
    assert!(open.is_none(), "a fenced block is not closed");
    blocks
}

/// An example and its expected JSON.
struct Example {
    line: usize,
    comment: String,
    expected: Value,
}

/// The example/json pairs of one page; an error names what is wrong with the page.
fn examples(markdown: &str) -> Result<Vec<Example>, String> {
    let blocks = fenced_blocks(markdown);
    let mut examples = Vec::new();
    for (i, block) in blocks.iter().enumerate() {
        match block.info.as_str() {
            "example" => {
                let json = blocks
                    .get(i + 1)
                    .filter(|next| next.info == "json" && next.follows_previous)
                    .ok_or(format!(
                        "the example at line {} is not followed by a json block",
                        block.line
                    ))?;
                let expected = serde_json::from_str(&json.body)
                    .map_err(|e| format!("the json block at line {}: {e}", json.line))?;
                examples.push(Example {
                    line: block.line,
                    // The block's text without the final newline that closes its last line.
                    comment: block
                        .body
                        .strip_suffix('\n')
                        .unwrap_or(&block.body)
                        .to_owned(),
                    expected,
                });
            }
            "json" if !(i > 0 && blocks[i - 1].info == "example" && block.follows_previous) => {
                return Err(format!(
                    "the json block at line {} follows no example",
                    block.line
                ));
            }
            _ => {}
        }
    }
    if examples.is_empty() {
        return Err("no example".into());
    }
    Ok(examples)
}

fn pages() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("commands");
    let mut pages: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("commands/ is readable")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    pages
}

#[test]
fn every_example_in_the_reference_parses_as_its_json_says() {
    let gates = GateNames::default_gates();
    let mut failures = Vec::new();
    let mut checked = 0;
    for path in pages() {
        let markdown = fs::read_to_string(&path).expect("a readable page");
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let name = name.unwrap_or_default();
        match examples(&markdown) {
            Err(problem) => failures.push(format!("{name}: {problem}")),
            Ok(examples) => {
                for example in examples {
                    let got: Value = parse_comment(&example.comment, &gates)
                        .iter()
                        .map(to_json)
                        .collect();
                    if got != example.expected {
                        failures.push(format!(
                            "{name}, example at line {}: parser says\n{}",
                            example.line,
                            serde_json::to_string_pretty(&got).unwrap_or_default()
                        ));
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(checked >= CommandKind::ALL.len(), "only {checked} examples");
}

#[test]
fn every_command_has_its_page_and_the_compiled_in_reference_is_that_page() {
    let on_disk: Vec<String> = pages()
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    assert_eq!(on_disk.len(), CommandKind::ALL.len(), "{on_disk:?}");
    for kind in CommandKind::ALL {
        let file = format!("{}.md", kind.name().replace('/', "-"));
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("commands")
            .join(&file);
        let markdown = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(page(kind), markdown, "{file}");
        for section in [
            "## Syntax",
            "## Who may use it",
            "## What sopbot answers",
            "## Examples",
        ] {
            assert!(markdown.contains(section), "{file} lacks {section:?}");
        }
    }
}

#[test]
fn a_page_without_examples_is_rejected() {
    assert_eq!(
        examples("# /x\n\n```\n/refire\n```\n").err(),
        Some("no example".into())
    );
}

#[test]
fn an_example_without_a_json_block_right_after_it_is_rejected() {
    let missing = "```example\n/refire\n```\n";
    let separated = "```example\n/refire\n```\ntext\n```json\n[]\n```\n";
    let wrong_info = "```example\n/refire\n```\n```text\n[]\n```\n";
    for page in [missing, separated, wrong_info] {
        let problem = examples(page).err().unwrap_or_default();
        assert!(
            problem.contains("not followed by a json block"),
            "{page:?}: {problem}"
        );
    }
    let orphan = "```example\n/refire\n```\n```json\n[]\n```\n\n```json\n[]\n```\n";
    assert!(examples(orphan)
        .err()
        .unwrap_or_default()
        .contains("follows no example"));
}

#[test]
fn examples_keep_inner_fences_and_blank_lines() {
    let page = "~~~~example\n```\n/refire\n```\n\n/sop-help\n~~~~\n\n```json\n[]\n```\n";
    let found = examples(page).expect("one example");
    assert_eq!(found[0].comment, "```\n/refire\n```\n\n/sop-help");
    assert_eq!(found[0].expected, Value::Array(vec![]));
}
