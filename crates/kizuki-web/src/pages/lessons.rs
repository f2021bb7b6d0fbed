//! The lessons catalog in the browser: the theme list (`/lessons/themes`), one theme's
//! lessons across cases and years with filters, the theme form for the centre's editors, the
//! tagging form with the themes a lesson's wording suggests, and the published part of the
//! catalog on the public portal (`/public/lessons`). A refused save shows the form again as
//! typed; a conflicting one says so and shows what is stored now.

use super::{done, errors_json, render, render_as, with};
use crate::error::WebError;
use crate::session::{Posted, SignedIn, Viewer};
use crate::state::WebState;
use crate::tables::TableFormat;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use kizuki_app::AppError;
use kizuki_app::lessons::{self, CatalogFilter, ThemeCatalog, ThemeSummary};
use kizuki_domain::access::Viewer as Access;
use kizuki_domain::lessons::ThemeInput;
use kizuki_store::StoreError;
use serde::Deserialize;
use serde_json::{Value, json};

/// The filters of a theme's page, as the query string gives them.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CatalogQuery {
    sector: String,
    category: String,
    year: String,
}

impl CatalogQuery {
    fn filter(&self) -> CatalogFilter {
        // A year that does not read filters nothing, as an empty one.
        CatalogFilter::from_text(&self.sector, &self.category, self.year.trim().parse().ok())
    }
}

fn list_view(rows: &[ThemeSummary], public: bool) -> Value {
    json!({"themes": rows, "public": public})
}

fn catalog_view(c: &ThemeCatalog, q: &CatalogQuery, public: bool) -> Value {
    json!({
        "cat": c,
        "public": public,
        "f": {"sector": q.sector, "category": q.category, "year": q.year},
    })
}

/// `/lessons/themes`: every theme with the lessons under it the viewer may read.
pub async fn themes(State(st): State<WebState>, s: SignedIn) -> Result<Response, WebError> {
    let rows = lessons::themes(&st.app, &s.p).await?;
    render(
        &st,
        &s.viewer,
        "lessons/themes.html",
        list_view(&rows, false),
    )
}

/// `/lessons/themes/{key}`: one theme's lessons, narrowed by sector, category and year.
pub async fn theme(
    State(st): State<WebState>,
    s: SignedIn,
    Path(key): Path<String>,
    Query(q): Query<CatalogQuery>,
) -> Result<Response, WebError> {
    let c = lessons::catalog(&st.app, &s.p, &key, &q.filter()).await?;
    render(
        &st,
        &s.viewer,
        "lessons/theme.html",
        catalog_view(&c, &q, false),
    )
}

/// `/lessons/themes/{key}/csv`: the theme's lessons as the page shows them (same filters), as
/// CSV in UTF-8 with a byte-order mark so Excel reads the Japanese; the export is audited.
pub async fn theme_csv(
    State(st): State<WebState>,
    s: SignedIn,
    Path(key): Path<String>,
    Query(q): Query<CatalogQuery>,
) -> Result<Response, WebError> {
    theme_export(&st, &s, &key, &q, TableFormat::Csv).await
}

/// `/lessons/themes/{key}/xlsx`: the same as a workbook.
pub async fn theme_xlsx(
    State(st): State<WebState>,
    s: SignedIn,
    Path(key): Path<String>,
    Query(q): Query<CatalogQuery>,
) -> Result<Response, WebError> {
    theme_export(&st, &s, &key, &q, TableFormat::Xlsx).await
}

