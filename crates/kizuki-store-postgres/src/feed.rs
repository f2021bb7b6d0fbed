//! The change feed in PostgreSQL: every write appends to it in its own transaction, under a lock that keeps feed numbers in commit order.

use crate::*;
use kizuki_store::prelude::*;

#[async_trait]
impl ChangeFeed for PgStore {
    async fn changes_since(&self, after: i64, limit: usize) -> StoreResult<Vec<Change>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let c = self.client().await?;
        c.query(
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
}
