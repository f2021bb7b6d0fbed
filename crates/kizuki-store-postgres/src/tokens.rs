//! API tokens in PostgreSQL, kept by the hash of their secret.

use crate::*;
use kizuki_store::prelude::*;

pub(crate) const TOKEN_COLS: &str = "id, user_id, label, created_at, revoked_at, first_used_at";

pub(crate) fn token_row(r: &tokio_postgres::Row) -> ApiToken {
    ApiToken {
        id: r.get(0),
        user_id: UserId(r.get(1)),
        label: r.get(2),
        created_at: r.get(3),
        revoked_at: r.get(4),
        first_used_at: r.get(5),
    }
}

#[async_trait]
impl TokenStore for PgStore {
    async fn create_token(&self, token: NewToken) -> StoreResult<ApiToken> {
        let c = self.client().await?;
        let row = c
            .cached_query_one(
                &format!(
                    "INSERT INTO api_tokens (user_id, label, hash, created_at)
                     VALUES ($1, $2, $3, $4) RETURNING {TOKEN_COLS}"
                ),
                &[&token.user_id.0, &token.label, &token.hash, &token.at],
            )
            .await
            .map_err(|e| match pg_err(e) {
                // Never echo the hash back into an error message.
                StoreError::Duplicate { .. } => StoreError::Duplicate {
                    what: "token".into(),
                },
                other => other,
            })?;
        Ok(token_row(&row))
    }

    async fn token_by_hash(&self, hash: &str) -> StoreResult<Option<ApiToken>> {
        let c = self.client().await?;
        Ok(c.cached_query_opt(
            &format!("SELECT {TOKEN_COLS} FROM api_tokens WHERE hash = $1"),
            &[&hash],
        )
        .await
        .map_err(pg_err)?
        .map(|r| token_row(&r)))
    }

    async fn token_holder(&self, hash: &str) -> StoreResult<Option<TokenHolder>> {
        let c = self.client().await?;
        // Four statements keyed by the hash alone, so they go out pipelined: one round trip.
        let params: [&(dyn ToSql + Sync); 1] = [&hash];
        let token_sql = format!("SELECT {TOKEN_COLS} FROM api_tokens WHERE hash = $1");
        let user_sql = format!(
            "SELECT {USER_COLS} FROM users
             WHERE id = (SELECT user_id FROM api_tokens WHERE hash = $1)"
        );
        let holder_org = "(SELECT u.org_id FROM api_tokens t JOIN users u ON u.id = t.user_id
                           WHERE t.hash = $1)";
        let org_sql = format!("SELECT {ORG_COLS} FROM organisations WHERE id = {holder_org}");
        let token = c.cached_query_opt(&token_sql, &params);
        let user = c.cached_query_opt(&user_sql, &params);
        let org = c.cached_query_opt(&org_sql, &params);
        let allowlist = crate::security::allowlist_where(&c, holder_org, &hash);
        let (token, user, org, allowlist) = tokio::join!(token, user, org, allowlist);
        let (Some(token), Some(user), Some(org)) = (
            token.map_err(pg_err)?,
            user.map_err(pg_err)?,
            org.map_err(pg_err)?,
        ) else {
            return Ok(None);
        };
        let Some(allowlist) = allowlist? else {
            return Ok(None);
        };
        Ok(Some(TokenHolder {
            token: token_row(&token),
            user: user_row(&user)?,
            org: org_row(&org)?,
            allowlist,
        }))
    }

    async fn list_tokens(&self, user: UserId) -> StoreResult<Vec<ApiToken>> {
        let c = self.client().await?;
        Ok(c.cached_query(
            &format!("SELECT {TOKEN_COLS} FROM api_tokens WHERE user_id = $1 ORDER BY id"),
            &[&user.0],
        )
        .await
        .map_err(pg_err)?
        .iter()
        .map(token_row)
        .collect())
    }

    async fn note_token_first_use(&self, id: i64, at: DateTime<Utc>) -> StoreResult<bool> {
        let c = self.client().await?;
        let n = c
            .cached_execute(
                "UPDATE api_tokens SET first_used_at = $2 WHERE id = $1 AND first_used_at IS NULL",
                &[&id, &at],
            )
            .await
            .map_err(pg_err)?;
        Ok(n == 1)
    }

    async fn revoke_token(&self, id: i64, at: DateTime<Utc>) -> StoreResult<ApiToken> {
        let c = self.client().await?;
        c.cached_execute(
            "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            &[&id, &at],
        )
        .await
        .map_err(pg_err)?;
        c.cached_query_opt(
            &format!("SELECT {TOKEN_COLS} FROM api_tokens WHERE id = $1"),
            &[&id],
        )
        .await
        .map_err(pg_err)?
        .map(|r| token_row(&r))
        .ok_or_else(|| StoreError::not_found("token", id))
    }
}
