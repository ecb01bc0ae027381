//! gitea-emu: a stateful Gitea 1.25 emulator, the "world" sopbot's integration tests, demo and
//! load benchmark run against.
//!
//! A [`World`] holds one organisation with users, teams, repositories, pull requests, reviews,
//! comments, statuses and reactions; its builders set a scene up and its actions (`open_pr`,
//! `push`, `review`, `comment`, …) are what people do in Gitea, with Gitea's side effects.
//! [`Emulator::start`] serves the world over real HTTP under `/api/v1`, records every call and
//! can inject faults (latency, 5xx, 429, stalls, dropped connections, an outage). The
//! `webhook_for_*` builders give the exact payload bytes and headers Gitea would deliver.
//!
//! ```no_run
//! # async fn demo() {
//! use gitea_emu::{Emulator, World};
//! let mut world = World::new("acme")
//!     .with_user("alice")
//!     .with_bot("sopbot")
//!     .with_team("qa", &["bob", "sopbot"])
//!     .with_repo("widgets");
//! let pr = world.open_pr("widgets", "alice", "main", "feature/x");
//! let emu = Emulator::start(world).await;
//! emu.with_world(|w| w.review("widgets", pr, "bob", "APPROVED", ""));
//! // point the bot at emu.base_url() with emu.token() …
//! # }
//! ```
//!
//! Shapes, status codes and rules follow `docs/gitea-api.md` and the 1.25.4 swagger spec in
//! `fixtures/gitea/` (checked by `tests/spec.rs`).
//!
//! # Emulated
//! - Auth: `Authorization: token|Bearer <t>`; 401 `token is required` / `invalid username,
//!   password or token`. `GET /version` needs no token.
//! - A Forgejo mode ([`World::with_flavor`], `gitea-emu --flavor forgejo`): Forgejo's version
//!   string, auth and error wording and webhook headers (see [`flavor`]).
//! - `GET /user`, `/user/teams`, `/repos/{o}/{r}`, `/repos/{o}/{r}/branches/{b}`,
//!   `/repos/{o}/{r}/pulls` (paged, `X-Total-Count`, `Link`), `/pulls/{n}`, `/pulls/{n}/reviews`
//!   (paged only with `page`; PENDING hidden from others unless site admin; total counted before
//!   that filter), `/pulls/{n}/reviews/{id}`, `/issues/{n}/timeline`, `/issues/{n}/comments`
//!   (GET unpaged, 500 for an unknown index; POST), `/issues/comments` (repo-wide, `since`/
//!   `before` on `updated_at`, 422 on a bad time), `/issues/comments/{id}` (GET, PATCH, DELETE;
//!   204 for timeline rows and code comments; PATCH/DELETE of code comments and review bodies,
//!   204/400 for rows without content; bare 403/404 where Gitea sends no body), `…/reactions` (GET, POST
//!   201/200/403, DELETE), `/statuses/{sha}` (POST: `status` key, per-SHA ids, write needed, 500
//!   for an unknown SHA; GET newest first, paged, `Link`), `/commits/{ref}/statuses`,
//!   `/commits/{ref}/status` (latest per context, paged contexts, all-empty body when none),
//!   `/teams/{id}`, `/teams/{id}/members`, `/teams/{id}/members/{user}` (the `reqTeamMembership`
//!   403/404 rule), `/orgs/{org}/teams`. Anything else is a JSON 404.
//! - Review side effects: official at submission as Gitea's `IsOfficialReviewer` decides (the
//!   rule's approvals whitelist when enabled, else write on code: teams default to read, see
//!   `with_team_permission`; never for `with_unofficial`), never recomputed; a
//!   new verdict un-officials and dismisses the reviewer's earlier ones, stale on a
//!   diff-changing push except reviews of the new head, `dismiss_stale_approvals`, review
//!   requests (user and team) removed when answered, misfiled event strings stored as PENDING.
//! - Code-review threads: `code_comment` (a single-comment COMMENT review) and `reply_in_thread`
//!   (a `pull_request_comment` delivery like a conversation comment's); code comments are in no
//!   listing and not in the timeline (dropped after paging: pages come back short), and count in
//!   the review's `comments_count`.
//! - Timeline rows share the comment id space: `comment`, `review`, `pull_push`, `close`,
//!   `reopen`, `merge_pull`, `dismiss_review`, `review_request`, `change_title`,
//!   `change_target_branch`.
//! - Faults (see [`Faults`]): latency, `fail_next`, seeded `fail_ratio`, 429 with `Retry-After`,
//!   stalls, dropped connections (the TCP connection really closes, no bytes sent), down (503),
//!   answers held back after the call took effect (`hold_answer`).
//!
//! # Not emulated
//! - Token scopes, 2FA enforcement, locked issues, archived repos (423), blocked users, renamed
//!   users and repos (307), public repos and anonymous reads, query-string tokens.
//! - Branch-protection push and merge whitelists, the admin-only `/branch_protections`, merge checks (`mergeable` is just "not WIP").
//! - Labels, milestones, assignees, pending reviews' code comments, PR creation or review submission over the
//!   API, `/orgs/{org}/members`, `/orgs/{org}/teams/search`, webhook *delivery* (the builders
//!   produce deliveries; the test posts them).
//! - Times are UTC with whole seconds; the wall clock by default, [`World::with_clock`] for a
//!   deterministic one.

pub mod faults;
pub mod flavor;
pub mod json;
pub mod server;
pub mod webhook;
pub mod world;

pub use faults::Faults;
pub use flavor::{Flavor, FORGEJO_VERSION, GITEA_VERSION};
pub use server::{Call, Emulator};
pub use webhook::Delivery;
pub use world::{
    Access, Branch, ChangedFile, Comment, CommentKind, GitIdent, Issue, Org, PrChange, PrChanges,
    PrCommit, Pull, Reaction, Repo, Review, Status, Team, TeamDenial, User, World,
    ALLOWED_REACTIONS, FIRST_TEAM_ID, OWNERS_TEAM_ID,
};
