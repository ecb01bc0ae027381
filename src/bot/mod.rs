//! The bot: events in, handlers plan, `publish` posts statuses and replies. The same code
//! serves `serve`, `check` and the demo.

mod changes;
mod ctx;
mod evaluate;
pub mod event;
mod handlers;
mod holds;
mod lifecycle;
pub mod publish;
pub mod replies;
mod review_requests;
pub mod statuses;
pub mod worker;

pub use ctx::Ctx;
pub use evaluate::{pr_fingerprint, PrEvaluation};
pub use handlers::handle;
pub use holds::HoldState;
pub use lifecycle::EndedWaiver;
