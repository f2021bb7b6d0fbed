//! Both backends' migrations make the same tables with the same columns, so a record kept by
//! one fits the other and the conformance suite compares like with like. Types differ by
//! design (TEXT timestamps in SQLite, TIMESTAMPTZ here); names may not. Needs
//! `KIZUKI_TEST_POSTGRES_URL`; without it the test says it skipped.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "helpers of tests stop at the line that failed, as the tests do"
)]

use std::collections::{BTreeMap, BTreeSet};

type Columns = BTreeMap<String, BTreeSet<String>>;

/// Bookkeeping of each backend's migration runner, not records.
const RUNNER_TABLES: &[&str] = &["kizuki_schema"];

/// PostgreSQL's writers run concurrently and leave their changes in `changes_pending` until a
/// reader of the feed numbers them; SQLite has one writer and numbers each change as it commits.
const POSTGRES_ONLY: &[&str] = &["changes_pending"];

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

async fn postgres_columns(schema: &kizuki_testkit::pg::PgSchema) -> Columns {
    drop(schema.store().await);
    let client = schema.raw_client().await;
    let rows = client
        .query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = $1",
            &[&schema.name()],
        )
        .await
        .unwrap();
    let mut out = Columns::new();
    for r in rows {
        let table: String = r.get(0);
        if RUNNER_TABLES.contains(&table.as_str()) || POSTGRES_ONLY.contains(&table.as_str()) {
            continue;
        }
        out.entry(table).or_default().insert(r.get(1));
    }
    out
}

#[tokio::test]
async fn both_backends_make_the_same_tables_and_columns() {
    let Some(schema) = kizuki_testkit::pg::PgSchema::fresh() else {
        return;
    };
    let pg = postgres_columns(&schema).await;
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
