//! The annual survey: importing a survey folder into the store (each case with the report it
//! came from) and exporting it back, and `kizuki check`'s application-level checks; its cases
//! (`cases`, started by `authoring`, with the operators' `cooperation`), the year's own content (`year`) and the annual report
//! rendered from them (`annual_report`).

pub mod annual_report;
pub mod authoring;
pub mod cases;
pub mod cooperation;
pub mod year;

use crate::App;
use crate::error::{AppError, AppResult};
use kizuki_dataset::{AnalystScore, CaseFile, ReportSeed, SurveyData};
use kizuki_domain::clock::jst_date;
use kizuki_domain::org::{NewOrganisation, OrgKind};
use kizuki_domain::report::{ReportStatus, StageKind};
use kizuki_domain::taxonomy::Code;
use kizuki_domain::{FieldError, ValidationErrors};
use kizuki_store::{NewReport, NewStage, Problem, ScoreOverrideRecord, StoreError};
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    pub fiscal_year: i32,
    pub cases: usize,
    pub reports: usize,
    /// Operators the directory lacked, created from the reports' organisation keys.
    pub created_orgs: Vec<String>,
}

/// Imports a checked survey. Everything that can be refused is checked before the first
/// write: the survey must be new and its case numbers free.
pub async fn import_survey(app: &App, data: &SurveyData) -> AppResult<ImportSummary> {
    let fy = data.survey.fiscal_year.year();
    match app.store.get_survey(fy).await {
        Ok(_) => {
            return Err(AppError::Refused(format!(
                "survey {fy} already exists; export it, edit the files and import into a fresh data dir, or edit it in the web app"
            )));
        }
        Err(StoreError::NotFound { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    let details = data.report_details(&app.taxonomy)?;
    for c in &data.cases {
        // Balance criteria are the selection rules' to realise, never a score.
        if let Some((i, s)) = c
            .analyst_scores
            .iter()
            .enumerate()
            .find(|(_, s)| crate::selection::BALANCE.contains(&s.key.as_str()))
        {
            return Err(FieldError::invalid(
                format!("cases/case-{}.analyst_scores[{i}].key", c.case.number),
                format!(
                    "「{}」は選定ルールで扱うため評価できません / a balance criterion is set by the rules",
                    s.key
                ),
            )
            .into());
        }
        if app.store.case_by_number(fy, c.case.number).await?.is_some() {
            return Err(AppError::Refused(format!(
                "survey {fy} already has a case {}",
                c.case.number
            )));
        }
    }
    let mut orgs = HashMap::new();
    let mut created_orgs = Vec::new();
    for c in &data.cases {
        let key = &c.report.organisation;
        if orgs.contains_key(key) {
            continue;
        }
        let org = match app.store.org_by_key(key).await? {
            Some(o) => o,
            None => {
                let o = NewOrganisation {
                    key: key.clone(),
                    name: format!("{key}（取込時に作成）"),
                    kind: OrgKind::Operator,
                    sectors: vec![Code(c.report.sector.clone())],
                    region: c.report.region.clone().map(Code),
                }
                .parse(&app.taxonomy)
                .map_err(|e| {
                    let mut out = ValidationErrors::default();
                    out.extend_within("report.organisation", e);
                    out
                })?;
                created_orgs.push(key.clone());
                app.store.create_org(o).await?
            }
        };
        orgs.insert(key.clone(), org.id);
    }
    let now = app.clock.now();
    let mut scores = Vec::new();
    for (c, d) in data.cases.iter().zip(details) {
        let org_id = orgs
            .get(&c.report.organisation)
            .copied()
            .ok_or_else(|| ValidationErrors::from(FieldError::required("report.organisation")))?;
        let reported_at = c.report.reported_at();
        let r = app
            .store
            .create_report(NewReport {
                org_id,
                details: d,
                first: NewStage {
                    kind: StageKind::First,
                    at: reported_at,
                    text: c.report.summary.clone(),
                    author: None,
                },
            })
            .await?;
        app.store
            .set_report_status(r.id, r.version, ReportStatus::Triaged, None, reported_at)
            .await?;
        app.store
            .create_case(Some(fy), Some(r.id), c.case.clone(), None, now)
            .await?;
        for s in &c.analyst_scores {
            scores.push(ScoreOverrideRecord {
                survey_year: fy,
                report_id: r.id,
                key: s.key.clone(),
                value: s.value,
                reason: s.reason.clone(),
                by: None,
                at: now,
            });
        }
    }
    app.store.create_survey(data.survey.clone()).await?;
    // The analysts' selection scores kept with the survey.
    for s in scores {
        app.store.put_score_override(s).await?;
    }
    Ok(ImportSummary {
        fiscal_year: fy,
        cases: data.cases.len(),
        reports: data.cases.len(),
        created_orgs,
    })
}

/// Reads a survey and its cases back out of the store in the data files' shape.
pub async fn export_survey(app: &App, fiscal_year: i32) -> AppResult<SurveyData> {
    let survey = app.store.get_survey(fiscal_year).await?;
    let overrides = app.store.list_score_overrides(fiscal_year).await?;
    // Scores in the survey's criteria order, so the files read like the survey.
    let order = |key: &str| {
        survey
            .content
            .criteria
            .iter()
            .position(|c| c.key == key)
            .unwrap_or(usize::MAX)
    };
    let mut cases = Vec::new();
    for case in app.store.list_cases(Some(fiscal_year)).await? {
        let report_id = case.report_id.ok_or_else(|| {
            AppError::Refused(format!(
                "case {} of survey {fiscal_year} has no report; the data files need one",
                case.content.number
            ))
        })?;
        let report = app.store.get_report(report_id).await?;
        let org = app.store.get_org(report.org_id).await?;
        let mut analyst_scores: Vec<&ScoreOverrideRecord> = overrides
            .iter()
            .filter(|o| o.report_id == report_id)
            .collect();
        analyst_scores.sort_by_key(|o| (order(&o.key), o.key.clone()));
        cases.push(CaseFile {
            report: ReportSeed::from_report(
                &org.org.key,
                jst_date(report.reported_at),
                &report.details,
            ),
            case: case.content,
            analyst_scores: analyst_scores
                .into_iter()
                .map(|o| AnalystScore {
                    key: o.key.clone(),
                    value: o.value,
                    reason: o.reason.clone(),
                })
                .collect(),
        });
    }
    Ok(SurveyData {
        survey: survey.content,
        cases,
    })
}

/// What `kizuki check` needs from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckOptions {
    /// `[reminders] max_attempts`: a reminder tried this often has been given up.
    pub reminder_max_attempts: u32,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            reminder_max_attempts: crate::notify::ReminderSettings::default().max_attempts,
        }
    }
}

