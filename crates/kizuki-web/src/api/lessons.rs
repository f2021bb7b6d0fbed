//! The lessons catalog over the API: the theme list (`/lesson-themes`), one theme's lessons
//! across cases and years, and a lesson's themes (`/lessons/{lesson}/themes`, where a lesson
//! is `case:<id>:<n>` or `common:<year>:<n>`). Access is decided before a body is read.

use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::{ApiUser, json_body};
use crate::error::{ApiError, ApiErrorBody};
use crate::state::WebState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kizuki_app::lessons::{self, CatalogFilter};
use kizuki_domain::lessons::ThemeInput;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

#[utoipa::path(
    get, path = "/lesson-themes", tag = "lessons",
    responses(
        (status = 200, description = "`themes`: every theme (retired ones last), each with its version and the number of case and common lessons under it that the caller may read", body = Object),
    ),
    security(("bearer" = []))
)]
pub async fn list_themes(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
) -> Result<Response, ApiError> {
    let v = lessons::themes(&st.app, &p).await?;
    Ok((StatusCode::OK, Json(serde_json::json!({ "themes": v }))).into_response())
}

/// A theme, new or edited.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThemeDto {
    /// Lower-case letters, digits and hyphens; fixed once the theme exists.
    pub key: String,
    pub name_ja: String,
    pub name_en: String,
    #[serde(default)]
    pub description_ja: String,
    #[serde(default)]
    pub description_en: String,
    /// Words that make the tagging form suggest this theme.
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub retired: bool,
    /// The version edited (0 for a new theme).
    #[serde(default)]
    pub version: i64,
}

impl ThemeDto {
    fn input(&self) -> ThemeInput {
        ThemeInput {
            key: self.key.clone(),
            name_ja: self.name_ja.clone(),
            name_en: self.name_en.clone(),
            description_ja: self.description_ja.clone(),
            description_en: self.description_en.clone(),
            keywords: self.keywords.join(","),
            retired: self.retired,
        }
    }
}

