//! The JSON API under `/api/v1`: reports (create, get, list, update with `If-Match`, add a
//! stage), cases, surveys and the taxonomy, for bearer tokens. The OpenAPI document is built
//! from these handlers' annotations, so it cannot drift from them.

pub mod dto;
// Axum's extractors answering the API's error shape.
pub mod extract;
// The extractors' error answers in the OpenAPI document.
mod error_doc;
// Search.
pub mod search;
// Selection.
pub mod selection;
// Bulk imports through a bounded queue.
pub mod imports;
// Survey years: open, edit, start cases.
pub mod surveys;
// Sign-off of a case's anonymised text.
pub mod signoff;
// Interviews with the operators of selected cases.
pub mod interviews;
// Forwarding, points of contact, organisations enabled or not.
pub mod directory;
// Organisations, accounts, allowlists, tokens and the audit export.
pub mod admin;
// The lessons catalog: themes and tagged lessons.
pub mod lessons;
// Self-assessment, adoption figures and countermeasure follow-up.
pub mod adoption;
// Statistics of the reports the caller may read.
pub mod stats;

use crate::error::{ApiError, ApiErrorBody, WebError};
use crate::state::WebState;
use axum::Json;
use axum::extract::{DefaultBodyLimit, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dto::*;
use extract::{ApiJson, ApiPath, ApiQuery};
use kizuki_app::auth::Principal;
use kizuki_app::security::signin;
use kizuki_app::{AppError, reports, survey::cases};
use kizuki_domain::fiscal::FiscalYear;
use kizuki_domain::ids::{CaseId, OrgId, ReportId};
use kizuki_domain::report::{ReportInput, ReportStatus, StageKind};
use kizuki_domain::taxonomy::Tlp;
use kizuki_store::{Page, ReportFilter, ReportSort, StoreError};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The caller behind a bearer token.
#[derive(Debug, Clone)]
pub struct ApiUser(pub Principal);

impl FromRequestParts<WebState> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &WebState) -> Result<Self, Self::Rejection> {
        let secret = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(ApiError(WebError::App(AppError::Unauthenticated)))?;
        let addr = parts
            .extensions
            .get::<crate::security::ClientAddr>()
            .map_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), |a| a.0);
        // Fair limits: a known token over its limit is refused before any look-up.
        let now = std::time::Instant::now();
        let early = match st.limits.check_token_early(secret, now) {
            Ok(e) => e,
            Err(r) => return Err(ApiError(r.held().await)),
        };
        // The same address throttle and allowlist as the login form.
        let p = signin::with_token(&st.app, &st.security.throttle, secret, addr).await?;
        // Fair limits: charged once the caller is known, to its token and org.
        if let Err(r) = st.limits.check_api(p.org_id, secret, early, now).await {
            return Err(ApiError(r.held().await));
        }
        Ok(ApiUser(p))
    }
}

fn etag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// The version an update is based on, from `If-Match` (required: without it a client could
/// overwrite a change it never saw).
fn if_match(headers: &HeaderMap) -> Result<i64, ApiError> {
    let v = headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .ok_or(ApiError(WebError::PreconditionRequired))?;
    v.trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .parse()
        .map_err(|_| {
            ApiError(WebError::BadRequest(
                "If-Match must be a version ETag".into(),
            ))
        })
}

/// A JSON body, taken apart only after the handler has decided the caller may act: a caller
/// who may not learns nothing from how their body was judged. A body that cannot be read is
/// answered as its rejection says (400, 413, 415 or 422, in the API's error shape).
fn json_body<T>(body: Result<ApiJson<T>, ApiError>) -> Result<T, ApiError> {
    body.map(|ApiJson(b)| b)
}

/// A stale version becomes 412 with the current version, as HTTP preconditions do.
fn stale_to_412(e: AppError) -> ApiError {
    match e {
        AppError::Store(StoreError::Conflict { current, .. }) => {
            ApiError(WebError::PreconditionFailed {
                current: current.version(),
            })
        }
        other => ApiError(WebError::App(other)),
    }
}

fn with_etag<T: serde::Serialize>(status: StatusCode, version: i64, body: T) -> Response {
    let mut res = (status, Json(body)).into_response();
    res.headers_mut().insert(header::ETAG, etag(version));
    res
}

