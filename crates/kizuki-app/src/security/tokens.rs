//! API bearer tokens: created for a user and shown once, stored only as a hash, revocable.

use crate::App;
use crate::auth::Principal;
use crate::error::{AppError, AppResult};
use blake2::{Blake2s256, Digest};
use kizuki_domain::user::{Email, User};
use kizuki_store::{ApiToken, NewToken, StoreError, TokenHolder};

/// What every token starts with, so a leaked one is easy to recognise in logs and scanners.
pub const PREFIX: &str = "kzk_";

/// The stored form of a secret. Tokens carry 256 random bits, so a fast hash is enough: there
/// is nothing to brute-force that a slow hash would protect.
pub fn hash(secret: &str) -> String {
    let digest = Blake2s256::digest(secret.as_bytes());
    hex::encode(digest)
}

/// Creates a token for the user with `email` (the command line); returns it with the secret,
/// which is never stored and cannot be shown again.
pub async fn create(app: &App, email: &str, label: &str) -> AppResult<(ApiToken, String)> {
    let email = Email::parse(email)?;
    let creds = app
        .store
        .credentials(&email)
        .await?
        .ok_or_else(|| AppError::Refused(format!("no user {email}")))?;
    issue(app, &creds.user, label, "cli".to_owned()).await
}

/// Creates a token for the signed-in user themself (their account page).
pub async fn create_own(app: &App, p: &Principal, label: &str) -> AppResult<(ApiToken, String)> {
    let user = app.store.get_user(p.user_id).await?;
    issue(app, &user, label, super::audit::actor_user(p.user_id)).await
}

pub(crate) async fn issue(
    app: &App,
    user: &User,
    label: &str,
    actor: String,
) -> AppResult<(ApiToken, String)> {
    if !user.active {
        return Err(AppError::Refused(format!(
            "user {} is disabled",
            user.user.email
        )));
    }
    let mut raw = [0u8; 32];
    app.fill_random(&mut raw);
    let secret = format!("{PREFIX}{}", hex::encode(raw));
    let label = label.trim();
    if label.chars().count() > MAX_LABEL {
        return Err(kizuki_domain::FieldError::invalid(
            "label",
            format!("{MAX_LABEL}文字以内で / at most {MAX_LABEL} characters"),
        )
        .into());
    }
    let label = if label.is_empty() { "api" } else { label }.to_owned();
    let token = app
        .store
        .create_token(NewToken {
            user_id: user.id,
            label,
            hash: hash(&secret),
            at: app.clock.now(),
        })
        .await?;
    // A credential issued is audited (the secret never is: only its label and owner).
    super::audit_log::note(
        app,
        actor,
        super::audit::actions::TOKEN_CREATED,
        format!("token:{}", token.id),
        &serde_json::json!({"user": user.user.email.as_str(), "label": token.label}),
    )
    .await?;
    Ok((token, secret))
}

/// What a token's label may hold.
const MAX_LABEL: usize = 100;

/// The active user a bearer secret belongs to, with the user's organisation and its
/// allowlist; any failure is [`AppError::Unauthenticated`].
pub async fn authenticate(app: &App, secret: &str) -> AppResult<TokenHolder> {
    let secret = secret.trim();
    if !secret.starts_with(PREFIX) {
        return Err(AppError::Unauthenticated);
    }
    let Some(holder) = app.store.token_holder(&hash(secret)).await? else {
        return Err(AppError::Unauthenticated);
    };
    let (token, user) = (&holder.token, &holder.user);
    if !token.is_active() || !user.active {
        return Err(AppError::Unauthenticated);
    }
    // A credential's first use is audited like its issue and revocation; later requests see
    // the time set and cost nothing more.
    if token.first_used_at.is_none()
        && app
            .store
            .note_token_first_use(token.id, app.clock.now())
            .await?
    {
        super::audit_log::note(
            app,
            super::audit::actor_user(user.id),
            super::audit::actions::TOKEN_FIRST_USED,
            format!("token:{}", token.id),
            &serde_json::json!({ "label": token.label }),
        )
        .await?;
    }
    Ok(holder)
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
    revoke_as(app, id, "cli".to_owned()).await
}

/// The signed-in user's own tokens, newest first.
pub async fn mine(app: &App, p: &Principal) -> AppResult<Vec<ApiToken>> {
    let mut out = app.store.list_tokens(p.user_id).await?;
    out.sort_by_key(|t| std::cmp::Reverse(t.created_at));
    Ok(out)
}

