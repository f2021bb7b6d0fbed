//! Statistics of the reports a viewer may read, per 年度 or calendar year: the tables of
//! `kizuki_domain::stats` with the previous year's total beside them. The reports are read
//! page by page through the same access filter as the report list, so every figure counts
//! what that viewer could list, and only one page is held at a time.

use crate::App;
use crate::auth::Principal;
use crate::error::AppResult;
use crate::reports::scoped;
use kizuki_domain::stats::{Completeness, Delay, Period, Tables, change_percent};
use kizuki_domain::taxonomy::{Code, Lang, Vocabulary};
use kizuki_store::{Page, ReportFilter};
use serde::Serialize;

/// One period's tables as a viewer sees them.
#[derive(Debug, Clone)]
pub struct Statistics {
    pub period: Period,
    pub tables: Tables,
    /// The total of the period before, and the change to this one in percent.
    pub previous_total: u64,
    pub change_percent: Option<i64>,
}

/// A row of the event type × sector table.
#[derive(Debug, Clone, Serialize)]
pub struct EventRow {
    pub event_type: Code,
    /// One count per sector of [`StatsView::sectors`]; `None` where withheld.
    pub cells: Vec<Option<u64>>,
    /// Withheld too when a cell of the row is, so the withheld one cannot be worked out.
    pub total: Option<u64>,
}

/// A count under a code, with the share of the total in percent for the bar beside it.
#[derive(Debug, Clone, Serialize)]
pub struct Bar {
    pub code: String,
    pub label: String,
    /// `None` where withheld.
    pub count: Option<u64>,
    /// The count against the largest of its table, 0–100, for the bar's length.
    pub scale: u64,
}

/// The tables in the shape pages, the API and templates take: lists, not maps.
#[derive(Debug, Clone, Serialize)]
pub struct StatsView {
    pub period: Period,
    pub label: String,
    /// The 年度 the report list can be narrowed to for a drill-down (a 年度 period's own).
    pub drill_fy: Option<i32>,
    pub total: Option<u64>,
    pub previous_total: Option<u64>,
    pub change_percent: Option<i64>,
    pub sectors: Vec<Code>,
    pub sector_totals: Vec<Option<u64>>,
    /// Counts under this are withheld (0: none is).
    pub min_cell: u64,
    pub events: Vec<EventRow>,
    pub causes: Vec<Bar>,
    pub severity: Vec<Bar>,
    pub completeness: Vec<Bar>,
    pub delay: Vec<Bar>,
    pub months: Vec<Bar>,
}

/// A count as shown to readers for whom counts under `min` are withheld.
fn shown(n: u64, min: u64) -> Option<u64> {
    (n >= min).then_some(n)
}

fn bars(cells: Vec<(String, String, u64)>, min: u64) -> Vec<Bar> {
    let max = cells
        .iter()
        .filter_map(|c| shown(c.2, min))
        .max()
        .unwrap_or(0)
        .max(1);
    cells
        .into_iter()
        .map(|(code, label, count)| {
            let count = shown(count, min);
            Bar {
                code,
                label,
                scale: count.unwrap_or(0) * 100 / max,
                count,
            }
        })
        .collect()
}

/// The sum of `cells`, withheld when one of them is or when it is under `min`.
fn total_of(cells: &[Option<u64>], min: u64) -> Option<u64> {
    cells
        .iter()
        .copied()
        .sum::<Option<u64>>()
        .and_then(|n| shown(n, min))
}