#[utoipa::path(
    get, path = "/reports", tag = "reports",
    params(ListParams),
    responses(
        (status = 200, description = "Reports visible to the caller", body = ReportPageDto),
        (status = 422, description = "`fy` is not a fiscal year", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
async fn list_reports(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiQuery(q): ApiQuery<ListParams>,
) -> Result<Json<ReportPageDto>, ApiError> {
    let fiscal_year = match q.fy.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            FiscalYear::parse(s)
                .map_err(|e| {
                    ApiError::from(kizuki_domain::FieldError::invalid(
                        "fy",
                        format!("{} / {e}", e.message_ja()),
                    ))
                })?
                .year(),
        ),
    };
    let by_occurrence = q.fy_by == Some(dto::FyBy::Occurred);
    let filter = ReportFilter {
        fiscal_year: fiscal_year.filter(|_| !by_occurrence),
        occurred_fiscal_year: fiscal_year.filter(|_| by_occurrence),
        sector: q.sector.clone(),
        event_type: q.event_type.clone(),
        cause: q.cause.clone(),
        severity: q.severity,
        status: q.status.as_deref().and_then(ReportStatus::parse),
        tlp: q.tlp.as_deref().and_then(Tlp::parse),
        org_id: q.org.map(OrgId),
        visible_orgs: None,
        visibility: None,
        sort: q
            .sort
            .as_deref()
            .and_then(ReportSort::parse)
            .unwrap_or_default(),
    };
    let page = Page::new(q.page.unwrap_or(1), q.per_page.unwrap_or(50));
    let out = reports::list(&st.app, &p, filter, page).await?;
    Ok(Json(ReportPageDto {
        items: out.items.iter().map(ReportDto::from).collect(),
        total: out.total,
        page: out.page.number,
        per_page: out.page.size,
        pages: out.pages(),
    }))
}

