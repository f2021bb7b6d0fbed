//! Sign-off over the API: the anonymised text under sign-off with its fingerprint and state
//! (`GET /cases/{id}/signoff`), the operator's answer (`POST …/signoff/answer`: approve the
//! fingerprint it saw, or ask for changes) and the editor's steps (`POST …/signoff/action`:
//! send, mark publishable, publish, withdraw) — the same services as the pages.

use super::ApiUser;
use super::dto::CaseContentDto;
use super::extract::{ApiJson, ApiPath};
use super::json_body;
use crate::error::{ApiError, ApiErrorBody};
use crate::state::WebState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kizuki_app::publication as publ;
use kizuki_domain::ids::CaseId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A case's sign-off as its source operator and the centre see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignOffDto {
    pub case_id: i64,
    /// `draft`, `sent_to_operator`, `approved`, `changes_requested`, `publishable`, `published`.
    pub state: String,
    /// The fingerprint of the anonymised text now: what an approval must name.
    pub fingerprint: String,
    /// Whether the text under sign-off is still the text computed now.
    pub current: bool,
    /// The anonymised case, exactly as it would be published.
    pub content: CaseContentDto,
}

async fn dto(
    st: &WebState,
    p: &kizuki_app::auth::Principal,
    id: i64,
) -> Result<SignOffDto, ApiError> {
    let r = publ::for_operator(&st.app, p, CaseId(id)).await?;
    Ok(SignOffDto {
        case_id: id,
        state: r.signoff.state().code().to_owned(),
        fingerprint: r.current.to_string(),
        current: r.is_current(),
        content: CaseContentDto::from(r.output()),
    })
}

