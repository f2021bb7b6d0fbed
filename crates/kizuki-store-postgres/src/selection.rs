//! Case selection in PostgreSQL: score overrides, saved selections and their
//! members, and confirmation, which creates the survey's case drafts in the same transaction
//! with the selection row locked, so two nodes cannot confirm twice.

use crate::cached::Cached as _;
use async_trait::async_trait;
use kizuki_store::prelude::*;

use super::{PgStore, Revision, pg_err, record_change, record_history};
use crate::rows::{json, load_case};
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use kizuki_domain::ids::{CaseId, ReportId, UserId};
use kizuki_store::{
    Entity, ScoreOverrideRecord, SelectionMember, SelectionStatus, StoreError, StoreResult,
    StoredSelection,
};
use tokio_postgres::Row;

const OVERRIDE_COLS: &str = "survey_year, report_id, key, value, reason, by_user, at";

fn override_row(r: &Row) -> ScoreOverrideRecord {
    ScoreOverrideRecord {
        survey_year: r.get(0),
        report_id: ReportId(r.get(1)),
        key: r.get(2),
        value: u8::try_from(r.get::<_, i16>(3)).unwrap_or(0),
        reason: r.get(4),
        by: r.get::<_, Option<i64>>(5).map(UserId),
        at: r.get(6),
    }
}

const SELECTION_COLS: &str = "id, survey_year, version, status, snapshot, created_by, created_at,
                              confirmed_by, confirmed_at";

fn selection_row(r: &Row) -> StoreResult<StoredSelection> {
    let status: String = r.get(3);
    Ok(StoredSelection {
        id: r.get(0),
        survey_year: r.get(1),
        version: r.get(2),
        status: SelectionStatus::parse(&status).ok_or_else(|| {
            StoreError::Invalid(format!("unexpected value {status:?} in selections.status"))
        })?,
        snapshot: r.get(4),
        members: Vec::new(),
        created_by: r.get::<_, Option<i64>>(5).map(UserId),
        created_at: r.get(6),
        confirmed_by: r.get::<_, Option<i64>>(7).map(UserId),
        confirmed_at: r.get(8),
    })
}

async fn members<C: GenericClient + Sync>(c: &C, id: i64) -> StoreResult<Vec<SelectionMember>> {
    Ok(c.cached_query(
        "SELECT report_id, chosen, rank, category, case_id FROM selection_members
             WHERE selection_id = $1 ORDER BY rank, report_id",
        &[&id],
    )
    .await
    .map_err(pg_err)?
    .iter()
    .map(|r| SelectionMember {
        report_id: ReportId(r.get(0)),
        chosen: r.get(1),
        rank: u32::try_from(r.get::<_, i32>(2)).unwrap_or(0),
        category: r.get(3),
        case_id: r.get::<_, Option<i64>>(4).map(CaseId),
    })
    .collect())
}

