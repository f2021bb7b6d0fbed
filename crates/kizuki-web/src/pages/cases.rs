//! Case pages (view with its generated diagram, the row editor with live preview and
//! conflict handling), the survey page, the lessons list and the presence heartbeat every
//! editor page sends.

use super::{done, render};
use crate::error::WebError;
use crate::form::FormData;
use crate::i18n;
use crate::session::{Posted, SignedIn};
use crate::state::WebState;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use kizuki_app::AppError;
use kizuki_app::survey::cases::{
    self, ACTOR_KINDS, ActorFields, CASE_FIELDS, CaseForm, LessonFields, RowOp, StepFields,
    row_field, split_field,
};
use kizuki_domain::ValidationErrors;
use kizuki_domain::case::{CaseContent, SECTION_HEADINGS, Step};
use kizuki_domain::ids::CaseId;
use kizuki_domain::taxonomy::Lang;
use kizuki_store::{Current, StoreError};
use serde::Deserialize;
use serde_json::{Value, json};

fn steps_json(c: &CaseContent, steps: &[Step]) -> Vec<Value> {
    steps
        .iter()
        .map(|s| {
            let actors: Vec<String> = s
                .actors
                .iter()
                .map(|a| c.actor(a).map_or_else(|| a.clone(), |x| x.label.clone()))
                .collect();
            json!({"number": s.number, "text": s.text, "actors": actors, "time": s.time})
        })
        .collect()
}

/// A case in the shape of its page in the annual report.
pub fn case_json(c: &CaseContent, lang: Lang) -> Value {
    let sections: Vec<Value> = c
        .sections
        .numbered()
        .iter()
        .map(|(i, pts)| {
            let (ja, en) = SECTION_HEADINGS[*i];
            json!({"n": i + 1, "heading": if lang == Lang::Ja { ja } else { en }, "points": pts})
        })
        .collect();
    let (ja6, en6) = SECTION_HEADINGS[5];
    json!({
        "number": c.number,
        "category": c.category.0,
        "title": c.title,
        "impact": c.impact,
        "cause": c.cause,
        "overview": c.overview,
        "actors": c.actors.iter().map(|a| json!({
            "key": a.key, "label": a.label, "kind": cases::actor_kind_code(a.kind),
            "group": a.group.as_ref().and_then(|g| c.actor(g)).map(|g| g.label.clone()),
        })).collect::<Vec<_>>(),
        "steps": steps_json(c, &c.steps),
        "responses": steps_json(c, &c.responses),
        "sections": sections,
        "lessons_heading": if lang == Lang::Ja { ja6 } else { en6 },
        "lessons": c.lessons,
    })
}

pub async fn list(State(st): State<WebState>, s: SignedIn) -> Result<Response, WebError> {
    let all = cases::list(&st.app, &s.p, None).await?;
    let rows: Vec<Value> = all
        .iter()
        .map(|c| {
            json!({"id": c.id.0, "year": c.survey_year, "number": c.content.number,
                   "title": c.content.title, "category": c.content.category.0,
                   "impact": c.content.impact, "cause": c.content.cause,
                   "report_id": c.report_id.map(|r| r.0), "version": c.version})
        })
        .collect();
    render(&st, &s.viewer, "cases/list.html", json!({"rows": rows}))
}

pub async fn view(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let c = cases::get(&st.app, &s.p, CaseId(id)).await?;
    let can_edit = cases::may_edit(&st.app, &s.p, &c).await?;
    let diagram_src = format!("/cases/{id}/diagram.svg");
    render(
        &st,
        &s.viewer,
        "cases/view.html",
        json!({"id": id, "year": c.survey_year, "report_id": c.report_id.map(|r| r.0),
               "version": c.version, "case": case_json(&c.content, s.viewer.lang),
               "can_edit": can_edit, "diagram_src": diagram_src}),
    )
}

/// The generated diagram of the case as written (the anonymised one is
/// `publication::preview_svg`).
pub async fn diagram(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let c = cases::get(&st.app, &s.p, CaseId(id)).await?;
    let svg = kizuki_annual_report::diagram::render_svg(&c.content);
    // The security layer marks it no-store, as every signed-in response.
    Ok((
        [(header::CONTENT_TYPE, "image/svg+xml; charset=utf-8")],
        svg,
    )
        .into_response())
}

