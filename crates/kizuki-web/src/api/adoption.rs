//! Self-assessment, adoption figures and countermeasure follow-up over the API:
//! `/orgs/{id}/assessment` (an organisation's answers per theme, read by its staff and the
//! centre), `/adoption` (figures per sector and theme, withheld below five organisations
//! outside the centre), and `/followups` with `/cases/{id}/followups` (an operator's items
//! for a case's countermeasures). Access is decided before a body is read.

use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::{ApiUser, json_body};
use crate::error::{ApiError, ApiErrorBody};
use crate::state::WebState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kizuki_app::{adoption, followups};
use kizuki_domain::adoption::{AssessmentInput, FollowUpInput};
use kizuki_domain::ids::{CaseId, FollowUpId, OrgId};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

#[utoipa::path(
    get, path = "/orgs/{id}/assessment", tag = "lessons",
    params(("id" = i64, Path, description = "Organisation id (an operator)")),
    responses(
        (status = 200, description = "`themes`: each theme open for answers with the organisation's `current` answer (standing, note, when, by whom; its `id` is what an edit starts from), and `may_answer`", body = Object),
        (status = 404, description = "No such operator, or not the caller's organisation (the centre reads every one)", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_assessment(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    let v = adoption::self_assessment(&st.app, &p, OrgId(id)).await?;
    Ok((StatusCode::OK, Json(v)).into_response())
}

#[utoipa::path(
    get, path = "/orgs/{id}/assessment/{key}", tag = "lessons",
    params(("id" = i64, Path, description = "Organisation id"), ("key" = String, Path, description = "Theme key")),
    responses(
        (status = 200, description = "`theme` and `history`: every answer on it, newest first", body = Object),
        (status = 404, description = "No such operator or theme, or not the caller's organisation", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn assessment_history(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath((id, key)): ApiPath<(i64, String)>,
) -> Result<Response, ApiError> {
    let (theme, history) = adoption::history(&st.app, &p, OrgId(id), &key).await?;
    Ok((
        StatusCode::OK,
        Json(serde_json::json!({ "theme": theme, "history": history })),
    )
        .into_response())
}

/// An answer on one theme.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerDto {
    /// `in_place`, `in_progress`, `not_started` or `not_applicable`.
    pub standing: String,
    #[serde(default)]
    pub note: String,
    /// The `id` of the answer this one follows (0 for the first).
    #[serde(default)]
    pub expected: i64,
}

#[utoipa::path(
    put, path = "/orgs/{id}/assessment/{key}", tag = "lessons",
    params(("id" = i64, Path, description = "Organisation id"), ("key" = String, Path, description = "Theme key")),
    request_body = AnswerDto,
    responses(
        (status = 200, description = "Recorded; the answer with its `id`", body = Object),
        (status = 403, description = "Not the organisation's administrator", body = ApiErrorBody),
        (status = 404, description = "No such operator, or not the caller's organisation", body = ApiErrorBody),
        (status = 409, description = "Answered since `expected` (the latest answer's id is in the error)", body = ApiErrorBody),
        (status = 422, description = "A field at fault (`theme`, `standing`, `note`)", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn put_answer(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath((id, key)): ApiPath<(i64, String)>,
    body: Result<ApiJson<AnswerDto>, ApiError>,
) -> Result<Response, ApiError> {
    adoption::require_answerer(&st.app, &p, OrgId(id)).await?;
    let b = json_body(body)?;
    let input = AssessmentInput {
        theme: key,
        standing: b.standing,
        note: b.note,
    };
    let saved = adoption::answer(&st.app, &p, OrgId(id), &input, b.expected).await?;
    Ok((StatusCode::OK, Json(saved)).into_response())
}

/// Narrows the adoption figures.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AdoptionParams {
    /// A sector code (`railway`); it must be one the caller may see.
    #[serde(default)]
    pub sector: Option<String>,
}

#[utoipa::path(
    get, path = "/adoption", tag = "lessons",
    params(AdoptionParams),
    responses(
        (status = 200, description = "`cells`: per sector and theme, the answers by standing, the number answered, the sector's operators and the share in place. Outside the centre a cell drawn from fewer than `min_orgs` organisations is `suppressed` and carries no figures. The centre sees every sector; a ministry its own; an operator its own", body = Object),
        (status = 403, description = "Not the centre, a ministry or an operator", body = ApiErrorBody),
        (status = 404, description = "A sector the caller may not see", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_adoption(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiQuery(q): ApiQuery<AdoptionParams>,
) -> Result<Response, ApiError> {
    let sector = q.sector.as_deref().filter(|s| !s.trim().is_empty());
    let v = adoption::adoption(&st.app, &p, sector).await?;
    Ok((StatusCode::OK, Json(v)).into_response())
}

#[utoipa::path(
    get, path = "/followups", tag = "lessons",
    responses(
        (status = 200, description = "`items`: the caller's organisation's follow-up items, open ones first by due date, each with its case and whether it is overdue", body = Object),
        (status = 403, description = "Not an operator's staff", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_followups(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
) -> Result<Response, ApiError> {
    let v = followups::mine(&st.app, &p).await?;
    Ok((StatusCode::OK, Json(serde_json::json!({ "items": v }))).into_response())
}

#[utoipa::path(
    get, path = "/followups/completion", tag = "lessons",
    responses(
        (status = 200, description = "`cases`: per case with items, its countermeasures, the organisations following them, items done, dropped, in progress and overdue, and the share closed", body = Object),
        (status = 403, description = "Not one of the centre's analysts or editors", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn completion(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
) -> Result<Response, ApiError> {
    let v = followups::completion(&st.app, &p).await?;
    Ok((StatusCode::OK, Json(serde_json::json!({ "cases": v }))).into_response())
}

#[utoipa::path(
    get, path = "/cases/{id}/followups", tag = "lessons",
    params(("id" = i64, Path, description = "Case id")),
    responses(
        (status = 200, description = "The case's countermeasures, each with the caller's organisation's item if it keeps one", body = Object),
        (status = 404, description = "No such case, or one the caller may not read", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn case_followups(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    let v = followups::measures(&st.app, &p, CaseId(id)).await?;
    Ok((StatusCode::OK, Json(v)).into_response())
}

/// A follow-up item's fields.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowUpDto {
    /// Which countermeasure of the case, from 0 (new items only).
    #[serde(default)]
    pub measure: Option<u32>,
    /// Who answers for it: a name, or the address of one of the organisation's users (who
    /// then gets the reminders too).
    pub owner: String,
    /// `2020-03-31`, `令和2年3月31日`, …; empty for none.
    #[serde(default)]
    pub due: String,
    /// `planned` (the default), `in_progress`, `done` or `dropped`.
    #[serde(default)]
    pub status: String,
    /// What shows it is done, or why it was dropped; needed for both.
    #[serde(default)]
    pub evidence: String,
    /// The version edited (edits only).
    #[serde(default)]
    pub version: i64,
}

impl FollowUpDto {
    fn input(&self) -> FollowUpInput {
        FollowUpInput {
            owner: self.owner.clone(),
            due: self.due.clone(),
            status: self.status.clone(),
            evidence: self.evidence.clone(),
        }
    }
}

#[utoipa::path(
    post, path = "/cases/{id}/followups", tag = "lessons",
    params(("id" = i64, Path, description = "Case id")),
    request_body = FollowUpDto,
    responses(
        (status = 201, description = "Made; the item with its id and version", body = Object),
        (status = 403, description = "Not an operator's staff", body = ApiErrorBody),
        (status = 404, description = "No such case or countermeasure, or a case the caller may not read", body = ApiErrorBody),
        (status = 409, description = "The organisation already follows this countermeasure", body = ApiErrorBody),
        (status = 422, description = "A field at fault (`measure`, `owner`, `due`, `status`, `evidence`)", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn add_followup(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
    body: Result<ApiJson<FollowUpDto>, ApiError>,
) -> Result<Response, ApiError> {
    followups::require_keeper(&p)?;
    let b = json_body(body)?;
    let Some(measure) = b.measure else {
        return Err(
            kizuki_app::AppError::from(kizuki_domain::FieldError::required("measure")).into(),
        );
    };
    let saved = followups::create(&st.app, &p, CaseId(id), measure, &b.input()).await?;
    Ok((StatusCode::CREATED, Json(saved)).into_response())
}

#[utoipa::path(
    get, path = "/followups/{id}", tag = "lessons",
    params(("id" = i64, Path, description = "Follow-up item id")),
    responses(
        (status = 200, description = "The item with its case and whether it is overdue", body = Object),
        (status = 404, description = "No such item, or another organisation's", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_followup(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    let v = followups::get(&st.app, &p, FollowUpId(id)).await?;
    Ok((StatusCode::OK, Json(v)).into_response())
}

#[utoipa::path(
    put, path = "/followups/{id}", tag = "lessons",
    params(("id" = i64, Path, description = "Follow-up item id")),
    request_body = FollowUpDto,
    responses(
        (status = 200, description = "Saved; the item, its version moved on", body = Object),
        (status = 403, description = "Not the organisation's staff", body = ApiErrorBody),
        (status = 404, description = "No such item, or another organisation's", body = ApiErrorBody),
        (status = 409, description = "Changed since `version` (the current version is in the error)", body = ApiErrorBody),
        (status = 422, description = "A field at fault (`owner`, `due`, `status`, `evidence`)", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn put_followup(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
    body: Result<ApiJson<FollowUpDto>, ApiError>,
) -> Result<Response, ApiError> {
    followups::require_editable(&st.app, &p, FollowUpId(id)).await?;
    let b = json_body(body)?;
    let saved = followups::update(&st.app, &p, FollowUpId(id), b.version, &b.input()).await?;
    Ok((StatusCode::OK, Json(saved)).into_response())
}
