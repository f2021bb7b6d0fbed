//! API tokens in SQLite, kept by the hash of their secret.

use crate::*;
use kizuki_store::prelude::*;

pub(crate) const TOKEN_COLS: &str = "id, user_id, label, created_at, revoked_at, first_used_at";

pub(crate) fn token_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ApiToken> {
    Ok(ApiToken {
        id: r.get("id")?,
        user_id: UserId(r.get("user_id")?),
        label: r.get("label")?,
        created_at: time_from(&r.get::<_, String>("created_at")?)?,
        revoked_at: r
            .get::<_, Option<String>>("revoked_at")?
            .map(|s| time_from(&s))
            .transpose()?,
        first_used_at: r
            .get::<_, Option<String>>("first_used_at")?
            .map(|s| time_from(&s))
            .transpose()?,
    })
}

pub(crate) fn load_token(c: &Connection, id: i64) -> StoreResult<ApiToken> {
    c.query_row(
        &format!("SELECT {TOKEN_COLS} FROM api_tokens WHERE id = ?1"),
        [id],
        token_row,
    )
    .optional()
    .map_err(db_err)?
    .ok_or_else(|| StoreError::not_found("token", id))
}

#[async_trait]
impl TokenStore for SqliteStore {
    async fn create_token(&self, token: NewToken) -> StoreResult<ApiToken> {
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO api_tokens (user_id, label, hash, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![token.user_id.0, token.label, token.hash, time_to(token.at)],
            )
            .map_err(|e| match db_err(e) {
                // Never echo the hash back into an error message.
                StoreError::Duplicate { .. } => StoreError::Duplicate {
                    what: "token".into(),
                },
                other => other,
            })?;
            load_token(tx, tx.last_insert_rowid())
        })
        .await
    }

    async fn token_by_hash(&self, hash: &str) -> StoreResult<Option<ApiToken>> {
        let hash = hash.to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {TOKEN_COLS} FROM api_tokens WHERE hash = ?1"
            ))
            .and_then(|mut st| st.query_row([hash], token_row).optional())
        })
        .await
    }

    async fn token_holder(&self, hash: &str) -> StoreResult<Option<TokenHolder>> {
        let hash = hash.to_owned();
        // One trip to a reader connection for all four.
        self.read_store(move |c| {
            let token = c
                .prepare_cached(&format!(
                    "SELECT {TOKEN_COLS} FROM api_tokens WHERE hash = ?1"
                ))
                .and_then(|mut st| st.query_row([hash], token_row).optional())
                .map_err(db_err)?;
            let Some(token) = token else {
                return Ok(None);
            };
            let user = c
                .prepare_cached(&format!(
                    "SELECT {} FROM users WHERE id = ?1",
                    crate::users::USER_COLS
                ))
                .and_then(|mut st| {
                    st.query_row([token.user_id.0], crate::users::user_row)
                        .optional()
                })
                .map_err(db_err)?;
            let Some(user) = user else {
                return Ok(None);
            };
            let org = match crate::orgs::load_org(c, user.user.org_id) {
                Ok(o) => o,
                Err(StoreError::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(e),
            };
            let allowlist = crate::security::load_allowlist(c, org.id)?;
            Ok(Some(TokenHolder {
                token,
                user,
                org,
                allowlist,
            }))
        })
        .await
    }

    async fn list_tokens(&self, user: UserId) -> StoreResult<Vec<ApiToken>> {
        self.read(move |c| {
            let mut st = c.prepare(&format!(
                "SELECT {TOKEN_COLS} FROM api_tokens WHERE user_id = ?1 ORDER BY id"
            ))?;
            st.query_map([user.0], token_row)?.collect()
        })
        .await
    }

    async fn note_token_first_use(&self, id: i64, at: DateTime<Utc>) -> StoreResult<bool> {
        self.write(move |tx| {
            let n = tx
                .execute(
                    "UPDATE api_tokens SET first_used_at = ?2 WHERE id = ?1 AND first_used_at IS NULL",
                    params![id, time_to(at)],
                )
                .map_err(db_err)?;
            Ok(n == 1)
        })
        .await
    }

    async fn revoke_token(&self, id: i64, at: DateTime<Utc>) -> StoreResult<ApiToken> {
        self.write(move |tx| {
            load_token(tx, id)?;
            tx.execute(
                "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, time_to(at)],
            )
            .map_err(db_err)?;
            load_token(tx, id)
        })
        .await
    }
}
