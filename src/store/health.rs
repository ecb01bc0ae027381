//! Whether the database can still be written, as the process sees it: the file at the
//! configured path must be the one opened (not deleted or replaced under the running process),
//! so must its write-ahead log and shared-memory index (`-wal`, `-shm`) — the acknowledged rows
//! not yet checkpointed live only in the log — and a write must commit. The state changes are
//! logged once each — the first failure and the recovery — however many deliveries or probes
//! meet the same failure in between.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{Store, StoreError};

/// Why nothing can be stored now. Cloned into the answer of every delivery it refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unwritable {
    /// The path no longer exists: writes would go to an unlinked file and vanish at restart.
    #[error("the database file {} was deleted while sopbot was running; restore it from a backup and restart sopbot", .0.display())]
    Deleted(PathBuf),
    /// Another file now sits at the path: writes would go to the old, unlinked one.
    #[error("the database file {} was replaced by another file while sopbot was running; restart sopbot to use it", .0.display())]
    Replaced(PathBuf),
    /// The write-ahead log or shared-memory index open in this process is no longer at its
    /// path: what it holds is lost at restart, and another process would not see it.
    #[error("the database file {} was deleted or replaced while sopbot was running (what sopbot wrote since the last checkpoint is only in the open file); restart sopbot", .0.display())]
    CompanionGone(PathBuf),
    /// A write did not commit (disk full, read-only or immutable file, I/O error …).
    #[error("the database cannot be written: {0}")]
    Failed(String),
}

/// Device and inode of a file: what identifies it across renames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    dev: u64,
    ino: u64,
}

#[cfg(unix)]
fn file_id(path: &Path) -> std::io::Result<FileId> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path)?;
    Ok(FileId {
        dev: m.dev(),
        ino: m.ino(),
    })
}

#[cfg(not(unix))]
fn file_id(path: &Path) -> std::io::Result<FileId> {
    std::fs::metadata(path).map(|_| FileId { dev: 0, ino: 0 })
}

/// The file opened and the last known state. Shared by every clone of a [`Store`].
#[derive(Debug)]
pub(super) struct Health {
    path: PathBuf,
    opened: FileId,
    /// The absolute paths the kernel reports for the database, its `-wal` and `-shm` (the
    /// database path with symbolic links resolved, as `/proc/self/fd` shows them).
    files: [PathBuf; 3],
    /// The failure that started the outage being lived through, `None` while writes commit.
    failing: Mutex<Option<Unwritable>>,
}

impl Health {
    /// Remembers which file `path` is now (called right after opening it).
    pub(super) fn new(path: &Path) -> std::io::Result<Health> {
        let main = std::fs::canonicalize(path)?;
        let with = |suffix: &str| {
            let mut p = main.clone().into_os_string();
            p.push(suffix);
            PathBuf::from(p)
        };
        Ok(Health {
            path: path.to_path_buf(),
            opened: file_id(path)?,
            files: [with("-wal"), with("-shm"), main.clone()],
            failing: Mutex::new(None),
        })
    }

    /// One `stat` of the path: is it still the file the connections write to? Then: is every
    /// database file this process has open still at its path?
    pub(super) fn check_file(&self) -> Result<(), Unwritable> {
        match file_id(&self.path) {
            Ok(id) if id == self.opened => {}
            Ok(_) => return Err(Unwritable::Replaced(self.path.clone())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Unwritable::Deleted(self.path.clone()))
            }
            Err(e) => return Err(Unwritable::Failed(format!("cannot stat the file: {e}"))),
        }
        match unlinked_open_file(&self.files) {
            Some(gone) => Err(Unwritable::CompanionGone(gone)),
            None => Ok(()),
        }
    }

    /// Records the outcome of a write and logs the changes of state: the first failure of an
    /// outage, and the recovery. Failures in between (other causes included) are not logged.
    pub(super) fn record(&self, outcome: Result<(), &Unwritable>) {
        let mut failing = self.failing.lock().unwrap_or_else(|e| e.into_inner());
        match (outcome, failing.is_some()) {
            (Ok(()), true) => {
                tracing::info!("the database is writable again: deliveries are accepted");
                *failing = None;
            }
            (Err(now), false) => {
                tracing::error!(error = %now, "database not writable: deliveries are refused (503) until it is");
                *failing = Some(now.clone());
            }
            _ => {}
        }
    }
}

