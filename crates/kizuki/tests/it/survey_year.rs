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

/// `pdftotext` of a PDF, or why it cannot be run here.
pub(crate) fn pdf_text(pdf: &[u8]) -> Result<String, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("r.pdf");
    std::fs::write(&path, pdf).map_err(|e| e.to_string())?;
    let out = std::process::Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output()
        .map_err(|e| format!("pdftotext not found ({e}); apt-get install poppler-utils"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Fills a case in as its analyst would: the five sections, timed steps and responses.
fn written(mut c: Value, n: usize) -> Value {
    let content = &mut c["content"];
    let op = content["actors"][0]["key"].clone();
    content["overview"] = json!([format!("事例{n}の概要。"), "影響は限定的だった。"]);
    content["steps"] = json!([
        {"number": 1, "text": "共同利用型システムが停止した。", "actors": [op], "time": "9:00"},
        {"number": 2, "text": "利用者から問合せが相次いだ。", "actors": [op], "time": "3時間後"},
    ]);
    content["responses"] = json!([
        {"number": 1, "text": "代替手段で業務を継続した。", "actors": [op], "time": "1時間後"},
        {"number": 2, "text": "ベンダと復旧手順を確認した。", "actors": [op]},
    ]);
    content["sections"] = json!({
        "background": [format!("背景{n}：共同利用型システムを使っていた。")],
        "detection": ["監視で検知した。"],
        "response": ["手作業に切り替えた。"],
        "cause": ["機器の故障。"],
        "countermeasures": ["予備機を用意する。"],
    });
    content["lessons"] = json!([{"title": format!("教訓{n}"), "text": "判断者を決めておく。"}]);
    c["content"].clone()
}

#[tokio::test]
async fn a_whole_year_through_the_api_from_opening_to_the_published_report() {
    let srv = TestApp::demo().await;
    let analyst = srv.token(ANALYST).await;
    let editor = srv.token(EDITOR).await;
    // A fourth operator with a reporter of its own.
    let water = kizuki_app::accounts::org_with_key(&srv.app, "demo-water")
        .await
        .unwrap()
        .unwrap();
    kizuki_app::accounts::add_user(
        &srv.app,
        None,
        &water,
        "reporter@water.example.jp",
        kizuki_domain::user::Role::Reporter,
        None,
    )
    .await
    .unwrap();
    let operators = [
        (srv.token(RAIL).await, "railway"),
        (srv.token(FINANCE).await, "finance"),
        (srv.token("reporter@medical.example.jp").await, "medical"),
        (srv.token("reporter@water.example.jp").await, "water"),
    ];

    // Open the year from 2019.
    let r = srv
        .api(
            "POST",
            "/surveys",
            Some(&analyst),
            &[],
            Some(&json!({"fiscal_year": 2026, "from": 2019})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);

    // Twelve reports from four operators.
    let mut filer = std::collections::HashMap::new();
    for i in 0..12 {
        let (token, sector) = &operators[i % 4];
        let id = file(&srv, token, &format!("{sector}の障害{i}"), sector).await;
        filer.insert(id, token.clone());
        srv.clock.advance(chrono::Duration::minutes(7));
    }

    // Propose and confirm three cases.
    let r = srv
        .api(
            "POST",
            "/surveys/2026/selection",
            Some(&analyst),
            &[],
            Some(&json!({"rules": {"count": 3}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let proposal = etag(&r);
    let r = srv
        .api(
            "POST",
            "/surveys/2026/selection",
            Some(&analyst),
            &[("if-match", proposal)],
            Some(&json!({"confirm": true})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let confirmed = r.json();
    let chosen: Vec<(i64, i64)> = confirmed["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["chosen"] == true)
        .map(|m| {
            (
                m["report_id"].as_i64().unwrap(),
                m["case_id"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(chosen.len(), 3, "{confirmed}");

    // The centre asks each operator to cooperate.
    for (_, case) in &chosen {
        let r = srv
            .api(
                "POST",
                &format!("/cases/{case}/cooperation"),
                Some(&analyst),
                &[],
                Some(&json!({"seq": 0, "status": "requested", "on": "2026-11-27",
                             "contact": "情報システム部 担当者"})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }

    // One operator declines; another operator cannot even see that record.
    let (declined_report, declined_case) = chosen[1];
    let decliner = &filer[&declined_report];
    let outsider = operators
        .iter()
        .map(|(t, _)| t)
        .find(|t| *t != decliner)
        .unwrap();
    let path = format!("/cases/{declined_case}/cooperation");
    let r = srv.api("GET", &path, Some(outsider), &[], None).await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = srv.api("GET", &path, Some(decliner), &[], None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["status"], "requested");
    let r = srv
        .api(
            "POST",
            &path,
            Some(decliner),
            &[],
            Some(&json!({"seq": 1, "status": "declined", "on": "2026-11-28"})),
        )
        .await;
    assert_eq!(r.status, 422, "a decline needs its reason: {}", r.body);
    let r = srv
        .api(
            "POST",
            &path,
            Some(decliner),
            &[],
            Some(&json!({"seq": 1, "status": "declined", "on": "2026-11-28",
                         "reason": "社内調査が継続中のため"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let offered = r.json()["replacement"].clone();
    let replacement_report = offered["report_id"].as_i64().expect("a replacement");
    assert!(!offered["why"].as_str().unwrap().is_empty());
    assert!(chosen.iter().all(|(r, _)| *r != replacement_report));
    let r = srv
        .api(
            "GET",
            "/surveys/2026/replacement",
            Some(&analyst),
            &[],
            None,
        )
        .await;
    assert_eq!(r.json()["replacement"]["report_id"], replacement_report);
    // The selection's history stays readable: the confirmed decision is still there.
    let r = srv
        .api("GET", "/surveys/2026/selection", Some(&analyst), &[], None)
        .await;
    assert_eq!(r.json()["status"], "confirmed");

    // The replacement is accepted: its case is started and its operator asked.
    let r = srv
        .api(
            "POST",
            "/surveys/2026/replacement",
            Some(&analyst),
            &[],
            Some(&json!({"report_id": replacement_report, "contact": "総務部"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let replacement_case = r.json()["id"].as_i64().unwrap();
    let cases: Vec<(i64, i64)> = vec![chosen[0], chosen[2], (replacement_report, replacement_case)];

    // Each operator agrees; each case is written, anonymised, signed off and published.
    for (n, (report, case)) in cases.iter().enumerate() {
        let op = &filer[report];
        let path = format!("/cases/{case}/cooperation");
        let r = srv
            .api(
                "POST",
                &path,
                Some(op),
                &[],
                Some(&json!({"seq": 1, "status": "agreed", "on": "2026-11-30"})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let r = srv
            .api("GET", &format!("/cases/{case}"), Some(&analyst), &[], None)
            .await;
        let v = etag(&r);
        let content = written(r.json(), n + 1);
        let r = srv
            .api(
                "PUT",
                &format!("/cases/{case}"),
                Some(&analyst),
                &[("if-match", v)],
                Some(&content),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["content"]["steps"][1]["time"], "3時間後");

        let review = srv
            .api(
                "GET",
                &format!("/cases/{case}/anonymisation"),
                Some(&editor),
                &[],
                None,
            )
            .await
            .json();
        for c in review["candidates"].as_array().unwrap() {
            let (decision, value) = if c["kind"] == "date" {
                ("ignored", "公表に差し支えない日付".to_owned())
            } else {
                ("accepted", c["suggested"].as_str().unwrap().to_owned())
            };
            let r = srv
                .api(
                    "POST",
                    &format!("/cases/{case}/anonymisation/decisions"),
                    Some(&editor),
                    &[],
                    Some(&json!({"candidate": c["id"], "decision": decision, "value": value})),
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
        }
        let act = |a: &'static str| {
            let srv = &srv;
            let editor = editor.clone();
            async move {
                let r = srv
                    .api(
                        "POST",
                        &format!("/cases/{case}/signoff/action"),
                        Some(&editor),
                        &[],
                        Some(&json!({"action": a})),
                    )
                    .await;
                assert_eq!(r.status, 200, "{a}: {}", r.body);
                r.json()
            }
        };
        assert_eq!(act("send").await["state"], "sent_to_operator");
        let s = srv
            .api(
                "GET",
                &format!("/cases/{case}/signoff"),
                Some(op),
                &[],
                None,
            )
            .await
            .json();
        let r = srv
            .api(
                "POST",
                &format!("/cases/{case}/signoff/answer"),
                Some(op),
                &[],
                Some(&json!({"approve": true, "fingerprint": s["fingerprint"]})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["state"], "approved");
        act("mark_publishable").await;
        assert_eq!(act("publish").await["state"], "published");
    }

    // Two common lessons citing the cases, by their numbers in the survey.
    let numbers: Vec<u64> = {
        let s = srv
            .api("GET", "/surveys/2026", Some(&analyst), &[], None)
            .await;
        let mut ns = Vec::new();
        for id in s.json()["case_ids"].as_array().unwrap() {
            let c = srv
                .api("GET", &format!("/cases/{id}"), Some(&analyst), &[], None)
                .await
                .json();
            ns.push(c["content"]["number"].as_u64().unwrap());
        }
        ns
    };
    assert_eq!(numbers.len(), 3, "the declined case left the survey");
    let s = srv
        .api("GET", "/surveys/2026", Some(&analyst), &[], None)
        .await;
    let v = etag(&s);
    let mut content = s.json();
    for k in ["fiscal_year", "version", "case_ids"] {
        content.as_object_mut().unwrap().remove(k);
    }
    content["common_lessons"] = json!([
        {"title": "判断権者を決める", "category": "system-failure",
         "text": "共同利用型システムの障害に備え、判断する人を決めておく。",
         "cases": [numbers[0], numbers[2]]},
        {"title": "代替手段を用意する", "category": "system-failure",
         "text": "手作業で業務を続けられるよう手順を整えておく。",
         "cases": [numbers[1]]},
    ]);
    let r = srv
        .api(
            "PUT",
            "/surveys/2026",
            Some(&analyst),
            &[("if-match", v)],
            Some(&content),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // Approve and publish: analysts may not, editors may.
    let r = srv
        .api("POST", "/surveys/2026/editions", Some(&analyst), &[], None)
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = srv
        .api("POST", "/surveys/2026/editions", Some(&editor), &[], None)
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["number"], 1);

    let md = srv.get("/public/surveys/2026.md").await;
    assert_eq!(md.status, 200);
    let text = md.body.clone();
    assert!(text.contains("2026年度 補完調査 報告書"), "{text}");
    assert!(text.contains("実害の有無"), "the criteria");
    assert!(text.contains("判断権者を決める") || text.contains("判断する人を決めておく"));
    // Case numbers close up to 1..3, and the lessons cite them so.
    let (a, b, c) = (numbers[0], numbers[1], numbers[2]);
    let renumbered = |n: u64| {
        let mut sorted = numbers.clone();
        sorted.sort_unstable();
        sorted.iter().position(|x| *x == n).unwrap() + 1
    };
    let mut first = [renumbered(a), renumbered(c)];
    first.sort_unstable();
    assert!(
        text.contains(&format!("事例{}, {}", first[0], first[1]))
            || text.contains(&format!("事例{}、{}", first[0], first[1]))
            || text.contains(&format!("事例{}・{}", first[0], first[1])),
        "lesson citations renumbered ({first:?}): {text}"
    );
    assert!(text.contains(&format!("事例{}", renumbered(b))));
    assert!(!text.contains("事例4"), "numbers close up: {text}");
    for heading in [
        "背景",
        "検知",
        "対処",
        "原因",
        "再発に備えた対策",
        "得られた気付き・教訓",
    ] {
        assert!(text.contains(heading), "section {heading}");
    }
    // The diagram (inline in Markdown) carries the labels and the times.
    let diagram = srv.get("/public/cases/2026-1.svg").await;
    assert_eq!(diagram.status, 200);
    assert!(diagram.body.contains("対処1"), "responses are labelled");
    assert!(
        diagram.body.contains("3時間後"),
        "step times are in the diagram"
    );
    let declined_title = srv
        .app
        .store
        .get_case(kizuki_domain::ids::CaseId(declined_case))
        .await
        .unwrap()
        .content
        .title;
    assert!(
        !text.contains(&declined_title),
        "the declined case is left out"
    );

    let pdf = srv.get("/public/surveys/2026.pdf").await;
    assert_eq!(pdf.status, 200);
    assert!(pdf.bytes.starts_with(b"%PDF"));
    match pdf_text(&pdf.bytes) {
        Ok(t) => {
            assert!(t.contains("補完調査"), "{t}");
            assert!(t.contains("対処1"), "{t}");
            assert!(t.contains("3時間後"), "{t}");
            assert!(t.contains("判断権者を決める"), "{t}");
        }
        Err(why) => eprintln!("skipped: the PDF's text was not checked: {why}"),
    }

    // Republishing after a change is a second edition; the first stays downloadable.
    let r = srv
        .api("POST", "/surveys/2026/editions", Some(&editor), &[], None)
        .await;
    assert_eq!(r.json()["number"], 2);
    assert_eq!(srv.get("/public/surveys/2026-v1.md").await.status, 200);
    assert_eq!(srv.get("/public/surveys/2026-v2.pdf").await.status, 200);
    assert_eq!(srv.get("/public/surveys/2026-v3.pdf").await.status, 404);
    let idx = srv.get("/public").await.body;
    assert!(idx.contains("/public/surveys/2026"), "{idx}");
}
