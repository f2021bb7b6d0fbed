//! Test harness: fresh data dirs, running the built `kizuki` binary, and an in-process
//! server on port 0 over a fresh database.

use kizuki_app::datadir::DataDir;
use kizuki_app::{App, seeded_rng};
use kizuki_domain::clock::{Clock, FixedClock};
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
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let served = app.clone();
        tokio::spawn(async move {
            kizuki_web::serve(served, listener, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
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
