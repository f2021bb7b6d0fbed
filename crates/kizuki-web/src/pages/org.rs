//! An organisation's administration pages: `/org/users` lists its accounts, adds one (the
//! one-time password shown on the answer page, once) and disables or enables one. An operator
//! admin sees its own organisation; the system administrator picks any with `?org=`.

use super::{done, errors_json, render_as, with};
use crate::error::WebError;
use crate::security::ClientAddr;
use crate::session::{Posted, SignedIn};
use crate::state::WebState;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use kizuki_app::AppError;
use kizuki_app::directory;
use kizuki_domain::ids::{OrgId, UserId};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OrgQuery {
    org: Option<i64>,
}

async fn page(
    st: &WebState,
    s: &SignedIn,
    org: Option<OrgId>,
    extra: Value,
    status: StatusCode,
) -> Result<Response, WebError> {
    let v = directory::users(&st.app, &s.p, org).await?;
    render_as(
        st,
        &s.viewer,
        "org_users.html",
        with(
            json!({"org": v, "form": {"email": "", "name": "", "role": "reporter"},
                         "errors": {}, "password": null, "added": null}),
            extra,
        ),
        status,
    )
}

pub async fn users(
    State(st): State<WebState>,
    s: SignedIn,
    Query(q): Query<OrgQuery>,
) -> Result<Response, WebError> {
    page(&st, &s, q.org.map(OrgId), json!({}), StatusCode::OK).await
}

