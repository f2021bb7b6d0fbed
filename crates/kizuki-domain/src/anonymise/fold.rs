//! Folding text for matching (NFKC, ASCII case, recomposed sound marks) while remembering where
//! each folded character came from, so findings point at exactly what the author typed.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::compose;

/// Text folded for matching. `chars[i]` came from original characters `span[i].0..span[i].1`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Folded {
    pub chars: Vec<char>,
    pub span: Vec<(usize, usize)>,
}

impl Folded {
    pub fn len(&self) -> usize {
        self.chars.len()
    }

    /// Original character range covered by folded range `start..end` (end exclusive, non-empty).
    pub fn original(&self, start: usize, end: usize) -> (usize, usize) {
        let s = self.span.get(start).map_or(0, |x| x.0);
        let e = end
            .checked_sub(1)
            .and_then(|i| self.span.get(i))
            .map_or(s, |x| x.1);
        (s, e)
    }

    #[cfg(test)]
    pub fn text(&self, start: usize, end: usize) -> String {
        self.chars[start..end].iter().collect()
    }
}

// Per character so offsets survive; the only cross-character step NFKC would take that matters
// for Japanese is half-width voiced marks (ｶﾞ), recomposed by hand below.
pub(crate) fn fold(s: &str) -> Folded {
    let mut out = Folded::default();
    for (i, c) in s.chars().enumerate() {
        for f in std::iter::once(c).nfkc() {
            let f = f.to_ascii_lowercase();
            if matches!(f, '\u{3099}' | '\u{309A}')
                && let (Some(last), Some(sp)) = (out.chars.last_mut(), out.span.last_mut())
                && let Some(composed) = compose(*last, f)
            {
                *last = composed;
                sp.1 = i + 1;
                continue;
            }
            out.chars.push(f);
            out.span.push((i, i + 1));
        }
    }
    out
}

/// The folded form without whitespace: names match however they are spaced (山田 太郎 / 山田太郎).
pub(crate) fn fold_compact(s: &str) -> Vec<char> {
    fold(s)
        .chars
        .into_iter()
        .filter(|c| !c.is_whitespace())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn width_case_and_voiced_marks_fold_with_their_origins() {
        let f = fold("ＡＢＣ＠ｶﾞｽ１");
        assert_eq!(f.text(0, f.len()), "abc@ガス1");
        // ガ came from two half-width characters.
        assert_eq!(f.span[4], (4, 6));
        assert_eq!(f.original(4, 6), (4, 7));
    }

    #[test]
    fn ligatures_expand_and_point_back_to_one_character() {
        let f = fold("㍻31年");
        assert_eq!(f.text(0, 2), "平成");
        assert_eq!(f.original(0, 2), (0, 1));
        assert_eq!(f.original(2, 4), (1, 3));
    }

    #[test]
    fn compact_drops_every_kind_of_space() {
        assert_eq!(
            fold_compact("山田\u{3000}太郎 ").iter().collect::<String>(),
            "山田太郎"
        );
    }
}
