//! Interviews over the API: the inbox (`/interviews`), a case's interviews and the centre's
//! request (`/cases/{id}/interviews`), one interview with its answer, questions, written
//! answers, minutes, consent and files, the record as Markdown or PDF, and the question
//! templates. Writes carry the `version` the caller saw; another is 412 with the current one.

use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::{ApiUser, json_body, stale_to_412};
use crate::error::{ApiError, ApiErrorBody, WebError};
use crate::state::WebState;
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use kizuki_app::AppError;
use kizuki_app::interviews::{self, Need, StatementRow, templates};
use kizuki_domain::ids::{CaseId, InterviewId};
use kizuki_domain::interview::RequestInput;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

fn request_input(
    mode: &str,
    proposed: &[String],
    place: &str,
    attendees: &str,
    note: &str,
) -> Result<RequestInput, AppError> {
    RequestInput::parse(mode, &proposed.join("\n"), place, attendees, note).map_err(AppError::from)
}

/// A new interview: the request, and whether the case category's template questions go with
/// it (due on `due`).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInterviewDto {
    /// `on_site` or `online`.
    pub mode: String,
    /// Proposed dates and times (Japan time), e.g. `2020-02-10 14:00` or `2020-02-10T14:00`.
    pub proposed: Vec<String>,
    #[serde(default)]
    pub place: String,
    /// Who comes from the centre.
    #[serde(default)]
    pub attendees: String,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub with_template: bool,
    /// e.g. `2020-02-07`
    #[serde(default)]
    pub due: String,
}

/// The request sent again (new dates), against the interview's `version`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResendDto {
    pub version: i64,
    /// `on_site` or `online`.
    pub mode: String,
    pub proposed: Vec<String>,
    #[serde(default)]
    pub place: String,
    #[serde(default)]
    pub attendees: String,
    #[serde(default)]
    pub note: String,
}

/// The operator's answer to the current request.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerDto {
    pub version: i64,
    /// `accepted`, `proposed` or `declined` (declining cooperation: the case leaves the survey).
    pub reply: String,
    /// For `accepted`: one of the proposed dates.
    #[serde(default)]
    pub on: String,
    /// For `proposed`: the dates offered instead.
    #[serde(default)]
    pub proposed: Vec<String>,
    #[serde(default)]
    pub attendees: String,
    /// For `declined`: the reason.
    #[serde(default)]
    pub note: String,
}

/// A question to add.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuestionDto {
    /// `background`, `detection`, `response`, `cause`, `countermeasures` or `lessons`.
    pub part: String,
    pub text: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddQuestionsDto {
    #[serde(default)]
    pub questions: Vec<QuestionDto>,
    #[serde(default)]
    pub with_template: bool,
    #[serde(default)]
    pub due: String,
}

/// A written answer: saved as a draft, or submitted (then final).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WrittenAnswerDto {
    pub question: i64,
    /// The question's `version` the caller saw.
    pub version: i64,
    pub answer: String,
    #[serde(default)]
    pub submit: bool,
}

/// A statement of the minutes; `id` keeps an existing one (and its consent, while its words
/// stay the same).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatementDto {
    #[serde(default)]
    pub id: Option<u32>,
    #[serde(default)]
    pub speaker: String,
    pub text: String,
    /// A section code, or empty.
    #[serde(default)]
    pub part: String,
    /// `step:N` or `response:N` of the case, or empty.
    #[serde(default)]
    pub step: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MinutesDto {
    pub version: i64,
    #[serde(default)]
    pub held_at: String,
    #[serde(default)]
    pub place: String,
    #[serde(default)]
    pub attendees: String,
    #[serde(default)]
    pub statements: Vec<StatementDto>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentItemDto {
    pub statement: u32,
    /// `quotation`, `paraphrase`, `not_for_publication`, or empty for not recorded.
    pub usage: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentDto {
    pub version: i64,
    pub consent: Vec<ConsentItemDto>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateDto {
    /// 0 while the shipped template is in use.
    pub version: i64,
    /// TOML: `[[question]]` entries with `section` and `text`.
    pub body: String,
}

#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The file's name, shown and offered on download (the type is read from the content).
    pub filename: Option<String>,
}

#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecordQuery {
    /// `md` (the default) or `pdf`.
    pub format: Option<String>,
}

fn created<T: serde::Serialize>(body: T) -> Response {
    (StatusCode::CREATED, Json(body)).into_response()
}

fn ok<T: serde::Serialize>(body: T) -> Response {
    (StatusCode::OK, Json(body)).into_response()
}

#[utoipa::path(
    get, path = "/interviews", tag = "interviews",
    responses((status = 200, description = "The interviews the caller may see, newest first, with `action` where the caller has something to do", body = Object)),
    security(("bearer" = []))
)]
pub async fn inbox(State(st): State<WebState>, ApiUser(p): ApiUser) -> Result<Response, ApiError> {
    Ok(ok(
        serde_json::json!({"items": interviews::inbox(&st.app, &p).await?}),
    ))
}

