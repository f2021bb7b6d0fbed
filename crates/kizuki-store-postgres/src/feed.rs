//! The change feed and record history in PostgreSQL: every write appends to both inside its
//! own transaction; readers of the feed number the committed changes in publication order.

use crate::*;
use kizuki_store::prelude::*;

/// Taken only by readers while they publish; writers never wait for it.
const PUBLISH_LOCK: i64 = 7_245_839;

pub(crate) async fn record_change(
    tx: &Transaction<'_>,
    entity: Entity,
    id: i64,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    // No number yet: a number drawn now could become visible after a larger one drawn by a
    // writer that commits first, and a follower past the larger one would skip it.
    tx.cached_execute(
        "INSERT INTO changes_pending (entity, entity_id, at) VALUES ($1, $2, $3)",
        &[&entity.code(), &id, &at],
    )
    .await
    .map_err(pg_err)?;
    Ok(())
}

/// Moves every committed pending change into the feed, numbered in the order written. Under
/// the lock each statement's snapshot starts after the previous publisher committed, and a
/// change still uncommitted is invisible here, so it can only receive a later number than
/// everything published so far.
async fn publish(store: &PgStore) -> StoreResult<()> {
    // Two statements in one simple query: one round trip, run as one implicit transaction
    // (the lock is held to its end, an error rolls back both), and the second statement,
    // read committed, takes its snapshot only once the first holds the lock.
    store
        .client()
        .await?
        .batch_execute(&format!(
            "SELECT pg_advisory_xact_lock({PUBLISH_LOCK});
             WITH moved AS (DELETE FROM changes_pending RETURNING id, entity, entity_id, at)
             INSERT INTO changes (entity, entity_id, at)
             SELECT entity, entity_id, at FROM moved ORDER BY id"
        ))
        .await
        .map_err(pg_err)
}

/// One row of the history table.
pub(crate) struct Revision<'a, T> {
    pub(crate) entity: Entity,
    pub(crate) id: i64,
    pub(crate) version: i64,
    pub(crate) at: DateTime<Utc>,
    pub(crate) by: Option<UserId>,
    pub(crate) action: &'a str,
    pub(crate) snapshot: &'a T,
}

pub(crate) async fn record_history<T: serde::Serialize>(
    tx: &Transaction<'_>,
    r: Revision<'_, T>,
) -> StoreResult<()> {
    let (snapshot, by, code) = (json(r.snapshot)?, r.by.map(|u| u.0), r.entity.code());
    let params: [&(dyn ToSql + Sync); 7] =
        [&code, &r.id, &r.version, &r.at, &by, &r.action, &snapshot];
    let history = tx.cached_execute(
        "INSERT INTO history (entity, entity_id, version, at, user_id, action, snapshot)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &params,
    );
    // Both inserts go out pipelined: one round trip.
    let (history, change) = tokio::join!(history, record_change(tx, r.entity, r.id, r.at));
    history.map_err(pg_err)?;
    change
}

/// Locks the row and compares its version with the one the caller edited.
pub(crate) async fn lock_version(
    tx: &Transaction<'_>,
    table: &str,
    key_col: &str,
    key: &(dyn ToSql + Sync),
    entity: &'static str,
    shown_key: String,
) -> StoreResult<i64> {
    let row = tx
        .query_opt(
            &format!("SELECT version FROM {table} WHERE {key_col} = $1 FOR UPDATE"),
            &[key],
        )
        .await
        .map_err(pg_err)?;
    row.map(|r| r.get::<_, i64>(0)).ok_or(StoreError::NotFound {
        entity,
        id: shown_key,
    })
}

pub(crate) async fn history(
    c: &deadpool_postgres::Client,
    entity: Entity,
    id: i64,
) -> StoreResult<Vec<HistoryEntry>> {
    c.cached_query(
        "SELECT version, at, user_id, action, snapshot FROM history
         WHERE entity = $1 AND entity_id = $2 ORDER BY version",
        &[&entity.code(), &id],
    )
    .await
    .map_err(pg_err)?
    .iter()
    .map(|r| {
        Ok(HistoryEntry {
            version: r.get(0),
            at: r.get(1),
            user_id: r.get::<_, Option<i64>>(2).map(UserId),
            action: r.get(3),
            snapshot: r.get(4),
        })
    })
    .collect()
}

#[async_trait]
impl ChangeFeed for PgStore {
    async fn changes_since(&self, after: i64, limit: usize) -> StoreResult<Vec<Change>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        publish(self).await?;
        let c = self.client().await?;
        c.cached_query(
            "SELECT seq, entity, entity_id, at FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2",
            &[&after, &limit],
        )
        .await
        .map_err(pg_err)?
        .iter()
        .map(|r| {
            let e: String = r.get(1);
            Ok(Change {
                seq: r.get(0),
                entity: Entity::parse(&e)
                    .ok_or_else(|| StoreError::Invalid(format!("changes.entity {e:?}")))?,
                id: r.get(2),
                at: r.get(3),
            })
        })
        .collect()
    }

    async fn count_changes_after(&self, after: i64) -> StoreResult<u64> {
        publish(self).await?;
        let c = self.client().await?;
        let n: i64 = c
            .cached_query_one("SELECT COUNT(*) FROM changes WHERE seq > $1", &[&after])
            .await
            .map_err(pg_err)?
            .get(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
