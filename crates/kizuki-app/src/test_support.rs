//! What the unit tests of several services share: instants written as RFC 3339, and
//! applications from the test kit (a fresh SQLite database with one fixed clock) as this
//! crate's [`App`].

use crate::App;
use chrono::{DateTime, Utc};
use kizuki_domain::report::{Report, ReportInput, StageKind};
use kizuki_store::{NewReport, NewStage};
use kizuki_testkit::TestApp;

pub(crate) fn at(s: &str) -> DateTime<Utc> {
    kizuki_testkit::at(s)
}

/// The test kit's application as this crate's [`App`]. Unit tests are compiled into a copy
/// of this crate whose `App` is a type of its own, not the one the test kit builds; the
/// parts (store, taxonomy, clock, randomness) are the same.
pub(crate) fn as_app(t: &TestApp) -> App {
    App {
        store: t.app.store.clone(),
        taxonomy: t.app.taxonomy.clone(),
        clock: t.app.clock.clone(),
        rng: t.app.rng.clone(),
        // The test kit's sealer is the other copy's type; the same keys, read across.
        secrets: std::sync::Arc::new(crate::security::sealing::Sealer::new(
            crate::security::sealing::KeyRing::parse(
                &t.app.secrets.ring().render_env(),
                "the test kit",
            )
            .expect("the test kit's key ring reads back"),
            crate::security::sealing::KeySource::Fixed,
        )),
    }
}

/// An empty application whose clock starts at `start` (RFC 3339), randomness seeded with
/// `seed`; the test app keeps its database.
pub(crate) async fn empty(start: &str, seed: u64) -> (App, TestApp) {
    let t = TestApp::builder().at(start).seed(seed).build().await;
    (as_app(&t), t)
}

/// The demo directory and 2019 survey at 2020-02-01 09:00 JST, randomness seeded with `seed`;
/// the test app keeps the database.
pub(crate) async fn demo(seed: u64) -> (App, TestApp) {
    let t = TestApp::builder()
        .at("2020-02-01T09:00:00+09:00")
        .seed(seed)
        .demo()
        .build()
        .await;
    (as_app(&t), t)
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
    principal(app, "reporter@railway.example.jp").await
}

/// The demo centre's analyst, as a signed-in principal.
pub(crate) async fn analyst_principal(app: &App) -> crate::auth::Principal {
    principal(app, "analyst@centre.example.jp").await
}

/// A demo user by e-mail, as a signed-in principal.
pub(crate) async fn principal(app: &App, email: &str) -> crate::auth::Principal {
    let email = kizuki_domain::user::Email::parse(email).unwrap_or_else(|e| panic!("email: {e}"));
    let creds = app
        .store
        .credentials(&email)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no demo user {email}"));
    crate::auth::Principal::from_user(&creds.user)
}

/// A valid first report of the railway sector.
pub(crate) fn sample_input() -> ReportInput {
    ReportInput {
        title: "運行管理システムの停止".into(),
        sector: "railway".into(),
        event_type: "unavailability".into(),
        summary: "運行管理システムが停止した。".into(),
        ..Default::default()
    }
}
