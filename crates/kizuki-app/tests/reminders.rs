//! Stage-deadline reminders end to end inside the app: a local SMTP sink and a local
//! HTTP listener started by the tests receive the reminders; a fixed clock walks across the
//! due-soon and overdue boundaries; every reminder arrives once per report, stage, kind and
//! channel, across runs, restarts and two nodes running at once; failures are retried later.
//! Over TLS, with a CA made by the test: STARTTLS and implicit TLS with AUTH, https webhooks;
//! an untrusted certificate or a wrong password fails the delivery and keeps the reminder.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "helpers of tests stop at the line that failed, as the tests do"
)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use kizuki_app::App;
use kizuki_app::notify::smtp::{SmtpAuth, SmtpConfig, SmtpTls};
use kizuki_app::notify::webhook::{WebhookConfig, WebhookUrl};
use kizuki_app::notify::{NotifyConfig, ReminderSettings, RunSummary, run_once};
use kizuki_domain::clock::{Clock, FixedClock};
use kizuki_domain::deadlines::DeadlinePolicy;
use kizuki_domain::ids::{OrgId, ReportId};
use kizuki_domain::org::{NewOrganisation, OrgKind};
use kizuki_domain::report::{Report, ReportInput, StageKind};
use kizuki_domain::taxonomy::{Code, Lang};
use kizuki_domain::user::{Email, NewUser, Role};
use kizuki_store::{NewReport, NewStage, ReminderChannel, ReminderKind};
use kizuki_testkit::sinks::{
    Login, Mail, SinkTls, SmtpSinkOptions, https_webhook_receiver, smtp_sink, smtp_sink_with,
    webhook_receiver,
};
use kizuki_testkit::{TestApp, TestCa};
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

/// Plain SMTP to the sink and `http://` (allowed, loopback) to the receiver.
fn config(smtp_port: u16, hook_port: u16) -> NotifyConfig {
    NotifyConfig {
        public_url: Some(PUBLIC.into()),
        smtp: Some(smtp_config("127.0.0.1", smtp_port, SmtpTls::None)),
        webhook: Some(webhook_config(
            &format!("http://127.0.0.1:{hook_port}/hooks/kizuki"),
            None,
        )),
        reminders: ReminderSettings::default(),
    }
}

fn smtp_config(host: &str, port: u16, tls: SmtpTls) -> SmtpConfig {
    SmtpConfig {
        host: host.into(),
        port,
        tls,
        ca: None,
        auth: None,
        from: Email::parse("kizuki@centre.example.jp").unwrap(),
        helo: "kizuki.test".into(),
        timeout: std::time::Duration::from_secs(5),
    }
}

