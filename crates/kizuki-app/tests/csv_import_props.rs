//! Property tests for the CSV import and its column mapping, a parser of outside input that
//! must never panic: arbitrary rows and arbitrary file text never panic
//! `imports::csv::prepare`; each bad row is reported once per problem with its file, its
//! 1-based line (multi-line quoted cells included) and the report field; good rows become
//! reports and bad ones do not.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "helpers of tests stop at the line that failed, as the tests do"
)]

use kizuki_app::AppError;
use kizuki_app::imports::csv::{Mapping, Prepared, RowError, defang, prepare};
use kizuki_domain::report::MAX_TITLE;
use kizuki_domain::taxonomy::Taxonomy;
use proptest::prelude::*;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::OnceLock;

static TAXONOMY: OnceLock<Taxonomy> = OnceLock::new();

fn taxonomy() -> &'static Taxonomy {
    TAXONOMY.get_or_init(|| kizuki_dataset::default_taxonomy().expect("the shipped taxonomy"))
}

fn mapping(title: &str, summary: &str) -> Mapping {
    let text = format!(
        r#"
[organisation]
key = "props"

[report]
sector = "telecom"
event_type = "precursor"
tlp = "clear"
severity = 0

[columns]
reported_at = {{ column = "date", format = "%Y/%m/%d %H:%M:%S" }}
title = {title:?}
summary = {summary:?}
"#
    );
    toml::from_str(&text).expect("test mapping")
}

/// What a generated row is, so the expected outcome is known without the importer.
#[derive(Debug, Clone)]
struct Row {
    date: String,
    date_ok: bool,
    description: String,
    url: String,
}

fn date_cell() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        3 => (2000i32..2030, 1u32..=12, 1u32..=28, 0u32..24, 0u32..60)
            .prop_map(|(y, m, d, h, mi)| (format!("{y}/{m:02}/{d:02} {h:02}:{mi:02}:00"), true)),
        // Midnight from a date-only value, surrounding spaces trimmed.
        1 => (2000i32..2030, 1u32..=12, 1u32..=28)
            .prop_map(|(y, m, d)| (format!(" {y}/{m:02}/{d:02} 00:00:00 "), true)),
        1 => prop_oneof![
            Just(String::new()),
            Just("2019/02/30 10:00:00".to_owned()),
            Just("2019-05-01 10:00:00".to_owned()),
            Just("令和元年5月1日".to_owned()),
            "[0-9/: ]{0,12}".prop_filter("not a valid date", |s| {
                chrono::NaiveDateTime::parse_from_str(s.trim(), "%Y/%m/%d %H:%M:%S").is_err()
            }),
        ]
        .prop_map(|s| (s, false)),
    ]
}

/// Cells with the characters that break naive CSV handling: commas, quotes, newlines.
fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9あ-んア-ン詐欺銀行 ,\"\n.:/-]{1,30}",
        1 => Just(String::new()),
        1 => Just("  ".to_owned()),
        1 => (MAX_TITLE - 1..MAX_TITLE + 3).prop_map(|n| "長".repeat(n)),
    ]
}

fn row() -> impl Strategy<Value = Row> {
    (date_cell(), cell(), cell()).prop_map(|((date, date_ok), description, url)| Row {
        date,
        date_ok,
        description,
        url,
    })
}

/// Writes `rows` (header `date,description,URL`) and returns the file and each row's line.
fn write_csv(dir: &tempfile::TempDir, rows: &[Row]) -> (PathBuf, Vec<u64>) {
    let mut text = String::from("date,description,URL\n");
    let mut lines = Vec::new();
    for r in rows {
        lines.push(1 + text.matches('\n').count() as u64);
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record([&r.date, &r.description, &r.url]).unwrap();
        text.push_str(&String::from_utf8(w.into_inner().unwrap()).unwrap());
    }
    let path = dir.path().join("rows.csv");
    std::fs::write(&path, text).unwrap();
    (path, lines)
}

fn run(path: &PathBuf, m: &Mapping) -> Result<Prepared, AppError> {
    prepare(std::slice::from_ref(path), m, taxonomy(), &mut |_| {})
}

