//! Queries: what a user types (`改元 "システム 障害" -訓練 sector:railway fy:令和元年度`), parsed
//! into terms, phrases, exclusions and filters, and turned into one tantivy query that
//! already contains the viewer's access rule.
//!
//! Semantics, the same in the engine and in kizuki-bench's brute-force check:
//! - a Japanese word matches where its normalised characters appear in that order (a
//!   substring: Japanese has no spaces to split words on); a Latin word matches that whole
//!   word; a term mixing both (`Emotet感染`) or with inner punctuation (`CVE-2019-0708`) is a
//!   phrase of its parts;
//! - `"…"`, `「…」` or `“…”` is a phrase: its words next to each other, punctuation ignored;
//! - `-term` excludes; every other term is required (AND);
//! - `name:value` filters on a keyword field (several values: `sector:railway,finance`);
//!   `-name:value` excludes a value.

use crate::access::Viewer;
use crate::analysis::{QueryUnit, query_units};
use crate::doc::DocKind;
use crate::error::{SearchError, SearchResult};
use crate::normalize::normalize;
use crate::schema::Fields;
use kizuki_domain::fiscal::FiscalYear;
use kizuki_domain::ids::OrgId;
use kizuki_domain::taxonomy::{Taxonomy, Tlp, Vocabulary};
use serde::{Deserialize, Serialize};
use std::fmt;
use tantivy::Term;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, Occur, PhraseQuery, Query as TQuery,
    RegexPhraseQuery, RegexQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use unicode_normalization::UnicodeNormalization;

/// How results are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    /// Best match first; for an empty query (browsing by filters) newest first.
    #[default]
    Relevance,
    Newest,
    Oldest,
}

/// Keyword filters; each list is "any of", lists combine with AND; empty means any.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Filters {
    pub fiscal_year: Vec<i32>,
    /// 年度 of occurrence; documents without a known occurrence match none.
    pub occurred_year: Vec<i32>,
    pub sector: Vec<String>,
    pub event_type: Vec<String>,
    pub cause: Vec<String>,
    pub severity: Vec<u8>,
    pub org: Vec<OrgId>,
    pub tlp: Vec<Tlp>,
    pub status: Vec<String>,
    /// Values to exclude, as (facet name, value) pairs.
    pub exclude: Vec<(String, String)>,
}

impl Filters {
    fn is_empty(&self) -> bool {
        self.values().iter().all(|(_, v)| v.is_empty()) && self.exclude.is_empty()
    }

    /// Every filter as (facet name, values as indexed).
    pub fn values(&self) -> Vec<(&'static str, Vec<String>)> {
        vec![
            (
                "fiscal_year",
                self.fiscal_year.iter().map(i32::to_string).collect(),
            ),
            (
                "occurred_year",
                self.occurred_year.iter().map(i32::to_string).collect(),
            ),
            ("sector", self.sector.clone()),
            ("event_type", self.event_type.clone()),
            ("cause", self.cause.clone()),
            (
                "severity",
                self.severity.iter().map(u8::to_string).collect(),
            ),
            ("org", self.org.iter().map(|o| o.0.to_string()).collect()),
            (
                "tlp",
                self.tlp.iter().map(|t| t.code().to_owned()).collect(),
            ),
            ("status", self.status.clone()),
        ]
    }
}

/// A search request. `text` holds the words (and may hold filters, which
/// [`Query::parse`] moves into `filters`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Query {
    pub text: String,
    pub filters: Filters,
    /// Which kinds of document; empty means all.
    pub kinds: Vec<DocKind>,
    pub sort: Sort,
    pub limit: usize,
    pub offset: usize,
}

impl Default for Query {
    fn default() -> Self {
        Query {
            text: String::new(),
            filters: Filters::default(),
            kinds: Vec::new(),
            sort: Sort::Relevance,
            limit: 20,
            offset: 0,
        }
    }
}

/// Most hits one page may ask for.
pub const MAX_LIMIT: usize = 200;

impl Query {
    /// A query for `text` with default paging.
    pub fn new(text: impl Into<String>) -> Query {
        Query {
            text: text.into(),
            ..Query::default()
        }
    }

