//! Publishing a survey year: an edition of the annual report made of the cases whose
//! operators signed off and that were published, numbered 1..n in their order (a declined or
//! withdrawn case is left out and the numbers close up), with the common lessons' citations
//! following the new numbers. Every edition is kept, so republishing after a change leaves
//! the earlier one downloadable.

use crate::App;
use crate::auth::{self, Principal};
use crate::error::{AppError, AppResult};
use kizuki_annual_report::ReportModel;
use kizuki_domain::access::Action;
use kizuki_domain::case::CaseContent;
use kizuki_domain::survey::SurveyContent;
use kizuki_store::{Edition, NewEdition, Publication, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A case the edition leaves out, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftOut {
    /// Its number in the survey.
    pub number: u32,
    pub title: String,
    /// The sign-off state it was in (`draft`, `sent_to_operator`, …).
    pub state: String,
}

/// Everything an edition is rendered from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EditionSnapshot {
    /// The survey, its common lessons citing the edition's numbers.
    pub survey: SurveyContent,
    /// The published (anonymised) cases, renumbered 1..n.
    pub cases: Vec<CaseContent>,
    /// For each case of the edition, its published page (`2019-3`), by edition number.
    pub slugs: BTreeMap<u32, String>,
    pub left_out: Vec<LeftOut>,
    /// The statistics appendix as it stood when the edition was published, so a report filed
    /// later does not change an edition already out. Editions from before the appendix have
    /// none.
    #[serde(default)]
    pub appendix: Option<kizuki_annual_report::Appendix>,
}

/// What publishing the year now would give, for the page to show before the editor approves.
pub async fn preview(app: &App, p: &Principal, year: i32) -> AppResult<EditionSnapshot> {
    require_publish(app, p, year).await?;
    assemble(app, year).await
}

async fn require_publish(app: &App, p: &Principal, year: i32) -> AppResult<()> {
    let v = auth::viewer(app, p).await?;
    app.store.get_survey(year).await?;
    if auth::decide_survey_as(app, &v, year, Action::Publish)
        .await?
        .is_allowed()
    {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "the annual report is published by the centre's editors".into(),
        ))
    }
}

/// Renumbers the common lessons' citations by `map` (old → new); citations of cases left out
/// are dropped, and so is a lesson left citing none.
pub fn renumber_lessons(survey: &SurveyContent, map: &BTreeMap<u32, u32>) -> SurveyContent {
    let mut out = survey.clone();
    out.common_lessons = survey
        .common_lessons
        .iter()
        .filter_map(|l| {
            let mut cases: Vec<u32> = l.cases.iter().filter_map(|n| map.get(n).copied()).collect();
            cases.sort_unstable();
            cases.dedup();
            (!cases.is_empty()).then(|| kizuki_domain::survey::CommonLesson { cases, ..l.clone() })
        })
        .collect();
    out
}

async fn assemble(app: &App, year: i32) -> AppResult<EditionSnapshot> {
    let survey = app.store.get_survey(year).await?;
    let cases = app.store.list_cases(Some(year)).await?;
    let pubs: BTreeMap<i64, Publication> = app
        .store
        .list_publications(Some(year))
        .await?
        .into_iter()
        .map(|p| (p.case_id.0, p))
        .collect();
    let mut included: Vec<&Publication> = Vec::new();
    let mut left_out = Vec::new();
    for c in &cases {
        match pubs.get(&c.id.0) {
            Some(p) => included.push(p),
            None => {
                let state = crate::publication::states(app, &[c.id])
                    .await?
                    .first()
                    .map_or("draft", |(_, s)| s.code())
                    .to_owned();
                left_out.push(LeftOut {
                    number: c.content.number,
                    title: c.content.title.clone(),
                    state,
                });
            }
        }
    }
    included.sort_by_key(|p| p.number);
    let mut map = BTreeMap::new();
    let mut slugs = BTreeMap::new();
    let mut out_cases = Vec::new();
    for (i, p) in included.iter().enumerate() {
        let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
        map.insert(p.number, n);
        slugs.insert(n, p.slug());
        out_cases.push(CaseContent {
            number: n,
            ..p.content.clone()
        });
    }
    Ok(EditionSnapshot {
        survey: renumber_lessons(&survey.content, &map),
        cases: out_cases,
        slugs,
        left_out,
        appendix: Some(crate::stats::appendix(app, year).await?),
    })
}

/// Approves and publishes the year: a new edition from the cases published now. Refused when
/// no case of the survey is published yet.
pub async fn publish(app: &App, p: &Principal, year: i32) -> AppResult<Edition> {
    publish_dated(app, p, year, app.clock.now()).await
}

