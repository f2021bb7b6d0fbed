//! Statistics in the browser (`/stats`): the tables of a 年度 or a calendar year counted from
//! what the viewer may read, each count linking to the reports behind it, bar charts drawn as
//! SVG beside their tables, and the tables as CSV or as an XLSX workbook with a sheet each.

use super::render;
use crate::error::WebError;
use crate::session::{SignedIn, Viewer};
use crate::state::WebState;
use crate::tables::TableFormat;
use axum::extract::{Query, State};
use axum::response::Response;
use kizuki_app::stats;
use kizuki_domain::stats::Period;
use serde::Deserialize;
use serde_json::json;

/// The period asked for: `year` (a calendar year) or `fy` (a 年度); neither is this 年度.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StatsQuery {
    pub fy: String,
    pub year: String,
}

fn today_fy(st: &WebState) -> i32 {
    kizuki_domain::fiscal::year_of(st.app.clock.now())
}

async fn view(st: &WebState, s: &SignedIn, q: &StatsQuery) -> Result<stats::StatsView, WebError> {
    let period =
        Period::from_query(&q.fy, &q.year, today_fy(st)).map_err(kizuki_app::AppError::from)?;
    let figures = stats::statistics(&st.app, &s.p, period).await?;
    Ok(figures.view(&st.app, s.viewer.lang, 0))
}

/// `/stats`: the tables and charts.
pub async fn page(
    State(st): State<WebState>,
    s: SignedIn,
    Query(q): Query<StatsQuery>,
) -> Result<Response, WebError> {
    let v = view(&st, &s, &q).await?;
    let this = today_fy(&st);
    let years: Vec<i32> = (this - 9..=this).rev().collect();
    // The ten 年度 up to the one shown (or the calendar year's last 年度).
    let last = match v.period {
        Period::FiscalYear(y) => y,
        Period::Calendar(y) => y - 1,
    };
    let trend = stats::trend(&st.app, &s.p, last, 10).await?;
    render(
        &st,
        &s.viewer,
        "stats.html",
        json!({"v": v, "trend": trend, "years": years, "public": false,
               "q": {"fy": q.fy, "year": q.year}}),
    )
}

async fn export(
    st: &WebState,
    s: &SignedIn,
    q: &StatsQuery,
    format: TableFormat,
) -> Result<Response, WebError> {
    let v = view(st, s, q).await?;
    kizuki_app::security::audit_log::note(
        &st.app,
        kizuki_app::security::audit::actor_user(s.p.user_id),
        kizuki_app::security::audit::actions::EXPORT,
        format!("stats.{}", format.extension()),
        &json!({"period": v.period, "total": v.total}),
    )
    .await?;
    let sheets = stats::sheets(&st.app, &v, s.viewer.lang);
    let named: Vec<(&str, &[Vec<String>])> = sheets
        .iter()
        .map(|sh| (sh.name.as_str(), sh.rows.as_slice()))
        .collect();
    let stem = match v.period {
        Period::FiscalYear(y) => format!("kizuki-stats-fy{y}"),
        Period::Calendar(y) => format!("kizuki-stats-{y}"),
    };
    crate::tables::download_sheets(format, &stem, &named)
}

/// `/stats/csv`: every table in one CSV file.
pub async fn csv(
    State(st): State<WebState>,
    s: SignedIn,
    Query(q): Query<StatsQuery>,
) -> Result<Response, WebError> {
    export(&st, &s, &q, TableFormat::Csv).await
}

/// `/stats/xlsx`: a workbook with a sheet per table.
pub async fn xlsx(
    State(st): State<WebState>,
    s: SignedIn,
    Query(q): Query<StatsQuery>,
) -> Result<Response, WebError> {
    export(&st, &s, &q, TableFormat::Xlsx).await
}

/// `/public/stats`: the tables of the published material, small counts withheld.
pub async fn public_page(
    State(st): State<WebState>,
    v: Viewer,
    Query(q): Query<StatsQuery>,
) -> Result<Response, WebError> {
    let period =
        Period::from_query(&q.fy, &q.year, today_fy(&st)).map_err(kizuki_app::AppError::from)?;
    let figures = stats::public_statistics(&st.app, period).await?;
    let view = figures.view(&st.app, v.lang, kizuki_domain::stats::PUBLIC_MIN_CELL);
    let this = today_fy(&st);
    let years: Vec<i32> = (this - 9..=this).rev().collect();
    render(
        &st,
        &v,
        "stats.html",
        json!({"v": view, "trend": null, "years": years, "public": true,
               "q": {"fy": q.fy, "year": q.year}}),
    )
}
