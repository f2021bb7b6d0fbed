//! Publication pages: the editor's anonymisation review and sign-off actions, the
//! operator's sign-off page, and the public portal under `/public` (no login; it reads only
//! the publications table, so nothing unpublished can appear there).

use super::cases::case_json;
use super::render;
use crate::error::WebError;
use crate::render::attachment;
use crate::session::{Posted, SignedIn, Viewer};
use crate::state::WebState;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use kizuki_app::AppError;
use kizuki_app::publication::{self as publ, DEFAULT_K, Reviewed};
use kizuki_app::survey::annual_report::{self, Edition, Format};
use kizuki_domain::anonymise::Decision;
use kizuki_domain::ids::CaseId;
use kizuki_domain::signoff::SignOffState;
use kizuki_domain::taxonomy::Lang;
use kizuki_store::Publication;
use serde::Deserialize;
use serde_json::{Value, json};

fn transitions_json(r: &Reviewed, names: &[(kizuki_domain::ids::UserId, String)]) -> Vec<Value> {
    r.signoff
        .history()
        .iter()
        .map(|t| {
            let who = names
                .iter()
                .find(|(u, _)| *u == t.by.user)
                .map_or_else(|| format!("#{}", t.by.user), |(_, n)| n.clone());
            let comments = match &t.action {
                kizuki_domain::signoff::Action::RequestChanges { comments } => comments.clone(),
                kizuki_domain::signoff::Action::Withdraw { reason } => reason.clone(),
                _ => String::new(),
            };
            json!({
                "action": t.action.code(),
                "from": t.from.code(),
                "to": t.to.code(),
                "who": who,
                "role": t.by.role.code(),
                "at": t.at,
                "comments": comments,
            })
        })
        .collect()
}

fn state_json(s: SignOffState) -> Value {
    json!({"code": s.code()})
}

/// The review screen's context: candidates with their decisions, residue, the
/// re-identification warning, and the preview of the anonymised case.
fn review_json(r: &Reviewed, lang: Lang) -> Value {
    let review = &r.anonymised.review;
    let candidates: Vec<Value> = review
        .candidates()
        .iter()
        .map(|c| {
            let d = review.decision(&c.id);
            json!({
                "id": c.id,
                "kind": c.kind.code(),
                "kind_label": c.kind.label(lang),
                "text": c.text,
                "fields": c.locations.iter().map(|l| l.field.clone()).collect::<Vec<_>>(),
                "suggested": c.suggested,
                "decision": d.map(Decision::code),
                "value": d.map(|d| d.value().to_owned()),
            })
        })
        .collect();
    let residual: Vec<Value> = r
        .anonymised
        .residual
        .iter()
        .map(|c| json!({"id": c.id, "kind_label": c.kind.label(lang), "text": c.text}))
        .collect();
    let map_text: String = r
        .stored_map
        .map
        .entries()
        .iter()
        .map(|p| format!("{} => {}\n", p.real, p.label))
        .collect();
    json!({
        "candidates": candidates,
        "unresolved": review.unresolved().len(),
        "residual": residual,
        "publishable": r.anonymised.publishable(),
        "reid": r.reid.message(lang),
        "reid_k": r.reid.k,
        "reid_matching": r.reid.matching,
        "map_text": map_text,
        "map_version": r.stored_map.version,
        "disclosed_sector": r.stored_map.disclosed.sector.as_ref().map(|c| c.0.clone()),
        "disclosed_region": r.stored_map.disclosed.region.as_ref().map(|c| c.0.clone()),
        "preview": case_json(r.output(), lang),
        "fingerprint": r.current.to_string(),
        "state": state_json(r.signoff.state()),
        "comments": r.signoff.comments(),
        "stale": !r.is_current(),
    })
}

#[derive(Debug, Deserialize)]
pub struct ReviewQuery {
    k: Option<usize>,
}

