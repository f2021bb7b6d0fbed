//! The shared conformance suite, run on a fresh SQLite file per test.

use kizuki_store::DynStore;
use kizuki_store_sqlite::SqliteStore;
use std::sync::Arc;

async fn fresh() -> Option<DynStore> {
    // The directory must outlive the store; leaking it keeps the file for the test's life.
    let dir = tempfile::tempdir().ok()?.keep();
    let store = SqliteStore::open(&dir.join("kizuki.db")).ok()?;
    Some(Arc::new(store))
}

kizuki_store::conformance_suite!(fresh);
