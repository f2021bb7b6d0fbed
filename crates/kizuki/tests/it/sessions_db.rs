//! Browser sessions in the database: a signed-in browser stays signed in when the server
//! restarts on the same SQLite file (its CSRF token still works), the idle limit still holds
//! with `seen` written back only once a minute, and a session store that fails answers an
//! opaque 500 rather than serving the request. Anonymous visitors are not stored: page views
//! write no row, the login form of one server posts to another (its CSRF token derived from
//! the instance secret in the database), and only a language switch, a notice or a login
//! halfway through stores their session.

use crate::harness::{ANALYST, Client, RAIL, TempDataDir, enrol_mfa};
use kizuki_app::{App, seeded_rng};
use kizuki_domain::clock::{Clock, FixedClock};
use kizuki_store_sqlite::datadir::DataDir;
use std::path::Path;
use std::sync::Arc;

/// One `serve` over the data dir, until the returned sender is dropped or fired.
struct Running {
    base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn start(dir: &Path, clock: Arc<FixedClock>, seed: u64) -> Running {
        let store = DataDir::new(dir).open().unwrap();
        let app = App {
            store: Arc::new(store),
            taxonomy: Arc::new(kizuki_dataset::default_taxonomy().unwrap()),
            clock: clock as Arc<dyn Clock>,
            rng: seeded_rng(seed),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            kizuki_web::serve(app, listener, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        Running {
            base,
            stop: Some(tx),
            task,
        }
    }

    /// Stops the server and waits until it (and with it the store) is gone.
    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        (&mut self.task).await.unwrap();
    }
}

fn start_time() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-11-27T09:00:00+09:00")
        .unwrap()
        .to_utc()
}

/// A demo database in a fresh data dir; the railway reporter's password (no second factor).
async fn demo(dir: &Path, clock: &Arc<FixedClock>) -> String {
    let store = DataDir::new(dir).open().unwrap();
    let app = App {
        store: Arc::new(store),
        taxonomy: Arc::new(kizuki_dataset::default_taxonomy().unwrap()),
        clock: clock.clone() as Arc<dyn Clock>,
        rng: seeded_rng(7),
    };
    let out = kizuki_app::seed::seed_demo(&app).await.unwrap();
    out.credentials
        .iter()
        .find(|c| c.email == RAIL)
        .unwrap()
        .password
        .clone()
}

/// A demo database with the analyst (centre staff: second factor required) enrolled in MFA:
/// the railway reporter's password, the analyst's password and recovery codes.
async fn demo_with_mfa(dir: &Path, clock: &Arc<FixedClock>) -> (String, String, Vec<String>) {
    let store = DataDir::new(dir).open().unwrap();
    let app = App {
        store: Arc::new(store),
        taxonomy: Arc::new(kizuki_dataset::default_taxonomy().unwrap()),
        clock: clock.clone() as Arc<dyn Clock>,
        rng: seeded_rng(7),
    };
    let out = kizuki_app::seed::seed_demo(&app).await.unwrap();
    let password = |email: &str| {
        out.credentials
            .iter()
            .find(|c| c.email == email)
            .unwrap()
            .password
            .clone()
    };
    let codes = enrol_mfa(&app, clock, ANALYST).await;
    (password(RAIL), password(ANALYST), codes)
}

/// Rows in the sessions table of the data dir's SQLite file.
fn session_rows(dir: &Path) -> i64 {
    let db = rusqlite::Connection::open(dir.join("kizuki.db")).unwrap();
    db.query_row("SELECT count(*) FROM sessions", [], |r| r.get(0))
        .unwrap()
}

