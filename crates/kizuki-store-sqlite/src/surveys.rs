//! Surveys in SQLite, one per fiscal year.

use crate::*;
use kizuki_store::prelude::*;

pub(crate) fn load_survey(c: &Connection, fy: i32) -> StoreResult<Survey> {
    c.query_row(
        "SELECT version, content FROM surveys WHERE fiscal_year = ?1",
        [fy],
        |r| {
            Ok(Survey {
                version: r.get(0)?,
                content: from_json(&r.get::<_, String>(1)?)?,
            })
        },
    )
    .optional()
    .map_err(db_err)?
    .ok_or_else(|| StoreError::not_found("survey", fy))
}

#[async_trait]
impl SurveyStore for SqliteStore {
    async fn create_survey(&self, content: SurveyContent) -> StoreResult<Survey> {
        let now = self.now();
        self.write(move |tx| {
            let fy = content.fiscal_year.year();
            tx.execute(
                "INSERT INTO surveys (fiscal_year, version, content) VALUES (?1, 1, ?2)",
                params![fy, to_json(&content).map_err(db_err)?],
            )
            .map_err(|e| match db_err(e) {
                StoreError::Duplicate { .. } => StoreError::Duplicate {
                    what: format!("survey {fy}"),
                },
                other => other,
            })?;
            record_change(tx, Entity::Survey, fy.into(), now)?;
            load_survey(tx, fy)
        })
        .await
    }

    async fn get_survey(&self, fiscal_year: i32) -> StoreResult<Survey> {
        self.read_store(move |c| load_survey(c, fiscal_year)).await
    }

    async fn update_survey(
        &self,
        expected_version: i64,
        content: SurveyContent,
    ) -> StoreResult<Survey> {
        let now = self.now();
        self.write(move |tx| {
            let fy = content.fiscal_year.year();
            if !expect_version(tx, "surveys", "fiscal_year", fy.into(), expected_version)? {
                return Err(StoreError::Conflict {
                    entity: "survey",
                    current: Current::Survey(Box::new(load_survey(tx, fy)?)),
                });
            }
            tx.execute(
                "UPDATE surveys SET content = ?2, version = version + 1 WHERE fiscal_year = ?1",
                params![fy, to_json(&content).map_err(db_err)?],
            )
            .map_err(db_err)?;
            record_change(tx, Entity::Survey, fy.into(), now)?;
            load_survey(tx, fy)
        })
        .await
    }

    async fn list_surveys(&self) -> StoreResult<Vec<Survey>> {
        self.read(|c| {
            let mut st = c.prepare("SELECT version, content FROM surveys ORDER BY fiscal_year")?;
            st.query_map([], |r| {
                Ok(Survey {
                    version: r.get(0)?,
                    content: from_json(&r.get::<_, String>(1)?)?,
                })
            })?
            .collect()
        })
        .await
    }
}
