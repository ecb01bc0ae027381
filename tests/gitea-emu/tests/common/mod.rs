//! Shared by the integration tests: a tiny HTTP client for the emulator and a scene to test in.

#![allow(dead_code)]

use chrono::{TimeZone, Utc};
use gitea_emu::{Emulator, World};
use reqwest::header::HeaderMap;
use serde_json::Value;

/// Tokens of the users in [`scene`].
pub const BOT: &str = "emu-token-sopbot";
pub const BOB: &str = "tok-bob";
pub const CAROL: &str = "tok-carol";
pub const MALLORY: &str = "tok-mallory";
pub const OLGA: &str = "tok-olga";
pub const ROOT: &str = "tok-root";
pub const READER: &str = "tok-reader";
pub const ALICE: &str = "tok-alice";

/// The fixtures' scenario (`fixtures/gitea/README.md`) with a manual clock, plus an org owner
/// (olga), a site admin (root), an outsider (mallory) and a read-only user (reader), each with a
/// token.
pub fn scene() -> World {
    World::example_at(Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap())
        .with_token("alice", ALICE)
        .with_token("bob", BOB)
        .with_token("carol", CAROL)
        .with_token("mallory", MALLORY)
        .with_org_owner("olga")
        .with_token("olga", OLGA)
        .with_site_admin("root")
        .with_token("root", ROOT)
        .with_read_only("reader")
        .with_token("reader", READER)
        .with_status_check_contexts("widgets", "main", &["qa-review / approved"])
}

/// One answer: status, headers and the body as JSON (`Value::Null` when empty or not JSON),
/// plus the raw body text.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub json: Value,
    pub text: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn total(&self) -> Option<usize> {
        self.header("x-total-count").and_then(|v| v.parse().ok())
    }

    pub fn len(&self) -> usize {
        self.json.as_array().map_or(0, Vec::len)
    }
}

/// A client for one emulator.
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
}

impl Api {
    pub fn new(emu: &Emulator) -> Self {
        Api {
            http: reqwest::Client::new(),
            base: emu.api_url(),
        }
    }

    pub async fn call(
        &self,
        method: &str,
        token: Option<&str>,
        path: &str,
        body: Option<Value>,
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.header("Authorization", format!("token {t}"));
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request reaches the emulator");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            json,
            text,
        }
    }

    pub async fn get(&self, token: &str, path: &str) -> Answer {
        self.call("GET", Some(token), path, None).await
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> Answer {
        self.call("POST", Some(token), path, Some(body)).await
    }

    pub async fn patch(&self, token: &str, path: &str, body: Value) -> Answer {
        self.call("PATCH", Some(token), path, Some(body)).await
    }
}
