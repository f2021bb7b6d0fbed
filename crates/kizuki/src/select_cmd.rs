//! `kizuki select`: ranks a survey's candidate reports and proposes the cases to survey, with
//! the reasons, as text (Japanese labels) or JSON. Similar cases are counted with the data
//! dir's search index (brought up to date first; only read while a server holds it), the
//! survey's stored analyst scores apply, and `--save` records the proposal as a draft
//! decision like the web page's 提案.

use anyhow::{Context, Result, bail};
use kizuki_app::selection::decisions;
use kizuki_app::selection::index::index_oracle;
use kizuki_app::selection::{
    Proposal, SelectionRequest, SimilarityOracle, category_map_from_toml, overrides_from_toml,
    propose,
};
use kizuki_app::{App, AppError};
use kizuki_domain::fiscal::FiscalYear;
use kizuki_domain::selection::{
    Candidate, DEFAULT_COUNT, OverrideInput, RulesInput, ScoreSource, SolveOptions, format_total,
    short_label,
};
use kizuki_domain::taxonomy::{Lang, Taxonomy, Vocabulary};
use kizuki_search::SearchService;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct SelectArgs {
    /// Fiscal year of the survey, e.g. 2019 or 令和元年度.
    #[arg(long)]
    survey: String,
    /// How many cases to select.
    #[arg(long, default_value_t = DEFAULT_COUNT)]
    count: usize,
    /// Print the ranking and the selection as JSON.
    #[arg(long)]
    json: bool,
    /// At least N cases of a case category, e.g. `system-failure=2` (repeatable).
    #[arg(long = "min-category", value_name = "CATEGORY=N")]
    min_category: Vec<String>,
    #[arg(long)]
    max_per_sector: Option<i64>,
    /// At least this many distinct regions.
    #[arg(long)]
    min_regions: Option<i64>,
    #[arg(long)]
    max_per_org: Option<i64>,
    /// A report id that must be selected (repeatable).
    #[arg(long = "pin", value_name = "REPORT_ID")]
    pinned: Vec<i64>,
    /// A report id to keep out (repeatable).
    #[arg(long = "exclude", value_name = "REPORT_ID")]
    excluded: Vec<i64>,
    /// Analyst scores: a TOML file of `[[overrides]]` with report_id, key, value, reason.
    #[arg(long)]
    overrides: Option<PathBuf>,
    /// Replaces the standard category map: a TOML file of `[[rules]]` with category,
    /// event_types, causes.
    #[arg(long)]
    category_map: Option<PathBuf>,
    /// Search budget in nodes; when reached, the best selection found is shown with the gap.
    #[arg(long, default_value_t = SolveOptions::default().max_nodes)]
    max_nodes: u64,
    /// How many of the strongest left-out candidates to explain.
    #[arg(long, default_value_t = SolveOptions::default().explain_left_out)]
    explain: usize,
    /// How many ranking rows to print (0 for all).
    #[arg(long, default_value_t = 20)]
    top: usize,
    /// Count similar cases with the built-in classification comparison instead of the
    /// search index.
    #[arg(long)]
    no_index: bool,
    /// Save the proposal as a draft decision (as the web page's 提案), to confirm on the
    /// selection page; uses only the survey's stored analyst scores.
    #[arg(long, requires = "as_user", conflicts_with_all = ["overrides", "category_map"])]
    save: bool,
    /// With --save: the analyst the proposal is recorded as proposed by.
    #[arg(long = "as", value_name = "EMAIL")]
    as_user: Option<String>,
}

fn min_categories(list: &[String]) -> Result<BTreeMap<String, i64>> {
    let mut out = BTreeMap::new();
    for item in list {
        let Some((code, n)) = item.split_once('=') else {
            bail!("--min-category {item}: write CATEGORY=N, e.g. system-failure=2");
        };
        let n: i64 = n
            .trim()
            .parse()
            .with_context(|| format!("--min-category {item}: N must be a whole number"))?;
        out.insert(code.trim().to_owned(), n);
    }
    Ok(out)
}

