//! Injected faults: latency, failing, rate-limited, stalled and dropped calls, and a server that
//! is down. Each request asks [`Faults::decide`] once, before it is routed.
//!
//! Precedence when several are armed: down, then drop, stall, rate limit, `fail_next`, and last
//! the random `fail_ratio`. Counted faults (`*_next(n, …)`) are used up one per request.

use std::sync::Mutex;
use std::time::Duration;

/// What the server does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Answer normally.
    Pass,
    /// Answer this status instead (no handler runs).
    Fail(u16),
    /// 429 with `Retry-After: secs`.
    RateLimit(u64),
    /// Sleep this long, then answer normally.
    Stall(Duration),
    /// Close the connection without an answer.
    Drop,
    /// 503: the server is down.
    Down,
}

/// The decision for one request: a delay before anything else, then an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub latency: Duration,
    pub action: Action,
}

#[derive(Debug)]
struct State {
    latency: Duration,
    down: bool,
    drop_next: u32,
    stall_next: u32,
    stall_for: Duration,
    rate_limit_next: u32,
    retry_after: u64,
    fail_next: u32,
    fail_status: u16,
    fail_ratio: f64,
    fail_statuses: Vec<u16>,
    /// (path, remaining, status): the next calls to exactly this path fail.
    path_faults: Vec<(String, u32, u16)>,
    /// (method, path, remaining, hold): the next such calls are handled, then answered late.
    holds: Vec<(String, String, u32, Duration)>,
    rng: fastrand::Rng,
}

/// The armed faults of one emulator (shared by all its connections).
#[derive(Debug)]
pub struct Faults {
    state: Mutex<State>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            state: Mutex::new(State {
                latency: Duration::ZERO,
                down: false,
                drop_next: 0,
                stall_next: 0,
                stall_for: Duration::ZERO,
                rate_limit_next: 0,
                retry_after: 0,
                fail_next: 0,
                fail_status: 500,
                fail_ratio: 0.0,
                fail_statuses: Vec::new(),
                path_faults: Vec::new(),
                holds: Vec::new(),
                rng: fastrand::Rng::with_seed(0x5eed),
            }),
        }
    }
}

impl Faults {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Delay every answer by `d`.
    pub fn set_latency(&self, d: Duration) {
        self.state().latency = d;
    }

    /// The next `n` calls answer `status` (e.g. 500, 502, 503).
    pub fn fail_next(&self, n: u32, status: u16) {
        let mut s = self.state();
        s.fail_next = n;
        s.fail_status = status;
    }

    /// A random share `ratio` (0.0–1.0) of calls fail with one of `statuses` (picked at random).
    /// `0.0` turns it off. The generator is seeded (see [`Faults::seed`]), so runs repeat.
    pub fn fail_ratio(&self, ratio: f64, statuses: &[u16]) {
        let mut s = self.state();
        s.fail_ratio = ratio.clamp(0.0, 1.0);
        s.fail_statuses = if statuses.is_empty() {
            vec![500]
        } else {
            statuses.to_vec()
        };
    }

    /// Reseeds the generator behind [`Faults::fail_ratio`].
    pub fn seed(&self, seed: u64) {
        self.state().rng = fastrand::Rng::with_seed(seed);
    }

    /// The next `n` calls answer 429 with `Retry-After: retry_after_secs`.
    pub fn rate_limit_next(&self, n: u32, retry_after_secs: u64) {
        let mut s = self.state();
        s.rate_limit_next = n;
        s.retry_after = retry_after_secs;
    }

    /// The next `n` calls sleep `d` before answering (longer than a client timeout, say).
    pub fn stall_next(&self, n: u32, d: Duration) {
        let mut s = self.state();
        s.stall_next = n;
        s.stall_for = d;
    }

    /// The next `n` calls get their connection closed without an answer.
    pub fn drop_next(&self, n: u32) {
        self.state().drop_next = n;
    }

    /// While down, every call answers 503.
    pub fn set_down(&self, down: bool) {
        self.state().down = down;
    }

    /// Disarms everything (latency back to zero).
    pub fn clear(&self) {
        let mut s = self.state();
        s.latency = Duration::ZERO;
        s.down = false;
        s.drop_next = 0;
        s.stall_next = 0;
        s.rate_limit_next = 0;
        s.fail_next = 0;
        s.fail_ratio = 0.0;
        s.path_faults.clear();
        s.holds.clear();
    }

