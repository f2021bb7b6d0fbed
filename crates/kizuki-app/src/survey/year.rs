//! Opening a survey year and editing its own content (period, purpose, method, criteria,
//! remarks, common lessons): prefilled from an earlier year on request, saved against a
//! version, every change audited.

use crate::App;
use crate::auth::{self, Principal};
use crate::error::{AppError, AppResult};
use chrono::{Datelike, NaiveDate};
use kizuki_domain::access::Action;
use kizuki_domain::fiscal::FiscalYear;
use kizuki_domain::survey::{CommonLesson, Criterion, Survey, SurveyContent};
use kizuki_domain::{FieldError, ValidationErrors};
use kizuki_store::StoreError;
use serde::{Deserialize, Serialize};

/// The survey period when nothing else is said: the calendar year named like the fiscal
/// year, as the reference survey counted reports filed from 1 January to 31 December.
pub fn default_period(year: i32) -> (NaiveDate, NaiveDate) {
    let start = NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(NaiveDate::MIN);
    let end = NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(NaiveDate::MAX);
    (start, end)
}

fn fiscal_year(year: i32) -> AppResult<FiscalYear> {
    FiscalYear::new(year)
        .map_err(|e| AppError::from(FieldError::invalid("fiscal_year", e.to_string())))
}

/// Moves a date by whole years, keeping 29 February as 28 February where it must.
fn shift_years(d: NaiveDate, years: i32) -> NaiveDate {
    let y = d.year() + years;
    NaiveDate::from_ymd_opt(y, d.month(), d.day())
        .or_else(|| NaiveDate::from_ymd_opt(y, d.month(), 28))
        .unwrap_or(d)
}

/// The default title of a year's survey.
pub fn default_title(year: i32) -> String {
    format!("{year}年度 補完調査 報告書")
}

/// Refuses unless the principal may open or edit surveys (the centre's content staff).
async fn require(app: &App, p: &Principal, year: i32, action: Action) -> AppResult<()> {
    let v = auth::viewer(app, p).await?;
    if auth::decide_survey_as(app, &v, year, action)
        .await?
        .is_allowed()
    {
        Ok(())
    } else if action == Action::Create {
        Err(AppError::Forbidden(
            "surveys are opened by the centre's staff".into(),
        ))
    } else {
        Err(StoreError::not_found("survey", year).into())
    }
}

/// Refuses unless survey `year` exists and the principal may edit it ("not found" when it may
/// not even read it).
pub async fn require_edit(app: &App, p: &Principal, year: i32) -> AppResult<Survey> {
    let s = app.store.get_survey(year).await?;
    require(app, p, year, Action::Read).await?;
    let v = auth::viewer(app, p).await?;
    if auth::decide_survey_as(app, &v, year, Action::Edit)
        .await?
        .is_allowed()
    {
        Ok(s)
    } else {
        Err(AppError::Forbidden(
            "surveys are edited by the centre's staff".into(),
        ))
    }
}

/// What the "open a year" form starts from: a copy of `from` (its title and period moved to
/// `year`, its purpose, method, criteria and remarks as they were, no common lessons, which
/// cite that year's cases), or only the default title and period.
pub async fn prefill(
    app: &App,
    p: &Principal,
    year: i32,
    from: Option<i32>,
) -> AppResult<SurveyContent> {
    require(app, p, year, Action::Create).await?;
    let fy = fiscal_year(year)?;
    let (period_start, period_end) = default_period(year);
    let Some(from) = from else {
        return Ok(SurveyContent {
            fiscal_year: fy,
            title: default_title(year),
            period_start,
            period_end,
            purpose: String::new(),
            method: String::new(),
            criteria_intro: String::new(),
            criteria: Vec::new(),
            remarks: Vec::new(),
            common_lessons: Vec::new(),
        });
    };
    let source = match app.store.get_survey(from).await {
        Ok(s) => s.content,
        Err(StoreError::NotFound { .. }) => {
            return Err(FieldError::invalid(
                "from",
                format!("{from}年度の調査はありません / there is no survey {from} to copy"),
            )
            .into());
        }
        Err(e) => return Err(e.into()),
    };
    let moved = |s: &str| s.replace(&from.to_string(), &year.to_string());
    Ok(SurveyContent {
        fiscal_year: fy,
        title: moved(&source.title),
        period_start: shift_years(source.period_start, year - from),
        period_end: shift_years(source.period_end, year - from),
        criteria_intro: moved(&source.criteria_intro),
        common_lessons: Vec::new(),
        ..source
    })
}

