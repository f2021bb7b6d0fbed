//! Case selection in SQLite: score overrides, saved selections and their members,
//! and confirmation, which creates the survey's case drafts in the same transaction.

use async_trait::async_trait;
use kizuki_store::prelude::*;

use super::{SqliteStore, db_err, load_case, record_change, record_history};
use crate::codec::{self, time_from, time_to, to_json};
use chrono::{DateTime, Utc};
use kizuki_domain::ids::{CaseId, ReportId, UserId};
use kizuki_store::{
    CaseDraft, Entity, ScoreOverrideRecord, SelectionMember, SelectionStatus, StoreError,
    StoreResult, StoredSelection,
};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

fn override_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ScoreOverrideRecord> {
    Ok(ScoreOverrideRecord {
        survey_year: r.get(0)?,
        report_id: ReportId(r.get(1)?),
        key: r.get(2)?,
        value: r.get(3)?,
        reason: r.get(4)?,
        by: r.get::<_, Option<i64>>(5)?.map(UserId),
        at: time_from(&r.get::<_, String>(6)?)?,
    })
}

const OVERRIDE_COLS: &str = "survey_year, report_id, key, value, reason, by_user, at";

fn members(c: &Connection, id: i64) -> rusqlite::Result<Vec<SelectionMember>> {
    let mut st = c.prepare_cached(
        "SELECT report_id, chosen, rank, category, case_id FROM selection_members
         WHERE selection_id = ?1 ORDER BY rank, report_id",
    )?;
    st.query_map([id], |r| {
        Ok(SelectionMember {
            report_id: ReportId(r.get(0)?),
            chosen: r.get(1)?,
            rank: r.get(2)?,
            category: r.get(3)?,
            case_id: r.get::<_, Option<i64>>(4)?.map(CaseId),
        })
    })?
    .collect()
}

const SELECTION_COLS: &str = "id, survey_year, version, status, snapshot, created_by, created_at,
                              confirmed_by, confirmed_at";

fn selection_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredSelection> {
    let status: String = r.get(3)?;
    Ok(StoredSelection {
        id: r.get(0)?,
        survey_year: r.get(1)?,
        version: r.get(2)?,
        status: SelectionStatus::parse(&status)
            .ok_or_else(|| codec::bad("selections.status", &status))?,
        snapshot: r.get(4)?,
        members: Vec::new(),
        created_by: r.get::<_, Option<i64>>(5)?.map(UserId),
        created_at: time_from(&r.get::<_, String>(6)?)?,
        confirmed_by: r.get::<_, Option<i64>>(7)?.map(UserId),
        confirmed_at: r
            .get::<_, Option<String>>(8)?
            .map(|s| time_from(&s))
            .transpose()?,
    })
}

fn with_members(c: &Connection, mut s: StoredSelection) -> rusqlite::Result<StoredSelection> {
    s.members = members(c, s.id)?;
    Ok(s)
}

fn load(c: &Connection, id: i64) -> StoreResult<StoredSelection> {
    let s = c
        .query_row(
            &format!("SELECT {SELECTION_COLS} FROM selections WHERE id = ?1"),
            [id],
            selection_row,
        )
        .optional()
        .map_err(db_err)?
        .ok_or_else(|| StoreError::not_found("selection", id))?;
    with_members(c, s).map_err(db_err)
}

fn survey_exists(c: &Connection, fy: i32) -> StoreResult<()> {
    let found: Option<i64> = c
        .query_row(
            "SELECT fiscal_year FROM surveys WHERE fiscal_year = ?1",
            [fy],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err)?;
    found
        .map(|_| ())
        .ok_or_else(|| StoreError::not_found("survey", fy))
}

fn insert_member(tx: &Transaction<'_>, id: i64, m: &SelectionMember) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO selection_members (selection_id, report_id, chosen, rank, category, case_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            id,
            m.report_id.0,
            m.chosen,
            m.rank,
            m.category,
            m.case_id.map(|c| c.0)
        ],
    )
    .map_err(db_err)?;
    Ok(())
}

