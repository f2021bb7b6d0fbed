//! The recorded side of case selection: analysts' scores with reasons, criteria
//! weights per survey, proposals saved as drafts, and confirmation, which stores the decision
//! and turns the chosen reports into the survey's case drafts.
//!
//! - A proposal is computed from the survey's stored overrides and the rules the analyst
//!   gives, and saved at once with everything it was computed from ([`Decision`]); the page
//!   and the API show that snapshot, never a recomputation, so a confirmed decision reads the
//!   same however the reports change afterwards.
//! - A survey has one confirmed decision. Once confirmed, new proposals are refused.
//! - Confirming creates a case draft ([`crate::survey::authoring::from_reports`]) for every chosen
//!   report that has no case in the survey yet. Cases the survey already has (the 2019
//!   reference cases) are kept untouched; a chosen report that already has one keeps it. New
//!   drafts are numbered after the highest existing number, grouped by case category (in the
//!   taxonomy's order) and by rank within a category.
//!
//! Every function requires an analyst (analyst, editor or admin).

use crate::App;
use crate::auth::Principal;
use crate::error::{AppError, AppResult};
use crate::selection::{BALANCE, Ranking, SelectionRequest, SimilarityOracle, propose};
use chrono::{DateTime, Utc};
use kizuki_domain::clock::jst_date;
use kizuki_domain::ids::{ReportId, UserId};
use kizuki_domain::report::Report;
use kizuki_domain::selection::{OverrideInput, RulesInput, Selection, SolveOptions};
use kizuki_domain::survey::Survey;
use kizuki_domain::taxonomy::{Code, Vocabulary};
use kizuki_domain::{FieldError, FieldErrorKind, ValidationErrors};
use kizuki_store::{
    CaseDraft, NewSelection, ScoreOverrideRecord, SelectionMember, SelectionStatus, StoreError,
    StoredSelection,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// What an unwritten part of a case draft says until an analyst writes it.
pub use crate::survey::authoring::UNWRITTEN;

/// Everything a saved proposal was computed from and what came out, stored as one JSON
/// snapshot with the selection.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Decision {
    pub fiscal_year: i32,
    pub rules: RulesInput,
    /// The analysts' scores in force, with who set them and when.
    pub overrides: Vec<ScoreOverrideRecord>,
    pub options: SolveOptions,
    pub ranking: Ranking,
    pub selection: Selection,
    /// Who proposed it, by name as it was then.
    pub proposed_by: Option<String>,
    pub proposed_at: DateTime<Utc>,
}

/// A saved selection as the page and the API show it.
#[derive(Debug, Clone, Serialize)]
pub struct SelectionView {
    pub id: i64,
    pub version: i64,
    pub status: SelectionStatus,
    pub confirmed_by: Option<String>,
    pub confirmed_at: Option<DateTime<Utc>>,
    /// Chosen and not, with the case each chosen report became.
    pub members: Vec<SelectionMember>,
    pub decision: Decision,
}

fn survey_period_check(s: &Survey, r: &Report) -> bool {
    s.content.in_period(jst_date(r.reported_at))
}

async fn user_name(app: &App, id: Option<UserId>) -> Option<String> {
    match id {
        Some(u) => app
            .store
            .get_user(u)
            .await
            .ok()
            .map(|u| u.user.display_name),
        None => None,
    }
}

async fn view(app: &App, s: StoredSelection) -> AppResult<SelectionView> {
    let decision: Decision = serde_json::from_str(&s.snapshot).map_err(|e| {
        AppError::Internal(format!("selection {} snapshot does not decode: {e}", s.id))
    })?;
    Ok(SelectionView {
        id: s.id,
        version: s.version,
        status: s.status,
        confirmed_by: user_name(app, s.confirmed_by).await,
        confirmed_at: s.confirmed_at,
        members: s.members,
        decision,
    })
}

/// The survey's overrides (analysts' scores with reasons).
pub async fn overrides(
    app: &App,
    p: &Principal,
    fiscal_year: i32,
) -> AppResult<Vec<ScoreOverrideRecord>> {
    p.require_analyst()?;
    Ok(app.store.list_score_overrides(fiscal_year).await?)
}

/// The survey whose selection an analyst works on: its criteria label the scores.
pub async fn survey(app: &App, p: &Principal, fiscal_year: i32) -> AppResult<Survey> {
    p.require_analyst()?;
    Ok(app.store.get_survey(fiscal_year).await?)
}

