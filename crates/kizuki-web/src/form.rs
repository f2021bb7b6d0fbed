//! Posted forms as ordered name/value pairs. Repeated names (checkboxes, multi-selects) are
//! kept, which serde's urlencoded reader cannot do.

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
}