fn confirm_in(
    tx: &Transaction<'_>,
    cur: &StoredSelection,
    by: Option<UserId>,
    at: DateTime<Utc>,
    drafts: &[CaseDraft],
) -> StoreResult<()> {
    let fy = cur.survey_year;
    for d in drafts {
        if !cur
            .members
            .iter()
            .any(|m| m.chosen && m.report_id == d.report_id)
        {
            return Err(StoreError::Invalid(format!(
                "report {} is not chosen in selection {}",
                d.report_id, cur.id
            )));
        }
        tx.execute(
            "INSERT INTO cases (survey_year, number, report_id, version, content)
             VALUES (?1, ?2, ?3, 1, ?4)",
            params![
                fy,
                d.content.number,
                d.report_id.0,
                to_json(&d.content).map_err(db_err)?
            ],
        )
        .map_err(|e| match db_err(e) {
            StoreError::Duplicate { .. } => StoreError::Duplicate {
                what: format!("case {} of survey {fy}", d.content.number),
            },
            other => other,
        })?;
        let case_id = CaseId(tx.last_insert_rowid());
        let c = load_case(tx, case_id)?;
        record_history(tx, Entity::Case, case_id.0, 1, at, by, "create", &c)?;
        record_change(tx, Entity::Report, d.report_id.0, at)?;
    }
    // Every chosen member gets the survey's case for its report: the draft just made, or the
    // one it already had.
    tx.execute(
        "UPDATE selection_members SET case_id = (
             SELECT id FROM cases WHERE cases.survey_year = ?2
               AND cases.report_id = selection_members.report_id
             ORDER BY id LIMIT 1)
         WHERE selection_id = ?1 AND chosen = 1",
        params![cur.id, fy],
    )
    .map_err(db_err)?;
    tx.execute(
        "UPDATE selections SET status = 'confirmed', version = version + 1,
                               confirmed_by = ?2, confirmed_at = ?3
         WHERE id = ?1",
        params![cur.id, by.map(|u| u.0), time_to(at)],
    )
    .map_err(db_err)?;
    Ok(())
}

#[async_trait]
impl SelectionStore for SqliteStore {
    async fn put_score_override(
        &self,
        o: kizuki_store::ScoreOverrideRecord,
    ) -> StoreResult<kizuki_store::ScoreOverrideRecord> {
        self.write(move |tx| {
            survey_exists(tx, o.survey_year)?;
            super::report_exists(tx, o.report_id)?;
            tx.execute(
                "INSERT INTO selection_overrides (survey_year, report_id, key, value, reason,
                                                  by_user, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (survey_year, report_id, key) DO UPDATE SET
                   value = excluded.value, reason = excluded.reason,
                   by_user = excluded.by_user, at = excluded.at",
                params![
                    o.survey_year,
                    o.report_id.0,
                    o.key,
                    o.value,
                    o.reason,
                    o.by.map(|u| u.0),
                    time_to(o.at)
                ],
            )
            .map_err(db_err)?;
            tx.query_row(
                &format!(
                    "SELECT {OVERRIDE_COLS} FROM selection_overrides
                     WHERE survey_year = ?1 AND report_id = ?2 AND key = ?3"
                ),
                params![o.survey_year, o.report_id.0, o.key],
                override_row,
            )
            .map_err(db_err)
        })
        .await
    }

