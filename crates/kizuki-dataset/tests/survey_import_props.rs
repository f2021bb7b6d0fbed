//! Property tests for the survey TOML import, a parser of outside input that must never
//! panic: the shipped 2019 survey, damaged at random (lines dropped, doubled or swapped, values replaced, the text
//! cut short) or replaced by arbitrary text, never panics `parse_survey_files`; every
//! refusal names a file that was given, a line inside it for syntax errors, and a field for
//! invalid content; what is accepted writes back to files that read back the same.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "helpers of tests stop at the line that failed, as the tests do"
)]

use kizuki_dataset::{
    DatasetError, SURVEY_2019, default_taxonomy, parse_survey_files, survey_files,
};
use kizuki_domain::taxonomy::Taxonomy;
use proptest::prelude::*;
use std::sync::OnceLock;

static TAXONOMY: OnceLock<Taxonomy> = OnceLock::new();

fn taxonomy() -> &'static Taxonomy {
    TAXONOMY.get_or_init(|| default_taxonomy().expect("the shipped taxonomy"))
}

fn shipped() -> Vec<(String, String)> {
    SURVEY_2019
        .iter()
        .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
        .collect()
}

/// One way to damage a file, applied at a position chosen by the strategy.
#[derive(Debug, Clone)]
enum Damage {
    DropLine(usize),
    DoubleLine(usize),
    SwapLines(usize, usize),
    /// Replace what follows the first `=` on a line.
    ReplaceValue(usize, String),
    /// Keep only the first part of the text (cut at a character boundary).
    Truncate(usize),
}

fn damage() -> impl Strategy<Value = Damage> {
    let value = prop_oneof![
        Just("\"\"".to_owned()),
        Just("-1".to_owned()),
        Just("4294967296".to_owned()),
        Just("[]".to_owned()),
        Just("\"meteor\"".to_owned()),
        Just("{ x = 1 }".to_owned()),
        Just("\"unterminated".to_owned()),
        Just("1979-05-27".to_owned()),
        "[a-z0-9\"\\[\\] ,.=-]{0,12}",
    ];
    prop_oneof![
        any::<usize>().prop_map(Damage::DropLine),
        any::<usize>().prop_map(Damage::DoubleLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Damage::SwapLines(a, b)),
        (any::<usize>(), value).prop_map(|(l, v)| Damage::ReplaceValue(l, v)),
        any::<usize>().prop_map(Damage::Truncate),
    ]
}

fn apply(text: &str, d: &Damage) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    if lines.is_empty() {
        return String::new();
    }
    let n = lines.len();
    match d {
        Damage::DropLine(i) => {
            lines.remove(i % n);
        }
        Damage::DoubleLine(i) => {
            let l = lines[i % n].clone();
            lines.insert(i % n, l);
        }
        Damage::SwapLines(a, b) => lines.swap(a % n, b % n),
        Damage::ReplaceValue(i, v) => {
            let l = &mut lines[i % n];
            if let Some((key, _)) = l.split_once('=') {
                *l = format!("{key}= {v}");
            }
        }
        Damage::Truncate(at) => {
            let cut = text
                .char_indices()
                .map(|(i, _)| i)
                .nth(at % text.chars().count().max(1))
                .unwrap_or(text.len());
            return text[..cut].to_owned();
        }
    }
    lines.join("\n") + "\n"
}

/// Checks that a refusal points at something the user can find and fix.
fn located(err: &DatasetError, files: &[(String, String)]) -> Result<(), TestCaseError> {
    let text_of = |name: &str| {
        files
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.as_str())
    };
    match err {
        DatasetError::Parse {
            file,
            line,
            column,
            message,
        } => {
            let text = text_of(file);
            prop_assert!(text.is_some(), "unknown file {file}");
            let lines = text.unwrap_or_default().lines().count().max(1);
            prop_assert!(
                *line >= 1 && *line <= lines + 1,
                "{err}: line outside 1..={}",
                lines + 1
            );
            prop_assert!(*column >= 1, "{err}");
            prop_assert!(!message.is_empty());
        }
        DatasetError::Invalid { file, errors, .. } => {
            prop_assert!(text_of(file).is_some(), "unknown file {file}");
            prop_assert!(!errors.is_empty(), "{err}");
            for e in errors.iter() {
                prop_assert!(!e.field.is_empty(), "{err}: an error without a field");
                prop_assert!(!e.message_ja().is_empty() && !e.message_en().is_empty());
            }
        }
        DatasetError::Other { file, message } => {
            prop_assert!(file == "survey.toml" || text_of(file).is_some(), "{err}");
            prop_assert!(!message.is_empty());
        }
        DatasetError::Io { .. } => prop_assert!(false, "no I/O happens here: {err}"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The shipped survey with one file damaged: accepted (the damage was harmless, e.g. a
    /// comment dropped) and then stable through a write and a read, or refused with a
    /// located error.
    #[test]
    fn damaged_survey_files_are_refused_with_a_location(
        which in any::<usize>(),
        damages in prop::collection::vec(damage(), 1..3),
    ) {
        let mut files = shipped();
        let i = which % files.len();
        for d in &damages {
            files[i].1 = apply(&files[i].1, d);
        }
        match parse_survey_files(&files, taxonomy()) {
            Ok(data) => {
                let written = survey_files(&data).unwrap();
                let again = parse_survey_files(&written, taxonomy()).unwrap();
                prop_assert_eq!(again, data);
            }
            Err(e) => located(&e, &files)?,
        }
    }

    /// Arbitrary text in place of survey.toml or one case file: an answer, never a panic,
    /// and a refusal names that file.
    #[test]
    fn arbitrary_text_is_refused_by_file(
        which in any::<usize>(),
        text in "[a-z0-9\\[\\]=\"'{},.\n #:-]{0,80}|.{0,40}",
    ) {
        let mut files = shipped();
        let i = which % files.len();
        files[i].1 = text;
        let name = files[i].0.clone();
        let err = parse_survey_files(&files, taxonomy()).expect_err("no arbitrary text is a survey or a case");
        located(&err, &files)?;
        let shown = err.to_string();
        prop_assert!(shown.starts_with(&name), "{shown} does not start with {name}");
    }
}

/// The shipped survey itself is accepted and round-trips (the properties' starting point).
#[test]
fn the_starting_point_is_valid() {
    let data = parse_survey_files(&shipped(), taxonomy()).unwrap();
    let again = parse_survey_files(&survey_files(&data).unwrap(), taxonomy()).unwrap();
    assert_eq!(again, data);
}