/// The problems a row must be reported with, as (field, column).
fn expected_errors(r: &Row) -> Vec<(&'static str, Option<&'static str>)> {
    if !r.date_ok {
        return vec![("reported_at", Some("date"))];
    }
    let mut out = Vec::new();
    let title = r.description.trim();
    if title.is_empty() || title.chars().count() > MAX_TITLE {
        out.push(("title", Some("description")));
    }
    // The summary template is "{description} {URL:defang}": blank only when both are.
    if r.description.trim().is_empty() && r.url.trim().is_empty() {
        out.push(("summary", Some("description")));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Well-formed CSV with arbitrary cells: every row is either a report or reported with
    /// exactly its problems, each naming the file, the row's first line, the report field and
    /// the column; the rows count is right; good rows keep their text.
    #[test]
    fn rows_become_reports_or_located_errors(rows in prop::collection::vec(row(), 0..12)) {
        let dir = tempfile::tempdir().unwrap();
        let (path, lines) = write_csv(&dir, &rows);
        let m = mapping("{description}", "{description} {URL:defang}");
        let p = run(&path, &m).unwrap();
        prop_assert_eq!(p.rows, rows.len() as u64);
        prop_assert_eq!(p.files, 1);
        let file = path.display().to_string();
        let mut good = Vec::new();
        for (r, line) in rows.iter().zip(&lines) {
            let want = expected_errors(r);
            let got: Vec<(&str, Option<&str>)> = p
                .errors
                .iter()
                .filter(|e| e.line == *line)
                .map(|e| (e.field.as_str(), e.column.as_deref()))
                .collect();
            prop_assert_eq!(&got, &want, "line {}: {:?}", line, r);
            if want.is_empty() {
                good.push(r);
            }
        }
        for e in &p.errors {
            prop_assert_eq!(&e.file, &file);
            prop_assert!(lines.contains(&e.line), "error on a line no row starts at: {e}");
            prop_assert!(!e.message.is_empty());
            let shown = e.to_string();
            prop_assert!(shown.starts_with(&format!("{file}:{}: field {}", e.line, e.field)), "{shown}");
        }
        prop_assert_eq!(p.reports.len(), good.len());
        for (rep, r) in p.reports.iter().zip(good) {
            prop_assert_eq!(&rep.details.title, r.description.trim());
            let summary = format!("{} {}", r.description.trim(), defang(r.url.trim()));
            prop_assert_eq!(&rep.details.summary, summary.trim());
        }
    }

    /// Rows with fewer cells than the header: the missing column is reported against the
    /// field that uses it, never read as empty or out of bounds.
    #[test]
    fn short_rows_name_the_missing_column(n in 1usize..6, keep_description in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("date,description,URL\n");
        for i in 0..n {
            if keep_description {
                text.push_str(&format!("2019/05/0{} 10:00:00,説明{i}\n", i % 9 + 1));
            } else {
                text.push_str(&format!("2019/05/0{} 10:00:00\n", i % 9 + 1));
            }
        }
        let path = dir.path().join("short.csv");
        std::fs::write(&path, text).unwrap();
        let p = run(&path, &mapping("{description}", "{description} {URL:defang}")).unwrap();
        prop_assert!(p.reports.is_empty());
        let lines: BTreeSet<u64> = p.errors.iter().map(|e| e.line).collect();
        prop_assert_eq!(lines, (2..2 + n as u64).collect::<BTreeSet<u64>>());
        let missing = if keep_description { "URL" } else { "description" };
        for e in &p.errors {
            prop_assert_eq!(e.column.as_deref(), Some(missing), "{}", e);
        }
    }

    /// Arbitrary file text (broken quoting, stray delimiters, blank lines, BOM): an answer,
    /// never a panic. A refusal of the whole file names the file and line 1 (the header);
    /// otherwise every problem names a line of the file and a field.
    #[test]
    fn arbitrary_text_never_panics(
        body in prop::collection::vec("[a-z0-9/:, \"\u{feff}\n\r亜]{0,25}", 0..8),
        with_header in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let header = if with_header { "date,description,URL\n" } else { "" };
        let text = format!("{header}{}", body.join("\n"));
        let path = dir.path().join("any.csv");
        std::fs::write(&path, &text).unwrap();
        let file = path.display().to_string();
        // The csv reader ends a record at `\n`, `\r\n` or a lone `\r`: a bound on lines.
        let line_count = 1 + text.matches(['\n', '\r']).count() as u64;
        match run(&path, &mapping("{description}", "{description} {URL:defang}")) {
            Ok(p) => {
                prop_assert!(p.rows <= line_count);
                for e in &p.errors {
                    prop_assert_eq!(&e.file, &file);
                    prop_assert!(e.line >= 1 && e.line <= line_count, "{e} of {line_count} lines");
                    prop_assert!(!e.field.is_empty());
                }
            }
            Err(AppError::Refused(msg)) => prop_assert!(msg.starts_with(&format!("{file}:1: ")), "{msg}"),
            Err(other) => prop_assert!(false, "unexpected {other}"),
        }
    }

    /// Arbitrary templates in the mapping: accepted, or refused before any row is read with
    /// a message naming the mapping field; never a panic on unbalanced or odd braces.
    #[test]
    fn arbitrary_templates_are_checked(
        title in "[a-zA-Z{}:題 ]{0,16}",
        summary in "[a-zA-Z{}:URL ]{0,16}",
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("one.csv");
        std::fs::write(&path, "date,description,URL\n2019/05/01 10:00:00,説明,https://a.example/\n").unwrap();
        match run(&path, &mapping(&title, &summary)) {
            Ok(p) => {
                prop_assert_eq!(p.rows, 1);
                prop_assert_eq!(p.reports.len() + usize::from(!p.errors.is_empty()), 1);
                let located = p.errors.iter().all(|e: &RowError| e.line == 2);
                prop_assert!(located);
            }
            Err(AppError::Refused(msg)) => {
                let names_field = msg.contains("mapping: title:") || msg.contains("mapping: summary:");
                prop_assert!(names_field, "{msg}");
            }
            Err(other) => prop_assert!(false, "unexpected {other}"),
        }
    }
}
