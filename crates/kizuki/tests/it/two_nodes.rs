//! Several app nodes on one PostgreSQL database: two real `kizuki serve` processes,
//! each with its own data dir and search index following the database's change feed. A report
//! filed on one is readable and searchable on the other within a bounded delay, and an edit
//! conflict between them is detected exactly as on one node. Needs `KIZUKI_TEST_POSTGRES_URL`;
//! skipped with a message without it (CI sets it, and there the skip is a failure).

use crate::bin;
use crate::crash::exchange;
use kizuki_testkit::{PgSchema, TempDataDir, stderr, stdout};
use std::time::{Duration, Instant};

/// How long a write on one node may take to become searchable on the other: the follower
/// looks at the feed every second, plus the time to apply and commit.
const SEARCHABLE_WITHIN: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_share_reports_search_and_conflicts() {
    let Some(schema) = PgSchema::fresh() else {
        return;
    };
    // Made and migrated here, so the nodes start on a database that is ready; every session
    // of theirs uses the schema, so the test shares the server with others without seeing them.
    drop(schema.store().await);
    // Every node seals and opens the secrets kept in the database with the same key: here from
    // the environment, as a deployment of several nodes gives it.
    let ring = kizuki_app::security::sealing::KeyRing::new(
        kizuki_app::security::sealing::Key::generate(&kizuki_app::seeded_rng(2)),
    );
    let kz = bin()
        .env("KIZUKI_DATABASE_URL", &schema.url_in_schema())
        .env(kizuki_app::security::sealing::KEY_ENV, &ring.render_env());
    let (da, db) = (TempDataDir::new(), TempDataDir::new());
    let o = kz.run(&da.path(), &["init"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let logins = stdout(&o);
    let o = kz.run(
        &da.path(),
        &["token", "create", "--email", "reporter@railway.example.jp"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let token = stdout(&o).trim().to_owned();

    let a = kz.serve(&da.path()).await;
    let b = kz.serve(&db.path()).await;

    // Filed on A.
    let body = serde_json::json!({
        "title": "二拠点試験 nodetwoword",
        "sector": "railway",
        "event_type": "unavailability",
        "summary": "ノードAで提出した第一報。",
    })
    .to_string();
    let (status, resp) = exchange(a.http(), "POST", "/api/v1/reports", &token, &body)
        .await
        .unwrap();
    assert_eq!(status, 201, "{resp}");
    let id = serde_json::from_str::<serde_json::Value>(&resp).unwrap()["id"]
        .as_i64()
        .unwrap();
    let filed = Instant::now();

    // Readable on B at once (same database).
    let report_on_b = || async {
        exchange(
            b.http(),
            "GET",
            &format!("/api/v1/reports/{id}"),
            &token,
            "",
        )
        .await
        .unwrap()
    };
    let (status, resp) = report_on_b().await;
    assert_eq!(status, 200, "{resp}");

    // Searchable on B within the bound, through B's own index.
    let found_after = loop {
        if let Some((200, resp)) =
            exchange(b.http(), "GET", "/api/v1/search?q=nodetwoword", &token, "").await
        {
            let v: serde_json::Value = serde_json::from_str(&resp).unwrap();
            if v["hits"].as_array().unwrap().iter().any(|h| h["id"] == id) {
                break filed.elapsed();
            }
        }
        assert!(
            filed.elapsed() < SEARCHABLE_WITHIN,
            "report {id} filed on A not searchable on B after {SEARCHABLE_WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    eprintln!("two nodes: report filed on A searchable on B after {found_after:?}");

    // An edit conflict across nodes: both start from version 1; A's update wins, B's is
    // refused with 412 and the current version, as on one node.
    let edit = |title: &str| {
        serde_json::json!({
            "title": title,
            "sector": "railway",
            "event_type": "unavailability",
            "summary": "ノードAで提出した第一報。",
        })
        .to_string()
    };
    let put = |node: &kizuki_testkit::Node, title: &str| {
        let h = [
            ("authorization", format!("Bearer {token}")),
            ("if-match", "\"1\"".to_owned()),
            ("content-type", "application/json".to_owned()),
        ];
        let body = edit(title);
        let client = node.client();
        async move {
            let r = client
                .send("PUT", &format!("/api/v1/reports/{id}"), &h, body.as_bytes())
                .await;
            (r.status, r.body)
        }
    };
    let (sa, ra) = put(&a, "Aの修正").await;
    assert_eq!(sa, 200, "{ra}");
    let (sb, rb) = put(&b, "Bの修正").await;
    assert_eq!(sb, 412, "B's stale edit must be refused: {rb}");
    assert!(rb.contains("\"current_version\":2"), "{rb}");
    let (_, resp) = report_on_b().await;
    assert!(
        resp.contains("Aの修正"),
        "nothing silently overwritten: {resp}"
    );

    // Browser sessions are in the database: signed in through A's login form, the same
    // cookie is signed in on B, A's CSRF token posts on B, and logging out on A ends the
    // session on B too. No sticky sessions needed.
    let email = "reporter@railway.example.jp";
    let password = logins
        .lines()
        .find_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some(email)).then(|| w.next().map(str::to_owned))?
        })
        .unwrap_or_else(|| panic!("no password for {email} in: {logins}"));
    // An anonymous visitor's login form from A posts on B: nothing was stored for the form,
    // its CSRF token is derived from the instance secret both nodes read from the database.
    let mut visitor = a.client();
    let form = visitor.get("/login").await;
    assert_eq!(form.status, 200, "{}", form.body);
    let form_csrf = form.csrf();
    let anonymous = visitor.cookie.clone().unwrap();
    visitor.move_to(&b.client());
    let r = visitor
        .post_raw(
            "/login",
            &[
                ("_csrf", &form_csrf),
                ("email", email),
                ("password", &password),
                ("next", "/reports"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "A's login form refused on B: {}", r.body);
    assert_eq!(r.header("location"), Some("/reports"));
    assert_ne!(visitor.cookie.as_deref(), Some(anonymous.as_str()));
    let r = visitor.get("/reports").await;
    assert_eq!(
        r.status,
        200,
        "login on B from A's form not signed in: {:?}",
        r.header("location")
    );

    let mut on_a = a.client();
    on_a.login(email, &password).await;
    let cookie = on_a.cookie.clone().unwrap();
    let csrf = on_a.get("/reports/new").await.csrf();
    let mut on_b = b.client().with_cookie(&cookie);
    let r = on_b.get("/reports").await;
    assert_eq!(
        r.status,
        200,
        "not signed in on B: {:?}",
        r.header("location")
    );
    assert!(
        r.body.contains("action=\"/logout\""),
        "B shows no signed-in page: {}",
        r.body
    );
    let r = on_b
        .post_raw(
            "/lang",
            &[("_csrf", &csrf), ("lang", "en"), ("back", "/reports")],
        )
        .await;
    assert_eq!(r.status, 303, "A's CSRF token refused on B: {}", r.body);
    assert_eq!(r.header("location"), Some("/reports"));
    // The token is checked there, not waved through.
    let wrong = "0".repeat(csrf.len());
    let r = on_b
        .post_raw("/lang", &[("_csrf", &wrong), ("lang", "ja"), ("back", "/")])
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(on_b.cookie.as_deref(), Some(cookie.as_str()));

    let r = on_a.post_raw("/logout", &[("_csrf", &csrf)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_ne!(
        on_a.cookie.as_deref(),
        Some(cookie.as_str()),
        "logout keeps the id"
    );
    let r = on_b.get("/reports").await;
    assert_eq!(r.status, 303, "still signed in on B after logout on A");
    assert!(
        r.header("location")
            .is_some_and(|l| l.starts_with("/login")),
        "{:?}",
        r.header("location")
    );
}
