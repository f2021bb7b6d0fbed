//! Anonymising a case for publication: finding what could identify the operator (directory
//! names, addresses, hosts, phone numbers, day-precise dates), the editor's decision on each,
//! and the pseudonym map that turns the case into the text the operator signs off.
//!
//! The flow the web layer drives is one call, [`anonymise`]: raw case + directory + the
//! editor's manual map + stored decisions in, the review screen's content and the anonymised
//! case out. Everything here is pure; the store keeps the map and the decisions.

mod fold;
mod map;
mod patterns;
mod reid;
mod review;

#[cfg(test)]
mod tests;

pub use map::{Pseudonym, PseudonymMap};
pub use reid::{Attribute, Disclosed, OrgProfile, ReidCheck, ReidPolicy, check_reidentification};
pub use review::{Anonymisation, Decision, Review, anonymise};

use crate::case::CaseContent;
use crate::error::{FieldError, ValidationErrors};
use crate::ids::OrgId;
use crate::org::{OrgKind, Organisation};
use crate::taxonomy::Lang;
use crate::user::User;
use fold::{Folded, fold, fold_compact};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// What a directory name stands for; decides the label suggested for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NameKind {
    /// The operator whose case it is: 重要インフラ事業者.
    ReportingOperator,
    /// Any other operator: 他の重要インフラ事業者.
    Operator,
    /// システムベンダ, lettered A, B… when a case names more than one.
    Vendor,
    /// 所管省庁.
    Ministry,
    /// Anything else in the directory (the centre, a police force…): 関係機関.
    Organisation,
    /// A person: 職員 (the editor usually relabels to the role, e.g. CSIRT担当者).
    Person,
    /// A named system: 業務システム, lettered when there are several.
    System,
}

/// One entry of the directory: a stable key and every name it goes by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownName {
    pub key: String,
    pub kind: NameKind,
    pub names: Vec<String>,
}

impl KnownName {
    pub fn new(
        key: impl Into<String>,
        kind: NameKind,
        names: Vec<String>,
    ) -> Result<KnownName, ValidationErrors> {
        let key = key.into().trim().to_owned();
        let mut errs = ValidationErrors::default();
        if key.is_empty() {
            errs.push(FieldError::required("key"));
        }
        let names: Vec<String> = names.into_iter().map(|n| n.trim().to_owned()).collect();
        for (i, n) in names.iter().enumerate() {
            if fold_compact(n).len() < MIN_NAME_CHARS {
                errs.push(FieldError::invalid(
                    format!("names[{i}]"),
                    "名前は2文字以上にしてください / a name needs at least 2 characters",
                ));
            }
        }
        if names.is_empty() {
            errs.push(FieldError::required("names"));
        }
        errs.into_result(KnownName { key, kind, names })
    }
}

// One character (a surname like 森, an initial) would match all over a case; such names are
// left to the editor's manual map.
const MIN_NAME_CHARS: usize = 2;

/// The names the directory knows, handed in by the caller (organisations, users, systems).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directory {
    names: Vec<KnownName>,
}

impl Directory {
    pub fn new(names: Vec<KnownName>) -> Result<Directory, ValidationErrors> {
        let mut errs = ValidationErrors::default();
        let mut seen = HashMap::new();
        for (i, n) in names.iter().enumerate() {
            if seen.insert(n.key.as_str(), i).is_some() {
                errs.push(FieldError::new(
                    format!("names[{i}].key"),
                    crate::error::FieldErrorKind::Duplicate {
                        value: n.key.clone(),
                    },
                ));
            }
        }
        errs.into_result(Directory { names })
    }

    /// The directory as stored: organisations (the case's own operator marked by
    /// `reporting`), users by display name, and system names (e.g. from the report's systems).
    /// Names too short to match safely are left out rather than failing the whole directory.
    pub fn from_records(
        orgs: &[Organisation],
        users: &[User],
        systems: &[String],
        reporting: Option<OrgId>,
    ) -> Directory {
        let mut names = Vec::new();
        let mut push = |key: String, kind: NameKind, name: &str| {
            if fold_compact(name).len() >= MIN_NAME_CHARS {
                names.push(KnownName {
                    key,
                    kind,
                    names: vec![name.trim().to_owned()],
                });
            }
        };
        for o in orgs {
            let kind = match o.org.kind {
                OrgKind::Operator if Some(o.id) == reporting => NameKind::ReportingOperator,
                OrgKind::Operator => NameKind::Operator,
                OrgKind::Vendor => NameKind::Vendor,
                OrgKind::Ministry => NameKind::Ministry,
                OrgKind::Centre => NameKind::Organisation,
            };
            push(format!("org-{}", o.org.key), kind, &o.org.name);
        }
        for u in users {
            push(
                format!("user-{}", u.id),
                NameKind::Person,
                &u.user.display_name,
            );
        }
        for s in systems {
            let key: String = fold_compact(s).into_iter().collect();
            push(format!("system-{key}"), NameKind::System, s);
        }
        let mut seen = std::collections::HashSet::new();
        names.retain(|n| seen.insert(n.key.clone()));
        Directory { names }
    }

