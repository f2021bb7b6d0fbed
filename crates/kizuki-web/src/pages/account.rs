//! The signed-in user's own account (security): `/account/password` changes the
//! password under the policy (current + new + confirmation, errors beside each field in the
//! viewer's language). After a change the session id is replaced and every other session of
//! the user ends. A user holding a one-time password from `kizuki user add` or
//! `user reset-password` is sent here before any other page ([`require_password_change`]).

use super::auth::lock_message;
use super::render;
use crate::error::WebError;
use crate::security::ClientAddr;
use crate::session::{NewSessionId, Posted, SessionData, SignedIn, Viewer};
use crate::state::WebState;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use kizuki_app::AppError;
use kizuki_app::accounts::{self, FIELD_CONFIRM, FIELD_CURRENT, FIELD_NEW};
use kizuki_app::security::mfa;
use kizuki_domain::ValidationErrors;
use kizuki_domain::taxonomy::Lang;
use serde_json::{Value, json};

pub const PATH: &str = "/account/password";

/// Pages a user with a one-time password may still reach: the change itself, signing out,
/// and the language switch (so the form can be read).
fn reachable_while_forced(path: &str) -> bool {
    matches!(path, PATH | "/logout" | "/lang")
}

/// Middleware on the pages, for signed-in sessions: a session opened before the user's
/// password last changed ends (the change, or a reset by an administrator, ends sessions on
/// every node, not only the one that served it); a user who must replace a one-time password
/// is sent to [`PATH`] whatever they asked for. Both are read from the store on each request.
pub async fn require_password_change(
    State(st): State<WebState>,
    req: Request,
    next: Next,
) -> Response {
    let session = req
        .extensions()
        .get::<SessionData>()
        .and_then(|s| s.user.map(|u| (u, s.id.clone(), s.created)));
    if let Some((user, id, created)) = session {
        let state = match accounts::password_state(&st.app, user).await {
            Ok(s) => s,
            Err(e) => return WebError::from(e).into_response(),
        };
        if state.changed_at.is_some_and(|at| created < at) {
            if let Err(e) = st.sessions.remove(&id).await {
                return WebError::from(e).into_response();
            }
            return Redirect::to("/login").into_response();
        }
        if state.must_change && !reachable_while_forced(req.uri().path()) {
            return Redirect::to(PATH).into_response();
        }
    }
    next.run(req).await
}

/// A field error in the viewer's language: messages written "日本語 / English" are split.
fn message(e: &kizuki_domain::FieldError, lang: Lang) -> String {
    let text = match lang {
        Lang::Ja => e.message_ja(),
        Lang::En => e.message_en(),
    };
    match (text.split_once(" / "), lang) {
        (Some((ja, _)), Lang::Ja) => ja.to_owned(),
        (Some((_, en)), Lang::En) => en.to_owned(),
        (None, _) => text,
    }
}

fn errors_json(errs: &ValidationErrors, lang: Lang) -> Value {
    let mut m = serde_json::Map::new();
    for e in errs.iter() {
        m.entry(e.field.clone())
            .or_insert_with(|| json!(message(e, lang)));
    }
    Value::Object(m)
}

async fn page(
    st: &WebState,
    v: &Viewer,
    user: kizuki_domain::ids::UserId,
    errors: Value,
    lock: Option<String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let forced = accounts::must_change_password(&st.app, user).await?;
    let mut res = render(
        st,
        v,
        "account_password.html",
        json!({"forced": forced, "errors": errors, "lock": lock,
               "min": kizuki_app::security::password_policy::MIN_CHARS,
               "max": kizuki_app::security::password_policy::MAX_CHARS}),
    )?;
    *res.status_mut() = status;
    Ok(res)
}

pub async fn form(State(st): State<WebState>, s: SignedIn) -> Result<Response, WebError> {
    page(&st, &s.viewer, s.p.user_id, json!({}), None, StatusCode::OK).await
}

