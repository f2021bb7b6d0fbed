//! TOTP enrolment and the second login step as services over `security::totp` and the store:
//! enrolment shows the secret until the first code confirms it, then ten recovery codes once;
//! a login code is accepted once (compare-and-set on the last step), a recovery code once.

use crate::App;
use crate::error::{AppError, AppResult};
use crate::security::audit::{actions, actor_user};
use crate::security::audit_log;
use crate::security::totp::{self, TotpSecret};
use kizuki_domain::ids::UserId;
use kizuki_domain::user::User;
use kizuki_store::{MfaRecord, SecretSlot, StoredSecret};

/// What the enrolment page shows: the secret for typing in and the URI a QR code would hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    pub secret_base32: String,
    pub otpauth_uri: String,
}

const ISSUER: &str = "kizuki";

/// Whether the user has a confirmed second factor.
pub async fn is_enrolled(app: &App, user: UserId) -> AppResult<bool> {
    Ok(app.store.mfa(user).await?.is_some_and(|m| m.is_confirmed()))
}

/// Starts enrolment, or shows the pending one again (a reload must not change the secret the
/// user may already have typed into an app).
pub async fn begin(app: &App, user: &User) -> AppResult<Enrolment> {
    let secret = match app.store.mfa(user.id).await? {
        Some(m) if m.is_confirmed() => {
            return Err(AppError::Forbidden("MFA is already set up".into()));
        }
        Some(m) => secret_of(app, &m)?,
        None => {
            let s = TotpSecret::generate(app);
            let sealed = app.seal_secret(&SecretSlot::Totp(user.id), s.to_base32().as_bytes());
            app.store
                .mfa_begin(user.id, &StoredSecret::text(&sealed)?, app.clock.now())
                .await?;
            s
        }
    };
    Ok(Enrolment {
        secret_base32: secret.to_base32(),
        otpauth_uri: totp::otpauth_uri(&secret, ISSUER, user.user.email.as_str()),
    })
}

/// Confirms the pending enrolment with a first code; returns the recovery codes to show once.
/// `None` when the code is wrong.
pub async fn confirm(app: &App, user: &User, code: &str) -> AppResult<Option<Vec<String>>> {
    let Some(m) = app.store.mfa(user.id).await? else {
        return Ok(None);
    };
    if m.is_confirmed() {
        return Ok(None);
    }
    let secret = secret_of(app, &m)?;
    let Ok(step) = totp::verify(&secret, code, app.clock.now(), None) else {
        return Ok(None);
    };
    if !app
        .store
        .mfa_confirm(user.id, step, app.clock.now())
        .await?
    {
        return Ok(None);
    }
    let codes = new_recovery_codes(app, user.id).await?;
    audit_log::note(
        app,
        actor_user(user.id),
        actions::MFA_ENROLLED,
        format!("user:{}", user.id),
        &serde_json::json!({}),
    )
    .await?;
    Ok(Some(codes))
}

/// Replaces the user's recovery codes; returns the new ones to show once.
pub async fn new_recovery_codes(app: &App, user: UserId) -> AppResult<Vec<String>> {
    let (shown, stored) = totp::new_recovery_codes(app);
    let hashes: Vec<String> = stored.into_iter().map(|c| c.hash).collect();
    app.store
        .set_recovery_codes(user, &hashes, app.clock.now())
        .await?;
    Ok(shown)
}

/// Where a user's second factor stands, for their own account page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct MfaStatus {
    pub enrolled: bool,
    /// Set up but not yet confirmed with a first code.
    pub pending: bool,
    pub recovery_codes_left: usize,
    /// The role cannot sign in without one.
    pub required: bool,
}

/// The user's own second factor, for their account page.
pub async fn status(app: &App, user: UserId) -> AppResult<MfaStatus> {
    let user = app.store.get_user(user).await?;
    let m = app.store.mfa(user.id).await?;
    let enrolled = m.as_ref().is_some_and(MfaRecord::is_confirmed);
    Ok(MfaStatus {
        enrolled,
        pending: m.is_some() && !enrolled,
        recovery_codes_left: if enrolled {
            app.store.recovery_codes_left(user.id).await?
        } else {
            0
        },
        required: totp::mfa_required(user.user.role),
    })
}