pub async fn review(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
    Query(q): Query<ReviewQuery>,
) -> Result<Response, WebError> {
    let k = q.k.unwrap_or(DEFAULT_K).clamp(2, 100);
    let r = publ::review(&st.app, &s.p, CaseId(id), k).await?;
    let names = kizuki_app::reports::user_names(&st.app).await?;
    let mut ctx = review_json(&r, s.viewer.lang);
    ctx["id"] = json!(id);
    ctx["k"] = json!(k);
    ctx["title"] = json!(r.case.content.title);
    ctx["history"] = json!(transitions_json(&r, &names));
    // Only the editor moves the sign-off on, and only along the steps its state allows.
    let actions: &[&str] = if s.p.role == kizuki_domain::user::Role::Editor {
        r.signoff.state().editor_actions()
    } else {
        &[]
    };
    ctx["actions"] = json!(actions);
    // Text resting on what the operator said in an interview but did not let us publish.
    ctx["provenance"] =
        json!(kizuki_app::interviews::review_provenance(&st.app, &s.p, CaseId(id)).await?);
    render(&st, &s.viewer, "cases/anonymise.html", ctx)
}

/// An action's refusal (a sign-off rule, an unresolved candidate) goes back to the page as a
/// notice rather than an error page: the editor is mid-task.
fn back_with(st: &WebState, v: &Viewer, out: Result<String, AppError>, to: &str) -> Response {
    let msg = match out {
        Ok(m) => m,
        Err(AppError::Refused(m)) => m,
        Err(AppError::Validation(errs)) => errs
            .iter()
            .map(|e| crate::i18n::pick(&e.message_ja(), v.lang).to_owned())
            .collect::<Vec<_>>()
            .join(" / "),
        Err(e) => return WebError::from(e).into_response(),
    };
    st.sessions.set_flash(&v.session.id, &msg);
    Redirect::to(to).into_response()
}

fn msg(v: &Viewer, key: &str) -> String {
    crate::i18n::catalogue().get(v.lang, key).to_owned()
}

pub async fn decide(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    let out = publ::decide(
        &st.app,
        &s.p,
        CaseId(id),
        f.get("candidate"),
        f.get("decision"),
        f.get("value"),
    )
    .await
    .map(|()| msg(&s.viewer, "publication.saved"));
    Ok(back_with(
        &st,
        &s.viewer,
        out,
        &format!("/cases/{id}/anonymise"),
    ))
}

pub async fn save_map(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    let out = async {
        let entries = publ::parse_map_lines(f.get("map"))?;
        let disclosed = publ::disclosed_from(f.get("sector"), f.get("region"));
        let version = f.i64("version").unwrap_or(0);
        publ::save_map(&st.app, &s.p, CaseId(id), version, entries, disclosed).await?;
        Ok(msg(&s.viewer, "publication.saved"))
    }
    .await;
    Ok(back_with(
        &st,
        &s.viewer,
        out,
        &format!("/cases/{id}/anonymise"),
    ))
}

/// Editor actions: send, mark_publishable, publish, withdraw.
pub async fn editor_action(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    let out = publ::editor_action(&st.app, &s.p, CaseId(id), f.get("action"), f.get("reason"))
        .await
        .map(|to| {
            format!(
                "{} {}",
                msg(&s.viewer, "publication.now"),
                msg(&s.viewer, &format!("signoff_state.{}", to.code()))
            )
        });
    Ok(back_with(
        &st,
        &s.viewer,
        out,
        &format!("/cases/{id}/anonymise"),
    ))
}

/// The operator's page: exactly the anonymised text and diagram under sign-off.
pub async fn signoff(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let r = publ::for_operator(&st.app, &s.p, CaseId(id)).await?;
    let names = kizuki_app::reports::user_names(&st.app).await?;
    let awaiting = r.signoff.state() == SignOffState::SentToOperator;
    render(
        &st,
        &s.viewer,
        "cases/signoff.html",
        json!({
            "id": id,
            "case": case_json(r.output(), s.viewer.lang),
            "fingerprint": r.current.to_string(),
            "state": state_json(r.signoff.state()),
            "awaiting": awaiting && r.is_current(),
            "can_answer": awaiting && s.p.is_operator() && Some(s.p.org_id) == r.source_org,
            "history": transitions_json(&r, &names),
        }),
    )
}

pub async fn answer(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    let approve = f.get("answer") == "approve";
    let out = publ::operator_answer(
        &st.app,
        &s.p,
        CaseId(id),
        approve,
        f.get("fingerprint"),
        f.get("comments"),
    )
    .await
    .map(|to| {
        format!(
            "{} {}",
            msg(&s.viewer, "publication.now"),
            msg(&s.viewer, &format!("signoff_state.{}", to.code()))
        )
    });
    Ok(back_with(
        &st,
        &s.viewer,
        out,
        &format!("/cases/{id}/signoff"),
    ))
}

