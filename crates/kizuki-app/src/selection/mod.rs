//! Selecting a survey's cases: the candidate reports of the survey period, the signals computed
//! for each criterion, and the domain's exact selection with its explanations.
//!
//! Signals (each 0–3 with short Japanese evidence; see the functions for the thresholds):
//! - `actual-harm`, `severity`: from the report itself ([`actual_harm`], [`severity`]).
//! - `similar-cases`, `trend`: from the reports a [`SimilarityOracle`] finds similar, counted
//!   in this period and in up to [`LOOKBACK_PERIODS`] earlier periods of the same length
//!   ([`similar_cases`], [`trend`]). The default oracle, [`ClassificationSimilarity`], compares
//!   classification and distinctive terms; where there is a search index,
//!   [`crate::selection::index::IndexSimilarity`] replaces it.
//! - `novelty`: how rare the report's event type, causes and their combination are in the
//!   earlier periods ([`novelty`]).
//! - `spillover`: shared systems, and vendors or shared systems that reports of other sectors
//!   name too ([`spillover`]).
//! - `lesson-usefulness`, `response-quality` and any criterion not listed here: the analyst's.
//! - `region`, `sector-balance`: balance criteria, realised by the rules.
//!
//! Callers check that the user is an analyst; these services see every report.

pub mod decisions;
pub mod index;

use crate::App;
use crate::error::{AppError, AppResult};
use chrono::NaiveDate;
use kizuki_domain::FieldError;
use kizuki_domain::ValidationErrors;
use kizuki_domain::clock::jst_date;
use kizuki_domain::fiscal::FiscalYear;
use kizuki_domain::ids::{OrgId, ReportId};
use kizuki_domain::report::{Report, ReportDetails};
use kizuki_domain::selection::{
    Candidate, CandidateInput, CategoryMap, OverrideInput, Points, RulesInput, Selection,
    SelectionError, Signal, SolveOptions, parse_overrides, score_candidates, select,
};
use kizuki_domain::survey::{Criterion, Survey};
use kizuki_domain::taxonomy::{Code, Lang, Taxonomy, Vocabulary};
use kizuki_domain::text::thousands;
use kizuki_store::{Page, ReportFilter, ReportSort};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;

/// How many periods before the survey period count as "earlier" for trend and novelty.
pub const LOOKBACK_PERIODS: i64 = 3;

/// Criterion keys whose scores are computed here.
pub const COMPUTED: [&str; 6] = [
    "actual-harm",
    "severity",
    "similar-cases",
    "novelty",
    "trend",
    "spillover",
];

/// Criterion keys the balance rules stand for (地域性, 分野のバランス).
pub const BALANCE: [&str; 2] = ["region", "sector-balance"];

/// A report found similar to another, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimilarReport {
    pub report_id: ReportId,
    pub why: String,
}

/// Finds reports similar to a report. The selection counts the hits by period; ids it does not
/// know (cases, reports outside the periods it looks at) and the report itself are ignored, so
/// an implementation may return whatever its index holds.
pub trait SimilarityOracle: Send + Sync {
    /// Shown with the ranking, so the analyst knows which method counted.
    fn name(&self) -> &str;
    /// Fails only when the index behind it does (a search index is files and can).
    fn similar(&self, report: &Report) -> AppResult<Vec<SimilarReport>>;
    /// [`SimilarityOracle::similar`] of each of `reports`, in their order; what the ranking
    /// calls, once for all candidates. This default answers in place, which suits an oracle
    /// working in memory; one whose lookups block (a search index reads files: about a
    /// second for a few hundred candidates) overrides it to run them off the async worker.
    fn similar_each<'a>(&'a self, reports: &'a [Report]) -> SimilarEach<'a> {
        Box::pin(std::future::ready(
            reports.iter().map(|r| self.similar(r)).collect(),
        ))
    }
}

/// What [`SimilarityOracle::similar_each`] returns: the similar reports of each report asked
/// about, in order, once they are all known.
pub type SimilarEach<'a> =
    Pin<Box<dyn Future<Output = AppResult<Vec<Vec<SimilarReport>>>> + Send + 'a>>;

// ---------------------------------------------------------------------------------------------
// The default similarity
// ---------------------------------------------------------------------------------------------

/// The built-in similarity, from the store's own reports: two reports are similar when
///
/// | shared | points |
/// |---|---|
/// | event type (not `other`) | 2 |
/// | each cause (not `unknown`) | 2 |
/// | sector | 1 |
/// | each distinctive key term, at most 3 | 1 |
/// | a named vendor or shared system | 2 |
///
/// adds up to at least [`ClassificationSimilarity::THRESHOLD`]. Key terms come from the title,
/// affected service and summary: katakana runs of 3+ characters, Latin words of 3+ letters
/// (full-width folded, lower-cased) and kanji runs of 2+ characters; a term is distinctive when
/// at most max(2, n/10) of the n reports contain it, so words every report uses do not count.
pub struct ClassificationSimilarity {
    features: Vec<Features>,
    df: HashMap<String, usize>,
    tx: Taxonomy,
}

struct Features {
    id: ReportId,
    event_type: Code,
    causes: BTreeSet<Code>,
    sector: Code,
    terms: BTreeSet<String>,
    names: BTreeSet<String>,
}

impl Features {
    fn of(r: &Report) -> Features {
        let d = &r.details;
        Features {
            id: r.id,
            event_type: d.event_type.clone(),
            causes: d.causes.iter().cloned().collect(),
            sector: d.sector.clone(),
            terms: key_terms(&format!(
                "{}\n{}\n{}",
                d.title, d.affected_service, d.summary
            )),
            names: matching_names(d),
        }
    }
}

impl ClassificationSimilarity {
    pub const THRESHOLD: u32 = 4;

    pub fn new(pool: &[Report], tx: &Taxonomy) -> ClassificationSimilarity {
        let mut features: Vec<Features> = pool.iter().map(Features::of).collect();
        let mut df: HashMap<String, usize> = HashMap::new();
        for f in &features {
            for t in &f.terms {
                *df.entry(t.clone()).or_default() += 1;
            }
        }
        // Only distinctive terms can count, so keep only those (and compare less).
        let limit = (features.len() / 10).max(2);
        for f in &mut features {
            f.terms.retain(|t| df.get(t).copied().unwrap_or(0) <= limit);
        }
        ClassificationSimilarity {
            features,
            df,
            tx: tx.clone(),
        }
    }

    /// Terms of a report outside the pool, restricted as if it were in it (its own count
    /// would add one).
    fn distinctive(&self, mut f: Features) -> Features {
        let limit = (self.features.len() / 10).max(2);
        f.terms
            .retain(|t| self.df.get(t).copied().unwrap_or(0) < limit);
        f
    }

    fn points(a: &Features, b: &Features) -> u32 {
        let mut points = 0;
        if a.event_type == b.event_type && a.event_type.as_str() != "other" {
            points += 2;
        }
        points += 2 * a
            .causes
            .intersection(&b.causes)
            .filter(|c| c.as_str() != "unknown")
            .count() as u32;
        if a.sector == b.sector {
            points += 1;
        }
        points += a.terms.intersection(&b.terms).take(3).count() as u32;
        if a.names.intersection(&b.names).next().is_some() {
            points += 2;
        }
        points
    }

