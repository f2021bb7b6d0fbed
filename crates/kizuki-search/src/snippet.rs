//! Snippets and highlights on the original text: the window of a document where the query's
//! terms are densest, with byte ranges to mark. Text is returned as data with ranges, never
//! as markup, so nothing in a report (a phishing URL, a script tag) can become live; use
//! [`Highlighted::to_html`] for escaped HTML with `<mark>`.

use crate::analysis::{IndexToken, QueryUnit, index_tokens};
use crate::query::TermExpr;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::ops::Range;

/// A piece of text with byte ranges to highlight (sorted, not overlapping).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Highlighted {
    pub text: String,
    pub highlights: Vec<Range<usize>>,
}

impl Highlighted {
    /// HTML-escaped text with each highlight in `<mark>`. URLs stay plain text.
    pub fn to_html(&self) -> String {
        let mut out = String::with_capacity(self.text.len() + 16 * self.highlights.len());
        let mut at = 0;
        for r in &self.highlights {
            if r.start < at || r.end > self.text.len() || r.start > r.end {
                continue;
            }
            kizuki_domain::text::escape_html_into(&mut out, &self.text[at..r.start]);
            out.push_str("<mark>");
            kizuki_domain::text::escape_html_into(&mut out, &self.text[r.clone()]);
            out.push_str("</mark>");
            at = r.end;
        }
        kizuki_domain::text::escape_html_into(&mut out, &self.text[at..]);
        out
    }

    /// The text with highlights in 【】, for terminals.
    pub fn to_marked(&self, open: &str, close: &str) -> String {
        let mut out = String::new();
        let mut at = 0;
        for r in &self.highlights {
            if r.start < at || r.end > self.text.len() {
                continue;
            }
            out.push_str(&self.text[at..r.start]);
            out.push_str(open);
            out.push_str(&self.text[r.clone()]);
            out.push_str(close);
            at = r.end;
        }
        out.push_str(&self.text[at..]);
        out
    }
}

/// Byte ranges of `text` where any of `terms` occurs (a phrase only where all its parts
/// stand at their places).
pub fn match_ranges(text: &str, terms: &[TermExpr]) -> Vec<Range<usize>> {
    if terms.is_empty() {
        return Vec::new();
    }
    let tokens = index_tokens(text);
    let mut at: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, t) in tokens.iter().enumerate() {
        at.entry(t.position).or_default().push(i);
    }
    let unit_matches = |tok: &IndexToken, u: &QueryUnit| match u {
        QueryUnit::Term(s) => tok.text == *s,
        QueryUnit::Prefix(c) => tok.text.starts_with(*c),
    };
    // A prefix unit marks only its own character, not the whole bigram it starts.
    let unit_span = |tok: &IndexToken, u: &QueryUnit| match u {
        QueryUnit::Prefix(_) => {
            let len = text[tok.offsets.start..]
                .chars()
                .next()
                .map_or(0, char::len_utf8);
            tok.offsets.start..(tok.offsets.start + len).min(tok.offsets.end)
        }
        QueryUnit::Term(_) => tok.offsets.clone(),
    };
    let mut ranges = Vec::new();
    for term in terms {
        let Some((first_off, first)) = term.units.first() else {
            continue;
        };
        for tok in &tokens {
            if !unit_matches(tok, first) {
                continue;
            }
            let Some(base) = tok.position.checked_sub(*first_off) else {
                continue;
            };
            let mut span = unit_span(tok, first);
            let mut ok = true;
            for (off, u) in &term.units[1..] {
                let found = at
                    .get(&(base + off))
                    .and_then(|ix| ix.iter().map(|&i| &tokens[i]).find(|t| unit_matches(t, u)));
                match found {
                    Some(t) => {
                        let s = unit_span(t, u);
                        span.start = span.start.min(s.start);
                        span.end = span.end.max(s.end);
                    }
                    None => {
                        ok = false;
                        break;
                    }
                }
            }
            if ok {
                ranges.push(span);
            }
        }
    }
    merge(ranges)
}

fn merge(mut r: Vec<Range<usize>>) -> Vec<Range<usize>> {
    r.sort_by_key(|x| (x.start, x.end));
    let mut out: Vec<Range<usize>> = Vec::with_capacity(r.len());
    for x in r {
        match out.last_mut() {
            Some(l) if x.start <= l.end => l.end = l.end.max(x.end),
            _ => out.push(x),
        }
    }
    out
}

