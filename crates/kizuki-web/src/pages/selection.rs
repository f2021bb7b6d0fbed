//! The case selection page of a survey, for analysts: the ranking with every
//! criterion's score and evidence, analysts' scores with reasons, criteria weights, balance
//! rules, the proposal with why each case is in or out, and confirmation. What is shown of a
//! proposal is its saved snapshot, so a confirmed decision reads the same later.

use super::{done, errors_json, render};
use crate::error::WebError;
use crate::form::FormData;
use crate::session::{Posted, SignedIn};
use crate::state::WebState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kizuki_app::AppError;
use kizuki_app::selection::decisions::{self, SelectionView};
use kizuki_app::selection::{BALANCE, SimilarityOracle};
use kizuki_domain::ids::ReportId;
use kizuki_domain::selection::{
    OverrideInput, RulesInput, SolveOptions, format_total, short_label_in,
};
use kizuki_domain::taxonomy::{Lang, Vocabulary};
use kizuki_domain::{FieldError, ValidationErrors};
use kizuki_store::{SelectionStatus, StoreError};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};

fn page_path(fy: i32) -> String {
    format!("/surveys/{fy}/selection")
}

/// The weights form's box for one criterion.
fn weight_name(key: &str) -> String {
    format!("weight.{key}")
}

/// The saved selection in the shape the template reads.
pub fn view_json(v: &SelectionView, lang: Lang, tx: &kizuki_domain::taxonomy::Taxonomy) -> Value {
    let d = &v.decision;
    let criteria: Vec<Value> = d
        .ranking
        .criteria
        .iter()
        .map(|c| {
            json!({"key": c.key, "short": short_label_in(c, lang),
                   "label": lang.pick(&c.label, &c.label_en),
                   "weight": c.weight, "balance": BALANCE.contains(&c.key.as_str())})
        })
        .collect();
    let chosen: HashMap<ReportId, &str> = d
        .selection
        .chosen
        .iter()
        .map(|c| (c.report_id, lang.pick(&c.why, &c.why_en)))
        .collect();
    let cases: HashMap<ReportId, i64> = v
        .members
        .iter()
        .filter_map(|m| m.case_id.map(|c| (m.report_id, c.0)))
        .collect();
    let title_of: HashMap<ReportId, &str> = d
        .ranking
        .candidates
        .iter()
        .map(|c| (c.report_id, c.title.as_str()))
        .collect();
    let rows: Vec<Value> = d
        .ranking
        .candidates
        .iter()
        .map(|c| {
            let scores: Vec<Value> = c
                .scores
                .iter()
                .map(|s| {
                    json!({"key": s.key, "value": s.value.map(|p| p.get()),
                           "source": s.source, "source_label": s.source.label(lang),
                           "evidence": s.evidence_in(lang),
                           "overridden": s.overridden.as_ref().map(|o| json!({
                               "value": o.value.get(), "evidence": o.evidence_in(lang)}))})
                })
                .collect();
            json!({
                "rank": c.rank, "report_id": c.report_id.0, "title": c.title,
                "org": d.ranking.orgs.get(&c.org_id).cloned().unwrap_or_default(),
                "sector": c.sector.0, "region": c.region.as_ref().map(|r| r.0.clone()),
                "category": c.category.as_ref().map(|r| r.0.clone()),
                "category_evidence": c.category_evidence_in(lang),
                "scores": scores, "total": format_total(c.total_milli),
                "chosen": chosen.contains_key(&c.report_id),
                "case_id": cases.get(&c.report_id),
            })
        })
        .collect();
    let chosen_rows: Vec<Value> = d
        .selection
        .chosen
        .iter()
        .map(|c| {
            json!({"report_id": c.report_id.0, "rank": c.rank,
                   "title": title_of.get(&c.report_id).copied().unwrap_or_default(),
                   "total": format_total(c.total_milli), "why": lang.pick(&c.why, &c.why_en),
                   "case_id": cases.get(&c.report_id)})
        })
        .collect();
    let left_out: Vec<Value> = d
        .selection
        .left_out
        .iter()
        .map(|c| {
            json!({"report_id": c.report_id.0, "rank": c.rank,
                   "title": title_of.get(&c.report_id).copied().unwrap_or_default(),
                   "total": format_total(c.total_milli),
                   "why": lang.pick(&c.why, &c.why_en)})
        })
        .collect();
    let rules: Vec<String> = d
        .selection
        .rules
        .refs()
        .iter()
        .map(|r| r.label(tx, lang))
        .collect();
    json!({
        "id": v.id, "version": v.version,
        "confirmed": v.status == SelectionStatus::Confirmed,
        "confirmed_by": v.confirmed_by, "confirmed_at": v.confirmed_at,
        "proposed_by": d.proposed_by, "proposed_at": d.proposed_at,
        "similarity": d.ranking.similarity,
        "criteria": criteria, "rows": rows, "chosen": chosen_rows, "left_out": left_out,
        "rules": rules, "rules_input": d.rules,
        "overrides": d.overrides,
        "total": format_total(d.selection.total_milli),
        // Worded by the page in the viewer's language; the search's node count is an
        // internal figure and stays out of it.
        "optimality": match d.selection.optimality {
            kizuki_domain::selection::Optimality::Proven => json!({"proven": true}),
            kizuki_domain::selection::Optimality::Budget { bound_milli, gap_milli } => json!({
                "proven": false, "bound": format_total(bound_milli),
                "gap": format_total(gap_milli)}),
        },
    })
}

