//! Behaviour of the emulated API over HTTP: paging quirks, the team 403/404 rule, PENDING
//! visibility, stale and official flags, comments and their time filters, statuses, reactions,
//! auth, and the call log.

mod common;

use common::*;
use gitea_emu::Emulator;
use serde_json::{json, Value};

fn ids(a: &Answer) -> Vec<i64> {
    a.json
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_i64().unwrap())
        .collect()
}

/// `ListPullRequests` (`routers/api/v1/repo/pull.go` @ v1.25.4); ported from
/// `tests/integration/api_pull_test.go` (`TestAPIViewPulls`: the open PRs, newest first).
#[tokio::test]
async fn pull_list_is_paged_with_total_count_and_link() {
    let mut world = scene();
    for i in 0..64 {
        world.open_pr("widgets", "alice", "main", &format!("load/{i}"));
    }
    let emu = Emulator::start(world).await;
    let api = Api::new(&emu);

    let a = api.get(BOT, "/repos/acme/widgets/pulls").await;
    assert_eq!((a.len(), a.total()), (30, Some(65)), "limit defaults to 30");
    let base = format!("{}/repos/acme/widgets/pulls", api.base);
    assert_eq!(
        a.header("link").unwrap(),
        format!("<{base}?page=2>; rel=\"next\",<{base}?page=3>; rel=\"last\"")
    );
    let a = api
        .get(BOT, "/repos/acme/widgets/pulls?state=open&limit=100&page=2")
        .await;
    assert_eq!(a.len(), 15, "limit is capped at 50");
    assert!(a.header("link").unwrap().contains("rel=\"first\""));
    let a = api
        .get(BOT, "/repos/acme/widgets/pulls?limit=50&page=2")
        .await;
    assert!(!a.header("link").unwrap().contains("rel=\"next\""));
    let first = api.get(BOT, "/repos/acme/widgets/pulls?limit=1").await;
    assert_eq!(first.json[0]["number"], 71, "newest first by default");
    let oldest = api
        .get(BOT, "/repos/acme/widgets/pulls?limit=1&sort=oldest")
        .await;
    assert_eq!(oldest.json[0]["number"], 7);

    emu.with_world(|w| w.close_pr("widgets", 7, true));
    let open = api
        .get(BOT, "/repos/acme/widgets/pulls?state=open&limit=50")
        .await;
    assert_eq!(open.total(), Some(64));
    let closed = api.get(BOT, "/repos/acme/widgets/pulls?state=closed").await;
    assert_eq!((closed.len(), &closed.json[0]["merged"]), (1, &json!(true)));
}

#[tokio::test]
async fn pull_request_fields_follow_gitea() {
    let emu = Emulator::start(scene()).await;
    let api = Api::new(&emu);
    let (base_sha, head_sha) = emu.with_world(|w| {
        (
            w.branch("widgets", "main").sha.clone(),
            w.head_sha("widgets", 7),
        )
    });
    let pr = api.get(BOT, "/repos/acme/widgets/pulls/7").await.json;
    assert_eq!(pr["number"], 7);
    assert_eq!(pr["state"], "open");
    assert_eq!(pr["merged"], false);
    assert_eq!(pr["merge_commit_sha"], Value::Null);
    assert_eq!(pr["head"]["sha"], head_sha.as_str());
    assert_eq!(pr["head"]["label"], "feature/rate-limiter");
    assert_eq!(pr["head"]["repo_id"], 1);
    assert_eq!(pr["base"]["ref"], "main");
    assert_eq!(pr["base"]["sha"], base_sha.as_str());
    assert_eq!(pr["merge_base"], base_sha.as_str());
    let html = format!("{}/acme/widgets/pulls/7", emu.base_url());
    assert_eq!(
        (pr["html_url"].as_str(), pr["url"].as_str()),
        (Some(html.as_str()), Some(html.as_str()))
    );

    // base.sha is the tip of the base branch, not the merge base.
    let moved = emu.with_world(|w| w.advance_branch("widgets", "main"));
    let pr = api.get(BOT, "/repos/acme/widgets/pulls/7").await.json;
    assert_eq!(
        (pr["base"]["sha"].as_str(), pr["merge_base"].as_str()),
        (Some(moved.as_str()), Some(base_sha.as_str()))
    );

    emu.with_world(|w| w.set_pr_text("widgets", 7, "WIP: rate limiter", ""));
    assert_eq!(
        api.get(BOT, "/repos/acme/widgets/pulls/7").await.json["draft"],
        true
    );

    emu.with_world(|w| w.set_pr_empty_diff("widgets", 7));
    assert_eq!(
        api.get(BOT, "/repos/acme/widgets/pulls/7").await.json["changed_files"],
        0
    );

    emu.with_world(|w| w.close_pr_by("widgets", 7, true, "bob"));
    let pr = api.get(BOT, "/repos/acme/widgets/pulls/7").await.json;
    assert_eq!(
        (
            pr["state"].as_str(),
            &pr["merged"],
            pr["merged_by"]["login"].as_str()
        ),
        (Some("closed"), &json!(true), Some("bob"))
    );
    assert_eq!(pr["merge_commit_sha"], pr["base"]["sha"]);

    let issue = emu.with_world(|w| w.open_issue("widgets", "alice", "a plain issue"));
    assert_eq!(
        api.get(BOT, &format!("/repos/acme/widgets/pulls/{issue}"))
            .await
            .status,
        404
    );
}

