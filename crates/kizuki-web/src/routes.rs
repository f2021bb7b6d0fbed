//! The route table (security, issue 6): every route the server answers, with the access
//! class its handler enforces. The router refuses any matched route missing here (fail
//! closed), and the authorisation matrix test walks this table, so a new route cannot escape
//! classification.

use axum::extract::{MatchedPath, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// What a route's handler decides with `access::decide`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteClass {
    /// Anyone: landing page, login form, static files, the public portal, health.
    Public,
    /// The second login step (only with a half-finished login in the session).
    LoginStep,
    /// Any signed-in member; lists inside are filtered by `report_visibility`.
    Member,
    /// File a report (an operator's staff, for their own organisation).
    ReportCreate,
    /// One report, read (`Action::Read`); denial is "not found".
    ReportRead,
    /// One report, details or stages (`Action::Edit`).
    ReportEdit,
    /// One report, classify and link (`Action::Triage`).
    ReportTriage,
    /// One case or survey, read.
    CaseRead,
    /// Write cases, anonymise, select (the centre's content staff).
    CaseWrite,
    /// A case's sign-off page (its source operator, and the centre).
    CaseSignOff,
    /// The audit log (the system administrator).
    AuditLog,
}

/// One route: method, path as registered (axum syntax), class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteSpec {
    pub method: &'static str,
    pub path: &'static str,
    pub class: RouteClass,
}

const fn r(method: &'static str, path: &'static str, class: RouteClass) -> RouteSpec {
    RouteSpec {
        method,
        path,
        class,
    }
}

/// Every route, pages and API.
pub fn route_table() -> Vec<RouteSpec> {
    use RouteClass::*;
    vec![
        r("GET", "/", Public),
        r("GET", "/login", Public),
        r("POST", "/login", Public),
        r("GET", "/login/mfa", LoginStep),
        r("POST", "/login/mfa", LoginStep),
        r("GET", "/login/mfa/enrol", LoginStep),
        r("POST", "/login/mfa/enrol", LoginStep),
        r("POST", "/logout", Public),
        r("POST", "/lang", Public),
        r("GET", "/healthz", Public),
        r("GET", "/static/{name}", Public),
        r("GET", "/public", Public),
        r("GET", "/public/report.css", Public),
        r("GET", "/public/cases/{file}", Public),
        r("GET", "/public/surveys/{file}", Public),
        r("GET", "/audit", AuditLog),
        r("GET", "/reports", Member),
        r("POST", "/reports", ReportCreate),
        r("GET", "/reports.csv", Member),
        r("GET", "/reports/new", ReportCreate),
        r("POST", "/reports/incident", ReportTriage),
        r("GET", "/reports/{id}", ReportRead),
        r("GET", "/reports/{id}/edit", ReportEdit),
        r("POST", "/reports/{id}/edit", ReportEdit),
        r("POST", "/reports/{id}/stages", ReportEdit),
        r("GET", "/reports/{id}/triage", ReportTriage),
        r("POST", "/reports/{id}/triage", ReportTriage),
        r("POST", "/reports/{id}/links", ReportTriage),
        r("POST", "/reports/{id}/links/{other}/delete", ReportTriage),
        r("GET", "/cases", Member),
        r("POST", "/cases/preview", CaseWrite),
        r("GET", "/cases/{id}", CaseRead),
        r("GET", "/cases/{id}/edit", CaseWrite),
        r("POST", "/cases/{id}/edit", CaseWrite),
        r("GET", "/cases/{id}/anonymise", CaseWrite),
        r("POST", "/cases/{id}/anonymise/decisions", CaseWrite),
        r("POST", "/cases/{id}/anonymise/map", CaseWrite),
        r("GET", "/cases/{id}/anonymised.svg", CaseWrite),
        r("GET", "/cases/{id}/signoff", CaseSignOff),
        r("POST", "/cases/{id}/signoff", CaseSignOff),
        r("POST", "/cases/{id}/signoff/action", CaseWrite),
        r("GET", "/surveys", Member),
        r("GET", "/surveys/{year}", CaseRead),
        r("GET", "/surveys/{year}/report/{format}", CaseRead),
        r("GET", "/surveys/{year}/selection", CaseWrite),
        r("POST", "/surveys/{year}/selection", CaseWrite),
        r("POST", "/surveys/{year}/selection/overrides", CaseWrite),
        r(
            "POST",
            "/surveys/{year}/selection/overrides/delete",
            CaseWrite,
        ),
        r("POST", "/surveys/{year}/selection/weights", CaseWrite),
        r("POST", "/surveys/{year}/selection/confirm", CaseWrite),
        r("GET", "/lessons", Member),
        r("POST", "/presence", Member),
        // The API (bearer tokens).
        r("GET", "/api/v1/openapi.json", Public),
        r("GET", "/api/v1/reports", Member),
        r("POST", "/api/v1/reports", ReportCreate),
        r("GET", "/api/v1/reports/{id}", ReportRead),
        r("PUT", "/api/v1/reports/{id}", ReportEdit),
        r("POST", "/api/v1/reports/{id}/stages", ReportEdit),
        r("GET", "/api/v1/cases", Member),
        r("GET", "/api/v1/cases/{id}", CaseRead),
        r("PUT", "/api/v1/cases/{id}", CaseWrite),
        r("GET", "/api/v1/surveys", Member),
        r("GET", "/api/v1/surveys/{year}", CaseRead),
        r("GET", "/api/v1/surveys/{year}/selection", CaseWrite),
        r("POST", "/api/v1/surveys/{year}/selection", CaseWrite),
        r("GET", "/api/v1/taxonomy", Member),
    ]
}

/// The class of a matched route, if the table has it.
pub fn class_of(method: &str, path: &str) -> Option<RouteClass> {
    // HEAD is answered by GET routes.
    let method = if method == "HEAD" { "GET" } else { method };
    route_table()
        .into_iter()
        .find(|s| s.method == method && s.path == path)
        .map(|s| s.class)
}

/// Refuses a request to a route the table does not classify: such a route was added without
/// deciding who may use it, so nobody may until someone does.
pub async fn require_classified(req: Request, next: Next) -> Response {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    match path {
        Some(p) if class_of(req.method().as_str(), &p).is_none() => {
            tracing::error!(path = %p, method = %req.method(), "route is not in the route table");
            (StatusCode::INTERNAL_SERVER_ERROR, "unclassified route").into_response()
        }
        _ => next.run(req).await,
    }
}