impl Statistics {
    /// The tables as lists, labelled in `lang`, counts under `min_cell` withheld (0 for
    /// none).
    pub fn view(&self, app: &App, lang: Lang, min_cell: u64) -> StatsView {
        let min = min_cell;
        let t = &self.tables;
        let label = |v: Vocabulary, c: &str| app.taxonomy.label(v, c, lang).to_owned();
        let mut sectors: Vec<Code> = t.event_sector.keys().map(|(_, s)| s.clone()).collect();
        sectors.sort();
        sectors.dedup();
        let mut event_types: Vec<Code> = t.event_sector.keys().map(|(e, _)| e.clone()).collect();
        event_types.sort();
        event_types.dedup();
        let cell = |e: &Code, s: &Code| {
            t.event_sector
                .get(&(e.clone(), s.clone()))
                .copied()
                .unwrap_or(0)
        };
        let events = event_types
            .iter()
            .map(|e| {
                let cells: Vec<Option<u64>> =
                    sectors.iter().map(|s| shown(cell(e, s), min)).collect();
                EventRow {
                    event_type: e.clone(),
                    total: total_of(&cells, min),
                    cells,
                }
            })
            .collect();
        let sector_totals = sectors
            .iter()
            .map(|s| {
                let column: Vec<Option<u64>> =
                    event_types.iter().map(|e| shown(cell(e, s), min)).collect();
                total_of(&column, min)
            })
            .collect();
        let (total, previous) = (shown(t.total, min), shown(self.previous_total, min));
        StatsView {
            period: self.period,
            label: period_label(self.period, lang),
            drill_fy: match self.period {
                Period::FiscalYear(y) => Some(y),
                Period::Calendar(_) => None,
            },
            total,
            previous_total: previous,
            change_percent: total.and(previous).and(self.change_percent),
            sectors,
            sector_totals,
            min_cell,
            events,
            causes: bars(
                t.causes
                    .iter()
                    .map(|(c, n)| (c.0.clone(), label(Vocabulary::Cause, c.as_str()), *n))
                    .collect(),
                min,
            ),
            severity: bars(
                t.severity
                    .iter()
                    .map(|(s, n)| match s {
                        Some(l) => (
                            l.to_string(),
                            label(Vocabulary::Severity, &l.to_string()),
                            *n,
                        ),
                        None => (String::new(), word(lang, "未設定", "Not given"), *n),
                    })
                    .collect(),
                min,
            ),
            completeness: bars(
                Completeness::ALL
                    .iter()
                    .map(|c| {
                        (
                            c.code().to_owned(),
                            completeness_label(*c, lang),
                            t.completeness.get(c).copied().unwrap_or(0),
                        )
                    })
                    .collect(),
                min,
            ),
            delay: bars(
                Delay::ALL
                    .iter()
                    .map(|d| {
                        (
                            d.code().to_owned(),
                            delay_label(*d, lang),
                            t.delay.get(d).copied().unwrap_or(0),
                        )
                    })
                    .collect(),
                min,
            ),
            months: bars(
                self.period
                    .months()
                    .into_iter()
                    .map(|m| {
                        (
                            format!("{}-{:02}", m.0, m.1),
                            match lang {
                                Lang::Ja => format!("{}月", m.1),
                                Lang::En => format!("{}/{}", m.1, m.0 % 100),
                            },
                            t.months.get(&m).copied().unwrap_or(0),
                        )
                    })
                    .collect(),
                min,
            ),
        }
    }
}

/// Counts the reports whose first report fell in each of `periods` (Japan dates), reading
/// the 年度 that cover them once: those the principal may read, or every one for `None`
/// (the centre's own figures, for the annual report).
async fn count(app: &App, p: Option<&Principal>, periods: &[Period]) -> AppResult<Vec<Tables>> {
    let mut years: Vec<i32> = Vec::new();
    for period in periods {
        let (a, b) = period.days();
        // A day outside the 年度 the calendar knows has no reports to read.
        for fy in [a, b]
            .into_iter()
            .filter_map(|d| kizuki_domain::fiscal::FiscalYear::of(d).ok())
            .map(|f| f.year())
        {
            if !years.contains(&fy) {
                years.push(fy);
            }
        }
    }
    // The access rule is decided once, as the report list decides it; `None` restricts nothing.
    let base = match p {
        Some(p) => scoped(app, p, ReportFilter::default()).await?,
        None => ReportFilter::default(),
    };
    let mut out = vec![Tables::default(); periods.len()];
    for fy in years {
        let filter = ReportFilter {
            fiscal_year: Some(fy),
            ..base.clone()
        };
        let mut n = 1;
        loop {
            let page = app
                .store
                .list_reports(&filter, Page::new(n, Page::MAX_SIZE))
                .await?;
            for r in &page.items {
                let day = kizuki_domain::clock::jst_date(r.reported_at);
                for (t, period) in out.iter_mut().zip(periods) {
                    if period.contains(day) {
                        t.add(r);
                    }
                }
            }
            if u64::from(n) >= page.pages() {
                break;
            }
            n += 1;
        }
    }
    Ok(out)
}

