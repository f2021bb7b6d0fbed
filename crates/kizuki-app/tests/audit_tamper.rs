//! The audit chain as stored: `audit_log::verify` accepts it as written and names the entry
//! someone edited, removed or reordered directly in the database (after dropping the
//! triggers that otherwise refuse it).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "helpers of tests stop at the line that failed, as the tests do"
)]

use chrono::TimeZone;
use kizuki_app::security::audit::Break;
use kizuki_app::{App, security::audit_log, seeded_rng};
use kizuki_domain::clock::{Clock, FixedClock};
use kizuki_store_sqlite::SqliteStore;
use std::sync::Arc;

async fn app_with_entries(path: &std::path::Path, n: usize) -> App {
    let clock = Arc::new(FixedClock::new(
        chrono::Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap(),
    ));
    let app = App {
        store: Arc::new(SqliteStore::open(path).unwrap()),
        taxonomy: Arc::new(kizuki_dataset::default_taxonomy().unwrap()),
        clock: clock.clone() as Arc<dyn Clock>,
        rng: seeded_rng(1),
    };
    for i in 0..n {
        audit_log::note(
            &app,
            "user:1",
            "auth.login",
            format!("user:{i}@example.jp"),
            &serde_json::json!({"addr": "192.0.2.1"}),
        )
        .await
        .unwrap();
        clock.advance(chrono::Duration::seconds(1));
    }
    app
}

fn raw(path: &std::path::Path, sql: &str) {
    rusqlite::Connection::open(path)
        .unwrap()
        .execute_batch(sql)
        .unwrap();
}

#[tokio::test]
async fn verify_names_edited_removed_and_reordered_entries() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kizuki.db");
    let app = app_with_entries(&path, 6).await;
    let ok = audit_log::verify(&app).await.unwrap().unwrap();
    assert_eq!((ok.entries, ok.last_seq), (6, Some(6)));

    // Edited content.
    raw(
        &path,
        "DROP TRIGGER audit_log_no_update;
         UPDATE audit_log SET detail = '{\"addr\":\"203.0.113.9\"}' WHERE seq = 3;",
    );
    let broken = audit_log::verify(&app).await.unwrap().unwrap_err();
    assert_eq!((broken.seq, broken.problem), (3, Break::Altered));

    // Removed entry (after restoring the edited one's content would not help: remove 5).
    let dir2 = tempfile::tempdir().unwrap();
    let path2 = dir2.path().join("kizuki.db");
    let app2 = app_with_entries(&path2, 6).await;
    raw(
        &path2,
        "DROP TRIGGER audit_log_no_uncovered_delete; DELETE FROM audit_log WHERE seq = 5;",
    );
    let broken = audit_log::verify(&app2).await.unwrap().unwrap_err();
    assert_eq!((broken.seq, broken.problem), (5, Break::Sequence));

    // Reordered: two entries swap places (their seq numbers swapped).
    let dir3 = tempfile::tempdir().unwrap();
    let path3 = dir3.path().join("kizuki.db");
    let app3 = app_with_entries(&path3, 6).await;
    raw(
        &path3,
        "DROP TRIGGER audit_log_no_update;
         UPDATE audit_log SET seq = 100 WHERE seq = 2;
         UPDATE audit_log SET seq = 2 WHERE seq = 4;
         UPDATE audit_log SET seq = 4 WHERE seq = 100;",
    );
    let broken = audit_log::verify(&app3).await.unwrap().unwrap_err();
    assert_eq!(broken.seq, 2, "{broken}");
}
