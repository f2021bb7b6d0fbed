//! Splitting normalised text into index terms: Latin words (letters and digits) as whole
//! words, and runs of Japanese (kanji, hiragana, katakana; also Hangul) as overlapping
//! character bigrams, with a final unigram per run so that every character starts a term.
//!
//! Positions count characters inside a run and words outside, so a run of n characters
//! occupies n positions. That makes a multi-character Japanese query an exact substring
//! check (a phrase of its bigrams), lets quoted phrases mix scripts ("Emotet感染"), and lets a
//! one-character query match every term that starts with that character. tantivy's own
//! `NgramTokenizer` puts all n-grams at position 0, which is why it is not used.

use crate::normalize::{Normalized, normalize_mapped};
use std::ops::Range;

/// The script class of a normalised character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Japanese (and other CJK) text, indexed as bigrams.
    Cjk,
    /// Letters and digits of other scripts, indexed as words.
    Word,
    /// Spaces and punctuation: separate terms and are not indexed.
    Other,
}

pub(crate) fn class(c: char) -> Class {
    if is_cjk(c) {
        Class::Cjk
    } else if c.is_alphanumeric() {
        Class::Word
    } else {
        Class::Other
    }
}

/// Whether `c` is CJK (kanji, kana, 々 〆 〇, Hangul): such runs are indexed as character
/// bigrams, other letters and digits as words.
pub fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3005}'..='\u{3007}'          // 々 〆 〇
        | '\u{3041}'..='\u{3096}'        // hiragana
        | '\u{309D}'..='\u{309F}'
        | '\u{30A1}'..='\u{30FA}'        // katakana (not the middle dot ・)
        | '\u{30FC}'..='\u{30FF}'
        | '\u{31F0}'..='\u{31FF}'
        | '\u{3400}'..='\u{4DBF}'        // CJK extension A
        | '\u{4E00}'..='\u{9FFF}'        // CJK unified ideographs
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{3FFFF}'
        | '\u{AC00}'..='\u{D7AF}'        // Hangul
        | '\u{1100}'..='\u{11FF}'
        | '\u{3130}'..='\u{318F}'
    )
}

/// Words longer than this (in bytes) are not indexed: base64 blobs and hashes in pasted
/// logs would only bloat the term dictionary.
const MAX_WORD_BYTES: usize = 80;

/// One index term with its position and where it lies in the original text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexToken {
    pub text: String,
    pub position: usize,
    /// Byte range in the original (not normalised) text.
    pub offsets: Range<usize>,
}

/// Runs `f` over the index terms of `text`, in order.
pub fn for_each_index_token(text: &str, mut f: impl FnMut(IndexToken)) {
    let n = normalize_mapped(text);
    let mut pos = 0usize;
    for seg in segments(&n.chars) {
        match seg.class {
            Class::Word => {
                let word: String = n.chars[seg.range.clone()].iter().collect();
                if word.len() <= MAX_WORD_BYTES {
                    f(IndexToken {
                        text: word,
                        position: pos,
                        offsets: span(&n, seg.range.clone()),
                    });
                }
                pos += 1;
            }
            Class::Cjk => {
                let r = seg.range;
                for i in r.clone() {
                    let end = if i + 1 < r.end { i + 2 } else { i + 1 };
                    f(IndexToken {
                        text: n.chars[i..end].iter().collect(),
                        position: pos,
                        offsets: span(&n, i..end),
                    });
                    pos += 1;
                }
            }
            Class::Other => {}
        }
    }
}

/// All index terms of `text`.
pub fn index_tokens(text: &str) -> Vec<IndexToken> {
    let mut out = Vec::new();
    for_each_index_token(text, |t| out.push(t));
    out
}

fn span(n: &Normalized, chars: Range<usize>) -> Range<usize> {
    let from = n.origin[chars.start].start;
    let to = n.origin[chars.end - 1].end.max(from);
    from..to
}

#[derive(Debug, Clone)]
pub(crate) struct Segment {
    pub class: Class,
    pub range: Range<usize>,
}

/// Maximal runs of one class over normalised characters (Other runs included).
pub(crate) fn segments(chars: &[char]) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::new();
    for (i, &c) in chars.iter().enumerate() {
        let k = class(c);
        match out.last_mut() {
            Some(s) if s.class == k => s.range.end = i + 1,
            _ => out.push(Segment {
                class: k,
                range: i..i + 1,
            }),
        }
    }
    out
}

/// One unit of a query term, at a position relative to the term's start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryUnit {
    /// A Latin word or a Japanese bigram: matches exactly that index term.
    Term(String),
    /// A lone Japanese character: matches any index term starting with it.
    Prefix(char),
}

