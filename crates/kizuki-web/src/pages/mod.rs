//! HTML pages. Handlers are thin: extract, call a service in kizuki-app, render a template.

pub mod account;
pub mod adoption;
pub mod annual_report;
pub mod audit;
pub mod auth;
pub mod cases;
// Points of contact of organisations.
pub mod contacts;
pub mod deadlines;
// Reports forwarded by a ministry or the centre.
pub mod forwarding;
// Interviews with the operators of selected cases.
pub mod interviews;
// The lessons catalog: themes and tagged lessons.
pub mod lessons;
pub mod mfa;
// An organisation's administration.
pub mod org;
pub mod publication;
pub mod reports;
pub mod search;
pub mod selection;
pub mod stats;
pub mod surveys;
pub mod triage;

use crate::error::WebError;
use crate::i18n;
use crate::session::Viewer;
use crate::state::WebState;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use kizuki_app::auth::Principal;
use kizuki_domain::ValidationErrors;
use kizuki_domain::ids::OrgId;
use kizuki_domain::report::Report;
use kizuki_domain::taxonomy::Lang;
use kizuki_domain::user::Role;
use serde::Serialize;
use serde_json::{Value, json};

/// The signed-in user as every page's header shows it.
pub(crate) fn user_json(p: &Principal) -> Value {
    json!({
        "name": p.display_name,
        "email": p.email,
        "role": p.role.code(),
        "org_id": p.org_id.0,
        "is_operator": p.is_operator(),
        "is_centre": p.is_centre(),
        "is_analyst": matches!(p.role, Role::Analyst | Role::Editor | Role::Admin),
    })
}

/// Renders `name` with the page's own view and the fields every page has (language, user,
/// CSRF token, notice). A view is a typed `Serialize` struct (or, for small pages, a JSON
/// object); its fields stand beside the common ones in the template.
pub fn render<T: Serialize>(
    st: &WebState,
    v: &Viewer,
    name: &str,
    view: T,
) -> Result<Response, WebError> {
    let mut ctx = serde_json::to_value(&view)
        .map_err(|e| WebError::Internal(format!("page view of {name}: {e}")))?;
    let flash = st.sessions.take_flash(&v.session);
    if let Value::Object(m) = &mut ctx {
        m.insert("lang".into(), json!(v.lang.code()));
        m.insert("csrf".into(), json!(v.session.csrf));
        m.insert("path".into(), json!(v.path));
        m.insert(
            "user".into(),
            v.principal.as_ref().map_or(Value::Null, user_json),
        );
        m.insert("flash".into(), json!(flash));
    }
    Ok(Html(st.views.render(name, ctx)?).into_response())
}

/// [`render`] answered with `status` (a form shown again after a refused post, 201 for a page
/// with a secret on it).
pub fn render_as(
    st: &WebState,
    v: &Viewer,
    name: &str,
    view: Value,
    status: axum::http::StatusCode,
) -> Result<Response, WebError> {
    let mut res = render(st, v, name, view)?;
    *res.status_mut() = status;
    Ok(res)
}

/// `view` with the fields of `extra` laid over its own (what was typed, why it was refused).
pub fn with(mut view: Value, extra: Value) -> Value {
    if let (Value::Object(m), Value::Object(x)) = (&mut view, extra) {
        m.extend(x);
    }
    view
}

/// After a successful POST: a notice for the next page, then a redirect (so reloading does
/// not post twice).
pub fn done(st: &WebState, v: &Viewer, flash_key: &str, to: &str) -> Response {
    let msg = i18n::catalogue().get(v.lang, flash_key).to_owned();
    st.sessions.set_flash(&v.session.id, &msg);
    Redirect::to(to).into_response()
}

/// Field errors for a template: `{field: message}` in the viewer's language, first error
/// of each field only.
pub fn errors_json(errs: &ValidationErrors, lang: Lang) -> Value {
    let mut m = serde_json::Map::new();
    for e in errs.iter() {
        let msg = match lang {
            Lang::Ja => e.message_ja(),
            Lang::En => e.message_en(),
        };
        let msg = i18n::pick(&msg, lang).to_owned();
        // Also under the field's base name (`causes` for `causes[2]`), where the form shows
        // one message for the whole group.
        if let Some((base, _)) = e.field.split_once(['[', '.']) {
            m.entry(base.to_owned()).or_insert(json!(msg.clone()));
        }
        m.entry(e.field.clone()).or_insert(json!(msg));
    }
    Value::Object(m)
}

pub fn org_name(names: &[(OrgId, String)], id: OrgId) -> String {
    names
        .iter()
        .find(|(o, _)| *o == id)
        .map_or_else(|| format!("#{id}"), |(_, n)| n.clone())
}

/// A report as list rows and link boxes show it.
#[derive(Debug, Clone, Serialize)]
pub struct ReportRow {
    pub id: i64,
    pub version: i64,
    pub title: String,
    pub org: String,
    pub sector: String,
    pub event_type: String,
    pub causes: Vec<String>,
    pub severity: Option<u8>,
    pub tlp: &'static str,
    pub tlp_label: &'static str,
    pub status: &'static str,
    pub reported_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// How many stages the report has.
    pub stages: usize,
    pub last_stage: Option<&'static str>,
    pub has_final: bool,
    /// Stages past their deadline, from the configured stage deadlines.
    pub overdue: Vec<deadlines::OverdueStage>,
    pub case_id: Option<i64>,
}

/// A report as list rows and link boxes show it.
pub fn report_row(st: &WebState, r: &Report, orgs: &[(OrgId, String)]) -> ReportRow {
    ReportRow {
        id: r.id.0,
        version: r.version,
        title: r.details.title.clone(),
        org: org_name(orgs, r.org_id),
        sector: r.details.sector.0.clone(),
        event_type: r.details.event_type.0.clone(),
        causes: r.details.causes.iter().map(|c| c.0.clone()).collect(),
        severity: r.details.severity.map(|s| s.level()),
        tlp: r.details.tlp.code(),
        tlp_label: r.details.tlp.label(),
        status: r.status.code(),
        reported_at: r.reported_at,
        updated_at: r.updated_at,
        stages: r.stages.len(),
        last_stage: r.stages.last().map(|s| s.kind.code()),
        has_final: r.has_final(),
        overdue: deadlines::overdue_stages(st, r),
        case_id: r.case_id.map(|c| c.0),
    }
}
