//! How a typed word becomes a name: the one normalisation shared by command words and gate names,
//! and the edit distance behind every "did you mean".
//!
//! `Security_Review.`, `security review` and `SECURITY--review!` all become `security-review`.
//!
//! [`fold`] goes further, for deciding whether a word *looks like* a gate: full-width letters
//! and other compatibility forms (NFKC) and look-alike letters from other scripts (the UTS #39
//! confusables skeleton) become the letters they look like. A folded word is only compared,
//! never used as a name.

use strsim::osa_distance;
use unicode_normalization::UnicodeNormalization;

/// Punctuation dropped from the end of a name. The reference behaviour drops `.` and `!`; we also
/// drop `,` `;` `:` (list and separator marks that stick to a word) and `?` (`/sop-help?`).
/// (`normalises_to` spells the same set out as bytes.)
const TRAILING: &[char] = &['.', '!', ',', ';', ':', '?'];

/// Lower-cases, turns `_` and whitespace into `-`, collapses runs of `-`, and drops trailing
/// punctuation.
pub(crate) fn normalise(word: &str) -> String {
    let mut out: String = folded(word).collect();
    while out.ends_with(TRAILING) {
        out.pop();
    }
    out
}

/// Whether `normalise(word) == name`, for a `name` that is itself normalised, without
/// allocating: the folded characters must be `name` followed by trailing punctuation only.
pub(crate) fn normalises_to(word: &str, name: &str) -> bool {
    // The hot path: plain ASCII, byte by byte, which settles most candidates within a few bytes.
    let name_bytes = name.as_bytes();
    let mut matched = 0;
    let mut after_dash = false;
    for &b in word.as_bytes() {
        // `_` and the ASCII whitespace of `char::is_whitespace` fold to `-`.
        let c = match b {
            b'_' | b' ' | b'\t'..=b'\r' => b'-',
            0x80.. => return folded_normalises_to(word, name),
            b => b.to_ascii_lowercase(),
        };
        let dash = c == b'-';
        if dash && after_dash {
            continue;
        }
        after_dash = dash;
        match name_bytes.get(matched) {
            Some(&n) if n == c => matched += 1,
            Some(_) => return false,
            None if matches!(c, b'.' | b'!' | b',' | b';' | b':' | b'?') => {}
            None => return false,
        }
    }
    matched == name_bytes.len()
}

/// [`normalises_to`] for any text, through [`folded`].
fn folded_normalises_to(word: &str, name: &str) -> bool {
    let mut folded = folded(word);
    name.chars().all(|c| folded.next() == Some(c)) && folded.all(|c| TRAILING.contains(&c))
}

/// Whether `normalise(word)` starts with `prefix` (normalised, not ending in punctuation),
/// without allocating.
pub(crate) fn normalised_starts_with(word: &str, prefix: &str) -> bool {
    let mut folded = folded(word);
    prefix.chars().all(|c| folded.next() == Some(c))
}

/// Whether `normalise(word)` is longer than `max` characters, decided without allocating and
/// reading at most `max + 1` characters: every character other than `-`, `_`, whitespace and the
/// trailing punctuation survives normalisation. Long prose words (paths, URLs) are ruled out of
/// "did you mean" this way before any real work.
pub(crate) fn longer_than(word: &str, max: usize) -> bool {
    word.trim_end_matches(TRAILING)
        .chars()
        .filter(|&c| c != '-' && c != '_' && !c.is_whitespace())
        .take(max + 1)
        .count()
        > max
}

/// The characters of `normalise(word)` before trailing punctuation is dropped.
fn folded(word: &str) -> Folded<'_> {
    Folded {
        chars: word.chars(),
        lower: None,
        after_dash: false,
    }
}

/// The iterator behind [`folded`], with a fast path for ASCII (most of what is typed).
struct Folded<'a> {
    chars: std::str::Chars<'a>,
    /// The rest of a non-ASCII character's lower case (some have several characters).
    lower: Option<std::char::ToLowercase>,
    after_dash: bool,
}

impl Iterator for Folded<'_> {
    type Item = char;

    #[inline]
    fn next(&mut self) -> Option<char> {
        if let Some(c) = self.lower.as_mut().and_then(Iterator::next) {
            return Some(c);
        }
        loop {
            let c = match self.chars.next()? {
                '_' => '-',
                c if c.is_whitespace() => '-',
                c => c,
            };
            let dash = c == '-';
            if dash && self.after_dash {
                continue;
            }
            self.after_dash = dash;
            if c.is_ascii() {
                return Some(c.to_ascii_lowercase());
            }
            let mut lower = c.to_lowercase();
            let first = lower.next();
            self.lower = Some(lower);
            return first;
        }
    }
}

/// The edit distance between `typed` and `known` when it is small enough to suggest `known`:
/// 1 or 2 edits (optimal string alignment: a swapped pair is one edit), and only 1 for words
/// shorter than 4 characters, so `x` is not "nearly" `qa`. Identical words are not near misses.
pub(crate) fn near_miss(typed: &str, known: &str) -> Option<usize> {
    let (a, b) = (typed.chars().count(), known.chars().count());
    let allowed = if a >= 4 { 2 } else { 1 };
    // The distance is at least the length difference, and at least the bag distance: skip the
    // quadratic (and allocating) work when either bound already says "too far".
    if a.abs_diff(b) > allowed || bag_distance(typed, known) > allowed {
        return None;
    }
    match osa_distance(typed, known) {
        0 => None,
        d if d <= allowed => Some(d),
        _ => None,
    }
}

