//! Hand-written scanners for identifiers that follow a shape rather than a directory: URLs,
//! e-mail and IP addresses, host names, Japanese phone numbers and day-precise dates.
//!
//! Each scanner looks at folded text (see `fold`) at one position and says where a match ends,
//! with a canonical key so that differently written forms of one identifier group together.
//! They are deliberately conservative at word edges: a false alarm costs the editor a click,
//! but a scanner that runs into neighbouring text would suggest replacing too much.

use crate::wareki::{Era, Wareki, format_era_year};
use chrono::NaiveDate;
use std::net::Ipv6Addr;

/// A pattern match in folded coordinates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hit {
    pub end: usize,
    /// Canonical form: equal for every spelling of one identifier.
    pub key: String,
    /// A replacement to suggest, when the shape alone determines one.
    pub label: String,
}

pub(crate) const LABEL_EMAIL: &str = "［メールアドレス］";
pub(crate) const LABEL_URL: &str = "［URL］";
pub(crate) const LABEL_HOST: &str = "［ホスト名］";
pub(crate) const LABEL_IP: &str = "［IPアドレス］";
pub(crate) const LABEL_PHONE: &str = "［電話番号］";

fn at(c: &[char], i: usize) -> Option<char> {
    c.get(i).copied()
}

fn starts_with(c: &[char], i: usize, s: &str) -> bool {
    (i..).zip(s.chars()).all(|(j, ch)| at(c, j) == Some(ch))
}

fn text(c: &[char], s: usize, e: usize) -> String {
    c[s..e].iter().collect()
}

fn is_word(ch: char) -> bool {
    ch.is_ascii_alphanumeric() || ch == '_'
}

fn is_host_char(ch: char) -> bool {
    ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-' || ch == '_'
}

fn prev_is(c: &[char], i: usize, f: impl Fn(char) -> bool) -> bool {
    i.checked_sub(1).and_then(|p| at(c, p)).is_some_and(f)
}

/// Reads 1..=max ASCII digits; fails if more follow, so "12345" is never read as "123".
fn digits(c: &[char], i: usize, max: usize) -> Option<(u32, usize)> {
    let mut j = i;
    let mut v: u32 = 0;
    while let Some(d) = at(c, j).and_then(|ch| ch.to_digit(10)) {
        if j - i == max {
            return None;
        }
        v = v * 10 + d;
        j += 1;
    }
    (j > i).then_some((v, j))
}

// ---------------------------------------------------------------- URLs

const SCHEMES: [&str; 8] = [
    "https://", "http://", "hxxps://", "hxxp://", "sftp://", "ftp://", "wss://", "ws://",
];

fn is_url_char(ch: char) -> bool {
    ch.is_ascii_graphic() && !matches!(ch, '<' | '>' | '"' | '`' | '{' | '}' | '|' | '\\' | '^')
}

pub(crate) fn url(c: &[char], i: usize) -> Option<Hit> {
    if prev_is(c, i, is_word) {
        return None;
    }
    let scheme = SCHEMES.iter().find(|s| starts_with(c, i, s))?;
    let body = i + scheme.chars().count();
    let mut j = body;
    while at(c, j).is_some_and(is_url_char) {
        j += 1;
    }
    // Sentence punctuation and an unmatched closing bracket belong to the prose around it.
    while j > body {
        let last = c[j - 1];
        let inside = &c[body..j];
        let unbalanced = |open: char, close: char| {
            inside.iter().filter(|&&x| x == close).count()
                > inside.iter().filter(|&&x| x == open).count()
        };
        let trim = matches!(last, '.' | ',' | ';' | ':' | '!' | '?' | '\'')
            || (last == ')' && unbalanced('(', ')'))
            || (last == ']' && unbalanced('[', ']'));
        if !trim {
            break;
        }
        j -= 1;
    }
    (j > body).then(|| Hit {
        end: j,
        key: text(c, i, j).replace("hxxp", "http").replace("[.]", "."),
        label: LABEL_URL.to_owned(),
    })
}

// ---------------------------------------------------------------- host names

