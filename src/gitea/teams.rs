//! `TeamDirectory`: team names to ids, and cached membership answers that never mistake
//! "cannot see the team" for "not a member".
//!
//! Gitea answers 404 to `GET /teams/{id}/members/{login}` both for a non-member *and* for a bot
//! outside the team's org (`docs/gitea-api.md` §4). So a 404 becomes `NotMember` only after
//! `GET /teams/{id}` has answered 200 to the same token; before that it is an `Error`.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::client::GiteaClient;
use super::error::GiteaError;
use super::models::Team;
use crate::clock::Clock;
use crate::gate::Membership;
use crate::types::TeamRef;

/// A team the bot has been shown to see (`GET /teams/{id}` answered 200).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResolvedTeam {
    pub id: i64,
    pub name: String,
}

/// Why a configured team cannot be used. Each message names the org and the team and says what
/// to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TeamError {
    #[error(
        "the bot's token lacks the {} scope, so teams of org `{org}` cannot be read ({cause})",
        .scopes.join(" / ")
    )]
    MissingScope {
        org: String,
        scopes: Vec<String>,
        cause: GiteaError,
    },
    #[error("team {} is not a team of org `{org}` (its teams: {})", quoted(.team), known_list(.known))]
    NotInOrg {
        org: String,
        team: TeamRef,
        known: Vec<String>,
    },
    #[error(
        "cannot list the teams of org `{org}`: the bot must be an org member to list teams ({cause})"
    )]
    CannotListTeams { org: String, cause: GiteaError },
    #[error("org `{org}` does not exist or is not visible to the bot ({cause})")]
    OrgNotFound { org: String, cause: GiteaError },
    #[error(
        "team {} of org `{org}` is not readable by the bot: add the bot to that team, or make \
         it an owner of `{org}` ({cause})",
        label(.team, *.id)
    )]
    TeamForbidden {
        org: String,
        team: TeamRef,
        id: i64,
        cause: GiteaError,
    },
    #[error(
        "team {} is not visible to the bot: is the bot a member of org `{org}`, and is the id \
         right? ({cause})",
        label(.team, *.id)
    )]
    TeamNotVisible {
        org: String,
        team: TeamRef,
        id: i64,
        cause: GiteaError,
    },
    #[error("team {} belongs to org `{actual}`, not to `{org}`", label(.team, *.id))]
    WrongOrg {
        org: String,
        team: TeamRef,
        id: i64,
        actual: String,
    },
    #[error("cannot check team {} of org `{org}`: {cause}", quoted(.team))]
    Api {
        org: String,
        team: TeamRef,
        cause: GiteaError,
    },
}

/// `` `qa` `` for a name, `id 20` for an id: how errors about resolving a team name it.
fn quoted(team: &TeamRef) -> String {
    match team {
        TeamRef::Name(name) => format!("`{name}`"),
        TeamRef::Id(id) => format!("id {id}"),
    }
}

/// `` `qa` (id 20) `` for a name, `id 20` for an id.
fn label(team: &TeamRef, id: i64) -> String {
    match team {
        TeamRef::Name(_) => format!("{} (id {id})", quoted(team)),
        TeamRef::Id(_) => quoted(team),
    }
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        "none".to_string()
    } else {
        known.join(", ")
    }
}

/// Default lifetime of a team-visibility confirmation and of a name → id mapping.
pub const DEFAULT_VISIBILITY_TTL: Duration = Duration::from_secs(300);

struct Stamped<T> {
    value: T,
    at: Instant,
}

#[derive(Default)]
struct Caches {
    /// (org, team name), both lower-case → the team.
    names: HashMap<(String, String), Stamped<ResolvedTeam>>,
    /// Team id → the team, for teams `GET /teams/{id}` answered 200 for.
    visible: HashMap<i64, Stamped<Team>>,
    /// (team id, lower-case login) → member or not.
    members: HashMap<(i64, String), Stamped<bool>>,
}

