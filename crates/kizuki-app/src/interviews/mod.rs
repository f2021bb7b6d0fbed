//! Interviews (ヒアリング) with the operator of a selected case: the centre's request, the
//! operator's answer (which goes into the case's cooperation record), written questions from
//! templates answered in the portal, the minutes with statements linked to the case timeline,
//! the operator's consent per statement, and the files the operator provides.
//!
//! Who may see an interview: the centre's content staff and the staff of the operator whose
//! report the case was written from — the same rule as the case's cooperation record. Anyone
//! else is told it does not exist, whatever the interview, question or file asked for.

pub mod attachments;
pub mod export;
pub mod notices;
pub mod templates;

use crate::App;
use crate::auth::Principal;
use crate::error::{AppError, AppResult};
use crate::security::audit::{actions, actor_user};
use crate::security::audit_log;
use crate::survey::cooperation::{self, Entry, Side};
use attachments::AttachmentLimit;
use chrono::NaiveDate;
use kizuki_domain::case::Case;
use kizuki_domain::clock::jst_date;
use kizuki_domain::ids::{CaseId, InterviewId};
use kizuki_domain::interview::{
    Answer, AnswerInput, Consent, InterviewBody, Minutes, Part, Reply, RequestInput, Restricted,
    Statement, StatementInput, Status, StepList, StepRef, Usage, drawn_from, parse_datetime,
};
use kizuki_domain::user::Role;
use kizuki_domain::{FieldError, ValidationErrors};
use kizuki_store::{
    AnswerState, Attachment, CooperationStatus, Interview, NewAttachment, NewQuestion, Question,
    SaveAnswer, StoreError,
};
use serde::Serialize;

/// What "not found" calls an interview.
const WHAT: &str = "interview";

/// Who is looking, and whether they may answer for the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer {
    pub centre: bool,
    /// An operator administrator of the case's operator: answers requests and gives consent.
    pub operator_admin: bool,
}

async fn case_of(app: &App, id: CaseId) -> AppResult<Case> {
    match app.store.get_case(id).await {
        Ok(c) => Ok(c),
        Err(StoreError::NotFound { .. }) => Err(StoreError::not_found(WHAT, id).into()),
        Err(e) => Err(e.into()),
    }
}

async fn viewer_of(app: &App, p: &Principal, c: &Case) -> AppResult<Viewer> {
    let side = cooperation::side_of(app, p, c, WHAT).await?;
    Ok(Viewer {
        centre: side == Side::Centre,
        operator_admin: side == Side::Operator && p.role == Role::OperatorAdmin,
    })
}

/// The interview `id` and its case, for someone who may see it; "not found" otherwise (also
/// when it does not exist, so the two cannot be told apart).
async fn load(app: &App, p: &Principal, id: InterviewId) -> AppResult<(Interview, Case, Viewer)> {
    let i = match app.store.get_interview(id).await {
        Ok(i) => i,
        Err(StoreError::NotFound { .. }) => return Err(StoreError::not_found(WHAT, id).into()),
        Err(e) => return Err(e.into()),
    };
    let c = case_of(app, i.case_id).await?;
    let v = viewer_of(app, p, &c)
        .await
        .map_err(|_| AppError::from(StoreError::not_found(WHAT, id)))?;
    Ok((i, c, v))
}

/// What an action on an interview needs of the caller, beyond seeing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Read it, download its files, attach one.
    See,
    /// Request, send again, ask questions, write the minutes.
    Centre,
    /// Answer the request.
    OperatorAdmin,
    /// Write answers to the questions.
    OperatorStaff,
    /// Record consent.
    Consent,
}