fn to_login(r: &crate::harness::Resp) -> bool {
    r.status == 303
        && r.header("location")
            .is_some_and(|l| l.starts_with("/login"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_survives_a_restart_and_still_expires() {
    let d = TempDataDir::new();
    let clock = Arc::new(FixedClock::new(start_time()));
    let password = demo(&d.path(), &clock).await;

    let first = Running::start(&d.path(), clock.clone(), 7).await;
    // An anonymous visitor first: the first id this seed gives.
    let mut early = Client {
        base: first.base.clone(),
        cookie: None,
    };
    assert_eq!(early.get("/login").await.status, 200);
    let early_cookie = early.cookie.clone().unwrap();
    let mut c = Client {
        base: first.base.clone(),
        cookie: None,
    };
    c.login(RAIL, &password).await;
    let signed_in = c.cookie.clone().unwrap();
    let r = c.get("/reports/new").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let csrf = r.csrf();
    first.stop().await;

    // Same file, new process state; the same seed, so the new server's random ids start
    // where the first one's did (an id collision must be survived, not served).
    let second = Running::start(&d.path(), clock.clone(), 7).await;
    c.base = second.base.clone();
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
    let mut stranger = Client {
        base: second.base.clone(),
        cookie: Some(stranger_cookie.clone()),
    };
    assert!(to_login(&stranger.get("/reports").await));
    assert_eq!(stranger.cookie.as_deref(), Some(stranger_cookie.as_str()));
    early.base = second.base.clone();
    assert_eq!(early.get("/login").await.status, 200);
    assert_eq!(early.cookie.as_deref(), Some(early_cookie.as_str()));
    // The same seed gives the second server the first one's random bytes in the same order:
    // the first drew the early visitor's id, the instance secret's candidate and the login
    // page's id before the login; here the stranger's look at the secret and two new visitors
    // draw as many, so this login's new id is the one already signed in. The taken id is
    // skipped, not reused.
    let mut passer = Client {
        base: second.base.clone(),
        cookie: None,
    };
    assert_eq!(passer.get("/login").await.status, 200);
    let mut other = Client {
        base: second.base.clone(),
        cookie: None,
    };
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
    second.stop().await;
    clock.advance(chrono::Duration::minutes(31));
    let third = Running::start(&d.path(), clock.clone(), 9).await;
    c.base = third.base.clone();
    let r = c.get("/reports").await;
    assert!(to_login(&r), "idle session still valid: {}", r.status);
    // The expired row is gone, not just refused.
    third.stop().await;
    let db = rusqlite::Connection::open(d.path().join("kizuki.db")).unwrap();
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
    let d = TempDataDir::new();
    let clock = Arc::new(FixedClock::new(start_time()));
    let password = demo(&d.path(), &clock).await;
    let srv = Running::start(&d.path(), clock.clone(), 7).await;
    let mut c = Client {
        base: srv.base.clone(),
        cookie: None,
    };
    c.login(RAIL, &password).await;
    assert_eq!(c.get("/reports").await.status, 200);
    // The sessions table disappears under the running server.
    let db = rusqlite::Connection::open(d.path().join("kizuki.db")).unwrap();
    db.execute_batch("DROP TABLE sessions").unwrap();
    let r = c.get("/reports").await;
    assert_eq!(r.status, 500, "{}", r.body);
    assert!(!r.body.contains("sessions"), "cause shown: {}", r.body);
    assert!(
        !r.body.contains("reporter@"),
        "served as signed in: {}",
        r.body
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_visitors_are_not_stored_until_they_keep_something() {
    let d = TempDataDir::new();
    let clock = Arc::new(FixedClock::new(start_time()));
    let (rail_pw, analyst_pw, codes) = demo_with_mfa(&d.path(), &clock).await;

    // Node A: a flood of anonymous page views, with and without a cookie, writes nothing.
    let a = Running::start(&d.path(), clock.clone(), 7).await;
    let mut visitor = Client {
        base: a.base.clone(),
        cookie: None,
    };
    assert_eq!(visitor.get("/public").await.status, 200);
    let first_cookie = visitor.cookie.clone().expect("a cookie for a new visitor");
    for _ in 0..25 {
        let r = visitor.get("/public").await;
        assert_eq!(r.status, 200, "{}", r.body);
        let r = visitor.get("/login").await;
        assert_eq!(r.status, 200, "{}", r.body);
        let mut stranger = Client {
            base: a.base.clone(),
            cookie: None,
        };
        assert_eq!(stranger.get("/public").await.status, 200);
        assert_eq!(stranger.get("/login").await.status, 200);
        assert_ne!(stranger.cookie.as_deref(), Some(first_cookie.as_str()));
    }
    // The visitor kept one id throughout, though it is stored nowhere.
    assert_eq!(visitor.cookie.as_deref(), Some(first_cookie.as_str()));
    assert_eq!(session_rows(&d.path()), 0, "anonymous page views stored");
    let login_form = visitor.get("/login").await;
    let csrf = login_form.csrf();
    // Bound to the visitor's id: another visitor's token differs.
    let mut other = Client {
        base: a.base.clone(),
        cookie: None,
    };
    let other_csrf = other.get("/login").await.csrf();
    assert_ne!(csrf, other_csrf);
    a.stop().await;
    assert_eq!(session_rows(&d.path()), 0);

    // Node B (another process state and random seed, same database): A's login form posts.
    let b = Running::start(&d.path(), clock.clone(), 9).await;
    // A token that is not the visitor's own is refused, so the check is real.
    other.base = b.base.clone();
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
    visitor.base = b.base.clone();
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
    assert_eq!(session_rows(&d.path()), 1, "only the signed-in session");

    // An anonymous language switch is stored, and kept by the visitor's id.
    let mut reader = Client {
        base: b.base.clone(),
        cookie: None,
    };
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
    assert_eq!(session_rows(&d.path()), 2, "the language switch not stored");
    let r = reader.get("/public").await;
    assert!(r.body.contains("<html lang=\"en\">"), "language not kept");
    // Its forms still carry the token it had before it was stored.
    let csrf_en = r.csrf();

    // A login with a second factor: the password on B, stored halfway through.
    let mut staff = Client {
        base: b.base.clone(),
        cookie: None,
    };
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
    assert_eq!(session_rows(&d.path()), 3, "the pending login not stored");
    b.stop().await;

    // Node C: the language and the login halfway through survived; the second factor there.
    let c = Running::start(&d.path(), clock.clone(), 11).await;
    reader.base = c.base.clone();
    let r = reader.get("/public").await;
    assert!(r.body.contains("<html lang=\"en\">"), "language lost");
    let r = reader
        .post_raw(
            "/lang",
            &[("_csrf", &csrf_en), ("lang", "ja"), ("back", "/public")],
        )
        .await;
    assert_eq!(r.status, 303, "stored session's token refused: {}", r.body);
    staff.base = c.base.clone();
    let r = staff
        .post("/login/mfa", "/login/mfa", &[("code", &codes[0])])
        .await;
    assert_eq!(r.status, 303, "second factor refused: {}", r.body);
    assert_eq!(r.header("location"), Some("/reports"));
    let r = staff.get("/reports").await;
    assert_eq!(r.status, 200, "not signed in: {:?}", r.header("location"));
    // The pending session was replaced by the signed-in one.
    assert_eq!(session_rows(&d.path()), 3);
    c.stop().await;
}
