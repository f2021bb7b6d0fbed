//! Running a survey year in the browser: open a year (copying an earlier one), edit its
//! content with the conflict view on a stale save, write its common lessons, and start a case
//! from reports or blank; the operators' cooperation with each selected case, reopening the
//! selection and taking the replacement of a declined case; approving and publishing the year.

use super::{done, errors_json, render, render_as};
use crate::error::WebError;
use crate::form::FormData;
use crate::session::{Posted, SignedIn};
use crate::state::WebState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use kizuki_app::AppError;
use kizuki_app::publication::year as edition;
use kizuki_app::survey::authoring::{self, CaseStart};
use kizuki_app::survey::year::{self, CriterionRow, LessonRow, SurveyForm};
use kizuki_app::survey::{cases, cooperation};
use kizuki_domain::ids::{CaseId, ReportId};
use kizuki_domain::survey::Survey;
use kizuki_domain::taxonomy::Code;
use kizuki_store::CooperationStatus;
use kizuki_store::{Current, StoreError};
use serde::Deserialize;
use serde_json::{Value, json};

/// Blank rows offered under the filled ones, so a row can be added without JavaScript.
const SPARE_ROWS: usize = 2;

fn read_survey_form(f: &FormData) -> SurveyForm {
    let criteria = f
        .rows("criteria")
        .iter()
        .map(|r| CriterionRow {
            key: r.get("key").to_owned(),
            label: r.get("label").to_owned(),
            label_en: r.get("label_en").to_owned(),
            description: r.get("description").to_owned(),
            main: !r.get("main").is_empty(),
            weight: r.get("weight").to_owned(),
        })
        .collect();
    SurveyForm {
        fiscal_year: f.get("fiscal_year").to_owned(),
        title: f.get("title").to_owned(),
        period_start: f.get("period_start").to_owned(),
        period_end: f.get("period_end").to_owned(),
        purpose: f.get("purpose").to_owned(),
        method: f.get("method").to_owned(),
        criteria_intro: f.get("criteria_intro").to_owned(),
        remarks: f.get("remarks").to_owned(),
        criteria,
    }
}

