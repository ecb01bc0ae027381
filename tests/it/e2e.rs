//! End to end: the real webhook router, inbox, workers and engine, the Gitea emulator behind
//! them, and signed webhook deliveries over HTTP, as Gitea would send them. Each test is a
//! small conversation on alice's PR #7 (bob is in qa, carol in security, dave in no team),
//! driven and checked through a [`Tester`] (tests/it/support/tester.rs): the statuses on the
//! PR's head commit, the bot's 👀 and its reply comments, and the waiver and audit rows through
//! `sopbot waivers list --json` and `sopbot audit --json`. The bot runs in-process, except where
//! the process itself is the subject (SIGKILL, SIGTERM, its log): there it is `sopbot serve`.

use crate::support as common;
use crate::support::tester::{world, Tester, PR, REPO, WAIT};

use std::collections::BTreeSet;
use std::time::Duration;

use common::serve::wait_for;
use common::{sopbot, stderr};

use gitea_emu::{Delivery, Flavor};
use serde_json::Value;

const QA: &str = "qa-review / approved";
const SECURITY: &str = "security-review / approved";
const NA: &str = "sop-checklist / na-declarations (pull_request)";
const COMMENTS_PATH: &str = "/api/v1/repos/acme/widgets/issues/7/comments";

// ----- /refire and reviews ------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refire_before_an_approval_fails_and_after_bob_approves_succeeds_naming_him() {
    refire_qa_before_and_after_bobs_approval(Tester::start().await).await
}

