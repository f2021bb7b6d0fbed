//! The change feed and record history in SQLite: every write appends to both in its own transaction.

use crate::*;
use kizuki_store::prelude::*;

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
}
