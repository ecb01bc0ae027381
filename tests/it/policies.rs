//! Gate policies end to end (`docs/policies.md`): real deliveries to the in-process bot against
//! the emulator, checked by the statuses and replies people see and by the calls Gitea got.
//! The world: alice's PR #7; carol and erin in security; mia in managers; dave in no team.

use gitea_emu::{GitIdent, World};

use crate::support::tester::{world, Tester, PR, REPO};
use crate::support::{sopbot, stderr, stdout, write_config};

const SECURITY: &str = "security-review / approved";
const AUTH: &str = "auth-review / approved";

/// [`world`] with erin, a second security member.
fn with_erin() -> World {
    let mut w = world().with_user("erin");
    let id = w.team_id("security");
    w.add_team_member(id, "erin");
    w
}

/// A tester whose `[gate.security]` gets `lines` (the config's `extra` text starts inside it).
async fn security_with(lines: &'static str) -> Tester {
    Tester::setup_in(with_erin())
        .config(move |c| c.extra(lines))
        .start()
        .await
}

/// `reviewer` submits a review of `kind` (`APPROVED`, `REQUEST_CHANGES`), and Gitea delivers it.
async fn review(t: &Tester, reviewer: &str, kind: &str) {
    let hook = t.world(|w| {
        w.review(REPO, PR, reviewer, kind, "review");
        let action = if kind == "APPROVED" {
            "approved"
        } else {
            "rejected"
        };
        w.webhook_for_review(REPO, PR, reviewer, action)
    });
    t.deliver(&hook).await;
}

/// alice's push has been made in the world; Gitea delivers `synchronized`.
async fn synchronized(t: &Tester) {
    let hook = t.world(|w| w.webhook_for_pr(REPO, PR, "synchronized"));
    t.deliver(&hook).await;
}

fn calls_to(t: &Tester, suffix: &str) -> Vec<gitea_emu::Call> {
    t.emu
        .calls()
        .into_iter()
        .filter(|c| c.path == format!("/api/v1/repos/acme/widgets/pulls/{PR}/{suffix}"))
        .collect()
}

#[tokio::test]
async fn approvals_need_that_many_distinct_members() {
    let t = security_with("approvals = 2\n").await;
    review(&t, "carol", "APPROVED").await;
    t.expect_status(SECURITY, "failure", "1/2 from security (@carol)")
        .await;
    // carol again, and the author: still one.
    review(&t, "carol", "APPROVED").await;
    t.expect_status(SECURITY, "failure", "1/2 from security (@carol)")
        .await;
    review(&t, "erin", "APPROVED").await;
    t.expect_status(SECURITY, "success", "approved by @carol, @erin")
        .await;
    // The qa gate keeps today's rule.
    t.expect_status("qa-review / approved", "failure", "awaiting an approval")
        .await;
    t.finish();
}

/// An `auth` gate for the security team that applies only under `src/auth/`.
const AUTH_GATE: &str = r#"
[gate.auth]
team = "security"
context = "auth-review / approved"
paths = ["src/auth/**"]
paths_ignore = ["**/*.md"]
"#;

#[tokio::test]
async fn a_paths_gate_is_not_applicable_until_the_pr_changes_a_matching_file() {
    let t = Tester::setup_in(with_erin())
        .config(|c| c.extra(AUTH_GATE))
        .start()
        .await;
    // PR #7 changes README.md and src/lib.rs.
    let id = t.comment("dave", "/refire").await;
    t.expect_reply(id).await;
    t.expect_status(
        AUTH,
        "success",
        "not applicable: no change under src/auth/**",
    )
    .await;
    t.expect_status(SECURITY, "failure", "awaiting").await;
    // A re-evaluation without a push reads the files no more.
    let before = calls_to(&t, "files").len();
    assert_eq!(before, 1, "{:?}", calls_to(&t, "files"));
    let id = t.comment("dave", "/refire auth").await;
    t.expect_reply(id).await;
    assert_eq!(calls_to(&t, "files").len(), 1, "cached per head and base");

    // A push that touches src/auth/ makes it apply.
    t.world(|w| {
        w.push(REPO, PR);
        w.set_pr_files(REPO, PR, &["README.md", "src/auth/login.rs"]);
    });
    synchronized(&t).await;
    t.expect_status(
        AUTH,
        "failure",
        "awaiting an approval from a member of team security",
    )
    .await;
    review(&t, "carol", "APPROVED").await;
    t.expect_status(AUTH, "success", "approved by @carol").await;
    assert_eq!(calls_to(&t, "files").len(), 2, "one read per head");
    t.finish();
}

