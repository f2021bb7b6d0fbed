//! The change feed and record history in SQLite: every write appends to both, inside its
//! own transaction.

use crate::*;
use kizuki_store::prelude::*;

pub(crate) fn record_change(
    tx: &Transaction<'_>,
    entity: Entity,
    id: i64,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    tx.prepare_cached("INSERT INTO changes (entity, entity_id, at) VALUES (?1, ?2, ?3)")
        .and_then(|mut st| st.execute(params![entity.code(), id, time_to(at)]))
        .map_err(db_err)?;
    Ok(())
}

#[expect(
    clippy::too_many_arguments,
    reason = "one row of the history table; a struct would only repeat its columns"
)]
pub(crate) fn record_history<T: serde::Serialize>(
    tx: &Transaction<'_>,
    entity: Entity,
    id: i64,
    version: i64,
    at: DateTime<Utc>,
    by: Option<UserId>,
    action: &str,
    snapshot: &T,
) -> StoreResult<()> {
    let mut st = tx
        .prepare_cached(
            "INSERT INTO history (entity, entity_id, version, at, user_id, action, snapshot)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .map_err(db_err)?;
    st.execute(params![
        entity.code(),
        id,
        version,
        time_to(at),
        by.map(|u| u.0),
        action,
        to_json(snapshot).map_err(db_err)?
    ])
    .map_err(db_err)?;
    record_change(tx, entity, id, at)
}

/// Compares the stored version with the one the caller edited; `Ok` when they match.
pub(crate) fn expect_version(
    tx: &Transaction<'_>,
    table: &str,
    key_col: &str,
    key: i64,
    expected: i64,
) -> StoreResult<bool> {
    let v: Option<i64> = tx
        .query_row(
            &format!("SELECT version FROM {table} WHERE {key_col} = ?1"),
            [key],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err)?;
    match v {
        None => Err(StoreError::NotFound {
            entity: match table {
                "reports" => "report",
                "cases" => "case",
                "surveys" => "survey",
                _ => "organisation",
            },
            id: key.to_string(),
        }),
        Some(v) => Ok(v == expected),
    }
}

pub(crate) fn history(
    c: &Connection,
    entity: Entity,
    id: i64,
) -> rusqlite::Result<Vec<HistoryEntry>> {
    let mut st = c.prepare_cached(
        "SELECT version, at, user_id, action, snapshot FROM history
         WHERE entity = ?1 AND entity_id = ?2 ORDER BY version",
    )?;
    st.query_map(params![entity.code(), id], |r| {
        Ok(HistoryEntry {
            version: r.get(0)?,
            at: time_from(&r.get::<_, String>(1)?)?,
            user_id: r.get::<_, Option<i64>>(2)?.map(UserId),
            action: r.get(3)?,
            snapshot: r.get(4)?,
        })
    })?
    .collect()
}

#[async_trait]
impl ChangeFeed for SqliteStore {
    async fn changes_since(&self, after: i64, limit: usize) -> StoreResult<Vec<Change>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |c| {
            let mut st = c.prepare_cached(
                "SELECT seq, entity, entity_id, at FROM changes WHERE seq > ?1
                 ORDER BY seq LIMIT ?2",
            )?;
            st.query_map(params![after, limit], |r| {
                let e: String = r.get(1)?;
                Ok(Change {
                    seq: r.get(0)?,
                    entity: Entity::parse(&e).ok_or_else(|| codec::bad("changes.entity", &e))?,
                    id: r.get(2)?,
                    at: time_from(&r.get::<_, String>(3)?)?,
                })
            })?
            .collect()
        })
        .await
    }

    async fn count_changes_after(&self, after: i64) -> StoreResult<u64> {
        self.read(move |c| {
            c.prepare_cached("SELECT COUNT(*) FROM changes WHERE seq > ?1")?
                .query_row([after], |r| r.get::<_, i64>(0))
                .map(|n| u64::try_from(n).unwrap_or(0))
        })
        .await
    }
}
