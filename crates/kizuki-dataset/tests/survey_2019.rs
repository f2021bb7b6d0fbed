//! The shipped 2019 survey loads, matches the reference report's shape, and survives a
//! write/read round trip; broken files are reported by file, case and field.
#![allow(
    clippy::unwrap_used,
    reason = "helpers of tests stop at the line that failed, as the tests do"
)]

use kizuki_dataset::{
    DatasetError, SURVEY_2019, default_taxonomy, load_survey_dir, parse_survey_files, survey_files,
    write_survey_dir,
};
use std::path::PathBuf;

fn repo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/surveys/2019")
}

fn embedded() -> Vec<(String, String)> {
    SURVEY_2019
        .iter()
        .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
        .collect()
}

#[test]
fn the_2019_survey_has_the_reference_shape() {
    let tx = default_taxonomy().unwrap();
    let data = load_survey_dir(&repo_dir(), &tx).unwrap();
    assert_eq!(data.survey.fiscal_year.year(), 2019);
    assert_eq!(data.survey.period_start.to_string(), "2019-01-01");
    assert_eq!(data.survey.period_end.to_string(), "2019-12-31");
    let shape: Vec<(u32, &str, usize, usize)> = data
        .cases
        .iter()
        .map(|c| {
            (
                c.case.number,
                c.case.category.as_str(),
                c.case.steps.len(),
                c.case.responses.len(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        vec![
            (1, "system-failure", 3, 4),
            (2, "system-failure", 4, 7),
            (3, "system-failure", 2, 6),
            (4, "system-failure", 2, 6),
            (5, "cyber-attack", 3, 6),
            (6, "cyber-attack", 2, 5),
            (7, "cyber-attack", 3, 6),
        ]
    );
    let titles: Vec<&str> = data.cases.iter().map(|c| c.case.title.as_str()).collect();
    assert_eq!(
        titles,
        vec![
            "改元に伴うシステム変更トラブルへの対応",
            "重要インフラサービスの一部業務の停止",
            "委託先のシステムトラブルに伴うサービス障害",
            "重要インフラサービスの業務遅延",
            "不審メールによるマルウェア「Emotet」への感染",
            "重要インフラ事業者が利用するサーバへの不正アクセス",
            "クラウド型メールサービスに対する不正ログイン",
        ]
    );
    for c in &data.cases {
        assert_eq!(c.case.overview.len(), 3, "case {}", c.case.number);
        assert!(!c.case.lessons.is_empty());
        assert!(data.survey.in_period(c.report.reported_on));
    }
    assert_eq!(data.survey.common_lessons.len(), 6);
    assert!(data.survey.criteria.iter().filter(|c| c.main).count() == 7);
}

#[test]
fn embedded_copy_matches_the_files() {
    let tx = default_taxonomy().unwrap();
    let from_disk = load_survey_dir(&repo_dir(), &tx).unwrap();
    let built_in = parse_survey_files(&embedded(), &tx).unwrap();
    assert_eq!(from_disk, built_in);
}

#[test]
fn write_then_read_is_lossless_and_stable() {
    let tx = default_taxonomy().unwrap();
    let data = load_survey_dir(&repo_dir(), &tx).unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_survey_dir(&data, dir.path()).unwrap();
    let again = load_survey_dir(dir.path(), &tx).unwrap();
    assert_eq!(again, data);
    assert_eq!(survey_files(&again).unwrap(), survey_files(&data).unwrap());
}

fn with_case_edit(from: &str, to: &str) -> Vec<(String, String)> {
    let mut files = embedded();
    let (_, text) = files
        .iter_mut()
        .find(|(n, _)| n == "cases/case-3.toml")
        .unwrap();
    assert!(text.contains(from), "fixture text {from:?} not in case-3");
    *text = text.replacen(from, to, 1);
    files
}

#[test]
fn bad_actor_reference_names_file_case_and_field() {
    let tx = default_taxonomy().unwrap();
    let files = with_case_edit("number = 1\n", "number = 1\nactors = [\"nobody\"]\n");
    let err = parse_survey_files(&files, &tx).unwrap_err();
    // Either a duplicate-key parse error or, if the step had no actors line there, an
    // invalid reference: both must name the file.
    let msg = err.to_string();
    assert!(msg.contains("cases/case-3.toml"), "{msg}");
}

#[test]
fn unknown_code_names_file_case_and_field() {
    let tx = default_taxonomy().unwrap();
    let files = with_case_edit("category = \"system-failure\"", "category = \"meteor\"");
    let err = parse_survey_files(&files, &tx).unwrap_err();
    match &err {
        DatasetError::Invalid { file, case, errors } => {
            assert_eq!(file, "cases/case-3.toml");
            assert_eq!(*case, Some(3));
            assert!(errors.for_field("case.category").is_some(), "{err}");
        }
        other => panic!("unexpected {other}"),
    }
    assert!(err.to_string().contains("case 3: case.category"), "{err}");
}

#[test]
fn syntax_error_names_line() {
    let tx = default_taxonomy().unwrap();
    let files = with_case_edit("[case]\n", "[case]\nbroken = \n");
    match parse_survey_files(&files, &tx).unwrap_err() {
        DatasetError::Parse { file, line, .. } => {
            assert_eq!(file, "cases/case-3.toml");
            assert!(line > 1);
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn analyst_scores_load_checked_and_bad_ones_name_the_field() {
    let tx = default_taxonomy().unwrap();
    let data = load_survey_dir(&repo_dir(), &tx).unwrap();
    // Each reference case carries the two criteria only an analyst can judge.
    for c in &data.cases {
        let keys: Vec<&str> = c.analyst_scores.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(
            keys,
            ["lesson-usefulness", "response-quality"],
            "case {}",
            c.case.number
        );
        assert!(
            c.analyst_scores
                .iter()
                .all(|s| s.value <= 3 && !s.reason.is_empty())
        );
    }
    let case5 = &data.cases[4];
    assert_eq!(case5.analyst_scores[1].value, 3);
    assert!(case5.analyst_scores[1].reason.contains("続報"));

    let expect = |files: Vec<(String, String)>, field: &str| match parse_survey_files(&files, &tx)
        .unwrap_err()
    {
        DatasetError::Invalid { file, case, errors } => {
            assert_eq!(file, "cases/case-3.toml");
            assert_eq!(case, Some(3));
            assert!(errors.for_field(field).is_some(), "{field}: {errors}");
        }
        other => panic!("unexpected {other}"),
    };
    expect(
        with_case_edit("key = \"response-quality\"", "key = \"ufo\""),
        "analyst_scores[1].key",
    );
    expect(
        with_case_edit(
            "key = \"lesson-usefulness\"\nvalue = 3",
            "key = \"lesson-usefulness\"\nvalue = 7",
        ),
        "analyst_scores[0].value",
    );
    expect(
        with_case_edit("key = \"response-quality\"", "key = \"lesson-usefulness\""),
        "analyst_scores[1].key",
    );
    let mut files = with_case_edit("value = 2\nreason = \"", "value = 2\nreason = \"  ");
    let (_, text) = files
        .iter_mut()
        .find(|(n, _)| n == "cases/case-3.toml")
        .unwrap();
    let start = text.find("reason = \"  ").unwrap();
    let end = start + text[start..].find('\n').unwrap();
    text.replace_range(start..end, "reason = \"  \"");
    expect(files, "analyst_scores[1].reason");
}
