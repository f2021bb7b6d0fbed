//! The refusals made before the session layer follow the error conventions — a
//! forged `X-Forwarded-For` and a page route's 405 answer the API's error shape under
//! `/api/v1` and a short page in both languages (Japanese first) elsewhere.

use kizuki_app::security::ip_allowlist::{Allowlist, ProxyConfig};
use kizuki_testkit::{Client, Resp, TestApp};

/// An empty app (seed 5; no demo: these refusals come before any data is read) that believes
/// `X-Forwarded-For` from 127.0.0.1, where the tests' requests come from.
async fn start() -> TestApp {
    let mut opts = kizuki_web::WebOptions::default();
    opts.security.proxy = ProxyConfig {
        trust_forwarded: true,
        trusted: Allowlist::parse("127.0.0.1/32").unwrap(),
    };
    TestApp::builder().seed(5).web(opts).build().await
}

async fn send(c: &Client, method: &str, path: &str, forwarded: Option<&str>) -> Resp {
    let h: Vec<(&str, String)> = forwarded
        .map(|f| vec![("X-Forwarded-For", f.to_owned())])
        .unwrap_or_default();
    c.send(method, path, &h, b"").await
}

fn content_type(r: &Resp) -> &str {
    r.header("content-type").unwrap_or_default()
}

/// The position of `needle` in the page, failing with the page when it is missing.
fn at(r: &Resp, needle: &str) -> usize {
    r.body
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in: {}", r.body))
}

const FORGED: &str = "203.0.113.9, <script>x</script>";

#[tokio::test]
async fn a_forged_forwarded_for_is_refused_in_the_api_shape_and_as_a_bilingual_page() {
    let srv = start().await;
    let c = srv.anonymous();

    // A well-formed chain passes the check (the page answers; the API asks for a token).
    assert_eq!(
        send(&c, "GET", "/login", Some("203.0.113.9")).await.status,
        200
    );
    let ok_api = send(&c, "GET", "/api/v1/reports", Some("203.0.113.9")).await;
    assert_eq!(ok_api.status, 401, "{}", ok_api.body);

    // The API: 400 in the error shape, naming the header and the bad entry in both languages.
    let r = send(&c, "GET", "/api/v1/reports", Some(FORGED)).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(content_type(&r).starts_with("application/json"), "{r:?}");
    let e = r.json();
    assert_eq!(e["code"], "bad_forwarded_for", "{e}");
    for key in ["message_ja", "message_en"] {
        let m = e[key].as_str().unwrap_or_else(|| panic!("no {key}: {e}"));
        assert!(m.contains("X-Forwarded-For"), "{key}: {m}");
        assert!(m.contains("<script>x</script>"), "{key}: {m}");
    }
    assert!(
        e["message_ja"]
            .as_str()
            .unwrap()
            .contains("アドレスではありません"),
        "{e}"
    );
    assert_ne!(e["message_ja"], e["message_en"]);

    // A page: 400 HTML, Japanese first and English beside, the sender's text escaped.
    let r = send(&c, "GET", "/login", Some(FORGED)).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(content_type(&r).starts_with("text/html"), "{r:?}");
    let ja = at(&r, "転送元アドレス（X-Forwarded-For）が正しくありません");
    let en = at(&r, "The forwarded address (X-Forwarded-For) is not valid");
    assert!(ja < en, "Japanese should come first: {}", r.body);
    at(&r, "&lt;script&gt;x&lt;/script&gt;");
    assert!(!r.body.contains("<script>"), "{}", r.body);

    // A very long forged entry is echoed only in part.
    let long = "x".repeat(5000);
    let r = send(&c, "GET", "/api/v1/reports", Some(&long)).await;
    assert_eq!(r.status, 400);
    let m = r.json()["message_en"].as_str().unwrap().to_owned();
    assert!(
        m.contains(&"x".repeat(64)) && !m.contains(&"x".repeat(65)),
        "{m}"
    );
}

#[tokio::test]
async fn a_page_route_with_a_method_it_does_not_have_answers_405_with_a_page() {
    let srv = start().await;
    let c = srv.anonymous();
    let r = send(&c, "DELETE", "/login", None).await;
    assert_eq!(r.status, 405, "{}", r.body);
    assert!(content_type(&r).starts_with("text/html"), "{r:?}");
    let allow = r.header("allow").unwrap_or_default();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    let ja = at(&r, "このメソッドは使えません");
    let en = at(&r, "This method is not allowed here");
    assert!(ja < en, "Japanese should come first: {}", r.body);
    // The allowed methods are named in the page too.
    at(&r, "GET, POST, HEAD");

    // The API's 405 keeps its error shape.
    let r = send(&c, "DELETE", "/api/v1/reports", None).await;
    assert_eq!(r.status, 405, "{}", r.body);
    assert!(content_type(&r).starts_with("application/json"), "{r:?}");
    assert_eq!(r.json()["code"], "method_not_allowed");
    assert!(r.header("allow").unwrap_or_default().contains("POST"));
}
