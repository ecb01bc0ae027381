//! The engine: gathers facts, evaluates gates, posts statuses. The same code serves `serve`,
//! `check` and the demo.

pub mod engine;
mod evaluate;
pub mod event;
pub mod replies;
pub mod statuses;
pub mod worker;

pub use evaluate::{pr_fingerprint, Evaluator, PrEvaluation};