/// Resolves configured teams and answers "is this user in this team?" for the gate.
///
/// Membership answers (`Member`, `NotMember`) are cached for `membership_ttl` per
/// (team, login). The trade-off: a user *removed* from a team still counts as a member for up to
/// that long (and an added one as a non-member), in exchange for not probing Gitea once per
/// reviewer per evaluation. A `/refire` passes `fresh = true` and bypasses the cache, so a person
/// who just fixed a membership sees the effect at once. A TTL of zero disables the cache.
///
/// `Forbidden` and `Error` are never cached: they come from conditions an admin fixes or that
/// pass (a token not yet in the team, Gitea restarting), they never open a gate, and caching
/// them would keep a gate in `error` after the fix.
///
/// Visibility confirmations and name → id mappings live for `visibility_ttl` (default 5 min),
/// so a bot later removed from an org soon stops reading 404s as "not a member".
#[derive(Clone)]
pub struct TeamDirectory {
    client: GiteaClient,
    membership_ttl: Duration,
    visibility_ttl: Duration,
    clock: Clock,
    caches: Arc<Mutex<Caches>>,
}

impl fmt::Debug for TeamDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TeamDirectory")
            .field("client", &self.client)
            .field("membership_ttl", &self.membership_ttl)
            .field("visibility_ttl", &self.visibility_ttl)
            .finish_non_exhaustive()
    }
}

impl TeamDirectory {
    pub fn new(client: GiteaClient, membership_ttl: Duration) -> Self {
        TeamDirectory {
            client,
            membership_ttl,
            visibility_ttl: DEFAULT_VISIBILITY_TTL,
            clock: Clock::system(),
            caches: Arc::default(),
        }
    }

