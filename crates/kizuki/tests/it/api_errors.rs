//! The API's error shape for every refusal: axum's extractor rejections (query, path,
//! JSON body, content type, body size, method) answer `{code, message_ja, message_en, fields}`
//! naming the part at fault, and the OpenAPI document lists the error statuses each operation
//! can give.

use kizuki_testkit::{ANALYST, RAIL, Resp, TestApp};
use serde_json::{Value, json};

/// The answer is the API's error shape with `code`, as JSON; returns the body.
fn error_shape(r: &Resp, status: u16, code: &str) -> Value {
    assert_eq!(r.status, status, "{}", r.body);
    let ct = r.header("content-type").unwrap_or_default();
    assert!(ct.starts_with("application/json"), "content type {ct}");
    let e = r.json();
    assert_eq!(e["code"], code, "{e}");
    for lang in ["message_ja", "message_en"] {
        assert!(
            !e[lang].as_str().unwrap_or_default().is_empty(),
            "{lang}: {e}"
        );
    }
    e
}

fn msg(e: &Value, lang: &str) -> String {
    e[lang].as_str().unwrap_or_default().to_owned()
}

/// A raw API request with the bearer token and `headers`, as a client that is not careful
/// would send it.
async fn send_raw(
    srv: &TestApp,
    method: &str,
    path: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut h = vec![("Authorization", format!("Bearer {token}"))];
    h.extend(headers.iter().map(|(k, v)| (*k, (*v).to_owned())));
    srv.anonymous()
        .send(method, &format!("/api/v1{path}"), &h, body)
        .await
}

/// A POST with a raw body and content type.
async fn post_raw(srv: &TestApp, path: &str, token: &str, ct: &str, body: &[u8]) -> Resp {
    send_raw(srv, "POST", path, token, &[("Content-Type", ct)], body).await
}

/// Posts a JSON body of `len` bytes, the start of a JSON string (`"aaaa…`), past the limit.
async fn post_huge(srv: &TestApp, path: &str, token: &str, len: usize) -> Resp {
    let mut body = vec![b'a'; len];
    body[0] = b'"';
    post_raw(srv, path, token, "application/json", &body).await
}