/// Also run against Forgejo ([`forgejo`]), at the same time: its snapshots allow duplicates.
async fn refire_qa_before_and_after_bobs_approval(c: Tester) {
    let first = c.comment("alice", "/refire qa").await;
    let reply = c.expect_reply_text(first).await;
    insta::allow_duplicates!(insta::assert_snapshot!(reply, @r#"
        @alice

        - line 1, `/refire`: re-checked `qa` with a fresh membership look-up (results below)

        Gates on `f1d3a681d0`:

        | gate | state | why |
        | --- | --- | --- |
        | qa | ❌ failure | awaiting an approval from a member of team qa |
        "#));
    c.expect_status(
        QA,
        "failure",
        "awaiting an approval from a member of team qa",
    )
    .await;
    assert_eq!(c.eyes(first), 1, "👀 on the command comment");

    c.approve("bob").await;
    let second = c.comment("alice", "/refire qa").await;
    let reply = c.expect_reply_text(second).await;
    insta::allow_duplicates!(insta::assert_snapshot!(reply, @r#"
        @alice

        - line 1, `/refire`: re-checked `qa` with a fresh membership look-up (results below)

        Gates on `f1d3a681d0`:

        | gate | state | why |
        | --- | --- | --- |
        | qa | ✅ success | approved by @bob (team qa) |
        "#));
    c.expect_status(QA, "success", "approved by @bob (team qa)")
        .await;
    assert_eq!(c.eyes(second), 1);
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approving_review_reevaluates_without_any_command() {
    let c = Tester::start().await;
    let opened = c.world(|w| w.webhook_for_pr(REPO, PR, "opened"));
    c.deliver(&opened).await;
    c.expect_status(QA, "failure", "awaiting").await;
    c.expect_status(SECURITY, "failure", "awaiting").await;
    c.expect_status(NA, "success", "no gates waived").await;

    c.approve("bob").await;
    c.expect_status(QA, "success", "approved by @bob (team qa)")
        .await;
    c.approve("carol").await;
    c.expect_status(SECURITY, "success", "approved by @carol (team security)")
        .await;
    // Unchanged verdicts are not posted again: qa twice (failure, success; carol's review
    // left it as it was), N/A once. Security three times: bob's approval changed its failure's
    // description ("@bob is not in it"), then carol's made it pass.
    let head = c.head();
    let posted = |context: &str| {
        c.world(|w| w.statuses(REPO, &head))
            .iter()
            .filter(|s| s.context == context)
            .count()
    };
    assert_eq!(
        (posted(QA), posted(SECURITY), posted(NA)),
        (2, 3, 1),
        "{:#?}",
        c.world(|w| w.statuses(REPO, &head))
    );
    // Reviews need no answer: no comment at all from the bot.
    assert!(c
        .world(|w| w.comments(REPO, PR))
        .iter()
        .all(|x| x.user.as_deref() != Some("sopbot")));
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_moves_the_statuses_to_the_new_head() {
    push_moves_the_statuses(Tester::start().await).await
}

/// Also run against Forgejo ([`forgejo`]).
async fn push_moves_the_statuses(c: Tester) {
    let old = c.head();
    c.approve("bob").await;
    c.expect_status_on(&old, QA, "success", "approved by @bob")
        .await;
    // All three statuses are there (they are posted concurrently): the evaluation is complete.
    c.expect_status_on(&old, SECURITY, "failure", "awaiting")
        .await;
    c.expect_status_on(&old, NA, "success", "no gates waived")
        .await;
    let before = c.world(|w| w.statuses(REPO, &old));

    let new = c.world(|w| w.push(REPO, PR));
    let hook = c.world(|w| w.webhook_for_pr(REPO, PR, "synchronized"));
    assert_eq!(hook.event_type, "pull_request_sync");
    c.deliver(&hook).await;
    // Bob's approval of the old head still counts (no strict_head_sha), on the new head.
    c.expect_status_on(&new, QA, "success", "approved by @bob")
        .await;
    c.expect_status_on(&new, SECURITY, "failure", "awaiting")
        .await;
    c.expect_status_on(&new, NA, "success", "no gates waived")
        .await;
    assert_eq!(
        c.world(|w| w.statuses(REPO, &old)),
        before,
        "nothing more on the old head"
    );
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dismissed_approval_is_caught_by_the_poller() {
    let c = Tester::start_polling().await;
    c.approve("bob").await;
    c.expect_status(QA, "success", "approved by @bob").await;
    // Gitea sends no webhook for a dismissal.
    let review = c.world(|w| {
        w.reviews(REPO, PR)
            .iter()
            .rev()
            .find(|r| r.state == "APPROVED")
            .unwrap()
            .id
    });
    c.world(|w| w.dismiss(REPO, PR, review));
    c.expect_status(QA, "failure", "awaiting an approval").await;
    c.finish();
}

// ----- waivers --------------------------------------------------------------------------------

/// A reason full of Markdown, mentions, HTML and table pipes is echoed as its literal text: one
/// code span in the reply's bullet and one in its table (so Gitea renders no image, link or
/// HTML, pings nobody and adds no table cell), plain single-line text in the gate's status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_waiver_reason_is_echoed_inert() {
    use pulldown_cmark::{Event, Options, Parser, Tag};
    const REASON: &str =
        "![x](http://evil/x.png) @carol @acme/security <img src=x> | a | b | `code";
    let c = Tester::start().await;
    let id = c
        .comment("carol", &format!("/sop-n/a security {REASON}"))
        .await;
    let reply = c.expect_reply(id).await;
    assert!(
        reply.contains(&format!(
            "- line 1, `/sop-n/a`: waived `security`: ``{REASON}``"
        )),
        "{reply}"
    );
    let cell = REASON.replace('|', "\\|");
    assert!(
        reply.contains(&format!(
            "| security | ✅ success | waived by @carol: ``{cell}`` |"
        )),
        "{reply}"
    );
    // Rendered: the reason twice as code, the only HTML the bot's hidden marker, no link or
    // image, three cells a row, and the only `@` outside code the bot's own mentions.
    let (mut codes, mut html, mut text, mut cells) = (vec![], vec![], String::new(), 0);
    let parser = Parser::new_ext(&reply, Options::ENABLE_TABLES);
    for event in parser {
        match event {
            Event::Code(code) => codes.push(code.to_string()),
            Event::Html(h) | Event::InlineHtml(h) => html.push(h.to_string()),
            Event::Text(t) => text.push_str(&t),
            Event::Start(Tag::Link { .. } | Tag::Image { .. }) => panic!("a link: {reply}"),
            Event::Start(Tag::TableCell) => cells += 1,
            _ => {}
        }
    }
    assert_eq!(
        codes.iter().filter(|c| *c == REASON).count(),
        2,
        "{codes:?}"
    );
    assert!(
        html.iter().all(|h| h.starts_with("<!-- sopbot:reply-to:")),
        "{html:?}"
    );
    assert_eq!(cells % 3, 0, "{reply}");
    assert_eq!(
        text.match_indices('@').count(),
        2,
        "only @alice and @carol: {text}"
    );
    let status = c
        .expect_status(SECURITY, "success", "waived by @carol")
        .await;
    assert_eq!(status.description, format!("waived by @carol: {REASON}"));
    c.expect_status(NA, "success", "N/A: security").await;
    let waivers = c.waivers(false).await;
    assert_eq!(waivers[0]["reason"], REASON);
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_security_member_waives_the_security_gate() {
    security_member_waives(Tester::start().await).await
}

/// Also run against Forgejo ([`forgejo`]).
async fn security_member_waives(c: Tester) {
    let head = c.head();
    let id = c.comment("carol", "/sop-n/a security docs only").await;
    let reply = c.expect_reply_text(id).await;
    insta::allow_duplicates!(insta::assert_snapshot!(reply, @r#"
        @carol

        - line 1, `/sop-n/a`: waived `security`: `docs only`

        Gates on `f1d3a681d0`:

        | gate | state | why |
        | --- | --- | --- |
        | security | ✅ success | waived by @carol: `docs only` |
        "#));
    assert_eq!(c.eyes(id), 1);
    c.expect_status(SECURITY, "success", "waived by @carol: docs only")
        .await;
    c.expect_status(NA, "success", "N/A: security").await;

    let waivers = c.waivers(false).await;
    assert_eq!(waivers.len(), 1, "{waivers:#?}");
    let w = &waivers[0];
    assert_eq!(
        (
            &w["repo"],
            &w["pr"],
            &w["gate"],
            &w["declared_by"],
            &w["reason"]
        ),
        (
            &Value::from("acme/widgets"),
            &Value::from(7),
            &Value::from("security"),
            &Value::from("carol"),
            &Value::from("docs only")
        )
    );
    assert_eq!(w["comment_id"], id);
    assert_eq!(w["head_sha"], head.as_str());
    assert!(w["revoked_at"].is_null());

    let created = c.audit_of("waiver.created").await;
    assert_eq!(created.len(), 1, "{created:#?}");
    assert_eq!(created[0]["actor"], "carol");
    assert_eq!(created[0]["gate"], "security");
    assert_eq!(created[0]["waiver_id"], w["id"]);
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn author_cannot_waive_own_pr() {
    let c = Tester::start().await;
    let id = c.comment("alice", "/sop-n/a security trust me").await;
    let reply = c.expect_reply_text(id).await;
    insta::assert_snapshot!(reply, @r#"
        @alice

        - line 1, `/sop-n/a`: **not waived** `security`: @alice wrote this PR, and the author can never waive a gate on their own PR

        Gates on `f1d3a681d0`:

        | gate | state | why |
        | --- | --- | --- |
        | security | ❌ failure | awaiting an approval from a member of team security |
        "#);
    c.expect_status(SECURITY, "failure", "awaiting").await;
    c.expect_status(NA, "success", "no gates waived").await;
    assert!(c.waivers(true).await.is_empty());
    let refused = c.audit_of("waiver.refused").await;
    assert_eq!(refused.len(), 1, "{refused:#?}");
    assert_eq!(
        (&refused[0]["actor"], &refused[0]["gate"]),
        (&Value::from("alice"), &Value::from("security"))
    );
    assert!(c.audit_of("waiver.created").await.is_empty());
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_member_cannot_waive() {
    let c = Tester::start().await;
    let id = c.comment("dave", "/sop-n/a security docs only").await;
    let reply = c.expect_reply(id).await;
    assert!(
        reply.contains("- line 1, `/sop-n/a`: **not waived** `security`"),
        "{reply}"
    );
    c.expect_status(SECURITY, "failure", "awaiting").await;
    assert!(c.waivers(true).await.is_empty());
    let refused = c.audit_of("waiver.refused").await;
    assert_eq!(refused.len(), 1, "{refused:#?}");
    assert_eq!(refused[0]["actor"], "dave");
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_declarer_revokes_a_waiver_and_the_gate_fails_again() {
    declarer_revokes(Tester::start().await).await
}

/// Also run against Forgejo ([`forgejo`]).
async fn declarer_revokes(c: Tester) {
    let waive = c.comment("carol", "/sop-n/a security docs only").await;
    c.expect_reply(waive).await;
    c.expect_status(SECURITY, "success", "waived by @carol")
        .await;

    let revoke = c.comment("carol", "/sop-revoke security").await;
    let reply = c.expect_reply_text(revoke).await;
    insta::allow_duplicates!(insta::assert_snapshot!(reply, @r#"
        @carol

        - line 1, `/sop-revoke`: revoked waiver #1 of `security` (declared by @carol)

        Gates on `f1d3a681d0`:

        | gate | state | why |
        | --- | --- | --- |
        | security | ❌ failure | awaiting an approval from a member of team security |
        "#));
    c.expect_status(SECURITY, "failure", "awaiting").await;
    c.expect_status(NA, "success", "no gates waived").await;

    assert!(c.waivers(false).await.is_empty(), "no active waiver");
    let all = c.waivers(true).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["revoked_by"], "carol");
    assert!(all[0]["revoked_at"].is_string(), "{:#?}", all[0]);
    let revoked = c.audit_of("waiver.revoked").await;
    assert_eq!(revoked.len(), 1, "{revoked:#?}");
    assert_eq!(revoked[0]["actor"], "carol");
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_revoking_from_the_cli_makes_the_running_bot_reevaluate() {
    let c = Tester::start().await;
    let waive = c.comment("carol", "/sop-n/a security docs only").await;
    c.expect_reply(waive).await;
    c.expect_status(SECURITY, "success", "waived by @carol")
        .await;

    let out = sopbot(
        &c.config,
        &[
            "waivers",
            "revoke",
            "1",
            "--reason",
            "declared on the wrong PR",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    // No webhook, no poller (interval 0): the inbox event the CLI queued does it.
    c.expect_status(SECURITY, "failure", "awaiting").await;
    c.expect_status(NA, "success", "no gates waived").await;
    let all = c.waivers(true).await;
    assert_eq!(all[0]["revoke_reason"], "declared on the wrong PR");
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_pr_expires_its_waivers_without_deleting_them() {
    let c = Tester::start().await;
    let waive = c.comment("carol", "/sop-n/a security docs only").await;
    c.expect_reply(waive).await;
    assert_eq!(c.waivers(false).await.len(), 1);

    let hook = c.world(|w| {
        w.close_pr(REPO, PR, false);
        w.webhook_for_pr(REPO, PR, "closed")
    });
    c.deliver(&hook).await;
    c.eventually("the waiver to expire", || async {
        c.waivers(false).await.is_empty().then_some(())
    })
    .await;
    let all = c.waivers(true).await;
    assert_eq!(all.len(), 1, "recorded, not deleted");
    assert_eq!(all[0]["revoked_by"], "sopbot");
    assert_eq!(all[0]["revoke_reason"], "PR closed");
    let expired = c.audit_of("waiver.expired").await;
    assert_eq!(expired.len(), 1, "{expired:#?}");
    assert_eq!(expired[0]["waiver_id"], all[0]["id"]);
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_comment_that_carried_a_waiver_revokes_it() {
    let c = Tester::start().await;
    let waive = c.comment("carol", "/sop-n/a security docs only").await;
    c.expect_reply(waive).await;
    c.expect_status(SECURITY, "success", "waived by @carol")
        .await;

    c.world(|w| w.delete_comment(REPO, waive));
    c.deliver(&c.comment_hook(waive, "deleted")).await;
    c.expect_status(SECURITY, "failure", "awaiting").await;
    c.expect_status(NA, "success", "no gates waived").await;
    assert!(c.waivers(false).await.is_empty());
    let all = c.waivers(true).await;
    assert_eq!(all[0]["revoked_by"], "sopbot");
    let why = all[0]["revoke_reason"].as_str().unwrap();
    assert!(why.contains("was deleted"), "{why}");
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_comment_does_not_become_a_waiver() {
    let c = Tester::start().await;
    let id = c.comment("carol", "thanks, looking").await;
    c.world(|w| w.edit_comment(REPO, id, "/sop-n/a security sneaky"));
    c.deliver(&c.comment_hook(id, "edited")).await;
    c.barrier().await;
    assert!(c.replies(id).is_empty());
    assert_eq!(c.eyes(id), 0);
    assert!(c.waivers(true).await.is_empty());
    c.finish();
}

// ----- exactly once -----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_webhook_and_the_poller_cause_no_second_reply() {
    let c = Tester::start_polling().await;
    let id = c.comment_unsent("bob", "/refire qa\n/sop-help");
    let hook = c.comment_hook(id, "created");
    // The poller may have found the comment first: then the delivery is the duplicate.
    let first = c.deliver(&hook).await;
    assert!(first == "queued" || first == "duplicate", "{first}");
    let reply = c.expect_reply_text(id).await;
    insta::assert_snapshot!(reply, @r#"
        @bob

        - line 1, `/refire`: re-checked `qa` with a fresh membership look-up (results below)
        - line 2, `/sop-help`: the command reference is below

        Gates on `f1d3a681d0`:

        | gate | state | why |
        | --- | --- | --- |
        | qa | ❌ failure | awaiting an approval from a member of team qa |

        <details><summary>sopbot commands</summary>

        # /sop-n/a

        Declares that a gate does not apply to this pull request: a *waiver*. The gate then passes, and
        the waiver is recorded (who, why, which comment, which head commit) until it is revoked.

        ## Syntax

        ```
        /sop-n/a [GATE...] [SEPARATOR] REASON
        ```

        - **GATE**: a configured gate, by its name or an alias. With the default configuration:
          `qa` (alias `qa-review`) and `security` (alias `security-review`). Every gate also answers to
          `NAME-review`. Case, `_`, spaces and repeated `-` do not matter, and trailing `.` `!` `,` `;`
          `:` `?` are dropped: `QA`, `Security_Review.` and `security review` all work. Several gates are
          separated by commas and/or spaces; a gate named twice counts once.
        - **SEPARATOR** (optional): `—` (em dash), `–` (en dash), `:`, or a free-standing `-` or `--`,
          with or without spaces around it (`qa-review—docs only`). A colon stuck to the command word
          (`/sop-n/a: qa docs`) is punctuation, not the separator: `qa` is still read as a gate.
        - **REASON** (required): the rest of the line. Without a reason the command is refused. Gates are
          read up to the first word that is not a gate, so when the reason itself starts with a gate's
          name, put a separator before it: `/sop-n/a qa: security is not affected`.
        - **No gate named**: the waiver covers *every gate you may waive*; the reply says which.

        A typo in a gate name must not silently turn into "every gate": when the first word of the reason
        looks like a gate name or alias, the command is refused with a suggestion. "Looks like" is
        decided after folding full-width and look-alike characters (`ｑａ`, a Cyrillic `qа`) to the
        letters they look like: the word is then the name itself, or one edit from it (a letter added,
        dropped or changed, or two neighbours swapped; two edits for names of 8 characters or more), and
        for names of 3 characters or fewer the edit must keep the first letter or be a swap. So `qs`, `q`
        and `aq` look like `qa`, and `secuirty` like `security`, while ordinary words such as `a`, `docs`,
        `n/a` or `typo` start a reason. The word is also checked with its wrapping stripped (quotes,
        backticks, brackets and other punctuation around it, a possessive `'s`) and split at `/`, `+`,
        `&` and `|`: `` `qa` ``, `(qa)`, `qa/security` and `QA's` are refused, while `n/a` (`n` and `a`)
        and `CI/CD` are not. To start a reason with such a word on purpose, put a separator before it
        (`/sop-n/a — securely …`, `/sop-n/a: "qa" was not touched`).

        A control character in the line (NUL, ESC, …; a tab is fine) makes the command malformed: it is
        refused and nothing is recorded.

        ## Who may use it

        A member of one of the gate's `waivable_by` teams (see the `[gate.NAME]` configuration) who is not
        the author of the pull request. Authors can never waive gates on their own pull requests, even as
        members of a waiving team. With no gate named, the waiver covers exactly the gates for which this
        holds.

        ## What sopbot answers

        - **Accepted**: sopbot records the waiver, sets the gate's status to success with a description
          such as `waived by @alice: docs-only change`, updates the N/A status
          (`sop-checklist / na-declarations (pull_request)`) that lists the waived gates, and replies
          naming the gates it waived.
        - **Refused**: a reply that says why (not in a waiving team, author of the pull request, unknown
          gate, missing reason) with the usage line. Nothing is recorded.
        - A waiver stays active until `/sop-revoke`, until the comment that declared it is deleted, or
          until the pull request is closed or merged.

        ## Examples

        Waive one gate:

        ```example
        /sop-n/a qa-review docs-only change
        ```
        ```json
        [{"line": 1, "command": "sop-n/a", "gates": ["qa"], "reason": "docs-only change"}]
        ```

        Waive two gates, any spelling, with a separator:

        ```example
        /sop-n/a QA, Security_Review — only the README changed
        ```
        ```json
        [{"line": 1, "command": "sop-n/a", "gates": ["qa", "security"], "reason": "only the README changed"}]
        ```

        A colon stuck to the command word is punctuation; the next colon separates the reason:

        ```example
        /sop-n/a: QA: docs only
        ```
        ```json
        [{"line": 1, "command": "sop-n/a", "gates": ["qa"], "reason": "docs only"}]
        ```

        No gate named: every gate you may waive.

        ```example
        This PR only touches comments.
        /sop-n/a — comment-only change
        ```
        ```json
        [{"line": 2, "command": "sop-n/a", "gates": [], "reason": "comment-only change"}]
        ```

        A separator keeps a reason that starts with a gate's name out of the gate list:

        ```example
        /sop-n/a qa security is not affected
        /sop-n/a qa: security is not affected
        ```
        ```json
        [
          {"line": 1, "command": "sop-n/a", "gates": ["qa", "security"], "reason": "is not affected"},
          {"line": 2, "command": "sop-n/a", "gates": ["qa"], "reason": "security is not affected"}
        ]
        ```

        A reason is required:

        ```example
        /sop-n/a security —
        ```
        ```json
        [{"line": 1, "error": "missing reason: say why the gate does not apply; usage: /sop-n/a [GATE...] REASON"}]
        ```

        A misspelt gate is refused rather than read as the start of the reason:

        ```example
        /sop-n/a secuirty not applicable
        ```
        ```json
        [{"line": 1, "error": "unknown gate `secuirty` (a reason that starts with this word needs `:` before it); did you mean `security`?"}]
        ```

        A short gate name is guarded too: a word one edit from `qa` that keeps its first letter, or swaps
        its letters, is refused; the word `a` is not:

        ```example
        /sop-n/a qs docs only
        /sop-n/a aq docs only
        /sop-n/a a typo fix
        ```
        ```json
        [
          {"line": 1, "error": "unknown gate `qs` (a reason that starts with this word needs `:` before it); did you mean `qa`?"},
          {"line": 2, "error": "unknown gate `aq` (a reason that starts with this word needs `:` before it); did you mean `qa`?"},
          {"line": 3, "command": "sop-n/a", "gates": [], "reason": "a typo fix"}
        ]
        ```

        A gate spelt with look-alike characters (here a Cyrillic `а`) or full-width letters is refused,
        never read as a reason:

        ```example
        /sop-n/a qа docs only
        /sop-n/a ｑａ docs only
        ```
        ```json
        [
          {"line": 1, "error": "unknown gate `qа`: it is spelt with look-alike or full-width characters; did you mean `qa`?"},
          {"line": 2, "error": "unknown gate `ｑａ`: it is spelt with look-alike or full-width characters; did you mean `qa`?"}
        ]
        ```

        A gate name in quotes, backticks or brackets, with a possessive `'s`, or joined to another by
        `/`, `+` or `&` is refused too, rather than read as the start of a reason; ordinary words such as
        `n/a` or `CI/CD` still start one:

        ```example
        /sop-n/a `qa` docs only
        /sop-n/a (qa) docs only
        /sop-n/a "qa" docs
        /sop-n/a qa/security docs
        /sop-n/a QA's tests are irrelevant
        /sop-n/a CI/CD only
        ```
        ```json
        [
          {"line": 1, "error": "unknown gate `` `qa` ``: name gates plainly, without quotes, brackets or `/` (a reason that starts with this word needs `:` before it); did you mean `qa`?"},
          {"line": 2, "error": "unknown gate `(qa)`: name gates plainly, without quotes, brackets or `/` (a reason that starts with this word needs `:` before it); did you mean `qa`?"},
          {"line": 3, "error": "unknown gate `\"qa\"`: name gates plainly, without quotes, brackets or `/` (a reason that starts with this word needs `:` before it); did you mean `qa`?"},
          {"line": 4, "error": "unknown gate `qa/security`: name gates plainly, without quotes, brackets or `/` (a reason that starts with this word needs `:` before it); did you mean `qa, security`?"},
          {"line": 5, "error": "unknown gate `QA's`: name gates plainly, without quotes, brackets or `/` (a reason that starts with this word needs `:` before it); did you mean `qa`?"},
          {"line": 6, "command": "sop-n/a", "gates": [], "reason": "CI/CD only"}
        ]
        ```

        A misspelt command:

        ```example
        /sop-na qa docs only
        ```
        ```json
        [{"line": 1, "error": "unknown command `/sop-na`; did you mean `/sop-n/a`?"}]
        ```

        # /sop-revoke

        Revokes the active waivers on this pull request for the gates named. The gates are then evaluated
        again on their reviews.

        ## Syntax

        ```
        /sop-revoke GATE...
        ```

        - **GATE**: one or more configured gates, spelt as for `/sop-n/a` (`qa`, `qa-review`,
          `Security_Review`, `security review`, …), separated by commas and/or spaces. At least one gate
          is required, and every word must name a gate.

        ## Who may use it

        The person who declared the waiver, or a member of one of the gate's `waivable_by` teams.

        ## What sopbot answers

        - **Accepted**: sopbot marks the waivers revoked (who, when), re-evaluates the gates and posts
          their statuses (success only if a team member approved), updates the N/A status, and replies
          naming the gates whose waivers it revoked. A gate with no active waiver is named as such.
        - **Refused**: a reply that says why (not allowed to revoke, unknown gate, no gate named) with the
          usage line. Nothing changes.

        ## Examples

        Revoke one waiver:

        ```example
        /sop-revoke qa-review
        ```
        ```json
        [{"line": 1, "command": "sop-revoke", "gates": ["qa"]}]
        ```

        Several gates; a name may be typed as two words:

        ```example
        /sop-revoke security review, qa
        ```
        ```json
        [{"line": 1, "command": "sop-revoke", "gates": ["security", "qa"]}]
        ```

        A gate is required:

        ```example
        /sop-revoke
        ```
        ```json
        [{"line": 1, "error": "missing gate: name the waived gate to revoke (known gates: qa, security); usage: /sop-revoke GATE..."}]
        ```

        Every word must be a gate:

        ```example
        /sop-revoke qa-reveiw
        /sop-revoke qa because it was the wrong PR
        ```
        ```json
        [
          {"line": 1, "error": "unknown gate `qa-reveiw`; did you mean `qa-review`?"},
          {"line": 2, "error": "unknown gate `because`; known gates: qa, security"}
        ]
        ```

        # /refire

        Re-runs the check of one or more gates now, without waiting for a new push or review: useful
        after a team membership changed, or when a status looks stale.

        ## Syntax

        ```
        /refire [GATE...|all]
        ```

        - **GATE**: configured gates, spelt as for `/sop-n/a` (`qa`, `qa-review`, `Security_Review`,
          `security review`, …), separated by commas and/or spaces.
        - No gate, or `all`: every configured gate, in configuration order.
        - Every word must name a gate or be `all`.

        ## Who may use it

        Anyone who can comment on the pull request. This is safe: the check only reads reviews and team
        memberships, so who asks for it cannot change its result.

        ## What sopbot answers

        sopbot evaluates each gate with its own token, posts the gate statuses on the pull request's head
        commit, and replies with the outcome per gate: approved (by whom), waived (by whom, why), still
        waiting (for which team), or an error when sopbot's token cannot read a team's members (the reply
        names the team, for an admin to fix). An unknown gate gets a reply with the usage line and
        nothing is checked.

        ## Examples

        Every gate:

        ```example
        /refire
        ```
        ```json
        [{"line": 1, "command": "refire", "gates": ["qa", "security"]}]
        ```

        One gate, any spelling:

        ```example
        /Refire Security_Review!
        ```
        ```json
        [{"line": 1, "command": "refire", "gates": ["security"]}]
        ```

        A command counts only at the start of a line:

        ```example
        To re-run the checks, comment /refire on a line of its own.
        ```
        ```json
        []
        ```

        A misspelt gate:

        ```example
        /refire secuirty
        ```
        ```json
        [{"line": 1, "error": "unknown gate `secuirty`; did you mean `security`?"}]
        ```

        A gate spelt with full-width or look-alike letters (here a Cyrillic `ѕ`) is refused:

        ```example
        /refire ｑａ
        /refire ѕecurity
        ```
        ```json
        [
          {"line": 1, "error": "unknown gate `ｑａ`: it is spelt with look-alike or full-width characters; did you mean `qa`?"},
          {"line": 2, "error": "unknown gate `ѕecurity`: it is spelt with look-alike or full-width characters; did you mean `security`?"}
        ]
        ```

        A misspelt command:

        ```example
        /refier qa
        ```
        ```json
        [{"line": 1, "error": "unknown command `/refier`; did you mean `/refire`?"}]
        ```

        # /sop-help

        Shows this reference.

        ## Syntax

        ```
        /sop-help
        ```

        Anything after `/sop-help` on the line is ignored.

        ## Who may use it

        Anyone who can comment on the pull request.

        ## What sopbot answers

        A reply with the reference of every command: this page and the pages of `/sop-n/a`,
        `/sop-revoke`, `/refire`, `/sop-hold` and `/sop-unhold`.

        ## How sopbot reads commands

        - A command counts only at the start of a line that Gitea shows as ordinary text (a paragraph
          line). `to /refire you need…` in the middle of a sentence is not a command, and neither is a
          list item's own line (`- /refire`). Up to 3 spaces before the command are fine; 4 or more (or a
          tab) make an indented code block after a blank line or at the start of the comment, but are
          fine on a line that directly continues a paragraph line.
        - A comment may hold several commands, one per line, among ordinary text. At most 10 are run; an
          11th command line gets an error and it and the lines after it are not run.
        - Command words and gate names ignore case, `_`, spaces and repeated `-`, and trailing `.` `!`
          `,` `;` `:` `?`: `/SOP_N/A`, `/Refire!` and `/sop-help.` all work.
        - A `/sop-…` word that is not a command, or a word one or two letters away from a command
          (`/refier`), is answered with an error and a suggestion. Any other `/word` (`/usr/bin`, `/cc`)
          is ordinary text.
        - Lines sopbot never reads as commands, because Gitea shows them as code, HTML or quotes rather
          than as a command you typed: code blocks (fenced with ```` ``` ```` or `~~~` at any depth, also
          inside list items and quotes, and indented ones), inline code spans, HTML blocks (`<pre>`,
          `<div>`, `<details>` up to the first blank line, …) and inline HTML (a tag opened inside a
          paragraph, such as `x <pre>`, hides the lines up to its closing tag or the paragraph's end),
          math blocks (`$$` … `$$`, `\[` … `\]`), images' text, struck-out
          text (`~~…~~`), quoted lines (starting with `>`; a line typed without `>` is not quoted, even
          right under a quote), and HTML comments (`<!-- … -->`). sopbot finds these regions with a
          CommonMark parser, as Gitea's renderer does.
        - Only the first 64 KiB of a comment are read.
        - Comments written by sopbot itself are never read.

        ## Examples

        ```example
        /sop-help
        ```
        ```json
        [{"line": 1, "command": "sop-help", "gates": []}]
        ```

        Quotes, code blocks and HTML comments are not read; text after `/sop-help` is ignored:

        ~~~~example
        > /refire
        Quoting a command does not run it, and neither does a code block:
        ```
        /sop-n/a qa example only
        ```
        <!-- /refire security -->
        /sop-help what can I do here?
        ~~~~
        ```json
        [{"line": 7, "command": "sop-help", "gates": []}]
        ```

        Other `/words` are ordinary text:

        ```example
        /cc @bob: the build log is under /var/log/ci
        /refire qa
        ```
        ```json
        [{"line": 2, "command": "refire", "gates": ["qa"]}]
        ```

        Leading spaces: up to 3 are fine, and so are more on a line that continues a paragraph line; an
        indented line after a blank line is an indented code block:

        ```example
           /refire qa
        Please re-run:
              /refire security
        An example of a waiver:

            /sop-n/a docs only
        ```
        ```json
        [
          {"line": 1, "command": "refire", "gates": ["qa"]},
          {"line": 3, "command": "refire", "gates": ["security"]}
        ]
        ```

        A fence inside a list item is still a code block; a list item's own line is not a command:

        ~~~~example
        - To waive a gate, comment:
          ```
          /sop-n/a qa docs only
          ```
        - /refire
        ~~~~
        ```json
        []
        ```

        HTML blocks are not read: `<pre>`, `<div>`, and `<details>` up to its first blank line:

        ```example
        <pre>
        /sop-n/a docs only
        </pre>
        <details>
        /sop-n/a security not affected
        </details>
        ```
        ```json
        []
        ```

        Inline HTML opened inside a paragraph hides what follows up to its closing tag or the end of the
        paragraph (any tag but a void or self-closing one such as `<br>`), and math blocks (`$$` … `$$`,
        `\[` … `\]`), which Gitea shows as code, are not read either:

        ```example
        x <pre>
        /sop-n/a qa docs
        </pre>
        see <details>
        /sop-n/a security docs

        $$
        /refire qa
        $$
        \[
        /sop-revoke qa
        \]
        /sop-help
        ```
        ```json
        [{"line": 13, "command": "sop-help", "gates": []}]
        ```

        After a blank line, the content of `<details>` is Markdown again, shown as text when opened, so
        a command there counts:

        ```example
        <details>
        <summary>Why no review</summary>

        /sop-n/a qa: docs only

        </details>
        ```
        ```json
        [{"line": 4, "command": "sop-n/a", "gates": ["qa"], "reason": "docs only"}]
        ```

        # /sop-hold

        Puts a hold on this pull request: its hold status (`sop / hold` by default, `[hold] context`)
        turns `failure` until someone releases it with `/sop-unhold`. The gates are not touched: a hold
        says "do not merge yet" whatever the reviews and waivers say.

        ## Syntax

        ```
        /sop-hold [SEPARATOR] REASON
        ```

        - **REASON** (required): the rest of the line, shown in the status and kept in the audit log.
        - **SEPARATOR** (optional): `—`, `–`, `:` or a free-standing `-`, as for `/sop-n/a`.

        ## Who may use it

        A member of the team of any configured gate, or of any team that may waive one (`waivable_by`).
        The PR author may hold their own PR when they are such a member. One hold at a time: a second
        `/sop-hold` on a held PR is answered with who holds it.

        ## What sopbot answers

        - **Accepted**: the hold is recorded (it survives restarts), audited (`hold.placed`), the hold
          status is posted as `failure` ("held by @carol: REASON"), and the reply says so.
        - **Refused**: a reply that says why (not a gate-team member, membership could not be checked,
          already held, PR not open). Nothing changes.

        A hold only blocks merging when branch protection requires its status context: add it to the
        rule's required status checks, and set `[hold] post_always = true` so that PRs never held carry
        a `success` hold status (a required context that is never posted blocks every PR).

        ## Examples

        ```example
        /sop-hold waiting for the release freeze to end
        ```
        ```json
        [{"line": 1, "command": "sop-hold", "gates": [], "reason": "waiting for the release freeze to end"}]
        ```

        A reason is required:

        ```example
        /sop-hold
        ```
        ```json
        [{"line": 1, "error": "missing reason: say why the PR is held; usage: /sop-hold REASON"}]
        ```

        # /sop-unhold

        Releases this pull request's hold: its hold status turns `success` ("not held").

        ## Syntax

        ```
        /sop-unhold [NOTE]
        ```

        - **NOTE** (optional): the rest of the line, kept in the audit log.

        ## Who may use it

        A member of the team of any configured gate, or of any team that may waive one — not only the
        member who placed the hold (a hold must not outlive its author's holiday). The PR author may
        release only a hold they placed themselves.

        ## What sopbot answers

        - **Accepted**: the hold is released, audited (`hold.released`), the hold status is posted as
          `success`, and the reply names who had held it.
        - **Refused**: a reply that says why (not a gate-team member, the author releasing someone
          else's hold, no hold to release). Nothing changes.

        ## Examples

        ```example
        /sop-unhold
        /sop-unhold: the freeze is over
        ```
        ```json
        [
          {"line": 1, "command": "sop-unhold", "gates": []},
          {"line": 2, "command": "sop-unhold", "gates": [], "reason": "the freeze is over"}
        ]
        ```

        </details>
        "#);

    // Replayed from Gitea's UI: same body, new delivery id.
    let mut replay = hook.clone();
    replay.delivery_id = gitea_emu::webhook::uuid_v4();
    assert_eq!(c.deliver(&replay).await, "duplicate");
    // The poller lists the comment too.
    c.poller_pass().await;
    c.barrier().await;
    assert_eq!(c.replies(id).len(), 1);
    assert_eq!(c.eyes(id), 1);
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_comment_never_delivered_is_handled_by_the_poller() {
    let c = Tester::start_polling().await;
    // No webhook configured: Gitea delivers nothing.
    let id = c.comment_unsent("bob", "/refire qa");
    let reply = c.expect_reply(id).await;
    assert!(reply.contains("| qa | ❌ failure |"), "{reply}");
    assert_eq!(c.eyes(id), 1);
    c.expect_status(QA, "failure", "awaiting").await;
    // The webhook turns up late after all: the same comment, not a second event.
    assert_eq!(c.deliver(&c.comment_hook(id, "created")).await, "duplicate");
    c.barrier().await;
    assert_eq!(c.replies(id).len(), 1);
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_never_reacts_to_its_own_comments() {
    let c = Tester::start_polling().await;
    let id = c.comment("bob", "/refire qa").await;
    c.expect_reply(id).await;
    let reply_id = c.replies(id)[0].id;
    let (status, body) = c.bot.deliver(&c.comment_hook(reply_id, "created")).await;
    assert_eq!(
        (status, body.as_str()),
        (200, "ignored: comment by the bot itself")
    );
    // Even a command in the bot's own words is not one: not by webhook, not by the poller.
    let own = c.comment_unsent("sopbot", "/sop-n/a security the bot said so");
    let (status, _) = c.bot.deliver(&c.comment_hook(own, "created")).await;
    assert_eq!(status, 200);
    c.poller_pass().await;
    c.barrier().await;
    for bot_comment in [reply_id, own] {
        assert!(c.world(|w| w.reactions(bot_comment)).is_empty());
        assert!(c.replies(bot_comment).is_empty());
    }
    assert!(c.waivers(true).await.is_empty());
    c.finish();
}

// ----- the status guard ----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_posted_success_whose_webhook_was_lost_is_overturned_by_the_sweep() {
    // A status moves no PR's `updated_at`: without its `status` webhook, the sweep finds it.
    let c = Tester::start_sweeping().await;
    // The poller's first sweep evaluates the PR.
    c.expect_status(QA, "failure", "awaiting").await;
    let head = c.head();
    c.world(|w| w.post_status(REPO, &head, "alice", "success", QA, "trust me", ""));
    c.expect_status(QA, "failure", "awaiting").await;

    let note = wait_for(
        "the guard's note on the PR",
        WAIT,
        || c.log(),
        || {
            c.world(|w| w.comments(REPO, PR)).into_iter().find(|x| {
                x.user.as_deref() == Some("sopbot") && x.body.contains("posted `success` on")
            })
        },
    )
    .await;
    assert!(
        note.body.contains(
            "@alice posted `success` on `qa-review / approved` by hand. Only sopbot decides this status: its verdict (`failure`) has been posted on top"
        ),
        "{}",
        note.body
    );
    let guard = c.audit_of("status.guard").await;
    assert_eq!(guard.len(), 1, "{guard:#?}");
    assert_eq!(guard[0]["actor"], "alice");
    assert!(guard[0]["detail"].as_str().unwrap().contains(QA));
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_posted_success_is_overturned_by_the_next_evaluation() {
    let c = Tester::start().await;
    let head = c.head();
    c.world(|w| w.post_status(REPO, &head, "alice", "success", SECURITY, "lgtm", ""));
    let id = c.comment("bob", "/refire security").await;
    let reply = c.expect_reply(id).await;
    assert!(
        reply.contains("@alice posted `success` on `security-review / approved` by hand. Only sopbot decides this status: its verdict (`failure`) has been posted on top"),
        "{reply}"
    );
    c.expect_status(SECURITY, "failure", "awaiting").await;
    let guard = c.audit_of("status.guard").await;
    assert_eq!(guard.len(), 1, "{guard:#?}");
    assert_eq!(guard[0]["actor"], "alice");
    c.finish();
}

// ----- crashes and bad input -------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_between_acceptance_and_completion_loses_nothing_and_repeats_nothing() {
    let mut c = Tester::setup().process().start().await;
    c.world(|w| w.review(REPO, PR, "bob", "APPROVED", "lgtm"));
    // Slow Gitea: every event spends a second or more in flight.
    c.emu.set_latency(Duration::from_millis(100));
    let commands = [
        ("bob", "/refire qa"),
        ("carol", "/sop-n/a security docs only"),
        ("alice", "/sop-n/a qa mine"),
        ("dave", "/refire"),
    ];
    let mut ids = Vec::new();
    for (user, body) in commands {
        ids.push(c.comment(user, body).await);
    }
    // Kill 1: the second comment has its 👀 and no reply yet — its event is half done.
    wait_for(
        "the 👀 on the second comment",
        WAIT,
        || c.log(),
        || (c.eyes(ids[1]) == 1).then_some(()),
    )
    .await;
    c.bot.kill();
    assert!(c.replies(ids[1]).is_empty(), "killed too late");
    let answered = ids.iter().filter(|id| !c.replies(**id).is_empty()).count();
    assert!(answered < ids.len(), "killed too late to prove anything");

    // Kill 2: a reply lands in Gitea, and the bot dies before it hears back.
    let before: usize = ids.iter().map(|id| c.replies(*id).len()).sum();
    c.emu
        .hold_answer("POST", COMMENTS_PATH, 1, Duration::from_secs(5));
    c.restart().await;
    wait_for(
        "a reply after the restart",
        WAIT,
        || c.log(),
        || {
            let now: usize = ids.iter().map(|id| c.replies(*id).len()).sum();
            (now > before).then_some(())
        },
    )
    .await;
    c.bot.kill();

    // The third start finishes everything.
    c.emu.clear_faults();
    c.restart().await;
    for id in &ids {
        let reply = c.expect_reply(*id).await;
        assert!(reply.contains("Gates on `"), "a complete reply: {reply}");
    }
    let db = sopbot::store::Store::open(&c.dir.path().join("sopbot.db"))
        .await
        .unwrap();
    c.eventually("every accepted event done", || async {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM inbox WHERE state <> 'done'")
            .fetch_one(db.pool())
            .await
            .unwrap();
        (n == 0).then_some(())
    })
    .await;
    db.close().await;
    for id in &ids {
        assert_eq!(c.replies(*id).len(), 1, "one reply to comment {id}");
        assert_eq!(c.eyes(*id), 1, "one 👀 on comment {id}");
    }
    let reply = c.expect_reply(ids[1]).await;
    assert!(reply.contains("waived `security`: `docs only`"), "{reply}");
    let reply = c.expect_reply(ids[2]).await;
    assert!(reply.contains("**not waived** `qa`"), "{reply}");

    let audit = c.audit().await;
    let rows: Vec<(String, String, String)> = audit
        .iter()
        .map(|a| {
            (
                a["action"].as_str().unwrap().to_string(),
                a["actor"].as_str().unwrap().to_string(),
                a["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let unique: BTreeSet<_> = rows.iter().cloned().collect();
    assert_eq!(rows.len(), unique.len(), "an audit row twice: {audit:#?}");
    let actions: Vec<(&str, &str)> = rows
        .iter()
        .map(|(a, who, _)| (a.as_str(), who.as_str()))
        .collect();
    assert_eq!(
        actions,
        [("waiver.created", "carol"), ("waiver.refused", "alice")]
    );
    assert_eq!(c.waivers(false).await.len(), 1);
    c.expect_status(QA, "success", "approved by @bob").await;
    c.expect_status(SECURITY, "success", "waived by @carol")
        .await;
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_webhooks_are_refused_and_change_nothing() {
    let c = Tester::start().await;
    let id = c.comment_unsent("carol", "/sop-n/a security docs only");
    let hook = c.comment_hook(id, "created");

    // Unsigned, as from a hook without a secret.
    assert_eq!(
        c.bot
            .post(&hook.signed_headers(""), hook.body.clone())
            .await,
        (401, "missing signature".to_string())
    );
    // Signed with another secret.
    assert_eq!(
        c.bot
            .post(&hook.signed_headers("not-the-secret"), hook.body.clone())
            .await,
        (401, "bad signature".to_string())
    );
    // Correctly signed, but not the event it claims.
    for body in [b"{not json".to_vec(), b"{}".to_vec(), b"[1,2]".to_vec()] {
        let bad = Delivery::new("issue_comment", "pull_request_comment", body.clone());
        let (status, why) = c.bot.deliver(&bad).await;
        assert_eq!(status, 400, "{} → {why}", String::from_utf8_lossy(&body));
    }
    // Over the 64 KiB limit.
    let mut big = hook.json();
    big["comment"]["body"] = Value::from("x".repeat(70 * 1024));
    let big = Delivery::new(
        "issue_comment",
        "pull_request_comment",
        serde_json::to_vec(&big).unwrap(),
    );
    assert_eq!(c.bot.deliver(&big).await.0, 413);

    // Still serving; nothing of the refused deliveries was stored or done.
    assert_eq!(c.bot.get("/healthz").await, (200, "ok".to_string()));
    assert!(c.replies(id).is_empty());
    assert_eq!(c.eyes(id), 0);
    assert!(c.waivers(true).await.is_empty());
    // The same comment, properly signed, is new to the bot.
    assert_eq!(c.deliver(&hook).await, "queued");
    c.expect_reply(id).await;
    c.expect_status(SECURITY, "success", "waived by @carol")
        .await;
    assert_eq!(c.waivers(false).await.len(), 1);
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_bot_cleanly() {
    let mut c = Tester::setup().process().start().await;
    let id = c.comment("bob", "/refire qa").await;
    c.expect_reply(id).await;
    let status = c.bot.terminate(WAIT).await;
    assert_eq!(status.code(), Some(0), "{}", c.log());
    c.finish();
}

// ----- what the poller catches up ----------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_whose_webhook_was_lost_is_caught_by_the_poller() {
    let c = Tester::start_polling().await;
    c.approve("bob").await;
    c.expect_status(QA, "success", "approved by @bob").await;
    let new = c.world(|w| w.push(REPO, PR));
    c.expect_status_on(&new, QA, "success", "approved by @bob")
        .await;
    c.expect_status_on(&new, SECURITY, "failure", "awaiting")
        .await;
    c.expect_status_on(&new, NA, "success", "no gates waived")
        .await;
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_whose_webhook_was_lost_is_caught_by_the_poller() {
    let c = Tester::start_polling().await;
    c.expect_status(QA, "failure", "awaiting").await;
    // A review moves the PR's `updated_at`: the fast pass lists it.
    c.world(|w| w.review(REPO, PR, "bob", "APPROVED", "lgtm"));
    c.expect_status(QA, "success", "approved by @bob").await;
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_review_re_requested_while_its_webhook_was_lost_is_caught_by_the_poller() {
    let c = Tester::start_polling().await;
    c.approve("bob").await;
    c.expect_status(QA, "success", "approved by @bob").await;
    // Re-requesting bob's review clears `official` on his approval (Gitea's AddReviewRequest):
    // it no longer counts, and the request moves the PR's `updated_at`.
    c.world(|w| w.request_review(REPO, PR, "bob"));
    c.expect_status(QA, "failure", "").await;
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pr_closed_while_its_webhook_was_lost_still_expires_its_waivers() {
    let c = Tester::start_polling().await;
    let waive = c.comment("carol", "/sop-n/a security docs only").await;
    c.expect_reply(waive).await;
    assert_eq!(c.waivers(false).await.len(), 1);
    c.world(|w| w.close_pr(REPO, PR, true));
    c.eventually("the waiver of the merged PR to expire", || async {
        c.waivers(false).await.is_empty().then_some(())
    })
    .await;
    let all = c.waivers(true).await;
    assert_eq!(all[0]["revoked_by"], "sopbot");
    assert_eq!(all[0]["revoke_reason"], "PR merged");
    // The webhook turns up after all: the same event, nothing more happens.
    let late = c.world(|w| w.webhook_for_pr(REPO, PR, "closed"));
    assert_eq!(c.deliver(&late).await, "duplicate");
    assert_eq!(c.audit_of("waiver.expired").await.len(), 1);
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiver_comment_deleted_while_its_webhook_was_lost_is_caught_by_the_poller() {
    let c = Tester::start_polling().await;
    let waive = c.comment("carol", "/sop-n/a security docs only").await;
    c.expect_reply(waive).await;
    c.expect_status(SECURITY, "success", "waived by @carol")
        .await;
    c.world(|w| w.delete_comment(REPO, waive));
    c.expect_status(SECURITY, "failure", "awaiting").await;
    c.expect_status(NA, "success", "no gates waived").await;
    let all = c.waivers(true).await;
    assert_eq!(all[0]["revoked_by"], "sopbot");
    // The webhook turns up after all: nothing more to revoke.
    c.deliver(&c.comment_hook(waive, "deleted")).await;
    c.barrier().await;
    assert_eq!(c.audit_of("waiver.revoked").await.len(), 1);
    c.finish();
}

// ----- the reasons a reply gives ---------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiver_without_a_reason_gets_usage_help_and_changes_nothing() {
    let c = Tester::start().await;
    let id = c.comment("carol", "/sop-n/a security").await;
    let reply = c.expect_reply(id).await;
    assert!(
        reply.contains("- line 1: missing reason: say why the gate does not apply; usage: /sop-n/a [GATE...] REASON"),
        "{reply}"
    );
    assert!(!reply.contains("Gates on"), "nothing to evaluate: {reply}");
    assert!(c.waivers(true).await.is_empty());
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refire_explains_an_approval_by_someone_outside_the_team() {
    let c = Tester::start().await;
    c.approve("dave").await;
    let id = c.comment("alice", "/refire qa").await;
    let reply = c.expect_reply(id).await;
    assert!(
        reply.contains("| qa | ❌ failure | awaiting an approval from a member of team qa (@dave is not in it) |"),
        "{reply}"
    );
    assert!(
        reply.contains("- `qa`: @dave approved but is not a member of the gate's team"),
        "{reply}"
    );
    c.expect_status(QA, "failure", "@dave is not in it").await;
    c.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_the_bot_cannot_read_is_an_error_with_the_fix_until_provisioned() {
    // The seed's 403: the bot is in the org (through qa) but not in security.
    let mut w = world();
    let security = w.team_id("security");
    w.remove_team_member(security, "sopbot");
    let c = Tester::setup_in(w).start().await;
    c.world(|w| w.review(REPO, PR, "carol", "APPROVED", "ok"));
    let id = c.comment("alice", "/refire security").await;
    let reply = c.expect_reply(id).await;
    assert!(
        reply.contains("the bot's token got **403** reading the team of @carol's approval. An admin must add the bot account to that team"),
        "{reply}"
    );
    c.expect_status(SECURITY, "error", "may not read it (403)")
        .await;

    // An admin provisions the bot, and someone asks again: every /refire looks afresh.
    c.world(|w| w.add_team_member(security, "sopbot"));
    let again = c.comment("alice", "/refire security").await;
    let reply = c.expect_reply(again).await;
    assert!(
        reply.contains("| security | ✅ success | approved by @carol (team security) |"),
        "{reply}"
    );
    c.expect_status(SECURITY, "success", "approved by @carol")
        .await;
    c.finish();
}

/// The core conversations once more against the emulator in Forgejo mode (`gitea_emu::flavor`):
/// Forgejo's version string, its lower-case `token` auth and its `X-Forgejo-*` webhook headers.
/// Only these few: the rest of the suite does not depend on which server sends the events.
mod forgejo {
    use super::*;

    async fn start() -> Tester {
        // The bot's log names the server it found: the real process.
        let c = Tester::setup_in(world().with_flavor(Flavor::Forgejo))
            .process()
            .start()
            .await;
        assert_eq!(c.world(|w| w.flavor()), Flavor::Forgejo);
        c
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refire_before_and_after_an_approval() {
        let c = start().await;
        assert!(
            c.log()
                .contains("talking to Forgejo 11.0.3 (Gitea 1.22.0 compatible)"),
            "the bot logs the server it found: {}",
            c.log()
        );
        refire_qa_before_and_after_bobs_approval(c).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_push_moves_the_statuses() {
        push_moves_the_statuses(start().await).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_waiver_then_its_revocation() {
        let c = start().await;
        security_member_waives(c).await;
        declarer_revokes(start().await).await
    }

    /// Only Forgejo's own headers, as a receiver that reads just those would see them: the
    /// `X-Forgejo-Signature` is checked (a wrong one is refused even when the others are
    /// right), and `X-Forgejo-Event-Type`/`-Delivery` are enough to route the event.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_x_forgejo_signature_is_checked() {
        let c = start().await;
        let id = c.comment_unsent("carol", "/sop-n/a security docs only");
        let hook = c.comment_hook(id, "created");
        let good = hook.signed_headers(common::serve::SECRET);
        assert!(good.iter().any(|(k, _)| k == "X-Forgejo-Signature"));

        let forged: Vec<(String, String)> = good
            .iter()
            .map(|(k, v)| match k.as_str() {
                "X-Forgejo-Signature" => (k.clone(), hook.signature("not-the-secret")),
                _ => (k.clone(), v.clone()),
            })
            .collect();
        assert_eq!(
            c.bot.post(&forged, hook.body.clone()).await,
            (401, "bad signature".to_string())
        );
        assert!(c.replies(id).is_empty());

        let only_forgejo: Vec<(String, String)> = good
            .into_iter()
            .filter(|(k, _)| k == "Content-Type" || k.starts_with("X-Forgejo-"))
            .collect();
        assert_eq!(only_forgejo.len(), 5);
        assert_eq!(c.bot.post(&only_forgejo, hook.body.clone()).await.0, 202);
        c.expect_reply(id).await;
        c.expect_status(SECURITY, "success", "waived by @carol")
            .await;
        c.finish();
    }
}