/// The editor's name for a place in a case: 「手順(2) 時刻・経過（任意）」 for `steps[1].time`,
/// 「【1 背景】 1行目」 for `sections.background[0]`, the field's label otherwise. Used for
/// errors and wherever a page points into a case; nobody should have to read the path.
pub(crate) fn field_label(key: &str, lang: Lang) -> String {
    let cat = i18n::catalogue();
    let Some((list, row, field)) = row_field(key) else {
        let (field, line) = split_field(key);
        let name = match field.strip_prefix("sections.").unwrap_or(field) {
            "number" => "number_label",
            other => other,
        };
        let key = format!("case.{name}");
        let label = if cat.has(&key) {
            cat.get(lang, &key)
        } else {
            name
        };
        return match line {
            Some(n) => {
                let line = cat.fmt(lang, "case.line", &[("n", n.to_string())]);
                format!("{label} {}", line.trim_end_matches([':', ' ', '：']))
            }
            None => label.to_owned(),
        };
    };
    let row_key = match list {
        "actors" => "case.actor_row",
        "steps" => "case.step_row",
        "responses" => "case.response_row",
        _ => "case.lesson_row",
    };
    let row_name = cat.fmt(lang, row_key, &[("n", (row + 1).to_string())]);
    let field_key = match (list, field) {
        (_, "") => return row_name,
        ("actors", f) => format!("case.actor_{f}"),
        ("lessons", f) => format!("case.lesson_{f}"),
        (_, f) => format!("case.step_{f}"),
    };
    if !cat.has(&field_key) {
        return row_name;
    }
    format!("{row_name} {}", cat.get(lang, &field_key))
}

/// Errors placed on the editor's fields; an error about one line says which.
fn case_errors(errs: &ValidationErrors, lang: Lang) -> Value {
    let cat = i18n::catalogue();
    let mut m = serde_json::Map::new();
    for e in errs.iter() {
        let msg = match lang {
            Lang::Ja => e.message_ja(),
            Lang::En => e.message_en(),
        };
        let mut msg = i18n::pick(&msg, lang).to_owned();
        // A row's error goes on the row's field (`steps[1].time`) or on the row itself.
        let (field, line) = match row_field(&e.field) {
            Some(_) => (e.field.as_str(), None),
            None => split_field(&e.field),
        };
        if let Some(n) = line {
            msg = format!(
                "{}{msg}",
                cat.fmt(lang, "case.line", &[("n", n.to_string())])
            );
        }
        match m.get_mut(field) {
            Some(Value::Array(list)) => list.push(json!(msg)),
            _ => {
                m.insert(field.to_owned(), json!([msg]));
            }
        }
    }
    Value::Object(m)
}

fn read_steps(f: &FormData, list: &str) -> Vec<StepFields> {
    f.rows(list)
        .iter()
        .map(|r| StepFields {
            actors: r.get("actors").to_owned(),
            text: r.get("text").to_owned(),
            time: r.get("time").to_owned(),
        })
        .collect()
}

fn read_case_form(f: &FormData) -> CaseForm {
    CaseForm {
        number: f.get("number").to_owned(),
        category: f.get("category").to_owned(),
        title: f.get("title").to_owned(),
        impact: f.get("impact").to_owned(),
        cause: f.get("cause").to_owned(),
        overview: f.get("overview").to_owned(),
        actors: f
            .rows("actors")
            .iter()
            .map(|r| ActorFields {
                key: r.get("key").to_owned(),
                label: r.get("label").to_owned(),
                kind: r.get("kind").to_owned(),
                group: r.get("group").to_owned(),
            })
            .collect(),
        steps: read_steps(f, "steps"),
        responses: read_steps(f, "responses"),
        background: f.get("background").to_owned(),
        detection: f.get("detection").to_owned(),
        response: f.get("response").to_owned(),
        cause_points: f.get("cause_points").to_owned(),
        countermeasures: f.get("countermeasures").to_owned(),
        lessons: f
            .rows("lessons")
            .iter()
            .map(|r| LessonFields {
                title: r.get("title").to_owned(),
                text: r.get("text").to_owned(),
            })
            .collect(),
    }
}

fn editor_ctx(id: i64, year: Option<i32>, version: i64, form: &CaseForm) -> Value {
    // The keys typed so far, offered for an actor's group and named beside steps' actors.
    let keys: Vec<&str> = form
        .actors
        .iter()
        .map(|a| a.key.trim())
        .filter(|k| !k.is_empty())
        .collect();
    json!({"id": id, "year": year, "version": version, "form": form,
           "fields": CASE_FIELDS, "errors": {}, "presence_key": format!("case:{id}"),
           "kinds": ACTOR_KINDS.map(|(_, c)| c), "actor_keys": keys,
           "focus": null, "preview": null, "preview_diagram": null,
           // What the interviews' statements say beside each step, and what no step uses.
           "step_sources": {"by_step": {}, "unused": []},
           // One empty row of each list, for the script to copy when a row is added.
           "blank": {"actor": ActorFields { kind: "department".into(), ..Default::default() },
                     "step": StepFields::default(), "lesson": LessonFields::default()}})
}