    async fn delete_score_override(
        &self,
        survey_year: i32,
        report_id: ReportId,
        key: &str,
    ) -> StoreResult<()> {
        let key = key.to_owned();
        self.write(move |tx| {
            tx.execute(
                "DELETE FROM selection_overrides
                 WHERE survey_year = ?1 AND report_id = ?2 AND key = ?3",
                params![survey_year, report_id.0, key],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn list_score_overrides(
        &self,
        survey_year: i32,
    ) -> StoreResult<Vec<kizuki_store::ScoreOverrideRecord>> {
        self.read(move |c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {OVERRIDE_COLS} FROM selection_overrides WHERE survey_year = ?1
                 ORDER BY report_id, key"
            ))?;
            st.query_map([survey_year], override_row)?.collect()
        })
        .await
    }

    async fn save_selection(
        &self,
        s: kizuki_store::NewSelection,
    ) -> StoreResult<kizuki_store::StoredSelection> {
        self.write(move |tx| {
            survey_exists(tx, s.survey_year)?;
            tx.execute(
                "INSERT INTO selections (survey_year, version, status, snapshot, created_by,
                                         created_at)
                 VALUES (?1, 1, 'draft', ?2, ?3, ?4)",
                params![s.survey_year, s.snapshot, s.by.map(|u| u.0), time_to(s.at)],
            )
            .map_err(db_err)?;
            let id = tx.last_insert_rowid();
            for m in &s.members {
                insert_member(tx, id, m)?;
            }
            let out = load(tx, id)?;
            record_history(tx, Entity::Selection, id, 1, s.at, s.by, "create", &out)?;
            Ok(out)
        })
        .await
    }

    async fn list_selections(
        &self,
        survey_year: i32,
    ) -> StoreResult<Vec<kizuki_store::StoredSelection>> {
        self.read(move |c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {SELECTION_COLS} FROM selections WHERE survey_year = ?1
                 ORDER BY id DESC"
            ))?;
            let found: Vec<StoredSelection> = st
                .query_map([survey_year], selection_row)?
                .collect::<rusqlite::Result<_>>()?;
            found.into_iter().map(|s| with_members(c, s)).collect()
        })
        .await
    }

    async fn get_selection(&self, id: i64) -> StoreResult<kizuki_store::StoredSelection> {
        self.read_store(move |c| load(c, id)).await
    }

    async fn confirmed_selection(
        &self,
        survey_year: i32,
    ) -> StoreResult<Option<kizuki_store::StoredSelection>> {
        self.read_store(move |c| {
            let id: Option<i64> = c
                .query_row(
                    "SELECT id FROM selections WHERE survey_year = ?1 AND status = 'confirmed'",
                    [survey_year],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db_err)?;
            id.map(|id| load(c, id)).transpose()
        })
        .await
    }

    async fn confirm_selection(
        &self,
        id: i64,
        expected_version: i64,
        by: Option<UserId>,
        at: DateTime<Utc>,
        drafts: Vec<kizuki_store::CaseDraft>,
    ) -> StoreResult<kizuki_store::StoredSelection> {
        self.write(move |tx| {
            let cur = load(tx, id)?.checked(expected_version, SelectionStatus::Draft)?;
            let other: Option<i64> = tx
                .query_row(
                    "SELECT id FROM selections WHERE survey_year = ?1 AND status = 'confirmed'",
                    [cur.survey_year],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db_err)?;
            if let Some(other) = other {
                return Err(StoreError::Invalid(format!(
                    "survey {} already has a confirmed selection ({other})",
                    cur.survey_year
                )));
            }
            confirm_in(tx, &cur, by, at, &drafts)?;
            let out = load(tx, id)?;
            record_history(
                tx,
                Entity::Selection,
                id,
                out.version,
                at,
                by,
                "confirm",
                &out,
            )?;
            Ok(out)
        })
        .await
    }

    async fn reopen_selection(
        &self,
        id: i64,
        expected_version: i64,
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<kizuki_store::StoredSelection> {
        self.write(move |tx| {
            load(tx, id)?.checked(expected_version, SelectionStatus::Confirmed)?;
            // Who confirmed it and when stay: the reopened selection is the record of a
            // decision that was made and then taken back.
            tx.execute(
                "UPDATE selections SET status = 'reopened', version = version + 1 WHERE id = ?1",
                [id],
            )
            .map_err(db_err)?;
            let out = load(tx, id)?;
            record_history(
                tx,
                Entity::Selection,
                id,
                out.version,
                at,
                by,
                "reopen",
                &out,
            )?;
            Ok(out)
        })
        .await
    }
}
