//! Workers drain the inbox: each takes the oldest event it may run (the store hands out one
//! event per PR at a time, in arrival order), runs the engine, and marks the event done only
//! after its effects. A failure puts the event back with a backoff; a crash leaves it `running`,
//! and the next start (`reset_running`) hands it out again.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tracing::{error, info_span, warn, Instrument};

use crate::store::{EventRow, Store};

use super::engine::Engine;
use super::event::Event;

/// How long an idle worker waits for a wake-up before looking at the inbox anyway (events
/// whose retry time has come do not wake anyone).
const IDLE_POLL: Duration = Duration::from_millis(500);

/// Backoff before retry `attempt` (1-based): 1 s, 2 s, 4 s … capped at 5 min.
fn backoff(attempt: i64) -> Duration {
    let exp = attempt.clamp(1, 9) as u32 - 1;
    Duration::from_secs(2u64.pow(exp)).min(Duration::from_secs(300))
}

/// Runs `n` workers until `stop` turns true; each finishes the event in hand first.
pub async fn run(
    engine: Arc<Engine>,
    store: Store,
    notify: Arc<Notify>,
    n: usize,
    stop: watch::Receiver<bool>,
) {
    let mut set = tokio::task::JoinSet::new();
    for id in 0..n.max(1) {
        set.spawn(worker(
            id,
            engine.clone(),
            store.clone(),
            notify.clone(),
            stop.clone(),
        ));
    }
    while set.join_next().await.is_some() {}
}

async fn worker(
    id: usize,
    engine: Arc<Engine>,
    store: Store,
    notify: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() {
            return;
        }
        match store.claim_next().await {
            Ok(Some(row)) => {
                // Another event may be waiting for another worker: pass the wake-up on.
                notify.notify_one();
                let span = info_span!("event", worker = id, event_id = row.id, kind = %row.kind,
                    repo = %row.repo, pr = row.pr, delivery = row.delivery_id.as_deref().unwrap_or("-"));
                process(&engine, &store, row).instrument(span).await;
            }
            Ok(None) => {
                tokio::select! {
                    _ = notify.notified() => {}
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                    _ = stop.changed() => {}
                }
            }
            Err(e) => {
                error!(error = %e, "cannot read the inbox");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }
}

async fn process(engine: &Arc<Engine>, store: &Store, row: EventRow) {
    let event: Event = match serde_json::from_str(&row.payload) {
        Ok(e) => e,
        Err(e) => {
            // Not retryable: keep it, failed, for a human to look at.
            error!(error = %e, "undecodable inbox event");
            let _ = store
                .mark_failed(row.id, &format!("undecodable: {e}"), None)
                .await;
            return;
        }
    };
    // Its own task, so that a panic fails this event (retried later) instead of killing the
    // worker and leaving the event `running`, which would hold back its PR until a restart.
    let result = {
        let engine = engine.clone();
        match tokio::spawn(async move { engine.handle(&event).await }.in_current_span()).await {
            Ok(r) => r,
            Err(e) => Err(anyhow::anyhow!("the handler panicked: {e}")),
        }
    };
    let metrics = crate::metrics::get();
    let marked = match result {
        Ok(()) => {
            metrics.event_processed(&row.kind);
            store.mark_done(row.id).await.map(|_| ())
        }
        Err(e) => {
            metrics.event_failed(&row.kind);
            let retry_at = chrono::Utc::now()
                + chrono::Duration::from_std(backoff(row.attempts)).unwrap_or_default();
            warn!(error = %format!("{e:#}"), attempt = row.attempts, "event failed; will retry");
            store
                .mark_failed(row.id, &format!("{e:#}"), Some(retry_at))
                .await
                .map(|_| ())
        }
    };
    if let Err(e) = marked {
        error!(error = %e, "cannot record the event's outcome; it will run again");
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
}
