//! The JSON API through the router: tokens, reports with ETag/If-Match, stages, cases,
//! surveys, taxonomy, the error shape and the OpenAPI document.

use crate::kizuki;
use kizuki_testkit::{ANALYST, FINANCE, RAIL, TempDataDir, TestApp, stdout};
use serde_json::json;

fn report_body(title: &str) -> serde_json::Value {
    json!({
        "title": title,
        "sector": "railway",
        "event_type": "unavailability",
        "summary": "APIからの第一報",
        "occurred_at": "2026-11-26T23:00:00Z",
        "systems": [{"name": "共同利用型予約システム", "shared": true}]
    })
}

#[tokio::test]
async fn openapi_document_describes_the_api() {
    let srv = TestApp::demo().await;
    let r = srv.api("GET", "/openapi.json", None, &[], None).await;
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/reports",
        "/reports/{id}",
        "/reports/{id}/stages",
        "/cases",
        "/cases/{id}",
        "/surveys",
        "/surveys/{year}",
        "/taxonomy",
    ] {
        assert!(doc["paths"][path].is_object(), "missing {path}");
    }
    assert!(doc["paths"]["/reports/{id}"]["put"]["responses"]["412"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    assert!(doc["components"]["schemas"]["ReportDto"].is_object());
}

#[tokio::test]
async fn tokens_are_required_and_revocable() {
    let srv = TestApp::demo().await;
    let r = srv.api("GET", "/reports", None, &[], None).await;
    assert_eq!(r.status, 401);
    let e = r.json();
    assert_eq!(e["code"], "unauthenticated");
    assert!(e["message_ja"].as_str().unwrap().contains("ログイン"));
    assert!(!e["message_en"].as_str().unwrap().is_empty());
    let r = srv
        .api("GET", "/reports", Some("kzk_not-a-real-token"), &[], None)
        .await;
    assert_eq!(r.status, 401);
    let (t, secret) = kizuki_app::security::tokens::create(&srv.app, ANALYST, "t")
        .await
        .unwrap();
    assert_eq!(
        srv.api("GET", "/taxonomy", Some(&secret), &[], None)
            .await
            .status,
        200
    );
    kizuki_app::security::tokens::revoke(&srv.app, t.id)
        .await
        .unwrap();
    assert_eq!(
        srv.api("GET", "/taxonomy", Some(&secret), &[], None)
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn reports_create_get_list_update_with_if_match() {
    let srv = TestApp::demo().await;
    let rail = srv.token(RAIL).await;
    let r = srv
        .api(
            "POST",
            "/reports",
            Some(&rail),
            &[],
            Some(&report_body("API報告")),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.header("etag"), Some("\"1\""));
    let created = r.json();
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["tlp"], "amber", "TLP defaults to AMBER");
    assert_eq!(created["stages"][0]["kind"], "first");
    let path = format!("/reports/{id}");
    let r = srv.api("GET", &path, Some(&rail), &[], None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("etag"), Some("\"1\""));
    // Another operator cannot see it; it looks like it does not exist.
    let fin = srv.token(FINANCE).await;
    assert_eq!(
        srv.api("GET", &path, Some(&fin), &[], None).await.status,
        404
    );
    let list = srv
        .api(
            "GET",
            "/reports?status=new&sector=railway",
            Some(&rail),
            &[],
            None,
        )
        .await
        .json();
    assert_eq!(list["total"], 1);
    let list = srv
        .api("GET", "/reports", Some(&fin), &[], None)
        .await
        .json();
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["title"] != "API報告")
    );
    let r = srv
        .api("GET", "/reports?fy=bogus", Some(&rail), &[], None)
        .await;
    assert_eq!(r.status, 422);
    // Filed this year about something that happened in 令和元年度: either 年度 finds it.
    let mut old = report_body("API報告（2019年の件）");
    old["occurred_at"] = json!("2019-05-01T00:00:00Z");
    let r = srv
        .api("POST", "/reports", Some(&rail), &[], Some(&old))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let titles = |query: &'static str| {
        let (srv, rail) = (&srv, &rail);
        async move {
            let list = srv.api("GET", query, Some(rail), &[], None).await.json();
            list["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["title"].as_str().unwrap_or_default().to_owned())
                .collect::<Vec<String>>()
        }
    };
    let late = "API報告（2019年の件）".to_owned();
    assert!(titles("/reports?fy=2026").await.contains(&late));
    assert!(
        titles("/reports?fy=2026&fy_by=reported")
            .await
            .contains(&late)
    );
    assert!(
        !titles("/reports?fy=2026&fy_by=occurred")
            .await
            .contains(&late)
    );
    assert!(
        titles("/reports?fy=2019&fy_by=occurred")
            .await
            .contains(&late)
    );
    assert!(!titles("/reports?fy=2019").await.contains(&late));
    let r = srv
        .api(
            "GET",
            "/reports?fy=2026&fy_by=whenever",
            Some(&rail),
            &[],
            None,
        )
        .await;
    assert!(r.status == 400 || r.status == 422, "{}", r.body);

    let mut edited = report_body("API報告（修正）");
    let r = srv.api("PUT", &path, Some(&rail), &[], Some(&edited)).await;
    assert_eq!(r.status, 428, "If-Match is required");
    let r = srv
        .api(
            "PUT",
            &path,
            Some(&rail),
            &[("If-Match", "\"1\"".into())],
            Some(&edited),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("etag"), Some("\"2\""));
    edited["title"] = json!("古い版からの更新");
    let r = srv
        .api(
            "PUT",
            &path,
            Some(&rail),
            &[("If-Match", "\"1\"".into())],
            Some(&edited),
        )
        .await;
    assert_eq!(r.status, 412);
    assert_eq!(r.json()["code"], "precondition_failed");
    assert_eq!(r.json()["current_version"], 2);
    let now = srv.api("GET", &path, Some(&rail), &[], None).await.json();
    assert_eq!(
        now["title"], "API報告（修正）",
        "the stale update changed nothing"
    );

    let bad =
        json!({"title": "", "sector": "nowhere", "event_type": "unavailability", "summary": "x"});
    let r = srv
        .api("POST", "/reports", Some(&rail), &[], Some(&bad))
        .await;
    assert_eq!(r.status, 422);
    let e = r.json();
    assert_eq!(e["code"], "validation");
    let fields: Vec<&str> = e["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"title") && fields.contains(&"sector"),
        "{fields:?}"
    );
    assert_eq!(e["fields"][0]["message_ja"], "入力してください");

    let analyst = srv.token(ANALYST).await;
    let r = srv
        .api(
            "POST",
            "/reports",
            Some(&analyst),
            &[],
            Some(&report_body("x")),
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["code"], "forbidden");
}

