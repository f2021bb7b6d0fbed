//! The PostgreSQL storage backend, for several kizuki nodes on one database. Every write is
//! one transaction; version checks lock the row (`FOR UPDATE`) so concurrent editors on any
//! node see the same conflicts as on one node.

// The one transaction helper: it comes before the modules, because a macro is in scope only
// below its definition.
/// Runs `f` inside one transaction, committing only when it returns `Ok`.
macro_rules! in_tx {
    ($self:ident, |$tx:ident| $body:block) => {{
        let mut client = $self.client().await?;
        let $tx = client.transaction().await.map_err(pg_err)?;
        let out = async { $body }.await;
        match out {
            Ok(v) => {
                $tx.commit().await.map_err(pg_err)?;
                Ok(v)
            }
            Err(e) => {
                let _ = $tx.rollback().await;
                Err(e)
            }
        }
    }};
}

mod cases;
mod check;
mod feed;
mod migrate;
mod orgs;
mod publication;
mod reports;
mod surveys;
mod tokens;
mod users;
// Reminders.
mod reminders;
mod rows;
mod selection;
// Security.
mod security;
// Accounts.
// Browser sessions in the database (shared by every node).
mod sessions;

use async_trait::async_trait;
use chrono::{DateTime, Datelike, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Transaction};
use kizuki_domain::case::{Case, CaseContent};
use kizuki_domain::clock::{Clock, SystemClock, jst_date};
use kizuki_domain::fiscal::FiscalYear;
use kizuki_domain::ids::{CaseId, OrgId, ReportId, UserId};
use kizuki_domain::org::{NewOrganisation, Organisation};
use kizuki_domain::report::{Report, ReportDetails, ReportStatus};
use kizuki_domain::survey::{Survey, SurveyContent};
use kizuki_domain::taxonomy::{Code, Lang};
use kizuki_domain::user::{Email, NewUser, User};
use kizuki_store::prelude::*;
use kizuki_store::{
    ApiToken, Change, Credentials, Current, Entity, HistoryEntry, LinkKind, NewReport, NewStage,
    NewToken, Page, Paged, Problem, ReportFilter, ReportLink, ReportSort, StoreError, StoreResult,
};
use rows::{
    ORG_COLS, USER_COLS, case_row, json, load_case, load_org, load_report, load_survey, org_row,
    user_row,
};
use std::sync::Arc;
use tokio_postgres::types::ToSql;

pub use migrate::SCHEMA_VERSION;

const TOKEN_COLS: &str = "id, user_id, label, created_at, revoked_at";

fn token_row(r: &tokio_postgres::Row) -> ApiToken {
    ApiToken {
        id: r.get(0),
        user_id: UserId(r.get(1)),
        label: r.get(2),
        created_at: r.get(3),
        revoked_at: r.get(4),
    }
}

/// Connection-pool size per node; PostgreSQL's default limit is 100 connections in all.
const POOL_SIZE: usize = 16;

#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    /// Where the change feed's timestamps come from: the application's clock.
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

pub(crate) fn pg_err(e: tokio_postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        if code == "23505" {
            return StoreError::Duplicate {
                what: db.detail().unwrap_or(db.message()).to_owned(),
            };
        }
        if code.starts_with("23") {
            return StoreError::Invalid(db.message().to_owned());
        }
    }
    StoreError::backend(e)
}

fn pool_err(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::backend(e)
}

impl PgStore {
    /// Connects and brings the schema up to date.
    pub async fn connect(url: &str) -> StoreResult<PgStore> {
        Self::connect_in_schema(url, None).await
    }

    /// Connects with every session's `search_path` set to `schema` (created if missing), so
    /// tests and tenants can share one database without seeing each other.
    pub async fn connect_in_schema(url: &str, schema: Option<&str>) -> StoreResult<PgStore> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Invalid(format!("database URL: {e}")))?;
        if let Some(s) = schema {
            check_schema_name(s)?;
            execute_once(&config, &format!("CREATE SCHEMA IF NOT EXISTS {s}")).await?;
            config.options(format!("-c search_path={s}"));
        }
        let manager = Manager::from_config(
            config,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(pool_err)?;
        let store = PgStore {
            pool,
            clock: Arc::new(SystemClock),
        };
        let mut client = store.client().await?;
        migrate::run(&mut client).await?;
        Ok(store)
    }

    /// The same store, its timestamps taken from `clock` (the one the application uses).
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> PgStore {
        PgStore { clock, ..self }
    }

    fn now(&self) -> chrono::DateTime<Utc> {
        self.clock.now()
    }

    /// Drops a schema made by [`PgStore::connect_in_schema`] with everything in it (for
    /// benchmarks and tests that made a throwaway one). Same name rule as there.
    pub async fn drop_schema(url: &str, schema: &str) -> StoreResult<()> {
        check_schema_name(schema)?;
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Invalid(format!("database URL: {e}")))?;
        execute_once(&config, &format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await
    }

    async fn client(&self) -> StoreResult<deadpool_postgres::Object> {
        self.pool.get().await.map_err(pool_err)
    }
}

