//! User accounts in SQLite: credentials, languages, one-time passwords and enabling.

use crate::*;
use kizuki_store::PasswordState;
use kizuki_store::prelude::*;

pub(crate) const USER_COLS: &str = "id, org_id, email, display_name, role, lang, active, version";

pub(crate) fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    let role: String = r.get("role")?;
    let lang: String = r.get("lang")?;
    let email: String = r.get("email")?;
    Ok(User {
        id: UserId(r.get("id")?),
        version: r.get("version")?,
        user: NewUser {
            org_id: OrgId(r.get("org_id")?),
            email: Email::parse(&email).map_err(|_| codec::bad("users.email", &email))?,
            display_name: r.get("display_name")?,
            role: Role::parse(&role).ok_or_else(|| codec::bad("users.role", &role))?,
            lang: Lang::parse(&lang).unwrap_or_default(),
        },
        active: r.get("active")?,
    })
}

impl SqliteStore {
    /// Sets one column of a user, bumps the version and records the change; the user as now
    /// stored.
    async fn update_user(
        &self,
        id: UserId,
        column: &'static str,
        value: rusqlite::types::Value,
    ) -> StoreResult<User> {
        let now = self.now();
        self.write(move |tx| {
            let n = tx
                .execute(
                    &format!("UPDATE users SET {column} = ?2, version = version + 1 WHERE id = ?1"),
                    params![id.0, value],
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
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_user(&self, user: NewUser, password_hash: &str) -> StoreResult<User> {
        let now = self.now();
        let hash = password_hash.to_owned();
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO users (org_id, email, display_name, role, lang, password_hash,
                 active, version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, 1)",
                params![
                    user.org_id.0,
                    user.email.as_str(),
                    user.display_name,
                    user.role.code(),
                    user.lang.code(),
                    hash
                ],
            )
            .map_err(db_err)?;
            let id = tx.last_insert_rowid();
            record_change(tx, Entity::User, id, now)?;
            tx.query_row(
                &format!("SELECT {USER_COLS} FROM users WHERE id = ?1"),
                [id],
                user_row,
            )
            .map_err(db_err)
        })
        .await
    }

    async fn get_user(&self, id: UserId) -> StoreResult<User> {
        self.read_store(move |c| {
            c.prepare_cached(&format!("SELECT {USER_COLS} FROM users WHERE id = ?1"))
                .and_then(|mut st| st.query_row([id.0], user_row).optional())
                .map_err(db_err)?
                .ok_or_else(|| StoreError::not_found("user", id))
        })
        .await
    }

    async fn credentials(&self, email: &Email) -> StoreResult<Option<Credentials>> {
        let email = email.as_str().to_owned();
        self.read(move |c| {
            c.query_row(
                &format!("SELECT {USER_COLS}, password_hash FROM users WHERE email = ?1"),
                [email],
                |r| {
                    Ok(Credentials {
                        user: user_row(r)?,
                        password_hash: r.get("password_hash")?,
                    })
                },
            )
            .optional()
        })
        .await
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        self.read(|c| {
            let mut st = c.prepare(&format!("SELECT {USER_COLS} FROM users ORDER BY id"))?;
            st.query_map([], user_row)?.collect()
        })
        .await
    }

    async fn set_password_hash(&self, id: UserId, password_hash: &str) -> StoreResult<()> {
        let hash = password_hash.to_owned();
        self.write(move |tx| {
            let n = tx
                .execute(
                    "UPDATE users SET password_hash = ?2, version = version + 1 WHERE id = ?1",
                    params![id.0, hash],
                )
                .map_err(db_err)?;
            if n == 0 {
                return Err(StoreError::not_found("user", id));
            }
            Ok(())
        })
        .await
    }

    async fn set_user_lang(&self, id: UserId, lang: Lang) -> StoreResult<User> {
        self.update_user(id, "lang", rusqlite::types::Value::Text(lang.code().into()))
            .await
    }

    async fn set_user_active(&self, id: UserId, active: bool) -> StoreResult<User> {
        self.update_user(id, "active", rusqlite::types::Value::Integer(active.into()))
            .await
    }

    async fn set_user_role(&self, id: UserId, role: Role) -> StoreResult<User> {
        self.update_user(
            id,
            "role",
            rusqlite::types::Value::Text(role.code().to_owned()),
        )
        .await
    }

    async fn set_password(
        &self,
        id: UserId,
        password_hash: &str,
        must_change: bool,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let hash = password_hash.to_owned();
        self.write(move |tx| {
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

    async fn password_state(&self, id: UserId) -> StoreResult<kizuki_store::PasswordState> {
        self.read(move |c| {
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
}