#[tokio::test]
async fn a_query_parameter_that_cannot_be_read_is_named() {
    let srv = TestApp::demo().await;
    let rail = srv.token(RAIL).await;
    let r = srv
        .api("GET", "/reports?per_page=lots", Some(&rail), &[], None)
        .await;
    let e = error_shape(&r, 400, "invalid_query");
    assert!(msg(&e, "message_ja").contains("per_page"), "{e}");
    assert!(msg(&e, "message_ja").contains("クエリパラメータ"), "{e}");
    assert!(msg(&e, "message_en").contains("`per_page`"), "{e}");
    // A search filter too, and a good query still answers.
    let r = srv
        .api("GET", "/search?limit=-1", Some(&rail), &[], None)
        .await;
    let e = error_shape(&r, 400, "invalid_query");
    assert!(msg(&e, "message_en").contains("`limit`"), "{e}");
    let r = srv
        .api("GET", "/reports?per_page=5", Some(&rail), &[], None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn a_path_parameter_that_cannot_be_read_is_named() {
    let srv = TestApp::demo().await;
    let rail = srv.token(RAIL).await;
    let r = srv
        .api("GET", "/reports/not-a-number", Some(&rail), &[], None)
        .await;
    let e = error_shape(&r, 400, "invalid_path");
    let ja = msg(&e, "message_ja");
    assert!(
        ja.contains("「id」") && ja.contains("not-a-number") && ja.contains("整数"),
        "{e}"
    );
    assert!(msg(&e, "message_en").contains("`id`"), "{e}");
    let analyst = srv.token(ANALYST).await;
    let r = srv
        .api(
            "GET",
            "/surveys/heisei/selection",
            Some(&analyst),
            &[],
            None,
        )
        .await;
    let e = error_shape(&r, 400, "invalid_path");
    assert!(msg(&e, "message_ja").contains("「year」"), "{e}");
    // The token is asked first: a stranger learns nothing about the path.
    let r = srv
        .api("GET", "/reports/not-a-number", None, &[], None)
        .await;
    error_shape(&r, 401, "unauthenticated");
}

#[tokio::test]
async fn a_body_that_is_not_json_names_line_and_column() {
    let srv = TestApp::demo().await;
    let rail = srv.token(RAIL).await;
    let r = post_raw(
        &srv,
        "/reports",
        &rail,
        "application/json",
        b"{\"title\": \"a\",\n \"sector\": }",
    )
    .await;
    let e = error_shape(&r, 400, "malformed_json");
    assert!(msg(&e, "message_ja").contains("2 行"), "{e}");
    assert!(msg(&e, "message_en").contains("line 2 column"), "{e}");
    // The bulk import reads its body raw, and answers the same.
    let r = post_raw(&srv, "/reports/bulk", &rail, "application/json", b"[{]").await;
    let e = error_shape(&r, 400, "malformed_json");
    assert!(msg(&e, "message_en").contains("line 1 column"), "{e}");
    // An update judges its body after the caller's rights and If-Match, the same way.
    let body = json!({
        "title": "本文の誤り",
        "sector": "railway",
        "event_type": "unavailability",
        "summary": "第一報",
        "occurred_at": "2026-11-26T23:00:00Z"
    });
    let r = srv
        .api("POST", "/reports", Some(&rail), &[], Some(&body))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["id"].as_i64().unwrap();
    let put = |if_match: &'static str, body: Vec<u8>| {
        let path = format!("/reports/{id}");
        let h = [("Content-Type", "application/json"), ("If-Match", if_match)];
        let (srv, rail) = (&srv, &rail);
        async move { send_raw(srv, "PUT", &path, rail, &h, &body).await }
    };
    let r = put("\"1\"", b"not json".to_vec()).await;
    error_shape(&r, 400, "malformed_json");
    // A 400 of the handler's own says what was wrong.
    let r = put("yesterday", body.to_string().into_bytes()).await;
    let e = error_shape(&r, 400, "bad_request");
    assert!(msg(&e, "message_en").contains("If-Match"), "{e}");
    assert!(msg(&e, "message_ja").contains("If-Match"), "{e}");
}

#[tokio::test]
async fn a_body_of_the_wrong_shape_names_the_field() {
    let srv = TestApp::demo().await;
    let rail = srv.token(RAIL).await;
    let body = json!({"title": "t", "systems": [{"name": "x", "shared": "yes"}]});
    let r = srv
        .api("POST", "/reports", Some(&rail), &[], Some(&body))
        .await;
    let e = error_shape(&r, 422, "validation");
    let f = &e["fields"][0];
    assert_eq!(f["field"], "systems[0].shared", "{e}");
    assert!(
        f["message_ja"]
            .as_str()
            .unwrap()
            .contains("systems[0].shared"),
        "{e}"
    );
    assert!(
        f["message_en"].as_str().unwrap().contains("line 1 column"),
        "{e}"
    );
    // An unknown field is refused by name too (the DTO denies unknown fields).
    let body = json!({"titel": "t"});
    let r = srv
        .api("POST", "/reports", Some(&rail), &[], Some(&body))
        .await;
    let e = error_shape(&r, 422, "validation");
    assert!(
        e["fields"][0]["message_en"]
            .as_str()
            .unwrap()
            .contains("titel"),
        "{e}"
    );
}

#[tokio::test]
async fn a_body_without_the_json_content_type_is_415() {
    let srv = TestApp::demo().await;
    let rail = srv.token(RAIL).await;
    let r = post_raw(&srv, "/reports", &rail, "text/plain", b"{}").await;
    let e = error_shape(&r, 415, "unsupported_media_type");
    assert!(msg(&e, "message_ja").contains("application/json"), "{e}");
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let srv = TestApp::demo().await;
    let rail = srv.token(RAIL).await;
    let len = 3 * 1024 * 1024;
    for path in ["/reports", "/reports/bulk"] {
        let r = post_huge(&srv, path, &rail, len).await;
        let e = error_shape(&r, 413, "payload_too_large");
        assert!(msg(&e, "message_ja").contains("2097152"), "{path}: {e}");
    }
}

#[tokio::test]
async fn a_method_the_path_does_not_have_is_405_with_allow() {
    let srv = TestApp::demo().await;
    let rail = srv.token(RAIL).await;
    let r = srv
        .api("DELETE", "/reports/1", Some(&rail), &[], None)
        .await;
    let e = error_shape(&r, 405, "method_not_allowed");
    let allow = r.header("allow").unwrap_or_default().to_owned();
    assert!(allow.contains("GET") && allow.contains("PUT"), "{allow}");
    assert!(msg(&e, "message_ja").contains("PUT"), "{e}");
    // An unknown API path is 404 in the same shape.
    let r = srv
        .api("GET", "/no-such-thing", Some(&rail), &[], None)
        .await;
    error_shape(&r, 404, "not_found");
}

/// The statuses an operation's document lists.
fn statuses(doc: &Value, path: &str, method: &str) -> Vec<String> {
    doc["paths"][path][method]["responses"]
        .as_object()
        .unwrap_or_else(|| panic!("no {method} {path}"))
        .keys()
        .cloned()
        .collect()
}

#[tokio::test]
async fn the_openapi_document_lists_the_error_statuses() {
    let srv = TestApp::demo().await;
    let r = srv.api("GET", "/openapi.json", None, &[], None).await;
    assert_eq!(r.status, 200);
    let doc = r.json();
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let resp = &op["responses"];
            // Every operation is authenticated, so 401, 403 (address allowlist) and 429.
            assert!(op["security"].is_array(), "{method} {path}");
            for s in ["401", "403", "429"] {
                assert_eq!(
                    resp[s]["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ApiErrorBody",
                    "{method} {path} {s}"
                );
            }
            assert!(
                resp["429"]["headers"]["Retry-After"].is_object(),
                "{method} {path}"
            );
            // A path parameter can be unreadable; a body too large or not JSON.
            if path.contains('{') {
                assert!(resp["400"].is_object(), "{method} {path}");
            }
            if op["requestBody"].is_object() {
                for s in ["400", "413"] {
                    assert!(resp[s].is_object(), "{method} {path} {s}");
                }
            }
            // Only what can happen: no body, no 413 or 415.
            if !op["requestBody"].is_object() {
                assert!(
                    resp["413"].is_null() && resp["415"].is_null(),
                    "{method} {path}"
                );
            }
        }
    }
    assert!(operations >= 16, "{operations}");
    for (path, method) in [("/reports/{id}", "put"), ("/cases/{id}", "put")] {
        let s = statuses(&doc, path, method);
        for want in [
            "400", "401", "404", "412", "413", "415", "422", "428", "429",
        ] {
            assert!(s.iter().any(|x| x == want), "{method} {path}: {s:?}");
        }
    }
    for (path, method) in [("/reports", "post"), ("/reports/{id}/stages", "post")] {
        let s = statuses(&doc, path, method);
        for want in ["400", "413", "415", "422", "429"] {
            assert!(s.iter().any(|x| x == want), "{method} {path}: {s:?}");
        }
    }
    // The bulk import reads its body raw: no 415 or 422 there.
    let s = statuses(&doc, "/reports/bulk", "post");
    assert!(s.iter().all(|x| x != "415" && x != "422"), "{s:?}");
    // The search lists its 422 (text it cannot parse); the taxonomy has nothing to refuse
    // but the caller.
    assert!(statuses(&doc, "/search", "get").iter().any(|x| x == "422"));
    let mut s = statuses(&doc, "/taxonomy", "get");
    s.sort();
    assert_eq!(s, ["200", "401", "403", "429"]);
}

#[tokio::test]
async fn a_page_whose_path_cannot_be_read_gets_the_error_page() {
    let srv = TestApp::demo().await;
    let mut c = srv.client(RAIL).await;
    let r = c.get("/reports/not-a-number").await;
    assert_eq!(r.status, 400, "{}", r.body);
    let ct = r.header("content-type").unwrap_or_default();
    assert!(ct.starts_with("text/html"), "content type {ct}");
    assert!(r.body.contains("要求が正しくありません"), "{}", r.body);
    assert!(!r.body.contains("Cannot parse"), "{}", r.body);
}