/// Schema names are spliced into SQL, so only lower-case ASCII letters, digits and `_`.
fn check_schema_name(s: &str) -> StoreResult<()> {
    if s.is_empty()
        || !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(StoreError::Invalid(format!("schema name {s:?}")));
    }
    Ok(())
}

/// Runs one statement on a connection of its own, outside the pool (schema set-up).
async fn execute_once(config: &tokio_postgres::Config, sql: &str) -> StoreResult<()> {
    let (client, conn) = config
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(pg_err)?;
    let task = tokio::spawn(conn);
    client.batch_execute(sql).await.map_err(pg_err)?;
    drop(client);
    let _ = task.await;
    Ok(())
}

pub(crate) async fn record_change(
    tx: &Transaction<'_>,
    entity: Entity,
    id: i64,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    // Held until commit: the next writer draws its sequence number only after we are visible.
    tx.execute("SELECT pg_advisory_xact_lock(7245839)", &[])
        .await
        .map_err(pg_err)?;
    tx.execute(
        "INSERT INTO changes (entity, entity_id, at) VALUES ($1, $2, $3)",
        &[&entity.code(), &id, &at],
    )
    .await
    .map_err(pg_err)?;
    Ok(())
}

/// One row of the history table.
struct Revision<'a, T> {
    entity: Entity,
    id: i64,
    version: i64,
    at: DateTime<Utc>,
    by: Option<UserId>,
    action: &'a str,
    snapshot: &'a T,
}

async fn record_history<T: serde::Serialize>(
    tx: &Transaction<'_>,
    r: Revision<'_, T>,
) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO history (entity, entity_id, version, at, user_id, action, snapshot)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &r.entity.code(),
            &r.id,
            &r.version,
            &r.at,
            &r.by.map(|u| u.0),
            &r.action,
            &json(r.snapshot)?,
        ],
    )
    .await
    .map_err(pg_err)?;
    record_change(tx, r.entity, r.id, r.at).await
}

/// Locks the row and compares its version with the one the caller edited.
async fn lock_version(
    tx: &Transaction<'_>,
    table: &str,
    key_col: &str,
    key: &(dyn ToSql + Sync),
    entity: &'static str,
    shown_key: String,
) -> StoreResult<i64> {
    let row = tx
        .query_opt(
            &format!("SELECT version FROM {table} WHERE {key_col} = $1 FOR UPDATE"),
            &[key],
        )
        .await
        .map_err(pg_err)?;
    row.map(|r| r.get::<_, i64>(0)).ok_or(StoreError::NotFound {
        entity,
        id: shown_key,
    })
}

async fn write_report_columns(
    tx: &Transaction<'_>,
    id: ReportId,
    d: &ReportDetails,
) -> StoreResult<()> {
    tx.execute(
        "UPDATE reports SET sector = $2, event_type = $3, severity = $4, tlp = $5, details = $6
         WHERE id = $1",
        &[
            &id.0,
            &d.sector.as_str(),
            &d.event_type.as_str(),
            &d.severity.map(|s| i16::from(s.level())),
            &d.tlp.code(),
            &json(d)?,
        ],
    )
    .await
    .map_err(pg_err)?;
    tx.execute("DELETE FROM report_causes WHERE report_id = $1", &[&id.0])
        .await
        .map_err(pg_err)?;
    for cause in &d.causes {
        tx.execute(
            "INSERT INTO report_causes (report_id, cause) VALUES ($1, $2)
             ON CONFLICT DO NOTHING",
            &[&id.0, &cause.as_str()],
        )
        .await
        .map_err(pg_err)?;
    }
    Ok(())
}

async fn bump_report(
    tx: &Transaction<'_>,
    id: ReportId,
    at: DateTime<Utc>,
    by: Option<UserId>,
    action: &str,
) -> StoreResult<Report> {
    tx.execute(
        "UPDATE reports SET version = version + 1, updated_at = $2 WHERE id = $1",
        &[&id.0, &at],
    )
    .await
    .map_err(pg_err)?;
    let r = load_report(&**tx, id).await?;
    record_history(
        tx,
        Revision {
            entity: Entity::Report,
            id: id.0,
            version: r.version,
            at,
            by,
            action,
            snapshot: &r,
        },
    )
    .await?;
    Ok(r)
}

