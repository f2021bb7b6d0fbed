//! Similar past cases and reports ("has this happened before, and what did they learn?").
//!
//! A "more like this" query: the source's most distinctive terms (bigrams and words weighted
//! by tf·idf against the whole index) are looked up with BM25, together with the exact shared
//! systems and vendors it names. Candidates are then re-ranked with the classification an
//! analyst gave (same event type, shared causes, same shared system or vendor) and every
//! result says why it was chosen: the key terms both texts contain, and which of those
//! classifications they share. The lessons of similar cases come along.
//!
//! Like search, the whole query runs inside the viewer's access rule.

use crate::access::Viewer;
use crate::analysis::{Class, for_each_index_token, segments};
use crate::doc::{DocKind, IndexDoc, case_group, report_group};
use crate::error::{SearchError, SearchResult};
use crate::index::{DocMeta, SearchIndex, kind_of, meta_of, text_of, texts_of};
use crate::normalize::{normalize, normalize_mapped};
use crate::query::access_clause;
use kizuki_domain::case::Lesson;
use kizuki_domain::ids::{CaseId, ReportId};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use tantivy::collector::TopDocs;
use tantivy::columnar::StrColumn;
use tantivy::query::{BooleanQuery, ConstScoreQuery, Occur, Query as TQuery, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, Searcher, TantivyDocument, Term};

