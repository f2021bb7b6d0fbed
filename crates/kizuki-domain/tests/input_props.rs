//! Property tests for the domain's parsers of outside input, which must never panic: the
//! 和暦 date parser and the report input. The unit tests beside the parsers hold the exact
//! formats and the every-day round trip; these feed arbitrary text and check that nothing
//! panics, that every error explains itself in both languages and names its field, and that
//! the parser's answers agree with each other.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "helpers of tests stop at the line that failed, as the tests do"
)]

use chrono::{Datelike, Duration, NaiveDate};
use kizuki_domain::report::{MAX_TEXT, MAX_TITLE, ReportInput, SystemRef};
use kizuki_domain::taxonomy::{RawTaxonomy, Taxonomy, Tlp, Vocabulary};
use kizuki_domain::wareki::{
    DateParseError, Era, Wareki, format_both, format_seireki, format_wareki, parse_date,
    parse_date_strict,
};
use proptest::prelude::*;
use std::collections::HashSet;
use std::sync::OnceLock;

fn day0() -> NaiveDate {
    NaiveDate::from_ymd_opt(1873, 1, 1).unwrap()
}

fn any_day() -> impl Strategy<Value = NaiveDate> {
    let span = (NaiveDate::from_ymd_opt(2100, 12, 31).unwrap() - day0()).num_days();
    (0..=span).prop_map(|o| day0() + Duration::days(o))
}

/// Text made of the pieces dates are written with, shuffled, so the parser's deeper branches
/// (era names, kanji numerals, separators, parentheses, weekdays) are reached far more often
/// than by uniformly random characters.
fn date_like() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "令和", "平成", "昭和", "大正", "明治", "R", "H", "S", "T", "M", "r", "h", "㋿", "㍻",
        "元", "年", "月", "日", "〇", "一", "二", "三", "十", "五", "九", "0", "1", "2", "9", "12",
        "31", "2019", "1989", "99", "-", "/", ".", "．", "／", "（", "）", "(", ")", "水", "Wed",
        " ", "　", "２", "０", "x", "年度",
    ]);
    prop::collection::vec(pieces, 0..12).prop_map(|v| v.concat())
}

/// Every error explains itself in Japanese and English.
fn explained(e: &DateParseError) -> bool {
    !e.to_string().trim().is_empty() && !e.message_ja().trim().is_empty()
}

static TAXONOMY: OnceLock<Taxonomy> = OnceLock::new();

/// The taxonomy the application ships, so codes are the real ones.
fn taxonomy() -> &'static Taxonomy {
    TAXONOMY.get_or_init(|| {
        let raw: RawTaxonomy = toml::from_str(include_str!("../../../data/taxonomy.toml"))
            .expect("data/taxonomy.toml parses");
        Taxonomy::parse(raw).expect("data/taxonomy.toml is valid")
    })
}

/// A code: often a real one, sometimes junk.
fn code(vocab: Vocabulary) -> impl Strategy<Value = String> {
    let real: Vec<String> = taxonomy()
        .terms(vocab)
        .iter()
        .map(|t| t.code.clone())
        .collect();
    // Mostly real, so a fair share of whole inputs is valid and the success branch is
    // exercised too.
    prop_oneof![
        12 => prop::sample::select(real),
        1 => Just(String::new()),
        1 => ".{0,12}",
        1 => "[a-z-]{1,10}",
    ]
}

/// Text around the length limits, blank, or arbitrary.
fn text(max: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just(String::new()),
        1 => Just("   ".to_owned()),
        8 => ".{0,40}",
        1 => (max - 2..max + 3).prop_map(|n| "あ".repeat(n)),
    ]
}

