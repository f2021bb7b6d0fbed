//! SQLite side of lesson themes and the tags that link lessons to them.

use crate::*;
use kizuki_domain::adoption::{Assessment, FollowUp, Standing};
use kizuki_domain::ids::{CaseId, FollowUpId, OrgId};
use kizuki_domain::lessons::{Theme, ThemeKey};
use kizuki_store::{AssessmentRecord, LessonTag, NewFollowUp, StoredFollowUp, StoredTheme};

fn theme_row(
    r: &rusqlite::Row<'_>,
) -> rusqlite::Result<(String, i32, i64, String, String, Option<i64>)> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn stored_theme(
    (key, position, version, body, at, by): (String, i32, i64, String, String, Option<i64>),
) -> StoreResult<StoredTheme> {
    let theme = kizuki_store::theme_of_key(&key, from_json(&body).map_err(db_err)?)?;
    Ok(StoredTheme {
        theme,
        position,
        version,
        updated_at: time_from(&at).map_err(db_err)?,
        updated_by: by.map(UserId),
    })
}

const THEME_COLS: &str = "key, position, version, body, updated_at, updated_by";

fn load_theme(c: &Connection, key: &str) -> StoreResult<Option<StoredTheme>> {
    c.prepare_cached(&format!(
        "SELECT {THEME_COLS} FROM lesson_themes WHERE key = ?1"
    ))
    .and_then(|mut st| st.query_row([key], theme_row).optional())
    .map_err(db_err)?
    .map(stored_theme)
    .transpose()
}

fn load_tags(c: &Connection, lesson: Option<&str>) -> StoreResult<Vec<LessonTag>> {
    let mut st = c
        .prepare_cached(
            "SELECT lesson, theme, at, by_user FROM lesson_tags
             WHERE ?1 IS NULL OR lesson = ?1 ORDER BY lesson, theme",
        )
        .map_err(db_err)?;
    let rows = st
        .query_map([lesson], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<i64>>(3)?,
            ))
        })
        .map_err(db_err)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db_err)?;
    rows.into_iter()
        .map(|(lesson, theme, at, by)| {
            Ok(LessonTag {
                lesson,
                theme,
                at: time_from(&at).map_err(db_err)?,
                by: by.map(UserId),
            })
        })
        .collect()
}

const ASSESSMENT_COLS: &str = "id, org_id, theme, standing, note, at, by_user";

type AssessmentRow = (i64, i64, String, String, String, String, Option<i64>);

fn assessment_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AssessmentRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
    ))
}

fn assessment(
    (id, org, theme, standing, note, at, by): AssessmentRow,
) -> StoreResult<AssessmentRecord> {
    let bad = |what: &str, v: &str| StoreError::Invalid(format!("self_assessments.{what}: {v:?}"));
    Ok(AssessmentRecord {
        id,
        org: OrgId(org),
        assessment: Assessment {
            theme: ThemeKey::parse(&theme).map_err(|_| bad("theme", &theme))?,
            standing: Standing::parse(&standing).ok_or_else(|| bad("standing", &standing))?,
            note,
        },
        at: time_from(&at).map_err(db_err)?,
        by: by.map(UserId),
    })
}

fn load_assessments(
    c: &Connection,
    sql_where: &str,
    params: impl rusqlite::Params,
) -> StoreResult<Vec<AssessmentRecord>> {
    let rows = c
        .prepare_cached(&format!(
            "SELECT {ASSESSMENT_COLS} FROM self_assessments s WHERE {sql_where}"
        ))
        .and_then(|mut st| {
            st.query_map(params, assessment_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(db_err)?;
    rows.into_iter().map(assessment).collect()
}

const FOLLOWUP_COLS: &str = "id, org_id, case_id, measure, version, body, created_at, created_by, \
                             updated_at, updated_by";

type FollowUpRow = (
    i64,
    i64,
    i64,
    u32,
    i64,
    String,
    String,
    Option<i64>,
    String,
    Option<i64>,
);

fn followup_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<FollowUpRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
    ))
}

