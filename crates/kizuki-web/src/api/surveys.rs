//! Running a survey year over the API: open a year (`POST /surveys`, optionally copying an
//! earlier one), edit its content and common lessons (`PUT /surveys/{year}` with `If-Match`),
//! start a case from reports or blank (`POST /surveys/{year}/cases`), record the operators'
//! cooperation (`/cases/{id}/cooperation`), take a declined case's replacement
//! (`/surveys/{year}/replacement`), and approve and publish the year (`/surveys/{year}/editions`).

use super::dto::{CaseDto, SurveyDto};
use super::extract::{ApiJson, ApiPath};
use super::{ApiUser, if_match, json_body, stale_to_412, with_etag};
use crate::error::{ApiError, ApiErrorBody, WebError};
use crate::state::WebState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use kizuki_app::AppError;
use kizuki_app::publication::year as edition;
use kizuki_app::survey::authoring::{self, CaseStart};
use kizuki_app::survey::{cases, cooperation, year};
use kizuki_domain::ids::{CaseId, ReportId};
use kizuki_domain::survey::{CommonLesson, Criterion, SurveyContent};
use kizuki_domain::taxonomy::Code;
use kizuki_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A selection criterion with its weight (0 to 10).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CriterionInputDto {
    pub key: String,
    pub label: String,
    pub label_en: String,
    #[serde(default)]
    pub description: String,
    /// Main criteria come first in the report; the others are "also considered".
    pub main: bool,
    pub weight: f64,
}

impl From<CriterionInputDto> for Criterion {
    fn from(c: CriterionInputDto) -> Criterion {
        Criterion {
            key: c.key,
            label: c.label,
            label_en: c.label_en,
            description: c.description,
            main: c.main,
            weight: c.weight,
        }
    }
}

/// A lesson common to several cases; `cases` are case numbers of the same survey.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommonLessonInputDto {
    #[serde(default)]
    pub title: String,
    /// A case category code (`system-failure`, `cyber-attack`, `internal-incident`).
    pub category: String,
    pub text: String,
    pub cases: Vec<u32>,
}

impl From<CommonLessonInputDto> for CommonLesson {
    fn from(l: CommonLessonInputDto) -> CommonLesson {
        CommonLesson {
            title: l.title,
            category: Code(l.category),
            text: l.text,
            cases: l.cases,
        }
    }
}

/// Opening a year: `fiscal_year`, optionally `from` (an earlier year to copy), and any field
/// to set instead of the copied or default one.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenSurveyDto {
    pub fiscal_year: i32,
    #[serde(default)]
    pub from: Option<i32>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub period_start: Option<NaiveDate>,
    #[serde(default)]
    pub period_end: Option<NaiveDate>,
    #[serde(default)]
    pub purpose: Option<String>,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub criteria_intro: Option<String>,
    #[serde(default)]
    pub criteria: Option<Vec<CriterionInputDto>>,
    #[serde(default)]
    pub remarks: Option<Vec<String>>,
}

/// A survey's whole content as it is to be saved (the year itself is the path's).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SurveyContentDto {
    pub title: String,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub purpose: String,
    pub method: String,
    pub criteria_intro: String,
    pub criteria: Vec<CriterionInputDto>,
    #[serde(default)]
    pub remarks: Vec<String>,
    #[serde(default)]
    pub common_lessons: Vec<CommonLessonInputDto>,
}

/// A new case: from `reports` (the first is the one it is filed under) or, with none, blank.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct NewCaseDto {
    pub reports: Vec<i64>,
    /// A case category code; decided from the first report's event type and causes when
    /// absent.
    pub category: Option<String>,
}

fn location(res: &mut Response, path: &str) {
    if let Ok(v) = HeaderValue::from_str(path) {
        res.headers_mut().insert(header::LOCATION, v);
    }
}

async fn survey_answer(
    st: &WebState,
    p: &kizuki_app::auth::Principal,
    status: StatusCode,
    y: i32,
) -> Result<Response, ApiError> {
    let v = cases::survey(&st.app, p, y).await?;
    let mut res = with_etag(
        status,
        v.survey.version,
        SurveyDto::new(&v.survey, &v.cases),
    );
    location(&mut res, &format!("/api/v1/surveys/{y}"));
    Ok(res)
}