/// Takes a current code from the user's authenticator (each code once), for actions that
/// change the second factor itself; a recovery code does not do here.
async fn step_up(app: &App, user: UserId, code: &str) -> AppResult<bool> {
    let Some(m) = app.store.mfa(user).await? else {
        return Ok(false);
    };
    if !m.is_confirmed() {
        return Ok(false);
    }
    let secret = secret_of(app, &m)?;
    match totp::verify(&secret, code, app.clock.now(), m.last_step) {
        Ok(step) => Ok(app.store.mfa_use_step(user, m.last_step, step).await?),
        Err(_) => Ok(false),
    }
}

/// Replaces the recovery codes after a current code; the new ones are shown once. `None` when
/// the code is wrong.
pub async fn renew_recovery_codes(
    app: &App,
    user: UserId,
    code: &str,
) -> AppResult<Option<Vec<String>>> {
    if !step_up(app, user, code).await? {
        return Ok(None);
    }
    let codes = new_recovery_codes(app, user).await?;
    audit_log::note(
        app,
        actor_user(user),
        actions::RECOVERY_CODES_RENEWED,
        format!("user:{user}"),
        &serde_json::json!({}),
    )
    .await?;
    Ok(Some(codes))
}

/// Sets the second factor up again (a new phone) after a current code: the old one is removed
/// and a new enrolment begins, confirmed with [`confirm`]. `None` when the code is wrong.
pub async fn reset(app: &App, user: UserId, code: &str) -> AppResult<Option<Enrolment>> {
    let user = &app.store.get_user(user).await?;
    if !step_up(app, user.id, code).await? {
        return Ok(None);
    }
    app.store.mfa_remove(user.id).await?;
    audit_log::note(
        app,
        actor_user(user.id),
        actions::MFA_RESET,
        format!("user:{}", user.id),
        &serde_json::json!({}),
    )
    .await?;
    Ok(Some(begin(app, user).await?))
}

/// The pending enrolment's secret, for showing it again on the account page.
pub async fn pending(app: &App, user: UserId) -> AppResult<Option<Enrolment>> {
    let user = app.store.get_user(user).await?;
    match app.store.mfa(user.id).await? {
        Some(m) if !m.is_confirmed() => Ok(Some(begin(app, &user).await?)),
        _ => Ok(None),
    }
}

/// Starts the user's own enrolment from their account page (an operator's staff may choose a
/// second factor; the centre's have one already).
pub async fn start(app: &App, user: UserId) -> AppResult<Enrolment> {
    let user = app.store.get_user(user).await?;
    begin(app, &user).await
}

/// Confirms the user's own pending enrolment; the recovery codes to show once, or `None` when
/// the code is wrong.
pub async fn confirm_own(app: &App, user: UserId, code: &str) -> AppResult<Option<Vec<String>>> {
    let user = app.store.get_user(user).await?;
    confirm(app, &user, code).await
}

/// The stored secret opened with the app's keys (clear in a database from before sealing).
fn secret_of(app: &App, m: &MfaRecord) -> AppResult<TotpSecret> {
    let plain = app.open_secret(&SecretSlot::Totp(m.user_id), m.secret.as_bytes())?;
    let text = String::from_utf8(plain)
        .map_err(|_| AppError::Internal("stored TOTP secret is not text".into()))?;
    TotpSecret::from_base32(&text)
        .map_err(|e| AppError::Internal(format!("stored TOTP secret: {e:?}")))
}

/// The second login step: a current TOTP code (each accepted once) or an unused recovery
/// code. `false` for anything else, including a replayed code.
pub async fn verify_login(app: &App, user: UserId, input: &str) -> AppResult<bool> {
    let Some(m) = app.store.mfa(user).await? else {
        return Ok(false);
    };
    if !m.is_confirmed() {
        return Ok(false);
    }
    let secret = secret_of(app, &m)?;
    if let Ok(step) = totp::verify(&secret, input, app.clock.now(), m.last_step) {
        return app
            .store
            .mfa_use_step(user, m.last_step, step)
            .await
            .map_err(Into::into);
    }
    if let Some(hash) = totp::recovery_code_hash(input) {
        let used = app
            .store
            .use_recovery_code(user, &hash, app.clock.now())
            .await?;
        if used {
            audit_log::note(
                app,
                actor_user(user),
                actions::RECOVERY_CODE_USED,
                format!("user:{user}"),
                &serde_json::json!({}),
            )
            .await?;
        }
        return Ok(used);
    }
    Ok(false)
}
