//! A survey year's records in PostgreSQL: the operators' cooperation with each selected case,
//! kept as an append-only history, and the published editions of the annual report. An
//! append locks its case row and a publish its survey row, so writers on several nodes take
//! turns: of two appends that saw the same count one conflicts, and no two editions of a year
//! get the same number.

use crate::cached::Cached as _;
use async_trait::async_trait;
use kizuki_store::prelude::*;

use crate::{PgStore, pg_err};
use deadpool_postgres::GenericClient;
use deadpool_postgres::Transaction;
use kizuki_domain::ids::{CaseId, UserId};
use kizuki_store::{
    CooperationRecord, CooperationStatus, Current, Edition, NewCooperation, NewEdition, StoreError,
    StoreResult,
};
use tokio_postgres::Row;

const COOPERATION_COLS: &str = "case_id, seq, status, on_date, contact, reason, by_user, at";

fn count(column: &str, n: i32) -> StoreResult<u32> {
    u32::try_from(n).map_err(|_| StoreError::Invalid(format!("unexpected value {n} in {column}")))
}

fn cooperation_row(r: &Row) -> StoreResult<CooperationRecord> {
    let status: String = r.get(2);
    Ok(CooperationRecord {
        case_id: CaseId(r.get(0)),
        seq: count("cooperation_records.seq", r.get(1))?,
        status: CooperationStatus::parse(&status).ok_or_else(|| {
            StoreError::Invalid(format!(
                "unexpected value {status:?} in cooperation_records.status"
            ))
        })?,
        on: r.get(3),
        contact: r.get(4),
        reason: r.get(5),
        by: r.get::<_, Option<i64>>(6).map(UserId),
        at: r.get(7),
    })
}

pub(crate) async fn cooperation_history<C: GenericClient + Sync>(
    c: &C,
    case: CaseId,
) -> StoreResult<Vec<CooperationRecord>> {
    c.cached_query(
        &format!(
            "SELECT {COOPERATION_COLS} FROM cooperation_records WHERE case_id = $1 ORDER BY seq"
        ),
        &[&case.0],
    )
    .await
    .map_err(pg_err)?
    .iter()
    .map(cooperation_row)
    .collect()
}

const EDITION_COLS: &str = "survey_year, number, snapshot, published_by, published_at";

fn edition_row(r: &Row) -> StoreResult<Edition> {
    Ok(Edition {
        survey_year: r.get(0),
        number: count("editions.number", r.get(1))?,
        snapshot: r.get(2),
        published_by: UserId(r.get(3)),
        published_at: r.get(4),
    })
}

pub(crate) async fn editions<C: GenericClient + Sync>(
    c: &C,
    survey_year: i32,
) -> StoreResult<Vec<Edition>> {
    c.cached_query(
        &format!("SELECT {EDITION_COLS} FROM editions WHERE survey_year = $1 ORDER BY number"),
        &[&survey_year],
    )
    .await
    .map_err(pg_err)?
    .iter()
    .map(edition_row)
    .collect()
}

/// Locks the row `sql` selects (`FOR UPDATE`) for the rest of the transaction; `missing` when
/// there is none.
async fn lock_row(
    tx: &Transaction<'_>,
    sql: &str,
    key: &(dyn tokio_postgres::types::ToSql + Sync),
    missing: StoreError,
) -> StoreResult<()> {
    tx.query_opt(sql, &[key])
        .await
        .map_err(pg_err)?
        .map(|_| ())
        .ok_or(missing)
}

#[async_trait]
impl YearStore for PgStore {
    async fn append_cooperation(&self, c: NewCooperation) -> StoreResult<CooperationRecord> {
        in_tx!(self, |tx| {
            lock_row(
                &tx,
                "SELECT 1 FROM cases WHERE id = $1 FOR UPDATE",
                &c.case_id.0,
                StoreError::not_found("case", c.case_id),
            )
            .await?;
            let n: i64 = tx
                .cached_query_one(
                    "SELECT COUNT(*) FROM cooperation_records WHERE case_id = $1",
                    &[&c.case_id.0],
                )
                .await
                .map_err(pg_err)?
                .get(0);
            if n != i64::from(c.expected_seq) {
                return Err(StoreError::Conflict {
                    entity: "cooperation",
                    current: Current::Version(n),
                });
            }
            let seq = i32::try_from(n + 1)
                .map_err(|_| StoreError::Invalid("cooperation history is full".into()))?;
            let row = tx
                .cached_query_one(
                    &format!(
                        "INSERT INTO cooperation_records ({COOPERATION_COLS})
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                         RETURNING {COOPERATION_COLS}"
                    ),
                    &[
                        &c.case_id.0,
                        &seq,
                        &c.status.code(),
                        &c.on,
                        &c.contact,
                        &c.reason,
                        &c.by.map(|u| u.0),
                        &c.at,
                    ],
                )
                .await
                .map_err(pg_err)?;
            cooperation_row(&row)
        })
    }

    async fn cooperation_history(&self, case: CaseId) -> StoreResult<Vec<CooperationRecord>> {
        cooperation_history(&self.client().await?, case).await
    }

    async fn publish_edition(&self, e: NewEdition) -> StoreResult<Edition> {
        in_tx!(self, |tx| {
            lock_row(
                &tx,
                "SELECT 1 FROM surveys WHERE fiscal_year = $1 FOR UPDATE",
                &e.survey_year,
                StoreError::not_found("survey", e.survey_year),
            )
            .await?;
            // Read after the lock: every earlier publish of the year has committed by now.
            let row = tx
                .cached_query_one(
                    &format!(
                        "INSERT INTO editions ({EDITION_COLS})
                         SELECT $1, COALESCE(MAX(number), 0) + 1, $2, $3, $4
                         FROM editions WHERE survey_year = $1
                         RETURNING {EDITION_COLS}"
                    ),
                    &[&e.survey_year, &e.snapshot, &e.by.0, &e.at],
                )
                .await
                .map_err(pg_err)?;
            edition_row(&row)
        })
    }

    async fn editions(&self, survey_year: i32) -> StoreResult<Vec<Edition>> {
        editions(&self.client().await?, survey_year).await
    }

    async fn edition(&self, survey_year: i32, number: u32) -> StoreResult<Edition> {
        let missing = || StoreError::not_found("edition", format!("{survey_year}-{number}"));
        let Ok(n) = i32::try_from(number) else {
            return Err(missing());
        };
        let c = self.client().await?;
        c.cached_query_opt(
            &format!("SELECT {EDITION_COLS} FROM editions WHERE survey_year = $1 AND number = $2"),
            &[&survey_year, &n],
        )
        .await
        .map_err(pg_err)?
        .map(|r| edition_row(&r))
        .transpose()?
        .ok_or_else(missing)
    }
}
