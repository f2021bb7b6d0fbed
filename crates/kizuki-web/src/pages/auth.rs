//! The public landing page, login and logout, the language switch and the per-role dashboard.

use super::{render, report_row};
use crate::error::WebError;
use crate::security::ClientAddr;
use crate::session::{NewSessionId, PendingLogin, Posted, Viewer};
use crate::state::WebState;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use kizuki_app::auth;
use kizuki_app::reports;
use kizuki_app::security::signin::{self, PasswordOutcome};
use kizuki_domain::report::ReportStatus;
use kizuki_domain::taxonomy::Lang;
use kizuki_store::{Page, ReportFilter, ReportSort};
use serde::Deserialize;
use serde_json::json;

/// Only same-site paths are followed after login, so the page cannot be used to bounce a
/// user to another site.
fn safe_next(next: &str) -> String {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next.to_owned()
    } else {
        "/".to_owned()
    }
}

/// `/`: the dashboard when signed in; otherwise the published surveys' cases and a way in.
pub async fn home(State(st): State<WebState>, v: Viewer) -> Result<Response, WebError> {
    if let Some(p) = v.principal.clone() {
        return dashboard(&st, &v, &p).await;
    }
    let mut surveys = Vec::new();
    // Only what `access::decide` gives the public: published surveys and cases.
    let public = kizuki_domain::access::Viewer::Public;
    for s in kizuki_app::survey::cases::surveys_as(&st.app, &public).await? {
        let fy = s.content.fiscal_year.year();
        let cases: Vec<_> = kizuki_app::survey::cases::list_as(&st.app, &public, Some(fy))
            .await?
            .into_iter()
            .map(|c| {
                json!({"id": c.id.0, "number": c.content.number, "title": c.content.title,
                       "category": c.content.category.0, "impact": c.content.impact})
            })
            .collect();
        surveys.push(json!({"year": fy, "title": s.content.title, "cases": cases,
                            "period_start": s.content.period_start, "period_end": s.content.period_end}));
    }
    render(&st, &v, "home.html", json!({ "surveys": surveys }))
}