async fn theme_export(
    st: &WebState,
    s: &SignedIn,
    key: &str,
    q: &CatalogQuery,
    format: TableFormat,
) -> Result<Response, WebError> {
    let c = lessons::catalog(&st.app, &s.p, key, &q.filter()).await?;
    let lessons: Vec<&str> = c
        .common_lessons
        .iter()
        .map(|l| l.lesson.as_str())
        .chain(c.case_lessons.iter().map(|l| l.lesson.as_str()))
        .collect();
    kizuki_app::security::audit_log::note(
        &st.app,
        kizuki_app::security::audit::actor_user(s.p.user_id),
        kizuki_app::security::audit::actions::EXPORT,
        format!("theme:{key}.{}", format.extension()),
        &json!({"lessons": lessons}),
    )
    .await?;
    let lang = s.viewer.lang;
    let cat = crate::i18n::catalogue();
    let tx = &st.app.taxonomy;
    let label = |v: kizuki_domain::taxonomy::Vocabulary, c: &str| tx.label(v, c, lang).to_owned();
    let mut rows: Vec<Vec<String>> = vec![
        [
            "lessons.csv_kind",
            "field.fy",
            "lessons.csv_case",
            "case.category",
            "field.sector",
            "lessons.csv_title",
            "lessons.csv_text",
            "lessons.themes",
        ]
        .iter()
        .map(|k| cat.get(lang, k).to_owned())
        .collect(),
    ];
    for l in &c.common_lessons {
        let cases: Vec<String> = l.cases.iter().map(|(n, _)| n.to_string()).collect();
        rows.push(vec![
            cat.get(lang, "lessons.common_lessons").to_owned(),
            l.year.to_string(),
            cases.join("・"),
            label(
                kizuki_domain::taxonomy::Vocabulary::CaseCategory,
                l.category.as_str(),
            ),
            String::new(),
            l.title.clone(),
            l.text.clone(),
            l.themes.join("・"),
        ]);
    }
    for l in &c.case_lessons {
        rows.push(vec![
            cat.get(lang, "lessons.case_lessons").to_owned(),
            l.survey_year.map(|y| y.to_string()).unwrap_or_default(),
            format!("{} {}", l.case_number, l.case_title),
            label(
                kizuki_domain::taxonomy::Vocabulary::CaseCategory,
                l.category.as_str(),
            ),
            l.sector
                .as_ref()
                .map(|c| label(kizuki_domain::taxonomy::Vocabulary::Sector, c.as_str()))
                .unwrap_or_default(),
            l.title.clone(),
            l.text.clone(),
            l.themes.join("・"),
        ]);
    }
    crate::tables::download(
        format,
        &format!("kizuki-lessons-{}", c.theme.theme.key),
        c.theme.theme.key.as_str(),
        &rows,
    )
}

/// `/public/lessons`: the themes, counting published lessons only.
pub async fn public_themes(State(st): State<WebState>, v: Viewer) -> Result<Response, WebError> {
    let rows = lessons::themes_as(&st.app, &Access::Public).await?;
    render(&st, &v, "lessons/themes.html", list_view(&rows, true))
}

/// `/public/lessons/{key}`: one theme's published lessons.
pub async fn public_theme(
    State(st): State<WebState>,
    v: Viewer,
    Path(key): Path<String>,
    Query(q): Query<CatalogQuery>,
) -> Result<Response, WebError> {
    let c = lessons::catalog_as(&st.app, &Access::Public, &key, &q.filter()).await?;
    render(&st, &v, "lessons/theme.html", catalog_view(&c, &q, true))
}

fn posted_theme(f: &crate::form::FormData, key: Option<&str>) -> ThemeInput {
    ThemeInput {
        key: key.map_or_else(|| f.get("key").to_owned(), str::to_owned),
        name_ja: f.get("name_ja").to_owned(),
        name_en: f.get("name_en").to_owned(),
        description_ja: f.get("description_ja").to_owned(),
        description_en: f.get("description_en").to_owned(),
        keywords: f.get("keywords").to_owned(),
        retired: f.flag("retired"),
    }
}

fn theme_form(
    st: &WebState,
    s: &SignedIn,
    input: &ThemeInput,
    version: i64,
    extra: Value,
    status: StatusCode,
) -> Result<Response, WebError> {
    render_as(
        st,
        &s.viewer,
        "lessons/theme_form.html",
        with(
            json!({"form": input, "version": version, "is_new": version == 0, "errors": {},
                   "conflict": null}),
            extra,
        ),
        status,
    )
}

/// `/lessons/themes/new`: the form for a new theme.
pub async fn new_form(State(st): State<WebState>, s: SignedIn) -> Result<Response, WebError> {
    lessons::may_edit_themes(&s.p)?;
    theme_form(
        &st,
        &s,
        &ThemeInput::default(),
        0,
        json!({}),
        StatusCode::OK,
    )
}

