//! Lesson themes: the controlled list that groups the lessons of every case and survey year
//! (権限委譲, 代替手段の確保, …), the reference that names one lesson, and the suggestion of
//! themes for a lesson from its wording.

use crate::error::{FieldError, FieldErrorKind, ValidationErrors};
use crate::ids::CaseId;
use crate::taxonomy::Lang;
use crate::text::bigrams;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A theme's stable key: lower-case ASCII letters, digits and hyphens (`mfa`,
/// `delegation-of-authority`), so it can stand in a URL and a CSV column.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ThemeKey(String);

/// The longest key.
const MAX_KEY: usize = 40;
/// The longest name in either language.
const MAX_NAME: usize = 40;
/// The longest description in either language.
const MAX_DESCRIPTION: usize = 600;
/// The most keywords a theme lists for suggestions.
const MAX_KEYWORDS: usize = 20;

impl ThemeKey {
    pub fn parse(s: &str) -> Result<ThemeKey, FieldError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(FieldError::required("key"));
        }
        if s.chars().count() > MAX_KEY {
            return Err(FieldError::new(
                "key",
                FieldErrorKind::TooLong { max: MAX_KEY },
            ));
        }
        let ok = s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        if !ok {
            return Err(FieldError::invalid(
                "key",
                "lower-case letters, digits and hyphens only (例: patch-management)",
            ));
        }
        Ok(ThemeKey(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ThemeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One lesson theme, named and described in Japanese and English.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Theme {
    pub key: ThemeKey,
    pub name_ja: String,
    pub name_en: String,
    pub description_ja: String,
    pub description_en: String,
    /// Words whose presence in a lesson suggests this theme (beside its name).
    #[serde(default)]
    pub keywords: Vec<String>,
    /// A retired theme keeps its lessons but is offered for no new tagging.
    #[serde(default)]
    pub retired: bool,
}

impl Theme {
    pub fn name(&self, lang: Lang) -> &str {
        match lang {
            Lang::Ja => &self.name_ja,
            Lang::En => &self.name_en,
        }
    }

    pub fn description(&self, lang: Lang) -> &str {
        match lang {
            Lang::Ja => &self.description_ja,
            Lang::En => &self.description_en,
        }
    }
}

/// A theme as typed into a form or an API body, every field still text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThemeInput {
    pub key: String,
    pub name_ja: String,
    pub name_en: String,
    #[serde(default)]
    pub description_ja: String,
    #[serde(default)]
    pub description_en: String,
    /// Comma- or line-separated (「、」 too).
    #[serde(default)]
    pub keywords: String,
    #[serde(default)]
    pub retired: bool,
}

impl ThemeInput {
    /// The theme, or every field at fault.
    pub fn parse(&self) -> Result<Theme, ValidationErrors> {
        let mut errs = ValidationErrors::default();
        let key = ThemeKey::parse(&self.key).map_err(|e| errs.push(e)).ok();
        let mut text = |field: &str, value: &str, required: bool, max: usize| -> String {
            let v = value.trim();
            if required && v.is_empty() {
                errs.push(FieldError::required(field));
            } else if v.chars().count() > max {
                errs.push(FieldError::new(field, FieldErrorKind::TooLong { max }));
            }
            v.to_owned()
        };
        let name_ja = text("name_ja", &self.name_ja, true, MAX_NAME);
        let name_en = text("name_en", &self.name_en, true, MAX_NAME);
        let description_ja = text(
            "description_ja",
            &self.description_ja,
            false,
            MAX_DESCRIPTION,
        );
        let description_en = text(
            "description_en",
            &self.description_en,
            false,
            MAX_DESCRIPTION,
        );
        let keywords: Vec<String> = self
            .keywords
            .split([',', '、', '，', '\n'])
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_owned)
            .collect();
        if keywords.len() > MAX_KEYWORDS {
            errs.push(FieldError::new(
                "keywords",
                FieldErrorKind::OutOfRange {
                    min: 0,
                    max: MAX_KEYWORDS as i64,
                },
            ));
        }
        match key {
            Some(key) if errs.is_empty() => Ok(Theme {
                key,
                name_ja,
                name_en,
                description_ja,
                description_en,
                keywords,
                retired: self.retired,
            }),
            _ => Err(errs),
        }
    }

    /// The form filled with a stored theme, for editing it.
    pub fn of(t: &Theme) -> ThemeInput {
        ThemeInput {
            key: t.key.to_string(),
            name_ja: t.name_ja.clone(),
            name_en: t.name_en.clone(),
            description_ja: t.description_ja.clone(),
            description_en: t.description_en.clone(),
            keywords: t.keywords.join("、"),
            retired: t.retired,
        }
    }
}

/// One lesson: the n-th named lesson (得られた気付き・教訓) of a case, or the n-th common lesson
/// of a survey year. Numbered from 0 as stored; shown from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LessonRef {
    Case { case: CaseId, index: u32 },
    Common { year: i32, index: u32 },
}

impl LessonRef {
    /// `case:12:0` or `common:2019:3`: how a tag stores the lesson and a URL names it.
    pub fn key(&self) -> String {
        match self {
            LessonRef::Case { case, index } => format!("case:{}:{index}", case.0),
            LessonRef::Common { year, index } => format!("common:{year}:{index}"),
        }
    }

