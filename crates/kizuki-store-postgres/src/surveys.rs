//! Surveys in PostgreSQL, one per fiscal year.

use crate::*;
use kizuki_store::prelude::*;

#[async_trait]
impl SurveyStore for PgStore {
    async fn create_survey(&self, content: SurveyContent) -> StoreResult<Survey> {
        let now = self.now();
        in_tx!(self, |tx| {
            let fy = content.fiscal_year.year();
            tx.cached_execute(
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
            load_survey(&tx, fy).await
        })
    }

    async fn get_survey(&self, fiscal_year: i32) -> StoreResult<Survey> {
        load_survey(&self.client().await?, fiscal_year).await
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
                    current: Current::Survey(Box::new(load_survey(&tx, fy).await?)),
                });
            }
            tx.cached_execute(
                "UPDATE surveys SET content = $2, version = version + 1 WHERE fiscal_year = $1",
                &[&fy, &json(&content)?],
            )
            .await
            .map_err(pg_err)?;
            record_change(&tx, Entity::Survey, fy.into(), now).await?;
            load_survey(&tx, fy).await
        })
    }

    async fn list_surveys(&self) -> StoreResult<Vec<Survey>> {
        let c = self.client().await?;
        let rows = c
            .cached_query("SELECT fiscal_year FROM surveys ORDER BY fiscal_year", &[])
            .await
            .map_err(pg_err)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(load_survey(&c, r.get(0)).await?);
        }
        Ok(out)
    }
}
