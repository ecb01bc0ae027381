//! The engine: gathers facts, evaluates gates, posts statuses. The same code serves `serve`,
//! `check` and the demo.

mod evaluate;
pub mod event;
pub mod replies;
pub mod statuses;

pub use evaluate::{reviews_fingerprint, Evaluator, PrEvaluation};