/// Renders the page; `errors` and `form` come back after a refused post.
async fn page(
    st: &WebState,
    s: &SignedIn,
    fy: i32,
    errors: Value,
    form: Value,
    status: StatusCode,
) -> Result<Response, WebError> {
    let survey = decisions::survey(&st.app, &s.p, fy).await?;
    let current = decisions::current(&st.app, &s.p, fy).await?;
    let overrides = decisions::overrides(&st.app, &s.p, fy).await?;
    let lang = s.viewer.lang;
    let criteria: Vec<Value> = survey
        .content
        .criteria
        .iter()
        .map(|c| {
            // The weights box shows what was just posted (a refused value included), else
            // the survey's weight.
            let input = form
                .get(weight_name(&c.key))
                .and_then(Value::as_str)
                .map_or_else(|| c.weight.to_string(), str::to_owned);
            json!({"key": c.key, "short": short_label_in(c, lang),
                   "label": lang.pick(&c.label, &c.label_en),
                   "description": c.description, "weight": c.weight, "main": c.main,
                   "input": input, "balance": BALANCE.contains(&c.key.as_str())})
        })
        .collect();
    let categories: Vec<Value> = st
        .app
        .taxonomy
        .terms(Vocabulary::CaseCategory)
        .iter()
        .map(|t| json!({"code": t.code, "label": t.label(lang)}))
        .collect();
    let view = current
        .as_ref()
        .map(|v| view_json(v, lang, &st.app.taxonomy));
    let rules = current
        .as_ref()
        .map_or_else(RulesInput::default, |v| v.decision.rules.clone());
    // What the forms show: what was just posted, else the rules of the proposal on show.
    let posted = |k: &str, fallback: Option<i64>| match form.get(k).and_then(Value::as_str) {
        Some(v) => v.to_owned(),
        None => fallback.map(|n| n.to_string()).unwrap_or_default(),
    };
    let mins: BTreeMap<String, String> = st
        .app
        .taxonomy
        .terms(Vocabulary::CaseCategory)
        .iter()
        .map(|t| {
            let key = format!("min.{}", t.code);
            (
                t.code.clone(),
                posted(&key, rules.min_per_category.get(&t.code).copied()),
            )
        })
        .collect();
    let ids = |k: &str, fallback: &[i64]| match form.get(k).and_then(Value::as_str) {
        Some(v) => v.to_owned(),
        None => fallback
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(" "),
    };
    let rform = json!({
        "count": posted("count", Some(rules.count)),
        "max_per_sector": posted("max_per_sector", rules.max_per_sector),
        "max_per_org": posted("max_per_org", rules.max_per_org),
        "min_regions": posted("min_regions", rules.min_regions),
        "pinned": ids("pinned", &rules.pinned),
        "excluded": ids("excluded", &rules.excluded),
        "min": mins,
    });
    // One message beside the pinned / excluded box for an error on any id in it.
    let mut errors = errors;
    if let Value::Object(m) = &mut errors {
        for list in ["rules.pinned", "rules.excluded"] {
            let first = m
                .iter()
                .find(|(k, _)| k.starts_with(&format!("{list}[")))
                .map(|(_, v)| v.clone());
            if let Some(v) = first {
                m.entry(list.to_owned()).or_insert(v);
            }
        }
    }
    let oform = json!({
        "report_id": posted("report_id", None), "key": posted("key", None),
        "value": posted("value", None), "reason": posted("reason", None),
    });
    // The year's cases with where their operators stand, the replacement of a declined one,
    // and every decision taken so far.
    let mut cooperation = Vec::new();
    for c in kizuki_app::survey::cases::list(&st.app, &s.p, Some(fy)).await? {
        let v = kizuki_app::survey::cooperation::view(&st.app, &s.p, c.id).await?;
        cooperation.push(json!({"case_id": c.id.0, "number": c.content.number,
                                "title": c.content.title, "report_id": c.report_id.map(|r| r.0),
                                "status": v.status.map(|x| x.code()), "seq": v.history.len()}));
    }
    let replacement = kizuki_app::survey::cooperation::replacement(&st.app, &s.p, fy).await?;
    let history: Vec<Value> = decisions::history(&st.app, &s.p, fy)
        .await?
        .iter()
        .map(|h| {
            json!({"id": h.id, "status": h.status.code(), "proposed_by": h.decision.proposed_by,
                   "proposed_at": h.decision.proposed_at, "confirmed_at": h.confirmed_at,
                   "chosen": h.members.iter().filter(|m| m.chosen).count()})
        })
        .collect();
    let mut res = render(
        st,
        &s.viewer,
        "surveys/selection.html",
        json!({
            "year": fy, "title": survey.content.title, "survey_version": survey.version,
            "criteria": criteria, "categories": categories, "overrides": overrides,
            "view": view, "rform": rform, "oform": oform, "errors": errors,
            "cooperation": cooperation, "replacement": replacement, "history": history,
        }),
    )?;
    *res.status_mut() = status;
    Ok(res)
}

