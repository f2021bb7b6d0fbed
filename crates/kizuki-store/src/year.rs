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

/// Whether `got` counts 1, 2, 3… as an append-only numbering must.
fn counts_up(got: &[u32]) -> bool {
    got.iter().zip(1u32..).all(|(&n, want)| n == want)
}

impl crate::Problem {
    /// What is wrong with a case's stored cooperation history, the same in every backend: its
    /// entries are numbered 1, 2, 3… (an entry missing means one was removed by hand).
    /// `restore` is the backend's advice for damage a restore repairs.
    pub fn of_cooperation(
        case: CaseId,
        history: &[CooperationRecord],
        restore: &str,
    ) -> Vec<crate::Problem> {
        let seqs: Vec<u32> = history.iter().map(|r| r.seq).collect();
        if counts_up(&seqs) && history.iter().all(|r| r.case_id == case) {
            return Vec::new();
        }
        vec![crate::Problem {
            what: format!("case {case} cooperation entries are numbered {seqs:?}"),
            fix: restore.to_owned(),
        }]
    }

    /// What is wrong with a survey's stored editions: they are numbered 1, 2, 3… (a number
    /// missing means a published edition was removed by hand).
    pub fn of_editions(
        survey_year: i32,
        editions: &[Edition],
        restore: &str,
    ) -> Vec<crate::Problem> {
        let numbers: Vec<u32> = editions.iter().map(|e| e.number).collect();
        if counts_up(&numbers) && editions.iter().all(|e| e.survey_year == survey_year) {
            return Vec::new();
        }
        vec![crate::Problem {
            what: format!("survey {survey_year} editions are numbered {numbers:?}"),
            fix: restore.to_owned(),
        }]
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test stops at the line that failed")]

    use super::*;
    use chrono::TimeZone;

    fn edition(number: u32) -> Edition {
        Edition {
            survey_year: 2019,
            number,
            snapshot: "{}".into(),
            published_by: UserId(1),
            published_at: Utc.with_ymd_and_hms(2020, 3, 1, 0, 0, 0).unwrap(),
        }
    }

    #[test]
    fn editions_must_count_up_from_one() {
        assert!(crate::Problem::of_editions(2019, &[], "r").is_empty());
        assert!(crate::Problem::of_editions(2019, &[edition(1), edition(2)], "r").is_empty());
        let gap = crate::Problem::of_editions(2019, &[edition(1), edition(3)], "r");
        assert_eq!(gap.len(), 1);
        assert!(gap[0].what.contains("[1, 3]"), "{gap:?}");
        assert_eq!(
            crate::Problem::of_editions(2019, &[edition(2)], "r").len(),
            1
        );
        assert_eq!(
            crate::Problem::of_editions(2020, &[edition(1)], "r").len(),
            1,
            "another year's edition"
        );
    }
}
