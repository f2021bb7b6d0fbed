//! Property tests for the HTML form decoder (robustness): `FormData::parse`
//! takes any body without panicking, keeps every name/value pair in order (repeats too),
//! turns browser CRLF line breaks into LF and nothing else, and its accessors agree.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "helpers of tests stop at the line that failed, as the tests do"
)]

use kizuki_web::form::FormData;
use proptest::prelude::*;

/// Names and values with what forms carry: Japanese text, reserved characters (`&`, `=`,
/// `+`, `%`), line breaks in both conventions, and the empty string.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z_\\[\\]0-9]{1,8}",
        3 => "[a-zA-Z0-9あ-ん日付報告 &=+%#;\r\n]{0,16}",
        1 => Just(String::new()),
        1 => ".{0,12}",
    ]
}

/// Names drawn from a small set so repeats (checkboxes, multi-selects) are frequent.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec!["causes", "title", "tlp", "flag", "n"]).prop_map(str::to_owned),
        1 => text(),
    ]
}

fn encode(pairs: &[(String, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any bytes at all (not even UTF-8): an answer, and the accessors agree with each other.
    #[test]
    fn any_body_decodes_and_accessors_agree(
        pairs in prop::collection::vec((name(), text()), 0..4),
        noise in prop::collection::vec(any::<u8>(), 0..64),
        probe in name(),
    ) {
        // Well-formed pairs then raw bytes, so the probed names are often present.
        let mut body = encode(&pairs).into_bytes();
        body.push(b'&');
        body.extend(noise);
        let f = FormData::parse(&body);
        let all = f.all(&probe);
        prop_assert_eq!(f.has(&probe), !all.is_empty());
        prop_assert_eq!(f.get(&probe), all.first().map_or("", String::as_str));
        if f.flag(&probe) {
            prop_assert!(f.has(&probe));
            prop_assert!(!matches!(f.get(&probe), "0" | "false" | ""));
        }
        if let Some(n) = f.i64(&probe) {
            prop_assert_eq!(f.get(&probe).trim().parse::<i64>().ok(), Some(n));
        }
    }

    /// What a browser encodes comes back: every value of a name in order, the first one from
    /// `get`, CRLF read as LF and every other character as sent.
    #[test]
    fn encoded_pairs_round_trip(pairs in prop::collection::vec((name(), text()), 0..10)) {
        let f = FormData::parse(encode(&pairs).as_bytes());
        for (k, _) in &pairs {
            let want: Vec<String> = pairs
                .iter()
                .filter(|(n, _)| n == k)
                .map(|(_, v)| v.replace("\r\n", "\n"))
                .collect();
            prop_assert_eq!(f.all(k), want.clone());
            prop_assert_eq!(f.get(k), want[0].as_str());
            prop_assert!(f.has(k));
        }
    }

    /// Numbers survive encoding with the spaces people type around them; anything else is
    /// no number rather than an error or a zero.
    #[test]
    fn numbers_parse_with_spaces_and_only_numbers(n in any::<i64>(), pad in "[ \t]{0,3}", junk in "[a-z]{1,4}") {
        let f = FormData::parse(encode(&[
            ("v".to_owned(), format!("{pad}{n}{pad}")),
            ("w".to_owned(), format!("{n}{junk}")),
        ]).as_bytes());
        prop_assert_eq!(f.i64("v"), Some(n));
        prop_assert_eq!(f.i64("w"), None);
        prop_assert_eq!(f.i64("absent"), None);
    }
}
