//! Gitea's glob patterns, through `globset`: a branch rule's required status contexts and
//! protection rule names (`docs/gitea-api.md`).
//!
//! Gitea 1.25 compiles both with its own `modules/glob` (a port of gobwas/glob to a regexp;
//! 1.22–1.24 used gobwas/glob itself, same syntax): `*` any run, `?` one character, `**` any
//! run even across separators, `[abc]` / `[!abc]` / `[a-z]` classes, `{a,b}` alternatives
//! (nestable, may be empty), `\` escapes; everything else literal, case-sensitive. Contexts are
//! compiled with no separator (`services/pull/commit_status.go`
//! `MergeRequiredContextsCommitStatus`: `glob.Compile(ctx)`), so `*` crosses `/`; rule names
//! with `/` (`models/git/protected_branch.go`: `glob.Compile(RuleName, '/')`).
//!
//! Where `globset` differs (none of it matters for a context such as `qa-review / approved`):
//! - with `/` as separator, `**` spans separators only as a whole path component (`a/**`,
//!   `**/b`); Gitea's `a**b` matches `a/x/b`, ours does not;
//! - Gitea silently closes an unclosed `{` (`{a,b` means `a` or `b`); `globset` refuses it, so
//!   such a pattern is reported as unreadable rather than guessed at.

use globset::{GlobBuilder, GlobMatcher};

/// Compiles `pattern` as Gitea does; `slash_separates` for rule names, not for contexts.
pub fn gitea_glob(pattern: &str, slash_separates: bool) -> Result<GlobMatcher, globset::Error> {
    Ok(GlobBuilder::new(pattern)
        .literal_separator(slash_separates)
        .backslash_escape(true)
        .empty_alternates(true)
        .case_insensitive(false)
        .build()?
        .compile_matcher())
}

/// A branch rule's `status_check_contexts`, compiled once.
///
/// Gitea logs and drops a pattern that does not compile (the API stores it unchecked; only the
/// web form validates), so it requires nothing; when no pattern compiles, the merge check stays
/// `pending` for ever (`MergeRequiredContextsCommitStatus` @ v1.25.4).
pub struct RequiredContexts {
    matchers: Vec<GlobMatcher>,
    /// The patterns that compile, as written (one per matcher).
    compiled: Vec<String>,
    /// The patterns that do not compile, as written in the rule.
    pub invalid: Vec<String>,
}

impl RequiredContexts {
    /// Compiles every pattern of the rule, keeping the ones that fail for reporting.
    pub fn new(patterns: &[String]) -> Self {
        let mut matchers = Vec::new();
        let mut compiled = Vec::new();
        let mut invalid = Vec::new();
        for p in patterns {
            match gitea_glob(p, false) {
                Ok(m) => {
                    matchers.push(m);
                    compiled.push(p.clone());
                }
                Err(_) => invalid.push(p.clone()),
            }
        }
        Self {
            matchers,
            compiled,
            invalid,
        }
    }

    /// Whether the rule requires a status with exactly this context: it names it. A wildcard
    /// pattern that matches the context does not: Gitea is satisfied by *any* status matching
    /// the pattern (1.24+: any successful match; 1.22/1.23: the newest match), so a CI job's
    /// success, or another gate's, would open it (`MergeRequiredContextsCommitStatus`,
    /// `services/pull/commit_status.go` @ v1.23.8 and v1.25.4).
    pub fn requires(&self, context: &str) -> bool {
        self.compiled.iter().any(|p| p == context)
    }

    /// Whether some valid pattern matches `context` as Gitea's glob does.
    pub fn matches(&self, context: &str) -> bool {
        self.matchers.iter().any(|m| m.is_match(context))
    }

