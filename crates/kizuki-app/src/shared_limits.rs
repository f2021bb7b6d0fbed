//! Fair limits every node shares: an organisation's token bucket is a row in the database,
//! taken from in one statement, so behind N nodes on one PostgreSQL database it gets its
//! configured rate in total rather than N times it.

use crate::App;
use crate::config::Rate;
use crate::error::AppResult;
use std::time::Duration;

/// Takes one token of `rate` from the shared bucket `key` as of the app's clock; the inner
/// `Err` is how long until there is one.
pub async fn take(app: &App, key: &str, rate: Rate) -> AppResult<Result<(), Duration>> {
    let now_ms = app.clock.now().timestamp_millis();
    let wait = app
        .store
        .take_shared_token(key, rate.per_minute, rate.burst, now_ms)
        .await?;
    Ok(wait.map_or(Ok(()), |ms| Err(Duration::from_millis(ms))))
}

/// Whether the buckets of this app's organisations must be shared: on PostgreSQL several
/// nodes may serve one database; on SQLite there is one.
pub fn needed(app: &App) -> bool {
    app.store.backend() == "postgres"
}
