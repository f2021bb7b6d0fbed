//! The classification vocabulary (sectors, event types, causes, severity, case categories,
//! regions, TLP), held as data and checked once when it is loaded.

use crate::error::{FieldError, FieldErrorKind, ValidationErrors};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::fmt;

/// One entry of a vocabulary: a stable ASCII code, a Japanese label and an English gloss.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Term {
    pub code: String,
    pub ja: String,
    pub en: String,
    /// For causes: the code of the cause group (意図的 / 偶発的 / 環境的 / その他).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Mappings to outside vocabularies (e.g. `nis2`, `veris`), as machine tags.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub maps: BTreeMap<String, String>,
}

impl Term {
    pub fn label(&self, lang: Lang) -> &str {
        match lang {
            Lang::Ja => &self.ja,
            Lang::En => &self.en,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Ja,
    En,
}

impl Lang {
    /// The language's code as stored and as sent to browsers (`ja`, `en`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    /// Of a text kept in both languages, the one in this language; English falls back to the
    /// Japanese when it was never written (records older than their translation).
    pub fn pick<'a>(self, ja: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::En if !en.is_empty() => en,
            _ => ja,
        }
    }

    /// The language of a code (surrounding spaces ignored); `None` for any other text.
    pub fn parse(code: &str) -> Option<Lang> {
        match code.trim() {
            "ja" => Some(Lang::Ja),
            "en" => Some(Lang::En),
            _ => None,
        }
    }
}

/// The taxonomy as written in the data file, before it is checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTaxonomy {
    pub sectors: Vec<Term>,
    pub regions: Vec<Term>,
    pub event_types: Vec<Term>,
    pub cause_groups: Vec<Term>,
    pub causes: Vec<Term>,
    pub severities: Vec<Term>,
    pub case_categories: Vec<Term>,
    pub tlp: Vec<Term>,
}

/// Which vocabulary a code belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Vocabulary {
    Sector,
    Region,
    EventType,
    CauseGroup,
    Cause,
    Severity,
    CaseCategory,
    Tlp,
}

impl Vocabulary {
    pub const ALL: [Vocabulary; 8] = [
        Vocabulary::Sector,
        Vocabulary::Region,
        Vocabulary::EventType,
        Vocabulary::CauseGroup,
        Vocabulary::Cause,
        Vocabulary::Severity,
        Vocabulary::CaseCategory,
        Vocabulary::Tlp,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Vocabulary::Sector => "sectors",
            Vocabulary::Region => "regions",
            Vocabulary::EventType => "event_types",
            Vocabulary::CauseGroup => "cause_groups",
            Vocabulary::Cause => "causes",
            Vocabulary::Severity => "severities",
            Vocabulary::CaseCategory => "case_categories",
            Vocabulary::Tlp => "tlp",
        }
    }
}

impl fmt::Display for Vocabulary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// A checked taxonomy. Codes are unique within each vocabulary, every cause names an existing
/// group, severities are exactly 0..=4 and TLP is exactly the five TLP 2.0 labels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Taxonomy {
    raw: RawTaxonomy,
}

const MAX_LABEL: usize = 80;

