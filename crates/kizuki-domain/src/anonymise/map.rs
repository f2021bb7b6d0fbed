//! The pseudonym map of one case (real name → label) and its application to every text of the
//! case, actor labels and keys included, so the diagram says what the prose says.
//!
//! Matching is on folded text (width, case, spacing), longest name first, and ignores word
//! edges (a name left in place would leak; one replaced inside a longer word only reads
//! oddly, and the residual scan shows it). Text that already
//! reads as one of the map's labels is never touched, which is what makes applying the map
//! twice the same as applying it once: a label can contain no real name (checked when an
//! entry is added), and anything a first pass left alone a second pass leaves alone too.

use super::fold::{fold, fold_compact};
use super::{Compact, Matcher};
use crate::case::CaseContent;
use crate::error::{FieldError, FieldErrorKind, ValidationErrors};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// One replacement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pseudonym {
    pub real: String,
    pub label: String,
}

/// A checked set of replacements: no real name maps to two labels, no label contains a real
/// name (it would leak it, or shield it from replacement).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Pseudonym>", into = "Vec<Pseudonym>")]
pub struct PseudonymMap {
    entries: Vec<Pseudonym>,
}

/// Longest label a diagram box can hold without wrapping into nonsense.
pub const MAX_LABEL: usize = 60;

fn compact_str(s: &str) -> String {
    fold_compact(s).into_iter().collect()
}

impl PseudonymMap {
    pub fn new() -> PseudonymMap {
        PseudonymMap::default()
    }

    /// Checks every entry; errors name `entries[i].real` or `entries[i].label`.
    pub fn from_entries(entries: Vec<Pseudonym>) -> Result<PseudonymMap, ValidationErrors> {
        let mut map = PseudonymMap::new();
        let mut errs = ValidationErrors::default();
        for (i, e) in entries.into_iter().enumerate() {
            if let Err(e) = map.insert(&e.real, &e.label) {
                errs.push(e.within(&format!("entries[{i}]")));
            }
        }
        errs.into_result(map)
    }

    /// Adds `real → label`. Adding the same pair twice is a no-op.
    pub fn insert(&mut self, real: &str, label: &str) -> Result<(), FieldError> {
        let (real, label) = (real.trim(), label.trim());
        let (r, l) = (compact_str(real), compact_str(label));
        if r.is_empty() {
            return Err(FieldError::required("real"));
        }
        if l.is_empty() {
            return Err(FieldError::required("label"));
        }
        if label.chars().count() > MAX_LABEL {
            return Err(FieldError::new(
                "label",
                FieldErrorKind::TooLong { max: MAX_LABEL },
            ));
        }
        if l.contains(&r) {
            return Err(FieldError::invalid(
                "label",
                format!(
                    "置換後の「{label}」に元の「{real}」が含まれています / the label contains the name it replaces"
                ),
            ));
        }
        for e in &self.entries {
            let er = compact_str(&e.real);
            if er == r {
                if compact_str(&e.label) == l {
                    return Ok(());
                }
                return Err(FieldError::new(
                    "real",
                    FieldErrorKind::Duplicate {
                        value: real.to_owned(),
                    },
                ));
            }
            if compact_str(&e.label).contains(&r) {
                return Err(FieldError::invalid(
                    "real",
                    format!(
                        "「{real}」は置換後の「{}」の一部のため置換できません / it occurs inside another label",
                        e.label
                    ),
                ));
            }
            if l.contains(&er) {
                return Err(FieldError::invalid(
                    "label",
                    format!(
                        "「{label}」に置換対象の「{}」が含まれています / the label contains another replaced name",
                        e.real
                    ),
                ));
            }
        }
        self.entries.push(Pseudonym {
            real: real.to_owned(),
            label: label.to_owned(),
        });
        Ok(())
    }

    pub fn entries(&self) -> &[Pseudonym] {
        &self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The label for a real name, matched folded.
    pub fn label_for(&self, real: &str) -> Option<&str> {
        let r = compact_str(real);
        self.entries
            .iter()
            .find(|e| compact_str(&e.real) == r)
            .map(|e| e.label.as_str())
    }

    fn compile(&self) -> Compiled<'_> {
        let reals = Matcher::new(
            self.entries
                .iter()
                .enumerate()
                .map(|(i, e)| (fold_compact(&e.real), i)),
        );
        let labels = Matcher::new(
            self.entries
                .iter()
                .enumerate()
                .map(|(i, e)| (fold_compact(&e.label), i)),
        );
        Compiled {
            map: self,
            reals,
            labels,
        }
    }

