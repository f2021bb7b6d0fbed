//! The test kit itself: the in-process and the socket client see the same application, a
//! form's CSRF token is taken from the header too, and an app on PostgreSQL lives in a schema
//! that is gone once the app is dropped.

use kizuki_testkit::{RAIL, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_and_socket_clients_see_one_app() {
    let t = TestApp::builder().demo().build().await;
    let mut inside = t.client(RAIL).await;
    let srv = t.serve().await;
    let mut outside = srv.client(RAIL).await;
    for c in [&mut inside, &mut outside] {
        let r = c.get("/reports").await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body.contains("action=\"/logout\""), "{}", r.body);
    }
    // The pages' scripts send the token in `x-csrf-token`; a wrong one is refused.
    let csrf = inside.get("/reports").await.csrf();
    let back = [("lang", "en"), ("back", "/reports")];
    let r = inside.post_with_csrf_header("/lang", &csrf, &back).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let wrong = "0".repeat(csrf.len());
    let r = inside.post_with_csrf_header("/lang", &wrong, &back).await;
    assert_eq!(r.status, 403, "{}", r.body);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_app_lives_in_a_schema_dropped_with_it() {
    let Some(builder) = TestApp::builder().demo().postgres() else {
        return;
    };
    let t = builder.build().await;
    let schema = t.schema().unwrap();
    let (url, name) = (schema.url().to_owned(), schema.name().to_owned());
    assert_eq!(t.app.store.backend(), "postgres");
    let mut c = t.client(RAIL).await;
    assert_eq!(c.get("/reports").await.status, 200);
    drop(c);
    drop(t);
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let n: i64 = client
        .query_one(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1",
            &[&name],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0, "schema {name} left behind");
}