fn followup(
    (id, org, case, measure, version, body, created_at, created_by, updated_at, updated_by): FollowUpRow,
) -> StoreResult<StoredFollowUp> {
    Ok(StoredFollowUp {
        id: FollowUpId(id),
        org: OrgId(org),
        case: CaseId(case),
        measure,
        version,
        item: from_json::<FollowUp>(&body).map_err(db_err)?,
        created_at: time_from(&created_at).map_err(db_err)?,
        created_by: created_by.map(UserId),
        updated_at: time_from(&updated_at).map_err(db_err)?,
        updated_by: updated_by.map(UserId),
    })
}

fn load_followups(
    c: &Connection,
    sql_where: &str,
    params: impl rusqlite::Params,
) -> StoreResult<Vec<StoredFollowUp>> {
    let rows = c
        .prepare_cached(&format!(
            "SELECT {FOLLOWUP_COLS} FROM followups WHERE {sql_where} \
             ORDER BY case_id, measure, org_id"
        ))
        .and_then(|mut st| {
            st.query_map(params, followup_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(db_err)?;
    rows.into_iter().map(followup).collect()
}

fn one_followup(c: &Connection, id: FollowUpId) -> StoreResult<StoredFollowUp> {
    load_followups(c, "id = ?1", [id.0])?
        .pop()
        .ok_or_else(|| StoreError::not_found("follow-up", id))
}

#[async_trait]
impl LessonStore for SqliteStore {
    async fn list_themes(&self) -> StoreResult<Vec<StoredTheme>> {
        self.read_store(|c| {
            let rows = c
                .prepare_cached(&format!(
                    "SELECT {THEME_COLS} FROM lesson_themes ORDER BY position, key"
                ))
                .and_then(|mut st| {
                    st.query_map([], theme_row)?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(db_err)?;
            rows.into_iter().map(stored_theme).collect()
        })
        .await
    }

    async fn save_theme(
        &self,
        theme: &Theme,
        expected_version: i64,
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<StoredTheme> {
        let body = to_json(theme).map_err(db_err)?;
        let key = theme.key.as_str().to_owned();
        self.write(move |tx| {
            let stored = load_theme(tx, &key)?.map(|t| t.version);
            match kizuki_store::theme_write(&key, stored, expected_version)? {
                kizuki_store::ThemeWrite::Insert => {
                    tx.execute(
                        "INSERT INTO lesson_themes (key, position, version, body, updated_at,
                           updated_by)
                         VALUES (?1, (SELECT COALESCE(MAX(position), 0) + 1 FROM lesson_themes),
                           1, ?2, ?3, ?4)",
                        params![key, body, time_to(at), by.map(|u| u.0)],
                    )
                    .map_err(db_err)?;
                }
                kizuki_store::ThemeWrite::Update(version) => {
                    tx.execute(
                        "UPDATE lesson_themes SET version = ?2, body = ?3, updated_at = ?4,
                           updated_by = ?5 WHERE key = ?1",
                        params![key, version, body, time_to(at), by.map(|u| u.0)],
                    )
                    .map_err(db_err)?;
                }
            }
            load_theme(tx, &key)?.ok_or_else(|| StoreError::not_found("theme", &key))
        })
        .await
    }

    async fn lesson_tags(&self, lesson: Option<&str>) -> StoreResult<Vec<LessonTag>> {
        let lesson = lesson.map(str::to_owned);
        self.read_store(move |c| load_tags(c, lesson.as_deref()))
            .await
    }

    async fn set_lesson_themes(
        &self,
        lesson: &str,
        expected: &[String],
        themes: &[String],
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<LessonTag>> {
        let lesson = lesson.to_owned();
        let (expected, wanted) = (expected.to_vec(), themes.to_vec());
        self.write(move |tx| {
            let now: Vec<String> = load_tags(tx, Some(&lesson))?
                .into_iter()
                .map(|t| t.theme)
                .collect();
            let (gone, added) = kizuki_store::tag_changes(&now, &expected, &wanted)?;
            for theme in &gone {
                tx.execute(
                    "DELETE FROM lesson_tags WHERE lesson = ?1 AND theme = ?2",
                    params![lesson, theme],
                )
                .map_err(db_err)?;
            }
            for theme in &added {
                if load_theme(tx, theme)?.is_none() {
                    return Err(StoreError::not_found("theme", theme));
                }
                tx.execute(
                    "INSERT INTO lesson_tags (lesson, theme, at, by_user) VALUES (?1, ?2, ?3, ?4)",
                    params![lesson, theme, time_to(at), by.map(|u| u.0)],
                )
                .map_err(db_err)?;
            }
            load_tags(tx, Some(&lesson))
        })
        .await
    }

    async fn record_assessment(
        &self,
        org: OrgId,
        answer: &Assessment,
        expected: i64,
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<AssessmentRecord> {
        let answer = answer.clone();
        self.write(move |tx| {
            let theme = answer.theme.as_str();
            if load_theme(tx, theme)?.is_none() {
                return Err(StoreError::not_found("theme", theme));
            }
            let latest: Option<i64> = tx
                .query_row(
                    "SELECT MAX(id) FROM self_assessments WHERE org_id = ?1 AND theme = ?2",
                    params![org.0, theme],
                    |r| r.get(0),
                )
                .map_err(db_err)?;
            kizuki_store::assessment_conflict(latest, expected)?;
            tx.execute(
                "INSERT INTO self_assessments (org_id, theme, standing, note, at, by_user)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    org.0,
                    theme,
                    answer.standing.code(),
                    answer.note,
                    time_to(at),
                    by.map(|u| u.0)
                ],
            )
            .map_err(db_err)?;
            let id = tx.last_insert_rowid();
            load_assessments(tx, "id = ?1", [id])?
                .pop()
                .ok_or_else(|| StoreError::not_found("self-assessment", id))
        })
        .await
    }

    async fn current_assessments(&self, org: Option<OrgId>) -> StoreResult<Vec<AssessmentRecord>> {
        self.read_store(move |c| {
            load_assessments(
                c,
                "(?1 IS NULL OR org_id = ?1) AND id = (SELECT MAX(id) FROM self_assessments l \
                 WHERE l.org_id = s.org_id AND l.theme = s.theme) ORDER BY org_id, theme",
                [org.map(|o| o.0)],
            )
        })
        .await
    }

    async fn assessment_history(
        &self,
        org: OrgId,
        theme: &str,
    ) -> StoreResult<Vec<AssessmentRecord>> {
        let theme = theme.to_owned();
        self.read_store(move |c| {
            load_assessments(
                c,
                "org_id = ?1 AND theme = ?2 ORDER BY id DESC",
                params![org.0, theme],
            )
        })
        .await
    }

    async fn create_followup(&self, new: &NewFollowUp) -> StoreResult<StoredFollowUp> {
        let new = new.clone();
        let body = to_json(&new.item).map_err(db_err)?;
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO followups (org_id, case_id, measure, version, body, created_at,
                   created_by, updated_at, updated_by)
                 VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?5, ?6)",
                params![
                    new.org.0,
                    new.case.0,
                    new.measure,
                    body,
                    time_to(new.at),
                    new.by.0
                ],
            )
            .map_err(db_err)?;
            one_followup(tx, FollowUpId(tx.last_insert_rowid()))
        })
        .await
    }

    async fn get_followup(&self, id: FollowUpId) -> StoreResult<StoredFollowUp> {
        self.read_store(move |c| one_followup(c, id)).await
    }

    async fn update_followup(
        &self,
        id: FollowUpId,
        expected_version: i64,
        item: &FollowUp,
        by: UserId,
        at: DateTime<Utc>,
    ) -> StoreResult<StoredFollowUp> {
        let body = to_json(item).map_err(db_err)?;
        self.write(move |tx| {
            let now = one_followup(tx, id)?;
            if now.version != expected_version {
                return Err(StoreError::Conflict {
                    entity: "follow-up",
                    current: kizuki_store::Current::Version(now.version),
                });
            }
            tx.execute(
                "UPDATE followups SET version = version + 1, body = ?2, updated_at = ?3,
                   updated_by = ?4 WHERE id = ?1",
                params![id.0, body, time_to(at), by.0],
            )
            .map_err(db_err)?;
            one_followup(tx, id)
        })
        .await
    }

    async fn list_followups(
        &self,
        org: Option<OrgId>,
        case: Option<CaseId>,
    ) -> StoreResult<Vec<StoredFollowUp>> {
        self.read_store(move |c| {
            load_followups(
                c,
                "(?1 IS NULL OR org_id = ?1) AND (?2 IS NULL OR case_id = ?2)",
                params![org.map(|o| o.0), case.map(|c| c.0)],
            )
        })
        .await
    }
}