// Two-letter endings that are far more often file types or product names than countries.
const NOT_TLDS: [&str; 8] = ["js", "md", "py", "rs", "sh", "ts", "cs", "ps"];

const GENERIC_TLDS: [&str; 33] = [
    "com",
    "net",
    "org",
    "info",
    "biz",
    "edu",
    "gov",
    "mil",
    "int",
    "arpa",
    "app",
    "dev",
    "cloud",
    "online",
    "site",
    "xyz",
    "top",
    "jobs",
    "tokyo",
    "osaka",
    "nagoya",
    "yokohama",
    "local",
    "localdomain",
    "lan",
    "internal",
    "intra",
    "corp",
    "home",
    "test",
    "example",
    "invalid",
    "onion",
];

fn is_tld(label: &str) -> bool {
    if !label.chars().all(|ch| ch.is_ascii_lowercase()) {
        return false;
    }
    match label.len() {
        2 => !NOT_TLDS.contains(&label),
        _ => GENERIC_TLDS.contains(&label),
    }
}

/// Labels separated by `.` (or the defanged `[.]`), at least two, ending in a plausible TLD.
/// Does not look behind `i`; callers decide what may precede a host.
fn host_from(c: &[char], i: usize) -> Option<usize> {
    let mut labels: Vec<(usize, usize)> = Vec::new();
    let mut j = i;
    loop {
        let start = j;
        while at(c, j).is_some_and(is_host_char) {
            j += 1;
        }
        if j == start {
            break;
        }
        labels.push((start, j));
        if at(c, j) == Some('.') && at(c, j + 1).is_some_and(is_host_char) {
            j += 1;
        } else if starts_with(c, j, "[.]") && at(c, j + 3).is_some_and(is_host_char) {
            j += 3;
        } else {
            break;
        }
    }
    while labels.len() >= 2 {
        let (s, e) = labels[labels.len() - 1];
        if is_tld(&text(c, s, e)) {
            return Some(e);
        }
        labels.pop();
    }
    None
}

pub(crate) fn host(c: &[char], i: usize) -> Option<Hit> {
    if prev_is(c, i, |p| {
        is_host_char(p) || matches!(p, '.' | '@' | '/' | ']')
    }) {
        return None;
    }
    let end = host_from(c, i)?;
    Some(Hit {
        end,
        key: text(c, i, end).replace("[.]", "."),
        label: LABEL_HOST.to_owned(),
    })
}

// ---------------------------------------------------------------- e-mail addresses

fn is_local_char(ch: char) -> bool {
    ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '%' | '+' | '-')
}

pub(crate) fn email(c: &[char], i: usize) -> Option<Hit> {
    if prev_is(c, i, is_local_char) || at(c, i) == Some('.') {
        return None;
    }
    let mut j = i;
    while at(c, j).is_some_and(is_local_char) {
        j += 1;
    }
    if j == i || c[j - 1] == '.' {
        return None;
    }
    // "[at]" and "(at)" are how addresses are written to dodge harvesters; they still identify.
    let after_at = if at(c, j) == Some('@') {
        j + 1
    } else if starts_with(c, j, "[at]") || starts_with(c, j, "(at)") {
        j + 4
    } else {
        return None;
    };
    let end = host_from(c, after_at)?;
    let key = format!(
        "{}@{}",
        text(c, i, j),
        text(c, after_at, end).replace("[.]", ".")
    );
    Some(Hit {
        end,
        key,
        label: LABEL_EMAIL.to_owned(),
    })
}

// ---------------------------------------------------------------- IP addresses

fn dot(c: &[char], j: usize) -> Option<usize> {
    if at(c, j) == Some('.') {
        Some(j + 1)
    } else if starts_with(c, j, "[.]") {
        Some(j + 3)
    } else {
        None
    }
}

