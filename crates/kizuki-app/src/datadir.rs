//! The data directory: where the database file, backups and (later) the search index live,
//! and how it is created, opened, backed up and restored.

use crate::error::{AppError, AppResult};
use kizuki_store_sqlite::SqliteStore;
use std::path::{Path, PathBuf};

pub const DB_FILE: &str = "kizuki.db";

#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DataDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn db_path(&self) -> PathBuf {
        self.root.join(DB_FILE)
    }

    pub fn backups_dir(&self) -> PathBuf {
        self.root.join("backups")
    }

    /// Whether a database already exists here.
    pub fn is_initialised(&self) -> bool {
        self.db_path().exists()
    }

    /// Opens the database, creating the directory and file when missing.
    pub fn open(&self) -> AppResult<SqliteStore> {
        std::fs::create_dir_all(&self.root)
            .map_err(|e| AppError::io(format!("creating {}", self.root.display()), e))?;
        Ok(SqliteStore::open(&self.db_path())?)
    }

    /// Opens an existing database; refuses when there is none, rather than creating one.
    pub fn open_existing(&self) -> AppResult<SqliteStore> {
        if !self.is_initialised() {
            return Err(AppError::Refused(format!(
                "no kizuki database in {} (run `kizuki init` or `kizuki serve` first, or pass --data-dir)",
                self.root.display()
            )));
        }
        self.open()
    }

    /// Replaces the database with a backup file after checking the backup is sound.
    /// The server must not be running.
    pub fn restore(&self, backup: &Path, force: bool) -> AppResult<()> {
        if !backup.is_file() {
            return Err(AppError::Refused(format!(
                "{} is not a file",
                backup.display()
            )));
        }
        verify_backup(backup)?;
        let db = self.db_path();
        if db.exists() && !force {
            return Err(AppError::Refused(format!(
                "{} exists; restoring would replace it. Stop the server and pass --force to overwrite",
                db.display()
            )));
        }
        std::fs::create_dir_all(&self.root)
            .map_err(|e| AppError::io(format!("creating {}", self.root.display()), e))?;
        // Copy beside the target, then rename: a crash leaves either the old or the new file.
        let tmp = self.root.join(format!("{DB_FILE}.restoring"));
        std::fs::copy(backup, &tmp)
            .map_err(|e| AppError::io(format!("copying {}", backup.display()), e))?;
        sync_file(&tmp)?;
        for suffix in ["-wal", "-shm"] {
            let side = self.root.join(format!("{DB_FILE}{suffix}"));
            if side.exists() {
                std::fs::remove_file(&side)
                    .map_err(|e| AppError::io(format!("removing {}", side.display()), e))?;
            }
        }
        std::fs::rename(&tmp, &db)
            .map_err(|e| AppError::io(format!("replacing {}", db.display()), e))?;
        Ok(())
    }
}

fn sync_file(path: &Path) -> AppResult<()> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| AppError::io(format!("syncing {}", path.display()), e))
}

/// A backup must be a sound SQLite file holding a kizuki schema.
fn verify_backup(path: &Path) -> AppResult<()> {
    let bad = |why: String| {
        AppError::Refused(format!(
            "{} is not a usable kizuki backup: {why}",
            path.display()
        ))
    };
    let c = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| bad(e.to_string()))?;
    let ok: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| bad(e.to_string()))?;
    if ok != "ok" {
        return Err(bad(format!("integrity check says {ok}")));
    }
    let v: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| bad(e.to_string()))?;
    if !(1..=kizuki_store_sqlite::SCHEMA_VERSION).contains(&v) {
        return Err(bad(format!("schema version {v}")));
    }
    Ok(())
}
