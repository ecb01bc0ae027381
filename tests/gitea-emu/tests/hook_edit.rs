//! Editing a webhook's events through the API (`PATCH /repos/{o}/{r}/hooks/{id}`), as
//! `sopbot setup` does for an existing hook. Gitea's `editHook` (`routers/api/v1/utils/hook.go`)
//! rebuilds the events from the list: from 1.24 through `updateHookEvents`, which knows
//! `status` and `pull_request_review_request` (@ v1.25.4); in 1.23.x by hand, setting
//! `pull_request_review_request` but never `status` (or `package`), which keep their old value
//! (@ v1.23.8). Creation (`addHook`) sets `status` in both.

mod common;

use common::*;
use gitea_emu::{Emulator, World};
use serde_json::{json, Value};

const HOOKS: &str = "/repos/acme/widgets/hooks";

fn events(v: &Value) -> Vec<&str> {
    let mut e: Vec<&str> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    e.sort();
    e
}

/// An old hook without review requests or statuses, then an edit asking for both.
async fn edit_adding_events(world: World) -> (Value, Value) {
    let emu = Emulator::start(world.with_site_admin("sopbot")).await;
    let api = Api::new(&emu);
    let created = api
        .post(
            BOT,
            HOOKS,
            json!({"type": "gitea", "active": true,
                   "config": {"url": "https://bot.example/webhook", "content_type": "json"},
                   "events": ["pull_request_only", "pull_request_comment"]}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.json["id"].as_i64().unwrap();
    let edited = api
        .patch(
            BOT,
            &format!("{HOOKS}/{id}"),
            json!({"events": ["pull_request_only", "pull_request_comment",
                              "pull_request_review_request", "status"]}),
        )
        .await;
    assert_eq!(edited.status, 200, "{}", edited.text);
    let listed = api.get(BOT, HOOKS).await;
    (edited.json, listed.json[0].clone())
}

#[tokio::test]
async fn gitea_1_25_sets_status_and_review_requests_on_an_edit() {
    let (edited, listed) = edit_adding_events(scene()).await;
    let want = [
        "pull_request",
        "pull_request_comment",
        "pull_request_review_request",
        "status",
    ];
    assert_eq!(events(&edited), want);
    assert_eq!(events(&listed), want, "stored, not only echoed");
}

#[tokio::test]
async fn gitea_1_23_keeps_status_off_on_an_edit() {
    let (edited, listed) = edit_adding_events(scene().with_gitea_1_23_hook_edit()).await;
    let want = [
        "pull_request",
        "pull_request_comment",
        "pull_request_review_request",
    ];
    assert_eq!(events(&edited), want);
    assert_eq!(events(&listed), want);
}

#[tokio::test]
async fn gitea_1_23_keeps_status_on_when_an_edit_leaves_it_out() {
    let emu = Emulator::start(
        scene()
            .with_site_admin("sopbot")
            .with_gitea_1_23_hook_edit(),
    )
    .await;
    let api = Api::new(&emu);
    let created = api
        .post(
            BOT,
            HOOKS,
            json!({"type": "gitea", "active": true,
                   "config": {"url": "https://bot.example/webhook", "content_type": "json"},
                   "events": ["status", "push"]}),
        )
        .await;
    assert_eq!(
        events(&created.json),
        ["push", "status"],
        "addHook sets status"
    );
    let id = created.json["id"].as_i64().unwrap();
    let edited = api
        .patch(BOT, &format!("{HOOKS}/{id}"), json!({"events": ["push"]}))
        .await;
    assert_eq!(events(&edited.json), ["push", "status"]);
}

/// `updateHookEvents` @ v1.25.4: `pull_request` is every pull request event (`pullHook`), an
/// empty list is `push`, unknown names are dropped; an edit without events resets them.
#[tokio::test]
async fn the_events_list_is_read_as_gitea_reads_it() {
    let emu = Emulator::start(scene().with_site_admin("sopbot")).await;
    let api = Api::new(&emu);
    let hook = |events: Value| {
        json!({"type": "gitea", "active": true, "events": events,
               "config": {"url": "https://bot.example/webhook", "content_type": "json"}})
    };
    let all = api
        .post(BOT, HOOKS, hook(json!(["pull_request", "no_such_event"])))
        .await;
    assert_eq!(
        events(&all.json),
        [
            "pull_request",
            "pull_request_assign",
            "pull_request_comment",
            "pull_request_label",
            "pull_request_milestone",
            "pull_request_review",
            "pull_request_review_request",
            "pull_request_sync"
        ]
    );
    let none = api.post(BOT, HOOKS, hook(json!([]))).await;
    assert_eq!(events(&none.json), ["push"]);
    let id = all.json["id"].as_i64().unwrap();
    let edited = api
        .patch(BOT, &format!("{HOOKS}/{id}"), json!({"active": false}))
        .await;
    assert_eq!(events(&edited.json), ["push"]);
}
