//! Search in the served application: the search page, `GET /api/v1/search`, similar
//! cases on the report page and at `/api/v1/reports/{id}/similar`, and the public portal's
//! search, each with the caller's access rule inside the query.

use kizuki_testkit::{ANALYST, FINANCE, RAIL, Resp, TestApp};
use serde_json::json;

/// Percent-encodes a query-string value.
fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub(crate) fn report(title: &str, summary: &str, tlp: &str) -> serde_json::Value {
    json!({
        "title": title,
        "sector": "railway",
        "event_type": "unavailability",
        "summary": summary,
        "occurred_at": "2026-11-26T23:00:00Z",
        "tlp": tlp,
    })
}

pub(crate) async fn file(srv: &TestApp, token: &str, body: &serde_json::Value) -> i64 {
    let r = srv
        .api("POST", "/reports", Some(token), &[], Some(body))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()["id"].as_i64().unwrap()
}

async fn search(srv: &TestApp, token: &str, q: &str) -> serde_json::Value {
    let r = srv
        .api(
            "GET",
            &format!("/search?q={}", enc(q)),
            Some(token),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// Searches until `done` holds (the index applies writes within a bounded delay; a loaded
/// machine may need more than the request's own short wait), at most 15 s.
pub(crate) async fn search_until(
    srv: &TestApp,
    token: &str,
    q: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let v = search(srv, token, q).await;
        if done(&v) || std::time::Instant::now() > deadline {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

pub(crate) fn ids(v: &serde_json::Value, kind: &str) -> Vec<i64> {
    v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["kind"] == kind)
        .map(|h| h["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn a_filed_report_is_found_at_once_by_those_who_may_read_it_only() {
    let srv = TestApp::demo().await;
    let rail = srv.token(RAIL).await;
    let finance = srv.token(FINANCE).await;
    let analyst = srv.token(ANALYST).await;
    let amber = file(
        &srv,
        &rail,
        &report(
            "閏秒で改札機が停止",
            "閏秒の挿入で改札機が止まった。",
            "amber",
        ),
    )
    .await;
    let green = file(
        &srv,
        &rail,
        &report("閏秒対策の共有", "閏秒への備えを共有する。", "green"),
    )
    .await;
    // Found by the next searches (each request first lets the index catch up briefly).
    let own = search_until(&srv, &rail, "閏秒", |v| v["total"] == 2).await;
    let mut own_ids = ids(&own, "report");
    own_ids.sort_unstable();
    assert_eq!(own_ids, vec![amber, green]);
    let hit = own["hits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["id"] == amber)
        .unwrap();
    assert!(
        hit["title_html"]
            .as_str()
            .unwrap()
            .contains("<mark>閏秒</mark>"),
        "{hit}"
    );
    assert_eq!(hit["url"], format!("/reports/{amber}"));

    // Another operator sees the GREEN one only — not the AMBER one, not even in a count.
    let other = search(&srv, &finance, "閏秒").await;
    assert_eq!(ids(&other, "report"), vec![green]);
    assert_eq!(other["total"], 1, "{other}");
    let tlp = other["facets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "tlp")
        .unwrap();
    assert!(
        tlp["values"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["value"] != "amber"),
        "{tlp}"
    );
    let none = search(&srv, &finance, "改札機").await;
    assert_eq!(none["total"], 0, "{none}");

    // The centre sees both; filters narrow by facet.
    let centre = search(&srv, &analyst, "閏秒 tlp:amber").await;
    assert_eq!(ids(&centre, "report"), vec![amber]);

    // A filter that cannot be understood is a 400 naming it.
    let r = srv
        .api(
            "GET",
            &format!("/search?q={}", enc("閏秒 tlp:purple")),
            Some(&analyst),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("tlp:purple"), "{}", r.body);
    assert_eq!(r.json()["fields"][0]["field"], "q", "{}", r.body);
}

#[tokio::test]
async fn similar_cases_come_with_reasons_and_lessons_on_the_page_and_in_the_api() {
    let srv = TestApp::demo().await;
    let rail = srv.token(RAIL).await;
    let id = file(
        &srv,
        &rail,
        &report(
            "改元に伴う日付処理の不具合",
            "改元で和暦の日付変換が誤り、システムが停止した。改元対応の改修漏れ。",
            "green",
        ),
    )
    .await;
    let r = srv
        .api(
            "GET",
            &format!("/reports/{id}/similar"),
            Some(&rail),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let items = v["items"].as_array().unwrap();
    assert!(!items.is_empty() && items.len() <= 10, "{v}");
    assert!(
        items.iter().all(|i| i["id"] != id || i["kind"] != "report"),
        "not itself"
    );
    // The era-change case of the 2019 survey, published, with its lessons and a reason.
    let case = items
        .iter()
        .find(|i| i["kind"] == "case" && i["title"].as_str().unwrap().contains("改元"))
        .unwrap_or_else(|| panic!("{v}"));
    assert!(!case["lessons"].as_array().unwrap().is_empty(), "{case}");
    assert!(
        case["reasons"]["key_terms"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t.as_str().unwrap().contains("改元")),
        "{case}"
    );
    // An operator is sent to the published case, not into the centre's workspace.
    assert!(
        case["url"]
            .as_str()
            .unwrap()
            .starts_with("/public/cases/2019-"),
        "{case}"
    );

    // Another operator cannot ask about a report it may not read: it looks missing.
    let finance = srv.token(FINANCE).await;
    let amber = file(&srv, &rail, &report("非公開の報告", "改元の影響", "amber")).await;
    let r = srv
        .api(
            "GET",
            &format!("/reports/{amber}/similar"),
            Some(&finance),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);

    // The report page shows the same list with the lessons beside it.
    let mut c = srv.client(RAIL).await;
    let page = c.get(&format!("/reports/{id}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("id=\"similar\""), "{}", page.body);
    assert!(page.body.contains(case["title"].as_str().unwrap()));
}

#[tokio::test]
async fn search_page_keeps_the_query_and_links_facets() {
    let srv = TestApp::demo().await;
    let mut c = srv.client(ANALYST).await;
    let page = c.get(&format!("/search?q={}", enc("改元"))).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("id=\"search-hits\""), "{}", page.body);
    assert!(page.body.contains("<mark>改元</mark>"));
    assert!(page.body.contains("data-facet=\"kind\""));
    let bad = c.get(&format!("/search?q={}", enc("改元 fy:abc"))).await;
    assert_eq!(bad.status, 422);
    assert!(
        bad.body.contains("value=\"改元 fy:abc\""),
        "what was typed stays"
    );
    assert!(bad.body.contains("id=\"search-problem\""));
}

#[tokio::test]
async fn the_public_finds_published_snapshots_only() {
    let srv = TestApp::demo().await;
    // Public search runs through the index: a case of the 2019 survey by a word of its text.
    let Resp { status, body, .. } = srv.get(&format!("/public?q={}", enc("改元"))).await;
    assert_eq!(status, 200);
    assert!(body.contains("/public/cases/2019-1"), "{body}");
    assert!(body.contains("<mark>"), "snippets are highlighted: {body}");

    // The centre edits a published case's working text: the new words are the centre's
    // until published again — not in the portal, not in anyone else's search.
    let analyst = srv.token(ANALYST).await;
    let r = srv.api("GET", "/cases", Some(&analyst), &[], None).await;
    let first = r.json()[0].clone();
    let case_id = first["id"].as_i64().unwrap();
    let r = srv
        .api(
            "GET",
            &format!("/cases/{case_id}"),
            Some(&analyst),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let etag = r.header("etag").unwrap().to_owned();
    let mut content = r.json()["content"].clone();
    content["overview"]
        .as_array_mut()
        .unwrap()
        .push(json!("未公開の追記ヒミツノコトバ。"));
    let r = srv
        .api(
            "PUT",
            &format!("/cases/{case_id}"),
            Some(&analyst),
            &[("If-Match", etag)],
            Some(&content),
        )
        .await;
    assert!(r.status == 200, "{} {}", r.status, r.body);
    let centre = search_until(&srv, &analyst, "ヒミツノコトバ", |v| v["total"] != 0).await;
    assert_eq!(ids(&centre, "case"), vec![case_id], "{centre}");
    let rail = srv.token(RAIL).await;
    assert_eq!(search(&srv, &rail, "ヒミツノコトバ").await["total"], 0);
    let Resp { body, .. } = srv
        .get(&format!("/public?q={}", enc("ヒミツノコトバ")))
        .await;
    assert!(body.contains("id=\"no-hits\""), "{body}");
}

#[tokio::test]
async fn an_index_behind_the_store_says_by_exactly_how_much() {
    use kizuki_domain::report::{ReportInput, StageKind};
    use kizuki_store::{NewReport, NewStage};
    let mut srv = TestApp::builder().demo().mfa().search().build().await;
    // As after a restore: the index stops, and more is written than the count used to stop at.
    srv.pause_search();
    let org = srv.org("demo-railway").await;
    let details = ReportInput {
        title: "索引に未反映の報告".into(),
        sector: "railway".into(),
        event_type: "unavailability".into(),
        summary: "障害が起きた。".into(),
        ..Default::default()
    }
    .parse(&srv.app.taxonomy)
    .unwrap();
    let now = srv.app.clock.now();
    let batch: Vec<NewReport> = (0..10_050)
        .map(|_| NewReport {
            org_id: org.id,
            details: details.clone(),
            first: NewStage {
                kind: StageKind::First,
                at: now,
                text: "障害が起きた。".into(),
                author: None,
            },
        })
        .collect();
    srv.app.store.create_reports(batch).await.unwrap();
    let served = srv.serve().await;
    let scrape = served.anonymous().send("GET", "/metrics", &[], b"").await;
    assert_eq!(scrape.status, 200);
    let lag: u64 = scrape
        .body
        .lines()
        .find_map(|l| l.strip_prefix("kizuki_search_index_lag "))
        .and_then(|n| n.trim().parse().ok())
        .expect("the lag gauge");
    assert!(lag >= 10_050, "every pending change counted: {lag}");
    let mut analyst = srv.client(ANALYST).await;
    let page = analyst.get("/search?q=%E9%9A%9C%E5%AE%B3").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("id=\"search-behind\""), "{}", page.body);
    let shown = kizuki_domain::text::thousands(i64::try_from(lag).unwrap());
    assert!(
        page.body.contains(&format!("未反映 {shown} 件")),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("索引に未反映の報告"),
        "the reports written since are not among the results yet"
    );
}