pub(crate) fn ipv4(c: &[char], i: usize) -> Option<Hit> {
    // A letter before the digits usually means a version (v1.2.3.4); "IP" glued to the
    // address is the exception worth catching.
    let glued_to_ip = i >= 2 && c[i - 2..i] == ['i', 'p'];
    if prev_is(c, i, |p| p.is_ascii_digit() || p == '.')
        || (prev_is(c, i, |p| p.is_ascii_alphabetic()) && !glued_to_ip)
    {
        return None;
    }
    let mut j = i;
    let mut octets = [0u32; 4];
    for (k, o) in octets.iter_mut().enumerate() {
        let (v, next) = digits(c, j, 3)?;
        if v > 255 {
            return None;
        }
        *o = v;
        j = next;
        if k < 3 {
            j = dot(c, j)?;
        }
    }
    // A fifth dotted number makes it a version string or an OID, not an address.
    if at(c, j).is_some_and(|ch| ch.is_ascii_alphanumeric())
        || (at(c, j) == Some('.') && at(c, j + 1).is_some_and(|ch| ch.is_ascii_digit()))
    {
        return None;
    }
    let key = octets.map(|o| o.to_string()).join(".");
    // A prefix length or port is part of what was written and goes with it.
    if at(c, j) == Some('/') {
        if let Some((p, next)) = digits(c, j + 1, 2)
            && p <= 32
        {
            j = next;
        }
    } else if at(c, j) == Some(':')
        && let Some((_, next)) = digits(c, j + 1, 5)
    {
        j = next;
    }
    Some(Hit {
        end: j,
        key,
        label: LABEL_IP.to_owned(),
    })
}

pub(crate) fn ipv6(c: &[char], i: usize) -> Option<Hit> {
    if prev_is(c, i, |p| p.is_ascii_alphanumeric() || p == ':' || p == '.') {
        return None;
    }
    let mut j = i;
    while at(c, j).is_some_and(|ch| ch.is_ascii_hexdigit() || ch == ':' || ch == '.') {
        j += 1;
    }
    while j > i && c[j - 1] == '.' {
        j -= 1;
    }
    if at(c, j).is_some_and(|ch| ch.is_ascii_alphanumeric()) {
        return None;
    }
    let s = text(c, i, j);
    // Times (10:30:45) and MAC addresses fail to parse; "d::" in "std::vector" fails the
    // word-edge test above; a lone "::" is punctuation, not an address.
    if s.matches(':').count() < 2 || s.split(':').filter(|g| !g.is_empty()).count() < 2 {
        return None;
    }
    let addr: Ipv6Addr = s.parse().ok()?;
    if at(c, j) == Some('/')
        && let Some((p, next)) = digits(c, j + 1, 3)
        && p <= 128
    {
        j = next;
    }
    Some(Hit {
        end: j,
        key: addr.to_string(),
        label: LABEL_IP.to_owned(),
    })
}

// ---------------------------------------------------------------- phone numbers

fn is_phone_sep(ch: char) -> bool {
    matches!(
        ch,
        '-' | '‐' | '‑' | '‒' | '–' | '—' | '―' | '−' | 'ー' | '(' | ')' | ' ' | '.'
    )
}

/// Japanese numbers: domestic `0` + 9 or 10 digits (03-1234-5678, 0120-123-456,
/// 090-1234-5678, (03)1234-5678) or `+81` with the leading 0 dropped (+81-3-1234-5678,
/// +81 (0)90 1234 5678). The key is the domestic digits, so every spelling groups together.
pub(crate) fn phone(c: &[char], i: usize) -> Option<Hit> {
    if prev_is(c, i, |p| p.is_ascii_alphanumeric() || p == '+')
        || (prev_is(c, i, is_phone_sep) && i >= 2 && c[i - 2].is_ascii_digit())
    {
        return None;
    }
    let intl = starts_with(c, i, "+81");
    let mut j = if intl { i + 3 } else { i };
    let domestic = at(c, j) == Some('0') || (at(c, j) == Some('(') && at(c, j + 1) == Some('0'));
    if !intl && !domestic {
        return None;
    }
    let mut nums = String::new();
    let mut groups = 0;
    let mut in_digits = false;
    let mut seps = 0;
    let mut end = j;
    while let Some(ch) = at(c, j) {
        if ch.is_ascii_digit() {
            if nums.len() == 11 {
                return None;
            }
            if !in_digits {
                groups += 1;
            }
            nums.push(ch);
            in_digits = true;
            seps = 0;
            j += 1;
            end = j;
        } else if is_phone_sep(ch) && seps < 2 && !(intl && nums.is_empty() && ch == '.') {
            // A complete number followed by a space is where the next number or the
            // sentence begins.
            if in_digits && nums.len() >= 10 && !intl {
                break;
            }
            in_digits = false;
            seps += 1;
            j += 1;
        } else {
            break;
        }
    }
    if at(c, end).is_some_and(|ch| ch.is_ascii_alphanumeric()) || groups > 5 {
        return None;
    }
    let key = if intl {
        // "+81 (0)3…" keeps a trunk 0 some people write; it is not part of the number.
        let rest = nums.strip_prefix('0').unwrap_or(&nums);
        if !(9..=10).contains(&rest.len()) || rest.starts_with('0') {
            return None;
        }
        format!("0{rest}")
    } else {
        if !(10..=11).contains(&nums.len()) || nums.as_bytes().get(1) == Some(&b'0') {
            return None;
        }
        nums
    };
    Some(Hit {
        end,
        key,
        label: LABEL_PHONE.to_owned(),
    })
}

