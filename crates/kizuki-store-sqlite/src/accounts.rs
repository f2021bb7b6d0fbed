//! SQLite side of account management: enabling and disabling users, and the
//! "must change password" state kept by migration 0007. `lib.rs` only delegates here.

use crate::codec::{time_from, time_to};
use crate::{SqliteStore, USER_COLS, db_err, record_change, user_row};
use chrono::{DateTime, Utc};
use kizuki_domain::ids::UserId;
use kizuki_domain::user::User;
use kizuki_store::{Entity, PasswordState, StoreError, StoreResult};
use rusqlite::{OptionalExtension, params};

pub(crate) async fn set_user_active(
    s: &SqliteStore,
    id: UserId,
    active: bool,
) -> StoreResult<User> {
    let now = s.now();
    s.write(move |tx| {
        let n = tx
            .execute(
                "UPDATE users SET active = ?2, version = version + 1 WHERE id = ?1",
                params![id.0, active],
            )
            .map_err(db_err)?;
        if n == 0 {
            return Err(StoreError::not_found("user", id));
        }
        record_change(tx, Entity::User, id.0, now)?;
        tx.query_row(
            &format!("SELECT {USER_COLS} FROM users WHERE id = ?1"),
            [id.0],
            user_row,
        )
        .map_err(db_err)
    })
    .await
}

pub(crate) async fn set_password(
    s: &SqliteStore,
    id: UserId,
    password_hash: &str,
    must_change: bool,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let hash = password_hash.to_owned();
    s.write(move |tx| {
        let n = tx
            .execute(
                "UPDATE users SET password_hash = ?2, version = version + 1 WHERE id = ?1",
                params![id.0, hash],
            )
            .map_err(db_err)?;
        if n == 0 {
            return Err(StoreError::not_found("user", id));
        }
        tx.execute(
            "INSERT INTO user_password_state (user_id, must_change, changed_at)
             VALUES (?1, ?2, ?3)
             ON CONFLICT (user_id) DO UPDATE
             SET must_change = excluded.must_change, changed_at = excluded.changed_at",
            params![id.0, must_change, time_to(at)],
        )
        .map_err(db_err)?;
        Ok(())
    })
    .await
}

pub(crate) async fn password_state(s: &SqliteStore, id: UserId) -> StoreResult<PasswordState> {
    s.read(move |c| {
        c.query_row(
            "SELECT must_change, changed_at FROM user_password_state WHERE user_id = ?1",
            [id.0],
            |r| {
                Ok(PasswordState {
                    must_change: r.get(0)?,
                    changed_at: Some(time_from(&r.get::<_, String>(1)?)?),
                })
            },
        )
        .optional()
        .map(Option::unwrap_or_default)
    })
    .await
}
