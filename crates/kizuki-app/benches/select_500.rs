//! Benchmark (not a test): choosing 7 of 500 candidate reports under balance rules, and
//! computing their signals against 1,500 earlier reports.
//!
//! `cargo bench -p kizuki-app --bench select_500` (add `--profile dev` for a debug build).
//! The data are synthetic and seeded, so every run sees the same reports; figures go in
//! docs/PERFORMANCE.md.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use kizuki_app::selection::{ClassificationSimilarity, Periods, signals};
use kizuki_dataset::{SURVEY_2019, parse_survey_files};
use kizuki_domain::ids::{OrgId, ReportId};
use kizuki_domain::report::{Impact, Report, ReportDetails, ReportStatus, SystemRef};
use kizuki_domain::selection::{
    Candidate, CandidateInput, CategoryMap, Optimality, OverrideInput, Points, RulesInput, Signal,
    SolveOptions, format_total, parse_overrides, score_candidates, select,
};
use kizuki_domain::survey::Criterion;
use kizuki_domain::taxonomy::{Code, Severity, Taxonomy, Tlp, Vocabulary};
use std::hint::black_box;
use std::time::{Duration, Instant};

const CANDIDATES: usize = 500;
const EARLIER: usize = 1_500;
const ORGS: i64 = 200;
const RUNS: usize = 30;

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
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
    /// Half the time the first `hot` items, otherwise any: real reports crowd into a few
    /// sectors, Kanto and a few event types, which is what makes balance rules bite.
    fn skewed<'a, T>(&mut self, v: &'a [T], hot: usize) -> &'a T {
        if self.below(2) == 0 {
            &v[self.below(hot.min(v.len()))]
        } else {
            self.pick(v)
        }
    }
}

const TERMS: [&str; 16] = [
    "ランサムウェア",
    "Emotet",
    "DDoS",
    "改元",
    "データベース",
    "証明書",
    "クラウド",
    "VPN",
    "誤送信",
    "停電",
    "ファームウェア",
    "パッチ",
    "不正ログイン",
    "委託先",
    "共同利用型システム",
    "バックアップ",
];

const VENDORS: [&str; 8] = [
    "システムベンダA",
    "北斗情報システム",
    "東雲ソリューションズ",
    "クラウド基盤サービス",
    "委託先",
    "南風テクノ",
    "白鷺データ",
    "システムベンダB",
];

fn codes(tx: &Taxonomy, v: Vocabulary) -> Vec<Code> {
    tx.terms(v).iter().map(|t| Code(t.code.clone())).collect()
}

fn reports(tx: &Taxonomy, rng: &mut Rng) -> Vec<Report> {
    let sectors = codes(tx, Vocabulary::Sector);
    let mut regions = codes(tx, Vocabulary::Region);
    regions.rotate_left(2); // Kanto first
    let mut events = codes(tx, Vocabulary::EventType);
    events.rotate_left(3); // unavailability first
    let causes = codes(tx, Vocabulary::Cause);
    let orgs: Vec<(Code, Code)> = (0..ORGS)
        .map(|_| {
            (
                rng.skewed(&sectors, 2).clone(),
                rng.skewed(&regions, 1).clone(),
            )
        })
        .collect();
    let start_2019 = Utc.with_ymd_and_hms(2019, 1, 1, 3, 0, 0).single();
    let start_2016 = Utc.with_ymd_and_hms(2016, 1, 1, 3, 0, 0).single();
    let (Some(start_2019), Some(start_2016)) = (start_2019, start_2016) else {
        return Vec::new();
    };
    (0..CANDIDATES + EARLIER)
        .map(|i| {
            let (base, days) = if i < CANDIDATES {
                (start_2019, 364)
            } else {
                (start_2016, 3 * 365)
            };
            let at: DateTime<Utc> = base + chrono::Duration::days(rng.below(days) as i64);
            let org = rng.below(orgs.len());
            let (sector, region) = orgs[org].clone();
            let mut cs: Vec<Code> = (0..1 + rng.below(3))
                .map(|_| rng.pick(&causes).clone())
                .collect();
            cs.sort();
            cs.dedup();
            let terms: Vec<&str> = (0..3).map(|_| *rng.pick(&TERMS)).collect();
            let vendor = rng.pick(&VENDORS).to_string();
            Report {
                id: ReportId(i as i64 + 1),
                version: 1,
                org_id: OrgId(org as i64 + 1),
                status: ReportStatus::Triaged,
                reported_at: at,
                updated_at: at,
                details: ReportDetails {
                    title: format!("{}に起因する{}の障害", terms[0], terms[1]),
                    sector,
                    region: (rng.below(4) > 0).then_some(region),
                    affected_service: format!("{}を使う業務", terms[2]),
                    occurred_at: None,
                    detected_at: None,
                    event_type: rng.skewed(&events, 1).clone(),
                    causes: cs,
                    severity: Severity::new(rng.below(5) as u8).ok(),
                    impact: Impact {
                        people_affected: (rng.below(3) == 0).then(|| rng.below(200_000) as u64),
                        duration_minutes: (rng.below(2) == 0).then(|| rng.below(3_000) as u64),
                        actual_harm: rng.below(2) == 0,
                        description: String::new(),
                    },
                    systems: vec![SystemRef {
                        name: format!("{}基盤", terms[2]),
                        vendor: Some(vendor.clone()),
                        shared: rng.below(6) == 0,
                    }],
                    vendors: vec![vendor],
                    tlp: Tlp::Green,
                    summary: format!(
                        "{}の{}により、{}を使う業務が一時停止した。原因を調査している。",
                        terms[0], terms[1], terms[2]
                    ),
                },
                stages: Vec::new(),
                case_id: None,
            }
        })
        .collect()
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, Duration) {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            black_box(f());
            t.elapsed()
        })
        .collect();
    times.sort();
    (times[0], times[times.len() / 2])
}

