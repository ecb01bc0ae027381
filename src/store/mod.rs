//! The store: one SQLite file, reached through sqlx, holding what must survive a restart —
//! waivers and their audit trail, the durable inbox of events, and the small records that make
//! the bot idempotent (comment replies, poll cursors, PR evaluations).
//!
//! Callers never write SQL: each table has typed functions on [`Store`] returning `*Row`
//! structs, one file per table. Times are `DateTime<Utc>`, stored as fixed-width RFC 3339 TEXT
//! (`2024-05-01T12:00:00.000000Z`) so that TEXT comparison is time comparison and JSON output is
//! RFC 3339. The clock is injected ([`Store::with_clock`]) so tests can move time.

mod audit;
mod cursors;
mod details;
mod health;
mod holds;
mod inbox;
#[cfg(test)]
mod migration_tests;
mod outcomes;
mod review_requests;
mod waivers;

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::pool::PoolConnectionMetadata;
use sqlx::sqlite::SqliteTransactionManager;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, SqliteConnection, SqlitePool, TransactionManager};

use crate::clock::Clock;

pub use audit::{actions, AuditFilter, AuditRow, NewAudit};
pub use cursors::{CursorRow, EvaluationRow, NewEvaluation, Recorded, ReplyRow};
pub use details::DetailsRow;
pub use health::Unwritable;
pub use holds::{HoldRow, NewHold};
pub use inbox::{Enqueued, EventRow, EventSource, EventState, NewEvent, MAX_ATTEMPTS};
pub use outcomes::{CommentOutcome, Effect, HandledComment, Revocation};
pub use waivers::{NewWaiver, WaiverFilter, WaiverRow};

/// How long a connection waits for another writer before giving up with "database is locked".
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// What can go wrong in the store. Callers match on the domain variants (`NotFound`,
/// `AlreadyRevoked`, `ActiveWaiverExists`, `EmptyReason`) to answer users; the others are
/// reported as they are.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened or created (a directory, not a database, no
    /// permission …). Printed on one line by the CLI.
    #[error("cannot open database {}: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: sqlx::Error,
    },
    /// The schema could not be brought up to date (a corrupt file, or a database written by a
    /// newer sopbot whose migrations this binary does not know).
    #[error("cannot migrate database {}: {source}", path.display())]
    Migrate {
        path: PathBuf,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// Any other database failure.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// Nothing can be stored now: the file was deleted or replaced under the running process,
    /// or the write (a whole inbox group commit) did not commit.
    #[error(transparent)]
    Unwritable(#[from] Unwritable),
    /// The row asked for (a waiver id, an event id) does not exist.
    #[error("not found")]
    NotFound,
    /// A waiver can be revoked once; this one already was.
    #[error("waiver {id} was already revoked at {} by {by}", at.to_rfc3339_opts(SecondsFormat::Secs, true))]
    AlreadyRevoked {
        id: i64,
        at: DateTime<Utc>,
        by: String,
    },
    /// The gate of this PR already has an active waiver; revoke it first.
    #[error("waiver {id} is already active for this gate of this pull request")]
    ActiveWaiverExists { id: i64 },
    /// A waiver or a revocation must say why.
    #[error("a reason is required")]
    EmptyReason,
}

/// Handle on the database. Cheap to clone (pools and a clock behind `Arc`s).
#[derive(Clone)]
pub struct Store {
    /// Most reads and writes: synchronous NORMAL.
    pool: SqlitePool,
    /// The writes that must be on disk before anyone outside learns of them: synchronous FULL.
    durable: SqlitePool,
    /// The queue of the inbox writer, which stores events in batches on `durable`.
    inbox_writer: tokio::sync::mpsc::Sender<inbox::Pending>,
    /// Which file was opened, and whether writes commit.
    health: Arc<health::Health>,
    clock: Clock,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").field("pool", &self.pool).finish()
    }
}

