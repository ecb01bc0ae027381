//! The pure gate evaluation of one pull request: 50 reviews, 3 gates, membership answers from
//! an in-memory oracle (what the engine has after its probes). Target: ≤ 10 µs for the PR.
//!
//! Scenarios:
//! - `typical`: 50 reviews (comments, change requests, approvals by people outside the teams,
//!   superseded approvals), each gate opened by a member after a few non-member candidates;
//! - `all-outsiders`: 50 approvals, none by a team member: every gate probes all 50 candidates
//!   and fails (the worst case of the lazy evaluation);
//! - `waived`: every gate waived, the reviews never read.
//!
//! `cargo bench --bench evaluate -- --warm-up-time 1 --measurement-time 3`

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use sopbot::gate::{
    evaluate_with, Facts, GatePolicy, GateSpec, GateState, Membership, Options, PrFacts,
    ReviewFacts, ReviewKind, Verdict, WaiverFacts,
};
use sopbot::types::TeamRef;

const HEAD: &str = "1111111111111111111111111111111111111111";
const OLD: &str = "3333333333333333333333333333333333333333";
const BASE: &str = "2222222222222222222222222222222222222222";

fn gate(name: &str) -> GateSpec {
    GateSpec {
        name: name.into(),
        team: TeamRef::Name(name.into()),
        waivable_by: vec![TeamRef::Name(name.into()), TeamRef::Name("managers".into())],
        require_official: true,
        policy: GatePolicy::default(),
    }
}

fn gates() -> Vec<GateSpec> {
    vec![gate("qa"), gate("security"), gate("docs")]
}

fn review(id: i64, who: &str, kind: ReviewKind) -> ReviewFacts {
    ReviewFacts {
        id,
        reviewer: Some(who.into()),
        kind,
        official: true,
        dismissed: false,
        commit_id: if id % 3 == 0 { OLD } else { HEAD }.into(),
        has_body: id % 2 == 0,
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

/// 50 reviews as a long-running PR collects them: discussion, change requests, the author's
/// own approval, dismissed and unofficial ones, outsiders approving, and late in the list one
/// member of each team.
fn typical() -> Facts {
    let mut reviews = Vec::new();
    for i in 0..50i64 {
        let who = format!("dev{}", i % 12);
        let mut r = match i % 5 {
            0 | 1 => review(i, &who, ReviewKind::Comment),
            2 => review(i, &who, ReviewKind::RequestChanges),
            _ => review(i, &who, ReviewKind::Approved),
        };
        if i % 7 == 0 {
            r.dismissed = true;
        }
        if i % 11 == 0 {
            r.official = false;
        }
        reviews.push(r);
    }
    reviews[10] = review(10, "alice", ReviewKind::Approved);
    reviews[40] = review(40, "quinn", ReviewKind::Approved);
    reviews[44] = review(44, "sam", ReviewKind::Approved);
    reviews[48] = review(48, "dora", ReviewKind::Approved);
    Facts {
        pr: pr(),
        reviews,
        ..Facts::default()
    }
}

/// 50 approvals by 50 different people, none in any team.
fn all_outsiders() -> Facts {
    Facts {
        pr: pr(),
        reviews: (0..50)
            .map(|i| review(i, &format!("outsider{i}"), ReviewKind::Approved))
            .collect(),
        ..Facts::default()
    }
}

fn waived() -> Facts {
    let mut facts = typical();
    facts.waivers = ["qa", "security", "docs"]
        .iter()
        .enumerate()
        .map(|(i, g)| WaiverFacts {
            id: i as i64,
            gate: g.to_string(),
            declared_by: "mia".into(),
            reason: "docs-only change".into(),
        })
        .collect();
    facts
}

/// Membership answers as the engine holds them after probing: quinn is in qa, sam in
/// security, dora in docs; everyone else is in none.
fn oracle(team: &TeamRef, login: &str) -> Membership {
    match (team, login) {
        (TeamRef::Name(t), "quinn") if t == "qa" => Membership::Member,
        (TeamRef::Name(t), "sam") if t == "security" => Membership::Member,
        (TeamRef::Name(t), "dora") if t == "docs" => Membership::Member,
        _ => Membership::NotMember,
    }
}

fn evaluate_pr(gates: &[GateSpec], facts: &Facts, opts: &Options) -> Vec<Verdict> {
    gates
        .iter()
        .map(|g| evaluate_with(g, facts, opts, oracle))
        .collect()
}

fn bench(c: &mut Criterion) {
    let gates = gates();
    let opts = Options::default();

    let mut group = c.benchmark_group("evaluate-pr-50-reviews-3-gates");
    group.throughput(Throughput::Elements(1));
    for (name, facts, expect) in [
        ("typical", typical(), GateState::Success),
        ("all-outsiders", all_outsiders(), GateState::Failure),
        ("waived", waived(), GateState::Success),
    ] {
        assert_eq!(facts.reviews.len(), 50);
        let verdicts = evaluate_pr(&gates, &facts, &opts);
        assert!(
            verdicts.iter().all(|v| v.state == expect),
            "{name}: {verdicts:#?}"
        );
        group.bench_function(name, |b| {
            b.iter(|| evaluate_pr(&gates, black_box(&facts), &opts))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