/// The tables of `period` for the principal, with the change from the period before.
pub async fn statistics(app: &App, p: &Principal, period: Period) -> AppResult<Statistics> {
    with_previous(app, Some(p), period).await
}

async fn with_previous(app: &App, p: Option<&Principal>, period: Period) -> AppResult<Statistics> {
    let mut both = count(app, p, &[period, period.previous()]).await?;
    let previous = both.pop().unwrap_or_default();
    let tables = both.pop().unwrap_or_default();
    Ok(Statistics {
        period,
        change_percent: change_percent(previous.total, tables.total),
        previous_total: previous.total,
        tables,
    })
}

/// The tables of the published material: the reports behind the cases the public portal
/// shows, counted as for anyone else. Shown with counts under
/// [`kizuki_domain::stats::PUBLIC_MIN_CELL`] withheld.
pub async fn public_statistics(app: &App, period: Period) -> AppResult<Statistics> {
    let ids: Vec<kizuki_domain::ids::ReportId> =
        crate::survey::cases::list_as(app, &kizuki_domain::access::Viewer::Public, None)
            .await?
            .into_iter()
            .filter_map(|c| c.report_id)
            .collect();
    let reports = app.store.get_reports(&ids).await?;
    let tables = Tables::of(period, &reports);
    let previous = Tables::of(period.previous(), &reports);
    Ok(Statistics {
        period,
        change_percent: change_percent(previous.total, tables.total),
        previous_total: previous.total,
        tables,
    })
}

/// Counts under this are withheld in the annual report's appendix, as on the public portal.
const APPENDIX_MIN_CELL: u64 = kizuki_domain::stats::PUBLIC_MIN_CELL;

/// The annual report's statistics appendix for 年度 `fy`: every report the centre received in
/// it (not only the surveyed cases'), counts under three withheld, since the report is
/// published.
pub async fn appendix(app: &App, fy: i32) -> AppResult<kizuki_annual_report::Appendix> {
    let figures = with_previous(app, None, Period::FiscalYear(fy)).await?;
    let view = figures.view(app, Lang::Ja, APPENDIX_MIN_CELL);
    Ok(kizuki_annual_report::Appendix {
        heading: "付録 統計".to_owned(),
        note: format!(
            "{}に受け付けた情報連絡の件数です（第一報の受付日、日本時間）。{}件未満の数は、個々の事業者が推測されないよう「非表示」としています。複数の原因がある報告は、それぞれの原因に数えています。",
            view.label, APPENDIX_MIN_CELL
        ),
        tables: sheets(app, &view, Lang::Ja)
            .into_iter()
            .filter_map(|sh| {
                let mut rows = sh.rows.into_iter();
                let header = rows.next()?;
                Some(kizuki_annual_report::AppendixTable {
                    title: sh.name,
                    header,
                    rows: rows.collect(),
                })
            })
            .collect(),
    })
}

/// One 年度 of a trend.
#[derive(Debug, Clone, Serialize)]
pub struct YearPoint {
    pub fy: i32,
    pub total: u64,
    /// Against the 年度 before, in percent (none for the first, or after a year of none).
    pub change_percent: Option<i64>,
    /// Per event type of [`Trend::event_types`].
    pub by_event: Vec<u64>,
    /// The total against the largest, 0–100, for the chart.
    pub scale: u64,
}

/// Report totals over several 年度, by event type, for the trend chart and table.
#[derive(Debug, Clone, Serialize)]
pub struct Trend {
    pub event_types: Vec<Code>,
    pub years: Vec<YearPoint>,
    pub max_total: u64,
}

/// The number of reports a filter (with its access rule) matches, counted by the store as
/// the report list counts its pages.
async fn matching(app: &App, filter: ReportFilter) -> AppResult<u64> {
    Ok(app
        .store
        .list_reports(&filter, Page::new(1, 1))
        .await?
        .total)
}