fn rule_sets() -> Vec<(&'static str, RulesInput)> {
    let cats = |v: &[(&str, i64)]| v.iter().map(|(c, n)| ((*c).to_owned(), *n)).collect();
    vec![
        (
            "no rules",
            RulesInput {
                count: 7,
                ..Default::default()
            },
        ),
        (
            "≥2 system failures, ≥2 attacks, ≥1 internal, ≤2 per sector, ≥3 regions",
            RulesInput {
                count: 7,
                min_per_category: cats(&[
                    ("system-failure", 2),
                    ("cyber-attack", 2),
                    ("internal-incident", 1),
                ]),
                max_per_sector: Some(2),
                min_regions: Some(3),
                ..Default::default()
            },
        ),
        (
            "≥2 of each category, ≤1 per sector, ≥6 regions, ≤1 per organisation",
            RulesInput {
                count: 7,
                min_per_category: cats(&[
                    ("system-failure", 2),
                    ("cyber-attack", 2),
                    ("internal-incident", 2),
                ]),
                max_per_sector: Some(1),
                min_regions: Some(6),
                max_per_org: Some(1),
                ..Default::default()
            },
        ),
    ]
}

fn run_rules(
    label: &str,
    candidates: &[Candidate],
    criteria: &[Criterion],
    tx: &Taxonomy,
) -> Result<(), Box<dyn std::error::Error>> {
    let opts = SolveOptions::default();
    for (name, input) in rule_sets() {
        let rules = input.parse(tx)?;
        let s = select(candidates, criteria, &rules, &opts, tx)?;
        let top7: i64 = candidates.iter().take(7).map(|c| c.total_milli).sum();
        let (best, median) = time(RUNS, || select(candidates, criteria, &rules, &opts, tx));
        println!(
            "  [{label}] K=7, {name}: total {} (top 7 unconstrained {}), {} nodes, {}; select() best {:.2} ms, median {:.2} ms",
            format_total(s.total_milli),
            format_total(top7),
            s.nodes,
            match s.optimality {
                Optimality::Proven => "proven optimal".to_owned(),
                Optimality::Budget { gap_milli, .. } =>
                    format!("gap ≤ {}", format_total(gap_milli)),
            },
            best.as_secs_f64() * 1e3,
            median.as_secs_f64() * 1e3
        );
    }
    Ok(())
}

