//! Fair limits and metrics end to end: 429 with `Retry-After` once a token's or an
//! organisation's burst is spent while another organisation goes on unhindered, the page
//! limit's friendly refusal, bulk imports through the bounded queue (per-item results, a full
//! queue answering 429), and `/metrics` parsing with its counters moving, guarded by the peer
//! address a real connection carries.

use kizuki_app::config::{LimitsConfig, MetricsConfig, Rate};
use kizuki_app::security::ip_allowlist::{Allowlist, ProxyConfig};
use kizuki_testkit::{Client, FINANCE, RAIL, Resp, TestApp};
use kizuki_web::metrics::OpsOptions;
use serde_json::{Value, json};
use std::collections::HashMap;

/// A demo app (seed 11) with the given fair-limit and metrics options (`OpsOptions`) and,
/// optionally, a trusted proxy; its metrics look at its data dir.
async fn start(ops: OpsOptions, proxy: Option<ProxyConfig>) -> TestApp {
    let mut opts = kizuki_web::WebOptions {
        ops,
        ..Default::default()
    };
    if let Some(p) = proxy {
        opts.security.proxy = p;
    }
    TestApp::builder().seed(11).demo().web(opts).build().await
}

async fn api(c: &Client, method: &str, path: &str, token: &str, body: Option<&Value>) -> Resp {
    c.api(method, path, Some(token), &[], body).await
}

async fn metrics(c: &Client, headers: &[(&str, String)]) -> Resp {
    c.send("GET", "/metrics", headers, b"").await
}

fn limits(f: impl FnOnce(&mut LimitsConfig)) -> OpsOptions {
    let mut l = LimitsConfig::default();
    f(&mut l);
    OpsOptions {
        limits: l,
        ..OpsOptions::default()
    }
}

fn report(title: &str, sector: &str) -> Value {
    json!({
        "title": title,
        "sector": sector,
        "event_type": "unavailability",
        "summary": "一括取込の試験",
        "occurred_at": "2026-11-26T23:00:00Z",
        "systems": [{"name": "試験システム"}]
    })
}

fn retry_after(r: &Resp) -> u64 {
    r.header("retry-after")
        .unwrap_or_else(|| panic!("no Retry-After: {:?}", r.headers))
        .parse()
        .unwrap()
}

/// Every sample line of a Prometheus text exposition, `name{labels}` → value; panics on a
/// line that is not one.
fn parse_metrics(text: &str) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
            continue;
        }
        let (key, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("not a sample: {line:?}"));
        let name_end = key.find('{').unwrap_or(key.len());
        assert!(
            key[..name_end]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "bad metric name in {line:?}"
        );
        if name_end < key.len() {
            assert!(key.ends_with('}'), "bad labels in {line:?}");
        }
        let v: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line:?}"));
        out.insert(key.to_owned(), v);
    }
    out
}

