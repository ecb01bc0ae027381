//! Table tests of the gate policies (`docs/policies.md`): approvals = N, paths, blocks,
//! committers. Each case states the facts, the membership answers and what a user sees.

use super::*;

const HEAD: &str = "1111111111111111111111111111111111111111";
const BASE: &str = "2222222222222222222222222222222222222222";

fn security(policy: GatePolicy) -> GateSpec {
    GateSpec {
        name: "security".into(),
        team: TeamRef::Name("security".into()),
        waivable_by: vec![TeamRef::Name("security".into())],
        require_official: true,
        policy,
    }
}

fn review(id: i64, who: &str, kind: ReviewKind) -> ReviewFacts {
    ReviewFacts {
        id,
        reviewer: Some(who.into()),
        kind,
        official: true,
        dismissed: false,
        commit_id: HEAD.into(),
        has_body: false,
    }
}

fn approve(id: i64, who: &str) -> ReviewFacts {
    review(id, who, ReviewKind::Approved)
}

fn reject(id: i64, who: &str) -> ReviewFacts {
    review(id, who, ReviewKind::RequestChanges)
}

fn waiver(by: &str) -> WaiverFacts {
    WaiverFacts {
        id: 1,
        gate: "security".into(),
        declared_by: by.into(),
        reason: "docs only".into(),
    }
}

fn facts(reviews: Vec<ReviewFacts>) -> Facts {
    Facts {
        pr: PrFacts {
            author: Some("alice".into()),
            head_sha: HEAD.into(),
            base_sha: BASE.into(),
            merge_base: Some(BASE.into()),
            ..PrFacts::default()
        },
        reviews,
        ..Facts::default()
    }
}

/// carol, dave and erin are in security; `locked` probes 403; everyone else is not a member.
fn oracle(_team: &TeamRef, login: &str) -> Membership {
    match login.to_ascii_lowercase().as_str() {
        "carol" | "dave" | "erin" | "alice" => Membership::Member,
        "locked" => Membership::Forbidden,
        _ => Membership::NotMember,
    }
}

fn run(policy: GatePolicy, facts: &Facts) -> Verdict {
    evaluate_with(&security(policy), facts, &Options::default(), oracle)
}

fn approvals(n: u32) -> GatePolicy {
    GatePolicy {
        approvals: n,
        ..GatePolicy::default()
    }
}

#[test]
fn approvals_table() {
    let cases: Vec<(&str, u32, Vec<ReviewFacts>, GateState, &str)> = vec![
        (
            "one of two",
            2,
            vec![approve(1, "carol")],
            GateState::Failure,
            "1/2 from security (@carol)",
        ),
        (
            "two distinct members",
            2,
            vec![approve(1, "carol"), approve(2, "dave")],
            GateState::Success,
            "approved by @carol, @dave (team security)",
        ),
        (
            "the same member twice, in another case, is one",
            2,
            vec![approve(1, "carol"), approve(2, "CAROL")],
            GateState::Failure,
            "1/2 from security (@carol)",
        ),
        (
            "the author never counts",
            2,
            vec![approve(1, "carol"), approve(2, "alice")],
            GateState::Failure,
            "1/2 from security (@carol)",
        ),
        (
            "a non-member does not count",
            2,
            vec![approve(1, "bob"), approve(2, "carol")],
            GateState::Failure,
            "1/2 from security (@carol)",
        ),
        (
            "none of three",
            3,
            vec![],
            GateState::Failure,
            "0/3 from security",
        ),
        (
            "a 403 among too few approvers is an error",
            2,
            vec![approve(1, "carol"), approve(2, "locked")],
            GateState::Error,
            "cannot check team security",
        ),
        (
            "one approval is today's rule",
            1,
            vec![approve(1, "carol")],
            GateState::Success,
            "approved by @carol (team security)",
        ),
    ];
    for (name, n, reviews, state, description) in cases {
        let v = run(approvals(n), &facts(reviews));
        assert_eq!(v.state, state, "{name}: {}", v.description);
        assert!(
            v.description.starts_with(description),
            "{name}: {}",
            v.description
        );
    }
}

