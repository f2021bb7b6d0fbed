//! The audit chain as stored: `audit_log::verify` accepts it as written and names the entry
//! someone edited, removed or reordered directly in the database (after dropping the
//! triggers that otherwise refuse it).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "helpers of tests stop at the line that failed, as the tests do"
)]

use kizuki_app::security::audit::Break;
use kizuki_app::security::audit_log;
use kizuki_testkit::TestApp;

/// An empty app at 2026-11-27 09:00 JST with `n` audit entries a second apart.
async fn app_with_entries(n: usize) -> TestApp {
    let t = TestApp::builder().seed(1).build().await;
    for i in 0..n {
        audit_log::note(
            &t.app,
            "user:1",
            "auth.login",
            format!("user:{i}@example.jp"),
            &serde_json::json!({"addr": "192.0.2.1"}),
        )
        .await
        .unwrap();
        t.clock.advance(chrono::Duration::seconds(1));
    }
    t
}

fn raw(path: &std::path::Path, sql: &str) {
    rusqlite::Connection::open(path)
        .unwrap()
        .execute_batch(sql)
        .unwrap();
}

#[tokio::test]
async fn verify_names_edited_removed_and_reordered_entries() {
    let t = app_with_entries(6).await;
    let (app, path) = (&t.app, t.db_path());
    let ok = audit_log::verify(app).await.unwrap().unwrap();
    assert_eq!((ok.entries, ok.last_seq), (6, Some(6)));

    // Edited content.
    raw(
        &path,
        "DROP TRIGGER audit_log_no_update;
         UPDATE audit_log SET detail = '{\"addr\":\"203.0.113.9\"}' WHERE seq = 3;",
    );
    let broken = audit_log::verify(app).await.unwrap().unwrap_err();
    assert_eq!((broken.seq, broken.problem), (3, Break::Altered));

    // Removed entry (after restoring the edited one's content would not help: remove 5).
    let t2 = app_with_entries(6).await;
    let (app2, path2) = (&t2.app, t2.db_path());
    raw(
        &path2,
        "DROP TRIGGER audit_log_no_uncovered_delete; DELETE FROM audit_log WHERE seq = 5;",
    );
    let broken = audit_log::verify(app2).await.unwrap().unwrap_err();
    assert_eq!((broken.seq, broken.problem), (5, Break::Sequence));

    // Reordered: two entries swap places (their seq numbers swapped).
    let t3 = app_with_entries(6).await;
    let (app3, path3) = (&t3.app, t3.db_path());
    raw(
        &path3,
        "DROP TRIGGER audit_log_no_update;
         UPDATE audit_log SET seq = 100 WHERE seq = 2;
         UPDATE audit_log SET seq = 2 WHERE seq = 4;
         UPDATE audit_log SET seq = 4 WHERE seq = 100;",
    );
    let broken = audit_log::verify(app3).await.unwrap().unwrap_err();
    assert_eq!(broken.seq, 2, "{broken}");
}
