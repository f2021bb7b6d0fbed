//! A survey year's records in SQLite: the operators' cooperation with each selected case, kept
//! as an append-only history, and the published editions of the annual report. Every write
//! goes through the one writer connection, so reading the count (or the last number) and
//! inserting after it cannot interleave with another writer.

use async_trait::async_trait;
use chrono::NaiveDate;
use kizuki_store::prelude::*;

use super::{SqliteStore, db_err, load_case};
use crate::codec::{self, time_from, time_to};
use kizuki_domain::ids::{CaseId, UserId};
use kizuki_store::{
    CooperationRecord, CooperationStatus, Current, Edition, NewCooperation, NewEdition, StoreError,
    StoreResult,
};
use rusqlite::{Connection, OptionalExtension, params};

/// Days are stored as ISO 8601 text, so they sort and compare as text.
const DATE: &str = "%Y-%m-%d";

const COOPERATION_COLS: &str = "case_id, seq, status, on_date, contact, reason, by_user, at";

fn cooperation_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CooperationRecord> {
    let status: String = r.get(2)?;
    let on: String = r.get(3)?;
    Ok(CooperationRecord {
        case_id: CaseId(r.get(0)?),
        seq: r.get(1)?,
        status: CooperationStatus::parse(&status)
            .ok_or_else(|| codec::bad("cooperation_records.status", &status))?,
        on: NaiveDate::parse_from_str(&on, DATE)
            .map_err(|_| codec::bad("cooperation_records.on_date", &on))?,
        contact: r.get(4)?,
        reason: r.get(5)?,
        by: r.get::<_, Option<i64>>(6)?.map(UserId),
        at: time_from(&r.get::<_, String>(7)?)?,
    })
}

pub(crate) fn cooperation_history(
    c: &Connection,
    case: CaseId,
) -> rusqlite::Result<Vec<CooperationRecord>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {COOPERATION_COLS} FROM cooperation_records WHERE case_id = ?1 ORDER BY seq"
    ))?;
    st.query_map([case.0], cooperation_row)?.collect()
}

const EDITION_COLS: &str = "survey_year, number, snapshot, published_by, published_at";

fn edition_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Edition> {
    Ok(Edition {
        survey_year: r.get(0)?,
        number: r.get(1)?,
        snapshot: r.get(2)?,
        published_by: UserId(r.get(3)?),
        published_at: time_from(&r.get::<_, String>(4)?)?,
    })
}

pub(crate) fn editions(c: &Connection, survey_year: i32) -> rusqlite::Result<Vec<Edition>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {EDITION_COLS} FROM editions WHERE survey_year = ?1 ORDER BY number"
    ))?;
    st.query_map([survey_year], edition_row)?.collect()
}

fn load_edition(c: &Connection, survey_year: i32, number: u32) -> StoreResult<Edition> {
    c.query_row(
        &format!("SELECT {EDITION_COLS} FROM editions WHERE survey_year = ?1 AND number = ?2"),
        params![survey_year, number],
        edition_row,
    )
    .optional()
    .map_err(db_err)?
    .ok_or_else(|| StoreError::not_found("edition", format!("{survey_year}-{number}")))
}

#[async_trait]
impl YearStore for SqliteStore {
    async fn append_cooperation(&self, c: NewCooperation) -> StoreResult<CooperationRecord> {
        self.write(move |tx| {
            load_case(tx, c.case_id)?;
            let count: i64 = tx
                .query_row(
                    "SELECT COUNT(*) FROM cooperation_records WHERE case_id = ?1",
                    [c.case_id.0],
                    |r| r.get(0),
                )
                .map_err(db_err)?;
            if count != i64::from(c.expected_seq) {
                return Err(StoreError::Conflict {
                    entity: "cooperation",
                    current: Current::Version(count),
                });
            }
            let seq = c
                .expected_seq
                .checked_add(1)
                .ok_or_else(|| StoreError::Invalid("cooperation history is full".into()))?;
            tx.execute(
                &format!(
                    "INSERT INTO cooperation_records ({COOPERATION_COLS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                ),
                params![
                    c.case_id.0,
                    seq,
                    c.status.code(),
                    c.on.format(DATE).to_string(),
                    c.contact,
                    c.reason,
                    c.by.map(|u| u.0),
                    time_to(c.at)
                ],
            )
            .map_err(db_err)?;
            Ok(CooperationRecord {
                case_id: c.case_id,
                seq,
                status: c.status,
                on: c.on,
                contact: c.contact,
                reason: c.reason,
                by: c.by,
                at: c.at,
            })
        })
        .await
    }

    async fn cooperation_history(&self, case: CaseId) -> StoreResult<Vec<CooperationRecord>> {
        self.read(move |c| cooperation_history(c, case)).await
    }

    async fn publish_edition(&self, e: NewEdition) -> StoreResult<Edition> {
        self.write(move |tx| {
            // Refused by the foreign key anyway; said here as what it is.
            crate::load_survey(tx, e.survey_year)?;
            let last: i64 = tx
                .query_row(
                    "SELECT COALESCE(MAX(number), 0) FROM editions WHERE survey_year = ?1",
                    [e.survey_year],
                    |r| r.get(0),
                )
                .map_err(db_err)?;
            let number = u32::try_from(last + 1)
                .map_err(|_| StoreError::Invalid(format!("edition number {}", last + 1)))?;
            tx.execute(
                &format!("INSERT INTO editions ({EDITION_COLS}) VALUES (?1, ?2, ?3, ?4, ?5)"),
                params![e.survey_year, number, e.snapshot, e.by.0, time_to(e.at)],
            )
            .map_err(db_err)?;
            load_edition(tx, e.survey_year, number)
        })
        .await
    }

    async fn editions(&self, survey_year: i32) -> StoreResult<Vec<Edition>> {
        self.read(move |c| editions(c, survey_year)).await
    }

    async fn edition(&self, survey_year: i32, number: u32) -> StoreResult<Edition> {
        self.read_store(move |c| load_edition(c, survey_year, number))
            .await
    }
}