fn allows(v: Viewer, need: Need) -> AppResult<()> {
    let (ok, who) = match need {
        Need::See => (true, ""),
        Need::Centre => (
            v.centre,
            "センターの担当者が行います / the centre does this",
        ),
        Need::OperatorAdmin => (
            v.operator_admin,
            "依頼への回答は事業者の管理者が行います / the operator's administrator answers",
        ),
        Need::OperatorStaff => (
            !v.centre,
            "書面の回答は事業者が記入します / the operator answers",
        ),
        Need::Consent => (
            v.centre || v.operator_admin,
            "利用の同意は事業者の管理者が記録します / the operator's administrator records consent",
        ),
    };
    if ok {
        Ok(())
    } else {
        Err(AppError::Forbidden(who.into()))
    }
}

/// Decides whether `p` may do what `need` says to interview `id`, before a request's body is
/// read: someone who may not see it is told it does not exist, someone who may see it but not
/// do this is refused, whatever the body would have said.
pub async fn gate(app: &App, p: &Principal, id: InterviewId, need: Need) -> AppResult<()> {
    let (_, _, v) = load(app, p, id).await?;
    allows(v, need)
}

/// [`gate`] for requesting an interview of case `id` (the centre's content staff).
pub async fn gate_request(app: &App, p: &Principal, id: CaseId) -> AppResult<()> {
    let c = case_of(app, id).await?;
    allows(viewer_of(app, p, &c).await?, Need::Centre)
}

fn centre_only(v: Viewer) -> AppResult<()> {
    if v.centre {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "センターの担当者が行います / the centre does this".into(),
        ))
    }
}

async fn audit(
    app: &App,
    p: &Principal,
    action: &str,
    target: String,
    detail: serde_json::Value,
) -> AppResult<()> {
    audit_log::note(app, actor_user(p.user_id), action, target, &detail).await?;
    Ok(())
}

/// Records a change to interview `id` in the audit log.
async fn changed(
    app: &App,
    p: &Principal,
    id: InterviewId,
    detail: serde_json::Value,
) -> AppResult<()> {
    audit(app, p, actions::CHANGE, format!("interview:{id}"), detail).await
}

/// A step or response the minutes editor offers as a link.
#[derive(Debug, Clone, Serialize)]
pub struct StepOption {
    pub code: String,
    pub label: String,
    pub text: String,
}

fn step_options(c: &Case) -> Vec<StepOption> {
    let mut out = Vec::new();
    for (list, steps) in [
        (StepList::Steps, &c.content.steps),
        (StepList::Responses, &c.content.responses),
    ] {
        for s in steps {
            let r = StepRef {
                list,
                number: s.number,
            };
            out.push(StepOption {
                code: r.code(),
                label: r.label_ja(),
                text: s.text.clone(),
            });
        }
    }
    out
}

/// A statement as pages show it.
#[derive(Debug, Clone, Serialize)]
pub struct StatementView {
    #[serde(flatten)]
    pub statement: Statement,
    pub part_label: Option<&'static str>,
    pub step_code: Option<String>,
    pub step_label: Option<String>,
    pub usage: Option<Usage>,
    pub usage_label: Option<&'static str>,
}

impl StatementView {
    fn of(s: &Statement) -> StatementView {
        StatementView {
            part_label: s.part.map(Part::label_ja),
            step_code: s.step.map(StepRef::code),
            step_label: s.step.map(StepRef::label_ja),
            usage: s.usage(),
            usage_label: s.usage().map(Usage::label_ja),
            statement: s.clone(),
        }
    }
}

/// Everything an interview page shows.
#[derive(Debug, Clone, Serialize)]
pub struct InterviewView {
    pub interview: Interview,
    pub status: Status,
    pub status_label: &'static str,
    pub case_id: CaseId,
    pub case_number: u32,
    pub case_title: String,
    pub case_category: String,
    pub survey_year: Option<i32>,
    pub questions: Vec<Question>,
    pub attachments: Vec<Attachment>,
    pub statements: Vec<StatementView>,
    pub steps: Vec<StepOption>,
    pub centre: bool,
    pub operator_admin: bool,
    /// Questions not yet submitted.
    pub open_questions: usize,
}