/// Sets an analyst's score on one criterion of one candidate, with its reason. Fields:
/// `report_id` (not a report of the survey period), `key` (unknown, or a balance criterion
/// the rules stand for), `value` (0–3), `reason` (required).
pub async fn set_override(
    app: &App,
    p: &Principal,
    fiscal_year: i32,
    input: &OverrideInput,
) -> AppResult<ScoreOverrideRecord> {
    p.require_analyst()?;
    let survey = app.store.get_survey(fiscal_year).await?;
    let o = input.parse(&survey.content.criteria)?;
    if BALANCE.contains(&o.key.as_str()) {
        return Err(FieldError::invalid(
            "key",
            "地域性・分野のバランスは選定ルールで扱います / balance criteria are set by the rules",
        )
        .into());
    }
    let in_period = match app.store.get_report(o.report_id).await {
        Ok(r) => survey_period_check(&survey, &r),
        Err(StoreError::NotFound { .. }) => false,
        Err(e) => return Err(e.into()),
    };
    if !in_period {
        return Err(FieldError::invalid(
            "report_id",
            format!(
                "報告{}はこの調査の対象期間の報告ではありません / not a report of the survey period",
                o.report_id
            ),
        )
        .into());
    }
    Ok(app
        .store
        .put_score_override(ScoreOverrideRecord {
            survey_year: fiscal_year,
            report_id: o.report_id,
            key: o.key,
            value: o.value.get(),
            reason: o.reason,
            by: Some(p.user_id),
            at: app.clock.now(),
        })
        .await?)
}

pub async fn remove_override(
    app: &App,
    p: &Principal,
    fiscal_year: i32,
    report_id: ReportId,
    key: &str,
) -> AppResult<()> {
    p.require_analyst()?;
    Ok(app
        .store
        .delete_score_override(fiscal_year, report_id, key)
        .await?)
}

/// Changes criteria weights (by criterion key) of the survey, based on `expected_version`.
/// Fields: `weights.<key>` (unknown criterion, or not within 0–10).
pub async fn set_weights(
    app: &App,
    p: &Principal,
    fiscal_year: i32,
    expected_version: i64,
    weights: &BTreeMap<String, f64>,
) -> AppResult<Survey> {
    p.require_analyst()?;
    let survey = app.store.get_survey(fiscal_year).await?;
    let mut content = survey.content;
    let mut errs = ValidationErrors::default();
    for (key, &w) in weights {
        match content.criteria.iter_mut().find(|c| &c.key == key) {
            None => errs.push(FieldError::new(
                format!("weights.{key}"),
                FieldErrorKind::UnknownCode { code: key.clone() },
            )),
            Some(_) if !(w.is_finite() && (0.0..=10.0).contains(&w)) => errs.push(FieldError::new(
                format!("weights.{key}"),
                FieldErrorKind::OutOfRange { min: 0, max: 10 },
            )),
            Some(c) => c.weight = w,
        }
    }
    errs.into_result(())?;
    let numbers: Vec<u32> = app
        .store
        .list_cases(Some(fiscal_year))
        .await?
        .iter()
        .map(|c| c.content.number)
        .collect();
    let content = content.parse(&app.taxonomy, &numbers)?;
    Ok(app.store.update_survey(expected_version, content).await?)
}

fn confirmed_refusal(fy: i32) -> AppError {
    AppError::Refused(format!(
        "{fy}年度の選定は確定済みです。確定した選定は変更できません / the {fy} selection is already confirmed and cannot change"
    ))
}