    fn why(&self, a: &Features, b: &Features) -> String {
        let mut why = Vec::new();
        if a.event_type == b.event_type && a.event_type.as_str() != "other" {
            why.push(format!(
                "事象「{}」",
                self.tx
                    .label(Vocabulary::EventType, a.event_type.as_str(), Lang::Ja)
            ));
        }
        for c in a.causes.intersection(&b.causes) {
            if c.as_str() != "unknown" {
                why.push(format!(
                    "原因「{}」",
                    self.tx.label(Vocabulary::Cause, c.as_str(), Lang::Ja)
                ));
            }
        }
        if a.sector == b.sector {
            why.push(format!(
                "分野「{}」",
                self.tx
                    .label(Vocabulary::Sector, a.sector.as_str(), Lang::Ja)
            ));
        }
        let terms: Vec<&str> = a
            .terms
            .intersection(&b.terms)
            .take(3)
            .map(String::as_str)
            .collect();
        if !terms.is_empty() {
            why.push(format!("語句「{}」", terms.join("」「")));
        }
        if let Some(n) = a.names.intersection(&b.names).next() {
            why.push(format!("共通のベンダ・システム「{n}」"));
        }
        why.join("・")
    }
}

impl SimilarityOracle for ClassificationSimilarity {
    fn name(&self) -> &str {
        "分類・語句の一致（内蔵）"
    }

