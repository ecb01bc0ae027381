//! Injected faults, seen from a real HTTP client.

mod common;

use std::time::{Duration, Instant};

use common::*;
use gitea_emu::Emulator;

async fn version(
    client: &reqwest::Client,
    emu: &Emulator,
) -> Result<reqwest::Response, reqwest::Error> {
    client
        .get(format!("{}/version", emu.api_url()))
        .send()
        .await
}

#[tokio::test]
async fn fail_next_answers_the_status_then_recovers() {
    let emu = Emulator::start(scene()).await;
    let api = Api::new(&emu);
    emu.fail_next(2, 503);
    for _ in 0..2 {
        let a = api.get(BOT, "/repos/acme/widgets/pulls/7").await;
        assert_eq!(a.status, 503);
        assert_eq!(
            a.text, "503 Service Unavailable\n",
            "a proxy-style body, not JSON"
        );
    }
    assert_eq!(
        api.get(BOT, "/repos/acme/widgets/pulls/7").await.status,
        200
    );
    emu.fail_next(1, 500);
    let a = api.get(BOT, "/user").await;
    assert_eq!(
        (a.status, &a.json["message"]),
        (500, &serde_json::json!("")),
        "a 500 is Gitea's JSON"
    );
    let statuses: Vec<u16> = emu.calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [503, 503, 200, 500]);
}

#[tokio::test]
async fn rate_limit_sends_retry_after() {
    let emu = Emulator::start(scene()).await;
    let api = Api::new(&emu);
    emu.rate_limit_next(1, 7);
    let a = api.get(BOT, "/user").await;
    assert_eq!((a.status, a.header("retry-after")), (429, Some("7")));
    assert_eq!(api.get(BOT, "/user").await.status, 200);
}

#[tokio::test]
async fn a_stall_outlasts_a_client_timeout() {
    let emu = Emulator::start(scene()).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    emu.stall_next(1, Duration::from_secs(5));
    let err = version(&client, &emu)
        .await
        .expect_err("the stalled call times out");
    assert!(err.is_timeout(), "{err}");
    assert_eq!(version(&client, &emu).await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_stall_shorter_than_the_timeout_just_delays() {
    let emu = Emulator::start(scene()).await;
    let client = reqwest::Client::new();
    emu.stall_next(1, Duration::from_millis(150));
    let t = Instant::now();
    assert_eq!(version(&client, &emu).await.unwrap().status(), 200);
    assert!(t.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn a_dropped_call_closes_the_connection_without_an_answer() {
    let emu = Emulator::start(scene()).await;
    let client = reqwest::Client::new();
    assert_eq!(version(&client, &emu).await.unwrap().status(), 200);
    emu.drop_next(1);
    let err = version(&client, &emu).await.expect_err("no answer");
    assert!(!err.is_timeout() && err.status().is_none(), "{err}");
    assert_eq!(version(&client, &emu).await.unwrap().status(), 200);
    let statuses: Vec<u16> = emu.calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [200, 0, 200], "status 0: nothing was answered");
}

#[tokio::test]
async fn down_means_503_until_back_up() {
    let emu = Emulator::start(scene()).await;
    let client = reqwest::Client::new();
    emu.set_down(true);
    for _ in 0..3 {
        assert_eq!(version(&client, &emu).await.unwrap().status(), 503);
    }
    emu.set_down(false);
    assert_eq!(version(&client, &emu).await.unwrap().status(), 200);
}

#[tokio::test]
async fn latency_delays_every_answer() {
    let emu = Emulator::start(scene()).await;
    let client = reqwest::Client::new();
    emu.set_latency(Duration::from_millis(120));
    let t = Instant::now();
    version(&client, &emu).await.unwrap();
    version(&client, &emu).await.unwrap();
    assert!(t.elapsed() >= Duration::from_millis(240));
    emu.clear_faults();
    let t = Instant::now();
    version(&client, &emu).await.unwrap();
    assert!(t.elapsed() < Duration::from_millis(120));
}

#[tokio::test]
async fn fail_ratio_is_random_but_repeatable_with_a_seed() {
    async fn run(seed: u64) -> Vec<u16> {
        let emu = Emulator::start(scene()).await;
        let client = reqwest::Client::new();
        emu.seed_faults(seed);
        emu.fail_ratio(0.3, &[502, 503]);
        let mut out = Vec::new();
        for _ in 0..60 {
            out.push(version(&client, &emu).await.unwrap().status().as_u16());
        }
        out
    }
    let a = run(7).await;
    assert_eq!(a, run(7).await);
    let failed = a.iter().filter(|s| **s != 200).count();
    assert!((8..=30).contains(&failed), "{failed} of 60 failed");
    assert!(a.iter().all(|s| [200, 502, 503].contains(s)));
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let emu = Emulator::start(scene()).await;
    let client = reqwest::Client::new();
    let url = format!("{}/version", emu.api_url());
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    emu.shutdown().await;
    let fresh = reqwest::Client::new();
    assert!(fresh.get(&url).send().await.is_err());
}

#[tokio::test]
async fn a_held_answer_comes_late_but_its_effect_is_visible_at_once() {
    let emu = Emulator::start(scene()).await;
    let api = Api::new(&emu);
    let path = "/api/v1/repos/acme/widgets/issues/7/comments";
    emu.hold_answer("POST", path, 1, Duration::from_millis(400));
    let t = Instant::now();
    let posting = api.post(
        BOT,
        "/repos/acme/widgets/issues/7/comments",
        serde_json::json!({"body": "held"}),
    );
    let watching = async {
        // The comment exists well before its answer arrives.
        loop {
            if emu.with_world(|w| w.comments("widgets", 7).iter().any(|c| c.body == "held")) {
                return t.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let (answer, seen) = tokio::join!(posting, watching);
    assert_eq!(answer.status, 201);
    assert!(t.elapsed() >= Duration::from_millis(400));
    assert!(seen < Duration::from_millis(300), "seen after {seen:?}");
    // Used up: GETs on the same path and the next POST are not held.
    let t = Instant::now();
    assert_eq!(
        api.get(BOT, "/repos/acme/widgets/issues/7/comments")
            .await
            .status,
        200
    );
    api.post(
        BOT,
        "/repos/acme/widgets/issues/7/comments",
        serde_json::json!({"body": "quick"}),
    )
    .await;
    assert!(t.elapsed() < Duration::from_millis(300));
}