/// As [`publish`], with the edition dated `at`: for a past year loaded from files.
pub async fn publish_dated(
    app: &App,
    p: &Principal,
    year: i32,
    at: chrono::DateTime<chrono::Utc>,
) -> AppResult<Edition> {
    require_publish(app, p, year).await?;
    let snap = assemble(app, year).await?;
    if snap.cases.is_empty() {
        return Err(AppError::Refused(format!(
            "{year}年度の調査には公開済みの事例がまだありません。事例ごとに事業者の確認を経て公開してから、年次報告書を公開してください / no case of survey {year} is published yet"
        )));
    }
    let snapshot = serde_json::to_string(&snap)
        .map_err(|e| AppError::Internal(format!("edition snapshot: {e}")))?;
    let e = app
        .store
        .publish_edition(NewEdition {
            survey_year: year,
            snapshot,
            by: p.user_id,
            at,
        })
        .await?;
    crate::security::audit_log::note(
        app,
        crate::security::audit::actor_user(p.user_id),
        crate::security::audit::actions::CHANGE,
        format!("survey:{year}"),
        &serde_json::json!({
            "published_edition": e.number,
            "cases": snap.cases.len(),
            "left_out": snap.left_out.iter().map(|l| l.number).collect::<Vec<_>>(),
        }),
    )
    .await?;
    Ok(e)
}

/// One edition as the portal lists it.
#[derive(Debug, Clone, Serialize)]
pub struct EditionInfo {
    pub survey_year: i32,
    pub number: u32,
    pub published_at: chrono::DateTime<chrono::Utc>,
    pub cases: usize,
    pub left_out: usize,
}

fn decode(e: &Edition) -> AppResult<EditionSnapshot> {
    serde_json::from_str(&e.snapshot).map_err(|err| {
        AppError::Internal(format!(
            "edition {}-{} does not decode: {err}",
            e.survey_year, e.number
        ))
    })
}

/// The year's editions, oldest first. Public: they are published.
pub async fn editions(app: &App, year: i32) -> AppResult<Vec<EditionInfo>> {
    let mut out = Vec::new();
    for e in app.store.editions(year).await? {
        let s = decode(&e)?;
        out.push(EditionInfo {
            survey_year: e.survey_year,
            number: e.number,
            published_at: e.published_at,
            cases: s.cases.len(),
            left_out: s.left_out.len(),
        });
    }
    Ok(out)
}

/// An edition's report model and snapshot: `number`, or the latest when `None`; "not found"
/// before the year's first edition.
pub async fn edition(
    app: &App,
    year: i32,
    number: Option<u32>,
) -> AppResult<(ReportModel, EditionSnapshot, Edition)> {
    let e = match number {
        Some(n) => app.store.edition(year, n).await?,
        None => app
            .store
            .editions(year)
            .await?
            .pop()
            .ok_or_else(|| AppError::from(StoreError::not_found("edition", year)))?,
    };
    let snap = decode(&e)?;
    let imprint =
        crate::survey::annual_report::imprint(app, "発行", e.published_at, Some(e.number)).await?;
    let mut model = kizuki_annual_report::build_report(&snap.survey, &snap.cases, &app.taxonomy)
        .with_imprint(imprint);
    if let Some(a) = &snap.appendix {
        model = model.with_appendix(a.clone());
    }
    Ok((model, snap, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kizuki_domain::survey::CommonLesson;
    use kizuki_domain::taxonomy::Code;

    #[test]
    fn citations_follow_the_new_numbers_and_lessons_of_left_out_cases_go() {
        let tx = kizuki_dataset::default_taxonomy().unwrap();
        let files: Vec<(String, String)> = kizuki_dataset::SURVEY_2019
            .iter()
            .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
            .collect();
        let mut survey = kizuki_dataset::parse_survey_files(&files, &tx)
            .unwrap()
            .survey;
        survey.common_lessons.push(CommonLesson {
            title: "二だけ".into(),
            category: Code("system-failure".into()),
            text: "事例2だけの教訓".into(),
            cases: vec![2],
        });
        // Case 2 left out: 3→2, 4→3, …
        let map: BTreeMap<u32, u32> = [(1, 1), (3, 2), (4, 3), (5, 4), (6, 5), (7, 6)].into();
        let out = renumber_lessons(&survey, &map);
        assert_eq!(out.common_lessons.len(), survey.common_lessons.len() - 1);
        assert_eq!(out.common_lessons[0].cases, vec![1, 2, 3]);
        assert_eq!(out.common_lessons[1].cases, vec![2, 3]);
        assert!(out.common_lessons.iter().all(|l| l.title != "二だけ"));
    }
}
