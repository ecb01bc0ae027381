//! Round trips per command comment, to the store (SQL statements, counted from sqlx's
//! `sqlx::query` events) and to Gitea (the emulator's call log): each command is handled
//! in-process by the engine, as a worker would, on a PR whose team and membership answers are
//! cached by an earlier comment. The bounds are today's counts: a change that adds a round trip
//! fails here and says which.
//!
//! Its own test binary, outside tests/it/: it installs a process-wide tracing subscriber to
//! count SQL statements, which in the shared binary would count other tests' statements too.

use std::sync::{Arc, Mutex};

use gitea_emu::{Emulator, World};
use sopbot::bot::{event::CommentAction, event::Event, Ctx};
use sopbot::config::Config;
use sopbot::gitea::{ClientOptions, GiteaClient, TeamDirectory};
use sopbot::secret::Secret;
use sopbot::store::Store;
use tracing_subscriber::layer::SubscriberExt;

/// The SQL statements sqlx runs (one event per statement; sqlx logs no `BEGIN`/`COMMIT`), by
/// their summary.
#[derive(Clone, Default)]
struct Statements(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Statements {
    fn on_event(&self, e: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Summary(String);
        impl tracing::field::Visit for Summary {
            fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                if f.name() == "summary" {
                    self.0 = format!("{v:?}");
                }
            }
        }
        if e.metadata().target() == "sqlx::query" {
            let mut summary = Summary(String::new());
            e.record(&mut summary);
            // Opening a pooled connection is no round trip of the comment's.
            if !summary.0.contains("PRAGMA") {
                self.0.lock().unwrap().push(summary.0);
            }
        }
    }
}

/// The engine's context; `server` lines go in `[server]` (the details page's settings).
async fn ctx(emu: &Emulator, dir: &std::path::Path, server: &str) -> Arc<Ctx> {
    let text = format!(
        "[gitea]\nurl = \"{}\"\n[server]\n{server}[[repo]]\nname = \"acme/widgets\"\nbranches = [\"main\"]\n",
        emu.base_url()
    );
    let config = Config::from_toml(&text, &dir.join("sopbot.toml")).unwrap();
    let client = GiteaClient::new(
        &emu.base_url(),
        Secret::new(emu.token()),
        ClientOptions::default(),
    )
    .unwrap();
    let teams = TeamDirectory::new(client.clone(), std::time::Duration::from_secs(60));
    let store = Store::open(&dir.join("sopbot.db")).await.unwrap();
    Ctx::new(Arc::new(config), client, teams, store, "sopbot", false)
}

/// The (store statements, Gitea calls) of handling one new comment by `author`.
async fn cost(
    emu: &Emulator,
    ctx: &Ctx,
    statements: &Statements,
    author: &str,
    body: &str,
) -> (Vec<String>, Vec<String>) {
    let id = emu.with_world(|w| w.comment("widgets", 7, author, body));
    let event = Event::Comment {
        repo: "acme/widgets".into(),
        pr: sopbot::types::PrNumber(7),
        comment_id: id,
        action: CommentAction::Created,
        author: Some(author.into()),
        body: body.into(),
        updated_at: None,
        sender: Some(author.into()),
    };
    emu.clear_calls();
    statements.0.lock().unwrap().clear();
    sopbot::bot::handle(ctx, &event).await.unwrap();
    let calls = emu
        .calls()
        .iter()
        .map(|c| format!("{} {}", c.method, c.path))
        .collect();
    let sql = std::mem::take(&mut *statements.0.lock().unwrap());
    (sql, calls)
}

#[tokio::test]
async fn round_trips_per_command_comment() {
    let statements = Statements::default();
    let subscriber = tracing_subscriber::registry()
        .with(statements.clone())
        .with(
            tracing_subscriber::filter::Targets::new()
                .with_target("sqlx::query", tracing::Level::TRACE),
        );
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let emu = Emulator::start(World::example()).await;
    emu.with_world(|w| w.review("widgets", 7, "bob", "APPROVED", "lgtm"));
    let dir = tempfile::tempdir().unwrap();
    let ctx = ctx(&emu, dir.path(), "").await;
    // Warm the team directory: the first comment resolves the teams.
    cost(&emu, &ctx, &statements, "bob", "/refire").await;

    // (command, author, most store statements, most Gitea calls). Before handlers read only
    // what their commands need: 9/8, 12/9, 12/9, 8/4, 0/0. An evaluation then records the
    // head (and looks up who shares it) in the store instead of listing every open PR: +2.
    let cases = [
        ("/refire qa", "bob", 9, 8),
        ("/sop-n/a security no security impact", "carol", 14, 9),
        ("/sop-revoke security", "carol", 13, 9),
        ("/sop-help", "bob", 6, 3),
        ("thanks, looks good", "bob", 0, 0),
    ];
    let (report, over) = run(&emu, &ctx, &statements, &cases).await;
    println!("{report}");
    // The commands did what they say: the waiver was declared, then revoked.
    let waivers = ctx
        .store
        .list_waivers(&sopbot::store::WaiverFilter {
            include_revoked: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(waivers.len(), 1, "{waivers:?}");
    assert!(
        waivers[0].gate == "security" && !waivers[0].is_active(),
        "{waivers:?}"
    );
    assert!(over.is_empty(), "{report}\n{}", over.join("\n"));

    // With the details page on, each evaluation also stores what it found: one write per PR
    // evaluated, and a read of the last record when only some gates were evaluated (`/refire
    // qa`, a waiver's gates). Not one Gitea call more.
    let dir = tempfile::tempdir().unwrap();
    let server = "external_url = \"https://sopbot.example.test\"\nwebhook_secret = \"s\"\n";
    let paged = crate::ctx(&emu, dir.path(), server).await;
    cost(&emu, &paged, &statements, "bob", "/refire").await;
    let cases = [
        ("/refire qa", "bob", 9 + 2, 8),
        ("/sop-n/a security no security impact", "carol", 14 + 2, 9),
        ("/sop-revoke security", "carol", 13 + 2, 9),
        ("/sop-help", "bob", 6, 3),
        ("thanks, looks good", "bob", 0, 0),
    ];
    let (report, over) = run(&emu, &paged, &statements, &cases).await;
    println!("with the details page:\n{report}");
    assert!(over.is_empty(), "{report}\n{}", over.join("\n"));
}

/// Handles each case's comment; returns the report and the cases over their bounds.
async fn run(
    emu: &Emulator,
    ctx: &Ctx,
    statements: &Statements,
    cases: &[(&str, &str, usize, usize)],
) -> (String, Vec<String>) {
    let mut report = String::new();
    let mut over = Vec::new();
    for &(body, author, max_sql, max_calls) in cases {
        let (sql, calls) = cost(emu, ctx, statements, author, body).await;
        report.push_str(&format!(
            "{body:40} store {:2}  gitea {:2}\n",
            sql.len(),
            calls.len()
        ));
        if sql.len() > max_sql || calls.len() > max_calls {
            over.push(format!(
                "{body}: store {sql:#?} (max {max_sql}), gitea {calls:#?} (max {max_calls})"
            ));
        }
    }
    (report, over)
}
