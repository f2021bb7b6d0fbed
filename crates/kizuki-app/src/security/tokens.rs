//! API bearer tokens: created for a user and shown once, stored only as a hash, revocable.

use crate::App;
use crate::error::{AppError, AppResult};
use blake2::{Blake2s256, Digest};
use kizuki_domain::user::{Email, User};
use kizuki_store::{ApiToken, NewToken, StoreError};

/// What every token starts with, so a leaked one is easy to recognise in logs and scanners.
pub const PREFIX: &str = "kzk_";

/// The stored form of a secret. Tokens carry 256 random bits, so a fast hash is enough: there
/// is nothing to brute-force that a slow hash would protect.
pub fn hash(secret: &str) -> String {
    let digest = Blake2s256::digest(secret.as_bytes());
    hex::encode(digest)
}

/// Creates a token for the user with `email`; returns it with the secret, which is never
/// stored and cannot be shown again.
pub async fn create(app: &App, email: &str, label: &str) -> AppResult<(ApiToken, String)> {
    let email = Email::parse(email)?;
    let creds = app
        .store
        .credentials(&email)
        .await?
        .ok_or_else(|| AppError::Refused(format!("no user {email}")))?;
    if !creds.user.active {
        return Err(AppError::Refused(format!("user {email} is disabled")));
    }
    let mut raw = [0u8; 32];
    app.fill_random(&mut raw);
    let secret = format!("{PREFIX}{}", hex::encode(raw));
    let label = if label.trim().is_empty() {
        "api".to_owned()
    } else {
        label.trim().to_owned()
    };
    let token = app
        .store
        .create_token(NewToken {
            user_id: creds.user.id,
            label,
            hash: hash(&secret),
            at: app.clock.now(),
        })
        .await?;
    Ok((token, secret))
}

/// The active user a bearer secret belongs to; any failure is [`AppError::Unauthenticated`].
pub async fn authenticate(app: &App, secret: &str) -> AppResult<User> {
    let secret = secret.trim();
    if !secret.starts_with(PREFIX) {
        return Err(AppError::Unauthenticated);
    }
    let Some(token) = app.store.token_by_hash(&hash(secret)).await? else {
        return Err(AppError::Unauthenticated);
    };
    if !token.is_active() {
        return Err(AppError::Unauthenticated);
    }
    match app.store.get_user(token.user_id).await {
        Ok(u) if u.active => Ok(u),
        Ok(_) | Err(StoreError::NotFound { .. }) => Err(AppError::Unauthenticated),
        Err(e) => Err(e.into()),
    }
}

/// The tokens of the user with `email`.
pub async fn list(app: &App, email: &str) -> AppResult<Vec<ApiToken>> {
    let email = Email::parse(email)?;
    let creds = app
        .store
        .credentials(&email)
        .await?
        .ok_or_else(|| AppError::Refused(format!("no user {email}")))?;
    Ok(app.store.list_tokens(creds.user.id).await?)
}

pub async fn revoke(app: &App, id: i64) -> AppResult<ApiToken> {
    Ok(app.store.revoke_token(id, app.clock.now()).await?)
}