async fn dashboard(st: &WebState, v: &Viewer, p: &auth::Principal) -> Result<Response, WebError> {
    let app = &st.app;
    let orgs = reports::org_names(app).await?;
    let rows = |items: Vec<kizuki_domain::report::Report>| -> Vec<super::ReportRow> {
        items.iter().map(|r| report_row(st, r, &orgs)).collect()
    };
    let mut ctx = json!({});
    if p.is_operator() {
        let mine = reports::list(
            app,
            p,
            // The organisation's own open reports (others' GREEN ones are visible too, but
            // they are not this operator's work).
            ReportFilter {
                org_id: Some(p.org_id),
                sort: ReportSort::UpdatedDesc,
                ..ReportFilter::default()
            },
            Page::new(1, 100),
        )
        .await?;
        let open: Vec<_> = mine
            .items
            .into_iter()
            .filter(|r| r.status != ReportStatus::Closed)
            .collect();
        ctx["open"] = json!(rows(open));
    } else {
        let new = reports::list(
            app,
            p,
            ReportFilter {
                status: Some(ReportStatus::New),
                sort: ReportSort::ReportedAsc,
                ..ReportFilter::default()
            },
            Page::new(1, 50),
        )
        .await?;
        ctx["to_triage"] = json!(rows(new.items));
        ctx["to_triage_total"] = json!(new.total);
        let recent = reports::list(
            app,
            p,
            ReportFilter {
                sort: ReportSort::UpdatedDesc,
                ..ReportFilter::default()
            },
            Page::new(1, 10),
        )
        .await?;
        ctx["recent"] = json!(rows(recent.items));
        let mut surveys = Vec::new();
        for s in kizuki_app::survey::cases::surveys(app, p).await? {
            let fy = s.content.fiscal_year.year();
            let n = kizuki_app::survey::cases::list(app, p, Some(fy))
                .await?
                .len();
            surveys.push(json!({"year": fy, "title": s.content.title, "cases": n,
                                "period_start": s.content.period_start,
                                "period_end": s.content.period_end}));
        }
        ctx["surveys"] = json!(surveys);
    }
    // Reports a ministry or the centre forwarded to this organisation lately.
    let mut forwarded = reports::forwarding::inbox(app, p).await?;
    forwarded.truncate(5);
    ctx["forwarded"] = json!(forwarded);
    // Overdue report stages, own organisation's or everything readable.
    ctx["overdue"] = super::deadlines::dashboard_json(st, p).await?;
    // Anonymised cases waiting for this operator's sign-off.
    ctx["signoff"] = json!(
        kizuki_app::publication::awaiting_operator(app, p)
            .await?
            .iter()
            .map(|c| json!({"id": c.id.0, "title": c.content.title}))
            .collect::<Vec<_>>()
    );
    // Selected cases whose cooperation the centre asked this operator for.
    ctx["cooperation"] = json!(
        kizuki_app::survey::cooperation::awaiting(app, p)
            .await?
            .iter()
            .map(|c| json!({"id": c.id.0, "title": c.content.title, "year": c.survey_year}))
            .collect::<Vec<_>>()
    );
    // Interviews waiting on this viewer (an answer to a request or to questions, or for the
    // centre a reply to look at).
    ctx["interviews"] = json!(
        kizuki_app::interviews::inbox(app, p)
            .await?
            .into_iter()
            .filter(|i| i.action)
            .map(|i| json!({"id": i.summary.id, "status": i.summary.status,
                            "title": i.case_title, "year": i.survey_year,
                            "open": i.open_questions}))
            .collect::<Vec<_>>()
    );
    // Lessons of cases like this operator and its latest reports, with why.
    ctx["applying"] = json!(kizuki_app::lessons::for_organisation(app, p).await?);
    render(st, v, "dashboard.html", ctx)
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct NextQuery {
    next: String,
}

pub async fn login_form(
    State(st): State<WebState>,
    v: Viewer,
    Query(q): Query<NextQuery>,
) -> Result<Response, WebError> {
    if v.principal.is_some() {
        return Ok(Redirect::to(&safe_next(&q.next)).into_response());
    }
    render(
        &st,
        &v,
        "login.html",
        json!({"next": safe_next(&q.next), "email": "", "failed": false}),
    )
}

/// The login form again, with what went wrong: wrong credentials or a lockout message.
fn login_page(
    st: &WebState,
    v: &Viewer,
    next: &str,
    email: &str,
    lock: Option<String>,
    status: axum::http::StatusCode,
) -> Result<Response, WebError> {
    let mut res = render(
        st,
        v,
        "login.html",
        json!({"next": next, "email": email, "failed": lock.is_none(), "lock": lock}),
    )?;
    *res.status_mut() = status;
    Ok(res)
}

/// The lockout message in the viewer's language.
pub(crate) fn lock_message(v: &Viewer, l: &kizuki_app::security::throttle::Locked) -> String {
    match v.lang {
        kizuki_domain::taxonomy::Lang::En => l.message_en(),
        kizuki_domain::taxonomy::Lang::Ja => l.message_ja(),
    }
}

/// The login form's answer to each outcome of [`signin::with_password`] (which checks, in
/// order, the throttle, the password, the IP allowlist and whether a second factor follows).
pub async fn login(
    State(st): State<WebState>,
    v: Viewer,
    ClientAddr(addr): ClientAddr,
    Posted(form): Posted,
) -> Result<Response, WebError> {
    use axum::http::StatusCode;
    let email = form.get("email").trim().to_owned();
    let next = safe_next(form.get("next"));
    let outcome = signin::with_password(
        &st.app,
        &st.security.throttle,
        &email,
        form.get("password"),
        addr,
    )
    .await?;
    match outcome {
        PasswordOutcome::Locked(locked) => {
            let msg = lock_message(&v, &locked);
            login_page(
                &st,
                &v,
                &next,
                &email,
                Some(msg),
                StatusCode::TOO_MANY_REQUESTS,
            )
        }
        PasswordOutcome::Refused { lock } => {
            let msg = lock.map(|l| lock_message(&v, &l));
            login_page(&st, &v, &next, &email, msg, StatusCode::UNAUTHORIZED)
        }
        PasswordOutcome::AddressRefused => ip_refused(&st, &v, addr),
        PasswordOutcome::SecondFactor { user, enrol } => {
            // A new session id at each step: an id planted before login is worthless after.
            st.sessions.remove(&v.session.id).await?;
            let s = st.sessions.create(None, v.lang).await?;
            let pending = PendingLogin {
                user: user.id,
                next,
                enrol,
            };
            st.sessions.set_pending(&s.id, Some(pending)).await?;
            let to = if enrol {
                "/login/mfa/enrol"
            } else {
                "/login/mfa"
            };
            let mut res = Redirect::to(to).into_response();
            res.extensions_mut().insert(NewSessionId(s.id));
            Ok(res)
        }
        PasswordOutcome::SignedIn(user) => {
            st.sessions.remove(&v.session.id).await?;
            let s = st.sessions.create(Some(user.id), user.user.lang).await?;
            let mut res = Redirect::to(&next).into_response();
            res.extensions_mut().insert(NewSessionId(s.id));
            Ok(res)
        }
    }
}

/// The refusal when the organisation's IP allowlist does not include the address.
pub(crate) fn ip_refused(
    st: &WebState,
    v: &Viewer,
    addr: std::net::IpAddr,
) -> Result<Response, WebError> {
    let mut res = render(st, v, "ip_refused.html", json!({"addr": addr.to_string()}))?;
    *res.status_mut() = axum::http::StatusCode::FORBIDDEN;
    Ok(res)
}

pub async fn logout(
    State(st): State<WebState>,
    v: Viewer,
    Posted(_): Posted,
) -> Result<Response, WebError> {
    st.sessions.remove(&v.session.id).await?;
    let s = st.sessions.create(None, v.lang).await?;
    let mut res = Redirect::to("/").into_response();
    res.extensions_mut().insert(NewSessionId(s.id));
    Ok(res)
}

/// Switches the language; a signed-in user's choice is stored with their account.
pub async fn set_lang(
    State(st): State<WebState>,
    v: Viewer,
    Posted(form): Posted,
) -> Result<Response, WebError> {
    let lang = Lang::parse(form.get("lang"))
        .ok_or_else(|| WebError::BadRequest("unknown language".into()))?;
    st.sessions.set_lang(&v.session.id, lang).await?;
    if let Some(p) = &v.principal {
        auth::set_lang(&st.app, p, lang).await?;
    }
    Ok(Redirect::to(&safe_next(form.get("back"))).into_response())
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_site() {
        assert_eq!(safe_next("/reports?x=1"), "/reports?x=1");
        assert_eq!(safe_next("//evil.example"), "/");
        assert_eq!(safe_next("https://evil.example"), "/");
        assert_eq!(safe_next("/\\evil"), "/");
    }
}
