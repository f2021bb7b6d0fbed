//! Case selection over the API: `GET /surveys/{year}/selection` answers the
//! confirmed decision or else the latest proposal; `POST` makes and saves a proposal from the
//! rules, or with `confirm: true` and `If-Match` (the ETag of the proposal) confirms it.
//! The ETag is `"<selection id>.<version>"`, so confirming a proposal that has since been
//! replaced by a newer one, or already confirmed, fails with 412.

use super::ApiUser;
use super::extract::{ApiJson, ApiPath};
use crate::error::{ApiError, ApiErrorBody, WebError};
use crate::state::WebState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kizuki_app::AppError;
use kizuki_app::selection::decisions::{self, SelectionView};
use kizuki_domain::selection::{RulesInput, SolveOptions};
use kizuki_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A saved selection: the decision snapshot as it was saved, with its status.
#[derive(Debug, Serialize, ToSchema)]
pub struct SelectionDto {
    pub id: i64,
    pub version: i64,
    /// `draft` or `confirmed`.
    pub status: String,
    pub confirmed_by: Option<String>,
    pub confirmed_at: Option<String>,
    /// Every candidate: `report_id`, `chosen`, `rank`, `category`, `case_id` (once confirmed).
    #[schema(value_type = Vec<Object>)]
    pub members: serde_json::Value,
    /// What the proposal was computed from and what came out: `rules`, `overrides` (with
    /// reasons), `ranking` (every criterion's score and evidence), `selection` (`chosen` with
    /// `why`, `left_out` with `why`, `optimality`), `proposed_by`, `proposed_at`.
    #[schema(value_type = Object)]
    pub decision: serde_json::Value,
}

impl SelectionDto {
    fn from_view(v: &SelectionView) -> Result<SelectionDto, ApiError> {
        let enc = |e: serde_json::Error| ApiError(WebError::Internal(format!("selection: {e}")));
        Ok(SelectionDto {
            id: v.id,
            version: v.version,
            status: v.status.code().to_owned(),
            confirmed_by: v.confirmed_by.clone(),
            confirmed_at: v.confirmed_at.map(|t| t.to_rfc3339()),
            members: serde_json::to_value(&v.members).map_err(enc)?,
            decision: serde_json::to_value(&v.decision).map_err(enc)?,
        })
    }
}

/// Rules for a new proposal, or `confirm: true` (with `If-Match`) to confirm the latest one.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SelectionRequestDto {
    /// `count`, `min_per_category` (category code → n), `max_per_sector`, `min_regions`,
    /// `max_per_org`, `pinned`, `excluded` (report ids): the same rules as the page's form.
    /// Errors name the field (`rules.max_per_org`, `rules.pinned[0]`, …).
    #[schema(value_type = Object)]
    pub rules: Option<RulesInput>,
    pub confirm: bool,
}

fn etag(v: &SelectionView) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{}.{}\"", v.id, v.version))
        .unwrap_or(HeaderValue::from_static("\"0.0\""))
}

fn answer(status: StatusCode, v: &SelectionView) -> Result<Response, ApiError> {
    let mut res = (status, Json(SelectionDto::from_view(v)?)).into_response();
    res.headers_mut().insert(header::ETAG, etag(v));
    Ok(res)
}

/// `"<id>.<version>"` from `If-Match`.
fn if_match(headers: &HeaderMap) -> Result<(i64, i64), ApiError> {
    let v = headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .ok_or(ApiError(WebError::PreconditionRequired))?;
    let v = v.trim().trim_start_matches("W/").trim_matches('"');
    v.split_once('.')
        .and_then(|(id, ver)| Some((id.parse().ok()?, ver.parse().ok()?)))
        .ok_or_else(|| {
            ApiError(WebError::BadRequest(
                "If-Match must be the selection's ETag".into(),
            ))
        })
}

