//! Text normalisation shared by indexing, querying, snippets and kizuki-bench's brute-force
//! scan, so that all of them agree on what "the same text" means.
//!
//! Steps, in order: NFKC (full-width Latin and digits to ASCII, half-width katakana to
//! full-width, ㈱ to (株)…), lower case, removal of invisible format characters (zero-width
//! spaces and direction marks, which otherwise split words), and three Japanese foldings that
//! are safe because nobody distinguishes the variants in a search:
//! - small vowels and ヵヶゎ to their full-size forms (ウィルス = ウイルス, 霞ヶ関 = 霞ケ関);
//! - a dash typed after katakana (サ-バ, half-width input) to the long-vowel mark ー;
//! - a trailing ー of a katakana word of four or more characters is dropped
//!   (サーバー = サーバ, ユーザー = ユーザ), the rule JIS Z 8301 writers and Lucene's Japanese
//!   analyser both use; three-character words (コピー) keep it.
//!
//! Every normalised character remembers the byte range of the original text it came from, so
//! highlights can be drawn on the text as the user wrote it.

use std::ops::Range;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Normalised text with, for every normalised character, the original byte range it came
/// from. Several normalised characters may share one range (㈱ → `(株)`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Normalized {
    pub chars: Vec<char>,
    pub origin: Vec<Range<usize>>,
}

impl Normalized {
    pub fn as_string(&self) -> String {
        self.chars.iter().collect()
    }
}

/// Normalises `text` for comparison; see the module documentation for the steps.
pub fn normalize(text: &str) -> String {
    normalize_mapped(text).as_string()
}

/// Normalises `text`, keeping where each character came from.
pub fn normalize_mapped(text: &str) -> Normalized {
    let mut out = Normalized {
        chars: Vec::with_capacity(text.len() / 2),
        origin: Vec::with_capacity(text.len() / 2),
    };
    let mut it = text.char_indices().peekable();
    let mut group = String::new();
    while let Some((start, c)) = it.next() {
        let next_joins = it.peek().is_some_and(|&(_, n)| joins_previous(n));
        if !next_joins && is_nfkc_stable(c) {
            let end = start + c.len_utf8();
            push_lower(&mut out, c, start..end);
            continue;
        }
        group.clear();
        group.push(c);
        let mut end = start + c.len_utf8();
        while let Some(&(i, n)) = it.peek() {
            if !joins_previous(n) {
                break;
            }
            group.push(n);
            end = i + n.len_utf8();
            it.next();
        }
        for m in group.nfkc() {
            push_lower(&mut out, m, start..end);
        }
    }
    fold_japanese(&mut out);
    out
}

/// Characters that combine with the one before them under NFKC (dakuten and the like).
fn joins_previous(c: char) -> bool {
    matches!(c, '\u{FF9E}' | '\u{FF9F}') || (!c.is_ascii() && is_combining_mark(c))
}

/// A fast path for the characters that make up nearly all of our text and that NFKC leaves
/// alone when no combining mark follows: ASCII, hiragana, full-width katakana and the main
/// CJK ideograph blocks.
fn is_nfkc_stable(c: char) -> bool {
    c.is_ascii()
        || matches!(c,
            '\u{3041}'..='\u{3096}'
            | '\u{30A1}'..='\u{30FA}'
            | '\u{30FC}'
            | '\u{3400}'..='\u{4DBF}'
            | '\u{4E00}'..='\u{9FFF}'
            | '\u{3001}'..='\u{3002}'
            | '\u{300C}'..='\u{300F}'
        )
}

fn push_lower(out: &mut Normalized, c: char, from: Range<usize>) {
    if is_invisible(c) {
        return;
    }
    if c.is_ascii() {
        out.chars.push(c.to_ascii_lowercase());
        out.origin.push(from);
        return;
    }
    for l in c.to_lowercase() {
        out.chars.push(l);
        out.origin.push(from.clone());
    }
}

/// Format characters that carry no text: zero-width spaces and joiners, direction marks,
/// the byte-order mark, soft hyphen.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
            | '\u{FEFF}'
    )
}

pub(crate) fn is_katakana(c: char) -> bool {
    matches!(c, '\u{30A1}'..='\u{30FA}' | '\u{30FC}' | '\u{31F0}'..='\u{31FF}')
}

fn is_dash(c: char) -> bool {
    matches!(
        c,
        '-' | '\u{2010}'
            | '\u{2011}'
            | '\u{2012}'
            | '\u{2013}'
            | '\u{2014}'
            | '\u{2015}'
            | '\u{2212}'
    )
}