async fn view_of(app: &App, i: Interview, c: &Case, v: Viewer) -> AppResult<InterviewView> {
    let mut questions = app.store.questions(i.id).await?;
    // A draft is the operator's until submitted: the centre sees that one exists, not what it
    // says.
    if v.centre {
        for q in questions
            .iter_mut()
            .filter(|q| q.state == AnswerState::Draft)
        {
            q.answer.clear();
        }
    }
    let attachments = app.store.attachments(i.id).await?;
    let status = i.body.status();
    Ok(InterviewView {
        status,
        status_label: status.label_ja(),
        case_id: c.id,
        case_number: c.content.number,
        case_title: c.content.title.clone(),
        case_category: c.content.category.0.clone(),
        survey_year: c.survey_year,
        open_questions: questions
            .iter()
            .filter(|q| q.state != AnswerState::Submitted)
            .count(),
        questions,
        attachments,
        statements: i
            .body
            .minutes
            .statements
            .iter()
            .map(StatementView::of)
            .collect(),
        steps: step_options(c),
        centre: v.centre,
        operator_admin: v.operator_admin,
        interview: i,
    })
}

/// One interview, for the centre or the case's operator.
pub async fn view(app: &App, p: &Principal, id: InterviewId) -> AppResult<InterviewView> {
    let (i, c, v) = load(app, p, id).await?;
    view_of(app, i, &c, v).await
}

/// A case's interviews as its interviews page lists them.
#[derive(Debug, Clone, Serialize)]
pub struct CaseInterviews {
    pub case_id: CaseId,
    pub case_number: u32,
    pub case_title: String,
    pub survey_year: Option<i32>,
    pub interviews: Vec<InterviewSummary>,
    pub centre: bool,
    /// What the next request's questions come from.
    pub template_label: String,
    pub template_questions: usize,
}

/// An interview in a list.
#[derive(Debug, Clone, Serialize)]
pub struct InterviewSummary {
    pub id: InterviewId,
    pub case_id: CaseId,
    pub status: Status,
    pub status_label: &'static str,
    pub mode: kizuki_domain::interview::Mode,
    pub mode_label: &'static str,
    pub proposed: Vec<chrono::NaiveDateTime>,
    pub accepted_on: Option<chrono::NaiveDateTime>,
    pub version: i64,
}

fn summary(i: &Interview) -> InterviewSummary {
    let status = i.body.status();
    InterviewSummary {
        id: i.id,
        case_id: i.case_id,
        status,
        status_label: status.label_ja(),
        mode: i.body.request.mode,
        mode_label: i.body.request.mode.label_ja(),
        proposed: i.body.request.proposed.clone(),
        accepted_on: i.body.answers.iter().rev().find_map(|a| match a.reply {
            Reply::Accepted { on } => Some(on),
            _ => None,
        }),
        version: i.version,
    }
}

/// The interviews of case `id`.
pub async fn for_case(app: &App, p: &Principal, id: CaseId) -> AppResult<CaseInterviews> {
    let c = case_of(app, id).await?;
    let v = viewer_of(app, p, &c).await?;
    let list = app.store.list_interviews(Some(id)).await?;
    let t = templates::current(app, &c.content.category.0).await?;
    Ok(CaseInterviews {
        case_id: c.id,
        case_number: c.content.number,
        case_title: c.content.title.clone(),
        survey_year: c.survey_year,
        interviews: list.iter().map(summary).collect(),
        centre: v.centre,
        template_label: t.label,
        template_questions: t.questions.len(),
    })
}

/// Reads an optional due date (`due`); ISO or 和暦.
pub fn parse_due(s: &str) -> Result<Option<NaiveDate>, FieldError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    kizuki_domain::wareki::parse_date_strict(s)
        .map(Some)
        .map_err(|_| FieldError::invalid("due", format!("日付「{s}」が読めません / not a date")))
}