#[utoipa::path(
    get, path = "/surveys/{year}/selection", tag = "surveys",
    params(("year" = i32, Path, description = "Fiscal year, e.g. 2019")),
    responses(
        (status = 200, description = "The confirmed decision, or else the latest proposal", body = SelectionDto,
         headers(("ETag" = String, description = "`\"<id>.<version>\"`, for If-Match when confirming"))),
        (status = 404, description = "No survey that year, or no proposal yet", body = ApiErrorBody),
        (status = 403, description = "Only analysts select cases", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_selection(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(year): ApiPath<i32>,
) -> Result<Response, ApiError> {
    match decisions::current(&st.app, &p, year).await? {
        Some(v) => answer(StatusCode::OK, &v),
        None => Err(ApiError(WebError::NotFound)),
    }
}

#[utoipa::path(
    post, path = "/surveys/{year}/selection", tag = "surveys",
    params(
        ("year" = i32, Path, description = "Fiscal year, e.g. 2019"),
        ("If-Match" = Option<String>, Header, description = "With `confirm: true`: the ETag of the proposal to confirm"),
    ),
    request_body = SelectionRequestDto,
    responses(
        (status = 201, description = "A new proposal, saved", body = SelectionDto, headers(("ETag" = String))),
        (status = 200, description = "Confirmed; the chosen reports are now the survey's case drafts", body = SelectionDto, headers(("ETag" = String))),
        (status = 400, description = "The survey's selection is already confirmed", body = ApiErrorBody),
        (status = 404, description = "No survey that year, or no proposal to confirm", body = ApiErrorBody),
        (status = 412, description = "The proposal changed or was replaced since that ETag", body = ApiErrorBody),
        (status = 428, description = "Confirming needs If-Match", body = ApiErrorBody),
        (status = 422, description = "Rules that are invalid or cannot all hold", body = ApiErrorBody),
        (status = 403, description = "Only analysts select cases", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn post_selection(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(year): ApiPath<i32>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SelectionRequestDto>,
) -> Result<Response, ApiError> {
    p.require_analyst()?;
    if !body.confirm {
        let rules = body.rules.unwrap_or_default();
        // Similar cases counted by the search index when the server has one.
        let oracle = crate::search::selection_oracle(&st).await;
        let v = decisions::propose_and_save(
            &st.app,
            &p,
            year,
            rules,
            SolveOptions::default(),
            oracle
                .as_ref()
                .map(|o| o as &dyn kizuki_app::selection::SimilarityOracle),
        )
        .await?;
        return answer(StatusCode::CREATED, &v);
    }
    let (id, version) = if_match(&headers)?;
    // Only the latest proposal can be confirmed: one the analyst has not seen is never decided.
    let latest = decisions::current(&st.app, &p, year).await?;
    match &latest {
        Some(l) if l.id == id && l.version == version => {}
        Some(l) => {
            return Err(ApiError(WebError::PreconditionFailed {
                current: l.version,
            }));
        }
        None => return Err(ApiError(WebError::NotFound)),
    }
    match decisions::confirm(&st.app, &p, year, id, version).await {
        Ok(v) => answer(StatusCode::OK, &v),
        Err(AppError::Store(StoreError::Conflict { current, .. })) => {
            Err(ApiError(WebError::PreconditionFailed {
                current: current.version(),
            }))
        }
        Err(e) => Err(e.into()),
    }
}

#[utoipa::path(
    post, path = "/surveys/{year}/selection/reopen", tag = "surveys",
    params(
        ("year" = i32, Path, description = "Fiscal year, e.g. 2020"),
        ("If-Match" = String, Header, description = "The ETag of the confirmed selection"),
    ),
    responses(
        (status = 200, description = "Reopened: kept in the history, a new proposal can be confirmed", body = SelectionDto, headers(("ETag" = String))),
        (status = 400, description = "The selection is not confirmed", body = ApiErrorBody),
        (status = 404, description = "No such selection in that survey", body = ApiErrorBody),
        (status = 412, description = "The selection changed since that ETag", body = ApiErrorBody),
        (status = 428, description = "If-Match is missing", body = ApiErrorBody),
        (status = 403, description = "Only analysts select cases", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn reopen_selection(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(year): ApiPath<i32>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    p.require_analyst()?;
    let (id, version) = if_match(&headers)?;
    match decisions::reopen(&st.app, &p, year, id, version).await {
        Ok(v) => answer(StatusCode::OK, &v),
        Err(AppError::Store(StoreError::Conflict { current, .. })) => {
            Err(ApiError(WebError::PreconditionFailed {
                current: current.version(),
            }))
        }
        Err(e) => Err(e.into()),
    }
}