#[utoipa::path(
    post, path = "/surveys", tag = "surveys",
    request_body = OpenSurveyDto,
    responses(
        (status = 201, description = "The year is open", body = SurveyDto,
         headers(("ETag" = String), ("Location" = String))),
        (status = 403, description = "Only the centre's staff open surveys", body = ApiErrorBody),
        (status = 409, description = "The year is open already; `Location` names it", body = ApiErrorBody,
         headers(("Location" = String))),
        (status = 422, description = "Invalid survey; `fields` names each problem", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn open_survey(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    body: Result<ApiJson<OpenSurveyDto>, ApiError>,
) -> Result<Response, ApiError> {
    kizuki_app::survey::cases::require_writer(&st.app, &p).await?;
    let b = json_body(body)?;
    let y = b.fiscal_year;
    let mut c: SurveyContent = year::prefill(&st.app, &p, y, b.from).await?;
    if let Some(v) = b.title {
        c.title = v;
    }
    if let Some(v) = b.period_start {
        c.period_start = v;
    }
    if let Some(v) = b.period_end {
        c.period_end = v;
    }
    if let Some(v) = b.purpose {
        c.purpose = v;
    }
    if let Some(v) = b.method {
        c.method = v;
    }
    if let Some(v) = b.criteria_intro {
        c.criteria_intro = v;
    }
    if let Some(v) = b.criteria {
        c.criteria = v.into_iter().map(Criterion::from).collect();
    }
    if let Some(v) = b.remarks {
        c.remarks = v;
    }
    match year::open(&st.app, &p, c).await {
        Ok(_) => survey_answer(&st, &p, StatusCode::CREATED, y).await,
        Err(e @ AppError::Store(StoreError::Duplicate { .. })) => {
            let mut res = ApiError(WebError::App(e)).into_response();
            location(&mut res, &format!("/api/v1/surveys/{y}"));
            Ok(res)
        }
        Err(e) => Err(e.into()),
    }
}

#[utoipa::path(
    put, path = "/surveys/{year}", tag = "surveys",
    params(
        ("year" = i32, Path, description = "Fiscal year, e.g. 2020"),
        ("If-Match" = String, Header, description = "The ETag the change is based on"),
    ),
    request_body = SurveyContentDto,
    responses(
        (status = 200, description = "Saved", body = SurveyDto, headers(("ETag" = String))),
        (status = 404, description = "No survey that year", body = ApiErrorBody),
        (status = 412, description = "Someone changed the survey since that ETag", body = ApiErrorBody),
        (status = 428, description = "If-Match is missing", body = ApiErrorBody),
        (status = 422, description = "Invalid survey, e.g. a common lesson citing a case the survey does not have (`common_lessons[0].cases[1]`)", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn update_survey(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(y): ApiPath<i32>,
    headers: HeaderMap,
    body: Result<ApiJson<SurveyContentDto>, ApiError>,
) -> Result<Response, ApiError> {
    let current = year::require_edit(&st.app, &p, y).await?;
    let version = if_match(&headers)?;
    let b = json_body(body)?;
    let content = SurveyContent {
        fiscal_year: current.content.fiscal_year,
        title: b.title,
        period_start: b.period_start,
        period_end: b.period_end,
        purpose: b.purpose,
        method: b.method,
        criteria_intro: b.criteria_intro,
        criteria: b.criteria.into_iter().map(Criterion::from).collect(),
        remarks: b.remarks,
        common_lessons: b
            .common_lessons
            .into_iter()
            .map(CommonLesson::from)
            .collect(),
    };
    year::edit(&st.app, &p, y, version, content)
        .await
        .map_err(stale_to_412)?;
    survey_answer(&st, &p, StatusCode::OK, y).await
}

#[utoipa::path(
    post, path = "/surveys/{year}/cases", tag = "surveys",
    params(("year" = i32, Path, description = "Fiscal year, e.g. 2020")),
    request_body = NewCaseDto,
    responses(
        (status = 201, description = "The case, prefilled from the reports, numbered after the survey's last case",
         body = CaseDto, headers(("ETag" = String), ("Location" = String))),
        (status = 404, description = "No survey that year", body = ApiErrorBody),
        (status = 422, description = "A report that does not exist, is listed twice or is already a case of the survey (`reports[i]`)", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_case(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(y): ApiPath<i32>,
    body: Result<ApiJson<NewCaseDto>, ApiError>,
) -> Result<Response, ApiError> {
    year::require_edit(&st.app, &p, y).await?;
    let b = json_body(body)?;
    let start = CaseStart {
        reports: b.reports.into_iter().map(ReportId).collect(),
        category: b.category.map(Code),
    };
    let c = authoring::create(&st.app, &p, y, start).await?;
    let mut res = with_etag(StatusCode::CREATED, c.version, CaseDto::from(&c));
    location(&mut res, &format!("/api/v1/cases/{}", c.id));
    Ok(res)
}

/// An entry of a case's cooperation record.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CooperationEntryDto {
    /// How many entries the caller has seen (the history's length); another count is 412.
    pub seq: u32,
    /// `requested` (the centre only), `agreed` or `declined` (which needs a `reason`).
    pub status: String,
    /// The day of the request or answer, e.g. `2020-05-07` or `令和2年5月7日`.
    pub on: String,
    #[serde(default)]
    pub contact: String,
    #[serde(default)]
    pub reason: String,
}

#[utoipa::path(
    get, path = "/cases/{id}/cooperation", tag = "surveys",
    params(("id" = i64, Path, description = "Case id")),
    responses(
        (status = 200, description = "The case's cooperation record: `history` oldest first, `status` the latest", body = Object),
        (status = 404, description = "No such case, or not the caller's organisation's", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_cooperation(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    let v = cooperation::view(&st.app, &p, CaseId(id)).await?;
    Ok((StatusCode::OK, Json(v)).into_response())
}

#[utoipa::path(
    post, path = "/cases/{id}/cooperation", tag = "surveys",
    params(("id" = i64, Path, description = "Case id")),
    request_body = CooperationEntryDto,
    responses(
        (status = 201, description = "Recorded; for a decline the case left its survey and `replacement` is the candidate offered instead", body = Object),
        (status = 400, description = "Nothing awaits the operator's answer, or a common lesson cites the case", body = ApiErrorBody),
        (status = 404, description = "No such case, or not the caller's organisation's", body = ApiErrorBody),
        (status = 412, description = "Someone recorded an entry since (`seq` is stale)", body = ApiErrorBody),
        (status = 422, description = "Invalid entry, e.g. a decline without its reason", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn post_cooperation(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
    body: Result<ApiJson<CooperationEntryDto>, ApiError>,
) -> Result<Response, ApiError> {
    cooperation::view(&st.app, &p, CaseId(id)).await?;
    let b = json_body(body)?;
    let entry = cooperation::Entry::parse(&b.status, &b.on, &b.contact, &b.reason)?;
    let done = cooperation::record(&st.app, &p, CaseId(id), b.seq, entry)
        .await
        .map_err(stale_to_412)?;
    Ok((StatusCode::CREATED, Json(done)).into_response())
}

/// The candidate offered in place of declined cases.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplacementDto {
    pub report_id: i64,
    pub title: String,
    pub category: Option<String>,
    /// Why the selection's rules pick it (Japanese).
    pub why: String,
    /// The same in English.
    pub why_en: String,
}

/// What is on offer now: `replacement` is `null` when nothing is (no case declined, no
/// selection, or no candidate keeps the rules).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplacementOfferDto {
    pub replacement: Option<ReplacementDto>,
}

#[utoipa::path(
    get, path = "/surveys/{year}/replacement", tag = "surveys",
    params(("year" = i32, Path, description = "Fiscal year, e.g. 2020")),
    responses(
        (status = 200, description = "The candidate offered in place of declined cases", body = ReplacementOfferDto),
        (status = 403, description = "Only analysts select cases", body = ApiErrorBody),
        (status = 404, description = "No survey that year", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_replacement(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(y): ApiPath<i32>,
) -> Result<Json<ReplacementOfferDto>, ApiError> {
    let r = cooperation::replacement(&st.app, &p, y).await?;
    Ok(Json(ReplacementOfferDto {
        replacement: r.map(|r| ReplacementDto {
            report_id: r.report_id.0,
            title: r.title,
            category: r.category.map(|c| c.0),
            why: r.why,
            why_en: r.why_en,
        }),
    }))
}

/// Accepting the replacement on offer.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptReplacementDto {
    /// The report on offer (a stale offer is refused on this field).
    pub report_id: i64,
    /// Who at its operator is asked to cooperate.
    #[serde(default)]
    pub contact: String,
}

#[utoipa::path(
    post, path = "/surveys/{year}/replacement", tag = "surveys",
    params(("year" = i32, Path, description = "Fiscal year, e.g. 2020")),
    request_body = AcceptReplacementDto,
    responses(
        (status = 201, description = "The replacement's case, with the cooperation request recorded", body = CaseDto,
         headers(("ETag" = String), ("Location" = String))),
        (status = 400, description = "No replacement is on offer", body = ApiErrorBody),
        (status = 422, description = "`report_id` is not the one on offer", body = ApiErrorBody),
        (status = 403, description = "Only analysts select cases", body = ApiErrorBody),
        (status = 404, description = "No survey that year", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn accept_replacement(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(y): ApiPath<i32>,
    body: Result<ApiJson<AcceptReplacementDto>, ApiError>,
) -> Result<Response, ApiError> {
    p.require_analyst()?;
    let b = json_body(body)?;
    let c =
        cooperation::accept_replacement(&st.app, &p, y, ReportId(b.report_id), &b.contact).await?;
    let mut res = with_etag(StatusCode::CREATED, c.version, CaseDto::from(&c));
    location(&mut res, &format!("/api/v1/cases/{}", c.id));
    Ok(res)
}

#[utoipa::path(
    get, path = "/surveys/{year}/editions", tag = "surveys",
    params(("year" = i32, Path, description = "Fiscal year, e.g. 2020")),
    responses(
        (status = 200, description = "The published editions of the year's annual report, oldest first", body = Vec<EditionDto>),
    ),
    security(("bearer" = []))
)]
pub async fn list_editions(
    State(st): State<WebState>,
    ApiUser(_): ApiUser,
    ApiPath(y): ApiPath<i32>,
) -> Result<Json<Vec<EditionDto>>, ApiError> {
    let e = edition::editions(&st.app, y).await?;
    Ok(Json(
        e.into_iter()
            .map(|e| EditionDto {
                survey_year: e.survey_year,
                number: e.number,
                published_at: e.published_at.to_rfc3339(),
                cases: e.cases,
                left_out: e.left_out,
                pdf: format!("/public/surveys/{}-v{}.pdf", e.survey_year, e.number),
            })
            .collect(),
    ))
}

/// A published edition of a year's annual report.
#[derive(Debug, Serialize, ToSchema)]
pub struct EditionDto {
    pub survey_year: i32,
    pub number: u32,
    pub published_at: String,
    /// Cases in it, and cases of the survey left out of it.
    pub cases: usize,
    pub left_out: usize,
    /// Where its PDF is (`.md` and the page beside it).
    pub pdf: String,
}

#[utoipa::path(
    post, path = "/surveys/{year}/editions", tag = "surveys",
    params(("year" = i32, Path, description = "Fiscal year, e.g. 2020")),
    responses(
        (status = 201, description = "Approved and published: a new edition of the annual report from the cases published now; declined, withdrawn or unapproved ones are left out and the numbers close up", body = Object,
         headers(("Location" = String))),
        (status = 400, description = "No case of the survey is published yet", body = ApiErrorBody),
        (status = 403, description = "Only the centre's editors publish", body = ApiErrorBody),
        (status = 404, description = "No survey that year", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn publish_edition(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(y): ApiPath<i32>,
) -> Result<Response, ApiError> {
    let e = edition::publish(&st.app, &p, y).await?;
    let body = serde_json::json!({"survey_year": e.survey_year, "number": e.number,
                                  "published_at": e.published_at,
                                  "pdf": format!("/public/surveys/{y}-v{}.pdf", e.number)});
    let mut res = (StatusCode::CREATED, Json(body)).into_response();
    location(&mut res, &format!("/public/surveys/{y}-v{}", e.number));
    Ok(res)
}