    pub fn names(&self) -> &[KnownName] {
        &self.names
    }
}

/// What kind of identifier a candidate is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CandidateKind {
    Organisation,
    Person,
    System,
    Email,
    Url,
    Host,
    Ipv4,
    Ipv6,
    Phone,
    Date,
}

impl CandidateKind {
    pub const ALL: [CandidateKind; 10] = [
        CandidateKind::Organisation,
        CandidateKind::Person,
        CandidateKind::System,
        CandidateKind::Email,
        CandidateKind::Url,
        CandidateKind::Host,
        CandidateKind::Ipv4,
        CandidateKind::Ipv6,
        CandidateKind::Phone,
        CandidateKind::Date,
    ];

    pub fn code(self) -> &'static str {
        match self {
            CandidateKind::Organisation => "organisation",
            CandidateKind::Person => "person",
            CandidateKind::System => "system",
            CandidateKind::Email => "email",
            CandidateKind::Url => "url",
            CandidateKind::Host => "host",
            CandidateKind::Ipv4 => "ipv4",
            CandidateKind::Ipv6 => "ipv6",
            CandidateKind::Phone => "phone",
            CandidateKind::Date => "date",
        }
    }

    pub fn parse(s: &str) -> Option<CandidateKind> {
        CandidateKind::ALL
            .into_iter()
            .find(|k| k.code() == s.trim())
    }

    pub fn label(self, lang: Lang) -> &'static str {
        if lang == Lang::Ja {
            return self.label_ja();
        }
        match self {
            CandidateKind::Organisation => "organisation",
            CandidateKind::Person => "person",
            CandidateKind::System => "system",
            CandidateKind::Email => "e-mail address",
            CandidateKind::Url => "URL",
            CandidateKind::Host => "host or domain",
            CandidateKind::Ipv4 => "IPv4 address",
            CandidateKind::Ipv6 => "IPv6 address",
            CandidateKind::Phone => "phone number",
            CandidateKind::Date => "date (to the day)",
        }
    }

    pub fn label_ja(self) -> &'static str {
        match self {
            CandidateKind::Organisation => "組織名",
            CandidateKind::Person => "人名",
            CandidateKind::System => "システム名",
            CandidateKind::Email => "メールアドレス",
            CandidateKind::Url => "URL",
            CandidateKind::Host => "ホスト名・ドメイン",
            CandidateKind::Ipv4 => "IPv4アドレス",
            CandidateKind::Ipv6 => "IPv6アドレス",
            CandidateKind::Phone => "電話番号",
            CandidateKind::Date => "日付（日単位）",
        }
    }

    // Which wins when two scanners claim exactly the same text.
    fn priority(self) -> u8 {
        match self {
            CandidateKind::Url => 0,
            CandidateKind::Email => 1,
            CandidateKind::Ipv6 => 2,
            CandidateKind::Ipv4 => 3,
            CandidateKind::Organisation => 4,
            CandidateKind::Person => 5,
            CandidateKind::System => 6,
            CandidateKind::Host => 7,
            CandidateKind::Phone => 8,
            CandidateKind::Date => 9,
        }
    }
}

/// Where a candidate occurs: a field path (`sections.detection[0]`, `actors[3].label`) and a
/// character range (not bytes) in that field's text as stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Location {
    pub field: String,
    pub start: usize,
    pub end: usize,
}

/// Something in the case that could identify the operator, with every place it occurs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    /// Stable across edits and spellings: `kind:key`, e.g. `email:taro@toto.co.jp`,
    /// `date:2019-04-26`, `organisation:org-demo-railway`. Decisions are stored under it.
    pub id: String,
    pub kind: CandidateKind,
    /// As first written in the case (for a directory entry: its name in the directory).
    pub text: String,
    /// Every distinct spelling found; all of them are replaced.
    pub forms: Vec<String>,
    pub locations: Vec<Location>,
    pub suggested: String,
}