/// A lower bound on the edit distance of two ASCII words: the larger of the two multiset
/// differences of their letters (an edit changes each by at most one; a swap changes neither).
/// 0 (no bound) when either word is not ASCII.
fn bag_distance(a: &str, b: &str) -> usize {
    if !a.is_ascii() || !b.is_ascii() {
        return 0;
    }
    let mut balance = [0i32; 128];
    for &c in a.as_bytes() {
        balance[usize::from(c)] += 1;
    }
    for &c in b.as_bytes() {
        balance[usize::from(c)] -= 1;
    }
    // Read each letter's balance once, through the words themselves rather than all 128 slots.
    let (mut only_a, mut only_b) = (0usize, 0usize);
    for &c in a.as_bytes() {
        let n = &mut balance[usize::from(c)];
        if *n > 0 {
            only_a += n.unsigned_abs() as usize;
            *n = 0;
        }
    }
    for &c in b.as_bytes() {
        let n = &mut balance[usize::from(c)];
        if *n < 0 {
            only_b += n.unsigned_abs() as usize;
            *n = 0;
        }
    }
    only_a.max(only_b)
}

/// The nearest of `candidates` to `typed` that is a near miss, first one on a tie.
pub(crate) fn nearest<'a>(
    typed: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .filter_map(|known| near_miss(typed, known).map(|d| (d, known)))
        .min_by_key(|&(d, _)| d)
        .map(|(_, known)| known)
}

/// What `word` looks like: NFKC, then [`normalise`], then the confusables skeleton, so `ｑａ`
/// (full-width), `qа` (Cyrillic `а`) and `q\u{200b}a` (zero-width space) all fold to `qa`. At
/// most `max + 1` characters are kept: enough to tell a word too long to be a near miss.
pub(crate) fn fold(word: &str, max: usize) -> String {
    let compatible: String = word.nfkc().collect();
    unicode_security::skeleton(&normalise(&compatible))
        .take(max.saturating_add(1))
        .collect()
}

/// Whether the folded word `typed` looks like the folded gate name `known`, which is the rule
/// that keeps a mistyped gate from being read as the start of a waiver's reason:
/// - equal once folded (a look-alike or full-width spelling), or
/// - one edit away (a letter added, dropped or changed, or two neighbours swapped); two edits
///   for names of 8 characters or more;
/// - for names of 3 characters or fewer, an edit must keep the first letter or be a swap, so
///   `q`, `qs` and `aq` look like `qa` while the word `a` does not.
pub(crate) fn looks_like(typed: &str, known: &str) -> bool {
    let (a, b) = (typed.chars().count(), known.chars().count());
    let allowed = match b {
        0 => return false,
        1 => 0,
        2..=7 => 1,
        _ => 2,
    };
    if a.abs_diff(b) > allowed {
        return false;
    }
    match osa_distance(typed, known) {
        0 => true,
        d if d > allowed => false,
        _ if b > 3 => true,
        _ => typed.chars().next() == known.chars().next() || is_swap(typed, known),
    }
}

/// Whether `a` is `b` with its letters in another order (after a one-edit distance: a swap).
fn is_swap(a: &str, b: &str) -> bool {
    let sorted = |s: &str| {
        let mut chars: Vec<char> = s.chars().collect();
        chars.sort_unstable();
        chars
    };
    sorted(a) == sorted(b)
}

