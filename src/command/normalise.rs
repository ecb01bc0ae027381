//! How a typed word becomes a name: the one normalisation shared by command words and gate names,
//! and the edit distance behind every "did you mean".
//!
//! `Security_Review.`, `security review` and `SECURITY--review!` all become `security-review`.

use strsim::osa_distance;

/// Punctuation dropped from the end of a name. The reference behaviour drops `.` and `!`; we also
/// drop `,` `;` `:` (list and separator marks that stick to a word) and `?` (`/sop-help?`).
const TRAILING: &[char] = &['.', '!', ',', ';', ':', '?'];

/// Lower-cases, turns `_` and whitespace into `-`, collapses runs of `-`, and drops trailing
/// punctuation.
pub(crate) fn normalise(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.chars() {
        let c = if c == '_' || c.is_whitespace() {
            '-'
        } else {
            c
        };
        if c == '-' && out.ends_with('-') {
            continue;
        }
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
    }
    while out.ends_with(TRAILING) {
        out.pop();
    }
    out
}

/// The edit distance between `typed` and `known` when it is small enough to suggest `known`:
/// 1 or 2 edits (optimal string alignment: a swapped pair is one edit), and only 1 for words
/// shorter than 4 characters, so `x` is not "nearly" `qa`. Identical words are not near misses.
pub(crate) fn near_miss(typed: &str, known: &str) -> Option<usize> {
    let (a, b) = (typed.chars().count(), known.chars().count());
    let allowed = if a >= 4 { 2 } else { 1 };
    // The distance is at least the length difference: skip the quadratic work on long words.
    if a.abs_diff(b) > allowed {
        return None;
    }
    match osa_distance(typed, known) {
        0 => None,
        d if d <= allowed => Some(d),
        _ => None,
    }
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

    #[test]
    fn nearest_prefers_the_smallest_distance() {
        assert_eq!(
            nearest("securty", ["security-review", "security"]),
            Some("security")
        );
        assert_eq!(nearest("zzzz", ["qa", "security"]), None);
    }

    #[test]
    fn clip_cuts_long_words_at_a_char_boundary() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("ééééé", 3), "ééé…");
    }
}