impl Store {
    /// Opens (creating it if missing) the database at `path` and applies pending migrations.
    ///
    /// Every connection runs in WAL mode (readers do not block the writer), waits up to
    /// [`BUSY_TIMEOUT`] for a lock and enforces foreign keys.
    ///
    /// Durability is chosen per write, by connection. The writes that something outside the
    /// process relies on go through one connection that syncs FULL: an inbox event (Gitea got
    /// 202 and never delivers it again) and a comment's recorded outcome (its waivers, and the
    /// record that stops a second reply). The WAL is one sequence, so their fsync also covers
    /// every earlier write. Everything else (claiming and finishing events, cursors, reply ids)
    /// syncs NORMAL: a power cut may undo the last of them, which only runs an event again, and
    /// every handler is safe to run again. A process crash loses nothing either way.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            .synchronous(SqliteSynchronous::Normal);
        let open_err = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        // A connection handed out is not pinged first: that is one more round trip to its
        // thread per query, and a broken SQLite connection fails the query anyway.
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .after_release(out_of_transaction)
            .connect_with(options.clone())
            .await
            .map_err(open_err)?;
        if let Err(source) = sqlx::migrate!("./migrations").run(&pool).await {
            pool.close().await;
            return Err(StoreError::Migrate {
                path: path.to_path_buf(),
                source,
            });
        }
        // One connection: durable writes queue in the pool instead of in SQLite's busy handler.
        let durable = match SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .after_release(out_of_transaction)
            .connect_with(options.synchronous(SqliteSynchronous::Full))
            .await
        {
            Ok(durable) => durable,
            Err(source) => {
                pool.close().await;
                return Err(open_err(source));
            }
        };
        // The file exists now: remember which one it is, to notice it deleted or replaced.
        let health = match health::Health::new(path) {
            Ok(h) => Arc::new(h),
            Err(e) => {
                durable.close().await;
                pool.close().await;
                return Err(open_err(sqlx::Error::Io(e)));
            }
        };
        Ok(Store {
            pool,
            inbox_writer: inbox::spawn_writer(durable.clone(), health.clone()),
            health,
            durable,
            clock: Clock::system(),
        })
    }

    /// Replaces the clock (tests: a fixed or movable time).
    pub fn with_clock(mut self, clock: Clock) -> Store {
        self.clock = clock;
        self
    }

    /// The underlying pool, for diagnostics and tests that must prove what the database itself
    /// refuses. Application code uses the typed functions.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Waits for every connection to close; the file is then consistent on disk.
    pub async fn close(&self) {
        self.durable.close().await;
        self.pool.close().await;
    }

    /// The current time, truncated to what is stored (microseconds).
    pub(crate) fn now(&self) -> DateTime<Utc> {
        truncate(self.clock.now())
    }
}

/// Gives a connection back to the pool out of any transaction, as sqlx counts them.
///
/// sqlx counts transactions itself. When a COMMIT fails (disk full, read-only file), SQLite has
/// already rolled the transaction back, so sqlx's own ROLLBACK fails and its count stays at
/// one: every later `begin` on that connection would fail, long after the disk has room again.
/// The count is realigned here — an untracked `BEGIN`, then sqlx's ROLLBACK — rather than the
/// connection closed: a connection reopened while the file is write-protected would silently
/// be read-only for good. Free when no transaction is open. A connection that cannot be
/// realigned is closed.
fn out_of_transaction(
    conn: &mut SqliteConnection,
    _: PoolConnectionMetadata,
) -> Pin<Box<dyn Future<Output = Result<bool, sqlx::Error>> + Send + '_>> {
    Box::pin(async move {
        if !conn.is_in_transaction() {
            return Ok(true);
        }
        // The rollback queued by a dropped transaction runs before the ping is answered.
        conn.ping().await?;
        if conn.is_in_transaction() {
            sqlx::Executor::execute(&mut *conn, "BEGIN").await?;
            SqliteTransactionManager::rollback(conn).await?;
        }
        Ok(!conn.is_in_transaction())
    })
}

/// Formats a time the way every column stores it: RFC 3339, UTC, `Z`, microseconds.
pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn truncate(t: DateTime<Utc>) -> DateTime<Utc> {
    // Round-trips exactly through `ts`, so a value handed out equals the one read back.
    DateTime::from_str(&ts(t)).unwrap_or(t)
}

/// Trimmed, non-empty reason, or [`StoreError::EmptyReason`].
pub(crate) fn reason(text: &str) -> Result<&str, StoreError> {
    let t = text.trim();
    if t.is_empty() {
        Err(StoreError::EmptyReason)
    } else {
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_times_are_fixed_width_rfc3339_with_z() {
        let t = DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(ts(t), "2024-05-01T12:00:00.000000Z");
        let later = t + chrono::Duration::nanoseconds(1_234_567);
        assert_eq!(ts(later), "2024-05-01T12:00:00.001234Z");
        assert_eq!(truncate(later), t + chrono::Duration::microseconds(1234));
    }

    #[test]
    fn reasons_are_trimmed_and_required() {
        assert_eq!(reason("  docs only ").unwrap(), "docs only");
        assert!(matches!(reason(" \n"), Err(StoreError::EmptyReason)));
    }

    #[test]
    fn open_error_names_the_path() {
        let e = StoreError::Open {
            path: PathBuf::from("/tmp/x.db"),
            source: sqlx::Error::PoolTimedOut,
        };
        assert!(e
            .to_string()
            .starts_with("cannot open database /tmp/x.db: "));
    }
}
