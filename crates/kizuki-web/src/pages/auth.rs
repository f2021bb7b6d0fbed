//! The public landing page, login and logout, the language switch and the per-role dashboard.

use super::{render, report_row};
use crate::error::WebError;
use crate::i18n;
use crate::session::{NewSessionId, Posted, Viewer};
use crate::state::WebState;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use kizuki_app::reports;
use kizuki_app::{AppError, auth};
use kizuki_domain::report::ReportStatus;
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
    for s in st.app.store.list_surveys().await? {
        let fy = s.content.fiscal_year.year();
        let cases: Vec<_> = st
            .app
            .store
            .list_cases(Some(fy))
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
    let rows = |items: Vec<kizuki_domain::report::Report>| -> Vec<serde_json::Value> {
        items.iter().map(|r| report_row(st, r, &orgs)).collect()
    };
    let mut ctx = json!({});
    if p.is_operator() {
        let mine = reports::list(
            app,
            p,
            ReportFilter {
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
        for s in app.store.list_surveys().await? {
            let fy = s.content.fiscal_year.year();
            let n = app.store.list_cases(Some(fy)).await?.len();
            surveys.push(json!({"year": fy, "title": s.content.title, "cases": n,
                                "period_start": s.content.period_start,
                                "period_end": s.content.period_end}));
        }
        ctx["surveys"] = json!(surveys);
    }
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

pub async fn login(
    State(st): State<WebState>,
    v: Viewer,
    Posted(form): Posted,
) -> Result<Response, WebError> {
    let email = form.get("email").trim().to_owned();
    let next = safe_next(form.get("next"));
    match auth::login(&st.app, &email, form.get("password")).await {
        Ok(user) => {
            // A new session id at login: an id planted before login is worthless after it.
            st.sessions.remove(&v.session.id);
            let s = st.sessions.create(&st, Some(user.id), user.user.lang);
            let mut res = Redirect::to(&next).into_response();
            res.extensions_mut().insert(NewSessionId(s.id));
            Ok(res)
        }
        Err(AppError::Unauthenticated) => {
            let mut res = render(
                &st,
                &v,
                "login.html",
                json!({"next": next, "email": email, "failed": true}),
            )?;
            *res.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
            Ok(res)
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn logout(
    State(st): State<WebState>,
    v: Viewer,
    Posted(_): Posted,
) -> Result<Response, WebError> {
    st.sessions.remove(&v.session.id);
    let s = st.sessions.create(&st, None, v.lang);
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
    let lang = i18n::parse_lang(form.get("lang"))
        .ok_or_else(|| WebError::BadRequest("unknown language".into()))?;
    st.sessions.set_lang(&v.session.id, lang);
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