/// The centre asks the operator of case `id` for an interview, with the case category's
/// template questions (due on `due`) when `with_template`. A case of a survey whose operator
/// has not yet been asked to cooperate gets that request recorded too.
pub async fn request(
    app: &App,
    p: &Principal,
    id: CaseId,
    input: RequestInput,
    with_template: bool,
    due: Option<NaiveDate>,
) -> AppResult<Interview> {
    let c = case_of(app, id).await?;
    centre_only(viewer_of(app, p, &c).await?)?;
    if c.survey_year.is_none() || c.report_id.is_none() {
        return Err(AppError::Refused(
            "調査の事例で、事業者の報告から書かれたものにだけ依頼できます / only a survey case written from an operator's report".into(),
        ));
    }
    let questions = if with_template {
        templates::questions_for(app, &c.content.category.0, due).await?
    } else {
        Vec::new()
    };
    let body = InterviewBody {
        request: input.signed(p.user_id, app.clock.now(), 1),
        answers: Vec::new(),
        minutes: Minutes::default(),
    };
    let i = app
        .store
        .create_interview(id, body, questions, p.user_id, app.clock.now())
        .await?;
    let history = app.store.cooperation_history(id).await?;
    if history.is_empty() {
        cooperation::request(app, p, id, "").await?;
    }
    audit(
        app,
        p,
        actions::CHANGE,
        format!("interview:{}", i.id),
        serde_json::json!({"case": id, "request": i.body.request}),
    )
    .await?;
    Ok(i)
}

/// The centre sends the request again with new dates (after the operator proposed others);
/// the operator answers it afresh.
pub async fn resend(
    app: &App,
    p: &Principal,
    id: InterviewId,
    expected_version: i64,
    input: RequestInput,
) -> AppResult<Interview> {
    let (i, _, v) = load(app, p, id).await?;
    centre_only(v)?;
    if i.body.status() == Status::Held {
        return Err(AppError::Refused(
            "実施済みの面談です / the interview has been held".into(),
        ));
    }
    let mut body = i.body.clone();
    body.request = input.signed(p.user_id, app.clock.now(), i.body.request.round + 1);
    let out = app
        .store
        .update_interview(id, expected_version, body, p.user_id, app.clock.now())
        .await?;
    changed(app, p, id, serde_json::json!({"request": out.body.request})).await?;
    Ok(out)
}

/// The operator's administrator answers the current request. The answer goes into the case's
/// cooperation record: accepting agrees to cooperate, a proposal keeps the request open, and a
/// decline declines cooperation (the case leaves the survey, as any decline does).
/// An answer to a request as typed (see [`AnswerInput::parse`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnswerForm {
    pub reply: String,
    pub on: String,
    /// Dates one per line.
    pub proposed: String,
    pub attendees: String,
    pub note: String,
}

pub async fn answer(
    app: &App,
    p: &Principal,
    id: InterviewId,
    expected_version: i64,
    form: &AnswerForm,
) -> AppResult<Interview> {
    let (i, c, v) = load(app, p, id).await?;
    if !v.operator_admin {
        return Err(AppError::Forbidden(
            "依頼への回答は事業者の管理者が行います / the operator's administrator answers".into(),
        ));
    }
    if !matches!(i.body.status(), Status::Requested) {
        return Err(AppError::Refused(
            "回答を待っている依頼はありません / nothing is awaiting your answer".into(),
        ));
    }
    let input = AnswerInput::parse(
        &form.reply,
        &form.on,
        &form.proposed,
        &form.attendees,
        &form.note,
        &i.body.request.proposed,
    )?;
    // The cooperation record first: a decline the survey cannot take (a cited or published
    // case) is refused before anything is written.
    let history = app.store.cooperation_history(c.id).await?;
    let seen = u32::try_from(history.len()).unwrap_or(u32::MAX);
    let latest = history.last().map(|r| r.status);
    let (status, reason) = match &input.reply {
        Reply::Accepted { on } => (
            CooperationStatus::Agreed,
            format!("ヒアリングを受諾（{}）", on.format("%Y-%m-%d %H:%M")),
        ),
        Reply::Proposed { proposed } => (
            latest.unwrap_or(CooperationStatus::Requested),
            format!(
                "ヒアリングの日程を再提案（{}）",
                proposed
                    .iter()
                    .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                    .collect::<Vec<_>>()
                    .join("、")
            ),
        ),
        Reply::Declined => (
            CooperationStatus::Declined,
            format!("ヒアリングを辞退: {}", input.note),
        ),
    };
    let entry = Entry {
        status,
        on: jst_date(app.clock.now()),
        contact: input.attendees.clone(),
        reason,
    };
    let mut body = i.body.clone();
    body.answers.push(Answer {
        reply: input.reply,
        attendees: input.attendees,
        note: input.note,
        by: p.user_id,
        at: app.clock.now(),
        round: i.body.request.round,
    });
    // The interview is written before the decline takes the case out of its survey, so a
    // conflicting edit of the interview leaves the cooperation record untouched.
    if status == CooperationStatus::Declined {
        cooperation::refuse_unless_declinable(app, &c).await?;
    }
    let out = app
        .store
        .update_interview(id, expected_version, body, p.user_id, app.clock.now())
        .await?;
    cooperation::append(app, p, c.id, seen, entry).await?;
    changed(
        app,
        p,
        id,
        serde_json::json!({"answer": out.body.answers.last()}),
    )
    .await?;
    Ok(out)
}