    /// Moves `name:value` filters out of `text` into `filters`. With a taxonomy, Japanese or
    /// English labels are accepted as values (`sector:鉄道`) as well as codes.
    pub fn parse(text: &str, taxonomy: Option<&Taxonomy>) -> SearchResult<Query> {
        let mut q = Query::default();
        let mut rest = Vec::new();
        for tok in split(text) {
            match tok {
                Token::Word { neg, text: t } => {
                    if let Some((name, value)) = t.split_once(':')
                        && let Some(name) = filter_name(name)
                        && !value.is_empty()
                    {
                        for v in value.split(',').filter(|v| !v.is_empty()) {
                            q.add_filter(name, v, neg, taxonomy)?;
                        }
                        continue;
                    }
                    rest.push(Token::Word { neg, text: t }.to_string());
                }
                phrase @ Token::Phrase { .. } => rest.push(phrase.to_string()),
            }
        }
        q.text = rest.join(" ");
        Ok(q)
    }

    fn add_filter(
        &mut self,
        name: &'static str,
        value: &str,
        neg: bool,
        tx: Option<&Taxonomy>,
    ) -> SearchResult<()> {
        let bad = |why: &str| SearchError::Query(format!("{name}:{value}: {why}"));
        let value = match name {
            "fiscal_year" | "occurred_year" => FiscalYear::parse(value)
                .map_err(|e| bad(&e.to_string()))?
                .year()
                .to_string(),
            "tlp" => Tlp::parse(value)
                .ok_or_else(|| bad("not a TLP label (clear, green, amber, amber-strict, red)"))?
                .code()
                .to_owned(),
            "severity" => {
                let digits: String = normalize(value)
                    .chars()
                    .filter(char::is_ascii_digit)
                    .collect();
                match digits.parse::<u8>() {
                    Ok(n) if n <= 4 => n.to_string(),
                    _ => return Err(bad("severity is 0 to 4")),
                }
            }
            "org" => normalize(value)
                .parse::<i64>()
                .map_err(|_| bad("organisation filters take the organisation's number"))?
                .to_string(),
            "kind" => DocKind::parse(&normalize(value))
                .ok_or_else(|| bad("kind is report, case or lesson"))?
                .code()
                .to_owned(),
            "sector" => resolve(tx, Vocabulary::Sector, value),
            "event_type" => resolve(tx, Vocabulary::EventType, value),
            "cause" => resolve(tx, Vocabulary::Cause, value),
            _ => normalize(value),
        };
        // Only invisible characters: the filter would match nothing, and written back
        // (`status:`) it would read as a word.
        if value.is_empty() {
            return Err(bad("値が空です / the value is empty"));
        }
        if neg {
            self.filters.exclude.push((name.to_owned(), value));
            return Ok(());
        }
        let f = &mut self.filters;
        match name {
            "fiscal_year" => f.fiscal_year.push(value.parse().unwrap_or_default()),
            "occurred_year" => f.occurred_year.push(value.parse().unwrap_or_default()),
            "tlp" => f.tlp.extend(Tlp::parse(&value)),
            "severity" => f.severity.push(value.parse().unwrap_or_default()),
            "org" => f.org.push(OrgId(value.parse().unwrap_or_default())),
            "kind" => self.kinds.extend(DocKind::parse(&value)),
            "sector" => f.sector.push(value),
            "event_type" => f.event_type.push(value),
            "cause" => f.cause.push(value),
            _ => f.status.push(value),
        }
        Ok(())
    }
}

/// A label (鉄道, Railway) or code (railway) to the code; unknown values pass through so a
/// filter on a code the taxonomy no longer has still finds old documents.
fn resolve(tx: Option<&Taxonomy>, vocab: Vocabulary, value: &str) -> String {
    let v = normalize(value);
    if let Some(tx) = tx {
        for t in tx.terms(vocab) {
            if t.code == v || normalize(&t.ja) == v || normalize(&t.en) == v {
                return t.code.clone();
            }
        }
    }
    v
}