/// The stored scores that apply, with the file's replacing any for the same report and
/// criterion.
fn merged_overrides(
    stored: Vec<kizuki_store::ScoreOverrideRecord>,
    file: Vec<OverrideInput>,
) -> Vec<OverrideInput> {
    let mut out: Vec<OverrideInput> = stored
        .into_iter()
        .filter(|o| {
            !file
                .iter()
                .any(|f| f.report_id == o.report_id.0 && f.key.trim() == o.key)
        })
        .map(|o| OverrideInput {
            report_id: o.report_id.0,
            key: o.key,
            value: i64::from(o.value),
            reason: o.reason,
        })
        .collect();
    out.extend(file);
    out
}

/// A rule or score the analyst must fix: say which, once, without the error chain.
fn plain(e: AppError) -> anyhow::Error {
    match e {
        AppError::Validation(v) => anyhow::anyhow!("{v}"),
        other => other.into(),
    }
}

pub async fn run(app: &App, data_dir: &Path, args: SelectArgs) -> Result<()> {
    let fy = FiscalYear::parse(&args.survey).map_err(|e| anyhow::anyhow!("--survey: {e}"))?;
    let survey = app
        .store
        .get_survey(fy.year())
        .await
        .with_context(|| format!("--survey: no survey for {}", fy.year()))?;
    let file_overrides = match &args.overrides {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            overrides_from_toml(&text)?
        }
        None => Vec::new(),
    };
    let stored = decisions::applicable_overrides(app, &survey).await?;
    let overrides = merged_overrides(stored, file_overrides);
    let oracle = if args.no_index {
        None
    } else {
        let svc = SearchService::open(data_dir, app.store.clone())
            .context("cannot open the search index (use --no-index to select without it)")?;
        Some(index_oracle(&svc, &app.taxonomy).await)
    };
    let oracle = oracle.as_ref().map(|o| o as &dyn SimilarityOracle);
    let category_map = match &args.category_map {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Some(category_map_from_toml(&text, &app.taxonomy)?)
        }
        None => None,
    };
    let req = SelectionRequest {
        fiscal_year: fy.year(),
        rules: RulesInput {
            count: i64::try_from(args.count).unwrap_or(i64::MAX),
            min_per_category: min_categories(&args.min_category)?,
            max_per_sector: args.max_per_sector,
            min_regions: args.min_regions,
            max_per_org: args.max_per_org,
            pinned: args.pinned.clone(),
            excluded: args.excluded.clone(),
        },
        overrides,
        category_map,
        options: SolveOptions {
            max_nodes: args.max_nodes,
            explain_left_out: args.explain,
        },
    };
    let mut saved = None;
    let proposal = if args.save {
        let p = crate::cli::principal_for(app, args.as_user.as_deref().unwrap_or_default()).await?;
        let v = decisions::propose_and_save(app, &p, fy.year(), req.rules, req.options, oracle)
            .await
            .map_err(plain)?;
        saved = Some((v.id, v.version));
        Proposal {
            ranking: v.decision.ranking,
            selection: v.decision.selection,
        }
    } else {
        propose(app, &req, oracle).await.map_err(plain)?
    };
    let text = if args.json {
        let mut j = serde_json::to_string_pretty(&proposal)?;
        j.push('\n');
        j
    } else {
        let mut t = render_text(&proposal, &app.taxonomy, args.top);
        if let Some((id, version)) = saved {
            t.push_str(&format!(
                "\n提案を保存しました（選定案 {id}、版 {version}）。選定ページで確定できます。\n"
            ));
        }
        t
    };
    if let (true, Some((id, version))) = (args.json, saved) {
        // The JSON stays one document; where it was saved goes to stderr.
        eprintln!("saved: selection {id}, version {version}");
    }
    // Piping into `head` closes stdout early; that is the reader's choice, not an error.
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

