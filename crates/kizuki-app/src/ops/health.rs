//! What the operator of the service watches from outside (`/metrics`, warnings): the store's
//! connection pool and how many changes the search index has still to take in.

use crate::App;
use crate::error::AppResult;
use kizuki_store::PoolStatus;

/// The store's connection pool right now; `None` for a backend without one.
pub fn pool_status(app: &App) -> Option<PoolStatus> {
    app.store.pool_status()
}

/// Changes in the store's feed after `seq`, all of them: an index far behind after a restore
/// says how far, counted on the feed's key without reading the changes.
pub async fn changes_after(app: &App, seq: i64) -> AppResult<u64> {
    Ok(app.store.count_changes_after(seq).await?)
}