#[utoipa::path(
    post, path = "/lesson-themes", tag = "lessons",
    request_body = ThemeDto,
    responses(
        (status = 201, description = "Added; the theme as stored", body = Object),
        (status = 403, description = "Not one of the centre's editors", body = ApiErrorBody),
        (status = 409, description = "A theme with this key exists", body = ApiErrorBody),
        (status = 422, description = "A field at fault (`key`, `name_ja`, …)", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn add_theme(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    body: Result<ApiJson<ThemeDto>, ApiError>,
) -> Result<Response, ApiError> {
    lessons::may_edit_themes(&p)?;
    let b = json_body(body)?;
    let saved = lessons::save_theme(&st.app, &p, &b.input(), 0).await?;
    Ok((StatusCode::CREATED, Json(saved)).into_response())
}

/// Narrows one theme's lessons.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CatalogParams {
    /// A sector code (`railway`): lessons of cases from that sector's reports.
    #[serde(default)]
    pub sector: String,
    /// A case category code (`system-failure`, `cyber-attack`).
    #[serde(default)]
    pub category: String,
    /// A survey year (年度).
    pub year: Option<i32>,
}

impl CatalogParams {
    pub fn filter(&self) -> CatalogFilter {
        CatalogFilter::from_text(&self.sector, &self.category, self.year)
    }
}

#[utoipa::path(
    get, path = "/lesson-themes/{key}", tag = "lessons",
    params(("key" = String, Path, description = "Theme key"), CatalogParams),
    responses(
        (status = 200, description = "The theme and its lessons the caller may read: `case_lessons` (with case, year, category and, where the caller may read the report, sector) and `common_lessons` (with the cases they cite), newest year first", body = Object),
        (status = 404, description = "No such theme", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_theme(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(key): ApiPath<String>,
    ApiQuery(q): ApiQuery<CatalogParams>,
) -> Result<Response, ApiError> {
    let v = lessons::catalog(&st.app, &p, &key, &q.filter()).await?;
    Ok((StatusCode::OK, Json(v)).into_response())
}

#[utoipa::path(
    put, path = "/lesson-themes/{key}", tag = "lessons",
    params(("key" = String, Path, description = "Theme key")),
    request_body = ThemeDto,
    responses(
        (status = 200, description = "Saved; the theme as stored, its version moved on", body = Object),
        (status = 403, description = "Not one of the centre's editors", body = ApiErrorBody),
        (status = 404, description = "No such theme", body = ApiErrorBody),
        (status = 409, description = "Changed since `version` (the current version is in the error), or `version` left out for a theme that exists", body = ApiErrorBody),
        (status = 422, description = "A field at fault, or a body key other than the path's", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn put_theme(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(key): ApiPath<String>,
    body: Result<ApiJson<ThemeDto>, ApiError>,
) -> Result<Response, ApiError> {
    lessons::may_edit_themes(&p)?;
    let b = json_body(body)?;
    if b.key.trim() != key {
        return Err(
            kizuki_app::AppError::from(kizuki_domain::FieldError::invalid(
                "key",
                "a theme's key cannot change",
            ))
            .into(),
        );
    }
    // Version 0 (left out) against a stored theme is refused as a duplicate, never a save
    // over whatever is stored now.
    let version = b.version;
    let saved = lessons::save_theme(&st.app, &p, &b.input(), version).await?;
    Ok((StatusCode::OK, Json(saved)).into_response())
}

#[utoipa::path(
    get, path = "/lessons/{lesson}/themes", tag = "lessons",
    params(("lesson" = String, Path, description = "`case:<id>:<n>` or `common:<year>:<n>` (n from 0)")),
    responses(
        (status = 200, description = "The lesson's title, text, `themes`, and `suggestions` from its wording with the words that matched", body = Object),
        (status = 403, description = "Not one of the centre's analysts or editors", body = ApiErrorBody),
        (status = 404, description = "No such lesson", body = ApiErrorBody),
        (status = 422, description = "A lesson that does not read as `case:<id>:<n>` or `common:<year>:<n>` (`lesson`)", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_lesson_themes(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(lesson): ApiPath<String>,
) -> Result<Response, ApiError> {
    let v = lessons::lesson_for_tagging(&st.app, &p, &lesson).await?;
    Ok((StatusCode::OK, Json(v)).into_response())
}

/// A lesson's themes, from the ones the caller saw.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LessonThemesDto {
    /// The themes the caller saw (as `GET` gave them).
    pub expected: Vec<String>,
    /// The themes to give the lesson.
    pub themes: Vec<String>,
}

#[utoipa::path(
    put, path = "/lessons/{lesson}/themes", tag = "lessons",
    params(("lesson" = String, Path, description = "`case:<id>:<n>` or `common:<year>:<n>` (n from 0)")),
    request_body = LessonThemesDto,
    responses(
        (status = 200, description = "Saved; `themes` as they now are", body = Object),
        (status = 403, description = "Not one of the centre's analysts or editors", body = ApiErrorBody),
        (status = 404, description = "No such lesson", body = ApiErrorBody),
        (status = 409, description = "The lesson's themes changed since `expected`", body = ApiErrorBody),
        (status = 422, description = "An unknown or retired theme (`themes[n]`), or a lesson that does not read (`lesson`)", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn put_lesson_themes(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(lesson): ApiPath<String>,
    body: Result<ApiJson<LessonThemesDto>, ApiError>,
) -> Result<Response, ApiError> {
    lessons::may_tag(&p)?;
    let b = json_body(body)?;
    let themes = lessons::tag(&st.app, &p, &lesson, &b.expected, &b.themes).await?;
    Ok((
        StatusCode::OK,
        Json(serde_json::json!({ "themes": themes })),
    )
        .into_response())
}
