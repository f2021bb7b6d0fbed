//! The PostgreSQL storage backend, for several kizuki nodes on one database. Every write is
//! one transaction; version checks lock the row (`FOR UPDATE`) so concurrent editors on any
//! node see the same conflicts as on one node.

mod check;
mod migrate;
mod publication;
// Reminders.
mod reminders;
mod rows;
// Security.
mod security;
// Accounts.
mod accounts;
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
use kizuki_store::{
    ApiToken, Change, Credentials, Current, Entity, HistoryEntry, LinkKind, NewReport, NewStage,
    NewToken, Page, Paged, Problem, ReportFilter, ReportLink, ReportSort, Store, StoreError,
    StoreResult,
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

    async fn create_org(&self, org: NewOrganisation) -> StoreResult<Organisation> {
        let now = self.now();
        in_tx!(self, |tx| {
            let row = tx
                .query_one(
                    "INSERT INTO organisations (key, name, kind, sectors, region, version)
                     VALUES ($1, $2, $3, $4, $5, 1) RETURNING id",
                    &[
                        &org.key,
                        &org.name,
                        &org.kind.code(),
                        &json(&org.sectors)?,
                        &org.region.as_ref().map(Code::as_str),
                    ],
                )
                .await
                .map_err(pg_err)?;
            let id: i64 = row.get(0);
            record_change(&tx, Entity::Organisation, id, now).await?;
            load_org(&*tx, OrgId(id)).await
        })
    }

    async fn get_org(&self, id: OrgId) -> StoreResult<Organisation> {
        load_org(&**self.client().await?, id).await
    }

    async fn org_by_key(&self, key: &str) -> StoreResult<Option<Organisation>> {
        let c = self.client().await?;
        c.query_opt(
            &format!("SELECT {ORG_COLS} FROM organisations WHERE key = $1"),
            &[&key],
        )
        .await
        .map_err(pg_err)?
        .map(|r| org_row(&r))
        .transpose()
    }

    async fn list_orgs(&self) -> StoreResult<Vec<Organisation>> {
        let c = self.client().await?;
        c.query(
            &format!("SELECT {ORG_COLS} FROM organisations ORDER BY id"),
            &[],
        )
        .await
        .map_err(pg_err)?
        .iter()
        .map(org_row)
        .collect()
    }

    async fn update_org(
        &self,
        id: OrgId,
        expected_version: i64,
        org: NewOrganisation,
    ) -> StoreResult<Organisation> {
        let now = self.now();
        in_tx!(self, |tx| {
            let v = lock_version(
                &tx,
                "organisations",
                "id",
                &id.0,
                "organisation",
                id.to_string(),
            )
            .await?;
            if v != expected_version {
                return Err(StoreError::Conflict {
                    entity: "organisation",
                    current: Current::Organisation(Box::new(load_org(&*tx, id).await?)),
                });
            }
            tx.execute(
                "UPDATE organisations SET key = $2, name = $3, kind = $4, sectors = $5,
                 region = $6, version = version + 1 WHERE id = $1",
                &[
                    &id.0,
                    &org.key,
                    &org.name,
                    &org.kind.code(),
                    &json(&org.sectors)?,
                    &org.region.as_ref().map(Code::as_str),
                ],
            )
            .await
            .map_err(pg_err)?;
            record_change(&tx, Entity::Organisation, id.0, now).await?;
            load_org(&*tx, id).await
        })
    }

    async fn create_user(&self, user: NewUser, password_hash: &str) -> StoreResult<User> {
        let now = self.now();
        in_tx!(self, |tx| {
            let row = tx
                .query_one(
                    &format!(
                        "INSERT INTO users (org_id, email, display_name, role, lang,
                         password_hash, active, version)
                         VALUES ($1, $2, $3, $4, $5, $6, TRUE, 1) RETURNING {USER_COLS}"
                    ),
                    &[
                        &user.org_id.0,
                        &user.email.as_str(),
                        &user.display_name,
                        &user.role.code(),
                        &user.lang.code(),
                        &password_hash,
                    ],
                )
                .await
                .map_err(pg_err)?;
            let u = user_row(&row)?;
            record_change(&tx, Entity::User, u.id.0, now).await?;
            Ok(u)
        })
    }

    async fn get_user(&self, id: UserId) -> StoreResult<User> {
        let c = self.client().await?;
        c.query_opt(
            &format!("SELECT {USER_COLS} FROM users WHERE id = $1"),
            &[&id.0],
        )
        .await
        .map_err(pg_err)?
        .map(|r| user_row(&r))
        .transpose()?
        .ok_or_else(|| StoreError::not_found("user", id))
    }

    async fn credentials(&self, email: &Email) -> StoreResult<Option<Credentials>> {
        let c = self.client().await?;
        c.query_opt(
            &format!("SELECT {USER_COLS}, password_hash FROM users WHERE email = $1"),
            &[&email.as_str()],
        )
        .await
        .map_err(pg_err)?
        .map(|r| {
            Ok(Credentials {
                user: user_row(&r)?,
                password_hash: r.get("password_hash"),
            })
        })
        .transpose()
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        let c = self.client().await?;
        c.query(&format!("SELECT {USER_COLS} FROM users ORDER BY id"), &[])
            .await
            .map_err(pg_err)?
            .iter()
            .map(user_row)
            .collect()
    }

    async fn set_password_hash(&self, id: UserId, password_hash: &str) -> StoreResult<()> {
        let c = self.client().await?;
        let n = c
            .execute(
                "UPDATE users SET password_hash = $2, version = version + 1 WHERE id = $1",
                &[&id.0, &password_hash],
            )
            .await
            .map_err(pg_err)?;
        if n == 0 {
            return Err(StoreError::not_found("user", id));
        }
        Ok(())
    }

    async fn set_user_lang(&self, id: UserId, lang: Lang) -> StoreResult<User> {
        let now = self.now();
        in_tx!(self, |tx| {
            let row = tx
                .query_opt(
                    &format!(
                        "UPDATE users SET lang = $2, version = version + 1 WHERE id = $1
                         RETURNING {USER_COLS}"
                    ),
                    &[&id.0, &lang.code()],
                )
                .await
                .map_err(pg_err)?
                .ok_or_else(|| StoreError::not_found("user", id))?;
            record_change(&tx, Entity::User, id.0, now).await?;
            user_row(&row)
        })
    }

    async fn create_token(&self, token: NewToken) -> StoreResult<ApiToken> {
        let c = self.client().await?;
        let row = c
            .query_one(
                &format!(
                    "INSERT INTO api_tokens (user_id, label, hash, created_at)
                     VALUES ($1, $2, $3, $4) RETURNING {TOKEN_COLS}"
                ),
                &[&token.user_id.0, &token.label, &token.hash, &token.at],
            )
            .await
            .map_err(|e| match pg_err(e) {
                // Never echo the hash back into an error message.
                StoreError::Duplicate { .. } => StoreError::Duplicate {
                    what: "token".into(),
                },
                other => other,
            })?;
        Ok(token_row(&row))
    }

    async fn token_by_hash(&self, hash: &str) -> StoreResult<Option<ApiToken>> {
        let c = self.client().await?;
        Ok(c.query_opt(
            &format!("SELECT {TOKEN_COLS} FROM api_tokens WHERE hash = $1"),
            &[&hash],
        )
        .await
        .map_err(pg_err)?
        .map(|r| token_row(&r)))
    }

    async fn list_tokens(&self, user: UserId) -> StoreResult<Vec<ApiToken>> {
        let c = self.client().await?;
        Ok(c.query(
            &format!("SELECT {TOKEN_COLS} FROM api_tokens WHERE user_id = $1 ORDER BY id"),
            &[&user.0],
        )
        .await
        .map_err(pg_err)?
        .iter()
        .map(token_row)
        .collect())
    }

    async fn revoke_token(&self, id: i64, at: DateTime<Utc>) -> StoreResult<ApiToken> {
        let c = self.client().await?;
        c.execute(
            "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            &[&id, &at],
        )
        .await
        .map_err(pg_err)?;
        c.query_opt(
            &format!("SELECT {TOKEN_COLS} FROM api_tokens WHERE id = $1"),
            &[&id],
        )
        .await
        .map_err(pg_err)?
        .map(|r| token_row(&r))
        .ok_or_else(|| StoreError::not_found("token", id))
    }

    async fn link_reports(&self, link: ReportLink) -> StoreResult<()> {
        if link.from == link.to {
            return Err(StoreError::Invalid(format!(
                "report {} cannot be linked to itself",
                link.from
            )));
        }
        in_tx!(self, |tx| {
            for id in [link.from, link.to] {
                lock_version(&tx, "reports", "id", &id.0, "report", id.to_string()).await?;
            }
            tx.execute(
                "DELETE FROM report_links WHERE (from_id = $1 AND to_id = $2)
                 OR (from_id = $2 AND to_id = $1)",
                &[&link.from.0, &link.to.0],
            )
            .await
            .map_err(pg_err)?;
            tx.execute(
                "INSERT INTO report_links (from_id, to_id, kind, at, by_user)
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &link.from.0,
                    &link.to.0,
                    &link.kind.code(),
                    &link.at,
                    &link.by.map(|u| u.0),
                ],
            )
            .await
            .map_err(pg_err)?;
            record_change(&tx, Entity::Report, link.from.0, link.at).await?;
            record_change(&tx, Entity::Report, link.to.0, link.at).await
        })
    }

    async fn unlink_reports(&self, a: ReportId, b: ReportId) -> StoreResult<()> {
        let now = self.now();
        in_tx!(self, |tx| {
            let n = tx
                .execute(
                    "DELETE FROM report_links WHERE (from_id = $1 AND to_id = $2)
                     OR (from_id = $2 AND to_id = $1)",
                    &[&a.0, &b.0],
                )
                .await
                .map_err(pg_err)?;
            if n > 0 {
                record_change(&tx, Entity::Report, a.0, now).await?;
                record_change(&tx, Entity::Report, b.0, now).await?;
            }
            Ok(())
        })
    }

    async fn report_links(&self, id: ReportId) -> StoreResult<Vec<ReportLink>> {
        let c = self.client().await?;
        c.query(
            "SELECT from_id, to_id, kind, at, by_user FROM report_links
             WHERE from_id = $1 OR to_id = $1 ORDER BY at, from_id, to_id",
            &[&id.0],
        )
        .await
        .map_err(pg_err)?
        .iter()
        .map(|r| {
            let kind: String = r.get(2);
            Ok(ReportLink {
                from: ReportId(r.get(0)),
                to: ReportId(r.get(1)),
                kind: LinkKind::parse(&kind)
                    .ok_or_else(|| StoreError::Invalid(format!("report_links.kind {kind:?}")))?,
                at: r.get(3),
                by: r.get::<_, Option<i64>>(4).map(UserId),
            })
        })
        .collect()
    }

    async fn create_report(&self, report: NewReport) -> StoreResult<Report> {
        in_tx!(self, |tx| { insert_report(&tx, &report).await })
    }

    async fn create_reports(&self, reports: Vec<NewReport>) -> StoreResult<Vec<Report>> {
        if reports.is_empty() {
            return Ok(Vec::new());
        }
        in_tx!(self, |tx| {
            let mut out = Vec::with_capacity(reports.len());
            for r in &reports {
                out.push(insert_report(&tx, r).await?);
            }
            Ok(out)
        })
    }

    async fn get_report(&self, id: ReportId) -> StoreResult<Report> {
        load_report(&**self.client().await?, id).await
    }

    async fn update_report(
        &self,
        id: ReportId,
        expected_version: i64,
        details: ReportDetails,
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<Report> {
        in_tx!(self, |tx| {
            check_report_version(&tx, id, expected_version).await?;
            write_report_columns(&tx, id, &details).await?;
            bump_report(&tx, id, at, by, "update").await
        })
    }

    async fn set_report_status(
        &self,
        id: ReportId,
        expected_version: i64,
        status: ReportStatus,
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<Report> {
        in_tx!(self, |tx| {
            check_report_version(&tx, id, expected_version).await?;
            tx.execute(
                "UPDATE reports SET status = $2 WHERE id = $1",
                &[&id.0, &status.code()],
            )
            .await
            .map_err(pg_err)?;
            bump_report(&tx, id, at, by, &format!("status:{}", status.code())).await
        })
    }

    async fn add_stage(&self, id: ReportId, stage: NewStage) -> StoreResult<Report> {
        in_tx!(self, |tx| {
            lock_version(&tx, "reports", "id", &id.0, "report", id.to_string()).await?;
            let next: i32 = tx
                .query_one(
                    "SELECT COALESCE(MAX(seq), 0) + 1 FROM report_stages WHERE report_id = $1",
                    &[&id.0],
                )
                .await
                .map_err(pg_err)?
                .get(0);
            insert_stage(&tx, id, next, &stage).await?;
            bump_report(
                &tx,
                id,
                stage.at,
                stage.author,
                &format!("stage:{}", stage.kind.code()),
            )
            .await
        })
    }

    async fn list_reports(&self, filter: &ReportFilter, page: Page) -> StoreResult<Paged<Report>> {
        let c = self.client().await?;
        let mut wh: Vec<String> = Vec::new();
        let mut args: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        fn arg(
            args: &mut Vec<Box<dyn ToSql + Sync + Send>>,
            v: Box<dyn ToSql + Sync + Send>,
        ) -> String {
            args.push(v);
            format!("${}", args.len())
        }
        if let Some(fy) = filter.fiscal_year {
            wh.push(format!("fiscal_year = {}", arg(&mut args, Box::new(fy))));
        }
        if let Some(s) = &filter.sector {
            wh.push(format!("sector = {}", arg(&mut args, Box::new(s.clone()))));
        }
        if let Some(s) = &filter.event_type {
            wh.push(format!(
                "event_type = {}",
                arg(&mut args, Box::new(s.clone()))
            ));
        }
        if let Some(s) = &filter.cause {
            wh.push(format!(
                "EXISTS (SELECT 1 FROM report_causes rc WHERE rc.report_id = reports.id
                 AND rc.cause = {})",
                arg(&mut args, Box::new(s.clone()))
            ));
        }
        if let Some(s) = filter.severity {
            wh.push(format!(
                "severity = {}",
                arg(&mut args, Box::new(i16::from(s)))
            ));
        }
        if let Some(s) = filter.status {
            wh.push(format!("status = {}", arg(&mut args, Box::new(s.code()))));
        }
        if let Some(t) = filter.tlp {
            wh.push(format!("tlp = {}", arg(&mut args, Box::new(t.code()))));
        }
        if let Some(o) = filter.org_id {
            wh.push(format!("org_id = {}", arg(&mut args, Box::new(o.0))));
        }
        if let Some(orgs) = &filter.visible_orgs {
            let ids: Vec<i64> = orgs.iter().map(|o| o.0).collect();
            wh.push(format!("org_id = ANY({})", arg(&mut args, Box::new(ids))));
        }
        // Security: the TLP visibility rule as a filter, so lists agree with single reads.
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
            ReportSort::SeverityDesc => "severity DESC NULLS LAST, reported_at DESC, id DESC",
            ReportSort::UpdatedDesc => "updated_at DESC, id DESC",
        };
        let params: Vec<&(dyn ToSql + Sync)> = args
            .iter()
            .map(|a| a.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let total: i64 = c
            .query_one(
                &format!("SELECT COUNT(*) FROM reports {where_sql}"),
                &params,
            )
            .await
            .map_err(pg_err)?
            .get(0);
        let limit = i64::from(page.size);
        let offset = i64::try_from(page.offset()).unwrap_or(i64::MAX);
        let mut params = params;
        let n = params.len();
        params.push(&limit);
        params.push(&offset);
        let ids: Vec<i64> = c
            .query(
                &format!(
                    "SELECT id FROM reports {where_sql} ORDER BY {order} LIMIT ${} OFFSET ${}",
                    n + 1,
                    n + 2
                ),
                &params,
            )
            .await
            .map_err(pg_err)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut items = Vec::with_capacity(ids.len());
        for id in ids {
            items.push(load_report(&**c, ReportId(id)).await?);
        }
        Ok(Paged {
            items,
            total: u64::try_from(total).unwrap_or(0),
            page,
        })
    }

    async fn report_history(&self, id: ReportId) -> StoreResult<Vec<HistoryEntry>> {
        history(&**self.client().await?, Entity::Report, id.0).await
    }

    async fn create_case(
        &self,
        survey_year: Option<i32>,
        report_id: Option<ReportId>,
        content: CaseContent,
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<Case> {
        in_tx!(self, |tx| {
            let number = i32::try_from(content.number)
                .map_err(|_| StoreError::Invalid("case number too large".into()))?;
            let row = tx
                .query_one(
                    "INSERT INTO cases (survey_year, number, report_id, version, content)
                     VALUES ($1, $2, $3, 1, $4) RETURNING id",
                    &[
                        &survey_year,
                        &number,
                        &report_id.map(|r| r.0),
                        &json(&content)?,
                    ],
                )
                .await
                .map_err(|e| match pg_err(e) {
                    StoreError::Duplicate { .. } => StoreError::Duplicate {
                        what: format!(
                            "case {} of survey {}",
                            content.number,
                            survey_year.unwrap_or_default()
                        ),
                    },
                    other => other,
                })?;
            let id = CaseId(row.get(0));
            let c = load_case(&*tx, id).await?;
            record_history(
                &tx,
                Revision {
                    entity: Entity::Case,
                    id: id.0,
                    version: 1,
                    at,
                    by,
                    action: "create",
                    snapshot: &c,
                },
            )
            .await?;
            if let Some(r) = report_id {
                record_change(&tx, Entity::Report, r.0, at).await?;
            }
            Ok(c)
        })
    }

    async fn get_case(&self, id: CaseId) -> StoreResult<Case> {
        load_case(&**self.client().await?, id).await
    }

    async fn case_by_number(&self, survey_year: i32, number: u32) -> StoreResult<Option<Case>> {
        let Ok(number) = i32::try_from(number) else {
            return Ok(None);
        };
        let c = self.client().await?;
        c.query_opt(
            "SELECT id, survey_year, report_id, version, content FROM cases
             WHERE survey_year = $1 AND number = $2",
            &[&survey_year, &number],
        )
        .await
        .map_err(pg_err)?
        .map(|r| case_row(&r))
        .transpose()
    }

    async fn update_case(
        &self,
        id: CaseId,
        expected_version: i64,
        content: CaseContent,
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<Case> {
        in_tx!(self, |tx| {
            let v = lock_version(&tx, "cases", "id", &id.0, "case", id.to_string()).await?;
            if v != expected_version {
                return Err(StoreError::Conflict {
                    entity: "case",
                    current: Current::Case(Box::new(load_case(&*tx, id).await?)),
                });
            }
            let number = i32::try_from(content.number)
                .map_err(|_| StoreError::Invalid("case number too large".into()))?;
            tx.execute(
                "UPDATE cases SET number = $2, content = $3, version = version + 1 WHERE id = $1",
                &[&id.0, &number, &json(&content)?],
            )
            .await
            .map_err(pg_err)?;
            let c = load_case(&*tx, id).await?;
            record_history(
                &tx,
                Revision {
                    entity: Entity::Case,
                    id: id.0,
                    version: c.version,
                    at,
                    by,
                    action: "update",
                    snapshot: &c,
                },
            )
            .await?;
            Ok(c)
        })
    }

    async fn list_cases(&self, survey_year: Option<i32>) -> StoreResult<Vec<Case>> {
        let c = self.client().await?;
        c.query(
            "SELECT id, survey_year, report_id, version, content FROM cases
             WHERE $1::INTEGER IS NULL OR survey_year = $1
             ORDER BY survey_year IS NULL, survey_year, number, id",
            &[&survey_year],
        )
        .await
        .map_err(pg_err)?
        .iter()
        .map(case_row)
        .collect()
    }

    async fn case_history(&self, id: CaseId) -> StoreResult<Vec<HistoryEntry>> {
        history(&**self.client().await?, Entity::Case, id.0).await
    }

    async fn create_survey(&self, content: SurveyContent) -> StoreResult<Survey> {
        let now = self.now();
        in_tx!(self, |tx| {
            let fy = content.fiscal_year.year();
            tx.execute(
                "INSERT INTO surveys (fiscal_year, version, content) VALUES ($1, 1, $2)",
                &[&fy, &json(&content)?],
            )
            .await
            .map_err(|e| match pg_err(e) {
                StoreError::Duplicate { .. } => StoreError::Duplicate {
                    what: format!("survey {fy}"),
                },
                other => other,
            })?;
            record_change(&tx, Entity::Survey, fy.into(), now).await?;
            load_survey(&*tx, fy).await
        })
    }

    async fn get_survey(&self, fiscal_year: i32) -> StoreResult<Survey> {
        load_survey(&**self.client().await?, fiscal_year).await
    }

    async fn update_survey(
        &self,
        expected_version: i64,
        content: SurveyContent,
    ) -> StoreResult<Survey> {
        let now = self.now();
        in_tx!(self, |tx| {
            let fy = content.fiscal_year.year();
            let v =
                lock_version(&tx, "surveys", "fiscal_year", &fy, "survey", fy.to_string()).await?;
            if v != expected_version {
                return Err(StoreError::Conflict {
                    entity: "survey",
                    current: Current::Survey(Box::new(load_survey(&*tx, fy).await?)),
                });
            }
            tx.execute(
                "UPDATE surveys SET content = $2, version = version + 1 WHERE fiscal_year = $1",
                &[&fy, &json(&content)?],
            )
            .await
            .map_err(pg_err)?;
            record_change(&tx, Entity::Survey, fy.into(), now).await?;
            load_survey(&*tx, fy).await
        })
    }

    async fn list_surveys(&self) -> StoreResult<Vec<Survey>> {
        let c = self.client().await?;
        let rows = c
            .query("SELECT fiscal_year FROM surveys ORDER BY fiscal_year", &[])
            .await
            .map_err(pg_err)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(load_survey(&**c, r.get(0)).await?);
        }
        Ok(out)
    }

    // Selection: the SQL lives in selection.rs.
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
        let c = self.client().await?;
        c.query(
            "SELECT seq, entity, entity_id, at FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2",
            &[&after, &limit],
        )
        .await
        .map_err(pg_err)?
        .iter()
        .map(|r| {
            let e: String = r.get(1);
            Ok(Change {
                seq: r.get(0),
                entity: Entity::parse(&e)
                    .ok_or_else(|| StoreError::Invalid(format!("changes.entity {e:?}")))?,
                id: r.get(2),
                at: r.get(3),
            })
        })
        .collect()
    }

    // Publication: implemented in publication.rs.
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
        publication::decide_candidate(self, case, candidate, decision, by, at).await
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
        check::run(&**self.client().await?).await
    }

    // Security.
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

    // Reminders.
    async fn claim_reminder(&self, claim: &kizuki_store::ReminderClaim) -> StoreResult<bool> {
        reminders::claim(self, claim).await
    }

    async fn reminder_sent(
        &self,
        key: &kizuki_store::ReminderKey,
        token: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        reminders::sent(self, key, token, at).await
    }

    async fn release_reminder(
        &self,
        key: &kizuki_store::ReminderKey,
        token: &str,
        retry_at: DateTime<Utc>,
        error: &str,
    ) -> StoreResult<()> {
        reminders::release(self, key, token, retry_at, error).await
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

    // Accounts.
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

// After `in_tx!`, which it uses: macros are in scope only below their definition.
mod selection;
