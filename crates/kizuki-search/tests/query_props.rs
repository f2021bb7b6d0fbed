//! Property tests for the search query syntax, a parser of outside input that must never
//! panic: whatever a user types, `Query::parse` and `ParsedText::new` answer without panicking; the filters taken
//! out are exactly the `name:value` tokens, the rest of the text is kept as written; a bad
//! filter value is refused naming the token; an unclosed phrase runs to the end of the text;
//! a parsed query written back with `Display` parses to the same query.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "helpers of tests stop at the line that failed, as the tests do"
)]

use kizuki_domain::fiscal::FiscalYear;
use kizuki_domain::taxonomy::{Taxonomy, Tlp};
use kizuki_search::normalize::normalize;
use kizuki_search::query::ParsedText;
use kizuki_search::{Query, SearchError};
use proptest::prelude::*;
use std::sync::OnceLock;

static TAXONOMY: OnceLock<Taxonomy> = OnceLock::new();

fn taxonomy() -> &'static Taxonomy {
    TAXONOMY.get_or_init(|| kizuki_dataset::default_taxonomy().expect("the shipped taxonomy"))
}

/// One token of a generated query, with what the parser must make of it.
#[derive(Debug, Clone)]
enum Tok {
    /// Stays in the text, exactly so.
    Text(String),
    /// A filter: (canonical facet name, value as indexed, excluded?).
    Filter(&'static str, String, bool),
}

/// A plain word: no whitespace, colon, quote or leading minus, already in NFKC form.
fn word() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9ぁ-ゖ障害改元鉄道訓練]{1,8}"
}

/// A word with a colon whose name is no filter (`x…:`): it must stay text.
fn not_a_filter() -> impl Strategy<Value = String> {
    "x[a-z]{0,3}:[a-z0-9]{0,4}"
}

fn text_tok() -> impl Strategy<Value = Tok> {
    prop_oneof![
        4 => word().prop_map(Tok::Text),
        1 => word().prop_map(|w| Tok::Text(format!("-{w}"))),
        1 => not_a_filter().prop_map(Tok::Text),
        // Phrases come back as `"…"` whichever quotes the user typed.
        1 => (prop::collection::vec(word(), 1..3), any::<bool>()).prop_map(|(ws, neg)| {
            let minus = if neg { "-" } else { "" };
            Tok::Text(format!("{minus}\"{}\"", ws.join(" ")))
        }),
    ]
}

/// How a phrase token is typed (its text in the generated query) when `ja` is set.
fn typed(tok: &str, ja: bool) -> String {
    if !ja {
        return tok.to_owned();
    }
    let (minus, rest) = match tok.strip_prefix('-') {
        Some(r) => ("-", r),
        None => ("", tok),
    };
    match rest.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) => format!("{minus}「{inner}」"),
        None => tok.to_owned(),
    }
}

/// A valid filter token as typed, with the filter it must become.
fn filter_tok() -> impl Strategy<Value = (String, Tok)> {
    let fy = (1990i32..2040, any::<bool>()).prop_map(|(y, ja)| {
        let written = if ja && y >= 2019 {
            format!("令和{}年度", y - 2018)
        } else {
            y.to_string()
        };
        (format!("fy:{written}"), "fiscal_year", y.to_string())
    });
    let sector = prop::sample::select(vec!["railway", "finance", "electricity", "water"])
        .prop_map(|c| (format!("sector:{c}"), "sector", normalize(c)));
    let tlp = prop::sample::select(Tlp::ALL.to_vec())
        .prop_map(|t| (format!("tlp:{}", t.code()), "tlp", t.code().to_owned()));
    let severity = (0u8..=4).prop_map(|n| (format!("severity:{n}"), "severity", n.to_string()));
    let org = (1i64..100_000).prop_map(|n| (format!("org:{n}"), "org", n.to_string()));
    let status = prop::sample::select(vec!["new", "triaged", "closed"])
        .prop_map(|s| (format!("status:{s}"), "status", normalize(s)));
    (
        prop_oneof![fy, sector, tlp, severity, org, status],
        any::<bool>(),
    )
        .prop_map(|((typed, name, value), neg)| {
            let text = if neg { format!("-{typed}") } else { typed };
            (text, Tok::Filter(name, value, neg))
        })
}

