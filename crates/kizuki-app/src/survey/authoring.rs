//! Starting a survey case: from one or more reports (title, category, actors, steps with their
//! times prefilled from what the operators filed) or blank, numbered after the survey's last
//! case, for the analyst to write in the case editor.

use crate::App;
use crate::auth::Principal;
use crate::error::{AppError, AppResult};
use crate::survey::cases;
use chrono::{DateTime, Utc};
use kizuki_domain::FieldError;
use kizuki_domain::case::{Actor, ActorKind, Case, CaseContent, Lesson, Sections, Step};
use kizuki_domain::clock::jst;
use kizuki_domain::ids::ReportId;
use kizuki_domain::report::Report;
use kizuki_domain::selection::CategoryMap;
use kizuki_domain::taxonomy::{Code, Lang, Vocabulary};
use kizuki_store::StoreError;
use std::collections::BTreeSet;

/// What a new case starts from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseStart {
    /// The reports it is written from, the first being the one the case is filed under.
    /// Empty for a blank case.
    pub reports: Vec<ReportId>,
    /// The case category; when absent, the category map decides from the first report, and a
    /// blank case takes the taxonomy's first category.
    pub category: Option<Code>,
}

/// What a part of a case reads until the analyst writes it.
pub const UNWRITTEN: &str = "（未記入）";

const MAX_TITLE: usize = 120;
const MAX_POINT: usize = 2000;
const MAX_LABEL: usize = 60;

fn clip(s: &str, max: usize) -> String {
    let t = s.trim();
    if t.is_empty() {
        UNWRITTEN.to_owned()
    } else {
        t.chars().take(max).collect()
    }
}

/// A time as the case text writes it, in Japan time: 「5月7日 9:05」.
pub fn step_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&jst())
        .format("%-m月%-d日 %-H:%M")
        .to_string()
}

/// Keys unique within the case, readable in the editor (`operator`, `operator-2`, …).
fn key(taken: &mut BTreeSet<String>, base: &str) -> String {
    let mut k = base.to_owned();
    let mut n = 1;
    while taken.contains(&k) {
        n += 1;
        k = format!("{base}-{n}");
    }
    taken.insert(k.clone());
    k
}

/// The case the reports suggest, numbered `number`. The reporting operators become actors
/// with their systems and vendors inside or beside them; each report's stages (first report,
/// follow-ups, final report) become steps in time order, each with its time; what the reports
/// cannot say reads [`UNWRITTEN`]. `names` gives each report's operator name.
pub fn from_reports(
    number: u32,
    category: Code,
    reports: &[(Report, String)],
    tx: &kizuki_domain::taxonomy::Taxonomy,
) -> CaseContent {
    let mut taken = BTreeSet::new();
    let mut actors = Vec::new();
    let mut stage_steps: Vec<(DateTime<Utc>, String, String)> = Vec::new();
    let mut vendors_seen = BTreeSet::new();
    for (r, org_name) in reports {
        let op = key(&mut taken, "operator");
        actors.push(Actor {
            key: op.clone(),
            label: clip(org_name, MAX_LABEL),
            kind: ActorKind::Operator,
            group: None,
        });
        for s in &r.details.systems {
            let k = key(&mut taken, "system");
            actors.push(Actor {
                key: k,
                label: clip(&s.name, MAX_LABEL),
                kind: ActorKind::System,
                group: Some(op.clone()),
            });
        }
        let named = r
            .details
            .vendors
            .iter()
            .chain(r.details.systems.iter().filter_map(|s| s.vendor.as_ref()));
        for v in named {
            let v = v.trim();
            if v.is_empty() || !vendors_seen.insert(v.to_owned()) {
                continue;
            }
            let k = key(&mut taken, "vendor");
            actors.push(Actor {
                key: k,
                label: clip(v, MAX_LABEL),
                kind: ActorKind::Vendor,
                group: None,
            });
        }
        for st in &r.stages {
            stage_steps.push((st.at, clip(&st.text, MAX_POINT), op.clone()));
        }
    }
    if actors.is_empty() {
        actors.push(Actor {
            key: "operator".into(),
            label: "事業者".into(),
            kind: ActorKind::Operator,
            group: None,
        });
    }
    stage_steps.sort_by_key(|(at, _, _)| *at);
    let first_actor = actors[0].key.clone();
    let numbered = |i: usize| u32::try_from(i + 1).unwrap_or(u32::MAX);
    let mut steps: Vec<Step> = stage_steps
        .into_iter()
        .enumerate()
        .map(|(i, (at, text, actor))| Step {
            number: numbered(i),
            text,
            actors: vec![actor],
            time: Some(step_time(at)),
        })
        .collect();
    let unwritten_step = || Step {
        number: 1,
        text: UNWRITTEN.to_owned(),
        actors: vec![first_actor.clone()],
        time: None,
    };
    if steps.is_empty() {
        steps.push(unwritten_step());
    }
    let first = reports.first().map(|(r, _)| &r.details);
    let causes: Vec<&str> = first
        .map(|d| {
            d.causes
                .iter()
                .map(|c| tx.label(Vocabulary::Cause, c.as_str(), Lang::Ja))
                .collect()
        })
        .unwrap_or_default();
    let summaries: Vec<String> = reports
        .iter()
        .map(|(r, _)| clip(&r.details.summary, MAX_POINT))
        .collect();
    let unwritten = || vec![UNWRITTEN.to_owned()];
    let detection = first
        .and_then(|d| d.detected_at)
        .map(|at| vec![format!("{}に検知した。", step_time(at))])
        .unwrap_or_else(unwritten);
    CaseContent {
        number,
        category,
        title: first.map_or_else(|| UNWRITTEN.to_owned(), |d| clip(&d.title, MAX_TITLE)),
        impact: first.map_or_else(
            || UNWRITTEN.to_owned(),
            |d| {
                let text = if d.impact.description.trim().is_empty() {
                    &d.summary
                } else {
                    &d.impact.description
                };
                clip(text, MAX_POINT)
            },
        ),
        cause: if causes.is_empty() {
            UNWRITTEN.to_owned()
        } else {
            causes.join("・")
        },
        overview: if summaries.is_empty() {
            unwritten()
        } else {
            summaries
        },
        actors,
        steps,
        responses: vec![unwritten_step()],
        sections: Sections {
            background: unwritten(),
            detection,
            response: unwritten(),
            cause: unwritten(),
            countermeasures: unwritten(),
        },
        lessons: vec![Lesson {
            title: UNWRITTEN.to_owned(),
            text: UNWRITTEN.to_owned(),
        }],
    }
}

