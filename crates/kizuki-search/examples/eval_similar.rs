//! How good are similar items? For every labelled incident, is the most similar other
//! incident one with the same root-cause label? Measured on the 2019 survey's seven cases
//! (labels: the causes of each case's report) and on the public cloud post-mortems in
//! `../shared/data/postmortems` (labels: the ISSRE'22 root-cause taxonomy, layers 2 and 3),
//! against a plain keyword baseline (overlap of whitespace/punctuation-separated words) and
//! the chance level.
//!
//! `cargo run --release -p kizuki-search --example eval_similar [-- PATH_TO_POSTMORTEMS]`

use kizuki_domain::case::Case;
use kizuki_domain::ids::{CaseId, OrgId, ReportId};
use kizuki_domain::report::{Report, ReportStatus, Stage, StageKind};
use kizuki_domain::taxonomy::Tlp;
use kizuki_search::doc::{DocKind, IndexDoc};
use kizuki_search::{SearchIndex, SimilarOptions, SimilarTo};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;

type Labels = BTreeSet<String>;

struct Item {
    doc: IndexDoc,
    labels: Labels,
    text: String,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pm_dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/postmortems")
        });
    println!("## 2019 survey: 7 cases (+ their 7 reports in the index)\n");
    survey_2019()?;
    if pm_dir.join("AWS/aws.json").exists() {
        for layer in [2, 3] {
            println!("\n## Cloud post-mortems, root-cause layer {layer}\n");
            postmortems(&pm_dir, layer)?;
        }
    } else {
        println!(
            "\n(post-mortems not found at {}; skipped)",
            pm_dir.display()
        );
    }
    Ok(())
}

fn survey_2019() -> Result<(), Box<dyn std::error::Error>> {
    let tx = kizuki_dataset::default_taxonomy()?;
    let files: Vec<(String, String)> = kizuki_dataset::SURVEY_2019
        .iter()
        .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
        .collect();
    let data = kizuki_dataset::parse_survey_files(&files, &tx)?;
    let details = data.report_details(&tx)?;
    let index = SearchIndex::in_ram()?;
    let mut items = Vec::new();
    for (i, (c, d)) in data.cases.iter().zip(details).enumerate() {
        let id = i64::try_from(i)? + 1;
        let at = c.report.reported_at();
        let report = Report {
            id: ReportId(id),
            version: 1,
            org_id: OrgId(id),
            status: ReportStatus::Triaged,
            reported_at: at,
            updated_at: at,
            details: d.clone(),
            stages: vec![Stage {
                seq: 1,
                kind: StageKind::First,
                at,
                text: c.report.summary.clone(),
                author: None,
            }],
            case_id: Some(CaseId(id)),
        };
        let case = Case {
            id: CaseId(id),
            version: 1,
            survey_year: Some(2019),
            report_id: Some(ReportId(id)),
            content: c.case.clone(),
        };
        let mut docs = vec![IndexDoc::from_report(&report)];
        docs.extend(IndexDoc::from_case(&case, Some(&report), None));
        index.add(&docs, &[])?;
        let labels: Labels = d.causes.iter().map(|c| c.0.clone()).collect();
        items.push((
            id,
            labels,
            format!("{}\n{}", c.case.title, c.case.full_text()),
        ));
    }
    index.commit(1)?;
    let label_of: HashMap<i64, Labels> = items.iter().map(|(id, l, _)| (*id, l.clone())).collect();
    for (mode, use_classification) in [("text only", false), ("text + classification", true)] {
        let mut hits = 0;
        let mut lines = Vec::new();
        for (id, labels, _) in &items {
            let r = index.similar(
                &SimilarTo::Case(CaseId(*id)),
                &kizuki_search::access::centre_viewer(),
                &SimilarOptions {
                    limit: 1,
                    use_classification,
                },
            )?;
            let top = r.items.first();
            // A report of case k and case k carry the same labels.
            let top_case = top.map(|t| {
                if t.kind == DocKind::Case {
                    t.id
                } else {
                    t.case_id.unwrap_or(t.id)
                }
            });
            let shared = top_case
                .and_then(|k| label_of.get(&k))
                .is_some_and(|l| !l.is_disjoint(labels));
            hits += usize::from(shared);
            lines.push(format!(
                "case {id} → case {} ({}): {}",
                top_case.map_or("-".into(), |k| k.to_string()),
                if shared {
                    "shares a cause"
                } else {
                    "no shared cause"
                },
                top.map(|t| t.reasons.key_terms.join("、"))
                    .unwrap_or_default()
            ));
        }
        println!("kizuki ({mode}): {hits}/7 top items share a cause label");
        for l in lines {
            println!("  {l}");
        }
    }
    let kw_hits = keyword_top1(
        &items
            .iter()
            .map(|(_, l, t)| (l.clone(), t.clone()))
            .collect::<Vec<_>>(),
    );
    println!("keyword baseline (word overlap): {kw_hits}/7");
    let chance = chance_level(&items.iter().map(|(_, l, _)| l.clone()).collect::<Vec<_>>());
    println!("chance (a random other case): {:.1}/7", chance * 7.0);
    Ok(())
}

