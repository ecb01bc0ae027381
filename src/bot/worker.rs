//! Workers drain the inbox: each takes the oldest event it may run (the store hands out one
//! event per PR at a time, in arrival order), runs its handler, and marks the event done only
//! after its effects. A failure puts the event back with a backoff; a crash leaves it `running`,
//! and the next start (`reset_running`) hands it out again. When the store itself fails, the
//! whole pool pauses (see [`Pause`]) and an unrecorded outcome stays with its worker until it
//! is recorded.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{watch, Notify};
use tracing::{debug, error, info, info_span, warn, Instrument};

use crate::store::{EventRow, Store, StoreError};

use super::event::Event;
use super::Ctx;

/// How long an idle worker waits for a wake-up before looking at the inbox anyway (events
/// whose retry time has come do not wake anyone).
const IDLE_POLL: Duration = Duration::from_millis(500);

/// Backoff before retry `attempt` (1-based): 1 s, 2 s, 4 s … capped at 5 min.
fn backoff(attempt: i64) -> Duration {
    let exp = attempt.clamp(1, 9) as u32 - 1;
    Duration::from_secs(2u64.pow(exp)).min(Duration::from_secs(300))
}

/// First pause of the pool after a store failure; it doubles with each failure in a row.
const PAUSE_FIRST: Duration = Duration::from_millis(250);
/// Longest pause of the pool while the store keeps failing.
const PAUSE_MAX: Duration = Duration::from_secs(30);

/// The pause every worker waits out after a store failure. Shared by the pool: when the store
/// cannot claim events or record outcomes, no worker may hammer it (or Gitea) meanwhile.
/// Exponential from [`PAUSE_FIRST`], capped at [`PAUSE_MAX`], reset by any store success.
#[derive(Debug, Default)]
struct Pause {
    state: Mutex<PauseState>,
}

#[derive(Debug, Default)]
struct PauseState {
    /// Failures in a row (several workers failing during one pause count once).
    failures: u32,
    until: Option<Instant>,
}