/// `reqTeamMembership` (`routers/api/v1/api.go` @ v1.25.4); ported from
/// `tests/integration/api_team_user_test.go` @ v1.25.4 (`TestAPITeamUser`: a non-member is 404,
/// a member 200) and `api_team_test.go` (`TestAPITeam`: a user outside the team without admin
/// rights is 403 on `GET /teams/{id}`).
#[tokio::test]
async fn team_probes_follow_req_team_membership() {
    let emu = Emulator::start(scene()).await;
    let api = Api::new(&emu);
    let (qa, security) = emu.with_world(|w| (w.team_id("qa"), w.team_id("security")));
    let probe = |tok: &'static str, path: String| {
        let api = &api;
        async move { api.get(tok, &path).await }
    };

    // The bot is in qa: 200 for a member, 404 "not found" for a non-member.
    assert_eq!(probe(BOT, format!("/teams/{qa}")).await.status, 200);
    assert_eq!(
        probe(BOT, format!("/teams/{qa}/members/bob")).await.status,
        200
    );
    assert_eq!(
        probe(BOT, format!("/teams/{qa}/members/alice"))
            .await
            .status,
        404
    );
    // carol is in the org (security) but not in qa: 403.
    for path in [
        format!("/teams/{qa}"),
        format!("/teams/{qa}/members"),
        format!("/teams/{qa}/members/bob"),
    ] {
        let a = probe(CAROL, path).await;
        assert_eq!(
            (a.status, &a.json["message"]),
            (403, &json!("Must be a team member"))
        );
    }
    // mallory is not in the org at all: 404 even for a real member.
    assert_eq!(
        probe(MALLORY, format!("/teams/{security}/members/carol"))
            .await
            .status,
        404
    );
    assert_eq!(
        probe(MALLORY, format!("/teams/{security}")).await.status,
        404
    );
    // Org owners and site admins see every team.
    assert_eq!(
        probe(OLGA, format!("/teams/{qa}/members/bob")).await.status,
        200
    );
    assert_eq!(
        probe(ROOT, format!("/teams/{security}/members/carol"))
            .await
            .status,
        200
    );
    assert_eq!(
        probe(ROOT, format!("/teams/{security}/members/bob"))
            .await
            .status,
        404
    );
    // Unknown team id: 404 for everyone.
    assert_eq!(probe(ROOT, "/teams/999".into()).await.status, 404);

    // Team changes apply at once (and send no webhook).
    emu.with_world(|w| w.add_team_member(qa, "carol"));
    assert_eq!(
        probe(CAROL, format!("/teams/{qa}/members/bob"))
            .await
            .status,
        200
    );
    emu.with_world(|w| w.remove_team_member(qa, "bob"));
    assert_eq!(
        probe(BOT, format!("/teams/{qa}/members/bob")).await.status,
        404
    );
}

