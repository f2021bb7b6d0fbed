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

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Duration, TimeZone, Utc};
use hmac::{Hmac, KeyInit, Mac};
use kizuki_app::notify::smtp::SmtpConfig;
use kizuki_app::notify::webhook::{HttpUrl, WebhookConfig};
use kizuki_app::notify::{NotifyConfig, ReminderSettings, RunSummary, run_once};
use kizuki_app::{App, seeded_rng};
use kizuki_domain::clock::{Clock, FixedClock};
use kizuki_domain::deadlines::DeadlinePolicy;
use kizuki_domain::ids::OrgId;
use kizuki_domain::org::{NewOrganisation, OrgKind};
use kizuki_domain::report::{Report, ReportInput, StageKind};
use kizuki_domain::taxonomy::{Code, Lang};
use kizuki_domain::user::{Email, NewUser, Role};
use kizuki_store::{NewReport, NewStage, ReminderChannel, ReminderKind};
use kizuki_store_sqlite::SqliteStore;
use sha2::Sha256;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

const SECRET: &str = "a-webhook-secret-for-tests";
const PUBLIC: &str = "https://kizuki.example.jp/";

// ---- a local SMTP sink ---------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Mail {
    from: String,
    to: Vec<String>,
    data: String,
}

impl Mail {
    /// Unfolded headers and the decoded body.
    fn parts(&self) -> (Vec<(String, String)>, String) {
        let (head, body) = self.data.split_once("\r\n\r\n").unwrap();
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.split("\r\n") {
            if line.starts_with(' ') || line.starts_with('\t') {
                headers.last_mut().unwrap().1.push_str(line);
            } else {
                let (k, v) = line.split_once(':').unwrap();
                headers.push((k.to_owned(), v.trim().to_owned()));
            }
        }
        let joined: String = body.split("\r\n").collect();
        let text = String::from_utf8(B64.decode(joined).unwrap()).unwrap();
        (headers, text)
    }

    fn header(&self, name: &str) -> String {
        self.parts()
            .0
            .into_iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("no {name} header"))
    }

    /// The subject decoded from its RFC 2047 encoded-words.
    fn subject(&self) -> String {
        let raw = self.header("Subject");
        let mut bytes = Vec::new();
        for w in raw.split_whitespace() {
            let inner = w
                .strip_prefix("=?UTF-8?B?")
                .and_then(|w| w.strip_suffix("?="))
                .unwrap_or_else(|| panic!("not an encoded-word: {w}"));
            bytes.extend(B64.decode(inner).unwrap());
        }
        String::from_utf8(bytes).unwrap()
    }

    fn body(&self) -> String {
        self.parts().1
    }
}

#[derive(Default)]
struct Sink {
    mails: Mutex<Vec<Mail>>,
    /// Transactions still to refuse with a temporary failure.
    refuse: Mutex<usize>,
}

/// Speaks enough SMTP for a client: greeting, EHLO, MAIL, RCPT, DATA (dot-unstuffed), QUIT.
async fn smtp_sink(refuse: usize) -> (u16, Arc<Sink>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let sink = Arc::new(Sink {
        mails: Mutex::new(Vec::new()),
        refuse: Mutex::new(refuse),
    });
    let s = sink.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let s = s.clone();
            tokio::spawn(async move {
                let (r, mut w) = stream.into_split();
                let mut r = BufReader::new(r);
                w.write_all(b"220 sink.test ESMTP\r\n").await.unwrap();
                let (mut from, mut to) = (String::new(), Vec::new());
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).await.unwrap() == 0 {
                        return;
                    }
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") {
                        b"250-sink.test\r\n250 8BITMIME\r\n"
                    } else if upper.starts_with("MAIL FROM:") {
                        let mut n = s.refuse.lock().unwrap();
                        if *n > 0 {
                            *n -= 1;
                            b"451 4.3.0 try again later\r\n"
                        } else {
                            from = line[10..].trim().to_owned();
                            to.clear();
                            b"250 ok\r\n"
                        }
                    } else if upper.starts_with("RCPT TO:") {
                        to.push(line[8..].trim().to_owned());
                        b"250 ok\r\n"
                    } else if upper.starts_with("DATA") {
                        w.write_all(b"354 end with .\r\n").await.unwrap();
                        let mut data = String::new();
                        loop {
                            let mut l = String::new();
                            r.read_line(&mut l).await.unwrap();
                            if l == ".\r\n" {
                                break;
                            }
                            data.push_str(l.strip_prefix('.').unwrap_or(&l));
                        }
                        s.mails.lock().unwrap().push(Mail {
                            from: from.clone(),
                            to: to.clone(),
                            data,
                        });
                        b"250 queued\r\n"
                    } else if upper.starts_with("QUIT") {
                        w.write_all(b"221 bye\r\n").await.unwrap();
                        return;
                    } else {
                        b"500 what?\r\n"
                    };
                    w.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, sink)
}

// ---- a local webhook receiver --------------------------------------------------------------