/// The anonymised diagram for the review and sign-off pages (same access as the sign-off).
pub async fn preview_svg(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let r = publ::for_operator(&st.app, &s.p, CaseId(id)).await?;
    Ok(svg(kizuki_annual_report::diagram::render_svg(r.output())))
}

fn svg(body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

// ---------------------------------------------------------------- the public portal

fn pub_row(p: &Publication) -> Value {
    json!({
        "slug": p.slug(),
        "year": p.survey_year,
        "number": p.number,
        "title": p.content.title,
        "category": p.content.category.0,
        "impact": p.content.impact,
        "cause": p.content.cause,
        "published_at": p.published_at,
    })
}

#[derive(Debug, Deserialize)]
pub struct PublicQuery {
    q: Option<String>,
    year: Option<i32>,
}

/// `/public`: published surveys and cases, with the search box.
pub async fn index(
    State(st): State<WebState>,
    v: Viewer,
    Query(q): Query<PublicQuery>,
) -> Result<Response, WebError> {
    let all = publ::public_cases(&st.app, q.year).await?;
    let query = q.q.clone().unwrap_or_default();
    let (hits, snippets) = public_search(&st, &all, &query).await?;
    let mut years: Vec<i32> = all.iter().filter_map(|p| p.survey_year).collect();
    years.sort_unstable();
    years.dedup();
    let mut surveys = Vec::new();
    for y in years {
        let editions = publ::year::editions(&st.app, y).await?;
        let latest = editions.last().map(|e| e.number);
        surveys.push(
            json!({"year": y, "report": latest.is_some(), "latest": latest,
                            "editions": editions}),
        );
    }
    render(
        &st,
        &v,
        "public/index.html",
        json!({
            "q": query,
            "year": q.year,
            "rows": hits.iter().map(|p| {
                let mut row = pub_row(p);
                row["snippet"] = json!(snippets.get(&p.case_id.0));
                row
            }).collect::<Vec<_>>(),
            "total": all.len(),
            "surveys": surveys,
        }),
    )
}

/// The published cases matching `query`, best first, with highlighted snippets by case id.
/// The Japanese search runs as the public viewer, which can only ever match the
/// published, anonymised snapshots; a server without an index falls back to matching the
/// published text directly.
async fn public_search(
    st: &WebState,
    all: &[kizuki_store::Publication],
    query: &str,
) -> Result<
    (
        Vec<kizuki_store::Publication>,
        std::collections::HashMap<i64, String>,
    ),
    WebError,
> {
    let mut snippets = std::collections::HashMap::new();
    if query.trim().is_empty() || st.search.is_none() {
        return Ok((publ::search(all, query), snippets));
    }
    let mut q = kizuki_search::Query::parse(query, Some(&st.app.taxonomy))
        .map_err(crate::search::search_error)?;
    q.kinds = vec![kizuki_search::DocKind::Case, kizuki_search::DocKind::Lesson];
    q.limit = 100;
    let public = kizuki_domain::access::Viewer::Public;
    let res = crate::search::run(st, &public, q).await?;
    let mut order: Vec<i64> = Vec::new();
    for h in &res.hits {
        let case = if h.kind == kizuki_search::DocKind::Lesson {
            h.case_id.unwrap_or(h.id)
        } else {
            h.id
        };
        if !order.contains(&case) {
            order.push(case);
            snippets.insert(case, h.snippet.to_html());
        }
    }
    let hits = order
        .iter()
        .filter_map(|id| all.iter().find(|p| p.case_id.0 == *id).cloned())
        .collect();
    Ok((hits, snippets))
}

/// Splits `2019-1.md` into the name and the extension (`html` when there is none).
fn name_ext(file: &str) -> (&str, &str) {
    match file.rsplit_once('.') {
        Some((n, e)) => (n, e),
        None => (file, "html"),
    }
}

/// `/public/cases/2019-1` (page), `.md`, `.svg`.
pub async fn case(
    State(st): State<WebState>,
    v: Viewer,
    Path(file): Path<String>,
) -> Result<Response, WebError> {
    let (slug, ext) = name_ext(&file);
    let (year, number) = slug
        .split_once('-')
        .and_then(|(y, n)| Some((y.parse::<i32>().ok()?, n.parse::<u32>().ok()?)))
        .ok_or(WebError::NotFound)?;
    let p = match publ::public_case(&st.app, year, number).await {
        Ok(p) => p,
        // Not published and not existing look the same from outside.
        Err(_) => return Err(WebError::NotFound),
    };
    match ext {
        "html" => render(
            &st,
            &v,
            "public/case.html",
            json!({"p": pub_row(&p), "case": case_json(&p.content, v.lang)}),
        ),
        "svg" => Ok(svg(kizuki_annual_report::diagram::render_svg(&p.content))),
        "md" => {
            let md = case_markdown(&p);
            Ok(attachment(
                md.into_bytes(),
                "text/markdown; charset=utf-8",
                &format!("kizuki-case-{slug}.md"),
            ))
        }
        _ => Err(WebError::NotFound),
    }
}

fn case_markdown(p: &Publication) -> String {
    use std::fmt::Write as _;
    let c = &p.content;
    let mut out = String::new();
    let _ = writeln!(out, "# 事例{} {}\n", c.number, c.title);
    for o in &c.overview {
        let _ = writeln!(out, "- {o}");
    }
    let _ = writeln!(out, "\n## 事象の流れ\n");
    for s in &c.steps {
        let _ = writeln!(out, "{}. {}", s.number, s.text);
    }
    let _ = writeln!(out, "\n## 対応\n");
    for s in &c.responses {
        let _ = writeln!(out, "{}. {}", s.number, s.text);
    }
    for (i, pts) in c.sections.numbered() {
        let (ja, _) = kizuki_domain::case::SECTION_HEADINGS[i];
        let _ = writeln!(out, "\n## 【{} {ja}】\n", i + 1);
        for p in pts {
            let _ = writeln!(out, "- {p}");
        }
    }
    let _ = writeln!(out, "\n## 【6 得られた気付き・教訓】\n");
    for l in &c.lessons {
        let _ = writeln!(out, "- **{}** {}", l.title, l.text);
    }
    let _ = writeln!(
        out,
        "\n---\n公開: {}（指紋 {}）",
        p.published_at.format("%Y-%m-%d"),
        p.fingerprint
    );
    out
}

/// `/public/surveys/2019` (page), `.pdf`, `.md`: the annual report, built from published
/// cases only and offered once every case of the survey is published.
pub async fn survey(
    State(st): State<WebState>,
    v: Viewer,
    Path(file): Path<String>,
) -> Result<Response, WebError> {
    let (name, ext) = name_ext(&file);
    // `2019` is the year's latest edition, `2019-v1` its first.
    let (year, number) = match name.split_once("-v") {
        Some((y, n)) => (
            y.parse::<i32>().map_err(|_| WebError::NotFound)?,
            Some(n.parse::<u32>().map_err(|_| WebError::NotFound)?),
        ),
        None => (name.parse::<i32>().map_err(|_| WebError::NotFound)?, None),
    };
    if ext == "html" {
        let (model, snap, edition) = publ::year::edition(&st.app, year, number).await?;
        let rows: Vec<Value> = snap
            .cases
            .iter()
            .map(|c| {
                json!({"slug": snap.slugs.get(&c.number), "year": year, "number": c.number,
                       "title": c.title, "category": c.category.0, "impact": c.impact,
                       "cause": c.cause})
            })
            .collect();
        return render(
            &st,
            &v,
            "public/survey.html",
            json!({
                "year": year,
                "edition": edition.number,
                "published_at": edition.published_at,
                "title": model.title,
                "report": kizuki_annual_report::render_html_fragment(&model),
                "rows": rows,
                "editions": publ::year::editions(&st.app, year).await?,
            }),
        );
    }
    let format = match ext {
        "pdf" => Format::Pdf,
        "md" => Format::Markdown,
        _ => return Err(WebError::NotFound),
    };
    let r = annual_report::render(
        &st.app,
        Edition::Public(number),
        year,
        format,
        &st.pdf_fonts,
    )
    .await?;
    let file_name = match number {
        Some(n) => format!("kizuki-survey-{year}-v{n}.{}", format.extension()),
        None => r.file_name,
    };
    Ok(attachment(r.bytes, r.format.content_type(), &file_name))
}

/// The annual report's stylesheet, served as a file because the pages allow no inline style.
pub async fn report_css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        kizuki_annual_report::REPORT_CSS,
    )
        .into_response()
}
