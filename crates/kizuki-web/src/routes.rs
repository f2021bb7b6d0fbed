//! The route table (security): every route the server answers, with the access
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
    /// File a report on an operator's behalf (the centre's analysts and editors).
    ReportOnBehalf,
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
    /// A selected case's cooperation record (its source operator, and the centre's content
    /// staff); anyone else is told it does not exist.
    CaseCooperation,
    /// Approve and publish a survey year's annual report (the centre's editors).
    SurveyPublish,
    /// An organisation's administration: its own for an operator admin, any for the
    /// system administrator; another organisation's is "not found".
    OrgManage,
    /// The audit log (the system administrator).
    AuditLog,
    /// The centre's administration of the whole directory (the system administrator); anyone
    /// else is told the page does not exist.
    SystemAdmin,
    /// An interview of a selected case, read, its files and record downloaded, a file
    /// attached: the case's source operator's staff and the centre's content staff; anyone
    /// else is told it does not exist.
    Interview,
    /// Answer an interview request (the source operator's administrator).
    InterviewReply,
    /// Write answers to an interview's questions (the source operator's staff).
    InterviewAnswer,
    /// Record the operator's consent to the use of statements (the source operator's
    /// administrator, or the centre's content staff on their word).
    InterviewConsent,
    /// Change the interview question templates (the centre's editors).
    TemplateEdit,
    /// Forward one CLEAR or GREEN report to organisations (`Action::Forward`: a ministry,
    /// the centre's content staff); on a report the viewer cannot read, "not found".
    ReportForward,
    /// One organisation's points of contact, read: its own members, the centre, and the
    /// ministry overseeing its sector; anyone else is told it does not exist.
    ContactsRead,
    /// Add and edit lesson themes (the centre's editors).
    ThemeEdit,
    /// An operator's self-assessment, read: its own staff and the centre; anyone else is
    /// told it does not exist.
    Assessment,
    /// Answer an operator's self-assessment (its administrator).
    AssessmentAnswer,
    /// The follow-up pages: an operator's own items, or the centre's analysts' and editors'
    /// view of completion.
    FollowUps,
    /// One follow-up item, read: its organisation's staff and the centre; anyone else is told
    /// it does not exist.
    FollowUpRead,
    /// Make or edit a follow-up item (an operator's staff, for their own organisation).
    FollowUpKeep,
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
        // Accounts: the signed-in user's own password.
        r("GET", "/account/password", Member),
        r("POST", "/account/password", Member),
        r("GET", "/account/tokens", Member),
        r("POST", "/account/tokens", Member),
        r("POST", "/account/tokens/{id}/revoke", Member),
        // One's own second factor.
        r("GET", "/account/mfa", Member),
        r("POST", "/account/mfa/start", Member),
        r("POST", "/account/mfa/confirm", Member),
        r("POST", "/account/mfa/recovery-codes", Member),
        r("POST", "/account/mfa/reset", Member),
        r("GET", "/org/users", OrgManage),
        r("POST", "/org/users", OrgManage),
        r("GET", "/org/allowlist", OrgManage),
        r("POST", "/org/allowlist", OrgManage),
        r("POST", "/org/allowlist/remove", OrgManage),
        r("GET", "/org/tokens", OrgManage),
        r("POST", "/org/tokens", OrgManage),
        r("POST", "/org/tokens/{id}/revoke", OrgManage),
        r("GET", "/admin/orgs", SystemAdmin),
        r("POST", "/admin/orgs", SystemAdmin),
        r("GET", "/admin/orgs/{id}", SystemAdmin),
        r("POST", "/admin/orgs/{id}", SystemAdmin),
        r("POST", "/admin/orgs/{id}/disable", SystemAdmin),
        r("POST", "/admin/orgs/{id}/enable", SystemAdmin),
        // Everyone reads their own organisation's contacts; its admins change them.
        r("GET", "/org/contacts", Member),
        r("POST", "/org/contacts", OrgManage),
        r("GET", "/orgs/{id}/contacts", ContactsRead),
        r("POST", "/orgs/{id}/contacts", OrgManage),
        // The list holds only the organisations whose contacts the viewer may read.
        r("GET", "/contacts", Member),
        // Reports forwarded to one's own organisation.
        r("GET", "/forwarded", Member),
        r("POST", "/org/users/{id}/disable", OrgManage),
        r("POST", "/org/users/{id}/enable", OrgManage),
        r("POST", "/org/users/{id}/role", OrgManage),
        r("POST", "/lang", Public),
        r("GET", "/healthz", Public),
        // Metrics: no session; the handler admits loopback or the metrics token.
        r("GET", "/metrics", Public),
        r("GET", "/static/{name}", Public),
        r("GET", "/public", Public),
        r("GET", "/public/report.css", Public),
        r("GET", "/public/cases/{file}", Public),
        r("GET", "/public/surveys/{file}", Public),
        r("GET", "/public/lessons", Public),
        r("GET", "/public/stats", Public),
        r("GET", "/public/lessons/{key}", Public),
        r("GET", "/audit", AuditLog),
        r("GET", "/audit/export", AuditLog),
        r("GET", "/reports", Member),
        r("POST", "/reports", ReportCreate),
        r("GET", "/reports.csv", Member),
        r("GET", "/reports/new", ReportCreate),
        r("GET", "/reports/on-behalf", ReportOnBehalf),
        r("POST", "/reports/on-behalf", ReportOnBehalf),
        r("POST", "/reports/incident", ReportTriage),
        r("GET", "/reports/{id}", ReportRead),
        r("GET", "/reports/{id}/edit", ReportEdit),
        r("POST", "/reports/{id}/edit", ReportEdit),
        r("POST", "/reports/{id}/stages", ReportEdit),
        r("POST", "/reports/{id}/sharing", ReportEdit),
        r("POST", "/reports/{id}/forward", ReportForward),
        r("GET", "/reports/{id}/triage", ReportTriage),
        r("POST", "/reports/{id}/triage", ReportTriage),
        r("POST", "/reports/{id}/links", ReportTriage),
        r("POST", "/reports/{id}/links/{other}/delete", ReportTriage),
        r("GET", "/cases", Member),
        r("POST", "/cases/preview", CaseWrite),
        r("GET", "/cases/{id}", CaseRead),
        r("GET", "/cases/{id}/diagram.svg", CaseRead),
        r("GET", "/cases/{id}/edit", CaseWrite),
        r("POST", "/cases/{id}/edit", CaseWrite),
        r("GET", "/cases/{id}/anonymise", CaseWrite),
        r("POST", "/cases/{id}/anonymise/decisions", CaseWrite),
        r("POST", "/cases/{id}/anonymise/map", CaseWrite),
        // The operator signing off sees exactly this diagram, so it goes with the sign-off.
        r("GET", "/cases/{id}/anonymised.svg", CaseSignOff),
        r("GET", "/cases/{id}/signoff", CaseSignOff),
        r("POST", "/cases/{id}/signoff", CaseSignOff),
        r("POST", "/cases/{id}/signoff/action", CaseWrite),
        r("GET", "/surveys", Member),
        r("GET", "/surveys/new", CaseWrite),
        r("POST", "/surveys/new", CaseWrite),
        r("GET", "/surveys/{year}", CaseRead),
        r("GET", "/surveys/{year}/edit", CaseWrite),
        r("POST", "/surveys/{year}/edit", CaseWrite),
        r("GET", "/surveys/{year}/lessons", CaseWrite),
        r("POST", "/surveys/{year}/lessons", CaseWrite),
        r("GET", "/surveys/{year}/cases/new", CaseWrite),
        r("POST", "/surveys/{year}/cases/new", CaseWrite),
        r("GET", "/surveys/{year}/publish", SurveyPublish),
        r("POST", "/surveys/{year}/publish", SurveyPublish),
        r("POST", "/surveys/{year}/replacement", CaseWrite),
        r("POST", "/surveys/{year}/selection/reopen", CaseWrite),
        r("GET", "/cases/{id}/cooperation", CaseCooperation),
        r("POST", "/cases/{id}/cooperation", CaseCooperation),
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
        // Interviews: the inbox lists only what the viewer may see.
        r("GET", "/interviews", Member),
        r("GET", "/cases/{id}/interviews", CaseCooperation),
        r("POST", "/cases/{id}/interviews", CaseWrite),
        r("GET", "/interviews/{id}", Interview),
        r("POST", "/interviews/{id}/answer", InterviewReply),
        r("POST", "/interviews/{id}/request", CaseWrite),
        r("POST", "/interviews/{id}/questions", CaseWrite),
        r("POST", "/interviews/{id}/answers", InterviewAnswer),
        r("POST", "/interviews/{id}/consent", InterviewConsent),
        r("GET", "/interviews/{id}/minutes", CaseWrite),
        r("POST", "/interviews/{id}/minutes", CaseWrite),
        r("POST", "/interviews/{id}/attachments", Interview),
        r("GET", "/attachments/{id}", Interview),
        r("GET", "/interviews/{id}/record.md", Interview),
        r("GET", "/interviews/{id}/record.pdf", Interview),
        r("GET", "/interview-templates", CaseWrite),
        r("POST", "/interview-templates/{category}", TemplateEdit),
        r("GET", "/lessons", Member),
        r("GET", "/lessons/themes", Member),
        r("GET", "/lessons/themes/new", ThemeEdit),
        r("POST", "/lessons/themes/new", ThemeEdit),
        r("GET", "/lessons/themes/{key}", Member),
        r("GET", "/lessons/themes/{key}/csv", Member),
        r("GET", "/lessons/themes/{key}/edit", ThemeEdit),
        r("POST", "/lessons/themes/{key}/edit", ThemeEdit),
        r("GET", "/lessons/tag/{lesson}", CaseWrite),
        r("POST", "/lessons/tag/{lesson}", CaseWrite),
        r("GET", "/lessons/themes/{key}/xlsx", Member),
        r("GET", "/lessons/adoption", Member),
        r("GET", "/stats", Member),
        r("GET", "/stats/csv", Member),
        r("GET", "/stats/xlsx", Member),
        r("GET", "/api/v1/stats", Member),
        r("GET", "/api/v1/stats/trend", Member),
        r("GET", "/lessons/adoption/csv", Member),
        r("GET", "/lessons/adoption/xlsx", Member),
        r("GET", "/orgs/{id}/assessment", Assessment),
        r("POST", "/orgs/{id}/assessment", AssessmentAnswer),
        r("GET", "/orgs/{id}/assessment/{key}", Assessment),
        r("GET", "/followups", FollowUps),
        r("GET", "/cases/{id}/followups", CaseRead),
        r("POST", "/cases/{id}/followups", FollowUpKeep),
        r("GET", "/followups/{id}", FollowUpRead),
        r("POST", "/followups/{id}", FollowUpKeep),
        r("POST", "/presence", Member),
        // Search: results and counts come only from what the viewer may read.
        r("GET", "/search", Member),
        // The API (bearer tokens).
        r("GET", "/api/v1/openapi.json", Public),
        r("GET", "/api/v1/reports", Member),
        r("POST", "/api/v1/reports", ReportCreate),
        // Bulk imports: filing, then the submitter's own job (others get 404).
        r("POST", "/api/v1/reports/bulk", ReportCreate),
        r("POST", "/api/v1/reports/on-behalf", ReportOnBehalf),
        r("GET", "/api/v1/imports/{id}", Member),
        r("GET", "/api/v1/reports/{id}", ReportRead),
        r("PUT", "/api/v1/reports/{id}", ReportEdit),
        r("POST", "/api/v1/reports/{id}/stages", ReportEdit),
        r("GET", "/api/v1/reports/{id}/sharing", ReportRead),
        r("PUT", "/api/v1/reports/{id}/sharing", ReportEdit),
        r("GET", "/api/v1/reports/{id}/forwards", ReportRead),
        r("POST", "/api/v1/reports/{id}/forwards", ReportForward),
        r("GET", "/api/v1/forwarded", Member),
        r("GET", "/api/v1/contacts", Member),
        r("GET", "/api/v1/orgs/{id}/contacts", ContactsRead),
        r("PUT", "/api/v1/orgs/{id}/contacts", OrgManage),
        r("PUT", "/api/v1/orgs/{id}/active", SystemAdmin),
        r("PUT", "/api/v1/orgs/{id}", SystemAdmin),
        // Administration: the directory (the system administrator), an organisation's
        // accounts, allowlist and users' tokens (its operator admins too), the audit export.
        r("GET", "/api/v1/orgs", SystemAdmin),
        r("POST", "/api/v1/orgs", SystemAdmin),
        r("GET", "/api/v1/orgs/{id}/users", OrgManage),
        r("POST", "/api/v1/orgs/{id}/users", OrgManage),
        r("PUT", "/api/v1/users/{id}/active", OrgManage),
        r("PUT", "/api/v1/users/{id}/role", OrgManage),
        r("GET", "/api/v1/orgs/{id}/allowlist", OrgManage),
        r("POST", "/api/v1/orgs/{id}/allowlist", OrgManage),
        r("GET", "/api/v1/lesson-themes", Member),
        r("POST", "/api/v1/lesson-themes", ThemeEdit),
        r("GET", "/api/v1/lesson-themes/{key}", Member),
        r("PUT", "/api/v1/lesson-themes/{key}", ThemeEdit),
        r("GET", "/api/v1/lessons/{lesson}/themes", CaseWrite),
        r("PUT", "/api/v1/lessons/{lesson}/themes", CaseWrite),
        r("GET", "/api/v1/orgs/{id}/assessment", Assessment),
        r("GET", "/api/v1/orgs/{id}/assessment/{key}", Assessment),
        r(
            "PUT",
            "/api/v1/orgs/{id}/assessment/{key}",
            AssessmentAnswer,
        ),
        r("GET", "/api/v1/adoption", Member),
        r("GET", "/api/v1/followups", FollowUpKeep),
        r("GET", "/api/v1/followups/completion", CaseWrite),
        r("GET", "/api/v1/cases/{id}/followups", CaseRead),
        r("POST", "/api/v1/cases/{id}/followups", FollowUpKeep),
        r("GET", "/api/v1/followups/{id}", FollowUpRead),
        r("PUT", "/api/v1/followups/{id}", FollowUpKeep),
        r("GET", "/api/v1/orgs/{id}/tokens", OrgManage),
        r("POST", "/api/v1/orgs/{id}/tokens", OrgManage),
        r("POST", "/api/v1/tokens/{id}/revoke", OrgManage),
        r("GET", "/api/v1/audit/export", AuditLog),
        r("GET", "/api/v1/cases", Member),
        r("GET", "/api/v1/cases/{id}", CaseRead),
        r("PUT", "/api/v1/cases/{id}", CaseWrite),
        r("GET", "/api/v1/surveys", Member),
        r("POST", "/api/v1/surveys", CaseWrite),
        r("GET", "/api/v1/surveys/{year}", CaseRead),
        r("PUT", "/api/v1/surveys/{year}", CaseWrite),
        r("POST", "/api/v1/surveys/{year}/cases", CaseWrite),
        r("GET", "/api/v1/cases/{id}/cooperation", CaseCooperation),
        r("POST", "/api/v1/cases/{id}/cooperation", CaseCooperation),
        r("GET", "/api/v1/surveys/{year}/replacement", CaseWrite),
        r("POST", "/api/v1/surveys/{year}/replacement", CaseWrite),
        r("GET", "/api/v1/surveys/{year}/editions", Member),
        r("POST", "/api/v1/surveys/{year}/editions", SurveyPublish),
        r("POST", "/api/v1/surveys/{year}/selection/reopen", CaseWrite),
        r("GET", "/api/v1/cases/{id}/signoff", CaseSignOff),
        r("POST", "/api/v1/cases/{id}/signoff/answer", CaseSignOff),
        r("POST", "/api/v1/cases/{id}/signoff/action", CaseWrite),
        r("GET", "/api/v1/cases/{id}/anonymisation", CaseWrite),
        r(
            "POST",
            "/api/v1/cases/{id}/anonymisation/decisions",
            CaseWrite,
        ),
        r("GET", "/api/v1/surveys/{year}/selection", CaseWrite),
        r("POST", "/api/v1/surveys/{year}/selection", CaseWrite),
        // Interviews.
        r("GET", "/api/v1/interviews", Member),
        r("GET", "/api/v1/cases/{id}/interviews", CaseCooperation),
        r("POST", "/api/v1/cases/{id}/interviews", CaseWrite),
        r("GET", "/api/v1/interviews/{id}", Interview),
        r("PUT", "/api/v1/interviews/{id}/request", CaseWrite),
        r("POST", "/api/v1/interviews/{id}/answer", InterviewReply),
        r("POST", "/api/v1/interviews/{id}/questions", CaseWrite),
        r("POST", "/api/v1/interviews/{id}/answers", InterviewAnswer),
        r("PUT", "/api/v1/interviews/{id}/minutes", CaseWrite),
        r("POST", "/api/v1/interviews/{id}/consent", InterviewConsent),
        r("POST", "/api/v1/interviews/{id}/attachments", Interview),
        r("GET", "/api/v1/attachments/{id}", Interview),
        r("GET", "/api/v1/interviews/{id}/record", Interview),
        r("GET", "/api/v1/question-templates", CaseWrite),
        r("PUT", "/api/v1/question-templates/{category}", TemplateEdit),
        r("GET", "/api/v1/taxonomy", Member),
        r("GET", "/api/v1/search", Member),
        r("GET", "/api/v1/reports/{id}/similar", ReportRead),
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

