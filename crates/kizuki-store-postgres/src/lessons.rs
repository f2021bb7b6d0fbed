//! PostgreSQL side of lesson themes and the tags that link lessons to them. A theme's row is
//! locked while it is saved, and a lesson's tags are changed under a transaction lock on the
//! lesson's key, so editors on different nodes take turns and the second sees the change.

use crate::cached::Cached as _;
use crate::rows::{from_json, json};
use crate::{PgStore, pg_err};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kizuki_domain::adoption::{Assessment, FollowUp, Standing};
use kizuki_domain::ids::{CaseId, FollowUpId, OrgId, UserId};
use kizuki_domain::lessons::{Theme, ThemeKey};
use kizuki_store::prelude::*;
use kizuki_store::{
    AssessmentRecord, LessonTag, NewFollowUp, StoreError, StoreResult, StoredFollowUp, StoredTheme,
};

const THEME_COLS: &str = "key, position, version, body, updated_at, updated_by";

fn stored_theme(r: &tokio_postgres::Row) -> StoreResult<StoredTheme> {
    let key: String = r.get(0);
    let body: String = r.get(3);
    let theme = kizuki_store::theme_of_key(&key, from_json("lesson_themes.body", &body)?)?;
    Ok(StoredTheme {
        theme,
        position: r.get(1),
        version: r.get(2),
        updated_at: r.get(4),
        updated_by: r.get::<_, Option<i64>>(5).map(UserId),
    })
}