pub async fn change(
    State(st): State<WebState>,
    s: SignedIn,
    ClientAddr(addr): ClientAddr,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    let v = &s.viewer;
    // The current password is a password check like a login: someone holding a stolen
    // session must not get unlimited guesses here.
    let account = s.p.email.to_lowercase();
    if let Err(locked) = st.security.throttle.check(&account, addr) {
        let msg = lock_message(v, &locked);
        return page(
            &st,
            v,
            s.p.user_id,
            json!({}),
            Some(msg),
            StatusCode::TOO_MANY_REQUESTS,
        )
        .await;
    }
    match accounts::change_password(
        &st.app,
        &s.p,
        f.get(FIELD_CURRENT),
        f.get(FIELD_NEW),
        f.get(FIELD_CONFIRM),
    )
    .await
    {
        Ok(()) => {
            // Every session of the user ends (other browsers, other tabs' stale ids), and
            // this one continues under a new id.
            st.sessions.remove_user(s.p.user_id).await?;
            let fresh = st.sessions.create(Some(s.p.user_id), v.lang).await?;
            let msg = changed_notice(v.lang);
            st.sessions.set_flash(&fresh.id, &msg);
            let mut res = Redirect::to("/").into_response();
            res.extensions_mut().insert(NewSessionId(fresh.id));
            Ok(res)
        }
        Err(AppError::Validation(errs)) => {
            if errs.for_field(FIELD_CURRENT).is_some() {
                st.security.throttle.record_failure(&account, addr);
            }
            page(
                &st,
                v,
                s.p.user_id,
                errors_json(&errs, v.lang),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

fn changed_notice(lang: Lang) -> String {
    crate::i18n::catalogue()
        .get(lang, "account.changed")
        .to_owned()
}

// ---------------------------------------------------------------- own API tokens

/// `/account/tokens`: the signed-in user's API tokens (never their secrets), a form to create
/// one — its secret is shown on the answer page, once — and revocation.
pub async fn tokens(State(st): State<WebState>, s: SignedIn) -> Result<Response, WebError> {
    tokens_page(&st, &s, None, Value::Null, StatusCode::OK).await
}

async fn tokens_page(
    st: &WebState,
    s: &SignedIn,
    secret: Option<&str>,
    errors: Value,
    status: StatusCode,
) -> Result<Response, WebError> {
    let list = kizuki_app::security::tokens::mine(&st.app, &s.p).await?;
    let mut res = render(
        st,
        &s.viewer,
        "account_tokens.html",
        json!({"tokens": list, "secret": secret, "errors": errors}),
    )?;
    *res.status_mut() = status;
    Ok(res)
}

pub async fn create_token(
    State(st): State<WebState>,
    s: SignedIn,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    match kizuki_app::security::tokens::create_own(&st.app, &s.p, f.get("label")).await {
        Ok((_, secret)) => {
            let mut res =
                tokens_page(&st, &s, Some(&secret), Value::Null, StatusCode::CREATED).await?;
            // The secret is on this page only: no cache may keep it.
            res.headers_mut().insert(
                axum::http::header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
            Ok(res)
        }
        Err(AppError::Validation(errs)) => {
            let errors = super::errors_json(&errs, s.viewer.lang);
            tokens_page(&st, &s, None, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn revoke_token(
    State(st): State<WebState>,
    s: SignedIn,
    axum::extract::Path(id): axum::extract::Path<i64>,
    Posted(_f): Posted,
) -> Result<Response, WebError> {
    kizuki_app::security::tokens::revoke_own(&st.app, &s.p, id).await?;
    Ok(super::done(
        &st,
        &s.viewer,
        "flash.token_revoked",
        "/account/tokens",
    ))
}

// ---------------------------------------------------------------- own second factor

/// `/account/mfa`: the signed-in user's second factor — set it up (operators choose to),
/// confirm a pending set-up, renew the recovery codes, or set it up again on a new phone. Every
/// change to an existing factor takes a current code from it first.
pub async fn mfa(State(st): State<WebState>, s: SignedIn) -> Result<Response, WebError> {
    mfa_page(&st, &s, None, StatusCode::OK).await
}

async fn mfa_page(
    st: &WebState,
    s: &SignedIn,
    failed: Option<&str>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let state = mfa::status(&st.app, s.p.user_id).await?;
    let pending = mfa::pending(&st.app, s.p.user_id).await?;
    let mut res = render(
        st,
        &s.viewer,
        "account_mfa.html",
        json!({"mfa": state, "failed": failed,
               "secret": pending.as_ref().map(|e| e.secret_base32.clone()),
               "uri": pending.as_ref().map(|e| e.otpauth_uri.clone()),
               "qr": pending.as_ref().and_then(|e| crate::render::qr_svg(&e.otpauth_uri))}),
    )?;
    *res.status_mut() = status;
    // A pending secret is on this page: no cache may keep it.
    res.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(res)
}

/// The recovery codes, shown once.
fn codes_page(st: &WebState, s: &SignedIn, codes: &[String]) -> Result<Response, WebError> {
    let mut res = render(
        st,
        &s.viewer,
        "recovery_codes.html",
        json!({"codes": codes, "next": "/account/mfa"}),
    )?;
    res.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(res)
}

pub async fn mfa_start(
    State(st): State<WebState>,
    s: SignedIn,
    Posted(_f): Posted,
) -> Result<Response, WebError> {
    if mfa::status(&st.app, s.p.user_id).await?.enrolled {
        return mfa_page(&st, &s, Some("enrolled"), StatusCode::CONFLICT).await;
    }
    mfa::start(&st.app, s.p.user_id).await?;
    mfa_page(&st, &s, None, StatusCode::OK).await
}

pub async fn mfa_confirm(
    State(st): State<WebState>,
    s: SignedIn,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    match mfa::confirm_own(&st.app, s.p.user_id, f.get("code")).await? {
        Some(codes) => codes_page(&st, &s, &codes),
        None => mfa_page(&st, &s, Some("code"), StatusCode::UNPROCESSABLE_ENTITY).await,
    }
}

pub async fn mfa_renew(
    State(st): State<WebState>,
    s: SignedIn,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    match mfa::renew_recovery_codes(&st.app, s.p.user_id, f.get("code")).await? {
        Some(codes) => codes_page(&st, &s, &codes),
        None => mfa_page(&st, &s, Some("code"), StatusCode::UNPROCESSABLE_ENTITY).await,
    }
}

pub async fn mfa_reset(
    State(st): State<WebState>,
    s: SignedIn,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    match mfa::reset(&st.app, s.p.user_id, f.get("code")).await? {
        Some(_) => mfa_page(&st, &s, None, StatusCode::OK).await,
        None => mfa_page(&st, &s, Some("code"), StatusCode::UNPROCESSABLE_ENTITY).await,
    }
}
