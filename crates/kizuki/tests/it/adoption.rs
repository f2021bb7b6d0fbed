//! Self-assessment, adoption figures and countermeasure follow-up through the pages and the
//! API: an operator's answers are its own (another operator is told they do not exist), a
//! ministry asking for a sector of four operators gets the figure withheld with the reason,
//! refused and stale saves keep what was typed, the downloads read back as CSV and XLSX, and
//! a follow-up item's reminder goes out once.

use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use kizuki_domain::org::{NewOrganisation, OrgKind};
use kizuki_domain::taxonomy::{Code, Lang};
use kizuki_domain::user::{Email, NewUser, Role};
use kizuki_testkit::sinks::{notify_through, smtp_sink};
use kizuki_testkit::{ANALYST, FINANCE, MINISTRY, RAIL, Resp, TestApp};
use serde_json::json;

const RAIL_ADMIN: &str = "admin@railway.example.jp";

/// A GET under `/api/v1` with `token`.
async fn get(srv: &TestApp, token: &str, path: &str) -> Resp {
    srv.api("GET", path, Some(token), &[], None).await
}

/// The `mfa` cell of an adoption answer.
fn mfa_cell(v: &serde_json::Value) -> serde_json::Value {
    v["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["theme"] == "mfa")
        .cloned()
        .unwrap()
}

async fn railway_id(srv: &TestApp) -> i64 {
    kizuki_app::accounts::org_with_key(&srv.app, "demo-railway")
        .await
        .unwrap()
        .unwrap()
        .id
        .0
}

/// Another railway operator with an administrator; its administrator's API token.
async fn another_railway(srv: &TestApp, n: u32) -> (i64, String) {
    let org = srv
        .app
        .store
        .create_org(NewOrganisation {
            key: format!("railway-{n}"),
            name: format!("鉄道{n}株式会社"),
            kind: OrgKind::Operator,
            sectors: vec![Code("railway".into())],
            region: None,
        })
        .await
        .unwrap();
    let email = format!("admin@railway-{n}.example.jp");
    srv.app
        .store
        .create_user(
            NewUser {
                org_id: org.id,
                email: Email::parse(&email).unwrap(),
                display_name: format!("管理者{n}"),
                role: Role::OperatorAdmin,
                lang: Lang::Ja,
            },
            "$argon2id$x",
        )
        .await
        .unwrap();
    (org.id.0, srv.token(&email).await)
}

/// The rows of a workbook's first sheet as text.
fn xlsx_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    let mut book: Xlsx<_> = open_workbook_from_rs(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let name = book.sheet_names()[0].clone();
    let range = book.worksheet_range(&name).unwrap();
    range
        .rows()
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    Data::Empty => String::new(),
                    Data::Float(f) => format!("{f}"),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn an_assessment_is_its_organisation_s_and_small_sectors_are_withheld() {
    let srv = TestApp::demo().await;
    let railway = railway_id(&srv).await;
    let page = format!("/orgs/{railway}/assessment");
    let mut admin = srv.client(RAIL_ADMIN).await;
    let form = admin.get(&page).await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("id=\"answer-mfa\""), "the admin answers");

    // A refused answer keeps its note; the field is named.
    let bad = admin
        .post(
            &page,
            &page,
            &[
                ("theme", "mfa"),
                ("standing", ""),
                ("note", "VPN から順に導入"),
                ("expected", "0"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("VPN から順に導入"), "{}", bad.body);
    let ok = admin
        .post(
            &page,
            &page,
            &[
                ("theme", "mfa"),
                ("standing", "in_progress"),
                ("note", "VPN から順に導入"),
                ("expected", "0"),
            ],
        )
        .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    // A second answer from the same starting point is stale: shown, typed text kept.
    let stale = admin
        .post(
            &page,
            &page,
            &[
                ("theme", "mfa"),
                ("standing", "in_place"),
                ("note", "全拠点で完了"),
                ("expected", "0"),
            ],
        )
        .await;
    assert_eq!(stale.status, 409, "{}", stale.body);
    assert!(stale.body.contains("id=\"assessment-conflict\""));
    assert!(stale.body.contains("全拠点で完了"));

    // The railway's reporter reads it but is not offered the form.
    let mut reporter = srv.client(RAIL).await;
    let read = reporter.get(&page).await;
    assert_eq!(read.status, 200);
    assert!(read.body.contains("VPN から順に導入"));
    assert!(!read.body.contains("id=\"answer-mfa\""));
    // Another operator and the ministry are told it does not exist, by page and API.
    let mut finance = srv.client(FINANCE).await;
    assert_eq!(finance.get(&page).await.status, 404);
    let history = format!("{page}/mfa");
    assert_eq!(finance.get(&history).await.status, 404);
    let finance_token = srv.token(FINANCE).await;
    let r = get(&srv, &finance_token, &format!("/orgs/{railway}/assessment")).await;
    assert_eq!(r.status, 404, "{}", r.body);
    let ministry_token = srv.token(MINISTRY).await;
    let r = get(
        &srv,
        &ministry_token,
        &format!("/orgs/{railway}/assessment"),
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.body);
    // The centre reads it.
    let analyst = srv.token(ANALYST).await;
    let r = get(&srv, &analyst, &format!("/orgs/{railway}/assessment")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mfa = r.json()["themes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["theme"]["theme"]["key"] == "mfa")
        .cloned()
        .unwrap();
    assert_eq!(mfa["current"]["assessment"]["standing"], "in_progress");
    assert_eq!(r.json()["may_answer"], false);

    // Three more railway operators answer through the API: four in the sector.
    for (n, standing) in [(2, "in_place"), (3, "not_started"), (4, "in_place")] {
        let (org, token) = another_railway(&srv, n).await;
        let r = srv
            .api(
                "PUT",
                &format!("/orgs/{org}/assessment/mfa"),
                Some(&token),
                &[],
                Some(&json!({"standing": standing, "note": ""})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let r = get(&srv, &ministry_token, "/adoption?sector=railway").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let cell = mfa_cell(&v);
    assert_eq!(cell["suppressed"], true, "{cell}");
    assert_eq!(cell["answered"], 0, "{cell}");
    assert!(cell["in_place_percent"].is_null());
    assert_eq!(v["min_orgs"], 5);
    let mut ministry = srv.client(MINISTRY).await;
    let fig = ministry.get("/lessons/adoption?sector=railway").await;
    assert_eq!(fig.status, 200, "{}", fig.body);
    assert!(fig.body.contains("id=\"suppressed-note\""), "{}", fig.body);
    assert!(fig.body.contains("5者未満"), "{}", fig.body);
    // A sector the ministry does not oversee is not there; the centre sees the figure.
    let r = get(&srv, &ministry_token, "/adoption?sector=nowhere").await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = get(&srv, &analyst, "/adoption?sector=railway").await;
    let cell = mfa_cell(&r.json());
    assert_eq!(
        (cell["answered"].as_i64(), cell["organisations"].as_i64()),
        (Some(4), Some(4))
    );
    // Two of the four answers are in place.
    assert_eq!(cell["in_place_percent"], 50);

    // The downloads say the same, with the reason in the withheld row.
    let csv = ministry.get("/lessons/adoption/csv?sector=railway").await;
    assert_eq!(csv.status, 200);
    assert!(csv.bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 with BOM");
    let mfa_line = csv
        .body
        .lines()
        .find(|l| l.contains("多要素認証"))
        .unwrap()
        .to_owned();
    assert!(mfa_line.starts_with("鉄道,"), "{mfa_line}");
    assert!(mfa_line.ends_with("5者未満のため非表示"), "{mfa_line}");
    let xlsx = ministry.get("/lessons/adoption/xlsx?sector=railway").await;
    assert_eq!(xlsx.status, 200);
    assert!(
        xlsx.header("content-type")
            .is_some_and(|t| t.contains("spreadsheetml"))
    );
    let rows = xlsx_rows(&xlsx.bytes);
    let row = rows.iter().find(|r| r[1] == "多要素認証").unwrap();
    assert_eq!(row.last().unwrap(), "5者未満のため非表示");
    let mut centre = srv.client(ANALYST).await;
    let rows = xlsx_rows(
        &centre
            .get("/lessons/adoption/xlsx?sector=railway")
            .await
            .bytes,
    );
    let row = rows.iter().find(|r| r[1] == "多要素認証").unwrap();
    // 実施済み 1 (railway-2) + 1 (railway-4), 対応中 1, 未着手 1, 該当なし 0; 4 of 4; 50%.
    assert_eq!(&row[2..9], ["2", "1", "1", "0", "4", "4", "50"], "{row:?}");
}

#[tokio::test]
async fn the_catalog_downloads_as_a_workbook() {
    let srv = TestApp::demo().await;
    let mut rail = srv.client(RAIL).await;
    let csv = rail
        .get("/lessons/themes/delegation-of-authority/csv")
        .await;
    let xlsx = rail
        .get("/lessons/themes/delegation-of-authority/xlsx")
        .await;
    assert_eq!(xlsx.status, 200, "{}", xlsx.body);
    let rows = xlsx_rows(&xlsx.bytes);
    assert!(rows.len() > 1);
    // The same table as the CSV, row for row (the year a number in the workbook).
    let csv_lines: Vec<&str> = csv.body.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(rows.len(), csv_lines.len());
    assert!(
        rows.iter()
            .any(|r| r.iter().any(|c| c == "非常時に備えた権限移譲"))
    );
    assert!(rows[1..].iter().all(|r| r[1] == "2019"), "{rows:?}");
}

#[tokio::test]
async fn a_countermeasure_is_followed_up_and_reminded_once() {
    let srv = TestApp::demo().await;
    let case = srv
        .app
        .store
        .case_by_number(2019, 2)
        .await
        .unwrap()
        .unwrap();
    let page = format!("/cases/{}/followups", case.id);
    let mut rail = srv.client(RAIL).await;
    let list = rail.get(&page).await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.body.contains("id=\"make-0\""), "{}", list.body);
    assert!(
        list.body
            .contains(&case.content.sections.countermeasures[0])
    );

    // A due date that does not read is refused; the owner typed stays.
    let bad = rail
        .post(
            &page,
            &page,
            &[
                ("measure", "0"),
                ("owner", "運用部 佐藤"),
                ("due", "来週中"),
                ("status", "planned"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("運用部 佐藤"), "{}", bad.body);
    assert!(bad.body.contains("aria-invalid"), "{}", bad.body);
    // Due seven days ahead of today (2026-11-27 in the test kit), in 和暦.
    let made = rail
        .post(
            &page,
            &page,
            &[
                ("measure", "0"),
                ("owner", RAIL_ADMIN),
                ("due", "令和8年12月3日"),
                ("status", "in_progress"),
            ],
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    let at = made.header("location").unwrap().to_owned();
    let id: i64 = at.trim_start_matches("/followups/").parse().unwrap();
    let again = rail
        .post(&page, &page, &[("measure", "0"), ("owner", "x")])
        .await;
    assert_eq!(
        again.status, 409,
        "one item per countermeasure: {}",
        again.body
    );

    // Another operator is told it does not exist; the centre reads it.
    let mut finance = srv.client(FINANCE).await;
    assert_eq!(finance.get(&at).await.status, 404);
    let finance_token = srv.token(FINANCE).await;
    let r = get(&srv, &finance_token, &format!("/followups/{id}")).await;
    assert_eq!(r.status, 404, "{}", r.body);
    let analyst = srv.token(ANALYST).await;
    let r = get(&srv, &analyst, &format!("/followups/{id}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["stored"]["item"]["due"], "2026-12-03");

    // Two edits from version 1: the second is shown as a conflict with its text kept.
    let first = rail
        .post(
            &at,
            &at,
            &[
                ("version", "1"),
                ("owner", RAIL_ADMIN),
                ("due", "2026-12-03"),
                ("status", "in_progress"),
                ("evidence", ""),
            ],
        )
        .await;
    assert_eq!(first.status, 303, "{}", first.body);
    let second = rail
        .post(
            &at,
            &at,
            &[
                ("version", "1"),
                ("owner", RAIL_ADMIN),
                ("due", "2026-12-03"),
                ("status", "done"),
                ("evidence", "監視設定を変更した記録"),
            ],
        )
        .await;
    assert_eq!(second.status, 409, "{}", second.body);
    assert!(second.body.contains("id=\"followup-conflict\""));
    assert!(second.body.contains("監視設定を変更した記録"));
    // Through the API, a save without its version is refused, not applied.
    let rail_token = srv.token(RAIL).await;
    let r = srv
        .api(
            "PUT",
            &format!("/followups/{id}"),
            Some(&rail_token),
            &[],
            Some(&json!({"owner": RAIL_ADMIN, "status": "dropped", "evidence": "不要"})),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);

    // The centre sees completion across cases.
    let r = get(&srv, &analyst, "/followups/completion").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let c = &r.json()["cases"][0];
    assert_eq!(c["case_id"], case.id.0);
    assert_eq!(
        (c["items"].as_i64(), c["done"].as_i64()),
        (Some(1), Some(0))
    );
    let mut centre = srv.client(ANALYST).await;
    let p = centre.get("/followups").await;
    assert!(
        p.body.contains(&format!("id=\"completion-{}\"", case.id)),
        "{}",
        p.body
    );

    // Within a week of the due day, "due soon" goes to the railway's administrator (also
    // the owner), once.
    let (port, sink) = smtp_sink(0).await;
    let cfg = notify_through(port);
    let run = kizuki_app::followups::run_once(&srv.app, &cfg, "https://kizuki.example.jp")
        .await
        .unwrap();
    assert_eq!((run.planned, run.sent), (1, 1), "{run:?}");
    let again = kizuki_app::followups::run_once(&srv.app, &cfg, "https://kizuki.example.jp")
        .await
        .unwrap();
    assert_eq!(again.planned, 0, "{again:?}");
    let mails = sink.mails.lock().unwrap().clone();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, vec![format!("<{RAIL_ADMIN}>")]);
    assert!(
        mails[0]
            .body()
            .contains(&format!("https://kizuki.example.jp/followups/{id}"))
    );
    // Once done, no overdue reminder follows.
    let r = srv
        .api(
            "PUT",
            &format!("/followups/{id}"),
            Some(&rail_token),
            &[],
            Some(&json!({"owner": RAIL_ADMIN, "due": "2026-12-03", "status": "done", "evidence": "監視設定を変更", "version": 2})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    srv.clock.advance(chrono::Duration::days(10));
    let late = kizuki_app::followups::run_once(&srv.app, &cfg, "https://kizuki.example.jp")
        .await
        .unwrap();
    assert_eq!(late.planned, 0, "{late:?}");
}
