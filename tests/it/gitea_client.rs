//! The Gitea client and team directory against the emulated Gitea (`tests/gitea-emu`): real
//! HTTP, Gitea's status codes and paging, and injected faults.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use gitea_emu::{Emulator, World};
use sopbot::gate::Membership;
use sopbot::gitea::{
    ClientOptions, GiteaClient, GiteaError, NewStatus, ResolvedTeam, ReviewState, StatusState,
    TeamDirectory, TeamError,
};
use sopbot::secret::Secret;
use sopbot::types::{RepoName, TeamRef};

fn widgets() -> RepoName {
    "acme/widgets".parse().unwrap()
}

fn options() -> ClientOptions {
    ClientOptions {
        timeout: Duration::from_secs(2),
        retries: 2,
        backoff_base: Duration::from_millis(1),
        backoff_max: Duration::from_millis(10),
        retry_after_max: Duration::from_secs(2),
        ..ClientOptions::default()
    }
}

fn client(emu: &Emulator) -> GiteaClient {
    GiteaClient::new(&emu.base_url(), Secret::new(emu.token()), options()).unwrap()
}

/// Calls made to exactly this API path (after `/api/v1`).
fn count(emu: &Emulator, method: &str, path: &str) -> usize {
    let full = format!("/api/v1{path}");
    emu.calls().iter().filter(|c| c.is(method, &full)).count()
}

#[tokio::test]
async fn reads_the_example_world() {
    let emu = Emulator::start(World::example()).await;
    let c = client(&emu);

    assert_eq!(c.version().await.unwrap().version, "1.25.4");
    let me = c.current_user().await.unwrap();
    assert_eq!(me.login, "sopbot");
    assert!(!me.is_admin);

    let repo = c.repo(&widgets()).await.unwrap();
    assert_eq!(repo.full_name, "acme/widgets");

    let pr = c.pull(&widgets(), 7).await.unwrap();
    assert!(pr.is_open());
    assert_eq!(pr.author(), Some("alice"));
    assert_eq!(pr.head.ref_name, "feature/rate-limiter");
    assert_eq!(pr.base.ref_name, "main");
    assert_eq!(pr.head.sha, emu.with_world(|w| w.head_sha("widgets", 7)));

    let open = c.open_pulls(&widgets()).await.unwrap();
    assert_eq!(open.iter().map(|p| p.number).collect::<Vec<_>>(), [7]);

    assert!(c.branch(&widgets(), "main").await.unwrap().protected);
    let err = c.pull(&widgets(), 99).await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(count(&emu, "GET", "/repos/acme/widgets/pulls/99"), 1);
}

#[tokio::test]
async fn reviews_comments_reactions_and_statuses_round_trip() {
    let emu = Emulator::start(World::example()).await;
    let c = client(&emu);
    emu.with_world(|w| {
        w.review("widgets", 7, "bob", "APPROVED", "lgtm");
        w.comment_without_user("widgets", 7, "imported from elsewhere");
    });

    let reviews = c.reviews(&widgets(), 7).await.unwrap();
    let bob = reviews
        .iter()
        .find(|r| r.reviewer() == Some("bob"))
        .unwrap();
    assert_eq!(bob.state, ReviewState::Approved);
    assert!(bob.official && !bob.dismissed && !bob.stale);
    assert!(c
        .timeline(&widgets(), 7)
        .await
        .unwrap()
        .iter()
        .any(|t| t.kind == "review" && t.review_id == bob.id));

    let posted = c.post_comment(&widgets(), 7, "hello").await.unwrap();
    assert_eq!(posted.pr_number(), Some(7));
    assert_eq!(posted.author(), Some("sopbot"));
    let edited = c
        .edit_comment(&widgets(), posted.id, "hello again")
        .await
        .unwrap();
    assert_eq!(edited.body, "hello again");
    assert_eq!(
        c.comment(&widgets(), posted.id)
            .await
            .unwrap()
            .unwrap()
            .body,
        "hello again"
    );
    c.react(&widgets(), posted.id, "eyes").await.unwrap();
    c.react(&widgets(), posted.id, "eyes").await.unwrap();
    let err = c.react(&widgets(), posted.id, "party").await.unwrap_err();
    assert!(err.is_forbidden(), "{err:?}");

    let comments = c.issue_comments(&widgets(), 7).await.unwrap();
    assert_eq!(comments.len(), 2);
    assert!(
        comments.iter().any(|c| c.user.is_none()),
        "user: null is read"
    );

    let sha = pr_head(&emu);
    let status = NewStatus {
        state: StatusState::Failure,
        context: "qa-review / approved".into(),
        description: "awaiting a qa approval".into(),
        target_url: None,
    };
    let created = c.post_status(&widgets(), &sha, &status).await.unwrap();
    assert_eq!(created.state, "failure");
    let success = NewStatus {
        state: StatusState::Success,
        ..status
    };
    c.post_status(&widgets(), &sha, &success).await.unwrap();
    let history = c.statuses(&widgets(), &sha).await.unwrap();
    assert_eq!(history.len(), 2);
    let latest = c.latest_statuses(&widgets(), &sha).await.unwrap();
    assert_eq!(latest.len(), 1);
    assert_eq!(latest[0].state, "success");
    assert!(c
        .latest_statuses(&widgets(), "main")
        .await
        .unwrap()
        .is_empty());
}

