//! Case selection for the annual survey (補完調査): per-criterion scores with evidence, analyst
//! overrides, weighted totals, balance rules, and an exact choice of K cases with the reasons
//! each case is in or out.
//!
//! Pure: the application computes the signals from its reports and hands them in as
//! [`CandidateInput`]s; everything here is arithmetic on those values.
//!
//! - Every criterion of the survey scores each candidate 0–3 ([`Points`]). A score is computed
//!   from the reports ([`ScoreSource::Computed`]), set or overridden by an analyst with a reason
//!   ([`ScoreSource::Analyst`]), not set yet ([`ScoreSource::Unset`], counts 0), or belongs to a
//!   balance criterion that the rules realise instead of a per-case score
//!   ([`ScoreSource::Balance`]).
//! - A candidate's total is Σ weight × points. Weights are rounded to 0.001 and totals kept in
//!   thousandths ([`Candidate::total_milli`]), so sums are exact and equal totals really tie.
//! - The ranking orders by total, then by report id (smaller first).
//! - [`select`] picks exactly K candidates maximising the sum of their totals under [`Rules`]
//!   by depth-first branch and bound over the ranking (see [`select`] for the bounds). Among
//!   selections with the same sum it returns the one holding the higher-ranked case where they
//!   differ, so the answer never depends on input order.
//! - Case categories come from a [`CategoryMap`]: data (event types and causes per category),
//!   with [`CategoryMap::standard`] as the documented default.

use crate::error::{FieldError, FieldErrorKind, ValidationErrors, text};
use crate::ids::{OrgId, ReportId};
use crate::survey::Criterion;
use crate::taxonomy::{Code, Lang, Taxonomy, Vocabulary};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

// ---------------------------------------------------------------------------------------------
// Scores
// ---------------------------------------------------------------------------------------------

/// A score on one criterion: 0 (does not apply) to 3 (applies strongly).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Points(u8);

impl Points {
    pub const MAX: u8 = 3;
    pub const ZERO: Points = Points(0);

    pub fn new(v: u8) -> Result<Points, FieldErrorKind> {
        if v <= Self::MAX {
            Ok(Points(v))
        } else {
            Err(FieldErrorKind::OutOfRange {
                min: 0,
                max: i64::from(Self::MAX),
            })
        }
    }

    /// For computed scores, where a count can exceed the scale: anything above 3 is 3.
    pub fn capped(v: u32) -> Points {
        Points(u8::try_from(v.min(u32::from(Self::MAX))).unwrap_or(Self::MAX))
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for Points {
    type Error = String;
    fn try_from(v: u8) -> Result<Self, String> {
        Points::new(v).map_err(|_| format!("points must be 0..=3, got {v}"))
    }
}

impl From<Points> for u8 {
    fn from(p: Points) -> u8 {
        p.0
    }
}

impl fmt::Display for Points {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What the application could work out for one criterion of one candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Signal {
    /// Computed from the reports, with short evidence in Japanese and in English (empty in
    /// records written before there was an English line).
    Computed {
        value: Points,
        evidence: String,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        evidence_en: String,
    },
    /// Only an analyst can judge this (e.g. usefulness of the lessons).
    Analyst,
    /// A balance criterion (region, sector): the rules realise it, there is no per-case score.
    Balance,
}

/// Where a candidate's score on a criterion came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoreSource {
    Computed,
    Analyst,
    /// Waiting for an analyst; counts 0 until set.
    Unset,
    Balance,
}

impl ScoreSource {
    pub fn label_ja(self) -> &'static str {
        self.label(Lang::Ja)
    }

    pub fn label(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (ScoreSource::Computed, Lang::Ja) => "算出",
            (ScoreSource::Computed, Lang::En) => "computed",
            (ScoreSource::Analyst, Lang::Ja) => "分析者",
            (ScoreSource::Analyst, Lang::En) => "analyst",
            (ScoreSource::Unset, Lang::Ja) => "未評価",
            (ScoreSource::Unset, Lang::En) => "not scored",
            (ScoreSource::Balance, Lang::Ja) => "選定ルール",
            (ScoreSource::Balance, Lang::En) => "selection rules",
        }
    }
}

/// A computed score an analyst replaced, kept so the record shows both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverriddenScore {
    pub value: Points,
    pub evidence: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub evidence_en: String,
}

impl OverriddenScore {
    pub fn evidence_in(&self, lang: Lang) -> &str {
        lang.pick(&self.evidence, &self.evidence_en)
    }
}

/// One criterion's score for one candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CriterionScore {
    pub key: String,
    /// `None` while unset and for balance criteria.
    pub value: Option<Points>,
    pub source: ScoreSource,
    /// The computed evidence, or the analyst's reason.
    pub evidence: String,
    /// The computed evidence in English; empty for an analyst's reason, which is kept as typed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub evidence_en: String,
    /// Weight × points, in thousandths of a point.
    pub weighted_milli: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overridden: Option<OverriddenScore>,
}

impl CriterionScore {
    /// The evidence in the reader's language; an analyst's reason as it was typed.
    pub fn evidence_in(&self, lang: Lang) -> &str {
        lang.pick(&self.evidence, &self.evidence_en)
    }
}

impl Candidate {
    pub fn category_evidence_in(&self, lang: Lang) -> &str {
        lang.pick(&self.category_evidence, &self.category_evidence_en)
    }
}

/// An analyst's score as typed in a form, a file or the API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OverrideInput {
    pub report_id: i64,
    pub key: String,
    pub value: i64,
    pub reason: String,
}

/// A checked analyst score: sets a criterion only an analyst can judge, or overrides a
/// computed one. The reason is required: it is the evidence the record keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreOverride {
    pub report_id: ReportId,
    pub key: String,
    pub value: Points,
    pub reason: String,
}

pub const MAX_REASON: usize = 500;

impl OverrideInput {
    pub fn parse(&self, criteria: &[Criterion]) -> Result<ScoreOverride, ValidationErrors> {
        let mut errs = ValidationErrors::default();
        if self.report_id <= 0 {
            errs.push(FieldError::invalid(
                "report_id",
                "報告IDを指定してください / a report id is required",
            ));
        }
        let key = self.key.trim().to_owned();
        if key.is_empty() {
            errs.push(FieldError::required("key"));
        } else if !criteria.iter().any(|c| c.key == key) {
            errs.push(FieldError::new(
                "key",
                FieldErrorKind::UnknownCode { code: key.clone() },
            ));
        }
        let value = match u8::try_from(self.value).ok().map(Points::new) {
            Some(Ok(p)) => p,
            _ => {
                errs.push(FieldError::new(
                    "value",
                    FieldErrorKind::OutOfRange {
                        min: 0,
                        max: i64::from(Points::MAX),
                    },
                ));
                Points::ZERO
            }
        };
        let reason = text(&mut errs, "reason", &self.reason, true, MAX_REASON);
        errs.into_result(ScoreOverride {
            report_id: ReportId(self.report_id),
            key,
            value,
            reason,
        })
    }
}

/// Parses a list of analyst scores, naming fields `overrides[i].…` and refusing a second
/// score for the same report and criterion.
pub fn parse_overrides(
    inputs: &[OverrideInput],
    criteria: &[Criterion],
) -> Result<Vec<ScoreOverride>, ValidationErrors> {
    let mut errs = ValidationErrors::default();
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, input) in inputs.iter().enumerate() {
        match input.parse(criteria) {
            Ok(o) => {
                if seen.insert((o.report_id, o.key.clone())) {
                    out.push(o);
                } else {
                    errs.push(FieldError::new(
                        format!("overrides[{i}]"),
                        FieldErrorKind::Duplicate {
                            value: format!("{}:{}", o.report_id, o.key),
                        },
                    ));
                }
            }
            Err(e) => errs.extend_within(&format!("overrides[{i}]"), e),
        }
    }
    errs.into_result(out)
}

/// One candidate report as the application describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CandidateInput {
    pub report_id: ReportId,
    pub title: String,
    pub org_id: OrgId,
    pub sector: Code,
    /// The report's region, or its organisation's.
    pub region: Option<Code>,
    pub category: Option<Code>,
    /// How the category was decided (a written case, or which code of the category map).
    pub category_evidence: String,
    #[serde(default)]
    pub category_evidence_en: String,
    /// By criterion key; a criterion without a signal is left to the analyst.
    pub signals: BTreeMap<String, Signal>,
}

/// A scored candidate, as ranked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// 1 for the highest total; ties by report id.
    pub rank: usize,
    pub report_id: ReportId,
    pub title: String,
    pub org_id: OrgId,
    pub sector: Code,
    pub region: Option<Code>,
    pub category: Option<Code>,
    pub category_evidence: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub category_evidence_en: String,
    /// In the survey's criteria order.
    pub scores: Vec<CriterionScore>,
    /// Σ weight × points in thousandths of a point.
    pub total_milli: i64,
    /// The same total as a number, for display.
    pub total: f64,
}

impl Candidate {
    pub fn score(&self, key: &str) -> Option<&CriterionScore> {
        self.scores.iter().find(|s| s.key == key)
    }
}

/// A weight in thousandths; weights finer than 0.001 are rounded.
pub fn weight_milli(weight: f64) -> i64 {
    // Weights are checked finite and within 0..=10 before this is called, so the cast is exact.
    (weight * 1000.0).round() as i64
}

/// A total in thousandths as text: 7500 → "7.5".
pub fn format_total(milli: i64) -> String {
    let sign = if milli < 0 { "-" } else { "" };
    let m = milli.unsigned_abs();
    let (whole, frac) = (m / 1000, m % 1000);
    if frac == 0 {
        format!("{sign}{whole}")
    } else {
        let f = format!("{frac:03}");
        format!("{sign}{whole}.{}", f.trim_end_matches('0'))
    }
}

/// The short Japanese name of a criterion for evidence lines and tables (the survey's label is
/// a full phrase); unknown keys fall back to that label.
pub fn short_label(c: &Criterion) -> &str {
    short_label_in(c, Lang::Ja)
}

/// [`short_label`] in `lang`; unknown keys fall back to the survey's label in that language.
pub fn short_label_in(c: &Criterion, lang: Lang) -> &str {
    let known = match c.key.as_str() {
        "actual-harm" => Some(("実害", "actual harm")),
        "severity" => Some(("重大さ・社会的影響", "severity and impact")),
        "similar-cases" => Some(("類似事例", "similar cases")),
        "novelty" => Some(("目新しさ", "novelty")),
        "trend" => Some(("トレンド", "trend")),
        "spillover" => Some(("他分野への波及", "spillover")),
        "lesson-usefulness" => Some(("教訓の有用性", "useful lessons")),
        "response-quality" => Some(("対応の優劣", "quality of response")),
        "region" => Some(("地域性", "regional character")),
        "sector-balance" => Some(("分野のバランス", "sector balance")),
        _ => None,
    };
    match (known, lang) {
        (Some((ja, _)), Lang::Ja) => ja,
        (Some((_, en)), Lang::En) => en,
        (None, Lang::Ja) => &c.label,
        (None, Lang::En) if c.label_en.is_empty() => &c.label,
        (None, Lang::En) => &c.label_en,
    }
}

