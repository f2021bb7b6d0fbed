//! SQLite side of lesson themes and the tags that link lessons to them.

use crate::*;
use kizuki_domain::lessons::Theme;
use kizuki_store::{LessonTag, StoredTheme};

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
}