/// The preview of a typed case: its page and its diagram, or what to fix first.
fn preview_ctx(ctx: &mut Value, form: &CaseForm, st: &WebState, lang: Lang) {
    match form.parse(&st.app.taxonomy) {
        Ok(content) => {
            ctx["preview"] = case_json(&content, lang);
            ctx["preview_diagram"] = json!(kizuki_annual_report::diagram::render_svg(&content));
        }
        Err(errs) => ctx["errors"] = case_errors(&errs, lang),
    }
}

/// The id of the element to focus after a row button: the moved row's same button, the
/// added or following row's first field, or the list's "add" button.
fn row_focus(op: RowOp, row: Option<usize>) -> String {
    use kizuki_app::survey::cases::RowAction;
    let list = op.list;
    match (op.action, row) {
        (_, None) => format!("{list}-add"),
        (RowAction::Up, Some(i)) => format!("{list}-{i}-up"),
        (RowAction::Down, Some(i)) => format!("{list}-{i}-down"),
        (RowAction::Add | RowAction::Remove, Some(i)) => {
            let first = match list {
                "actors" => "key",
                "lessons" => "title",
                _ => "actors",
            };
            format!("f-{list}-{i}-{first}")
        }
    }
}

pub async fn edit_form(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    cases::require_case_edit(&st.app, &s.p, CaseId(id)).await?;
    let c = cases::get(&st.app, &s.p, CaseId(id)).await?;
    let mut ctx = editor_ctx(
        id,
        c.survey_year,
        c.version,
        &CaseForm::from_content(&c.content),
    );
    ctx["preview"] = case_json(&c.content, s.viewer.lang);
    ctx["preview_diagram"] = json!(kizuki_annual_report::diagram::render_svg(&c.content));
    ctx["others"] = json!(super::reports::presence(&st, &s, &format!("case:{id}")));
    ctx["step_sources"] =
        json!(kizuki_app::interviews::step_sources(&st.app, &s.p, CaseId(id)).await?);
    render(&st, &s.viewer, "cases/edit.html", ctx)
}

