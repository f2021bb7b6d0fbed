//! Bulk imports through the API: `POST /api/v1/reports/bulk` hands a JSON array of
//! reports to the application's bulk-filing queue ([`kizuki_app::reports::bulk`]) and answers at once
//! with a job id; `GET /api/v1/imports/{id}` shows the job and, once done, every item's result
//! (its field errors, or the id it was filed under). A full queue, or an organisation that
//! already has its share of it, is answered 429 with `Retry-After`.

use super::ApiUser;
use super::dto::ReportInputDto;
use super::extract::{ApiBytes, ApiPath, Rejection};
use crate::error::{ApiError, ApiErrorBody, FieldProblem, WebError};
use crate::i18n;
use crate::state::WebState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kizuki_app::reports::bulk::{self, ItemOutcome, JobView, QueueFull};
use kizuki_domain::report::ReportInput;
use kizuki_domain::taxonomy::Lang;
use serde::Serialize;
use utoipa::ToSchema;

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Done,
    /// The store refused the batch; nothing was filed.
    Failed,
}

/// One item of a finished job: the report it became, or what is wrong with it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ItemResult {
    /// The item's position in the submitted array, from 0.
    pub index: usize,
    /// The report filed, when the item was valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_id: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblemDto>,
}

/// A field problem of one item (`field` as in the single-report API).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldProblemDto {
    pub field: String,
    pub message_ja: String,
    pub message_en: String,
}

impl From<FieldProblem> for FieldProblemDto {
    fn from(f: FieldProblem) -> Self {
        FieldProblemDto {
            field: f.field,
            message_ja: f.message_ja,
            message_en: f.message_en,
        }
    }
}

/// A bulk-import job as `GET /api/v1/imports/{id}` shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportJobDto {
    pub id: String,
    pub status: JobStatus,
    /// Items submitted.
    pub total: usize,
    /// Items filed (when done).
    pub created: usize,
    /// Items refused (when done).
    pub invalid: usize,
    /// Every item's result, in submitted order (when done).
    pub items: Vec<ItemResult>,
    /// Why a failed job failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl From<bulk::JobStatus> for JobStatus {
    fn from(s: bulk::JobStatus) -> Self {
        match s {
            bulk::JobStatus::Queued => JobStatus::Queued,
            bulk::JobStatus::Running => JobStatus::Running,
            bulk::JobStatus::Done => JobStatus::Done,
            bulk::JobStatus::Failed => JobStatus::Failed,
        }
    }
}

fn problems(e: &kizuki_domain::ValidationErrors) -> Vec<FieldProblemDto> {
    e.iter()
        .map(|f| FieldProblemDto {
            field: f.field.clone(),
            message_ja: i18n::pick(&f.message_ja(), Lang::Ja).to_owned(),
            message_en: i18n::pick(&f.message_en(), Lang::En).to_owned(),
        })
        .collect()
}

fn problem(field: &str, ja: String, en: String) -> Vec<FieldProblemDto> {
    vec![FieldProblemDto {
        field: field.to_owned(),
        message_ja: ja,
        message_en: en,
    }]
}

impl From<&bulk::ItemResult> for ItemResult {
    fn from(r: &bulk::ItemResult) -> Self {
        let (report_id, errors) = match &r.outcome {
            ItemOutcome::Pending => (None, Vec::new()),
            ItemOutcome::Filed(id) => (Some(id.0), Vec::new()),
            ItemOutcome::Malformed(why) => (
                None,
                problem(
                    "",
                    format!("報告の形式が正しくありません（{why}）"),
                    format!("not a report input: {why}"),
                ),
            ),
            ItemOutcome::Invalid(errs) => (None, problems(errs)),
            ItemOutcome::Refused => (
                None,
                problem(
                    "sector",
                    "この分野・区分の報告は登録できません".into(),
                    "you may not file a report with this sector and label".into(),
                ),
            ),
            ItemOutcome::Unchecked => (
                None,
                problem(
                    "",
                    "この報告を確認できませんでした".into(),
                    "this report could not be checked".into(),
                ),
            ),
        };
        ItemResult {
            index: r.index,
            report_id,
            errors,
        }
    }
}

impl From<JobView> for ImportJobDto {
    fn from(v: JobView) -> Self {
        ImportJobDto {
            items: v.items.iter().map(ItemResult::from).collect(),
            id: v.id,
            status: v.status.into(),
            total: v.total,
            created: v.created,
            invalid: v.invalid,
            message: v.message,
        }
    }
}

impl From<QueueFull> for WebError {
    fn from(f: QueueFull) -> Self {
        WebError::TooManyRequests {
            code: "queue_full",
            retry_after_secs: f.retry_after_secs,
        }
    }
}

/// One submitted item as the application takes it: a report input, or why it is not one.
fn item(raw: serde_json::Value) -> bulk::Item {
    serde_json::from_value::<ReportInputDto>(raw)
        .map(ReportInput::from)
        .map_err(|e| e.to_string())
}

/// The reply to an accepted bulk import.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportAcceptedDto {
    pub id: String,
    pub status: JobStatus,
    pub total: usize,
    /// Where to poll for the result.
    pub location: String,
}

#[utoipa::path(
    post, path = "/reports/bulk", tag = "reports",
    request_body(content = Vec<ReportInputDto>,
        description = "Reports to file, at most `[limits] bulk_max_items` (default 1000)"),
    responses(
        (status = 202, description = "Queued; poll the Location for per-item results", body = ImportAcceptedDto,
         headers(("Location" = String, description = "/api/v1/imports/{id}"))),
        (status = 400, description = "Not a JSON array, or too many items", body = ApiErrorBody),
        (status = 403, description = "Only operators file reports", body = ApiErrorBody),
        (status = 429, description = "Rate limit, or the import queue is full; see Retry-After", body = ApiErrorBody,
         headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
    security(("bearer" = []))
)]
pub(super) async fn post_bulk(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiBytes(body): ApiBytes,
) -> Result<Response, ApiError> {
    p.require_operator().map_err(WebError::from)?;
    let items: Vec<serde_json::Value> = serde_json::from_slice(&body).map_err(|e| {
        if e.is_data() {
            ApiError(WebError::BadRequest(format!(
                "body must be a JSON array of reports: {e}"
            )))
        } else {
            // Not JSON at all: the same answer, with line and column, as any other body.
            ApiError::from(Rejection::JsonSyntax {
                line: e.line(),
                column: e.column(),
                detail: e.to_string(),
            })
        }
    })?;
    let max = st.bulk_max_items;
    if items.is_empty() || items.len() > max {
        return Err(ApiError(WebError::BadRequest(format!(
            "between 1 and {max} reports per request, not {}",
            items.len()
        ))));
    }
    let items = items.into_iter().map(item).collect();
    let view = st.bulk.submit(&st.app, &p, items).map_err(WebError::from)?;
    let location = format!("/api/v1/imports/{}", view.id);
    let mut res = (
        StatusCode::ACCEPTED,
        Json(ImportAcceptedDto {
            id: view.id,
            status: view.status.into(),
            total: view.total,
            location: location.clone(),
        }),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

#[utoipa::path(
    get, path = "/imports/{id}", tag = "reports",
    params(("id" = String, Path, description = "The job id from POST /reports/bulk")),
    responses(
        (status = 200, description = "The job; per-item results once done", body = ImportJobDto),
        (status = 404, description = "No such job of the caller's (or forgotten)", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn get_import(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ImportJobDto>, ApiError> {
    st.bulk
        .get(&p, &id)
        .map(|v| Json(ImportJobDto::from(v)))
        .ok_or(ApiError(WebError::NotFound))
}
