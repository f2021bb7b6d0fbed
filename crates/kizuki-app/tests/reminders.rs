//! Stage-deadline reminders end to end inside the app: a local SMTP sink and a local
//! HTTP listener started by the tests receive the reminders; a fixed clock walks across the
//! due-soon and overdue boundaries; every reminder arrives once per report, stage, kind and
//! channel, across runs, restarts and two nodes running at once; failures are retried later.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "helpers of tests stop at the line that failed, as the tests do"
)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use kizuki_app::App;
use kizuki_app::notify::smtp::SmtpConfig;
use kizuki_app::notify::webhook::{HttpUrl, WebhookConfig};
use kizuki_app::notify::{NotifyConfig, ReminderSettings, RunSummary, run_once};
use kizuki_domain::clock::{Clock, FixedClock};
use kizuki_domain::deadlines::DeadlinePolicy;
use kizuki_domain::ids::OrgId;
use kizuki_domain::org::{NewOrganisation, OrgKind};
use kizuki_domain::report::{Report, ReportInput, StageKind};
use kizuki_domain::taxonomy::{Code, Lang};
use kizuki_domain::user::{Email, NewUser, Role};
use kizuki_store::{NewReport, NewStage, ReminderChannel, ReminderKind};
use kizuki_testkit::TestApp;
use kizuki_testkit::sinks::{smtp_sink, webhook_receiver};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

const SECRET: &str = "a-webhook-secret-for-tests";
const PUBLIC: &str = "https://kizuki.example.jp/";

// ---- the world -----------------------------------------------------------------------------

/// Detection at 2026-11-01 09:00 JST; with the default policy the 続報 is due 72 h later.
fn detected() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
}

/// An empty app (seed 7) whose clock starts at `start`.
async fn app(start: DateTime<Utc>) -> TestApp {
    TestApp::builder()
        .clock(Arc::new(FixedClock::new(start)))
        .build()
        .await
}

fn config(smtp_port: u16, hook_port: u16) -> NotifyConfig {
    NotifyConfig {
        public_url: Some(PUBLIC.into()),
        smtp: Some(SmtpConfig {
            host: "127.0.0.1".into(),
            port: smtp_port,
            from: Email::parse("kizuki@centre.example.jp").unwrap(),
            helo: "kizuki.test".into(),
            timeout: std::time::Duration::from_secs(5),
        }),
        webhook: Some(WebhookConfig {
            url: HttpUrl::parse(&format!("http://127.0.0.1:{hook_port}/hooks/kizuki")).unwrap(),
            secret: SECRET.into(),
            attempts: 3,
            backoff: std::time::Duration::from_millis(10),
            timeout: std::time::Duration::from_secs(5),
        }),
        reminders: ReminderSettings::default(),
    }
}

async fn org(app: &App, key: &str, kind: OrgKind) -> OrgId {
    app.store
        .create_org(NewOrganisation {
            key: key.into(),
            name: format!("{key} 株式会社"),
            kind,
            sectors: vec![Code("railway".into())],
            region: Some(Code("kanto".into())),
        })
        .await
        .unwrap()
        .id
}

async fn user(app: &App, org: OrgId, email: &str, role: Role) {
    app.store
        .create_user(
            NewUser {
                org_id: org,
                email: Email::parse(email).unwrap(),
                display_name: "利用者".into(),
                role,
                lang: Lang::Ja,
            },
            "$argon2id$x",
        )
        .await
        .unwrap();
}

/// An operator with a reporter and an admin, another operator, and the centre with an
/// analyst and an editor; one report detected at [`detected`] and filed two hours later.
async fn world(app: &App) -> Report {
    let op = org(app, "tohto-rail", OrgKind::Operator).await;
    let other = org(app, "other-rail", OrgKind::Operator).await;
    let centre = org(app, "centre", OrgKind::Centre).await;
    user(app, op, "reporter@tohto.example.jp", Role::Reporter).await;
    user(app, op, "admin@tohto.example.jp", Role::OperatorAdmin).await;
    user(app, other, "reporter@other.example.jp", Role::Reporter).await;
    user(app, centre, "analyst@centre.example.jp", Role::Analyst).await;
    user(app, centre, "editor@centre.example.jp", Role::Editor).await;
    let details = ReportInput {
        title: "予約システムの停止".into(),
        sector: "railway".into(),
        event_type: "unavailability".into(),
        summary: "予約システムが停止した。".into(),
        detected_at: Some(detected()),
        ..Default::default()
    }
    .parse(&app.taxonomy)
    .unwrap();
    app.store
        .create_report(NewReport {
            org_id: op,
            details,
            first: NewStage {
                kind: StageKind::First,
                at: detected() + Duration::hours(2),
                text: "第一報".into(),
                author: None,
            },
        })
        .await
        .unwrap()
}

