//! Statistics over the API (`/stats`): the tables of a 年度 or a calendar year, counted from
//! the reports the caller may read.

use super::ApiUser;
use super::extract::ApiQuery;
use crate::error::{ApiError, ApiErrorBody};
use crate::state::WebState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kizuki_app::stats;
use kizuki_domain::stats::Period;
use serde::Deserialize;
use utoipa::IntoParams;

/// The period: `year` (a calendar year) or `fy` (a 年度); neither means this 年度.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StatsParams {
    /// A 年度 (April to March), 1989–2200.
    #[serde(default)]
    pub fy: String,
    /// A calendar year, 1989–2200; wins over `fy`.
    #[serde(default)]
    pub year: String,
}

#[utoipa::path(
    get, path = "/stats", tag = "reports",
    params(StatsParams),
    responses(
        (status = 200, description = "The tables: `total` with `previous_total` and `change_percent`; `events` (event type by `sectors`, with totals); `causes` (a report with several causes counts under each), `severity`, `completeness`, `delay` (occurrence to first report) and `months`, each a list of `{code, label, count, scale}`. Counted by the Japan date of the first report, over what the caller may read", body = Object),
        (status = 422, description = "A year that does not read (`fy`, `year`)", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_stats(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiQuery(q): ApiQuery<StatsParams>,
) -> Result<Response, ApiError> {
    let today = kizuki_domain::fiscal::year_of(st.app.clock.now());
    let period = Period::from_query(&q.fy, &q.year, today).map_err(kizuki_app::AppError::from)?;
    let figures = stats::statistics(&st.app, &p, period).await?;
    let lang = p.lang;
    Ok((StatusCode::OK, Json(figures.view(&st.app, lang, 0))).into_response())
}

/// The 年度 a trend covers.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TrendParams {
    /// The last 年度 (default: this one).
    pub last: Option<i32>,
    /// How many 年度, 1–30 (default 10).
    pub years: Option<u32>,
}

#[utoipa::path(
    get, path = "/stats/trend", tag = "reports",
    params(TrendParams),
    responses(
        (status = 200, description = "`years`: per 年度 the `total`, the `change_percent` from the one before and `by_event` (one count per code of `event_types`), over what the caller may read", body = Object),
        (status = 422, description = "A year outside 1989–2200 (`last`)", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_trend(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiQuery(q): ApiQuery<TrendParams>,
) -> Result<Response, ApiError> {
    let today = kizuki_domain::fiscal::year_of(st.app.clock.now());
    let last = match q.last {
        None => today,
        Some(y) => kizuki_domain::stats::checked_year("last", Some(y))
            .map_err(kizuki_app::AppError::from)?,
    };
    let t = stats::trend(&st.app, &p, last, q.years.unwrap_or(10)).await?;
    Ok((StatusCode::OK, Json(t)).into_response())
}
