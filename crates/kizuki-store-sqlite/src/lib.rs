//! The embedded storage backend: one SQLite file in WAL mode. Writes go through one
//! connection (grouped into shared `BEGIN IMMEDIATE` transactions, one savepoint each) with
//! `synchronous = FULL`, so a write is on disk when the call returns; reads use a small pool
//! of their own connections.

mod cases;
mod check;
mod codec;
pub mod datadir;
mod directory;
mod feed;
mod group;
// Interviews with the operators of selected cases.
mod interviews;
mod lessons;
mod migrate;
mod orgs;
mod publication;
mod reminders;
mod reports;
mod security;
mod selection;
mod sessions;
mod surveys;
mod tokens;
mod users;
// Cooperation records and published editions of a survey year.
mod year;

use async_trait::async_trait;
use chrono::{DateTime, Datelike, Utc};
use codec::{from_json, time_from, time_to, to_json};
use kizuki_domain::case::{Case, CaseContent};
use kizuki_domain::clock::{Clock, SystemClock, jst_date};
use kizuki_domain::fiscal::FiscalYear;
use kizuki_domain::ids::{CaseId, OrgId, ReportId, UserId};
use kizuki_domain::org::{NewOrganisation, OrgKind, Organisation};
use kizuki_domain::report::{Report, ReportDetails, ReportStatus, Stage, StageKind};
use kizuki_domain::survey::{Survey, SurveyContent};
use kizuki_domain::taxonomy::{Code, Lang};
use kizuki_domain::user::{Email, NewUser, Role, User};
use kizuki_store::prelude::*;
use kizuki_store::{
    ApiToken, Change, Credentials, Current, Entity, HistoryEntry, LinkKind, NewReport, NewStage,
    NewToken, Page, Paged, Problem, ReportFilter, ReportLink, StoreError, StoreResult, TokenHolder,
};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, params};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

// The row helpers each entity module shares with the others.
use {cases::*, feed::*, reports::*, surveys::*};

pub use check::{RESTORE_ADVICE, is_corruption};
pub use group::SqliteOptions;
pub use migrate::SCHEMA_VERSION;

/// Read connections kept open. Each new connection parses the whole schema, so the pool
/// covers the reads a busy API server has in flight at once (with 4, a load of 64 clients
/// spent much of its time opening and closing connections).
const READERS: usize = 32;

struct Inner {
    path: PathBuf,
    writer: group::Writer,
    readers: Mutex<Vec<Connection>>,
    /// Reads running now, for `/metrics` and the pool warning.
    busy_readers: std::sync::atomic::AtomicUsize,
}

/// Counts one running read for as long as it lives, even when the read fails or panics.
struct BusyReader<'a>(&'a std::sync::atomic::AtomicUsize);

impl<'a> BusyReader<'a> {
    fn enter(n: &'a std::sync::atomic::AtomicUsize) -> BusyReader<'a> {
        n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        BusyReader(n)
    }
}

impl Drop for BusyReader<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A SQLite database file opened for kizuki.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
    /// Where the change feed's timestamps come from: the application's clock.
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish()
    }
}

fn db_err(e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, msg) = &e
        && f.code == rusqlite::ErrorCode::ConstraintViolation
    {
        let m = msg.clone().unwrap_or_default();
        if m.contains("UNIQUE") || m.contains("PRIMARY KEY") {
            return StoreError::Duplicate { what: m };
        }
        return StoreError::Invalid(m);
    }
    StoreError::backend(e)
}

