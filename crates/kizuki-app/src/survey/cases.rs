//! Cases, surveys and lessons as services: the case editor's form (plain fields and rows of
//! fields with add, remove and move buttons, so it works without JavaScript), saving against
//! a version, the survey with its common lessons,
//! and every named lesson across cases.

use crate::App;
use crate::auth::{self, Principal};
use crate::error::{AppError, AppResult};
use kizuki_domain::access::{Action, Viewer};
use kizuki_domain::case::{Actor, ActorKind, Case, CaseContent, Lesson, Sections, Step};
use kizuki_domain::ids::CaseId;
use kizuki_domain::survey::{CommonLesson, Survey};
use kizuki_domain::taxonomy::{Code, Taxonomy};
use kizuki_domain::{FieldError, FieldErrorKind, ValidationErrors};
use kizuki_store::StoreError;
use serde::{Deserialize, Serialize};

/// Actor kinds by the code written in the editor.
pub const ACTOR_KINDS: [(ActorKind, &str); 8] = [
    (ActorKind::Operator, "operator"),
    (ActorKind::Department, "department"),
    (ActorKind::Vendor, "vendor"),
    (ActorKind::System, "system"),
    (ActorKind::Store, "store"),
    (ActorKind::Customer, "customer"),
    (ActorKind::Attacker, "attacker"),
    (ActorKind::ThirdParty, "third_party"),
];

pub fn actor_kind_code(k: ActorKind) -> &'static str {
    ACTOR_KINDS
        .iter()
        .find(|(a, _)| *a == k)
        .map_or("operator", |(_, c)| c)
}

fn actor_kind(s: &str) -> Option<ActorKind> {
    let s = s.trim().replace('-', "_");
    ACTOR_KINDS.iter().find(|(_, c)| *c == s).map(|(k, _)| *k)
}

/// One actor row of the case editor, as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ActorFields {
    pub key: String,
    pub label: String,
    /// A code of [`ACTOR_KINDS`].
    pub kind: String,
    /// The key of the actor it belongs to, or empty.
    pub group: String,
}

/// One step or response row of the case editor, as typed. Its number is its position.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StepFields {
    /// Actor keys, comma separated; the first is where it happens or who acts.
    pub actors: String,
    pub text: String,
    /// 「10:30」, 「3時間後」 …, or empty.
    pub time: String,
}

/// One lesson row of the case editor, as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LessonFields {
    pub title: String,
    pub text: String,
}

impl ActorFields {
    fn is_blank(&self) -> bool {
        [&self.key, &self.label, &self.group]
            .iter()
            .all(|v| v.trim().is_empty())
    }
}

impl StepFields {
    fn is_blank(&self) -> bool {
        [&self.actors, &self.text, &self.time]
            .iter()
            .all(|v| v.trim().is_empty())
    }
}

impl LessonFields {
    fn is_blank(&self) -> bool {
        self.title.trim().is_empty() && self.text.trim().is_empty()
    }
}

/// The case editor's fields as typed. Overview and sections hold one point a line; actors,
/// steps, responses and lessons are rows of fields, so the editor works as a plain form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CaseForm {
    pub number: String,
    pub category: String,
    pub title: String,
    pub impact: String,
    pub cause: String,
    pub overview: String,
    pub actors: Vec<ActorFields>,
    pub steps: Vec<StepFields>,
    pub responses: Vec<StepFields>,
    pub background: String,
    pub detection: String,
    pub response: String,
    pub cause_points: String,
    pub countermeasures: String,
    pub lessons: Vec<LessonFields>,
}

/// The form fields in the order the editor shows them, for comparisons and error placement.
pub const CASE_FIELDS: [&str; 15] = [
    "number",
    "category",
    "title",
    "impact",
    "cause",
    "overview",
    "actors",
    "steps",
    "responses",
    "background",
    "detection",
    "response",
    "cause_points",
    "countermeasures",
    "lessons",
];

/// The editor's lists of rows, by field name.
pub const ROW_LISTS: [&str; 4] = ["actors", "steps", "responses", "lessons"];

/// More rows than any case needs; an "add" beyond it does nothing, so a looping client cannot
/// grow a form without bound.
pub const MAX_ROWS: usize = 200;

fn lines(s: &str) -> Vec<&str> {
    s.lines().map(str::trim).filter(|l| !l.is_empty()).collect()
}