/// A statement row of the minutes editor as typed: its id when it is one already written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatementRow {
    pub id: String,
    pub speaker: String,
    pub text: String,
    pub part: String,
    pub step: String,
}

/// The centre writes the minutes. A statement keeps its id and the operator's consent while
/// its words stay the same; changed words need consent again. Errors name `held_at`, `place`,
/// `attendees` and `statements[i].…`.
/// The minutes as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MinutesForm {
    pub held_at: String,
    pub place: String,
    pub attendees: String,
    pub rows: Vec<StatementRow>,
}

pub async fn save_minutes(
    app: &App,
    p: &Principal,
    id: InterviewId,
    expected_version: i64,
    form: &MinutesForm,
) -> AppResult<Interview> {
    let (held_at, place, attendees, rows) =
        (&form.held_at, &form.place, &form.attendees, &form.rows);
    let (i, c, v) = load(app, p, id).await?;
    centre_only(v)?;
    let mut errs = ValidationErrors::default();
    let held = match held_at.trim() {
        "" => None,
        s => {
            let t = parse_datetime(s);
            if t.is_none() {
                errs.push(FieldError::invalid(
                    "held_at",
                    format!("「{s}」は日時として読めません（例: 2020-02-10 14:00） / not a date and time"),
                ));
            }
            t
        }
    };
    let place = kizuki_domain::error::text(&mut errs, "place", place, false, 500);
    let attendees = kizuki_domain::error::text(&mut errs, "attendees", attendees, false, 500);
    let mut next = i.body.next_statement_id();
    let mut statements = Vec::new();
    for (n, row) in rows
        .iter()
        .filter(|r| !(r.text.trim().is_empty() && r.speaker.trim().is_empty()))
        .enumerate()
    {
        let input = StatementInput::parse(
            &mut errs,
            n,
            &row.speaker,
            &row.text,
            &row.part,
            &row.step,
            &c.content,
        );
        let before = row
            .id
            .trim()
            .parse::<u32>()
            .ok()
            .and_then(|sid| i.body.minutes.statements.iter().find(|s| s.id == sid));
        let (sid, consent) = match before {
            Some(b) => (b.id, b.consent.clone().filter(|_| b.text == input.text)),
            None => {
                let sid = next;
                next += 1;
                (sid, None)
            }
        };
        statements.push(Statement {
            id: sid,
            speaker: input.speaker,
            text: input.text,
            part: input.part,
            step: input.step,
            consent,
        });
    }
    if !errs.is_empty() {
        return Err(errs.into());
    }
    let mut body = i.body.clone();
    body.minutes = Minutes {
        held_at: held,
        place,
        attendees,
        statements,
    };
    let out = app
        .store
        .update_interview(id, expected_version, body, p.user_id, app.clock.now())
        .await?;
    changed(app, p, id, serde_json::json!({"minutes": {"statements": out.body.minutes.statements.len(), "version": out.version}})).await?;
    Ok(out)
}

