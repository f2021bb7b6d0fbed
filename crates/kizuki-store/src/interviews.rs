//! Interviews with the operators of selected cases as stored: the interview record (request,
//! answers, minutes with consent) as one versioned document, the written questions each with
//! its own version so the operator's drafts never collide with the minutes, the attachments
//! the operator provides (bytes in the database, so a backup carries them), the question
//! templates centre editors keep per case category, and the claims that make each interview
//! e-mail go out once across nodes and restarts.

use chrono::{DateTime, NaiveDate, Utc};
use kizuki_domain::ids::{CaseId, InterviewId, UserId};
use kizuki_domain::interview::{InterviewBody, Part};
use serde::{Deserialize, Serialize};

/// An interview as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interview {
    pub id: InterviewId,
    pub case_id: CaseId,
    /// 1 when created; every update adds one.
    pub version: i64,
    pub body: InterviewBody,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub updated_by: UserId,
    pub updated_at: DateTime<Utc>,
}

/// Where a written answer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerState {
    /// Nothing written yet.
    Open,
    /// Saved by the operator, not yet given to the centre.
    Draft,
    /// Given to the centre.
    Submitted,
}

impl AnswerState {
    pub const ALL: [AnswerState; 3] = [
        AnswerState::Open,
        AnswerState::Draft,
        AnswerState::Submitted,
    ];

    pub fn code(self) -> &'static str {
        match self {
            AnswerState::Open => "open",
            AnswerState::Draft => "draft",
            AnswerState::Submitted => "submitted",
        }
    }

    pub fn parse(s: &str) -> Option<AnswerState> {
        AnswerState::ALL.into_iter().find(|a| a.code() == s)
    }
}

/// A question sent ahead of (or after) an interview, answered in writing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    pub id: i64,
    pub interview_id: InterviewId,
    /// 1, 2, 3… in the order the questions were added.
    pub position: u32,
    pub part: Part,
    pub text: String,
    pub due: Option<NaiveDate>,
    pub answer: String,
    pub state: AnswerState,
    /// 1 when added; every saved answer adds one.
    pub version: i64,
    pub answered_by: Option<UserId>,
    pub answered_at: Option<DateTime<Utc>>,
}

/// A question to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewQuestion {
    pub part: Part,
    pub text: String,
    pub due: Option<NaiveDate>,
}

/// A written answer to save, against the version the writer saw (a different one is
/// [`crate::StoreError::Conflict`] with [`crate::Current::Version`]). A submitted answer
/// cannot be changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveAnswer {
    pub question: i64,
    pub expected_version: i64,
    pub answer: String,
    pub submit: bool,
    pub by: UserId,
    pub at: DateTime<Utc>,
}

/// What is known of an attachment without its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub id: i64,
    pub interview_id: InterviewId,
    /// As the uploader named it (shown, and offered as the download's name).
    pub filename: String,
    /// Sniffed from the content, never taken from the uploader.
    pub media_type: String,
    pub size: u64,
    /// Lower-case hex SHA-256 of the content.
    pub sha256: String,
    pub uploaded_by: UserId,
    pub uploaded_at: DateTime<Utc>,
}

/// An attachment to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttachment {
    pub interview_id: InterviewId,
    pub filename: String,
    pub media_type: String,
    pub sha256: String,
    pub content: Vec<u8>,
    pub by: UserId,
    pub at: DateTime<Utc>,
}

/// A centre editor's question template for one case category, as TOML text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuestionTemplate {
    /// The case category's code (`system-failure`, …).
    pub category: String,
    pub body: String,
    /// 1 when first saved; every save adds one.
    pub version: i64,
    pub updated_by: UserId,
    pub updated_at: DateTime<Utc>,
}

/// What makes a notice one notice: what it is about (an interview, a follow-up item) and
/// its subject (`request-3` for an interview request sent at version 3,
/// `due_soon-2020-02-10`, …).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NoticeKey {
    pub of: NoticeOf,
    pub subject: String,
}

/// The record a notice belongs to. Each kind keeps its notices in its own table, whose rows
/// go with the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum NoticeOf {
    Interview(InterviewId),
    FollowUp(kizuki_domain::ids::FollowUpId),
}

impl NoticeOf {
    /// The table holding this kind's notices and the column naming the record: fixed names,
    /// safe to put into SQL text.
    pub fn table(self) -> (&'static str, &'static str) {
        match self {
            NoticeOf::Interview(_) => ("interview_notices", "interview_id"),
            NoticeOf::FollowUp(_) => ("followup_notices", "item_id"),
        }
    }

    /// The record's id.
    pub fn id(self) -> i64 {
        match self {
            NoticeOf::Interview(i) => i.0,
            NoticeOf::FollowUp(f) => f.0,
        }
    }

    /// The same kind of record with id `id`, as read back from its table.
    pub fn with_id(self, id: i64) -> NoticeOf {
        match self {
            NoticeOf::Interview(_) => NoticeOf::Interview(InterviewId(id)),
            NoticeOf::FollowUp(_) => NoticeOf::FollowUp(kizuki_domain::ids::FollowUpId(id)),
        }
    }
}

/// A request to claim a notice, with the same lease rules as a stage-deadline reminder
/// ([`crate::ReminderClaim`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeClaim {
    pub key: NoticeKey,
    pub token: String,
    pub now: DateTime<Utc>,
    pub lease_until: DateTime<Utc>,
    pub max_attempts: u32,
}

/// A notice as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeRecord {
    pub key: NoticeKey,
    pub attempts: u32,
    pub lease_until: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}