/// Which of `files` this process holds open although it was unlinked from its directory
/// (deleted, or another file renamed over it): Linux shows such a descriptor's target in
/// `/proc/self/fd` as the old path followed by " (deleted)". A file SQLite closed and removed
/// itself (the log, when the last connection closes) has no descriptor, so it is not reported.
/// Costs one `readdir` and one `readlink` per open descriptor: measured at about 45 µs with
/// 17 descriptors in a debug build (a `stat` alone: 5 µs), once per batch, claim or `/readyz`.
/// Without `/proc` (not Linux, or not mounted) nothing is reported: the `stat` of the main file
/// is then the only check.
fn unlinked_open_file(files: &[PathBuf]) -> Option<PathBuf> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::ffi::OsStrExt;
        let entries = std::fs::read_dir("/proc/self/fd").ok()?;
        // A descriptor closed or reused between `readdir` and `readlink` is skipped or seen
        // under its new target: only a descriptor open now on an unlinked file matters.
        entries.flatten().find_map(|entry| {
            let target = std::fs::read_link(entry.path()).ok()?;
            let target = target.as_os_str().as_bytes();
            let old = target.strip_suffix(b" (deleted)")?;
            files
                .iter()
                .find(|f| f.as_os_str().as_bytes() == old)
                .cloned()
        })
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = files;
        None
    }
}

/// The message of a database error, for [`Unwritable::Failed`].
pub(super) fn failed(e: impl std::fmt::Display) -> Unwritable {
    Unwritable::Failed(e.to_string())
}

impl Store {
    /// Proves the database can be written now (`/readyz`): the file at the path is the one
    /// open, and a one-row update commits, fully synced, through the connection the inbox uses.
    pub async fn check_writable(&self) -> Result<(), Unwritable> {
        let result = async {
            self.health.check_file()?;
            let mut tx = self
                .durable
                .begin_with("BEGIN IMMEDIATE")
                .await
                .map_err(failed)?;
            let now = super::ts(self.now());
            sqlx::query!("UPDATE write_probe SET at = ? WHERE id = 1", now)
                .execute(&mut *tx)
                .await
                .map_err(failed)?;
            tx.commit().await.map_err(failed)
        }
        .await;
        self.health.record(result.as_ref().map(|_| ()));
        result
    }

    /// [`Health::check_file`], as a [`StoreError`], recorded: for the writes of the inbox.
    pub(super) fn check_file(&self) -> Result<(), StoreError> {
        let result = self.health.check_file();
        if let Err(e) = &result {
            self.health.record(Err(e));
        }
        Ok(result?)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// A store in its own directory with a committed write: its log and index are open.
    async fn written() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("sopbot.db")).await.unwrap();
        store.check_writable().await.unwrap();
        (dir, store)
    }

    async fn companion_gone(suffix: &str, break_it: impl FnOnce(&Path)) {
        let (dir, store) = written().await;
        let (_other_dir, other) = written().await;
        let file = dir.path().join(format!("sopbot.db{suffix}"));
        break_it(&file);

        let err = store.check_writable().await.unwrap_err();
        let shown = std::fs::canonicalize(dir.path())
            .unwrap()
            .join(format!("sopbot.db{suffix}"));
        assert_eq!(err, Unwritable::CompanionGone(shown.clone()));
        let message = err.to_string();
        assert!(message.contains(&shown.display().to_string()), "{message}");
        assert!(message.contains("restart sopbot"), "{message}");
        // Another database of the same process is not concerned.
        other.check_writable().await.unwrap();
        store.close().await;
        other.close().await;
    }

    #[tokio::test]
    async fn a_deleted_write_ahead_log_makes_the_store_unwritable() {
        companion_gone("-wal", |f| std::fs::remove_file(f).unwrap()).await;
    }

    #[tokio::test]
    async fn a_deleted_shared_memory_index_makes_the_store_unwritable() {
        companion_gone("-shm", |f| std::fs::remove_file(f).unwrap()).await;
    }

    #[tokio::test]
    async fn a_write_ahead_log_replaced_by_another_file_makes_the_store_unwritable() {
        companion_gone("-wal", |f| {
            let other = f.with_file_name("copy");
            std::fs::copy(f, &other).unwrap();
            std::fs::rename(&other, f).unwrap();
        })
        .await;
    }

    /// SQLite removes the log itself when the last connection closes; a store opened again
    /// on the same file afterwards is writable (no descriptor of the old log is left open).
    #[tokio::test]
    async fn a_log_removed_by_sqlite_on_close_is_not_a_failure() {
        let (dir, store) = written().await;
        store.close().await;
        assert!(!dir.path().join("sopbot.db-wal").exists());
        let again = Store::open(&dir.path().join("sopbot.db")).await.unwrap();
        again.check_writable().await.unwrap();
        again.close().await;
    }
}
