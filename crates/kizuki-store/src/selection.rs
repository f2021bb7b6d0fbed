//! Records of case selection: analysts' score overrides with their reasons, and saved
//! selections. A selection keeps its whole ranking and result as an opaque JSON snapshot, so a
//! confirmed decision is shown later exactly as it was decided, whatever the reports became.

use chrono::{DateTime, Utc};
use kizuki_domain::case::CaseContent;
use kizuki_domain::ids::{CaseId, ReportId, UserId};
use serde::{Deserialize, Serialize};

/// An analyst's score for one criterion of one candidate report of a survey. One per
/// (survey, report, criterion): putting another replaces it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreOverrideRecord {
    pub survey_year: i32,
    pub report_id: ReportId,
    pub key: String,
    /// 0..=3, checked by the application before it is stored.
    pub value: u8,
    pub reason: String,
    pub by: Option<UserId>,
    pub at: DateTime<Utc>,
}

/// A saved selection is a draft until confirmed; a survey has at most one confirmed selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SelectionStatus {
    Draft,
    Confirmed,
    /// Was confirmed, then reopened: kept as history, no longer the survey's decision.
    Reopened,
}

impl SelectionStatus {
    pub fn code(self) -> &'static str {
        match self {
            SelectionStatus::Draft => "draft",
            SelectionStatus::Confirmed => "confirmed",
            SelectionStatus::Reopened => "reopened",
        }
    }

    pub fn parse(s: &str) -> Option<SelectionStatus> {
        match s {
            "draft" => Some(SelectionStatus::Draft),
            "confirmed" => Some(SelectionStatus::Confirmed),
            "reopened" => Some(SelectionStatus::Reopened),
            _ => None,
        }
    }
}

/// One candidate of a saved selection, chosen or not, so queries need not open the snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelectionMember {
    pub report_id: ReportId,
    pub chosen: bool,
    /// The candidate's rank in the ranking (1 = highest total).
    pub rank: u32,
    /// The case category the selection counted it under, if any.
    pub category: Option<String>,
    /// The survey case this report became (or already was) when the selection was confirmed.
    pub case_id: Option<CaseId>,
}

/// A selection to save as a draft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSelection {
    pub survey_year: i32,
    /// The proposal as JSON (ranking, rules, overrides, result); stored byte for byte.
    pub snapshot: String,
    pub members: Vec<SelectionMember>,
    pub by: Option<UserId>,
    pub at: DateTime<Utc>,
}

/// A saved selection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSelection {
    pub id: i64,
    pub survey_year: i32,
    pub version: i64,
    pub status: SelectionStatus,
    pub snapshot: String,
    /// In rank order.
    pub members: Vec<SelectionMember>,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub confirmed_by: Option<UserId>,
    pub confirmed_at: Option<DateTime<Utc>>,
}

impl StoredSelection {
    /// The selection, if it is still at `expected_version` (else [`crate::StoreError::Conflict`]
    /// carrying it) and in `status` (else [`crate::StoreError::Invalid`]): what confirming and
    /// reopening check first, in every backend.
    pub fn checked(
        self,
        expected_version: i64,
        status: SelectionStatus,
    ) -> crate::StoreResult<StoredSelection> {
        if self.version != expected_version {
            return Err(crate::StoreError::Conflict {
                entity: "selection",
                current: crate::Current::Selection(Box::new(self)),
            });
        }
        if self.status != status {
            return Err(crate::StoreError::Invalid(format!(
                "selection {} is {}, not {}",
                self.id,
                self.status.code(),
                status.code()
            )));
        }
        Ok(self)
    }
}

/// A case draft to create when a selection is confirmed, for one chosen report. Chosen reports
/// without a draft keep the case they already have in the survey (the member records it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseDraft {
    pub report_id: ReportId,
    pub content: CaseContent,
}
