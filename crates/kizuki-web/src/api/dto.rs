//! The API's wire shapes, separate from the domain so the published contract changes only on
//! purpose. Each derives its OpenAPI schema, so the document follows the code.

use chrono::{DateTime, NaiveDate, Utc};
use kizuki_domain::case::{Actor, ActorKind, Case, CaseContent, Lesson, Sections, Step};
use kizuki_domain::report::{Report, ReportInput, SystemRef};
use kizuki_domain::survey::{CommonLesson, Criterion, Survey};
use kizuki_domain::taxonomy::{Code, Taxonomy, Term, Vocabulary};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SystemDto {
    pub name: String,
    #[serde(default)]
    pub vendor: Option<String>,
    /// A system several operators use (共同利用型システム).
    #[serde(default)]
    pub shared: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImpactDto {
    pub people_affected: Option<u64>,
    pub duration_minutes: Option<u64>,
    pub actual_harm: bool,
    pub description: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StageDto {
    pub seq: u32,
    /// `first`, `follow_up` or `final`.
    pub kind: String,
    pub at: DateTime<Utc>,
    pub text: String,
}

/// A report as the API returns it. `version` is also sent as the `ETag`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportDto {
    pub id: i64,
    pub version: i64,
    pub org_id: i64,
    /// `new`, `triaged` or `closed`.
    pub status: String,
    pub reported_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub title: String,
    pub sector: String,
    pub region: Option<String>,
    pub affected_service: String,
    pub occurred_at: Option<DateTime<Utc>>,
    pub detected_at: Option<DateTime<Utc>>,
    pub event_type: String,
    pub causes: Vec<String>,
    pub severity: Option<u8>,
    pub impact: ImpactDto,
    pub systems: Vec<SystemDto>,
    pub vendors: Vec<String>,
    /// TLP 2.0 code: `clear`, `green`, `amber`, `amber-strict` or `red`.
    pub tlp: String,
    pub summary: String,
    pub stages: Vec<StageDto>,
    pub case_id: Option<i64>,
}

impl From<&Report> for ReportDto {
    fn from(r: &Report) -> Self {
        let d = &r.details;
        ReportDto {
            id: r.id.0,
            version: r.version,
            org_id: r.org_id.0,
            status: r.status.code().to_owned(),
            reported_at: r.reported_at,
            updated_at: r.updated_at,
            title: d.title.clone(),
            sector: d.sector.0.clone(),
            region: d.region.as_ref().map(|c| c.0.clone()),
            affected_service: d.affected_service.clone(),
            occurred_at: d.occurred_at,
            detected_at: d.detected_at,
            event_type: d.event_type.0.clone(),
            causes: d.causes.iter().map(|c| c.0.clone()).collect(),
            severity: d.severity.map(|s| s.level()),
            impact: ImpactDto {
                people_affected: d.impact.people_affected,
                duration_minutes: d.impact.duration_minutes,
                actual_harm: d.impact.actual_harm,
                description: d.impact.description.clone(),
            },
            systems: d
                .systems
                .iter()
                .map(|s| SystemDto {
                    name: s.name.clone(),
                    vendor: s.vendor.clone(),
                    shared: s.shared,
                })
                .collect(),
            vendors: d.vendors.clone(),
            tlp: d.tlp.code().to_owned(),
            summary: d.summary.clone(),
            stages: r
                .stages
                .iter()
                .map(|s| StageDto {
                    seq: s.seq,
                    kind: s.kind.code().to_owned(),
                    at: s.at,
                    text: s.text.clone(),
                })
                .collect(),
            case_id: r.case_id.map(|c| c.0),
        }
    }
}

/// A report to file or the new content of one. Only `title`, `sector`, `event_type` and
/// `summary` are required; `tlp` defaults to `amber`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ReportInputDto {
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
    pub systems: Vec<SystemDto>,
    pub vendors: Vec<String>,
    pub tlp: String,
    pub summary: String,
}

impl From<ReportInputDto> for ReportInput {
    fn from(d: ReportInputDto) -> Self {
        ReportInput {
            title: d.title,
            sector: d.sector,
            region: d.region,
            affected_service: d.affected_service,
            occurred_at: d.occurred_at,
            detected_at: d.detected_at,
            event_type: d.event_type,
            causes: d.causes,
            severity: d.severity,
            people_affected: d.people_affected,
            duration_minutes: d.duration_minutes,
            actual_harm: d.actual_harm,
            impact_description: d.impact_description,
            systems: d
                .systems
                .into_iter()
                .map(|s| SystemRef {
                    name: s.name,
                    vendor: s.vendor,
                    shared: s.shared,
                })
                .collect(),
            vendors: d.vendors,
            tlp: d.tlp,
            summary: d.summary,
        }
    }
}