/// Totals per 年度 for the `years` 年度 up to `last`, each by event type, over what the
/// principal may read. Each figure is the report list's own count of the same filter.
pub async fn trend(app: &App, p: &Principal, last: i32, years: u32) -> AppResult<Trend> {
    let event_types: Vec<Code> = app
        .taxonomy
        .terms(Vocabulary::EventType)
        .iter()
        .map(|t| Code(t.code.clone()))
        .collect();
    let first = last - i32::try_from(years.clamp(1, 30)).unwrap_or(10) + 1;
    // One access decision for every count.
    let base = scoped(app, p, ReportFilter::default()).await?;
    let mut points = Vec::new();
    for fy in first..=last {
        let mut by_event = Vec::with_capacity(event_types.len());
        for e in &event_types {
            by_event.push(
                matching(
                    app,
                    ReportFilter {
                        fiscal_year: Some(fy),
                        event_type: Some(e.0.clone()),
                        ..base.clone()
                    },
                )
                .await?,
            );
        }
        let total = matching(
            app,
            ReportFilter {
                fiscal_year: Some(fy),
                ..base.clone()
            },
        )
        .await?;
        points.push((fy, total, by_event));
    }
    let max_total = points.iter().map(|p| p.1).max().unwrap_or(0);
    let mut out: Vec<YearPoint> = Vec::new();
    for (fy, total, by_event) in points {
        let change = out
            .last()
            .and_then(|prev| change_percent(prev.total, total));
        out.push(YearPoint {
            fy,
            total,
            change_percent: change,
            by_event,
            scale: total * 100 / max_total.max(1),
        });
    }
    Ok(Trend {
        event_types,
        years: out,
        max_total,
    })
}

/// One table for a download: its sheet name and rows, the header first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sheet {
    pub name: String,
    pub rows: Vec<Vec<String>>,
}

fn period_label(period: Period, lang: Lang) -> String {
    match (period, lang) {
        (Period::FiscalYear(y), Lang::Ja) => format!(
            "{y}年度（{}）",
            kizuki_domain::fiscal::FiscalYear::new(y)
                .map(|f| f.wareki_label())
                .unwrap_or_default()
        ),
        (Period::FiscalYear(y), Lang::En) => format!("FY{y}"),
        (Period::Calendar(y), Lang::Ja) => format!("{y}年"),
        (Period::Calendar(y), Lang::En) => format!("{y}"),
    }
}

/// Words of the tables' headings in the two languages.
fn word(lang: Lang, ja: &'static str, en: &'static str) -> String {
    match lang {
        Lang::Ja => ja.to_owned(),
        Lang::En => en.to_owned(),
    }
}

/// The tables as sheets for CSV and XLSX, from the same view the page shows.
pub fn sheets(app: &App, v: &StatsView, lang: Lang) -> Vec<Sheet> {
    let label = |voc: Vocabulary, c: &str| app.taxonomy.label(voc, c, lang).to_owned();
    let w = |ja, en| word(lang, ja, en);
    let mut out = vec![Sheet {
        name: w("概要", "summary"),
        rows: vec![
            vec![
                w("期間", "Period"),
                w("報告数", "Reports"),
                w("前年の報告数", "Previous year"),
                w("増減(%)", "Change (%)"),
            ],
            vec![
                v.label.clone(),
                cell_text(v.total, lang),
                cell_text(v.previous_total, lang),
                v.change_percent.map(|c| c.to_string()).unwrap_or_default(),
            ],
        ],
    }];
    let mut head = vec![w("事象の類型", "Event type")];
    head.extend(
        v.sectors
            .iter()
            .map(|s| label(Vocabulary::Sector, s.as_str())),
    );
    head.push(w("計", "Total"));
    let mut rows = vec![head];
    for e in &v.events {
        let mut row = vec![label(Vocabulary::EventType, e.event_type.as_str())];
        row.extend(e.cells.iter().map(|n| cell_text(*n, lang)));
        row.push(cell_text(e.total, lang));
        rows.push(row);
    }
    let mut foot = vec![w("計", "Total")];
    foot.extend(v.sector_totals.iter().map(|n| cell_text(*n, lang)));
    foot.push(cell_text(v.total, lang));
    rows.push(foot);
    out.push(Sheet {
        name: w("類型×分野", "event-sector"),
        rows,
    });
    for (name, head, list) in [
        (
            w("原因", "causes"),
            w(
                "原因（複数の原因はそれぞれに数える）",
                "Cause (each of several counted)",
            ),
            &v.causes,
        ),
        (
            w("深刻度", "severity"),
            w("深刻度", "Severity"),
            &v.severity,
        ),
        (
            w("報告の段階", "stages"),
            w("報告の段階", "Stages"),
            &v.completeness,
        ),
        (
            w("第一報までの時間", "delay"),
            w("発生から第一報まで", "Occurrence to first report"),
            &v.delay,
        ),
        (w("月別", "months"), w("月", "Month"), &v.months),
    ] {
        let mut rows = vec![vec![head, w("報告数", "Reports")]];
        rows.extend(
            list.iter()
                .map(|b| vec![b.label.clone(), cell_text(b.count, lang)]),
        );
        out.push(Sheet { name, rows });
    }
    out
}

