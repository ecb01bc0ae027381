//! Day-2 inbox care: listing events (the failed ones above all), putting a failed event back
//! to `pending` by hand, and pruning handled events past the retention period. Only `done`
//! inbox rows are ever deleted; waivers, audit rows and failed events never are.

use chrono::{DateTime, Utc};

use super::{EventRow, EventSource, EventState};
use crate::store::{ts, Store, StoreError};

impl Store {
    /// Events, newest first, optionally only those in `state`; at most `limit`.
    pub async fn list_events(
        &self,
        state: Option<EventState>,
        limit: i64,
    ) -> Result<Vec<EventRow>, StoreError> {
        let rows = sqlx::query_as!(
            EventRow,
            r#"SELECT id, dedup_key, source AS "source: EventSource", kind, repo, pr, delivery_id,
                      payload, received_at AS "received_at: DateTime<Utc>",
                      state AS "state: EventState", attempts,
                      not_before AS "not_before: DateTime<Utc>", last_error,
                      done_at AS "done_at: DateTime<Utc>"
               FROM inbox WHERE ?1 IS NULL OR state = ?1 ORDER BY id DESC LIMIT ?2"#,
            state,
            limit
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// Puts a `failed` event back to `pending` with its attempts reset, so a worker runs it
    /// again. [`StoreError::NotFound`] if no failed event has this id.
    pub async fn retry_event(&self, id: i64) -> Result<EventRow, StoreError> {
        let row = sqlx::query_as!(
            EventRow,
            r#"UPDATE inbox SET state = 'pending', attempts = 0, not_before = NULL, done_at = NULL
               WHERE id = ? AND state = 'failed'
               RETURNING id, dedup_key, source AS "source: EventSource", kind, repo, pr, delivery_id,
                         payload, received_at AS "received_at: DateTime<Utc>",
                         state AS "state: EventState", attempts,
                         not_before AS "not_before: DateTime<Utc>", last_error,
                         done_at AS "done_at: DateTime<Utc>""#,
            id
        )
        .fetch_optional(&self.pool)
        .await?;
        row.ok_or(StoreError::NotFound)
    }

    /// Deletes `done` events handled before `before` (payloads with them). Returns how many.
    pub async fn prune_done(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let before = ts(before);
        let gone = sqlx::query!(
            "DELETE FROM inbox WHERE state = 'done' AND done_at < ?",
            before
        )
        .execute(&self.pool)
        .await?;
        Ok(gone.rows_affected())
    }
}