/// Scores every candidate on every criterion, applies the analysts' scores and ranks the
/// candidates (total descending, then report id).
///
/// Errors name the field: `criteria[i].weight` (weights must be finite and 0..=10),
/// `candidates[i].report_id` (listed twice), `overrides[i].report_id` (not a candidate),
/// `overrides[i].key` (not a criterion, or a balance criterion, which has no per-case score).
pub fn score_candidates(
    criteria: &[Criterion],
    inputs: Vec<CandidateInput>,
    overrides: &[ScoreOverride],
) -> Result<Vec<Candidate>, ValidationErrors> {
    let mut errs = ValidationErrors::default();
    for (i, c) in criteria.iter().enumerate() {
        if !(c.weight.is_finite() && (0.0..=10.0).contains(&c.weight)) {
            errs.push(FieldError::new(
                format!("criteria[{i}].weight"),
                FieldErrorKind::OutOfRange { min: 0, max: 10 },
            ));
        }
    }
    let mut index = HashMap::new();
    for (i, c) in inputs.iter().enumerate() {
        if index.insert(c.report_id, i).is_some() {
            errs.push(FieldError::new(
                format!("candidates[{i}].report_id"),
                FieldErrorKind::Duplicate {
                    value: c.report_id.to_string(),
                },
            ));
        }
    }
    let mut by_key: HashMap<(ReportId, &str), &ScoreOverride> = HashMap::new();
    for (i, o) in overrides.iter().enumerate() {
        let Some(&ci) = index.get(&o.report_id) else {
            errs.push(FieldError::invalid(
                format!("overrides[{i}].report_id"),
                format!(
                    "報告{}は候補にありません（調査期間外か存在しません）",
                    o.report_id
                ),
            ));
            continue;
        };
        let Some(criterion) = criteria.iter().find(|c| c.key == o.key) else {
            errs.push(FieldError::new(
                format!("overrides[{i}].key"),
                FieldErrorKind::UnknownCode {
                    code: o.key.clone(),
                },
            ));
            continue;
        };
        if matches!(inputs[ci].signals.get(&o.key), Some(Signal::Balance)) {
            errs.push(FieldError::invalid(
                format!("overrides[{i}].key"),
                format!(
                    "「{}」は選定ルール（地域数・分野の上限）で扱うため、事例ごとの点数は付けません",
                    short_label(criterion)
                ),
            ));
            continue;
        }
        if by_key.insert((o.report_id, o.key.as_str()), o).is_some() {
            errs.push(FieldError::new(
                format!("overrides[{i}]"),
                FieldErrorKind::Duplicate {
                    value: format!("{}:{}", o.report_id, o.key),
                },
            ));
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    let mut out: Vec<Candidate> = inputs
        .into_iter()
        .map(|input| {
            let scores: Vec<CriterionScore> = criteria
                .iter()
                .map(|c| {
                    let o = by_key.get(&(input.report_id, c.key.as_str())).copied();
                    resolve(c, input.signals.get(&c.key), o)
                })
                .collect();
            let total_milli = scores.iter().map(|s| s.weighted_milli).sum();
            Candidate {
                rank: 0,
                report_id: input.report_id,
                title: input.title,
                org_id: input.org_id,
                sector: input.sector,
                region: input.region,
                category: input.category,
                category_evidence: input.category_evidence,
                category_evidence_en: input.category_evidence_en,
                scores,
                total_milli,
                total: total_milli as f64 / 1000.0,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.total_milli
            .cmp(&a.total_milli)
            .then(a.report_id.cmp(&b.report_id))
    });
    for (i, c) in out.iter_mut().enumerate() {
        c.rank = i + 1;
    }
    Ok(out)
}

fn resolve(c: &Criterion, signal: Option<&Signal>, o: Option<&ScoreOverride>) -> CriterionScore {
    let w = weight_milli(c.weight);
    let computed = match signal {
        Some(Signal::Computed {
            value,
            evidence,
            evidence_en,
        }) => Some(OverriddenScore {
            value: *value,
            evidence: evidence.clone(),
            evidence_en: evidence_en.clone(),
        }),
        _ => None,
    };
    if let Some(o) = o {
        return CriterionScore {
            key: c.key.clone(),
            value: Some(o.value),
            source: ScoreSource::Analyst,
            evidence: o.reason.clone(),
            evidence_en: String::new(),
            weighted_milli: w * i64::from(o.value.get()),
            overridden: computed,
        };
    }
    match (signal, computed) {
        (Some(Signal::Balance), _) => CriterionScore {
            key: c.key.clone(),
            value: None,
            source: ScoreSource::Balance,
            evidence: "選定ルールで考慮".into(),
            evidence_en: "weighed by the selection rules".into(),
            weighted_milli: 0,
            overridden: None,
        },
        (_, Some(s)) => CriterionScore {
            key: c.key.clone(),
            value: Some(s.value),
            source: ScoreSource::Computed,
            evidence: s.evidence,
            evidence_en: s.evidence_en,
            weighted_milli: w * i64::from(s.value.get()),
            overridden: None,
        },
        _ => CriterionScore {
            key: c.key.clone(),
            value: None,
            source: ScoreSource::Unset,
            evidence: "分析者の評価待ち".into(),
            evidence_en: "waiting for an analyst's score".into(),
            weighted_milli: 0,
            overridden: None,
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Case categories
// ---------------------------------------------------------------------------------------------

/// One line of the category map: a report whose event type or any cause is listed here falls
/// in `category`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryRule {
    pub category: Code,
    #[serde(default)]
    pub event_types: Vec<Code>,
    #[serde(default)]
    pub causes: Vec<Code>,
}

/// How reports map to the survey's case categories, as data. The rules are tried in order and
/// the first that matches decides, so "an intrusion caused by a vulnerability" is a cyber
/// attack rather than a system failure because the attack rule comes first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryMap {
    pub rules: Vec<CategoryRule>,
}

/// Which code of a report decided its category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", content = "code", rename_all = "snake_case")]
pub enum Matched {
    EventType(Code),
    Cause(Code),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classified {
    pub category: Code,
    pub matched: Matched,
}

impl Classified {
    /// e.g. `事象「マルウェア等の感染」から分類`, or in English `by the event type "Malware …"`.
    pub fn evidence(&self, tx: &Taxonomy, lang: Lang) -> String {
        let (vocab, code, ja, en) = match &self.matched {
            Matched::EventType(c) => (Vocabulary::EventType, c, "事象", "event type"),
            Matched::Cause(c) => (Vocabulary::Cause, c, "原因", "cause"),
        };
        let label = tx.label(vocab, code.as_str(), lang);
        match lang {
            Lang::Ja => format!("{ja}「{label}」から分類"),
            Lang::En => format!("by the {en} “{label}”"),
        }
    }
}

fn codes(list: &[&str]) -> Vec<Code> {
    list.iter().map(|s| Code((*s).to_owned())).collect()
}

impl CategoryMap {
    /// The default map, after the categories of the 2019 report:
    /// 1. 外部からのサイバー攻撃 (`cyber-attack`): malware, malicious code or intrusion, or an
    ///    attack cause (suspicious mail, impersonation, DDoS, unauthorised acquisition, a
    ///    suspicious file or site).
    /// 2. 重要インフラ事業者内でのインシデント (`internal-incident`): an information leak, or an
    ///    insider, a user's operating or management error.
    /// 3. システム故障に起因した重要インフラサービス障害 (`system-failure`): unavailability,
    ///    destruction, a near miss or other, or an equipment fault, defect, contractor error,
    ///    spill-over, operation not carried out or a disaster.
    ///
    /// Reports matching none (e.g. cause unknown and event type unknown) stay uncategorised and
    /// count towards no category rule.
    pub fn standard() -> CategoryMap {
        CategoryMap {
            rules: vec![
                CategoryRule {
                    category: Code("cyber-attack".into()),
                    event_types: codes(&["malware", "code-execution", "intrusion"]),
                    causes: codes(&[
                        "suspicious-mail",
                        "impersonation",
                        "ddos",
                        "unauthorised-acquisition",
                        "suspicious-file",
                        "suspicious-site",
                    ]),
                },
                CategoryRule {
                    category: Code("internal-incident".into()),
                    event_types: codes(&["leak"]),
                    causes: codes(&["insider", "user-error", "user-mismanagement"]),
                },
                CategoryRule {
                    category: Code("system-failure".into()),
                    event_types: codes(&["unavailability", "destruction", "precursor", "other"]),
                    causes: codes(&[
                        "equipment-failure",
                        "vulnerability",
                        "contractor-mismanagement",
                        "spillover",
                        "operation-not-done",
                        "disaster",
                    ]),
                },
            ],
        }
    }

    /// Checks every code against the taxonomy (fields `rules[i].category`,
    /// `rules[i].event_types[j]`, `rules[i].causes[j]`); a rule must list something.
    pub fn parse(self, tx: &Taxonomy) -> Result<CategoryMap, ValidationErrors> {
        let mut errs = ValidationErrors::default();
        if self.rules.is_empty() {
            errs.push(FieldError::required("rules"));
        }
        for (i, r) in self.rules.iter().enumerate() {
            let at = format!("rules[{i}]");
            tx.check(
                &mut errs,
                &format!("{at}.category"),
                Vocabulary::CaseCategory,
                r.category.as_str(),
            );
            for (j, c) in r.event_types.iter().enumerate() {
                tx.check(
                    &mut errs,
                    &format!("{at}.event_types[{j}]"),
                    Vocabulary::EventType,
                    c.as_str(),
                );
            }
            for (j, c) in r.causes.iter().enumerate() {
                tx.check(
                    &mut errs,
                    &format!("{at}.causes[{j}]"),
                    Vocabulary::Cause,
                    c.as_str(),
                );
            }
            if r.event_types.is_empty() && r.causes.is_empty() {
                errs.push(FieldError::invalid(
                    at,
                    "事象か原因を1つ以上挙げてください / list an event type or a cause",
                ));
            }
        }
        errs.into_result(self)
    }

    /// The first rule matching the event type, or any cause in the report's order.
    pub fn classify(&self, event_type: &Code, causes: &[Code]) -> Option<Classified> {
        self.rules.iter().find_map(|r| {
            let matched = if r.event_types.contains(event_type) {
                Some(Matched::EventType(event_type.clone()))
            } else {
                causes
                    .iter()
                    .find(|c| r.causes.contains(c))
                    .map(|c| Matched::Cause(c.clone()))
            };
            matched.map(|matched| Classified {
                category: r.category.clone(),
                matched,
            })
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------------------------

pub const DEFAULT_COUNT: usize = 7;
pub const MAX_COUNT: usize = 50;

/// Balance rules as typed (numbers unchecked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RulesInput {
    /// How many cases to select (K).
    pub count: i64,
    /// At least this many cases of each case category, by category code.
    pub min_per_category: BTreeMap<String, i64>,
    pub max_per_sector: Option<i64>,
    /// At least this many distinct regions among the chosen cases.
    pub min_regions: Option<i64>,
    pub max_per_org: Option<i64>,
    /// Reports the analyst requires in the selection.
    pub pinned: Vec<i64>,
    /// Reports the analyst keeps out.
    pub excluded: Vec<i64>,
}

impl Default for RulesInput {
    fn default() -> Self {
        RulesInput {
            count: DEFAULT_COUNT as i64,
            min_per_category: BTreeMap::new(),
            max_per_sector: None,
            min_regions: None,
            max_per_org: None,
            pinned: Vec::new(),
            excluded: Vec::new(),
        }
    }
}

/// Checked balance rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rules {
    count: usize,
    min_per_category: BTreeMap<Code, usize>,
    max_per_sector: Option<usize>,
    min_regions: Option<usize>,
    max_per_org: Option<usize>,
    pinned: BTreeSet<ReportId>,
    excluded: BTreeSet<ReportId>,
}

fn bounded(errs: &mut ValidationErrors, field: &str, v: i64, min: i64, max: i64) -> usize {
    if (min..=max).contains(&v) {
        usize::try_from(v).unwrap_or(0)
    } else {
        errs.push(FieldError::new(
            field,
            FieldErrorKind::OutOfRange { min, max },
        ));
        0
    }
}

impl RulesInput {
    /// Checks the rules on their own (whether candidates can satisfy them is [`select`]'s
    /// question). Fields: `count`, `min_per_category.<code>`, `min_per_category` (the minimums
    /// exceed the count), `max_per_sector`, `min_regions`, `max_per_org`, `pinned[i]`,
    /// `excluded[i]`.
    pub fn parse(&self, tx: &Taxonomy) -> Result<Rules, ValidationErrors> {
        let mut errs = ValidationErrors::default();
        let max = MAX_COUNT as i64;
        let count = bounded(&mut errs, "count", self.count, 1, max);
        let mut min_per_category = BTreeMap::new();
        for (code, &n) in &self.min_per_category {
            let field = format!("min_per_category.{code}");
            let code = tx.check(&mut errs, &field, Vocabulary::CaseCategory, code);
            let n = bounded(&mut errs, &field, n, 0, max);
            if n > 0 {
                min_per_category.insert(code, n);
            }
        }
        let sum: usize = min_per_category.values().sum();
        if count > 0 && sum > count {
            errs.push(FieldError::invalid(
                "min_per_category",
                format!("分類ごとの最低件数の合計（{sum}件）が選定件数（{count}件）を超えています"),
            ));
        }
        let max_per_sector = self
            .max_per_sector
            .map(|v| bounded(&mut errs, "max_per_sector", v, 1, max));
        let max_per_org = self
            .max_per_org
            .map(|v| bounded(&mut errs, "max_per_org", v, 1, max));
        let min_regions = self
            .min_regions
            .map(|v| bounded(&mut errs, "min_regions", v, 0, max))
            .filter(|&v| v > 0);
        if let Some(r) = min_regions
            && count > 0
            && r > count
        {
            errs.push(FieldError::invalid(
                "min_regions",
                format!("地域数の下限（{r}）が選定件数（{count}件）を超えています"),
            ));
        }
        let ids = |errs: &mut ValidationErrors, name: &str, list: &[i64]| {
            let mut out = BTreeSet::new();
            for (i, &id) in list.iter().enumerate() {
                if id <= 0 {
                    errs.push(FieldError::invalid(
                        format!("{name}[{i}]"),
                        "報告IDは正の整数です / a report id is a positive integer",
                    ));
                } else if !out.insert(ReportId(id)) {
                    errs.push(FieldError::new(
                        format!("{name}[{i}]"),
                        FieldErrorKind::Duplicate {
                            value: id.to_string(),
                        },
                    ));
                }
            }
            out
        };
        let pinned = ids(&mut errs, "pinned", &self.pinned);
        let excluded = ids(&mut errs, "excluded", &self.excluded);
        if count > 0 && pinned.len() > count {
            errs.push(FieldError::invalid(
                "pinned",
                format!(
                    "指定した報告（{}件）が選定件数（{count}件）を超えています",
                    pinned.len()
                ),
            ));
        }
        for (i, id) in self.excluded.iter().enumerate() {
            if pinned.contains(&ReportId(*id)) {
                errs.push(FieldError::invalid(
                    format!("excluded[{i}]"),
                    format!("報告{id}は指定と除外の両方にあります"),
                ));
            }
        }
        errs.into_result(Rules {
            count,
            min_per_category,
            max_per_sector,
            min_regions,
            max_per_org,
            pinned,
            excluded,
        })
    }
}

impl Rules {
    /// K cases and no balance rules.
    pub fn count_only(count: usize) -> Result<Rules, ValidationErrors> {
        let mut errs = ValidationErrors::default();
        let max = MAX_COUNT as i64;
        let count = bounded(
            &mut errs,
            "count",
            i64::try_from(count).unwrap_or(i64::MAX),
            1,
            max,
        );
        errs.into_result(Rules {
            count,
            min_per_category: BTreeMap::new(),
            max_per_sector: None,
            min_regions: None,
            max_per_org: None,
            pinned: BTreeSet::new(),
            excluded: BTreeSet::new(),
        })
    }

    pub fn count(&self) -> usize {
        self.count
    }
    pub fn min_per_category(&self) -> &BTreeMap<Code, usize> {
        &self.min_per_category
    }
    pub fn max_per_sector(&self) -> Option<usize> {
        self.max_per_sector
    }
    pub fn min_regions(&self) -> Option<usize> {
        self.min_regions
    }
    pub fn max_per_org(&self) -> Option<usize> {
        self.max_per_org
    }
    pub fn pinned(&self) -> &BTreeSet<ReportId> {
        &self.pinned
    }
    pub fn excluded(&self) -> &BTreeSet<ReportId> {
        &self.excluded
    }

    /// The rules back in their typed form (to store, show in a form or send over the API).
    pub fn input(&self) -> RulesInput {
        let n = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
        RulesInput {
            count: n(self.count),
            min_per_category: self
                .min_per_category
                .iter()
                .map(|(c, &v)| (c.0.clone(), n(v)))
                .collect(),
            max_per_sector: self.max_per_sector.map(n),
            min_regions: self.min_regions.map(n),
            max_per_org: self.max_per_org.map(n),
            pinned: self.pinned.iter().map(|r| r.0).collect(),
            excluded: self.excluded.iter().map(|r| r.0).collect(),
        }
    }

    /// Every rule in force, in the order infeasibility is diagnosed and shown.
    pub fn refs(&self) -> Vec<RuleRef> {
        let mut out = vec![RuleRef::Count { count: self.count }];
        for (c, &min) in &self.min_per_category {
            out.push(RuleRef::MinPerCategory {
                category: c.clone(),
                min,
            });
        }
        if let Some(max) = self.max_per_sector {
            out.push(RuleRef::MaxPerSector { max });
        }
        if let Some(min) = self.min_regions {
            out.push(RuleRef::MinRegions { min });
        }
        if let Some(max) = self.max_per_org {
            out.push(RuleRef::MaxPerOrg { max });
        }
        out.extend(
            self.pinned
                .iter()
                .map(|&report_id| RuleRef::Pinned { report_id }),
        );
        out.extend(
            self.excluded
                .iter()
                .map(|&report_id| RuleRef::Excluded { report_id }),
        );
        out
    }
}

/// One rule, as errors and explanations name it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum RuleRef {
    Count { count: usize },
    MinPerCategory { category: Code, min: usize },
    MaxPerSector { max: usize },
    MinRegions { min: usize },
    MaxPerOrg { max: usize },
    Pinned { report_id: ReportId },
    Excluded { report_id: ReportId },
}

impl RuleRef {
    /// The field of [`RulesInput`] the rule comes from, e.g. `min_per_category.cyber-attack`.
    pub fn field(&self) -> String {
        match self {
            RuleRef::Count { .. } => "count".into(),
            RuleRef::MinPerCategory { category, .. } => format!("min_per_category.{category}"),
            RuleRef::MaxPerSector { .. } => "max_per_sector".into(),
            RuleRef::MinRegions { .. } => "min_regions".into(),
            RuleRef::MaxPerOrg { .. } => "max_per_org".into(),
            RuleRef::Pinned { .. } => "pinned".into(),
            RuleRef::Excluded { .. } => "excluded".into(),
        }
    }

    /// e.g. `「外部からのサイバー攻撃」2件以上`.
    pub fn label_ja(&self, tx: &Taxonomy) -> String {
        self.label(tx, Lang::Ja)
    }

    /// The rule named in `lang`, e.g. `at least 2 of ‘Cyber attacks from outside’`.
    pub fn label(&self, tx: &Taxonomy, lang: Lang) -> String {
        if lang == Lang::En {
            return match self {
                RuleRef::Count { count } => format!("{count} cases selected"),
                RuleRef::MinPerCategory { category, min } => format!(
                    "at least {min} of ‘{}’",
                    tx.label(Vocabulary::CaseCategory, category.as_str(), Lang::En)
                ),
                RuleRef::MaxPerSector { max } => format!("at most {max} per sector"),
                RuleRef::MinRegions { min } => format!("at least {min} regions"),
                RuleRef::MaxPerOrg { max } => format!("at most {max} per organisation"),
                RuleRef::Pinned { report_id } => {
                    format!("report {report_id} included (the analyst's choice)")
                }
                RuleRef::Excluded { report_id } => {
                    format!("report {report_id} left out (the analyst's choice)")
                }
            };
        }
        match self {
            RuleRef::Count { count } => format!("選定件数{count}件"),
            RuleRef::MinPerCategory { category, min } => format!(
                "「{}」{min}件以上",
                tx.label(Vocabulary::CaseCategory, category.as_str(), Lang::Ja)
            ),
            RuleRef::MaxPerSector { max } => format!("1分野あたり{max}件まで"),
            RuleRef::MinRegions { min } => format!("{min}地域以上"),
            RuleRef::MaxPerOrg { max } => format!("1組織あたり{max}件まで"),
            RuleRef::Pinned { report_id } => format!("報告{report_id}を必ず含める（分析者の指定）"),
            RuleRef::Excluded { report_id } => format!("報告{report_id}を除外（分析者の指定）"),
        }
    }

    /// The label in 「」 for use inside a sentence, its own brackets turned into 『』.
    pub fn quoted_ja(&self, tx: &Taxonomy) -> String {
        self.quoted(tx, Lang::Ja)
    }

    /// The label quoted for use inside a sentence in `lang`.
    pub fn quoted(&self, tx: &Taxonomy, lang: Lang) -> String {
        match lang {
            Lang::Ja => format!(
                "「{}」",
                self.label_ja(tx).replace('「', "『").replace('」', "』")
            ),
            Lang::En => format!("“{}”", self.label(tx, Lang::En)),
        }
    }
}

/// A rule a selection would break, with what exactly goes wrong.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Violation {
    pub rule: RuleRef,
    /// e.g. `分野「金融」が3件になる`.
    pub detail: String,
    /// The same in English, e.g. `sector ‘Finance’ would have 3`.
    #[serde(default)]
    pub detail_en: String,
}

// ---------------------------------------------------------------------------------------------
// Selection results
// ---------------------------------------------------------------------------------------------

/// Search limits. The budget counts search nodes, not time, so a run is reproducible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SolveOptions {
    /// Most nodes (partial selections) the search may open before it stops and states a bound.
    pub max_nodes: u64,
    /// How many of the strongest left-out candidates to explain.
    pub explain_left_out: usize,
}

impl Default for SolveOptions {
    fn default() -> Self {
        SolveOptions {
            max_nodes: 200_000,
            explain_left_out: 5,
        }
    }
}

/// Whether the selection is proven best.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Optimality {
    /// The search finished: no selection satisfying the rules has a higher sum.
    Proven,
    /// The node budget ran out: no selection can exceed `bound_milli`, so the chosen sum is at
    /// most `gap_milli` short of the best.
    Budget { bound_milli: i64, gap_milli: i64 },
}

impl Optimality {
    pub fn describe_ja(&self, nodes: u64) -> String {
        match self {
            Optimality::Proven => {
                format!(
                    "最適解（ルールを満たす組合せの中で合計最大であることを確認済み、探索ノード{nodes}）"
                )
            }
            Optimality::Budget {
                bound_milli,
                gap_milli,
            } => format!(
                "探索上限（{nodes}ノード）に到達: 合計の上限は{}点、最適との差は最大{}点",
                format_total(*bound_milli),
                format_total(*gap_milli)
            ),
        }
    }
}

/// A criterion a chosen case scores well on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Strength {
    pub key: String,
    pub label: String,
    #[serde(default)]
    pub label_en: String,
    pub points: Points,
    pub weighted_milli: i64,
}

/// A rule a chosen case counts towards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleHelp {
    pub rule: RuleRef,
    /// Without this case the rule would fail.
    pub needed: bool,
    pub detail: String,
    #[serde(default)]
    pub detail_en: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChosenCase {
    pub report_id: ReportId,
    pub rank: usize,
    pub total_milli: i64,
    pub strongest: Vec<Strength>,
    pub helps: Vec<RuleHelp>,
    /// One Japanese sentence or two.
    pub why: String,
    /// The same in English.
    #[serde(default)]
    pub why_en: String,
}

/// Why a strong candidate is not in the selection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LeftOutReason {
    /// The analyst excluded it.
    Excluded,
    /// It scores at least as high as some chosen cases, but putting it in place of any of them
    /// breaks a rule.
    Rules {
        /// The chosen cases (not pinned) whose total is not above its own.
        replaceable: Vec<ReportId>,
        violations: Vec<Violation>,
    },
    /// Its total is lower than the chosen case it would replace; `also` lists rules that swap
    /// would break besides.
    LowerTotal {
        than: ReportId,
        than_total_milli: i64,
        also: Vec<Violation>,
    },
    /// Same total as `than`, which ranks first by report id.
    Tie { than: ReportId },
    /// Only when the search stopped at its budget: it would have improved the selection.
    NotReached { better_than: ReportId },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftOutCase {
    pub report_id: ReportId,
    pub rank: usize,
    pub total_milli: i64,
    pub reason: LeftOutReason,
    pub why: String,
    #[serde(default)]
    pub why_en: String,
}

/// The selected cases with the reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    pub rules: Rules,
    /// In rank order.
    pub chosen: Vec<ChosenCase>,
    /// The strongest candidates left out, in rank order.
    pub left_out: Vec<LeftOutCase>,
    pub total_milli: i64,
    pub optimality: Optimality,
    pub nodes: u64,
}

/// Why no selection came out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SelectionError {
    /// No selection satisfies the rules; `rule` is the one to relax first, `conflicts_with` the
    /// other rules it clashes with (empty when the rule fails on its own).
    Infeasible {
        rule: RuleRef,
        conflicts_with: Vec<RuleRef>,
        message: String,
    },
    /// The node budget ran out before any selection satisfying the rules was found.
    Budget { max_nodes: u64, message: String },
}

