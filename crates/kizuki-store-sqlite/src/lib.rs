//! The embedded storage backend: one SQLite file in WAL mode. Writes go through one
//! connection (grouped into shared `BEGIN IMMEDIATE` transactions, one savepoint each) with
//! `synchronous = FULL`, so a write is on disk when the call returns; reads use a small pool
//! of their own connections.

mod cases;
mod codec;
pub mod datadir;
mod feed;
mod group;
mod migrate;
mod orgs;
mod publication;
mod reports;
mod surveys;
mod tokens;
mod users;
// Reminders (issue 8).
mod reminders;
// Security (issue 6).
mod security;

mod selection;
// Browser sessions in the database (shared by every node).
mod sessions;

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
    NewToken, Page, Paged, Problem, ReportFilter, ReportLink, ReportSort, StoreError, StoreResult,
};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, params};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use group::SqliteOptions;
pub use migrate::SCHEMA_VERSION;

/// Read connections kept open. Each new connection parses the whole schema, so the pool
/// covers the reads a busy API server has in flight at once (issue 7: with 4, a load of 64
/// clients spent much of its time opening and closing connections).
const READERS: usize = 32;

struct Inner {
    path: PathBuf,
    writer: group::Writer,
    readers: Mutex<Vec<Connection>>,
    /// Reads running now (issue 7: `/metrics` and the pool warning).
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

fn configure(c: &Connection) -> rusqlite::Result<()> {
    c.busy_timeout(std::time::Duration::from_secs(10))?;
    c.execute_batch(
        "PRAGMA foreign_keys = ON;
         PRAGMA synchronous = FULL;
         PRAGMA temp_store = MEMORY;",
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

fn org_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Organisation> {
    let kind: String = r.get("kind")?;
    let sectors: String = r.get("sectors")?;
    Ok(Organisation {
        id: OrgId(r.get("id")?),
        version: r.get("version")?,
        org: NewOrganisation {
            key: r.get("key")?,
            name: r.get("name")?,
            kind: OrgKind::parse(&kind).ok_or_else(|| codec::bad("organisations.kind", &kind))?,
            sectors: from_json::<Vec<Code>>(&sectors)?,
            region: r.get::<_, Option<String>>("region")?.map(Code),
        },
    })
}

fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    let role: String = r.get("role")?;
    let lang: String = r.get("lang")?;
    let email: String = r.get("email")?;
    Ok(User {
        id: UserId(r.get("id")?),
        version: r.get("version")?,
        user: NewUser {
            org_id: OrgId(r.get("org_id")?),
            email: Email::parse(&email).map_err(|_| codec::bad("users.email", &email))?,
            display_name: r.get("display_name")?,
            role: Role::parse(&role).ok_or_else(|| codec::bad("users.role", &role))?,
            lang: Lang::parse(&lang).unwrap_or_default(),
        },
        active: r.get("active")?,
    })
}

fn token_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ApiToken> {
    Ok(ApiToken {
        id: r.get("id")?,
        user_id: UserId(r.get("user_id")?),
        label: r.get("label")?,
        created_at: time_from(&r.get::<_, String>("created_at")?)?,
        revoked_at: r
            .get::<_, Option<String>>("revoked_at")?
            .map(|s| time_from(&s))
            .transpose()?,
    })
}

fn link_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ReportLink> {
    let kind: String = r.get("kind")?;
    Ok(ReportLink {
        from: ReportId(r.get("from_id")?),
        to: ReportId(r.get("to_id")?),
        kind: LinkKind::parse(&kind).ok_or_else(|| codec::bad("report_links.kind", &kind))?,
        at: time_from(&r.get::<_, String>("at")?)?,
        by: r.get::<_, Option<i64>>("by_user")?.map(UserId),
    })
}

const TOKEN_COLS: &str = "id, user_id, label, created_at, revoked_at";

fn load_token(c: &Connection, id: i64) -> StoreResult<ApiToken> {
    c.query_row(
        &format!("SELECT {TOKEN_COLS} FROM api_tokens WHERE id = ?1"),
        [id],
        token_row,
    )
    .optional()
    .map_err(db_err)?
    .ok_or_else(|| StoreError::not_found("token", id))
}

fn report_exists(c: &Connection, id: ReportId) -> StoreResult<()> {
    let found: Option<i64> = c
        .query_row("SELECT id FROM reports WHERE id = ?1", [id.0], |r| r.get(0))
        .optional()
        .map_err(db_err)?;
    found
        .map(|_| ())
        .ok_or_else(|| StoreError::not_found("report", id))
}

const USER_COLS: &str = "id, org_id, email, display_name, role, lang, active, version";
const ORG_COLS: &str = "id, key, name, kind, sectors, region, version";

fn load_report(c: &Connection, id: ReportId) -> StoreResult<Report> {
    let row = c
        .query_row(
            "SELECT org_id, version, status, reported_at, updated_at, details
             FROM reports WHERE id = ?1",
            [id.0],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                ))
            },
        )
        .optional()
        .map_err(db_err)?
        .ok_or_else(|| StoreError::not_found("report", id))?;
    let (org_id, version, status, reported_at, updated_at, details) = row;
    let mut st = c
        .prepare_cached(
            "SELECT seq, kind, at, text, author FROM report_stages
             WHERE report_id = ?1 ORDER BY seq",
        )
        .map_err(db_err)?;
    let stages = st
        .query_map([id.0], |r| {
            let kind: String = r.get(1)?;
            Ok(Stage {
                seq: r.get(0)?,
                kind: StageKind::parse(&kind)
                    .ok_or_else(|| codec::bad("report_stages.kind", &kind))?,
                at: time_from(&r.get::<_, String>(2)?)?,
                text: r.get(3)?,
                author: r.get::<_, Option<i64>>(4)?.map(UserId),
            })
        })
        .map_err(db_err)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db_err)?;
    let case_id = c
        .query_row(
            "SELECT id FROM cases WHERE report_id = ?1 ORDER BY id LIMIT 1",
            [id.0],
            |r| r.get::<_, i64>(0),
        )
        .optional()
        .map_err(db_err)?
        .map(CaseId);
    Ok(Report {
        id,
        version,
        org_id: OrgId(org_id),
        status: ReportStatus::parse(&status)
            .ok_or_else(|| db_err(codec::bad("reports.status", &status)))?,
        reported_at: time_from(&reported_at).map_err(db_err)?,
        updated_at: time_from(&updated_at).map_err(db_err)?,
        details: from_json(&details).map_err(db_err)?,
        stages,
        case_id,
    })
}

