//! A review submitted, or a review requested or withdrawn: the gates are evaluated again (a
//! re-request clears `official` on the reviewer's earlier reviews).

use crate::bot::publish::{Plan, Target};

/// Evaluates every gate of the PR, and of the other open PRs on its head commit.
pub fn handle_review(pr: u64) -> Plan {
    Plan::Evaluate {
        target: Target::Number(pr),
        end: None,
        fingerprint: None,
    }
}