/// The survey form's view: the typed form with spare criteria rows.
fn form_view(form: &SurveyForm) -> Value {
    let mut form = form.clone();
    for _ in 0..SPARE_ROWS {
        form.criteria.push(CriterionRow::default());
    }
    json!(form)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NewQuery {
    year: Option<i32>,
    from: Option<i32>,
}

/// The years a new survey may copy from, newest first.
async fn sources(st: &WebState, s: &SignedIn) -> Result<Vec<i32>, WebError> {
    let mut ys: Vec<i32> = cases::surveys(&st.app, &s.p)
        .await?
        .iter()
        .map(|x| x.content.fiscal_year.year())
        .collect();
    ys.sort_unstable_by(|a, b| b.cmp(a));
    Ok(ys)
}

pub async fn new_form(
    State(st): State<WebState>,
    s: SignedIn,
    Query(q): Query<NewQuery>,
) -> Result<Response, WebError> {
    cases::require_writer(&st.app, &s.p).await?;
    let from_years = sources(&st, &s).await?;
    let today = kizuki_domain::clock::jst_date(st.app.clock.now());
    let year_now = kizuki_domain::fiscal::FiscalYear::of(today).map_or(2019, |f| f.year());
    let y = q
        .year
        .unwrap_or_else(|| from_years.first().map_or(year_now, |l| l + 1));
    // Copying the latest year is what a centre does nearly every time, so it is the default.
    let from = q.from.or_else(|| from_years.first().copied());
    let content = year::prefill(&st.app, &s.p, y, from).await?;
    render(
        &st,
        &s.viewer,
        "surveys/edit.html",
        json!({"mode": "new", "form": form_view(&SurveyForm::from_content(&content)),
               "from": from, "from_years": from_years, "errors": {}}),
    )
}

pub async fn create(
    State(st): State<WebState>,
    s: SignedIn,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    cases::require_writer(&st.app, &s.p).await?;
    let form = read_survey_form(&f);
    let lang = s.viewer.lang;
    let outcome = match form.content(Vec::new()) {
        Ok(content) => year::open(&st.app, &s.p, content).await,
        Err(e) => Err(e),
    };
    let mut ctx = json!({"mode": "new", "form": form_view(&form), "from": null,
                         "from_years": sources(&st, &s).await?, "errors": {}});
    let status = match outcome {
        Ok(saved) => {
            let y = saved.content.fiscal_year.year();
            return Ok(done(
                &st,
                &s.viewer,
                "flash.survey_opened",
                &format!("/surveys/{y}"),
            ));
        }
        Err(AppError::Validation(errs)) => {
            ctx["errors"] = errors_json(&errs, lang);
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Err(AppError::Store(StoreError::Duplicate { .. })) => {
            ctx["exists"] = json!(form.fiscal_year.trim());
            StatusCode::CONFLICT
        }
        Err(e) => return Err(e.into()),
    };
    render_as(&st, &s.viewer, "surveys/edit.html", ctx, status)
}

pub async fn edit_form(
    State(st): State<WebState>,
    s: SignedIn,
    Path(y): Path<i32>,
) -> Result<Response, WebError> {
    let sv = year::require_edit(&st.app, &s.p, y).await?;
    render(
        &st,
        &s.viewer,
        "surveys/edit.html",
        json!({"mode": "edit", "year": y, "version": sv.version,
               "form": form_view(&SurveyForm::from_content(&sv.content)), "errors": {}}),
    )
}

/// The fields of the survey form a conflict compares, with what each side has.
fn survey_conflict(theirs: &Survey, mine: &SurveyForm) -> Value {
    let t = SurveyForm::from_content(&theirs.content);
    let crit = |f: &SurveyForm| {
        f.criteria
            .iter()
            .filter(|c| !c.key.trim().is_empty())
            .map(|c| {
                format!(
                    "{} | {} | {}",
                    c.key.trim(),
                    c.label.trim(),
                    c.weight.trim()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let pairs = [
        ("title", t.title.clone(), mine.title.clone()),
        (
            "period_start",
            t.period_start.clone(),
            mine.period_start.clone(),
        ),
        ("period_end", t.period_end.clone(), mine.period_end.clone()),
        ("purpose", t.purpose.clone(), mine.purpose.clone()),
        ("method", t.method.clone(), mine.method.clone()),
        (
            "criteria_intro",
            t.criteria_intro.clone(),
            mine.criteria_intro.clone(),
        ),
        ("criteria", crit(&t), crit(mine)),
        ("remarks", t.remarks.clone(), mine.remarks.clone()),
    ];
    let rows: Vec<Value> = pairs
        .iter()
        .filter(|(_, a, b)| a.trim() != b.trim())
        .map(|(field, a, b)| json!({"field": field, "theirs": a, "mine": b}))
        .collect();
    json!({"rows": rows, "version": theirs.version})
}

pub async fn save(
    State(st): State<WebState>,
    s: SignedIn,
    Path(y): Path<i32>,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    let current = year::require_edit(&st.app, &s.p, y).await?;
    let mut form = read_survey_form(&f);
    // The year of a survey is its key; the form shows it but cannot change it.
    form.fiscal_year = y.to_string();
    let version = f.i64("version").unwrap_or(0);
    let lang = s.viewer.lang;
    let outcome = match form.content(current.content.common_lessons.clone()) {
        Ok(content) => year::edit(&st.app, &s.p, y, version, content).await,
        Err(e) => Err(e),
    };
    let mut ctx = json!({"mode": "edit", "year": y, "version": version,
                         "form": form_view(&form), "errors": {}});
    let status = match outcome {
        Ok(_) => {
            return Ok(done(
                &st,
                &s.viewer,
                "flash.saved",
                &format!("/surveys/{y}"),
            ));
        }
        Err(AppError::Validation(errs)) => {
            ctx["errors"] = errors_json(&errs, lang);
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Err(AppError::Store(StoreError::Conflict {
            current: Current::Survey(cur),
            ..
        })) => {
            // The form keeps what was typed; saving again now is based on their version.
            ctx["version"] = json!(cur.version);
            ctx["conflict"] = survey_conflict(&cur, &form);
            StatusCode::CONFLICT
        }
        Err(e) => return Err(e.into()),
    };
    render_as(&st, &s.viewer, "surveys/edit.html", ctx, status)
}

fn read_lesson_rows(f: &FormData) -> Vec<LessonRow> {
    f.rows("lessons")
        .iter()
        .map(|r| LessonRow {
            title: r.get("title").to_owned(),
            category: r.get("category").to_owned(),
            text: r.get("text").to_owned(),
            cases: r.all("cases").to_vec(),
        })
        .collect()
}

async fn lessons_ctx(
    st: &WebState,
    s: &SignedIn,
    y: i32,
    version: i64,
    mut rows: Vec<LessonRow>,
) -> Result<Value, WebError> {
    let cs = cases::list(&st.app, &s.p, Some(y)).await?;
    let case_rows: Vec<Value> = cs
        .iter()
        .map(|c| {
            json!({"number": c.content.number, "title": c.content.title,
                   "category": c.content.category.0,
                   "lessons": c.content.lessons.iter().map(|l| l.title.clone()).collect::<Vec<_>>()})
        })
        .collect();
    for _ in 0..SPARE_ROWS {
        rows.push(LessonRow::default());
    }
    Ok(json!({"year": y, "version": version, "rows": rows, "cases": case_rows, "errors": {}}))
}

pub async fn lessons_form(
    State(st): State<WebState>,
    s: SignedIn,
    Path(y): Path<i32>,
) -> Result<Response, WebError> {
    let sv = year::require_edit(&st.app, &s.p, y).await?;
    let rows = sv
        .content
        .common_lessons
        .iter()
        .map(year::lesson_row)
        .collect();
    let ctx = lessons_ctx(&st, &s, y, sv.version, rows).await?;
    render(&st, &s.viewer, "surveys/lessons.html", ctx)
}

pub async fn lessons_save(
    State(st): State<WebState>,
    s: SignedIn,
    Path(y): Path<i32>,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    year::require_edit(&st.app, &s.p, y).await?;
    let rows = read_lesson_rows(&f);
    let version = f.i64("version").unwrap_or(0);
    let outcome = match year::lessons_from_rows(&rows) {
        Ok(lessons) => year::set_common_lessons(&st.app, &s.p, y, version, lessons).await,
        Err(e) => Err(e),
    };
    // Blank rows are dropped before checking, so errors count the kept rows; the page shows
    // the kept rows in that order for the messages to sit on the right one.
    let kept: Vec<LessonRow> = rows
        .into_iter()
        .filter(|r| !(r.title.trim().is_empty() && r.text.trim().is_empty() && r.cases.is_empty()))
        .collect();
    let mut ctx = lessons_ctx(&st, &s, y, version, kept.clone()).await?;
    let status = match outcome {
        Ok(_) => {
            return Ok(done(
                &st,
                &s.viewer,
                "flash.saved",
                &format!("/surveys/{y}"),
            ));
        }
        Err(AppError::Validation(errs)) => {
            ctx["errors"] = errors_json(&errs, s.viewer.lang);
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Err(AppError::Store(StoreError::Conflict {
            current: Current::Survey(cur),
            ..
        })) => {
            let show = |ls: &[LessonRow]| {
                ls.iter()
                    .map(|l| format!("{}（{}）: {}", l.title, l.cases.join(", "), l.text))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            let theirs: Vec<LessonRow> = cur
                .content
                .common_lessons
                .iter()
                .map(year::lesson_row)
                .collect();
            ctx["version"] = json!(cur.version);
            ctx["conflict"] = json!({"version": cur.version, "rows": [
                {"field": "common_lessons", "theirs": show(&theirs), "mine": show(&kept)}]});
            StatusCode::CONFLICT
        }
        Err(e) => return Err(e.into()),
    };
    render_as(&st, &s.viewer, "surveys/lessons.html", ctx, status)
}

/// The survey's candidate reports for a new case: those filed in its period that the
/// principal may read, newest first, marked when already a case.
async fn candidates(st: &WebState, s: &SignedIn, sv: &Survey) -> Result<Vec<Value>, WebError> {
    let c = &sv.content;
    let rows = kizuki_app::reports::in_period(&st.app, &s.p, c.period_start, c.period_end).await?;
    let taken: Vec<Option<ReportId>> = cases::list(&st.app, &s.p, Some(c.fiscal_year.year()))
        .await?
        .iter()
        .map(|x| x.report_id)
        .collect();
    Ok(rows
        .iter()
        .map(|r| {
            json!({"id": r.id.0, "title": r.details.title, "sector": r.details.sector.0,
                   "reported_at": r.reported_at, "event_type": r.details.event_type.0,
                   "taken": taken.contains(&Some(r.id))})
        })
        .collect())
}

pub async fn new_case_form(
    State(st): State<WebState>,
    s: SignedIn,
    Path(y): Path<i32>,
) -> Result<Response, WebError> {
    let sv = year::require_edit(&st.app, &s.p, y).await?;
    let reports = candidates(&st, &s, &sv).await?;
    render(
        &st,
        &s.viewer,
        "surveys/new_case.html",
        json!({"year": y, "title": sv.content.title, "reports": reports,
               "chosen": [], "category": "", "errors": {}}),
    )
}

pub async fn create_case(
    State(st): State<WebState>,
    s: SignedIn,
    Path(y): Path<i32>,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    let sv = year::require_edit(&st.app, &s.p, y).await?;
    let chosen: Vec<i64> = f
        .all("reports")
        .iter()
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    let category = Some(f.get("category").trim())
        .filter(|c| !c.is_empty())
        .map(|c| Code(c.to_owned()));
    let start = CaseStart {
        reports: chosen.iter().copied().map(ReportId).collect(),
        category,
    };
    match authoring::create(&st.app, &s.p, y, start).await {
        Ok(c) => Ok(done(
            &st,
            &s.viewer,
            "flash.case_started",
            &format!("/cases/{}/edit", c.id),
        )),
        Err(AppError::Validation(errs)) => {
            let reports = candidates(&st, &s, &sv).await?;
            let ctx = json!({"year": y, "title": sv.content.title, "reports": reports,
                             "chosen": chosen, "category": f.get("category"),
                             "errors": errors_json(&errs, s.viewer.lang)});
            render_as(
                &st,
                &s.viewer,
                "surveys/new_case.html",
                ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------- cooperation

fn coop_ctx(v: &cooperation::CooperationView, today: chrono::NaiveDate) -> Value {
    json!({"coop": v, "statuses": CooperationStatus::ALL.iter().map(|s| s.code()).collect::<Vec<_>>(),
           "form": {"status": if v.centre { "requested" } else { "agreed" }, "on": today.to_string(),
                    "contact": "", "reason": ""},
           "errors": {}, "replacement": null})
}

pub async fn cooperation_page(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let v = cooperation::view(&st.app, &s.p, CaseId(id)).await?;
    let today = kizuki_domain::clock::jst_date(st.app.clock.now());
    render(
        &st,
        &s.viewer,
        "cases/cooperation.html",
        coop_ctx(&v, today),
    )
}

pub async fn cooperation_record(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    let cid = CaseId(id);
    let v = cooperation::view(&st.app, &s.p, cid).await?;
    let seen = u32::try_from(f.i64("seq").unwrap_or(0)).unwrap_or(0);
    let typed = json!({"status": f.get("status"), "on": f.get("on"),
                       "contact": f.get("contact"), "reason": f.get("reason")});
    let outcome = match cooperation::Entry::parse(
        f.get("status"),
        f.get("on"),
        f.get("contact"),
        f.get("reason"),
    ) {
        Ok(entry) => cooperation::record(&st.app, &s.p, cid, seen, entry).await,
        Err(e) => Err(e),
    };
    let today = kizuki_domain::clock::jst_date(st.app.clock.now());
    let mut ctx = coop_ctx(&v, today);
    ctx["form"] = typed;
    let status = match outcome {
        Ok(recorded) => {
            let Some(y) = v.survey_year else {
                return Ok(done(
                    &st,
                    &s.viewer,
                    "flash.saved",
                    &format!("/cases/{id}/cooperation"),
                ));
            };
            if recorded.record.status == CooperationStatus::Declined && v.centre {
                // The analyst sees the replacement on offer on the selection page.
                return Ok(done(
                    &st,
                    &s.viewer,
                    "flash.declined",
                    &format!("/surveys/{y}/selection#replacement"),
                ));
            }
            return Ok(done(
                &st,
                &s.viewer,
                "flash.saved",
                &format!("/cases/{id}/cooperation"),
            ));
        }
        Err(AppError::Validation(errs)) => {
            ctx["errors"] = errors_json(&errs, s.viewer.lang);
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Err(AppError::Store(StoreError::Conflict { .. })) => {
            // Someone recorded an entry meanwhile: show the history as it is now, keep the form.
            let now = cooperation::view(&st.app, &s.p, cid).await?;
            ctx["coop"] = json!(now);
            ctx["stale"] = json!(true);
            StatusCode::CONFLICT
        }
        Err(AppError::Refused(msg)) => {
            ctx["refused"] = json!(msg);
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Err(e) => return Err(e.into()),
    };
    render_as(&st, &s.viewer, "cases/cooperation.html", ctx, status)
}

// ---------------------------------------------------------------- selection: reopen, replace

pub async fn reopen_selection(
    State(st): State<WebState>,
    s: SignedIn,
    Path(y): Path<i32>,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    s.p.require_analyst()?;
    let (Some(id), Some(version)) = (f.i64("id"), f.i64("version")) else {
        return Err(WebError::BadRequest(
            "which selection, at which version".into(),
        ));
    };
    kizuki_app::selection::decisions::reopen(&st.app, &s.p, y, id, version).await?;
    Ok(done(
        &st,
        &s.viewer,
        "flash.reopened",
        &format!("/surveys/{y}/selection"),
    ))
}

pub async fn accept_replacement(
    State(st): State<WebState>,
    s: SignedIn,
    Path(y): Path<i32>,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    s.p.require_analyst()?;
    let Some(report) = f.i64("report_id") else {
        return Err(WebError::BadRequest("report_id".into()));
    };
    let c = cooperation::accept_replacement(&st.app, &s.p, y, ReportId(report), f.get("contact"))
        .await?;
    Ok(done(
        &st,
        &s.viewer,
        "flash.case_started",
        &format!("/cases/{}/edit", c.id),
    ))
}

// ---------------------------------------------------------------- approve and publish

pub async fn publish_page(
    State(st): State<WebState>,
    s: SignedIn,
    Path(y): Path<i32>,
) -> Result<Response, WebError> {
    let preview = edition::preview(&st.app, &s.p, y).await?;
    let editions = edition::editions(&st.app, y).await?;
    render(
        &st,
        &s.viewer,
        "surveys/publish.html",
        json!({"year": y, "title": preview.survey.title, "preview": preview,
               "editions": editions}),
    )
}

pub async fn publish(
    State(st): State<WebState>,
    s: SignedIn,
    Path(y): Path<i32>,
    Posted(_f): Posted,
) -> Result<Response, WebError> {
    edition::publish(&st.app, &s.p, y).await?;
    Ok(done(
        &st,
        &s.viewer,
        "flash.year_published",
        &format!("/surveys/{y}/publish"),
    ))
}