fn load_case(c: &Connection, id: CaseId) -> StoreResult<Case> {
    c.query_row(
        "SELECT id, survey_year, report_id, version, content FROM cases WHERE id = ?1",
        [id.0],
        case_row,
    )
    .optional()
    .map_err(db_err)?
    .ok_or_else(|| StoreError::not_found("case", id))
}

fn case_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Case> {
    Ok(Case {
        id: CaseId(r.get(0)?),
        survey_year: r.get(1)?,
        report_id: r.get::<_, Option<i64>>(2)?.map(ReportId),
        version: r.get(3)?,
        content: from_json::<CaseContent>(&r.get::<_, String>(4)?)?,
    })
}

fn load_survey(c: &Connection, fy: i32) -> StoreResult<Survey> {
    c.query_row(
        "SELECT version, content FROM surveys WHERE fiscal_year = ?1",
        [fy],
        |r| {
            Ok(Survey {
                version: r.get(0)?,
                content: from_json(&r.get::<_, String>(1)?)?,
            })
        },
    )
    .optional()
    .map_err(db_err)?
    .ok_or_else(|| StoreError::not_found("survey", fy))
}

fn load_org(c: &Connection, id: OrgId) -> StoreResult<Organisation> {
    c.prepare_cached(&format!(
        "SELECT {ORG_COLS} FROM organisations WHERE id = ?1"
    ))
    .and_then(|mut st| st.query_row([id.0], org_row).optional())
    .map_err(db_err)?
    .ok_or_else(|| StoreError::not_found("organisation", id))
}

pub(crate) fn record_change(
    tx: &Transaction<'_>,
    entity: Entity,
    id: i64,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    tx.prepare_cached("INSERT INTO changes (entity, entity_id, at) VALUES (?1, ?2, ?3)")
        .and_then(|mut st| st.execute(params![entity.code(), id, time_to(at)]))
        .map_err(db_err)?;
    Ok(())
}