// ---------------------------------------------------------------- dates

const KANJI_DIGITS: &str = "〇一二三四五六七八九";

fn kanji_digit(ch: char) -> Option<u32> {
    KANJI_DIGITS
        .chars()
        .position(|k| k == ch)
        .and_then(|p| u32::try_from(p).ok())
}

/// A number in ASCII digits (up to 4) or kanji (二十六, 十二, 二〇一九), optionally 元 (year 1).
fn number(c: &[char], i: usize, allow_gan: bool) -> Option<(u32, usize)> {
    let first = at(c, i)?;
    if first.is_ascii_digit() {
        return digits(c, i, 4);
    }
    if allow_gan && first == '元' {
        return Some((1, i + 1));
    }
    let mut j = i;
    while at(c, j).is_some_and(|ch| ch == '十' || kanji_digit(ch).is_some()) && j - i < 4 {
        j += 1;
    }
    if j == i {
        return None;
    }
    let run = &c[i..j];
    let v = match run.iter().position(|&ch| ch == '十') {
        Some(p) => {
            let tens = match p {
                0 => 1,
                1 => kanji_digit(run[0])?,
                _ => return None,
            };
            let ones = match &run[p + 1..] {
                [] => 0,
                [d] => kanji_digit(*d)?,
                _ => return None,
            };
            tens * 10 + ones
        }
        None => run
            .iter()
            .try_fold(0u32, |acc, &ch| Some(acc * 10 + kanji_digit(ch)?))?,
    };
    Some((v, j))
}

fn is_number_char(ch: char) -> bool {
    ch.is_ascii_digit() || ch == '十' || kanji_digit(ch).is_some()
}

/// "上旬" / "中旬" / "下旬": the ten-day part of the month, which is as precise as a published
/// case usually needs to be.
fn jun(day: u32) -> &'static str {
    match day {
        0..=10 => "上旬",
        11..=20 => "中旬",
        _ => "下旬",
    }
}

/// `M月D日` with an optional weekday such as `（金）`, from `j`. Returns month, day, end.
fn month_day(c: &[char], j: usize) -> Option<(u32, u32, usize)> {
    let (m, j) = number(c, j, false)?;
    if !(1..=12).contains(&m) || at(c, j) != Some('月') {
        return None;
    }
    let (d, j) = number(c, j + 1, false)?;
    if !(1..=31).contains(&d) || at(c, j) != Some('日') {
        return None;
    }
    let mut end = j + 1;
    if at(c, end) == Some('(') && at(c, end + 1).is_some_and(|w| "月火水木金土日祝".contains(w))
    {
        let mut k = end + 2;
        if starts_with(c, k, "曜日") {
            k += 2;
        } else if at(c, k) == Some('曜') {
            k += 1;
        }
        if at(c, k) == Some(')') {
            end = k + 1;
        }
    }
    Some((m, d, end))
}