    /// One text with the map applied.
    pub fn apply_text(&self, s: &str) -> String {
        self.compile().text(s)
    }

    /// The whole case with the map applied: every text field, actor labels, and actor keys
    /// (a key that contained a replaced name becomes `actor-N`, references follow).
    pub fn apply(&self, content: &CaseContent) -> CaseContent {
        let m = self.compile();
        let mut c = content.clone();
        let t = |s: &mut String| *s = m.text(s);
        t(&mut c.title);
        t(&mut c.impact);
        t(&mut c.cause);
        c.overview.iter_mut().for_each(t);
        for a in &mut c.actors {
            t(&mut a.label);
        }
        for s in c.steps.iter_mut().chain(c.responses.iter_mut()) {
            t(&mut s.text);
            if let Some(time) = &mut s.time {
                t(time);
            }
        }
        let s = &mut c.sections;
        for pts in [
            &mut s.background,
            &mut s.detection,
            &mut s.response,
            &mut s.cause,
            &mut s.countermeasures,
        ] {
            pts.iter_mut().for_each(t);
        }
        for l in &mut c.lessons {
            t(&mut l.title);
            t(&mut l.text);
        }
        rekey(&mut c, &m);
        c
    }
}

impl TryFrom<Vec<Pseudonym>> for PseudonymMap {
    type Error = ValidationErrors;

    fn try_from(v: Vec<Pseudonym>) -> Result<Self, Self::Error> {
        PseudonymMap::from_entries(v)
    }
}

impl From<PseudonymMap> for Vec<Pseudonym> {
    fn from(m: PseudonymMap) -> Self {
        m.entries
    }
}

struct Compiled<'a> {
    map: &'a PseudonymMap,
    reals: Matcher,
    labels: Matcher,
}

impl Compiled<'_> {
    fn text(&self, s: &str) -> String {
        if self.map.entries.is_empty() || s.is_empty() {
            return s.to_owned();
        }
        let f = fold(s);
        let v = Compact::of(&f);
        let mut protected = vec![false; f.len()];
        for p in 0..v.chars.len() {
            for (fs, fe, _) in self.labels.at(&f, &v, p, false) {
                protected[fs..fe].iter_mut().for_each(|x| *x = true);
            }
        }
        let mut repl: Vec<(usize, usize, &str)> = Vec::new();
        let mut p = 0;
        while p < v.chars.len() {
            let hit = self
                .reals
                .at(&f, &v, p, false)
                .find(|&(fs, fe, _)| !protected[fs..fe].iter().any(|&x| x));
            match hit {
                Some((fs, fe, i)) => {
                    let (os, oe) = f.original(fs, fe);
                    repl.push((os, oe, self.map.entries[i].label.as_str()));
                    // Continue after the match: the compact index of the folded end.
                    p = v.at.partition_point(|&x| x < fe);
                }
                None => p += 1,
            }
        }
        if repl.is_empty() {
            return s.to_owned();
        }
        let chars: Vec<char> = s.chars().collect();
        let mut out = String::with_capacity(s.len());
        let mut at = 0;
        for (os, oe, label) in repl {
            // Two folded matches can come from one original character (㍻ → 平成); the
            // second has nothing left to replace.
            if os < at {
                continue;
            }
            out.extend(&chars[at..os]);
            out.push_str(label);
            at = oe;
        }
        out.extend(&chars[at..]);
        out
    }
}

