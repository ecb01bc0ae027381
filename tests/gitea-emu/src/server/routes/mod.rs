//! The handlers, one module per resource of Gitea's API; `server::router` maps the paths.

pub(crate) mod admin;
pub(crate) mod changes;
pub(crate) mod comments;
pub(crate) mod commits;
pub(crate) mod issues;
pub(crate) mod pulls;
pub(crate) mod repos;
pub(crate) mod statuses;
pub(crate) mod teams;