#[utoipa::path(
    get, path = "/cases/{id}/interviews", tag = "interviews",
    params(("id" = i64, Path, description = "Case id")),
    responses(
        (status = 200, description = "The case's interviews", body = Object),
        (status = 404, description = "No such case, or not the caller's organisation's", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn case_interviews(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    Ok(ok(interviews::for_case(&st.app, &p, CaseId(id)).await?))
}

#[utoipa::path(
    post, path = "/cases/{id}/interviews", tag = "interviews",
    params(("id" = i64, Path, description = "Case id")),
    request_body = NewInterviewDto,
    responses(
        (status = 201, description = "Requested; the operator's administrators are e-mailed", body = Object),
        (status = 400, description = "Not a survey case written from an operator's report", body = ApiErrorBody),
        (status = 403, description = "Only the centre's content staff request interviews", body = ApiErrorBody),
        (status = 404, description = "No such case", body = ApiErrorBody),
        (status = 422, description = "Invalid request (fields named)", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn request(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
    body: Result<ApiJson<NewInterviewDto>, ApiError>,
) -> Result<Response, ApiError> {
    interviews::gate_request(&st.app, &p, CaseId(id)).await?;
    let b = json_body(body)?;
    let due = interviews::parse_due(&b.due).map_err(AppError::from)?;
    let input = request_input(&b.mode, &b.proposed, &b.place, &b.attendees, &b.note)?;
    let i = interviews::request(&st.app, &p, CaseId(id), input, b.with_template, due).await?;
    Ok(created(interviews::view(&st.app, &p, i.id).await?))
}

#[utoipa::path(
    get, path = "/interviews/{id}", tag = "interviews",
    params(("id" = i64, Path, description = "Interview id")),
    responses(
        (status = 200, description = "The interview: request, answers, questions, files, minutes with consent", body = Object),
        (status = 404, description = "No such interview, or not the caller's organisation's", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_interview(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    Ok(ok(interviews::view(&st.app, &p, InterviewId(id)).await?))
}

#[utoipa::path(
    put, path = "/interviews/{id}/request", tag = "interviews",
    params(("id" = i64, Path, description = "Interview id")),
    request_body = ResendDto,
    responses(
        (status = 200, description = "Sent again; the operator answers afresh", body = Object),
        (status = 403, description = "Only the centre sends requests", body = ApiErrorBody),
        (status = 404, description = "No such interview", body = ApiErrorBody),
        (status = 412, description = "The interview changed since `version`", body = ApiErrorBody),
        (status = 422, description = "Invalid request", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn resend(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
    body: Result<ApiJson<ResendDto>, ApiError>,
) -> Result<Response, ApiError> {
    interviews::gate(&st.app, &p, InterviewId(id), Need::Centre).await?;
    let b = json_body(body)?;
    let input = request_input(&b.mode, &b.proposed, &b.place, &b.attendees, &b.note)?;
    interviews::resend(&st.app, &p, InterviewId(id), b.version, input)
        .await
        .map_err(stale_to_412)?;
    Ok(ok(interviews::view(&st.app, &p, InterviewId(id)).await?))
}

#[utoipa::path(
    post, path = "/interviews/{id}/answer", tag = "interviews",
    params(("id" = i64, Path, description = "Interview id")),
    request_body = AnswerDto,
    responses(
        (status = 201, description = "Answered; the case's cooperation record has the answer", body = Object),
        (status = 400, description = "Nothing awaits an answer, or the case cannot be declined", body = ApiErrorBody),
        (status = 403, description = "The operator's administrator answers", body = ApiErrorBody),
        (status = 404, description = "No such interview, or not the caller's organisation's", body = ApiErrorBody),
        (status = 412, description = "The interview changed since `version`", body = ApiErrorBody),
        (status = 422, description = "Invalid answer", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn answer(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
    body: Result<ApiJson<AnswerDto>, ApiError>,
) -> Result<Response, ApiError> {
    interviews::gate(&st.app, &p, InterviewId(id), Need::OperatorAdmin).await?;
    let b = json_body(body)?;
    let form = interviews::AnswerForm {
        reply: b.reply,
        on: b.on,
        proposed: b.proposed.join("\n"),
        attendees: b.attendees,
        note: b.note,
    };
    interviews::answer(&st.app, &p, InterviewId(id), b.version, &form)
        .await
        .map_err(stale_to_412)?;
    Ok(created(
        interviews::view(&st.app, &p, InterviewId(id)).await?,
    ))
}

#[utoipa::path(
    post, path = "/interviews/{id}/questions", tag = "interviews",
    params(("id" = i64, Path, description = "Interview id")),
    request_body = AddQuestionsDto,
    responses(
        (status = 201, description = "The questions added", body = Object),
        (status = 403, description = "Only the centre asks questions", body = ApiErrorBody),
        (status = 404, description = "No such interview", body = ApiErrorBody),
        (status = 422, description = "Invalid or no questions", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn add_questions(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
    body: Result<ApiJson<AddQuestionsDto>, ApiError>,
) -> Result<Response, ApiError> {
    interviews::gate(&st.app, &p, InterviewId(id), Need::Centre).await?;
    let b = json_body(body)?;
    let due = interviews::parse_due(&b.due).map_err(AppError::from)?;
    let typed: Vec<(String, String)> = b.questions.into_iter().map(|q| (q.part, q.text)).collect();
    let added =
        interviews::add_questions(&st.app, &p, InterviewId(id), &typed, b.with_template, due)
            .await?;
    Ok(created(serde_json::json!({"questions": added})))
}

#[utoipa::path(
    post, path = "/interviews/{id}/answers", tag = "interviews",
    params(("id" = i64, Path, description = "Interview id")),
    request_body = WrittenAnswerDto,
    responses(
        (status = 200, description = "The question with its answer saved", body = Object),
        (status = 400, description = "Already submitted", body = ApiErrorBody),
        (status = 403, description = "The operator's staff answer", body = ApiErrorBody),
        (status = 404, description = "No such interview or question", body = ApiErrorBody),
        (status = 412, description = "The answer changed since `version`", body = ApiErrorBody),
        (status = 422, description = "Invalid answer (a submitted one must not be empty)", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn save_answer(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
    body: Result<ApiJson<WrittenAnswerDto>, ApiError>,
) -> Result<Response, ApiError> {
    interviews::gate(&st.app, &p, InterviewId(id), Need::OperatorStaff).await?;
    let b = json_body(body)?;
    let q = interviews::save_answer(
        &st.app,
        &p,
        InterviewId(id),
        b.question,
        b.version,
        &b.answer,
        b.submit,
    )
    .await
    .map_err(stale_to_412)?;
    Ok(ok(q))
}

#[utoipa::path(
    put, path = "/interviews/{id}/minutes", tag = "interviews",
    params(("id" = i64, Path, description = "Interview id")),
    request_body = MinutesDto,
    responses(
        (status = 200, description = "The interview with its minutes", body = Object),
        (status = 403, description = "The centre writes the minutes", body = ApiErrorBody),
        (status = 404, description = "No such interview", body = ApiErrorBody),
        (status = 412, description = "The interview changed since `version`", body = ApiErrorBody),
        (status = 422, description = "Invalid minutes (fields named `statements[i].…`)", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn save_minutes(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
    body: Result<ApiJson<MinutesDto>, ApiError>,
) -> Result<Response, ApiError> {
    interviews::gate(&st.app, &p, InterviewId(id), Need::Centre).await?;
    let b = json_body(body)?;
    let rows: Vec<StatementRow> = b
        .statements
        .into_iter()
        .map(|s| StatementRow {
            id: s.id.map(|i| i.to_string()).unwrap_or_default(),
            speaker: s.speaker,
            text: s.text,
            part: s.part,
            step: s.step,
        })
        .collect();
    let form = interviews::MinutesForm {
        held_at: b.held_at,
        place: b.place,
        attendees: b.attendees,
        rows,
    };
    interviews::save_minutes(&st.app, &p, InterviewId(id), b.version, &form)
        .await
        .map_err(stale_to_412)?;
    Ok(ok(interviews::view(&st.app, &p, InterviewId(id)).await?))
}

#[utoipa::path(
    post, path = "/interviews/{id}/consent", tag = "interviews",
    params(("id" = i64, Path, description = "Interview id")),
    request_body = ConsentDto,
    responses(
        (status = 200, description = "The interview with the consent recorded (who and when per statement)", body = Object),
        (status = 403, description = "The operator's administrator (or the centre on their word) records consent", body = ApiErrorBody),
        (status = 404, description = "No such interview", body = ApiErrorBody),
        (status = 412, description = "The interview changed since `version`", body = ApiErrorBody),
        (status = 422, description = "Unknown statement or usage", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn consent(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
    body: Result<ApiJson<ConsentDto>, ApiError>,
) -> Result<Response, ApiError> {
    interviews::gate(&st.app, &p, InterviewId(id), Need::Consent).await?;
    let b = json_body(body)?;
    let choices: Vec<(u32, String)> = b
        .consent
        .into_iter()
        .map(|c| (c.statement, c.usage))
        .collect();
    interviews::set_consent(&st.app, &p, InterviewId(id), b.version, &choices)
        .await
        .map_err(stale_to_412)?;
    Ok(ok(interviews::view(&st.app, &p, InterviewId(id)).await?))
}

#[utoipa::path(
    post, path = "/interviews/{id}/attachments", tag = "interviews",
    params(("id" = i64, Path, description = "Interview id"), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file's bytes, as they are"),
    responses(
        (status = 201, description = "Kept: name, type sniffed from the content, size, SHA-256", body = Object),
        (status = 404, description = "No such interview, or not the caller's organisation's", body = ApiErrorBody),
        (status = 413, description = "Over the attachment limit; nothing was kept", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn upload(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<UploadQuery>,
    body: Body,
) -> Result<Response, ApiError> {
    // Access first: someone who may not see the interview learns nothing.
    interviews::gate(&st.app, &p, InterviewId(id), Need::See).await?;
    let limit = st.max_attachment;
    let mut stream = body.into_data_stream();
    let mut buf: Vec<u8> = Vec::new();
    let mut over = false;
    let mut seen: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError(WebError::BadRequest(format!("unreadable body: {e}"))))?;
        seen += chunk.len() as u64;
        if over {
            // Read on (and drop) so the client hears why; stop at a bound.
            if seen > limit.0.saturating_mul(4) {
                break;
            }
            continue;
        }
        if seen > limit.0 {
            over = true;
            buf = Vec::new();
            continue;
        }
        buf.extend_from_slice(&chunk);
    }
    if over {
        return Err(ApiError(WebError::TooLarge(limit.refusal())));
    }
    let name = q.filename.unwrap_or_default();
    let a = interviews::upload(&st.app, &p, InterviewId(id), &name, buf, limit).await?;
    Ok(created(a))
}

#[utoipa::path(
    get, path = "/attachments/{id}", tag = "interviews",
    params(("id" = i64, Path, description = "Attachment id")),
    responses(
        (status = 200, description = "The file, as a download (never inline)", content_type = "application/octet-stream"),
        (status = 404, description = "No such file, or not the caller's organisation's", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn download(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    let (a, bytes) = interviews::download(&st.app, &p, id).await?;
    Ok(crate::render::attachment(bytes, &a.media_type, &a.filename))
}

#[utoipa::path(
    get, path = "/interviews/{id}/record", tag = "interviews",
    params(("id" = i64, Path, description = "Interview id"), RecordQuery),
    responses(
        (status = 200, description = "The interview's record in Japanese, as a download", content_type = "text/markdown"),
        (status = 404, description = "No such interview, or not the caller's organisation's", body = ApiErrorBody),
        (status = 422, description = "Unknown format", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn record(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<RecordQuery>,
) -> Result<Response, ApiError> {
    let pdf = match q.format.as_deref().unwrap_or("md") {
        "md" => false,
        "pdf" => true,
        other => {
            return Err(AppError::from(kizuki_domain::FieldError::invalid(
                "format",
                format!("「{other}」ではなく md か pdf を / md or pdf"),
            ))
            .into());
        }
    };
    let r = interviews::export::render(&st.app, &p, InterviewId(id), pdf, &st.pdf_fonts).await?;
    Ok(crate::render::attachment(
        r.bytes,
        r.content_type,
        &r.file_name,
    ))
}

#[utoipa::path(
    get, path = "/question-templates", tag = "interviews",
    responses(
        (status = 200, description = "`templates`: every case category's question template (TOML) and its questions", body = Object),
        (status = 403, description = "The centre's content staff only", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_templates(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
) -> Result<Response, ApiError> {
    Ok(ok(
        serde_json::json!({"templates": templates::all(&st.app, &p).await?}),
    ))
}

#[utoipa::path(
    put, path = "/question-templates/{category}", tag = "interviews",
    params(("category" = String, Path, description = "Case category code, e.g. `system-failure`")),
    request_body = TemplateDto,
    responses(
        (status = 200, description = "Saved", body = Object),
        (status = 403, description = "The centre's editors only", body = ApiErrorBody),
        (status = 412, description = "Changed since `version`", body = ApiErrorBody),
        (status = 422, description = "The TOML does not read (line named) or the category is unknown", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn put_template(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(category): ApiPath<String>,
    body: Result<ApiJson<TemplateDto>, ApiError>,
) -> Result<Response, ApiError> {
    p.require(&[kizuki_domain::user::Role::Editor])?;
    let b = json_body(body)?;
    let t = templates::save(&st.app, &p, &category, &b.body, b.version)
        .await
        .map_err(stale_to_412)?;
    Ok(ok(t))
}
