//! Deadline reminders through the real binary: `kizuki serve` with `[smtp]` and
//! `[webhook]` in `kizuki.toml` mails an overdue 続報 to the operator and the centre and posts
//! the webhook, once; a restart sends nothing again; `kizuki check` stays clean. The same over
//! STARTTLS with AUTH and https, trusting a `ca_file` beside `kizuki.toml`.

use crate::{bin, kizuki};
use chrono::{Duration, Utc};
use kizuki_domain::org::{NewOrganisation, OrgKind};
use kizuki_domain::report::{ReportInput, StageKind};
use kizuki_domain::taxonomy::{Code, Lang};
use kizuki_domain::user::{Email, NewUser, Role};
use kizuki_store::prelude::*;
use kizuki_store::{NewReport, NewStage};
use kizuki_store_sqlite::datadir::DataDir;
use kizuki_testkit::sinks::{
    SinkTls, SmtpSinkOptions, https_webhook_receiver, smtp_sink, smtp_sink_with, webhook_receiver,
};
use kizuki_testkit::{Kizuki, TempDataDir, TestCa, stderr, stdout};

/// The webhook secret in the test's `kizuki.toml`.
const SECRET: &str = "e2e-secret-0123456789";

/// An operator with a reporter, the centre with an analyst, and a report detected 73 hours
/// ago (its 続報 was due an hour ago).
#[allow(
    clippy::disallowed_methods,
    reason = "the `kizuki serve` under test runs on the real clock, so the deadline is set from it"
)]
async fn seed(dir: &std::path::Path) -> i64 {
    let store = DataDir::new(dir).open().unwrap();
    let tx = kizuki_dataset::default_taxonomy().unwrap();
    let mut org_ids = Vec::new();
    for (key, kind) in [("op", OrgKind::Operator), ("centre", OrgKind::Centre)] {
        let o = store
            .create_org(NewOrganisation {
                key: key.into(),
                name: format!("{key} 株式会社"),
                kind,
                sectors: vec![Code("railway".into())],
                region: None,
            })
            .await
            .unwrap();
        org_ids.push(o.id);
    }
    for (org, email, role) in [
        (org_ids[0], "reporter@op.example.jp", Role::Reporter),
        (org_ids[1], "analyst@centre.example.jp", Role::Analyst),
    ] {
        store
            .create_user(
                NewUser {
                    org_id: org,
                    email: Email::parse(email).unwrap(),
                    display_name: "利用者".into(),
                    role,
                    lang: Lang::Ja,
                },
                "$argon2id$not-a-real-hash",
            )
            .await
            .unwrap();
    }
    let detected = Utc::now() - Duration::hours(73);
    let details = ReportInput {
        title: "予約システムの停止".into(),
        sector: "railway".into(),
        event_type: "unavailability".into(),
        summary: "停止した。".into(),
        detected_at: Some(detected),
        ..Default::default()
    }
    .parse(&tx)
    .unwrap();
    store
        .create_report(NewReport {
            org_id: org_ids[0],
            details,
            first: NewStage {
                kind: StageKind::First,
                at: detected + Duration::hours(1),
                text: "第一報".into(),
                author: None,
            },
        })
        .await
        .unwrap()
        .id
        .0
}

/// Runs `kizuki serve` on the data dir until `done` holds or `secs` pass; whether it held.
async fn serve_until(dir: &std::path::Path, secs: u64, done: impl Fn() -> bool) -> bool {
    serve_with_until(&bin(), dir, secs, done).await
}