async fn load<C: GenericClient + Sync>(c: &C, id: i64, lock: bool) -> StoreResult<StoredSelection> {
    let sql = format!(
        "SELECT {SELECTION_COLS} FROM selections WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    let row = c
        .query_opt(&sql, &[&id])
        .await
        .map_err(pg_err)?
        .ok_or_else(|| StoreError::not_found("selection", id))?;
    let mut s = selection_row(&row)?;
    s.members = members(c, id).await?;
    Ok(s)
}

async fn survey_exists<C: GenericClient + Sync>(c: &C, fy: i32) -> StoreResult<()> {
    c.cached_query_opt("SELECT 1 FROM surveys WHERE fiscal_year = $1", &[&fy])
        .await
        .map_err(pg_err)?
        .map(|_| ())
        .ok_or_else(|| StoreError::not_found("survey", fy))
}

fn rank_i32(rank: u32) -> i32 {
    i32::try_from(rank).unwrap_or(i32::MAX)
}

#[async_trait]
impl SelectionStore for PgStore {
    async fn put_score_override(
        &self,
        o: kizuki_store::ScoreOverrideRecord,
    ) -> StoreResult<kizuki_store::ScoreOverrideRecord> {
        let c = self.client().await?;
        survey_exists(&c, o.survey_year).await?;
        c.cached_query_opt("SELECT 1 FROM reports WHERE id = $1", &[&o.report_id.0])
            .await
            .map_err(pg_err)?
            .ok_or_else(|| StoreError::not_found("report", o.report_id))?;
        let row = c
            .cached_query_one(
                &format!(
                    "INSERT INTO selection_overrides ({OVERRIDE_COLS})
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (survey_year, report_id, key) DO UPDATE SET
                       value = EXCLUDED.value, reason = EXCLUDED.reason,
                       by_user = EXCLUDED.by_user, at = EXCLUDED.at
                     RETURNING {OVERRIDE_COLS}"
                ),
                &[
                    &o.survey_year,
                    &o.report_id.0,
                    &o.key,
                    &i16::from(o.value),
                    &o.reason,
                    &o.by.map(|u| u.0),
                    &o.at,
                ],
            )
            .await
            .map_err(pg_err)?;
        Ok(override_row(&row))
    }

    async fn delete_score_override(
        &self,
        survey_year: i32,
        report_id: ReportId,
        key: &str,
    ) -> StoreResult<()> {
        let c = self.client().await?;
        c.cached_execute(
            "DELETE FROM selection_overrides
             WHERE survey_year = $1 AND report_id = $2 AND key = $3",
            &[&survey_year, &report_id.0, &key],
        )
        .await
        .map_err(pg_err)?;
        Ok(())
    }

    async fn list_score_overrides(
        &self,
        survey_year: i32,
    ) -> StoreResult<Vec<kizuki_store::ScoreOverrideRecord>> {
        let c = self.client().await?;
        Ok(c.cached_query(
            &format!(
                "SELECT {OVERRIDE_COLS} FROM selection_overrides WHERE survey_year = $1
                     ORDER BY report_id, key"
            ),
            &[&survey_year],
        )
        .await
        .map_err(pg_err)?
        .iter()
        .map(override_row)
        .collect())
    }

    async fn save_selection(
        &self,
        s: kizuki_store::NewSelection,
    ) -> StoreResult<kizuki_store::StoredSelection> {
        in_tx!(self, |tx| {
            survey_exists(&tx, s.survey_year).await?;
            let row = tx
                .cached_query_one(
                    "INSERT INTO selections (survey_year, version, status, snapshot, created_by,
                                             created_at)
                     VALUES ($1, 1, 'draft', $2, $3, $4) RETURNING id",
                    &[&s.survey_year, &s.snapshot, &s.by.map(|u| u.0), &s.at],
                )
                .await
                .map_err(pg_err)?;
            let id: i64 = row.get(0);
            for m in &s.members {
                tx.cached_execute(
                    "INSERT INTO selection_members
                       (selection_id, report_id, chosen, rank, category, case_id)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    &[
                        &id,
                        &m.report_id.0,
                        &m.chosen,
                        &rank_i32(m.rank),
                        &m.category,
                        &m.case_id.map(|c| c.0),
                    ],
                )
                .await
                .map_err(pg_err)?;
            }
            let out = load(&tx, id, false).await?;
            record_history(
                &tx,
                Revision {
                    entity: Entity::Selection,
                    id,
                    version: 1,
                    at: s.at,
                    by: s.by,
                    action: "create",
                    snapshot: &out,
                },
            )
            .await?;
            Ok(out)
        })
    }

    async fn list_selections(
        &self,
        survey_year: i32,
    ) -> StoreResult<Vec<kizuki_store::StoredSelection>> {
        let c = self.client().await?;
        let rows = c
            .cached_query(
                &format!(
                    "SELECT {SELECTION_COLS} FROM selections WHERE survey_year = $1
                     ORDER BY id DESC"
                ),
                &[&survey_year],
            )
            .await
            .map_err(pg_err)?;
        let mut out = Vec::new();
        for r in &rows {
            let mut s = selection_row(r)?;
            s.members = members(&c, s.id).await?;
            out.push(s);
        }
        Ok(out)
    }

    async fn get_selection(&self, id: i64) -> StoreResult<kizuki_store::StoredSelection> {
        let c = self.client().await?;
        load(&c, id, false).await
    }

    async fn confirmed_selection(
        &self,
        survey_year: i32,
    ) -> StoreResult<Option<kizuki_store::StoredSelection>> {
        let c = self.client().await?;
        let row = c
            .cached_query_opt(
                "SELECT id FROM selections WHERE survey_year = $1 AND status = 'confirmed'",
                &[&survey_year],
            )
            .await
            .map_err(pg_err)?;
        match row {
            Some(r) => Ok(Some(load(&c, r.get(0), false).await?)),
            None => Ok(None),
        }
    }

    async fn confirm_selection(
        &self,
        id: i64,
        expected_version: i64,
        by: Option<UserId>,
        at: DateTime<Utc>,
        drafts: Vec<kizuki_store::CaseDraft>,
    ) -> StoreResult<kizuki_store::StoredSelection> {
        in_tx!(self, |tx| {
            let cur = load(&tx, id, true)
                .await?
                .checked(expected_version, SelectionStatus::Draft)?;
            let fy = cur.survey_year;
            if let Some(other) = tx
                .cached_query_opt(
                    "SELECT id FROM selections WHERE survey_year = $1 AND status = 'confirmed'",
                    &[&fy],
                )
                .await
                .map_err(pg_err)?
            {
                return Err(StoreError::Invalid(format!(
                    "survey {fy} already has a confirmed selection ({})",
                    other.get::<_, i64>(0)
                )));
            }
            for d in &drafts {
                if !cur
                    .members
                    .iter()
                    .any(|m| m.chosen && m.report_id == d.report_id)
                {
                    return Err(StoreError::Invalid(format!(
                        "report {} is not chosen in selection {id}",
                        d.report_id
                    )));
                }
                let number = i32::try_from(d.content.number)
                    .map_err(|_| StoreError::Invalid("case number too large".into()))?;
                let row = tx
                    .cached_query_one(
                        "INSERT INTO cases (survey_year, number, report_id, version, content)
                         VALUES ($1, $2, $3, 1, $4) RETURNING id",
                        &[&fy, &number, &d.report_id.0, &json(&d.content)?],
                    )
                    .await
                    .map_err(|e| match pg_err(e) {
                        StoreError::Duplicate { .. } => StoreError::Duplicate {
                            what: format!("case {} of survey {fy}", d.content.number),
                        },
                        other => other,
                    })?;
                let case_id = CaseId(row.get(0));
                let c = load_case(&tx, case_id).await?;
                record_history(
                    &tx,
                    Revision {
                        entity: Entity::Case,
                        id: case_id.0,
                        version: 1,
                        at,
                        by,
                        action: "create",
                        snapshot: &c,
                    },
                )
                .await?;
                record_change(&tx, Entity::Report, d.report_id.0, at).await?;
            }
            // Every chosen member gets the survey's case for its report: the draft just made,
            // or the one it already had.
            tx.cached_execute(
                "UPDATE selection_members SET case_id = (
                     SELECT id FROM cases WHERE cases.survey_year = $2
                       AND cases.report_id = selection_members.report_id
                     ORDER BY id LIMIT 1)
                 WHERE selection_id = $1 AND chosen",
                &[&id, &fy],
            )
            .await
            .map_err(pg_err)?;
            tx.cached_execute(
                "UPDATE selections SET status = 'confirmed', version = version + 1,
                                       confirmed_by = $2, confirmed_at = $3
                 WHERE id = $1",
                &[&id, &by.map(|u| u.0), &at],
            )
            .await
            .map_err(pg_err)?;
            let out = load(&tx, id, false).await?;
            record_history(
                &tx,
                Revision {
                    entity: Entity::Selection,
                    id,
                    version: out.version,
                    at,
                    by,
                    action: "confirm",
                    snapshot: &out,
                },
            )
            .await?;
            Ok(out)
        })
    }

    async fn reopen_selection(
        &self,
        id: i64,
        expected_version: i64,
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<kizuki_store::StoredSelection> {
        in_tx!(self, |tx| {
            // Locked, so a reopen and a confirm of the survey on two nodes take turns.
            load(&tx, id, true)
                .await?
                .checked(expected_version, SelectionStatus::Confirmed)?;
            // Who confirmed it and when stay: the reopened selection is the record of a
            // decision that was made and then taken back.
            tx.cached_execute(
                "UPDATE selections SET status = 'reopened', version = version + 1 WHERE id = $1",
                &[&id],
            )
            .await
            .map_err(pg_err)?;
            let out = load(&tx, id, false).await?;
            record_history(
                &tx,
                Revision {
                    entity: Entity::Selection,
                    id,
                    version: out.version,
                    at,
                    by,
                    action: "reopen",
                    snapshot: &out,
                },
            )
            .await?;
            Ok(out)
        })
    }
}