/// Records what the operator agrees each statement may be used for (`(statement id, usage
/// code)`; an empty code leaves it unrecorded). The operator's administrator does it, or the
/// centre on their word; either way who and when is kept for each change.
pub async fn set_consent(
    app: &App,
    p: &Principal,
    id: InterviewId,
    expected_version: i64,
    choices: &[(u32, String)],
) -> AppResult<Interview> {
    let (i, _, v) = load(app, p, id).await?;
    if !(v.centre || v.operator_admin) {
        return Err(AppError::Forbidden(
            "利用の同意は事業者の管理者が記録します / the operator's administrator records consent"
                .into(),
        ));
    }
    let mut errs = ValidationErrors::default();
    let mut body = i.body.clone();
    let now = app.clock.now();
    let mut consented = Vec::new();
    for (sid, code) in choices {
        let field = format!("consent.{sid}");
        let Some(s) = body.minutes.statements.iter_mut().find(|s| s.id == *sid) else {
            errs.push(FieldError::invalid(
                field,
                "その発言はありません / no such statement",
            ));
            continue;
        };
        let usage = match code.trim() {
            "" => None,
            c => match Usage::parse(c) {
                Some(u) => Some(u),
                None => {
                    errs.push(FieldError::invalid(
                        field,
                        "引用可・要約して使用可・公表不可のどれかを選んでください / choose quotation, paraphrase or not_for_publication",
                    ));
                    continue;
                }
            },
        };
        if s.usage() != usage {
            s.consent = usage.map(|usage| Consent {
                usage,
                by: p.user_id,
                at: now,
            });
            consented.push(serde_json::json!({"statement": sid, "usage": usage}));
        }
    }
    if !errs.is_empty() {
        return Err(errs.into());
    }
    if consented.is_empty() {
        return Ok(i);
    }
    let out = app
        .store
        .update_interview(id, expected_version, body, p.user_id, now)
        .await?;
    changed(app, p, id, serde_json::json!({"consent": consented})).await?;
    Ok(out)
}

/// The centre adds questions: typed ones and/or the case category's template, due on `due`.
pub async fn add_questions(
    app: &App,
    p: &Principal,
    id: InterviewId,
    typed: &[(String, String)],
    with_template: bool,
    due: Option<NaiveDate>,
) -> AppResult<Vec<Question>> {
    let (_, c, v) = load(app, p, id).await?;
    centre_only(v)?;
    let mut errs = ValidationErrors::default();
    let mut qs = Vec::new();
    for (n, (part, text)) in typed
        .iter()
        .filter(|(_, t)| !t.trim().is_empty())
        .enumerate()
    {
        let part = match Part::parse(part) {
            Some(p) => Some(p),
            None => {
                errs.push(FieldError::invalid(
                    format!("questions[{n}].part"),
                    "章を選んでください / choose a section",
                ));
                None
            }
        };
        let text = kizuki_domain::error::text(
            &mut errs,
            &format!("questions[{n}].text"),
            text,
            true,
            1000,
        );
        if let Some(part) = part {
            qs.push(NewQuestion { part, text, due });
        }
    }
    if with_template {
        qs.extend(templates::questions_for(app, &c.content.category.0, due).await?);
    }
    if !errs.is_empty() {
        return Err(errs.into());
    }
    if qs.is_empty() {
        return Err(FieldError::required("questions").into());
    }
    let added = app.store.add_questions(id, qs).await?;
    changed(
        app,
        p,
        id,
        serde_json::json!({"questions_added": added.iter().map(|q| q.id).collect::<Vec<_>>()}),
    )
    .await?;
    Ok(added)
}

const MAX_ANSWER: usize = 20_000;

