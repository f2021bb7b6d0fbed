//! Fresh, empty stores for the conformance suite: each keeps what its store needs (a directory
//! or a PostgreSQL schema) until the value is dropped at the end of the test.

use crate::pg::PgSchema;
use kizuki_store::DynStore;
use std::borrow::Borrow;
use std::sync::Arc;

/// A fresh store and what it lives in. Dropped after the store, it removes the directory or
/// drops the schema.
pub struct FreshStore {
    store: DynStore,
    _dir: Option<tempfile::TempDir>,
    _schema: Option<PgSchema>,
}

impl std::fmt::Debug for FreshStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FreshStore")
            .field("backend", &self.store.backend())
            .finish_non_exhaustive()
    }
}

impl FreshStore {
    /// The store.
    pub fn store(&self) -> DynStore {
        self.store.clone()
    }
}

impl Borrow<DynStore> for FreshStore {
    fn borrow(&self) -> &DynStore {
        &self.store
    }
}

/// An empty SQLite store in a temporary directory.
pub async fn sqlite() -> Option<FreshStore> {
    let dir = tempfile::tempdir().unwrap();
    let store = kizuki_store_sqlite::SqliteStore::open(&dir.path().join("kizuki.db")).unwrap();
    Some(FreshStore {
        store: Arc::new(store),
        _dir: Some(dir),
        _schema: None,
    })
}

/// An empty PostgreSQL store in a schema of its own; `None` (after printing `skipped: …`)
/// without `KIZUKI_TEST_POSTGRES_URL`. A server that is named but fails fails the test.
pub async fn postgres() -> Option<FreshStore> {
    let schema = PgSchema::fresh()?;
    let store = schema.store().await;
    Some(FreshStore {
        store: Arc::new(store),
        _dir: None,
        _schema: Some(schema),
    })
}
