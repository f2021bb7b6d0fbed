//! Survey folders: `survey.toml` plus `cases/case-N.toml`, each case with the information
//! report it came from. Read, checked as a whole, and written back in a stable form.

use crate::{DatasetError, from_toml, read};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use kizuki_domain::case::CaseContent;
use kizuki_domain::clock::jst;
use kizuki_domain::report::{ReportDetails, ReportInput, SystemRef};
use kizuki_domain::selection::OverrideInput;
use kizuki_domain::survey::SurveyContent;
use kizuki_domain::taxonomy::Taxonomy;
use kizuki_domain::{FieldError, ValidationErrors};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The information report (情報連絡) behind a case, as it sits in the data file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSeed {
    /// Key of the reporting organisation in the directory.
    pub organisation: String,
    pub sector: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub event_type: String,
    pub causes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<u8>,
    pub actual_harm: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub people_affected: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_minutes: Option<u64>,
    pub tlp: String,
    /// The day the first report reached the centre (JST).
    pub reported_on: NaiveDate,
    pub affected_service: String,
    pub title: String,
    pub summary: String,
    #[serde(default)]
    pub systems: Vec<SystemRef>,
    #[serde(default)]
    pub vendors: Vec<String>,
}

impl ReportSeed {
    /// Reports in the files carry a day only; they are taken as filed at 10:00 JST.
    pub fn reported_at(&self) -> DateTime<Utc> {
        let t = NaiveTime::from_hms_opt(10, 0, 0).unwrap_or_default();
        self.reported_on
            .and_time(t)
            .and_local_timezone(jst())
            .single()
            .map_or_else(|| self.reported_on.and_time(t).and_utc(), |d| d.to_utc())
    }

    pub fn input(&self) -> ReportInput {
        ReportInput {
            title: self.title.clone(),
            sector: self.sector.clone(),
            region: self.region.clone().unwrap_or_default(),
            affected_service: self.affected_service.clone(),
            occurred_at: None,
            detected_at: None,
            event_type: self.event_type.clone(),
            causes: self.causes.clone(),
            severity: self.severity.map(i64::from),
            people_affected: self.people_affected.and_then(|v| i64::try_from(v).ok()),
            duration_minutes: self.duration_minutes.and_then(|v| i64::try_from(v).ok()),
            actual_harm: self.actual_harm,
            impact_description: String::new(),
            systems: self.systems.clone(),
            vendors: self.vendors.clone(),
            tlp: self.tlp.clone(),
            summary: self.summary.clone(),
        }
    }

    /// The seed for a stored report (the inverse of [`ReportSeed::input`]).
    pub fn from_report(organisation: &str, reported_on: NaiveDate, d: &ReportDetails) -> Self {
        ReportSeed {
            organisation: organisation.to_owned(),
            sector: d.sector.0.clone(),
            region: d.region.as_ref().map(|r| r.0.clone()),
            event_type: d.event_type.0.clone(),
            causes: d.causes.iter().map(|c| c.0.clone()).collect(),
            severity: d.severity.map(|s| s.level()),
            actual_harm: d.impact.actual_harm,
            people_affected: d.impact.people_affected,
            duration_minutes: d.impact.duration_minutes,
            tlp: d.tlp.code().to_owned(),
            reported_on,
            affected_service: d.affected_service.clone(),
            title: d.title.clone(),
            summary: d.summary.clone(),
            systems: d.systems.clone(),
            vendors: d.vendors.clone(),
        }
    }
}

/// An analyst's score for one selection criterion of the case's report: mostly the
/// criteria only an analyst can judge (usefulness of lessons, quality of response). Kept with
/// the survey so that the demo's selection and the tests start from the same judgement; they
/// become the survey's score overrides on import and are exported from them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalystScore {
    /// A criterion key of the survey (`lesson-usefulness`, `response-quality`, …).
    pub key: String,
    /// 0–3.
    pub value: u8,
    /// Why: the evidence the selection shows for this score.
    pub reason: String,
}