/// Every published text of a case with its path, in reading order. Actor keys are included:
/// they end up in the diagram's markup.
pub fn text_fields(c: &CaseContent) -> Vec<(String, &str)> {
    let mut out: Vec<(String, &str)> = vec![
        ("title".into(), &c.title),
        ("impact".into(), &c.impact),
        ("cause".into(), &c.cause),
    ];
    for (i, s) in c.overview.iter().enumerate() {
        out.push((format!("overview[{i}]"), s));
    }
    for (i, a) in c.actors.iter().enumerate() {
        out.push((format!("actors[{i}].label"), &a.label));
        out.push((format!("actors[{i}].key"), &a.key));
    }
    // A step's time is published beside it, and a date in it can identify as well as one in
    // the text.
    for (i, s) in c.steps.iter().enumerate() {
        out.push((format!("steps[{i}].text"), &s.text));
        if let Some(t) = &s.time {
            out.push((format!("steps[{i}].time"), t));
        }
    }
    for (i, s) in c.responses.iter().enumerate() {
        out.push((format!("responses[{i}].text"), &s.text));
        if let Some(t) = &s.time {
            out.push((format!("responses[{i}].time"), t));
        }
    }
    let s = &c.sections;
    for (name, pts) in [
        ("background", &s.background),
        ("detection", &s.detection),
        ("response", &s.response),
        ("cause", &s.cause),
        ("countermeasures", &s.countermeasures),
    ] {
        for (i, p) in pts.iter().enumerate() {
            out.push((format!("sections.{name}[{i}]"), p));
        }
    }
    for (i, l) in c.lessons.iter().enumerate() {
        out.push((format!("lessons[{i}].title"), &l.title));
        out.push((format!("lessons[{i}].text"), &l.text));
    }
    out
}

/// Folded, whitespace-free view of a field, for names that match however they are spaced.
pub(crate) struct Compact {
    pub chars: Vec<char>,
    /// Folded index of each compact character.
    pub at: Vec<usize>,
}

impl Compact {
    pub fn of(f: &Folded) -> Compact {
        let (chars, at) = f
            .chars
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.is_whitespace())
            .map(|(i, c)| (*c, i))
            .unzip();
        Compact { chars, at }
    }
}

/// Literal patterns (folded, whitespace-free), indexed by first character, longest first.
pub(crate) struct Matcher {
    by_first: HashMap<char, Vec<(Vec<char>, usize)>>,
}

impl Matcher {
    pub fn new(patterns: impl IntoIterator<Item = (Vec<char>, usize)>) -> Matcher {
        let mut by_first: HashMap<char, Vec<(Vec<char>, usize)>> = HashMap::new();
        for (p, id) in patterns {
            if let Some(&c) = p.first() {
                by_first.entry(c).or_default().push((p, id));
            }
        }
        for v in by_first.values_mut() {
            v.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.1.cmp(&b.1)));
        }
        Matcher { by_first }
    }

    /// Every pattern matching at compact position `p`, longest first, as folded ranges.
    /// With `words`, a pattern that begins or ends with an ASCII letter or digit must stand
    /// as a word, so "ACME" is not found inside "ACMEX".
    pub fn at(
        &self,
        f: &Folded,
        v: &Compact,
        p: usize,
        words: bool,
    ) -> impl Iterator<Item = (usize, usize, usize)> {
        let first = v.chars.get(p).copied();
        first
            .and_then(|c| self.by_first.get(&c))
            .into_iter()
            .flatten()
            .filter_map(move |(pat, id)| {
                let end = p + pat.len();
                if end > v.chars.len() || v.chars[p..end] != pat[..] {
                    return None;
                }
                let (fs, fe) = (v.at[p], v.at[end - 1] + 1);
                let word = |c: Option<&char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
                let before = fs.checked_sub(1).and_then(|i| f.chars.get(i));
                if words
                    && ((word(pat.first()) && word(before))
                        || (word(pat.last()) && word(f.chars.get(fe))))
                {
                    return None;
                }
                Some((fs, fe, *id))
            })
    }
}

/// One finding in folded coordinates, before grouping.
struct Raw {
    start: usize,
    end: usize,
    kind: CandidateKind,
    key: String,
    label: String,
    /// Index into the directory for names, whose label depends on the whole case.
    name: Option<usize>,
}

fn name_kind(k: NameKind) -> CandidateKind {
    match k {
        NameKind::Person => CandidateKind::Person,
        NameKind::System => CandidateKind::System,
        _ => CandidateKind::Organisation,
    }
}

