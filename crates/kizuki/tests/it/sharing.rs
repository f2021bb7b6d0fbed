//! Sharing under the TLP label, set in the API and on the report page: a TLP:RED report is
//! read by the people it names and nobody else (the centre included), a TLP:AMBER report by
//! the organisations it is shared with and no other operator — in the report itself, the list,
//! search and its counts, and the CSV export.

use crate::search_web::{file, ids, report, search_until};
use kizuki_testkit::{ANALYST, EDITOR, FINANCE, RAIL, TestApp};
use serde_json::json;

/// The id of demo user `email`.
pub(crate) async fn user_id(srv: &TestApp, email: &str) -> i64 {
    srv.user(email).await.id.0
}

async fn sees(srv: &TestApp, token: &str, id: i64) -> bool {
    let r = srv
        .api("GET", &format!("/reports/{id}"), Some(token), &[], None)
        .await;
    assert!(matches!(r.status, 200 | 404), "{}", r.body);
    r.status == 200
}

async fn listed(srv: &TestApp, token: &str, id: i64) -> bool {
    let r = srv
        .api("GET", "/reports?per_page=500", Some(token), &[], None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["id"] == id)
}

#[tokio::test]
async fn red_is_for_the_named_and_amber_for_the_organisations_shared_with() {
    let srv = TestApp::demo().await;
    let rail = srv.token(RAIL).await;
    let finance = srv.token(FINANCE).await;
    let medical = srv.token("reporter@medical.example.jp").await;
    let analyst = srv.token(ANALYST).await;
    let editor = srv.token(EDITOR).await;

    // RED names one centre analyst.
    let red = file(
        &srv,
        &rail,
        &report("赤色共有試験", "ゆうびんばこ障害の赤色共有試験。", "red"),
    )
    .await;
    assert!(
        !sees(&srv, &analyst, red).await,
        "RED: the centre too needs naming"
    );
    let analyst_id = user_id(&srv, ANALYST).await;
    let r = srv
        .api(
            "PUT",
            &format!("/reports/{red}/sharing"),
            Some(&finance),
            &[],
            Some(&json!({"users": [analyst_id]})),
        )
        .await;
    assert_eq!(
        r.status, 404,
        "another operator cannot even see it: {}",
        r.body
    );
    let r = srv
        .api(
            "PUT",
            &format!("/reports/{red}/sharing"),
            Some(&rail),
            &[],
            Some(&json!({"users": [analyst_id, 987_654]})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["fields"][0]["field"], "users[1]");
    let r = srv
        .api(
            "PUT",
            &format!("/reports/{red}/sharing"),
            Some(&rail),
            &[],
            Some(&json!({"users": [analyst_id]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(sees(&srv, &analyst, red).await);
    assert!(
        !sees(&srv, &editor, red).await,
        "not named, even at the centre"
    );
    assert!(listed(&srv, &analyst, red).await);
    assert!(!listed(&srv, &editor, red).await);
    let hit = search_until(&srv, &analyst, "ゆうびんばこ", |v| {
        !ids(v, "report").is_empty()
    })
    .await;
    assert_eq!(ids(&hit, "report"), vec![red]);
    let miss = search_until(&srv, &editor, "ゆうびんばこ", |_| true).await;
    assert!(ids(&miss, "report").is_empty(), "{miss}");
    assert_eq!(miss["total"], 0, "counts do not reveal it: {miss}");

    // AMBER shared with the finance operator: finance reads it, medical does not.
    let amber = file(
        &srv,
        &rail,
        &report("琥珀共有試験", "かわせみ系統の琥珀共有試験。", "amber"),
    )
    .await;
    assert!(!sees(&srv, &finance, amber).await);
    let fin_org = kizuki_app::accounts::org_with_key(&srv.app, "demo-finance")
        .await
        .unwrap()
        .unwrap()
        .id
        .0;
    // Set on the page, as the filing reporter does.
    let mut page = srv.client(RAIL).await;
    let form = format!("/reports/{amber}");
    let r = page
        .post(
            &form,
            &format!("/reports/{amber}/sharing"),
            &[("orgs", &fin_org.to_string())],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let shown = page.get(&form).await.body;
    assert!(
        shown.contains(&format!("id=\"share-org-{fin_org}\" checked")),
        "{shown}"
    );
    assert!(sees(&srv, &finance, amber).await);
    assert!(!sees(&srv, &medical, amber).await);
    assert!(listed(&srv, &finance, amber).await);
    assert!(!listed(&srv, &medical, amber).await);
    let hit = search_until(&srv, &finance, "かわせみ", |v| {
        !ids(v, "report").is_empty()
    })
    .await;
    assert_eq!(ids(&hit, "report"), vec![amber]);
    let miss = search_until(&srv, &medical, "かわせみ", |_| true).await;
    assert_eq!(miss["total"], 0, "{miss}");
    // The CSV export follows the same rule.
    let mut fin_page = srv.client(FINANCE).await;
    let csv = fin_page.get("/reports.csv").await;
    assert_eq!(csv.status, 200);
    assert!(csv.body.contains("琥珀共有試験"), "{}", csv.body);
    let mut med_page = srv.client("reporter@medical.example.jp").await;
    let csv = med_page.get("/reports.csv").await;
    assert!(!csv.body.contains("琥珀共有試験"));
    assert!(!csv.body.contains("赤色共有試験"));

    // Facet counts and similar cases follow it too: the bank counts the shared report under
    // AMBER and is offered it beside a report of its own; the hospital neither.
    let amber_count = |v: &serde_json::Value| {
        v["facets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["field"] == "tlp")
            .and_then(|f| {
                f["values"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|x| x["value"] == "amber")
                    .map(|x| x["count"].as_u64().unwrap())
            })
            .unwrap_or(0)
    };
    assert_eq!(amber_count(&hit), 1, "{hit}");
    assert_eq!(amber_count(&miss), 0, "{miss}");
    let own = |sector: &str| {
        json!({"title": "かわせみ系統の琥珀共有試験の影響", "sector": sector,
               "event_type": "unavailability", "summary": "かわせみ系統の琥珀共有試験の影響を調べた。",
               "tlp": "green"})
    };
    let fin_own = file(&srv, &finance, &own("finance")).await;
    let med_own = file(&srv, &medical, &own("medical")).await;
    let offered = |token: String, id: i64| {
        let srv = &srv;
        async move {
            let r = srv
                .api(
                    "GET",
                    &format!("/reports/{id}/similar"),
                    Some(&token),
                    &[],
                    None,
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
            r.json()["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|i| i["kind"] == "report")
                .map(|i| i["id"].as_i64().unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert!(
        offered(finance.clone(), fin_own).await.contains(&amber),
        "shared with the bank"
    );
    let med = offered(medical.clone(), med_own).await;
    assert!(!med.contains(&amber) && !med.contains(&red), "{med:?}");

    // Every change is audited with before and after.
    let log = kizuki_app::security::audit_log::all_entries(&srv.app)
        .await
        .unwrap();
    let changes: Vec<_> = log
        .iter()
        .filter(|e| e.target == format!("report:{amber}") && e.detail.contains("sharing"))
        .collect();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert!(changes[0].detail.contains(&fin_org.to_string()));
}

#[tokio::test]
async fn a_sharing_change_is_a_version_in_the_history_and_a_stale_one_is_shown() {
    let srv = TestApp::demo().await;
    let rail = srv.token(RAIL).await;
    let fin_org = kizuki_app::accounts::org_with_key(&srv.app, "demo-finance")
        .await
        .unwrap()
        .unwrap()
        .id
        .0;
    let id = file(
        &srv,
        &rail,
        &report("版の共有試験", "共有の版の試験。", "amber"),
    )
    .await;
    let before = srv
        .api("GET", &format!("/reports/{id}"), Some(&rail), &[], None)
        .await
        .json()["version"]
        .as_i64()
        .unwrap();
    let r = srv
        .api(
            "PUT",
            &format!("/reports/{id}/sharing"),
            Some(&rail),
            &[],
            Some(&json!({"orgs": [fin_org], "version": before})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["version"], before + 1);
    // Based on the version before: refused, and the sharing stays as saved.
    let r = srv
        .api(
            "PUT",
            &format!("/reports/{id}/sharing"),
            Some(&rail),
            &[],
            Some(&json!({"orgs": [], "version": before})),
        )
        .await;
    assert_eq!(r.status, 412, "{}", r.body);
    assert_eq!(r.json()["current_version"], before + 1);
    let history = srv
        .app
        .store
        .report_history(kizuki_domain::ids::ReportId(id))
        .await
        .unwrap();
    let share = history.iter().find(|h| h.action == "share").unwrap();
    assert!(share.snapshot.contains(&format!("\"orgs\":[{fin_org}]")));

    // On the page: the history names the change; a form read before it is answered 409 with
    // the boxes as ticked and a notice, and saved on the second try.
    let mut page = srv.client(RAIL).await;
    let shown = page.get(&format!("/reports/{id}")).await.body;
    assert!(shown.contains("共有先を変更"), "{shown}");
    let r = page
        .post(
            &format!("/reports/{id}"),
            &format!("/reports/{id}/sharing"),
            &[("version", &before.to_string())],
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("id=\"sharing-conflict\""), "{}", r.body);
    assert!(
        !r.body
            .contains(&format!("id=\"share-org-{fin_org}\" checked")),
        "the boxes as this user left them"
    );
    assert!(
        r.body
            .contains(&format!("name=\"version\" value=\"{}\"", before + 1)),
        "the next save goes against the current version"
    );
    let r = page
        .post(
            &format!("/reports/{id}"),
            &format!("/reports/{id}/sharing"),
            &[("version", &(before + 1).to_string())],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let now = srv
        .app
        .store
        .report_sharing(kizuki_domain::ids::ReportId(id))
        .await
        .unwrap();
    assert!(now.orgs.is_empty());
}
