//! Small text rules that several layers share: width folding of what Japanese keyboards type,
//! and escaping text for HTML, SVG and XML. Each rule lives here once.

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

#[cfg(test)]
mod tests {
    use super::*;

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