#[tokio::test]
async fn a_rename_out_of_the_path_and_a_match_past_the_first_page_both_count() {
    let t = Tester::setup_in(with_erin())
        .config(|c| c.extra(AUTH_GATE))
        .start()
        .await;
    t.world(|w| {
        w.push(REPO, PR);
        w.set_pr_files(REPO, PR, &["docs/a.md"]);
        w.rename_pr_file(REPO, PR, "src/auth/token.rs", "src/token.rs");
    });
    synchronized(&t).await;
    t.expect_status(AUTH, "failure", "awaiting").await;

    // 120 files, the only match last: three pages of 50.
    t.world(|w| {
        w.push(REPO, PR);
        let mut many: Vec<String> = (0..119).map(|i| format!("src/gen/f{i}.rs")).collect();
        many.push("src/auth/session.rs".into());
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        w.set_pr_files(REPO, PR, &refs);
    });
    t.emu.clear_calls();
    synchronized(&t).await;
    t.expect_status(AUTH, "failure", "awaiting").await;
    let pages: Vec<String> = calls_to(&t, "files").into_iter().map(|c| c.query).collect();
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert!(pages[2].contains("page=3"), "{pages:?}");
    t.finish();
}

/// Gitea lists a PR's files from `refs/pull/N/head`, which it moves after a push: a listing of
/// the previous head (its `contents_url` says `?ref=` that head) must not make a push that does
/// touch `src/auth/` "not applicable".
#[tokio::test]
async fn a_files_listing_of_a_lagging_head_is_an_error_never_not_applicable() {
    let t = Tester::setup_in(with_erin())
        .config(|c| c.extra(AUTH_GATE))
        .start()
        .await;
    t.world(|w| {
        w.lag_diff(REPO, PR);
        w.push(REPO, PR);
        w.set_pr_files(REPO, PR, &["src/auth/token.rs"]);
    });
    synchronized(&t).await;
    t.expect_status(AUTH, "error", "changed files could not be read")
        .await;
    // Gitea catches up: the next evaluation reads the files of this head.
    t.world(|w| w.catch_up_diff(REPO, PR));
    let id = t.comment("dave", "/refire auth").await;
    t.expect_reply(id).await;
    t.expect_status(AUTH, "failure", "awaiting").await;
    t.finish();
}

/// The commits lag a push the same way: carol's commit, not listed yet, must not let her
/// approval count.
#[tokio::test]
async fn a_commits_listing_of_a_lagging_head_does_not_let_a_new_committer_approve() {
    let t = security_with("exclude_committers = true\n").await;
    t.world(|w| {
        w.lag_diff(REPO, PR);
        let carol = w.identity("carol");
        w.push_commit(REPO, PR, carol.clone(), carol);
    });
    synchronized(&t).await;
    review(&t, "carol", "APPROVED").await;
    t.expect_status(SECURITY, "error", "").await;
    t.world(|w| w.catch_up_diff(REPO, PR));
    let id = t.comment("dave", "/refire security").await;
    t.expect_reply(id).await;
    t.expect_status(
        SECURITY,
        "failure",
        "@carol's approval does not count: @carol committed to this PR",
    )
    .await;
    t.finish();
}