pub async fn add(
    State(st): State<WebState>,
    s: SignedIn,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    let org = f.i64("org").map_or(s.p.org_id, OrgId);
    // Decided first: someone who may not manage the organisation learns nothing from the form.
    directory::users(&st.app, &s.p, Some(org)).await?;
    let typed = json!({"email": f.get("email"), "name": f.get("name"), "role": f.get("role")});
    match directory::add(
        &st.app,
        &s.p,
        org,
        f.get("email"),
        f.get("role"),
        f.get("name"),
    )
    .await
    {
        Ok((user, pw)) => {
            let mut res = page(
                &st,
                &s,
                Some(org),
                json!({"password": pw, "added": user.user.email.as_str()}),
                StatusCode::CREATED,
            )
            .await?;
            // The one-time password is on this page only: no cache may keep it.
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(res)
        }
        Err(AppError::Validation(errs)) => {
            let extra = json!({"form": typed, "errors": errors_json(&errs, s.viewer.lang)});
            page(&st, &s, Some(org), extra, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(AppError::Forbidden(msg)) => {
            let extra = json!({"form": typed, "errors": {"role": msg}});
            page(&st, &s, Some(org), extra, StatusCode::FORBIDDEN).await
        }
        Err(e) => Err(e.into()),
    }
}

/// Gives an account another role from the organisation's users page.
pub async fn set_role(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    let u = directory::set_role(&st.app, &s.p, UserId(id), f.get("role")).await?;
    let to = if u.user.org_id == s.p.org_id {
        "/org/users".to_owned()
    } else {
        format!("/org/users?org={}", u.user.org_id)
    };
    Ok(done(&st, &s.viewer, "flash.role_changed", &to))
}

async fn switch(st: &WebState, s: &SignedIn, id: i64, active: bool) -> Result<Response, WebError> {
    let u = directory::set_active(&st.app, &s.p, UserId(id), active).await?;
    let to = if u.user.org_id == s.p.org_id {
        "/org/users".to_owned()
    } else {
        format!("/org/users?org={}", u.user.org_id)
    };
    let key = if active {
        "flash.user_enabled"
    } else {
        "flash.user_disabled"
    };
    Ok(done(st, &s.viewer, key, &to))
}

pub async fn disable(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
    Posted(_f): Posted,
) -> Result<Response, WebError> {
    switch(&st, &s, id, false).await
}

pub async fn enable(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
    Posted(_f): Posted,
) -> Result<Response, WebError> {
    switch(&st, &s, id, true).await
}

// ---------------------------------------------------------------- sign-in allowlist

async fn allowlist_page(
    st: &WebState,
    s: &SignedIn,
    org: Option<OrgId>,
    from: std::net::IpAddr,
    extra: Value,
    status: StatusCode,
) -> Result<Response, WebError> {
    let v = directory::allowlist(&st.app, &s.p, org, from).await?;
    render_as(
        st,
        &s.viewer,
        "org_allowlist.html",
        with(json!({"list": v, "cidr": "", "errors": {}}), extra),
        status,
    )
}

/// `/org/allowlist`: the networks the organisation's users may sign in from.
pub async fn allowlist(
    State(st): State<WebState>,
    s: SignedIn,
    ClientAddr(from): ClientAddr,
    Query(q): Query<OrgQuery>,
) -> Result<Response, WebError> {
    allowlist_page(&st, &s, q.org.map(OrgId), from, json!({}), StatusCode::OK).await
}

async fn allowlist_edit(
    st: &WebState,
    s: &SignedIn,
    from: std::net::IpAddr,
    f: &crate::form::FormData,
    add: bool,
) -> Result<Response, WebError> {
    let org = f.i64("org").map_or(s.p.org_id, OrgId);
    match directory::edit_allowlist(&st.app, &s.p, org, f.get("cidr"), add, from).await {
        Ok(()) => Ok(done(
            st,
            &s.viewer,
            "flash.saved",
            &format!("/org/allowlist?org={}", org.0),
        )),
        Err(AppError::Validation(errs)) => {
            let extra = json!({"cidr": f.get("cidr"), "errors": errors_json(&errs, s.viewer.lang)});
            allowlist_page(
                st,
                s,
                Some(org),
                from,
                extra,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn allowlist_add(
    State(st): State<WebState>,
    s: SignedIn,
    ClientAddr(from): ClientAddr,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    allowlist_edit(&st, &s, from, &f, true).await
}

pub async fn allowlist_remove(
    State(st): State<WebState>,
    s: SignedIn,
    ClientAddr(from): ClientAddr,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    allowlist_edit(&st, &s, from, &f, false).await
}

// ---------------------------------------------------------------- users' API tokens

async fn tokens_page(
    st: &WebState,
    s: &SignedIn,
    org: Option<OrgId>,
    extra: Value,
    status: StatusCode,
) -> Result<Response, WebError> {
    let v = directory::tokens(&st.app, &s.p, org).await?;
    render_as(
        st,
        &s.viewer,
        "org_tokens.html",
        with(
            json!({"org": v, "secret": null, "issued_to": null, "form": {"user": "", "label": ""},
                         "errors": {}}),
            extra,
        ),
        status,
    )
}

/// `/org/tokens`: the API tokens of the organisation's users; issue one to a user (the secret
/// shown once) or revoke one.
pub async fn tokens(
    State(st): State<WebState>,
    s: SignedIn,
    Query(q): Query<OrgQuery>,
) -> Result<Response, WebError> {
    tokens_page(&st, &s, q.org.map(OrgId), json!({}), StatusCode::OK).await
}

pub async fn issue_token(
    State(st): State<WebState>,
    s: SignedIn,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    let org = f.i64("org").map_or(s.p.org_id, OrgId);
    // Decided first: someone who may not manage the organisation learns nothing from the form.
    directory::users(&st.app, &s.p, Some(org)).await?;
    let user = UserId(f.i64("user").unwrap_or(0));
    match directory::issue_token(&st.app, &s.p, user, f.get("label")).await {
        Ok((t, secret)) => {
            let mut res = tokens_page(
                &st,
                &s,
                Some(org),
                json!({"secret": secret, "issued_to": t.user_id.0}),
                StatusCode::CREATED,
            )
            .await?;
            // The secret is on this page only: no cache may keep it.
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(res)
        }
        Err(AppError::Validation(errs)) => {
            let extra = json!({"form": {"user": f.get("user"), "label": f.get("label")},
                               "errors": errors_json(&errs, s.viewer.lang)});
            tokens_page(&st, &s, Some(org), extra, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn revoke_token(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    directory::revoke_token(&st.app, &s.p, id).await?;
    let org = f.i64("org").map_or(s.p.org_id, OrgId);
    Ok(done(
        &st,
        &s.viewer,
        "flash.token_revoked",
        &format!("/org/tokens?org={}", org.0),
    ))
}

// ---------------------------------------------------------------- the centre's organisations

async fn orgs_page(
    st: &WebState,
    s: &SignedIn,
    extra: Value,
    status: StatusCode,
) -> Result<Response, WebError> {
    let list = directory::organisations(&st.app, &s.p).await?;
    render_as(
        st,
        &s.viewer,
        "admin_orgs.html",
        with(
            json!({"orgs": list, "errors": {},
        "form": {"name": "", "key": "", "kind": "operator", "sectors": [], "region": ""}}),
            extra,
        ),
        status,
    )
}

/// `/admin/orgs`: every organisation in the directory, and adding one (the system
/// administrator; anyone else is told the page does not exist).
pub async fn organisations(State(st): State<WebState>, s: SignedIn) -> Result<Response, WebError> {
    orgs_page(&st, &s, json!({}), StatusCode::OK).await
}

pub async fn add_org(
    State(st): State<WebState>,
    s: SignedIn,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    // Decided first: anyone but the administrator learns nothing from the form.
    directory::organisations(&st.app, &s.p).await?;
    let sectors = f.all("sectors");
    let region = f.get("region").trim().to_owned();
    let req = kizuki_app::accounts::OrgRequest {
        name: f.get("name").to_owned(),
        kind: f.get("kind").to_owned(),
        sectors: sectors.clone(),
        key: Some(f.get("key").trim().to_owned()).filter(|k| !k.is_empty()),
        region: Some(region.clone()).filter(|r| !r.is_empty()),
    };
    match directory::add_org(&st.app, &s.p, &req).await {
        Ok(o) => Ok(done(
            &st,
            &s.viewer,
            "flash.saved",
            &format!("/admin/orgs#org-{}", o.id.0),
        )),
        Err(AppError::Validation(errs)) => {
            let extra = json!({"errors": errors_json(&errs, s.viewer.lang),
                "form": {"name": f.get("name"), "key": f.get("key"), "kind": f.get("kind"),
                         "sectors": sectors, "region": region}});
            orgs_page(&st, &s, extra, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn switch_org(
    st: &WebState,
    s: &SignedIn,
    id: i64,
    active: bool,
) -> Result<Response, WebError> {
    match directory::set_org_active(&st.app, &s.p, OrgId(id), active).await {
        Ok(_) => Ok(done(
            st,
            &s.viewer,
            if active {
                "flash.org_enabled"
            } else {
                "flash.org_disabled"
            },
            &format!("/admin/orgs#org-{id}"),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Disables an organisation and every account of it (the system administrator).
pub async fn disable_org(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
    Posted(_f): Posted,
) -> Result<Response, WebError> {
    switch_org(&st, &s, id, false).await
}

/// Enables a disabled organisation; its accounts are enabled one by one.
pub async fn enable_org(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
    Posted(_f): Posted,
) -> Result<Response, WebError> {
    switch_org(&st, &s, id, true).await
}

async fn org_edit_page(
    st: &WebState,
    s: &SignedIn,
    id: OrgId,
    extra: Value,
    status: StatusCode,
) -> Result<Response, WebError> {
    let o = directory::organisation(&st.app, &s.p, id).await?;
    render_as(
        st,
        &s.viewer,
        "admin_org_edit.html",
        with(
            json!({"o": o, "version": o.version, "errors": {}, "conflict": null,
                   "form": {"name": o.org.name, "sectors": o.org.sectors,
                            "region": o.org.region}}),
            extra,
        ),
        status,
    )
}

/// `/admin/orgs/{id}`: change an organisation's name, sectors and region.
pub async fn edit_org_form(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    org_edit_page(&st, &s, OrgId(id), json!({}), StatusCode::OK).await
}

pub async fn edit_org(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    // Decided first: anyone but the administrator learns nothing from the form.
    directory::organisation(&st.app, &s.p, OrgId(id)).await?;
    let sectors = f.all("sectors");
    let region = f.get("region").trim().to_owned();
    let edit = kizuki_app::accounts::OrgEdit {
        name: f.get("name").to_owned(),
        sectors: sectors.clone(),
        region: Some(region.clone()),
    };
    let version = f.i64("version").unwrap_or(0);
    let typed = json!({"name": f.get("name"), "sectors": sectors, "region": region});
    let (status, extra) = match directory::edit_org(&st.app, &s.p, OrgId(id), version, &edit).await
    {
        Ok(_) => {
            return Ok(done(
                &st,
                &s.viewer,
                "flash.saved",
                &format!("/admin/orgs#org-{id}"),
            ));
        }
        Err(AppError::Validation(errs)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"errors": errors_json(&errs, s.viewer.lang), "form": typed,
                   "version": version}),
        ),
        // Changed by someone else meanwhile: the form keeps what was typed, the page shows
        // the organisation as it is now, and the next save goes against that version.
        Err(AppError::Store(kizuki_store::StoreError::Conflict { current, .. })) => (
            StatusCode::CONFLICT,
            json!({"conflict": {"version": current.version()}, "form": typed}),
        ),
        Err(e) => return Err(e.into()),
    };
    org_edit_page(&st, &s, OrgId(id), extra, status).await
}