fn label<'a>(tx: &'a Taxonomy, vocab: Vocabulary, code: Option<&'a str>) -> &'a str {
    code.map_or("-", |c| tx.label(vocab, c, Lang::Ja))
}

fn scores_line(c: &Candidate, p: &Proposal) -> String {
    let parts: Vec<String> = p
        .ranking
        .criteria
        .iter()
        .zip(&c.scores)
        .filter(|(_, s)| s.source != ScoreSource::Balance)
        .map(|(cr, s)| {
            let v = s.value.map_or_else(|| "-".to_owned(), |v| v.to_string());
            let mark = if s.source == ScoreSource::Analyst {
                "*"
            } else {
                ""
            };
            format!("{}{v}{mark}", short_label(cr))
        })
        .collect();
    parts.join(" ")
}

fn title(p: &Proposal, id: kizuki_domain::ReportId) -> &str {
    p.ranking
        .candidates
        .iter()
        .find(|c| c.report_id == id)
        .map_or("", |c| c.title.as_str())
}

/// The ranking and the selection for a terminal.
pub fn render_text(p: &Proposal, tx: &Taxonomy, top: usize) -> String {
    use std::fmt::Write;
    let r = &p.ranking;
    let s = &p.selection;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}年度 補完調査 事例選定（期間 {}〜{}、候補 {}件、類似判定: {}）",
        r.fiscal_year,
        r.period_start,
        r.period_end,
        r.candidates.len(),
        r.similarity
    );
    let _ = writeln!(out, "\n■ 候補の順位（* は分析者の評価、- は未評価）");
    let shown = if top == 0 {
        r.candidates.len()
    } else {
        top.min(r.candidates.len())
    };
    for c in &r.candidates[..shown] {
        let chosen = if s.chosen.iter().any(|x| x.report_id == c.report_id) {
            "◎"
        } else {
            "　"
        };
        let _ = writeln!(
            out,
            "{chosen}{:>3}. 報告{} {}点 ［{}／{}／{}］ {}",
            c.rank,
            c.report_id,
            format_total(c.total_milli),
            label(
                tx,
                Vocabulary::CaseCategory,
                c.category.as_ref().map(|x| x.as_str())
            ),
            label(tx, Vocabulary::Sector, Some(c.sector.as_str())),
            label(
                tx,
                Vocabulary::Region,
                c.region.as_ref().map(|x| x.as_str())
            ),
            c.title
        );
        let _ = writeln!(out, "        {}", scores_line(c, p));
    }
    if shown < r.candidates.len() {
        let _ = writeln!(
            out,
            "      …ほか{}件（--top 0 ですべて表示）",
            r.candidates.len() - shown
        );
    }
    let rules: Vec<String> = s.rules.refs().iter().map(|x| x.label_ja(tx)).collect();
    let _ = writeln!(
        out,
        "\n■ 選定（{}件、合計{}点）\n  ルール: {}\n  {}",
        s.chosen.len(),
        format_total(s.total_milli),
        rules.join("、"),
        s.optimality.describe_ja(s.nodes)
    );
    for c in &s.chosen {
        let _ = writeln!(
            out,
            "  ◎ 報告{}「{}」\n      {}",
            c.report_id,
            title(p, c.report_id),
            c.why
        );
        if let Some(cand) = r.candidates.iter().find(|x| x.report_id == c.report_id) {
            for (cr, sc) in r.criteria.iter().zip(&cand.scores) {
                if let Some(v) = sc.value {
                    let _ = writeln!(
                        out,
                        "        {}{}: {}（{}）",
                        short_label(cr),
                        v,
                        sc.evidence,
                        sc.source.label_ja()
                    );
                }
            }
        }
    }
    if !s.left_out.is_empty() {
        let _ = writeln!(out, "\n■ 選ばれなかった上位の候補");
        for l in &s.left_out {
            let _ = writeln!(
                out,
                "  × 報告{}「{}」（{}位）\n      {}",
                l.report_id,
                title(p, l.report_id),
                l.rank,
                l.why
            );
        }
    }
    out
}
