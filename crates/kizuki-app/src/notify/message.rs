//! What a reminder says: the Japanese e-mail (English beside it) and the webhook's JSON.
//!
//! Neither carries the report's title or content: e-mail and webhooks leave the platform
//! unencrypted and outside TLP control, so a reminder names only the report number, the stage
//! and the deadline, and links to the report page, where access rules apply.

use super::plan::Planned;
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use kizuki_domain::clock::jst;
use kizuki_domain::deadlines::{duration_ja, when_ja};
use kizuki_domain::report::StageKind;
use kizuki_store::{ReminderChannel, ReminderKind};
use serde::Serialize;

fn stage_en(s: StageKind) -> &'static str {
    match s {
        StageKind::First => "first report",
        StageKind::FollowUp => "follow-up report",
        StageKind::Final => "final report",
    }
}

/// The report page under the configured public URL.
pub fn report_url(public_url: &str, p: &Planned) -> String {
    format!(
        "{}/reports/{}",
        public_url.trim_end_matches('/'),
        p.key.report
    )
}

/// Subject and plain-text body of the reminder e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailText {
    pub subject: String,
    pub body: String,
}

/// "2019-04-29 10:00 JST", for the English line.
fn when_en(t: DateTime<Utc>) -> String {
    t.with_timezone(&jst())
        .format("%Y-%m-%d %H:%M JST")
        .to_string()
}

fn duration_en(d: TimeDelta) -> String {
    let mins = d.num_minutes().max(0);
    let (days, hours, m) = (mins / (24 * 60), (mins / 60) % 24, mins % 60);
    match (days, hours) {
        (0, 0) => format!("{m} min"),
        (0, h) => format!("{h} h {m} min"),
        (d, h) => format!("{d} d {h} h"),
    }
}

pub fn mail_text(p: &Planned, now: DateTime<Utc>, public_url: &str) -> MailText {
    let id = p.key.report;
    let (ja, en) = (p.key.stage.label_ja(), stage_en(p.key.stage));
    let url = report_url(public_url, p);
    let (subject, lead_ja, lead_en, left) = match p.key.kind {
        ReminderKind::DueSoon => (
            format!(
                "【kizuki】報告番号 {id} の{ja}の提出期限が近づいています / Report {id}: {en} due soon"
            ),
            format!("報告番号 {id} の{ja}の提出期限が近づいています。"),
            format!("Report {id}: the {en} is due at {}.", when_en(p.due)),
            (
                format!("残り: {}", duration_ja(p.due - now)),
                format!("Time left: {}", duration_en(p.due - now)),
            ),
        ),
        ReminderKind::Overdue => (
            format!(
                "【kizuki】報告番号 {id} の{ja}が提出期限を過ぎています / Report {id}: {en} overdue"
            ),
            format!("報告番号 {id} の{ja}が提出期限を過ぎています。"),
            format!("Report {id}: the {en} was due at {}.", when_en(p.due)),
            (
                format!("超過: {}", duration_ja(now - p.due)),
                format!("Overdue by: {}", duration_en(now - p.due)),
            ),
        ),
    };
    let audience = match p.key.channel {
        ReminderChannel::MailCentre => {
            "（センター分析担当の方へのお知らせです / For the centre's analysts）\n\n"
        }
        _ => "",
    };
    let body = format!(
        "{audience}{lead_ja}\n\
         期限: {}（日本時間）\n\
         {}\n\
         報告ページ: {url}\n\
         \n\
         {lead_en}\n\
         {}\n\
         Report page: {url}\n\
         \n\
         このメールは kizuki から自動送信されています。報告の内容はログインしてご確認ください。\n\
         This message was sent automatically by kizuki; sign in to see the report.\n",
        when_ja(p.due),
        left.0,
        left.1,
    );
    MailText { subject, body }
}

/// The webhook's JSON body. `sent_at` lets a receiver refuse replays of an old delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookEvent {
    /// `deadline.due_soon` or `deadline.overdue`.
    pub event: String,
    pub report_id: i64,
    pub org_id: i64,
    pub stage: &'static str,
    pub stage_ja: &'static str,
    pub due_at: String,
    /// The deadline in Japan time with its 和暦 date, as the e-mails show it.
    pub due_at_ja: String,
    pub url: String,
    pub sent_at: String,
    /// The same for every delivery of this reminder (`12:follow_up:overdue`): what a
    /// receiver de-duplicates on.
    pub reminder: String,
    /// This delivery (the claim's token; the same across the retries within it), for logs.
    pub delivery: String,
}

pub fn webhook_event(
    p: &Planned,
    now: DateTime<Utc>,
    public_url: &str,
    delivery: &str,
) -> WebhookEvent {
    WebhookEvent {
        event: format!("deadline.{}", p.key.kind.code()),
        report_id: p.key.report.0,
        org_id: p.org.0,
        stage: p.key.stage.code(),
        stage_ja: p.key.stage.label_ja(),
        due_at: p.due.to_rfc3339_opts(SecondsFormat::Secs, true),
        due_at_ja: format!("{}（日本時間）", when_ja(p.due)),
        url: report_url(public_url, p),
        sent_at: now.to_rfc3339_opts(SecondsFormat::Secs, true),
        reminder: format!(
            "{}:{}:{}",
            p.key.report,
            p.key.stage.code(),
            p.key.kind.code()
        ),
        delivery: delivery.to_owned(),
    }
}