/// All of `text` with its matches highlighted (for titles).
pub fn highlight_all(text: &str, terms: &[TermExpr]) -> Highlighted {
    Highlighted {
        text: text.to_owned(),
        highlights: match_ranges(text, terms),
    }
}

/// About this many characters of context around the densest cluster of matches.
pub const SNIPPET_CHARS: usize = 120;

/// The best window of `text` for `terms`, about `max_chars` characters, with `…` where cut.
pub fn snippet(text: &str, terms: &[TermExpr], max_chars: usize) -> Highlighted {
    let ranges = match_ranges(text, terms);
    // Char boundaries as byte offsets, to cut by characters.
    let bounds: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(text.len()))
        .collect();
    let nchars = bounds.len() - 1;
    let char_at = |byte: usize| bounds.partition_point(|&b| b < byte);
    let (start_c, end_c) = if nchars <= max_chars {
        (0, nchars)
    } else if ranges.is_empty() {
        (0, max_chars)
    } else {
        // The window (anchored a little before some match) holding the most matches.
        let lead = max_chars / 5;
        let mut best = (0usize, 0usize);
        for r in &ranges {
            let s = char_at(r.start).saturating_sub(lead);
            let e = (s + max_chars).min(nchars);
            let n = ranges
                .iter()
                .filter(|x| char_at(x.start) >= s && char_at(x.end) <= e)
                .count();
            if n > best.1 {
                best = (s, n);
            }
        }
        let s = best.0.min(nchars.saturating_sub(max_chars));
        (s, s + max_chars)
    };
    let (from, to) = (bounds[start_c], bounds[end_c]);
    let mut out = String::new();
    let prefix = if from > 0 { "…" } else { "" };
    out.push_str(prefix);
    // Line breaks would break a one-line result list; a space keeps byte offsets.
    out.push_str(&text[from..to].replace(['\n', '\r', '\t'], " "));
    if to < text.len() {
        out.push('…');
    }
    let shift = prefix.len();
    let highlights = ranges
        .into_iter()
        .filter(|r| r.start >= from && r.end <= to)
        .map(|r| r.start - from + shift..r.end - from + shift)
        .collect();
    Highlighted {
        text: out,
        highlights,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::ParsedText;

    fn terms(q: &str) -> Vec<TermExpr> {
        ParsedText::new(q).include
    }

    #[test]
    fn highlights_on_the_original_text() {
        let text = "ＥＭＯＴＥＴに感染したＰＣを隔離した。";
        let h = highlight_all(text, &terms("emotet 感染"));
        let marked: Vec<&str> = h.highlights.iter().map(|r| &text[r.clone()]).collect();
        assert_eq!(marked, vec!["ＥＭＯＴＥＴ", "感染"]);
    }

    #[test]
    fn phrases_highlight_only_where_whole() {
        let text = "不正なアクセスがあった。後日、不正アクセスと判明。";
        let h = highlight_all(text, &terms("\"不正アクセス\""));
        let marked: Vec<&str> = h.highlights.iter().map(|r| &text[r.clone()]).collect();
        assert_eq!(marked, vec!["不正アクセス"]);
    }

    #[test]
    fn one_character_terms_mark_one_character() {
        let text = "火災と炎上";
        let h = highlight_all(text, &terms("炎"));
        let marked: Vec<&str> = h.highlights.iter().map(|r| &text[r.clone()]).collect();
        assert_eq!(marked, vec!["炎"]);
    }

    #[test]
    fn snippet_picks_the_matching_window_and_escapes() {
        let mut text = "前置き。".repeat(100);
        text.push_str("<script>改元</script>の対応");
        text.push_str(&"後書き。".repeat(100));
        let s = snippet(&text, &terms("改元"), 40);
        assert!(
            s.text.starts_with('…') && s.text.ends_with('…'),
            "{}",
            s.text
        );
        assert_eq!(&s.text[s.highlights[0].clone()], "改元");
        let html = s.to_html();
        assert!(
            html.contains("&lt;script&gt;<mark>改元</mark>&lt;/script&gt;"),
            "{html}"
        );
        assert!(!html.contains("<script>"));
    }
}