    /// A valid wildcard pattern of the rule that matches `context` without naming it.
    pub fn wildcard_for(&self, context: &str) -> Option<&str> {
        self.matchers
            .iter()
            .zip(&self.compiled)
            .find(|(m, p)| m.is_match(context) && p.as_str() != context)
            .map(|(_, p)| p.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One row: pattern, text, whether Gitea 1.25 matches, where the row comes from.
    type Row = (&'static str, &'static str, bool, &'static str);

    /// Required contexts: `glob.Compile(ctx)` with no separator
    /// (`services/pull/commit_status.go` @ v1.25.4); rows from `modules/glob/glob_test.go`
    /// (`TestGlob`, no delimiters) unless noted.
    const CONTEXT_ROWS: &[Row] = &[
        (
            "qa-review / approved",
            "qa-review / approved",
            true,
            "a literal context matches itself",
        ),
        (
            "qa-review / approved",
            "qa-review / approved2",
            false,
            "the whole context must match",
        ),
        (
            "QA-review / approved",
            "qa-review / approved",
            false,
            "case-sensitive regexp",
        ),
        (
            "*-review / *",
            "qa-review / approved",
            true,
            "* spans spaces",
        ),
        ("*", "qa-review / approved", true, "no separator: * spans /"),
        (
            "qa*",
            "qa-review / approved",
            true,
            "no separator: * spans /",
        ),
        (
            "qa-review?/ approved",
            "qa-review / approved",
            true,
            "? is any one character",
        ),
        (
            "qa-review ? approved",
            "qa-review / approved",
            true,
            "no separator: ? matches /",
        ),
        (
            "security*",
            "qa-review / approved",
            false,
            "a prefix must match",
        ),
        ("**", "a/b/c", true, "** is any run"),
        (
            "{qa,security}-review / approved",
            "security-review / approved",
            true,
            "alternatives",
        ),
        (
            "{qa,sec{urity,}}-review / *",
            "sec-review / approved",
            true,
            "nested, empty alternative",
        ),
        (
            "[qs]*-review / approved",
            "security-review / approved",
            true,
            "character class",
        ),
        (
            "[!q]*-review / approved",
            "qa-review / approved",
            false,
            "negated class",
        ),
        (
            "[a-z][a-z]-review / approved",
            "qa-review / approved",
            true,
            "class range",
        ),
        (
            "sop-checklist / na-declarations (pull_request)",
            "sop-checklist / na-declarations (pull_request)",
            true,
            "( ) . + ^ $ | are escaped: literal",
        ),
        ("ci.build", "ci-build", false, ". is literal"),
        ("a,b", "a,b", true, ", outside braces is literal"),
        ("\\*", "*", true, "\\ escapes"),
        ("\\*", "x", false, "\\ escapes"),
        (
            "* ?at * eyes",
            "my cat has very bright eyes",
            true,
            "TestGlob",
        ),
        ("?at", "at", false, "TestGlob"),
        ("*is", "this is a test", false, "TestGlob"),
        ("{abc,abcd}a", "abcda", true, "TestGlob"),
        (
            "*//{,*.}example.com",
            "https://www.example.com",
            true,
            "TestGlob",
        ),
        (
            "*//{,*.}example.com",
            "http://example.com.net",
            false,
            "TestGlob",
        ),
        ("", "", true, "TestGlob"),
        ("", "b", false, "TestGlob"),
    ];

    #[test]
    fn required_contexts_match_as_gitea_1_25() {
        for &(pattern, text, gitea, why) in CONTEXT_ROWS {
            let rule = RequiredContexts::new(&[pattern.to_string()]);
            assert!(
                rule.invalid.is_empty(),
                "{pattern:?} should compile ({why})"
            );
            assert_eq!(rule.matches(text), gitea, "{pattern:?} vs {text:?}: {why}");
            assert_eq!(
                rule.requires(text),
                pattern == text,
                "{pattern:?} names {text:?}"
            );
        }
    }

    /// Rule names: `glob.Compile(RuleName, '/')` (`models/git/protected_branch.go` @ v1.25.4);
    /// rows from `TestGlob` with a delimiter, and `TestBranchRuleMatch`
    /// (`models/git/protected_branch_test.go`).
    const RULE_ROWS: &[Row] = &[
        ("release/*", "release/v1.17", true, "TestBranchRuleMatch"),
        ("release/*", "release/v1.17/sub", false, "* stops at /"),
        ("release/**", "release/v1.17/sub", true, "** crosses /"),
        ("release/?", "release/1", true, "? one non-separator"),
        ("release?1", "release/1", false, "? does not match /"),
        (
            "release/**/v1.17",
            "release/test/v1.17",
            true,
            "TestBranchRuleMatch",
        ),
        (
            "release/**/v1.17",
            "release/test/1/v1.17",
            true,
            "TestBranchRuleMatch",
        ),
        (
            "release/*/v1.17",
            "release/test/1/v1.17",
            false,
            "TestBranchRuleMatch",
        ),
        ("release/v*", "release/v1.16", true, "TestBranchRuleMatch"),
        ("*", "release/v1.16", false, "TestBranchRuleMatch"),
        ("**", "release/v1.16", true, "TestBranchRuleMatch"),
        ("main", "main", true, "TestBranchRuleMatch"),
        ("master", "main", false, "TestBranchRuleMatch"),
        ("*", "main", true, "a lone * matches a plain name"),
        ("ma*", "main", true, "prefix"),
        ("dev*", "main", false, "prefix"),
    ];

    #[test]
    fn rule_names_match_with_slash_as_separator() {
        for &(pattern, text, gitea, why) in RULE_ROWS {
            let m = gitea_glob(pattern, true).unwrap();
            assert_eq!(m.is_match(text), gitea, "{pattern:?} vs {text:?}: {why}");
        }
    }

    /// Patterns Gitea cannot compile (unterminated class, trailing escape: `modules/glob/glob.go`
    /// `compileChars`, `compile`) are dropped by the merge check, so they require nothing.
    #[test]
    fn uncompilable_patterns_require_nothing_and_are_named() {
        let rule = RequiredContexts::new(&[
            "qa-review / [approved".to_string(),
            "trailing\\".to_string(),
            "security-review / approved".to_string(),
        ]);
        assert_eq!(rule.invalid, ["qa-review / [approved", "trailing\\"]);
        assert!(!rule.requires("qa-review / [approved"));
        assert!(rule.requires("security-review / approved"));
    }

    /// The two documented differences, pinned so a `globset` upgrade that changes them shows.
    #[test]
    fn differences_from_gitea_are_as_documented() {
        // Gitea: `a**b` with '/' is `^a.*b$`, which matches `a/x/b`.
        assert!(!gitea_glob("a**b", true).unwrap().is_match("a/x/b"));
        // Gitea: `{a,b` compiles to `^a|b$`; globset refuses it.
        assert_eq!(
            RequiredContexts::new(&["{a,b".to_string()]).invalid,
            ["{a,b"]
        );
    }
}
