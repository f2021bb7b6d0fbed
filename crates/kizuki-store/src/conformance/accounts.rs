//! Conformance for account management: disabling a user sticks and bumps its
//! version; a password set with "must change" is reported as such until a later set clears
//! it, and the hash stored is the one given.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::{new_org, t0};
use crate::*;
use chrono::Duration;
use kizuki_domain::taxonomy::Lang;
use kizuki_domain::user::Role;

async fn a_reporter(store: &dyn Store, key: &str) -> User {
    let org = store.create_org(new_org(key, "electricity")).await.unwrap();
    store
        .create_user(
            NewUser {
                org_id: org.id,
                email: Email::parse(&format!("{key}@example.jp")).unwrap(),
                display_name: key.into(),
                role: Role::Reporter,
                lang: Lang::Ja,
            },
            "$argon2id$first",
        )
        .await
        .unwrap()
}

pub async fn users_disable_and_must_change_password(store: DynStore) {
    let u = a_reporter(store.as_ref(), "acct-a").await;
    let other = a_reporter(store.as_ref(), "acct-b").await;
    assert!(u.active);
    // A fresh account has no one-time password to change and no recorded change.
    assert_eq!(
        store.password_state(u.id).await.unwrap(),
        PasswordState::default()
    );

    let off = store.set_user_active(u.id, false).await.unwrap();
    assert!(!off.active);
    assert!(off.version > u.version, "{} !> {}", off.version, u.version);
    assert!(!store.get_user(u.id).await.unwrap().active);
    let creds = store.credentials(&u.user.email).await.unwrap().unwrap();
    assert!(!creds.user.active);
    // Only that user.
    assert!(store.get_user(other.id).await.unwrap().active);
    let on = store.set_user_active(u.id, true).await.unwrap();
    assert!(on.active && on.version > off.version);

    store
        .set_password(u.id, "$argon2id$onetime", true, t0())
        .await
        .unwrap();
    assert!(store.password_state(u.id).await.unwrap().must_change);
    assert!(!store.password_state(other.id).await.unwrap().must_change);
    let creds = store.credentials(&u.user.email).await.unwrap().unwrap();
    assert_eq!(creds.password_hash, "$argon2id$onetime");

    store
        .set_password(u.id, "$argon2id$chosen", false, t0() + Duration::minutes(5))
        .await
        .unwrap();
    assert!(!store.password_state(u.id).await.unwrap().must_change);
    let creds = store.credentials(&u.user.email).await.unwrap().unwrap();
    assert_eq!(creds.password_hash, "$argon2id$chosen");
    // The time of the change is kept exactly (microseconds), for ending older sessions.
    assert_eq!(
        store.password_state(u.id).await.unwrap().changed_at,
        Some(t0() + Duration::minutes(5))
    );
    assert_eq!(
        store.password_state(other.id).await.unwrap().changed_at,
        None
    );

    // Unknown users are "not found", and nothing is written for them.
    let ghost = UserId(u.id.0 + 10_000);
    assert!(matches!(
        store.set_user_active(ghost, false).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.set_password(ghost, "$x", true, t0()).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(!store.password_state(ghost).await.unwrap().must_change);
}
