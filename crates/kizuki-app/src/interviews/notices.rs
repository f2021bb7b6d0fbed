//! Interview e-mails through the reminder machinery's SMTP path: the request to the
//! operator's administrators when it is sent (or sent again), and "due soon" / "overdue" to
//! the operator's staff for written questions not yet submitted. Each is claimed in the store
//! before it goes out, so it is sent once across nodes and restarts, and a failed delivery is
//! retried later with the same lease and back-off as a stage reminder.

use crate::App;
use crate::error::AppResult;
use crate::notify::{NotifyConfig, RunSummary, smtp};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use kizuki_domain::clock::jst;
use kizuki_domain::interview::Status;
use kizuki_domain::user::{Email, Role, User};
use kizuki_store::{AnswerState, Interview, NoticeClaim, NoticeKey, NoticeOf};
use std::collections::BTreeSet;

/// One e-mail to send about an interview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub key: NoticeKey,
    pub to: Vec<Email>,
    pub subject: String,
    pub body: String,
}

/// The end of a due day, Japan time: a question due on the 10th is late from the 11th.
pub(crate) fn end_of(day: NaiveDate) -> DateTime<Utc> {
    let midnight = day
        .succ_opt()
        .unwrap_or(day)
        .and_time(chrono::NaiveTime::MIN);
    (midnight - TimeDelta::seconds(i64::from(jst().local_minus_utc()))).and_utc()
}

pub(crate) fn recipients(
    users: &[User],
    org: kizuki_domain::ids::OrgId,
    admins_only: bool,
) -> Vec<Email> {
    let mut v: Vec<Email> = users
        .iter()
        .filter(|u| u.active && u.user.org_id == org)
        .filter(|u| {
            u.user.role == Role::OperatorAdmin || (!admins_only && u.user.role == Role::Reporter)
        })
        .map(|u| u.user.email.clone())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// What is due for interview `i` now (pure but for its inputs): the request while it awaits
/// an answer, and per due date of unsubmitted questions a "due soon" within `lead` of the end
/// of the day and an "overdue" for `overdue_window` after it.
#[allow(
    clippy::too_many_arguments,
    reason = "a pure planner takes everything it looks at"
)]
pub fn plan(
    i: &Interview,
    case_label: &str,
    open_due: &[NaiveDate],
    users: &[User],
    org: kizuki_domain::ids::OrgId,
    now: DateTime<Utc>,
    lead: TimeDelta,
    overdue_window: TimeDelta,
    public_url: &str,
) -> Vec<Notice> {
    let link = format!("{}/interviews/{}", public_url.trim_end_matches('/'), i.id);
    let mut out = Vec::new();
    if i.body.status() == Status::Requested {
        let r = &i.body.request;
        let dates: Vec<String> = r
            .proposed
            .iter()
            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .collect();
        out.push(Notice {
            key: NoticeKey {
                of: NoticeOf::Interview(i.id),
                subject: format!("request-{}", r.round),
            },
            to: recipients(users, org, true),
            subject: format!("【kizuki】ヒアリングのお願い（{case_label}）"),
            body: format!(
                "{case_label}について、ヒアリングをお願いします。\n\n形式: {}\n候補日時: {}\n場所・接続先: {}\n出席者（センター）: {}\n{}\n\n受諾・日程の再提案・辞退は次の画面からお答えください。\n{link}\n\n-- \nWe ask for an interview about {case_label}; please answer at the link above.\n",
                r.mode.label_ja(),
                dates.join("、"),
                r.place,
                r.attendees,
                r.note,
            ),
        });
    }
    let mut days: Vec<NaiveDate> = open_due.to_vec();
    days.sort_unstable();
    days.dedup();
    for day in days {
        let end = end_of(day);
        let (kind, ja) = if now >= end {
            if now - end > overdue_window {
                continue;
            }
            ("overdue", "期限を過ぎています")
        } else if end - now <= lead {
            ("due_soon", "期限が近づいています")
        } else {
            continue;
        };
        out.push(Notice {
            key: NoticeKey {
                of: NoticeOf::Interview(i.id),
                subject: format!("{kind}-{day}"),
            },
            to: recipients(users, org, false),
            subject: format!("【kizuki】ヒアリングの質問への回答: {ja}（{case_label}）"),
            body: format!(
                "{case_label}のヒアリングで、{day}が期限の質問にまだ回答が提出されていません（{ja}）。\n下書きは保存されています。次の画面から回答を提出してください。\n{link}\n\n-- \nWritten answers due {day} are not yet submitted.\n"
            ),
        });
    }
    out.retain(|n| !n.to.is_empty());
    out
}

