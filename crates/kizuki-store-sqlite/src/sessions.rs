//! SQLite side of browser sessions in the database (migration 0008): rows keyed by the
//! SHA-256 of the session id, so every process on the file sees every session.

use async_trait::async_trait;
use kizuki_store::prelude::*;

use crate::codec::{self, time_from, time_to};
use crate::{SqliteStore, db_err};
use chrono::{DateTime, Utc};
use kizuki_domain::ids::UserId;
use kizuki_domain::taxonomy::Lang;
use kizuki_store::{PendingLogin, SessionRecord, SessionUpdate, StoreResult};
use rusqlite::types::Value;
use rusqlite::{OptionalExtension, params, params_from_iter};

const COLS: &str = "user_id, csrf, lang, created_at, seen_at, flash, pending_user, pending_next, \
                    pending_enrol";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SessionRecord> {
    let lang: String = r.get("lang")?;
    let pending = match (
        r.get::<_, Option<i64>>("pending_user")?,
        r.get::<_, Option<String>>("pending_next")?,
        r.get::<_, Option<bool>>("pending_enrol")?,
    ) {
        (Some(user), Some(next), Some(enrol)) => Some(PendingLogin {
            user: UserId(user),
            next,
            enrol,
        }),
        _ => None,
    };
    Ok(SessionRecord {
        user: r.get::<_, Option<i64>>("user_id")?.map(UserId),
        csrf: r.get("csrf")?,
        lang: Lang::parse(&lang).ok_or_else(|| codec::bad("sessions.lang", &lang))?,
        created: time_from(&r.get::<_, String>("created_at")?)?,
        seen: time_from(&r.get::<_, String>("seen_at")?)?,
        flash: r.get("flash")?,
        pending,
    })
}

