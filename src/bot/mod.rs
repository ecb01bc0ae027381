//! The engine: gathers facts, evaluates gates, posts statuses. The same code serves `serve`,
//! `check` and the demo.

mod evaluate;
pub mod statuses;

pub use evaluate::{Evaluator, PrEvaluation};
