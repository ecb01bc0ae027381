//! Code-review threads, as Gitea 1.25.4 stores and serves them (read at tag v1.25.4 in
//! `go-gitea/gitea`, `docs/gitea-api.md` §2 and §6):
//! - a comment on a line of the diff is a `code` comment row in a submitted COMMENT review
//!   (`CreateCodeComment`, `services/pull/review.go`); a reply in its thread is another `code`
//!   row in the same review, announced by `notify_service.CreateIssueComment`, i.e. the same
//!   `pull_request_comment` delivery as a conversation comment (`CreateIssueComment`,
//!   `services/webhook/notifier.go`), whose `comment` (`ToAPIComment`,
//!   `services/convert/issue_comment.go`) has no path, line or review id;
//! - `GET /issues/comments/{id}` answers a bodiless 204 for it (`GetIssueComment`), both comment
//!   listings filter on `Type: CommentTypeComment` and the timeline skips `CommentTypeCode`
//!   (`ListIssueComments`, `ListRepoIssueComments`, `ListIssueCommentsAndTimeline`, all in
//!   `routers/api/v1/repo/issue_comment.go`);
//! - it may be edited and deleted like a comment (`HasContentSupport`,
//!   `models/issues/comment.go`), and reacted to (`changeIssueCommentReaction`,
//!   `routers/api/v1/repo/issue_reaction.go`, no type check).

mod common;

use common::*;
use gitea_emu::{CommentKind, Emulator};
use serde_json::{json, Value};

/// A thread on `src/lib.rs:12` of PR 7 started by carol, and bob's reply in it.
fn thread(emu: &Emulator) -> (i64, i64) {
    emu.with_world(|w| {
        let first = w.code_comment("widgets", 7, "carol", "src/lib.rs", 12, "why a mutex?");
        let reply = w.reply_in_thread("widgets", 7, "bob", first, "/sop-n/a qa docs only");
        (first, reply)
    })
}

fn ids(a: &Answer) -> Vec<i64> {
    a.json
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn a_thread_reply_is_delivered_as_a_pull_request_comment_indistinguishable_from_one() {
    let emu = Emulator::start(scene()).await;
    let (first, reply) = thread(&emu);
    let plain = emu.with_world(|w| w.comment("widgets", 7, "bob", "/sop-n/a qa docs only"));
    let (d, p) = emu.with_world(|w| {
        (
            w.webhook_for_comment("widgets", 7, reply, "created"),
            w.webhook_for_comment("widgets", 7, plain, "created"),
        )
    });
    assert_eq!(
        (d.event.as_str(), d.event_type.as_str()),
        ("issue_comment", "pull_request_comment")
    );
    let body = d.json();
    assert_eq!(body["action"], "created");
    assert_eq!(body["is_pull"], true);
    assert_eq!(body["comment"]["id"], reply);
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(
        keys(&body["comment"]),
        keys(&p.json()["comment"]),
        "api.Comment has no path, line or review id: nothing in the payload tells a thread \
         reply from a conversation comment"
    );
    let html = body["comment"]["html_url"].as_str().unwrap();
    assert!(
        html.ends_with(&format!("/pulls/7#issuecomment-{reply}")),
        "a reply in a submitted review links like a comment (`hashLink`): {html}"
    );

    // The thread's first comment sends only the review's own delivery.
    let r = emu.with_world(|w| w.webhook_for_review("widgets", 7, "carol", "comment"));
    assert_eq!(r.event_type, "pull_request_review_comment");
    assert_eq!(r.json()["review"]["content"], "");
    assert_ne!(first, reply);
}

#[tokio::test]
async fn get_answers_204_and_no_listing_shows_thread_comments() {
    let emu = Emulator::start(scene()).await;
    let api = Api::new(&emu);
    let (first, reply) = thread(&emu);
    let plain = emu.with_world(|w| w.comment("widgets", 7, "bob", "a conversation comment"));

    for id in [first, reply] {
        let a = api
            .get(BOT, &format!("/repos/acme/widgets/issues/comments/{id}"))
            .await;
        assert_eq!((a.status, a.text.as_str()), (204, ""), "comment {id}");
    }
    let a = api
        .get(BOT, &format!("/repos/acme/widgets/issues/comments/{plain}"))
        .await;
    assert_eq!(a.status, 200);

    let per_issue = api.get(BOT, "/repos/acme/widgets/issues/7/comments").await;
    let repo_wide = api
        .get(BOT, "/repos/acme/widgets/issues/comments?page=1&limit=50")
        .await;
    let timeline = api
        .get(BOT, "/repos/acme/widgets/issues/7/timeline?page=1&limit=50")
        .await;
    for (name, a) in [
        ("per-issue", &per_issue),
        ("repo-wide", &repo_wide),
        ("timeline", &timeline),
    ] {
        let listed = ids(a);
        assert!(listed.contains(&plain), "{name} lists the plain comment");
        assert!(
            !listed.contains(&first) && !listed.contains(&reply),
            "{name} omits code comments: {listed:?}"
        );
    }
    let review_row = timeline
        .json
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["type"] == "review" && t["user"]["login"] == "carol");
    assert!(
        review_row.is_some(),
        "the single comment's review is in the timeline"
    );
    let reviews = api.get(BOT, "/repos/acme/widgets/pulls/7/reviews").await;
    let carol = reviews
        .json
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["user"]["login"] == "carol")
        .unwrap()
        .clone();
    assert_eq!(
        (
            &carol["state"],
            &carol["official"],
            &carol["comments_count"]
        ),
        (&json!("COMMENT"), &json!(false), &json!(2)),
        "`GetCodeCommentsCount` counts the reply, which joins the thread's review"
    );
}