fn pr_head(emu: &Emulator) -> String {
    emu.with_world(|w| w.head_sha("widgets", 7))
}

#[tokio::test]
async fn long_listings_are_read_page_by_page() {
    let emu = Emulator::start(World::example()).await;
    emu.with_world(|w| {
        for i in 0..120 {
            w.comment("widgets", 7, "bob", &format!("comment {i}"));
        }
    });
    let since = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap();
    let all = client(&emu)
        .repo_comments_since(&widgets(), since)
        .await
        .unwrap();
    assert_eq!(all.len(), 120);
    let pages: Vec<_> = emu
        .calls()
        .into_iter()
        .filter(|c| c.path == "/api/v1/repos/acme/widgets/issues/comments")
        .map(|c| c.query)
        .collect();
    assert_eq!(pages.len(), 3, "{pages:?}");
    for (i, q) in pages.iter().enumerate() {
        assert!(q.contains(&format!("page={}", i + 1)), "{q}");
        assert!(q.contains("limit=50"), "{q}");
        assert!(q.contains("since=2000-01-01T00%3A00%3A00Z"), "{q}");
    }
}

#[tokio::test]
async fn a_500_is_retried_and_a_404_is_not() {
    let emu = Emulator::start(World::example()).await;
    let c = client(&emu);
    emu.fail_next(1, 500);
    assert_eq!(c.pull(&widgets(), 7).await.unwrap().number, 7);
    assert_eq!(count(&emu, "GET", "/repos/acme/widgets/pulls/7"), 2);

    emu.set_down(true);
    let err = c.pull(&widgets(), 7).await.unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert_eq!(count(&emu, "GET", "/repos/acme/widgets/pulls/7"), 5);
}

#[tokio::test]
async fn retry_after_is_waited_out() {
    let emu = Emulator::start(World::example()).await;
    emu.rate_limit_next(1, 1);
    let started = Instant::now();
    client(&emu).current_user().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(950));
    assert_eq!(count(&emu, "GET", "/user"), 2);
}

#[tokio::test]
async fn stalls_time_out_and_dropped_connections_are_retried_for_reads() {
    let emu = Emulator::start(World::example()).await;
    let fast = ClientOptions {
        timeout: Duration::from_millis(100),
        ..options()
    };
    let c = GiteaClient::new(&emu.base_url(), Secret::new(emu.token()), fast).unwrap();
    emu.stall_next(3, Duration::from_secs(1));
    let err = c.version().await.unwrap_err();
    assert!(matches!(err, GiteaError::Timeout { .. }), "{err:?}");
    assert_eq!(err.to_string(), "GET /version timed out");

    emu.drop_next(1);
    assert_eq!(client(&emu).version().await.unwrap().version, "1.25.4");
}

#[tokio::test]
async fn a_comment_whose_connection_dropped_is_not_posted_twice() {
    let emu = Emulator::start(World::example()).await;
    emu.drop_next(1);
    let err = client(&emu)
        .post_comment(&widgets(), 7, "once")
        .await
        .unwrap_err();
    assert!(matches!(err, GiteaError::Transport { .. }), "{err:?}");
    assert_eq!(
        count(&emu, "POST", "/repos/acme/widgets/issues/7/comments"),
        1
    );
}