/// A query as typed (tokens joined by one or more spaces, ASCII or ideographic) and its tokens.
fn query() -> impl Strategy<Value = (String, Vec<Tok>)> {
    let tok = prop_oneof![
        3 => (text_tok(), any::<bool>()).prop_map(|(t, ja)| match &t {
            Tok::Text(s) => (typed(s, ja), t),
            Tok::Filter(..) => unreachable!(),
        }),
        2 => filter_tok(),
    ];
    (
        prop::collection::vec(tok, 0..8),
        prop::sample::select(vec![" ", "  ", "\u{3000}", " \t"]),
    )
        .prop_map(|(toks, sep)| {
            let text = toks
                .iter()
                .map(|(t, _)| t.as_str())
                .collect::<Vec<_>>()
                .join(sep);
            (text, toks.into_iter().map(|(_, t)| t).collect())
        })
}

/// A phrase as typed: any of the four quote pairs, content that may hold the other pairs'
/// quote marks (`「He said "no"」`), sometimes negated, sometimes left unclosed.
fn quoted_phrase() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec![("\"", "\""), ("「", "」"), ("『", "』"), ("“", "”")]),
        "[a-z障害 \"「」『』“”:-]{1,12}",
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|((open, close), inner, neg, closed)| {
            // The content stops at the pair's own closing mark, as the parser would.
            let inner: String = inner.split(close).next().unwrap_or_default().to_owned();
            format!(
                "{}{open}{inner}{}",
                if neg { "-" } else { "" },
                if closed { close } else { "" }
            )
        })
}

/// A query as typed that leans on quote marks: phrases of every pair, words with quote marks
/// inside (`a"b`), filter tokens, and plain words, in any order.
fn quote_heavy_query() -> impl Strategy<Value = String> {
    let tok = prop_oneof![
        3 => quoted_phrase(),
        2 => "[a-z]{1,3}[\"「」『』“”][a-z]{0,3}",
        2 => filter_tok().prop_map(|(t, _)| t),
        2 => word(),
    ];
    (prop::collection::vec(tok, 0..6), any::<bool>()).prop_map(|(toks, unclosed_last)| {
        let mut text = toks.join(" ");
        if unclosed_last {
            text.push_str(" 「末尾");
        }
        text
    })
}

/// `parse(display(q)) == q` for the query `text` parses to (a refused text has nothing to
/// display), and the text left in the query parses to itself.
fn assert_round_trip(text: &str, tx: Option<&Taxonomy>) -> Result<(), TestCaseError> {
    let Ok(q) = Query::parse(text, tx) else {
        return Ok(());
    };
    let shown = q.to_string();
    let again = Query::parse(&shown, tx);
    prop_assert!(again.is_ok(), "{text:?} shown as {shown:?}: {again:?}");
    prop_assert_eq!(
        again.ok(),
        Some(q.clone()),
        "{:?} shown as {:?}",
        text,
        shown
    );
    let text_again = Query::parse(&q.text, tx).map(|q| q.text);
    prop_assert_eq!(text_again.ok(), Some(q.text.clone()), "{:?}", text);
    Ok(())
}