/// One pass over the interviews: plan, claim, send, record. Nothing happens without SMTP.
pub async fn run_once(app: &App, cfg: &NotifyConfig, public_url: &str) -> AppResult<RunSummary> {
    if cfg.smtp.is_none() {
        return Ok(RunSummary::default());
    }
    let settings = &cfg.reminders;
    let interviews = app.store.list_interviews(None).await?;
    if interviews.is_empty() {
        return Ok(RunSummary::default());
    }
    let users = app.store.list_users().await?;
    let mut planned = Vec::new();
    for i in &interviews {
        let c = app.store.get_case(i.case_id).await?;
        let Some(report) = c.report_id else { continue };
        let org = app.store.get_report(report).await?.org_id;
        let open: Vec<NaiveDate> = app
            .store
            .questions(i.id)
            .await?
            .iter()
            .filter(|q| q.state != AnswerState::Submitted)
            .filter_map(|q| q.due)
            .collect();
        let label = match c.survey_year {
            Some(y) => format!("{y}年度 事例{}", c.content.number),
            None => format!("事例{}", c.content.number),
        };
        planned.extend(plan(
            i,
            &label,
            &open,
            &users,
            org,
            app.clock.now(),
            settings.lead,
            settings.overdue_window,
            public_url,
        ));
    }
    let mut records = Vec::new();
    for i in &interviews {
        records.extend(app.store.notices(NoticeOf::Interview(i.id)).await?);
    }
    send_all(app, cfg, planned, &records).await
}

/// Claims, sends and records each planned notice that `records` (what the store holds of
/// them) does not show as sent, given up or held. Store errors end the pass; a failed
/// delivery is handed back for a later one.
pub(crate) async fn send_all(
    app: &App,
    cfg: &NotifyConfig,
    mut planned: Vec<Notice>,
    records: &[kizuki_store::NoticeRecord],
) -> AppResult<RunSummary> {
    let mut summary = RunSummary::default();
    let Some(smtp_cfg) = &cfg.smtp else {
        return Ok(summary);
    };
    let settings = &cfg.reminders;
    // Sent, given up or held: nothing to claim now.
    let now = app.clock.now();
    let settled: BTreeSet<&NoticeKey> = records
        .iter()
        .filter(|rec| {
            rec.sent_at.is_some() || rec.attempts >= settings.max_attempts || rec.lease_until > now
        })
        .map(|rec| &rec.key)
        .collect();
    planned.retain(|n| !settled.contains(&n.key));
    summary.planned = planned.len();
    for n in planned {
        let now = app.clock.now();
        let token = crate::notify::token(app);
        let claim = NoticeClaim {
            key: n.key.clone(),
            token: token.clone(),
            now,
            lease_until: now + settings.lease,
            max_attempts: settings.max_attempts,
        };
        if !app.store.claim_notice(&claim).await? {
            summary.not_claimed += 1;
            continue;
        }
        let sent =
            match smtp::build_message(&smtp_cfg.from, &n.to, &n.subject, &n.body, now, &token) {
                Ok(msg) => smtp::send(smtp_cfg, &msg).await,
                Err(e) => Err(e),
            };
        match sent {
            Ok(()) => {
                app.store
                    .notice_sent(&n.key, &token, app.clock.now())
                    .await?;
                summary.sent += 1;
                tracing::info!(of = ?n.key.of, subject = %n.key.subject, "notice sent");
            }
            Err(e) => {
                summary.failed += 1;
                let retry_at = app.clock.now() + settings.retry;
                tracing::warn!(of = ?n.key.of, subject = %n.key.subject,
                    error = %e, "notice not delivered; will retry");
                app.store
                    .release_notice(&n.key, &token, retry_at, &e.to_string())
                    .await?;
            }
        }
    }
    Ok(summary)
}
