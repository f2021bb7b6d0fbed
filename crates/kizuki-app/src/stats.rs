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
    /// One count per sector of [`StatsView::sectors`].
    pub cells: Vec<u64>,
    pub total: u64,
}

/// A count under a code, with the share of the total in percent for the bar beside it.
#[derive(Debug, Clone, Serialize)]
pub struct Bar {
    pub code: String,
    pub label: String,
    pub count: u64,
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
    pub total: u64,
    pub previous_total: u64,
    pub change_percent: Option<i64>,
    pub sectors: Vec<Code>,
    pub sector_totals: Vec<u64>,
    pub events: Vec<EventRow>,
    pub causes: Vec<Bar>,
    pub severity: Vec<Bar>,
    pub completeness: Vec<Bar>,
    pub delay: Vec<Bar>,
    pub months: Vec<Bar>,
}

fn bars(cells: Vec<(String, String, u64)>) -> Vec<Bar> {
    let max = cells.iter().map(|c| c.2).max().unwrap_or(0).max(1);
    cells
        .into_iter()
        .map(|(code, label, count)| Bar {
            code,
            label,
            count,
            scale: count * 100 / max,
        })
        .collect()
}

impl Statistics {
    /// The tables as lists, labelled in `lang`.
    pub fn view(&self, app: &App, lang: Lang) -> StatsView {
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
                let cells: Vec<u64> = sectors.iter().map(|s| cell(e, s)).collect();
                EventRow {
                    event_type: e.clone(),
                    total: cells.iter().sum(),
                    cells,
                }
            })
            .collect();
        let sector_totals = sectors
            .iter()
            .map(|s| event_types.iter().map(|e| cell(e, s)).sum())
            .collect();
        StatsView {
            period: self.period,
            label: period_label(self.period, lang),
            drill_fy: match self.period {
                Period::FiscalYear(y) => Some(y),
                Period::Calendar(_) => None,
            },
            total: t.total,
            previous_total: self.previous_total,
            change_percent: self.change_percent,
            sectors,
            sector_totals,
            events,
            causes: bars(
                t.causes
                    .iter()
                    .map(|(c, n)| (c.0.clone(), label(Vocabulary::Cause, c.as_str()), *n))
                    .collect(),
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
            ),
        }
    }
}

/// Counts the readable reports whose first report fell in each of `periods` (Japan dates),
/// reading the 年度 that cover them once.
async fn count(app: &App, p: &Principal, periods: &[Period]) -> AppResult<Vec<Tables>> {
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
    let mut out = vec![Tables::default(); periods.len()];
    for fy in years {
        let filter = scoped(
            app,
            p,
            ReportFilter {
                fiscal_year: Some(fy),
                ..ReportFilter::default()
            },
        )
        .await?;
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
                v.total.to_string(),
                v.previous_total.to_string(),
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
        row.extend(e.cells.iter().map(u64::to_string));
        row.push(e.total.to_string());
        rows.push(row);
    }
    let mut foot = vec![w("計", "Total")];
    foot.extend(v.sector_totals.iter().map(u64::to_string));
    foot.push(v.total.to_string());
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
                .map(|b| vec![b.label.clone(), b.count.to_string()]),
        );
        out.push(Sheet { name, rows });
    }
    out
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
