//! The embedded storage backend: one SQLite file in WAL mode. Writes go through one
//! connection (grouped into shared `BEGIN IMMEDIATE` transactions, one savepoint each) with
//! `synchronous = FULL`, so a write is on disk when the call returns; reads use a small pool
//! of their own connections.

mod codec;
pub mod datadir;
mod group;
mod migrate;
mod publication;
// Reminders (issue 8).
mod reminders;
// Security (issue 6).
mod security;
// Accounts (issue 6).
mod accounts;
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
use kizuki_store::{
    ApiToken, Change, Credentials, Current, Entity, HistoryEntry, LinkKind, NewReport, NewStage,
    NewToken, Page, Paged, Problem, ReportFilter, ReportLink, ReportSort, Store, StoreError,
    StoreResult,
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

    async fn create_org(&self, org: NewOrganisation) -> StoreResult<Organisation> {
        let now = self.now();
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO organisations (key, name, kind, sectors, region, version)
                 VALUES (?1, ?2, ?3, ?4, ?5, 1)",
                params![
                    org.key,
                    org.name,
                    org.kind.code(),
                    to_json(&org.sectors).map_err(db_err)?,
                    org.region.as_ref().map(Code::as_str)
                ],
            )
            .map_err(db_err)?;
            let id = tx.last_insert_rowid();
            record_change(tx, Entity::Organisation, id, now)?;
            load_org(tx, OrgId(id))
        })
        .await
    }

    async fn get_org(&self, id: OrgId) -> StoreResult<Organisation> {
        self.read_store(move |c| load_org(c, id)).await
    }

    async fn org_by_key(&self, key: &str) -> StoreResult<Option<Organisation>> {
        let key = key.to_owned();
        self.read(move |c| {
            c.query_row(
                &format!("SELECT {ORG_COLS} FROM organisations WHERE key = ?1"),
                [key],
                org_row,
            )
            .optional()
        })
        .await
    }

    async fn list_orgs(&self) -> StoreResult<Vec<Organisation>> {
        self.read(|c| {
            let mut st = c.prepare(&format!("SELECT {ORG_COLS} FROM organisations ORDER BY id"))?;
            st.query_map([], org_row)?.collect()
        })
        .await
    }

    async fn update_org(
        &self,
        id: OrgId,
        expected_version: i64,
        org: NewOrganisation,
    ) -> StoreResult<Organisation> {
        let now = self.now();
        self.write(move |tx| {
            if !expect_version(tx, "organisations", "id", id.0, expected_version)? {
                return Err(StoreError::Conflict {
                    entity: "organisation",
                    current: Current::Organisation(Box::new(load_org(tx, id)?)),
                });
            }
            tx.execute(
                "UPDATE organisations SET key = ?2, name = ?3, kind = ?4, sectors = ?5,
                 region = ?6, version = version + 1 WHERE id = ?1",
                params![
                    id.0,
                    org.key,
                    org.name,
                    org.kind.code(),
                    to_json(&org.sectors).map_err(db_err)?,
                    org.region.as_ref().map(Code::as_str)
                ],
            )
            .map_err(db_err)?;
            record_change(tx, Entity::Organisation, id.0, now)?;
            load_org(tx, id)
        })
        .await
    }

    async fn create_user(&self, user: NewUser, password_hash: &str) -> StoreResult<User> {
        let now = self.now();
        let hash = password_hash.to_owned();
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO users (org_id, email, display_name, role, lang, password_hash,
                 active, version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, 1)",
                params![
                    user.org_id.0,
                    user.email.as_str(),
                    user.display_name,
                    user.role.code(),
                    user.lang.code(),
                    hash
                ],
            )
            .map_err(db_err)?;
            let id = tx.last_insert_rowid();
            record_change(tx, Entity::User, id, now)?;
            tx.query_row(
                &format!("SELECT {USER_COLS} FROM users WHERE id = ?1"),
                [id],
                user_row,
            )
            .map_err(db_err)
        })
        .await
    }

    async fn get_user(&self, id: UserId) -> StoreResult<User> {
        self.read_store(move |c| {
            c.prepare_cached(&format!("SELECT {USER_COLS} FROM users WHERE id = ?1"))
                .and_then(|mut st| st.query_row([id.0], user_row).optional())
                .map_err(db_err)?
                .ok_or_else(|| StoreError::not_found("user", id))
        })
        .await
    }

    async fn credentials(&self, email: &Email) -> StoreResult<Option<Credentials>> {
        let email = email.as_str().to_owned();
        self.read(move |c| {
            c.query_row(
                &format!("SELECT {USER_COLS}, password_hash FROM users WHERE email = ?1"),
                [email],
                |r| {
                    Ok(Credentials {
                        user: user_row(r)?,
                        password_hash: r.get("password_hash")?,
                    })
                },
            )
            .optional()
        })
        .await
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        self.read(|c| {
            let mut st = c.prepare(&format!("SELECT {USER_COLS} FROM users ORDER BY id"))?;
            st.query_map([], user_row)?.collect()
        })
        .await
    }

    async fn set_password_hash(&self, id: UserId, password_hash: &str) -> StoreResult<()> {
        let hash = password_hash.to_owned();
        self.write(move |tx| {
            let n = tx
                .execute(
                    "UPDATE users SET password_hash = ?2, version = version + 1 WHERE id = ?1",
                    params![id.0, hash],
                )
                .map_err(db_err)?;
            if n == 0 {
                return Err(StoreError::not_found("user", id));
            }
            Ok(())
        })
        .await
    }

    async fn set_user_lang(&self, id: UserId, lang: Lang) -> StoreResult<User> {
        let now = self.now();
        self.write(move |tx| {
            let n = tx
                .execute(
                    "UPDATE users SET lang = ?2, version = version + 1 WHERE id = ?1",
                    params![id.0, lang.code()],
                )
                .map_err(db_err)?;
            if n == 0 {
                return Err(StoreError::not_found("user", id));
            }
            record_change(tx, Entity::User, id.0, now)?;
            tx.query_row(
                &format!("SELECT {USER_COLS} FROM users WHERE id = ?1"),
                [id.0],
                user_row,
            )
            .map_err(db_err)
        })
        .await
    }

    async fn create_token(&self, token: NewToken) -> StoreResult<ApiToken> {
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO api_tokens (user_id, label, hash, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![token.user_id.0, token.label, token.hash, time_to(token.at)],
            )
            .map_err(|e| match db_err(e) {
                // Never echo the hash back into an error message.
                StoreError::Duplicate { .. } => StoreError::Duplicate {
                    what: "token".into(),
                },
                other => other,
            })?;
            load_token(tx, tx.last_insert_rowid())
        })
        .await
    }

    async fn token_by_hash(&self, hash: &str) -> StoreResult<Option<ApiToken>> {
        let hash = hash.to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {TOKEN_COLS} FROM api_tokens WHERE hash = ?1"
            ))
            .and_then(|mut st| st.query_row([hash], token_row).optional())
        })
        .await
    }

    async fn list_tokens(&self, user: UserId) -> StoreResult<Vec<ApiToken>> {
        self.read(move |c| {
            let mut st = c.prepare(&format!(
                "SELECT {TOKEN_COLS} FROM api_tokens WHERE user_id = ?1 ORDER BY id"
            ))?;
            st.query_map([user.0], token_row)?.collect()
        })
        .await
    }

    async fn revoke_token(&self, id: i64, at: DateTime<Utc>) -> StoreResult<ApiToken> {
        self.write(move |tx| {
            load_token(tx, id)?;
            tx.execute(
                "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, time_to(at)],
            )
            .map_err(db_err)?;
            load_token(tx, id)
        })
        .await
    }

    async fn link_reports(&self, link: ReportLink) -> StoreResult<()> {
        self.write(move |tx| {
            if link.from == link.to {
                return Err(StoreError::Invalid(format!(
                    "report {} cannot be linked to itself",
                    link.from
                )));
            }
            report_exists(tx, link.from)?;
            report_exists(tx, link.to)?;
            tx.execute(
                "DELETE FROM report_links WHERE (from_id = ?1 AND to_id = ?2)
                 OR (from_id = ?2 AND to_id = ?1)",
                params![link.from.0, link.to.0],
            )
            .map_err(db_err)?;
            tx.execute(
                "INSERT INTO report_links (from_id, to_id, kind, at, by_user)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    link.from.0,
                    link.to.0,
                    link.kind.code(),
                    time_to(link.at),
                    link.by.map(|u| u.0)
                ],
            )
            .map_err(db_err)?;
            record_change(tx, Entity::Report, link.from.0, link.at)?;
            record_change(tx, Entity::Report, link.to.0, link.at)
        })
        .await
    }

    async fn unlink_reports(&self, a: ReportId, b: ReportId) -> StoreResult<()> {
        let now = self.now();
        self.write(move |tx| {
            let n = tx
                .execute(
                    "DELETE FROM report_links WHERE (from_id = ?1 AND to_id = ?2)
                     OR (from_id = ?2 AND to_id = ?1)",
                    params![a.0, b.0],
                )
                .map_err(db_err)?;
            if n > 0 {
                record_change(tx, Entity::Report, a.0, now)?;
                record_change(tx, Entity::Report, b.0, now)?;
            }
            Ok(())
        })
        .await
    }

    async fn report_links(&self, id: ReportId) -> StoreResult<Vec<ReportLink>> {
        self.read(move |c| {
            let mut st = c.prepare_cached(
                "SELECT from_id, to_id, kind, at, by_user FROM report_links
                 WHERE from_id = ?1 OR to_id = ?1 ORDER BY at, from_id, to_id",
            )?;
            st.query_map([id.0], link_row)?.collect()
        })
        .await
    }

    async fn create_report(&self, report: NewReport) -> StoreResult<Report> {
        self.write(move |tx| insert_report(tx, &report)).await
    }

    async fn create_reports(&self, reports: Vec<NewReport>) -> StoreResult<Vec<Report>> {
        if reports.is_empty() {
            return Ok(Vec::new());
        }
        self.write(move |tx| reports.iter().map(|r| insert_report(tx, r)).collect())
            .await
    }

    async fn get_report(&self, id: ReportId) -> StoreResult<Report> {
        self.read_store(move |c| load_report(c, id)).await
    }

    async fn update_report(
        &self,
        id: ReportId,
        expected_version: i64,
        details: ReportDetails,
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<Report> {
        self.write(move |tx| {
            if !expect_version(tx, "reports", "id", id.0, expected_version)? {
                return Err(report_conflict(tx, id));
            }
            write_report_columns(tx, id, &details)?;
            bump_report(tx, id, at, by, "update")
        })
        .await
    }

    async fn set_report_status(
        &self,
        id: ReportId,
        expected_version: i64,
        status: ReportStatus,
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<Report> {
        self.write(move |tx| {
            if !expect_version(tx, "reports", "id", id.0, expected_version)? {
                return Err(report_conflict(tx, id));
            }
            tx.execute(
                "UPDATE reports SET status = ?2 WHERE id = ?1",
                params![id.0, status.code()],
            )
            .map_err(db_err)?;
            bump_report(tx, id, at, by, &format!("status:{}", status.code()))
        })
        .await
    }

    async fn add_stage(&self, id: ReportId, stage: NewStage) -> StoreResult<Report> {
        self.write(move |tx| {
            let next: Option<i64> = tx
                .query_row(
                    "SELECT (SELECT COALESCE(MAX(seq), 0) + 1 FROM report_stages
                             WHERE report_id = r.id)
                     FROM reports r WHERE r.id = ?1",
                    [id.0],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db_err)?;
            let seq = next.ok_or_else(|| StoreError::not_found("report", id))?;
            insert_stage(tx, id, seq, &stage)?;
            bump_report(
                tx,
                id,
                stage.at,
                stage.author,
                &format!("stage:{}", stage.kind.code()),
            )
        })
        .await
    }

    async fn list_reports(&self, filter: &ReportFilter, page: Page) -> StoreResult<Paged<Report>> {
        let filter = filter.clone();
        self.read_store(move |c| {
            let mut wh: Vec<String> = Vec::new();
            let mut args: Vec<rusqlite::types::Value> = Vec::new();
            let arg = |args: &mut Vec<rusqlite::types::Value>, v: rusqlite::types::Value| {
                args.push(v);
                format!("?{}", args.len())
            };
            use rusqlite::types::Value as V;
            if let Some(fy) = filter.fiscal_year {
                wh.push(format!(
                    "fiscal_year = {}",
                    arg(&mut args, V::Integer(fy.into()))
                ));
            }
            if let Some(s) = &filter.sector {
                wh.push(format!("sector = {}", arg(&mut args, V::Text(s.clone()))));
            }
            if let Some(s) = &filter.event_type {
                wh.push(format!(
                    "event_type = {}",
                    arg(&mut args, V::Text(s.clone()))
                ));
            }
            if let Some(s) = &filter.cause {
                wh.push(format!(
                    "EXISTS (SELECT 1 FROM report_causes rc WHERE rc.report_id = reports.id
                     AND rc.cause = {})",
                    arg(&mut args, V::Text(s.clone()))
                ));
            }
            if let Some(s) = filter.severity {
                wh.push(format!(
                    "severity = {}",
                    arg(&mut args, V::Integer(s.into()))
                ));
            }
            if let Some(s) = filter.status {
                wh.push(format!(
                    "status = {}",
                    arg(&mut args, V::Text(s.code().into()))
                ));
            }
            if let Some(t) = filter.tlp {
                wh.push(format!(
                    "tlp = {}",
                    arg(&mut args, V::Text(t.code().into()))
                ));
            }
            if let Some(o) = filter.org_id {
                wh.push(format!("org_id = {}", arg(&mut args, V::Integer(o.0))));
            }
            if let Some(orgs) = &filter.visible_orgs {
                if orgs.is_empty() {
                    wh.push("0".into());
                } else {
                    let list: Vec<String> = orgs
                        .iter()
                        .map(|o| arg(&mut args, V::Integer(o.0)))
                        .collect();
                    wh.push(format!("org_id IN ({})", list.join(",")));
                }
            }
            // Security (issue 6).
            if let Some(vis) = &filter.visibility {
                wh.push(security::visibility_where(vis, &mut args));
            }
            let where_sql = if wh.is_empty() {
                String::new()
            } else {
                format!("WHERE {}", wh.join(" AND "))
            };
            let order = match filter.sort {
                ReportSort::ReportedDesc => "reported_at DESC, id DESC",
                ReportSort::ReportedAsc => "reported_at ASC, id ASC",
                ReportSort::SeverityDesc => {
                    "severity IS NULL, severity DESC, reported_at DESC, id DESC"
                }
                ReportSort::UpdatedDesc => "updated_at DESC, id DESC",
            };
            let total: i64 = c
                .query_row(
                    &format!("SELECT COUNT(*) FROM reports {where_sql}"),
                    rusqlite::params_from_iter(args.iter()),
                    |r| r.get(0),
                )
                .map_err(db_err)?;
            let limit = arg(&mut args, V::Integer(page.size.into()));
            let offset = arg(
                &mut args,
                V::Integer(i64::try_from(page.offset()).unwrap_or(i64::MAX)),
            );
            let ids: Vec<i64> = {
                let mut st = c
                    .prepare(&format!(
                        "SELECT id FROM reports {where_sql} ORDER BY {order}
                         LIMIT {limit} OFFSET {offset}"
                    ))
                    .map_err(db_err)?;
                st.query_map(rusqlite::params_from_iter(args.iter()), |r| r.get(0))
                    .map_err(db_err)?
                    .collect::<rusqlite::Result<_>>()
                    .map_err(db_err)?
            };
            let items = ids
                .into_iter()
                .map(|id| load_report(c, ReportId(id)))
                .collect::<StoreResult<Vec<_>>>()?;
            Ok(Paged {
                items,
                total: u64::try_from(total).unwrap_or(0),
                page,
            })
        })
        .await
    }

    async fn report_history(&self, id: ReportId) -> StoreResult<Vec<HistoryEntry>> {
        self.read(move |c| history(c, Entity::Report, id.0)).await
    }

    async fn create_case(
        &self,
        survey_year: Option<i32>,
        report_id: Option<ReportId>,
        content: CaseContent,
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<Case> {
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO cases (survey_year, number, report_id, version, content)
                 VALUES (?1, ?2, ?3, 1, ?4)",
                params![
                    survey_year,
                    content.number,
                    report_id.map(|r| r.0),
                    to_json(&content).map_err(db_err)?
                ],
            )
            .map_err(|e| match db_err(e) {
                StoreError::Duplicate { .. } => StoreError::Duplicate {
                    what: format!(
                        "case {} of survey {}",
                        content.number,
                        survey_year.unwrap_or_default()
                    ),
                },
                other => other,
            })?;
            let id = CaseId(tx.last_insert_rowid());
            let c = load_case(tx, id)?;
            record_history(tx, Entity::Case, id.0, 1, at, by, "create", &c)?;
            if let Some(r) = report_id {
                record_change(tx, Entity::Report, r.0, at)?;
            }
            Ok(c)
        })
        .await
    }

    async fn get_case(&self, id: CaseId) -> StoreResult<Case> {
        self.read_store(move |c| load_case(c, id)).await
    }

    async fn case_by_number(&self, survey_year: i32, number: u32) -> StoreResult<Option<Case>> {
        self.read(move |c| {
            c.query_row(
                "SELECT id, survey_year, report_id, version, content FROM cases
                 WHERE survey_year = ?1 AND number = ?2",
                params![survey_year, number],
                case_row,
            )
            .optional()
        })
        .await
    }

    async fn update_case(
        &self,
        id: CaseId,
        expected_version: i64,
        content: CaseContent,
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<Case> {
        self.write(move |tx| {
            if !expect_version(tx, "cases", "id", id.0, expected_version)? {
                return Err(StoreError::Conflict {
                    entity: "case",
                    current: Current::Case(Box::new(load_case(tx, id)?)),
                });
            }
            tx.execute(
                "UPDATE cases SET number = ?2, content = ?3, version = version + 1 WHERE id = ?1",
                params![id.0, content.number, to_json(&content).map_err(db_err)?],
            )
            .map_err(db_err)?;
            let c = load_case(tx, id)?;
            record_history(tx, Entity::Case, id.0, c.version, at, by, "update", &c)?;
            Ok(c)
        })
        .await
    }

    async fn list_cases(&self, survey_year: Option<i32>) -> StoreResult<Vec<Case>> {
        self.read(move |c| {
            let sql = "SELECT id, survey_year, report_id, version, content FROM cases
                       WHERE ?1 IS NULL OR survey_year = ?1
                       ORDER BY survey_year IS NULL, survey_year, number, id";
            let mut st = c.prepare(sql)?;
            st.query_map([survey_year], case_row)?.collect()
        })
        .await
    }

    async fn case_history(&self, id: CaseId) -> StoreResult<Vec<HistoryEntry>> {
        self.read(move |c| history(c, Entity::Case, id.0)).await
    }

    async fn create_survey(&self, content: SurveyContent) -> StoreResult<Survey> {
        let now = self.now();
        self.write(move |tx| {
            let fy = content.fiscal_year.year();
            tx.execute(
                "INSERT INTO surveys (fiscal_year, version, content) VALUES (?1, 1, ?2)",
                params![fy, to_json(&content).map_err(db_err)?],
            )
            .map_err(|e| match db_err(e) {
                StoreError::Duplicate { .. } => StoreError::Duplicate {
                    what: format!("survey {fy}"),
                },
                other => other,
            })?;
            record_change(tx, Entity::Survey, fy.into(), now)?;
            load_survey(tx, fy)
        })
        .await
    }

    async fn get_survey(&self, fiscal_year: i32) -> StoreResult<Survey> {
        self.read_store(move |c| load_survey(c, fiscal_year)).await
    }

    async fn update_survey(
        &self,
        expected_version: i64,
        content: SurveyContent,
    ) -> StoreResult<Survey> {
        let now = self.now();
        self.write(move |tx| {
            let fy = content.fiscal_year.year();
            if !expect_version(tx, "surveys", "fiscal_year", fy.into(), expected_version)? {
                return Err(StoreError::Conflict {
                    entity: "survey",
                    current: Current::Survey(Box::new(load_survey(tx, fy)?)),
                });
            }
            tx.execute(
                "UPDATE surveys SET content = ?2, version = version + 1 WHERE fiscal_year = ?1",
                params![fy, to_json(&content).map_err(db_err)?],
            )
            .map_err(db_err)?;
            record_change(tx, Entity::Survey, fy.into(), now)?;
            load_survey(tx, fy)
        })
        .await
    }

    async fn list_surveys(&self) -> StoreResult<Vec<Survey>> {
        self.read(|c| {
            let mut st = c.prepare("SELECT version, content FROM surveys ORDER BY fiscal_year")?;
            st.query_map([], |r| {
                Ok(Survey {
                    version: r.get(0)?,
                    content: from_json(&r.get::<_, String>(1)?)?,
                })
            })?
            .collect()
        })
        .await
    }

    // Selection (issue 5): the SQL lives in selection.rs.
    async fn put_score_override(
        &self,
        o: kizuki_store::ScoreOverrideRecord,
    ) -> StoreResult<kizuki_store::ScoreOverrideRecord> {
        self.sel_put_override(o).await
    }

    async fn delete_score_override(
        &self,
        survey_year: i32,
        report_id: ReportId,
        key: &str,
    ) -> StoreResult<()> {
        self.sel_delete_override(survey_year, report_id, key).await
    }

    async fn list_score_overrides(
        &self,
        survey_year: i32,
    ) -> StoreResult<Vec<kizuki_store::ScoreOverrideRecord>> {
        self.sel_list_overrides(survey_year).await
    }

    async fn save_selection(
        &self,
        s: kizuki_store::NewSelection,
    ) -> StoreResult<kizuki_store::StoredSelection> {
        self.sel_save(s).await
    }

    async fn list_selections(
        &self,
        survey_year: i32,
    ) -> StoreResult<Vec<kizuki_store::StoredSelection>> {
        self.sel_list(survey_year).await
    }

    async fn get_selection(&self, id: i64) -> StoreResult<kizuki_store::StoredSelection> {
        self.sel_get(id).await
    }

    async fn confirmed_selection(
        &self,
        survey_year: i32,
    ) -> StoreResult<Option<kizuki_store::StoredSelection>> {
        self.sel_confirmed(survey_year).await
    }

    async fn confirm_selection(
        &self,
        id: i64,
        expected_version: i64,
        by: Option<UserId>,
        at: DateTime<Utc>,
        drafts: Vec<kizuki_store::CaseDraft>,
    ) -> StoreResult<kizuki_store::StoredSelection> {
        self.sel_confirm(id, expected_version, by, at, drafts).await
    }

    async fn changes_since(&self, after: i64, limit: usize) -> StoreResult<Vec<Change>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |c| {
            let mut st = c.prepare_cached(
                "SELECT seq, entity, entity_id, at FROM changes WHERE seq > ?1
                 ORDER BY seq LIMIT ?2",
            )?;
            st.query_map(params![after, limit], |r| {
                let e: String = r.get(1)?;
                Ok(Change {
                    seq: r.get(0)?,
                    entity: Entity::parse(&e).ok_or_else(|| codec::bad("changes.entity", &e))?,
                    id: r.get(2)?,
                    at: time_from(&r.get::<_, String>(3)?)?,
                })
            })?
            .collect()
        })
        .await
    }

    // Publication (issue 8): implemented in publication.rs.
    async fn pseudonym_map(&self, case: CaseId) -> StoreResult<kizuki_store::StoredMap> {
        publication::pseudonym_map(self, case).await
    }

    async fn set_pseudonym_map(
        &self,
        case: CaseId,
        expected_version: i64,
        map: kizuki_domain::anonymise::PseudonymMap,
        disclosed: kizuki_domain::anonymise::Disclosed,
        by: UserId,
        at: DateTime<Utc>,
    ) -> StoreResult<kizuki_store::StoredMap> {
        publication::set_pseudonym_map(self, case, expected_version, map, disclosed, by, at).await
    }

    async fn candidate_decisions(
        &self,
        case: CaseId,
    ) -> StoreResult<Vec<kizuki_store::DecisionRow>> {
        publication::candidate_decisions(self, case).await
    }

    async fn decide_candidate(
        &self,
        case: CaseId,
        candidate: &str,
        decision: Option<kizuki_domain::anonymise::Decision>,
        by: UserId,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        publication::decide_candidate(self, case, candidate.to_owned(), decision, by, at).await
    }

    async fn signoff_history(
        &self,
        case: CaseId,
    ) -> StoreResult<Vec<kizuki_domain::signoff::Transition>> {
        publication::signoff_history(self, case).await
    }

    async fn append_signoff(
        &self,
        case: CaseId,
        expected_len: usize,
        t: kizuki_domain::signoff::Transition,
        snapshot: Option<kizuki_store::PublicationSnapshot>,
    ) -> StoreResult<()> {
        publication::append_signoff(self, case, expected_len, t, snapshot).await
    }

    async fn publication(
        &self,
        survey_year: i32,
        number: u32,
    ) -> StoreResult<Option<kizuki_store::Publication>> {
        publication::publication(self, survey_year, number).await
    }

    async fn list_publications(
        &self,
        survey_year: Option<i32>,
    ) -> StoreResult<Vec<kizuki_store::Publication>> {
        publication::list_publications(self, survey_year).await
    }

    async fn check(&self) -> StoreResult<Vec<Problem>> {
        self.read_store(check::run).await
    }

    // Security (issue 6).
    async fn audit_head(&self) -> StoreResult<Option<kizuki_store::AuditRecord>> {
        security::audit_head(self).await
    }

    async fn audit_insert(&self, entry: kizuki_store::AuditRecord) -> StoreResult<()> {
        security::audit_insert(self, entry).await
    }

    async fn audit_range(
        &self,
        from_seq: u64,
        limit: usize,
    ) -> StoreResult<Vec<kizuki_store::AuditRecord>> {
        security::audit_range(self, from_seq, limit).await
    }

    async fn audit_query(
        &self,
        query: &kizuki_store::AuditQuery,
    ) -> StoreResult<Vec<kizuki_store::AuditRecord>> {
        security::audit_query(self, query).await
    }

    async fn audit_purge(
        &self,
        checkpoint: kizuki_store::AuditRecord,
        through: u64,
    ) -> StoreResult<()> {
        security::audit_purge(self, checkpoint, through).await
    }

    async fn mfa(&self, user: UserId) -> StoreResult<Option<kizuki_store::MfaRecord>> {
        security::mfa(self, user).await
    }

    async fn mfa_begin(
        &self,
        user: UserId,
        secret_base32: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        security::mfa_begin(self, user, secret_base32, at).await
    }

    async fn mfa_confirm(&self, user: UserId, step: u64, at: DateTime<Utc>) -> StoreResult<bool> {
        security::mfa_confirm(self, user, step, at).await
    }

    async fn mfa_use_step(
        &self,
        user: UserId,
        expected_last: Option<u64>,
        step: u64,
    ) -> StoreResult<bool> {
        security::mfa_use_step(self, user, expected_last, step).await
    }

    async fn mfa_remove(&self, user: UserId) -> StoreResult<()> {
        security::mfa_remove(self, user).await
    }

    async fn set_recovery_codes(
        &self,
        user: UserId,
        hashes: &[String],
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        security::set_recovery_codes(self, user, hashes, at).await
    }

    async fn use_recovery_code(
        &self,
        user: UserId,
        hash: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        security::use_recovery_code(self, user, hash, at).await
    }

    async fn recovery_codes_left(&self, user: UserId) -> StoreResult<usize> {
        security::recovery_codes_left(self, user).await
    }

    async fn org_allowlist(&self, org: OrgId) -> StoreResult<kizuki_store::OrgAllowlist> {
        security::org_allowlist(self, org).await
    }

    async fn set_org_allowlist(
        &self,
        org: OrgId,
        expected_version: i64,
        entries: &str,
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<kizuki_store::OrgAllowlist> {
        security::set_org_allowlist(self, org, expected_version, entries, by, at).await
    }

    async fn report_sharing(&self, report: ReportId) -> StoreResult<kizuki_store::ReportSharing> {
        security::report_sharing(self, report).await
    }

    async fn set_report_sharing(
        &self,
        report: ReportId,
        sharing: &kizuki_store::ReportSharing,
    ) -> StoreResult<()> {
        security::set_report_sharing(self, report, sharing).await
    }

    // Reminders (issue 8).
    async fn claim_reminder(&self, claim: &kizuki_store::ReminderClaim) -> StoreResult<bool> {
        reminders::claim(self, claim.clone()).await
    }

    async fn reminder_sent(
        &self,
        key: &kizuki_store::ReminderKey,
        token: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        reminders::sent(self, *key, token.to_owned(), at).await
    }

    async fn release_reminder(
        &self,
        key: &kizuki_store::ReminderKey,
        token: &str,
        retry_at: DateTime<Utc>,
        error: &str,
    ) -> StoreResult<()> {
        reminders::release(self, *key, token.to_owned(), retry_at, error.to_owned()).await
    }

    async fn reminders_for(
        &self,
        report: ReportId,
    ) -> StoreResult<Vec<kizuki_store::ReminderRecord>> {
        reminders::for_report(self, report).await
    }

    async fn failed_reminders(
        &self,
        min_attempts: u32,
    ) -> StoreResult<Vec<kizuki_store::ReminderRecord>> {
        reminders::failed(self, min_attempts).await
    }

    // Accounts (issue 6).
    async fn set_user_active(&self, id: UserId, active: bool) -> StoreResult<User> {
        accounts::set_user_active(self, id, active).await
    }

    async fn set_password(
        &self,
        id: UserId,
        password_hash: &str,
        must_change: bool,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        accounts::set_password(self, id, password_hash, must_change, at).await
    }

    async fn password_state(&self, id: UserId) -> StoreResult<kizuki_store::PasswordState> {
        accounts::password_state(self, id).await
    }

    // Browser sessions in the database (shared by every node).
    async fn insert_session(
        &self,
        key: &kizuki_store::SessionKey,
        session: &kizuki_store::SessionRecord,
    ) -> StoreResult<()> {
        sessions::insert(self, key, session).await
    }

    async fn session(
        &self,
        key: &kizuki_store::SessionKey,
    ) -> StoreResult<Option<kizuki_store::SessionRecord>> {
        sessions::get(self, key).await
    }

    async fn update_session(
        &self,
        key: &kizuki_store::SessionKey,
        update: &kizuki_store::SessionUpdate,
    ) -> StoreResult<bool> {
        sessions::update(self, key, update).await
    }

    async fn take_session_flash(
        &self,
        key: &kizuki_store::SessionKey,
    ) -> StoreResult<Option<String>> {
        sessions::take_flash(self, key).await
    }

    async fn delete_session(&self, key: &kizuki_store::SessionKey) -> StoreResult<()> {
        sessions::delete(self, key).await
    }

    async fn delete_user_sessions(&self, user: UserId) -> StoreResult<u64> {
        sessions::delete_user(self, user).await
    }

    async fn purge_sessions(
        &self,
        seen_before: DateTime<Utc>,
        created_before: DateTime<Utc>,
    ) -> StoreResult<u64> {
        sessions::purge(self, seen_before, created_before).await
    }

    async fn instance_secret(&self, name: &str, candidate: &[u8]) -> StoreResult<Vec<u8>> {
        sessions::instance_secret(self, name, candidate).await
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
