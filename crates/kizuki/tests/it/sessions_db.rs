//! Browser sessions in the database: a signed-in browser stays signed in when the server
//! restarts on the same SQLite file (its CSRF token still works), the idle limit still holds
//! with `seen` written back only once a minute, and a session store that fails answers an
//! opaque 500 rather than serving the request. Anonymous visitors are not stored: page views
//! write no row, the login form of one server posts to another (its CSRF token derived from
//! the instance secret in the database), and only a language switch, a notice or a login
//! halfway through stores their session.

use kizuki_testkit::{ANALYST, RAIL, Resp, TestApp};
use std::path::Path;

/// A demo database (seed 7, the clock at 2026-11-27 09:00 JST) in a fresh data dir. Each
/// server of a test is [`TestApp::reopen`] on it: a new store and a new random seed, the
/// router built anew, as a restarted or another process would have them.
async fn demo() -> TestApp {
    TestApp::builder().demo().build().await
}

/// Rows in the sessions table of the SQLite file.
fn session_rows(db_path: &Path) -> i64 {
    let db = rusqlite::Connection::open(db_path).unwrap();
    db.query_row("SELECT count(*) FROM sessions", [], |r| r.get(0))
        .unwrap()
}

fn to_login(r: &Resp) -> bool {
    r.status == 303
        && r.header("location")
            .is_some_and(|l| l.starts_with("/login"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_survives_a_restart_and_still_expires() {
    let d = demo().await;
    let clock = d.clock.clone();
    let password = d.password(RAIL);

    let first = d.reopen(7).await;
    // An anonymous visitor first: the first id this seed gives.
    let mut early = first.anonymous();
    assert_eq!(early.get("/login").await.status, 200);
    let early_cookie = early.cookie.clone().unwrap();
    let mut c = first.anonymous();
    c.login(RAIL, &password).await;
    let signed_in = c.cookie.clone().unwrap();
    let r = c.get("/reports/new").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let csrf = r.csrf();
    drop(first);

    // Same file, new process state; the same seed, so the new server's random ids start
    // where the first one's did (an id collision must be survived, not served).
    let second = d.reopen(7).await;
    c.move_to(&second.anonymous());
    let r = c.get("/reports").await;
    assert_eq!(
        r.status,
        200,
        "signed out by a restart: {:?}",
        r.header("location")
    );
    assert_eq!(
        c.cookie.as_deref(),
        Some(signed_in.as_str()),
        "no new cookie"
    );
    // The CSRF token from before the restart still posts.
    let r = c
        .post_raw(
            "/lang",
            &[("_csrf", &csrf), ("lang", "en"), ("back", "/reports")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/reports"));
    let r = c.get("/reports").await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("<html lang=\"en\">"), "language not kept");
    // A stranger's cookie never becomes a signed-in session: it is kept as an anonymous id,
    // stored nowhere.
    let stranger_cookie = format!("kizuki_session={}", "ab".repeat(32));
    let mut stranger = {
        let mut c = second.anonymous();
        c.cookie = Some(stranger_cookie.clone());
        c
    };
    assert!(to_login(&stranger.get("/reports").await));
    assert_eq!(stranger.cookie.as_deref(), Some(stranger_cookie.as_str()));
    early.move_to(&second.anonymous());
    assert_eq!(early.get("/login").await.status, 200);
    assert_eq!(early.cookie.as_deref(), Some(early_cookie.as_str()));
    // The same seed gives the second server the first one's random bytes in the same order:
    // the first drew the early visitor's id, the instance secret's candidate and the login
    // page's id before the login; here the stranger's look at the secret and two new visitors
    // draw as many, so this login's new id is the one already signed in. The taken id is
    // skipped, not reused.
    let mut passer = second.anonymous();
    assert_eq!(passer.get("/login").await.status, 200);
    let mut other = second.anonymous();
    other.login(RAIL, &password).await;
    let other_cookie = other.cookie.clone().unwrap();
    assert_ne!(other_cookie, signed_in);
    assert_eq!(other.get("/reports").await.status, 200);
    assert_eq!(c.get("/reports").await.status, 200);
    assert_eq!(c.cookie.as_deref(), Some(signed_in.as_str()));

    // Idle limit: `seen` is written back at most once a minute, so use within 30 minutes
    // keeps the session; 31 quiet minutes end it, on whichever server.
    clock.advance(chrono::Duration::minutes(20));
    assert_eq!(c.get("/reports").await.status, 200);
    clock.advance(chrono::Duration::minutes(20));
    assert_eq!(
        c.get("/reports").await.status,
        200,
        "40 min after login, 20 idle"
    );
    drop(second);
    clock.advance(chrono::Duration::minutes(31));
    let third = d.reopen(9).await;
    c.move_to(&third.anonymous());
    let r = c.get("/reports").await;
    assert!(to_login(&r), "idle session still valid: {}", r.status);
    // The expired row is gone, not just refused.
    drop(third);
    let db = rusqlite::Connection::open(d.db_path()).unwrap();
    let key = kizuki_store::SessionKey::of(signed_in.trim_start_matches("kizuki_session="));
    let n: i64 = db
        .query_row(
            "SELECT count(*) FROM sessions WHERE key = ?1",
            [key.as_str()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_session_store_is_an_opaque_500() {
    let d = demo().await;
    let password = d.password(RAIL);
    let srv = d.reopen(7).await;
    let mut c = srv.anonymous();
    c.login(RAIL, &password).await;
    assert_eq!(c.get("/reports").await.status, 200);
    // The sessions table disappears under the running server.
    let db = rusqlite::Connection::open(d.db_path()).unwrap();
    db.execute_batch("DROP TABLE sessions").unwrap();
    let r = c.get("/reports").await;
    assert_eq!(r.status, 500, "{}", r.body);
    assert!(!r.body.contains("sessions"), "cause shown: {}", r.body);
    assert!(
        !r.body.contains("reporter@"),
        "served as signed in: {}",
        r.body
    );
    drop(srv);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_visitors_are_not_stored_until_they_keep_something() {
    let d = demo().await;
    // The analyst (centre staff: second factor required) enrolled in MFA.
    let codes = d.enrol_mfa(ANALYST).await;
    let (rail_pw, analyst_pw) = (d.password(RAIL), d.password(ANALYST));

    // Node A: a flood of anonymous page views, with and without a cookie, writes nothing.
    let a = d.reopen(7).await;
    let mut visitor = a.anonymous();
    assert_eq!(visitor.get("/public").await.status, 200);
    let first_cookie = visitor.cookie.clone().expect("a cookie for a new visitor");
    for _ in 0..25 {
        let r = visitor.get("/public").await;
        assert_eq!(r.status, 200, "{}", r.body);
        let r = visitor.get("/login").await;
        assert_eq!(r.status, 200, "{}", r.body);
        let mut stranger = a.anonymous();
        assert_eq!(stranger.get("/public").await.status, 200);
        assert_eq!(stranger.get("/login").await.status, 200);
        assert_ne!(stranger.cookie.as_deref(), Some(first_cookie.as_str()));
    }
    // The visitor kept one id throughout, though it is stored nowhere.
    assert_eq!(visitor.cookie.as_deref(), Some(first_cookie.as_str()));
    assert_eq!(session_rows(&d.db_path()), 0, "anonymous page views stored");
    let login_form = visitor.get("/login").await;
    let csrf = login_form.csrf();
    // Bound to the visitor's id: another visitor's token differs.
    let mut other = a.anonymous();
    let other_csrf = other.get("/login").await.csrf();
    assert_ne!(csrf, other_csrf);
    drop(a);
    assert_eq!(session_rows(&d.db_path()), 0);

    // Node B (another process state and random seed, same database): A's login form posts.
    let b = d.reopen(9).await;
    // A token that is not the visitor's own is refused, so the check is real.
    other.move_to(&b.anonymous());
    let r = other
        .post_raw(
            "/login",
            &[
                ("_csrf", &csrf),
                ("email", RAIL),
                ("password", &rail_pw),
                ("next", "/reports"),
            ],
        )
        .await;
    assert_eq!(r.status, 403, "someone else's token accepted: {}", r.body);
    visitor.move_to(&b.anonymous());
    let r = visitor
        .post_raw(
            "/login",
            &[
                ("_csrf", &csrf),
                ("email", RAIL),
                ("password", &rail_pw),
                ("next", "/reports"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "A's login form refused on B: {}", r.body);
    assert_eq!(r.header("location"), Some("/reports"));
    assert_ne!(
        visitor.cookie.as_deref(),
        Some(first_cookie.as_str()),
        "sign-in keeps the anonymous id"
    );
    let r = visitor.get("/reports").await;
    assert_eq!(r.status, 200, "not signed in: {:?}", r.header("location"));
    assert_eq!(session_rows(&d.db_path()), 1, "only the signed-in session");

    // An anonymous language switch is stored, and kept by the visitor's id.
    let mut reader = b.anonymous();
    let r = reader.get("/public").await;
    assert!(r.body.contains("<html lang=\"ja\">"));
    let reader_cookie = reader.cookie.clone().unwrap();
    let r = reader
        .post_raw(
            "/lang",
            &[("_csrf", &r.csrf()), ("lang", "en"), ("back", "/public")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(reader.cookie.as_deref(), Some(reader_cookie.as_str()));
    assert_eq!(
        session_rows(&d.db_path()),
        2,
        "the language switch not stored"
    );
    let r = reader.get("/public").await;
    assert!(r.body.contains("<html lang=\"en\">"), "language not kept");
    // Its forms still carry the token it had before it was stored.
    let csrf_en = r.csrf();

    // A login with a second factor: the password on B, stored halfway through.
    let mut staff = b.anonymous();
    let r = staff
        .post(
            "/login",
            "/login",
            &[
                ("email", ANALYST),
                ("password", &analyst_pw),
                ("next", "/reports"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/login/mfa"));
    assert_eq!(
        session_rows(&d.db_path()),
        3,
        "the pending login not stored"
    );
    drop(b);

    // Node C: the language and the login halfway through survived; the second factor there.
    let c = d.reopen(11).await;
    reader.move_to(&c.anonymous());
    let r = reader.get("/public").await;
    assert!(r.body.contains("<html lang=\"en\">"), "language lost");
    let r = reader
        .post_raw(
            "/lang",
            &[("_csrf", &csrf_en), ("lang", "ja"), ("back", "/public")],
        )
        .await;
    assert_eq!(r.status, 303, "stored session's token refused: {}", r.body);
    staff.move_to(&c.anonymous());
    let r = staff
        .post("/login/mfa", "/login/mfa", &[("code", &codes[0])])
        .await;
    assert_eq!(r.status, 303, "second factor refused: {}", r.body);
    assert_eq!(r.header("location"), Some("/reports"));
    let r = staff.get("/reports").await;
    assert_eq!(r.status, 200, "not signed in: {:?}", r.header("location"));
    // The pending session was replaced by the signed-in one.
    assert_eq!(session_rows(&d.db_path()), 3);
    drop(c);
}
