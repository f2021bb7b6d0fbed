//! Posted forms as ordered name/value pairs. Repeated names (checkboxes, multi-selects) are
//! kept, which serde's urlencoded reader cannot do, and rows of fields named
//! `list[i][field]` are read back as rows.

use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormData {
    pairs: Vec<(String, String)>,
}

impl FormData {
    pub fn parse(body: &[u8]) -> FormData {
        FormData {
            // Browsers send textarea line breaks as CRLF; store and compare them as LF.
            pairs: form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.replace("\r\n", "\n")))
                .collect(),
        }
    }

    /// The first value of `name`, or "" when absent.
    pub fn get(&self, name: &str) -> &str {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn has(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == name)
    }

    /// A checkbox: present and not "0"/"false".
    pub fn flag(&self, name: &str) -> bool {
        self.has(name) && !matches!(self.get(name), "0" | "false" | "")
    }

    pub fn i64(&self, name: &str) -> Option<i64> {
        self.get(name).trim().parse().ok()
    }

    /// The rows posted as `list[i][field]`, in the order of `i`. Gaps close up (a script may
    /// have removed a row without renumbering the rest); a field sent more than once in a row
    /// (checkboxes) keeps every value, and [`FormRow::get`] reads the first, as
    /// [`FormData::get`] does.
    pub fn rows(&self, list: &str) -> Vec<FormRow> {
        let mut rows: BTreeMap<usize, FormRow> = BTreeMap::new();
        for (k, v) in &self.pairs {
            let Some((i, field)) = row_key(k, list) else {
                continue;
            };
            rows.entry(i)
                .or_default()
                .0
                .entry(field.to_owned())
                .or_default()
                .push(v.clone());
        }
        rows.into_values().collect()
    }
}

/// `list[3][text]` as (3, "text").
fn row_key<'a>(key: &'a str, list: &str) -> Option<(usize, &'a str)> {
    let rest = key.strip_prefix(list)?.strip_prefix('[')?;
    let (i, rest) = rest.split_once(']')?;
    let field = rest.strip_prefix('[')?.strip_suffix(']')?;
    if i.is_empty() || !i.bytes().all(|b| b.is_ascii_digit()) || field.contains(['[', ']']) {
        return None;
    }
    Some((i.parse().ok()?, field))
}

/// One posted row: its fields by name, each with the values sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormRow(BTreeMap<String, Vec<String>>);

impl FormRow {
    /// A field's (first) value, or "" when absent.
    pub fn get(&self, field: &str) -> &str {
        self.0
            .get(field)
            .and_then(|v| v.first())
            .map_or("", String::as_str)
    }

    /// Every value of a field (the checked boxes of a group), in the order sent.
    pub fn all(&self, field: &str) -> &[String] {
        self.0.get(field).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_repeats_and_decodes() {
        let f =
            FormData::parse(b"causes=a&causes=b&title=%E6%97%A5%E4%BB%98+x&v=3&on=on&t=a%0D%0Ab");
        assert_eq!(f.get("t"), "a\nb");
        assert_eq!(f.all("causes"), vec!["a", "b"]);
        assert_eq!(f.get("title"), "日付 x");
        assert_eq!(f.i64("v"), Some(3));
        assert!(f.flag("on"));
        assert!(!f.flag("off"));
        assert_eq!(f.get("missing"), "");
    }

    #[test]
    fn rows_come_back_in_index_order() {
        let body = "steps%5B10%5D%5Btext%5D=c&steps%5B0%5D%5Btext%5D=a&steps%5B0%5D%5Btime%5D=10%3A30\
                    &steps%5B2%5D%5Btext%5D=b&steps%5B2%5D%5Btext%5D=again&responses%5B0%5D%5Btext%5D=r\
                    &steps%5Bx%5D%5Btext%5D=no&steps%5B1%5D=no&steps%5B1%5D%5Ba%5D%5Bb%5D=no&steps=no";
        let f = FormData::parse(body.as_bytes());
        let rows = f.rows("steps");
        let texts: Vec<&str> = rows.iter().map(|r| r.get("text")).collect();
        assert_eq!(texts, ["a", "b", "c"]);
        assert_eq!(rows[0].get("time"), "10:30");
        assert_eq!(rows[1].get("time"), "");
        assert_eq!(f.rows("responses").len(), 1);
        assert!(f.rows("lessons").is_empty());
        // A field sent twice keeps both values; `get` reads the first.
        assert_eq!(rows[1].all("text"), ["b", "again"]);
        assert!(rows[1].all("time").is_empty());
    }
}
