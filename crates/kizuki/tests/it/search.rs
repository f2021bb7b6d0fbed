//! Search through the real `kizuki` command: an acknowledged write is searchable after a
//! restart (the index catches up from the change feed instead of rebuilding), `--as` shows
//! only what that user may see, and CSV import reports errors by line and field and stores
//! phishing URLs as inert text.

use crate::kizuki;
use kizuki_domain::report::{ReportInput, StageKind};
use kizuki_store::prelude::*;
use kizuki_store::{NewReport, NewStage};
use kizuki_testkit::{TempDataDir, stderr, stdout};
use std::path::{Path, PathBuf};

fn json(o: &std::process::Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", stderr(o));
    serde_json::from_str(&stdout(o)).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

fn total(v: &serde_json::Value) -> u64 {
    v["results"]["total"].as_u64().unwrap()
}

/// The change-feed position committed in the index directory.
fn index_seq(data: &Path) -> i64 {
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("index/meta.json")).unwrap())
            .unwrap();
    let payload: serde_json::Value =
        serde_json::from_str(meta["payload"].as_str().unwrap()).unwrap();
    payload["seq"].as_i64().unwrap()
}

fn segment_files(data: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(data.join("index"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".store"))
        .collect();
    v.sort();
    v
}

/// Files an AMBER report for demo-railway straight into the database, as an acknowledged
/// write that no search index saw happen.
#[allow(
    clippy::disallowed_methods,
    reason = "the `kizuki` commands that search it run on the real clock"
)]
async fn file_amber_report(data: &Path, title: &str, summary: &str) {
    let store = kizuki_store_sqlite::SqliteStore::open(&data.join("kizuki.db")).unwrap();
    let tx = kizuki_dataset::default_taxonomy().unwrap();
    let org = store.org_by_key("demo-railway").await.unwrap().unwrap();
    let details = ReportInput {
        title: title.into(),
        sector: "railway".into(),
        event_type: "unavailability".into(),
        summary: summary.into(),
        tlp: "amber".into(),
        ..Default::default()
    }
    .parse(&tx)
    .unwrap();
    store
        .create_report(NewReport {
            org_id: org.id,
            details,
            first: NewStage {
                kind: StageKind::First,
                at: chrono::Utc::now(),
                text: summary.into(),
                author: None,
            },
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn an_acknowledged_write_is_searchable_after_a_restart() {
    let d = TempDataDir::new();
    assert!(kizuki(&d.path(), &["init"]).status.success());
    let v = json(&kizuki(
        &d.path(),
        &["search", "改元", "kind:case", "--json"],
    ));
    assert!(total(&v) >= 1);
    // An exclusion is a query word, not an option, wherever it stands.
    let without = json(&kizuki(
        &d.path(),
        &["search", "改元", "-システム", "kind:case", "--json"],
    ));
    assert!(total(&without) < total(&v), "{without}");
    assert!(total(&v) >= 1);
    assert!(
        v["results"]["hits"][0]["title"]["text"]
            .as_str()
            .unwrap()
            .contains("改元"),
        "{v}"
    );
    let seq_before = index_seq(&d.path());
    let segments_before = segment_files(&d.path());

    file_amber_report(
        &d.path(),
        "閏秒挿入による改札機の停止",
        "閏秒の挿入処理で自動改札機が停止した。",
    )
    .await;

    // A new process opens the index, catches up from its committed position and finds it.
    let v = json(&kizuki(&d.path(), &["search", "閏秒", "--json"]));
    assert_eq!(total(&v), 1, "{v}");
    assert!(index_seq(&d.path()) > seq_before);
    let segments_after = segment_files(&d.path());
    assert!(
        segments_before.iter().all(|s| segments_after.contains(s)),
        "the old segments are kept: caught up, not rebuilt ({segments_before:?} → {segments_after:?})"
    );

    // Access: the railway reporter sees their organisation's AMBER report, the finance
    // reporter sees nothing of it, not even in the counts.
    let own = json(&kizuki(
        &d.path(),
        &[
            "search",
            "閏秒",
            "--json",
            "--as",
            "reporter@railway.example.jp",
        ],
    ));
    assert_eq!(total(&own), 1);
    let other = json(&kizuki(
        &d.path(),
        &[
            "search",
            "閏秒",
            "--json",
            "--as",
            "reporter@finance.example.jp",
        ],
    ));
    assert_eq!(total(&other), 0, "{other}");
    for f in other["results"]["facets"].as_array().unwrap() {
        assert!(f["values"].as_array().unwrap().is_empty(), "{f}");
    }
    // Human output names the hits.
    let o = kizuki(&d.path(), &["search", "閏秒"]);
    assert!(stdout(&o).contains("【閏秒】"), "{}", stdout(&o));

    // A full rebuild gives the same answer.
    let o = kizuki(&d.path(), &["reindex"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("reindexed"), "{}", stdout(&o));
    assert_eq!(
        total(&json(&kizuki(&d.path(), &["search", "閏秒", "--json"]))),
        1
    );
}

fn mapping() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../kizuki-app/mappings/jpcert-phishurl.toml")
}

#[test]
fn csv_import_names_line_and_field_and_keeps_urls_inert() {
    let d = TempDataDir::new();
    assert!(kizuki(&d.path(), &["init", "--no-demo"]).status.success());
    let csv = d.dir.path().join("phish.csv");
    std::fs::write(
        &csv,
        "date,URL,description\n\
         2019/01/04 10:12:00,http://www.account.nthl.example.jp/gb-en/signin/signin.php,Netflix\n\
         2019/02/30 10:24:00,https://service-client-netflix.example.jp/,Netflix\n",
    )
    .unwrap();
    let m = mapping();
    let o = kizuki(
        &d.path(),
        &[
            "import",
            "csv",
            csv.to_str().unwrap(),
            "--mapping",
            m.to_str().unwrap(),
        ],
    );
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("phish.csv:3: field reported_at (column \"date\")"),
        "{err}"
    );
    assert!(err.contains("nothing was written"), "{err}");

    let o = kizuki(
        &d.path(),
        &[
            "import",
            "csv",
            csv.to_str().unwrap(),
            "--mapping",
            m.to_str().unwrap(),
            "--skip-invalid",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("imported 1 reports"), "{}", stdout(&o));

    // Found by the host's words; never given back as a live URL.
    let o = kizuki(&d.path(), &["search", "account.nthl.example.jp", "--json"]);
    let v = json(&o);
    assert_eq!(total(&v), 1, "{v}");
    let text = stdout(&o);
    assert!(!text.contains("http://"), "{text}");
    assert!(
        text.contains("hxxp://www[.]account[.]nthl[.]example[.]jp"),
        "{text}"
    );
}

#[test]
fn jpcert_phishing_month_imports_when_the_data_is_there() {
    let month = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/jpcert-phishurl/2019/201901.csv");
    if !month.exists() {
        eprintln!(
            "SKIPPED jpcert_phishing_month_imports_when_the_data_is_there: {} is absent",
            month.display()
        );
        return;
    }
    let d = TempDataDir::new();
    assert!(kizuki(&d.path(), &["init", "--no-demo"]).status.success());
    let m = mapping();
    let o = kizuki(
        &d.path(),
        &[
            "import",
            "csv",
            month.to_str().unwrap(),
            "--mapping",
            m.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&kizuki(
        &d.path(),
        &["search", "netflix", "--json", "--limit", "3"],
    ));
    assert!(total(&v) > 0, "{v}");
    assert!(!stdout(&kizuki(&d.path(), &["search", "netflix"])).contains("http"));
}

#[test]
fn generated_corpora_are_deterministic() {
    let counts: Vec<u64> = (0..2)
        .map(|_| {
            let d = TempDataDir::new();
            assert!(kizuki(&d.path(), &["init", "--no-demo"]).status.success());
            let o = kizuki(&d.path(), &["gen", "--reports", "60", "--seed", "5"]);
            assert!(o.status.success(), "{}", stderr(&o));
            total(&json(&kizuki(&d.path(), &["search", "システム", "--json"])))
        })
        .collect();
    assert!(counts[0] > 0);
    assert_eq!(counts[0], counts[1]);
}