fn report_input() -> impl Strategy<Value = ReportInput> {
    let tlp = prop_oneof![
        4 => prop::sample::select(Tlp::ALL.to_vec()).prop_map(|t| t.label().to_owned()),
        1 => Just(String::new()),
        1 => ".{0,10}",
    ];
    let system = (
        text(MAX_TITLE),
        proptest::option::of(".{0,8}"),
        any::<bool>(),
    )
        .prop_map(|(name, vendor, shared)| SystemRef {
            name,
            vendor,
            shared,
        });
    let when = proptest::option::of(
        (0i64..2_000_000_000)
            .prop_map(|s| chrono::DateTime::<chrono::Utc>::from_timestamp(s, 0).unwrap()),
    );
    (
        (
            text(MAX_TITLE),
            code(Vocabulary::Sector),
            code(Vocabulary::Region),
        ),
        (
            code(Vocabulary::EventType),
            prop::collection::vec(code(Vocabulary::Cause), 0..4),
        ),
        (
            proptest::option::of(prop_oneof![6 => 0i64..=4, 1 => -3i64..8]),
            proptest::option::of(prop_oneof![6 => 0i64..1_000_000, 1 => any::<i64>()]),
            proptest::option::of(prop_oneof![6 => 0i64..1_000_000, 1 => any::<i64>()]),
        ),
        (text(MAX_TITLE), text(MAX_TEXT), text(MAX_TEXT)),
        (
            prop::collection::vec(system, 0..3),
            prop::collection::vec(".{0,6}", 0..3),
        ),
        (tlp, when.clone(), when, any::<bool>()),
    )
        .prop_map(
            |(
                (title, sector, region),
                (event_type, causes),
                (severity, people_affected, duration_minutes),
                (affected_service, impact_description, summary),
                (systems, vendors),
                (tlp, occurred_at, detected_at, actual_harm),
            )| ReportInput {
                title,
                sector,
                region,
                affected_service,
                occurred_at,
                detected_at,
                event_type,
                causes,
                severity,
                people_affected,
                duration_minutes,
                actual_harm,
                impact_description,
                systems,
                vendors,
                tlp,
                summary,
            },
        )
}

