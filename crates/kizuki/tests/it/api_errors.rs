//! The API's error shape for every refusal: axum's extractor rejections (query, path,
//! JSON body, content type, body size, method) answer `{code, message_ja, message_en, fields}`
//! naming the part at fault, and the OpenAPI document lists the error statuses each operation
//! can give.

use crate::harness::{ANALYST, RAIL, Resp, TestServer, request};
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

/// A POST with a raw body and content type, as a client that is not careful would send.
async fn post_raw(srv: &TestServer, path: &str, token: &str, ct: &str, body: &[u8]) -> Resp {
    request(
        &srv.base,
        "POST",
        &format!("/api/v1{path}"),
        &[
            ("Authorization", format!("Bearer {token}")),
            ("Content-Type", ct.to_owned()),
        ],
        body,
    )
    .await
}

/// Declares a body of `len` bytes and sends a little more than the server reads: the server
/// answers once it has read past its limit, and since it has then read everything sent, it
/// closes the connection cleanly (unread bytes would make it reset, losing the answer).
async fn post_huge(srv: &TestServer, path: &str, token: &str, len: usize) -> Resp {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = srv.base.strip_prefix("http://").unwrap();
    let s = tokio::net::TcpStream::connect(host).await.unwrap();
    let (mut rd, mut wr) = s.into_split();
    let head = format!(
        "POST /api/v1{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\
         Authorization: Bearer {token}\r\nContent-Type: application/json\r\n\
         Content-Length: {len}\r\n\r\n"
    );
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(head.as_bytes()).await;
        // The start of a JSON string, `"aaaa…`, 16 KiB past the limit.
        let mut body = vec![b'a'; 2 * 1024 * 1024 + 16 * 1024];
        body[0] = b'"';
        let _ = wr.write_all(&body).await;
        // Keep the sending half open until the answer is read.
        std::future::pending::<()>().await;
    });
    let mut buf = Vec::new();
    let _ =
        tokio::time::timeout(std::time::Duration::from_secs(30), rd.read_to_end(&mut buf)).await;
    writer.abort();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Resp {
        status,
        headers,
        body: body.to_owned(),
    }
}

#[tokio::test]
async fn a_query_parameter_that_cannot_be_read_is_named() {
    let srv = TestServer::start_demo().await;
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
    let srv = TestServer::start_demo().await;
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
    let srv = TestServer::start_demo().await;
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
    let r = request(
        &srv.base,
        "PUT",
        &format!("/api/v1/reports/{id}"),
        &[
            ("Authorization", format!("Bearer {rail}")),
            ("Content-Type", "application/json".to_owned()),
            ("If-Match", "\"1\"".to_owned()),
        ],
        b"not json",
    )
    .await;
    error_shape(&r, 400, "malformed_json");
    // A 400 of the handler's own says what was wrong.
    let r = request(
        &srv.base,
        "PUT",
        &format!("/api/v1/reports/{id}"),
        &[
            ("Authorization", format!("Bearer {rail}")),
            ("Content-Type", "application/json".to_owned()),
            ("If-Match", "yesterday".to_owned()),
        ],
        body.to_string().as_bytes(),
    )
    .await;
    let e = error_shape(&r, 400, "bad_request");
    assert!(msg(&e, "message_en").contains("If-Match"), "{e}");
    assert!(msg(&e, "message_ja").contains("If-Match"), "{e}");
}

#[tokio::test]
async fn a_body_of_the_wrong_shape_names_the_field() {
    let srv = TestServer::start_demo().await;
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
    let srv = TestServer::start_demo().await;
    let rail = srv.token(RAIL).await;
    let r = post_raw(&srv, "/reports", &rail, "text/plain", b"{}").await;
    let e = error_shape(&r, 415, "unsupported_media_type");
    assert!(msg(&e, "message_ja").contains("application/json"), "{e}");
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let srv = TestServer::start_demo().await;
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
    let srv = TestServer::start_demo().await;
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
    let srv = TestServer::start_demo().await;
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
    let srv = TestServer::start_demo().await;
    let mut c = srv.client(RAIL).await;
    let r = c.get("/reports/not-a-number").await;
    assert_eq!(r.status, 400, "{}", r.body);
    let ct = r.header("content-type").unwrap_or_default();
    assert!(ct.starts_with("text/html"), "content type {ct}");
    assert!(r.body.contains("要求が正しくありません"), "{}", r.body);
    assert!(!r.body.contains("Cannot parse"), "{}", r.body);
}