    fn similar(&self, report: &Report) -> AppResult<Vec<SimilarReport>> {
        let own;
        let a = match self.features.iter().find(|f| f.id == report.id) {
            Some(f) => f,
            None => {
                own = self.distinctive(Features::of(report));
                &own
            }
        };
        Ok(self
            .features
            .iter()
            .filter(|b| b.id != a.id && Self::points(a, b) >= Self::THRESHOLD)
            .map(|b| SimilarReport {
                report_id: b.id,
                why: self.why(a, b),
            })
            .collect())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Script {
    Katakana,
    Kanji,
    Latin,
    Other,
}

fn script(c: char) -> Script {
    match c {
        '\u{30A1}'..='\u{30FA}' | 'ー' => Script::Katakana,
        '\u{4E00}'..='\u{9FFF}' | '々' => Script::Kanji,
        c if c.is_ascii_alphanumeric() => Script::Latin,
        _ => Script::Other,
    }
}

/// The key terms of a text (see [`ClassificationSimilarity`]).
pub fn key_terms(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut run = String::new();
    let mut kind = Script::Other;
    let mut flush = |run: &mut String, kind: Script| {
        let n = run.chars().count();
        let keep = match kind {
            Script::Katakana | Script::Latin => n >= 3,
            Script::Kanji => n >= 2,
            Script::Other => false,
        };
        if keep && !run.chars().all(|c| c.is_ascii_digit()) {
            out.insert(run.to_lowercase());
        }
        run.clear();
    };
    for c in text.chars().map(kizuki_domain::text::halfwidth) {
        let k = script(c);
        if k != kind {
            flush(&mut run, kind);
            kind = k;
        }
        if k != Script::Other {
            run.push(c);
        }
    }
    flush(&mut run, kind);
    out
}

/// Anonymised role names stand for different companies in different reports, so they must not
/// make reports look connected.
const PLACEHOLDER_NAMES: [&str; 9] = [
    "システムベンダ",
    "システムベンダー",
    "ベンダ",
    "ベンダー",
    "委託先",
    "外部委託先",
    "保守事業者",
    "保守業者",
    "事業者",
];

fn normalise_name(s: &str) -> String {
    s.chars()
        .map(kizuki_domain::text::halfwidth)
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_lowercase()
}

fn is_placeholder(name: &str) -> bool {
    let n = normalise_name(name);
    // "システムベンダA", "委託先b": a role with a letter is still a role.
    let base = n.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    base.is_empty() || PLACEHOLDER_NAMES.contains(&base)
}

/// Vendors (named or of a system) and shared systems, normalised, without placeholders.
fn matching_names(d: &ReportDetails) -> BTreeSet<String> {
    d.vendors
        .iter()
        .map(String::as_str)
        .chain(d.systems.iter().filter_map(|s| s.vendor.as_deref()))
        .chain(
            d.systems
                .iter()
                .filter(|s| s.shared)
                .map(|s| s.name.as_str()),
        )
        .filter(|n| !is_placeholder(n))
        .map(normalise_name)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Signals
// ---------------------------------------------------------------------------------------------

/// Both languages' sentence from one function of the language.
fn both(f: impl Fn(Lang) -> String) -> (String, String) {
    (f(Lang::Ja), f(Lang::En))
}

/// A computed score with its evidence written by `f` in Japanese and in English, the reader's
/// language chosen when it is shown.
fn computed_by(value: u32, f: impl Fn(Lang) -> String) -> Signal {
    let (evidence, evidence_en) = both(f);
    Signal::Computed {
        value: Points::capped(value),
        evidence,
        evidence_en,
    }
}

/// The list separator of each language.
fn joined(items: &[String], lang: Lang) -> String {
    items.join(lang.pick("・", ", "))
}

fn impact_note(d: &ReportDetails, lang: Lang) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(n) = d.impact.people_affected.filter(|&n| n > 0) {
        let n = thousands(i64::try_from(n).unwrap_or(i64::MAX));
        notes.push(match lang {
            Lang::Ja => format!("影響人数{n}人"),
            Lang::En => format!("{n} people affected"),
        });
    }
    if let Some(m) = d.impact.duration_minutes.filter(|&m| m > 0) {
        let m = thousands(i64::try_from(m).unwrap_or(i64::MAX));
        notes.push(match lang {
            Lang::Ja => format!("継続{m}分"),
            Lang::En => format!("lasting {m} min"),
        });
    }
    notes
}

/// 実害: 0 without actual harm; 2 with it; 3 when it also reached further (severity level 2 or
/// more, people affected, or an hour or more).
pub fn actual_harm(d: &ReportDetails) -> Signal {
    if !d.impact.actual_harm {
        return computed_by(0, |l| {
            l.pick("実害の報告なし", "no actual harm reported").into()
        });
    }
    let level = d.severity.map(|s| s.level());
    let wide = level.is_some_and(|l| l >= 2)
        || d.impact.people_affected.is_some_and(|n| n > 0)
        || d.impact.duration_minutes.is_some_and(|m| m >= 60);
    computed_by(if wide { 3 } else { 2 }, |lang| {
        let mut notes = Vec::new();
        if let Some(l) = level {
            notes.push(match lang {
                Lang::Ja => format!("深刻度レベル{l}"),
                Lang::En => format!("severity level {l}"),
            });
        }
        notes.extend(impact_note(d, lang));
        match (lang, notes.is_empty()) {
            (Lang::Ja, true) => "実害あり（影響範囲の情報なし）".to_owned(),
            (Lang::En, true) => "actual harm (its reach not reported)".to_owned(),
            (Lang::Ja, false) => format!("実害あり（{}）", joined(&notes, lang)),
            (Lang::En, false) => format!("actual harm ({})", joined(&notes, lang)),
        }
    })
}

/// 重大さ・社会的影響: the severity level (0–2 as is, 3 and 4 → 3), raised by the reach: 100,000
/// people or more → 3, 1,000 → 2, anyone → 1; a day or more → 2, an hour → 1. Without a
/// severity or any reach it is the analyst's to judge.
pub fn severity(d: &ReportDetails, tx: &Taxonomy) -> Signal {
    let people = d.impact.people_affected.unwrap_or(0);
    let minutes = d.impact.duration_minutes.unwrap_or(0);
    let reach = match people {
        n if n >= 100_000 => 3,
        n if n >= 1_000 => 2,
        n if n >= 1 => 1,
        _ => 0,
    }
    .max(match minutes {
        m if m >= 1_440 => 2,
        m if m >= 60 => 1,
        _ => 0,
    });
    let Some(s) = d.severity else {
        if reach == 0 {
            return Signal::Analyst;
        }
        return computed_by(reach, |lang| {
            let notes = joined(&impact_note(d, lang), lang);
            match lang {
                Lang::Ja => format!("深刻度未評価（{notes}）"),
                Lang::En => format!("severity not assessed ({notes})"),
            }
        });
    };
    let level = u32::from(s.level().min(3));
    computed_by(level.max(reach), |lang| {
        let mut notes = vec![
            tx.label(Vocabulary::Severity, &s.level().to_string(), lang)
                .to_owned(),
        ];
        notes.extend(impact_note(d, lang));
        joined(&notes, lang)
    })
}

fn id_list(ids: &[ReportId], lang: Lang) -> String {
    let shown: Vec<String> = ids.iter().take(3).map(|r| r.to_string()).collect();
    let more = ids.len() > 3;
    match lang {
        Lang::Ja => format!("報告{}{}", shown.join("・"), if more { "ほか" } else { "" }),
        Lang::En => format!(
            "reports {}{}",
            shown.join(", "),
            if more { " and more" } else { "" }
        ),
    }
}

/// 類似事例: similar reports in this period and the earlier ones, 0 → 0, 1 → 1, 2–3 → 2, 4+ → 3.
pub fn similar_cases(now: &[ReportId], before: &[ReportId]) -> Signal {
    let n = now.len() + before.len();
    let value = match n {
        0 => 0,
        1 => 1,
        2 | 3 => 2,
        _ => 3,
    };
    if n == 0 {
        return computed_by(0, |l| l.pick("類似報告なし", "no similar reports").into());
    }
    let all: Vec<ReportId> = now.iter().chain(before).copied().collect();
    computed_by(value, |lang| match lang {
        Lang::Ja => format!(
            "類似報告{n}件（今期{}件・過去{}件: {}）",
            now.len(),
            before.len(),
            id_list(&all, lang)
        ),
        Lang::En => format!(
            "{n} similar reports ({} this period, {} earlier: {})",
            now.len(),
            before.len(),
            id_list(&all, lang)
        ),
    })
}

/// トレンド: similar reports this period (`now`) against the average of the earlier periods that
/// have any reports (`periods`, at most [`LOOKBACK_PERIODS`]): none → 0; at least 2 and at least
/// twice the average → 3; above the average → 2; otherwise 1. With no earlier reports at all
/// the trend cannot be told apart from novelty, so it is judged on this period alone and capped
/// at 2 (3+ → 2, 1+ → 1).
pub fn trend(now: usize, before: usize, periods: u32) -> Signal {
    if now == 0 {
        return computed_by(0, |l| {
            l.pick("今期の類似報告なし", "no similar reports this period")
                .into()
        });
    }
    if periods == 0 {
        return computed_by(if now >= 3 { 2 } else { 1 }, |lang| match lang {
            Lang::Ja => format!("今期の類似報告{now}件（過去期間の報告なし）"),
            Lang::En => format!("{now} similar reports this period (no earlier reports)"),
        });
    }
    let p = periods as usize;
    let avg = before as f64 / p as f64;
    let (value, ja, en) = if now >= 2 && now * p >= 2 * before {
        (3, "増加", "rising")
    } else if now * p > before {
        (2, "やや増加", "rising slightly")
    } else {
        (1, "横ばい・減少", "flat or falling")
    };
    computed_by(value, |lang| match lang {
        Lang::Ja => format!("{ja}: 今期{now}件／過去{p}期間の平均{avg:.1}件"),
        Lang::En => format!("{en}: {now} this period / {avg:.1} a period over the {p} before"),
    })
}

/// 目新しさ: the rarest of the report's event type and causes (`other` and `unknown` aside) in
/// the baseline: never seen → 3, at most 5% of the baseline → 2, at most 20% → 1, else 0; a
/// combination of event type and cause never seen lifts the score to at least 2. The baseline
/// is the earlier periods' reports, or when there are none the period's other reports (the
/// evidence says which). With no baseline at all it is left to the analyst.
pub fn novelty(
    d: &ReportDetails,
    baseline: &[&ReportDetails],
    from_history: bool,
    tx: &Taxonomy,
) -> Signal {
    if baseline.is_empty() {
        return Signal::Analyst;
    }
    let base = |lang: Lang| match (lang, from_history) {
        (Lang::Ja, true) => "過去の報告",
        (Lang::Ja, false) => "今期の他の報告（過去の報告なし）",
        (Lang::En, true) => "earlier reports",
        (Lang::En, false) => "this period's other reports (no earlier ones)",
    };
    let event = (d.event_type.as_str() != "other").then_some(&d.event_type);
    let causes: Vec<&Code> = d
        .causes
        .iter()
        .filter(|c| c.as_str() != "unknown")
        .collect();
    let named = |vocab: Vocabulary, code: &Code, lang: Lang| {
        let label = tx.label(vocab, code.as_str(), lang);
        match (lang, vocab) {
            (Lang::Ja, Vocabulary::EventType) => format!("事象「{label}」"),
            (Lang::Ja, _) => format!("原因「{label}」"),
            (Lang::En, Vocabulary::EventType) => format!("the event type “{label}”"),
            (Lang::En, _) => format!("the cause “{label}”"),
        }
    };
    let mut rarest: Option<(usize, Vocabulary, Code)> = None;
    let mut consider = |count: usize, vocab: Vocabulary, code: &Code| {
        if rarest.as_ref().is_none_or(|(c, _, _)| count < *c) {
            rarest = Some((count, vocab, code.clone()));
        }
    };
    if let Some(e) = event {
        let count = baseline.iter().filter(|b| &b.event_type == e).count();
        consider(count, Vocabulary::EventType, e);
    }
    for c in &causes {
        let count = baseline.iter().filter(|b| b.causes.contains(c)).count();
        consider(count, Vocabulary::Cause, c);
    }
    let Some((count, vocab, code)) = rarest else {
        return computed_by(0, |l| {
            l.pick(
                "事象・原因が「その他・不明」のみ",
                "event type and causes are only “other” or “unknown”",
            )
            .into()
        });
    };
    let n = baseline.len();
    let unseen_pair = event.and_then(|e| {
        causes
            .iter()
            .find(|c| {
                !baseline
                    .iter()
                    .any(|b| &b.event_type == e && b.causes.contains(c))
            })
            .map(|c| (e, *c))
    });
    let share = count as f64 / n as f64;
    let value = if count == 0 {
        3
    } else if share <= 0.05 {
        2
    } else if share <= 0.20 {
        1
    } else {
        0
    };
    if value < 2
        && let Some((e, c)) = unseen_pair
    {
        return computed_by(2, |lang| {
            let (e, c) = (
                tx.label(Vocabulary::EventType, e.as_str(), lang),
                tx.label(Vocabulary::Cause, c.as_str(), lang),
            );
            match lang {
                Lang::Ja => format!("事象「{e}」と原因「{c}」の組合せは{}に例なし", base(lang)),
                Lang::En => format!(
                    "the event type “{e}” with the cause “{c}” is not found in {}",
                    base(lang)
                ),
            }
        });
    }
    computed_by(value, |lang| {
        let label = named(vocab, &code, lang);
        let (base, total, count) = (base(lang), thousands(n as i64), thousands(count as i64));
        match (lang, value) {
            (Lang::Ja, 3) => format!("{label}は{base}{total}件に例なし"),
            (Lang::En, 3) => format!("{label} is not found in {total} {base}"),
            (Lang::Ja, _) => format!(
                "最も珍しい{label}: {base}{total}件中{count}件（{:.0}%）",
                share * 100.0
            ),
            (Lang::En, _) => format!(
                "rarest, {label}: {count} of {total} {base} ({:.0}%)",
                share * 100.0
            ),
        }
    })
}

/// 他分野への波及: reports of other sectors naming one of this report's vendors or shared
/// systems: two or more sectors → 3, one → 2; otherwise a shared system (共同利用型システム),
/// or another operator of the same sector naming them, → 1; else 0. Anonymised role names
/// (システムベンダA, 委託先 …) are not matched.
pub fn spillover(r: &Report, pool: &[&Report], tx: &Taxonomy) -> Signal {
    let named: Vec<(&Report, BTreeSet<String>)> = pool
        .iter()
        .map(|o| (*o, matching_names(&o.details)))
        .collect();
    spill(
        r,
        &matching_names(&r.details),
        named.iter().map(|(o, n)| (*o, n)),
        tx,
    )
}

fn spill<'a>(
    r: &Report,
    names: &BTreeSet<String>,
    pool: impl Iterator<Item = (&'a Report, &'a BTreeSet<String>)>,
    tx: &Taxonomy,
) -> Signal {
    let d = &r.details;
    let mut other_sectors = BTreeSet::new();
    let mut same_sector_others = 0;
    let mut matched = BTreeSet::new();
    for (o, theirs) in pool {
        if o.id == r.id {
            continue;
        }
        let shared: Vec<&String> = theirs.intersection(names).collect();
        if shared.is_empty() {
            continue;
        }
        if o.details.sector != d.sector {
            other_sectors.insert(o.details.sector.clone());
            matched.extend(shared.into_iter().cloned());
        } else if o.org_id != r.org_id {
            same_sector_others += 1;
            matched.extend(shared.into_iter().cloned());
        }
    }
    let shared_systems: Vec<&str> = d
        .systems
        .iter()
        .filter(|s| s.shared)
        .map(|s| s.name.as_str())
        .collect();
    let quoted = |names: &[&str], lang: Lang| match lang {
        Lang::Ja => format!("「{}」", names.join("」「")),
        Lang::En => format!("“{}”", names.join("”, “")),
    };
    let names: Vec<&str> = matched.iter().take(3).map(String::as_str).collect();
    if !other_sectors.is_empty() {
        return computed_by(if other_sectors.len() >= 2 { 3 } else { 2 }, |lang| {
            let sectors: Vec<String> = other_sectors
                .iter()
                .map(|s| tx.label(Vocabulary::Sector, s.as_str(), lang).to_owned())
                .collect();
            let (names, sectors) = (quoted(&names, lang), joined(&sectors, lang));
            match lang {
                Lang::Ja => format!("{names}が他分野（{sectors}）の報告にも登場"),
                Lang::En => format!("{names} also in reports of other sectors ({sectors})"),
            }
        });
    }
    if !shared_systems.is_empty() {
        return computed_by(1, |lang| {
            let systems = quoted(&shared_systems, lang);
            match lang {
                Lang::Ja => format!("共同利用型システム{systems}"),
                Lang::En => format!("shared system {systems}"),
            }
        });
    }
    if same_sector_others > 0 {
        return computed_by(1, |lang| {
            let names = quoted(&names, lang);
            match lang {
                Lang::Ja => format!("{names}が同分野の他事業者の報告にも登場"),
                Lang::En => format!("{names} also in other operators' reports of the sector"),
            }
        });
    }
    computed_by(0, |l| {
        l.pick(
            "他分野と共通のシステム・ベンダなし",
            "no system or vendor in common with other sectors",
        )
        .into()
    })
}

// ---------------------------------------------------------------------------------------------
// Candidates from the store
// ---------------------------------------------------------------------------------------------

/// The reports a selection looks at, split by period.
pub struct Periods {
    pub start: NaiveDate,
    pub end: NaiveDate,
    /// Filed in the survey period (JST): the candidates.
    pub current: Vec<Report>,
    /// Filed in the [`LOOKBACK_PERIODS`] periods before it.
    pub earlier: Vec<Report>,
    /// How many earlier periods have any report (0..=LOOKBACK_PERIODS).
    pub earlier_periods: u32,
    /// Whether a report is in the period (true) or an earlier one (false).
    when: HashMap<ReportId, bool>,
    /// Each report's vendors and shared systems, for spill-over.
    names: HashMap<ReportId, BTreeSet<String>>,
}

impl Periods {
    /// Splits `reports` by JST filing date around the period `start..=end`.
    pub fn split(start: NaiveDate, end: NaiveDate, reports: Vec<Report>) -> Periods {
        let len = (end - start).num_days() + 1;
        let lookback_start = start - chrono::Duration::days(len * LOOKBACK_PERIODS);
        let mut current = Vec::new();
        let mut earlier = Vec::new();
        for r in reports {
            let d = jst_date(r.reported_at);
            if start <= d && d <= end {
                current.push(r);
            } else if lookback_start <= d && d < start {
                earlier.push(r);
            }
        }
        let earlier_periods = earlier
            .iter()
            .map(|r| jst_date(r.reported_at))
            .min()
            .map_or(0, |first| {
                let span = (start - first).num_days();
                u32::try_from(((span + len - 1) / len).clamp(1, LOOKBACK_PERIODS)).unwrap_or(1)
            });
        current.sort_by_key(|r| r.id);
        earlier.sort_by_key(|r| r.id);
        let when = current
            .iter()
            .map(|c| (c.id, true))
            .chain(earlier.iter().map(|e| (e.id, false)))
            .collect();
        let names = current
            .iter()
            .chain(&earlier)
            .map(|r| (r.id, matching_names(&r.details)))
            .collect();
        Periods {
            start,
            end,
            current,
            earlier,
            earlier_periods,
            when,
            names,
        }
    }