    pub fn parse(s: &str) -> Result<LessonRef, FieldError> {
        let bad = || FieldError::invalid("lesson", "case:<id>:<n> or common:<year>:<n>");
        let mut parts = s.trim().split(':');
        let (Some(kind), Some(owner), Some(index), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let index: u32 = index.parse().map_err(|_| bad())?;
        match kind {
            "case" => Ok(LessonRef::Case {
                case: CaseId(owner.parse().map_err(|_| bad())?),
                index,
            }),
            "common" => Ok(LessonRef::Common {
                year: owner.parse().map_err(|_| bad())?,
                index,
            }),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for LessonRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

/// A theme suggested for a lesson, with the words that led to it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suggestion {
    pub key: ThemeKey,
    /// 0–1: the best share of one of the theme's words found in the lesson.
    pub score: f64,
    /// The theme's name and keywords found in the lesson's wording.
    pub matched: Vec<String>,
}

/// The share of a word's bigrams the lesson must contain for the word to count as found.
const WORD_SHARE: f64 = 0.6;

/// Themes whose name or keywords appear in the lesson's wording (width and case folded), best
/// first; retired themes are never suggested. A one-character word cannot be told from
/// chance and is ignored.
pub fn suggest(themes: &[Theme], lesson: &str) -> Vec<Suggestion> {
    let text = bigrams(lesson);
    let mut out: Vec<Suggestion> = themes
        .iter()
        .filter(|t| !t.retired)
        .filter_map(|t| {
            let words = t
                .name_ja
                .split(['・', '/', '／'])
                .chain(t.keywords.iter().map(String::as_str));
            let mut best = 0.0_f64;
            let mut matched = Vec::new();
            for w in words {
                let grams = bigrams(w);
                if grams.is_empty() {
                    continue;
                }
                let share =
                    grams.iter().filter(|g| text.contains(g)).count() as f64 / grams.len() as f64;
                if share >= WORD_SHARE {
                    best = best.max(share);
                    matched.push(w.trim().to_owned());
                }
            }
            (!matched.is_empty()).then(|| Suggestion {
                key: t.key.clone(),
                score: best,
                matched,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.matched
            .len()
            .cmp(&a.matched.len())
            .then(b.score.total_cmp(&a.score))
            .then(a.key.cmp(&b.key))
    });
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn theme(key: &str, name: &str, keywords: &[&str]) -> Theme {
        ThemeInput {
            key: key.into(),
            name_ja: name.into(),
            name_en: key.into(),
            keywords: keywords.join(","),
            ..ThemeInput::default()
        }
        .parse()
        .unwrap()
    }

    #[test]
    fn keys_are_slugs_and_errors_name_the_field() {
        assert_eq!(ThemeKey::parse(" mfa ").unwrap().as_str(), "mfa");
        for bad in ["", "MFA", "多要素", "-mfa", "a b", &"x".repeat(41)] {
            let e = ThemeKey::parse(bad).unwrap_err();
            assert_eq!(e.field, "key", "{bad:?}");
        }
        let errs = ThemeInput {
            key: "Bad Key".into(),
            name_ja: String::new(),
            name_en: "x".repeat(41),
            ..ThemeInput::default()
        }
        .parse()
        .unwrap_err();
        let fields: Vec<&str> = errs.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["key", "name_ja", "name_en"]);
    }

    #[test]
    fn keywords_split_on_japanese_and_ascii_commas_and_round_trip() {
        let t = ThemeInput {
            key: "log-retention".into(),
            name_ja: "ログの保存".into(),
            name_en: "Log retention".into(),
            keywords: "ログ、保存期間, 監査ログ\n".into(),
            ..ThemeInput::default()
        }
        .parse()
        .unwrap();
        assert_eq!(t.keywords, ["ログ", "保存期間", "監査ログ"]);
        assert_eq!(ThemeInput::of(&t).parse().unwrap(), t);
    }

    #[test]
    fn lesson_refs_round_trip_and_refuse_anything_else() {
        for r in [
            LessonRef::Case {
                case: CaseId(12),
                index: 0,
            },
            LessonRef::Common {
                year: 2019,
                index: 5,
            },
        ] {
            assert_eq!(LessonRef::parse(&r.key()).unwrap(), r);
        }
        for bad in [
            "",
            "case:1",
            "case:x:1",
            "common:2019:-1",
            "other:1:2",
            "case:1:2:3",
        ] {
            assert!(LessonRef::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn suggestions_follow_the_wording_and_skip_retired_themes() {
        let mut themes = vec![
            theme("delegation", "権限委譲", &["権限移譲", "判断権者"]),
            theme("logs", "ログの保存", &["保存期間", "ログ"]),
            theme("mfa", "多要素認証", &["ログイン強化", "二要素"]),
        ];
        let lesson = "クラウド型メールサービスのログ保存期間の検討";
        let s = suggest(&themes, lesson);
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!(s[0].key.as_str(), "logs");
        assert!(s[0].matched.contains(&"保存期間".to_owned()));
        // Full-width and half-width forms of a word match alike.
        let s = suggest(&themes, "非常時に備えた権限移譲");
        assert_eq!(s[0].key.as_str(), "delegation");
        assert!(suggest(&themes, "ＭＦＡとは無関係な文").is_empty());
        themes[0].retired = true;
        assert!(suggest(&themes, "非常時に備えた権限移譲").is_empty());
    }
}
