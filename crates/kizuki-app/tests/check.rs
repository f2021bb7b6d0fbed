//! `kizuki check` as a whole: a database the store check already finds damaged still has its
//! cases, surveys, publications and reminders checked, each problem reported once found; and
//! given-up reminders are judged against the configured `[reminders] max_attempts`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::TimeZone;
use kizuki_app::survey::{self, CheckOptions};
use kizuki_app::{App, seed, seeded_rng};
use kizuki_domain::clock::{Clock, FixedClock};
use kizuki_domain::report::StageKind;
use kizuki_domain::taxonomy::Taxonomy;
use kizuki_store::{ReminderChannel, ReminderClaim, ReminderKey, ReminderKind};
use kizuki_store_sqlite::SqliteStore;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_store_does_not_hide_the_other_problems() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kizuki.db");
    let clock = Arc::new(FixedClock::new(
        chrono::Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap(),
    ));
    let tx = kizuki_dataset::default_taxonomy().unwrap();
    let app = App {
        store: Arc::new(SqliteStore::open(&path).unwrap()),
        taxonomy: Arc::new(tx.clone()),
        clock: clock.clone() as Arc<dyn Clock>,
        rng: seeded_rng(5),
    };
    seed::seed_demo(&app).await.unwrap();
    let clean = survey::check(&app, &CheckOptions::default()).await.unwrap();
    assert!(clean.is_empty(), "{clean:?}");

    // A reminder tried twice and given up, under `max_attempts = 2`.
    let report = app.store.list_cases(Some(2019)).await.unwrap()[0]
        .report_id
        .unwrap();
    let key = ReminderKey {
        report,
        stage: StageKind::FollowUp,
        kind: ReminderKind::Overdue,
        channel: ReminderChannel::Webhook,
    };
    for (n, token) in ["t1", "t2"].into_iter().enumerate() {
        let now = clock.now() + chrono::Duration::hours(i64::try_from(n).unwrap());
        let claim = ReminderClaim {
            key,
            token: token.into(),
            now,
            lease_until: now + chrono::Duration::minutes(10),
            max_attempts: 2,
        };
        assert!(app.store.claim_reminder(&claim).await.unwrap());
        app.store
            .release_reminder(&key, token, now + chrono::Duration::minutes(30), "HTTP 500")
            .await
            .unwrap();
    }

    // Damage the store's own invariants: the first report's 第一報 is no longer first.
    let c = rusqlite::Connection::open(&path).unwrap();
    let damaged: i64 = c
        .query_row("SELECT min(id) FROM reports", [], |r| r.get(0))
        .unwrap();
    c.execute(
        "UPDATE report_stages SET kind = 'follow_up' WHERE report_id = ?1 AND seq = 1",
        [damaged],
    )
    .unwrap();
    drop(c);

    // And a case category the taxonomy no longer has: case 1 is no longer valid.
    let case1 = app.store.case_by_number(2019, 1).await.unwrap().unwrap();
    let mut raw = tx.raw().clone();
    raw.case_categories
        .retain(|t| t.code != case1.content.category.as_str());
    let app = App {
        taxonomy: Arc::new(Taxonomy::parse(raw).unwrap()),
        ..app
    };

    let opts = CheckOptions {
        reminder_max_attempts: 2,
    };
    let problems = survey::check(&app, &opts).await.unwrap();
    let has = |needle: &str| problems.iter().any(|p| p.what.contains(needle));
    assert!(
        has(&format!(
            "report {damaged} does not start with a first report"
        )),
        "the store's finding: {problems:?}"
    );
    assert!(
        has(&format!("case {} is no longer valid", case1.id)),
        "the case check still ran: {problems:?}"
    );
    assert!(
        has("リマインダーを 2 回送れませんでした"),
        "the reminder check still ran: {problems:?}"
    );
    // Judged against the default five attempts, the same reminder has not been given up.
    let by_default = survey::check(&app, &CheckOptions::default()).await.unwrap();
    assert!(
        !by_default.iter().any(|p| p.what.contains("リマインダー")),
        "{by_default:?}"
    );
}