/// Step actors as typed: commas (half or full width), 読点 or spaces between keys.
fn actor_keys(s: &str) -> Vec<String> {
    s.split([',', '，', '、', ' ', '　'])
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect()
}

fn step_rows(steps: &[Step]) -> Vec<StepFields> {
    steps
        .iter()
        .map(|s| StepFields {
            actors: s.actors.join(", "),
            text: s.text.clone(),
            time: s.time.clone().unwrap_or_default(),
        })
        .collect()
}

fn steps_text(rows: &[StepFields]) -> String {
    rows.iter()
        .filter(|r| !r.is_blank())
        .map(|r| {
            let mut l = format!("{} | {}", r.actors.trim(), r.text.trim());
            if !r.time.trim().is_empty() {
                l.push_str(&format!(" | {}", r.time.trim()));
            }
            l
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What a row button does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowAction {
    Add,
    Remove,
    Up,
    Down,
}

/// A row button of the editor, posted as `row_op=steps:add`, `steps:remove:2`, `steps:up:2`
/// or `steps:down:2` (rows counted from 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowOp {
    /// One of [`ROW_LISTS`].
    pub list: &'static str,
    pub action: RowAction,
    /// The row it applies to (the new row's place for `Add`).
    pub index: usize,
}

impl RowOp {
    pub fn parse(s: &str) -> Option<RowOp> {
        let mut parts = s.trim().split(':');
        let list = parts.next()?;
        let list = ROW_LISTS.into_iter().find(|l| *l == list)?;
        let action = match parts.next()? {
            "add" => RowAction::Add,
            "remove" => RowAction::Remove,
            "up" => RowAction::Up,
            "down" => RowAction::Down,
            _ => return None,
        };
        let index = match (action, parts.next()) {
            (RowAction::Add, None) => usize::MAX,
            (_, Some(n)) => n.parse().ok()?,
            (_, None) => return None,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(RowOp {
            list,
            action,
            index,
        })
    }
}

/// Applies a row action to one list; returns the row that should have focus afterwards, or
/// `None` when it should go to the list's "add" button (the list is empty, or nothing
/// happened).
fn apply_rows<T: Default>(rows: &mut Vec<T>, action: RowAction, index: usize) -> Option<usize> {
    let n = rows.len();
    match action {
        RowAction::Add if n < MAX_ROWS => {
            rows.push(T::default());
            Some(n)
        }
        RowAction::Add => None,
        _ if index >= n => None,
        RowAction::Remove => {
            rows.remove(index);
            (!rows.is_empty()).then(|| index.min(rows.len() - 1))
        }
        RowAction::Up if index > 0 => {
            rows.swap(index - 1, index);
            Some(index - 1)
        }
        RowAction::Down if index + 1 < n => {
            rows.swap(index, index + 1);
            Some(index + 1)
        }
        // Moving the first row up or the last down leaves it, and the focus, where it is.
        RowAction::Up | RowAction::Down => Some(index),
    }
}

/// Where each parsed row came from in the editor: blank rows are skipped when reading, so a
/// domain error about `steps[2]` may be about the editor's fourth row.
#[derive(Debug, Default)]
struct RowMaps {
    actors: Vec<usize>,
    steps: Vec<usize>,
    responses: Vec<usize>,
    lessons: Vec<usize>,
}

impl RowMaps {
    fn of(&self, list: &str) -> Option<&[usize]> {
        match list {
            "actors" => Some(&self.actors),
            "steps" => Some(&self.steps),
            "responses" => Some(&self.responses),
            "lessons" => Some(&self.lessons),
            _ => None,
        }
    }
}

impl CaseForm {
    pub fn from_content(c: &CaseContent) -> CaseForm {
        CaseForm {
            number: c.number.to_string(),
            category: c.category.0.clone(),
            title: c.title.clone(),
            impact: c.impact.clone(),
            cause: c.cause.clone(),
            overview: c.overview.join("\n"),
            actors: c
                .actors
                .iter()
                .map(|a| ActorFields {
                    key: a.key.clone(),
                    label: a.label.clone(),
                    kind: actor_kind_code(a.kind).to_owned(),
                    group: a.group.clone().unwrap_or_default(),
                })
                .collect(),
            steps: step_rows(&c.steps),
            responses: step_rows(&c.responses),
            background: c.sections.background.join("\n"),
            detection: c.sections.detection.join("\n"),
            response: c.sections.response.join("\n"),
            cause_points: c.sections.cause.join("\n"),
            countermeasures: c.sections.countermeasures.join("\n"),
            lessons: c
                .lessons
                .iter()
                .map(|l| LessonFields {
                    title: l.title.clone(),
                    text: l.text.clone(),
                })
                .collect(),
        }
    }

    /// One field by name (see [`CASE_FIELDS`]) as text, rows one a line, for comparing two
    /// versions side by side.
    pub fn field_text(&self, name: &str) -> String {
        match name {
            "number" => self.number.clone(),
            "category" => self.category.clone(),
            "title" => self.title.clone(),
            "impact" => self.impact.clone(),
            "cause" => self.cause.clone(),
            "overview" => self.overview.clone(),
            "actors" => self
                .actors
                .iter()
                .filter(|a| !a.is_blank())
                .map(|a| {
                    let mut l = format!("{} | {} | {}", a.key.trim(), a.label.trim(), a.kind);
                    if !a.group.trim().is_empty() {
                        l.push_str(&format!(" | {}", a.group.trim()));
                    }
                    l
                })
                .collect::<Vec<_>>()
                .join("\n"),
            "steps" => steps_text(&self.steps),
            "responses" => steps_text(&self.responses),
            "background" => self.background.clone(),
            "detection" => self.detection.clone(),
            "response" => self.response.clone(),
            "cause_points" => self.cause_points.clone(),
            "countermeasures" => self.countermeasures.clone(),
            "lessons" => self
                .lessons
                .iter()
                .filter(|l| !l.is_blank())
                .map(|l| format!("{} | {}", l.title.trim(), l.text.trim()))
                .collect::<Vec<_>>()
                .join("\n"),
            _ => String::new(),
        }
    }

    /// Applies a row button (add, remove, move); returns the row to focus next, or `None` for
    /// the list's "add" button.
    pub fn apply(&mut self, op: RowOp) -> Option<usize> {
        match op.list {
            "actors" => apply_rows(&mut self.actors, op.action, op.index),
            "steps" => apply_rows(&mut self.steps, op.action, op.index),
            "responses" => apply_rows(&mut self.responses, op.action, op.index),
            "lessons" => apply_rows(&mut self.lessons, op.action, op.index),
            _ => None,
        }
    }

    /// Reads the fields into a case and checks it. Errors name the editor's field: a row's
    /// field as `steps[1].time` (the row counted from 0 as shown, blank rows included), a
    /// point of a one-a-line field as `overview[2]` (lines counted from 0).
    pub fn parse(&self, tx: &Taxonomy) -> Result<CaseContent, ValidationErrors> {
        let mut errs = ValidationErrors::default();
        let mut maps = RowMaps::default();
        let number = match self.number.trim().parse::<u32>() {
            Ok(n) => n,
            Err(_) => {
                errs.push(FieldError::new(
                    "number",
                    FieldErrorKind::OutOfRange {
                        min: 1,
                        max: i64::from(u32::MAX),
                    },
                ));
                1
            }
        };
        let mut actors = Vec::new();
        for (i, a) in self.actors.iter().enumerate() {
            if a.is_blank() {
                continue;
            }
            let kind = match actor_kind(&a.kind) {
                Some(k) => k,
                None => {
                    errs.push(FieldError::invalid(
                        format!("actors[{i}].kind"),
                        format!(
                            "種別「{}」は使えません（{}） / unknown kind '{}'",
                            a.kind,
                            ACTOR_KINDS.map(|(_, c)| c).join(", "),
                            a.kind
                        ),
                    ));
                    ActorKind::Operator
                }
            };
            maps.actors.push(i);
            actors.push(Actor {
                key: a.key.trim().to_owned(),
                label: a.label.trim().to_owned(),
                kind,
                group: Some(a.group.trim().to_owned()).filter(|g| !g.is_empty()),
            });
        }
        let steps = |rows: &[StepFields], map: &mut Vec<usize>| -> Vec<Step> {
            rows.iter()
                .enumerate()
                .filter(|(_, r)| !r.is_blank())
                .map(|(i, r)| {
                    map.push(i);
                    Step {
                        number: u32::try_from(map.len()).unwrap_or(u32::MAX),
                        text: r.text.trim().to_owned(),
                        actors: actor_keys(&r.actors),
                        time: Some(r.time.clone()),
                    }
                })
                .collect()
        };
        let points =
            |text: &str| -> Vec<String> { lines(text).into_iter().map(str::to_owned).collect() };
        let lessons = self
            .lessons
            .iter()
            .enumerate()
            .filter(|(_, l)| !l.is_blank())
            .map(|(i, l)| {
                maps.lessons.push(i);
                Lesson {
                    title: l.title.trim().to_owned(),
                    text: l.text.trim().to_owned(),
                }
            })
            .collect();
        let content = CaseContent {
            number,
            category: Code(self.category.trim().to_owned()),
            title: self.title.clone(),
            impact: self.impact.clone(),
            cause: self.cause.clone(),
            overview: points(&self.overview),
            actors,
            steps: steps(&self.steps, &mut maps.steps),
            responses: steps(&self.responses, &mut maps.responses),
            sections: Sections {
                background: points(&self.background),
                detection: points(&self.detection),
                response: points(&self.response),
                cause: points(&self.cause_points),
                countermeasures: points(&self.countermeasures),
            },
            lessons,
        };
        match content.parse(tx) {
            Ok(c) if errs.is_empty() => Ok(c),
            Ok(_) => Err(errs),
            Err(more) => {
                errs.0.extend(more.0.into_iter().map(|mut e| {
                    e.field = editor_path(&e.field, &maps);
                    e
                }));
                Err(errs)
            }
        }
    }
}

/// Maps a domain field path (`sections.cause[2]`, `steps[1].actors[0]`) to the editor's
/// field (`cause_points[2]`, `steps[1].actors`), taking rows as they are numbered in the
/// editor when no row was left blank.
pub fn editor_field(path: &str) -> String {
    editor_path(path, &RowMaps::default())
}

fn editor_path(path: &str, maps: &RowMaps) -> String {
    let path = path
        .strip_prefix("sections.")
        .map(|rest| {
            if let Some(r) = rest.strip_prefix("cause") {
                format!("cause_points{r}")
            } else {
                rest.to_owned()
            }
        })
        .unwrap_or_else(|| path.to_owned());
    if let Some((list, i, field)) = row_field(&path) {
        let row = maps.of(list).and_then(|m| m.get(i).copied()).unwrap_or(i);
        // A step's actors are one input, so an unknown key names the input; its number is
        // its place, so a numbering error is about the row.
        let field = match field.split('[').next().unwrap_or_default() {
            "number" => "",
            f => f,
        };
        return if field.is_empty() {
            format!("{list}[{row}]")
        } else {
            format!("{list}[{row}].{field}")
        };
    }
    match path.find('.') {
        Some(dot) => path[..dot].to_owned(),
        None => path,
    }
}

/// A path inside a row list, `steps[1].time` or `steps[1]`, as (list, row, field); `None`
/// for any other path.
pub fn row_field(path: &str) -> Option<(&'static str, usize, &str)> {
    let (list, rest) = path.split_once('[')?;
    let list = ROW_LISTS.into_iter().find(|l| *l == list)?;
    let (n, rest) = rest.split_once(']')?;
    let n = n.parse().ok()?;
    let field = match rest.strip_prefix('.') {
        Some(f) => f,
        None if rest.is_empty() => "",
        None => return None,
    };
    Some((list, n, field))
}

/// The editor field an error belongs to and, when it is about one line, that line (from 1).
pub fn split_field(path: &str) -> (&str, Option<usize>) {
    match path.split_once('[') {
        Some((f, rest)) => {
            let n = rest
                .trim_end_matches(']')
                .split(']')
                .next()
                .and_then(|n| n.parse::<usize>().ok());
            (f, n.map(|n| n + 1))
        }
        None => (path, None),
    }
}

/// The case, if `access::decide` lets the principal read it; otherwise "not found".
pub async fn get(app: &App, p: &Principal, id: CaseId) -> AppResult<Case> {
    let c = app.store.get_case(id).await?;
    let v = auth::viewer(app, p).await?;
    if auth::decide_case_as(app, &v, &c, Action::Read)
        .await?
        .is_allowed()
    {
        Ok(c)
    } else {
        Err(StoreError::not_found("case", id).into())
    }
}

/// The cases the principal may read.
pub async fn list(app: &App, p: &Principal, survey_year: Option<i32>) -> AppResult<Vec<Case>> {
    list_as(app, &auth::viewer(app, p).await?, survey_year).await
}

/// The cases `v` may read (the public portal passes `Viewer::Public`).
pub async fn list_as(app: &App, v: &Viewer, survey_year: Option<i32>) -> AppResult<Vec<Case>> {
    let v = v.clone();
    let mut out = Vec::new();
    for c in app.store.list_cases(survey_year).await? {
        if auth::decide_case_as(app, &v, &c, Action::Read)
            .await?
            .is_allowed()
        {
            out.push(c);
        }
    }
    Ok(out)
}

/// The surveys the principal may read, in the store's order.
pub async fn surveys(app: &App, p: &Principal) -> AppResult<Vec<Survey>> {
    surveys_as(app, &auth::viewer(app, p).await?).await
}

/// The surveys `v` may read (the public portal passes `Viewer::Public`).
pub async fn surveys_as(app: &App, v: &Viewer) -> AppResult<Vec<Survey>> {
    let v = v.clone();
    let mut out = Vec::new();
    for s in app.store.list_surveys().await? {
        let fy = s.content.fiscal_year.year();
        if auth::decide_survey_as(app, &v, fy, Action::Read)
            .await?
            .is_allowed()
        {
            out.push(s);
        }
    }
    Ok(out)
}

/// Whether the principal may write this case (for showing the edit button).
pub async fn may_edit(app: &App, p: &Principal, c: &Case) -> AppResult<bool> {
    let v = auth::viewer(app, p).await?;
    Ok(auth::decide_case_as(app, &v, c, Action::Edit)
        .await?
        .is_allowed())
}

/// Refuses unless the principal writes cases at all (the live preview, new cases).
pub async fn require_writer(app: &App, p: &Principal) -> AppResult<()> {
    let draft = kizuki_domain::access::CaseRef {
        source_org: None,
        shown_to_source: false,
        awaiting_source: false,
        published: false,
    };
    let v = auth::viewer(app, p).await?;
    if kizuki_domain::access::decide(
        &v,
        Action::Create,
        &kizuki_domain::access::Resource::Case(draft),
    )
    .is_allowed()
    {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "cases are written by the centre's staff".into(),
        ))
    }
}

/// Refuses editing a case the principal may not write ("not found" when it may not even
/// read it).
pub async fn require_case_edit(app: &App, p: &Principal, id: CaseId) -> AppResult<()> {
    let c = get(app, p, id).await?;
    let v = auth::viewer(app, p).await?;
    if auth::decide_case_as(app, &v, &c, Action::Edit)
        .await?
        .is_allowed()
    {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "this case cannot be edited by you".into(),
        ))
    }
}