fn valid(year: Option<i32>, m: u32, d: u32) -> bool {
    // A year-less date is checked against a leap year so 2月29日 passes.
    NaiveDate::from_ymd_opt(year.unwrap_or(2000), m, d).is_some()
}

fn date_key(year: Option<i32>, m: u32, d: u32) -> String {
    match year {
        Some(y) => format!("{y:04}-{m:02}-{d:02}"),
        None => format!("--{m:02}-{d:02}"),
    }
}

fn date_hit(end: usize, year: Option<i32>, m: u32, d: u32, label: String) -> Option<Hit> {
    valid(year, m, d).then(|| Hit {
        end,
        key: date_key(year, m, d),
        label,
    })
}

fn era_year(era: Era, y: u32) -> Option<i32> {
    // An era year past the era's end (平成32年) still names a real day; read it leniently,
    // as wareki::parse_date does, since it identifies just as well.
    match (Wareki {
        era,
        year: y,
        month: 1,
        day: 1,
    })
    .to_date()
    {
        Ok(d) => Some(chrono::Datelike::year(&d)),
        Err(_) => i32::try_from(y)
            .ok()
            .map(|y| era.first_year() + y - 1)
            .filter(|_| y >= 1),
    }
}

/// Dates precise to the day. Month-level dates (2019年4月) are left alone on purpose.
pub(crate) fn date(c: &[char], i: usize) -> Option<Hit> {
    if prev_is(c, i, is_number_char) {
        return None;
    }
    let first = at(c, i)?;
    // 令和元年5月1日, 平成31年4月26日（金）
    if matches!(first, '明' | '大' | '昭' | '平' | '令')
        && i + 1 < c.len()
        && let Some(era) = Era::from_kanji(&text(c, i, i + 2))
    {
        let (y, j) = number(c, i + 2, true)?;
        if at(c, j) != Some('年') {
            return None;
        }
        let (m, d, end) = month_day(c, j + 1)?;
        let label = format!("{}{m}月{}", format_era_year(era, y), jun(d));
        return date_hit(end, era_year(era, y), m, d, label);
    }
    // R1.5.1, h31/4/26
    if let Some(era) = Era::from_letter(first).filter(|_| first.is_ascii_lowercase()) {
        if prev_is(c, i, |p| p.is_ascii_alphanumeric()) {
            return None;
        }
        let (y, j) = digits(c, i + 1, 2)?;
        let sep = at(c, j).filter(|s| matches!(s, '.' | '/' | '-'))?;
        let (m, j) = digits(c, j + 1, 2)?;
        if at(c, j) != Some(sep) {
            return None;
        }
        let (d, end) = digits(c, j + 1, 2)?;
        if at(c, end) == Some(sep) || at(c, end).is_some_and(|x| x.is_ascii_alphanumeric()) {
            return None;
        }
        let label = format!("{}{m}月{}", format_era_year(era, y), jun(d));
        return date_hit(end, era_year(era, y), m, d, label);
    }
    if first.is_ascii_digit() {
        // 2019年4月26日, 2019年（平成31年）4月26日
        if let Some((y, j)) = digits(c, i, 4).filter(|&(_, j)| j - i == 4)
            && at(c, j) == Some('年')
        {
            let mut k = j + 1;
            let mut aside = String::new();
            if at(c, k) == Some('(')
                && let Some(close) = (k + 1..(k + 12).min(c.len())).find(|&x| c[x] == ')')
            {
                aside = format!("（{}）", text(c, k + 1, close));
                k = close + 1;
            }
            let (m, d, end) = month_day(c, k)?;
            let year = i32::try_from(y).ok();
            return date_hit(end, year, m, d, format!("{y}年{aside}{m}月{}", jun(d)));
        }
        // 2019-04-26, 2019/4/26, 2019.4.26
        if let Some((y, j)) = digits(c, i, 4).filter(|&(_, j)| j - i == 4)
            && let Some(sep) = at(c, j).filter(|s| matches!(s, '-' | '/' | '.'))
        {
            let (m, k) = digits(c, j + 1, 2)?;
            if at(c, k) != Some(sep) {
                return None;
            }
            let (d, end) = digits(c, k + 1, 2)?;
            if at(c, end) == Some(sep) || at(c, end).is_some_and(|x| x.is_ascii_alphanumeric()) {
                return None;
            }
            let year = i32::try_from(y).ok();
            return date_hit(end, year, m, d, format!("{y}年{m}月{}", jun(d)));
        }
    }
    // 4月26日 with no year: still the day, which with the sector is often enough.
    let (m, d, end) = month_day(c, i)?;
    date_hit(end, None, m, d, format!("{m}月{}", jun(d)))
}