/// One case file: the report, the written case and the analysts' selection scores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    pub report: ReportSeed,
    pub case: CaseContent,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub analyst_scores: Vec<AnalystScore>,
}

/// A whole survey folder, checked: cases in number order, 1..n.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SurveyData {
    pub survey: SurveyContent,
    pub cases: Vec<CaseFile>,
}

impl SurveyData {
    /// The parsed report details of each case, in case order.
    pub fn report_details(&self, tx: &Taxonomy) -> Result<Vec<ReportDetails>, ValidationErrors> {
        self.cases
            .iter()
            .map(|c| c.report.input().parse(tx))
            .collect()
    }
}

fn invalid(file: &str, case: Option<u32>, errors: ValidationErrors) -> DatasetError {
    DatasetError::Invalid {
        file: file.to_owned(),
        case,
        errors,
    }
}

/// Parses a survey from its files' contents, given as (path inside the folder, text).
/// `survey.toml` is the survey; every `cases/*.toml` is a case.
pub fn parse_survey_files(
    files: &[(String, String)],
    tx: &Taxonomy,
) -> Result<SurveyData, DatasetError> {
    let survey_file = files
        .iter()
        .find(|(n, _)| n == "survey.toml")
        .ok_or_else(|| DatasetError::Other {
            file: "survey.toml".into(),
            message: "missing: a survey folder needs survey.toml".into(),
        })?;
    let survey: SurveyContent = from_toml(&survey_file.0, &survey_file.1)?;
    let mut by_number: BTreeMap<u32, (String, CaseFile)> = BTreeMap::new();
    for (name, text) in files.iter().filter(|(n, _)| n.starts_with("cases/")) {
        let cf: CaseFile = from_toml(name, text)?;
        let number = cf.case.number;
        let case = cf
            .case
            .parse(tx)
            .map_err(|e| invalid(name, Some(number), with_prefix("case", e)))?;
        let details = cf.report.input().parse(tx);
        if let Err(e) = details {
            return Err(invalid(name, Some(number), with_prefix("report", e)));
        }
        if let Some((other, _)) = by_number.get(&number) {
            return Err(invalid(
                name,
                Some(number),
                FieldError::invalid(
                    "case.number",
                    format!("case number {number} is also used by {other}"),
                )
                .into(),
            ));
        }
        by_number.insert(
            number,
            (
                name.clone(),
                CaseFile {
                    report: cf.report,
                    case,
                    analyst_scores: cf.analyst_scores,
                },
            ),
        );
    }
    for (i, (n, (name, _))) in by_number.iter().enumerate() {
        let want = u32::try_from(i + 1).unwrap_or(u32::MAX);
        if *n != want {
            return Err(invalid(
                name,
                Some(*n),
                FieldError::invalid(
                    "case.number",
                    format!("cases must be numbered 1..n without gaps; expected {want}"),
                )
                .into(),
            ));
        }
    }
    let numbers: Vec<u32> = by_number.keys().copied().collect();
    let survey = survey
        .parse(tx, &numbers)
        .map_err(|e| invalid(&survey_file.0, None, e))?;
    // Scores are checked against the survey's criteria, so only once the survey is known.
    for (name, cf) in by_number.values_mut() {
        cf.analyst_scores = analyst_scores(&cf.analyst_scores, &survey)
            .map_err(|e| invalid(name, Some(cf.case.number), e))?;
    }
    Ok(SurveyData {
        survey,
        cases: by_number.into_values().map(|(_, c)| c).collect(),
    })
}