/// The survey's stored analyst scores that still apply: scores for reports that have since
/// left the period (their date was corrected) do not; the engine would refuse them as unknown
/// candidates. No access check: callers check (the CLI runs as the data dir's owner).
pub async fn applicable_overrides(
    app: &App,
    survey: &Survey,
) -> AppResult<Vec<ScoreOverrideRecord>> {
    let mut stored = Vec::new();
    for o in app
        .store
        .list_score_overrides(survey.content.fiscal_year.year())
        .await?
    {
        match app.store.get_report(o.report_id).await {
            Ok(r) if survey_period_check(survey, &r) => stored.push(o),
            Ok(_) | Err(StoreError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(stored)
}

/// Computes a proposal under `rules` with the survey's stored overrides and saves it as a
/// draft. `oracle` counts similar cases (the search index when there is one; `None` for the
/// built-in comparison). Errors as [`propose`]'s; refused once the survey's selection is
/// confirmed.
pub async fn propose_and_save(
    app: &App,
    p: &Principal,
    fiscal_year: i32,
    rules: RulesInput,
    options: SolveOptions,
    oracle: Option<&dyn SimilarityOracle>,
) -> AppResult<SelectionView> {
    p.require_analyst()?;
    let survey = app.store.get_survey(fiscal_year).await?;
    if app.store.confirmed_selection(fiscal_year).await?.is_some() {
        return Err(confirmed_refusal(fiscal_year));
    }
    let stored = applicable_overrides(app, &survey).await?;
    let req = SelectionRequest {
        fiscal_year,
        rules: rules.clone(),
        overrides: stored
            .iter()
            .map(|o| OverrideInput {
                report_id: o.report_id.0,
                key: o.key.clone(),
                value: i64::from(o.value),
                reason: o.reason.clone(),
            })
            .collect(),
        category_map: None,
        options,
    };
    let proposal = propose(app, &req, oracle).await?;
    let now = app.clock.now();
    let chosen: HashMap<ReportId, ()> = proposal
        .selection
        .chosen
        .iter()
        .map(|c| (c.report_id, ()))
        .collect();
    let members = proposal
        .ranking
        .candidates
        .iter()
        .map(|c| SelectionMember {
            report_id: c.report_id,
            chosen: chosen.contains_key(&c.report_id),
            rank: u32::try_from(c.rank).unwrap_or(u32::MAX),
            category: c.category.as_ref().map(|c| c.0.clone()),
            case_id: None,
        })
        .collect();
    let decision = Decision {
        fiscal_year,
        rules: proposal.selection.rules.input(),
        overrides: stored,
        options,
        ranking: proposal.ranking,
        selection: proposal.selection,
        proposed_by: Some(p.display_name.clone()),
        proposed_at: now,
    };
    let snapshot = serde_json::to_string(&decision)
        .map_err(|e| AppError::Internal(format!("selection snapshot: {e}")))?;
    let saved = app
        .store
        .save_selection(NewSelection {
            survey_year: fiscal_year,
            snapshot,
            members,
            by: Some(p.user_id),
            at: now,
        })
        .await?;
    view(app, saved).await
}

/// The survey's confirmed decision, or else its latest proposal; `None` before any.
pub async fn current(
    app: &App,
    p: &Principal,
    fiscal_year: i32,
) -> AppResult<Option<SelectionView>> {
    p.require_analyst()?;
    app.store.get_survey(fiscal_year).await?;
    if let Some(s) = app.store.confirmed_selection(fiscal_year).await? {
        return Ok(Some(view(app, s).await?));
    }
    match app
        .store
        .list_selections(fiscal_year)
        .await?
        .into_iter()
        .next()
    {
        Some(s) => Ok(Some(view(app, s).await?)),
        None => Ok(None),
    }
}

/// Reopens the survey's confirmed selection `id`, based on `expected_version`: it stays in
/// the history as `reopened`, its cases stay, and a new proposal can be made and confirmed
/// (new drafts only for reports that have no case yet).
pub async fn reopen(
    app: &App,
    p: &Principal,
    fiscal_year: i32,
    id: i64,
    expected_version: i64,
) -> AppResult<SelectionView> {
    p.require_analyst()?;
    let s = app.store.get_selection(id).await?;
    if s.survey_year != fiscal_year {
        return Err(StoreError::not_found("selection", id).into());
    }
    if s.status != SelectionStatus::Confirmed {
        return Err(AppError::Refused(format!(
            "確定していない選定は再開できません（{}） / only a confirmed selection can be reopened",
            s.status.code()
        )));
    }
    let done = app
        .store
        .reopen_selection(id, expected_version, Some(p.user_id), app.clock.now())
        .await?;
    crate::security::audit_log::note(
        app,
        crate::security::audit::actor_user(p.user_id),
        crate::security::audit::actions::CHANGE,
        format!("selection:{id}"),
        &serde_json::json!({"survey_year": fiscal_year, "status": "reopened", "version": done.version}),
    )
    .await?;
    view(app, done).await
}

/// Every saved selection of the survey, newest first: the history of its decisions.
pub async fn history(app: &App, p: &Principal, fiscal_year: i32) -> AppResult<Vec<SelectionView>> {
    p.require_analyst()?;
    let mut out = Vec::new();
    for s in app.store.list_selections(fiscal_year).await? {
        out.push(view(app, s).await?);
    }
    Ok(out)
}

/// Confirms the saved proposal `id` of the survey, based on `expected_version` (a stale one is
/// [`StoreError::Conflict`]), and creates the case drafts (see the module notes).
pub async fn confirm(
    app: &App,
    p: &Principal,
    fiscal_year: i32,
    id: i64,
    expected_version: i64,
) -> AppResult<SelectionView> {
    p.require_analyst()?;
    let s = app.store.get_selection(id).await?;
    if s.survey_year != fiscal_year {
        return Err(StoreError::not_found("selection", id).into());
    }
    if let Some(done) = app.store.confirmed_selection(fiscal_year).await?
        && done.id != id
    {
        return Err(confirmed_refusal(fiscal_year));
    }
    if s.status == SelectionStatus::Confirmed {
        return Err(confirmed_refusal(fiscal_year));
    }
    if s.version != expected_version {
        return Err(StoreError::Conflict {
            entity: "selection",
            current: kizuki_store::Current::Selection(Box::new(s)),
        }
        .into());
    }
    let existing = app.store.list_cases(Some(fiscal_year)).await?;
    let mut next = existing.iter().map(|c| c.content.number).max().unwrap_or(0) + 1;
    let has_case: Vec<ReportId> = existing.iter().filter_map(|c| c.report_id).collect();
    let order: HashMap<&str, usize> = app
        .taxonomy
        .terms(Vocabulary::CaseCategory)
        .iter()
        .enumerate()
        .map(|(i, t)| (t.code.as_str(), i))
        .collect();
    let mut new: Vec<&SelectionMember> = s
        .members
        .iter()
        .filter(|m| m.chosen && !has_case.contains(&m.report_id))
        .collect();
    for m in &new {
        if m.category.is_none() {
            return Err(AppError::Refused(format!(
                "報告{}は事例分類が決まらないため事例の下書きを作れません。事象・原因を見直してから選定し直してください / report {} has no case category",
                m.report_id, m.report_id
            )));
        }
    }
    new.sort_by_key(|m| {
        (
            m.category
                .as_deref()
                .and_then(|c| order.get(c).copied())
                .unwrap_or(usize::MAX),
            m.rank,
        )
    });
    let orgs: HashMap<_, _> = crate::reports::org_names(app).await?.into_iter().collect();
    let mut drafts = Vec::new();
    for m in new {
        let report = app.store.get_report(m.report_id).await?;
        let category = Code(m.category.clone().unwrap_or_default());
        let operator = orgs
            .get(&report.org_id)
            .cloned()
            .unwrap_or_else(|| "事業者".to_owned());
        let content = crate::survey::authoring::from_reports(
            next,
            category,
            &[(report, operator)],
            &app.taxonomy,
        )
        .parse(&app.taxonomy)?;
        drafts.push(CaseDraft {
            report_id: m.report_id,
            content,
        });
        next += 1;
    }
    let done = app
        .store
        .confirm_selection(
            id,
            expected_version,
            Some(p.user_id),
            app.clock.now(),
            drafts,
        )
        .await?;
    view(app, done).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::at;
    use kizuki_domain::report::{ReportInput, StageKind};
    use kizuki_domain::user::Role;
    use kizuki_store::{NewReport, NewStage};

    async fn demo() -> (App, Principal, kizuki_testkit::TestApp) {
        let (app, dir) = crate::test_support::demo(5).await;
        let analyst = app
            .store
            .list_users()
            .await
            .unwrap()
            .into_iter()
            .find(|u| u.user.role == Role::Analyst)
            .unwrap();
        (app, Principal::from_user(&analyst), dir)
    }

    async fn file_2019(app: &App, title: &str, event: &str, cause: &str) -> Report {
        let org = app.store.org_by_key("demo-finance").await.unwrap().unwrap();
        let details = ReportInput {
            title: title.into(),
            sector: "finance".into(),
            event_type: event.into(),
            causes: vec![cause.into()],
            summary: format!("{title}の概要。"),
            actual_harm: true,
            severity: Some(3),
            people_affected: Some(500_000),
            ..Default::default()
        }
        .parse(&app.taxonomy)
        .unwrap();
        app.store
            .create_report(NewReport {
                org_id: org.id,
                details,
                first: NewStage {
                    kind: StageKind::First,
                    at: at("2019-06-01T10:00:00+09:00"),
                    text: "第一報".into(),
                    author: None,
                },
            })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn confirming_keeps_the_existing_cases_and_numbers_new_drafts_after_them() {
        let (app, p, _dir) = demo().await;
        let attack = file_2019(&app, "新種の攻撃", "intrusion", "insider").await;
        let outage = file_2019(&app, "大規模障害", "unavailability", "equipment-failure").await;
        let before = app.store.list_cases(Some(2019)).await.unwrap();
        assert_eq!(before.len(), 7);
        set_override(
            &app,
            &p,
            2019,
            &OverrideInput {
                report_id: attack.id.0,
                key: "lesson-usefulness".into(),
                value: 3,
                reason: "内部不正の教訓".into(),
            },
        )
        .await
        .unwrap();
        let bad = set_override(
            &app,
            &p,
            2019,
            &OverrideInput {
                report_id: attack.id.0,
                key: "region".into(),
                value: 3,
                reason: "x".into(),
            },
        )
        .await;
        assert!(matches!(bad, Err(AppError::Validation(_))), "{bad:?}");
        let rules = RulesInput {
            count: 9,
            ..Default::default()
        };
        let draft = propose_and_save(&app, &p, 2019, rules, SolveOptions::default(), None)
            .await
            .unwrap();
        assert_eq!(draft.status, SelectionStatus::Draft);
        // The 2019 data's two scores for each of its seven cases, and the one just set.
        assert_eq!(draft.decision.overrides.len(), 15);
        assert!(
            draft
                .decision
                .overrides
                .iter()
                .any(|o| o.report_id == attack.id && o.reason == "内部不正の教訓")
        );
        assert_eq!(draft.decision.selection.chosen.len(), 9);
        let stale = confirm(&app, &p, 2019, draft.id, draft.version + 1).await;
        assert!(
            matches!(stale, Err(AppError::Store(StoreError::Conflict { .. }))),
            "{stale:?}"
        );
        let done = confirm(&app, &p, 2019, draft.id, draft.version)
            .await
            .unwrap();
        assert_eq!(done.status, SelectionStatus::Confirmed);
        assert_eq!(done.confirmed_by.as_deref(), Some(p.display_name.as_str()));
        let after = app.store.list_cases(Some(2019)).await.unwrap();
        assert_eq!(after.len(), 9);
        for old in &before {
            let now = after.iter().find(|c| c.id == old.id).unwrap();
            assert_eq!(now, old, "existing case {} untouched", old.content.number);
        }
        // Categories in taxonomy order: the outage (system failure) before the attack.
        let n8 = app.store.case_by_number(2019, 8).await.unwrap().unwrap();
        let n9 = app.store.case_by_number(2019, 9).await.unwrap().unwrap();
        assert_eq!(n8.report_id, Some(outage.id));
        assert_eq!(n8.content.category.as_str(), "system-failure");
        assert_eq!(n9.report_id, Some(attack.id));
        assert_eq!(n9.content.sections.background, vec![UNWRITTEN.to_owned()]);
        assert_eq!(n9.content.title, "新種の攻撃");
        assert!(
            done.members
                .iter()
                .filter(|m| m.chosen)
                .all(|m| m.case_id.is_some())
        );
        // One decision per survey.
        let again = propose_and_save(
            &app,
            &p,
            2019,
            RulesInput::default(),
            SolveOptions::default(),
            None,
        )
        .await;
        assert!(matches!(again, Err(AppError::Refused(_))), "{again:?}");
        let shown = current(&app, &p, 2019).await.unwrap().unwrap();
        assert_eq!(shown.id, done.id);
    }

    #[tokio::test]
    async fn weights_change_the_survey_and_reporters_are_refused() {
        let (app, p, _dir) = demo().await;
        let s = app.store.get_survey(2019).await.unwrap();
        let w: BTreeMap<String, f64> = [("novelty".to_owned(), 2.5)].into();
        let out = set_weights(&app, &p, 2019, s.version, &w).await.unwrap();
        let novelty = out.content.criteria.iter().find(|c| c.key == "novelty");
        assert_eq!(novelty.map(|c| c.weight), Some(2.5));
        let stale = set_weights(&app, &p, 2019, s.version, &w).await;
        assert!(matches!(
            stale,
            Err(AppError::Store(StoreError::Conflict { .. }))
        ));
        let bad: BTreeMap<String, f64> = [("ufo".to_owned(), 1.0)].into();
        match set_weights(&app, &p, 2019, out.version, &bad).await {
            Err(AppError::Validation(e)) => assert!(e.for_field("weights.ufo").is_some()),
            other => panic!("{other:?}"),
        }
        let reporter = Principal {
            role: Role::Reporter,
            ..p
        };
        assert!(matches!(
            current(&app, &reporter, 2019).await,
            Err(AppError::Forbidden(_))
        ));
    }
}
