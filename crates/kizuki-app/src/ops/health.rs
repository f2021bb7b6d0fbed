//! What the operator of the service watches from outside (`/metrics`, warnings): the store's
//! connection pool and how many changes the search index has still to take in.

use crate::App;
use crate::error::AppResult;
use kizuki_store::PoolStatus;

/// The store's connection pool right now; `None` for a backend without one.
pub fn pool_status(app: &App) -> Option<PoolStatus> {
    app.store.pool_status()
}

/// Changes in the store's feed after `seq`, counted up to `cap`, so that a far-behind index
/// cannot make the count itself heavy.
pub async fn changes_after(app: &App, seq: i64, cap: usize) -> AppResult<usize> {
    Ok(app.store.changes_since(seq, cap).await?.len())
}
