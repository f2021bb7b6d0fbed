//! `kizuki check` as a whole: a database the store check already finds damaged still has its
//! cases, surveys, publications and reminders checked, each problem reported once found; and
//! given-up reminders are judged against the configured `[reminders] max_attempts`; a
//! published case without approval is said once, not by both the store and publication checks.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "helpers of tests stop at the line that failed, as the tests do"
)]

use kizuki_app::App;
use kizuki_app::survey::{self, CheckOptions};
use kizuki_domain::clock::Clock;
use kizuki_domain::report::StageKind;
use kizuki_domain::taxonomy::Taxonomy;
use kizuki_store::{ReminderChannel, ReminderClaim, ReminderKey, ReminderKind};
use kizuki_testkit::TestApp;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_store_does_not_hide_the_other_problems() {
    // The demo at 2026-11-27 09:00 JST.
    let t = TestApp::builder().seed(5).demo().build().await;
    let (app, clock, path) = (t.app.clone(), t.clock.clone(), t.db_path());
    let tx = app.taxonomy.clone();
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

/// A case on the portal with no operator approval on record is one problem, said once: the
/// publication check's line (naming the published text), not also the store's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_case_without_approval_is_one_line() {
    // The demo at 2026-11-27 09:00 JST.
    let t = TestApp::builder().seed(7).demo().build().await;
    let (app, path) = (t.app.clone(), t.db_path());
    let published = app.store.list_publications(Some(2019)).await.unwrap();
    let p = published.first().expect("the demo publishes 2019 cases");
    let other = published.get(1).expect("more than one published case");
    // The sign-off record of one published case is lost (by hand, past the append-only
    // trigger): the case stays on the portal with no approval on record.
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch("DROP TRIGGER signoff_transitions_no_delete")
        .unwrap();
    let removed = c
        .execute(
            "DELETE FROM signoff_transitions WHERE case_id = ?1",
            [p.case_id.0],
        )
        .unwrap();
    assert!(removed > 0, "the demo signed the case off");
    drop(c);

    let problems = survey::check(&app, &CheckOptions::default()).await.unwrap();
    let slug = p.slug();
    let about: Vec<_> = problems
        .iter()
        .filter(|x| x.what.contains(&slug) || x.what.contains(&format!("case {}）", p.case_id)))
        .collect();
    assert_eq!(about.len(), 1, "{problems:?}");
    // The line kept is the specific one: it names the published text.
    assert!(about[0].what.contains(&p.fingerprint), "{problems:?}");
    assert!(
        about[0]
            .what
            .contains("no operator approval of the published text"),
        "{problems:?}"
    );
    assert!(
        !problems.iter().any(|x| x.what.contains(&other.slug())),
        "the other published cases are fine: {problems:?}"
    );
}