    fn all(&self) -> impl Iterator<Item = &Report> {
        self.current.iter().chain(&self.earlier)
    }
}

/// Reads the reports of the survey period and the lookback periods, a fiscal year at a time.
pub async fn load_periods(app: &App, start: NaiveDate, end: NaiveDate) -> AppResult<Periods> {
    let len = (end - start).num_days() + 1;
    let from = start - chrono::Duration::days(len * LOOKBACK_PERIODS);
    let fy = |d: NaiveDate| {
        FiscalYear::of(d)
            .map(|f| f.year())
            .map_err(|e| AppError::Refused(format!("{d}: {e}")))
    };
    let (first, last) = (fy(from).unwrap_or(fy(start)?), fy(end)?);
    let mut reports = Vec::new();
    for year in first..=last {
        let filter = ReportFilter {
            fiscal_year: Some(year),
            sort: ReportSort::ReportedAsc,
            ..Default::default()
        };
        let mut n = 1;
        loop {
            let page = app
                .store
                .list_reports(&filter, Page::new(n, Page::MAX_SIZE))
                .await?;
            let done = u64::from(n) >= page.pages();
            reports.extend(page.items);
            if done {
                break;
            }
            n += 1;
        }
    }
    Ok(Periods::split(start, end, reports))
}

/// Every signal of one candidate, by criterion key.
pub fn signals(
    r: &Report,
    periods: &Periods,
    oracle: &dyn SimilarityOracle,
    tx: &Taxonomy,
) -> AppResult<BTreeMap<String, Signal>> {
    Ok(signals_from(r, periods, oracle.similar(r)?, tx))
}

/// Every signal of one candidate, given the reports the oracle found similar to it.
fn signals_from(
    r: &Report,
    periods: &Periods,
    similar: Vec<SimilarReport>,
    tx: &Taxonomy,
) -> BTreeMap<String, Signal> {
    let mut out = BTreeMap::new();
    let d = &r.details;
    out.insert("actual-harm".to_owned(), actual_harm(d));
    out.insert("severity".to_owned(), severity(d, tx));
    let mut now = Vec::new();
    let mut before = Vec::new();
    let mut seen = BTreeSet::new();
    for s in similar {
        if s.report_id == r.id || !seen.insert(s.report_id) {
            continue;
        }
        match periods.when.get(&s.report_id) {
            Some(true) => now.push(s.report_id),
            Some(false) => before.push(s.report_id),
            None => {}
        }
    }
    now.sort();
    before.sort();
    out.insert("similar-cases".to_owned(), similar_cases(&now, &before));
    out.insert(
        "trend".to_owned(),
        trend(now.len(), before.len(), periods.earlier_periods),
    );
    let (baseline, from_history): (Vec<&ReportDetails>, bool) = if periods.earlier.is_empty() {
        (
            periods
                .current
                .iter()
                .filter(|c| c.id != r.id)
                .map(|c| &c.details)
                .collect(),
            false,
        )
    } else {
        (periods.earlier.iter().map(|e| &e.details).collect(), true)
    };
    out.insert(
        "novelty".to_owned(),
        novelty(d, &baseline, from_history, tx),
    );
    let empty = BTreeSet::new();
    let names_of = |r: &Report| periods.names.get(&r.id).unwrap_or(&empty);
    let pool = periods.all().map(|o| (o, names_of(o)));
    out.insert("spillover".to_owned(), spill(r, names_of(r), pool, tx));
    for key in BALANCE {
        out.insert(key.to_owned(), Signal::Balance);
    }
    out
}

/// The ranking before any rule: every candidate scored. Deserialize: saved decisions keep it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ranking {
    pub fiscal_year: i32,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub criteria: Vec<Criterion>,
    /// Which [`SimilarityOracle`] counted similar cases.
    pub similarity: String,
    /// In rank order.
    pub candidates: Vec<Candidate>,
    /// Names of the candidates' organisations.
    pub orgs: BTreeMap<OrgId, String>,
}

