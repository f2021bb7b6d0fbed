//! User accounts in PostgreSQL: credentials, languages, one-time passwords and enabling.

use crate::*;
use kizuki_store::PasswordState;
use kizuki_store::prelude::*;

impl PgStore {
    /// Sets one column of a user, bumps the version and records the change; the user as now
    /// stored.
    async fn update_user(
        &self,
        id: UserId,
        column: &'static str,
        value: &(dyn ToSql + Sync),
    ) -> StoreResult<User> {
        let now = self.now();
        in_tx!(self, |tx| {
            let row = tx
                .query_opt(
                    &format!(
                        "UPDATE users SET {column} = $2, version = version + 1 WHERE id = $1
                         RETURNING {USER_COLS}"
                    ),
                    &[&id.0, value],
                )
                .await
                .map_err(pg_err)?
                .ok_or_else(|| StoreError::not_found("user", id))?;
            record_change(&tx, Entity::User, id.0, now).await?;
            user_row(&row)
        })
    }
}

#[async_trait]
impl UserStore for PgStore {
    async fn create_user(&self, user: NewUser, password_hash: &str) -> StoreResult<User> {
        let now = self.now();
        in_tx!(self, |tx| {
            let row = tx
                .cached_query_one(
                    &format!(
                        "INSERT INTO users (org_id, email, display_name, role, lang,
                         password_hash, active, version)
                         VALUES ($1, $2, $3, $4, $5, $6, TRUE, 1) RETURNING {USER_COLS}"
                    ),
                    &[
                        &user.org_id.0,
                        &user.email.as_str(),
                        &user.display_name,
                        &user.role.code(),
                        &user.lang.code(),
                        &password_hash,
                    ],
                )
                .await
                .map_err(pg_err)?;
            let u = user_row(&row)?;
            record_change(&tx, Entity::User, u.id.0, now).await?;
            Ok(u)
        })
    }

    async fn get_user(&self, id: UserId) -> StoreResult<User> {
        let c = self.client().await?;
        c.cached_query_opt(
            &format!("SELECT {USER_COLS} FROM users WHERE id = $1"),
            &[&id.0],
        )
        .await
        .map_err(pg_err)?
        .map(|r| user_row(&r))
        .transpose()?
        .ok_or_else(|| StoreError::not_found("user", id))
    }

    async fn credentials(&self, email: &Email) -> StoreResult<Option<Credentials>> {
        let c = self.client().await?;
        c.cached_query_opt(
            &format!("SELECT {USER_COLS}, password_hash FROM users WHERE email = $1"),
            &[&email.as_str()],
        )
        .await
        .map_err(pg_err)?
        .map(|r| {
            Ok(Credentials {
                user: user_row(&r)?,
                password_hash: r.get("password_hash"),
            })
        })
        .transpose()
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        let c = self.client().await?;
        c.cached_query(&format!("SELECT {USER_COLS} FROM users ORDER BY id"), &[])
            .await
            .map_err(pg_err)?
            .iter()
            .map(user_row)
            .collect()
    }

    async fn set_password_hash(&self, id: UserId, password_hash: &str) -> StoreResult<()> {
        let c = self.client().await?;
        let n = c
            .cached_execute(
                "UPDATE users SET password_hash = $2, version = version + 1 WHERE id = $1",
                &[&id.0, &password_hash],
            )
            .await
            .map_err(pg_err)?;
        if n == 0 {
            return Err(StoreError::not_found("user", id));
        }
        Ok(())
    }

    async fn set_user_lang(&self, id: UserId, lang: Lang) -> StoreResult<User> {
        self.update_user(id, "lang", &lang.code()).await
    }

    async fn set_user_active(&self, id: UserId, active: bool) -> StoreResult<User> {
        self.update_user(id, "active", &active).await
    }

    async fn set_user_role(
        &self,
        id: UserId,
        role: kizuki_domain::user::Role,
    ) -> StoreResult<User> {
        self.update_user(id, "role", &role.code()).await
    }

    async fn set_password(
        &self,
        id: UserId,
        password_hash: &str,
        must_change: bool,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        in_tx!(self, |tx| {
            let n = tx
                .cached_execute(
                    "UPDATE users SET password_hash = $2, version = version + 1 WHERE id = $1",
                    &[&id.0, &password_hash],
                )
                .await
                .map_err(pg_err)?;
            if n == 0 {
                return Err(StoreError::not_found("user", id));
            }
            tx.cached_execute(
                "INSERT INTO user_password_state (user_id, must_change, changed_at)
                 VALUES ($1, $2, $3)
                 ON CONFLICT (user_id) DO UPDATE
                 SET must_change = EXCLUDED.must_change, changed_at = EXCLUDED.changed_at",
                &[&id.0, &must_change, &at],
            )
            .await
            .map_err(pg_err)?;
            Ok(())
        })
    }

    async fn password_state(&self, id: UserId) -> StoreResult<kizuki_store::PasswordState> {
        let c = self.client().await?;
        Ok(c.cached_query_opt(
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
}