pub async fn show(
    State(st): State<WebState>,
    s: SignedIn,
    Path(fy): Path<i32>,
) -> Result<Response, WebError> {
    page(&st, &s, fy, json!({}), json!({}), StatusCode::OK).await
}

/// A refused post: validation errors go back on the page; anything else is the error page.
async fn refused(
    st: &WebState,
    s: &SignedIn,
    fy: i32,
    e: AppError,
    f: &FormData,
    fields: &[&str],
) -> Result<Response, WebError> {
    match e {
        AppError::Validation(v) => {
            let form: serde_json::Map<String, Value> = fields
                .iter()
                .map(|k| ((*k).to_owned(), json!(f.get(k))))
                .chain(
                    st.app
                        .taxonomy
                        .terms(Vocabulary::CaseCategory)
                        .iter()
                        .map(|t| format!("min.{}", t.code))
                        .filter(|k| f.has(k))
                        .map(|k| {
                            let v = f.get(&k).to_owned();
                            (k, json!(v))
                        }),
                )
                .collect();
            page(
                st,
                s,
                fy,
                errors_json(&v, s.viewer.lang),
                Value::Object(form),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        AppError::Refused(msg) => {
            st.sessions.set_flash(&s.viewer.session.id, &msg);
            Ok(axum::response::Redirect::to(&page_path(fy)).into_response())
        }
        AppError::Store(StoreError::Conflict { .. }) => {
            Ok(done(st, &s.viewer, "selection.stale", &page_path(fy)))
        }
        other => Err(other.into()),
    }
}

/// A whole number from the form, or nothing when blank; a bad one is an error on `field`
/// (the rules' field name, so it shows where the engine's errors show).
fn opt_i64(f: &FormData, name: &str, field: &str, errs: &mut ValidationErrors) -> Option<i64> {
    let v = f.get(name).trim();
    if v.is_empty() {
        return None;
    }
    match v.parse() {
        Ok(n) => Some(n),
        Err(_) => {
            errs.push(FieldError::invalid(
                field,
                "整数を入力してください / enter a whole number",
            ));
            None
        }
    }
}

/// Report ids typed in one box, separated by spaces, commas or 、; `#` before an id is
/// allowed (as the ranking shows them). A token that is not an id is an error on `field`.
fn id_list(f: &FormData, name: &str, field: &str, errs: &mut ValidationErrors) -> Vec<i64> {
    let mut out = Vec::new();
    for token in f
        .get(name)
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '、' | '，'))
        .filter(|t| !t.is_empty())
    {
        match token.trim_start_matches(['#', '＃']).parse::<i64>() {
            Ok(n) => out.push(n),
            Err(_) => errs.push(FieldError::invalid(
                field,
                format!("「{token}」は報告IDではありません / not a report id"),
            )),
        }
    }
    out
}

/// Every rule field of the form, so a refused post shows them as typed.
const RULE_FIELDS: [&str; 6] = [
    "count",
    "max_per_sector",
    "max_per_org",
    "min_regions",
    "pinned",
    "excluded",
];

