//! Reads and writes kizuki's data files (TOML): the taxonomy, the demo directory and survey
//! folders. Every error names the file, and where it can the case and the field.
//!
//! The files of the repository's `data/` folder are also compiled in, so a fresh install
//! has its taxonomy and the 2019 survey without knowing where the sources lie.

mod error;
mod survey;
mod themes;

pub use error::DatasetError;
pub use survey::{
    AnalystScore, CaseFile, ReportSeed, SurveyData, load_survey_dir, parse_survey_files,
    survey_files, write_survey_dir,
};
pub use themes::{SeedLesson, SeedTag, ThemeSeed, default_themes, parse_themes};

use kizuki_domain::org::NewOrganisation;
use kizuki_domain::taxonomy::{RawTaxonomy, Taxonomy};
use kizuki_domain::user::Role;
use serde::{Deserialize, Serialize};
use std::path::Path;

const TAXONOMY_TOML: &str = include_str!("../../../data/taxonomy.toml");
const DEMO_TOML: &str = include_str!("../../../data/demo.toml");

/// The 2019 survey as shipped: (file name relative to the survey folder, contents).
pub const SURVEY_2019: &[(&str, &str)] = &[
    (
        "survey.toml",
        include_str!("../../../data/surveys/2019/survey.toml"),
    ),
    (
        "cases/case-1.toml",
        include_str!("../../../data/surveys/2019/cases/case-1.toml"),
    ),
    (
        "cases/case-2.toml",
        include_str!("../../../data/surveys/2019/cases/case-2.toml"),
    ),
    (
        "cases/case-3.toml",
        include_str!("../../../data/surveys/2019/cases/case-3.toml"),
    ),
    (
        "cases/case-4.toml",
        include_str!("../../../data/surveys/2019/cases/case-4.toml"),
    ),
    (
        "cases/case-5.toml",
        include_str!("../../../data/surveys/2019/cases/case-5.toml"),
    ),
    (
        "cases/case-6.toml",
        include_str!("../../../data/surveys/2019/cases/case-6.toml"),
    ),
    (
        "cases/case-7.toml",
        include_str!("../../../data/surveys/2019/cases/case-7.toml"),
    ),
];

/// Parses TOML into `T`, turning a syntax or shape error into one that names file and line.
pub(crate) fn from_toml<T: serde::de::DeserializeOwned>(
    file: &str,
    text: &str,
) -> Result<T, DatasetError> {
    toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
        DatasetError::Parse {
            file: file.to_owned(),
            line,
            column,
            message: e.message().to_owned(),
        }
    })
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Parses and checks a taxonomy file's contents.
pub fn parse_taxonomy(file: &str, text: &str) -> Result<Taxonomy, DatasetError> {
    let raw: RawTaxonomy = from_toml(file, text)?;
    Taxonomy::parse(raw).map_err(|errors| DatasetError::Invalid {
        file: file.to_owned(),
        case: None,
        errors,
    })
}

/// The taxonomy compiled into this build (from `data/taxonomy.toml`).
pub fn default_taxonomy() -> Result<Taxonomy, DatasetError> {
    parse_taxonomy("data/taxonomy.toml", TAXONOMY_TOML)
}

/// Reads a taxonomy file from disk, e.g. an operator's edited copy.
pub fn load_taxonomy(path: &Path) -> Result<Taxonomy, DatasetError> {
    let text = read(path)?;
    parse_taxonomy(&path.display().to_string(), &text)
}

pub(crate) fn read(path: &Path) -> Result<String, DatasetError> {
    std::fs::read_to_string(path).map_err(|source| DatasetError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// A demo user; the organisation is named by its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoUser {
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub organisation: String,
}

/// The demo directory a new data dir is seeded with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoDirectory {
    pub organisations: Vec<NewOrganisation>,
    pub users: Vec<DemoUser>,
}

/// The demo directory compiled into this build, checked against the taxonomy.
pub fn default_demo(tx: &Taxonomy) -> Result<DemoDirectory, DatasetError> {
    let file = "data/demo.toml";
    let demo: DemoDirectory = from_toml(file, DEMO_TOML)?;
    let mut errors = kizuki_domain::ValidationErrors::default();
    let mut keys = std::collections::HashSet::new();
    for (i, o) in demo.organisations.iter().enumerate() {
        if let Err(e) = o.clone().parse(tx) {
            errors.extend_within(&format!("organisations[{i}]"), e);
        }
        keys.insert(o.key.as_str());
    }
    for (i, u) in demo.users.iter().enumerate() {
        if !keys.contains(u.organisation.as_str()) {
            errors.push(
                kizuki_domain::FieldError::new(
                    "organisation",
                    kizuki_domain::FieldErrorKind::UnknownCode {
                        code: u.organisation.clone(),
                    },
                )
                .within(&format!("users[{i}]")),
            );
        }
        if let Err(e) = kizuki_domain::user::Email::parse(&u.email) {
            errors.push(e.within(&format!("users[{i}]")));
        }
    }
    errors
        .into_result(demo)
        .map_err(|errors| DatasetError::Invalid {
            file: file.to_owned(),
            case: None,
            errors,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_taxonomy_and_demo_are_valid() {
        let tx = default_taxonomy().unwrap();
        assert_eq!(
            tx.terms(kizuki_domain::taxonomy::Vocabulary::Sector).len(),
            15
        );
        let demo = default_demo(&tx).unwrap();
        assert!(demo.organisations.iter().any(|o| o.key == "centre"));
    }

    #[test]
    fn syntax_error_names_file_and_line() {
        let err = parse_taxonomy("x.toml", "[[sectors]]\ncode = \"a\"\nja = \n").unwrap_err();
        match err {
            DatasetError::Parse { file, line, .. } => {
                assert_eq!(file, "x.toml");
                assert_eq!(line, 3);
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn invalid_taxonomy_names_field() {
        let mut text = TAXONOMY_TOML.replacen("code = \"finance\"", "code = \"telecom\"", 1);
        text.push('\n');
        let err = parse_taxonomy("t.toml", &text).unwrap_err().to_string();
        assert!(err.contains("t.toml"), "{err}");
        assert!(err.contains("sectors[1].code"), "{err}");
    }
}