/// Scores every report of the survey's period. `map` defaults to [`CategoryMap::standard`];
/// `oracle` to [`ClassificationSimilarity`] over the periods' reports.
pub async fn rank(
    app: &App,
    fiscal_year: i32,
    overrides: &[OverrideInput],
    map: Option<&CategoryMap>,
    oracle: Option<&dyn SimilarityOracle>,
) -> AppResult<Ranking> {
    let survey: Survey = app.store.get_survey(fiscal_year).await?;
    let content = &survey.content;
    let criteria = content.criteria.clone();
    let parsed = parse_overrides(overrides, &criteria)?;
    let periods = load_periods(app, content.period_start, content.period_end).await?;
    let standard = CategoryMap::standard();
    let map = map.unwrap_or(&standard);
    let builtin;
    let oracle: &dyn SimilarityOracle = match oracle {
        Some(o) => o,
        None => {
            let pool: Vec<Report> = periods.all().cloned().collect();
            builtin = ClassificationSimilarity::new(&pool, &app.taxonomy);
            &builtin
        }
    };
    let orgs: HashMap<OrgId, _> = app
        .store
        .list_orgs()
        .await?
        .into_iter()
        .map(|o| (o.id, o))
        .collect();
    // All candidates at once, so an oracle that blocks can leave the async worker for the lot.
    let found = oracle.similar_each(&periods.current).await?;
    if found.len() != periods.current.len() {
        return Err(AppError::Internal(format!(
            "similarity oracle {}: {} answers for {} candidates",
            oracle.name(),
            found.len(),
            periods.current.len()
        )));
    }
    let mut inputs = Vec::new();
    for (r, similar) in periods.current.iter().zip(found) {
        let d = &r.details;
        let (category, (category_evidence, category_evidence_en)) = match r.case_id {
            Some(id) => {
                let case = app.store.get_case(id).await?;
                let n = case.content.number;
                (
                    Some(case.content.category.clone()),
                    (format!("事例{n}の分類"), format!("as case {n}")),
                )
            }
            None => match map.classify(&d.event_type, &d.causes) {
                Some(c) => {
                    let evidence = both(|lang| c.evidence(&app.taxonomy, lang));
                    (Some(c.category), evidence)
                }
                None => (
                    None,
                    both(|l| {
                        l.pick(
                            "分類できない（事象・原因が対応表にない）",
                            "no category (event type and causes not in the category map)",
                        )
                        .into()
                    }),
                ),
            },
        };
        let region = d
            .region
            .clone()
            .or_else(|| orgs.get(&r.org_id).and_then(|o| o.org.region.clone()));
        inputs.push(CandidateInput {
            report_id: r.id,
            title: d.title.clone(),
            org_id: r.org_id,
            sector: d.sector.clone(),
            region,
            category,
            category_evidence,
            category_evidence_en,
            signals: signals_from(r, &periods, similar, &app.taxonomy),
        });
    }
    let names = inputs
        .iter()
        .map(|c| {
            let name = orgs
                .get(&c.org_id)
                .map_or_else(|| c.org_id.to_string(), |o| o.org.name.clone());
            (c.org_id, name)
        })
        .collect();
    let candidates = score_candidates(&criteria, inputs, &parsed)?;
    Ok(Ranking {
        fiscal_year,
        period_start: content.period_start,
        period_end: content.period_end,
        criteria,
        similarity: oracle.name().to_owned(),
        candidates,
        orgs: names,
    })
}

/// What the analyst asks for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SelectionRequest {
    pub fiscal_year: i32,
    pub rules: RulesInput,
    pub overrides: Vec<OverrideInput>,
    /// Replaces [`CategoryMap::standard`]; checked against the taxonomy.
    pub category_map: Option<CategoryMap>,
    pub options: SolveOptions,
}

/// A proposed selection with the ranking it came from.
#[derive(Debug, Clone, Serialize)]
pub struct Proposal {
    #[serde(flatten)]
    pub ranking: Ranking,
    pub selection: Selection,
}