#[expect(
    clippy::too_many_arguments,
    reason = "one row of the history table; a struct would only repeat its columns"
)]
fn record_history<T: serde::Serialize>(
    tx: &Transaction<'_>,
    entity: Entity,
    id: i64,
    version: i64,
    at: DateTime<Utc>,
    by: Option<UserId>,
    action: &str,
    snapshot: &T,
) -> StoreResult<()> {
    let mut st = tx
        .prepare_cached(
            "INSERT INTO history (entity, entity_id, version, at, user_id, action, snapshot)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .map_err(db_err)?;
    st.execute(params![
        entity.code(),
        id,
        version,
        time_to(at),
        by.map(|u| u.0),
        action,
        to_json(snapshot).map_err(db_err)?
    ])
    .map_err(db_err)?;
    record_change(tx, entity, id, at)
}

/// Compares the stored version with the one the caller edited; `Ok` when they match.
fn expect_version(
    tx: &Transaction<'_>,
    table: &str,
    key_col: &str,
    key: i64,
    expected: i64,
) -> StoreResult<bool> {
    let v: Option<i64> = tx
        .query_row(
            &format!("SELECT version FROM {table} WHERE {key_col} = ?1"),
            [key],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err)?;
    match v {
        None => Err(StoreError::NotFound {
            entity: match table {
                "reports" => "report",
                "cases" => "case",
                "surveys" => "survey",
                _ => "organisation",
            },
            id: key.to_string(),
        }),
        Some(v) => Ok(v == expected),
    }
}

fn write_report_columns(tx: &Transaction<'_>, id: ReportId, d: &ReportDetails) -> StoreResult<()> {
    tx.execute(
        "UPDATE reports SET sector = ?2, event_type = ?3, severity = ?4, tlp = ?5, details = ?6
         WHERE id = ?1",
        params![
            id.0,
            d.sector.as_str(),
            d.event_type.as_str(),
            d.severity.map(|s| s.level()),
            d.tlp.code(),
            to_json(d).map_err(db_err)?
        ],
    )
    .map_err(db_err)?;
    tx.execute("DELETE FROM report_causes WHERE report_id = ?1", [id.0])
        .map_err(db_err)?;
    for cause in &d.causes {
        tx.execute(
            "INSERT OR IGNORE INTO report_causes (report_id, cause) VALUES (?1, ?2)",
            params![id.0, cause.as_str()],
        )
        .map_err(db_err)?;
    }
    Ok(())
}

fn bump_report(
    tx: &Transaction<'_>,
    id: ReportId,
    at: DateTime<Utc>,
    by: Option<UserId>,
    action: &str,
) -> StoreResult<Report> {
    tx.execute(
        "UPDATE reports SET version = version + 1, updated_at = ?2 WHERE id = ?1",
        params![id.0, time_to(at)],
    )
    .map_err(db_err)?;
    let r = load_report(tx, id)?;
    record_history(tx, Entity::Report, id.0, r.version, at, by, action, &r)?;
    Ok(r)
}

fn report_conflict(tx: &Transaction<'_>, id: ReportId) -> StoreError {
    match load_report(tx, id) {
        Ok(cur) => StoreError::Conflict {
            entity: "report",
            current: Current::Report(Box::new(cur)),
        },
        Err(e) => e,
    }
}

fn insert_stage(tx: &Transaction<'_>, id: ReportId, seq: i64, s: &NewStage) -> StoreResult<()> {
    let mut st = tx
        .prepare_cached(
            "INSERT INTO report_stages (report_id, seq, kind, at, text, author)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .map_err(db_err)?;
    st.execute(params![
        id.0,
        seq,
        s.kind.code(),
        time_to(s.at),
        s.text,
        s.author.map(|u| u.0)
    ])
    .map_err(db_err)?;
    Ok(())
}

/// Inserts one report with its first stage, history entry and change-feed entry.
fn insert_report(tx: &Transaction<'_>, report: &NewReport) -> StoreResult<Report> {
    let at = report.first.at;
    let day = jst_date(at);
    // Dates before 1873 have no 年度; they cannot be filed, so any number will do.
    let fy = FiscalYear::of(day).map_or(day.year(), FiscalYear::year);
    let d = &report.details;
    let details = to_json(d).map_err(db_err)?;
    let at_text = time_to(at);
    // All columns in one insert (intake speed, issue 7): a new report has no causes to
    // clear, so `write_report_columns` would only repeat work here.
    tx.prepare_cached(
        "INSERT INTO reports (org_id, version, status, reported_at, updated_at,
         fiscal_year, sector, event_type, severity, tlp, details)
         VALUES (?1, 1, 'new', ?2, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .and_then(|mut st| {
        st.execute(params![
            report.org_id.0,
            at_text,
            fy,
            d.sector.as_str(),
            d.event_type.as_str(),
            d.severity.map(|s| s.level()),
            d.tlp.code(),
            details
        ])
    })
    .map_err(db_err)?;
    let id = ReportId(tx.last_insert_rowid());
    for cause in &d.causes {
        tx.prepare_cached("INSERT OR IGNORE INTO report_causes (report_id, cause) VALUES (?1, ?2)")
            .and_then(|mut st| st.execute(params![id.0, cause.as_str()]))
            .map_err(db_err)?;
    }
    insert_stage(tx, id, 1, &report.first)?;
    // The report as `load_report` would read it back, built here instead of re-read: times
    // at the stored precision and the details through their stored JSON.
    let stored_at = time_from(&at_text).map_err(db_err)?;
    let r = Report {
        id,
        version: 1,
        org_id: report.org_id,
        status: ReportStatus::New,
        reported_at: stored_at,
        updated_at: stored_at,
        details: from_json(&details).map_err(db_err)?,
        stages: vec![Stage {
            seq: 1,
            kind: report.first.kind,
            at: stored_at,
            text: report.first.text.clone(),
            author: report.first.author,
        }],
        case_id: None,
    };
    record_history(
        tx,
        Entity::Report,
        id.0,
        1,
        at,
        report.first.author,
        "create",
        &r,
    )?;
    Ok(r)
}

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

    // Issue 7: the read pool's use; reads beyond `READERS` open extra connections, so
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
fn history(c: &Connection, entity: Entity, id: i64) -> rusqlite::Result<Vec<HistoryEntry>> {
    let mut st = c.prepare_cached(
        "SELECT version, at, user_id, action, snapshot FROM history
         WHERE entity = ?1 AND entity_id = ?2 ORDER BY version",
    )?;
    st.query_map(params![entity.code(), id], |r| {
        Ok(HistoryEntry {
            version: r.get(0)?,
            at: time_from(&r.get::<_, String>(1)?)?,
            user_id: r.get::<_, Option<i64>>(2)?.map(UserId),
            action: r.get(3)?,
            snapshot: r.get(4)?,
        })
    })?
    .collect()
}

mod check;