impl SelectionError {
    /// The field of [`RulesInput`] (or `max_nodes`) to change.
    pub fn field(&self) -> String {
        match self {
            SelectionError::Infeasible { rule, .. } => rule.field(),
            SelectionError::Budget { .. } => "max_nodes".into(),
        }
    }

    pub fn message_ja(&self) -> &str {
        match self {
            SelectionError::Infeasible { message, .. } | SelectionError::Budget { message, .. } => {
                message
            }
        }
    }
}

impl fmt::Display for SelectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field(), self.message_ja())
    }
}

impl std::error::Error for SelectionError {}

impl From<SelectionError> for FieldError {
    fn from(e: SelectionError) -> FieldError {
        FieldError::invalid(e.field(), e.message_ja().to_owned())
    }
}

impl From<SelectionError> for ValidationErrors {
    fn from(e: SelectionError) -> ValidationErrors {
        FieldError::from(e).into()
    }
}

// ---------------------------------------------------------------------------------------------
// The search
// ---------------------------------------------------------------------------------------------

/// A candidate as the search sees it: its total and the dense ids of its groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Item {
    w: i64,
    /// Index into the constrained categories, if its category has a minimum.
    cat: Option<usize>,
    sector: usize,
    org: usize,
    region: Option<usize>,
}

/// The selection problem over items in rank order (weights non-increasing).
#[derive(Debug, Clone)]
struct Problem {
    items: Vec<Item>,
    k: usize,
    cat_min: Vec<usize>,
    sector_max: Option<usize>,
    org_max: Option<usize>,
    min_regions: usize,
    /// Item indices, sorted.
    pinned: Vec<usize>,
    excluded: Vec<bool>,
    n_sectors: usize,
    n_orgs: usize,
    n_regions: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Solution {
    /// Item indices, sorted.
    set: Vec<usize>,
    total: i64,
    optimality: Optimality,
    nodes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    Infeasible,
    Budget,
}

/// A rule broken by a set of items, in the problem's dense ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Broken {
    Cat { cat: usize, have: usize },
    Sector { sector: usize, have: usize },
    Org { org: usize, have: usize },
    Regions { have: usize },
    Pinned { item: usize },
    Excluded { item: usize },
}

