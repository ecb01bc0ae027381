//! Whether the database can still be written, as the process sees it: the file at the
//! configured path must be the one opened (not deleted or replaced under the running process),
//! and a write must commit. The state changes are logged once each — the first failure and the
//! recovery — however many deliveries or probes meet the same failure in between.

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
    /// The failure that started the outage being lived through, `None` while writes commit.
    failing: Mutex<Option<Unwritable>>,
}

impl Health {
    /// Remembers which file `path` is now (called right after opening it).
    pub(super) fn new(path: &Path) -> std::io::Result<Health> {
        Ok(Health {
            path: path.to_path_buf(),
            opened: file_id(path)?,
            failing: Mutex::new(None),
        })
    }

    /// One `stat` of the path: is it still the file the connections write to?
    pub(super) fn check_file(&self) -> Result<(), Unwritable> {
        match file_id(&self.path) {
            Ok(id) if id == self.opened => Ok(()),
            Ok(_) => Err(Unwritable::Replaced(self.path.clone())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(Unwritable::Deleted(self.path.clone()))
            }
            Err(e) => Err(Unwritable::Failed(format!("cannot stat the file: {e}"))),
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
            sqlx::query("UPDATE write_probe SET at = ? WHERE id = 1")
                .bind(super::ts(self.now()))
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
