//! Statistics through the pages and the API: each viewer's figures are what its report list
//! holds, a count links to the reports behind it, and the downloads carry every table (the
//! workbook a sheet each).

use calamine::{Reader, Xlsx, open_workbook_from_rs};
use kizuki_testkit::{ANALYST, MINISTRY, RAIL, TestApp};

/// The number of reports the report list shows for `query` to `token`'s holder.
async fn listed(srv: &TestApp, token: &str, query: &str) -> i64 {
    let r = srv
        .api("GET", &format!("/reports?{query}"), Some(token), &[], None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["total"].as_i64().unwrap()
}

#[tokio::test]
async fn figures_are_what_each_viewer_may_list() {
    let srv = TestApp::demo().await;
    for who in [ANALYST, MINISTRY, RAIL] {
        let token = srv.token(who).await;
        let r = srv
            .api("GET", "/stats?fy=2019", Some(&token), &[], None)
            .await;
        assert_eq!(r.status, 200, "{who}: {}", r.body);
        let v = r.json();
        assert_eq!(
            v["total"].as_i64().unwrap(),
            listed(&srv, &token, "fy=2019").await,
            "{who}"
        );
        // Every cell of the event type by sector table is what the list shows when narrowed
        // to it.
        let sectors = v["sectors"].as_array().unwrap().clone();
        for row in v["events"].as_array().unwrap() {
            let e = row["event_type"].as_str().unwrap();
            for (i, n) in row["cells"].as_array().unwrap().iter().enumerate() {
                let s = sectors[i].as_str().unwrap();
                let q = format!("fy=2019&event_type={e}&sector={s}");
                assert_eq!(
                    n.as_i64().unwrap(),
                    listed(&srv, &token, &q).await,
                    "{who} {q}"
                );
            }
        }
        for b in v["causes"].as_array().unwrap() {
            let q = format!("fy=2019&cause={}", b["code"].as_str().unwrap());
            assert_eq!(
                b["count"].as_i64().unwrap(),
                listed(&srv, &token, &q).await,
                "{who} {q}"
            );
        }
    }
    // The trend's 年度 2019 is the same count, with each event type's share.
    let token = srv.token(ANALYST).await;
    let r = srv
        .api(
            "GET",
            "/stats/trend?last=2019&years=3",
            Some(&token),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let years = r.json()["years"].as_array().unwrap().clone();
    assert_eq!(years.len(), 3);
    let y2019 = &years[2];
    assert_eq!(y2019["fy"], 2019);
    assert_eq!(
        y2019["total"].as_i64().unwrap(),
        listed(&srv, &token, "fy=2019").await
    );
    let by_event: i64 = y2019["by_event"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_i64().unwrap())
        .sum();
    assert_eq!(by_event, y2019["total"].as_i64().unwrap());
    let bad = srv
        .api(
            "GET",
            "/stats?fy=20x9",
            Some(&srv.token(RAIL).await),
            &[],
            None,
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("\"fy\""), "{}", bad.body);
}

#[tokio::test]
async fn the_page_links_counts_to_reports_and_downloads_every_table() {
    let srv = TestApp::demo().await;
    let mut analyst = srv.client(ANALYST).await;
    let page = analyst.get("/stats?fy=2019").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("id=\"table-event-sector\""),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("<svg class=\"chart\" id=\"chart-months\"")
    );
    assert!(
        page.body
            .contains("href=\"/reports?fy=2019&amp;event_type=")
    );
    assert!(page.body.contains("複数の原因がある報告は"));
    assert!(page.body.contains("id=\"chart-trend\""));
    assert!(
        page.body
            .contains("<td class=\"num\"><a href=\"/reports?fy=2019\">"),
        "{}",
        page.body
    );
    let cal = analyst.get("/stats?year=2019").await;
    assert_eq!(cal.status, 200);
    assert!(cal.body.contains("2019年"), "{}", cal.body);

    let csv = analyst.get("/stats/csv?fy=2019").await;
    assert!(csv.bytes.starts_with(b"\xEF\xBB\xBF"));
    for name in [
        "概要",
        "類型×分野",
        "原因",
        "深刻度",
        "報告の段階",
        "第一報までの時間",
        "月別",
    ] {
        let text = csv.body.trim_start_matches('\u{feff}');
        assert!(text.lines().any(|l| l == name), "{name}: {text}");
    }
    let xlsx = analyst.get("/stats/xlsx?fy=2019").await;
    assert_eq!(xlsx.status, 200);
    let mut book: Xlsx<_> =
        open_workbook_from_rs(std::io::Cursor::new(xlsx.bytes.clone())).unwrap();
    assert_eq!(book.sheet_names().len(), 7, "{:?}", book.sheet_names());
    let summary = book.worksheet_range("概要").unwrap();
    let token = srv.token(ANALYST).await;
    let total = listed(&srv, &token, "fy=2019").await;
    let cell = summary.get_value((1, 1)).unwrap().to_string();
    assert_eq!(cell, total.to_string());
}

#[tokio::test]
async fn the_public_sees_published_material_with_small_counts_withheld() {
    let srv = TestApp::demo().await;
    let published: Vec<_> = srv
        .app
        .store
        .list_cases(Some(2019))
        .await
        .unwrap()
        .into_iter()
        .filter_map(|c| c.report_id)
        .collect();
    let reports = srv.app.store.get_reports(&published).await.unwrap();
    let figures = kizuki_app::stats::public_statistics(
        &srv.app,
        kizuki_domain::stats::Period::FiscalYear(2019),
    )
    .await
    .unwrap();
    // Only the reports behind the published cases count.
    let in_fy: Vec<_> = reports
        .iter()
        .filter(|r| kizuki_domain::fiscal::year_of(r.reported_at) == 2019)
        .collect();
    assert_eq!(figures.tables.total, in_fy.len() as u64);
    let v = figures.view(&srv.app, kizuki_domain::taxonomy::Lang::Ja, 3);
    for row in &v.events {
        for n in row.cells.iter().flatten() {
            assert!(*n >= 3, "{row:?}");
        }
    }
    for b in v.causes.iter().chain(&v.severity).chain(&v.months) {
        assert!(b.count.is_none_or(|n| n >= 3), "{b:?}");
    }
    // The page says why, and links to no report.
    let page = srv.anonymous().get("/public/stats?fy=2019").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("id=\"stats-withheld-note\""),
        "{}",
        page.body
    );
    assert!(!page.body.contains("href=\"/reports"), "{}", page.body);
}

