//! How operators take lessons up: an organisation's self-assessment per lesson theme, the
//! adoption figures drawn from them per sector (with the rule that keeps a small group's
//! answers from being read off a figure), and the follow-up items an operator keeps for a
//! case's countermeasures (再発に備えた対策).

use crate::error::{FieldError, FieldErrorKind, ValidationErrors, text};
use crate::lessons::ThemeKey;
use crate::taxonomy::{Code, Lang};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where an organisation stands on a theme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    InPlace,
    InProgress,
    NotStarted,
    NotApplicable,
}

impl Standing {
    pub const ALL: [Standing; 4] = [
        Standing::InPlace,
        Standing::InProgress,
        Standing::NotStarted,
        Standing::NotApplicable,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Standing::InPlace => "in_place",
            Standing::InProgress => "in_progress",
            Standing::NotStarted => "not_started",
            Standing::NotApplicable => "not_applicable",
        }
    }

    pub fn parse(s: &str) -> Option<Standing> {
        Standing::ALL.into_iter().find(|k| k.code() == s.trim())
    }

    pub fn label(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Standing::InPlace, Lang::Ja) => "実施済み",
            (Standing::InProgress, Lang::Ja) => "対応中",
            (Standing::NotStarted, Lang::Ja) => "未着手",
            (Standing::NotApplicable, Lang::Ja) => "該当なし",
            (Standing::InPlace, Lang::En) => "In place",
            (Standing::InProgress, Lang::En) => "In progress",
            (Standing::NotStarted, Lang::En) => "Not started",
            (Standing::NotApplicable, Lang::En) => "Not applicable",
        }
    }
}

/// The longest note to a self-assessment or a follow-up's evidence.
const MAX_NOTE: usize = 2000;

/// One answer of a self-assessment: where the organisation stands on a theme, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assessment {
    pub theme: ThemeKey,
    pub standing: Standing,
    pub note: String,
}

/// A self-assessment answer as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssessmentInput {
    #[serde(default)]
    pub theme: String,
    #[serde(default)]
    pub standing: String,
    #[serde(default)]
    pub note: String,
}

impl AssessmentInput {
    pub fn parse(&self) -> Result<Assessment, ValidationErrors> {
        let mut errs = ValidationErrors::default();
        let theme = ThemeKey::parse(&self.theme)
            .map_err(|e| errs.push(FieldError::new("theme", e.kind)))
            .ok();
        let standing = if self.standing.trim().is_empty() {
            errs.push(FieldError::required("standing"));
            None
        } else {
            let s = Standing::parse(&self.standing);
            if s.is_none() {
                errs.push(FieldError::new(
                    "standing",
                    FieldErrorKind::UnknownCode {
                        code: self.standing.trim().to_owned(),
                    },
                ));
            }
            s
        };
        let note = text(&mut errs, "note", &self.note, false, MAX_NOTE);
        match (theme, standing) {
            (Some(theme), Some(standing)) if errs.is_empty() => Ok(Assessment {
                theme,
                standing,
                note,
            }),
            _ => Err(errs),
        }
    }
}

/// Adoption figures from fewer organisations than this are shown only to the centre: a
/// figure from a handful of answers lets a reader guess which operator said what.
pub const MIN_ORGS_SHOWN: usize = 5;

/// The answers of one sector on one theme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdoptionCell {
    pub sector: Code,
    pub theme: String,
    /// Organisations of the sector that answered for this theme.
    pub answered: usize,
    /// Active operators of the sector.
    pub organisations: usize,
    /// Answers by standing, in [`Standing::ALL`] order; empty when suppressed.
    pub counts: Vec<(Standing, usize)>,
    /// The share in place among those for which the theme applies, in percent; `None` when
    /// suppressed or when no answer applies.
    pub in_place_percent: Option<u32>,
    /// True when the figures are withheld from this viewer because they would be drawn from
    /// fewer than [`MIN_ORGS_SHOWN`] organisations.
    pub suppressed: bool,
}

