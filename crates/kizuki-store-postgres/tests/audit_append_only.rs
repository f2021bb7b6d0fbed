//! The audit table refuses tampering through plain SQL on PostgreSQL: UPDATE, DELETE no
//! checkpoint covers, TRUNCATE and an INSERT that does not extend the chain.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "helpers of tests stop at the line that failed, as the tests do"
)]

use kizuki_store::conformance::t0;
use kizuki_store::prelude::*;
use kizuki_testkit::PgSchema;

#[tokio::test]
async fn raw_sql_cannot_edit_or_remove_entries() {
    let Some(schema) = PgSchema::fresh() else {
        return;
    };
    let store = schema.store().await;
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
    let client = schema.raw_client().await;
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
    // The table's guards do not stand in the way of dropping the whole schema.
    client
        .batch_execute(&format!("DROP SCHEMA {} CASCADE", schema.name()))
        .await
        .unwrap();
}
