//! Information reports (情報連絡) from operators: what happened, its classification and the
//! stages in which it was reported (第一報, 続報, 最終報).

use crate::error::{FieldError, FieldErrorKind, ValidationErrors, text};
use crate::ids::{CaseId, OrgId, ReportId, UserId};
use crate::taxonomy::{Code, Severity, Taxonomy, Tlp, Vocabulary};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageKind {
    /// 第一報
    First,
    /// 続報
    FollowUp,
    /// 最終報
    Final,
}

impl StageKind {
    pub const ALL: [StageKind; 3] = [StageKind::First, StageKind::FollowUp, StageKind::Final];

    pub fn code(self) -> &'static str {
        match self {
            StageKind::First => "first",
            StageKind::FollowUp => "follow_up",
            StageKind::Final => "final",
        }
    }

    pub fn label_ja(self) -> &'static str {
        match self {
            StageKind::First => "第一報",
            StageKind::FollowUp => "続報",
            StageKind::Final => "最終報",
        }
    }

    pub fn parse(s: &str) -> Option<StageKind> {
        StageKind::ALL
            .into_iter()
            .find(|k| k.code() == s.trim().replace('-', "_"))
    }
}

/// One stage of a report with its own timestamp.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stage {
    /// 1 for the first report, counting up.
    pub seq: u32,
    pub kind: StageKind,
    pub at: DateTime<Utc>,
    pub text: String,
    pub author: Option<UserId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportStatus {
    /// Filed, not yet looked at by the centre.
    New,
    /// Classified by an analyst.
    Triaged,
    /// Final report received and reviewed.
    Closed,
}

impl ReportStatus {
    pub const ALL: [ReportStatus; 3] = [
        ReportStatus::New,
        ReportStatus::Triaged,
        ReportStatus::Closed,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ReportStatus::New => "new",
            ReportStatus::Triaged => "triaged",
            ReportStatus::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<ReportStatus> {
        ReportStatus::ALL.into_iter().find(|k| k.code() == s.trim())
    }
}

/// Who and how much was affected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Impact {
    pub people_affected: Option<u64>,
    pub duration_minutes: Option<u64>,
    /// Whether there was actual harm to the service or around it (実害の有無).
    pub actual_harm: bool,
    pub description: String,
}

/// A system involved in the incident; `shared` marks a system several operators use
/// (共同利用型システム), which is how one failure shows up in several operators' reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemRef {
    pub name: String,
    #[serde(default)]
    pub vendor: Option<String>,
    #[serde(default)]
    pub shared: bool,
}

/// Everything about a report an operator or analyst can edit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportDetails {
    pub title: String,
    pub sector: Code,
    pub region: Option<Code>,
    pub affected_service: String,
    pub occurred_at: Option<DateTime<Utc>>,
    pub detected_at: Option<DateTime<Utc>>,
    pub event_type: Code,
    pub causes: Vec<Code>,
    /// Set at triage when the reporter could not say.
    pub severity: Option<Severity>,
    pub impact: Impact,
    pub systems: Vec<SystemRef>,
    pub vendors: Vec<String>,
    pub tlp: Tlp,
    pub summary: String,
}

impl ReportDetails {
    /// The 年度 the incident occurred in (JST), when the occurrence is known. The reporting
    /// date's 年度 counts reports; this one answers "what happened in that year".
    pub fn occurred_fiscal_year(&self) -> Option<i32> {
        self.occurred_at.map(crate::fiscal::year_of)
    }
}

/// A stored report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub id: ReportId,
    pub version: i64,
    pub org_id: OrgId,
    pub status: ReportStatus,
    /// When the first report reached the centre.
    pub reported_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub details: ReportDetails,
    pub stages: Vec<Stage>,
    pub case_id: Option<CaseId>,
}

impl Report {
    pub fn has_final(&self) -> bool {
        self.stages.iter().any(|s| s.kind == StageKind::Final)
    }
}

/// A report as typed in a form or sent to the API: loose strings, checked by [`ReportInput::parse`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReportInput {
    pub title: String,
    pub sector: String,
    pub region: String,
    pub affected_service: String,
    pub occurred_at: Option<DateTime<Utc>>,
    pub detected_at: Option<DateTime<Utc>>,
    pub event_type: String,
    pub causes: Vec<String>,
    pub severity: Option<i64>,
    pub people_affected: Option<i64>,
    pub duration_minutes: Option<i64>,
    pub actual_harm: bool,
    pub impact_description: String,
    pub systems: Vec<SystemRef>,
    pub vendors: Vec<String>,
    pub tlp: String,
    pub summary: String,
}