/// Creates a case in survey `year` from `start` and records it in the audit log. Every
/// report must be readable by the principal and not already a case of the survey.
pub async fn create(app: &App, p: &Principal, year: i32, start: CaseStart) -> AppResult<Case> {
    cases::require_writer(app, p).await?;
    // The survey must exist and be the principal's to edit.
    crate::survey::year::require_edit(app, p, year).await?;
    let existing = app.store.list_cases(Some(year)).await?;
    let mut reports = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, id) in start.reports.iter().enumerate() {
        if !seen.insert(*id) {
            return Err(FieldError::invalid(
                format!("reports[{i}]"),
                format!("報告{id}が2回選ばれています / report {id} is listed twice"),
            )
            .into());
        }
        let r = match crate::reports::get(app, p, *id).await {
            Ok(r) => r,
            Err(AppError::Store(StoreError::NotFound { .. })) => {
                return Err(FieldError::invalid(
                    format!("reports[{i}]"),
                    format!("報告{id}はありません / there is no report {id}"),
                )
                .into());
            }
            Err(e) => return Err(e),
        };
        if let Some(c) = existing.iter().find(|c| c.report_id == Some(*id)) {
            return Err(FieldError::invalid(
                format!("reports[{i}]"),
                format!(
                    "報告{id}はすでに事例{}です / report {id} is already case {}",
                    c.content.number, c.content.number
                ),
            )
            .into());
        }
        let org = app.store.get_org(r.org_id).await?;
        reports.push((r, org.org.name));
    }
    let category = match start.category {
        Some(c) => c,
        None => reports
            .first()
            .and_then(|(r, _)| {
                CategoryMap::standard()
                    .classify(&r.details.event_type, &r.details.causes)
                    .map(|c| c.category)
            })
            .or_else(|| {
                app.taxonomy
                    .terms(Vocabulary::CaseCategory)
                    .first()
                    .map(|t| Code(t.code.clone()))
            })
            .ok_or_else(|| AppError::from(FieldError::required("category")))?,
    };
    let number = existing.iter().map(|c| c.content.number).max().unwrap_or(0) + 1;
    let content = from_reports(number, category, &reports, &app.taxonomy).parse(&app.taxonomy)?;
    let report_id = reports.first().map(|(r, _)| r.id);
    let case = app
        .store
        .create_case(
            Some(year),
            report_id,
            content,
            Some(p.user_id),
            app.clock.now(),
        )
        .await?;
    crate::security::audit_log::change(
        app,
        p.user_id,
        format!("case:{}", case.id),
        serde_json::Value::Null,
        serde_json::json!({
            "version": case.version,
            "survey_year": year,
            "reports": start.reports.iter().map(|r| r.0).collect::<Vec<_>>(),
            "content": case.content,
        }),
    )
    .await?;
    Ok(case)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{at, file, sample_input};
    use kizuki_domain::report::{ReportInput, StageKind};
    use kizuki_store::NewStage;

    async fn open_2020(app: &App, p: &Principal) {
        let c = crate::survey::year::prefill(app, p, 2020, Some(2019))
            .await
            .unwrap();
        crate::survey::year::open(app, p, c).await.unwrap();
    }

    #[tokio::test]
    async fn a_case_from_two_reports_has_their_operators_systems_and_timed_steps() {
        let (app, _t) = crate::test_support::demo(31).await;
        let p = crate::test_support::analyst_principal(&app).await;
        open_2020(&app, &p).await;
        let a = file(
            &app,
            "demo-railway",
            "2020-03-02T09:05:00+09:00",
            ReportInput {
                systems: vec![kizuki_domain::report::SystemRef {
                    name: "運行管理システム".into(),
                    vendor: None,
                    shared: false,
                }],
                vendors: vec!["ベンダA".into()],
                ..sample_input()
            },
        )
        .await;
        app.store
            .add_stage(
                a.id,
                NewStage {
                    kind: StageKind::FollowUp,
                    at: at("2020-03-02T12:05:00+09:00"),
                    text: "3時間後に復旧した。".into(),
                    author: None,
                },
            )
            .await
            .unwrap();
        let b = file(
            &app,
            "demo-finance",
            "2020-03-02T10:00:00+09:00",
            ReportInput {
                sector: "finance".into(),
                ..sample_input()
            },
        )
        .await;
        let start = CaseStart {
            reports: vec![a.id, b.id],
            category: None,
        };
        let c = create(&app, &p, 2020, start.clone()).await.unwrap();
        assert_eq!(c.survey_year, Some(2020));
        assert_eq!(c.report_id, Some(a.id));
        assert_eq!(c.content.number, 1);
        assert_eq!(c.content.category.as_str(), "system-failure");
        assert_eq!(c.content.title, "運行管理システムの停止");
        let kinds: Vec<(&str, ActorKind, Option<&str>)> = c
            .content
            .actors
            .iter()
            .map(|x| (x.key.as_str(), x.kind, x.group.as_deref()))
            .collect();
        assert!(
            kinds.contains(&("operator", ActorKind::Operator, None)),
            "{kinds:?}"
        );
        assert!(
            kinds.contains(&("operator-2", ActorKind::Operator, None)),
            "{kinds:?}"
        );
        assert!(
            kinds.contains(&("system", ActorKind::System, Some("operator"))),
            "{kinds:?}"
        );
        assert!(
            kinds.contains(&("vendor", ActorKind::Vendor, None)),
            "{kinds:?}"
        );
        let steps: Vec<(Option<&str>, &str, &str)> = c
            .content
            .steps
            .iter()
            .map(|s| (s.time.as_deref(), s.text.as_str(), s.actors[0].as_str()))
            .collect();
        assert_eq!(
            steps,
            vec![
                (Some("3月2日 9:05"), "第一報", "operator"),
                (Some("3月2日 10:00"), "第一報", "operator-2"),
                (Some("3月2日 12:05"), "3時間後に復旧した。", "operator"),
            ]
        );
        // The same report again is refused, naming the case it already is.
        let Err(AppError::Validation(errs)) = create(&app, &p, 2020, start).await else {
            panic!("report {} is already case 1", a.id);
        };
        assert!(errs.for_field("reports[0]").is_some(), "{errs}");
        // A blank case takes the next number.
        let blank = create(&app, &p, 2020, CaseStart::default()).await.unwrap();
        assert_eq!(blank.content.number, 2);
        assert_eq!(blank.report_id, None);
    }

    #[tokio::test]
    async fn a_report_the_principal_cannot_read_is_not_found_and_operators_cannot_start_cases() {
        let (app, _t) = crate::test_support::demo(32).await;
        let p = crate::test_support::analyst_principal(&app).await;
        open_2020(&app, &p).await;
        let Err(AppError::Validation(errs)) = create(
            &app,
            &p,
            2020,
            CaseStart {
                reports: vec![ReportId(987_654)],
                category: None,
            },
        )
        .await
        else {
            panic!("no such report");
        };
        assert!(errs.for_field("reports[0]").is_some(), "{errs}");
        let op = crate::test_support::operator_principal(&app).await;
        assert!(matches!(
            create(&app, &op, 2020, CaseStart::default()).await,
            Err(AppError::Forbidden(_))
        ));
    }
}