impl Taxonomy {
    pub fn parse(raw: RawTaxonomy) -> Result<Taxonomy, ValidationErrors> {
        let mut errs = ValidationErrors::default();
        for vocab in Vocabulary::ALL {
            let terms = raw_terms(&raw, vocab);
            if terms.is_empty() {
                errs.push(FieldError::required(vocab.key()));
            }
            let mut seen = HashSet::new();
            for (i, t) in terms.iter().enumerate() {
                let at = format!("{}[{i}]", vocab.key());
                if !is_code(&t.code) {
                    errs.push(FieldError::invalid(
                        format!("{at}.code"),
                        format!(
                            "code '{}' must be 1-40 lower-case ASCII letters, digits, '-' or '_'",
                            t.code
                        ),
                    ));
                }
                if !seen.insert(t.code.as_str()) {
                    errs.push(FieldError::new(
                        format!("{at}.code"),
                        FieldErrorKind::Duplicate {
                            value: t.code.clone(),
                        },
                    ));
                }
                for (name, label) in [("ja", &t.ja), ("en", &t.en)] {
                    if label.trim().is_empty() {
                        errs.push(FieldError::required(format!("{at}.{name}")));
                    } else if label.chars().count() > MAX_LABEL {
                        errs.push(FieldError::new(
                            format!("{at}.{name}"),
                            FieldErrorKind::TooLong { max: MAX_LABEL },
                        ));
                    }
                }
            }
        }
        let groups: HashSet<&str> = raw.cause_groups.iter().map(|t| t.code.as_str()).collect();
        for (i, c) in raw.causes.iter().enumerate() {
            match &c.group {
                None => errs.push(FieldError::required(format!("causes[{i}].group"))),
                Some(g) if !groups.contains(g.as_str()) => errs.push(FieldError::new(
                    format!("causes[{i}].group"),
                    FieldErrorKind::UnknownCode { code: g.clone() },
                )),
                Some(_) => {}
            }
        }
        let sev: Vec<&str> = raw.severities.iter().map(|t| t.code.as_str()).collect();
        if sev != ["0", "1", "2", "3", "4"] {
            errs.push(FieldError::invalid(
                "severities",
                "severities must be exactly the codes 0, 1, 2, 3, 4 in that order",
            ));
        }
        let tlp: Vec<&str> = raw.tlp.iter().map(|t| t.code.as_str()).collect();
        let expected: Vec<&str> = Tlp::ALL.iter().map(|t| t.code()).collect();
        if tlp != expected {
            errs.push(FieldError::invalid(
                "tlp",
                format!("tlp must be exactly {} in that order", expected.join(", ")),
            ));
        }
        errs.into_result(Taxonomy { raw })
    }

    pub fn raw(&self) -> &RawTaxonomy {
        &self.raw
    }

    pub fn terms(&self, vocab: Vocabulary) -> &[Term] {
        raw_terms(&self.raw, vocab)
    }

    pub fn term(&self, vocab: Vocabulary, code: &str) -> Option<&Term> {
        self.terms(vocab).iter().find(|t| t.code == code)
    }

    pub fn contains(&self, vocab: Vocabulary, code: &str) -> bool {
        self.term(vocab, code).is_some()
    }

    /// A label for display; an unknown code shows as itself rather than failing a page.
    pub fn label<'a>(&'a self, vocab: Vocabulary, code: &'a str, lang: Lang) -> &'a str {
        self.term(vocab, code).map_or(code, |t| t.label(lang))
    }

    /// Checks that `code` belongs to `vocab`, recording an error against `field` otherwise.
    pub fn check(
        &self,
        errs: &mut ValidationErrors,
        field: &str,
        vocab: Vocabulary,
        code: &str,
    ) -> Code {
        let code = code.trim();
        if code.is_empty() {
            errs.push(FieldError::required(field));
        } else if !self.contains(vocab, code) {
            errs.push(FieldError::new(
                field,
                FieldErrorKind::UnknownCode {
                    code: code.to_owned(),
                },
            ));
        }
        Code(code.to_owned())
    }
}

fn raw_terms(raw: &RawTaxonomy, vocab: Vocabulary) -> &[Term] {
    match vocab {
        Vocabulary::Sector => &raw.sectors,
        Vocabulary::Region => &raw.regions,
        Vocabulary::EventType => &raw.event_types,
        Vocabulary::CauseGroup => &raw.cause_groups,
        Vocabulary::Cause => &raw.causes,
        Vocabulary::Severity => &raw.severities,
        Vocabulary::CaseCategory => &raw.case_categories,
        Vocabulary::Tlp => &raw.tlp,
    }
}

fn is_code(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 40
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// A taxonomy code that was checked against the taxonomy when the record was parsed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Code(pub String);

impl Code {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Traffic Light Protocol 2.0. The labels are data; what each one permits is code
/// (docs/SECURITY.md), so the set itself is fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Tlp {
    #[serde(rename = "clear")]
    Clear,
    #[serde(rename = "green")]
    Green,
    #[serde(rename = "amber")]
    Amber,
    #[serde(rename = "amber-strict")]
    AmberStrict,
    #[serde(rename = "red")]
    Red,
}

impl Tlp {
    pub const ALL: [Tlp; 5] = [
        Tlp::Clear,
        Tlp::Green,
        Tlp::Amber,
        Tlp::AmberStrict,
        Tlp::Red,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Tlp::Clear => "clear",
            Tlp::Green => "green",
            Tlp::Amber => "amber",
            Tlp::AmberStrict => "amber-strict",
            Tlp::Red => "red",
        }
    }

    /// The label as TLP 2.0 writes it, e.g. `TLP:AMBER+STRICT`.
    pub fn label(self) -> &'static str {
        match self {
            Tlp::Clear => "TLP:CLEAR",
            Tlp::Green => "TLP:GREEN",
            Tlp::Amber => "TLP:AMBER",
            Tlp::AmberStrict => "TLP:AMBER+STRICT",
            Tlp::Red => "TLP:RED",
        }
    }

    /// Accepts the code, the label with or without `TLP:`, in any case.
    pub fn parse(s: &str) -> Option<Tlp> {
        let s = s.trim();
        let s = s
            .strip_prefix("TLP:")
            .or_else(|| s.strip_prefix("tlp:"))
            .unwrap_or(s)
            .to_ascii_lowercase()
            .replace(['+', '_'], "-");
        Tlp::ALL.into_iter().find(|t| t.code() == s)
    }
}