#[tokio::test]
async fn a_files_listing_that_fails_is_an_error_never_not_applicable() {
    let t = Tester::setup_in(with_erin())
        .config(|c| c.extra(AUTH_GATE))
        .start()
        .await;
    t.emu.fail_path(
        &format!("/api/v1/repos/acme/widgets/pulls/{PR}/files"),
        100,
        500,
    );
    let id = t.comment("dave", "/refire auth").await;
    t.expect_reply(id).await;
    t.expect_status(AUTH, "error", "cannot tell whether the gate applies")
        .await;
    t.finish();
}

#[tokio::test]
async fn a_standing_request_for_changes_blocks_even_a_waiver_until_dismissed() {
    let t = security_with("block_on_request_changes = true\n").await;
    review(&t, "erin", "APPROVED").await;
    t.expect_status(SECURITY, "success", "approved by @erin")
        .await;
    review(&t, "carol", "REQUEST_CHANGES").await;
    t.expect_status(SECURITY, "failure", "blocked by @carol")
        .await;
    // A manager's waiver does not clear it, and the reply says so.
    let id = t.comment("mia", "/sop-n/a security reviewed offline").await;
    let reply = t.expect_reply(id).await;
    assert!(reply.contains("blocked by @carol"), "{reply}");
    t.expect_status(SECURITY, "failure", "a waiver does not clear a block")
        .await;
    // The request dismissed (no webhook): the next /refire sees the waiver open the gate.
    t.world(|w| {
        let rc = w
            .reviews(REPO, PR)
            .iter()
            .rev()
            .find(|r| r.state == "REQUEST_CHANGES")
            .unwrap()
            .id;
        w.dismiss(REPO, PR, rc);
    });
    let id = t.comment("dave", "/refire security").await;
    t.expect_reply(id).await;
    t.expect_status(SECURITY, "success", "waived by @mia").await;
    t.finish();
}

#[tokio::test]
async fn waiver_overrides_block_lets_a_waiver_open_a_blocked_gate() {
    let t = security_with("block_on_request_changes = true\nwaiver_overrides_block = true\n").await;
    review(&t, "carol", "REQUEST_CHANGES").await;
    t.expect_status(SECURITY, "failure", "blocked by @carol")
        .await;
    let id = t.comment("mia", "/sop-n/a security reviewed offline").await;
    t.expect_reply(id).await;
    t.expect_status(SECURITY, "success", "waived by @mia").await;
    t.finish();
}

#[tokio::test]
async fn a_committers_approval_does_not_count_until_a_force_push_removes_their_commit() {
    let t = security_with("exclude_committers = true\n").await;
    // carol pushes a commit to alice's PR, then approves it.
    t.world(|w| {
        let carol = w.identity("carol");
        w.push_commit(REPO, PR, carol.clone(), carol);
    });
    synchronized(&t).await;
    review(&t, "carol", "APPROVED").await;
    t.expect_status(
        SECURITY,
        "failure",
        "@carol's approval does not count: @carol committed to this PR",
    )
    .await;
    // The reply to /refire names why.
    let id = t.comment("dave", "/refire security").await;
    let reply = t.expect_reply(id).await;
    assert!(reply.contains("committed to this PR"), "{reply}");
    // erin did not commit: her approval counts.
    review(&t, "erin", "APPROVED").await;
    t.expect_status(SECURITY, "success", "approved by @erin")
        .await;

    // A force-push to alice's commits alone, re-read per head: carol's approval counts.
    let t2 = security_with("exclude_committers = true\n").await;
    t2.world(|w| {
        let carol = w.identity("carol");
        w.push_commit(REPO, PR, carol.clone(), carol);
    });
    synchronized(&t2).await;
    review(&t2, "carol", "APPROVED").await;
    t2.expect_status(SECURITY, "failure", "committed to this PR")
        .await;
    t2.world(|w| {
        let alice = w.identity("alice");
        w.force_push(REPO, PR, &[(alice.clone(), alice)]);
    });
    synchronized(&t2).await;
    t2.expect_status(SECURITY, "success", "approved by @carol")
        .await;
    t.finish();
    t2.finish();
}