#[utoipa::path(
    post, path = "/reports", tag = "reports",
    request_body = ReportInputDto,
    responses(
        (status = 201, description = "Filed; the first report is the summary", body = ReportDto,
         headers(("ETag" = String, description = "The version"))),
        (status = 422, description = "Invalid fields", body = ApiErrorBody),
        (status = 403, description = "Only operators file reports", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
async fn create_report(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiJson(body): ApiJson<ReportInputDto>,
) -> Result<Response, ApiError> {
    let r = reports::file_input(&st.app, &p, &ReportInput::from(body)).await?;
    let mut res = with_etag(StatusCode::CREATED, r.version, ReportDto::from(&r));
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/reports/{}", r.id)) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

/// A report received by the centre (by phone, e-mail …) and filed as the operator's own.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct OnBehalfDto {
    /// The operator's directory key, e.g. `demo-railway`.
    org: String,
    /// `phone`, `email`, `fax`, `in_person` or `other`.
    channel: String,
    /// Who reported it (name, department, contact).
    received_from: String,
    report: ReportInputDto,
}

#[utoipa::path(
    post, path = "/reports/on-behalf", tag = "reports",
    request_body = OnBehalfDto,
    responses(
        (status = 201, description = "Filed as the operator's report; the first stage names the centre user who entered it", body = ReportDto,
         headers(("ETag" = String, description = "The version"))),
        (status = 422, description = "Invalid fields (`org`, `channel`, `received_from`, or the report's own; TLP:RED is refused)", body = ApiErrorBody),
        (status = 403, description = "Only the centre's analysts and editors file on an operator's behalf", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
async fn create_report_on_behalf(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    body: Result<ApiJson<OnBehalfDto>, ApiError>,
) -> Result<Response, ApiError> {
    p.require_analyst()?;
    let b = json_body(body)?;
    let received = reports::behalf::Received {
        org: b.org,
        channel: b.channel,
        from: b.received_from,
    };
    let r =
        reports::behalf::file_input(&st.app, &p, &received, &ReportInput::from(b.report)).await?;
    let mut res = with_etag(StatusCode::CREATED, r.version, ReportDto::from(&r));
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/reports/{}", r.id)) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

#[utoipa::path(
    get, path = "/reports/{id}", tag = "reports",
    params(("id" = i64, Path, description = "Report id")),
    responses(
        (status = 200, description = "The report", body = ReportDto,
         headers(("ETag" = String, description = "The version, for If-Match"))),
        (status = 404, description = "No such report, or not visible to the caller", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
async fn get_report(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    let r = reports::read(&st.app, &p, ReportId(id), reports::ReadVia::Api).await?;
    Ok(with_etag(StatusCode::OK, r.version, ReportDto::from(&r)))
}

#[utoipa::path(
    put, path = "/reports/{id}", tag = "reports",
    params(
        ("id" = i64, Path, description = "Report id"),
        ("If-Match" = String, Header, description = "The ETag the change is based on"),
    ),
    request_body = ReportInputDto,
    responses(
        (status = 200, description = "Updated", body = ReportDto, headers(("ETag" = String))),
        (status = 404, description = "No such report, or not visible to the caller", body = ApiErrorBody),
        (status = 412, description = "Someone changed the report since that ETag", body = ApiErrorBody),
        (status = 428, description = "If-Match is missing", body = ApiErrorBody),
        (status = 422, description = "Invalid fields", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
async fn update_report(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
    headers: HeaderMap,
    body: Result<ApiJson<ReportInputDto>, ApiError>,
) -> Result<Response, ApiError> {
    reports::get_for_edit(&st.app, &p, ReportId(id)).await?;
    let version = if_match(&headers)?;
    let details = ReportInput::from(json_body(body)?).parse(&st.app.taxonomy)?;
    let r = reports::update(&st.app, &p, ReportId(id), version, details)
        .await
        .map_err(stale_to_412)?;
    Ok(with_etag(StatusCode::OK, r.version, ReportDto::from(&r)))
}

#[utoipa::path(
    post, path = "/reports/{id}/stages", tag = "reports",
    params(("id" = i64, Path, description = "Report id")),
    request_body = StageInputDto,
    responses(
        (status = 201, description = "Stage appended", body = ReportDto, headers(("ETag" = String))),
        (status = 404, description = "No such report, or not visible to the caller", body = ApiErrorBody),
        (status = 422, description = "Invalid stage", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
async fn add_stage(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
    body: Result<ApiJson<StageInputDto>, ApiError>,
) -> Result<Response, ApiError> {
    reports::get_for_edit(&st.app, &p, ReportId(id)).await?;
    let body = json_body(body)?;
    let kind = StageKind::parse(&body.kind).ok_or_else(|| {
        ApiError::from(kizuki_domain::FieldError::new(
            "kind",
            kizuki_domain::FieldErrorKind::UnknownCode {
                code: body.kind.clone(),
            },
        ))
    })?;
    let r = reports::add_stage(&st.app, &p, ReportId(id), kind, &body.text).await?;
    Ok(with_etag(
        StatusCode::CREATED,
        r.version,
        ReportDto::from(&r),
    ))
}

#[utoipa::path(
    get, path = "/cases", tag = "cases",
    responses((status = 200, description = "Every case, by survey and number", body = Vec<CaseDto>)),
    security(("bearer" = []))
)]
async fn list_cases(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
) -> Result<Json<Vec<CaseDto>>, ApiError> {
    let all = cases::list(&st.app, &p, None).await?;
    Ok(Json(all.iter().map(CaseDto::from).collect()))
}

#[utoipa::path(
    get, path = "/cases/{id}", tag = "cases",
    params(("id" = i64, Path, description = "Case id")),
    responses(
        (status = 200, description = "The case", body = CaseDto, headers(("ETag" = String))),
        (status = 404, description = "No such case", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
async fn get_case(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    let c = cases::get(&st.app, &p, CaseId(id)).await?;
    Ok(with_etag(StatusCode::OK, c.version, CaseDto::from(&c)))
}

#[utoipa::path(
    put, path = "/cases/{id}", tag = "cases",
    params(
        ("id" = i64, Path, description = "Case id"),
        ("If-Match" = String, Header, description = "The ETag the change is based on"),
    ),
    request_body = CaseContentDto,
    responses(
        (status = 200, description = "Updated", body = CaseDto, headers(("ETag" = String))),
        (status = 404, description = "No such case", body = ApiErrorBody),
        (status = 412, description = "Someone changed the case since that ETag", body = ApiErrorBody),
        (status = 428, description = "If-Match is missing", body = ApiErrorBody),
        (status = 422, description = "Invalid case", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
async fn update_case(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
    headers: HeaderMap,
    body: Result<ApiJson<CaseContentDto>, ApiError>,
) -> Result<Response, ApiError> {
    // Decided before the body is looked at: a caller who may not write learns nothing more.
    cases::require_case_edit(&st.app, &p, CaseId(id)).await?;
    let version = if_match(&headers)?;
    let content = json_body(body)?.into_content()?.parse(&st.app.taxonomy)?;
    let c = cases::update(&st.app, &p, CaseId(id), version, content)
        .await
        .map_err(stale_to_412)?;
    Ok(with_etag(StatusCode::OK, c.version, CaseDto::from(&c)))
}

/// Who a report is shared with: organisations (TLP:AMBER) and people (TLP:RED), by id.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SharingDto {
    #[serde(default)]
    pub orgs: Vec<i64>,
    #[serde(default)]
    pub users: Vec<i64>,
    /// The report's version the change is based on; a report changed since is refused with
    /// 412 and `current_version`. Left out, the change applies to whatever is current.
    /// Answered with the version the change made.
    #[serde(default)]
    pub version: Option<i64>,
}

#[utoipa::path(
    get, path = "/reports/{id}/sharing", tag = "reports",
    params(("id" = i64, Path, description = "Report id")),
    responses(
        (status = 200, description = "The report's sharing: `orgs` and `users` with `chosen`; the choices only for those who may change it", body = Object),
        (status = 404, description = "No such report, or not visible to the caller", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
async fn get_sharing(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    let v = reports::sharing::view(&st.app, &p, ReportId(id)).await?;
    Ok((StatusCode::OK, Json(v)).into_response())
}

#[utoipa::path(
    put, path = "/reports/{id}/sharing", tag = "reports",
    params(("id" = i64, Path, description = "Report id")),
    request_body = SharingDto,
    responses(
        (status = 200, description = "Saved; takes effect at once in lists, search and exports", body = SharingDto),
        (status = 403, description = "Only the report's organisation and the centre's staff set sharing", body = ApiErrorBody),
        (status = 404, description = "No such report, or not visible to the caller", body = ApiErrorBody),
        (status = 412, description = "The report changed since `version`", body = ApiErrorBody),
        (status = 422, description = "An unknown or disabled organisation, or an inactive person (`orgs[i]`, `users[i]`)", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
async fn put_sharing(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
    body: Result<ApiJson<SharingDto>, ApiError>,
) -> Result<Response, ApiError> {
    let r = reports::get(&st.app, &p, ReportId(id)).await?;
    if !kizuki_app::auth::can_edit(&st.app, &p, &r).await? {
        return Err(ApiError(WebError::App(AppError::Forbidden(
            "sharing is set by the report's organisation and the centre's staff".into(),
        ))));
    }
    let b = json_body(body)?;
    let orgs: Vec<OrgId> = b.orgs.into_iter().map(OrgId).collect();
    let users: Vec<kizuki_domain::ids::UserId> = b
        .users
        .into_iter()
        .map(kizuki_domain::ids::UserId)
        .collect();
    let saved = reports::sharing::set(&st.app, &p, ReportId(id), b.version, &orgs, &users)
        .await
        .map_err(stale_to_412)?;
    Ok((
        StatusCode::OK,
        Json(serde_json::json!({
            "orgs": saved.sharing.orgs.iter().map(|o| o.0).collect::<Vec<_>>(),
            "users": saved.sharing.users.iter().map(|u| u.0).collect::<Vec<_>>(),
            "version": saved.version,
        })),
    )
        .into_response())
}

#[utoipa::path(
    get, path = "/surveys", tag = "surveys",
    responses((status = 200, description = "Every survey", body = Vec<SurveyDto>)),
    security(("bearer" = []))
)]
async fn list_surveys(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
) -> Result<Json<Vec<SurveyDto>>, ApiError> {
    let mut out = Vec::new();
    for s in cases::surveys(&st.app, &p).await? {
        let year = s.content.fiscal_year.year();
        let cs = cases::list(&st.app, &p, Some(year)).await?;
        out.push(SurveyDto::new(&s, &cs));
    }
    Ok(Json(out))
}

#[utoipa::path(
    get, path = "/surveys/{year}", tag = "surveys",
    params(("year" = i32, Path, description = "Fiscal year, e.g. 2019")),
    responses(
        (status = 200, description = "The survey", body = SurveyDto, headers(("ETag" = String))),
        (status = 404, description = "No survey that year", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
async fn get_survey(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(year): ApiPath<i32>,
) -> Result<Response, ApiError> {
    let v = cases::survey(&st.app, &p, year).await?;
    Ok(with_etag(
        StatusCode::OK,
        v.survey.version,
        SurveyDto::new(&v.survey, &v.cases),
    ))
}

#[utoipa::path(
    get, path = "/taxonomy", tag = "taxonomy",
    responses((status = 200, description = "The classification vocabularies", body = TaxonomyDto)),
    security(("bearer" = []))
)]
async fn taxonomy(State(st): State<WebState>, ApiUser(_): ApiUser) -> Json<TaxonomyDto> {
    Json(TaxonomyDto::from(st.app.taxonomy.as_ref()))
}

async fn openapi_json(State(st): State<WebState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        st.openapi.as_ref().clone(),
    )
        .into_response()
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "kizuki API",
        description = "Incident reports (情報連絡), cases and surveys. Tokens: `kizuki token create --email EMAIL`. Every error, 4xx and 5xx, is `{code, message_ja, message_en, fields}` (`fields` for `validation`: one entry per field, also for a body of the wrong shape; `current_version` with 412); a 429 carries `Retry-After`. Updates need `If-Match` with the ETag they are based on.",
    ),
    modifiers(&BearerAuth),
    components(schemas(ApiErrorBody))
)]
struct ApiDoc;

/// The API's routes and the OpenAPI document describing them.
pub fn router() -> (axum::Router<WebState>, utoipa::openapi::OpenApi) {
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(list_reports, create_report))
        .routes(routes!(create_report_on_behalf))
        .routes(routes!(get_report, update_report))
        .routes(routes!(add_stage))
        .routes(routes!(get_sharing, put_sharing))
        // Forwarding, points of contact, organisations enabled or not.
        .routes(routes!(directory::list_forwards, directory::forward))
        .routes(routes!(directory::forwarded))
        .routes(routes!(directory::contact_books))
        .routes(routes!(directory::get_contacts, directory::put_contacts))
        .routes(routes!(directory::set_active))
        .routes(routes!(directory::edit_org))
        .routes(routes!(admin::list_orgs, admin::add_org))
        .routes(routes!(admin::list_users, admin::add_user))
        .routes(routes!(admin::set_user_active))
        .routes(routes!(admin::set_user_role))
        .routes(routes!(admin::get_allowlist, admin::edit_allowlist))
        .routes(routes!(admin::list_tokens, admin::issue_token))
        .routes(routes!(admin::revoke_token))
        .routes(routes!(admin::export_audit))
        .routes(routes!(lessons::list_themes, lessons::add_theme))
        .routes(routes!(lessons::get_theme, lessons::put_theme))
        .routes(routes!(
            lessons::get_lesson_themes,
            lessons::put_lesson_themes
        ))
        .routes(routes!(adoption::get_assessment))
        .routes(routes!(adoption::assessment_history, adoption::put_answer))
        .routes(routes!(adoption::get_adoption))
        .routes(routes!(adoption::list_followups))
        .routes(routes!(adoption::completion))
        .routes(routes!(adoption::case_followups, adoption::add_followup))
        .routes(routes!(adoption::get_followup, adoption::put_followup))
        .routes(routes!(stats::get_stats))
        .routes(routes!(stats::get_trend))
        .routes(routes!(list_cases))
        .routes(routes!(get_case, update_case))
        .routes(routes!(list_surveys, surveys::open_survey))
        .routes(routes!(get_survey, surveys::update_survey))
        .routes(routes!(surveys::create_case))
        .routes(routes!(surveys::get_cooperation, surveys::post_cooperation))
        .routes(routes!(
            surveys::get_replacement,
            surveys::accept_replacement
        ))
        .routes(routes!(surveys::list_editions, surveys::publish_edition))
        .routes(routes!(selection::reopen_selection))
        .routes(routes!(signoff::get_signoff))
        .routes(routes!(signoff::answer))
        .routes(routes!(signoff::action))
        .routes(routes!(signoff::get_review))
        .routes(routes!(signoff::decide))
        // Interviews with the operators of selected cases.
        .routes(routes!(interviews::inbox))
        .routes(routes!(interviews::case_interviews, interviews::request))
        .routes(routes!(interviews::get_interview))
        .routes(routes!(interviews::resend))
        .routes(routes!(interviews::answer))
        .routes(routes!(interviews::add_questions))
        .routes(routes!(interviews::save_answer))
        .routes(routes!(interviews::save_minutes))
        .routes(routes!(interviews::consent))
        .routes(routes!(interviews::upload))
        .routes(routes!(interviews::download))
        .routes(routes!(interviews::record))
        .routes(routes!(interviews::list_templates))
        .routes(routes!(interviews::put_template))
        // Selection.
        .routes(routes!(selection::get_selection, selection::post_selection))
        .routes(routes!(taxonomy))
        // Search.
        .routes(routes!(search::search))
        .routes(routes!(search::similar_report))
        // Bulk imports.
        .routes(routes!(imports::post_bulk))
        .routes(routes!(imports::get_import))
        .split_for_parts();
    doc.servers = Some(vec![utoipa::openapi::Server::new("/api/v1")]);
    error_doc::add_error_answers(&mut doc);
    let router = router
        .route("/openapi.json", axum::routing::get(openapi_json))
        .fallback(|| async { ApiError(WebError::NotFound) })
        // Stated rather than left to axum's default, so the 413 message can name it.
        .layer(DefaultBodyLimit::max(extract::BODY_LIMIT));
    (router, doc)
}
