//! How operators take lessons up, in the browser: an organisation's self-assessment per theme
//! (`/orgs/{id}/assessment`, answered by its administrators, with each theme's history), the
//! adoption figures per sector and theme (`/lessons/adoption`, with CSV and XLSX), and the
//! follow-up of countermeasures (`/cases/{id}/followups`, `/followups`). A refused answer or
//! item is shown again as typed; one changed meanwhile says so and keeps what was typed.

use super::{done, errors_json, render, render_as, with};
use crate::error::WebError;
use crate::session::{Posted, SignedIn};
use crate::state::WebState;
use crate::tables::TableFormat;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use kizuki_app::{AppError, adoption, followups};
use kizuki_domain::adoption::{AssessmentInput, FollowStatus, FollowUpInput, Standing};
use kizuki_domain::ids::{CaseId, FollowUpId, OrgId};
use kizuki_store::StoreError;
use serde::Deserialize;
use serde_json::{Value, json};

fn standings(lang: kizuki_domain::taxonomy::Lang) -> Value {
    Standing::ALL
        .iter()
        .map(|s| json!({"code": s.code(), "label": s.label(lang)}))
        .collect()
}

fn statuses(lang: kizuki_domain::taxonomy::Lang) -> Value {
    FollowStatus::ALL
        .iter()
        .map(|s| json!({"code": s.code(), "label": s.label(lang)}))
        .collect()
}

async fn assessment_page(
    st: &WebState,
    s: &SignedIn,
    org: OrgId,
    extra: Value,
    status: StatusCode,
) -> Result<Response, WebError> {
    let sa = adoption::self_assessment(&st.app, &s.p, org).await?;
    render_as(
        st,
        &s.viewer,
        "lessons/assessment.html",
        with(
            json!({"sa": sa, "standings": standings(s.viewer.lang), "typed": null,
                   "errors": {}, "conflict": null}),
            extra,
        ),
        status,
    )
}

/// `/orgs/{id}/assessment`: where the organisation stands on each theme.
pub async fn assessment(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    assessment_page(&st, &s, OrgId(id), json!({}), StatusCode::OK).await
}

