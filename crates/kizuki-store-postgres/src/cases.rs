//! Survey cases in PostgreSQL, in the six-section form, with their history.

use crate::*;
use kizuki_store::prelude::*;

#[async_trait]
impl CaseStore for PgStore {
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
                .cached_query_one(
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
            let c = load_case(&tx, id).await?;
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
        load_case(&self.client().await?, id).await
    }

    async fn case_by_number(&self, survey_year: i32, number: u32) -> StoreResult<Option<Case>> {
        let Ok(number) = i32::try_from(number) else {
            return Ok(None);
        };
        let c = self.client().await?;
        c.cached_query_opt(
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
                    current: Current::Case(Box::new(load_case(&tx, id).await?)),
                });
            }
            let number = i32::try_from(content.number)
                .map_err(|_| StoreError::Invalid("case number too large".into()))?;
            tx.cached_execute(
                "UPDATE cases SET number = $2, content = $3, version = version + 1 WHERE id = $1",
                &[&id.0, &number, &json(&content)?],
            )
            .await
            .map_err(pg_err)?;
            let c = load_case(&tx, id).await?;
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
        c.cached_query(
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
        history(&self.client().await?, Entity::Case, id.0).await
    }

    async fn drop_case(
        &self,
        id: CaseId,
        expected_version: i64,
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<Case> {
        in_tx!(self, |tx| {
            let v = lock_version(&tx, "cases", "id", &id.0, "case", id.to_string()).await?;
            let cur = load_case(&tx, id).await?;
            if v != expected_version {
                return Err(StoreError::Conflict {
                    entity: "case",
                    current: Current::Case(Box::new(cur)),
                });
            }
            if cur.survey_year.is_none() {
                return Err(StoreError::Invalid(format!("case {id} is in no survey")));
            }
            tx.cached_execute(
                "UPDATE cases SET survey_year = NULL, version = version + 1 WHERE id = $1",
                &[&id.0],
            )
            .await
            .map_err(pg_err)?;
            let c = load_case(&tx, id).await?;
            record_history(
                &tx,
                Revision {
                    entity: Entity::Case,
                    id: id.0,
                    version: c.version,
                    at,
                    by,
                    action: "drop",
                    snapshot: &c,
                },
            )
            .await?;
            Ok(c)
        })
    }
}
