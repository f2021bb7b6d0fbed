//! Cases, surveys and lessons as services: the case editor's form (one item a line, so it
//! works without JavaScript), saving against a version, the survey with its common lessons,
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

/// The case editor's fields as typed. List fields hold one item a line; actors are
/// `key | label | kind | group`, steps and responses `actor, actor | text`, lessons
/// `title | text`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CaseForm {
    pub number: String,
    pub category: String,
    pub title: String,
    pub impact: String,
    pub cause: String,
    pub overview: String,
    pub actors: String,
    pub steps: String,
    pub responses: String,
    pub background: String,
    pub detection: String,
    pub response: String,
    pub cause_points: String,
    pub countermeasures: String,
    pub lessons: String,
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

fn lines(s: &str) -> Vec<&str> {
    s.lines().map(str::trim).filter(|l| !l.is_empty()).collect()
}

fn cells(line: &str) -> Vec<String> {
    line.split(['|', '｜'])
        .map(|c| c.trim().to_owned())
        .collect()
}

fn steps_text(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|s| format!("{} | {}", s.actors.join(", "), s.text))
        .collect::<Vec<_>>()
        .join("\n")
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
                .map(|a| {
                    let mut l = format!("{} | {} | {}", a.key, a.label, actor_kind_code(a.kind));
                    if let Some(g) = &a.group {
                        l.push_str(&format!(" | {g}"));
                    }
                    l
                })
                .collect::<Vec<_>>()
                .join("\n"),
            steps: steps_text(&c.steps),
            responses: steps_text(&c.responses),
            background: c.sections.background.join("\n"),
            detection: c.sections.detection.join("\n"),
            response: c.sections.response.join("\n"),
            cause_points: c.sections.cause.join("\n"),
            countermeasures: c.sections.countermeasures.join("\n"),
            lessons: c
                .lessons
                .iter()
                .map(|l| format!("{} | {}", l.title, l.text))
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    /// The value of one field by name (see [`CASE_FIELDS`]).
    pub fn field(&self, name: &str) -> &str {
        match name {
            "number" => &self.number,
            "category" => &self.category,
            "title" => &self.title,
            "impact" => &self.impact,
            "cause" => &self.cause,
            "overview" => &self.overview,
            "actors" => &self.actors,
            "steps" => &self.steps,
            "responses" => &self.responses,
            "background" => &self.background,
            "detection" => &self.detection,
            "response" => &self.response,
            "cause_points" => &self.cause_points,
            "countermeasures" => &self.countermeasures,
            "lessons" => &self.lessons,
            _ => "",
        }
    }

    /// Reads the lines into a case and checks it. Errors name the editor's field (a
    /// numbered item inside it becomes `field[i]`, i counting lines from 0).
    pub fn parse(&self, tx: &Taxonomy) -> Result<CaseContent, ValidationErrors> {
        let mut errs = ValidationErrors::default();
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
        for (i, l) in lines(&self.actors).into_iter().enumerate() {
            let c = cells(l);
            let get = |j: usize| c.get(j).cloned().unwrap_or_default();
            let kind = match actor_kind(&get(2)) {
                Some(k) => k,
                None => {
                    errs.push(FieldError::invalid(
                        format!("actors[{i}]"),
                        format!(
                            "種別「{}」は使えません（{}） / unknown kind '{}'",
                            get(2),
                            ACTOR_KINDS.map(|(_, c)| c).join(", "),
                            get(2)
                        ),
                    ));
                    ActorKind::Operator
                }
            };
            let group = Some(get(3)).filter(|g| !g.is_empty());
            actors.push(Actor {
                key: get(0),
                label: get(1),
                kind,
                group,
            });
        }
        let steps = |text: &str| -> Vec<Step> {
            lines(text)
                .into_iter()
                .enumerate()
                .map(|(i, l)| {
                    let (who, what) = l
                        .split_once(['|', '｜'])
                        .map_or(("", l), |(a, b)| (a.trim(), b.trim()));
                    Step {
                        number: u32::try_from(i + 1).unwrap_or(u32::MAX),
                        text: what.to_owned(),
                        actors: who
                            .split([',', '、', ' '])
                            .map(str::trim)
                            .filter(|a| !a.is_empty())
                            .map(str::to_owned)
                            .collect(),
                        time: None,
                    }
                })
                .collect()
        };
        let points =
            |text: &str| -> Vec<String> { lines(text).into_iter().map(str::to_owned).collect() };
        let lessons = lines(&self.lessons)
            .into_iter()
            .map(|l| {
                let (t, x) = l
                    .split_once(['|', '｜'])
                    .map_or((l, ""), |(a, b)| (a.trim(), b.trim()));
                Lesson {
                    title: t.to_owned(),
                    text: x.to_owned(),
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
            steps: steps(&self.steps),
            responses: steps(&self.responses),
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
                    e.field = editor_field(&e.field);
                    e
                }));
                Err(errs)
            }
        }
    }
}

/// Maps a domain field path (`sections.cause[2]`, `steps[1].actors[0]`) to the editor's
/// field with the line index (`cause_points[2]`, `steps[1]`).
pub fn editor_field(path: &str) -> String {
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
    match path.find('.') {
        Some(dot) => path[..dot].to_owned(),
        None => path,
    }
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

    #[test]
    fn errors_point_at_editor_lines() {
        let tx = kizuki_dataset::default_taxonomy().unwrap();
        let form = CaseForm {
            number: "1".into(),
            category: "system-failure".into(),
            title: "t".into(),
            impact: "i".into(),
            cause: "c".into(),
            overview: "a".into(),
            actors: "op | 事業者 | operator\nv | ベンダ | nonsense".into(),
            steps: "op | 起きた\nghost | 幽霊".into(),
            responses: "op | 対処".into(),
            background: "b".into(),
            detection: "d".into(),
            response: "r".into(),
            cause_points: String::new(),
            countermeasures: "m".into(),
            lessons: "教訓 | 本文".into(),
        };
        let errs = form.parse(&tx).unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"actors[1]"), "{fields:?}");
        assert!(fields.contains(&"steps[1]"), "{fields:?}");
        assert!(fields.contains(&"cause_points"), "{fields:?}");
        assert_eq!(split_field("steps[1]"), ("steps", Some(2)));
        assert_eq!(editor_field("sections.cause[2]"), "cause_points[2]");
    }
}
