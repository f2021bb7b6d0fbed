//! PostgreSQL side of browser sessions in the database (migration 0008): rows keyed by the
//! SHA-256 of the session id, so every node on the database sees every session.

use crate::cached::Cached as _;
use async_trait::async_trait;
use kizuki_store::prelude::*;

use crate::{PgStore, pg_err};
use chrono::{DateTime, Utc};
use kizuki_domain::ids::UserId;
use kizuki_domain::taxonomy::Lang;
use kizuki_store::{PendingLogin, SessionRecord, SessionUpdate, StoreError, StoreResult};
use tokio_postgres::Row;

const COLS: &str = "user_id, csrf, lang, created_at, seen_at, flash, pending_user, pending_next, \
                    pending_enrol";

fn row(r: &Row) -> StoreResult<SessionRecord> {
    let lang: String = r.get("lang");
    let pending = match (
        r.get::<_, Option<i64>>("pending_user"),
        r.get::<_, Option<String>>("pending_next"),
        r.get::<_, Option<bool>>("pending_enrol"),
    ) {
        (Some(user), Some(next), Some(enrol)) => Some(PendingLogin {
            user: UserId(user),
            next,
            enrol,
        }),
        _ => None,
    };
    Ok(SessionRecord {
        user: r.get::<_, Option<i64>>("user_id").map(UserId),
        csrf: r.get("csrf"),
        lang: Lang::parse(&lang).ok_or_else(|| {
            StoreError::Invalid(format!("unexpected value {lang:?} in sessions.lang"))
        })?,
        created: r.get("created_at"),
        seen: r.get("seen_at"),
        flash: r.get("flash"),
        pending,
    })
}