/// The operator's staff answer a question in writing: saved as a draft, or submitted (then
/// it is the centre's and cannot change).
pub async fn save_answer(
    app: &App,
    p: &Principal,
    id: InterviewId,
    question: i64,
    expected_version: i64,
    text: &str,
    submit: bool,
) -> AppResult<Question> {
    let (_, _, v) = load(app, p, id).await?;
    if v.centre {
        return Err(AppError::Forbidden(
            "書面の回答は事業者が記入します / the operator answers".into(),
        ));
    }
    let qs = app.store.questions(id).await?;
    if !qs.iter().any(|q| q.id == question) {
        return Err(StoreError::not_found("question", question).into());
    }
    let mut errs = ValidationErrors::default();
    let field = format!("answers.{question}");
    let answer = kizuki_domain::error::text(&mut errs, &field, text, submit, MAX_ANSWER);
    if !errs.is_empty() {
        return Err(errs.into());
    }
    let q = app
        .store
        .save_answer(SaveAnswer {
            question,
            expected_version,
            answer,
            submit,
            by: p.user_id,
            at: app.clock.now(),
        })
        .await?;
    if submit {
        changed(
            app,
            p,
            id,
            serde_json::json!({"answer_submitted": question}),
        )
        .await?;
    }
    Ok(q)
}

/// Keeps a file for the interview. The web layer stops reading at `limit`; this checks again,
/// so nothing over it is kept whichever way it came.
pub async fn upload(
    app: &App,
    p: &Principal,
    id: InterviewId,
    filename: &str,
    content: Vec<u8>,
    limit: AttachmentLimit,
) -> AppResult<Attachment> {
    let (_, _, _) = load(app, p, id).await?;
    if content.len() as u64 > limit.0 {
        return Err(AppError::Refused(limit.refusal()));
    }
    let filename = attachments::clean_filename(filename);
    let a = app
        .store
        .add_attachment(NewAttachment {
            interview_id: id,
            media_type: attachments::sniff(&content).to_owned(),
            sha256: attachments::sha256_hex(&content),
            filename,
            content,
            by: p.user_id,
            at: app.clock.now(),
        })
        .await?;
    changed(app, p, id, serde_json::json!({"attachment": a})).await?;
    Ok(a)
}

/// An attachment's bytes, for the centre and the operator's own staff; every read is audited.
pub async fn download(
    app: &App,
    p: &Principal,
    attachment: i64,
) -> AppResult<(Attachment, Vec<u8>)> {
    let (a, bytes) = match app.store.attachment(attachment).await {
        Ok(x) => x,
        Err(StoreError::NotFound { .. }) => {
            return Err(StoreError::not_found("attachment", attachment).into());
        }
        Err(e) => return Err(e.into()),
    };
    load(app, p, a.interview_id)
        .await
        .map_err(|_| AppError::from(StoreError::not_found("attachment", attachment)))?;
    audit(
        app,
        p,
        actions::READ,
        format!("attachment:{attachment}"),
        serde_json::json!({"interview": a.interview_id, "sha256": a.sha256}),
    )
    .await?;
    Ok((a, bytes))
}

/// A sentence of a case resting on a statement the operator marked not for publication.
#[derive(Debug, Clone, Serialize)]
pub struct RestrictedUse {
    pub interview_id: InterviewId,
    pub statement_id: u32,
    pub statement: String,
    #[serde(flatten)]
    pub found: Restricted,
}

/// What the interviews say about the text of case `c`: sentences drawn from statements not
/// for publication, and how many statements still await the operator's consent.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Provenance {
    pub restricted: Vec<RestrictedUse>,
    pub awaiting_consent: usize,
}

/// The check the anonymisation review runs on the case text (centre only; the caller has
/// decided access to the case).
pub async fn provenance(app: &App, c: &Case) -> AppResult<Provenance> {
    let mut out = Provenance::default();
    for i in app.store.list_interviews(Some(c.id)).await? {
        let st = &i.body.minutes.statements;
        out.awaiting_consent += st.iter().filter(|s| s.consent.is_none()).count();
        let closed: Vec<&Statement> = st
            .iter()
            .filter(|s| s.usage() == Some(Usage::NotForPublication))
            .collect();
        let texts: Vec<&str> = closed.iter().map(|s| s.text.as_str()).collect();
        for found in drawn_from(&c.content, &texts) {
            let s = closed[found.statement];
            out.restricted.push(RestrictedUse {
                interview_id: i.id,
                statement_id: s.id,
                statement: s.text.clone(),
                found,
            });
        }
    }
    Ok(out)
}

