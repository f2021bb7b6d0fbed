//! The CSV import of `kizuki import csv` without building the whole `kizuki` binary, for
//! timing it: reads and checks every row, then writes the reports into a SQLite store.
//!
//! `cargo run --release -p kizuki-search --example import_csv -- DB_FILE MAPPING CSV_OR_DIR…`

use kizuki_search::csv_import::{Mapping, csv_files, prepare, write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [db, mapping, inputs @ ..] = args.as_slice() else {
        return Err("usage: import_csv DB_FILE MAPPING CSV_OR_DIR…".into());
    };
    let store: kizuki_store::DynStore =
        Arc::new(kizuki_store_sqlite::SqliteStore::open(&PathBuf::from(db))?);
    let tx = kizuki_dataset::default_taxonomy()?;
    let m = Mapping::load(&PathBuf::from(mapping))?;
    let files = csv_files(&inputs.iter().map(PathBuf::from).collect::<Vec<_>>())?;
    let t = Instant::now();
    let p = prepare(&files, &m, &tx, &mut |_| {})?;
    let checked = t.elapsed();
    for e in p.errors.iter().take(10) {
        eprintln!("{e}");
    }
    let (rows, errors) = (p.rows, p.errors.len());
    let s = write(&store, &tx, &m, p, &mut |_| {}).await?;
    println!(
        "{} files, {rows} rows ({errors} with errors, skipped): checked in {:.1} s, {} reports written in {:.1} s in all",
        s.files,
        checked.as_secs_f64(),
        s.written,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
