//! A survey year run through the API and the pages: opening it from an earlier year, editing
//! it against its ETag, starting cases from the operators' reports with their times, and
//! writing common lessons that cite them; with the refusals a careless or stale client meets.

use kizuki_testkit::{ANALYST, EDITOR, FINANCE, RAIL, TestApp};
use serde_json::{Value, json};

fn report(title: &str, sector: &str) -> Value {
    json!({
        "title": title,
        "sector": sector,
        "event_type": "unavailability",
        "causes": ["equipment-failure"],
        "summary": format!("{title}が発生した。"),
        "systems": [{"name": "共同利用型予約システム", "shared": true, "vendor": "予約ベンダ"}],
    })
}

async fn file(srv: &TestApp, token: &str, title: &str, sector: &str) -> i64 {
    let r = srv
        .api(
            "POST",
            "/reports",
            Some(token),
            &[],
            Some(&report(title, sector)),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()["id"].as_i64().unwrap()
}

fn etag(r: &kizuki_testkit::Resp) -> String {
    r.header("etag").expect("an ETag").to_owned()
}

#[tokio::test]
async fn a_year_through_the_api_open_edit_cases_and_common_lessons() {
    let srv = TestApp::demo().await;
    let analyst = srv.token(ANALYST).await;
    let rail = srv.token(RAIL).await;
    let finance = srv.token(FINANCE).await;

    // Operators may not open a year; the centre opens 2026 by copying 2019.
    let body = json!({"fiscal_year": 2026, "from": 2019});
    let r = srv
        .api("POST", "/surveys", Some(&rail), &[], Some(&body))
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = srv
        .api("POST", "/surveys", Some(&analyst), &[], Some(&body))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.header("location"), Some("/api/v1/surveys/2026"));
    let s = r.json();
    assert_eq!(s["title"], "2026年度 補完調査 報告書");
    assert_eq!(s["period_start"], "2026-01-01");
    assert_eq!(s["period_end"], "2026-12-31");
    assert_eq!(s["criteria"].as_array().unwrap().len(), 10);
    assert_eq!(s["common_lessons"], json!([]));
    let v1 = etag(&r);

    // Opening it again is 409 and says where it is.
    let r = srv
        .api("POST", "/surveys", Some(&analyst), &[], Some(&body))
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.json()["code"], "duplicate");
    assert_eq!(r.header("location"), Some("/api/v1/surveys/2026"));

    // Editing needs the ETag; a stale one is 412 with the current version.
    let mut content = json!({
        "title": "2026年度 補完調査 報告書",
        "period_start": "2026-01-01",
        "period_end": "2026-12-31",
        "purpose": s["purpose"],
        "method": "ヒアリングによる調査。",
        "criteria_intro": s["criteria_intro"],
        "criteria": s["criteria"],
        "remarks": [],
    });
    let r = srv
        .api("PUT", "/surveys/2026", Some(&analyst), &[], Some(&content))
        .await;
    assert_eq!(r.status, 428, "{}", r.body);
    let r = srv
        .api(
            "PUT",
            "/surveys/2026",
            Some(&analyst),
            &[("if-match", v1.clone())],
            Some(&content),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["method"], "ヒアリングによる調査。");
    let v2 = etag(&r);
    assert_ne!(v1, v2);
    let r = srv
        .api(
            "PUT",
            "/surveys/2026",
            Some(&analyst),
            &[("if-match", v1.clone())],
            Some(&content),
        )
        .await;
    assert_eq!(r.status, 412, "{}", r.body);
    assert_eq!(r.json()["current_version"], 2);

    // Operators file reports; the centre starts cases from them.
    let a = file(&srv, &rail, "予約システムの停止", "railway").await;
    srv.clock.advance(chrono::Duration::hours(3));
    let r = srv
        .api(
            "POST",
            &format!("/reports/{a}/stages"),
            Some(&rail),
            &[],
            Some(&json!({"kind": "follow_up", "text": "3時間後に復旧した。"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let b = file(&srv, &finance, "予約システム障害の影響", "finance").await;
    let c = file(&srv, &finance, "別の障害", "finance").await;

    let r = srv
        .api(
            "POST",
            "/surveys/2026/cases",
            Some(&rail),
            &[],
            Some(&json!({"reports": [a]})),
        )
        .await;
    assert_eq!(
        r.status, 404,
        "operators do not see an unpublished year: {}",
        r.body
    );
    let r = srv
        .api(
            "POST",
            "/surveys/2026/cases",
            Some(&analyst),
            &[],
            Some(&json!({"reports": [a, b]})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let case1 = r.json();
    assert_eq!(case1["survey_year"], 2026);
    assert_eq!(case1["content"]["number"], 1);
    assert_eq!(case1["content"]["category"], "system-failure");
    let steps = case1["content"]["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 3, "{steps:?}");
    assert_eq!(steps[0]["time"], "11月27日 9:00");
    assert_eq!(steps[2]["time"], "11月27日 12:00");
    assert_eq!(steps[1]["text"], "3時間後に復旧した。");
    let labels: Vec<&str> = case1["content"]["actors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["label"].as_str().unwrap())
        .collect();
    assert!(labels.contains(&"共同利用型予約システム"), "{labels:?}");
    assert!(labels.contains(&"予約ベンダ"), "{labels:?}");

    // The same report twice is refused on its field; a blank case takes the next number.
    let r = srv
        .api(
            "POST",
            "/surveys/2026/cases",
            Some(&analyst),
            &[],
            Some(&json!({"reports": [c, c]})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["fields"][0]["field"], "reports[1]");
    let r = srv
        .api(
            "POST",
            "/surveys/2026/cases",
            Some(&analyst),
            &[],
            Some(&json!({"reports": [c]})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["content"]["number"], 2);

    // Common lessons: one citing a case outside the survey is 422 naming the field.
    content["common_lessons"] = json!([
        {"title": "判断権者を決めておく", "category": "system-failure",
         "text": "共同利用型システムの障害に備え、判断する人を決めておく。", "cases": [1, 3]}
    ]);
    let r = srv
        .api(
            "PUT",
            "/surveys/2026",
            Some(&analyst),
            &[("if-match", v2.clone())],
            Some(&content),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let fields: Vec<String> = r.json()["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, ["common_lessons[0].cases[1]"]);
    content["common_lessons"][0]["cases"] = json!([1, 2]);
    let r = srv
        .api(
            "PUT",
            "/surveys/2026",
            Some(&srv.token(EDITOR).await),
            &[("if-match", v2.clone())],
            Some(&content),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let s = r.json();
    assert_eq!(s["common_lessons"][0]["title"], "判断権者を決めておく");
    assert_eq!(s["common_lessons"][0]["cases"], json!([1, 2]));
    assert_eq!(s["case_ids"].as_array().unwrap().len(), 2);

    // Every step is in the audit log.
    let log = kizuki_app::security::audit_log::all_entries(&srv.app)
        .await
        .unwrap();
    let changes = |target: &str| log.iter().filter(|e| e.target == target).count();
    assert_eq!(changes("survey:2026"), 3, "open and two edits");
    assert!(
        log.iter()
            .any(|e| e.target.starts_with("case:") && e.detail.contains("\"reports\"")),
        "case creation is audited"
    );

    // The OpenAPI document has the new operations.
    let doc = srv
        .api("GET", "/openapi.json", None, &[], None)
        .await
        .json();
    assert!(doc["paths"]["/surveys"]["post"].is_object());
    assert!(doc["paths"]["/surveys/{year}"]["put"]["responses"]["412"].is_object());
    assert!(doc["paths"]["/surveys/{year}/cases"]["post"].is_object());
}

#[tokio::test]
async fn the_pages_open_a_year_keep_what_was_typed_and_show_a_conflict() {
    let srv = TestApp::demo().await;
    let mut c = srv.client(ANALYST).await;
    // The new-year form is prefilled from the latest survey.
    let page = c.get("/surveys/new").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let html = page.body.clone();
    assert!(html.contains("2020年度 補完調査 報告書"), "prefilled title");
    assert!(html.contains("2020-12-31"));
    assert!(html.contains("actual-harm"));
    // A bad date keeps everything typed and names the field.
    let r = c
        .post(
            "/surveys/new",
            "/surveys/new",
            &[
                ("fiscal_year", "2020"),
                ("title", "二〇二〇年の調査"),
                ("period_start", "2020-01-01"),
                ("period_end", "いつか"),
                ("purpose", "目的を書いた。"),
                ("method", "運営を書いた。"),
                ("criteria_intro", "前書き。"),
                ("criteria[0][key]", "actual-harm"),
                ("criteria[0][label]", "実害"),
                ("criteria[0][label_en]", "Harm"),
                ("criteria[0][main]", "1"),
                ("criteria[0][weight]", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let html = r.body.clone();
    for typed in ["二〇二〇年の調査", "いつか", "目的を書いた。", "実害"] {
        assert!(html.contains(typed), "lost {typed}");
    }
    assert!(html.contains("id=\"err-period_end\""), "error on the field");
    // Fixed, it opens; a second time it is 409 with a link to the year.
    let good = [
        ("fiscal_year", "2020"),
        ("title", "2020年度 補完調査 報告書"),
        ("period_start", "令和2年1月1日"),
        ("period_end", "2020-12-31"),
        ("purpose", "目的。"),
        ("method", "運営。"),
        ("criteria_intro", "前書き。"),
        ("criteria[0][key]", "actual-harm"),
        ("criteria[0][label]", "実害"),
        ("criteria[0][label_en]", "Harm"),
        ("criteria[0][main]", "1"),
        ("criteria[0][weight]", "1"),
    ];
    let r = c.post("/surveys/new", "/surveys/new", &good).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/surveys/2020"));
    let r = c.post("/surveys/new", "/surveys/new", &good).await;
    assert_eq!(r.status, 409);
    assert!(r.body.contains("href=\"/surveys/2020\""));

    // Two people edit the survey: the second save shows the conflict and keeps the input.
    let mut other = srv.client(EDITOR).await;
    let form = c.get("/surveys/2020/edit").await;
    assert!(form.body.contains("name=\"version\" value=\"1\""));
    let mut edit = good.to_vec();
    edit.push(("version", "1"));
    edit[4] = ("purpose", "編集者が書き換えた目的。");
    let r = other
        .post("/surveys/2020/edit", "/surveys/2020/edit", &edit)
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    edit[4] = ("purpose", "分析者の目的。");
    let r = c
        .post("/surveys/2020/edit", "/surveys/2020/edit", &edit)
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    let html = r.body.clone();
    assert!(html.contains("編集者が書き換えた目的。"), "theirs shown");
    assert!(html.contains("分析者の目的。"), "mine kept");
    assert!(
        html.contains("name=\"version\" value=\"2\""),
        "next save is on theirs"
    );
}