/// Ranks the candidates and selects under the rules. Errors name the field: `rules.…` for a
/// bad or unsatisfiable rule, `options.max_nodes` when the budget ran out before any selection
/// was found, `overrides[i].…`, `category_map.rules[i].…`.
pub async fn propose(
    app: &App,
    req: &SelectionRequest,
    oracle: Option<&dyn SimilarityOracle>,
) -> AppResult<Proposal> {
    let within = |parent: &str, e: ValidationErrors| {
        let mut out = ValidationErrors::default();
        out.extend_within(parent, e);
        AppError::Validation(out)
    };
    let rules = req
        .rules
        .parse(&app.taxonomy)
        .map_err(|e| within("rules", e))?;
    let map = match &req.category_map {
        Some(m) => Some(
            m.clone()
                .parse(&app.taxonomy)
                .map_err(|e| within("category_map", e))?,
        ),
        None => None,
    };
    let ranking = rank(app, req.fiscal_year, &req.overrides, map.as_ref(), oracle).await?;
    let selection = select(
        &ranking.candidates,
        &ranking.criteria,
        &rules,
        &req.options,
        &app.taxonomy,
    )
    .map_err(|e| {
        let parent = match e {
            SelectionError::Budget { .. } => "options",
            SelectionError::Infeasible { .. } => "rules",
        };
        within(parent, FieldError::from(e).into())
    })?;
    Ok(Proposal { ranking, selection })
}

/// Analyst scores from a TOML file: `[[overrides]]` tables with `report_id`, `key`, `value`,
/// `reason`.
pub fn overrides_from_toml(text: &str) -> AppResult<Vec<OverrideInput>> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        #[serde(default)]
        overrides: Vec<OverrideInput>,
    }
    let f: File = toml::from_str(text)
        .map_err(|e| AppError::Refused(format!("overrides file: {}", e.message())))?;
    Ok(f.overrides)
}