#[tokio::test]
async fn team_members_and_org_teams_list() {
    let mut world = scene();
    for i in 0..35 {
        world = world.with_team(&format!("t{i:02}"), &["sopbot"]);
    }
    let emu = Emulator::start(world).await;
    let api = Api::new(&emu);
    let qa = emu.with_world(|w| w.team_id("qa"));

    let a = api.get(BOT, "/orgs/acme/teams").await;
    assert_eq!(
        (a.len(), a.total()),
        (30, Some(38)),
        "Owners, qa, security and 35 more"
    );
    assert_eq!(a.json[0]["name"], "Owners", "ordered by name");
    assert!(a.json[0]["organization"].is_null());
    assert_eq!(api.get(BOT, "/orgs/acme/teams?page=2").await.len(), 8);
    assert_eq!(api.get(BOT, "/orgs/ACME/teams?limit=50").await.len(), 38);
    assert_eq!(api.get(BOT, "/orgs/nope/teams").await.status, 404);
    let a = api.get(MALLORY, "/orgs/acme/teams").await;
    assert_eq!(
        (a.status, &a.json["message"]),
        (403, &json!("Must be an organization member"))
    );

    let a = api.get(BOT, &format!("/teams/{qa}/members")).await;
    let logins: Vec<&str> = a
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["login"].as_str().unwrap())
        .collect();
    assert_eq!(
        logins,
        ["sopbot", "bob"],
        "by full name (sopbot has none), then name"
    );
    assert_eq!(a.total(), Some(2));
    assert_eq!(
        api.get(BOT, &format!("/teams/{qa}/members?page=2&limit=1"))
            .await
            .len(),
        1
    );

    let a = api.get(BOT, "/user/teams").await;
    assert_eq!(a.total(), Some(37));
    assert_eq!(a.json[0]["organization"]["name"], "acme");
}

/// `ListPullReviews` (`routers/api/v1/repo/pull_review.go` @ v1.25.4); the shapes of
/// `tests/integration/api_pull_review_test.go` (`TestAPIPullReview`).
#[tokio::test]
async fn pending_reviews_are_hidden_but_counted() {
    let emu = Emulator::start(scene()).await;
    let api = Api::new(&emu);
    let (pending, approval) = emu.with_world(|w| {
        let p = w.review("widgets", 7, "carol", "APPROVE", "LGTM (misfiled)");
        let a = w.review("widgets", 7, "bob", "APPROVED", "");
        (p, a)
    });
    let path = "/repos/acme/widgets/pulls/7/reviews";

    let a = api.get(BOT, path).await;
    assert_eq!(ids(&a), [approval]);
    assert_eq!(
        a.total(),
        Some(2),
        "X-Total-Count counts before the PENDING filter"
    );
    let a = api.get(CAROL, path).await;
    assert_eq!(ids(&a), [pending, approval], "the reviewer sees their own");
    assert_eq!(a.json[0]["state"], "PENDING");
    assert_eq!(a.json[0]["official"], false);
    assert_eq!(
        ids(&api.get(ROOT, path).await),
        [pending, approval],
        "site admins see all"
    );
    assert_eq!(api.get(BOT, &format!("{path}/{pending}")).await.status, 404);
    assert_eq!(
        api.get(CAROL, &format!("{path}/{pending}")).await.status,
        200
    );

    // The misfiled review still leaves a `review` entry in the timeline.
    let t = api.get(BOT, "/repos/acme/widgets/issues/7/timeline").await;
    let review_ids: Vec<i64> = t
        .json
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "review")
        .map(|e| e["review_id"].as_i64().unwrap())
        .collect();
    assert_eq!(review_ids, [pending, approval]);

    // Paged only when `page` is given.
    emu.with_world(|w| {
        for _ in 0..40 {
            w.review("widgets", 7, "bob", "COMMENT", "nit");
        }
    });
    assert_eq!(api.get(BOT, path).await.len(), 41, "no page: everything");
    let a = api.get(ROOT, &format!("{path}?page=1&limit=50")).await;
    assert_eq!((a.len(), a.total()), (42, Some(42)));
    assert_eq!(api.get(ROOT, &format!("{path}?page=2")).await.len(), 12);
    assert!(api
        .get(ROOT, &format!("{path}?page=1"))
        .await
        .header("link")
        .is_none());
}