/// `secure_delete`: what a write replaces or deletes (a TOTP secret sealed on upgrade, a
/// value sealed under a dropped key) is zeroed, not left in free space for a copy of the
/// file to reveal.
fn configure(c: &Connection) -> rusqlite::Result<()> {
    c.busy_timeout(std::time::Duration::from_secs(10))?;
    c.execute_batch(
        "PRAGMA foreign_keys = ON;
         PRAGMA synchronous = FULL;
         PRAGMA temp_store = MEMORY;
         PRAGMA secure_delete = ON;",
    )
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> StoreResult<SqliteStore> {
        SqliteStore::open_with(path, SqliteOptions::default())
    }

    /// Like [`SqliteStore::open`], with the writer tuned by `opts`.
    pub fn open_with(path: &Path, opts: SqliteOptions) -> StoreResult<SqliteStore> {
        let mut writer = Connection::open(path).map_err(db_err)?;
        writer
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))
            .map_err(db_err)?;
        configure(&writer).map_err(db_err)?;
        migrate::run(&mut writer).map_err(db_err)?;
        Ok(SqliteStore {
            clock: Arc::new(SystemClock),
            inner: Arc::new(Inner {
                path: path.to_owned(),
                writer: group::Writer::start(writer, opts)?,
                readers: Mutex::new(Vec::new()),
                busy_readers: std::sync::atomic::AtomicUsize::new(0),
            }),
        })
    }

    /// The same store, its timestamps taken from `clock` (the one the application uses).
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> SqliteStore {
        SqliteStore { clock, ..self }
    }

    fn now(&self) -> chrono::DateTime<Utc> {
        self.clock.now()
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Write transactions committed since the store was opened; with group commit this is
    /// fewer than the writes, which is what the intake benchmark reports.
    pub fn write_commits(&self) -> u64 {
        self.inner.writer.commits()
    }

    /// Copies the live database to `dest` with SQLite's online backup, while writers go on.
    pub async fn backup_to(&self, dest: &Path) -> StoreResult<()> {
        let dest = dest.to_owned();
        self.read(move |c| {
            let mut out = Connection::open(&dest)?;
            {
                // All pages in one step, under one read transaction: a snapshot that WAL
                // lets the writer go on beside. Copied a slice at a time instead, every commit
                // in between would start the backup over, and a busy server's would never end.
                let b = rusqlite::backup::Backup::new(c, &mut out)?;
                b.run_to_completion(i32::MAX, std::time::Duration::from_millis(5), None)?;
            }
            // A backup file stands alone: no WAL beside it.
            out.query_row("PRAGMA journal_mode = DELETE", [], |r| {
                r.get::<_, String>(0)
            })?;
            Ok(())
        })
        .await
    }

    fn reader(&self) -> rusqlite::Result<Connection> {
        if let Some(c) = self.inner.readers.lock().ok().and_then(|mut p| p.pop()) {
            return Ok(c);
        }
        let c = Connection::open_with_flags(
            &self.inner.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        configure(&c)?;
        Ok(c)
    }

    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        self.read_store(move |c| f(c).map_err(db_err)).await
    }

    async fn read_store<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let _busy = BusyReader::enter(&this.inner.busy_readers);
            let c = this.reader().map_err(db_err)?;
            let out = f(&c);
            if let Ok(mut pool) = this.inner.readers.lock()
                && pool.len() < READERS
            {
                pool.push(c);
            }
            out
        })
        .await
        .map_err(StoreError::backend)?
    }

    /// Runs `f` in an immediate transaction on the writer connection, possibly together
    /// with other callers' writes (group commit, see [`group`]); `f`'s work is kept only
    /// when it returns `Ok`, and the call returns once that work is committed.
    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> StoreResult<T> + Send + 'static,
    {
        self.inner.writer.write(f).await
    }
}

// ---- row mapping -------------------------------------------------------------------------

#[async_trait]
impl kizuki_store::OnlineBackup for SqliteStore {
    async fn backup_to(&self, dest: &Path) -> StoreResult<()> {
        SqliteStore::backup_to(self, dest).await
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    // The read pool's use; reads beyond `READERS` open extra connections, so
    // `in_use` above `size` means the pool is overrun.
    fn pool_status(&self) -> Option<kizuki_store::PoolStatus> {
        Some(kizuki_store::PoolStatus {
            in_use: self
                .inner
                .busy_readers
                .load(std::sync::atomic::Ordering::Relaxed),
            size: READERS,
            waiting: 0,
        })
    }

    async fn check(&self) -> StoreResult<Vec<Problem>> {
        self.read_store(check::run).await
    }
}