/// Records one theme's answer. A refused or stale answer comes back in its row as typed.
pub async fn answer(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    let org = OrgId(id);
    adoption::require_answerer(&st.app, &s.p, org).await?;
    let input = AssessmentInput {
        theme: f.get("theme").to_owned(),
        standing: f.get("standing").to_owned(),
        note: f.get("note").to_owned(),
    };
    // A post without the answer it started from counts as starting from none, which a
    // stored answer makes stale: it is never recorded over one unseen.
    let expected = f.i64("expected").unwrap_or(0);
    match adoption::answer(&st.app, &s.p, org, &input, expected).await {
        Ok(_) => Ok(done(
            &st,
            &s.viewer,
            "lessons.saved",
            &format!("/orgs/{id}/assessment#theme-{}", input.theme.trim()),
        )),
        Err(AppError::Validation(errs)) => {
            assessment_page(
                &st,
                &s,
                org,
                json!({"typed": input, "errors": errors_json(&errs, s.viewer.lang)}),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(AppError::Store(StoreError::Conflict { .. })) => {
            assessment_page(
                &st,
                &s,
                org,
                json!({"typed": input, "conflict": {"theme": input.theme.trim()}}),
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// `/orgs/{id}/assessment/{key}`: every answer on one theme, newest first.
pub async fn history(
    State(st): State<WebState>,
    s: SignedIn,
    Path((id, key)): Path<(i64, String)>,
) -> Result<Response, WebError> {
    let sa = adoption::self_assessment(&st.app, &s.p, OrgId(id)).await?;
    let (theme, history) = adoption::history(&st.app, &s.p, OrgId(id), &key).await?;
    render(
        &st,
        &s.viewer,
        "lessons/assessment_history.html",
        json!({"org_id": id, "org_name": sa.org_name, "theme": theme, "history": history,
               "standings": standings(s.viewer.lang)}),
    )
}

/// The sector the adoption figures are narrowed to, from the query string.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AdoptionQuery {
    sector: String,
}

impl AdoptionQuery {
    fn sector(&self) -> Option<&str> {
        Some(self.sector.trim()).filter(|s| !s.is_empty())
    }
}

/// `/lessons/adoption`: adoption per sector and theme, as the viewer may see it.
pub async fn figures(
    State(st): State<WebState>,
    s: SignedIn,
    Query(q): Query<AdoptionQuery>,
) -> Result<Response, WebError> {
    let v = adoption::adoption(&st.app, &s.p, q.sector()).await?;
    let own_assessment = s.p.is_operator().then_some(s.p.org_id.0);
    render(
        &st,
        &s.viewer,
        "lessons/adoption.html",
        json!({"v": v, "sector": q.sector, "standings": standings(s.viewer.lang),
               "own_assessment": own_assessment}),
    )
}

async fn figures_export(
    st: &WebState,
    s: &SignedIn,
    q: &AdoptionQuery,
    format: TableFormat,
) -> Result<Response, WebError> {
    let rows = adoption::adoption_rows(&st.app, &s.p, q.sector(), s.viewer.lang).await?;
    let stem = match q.sector() {
        Some(sector) => format!("kizuki-adoption-{sector}"),
        None => "kizuki-adoption".to_owned(),
    };
    crate::tables::download(format, &stem, "adoption", &rows)
}

/// `/lessons/adoption/csv`: the figures as the page shows them, as CSV.
pub async fn figures_csv(
    State(st): State<WebState>,
    s: SignedIn,
    Query(q): Query<AdoptionQuery>,
) -> Result<Response, WebError> {
    figures_export(&st, &s, &q, TableFormat::Csv).await
}

/// `/lessons/adoption/xlsx`: the same as a workbook.
pub async fn figures_xlsx(
    State(st): State<WebState>,
    s: SignedIn,
    Query(q): Query<AdoptionQuery>,
) -> Result<Response, WebError> {
    figures_export(&st, &s, &q, TableFormat::Xlsx).await
}

/// `/followups`: an operator's own items; the centre's analysts and editors see completion per
/// case.
pub async fn list(State(st): State<WebState>, s: SignedIn) -> Result<Response, WebError> {
    let (items, completion) = if s.p.is_operator() {
        (Some(followups::mine(&st.app, &s.p).await?), None)
    } else {
        (None, Some(followups::completion(&st.app, &s.p).await?))
    };
    render(
        &st,
        &s.viewer,
        "lessons/followups.html",
        json!({"items": items, "completion": completion, "statuses": statuses(s.viewer.lang)}),
    )
}

async fn measures_page(
    st: &WebState,
    s: &SignedIn,
    case: CaseId,
    extra: Value,
    status: StatusCode,
) -> Result<Response, WebError> {
    let m = followups::measures(&st.app, &s.p, case).await?;
    render_as(
        st,
        &s.viewer,
        "lessons/case_followups.html",
        with(
            json!({"cm": m, "statuses": statuses(s.viewer.lang), "typed": null, "measure": null,
                   "errors": {}}),
            extra,
        ),
        status,
    )
}

fn posted_item(f: &crate::form::FormData) -> FollowUpInput {
    FollowUpInput {
        owner: f.get("owner").to_owned(),
        due: f.get("due").to_owned(),
        status: f.get("status").to_owned(),
        evidence: f.get("evidence").to_owned(),
    }
}

/// `/cases/{id}/followups`: the case's countermeasures, each with the organisation's item or
/// a form to make one.
pub async fn case_measures(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    measures_page(&st, &s, CaseId(id), json!({}), StatusCode::OK).await
}

/// Makes an item of one countermeasure; a refused one comes back in its place as typed.
pub async fn create(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    followups::require_keeper(&s.p)?;
    let input = posted_item(&f);
    let Some(measure) = f.i64("measure").and_then(|m| u32::try_from(m).ok()) else {
        return Err(AppError::from(kizuki_domain::FieldError::required("measure")).into());
    };
    match followups::create(&st.app, &s.p, CaseId(id), measure, &input).await {
        Ok(saved) => Ok(done(
            &st,
            &s.viewer,
            "lessons.saved",
            &format!("/followups/{}", saved.id),
        )),
        Err(AppError::Validation(errs)) => {
            measures_page(
                &st,
                &s,
                CaseId(id),
                json!({"typed": input, "measure": measure,
                       "errors": errors_json(&errs, s.viewer.lang)}),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(AppError::Store(StoreError::Duplicate { .. })) => {
            measures_page(
                &st,
                &s,
                CaseId(id),
                json!({"typed": input, "measure": measure,
                       "errors": {"measure": crate::i18n::catalogue().get(s.viewer.lang, "followup.already")}}),
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

async fn item_page(
    st: &WebState,
    s: &SignedIn,
    id: FollowUpId,
    extra: Value,
    status: StatusCode,
) -> Result<Response, WebError> {
    let item = followups::get(&st.app, &s.p, id).await?;
    let may_edit = s.p.is_operator() && item.stored.org == s.p.org_id;
    let form = FollowUpInput::of(&item.stored.item);
    render_as(
        st,
        &s.viewer,
        "lessons/followup.html",
        with(
            json!({"i": item, "form": form, "version": item.stored.version, "may_edit": may_edit,
                   "statuses": statuses(s.viewer.lang), "errors": {}, "conflict": null}),
            extra,
        ),
        status,
    )
}

/// `/followups/{id}`: one item, with its form for the organisation's staff.
pub async fn item(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    item_page(&st, &s, FollowUpId(id), json!({}), StatusCode::OK).await
}

/// Saves an edit; a refused or stale one keeps what was typed.
pub async fn update(
    State(st): State<WebState>,
    s: SignedIn,
    Path(id): Path<i64>,
    Posted(f): Posted,
) -> Result<Response, WebError> {
    let id = FollowUpId(id);
    followups::require_editable(&st.app, &s.p, id).await?;
    let input = posted_item(&f);
    // A post without its version is refused as stale, never saved over the stored item.
    let version = f.i64("version").unwrap_or(0);
    match followups::update(&st.app, &s.p, id, version, &input).await {
        Ok(_) => Ok(done(
            &st,
            &s.viewer,
            "lessons.saved",
            &format!("/followups/{id}"),
        )),
        Err(AppError::Validation(errs)) => {
            item_page(
                &st,
                &s,
                id,
                json!({"form": input, "version": version,
                       "errors": errors_json(&errs, s.viewer.lang)}),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(AppError::Store(StoreError::Conflict { current, .. })) => {
            item_page(
                &st,
                &s,
                id,
                json!({"form": input, "version": current.version(),
                       "conflict": {"version": current.version()}}),
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}