#[tokio::test]
async fn thread_comments_can_be_edited_reacted_to_and_deleted() {
    let emu = Emulator::start(scene()).await;
    let api = Api::new(&emu);
    let (_, reply) = thread(&emu);
    let path = format!("/repos/acme/widgets/issues/comments/{reply}");

    let a = api.patch(BOB, &path, json!({"body": "edited"})).await;
    assert_eq!((a.status, &a.json["body"]), (200, &json!("edited")));
    let a = api
        .post(
            BOT,
            &format!("{path}/reactions"),
            json!({"content": "eyes"}),
        )
        .await;
    assert_eq!(a.status, 201);
    let a = api.call("DELETE", Some(BOB), &path, None).await;
    assert_eq!(a.status, 204);
    assert_eq!(api.get(BOT, &path).await.status, 404);
    let gone = emu.with_world(|w| w.webhook_for_comment("widgets", 7, reply, "deleted"));
    assert_eq!(gone.event_type, "pull_request_comment");
}

/// Rows without content: PATCH is a bare 204 that changes nothing, DELETE a bare 400
/// (`editIssueComment`, `deleteIssueComment`, `routers/api/v1/repo/issue_comment.go` @ v1.25.4).
/// Review bodies have content: they can be edited.
#[tokio::test]
async fn timeline_rows_without_content_refuse_edit_and_delete() {
    let emu = Emulator::start(scene()).await;
    let api = Api::new(&emu);
    let (push, review) = emu.with_world(|w| {
        w.push("widgets", 7);
        w.review("widgets", 7, "bob", "APPROVED", "ok");
        let t = w.timeline("widgets", 7);
        let find = |k: CommentKind| t.iter().rev().find(|c| c.kind == k).unwrap().id;
        (find(CommentKind::PullPush), find(CommentKind::Review))
    });
    let push_path = format!("/repos/acme/widgets/issues/comments/{push}");
    let a = api.patch(BOT, &push_path, json!({"body": "x"})).await;
    assert_eq!((a.status, a.text.as_str()), (204, ""));
    let a = api.call("DELETE", Some(BOT), &push_path, None).await;
    assert_eq!((a.status, a.text.as_str()), (400, ""));
    assert!(emu.with_world(|w| w.comment_by_id(push)).is_some());

    let review_path = format!("/repos/acme/widgets/issues/comments/{review}");
    let a = api.patch(BOB, &review_path, json!({"body": "ok!"})).await;
    assert_eq!((a.status, &a.json["body"]), (200, &json!("ok!")));
}

/// The timeline drops code comments *after* reading the page (`ListIssueCommentsAndTimeline`),
/// so a page can be short while later pages still have rows: only an empty page ends it.
#[tokio::test]
async fn a_timeline_page_is_short_where_code_comments_were_dropped() {
    let emu = Emulator::start(scene()).await;
    let api = Api::new(&emu);
    let before = emu.with_world(|w| w.timeline("widgets", 7).len());
    let (_, reply) = thread(&emu);
    let last = emu.with_world(|w| w.comment("widgets", 7, "bob", "after the thread"));
    // Rows now: the old ones, carol's review, her code comment, bob's reply, bob's comment.
    let limit = before + 2;
    let page1 = api
        .get(
            BOT,
            &format!("/repos/acme/widgets/issues/7/timeline?page=1&limit={limit}"),
        )
        .await;
    assert_eq!(page1.len(), before + 1, "the code comment left a hole");
    assert_eq!(page1.total(), Some(before + 1));
    let page2 = api
        .get(
            BOT,
            &format!("/repos/acme/widgets/issues/7/timeline?page=2&limit={limit}"),
        )
        .await;
    assert!(!ids(&page2).contains(&reply));
    assert_eq!(ids(&page2), vec![last], "the short page was not the end");
}
