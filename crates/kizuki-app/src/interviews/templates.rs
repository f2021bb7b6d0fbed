//! Question templates per case category: TOML text, shipped with kizuki and changed by the
//! centre's editors in the web. A saved template replaces the shipped one for its category;
//! either is read the same way, so a template that would not read is refused when saved, with
//! the line it fails at.

use crate::App;
use crate::auth::Principal;
use crate::error::AppResult;
use kizuki_domain::FieldError;
use kizuki_domain::interview::Part;
use kizuki_domain::taxonomy::{Lang, Vocabulary};
use kizuki_domain::user::Role;
use kizuki_store::{NewQuestion, QuestionTemplate};
use serde::{Deserialize, Serialize};

/// The templates kizuki ships, by case category code.
const SHIPPED: [(&str, &str); 3] = [
    (
        "system-failure",
        include_str!("../../../../data/interview/system-failure.toml"),
    ),
    (
        "cyber-attack",
        include_str!("../../../../data/interview/cyber-attack.toml"),
    ),
    (
        "internal-incident",
        include_str!("../../../../data/interview/internal-incident.toml"),
    ),
];

/// A template is a list of questions, not a questionnaire system.
const MAX_QUESTIONS: usize = 100;
const MAX_TEXT: usize = 1000;
const MAX_BODY: usize = 100_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    question: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    section: String,
    text: String,
}

/// One question of a template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TemplateQuestion {
    pub part: Part,
    pub text: String,
}

/// Reads a template's TOML; the error names field `body` and says the line and what is wrong.
pub fn parse(body: &str) -> Result<Vec<TemplateQuestion>, FieldError> {
    if body.len() > MAX_BODY {
        return Err(FieldError::invalid(
            "body",
            format!("テンプレートが長すぎます（{MAX_BODY}バイトまで） / too long"),
        ));
    }
    let line_of = |offset: usize| body[..offset.min(body.len())].lines().count().max(1);
    let file: File = toml::from_str(body).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(s.start));
        FieldError::invalid(
            "body",
            format!("{line}行目: {} / line {line}: {}", e.message(), e.message()),
        )
    })?;
    if file.question.is_empty() {
        return Err(FieldError::invalid(
            "body",
            "[[question]] が一つもありません / the template has no [[question]]",
        ));
    }
    if file.question.len() > MAX_QUESTIONS {
        return Err(FieldError::invalid(
            "body",
            format!("質問は{MAX_QUESTIONS}件まで / at most {MAX_QUESTIONS} questions"),
        ));
    }
    file.question
        .into_iter()
        .enumerate()
        .map(|(i, q)| {
            let n = i + 1;
            let part = Part::parse(&q.section).ok_or_else(|| {
                FieldError::invalid(
                    "body",
                    format!(
                        "{n}番目の質問: section「{}」は background, detection, response, cause, countermeasures, lessons のどれかです / question {n}: unknown section",
                        q.section
                    ),
                )
            })?;
            let text = q.text.trim().to_owned();
            if text.is_empty() || text.chars().count() > MAX_TEXT {
                return Err(FieldError::invalid(
                    "body",
                    format!(
                        "{n}番目の質問: 文は1〜{MAX_TEXT}文字で / question {n}: text must be 1 to {MAX_TEXT} characters"
                    ),
                ));
            }
            Ok(TemplateQuestion { part, text })
        })
        .collect()
}

/// A category's template as an editor sees it.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateView {
    pub category: String,
    pub label: String,
    pub body: String,
    /// 0 while the shipped template is in use.
    pub version: i64,
    pub questions: Vec<TemplateQuestion>,
    pub saved: Option<QuestionTemplate>,
}

fn shipped(category: &str) -> &'static str {
    SHIPPED
        .iter()
        .find(|(c, _)| *c == category)
        .map_or("", |(_, b)| b)
}

/// The template in use for `category` (saved, else shipped; an unknown category has none).
pub async fn current(app: &App, category: &str) -> AppResult<TemplateView> {
    let saved = app.store.question_template(category).await?;
    let body = saved
        .as_ref()
        .map_or_else(|| shipped(category).to_owned(), |t| t.body.clone());
    // A stored template was checked when saved; one that no longer reads (edited in the
    // database by hand) gives no questions rather than an error on every interview page.
    let questions = parse(&body).unwrap_or_default();
    let label = app
        .taxonomy
        .label(Vocabulary::CaseCategory, category, Lang::Ja)
        .to_owned();
    Ok(TemplateView {
        category: category.to_owned(),
        label,
        version: saved.as_ref().map_or(0, |t| t.version),
        body,
        questions,
        saved,
    })
}

/// Every case category's template, for the editors' page.
pub async fn all(app: &App, p: &Principal) -> AppResult<Vec<TemplateView>> {
    p.require_analyst()?;
    let mut out = Vec::new();
    for term in app.taxonomy.terms(Vocabulary::CaseCategory) {
        out.push(current(app, &term.code).await?);
    }
    Ok(out)
}

/// Saves `body` as `category`'s template (editors), against the version the editor saw.
pub async fn save(
    app: &App,
    p: &Principal,
    category: &str,
    body: &str,
    expected_version: i64,
) -> AppResult<TemplateView> {
    p.require(&[Role::Editor])?;
    if app
        .taxonomy
        .term(Vocabulary::CaseCategory, category)
        .is_none()
    {
        return Err(FieldError::invalid(
            "category",
            format!("事例区分「{category}」はありません / unknown case category"),
        )
        .into());
    }
    parse(body)?;
    let saved = app
        .store
        .put_question_template(category, body, expected_version, p.user_id, app.clock.now())
        .await?;
    crate::security::audit_log::note(
        app,
        crate::security::audit::actor_user(p.user_id),
        crate::security::audit::actions::CHANGE,
        format!("question_template:{category}"),
        &serde_json::json!({"version": saved.version}),
    )
    .await?;
    current(app, category).await
}

/// The questions `category`'s template gives, due on `due`.
pub async fn questions_for(
    app: &App,
    category: &str,
    due: Option<chrono::NaiveDate>,
) -> AppResult<Vec<NewQuestion>> {
    Ok(current(app, category)
        .await?
        .questions
        .into_iter()
        .map(|q| NewQuestion {
            part: q.part,
            text: q.text,
            due,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_template_reads_and_covers_detection_and_lessons() {
        for (category, body) in SHIPPED {
            let qs = parse(body).unwrap_or_else(|e| panic!("{category}: {e}"));
            assert!(qs.len() >= 5, "{category}");
            for part in [Part::Detection, Part::Lessons] {
                assert!(
                    qs.iter().any(|q| q.part == part),
                    "{category} lacks {part:?}"
                );
            }
        }
    }

    #[test]
    fn a_broken_template_names_the_line_and_the_section() {
        let e = parse(
            "[[question]]\nsection = \"detection\"\ntext = \"ok\"\n\n[[question]]\nsection = 3\n",
        )
        .unwrap_err();
        assert_eq!(e.field, "body");
        assert!(e.to_string().contains("6行目"), "{e}");
        let e = parse("[[question]]\nsection = \"somewhere\"\ntext = \"x\"\n").unwrap_err();
        assert!(e.to_string().contains("somewhere"), "{e}");
    }
}