/// Adoption per sector and theme from the latest answers (`(sector, theme, standing)` per
/// organisation and theme) and the number of operators per sector. Every sector in
/// `organisations` gets a cell for every theme. With `small_groups` false, a cell drawn from
/// fewer than [`MIN_ORGS_SHOWN`] organisations — answers, or operators in the sector — keeps
/// only its sector and theme.
pub fn adoption(
    answers: &[(Code, String, Standing)],
    organisations: &BTreeMap<Code, usize>,
    themes: &[String],
    small_groups: bool,
) -> Vec<AdoptionCell> {
    let mut tally: BTreeMap<(&Code, &str), BTreeMap<Standing, usize>> = BTreeMap::new();
    for (sector, theme, standing) in answers {
        *tally
            .entry((sector, theme.as_str()))
            .or_default()
            .entry(*standing)
            .or_default() += 1;
    }
    let mut out = Vec::new();
    for (sector, &orgs) in organisations {
        for theme in themes {
            let counts = tally.get(&(sector, theme.as_str()));
            let answered: usize = counts.map(|c| c.values().sum()).unwrap_or(0);
            let suppressed = !small_groups && (answered < MIN_ORGS_SHOWN || orgs < MIN_ORGS_SHOWN);
            let mut cell = AdoptionCell {
                sector: sector.clone(),
                theme: theme.clone(),
                answered: if suppressed { 0 } else { answered },
                organisations: if suppressed { 0 } else { orgs },
                counts: Vec::new(),
                in_place_percent: None,
                suppressed,
            };
            if !suppressed {
                let n = |s: Standing| counts.and_then(|c| c.get(&s)).copied().unwrap_or(0);
                cell.counts = Standing::ALL.into_iter().map(|s| (s, n(s))).collect();
                let applies = answered - n(Standing::NotApplicable);
                cell.in_place_percent = (applies > 0)
                    .then(|| u32::try_from(n(Standing::InPlace) * 100 / applies).unwrap_or(100));
            }
            out.push(cell);
        }
    }
    out
}

/// Where a follow-up item of a countermeasure stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FollowStatus {
    Planned,
    InProgress,
    Done,
    /// Decided against, with the reason in the evidence note.
    Dropped,
}

impl FollowStatus {
    pub const ALL: [FollowStatus; 4] = [
        FollowStatus::Planned,
        FollowStatus::InProgress,
        FollowStatus::Done,
        FollowStatus::Dropped,
    ];

    pub fn code(self) -> &'static str {
        match self {
            FollowStatus::Planned => "planned",
            FollowStatus::InProgress => "in_progress",
            FollowStatus::Done => "done",
            FollowStatus::Dropped => "dropped",
        }
    }

    pub fn parse(s: &str) -> Option<FollowStatus> {
        FollowStatus::ALL.into_iter().find(|k| k.code() == s.trim())
    }

    pub fn label(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (FollowStatus::Planned, Lang::Ja) => "未着手",
            (FollowStatus::InProgress, Lang::Ja) => "対応中",
            (FollowStatus::Done, Lang::Ja) => "完了",
            (FollowStatus::Dropped, Lang::Ja) => "見送り",
            (FollowStatus::Planned, Lang::En) => "Planned",
            (FollowStatus::InProgress, Lang::En) => "In progress",
            (FollowStatus::Done, Lang::En) => "Done",
            (FollowStatus::Dropped, Lang::En) => "Dropped",
        }
    }

    /// Done or dropped: nothing more is owed, so no reminder goes out.
    pub fn is_closed(self) -> bool {
        matches!(self, FollowStatus::Done | FollowStatus::Dropped)
    }
}

/// The longest owner name.
const MAX_OWNER: usize = 120;

/// A follow-up item: what an operator does about one countermeasure of a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUp {
    /// The countermeasure as the case stated it when the item was made.
    pub measure: String,
    /// Who in the organisation answers for it: a name or an address.
    pub owner: String,
    pub due: Option<NaiveDate>,
    pub status: FollowStatus,
    /// What shows it is done (or why it was dropped).
    pub evidence: String,
}

impl FollowUp {
    /// Past its due date (the whole due day counts) and not closed.
    pub fn overdue_on(&self, today: NaiveDate) -> bool {
        !self.status.is_closed() && self.due.is_some_and(|d| d < today)
    }
}

/// A follow-up item's editable fields as typed. The due date is read in any form
/// [`crate::wareki::parse_date`] knows (2020-03-31, 令和2年3月31日, R2.3.31).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUpInput {
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub due: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub evidence: String,
}

impl FollowUpInput {
    /// The item for `measure`, or every field at fault. A done item must say what shows it.
    pub fn parse(&self, measure: &str) -> Result<FollowUp, ValidationErrors> {
        let mut errs = ValidationErrors::default();
        let owner = text(&mut errs, "owner", &self.owner, true, MAX_OWNER);
        let due = if self.due.trim().is_empty() {
            None
        } else {
            match crate::wareki::parse_date_strict(&self.due) {
                Ok(d) => Some(d),
                Err(e) => {
                    errs.push(FieldError::invalid("due", e.to_string()));
                    None
                }
            }
        };
        let status = if self.status.trim().is_empty() {
            Some(FollowStatus::Planned)
        } else {
            let s = FollowStatus::parse(&self.status);
            if s.is_none() {
                errs.push(FieldError::new(
                    "status",
                    FieldErrorKind::UnknownCode {
                        code: self.status.trim().to_owned(),
                    },
                ));
            }
            s
        };
        let evidence = text(&mut errs, "evidence", &self.evidence, false, MAX_NOTE);
        if status.is_some_and(FollowStatus::is_closed) && evidence.is_empty() {
            errs.push(FieldError::required("evidence"));
        }
        match status {
            Some(status) if errs.is_empty() => Ok(FollowUp {
                measure: measure.trim().to_owned(),
                owner,
                due,
                status,
                evidence,
            }),
            _ => Err(errs),
        }
    }

