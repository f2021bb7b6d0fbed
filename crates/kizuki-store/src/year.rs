//! Records of a survey year beyond its content: the operators' cooperation with each selected
//! case (asked, then agreed or declined, kept as an append-only history), and the published
//! editions of the annual report, each kept whole so an earlier one stays downloadable.

use chrono::{DateTime, NaiveDate, Utc};
use kizuki_domain::ids::{CaseId, UserId};
use serde::{Deserialize, Serialize};

/// Where an operator stands on a selected case of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CooperationStatus {
    /// The centre has asked the operator to cooperate (interview, review, sign-off).
    Requested,
    Agreed,
    /// The case leaves the survey; a replacement is offered.
    Declined,
}

impl CooperationStatus {
    pub const ALL: [CooperationStatus; 3] = [
        CooperationStatus::Requested,
        CooperationStatus::Agreed,
        CooperationStatus::Declined,
    ];

    pub fn code(self) -> &'static str {
        match self {
            CooperationStatus::Requested => "requested",
            CooperationStatus::Agreed => "agreed",
            CooperationStatus::Declined => "declined",
        }
    }

    pub fn parse(s: &str) -> Option<CooperationStatus> {
        CooperationStatus::ALL.into_iter().find(|c| c.code() == s)
    }
}

/// One entry of a case's cooperation history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CooperationRecord {
    pub case_id: CaseId,
    /// 1 for the first entry of the case, counting up.
    pub seq: u32,
    pub status: CooperationStatus,
    /// The day the request was made or the answer given (as the operator said it).
    pub on: NaiveDate,
    /// Who at the operator was asked or answered (name, department, phone or e-mail).
    pub contact: String,
    /// Why, above all for a decline.
    pub reason: String,
    pub by: Option<UserId>,
    pub at: DateTime<Utc>,
}

/// An entry to append; `expected_seq` is how many entries the writer saw (a different count
/// is [`crate::StoreError::Conflict`] with [`crate::Current::Version`] of the real count).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCooperation {
    pub case_id: CaseId,
    pub expected_seq: u32,
    pub status: CooperationStatus,
    pub on: NaiveDate,
    pub contact: String,
    pub reason: String,
    pub by: Option<UserId>,
    pub at: DateTime<Utc>,
}

/// A published edition of a survey's annual report: everything it was rendered from, as JSON
/// stored byte for byte, so it renders the same later whatever the cases became.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edition {
    pub survey_year: i32,
    /// 1 for the year's first edition, counting up.
    pub number: u32,
    pub snapshot: String,
    pub published_by: UserId,
    pub published_at: DateTime<Utc>,
}

/// An edition to publish; it is numbered after the year's last one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEdition {
    pub survey_year: i32,
    pub snapshot: String,
    pub by: UserId,
    pub at: DateTime<Utc>,
}