pub async fn save(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    let cid = CaseId(id);
    cases::require_case_edit(&st.app, &s.p, cid).await?;
    let c = cases::get(&st.app, &s.p, cid).await?;
    let mut form = read_case_form(&f);
    let version = f.i64("version").unwrap_or(0);
    let lang = s.viewer.lang;
    // A row button (add, remove, move) re-renders the editor with the change, saving
    // nothing: this is how the row editor works without JavaScript.
    if f.has("row_op") {
        let Some(op) = RowOp::parse(f.get("row_op")) else {
            return Err(WebError::BadRequest("unknown row button".into()));
        };
        let row = form.apply(op);
        let mut ctx = editor_ctx(id, c.survey_year, version, &form);
        ctx["focus"] = json!(row_focus(op, row));
        if let Ok(content) = form.parse(&st.app.taxonomy) {
            ctx["preview"] = case_json(&content, lang);
            ctx["preview_diagram"] = json!(kizuki_annual_report::diagram::render_svg(&content));
        }
        ctx["others"] = json!(super::reports::presence(&st, &s, &format!("case:{id}")));
        return render(&st, &s.viewer, "cases/edit.html", ctx);
    }
    let mut ctx = editor_ctx(id, c.survey_year, version, &form);
    // "Preview" re-renders the editor with the preview of what was typed, saving nothing.
    if f.has("preview") {
        preview_ctx(&mut ctx, &form, &st, lang);
        ctx["others"] = json!(super::reports::presence(&st, &s, &format!("case:{id}")));
        return render(&st, &s.viewer, "cases/edit.html", ctx);
    }
    let status = match cases::update_form(&st.app, &s.p, cid, version, &form).await {
        Ok(_) => {
            st.presence.leave(&format!("case:{id}"), s.p.user_id);
            return Ok(done(&st, &s.viewer, "flash.saved", &format!("/cases/{id}")));
        }
        Err(AppError::Validation(errs)) => {
            ctx["errors"] = case_errors(&errs, lang);
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Err(AppError::Store(StoreError::Conflict {
            current: Current::Case(cur),
            ..
        })) => {
            let theirs = CaseForm::from_content(&cur.content);
            let rows: Vec<Value> = CASE_FIELDS
                .iter()
                .filter(|name| theirs.field_text(name).trim() != form.field_text(name).trim())
                .map(|name| json!({"field": name, "theirs": theirs.field_text(name), "mine": form.field_text(name)}))
                .collect();
            ctx["version"] = json!(cur.version);
            ctx["conflict"] = json!({"rows": rows, "version": cur.version});
            ctx["preview"] = case_json(&cur.content, lang);
            ctx["preview_diagram"] = json!(kizuki_annual_report::diagram::render_svg(&cur.content));
            StatusCode::CONFLICT
        }
        Err(e) => return Err(e.into()),
    };
    ctx["others"] = json!(super::reports::presence(&st, &s, &format!("case:{id}")));
    let mut res = render(&st, &s.viewer, "cases/edit.html", ctx)?;
    *res.status_mut() = status;
    Ok(res)
}

/// The live preview: the case page for what is in the editor now, as an HTML fragment.
pub async fn preview(
    State(st): State<WebState>,
    s: SignedIn,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    cases::require_writer(&st.app, &s.p).await?;
    let form = read_case_form(&f);
    let lang = s.viewer.lang;
    let ctx = match form.parse(&st.app.taxonomy) {
        Ok(content) => json!({"case": case_json(&content, lang), "preview_errors": null,
                              "diagram": kizuki_annual_report::diagram::render_svg(&content)}),
        Err(errs) => {
            let list: Vec<String> =
                case_errors(&errs, lang)
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .flat_map(|(k, v)| {
                                let label = field_label(k, lang);
                                v.as_array().cloned().unwrap_or_default().into_iter().map(
                                    move |m| format!("{label}: {}", m.as_str().unwrap_or_default()),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
            json!({"case": null, "preview_errors": list})
        }
    };
    render(&st, &s.viewer, "cases/_case.html", ctx)
}

pub async fn surveys(State(st): State<WebState>, s: SignedIn) -> Result<Response, WebError> {
    let mut rows = Vec::new();
    for sv in cases::surveys(&st.app, &s.p).await? {
        let fy = sv.content.fiscal_year.year();
        let n = cases::list(&st.app, &s.p, Some(fy)).await?.len();
        rows.push(json!({"year": fy, "title": sv.content.title, "cases": n,
                         "period_start": sv.content.period_start, "period_end": sv.content.period_end}));
    }
    render(&st, &s.viewer, "surveys/list.html", json!({"rows": rows}))
}

pub async fn survey(
    State(st): State<WebState>,
    s: SignedIn,
    Path(year): Path<i32>,
) -> Result<Response, WebError> {
    let v = cases::survey(&st.app, &s.p, year).await?;
    let c = &v.survey.content;
    let lessons: Vec<Value> = v
        .lessons
        .iter()
        .map(|(cat, ls)| json!({"category": cat.0, "items": ls}))
        .collect();
    let cases: Vec<Value> = v
        .cases
        .iter()
        .map(|x| {
            json!({"id": x.id.0, "number": x.content.number, "title": x.content.title,
                   "category": x.content.category.0, "impact": x.content.impact,
                   "cause": x.content.cause})
        })
        .collect();
    render(
        &st,
        &s.viewer,
        "surveys/view.html",
        json!({
            "year": year, "title": c.title, "period_start": c.period_start,
            "period_end": c.period_end, "purpose": c.purpose, "method": c.method,
            "criteria_intro": c.criteria_intro, "criteria": c.criteria, "remarks": c.remarks,
            "cases": cases, "lessons": lessons,
        }),
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LessonQuery {
    category: String,
}

pub async fn lessons(
    State(st): State<WebState>,
    s: SignedIn,
    Query(q): Query<LessonQuery>,
) -> Result<Response, WebError> {
    let cat = Some(q.category.trim()).filter(|c| !c.is_empty());
    let rows = cases::lessons(&st.app, &s.p, cat).await?;
    render(
        &st,
        &s.viewer,
        "lessons.html",
        json!({"rows": rows, "category": q.category}),
    )
}

/// The heartbeat of an open editor: records this user and answers with the others.
pub async fn presence(
    State(st): State<WebState>,
    s: SignedIn,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    let key = f.get("key");
    let valid = key
        .split_once(':')
        .is_some_and(|(k, id)| matches!(k, "report" | "case") && id.parse::<i64>().is_ok());
    if !valid {
        return Err(WebError::BadRequest("unknown record".into()));
    }
    if f.flag("leave") {
        st.presence.leave(key, s.p.user_id);
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let others = super::reports::presence(&st, &s, key);
    let names: Vec<String> = others
        .iter()
        .filter_map(|o| o["name"].as_str().map(str::to_owned))
        .collect();
    let msg = if names.is_empty() {
        String::new()
    } else {
        i18n::catalogue().fmt(
            s.viewer.lang,
            "presence.others",
            &[("names", names.join("、"))],
        )
    };
    Ok(Json(json!({"others": others, "message": msg})).into_response())
}
