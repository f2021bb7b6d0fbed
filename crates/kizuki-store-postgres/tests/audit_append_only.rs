//! The audit table refuses tampering through plain SQL on PostgreSQL: UPDATE, DELETE no
//! checkpoint covers, TRUNCATE and an INSERT that does not extend the chain.
#![allow(
    clippy::disallowed_methods,
    reason = "the test environment says which database server to use"
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "helpers of tests stop at the line that failed, as the tests do"
)]

use kizuki_store::conformance::t0;
use kizuki_store::prelude::*;
use kizuki_store_postgres::PgStore;

#[tokio::test]
async fn raw_sql_cannot_edit_or_remove_entries() {
    let Ok(url) = std::env::var("KIZUKI_TEST_POSTGRES_URL") else {
        eprintln!("skipped: KIZUKI_TEST_POSTGRES_URL not set");
        return;
    };
    let schema = format!("kz_test_{:016x}", rand::random::<u64>());
    let store = PgStore::connect_in_schema(&url, Some(&schema))
        .await
        .unwrap();
    let genesis = "0".repeat(64);
    for seq in 1..=3u64 {
        store
            .audit_insert(kizuki_store::AuditRecord {
                seq,
                at: t0(),
                actor: "system".into(),
                action: "auth.login".into(),
                target: "user:a@example.jp".into(),
                detail: "{}".into(),
                prev_hash: if seq == 1 {
                    genesis.clone()
                } else {
                    format!("{:064x}", seq - 1)
                },
                hash: format!("{seq:064x}"),
            })
            .await
            .unwrap();
    }
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(&format!("SET search_path = {schema}"))
        .await
        .unwrap();
    for sql in [
        "UPDATE audit_log SET detail = '{\"x\":1}' WHERE seq = 2",
        "DELETE FROM audit_log WHERE seq = 3",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "INSERT INTO audit_log VALUES (7, now(), 'a', 'b', 'c', '{}', 'p', 'h')",
    ] {
        assert!(client.batch_execute(sql).await.is_err(), "{sql} succeeded");
    }
    let n: i64 = client
        .query_one("SELECT count(*) FROM audit_log", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 3);
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}
