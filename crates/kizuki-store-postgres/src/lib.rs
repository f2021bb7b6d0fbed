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

mod cached;
mod cases;
mod check;
mod directory;
mod feed;
// Interviews with the operators of selected cases.
mod interviews;
mod lessons;
mod migrate;
mod orgs;
mod publication;
mod reminders;
mod reports;
mod rows;
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
    NewToken, Page, Paged, Problem, ReportFilter, ReportLink, StoreError, StoreResult, TokenHolder,
};
use rows::{
    ORG_COLS, USER_COLS, case_row, json, load_case, load_org, load_report, load_reports,
    load_survey, org_row, user_row,
};
use std::sync::Arc;
use tokio_postgres::types::ToSql;

// The change-feed helpers every entity module shares.
pub(crate) use cached::Cached;
use feed::*;

pub use migrate::SCHEMA_VERSION;

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
        check::run(&self.client().await?).await
    }
}