fn small_kana(c: char) -> Option<char> {
    Some(match c {
        'ぁ' => 'あ',
        'ぃ' => 'い',
        'ぅ' => 'う',
        'ぇ' => 'え',
        'ぉ' => 'お',
        'ゎ' => 'わ',
        'ゕ' => 'か',
        'ゖ' => 'け',
        'ァ' => 'ア',
        'ィ' => 'イ',
        'ゥ' => 'ウ',
        'ェ' => 'エ',
        'ォ' => 'オ',
        'ヮ' => 'ワ',
        'ヵ' => 'カ',
        'ヶ' => 'ケ',
        _ => return None,
    })
}

/// Minimum length of a katakana word (counting the final ー) whose final ー is dropped.
const LONG_VOWEL_MIN: usize = 4;

fn fold_japanese(n: &mut Normalized) {
    for i in 0..n.chars.len() {
        let c = n.chars[i];
        if let Some(big) = small_kana(c) {
            n.chars[i] = big;
        } else if is_dash(c) && i > 0 && is_katakana(n.chars[i - 1]) && n.chars[i - 1] != 'ー' {
            n.chars[i] = 'ー';
        } else if c == '〜' || c == '～' {
            n.chars[i] = '~';
        }
    }
    // Drop the trailing ー of long katakana words, in one pass that keeps the origin map.
    let mut keep = vec![true; n.chars.len()];
    let mut run_start = None;
    for i in 0..=n.chars.len() {
        let k = n.chars.get(i).copied().is_some_and(is_katakana);
        match (k, run_start) {
            (true, None) => run_start = Some(i),
            (false, Some(s)) => {
                if i - s >= LONG_VOWEL_MIN && n.chars[i - 1] == 'ー' && n.chars[s] != 'ー' {
                    keep[i - 1] = false;
                }
                run_start = None;
            }
            _ => {}
        }
    }
    if keep.iter().all(|k| *k) {
        return;
    }
    let mut j = 0;
    for (i, k) in keep.iter().enumerate() {
        if *k {
            n.chars[j] = n.chars[i];
            n.origin.swap(j, i);
            j += 1;
        }
    }
    n.chars.truncate(j);
    n.origin.truncate(j);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn width_and_case_fold_together() {
        assert_eq!(normalize("ｅｍｏｔｅｔ"), "emotet");
        assert_eq!(normalize("EMOTET"), "emotet");
        assert_eq!(normalize("Emotet"), "emotet");
        assert_eq!(normalize("ＣＶＥ－２０１９－０７０８"), "cve-2019-0708");
        assert_eq!(normalize("ｶﾞｽ"), "ガス");
        assert_eq!(normalize("ﾒｰﾙｻｰﾊﾞ"), "メールサーバ");
        assert_eq!(normalize("㈱"), "(株)");
        assert_eq!(normalize("改元"), "改元");
    }

    #[test]
    fn long_vowels_and_small_kana() {
        assert_eq!(normalize("サーバー"), normalize("サーバ"));
        assert_eq!(normalize("サーバーの停止"), "サーバの停止");
        assert_eq!(normalize("ユーザー"), "ユーザ");
        assert_eq!(normalize("コンピューター"), "コンピュータ");
        // Three characters keep the mark: コピー is not コピ.
        assert_eq!(normalize("コピー"), "コピー");
        // Only at the end of the word; サーバーダウン keeps its inner marks.
        assert_eq!(normalize("サーバーダウン"), "サーバーダウン");
        assert_eq!(normalize("ウィルス"), normalize("ウイルス"));
        assert_eq!(normalize("霞ヶ関"), "霞ケ関");
        assert_eq!(normalize("サ-バ"), "サーバ");
        // A dash between Latin letters stays a dash.
        assert_eq!(normalize("e-mail"), "e-mail");
    }

    #[test]
    fn invisible_characters_do_not_split_words() {
        assert_eq!(normalize("改\u{200B}元"), "改元");
        assert_eq!(normalize("over\u{200E}load"), "overload");
    }

    #[test]
    fn origin_points_back_into_the_original() {
        let text = "ＡＢ ｶﾞｽ会社";
        let n = normalize_mapped(text);
        assert_eq!(n.as_string(), "ab ガス会社");
        assert_eq!(n.chars.len(), n.origin.len());
        assert_eq!(&text[n.origin[0].clone()], "Ａ");
        assert_eq!(&text[n.origin[3].clone()], "ｶﾞ");
        assert_eq!(&text[n.origin[5].clone()], "会");
        let n = normalize_mapped("サーバーが");
        assert_eq!(n.as_string(), "サーバが");
        assert_eq!(n.origin[3], "サーバー".len().."サーバーが".len());
    }
}