/// A count in a download; a withheld one says so.
fn cell_text(n: Option<u64>, lang: Lang) -> String {
    match n {
        Some(n) => n.to_string(),
        None => word(lang, "非表示", "withheld"),
    }
}

/// How a stage completeness reads.
pub fn completeness_label(c: Completeness, lang: Lang) -> String {
    match c {
        Completeness::FirstOnly => word(lang, "第一報のみ", "First report only"),
        Completeness::FollowedUp => word(lang, "続報あり", "With follow-ups"),
        Completeness::Final => word(lang, "最終報あり", "With a final report"),
    }
}

/// How a delay band reads.
pub fn delay_label(d: Delay, lang: Lang) -> String {
    match d {
        Delay::Hour => word(lang, "1時間以内", "Within an hour"),
        Delay::Day => word(lang, "1日以内", "Within a day"),
        Delay::Week => word(lang, "1週間以内", "Within a week"),
        Delay::Longer => word(lang, "1週間超", "Over a week"),
        Delay::Unknown => word(lang, "不明", "Unknown"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::test_support::{analyst_principal, demo, file, principal, sample_input};

    #[tokio::test]
    async fn each_viewer_counts_what_it_may_list() {
        let (app, _t) = demo(81).await;
        for (org, when, sector) in [
            ("demo-railway", "2019-06-01T10:00:00+09:00", "railway"),
            ("demo-railway", "2020-03-31T23:00:00+09:00", "railway"),
            ("demo-finance", "2019-07-01T10:00:00+09:00", "finance"),
            ("demo-finance", "2020-04-01T01:00:00+09:00", "finance"),
        ] {
            let mut input = sample_input();
            input.sector = sector.into();
            file(&app, org, when, input).await;
        }
        let analyst = analyst_principal(&app).await;
        let rail = principal(&app, "reporter@railway.example.jp").await;
        let fy = Period::FiscalYear(2019);
        let centre = statistics(&app, &analyst, fy).await.unwrap();
        let mine = statistics(&app, &rail, fy).await.unwrap();
        // Whatever else the demo holds, each viewer's figures are what it may list, and the
        // centre may list more than an operator.
        let listed = crate::reports::list_all(
            &app,
            &rail,
            ReportFilter {
                fiscal_year: Some(2019),
                ..ReportFilter::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(mine.tables.total, listed.len() as u64);
        assert!(mine.tables.total >= 2);
        assert!(centre.tables.total > mine.tables.total);
        let centre_listed = crate::reports::list_all(
            &app,
            &analyst,
            ReportFilter {
                fiscal_year: Some(2019),
                ..ReportFilter::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(centre.tables.total, centre_listed.len() as u64);
        // The calendar year 2020 takes the March report of 年度 2019 and the April one of 2020.
        let cal = statistics(&app, &analyst, Period::Calendar(2020))
            .await
            .unwrap();
        assert!(cal.tables.months.get(&(2020, 3)).copied().unwrap_or(0) >= 1);
        assert!(cal.tables.months.get(&(2020, 4)).copied().unwrap_or(0) >= 1);
    }
}
