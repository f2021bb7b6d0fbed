//! Text measurement and line wrapping for Japanese labels in generated diagrams.
//!
//! The diagrams are laid out without access to a font, so widths are estimated from the kind
//! of character. The estimates err on the wide side: a label that is measured too wide wraps a
//! little early, while one measured too narrow would spill out of its box.

/// Estimated advance of one character, in ems.
pub fn char_width(c: char) -> f64 {
    match c {
        ' ' => 0.32,
        // Narrow ASCII glyphs.
        'i' | 'j' | 'l' | '!' | '|' | '.' | ',' | ':' | ';' | '\'' | '`' => 0.32,
        'f' | 't' | 'r' | 'I' | '(' | ')' | '[' | ']' | '{' | '}' | '/' | '-' | '"' => 0.42,
        'm' | 'w' | 'M' | 'W' | '@' | '%' => 0.9,
        'A'..='Z' => 0.7,
        '\u{21}'..='\u{7e}' => 0.58,
        // Half-width katakana and their marks.
        '\u{ff61}'..='\u{ff9f}' => 0.5,
        // Combining marks and zero-width characters take no room.
        '\u{200b}'..='\u{200f}' | '\u{feff}' | '\u{0300}'..='\u{036f}' => 0.0,
        // Latin-1 and other Western letters, as for ASCII letters.
        '\u{a0}'..='\u{24f}' => 0.62,
        // Everything else (kana, kanji, full-width forms, CJK punctuation) is square.
        _ => 1.0,
    }
}

/// Estimated width of `s` at `size` (font size in the caller's units).
pub fn text_width(s: &str, size: f64) -> f64 {
    s.chars().map(char_width).sum::<f64>() * size
}

/// Characters that must not begin a line (行頭禁則).
fn no_line_start(c: char) -> bool {
    matches!(
        c,
        '、' | '。'
            | '，'
            | '．'
            | '・'
            | '：'
            | '；'
            | '？'
            | '！'
            | '）'
            | '」'
            | '』'
            | '】'
            | '〕'
            | '〉'
            | '》'
            | '］'
            | '｝'
            | 'ー'
            | '々'
            | '…'
            | 'ぁ'
            | 'ぃ'
            | 'ぅ'
            | 'ぇ'
            | 'ぉ'
            | 'っ'
            | 'ゃ'
            | 'ゅ'
            | 'ょ'
            | 'ァ'
            | 'ィ'
            | 'ゥ'
            | 'ェ'
            | 'ォ'
            | 'ッ'
            | 'ャ'
            | 'ュ'
            | 'ョ'
            | ')'
            | ']'
            | ','
            | '.'
            | ':'
            | ';'
            | '!'
            | '?'
    )
}

/// Characters that must not end a line (行末禁則).
fn no_line_end(c: char) -> bool {
    matches!(
        c,
        '（' | '「' | '『' | '【' | '〔' | '〈' | '《' | '［' | '｛' | '(' | '['
    )
}

/// Latin letters, digits and the punctuation that joins them stay together as one word.
fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | '@' | '#' | '+' | '&')
}

fn is_katakana(c: char) -> bool {
    matches!(c, '\u{30a1}'..='\u{30fa}' | 'ー' | 'ヽ' | 'ヾ')
}