fn filter_name(name: &str) -> Option<&'static str> {
    Some(match normalize(name).as_str() {
        "fy" | "fiscal_year" | "年度" => "fiscal_year",
        "occurred" | "occurred_fy" | "発生年度" => "occurred_year",
        "sector" | "分野" => "sector",
        "event" | "event_type" | "事象" => "event_type",
        "cause" | "原因" => "cause",
        "severity" | "sev" | "深刻度" | "レベル" => "severity",
        "org" | "組織" => "org",
        "tlp" => "tlp",
        "kind" | "種別" => "kind",
        "status" | "状態" => "status",
        _ => return None,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word { neg: bool, text: String },
    Phrase { neg: bool, text: String },
}

impl fmt::Display for Token {
    /// The token as [`split`] reads it back: a word as typed, a phrase in quotes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Word { neg, text } => write!(f, "{}{text}", if *neg { "-" } else { "" }),
            Token::Phrase { neg, text } => {
                let (open, close) = quotes_for(text);
                write!(f, "{}{open}{text}{close}", if *neg { "-" } else { "" })
            }
        }
    }
}

/// The quote pairs a phrase can be written back in, `"…"` first.
const QUOTES: [(char, char); 4] = [('"', '"'), ('「', '」'), ('『', '』'), ('“', '”')];

/// The first pair whose closing mark the phrase does not contain: a phrase ends at the first
/// closing mark of its own pair, so `「He said "no"」` written as `"He said "no""` would be
/// read back as other words. The pair the phrase was typed in always qualifies (it cannot
/// hold its own closing mark), so the fallback is never reached for a phrase [`split`] read.
fn quotes_for(phrase: &str) -> (char, char) {
    QUOTES
        .into_iter()
        .find(|&(_, close)| !phrase.contains(close))
        .unwrap_or(QUOTES[0])
}

/// The query written back in its own syntax: the words and phrases of `text`, then every
/// filter as a `name:value` token, every kind as `kind:…` and every exclusion as
/// `-name:value`. Sort and paging have no syntax and are left out. For a query that
/// [`Query::parse`] made, parsing this text again (with the same taxonomy) gives the same
/// query.
impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        // Re-read rather than copied, so that a `text` set by hand (an unclosed phrase) cannot
        // swallow the filter tokens written after it.
        for tok in split(&self.text) {
            write!(f, "{sep}{tok}")?;
            sep = " ";
        }
        for (name, values) in self.filters.values() {
            for v in values {
                write!(f, "{sep}{name}:{v}")?;
                sep = " ";
            }
        }
        for k in &self.kinds {
            write!(f, "{sep}kind:{}", k.code())?;
            sep = " ";
        }
        for (name, v) in &self.filters.exclude {
            write!(f, "{sep}-{name}:{v}")?;
            sep = " ";
        }
        Ok(())
    }
}

fn closing(open: char) -> Option<char> {
    match open {
        '"' => Some('"'),
        '「' => Some('」'),
        '『' => Some('』'),
        '“' => Some('”'),
        _ => None,
    }
}

/// Splits query text into words and phrases. Full-width quotes, spaces and minus signs are
/// accepted (NFKC maps them to ASCII first).
fn split(text: &str) -> Vec<Token> {
    let text: String = text.nfkc().collect();
    let mut out = Vec::new();
    let mut it = text.chars().peekable();
    while let Some(&c) = it.peek() {
        if c.is_whitespace() {
            it.next();
            continue;
        }
        let mut neg = false;
        if c == '-' {
            it.next();
            match it.peek() {
                Some(n) if !n.is_whitespace() => neg = true,
                _ => continue,
            }
        }
        let Some(&c) = it.peek() else { break };
        if let Some(close) = closing(c) {
            it.next();
            let mut s = String::new();
            for n in it.by_ref() {
                if n == close {
                    break;
                }
                s.push(n);
            }
            if !s.trim().is_empty() {
                out.push(Token::Phrase { neg, text: s });
            }
            continue;
        }
        let mut s = String::new();
        while let Some(&n) = it.peek() {
            if n.is_whitespace() {
                break;
            }
            s.push(n);
            it.next();
        }
        out.push(Token::Word { neg, text: s });
    }
    out
}

/// One required or excluded term of a query, analysed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TermExpr {
    /// As the user wrote it.
    pub raw: String,
    pub units: Vec<(usize, QueryUnit)>,
}

/// Query text analysed into required and excluded terms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedText {
    pub include: Vec<TermExpr>,
    pub exclude: Vec<TermExpr>,
}