impl Pause {
    fn lock(&self) -> std::sync::MutexGuard<'_, PauseState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until the pool's pause is over; `false` if `stop` came first.
    async fn wait(&self, stop: &mut watch::Receiver<bool>) -> bool {
        loop {
            if *stop.borrow() {
                return false;
            }
            let Some(until) = self.lock().until.filter(|u| *u > Instant::now()) else {
                return true;
            };
            tokio::select! {
                _ = tokio::time::sleep_until(until.into()) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// A store call failed: pause the pool, longer each time. Logged once per outage as an
    /// error, then at debug level.
    fn failed(&self, what: &str, e: &StoreError) {
        let mut s = self.lock();
        let now = Instant::now();
        if s.until.is_some_and(|u| u > now) {
            return; // Already paused: this failure started before the pause.
        }
        s.failures += 1;
        let pause = PAUSE_FIRST
            .saturating_mul(2u32.saturating_pow(s.failures - 1))
            .min(PAUSE_MAX);
        s.until = Some(now + pause);
        if s.failures == 1 {
            error!(error = %e, what, "store failing: workers pause, then retry (up to every {PAUSE_MAX:?})");
        } else {
            debug!(error = %e, what, ?pause, failures = s.failures, "store still failing");
        }
    }

    /// A store write committed (a claim, an outcome): the pool runs at full speed again.
    fn succeeded(&self) {
        let mut s = self.lock();
        if s.failures > 0 {
            info!(failures = s.failures, "store working again: workers resume");
        }
        *s = PauseState::default();
    }
}

/// Runs `n` workers until `stop` turns true; each finishes the event in hand first.
pub async fn run(
    ctx: Arc<Ctx>,
    store: Store,
    notify: Arc<Notify>,
    n: usize,
    stop: watch::Receiver<bool>,
) {
    let pause = Arc::new(Pause::default());
    let mut set = tokio::task::JoinSet::new();
    for id in 0..n.max(1) {
        let pool = Pool {
            ctx: ctx.clone(),
            store: store.clone(),
            notify: notify.clone(),
            pause: pause.clone(),
        };
        set.spawn(worker(id, pool, stop.clone()));
    }
    while set.join_next().await.is_some() {}
}

/// What every worker shares.
struct Pool {
    ctx: Arc<Ctx>,
    store: Store,
    notify: Arc<Notify>,
    pause: Arc<Pause>,
}

async fn worker(id: usize, pool: Pool, mut stop: watch::Receiver<bool>) {
    while pool.pause.wait(&mut stop).await {
        match pool.store.claim_next().await {
            Ok(Some(row)) => {
                pool.pause.succeeded();
                // Another event may be waiting for another worker: pass the wake-up on.
                pool.notify.notify_one();
                let span = info_span!("event", worker = id, event_id = row.id, kind = %row.kind,
                    repo = %row.repo, pr = row.pr, delivery = row.delivery_id.as_deref().unwrap_or("-"));
                process(&pool, row, &mut stop).instrument(span).await;
            }
            // Not a reset of the pause: claiming nothing writes nothing, so it proves nothing.
            Ok(None) => {
                tokio::select! {
                    _ = pool.notify.notified() => {}
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                    _ = stop.changed() => {}
                }
            }
            Err(e) => pool.pause.failed("claim an event", &e),
        }
    }
}

/// How a handled event ends, to be recorded in the inbox.
enum Outcome {
    Done,
    /// Retry at the given time, or never (`None`: failed for good).
    Failed(String, Option<chrono::DateTime<chrono::Utc>>),
}

async fn process(pool: &Pool, row: EventRow, stop: &mut watch::Receiver<bool>) {
    let event: Event = match serde_json::from_str(&row.payload) {
        Ok(e) => e,
        Err(e) => {
            // Not retryable: keep it, failed, for a human to look at.
            error!(error = %e, "undecodable inbox event");
            let outcome = Outcome::Failed(format!("undecodable: {e}"), None);
            return record(pool, row.id, outcome, stop).await;
        }
    };
    // Its own task, so that a panic fails this event (retried later) instead of killing the
    // worker and leaving the event `running`, which would hold back its PR until a restart.
    let result = {
        let ctx = pool.ctx.clone();
        match tokio::spawn(async move { super::handle(&ctx, &event).await }.in_current_span()).await
        {
            Ok(r) => r,
            Err(e) => Err(anyhow::anyhow!("the handler panicked: {e}")),
        }
    };
    let metrics = crate::metrics::get();
    let outcome = match result {
        Ok(()) => {
            metrics.event_processed(&row.kind);
            Outcome::Done
        }
        Err(e) => {
            metrics.event_failed(&row.kind);
            let retry_at = chrono::Utc::now()
                + chrono::Duration::from_std(backoff(row.attempts)).unwrap_or_default();
            warn!(error = %format!("{e:#}"), attempt = row.attempts, "event failed; will retry");
            Outcome::Failed(format!("{e:#}"), Some(retry_at))
        }
    };
    record(pool, row.id, outcome, stop).await;
}

/// Records the outcome of event `id`, retrying after the pool's pause until it is recorded.
/// Meanwhile the event stays `running` in the inbox and in this worker's hands, so no worker
/// claims it, or a later event of its PR, again. Only a stop gives up: the event then runs
/// again on the next start (`reset_running`), which every handler tolerates.
async fn record(pool: &Pool, id: i64, outcome: Outcome, stop: &mut watch::Receiver<bool>) {
    loop {
        let marked = match &outcome {
            Outcome::Done => pool.store.mark_done(id).await,
            Outcome::Failed(error, retry_at) => pool
                .store
                .mark_failed(id, error, *retry_at)
                .await
                .map(|_| ()),
        };
        match marked {
            Ok(()) => return pool.pause.succeeded(),
            Err(StoreError::NotFound) => {
                return error!("the event is no longer running in the inbox; outcome not recorded")
            }
            Err(e) => pool.pause.failed("record an event's outcome", &e),
        }
        if !pool.pause.wait(stop).await {
            return warn!(
                "stopping with the event's outcome unrecorded; it runs again on the next start"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_and_is_capped() {
        use std::time::Duration;
        assert_eq!(super::backoff(1), Duration::from_secs(1));
        assert_eq!(super::backoff(3), Duration::from_secs(4));
        assert_eq!(super::backoff(50), Duration::from_secs(256));
    }

    #[test]
    fn the_pool_pause_doubles_once_per_pause_and_resets_on_success() {
        use super::*;
        let pause = Pause::default();
        let e = StoreError::NotFound;
        pause.failed("x", &e);
        let first = pause.lock().until.unwrap();
        // Other workers failing during the same pause do not lengthen it.
        pause.failed("x", &e);
        assert_eq!(pause.lock().failures, 1);
        assert_eq!(pause.lock().until, Some(first));
        // Once it is over, the next failure pauses twice as long.
        pause.lock().until = Some(Instant::now());
        let before = Instant::now();
        pause.failed("x", &e);
        assert_eq!(pause.lock().failures, 2);
        assert!(pause.lock().until.unwrap() >= before + 2 * PAUSE_FIRST);
        for _ in 0..20 {
            pause.lock().until = Some(Instant::now());
            pause.failed("x", &e);
        }
        assert!(pause.lock().until.unwrap() <= Instant::now() + PAUSE_MAX);
        pause.succeeded();
        assert_eq!(pause.lock().failures, 0);
        assert!(pause.lock().until.is_none());
    }
}