impl Problem {
    fn violations(&self, set: &[usize]) -> Vec<Broken> {
        let mut out = Vec::new();
        let mut cat = vec![0usize; self.cat_min.len()];
        let mut sector = vec![0usize; self.n_sectors];
        let mut org = vec![0usize; self.n_orgs];
        let mut regions = BTreeSet::new();
        for &i in set {
            let it = self.items[i];
            if let Some(c) = it.cat {
                cat[c] += 1;
            }
            sector[it.sector] += 1;
            org[it.org] += 1;
            if let Some(r) = it.region {
                regions.insert(r);
            }
            if self.excluded[i] {
                out.push(Broken::Excluded { item: i });
            }
        }
        for (c, (&have, &min)) in cat.iter().zip(&self.cat_min).enumerate() {
            if have < min {
                out.push(Broken::Cat { cat: c, have });
            }
        }
        if let Some(max) = self.sector_max {
            for (s, &have) in sector.iter().enumerate() {
                if have > max {
                    out.push(Broken::Sector { sector: s, have });
                }
            }
        }
        if let Some(max) = self.org_max {
            for (o, &have) in org.iter().enumerate() {
                if have > max {
                    out.push(Broken::Org { org: o, have });
                }
            }
        }
        if regions.len() < self.min_regions {
            out.push(Broken::Regions {
                have: regions.len(),
            });
        }
        for &p in &self.pinned {
            if !set.contains(&p) {
                out.push(Broken::Pinned { item: p });
            }
        }
        out.sort();
        out
    }
}

struct Search<'a> {
    p: &'a Problem,
    /// Items the search may add (not pinned, not excluded), in rank order.
    free: Vec<usize>,
    /// prefix[i] = Σ weights of free[..i].
    prefix: Vec<i64>,
    /// Positions in `free` of the items added so far.
    chosen: Vec<usize>,
    slots: usize,
    cur: i64,
    cat_count: Vec<usize>,
    sector_count: Vec<usize>,
    org_count: Vec<usize>,
    region_count: Vec<usize>,
    distinct: usize,
    best: Option<(i64, Vec<usize>)>,
    nodes: u64,
    max_nodes: u64,
    stopped: bool,
    open_bound: Option<i64>,
    s_sector: Vec<usize>,
    s_org: Vec<usize>,
    s_cat: Vec<usize>,
    s_region: Vec<i64>,
}

impl<'a> Search<'a> {
    fn new(p: &'a Problem, max_nodes: u64) -> Search<'a> {
        let free: Vec<usize> = (0..p.items.len())
            .filter(|i| !p.excluded[*i] && !p.pinned.contains(i))
            .collect();
        let mut prefix = Vec::with_capacity(free.len() + 1);
        prefix.push(0);
        let mut acc = 0;
        for &i in &free {
            acc += p.items[i].w;
            prefix.push(acc);
        }
        let mut s = Search {
            p,
            free,
            prefix,
            chosen: Vec::new(),
            slots: p.k.saturating_sub(p.pinned.len()),
            cur: 0,
            cat_count: vec![0; p.cat_min.len()],
            sector_count: vec![0; p.n_sectors],
            org_count: vec![0; p.n_orgs],
            region_count: vec![0; p.n_regions],
            distinct: 0,
            best: None,
            nodes: 0,
            max_nodes,
            stopped: false,
            open_bound: None,
            s_sector: vec![0; p.n_sectors],
            s_org: vec![0; p.n_orgs],
            s_cat: vec![0; p.cat_min.len()],
            s_region: vec![-1; p.n_regions],
        };
        for &i in &p.pinned {
            s.add(i);
        }
        s
    }

    fn add(&mut self, item: usize) {
        let it = self.p.items[item];
        self.cur += it.w;
        if let Some(c) = it.cat {
            self.cat_count[c] += 1;
        }
        self.sector_count[it.sector] += 1;
        self.org_count[it.org] += 1;
        if let Some(r) = it.region {
            if self.region_count[r] == 0 {
                self.distinct += 1;
            }
            self.region_count[r] += 1;
        }
    }

    fn remove(&mut self, item: usize) {
        let it = self.p.items[item];
        self.cur -= it.w;
        if let Some(c) = it.cat {
            self.cat_count[c] -= 1;
        }
        self.sector_count[it.sector] -= 1;
        self.org_count[it.org] -= 1;
        if let Some(r) = it.region {
            self.region_count[r] -= 1;
            if self.region_count[r] == 0 {
                self.distinct -= 1;
            }
        }
    }

    fn deficit(&self) -> usize {
        self.cat_count
            .iter()
            .zip(&self.p.cat_min)
            .map(|(&have, &min)| min.saturating_sub(have))
            .sum()
    }

    fn regions_needed(&self) -> usize {
        self.p.min_regions.saturating_sub(self.distinct)
    }

    fn left(&self) -> usize {
        self.slots - self.chosen.len()
    }

    /// An upper bound on the best total reachable by adding `left()` items from
    /// `free[start..]` to the current set, or `None` when no such completion satisfies the
    /// rules. The bound is the smallest of four relaxations, each solved exactly by a greedy
    /// pass over the items in weight order:
    /// - sector caps only (a partition matroid, where greedy is optimal);
    /// - organisation caps only (likewise);
    /// - category minimums only: the best d_c of each short category, then the best of the
    ///   rest (an exchange argument shows no completion does better);
    /// - region minimum only: the q regions still needed each contribute at most their best
    ///   item, the other slots at most the best items overall.
    fn bound(&mut self, start: usize) -> Option<i64> {
        let p = self.p;
        let r = self.left();
        let d_total = self.deficit();
        let q = self.regions_needed();
        if d_total > r || q > r {
            return None;
        }
        if r == 0 {
            return Some(self.cur);
        }
        self.s_sector.copy_from_slice(&self.sector_count);
        self.s_org.copy_from_slice(&self.org_count);
        for ((s, &have), &min) in self.s_cat.iter_mut().zip(&self.cat_count).zip(&p.cat_min) {
            *s = min.saturating_sub(have);
        }
        let (mut b_sector, mut n_sector) = (0i64, 0usize);
        let (mut b_org, mut n_org) = (0i64, 0usize);
        let (mut forced, mut rest, mut n_rest) = (0i64, 0i64, 0usize);
        let rest_slots = r - d_total;
        let mut new_regions = 0usize;
        for &i in &self.free[start..] {
            let it = p.items[i];
            if n_sector < r && p.sector_max.is_none_or(|m| self.s_sector[it.sector] < m) {
                self.s_sector[it.sector] += 1;
                b_sector += it.w;
                n_sector += 1;
            }
            if n_org < r && p.org_max.is_none_or(|m| self.s_org[it.org] < m) {
                self.s_org[it.org] += 1;
                b_org += it.w;
                n_org += 1;
            }
            match it.cat {
                Some(c) if self.s_cat[c] > 0 => {
                    self.s_cat[c] -= 1;
                    forced += it.w;
                }
                _ => {
                    if n_rest < rest_slots {
                        rest += it.w;
                        n_rest += 1;
                    }
                }
            }
            if q > 0
                && let Some(g) = it.region
                && self.region_count[g] == 0
                && self.s_region[g] < 0
            {
                // Items come in weight order, so the first seen is the region's best.
                self.s_region[g] = it.w;
                new_regions += 1;
            }
        }
        let mut region_bests: Vec<i64> = Vec::new();
        if q > 0 {
            for v in self.s_region.iter_mut() {
                if *v >= 0 {
                    region_bests.push(*v);
                }
                *v = -1;
            }
        }
        if n_sector < r || n_org < r || n_rest < rest_slots || self.s_cat.iter().any(|&d| d > 0) {
            return None;
        }
        if new_regions < q {
            return None;
        }
        let mut b = b_sector.min(b_org).min(forced + rest);
        if q > 0 {
            region_bests.sort_unstable_by(|a, b| b.cmp(a));
            let regional: i64 = region_bests.iter().take(q).sum();
            let others = self.prefix[start + (r - q)] - self.prefix[start];
            b = b.min(regional + others);
        }
        Some(self.cur + b)
    }

    fn beats_best(&self, v: i64) -> bool {
        self.best.as_ref().is_none_or(|(b, _)| v > *b)
    }

    fn stop_at(&mut self, start: usize) {
        self.stopped = true;
        if let Some(b) = self.bound(start) {
            self.open_bound = Some(self.open_bound.map_or(b, |o| o.max(b)));
        }
    }

    /// Adds one more item from `free[start..]`, in rank order, so the first selection found
    /// with a given total is the lexicographically smallest; a subtree is entered only when its
    /// bound is strictly above the incumbent, which keeps that first one.
    fn dfs(&mut self, start: usize) {
        let r = self.left();
        if r == 0 {
            if self.beats_best(self.cur) {
                self.best = Some((self.cur, self.chosen.clone()));
            }
            return;
        }
        let n = self.free.len();
        let d_total = self.deficit();
        let q = self.regions_needed();
        for j in start..n {
            if j + r > n {
                break;
            }
            if let Some((b, _)) = &self.best
                && self.cur + self.prefix[j + r] - self.prefix[j] <= *b
            {
                // Later items weigh no more, so no later child can do better either.
                break;
            }
            let it = self.p.items[self.free[j]];
            let capped = self
                .p
                .sector_max
                .is_some_and(|m| self.sector_count[it.sector] >= m)
                || self.p.org_max.is_some_and(|m| self.org_count[it.org] >= m);
            let wasted_on_category = d_total == r
                && it
                    .cat
                    .is_none_or(|c| self.cat_count[c] >= self.p.cat_min[c]);
            let wasted_on_region = q == r && it.region.is_none_or(|g| self.region_count[g] > 0);
            if capped || wasted_on_category || wasted_on_region {
                continue;
            }
            if self.nodes >= self.max_nodes {
                self.stop_at(j);
                return;
            }
            self.nodes += 1;
            let item = self.free[j];
            self.add(item);
            self.chosen.push(j);
            if let Some(b) = self.bound(j + 1)
                && self.beats_best(b)
            {
                self.dfs(j + 1);
            }
            self.chosen.pop();
            self.remove(item);
            if self.stopped {
                self.stop_at(j + 1);
                return;
            }
        }
    }
}

fn solve(p: &Problem, max_nodes: u64) -> Result<Solution, Failure> {
    let mut s = Search::new(p, max_nodes);
    // Children never exceed a cap, but the pinned cases are placed without asking.
    let over =
        |counts: &[usize], cap: Option<usize>| cap.is_some_and(|m| counts.iter().any(|&c| c > m));
    let pinned_fit = !over(&s.sector_count, p.sector_max) && !over(&s.org_count, p.org_max);
    if pinned_fit && s.bound(0).is_some() {
        s.dfs(0);
    }
    let nodes = s.nodes;
    let Some((total, chosen)) = s.best.take() else {
        return Err(if s.stopped {
            Failure::Budget
        } else {
            Failure::Infeasible
        });
    };
    let mut set: Vec<usize> = chosen.iter().map(|&j| s.free[j]).collect();
    set.extend(&p.pinned);
    set.sort_unstable();
    let optimality = match s.open_bound {
        Some(b) if s.stopped && b > total => Optimality::Budget {
            bound_milli: b,
            gap_milli: b - total,
        },
        _ => Optimality::Proven,
    };
    Ok(Solution {
        set,
        total,
        optimality,
        nodes,
    })
}

// ---------------------------------------------------------------------------------------------
// From candidates to a problem, and back to explanations
// ---------------------------------------------------------------------------------------------

struct Built<'a> {
    /// Candidates in rank order; item i of the problem is order[i].
    order: Vec<&'a Candidate>,
    problem: Problem,
    cats: Vec<Code>,
    sectors: Vec<Code>,
    orgs: Vec<OrgId>,
    regions: Vec<Code>,
}

fn dense<T: Ord + Clone>(ids: &mut Vec<T>, index: &mut BTreeMap<T, usize>, v: &T) -> usize {
    if let Some(&i) = index.get(v) {
        return i;
    }
    ids.push(v.clone());
    index.insert(v.clone(), ids.len() - 1);
    ids.len() - 1
}

fn build<'a>(candidates: &'a [Candidate], rules: &Rules) -> Result<Built<'a>, SelectionError> {
    let mut order: Vec<&Candidate> = candidates.iter().collect();
    order.sort_by(|a, b| {
        b.total_milli
            .cmp(&a.total_milli)
            .then(a.report_id.cmp(&b.report_id))
    });
    let cats: Vec<Code> = rules.min_per_category.keys().cloned().collect();
    let cat_min: Vec<usize> = rules.min_per_category.values().copied().collect();
    let (mut sectors, mut sector_ix) = (Vec::new(), BTreeMap::new());
    let (mut orgs, mut org_ix) = (Vec::new(), BTreeMap::new());
    let (mut regions, mut region_ix) = (Vec::new(), BTreeMap::new());
    let items: Vec<Item> = order
        .iter()
        .map(|c| Item {
            w: c.total_milli.max(0),
            cat: c
                .category
                .as_ref()
                .and_then(|k| cats.iter().position(|x| x == k)),
            sector: dense(&mut sectors, &mut sector_ix, &c.sector),
            org: dense(&mut orgs, &mut org_ix, &c.org_id),
            region: c
                .region
                .as_ref()
                .map(|g| dense(&mut regions, &mut region_ix, g)),
        })
        .collect();
    let position: HashMap<ReportId, usize> = order
        .iter()
        .enumerate()
        .map(|(i, c)| (c.report_id, i))
        .collect();
    let mut pinned = Vec::new();
    for id in &rules.pinned {
        match position.get(id) {
            Some(&i) => pinned.push(i),
            None => {
                return Err(SelectionError::Infeasible {
                    rule: RuleRef::Pinned { report_id: *id },
                    conflicts_with: Vec::new(),
                    message: format!(
                        "必ず含めるとした報告{id}が候補にありません（調査期間外か存在しません）"
                    ),
                });
            }
        }
    }
    pinned.sort_unstable();
    let excluded = order
        .iter()
        .map(|c| rules.excluded.contains(&c.report_id))
        .collect();
    let n_sectors = sectors.len();
    let n_orgs = orgs.len();
    let n_regions = regions.len();
    Ok(Built {
        order,
        problem: Problem {
            items,
            k: rules.count,
            cat_min,
            sector_max: rules.max_per_sector,
            org_max: rules.max_per_org,
            min_regions: rules.min_regions.unwrap_or(0),
            pinned,
            excluded,
            n_sectors,
            n_orgs,
            n_regions,
        },
        cats,
        sectors,
        orgs,
        regions,
    })
}