    /// The form filled with a stored item.
    pub fn of(f: &FollowUp) -> FollowUpInput {
        FollowUpInput {
            owner: f.owner.clone(),
            due: f.due.map(|d| d.to_string()).unwrap_or_default(),
            status: f.status.code().to_owned(),
            evidence: f.evidence.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> Code {
        Code(s.to_owned())
    }

    #[test]
    fn an_answer_names_each_field_at_fault() {
        let errs = AssessmentInput {
            theme: "Bad Key".into(),
            standing: "perhaps".into(),
            note: "x".repeat(MAX_NOTE + 1),
        }
        .parse()
        .unwrap_err();
        for f in ["theme", "standing", "note"] {
            assert!(errs.for_field(f).is_some(), "{f}: {errs}");
        }
        let ok = AssessmentInput {
            theme: "mfa".into(),
            standing: "in_progress".into(),
            note: "  VPN から順に ".into(),
        }
        .parse()
        .unwrap();
        assert_eq!(ok.standing, Standing::InProgress);
        assert_eq!(ok.note, "VPN から順に");
    }

    #[test]
    fn small_groups_are_withheld_outside_the_centre() {
        let theme = "mfa".to_owned();
        let answers: Vec<(Code, String, Standing)> = [
            Standing::InPlace,
            Standing::InPlace,
            Standing::NotStarted,
            Standing::NotApplicable,
        ]
        .into_iter()
        .map(|s| (code("finance"), theme.clone(), s))
        .collect();
        let orgs = BTreeMap::from([(code("finance"), 4)]);
        let centre = adoption(&answers, &orgs, std::slice::from_ref(&theme), true);
        assert_eq!(centre[0].answered, 4);
        // Two of the three for which the theme applies.
        assert_eq!(centre[0].in_place_percent, Some(66));
        assert!(!centre[0].suppressed);
        let outside = adoption(&answers, &orgs, std::slice::from_ref(&theme), false);
        assert!(outside[0].suppressed);
        assert_eq!(outside[0].answered, 0);
        assert!(outside[0].counts.is_empty());
        assert_eq!(outside[0].in_place_percent, None);

        // Five answers from a sector of five are shown to everyone.
        let mut five = answers.clone();
        five.push((code("finance"), theme.clone(), Standing::InProgress));
        let orgs = BTreeMap::from([(code("finance"), 5)]);
        let shown = adoption(&five, &orgs, std::slice::from_ref(&theme), false);
        assert!(!shown[0].suppressed);
        assert_eq!(shown[0].answered, 5);
        assert_eq!(shown[0].counts[0], (Standing::InPlace, 2));
    }

    #[test]
    fn a_closed_item_needs_its_evidence_and_a_due_date_may_be_wareki() {
        let input = FollowUpInput {
            owner: "情報システム部 佐藤".into(),
            due: "令和2年3月31日".into(),
            status: "done".into(),
            evidence: String::new(),
        };
        let errs = input.parse("手順書を改訂する").unwrap_err();
        assert!(errs.for_field("evidence").is_some());
        let item = FollowUpInput {
            evidence: "改訂版 v2 を配布".into(),
            ..input
        }
        .parse("手順書を改訂する")
        .unwrap();
        assert_eq!(item.due, NaiveDate::from_ymd_opt(2020, 3, 31));
        assert!(!item.overdue_on(NaiveDate::from_ymd_opt(2021, 1, 1).unwrap()));
        let open = FollowUp {
            status: FollowStatus::InProgress,
            ..item
        };
        assert!(!open.overdue_on(NaiveDate::from_ymd_opt(2020, 3, 31).unwrap()));
        assert!(open.overdue_on(NaiveDate::from_ymd_opt(2020, 4, 1).unwrap()));
        let bad = FollowUpInput {
            due: "来週".into(),
            status: "someday".into(),
            ..FollowUpInput::default()
        }
        .parse("m")
        .unwrap_err();
        for f in ["owner", "due", "status"] {
            assert!(bad.for_field(f).is_some(), "{f}: {bad}");
        }
    }
}
