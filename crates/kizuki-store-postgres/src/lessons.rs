//! PostgreSQL side of lesson themes and the tags that link lessons to them. A theme's row is
//! locked while it is saved, and a lesson's tags are changed under a transaction lock on the
//! lesson's key, so editors on different nodes take turns and the second sees the change.

use crate::cached::Cached as _;
use crate::rows::{from_json, json};
use crate::{PgStore, pg_err};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kizuki_domain::ids::UserId;
use kizuki_domain::lessons::Theme;
use kizuki_store::prelude::*;
use kizuki_store::{LessonTag, StoreError, StoreResult, StoredTheme};

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
}