#[derive(Debug, Clone)]
struct Hook {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Hook {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// What a receiver does: recompute the HMAC of the raw body and compare in constant time.
    fn verify(&self, secret: &str) -> bool {
        let Some(sig) = self.header("X-Kizuki-Signature") else {
            return false;
        };
        let Some(hex) = sig.strip_prefix("sha256=") else {
            return false;
        };
        let Ok(tag) = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
        else {
            return false;
        };
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(&self.body);
        mac.verify_slice(&tag).is_ok()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Default)]
struct Receiver {
    hooks: Mutex<Vec<Hook>>,
    /// Requests still to answer with 500.
    fail: Mutex<usize>,
}

async fn webhook_receiver(fail: usize) -> (u16, Arc<Receiver>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let rx = Arc::new(Receiver {
        hooks: Mutex::new(Vec::new()),
        fail: Mutex::new(fail),
    });
    let out = rx.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let rx = rx.clone();
            tokio::spawn(async move {
                let mut r = BufReader::new(stream);
                let mut request = String::new();
                r.read_line(&mut request).await.unwrap();
                let mut headers = Vec::new();
                loop {
                    let mut l = String::new();
                    r.read_line(&mut l).await.unwrap();
                    if l == "\r\n" {
                        break;
                    }
                    let (k, v) = l.split_once(':').unwrap();
                    headers.push((k.to_owned(), v.trim().to_owned()));
                }
                let len: usize = headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .map(|(_, v)| v.parse().unwrap())
                    .unwrap();
                let mut body = vec![0; len];
                r.read_exact(&mut body).await.unwrap();
                let status: &[u8] = {
                    let mut n = rx.fail.lock().unwrap();
                    if *n > 0 {
                        *n -= 1;
                        b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"
                    } else {
                        b"HTTP/1.1 204 No Content\r\n\r\n"
                    }
                };
                rx.hooks.lock().unwrap().push(Hook {
                    path: request.split_whitespace().nth(1).unwrap().to_owned(),
                    headers,
                    body,
                });
                r.get_mut().write_all(status).await.unwrap();
            });
        }
    });
    (port, out)
}

// ---- the world -----------------------------------------------------------------------------

/// Detection at 2026-11-01 09:00 JST; with the default policy the 続報 is due 72 h later.
fn detected() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
}

fn app(path: &Path, clock: Arc<FixedClock>) -> App {
    App {
        store: Arc::new(SqliteStore::open(path).unwrap()),
        taxonomy: Arc::new(kizuki_dataset::default_taxonomy().unwrap()),
        clock: clock as Arc<dyn Clock>,
        rng: seeded_rng(7),
    }
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
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kizuki.db");
    let clock = Arc::new(FixedClock::new(detected() + Duration::hours(60)));
    let app = app(&path, clock.clone());
    let report = world(&app).await;
    let (smtp_port, sink) = smtp_sink(0).await;
    let (hook_port, hooks) = webhook_receiver(0).await;
    let cfg = config(smtp_port, hook_port);
    let follow_up_due = detected() + Duration::hours(72);

    // 12 h before the 続報 deadline, and one minute before the 6 h lead: nothing yet.
    assert_eq!(run(&app, &cfg).await, RunSummary::default());
    clock.set(follow_up_due - Duration::hours(6) - Duration::minutes(1));
    assert_eq!(run(&app, &cfg).await.planned, 0);
    assert!(take(&sink.mails).is_empty() && take(&hooks.hooks).is_empty());

    // At the lead: "due soon" to the operator's reporter and admin, and the webhook.
    clock.set(follow_up_due - Duration::hours(6));
    let s = run(&app, &cfg).await;
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
    assert_eq!(run(&app, &cfg).await.sent, 0);
    assert!(take(&sink.mails).is_empty() && take(&hooks.hooks).is_empty());

    // Past the deadline: "overdue" to the operator, to the centre's analysts, and the webhook.
    clock.set(follow_up_due + Duration::minutes(1));
    let s = run(&app, &cfg).await;
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
    assert_eq!(run(&app, &cfg).await.sent, 0);
    let restarted = self::app(&path, clock.clone());
    assert_eq!(run(&restarted, &cfg).await.sent, 0);
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
    let (a, b) = tokio::join!(run(&app, &cfg), run(&restarted, &cfg));
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
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(FixedClock::new(
        detected() + Duration::hours(72) + Duration::hours(1),
    ));
    let app = app(&dir.path().join("kizuki.db"), clock.clone());
    let report = world(&app).await;
    // The relay refuses the first transaction; the receiver answers 500 four times, one more
    // than a delivery's three attempts.
    let (smtp_port, sink) = smtp_sink(1).await;
    let (hook_port, hooks) = webhook_receiver(4).await;
    let cfg = config(smtp_port, hook_port);

    let s = run(&app, &cfg).await;
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
    assert_eq!(run(&app, &cfg).await.planned, 0);
    // …then the mail and the webhook go through.
    clock.advance(Duration::minutes(2));
    let s = run(&app, &cfg).await;
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
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(FixedClock::new(detected() + Duration::hours(73)));
    let app = app(&dir.path().join("kizuki.db"), clock);
    world(&app).await;
    // A port nobody listens on any more.
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cfg = config(closed, closed);
    cfg.webhook = None;
    let s = run(&app, &cfg).await;
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