#[test]
fn approvals_probe_lazily_and_stop_at_n() {
    let f = facts(vec![
        approve(1, "carol"),
        approve(2, "dave"),
        approve(3, "erin"),
    ]);
    let mut asked = Vec::new();
    let v = evaluate_with(&security(approvals(2)), &f, &Options::default(), |t, l| {
        asked.push(l.to_string());
        oracle(t, l)
    });
    assert_eq!(v.state, GateState::Success);
    assert_eq!(asked, ["carol", "dave"], "erin is never asked");
}

fn paths(include: &[&str], ignore: &[&str]) -> GatePolicy {
    let own = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    GatePolicy {
        paths: PathFilter::new(&own(include), &own(ignore)).unwrap(),
        ..GatePolicy::default()
    }
}

#[test]
fn paths_table() {
    let files = |l: &[&str]| Some(Ok(l.iter().map(|s| s.to_string()).collect()));
    type Case<'a> = (
        &'a str,
        GatePolicy,
        Option<Result<Vec<String>, String>>,
        GateState,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            "a change under the path applies",
            paths(&["src/auth/**"], &[]),
            files(&["README.md", "src/auth/login.rs"]),
            GateState::Failure,
            "awaiting an approval",
        ),
        (
            "no change under the path: not applicable",
            paths(&["src/auth/**"], &[]),
            files(&["README.md", "src/authz.rs"]),
            GateState::Success,
            "not applicable: no change under src/auth/**",
        ),
        (
            "a rename out of the path still applies (the old name is listed)",
            paths(&["src/auth/**"], &[]),
            files(&["src/auth/old.rs", "src/new.rs"]),
            GateState::Failure,
            "awaiting",
        ),
        (
            "* stays within a directory",
            paths(&["src/*.rs"], &[]),
            files(&["src/auth/login.rs"]),
            GateState::Success,
            "not applicable",
        ),
        (
            "ignored files only: not applicable",
            paths(&[], &["docs/**", "*.md"]),
            files(&["docs/a.md", "README.md"]),
            GateState::Success,
            "not applicable: no change outside docs/**, *.md",
        ),
        (
            "one file not ignored applies",
            paths(&[], &["docs/**"]),
            files(&["docs/a.md", "Cargo.toml"]),
            GateState::Failure,
            "awaiting",
        ),
        (
            "ignore wins over paths",
            paths(&["src/**"], &["src/**/*_test.rs"]),
            files(&["src/auth/x_test.rs"]),
            GateState::Success,
            "not applicable",
        ),
        (
            "matching is case-sensitive",
            paths(&["src/auth/**"], &[]),
            files(&["SRC/Auth/x.rs"]),
            GateState::Success,
            "not applicable",
        ),
        (
            "a listing that failed is an error, never not applicable",
            paths(&["src/auth/**"], &[]),
            Some(Err("502".into())),
            GateState::Error,
            "cannot tell whether the gate applies",
        ),
        (
            "files not read is an error",
            paths(&["src/auth/**"], &[]),
            None,
            GateState::Error,
            "cannot tell whether the gate applies",
        ),
        (
            "no paths: files are not needed",
            GatePolicy::default(),
            None,
            GateState::Failure,
            "awaiting",
        ),
    ];
    for (name, policy, files, state, description) in cases {
        let mut f = facts(vec![]);
        f.files = files;
        let v = run(policy, &f);
        assert_eq!(v.state, state, "{name}: {}", v.description);
        assert!(
            v.description.starts_with(description),
            "{name}: {}",
            v.description
        );
        if v.state == GateState::Success {
            assert_eq!(v.skipped, Some(Skip::NoMatchingPath), "{name}");
        }
    }
}

#[test]
fn a_closed_pr_is_skipped_before_its_files_are_needed() {
    let mut f = facts(vec![]);
    f.pr.open = false;
    let v = run(paths(&["src/**"], &[]), &f);
    assert_eq!(v.skipped, Some(Skip::NotOpen));
}