/// Saves an edited case against the version the editor started from.
pub async fn update(
    app: &App,
    p: &Principal,
    id: CaseId,
    version: i64,
    content: CaseContent,
) -> AppResult<Case> {
    require_case_edit(app, p, id).await?;
    let before = app.store.get_case(id).await?;
    let saved = app
        .store
        .update_case(id, version, content, Some(p.user_id), app.clock.now())
        .await?;
    let state = |c: &Case| serde_json::json!({"version": c.version, "content": c.content});
    crate::security::audit_log::change(
        app,
        p.user_id,
        format!("case:{id}"),
        state(&before),
        state(&saved),
    )
    .await?;
    // Common lessons cite cases by number: a renumbered case takes its citations along.
    if let Some(year) = saved.survey_year {
        crate::survey::year::renumber_case(app, year, before.content.number, saved.content.number)
            .await?;
    }
    // Publication: a change to a case under sign-off sends it back to draft. The
    // case is saved either way; should recording the reopen fail, the fingerprint checks at
    // approval and publication still refuse the changed text.
    if let Err(e) = crate::publication::content_changed(app, p, id).await {
        tracing::warn!(case = %id, error = %e, "could not record the sign-off reopen");
    }
    Ok(saved)
}

pub async fn update_form(
    app: &App,
    p: &Principal,
    id: CaseId,
    version: i64,
    form: &CaseForm,
) -> AppResult<Case> {
    require_case_edit(app, p, id).await?;
    let content = form.parse(&app.taxonomy)?;
    update(app, p, id, version, content).await
}

