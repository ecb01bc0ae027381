//! The Gitea API client: auth, retries, paging, typed models, and the team directory that turns
//! membership probes into [`Membership`](crate::gate::Membership) answers.
//!
//! Everything here follows `docs/gitea-api.md` (status codes, paging traps, the
//! 403/404 rule for teams). [`GiteaClient`] is the raw typed API; [`TeamDirectory`] adds team
//! resolution and the membership cache on top of it.

mod client;
mod error;
mod glob;
mod models;
mod server_kind;
mod teams;
pub mod webhook;

#[cfg(test)]
mod testkit;

pub use client::{BranchProtection, Hook};
pub use client::{
    CallObserver, CallRecord, ChangedFile, ClientOptions, CommitRef, GitCommit, GiteaClient,
    PrCommit, PAGE_SIZE,
};
pub use error::{scope_fix, GiteaError, TOKEN_SCOPES};
pub use glob::{gitea_glob, RequiredContexts};
pub use models::{
    Branch, CombinedStatus, Comment, CommitStatus, IssueSummary, NewStatus, Organization,
    Permission, PrBranch, PullRequest, Repository, Review, ReviewState, ServerVersion, StatusState,
    Team, TimelineComment, User,
};
pub use server_kind::ServerKind;
pub use teams::{ResolvedTeam, TeamDirectory, TeamError, DEFAULT_VISIBILITY_TTL};
