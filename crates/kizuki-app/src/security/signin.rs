//! Signing in, for the login form and for API tokens alike: the throttle first, then the
//! password (or token), the organisation's IP allowlist, then the second factor where the
//! role requires one or the user enrolled one; every outcome is audited. The web layer only
//! turns the outcome into a page or an API answer and keeps the session id.

use super::audit::{self, actions};
use super::throttle::{Locked, LoginThrottle};
use crate::App;
use crate::auth::Principal;
use crate::error::{AppError, AppResult};
use kizuki_domain::ids::UserId;
use kizuki_domain::user::User;
use serde_json::json;
use std::net::IpAddr;

/// What became of an e-mail and password.
#[derive(Debug)]
pub enum PasswordOutcome {
    /// Too many failures for this account or address: nothing was checked.
    Locked(Locked),
    /// Wrong e-mail or password (the two are never told apart); `lock` when this failure
    /// locked the account or address.
    Refused { lock: Option<Locked> },
    /// The right password from an address the organisation does not allow.
    AddressRefused,
    /// The right password; a second factor comes next. `enrol`: the role requires one and
    /// the user has none yet, so an authenticator is enrolled first.
    SecondFactor { user: User, enrol: bool },
    /// Signed in: no second factor is required or enrolled.
    SignedIn(User),
}

/// What became of a second-factor code (TOTP or recovery code).
#[derive(Debug)]
pub enum CodeOutcome {
    /// Too many failures: the login halfway through is over.
    Locked(Locked),
    /// A wrong code; `lock` when this failure locked the account.
    Refused { lock: Option<Locked> },
    /// Signed in.
    SignedIn(User),
}

/// The throttle's key for an account: e-mail addresses compare without case.
fn account_key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Checks an e-mail and password from `addr`.
pub async fn with_password(
    app: &App,
    throttle: &LoginThrottle,
    email: &str,
    password: &str,
    addr: IpAddr,
) -> AppResult<PasswordOutcome> {
    let account = account_key(email);
    let detail = json!({"addr": addr.to_string()});
    let target = format!("user:{account}");
    if let Err(locked) = throttle.check(&account, addr) {
        crate::security::audit_log::note(
            app,
            audit::ANONYMOUS,
            actions::LOGIN_LOCKED,
            target,
            &detail,
        )
        .await?;
        return Ok(PasswordOutcome::Locked(locked));
    }
    let user = match crate::auth::login(app, email.trim(), password).await {
        Ok(u) => u,
        Err(AppError::Unauthenticated) => {
            let lock = throttle.record_failure(&account, addr);
            crate::security::audit_log::note(
                app,
                audit::ANONYMOUS,
                actions::LOGIN_FAILED,
                target,
                &detail,
            )
            .await?;
            return Ok(PasswordOutcome::Refused { lock });
        }
        Err(e) => return Err(e),
    };
    let permitted = crate::accounts::allowlist_permits(app, user.user.org_id, addr).await?;
    if !address_allowed(app, &user, permitted, &detail).await? {
        return Ok(PasswordOutcome::AddressRefused);
    }
    let enrolled = crate::security::mfa::is_enrolled(app, user.id).await?;
    let required = super::totp::mfa_required(user.user.role);
    if enrolled || required {
        return Ok(PasswordOutcome::SecondFactor {
            user,
            enrol: !enrolled,
        });
    }
    signed_in(app, throttle, &user, addr).await?;
    Ok(PasswordOutcome::SignedIn(user))
}

/// Checks the second-factor code of the login that `user` has halfway through.
pub async fn with_code(
    app: &App,
    throttle: &LoginThrottle,
    user: UserId,
    code: &str,
    addr: IpAddr,
) -> AppResult<CodeOutcome> {
    let user = crate::auth::pending_user(app, user).await?;
    let account = account_key(user.user.email.as_str());
    if let Err(locked) = throttle.check(&account, addr) {
        return Ok(CodeOutcome::Locked(locked));
    }
    if crate::security::mfa::verify_login(app, user.id, code).await? {
        signed_in(app, throttle, &user, addr).await?;
        return Ok(CodeOutcome::SignedIn(user));
    }
    let lock = throttle.record_failure(&account, addr);
    crate::security::audit_log::note(
        app,
        audit::actor_user(user.id),
        actions::MFA_FAILED,
        format!("user:{account}"),
        &json!({"addr": addr.to_string()}),
    )
    .await?;
    Ok(CodeOutcome::Refused { lock })
}

/// Confirms the authenticator that `user` enrols halfway through a login. `None`: the code
/// did not match the secret being enrolled (try again). Otherwise the login is complete and
/// the recovery codes, to be shown this once, are returned.
pub async fn with_enrolment(
    app: &App,
    throttle: &LoginThrottle,
    user: UserId,
    code: &str,
    addr: IpAddr,
) -> AppResult<Option<(User, Vec<String>)>> {
    let user = crate::auth::pending_user(app, user).await?;
    let Some(codes) = crate::security::mfa::confirm(app, &user, code).await? else {
        return Ok(None);
    };
    signed_in(app, throttle, &user, addr).await?;
    Ok(Some((user, codes)))
}

/// Checks an API bearer token from `addr`: the same address throttle and allowlist as the
/// login form. Every refusal is [`AppError::Unauthenticated`] except an address outside the
/// organisation's allowlist, which is [`AppError::Forbidden`] (and audited).
pub async fn with_token(
    app: &App,
    throttle: &LoginThrottle,
    secret: &str,
    addr: IpAddr,
) -> AppResult<Principal> {
    let key = format!("token@{addr}");
    if throttle.check(&key, addr).is_err() {
        return Err(AppError::Unauthenticated);
    }
    let holder = match crate::security::tokens::authenticate(app, secret).await {
        Ok(h) => h,
        Err(AppError::Unauthenticated) => {
            let _ = throttle.record_failure(&key, addr);
            return Err(AppError::Unauthenticated);
        }
        Err(e) => return Err(e),
    };
    let detail = json!({"addr": addr.to_string(), "via": "token"});
    let permitted = crate::accounts::stored_allowlist_permits(&holder.allowlist, addr);
    if !address_allowed(app, &holder.user, permitted, &detail).await? {
        return Err(AppError::Forbidden(format!(
            "this organisation's accounts may not be used from {addr}"
        )));
    }
    Ok(Principal::with_org(&holder.user, &holder.org))
}

/// Passes on whether the user's organisation allows the address; a refusal is audited.
async fn address_allowed(
    app: &App,
    user: &User,
    permitted: bool,
    detail: &serde_json::Value,
) -> AppResult<bool> {
    if permitted {
        return Ok(true);
    }
    crate::security::audit_log::note(
        app,
        audit::actor_user(user.id),
        actions::IP_REFUSED,
        format!("user:{}", user.user.email.as_str()),
        detail,
    )
    .await?;
    Ok(false)
}

/// The last step of every login: the throttle forgets the account's failures and the login
/// is audited. The caller then opens the signed-in session.
async fn signed_in(
    app: &App,
    throttle: &LoginThrottle,
    user: &User,
    addr: IpAddr,
) -> AppResult<()> {
    throttle.record_success(&account_key(user.user.email.as_str()), addr);
    crate::security::audit_log::note(
        app,
        audit::actor_user(user.id),
        actions::LOGIN,
        format!("user:{}", user.user.email.as_str()),
        &json!({"addr": addr.to_string()}),
    )
    .await?;
    Ok(())
}
