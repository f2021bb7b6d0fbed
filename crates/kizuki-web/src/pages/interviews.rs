//! Interviews in the browser: the inbox, a case's interviews and the centre's request, one
//! interview (the operator's answer, written questions with drafts, files, consent), the
//! minutes editor, downloads of files and of the record, and the editors' question templates.
//! A refused post shows the page again with what was typed.

use super::{done, errors_json, render, render_as};
use crate::error::WebError;
use crate::form::FormData;
use crate::session::{Posted, SignedIn};
use crate::state::WebState;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::NaiveDateTime;
use kizuki_app::AppError;
use kizuki_app::interviews::{self, Need, StatementRow, templates};
use kizuki_domain::ids::{CaseId, InterviewId};
use kizuki_domain::interview::{Mode, Part, RequestInput, Usage};
use kizuki_store::StoreError;
use serde_json::{Value, json};

/// Spare rows under the written statements, so one can be added without JavaScript.
const SPARE_STATEMENTS: usize = 2;

fn slot(t: &NaiveDateTime) -> Value {
    json!({"value": t.format("%Y-%m-%dT%H:%M").to_string(),
           "label": t.format("%Y-%m-%d %H:%M").to_string()})
}

fn lines(ts: &[NaiveDateTime]) -> String {
    ts.iter()
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn choices() -> Value {
    json!({
        "modes": Mode::ALL.iter().map(|m| json!({"code": m.code(), "label": m.label_ja()})).collect::<Vec<_>>(),
        "parts": Part::ALL.iter().map(|p| json!({"code": p.code(), "label": p.label_ja()})).collect::<Vec<_>>(),
        "usages": Usage::ALL.iter().map(|u| json!({"code": u.code(), "label": u.label_ja()})).collect::<Vec<_>>(),
    })
}

/// How a refused post is shown: which status, and what goes into the page.
fn refusal(
    e: AppError,
    ctx: &mut Value,
    lang: kizuki_domain::taxonomy::Lang,
) -> Result<StatusCode, WebError> {
    match e {
        AppError::Validation(errs) => {
            ctx["errors"] = errors_json(&errs, lang);
            Ok(StatusCode::UNPROCESSABLE_ENTITY)
        }
        AppError::Store(StoreError::Conflict { .. }) => {
            ctx["stale"] = json!(true);
            Ok(StatusCode::CONFLICT)
        }
        AppError::Refused(msg) => {
            ctx["refused"] = json!(msg);
            Ok(StatusCode::UNPROCESSABLE_ENTITY)
        }
        // Signed in and allowed to see the page, but not to do this: the page says who does.
        AppError::Forbidden(msg) => {
            ctx["refused"] = json!(msg);
            Ok(StatusCode::FORBIDDEN)
        }
        other => Err(other.into()),
    }
}

// ---------------------------------------------------------------- inbox

pub async fn inbox(State(st): State<WebState>, s: SignedIn) -> Result<Response, WebError> {
    let items = interviews::inbox(&st.app, &s.p).await?;
    let items: Vec<Value> = items
        .iter()
        .map(|i| {
            let mut v = json!(i);
            v["proposed"] = json!(i.summary.proposed.iter().map(slot).collect::<Vec<_>>());
            v["accepted_on"] = i.summary.accepted_on.as_ref().map_or(Value::Null, slot);
            v
        })
        .collect();
    render(
        &st,
        &s.viewer,
        "interviews/inbox.html",
        json!({"items": items}),
    )
}

// ---------------------------------------------------------------- a case's interviews

fn case_ctx(v: &interviews::CaseInterviews) -> Value {
    let list: Vec<Value> = v
        .interviews
        .iter()
        .map(|i| {
            let mut x = json!(i);
            x["proposed"] = json!(i.proposed.iter().map(slot).collect::<Vec<_>>());
            x["accepted_on"] = i.accepted_on.as_ref().map_or(Value::Null, slot);
            x
        })
        .collect();
    let mut ctx = json!({"case": v, "list": list, "errors": {},
        "form": {"mode": "online", "proposed": "", "place": "", "attendees": "", "note": "",
                 "with_template": true, "due": ""}});
    ctx["choices"] = choices();
    ctx
}

pub async fn case_page(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let v = interviews::for_case(&st.app, &s.p, CaseId(id)).await?;
    render(&st, &s.viewer, "interviews/case.html", case_ctx(&v))
}

fn request_input(f: &FormData) -> Result<RequestInput, AppError> {
    RequestInput::parse(
        f.get("mode"),
        f.get("proposed"),
        f.get("place"),
        f.get("attendees"),
        f.get("note"),
    )
    .map_err(AppError::from)
}

pub async fn request(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    interviews::gate_request(&st.app, &s.p, CaseId(id)).await?;
    let v = interviews::for_case(&st.app, &s.p, CaseId(id)).await?;
    let with_template = f.flag("with_template");
    let outcome = match (request_input(&f), interviews::parse_due(f.get("due"))) {
        (Ok(input), Ok(due)) => {
            interviews::request(&st.app, &s.p, CaseId(id), input, with_template, due).await
        }
        (Err(AppError::Validation(mut errs)), Err(e)) => {
            errs.push(e);
            Err(errs.into())
        }
        (Err(e), _) => Err(e),
        (_, Err(e)) => Err(e.into()),
    };
    match outcome {
        Ok(i) => Ok(done(
            &st,
            &s.viewer,
            "flash.interview_requested",
            &format!("/interviews/{}", i.id),
        )),
        Err(e) => {
            let mut ctx = case_ctx(&v);
            ctx["form"] = json!({"mode": f.get("mode"), "proposed": f.get("proposed"),
                "place": f.get("place"), "attendees": f.get("attendees"), "note": f.get("note"),
                "with_template": with_template, "due": f.get("due")});
            let status = refusal(e, &mut ctx, s.viewer.lang)?;
            render_as(&st, &s.viewer, "interviews/case.html", ctx, status)
        }
    }
}

// ---------------------------------------------------------------- one interview

async fn show_ctx(st: &WebState, s: &SignedIn, id: InterviewId) -> Result<Value, WebError> {
    let v = interviews::view(&st.app, &s.p, id).await?;
    let names = interviews::names(&st.app).await?;
    let name = |u: kizuki_domain::ids::UserId| names.get(&u).cloned().unwrap_or_default();
    let b = &v.interview.body;
    let answers: Vec<Value> = b
        .answers
        .iter()
        .map(|a| {
            let mut x = json!(a);
            x["by_name"] = json!(name(a.by));
            x["on_slot"] = match &a.reply {
                kizuki_domain::interview::Reply::Accepted { on } => slot(on),
                _ => Value::Null,
            };
            x["proposed_slots"] = match &a.reply {
                kizuki_domain::interview::Reply::Proposed { proposed } => {
                    json!(proposed.iter().map(slot).collect::<Vec<_>>())
                }
                _ => json!([]),
            };
            x
        })
        .collect();
    let statements: Vec<Value> = v
        .statements
        .iter()
        .map(|sv| {
            let mut x = json!(sv);
            x["consent_by"] = json!(sv.statement.consent.as_ref().map(|c| name(c.by)));
            x
        })
        .collect();
    let mut ctx = json!({
        "iv": v,
        "offered": b.request.proposed.iter().map(slot).collect::<Vec<_>>(),
        "proposed_lines": lines(&b.request.proposed),
        "answers": answers,
        "statements": statements,
        "held_at": b.minutes.held_at.as_ref().map_or(Value::Null, slot),
        "sent_by": name(b.request.sent_by),
        "errors": {},
        "typed": {},
        "answer_form": {"reply": "accepted", "on": "", "proposed": "", "attendees": "", "note": ""},
        "limit_mib": st.max_attachment.mib(),
    });
    ctx["choices"] = choices();
    Ok(ctx)
}

pub async fn show(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let ctx = show_ctx(&st, &s, InterviewId(id)).await?;
    render(&st, &s.viewer, "interviews/show.html", ctx)
}

/// Shows the interview page again after a refused post, with `patch` laid over its context.
async fn show_refused(
    st: &WebState,
    s: &SignedIn,
    id: InterviewId,
    e: AppError,
    patch: Value,
) -> Result<Response, WebError> {
    let mut ctx = show_ctx(st, s, id).await?;
    if let (Value::Object(m), Value::Object(p)) = (&mut ctx, patch) {
        m.extend(p);
    }
    let status = refusal(e, &mut ctx, s.viewer.lang)?;
    render_as(st, &s.viewer, "interviews/show.html", ctx, status)
}

pub async fn answer(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    interviews::gate(&st.app, &s.p, InterviewId(id), Need::OperatorAdmin).await?;
    let iid = InterviewId(id);
    let form = interviews::AnswerForm {
        reply: f.get("reply").to_owned(),
        on: f.get("on").to_owned(),
        proposed: f.get("proposed").to_owned(),
        attendees: f.get("attendees").to_owned(),
        note: f.get("note").to_owned(),
    };
    let outcome =
        interviews::answer(&st.app, &s.p, iid, f.i64("version").unwrap_or(0), &form).await;
    match outcome {
        Ok(_) => Ok(done(
            &st,
            &s.viewer,
            "flash.saved",
            &format!("/interviews/{id}"),
        )),
        Err(e) => {
            let typed = json!({"answer_form": {"reply": f.get("reply"), "on": f.get("on"),
                "proposed": f.get("proposed"), "attendees": f.get("attendees"), "note": f.get("note")}});
            show_refused(&st, &s, iid, e, typed).await
        }
    }
}

pub async fn resend(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    interviews::gate(&st.app, &s.p, InterviewId(id), Need::Centre).await?;
    let iid = InterviewId(id);
    let outcome = match request_input(&f) {
        Ok(input) => {
            interviews::resend(&st.app, &s.p, iid, f.i64("version").unwrap_or(0), input).await
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(_) => Ok(done(
            &st,
            &s.viewer,
            "flash.interview_requested",
            &format!("/interviews/{id}"),
        )),
        Err(e) => {
            let typed = json!({"resend_form": {"mode": f.get("mode"), "proposed": f.get("proposed"),
                "place": f.get("place"), "attendees": f.get("attendees"), "note": f.get("note")}});
            show_refused(&st, &s, iid, e, typed).await
        }
    }
}

pub async fn add_questions(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    interviews::gate(&st.app, &s.p, InterviewId(id), Need::Centre).await?;
    let iid = InterviewId(id);
    let typed: Vec<(String, String)> = f
        .rows("questions")
        .iter()
        .map(|r| (r.get("part").to_owned(), r.get("text").to_owned()))
        .collect();
    let outcome = match interviews::parse_due(f.get("due")) {
        Ok(due) => {
            interviews::add_questions(&st.app, &s.p, iid, &typed, f.flag("with_template"), due)
                .await
        }
        Err(e) => Err(e.into()),
    };
    match outcome {
        Ok(_) => Ok(done(
            &st,
            &s.viewer,
            "flash.saved",
            &format!("/interviews/{id}#questions"),
        )),
        Err(e) => {
            let rows: Vec<Value> = typed
                .iter()
                .map(|(p, t)| json!({"part": p, "text": t}))
                .collect();
            show_refused(
                &st,
                &s,
                iid,
                e,
                json!({"question_rows": rows, "due_typed": f.get("due")}),
            )
            .await
        }
    }
}

pub async fn save_answer(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    interviews::gate(&st.app, &s.p, InterviewId(id), Need::OperatorStaff).await?;
    let iid = InterviewId(id);
    let q = f.i64("question").unwrap_or(0);
    let submit = f.get("submit") == "1";
    let outcome = interviews::save_answer(
        &st.app,
        &s.p,
        iid,
        q,
        f.i64("version").unwrap_or(0),
        f.get("answer"),
        submit,
    )
    .await;
    match outcome {
        Ok(_) => Ok(done(
            &st,
            &s.viewer,
            if submit {
                "flash.answer_submitted"
            } else {
                "flash.draft_saved"
            },
            &format!("/interviews/{id}#q-{q}"),
        )),
        Err(e) => {
            let mut typed = serde_json::Map::new();
            typed.insert(q.to_string(), json!(f.get("answer")));
            show_refused(&st, &s, iid, e, json!({"typed": typed})).await
        }
    }
}

pub async fn consent(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    interviews::gate(&st.app, &s.p, InterviewId(id), Need::Consent).await?;
    let iid = InterviewId(id);
    let choices: Vec<(u32, String)> = f
        .rows("consent")
        .iter()
        .filter_map(|r| {
            let sid = r.get("id").trim().parse::<u32>().ok()?;
            Some((sid, r.get("usage").to_owned()))
        })
        .collect();
    let outcome =
        interviews::set_consent(&st.app, &s.p, iid, f.i64("version").unwrap_or(0), &choices).await;
    match outcome {
        Ok(_) => Ok(done(
            &st,
            &s.viewer,
            "flash.saved",
            &format!("/interviews/{id}#consent"),
        )),
        Err(e) => show_refused(&st, &s, iid, e, json!({})).await,
    }
}

// ---------------------------------------------------------------- minutes

async fn minutes_ctx(st: &WebState, s: &SignedIn, id: InterviewId) -> Result<Value, WebError> {
    let v = interviews::view(&st.app, &s.p, id).await?;
    if !v.centre {
        return Err(AppError::Forbidden("the centre writes the minutes".into()).into());
    }
    let m = &v.interview.body.minutes;
    let mut rows: Vec<Value> = m
        .statements
        .iter()
        .map(|st| {
            json!({"id": st.id.to_string(), "speaker": st.speaker, "text": st.text,
                   "part": st.part.map_or("", Part::code),
                   "step": st.step.map(|r| r.code()).unwrap_or_default(),
                   "usage": st.usage().map(Usage::label_ja)})
        })
        .collect();
    for _ in 0..SPARE_STATEMENTS {
        rows.push(
            json!({"id": "", "speaker": "", "text": "", "part": "", "step": "", "usage": null}),
        );
    }
    let mut ctx = json!({
        "iv": v,
        "form": {"held_at": m.held_at.as_ref().map(|t| t.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default(),
                 "place": if m.place.is_empty() { v.interview.body.request.place.clone() } else { m.place.clone() },
                 "attendees": m.attendees},
        "rows": rows,
        "errors": {},
    });
    ctx["choices"] = choices();
    Ok(ctx)
}

pub async fn minutes_form(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let ctx = minutes_ctx(&st, &s, InterviewId(id)).await?;
    render(&st, &s.viewer, "interviews/minutes.html", ctx)
}

pub async fn minutes_save(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    interviews::gate(&st.app, &s.p, InterviewId(id), Need::Centre).await?;
    let iid = InterviewId(id);
    let rows: Vec<StatementRow> = f
        .rows("statements")
        .iter()
        .map(|r| StatementRow {
            id: r.get("id").to_owned(),
            speaker: r.get("speaker").to_owned(),
            text: r.get("text").to_owned(),
            part: r.get("part").to_owned(),
            step: r.get("step").to_owned(),
        })
        .collect();
    let form = interviews::MinutesForm {
        held_at: f.get("held_at").to_owned(),
        place: f.get("place").to_owned(),
        attendees: f.get("attendees").to_owned(),
        rows: rows.clone(),
    };
    let outcome =
        interviews::save_minutes(&st.app, &s.p, iid, f.i64("version").unwrap_or(0), &form).await;
    match outcome {
        Ok(_) => Ok(done(
            &st,
            &s.viewer,
            "flash.saved",
            &format!("/interviews/{id}#minutes"),
        )),
        Err(e) => {
            let mut ctx = minutes_ctx(&st, &s, iid).await?;
            ctx["form"] = json!({"held_at": f.get("held_at"), "place": f.get("place"),
                                 "attendees": f.get("attendees")});
            let mut typed: Vec<Value> = rows
                .iter()
                .map(|r| {
                    json!({"id": r.id, "speaker": r.speaker, "text": r.text,
                                "part": r.part, "step": r.step, "usage": null})
                })
                .collect();
            typed.push(
                json!({"id": "", "speaker": "", "text": "", "part": "", "step": "", "usage": null}),
            );
            ctx["rows"] = json!(typed);
            let status = refusal(e, &mut ctx, s.viewer.lang)?;
            render_as(&st, &s.viewer, "interviews/minutes.html", ctx, status)
        }
    }
}

// ---------------------------------------------------------------- files

/// Reads a multipart upload: the CSRF field, then the file, counting bytes as they arrive.
/// Past the limit nothing more is kept; the rest of the body is read and dropped (up to a
/// bound), so the browser gets the page that says why instead of a broken connection.
pub async fn upload(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
    headers: axum::http::HeaderMap,
    mp: Result<Multipart, MultipartRejection>,
) -> Result<Response, WebError> {
    let iid = InterviewId(id);
    // Access first: someone who may not see the interview learns nothing, not even the limit.
    interviews::gate(&st.app, &s.p, iid, Need::See).await?;
    let mut mp = mp.map_err(|e| WebError::BadRequest(format!("not a file upload: {e}")))?;
    let limit = st.max_attachment;
    // A script sends the token in the header; a form, as its first field.
    let mut csrf_ok = headers
        .get(crate::session::CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| crate::session::csrf_matches(&s.viewer, v));
    let mut file: Option<(String, Vec<u8>)> = None;
    let mut over = false;
    let mut drained: u64 = 0;
    while let Some(mut field) = mp
        .next_field()
        .await
        .map_err(|e| WebError::BadRequest(format!("unreadable upload: {e}")))?
    {
        match field.name() {
            Some("_csrf") => {
                let v = field
                    .text()
                    .await
                    .map_err(|e| WebError::BadRequest(format!("unreadable upload: {e}")))?;
                csrf_ok = crate::session::csrf_matches(&s.viewer, &v);
            }
            Some("file") if csrf_ok && file.is_none() && !over => {
                let name = field.file_name().unwrap_or("").to_owned();
                let mut buf = Vec::new();
                while let Some(chunk) = field
                    .chunk()
                    .await
                    .map_err(|e| WebError::BadRequest(format!("unreadable upload: {e}")))?
                {
                    if over {
                        drained += chunk.len() as u64;
                        if drained > limit.0.saturating_mul(4) {
                            break;
                        }
                        continue;
                    }
                    if (buf.len() + chunk.len()) as u64 > limit.0 {
                        over = true;
                        buf = Vec::new();
                        continue;
                    }
                    buf.extend_from_slice(&chunk);
                }
                if !over {
                    file = Some((name, buf));
                }
            }
            _ => {
                while let Some(chunk) = field
                    .chunk()
                    .await
                    .map_err(|e| WebError::BadRequest(format!("unreadable upload: {e}")))?
                {
                    drained += chunk.len() as u64;
                    if drained > limit.0.saturating_mul(4) {
                        break;
                    }
                }
            }
        }
        if drained > limit.0.saturating_mul(4) {
            break;
        }
    }
    if !csrf_ok {
        return Err(WebError::Csrf);
    }
    let outcome = match (over, file) {
        (true, _) => Err(AppError::Refused(limit.refusal())),
        (false, None) => Err(AppError::from(kizuki_domain::FieldError::required("file"))),
        (false, Some((name, bytes))) => {
            interviews::upload(&st.app, &s.p, iid, &name, bytes, limit).await
        }
    };
    match outcome {
        Ok(_) => Ok(done(
            &st,
            &s.viewer,
            "flash.file_kept",
            &format!("/interviews/{id}#files"),
        )),
        Err(e) => {
            let status_over = over;
            let mut res = show_refused(&st, &s, iid, e, json!({"upload_refused": true})).await?;
            if status_over {
                *res.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
            }
            Ok(res)
        }
    }
}

pub async fn download(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let (a, bytes) = interviews::download(&st.app, &s.p, id).await?;
    Ok(crate::render::attachment(bytes, &a.media_type, &a.filename))
}

async fn record(st: &WebState, s: &SignedIn, id: i64, pdf: bool) -> Result<Response, WebError> {
    let r = interviews::export::render(&st.app, &s.p, InterviewId(id), pdf, &st.pdf_fonts).await?;
    Ok(crate::render::attachment(
        r.bytes,
        r.content_type,
        &r.file_name,
    ))
}

pub async fn record_md(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    record(&st, &s, id, false).await
}

pub async fn record_pdf(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    record(&st, &s, id, true).await
}

// ---------------------------------------------------------------- templates

pub async fn templates_page(State(st): State<WebState>, s: SignedIn) -> Result<Response, WebError> {
    let all = templates::all(&st.app, &s.p).await?;
    render(
        &st,
        &s.viewer,
        "interviews/templates.html",
        json!({"templates": all, "errors": {}, "editor": s.p.role == kizuki_domain::user::Role::Editor}),
    )
}

pub async fn template_save(
    State(st): State<WebState>,
    s: SignedIn,
    Path(category): Path<String>,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    let outcome = templates::save(
        &st.app,
        &s.p,
        &category,
        f.get("body"),
        f.i64("version").unwrap_or(0),
    )
    .await;
    match outcome {
        Ok(_) => Ok(done(
            &st,
            &s.viewer,
            "flash.saved",
            &format!("/interview-templates#t-{category}"),
        )),
        Err(e) => {
            let mut all = json!(templates::all(&st.app, &s.p).await?);
            if let Some(list) = all.as_array_mut() {
                for t in list.iter_mut().filter(|t| t["category"] == category) {
                    t["body"] = json!(f.get("body"));
                    t["typed"] = json!(true);
                }
            }
            let mut ctx = json!({"templates": all, "errors": {}, "failed": category,
                                 "editor": s.p.role == kizuki_domain::user::Role::Editor});
            let status = refusal(e, &mut ctx, s.viewer.lang)?;
            render_as(&st, &s.viewer, "interviews/templates.html", ctx, status)
        }
    }
}