#[tokio::test]
async fn a_commit_no_account_is_linked_to_fails_closed_but_a_waiver_opens_it() {
    let t = security_with("exclude_committers = true\n").await;
    t.world(|w| {
        let alice = w.identity("alice");
        w.push_commit(REPO, PR, GitIdent::stranger("ghostwriter"), alice);
    });
    synchronized(&t).await;
    review(&t, "carol", "APPROVED").await;
    t.expect_status(SECURITY, "failure", "cannot tell who wrote commit")
        .await;
    // A committer's waiver would not count; mia is no committer.
    let id = t
        .comment("mia", "/sop-n/a security reviewed the ghost commit")
        .await;
    t.expect_reply(id).await;
    t.expect_status(SECURITY, "success", "waived by @mia").await;
    t.finish();
}

#[tokio::test]
async fn a_committers_waiver_does_not_count() {
    let t = Tester::setup_in(with_erin())
        .config(|c| c.extra("exclude_committers = true\n"))
        .start()
        .await;
    t.world(|w| {
        let mia = w.identity("mia");
        w.push_commit(REPO, PR, mia.clone(), mia);
    });
    synchronized(&t).await;
    let id = t.comment("mia", "/sop-n/a security trust me").await;
    t.expect_reply(id).await;
    t.expect_status(
        SECURITY,
        "failure",
        "@mia's waiver does not count: @mia committed to this PR",
    )
    .await;
    t.finish();
}