#[cfg(test)]
mod tests {
    use super::*;

    type Scanner = fn(&[char], usize) -> Option<Hit>;

    /// Every match the scanner finds, leftmost first, skipping over each one.
    fn all(scan: Scanner, s: &str) -> Vec<(String, String)> {
        let c: Vec<char> = crate::anonymise::fold::fold(s).chars;
        let mut out = Vec::new();
        let mut i = 0;
        while i < c.len() {
            match scan(&c, i) {
                Some(h) => {
                    out.push((text(&c, i, h.end), h.key));
                    i = h.end;
                }
                None => i += 1,
            }
        }
        out
    }

    fn keys(scan: Scanner, s: &str) -> Vec<String> {
        all(scan, s).into_iter().map(|(_, k)| k).collect()
    }

    fn found(scan: Scanner, s: &str) -> Vec<String> {
        all(scan, s).into_iter().map(|(t, _)| t).collect()
    }

    #[test]
    fn urls_stop_at_japanese_text_and_closing_punctuation() {
        assert_eq!(
            found(
                url,
                "詳細はhttps://www.toto-rail.example.jp/info?id=3を参照。"
            ),
            vec!["https://www.toto-rail.example.jp/info?id=3"]
        );
        assert_eq!(
            found(url, "（http://example.com/a）。"),
            vec!["http://example.com/a"]
        );
        assert_eq!(
            found(url, "see (https://example.com/a_(b))."),
            vec!["https://example.com/a_(b)"]
        );
        assert_eq!(
            keys(url, "hxxps://evil[.]example[.]com/x"),
            vec!["https://evil.example.com/x"]
        );
        assert!(found(url, "https:// と書かれていた").is_empty());
    }

    #[test]
    fn hosts_need_a_plausible_ending() {
        assert_eq!(
            found(host, "サーバmail01.corp.toto.co.jpと通信"),
            vec!["mail01.corp.toto.co.jp"]
        );
        assert_eq!(found(host, "db01.internal"), vec!["db01.internal"]);
        for not_a_host in [
            "Node.jsで作成",
            "readme.mdを参照",
            "報告書.docx",
            "version 1.2.3",
            "e.g. this",
            "Word形式",
            "localhost",
        ] {
            assert!(found(host, not_a_host).is_empty(), "{not_a_host}");
        }
        assert_eq!(keys(host, "evil[.]example[.]com"), vec!["evil.example.com"]);
    }

    #[test]
    fn emails_in_any_width_and_obfuscation() {
        assert_eq!(
            keys(
                email,
                "連絡先：ｔａｒｏ．ｙａｍａｄａ＠ｔｏｔｏ．ｃｏ．ｊｐまで"
            ),
            vec!["taro.yamada@toto.co.jp"]
        );
        assert_eq!(
            keys(email, "Taro@Toto.Example.JP、info[at]toto.co.jp"),
            vec!["taro@toto.example.jp", "info@toto.co.jp"]
        );
        assert!(found(email, "@toto.co.jp").is_empty());
        assert!(found(email, "user@localhost").is_empty());
    }

    #[test]
    fn ipv4_addresses_but_not_versions() {
        assert_eq!(
            found(
                ipv4,
                "送信元は192.168.10.5、203.0.113.0/24と１９８．５１．１００．７:8080"
            ),
            vec!["192.168.10.5", "203.0.113.0/24", "198.51.100.7:8080"]
        );
        assert_eq!(keys(ipv4, "10[.]0[.]0[.]1"), vec!["10.0.0.1"]);
        assert_eq!(keys(ipv4, "送信元IP192.0.2.1"), vec!["192.0.2.1"]);
        for no in ["1.2.3.4.5", "256.1.1.1", "v1.2.3.4", "2019.4.26", "1.2.3"] {
            assert!(found(ipv4, no).is_empty(), "{no}");
        }
    }