/// Revokes one of the signed-in user's own tokens; anyone else's is "not found".
pub async fn revoke_own(app: &App, p: &Principal, id: i64) -> AppResult<ApiToken> {
    let own = app.store.list_tokens(p.user_id).await?;
    if !own.iter().any(|t| t.id == id) {
        return Err(StoreError::not_found("token", id).into());
    }
    revoke_as(app, id, super::audit::actor_user(p.user_id)).await
}

pub(crate) async fn revoke_as(app: &App, id: i64, actor: String) -> AppResult<ApiToken> {
    let token = app.store.revoke_token(id, app.clock.now()).await?;
    super::audit_log::note(
        app,
        actor,
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

    #[tokio::test]
    async fn a_token_brings_its_organisation_for_access_decisions() {
        let (app, _t) = crate::test_support::demo(13).await;
        let me = crate::test_support::operator_principal(&app).await;
        assert_eq!(me.org, None, "a principal read from the user alone");
        let (_, secret) = create_own(&app, &me, "ci").await.unwrap();
        let throttle = crate::security::throttle::LoginThrottle::new(
            crate::security::throttle::ThrottleConfig::default(),
            app.clock.clone(),
        );
        let addr = std::net::IpAddr::from([192, 0, 2, 7]);
        let p = crate::security::signin::with_token(&app, &throttle, &secret, addr)
            .await
            .unwrap();
        let org = app.store.get_org(me.org_id).await.unwrap();
        assert_eq!(p.org, Some(crate::auth::OrgFacts::of(&org)));
        assert_eq!(
            Principal {
                org: None,
                ..p.clone()
            },
            me
        );
        // Facts of another organisation are never attached.
        let other = app.store.list_orgs().await.unwrap();
        let other = other.iter().find(|o| o.id != me.org_id).unwrap();
        let user = app.store.get_user(me.user_id).await.unwrap();
        assert_eq!(Principal::with_org(&user, other).org, None);
        // The allowlist read with the token is the one enforced.
        let mine = crate::accounts::allowlist_permits(&app, me.org_id, addr)
            .await
            .unwrap();
        assert!(mine);
        app.store
            .set_org_allowlist(me.org_id, 0, "198.51.100.0/24", None, app.clock.now())
            .await
            .unwrap();
        assert!(matches!(
            crate::security::signin::with_token(&app, &throttle, &secret, addr).await,
            Err(AppError::Forbidden(_))
        ));
    }

    #[tokio::test]
    async fn a_user_manages_their_own_tokens_and_no_one_elses() {
        let (app, _t) = crate::test_support::demo(12).await;
        let me = crate::test_support::operator_principal(&app).await;
        let other = crate::test_support::analyst_principal(&app).await;
        let (mine_t, secret) = create_own(&app, &me, " 監視スクリプト ").await.unwrap();
        assert_eq!(mine_t.label, "監視スクリプト");
        assert_eq!(
            authenticate(&app, &secret).await.unwrap().user.id,
            me.user_id
        );
        assert_eq!(mine(&app, &me).await.unwrap().len(), 1);
        assert!(mine(&app, &other).await.unwrap().is_empty());
        assert!(matches!(
            revoke_own(&app, &other, mine_t.id).await,
            Err(AppError::Store(StoreError::NotFound { .. }))
        ));
        assert!(authenticate(&app, &secret).await.is_ok(), "still valid");
        revoke_own(&app, &me, mine_t.id).await.unwrap();
        assert!(authenticate(&app, &secret).await.is_err());
        let long = "x".repeat(MAX_LABEL + 1);
        assert!(matches!(
            create_own(&app, &me, &long).await,
            Err(AppError::Validation(_))
        ));
        let entries = super::super::audit_log::all_entries(&app).await.unwrap();
        let by_me = super::super::audit::actor_user(me.user_id);
        let actions: Vec<&str> = entries
            .iter()
            .filter(|e| e.target == format!("token:{}", mine_t.id) && e.actor == by_me)
            .map(|e| e.action.as_str())
            .collect();
        assert_eq!(
            actions,
            vec![
                super::super::audit::actions::TOKEN_CREATED,
                super::super::audit::actions::TOKEN_FIRST_USED,
                super::super::audit::actions::TOKEN_REVOKED
            ],
            "issued, first used (once, though used twice) and revoked, each by the user themself"
        );
    }
}
