//! Table-driven tests of the tier check and waiver authorisation.

use super::*;

const HEAD: &str = "1111111111111111111111111111111111111111";
const BASE: &str = "2222222222222222222222222222222222222222";

fn qa() -> GateSpec {
    GateSpec {
        name: "qa".into(),
        team: TeamRef::Name("qa".into()),
        waivable_by: vec![TeamRef::Name("qa".into()), TeamRef::Name("managers".into())],
        require_official: true,
        policy: GatePolicy::default(),
    }
}

fn pr() -> PrFacts {
    PrFacts {
        author: Some("alice".into()),
        open: true,
        head_sha: HEAD.into(),
        base_sha: BASE.into(),
        merge_base: Some(BASE.into()),
        base_branch: "main".into(),
        base_protected: true,
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

/// bob and erin are in qa; the bot cannot read "secret" members (`mallory` probes 403);
/// `flaky` errors.
fn oracle(_team: &TeamRef, login: &str) -> Membership {
    match login {
        "bob" | "erin" | "alice" => Membership::Member,
        "forbidden1" | "forbidden2" => Membership::Forbidden,
        "flaky" => Membership::Error("GET /teams/20/members/flaky answered 502".into()),
        _ => Membership::NotMember,
    }
}

fn check(facts: &Facts, opts: &Options) -> Verdict {
    evaluate_with(&qa(), facts, opts, oracle)
}

fn facts(reviews: Vec<ReviewFacts>) -> Facts {
    Facts {
        pr: pr(),
        reviews,
        ..Facts::default()
    }
}

#[test]
fn gate_rules_table() {
    let strict = Options {
        strict_head_sha: true,
        ..Options::default()
    };
    let lax = Options::default();
    let mut stale = approve(1, "bob");
    stale.commit_id = BASE.into();
    let mut dismissed = approve(1, "bob");
    dismissed.dismissed = true;
    let mut unofficial = approve(1, "bob");
    unofficial.official = false;
    let mut ghost = approve(1, "bob");
    ghost.reviewer = None;

    type Case<'a> = (
        &'a str,
        Vec<ReviewFacts>,
        &'a Options,
        GateState,
        Option<&'a str>,
    );
    let cases: Vec<Case> = vec![
        (
            "member approval passes",
            vec![approve(1, "bob")],
            &lax,
            GateState::Success,
            Some("bob"),
        ),
        ("no review fails", vec![], &lax, GateState::Failure, None),
        (
            "author self-approval fails",
            vec![approve(1, "alice")],
            &lax,
            GateState::Failure,
            None,
        ),
        (
            "non-member approval fails",
            vec![approve(1, "dave")],
            &lax,
            GateState::Failure,
            None,
        ),
        (
            "dismissed approval fails",
            vec![dismissed],
            &lax,
            GateState::Failure,
            None,
        ),
        (
            "non-official approval fails",
            vec![unofficial],
            &lax,
            GateState::Failure,
            None,
        ),
        (
            "deleted user's approval fails",
            vec![ghost],
            &lax,
            GateState::Failure,
            None,
        ),
        (
            "stale approval counts when lax",
            vec![stale.clone()],
            &lax,
            GateState::Success,
            Some("bob"),
        ),
        (
            "stale approval fails when strict",
            vec![stale],
            &strict,
            GateState::Failure,
            None,
        ),
        (
            "request changes is not approval",
            vec![review(1, "bob", ReviewKind::RequestChanges)],
            &lax,
            GateState::Failure,
            None,
        ),
        (
            "comment review is not approval",
            vec![review(1, "bob", ReviewKind::Comment)],
            &lax,
            GateState::Failure,
            None,
        ),
        (
            "pending review is not approval",
            vec![review(1, "bob", ReviewKind::Pending)],
            &lax,
            GateState::Failure,
            None,
        ),
        (
            "unknown state is not approval",
            vec![review(1, "bob", ReviewKind::Unknown)],
            &lax,
            GateState::Failure,
            None,
        ),
        (
            "403 then member passes",
            vec![approve(1, "forbidden1"), approve(2, "bob")],
            &lax,
            GateState::Success,
            Some("bob"),
        ),
        (
            "all 403 is error",
            vec![approve(1, "forbidden1"), approve(2, "forbidden2")],
            &lax,
            GateState::Error,
            None,
        ),
        (
            "403 and non-member is error",
            vec![approve(1, "forbidden1"), approve(2, "dave")],
            &lax,
            GateState::Error,
            None,
        ),
        (
            "gitea error is error",
            vec![approve(1, "flaky")],
            &lax,
            GateState::Error,
            None,
        ),
        (
            "gitea error then member passes",
            vec![approve(1, "flaky"), approve(2, "erin")],
            &lax,
            GateState::Success,
            Some("erin"),
        ),
        (
            "non-member then member passes",
            vec![approve(1, "dave"), approve(2, "erin")],
            &lax,
            GateState::Success,
            Some("erin"),
        ),
    ];
    for (name, reviews, opts, state, by) in cases {
        let v = check(&facts(reviews), opts);
        assert_eq!(v.state, state, "{name}: {v:?}");
        assert_eq!(v.approved_by.as_deref(), by, "{name}");
        assert!(v.description.chars().count() <= MAX_DESCRIPTION, "{name}");
    }
}

#[test]
fn skip_rules_pass_without_probing() {
    let mut closed = facts(vec![]);
    closed.pr.open = false;
    let mut empty = facts(vec![]);
    empty.pr.head_sha = BASE.into();
    let mut merged_in = facts(vec![]);
    merged_in.pr.merge_base = Some(HEAD.into());
    let mut unprotected = facts(vec![]);
    unprotected.pr.base_protected = false;
    unprotected.pr.base_branch = "dev".into();
    for (f, skip) in [
        (closed, Skip::NotOpen),
        (empty, Skip::EmptyDiff),
        (merged_in, Skip::EmptyDiff),
        (unprotected, Skip::BaseNotProtected),
    ] {
        let v = evaluate_with(&qa(), &f, &Options::default(), |_, _| {
            panic!("a skipped gate must not probe")
        });
        assert_eq!(v.state, GateState::Success);
        assert_eq!(v.skipped, Some(skip));
        assert!(
            v.description.starts_with("not applicable"),
            "{}",
            v.description
        );
    }
}

#[test]
fn waiver_passes_the_gate_without_probing() {
    let mut f = facts(vec![]);
    f.waivers.push(WaiverFacts {
        id: 3,
        gate: "qa".into(),
        declared_by: "carol".into(),
        reason: "docs only\nchange".into(),
    });
    let v = evaluate_with(&qa(), &f, &Options::default(), |_, _| panic!("no probe"));
    assert_eq!(v.state, GateState::Success);
    assert_eq!(v.description, "waived by @carol: docs only change");
    assert_eq!(v.waiver.as_ref().map(|w| w.id), Some(3));
}

#[test]
fn waiver_of_another_gate_does_not_count() {
    let mut f = facts(vec![]);
    f.waivers.push(WaiverFacts {
        id: 3,
        gate: "security".into(),
        declared_by: "carol".into(),
        reason: "n/a".into(),
    });
    assert_eq!(check(&f, &Options::default()).state, GateState::Failure);
}

#[test]
fn probes_stop_at_the_first_member() {
    let f = facts(vec![
        approve(1, "dave"),
        approve(2, "bob"),
        approve(3, "erin"),
    ]);
    let mut asked = Vec::new();
    let v = evaluate_with(&qa(), &f, &Options::default(), |t, l| {
        asked.push(l.to_string());
        oracle(t, l)
    });
    assert_eq!(asked, ["dave", "bob"]);
    assert_eq!(v.approved_by.as_deref(), Some("bob"));
    let logins: Vec<_> = v.candidates.iter().map(|c| c.login.as_str()).collect();
    assert_eq!(logins, ["dave", "bob"]);
}

#[test]
fn one_reviewer_is_probed_once() {
    let f = facts(vec![approve(1, "dave"), approve(2, "dave")]);
    let mut asked = 0;
    evaluate_with(&qa(), &f, &Options::default(), |t, l| {
        asked += 1;
        oracle(t, l)
    });
    assert_eq!(asked, 1);
}

#[test]
fn many_approvers_are_probed_once_each_in_review_order() {
    // Past the scan threshold the logins are deduplicated by sorting: the order must stay the
    // order of first approval, and the step-by-step evaluation must agree with the oracle's.
    let mut reviews: Vec<ReviewFacts> = (0..40)
        .map(|i| approve(i, &format!("dev{:02}", (i * 7) % 25)))
        .collect();
    reviews.push(approve(40, "bob"));
    let f = facts(reviews);
    let mut asked = Vec::new();
    let v = evaluate_with(&qa(), &f, &Options::default(), |t, l| {
        asked.push(l.to_string());
        oracle(t, l)
    });
    let mut expected: Vec<String> = Vec::new();
    for i in 0..40 {
        let login = format!("dev{:02}", (i * 7) % 25);
        if !expected.contains(&login) {
            expected.push(login);
        }
    }
    expected.push("bob".into());
    assert_eq!(asked, expected);
    assert_eq!(v.approved_by.as_deref(), Some("bob"));

    let mut answers = Answers::new();
    let stepped = loop {
        match evaluate(&qa(), &f, &Options::default(), &answers) {
            Step::Done(v) => break v,
            Step::Probe { team, login } => {
                let m = oracle(&team, &login);
                answers.insert((team, login), m);
            }
        }
    };
    assert_eq!(stepped, v);
}

#[test]
fn all_forbidden_names_the_team_and_the_fix() {
    let v = check(&facts(vec![approve(1, "forbidden1")]), &Options::default());
    assert_eq!(v.state, GateState::Error);
    assert!(v.description.contains("team qa"), "{}", v.description);
    assert!(v.description.contains("add the bot"), "{}", v.description);
    assert_eq!(v.candidates[0].membership, Membership::Forbidden);
}

#[test]
fn failure_says_who_is_not_a_member() {
    let v = check(&facts(vec![approve(1, "dave")]), &Options::default());
    assert_eq!(
        v.description,
        "awaiting an approval from a member of team qa (@dave is not in it)"
    );
    let v = check(&facts(vec![approve(1, "alice")]), &Options::default());
    assert_eq!(v.ignored[0].why, "is the PR author");
}

#[test]
fn misfiled_pending_review_is_reported_and_still_fails() {
    let mut f = facts(vec![review(1, "bob", ReviewKind::Pending)]);
    f.misfiled.push("bob".into());
    let v = check(&f, &Options::default());
    assert_eq!(v.state, GateState::Failure);
    assert!(
        v.description.contains("@bob's review is PENDING"),
        "{}",
        v.description
    );
    assert_eq!(v.misfiled, ["bob"]);
}

#[test]
fn comment_approvals_are_off_by_default() {
    let mut f = facts(vec![]);
    f.comments.push(CommentFacts {
        id: 1,
        author: Some("bob".into()),
        body: "LGTM".into(),
    });
    assert_eq!(check(&f, &Options::default()).state, GateState::Failure);
    let on = Options {
        comment_approvals: true,
        comment_approval_prefixes: vec!["[core-qa-agent]".into()],
        comment_approval_words: vec!["LGTM".into(), "APPROVED".into()],
        ..Options::default()
    };
    assert_eq!(check(&f, &on).state, GateState::Success);
    // Still subject to membership and the author rule, and "not APPROVED" is not approval.
    for (who, body, state) in [
        ("dave", "LGTM", GateState::Failure),
        ("alice", "LGTM!", GateState::Failure),
        ("bob", "This is not APPROVED", GateState::Failure),
        (
            "erin",
            "[core-qa-agent] N/A: no test surface",
            GateState::Success,
        ),
        ("erin", "lgtm.", GateState::Success),
    ] {
        let mut f = facts(vec![]);
        f.comments.push(CommentFacts {
            id: 1,
            author: Some(who.into()),
            body: body.into(),
        });
        assert_eq!(check(&f, &on).state, state, "{who}: {body}");
    }
}

#[test]
fn long_waiver_reason_is_clipped() {
    let mut f = facts(vec![]);
    f.waivers.push(WaiverFacts {
        id: 1,
        gate: "qa".into(),
        declared_by: "carol".into(),
        reason: "é".repeat(400),
    });
    let v = check(&f, &Options::default());
    assert_eq!(v.description.chars().count(), MAX_DESCRIPTION);
    assert!(v.description.ends_with('…'));
}

/// The status shows the reason as one line of plain text without controls; the reply's
/// Markdown has it as a code span and the declarer as a mention.
#[test]
fn a_hostile_reason_is_one_plain_line_in_the_status_and_code_in_the_reply() {
    let mut f = facts(vec![]);
    f.waivers.push(WaiverFacts {
        id: 1,
        gate: "qa".into(),
        declared_by: "carol".into(),
        reason: "<img src=x>\n| a |\u{1b}[2J \u{202e}evil\0 `x`".into(),
    });
    let v = check(&f, &Options::default());
    assert_eq!(
        v.description,
        "waived by @carol: <img src=x> | a |\\u{1b}[2J \\u{202e}evil\\u{0} `x`"
    );
    assert_eq!(
        v.why,
        "waived by @carol: `` <img src=x> \\| a \\|\\u{1b}[2J \\u{202e}evil\\u{0} `x` ``"
    );
}

#[test]
fn a_foreign_base_branch_is_quoted_in_the_reply_and_a_team_id_is_no_issue_link() {
    let mut f = facts(vec![]);
    f.pr.base_protected = false;
    f.pr.base_branch = "@carol/#1".into();
    let v = check(&f, &Options::default());
    assert_eq!(
        v.description,
        "not applicable: base branch @carol/#1 is not protected"
    );
    assert_eq!(
        v.why,
        "not applicable: base branch `@carol/#1` is not protected"
    );
    let mut gate = qa();
    gate.team = TeamRef::Id(20);
    let v = evaluate_with(&gate, &facts(vec![]), &Options::default(), oracle);
    assert_eq!(
        v.description,
        "awaiting an approval from a member of team #20"
    );
    assert_eq!(v.why, "awaiting an approval from a member of team `#20`");
}

fn authorise(
    gate: &GateSpec,
    who: &str,
    oracle: impl Fn(&TeamRef, &str) -> Membership,
) -> Authorisation {
    let mut answers = Answers::new();
    loop {
        match authorise_waiver(gate, who, Some("alice"), &answers) {
            AuthStep::Done(a) => return a,
            AuthStep::Probe { team, login } => {
                let m = oracle(&team, &login);
                answers.insert((team, login), m);
            }
        }
    }
}

fn by_team(
    table: &'static [(&'static str, &'static str, Membership)],
) -> impl Fn(&TeamRef, &str) -> Membership {
    move |team, login| {
        table
            .iter()
            .find(|(t, l, _)| team == &TeamRef::Name((*t).into()) && *l == login)
            .map(|(_, _, m)| m.clone())
            .unwrap_or(Membership::NotMember)
    }
}

#[test]
fn waiver_authorisation_table() {
    static TABLE: &[(&str, &str, Membership)] = &[
        ("qa", "bob", Membership::Member),
        ("managers", "mia", Membership::Member),
        ("qa", "alice", Membership::Member),
        ("qa", "zed", Membership::Forbidden),
        ("managers", "zed", Membership::Forbidden),
        ("qa", "yan", Membership::Forbidden),
        ("qa", "xi", Membership::NotMember),
        ("managers", "xi", Membership::Error(String::new())),
    ];
    let g = qa();
    let o = by_team(TABLE);
    assert!(matches!(authorise(&g, "bob", &o), Authorisation::Allowed { via } if via == "qa"));
    assert!(
        matches!(authorise(&g, "mia", &o), Authorisation::Allowed { via } if via == "managers")
    );
    // The author is refused even as a team member, without a probe.
    match authorise_waiver(&g, "alice", Some("alice"), &Answers::new()) {
        AuthStep::Done(Authorisation::Refused { reason }) => assert!(reason.contains("author")),
        other => panic!("{other:?}"),
    }
    match authorise(&g, "dave", &o) {
        Authorisation::Refused { reason } => {
            assert!(reason.contains("`qa` or `managers`"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    match authorise(&g, "zed", &o) {
        Authorisation::Unknown { reason } => {
            assert!(
                reason.contains("`qa`") && reason.contains("`managers`") && reason.contains("403"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
    // One unreadable team is doubt, not a refusal: the team is named.
    match authorise(&g, "yan", &o) {
        Authorisation::Unknown { reason } => assert!(reason.contains("`qa`"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        authorise(&g, "xi", &o),
        Authorisation::Unknown { .. }
    ));
}

#[test]
fn revoke_by_declarer_or_waiving_member() {
    let g = qa();
    let answers = Answers::new();
    assert_eq!(
        authorise_revoke(&g, "carol", "carol", &answers),
        AuthStep::Done(Authorisation::Allowed {
            via: "declarer".into()
        })
    );
    assert!(matches!(
        authorise_revoke(&g, "carol", "bob", &answers),
        AuthStep::Probe { .. }
    ));
    let mut answers = Answers::new();
    answers.insert(
        (TeamRef::Name("qa".into()), "dave".into()),
        Membership::NotMember,
    );
    answers.insert(
        (TeamRef::Name("managers".into()), "dave".into()),
        Membership::NotMember,
    );
    assert!(matches!(
        authorise_revoke(&g, "carol", "dave", &answers),
        AuthStep::Done(Authorisation::Refused { .. })
    ));
}

#[test]
fn clip_respects_char_boundaries() {
    assert_eq!(clip("abc", 3), "abc");
    assert_eq!(clip("abcd", 3), "ab…");
    assert_eq!(clip("ééééé", 4), "ééé…");
}

#[test]
fn logins_compare_in_any_case() {
    // The author in another case is still the author: refused without a probe.
    match authorise_waiver(&qa(), "ALICE", Some("alice"), &Answers::new()) {
        AuthStep::Done(Authorisation::Refused { reason }) => assert!(reason.contains("author")),
        other => panic!("{other:?}"),
    }
    // The declarer in another case revokes as the declarer.
    assert_eq!(
        authorise_revoke(&qa(), "carol", "Carol", &Answers::new()),
        AuthStep::Done(Authorisation::Allowed {
            via: "declarer".into()
        })
    );
    // The author's own approval does not count, whatever its case.
    let v = check(&facts(vec![approve(1, "Alice")]), &Options::default());
    assert_eq!(v.state, GateState::Failure, "{v:?}");
    assert_eq!(v.ignored[0].why, "is the PR author");
    // One reviewer in two cases is one candidate.
    let f = facts(vec![approve(1, "dave"), approve(2, "DAVE")]);
    assert_eq!(check(&f, &Options::default()).candidates.len(), 1);
}

#[test]
fn a_members_unofficial_approval_fails_naming_the_reviewer_and_the_fix() {
    let mut unofficial = approve(1, "bob");
    unofficial.official = false;
    let f = facts(vec![approve(2, "dave"), unofficial]);
    let mut asked = Vec::new();
    let v = evaluate_with(&qa(), &f, &Options::default(), |t, l| {
        asked.push(l.to_string());
        oracle(t, l)
    });
    // The official approvals are probed first; the unofficial one only to explain.
    assert_eq!(asked, ["dave", "bob"]);
    assert_eq!(v.state, GateState::Failure);
    assert_eq!(v.approved_by, None);
    assert_eq!(
        v.description,
        "@bob's approval is not official: give team qa write access to code, or add it to the approvals whitelist; then @bob approves again"
    );
    assert_eq!(
        (v.candidates[1].login.as_str(), v.candidates[1].official),
        ("bob", false)
    );
    assert!(v.candidates[0].official);
    assert!(v.ignored.is_empty(), "{:?}", v.ignored);
}

#[test]
fn an_official_member_approval_needs_no_probe_of_unofficial_ones() {
    let mut unofficial = approve(1, "erin");
    unofficial.official = false;
    let f = facts(vec![unofficial, approve(2, "bob")]);
    let mut asked = Vec::new();
    let v = evaluate_with(&qa(), &f, &Options::default(), |t, l| {
        asked.push(l.to_string());
        oracle(t, l)
    });
    assert_eq!(asked, ["bob"]);
    assert_eq!(v.approved_by.as_deref(), Some("bob"));
}

#[test]
fn an_outsiders_unofficial_approval_is_just_an_outsider() {
    let mut unofficial = approve(1, "dave");
    unofficial.official = false;
    let v = check(&facts(vec![unofficial]), &Options::default());
    assert_eq!(
        v.description,
        "awaiting an approval from a member of team qa (@dave is not in it)"
    );
}

#[test]
fn without_require_official_a_members_unofficial_approval_counts() {
    let mut gate = qa();
    gate.require_official = false;
    let mut unofficial = approve(1, "bob");
    unofficial.official = false;
    let v = evaluate_with(&gate, &facts(vec![unofficial]), &Options::default(), oracle);
    assert_eq!(v.state, GateState::Success);
    assert_eq!(v.approved_by.as_deref(), Some("bob"));
    assert!(!v.candidates[0].official);
    // Still not a dismissed one.
    let mut dismissed = approve(1, "bob");
    dismissed.official = false;
    dismissed.dismissed = true;
    let v = evaluate_with(&gate, &facts(vec![dismissed]), &Options::default(), oracle);
    assert_eq!(v.state, GateState::Failure);
}

/// Gitea's `AddReviewRequest` (`models/issues/review.go` @ v1.25.4): requesting a review from
/// an official reviewer unsets `official` on their earlier reviews and adds a `REQUEST_REVIEW`
/// review that is official; any later review of theirs deletes it. Only that case is worded as
/// a cleared approval: anything else keeps the access fix.
#[test]
fn an_approval_cleared_by_a_review_request_says_approve_again() {
    const CLEARED: &str =
        "@bob's approval was cleared by a new review request; @bob approves again";
    const ACCESS: &str = "@bob's approval is not official: give team qa write access to code, or add it to the approvals whitelist; then @bob approves again";
    let unofficial = |id, who: &str| ReviewFacts {
        official: false,
        ..approve(id, who)
    };
    let request = |id, who: &str, official| ReviewFacts {
        official,
        ..review(id, who, ReviewKind::RequestReview)
    };
    let table: Vec<(&str, Vec<ReviewFacts>, &str)> = vec![
        (
            "re-requested after approving, as an official reviewer",
            vec![unofficial(1, "bob"), request(2, "bob", true)],
            CLEARED,
        ),
        (
            "the request names the reviewer in another case",
            vec![unofficial(1, "bob"), request(2, "BOB", true)],
            CLEARED,
        ),
        (
            "a request that is not official: the team still lacks write",
            vec![unofficial(1, "bob"), request(2, "bob", false)],
            ACCESS,
        ),
        (
            "a request older than the approval did not clear it",
            vec![request(1, "bob", true), unofficial(2, "bob")],
            ACCESS,
        ),
        (
            "a request for someone else",
            vec![unofficial(1, "bob"), request(2, "dave", true)],
            ACCESS,
        ),
        ("no request at all", vec![unofficial(1, "bob")], ACCESS),
    ];
    for (case, reviews, want) in table {
        let v = check(&facts(reviews), &Options::default());
        assert_eq!(v.state, GateState::Failure, "{case}");
        assert_eq!(v.description, want, "{case}");
        assert_eq!(v.why, want, "{case}: the reply says the same");
        let bob = v.candidates.iter().find(|c| c.login == "bob").unwrap();
        assert_eq!(bob.re_requested, want == CLEARED, "{case}");
    }
    // Approving again (Gitea deletes the request) opens the gate.
    let f = facts(vec![unofficial(1, "bob"), approve(3, "bob")]);
    let v = check(&f, &Options::default());
    assert_eq!(v.state, GateState::Success);
    assert_eq!(v.approved_by.as_deref(), Some("bob"));
}