/// Splits text into pieces a line may not break inside: Latin words and katakana words whole
/// (a cheap stand-in for word boundaries, which Japanese text does not mark), every other
/// character alone.
fn tokens(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut word_kind = 0u8;
    for c in s.chars() {
        let kind = if is_word_char(c) {
            1
        } else if is_katakana(c) {
            2
        } else {
            0
        };
        if kind != 0 && (word.is_empty() || kind == word_kind) {
            word.push(c);
            word_kind = kind;
            continue;
        }
        if !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
        if kind != 0 {
            word.push(c);
            word_kind = kind;
        } else {
            out.push(c.to_string());
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// Width of the widest piece of `s` a line should not break inside (a Latin or katakana word,
/// or a single character), at `size`.
pub fn widest_word(s: &str, size: f64) -> f64 {
    tokens(s)
        .iter()
        .map(|t| text_width(t, size))
        .fold(0.0, f64::max)
}

fn is_hiragana(c: char) -> bool {
    matches!(c, '\u{3041}'..='\u{309f}')
}

/// A letter of some script: kana, kanji, Latin or digits. Anything else (punctuation, brackets,
/// spaces) closes the phrase it ends.
fn is_letter(c: char) -> bool {
    c.is_alphanumeric() || is_katakana(c) || is_hiragana(c)
}

/// Groups tokens into phrases (roughly 文節): a run of kanji, katakana or Latin with the
/// hiragana after it, since particles and inflections belong to the word they follow
/// (「不具合を」「直す」「パッチを」「適用した」). Punctuation stays with the phrase it closes and an
/// opening bracket with the phrase it opens. Lines break between phrases; inside one only when
/// it is wider than a line.
fn phrases(s: &str) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut prev: Option<char> = None;
    for t in tokens(s) {
        let first = t.chars().next().unwrap_or(' ');
        let boundary = match prev {
            None => true,
            Some(p) => {
                !no_line_start(first)
                    && !no_line_end(p)
                    && (no_line_end(first)
                        || ((is_hiragana(p) || !is_letter(p)) && !is_hiragana(first)))
            }
        };
        prev = t.chars().last();
        match out.last_mut() {
            Some(phrase) if !boundary => phrase.push(t),
            _ => out.push(vec![t]),
        }
    }
    out
}

/// Wraps `s` into lines no wider than `max_width` at `size`, honouring Japanese line-breaking
/// rules. Explicit newlines are kept. A single character wider than the line still gets a
/// line of its own (the caller's box is always at least one character wide).
pub fn wrap(s: &str, size: f64, max_width: f64) -> Vec<String> {
    let mut lines = Vec::new();
    for para in s.split('\n') {
        wrap_paragraph(para.trim(), size, max_width, &mut lines);
    }
    if lines.is_empty() {
        lines.push(String::new());
    }
    lines
}

/// As [`wrap`], but with the lines evened out: the narrowest width that still gives the same
/// number of lines, so a label never ends in a lone character when it need not.
pub fn wrap_balanced(s: &str, size: f64, max_width: f64) -> Vec<String> {
    let lines = wrap(s, size, max_width);
    if lines.len() < 2 {
        return lines;
    }
    let n = lines.len();
    // Never narrower than the widest phrase or word that fits at all, or they would be split
    // to even out the lines.
    let floor = phrases(s)
        .into_iter()
        .flat_map(|p| {
            let whole = p.concat();
            p.into_iter().chain(std::iter::once(whole))
        })
        .map(|piece| text_width(&piece, size))
        .filter(|w| *w <= max_width)
        .fold(0.0, f64::max);
    let (mut lo, mut hi) = (floor, max_width);
    // Greedy wrapping needs no more lines as the width grows, so bisection finds the edge.
    for _ in 0..24 {
        let mid = (lo + hi) / 2.0;
        if wrap(s, size, mid).len() <= n {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let balanced = wrap(s, size, hi);
    if balanced.len() == n { balanced } else { lines }
}

/// Groups tokens into clusters that may not be split by a line break: an opening bracket
/// with what follows it, closing punctuation with what precedes it.
fn clusters(toks: Vec<String>) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    for t in toks {
        let first = t.chars().next().unwrap_or(' ');
        let glue = match out.last() {
            None => false,
            Some(prev) => {
                let prev_last = prev.last().and_then(|p| p.chars().last()).unwrap_or(' ');
                no_line_start(first) || no_line_end(prev_last)
            }
        };
        match out.last_mut() {
            Some(prev) if glue => prev.push(t),
            _ => out.push(vec![t]),
        }
    }
    out
}

fn wrap_paragraph(s: &str, size: f64, max_width: f64, lines: &mut Vec<String>) {
    let mut line = String::new();
    let mut width = 0.0;
    let place = |piece: &str, line: &mut String, width: &mut f64, lines: &mut Vec<String>| {
        let w = text_width(piece, size);
        if !line.is_empty() && *width + w > max_width + 1e-9 {
            push_line(lines, line);
            line.clear();
            *width = 0.0;
            if piece == " " {
                return;
            }
        }
        line.push_str(piece);
        *width += w;
    };
    let fits = |piece: &str| text_width(piece, size) <= max_width + 1e-9;
    for phrase in phrases(s) {
        // A phrase wider than a line breaks between its words; a word too wide for any line
        // is broken into characters first, so that the kinsoku rules still apply between them.
        let whole = phrase.concat();
        let mut toks = Vec::new();
        if fits(&whole) {
            toks.push(whole);
        } else {
            for t in phrase {
                if fits(&t) {
                    toks.push(t);
                } else {
                    toks.extend(t.chars().map(String::from));
                }
            }
        }
        for cluster in clusters(toks) {
            let joined = cluster.concat();
            if fits(&joined) {
                place(&joined, &mut line, &mut width, lines);
                continue;
            }
            // Too wide for any line: break inside it after all.
            for tok in cluster {
                place(&tok, &mut line, &mut width, lines);
            }
        }
    }
    if !line.is_empty() {
        push_line(lines, &line);
    }
}

fn push_line(lines: &mut Vec<String>, line: &str) {
    let line = line.trim_end();
    if !line.is_empty() {
        lines.push(line.to_owned());
    }
}

/// Width of the widest line.
pub fn max_line_width(lines: &[String], size: f64) -> f64 {
    lines
        .iter()
        .map(|l| text_width(l, size))
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every line of `s` wrapped at `width` (10-unit type) fits, and no text is lost.
    fn assert_fits(s: &str, lines: &[String], width: f64) {
        for l in lines {
            assert!(
                text_width(l, 10.0) <= width + 1e-9,
                "{l} wider than {width}"
            );
        }
        assert_eq!(lines.concat(), s);
    }

    #[test]
    fn kanji_are_one_em_and_ascii_narrower() {
        assert!((text_width("事例", 10.0) - 20.0).abs() < 1e-9);
        assert!(text_width("CSIRT", 10.0) < 50.0);
        assert!(text_width("abc", 10.0) < 30.0);
    }

    #[test]
    fn wrapped_lines_fit_and_keep_all_text() {
        let s = "データベース管理システム（DBMS）の不具合により、データベースのシステムファイルが壊れた。";
        for width in [30.0, 45.0, 60.0, 100.0, 200.0] {
            assert_fits(s, &wrap(s, 10.0, width), width);
        }
    }

    #[test]
    fn no_line_starts_with_closing_punctuation() {
        let s = "あいうえおかきくけこ、さしすせそ。たちつてと";
        let lines = wrap(s, 10.0, 100.0);
        assert_eq!(lines[0], "あいうえおかきくけ");
        assert_eq!(lines[1], "こ、さしすせそ。たち");
        for l in &lines {
            assert!(!l.starts_with('、') && !l.starts_with('。'));
        }
    }

    #[test]
    fn opening_brackets_do_not_end_a_line() {
        let lines = wrap("あいうえおかきく「けこ」", 10.0, 90.0);
        assert!(lines.iter().all(|l| !l.ends_with('「')), "{lines:?}");
    }

    #[test]
    fn latin_words_are_not_split() {
        let lines = wrap("マルウェアEmotetに感染", 10.0, 75.0);
        assert!(lines.iter().any(|l| l.contains("Emotet")), "{lines:?}");
    }

    #[test]
    fn brackets_stay_with_their_contents() {
        let lines = wrap("データベース管理システム（DBMS）", 15.0, 72.0);
        assert!(lines.iter().any(|l| l.contains("（DBMS")), "{lines:?}");
        assert!(lines.iter().all(|l| l != "（"), "{lines:?}");
    }

    #[test]
    fn balanced_wrapping_avoids_a_lone_last_character() {
        let s = "サービスの予約に影響がないことをホームページで利用者に知らせた";
        let greedy = wrap(s, 10.0, 300.0);
        let balanced = wrap_balanced(s, 10.0, 300.0);
        assert_eq!(greedy.len(), balanced.len());
        assert!(
            balanced.last().is_some_and(|l| l.chars().count() > 5),
            "{balanced:?}"
        );
        assert_eq!(balanced.concat(), s);
    }

    #[test]
    fn katakana_words_are_kept_whole_when_they_fit() {
        let lines = wrap_balanced("サービス窓口", 15.0, 80.0);
        assert_eq!(lines, vec!["サービス", "窓口"]);
    }

    #[test]
    fn a_split_katakana_word_still_keeps_small_kana_off_the_line_start() {
        let lines = wrap("店舗端末ネットワーク", 15.0, 80.0);
        assert!(lines.iter().all(|l| !l.starts_with('ッ')), "{lines:?}");
        assert_eq!(lines.concat(), "店舗端末ネットワーク");
    }

    #[test]
    fn lines_break_between_phrases_not_inside_words() {
        let s = "データベース管理システムの不具合を直すパッチを適用した";
        for width in [90.0, 120.0, 150.0] {
            let lines = wrap(s, 10.0, width);
            assert_fits(s, &lines, width);
            for word in ["不具合", "直す", "パッチ", "適用", "した"] {
                assert!(
                    lines.iter().any(|l| l.contains(word)),
                    "{word} split at {width}: {lines:?}"
                );
            }
        }
        assert_eq!(
            wrap_balanced(
                "原因の特定に時間がかかる見込みとなったため、監視を強めた",
                10.0,
                130.0
            ),
            vec![
                "原因の特定に時間がかかる",
                "見込みとなったため、",
                "監視を強めた"
            ]
        );
    }

    #[test]
    fn a_too_narrow_box_still_gets_every_character() {
        let lines = wrap("「あ」", 10.0, 5.0);
        assert_eq!(lines.concat(), "「あ」");
    }
}