#[tokio::test]
async fn push_marks_reviews_stale_and_new_verdicts_flip_official() {
    let emu = Emulator::start(scene()).await;
    let api = Api::new(&emu);
    let path = "/repos/acme/widgets/pulls/7/reviews";
    let first = emu.with_world(|w| w.review("widgets", 7, "bob", "APPROVED", "LGTM"));
    let r = &api.get(BOT, path).await.json[0];
    assert_eq!(
        (&r["official"], &r["stale"], &r["dismissed"]),
        (&json!(true), &json!(false), &json!(false))
    );

    let head = emu.with_world(|w| w.push("widgets", 7));
    let second = emu.with_world(|w| w.review("widgets", 7, "bob", "REQUEST_CHANGES", "broke it"));
    let rs = api.get(BOT, path).await.json;
    assert_eq!(
        rs[0]["stale"], true,
        "reviews of older commits are stale after a push"
    );
    assert_eq!(
        rs[0]["official"], false,
        "a newer verdict revokes officialness"
    );
    assert_eq!(rs[0]["dismissed"], true);
    assert_eq!(
        (rs[1]["id"].as_i64(), &rs[1]["commit_id"]),
        (Some(second), &json!(head))
    );
    assert_eq!(
        (&rs[1]["official"], &rs[1]["stale"]),
        (&json!(true), &json!(false))
    );
    assert_ne!(first, second);

    emu.with_world(|w| w.dismiss("widgets", 7, second));
    assert_eq!(api.get(BOT, path).await.json[1]["dismissed"], true);
    let timeline = api
        .get(BOT, "/repos/acme/widgets/issues/7/timeline")
        .await
        .json;
    assert!(timeline
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["type"] == "dismiss_review"));
    assert!(timeline
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["type"] == "pull_push"));

    // A user marked unofficial never gives an official verdict.
    let emu = Emulator::start(scene().with_unofficial("bob")).await;
    emu.with_world(|w| w.review("widgets", 7, "bob", "APPROVED", ""));
    assert_eq!(
        Api::new(&emu).get(BOT, path).await.json[0]["official"],
        false
    );
}

/// `ListIssueComments` (`routers/api/v1/repo/issue_comment.go` @ v1.25.4); ported from
/// `tests/integration/api_comment_test.go` (`TestAPIListIssueComments`: every plain comment of
/// the issue, `since`/`before` on `updated_unix`).
#[tokio::test]
async fn issue_comments_are_unpaged_and_filtered_on_updated_at() {
    let emu = Emulator::start(scene()).await;
    let api = Api::new(&emu);
    // Manual clock: one second per event from 2026-03-02T10:00:00Z.
    let (a, b, c) = emu.with_world(|w| {
        let a = w.comment("widgets", 7, "bob", "first");
        let b = w.comment("widgets", 7, "carol", "second");
        w.review(
            "widgets",
            7,
            "bob",
            "COMMENT",
            "a review body is not a comment",
        );
        let c = w.comment("widgets", 7, "bob", "third");
        for i in 0..40 {
            w.comment("widgets", 7, "alice", &format!("more {i}"));
        }
        (a, b, c)
    });
    let times: Vec<String> = emu.with_world(|w| {
        [a, b, c]
            .iter()
            .map(|id| {
                w.comment_by_id(*id)
                    .unwrap()
                    .updated
                    .format("%Y-%m-%dT%H:%M:%SZ")
                    .to_string()
            })
            .collect()
    });
    let path = "/repos/acme/widgets/issues/7/comments";

    let all = api.get(BOT, &format!("{path}?page=1&limit=5")).await;
    assert_eq!(
        (all.len(), all.total()),
        (43, Some(43)),
        "page and limit are ignored"
    );
    assert_eq!(&ids(&all)[..3], [a, b, c], "review bodies are not comments");

    let win = api
        .get(
            BOT,
            &format!("{path}?since={}&before={}", times[1], times[2]),
        )
        .await;
    assert_eq!(ids(&win), [b, c], "since and before are inclusive");

    // Editing moves updated_at, so an edited comment shows up after a later cursor.
    emu.with_world(|w| {
        w.advance_clock(chrono::Duration::seconds(100));
        w.edit_comment("widgets", a, "first, edited");
    });
    let after = api
        .get(
            BOT,
            &format!("{path}?since={}", "2026-03-02T10:01:00%2B00:00"),
        )
        .await;
    assert_eq!(ids(&after), [a]);
    assert_ne!(after.json[0]["created_at"], after.json[0]["updated_at"]);

    let bad = api.get(BOT, &format!("{path}?before=2026-13-01")).await;
    assert_eq!(bad.status, 422);
    let unknown = api.get(BOT, "/repos/acme/widgets/issues/99/comments").await;
    assert_eq!(unknown.status, 500, "an unknown index is a 500, not a 404");
    let as_admin = api
        .get(ROOT, "/repos/acme/widgets/issues/99/comments")
        .await;
    let message = as_admin.json["message"].as_str().unwrap();
    assert!(!message.is_empty(), "admins see the error text");
}

