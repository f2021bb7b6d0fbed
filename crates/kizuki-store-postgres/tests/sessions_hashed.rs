//! Browser sessions in the database on PostgreSQL: the table holds only the SHA-256 of a
//! session id, so a leaked dump gives no cookie that would work.
#![allow(
    clippy::disallowed_methods,
    reason = "the test environment says which database server to use"
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "helpers of tests stop at the line that failed, as the tests do"
)]

use kizuki_domain::taxonomy::Lang;
use kizuki_store::conformance::t0;
use kizuki_store::prelude::*;
use kizuki_store::{SessionKey, SessionRecord};
use kizuki_store_postgres::PgStore;

#[tokio::test]
async fn the_raw_session_id_is_not_in_the_table() {
    let Ok(url) = std::env::var("KIZUKI_TEST_POSTGRES_URL") else {
        eprintln!("skipped: KIZUKI_TEST_POSTGRES_URL not set");
        return;
    };
    let schema = format!("kz_test_{:016x}", rand::random::<u64>());
    let store = PgStore::connect_in_schema(&url, Some(&schema))
        .await
        .unwrap();
    let id = "5e551011d0000000000000000000000000000000000000000000000000000002";
    let key = SessionKey::of(id);
    store
        .insert_session(
            &key,
            &SessionRecord {
                user: Some(kizuki_domain::ids::UserId(4)),
                csrf: "c5rf".into(),
                lang: Lang::En,
                created: t0(),
                seen: t0(),
                flash: Some("note".into()),
                pending: None,
            },
        )
        .await
        .unwrap();
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(&format!("SET search_path = {schema}"))
        .await
        .unwrap();
    // Every row as text, all columns: the key is there, the id nowhere.
    let rows: Vec<String> = client
        .query("SELECT s::text FROM sessions s", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].contains(key.as_str()), "{}", rows[0]);
    assert!(!rows[0].contains(id), "{}", rows[0]);
}