fn str_of(v: &serde_json::Value, key: &str) -> String {
    v.get(key)
        .and_then(|x| x.as_str())
        .unwrap_or_default()
        .to_owned()
}

fn postmortem_labels(v: &serde_json::Value, layer: u8) -> Labels {
    let key = format!("layer-{layer}");
    let mut out = Labels::new();
    if let Some(list) = v
        .get("root cause")
        .and_then(|r| r.get("label"))
        .and_then(|l| l.as_array())
    {
        for l in list {
            if let Some(s) = l.get(&key).and_then(|x| x.as_str()) {
                let s = s.trim().to_lowercase();
                // The data set's own typos.
                let s = if s == "softwares bugs" {
                    "software bugs".to_owned()
                } else {
                    s
                };
                if !s.is_empty() {
                    out.insert(s);
                }
            }
        }
    }
    out
}

fn postmortems(dir: &std::path::Path, layer: u8) -> Result<(), Box<dyn std::error::Error>> {
    let mut files = vec![dir.join("AWS/aws.json")];
    let mut az: Vec<PathBuf> = std::fs::read_dir(dir.join("Azure"))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    az.sort();
    files.extend(az);
    let mut items: Vec<Item> = Vec::new();
    for f in files {
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&f)?)?;
        let Some(obj) = v.as_object() else { continue };
        for (_, pm) in obj {
            let title = str_of(pm, "title");
            // The narrative only: the hand-written root-cause field is what is predicted.
            let body = format!("{}\n{}", str_of(pm, "summary"), str_of(pm, "details"));
            let id = i64::try_from(items.len())? + 1;
            items.push(Item {
                doc: IndexDoc {
                    kind: DocKind::Report,
                    id,
                    lesson_no: None,
                    case_id: None,
                    title: title.clone(),
                    body: body.clone(),
                    fiscal_year: None,
                    occurred_year: None,
                    sector: String::new(),
                    event_type: String::new(),
                    causes: Vec::new(),
                    severity: None,
                    org: None,
                    tlp: Tlp::Clear,
                    status: String::new(),
                    systems: Vec::new(),
                    vendors: Vec::new(),
                    at: None,
                    lessons: Vec::new(),
                    shared_with: Vec::new(),
                    recipients: Vec::new(),
                    published_copy: false,
                },
                labels: postmortem_labels(pm, layer),
                text: format!("{title}\n{body}"),
            });
        }
    }
    let index = SearchIndex::in_ram()?;
    let docs: Vec<IndexDoc> = items.iter().map(|i| i.doc.clone()).collect();
    index.add(&docs, &[])?;
    index.commit(1)?;
    let labelled: Vec<usize> = (0..items.len())
        .filter(|&i| !items[i].labels.is_empty())
        .collect();
    let by_id: HashMap<i64, usize> = items
        .iter()
        .enumerate()
        .map(|(i, it)| (it.doc.id, i))
        .collect();
    let mut top1 = 0usize;
    let mut at5 = 0usize;
    let mut at5_n = 0usize;
    for &i in &labelled {
        let r = index.similar(
            &SimilarTo::Report(ReportId(items[i].doc.id)),
            &kizuki_search::access::centre_viewer(),
            &SimilarOptions {
                limit: 5,
                use_classification: false,
            },
        )?;
        // Only labelled neighbours count; an unlabelled one is neither right nor wrong.
        let ranked: Vec<usize> = r
            .items
            .iter()
            .filter_map(|t| by_id.get(&t.id).copied())
            .filter(|&k| !items[k].labels.is_empty())
            .collect();
        if let Some(&k) = ranked.first()
            && !items[k].labels.is_disjoint(&items[i].labels)
        {
            top1 += 1;
        }
        for &k in ranked.iter().take(5) {
            at5_n += 1;
            at5 += usize::from(!items[k].labels.is_disjoint(&items[i].labels));
        }
    }
    let n = labelled.len();
    let lab: Vec<(Labels, String)> = labelled
        .iter()
        .map(|&i| (items[i].labels.clone(), items[i].text.clone()))
        .collect();
    let kw = keyword_top1(&lab);
    let chance = chance_level(&lab.iter().map(|(l, _)| l.clone()).collect::<Vec<_>>());
    let mut dist: HashMap<&Labels, usize> = HashMap::new();
    for &i in &labelled {
        *dist.entry(&items[i].labels).or_insert(0) += 1;
    }
    let majority = dist.values().copied().max().unwrap_or(0);
    println!(
        "{} post-mortems, {n} with a layer-{layer} label ({} distinct label sets; the largest holds {majority})",
        items.len(),
        dist.len()
    );
    println!("| method | top-1 shares a label | top-5 precision |\n|---|---:|---:|");
    println!(
        "| kizuki similar (text only) | {top1}/{n} = {:.1}% | {:.1}% |",
        pct(top1, n),
        pct(at5, at5_n)
    );
    println!(
        "| keyword baseline (word overlap) | {kw}/{n} = {:.1}% | – |",
        pct(kw, n)
    );
    println!(
        "| chance (random other incident) | {:.1}% | {:.1}% |",
        chance * 100.0,
        chance * 100.0
    );
    Ok(())
}