// Keys are not shown as text but are written into the diagram's markup, so a key that
// carried a name must go. Renaming rather than substituting keeps keys ASCII and unique.
fn rekey(c: &mut CaseContent, m: &Compiled<'_>) {
    let mut renamed: HashMap<String, String> = HashMap::new();
    let mut taken: HashSet<String> = c.actors.iter().map(|a| a.key.clone()).collect();
    for (i, a) in c.actors.iter_mut().enumerate() {
        if m.text(&a.key) == a.key {
            continue;
        }
        let mut n = i + 1;
        let mut key = format!("actor-{n}");
        while taken.contains(&key) {
            n += 1;
            key = format!("actor-{n}");
        }
        taken.insert(key.clone());
        renamed.insert(a.key.clone(), key.clone());
        a.key = key;
    }
    if renamed.is_empty() {
        return;
    }
    let follow = |k: &mut String| {
        if let Some(n) = renamed.get(k.as_str()) {
            k.clone_from(n);
        }
    };
    for a in &mut c.actors {
        if let Some(g) = a.group.as_mut() {
            follow(g);
        }
    }
    for s in c.steps.iter_mut().chain(c.responses.iter_mut()) {
        s.actors.iter_mut().for_each(follow);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn map(pairs: &[(&str, &str)]) -> PseudonymMap {
        PseudonymMap::from_entries(
            pairs
                .iter()
                .map(|(r, l)| Pseudonym {
                    real: (*r).into(),
                    label: (*l).into(),
                })
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn longest_name_wins_and_every_spelling_is_replaced() {
        let m = map(&[
            ("東都電機", "システムベンダA"),
            ("東都電機システムズ", "システムベンダB"),
            ("山田 太郎", "職員"),
        ]);
        assert_eq!(
            m.apply_text("東都電機システムズと東都電機、ﾄｳﾄ…山田太郎と山田　太郎"),
            "システムベンダBとシステムベンダA、ﾄｳﾄ…職員と職員"
        );
        assert_eq!(
            map(&[("ACME", "システムベンダA")]).apply_text("ＡＣＭＥ社とacme"),
            "システムベンダA社とシステムベンダA"
        );
    }

    #[test]
    fn half_width_kana_are_matched_as_their_full_width_form() {
        let m = map(&[("トウトガス", "重要インフラ事業者")]);
        assert_eq!(m.apply_text("ﾄｳﾄｶﾞｽから連絡"), "重要インフラ事業者から連絡");
        assert_eq!(m.apply_text("トウトカス"), "トウトカス", "カ is not ガ");
    }

    #[test]
    fn names_are_replaced_even_inside_longer_words() {
        // The scanner is careful at word edges; the map is not, since a name left in place
        // would leak while an over-eager replacement only reads oddly.
        let m = map(&[("ACME", "システムベンダA")]);
        assert_eq!(m.apply_text("ACMEX"), "システムベンダAX");
    }

    #[test]
    fn text_already_reading_as_a_label_is_left_alone() {
        // "Aシステム" would match across the end of a label written before it.
        let m = map(&[("東都", "システムベンダA"), ("Aシステム", "業務システム")]);
        let once = m.apply_text("東都システム");
        assert_eq!(once, "システムベンダAシステム");
        assert_eq!(m.apply_text(&once), once);
    }

    #[test]
    fn bad_entries_are_refused_by_field() {
        let errs = PseudonymMap::from_entries(vec![
            Pseudonym {
                real: "東都".into(),
                label: "東都の事業者".into(),
            },
            Pseudonym {
                real: " ".into(),
                label: "x".into(),
            },
            Pseudonym {
                real: "西都".into(),
                label: "重要インフラ事業者".into(),
            },
            Pseudonym {
                real: "西都".into(),
                label: "他の重要インフラ事業者".into(),
            },
            Pseudonym {
                real: "事業者".into(),
                label: "組織".into(),
            },
            Pseudonym {
                real: "南都".into(),
                label: "x".repeat(MAX_LABEL + 1),
            },
        ])
        .unwrap_err();
        for f in [
            "entries[0].label",
            "entries[1].real",
            "entries[3].real",
            "entries[4].real",
            "entries[5].label",
        ] {
            assert!(errs.for_field(f).is_some(), "{f} in {errs}");
        }
        assert!(errs.for_field("entries[2].real").is_none());
    }

    proptest! {
        // Names and labels drawn from a small alphabet so they overlap in every way.
        #[test]
        fn applying_twice_is_applying_once(
            pairs in prop::collection::vec(("[abcア東ー ]{1,4}", "[abdイ西L]{1,5}"), 0..5),
            text in "[abcdア東イ西ー L　]{0,40}",
        ) {
            let mut m = PseudonymMap::new();
            for (r, l) in &pairs {
                let _ = m.insert(r, l);
            }
            let once = m.apply_text(&text);
            prop_assert_eq!(m.apply_text(&once), once.clone());
        }

        #[test]
        fn no_real_name_survives_outside_a_label(
            pairs in prop::collection::vec(("[東西南北]{2,3}", "[ABC]{1,2}"), 1..4),
            text in "[東西南北ABC、]{0,30}",
        ) {
            let mut m = PseudonymMap::new();
            for (r, l) in &pairs {
                let _ = m.insert(r, l);
            }
            let out = m.apply_text(&text);
            // Labels here share no characters with names, so nothing is shielded.
            for e in m.entries() {
                prop_assert!(!out.contains(&e.real), "{} left in {}", e.real, out);
            }
        }
    }
}
