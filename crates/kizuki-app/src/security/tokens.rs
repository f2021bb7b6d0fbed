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
    // A credential issued is audited (the secret never is: only its label and owner).
    super::audit_log::note(
        app,
        "cli",
        super::audit::actions::TOKEN_CREATED,
        format!("token:{}", token.id),
        &serde_json::json!({"user": email.as_str(), "label": token.label}),
    )
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

/// Revokes the token with this id (revoking twice keeps the first time); audited.
pub async fn revoke(app: &App, id: i64) -> AppResult<ApiToken> {
    let token = app.store.revoke_token(id, app.clock.now()).await?;
    super::audit_log::note(
        app,
        "cli",
        super::audit::actions::TOKEN_REVOKED,
        format!("token:{id}"),
        &serde_json::json!({"user_id": token.user_id.0}),
    )
    .await?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn issuing_and_revoking_a_token_are_audited_without_the_secret() {
        let (app, _t) = crate::test_support::demo(11).await;
        let (token, secret) = create(&app, "reporter@railway.example.jp", "ci")
            .await
            .unwrap();
        revoke(&app, token.id).await.unwrap();
        let entries = super::super::audit_log::all_entries(&app).await.unwrap();
        let target = format!("token:{}", token.id);
        let of_token: Vec<_> = entries.iter().filter(|e| e.target == target).collect();
        let actions: Vec<&str> = of_token.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["token.created", "token.revoked"]);
        assert!(
            of_token
                .iter()
                .all(|e| !e.detail.to_string().contains(&secret)),
            "the secret never reaches the log"
        );
        assert!(authenticate(&app, &secret).await.is_err(), "revoked");
    }
}