fn pct(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        100.0 * a as f64 / b as f64
    }
}

/// Lower-cased words split on anything that is not a letter or digit: what a plain keyword
/// search sees. (Japanese, written without spaces, comes out as whole phrases.)
fn words(text: &str) -> HashSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// For each item, the other item with the largest Jaccard word overlap; how often it shares
/// a label.
fn keyword_top1(items: &[(Labels, String)]) -> usize {
    let sets: Vec<HashSet<String>> = items.iter().map(|(_, t)| words(t)).collect();
    let mut hits = 0;
    for i in 0..items.len() {
        let mut best: Option<(f64, usize)> = None;
        for j in 0..items.len() {
            if i == j {
                continue;
            }
            let inter = sets[i].intersection(&sets[j]).count() as f64;
            let union = sets[i].union(&sets[j]).count().max(1) as f64;
            let s = inter / union;
            if best.is_none_or(|(b, _)| s > b) {
                best = Some((s, j));
            }
        }
        if let Some((_, j)) = best
            && !items[j].0.is_disjoint(&items[i].0)
        {
            hits += 1;
        }
    }
    hits
}

/// The chance that a random other item shares a label, averaged over items.
fn chance_level(labels: &[Labels]) -> f64 {
    let n = labels.len();
    if n < 2 {
        return 0.0;
    }
    let mut sum = 0.0;
    for i in 0..n {
        let share = (0..n)
            .filter(|&j| j != i && !labels[j].is_disjoint(&labels[i]))
            .count();
        sum += share as f64 / (n - 1) as f64;
    }
    sum / n as f64
}
