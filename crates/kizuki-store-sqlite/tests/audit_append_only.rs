//! The audit table refuses tampering through plain SQL: UPDATE, a DELETE no checkpoint
//! covers, and an INSERT that does not extend the chain all fail inside the database itself.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "helpers of tests stop at the line that failed, as the tests do"
)]

use kizuki_store::conformance::t0;
use kizuki_store::prelude::*;
use kizuki_store_sqlite::SqliteStore;

#[tokio::test]
async fn raw_sql_cannot_edit_or_remove_entries() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kizuki.db");
    let store = SqliteStore::open(&path).unwrap();
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
    let c = rusqlite::Connection::open(&path).unwrap();
    assert!(
        c.execute(
            "UPDATE audit_log SET detail = '{\"x\":1}' WHERE seq = 2",
            []
        )
        .is_err()
    );
    assert!(
        c.execute("DELETE FROM audit_log WHERE seq = 3", [])
            .is_err()
    );
    assert!(c.execute("DELETE FROM audit_log", []).is_err());
    assert!(
        c.execute(
            "INSERT INTO audit_log VALUES (7, 'x', 'a', 'b', 'c', '{}', 'p', 'h')",
            []
        )
        .is_err()
    );
    let n: i64 = c
        .query_row("SELECT count(*) FROM audit_log", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 3);
}
