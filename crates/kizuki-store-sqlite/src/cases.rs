//! Survey cases in SQLite, in the six-section form, with their history.

use crate::*;
use kizuki_store::prelude::*;

pub(crate) fn load_case(c: &Connection, id: CaseId) -> StoreResult<Case> {
    c.query_row(
        "SELECT id, survey_year, report_id, version, content FROM cases WHERE id = ?1",
        [id.0],
        case_row,
    )
    .optional()
    .map_err(db_err)?
    .ok_or_else(|| StoreError::not_found("case", id))
}

pub(crate) fn case_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Case> {
    Ok(Case {
        id: CaseId(r.get(0)?),
        survey_year: r.get(1)?,
        report_id: r.get::<_, Option<i64>>(2)?.map(ReportId),
        version: r.get(3)?,
        content: from_json::<CaseContent>(&r.get::<_, String>(4)?)?,
    })
}

#[async_trait]
impl CaseStore for SqliteStore {
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

    async fn drop_case(
        &self,
        id: CaseId,
        expected_version: i64,
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
            let cur = load_case(tx, id)?;
            if cur.survey_year.is_none() {
                return Err(StoreError::Invalid(format!("case {id} is in no survey")));
            }
            tx.execute(
                "UPDATE cases SET survey_year = NULL, version = version + 1 WHERE id = ?1",
                [id.0],
            )
            .map_err(db_err)?;
            let c = load_case(tx, id)?;
            record_history(tx, Entity::Case, id.0, c.version, at, by, "drop", &c)?;
            Ok(c)
        })
        .await
    }
}