/// [`serve_until`] with the binary as `kizuki` sets it up (its environment).
async fn serve_with_until(
    kizuki: &Kizuki,
    dir: &std::path::Path,
    secs: u64,
    done: impl Fn() -> bool,
) -> bool {
    let mut node = kizuki.serve(dir).await;
    let mut ok = false;
    for _ in 0..secs * 10 {
        if done() {
            ok = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    node.kill();
    ok
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_sends_overdue_reminders_once() {
    let d = TempDataDir::new();
    let o = kizuki(&d.path(), &["init", "--no-demo"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report = seed(&d.path()).await;
    let (smtp_port, sink) = smtp_sink(0).await;
    let (hook_port, receiver) = webhook_receiver(0).await;
    let mails = &sink.mails;
    let hooks = &receiver.hooks;
    std::fs::write(
        d.path().join("kizuki.toml"),
        format!(
            "public_url = \"https://kizuki.example.jp\"\n\
             [smtp]\nhost = \"127.0.0.1\"\nport = {smtp_port}\ntls = \"none\"\n\
             from = \"kizuki@centre.example.jp\"\n\
             [webhook]\nurl = \"http://127.0.0.1:{hook_port}/hook\"\nallow_http = true\n\
             secret = \"{SECRET}\"\n\
             [backup]\nevery = \"off\"\n"
        ),
    )
    .unwrap();

    let all_in = || mails.lock().unwrap().len() >= 2 && !hooks.lock().unwrap().is_empty();
    assert!(serve_until(&d.path(), 30, all_in).await, "reminders arrive");
    let mut got: Vec<Vec<String>> = mails.lock().unwrap().iter().map(|m| m.to.clone()).collect();
    got.sort();
    assert_eq!(
        got,
        [
            vec!["<analyst@centre.example.jp>".to_owned()],
            vec!["<reporter@op.example.jp>".to_owned()],
        ]
    );
    let h = hooks.lock().unwrap().clone();
    assert_eq!(h.len(), 1);
    assert!(h.iter().all(|h| h.verify(SECRET)), "the post is signed");
    let h: Vec<serde_json::Value> = h.iter().map(|h| h.json()).collect();
    assert_eq!(h[0]["event"], "deadline.overdue");
    assert_eq!(h[0]["report_id"], report);
    assert_eq!(
        h[0]["url"],
        format!("https://kizuki.example.jp/reports/{report}")
    );

    // A restart runs the loop again at once: nothing more arrives.
    let more = || mails.lock().unwrap().len() > 2 || hooks.lock().unwrap().len() > 1;
    let _ = serve_until(&d.path(), 6, || false).await;
    assert!(!more(), "sent once across restarts");

    let o = kizuki(&d.path(), &["check"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_sends_reminders_over_starttls_with_auth_and_https() {
    let d = TempDataDir::new();
    let o = kizuki(&d.path(), &["init", "--no-demo"]);
    assert!(o.status.success(), "{}", stderr(&o));
    seed(&d.path()).await;
    let ca = TestCa::new();
    ca.write_ca_file(&d.path(), "internal-ca.pem");
    let (smtp_port, sink) = smtp_sink_with(SmtpSinkOptions {
        tls: SinkTls::StartTls(ca.clone()),
        account: Some(("kizuki".into(), "from-the-environment".into())),
        ..SmtpSinkOptions::default()
    })
    .await;
    let (hook_port, receiver) = https_webhook_receiver(0, &ca).await;
    // A relative ca_file is read beside kizuki.toml; the password comes from the environment.
    std::fs::write(
        d.path().join("kizuki.toml"),
        format!(
            "public_url = \"https://kizuki.example.jp\"\n\
             [smtp]\nhost = \"localhost\"\nport = {smtp_port}\ntls = \"starttls\"\n\
             ca_file = \"internal-ca.pem\"\nusername = \"kizuki\"\n\
             from = \"kizuki@centre.example.jp\"\n\
             [webhook]\nurl = \"https://127.0.0.1:{hook_port}/hook\"\n\
             ca_file = \"internal-ca.pem\"\nsecret = \"{SECRET}\"\n\
             [backup]\nevery = \"off\"\n"
        ),
    )
    .unwrap();
    let kizuki = bin().env("KIZUKI_SMTP_PASSWORD", "from-the-environment");
    let (mails, hooks) = (&sink.mails, &receiver.hooks);
    let all_in = || mails.lock().unwrap().len() >= 2 && !hooks.lock().unwrap().is_empty();
    assert!(
        serve_with_until(&kizuki, &d.path(), 30, all_in).await,
        "reminders arrive; logins {:?}, TLS failures {}",
        sink.logins.lock().unwrap(),
        sink.tls_failures.lock().unwrap()
    );
    let mails = mails.lock().unwrap().clone();
    assert!(
        mails
            .iter()
            .all(|m| m.tls && m.login.as_deref() == Some("kizuki"))
    );
    assert!(
        mails
            .iter()
            .any(|m| m.subject().contains("続報が提出期限を過ぎています"))
    );
    let h = hooks.lock().unwrap().clone();
    assert_eq!(h.len(), 1);
    assert!(h[0].verify(SECRET), "the https post is signed");
    assert_eq!(h[0].json()["event"], "deadline.overdue");
}

/// `kizuki check` judges given-up reminders against `[reminders] max_attempts`, the limit the
/// delivery loop stops at, not against the default five.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(
    clippy::disallowed_methods,
    reason = "`kizuki check` judges the reminders on the real clock"
)]
async fn check_reports_reminders_given_up_at_the_configured_limit() {
    use kizuki_store::{ReminderChannel, ReminderClaim, ReminderKey, ReminderKind};
    let d = TempDataDir::new();
    let o = kizuki(&d.path(), &["init", "--no-demo"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report = seed(&d.path()).await;
    {
        let store = DataDir::new(d.path()).open().unwrap();
        let key = ReminderKey {
            report: kizuki_domain::ids::ReportId(report),
            stage: StageKind::FollowUp,
            kind: ReminderKind::Overdue,
            channel: ReminderChannel::Webhook,
        };
        for (n, token) in ["t1", "t2"].into_iter().enumerate() {
            let now = Utc::now() + Duration::hours(i64::try_from(n).unwrap());
            let claim = ReminderClaim {
                key,
                token: token.into(),
                now,
                lease_until: now + Duration::minutes(10),
                max_attempts: 2,
            };
            assert!(store.claim_reminder(&claim).await.unwrap());
            store
                .release_reminder(&key, token, now + Duration::minutes(30), "HTTP 500")
                .await
                .unwrap();
        }
    }
    let toml = d.path().join("kizuki.toml");
    std::fs::write(&toml, "[reminders]\nmax_attempts = 2\n").unwrap();
    let o = kizuki(&d.path(), &["check"]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stderr(&o).contains("リマインダーを 2 回送れませんでした"),
        "{}",
        stderr(&o)
    );
    // With five attempts allowed, the loop would still try it: nothing to report.
    std::fs::write(&toml, "[reminders]\nmax_attempts = 5\n").unwrap();
    let o = kizuki(&d.path(), &["check"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
}
