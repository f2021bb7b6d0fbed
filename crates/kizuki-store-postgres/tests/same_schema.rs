//! Both backends' migrations make the same tables with the same columns, so a record kept by
//! one fits the other and the conformance suite compares like with like. Types differ by
//! design (TEXT timestamps in SQLite, TIMESTAMPTZ here); names may not. Needs
//! `KIZUKI_TEST_POSTGRES_URL`; without it the test says it skipped.
#![allow(
    clippy::disallowed_methods,
    reason = "the test environment says which database server to use"
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "helpers of tests stop at the line that failed, as the tests do"
)]

use std::collections::{BTreeMap, BTreeSet};

type Columns = BTreeMap<String, BTreeSet<String>>;

/// Bookkeeping of each backend's migration runner, not records.
const RUNNER_TABLES: &[&str] = &["kizuki_schema"];

fn sqlite_columns() -> Columns {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.db");
    drop(kizuki_store_sqlite::SqliteStore::open(&path).unwrap());
    let c = rusqlite::Connection::open(&path).unwrap();
    let mut tables = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap();
    let names: Vec<String> = tables
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut out = Columns::new();
    for t in names {
        let mut cols = c.prepare("SELECT name FROM pragma_table_info(?1)").unwrap();
        let set: BTreeSet<String> = cols
            .query_map([&t], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        out.insert(t, set);
    }
    out
}

async fn postgres_columns(url: &str, schema: &str) -> Columns {
    kizuki_store_postgres::PgStore::connect_in_schema(url, Some(schema))
        .await
        .unwrap_or_else(|e| panic!("cannot open PostgreSQL at {url}: {e}"));
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let rows = client
        .query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = $1",
            &[&schema],
        )
        .await
        .unwrap();
    let mut out = Columns::new();
    for r in rows {
        let table: String = r.get(0);
        if RUNNER_TABLES.contains(&table.as_str()) {
            continue;
        }
        out.entry(table).or_default().insert(r.get(1));
    }
    out
}

#[tokio::test]
async fn both_backends_make_the_same_tables_and_columns() {
    let url = match std::env::var("KIZUKI_TEST_POSTGRES_URL") {
        Ok(u) if !u.is_empty() => u,
        _ => {
            assert!(
                std::env::var("CI").is_err(),
                "CI must set KIZUKI_TEST_POSTGRES_URL: the schema comparison may not skip there"
            );
            eprintln!("skipped: KIZUKI_TEST_POSTGRES_URL not set, schemas not compared");
            return;
        }
    };
    let schema = format!("kz_schema_{:016x}", rand::random::<u64>());
    let pg = postgres_columns(&url, &schema).await;
    kizuki_store_postgres::PgStore::drop_schema(&url, &schema)
        .await
        .unwrap();
    let lite = sqlite_columns();
    assert!(!lite.is_empty() && lite.contains_key("reports"), "{lite:?}");
    let only = |a: &Columns, b: &Columns| -> Vec<String> {
        a.iter()
            .flat_map(|(t, cols)| {
                cols.iter()
                    .filter(move |c| !b.get(t).is_some_and(|bc| bc.contains(*c)))
                    .map(move |c| format!("{t}.{c}"))
            })
            .collect()
    };
    let only_sqlite = only(&lite, &pg);
    let only_pg = only(&pg, &lite);
    assert!(
        only_sqlite.is_empty() && only_pg.is_empty(),
        "the migrations differ.\n  only in SQLite: {only_sqlite:?}\n  only in PostgreSQL: {only_pg:?}"
    );
}
