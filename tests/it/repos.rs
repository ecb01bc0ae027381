//! Per-repository policy, end to end through real deliveries: `[[repo]] gates` picks the gates
//! of a repository, `[repo.gate.NAME]` changes a gate's team there, and `[[org]] name, topic`
//! serves every repository of the organisation that carries the topic — found again while the
//! bot runs, and never by dropping a delivery that arrived before the first listing.

use crate::support::tester::{world, Tester, REPO};

const QA: &str = "qa-review / approved";
const SECURITY: &str = "security-review / approved";

#[tokio::test]
async fn a_repository_runs_only_the_gates_it_picks() {
    let t = Tester::setup()
        .config(|c| c.repo("gates = [\"qa\"]\n"))
        .start()
        .await;
    t.push().await;
    t.expect_status(QA, "failure", "awaiting").await;
    // The barrier's reply means the push was handled: security was never posted.
    t.barrier().await;
    let head = t.head();
    assert_eq!(t.world(|w| w.status(REPO, &head, SECURITY)), None);

    // A gate this repository does not have is refused, with the gates it has.
    let id = t.comment("carol", "/refire security").await;
    let reply = t.expect_reply_text(id).await;
    assert!(
        reply.contains("gate `security` does not guard acme/widgets; its gates: qa"),
        "{reply}"
    );
    // `/refire` alone means the gates here.
    let id = t.comment("bob", "/refire").await;
    let reply = t.expect_reply_text(id).await;
    assert!(
        reply.contains("qa") && !reply.contains("security"),
        "{reply}"
    );
    // Never read as a reason for waiving the gates that are here.
    let id = t
        .comment("bob", "/sop-n/a security not relevant here")
        .await;
    let reply = t.expect_reply_text(id).await;
    assert!(
        reply.contains("gate `security` does not guard acme/widgets; its gates: qa"),
        "{reply}"
    );
    assert!(t.waivers(true).await.is_empty());
    t.finish();
}

#[tokio::test]
async fn a_repository_may_give_a_gate_another_team() {
    let w = world()
        .with_user("erin")
        .with_team("appsec", &["erin", "sopbot"])
        .with_team_permission("appsec", "write");
    let t = Tester::setup_in(w)
        .config(|c| c.repo("[repo.gate.security]\nteam = \"appsec\"\n"))
        .start()
        .await;
    // carol is in security, the gate's team everywhere else: not here.
    t.approve("carol").await;
    t.expect_status(SECURITY, "failure", "appsec").await;
    t.approve("erin").await;
    t.expect_status(SECURITY, "success", "erin").await;
    t.expect_status(QA, "failure", "awaiting").await;

    // Waivers follow the repository's team too: carol may not waive it here.
    let id = t
        .comment("carol", "/sop-n/a security reviewed elsewhere")
        .await;
    let reply = t.expect_reply_text(id).await;
    assert!(reply.contains("appsec"), "{reply}");
    assert!(t.waivers(false).await.is_empty());
    t.finish();
}

/// An organisation with `api` (topic `sop-gated`), `docs` (no topic) and `old` (the topic, but
/// archived); widgets is not listed under `[[repo]]` here, so only the org serves.
fn org_world() -> gitea_emu::World {
    let mut w = world()
        .with_repo("api")
        .with_topics("api", &["Go", "SOP-Gated"])
        .with_repo("docs")
        .with_repo("old")
        .with_topics("old", &["sop-gated"]);
    for repo in ["api", "docs", "old"] {
        w.open_pr(repo, "alice", "main", "feature/x");
    }
    w.set_archived("old", true);
    w
}

fn org_config(c: crate::support::ConfigToml) -> crate::support::ConfigToml {
    c.poll(0, "discover_interval = \"1s\"\n").extra(
        "[[org]]\nname = \"acme\"\ntopic = \"sop-gated\"\nbranches = [\"main\"]\ngates = [\"qa\"]\n",
    )
}

