//! Points of contact: `/org/contacts` (one's own organisation) and `/orgs/{id}/contacts`
//! (any organisation the viewer may reach: the centre all, a ministry those of its sectors),
//! edited by the organisation's admins; `/contacts` lists every contact book the viewer may
//! read. A refused save answers the page with every row as typed.

use super::{done, errors_json, render_as, with};
use crate::error::WebError;
use crate::session::{Posted, SignedIn};
use crate::state::WebState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use kizuki_app::AppError;
use kizuki_app::directory;
use kizuki_domain::ids::OrgId;
use kizuki_domain::org::ContactInput;
use kizuki_store::StoreError;
use serde_json::{Value, json};

/// A blank row at the end of the form, so a contact can be added without a script.
fn with_blank_row(mut rows: Vec<ContactInput>) -> Vec<ContactInput> {
    if rows.last().is_none_or(|r| !r.is_blank()) {
        rows.push(ContactInput {
            hours: "office_hours".into(),
            ..ContactInput::default()
        });
    }
    rows
}

fn as_inputs(v: &directory::ContactsView) -> Vec<ContactInput> {
    v.contacts
        .iter()
        .map(|c| ContactInput {
            role: c.role.clone(),
            name: c.name.clone(),
            hours: c.hours.code().into(),
            phone: c.phone.clone(),
            email: c.email.clone(),
            deputy: c.deputy.clone(),
            decides: c.decides.clone(),
            confirmed_on: c.confirmed_on.to_string(),
        })
        .collect()
}

async fn page(
    st: &WebState,
    s: &SignedIn,
    org: Option<OrgId>,
    extra: Value,
    status: StatusCode,
) -> Result<Response, WebError> {
    let v = directory::contacts(&st.app, &s.p, org).await?;
    let rows = with_blank_row(as_inputs(&v));
    render_as(
        st,
        &s.viewer,
        "org_contacts.html",
        with(
            json!({"book": v, "rows": rows, "version": v.version, "errors": {}, "conflict": null}),
            extra,
        ),
        status,
    )
}

/// `/org/contacts`: one's own organisation's points of contact.
pub async fn own(State(st): State<WebState>, s: SignedIn) -> Result<Response, WebError> {
    page(&st, &s, None, json!({}), StatusCode::OK).await
}

/// `/orgs/{id}/contacts`: another organisation's, for those who may reach it.
pub async fn of_org(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    page(&st, &s, Some(OrgId(id)), json!({}), StatusCode::OK).await
}

/// The rows of the contacts form, as typed.
pub fn posted_rows(f: &crate::form::FormData) -> Vec<ContactInput> {
    f.rows("contacts")
        .iter()
        .map(|r| ContactInput {
            role: r.get("role").to_owned(),
            name: r.get("name").to_owned(),
            hours: r.get("hours").to_owned(),
            phone: r.get("phone").to_owned(),
            email: r.get("email").to_owned(),
            deputy: r.get("deputy").to_owned(),
            decides: r.get("decides").to_owned(),
            confirmed_on: r.get("confirmed_on").to_owned(),
        })
        .collect()
}

async fn save(
    st: &WebState,
    s: &SignedIn,
    org: OrgId,
    f: &crate::form::FormData,
) -> Result<Response, WebError> {
    let rows = posted_rows(f);
    let version = f.i64("version").unwrap_or(0);
    let (status, extra) = match directory::save_contacts(&st.app, &s.p, org, version, &rows).await {
        Ok(_) => {
            let to = if org == s.p.org_id {
                "/org/contacts".to_owned()
            } else {
                format!("/orgs/{org}/contacts")
            };
            return Ok(done(st, &s.viewer, "flash.saved", &to));
        }
        Err(AppError::Validation(errs)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"errors": errors_json(&errs, s.viewer.lang), "version": version}),
        ),
        // Saved by someone else meanwhile: what this user typed stays in the form, the
        // contacts as they are now are shown above it, and the next save goes against them.
        Err(AppError::Store(StoreError::Conflict { current, .. })) => (
            StatusCode::CONFLICT,
            json!({"conflict": {"version": current.version()}, "version": current.version()}),
        ),
        Err(e) => return Err(e.into()),
    };
    let mut extra = extra;
    // Every row as typed, blank ones included, so the errors' row numbers still point at
    // the rows they name.
    extra["rows"] = json!(with_blank_row(rows));
    page(st, s, Some(org), extra, status).await
}

pub async fn save_own(
    State(st): State<WebState>,
    s: SignedIn,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    let org = s.p.org_id;
    save(&st, &s, org, &f).await
}

pub async fn save_of_org(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    save(&st, &s, OrgId(id), &f).await
}

/// `/contacts`: every contact book the viewer may read, with when each was last confirmed.
pub async fn book(State(st): State<WebState>, s: SignedIn) -> Result<Response, WebError> {
    let books = directory::contact_books(&st.app, &s.p).await?;
    render_as(
        &st,
        &s.viewer,
        "contacts.html",
        json!({"books": books}),
        StatusCode::OK,
    )
}
