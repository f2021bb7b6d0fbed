//! Reminders: the records that make each stage-deadline reminder go out once per
//! report, stage, kind and channel, even with several app nodes on one database and across
//! restarts.
//!
//! A node *claims* a reminder before sending it. The claim is an insert-if-absent (or a
//! take-over of a lapsed claim) done in one statement, so of several nodes exactly one gets
//! it. A claim holds a lease: if the node dies between claiming and sending, the lease runs
//! out and another node may take the reminder over; a failed delivery hands the claim back
//! with a retry time. A sent reminder is never claimed again.

use chrono::{DateTime, Utc};
use kizuki_domain::ids::ReportId;
use kizuki_domain::report::StageKind;
use serde::{Deserialize, Serialize};

/// "Due soon" goes out a configured lead before the deadline, "overdue" once it has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReminderKind {
    DueSoon,
    Overdue,
}

impl ReminderKind {
    pub const ALL: [ReminderKind; 2] = [ReminderKind::DueSoon, ReminderKind::Overdue];

    pub fn code(self) -> &'static str {
        match self {
            ReminderKind::DueSoon => "due_soon",
            ReminderKind::Overdue => "overdue",
        }
    }

    pub fn parse(s: &str) -> Option<ReminderKind> {
        ReminderKind::ALL.into_iter().find(|k| k.code() == s)
    }
}

/// Where a reminder goes. Each channel is claimed on its own, so a webhook that fails does
/// not make the e-mails go out twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReminderChannel {
    /// E-mail to the reporting organisation's reporters and operator admins.
    MailOperator,
    /// E-mail to the centre's analysts (overdue only).
    MailCentre,
    /// The outbound webhook.
    Webhook,
}

impl ReminderChannel {
    pub const ALL: [ReminderChannel; 3] = [
        ReminderChannel::MailOperator,
        ReminderChannel::MailCentre,
        ReminderChannel::Webhook,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ReminderChannel::MailOperator => "mail_operator",
            ReminderChannel::MailCentre => "mail_centre",
            ReminderChannel::Webhook => "webhook",
        }
    }

    pub fn parse(s: &str) -> Option<ReminderChannel> {
        ReminderChannel::ALL.into_iter().find(|k| k.code() == s)
    }
}

/// What makes a reminder one reminder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReminderKey {
    pub report: ReportId,
    pub stage: StageKind,
    pub kind: ReminderKind,
    pub channel: ReminderChannel,
}

/// A request to claim a reminder. `token` identifies this attempt (random per claim), so only
/// the holder can mark it sent or hand it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderClaim {
    pub key: ReminderKey,
    pub token: String,
    pub now: DateTime<Utc>,
    /// Until when nobody else may take the claim over (now + the time a delivery may take).
    pub lease_until: DateTime<Utc>,
    /// A reminder already tried this many times is not claimed again.
    pub max_attempts: u32,
}

/// A reminder as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReminderRecord {
    pub key: ReminderKey,
    pub attempts: u32,
    pub claimed_at: DateTime<Utc>,
    pub lease_until: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    /// The last delivery failure, for `kizuki check` and the logs.
    pub last_error: Option<String>,
}

/// The order every backend returns reminders in: report, then stage (第一報, 続報, 最終報),
/// kind and channel. Done in Rust so it does not depend on a database's text collation.
pub fn sort_reminders(v: &mut [ReminderRecord]) {
    v.sort_by_key(|r| (r.key.report, r.key.stage as u8, r.key.kind, r.key.channel));
}
