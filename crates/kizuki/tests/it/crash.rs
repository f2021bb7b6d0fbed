//! Crash safety: the real server is killed with SIGKILL at arbitrary moments while clients
//! file reports; after each restart every report that got a 2xx answer must be there and
//! searchable (the index catches up from its last commit), and `kizuki check` must be clean
//! at the end. Slow, so `#[ignore]`d: `.ci/run` runs it with
//! `cargo test --test it -- --ignored crash`. `KIZUKI_CRASH_CYCLES` sets the cycle count
//! (default 50).

use crate::{bin, kizuki};
use kizuki_testkit::{Socket, TempDataDir, stderr, stdout};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One API call with a bearer token; `None` when the server is not there (killed).
pub(crate) async fn exchange(
    http: &Socket,
    method: &str,
    path: &str,
    token: &str,
    body: &str,
) -> Option<(u16, String)> {
    let h = [
        ("authorization", format!("Bearer {token}")),
        ("content-type", "application/json".to_owned()),
    ];
    let r = http
        .try_send(method, path, &h, body.as_bytes())
        .await
        .ok()?;
    Some((r.status, r.body))
}

/// The server under test: eight clients filing as fast as they can are a flood to the fair
/// limits, and this test is about durability, so the limits are off (tests/it/limits.rs tries
/// them).
fn crash_server() -> kizuki_testkit::Kizuki {
    bin().env("KIZUKI_LIMITS_ENABLED", "false")
}

/// Waits (bounded) until a search for `word` finds report `id`: the index catches up with
/// the database after a restart without a rebuild.
async fn assert_searchable(http: &Socket, token: &str, id: i64, word: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let path = format!("/api/v1/search?kind=report&q={word}");
    loop {
        if let Some((200, body)) = exchange(http, "GET", &path, token, "").await {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            if v["hits"]
                .as_array()
                .is_some_and(|h| h.iter().any(|h| h["id"] == id))
            {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "acknowledged report {id} ({word}) is not searchable after restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The one word of a crash-test title that names it (`c3x1x7`).
fn word_of(title: &str) -> &str {
    title.rsplit(' ').next().unwrap_or(title)
}

/// A deterministic pseudo-random sequence (no dependency needed for a kill schedule).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "slow: run by .ci/run"]
async fn crash_sigkill_loses_no_acknowledged_report() {
    let cycles = kizuki_testkit::env::crash_cycles();
    let d = TempDataDir::new();
    let o = kizuki(&d.path(), &["init"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = kizuki(
        &d.path(),
        &["token", "create", "--email", "reporter@railway.example.jp"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let token = stdout(&o).trim().to_owned();
    let mut rng = Lcg(0x6b697a756b69);
    let mut acknowledged: Vec<(i64, String)> = Vec::new();
    let mut total_acked = 0usize;

    for cycle in 0..cycles {
        // A new port each time, as the restarted server chooses and prints it.
        let mut server = crash_server().serve(&d.path()).await;
        let http = server.http().clone();

        // Everything acknowledged before the last kill must have survived it.
        for (id, title) in acknowledged.drain(..) {
            let (status, body) =
                exchange(&http, "GET", &format!("/api/v1/reports/{id}"), &token, "")
                    .await
                    .expect("server answers after restart");
            assert_eq!(status, 200, "acknowledged report {id} lost after SIGKILL");
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["title"], title, "report {id} changed");
            assert_searchable(&http, &token, id, word_of(&title)).await;
        }

        let acked = Arc::new(Mutex::new(Vec::new()));
        let mut clients = Vec::new();
        for client in 0..8 {
            let acked = acked.clone();
            let http = http.clone();
            let token = token.clone();
            clients.push(tokio::spawn(async move {
                for n in 0.. {
                    let title = format!("crash c{cycle}x{client}x{n}");
                    let body = serde_json::json!({
                        "title": title,
                        "sector": "railway",
                        "event_type": "unavailability",
                        "summary": "停止試験の報告",
                    })
                    .to_string();
                    match exchange(&http, "POST", "/api/v1/reports", &token, &body).await {
                        Some((201, resp)) => {
                            let v: serde_json::Value = serde_json::from_str(&resp).unwrap();
                            let id = v["id"].as_i64().unwrap();
                            acked.lock().unwrap().push((id, title));
                        }
                        Some((status, resp)) => panic!("unexpected {status}: {resp}"),
                        // Killed mid-request: no acknowledgement, nothing promised.
                        None => return,
                    }
                }
            }));
        }
        // Kill at a random moment after the first acknowledgement, so that every cycle
        // has something to lose even on a slow or loaded machine.
        let first = Instant::now() + Duration::from_secs(20);
        while acked.lock().unwrap().is_empty() && Instant::now() < first {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.next(300))).await;
        server.kill();
        for c in clients {
            c.await.unwrap();
        }
        let got = std::mem::take(&mut *acked.lock().unwrap());
        total_acked += got.len();
        acknowledged = got;
    }
    // The last cycle's acknowledgements, after one more restart.
    let mut server = crash_server().serve(&d.path()).await;
    let http = server.http().clone();
    for (id, title) in acknowledged.drain(..) {
        let (status, body) = exchange(&http, "GET", &format!("/api/v1/reports/{id}"), &token, "")
            .await
            .unwrap();
        assert_eq!(status, 200, "acknowledged report {id} lost");
        assert!(body.contains(&title));
        assert_searchable(&http, &token, id, word_of(&title)).await;
    }
    server.kill();
    let o = kizuki(&d.path(), &["check"]);
    assert!(
        o.status.success(),
        "check after {cycles} crashes: {}",
        stderr(&o)
    );
    eprintln!(
        "crash safety: {cycles} SIGKILL cycles, {total_acked} acknowledged reports, none lost, all searchable"
    );
    assert!(total_acked > 0, "the clients never got a report through");
}