impl Built<'_> {
    fn rule_of(&self, b: &Broken, rules: &Rules) -> RuleRef {
        match *b {
            Broken::Cat { cat, .. } => RuleRef::MinPerCategory {
                category: self.cats[cat].clone(),
                min: self.problem.cat_min[cat],
            },
            Broken::Sector { .. } => RuleRef::MaxPerSector {
                max: rules.max_per_sector.unwrap_or(0),
            },
            Broken::Org { .. } => RuleRef::MaxPerOrg {
                max: rules.max_per_org.unwrap_or(0),
            },
            Broken::Regions { .. } => RuleRef::MinRegions {
                min: self.problem.min_regions,
            },
            Broken::Pinned { item } => RuleRef::Pinned {
                report_id: self.order[item].report_id,
            },
            Broken::Excluded { item } => RuleRef::Excluded {
                report_id: self.order[item].report_id,
            },
        }
    }

    fn violation(&self, b: &Broken, rules: &Rules, tx: &Taxonomy) -> Violation {
        let en =
            |code: &Code, vocab: Vocabulary| tx.label(vocab, code.as_str(), Lang::En).to_owned();
        let detail_en = match *b {
            Broken::Cat { cat, have } => format!(
                "‘{}’ would have {have}",
                en(&self.cats[cat], Vocabulary::CaseCategory)
            ),
            Broken::Sector { sector, have } => format!(
                "sector ‘{}’ would have {have}",
                en(&self.sectors[sector], Vocabulary::Sector)
            ),
            Broken::Org { org, have } => {
                format!("organisation {} would have {have} cases", self.orgs[org])
            }
            Broken::Regions { have } => format!("only {have} regions would be left"),
            Broken::Pinned { item } => {
                format!(
                    "the chosen report {} would drop out",
                    self.order[item].report_id
                )
            }
            Broken::Excluded { item } => {
                format!(
                    "the excluded report {} would come in",
                    self.order[item].report_id
                )
            }
        };
        let detail = match *b {
            Broken::Cat { cat, have } => format!(
                "「{}」が{have}件になる",
                tx.label(Vocabulary::CaseCategory, self.cats[cat].as_str(), Lang::Ja)
            ),
            Broken::Sector { sector, have } => format!(
                "分野「{}」が{have}件になる",
                tx.label(Vocabulary::Sector, self.sectors[sector].as_str(), Lang::Ja)
            ),
            Broken::Org { org, have } => {
                format!("組織{}の事例が{have}件になる", self.orgs[org])
            }
            Broken::Regions { have } => format!("地域が{have}つになる"),
            Broken::Pinned { item } => {
                format!("指定された報告{}が外れる", self.order[item].report_id)
            }
            Broken::Excluded { item } => {
                format!("除外された報告{}が入る", self.order[item].report_id)
            }
        };
        Violation {
            rule: self.rule_of(b, rules),
            detail,
            detail_en,
        }
    }

    fn region_label<'t>(&self, g: usize, tx: &'t Taxonomy, lang: Lang) -> &'t str {
        let code = self.regions[g].as_str();
        tx.term(Vocabulary::Region, code)
            .map_or("?", |t| t.label(lang))
    }
}

/// Picks `rules.count()` candidates maximising the sum of their totals subject to the rules,
/// and explains the choice.
///
/// The search is exact: a depth-first branch and bound over the ranking that adds one case at
/// a time in rank order, skips a case that would break a cap or waste a slot a minimum still
/// needs, and cuts a subtree when an upper bound (the tightest of four greedy relaxations:
/// sector caps, organisation caps, category minimums, region minimum) cannot beat the best
/// selection found so far. If `opts.max_nodes` runs out first, the best selection found is
/// returned with [`Optimality::Budget`], whose bound covers every unexplored subtree.
///
/// Infeasible rules give [`SelectionError::Infeasible`] naming the rule: a count the candidates
/// cannot meet on their own, or else the first rule whose removal makes a selection possible,
/// with the rules it conflicts with.
pub fn select(
    candidates: &[Candidate],
    criteria: &[Criterion],
    rules: &Rules,
    opts: &SolveOptions,
    tx: &Taxonomy,
) -> Result<Selection, SelectionError> {
    let built = build(candidates, rules)?;
    let p = &built.problem;
    let solution = match solve(p, opts.max_nodes) {
        Ok(s) => s,
        Err(Failure::Infeasible) => return Err(diagnose(&built, rules, opts, tx)),
        Err(Failure::Budget) => {
            return Err(SelectionError::Budget {
                max_nodes: opts.max_nodes,
                message: format!(
                    "探索上限（{}ノード）までにルールを満たす組合せが見つかりませんでした。上限を上げるかルールを緩めてください",
                    opts.max_nodes
                ),
            });
        }
    };
    let chosen = solution
        .set
        .iter()
        .map(|&i| explain_chosen(&built, &solution.set, i, criteria, rules, tx))
        .collect();
    let left_out = (0..p.items.len())
        .filter(|i| !solution.set.contains(i))
        .take(opts.explain_left_out)
        .map(|i| explain_left_out(&built, &solution, i, rules, tx))
        .collect();
    Ok(Selection {
        rules: rules.clone(),
        chosen,
        left_out,
        total_milli: solution.total,
        optimality: solution.optimality,
        nodes: solution.nodes,
    })
}

/// Finds which rule makes the problem infeasible: first the counts the candidates cannot meet
/// by themselves, then the first rule (in [`Rules::refs`] order) whose removal lets a selection
/// through, naming the others that clash with it.
fn diagnose(b: &Built<'_>, rules: &Rules, opts: &SolveOptions, tx: &Taxonomy) -> SelectionError {
    let p = &b.problem;
    let usable: Vec<usize> = (0..p.items.len()).filter(|&i| !p.excluded[i]).collect();
    let alone = |rule: RuleRef, message: String| SelectionError::Infeasible {
        rule,
        conflicts_with: Vec::new(),
        message,
    };
    if usable.len() < p.k {
        return alone(
            RuleRef::Count { count: p.k },
            format!("候補が{}件しかなく、{}件を選べません", usable.len(), p.k),
        );
    }
    for (c, &min) in p.cat_min.iter().enumerate() {
        let have = usable
            .iter()
            .filter(|&&i| p.items[i].cat == Some(c))
            .count();
        if have < min {
            let rule = RuleRef::MinPerCategory {
                category: b.cats[c].clone(),
                min,
            };
            let label = rule.quoted_ja(tx);
            return alone(
                rule,
                format!("{label}を満たせません: 該当する候補が{have}件しかありません"),
            );
        }
    }
    if p.min_regions > 0 {
        let have: BTreeSet<usize> = usable.iter().filter_map(|&i| p.items[i].region).collect();
        if have.len() < p.min_regions {
            return alone(
                RuleRef::MinRegions { min: p.min_regions },
                format!(
                    "「{}地域以上」を満たせません: 候補の地域は{}つです",
                    p.min_regions,
                    have.len()
                ),
            );
        }
    }
    let capacity = |max: usize, group: &dyn Fn(usize) -> usize, n: usize| {
        let mut count = vec![0usize; n];
        for &i in &usable {
            count[group(i)] += 1;
        }
        count.iter().map(|&c| c.min(max)).sum::<usize>()
    };
    if let Some(max) = p.sector_max {
        let cap = capacity(max, &|i| p.items[i].sector, p.n_sectors);
        if cap < p.k {
            return alone(
                RuleRef::MaxPerSector { max },
                format!(
                    "「1分野あたり{max}件まで」では最大{cap}件しか選べず、{}件に届きません",
                    p.k
                ),
            );
        }
    }
    if let Some(max) = p.org_max {
        let cap = capacity(max, &|i| p.items[i].org, p.n_orgs);
        if cap < p.k {
            return alone(
                RuleRef::MaxPerOrg { max },
                format!(
                    "「1組織あたり{max}件まで」では最大{cap}件しか選べず、{}件に届きません",
                    p.k
                ),
            );
        }
    }
    let refs: Vec<RuleRef> = rules
        .refs()
        .into_iter()
        .filter(|r| !matches!(r, RuleRef::Count { .. } | RuleRef::Excluded { .. }))
        .collect();
    let without = |r: &RuleRef| -> Problem {
        let mut q = p.clone();
        match r {
            RuleRef::MinPerCategory { category, .. } => {
                if let Some(c) = b.cats.iter().position(|x| x == category) {
                    q.cat_min[c] = 0;
                }
            }
            RuleRef::MaxPerSector { .. } => q.sector_max = None,
            RuleRef::MinRegions { .. } => q.min_regions = 0,
            RuleRef::MaxPerOrg { .. } => q.org_max = None,
            RuleRef::Pinned { report_id } => {
                q.pinned.retain(|&i| b.order[i].report_id != *report_id);
            }
            RuleRef::Count { .. } | RuleRef::Excluded { .. } => {}
        }
        q
    };
    let relieving: Vec<&RuleRef> = refs
        .iter()
        .filter(|r| solve(&without(r), opts.max_nodes).is_ok())
        .collect();
    match relieving.split_first() {
        Some((first, others)) => {
            let rule = (*first).clone();
            let others: Vec<RuleRef> = others.iter().map(|r| (*r).clone()).collect();
            let names: Vec<String> = others.iter().map(|r| r.quoted_ja(tx)).collect();
            let message = if names.is_empty() {
                format!(
                    "{}を他のルールと同時に満たす組合せがありません。このルールを緩めてください",
                    rule.quoted_ja(tx)
                )
            } else {
                format!(
                    "{}を他のルールと同時に満たす組合せがありません（{}のどれかを緩めても解決します）",
                    rule.quoted_ja(tx),
                    names.join("・")
                )
            };
            SelectionError::Infeasible {
                rule,
                conflicts_with: others,
                message,
            }
        }
        None => {
            let rule = refs
                .first()
                .cloned()
                .unwrap_or(RuleRef::Count { count: p.k });
            let names: Vec<String> = refs.iter().map(|r| r.quoted_ja(tx)).collect();
            SelectionError::Infeasible {
                conflicts_with: refs.iter().skip(1).cloned().collect(),
                message: format!(
                    "ルール{}を同時に満たす組合せがありません。1つ緩めるだけでは足りません",
                    names.join("・")
                ),
                rule,
            }
        }
    }
}

fn explain_chosen(
    b: &Built<'_>,
    set: &[usize],
    i: usize,
    criteria: &[Criterion],
    rules: &Rules,
    tx: &Taxonomy,
) -> ChosenCase {
    let p = &b.problem;
    let cand = b.order[i];
    let it = p.items[i];
    let mut strong: Vec<(usize, &CriterionScore)> = cand
        .scores
        .iter()
        .enumerate()
        .filter(|(_, s)| s.value.is_some_and(|v| v.get() > 0) && s.weighted_milli > 0)
        .collect();
    strong.sort_by(|(ia, a), (ib, b)| b.weighted_milli.cmp(&a.weighted_milli).then(ia.cmp(ib)));
    let mut picked: Vec<(usize, &CriterionScore)> = strong
        .iter()
        .filter(|(_, s)| s.value.is_some_and(|v| v.get() >= 2))
        .take(3)
        .copied()
        .collect();
    if picked.is_empty() {
        picked = strong.into_iter().take(1).collect();
    }
    let strongest: Vec<Strength> = picked
        .iter()
        .map(|(ci, s)| Strength {
            key: s.key.clone(),
            label: criteria
                .get(*ci)
                .map_or_else(|| s.key.clone(), |c| short_label(c).to_owned()),
            label_en: criteria
                .get(*ci)
                .map_or_else(|| s.key.clone(), |c| short_label_in(c, Lang::En).to_owned()),
            points: s.value.unwrap_or(Points::ZERO),
            weighted_milli: s.weighted_milli,
        })
        .collect();
    let mut helps = Vec::new();
    if let Some(c) = it.cat {
        let in_cat = set.iter().filter(|&&j| p.items[j].cat == Some(c)).count();
        let rule = RuleRef::MinPerCategory {
            category: b.cats[c].clone(),
            min: p.cat_min[c],
        };
        let needed = in_cat <= p.cat_min[c];
        let (detail, detail_en) = if needed {
            (
                format!("{}に必要", rule.quoted_ja(tx)),
                format!("needed for {}", rule.quoted(tx, Lang::En)),
            )
        } else {
            (
                format!("{}に数える", rule.quoted_ja(tx)),
                format!("counts towards {}", rule.quoted(tx, Lang::En)),
            )
        };
        helps.push(RuleHelp {
            rule,
            needed,
            detail,
            detail_en,
        });
    }
    if p.min_regions > 0
        && let Some(g) = it.region
    {
        let same = set
            .iter()
            .filter(|&&j| p.items[j].region == Some(g))
            .count();
        if same == 1 {
            let distinct: BTreeSet<usize> = set.iter().filter_map(|&j| p.items[j].region).collect();
            let needed = distinct.len() <= p.min_regions;
            let rule = RuleRef::MinRegions { min: p.min_regions };
            let (ja, en) = (
                b.region_label(g, tx, Lang::Ja),
                b.region_label(g, tx, Lang::En),
            );
            let (detail, detail_en) = if needed {
                (
                    format!("地域「{ja}」: {}に必要", rule.quoted_ja(tx)),
                    format!("region ‘{en}’: needed for {}", rule.quoted(tx, Lang::En)),
                )
            } else {
                (
                    format!("地域「{ja}」を加える"),
                    format!("adds region ‘{en}’"),
                )
            };
            helps.push(RuleHelp {
                rule,
                needed,
                detail,
                detail_en,
            });
        }
    }
    if rules.pinned.contains(&cand.report_id) {
        let rule = RuleRef::Pinned {
            report_id: cand.report_id,
        };
        helps.push(RuleHelp {
            detail: "分析者が指定".into(),
            detail_en: "chosen by the analyst".into(),
            rule,
            needed: true,
        });
    }
    let why = chosen_why(cand, &strongest, &helps, Lang::Ja);
    let why_en = chosen_why(cand, &strongest, &helps, Lang::En);
    ChosenCase {
        report_id: cand.report_id,
        rank: cand.rank,
        total_milli: cand.total_milli,
        strongest,
        helps,
        why,
        why_en,
    }
}