#[test]
fn bad_globs_are_refused_naming_the_key() {
    let e = PathFilter::new(&["src/{auth".into()], &[]).unwrap_err();
    assert_eq!(e.key, "paths");
    assert_eq!(e.pattern, "src/{auth");
    let e = PathFilter::new(&[], &["".into()]).unwrap_err();
    assert_eq!(e.key, "paths_ignore");
}

fn blocking(overrides: bool) -> GatePolicy {
    GatePolicy {
        block_on_request_changes: true,
        waiver_overrides_block: overrides,
        ..GatePolicy::default()
    }
}

#[test]
fn block_table() {
    let mut dismissed = reject(2, "carol");
    dismissed.dismissed = true;
    type Case<'a> = (
        &'a str,
        GatePolicy,
        Vec<ReviewFacts>,
        Vec<WaiverFacts>,
        GateState,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            "a member's standing request blocks an approval",
            blocking(false),
            vec![approve(1, "dave"), reject(2, "carol")],
            vec![],
            GateState::Failure,
            "blocked by @carol",
        ),
        (
            "a later approval by the same member lifts it",
            blocking(false),
            vec![reject(1, "carol"), approve(2, "CAROL")],
            vec![],
            GateState::Success,
            "approved by @CAROL",
        ),
        (
            "a later comment does not lift it",
            blocking(false),
            vec![
                approve(1, "dave"),
                reject(2, "carol"),
                review(3, "carol", ReviewKind::Comment),
            ],
            vec![],
            GateState::Failure,
            "blocked by @carol",
        ),
        (
            "a dismissed request does not block",
            blocking(false),
            vec![approve(1, "dave"), dismissed.clone()],
            vec![],
            GateState::Success,
            "approved by @dave",
        ),
        (
            "an earlier request stands when the later one is dismissed",
            blocking(false),
            vec![approve(1, "dave"), reject(2, "carol"), {
                let mut d = reject(3, "carol");
                d.dismissed = true;
                d
            }],
            vec![],
            GateState::Failure,
            "blocked by @carol",
        ),
        (
            "a non-member's request does not block",
            blocking(false),
            vec![approve(1, "dave"), reject(2, "bob")],
            vec![],
            GateState::Success,
            "approved by @dave",
        ),
        (
            "a blocker the bot cannot check is an error",
            blocking(false),
            vec![approve(1, "dave"), reject(2, "locked")],
            vec![],
            GateState::Error,
            "cannot check team security",
        ),
        (
            "the author's own request blocks (no doubt opens a gate)",
            blocking(false),
            vec![approve(1, "dave"), reject(2, "alice")],
            vec![],
            GateState::Failure,
            "blocked by @alice",
        ),
        (
            "a waiver does not clear a block",
            blocking(false),
            vec![reject(1, "carol")],
            vec![waiver("erin")],
            GateState::Failure,
            "blocked by @carol: changes requested; @carol approves, or the review is dismissed (a waiver",
        ),
        (
            "unless waiver_overrides_block",
            blocking(true),
            vec![reject(1, "carol")],
            vec![waiver("erin")],
            GateState::Success,
            "waived by @erin",
        ),
        (
            "without the key a request never blocks",
            GatePolicy::default(),
            vec![approve(1, "dave"), reject(2, "carol")],
            vec![],
            GateState::Success,
            "approved by @dave",
        ),
    ];
    for (name, policy, reviews, waivers, state, description) in cases {
        let mut f = facts(reviews);
        f.waivers = waivers;
        let v = run(policy, &f);
        assert_eq!(v.state, state, "{name}: {}", v.description);
        assert!(
            v.description.starts_with(description),
            "{name}: {}",
            v.description
        );
    }
}

fn excluding() -> GatePolicy {
    GatePolicy {
        exclude_committers: true,
        ..GatePolicy::default()
    }
}

