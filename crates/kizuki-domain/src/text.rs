//! Small text rules that several layers share: width folding of what Japanese keyboards type,
//! escaping text for HTML, SVG and XML, and writing numbers as people read them. Each rule lives here once.

/// Full-width ASCII (as a Japanese IME types it: `１２３ＡＢＣ`) to plain ASCII and the
/// ideographic space to a space, so a code, number or name typed in either width is the same.
pub fn halfwidth(c: char) -> char {
    match u32::from(c) {
        0xFF01..=0xFF5E => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        0x3000 => ' ',
        _ => c,
    }
}

/// Appends `s` to `out` escaped for HTML, SVG and XML, in element content and in quoted
/// attribute values alike.
pub fn escape_html_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
}

/// `s` escaped for HTML, SVG and XML (see [`escape_html_into`]).
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_html_into(&mut out, s);
    out
}

/// `12000` as `12,000`; the sign stays in front.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Character bigrams of the text folded (NFKC, lower case) with spaces and punctuation left
/// out, so 「 障害を 検知 した」 and 「障害を検知した。」 match: the measure of shared wording
/// wherever two texts are compared.
pub fn bigrams(s: &str) -> std::collections::HashSet<(char, char)> {
    use unicode_normalization::UnicodeNormalization as _;
    let chars: Vec<char> = s
        .nfkc()
        .flat_map(char::to_lowercase)
        .filter(|c| c.is_alphanumeric())
        .collect();
    chars.windows(2).map(|w| (w[0], w[1])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_get_thousands_separators() {
        assert_eq!(thousands(12_000), "12,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(-1_234_567), "-1,234,567");
        assert_eq!(thousands(0), "0");
    }

    #[test]
    fn full_width_ascii_and_the_ideographic_space_fold() {
        let folded: String = "ＡＢＣ１２３！～　ｚ".chars().map(halfwidth).collect();
        assert_eq!(folded, "ABC123!~ z");
        assert_eq!(halfwidth('あ'), 'あ');
        assert_eq!(halfwidth('ｱ'), 'ｱ', "half-width katakana is not ASCII");
    }

    #[test]
    fn markup_characters_are_escaped_and_nothing_else() {
        assert_eq!(
            escape_html(r#"<a href="x">'&'</a> 日本"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt; 日本"
        );
        let mut out = String::from("前:");
        escape_html_into(&mut out, "a<b");
        assert_eq!(out, "前:a&lt;b");
    }
}