/// 500 candidates scored directly (no reports): points correlate with sector, region and
/// category, so the best cases crowd together and every rule has to trade score for balance.
fn stress_candidates(
    tx: &Taxonomy,
    criteria: &[Criterion],
    rng: &mut Rng,
) -> Result<Vec<Candidate>, Box<dyn std::error::Error>> {
    let sectors = codes(tx, Vocabulary::Sector);
    let regions = codes(tx, Vocabulary::Region);
    let cats = codes(tx, Vocabulary::CaseCategory);
    let inputs: Vec<CandidateInput> = (0..CANDIDATES)
        .map(|i| {
            let s = rng.skewed(&sectors, 2);
            let g = rng.skewed(&regions[2..], 1);
            let c = rng.skewed(&cats, 1);
            let hot = s == &sectors[0] || g == &regions[2] || c == &cats[0];
            let signals = criteria
                .iter()
                .map(|cr| {
                    let base = if hot { 1 } else { 0 };
                    let v = (base + rng.below(3)).min(3) as u8;
                    let sig = if BALANCE_KEYS.contains(&cr.key.as_str()) {
                        Signal::Balance
                    } else {
                        Signal::Computed {
                            value: Points::new(v).unwrap_or(Points::ZERO),
                            evidence: String::new(),
                            evidence_en: String::new(),
                        }
                    };
                    (cr.key.clone(), sig)
                })
                .collect();
            CandidateInput {
                report_id: ReportId(i as i64 + 1),
                title: String::new(),
                org_id: OrgId(rng.below(ORGS as usize) as i64 + 1),
                sector: s.clone(),
                region: Some(g.clone()),
                category: Some(c.clone()),
                category_evidence: String::new(),
                category_evidence_en: String::new(),
                signals,
            }
        })
        .collect();
    Ok(score_candidates(criteria, inputs, &[])?)
}

const BALANCE_KEYS: [&str; 2] = ["region", "sector-balance"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tx = kizuki_dataset::default_taxonomy()?;
    let files: Vec<(String, String)> = SURVEY_2019
        .iter()
        .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
        .collect();
    let criteria = parse_survey_files(&files, &tx)?.survey.criteria;
    let mut rng = Rng(0x5eed_2019);
    let all = reports(&tx, &mut rng);
    let start = NaiveDate::from_ymd_opt(2019, 1, 1).ok_or("date")?;
    let end = NaiveDate::from_ymd_opt(2019, 12, 31).ok_or("date")?;

    let t = Instant::now();
    let periods = Periods::split(start, end, all.clone());
    let pool: Vec<Report> = periods
        .current
        .iter()
        .chain(&periods.earlier)
        .cloned()
        .collect();
    let oracle = ClassificationSimilarity::new(&pool, &tx);
    let map = CategoryMap::standard();
    let inputs: Vec<CandidateInput> = periods
        .current
        .iter()
        .map(|r| {
            Ok(CandidateInput {
                report_id: r.id,
                title: r.details.title.clone(),
                org_id: r.org_id,
                sector: r.details.sector.clone(),
                region: r.details.region.clone(),
                category: map
                    .classify(&r.details.event_type, &r.details.causes)
                    .map(|c| c.category),
                category_evidence: String::new(),
                category_evidence_en: String::new(),
                signals: signals(r, &periods, &oracle, &tx)?,
            })
        })
        .collect::<Result<_, kizuki_app::AppError>>()?;
    let signal_time = t.elapsed();
    // Analysts have rated a third of the candidates on the two criteria only they can judge.
    let mut overrides: Vec<OverrideInput> = Vec::new();
    for r in &periods.current {
        if rng.below(3) != 0 {
            continue;
        }
        for key in ["lesson-usefulness", "response-quality"] {
            overrides.push(OverrideInput {
                report_id: r.id.0,
                key: key.into(),
                value: rng.below(4) as i64,
                reason: "ベンチマーク".into(),
            });
        }
    }
    let overrides = parse_overrides(&overrides, &criteria)?;
    let t = Instant::now();
    let candidates = score_candidates(&criteria, inputs, &overrides)?;
    let score_time = t.elapsed();
    println!(
        "reports: {} candidates in 2019, {} reports in the {} earlier periods, {} organisations, {} analyst scores",
        periods.current.len(),
        periods.earlier.len(),
        periods.earlier_periods,
        ORGS,
        overrides.len()
    );
    println!(
        "  signals for every candidate (similarity over {} reports): {:.1} ms; scoring with overrides: {:.2} ms",
        pool.len(),
        signal_time.as_secs_f64() * 1e3,
        score_time.as_secs_f64() * 1e3
    );
    run_rules("reports", &candidates, &criteria, &tx)?;

    let stress = stress_candidates(&tx, &criteria, &mut rng)?;
    println!(
        "stress: {CANDIDATES} candidates with correlated scores, sectors, regions and categories"
    );
    run_rules("stress", &stress, &criteria, &tx)?;
    Ok(())
}