/// The fields a `ReportInput` error may name: the struct's own, with an index for lists.
fn known_field(field: &str, input: &ReportInput) -> bool {
    const PLAIN: [&str; 12] = [
        "title",
        "sector",
        "region",
        "affected_service",
        "event_type",
        "severity",
        "people_affected",
        "duration_minutes",
        "impact_description",
        "detected_at",
        "tlp",
        "summary",
    ];
    if PLAIN.contains(&field) {
        return true;
    }
    let indexed = |prefix: &str, len: usize, suffix: &str| {
        field
            .strip_prefix(prefix)
            .and_then(|r| r.strip_suffix(suffix))
            .and_then(|n| n.parse::<usize>().ok())
            .is_some_and(|i| i < len)
    };
    indexed("causes[", input.causes.len(), "]")
        || indexed("systems[", input.systems.len(), "].name")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Arbitrary text: an answer, never a panic, and an error says why in both languages.
    #[test]
    fn date_parser_total_on_any_text(input in ".{0,40}") {
        match parse_date(&input) {
            Ok(p) => prop_assert!(p.date >= day0(), "{input:?} gave {}", p.date),
            Err(e) => prop_assert!(explained(&e), "{input:?}: {e:?}"),
        }
    }

    /// Date-shaped text: the same, plus strict and lenient agree: strict accepts exactly the
    /// lenient answers that needed no correction, and refuses the others with a reason.
    #[test]
    fn date_parser_strict_agrees_with_lenient(input in date_like()) {
        let lenient = parse_date(&input);
        let strict = parse_date_strict(&input);
        match (&lenient, &strict) {
            (Ok(p), Ok(d)) => {
                prop_assert!(p.lenient.is_none(), "{input:?}");
                prop_assert_eq!(p.date, *d);
            }
            (Ok(p), Err(e)) => {
                prop_assert!(p.lenient.is_some(), "{input:?}: strict refused {e:?}");
                let is_after_end = matches!(e, DateParseError::AfterEraEnd { .. });
                prop_assert!(is_after_end, "{input:?}: {e:?}");
                prop_assert!(explained(e));
            }
            (Err(a), Err(b)) => {
                prop_assert_eq!(a, b);
                prop_assert!(explained(a), "{input:?}: {a:?}");
            }
            (Err(e), Ok(d)) => prop_assert!(false, "{input:?}: lenient {e:?}, strict {d}"),
        }
    }

    /// Whatever parses, re-parses from its own 和暦 rendering to the same day (the parser is
    /// idempotent through the formatter), and a lenient reading names an era date that does
    /// not exist together with the one meant.
    #[test]
    fn parsed_dates_reparse_from_their_rendering(input in date_like()) {
        if let Ok(p) = parse_date(&input) {
            let again = parse_date(&format_wareki(p.date)).unwrap();
            prop_assert_eq!(again.date, p.date);
            prop_assert!(again.lenient.is_none());
            if let Some(l) = &p.lenient {
                prop_assert_eq!(l.corrected.to_date(), Ok(p.date));
                prop_assert!(!l.message_ja().is_empty());
                prop_assert!(l.written != l.corrected.to_string());
            }
        }
    }

    /// The combined rendering `2019年5月1日（令和元年5月1日）` reads back, also with full-width
    /// digits, spaces and a weekday, as users paste it from documents.
    #[test]
    fn decorated_renderings_round_trip(day in any_day(), spaces in any::<bool>()) {
        let both = format_both(day);
        prop_assert_eq!(parse_date(&both).map(|p| p.date), Ok(day), "{}", both);
        let wide: String = format_seireki(day)
            .chars()
            .map(|c| match c.to_digit(10) {
                Some(d) => char::from_u32(0xFF10 + d).unwrap(),
                None => c,
            })
            .collect();
        let weekday = ["月", "火", "水", "木", "金", "土", "日"]
            [day.weekday().num_days_from_monday() as usize];
        let decorated = if spaces {
            format!(" {} （{weekday}） ", wide.chars().map(String::from).collect::<Vec<_>>().join(" "))
        } else {
            format!("{wide}（{weekday}）")
        };
        prop_assert_eq!(parse_date(&decorated).map(|p| p.date), Ok(day), "{}", decorated);
    }

    /// An era year written past the era's end is read as the day it would be, flagged; the
    /// strict parser refuses it naming the era date.
    #[test]
    fn era_overflow_is_lenient_and_flagged(extra in 1u32..40, month in 1u32..=12, dom in 1u32..=28) {
        let heisei_last_year = 31u32; // 平成31年 = 2019, the era ended on 4月30日
        let year = heisei_last_year + extra;
        let input = format!("平成{year}年{month}月{dom}日");
        let expected = NaiveDate::from_ymd_opt(1988 + year as i32, month, dom).unwrap();
        let p = parse_date(&input).unwrap();
        prop_assert_eq!(p.date, expected);
        prop_assert!(p.lenient.is_some());
        prop_assert_eq!(Wareki::from_date(expected).unwrap().era, Era::Reiwa);
        let is_after_end = matches!(parse_date_strict(&input), Err(DateParseError::AfterEraEnd { .. }));
        prop_assert!(is_after_end);
    }

    /// Arbitrary report input: never a panic; every error names a field of the input (with a
    /// valid index for lists) and explains itself; a success has trimmed, bounded text and
    /// only known codes, and parsing its own `ReportInput` again gives the same details.
    #[test]
    fn report_input_errors_name_fields(input in report_input()) {
        let tx = taxonomy();
        match input.parse(tx) {
            Err(errs) => {
                prop_assert!(!errs.is_empty());
                for e in errs.iter() {
                    prop_assert!(known_field(&e.field, &input), "unknown field {:?} in {e}", e.field);
                    prop_assert!(!e.message_ja().is_empty() && !e.message_en().is_empty());
                }
                // Each missing essential is reported against its own name.
                for (field, value) in [("title", &input.title), ("summary", &input.summary), ("sector", &input.sector), ("event_type", &input.event_type)] {
                    if value.trim().is_empty() {
                        prop_assert!(errs.for_field(field).is_some(), "{field} blank but not reported");
                    }
                }
            }
            Ok(details) => {
                prop_assert_eq!(details.title.trim(), details.title.as_str());
                prop_assert!(!details.title.is_empty() && details.title.chars().count() <= MAX_TITLE);
                prop_assert!(!details.summary.is_empty() && details.summary.chars().count() <= MAX_TEXT);
                prop_assert!(tx.contains(Vocabulary::Sector, details.sector.as_str()));
                prop_assert!(tx.contains(Vocabulary::EventType, details.event_type.as_str()));
                let distinct: HashSet<_> = details.causes.iter().collect();
                prop_assert_eq!(distinct.len(), details.causes.len(), "causes are deduplicated");
                if let (Some(o), Some(d)) = (details.occurred_at, details.detected_at) {
                    prop_assert!(d >= o);
                }
                let again = ReportInput::from(&details).parse(tx);
                prop_assert_eq!(again, Ok(details));
            }
        }
    }
}