/// The methods the table has for `path`, for the `Allow` header of a 405 (HEAD goes with GET).
fn methods_for(path: &str) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = route_table()
        .into_iter()
        .filter(|s| s.path == path)
        .map(|s| s.method)
        .collect();
    if out.contains(&"GET") {
        out.push("HEAD");
    }
    out
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
            // The path matched but not with this method (TRACE, OPTIONS, DELETE …): the
            // caller's mistake, 405 as the router would say, not a fault of ours. The handler
            // still never runs, so an unclassified method stays refused (robustness:
            // schemathesis found the 500 here).
            let allowed = methods_for(&p);
            if !allowed.is_empty() {
                // The API answers in its own error shape, a page with a short page in both
                // languages: this runs before the session layer.
                let api = p.starts_with("/api/v1/");
                return crate::error::EarlyRefusal::MethodNotAllowed { allowed }.response(api);
            }
            tracing::error!(path = %p, method = %req.method(), "route is not in the route table");
            (StatusCode::INTERNAL_SERVER_ERROR, "unclassified route").into_response()
        }
        _ => next.run(req).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A known path with an unlisted method is answered 405 with these; only a path missing
    // from the table altogether is the server's fault (500).
    #[test]
    fn allow_header_lists_the_tables_methods() {
        assert_eq!(methods_for("/api/v1/cases/{id}"), ["GET", "PUT", "HEAD"]);
        assert_eq!(methods_for("/api/v1/reports/bulk"), ["POST"]);
        assert!(methods_for("/api/v1/no-such-route").is_empty());
    }
}