impl ParsedText {
    /// Analyses the text part of a query (filters must already have been moved out).
    pub fn new(text: &str) -> ParsedText {
        let mut p = ParsedText::default();
        for tok in split(text) {
            let (neg, raw) = match tok {
                Token::Word { neg, text } | Token::Phrase { neg, text } => (neg, text),
            };
            let units = query_units(&raw);
            if units.is_empty() {
                continue;
            }
            let t = TermExpr { raw, units };
            if neg {
                p.exclude.push(t);
            } else {
                p.include.push(t);
            }
        }
        p
    }
}

/// Weight of a match in the title against one in the body.
const TITLE_BOOST: f32 = 2.0;

fn escape_regex(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#&-~\"<>@".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The query for one term in one text field.
pub(crate) fn term_in_field(
    field: Field,
    units: &[(usize, QueryUnit)],
) -> SearchResult<Box<dyn TQuery>> {
    let has_prefix = units.iter().any(|(_, u)| matches!(u, QueryUnit::Prefix(_)));
    let regex = |u: &QueryUnit| match u {
        QueryUnit::Term(s) => escape_regex(s),
        QueryUnit::Prefix(c) => format!("{}.*", escape_regex(&c.to_string())),
    };
    Ok(match units {
        [] => Box::new(tantivy::query::EmptyQuery),
        [(_, QueryUnit::Term(s))] => Box::new(TermQuery::new(
            Term::from_field_text(field, s),
            IndexRecordOption::WithFreqs,
        )),
        [(_, u)] => Box::new(
            RegexQuery::from_pattern(&regex(u), field)
                .map_err(|e| SearchError::Query(e.to_string()))?,
        ),
        many if has_prefix => Box::new(RegexPhraseQuery::new_with_offset(
            field,
            many.iter().map(|(p, u)| (*p, regex(u))).collect(),
        )),
        many => Box::new(PhraseQuery::new_with_offset(
            many.iter()
                .map(|(p, u)| match u {
                    QueryUnit::Term(s) => (*p, Term::from_field_text(field, s)),
                    QueryUnit::Prefix(c) => (*p, Term::from_field_text(field, &c.to_string())),
                })
                .collect(),
        )),
    })
}

/// A term anywhere in the title or body, a title match weighing more.
fn term_anywhere(f: &Fields, t: &TermExpr) -> SearchResult<Box<dyn TQuery>> {
    Ok(Box::new(BooleanQuery::new(vec![
        (
            Occur::Should,
            Box::new(BoostQuery::new(
                term_in_field(f.title, &t.units)?,
                TITLE_BOOST,
            )),
        ),
        (Occur::Should, term_in_field(f.body, &t.units)?),
    ])))
}

/// Any of `values` in keyword `field`, not affecting the score.
fn any_of(field: Field, values: &[String]) -> Box<dyn TQuery> {
    let terms: Vec<(Occur, Box<dyn TQuery>)> = values
        .iter()
        .map(|v| {
            (
                Occur::Should,
                Box::new(TermQuery::new(
                    Term::from_field_text(field, v),
                    IndexRecordOption::Basic,
                )) as Box<dyn TQuery>,
            )
        })
        .collect();
    Box::new(ConstScoreQuery::new(
        Box::new(BooleanQuery::new(terms)),
        0.0,
    ))
}

/// The viewer's access rule as a query clause (an empty token list matches nothing). (A
/// per-document check of a fast field was tried instead of this union of posting lists; at
/// 300k reports it was no faster, so the plain query stays.)
pub(crate) fn access_clause(f: &Fields, viewer: &Viewer) -> Option<Box<dyn TQuery>> {
    Some(any_of(f.audience, &crate::access::tokens(viewer)))
}

/// The whole tantivy query for a search: terms, exclusions, filters, kinds and access.
pub(crate) fn build(
    f: &Fields,
    parsed: &ParsedText,
    filters: &Filters,
    kinds: &[DocKind],
    viewer: &Viewer,
) -> SearchResult<Box<dyn TQuery>> {
    let mut clauses: Vec<(Occur, Box<dyn TQuery>)> = Vec::new();
    for t in &parsed.include {
        clauses.push((Occur::Must, term_anywhere(f, t)?));
    }
    for t in &parsed.exclude {
        clauses.push((Occur::MustNot, term_anywhere(f, t)?));
    }
    if !filters.is_empty() {
        for (name, values) in filters.values() {
            if values.is_empty() {
                continue;
            }
            if let Some(field) = f.by_facet(name) {
                clauses.push((Occur::Must, any_of(field, &values)));
            }
        }
        for (name, value) in &filters.exclude {
            if let Some(field) = f.by_facet(name) {
                clauses.push((Occur::MustNot, any_of(field, std::slice::from_ref(value))));
            }
        }
    }
    if !kinds.is_empty() {
        let k: Vec<String> = kinds.iter().map(|k| k.code().to_owned()).collect();
        clauses.push((Occur::Must, any_of(f.kind, &k)));
    }
    if let Some(a) = access_clause(f, viewer) {
        clauses.push((Occur::Must, a));
    }
    if !clauses.iter().any(|(o, _)| *o == Occur::Must) {
        clauses.push((
            Occur::Must,
            Box::new(ConstScoreQuery::new(Box::new(AllQuery), 0.0)),
        ));
    }
    Ok(Box::new(BooleanQuery::new(clauses)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_words_phrases_and_exclusions() {
        let t = split("改元 \"システム 障害\" -訓練 －ＤＤｏＳ 「不正 ログイン」 - x");
        assert_eq!(
            t,
            vec![
                Token::Word {
                    neg: false,
                    text: "改元".into()
                },
                Token::Phrase {
                    neg: false,
                    text: "システム 障害".into()
                },
                Token::Word {
                    neg: true,
                    text: "訓練".into()
                },
                Token::Word {
                    neg: true,
                    text: "DDoS".into()
                },
                Token::Phrase {
                    neg: false,
                    text: "不正 ログイン".into()
                },
                Token::Word {
                    neg: false,
                    text: "x".into()
                },
            ]
        );
    }

    #[test]
    fn filters_move_out_of_the_text() {
        let q = Query::parse(
            "メール fy:令和元年度 sector:railway,finance -tlp:red severity:レベル3 kind:case http://example.jp/a",
            None,
        )
        .unwrap();
        assert_eq!(q.text, "メール http://example.jp/a");
        assert_eq!(q.filters.fiscal_year, vec![2019]);
        assert_eq!(q.filters.sector, vec!["railway", "finance"]);
        assert_eq!(q.filters.severity, vec![3]);
        assert_eq!(
            q.filters.exclude,
            vec![("tlp".to_string(), "red".to_string())]
        );
        assert_eq!(q.kinds, vec![DocKind::Case]);
        assert!(Query::parse("fy:西暦", None).is_err());
        assert!(Query::parse("tlp:white", None).is_err());
    }

    #[test]
    fn a_phrase_holding_a_quote_mark_is_written_back_whole() {
        let q = Query::parse(
            "「He said \"no\"」 -『a」b』 sector:railway -kind:case",
            None,
        )
        .unwrap();
        let again = Query::parse(&q.to_string(), None).unwrap();
        assert_eq!(again, q, "{q}");
        let p = ParsedText::new(&q.text);
        let raw: Vec<&str> = p.include.iter().map(|t| t.raw.as_str()).collect();
        assert_eq!(raw, vec!["He said \"no\""]);
        assert_eq!(p.exclude.len(), 1);
        assert_eq!(p.exclude[0].raw, "a」b");
        assert_eq!(q.filters.sector, vec!["railway"]);
        // A value that normalises to nothing (a zero-width space) would be written back as
        // `status:`, which is a word, not a filter: it is refused instead.
        for text in ["status:\u{200b}", "-sector:\u{200b}"] {
            match Query::parse(text, None) {
                Err(SearchError::Query(msg)) => assert!(msg.contains("空"), "{msg}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn parsed_text_units() {
        let p = ParsedText::new("Emotet感染 -\"訓練 メール\" 炎");
        assert_eq!(p.include.len(), 2);
        assert_eq!(p.exclude.len(), 1);
        assert_eq!(p.include[0].units.len(), 2);
        assert_eq!(p.include[1].units, vec![(0, QueryUnit::Prefix('炎'))]);
        // Punctuation alone is no term.
        assert!(ParsedText::new("、。").include.is_empty());
    }
}