/// Gitea delivers `synchronized` for `repo`'s PR #1 until the bot has posted `context`
/// (deliveries before the bot serves the repository are ignored).
async fn push_until_gated(t: &Tester, repo: &str) -> gitea_emu::Status {
    t.eventually(&format!("{repo} gated"), || async {
        let hook = t.world(|w| w.webhook_for_pr(repo, 1, "synchronized"));
        t.bot.deliver(&hook).await;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let head = t.world(|w| w.head_sha(repo, 1));
        t.world(|w| w.status(repo, &head, QA))
    })
    .await
}

#[tokio::test]
async fn an_org_serves_its_repositories_with_the_topic_and_finds_new_ones() {
    let t = Tester::setup_in(org_world())
        .config(org_config)
        .start()
        .await;
    let status = push_until_gated(&t, "api").await;
    assert_eq!(status.state, "failure");
    // The org's gates: qa only.
    let head = t.world(|w| w.head_sha("api", 1));
    assert_eq!(t.world(|w| w.status("api", &head, SECURITY)), None);

    // No topic, or archived: not served. The answer says so.
    for repo in ["docs", "old"] {
        let hook = t.world(|w| w.webhook_for_pr(repo, 1, "synchronized"));
        let (code, body) = t.bot.deliver(&hook).await;
        assert_eq!(
            (code, body.as_str()),
            (200, "ignored: repository not served")
        );
    }

    // docs gains the topic while the bot runs: served within the discovery interval.
    t.world(|w| w.set_topics("docs", &["sop-gated"]));
    push_until_gated(&t, "docs").await;

    // api loses it: deliveries for api are ignored again.
    t.world(|w| w.set_topics("api", &[]));
    t.eventually("api no longer served", || async {
        let hook = t.world(|w| w.webhook_for_pr("api", 1, "synchronized"));
        let (code, _) = t.bot.deliver(&hook).await;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        (code == 200).then_some(())
    })
    .await;
    t.finish();
}

#[tokio::test]
async fn a_delivery_before_the_first_listing_waits_for_it_instead_of_being_lost() {
    // Gitea cannot list the organisation when the bot starts: its repositories are neither
    // served nor refused yet.
    let t = Tester::setup_in(org_world())
        .config(org_config)
        .before_start(|emu| emu.fail_path("/api/v1/orgs/acme/repos", 1000, 500))
        .start()
        .await;
    let hook = t.world(|w| w.webhook_for_pr("api", 1, "synchronized"));
    assert_eq!(t.bot.deliver_ok(&hook).await, "queued");
    // Not lost: handled once a listing succeeds.
    t.emu.clear_faults();
    let head = t.world(|w| w.head_sha("api", 1));
    let status = t
        .eventually("qa posted on acme/api", || async {
            t.world(|w| w.status("api", &head, QA))
        })
        .await;
    assert_eq!(status.state, "failure");
    assert!(status.description.contains("awaiting"), "{status:?}");
    t.finish();
}

/// Gitea pages all of an organisation's repositories and only then drops those the bot may not
/// see: 100 hidden ones in a row make an empty page in the middle of the listing, which must not
/// end it (or every repository after the gap would be ungated).
#[tokio::test]
async fn repositories_hidden_from_the_bot_do_not_end_the_listing() {
    let mut w = world();
    for i in 0..100 {
        w = w.with_hidden_repo(&format!("hidden-{i}"));
    }
    let mut w = w.with_repo("api").with_topics("api", &["sop-gated"]);
    w.open_pr("api", "alice", "main", "feature/x");
    let t = Tester::setup_in(w).config(org_config).start().await;
    let status = push_until_gated(&t, "api").await;
    assert_eq!(status.state, "failure");
    // The listing read past the empty page, by its `Link: next`.
    let pages = t
        .emu
        .calls()
        .iter()
        .filter(|c| c.is("GET", "/api/v1/orgs/acme/repos"))
        .count();
    assert!(pages >= 3, "{pages} listing requests");
    t.finish();
}