    #[test]
    fn ipv6_addresses_but_not_times_or_code() {
        assert_eq!(
            keys(ipv6, "送信元2001:DB8:0:0::1と fe80::1ff:fe23:4567:890a/64"),
            vec!["2001:db8::1", "fe80::1ff:fe23:4567:890a"]
        );
        for no in ["10:30:45に", "std::vector", "00:1a:2b:3c:4d:5e", "::"] {
            assert!(found(ipv6, no).is_empty(), "{no}");
        }
    }

    #[test]
    fn japanese_phone_numbers_in_every_usual_spelling() {
        let text = "代表03-1234-5678、フリーダイヤル０１２０－１２３－４５６、携帯090ー1234ー5678、\
                    (03)1234-5678、+81-3-1234-5678、+81 (0)90 1234 5678、0312345678";
        assert_eq!(
            keys(phone, text),
            vec![
                "0312345678",
                "0120123456",
                "09012345678",
                "0312345678",
                "0312345678",
                "09012345678",
                "0312345678"
            ]
        );
        for no in [
            "2019-04-26",
            "03-1234",
            "0-1",
            "001-81-3-1234-5678",
            "ID 012345678901",
            "v03-1234-5678",
        ] {
            assert!(found(phone, no).is_empty(), "{no}");
        }
        assert_eq!(
            found(phone, "03-1234-5678 と 045-123-4567"),
            vec!["03-1234-5678", "045-123-4567"]
        );
    }

    #[test]
    fn dates_precise_to_the_day_in_every_usual_form() {
        let text = "2019年（平成31年）4月26日、4月26日（金）、２０１９－０４－２６、2019/4/26、\
                    令和元年5月1日、平成三十一年四月三十日、R1.5.7、平成32年1月1日";
        assert_eq!(
            all(date, text),
            vec![
                ("2019年(平成31年)4月26日".into(), "2019-04-26".into()),
                ("4月26日(金)".into(), "--04-26".into()),
                ("2019-04-26".into(), "2019-04-26".into()),
                ("2019/4/26".into(), "2019-04-26".into()),
                ("令和元年5月1日".into(), "2019-05-01".into()),
                ("平成三十一年四月三十日".into(), "2019-04-30".into()),
                ("r1.5.7".into(), "2019-05-07".into()),
                ("平成32年1月1日".into(), "2020-01-01".into()),
            ]
        );
    }

    #[test]
    fn date_labels_keep_the_month_and_the_ten_day_part() {
        let label = |s: &str| {
            let c = crate::anonymise::fold::fold(s).chars;
            date(&c, 0).map(|h| h.label)
        };
        assert_eq!(
            label("2019年（平成31年）4月26日").as_deref(),
            Some("2019年（平成31年）4月下旬")
        );
        assert_eq!(label("令和元年5月1日").as_deref(), Some("令和元年5月上旬"));
        assert_eq!(label("R1.5.15").as_deref(), Some("令和元年5月中旬"));
        assert_eq!(label("2019-04-10").as_deref(), Some("2019年4月上旬"));
        assert_eq!(label("4月26日").as_deref(), Some("4月下旬"));
    }

    #[test]
    fn month_level_and_impossible_dates_are_not_flagged() {
        for no in [
            "2019年5月に",
            "1989年5月○日",
            "平成31年4月",
            "2月30日",
            "13月1日",
            "12345月1日",
            "第3四半期",
            "3時間後",
            "2019-13-01",
            "2019.4.26.1",
        ] {
            assert!(found(date, no).is_empty(), "{no}");
        }
        assert_eq!(keys(date, "2020年2月29日"), vec!["2020-02-29"]);
        // No 2019-02-29 exists; what remains is read as the year-less day it names.
        assert_eq!(keys(date, "2019年2月29日"), vec!["--02-29"]);
    }
}