    pub fn with_visibility_ttl(mut self, ttl: Duration) -> Self {
        self.visibility_ttl = ttl;
        self
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn client(&self) -> &GiteaClient {
        &self.client
    }

    /// Forget everything cached.
    pub fn clear(&self) {
        *self.lock() = Caches::default();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Caches> {
        // The caches hold no invariant a panic could break: recover from poisoning.
        self.caches.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn live(&self, at: Instant, ttl: Duration) -> bool {
        !ttl.is_zero() && self.clock.instant().saturating_duration_since(at) < ttl
    }

    /// Find the team in `org` and check the bot can read it: `GET /orgs/{org}/teams` (paged;
    /// never the search endpoint, which only lists the bot's own teams) for a name, then
    /// `GET /teams/{id}`.
    pub async fn resolve(&self, org: &str, team: &TeamRef) -> Result<ResolvedTeam, TeamError> {
        let id = match team {
            TeamRef::Id(id) => *id,
            TeamRef::Name(name) => self.id_for_name(org, name, team).await?,
        };
        let confirmed = self.confirm(id, false).await;
        if let (Err(GiteaError::NotFound { .. }), TeamRef::Name(name)) = (&confirmed, team) {
            // A deleted (maybe recreated) team: list the org again next time.
            let key = (org.to_lowercase(), name.to_lowercase());
            self.lock().names.remove(&key);
        }
        let found = confirmed.map_err(|cause| match cause {
            cause if cause.missing_scopes().is_some() => missing_scope(org, cause),
            GiteaError::Forbidden { .. } => TeamError::TeamForbidden {
                org: org.to_string(),
                team: team.clone(),
                id,
                cause,
            },
            GiteaError::NotFound { .. } => TeamError::TeamNotVisible {
                org: org.to_string(),
                team: team.clone(),
                id,
                cause,
            },
            cause => TeamError::Api {
                org: org.to_string(),
                team: team.clone(),
                cause,
            },
        })?;
        if let Some(actual) = found.organization.as_ref().map(|o| o.login()) {
            if !actual.is_empty() && !actual.eq_ignore_ascii_case(org) {
                return Err(TeamError::WrongOrg {
                    org: org.to_string(),
                    team: team.clone(),
                    id,
                    actual: actual.to_string(),
                });
            }
        }
        Ok(ResolvedTeam {
            id,
            name: found.name,
        })
    }

    async fn id_for_name(&self, org: &str, name: &str, team: &TeamRef) -> Result<i64, TeamError> {
        let key = (org.to_lowercase(), name.to_lowercase());
        if let Some(hit) = self.lock().names.get(&key) {
            if self.live(hit.at, self.visibility_ttl) {
                return Ok(hit.value.id);
            }
        }
        let teams = self
            .client
            .org_teams(org)
            .await
            .map_err(|cause| match cause {
                cause if cause.missing_scopes().is_some() => missing_scope(org, cause),
                GiteaError::Forbidden { .. } => TeamError::CannotListTeams {
                    org: org.to_string(),
                    cause,
                },
                GiteaError::NotFound { .. } => TeamError::OrgNotFound {
                    org: org.to_string(),
                    cause,
                },
                cause => TeamError::Api {
                    org: org.to_string(),
                    team: team.clone(),
                    cause,
                },
            })?;
        let now = self.clock.instant();
        let mut caches = self.lock();
        for t in &teams {
            caches.names.insert(
                (key.0.clone(), t.name.to_lowercase()),
                Stamped {
                    value: ResolvedTeam {
                        id: t.id,
                        name: t.name.clone(),
                    },
                    at: now,
                },
            );
        }
        match teams.iter().find(|t| t.name.to_lowercase() == key.1) {
            Some(t) => Ok(t.id),
            None => {
                let mut known: Vec<String> = teams.into_iter().map(|t| t.name).collect();
                known.sort();
                Err(TeamError::NotInOrg {
                    org: org.to_string(),
                    team: team.clone(),
                    known,
                })
            }
        }
    }

    /// `GET /teams/{id}`, cached on 200 only.
    async fn confirm(&self, id: i64, fresh: bool) -> Result<Team, GiteaError> {
        if !fresh {
            if let Some(hit) = self.lock().visible.get(&id) {
                if self.live(hit.at, self.visibility_ttl) {
                    return Ok(hit.value.clone());
                }
            }
        }
        let team = self.client.team(id).await?;
        let now = self.clock.instant();
        self.lock().visible.insert(
            id,
            Stamped {
                value: team.clone(),
                at: now,
            },
        );
        Ok(team)
    }

    /// Is `login` in `team`? `fresh` bypasses the membership cache (for `/refire`).
    ///
    /// The team's visibility comes from its cache, so a fresh probe of a member costs one call.
    /// A fresh 404 re-confirms the team before it is trusted: the bot may have left the org
    /// since, and then every probe answers 404.
    ///
    /// 200 → `Member`; 404 once the team is confirmed visible → `NotMember`; 403 (on the team or
    /// on the probe) → `Forbidden`; a team that cannot be confirmed (404 on `GET /teams/{id}`) →
    /// `Error`, never `NotMember`; anything else after retries → `Error`.
    pub async fn membership(&self, team: &ResolvedTeam, login: &str, fresh: bool) -> Membership {
        let key = (team.id, login.to_lowercase());
        if !fresh {
            if let Some(hit) = self.lock().members.get(&key) {
                if self.live(hit.at, self.membership_ttl) {
                    return answer(hit.value);
                }
            }
        }
        if let Some(unusable) = self.visibility(team, false).await {
            return unusable;
        }
        match self.client.team_member(team.id, login).await {
            Ok(false) if fresh => match self.visibility(team, true).await {
                Some(unusable) => unusable,
                None => self.remember(key, false),
            },
            Ok(member) => self.remember(key, member),
            Err(e) if e.missing_scopes().is_some() => scope_answer(&e),
            Err(GiteaError::Forbidden { .. }) => Membership::Forbidden,
            Err(e) => Membership::Error(e.to_string()),
        }
    }

    /// `None` when the bot can see the team (so a 404 probe means "not a member"), else the
    /// answer every probe of it gets.
    async fn visibility(&self, team: &ResolvedTeam, fresh: bool) -> Option<Membership> {
        match self.confirm(team.id, fresh).await {
            Ok(_) => None,
            Err(e) if e.missing_scopes().is_some() => Some(scope_answer(&e)),
            Err(GiteaError::Forbidden { .. }) => Some(Membership::Forbidden),
            Err(GiteaError::NotFound { .. }) => Some(Membership::Error(format!(
                "team {} (`{}`) not visible to the bot: is the bot in the org?",
                team.id, team.name
            ))),
            Err(e) => Some(Membership::Error(e.to_string())),
        }
    }

    /// Caches a Member/NotMember answer (unless the TTL is zero) and returns it.
    fn remember(&self, key: (i64, String), member: bool) -> Membership {
        if !self.membership_ttl.is_zero() {
            let now = self.clock.instant();
            self.lock().members.insert(
                key,
                Stamped {
                    value: member,
                    at: now,
                },
            );
        }
        answer(member)
    }
}

/// A 403 for a missing token scope: the token is to remake, whatever the team.
fn missing_scope(org: &str, cause: GiteaError) -> TeamError {
    TeamError::MissingScope {
        org: org.to_string(),
        scopes: cause.missing_scopes().unwrap_or_default(),
        cause,
    }
}

fn scope_answer(e: &GiteaError) -> Membership {
    Membership::MissingScope(e.missing_scopes().unwrap_or_default())
}

fn answer(member: bool) -> Membership {
    if member {
        Membership::Member
    } else {
        Membership::NotMember
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::gitea::testkit::{Reply, TestServer};

    /// Org `acme` with 52 teams over two pages (`qa-leads` on page 1, `QA` on page 2); the bot
    /// can read team 20 (`QA`) and 30 (`qa-leads`), is in the org but not in team 21, and cannot
    /// see team 22 at all. Team 40 belongs to another org.
    async fn acme() -> TestServer {
        TestServer::start(|seen, _| {
            let path = seen.path.as_str();
            match path {
                "/orgs/acme/teams" => {
                    let page = match seen.q("page") {
                        Some("1") => (0..49)
                            .map(|i| json!({"id": 100 + i, "name": format!("team-{i}")}))
                            .chain([json!({"id": 30, "name": "qa-leads"})])
                            .collect(),
                        Some("2") => {
                            json!([{"id": 20, "name": "QA"}, {"id": 21, "name": "security"}])
                        }
                        _ => json!([]),
                    };
                    Reply::json(200, page).header("x-total-count", 51)
                }
                "/orgs/other/teams" => Reply::error(403, "Must be an organization member"),
                "/orgs/nope/teams" => Reply::error(404, "GetOrgByName"),
                "/teams/20" => Reply::json(
                    200,
                    json!({"id": 20, "name": "QA",
                    "organization": {"id": 2, "name": "acme", "username": "acme"}}),
                ),
                "/teams/30" => Reply::json(
                    200,
                    json!({"id": 30, "name": "qa-leads",
                    "organization": {"id": 2, "name": "acme"}}),
                ),
                "/teams/40" => Reply::json(
                    200,
                    json!({"id": 40, "name": "qa",
                    "organization": {"id": 5, "name": "elsewhere"}}),
                ),
                "/teams/21" | "/teams/21/members/bob" => Reply::error(403, "Must be a team member"),
                "/teams/20/members/bob" => Reply::json(200, json!({"id": 4, "login": "bob"})),
                "/teams/20/members/eve" => Reply::error(403, "Must be a team member"),
                "/teams/20/members/flaky" => Reply::error(500, ""),
                _ => Reply::error(404, "not found"),
            }
        })
        .await
    }

    fn qa() -> ResolvedTeam {
        ResolvedTeam {
            id: 20,
            name: "QA".into(),
        }
    }

    fn name(n: &str) -> TeamRef {
        TeamRef::Name(n.into())
    }

    #[tokio::test]
    async fn resolves_a_team_name_exactly_and_case_insensitively() {
        let server = acme().await;
        let dir = TeamDirectory::new(server.client(), Duration::from_secs(60));
        assert_eq!(dir.resolve("acme", &name("qa")).await.unwrap(), qa());
        assert_eq!(server.count("/orgs/acme/teams"), 2, "both pages read");
        assert_eq!(server.count("/teams/20"), 1, "visibility confirmed");

        let leads = dir.resolve("ACME", &name("QA-Leads")).await.unwrap();
        assert_eq!(leads.id, 30);
        assert_eq!(server.count("/orgs/acme/teams"), 2, "names are cached");

        let err = dir.resolve("acme", &name("qa-lead")).await.unwrap_err();
        match &err {
            TeamError::NotInOrg { known, .. } => assert!(known.contains(&"qa-leads".into())),
            other => panic!("{other:?}"),
        }
        assert!(err
            .to_string()
            .starts_with("team `qa-lead` is not a team of org `acme` (its teams: QA, qa-leads,"));
    }

    #[tokio::test]
    async fn a_name_whose_team_vanished_is_listed_again() {
        let server = TestServer::start(|seen, _| match seen.path.as_str() {
            "/orgs/acme/teams" => Reply::json(200, json!([{"id": 22, "name": "ops"}])),
            _ => Reply::error(404, "not found"),
        })
        .await;
        let dir = TeamDirectory::new(server.client(), Duration::from_secs(60));
        for _ in 0..2 {
            let err = dir.resolve("acme", &name("ops")).await.unwrap_err();
            assert!(
                matches!(err, TeamError::TeamNotVisible { id: 22, .. }),
                "{err:?}"
            );
        }
        assert_eq!(server.count("/orgs/acme/teams"), 2);
    }

    #[tokio::test]
    async fn a_team_named_qa_leads_does_not_match_qa() {
        let server = TestServer::start(|seen, _| match seen.path.as_str() {
            "/orgs/acme/teams" => Reply::json(200, json!([{"id": 30, "name": "qa-leads"}])),
            _ => Reply::json(200, json!({"id": 30, "name": "qa-leads"})),
        })
        .await;
        let dir = TeamDirectory::new(server.client(), Duration::from_secs(60));
        let err = dir.resolve("acme", &name("qa")).await.unwrap_err();
        assert!(matches!(err, TeamError::NotInOrg { .. }), "{err:?}");
        assert_eq!(server.count("/teams/30"), 0);
    }

    #[tokio::test]
    async fn resolve_explains_what_the_bot_lacks() {
        let server = acme().await;
        let dir = TeamDirectory::new(server.client(), Duration::from_secs(60));

        let err = dir.resolve("other", &name("qa")).await.unwrap_err();
        assert!(matches!(err, TeamError::CannotListTeams { .. }));
        assert!(err
            .to_string()
            .contains("the bot must be an org member to list teams"));

        let err = dir.resolve("nope", &name("qa")).await.unwrap_err();
        assert!(matches!(err, TeamError::OrgNotFound { .. }), "{err:?}");

        let err = dir.resolve("acme", &name("security")).await.unwrap_err();
        assert!(
            matches!(err, TeamError::TeamForbidden { id: 21, .. }),
            "{err:?}"
        );
        assert!(
            err.to_string().starts_with(
                "team `security` (id 21) of org `acme` is not readable by the bot: add the bot to that team"
            ),
            "{err}"
        );

        let err = dir.resolve("acme", &TeamRef::Id(22)).await.unwrap_err();
        assert!(
            matches!(err, TeamError::TeamNotVisible { id: 22, .. }),
            "{err:?}"
        );

        let err = dir.resolve("acme", &TeamRef::Id(40)).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "team id 40 belongs to org `elsewhere`, not to `acme`"
        );

        assert_eq!(dir.resolve("acme", &TeamRef::Id(20)).await.unwrap(), qa());
    }

    #[tokio::test]
    async fn membership_maps_gitea_answers() {
        let server = acme().await;
        let dir = TeamDirectory::new(server.client(), Duration::from_secs(60));
        assert_eq!(
            dir.membership(&qa(), "bob", false).await,
            Membership::Member
        );
        assert_eq!(
            dir.membership(&qa(), "dave", false).await,
            Membership::NotMember
        );
        assert_eq!(
            dir.membership(&qa(), "eve", false).await,
            Membership::Forbidden
        );
        let security = ResolvedTeam {
            id: 21,
            name: "security".into(),
        };
        assert_eq!(
            dir.membership(&security, "bob", false).await,
            Membership::Forbidden
        );
        match dir.membership(&qa(), "flaky", false).await {
            Membership::Error(m) => assert!(m.contains("answered 500"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(server.count("/teams/20/members/flaky"), 3, "retried");
    }

    #[tokio::test]
    async fn a_404_on_an_unconfirmed_team_is_an_error_not_a_non_member() {
        let server = acme().await;
        let dir = TeamDirectory::new(server.client(), Duration::from_secs(60));
        let hidden = ResolvedTeam {
            id: 22,
            name: "ops".into(),
        };
        match dir.membership(&hidden, "bob", false).await {
            Membership::Error(m) => assert_eq!(
                m,
                "team 22 (`ops`) not visible to the bot: is the bot in the org?"
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(server.count("/teams/22/members/bob"), 0, "never probed");
    }

    #[tokio::test]
    async fn a_cached_answer_avoids_a_second_call_and_fresh_bypasses_it() {
        let server = acme().await;
        let dir = TeamDirectory::new(server.client(), Duration::from_secs(60));
        for login in ["bob", "BOB", "bob"] {
            assert_eq!(
                dir.membership(&qa(), login, false).await,
                Membership::Member
            );
        }
        dir.membership(&qa(), "dave", false).await;
        dir.membership(&qa(), "dave", false).await;
        assert_eq!(server.count("/teams/20/members/bob"), 1);
        assert_eq!(server.count("/teams/20/members/dave"), 1);
        assert_eq!(server.count("/teams/20"), 1);

        // A fresh member answer costs one call: the team's visibility is still cached.
        assert_eq!(dir.membership(&qa(), "bob", true).await, Membership::Member);
        assert_eq!(server.count("/teams/20/members/bob"), 2);
        assert_eq!(server.count("/teams/20"), 1);
        // A fresh 404 is trusted only after the team is confirmed again.
        assert_eq!(
            dir.membership(&qa(), "dave", true).await,
            Membership::NotMember
        );
        assert_eq!(
            server.count("/teams/20"),
            2,
            "a fresh 404 re-confirms the team"
        );
    }

    #[tokio::test]
    async fn forbidden_and_errors_are_not_cached() {
        let server = acme().await;
        let dir = TeamDirectory::new(server.client(), Duration::from_secs(60));
        let security = ResolvedTeam {
            id: 21,
            name: "security".into(),
        };
        for _ in 0..2 {
            assert_eq!(
                dir.membership(&security, "bob", false).await,
                Membership::Forbidden
            );
            assert_eq!(
                dir.membership(&qa(), "eve", false).await,
                Membership::Forbidden
            );
        }
        assert_eq!(server.count("/teams/21"), 2);
        assert_eq!(server.count("/teams/20/members/eve"), 2);
    }

    #[tokio::test]
    async fn a_zero_ttl_disables_the_membership_cache() {
        let server = acme().await;
        let dir = TeamDirectory::new(server.client(), Duration::ZERO);
        dir.membership(&qa(), "bob", false).await;
        dir.membership(&qa(), "bob", false).await;
        assert_eq!(server.count("/teams/20/members/bob"), 2);
    }

    #[tokio::test]
    async fn cached_answers_expire_after_the_ttl() {
        let server = acme().await;
        let clock = Clock::manual(chrono::Utc::now());
        let dir =
            TeamDirectory::new(server.client(), Duration::from_secs(60)).with_clock(clock.clone());
        dir.membership(&qa(), "bob", false).await;
        clock.advance(Duration::from_secs(59));
        dir.membership(&qa(), "bob", false).await;
        assert_eq!(server.count("/teams/20/members/bob"), 1);
        clock.advance(Duration::from_secs(2));
        dir.membership(&qa(), "bob", false).await;
        assert_eq!(server.count("/teams/20/members/bob"), 2);
        assert_eq!(server.count("/teams/20"), 1, "visibility lives 5 minutes");
        clock.advance(Duration::from_secs(339));
        dir.membership(&qa(), "bob", false).await;
        assert_eq!(server.count("/teams/20"), 2);
    }
}
