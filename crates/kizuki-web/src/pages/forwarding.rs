//! Forwarding a CLEAR or GREEN report from its page (a ministry to the operators of its
//! sectors, the centre's staff to any), and `/forwarded`: what was forwarded to one's own
//! organisation, newest first.

use super::{done, errors_json, render_as};
use crate::error::WebError;
use crate::session::{Posted, SignedIn};
use crate::state::WebState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use kizuki_app::{AppError, reports};
use kizuki_domain::ids::{OrgId, ReportId};
use serde_json::json;

/// Forwards the report to the ticked organisations with the note; a refusal answers the
/// report's page with the boxes and the note as they were.
pub async fn forward(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    let rid = ReportId(id);
    let to = reports::sharing::ids("to", &f.all("to"), OrgId)?;
    match reports::forwarding::forward(&st.app, &s.p, rid, &to, f.get("note")).await {
        Ok(_) => Ok(done(
            &st,
            &s.viewer,
            "flash.forwarded",
            &format!("/reports/{id}#forwarding"),
        )),
        Err(AppError::Validation(errs)) => {
            let refused = json!({
                "errors": errors_json(&errs, s.viewer.lang),
                "to": to.iter().map(|o| o.0).collect::<Vec<_>>(),
                "note": f.get("note"),
            });
            super::reports::detail_again(&st, &s, rid, json!({"forward_refused": refused})).await
        }
        Err(e) => Err(e.into()),
    }
}

/// `/forwarded`: reports forwarded to the viewer's organisation.
pub async fn inbox(State(st): State<WebState>, s: SignedIn) -> Result<Response, WebError> {
    let rows = reports::forwarding::inbox(&st.app, &s.p).await?;
    render_as(
        &st,
        &s.viewer,
        "forwarded.html",
        json!({"rows": rows}),
        StatusCode::OK,
    )
}