    /// The next `n` calls of `method` on exactly `path` are carried out at once, and their
    /// answer is held back for `d`: the effect is visible in the world while the client still
    /// waits. A test can act in that window (kill the client after its comment exists but
    /// before it learnt the comment's id, say).
    pub fn hold_answer(&self, method: &str, path: &str, n: u32, d: Duration) {
        self.state()
            .holds
            .push((method.to_ascii_uppercase(), path.to_string(), n, d));
    }

    /// How long to hold the answer to this call (using up one armed hold), if at all.
    pub fn take_hold(&self, method: &str, path: &str) -> Option<Duration> {
        let mut s = self.state();
        let h = s
            .holds
            .iter_mut()
            .find(|(m, p, left, _)| m == method && p == path && *left > 0)?;
        h.2 -= 1;
        Some(h.3)
    }

    /// The next `n` calls to exactly `path` (e.g. `/api/v1/teams/20/members/bob`) answer
    /// `status`, whatever else is armed: a fault aimed at one endpoint.
    pub fn fail_path(&self, path: &str, n: u32, status: u16) {
        self.state().path_faults.push((path.to_string(), n, status));
    }

    /// [`Faults::decide`] for a request to `path`: a path fault comes first.
    pub fn decide_for(&self, path: &str) -> Decision {
        {
            let mut s = self.state();
            let latency = s.latency;
            if let Some(f) = s
                .path_faults
                .iter_mut()
                .find(|(p, left, _)| p == path && *left > 0)
            {
                f.1 -= 1;
                return Decision {
                    latency,
                    action: Action::Fail(f.2),
                };
            }
        }
        self.decide()
    }

    /// Decides the fate of one request, using up one counted fault.
    pub fn decide(&self) -> Decision {
        let mut s = self.state();
        let latency = s.latency;
        let action = if s.down {
            Action::Down
        } else if s.drop_next > 0 {
            s.drop_next -= 1;
            Action::Drop
        } else if s.stall_next > 0 {
            s.stall_next -= 1;
            Action::Stall(s.stall_for)
        } else if s.rate_limit_next > 0 {
            s.rate_limit_next -= 1;
            Action::RateLimit(s.retry_after)
        } else if s.fail_next > 0 {
            s.fail_next -= 1;
            Action::Fail(s.fail_status)
        } else if s.fail_ratio > 0.0 && s.rng.f64() < s.fail_ratio {
            let len = s.fail_statuses.len();
            let i = s.rng.usize(..len);
            Action::Fail(s.fail_statuses[i])
        } else {
            Action::Pass
        };
        Decision { latency, action }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_faults_are_used_up_in_order_of_precedence() {
        let f = Faults::default();
        f.fail_next(1, 502);
        f.rate_limit_next(1, 7);
        f.drop_next(1);
        let actions: Vec<Action> = (0..4).map(|_| f.decide().action).collect();
        assert_eq!(
            actions,
            vec![
                Action::Drop,
                Action::RateLimit(7),
                Action::Fail(502),
                Action::Pass
            ]
        );
    }

    #[test]
    fn down_wins_until_back_up() {
        let f = Faults::default();
        f.fail_next(1, 500);
        f.set_down(true);
        assert_eq!(f.decide().action, Action::Down);
        assert_eq!(f.decide().action, Action::Down);
        f.set_down(false);
        assert_eq!(f.decide().action, Action::Fail(500));
    }

    #[test]
    fn fail_ratio_is_roughly_the_share_and_repeats_with_a_seed() {
        let run = |seed| {
            let f = Faults::default();
            f.seed(seed);
            f.fail_ratio(0.25, &[500, 503]);
            (0..2000).map(|_| f.decide().action).collect::<Vec<_>>()
        };
        let a = run(42);
        assert_eq!(a, run(42));
        let failed = a.iter().filter(|x| **x != Action::Pass).count();
        assert!((400..600).contains(&failed), "{failed} of 2000 failed");
        assert!(a.contains(&Action::Fail(500)) && a.contains(&Action::Fail(503)));
    }

    #[test]
    fn latency_applies_to_every_decision() {
        let f = Faults::default();
        f.set_latency(Duration::from_millis(30));
        f.fail_next(1, 500);
        assert_eq!(f.decide().latency, Duration::from_millis(30));
        assert_eq!(f.decide().latency, Duration::from_millis(30));
    }
}
