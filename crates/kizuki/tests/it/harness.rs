//! Test harness: fresh data dirs, running the built `kizuki` binary, and an in-process
//! server on port 0 over a fresh database.

use kizuki_app::{App, seeded_rng};
use kizuki_domain::clock::{Clock, FixedClock};
use kizuki_store_sqlite::datadir::DataDir;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

pub fn kizuki(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kizuki"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("KIZUKI_DATA_DIR")
        .env_remove("KIZUKI_ADDR")
        .env("KIZUKI_LOG", "warn")
        .output()
        .expect("run kizuki")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh, empty data dir that lives as long as the value.
pub struct TempDataDir {
    pub dir: tempfile::TempDir,
}

impl TempDataDir {
    pub fn new() -> Self {
        TempDataDir {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

/// A running server over a fresh demo database, with a controllable clock.
#[allow(
    dead_code,
    reason = "fields are for tests that drive the app and the clock"
)]
pub struct TestServer {
    pub base: String,
    pub app: App,
    pub clock: Arc<FixedClock>,
    pub credentials: Vec<kizuki_app::seed::IssuedCredential>,
    _dir: TempDataDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestServer {
    pub async fn start_demo() -> TestServer {
        let dir = TempDataDir::new();
        let store = DataDir::new(dir.path()).open().unwrap();
        let start = chrono::DateTime::parse_from_rfc3339("2026-11-27T09:00:00+09:00")
            .unwrap()
            .to_utc();
        let clock = Arc::new(FixedClock::new(start));
        let app = App {
            store: Arc::new(store),
            taxonomy: Arc::new(kizuki_dataset::default_taxonomy().unwrap()),
            clock: clock.clone() as Arc<dyn Clock>,
            rng: seeded_rng(7),
        };
        let outcome = kizuki_app::seed::seed_demo(&app).await.unwrap();
        // Security: centre staff must use a second factor; enrol them through the
        // service now and keep their recovery codes for logins.
        let mut codes = std::collections::HashMap::new();
        for c in &outcome.credentials {
            if kizuki_app::security::totp::mfa_required(c.role) {
                codes.insert(c.email.clone(), enrol_mfa(&app, &clock, &c.email).await);
            }
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let served = app.clone();
        // Search: an index in the data dir, following the change feed as in `serve`.
        let search = kizuki_search::SearchService::open(&dir.path(), app.store.clone()).unwrap();
        search.catch_up().await.unwrap();
        let follower = search.spawn_follower(std::time::Duration::from_millis(200));
        let opts = kizuki_web::WebOptions {
            search: Some(search),
            ..kizuki_web::WebOptions::default()
        };
        tokio::spawn(async move {
            kizuki_web::serve_with_options(
                served,
                listener,
                async {
                    let _ = rx.await;
                },
                opts,
            )
            .await
            .unwrap();
            follower.abort();
        });
        if let Ok(mut m) = MFA.lock() {
            m.insert(base.clone(), (app.clone(), codes));
        }
        TestServer {
            base,
            app,
            clock,
            credentials: outcome.credentials,
            _dir: dir,
            shutdown: Some(tx),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Security: per server (by base URL), the app and each enrolled user's unused
/// recovery codes, so both the HTTP client and the browser tests can pass the second step.
type MfaCodes = std::collections::HashMap<String, Vec<String>>;
static MFA: std::sync::Mutex<std::collections::BTreeMap<String, (App, MfaCodes)>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// Enrols `email` in TOTP through the application service (computing the first code from the
/// fixed clock) and returns its recovery codes.
pub async fn enrol_mfa(app: &App, clock: &FixedClock, email: &str) -> Vec<String> {
    let e = kizuki_domain::user::Email::parse(email).unwrap();
    let user = app.store.credentials(&e).await.unwrap().unwrap().user;
    let en = kizuki_app::security::mfa::begin(app, &user).await.unwrap();
    let secret = kizuki_app::security::totp::TotpSecret::from_base32(&en.secret_base32).unwrap();
    let code = secret.code_at(clock.now());
    kizuki_app::security::mfa::confirm(app, &user, &code)
        .await
        .unwrap()
        .unwrap()
}

/// An unused recovery code of `email` on the server at `base`; `None` if the user has no
/// second factor. New codes are issued when the ten run out.
pub async fn mfa_code(base: &str, email: &str) -> Option<String> {
    let (app, next) = {
        let mut m = MFA.lock().ok()?;
        let (app, codes) = m.get_mut(base)?;
        let list = codes.get_mut(email)?;
        (app.clone(), list.pop())
    };
    if let Some(c) = next {
        return Some(c);
    }
    let e = kizuki_domain::user::Email::parse(email).ok()?;
    let user = app.store.credentials(&e).await.ok()??.user;
    let mut fresh = kizuki_app::security::mfa::new_recovery_codes(&app, user.id)
        .await
        .ok()?;
    let c = fresh.pop();
    if let Ok(mut m) = MFA.lock()
        && let Some((_, codes)) = m.get_mut(base)
    {
        codes.insert(email.to_owned(), fresh);
    }
    c
}

/// A plain HTTP/1.1 GET over a TCP socket, so the harness needs no HTTP client crate.
pub async fn get(url: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// One HTTP answer.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The CSRF token of the first form on the page.
    pub fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"_csrf\" value=\"")
            .unwrap_or_else(|| panic!("no CSRF field in: {}", self.body));
        let rest = &self.body[at + "name=\"_csrf\" value=\"".len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    }
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = body.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&body[..eol]);
        let size =
            usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap_or(0);
        body = &body[eol + 2..];
        if size == 0 || body.len() < size {
            break;
        }
        out.extend_from_slice(&body[..size]);
        body = &body[(size + 2).min(body.len())..];
    }
    out
}

/// Sends one request over a fresh connection and reads the whole answer.
pub async fn request(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> Resp {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = base.strip_prefix("http://").unwrap();
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    // Read until the body is complete: some servers (chromedriver) keep the connection
    // open despite `Connection: close`, so waiting for end-of-stream could hang.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let (split, headers, status, chunked) = loop {
        let n = s.read(&mut chunk).await.unwrap();
        buf.extend_from_slice(&chunk[..n]);
        if let Some(split) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..split]).into_owned();
            let mut lines = head.lines();
            let status: u16 = lines
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            let headers: Vec<(String, String)> = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .collect();
            let chunked = headers
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
            break (split, headers, status, chunked);
        }
        assert!(n > 0, "connection closed before the headers");
    };
    let length: Option<usize> = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok());
    loop {
        let have = buf.len() - (split + 4);
        let done = match length {
            Some(len) => have >= len,
            None if chunked => buf.ends_with(b"0\r\n\r\n"),
            None => false,
        };
        if done {
            break;
        }
        let n = s.read(&mut chunk).await.unwrap();
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let raw = &buf[split + 4..];
    let bytes = if chunked { dechunk(raw) } else { raw.to_vec() };
    Resp {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// A browser-like client: keeps the session cookie, follows nothing by itself.
pub struct Client {
    pub base: String,
    pub cookie: Option<String>,
}

pub fn form_body(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Client {
    pub fn new(srv: &TestServer) -> Client {
        Client {
            base: srv.base.clone(),
            cookie: None,
        }
    }

    fn remember(&mut self, r: &Resp) {
        for (k, v) in &r.headers {
            if k.eq_ignore_ascii_case("set-cookie")
                && let Some(c) = v.split(';').next()
                && c.starts_with("kizuki_session=")
            {
                self.cookie = Some(c.to_owned());
            }
        }
    }

    fn cookie_header(&self) -> Vec<(&'static str, String)> {
        self.cookie.iter().map(|c| ("Cookie", c.clone())).collect()
    }

    pub async fn get(&mut self, path: &str) -> Resp {
        let r = request(&self.base, "GET", path, &self.cookie_header(), b"").await;
        self.remember(&r);
        r
    }

    /// Posts a form as is (the caller supplies `_csrf`, or deliberately leaves it out).
    pub async fn post_raw(&mut self, path: &str, pairs: &[(&str, &str)]) -> Resp {
        let mut h = self.cookie_header();
        h.push((
            "Content-Type",
            "application/x-www-form-urlencoded".to_owned(),
        ));
        let r = request(&self.base, "POST", path, &h, form_body(pairs).as_bytes()).await;
        self.remember(&r);
        r
    }

    /// Loads `form_page` for its CSRF token, then posts `pairs` with it to `path`.
    pub async fn post(&mut self, form_page: &str, path: &str, pairs: &[(&str, &str)]) -> Resp {
        let csrf = self.get(form_page).await.csrf();
        let mut all: Vec<(&str, &str)> = vec![("_csrf", csrf.as_str())];
        all.extend_from_slice(pairs);
        self.post_raw(path, &all).await
    }

    /// Signs in; panics unless the server accepts.
    pub async fn login(&mut self, email: &str, password: &str) {
        let r = self
            .post(
                "/login",
                "/login",
                &[("email", email), ("password", password), ("next", "/")],
            )
            .await;
        assert_eq!(r.status, 303, "login failed: {}", r.body);
        // Security: the second step for users with a second factor.
        if r.header("location")
            .is_some_and(|l| l.starts_with("/login/mfa"))
        {
            let code = mfa_code(&self.base, email)
                .await
                .unwrap_or_else(|| panic!("no MFA code for {email}"));
            let r = self
                .post("/login/mfa", "/login/mfa", &[("code", &code)])
                .await;
            assert_eq!(r.status, 303, "second factor refused: {}", r.body);
        }
    }
}

impl TestServer {
    pub fn password(&self, email: &str) -> String {
        self.credentials
            .iter()
            .find(|c| c.email == email)
            .unwrap_or_else(|| panic!("no demo login {email}"))
            .password
            .clone()
    }

    /// A signed-in client for a demo user.
    pub async fn client(&self, email: &str) -> Client {
        let mut c = Client::new(self);
        c.login(email, &self.password(email)).await;
        c
    }

    /// A bearer token for a demo user, made through the application service.
    pub async fn token(&self, email: &str) -> String {
        kizuki_app::security::tokens::create(&self.app, email, "test")
            .await
            .unwrap()
            .1
    }

    /// A JSON API call with a bearer token.
    pub async fn api(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        extra: &[(&str, String)],
        body: Option<&serde_json::Value>,
    ) -> Resp {
        let mut h: Vec<(&str, String)> = extra.to_vec();
        if let Some(t) = token {
            h.push(("Authorization", format!("Bearer {t}")));
        }
        let bytes = body.map(|b| b.to_string()).unwrap_or_default();
        if body.is_some() {
            h.push(("Content-Type", "application/json".to_owned()));
        }
        request(
            &self.base,
            method,
            &format!("/api/v1{path}"),
            &h,
            bytes.as_bytes(),
        )
        .await
    }
}

pub const ANALYST: &str = "analyst@centre.example.jp";
pub const EDITOR: &str = "editor@centre.example.jp";
pub const RAIL: &str = "reporter@railway.example.jp";
pub const FINANCE: &str = "reporter@finance.example.jp";
pub const MINISTRY: &str = "ministry@ministry.example.jp";