fn webhook_config(url: &str, ca: Option<&TestCa>) -> WebhookConfig {
    WebhookConfig {
        url: WebhookUrl::parse(url, true).unwrap(),
        secret: SECRET.into(),
        ca: ca.map(TestCa::extra_ca),
        attempts: 3,
        backoff: std::time::Duration::from_millis(10),
        timeout: std::time::Duration::from_secs(5),
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

/// The "due soon" mail for the 続報 of report `id` (due 2026-11-04 09:00 JST), to the
/// operator's admin and reporter, its subject and deadline decoded from the MIME.
fn assert_due_soon_to_the_operator(m: &Mail, id: ReportId) {
    assert_eq!(
        m.to,
        ["<admin@tohto.example.jp>", "<reporter@tohto.example.jp>"]
    );
    assert_eq!(
        m.subject(),
        format!(
            "【kizuki】報告番号 {id} の続報の提出期限が近づいています / Report {id}: follow-up report due soon"
        )
    );
    // Shown in both calendars.
    let body = m.body();
    assert!(
        body.contains("期限: 2026年11月4日（令和8年11月4日） 09:00（日本時間）"),
        "{body}"
    );
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
    let id = report.id;
    assert_due_soon_to_the_operator(m, id);
    let body = m.body();
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

// ---- over TLS ------------------------------------------------------------------------------

const USER: &str = "kizuki-relay";
const PASSWORD: &str = "relay-password-0123";

fn account() -> Option<(String, String)> {
    Some((USER.into(), PASSWORD.into()))
}

fn auth(password: &str) -> Option<SmtpAuth> {
    Some(SmtpAuth {
        username: USER.into(),
        password: password.into(),
    })
}

/// Mail by `smtp` only, or the webhook only.
fn channels(smtp: Option<SmtpConfig>, webhook: Option<WebhookConfig>) -> NotifyConfig {
    NotifyConfig {
        public_url: Some(PUBLIC.into()),
        smtp,
        webhook,
        reminders: ReminderSettings::default(),
    }
}

fn last_errors(failed: &[kizuki_store::ReminderRecord]) -> Vec<String> {
    failed
        .iter()
        .map(|r| r.last_error.clone().unwrap_or_default())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_with_auth_and_an_https_webhook_deliver() {
    let t = app(detected() + Duration::hours(66)).await;
    let app = &t.app;
    let report = world(app).await;
    let ca = TestCa::new();
    let (smtp_port, sink) = smtp_sink_with(SmtpSinkOptions {
        tls: SinkTls::StartTls(ca.clone()),
        account: account(),
        ..SmtpSinkOptions::default()
    })
    .await;
    let (hook_port, hooks) = https_webhook_receiver(0, &ca).await;
    let mut smtp = smtp_config("127.0.0.1", smtp_port, SmtpTls::StartTls);
    smtp.ca = Some(ca.extra_ca());
    smtp.auth = auth(PASSWORD);
    let hook = webhook_config(
        &format!("https://localhost:{hook_port}/hooks/kizuki"),
        Some(&ca),
    );
    let cfg = channels(Some(smtp), Some(hook));

    let s = run(app, &cfg).await;
    assert_eq!((s.planned, s.sent, s.failed), (2, 2, 0), "{s:?}");
    let mails = take(&sink.mails);
    assert_eq!(mails.len(), 1);
    let m = &mails[0];
    assert!(m.tls, "the mail came after STARTTLS");
    assert_eq!(m.login.as_deref(), Some(USER));
    assert_eq!(
        take(&sink.logins),
        [Login {
            mechanism: "PLAIN".into(),
            username: USER.into(),
            password: PASSWORD.into(),
        }]
    );
    assert_due_soon_to_the_operator(m, report.id);
    assert_eq!(m.header("Auto-Submitted"), "auto-generated");
    let hs = take(&hooks.hooks);
    assert_eq!(hs.len(), 1);
    assert_eq!(hs[0].path, "/hooks/kizuki");
    assert!(hs[0].verify(SECRET), "the signature verifies over https");
    assert_eq!(hs[0].json()["event"], "deadline.due_soon");
    assert_eq!(*hooks.tls_failures.lock().unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implicit_tls_delivers_and_login_is_used_when_plain_is_not_offered() {
    let t = app(detected() + Duration::hours(73)).await;
    let app = &t.app;
    world(app).await;
    let ca = TestCa::new();
    let (port, sink) = smtp_sink_with(SmtpSinkOptions {
        tls: SinkTls::Implicit(ca.clone()),
        account: account(),
        mechanisms: vec!["LOGIN"],
        ..SmtpSinkOptions::default()
    })
    .await;
    let mut smtp = smtp_config("localhost", port, SmtpTls::Implicit);
    smtp.ca = Some(ca.extra_ca());
    smtp.auth = auth(PASSWORD);

    let s = run(app, &channels(Some(smtp), None)).await;
    assert_eq!((s.planned, s.sent, s.failed), (2, 2, 0), "{s:?}");
    let mut mails = take(&sink.mails);
    mails.sort_by_key(|m| m.to.clone());
    assert_eq!(mails.len(), 2);
    assert!(mails.iter().all(|m| m.tls));
    assert_eq!(mails[1].to, ["<analyst@centre.example.jp>"]);
    assert!(mails[1].subject().contains("続報が提出期限を過ぎています"));
    assert!(mails[1].body().contains("センター分析担当"));
    let logins = take(&sink.logins);
    assert_eq!(logins.len(), 2);
    assert!(
        logins
            .iter()
            .all(|l| l.mechanism == "LOGIN" && l.password == PASSWORD)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_refused_and_the_reminders_are_kept() {
    let t = app(detected() + Duration::hours(73)).await;
    let (app, clock) = (&t.app, t.clock.clone());
    let report = world(app).await;
    // The servers' certificates come from one CA; kizuki trusts another (and the system's).
    let servers = TestCa::new();
    let other = TestCa::new();
    let (smtp_port, sink) = smtp_sink_with(SmtpSinkOptions {
        tls: SinkTls::StartTls(servers.clone()),
        account: account(),
        ..SmtpSinkOptions::default()
    })
    .await;
    let (hook_port, hooks) = https_webhook_receiver(0, &servers).await;
    let configure = |ca: &TestCa| {
        let mut smtp = smtp_config("127.0.0.1", smtp_port, SmtpTls::StartTls);
        smtp.ca = Some(ca.extra_ca());
        smtp.auth = auth(PASSWORD);
        let hook = webhook_config(&format!("https://127.0.0.1:{hook_port}/h"), Some(ca));
        channels(Some(smtp), Some(hook))
    };

    let s = run(app, &configure(&other)).await;
    assert_eq!((s.planned, s.sent, s.failed), (3, 0, 3), "{s:?}");
    assert!(take(&sink.mails).is_empty() && take(&hooks.hooks).is_empty());
    assert!(take(&sink.logins).is_empty(), "no password went out");
    assert!(*sink.tls_failures.lock().unwrap() >= 2);
    assert!(*hooks.tls_failures.lock().unwrap() >= 3, "three attempts");
    let failed = app.store.failed_reminders(1).await.unwrap();
    assert_eq!(failed.len(), 3);
    for e in last_errors(&failed) {
        assert!(e.contains("TLS") && e.contains("証明書"), "{e}");
        assert!(e.contains("invalid peer certificate"), "{e}");
        assert!(e.contains("ca_file"), "{e}");
    }
    let rec = app.store.reminders_for(report.id).await.unwrap();
    assert!(
        rec.iter().all(|r| r.sent_at.is_none() && r.attempts == 1),
        "{rec:?}"
    );

    // Trusting the right CA, the retry after five minutes delivers them all.
    clock.advance(Duration::minutes(6));
    let s = run(app, &configure(&servers)).await;
    assert_eq!((s.sent, s.failed), (3, 0), "{s:?}");
    assert_eq!(take(&sink.mails).len(), 2);
    assert_eq!(take(&hooks.hooks).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_fails_at_auth_and_nothing_is_sent() {
    let t = app(detected() + Duration::hours(66)).await;
    let app = &t.app;
    world(app).await;
    let ca = TestCa::new();
    let (port, sink) = smtp_sink_with(SmtpSinkOptions {
        tls: SinkTls::StartTls(ca.clone()),
        account: account(),
        ..SmtpSinkOptions::default()
    })
    .await;
    let mut smtp = smtp_config("127.0.0.1", port, SmtpTls::StartTls);
    smtp.ca = Some(ca.extra_ca());
    smtp.auth = auth("not-the-password");

    let s = run(app, &channels(Some(smtp), None)).await;
    assert_eq!((s.sent, s.failed), (0, 1), "{s:?}");
    assert!(take(&sink.mails).is_empty());
    assert_eq!(*sink.refused_logins.lock().unwrap(), 1);
    let failed = app.store.failed_reminders(1).await.unwrap();
    let e = &last_errors(&failed)[0];
    assert!(e.contains("AUTH") && e.contains("535"), "{e}");
    assert!(!e.contains("not-the-password"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_is_required_when_configured() {
    let t = app(detected() + Duration::hours(66)).await;
    let app = &t.app;
    world(app).await;
    // A plain relay that does not offer STARTTLS.
    let (port, sink) = smtp_sink(0).await;
    let smtp = smtp_config("127.0.0.1", port, SmtpTls::StartTls);

    let s = run(app, &channels(Some(smtp), None)).await;
    assert_eq!((s.sent, s.failed), (0, 1), "{s:?}");
    assert!(take(&sink.mails).is_empty());
    let failed = app.store.failed_reminders(1).await.unwrap();
    let e = &last_errors(&failed)[0];
    assert!(e.contains("STARTTLS"), "{e}");
}
