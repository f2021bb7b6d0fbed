//! The data directory: where the database file, its backups and the search index live, and
//! how the database file is created, opened and restored from a backup.

use crate::SqliteStore;
use kizuki_store::StoreError;
use std::path::{Path, PathBuf};

/// Why the data dir could not be opened or restored.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// Nothing was changed; the message says why and what to do.
    #[error("{0}")]
    Refused(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DataDirError {
    fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        DataDirError::Io {
            context: context.into(),
            source,
        }
    }
}

type DirResult<T> = Result<T, DataDirError>;

/// The database file's name inside the data dir.
pub const DB_FILE: &str = "kizuki.db";

/// A data directory on disk.
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
    pub fn open(&self) -> DirResult<SqliteStore> {
        self.open_with(crate::SqliteOptions::default())
    }

    /// Like [`DataDir::open`], with the writer tuned by `opts`.
    pub fn open_with(&self, opts: crate::SqliteOptions) -> DirResult<SqliteStore> {
        std::fs::create_dir_all(&self.root)
            .map_err(|e| DataDirError::io(format!("creating {}", self.root.display()), e))?;
        Ok(SqliteStore::open_with(&self.db_path(), opts)?)
    }

    /// Opens an existing database; refuses when there is none, rather than creating one.
    pub fn open_existing(&self, opts: crate::SqliteOptions) -> DirResult<SqliteStore> {
        if !self.is_initialised() {
            return Err(DataDirError::Refused(format!(
                "no kizuki database in {} (run `kizuki init` or `kizuki serve` first, or pass --data-dir)",
                self.root.display()
            )));
        }
        self.open_with(opts)
    }

    /// Replaces the database with a backup file after checking the backup is sound.
    /// The server must not be running.
    pub fn restore(&self, backup: &Path, force: bool) -> DirResult<()> {
        if !backup.is_file() {
            return Err(DataDirError::Refused(format!(
                "{} is not a file",
                backup.display()
            )));
        }
        verify_backup(backup)?;
        let db = self.db_path();
        if db.exists() && !force {
            return Err(DataDirError::Refused(format!(
                "{} exists; restoring would replace it. Stop the server and pass --force to overwrite",
                db.display()
            )));
        }
        std::fs::create_dir_all(&self.root)
            .map_err(|e| DataDirError::io(format!("creating {}", self.root.display()), e))?;
        // Copy beside the target, then rename: a crash leaves either the old or the new file.
        let tmp = self.root.join(format!("{DB_FILE}.restoring"));
        std::fs::copy(backup, &tmp)
            .map_err(|e| DataDirError::io(format!("copying {}", backup.display()), e))?;
        sync_file(&tmp)?;
        for suffix in ["-wal", "-shm"] {
            let side = self.root.join(format!("{DB_FILE}{suffix}"));
            if side.exists() {
                std::fs::remove_file(&side)
                    .map_err(|e| DataDirError::io(format!("removing {}", side.display()), e))?;
            }
        }
        std::fs::rename(&tmp, &db)
            .map_err(|e| DataDirError::io(format!("replacing {}", db.display()), e))?;
        Ok(())
    }
}

fn sync_file(path: &Path) -> DirResult<()> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| DataDirError::io(format!("syncing {}", path.display()), e))
}

/// A backup must be a sound SQLite file holding a kizuki schema.
fn verify_backup(path: &Path) -> DirResult<()> {
    let bad = |why: String| {
        DataDirError::Refused(format!(
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
    if !(1..=crate::SCHEMA_VERSION).contains(&v) {
        return Err(bad(format!("schema version {v}")));
    }
    Ok(())
}