/// A survey as its page shows it.
#[derive(Debug, Clone)]
pub struct SurveyView {
    pub survey: Survey,
    pub cases: Vec<Case>,
    /// Common lessons grouped by case category, in the taxonomy's order.
    pub lessons: Vec<(Code, Vec<CommonLesson>)>,
}

pub async fn survey(app: &App, p: &Principal, fiscal_year: i32) -> AppResult<SurveyView> {
    let survey = app.store.get_survey(fiscal_year).await?;
    let v = auth::viewer(app, p).await?;
    if !auth::decide_survey_as(app, &v, fiscal_year, Action::Read)
        .await?
        .is_allowed()
    {
        return Err(StoreError::not_found("survey", fiscal_year).into());
    }
    let cases = list(app, p, Some(fiscal_year)).await?;
    let mut lessons: Vec<(Code, Vec<CommonLesson>)> = Vec::new();
    for term in app
        .taxonomy
        .terms(kizuki_domain::taxonomy::Vocabulary::CaseCategory)
    {
        let ls: Vec<CommonLesson> = survey
            .content
            .common_lessons
            .iter()
            .filter(|l| l.category.0 == term.code)
            .cloned()
            .collect();
        if !ls.is_empty() {
            lessons.push((Code(term.code.clone()), ls));
        }
    }
    Ok(SurveyView {
        survey,
        cases,
        lessons,
    })
}

