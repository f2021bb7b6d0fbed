//! An annual supplementary survey (補完調査): its period, purpose, method, selection criteria,
//! ordered cases and the common lessons drawn across them.

use crate::error::{FieldError, FieldErrorKind, ValidationErrors, text};
use crate::fiscal::FiscalYear;
use crate::taxonomy::{Code, Taxonomy, Vocabulary};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// A selection criterion (選定基準) with its weight for ranking candidates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Criterion {
    pub key: String,
    pub label: String,
    pub label_en: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Main criteria are listed first in the report; the others are "also considered".
    pub main: bool,
    pub weight: f64,
}

/// A lesson common to several cases, for one case category, citing the cases it draws on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommonLesson {
    /// A short heading; lessons imported from the 2019 files have none and are shown under
    /// their category alone.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    pub category: Code,
    pub text: String,
    pub cases: Vec<u32>,
}

/// A survey's own content (everything but its cases, which are stored one by one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SurveyContent {
    pub fiscal_year: FiscalYear,
    pub title: String,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    /// 調査の目的
    pub purpose: String,
    /// 調査の運営
    pub method: String,
    /// Lead-in sentence of the selection criteria section.
    pub criteria_intro: String,
    pub criteria: Vec<Criterion>,
    /// Remarks under the overview table (why these cases, what was asked).
    #[serde(default)]
    pub remarks: Vec<String>,
    pub common_lessons: Vec<CommonLesson>,
}

/// A stored survey.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Survey {
    pub version: i64,
    pub content: SurveyContent,
}

impl SurveyContent {
    /// Checks the survey on its own and against the numbers of its cases.
    pub fn parse(
        self,
        tx: &Taxonomy,
        case_numbers: &[u32],
    ) -> Result<SurveyContent, ValidationErrors> {
        let mut errs = ValidationErrors::default();
        let title = text(&mut errs, "title", &self.title, true, 200);
        if self.period_end < self.period_start {
            errs.push(FieldError::invalid(
                "period_end",
                format!(
                    "the period ends ({}) before it starts ({})",
                    self.period_end, self.period_start
                ),
            ));
        }
        let purpose = text(&mut errs, "purpose", &self.purpose, true, 4000);
        let method = text(&mut errs, "method", &self.method, true, 4000);
        let criteria_intro = text(
            &mut errs,
            "criteria_intro",
            &self.criteria_intro,
            true,
            4000,
        );
        if self.criteria.is_empty() {
            errs.push(FieldError::required("criteria"));
        }
        let mut keys = HashSet::new();
        for (i, c) in self.criteria.iter().enumerate() {
            if c.key.trim().is_empty() {
                errs.push(FieldError::required(format!("criteria[{i}].key")));
            } else if !keys.insert(c.key.as_str()) {
                errs.push(FieldError::new(
                    format!("criteria[{i}].key"),
                    FieldErrorKind::Duplicate {
                        value: c.key.clone(),
                    },
                ));
            }
            text(
                &mut errs,
                &format!("criteria[{i}].label"),
                &c.label,
                true,
                200,
            );
            text(
                &mut errs,
                &format!("criteria[{i}].label_en"),
                &c.label_en,
                true,
                200,
            );
            if !(c.weight.is_finite() && (0.0..=10.0).contains(&c.weight)) {
                errs.push(FieldError::new(
                    format!("criteria[{i}].weight"),
                    FieldErrorKind::OutOfRange { min: 0, max: 10 },
                ));
            }
        }
        let known: HashSet<u32> = case_numbers.iter().copied().collect();
        for (i, l) in self.common_lessons.iter().enumerate() {
            let at = format!("common_lessons[{i}]");
            tx.check(
                &mut errs,
                &format!("{at}.category"),
                Vocabulary::CaseCategory,
                l.category.as_str(),
            );
            text(&mut errs, &format!("{at}.text"), &l.text, true, 2000);
            if l.cases.is_empty() {
                errs.push(FieldError::required(format!("{at}.cases")));
            }
            for (j, n) in l.cases.iter().enumerate() {
                if !known.contains(n) {
                    errs.push(FieldError::invalid(
                        format!("{at}.cases[{j}]"),
                        format!("the survey has no case number {n}"),
                    ));
                }
            }
        }
        errs.into_result(SurveyContent {
            title,
            purpose,
            method,
            criteria_intro,
            ..self
        })
    }

    pub fn in_period(&self, d: NaiveDate) -> bool {
        self.period_start <= d && d <= self.period_end
    }
}
