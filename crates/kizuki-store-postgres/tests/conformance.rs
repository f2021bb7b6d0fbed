//! The shared conformance suite on PostgreSQL, each test in a schema of its own. Needs
//! `KIZUKI_TEST_POSTGRES_URL`; without it every test says it skipped (and fails under CI,
//! where the server must be there).
#![allow(
    clippy::disallowed_methods,
    reason = "the test environment says which database server to use"
)]

use kizuki_store::DynStore;
use kizuki_store_postgres::PgStore;
use std::sync::Arc;

async fn fresh() -> Option<DynStore> {
    let url = match std::env::var("KIZUKI_TEST_POSTGRES_URL") {
        Ok(u) if !u.is_empty() => u,
        _ => {
            assert!(
                std::env::var("CI").is_err(),
                "CI must set KIZUKI_TEST_POSTGRES_URL: the PostgreSQL suite may not skip there"
            );
            eprintln!("skipped: KIZUKI_TEST_POSTGRES_URL not set, PostgreSQL suite not run");
            return None;
        }
    };
    let schema = format!("kz_test_{:016x}", rand::random::<u64>());
    let store = PgStore::connect_in_schema(&url, Some(&schema))
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
    Some(Arc::new(store))
}

kizuki_store::conformance_suite!(fresh);