/// The units of a query term and their relative positions. A Japanese run of n ≥ 2
/// characters gives its n−1 bigrams (no final unigram: the run may continue in the
/// document); a single character gives a prefix unit.
pub fn query_units(text: &str) -> Vec<(usize, QueryUnit)> {
    let n = normalize_mapped(text);
    let mut out = Vec::new();
    let mut pos = 0usize;
    for seg in segments(&n.chars) {
        match seg.class {
            Class::Word => {
                let word: String = n.chars[seg.range.clone()].iter().collect();
                if word.len() <= MAX_WORD_BYTES {
                    out.push((pos, QueryUnit::Term(word)));
                }
                pos += 1;
            }
            Class::Cjk => {
                let r = seg.range;
                if r.len() == 1 {
                    out.push((pos, QueryUnit::Prefix(n.chars[r.start])));
                } else {
                    for i in r.start..r.end - 1 {
                        out.push((
                            pos + i - r.start,
                            QueryUnit::Term(n.chars[i..i + 2].iter().collect()),
                        ));
                    }
                }
                pos += r.len();
            }
            Class::Other => {}
        }
    }
    out
}

/// The tantivy tokenizer over [`for_each_index_token`]. Registered as [`TOKENIZER`].
#[derive(Debug, Clone, Default)]
pub struct KizukiTokenizer {
    tokens: Vec<tantivy::tokenizer::Token>,
}

/// The name the tokenizer is registered under in every kizuki index.
pub const TOKENIZER: &str = "kizuki_ja";

impl tantivy::tokenizer::Tokenizer for KizukiTokenizer {
    type TokenStream<'a> = KizukiTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> KizukiTokenStream<'a> {
        self.tokens.clear();
        let tokens = &mut self.tokens;
        for_each_index_token(text, |t| {
            tokens.push(tantivy::tokenizer::Token {
                offset_from: t.offsets.start,
                offset_to: t.offsets.end,
                position: t.position,
                text: t.text,
                position_length: 1,
            });
        });
        KizukiTokenStream {
            tokens: &mut self.tokens,
            next: 0,
        }
    }
}

#[derive(Debug)]
pub struct KizukiTokenStream<'a> {
    tokens: &'a mut Vec<tantivy::tokenizer::Token>,
    next: usize,
}

impl tantivy::tokenizer::TokenStream for KizukiTokenStream<'_> {
    fn advance(&mut self) -> bool {
        if self.next < self.tokens.len() {
            self.next += 1;
            true
        } else {
            false
        }
    }

    fn token(&self) -> &tantivy::tokenizer::Token {
        &self.tokens[self
            .next
            .saturating_sub(1)
            .min(self.tokens.len().saturating_sub(1))]
    }

    fn token_mut(&mut self) -> &mut tantivy::tokenizer::Token {
        let i = self
            .next
            .saturating_sub(1)
            .min(self.tokens.len().saturating_sub(1));
        &mut self.tokens[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(text: &str) -> Vec<(String, usize)> {
        index_tokens(text)
            .into_iter()
            .map(|t| (t.text, t.position))
            .collect()
    }

    #[test]
    fn japanese_runs_become_bigrams_with_a_final_unigram() {
        assert_eq!(
            terms("改元対応"),
            vec![
                ("改元".into(), 0),
                ("元対".into(), 1),
                ("対応".into(), 2),
                ("応".into(), 3)
            ]
        );
        assert_eq!(terms("炎"), vec![("炎".into(), 0)]);
    }

    #[test]
    fn latin_words_sit_beside_bigrams() {
        assert_eq!(
            terms("Emotetに感染、PC 2台"),
            vec![
                ("emotet".into(), 0),
                ("に感".into(), 1),
                ("感染".into(), 2),
                ("染".into(), 3),
                ("pc".into(), 4),
                ("2".into(), 5),
                ("台".into(), 6),
            ]
        );
        assert_eq!(terms("ｅｍｏｔｅｔ"), terms("EMOTET"));
    }

    #[test]
    fn offsets_point_into_the_original_text() {
        let text = "ＥＭＯＴＥＴ感染";
        let toks = index_tokens(text);
        assert_eq!(&text[toks[0].offsets.clone()], "ＥＭＯＴＥＴ");
        assert_eq!(&text[toks[1].offsets.clone()], "感染");
        assert_eq!(&text[toks[2].offsets.clone()], "染");
    }

    #[test]
    fn query_units_leave_out_the_final_unigram() {
        assert_eq!(
            query_units("改元"),
            vec![(0, QueryUnit::Term("改元".into()))]
        );
        assert_eq!(query_units("炎"), vec![(0, QueryUnit::Prefix('炎'))]);
        assert_eq!(
            query_units("Emotet感染"),
            vec![
                (0, QueryUnit::Term("emotet".into())),
                (1, QueryUnit::Term("感染".into()))
            ]
        );
        assert_eq!(
            query_units("2019年 障害"),
            vec![
                (0, QueryUnit::Term("2019".into())),
                (1, QueryUnit::Prefix('年')),
                (2, QueryUnit::Term("障害".into()))
            ]
        );
    }

    #[test]
    fn tantivy_stream_yields_every_token() {
        use tantivy::tokenizer::{TokenStream, Tokenizer};
        let mut tk = KizukiTokenizer::default();
        let mut s = tk.token_stream("改元 Emotet");
        let mut seen = Vec::new();
        while s.advance() {
            seen.push((s.token().text.clone(), s.token().position));
        }
        assert_eq!(
            seen,
            vec![
                ("改元".to_string(), 0),
                ("元".to_string(), 1),
                ("emotet".to_string(), 2)
            ]
        );
    }
}