/// Checks a case's analyst scores (criterion known, value 0–3, a reason, one score per
/// criterion) and returns them trimmed, as the store keeps them. Fields:
/// `analyst_scores[i].key|value|reason`.
fn analyst_scores(
    scores: &[AnalystScore],
    survey: &SurveyContent,
) -> Result<Vec<AnalystScore>, ValidationErrors> {
    let mut errs = ValidationErrors::default();
    let mut out = Vec::with_capacity(scores.len());
    for (i, s) in scores.iter().enumerate() {
        let at = format!("analyst_scores[{i}]");
        let input = OverrideInput {
            // The report is the case's own; any valid id lets the rest be checked.
            report_id: 1,
            key: s.key.clone(),
            value: i64::from(s.value),
            reason: s.reason.clone(),
        };
        match input.parse(&survey.criteria) {
            Ok(o) => {
                if out.iter().any(|x: &AnalystScore| x.key == o.key) {
                    errs.push(FieldError::invalid(
                        format!("{at}.key"),
                        format!("「{}」の評価が重複しています / scored twice", o.key),
                    ));
                }
                out.push(AnalystScore {
                    key: o.key,
                    value: o.value.get(),
                    reason: o.reason,
                });
            }
            Err(e) => errs.extend_within(&at, e),
        }
    }
    errs.into_result(out)
}

fn with_prefix(prefix: &str, e: ValidationErrors) -> ValidationErrors {
    let mut out = ValidationErrors::default();
    out.extend_within(prefix, e);
    out
}

/// Reads a survey folder from disk.
pub fn load_survey_dir(dir: &Path, tx: &Taxonomy) -> Result<SurveyData, DatasetError> {
    let mut files = vec![("survey.toml".to_owned(), read(&dir.join("survey.toml"))?)];
    let cases_dir = dir.join("cases");
    let entries = std::fs::read_dir(&cases_dir).map_err(|source| DatasetError::Io {
        path: cases_dir.display().to_string(),
        source,
    })?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| DatasetError::Io {
            path: cases_dir.display().to_string(),
            source,
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".toml") {
            names.push(name);
        }
    }
    names.sort();
    for name in names {
        files.push((format!("cases/{name}"), read(&cases_dir.join(&name))?));
    }
    // Name errors by their path on disk, not inside the folder.
    parse_survey_files(&files, tx).map_err(|e| match e {
        DatasetError::Parse {
            file,
            line,
            column,
            message,
        } => DatasetError::Parse {
            file: dir.join(file).display().to_string(),
            line,
            column,
            message,
        },
        DatasetError::Invalid { file, case, errors } => DatasetError::Invalid {
            file: dir.join(file).display().to_string(),
            case,
            errors,
        },
        other => other,
    })
}

/// The files of a survey folder in their stable written form.
pub fn survey_files(data: &SurveyData) -> Result<Vec<(String, String)>, DatasetError> {
    let ser = |file: &str, v: &dyn erased::Ser| {
        v.to_toml().map_err(|message| DatasetError::Other {
            file: file.to_owned(),
            message,
        })
    };
    let mut out = vec![("survey.toml".to_owned(), ser("survey.toml", &data.survey)?)];
    for c in &data.cases {
        let name = format!("cases/case-{}.toml", c.case.number);
        let text = ser(&name, c)?;
        out.push((name, text));
    }
    Ok(out)
}

mod erased {
    //! Lets `survey_files` serialise the survey and the cases through one closure.
    pub trait Ser {
        fn to_toml(&self) -> Result<String, String>;
    }
    impl<T: serde::Serialize> Ser for T {
        fn to_toml(&self) -> Result<String, String> {
            toml::to_string_pretty(self).map_err(|e| e.to_string())
        }
    }
}

/// Writes a survey folder (creating it); existing case files not in `data` are left alone.
pub fn write_survey_dir(data: &SurveyData, dir: &Path) -> Result<(), DatasetError> {
    for (name, text) in survey_files(data)? {
        let path = dir.join(&name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| DatasetError::Io {
                path: parent.display().to_string(),
                source,
            })?;
        }
        std::fs::write(&path, text).map_err(|source| DatasetError::Io {
            path: path.display().to_string(),
            source,
        })?;
    }
    Ok(())
}