/// The numbers of the survey's cases.
async fn case_numbers(app: &App, year: i32) -> AppResult<Vec<u32>> {
    Ok(app
        .store
        .list_cases(Some(year))
        .await?
        .iter()
        .map(|c| c.content.number)
        .collect())
}

fn audit_state(s: &Survey) -> serde_json::Value {
    serde_json::json!({"version": s.version, "content": s.content})
}

/// Opens a year. A year that exists is [`StoreError::Duplicate`] (409), whoever asks.
pub async fn open(app: &App, p: &Principal, content: SurveyContent) -> AppResult<Survey> {
    let year = content.fiscal_year.year();
    require(app, p, year, Action::Create).await?;
    match app.store.get_survey(year).await {
        Ok(_) => return Err(exists(year)),
        Err(StoreError::NotFound { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    let content = content.parse(&app.taxonomy, &case_numbers(app, year).await?)?;
    let saved = match app.store.create_survey(content).await {
        Ok(s) => s,
        // Two people opening the same year at once: the second is told as if it had looked.
        Err(StoreError::Duplicate { .. }) => return Err(exists(year)),
        Err(e) => return Err(e.into()),
    };
    crate::security::audit_log::change(
        app,
        p.user_id,
        format!("survey:{year}"),
        serde_json::Value::Null,
        audit_state(&saved),
    )
    .await?;
    Ok(saved)
}

/// The error for opening a year twice; callers link to the year it names.
pub fn exists(year: i32) -> AppError {
    StoreError::Duplicate {
        what: format!("survey {year}"),
    }
    .into()
}

/// Saves the survey's content against `version` (a stale one is [`StoreError::Conflict`]
/// carrying the current survey). The fiscal year itself cannot change.
pub async fn edit(
    app: &App,
    p: &Principal,
    year: i32,
    version: i64,
    content: SurveyContent,
) -> AppResult<Survey> {
    require(app, p, year, Action::Edit).await?;
    let before = app.store.get_survey(year).await?;
    if content.fiscal_year.year() != year {
        return Err(FieldError::invalid(
            "fiscal_year",
            format!("調査の年度は変えられません（{year}） / the year of a survey cannot change"),
        )
        .into());
    }
    let content = content.parse(&app.taxonomy, &case_numbers(app, year).await?)?;
    let saved = app.store.update_survey(version, content).await?;
    crate::security::audit_log::change(
        app,
        p.user_id,
        format!("survey:{year}"),
        audit_state(&before),
        audit_state(&saved),
    )
    .await?;
    Ok(saved)
}

/// Replaces the common lessons, keeping the rest of the survey as it is at `version`.
pub async fn set_common_lessons(
    app: &App,
    p: &Principal,
    year: i32,
    version: i64,
    lessons: Vec<CommonLesson>,
) -> AppResult<Survey> {
    require(app, p, year, Action::Edit).await?;
    let current = app.store.get_survey(year).await?;
    if current.version != version {
        return Err(StoreError::Conflict {
            entity: "survey",
            current: kizuki_store::Current::Survey(Box::new(current)),
        }
        .into());
    }
    let content = SurveyContent {
        common_lessons: lessons,
        ..current.content
    };
    edit(app, p, year, version, content).await
}

/// Follows a case renumbered from `old` to `new` in every common lesson citing it, so the
/// report's 「（事例1, 3, 4）」 keep pointing at the same cases. Numbers of other cases are
/// left alone; a lesson never cites one case twice.
pub async fn renumber_case(app: &App, year: i32, old: u32, new: u32) -> AppResult<()> {
    if old == new {
        return Ok(());
    }
    let s = match app.store.get_survey(year).await {
        Ok(s) => s,
        Err(StoreError::NotFound { .. }) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    if !s
        .content
        .common_lessons
        .iter()
        .any(|l| l.cases.contains(&old))
    {
        return Ok(());
    }
    let mut content = s.content.clone();
    for l in &mut content.common_lessons {
        for n in &mut l.cases {
            if *n == old {
                *n = new;
            }
        }
        l.cases.sort_unstable();
        l.cases.dedup();
    }
    app.store.update_survey(s.version, content).await?;
    Ok(())
}

/// The common lessons citing case `number`, by title (or text, for untitled ones), for a
/// refusal that names them.
pub fn citing(content: &SurveyContent, number: u32) -> Vec<String> {
    content
        .common_lessons
        .iter()
        .filter(|l| l.cases.contains(&number))
        .map(|l| {
            if l.title.trim().is_empty() {
                l.text.chars().take(30).collect()
            } else {
                l.title.clone()
            }
        })
        .collect()
}

/// Refuses taking case `number` out of the survey while a common lesson cites it.
pub async fn refuse_if_cited(app: &App, year: i32, number: u32) -> AppResult<()> {
    let s = match app.store.get_survey(year).await {
        Ok(s) => s,
        Err(StoreError::NotFound { .. }) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let names = citing(&s.content, number);
    if names.is_empty() {
        return Ok(());
    }
    let list = names
        .iter()
        .map(|n| format!("「{n}」"))
        .collect::<Vec<_>>()
        .join("、");
    Err(AppError::Refused(format!(
        "事例{number}は共通の教訓{list}が引用しているため外せません。先に教訓の引用を外してください / case {number} is cited by the common lessons {list}; remove it from them first"
    )))
}

/// One criterion row of the survey form, as typed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CriterionRow {
    pub key: String,
    pub label: String,
    pub label_en: String,
    pub description: String,
    pub main: bool,
    pub weight: String,
}

impl CriterionRow {
    fn is_blank(&self) -> bool {
        [
            &self.key,
            &self.label,
            &self.label_en,
            &self.description,
            &self.weight,
        ]
        .iter()
        .all(|s| s.trim().is_empty())
    }
}

/// The survey form as typed: dates as text, remarks one a line, criteria as rows. Blank
/// rows are the form's room for a new one and are ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SurveyForm {
    pub fiscal_year: String,
    pub title: String,
    pub period_start: String,
    pub period_end: String,
    pub purpose: String,
    pub method: String,
    pub criteria_intro: String,
    pub remarks: String,
    pub criteria: Vec<CriterionRow>,
}

impl SurveyForm {
    pub fn from_content(c: &SurveyContent) -> SurveyForm {
        SurveyForm {
            fiscal_year: c.fiscal_year.year().to_string(),
            title: c.title.clone(),
            period_start: c.period_start.to_string(),
            period_end: c.period_end.to_string(),
            purpose: c.purpose.clone(),
            method: c.method.clone(),
            criteria_intro: c.criteria_intro.clone(),
            remarks: c.remarks.join("\n"),
            criteria: c
                .criteria
                .iter()
                .map(|k| CriterionRow {
                    key: k.key.clone(),
                    label: k.label.clone(),
                    label_en: k.label_en.clone(),
                    description: k.description.clone(),
                    main: k.main,
                    weight: k.weight.to_string(),
                })
                .collect(),
        }
    }

    /// The survey the form describes, with `common_lessons` kept from the stored survey (they
    /// have their own form). Errors name the form's fields (`criteria[2].weight`); the
    /// domain's checks run in [`open`] and [`edit`].
    pub fn content(&self, common_lessons: Vec<CommonLesson>) -> AppResult<SurveyContent> {
        let mut errs = ValidationErrors::default();
        let fy = match self.fiscal_year.trim().parse::<i32>() {
            Ok(y) => match FiscalYear::new(y) {
                Ok(fy) => Some(fy),
                Err(e) => {
                    errs.push(FieldError::invalid("fiscal_year", e.to_string()));
                    None
                }
            },
            Err(_) => {
                errs.push(FieldError::invalid(
                    "fiscal_year",
                    "西暦の年度を数字で入力してください（例: 2020） / a year such as 2020",
                ));
                None
            }
        };
        let date = |errs: &mut ValidationErrors, field: &str, s: &str| {
            match kizuki_domain::wareki::parse_date_strict(s.trim()) {
                Ok(d) => Some(d),
                Err(_) => {
                    errs.push(FieldError::invalid(
                        field,
                        format!(
                            "日付「{s}」が読めません（例: 2020-01-01、令和2年1月1日） / not a date"
                        ),
                    ));
                    None
                }
            }
        };
        let start = date(&mut errs, "period_start", &self.period_start);
        let end = date(&mut errs, "period_end", &self.period_end);
        let mut criteria = Vec::new();
        for (i, row) in self.criteria.iter().filter(|r| !r.is_blank()).enumerate() {
            let weight = match row.weight.trim().parse::<f64>() {
                Ok(w) => w,
                Err(_) => {
                    errs.push(FieldError::invalid(
                        format!("criteria[{i}].weight"),
                        "重みは0から10の数です / the weight is a number from 0 to 10",
                    ));
                    0.0
                }
            };
            criteria.push(Criterion {
                key: row.key.trim().to_owned(),
                label: row.label.clone(),
                label_en: row.label_en.clone(),
                description: row.description.trim().to_owned(),
                main: row.main,
                weight,
            });
        }
        let (Some(fiscal_year), Some(period_start), Some(period_end)) = (fy, start, end) else {
            return Err(errs.into());
        };
        if !errs.is_empty() {
            return Err(errs.into());
        }
        Ok(SurveyContent {
            fiscal_year,
            title: self.title.clone(),
            period_start,
            period_end,
            purpose: self.purpose.clone(),
            method: self.method.clone(),
            criteria_intro: self.criteria_intro.clone(),
            criteria,
            remarks: self
                .remarks
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect(),
            common_lessons,
        })
    }
}

/// One common lesson row of its form, as typed; `cases` are the chosen case numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LessonRow {
    pub title: String,
    pub category: String,
    pub text: String,
    pub cases: Vec<String>,
}

/// The common lessons as rows; blank rows are ignored. Errors name `common_lessons[i].…`,
/// `i` counting the rows kept.
pub fn lessons_from_rows(rows: &[LessonRow]) -> AppResult<Vec<CommonLesson>> {
    let mut errs = ValidationErrors::default();
    let mut out = Vec::new();
    let kept = rows
        .iter()
        .filter(|r| !(r.title.trim().is_empty() && r.text.trim().is_empty() && r.cases.is_empty()));
    for (i, r) in kept.enumerate() {
        let mut cases = Vec::new();
        for (j, c) in r.cases.iter().enumerate() {
            match c.trim().parse::<u32>() {
                Ok(n) => cases.push(n),
                Err(_) => errs.push(FieldError::invalid(
                    format!("common_lessons[{i}].cases[{j}]"),
                    format!("事例番号「{c}」が読めません / not a case number"),
                )),
            }
        }
        cases.sort_unstable();
        cases.dedup();
        out.push(CommonLesson {
            title: r.title.trim().to_owned(),
            category: kizuki_domain::taxonomy::Code(r.category.trim().to_owned()),
            text: r.text.clone(),
            cases,
        });
    }
    errs.into_result(out).map_err(AppError::from)
}

/// A stored lesson as a form row.
pub fn lesson_row(l: &CommonLesson) -> LessonRow {
    LessonRow {
        title: l.title.clone(),
        category: l.category.0.clone(),
        text: l.text.clone(),
        cases: l.cases.iter().map(u32::to_string).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_year_copied_from_2019_moves_title_and_period_and_drops_the_lessons() {
        let (app, _t) = crate::test_support::demo(21).await;
        let p = crate::test_support::analyst_principal(&app).await;
        let c = prefill(&app, &p, 2020, Some(2019)).await.unwrap();
        assert_eq!(c.fiscal_year.year(), 2020);
        assert_eq!(c.title, "2020年度 補完調査 報告書");
        assert_eq!(c.period_start, NaiveDate::from_ymd_opt(2020, 1, 1).unwrap());
        assert_eq!(c.period_end, NaiveDate::from_ymd_opt(2020, 12, 31).unwrap());
        assert!(
            c.criteria_intro.contains("2020年1月1日"),
            "{}",
            c.criteria_intro
        );
        assert_eq!(c.criteria.len(), 10);
        assert!(c.common_lessons.is_empty());
        let s = open(&app, &p, c.clone()).await.unwrap();
        assert_eq!(s.version, 1);
        // Opening it again is a duplicate, whatever the content.
        assert!(matches!(
            open(&app, &p, c).await,
            Err(AppError::Store(StoreError::Duplicate { .. }))
        ));
        let audited = app
            .store
            .audit_query(&kizuki_store::AuditQuery {
                target: Some("survey:2020".into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(audited.len(), 1);
    }

    #[tokio::test]
    async fn a_blank_year_needs_its_texts_and_an_unknown_source_is_named() {
        let (app, _t) = crate::test_support::demo(22).await;
        let p = crate::test_support::analyst_principal(&app).await;
        let c = prefill(&app, &p, 2021, None).await.unwrap();
        assert_eq!(c.title, "2021年度 補完調査 報告書");
        let Err(AppError::Validation(errs)) = open(&app, &p, c).await else {
            panic!("a blank year cannot open");
        };
        for f in ["purpose", "method", "criteria_intro", "criteria"] {
            assert!(errs.for_field(f).is_some(), "{f}: {errs}");
        }
        let Err(AppError::Validation(errs)) = prefill(&app, &p, 2021, Some(2005)).await else {
            panic!("no 2005 survey to copy");
        };
        assert!(errs.for_field("from").is_some(), "{errs}");
    }

    #[tokio::test]
    async fn operators_cannot_open_a_year() {
        let (app, _t) = crate::test_support::demo(23).await;
        let op = crate::test_support::operator_principal(&app).await;
        assert!(matches!(
            prefill(&app, &op, 2020, Some(2019)).await,
            Err(AppError::Forbidden(_))
        ));
    }

    #[tokio::test]
    async fn edits_are_checked_against_the_version_and_the_cases() {
        let (app, _t) = crate::test_support::demo(24).await;
        let p = crate::test_support::analyst_principal(&app).await;
        let s = app.store.get_survey(2019).await.unwrap();
        let mut c = s.content.clone();
        c.purpose.push_str("（追記）");
        let saved = edit(&app, &p, 2019, s.version, c.clone()).await.unwrap();
        assert_eq!(saved.version, s.version + 1);
        // The same edit from the old version is a conflict carrying the current survey.
        match edit(&app, &p, 2019, s.version, c.clone()).await {
            Err(AppError::Store(StoreError::Conflict { current, .. })) => {
                assert_eq!(current.version(), saved.version);
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
        // A common lesson citing a case the survey does not have names the field.
        let mut bad = saved.content.clone();
        bad.common_lessons[0].cases.push(42);
        let Err(AppError::Validation(errs)) = edit(&app, &p, 2019, saved.version, bad).await else {
            panic!("case 42 is not in the survey");
        };
        let n = saved.content.common_lessons[0].cases.len();
        assert!(
            errs.for_field(&format!("common_lessons[0].cases[{n}]"))
                .is_some(),
            "{errs}"
        );
    }

    #[tokio::test]
    async fn renumbering_a_case_carries_its_citations_and_citing_refuses_dropping_it() {
        let (app, _t) = crate::test_support::demo(25).await;
        let p = crate::test_support::analyst_principal(&app).await;
        // 2019's first common lesson cites cases 1, 3, 4.
        let err = refuse_if_cited(&app, 2019, 3).await.unwrap_err();
        assert!(err.to_string().contains("事例3"), "{err}");
        refuse_if_cited(&app, 2019, 99).await.unwrap();
        let case3 = app.store.case_by_number(2019, 3).await.unwrap().unwrap();
        let mut content = case3.content.clone();
        content.number = 8;
        crate::survey::cases::update(&app, &p, case3.id, case3.version, content)
            .await
            .unwrap();
        let s = app.store.get_survey(2019).await.unwrap();
        assert_eq!(s.content.common_lessons[0].cases, vec![1, 4, 8]);
        assert_eq!(s.content.common_lessons[1].cases, vec![2, 4, 8]);
        assert_eq!(s.content.common_lessons[3].cases, vec![5]);
    }

    #[test]
    fn the_form_keeps_rows_and_names_bad_cells() {
        let form = SurveyForm {
            fiscal_year: "2020".into(),
            title: "t".into(),
            period_start: "令和2年1月1日".into(),
            period_end: "2020-13-40".into(),
            criteria: vec![
                CriterionRow {
                    key: "a".into(),
                    weight: "heavy".into(),
                    ..Default::default()
                },
                CriterionRow::default(),
            ],
            ..Default::default()
        };
        let Err(AppError::Validation(errs)) = form.content(Vec::new()) else {
            panic!("bad date and weight");
        };
        assert!(errs.for_field("period_end").is_some(), "{errs}");
        assert!(errs.for_field("criteria[0].weight").is_some(), "{errs}");
        assert!(errs.for_field("period_start").is_none(), "{errs}");
        let rows = [
            LessonRow::default(),
            LessonRow {
                title: "x".into(),
                cases: vec!["3".into(), "1".into(), "3".into()],
                ..Default::default()
            },
        ];
        let ls = lessons_from_rows(&rows).unwrap();
        assert_eq!(ls.len(), 1);
        assert_eq!(ls[0].cases, vec![1, 3]);
    }
}
