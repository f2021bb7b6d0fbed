//! The second login step (security): enter a TOTP or recovery code, or — for roles
//! that require it and have none yet — enrol an authenticator first (the secret is shown as
//! text and as an `otpauth://` URI; ten recovery codes are shown once at the end).

use super::auth::lock_message;
use super::render;
use crate::error::WebError;
use crate::security::ClientAddr;
use crate::session::{NewSessionId, PendingLogin, Posted, Viewer};
use crate::state::WebState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use kizuki_app::security::mfa;
use kizuki_app::security::signin::{self, CodeOutcome};
use serde_json::json;

fn pending(v: &Viewer, enrol: bool) -> Option<PendingLogin> {
    v.session.pending.clone().filter(|p| p.enrol == enrol)
}

pub async fn form(State(st): State<WebState>, v: Viewer) -> Result<Response, WebError> {
    if pending(&v, false).is_none() {
        return Ok(Redirect::to("/login").into_response());
    }
    render(&st, &v, "login_mfa.html", json!({"failed": false}))
}

pub async fn verify(
    State(st): State<WebState>,
    v: Viewer,
    ClientAddr(addr): ClientAddr,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    let Some(p) = pending(&v, false) else {
        return Ok(Redirect::to("/login").into_response());
    };
    let outcome =
        signin::with_code(&st.app, &st.security.throttle, p.user, f.get("code"), addr).await?;
    let (msg, status) = match outcome {
        CodeOutcome::SignedIn(user) => {
            st.sessions.remove(&v.session.id).await?;
            let s = st.sessions.create(Some(user.id), user.user.lang).await?;
            let mut res = Redirect::to(&p.next).into_response();
            res.extensions_mut().insert(NewSessionId(s.id));
            return Ok(res);
        }
        CodeOutcome::Locked(locked) => (
            Some(lock_message(&v, &locked)),
            StatusCode::TOO_MANY_REQUESTS,
        ),
        CodeOutcome::Refused { lock } => {
            (lock.map(|l| lock_message(&v, &l)), StatusCode::UNAUTHORIZED)
        }
    };
    // Locked out: the login halfway through is over; start again after the wait.
    if msg.is_some() {
        st.sessions.set_pending(&v.session.id, None).await?;
    }
    let mut res = render(
        &st,
        &v,
        "login_mfa.html",
        json!({"failed": msg.is_none(), "lock": msg}),
    )?;
    *res.status_mut() = status;
    Ok(res)
}

async fn enrol_page(
    st: &WebState,
    v: &Viewer,
    p: &PendingLogin,
    failed: bool,
) -> Result<Response, WebError> {
    let user = kizuki_app::auth::pending_user(&st.app, p.user).await?;
    let e = mfa::begin(&st.app, &user).await?;
    let mut res = render(
        st,
        v,
        "login_enrol.html",
        json!({"secret": e.secret_base32, "qr": crate::render::qr_svg(&e.otpauth_uri),
               "uri": e.otpauth_uri, "failed": failed}),
    )?;
    if failed {
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(res)
}

pub async fn enrol_form(State(st): State<WebState>, v: Viewer) -> Result<Response, WebError> {
    let Some(p) = pending(&v, true) else {
        return Ok(Redirect::to("/login").into_response());
    };
    enrol_page(&st, &v, &p, false).await
}

pub async fn enrol(
    State(st): State<WebState>,
    v: Viewer,
    ClientAddr(addr): ClientAddr,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    let Some(p) = pending(&v, true) else {
        return Ok(Redirect::to("/login").into_response());
    };
    let Some((user, codes)) =
        signin::with_enrolment(&st.app, &st.security.throttle, p.user, f.get("code"), addr).await?
    else {
        return enrol_page(&st, &v, &p, true).await;
    };
    // Enrolled: the login completes here, and the recovery codes are shown this once.
    let id = st.sessions.create(Some(user.id), user.user.lang).await?.id;
    st.sessions.remove(&v.session.id).await?;
    let mut res = render(
        &st,
        &v,
        "recovery_codes.html",
        json!({"codes": codes, "next": p.next}),
    )?;
    res.extensions_mut().insert(NewSessionId(id));
    Ok(res)
}
