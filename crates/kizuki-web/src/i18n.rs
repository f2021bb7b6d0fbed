//! Message catalogues: every string the UI shows, one TOML file per language, embedded in
//! the binary and checked at start so both languages always have the same keys.

use kizuki_domain::taxonomy::Lang;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

const JA: &str = include_str!("../locales/ja.toml");
const EN: &str = include_str!("../locales/en.toml");

static CATALOGUE: LazyLock<Result<I18n, String>> = LazyLock::new(I18n::load);
static EMPTY: LazyLock<I18n> = LazyLock::new(|| I18n {
    ja: BTreeMap::new(),
    en: BTreeMap::new(),
});

/// The process's catalogues. The server refuses to start when they do not load
/// ([`check`]), so the empty fallback is never what a user sees.
pub fn catalogue() -> &'static I18n {
    match &*CATALOGUE {
        Ok(c) => c,
        Err(_) => &EMPTY,
    }
}

/// Whether the embedded catalogues load and agree.
pub fn check() -> Result<(), String> {
    CATALOGUE.as_ref().map(|_| ()).map_err(Clone::clone)
}

/// Both catalogues, flattened to `section.key` → text.
#[derive(Debug, Clone)]
pub struct I18n {
    ja: BTreeMap<String, String>,
    en: BTreeMap<String, String>,
}

fn flatten(
    prefix: &str,
    table: &toml::Table,
    out: &mut BTreeMap<String, String>,
) -> Result<(), String> {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::String(s) => {
                out.insert(key, s.clone());
            }
            toml::Value::Table(t) => flatten(&key, t, out)?,
            _ => return Err(format!("{key}: messages must be strings")),
        }
    }
    Ok(())
}

fn load(name: &str, text: &str) -> Result<BTreeMap<String, String>, String> {
    let table: toml::Table = text
        .parse()
        .map_err(|e| format!("locales/{name}.toml: {e}"))?;
    let mut out = BTreeMap::new();
    flatten("", &table, &mut out).map_err(|e| format!("locales/{name}.toml: {e}"))?;
    Ok(out)
}

impl I18n {
    /// Loads the embedded catalogues; fails when either is malformed or when a key is in one
    /// language and not the other.
    pub fn load() -> Result<I18n, String> {
        let ja = load("ja", JA)?;
        let en = load("en", EN)?;
        let jk: BTreeSet<&String> = ja.keys().collect();
        let ek: BTreeSet<&String> = en.keys().collect();
        let only_ja: Vec<&&String> = jk.difference(&ek).collect();
        let only_en: Vec<&&String> = ek.difference(&jk).collect();
        if !only_ja.is_empty() || !only_en.is_empty() {
            return Err(format!(
                "message catalogues differ: only in ja {only_ja:?}, only in en {only_en:?}"
            ));
        }
        Ok(I18n { ja, en })
    }

    fn table(&self, lang: Lang) -> &BTreeMap<String, String> {
        match lang {
            Lang::Ja => &self.ja,
            Lang::En => &self.en,
        }
    }

    pub fn has(&self, key: &str) -> bool {
        self.ja.contains_key(key)
    }

    /// The message for `key`; a missing key shows as the key itself (tests catch those).
    pub fn get<'a>(&'a self, lang: Lang, key: &'a str) -> &'a str {
        self.table(lang).get(key).map_or(key, String::as_str)
    }

    /// The message with `{name}` placeholders filled in.
    pub fn fmt(&self, lang: Lang, key: &str, args: &[(&str, String)]) -> String {
        let mut s = self.get(lang, key).to_owned();
        for (k, v) in args {
            s = s.replace(&format!("{{{k}}}"), v);
        }
        s
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.ja.keys().map(String::as_str)
    }
}

/// Picks one language's half of a message written "日本語 / English", as the domain writes
/// reasons that have no catalogue key.
pub fn pick(text: &str, lang: Lang) -> &str {
    match text.split_once(" / ") {
        Some((ja, en)) => match lang {
            Lang::Ja => ja.trim(),
            Lang::En => en.trim(),
        },
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_have_every_key() {
        let i = I18n::load().unwrap();
        for k in i.keys() {
            assert!(!i.get(Lang::Ja, k).trim().is_empty(), "ja {k} is empty");
            assert!(!i.get(Lang::En, k).trim().is_empty(), "en {k} is empty");
        }
    }

    #[test]
    fn pick_splits_bilingual_reasons() {
        assert_eq!(
            pick("未来の日時 / in the future", Lang::En),
            "in the future"
        );
        assert_eq!(pick("未来の日時 / in the future", Lang::Ja), "未来の日時");
        assert_eq!(pick("only one", Lang::En), "only one");
    }
}