#[tokio::test]
async fn a_spent_token_or_organisation_gets_429_and_another_organisation_does_not() {
    let srv = start(
        limits(|l| {
            // One token a minute after the burst: a refused caller is told to wait ~60 s.
            l.token = Rate {
                per_minute: 1,
                burst: 5,
            };
            l.org = Rate {
                per_minute: 1,
                burst: 8,
            };
        }),
        None,
    )
    .await;
    let c = srv.anonymous();
    let rail = srv.token(RAIL).await;
    let rail2 = srv.token(RAIL).await;
    let fin = srv.token(FINANCE).await;
    for i in 0..5 {
        let r = api(&c, "GET", "/reports", &rail, None).await;
        assert_eq!(r.status, 200, "call {i}: {}", r.body);
    }
    let r = api(&c, "GET", "/reports", &rail, None).await;
    assert_eq!(r.status, 429, "{}", r.body);
    let wait = retry_after(&r);
    assert!((30..=60).contains(&wait), "Retry-After {wait}");
    let e = r.json();
    assert_eq!(e["code"], "rate_limited");
    assert_eq!(e["message_ja"], "リクエストが多すぎます");
    assert_eq!(e["message_en"], "Too many requests");
    // The railway's second token has what is left of the organisation's eight calls.
    for _ in 0..3 {
        assert_eq!(api(&c, "GET", "/reports", &rail2, None).await.status, 200);
    }
    let r = api(&c, "GET", "/reports", &rail2, None).await;
    assert_eq!(r.status, 429, "the organisation's burst is spent");
    assert!(retry_after(&r) >= 1);
    // The bank files and reads as if nothing happened.
    let r = api(
        &c,
        "POST",
        "/reports",
        &fin,
        Some(&report("銀行の報告", "finance")),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(api(&c, "GET", "/reports", &fin, None).await.status, 200);
    // An unauthenticated caller is not charged to anybody (and is refused as before).
    let r = api(&c, "GET", "/reports", "kzk_nonsense", None).await;
    assert_eq!(r.status, 401);

    let m = parse_metrics(&metrics(&c, &[]).await.body);
    assert_eq!(m["kizuki_rate_limited_total{scope=\"token\"}"], 1.0);
    assert_eq!(m["kizuki_rate_limited_total{scope=\"org\"}"], 1.0);
    assert_eq!(
        m["kizuki_http_requests_total{class=\"member\",status=\"429\"}"],
        2.0
    );
}

#[tokio::test]
async fn page_writes_are_limited_per_user_with_a_page_in_japanese() {
    let srv = start(
        limits(|l| {
            l.user_write = Rate {
                per_minute: 1,
                burst: 2,
            };
        }),
        None,
    )
    .await;
    let mut c = srv.anonymous();
    // Signing in is not a signed-in user's write: it is not charged.
    c.login(RAIL, &srv.password(RAIL)).await;
    for _ in 0..2 {
        let r = c.post("/", "/lang", &[("lang", "ja"), ("back", "/")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
    }
    let r = c.post("/", "/lang", &[("lang", "ja"), ("back", "/")]).await;
    assert_eq!(r.status, 429);
    assert!(retry_after(&r) >= 1);
    assert!(
        r.header("content-type").unwrap().starts_with("text/html"),
        "{:?}",
        r.headers
    );
    assert!(r.body.contains("リクエストが多すぎます"), "{}", r.body);
    // Reading goes on.
    assert_eq!(c.get("/reports").await.status, 200);
    // Another user's posts are their own.
    let mut other = srv.anonymous();
    other.login(FINANCE, &srv.password(FINANCE)).await;
    let r = other
        .post("/", "/lang", &[("lang", "ja"), ("back", "/")])
        .await;
    assert_eq!(r.status, 303);
}

#[tokio::test]
async fn bulk_imports_file_the_valid_items_and_report_the_others() {
    let srv = start(limits(|l| l.bulk_max_items = 3), None).await;
    let c = srv.anonymous();
    let rail = srv.token(RAIL).await;
    let body = json!([
        report("一括 1", "railway"),
        report("一括 2", "no-such-sector"),
        report("一括 3", "railway"),
    ]);
    let r = api(&c, "POST", "/reports/bulk", &rail, Some(&body)).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let location = r.header("location").unwrap().to_owned();
    let id = r.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/api/v1/imports/{id}"));
    let path = location.strip_prefix("/api/v1").unwrap().to_owned();
    let mut job = Value::Null;
    for _ in 0..200 {
        job = api(&c, "GET", &path, &rail, None).await.json();
        if job["status"] == "done" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(
        (job["total"].as_u64(), job["created"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(job["invalid"], 1);
    let items = job["items"].as_array().unwrap();
    assert_eq!(items[1]["errors"][0]["field"], "sector", "{job}");
    assert!(items[1].get("report_id").is_none());
    for i in [0, 2] {
        let rid = items[i]["report_id"].as_i64().unwrap();
        let r = api(&c, "GET", &format!("/reports/{rid}"), &rail, None).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["title"], format!("一括 {}", i + 1));
    }
    // Only the submitter sees the job.
    let fin = srv.token(FINANCE).await;
    assert_eq!(api(&c, "GET", &path, &fin, None).await.status, 404);
    // Too many items, or not an array, is refused before queueing.
    let four = json!([
        report("a", "railway"),
        report("b", "railway"),
        report("c", "railway"),
        report("d", "railway")
    ]);
    let r = api(&c, "POST", "/reports/bulk", &rail, Some(&four)).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = api(
        &c,
        "POST",
        "/reports/bulk",
        &rail,
        Some(&report("x", "railway")),
    )
    .await;
    assert_eq!(r.status, 400);
    // The document lists both routes.
    let doc: Value =
        serde_json::from_str(&c.send("GET", "/api/v1/openapi.json", &[], b"").await.body).unwrap();
    assert!(doc["paths"]["/reports/bulk"]["post"].is_object());
    assert!(doc["paths"]["/imports/{id}"]["get"].is_object());
}

#[tokio::test]
async fn a_full_import_queue_answers_429_with_retry_after() {
    // No workers: accepted jobs stay queued, so the queue fills deterministically.
    let mut ops = limits(|l| l.bulk_queue = 2);
    ops.start_import_workers = false;
    let srv = start(ops, None).await;
    let c = srv.anonymous();
    let rail = srv.token(RAIL).await;
    let fin = srv.token(FINANCE).await;
    let one = json!([report("待ち", "railway")]);
    let r = api(&c, "POST", "/reports/bulk", &rail, Some(&one)).await;
    assert_eq!(r.status, 202, "{}", r.body);
    // One organisation may hold half the queue: the railway's second job waits its turn.
    let r = api(&c, "POST", "/reports/bulk", &rail, Some(&one)).await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.json()["code"], "queue_full");
    assert!(retry_after(&r) >= 1);
    // The bank still finds its share.
    let bank = json!([report("待ち", "finance")]);
    let r = api(&c, "POST", "/reports/bulk", &fin, Some(&bank)).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let job = api(&c, "GET", &format!("/imports/{id}"), &fin, None)
        .await
        .json();
    assert_eq!(job["status"], "queued");
    let m = parse_metrics(&metrics(&c, &[]).await.body);
    assert_eq!(m["kizuki_import_queue_depth"], 2.0);
    assert_eq!(m["kizuki_import_queue_capacity"], 2.0);
}

#[tokio::test]
async fn metrics_parse_move_and_are_guarded() {
    let proxy = ProxyConfig {
        trust_forwarded: true,
        trusted: Allowlist::parse("127.0.0.1/32").unwrap(),
    };
    let ops = OpsOptions {
        metrics: MetricsConfig {
            token: Some("metrics-token-0123456789".into()),
        },
        ..OpsOptions::default()
    };
    let srv = start(ops, Some(proxy)).await;
    // Over a real connection: the proxy is trusted by the peer address the socket carries.
    let served = srv.serve().await;
    let c = served.anonymous();
    // A backup taken an hour ago (by the fixed clock) shows as one hour old.
    let an_hour_ago = srv.app.clock.now() - chrono::Duration::hours(1);
    kizuki_app::ops::backup::backup_now(
        srv.sqlite(),
        &srv.data_dir().join("backups"),
        an_hour_ago,
        3,
    )
    .await
    .unwrap();
    let rail = srv.token(RAIL).await;
    let first = metrics(&c, &[]).await;
    assert_eq!(first.status, 200);
    assert!(
        first
            .header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
        "{:?}",
        first.headers
    );
    let before = parse_metrics(&first.body);
    let key = "kizuki_http_requests_total{class=\"member\",status=\"200\"}";
    let n0 = before.get(key).copied().unwrap_or(0.0);
    for _ in 0..3 {
        assert_eq!(api(&c, "GET", "/reports", &rail, None).await.status, 200);
    }
    let after = parse_metrics(&metrics(&c, &[]).await.body);
    assert_eq!(after[key], n0 + 3.0);
    let count = "kizuki_http_request_duration_seconds_count{class=\"member\"}";
    assert_eq!(after[count], after[key]);
    assert_eq!(
        after["kizuki_http_request_duration_seconds_bucket{class=\"member\",le=\"+Inf\"}"],
        after[count]
    );
    // The previous scrape itself was counted (class public).
    assert!(after["kizuki_http_requests_total{class=\"public\",status=\"200\"}"] >= 1.0);
    // SQLite's read pool: some connections kept, none busy between requests.
    assert!(after["kizuki_db_pool_size"] >= 1.0);
    assert_eq!(after["kizuki_db_pool_in_use"], 0.0);
    assert!(after["kizuki_disk_free_bytes"] > 0.0);
    let age = after["kizuki_backup_age_seconds"];
    assert!((3599.0..=3601.0).contains(&age), "{age}");
    assert_eq!(after["kizuki_import_queue_depth"], 0.0);
    assert_eq!(after["kizuki_resource_warning{resource=\"disk\"}"], 0.0);

    // Through the trusted proxy for a client elsewhere: refused without the token.
    let away = ("X-Forwarded-For", "192.0.2.9".to_owned());
    assert_eq!(metrics(&c, std::slice::from_ref(&away)).await.status, 403);
    let wrong = (
        "Authorization",
        "Bearer metrics-token-wrong-0000".to_owned(),
    );
    assert_eq!(metrics(&c, &[away.clone(), wrong]).await.status, 403);
    let right = (
        "Authorization",
        "Bearer metrics-token-0123456789".to_owned(),
    );
    assert_eq!(metrics(&c, &[away, right]).await.status, 200);
}

/// Two nodes on one PostgreSQL database, each with its own buckets in memory: an
/// organisation's calls spread over both get its burst once in total, not once per node, and
/// another organisation's bucket is its own.
#[tokio::test]
async fn two_nodes_on_postgres_share_an_organisations_limit() {
    let opts = kizuki_web::WebOptions {
        ops: limits(|l| {
            l.org = Rate {
                per_minute: 1,
                burst: 8,
            };
            // Tokens generous, so only the organisation's limit is tried.
            l.token = Rate {
                per_minute: 6000,
                burst: 1000,
            };
        }),
        ..Default::default()
    };
    let Some(builder) = TestApp::builder().seed(11).demo().web(opts).postgres() else {
        return;
    };
    let a = builder.build().await;
    let b = a.reopen(12).await;
    let rail = a.token(RAIL).await;
    let (mut ok, mut refused, mut refused_by_b) = (0, 0, 0);
    for i in 0..20 {
        let node = if i % 2 == 0 { &a } else { &b };
        let r = node
            .api("GET", "/reports?per_page=1", Some(&rail), &[], None)
            .await;
        match r.status {
            200 => ok += 1,
            429 => {
                refused += 1;
                if i % 2 == 1 {
                    refused_by_b += 1;
                }
                assert!(retry_after(&r) >= 1, "{:?}", r.headers);
            }
            s => panic!("unexpected {s}: {}", r.body),
        }
    }
    // One node's buckets alone would have let 8 through on each: 16 of the 20.
    assert_eq!(
        (ok, refused),
        (8, 12),
        "the organisation's burst of 8 holds in total"
    );
    assert_eq!(
        refused_by_b, 6,
        "the second node refuses too, though it served only 4"
    );
    // Another organisation is not held back by the first one's spent bucket.
    let finance = b.token(FINANCE).await;
    let r = b
        .api("GET", "/reports?per_page=1", Some(&finance), &[], None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}