/// `/lessons/themes/{key}/edit`: the form for a stored theme.
pub async fn edit_form(
    State(st): State<WebState>,
    s: SignedIn,
    Path(key): Path<String>,
) -> Result<Response, WebError> {
    let t = lessons::theme(&st.app, &s.p, &key).await?;
    theme_form(
        &st,
        &s,
        &ThemeInput::of(&t.theme),
        t.version,
        json!({}),
        StatusCode::OK,
    )
}

async fn save_theme(
    st: &WebState,
    s: &SignedIn,
    input: ThemeInput,
    version: i64,
) -> Result<Response, WebError> {
    lessons::may_edit_themes(&s.p)?;
    match lessons::save_theme(&st.app, &s.p, &input, version).await {
        Ok(saved) => Ok(done(
            st,
            &s.viewer,
            "lessons.saved",
            &format!("/lessons/themes/{}", saved.theme.key),
        )),
        Err(AppError::Validation(errs)) => theme_form(
            st,
            s,
            &input,
            version,
            json!({"errors": errors_json(&errs, s.viewer.lang)}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(AppError::Store(StoreError::Duplicate { .. })) => theme_form(
            st,
            s,
            &input,
            version,
            json!({"errors": {"key": crate::i18n::catalogue().get(s.viewer.lang, "errors.duplicate")}}),
            StatusCode::CONFLICT,
        ),
        // Saved by someone else meanwhile: what this editor typed stays in the form and the
        // next save goes against the version now stored.
        Err(AppError::Store(StoreError::Conflict { current, .. })) => theme_form(
            st,
            s,
            &input,
            current.version(),
            json!({"conflict": {"version": current.version()}}),
            StatusCode::CONFLICT,
        ),
        Err(e) => Err(e.into()),
    }
}

pub async fn create(
    State(st): State<WebState>,
    s: SignedIn,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    save_theme(&st, &s, posted_theme(&f, None), 0).await
}

pub async fn update(
    State(st): State<WebState>,
    s: SignedIn,
    Path(key): Path<String>,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    // A post without its version is refused, never saved over whatever is stored now.
    let version = f.i64("version").unwrap_or(0);
    save_theme(&st, &s, posted_theme(&f, Some(&key)), version).await
}

async fn tag_page(
    st: &WebState,
    s: &SignedIn,
    lesson: &str,
    extra: Value,
    status: StatusCode,
) -> Result<Response, WebError> {
    let l = lessons::lesson_for_tagging(&st.app, &s.p, lesson).await?;
    let themes = lessons::themes(&st.app, &s.p).await?;
    render_as(
        st,
        &s.viewer,
        "lessons/tag.html",
        with(
            json!({"l": l, "themes": themes, "errors": {}, "stale": false}),
            extra,
        ),
        status,
    )
}

/// `/lessons/tag/{lesson}`: a lesson's themes, with those its wording suggests.
pub async fn tag_form(
    State(st): State<WebState>,
    s: SignedIn,
    Path(lesson): Path<String>,
) -> Result<Response, WebError> {
    tag_page(&st, &s, &lesson, json!({}), StatusCode::OK).await
}

pub async fn tag_save(
    State(st): State<WebState>,
    s: SignedIn,
    Path(lesson): Path<String>,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    lessons::may_tag(&s.p)?;
    let expected = f.all("expected");
    let chosen = f.all("themes");
    match lessons::tag(&st.app, &s.p, &lesson, &expected, &chosen).await {
        Ok(_) => Ok(done(
            &st,
            &s.viewer,
            "lessons.saved",
            &format!("/lessons/tag/{lesson}"),
        )),
        Err(AppError::Validation(errs)) => {
            tag_page(
                &st,
                &s,
                &lesson,
                json!({"errors": errors_json(&errs, s.viewer.lang)}),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        // Changed by someone else meanwhile: the page shows the themes now stored.
        Err(AppError::Store(StoreError::Conflict { .. })) => {
            tag_page(
                &st,
                &s,
                &lesson,
                json!({"stale": true}),
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}