/// The filters of a parsed query as (name, value, excluded), in a stable order.
fn filters_of(q: &Query) -> Vec<(String, String, bool)> {
    let mut out: Vec<(String, String, bool)> = q
        .filters
        .values()
        .into_iter()
        .flat_map(|(name, vs)| vs.into_iter().map(move |v| (name.to_owned(), v, false)))
        .collect();
    out.extend(
        q.filters
            .exclude
            .iter()
            .map(|(n, v)| (n.clone(), v.clone(), true)),
    );
    out.sort();
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Anything typed: an answer, never a panic; a refusal is a query error naming the
    /// `name:value` token at fault, which is in the text.
    #[test]
    fn parse_is_total(text in ".{0,60}", with_tx in any::<bool>()) {
        let tx = with_tx.then(taxonomy);
        match Query::parse(&text, tx) {
            Ok(q) => {
                let again = Query::parse(&q.text, tx);
                prop_assert!(again.is_ok(), "the text left over must parse again: {:?}", q.text);
            }
            Err(SearchError::Query(msg)) => {
                let (token, _) = msg.split_once(": ").expect("message starts with the token");
                let (name, _) = token.split_once(':').expect("token is name:value");
                prop_assert!(!name.is_empty(), "{msg}");
            }
            Err(other) => prop_assert!(false, "{text:?}: unexpected error {other}"),
        }
        let parsed = ParsedText::new(&text);
        for t in parsed.include.iter().chain(parsed.exclude.iter()) {
            prop_assert!(!t.units.is_empty(), "{text:?}: empty term {t:?}");
        }
    }

    /// Generated queries: the filters are exactly the filter tokens (names canonical, values
    /// as indexed, exclusions kept apart), the text is exactly the other tokens in order,
    /// and parsing that text again takes nothing more out.
    #[test]
    fn filters_are_exactly_the_filter_tokens((text, toks) in query()) {
        let q = Query::parse(&text, None).unwrap();
        let mut expected: Vec<(String, String, bool)> = toks
            .iter()
            .filter_map(|t| match t {
                Tok::Filter(n, v, neg) => Some(((*n).to_owned(), v.clone(), *neg)),
                Tok::Text(_) => None,
            })
            .collect();
        expected.sort();
        prop_assert_eq!(filters_of(&q), expected, "{}", text);
        let words: Vec<&str> = toks
            .iter()
            .filter_map(|t| match t {
                Tok::Text(s) => Some(s.as_str()),
                Tok::Filter(..) => None,
            })
            .collect();
        prop_assert_eq!(&q.text, &words.join(" "), "{}", text);
        let again = Query::parse(&q.text, None).unwrap();
        prop_assert_eq!(&again.text, &q.text);
        prop_assert!(filters_of(&again).is_empty());
    }

    /// Display then parse is the identity: for generated queries, quote-heavy ones (a `"`
    /// inside 「…」, quote marks inside words, unclosed phrases) and anything at all, with
    /// and without the taxonomy.
    #[test]
    fn display_then_parse_is_the_identity(
        (generated, _) in query(),
        quoted in quote_heavy_query(),
        anything in ".{0,40}",
        with_tx in any::<bool>(),
    ) {
        let tx = with_tx.then(taxonomy);
        for text in [&generated, &quoted, &anything] {
            assert_round_trip(text, tx)?;
        }
    }

    /// A filter with a value it cannot take refuses the whole query, naming that token,
    /// wherever it stands among valid ones.
    #[test]
    fn bad_filter_values_are_refused_by_name(
        (text, _) in query(),
        (bad, facet) in prop::sample::select(vec![
            ("severity:9", "severity"),
            ("severity:x", "severity"),
            ("tlp:purple", "tlp"),
            ("org:abc", "org"),
            ("fy:abc", "fiscal_year"),
            ("kind:zzz", "kind"),
            ("年度:昨年", "fiscal_year"),
        ]),
        at_start in any::<bool>(),
    ) {
        let full = if at_start { format!("{bad} {text}") } else { format!("{text} {bad}") };
        let value = bad.split_once(':').map(|(_, v)| v).unwrap_or_default();
        match Query::parse(&full, None) {
            Err(SearchError::Query(msg)) => {
                prop_assert!(msg.starts_with(&format!("{facet}:{value}: ")), "{full:?}: {msg}");
            }
            other => prop_assert!(false, "{full:?}: {other:?}"),
        }
    }

    /// Fiscal-year filters accept 和暦 and 西暦 alike and index the 西暦 year.
    #[test]
    fn fiscal_year_filters_match_the_domain_parser(y in 1990i32..2040) {
        let reiwa = format!("fy:令和{}年度", y - 2018);
        let q = Query::parse(&format!("fy:{y}"), None).unwrap();
        prop_assert_eq!(&q.filters.fiscal_year, &vec![y]);
        if y >= 2019 {
            let q2 = Query::parse(&reiwa, None).unwrap();
            prop_assert_eq!(q2.filters.fiscal_year, vec![FiscalYear::parse(&reiwa[3..]).unwrap().year()]);
        }
    }

    /// Phrases: a closed phrase and an unclosed one (running to the end of the text) give
    /// one term with the words inside, required or excluded by the minus before it.
    #[test]
    fn phrases_closed_or_running_to_the_end(
        ws in prop::collection::vec("[a-z]{2,6}", 1..4),
        closed in any::<bool>(),
        neg in any::<bool>(),
        quotes in prop::sample::select(vec![("\"", "\""), ("「", "」"), ("『", "』"), ("“", "”")]),
    ) {
        let inner = ws.join(" ");
        let text = format!(
            "{}{}{inner}{}",
            if neg { "-" } else { "" },
            quotes.0,
            if closed { quotes.1 } else { "" }
        );
        let p = ParsedText::new(&text);
        let (hit, other) = if neg { (&p.exclude, &p.include) } else { (&p.include, &p.exclude) };
        prop_assert_eq!(hit.len(), 1, "{}", text);
        prop_assert!(other.is_empty(), "{}", text);
        prop_assert_eq!(&hit[0].raw, &inner);
        prop_assert_eq!(hit[0].units.len(), ws.len(), "one unit per Latin word");
    }
}
