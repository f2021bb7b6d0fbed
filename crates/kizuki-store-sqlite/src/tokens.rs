//! API tokens in SQLite, kept by the hash of their secret.

use crate::*;
use kizuki_store::prelude::*;

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

    async fn list_tokens(&self, user: UserId) -> StoreResult<Vec<ApiToken>> {
        self.read(move |c| {
            let mut st = c.prepare(&format!(
                "SELECT {TOKEN_COLS} FROM api_tokens WHERE user_id = ?1 ORDER BY id"
            ))?;
            st.query_map([user.0], token_row)?.collect()
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