/// One named lesson with the case it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LessonRow {
    pub case_id: CaseId,
    pub survey_year: Option<i32>,
    pub case_number: u32,
    pub case_title: String,
    pub category: Code,
    pub title: String,
    pub text: String,
}

/// Every named lesson across cases, optionally of one case category.
pub async fn lessons(
    app: &App,
    p: &Principal,
    category: Option<&str>,
) -> AppResult<Vec<LessonRow>> {
    let mut out = Vec::new();
    for c in list(app, p, None).await? {
        if category.is_some_and(|cat| cat != c.content.category.as_str()) {
            continue;
        }
        for l in &c.content.lessons {
            out.push(LessonRow {
                case_id: c.id,
                survey_year: c.survey_year,
                case_number: c.content.number,
                case_title: c.content.title.clone(),
                category: c.content.category.clone(),
                title: l.title.clone(),
                text: l.text.clone(),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_case_change_is_audited_with_before_and_after() {
        let (app, _dir) = crate::test_support::demo(3).await;
        let email = kizuki_domain::user::Email::parse("analyst@centre.example.jp").unwrap();
        let analyst = app.store.credentials(&email).await.unwrap().unwrap().user;
        let p = Principal::from_user(&analyst);
        let case = app.store.list_cases(Some(2019)).await.unwrap().remove(0);
        let mut content = case.content.clone();
        content.overview.push("監査の試験で追記した一文。".into());
        update(&app, &p, case.id, case.version, content)
            .await
            .unwrap();
        let found = app
            .store
            .audit_query(&kizuki_store::AuditQuery {
                action: Some(crate::security::audit::actions::CHANGE.into()),
                target: Some(format!("case:{}", case.id)),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        let detail: serde_json::Value = serde_json::from_str(&found[0].detail).unwrap();
        let overview = |side: &str| detail[side]["content"]["overview"].to_string();
        assert!(!overview("before").contains("監査の試験"));
        assert!(overview("after").contains("監査の試験"));
        assert_eq!(detail["after"]["version"], case.version + 1);
    }

    #[test]
    fn form_round_trips_the_2019_cases() {
        let tx = kizuki_dataset::default_taxonomy().unwrap();
        let files: Vec<(String, String)> = kizuki_dataset::SURVEY_2019
            .iter()
            .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
            .collect();
        let data = kizuki_dataset::parse_survey_files(&files, &tx).unwrap();
        for c in &data.cases {
            let form = CaseForm::from_content(&c.case);
            assert_eq!(form.parse(&tx).unwrap(), c.case, "case {}", c.case.number);
        }
    }

    fn actor(key: &str, kind: &str, group: &str) -> ActorFields {
        ActorFields {
            key: key.into(),
            label: format!("{key}の名称"),
            kind: kind.into(),
            group: group.into(),
        }
    }

    fn step(actors: &str, text: &str, time: &str) -> StepFields {
        StepFields {
            actors: actors.into(),
            text: text.into(),
            time: time.into(),
        }
    }

    fn form() -> CaseForm {
        CaseForm {
            number: "1".into(),
            category: "system-failure".into(),
            title: "t".into(),
            impact: "i".into(),
            cause: "c".into(),
            overview: "a".into(),
            actors: vec![actor("op", "operator", ""), actor("v", "vendor", "")],
            steps: vec![step("op", "起きた", "")],
            responses: vec![step("op", "対処", "")],
            background: "b".into(),
            detection: "d".into(),
            response: "r".into(),
            cause_points: "c".into(),
            countermeasures: "m".into(),
            lessons: vec![LessonFields {
                title: "教訓".into(),
                text: "本文".into(),
            }],
        }
    }

    #[test]
    fn errors_point_at_editor_rows_and_lines() {
        let tx = kizuki_dataset::default_taxonomy().unwrap();
        let mut f = form();
        f.actors[1].kind = "nonsense".into();
        f.steps.push(step("ghost", "幽霊", ""));
        f.cause_points = String::new();
        let errs = f.parse(&tx).unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"actors[1].kind"), "{fields:?}");
        assert!(fields.contains(&"steps[1].actors"), "{fields:?}");
        assert!(fields.contains(&"cause_points"), "{fields:?}");
        assert_eq!(split_field("overview[1]"), ("overview", Some(2)));
        assert_eq!(editor_field("sections.cause[2]"), "cause_points[2]");
        assert_eq!(editor_field("steps[1].actors[0]"), "steps[1].actors");
        assert_eq!(editor_field("responses[0].number"), "responses[0]");
        assert_eq!(row_field("steps[3].time"), Some(("steps", 3, "time")));
        assert_eq!(row_field("overview[3]"), None);
    }

    #[test]
    fn blank_rows_are_skipped_and_errors_keep_their_row() {
        let tx = kizuki_dataset::default_taxonomy().unwrap();
        let mut f = form();
        // A blank row added but never filled in, then a row with a time too long.
        f.steps.insert(0, StepFields::default());
        f.steps.push(step("op, v", "連絡した", &"長".repeat(31)));
        let errs = f.parse(&tx).unwrap_err();
        assert!(errs.for_field("steps[2].time").is_some(), "{errs}");
        f.steps[2].time = " 3時間後 ".into();
        f.actors.insert(1, ActorFields::default());
        let c = f.parse(&tx).unwrap();
        assert_eq!(c.steps.len(), 2);
        assert_eq!(c.actors.len(), 2);
        assert_eq!(c.steps[1].number, 2);
        assert_eq!(c.steps[1].actors, ["op", "v"]);
        assert_eq!(c.steps[1].time.as_deref(), Some("3時間後"));
        assert_eq!(c.steps[0].time, None);
        // And back: the time is in its field, the blank rows are gone.
        let back = CaseForm::from_content(&c);
        assert_eq!(back.steps[1].time, "3時間後");
        assert_eq!(back.steps[0].time, "");
        assert_eq!(back.actors.len(), 2);
    }

    #[test]
    fn row_buttons_add_remove_and_move() {
        let mut f = form();
        f.steps = vec![
            step("op", "一", ""),
            step("op", "二", ""),
            step("op", "三", ""),
        ];
        let op = |s: &str| RowOp::parse(s).unwrap();
        let texts = |f: &CaseForm| f.steps.iter().map(|s| s.text.clone()).collect::<Vec<_>>();
        assert_eq!(f.apply(op("steps:up:2")), Some(1));
        assert_eq!(texts(&f), ["一", "三", "二"]);
        assert_eq!(f.apply(op("steps:down:0")), Some(1));
        assert_eq!(texts(&f), ["三", "一", "二"]);
        // At the edges nothing moves and the focus stays.
        assert_eq!(f.apply(op("steps:up:0")), Some(0));
        assert_eq!(f.apply(op("steps:down:2")), Some(2));
        assert_eq!(texts(&f), ["三", "一", "二"]);
        assert_eq!(f.apply(op("steps:remove:2")), Some(1));
        assert_eq!(texts(&f), ["三", "一"]);
        assert_eq!(f.apply(op("steps:add")), Some(2));
        assert_eq!(f.steps[2], StepFields::default());
        assert_eq!(f.apply(op("lessons:remove:0")), None, "no lesson left");
        assert!(f.lessons.is_empty());
        assert_eq!(f.apply(op("actors:remove:9")), None);
        assert_eq!(f.actors.len(), 2);
        for bad in [
            "",
            "steps",
            "steps:jump:1",
            "title:add",
            "steps:up",
            "steps:up:x",
            "steps:add:1:2",
        ] {
            assert_eq!(RowOp::parse(bad), None, "{bad}");
        }
    }
}
