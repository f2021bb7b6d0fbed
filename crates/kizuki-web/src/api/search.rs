//! `GET /api/v1/search` and `GET /api/v1/reports/{id}/similar`: the same search and
//! similar cases as the pages, for bearer tokens, with the caller's access rule inside the
//! index query.

use super::extract::{ApiPath, ApiQuery};
use crate::error::{ApiError, ApiErrorBody};
use crate::search::{
    SearchParams, SearchView, SimilarView, published_slugs, run, search_error, similar_to_report,
};
use crate::state::WebState;
use axum::Json;
use axum::extract::State;
use kizuki_domain::ids::ReportId;

use super::ApiUser;

#[utoipa::path(
    get, path = "/search", tag = "search",
    params(SearchParams),
    responses(
        (status = 200, description = "Matching reports, cases and lessons the caller may read, with facet counts over them", body = SearchView),
        (status = 422, description = "The search text or a filter could not be understood (`fields` names it)", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn search(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Result<Json<SearchView>, ApiError> {
    let viewer = kizuki_app::auth::viewer(&st.app, &p).await?;
    let q = params.to_query(&st).map_err(search_error)?;
    let results = run(&st, &viewer, q.clone()).await?;
    let published = published_slugs(&st, crate::search::LinkFor::of(&viewer)).await?;
    Ok(Json(SearchView::of(
        &results,
        &q,
        crate::search::LinkFor::of(&viewer),
        &published,
    )))
}

#[utoipa::path(
    get, path = "/reports/{id}/similar", tag = "search",
    params(("id" = i64, Path, description = "Report id")),
    responses(
        (status = 200, description = "The ten most similar past cases and reports the caller may read, with reasons and lessons", body = SimilarView),
        (status = 404, description = "No such report, or not visible to the caller", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn similar_report(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<SimilarView>, ApiError> {
    // Reading the report first applies the single-record rule: not allowed looks like missing.
    let report = kizuki_app::reports::get(&st.app, &p, ReportId(id)).await?;
    let viewer = kizuki_app::auth::viewer(&st.app, &p).await?;
    let r = similar_to_report(&st, &viewer, &report).await?;
    let published = published_slugs(&st, crate::search::LinkFor::of(&viewer)).await?;
    Ok(Json(SimilarView::of(
        &r,
        crate::search::LinkFor::of(&viewer),
        &published,
    )))
}