/// At most `max` characters of `raw`, with `…` when cut: words quoted back in error messages.
pub(crate) fn clip(raw: &str, max: usize) -> String {
    match raw.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &raw[..cut]),
        None => raw.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_folds_case_underscores_spaces_dashes_and_trailing_punctuation() {
        let cases = [
            ("Security_Review.", "security-review"),
            ("security review", "security-review"),
            ("SECURITY--review!", "security-review"),
            ("qa  _ review", "qa-review"),
            ("QA:", "qa"),
            ("sop-help?", "sop-help"),
            ("SOP_N/A", "sop-n/a"),
            ("Refire!.,;", "refire"),
            ("ÄRGER", "ärger"),
            ("", ""),
            ("...", ""),
        ];
        for (typed, want) in cases {
            assert_eq!(normalise(typed), want, "normalise({typed:?})");
        }
    }

    #[test]
    fn normalises_to_agrees_with_normalise() {
        let words = [
            "qa\u{b}review",
            "qa\u{c}review;",
            "qa\rreview?",
            "qa\u{85}review",
            "QA\u{a0}review",
            "Security_Review.",
            "security  review",
            "qa-.",
            "qa-",
            "QA!!",
            "",
            "..",
            "-qa",
            "sop-n/a:",
            "SOP_N/A",
            "ÄRGER",
            "qa review x",
            "q",
            "qaa",
        ];
        let names = [
            "security-review",
            "qa",
            "qa-",
            "",
            "sop-n/a",
            "ärger",
            "qa-review-x",
            "qa-review",
        ];
        for word in words {
            for name in names {
                assert_eq!(
                    normalises_to(word, name),
                    normalise(word) == name,
                    "{word:?} vs {name:?}"
                );
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn fast_checks_agree_with_normalise(
            word in "[a-cA-C_ .!:?\t\u{b}\u{85}\u{a0}ÄİK-]{0,8}",
            name in "[a-c-]{0,4}",
            max in 0usize..8,
        ) {
            let normalised = normalise(&word);
            proptest::prop_assert_eq!(normalises_to(&word, &name), normalised == name);
            if !name.ends_with('-') {
                proptest::prop_assert_eq!(
                    normalised_starts_with(&word, &name),
                    normalised.starts_with(&name)
                );
            }
            if longer_than(&word, max) {
                proptest::prop_assert!(normalised.chars().count() > max);
            }
        }
    }

    #[test]
    fn prefix_and_length_checks_agree_with_normalise() {
        let words = [
            "SOP-na",
            "sop",
            "sop.",
            "sop-",
            "Sop_x",
            "so",
            "sopx",
            "refier!!!!!!!!!!!!!!",
            "a-b-c-d",
            "usr/local/lib/python3.12",
            "x _ y",
            "ÄÄÄ",
        ];
        for word in words {
            let normalised = normalise(word);
            assert_eq!(
                normalised_starts_with(word, "sop-"),
                normalised.starts_with("sop-"),
                "{word:?}"
            );
            for max in 0..12 {
                if longer_than(word, max) {
                    assert!(normalised.chars().count() > max, "{word:?} {max}");
                }
            }
        }
        assert!(!longer_than("refier!!!!!!!!!!!!!!", 12));
        assert!(longer_than("usr/local/lib/python3.12", 12));
    }

    #[test]
    fn near_miss_allows_two_edits_on_long_words_and_one_on_short() {
        assert_eq!(near_miss("secuirty", "security"), Some(1));
        assert_eq!(near_miss("refier", "refire"), Some(1));
        assert_eq!(near_miss("sop-na", "sop-n/a"), Some(1));
        assert_eq!(near_miss("sop-ack", "sop-help"), None);
        assert_eq!(near_miss("qs", "qa"), Some(1));
        assert_eq!(near_miss("x", "qa"), None);
        assert_eq!(near_miss("security", "security"), None);
        assert_eq!(near_miss(&"a".repeat(10_000), "refire"), None);
    }

    proptest::proptest! {
        #[test]
        fn bag_distance_never_exceeds_the_edit_distance(a in "[a-d/-]{0,10}", b in "[a-d/-]{0,10}") {
            proptest::prop_assert!(bag_distance(&a, &b) <= osa_distance(&a, &b));
        }
    }

    #[test]
    fn nearest_prefers_the_smallest_distance() {
        assert_eq!(
            nearest("securty", ["security-review", "security"]),
            Some("security")
        );
        assert_eq!(nearest("zzzz", ["qa", "security"]), None);
    }

    #[test]
    fn fold_undoes_full_width_look_alike_and_invisible_characters() {
        for typed in ["ｑａ", "qа", "QА", "q\u{200b}a", "Ｑａ!", "q_a"] {
            let want = if typed == "q_a" { "q-a" } else { "qa" };
            assert_eq!(fold(typed, 10), want, "{typed:?}");
        }
        assert_eq!(fold("ѕесurity", 20), fold("security", 20));
        assert_eq!(fold(&"x".repeat(1000), 5).chars().count(), 6);
    }

    #[test]
    fn looks_like_is_strict_for_short_names_and_scaled_for_long_ones() {
        // qa: the same letters, one edit keeping the first letter, or a swap.
        for typed in ["qa", "q", "qs", "aq", "qaa", "qua", "q/a"] {
            assert!(looks_like(typed, "qa"), "{typed:?}");
        }
        // Ordinary reason words stay reason words.
        for typed in [
            "a", "ha", "as", "n/a", "no", "docs", "typo", "qaqa", "security", "i",
        ] {
            assert!(!looks_like(typed, "qa"), "{typed:?}");
        }
        // security: up to two edits, any letter.
        for typed in ["secuirty", "securty", "ecurity", "securely", "sceurity"] {
            assert!(looks_like(typed, "security"), "{typed:?}");
        }
        for typed in ["secure", "securities", "docs", "a"] {
            assert!(!looks_like(typed, "security"), "{typed:?}");
        }
        // 4 to 7 characters: one edit.
        assert!(looks_like("dosc", "docs"));
        assert!(looks_like("doc", "docs"));
        assert!(!looks_like("dogs-only", "docs"));
        assert!(!looks_like("do", "docs"));
        // A one-letter name: only a look-alike of itself.
        assert!(looks_like("x", "x"));
        assert!(!looks_like("y", "x"));
        assert!(!looks_like("x", ""));
    }

    #[test]
    fn clip_cuts_long_words_at_a_char_boundary() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("ééééé", 3), "ééé…");
    }
}
