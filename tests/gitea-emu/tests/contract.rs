//! Contract tests ported from Gitea's own integration tests (`tests/integration/*.go` in
//! `go-gitea/gitea` @ v1.25.4), for endpoints and deliveries sopbot relies on that
//! `tests/api.rs` (which cites its own sources) does not already cover. Each test names the Go
//! test it encodes; the emulator's scene stands in for Gitea's fixtures.

mod common;

use common::*;
use gitea_emu::Emulator;
use serde_json::json;

/// `api_team_user_test.go` `TestAPITeamUser` (`User2ReadSelf`): a member probing itself gets
/// 200 and the user; (`User2ReadUser1`) a non-member is 404.
#[tokio::test]
async fn a_team_member_probe_answers_the_user_or_404() {
    let emu = Emulator::start(scene()).await;
    let api = Api::new(&emu);
    let qa = emu.with_world(|w| w.team_id("qa"));
    let a = api.get(BOT, &format!("/teams/{qa}/members/sopbot")).await;
    assert_eq!((a.status, &a.json["login"]), (200, &json!("sopbot")));
    let a = api.get(BOT, &format!("/teams/{qa}/members/carol")).await;
    assert_eq!(a.status, 404);
}

/// `api_issue_reaction_test.go` `TestAPICommentReactions`: an unknown reaction is 403; deleting
/// a reaction that is not there is 200; a comment id of another repository is 404 for POST,
/// DELETE and GET; a new reaction is 201; the list is oldest first. The Go test's "Add existing
/// reaction → 403" re-sends a request whose body was already read (an empty reaction, hence
/// `ErrForbiddenIssueReaction`); a real duplicate takes `changeIssueCommentReaction`'s
/// `IsErrReactionAlreadyExist` branch: 200 with the reaction (`issue_reaction.go` @ v1.25.4).
#[tokio::test]
async fn comment_reactions_follow_gitea() {
    let emu = Emulator::start(scene().with_repo("gadgets")).await;
    let api = Api::new(&emu);
    let id = emu.with_world(|w| {
        let id = w.comment("widgets", 7, "bob", "hello");
        w.react(id, "carol", "laugh");
        id
    });
    let path = format!("/repos/acme/widgets/issues/comments/{id}/reactions");
    assert_eq!(
        api.post(BOT, &path, json!({"content": "wrong"}))
            .await
            .status,
        403
    );
    let a = api
        .call("DELETE", Some(BOT), &path, Some(json!({"content": "eyes"})))
        .await;
    assert_eq!(a.status, 200, "deleting what is not there");

    let unrelated = format!("/repos/acme/gadgets/issues/comments/{id}/reactions");
    for method in ["POST", "DELETE", "GET"] {
        let body = (method != "GET").then(|| json!({"content": "+1"}));
        let a = api.call(method, Some(BOT), &unrelated, body).await;
        assert_eq!(a.status, 404, "{method} on another repo's comment");
    }

    let a = api.post(BOT, &path, json!({"content": "+1"})).await;
    assert_eq!((a.status, &a.json["content"]), (201, &json!("+1")));
    let a = api.post(BOT, &path, json!({"content": "+1"})).await;
    assert_eq!((a.status, &a.json["content"]), (200, &json!("+1")));
    let list = api.get(BOT, &path).await;
    let got: Vec<(String, String)> = list
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["user"]["login"].as_str().unwrap().to_string(),
                r["content"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("carol".to_string(), "laugh".to_string()),
            ("sopbot".to_string(), "+1".to_string())
        ]
    );
}

/// `api_pull_review_test.go` `TestAPIPullReview`: `GET …/reviews/{id}` is exactly the list's
/// entry; an APPROVED review of an older commit is `stale`; `comments_count` counts the
/// review's code comments (`GetCodeCommentsCount`, `models/issues/review.go`).
#[tokio::test]
async fn a_single_review_is_its_list_entry() {
    let emu = Emulator::start(scene()).await;
    let api = Api::new(&emu);
    let (approval, comment_review) = emu.with_world(|w| {
        let approval = w.review("widgets", 7, "bob", "APPROVED", "lgtm");
        w.push("widgets", 7);
        let code = w.code_comment("widgets", 7, "carol", "src/lib.rs", 3, "typo");
        let review = w.comment_by_id(code).unwrap().review_id;
        (approval, review)
    });
    let list = api.get(BOT, "/repos/acme/widgets/pulls/7/reviews").await;
    let entry = |id: i64| {
        list.json
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap()
            .clone()
    };
    for id in [approval, comment_review] {
        let single = api
            .get(BOT, &format!("/repos/acme/widgets/pulls/7/reviews/{id}"))
            .await;
        assert_eq!((single.status, &single.json), (200, &entry(id)));
    }
    let a = entry(approval);
    assert_eq!(
        (
            &a["state"],
            &a["stale"],
            &a["official"],
            &a["comments_count"]
        ),
        (&json!("APPROVED"), &json!(true), &json!(true), &json!(0))
    );
    let c = entry(comment_review);
    assert_eq!(
        (&c["state"], &c["stale"], &c["comments_count"]),
        (&json!("COMMENT"), &json!(false), &json!(1))
    );
}

