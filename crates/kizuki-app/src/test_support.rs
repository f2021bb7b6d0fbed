//! What the unit tests of several services share: instants written as RFC 3339 and an
//! application (empty, or with the seeded demo) on a temporary SQLite database with a fixed
//! clock.

use crate::App;
use chrono::{DateTime, Utc};
use kizuki_domain::clock::{Clock, FixedClock};
use kizuki_domain::report::{Report, ReportInput, StageKind};
use kizuki_store::{NewReport, NewStage};
use std::sync::Arc;

pub(crate) fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.to_utc())
        .unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// An empty database at 2020-02-01 09:00 JST, randomness seeded with `seed`.
pub(crate) fn empty(seed: u64) -> (App, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let clock = Arc::new(FixedClock::new(at("2020-02-01T09:00:00+09:00"))) as Arc<dyn Clock>;
    let store = kizuki_store_sqlite::SqliteStore::open(&dir.path().join("kizuki.db"))
        .unwrap_or_else(|e| panic!("store: {e}"))
        .with_clock(clock.clone());
    let app = App {
        store: Arc::new(store),
        taxonomy: Arc::new(
            kizuki_dataset::default_taxonomy().unwrap_or_else(|e| panic!("taxonomy: {e}")),
        ),
        clock,
        rng: crate::seeded_rng(seed),
    };
    (app, dir)
}

/// The demo directory and 2019 survey at 2020-02-01 09:00 JST, randomness seeded with `seed`.
pub(crate) async fn demo(seed: u64) -> (App, tempfile::TempDir) {
    let (app, dir) = empty(seed);
    crate::seed::seed_demo(&app)
        .await
        .unwrap_or_else(|e| panic!("seed: {e}"));
    (app, dir)
}

/// Files `input` as a first report of the organisation with key `org` at `when`.
pub(crate) async fn file(app: &App, org: &str, when: &str, input: ReportInput) -> Report {
    let org = app
        .store
        .org_by_key(org)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no organisation {org}"));
    let details = input
        .parse(&app.taxonomy)
        .unwrap_or_else(|e| panic!("report input: {e}"));
    app.store
        .create_report(NewReport {
            org_id: org.id,
            details,
            first: NewStage {
                kind: StageKind::First,
                at: at(when),
                text: "第一報".into(),
                author: None,
            },
        })
        .await
        .unwrap_or_else(|e| panic!("create_report: {e}"))
}

/// The demo railway operator's reporter, as a signed-in principal.
pub(crate) async fn operator_principal(app: &App) -> crate::auth::Principal {
    let email = kizuki_domain::user::Email::parse("reporter@railway.example.jp")
        .unwrap_or_else(|e| panic!("email: {e}"));
    let creds = app
        .store
        .credentials(&email)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no demo reporter"));
    crate::auth::Principal::from_user(&creds.user)
}

/// A valid first report of the railway sector.
pub(crate) fn sample_input(_app: &App) -> ReportInput {
    ReportInput {
        title: "運行管理システムの停止".into(),
        sector: "railway".into(),
        event_type: "unavailability".into(),
        summary: "運行管理システムが停止した。".into(),
        ..Default::default()
    }
}