async fn report_conflict(tx: &Transaction<'_>, id: ReportId) -> StoreError {
    match load_report(&**tx, id).await {
        Ok(cur) => StoreError::Conflict {
            entity: "report",
            current: Current::Report(Box::new(cur)),
        },
        Err(e) => e,
    }
}

async fn check_report_version(
    tx: &Transaction<'_>,
    id: ReportId,
    expected: i64,
) -> StoreResult<()> {
    let v = lock_version(tx, "reports", "id", &id.0, "report", id.to_string()).await?;
    if v == expected {
        Ok(())
    } else {
        Err(report_conflict(tx, id).await)
    }
}

async fn insert_stage(
    tx: &Transaction<'_>,
    id: ReportId,
    seq: i32,
    s: &NewStage,
) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO report_stages (report_id, seq, kind, at, text, author)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &id.0,
            &seq,
            &s.kind.code(),
            &s.at,
            &s.text,
            &s.author.map(|u| u.0),
        ],
    )
    .await
    .map_err(pg_err)?;
    Ok(())
}

/// A time as a `timestamptz` column gives it back: whole microseconds since 2000-01-01,
/// cut the way tokio-postgres converts it.
fn as_stored(t: DateTime<Utc>) -> DateTime<Utc> {
    let base = DateTime::<Utc>::from_naive_utc_and_offset(
        chrono::NaiveDate::from_ymd_opt(2000, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .unwrap_or_default(),
        Utc,
    );
    match (t - base).num_microseconds() {
        Some(us) => base + chrono::Duration::microseconds(us),
        None => t,
    }
}

/// Inserts one report with its first stage, history entry and change-feed entry.
async fn insert_report(tx: &Transaction<'_>, report: &NewReport) -> StoreResult<Report> {
    let at = report.first.at;
    let day = jst_date(at);
    // Dates before 1873 have no 年度; they cannot be filed, so any number will do.
    let fy = FiscalYear::of(day).map_or(day.year(), FiscalYear::year);
    let d = &report.details;
    let details = json(d)?;
    // All columns in one insert, and the result built here instead of read back: each
    // statement is a round trip, which is what limits intake.
    let row = tx
        .query_one(
            "INSERT INTO reports (org_id, version, status, reported_at, updated_at,
             fiscal_year, sector, event_type, severity, tlp, details)
             VALUES ($1, 1, 'new', $2, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            &[
                &report.org_id.0,
                &at,
                &fy,
                &d.sector.as_str(),
                &d.event_type.as_str(),
                &d.severity.map(|s| i16::from(s.level())),
                &d.tlp.code(),
                &details,
            ],
        )
        .await
        .map_err(pg_err)?;
    let id = ReportId(row.get(0));
    if !d.causes.is_empty() {
        let causes: Vec<&str> = d.causes.iter().map(Code::as_str).collect();
        tx.execute(
            "INSERT INTO report_causes (report_id, cause) SELECT $1, unnest($2::text[])
             ON CONFLICT DO NOTHING",
            &[&id.0, &causes],
        )
        .await
        .map_err(pg_err)?;
    }
    insert_stage(tx, id, 1, &report.first).await?;
    let stored_at = as_stored(at);
    let r = Report {
        id,
        version: 1,
        org_id: report.org_id,
        status: ReportStatus::New,
        reported_at: stored_at,
        updated_at: stored_at,
        details: serde_json::from_str(&details).map_err(StoreError::backend)?,
        stages: vec![kizuki_domain::report::Stage {
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
        Revision {
            entity: Entity::Report,
            id: id.0,
            version: 1,
            at,
            by: report.first.author,
            action: "create",
            snapshot: &r,
        },
    )
    .await?;
    Ok(r)
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    // Pool use for `/metrics` and the warning before the pool runs dry.
    fn pool_status(&self) -> Option<kizuki_store::PoolStatus> {
        let s = self.pool.status();
        Some(kizuki_store::PoolStatus {
            in_use: s.size.saturating_sub(s.available),
            size: s.max_size,
            waiting: s.waiting,
        })
    }

    async fn check(&self) -> StoreResult<Vec<Problem>> {
        check::run(&**self.client().await?).await
    }
}
async fn history(
    c: &tokio_postgres::Client,
    entity: Entity,
    id: i64,
) -> StoreResult<Vec<HistoryEntry>> {
    c.query(
        "SELECT version, at, user_id, action, snapshot FROM history
         WHERE entity = $1 AND entity_id = $2 ORDER BY version",
        &[&entity.code(), &id],
    )
    .await
    .map_err(pg_err)?
    .iter()
    .map(|r| {
        Ok(HistoryEntry {
            version: r.get(0),
            at: r.get(1),
            user_id: r.get::<_, Option<i64>>(2).map(UserId),
            action: r.get(3),
            snapshot: r.get(4),
        })
    })
    .collect()
}