/// `ListRepoIssueComments` (same file); ported from `tests/integration/api_comment_test.go`
/// @ v1.25.4 (`TestAPIListRepoComments`: the repository's plain comments, `since`/`before`).
#[tokio::test]
async fn repo_wide_comments_are_paged_only_with_page() {
    let emu = Emulator::start(scene()).await;
    let api = Api::new(&emu);
    let (issue, first, last) = emu.with_world(|w| {
        let issue = w.open_issue("widgets", "alice", "bug");
        let first = w.comment("widgets", 7, "bob", "on the PR");
        w.comment("widgets", issue, "bob", "on the issue");
        let mut last = 0;
        for i in 0..60 {
            last = w.comment("widgets", 7, "carol", &format!("c{i}"));
        }
        (issue, first, last)
    });
    let path = "/repos/acme/widgets/issues/comments";
    let all = api.get(BOT, path).await;
    assert_eq!(
        (all.len(), all.total()),
        (62, Some(62)),
        "no page: every comment of the repo"
    );
    assert_eq!(ids(&all)[0], first);
    assert_eq!(*ids(&all).last().unwrap(), last, "ascending by creation");
    let on_issue = &all.json[1];
    assert_eq!(on_issue["pull_request_url"], "");
    assert!(on_issue["issue_url"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/acme/widgets/issues/{issue}")));
    assert!(all.json[0]["html_url"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/pulls/7#issuecomment-{first}")));

    let p1 = api.get(BOT, &format!("{path}?page=1")).await;
    assert_eq!((p1.len(), p1.total()), (30, Some(62)));
    assert!(p1.header("link").is_none(), "no Link header on this list");
    assert_eq!(
        api.get(BOT, &format!("{path}?page=2&limit=50")).await.len(),
        12
    );
}

/// Ported from `tests/integration/api_comment_test.go` @ v1.25.4: `TestAPICreateComment` (201),
/// `TestAPIEditComment` and `TestAPIDeleteComment` (200 / 204, and a bodiless 404 for the id of
/// a comment of another repository, `UnrelatedCommentID`), `TestAPIGetComment` (200).
#[tokio::test]
async fn comment_writes_and_their_errors() {
    let emu = Emulator::start(scene().with_repo("gadgets")).await;
    let api = Api::new(&emu);
    let a = api
        .post(
            BOT,
            "/repos/acme/widgets/issues/7/comments",
            json!({"body": "hello <b>"}),
        )
        .await;
    assert_eq!(a.status, 201);
    let id = a.json["id"].as_i64().unwrap();
    assert_eq!(a.json["user"]["login"], "sopbot");
    assert_eq!(
        emu.with_world(|w| w.comments("widgets", 7))
            .last()
            .unwrap()
            .body,
        "hello <b>"
    );
    assert_eq!(
        api.post(BOT, "/repos/acme/widgets/issues/7/comments", json!({}))
            .await
            .status,
        422
    );

    let path = format!("/repos/acme/widgets/issues/comments/{id}");
    let a = api.patch(BOT, &path, json!({"body": "hello again"})).await;
    assert_eq!((a.status, &a.json["body"]), (200, &json!("hello again")));
    let a = api
        .patch(BOB, &path, json!({"body": "bob may edit: he has write"}))
        .await;
    assert_eq!(a.status, 200);
    let a = api
        .patch(READER, &path, json!({"body": "reader may not"}))
        .await;
    assert_eq!(
        (a.status, a.text.as_str()),
        (403, ""),
        "403 with an empty body"
    );
    let a = api
        .patch(
            BOT,
            "/repos/acme/gadgets/issues/comments/{id}"
                .replace("{id}", &id.to_string())
                .as_str(),
            json!({"body": "x"}),
        )
        .await;
    assert_eq!(
        (a.status, a.text.as_str()),
        (404, ""),
        "a comment of another repo: empty 404"
    );
    let a = api
        .patch(
            BOT,
            "/repos/acme/widgets/issues/comments/9999",
            json!({"body": "x"}),
        )
        .await;
    assert_eq!((a.status, &a.json["message"]), (404, &json!("not found")));

    // Timeline rows share the id space but are not comments.
    let review = emu.with_world(|w| {
        w.review("widgets", 7, "bob", "APPROVED", "ok");
        w.timeline("widgets", 7)
            .iter()
            .find(|c| c.kind == gitea_emu::CommentKind::Review)
            .unwrap()
            .id
    });
    assert_eq!(
        api.get(
            BOT,
            &format!("/repos/acme/widgets/issues/comments/{review}")
        )
        .await
        .status,
        204
    );

    let a = api.call("DELETE", Some(BOT), &path, None).await;
    assert_eq!(a.status, 204);
    assert_eq!(api.get(BOT, &path).await.status, 404);
}

/// Ported from `tests/integration/api_issue_reaction_test.go` @ v1.25.4
/// (`TestAPICommentReactions`; more of it in `tests/contract.rs`).
#[tokio::test]
async fn reactions_are_idempotent_and_checked() {
    let emu = Emulator::start(scene()).await;
    let api = Api::new(&emu);
    let id = emu.with_world(|w| w.comment("widgets", 7, "bob", "/refire qa"));
    let path = format!("/repos/acme/widgets/issues/comments/{id}/reactions");
    let a = api.post(BOT, &path, json!({"content": "eyes"})).await;
    assert_eq!(
        (a.status, &a.json["content"], &a.json["user"]["login"]),
        (201, &json!("eyes"), &json!("sopbot"))
    );
    assert_eq!(
        api.post(BOT, &path, json!({"content": "eyes"}))
            .await
            .status,
        200
    );
    let a = api.post(BOT, &path, json!({"content": ":eyes:"})).await;
    assert_eq!(
        (a.status, &a.json["message"]),
        (403, &json!("':eyes:' is not an allowed reaction"))
    );
    assert_eq!(
        api.post(
            BOT,
            "/repos/acme/widgets/issues/comments/9999/reactions",
            json!({"content": "eyes"})
        )
        .await
        .status,
        404
    );
    let rs = emu.with_world(|w| w.reactions(id));
    assert_eq!(rs.len(), 1);
    assert_eq!(
        (rs[0].user.as_str(), rs[0].content.as_str()),
        ("sopbot", "eyes")
    );
    assert_eq!(api.get(BOT, &path).await.len(), 1);
    assert_eq!(
        api.call("DELETE", Some(BOT), &path, Some(json!({"content": "eyes"})))
            .await
            .status,
        200
    );
    assert!(emu.with_world(|w| w.reactions(id)).is_empty());
}

#[tokio::test]
async fn statuses_are_recorded_listed_and_combined() {
    let emu = Emulator::start(scene()).await;
    let api = Api::new(&emu);
    let head = emu.with_world(|w| w.head_sha("widgets", 7));
    let post = |body: Value| {
        let api = &api;
        let head = head.clone();
        async move {
            api.post(BOT, &format!("/repos/acme/widgets/statuses/{head}"), body)
                .await
        }
    };
    let a = post(
        json!({"state": "pending", "context": "qa-review / approved", "description": "checking"}),
    )
    .await;
    assert_eq!(
        (a.status, &a.json["id"], &a.json["status"]),
        (201, &json!(1), &json!("pending"))
    );
    assert_eq!(
        a.json["url"],
        format!("{}/repos/acme/widgets/statuses/{head}", api.base)
    );
    assert_eq!(a.json["created_at"], a.json["updated_at"]);
    post(json!({"state": "success", "context": "qa-review / approved", "description": "approved by @bob"})).await;
    post(json!({"state": "success", "context": "security-review / approved"})).await;

    let st = emu.with_world(|w| w.statuses("widgets", &head));
    assert_eq!(st.len(), 3);
    assert_eq!(
        (
            st[1].creator.as_str(),
            st[1].state.as_str(),
            st[1].description.as_str()
        ),
        ("sopbot", "success", "approved by @bob")
    );
    assert_eq!(
        emu.with_world(|w| w.latest_statuses("widgets", &head))
            .len(),
        2
    );

    // A short SHA is expanded; an unknown one is a 500.
    let short = api
        .post(
            BOT,
            &format!("/repos/acme/widgets/statuses/{}", &head[..10]),
            json!({"state": "error", "context": "x"}),
        )
        .await;
    assert_eq!(short.json["id"], 4);
    let unknown = api
        .post(
            BOT,
            &format!("/repos/acme/widgets/statuses/{}", "0".repeat(40)),
            json!({"state": "success"}),
        )
        .await;
    assert_eq!(
        (unknown.status, &unknown.json["message"]),
        (500, &json!(""))
    );
    let denied = api
        .post(
            READER,
            &format!("/repos/acme/widgets/statuses/{head}"),
            json!({"state": "success"}),
        )
        .await;
    assert_eq!(denied.status, 403);

    let list = api
        .get(BOT, &format!("/repos/acme/widgets/statuses/{head}?limit=2"))
        .await;
    assert_eq!(
        (ids(&list), list.total()),
        (vec![4, 3], Some(4)),
        "newest first"
    );
    assert!(list.header("link").unwrap().contains("rel=\"next\""));
    assert_eq!(
        api.get(
            BOT,
            &format!("/repos/acme/widgets/statuses/{}", &head[..10])
        )
        .await
        .len(),
        0,
        "not resolved"
    );

    let c = api
        .get(BOT, &format!("/repos/acme/widgets/commits/{head}/status"))
        .await;
    assert_eq!(
        c.json["state"], "failure",
        "any error makes the combination failure"
    );
    assert_eq!(
        (c.json["total_count"].as_i64(), c.total()),
        (Some(3), Some(3))
    );
    let contexts: Vec<&str> = c.json["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["context"].as_str().unwrap())
        .collect();
    assert_eq!(
        contexts,
        ["qa-review / approved", "security-review / approved", "x"],
        "latest per context, by index"
    );
    let c = api
        .get(
            BOT,
            "/repos/acme/widgets/commits/feature%2Frate-limiter/status?limit=2",
        )
        .await;
    assert_eq!(
        (c.json["statuses"].as_array().unwrap().len(), c.total()),
        (2, Some(3)),
        "contexts are paged"
    );
    post(json!({"state": "warning", "context": "x"})).await;
    let c = api
        .get(BOT, &format!("/repos/acme/widgets/commits/{head}/status"))
        .await;
    assert_eq!(
        c.json["state"], "success",
        "success, warning and skipped combine to success"
    );
    post(json!({"state": "pending", "context": "x"})).await;
    assert_eq!(
        api.get(BOT, &format!("/repos/acme/widgets/commits/{head}/status"))
            .await
            .json["state"],
        "pending"
    );
    assert_eq!(
        api.get(BOT, "/repos/acme/widgets/commits/no-such-branch/status")
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn authentication_rules() {
    let emu = Emulator::start(scene()).await;
    let api = Api::new(&emu);
    let a = api.call("GET", None, "/user", None).await;
    assert_eq!(
        (a.status, &a.json["message"]),
        (401, &json!("token is required"))
    );
    assert!(a.json["url"].as_str().unwrap().ends_with("/api/swagger"));
    let a = api.get("nope", "/repos/acme/widgets").await;
    assert_eq!(
        (a.status, &a.json["message"]),
        (401, &json!("invalid username, password or token"))
    );
    let bearer = api
        .http
        .get(format!("{}/user", api.base))
        .header("Authorization", format!("BEARER {BOT}"))
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 200);
    assert_eq!(
        api.call("GET", None, "/version", None).await.status,
        200,
        "version needs no token"
    );
    let me = api.get(BOT, "/user").await.json;
    assert_eq!(
        me["email"], "sopbot@acme.example",
        "the owner sees their own fields"
    );
    let bob = api
        .get(
            BOT,
            &format!("/teams/{}/members/bob", emu.with_world(|w| w.team_id("qa"))),
        )
        .await
        .json;
    assert_eq!(bob["is_admin"], false);
    assert_eq!(bob["username"], "bob");
}

/// Gitea 1.25 `routers/api/v1/api.go` `tokenRequiresScopes`: the route group's category, `read`
/// for GET and `write` otherwise, checked after authentication and before the route resolves;
/// the denial is `APIError(403, "token does not have at least one of required scope(s),
/// required=%v, token scope=%v")`. Ported from `tests/integration/api_token_test.go`
/// (`TestAPIDeniesPermissionBasedOnTokenScope`: a token lacking the category gets 403).
#[tokio::test]
async fn a_token_without_the_route_groups_scope_gets_giteas_403() {
    const NARROW: &str = "tok-narrow";
    let world = scene().with_scoped_token("sopbot", NARROW, &["write:repository", "read:issue"]);
    let emu = Emulator::start(world).await;
    let api = Api::new(&emu);
    let team = emu.with_world(|w| w.team_id("qa"));

    let a = api.get(NARROW, &format!("/teams/{team}/members/bob")).await;
    assert_eq!(a.status, 403);
    assert_eq!(
        a.json["message"],
        "token does not have at least one of required scope(s), required=[read:organization], token scope=write:repository,read:issue"
    );
    assert!(a.json["url"].as_str().unwrap().ends_with("/api/swagger"));
    assert_eq!(api.get(NARROW, "/orgs/acme/teams").await.status, 403);
    let a = api.get(NARROW, "/user").await;
    assert_eq!(a.status, 403);
    assert!(a.text.contains("required=[read:user]"), "{}", a.text);

    // write:repository holds read:repository; read:issue reads issues but may not comment.
    assert_eq!(
        api.get(NARROW, "/repos/acme/widgets/pulls").await.status,
        200
    );
    assert_eq!(
        api.get(NARROW, "/repos/acme/widgets/issues/7/comments")
            .await
            .status,
        200
    );
    let a = api
        .post(
            NARROW,
            "/repos/acme/widgets/issues/7/comments",
            json!({"body": "hi"}),
        )
        .await;
    assert_eq!(a.status, 403);
    assert!(a.text.contains("required=[write:issue]"), "{}", a.text);
    assert_eq!(
        api.call("GET", Some(NARROW), "/version", None).await.status,
        200
    );
    // Scopes are checked before anything is looked up: no 404 leaks past them.
    assert_eq!(api.get(NARROW, "/teams/999999").await.status, 403);
    // Authentication comes first: an unknown token is still a 401.
    assert_eq!(api.get("nope", "/teams/1").await.status, 401);
    // The default token holds `all`.
    assert_eq!(
        api.get(BOT, &format!("/teams/{team}/members/bob"))
            .await
            .status,
        200
    );
}

/// Gitea `routers/api/v1/repo/issue_comment.go` `ListIssueCommentsAndTimeline` sets
/// `X-Total-Count` to the length of the page it sends, not of the timeline.
#[tokio::test]
async fn the_timelines_total_count_is_the_page_length() {
    let mut world = scene();
    for i in 0..7 {
        world.comment("widgets", 7, "bob", &format!("note {i}"));
    }
    let emu = Emulator::start(world).await;
    let api = Api::new(&emu);
    let all = api.get(BOT, "/repos/acme/widgets/issues/7/timeline").await;
    assert!(all.len() > 5, "{}", all.text);
    let first = api
        .get(BOT, "/repos/acme/widgets/issues/7/timeline?page=1&limit=5")
        .await;
    assert_eq!((first.len(), first.total()), (5, Some(5)));
    let last_page = all.len().div_ceil(5);
    let last = api
        .get(
            BOT,
            &format!("/repos/acme/widgets/issues/7/timeline?page={last_page}&limit=5"),
        )
        .await;
    let rest = all.len() - 5 * (last_page - 1);
    assert_eq!((last.len(), last.total()), (rest, Some(rest)));
}

#[tokio::test]
async fn the_call_log_records_every_request() {
    let emu = Emulator::start(scene()).await;
    let api = Api::new(&emu);
    api.get(BOT, "/repos/acme/widgets/pulls?state=open&page=1")
        .await;
    api.post(
        BOT,
        "/repos/acme/widgets/issues/7/comments",
        json!({"body": "hi"}),
    )
    .await;
    api.get(BOT, "/nope").await;
    let calls = emu.calls();
    assert_eq!(calls.len(), 3);
    assert!(calls[0].is("GET", "/api/v1/repos/acme/widgets/pulls"));
    assert_eq!(
        (calls[0].query.as_str(), calls[0].status),
        ("state=open&page=1", 200)
    );
    assert_eq!((calls[1].method.as_str(), calls[1].status), ("POST", 201));
    assert_eq!(
        (calls[2].path.as_str(), calls[2].status),
        ("/api/v1/nope", 404)
    );
    emu.clear_calls();
    assert!(emu.calls().is_empty());
}