impl fmt::Display for Tlp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Severity level 0 (影響なし) to 4 (著しく深刻な影響).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Severity(u8);

impl Severity {
    pub const MAX: u8 = 4;

    pub fn new(level: u8) -> Result<Severity, FieldErrorKind> {
        if level <= Self::MAX {
            Ok(Severity(level))
        } else {
            Err(FieldErrorKind::OutOfRange {
                min: 0,
                max: i64::from(Self::MAX),
            })
        }
    }

    pub fn level(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for Severity {
    type Error = String;
    fn try_from(v: u8) -> Result<Self, String> {
        Severity::new(v).map_err(|_| format!("severity must be 0..=4, got {v}"))
    }
}

impl From<Severity> for u8 {
    fn from(s: Severity) -> u8 {
        s.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_codes_read_back_and_nothing_else_is_a_language() {
        for l in [Lang::Ja, Lang::En] {
            assert_eq!(Lang::parse(l.code()), Some(l));
        }
        assert_eq!(Lang::parse(" en "), Some(Lang::En));
        assert_eq!(Lang::parse("EN"), None);
        assert_eq!(Lang::parse(""), None);
    }

    fn t(code: &str) -> Term {
        Term {
            code: code.into(),
            ja: format!("{code}ja"),
            en: format!("{code}en"),
            group: None,
            description: String::new(),
            maps: BTreeMap::new(),
        }
    }

    pub(crate) fn minimal() -> RawTaxonomy {
        let mut cause = t("c1");
        cause.group = Some("g".into());
        RawTaxonomy {
            sectors: vec![t("finance")],
            regions: vec![t("kanto")],
            event_types: vec![t("outage")],
            cause_groups: vec![t("g")],
            causes: vec![cause],
            severities: ["0", "1", "2", "3", "4"].map(t).to_vec(),
            case_categories: vec![t("system-failure")],
            tlp: Tlp::ALL.map(|x| t(x.code())).to_vec(),
        }
    }

    #[test]
    fn minimal_taxonomy_parses() {
        let tx = Taxonomy::parse(minimal()).unwrap();
        assert!(tx.contains(Vocabulary::Sector, "finance"));
        assert!(!tx.contains(Vocabulary::Sector, "rail"));
        assert_eq!(
            tx.label(Vocabulary::Sector, "finance", Lang::En),
            "financeen"
        );
    }

    #[test]
    fn errors_name_the_field() {
        let mut raw = minimal();
        raw.sectors.push(t("finance"));
        raw.causes[0].group = Some("nope".into());
        raw.regions[0].ja = " ".into();
        raw.event_types[0].code = "Bad Code".into();
        raw.severities.pop();
        let errs = Taxonomy::parse(raw).unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"sectors[1].code"), "{fields:?}");
        assert!(fields.contains(&"causes[0].group"), "{fields:?}");
        assert!(fields.contains(&"regions[0].ja"), "{fields:?}");
        assert!(fields.contains(&"event_types[0].code"), "{fields:?}");
        assert!(fields.contains(&"severities"), "{fields:?}");
    }

    #[test]
    fn tlp_parses_labels() {
        assert_eq!(Tlp::parse("TLP:AMBER+STRICT"), Some(Tlp::AmberStrict));
        assert_eq!(Tlp::parse("clear"), Some(Tlp::Clear));
        assert_eq!(Tlp::parse("Red"), Some(Tlp::Red));
        assert_eq!(Tlp::parse("white"), None);
    }

    #[test]
    fn severity_range() {
        assert!(Severity::new(4).is_ok());
        assert!(Severity::new(5).is_err());
        assert!(serde_json::from_str::<Severity>("7").is_err());
    }
}