fn find_in_field(text: &str, names: &Matcher, dir: &Directory) -> (Folded, Vec<Raw>) {
    let f = fold(text);
    let v = Compact::of(&f);
    let mut raw = Vec::new();
    type Scan = fn(&[char], usize) -> Option<patterns::Hit>;
    let scanners: [(CandidateKind, Scan); 7] = [
        (CandidateKind::Url, patterns::url),
        (CandidateKind::Email, patterns::email),
        (CandidateKind::Ipv6, patterns::ipv6),
        (CandidateKind::Ipv4, patterns::ipv4),
        (CandidateKind::Host, patterns::host),
        (CandidateKind::Phone, patterns::phone),
        (CandidateKind::Date, patterns::date),
    ];
    for i in 0..f.len() {
        for (kind, scan) in scanners {
            if let Some(h) = scan(&f.chars, i) {
                raw.push(Raw {
                    start: i,
                    end: h.end,
                    kind,
                    key: h.key,
                    label: h.label,
                    name: None,
                });
            }
        }
    }
    for p in 0..v.chars.len() {
        // Only the longest name at a position: a shorter one inside it is the same mention.
        if let Some((s, e, idx)) = names.at(&f, &v, p, true).next()
            && let Some(entry) = dir.names.get(idx)
        {
            raw.push(Raw {
                start: s,
                end: e,
                kind: name_kind(entry.kind),
                key: entry.key.clone(),
                label: String::new(),
                name: Some(idx),
            });
        }
    }
    // Leftmost, then longest, then by kind: one reading of each stretch of text.
    raw.sort_by(|a, b| {
        a.start
            .cmp(&b.start)
            .then(b.end.cmp(&a.end))
            .then(a.kind.priority().cmp(&b.kind.priority()))
    });
    let mut kept: Vec<Raw> = Vec::new();
    for r in raw {
        if kept.last().is_none_or(|k| r.start >= k.end) {
            kept.push(r);
        }
    }
    (f, kept)
}

fn lettered(base: &str, n: usize, count: usize) -> String {
    if count <= 1 {
        return base.to_owned();
    }
    let letters: Vec<char> = ('A'..='Z').collect();
    match letters.get(n) {
        Some(l) => format!("{base}{l}"),
        None => format!("{base}{}", n + 1),
    }
}

/// Finds every candidate identifier in the case, grouped by what it identifies, in reading
/// order of first occurrence.
pub fn scan(content: &CaseContent, directory: &Directory) -> Vec<Candidate> {
    let names = Matcher::new(directory.names.iter().enumerate().flat_map(|(i, n)| {
        n.names
            .iter()
            .map(move |s| (fold_compact(s), i))
            .filter(|(p, _)| p.len() >= MIN_NAME_CHARS)
    }));
    let mut found: Vec<Candidate> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut name_order: Vec<usize> = Vec::new();
    for (field, text) in text_fields(content) {
        let (f, raws) = find_in_field(text, &names, directory);
        let original: Vec<char> = text.chars().collect();
        for r in raws {
            let (s, e) = f.original(r.start, r.end);
            let surface: String = original[s..e].iter().collect();
            let id = format!("{}:{}", r.kind.code(), r.key);
            if let Some(n) = r.name
                && !name_order.contains(&n)
            {
                name_order.push(n);
            }
            let loc = Location {
                field: field.clone(),
                start: s,
                end: e,
            };
            match index.get(&id) {
                Some(&k) => {
                    let c = &mut found[k];
                    if !c.forms.contains(&surface) {
                        c.forms.push(surface);
                    }
                    c.locations.push(loc);
                }
                None => {
                    let text = match r.name.and_then(|n| directory.names.get(n)) {
                        Some(entry) => entry.names.first().cloned().unwrap_or_default(),
                        None => surface.clone(),
                    };
                    index.insert(id.clone(), found.len());
                    found.push(Candidate {
                        id,
                        kind: r.kind,
                        text,
                        forms: vec![surface],
                        locations: vec![loc],
                        suggested: r.label,
                    });
                }
            }
        }
    }
    suggest_names(&mut found, directory, &name_order);
    found
}

// Vendors and systems are lettered in order of first appearance, as in the published
// reports (システムベンダA, B); a lone vendor is just システムベンダ.
fn suggest_names(found: &mut [Candidate], dir: &Directory, order: &[usize]) {
    let count = |k: NameKind| order.iter().filter(|&&n| dir.names[n].kind == k).count();
    let (vendors, systems) = (count(NameKind::Vendor), count(NameKind::System));
    let (mut v, mut s) = (0, 0);
    let mut labels: HashMap<String, String> = HashMap::new();
    for &n in order {
        let entry = &dir.names[n];
        let label = match entry.kind {
            NameKind::ReportingOperator => "重要インフラ事業者".to_owned(),
            NameKind::Operator => "他の重要インフラ事業者".to_owned(),
            NameKind::Ministry => "所管省庁".to_owned(),
            NameKind::Organisation => "関係機関".to_owned(),
            NameKind::Person => "職員".to_owned(),
            NameKind::Vendor => {
                v += 1;
                lettered("システムベンダ", v - 1, vendors)
            }
            NameKind::System => {
                s += 1;
                lettered("業務システム", s - 1, systems)
            }
        };
        labels.insert(
            format!("{}:{}", name_kind(entry.kind).code(), entry.key),
            label,
        );
    }
    for c in found.iter_mut() {
        if let Some(l) = labels.get(&c.id) {
            c.suggested.clone_from(l);
        }
    }
}