/// Rules → a new proposal, saved as a draft.
pub async fn propose(
    State(st): State<WebState>,
    s: SignedIn,
    Path(fy): Path<i32>,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    s.p.require_analyst()?;
    let mut errs = ValidationErrors::default();
    let mut min_per_category = BTreeMap::new();
    for t in st.app.taxonomy.terms(Vocabulary::CaseCategory) {
        let name = format!("min.{}", t.code);
        let field = format!("rules.min_per_category.{}", t.code);
        if let Some(n) = opt_i64(&f, &name, &field, &mut errs).filter(|&n| n > 0) {
            min_per_category.insert(t.code.clone(), n);
        }
    }
    let rules = RulesInput {
        count: opt_i64(&f, "count", "rules.count", &mut errs)
            .unwrap_or(kizuki_domain::selection::DEFAULT_COUNT as i64),
        min_per_category,
        max_per_sector: opt_i64(&f, "max_per_sector", "rules.max_per_sector", &mut errs),
        min_regions: opt_i64(&f, "min_regions", "rules.min_regions", &mut errs),
        max_per_org: opt_i64(&f, "max_per_org", "rules.max_per_org", &mut errs),
        pinned: id_list(&f, "pinned", "rules.pinned", &mut errs),
        excluded: id_list(&f, "excluded", "rules.excluded", &mut errs),
    };
    let out = match errs.into_result(()) {
        Err(e) => Err(AppError::Validation(e)),
        Ok(()) => {
            let oracle = crate::search::selection_oracle(&st).await;
            decisions::propose_and_save(
                &st.app,
                &s.p,
                fy,
                rules,
                SolveOptions::default(),
                oracle.as_ref().map(|o| o as &dyn SimilarityOracle),
            )
            .await
        }
    };
    match out {
        Ok(_) => Ok(done(&st, &s.viewer, "selection.proposed", &page_path(fy))),
        Err(e) => refused(&st, &s, fy, e, &f, &RULE_FIELDS).await,
    }
}

pub async fn set_override(
    State(st): State<WebState>,
    s: SignedIn,
    Path(fy): Path<i32>,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    let input = OverrideInput {
        report_id: f.i64("report_id").unwrap_or(0),
        key: f.get("key").to_owned(),
        value: f.i64("value").unwrap_or(-1),
        reason: f.get("reason").to_owned(),
    };
    match decisions::set_override(&st.app, &s.p, fy, &input).await {
        Ok(_) => Ok(done(&st, &s.viewer, "flash.saved", &page_path(fy))),
        Err(e) => refused(&st, &s, fy, e, &f, &["report_id", "key", "value", "reason"]).await,
    }
}

pub async fn delete_override(
    State(st): State<WebState>,
    s: SignedIn,
    Path(fy): Path<i32>,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    let id = ReportId(f.i64("report_id").unwrap_or(0));
    decisions::remove_override(&st.app, &s.p, fy, id, f.get("key")).await?;
    Ok(done(&st, &s.viewer, "flash.saved", &page_path(fy)))
}

pub async fn set_weights(
    State(st): State<WebState>,
    s: SignedIn,
    Path(fy): Path<i32>,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    let survey = decisions::survey(&st.app, &s.p, fy).await?;
    let mut weights = BTreeMap::new();
    let mut bad = ValidationErrors::default();
    // Every box of the form, so a refused post shows them all as typed.
    let names: Vec<String> = survey
        .content
        .criteria
        .iter()
        .map(|c| weight_name(&c.key))
        .collect();
    for (c, name) in survey.content.criteria.iter().zip(&names) {
        let v = f.get(name).trim();
        if v.is_empty() {
            continue;
        }
        match v.parse::<f64>() {
            Ok(w) => {
                weights.insert(c.key.clone(), w);
            }
            Err(_) => bad.push(FieldError::invalid(
                format!("weights.{}", c.key),
                "数値を入力してください / enter a number",
            )),
        }
    }
    let version = f.i64("survey_version").unwrap_or(0);
    let out = match bad.into_result(()) {
        Err(e) => Err(AppError::Validation(e)),
        Ok(()) => decisions::set_weights(&st.app, &s.p, fy, version, &weights)
            .await
            .map(|_| ()),
    };
    match out {
        Ok(()) => Ok(done(
            &st,
            &s.viewer,
            "selection.weights_saved",
            &page_path(fy),
        )),
        Err(e) => {
            let fields: Vec<&str> = names.iter().map(String::as_str).collect();
            refused(&st, &s, fy, e, &f, &fields).await
        }
    }
}

pub async fn confirm(
    State(st): State<WebState>,
    s: SignedIn,
    Path(fy): Path<i32>,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    let id = f.i64("id").unwrap_or(0);
    let version = f.i64("version").unwrap_or(0);
    match decisions::confirm(&st.app, &s.p, fy, id, version).await {
        Ok(_) => Ok(done(&st, &s.viewer, "selection.confirmed", &page_path(fy))),
        Err(e) => refused(&st, &s, fy, e, &f, &[]).await,
    }
}