#[tokio::test]
async fn a_bad_token_is_unauthorized_and_never_printed() {
    let emu = Emulator::start(World::example()).await;
    let token = "not-a-real-token-4f1d";
    let c = GiteaClient::new(&emu.base_url(), Secret::new(token), options()).unwrap();
    let err = c.current_user().await.unwrap_err();
    assert!(matches!(err, GiteaError::Unauthorized { .. }), "{err:?}");
    for text in [err.to_string(), format!("{err:?}"), format!("{c:?}")] {
        assert!(!text.contains(token), "{text}");
    }
    assert_eq!(count(&emu, "GET", "/user"), 1);
}

/// The example world plus `qa-leads` (bot inside) and `ops` (bot outside).
fn teams_world() -> World {
    World::example()
        .with_user("dave")
        .with_team("qa-leads", &["dave", "sopbot"])
        .with_team("ops", &["dave"])
}

#[tokio::test]
async fn team_names_resolve_exactly_and_membership_follows_gitea() {
    let emu = Emulator::start(teams_world()).await;
    let dir = TeamDirectory::new(client(&emu), Duration::from_secs(60));
    let qa_id = emu.with_world(|w| w.team_id("qa"));

    let qa = dir
        .resolve("acme", &TeamRef::Name("QA".into()))
        .await
        .unwrap();
    assert_eq!(qa.id, qa_id);
    assert_eq!(qa.name, "qa");

    assert_eq!(dir.membership(&qa, "bob", false).await, Membership::Member);
    assert_eq!(
        dir.membership(&qa, "dave", false).await,
        Membership::NotMember
    );
    assert_eq!(
        dir.membership(&qa, "nobody", false).await,
        Membership::NotMember
    );

    let err = dir
        .resolve("acme", &TeamRef::Name("ops".into()))
        .await
        .unwrap_err();
    assert!(matches!(err, TeamError::TeamForbidden { .. }), "{err}");
    let ops = ResolvedTeam {
        id: emu.with_world(|w| w.team_id("ops")),
        name: "ops".into(),
    };
    assert_eq!(
        dir.membership(&ops, "dave", false).await,
        Membership::Forbidden
    );
}

#[tokio::test]
async fn a_removal_is_seen_at_once_with_fresh() {
    let emu = Emulator::start(teams_world()).await;
    let dir = TeamDirectory::new(client(&emu), Duration::from_secs(600));
    let qa = dir
        .resolve("acme", &TeamRef::Name("qa".into()))
        .await
        .unwrap();
    assert_eq!(dir.membership(&qa, "bob", false).await, Membership::Member);
    emu.with_world(|w| w.remove_team_member(qa.id, "bob"));
    assert_eq!(
        dir.membership(&qa, "bob", false).await,
        Membership::Member,
        "cached"
    );
    assert_eq!(
        dir.membership(&qa, "bob", true).await,
        Membership::NotMember
    );
}

#[tokio::test]
async fn a_bot_outside_the_org_gets_errors_not_non_members() {
    let world = World::new("acme")
        .with_user("alice")
        .with_bot("sopbot")
        .with_team("qa", &["bob"])
        .with_repo("widgets");
    let emu = Emulator::start(world).await;
    let dir = TeamDirectory::new(client(&emu), Duration::from_secs(60));

    let err = dir
        .resolve("acme", &TeamRef::Name("qa".into()))
        .await
        .unwrap_err();
    assert!(matches!(err, TeamError::CannotListTeams { .. }), "{err}");
    assert!(err
        .to_string()
        .contains("the bot must be an org member to list teams"));

    let qa_id = emu.with_world(|w| w.team_id("qa"));
    let err = dir.resolve("acme", &TeamRef::Id(qa_id)).await.unwrap_err();
    assert!(matches!(err, TeamError::TeamNotVisible { .. }), "{err}");

    let qa = ResolvedTeam {
        id: qa_id,
        name: "qa".into(),
    };
    match dir.membership(&qa, "bob", false).await {
        Membership::Error(m) => assert!(m.contains("not visible to the bot"), "{m}"),
        other => panic!("expected an error, got {other:?}"),
    }
    assert_eq!(
        count(&emu, "GET", &format!("/teams/{qa_id}/members/bob")),
        0,
        "a 404 from an unconfirmed team is never asked for"
    );
}