#[utoipa::path(
    get, path = "/cases/{id}/signoff", tag = "cases",
    params(("id" = i64, Path, description = "Case id")),
    responses(
        (status = 200, description = "The anonymised text under sign-off", body = SignOffDto),
        (status = 404, description = "No such case, or not shown to the caller yet", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_signoff(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<SignOffDto>, ApiError> {
    Ok(Json(dto(&st, &p, id).await?))
}

/// The operator's answer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerDto {
    pub approve: bool,
    /// With `approve`: the fingerprint of the text the operator read.
    #[serde(default)]
    pub fingerprint: String,
    /// Without `approve`: what should change.
    #[serde(default)]
    pub comments: String,
}

#[utoipa::path(
    post, path = "/cases/{id}/signoff/answer", tag = "cases",
    params(("id" = i64, Path, description = "Case id")),
    request_body = AnswerDto,
    responses(
        (status = 200, description = "Recorded; the sign-off as it is now", body = SignOffDto),
        (status = 400, description = "The text changed since that fingerprint", body = ApiErrorBody),
        (status = 403, description = "Only the source operator answers, while its answer is awaited", body = ApiErrorBody),
        (status = 404, description = "No such case, or not shown to the caller", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn answer(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
    body: Result<ApiJson<AnswerDto>, ApiError>,
) -> Result<Json<SignOffDto>, ApiError> {
    publ::require_answer(&st.app, &p, CaseId(id)).await?;
    let b = json_body(body)?;
    publ::operator_answer(
        &st.app,
        &p,
        CaseId(id),
        b.approve,
        &b.fingerprint,
        &b.comments,
    )
    .await?;
    Ok(Json(dto(&st, &p, id).await?))
}

/// An editor's step.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionDto {
    /// `send`, `mark_publishable`, `publish` or `withdraw`.
    pub action: String,
    /// With `withdraw`: why.
    #[serde(default)]
    pub reason: String,
}

#[utoipa::path(
    post, path = "/cases/{id}/signoff/action", tag = "cases",
    params(("id" = i64, Path, description = "Case id")),
    request_body = ActionDto,
    responses(
        (status = 200, description = "Done; the sign-off as it is now", body = SignOffDto),
        (status = 400, description = "Not possible in the case's state (e.g. publishing before the operator approved)", body = ApiErrorBody),
        (status = 403, description = "Only the centre's editors publish", body = ApiErrorBody),
        (status = 404, description = "No such case", body = ApiErrorBody),
        (status = 422, description = "Unknown `action`", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn action(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
    body: Result<ApiJson<ActionDto>, ApiError>,
) -> Result<Response, ApiError> {
    publ::review(&st.app, &p, CaseId(id), publ::DEFAULT_K).await?;
    let b = json_body(body)?;
    publ::editor_action(&st.app, &p, CaseId(id), &b.action, &b.reason).await?;
    Ok((StatusCode::OK, Json(dto(&st, &p, id).await?)).into_response())
}

/// The editor's anonymisation review: every candidate with its decision, and whether the
/// case may be sent (no candidate open, nothing showing through).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewDto {
    pub case_id: i64,
    pub publishable: bool,
    /// `id`, `kind`, `text`, `suggested`, `decision` (absent while open).
    #[schema(value_type = Vec<Object>)]
    pub candidates: serde_json::Value,
    /// Candidates still showing through the anonymised text.
    #[schema(value_type = Vec<Object>)]
    pub residual: serde_json::Value,
    /// Sentences drawn from interview statements the operator marked not for publication:
    /// `field`, `sentence`, `interview_id`, `statement_id`, `statement`.
    #[schema(value_type = Vec<Object>)]
    pub restricted: serde_json::Value,
    /// Interview statements whose use the operator has not yet consented to.
    pub awaiting_consent: usize,
}

async fn review_dto(
    st: &WebState,
    p: &kizuki_app::auth::Principal,
    id: i64,
) -> Result<ReviewDto, ApiError> {
    let r = publ::review(&st.app, p, CaseId(id), publ::DEFAULT_K).await?;
    let review = &r.anonymised.review;
    let candidates: Vec<serde_json::Value> = review
        .candidates()
        .iter()
        .map(|c| {
            serde_json::json!({"id": c.id, "kind": c.kind, "text": c.text,
                               "suggested": c.suggested, "decision": review.decision(&c.id)})
        })
        .collect();
    let prov = kizuki_app::interviews::review_provenance(&st.app, p, CaseId(id)).await?;
    Ok(ReviewDto {
        restricted: serde_json::to_value(&prov.restricted)
            .map_err(|e| ApiError(crate::error::WebError::Internal(format!("review: {e}"))))?,
        awaiting_consent: prov.awaiting_consent,
        case_id: id,
        publishable: r.anonymised.publishable(),
        candidates: serde_json::Value::from(candidates),
        residual: serde_json::to_value(&r.anonymised.residual)
            .map_err(|e| ApiError(crate::error::WebError::Internal(format!("review: {e}"))))?,
    })
}

#[utoipa::path(
    get, path = "/cases/{id}/anonymisation", tag = "cases",
    params(("id" = i64, Path, description = "Case id")),
    responses(
        (status = 200, description = "The anonymisation review", body = ReviewDto),
        (status = 403, description = "Only the centre's analysts and editors review", body = ApiErrorBody),
        (status = 404, description = "No such case", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_review(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<ReviewDto>, ApiError> {
    Ok(Json(review_dto(&st, &p, id).await?))
}

/// A decision on one candidate.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionDto {
    pub candidate: String,
    /// `accepted` (the suggested label), `relabelled` (with `value`), `ignored` (kept as
    /// written, `value` saying why) or `clear`.
    pub decision: String,
    #[serde(default)]
    pub value: String,
}

#[utoipa::path(
    post, path = "/cases/{id}/anonymisation/decisions", tag = "cases",
    params(("id" = i64, Path, description = "Case id")),
    request_body = DecisionDto,
    responses(
        (status = 200, description = "Recorded; the review as it is now", body = ReviewDto),
        (status = 403, description = "Only the centre's analysts and editors review", body = ApiErrorBody),
        (status = 404, description = "No such case", body = ApiErrorBody),
        (status = 422, description = "An unknown candidate or decision, or a label that shows what it replaces", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn decide(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
    body: Result<ApiJson<DecisionDto>, ApiError>,
) -> Result<Json<ReviewDto>, ApiError> {
    publ::review(&st.app, &p, CaseId(id), publ::DEFAULT_K).await?;
    let b = json_body(body)?;
    publ::decide(&st.app, &p, CaseId(id), &b.candidate, &b.decision, &b.value).await?;
    Ok(Json(review_dto(&st, &p, id).await?))
}