/// The three pending-login columns of `p`.
fn pending_values(p: Option<&PendingLogin>) -> [Value; 3] {
    match p {
        Some(p) => [
            Value::Integer(p.user.0),
            Value::Text(p.next.clone()),
            Value::Integer(i64::from(p.enrol)),
        ],
        None => [Value::Null, Value::Null, Value::Null],
    }
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn insert_session(
        &self,
        key: &kizuki_store::SessionKey,
        session: &kizuki_store::SessionRecord,
    ) -> StoreResult<()> {
        let v: &SessionRecord = session;
        let key = key.as_str().to_owned();
        let v = v.clone();
        self.write(move |tx| {
            let [pu, pn, pe] = pending_values(v.pending.as_ref());
            tx.execute(
                &format!("INSERT INTO sessions (key, {COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
                params![
                    key,
                    v.user.map(|u| u.0),
                    v.csrf,
                    v.lang.code(),
                    time_to(v.created),
                    time_to(v.seen),
                    v.flash,
                    pu,
                    pn,
                    pe
                ],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn session(
        &self,
        key: &kizuki_store::SessionKey,
    ) -> StoreResult<Option<kizuki_store::SessionRecord>> {
        let key = key.as_str().to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {COLS} FROM sessions WHERE key = ?1"))?
                .query_row([key], row)
                .optional()
        })
        .await
    }

    async fn update_session(
        &self,
        key: &kizuki_store::SessionKey,
        update: &kizuki_store::SessionUpdate,
    ) -> StoreResult<bool> {
        let u: &SessionUpdate = update;
        // Only the named columns are set, so two requests changing different fields of one
        // session at once (a language switch and a notice) do not undo each other.
        let mut sets: Vec<&str> = Vec::new();
        let mut values: Vec<Value> = vec![Value::Text(key.as_str().to_owned())];
        if let Some(lang) = u.lang {
            sets.push("lang");
            values.push(Value::Text(lang.code().to_owned()));
        }
        if let Some(seen) = u.seen {
            sets.push("seen_at");
            values.push(Value::Text(time_to(seen)));
        }
        if let Some(flash) = &u.flash {
            sets.push("flash");
            values.push(flash.clone().map_or(Value::Null, Value::Text));
        }
        if let Some(pending) = &u.pending {
            sets.extend(["pending_user", "pending_next", "pending_enrol"]);
            values.extend(pending_values(pending.as_ref()));
        }
        if sets.is_empty() {
            let found = self.session(key).await?.is_some();
            return Ok(found);
        }
        let assignments: Vec<String> = sets
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = ?{}", i + 2))
            .collect();
        let sql = format!(
            "UPDATE sessions SET {} WHERE key = ?1",
            assignments.join(", ")
        );
        self.write(move |tx| {
            let n = tx
                .execute(&sql, params_from_iter(values.iter()))
                .map_err(db_err)?;
            Ok(n > 0)
        })
        .await
    }

    async fn take_session_flash(
        &self,
        key: &kizuki_store::SessionKey,
    ) -> StoreResult<Option<String>> {
        let key = key.as_str().to_owned();
        // Read and clear in one write transaction: the writer is the only one, so no other
        // request can take the same notice in between.
        self.write(move |tx| {
            let flash: Option<String> = tx
                .query_row("SELECT flash FROM sessions WHERE key = ?1", [&key], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(db_err)?
                .flatten();
            if flash.is_some() {
                tx.execute("UPDATE sessions SET flash = NULL WHERE key = ?1", [&key])
                    .map_err(db_err)?;
            }
            Ok(flash)
        })
        .await
    }

    async fn delete_session(&self, key: &kizuki_store::SessionKey) -> StoreResult<()> {
        let key = key.as_str().to_owned();
        self.write(move |tx| {
            tx.execute("DELETE FROM sessions WHERE key = ?1", [key])
                .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn take_shared_token(
        &self,
        key: &str,
        per_minute: u32,
        burst: u32,
        now_ms: i64,
    ) -> StoreResult<Option<u64>> {
        let key = key.to_owned();
        let (granted, tokens): (bool, f64) = self
            .write(move |tx| {
                tx.query_row(
                    "INSERT INTO rate_buckets (key, tokens, at_ms, granted)
                     VALUES (?1, MAX(CAST(?3 AS REAL) - 1.0, 0.0), ?4, ?3 >= 1)
                     ON CONFLICT (key) DO UPDATE SET
                       granted = MIN(?3, tokens + MAX(0, ?4 - at_ms) * ?2 / 60000.0) >= 1.0,
                       tokens = MIN(?3, tokens + MAX(0, ?4 - at_ms) * ?2 / 60000.0)
                                - (MIN(?3, tokens + MAX(0, ?4 - at_ms) * ?2 / 60000.0) >= 1.0),
                       at_ms = MAX(at_ms, ?4)
                     RETURNING granted, tokens",
                    params![key, per_minute, burst, now_ms],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .map_err(db_err)
            })
            .await?;
        Ok((!granted).then(|| kizuki_store::millis_until_token(tokens, per_minute)))
    }

    async fn delete_user_sessions(&self, user: UserId) -> StoreResult<u64> {
        self.write(move |tx| {
            let n = tx
                .execute(
                    "DELETE FROM sessions WHERE user_id = ?1 OR pending_user = ?1",
                    [user.0],
                )
                .map_err(db_err)?;
            Ok(n as u64)
        })
        .await
    }

    async fn purge_sessions(
        &self,
        seen_before: DateTime<Utc>,
        created_before: DateTime<Utc>,
    ) -> StoreResult<u64> {
        self.write(move |tx| {
            let n = tx
                .execute(
                    "DELETE FROM sessions WHERE seen_at < ?1 OR created_at < ?2",
                    params![time_to(seen_before), time_to(created_before)],
                )
                .map_err(db_err)?;
            Ok(n as u64)
        })
        .await
    }

    async fn instance_secret(&self, name: &str, candidate: &[u8]) -> StoreResult<Vec<u8>> {
        let name = name.to_owned();
        let candidate = candidate.to_vec();
        // Insert-if-absent and read back in one write transaction: writers on the file take turns,
        // so every process reads the value of whichever inserted first.
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO instance_secrets (name, value) VALUES (?1, ?2) \
                 ON CONFLICT (name) DO NOTHING",
                params![name, candidate],
            )
            .map_err(db_err)?;
            tx.query_row(
                "SELECT value FROM instance_secrets WHERE name = ?1",
                [&name],
                |r| r.get(0),
            )
            .map_err(db_err)
        })
        .await
    }
}