/// What to find similar items for.
#[derive(Debug, Clone)]
pub enum SimilarTo {
    /// An indexed report.
    Report(ReportId),
    /// An indexed case.
    Case(CaseId),
    /// Any document, indexed or not (a draft, a record from elsewhere).
    Doc(Box<IndexDoc>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimilarOptions {
    pub limit: usize,
    /// Re-rank with event type, causes, shared systems and vendors. Off, only the text
    /// decides (how the evaluation measures the text part on its own).
    pub use_classification: bool,
}

impl Default for SimilarOptions {
    fn default() -> Self {
        SimilarOptions {
            limit: 10,
            use_classification: true,
        }
    }
}

/// Why an item was found similar.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reasons {
    /// Distinctive words of the source that the item contains too, most distinctive first.
    pub key_terms: Vec<String>,
    pub same_event_type: bool,
    pub shared_causes: Vec<String>,
    /// Shared systems (共同利用型システム) both name, normalised.
    pub shared_systems: Vec<String>,
    pub shared_vendors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimilarItem {
    pub kind: DocKind,
    pub id: i64,
    /// For a report written up as a case, that case.
    pub case_id: Option<i64>,
    pub title: String,
    pub score: f32,
    pub reasons: Reasons,
    /// The lessons of this case (or of the case written from this report).
    pub lessons: Vec<Lesson>,
    pub meta: DocMeta,
}

/// A lesson of a similar case, for the list beside a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LessonRef {
    pub case_id: i64,
    pub case_title: String,
    pub lesson_no: u32,
    pub title: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimilarResults {
    /// The source's most distinctive terms, as used for the search.
    pub key_terms: Vec<String>,
    pub items: Vec<SimilarItem>,
    /// Lessons of the similar cases, in the order of the items, without repeats.
    pub lessons: Vec<LessonRef>,
}

/// The parts of a source document similarity works from.
struct Profile {
    title: String,
    body: String,
    event_type: String,
    causes: Vec<String>,
    systems: Vec<String>,
    vendors: Vec<String>,
    /// Groups to leave out: the source itself and its case or report.
    exclude_groups: Vec<String>,
    exclude_case: Option<i64>,
}

/// Index terms looked up per source.
const QUERY_TERMS: usize = 24;
/// Terms in more than this share of documents say little and cost much.
const MAX_DF_SHARE: f64 = 0.2;
/// Nor are terms in more than this many documents used, so that the cost of the lookup stays
/// bounded however large the index grows (a term this common is never distinctive).
const MAX_DF: u64 = 50_000;
/// Candidates re-ranked.
const CANDIDATES: usize = 60;
/// Display key terms computed per source.
const KEY_PHRASES: usize = 16;
/// Key terms shown per item.
const KEY_TERMS_SHOWN: usize = 6;

const STOPWORDS: &[&str] = &[
    "the", "and", "for", "with", "that", "this", "was", "were", "are", "from", "our", "which",
    "has", "have", "had", "not", "but", "all", "been", "some", "into", "also", "they", "their",
    "its", "can", "may", "will", "would", "could", "during", "after", "before", "when", "while",
    "other", "more", "than", "these", "those", "there", "such", "any", "one", "two", "who", "what",
    "how", "out", "over", "under", "about", "between", "through", "due", "then", "time", "each",
];

fn is_stopword(w: &str) -> bool {
    STOPWORDS.contains(&w)
}

/// Words almost every incident report uses. They may still count for the lookup (weighted
/// by rarity like any term), but a reader told "both mention システム" learns nothing, so
/// they are never given as a reason.
const GENERIC_JA: &[&str] = &[
    "システム",
    "本件",
    "発生",
    "対応",
    "影響",
    "障害",
    "事象",
    "確認",
    "実施",
    "当社",
    "弊社",
    "利用",
    "利用者",
    "情報",
    "一部",
    "状況",
    "原因",
    "結果",
    "場合",
    "可能",
    "必要",
    "以下",
    "以上",
    "時点",
    "現在",
    "関係",
    "対策",
    "報告",
    "事案",
    "問題",
    "内容",
    "対象",
    "全て",
];

fn is_generic(phrase: &str) -> bool {
    GENERIC_JA.contains(&phrase)
}

/// Index terms worth querying: bigrams, and Latin words of three or more letters that are
/// not stop words or bare numbers.
fn useful_term(t: &str) -> bool {
    let mut chars = t.chars();
    match chars.next() {
        None => false,
        Some(c) if crate::analysis::is_cjk(c) => t.chars().count() == 2,
        Some(_) => t.len() >= 3 && !is_stopword(t) && !t.chars().all(|c| c.is_ascii_digit()),
    }
}

fn idf(df: u64, n: u64) -> f64 {
    let (df, n) = (df as f64, n as f64);
    (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
}

impl SearchIndex {
    /// The most similar cases and reports to `target` that `viewer` may see.
    pub fn similar(
        &self,
        target: &SimilarTo,
        viewer: &Viewer,
        opts: &SimilarOptions,
    ) -> SearchResult<SimilarResults> {
        let searcher = self.searcher();
        let f = *self.fields();
        let profile = self.profile(target)?;
        let n = searcher.num_docs().max(1);
        let indexed_self = !matches!(target, SimilarTo::Doc(_));

        // Distinctive index terms of the source.
        let mut tf: HashMap<String, u32> = HashMap::new();
        for (text, w) in [(&profile.title, 2u32), (&profile.body, 1)] {
            for_each_index_token(text, |t| {
                if useful_term(&t.text) {
                    *tf.entry(t.text).or_insert(0) += w;
                }
            });
        }
        let mut df_cache: HashMap<String, u64> = HashMap::new();
        let mut weighted: Vec<(String, f64)> = Vec::new();
        for (t, c) in &tf {
            let df = searcher.doc_freq(&Term::from_field_text(f.body, t))?
                + searcher.doc_freq(&Term::from_field_text(f.title, t))?;
            df_cache.insert(t.clone(), df);
            let others = df.saturating_sub(u64::from(indexed_self));
            if others == 0 || df > MAX_DF || (df as f64) > MAX_DF_SHARE * n as f64 {
                continue;
            }
            weighted.push((t.clone(), (1.0 + f64::from(*c).ln()) * idf(df, n)));
        }
        weighted.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        weighted.truncate(QUERY_TERMS);

        let mut should: Vec<(Occur, Box<dyn TQuery>)> = Vec::new();
        for (t, _) in &weighted {
            for field in [f.title, f.body] {
                should.push((
                    Occur::Should,
                    Box::new(TermQuery::new(
                        Term::from_field_text(field, t),
                        IndexRecordOption::WithFreqs,
                    )),
                ));
            }
        }
        let mut candidates: HashMap<DocAddress, f32> = HashMap::new();
        if !should.is_empty() {
            let q = self.restricted(Box::new(BooleanQuery::new(should)), &profile, viewer);
            for (score, addr) in
                searcher.search(&q, &TopDocs::with_limit(CANDIDATES).order_by_score())?
            {
                candidates.insert(addr, score);
            }
        }
        // Items naming the same shared system or vendor, however different their wording.
        let mut exact: Vec<(Occur, Box<dyn TQuery>)> = Vec::new();
        for s in &profile.systems {
            exact.push((Occur::Should, keyword(f.system, s)));
        }
        for v in &profile.vendors {
            exact.push((Occur::Should, keyword(f.vendor, v)));
        }
        if !exact.is_empty() {
            let q = self.restricted(Box::new(BooleanQuery::new(exact)), &profile, viewer);
            for (_, addr) in searcher.search(&q, &TopDocs::with_limit(20).order_by_score())? {
                candidates.entry(addr).or_insert(0.0);
            }
        }

        let key_phrases = key_phrases(&profile, &df_cache, n);
        let max_text = candidates
            .values()
            .copied()
            .fold(0.0f32, f32::max)
            .max(1e-6);
        // Re-rank from fast fields; only the items shown are read from the document store
        // (random reads there, not scoring, are what a cold page cache makes slow).
        let mut columns: HashMap<u32, ClassColumns> = HashMap::new();
        let mut ranked: Vec<(f32, DocAddress)> = Vec::with_capacity(candidates.len());
        for (addr, text_score) in candidates {
            let cols = match columns.entry(addr.segment_ord) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => e.insert(ClassColumns::open(
                    searcher.segment_reader(addr.segment_ord),
                )?),
            };
            let class = cols.read(addr.doc_id);
            let mut score = text_score / max_text;
            if opts.use_classification {
                score += bonus(&profile, &class);
            }
            ranked.push((score, addr));
        }
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        ranked.truncate(opts.limit.max(1));
        let mut items = Vec::with_capacity(ranked.len());
        for (score, addr) in ranked {
            let doc: TantivyDocument = searcher.doc(addr)?;
            items.push(self.item(&searcher, &doc, &profile, &key_phrases, score)?);
        }
        items.truncate(opts.limit.max(1));

        let mut lessons = Vec::new();
        let mut seen = HashSet::new();
        for it in &items {
            let case_id = match it.kind {
                DocKind::Case => it.id,
                _ => match it.case_id {
                    Some(c) => c,
                    None => continue,
                },
            };
            for (i, l) in it.lessons.iter().enumerate() {
                if seen.insert((case_id, i)) {
                    lessons.push(LessonRef {
                        case_id,
                        case_title: if it.kind == DocKind::Case {
                            it.title.clone()
                        } else {
                            String::new()
                        },
                        lesson_no: u32::try_from(i + 1).unwrap_or(u32::MAX),
                        title: l.title.clone(),
                        text: l.text.clone(),
                    });
                }
            }
        }
        Ok(SimilarResults {
            key_terms: key_phrases.into_iter().map(|k| k.shown).collect(),
            items,
            lessons,
        })
    }

    fn profile(&self, target: &SimilarTo) -> SearchResult<Profile> {
        let f = self.fields();
        let (key, doc) = match target {
            SimilarTo::Doc(d) => {
                let mut exclude_groups = vec![d.group()];
                if let (DocKind::Report, Some(c)) = (d.kind, d.case_id) {
                    exclude_groups.push(case_group(c));
                }
                return Ok(Profile {
                    title: d.title.clone(),
                    body: d.body.clone(),
                    event_type: d.event_type.clone(),
                    causes: d.causes.clone(),
                    systems: d.systems.iter().map(|s| normalize(s)).collect(),
                    vendors: d
                        .vendors
                        .iter()
                        .filter(|v| !crate::doc::is_anonymised_label(v))
                        .map(|v| normalize(v))
                        .collect(),
                    exclude_groups,
                    exclude_case: (d.kind == DocKind::Case).then_some(d.id),
                });
            }
            SimilarTo::Report(id) => {
                let key = format!("report:{}", id.0);
                let doc = self.stored(&key)?;
                (key, doc)
            }
            SimilarTo::Case(id) => {
                let key = format!("case:{}", id.0);
                let doc = self.stored(&key)?;
                (key, doc)
            }
        };
        let doc = doc.ok_or(SearchError::NotIndexed(key))?;
        let kind = kind_of(&doc, f);
        let id = doc
            .get_first(f.id)
            .and_then(|v| tantivy::schema::Value::as_i64(&v))
            .unwrap_or(0);
        let case_of_report = doc
            .get_first(f.case_id)
            .and_then(|v| tantivy::schema::Value::as_i64(&v));
        let mut exclude_groups = vec![match kind {
            DocKind::Report => report_group(id),
            _ => case_group(id),
        }];
        if let Some(c) = case_of_report {
            exclude_groups.push(case_group(c));
        }
        Ok(Profile {
            title: text_of(&doc, f.title),
            body: text_of(&doc, f.body),
            event_type: text_of(&doc, f.event_type),
            causes: texts_of(&doc, f.cause),
            systems: texts_of(&doc, f.system),
            vendors: texts_of(&doc, f.vendor),
            exclude_groups,
            exclude_case: (kind == DocKind::Case).then_some(id),
        })
    }

    /// `q`, limited to reports and cases the viewer may see, other than the source.
    fn restricted(&self, q: Box<dyn TQuery>, p: &Profile, viewer: &Viewer) -> BooleanQuery {
        let f = self.fields();
        let mut clauses: Vec<(Occur, Box<dyn TQuery>)> = vec![(Occur::Must, q)];
        clauses.push((Occur::MustNot, keyword(f.kind, DocKind::Lesson.code())));
        for g in &p.exclude_groups {
            clauses.push((Occur::MustNot, keyword(f.group, g)));
        }
        if let Some(c) = p.exclude_case {
            clauses.push((
                Occur::MustNot,
                Box::new(TermQuery::new(
                    Term::from_field_i64(f.case_id, c),
                    IndexRecordOption::Basic,
                )),
            ));
        }
        if let Some(a) = access_clause(f, viewer) {
            clauses.push((Occur::Must, a));
        }
        BooleanQuery::new(clauses)
    }

    fn item(
        &self,
        searcher: &Searcher,
        doc: &TantivyDocument,
        p: &Profile,
        key_phrases: &[KeyPhrase],
        score: f32,
    ) -> SearchResult<SimilarItem> {
        let f = self.fields();
        let kind = kind_of(doc, f);
        let id = doc
            .get_first(f.id)
            .and_then(|v| tantivy::schema::Value::as_i64(&v))
            .unwrap_or(0);
        let case_id = doc
            .get_first(f.case_id)
            .and_then(|v| tantivy::schema::Value::as_i64(&v));
        let title = text_of(doc, f.title);
        let text = normalize(&format!("{title}\n{}", text_of(doc, f.body)));
        let meta = meta_of(doc, f);
        let systems = texts_of(doc, f.system);
        let vendors = texts_of(doc, f.vendor);
        let reasons = Reasons {
            key_terms: key_phrases
                .iter()
                .filter(|k| contains_phrase(&text, &k.norm))
                .take(KEY_TERMS_SHOWN)
                .map(|k| k.shown.clone())
                .collect(),
            same_event_type: !p.event_type.is_empty() && p.event_type == meta.event_type,
            shared_causes: p
                .causes
                .iter()
                .filter(|c| meta.causes.contains(c))
                .cloned()
                .collect(),
            shared_systems: p
                .systems
                .iter()
                .filter(|s| systems.contains(s))
                .cloned()
                .collect(),
            shared_vendors: p
                .vendors
                .iter()
                .filter(|v| vendors.contains(v))
                .cloned()
                .collect(),
        };
        let lessons_json = match kind {
            DocKind::Case => text_of(doc, f.lessons),
            _ => match case_id {
                Some(c) => self
                    .stored_with(searcher, &format!("case:{c}"))?
                    .map(|d| text_of(&d, f.lessons))
                    .unwrap_or_default(),
                None => String::new(),
            },
        };
        let lessons = if lessons_json.is_empty() {
            Vec::new()
        } else {
            serde_json::from_str(&lessons_json).unwrap_or_default()
        };
        Ok(SimilarItem {
            kind,
            id,
            case_id,
            title,
            score,
            reasons,
            lessons,
            meta,
        })
    }

    fn stored_with(&self, searcher: &Searcher, key: &str) -> SearchResult<Option<TantivyDocument>> {
        let q = TermQuery::new(
            Term::from_field_text(self.fields().key, key),
            IndexRecordOption::Basic,
        );
        let top = searcher.search(&q, &TopDocs::with_limit(1).order_by_score())?;
        match top.first() {
            Some((_, a)) => Ok(Some(searcher.doc(*a)?)),
            None => Ok(None),
        }
    }
}

/// The classification of a candidate, read from fast fields.
#[derive(Debug, Default)]
struct Classification {
    event_type: String,
    causes: Vec<String>,
    systems: Vec<String>,
    vendors: Vec<String>,
}

/// A segment's keyword columns used for re-ranking.
struct ClassColumns {
    event_type: Option<StrColumn>,
    cause: Option<StrColumn>,
    system: Option<StrColumn>,
    vendor: Option<StrColumn>,
}

impl ClassColumns {
    fn open(r: &tantivy::SegmentReader) -> SearchResult<ClassColumns> {
        let ff = r.fast_fields();
        Ok(ClassColumns {
            event_type: ff.str("event_type")?,
            cause: ff.str("cause")?,
            system: ff.str("system")?,
            vendor: ff.str("vendor")?,
        })
    }

    fn read(&self, doc: tantivy::DocId) -> Classification {
        let all = |c: &Option<StrColumn>| -> Vec<String> {
            let Some(c) = c else { return Vec::new() };
            c.term_ords(doc)
                .filter_map(|o| {
                    let mut s = String::new();
                    c.ord_to_str(o, &mut s)
                        .ok()
                        .filter(|found| *found)
                        .map(|_| s)
                })
                .collect()
        };
        Classification {
            event_type: all(&self.event_type).into_iter().next().unwrap_or_default(),
            causes: all(&self.cause),
            systems: all(&self.system),
            vendors: all(&self.vendor),
        }
    }
}

/// What the classification adds to a candidate's (normalised) text score.
fn bonus(p: &Profile, c: &Classification) -> f32 {
    let mut b = 0.0;
    if !p.event_type.is_empty() && p.event_type == c.event_type {
        b += 0.15;
    }
    if !p.causes.is_empty() {
        let shared = p.causes.iter().filter(|x| c.causes.contains(x)).count();
        let union: HashSet<&String> = p.causes.iter().chain(c.causes.iter()).collect();
        b += 0.25 * shared as f32 / union.len().max(1) as f32;
    }
    if p.systems.iter().any(|s| c.systems.contains(s)) {
        b += 0.3;
    }
    if p.vendors.iter().any(|v| c.vendors.contains(v)) {
        b += 0.15;
    }
    b
}

fn keyword(field: tantivy::schema::Field, v: &str) -> Box<dyn TQuery> {
    Box::new(ConstScoreQuery::new(
        Box::new(TermQuery::new(
            Term::from_field_text(field, v),
            IndexRecordOption::Basic,
        )),
        1.0,
    ))
}

/// Words a person would recognise as the source's key terms: katakana and kanji runs of two
/// or more characters and Latin words, ranked by tf·idf (a run's document frequency is
/// bounded by its rarest bigram's, which is what is used).
/// A distinctive phrase of the source: normalised for matching, as first written for a
/// reader (ファイル, not the normalised フアイル), and its weight.
#[derive(Debug, Clone)]
struct KeyPhrase {
    norm: String,
    shown: String,
    weight: f64,
}

fn key_phrases(p: &Profile, df: &HashMap<String, u64>, n: u64) -> Vec<KeyPhrase> {
    let mut tf: HashMap<String, u32> = HashMap::new();
    let mut shown: HashMap<String, String> = HashMap::new();
    for text in [&p.title, &p.title, &p.body] {
        let norm = normalize_mapped(text);
        // The original text behind normalised characters `from..to`.
        let surface = |from: usize, to: usize| -> Option<String> {
            let start = norm.origin.get(from)?.start;
            let end = norm.origin.get(to.checked_sub(1)?)?.end;
            text.get(start..end).map(str::to_owned)
        };
        let mut count = |piece: String, from: usize, to: usize| {
            if !shown.contains_key(&piece) {
                let written = surface(from, to).unwrap_or_else(|| piece.clone());
                shown.insert(piece.clone(), written);
            }
            *tf.entry(piece).or_insert(0) += 1;
        };
        for seg in segments(&norm.chars) {
            let base = seg.range.start;
            let chars = &norm.chars[seg.range.clone()];
            match seg.class {
                Class::Word => {
                    let w: String = chars.iter().collect();
                    if useful_term(&w) {
                        count(w, base, base + chars.len());
                    }
                }
                Class::Cjk => {
                    // Split the Japanese run at script changes; particles (hiragana) go.
                    let mut start = 0;
                    for i in 1..=chars.len() {
                        if i == chars.len() || script(chars[i]) != script(chars[start]) {
                            let piece: String = chars[start..i].iter().collect();
                            if script(chars[start]) != Script::Hiragana
                                && i - start >= 2
                                && i - start <= 12
                            {
                                count(piece, base + start, base + i);
                            }
                            start = i;
                        }
                    }
                }
                Class::Other => {}
            }
        }
    }
    let mut out: Vec<KeyPhrase> = tf
        .into_iter()
        .filter_map(|(ph, c)| {
            if is_generic(&ph) {
                return None;
            }
            let d = phrase_df(&ph, df)?;
            if d <= 1 && n > 2 {
                // Only in the source itself: nothing else can share it.
                return None;
            }
            if n >= 20 && (d as f64) > MAX_DF_SHARE * n as f64 {
                // In a fifth of everything: true of the pair, telling of neither.
                return None;
            }
            let shown = shown.get(&ph).cloned().unwrap_or_else(|| ph.clone());
            Some(KeyPhrase {
                weight: (1.0 + f64::from(c).ln()) * idf(d, n),
                norm: ph,
                shown,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.weight
            .total_cmp(&a.weight)
            .then_with(|| a.norm.cmp(&b.norm))
    });
    out.truncate(KEY_PHRASES);
    out
}

fn phrase_df(ph: &str, df: &HashMap<String, u64>) -> Option<u64> {
    let chars: Vec<char> = ph.chars().collect();
    if chars.first().is_some_and(|c| crate::analysis::is_cjk(*c)) {
        chars
            .windows(2)
            .filter_map(|w| df.get(&w.iter().collect::<String>()).copied())
            .min()
    } else {
        df.get(ph).copied()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    Kanji,
    Katakana,
    Hiragana,
    Other,
}

fn script(c: char) -> Script {
    match c {
        '\u{3041}'..='\u{309F}' => Script::Hiragana,
        c if crate::normalize::is_katakana(c) => Script::Katakana,
        '\u{3005}'..='\u{3007}' | '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' => {
            Script::Kanji
        }
        _ => Script::Other,
    }
}

/// Whether normalised `text` contains key phrase `ph` (a Latin word only as a whole word).
fn contains_phrase(text: &str, ph: &str) -> bool {
    if ph.chars().next().is_some_and(crate::analysis::is_cjk) {
        return text.contains(ph);
    }
    text.match_indices(ph).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + ph.len()..].chars().next();
        !before.is_some_and(|c| c.is_alphanumeric() && !crate::analysis::is_cjk(c))
            && !after.is_some_and(|c| c.is_alphanumeric() && !crate::analysis::is_cjk(c))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(title: &str, body: &str) -> Profile {
        Profile {
            title: title.into(),
            body: body.into(),
            event_type: String::new(),
            causes: Vec::new(),
            systems: Vec::new(),
            vendors: Vec::new(),
            exclude_groups: Vec::new(),
            exclude_case: None,
        }
    }

    #[test]
    fn key_phrases_leave_generic_words_out_and_read_as_written() {
        // Every bigram counts as seen in two documents of ten: rare enough to be a reason.
        let p = profile(
            "システム障害が発生",
            "本件ではシステムの障害が発生し、対応に影響した。ファイルサーバが停止した。",
        );
        let mut df = HashMap::new();
        for text in [&p.title, &p.body] {
            for_each_index_token(text, |t| {
                df.insert(t.text, 2);
            });
        }
        let shown: Vec<String> = key_phrases(&p, &df, 10)
            .into_iter()
            .map(|k| k.shown)
            .collect();
        for generic in ["システム", "発生", "本件", "対応", "影響", "障害"] {
            assert!(!shown.iter().any(|s| s == generic), "{generic}: {shown:?}");
        }
        assert!(shown.iter().any(|s| s == "ファイルサーバ"), "{shown:?}");
        assert!(!shown.iter().any(|s| s.contains("フア")), "{shown:?}");
    }
}