/// Why a case is chosen, in `lang`: its total and rank, the criteria it scores best on, and
/// the rules it is needed for or counts towards.
fn chosen_why(cand: &Candidate, strongest: &[Strength], helps: &[RuleHelp], lang: Lang) -> String {
    let (ja, total) = (lang == Lang::Ja, format_total(cand.total_milli));
    let mut why = if ja {
        format!("合計{total}点（{}位）。", cand.rank)
    } else {
        format!("Total {total} points (rank {}).", cand.rank)
    };
    if strongest.is_empty() {
        why.push_str(if ja {
            "点数の付いた基準なし。"
        } else {
            " No criterion scored."
        });
    } else {
        let parts: Vec<String> = strongest
            .iter()
            .map(|s| match lang {
                Lang::Ja => format!("{}{}", s.label, s.points),
                Lang::En => format!("{} {}", s.label_en, s.points),
            })
            .collect();
        why.push_str(&if ja {
            format!("主な理由: {}。", parts.join("・"))
        } else {
            format!(" Main reasons: {}.", parts.join(", "))
        });
    }
    for h in helps {
        if ja {
            why.push_str(&h.detail);
            why.push('。');
        } else {
            // A sentence of its own: its first letter capitalised.
            let mut d = h.detail_en.clone();
            if let Some(first) = d.get(..1) {
                d.replace_range(..1, &first.to_uppercase());
            }
            why.push_str(&format!(" {d}."));
        }
    }
    why
}

fn explain_left_out(
    b: &Built<'_>,
    sol: &Solution,
    x: usize,
    rules: &Rules,
    tx: &Taxonomy,
) -> LeftOutCase {
    let p = &b.problem;
    let cand = b.order[x];
    let w = p.items[x].w;
    let swap = |y: usize| -> Vec<Broken> {
        let mut set: Vec<usize> = sol.set.iter().copied().filter(|&i| i != y).collect();
        set.push(x);
        set.sort_unstable();
        p.violations(&set)
    };
    let to_violations = |broken: Vec<Broken>| -> Vec<Violation> {
        let mut v: Vec<Violation> = broken.iter().map(|k| b.violation(k, rules, tx)).collect();
        v.sort();
        v.dedup();
        v
    };
    let reason = if p.excluded[x] {
        LeftOutReason::Excluded
    } else {
        let swappable: Vec<usize> = sol
            .set
            .iter()
            .copied()
            .filter(|y| !p.pinned.contains(y))
            .collect();
        let at = |pred: &dyn Fn(i64) -> bool| -> Vec<usize> {
            swappable
                .iter()
                .copied()
                .filter(|&y| pred(p.items[y].w))
                .collect()
        };
        let lower = at(&|v| v < w);
        let equal = at(&|v| v == w);
        let ids =
            |v: &[usize]| -> Vec<ReportId> { v.iter().map(|&y| b.order[y].report_id).collect() };
        if swappable.is_empty() {
            // Every chosen case is pinned: taking any out breaks the analyst's choice.
            let last = sol.set.last().copied();
            LeftOutReason::Rules {
                replaceable: Vec::new(),
                violations: to_violations(last.map(swap).unwrap_or_default()),
            }
        } else if let Some(&y) = lower.iter().find(|&&y| swap(y).is_empty()) {
            LeftOutReason::NotReached {
                better_than: b.order[y].report_id,
            }
        } else if let Some(&y) = equal.iter().find(|&&y| swap(y).is_empty()) {
            LeftOutReason::Tie {
                than: b.order[y].report_id,
            }
        } else if !lower.is_empty() || !equal.is_empty() {
            let mut replaceable = lower;
            replaceable.extend(equal);
            replaceable.sort_unstable();
            let all: Vec<Broken> = replaceable.iter().flat_map(|&y| swap(y)).collect();
            LeftOutReason::Rules {
                replaceable: ids(&replaceable),
                violations: to_violations(all),
            }
        } else {
            // The one it would replace: the lowest-ranked chosen case it may swap with.
            let y = swappable.last().copied().unwrap_or(x);
            LeftOutReason::LowerTotal {
                than: b.order[y].report_id,
                than_total_milli: b.order[y].total_milli,
                also: to_violations(swap(y)),
            }
        }
    };
    let why = left_out_why(b, cand.total_milli, &reason, tx, Lang::Ja);
    let why_en = left_out_why(b, cand.total_milli, &reason, tx, Lang::En);
    LeftOutCase {
        report_id: cand.report_id,
        rank: cand.rank,
        total_milli: cand.total_milli,
        reason,
        why,
        why_en,
    }
}