/// What the case editor shows from the interviews: the statements each step rests on, and
/// the statements the case does not use yet (neither linked to a step nor found in its text).
#[derive(Debug, Clone, Serialize, Default)]
pub struct StepSources {
    /// By step code (`step:3`, `response:1`).
    pub by_step: std::collections::BTreeMap<String, Vec<StatementView>>,
    pub unused: Vec<StatementView>,
}

/// The sources of case `id`'s steps, for the centre.
pub async fn step_sources(app: &App, p: &Principal, id: CaseId) -> AppResult<StepSources> {
    p.require_analyst()?;
    let c = app.store.get_case(id).await?;
    let mut out = StepSources::default();
    for i in app.store.list_interviews(Some(id)).await? {
        for s in &i.body.minutes.statements {
            if let Some(r) = s.step {
                out.by_step
                    .entry(r.code())
                    .or_default()
                    .push(StatementView::of(s));
                continue;
            }
            if drawn_from(&c.content, &[s.text.as_str()]).is_empty() {
                out.unused.push(StatementView::of(s));
            }
        }
    }
    Ok(out)
}

/// An interview waiting on someone, for the inbox.
#[derive(Debug, Clone, Serialize)]
pub struct InboxItem {
    #[serde(flatten)]
    pub summary: InterviewSummary,
    pub case_number: u32,
    pub case_title: String,
    pub survey_year: Option<i32>,
    pub open_questions: usize,
    /// The earliest due date of an unsubmitted question.
    pub next_due: Option<NaiveDate>,
    /// Whether the viewer has something to do: answer the request or the questions (the
    /// operator), or look at a reply (the centre).
    pub action: bool,
}

/// The interviews the principal can see, newest first: the operator's own (with what awaits
/// their answer) or, for the centre, all of them.
pub async fn inbox(app: &App, p: &Principal) -> AppResult<Vec<InboxItem>> {
    let centre = matches!(p.role, Role::Analyst | Role::Editor);
    if !centre && !p.is_operator() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for i in app.store.list_interviews(None).await?.into_iter().rev() {
        let c = app.store.get_case(i.case_id).await?;
        if !centre {
            let Some(r) = c.report_id else { continue };
            if app.store.get_report(r).await?.org_id != p.org_id {
                continue;
            }
        }
        let qs = app.store.questions(i.id).await?;
        let open: Vec<&Question> = qs
            .iter()
            .filter(|q| q.state != AnswerState::Submitted)
            .collect();
        let status = i.body.status();
        let action = if centre {
            matches!(status, Status::Proposed | Status::Declined)
        } else {
            (status == Status::Requested && p.role == Role::OperatorAdmin) || !open.is_empty()
        };
        out.push(InboxItem {
            summary: summary(&i),
            case_number: c.content.number,
            case_title: c.content.title.clone(),
            survey_year: c.survey_year,
            open_questions: open.len(),
            next_due: open.iter().filter_map(|q| q.due).min(),
            action,
        });
    }
    Ok(out)
}

/// Display names by user id, for the names an interview's record shows (who asked, answered,
/// consented).
pub async fn names(
    app: &App,
) -> AppResult<std::collections::BTreeMap<kizuki_domain::ids::UserId, String>> {
    Ok(app
        .store
        .list_users()
        .await?
        .into_iter()
        .map(|u| (u.id, u.user.display_name))
        .collect())
}

/// [`provenance`] of case `id` for the anonymisation review (the centre's content staff).
pub async fn review_provenance(app: &App, p: &Principal, id: CaseId) -> AppResult<Provenance> {
    p.require_analyst()?;
    let c = app.store.get_case(id).await?;
    provenance(app, &c).await
}
