//! The lesson themes file (`data/lessons/themes.toml`): the themes a new installation starts
//! with, and the tags of the 2019 survey's lessons.

use crate::{DatasetError, from_toml};
use kizuki_domain::ValidationErrors;
use kizuki_domain::lessons::{Theme, ThemeInput};
use serde::Deserialize;

const THEMES_TOML: &str = include_str!("../../../data/lessons/themes.toml");

/// Which lesson a seed tag is for: a common lesson by its number (from 1), or a case's
/// lesson by the case's number and the lesson's title.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeedLesson {
    Common { number: u32 },
    Case { number: u32, title: String },
}

/// One seed tag: a lesson of a survey year and its themes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedTag {
    pub year: i32,
    pub lesson: SeedLesson,
    pub themes: Vec<String>,
}

/// The themes file, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThemeSeed {
    pub themes: Vec<Theme>,
    pub tags: Vec<SeedTag>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    theme: Vec<RawTheme>,
    #[serde(default)]
    tag: Vec<RawTag>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTheme {
    key: String,
    name_ja: String,
    name_en: String,
    #[serde(default)]
    description_ja: String,
    #[serde(default)]
    description_en: String,
    #[serde(default)]
    keywords: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTag {
    year: i32,
    common: Option<u32>,
    case: Option<u32>,
    lesson: Option<String>,
    themes: Vec<String>,
}

/// Parses and checks a themes file: every theme valid, keys unique, every tag naming one
/// lesson and only themes of the file.
pub fn parse_themes(file: &str, text: &str) -> Result<ThemeSeed, DatasetError> {
    let raw: RawFile = from_toml(file, text)?;
    let invalid = |errors: ValidationErrors| DatasetError::Invalid {
        file: file.to_owned(),
        case: None,
        errors,
    };
    let mut errs = ValidationErrors::default();
    let mut themes = Vec::new();
    for (i, t) in raw.theme.into_iter().enumerate() {
        let input = ThemeInput {
            key: t.key,
            name_ja: t.name_ja,
            name_en: t.name_en,
            description_ja: t.description_ja,
            description_en: t.description_en,
            keywords: t.keywords.join(","),
            retired: false,
        };
        match input.parse() {
            Ok(t) if themes.iter().any(|o: &Theme| o.key == t.key) => {
                errs.push(kizuki_domain::FieldError::new(
                    format!("theme[{i}].key"),
                    kizuki_domain::FieldErrorKind::Duplicate {
                        value: t.key.to_string(),
                    },
                ));
            }
            Ok(t) => themes.push(t),
            Err(e) => errs
                .0
                .extend(e.0.into_iter().map(|f| f.within(&format!("theme[{i}]")))),
        }
    }
    let mut tags = Vec::new();
    for (i, t) in raw.tag.into_iter().enumerate() {
        let at = format!("tag[{i}]");
        let lesson = match (t.common, t.case, t.lesson) {
            (Some(number), None, None) if number > 0 => SeedLesson::Common { number },
            (None, Some(number), Some(title)) if number > 0 && !title.trim().is_empty() => {
                SeedLesson::Case {
                    number,
                    title: title.trim().to_owned(),
                }
            }
            _ => {
                errs.push(kizuki_domain::FieldError::invalid(
                    &at,
                    "give `common` (from 1), or `case` (from 1) with the lesson's title",
                ));
                continue;
            }
        };
        for k in &t.themes {
            if !themes.iter().any(|th| th.key.as_str() == k) {
                errs.push(kizuki_domain::FieldError::new(
                    format!("{at}.themes"),
                    kizuki_domain::FieldErrorKind::UnknownCode { code: k.clone() },
                ));
            }
        }
        tags.push(SeedTag {
            year: t.year,
            lesson,
            themes: t.themes,
        });
    }
    if errs.is_empty() {
        Ok(ThemeSeed { themes, tags })
    } else {
        Err(invalid(errs))
    }
}

/// The themes file compiled into this build.
pub fn default_themes() -> Result<ThemeSeed, DatasetError> {
    parse_themes("data/lessons/themes.toml", THEMES_TOML)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[test]
    fn the_shipped_file_tags_every_2019_common_lesson() {
        let seed = default_themes().unwrap();
        assert_eq!(seed.themes.len(), 11);
        let mut common: Vec<u32> = seed
            .tags
            .iter()
            .filter_map(|t| match t.lesson {
                SeedLesson::Common { number } => Some(number),
                SeedLesson::Case { .. } => None,
            })
            .collect();
        common.sort_unstable();
        assert_eq!(common, [1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn errors_name_the_theme_or_tag_at_fault() {
        let text = r#"
[[theme]]
key = "ok"
name_ja = "良い"
name_en = "Good"

[[theme]]
key = "ok"
name_ja = "重複"
name_en = "Again"

[[theme]]
key = "Bad"
name_ja = ""
name_en = "x"

[[tag]]
year = 2019
common = 1
themes = ["ok", "nothing"]

[[tag]]
year = 2019
case = 2
themes = ["ok"]
"#;
        let DatasetError::Invalid { errors, .. } = parse_themes("t.toml", text).unwrap_err() else {
            panic!("not a validation error");
        };
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "theme[1].key",
                "theme[2].key",
                "theme[2].name_ja",
                "tag[0].themes",
                "tag[1]"
            ]
        );
        let DatasetError::Parse { line, .. } =
            parse_themes("t.toml", "[[theme]]\nkey = \"a\"\nname_ja = 3\n").unwrap_err()
        else {
            panic!("not a parse error");
        };
        assert_eq!(line, 3);
    }
}