pub const MAX_TITLE: usize = 200;
pub const MAX_TEXT: usize = 20_000;

impl ReportInput {
    /// Parses a first report (only the essentials are required: title, sector, event type,
    /// summary; TLP defaults to AMBER, the usual label for a fresh incident) or an edit.
    pub fn parse(&self, tx: &Taxonomy) -> Result<ReportDetails, ValidationErrors> {
        let mut errs = ValidationErrors::default();
        let title = text(&mut errs, "title", &self.title, true, MAX_TITLE);
        let sector = tx.check(&mut errs, "sector", Vocabulary::Sector, &self.sector);
        let region = if self.region.trim().is_empty() {
            None
        } else {
            Some(tx.check(&mut errs, "region", Vocabulary::Region, &self.region))
        };
        let affected_service = text(
            &mut errs,
            "affected_service",
            &self.affected_service,
            false,
            MAX_TITLE,
        );
        let event_type = tx.check(
            &mut errs,
            "event_type",
            Vocabulary::EventType,
            &self.event_type,
        );
        let mut seen = HashSet::new();
        let mut causes = Vec::new();
        for (i, c) in self.causes.iter().enumerate() {
            if c.trim().is_empty() {
                continue;
            }
            let code = tx.check(&mut errs, &format!("causes[{i}]"), Vocabulary::Cause, c);
            if seen.insert(code.clone()) {
                causes.push(code);
            }
        }
        let severity = match self.severity {
            None => None,
            Some(v) => match u8::try_from(v).ok().map(Severity::new) {
                Some(Ok(s)) => Some(s),
                _ => {
                    errs.push(FieldError::new(
                        "severity",
                        FieldErrorKind::OutOfRange { min: 0, max: 4 },
                    ));
                    None
                }
            },
        };
        let people_affected = non_negative(&mut errs, "people_affected", self.people_affected);
        let duration_minutes = non_negative(&mut errs, "duration_minutes", self.duration_minutes);
        let description = text(
            &mut errs,
            "impact_description",
            &self.impact_description,
            false,
            MAX_TEXT,
        );
        if let (Some(o), Some(d)) = (self.occurred_at, self.detected_at)
            && d < o
        {
            errs.push(FieldError::invalid(
                "detected_at",
                "検知日時が発生日時より前になっています / detected before it occurred",
            ));
        }
        let mut systems = Vec::new();
        for (i, s) in self.systems.iter().enumerate() {
            let name = text(
                &mut errs,
                &format!("systems[{i}].name"),
                &s.name,
                false,
                MAX_TITLE,
            );
            if name.is_empty() {
                continue;
            }
            let vendor = s
                .vendor
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned);
            systems.push(SystemRef {
                name,
                vendor,
                shared: s.shared,
            });
        }
        let vendors = self
            .vendors
            .iter()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect();
        let tlp = if self.tlp.trim().is_empty() {
            Tlp::Amber
        } else {
            Tlp::parse(&self.tlp).unwrap_or_else(|| {
                errs.push(FieldError::new(
                    "tlp",
                    FieldErrorKind::UnknownCode {
                        code: self.tlp.clone(),
                    },
                ));
                Tlp::Amber
            })
        };
        let summary = text(&mut errs, "summary", &self.summary, true, MAX_TEXT);
        errs.into_result(ReportDetails {
            title,
            sector,
            region,
            affected_service,
            occurred_at: self.occurred_at,
            detected_at: self.detected_at,
            event_type,
            causes,
            severity,
            impact: Impact {
                people_affected,
                duration_minutes,
                actual_harm: self.actual_harm,
                description,
            },
            systems,
            vendors,
            tlp,
            summary,
        })
    }
}

impl From<&ReportDetails> for ReportInput {
    fn from(d: &ReportDetails) -> Self {
        ReportInput {
            title: d.title.clone(),
            sector: d.sector.0.clone(),
            region: d.region.as_ref().map(|r| r.0.clone()).unwrap_or_default(),
            affected_service: d.affected_service.clone(),
            occurred_at: d.occurred_at,
            detected_at: d.detected_at,
            event_type: d.event_type.0.clone(),
            causes: d.causes.iter().map(|c| c.0.clone()).collect(),
            severity: d.severity.map(|s| i64::from(s.level())),
            people_affected: d.impact.people_affected.and_then(|v| i64::try_from(v).ok()),
            duration_minutes: d
                .impact
                .duration_minutes
                .and_then(|v| i64::try_from(v).ok()),
            actual_harm: d.impact.actual_harm,
            impact_description: d.impact.description.clone(),
            systems: d.systems.clone(),
            vendors: d.vendors.clone(),
            tlp: d.tlp.code().to_owned(),
            summary: d.summary.clone(),
        }
    }
}