async fn load_theme(
    c: &impl deadpool_postgres::GenericClient,
    key: &str,
    lock: bool,
) -> StoreResult<Option<StoredTheme>> {
    let sql = format!(
        "SELECT {THEME_COLS} FROM lesson_themes WHERE key = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    c.cached_query_opt(&sql, &[&key])
        .await
        .map_err(pg_err)?
        .map(|r| stored_theme(&r))
        .transpose()
}

async fn load_tags(
    c: &impl deadpool_postgres::GenericClient,
    lesson: Option<&str>,
) -> StoreResult<Vec<LessonTag>> {
    Ok(c.cached_query(
        "SELECT lesson, theme, at, by_user FROM lesson_tags
             WHERE $1::text IS NULL OR lesson = $1 ORDER BY lesson, theme",
        &[&lesson],
    )
    .await
    .map_err(pg_err)?
    .iter()
    .map(|r| LessonTag {
        lesson: r.get(0),
        theme: r.get(1),
        at: r.get(2),
        by: r.get::<_, Option<i64>>(3).map(UserId),
    })
    .collect())
}

const ASSESSMENT_COLS: &str = "id, org_id, theme, standing, note, at, by_user";

fn assessment(r: &tokio_postgres::Row) -> StoreResult<AssessmentRecord> {
    let bad = |what: &str, v: &str| StoreError::Invalid(format!("self_assessments.{what}: {v:?}"));
    let theme: String = r.get(2);
    let standing: String = r.get(3);
    Ok(AssessmentRecord {
        id: r.get(0),
        org: OrgId(r.get(1)),
        assessment: Assessment {
            theme: ThemeKey::parse(&theme).map_err(|_| bad("theme", &theme))?,
            standing: Standing::parse(&standing).ok_or_else(|| bad("standing", &standing))?,
            note: r.get(4),
        },
        at: r.get(5),
        by: r.get::<_, Option<i64>>(6).map(UserId),
    })
}

async fn load_assessments(
    c: &impl deadpool_postgres::GenericClient,
    sql_where: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> StoreResult<Vec<AssessmentRecord>> {
    c.cached_query(
        &format!("SELECT {ASSESSMENT_COLS} FROM self_assessments s WHERE {sql_where}"),
        params,
    )
    .await
    .map_err(pg_err)?
    .iter()
    .map(assessment)
    .collect()
}

const FOLLOWUP_COLS: &str = "id, org_id, case_id, measure, version, body, created_at, created_by,
                             updated_at, updated_by";

fn followup(r: &tokio_postgres::Row) -> StoreResult<StoredFollowUp> {
    let measure: i32 = r.get(3);
    let body: String = r.get(5);
    Ok(StoredFollowUp {
        id: FollowUpId(r.get(0)),
        org: OrgId(r.get(1)),
        case: CaseId(r.get(2)),
        measure: u32::try_from(measure)
            .map_err(|_| StoreError::Invalid(format!("followups.measure: {measure}")))?,
        version: r.get(4),
        item: from_json("followups.body", &body)?,
        created_at: r.get(6),
        created_by: r.get::<_, Option<i64>>(7).map(UserId),
        updated_at: r.get(8),
        updated_by: r.get::<_, Option<i64>>(9).map(UserId),
    })
}

async fn load_followups(
    c: &impl deadpool_postgres::GenericClient,
    sql_where: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> StoreResult<Vec<StoredFollowUp>> {
    c.cached_query(
        &format!(
            "SELECT {FOLLOWUP_COLS} FROM followups WHERE {sql_where}
             ORDER BY case_id, measure, org_id"
        ),
        params,
    )
    .await
    .map_err(pg_err)?
    .iter()
    .map(followup)
    .collect()
}

async fn one_followup(
    c: &impl deadpool_postgres::GenericClient,
    id: FollowUpId,
    lock: bool,
) -> StoreResult<StoredFollowUp> {
    let sql = format!(
        "SELECT {FOLLOWUP_COLS} FROM followups WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    c.cached_query_opt(&sql, &[&id.0])
        .await
        .map_err(pg_err)?
        .map(|r| followup(&r))
        .transpose()?
        .ok_or_else(|| StoreError::not_found("follow-up", id))
}

#[async_trait]
impl LessonStore for PgStore {
    async fn list_themes(&self) -> StoreResult<Vec<StoredTheme>> {
        self.client()
            .await?
            .cached_query(
                &format!("SELECT {THEME_COLS} FROM lesson_themes ORDER BY position, key"),
                &[],
            )
            .await
            .map_err(pg_err)?
            .iter()
            .map(stored_theme)
            .collect()
    }

    async fn save_theme(
        &self,
        theme: &Theme,
        expected_version: i64,
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<StoredTheme> {
        let body = json(theme)?;
        let key = theme.key.as_str();
        let by = by.map(|u| u.0);
        in_tx!(self, |tx| {
            let stored = load_theme(&tx, key, true).await?.map(|t| t.version);
            match kizuki_store::theme_write(key, stored, expected_version)? {
                kizuki_store::ThemeWrite::Insert => {
                    tx.cached_execute(
                        "INSERT INTO lesson_themes (key, position, version, body, updated_at,
                           updated_by)
                         VALUES ($1, (SELECT COALESCE(MAX(position), 0) + 1 FROM lesson_themes),
                           1, $2, $3, $4)",
                        &[&key, &body, &at, &by],
                    )
                    .await
                    .map_err(|e| match pg_err(e) {
                        StoreError::Duplicate { .. } => StoreError::Duplicate {
                            what: format!("theme {key}"),
                        },
                        other => other,
                    })?;
                }
                kizuki_store::ThemeWrite::Update(version) => {
                    tx.cached_execute(
                        "UPDATE lesson_themes SET version = $2, body = $3, updated_at = $4,
                           updated_by = $5 WHERE key = $1",
                        &[&key, &version, &body, &at, &by],
                    )
                    .await
                    .map_err(pg_err)?;
                }
            }
            load_theme(&tx, key, false)
                .await?
                .ok_or_else(|| StoreError::not_found("theme", key))
        })
    }

    async fn lesson_tags(&self, lesson: Option<&str>) -> StoreResult<Vec<LessonTag>> {
        load_tags(&self.client().await?, lesson).await
    }

    async fn set_lesson_themes(
        &self,
        lesson: &str,
        expected: &[String],
        themes: &[String],
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<LessonTag>> {
        let by = by.map(|u| u.0);
        in_tx!(self, |tx| {
            tx.cached_execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&lesson])
                .await
                .map_err(pg_err)?;
            let now: Vec<String> = load_tags(&tx, Some(lesson))
                .await?
                .into_iter()
                .map(|t| t.theme)
                .collect();
            let (gone, added) = kizuki_store::tag_changes(&now, expected, themes)?;
            for theme in &gone {
                tx.cached_execute(
                    "DELETE FROM lesson_tags WHERE lesson = $1 AND theme = $2",
                    &[&lesson, theme],
                )
                .await
                .map_err(pg_err)?;
            }
            for theme in &added {
                if load_theme(&tx, theme, false).await?.is_none() {
                    return Err(StoreError::not_found("theme", theme));
                }
                tx.cached_execute(
                    "INSERT INTO lesson_tags (lesson, theme, at, by_user) VALUES ($1, $2, $3, $4)",
                    &[&lesson, theme, &at, &by],
                )
                .await
                .map_err(pg_err)?;
            }
            load_tags(&tx, Some(lesson)).await
        })
    }

    async fn record_assessment(
        &self,
        org: OrgId,
        answer: &Assessment,
        expected: i64,
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<AssessmentRecord> {
        let theme = answer.theme.as_str();
        let by = by.map(|u| u.0);
        in_tx!(self, |tx| {
            // Answers of one organisation on one theme take turns, so the second of two
            // answers from the same starting point sees the first and is refused.
            tx.cached_execute(
                "SELECT pg_advisory_xact_lock(hashtext('assessment:' || $1::text || ':' || $2))",
                &[&org.0.to_string(), &theme],
            )
            .await
            .map_err(pg_err)?;
            if load_theme(&tx, theme, false).await?.is_none() {
                return Err(StoreError::not_found("theme", theme));
            }
            let latest: Option<i64> = tx
                .cached_query_one(
                    "SELECT MAX(id) FROM self_assessments WHERE org_id = $1 AND theme = $2",
                    &[&org.0, &theme],
                )
                .await
                .map_err(pg_err)?
                .get(0);
            kizuki_store::assessment_conflict(latest, expected)?;
            let id: i64 = tx
                .cached_query_one(
                    "INSERT INTO self_assessments (org_id, theme, standing, note, at, by_user)
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                    &[
                        &org.0,
                        &theme,
                        &answer.standing.code(),
                        &answer.note,
                        &at,
                        &by,
                    ],
                )
                .await
                .map_err(pg_err)?
                .get(0);
            load_assessments(&tx, "id = $1", &[&id])
                .await?
                .pop()
                .ok_or_else(|| StoreError::not_found("self-assessment", id))
        })
    }

    async fn current_assessments(&self, org: Option<OrgId>) -> StoreResult<Vec<AssessmentRecord>> {
        load_assessments(
            &self.client().await?,
            "($1::bigint IS NULL OR org_id = $1) AND id = (SELECT MAX(id) FROM self_assessments l
             WHERE l.org_id = s.org_id AND l.theme = s.theme) ORDER BY org_id, theme COLLATE \"C\"",
            &[&org.map(|o| o.0)],
        )
        .await
    }

    async fn assessment_history(
        &self,
        org: OrgId,
        theme: &str,
    ) -> StoreResult<Vec<AssessmentRecord>> {
        load_assessments(
            &self.client().await?,
            "org_id = $1 AND theme = $2 ORDER BY id DESC",
            &[&org.0, &theme],
        )
        .await
    }

    async fn create_followup(&self, new: &NewFollowUp) -> StoreResult<StoredFollowUp> {
        let body = json(&new.item)?;
        let measure = i32::try_from(new.measure)
            .map_err(|_| StoreError::Invalid(format!("measure {}", new.measure)))?;
        let c = self.client().await?;
        let id: i64 = c
            .cached_query_one(
                "INSERT INTO followups (org_id, case_id, measure, version, body, created_at,
                   created_by, updated_at, updated_by)
                 VALUES ($1, $2, $3, 1, $4, $5, $6, $5, $6) RETURNING id",
                &[&new.org.0, &new.case.0, &measure, &body, &new.at, &new.by.0],
            )
            .await
            .map_err(pg_err)?
            .get(0);
        one_followup(&c, FollowUpId(id), false).await
    }

    async fn get_followup(&self, id: FollowUpId) -> StoreResult<StoredFollowUp> {
        one_followup(&self.client().await?, id, false).await
    }

    async fn update_followup(
        &self,
        id: FollowUpId,
        expected_version: i64,
        item: &FollowUp,
        by: UserId,
        at: DateTime<Utc>,
    ) -> StoreResult<StoredFollowUp> {
        let body = json(item)?;
        in_tx!(self, |tx| {
            let now = one_followup(&tx, id, true).await?;
            if now.version != expected_version {
                return Err(StoreError::Conflict {
                    entity: "follow-up",
                    current: kizuki_store::Current::Version(now.version),
                });
            }
            tx.cached_execute(
                "UPDATE followups SET version = version + 1, body = $2, updated_at = $3,
                   updated_by = $4 WHERE id = $1",
                &[&id.0, &body, &at, &by.0],
            )
            .await
            .map_err(pg_err)?;
            one_followup(&tx, id, false).await
        })
    }

    async fn list_followups(
        &self,
        org: Option<OrgId>,
        case: Option<CaseId>,
    ) -> StoreResult<Vec<StoredFollowUp>> {
        load_followups(
            &self.client().await?,
            "($1::bigint IS NULL OR org_id = $1) AND ($2::bigint IS NULL OR case_id = $2)",
            &[&org.map(|o| o.0), &case.map(|c| c.0)],
        )
        .await
    }
}