/// Why a candidate is left out, in `lang`.
fn left_out_why(
    b: &Built<'_>,
    total_milli: i64,
    reason: &LeftOutReason,
    tx: &Taxonomy,
    lang: Lang,
) -> String {
    let ja = lang == Lang::Ja;
    let total = format_total(total_milli);
    let rules = |vs: &[Violation], with_detail: bool| -> String {
        let parts: Vec<String> = vs
            .iter()
            .map(|v| {
                let q = v.rule.quoted(tx, lang);
                let d = lang.pick(&v.detail, &v.detail_en);
                match (with_detail, ja) {
                    (false, _) => q,
                    (true, true) => format!("{q}（{d}）"),
                    (true, false) => format!("{q} ({d})"),
                }
            })
            .collect();
        parts.join(if ja { "・" } else { ", " })
    };
    let report = |r: &ReportId| {
        if ja {
            format!("報告{r}")
        } else {
            format!("report {r}")
        }
    };
    match reason {
        LeftOutReason::Excluded if ja => format!("合計{total}点。分析者が除外した。"),
        LeftOutReason::Excluded => format!("Total {total} points. Left out by the analyst."),
        LeftOutReason::Rules {
            replaceable,
            violations,
        } => {
            let ids: Vec<String> = replaceable.iter().map(report).collect();
            let totals: Vec<i64> = replaceable
                .iter()
                .filter_map(|r| b.order.iter().find(|c| c.report_id == *r))
                .map(|c| c.total_milli)
                .collect();
            let relation = if totals.iter().all(|&t| t == total_milli) {
                ["と同点", "the same as"]
            } else if totals.iter().all(|&t| t < total_milli) {
                ["より高い", "more than"]
            } else {
                ["以上", "at least as many as"]
            };
            let broken = rules(violations, true);
            match (ids.is_empty(), ja) {
                (true, true) => format!("合計{total}点。どの事例と入れ替えても{broken}に反する。"),
                (true, false) => format!(
                    "Total {total} points. Swapping it for any chosen case breaks {broken}."
                ),
                (false, true) => format!(
                    "合計{total}点で{}{}だが、どれと入れ替えても{broken}に反する。",
                    ids.join("・"),
                    relation[0]
                ),
                (false, false) => format!(
                    "Total {total} points, {} {}, but swapping it for any of them breaks {broken}.",
                    relation[1],
                    ids.join(", ")
                ),
            }
        }
        LeftOutReason::LowerTotal {
            than,
            than_total_milli,
            also,
        } => {
            let than_total = format_total(*than_total_milli);
            let mut s = if ja {
                format!("合計{total}点で、入れ替え候補の報告{than}（{than_total}点）より低い。")
            } else {
                format!(
                    "Total {total} points, fewer than report {than} ({than_total} points), the case it would replace."
                )
            };
            if !also.is_empty() {
                let broken = rules(also, false);
                s.push_str(&if ja {
                    format!("入れ替えると{broken}にも反する。")
                } else {
                    format!(" The swap would also break {broken}.")
                });
            }
            s
        }
        LeftOutReason::Tie { than } if ja => {
            format!("合計{total}点で報告{than}と同点。同点は報告IDの小さい方を優先した。")
        }
        LeftOutReason::Tie { than } => format!(
            "Total {total} points, tied with report {than}; a tie goes to the lower report id."
        ),
        LeftOutReason::NotReached { better_than } if ja => format!(
            "合計{total}点。探索上限のため、報告{better_than}との入れ替えを確かめきれていない。"
        ),
        LeftOutReason::NotReached { better_than } => format!(
            "Total {total} points. The search stopped at its limit before it could check a swap with report {better_than}."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taxonomy::{RawTaxonomy, Term, Tlp};
    use proptest::prelude::*;

    fn term(code: &str, group: Option<&str>) -> Term {
        Term {
            code: code.into(),
            ja: format!("{code}ja"),
            en: code.into(),
            group: group.map(Into::into),
            description: String::new(),
            maps: Default::default(),
        }
    }

    fn tx() -> Taxonomy {
        let causes = [
            "suspicious-mail",
            "impersonation",
            "ddos",
            "unauthorised-acquisition",
            "insider",
            "operation-not-done",
            "user-error",
            "user-mismanagement",
            "suspicious-file",
            "suspicious-site",
            "contractor-mismanagement",
            "equipment-failure",
            "vulnerability",
            "spillover",
            "disaster",
            "unknown",
        ];
        let cat = |c: &str, ja: &str| {
            let mut t = term(c, None);
            t.ja = ja.into();
            t
        };
        Taxonomy::parse(RawTaxonomy {
            sectors: ["finance", "railway", "medical", "water"]
                .map(|s| term(s, None))
                .to_vec(),
            regions: ["kanto", "kinki", "tohoku"].map(|s| term(s, None)).to_vec(),
            event_types: [
                "precursor",
                "leak",
                "destruction",
                "unavailability",
                "malware",
                "code-execution",
                "intrusion",
                "other",
            ]
            .map(|s| term(s, None))
            .to_vec(),
            cause_groups: vec![term("g", None)],
            causes: causes.map(|c| term(c, Some("g"))).to_vec(),
            severities: ["0", "1", "2", "3", "4"].map(|c| term(c, None)).to_vec(),
            case_categories: vec![
                cat("system-failure", "システム故障"),
                cat("cyber-attack", "外部からのサイバー攻撃"),
                cat("internal-incident", "事業者内インシデント"),
            ],
            tlp: Tlp::ALL.map(|x| term(x.code(), None)).to_vec(),
        })
        .unwrap()
    }

    fn criterion(key: &str, weight: f64) -> Criterion {
        Criterion {
            key: key.into(),
            label: format!("{key}の基準"),
            label_en: key.into(),
            description: String::new(),
            main: true,
            weight,
        }
    }

    fn code(s: &str) -> Code {
        Code(s.into())
    }

    // ----- scores -----

    #[test]
    fn override_inputs_name_every_bad_field() {
        let criteria = vec![criterion("actual-harm", 1.0)];
        let errs = OverrideInput {
            report_id: 0,
            key: "nope".into(),
            value: 4,
            reason: " ".into(),
        }
        .parse(&criteria)
        .unwrap_err();
        for f in ["report_id", "key", "value", "reason"] {
            assert!(errs.for_field(f).is_some(), "{f} not named in {errs}");
        }
        let ok = OverrideInput {
            report_id: 3,
            key: "actual-harm".into(),
            value: 2,
            reason: "聞き取りで確認".into(),
        };
        let errs = parse_overrides(&[ok.clone(), ok.clone()], &criteria).unwrap_err();
        assert!(errs.for_field("overrides[1]").is_some(), "{errs}");
        let errs = parse_overrides(
            &[OverrideInput {
                value: -1,
                ..ok.clone()
            }],
            &criteria,
        )
        .unwrap_err();
        assert!(errs.for_field("overrides[0].value").is_some(), "{errs}");
        assert_eq!(parse_overrides(&[ok], &criteria).unwrap().len(), 1);
        assert!(Points::new(3).is_ok() && Points::new(4).is_err());
        assert_eq!(Points::capped(9).get(), 3);
        assert!(serde_json::from_str::<Points>("4").is_err());
    }

    fn input(id: i64, signals: &[(&str, Signal)]) -> CandidateInput {
        CandidateInput {
            report_id: ReportId(id),
            title: format!("報告{id}"),
            org_id: OrgId(id),
            sector: code("finance"),
            region: Some(code("kanto")),
            category: Some(code("system-failure")),
            category_evidence: String::new(),
            category_evidence_en: String::new(),
            signals: signals
                .iter()
                .map(|(k, s)| ((*k).to_owned(), s.clone()))
                .collect(),
        }
    }

    fn computed(v: u8) -> Signal {
        Signal::Computed {
            value: Points::new(v).unwrap(),
            evidence: format!("算出{v}"),
            evidence_en: format!("computed {v}"),
        }
    }

    #[test]
    fn totals_weigh_computed_and_analyst_scores_and_leave_the_rest_at_zero() {
        let criteria = vec![
            criterion("actual-harm", 1.0),
            criterion("severity", 1.0),
            criterion("lesson-usefulness", 1.0),
            criterion("response-quality", 0.5),
            criterion("region", 0.5),
        ];
        let inputs = vec![
            input(
                1,
                &[
                    ("actual-harm", computed(3)),
                    ("severity", computed(2)),
                    ("region", Signal::Balance),
                ],
            ),
            input(
                2,
                &[
                    ("actual-harm", computed(1)),
                    ("severity", computed(3)),
                    ("region", Signal::Balance),
                ],
            ),
        ];
        let overrides = vec![
            ScoreOverride {
                report_id: ReportId(2),
                key: "actual-harm".into(),
                value: Points::new(3).unwrap(),
                reason: "取引先に被害".into(),
            },
            ScoreOverride {
                report_id: ReportId(2),
                key: "response-quality".into(),
                value: Points::new(3).unwrap(),
                reason: "迅速な公表".into(),
            },
        ];
        let ranked = score_candidates(&criteria, inputs, &overrides).unwrap();
        // 2: 3 + 3 + 0 + 0.5×3 = 7.5; 1: 3 + 2 = 5.
        assert_eq!(
            ranked.iter().map(|c| c.report_id.0).collect::<Vec<_>>(),
            [2, 1]
        );
        assert_eq!(ranked[0].total_milli, 7500);
        assert_eq!(ranked[0].rank, 1);
        assert_eq!(format_total(ranked[0].total_milli), "7.5");
        let harm = ranked[0].score("actual-harm").unwrap();
        assert_eq!(harm.source, ScoreSource::Analyst);
        assert_eq!(harm.evidence, "取引先に被害");
        assert_eq!(
            harm.overridden.as_ref().map(|o| o.value.get()),
            Some(1),
            "the computed score is kept beside the override"
        );
        let lessons = ranked[1].score("lesson-usefulness").unwrap();
        assert_eq!((lessons.source, lessons.value), (ScoreSource::Unset, None));
        let region = ranked[1].score("region").unwrap();
        assert_eq!(region.source, ScoreSource::Balance);
        assert_eq!(ranked[1].total_milli, 5000);
    }

    #[test]
    fn scoring_refuses_bad_overrides_and_weights_by_field() {
        let mut criteria = vec![criterion("actual-harm", 1.0), criterion("region", 0.5)];
        let inputs = vec![input(1, &[("region", Signal::Balance)])];
        let o = |id: i64, key: &str| ScoreOverride {
            report_id: ReportId(id),
            key: key.into(),
            value: Points::new(1).unwrap(),
            reason: "r".into(),
        };
        let errs = score_candidates(
            &criteria,
            inputs.clone(),
            &[o(9, "actual-harm"), o(1, "region"), o(1, "nope")],
        )
        .unwrap_err();
        for f in [
            "overrides[0].report_id",
            "overrides[1].key",
            "overrides[2].key",
        ] {
            assert!(errs.for_field(f).is_some(), "{f} not named in {errs}");
        }
        criteria[0].weight = f64::NAN;
        let errs = score_candidates(&criteria, inputs.clone(), &[]).unwrap_err();
        assert!(errs.for_field("criteria[0].weight").is_some(), "{errs}");
        criteria[0].weight = 1.0;
        let errs = score_candidates(&criteria, [inputs.clone(), inputs].concat(), &[]).unwrap_err();
        assert!(
            errs.for_field("candidates[1].report_id").is_some(),
            "{errs}"
        );
    }

    // ----- categories -----

    #[test]
    fn the_standard_map_puts_the_2019_cases_in_their_published_categories() {
        let map = CategoryMap::standard().parse(&tx()).unwrap();
        let cases: [(&str, &[&str], &str); 7] = [
            ("other", &["vulnerability"], "system-failure"),
            (
                "unavailability",
                &["equipment-failure", "vulnerability", "operation-not-done"],
                "system-failure",
            ),
            (
                "unavailability",
                &["vulnerability", "contractor-mismanagement"],
                "system-failure",
            ),
            ("unavailability", &["vulnerability"], "system-failure"),
            (
                "malware",
                &["suspicious-mail", "suspicious-file"],
                "cyber-attack",
            ),
            ("intrusion", &["vulnerability"], "cyber-attack"),
            (
                "intrusion",
                &["impersonation", "operation-not-done"],
                "cyber-attack",
            ),
        ];
        for (i, (event, causes, want)) in cases.iter().enumerate() {
            let causes: Vec<Code> = causes.iter().map(|c| code(c)).collect();
            let got = map.classify(&code(event), &causes).unwrap();
            assert_eq!(got.category.as_str(), *want, "case {}", i + 1);
        }
        let leak = map.classify(&code("leak"), &[code("user-error")]).unwrap();
        assert_eq!(leak.category.as_str(), "internal-incident");
        assert_eq!(leak.matched, Matched::EventType(code("leak")));
        let by_cause = map
            .classify(&code("unavailability"), &[code("ddos")])
            .unwrap();
        assert_eq!(by_cause.category.as_str(), "cyber-attack");
        assert_eq!(by_cause.evidence(&tx(), Lang::Ja), "原因「ddosja」から分類");
        assert!(map.classify(&code("nothing"), &[code("unknown")]).is_none());
    }

    #[test]
    fn a_category_map_names_its_bad_codes() {
        let map = CategoryMap {
            rules: vec![
                CategoryRule {
                    category: code("alien-attack"),
                    event_types: vec![code("malware"), code("laser")],
                    causes: vec![code("ufo")],
                },
                CategoryRule {
                    category: code("cyber-attack"),
                    event_types: vec![],
                    causes: vec![],
                },
            ],
        };
        let errs = map.parse(&tx()).unwrap_err();
        for f in [
            "rules[0].category",
            "rules[0].event_types[1]",
            "rules[0].causes[0]",
            "rules[1]",
        ] {
            assert!(errs.for_field(f).is_some(), "{f} not named in {errs}");
        }
        assert!(errs.for_field("rules[0].event_types[0]").is_none());
    }

    // ----- rules -----

    #[test]
    fn rules_name_every_bad_field() {
        let bad = RulesInput {
            count: 0,
            min_per_category: [("ufo".to_owned(), 1), ("cyber-attack".to_owned(), -1)].into(),
            max_per_sector: Some(0),
            min_regions: Some(-2),
            max_per_org: Some(0),
            pinned: vec![3, 3, -1],
            excluded: vec![3],
        };
        let errs = bad.parse(&tx()).unwrap_err();
        for f in [
            "count",
            "min_per_category.ufo",
            "min_per_category.cyber-attack",
            "max_per_sector",
            "min_regions",
            "max_per_org",
            "pinned[1]",
            "pinned[2]",
            "excluded[0]",
        ] {
            assert!(errs.for_field(f).is_some(), "{f} not named in {errs}");
        }
        let over = RulesInput {
            count: 3,
            min_per_category: [
                ("cyber-attack".to_owned(), 2),
                ("system-failure".to_owned(), 2),
            ]
            .into(),
            min_regions: Some(4),
            pinned: vec![1, 2, 3, 4],
            ..Default::default()
        };
        let errs = over.parse(&tx()).unwrap_err();
        for f in ["min_per_category", "min_regions", "pinned"] {
            assert!(errs.for_field(f).is_some(), "{f} not named in {errs}");
        }
        let ok = RulesInput {
            min_per_category: [("cyber-attack".to_owned(), 2)].into(),
            max_per_sector: Some(2),
            ..Default::default()
        }
        .parse(&tx())
        .unwrap();
        assert_eq!(ok.count(), DEFAULT_COUNT);
        assert_eq!(ok.input().parse(&tx()).unwrap(), ok, "round trip");
    }

    // ----- the solver against brute force -----

    /// A small deterministic generator, so failures reproduce without a seed file.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn chance(&mut self, percent: usize) -> bool {
            self.below(100) < percent
        }
    }

    fn random_problem(rng: &mut Rng, max_n: usize, max_k: usize) -> Problem {
        let n = 1 + rng.below(max_n);
        let k = 1 + rng.below(max_k.min(n));
        let n_cats = rng.below(3);
        let n_sectors = 1 + rng.below(4);
        let n_orgs = 1 + rng.below(6);
        let n_regions = 1 + rng.below(4);
        let mut items: Vec<Item> = (0..n)
            .map(|_| Item {
                // Coarse weights so that ties are common.
                w: 500 * rng.below(8) as i64,
                cat: if n_cats > 0 && rng.chance(75) {
                    Some(rng.below(n_cats))
                } else {
                    None
                },
                sector: rng.below(n_sectors),
                org: rng.below(n_orgs),
                region: if rng.chance(85) {
                    Some(rng.below(n_regions))
                } else {
                    None
                },
            })
            .collect();
        items.sort_by_key(|it| std::cmp::Reverse(it.w));
        let mut pinned = Vec::new();
        let mut excluded = vec![false; n];
        for _ in 0..rng.below(3) {
            let i = rng.below(n);
            if rng.chance(50) {
                if !pinned.contains(&i) && !excluded[i] && pinned.len() < k {
                    pinned.push(i);
                }
            } else if !pinned.contains(&i) {
                excluded[i] = true;
            }
        }
        pinned.sort_unstable();
        Problem {
            items,
            k,
            cat_min: (0..n_cats).map(|_| rng.below(3)).collect(),
            sector_max: rng.chance(50).then(|| 1 + rng.below(3)),
            org_max: rng.chance(30).then(|| 1 + rng.below(2)),
            min_regions: if rng.chance(50) { rng.below(4) } else { 0 },
            pinned,
            excluded,
            n_sectors,
            n_orgs,
            n_regions,
        }
    }

    /// Every k-subset in lexicographic order; the first with the highest total wins, which
    /// is the solver's documented tie rule.
    fn brute_force(p: &Problem) -> Option<(i64, Vec<usize>)> {
        fn rec(
            p: &Problem,
            start: usize,
            set: &mut Vec<usize>,
            best: &mut Option<(i64, Vec<usize>)>,
        ) {
            if set.len() == p.k {
                if p.violations(set).is_empty() {
                    let t: i64 = set.iter().map(|&i| p.items[i].w).sum();
                    if best.as_ref().is_none_or(|(b, _)| t > *b) {
                        *best = Some((t, set.clone()));
                    }
                }
                return;
            }
            for i in start..p.items.len() {
                set.push(i);
                rec(p, i + 1, set, best);
                set.pop();
            }
        }
        let mut best = None;
        rec(p, 0, &mut Vec::new(), &mut best);
        best
    }

    #[test]
    fn the_solver_matches_brute_force_on_random_small_instances() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let (mut feasible, mut infeasible) = (0, 0);
        for case in 0..3000 {
            let p = random_problem(&mut rng, 12, 5);
            let want = brute_force(&p);
            let got = solve(&p, u64::MAX);
            match (want, got) {
                (Some((total, set)), Ok(s)) => {
                    feasible += 1;
                    assert_eq!(s.total, total, "case {case}: {p:?}");
                    assert_eq!(s.set, set, "case {case}: tie rule differs: {p:?}");
                    assert_eq!(s.optimality, Optimality::Proven);
                }
                (None, Err(Failure::Infeasible)) => infeasible += 1,
                (w, g) => panic!("case {case}: brute force {w:?}, solver {g:?}: {p:?}"),
            }
        }
        assert!(
            feasible > 1000 && infeasible > 100,
            "the generator covers both outcomes: {feasible} feasible, {infeasible} infeasible"
        );
    }

    #[test]
    fn a_stopped_search_states_a_bound_that_holds() {
        let mut rng = Rng(42);
        let (mut gaps, mut runs) = (0, 0);
        for case in 0..40 {
            let p = hard_problem(&mut rng, 60);
            let Ok(exact) = solve(&p, u64::MAX) else {
                continue;
            };
            for budget in [1, 7, 10, 15, 25] {
                runs += 1;
                match solve(&p, budget) {
                    Ok(s) => {
                        assert!(s.nodes <= budget);
                        assert!(p.violations(&s.set).is_empty(), "case {case}");
                        assert!(s.total <= exact.total, "case {case}");
                        match s.optimality {
                            Optimality::Proven => {
                                assert_eq!(
                                    s.total, exact.total,
                                    "case {case}: proof without the optimum"
                                )
                            }
                            Optimality::Budget {
                                bound_milli,
                                gap_milli,
                            } => {
                                gaps += 1;
                                assert!(bound_milli >= exact.total, "case {case}: bound too low");
                                assert_eq!(gap_milli, bound_milli - s.total);
                                assert!(gap_milli > 0);
                            }
                        }
                        assert_eq!(solve(&p, budget), Ok(s), "deterministic");
                    }
                    Err(Failure::Budget) => assert!(budget < exact.nodes, "case {case}"),
                    Err(Failure::Infeasible) => {
                        panic!("case {case}: a feasible problem called infeasible")
                    }
                }
            }
        }
        assert!(gaps > 10, "the budget path ran {gaps} times in {runs}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn every_selection_keeps_every_rule(seed in 1u64..u64::MAX, max_n in 5usize..60) {
            let mut rng = Rng(seed);
            let p = random_problem(&mut rng, max_n, 8);
            if let Ok(s) = solve(&p, 20_000) {
                prop_assert_eq!(s.set.len(), p.k);
                prop_assert!(p.violations(&s.set).is_empty(), "{:?}", p.violations(&s.set));
                let total: i64 = s.set.iter().map(|&i| p.items[i].w).sum();
                prop_assert_eq!(total, s.total);
            }
        }
    }

    // ----- selection with explanations -----

    fn cand(id: i64, total: i64, sector: &str, region: &str, category: &str) -> Candidate {
        Candidate {
            rank: 0,
            report_id: ReportId(id),
            title: format!("報告{id}"),
            org_id: OrgId(id),
            sector: code(sector),
            region: Some(code(region)),
            category: Some(code(category)),
            category_evidence: String::new(),
            category_evidence_en: String::new(),
            scores: vec![CriterionScore {
                key: "actual-harm".into(),
                value: Some(Points::new(3).unwrap()),
                source: ScoreSource::Computed,
                evidence: String::new(),
                evidence_en: String::new(),
                weighted_milli: total,
                overridden: None,
            }],
            total_milli: total,
            total: total as f64 / 1000.0,
        }
    }

    fn ranked(mut v: Vec<Candidate>) -> Vec<Candidate> {
        v.sort_by(|a, b| {
            b.total_milli
                .cmp(&a.total_milli)
                .then(a.report_id.cmp(&b.report_id))
        });
        for (i, c) in v.iter_mut().enumerate() {
            c.rank = i + 1;
        }
        v
    }

    fn rules(input: RulesInput) -> Rules {
        input.parse(&tx()).unwrap()
    }

    fn ids(s: &Selection) -> Vec<i64> {
        s.chosen.iter().map(|c| c.report_id.0).collect()
    }

    #[test]
    fn a_left_out_case_names_the_rule_that_kept_it_out() {
        let cs = ranked(vec![
            cand(1, 9000, "finance", "kanto", "system-failure"),
            cand(2, 8000, "finance", "kanto", "system-failure"),
            cand(3, 7000, "finance", "kinki", "system-failure"),
            cand(4, 5000, "railway", "kanto", "cyber-attack"),
            cand(5, 4000, "medical", "tohoku", "system-failure"),
            cand(6, 3000, "water", "kanto", "cyber-attack"),
        ]);
        let criteria = vec![criterion("actual-harm", 1.0)];
        let r = rules(RulesInput {
            count: 3,
            max_per_sector: Some(2),
            min_per_category: [("cyber-attack".to_owned(), 1)].into(),
            ..Default::default()
        });
        let s = select(&cs, &criteria, &r, &SolveOptions::default(), &tx()).unwrap();
        assert_eq!(ids(&s), [1, 2, 4]);
        assert_eq!(s.total_milli, 22000);
        assert_eq!(s.optimality, Optimality::Proven);
        let c4 = &s.chosen[2];
        assert!(c4.helps.iter().any(|h| h.needed
            && h.rule
                == RuleRef::MinPerCategory {
                    category: code("cyber-attack"),
                    min: 1
                }));
        assert!(
            c4.why
                .contains("「『外部からのサイバー攻撃』1件以上」に必要"),
            "{}",
            c4.why
        );
        assert!(c4.why.contains("実害3"), "{}", c4.why);
        let out3 = &s.left_out[0];
        assert_eq!(out3.report_id, ReportId(3));
        match &out3.reason {
            LeftOutReason::Rules {
                replaceable,
                violations,
            } => {
                assert_eq!(replaceable, &[ReportId(4)]);
                assert!(
                    violations
                        .iter()
                        .any(|v| v.rule == RuleRef::MaxPerSector { max: 2 }),
                    "{violations:?}"
                );
                assert!(
                    violations
                        .iter()
                        .any(|v| matches!(v.rule, RuleRef::MinPerCategory { .. }))
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(out3.why.contains("1分野あたり2件まで"), "{}", out3.why);
        assert!(
            out3.why.contains("分野「financeja」が3件になる"),
            "{}",
            out3.why
        );
        let out5 = &s.left_out[1];
        assert_eq!(out5.report_id, ReportId(5));
        assert!(
            matches!(out5.reason, LeftOutReason::LowerTotal { than, .. } if than == ReportId(4)),
            "{:?}",
            out5.reason
        );
        assert!(out5.why.contains("報告4（5点）より低い"), "{}", out5.why);
    }

    #[test]
    fn an_equal_total_kept_out_by_a_rule_is_not_called_lower() {
        let cs = ranked(vec![
            cand(1, 8000, "finance", "kanto", "system-failure"),
            cand(2, 8000, "railway", "kanto", "cyber-attack"),
        ]);
        let r = rules(RulesInput {
            count: 1,
            min_per_category: [("cyber-attack".to_owned(), 1)].into(),
            ..Default::default()
        });
        let s = select(
            &cs,
            &[criterion("actual-harm", 1.0)],
            &r,
            &SolveOptions::default(),
            &tx(),
        )
        .unwrap();
        assert_eq!(ids(&s), [2]);
        let out = &s.left_out[0];
        assert!(
            matches!(&out.reason, LeftOutReason::Rules { replaceable, .. } if replaceable == &[ReportId(2)]),
            "{:?}",
            out.reason
        );
        assert!(out.why.contains("報告2と同点だが"), "{}", out.why);
        assert!(!out.why.contains("より低い"), "{}", out.why);
    }

    #[test]
    fn ties_go_to_the_smaller_report_id_whatever_the_input_order() {
        let criteria = vec![criterion("actual-harm", 1.0)];
        let base = vec![
            cand(7, 5000, "finance", "kanto", "system-failure"),
            cand(3, 5000, "railway", "kanto", "system-failure"),
            cand(5, 5000, "medical", "kanto", "system-failure"),
            cand(9, 6000, "water", "kanto", "system-failure"),
        ];
        let r = rules(RulesInput {
            count: 2,
            ..Default::default()
        });
        let s = select(
            &ranked(base.clone()),
            &criteria,
            &r,
            &SolveOptions::default(),
            &tx(),
        )
        .unwrap();
        assert_eq!(ids(&s), [9, 3]);
        let mut reversed = base;
        reversed.reverse();
        let again = select(&reversed, &criteria, &r, &SolveOptions::default(), &tx()).unwrap();
        assert_eq!(ids(&again), [9, 3]);
        assert_eq!(
            s.left_out[0].reason,
            LeftOutReason::Tie { than: ReportId(3) }
        );
        assert!(s.left_out[0].why.contains("同点"), "{}", s.left_out[0].why);
    }

    #[test]
    fn infeasible_rules_are_named() {
        let criteria = vec![criterion("actual-harm", 1.0)];
        let cs = ranked(vec![
            cand(1, 9000, "finance", "kanto", "system-failure"),
            cand(2, 8000, "finance", "kinki", "cyber-attack"),
            cand(3, 7000, "finance", "kanto", "cyber-attack"),
            cand(4, 5000, "railway", "kanto", "system-failure"),
            cand(5, 4000, "medical", "kanto", "system-failure"),
        ]);
        let opts = SolveOptions::default();
        let too_few = rules(RulesInput {
            count: 3,
            min_per_category: [("internal-incident".to_owned(), 1)].into(),
            ..Default::default()
        });
        let e = select(&cs, &criteria, &too_few, &opts, &tx()).unwrap_err();
        assert_eq!(e.field(), "min_per_category.internal-incident");
        assert!(e.message_ja().contains("0件しかありません"), "{e}");

        // Two attacks are available, but both are finance and finance may have one case.
        let clash = rules(RulesInput {
            count: 3,
            min_per_category: [("cyber-attack".to_owned(), 2)].into(),
            max_per_sector: Some(1),
            ..Default::default()
        });
        let e = select(&cs, &criteria, &clash, &opts, &tx()).unwrap_err();
        match &e {
            SelectionError::Infeasible {
                rule,
                conflicts_with,
                ..
            } => {
                assert_eq!(rule.field(), "min_per_category.cyber-attack");
                assert_eq!(conflicts_with, &[RuleRef::MaxPerSector { max: 1 }]);
            }
            other => panic!("{other:?}"),
        }
        assert!(
            e.to_string().starts_with("min_per_category.cyber-attack: "),
            "{e}"
        );
        let fe = FieldError::from(e);
        assert_eq!(fe.field, "min_per_category.cyber-attack");

        let regions = rules(RulesInput {
            count: 3,
            min_regions: Some(3),
            ..Default::default()
        });
        let e = select(&cs, &criteria, &regions, &opts, &tx()).unwrap_err();
        assert_eq!(e.field(), "min_regions");

        let count = rules(RulesInput {
            count: 6,
            ..Default::default()
        });
        assert_eq!(
            select(&cs, &criteria, &count, &opts, &tx())
                .unwrap_err()
                .field(),
            "count"
        );
        let missing_pin = rules(RulesInput {
            count: 2,
            pinned: vec![99],
            ..Default::default()
        });
        assert_eq!(
            select(&cs, &criteria, &missing_pin, &opts, &tx())
                .unwrap_err()
                .field(),
            "pinned"
        );
    }

    #[test]
    fn pinned_and_excluded_cases_are_honoured_and_explained() {
        let criteria = vec![criterion("actual-harm", 1.0)];
        let cs = ranked(vec![
            cand(1, 9000, "finance", "kanto", "system-failure"),
            cand(2, 8000, "railway", "kinki", "cyber-attack"),
            cand(3, 7000, "medical", "kanto", "cyber-attack"),
            cand(4, 1000, "water", "tohoku", "system-failure"),
        ]);
        let r = rules(RulesInput {
            count: 2,
            pinned: vec![4],
            excluded: vec![1],
            ..Default::default()
        });
        let s = select(&cs, &criteria, &r, &SolveOptions::default(), &tx()).unwrap();
        assert_eq!(ids(&s), [2, 4]);
        assert_eq!(s.left_out[0].reason, LeftOutReason::Excluded);
        assert!(
            s.chosen[1].why.contains("分析者が指定"),
            "{}",
            s.chosen[1].why
        );
        assert_eq!(s.left_out[1].report_id, ReportId(3));
        assert!(
            matches!(s.left_out[1].reason, LeftOutReason::LowerTotal { than, .. } if than == ReportId(2))
        );
    }

    #[test]
    fn hundreds_of_candidates_are_solved_exactly_within_the_default_budget() {
        let mut rng = Rng(7);
        let sectors = ["finance", "railway", "medical", "water"];
        let regions = ["kanto", "kinki", "tohoku"];
        let cats = ["system-failure", "cyber-attack", "internal-incident"];
        let cs: Vec<Candidate> = (1..=300)
            .map(|id| {
                cand(
                    id,
                    250 * rng.below(60) as i64,
                    sectors[rng.below(4)],
                    regions[rng.below(3)],
                    cats[rng.below(3)],
                )
            })
            .collect();
        let r = rules(RulesInput {
            count: 7,
            min_per_category: [
                ("system-failure".to_owned(), 2),
                ("cyber-attack".to_owned(), 2),
                ("internal-incident".to_owned(), 1),
            ]
            .into(),
            max_per_sector: Some(2),
            min_regions: Some(3),
            ..Default::default()
        });
        let s = select(
            &ranked(cs),
            &[criterion("actual-harm", 1.0)],
            &r,
            &SolveOptions::default(),
            &tx(),
        )
        .unwrap();
        assert_eq!(s.optimality, Optimality::Proven, "{} nodes", s.nodes);
        assert_eq!(s.chosen.len(), 7);
    }

    fn hard_problem(rng: &mut Rng, n: usize) -> Problem {
        let mut items: Vec<Item> = (0..n)
            .map(|_| {
                let sector = rng.below(6);
                Item {
                    w: 10_000 + rng.below(2_000) as i64,
                    // Categories, sectors and regions correlate, so the relaxations disagree.
                    cat: Some((sector + rng.below(2)) % 3),
                    sector,
                    org: rng.below(n / 2),
                    region: Some((sector + rng.below(2)) % 6),
                }
            })
            .collect();
        items.sort_by_key(|it| std::cmp::Reverse(it.w));
        Problem {
            items,
            k: 7,
            cat_min: vec![2, 2, 2],
            sector_max: Some(2),
            org_max: Some(1),
            min_regions: 5,
            pinned: Vec::new(),
            excluded: vec![false; n],
            n_sectors: 6,
            n_orgs: n / 2,
            n_regions: 6,
        }
    }
}