fn committers(logins: &[&str], unlinked: &[&str]) -> Option<Result<Committers, String>> {
    Some(Ok(Committers {
        logins: logins.iter().map(|s| s.to_string()).collect(),
        unlinked: unlinked.iter().map(|s| s.to_string()).collect(),
    }))
}

#[test]
fn exclude_committers_table() {
    type Case<'a> = (
        &'a str,
        Option<Result<Committers, String>>,
        Vec<ReviewFacts>,
        Vec<WaiverFacts>,
        GateState,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            "a committer's approval does not count, and the description says why",
            committers(&["alice", "carol"], &[]),
            vec![approve(1, "carol")],
            vec![],
            GateState::Failure,
            "awaiting an approval from a member of team security; @carol's approval does not count: @carol committed to this PR",
        ),
        (
            "in any case",
            committers(&["Carol"], &[]),
            vec![approve(1, "carol")],
            vec![],
            GateState::Failure,
            "awaiting",
        ),
        (
            "a member who did not commit counts",
            committers(&["alice", "carol"], &[]),
            vec![approve(1, "carol"), approve(2, "dave")],
            vec![],
            GateState::Success,
            "approved by @dave",
        ),
        (
            "a committer's waiver does not count",
            committers(&["alice", "erin"], &[]),
            vec![],
            vec![waiver("erin")],
            GateState::Failure,
            "@erin's waiver does not count: @erin committed to this PR; awaiting",
        ),
        (
            "a non-committer's waiver counts",
            committers(&["alice"], &[]),
            vec![],
            vec![waiver("erin")],
            GateState::Success,
            "waived by @erin",
        ),
        (
            "a commit linked to no account: no approval can count",
            committers(&["alice"], &["abc1234"]),
            vec![approve(1, "dave")],
            vec![],
            GateState::Failure,
            "cannot tell who wrote commit abc1234",
        ),
        (
            "but a waiver still opens it",
            committers(&["alice"], &["abc1234"]),
            vec![],
            vec![waiver("erin")],
            GateState::Success,
            "waived by @erin",
        ),
        (
            "commits that could not be read are an error",
            Some(Err("502".into())),
            vec![approve(1, "dave")],
            vec![],
            GateState::Error,
            "cannot tell who committed",
        ),
        (
            "commits not read are an error",
            None,
            vec![approve(1, "dave")],
            vec![],
            GateState::Error,
            "cannot tell who committed",
        ),
    ];
    for (name, committers, reviews, waivers, state, description) in cases {
        let mut f = facts(reviews);
        f.committers = committers;
        f.waivers = waivers;
        let v = run(excluding(), &f);
        assert_eq!(v.state, state, "{name}: {}", v.description);
        assert!(
            v.description.starts_with(description),
            "{name}: {}",
            v.description
        );
    }
}

#[test]
fn excluded_committers_are_reported_as_ignored() {
    let mut f = facts(vec![approve(1, "carol")]);
    f.committers = committers(&["carol"], &[]);
    let v = run(excluding(), &f);
    assert_eq!(
        v.ignored,
        vec![Ignored {
            login: "carol".into(),
            why: "committed to this PR".into()
        }]
    );
}

#[test]
fn policies_combine() {
    // Two approvals needed, one approver committed, a non-member requests changes.
    let policy = GatePolicy {
        approvals: 2,
        block_on_request_changes: true,
        exclude_committers: true,
        ..GatePolicy::default()
    };
    let mut f = facts(vec![
        approve(1, "carol"),
        approve(2, "dave"),
        approve(3, "erin"),
        reject(4, "bob"),
    ]);
    f.committers = committers(&["alice", "dave"], &[]);
    let v = run(policy.clone(), &f);
    assert_eq!(v.state, GateState::Success, "{}", v.description);
    assert_eq!(v.description, "approved by @carol, @erin (team security)");
    f.reviews.push(reject(5, "erin"));
    let v = run(policy, &f);
    assert_eq!(v.description.split(':').next(), Some("blocked by @erin"));
}