/// A category map from a TOML file: `[[rules]]` tables with `category`, `event_types`,
/// `causes`, checked against the taxonomy.
pub fn category_map_from_toml(text: &str, tx: &Taxonomy) -> AppResult<CategoryMap> {
    let map: CategoryMap = toml::from_str(text)
        .map_err(|e| AppError::Refused(format!("category map file: {}", e.message())))?;
    Ok(map.parse(tx)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{at, file};
    use kizuki_domain::report::{ReportInput, SystemRef};
    use kizuki_domain::selection::{LeftOutReason, ScoreSource, short_label};

    async fn demo() -> (App, kizuki_testkit::TestApp) {
        crate::test_support::demo(5).await
    }

    fn leak(title: &str) -> ReportInput {
        ReportInput {
            title: title.into(),
            sector: "finance".into(),
            event_type: "leak".into(),
            causes: vec!["user-error".into()],
            summary: "顧客情報を含むメールを誤送信した。".into(),
            ..Default::default()
        }
    }

    async fn case_report(app: &App, n: u32) -> ReportId {
        app.store
            .case_by_number(2019, n)
            .await
            .unwrap()
            .unwrap()
            .report_id
            .unwrap()
    }

    fn value(c: &Candidate, key: &str) -> Option<u8> {
        c.score(key).and_then(|s| s.value).map(|v| v.get())
    }

    #[tokio::test]
    async fn the_demo_reports_are_scored_and_only_the_period_counts() {
        let (app, _dir) = demo().await;
        let r5 = case_report(&app, 5).await;
        let r1 = case_report(&app, 1).await;
        let ranking = rank(&app, 2019, &[], None, None).await.unwrap();
        assert_eq!(ranking.candidates.len(), 7);
        let c5 = ranking
            .candidates
            .iter()
            .find(|c| c.report_id == r5)
            .unwrap();
        assert_eq!(value(c5, "actual-harm"), Some(3), "{:?}", c5.scores);
        let harm = c5.score("actual-harm").unwrap();
        assert_eq!(harm.source, ScoreSource::Computed);
        assert!(harm.evidence.contains("深刻度レベル2"), "{}", harm.evidence);
        assert_eq!(c5.category.as_ref().unwrap().as_str(), "cyber-attack");
        assert_eq!(c5.category_evidence, "事例5の分類");
        assert_eq!(
            c5.region.as_ref().unwrap().as_str(),
            "tohoku",
            "from the organisation"
        );
        // Suspicious mail appears in no other 2019 report and there is no history.
        assert_eq!(value(c5, "novelty"), Some(3));
        assert!(
            c5.score("novelty")
                .unwrap()
                .evidence
                .contains("過去の報告なし"),
            "{}",
            c5.score("novelty").unwrap().evidence
        );
        let c1 = ranking
            .candidates
            .iter()
            .find(|c| c.report_id == r1)
            .unwrap();
        assert_eq!(
            value(c1, "actual-harm"),
            Some(0),
            "only the date shown was wrong"
        );
        assert_eq!(value(c1, "spillover"), Some(1), "a shared system");
        for c in &ranking.candidates {
            assert_eq!(
                c.score("lesson-usefulness").unwrap().source,
                ScoreSource::Unset
            );
            assert_eq!(c.score("region").unwrap().source, ScoreSource::Balance);
        }

        // The period is 2019-01-01..2019-12-31 in Japan time.
        let before = file(
            &app,
            "demo-finance",
            "2018-12-31T23:30:00+09:00",
            leak("前年の誤送信"),
        )
        .await;
        let first = file(
            &app,
            "demo-finance",
            "2019-01-01T00:30:00+09:00",
            leak("元日の誤送信"),
        )
        .await;
        let last = file(
            &app,
            "demo-finance",
            "2019-12-31T23:59:00+09:00",
            leak("大晦日の誤送信"),
        )
        .await;
        let after = file(
            &app,
            "demo-finance",
            "2020-01-01T00:00:00+09:00",
            leak("翌年の誤送信"),
        )
        .await;
        let ranking = rank(&app, 2019, &[], None, None).await.unwrap();
        let ids: BTreeSet<ReportId> = ranking.candidates.iter().map(|c| c.report_id).collect();
        assert_eq!(ranking.candidates.len(), 9);
        assert!(ids.contains(&first.id) && ids.contains(&last.id));
        assert!(!ids.contains(&before.id) && !ids.contains(&after.id));
        let c = ranking
            .candidates
            .iter()
            .find(|c| c.report_id == first.id)
            .unwrap();
        assert_eq!(c.category.as_ref().unwrap().as_str(), "internal-incident");
        assert!(
            c.category_evidence.contains("情報の漏えい"),
            "{}",
            c.category_evidence
        );
        assert_eq!(c.region.as_ref().unwrap().as_str(), "kinki");
        // Last year's leak is now history: the same leak is neither new nor without precedent.
        let novelty = c.score("novelty").unwrap();
        assert!(
            novelty.evidence.contains("過去の報告1件"),
            "{}",
            novelty.evidence
        );
        assert_eq!(value(c, "novelty"), Some(0));
        let similar = c.score("similar-cases").unwrap();
        assert_eq!(value(c, "similar-cases"), Some(2), "{}", similar.evidence);
        assert!(
            similar.evidence.contains("今期1件・過去1件"),
            "{}",
            similar.evidence
        );
        let trend = c.score("trend").unwrap();
        assert!(trend.evidence.contains("過去1期間"), "{}", trend.evidence);
    }

    #[tokio::test]
    async fn the_reference_seven_are_a_feasible_selection_with_named_criteria() {
        let (app, _dir) = demo().await;
        let mut seven = Vec::new();
        for n in 1..=7 {
            seven.push(case_report(&app, n).await);
        }
        // The analysts' ratings are part of the 2019 data (cases/case-N.toml
        // `[[analyst_scores]]`), seeded as the survey's score overrides.
        let overrides: Vec<OverrideInput> = app
            .store
            .list_score_overrides(2019)
            .await
            .unwrap()
            .into_iter()
            .map(|o| OverrideInput {
                report_id: o.report_id.0,
                key: o.key,
                value: i64::from(o.value),
                reason: o.reason,
            })
            .collect();
        assert_eq!(overrides.len(), 14, "two ratings for each of the seven");
        for id in &seven {
            for key in ["lesson-usefulness", "response-quality"] {
                assert!(
                    overrides
                        .iter()
                        .any(|o| o.report_id == id.0 && o.key == key),
                    "report {id} has no {key} rating"
                );
            }
        }
        let req = SelectionRequest {
            fiscal_year: 2019,
            rules: RulesInput {
                count: 7,
                min_per_category: [
                    ("system-failure".to_owned(), 2),
                    ("cyber-attack".to_owned(), 2),
                ]
                .into(),
                max_per_sector: Some(2),
                min_regions: Some(3),
                pinned: seven.iter().map(|r| r.0).collect(),
                ..Default::default()
            },
            overrides,
            ..Default::default()
        };
        let p = propose(&app, &req, None).await.unwrap();
        let mut chosen: Vec<ReportId> = p.selection.chosen.iter().map(|c| c.report_id).collect();
        chosen.sort();
        assert_eq!(chosen, seven);
        // Every explanation names its strongest criteria by their labels; the analysts'
        // ratings are among them wherever they are high.
        let labels: Vec<&str> = p.ranking.criteria.iter().map(short_label).collect();
        for c in &p.selection.chosen {
            assert!(c.why.contains("主な理由"), "{}", c.why);
            assert!(labels.iter().any(|l| c.why.contains(l)), "{}", c.why);
        }
        let c5 = p
            .selection
            .chosen
            .iter()
            .find(|c| c.report_id == seven[4])
            .unwrap();
        assert!(c5.why.contains("教訓の有用性3"), "{}", c5.why);
        assert!(c5.why.contains("分析者が指定"), "{}", c5.why);
        let r5 = p
            .ranking
            .candidates
            .iter()
            .find(|c| c.report_id == seven[4])
            .unwrap();
        let analyst = r5.score("response-quality").unwrap();
        assert_eq!(analyst.source, ScoreSource::Analyst);
        assert!(analyst.evidence.contains("続報"), "{}", analyst.evidence);
    }

    #[tokio::test]
    async fn rules_that_cannot_hold_are_named_and_the_left_out_explained() {
        let (app, _dir) = demo().await;
        let req = SelectionRequest {
            fiscal_year: 2019,
            rules: RulesInput {
                count: 3,
                min_per_category: [("internal-incident".to_owned(), 1)].into(),
                ..Default::default()
            },
            ..Default::default()
        };
        match propose(&app, &req, None).await {
            Err(AppError::Validation(e)) => {
                assert!(
                    e.for_field("rules.min_per_category.internal-incident")
                        .is_some(),
                    "{e}"
                );
            }
            other => panic!("{other:?}"),
        }
        let req = SelectionRequest {
            fiscal_year: 2019,
            rules: RulesInput {
                count: 3,
                min_per_category: [("cyber-attack".to_owned(), 3)].into(),
                ..Default::default()
            },
            ..Default::default()
        };
        let p = propose(&app, &req, None).await.unwrap();
        assert!(p.selection.chosen.iter().all(|c| c.why.contains("に必要")));
        // The top-ranked report is a system failure: it beats every chosen attack on total, and
        // the category rule alone keeps it out.
        let top = &p.ranking.candidates[0];
        assert_eq!(top.category.as_ref().unwrap().as_str(), "system-failure");
        let out = &p.selection.left_out[0];
        assert_eq!(out.report_id, top.report_id);
        match &out.reason {
            LeftOutReason::Rules {
                replaceable,
                violations,
            } => {
                assert_eq!(replaceable.len(), 3);
                assert!(
                    violations
                        .iter()
                        .all(|v| v.rule.field() == "min_per_category.cyber-attack"),
                    "{violations:?}"
                );
            }
            other => panic!("{other:?}"),
        }
        let bad = SelectionRequest {
            fiscal_year: 2019,
            rules: RulesInput {
                count: 0,
                ..Default::default()
            },
            overrides: vec![OverrideInput {
                report_id: 999,
                key: "novelty".into(),
                value: 1,
                reason: "x".into(),
            }],
            ..Default::default()
        };
        match propose(&app, &bad, None).await {
            Err(AppError::Validation(e)) => assert!(e.for_field("rules.count").is_some(), "{e}"),
            other => panic!("{other:?}"),
        }
    }

    struct Fixed(Vec<ReportId>);

    impl SimilarityOracle for Fixed {
        fn name(&self) -> &str {
            "固定"
        }
        fn similar(&self, report: &Report) -> AppResult<Vec<SimilarReport>> {
            // Includes the report itself and an unknown id, which must both be ignored.
            Ok(self
                .0
                .iter()
                .chain([&report.id, &ReportId(9_999)])
                .map(|&report_id| SimilarReport {
                    report_id,
                    why: "テスト".into(),
                })
                .collect())
        }
    }

    #[tokio::test]
    async fn a_plugged_in_oracle_counts_the_similar_cases() {
        let (app, _dir) = demo().await;
        let mut others = Vec::new();
        for n in 1..=4 {
            others.push(case_report(&app, n).await);
        }
        let oracle = Fixed(others);
        let ranking = rank(&app, 2019, &[], None, Some(&oracle)).await.unwrap();
        assert_eq!(ranking.similarity, "固定");
        let r7 = case_report(&app, 7).await;
        let c7 = ranking
            .candidates
            .iter()
            .find(|c| c.report_id == r7)
            .unwrap();
        assert_eq!(value(c7, "similar-cases"), Some(3));
        let ev = &c7.score("similar-cases").unwrap().evidence;
        assert!(ev.contains("類似報告4件（今期4件・過去0件"), "{ev}");
        assert_eq!(
            value(c7, "trend"),
            Some(2),
            "4 this period, no history: capped at 2"
        );
    }

    // ----- the signals on their own -----

    fn details(f: impl FnOnce(&mut ReportInput)) -> ReportDetails {
        let mut input = ReportInput {
            title: "t".into(),
            sector: "finance".into(),
            event_type: "unavailability".into(),
            summary: "s".into(),
            ..Default::default()
        };
        f(&mut input);
        input
            .parse(&kizuki_dataset::default_taxonomy().unwrap())
            .unwrap()
    }

    fn points(s: &Signal) -> Option<u8> {
        match s {
            Signal::Computed { value, .. } => Some(value.get()),
            _ => None,
        }
    }

    #[test]
    fn harm_and_severity_thresholds() {
        let tx = kizuki_dataset::default_taxonomy().unwrap();
        assert_eq!(points(&actual_harm(&details(|_| {}))), Some(0));
        let harmed = |f: fn(&mut ReportInput)| {
            details(|i| {
                i.actual_harm = true;
                f(i)
            })
        };
        assert_eq!(points(&actual_harm(&harmed(|_| {}))), Some(2));
        assert_eq!(
            points(&actual_harm(&harmed(|i| i.severity = Some(1)))),
            Some(2)
        );
        assert_eq!(
            points(&actual_harm(&harmed(|i| i.severity = Some(2)))),
            Some(3)
        );
        assert_eq!(
            points(&actual_harm(&harmed(|i| i.duration_minutes = Some(90)))),
            Some(3)
        );
        assert_eq!(severity(&details(|_| {}), &tx), Signal::Analyst);
        assert_eq!(
            points(&severity(&details(|i| i.severity = Some(4)), &tx)),
            Some(3)
        );
        assert_eq!(
            points(&severity(&details(|i| i.severity = Some(1)), &tx)),
            Some(1)
        );
        let wide = details(|i| {
            i.severity = Some(1);
            i.people_affected = Some(250_000);
        });
        let s = severity(&wide, &tx);
        assert_eq!(points(&s), Some(3));
        assert!(matches!(&s, Signal::Computed { evidence, evidence_en, .. }
                if evidence.contains("影響人数250,000人")
                    && evidence_en.contains("250,000 people affected")));
    }

    #[test]
    fn trend_compares_with_the_earlier_average() {
        assert_eq!(points(&trend(0, 5, 3)), Some(0));
        assert_eq!(
            points(&trend(4, 3, 3)),
            Some(3),
            "4 against an average of 1"
        );
        assert_eq!(
            points(&trend(2, 3, 3)),
            Some(3),
            "2 against an average of 1"
        );
        assert_eq!(
            points(&trend(3, 6, 3)),
            Some(2),
            "3 against an average of 2"
        );
        assert_eq!(points(&trend(2, 6, 3)), Some(1), "level");
        assert_eq!(points(&trend(1, 9, 3)), Some(1), "falling");
        assert_eq!(points(&trend(5, 0, 0)), Some(2), "no history: capped");
        assert_eq!(points(&similar_cases(&[], &[])), Some(0));
        assert_eq!(
            points(&similar_cases(&[ReportId(1)], &[ReportId(2)])),
            Some(2)
        );
    }

    #[test]
    fn novelty_from_history_and_combinations() {
        let tx = kizuki_dataset::default_taxonomy().unwrap();
        // Half outages from defects, half intrusions by impersonation, one DDoS outage.
        let history: Vec<ReportDetails> = (0..20)
            .map(|n| {
                details(|i| {
                    let (event, cause) = match n {
                        0 => ("unavailability", "ddos"),
                        1..10 => ("unavailability", "vulnerability"),
                        _ => ("intrusion", "impersonation"),
                    };
                    i.event_type = event.into();
                    i.causes = vec![cause.into()];
                })
            })
            .collect();
        let base: Vec<&ReportDetails> = history.iter().collect();
        let fresh = details(|i| i.causes = vec!["insider".into()]);
        assert_eq!(points(&novelty(&fresh, &base, true, &tx)), Some(3));
        let rare = details(|i| i.causes = vec!["ddos".into()]);
        assert_eq!(
            points(&novelty(&rare, &base, true, &tx)),
            Some(2),
            "1 of 20 = 5%"
        );
        let common = details(|i| i.causes = vec!["vulnerability".into()]);
        assert_eq!(points(&novelty(&common, &base, true, &tx)), Some(0));
        let new_pair = details(|i| {
            i.event_type = "intrusion".into();
            i.causes = vec!["vulnerability".into()];
        });
        let s = novelty(&new_pair, &base, true, &tx);
        assert_eq!(points(&s), Some(2));
        assert!(
            matches!(&s, Signal::Computed { evidence, .. } if evidence.contains("組合せ")),
            "{s:?}"
        );
        assert_eq!(novelty(&fresh, &[], true, &tx), Signal::Analyst);
    }

    fn report(id: i64, org: i64, sector: &str, d: ReportDetails) -> Report {
        let mut d = d;
        d.sector = Code(sector.into());
        Report {
            id: ReportId(id),
            version: 1,
            org_id: OrgId(org),
            status: kizuki_domain::report::ReportStatus::New,
            reported_at: at("2019-05-01T10:00:00+09:00"),
            updated_at: at("2019-05-01T10:00:00+09:00"),
            details: d,
            stages: Vec::new(),
            case_id: None,
        }
    }

    #[test]
    fn spillover_follows_named_vendors_across_sectors_but_not_placeholders() {
        let tx = kizuki_dataset::default_taxonomy().unwrap();
        let with = |vendor: &str, shared: bool| {
            details(|i| {
                i.vendors = vec![vendor.into()];
                i.systems = vec![SystemRef {
                    name: "勘定系".into(),
                    vendor: None,
                    shared,
                }];
            })
        };
        let a = report(1, 1, "finance", with("ＡＢＣ情報システム", false));
        let b = report(2, 2, "railway", with("abc情報システム", false));
        let c = report(3, 3, "medical", with("ABC情報 システム", false));
        let d = report(4, 4, "water", with("システムベンダA", false));
        let e = report(5, 5, "gas", with("システムベンダＡ", true));
        let pool = [&a, &b, &c, &d, &e];
        assert_eq!(points(&spillover(&a, &pool, &tx)), Some(3));
        assert_eq!(points(&spillover(&b, &[&a, &b], &tx)), Some(2));
        assert_eq!(
            points(&spillover(&d, &pool, &tx)),
            Some(0),
            "placeholders do not match"
        );
        let s = spillover(&e, &pool, &tx);
        assert_eq!(points(&s), Some(1), "a shared system on its own");
        // A shared system named by another sector's report spills over.
        let f = report(6, 6, "telecom", with("システムベンダＢ", true));
        assert_eq!(points(&spillover(&e, &[&e, &f], &tx)), Some(2));
    }

    #[test]
    fn key_terms_keep_katakana_latin_and_kanji_runs() {
        let t = key_terms("不審メールの添付ファイルで「ｅｍｏｔｅｔ」に感染、CMS v2");
        for want in [
            "不審",
            "メール",
            "添付",
            "ファイル",
            "emotet",
            "感染",
            "cms",
        ] {
            assert!(t.contains(want), "{want} missing from {t:?}");
        }
        assert!(!t.contains("v2"), "too short: {t:?}");
        let sim = ClassificationSimilarity::new(&[], &kizuki_dataset::default_taxonomy().unwrap());
        assert_eq!(
            sim.similar(&report(1, 1, "finance", details(|_| {})))
                .unwrap(),
            Vec::new()
        );
    }

    #[test]
    fn overrides_and_maps_load_from_toml() {
        let o = overrides_from_toml(
            "[[overrides]]\nreport_id = 3\nkey = \"novelty\"\nvalue = 2\nreason = \"新しい手口\"\n",
        )
        .unwrap();
        assert_eq!(o[0].report_id, 3);
        assert!(overrides_from_toml("[[overrides]]\nbogus = 1\n").is_err());
        let tx = kizuki_dataset::default_taxonomy().unwrap();
        let m = category_map_from_toml(
            "[[rules]]\ncategory = \"cyber-attack\"\nevent_types = [\"malware\"]\n",
            &tx,
        )
        .unwrap();
        assert_eq!(m.rules.len(), 1);
        match category_map_from_toml("[[rules]]\ncategory = \"ufo\"\ncauses = [\"ddos\"]\n", &tx) {
            Err(AppError::Validation(e)) => assert!(e.for_field("rules[0].category").is_some()),
            other => panic!("{other:?}"),
        }
    }
}