fn non_negative(errs: &mut ValidationErrors, field: &str, v: Option<i64>) -> Option<u64> {
    v.and_then(|n| match u64::try_from(n) {
        Ok(u) => Some(u),
        Err(_) => {
            errs.push(FieldError::new(
                field,
                FieldErrorKind::OutOfRange {
                    min: 0,
                    max: i64::MAX,
                },
            ));
            None
        }
    })
}

/// Text of a stage to append (続報 or 最終報).
pub fn parse_stage_text(s: &str) -> Result<String, ValidationErrors> {
    let mut errs = ValidationErrors::default();
    let t = text(&mut errs, "text", s, true, MAX_TEXT);
    errs.into_result(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taxonomy::RawTaxonomy;

    fn tx() -> Taxonomy {
        let t = |code: &str, group: Option<&str>| crate::taxonomy::Term {
            code: code.into(),
            ja: code.into(),
            en: code.into(),
            group: group.map(Into::into),
            description: String::new(),
            maps: Default::default(),
        };
        Taxonomy::parse(RawTaxonomy {
            sectors: vec![t("railway", None)],
            regions: vec![t("kanto", None)],
            event_types: vec![t("other", None)],
            cause_groups: vec![t("g", None)],
            causes: vec![t("vulnerability", Some("g")), t("user-error", Some("g"))],
            severities: ["0", "1", "2", "3", "4"].map(|c| t(c, None)).to_vec(),
            case_categories: vec![t("system-failure", None)],
            tlp: Tlp::ALL.map(|x| t(x.code(), None)).to_vec(),
        })
        .unwrap()
    }

    fn essentials() -> ReportInput {
        ReportInput {
            title: " 予約画面の日付誤表示 ".into(),
            sector: "railway".into(),
            event_type: "other".into(),
            summary: "改元後の日付が1989年と表示された。".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_first_report_needs_only_the_essentials() {
        let d = essentials().parse(&tx()).unwrap();
        assert_eq!(d.title, "予約画面の日付誤表示", "trimmed");
        assert_eq!(d.tlp, Tlp::Amber, "a fresh report defaults to TLP:AMBER");
        assert_eq!(d.severity, None);
        assert!(d.causes.is_empty());
    }

    #[test]
    fn every_bad_field_is_named() {
        let input = ReportInput {
            title: String::new(),
            sector: "mars".into(),
            region: "atlantis".into(),
            event_type: String::new(),
            causes: vec!["vulnerability".into(), "gremlins".into()],
            severity: Some(7),
            people_affected: Some(-3),
            tlp: "TLP:WHITE".into(),
            summary: "x".repeat(MAX_TEXT + 1),
            occurred_at: Some(DateTime::from_timestamp(2_000_000, 0).unwrap()),
            detected_at: Some(DateTime::from_timestamp(1_000_000, 0).unwrap()),
            ..Default::default()
        };
        let errs = input.parse(&tx()).unwrap_err();
        for field in [
            "title",
            "sector",
            "region",
            "event_type",
            "causes[1]",
            "severity",
            "people_affected",
            "tlp",
            "summary",
            "detected_at",
        ] {
            assert!(
                errs.for_field(field).is_some(),
                "{field} not named in {errs}"
            );
        }
        assert!(errs.for_field("causes[0]").is_none());
        assert_eq!(
            errs.for_field("title").unwrap().message_ja(),
            "入力してください"
        );
    }

    #[test]
    fn duplicate_causes_collapse_and_input_round_trips() {
        let mut input = essentials();
        input.causes = vec!["vulnerability".into(), "vulnerability".into(), "".into()];
        input.severity = Some(3);
        input.tlp = "clear".into();
        let d = input.parse(&tx()).unwrap();
        assert_eq!(d.causes, vec![Code("vulnerability".into())]);
        let again = ReportInput::from(&d).parse(&tx()).unwrap();
        assert_eq!(again, d);
    }

    #[test]
    fn stage_text_is_required() {
        assert!(parse_stage_text("  ").is_err());
        assert_eq!(parse_stage_text(" 続報 ").unwrap(), "続報");
    }
}