/// The store's own checks plus the application's: every stored case and survey still
/// satisfies the domain rules against the current taxonomy, every published case went
/// through sign-off, no reminder was given up. Every part runs whatever the others found: a
/// damaged table must not hide an invalid case or a published case nobody approved, whose
/// fixes differ. A part that cannot read what it checks (often the damage the store check
/// already reported) is itself a problem, so the others are still reported.
pub async fn check(app: &App, opts: &CheckOptions) -> AppResult<Vec<Problem>> {
    let mut problems = app.store.check().await?;
    match domain_problems(app).await {
        Ok(p) => problems.extend(p),
        Err(e) => problems.push(unreadable("事例と調査（cases and surveys）", e)),
    }
    // Publication and reminders.
    match crate::publication::check::problems(app).await {
        Ok(p) => problems.extend(p),
        Err(e) => problems.push(unreadable("公開中の事例（publications）", e)),
    }
    match crate::notify::problems(app, opts.reminder_max_attempts).await {
        Ok(p) => problems.extend(p),
        Err(e) => problems.push(unreadable("リマインダー（reminders）", e)),
    }
    Ok(problems)
}

const FIX_STORE_FIRST: &str = "データベースの問題を先に直してから、もう一度 `kizuki check` を実行してください / fix the database problems above first, then run `kizuki check` again";

/// A part of the check that could not read what it checks.
fn unreadable(part: &str, e: AppError) -> Problem {
    Problem {
        what: format!("{part}を確認できませんでした / could not be checked: {e}"),
        fix: FIX_STORE_FIRST.into(),
    }
}

/// Every stored case and survey against the current taxonomy.
async fn domain_problems(app: &App) -> AppResult<Vec<Problem>> {
    let mut problems = Vec::new();
    for case in app.store.list_cases(None).await? {
        if let Err(e) = case.content.clone().parse(&app.taxonomy) {
            problems.push(Problem {
                what: format!("case {} is no longer valid: {e}", case.id),
                fix: "edit the case in the case editor".into(),
            });
        }
    }
    for s in app.store.list_surveys().await? {
        let fy = s.content.fiscal_year.year();
        let numbers: Vec<u32> = app
            .store
            .list_cases(Some(fy))
            .await?
            .iter()
            .map(|c| c.content.number)
            .collect();
        if let Err(e) = s.content.clone().parse(&app.taxonomy, &numbers) {
            problems.push(Problem {
                what: format!("survey {fy} is no longer valid: {e}"),
                fix: "edit the survey".into(),
            });
        }
    }
    Ok(problems)
}