/// A follow-up (`follow_up`) or final report (`final`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StageInputDto {
    pub kind: String,
    pub text: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportPageDto {
    pub items: Vec<ReportDto>,
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
    pub pages: u64,
}

/// The date a 年度 filter is taken from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FyBy {
    #[default]
    Reported,
    Occurred,
}

/// The list's filters; all optional. `fy` accepts 2019, 2019年度 or 令和元年度.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    pub fy: Option<String>,
    /// Which date `fy` is the 年度 of: `reported` (default) or `occurred`. Reports whose
    /// occurrence is unknown are in no 年度 of occurrence.
    pub fy_by: Option<FyBy>,
    pub sector: Option<String>,
    pub event_type: Option<String>,
    pub cause: Option<String>,
    pub severity: Option<u8>,
    pub status: Option<String>,
    pub tlp: Option<String>,
    pub org: Option<i64>,
    /// `reported_desc` (default), `reported_asc`, `severity_desc` or `updated_desc`.
    pub sort: Option<String>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActorDto {
    pub key: String,
    pub label: String,
    /// operator, department, vendor, system, store, customer, attacker or third_party.
    pub kind: String,
    #[serde(default)]
    pub group: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepDto {
    pub number: u32,
    pub text: String,
    pub actors: Vec<String>,
    /// When it happened: 「10:30」, 「3時間後」, 「1週間前から」.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LessonDto {
    pub title: String,
    pub text: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SectionsDto {
    pub background: Vec<String>,
    pub detection: Vec<String>,
    pub response: Vec<String>,
    pub cause: Vec<String>,
    pub countermeasures: Vec<String>,
}

/// A case's content in the annual report's form.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseContentDto {
    pub number: u32,
    pub category: String,
    pub title: String,
    pub impact: String,
    pub cause: String,
    pub overview: Vec<String>,
    pub actors: Vec<ActorDto>,
    pub steps: Vec<StepDto>,
    pub responses: Vec<StepDto>,
    pub sections: SectionsDto,
    pub lessons: Vec<LessonDto>,
}

fn step_dto(s: &Step) -> StepDto {
    StepDto {
        number: s.number,
        text: s.text.clone(),
        actors: s.actors.clone(),
        time: s.time.clone(),
    }
}

fn step_of(s: StepDto) -> Step {
    Step {
        number: s.number,
        text: s.text,
        actors: s.actors,
        time: s.time,
    }
}

impl From<&CaseContent> for CaseContentDto {
    fn from(c: &CaseContent) -> Self {
        CaseContentDto {
            number: c.number,
            category: c.category.0.clone(),
            title: c.title.clone(),
            impact: c.impact.clone(),
            cause: c.cause.clone(),
            overview: c.overview.clone(),
            actors: c
                .actors
                .iter()
                .map(|a| ActorDto {
                    key: a.key.clone(),
                    label: a.label.clone(),
                    kind: kizuki_app::survey::cases::actor_kind_code(a.kind).to_owned(),
                    group: a.group.clone(),
                })
                .collect(),
            steps: c.steps.iter().map(step_dto).collect(),
            responses: c.responses.iter().map(step_dto).collect(),
            sections: SectionsDto {
                background: c.sections.background.clone(),
                detection: c.sections.detection.clone(),
                response: c.sections.response.clone(),
                cause: c.sections.cause.clone(),
                countermeasures: c.sections.countermeasures.clone(),
            },
            lessons: c
                .lessons
                .iter()
                .map(|l| LessonDto {
                    title: l.title.clone(),
                    text: l.text.clone(),
                })
                .collect(),
        }
    }
}

impl CaseContentDto {
    /// The domain content; an unknown actor kind is reported against its field.
    pub fn into_content(self) -> Result<CaseContent, kizuki_domain::ValidationErrors> {
        let mut errs = kizuki_domain::ValidationErrors::default();
        let actors = self
            .actors
            .into_iter()
            .enumerate()
            .map(|(i, a)| {
                let kind = kizuki_app::survey::cases::ACTOR_KINDS
                    .iter()
                    .find(|(_, c)| *c == a.kind)
                    .map_or_else(
                        || {
                            errs.push(kizuki_domain::FieldError::new(
                                format!("actors[{i}].kind"),
                                kizuki_domain::FieldErrorKind::UnknownCode {
                                    code: a.kind.clone(),
                                },
                            ));
                            ActorKind::Operator
                        },
                        |(k, _)| *k,
                    );
                Actor {
                    key: a.key,
                    label: a.label,
                    kind,
                    group: a.group,
                }
            })
            .collect();
        errs.into_result(CaseContent {
            number: self.number,
            category: Code(self.category),
            title: self.title,
            impact: self.impact,
            cause: self.cause,
            overview: self.overview,
            actors,
            steps: self.steps.into_iter().map(step_of).collect(),
            responses: self.responses.into_iter().map(step_of).collect(),
            sections: Sections {
                background: self.sections.background,
                detection: self.sections.detection,
                response: self.sections.response,
                cause: self.sections.cause,
                countermeasures: self.sections.countermeasures,
            },
            lessons: self
                .lessons
                .into_iter()
                .map(|l| Lesson {
                    title: l.title,
                    text: l.text,
                })
                .collect(),
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CaseDto {
    pub id: i64,
    pub version: i64,
    pub survey_year: Option<i32>,
    pub report_id: Option<i64>,
    pub content: CaseContentDto,
}

impl From<&Case> for CaseDto {
    fn from(c: &Case) -> Self {
        CaseDto {
            id: c.id.0,
            version: c.version,
            survey_year: c.survey_year,
            report_id: c.report_id.map(|r| r.0),
            content: CaseContentDto::from(&c.content),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CriterionDto {
    pub key: String,
    pub label: String,
    pub label_en: String,
    pub description: String,
    pub main: bool,
    pub weight: f64,
}

impl From<&Criterion> for CriterionDto {
    fn from(c: &Criterion) -> Self {
        CriterionDto {
            key: c.key.clone(),
            label: c.label.clone(),
            label_en: c.label_en.clone(),
            description: c.description.clone(),
            main: c.main,
            weight: c.weight,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommonLessonDto {
    pub title: String,
    pub category: String,
    pub text: String,
    /// Numbers of the cases the lesson draws on.
    pub cases: Vec<u32>,
}

impl From<&CommonLesson> for CommonLessonDto {
    fn from(l: &CommonLesson) -> Self {
        CommonLessonDto {
            title: l.title.clone(),
            category: l.category.0.clone(),
            text: l.text.clone(),
            cases: l.cases.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SurveyDto {
    pub fiscal_year: i32,
    pub version: i64,
    pub title: String,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub purpose: String,
    pub method: String,
    pub criteria_intro: String,
    pub criteria: Vec<CriterionDto>,
    pub remarks: Vec<String>,
    pub common_lessons: Vec<CommonLessonDto>,
    /// Ids of the survey's cases in number order.
    pub case_ids: Vec<i64>,
}

impl SurveyDto {
    pub fn new(s: &Survey, cases: &[Case]) -> SurveyDto {
        let c = &s.content;
        SurveyDto {
            fiscal_year: c.fiscal_year.year(),
            version: s.version,
            title: c.title.clone(),
            period_start: c.period_start,
            period_end: c.period_end,
            purpose: c.purpose.clone(),
            method: c.method.clone(),
            criteria_intro: c.criteria_intro.clone(),
            criteria: c.criteria.iter().map(CriterionDto::from).collect(),
            remarks: c.remarks.clone(),
            common_lessons: c.common_lessons.iter().map(CommonLessonDto::from).collect(),
            case_ids: cases.iter().map(|c| c.id.0).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TermDto {
    pub code: String,
    pub ja: String,
    pub en: String,
    pub group: Option<String>,
}

impl From<&Term> for TermDto {
    fn from(t: &Term) -> Self {
        TermDto {
            code: t.code.clone(),
            ja: t.ja.clone(),
            en: t.en.clone(),
            group: t.group.clone(),
        }
    }
}

/// Every vocabulary by name (`sectors`, `event_types`, `causes`, …).
#[derive(Debug, Serialize, ToSchema)]
pub struct TaxonomyDto {
    pub vocabularies: BTreeMap<String, Vec<TermDto>>,
}

impl From<&Taxonomy> for TaxonomyDto {
    fn from(t: &Taxonomy) -> Self {
        TaxonomyDto {
            vocabularies: Vocabulary::ALL
                .iter()
                .map(|v| {
                    (
                        v.key().to_owned(),
                        t.terms(*v).iter().map(TermDto::from).collect(),
                    )
                })
                .collect(),
        }
    }
}
