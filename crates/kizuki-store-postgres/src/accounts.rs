//! PostgreSQL side of account management: enabling and disabling users, and the
//! "must change password" state kept by migration 0007. `lib.rs` only delegates here.

use crate::rows::{USER_COLS, user_row};
use crate::{PgStore, pg_err, record_change};
use chrono::{DateTime, Utc};
use kizuki_domain::ids::UserId;
use kizuki_domain::user::User;
use kizuki_store::{Entity, PasswordState, StoreError, StoreResult};

pub(crate) async fn set_user_active(s: &PgStore, id: UserId, active: bool) -> StoreResult<User> {
    let now = s.now();
    let mut c = s.client().await?;
    let tx = c.transaction().await.map_err(pg_err)?;
    let row = tx
        .query_opt(
            &format!(
                "UPDATE users SET active = $2, version = version + 1 WHERE id = $1
                 RETURNING {USER_COLS}"
            ),
            &[&id.0, &active],
        )
        .await
        .map_err(pg_err)?
        .ok_or_else(|| StoreError::not_found("user", id))?;
    record_change(&tx, Entity::User, id.0, now).await?;
    let user = user_row(&row)?;
    tx.commit().await.map_err(pg_err)?;
    Ok(user)
}

pub(crate) async fn set_password(
    s: &PgStore,
    id: UserId,
    password_hash: &str,
    must_change: bool,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let mut c = s.client().await?;
    let tx = c.transaction().await.map_err(pg_err)?;
    let n = tx
        .execute(
            "UPDATE users SET password_hash = $2, version = version + 1 WHERE id = $1",
            &[&id.0, &password_hash],
        )
        .await
        .map_err(pg_err)?;
    if n == 0 {
        return Err(StoreError::not_found("user", id));
    }
    tx.execute(
        "INSERT INTO user_password_state (user_id, must_change, changed_at)
         VALUES ($1, $2, $3)
         ON CONFLICT (user_id) DO UPDATE
         SET must_change = EXCLUDED.must_change, changed_at = EXCLUDED.changed_at",
        &[&id.0, &must_change, &at],
    )
    .await
    .map_err(pg_err)?;
    tx.commit().await.map_err(pg_err)?;
    Ok(())
}

pub(crate) async fn password_state(s: &PgStore, id: UserId) -> StoreResult<PasswordState> {
    let c = s.client().await?;
    Ok(c.query_opt(
        "SELECT must_change, changed_at FROM user_password_state WHERE user_id = $1",
        &[&id.0],
    )
    .await
    .map_err(pg_err)?
    .map(|r| PasswordState {
        must_change: r.get(0),
        changed_at: Some(r.get(1)),
    })
    .unwrap_or_default())
}
