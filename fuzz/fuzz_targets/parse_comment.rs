//! The comment parser on any text: it never panics, reads at most the first 64 KiB, gives at
//! most 10 commands (plus one "too many" entry), numbers lines within the comment, and every
//! entry has its JSON form.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sopbot::command::{parse_comment, to_json, GateNames, MAX_COMMANDS};

fn gates() -> &'static GateNames {
    static GATES: OnceLock<GateNames> = OnceLock::new();
    GATES.get_or_init(GateNames::default_gates)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = parse_comment(text, gates());
    assert!(parsed.len() <= MAX_COMMANDS + 1, "{} entries", parsed.len());
    let lines = text.split('\n').count();
    let mut last = 0;
    for p in &parsed {
        assert!(
            p.line > last && p.line <= lines,
            "line {} of {lines}",
            p.line
        );
        last = p.line;
        let _ = to_json(p);
    }
});