#[async_trait]
impl SessionStore for PgStore {
    async fn insert_session(
        &self,
        key: &kizuki_store::SessionKey,
        session: &kizuki_store::SessionRecord,
    ) -> StoreResult<()> {
        let v: &SessionRecord = session;
        let c = self.client().await?;
        let p = v.pending.as_ref();
        c.cached_execute(
            &format!(
                "INSERT INTO sessions (key, {COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            ),
            &[
                &key.as_str(),
                &v.user.map(|u| u.0),
                &v.csrf,
                &v.lang.code(),
                &v.created,
                &v.seen,
                &v.flash,
                &p.map(|p| p.user.0),
                &p.map(|p| p.next.as_str()),
                &p.map(|p| p.enrol),
            ],
        )
        .await
        .map_err(pg_err)?;
        Ok(())
    }

    async fn session(
        &self,
        key: &kizuki_store::SessionKey,
    ) -> StoreResult<Option<kizuki_store::SessionRecord>> {
        let c = self.client().await?;
        c.cached_query_opt(
            &format!("SELECT {COLS} FROM sessions WHERE key = $1"),
            &[&key.as_str()],
        )
        .await
        .map_err(pg_err)?
        .as_ref()
        .map(row)
        .transpose()
    }

    async fn update_session(
        &self,
        key: &kizuki_store::SessionKey,
        update: &kizuki_store::SessionUpdate,
    ) -> StoreResult<bool> {
        let u: &SessionUpdate = update;
        let c = self.client().await?;
        // One statement whatever is changed; each flag says whether its column is set, so two
        // requests changing different fields of one session at once do not undo each other.
        let p = u.pending.as_ref().and_then(Option::as_ref);
        let n = c
            .cached_execute(
                "UPDATE sessions SET
                     lang = CASE WHEN $2 THEN $3 ELSE lang END,
                     seen_at = CASE WHEN $4 THEN $5 ELSE seen_at END,
                     flash = CASE WHEN $6 THEN $7 ELSE flash END,
                     pending_user = CASE WHEN $8 THEN $9 ELSE pending_user END,
                     pending_next = CASE WHEN $8 THEN $10 ELSE pending_next END,
                     pending_enrol = CASE WHEN $8 THEN $11 ELSE pending_enrol END
                 WHERE key = $1",
                &[
                    &key.as_str(),
                    &u.lang.is_some(),
                    &u.lang.map(Lang::code),
                    &u.seen.is_some(),
                    &u.seen,
                    &u.flash.is_some(),
                    &u.flash.clone().flatten(),
                    &u.pending.is_some(),
                    &p.map(|p| p.user.0),
                    &p.map(|p| p.next.as_str()),
                    &p.map(|p| p.enrol),
                ],
            )
            .await
            .map_err(pg_err)?;
        Ok(n > 0)
    }

    async fn take_session_flash(
        &self,
        key: &kizuki_store::SessionKey,
    ) -> StoreResult<Option<String>> {
        let c = self.client().await?;
        // The row lock makes a second request at the same moment wait and then read the cleared
        // notice, so it is shown once.
        Ok(c.cached_query_opt(
            "UPDATE sessions s SET flash = NULL
             FROM (SELECT key, flash FROM sessions WHERE key = $1 FOR UPDATE) old
             WHERE s.key = old.key
             RETURNING old.flash",
            &[&key.as_str()],
        )
        .await
        .map_err(pg_err)?
        .and_then(|r| r.get::<_, Option<String>>(0)))
    }

    async fn delete_session(&self, key: &kizuki_store::SessionKey) -> StoreResult<()> {
        let c = self.client().await?;
        c.cached_execute("DELETE FROM sessions WHERE key = $1", &[&key.as_str()])
            .await
            .map_err(pg_err)?;
        Ok(())
    }

    async fn take_shared_token(
        &self,
        key: &str,
        per_minute: u32,
        burst: u32,
        now_ms: i64,
    ) -> StoreResult<Option<u64>> {
        let c = self.client().await?;
        let row = c
            .cached_query_one(
                "INSERT INTO rate_buckets AS b (key, tokens, at_ms, granted)
                 VALUES ($1, GREATEST($3::float8 - 1, 0), $4, $3::float8 >= 1)
                 ON CONFLICT (key) DO UPDATE SET
                   granted = LEAST($3::float8, b.tokens
                             + GREATEST(0, $4 - b.at_ms) * $2::float8 / 60000.0) >= 1,
                   tokens = LEAST($3::float8, b.tokens
                            + GREATEST(0, $4 - b.at_ms) * $2::float8 / 60000.0)
                            - CASE WHEN LEAST($3::float8, b.tokens
                              + GREATEST(0, $4 - b.at_ms) * $2::float8 / 60000.0) >= 1
                              THEN 1 ELSE 0 END,
                   at_ms = GREATEST(b.at_ms, $4)
                 RETURNING granted, tokens",
                &[&key, &f64::from(per_minute), &f64::from(burst), &now_ms],
            )
            .await
            .map_err(pg_err)?;
        let (granted, tokens): (bool, f64) = (row.get(0), row.get(1));
        Ok((!granted).then(|| kizuki_store::millis_until_token(tokens, per_minute)))
    }

    async fn delete_user_sessions(&self, user: UserId) -> StoreResult<u64> {
        let c = self.client().await?;
        c.cached_execute(
            "DELETE FROM sessions WHERE user_id = $1 OR pending_user = $1",
            &[&user.0],
        )
        .await
        .map_err(pg_err)
    }

    async fn purge_sessions(
        &self,
        seen_before: DateTime<Utc>,
        created_before: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let c = self.client().await?;
        c.cached_execute(
            "DELETE FROM sessions WHERE seen_at < $1 OR created_at < $2",
            &[&seen_before, &created_before],
        )
        .await
        .map_err(pg_err)
    }

    async fn instance_secret(&self, name: &str, candidate: &[u8]) -> StoreResult<Vec<u8>> {
        let c = self.client().await?;
        // Two statements, not one: after waiting for a racing node's insert, `DO NOTHING` leaves
        // a statement whose snapshot predates that row; the separate read sees it committed.
        c.cached_execute(
            "INSERT INTO instance_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            &[&name, &candidate],
        )
        .await
        .map_err(pg_err)?;
        let row = c
            .cached_query_one(
                "SELECT value FROM instance_secrets WHERE name = $1",
                &[&name],
            )
            .await
            .map_err(pg_err)?;
        Ok(row.get(0))
    }
}