/// `repo_webhook_test.go` `Test_WebhookPullRequestComment`: a comment on a PR is a
/// `pull_request_comment` delivery, action `created`, carrying the issue (with its
/// repository's `name` and `full_name`, its title) and the comment's body.
#[tokio::test]
async fn a_pr_comment_delivery_carries_issue_and_comment() {
    let mut w = scene();
    let id = w.comment("widgets", 7, "bob", "pull title2 comment1");
    let d = w.webhook_for_comment("widgets", 7, id, "created");
    assert_eq!(d.event_type, "pull_request_comment");
    let p = d.json();
    assert_eq!(p["action"], "created");
    assert_eq!(p["issue"]["repository"]["name"], "widgets");
    assert_eq!(p["issue"]["repository"]["full_name"], "acme/widgets");
    assert_eq!(p["issue"]["title"], w.issue("widgets", 7).title.as_str());
    assert_eq!(p["comment"]["body"], "pull title2 comment1");
}

/// `repo_webhook_test.go` `Test_WebhookStatus`: posting a status sends a `status` delivery with
/// `X-Gitea-Event-Type`, `X-GitHub-Event-Type` and `X-Gogs-Event-Type` = `status`, the
/// installation target `repository`, and `commit.id` = `sha`, the repository, the context.
#[tokio::test]
async fn a_status_delivery_names_the_commit_and_context() {
    let mut w = scene();
    let sha = w.head_sha("widgets", 7);
    let id = w
        .post_status("widgets", &sha, "sopbot", "success", "testci", "", "")
        .id;
    let d = w.webhook_for_status("widgets", &sha, id);
    let headers = d.signed_headers("s");
    let header = |k: &str| {
        headers
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    };
    for k in [
        "X-Gitea-Event-Type",
        "X-GitHub-Event-Type",
        "X-Gogs-Event-Type",
    ] {
        assert_eq!(header(k), Some("status"), "{k}");
    }
    for k in [
        "X-Gitea-Hook-Installation-Target-Type",
        "X-GitHub-Hook-Installation-Target-Type",
    ] {
        assert_eq!(header(k), Some("repository"), "{k}");
    }
    let p = d.json();
    assert_eq!(p["commit"]["id"], sha.as_str());
    assert_eq!(p["sha"], sha.as_str());
    assert_eq!(p["context"], "testci");
    assert_eq!(p["repository"]["name"], "widgets");
    assert_eq!(p["repository"]["full_name"], "acme/widgets");
}

/// `api_repo_test.go` `TestAPIOrgRepos`: `GET /orgs/{org}/repos` lists the organisation's
/// repositories a caller may see (an outsider sees no private one); `listUserRepos` orders them
/// by id, pages them (`X-Total-Count` counts every repository, `Link` has `next`) and each
/// carries its `topics` (lower case) and `archived`. An unknown organisation is 404.
#[tokio::test]
async fn org_repos_list_what_the_caller_may_see_with_topics() {
    let mut world = scene()
        .with_repo("api")
        .with_topics("api", &["Go", "SOP-Gated"]);
    world.set_archived("api", true);
    let emu = Emulator::start(world).await;
    let api = Api::new(&emu);
    let a = api.get(BOT, "/orgs/acme/repos").await;
    assert_eq!(a.status, 200);
    let names: Vec<&str> = a
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["full_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["acme/widgets", "acme/api"]);
    assert_eq!(a.json[1]["topics"], json!(["go", "sop-gated"]));
    assert_eq!(a.json[1]["archived"], json!(true));
    assert_eq!(a.json[0]["topics"], json!([]));

    let a = api.get(BOT, "/orgs/acme/repos?limit=1").await;
    assert_eq!(a.json.as_array().unwrap().len(), 1);
    assert_eq!(a.headers["x-total-count"], "2");
    assert!(a.headers["link"].to_str().unwrap().contains("rel=\"next\""));

    let a = api.get(MALLORY, "/orgs/acme/repos").await;
    assert_eq!((a.status, a.json.clone()), (200, json!([])));
    assert_eq!(api.get(BOT, "/orgs/nope/repos").await.status, 404);
}