#[tokio::test]
async fn config_check_shows_every_policy_key_and_refuses_one_that_cannot_work() {
    let dir = tempfile::tempdir().unwrap();
    let base = "[gitea]\nurl = \"http://127.0.0.1:1\"\n[gate.auth]\nteam = \"security\"\n";
    let good = write_config(
        dir.path(),
        &format!(
            "{base}approvals = 2\npaths = [\"src/auth/**\"]\nblock_on_request_changes = true\n"
        ),
    );
    let out = sopbot(&good, &["config", "check"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for line in [
        "approvals = 2",
        "paths = [\"src/auth/**\"]",
        "paths_ignore = []",
        "block_on_request_changes = true",
        "waiver_overrides_block = false",
        "exclude_committers = false",
        "request_review = false",
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
    for (bad, key, words) in [
        ("approvals = 0\n", "gate.auth.approvals", "at least 1"),
        (
            "paths = [\"src/{auth\"]\n",
            "gate.auth.paths",
            "does not parse",
        ),
        (
            "paths_ignore = [\"\"]\n",
            "gate.auth.paths_ignore",
            "empty pattern",
        ),
        (
            "waiver_overrides_block = true\n",
            "gate.auth.waiver_overrides_block",
            "block_on_request_changes",
        ),
    ] {
        let path = write_config(dir.path(), &format!("{base}{bad}"));
        let out = sopbot(&path, &["config", "check"]).await;
        assert_eq!(out.status.code(), Some(78), "{bad}: {}", stdout(&out));
        let err = stderr(&out);
        assert!(err.contains(&format!("`{key}`")), "{bad}: {err}");
        assert!(err.contains(words), "{bad}: {err}");
    }
}

#[tokio::test]
async fn request_review_asks_the_team_once_ever_also_across_a_restart() {
    let mut t = Tester::setup_in(with_erin())
        .config(|c| c.extra("request_review = true\n"))
        .process()
        .start()
        .await;
    let posts = |t: &Tester| {
        t.emu
            .calls()
            .into_iter()
            .filter(|c| c.method == "POST" && c.path.ends_with("/pulls/7/requested_reviewers"))
            .count()
    };
    let id = t.comment("dave", "/refire").await;
    t.expect_reply(id).await;
    t.expect_status(SECURITY, "failure", "awaiting").await;
    let requested = |t: &Tester| {
        t.world(|w| {
            let security = w.team_id("security");
            w.reviews(REPO, PR)
                .iter()
                .filter(|r| r.state == "REQUEST_REVIEW")
                .map(|r| r.team == Some(security))
                .collect::<Vec<_>>()
        })
    };
    assert_eq!(requested(&t), [true], "security asked, qa not");
    assert_eq!(posts(&t), 1);
    let audit = t.audit_of("review.requested").await;
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["gate"], "security");

    // Evaluated again, and again after a restart: never asked twice.
    t.push().await;
    t.expect_status(SECURITY, "failure", "awaiting").await;
    t.restart().await;
    let id = t.comment("dave", "/refire security").await;
    t.expect_reply(id).await;
    assert_eq!(posts(&t), 1, "asked once, ever");
    t.finish();
}

#[tokio::test]
async fn a_review_request_that_fails_is_audited_and_never_blocks_the_gate() {
    let t = Tester::setup_in(with_erin())
        .config(|c| c.extra("request_review = true\n"))
        .start()
        .await;
    t.emu.fail_path(
        &format!("/api/v1/repos/acme/widgets/pulls/{PR}/requested_reviewers"),
        10,
        500,
    );
    review(&t, "carol", "APPROVED").await;
    t.expect_status(SECURITY, "success", "approved by @carol")
        .await;
    let id = t.comment("dave", "/refire").await;
    t.expect_reply(id).await;
    // qa has no request_review; security passed: nothing asked, nothing failed.
    assert!(t.audit_of("review.request_failed").await.is_empty());
    let t = Tester::setup_in(with_erin())
        .config(|c| c.extra("request_review = true\n"))
        .start()
        .await;
    t.emu.fail_path(
        &format!("/api/v1/repos/acme/widgets/pulls/{PR}/requested_reviewers"),
        10,
        500,
    );
    let id = t.comment("dave", "/refire").await;
    t.expect_reply(id).await;
    t.expect_status(SECURITY, "failure", "awaiting").await;
    let failed = t
        .eventually("the failed request audited", || async {
            let rows = t.audit_of("review.request_failed").await;
            (!rows.is_empty()).then_some(rows)
        })
        .await;
    assert_eq!(failed[0]["gate"], "security");
    t.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_fails_a_gate_needing_more_approvals_than_its_team_has() {
    // security: carol and erin (sopbot, in it to read it, never approves).
    let emu = gitea_emu::Emulator::start(with_erin()).await;
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &'static str| {
        let config = write_config(dir.path(), &crate::support::config_text(&emu, extra));
        async move { sopbot(&config, &["doctor"]).await }
    };
    let out = run("approvals = 3\n").await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let fail: Vec<&str> = text.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(fail.len(), 1, "{text}");
    assert!(
        fail[0].contains(
            "gate.security.approvals = 3: needs 3 approvals, team security in acme has 2"
        ),
        "{text}"
    );
    let out = run("approvals = 2\n").await;
    let text = stdout(&out);
    assert!(!text.contains("FAIL"), "{text}");
    assert!(
        text.contains("gate.security.approvals = 2: needs 2 approvals, team security in acme has 2, so a PR by one of them can never pass"),
        "{text}"
    );
}

#[tokio::test]
async fn not_applicable_on_one_pr_never_opens_the_gate_of_another_on_the_same_commit() {
    // #8 shares #7's head commit, into release: against release it changes src/auth/.
    let mut w = with_erin().with_branch(REPO, "release", true);
    let other = w.open_pr_from_branch(REPO, "alice", "release", "feature/rate-limiter");
    w.set_pr_files(REPO, other, &["src/auth/login.rs"]);
    let t = Tester::setup_in(w)
        .config(|c| c.branches(&["main", "release"]).extra(AUTH_GATE))
        .start()
        .await;
    let id = t.comment("dave", "/refire auth").await;
    let reply = t.expect_reply(id).await;
    assert!(
        reply.contains("not applicable"),
        "#7's own verdict: {reply}"
    );
    let status = t.expect_status(AUTH, "failure", "awaiting").await;
    assert!(
        status.description.contains(&format!("#{other}")),
        "{status:?}"
    );
    t.finish();
}