#[tokio::test]
async fn the_annual_report_ends_with_the_year_s_statistics() {
    let srv = TestApp::demo().await;
    let all = srv
        .app
        .store
        .list_reports(
            &kizuki_store::ReportFilter {
                fiscal_year: Some(2019),
                ..kizuki_store::ReportFilter::default()
            },
            kizuki_store::Page::new(1, 1),
        )
        .await
        .unwrap()
        .total;
    assert!(
        all >= 3,
        "the demo's 年度 2019 holds enough reports to show: {all}"
    );
    let md = srv.get("/public/surveys/2019.md").await;
    assert_eq!(md.status, 200);
    let appendix = md.body.split("## 付録 統計").nth(1).expect("an appendix");
    // The summary's row carries the 年度 and every report the centre received in it.
    assert!(
        appendix.contains(&format!("| 2019年度（令和元年度） | {all} |")),
        "{appendix}"
    );
    assert!(appendix.contains("### 類型×分野"), "{appendix}");
    // Small counts are withheld, with the reason given.
    assert!(appendix.contains("3件未満の数は"), "{appendix}");
    let html = srv.get("/public/surveys/2019").await;
    assert!(html.body.contains("kz-appendix"), "{}", html.body);

    let pdf = srv.get("/public/surveys/2019.pdf").await;
    assert_eq!(pdf.status, 200);
    match crate::survey_year::pdf_text(&pdf.bytes) {
        Ok(t) => {
            assert!(t.contains("付録 統計"), "{t}");
            assert!(t.contains("類型×分野"), "{t}");
            assert!(t.contains("第一報までの時間"), "{t}");
            assert!(t.contains(&all.to_string()), "{t}");
        }
        Err(why) => eprintln!("skipped: the PDF's text was not checked: {why}"),
    }
}