async fn run(app: &App, cfg: &NotifyConfig) -> RunSummary {
    run_once(app, cfg, PUBLIC, &DeadlinePolicy::default())
        .await
        .unwrap()
}

fn take<T: Clone>(m: &Mutex<Vec<T>>) -> Vec<T> {
    std::mem::take(&mut *m.lock().unwrap())
}

// ---- tests ---------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_cross_the_boundaries_once_each() {
    let t = app(detected() + Duration::hours(60)).await;
    let (app, clock) = (&t.app, t.clock.clone());
    let report = world(app).await;
    let (smtp_port, sink) = smtp_sink(0).await;
    let (hook_port, hooks) = webhook_receiver(0).await;
    let cfg = config(smtp_port, hook_port);
    let follow_up_due = detected() + Duration::hours(72);

    // 12 h before the 続報 deadline, and one minute before the 6 h lead: nothing yet.
    assert_eq!(run(app, &cfg).await, RunSummary::default());
    clock.set(follow_up_due - Duration::hours(6) - Duration::minutes(1));
    assert_eq!(run(app, &cfg).await.planned, 0);
    assert!(take(&sink.mails).is_empty() && take(&hooks.hooks).is_empty());

    // At the lead: "due soon" to the operator's reporter and admin, and the webhook.
    clock.set(follow_up_due - Duration::hours(6));
    let s = run(app, &cfg).await;
    assert_eq!((s.planned, s.sent, s.failed), (2, 2, 0), "{s:?}");
    let mails = take(&sink.mails);
    assert_eq!(mails.len(), 1);
    let m = &mails[0];
    assert_eq!(m.from, "<kizuki@centre.example.jp>");
    assert_eq!(
        m.to,
        ["<admin@tohto.example.jp>", "<reporter@tohto.example.jp>"]
    );
    let id = report.id;
    assert_eq!(
        m.subject(),
        format!(
            "【kizuki】報告番号 {id} の続報の提出期限が近づいています / Report {id}: follow-up report due soon"
        )
    );
    let body = m.body();
    // Due 2026-11-04 09:00 JST, shown in both calendars; six hours left.
    assert!(
        body.contains("期限: 2026年11月4日（令和8年11月4日） 09:00（日本時間）"),
        "{body}"
    );
    assert!(body.contains("残り: 6時間"), "{body}");
    assert!(body.contains("2026-11-04 09:00 JST"), "{body}");
    assert!(
        body.contains(&format!("https://kizuki.example.jp/reports/{id}")),
        "{body}"
    );
    assert!(
        !body.contains("予約システムの停止"),
        "no report content leaves by mail"
    );
    let hs = take(&hooks.hooks);
    assert_eq!(hs.len(), 1);
    assert_eq!(hs[0].path, "/hooks/kizuki");
    assert!(
        hs[0].verify(SECRET),
        "the receiver can verify the signature"
    );
    assert!(!hs[0].verify("another-secret-of-some-length"));
    let j = hs[0].json();
    assert_eq!(j["event"], "deadline.due_soon");
    assert_eq!(j["report_id"], id.0);
    assert_eq!(j["stage"], "follow_up");
    assert_eq!(j["due_at"], "2026-11-04T00:00:00Z");
    assert_eq!(j["reminder"], format!("{id}:follow_up:due_soon"));
    assert_eq!(hs[0].header("X-Kizuki-Event"), Some("deadline.due_soon"));

    // The next run, later the same hour: nothing goes out twice.
    clock.advance(Duration::minutes(30));
    assert_eq!(run(app, &cfg).await.sent, 0);
    assert!(take(&sink.mails).is_empty() && take(&hooks.hooks).is_empty());

    // Past the deadline: "overdue" to the operator, to the centre's analysts, and the webhook.
    clock.set(follow_up_due + Duration::minutes(1));
    let s = run(app, &cfg).await;
    assert_eq!((s.planned, s.sent), (3, 3), "{s:?}");
    let mut mails = take(&sink.mails);
    mails.sort_by_key(|m| m.to.clone());
    assert_eq!(mails.len(), 2);
    assert_eq!(
        mails[0].to,
        ["<admin@tohto.example.jp>", "<reporter@tohto.example.jp>"]
    );
    assert_eq!(mails[1].to, ["<analyst@centre.example.jp>"]);
    assert!(mails[1].subject().contains("続報が提出期限を過ぎています"));
    assert!(mails[1].body().contains("センター分析担当"));
    assert!(mails[0].body().contains("超過: 1分"), "{}", mails[0].body());
    let hs = take(&hooks.hooks);
    assert_eq!(hs.len(), 1);
    assert!(hs[0].verify(SECRET));
    assert_eq!(hs[0].json()["event"], "deadline.overdue");

    // Running the loop twice sends once; so does a restart on the same database.
    assert_eq!(run(app, &cfg).await.sent, 0);
    let restarted = t.reopen(7).await;
    let restarted = &restarted.app;
    assert_eq!(run(restarted, &cfg).await.sent, 0);
    assert!(take(&sink.mails).is_empty() && take(&hooks.hooks).is_empty());

    // Filing the 続報 settles it; the 最終報 (due 2026-12-01 09:00 JST) is next. Two nodes
    // on one database run at once past that deadline: each reminder still goes out once.
    app.store
        .add_stage(
            id,
            NewStage {
                kind: StageKind::FollowUp,
                at: clock.now(),
                text: "続報".into(),
                author: None,
            },
        )
        .await
        .unwrap();
    clock.set(Utc.with_ymd_and_hms(2026, 12, 1, 0, 5, 0).unwrap());
    let (a, b) = tokio::join!(run(app, &cfg), run(restarted, &cfg));
    assert_eq!(a.sent + b.sent, 3, "{a:?} {b:?}");
    let mails = take(&sink.mails);
    assert_eq!(mails.len(), 2);
    assert!(mails.iter().all(|m| m.subject().contains("最終報")));
    assert_eq!(take(&hooks.hooks).len(), 1);

    let recorded = app.store.reminders_for(id).await.unwrap();
    assert_eq!(recorded.len(), 2 + 3 + 3);
    assert!(recorded.iter().all(|r| r.sent_at.is_some()));
    assert!(recorded.iter().any(|r| r.key.stage == StageKind::Final
        && r.key.kind == ReminderKind::Overdue
        && r.key.channel == ReminderChannel::MailCentre));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_deliveries_are_retried_later() {
    let t = app(detected() + Duration::hours(72) + Duration::hours(1)).await;
    let (app, clock) = (&t.app, t.clock.clone());
    let report = world(app).await;
    // The relay refuses the first transaction; the receiver answers 500 four times, one more
    // than a delivery's three attempts.
    let (smtp_port, sink) = smtp_sink(1).await;
    let (hook_port, hooks) = webhook_receiver(4).await;
    let cfg = config(smtp_port, hook_port);

    let s = run(app, &cfg).await;
    assert_eq!((s.planned, s.sent, s.failed), (3, 1, 2), "{s:?}");
    assert_eq!(
        take(&hooks.hooks).len(),
        3,
        "three attempts in one delivery"
    );
    let failed = app.store.failed_reminders(1).await.unwrap();
    assert_eq!(failed.len(), 2);
    let webhook_failure = failed
        .iter()
        .find(|r| r.key.channel == ReminderChannel::Webhook)
        .unwrap();
    assert!(
        webhook_failure
            .last_error
            .as_deref()
            .unwrap()
            .contains("500"),
        "{webhook_failure:?}"
    );

    // Not again before the retry time (five minutes)…
    clock.advance(Duration::minutes(4));
    assert_eq!(run(app, &cfg).await.planned, 0);
    // …then the mail and the webhook go through.
    clock.advance(Duration::minutes(2));
    let s = run(app, &cfg).await;
    assert_eq!((s.sent, s.failed), (2, 0), "{s:?}");
    let hs = take(&hooks.hooks);
    assert_eq!(hs.len(), 2, "one more 500, then success");
    assert!(hs.iter().all(|h| h.verify(SECRET)));
    assert_eq!(take(&sink.mails).len(), 2);
    assert!(app.store.failed_reminders(1).await.unwrap().is_empty());
    let rec = app.store.reminders_for(report.id).await.unwrap();
    assert!(rec.iter().all(|r| r.sent_at.is_some()), "{rec:?}");
}

#[tokio::test]
async fn an_unreachable_relay_is_logged_not_fatal() {
    let t = app(detected() + Duration::hours(73)).await;
    let app = &t.app;
    world(app).await;
    // A port nobody listens on any more.
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cfg = config(closed, closed);
    cfg.webhook = None;
    let s = run(app, &cfg).await;
    assert_eq!((s.sent, s.failed), (0, 2), "{s:?}");
    let failed = app.store.failed_reminders(1).await.unwrap();
    assert!(
        failed[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("接続できません")
    );
}