#[tokio::test]
async fn stages_append_until_final() {
    let srv = TestApp::demo().await;
    let rail = srv.token(RAIL).await;
    let id = srv
        .api(
            "POST",
            "/reports",
            Some(&rail),
            &[],
            Some(&report_body("段階")),
        )
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    let path = format!("/reports/{id}/stages");
    let r = srv
        .api(
            "POST",
            &path,
            Some(&rail),
            &[],
            Some(&json!({"kind": "follow_up", "text": "続報です"})),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["stages"].as_array().unwrap().len(), 2);
    let r = srv
        .api(
            "POST",
            &path,
            Some(&rail),
            &[],
            Some(&json!({"kind": "sideways", "text": "x"})),
        )
        .await;
    assert_eq!(r.status, 422);
    let r = srv
        .api(
            "POST",
            &path,
            Some(&rail),
            &[],
            Some(&json!({"kind": "final", "text": "最終報です"})),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = srv
        .api(
            "POST",
            &path,
            Some(&rail),
            &[],
            Some(&json!({"kind": "follow_up", "text": "まだ"})),
        )
        .await;
    assert_eq!(r.status, 422);
}

#[tokio::test]
async fn cases_surveys_and_taxonomy() {
    let srv = TestApp::demo().await;
    let t = srv.token(ANALYST).await;
    let cases = srv.api("GET", "/cases", Some(&t), &[], None).await.json();
    assert_eq!(cases.as_array().unwrap().len(), 7);
    let r = srv.api("GET", "/cases/1", Some(&t), &[], None).await;
    assert_eq!(r.header("etag"), Some("\"1\""));
    let mut content = r.json()["content"].clone();
    content["title"] = json!("API で直した題名");
    let r = srv
        .api(
            "PUT",
            "/cases/1",
            Some(&t),
            &[("If-Match", "\"1\"".into())],
            Some(&content),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = srv
        .api(
            "PUT",
            "/cases/1",
            Some(&t),
            &[("If-Match", "\"1\"".into())],
            Some(&content),
        )
        .await;
    assert_eq!(r.status, 412);
    content["lessons"] = json!([]);
    let r = srv
        .api(
            "PUT",
            "/cases/1",
            Some(&t),
            &[("If-Match", "\"2\"".into())],
            Some(&content),
        )
        .await;
    assert_eq!(r.status, 422);
    let rail = srv.token(RAIL).await;
    assert_eq!(
        srv.api(
            "PUT",
            "/cases/1",
            Some(&rail),
            &[("If-Match", "\"2\"".into())],
            Some(&content)
        )
        .await
        .status,
        // Security: the edit withdrew the case from its operator, and a record the
        // caller may not read answers "not found".
        404
    );
    let s = srv
        .api("GET", "/surveys/2019", Some(&t), &[], None)
        .await
        .json();
    assert_eq!(s["fiscal_year"], 2019);
    assert_eq!(s["case_ids"].as_array().unwrap().len(), 7);
    assert!(!s["common_lessons"].as_array().unwrap().is_empty());
    assert_eq!(
        srv.api("GET", "/surveys/1990", Some(&t), &[], None)
            .await
            .status,
        404
    );
    assert_eq!(
        srv.api("GET", "/surveys", Some(&t), &[], None)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let tx = srv
        .api("GET", "/taxonomy", Some(&t), &[], None)
        .await
        .json();
    assert!(
        tx["vocabularies"]["sectors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["ja"] == "鉄道")
    );
    assert_eq!(
        srv.api("GET", "/nothing", Some(&t), &[], None).await.status,
        404
    );
}

#[test]
fn token_command_prints_a_working_token_once() {
    let d = TempDataDir::new();
    assert!(kizuki(&d.path(), &["init"]).status.success());
    let o = kizuki(
        &d.path(),
        &["token", "create", "--email", ANALYST, "--label", "ci"],
    );
    assert!(o.status.success());
    let secret = stdout(&o).trim().to_owned();
    assert!(secret.starts_with("kzk_") && secret.len() > 60, "{secret}");
    let o = kizuki(&d.path(), &["token", "list", "--email", ANALYST]);
    let listed = stdout(&o);
    assert!(listed.contains("ci") && listed.contains("active"));
    assert!(!listed.contains(&secret), "the secret is never shown again");
    let db = rusqlite::Connection::open(d.path().join("kizuki.db")).unwrap();
    let stored: String = db
        .query_row("SELECT hash FROM api_tokens", [], |r| r.get(0))
        .unwrap();
    assert_ne!(stored, secret, "only a hash is stored");
    let id = listed.split('\t').next().unwrap().to_owned();
    assert!(
        kizuki(&d.path(), &["token", "revoke", &id])
            .status
            .success()
    );
    assert!(stdout(&kizuki(&d.path(), &["token", "list", "--email", ANALYST])).contains("revoked"));
    assert!(
        !kizuki(
            &d.path(),
            &["token", "create", "--email", "nobody@example.jp"]
        )
        .status
        .success()
    );
}
