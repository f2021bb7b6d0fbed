//! Search subcommands: `kizuki search`, `kizuki reindex`, `kizuki gen`, `kizuki import csv`
//! and `kizuki bench search`. Progress bars go to stderr and hide themselves when stderr is
//! not a terminal.

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use kizuki_app::App;
use kizuki_app::imports::csv::{self, ImportProgress, Mapping};
use kizuki_bench::search::{BenchConfig, run as run_bench};
use kizuki_bench::synth::Synth;
use kizuki_domain::org::{NewOrganisation, OrgKind};
use kizuki_domain::taxonomy::{Code, Lang, Vocabulary};
use kizuki_domain::user::Email;
use kizuki_search::{Query, SearchError, SearchService, Viewer, WriterOptions};
use kizuki_store::{NewReport, NewStage, Page, ReportFilter};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Lets a query exclusion (`kizuki search カード -三井住友`) through the argument parser:
/// after the `search` subcommand, a word with a single leading hyphen is a query word (the
/// command has no short options but `-h`), so such words are moved behind a `--`, where the
/// parser takes them as values. Exclusions may stand anywhere in a query, so the move does
/// not change its meaning; options (`--json`, `--as …`) keep working wherever they are.
pub fn exclusions_as_values(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let Some(at) = args.iter().position(|a| a == "search") else {
        return args;
    };
    if args[at..].iter().any(|a| a == "--") {
        return args;
    }
    let is_exclusion = |a: &std::ffi::OsString| {
        a.to_str()
            .is_some_and(|s| s.len() > 1 && s.starts_with('-') && !s.starts_with("--") && s != "-h")
    };
    let (words, rest): (Vec<_>, Vec<_>) = args[at + 1..].iter().cloned().partition(is_exclusion);
    if words.is_empty() {
        return args;
    }
    let mut out: Vec<_> = args[..=at].to_vec();
    out.extend(rest);
    out.push("--".into());
    out.extend(words);
    out
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Words, "phrases", -exclusions and filters such as sector:railway fy:2019 tlp:green. An
    /// exclusion is a word of the query, not an option: `kizuki search カード -三井住友`.
    #[arg(required = true, num_args = 1..)]
    pub query: Vec<String>,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
    /// Show what this user would see (their organisation and role decide).
    #[arg(long = "as", value_name = "EMAIL")]
    pub as_user: Option<String>,
    /// Number of hits to show.
    #[arg(long, default_value_t = 10)]
    pub limit: usize,
}

#[derive(Debug, Args)]
pub struct GenArgs {
    /// How many synthetic reports to write.
    #[arg(long)]
    pub reports: u64,
    /// The same seed always gives the same reports.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct ImportCsvArgs {
    /// CSV files, or folders searched for *.csv.
    #[arg(required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// Column mapping (TOML); see crates/kizuki-app/mappings/.
    #[arg(long)]
    pub mapping: PathBuf,
    /// Import the good rows even when some rows have errors (they are listed).
    #[arg(long)]
    pub skip_invalid: bool,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Search latency, index size, build time and RSS against SQLite FTS5 (trigram), with
    /// match counts checked against a brute-force scan. Build with --release.
    Search(BenchSearchArgs),
}

#[derive(Debug, Args)]
pub struct BenchSearchArgs {
    /// Corpus sizes, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "100000")]
    pub sizes: Vec<u64>,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Timed runs of each query.
    #[arg(long, default_value_t = 50)]
    pub iterations: usize,
    /// Reports whose similar items are timed.
    #[arg(long, default_value_t = 200)]
    pub similar: usize,
    /// Indexing threads.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Skip SQLite FTS5.
    #[arg(long)]
    pub no_fts5: bool,
    /// Where to build the indexes (default: a folder in the system temp dir).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Also write the report (Markdown) to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn bar(len: Option<u64>, what: &str) -> ProgressBar {
    let pb = match len {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    let style = match len {
        Some(_) => ProgressStyle::with_template(
            "{msg:12} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}, {eta} left)",
        ),
        None => ProgressStyle::with_template("{msg:12} [{elapsed_precise}] {spinner} {pos}"),
    };
    if let Ok(s) = style {
        pb.set_style(s);
    }
    pb.set_message(what.to_owned());
    pb
}

/// Opens the index and brings it up to date; with a server running (it holds the index
/// for writing) the index is only read, as the server keeps it current.
async fn open_current(app: &App, data_dir: &Path) -> Result<SearchService> {
    let svc =
        SearchService::open(data_dir, app.store.clone()).context("cannot open the search index")?;
    let pb = bar(None, "indexing");
    let r = svc.catch_up_with(&mut |p| pb.set_position(p.docs)).await;
    pb.finish_and_clear();
    match r {
        Ok(_) => {}
        Err(SearchError::Busy(_)) => {
            svc.index().refresh()?;
        }
        Err(e) => return Err(e.into()),
    }
    Ok(svc)
}

/// Terminals turn `http://…` into links; results never offer one.
fn inert(s: &str) -> String {
    s.replace("https://", "hxxps://")
        .replace("http://", "hxxp://")
}

pub async fn search(app: &App, data_dir: &Path, a: SearchArgs) -> Result<ExitCode> {
    let svc = open_current(app, data_dir).await?;
    let viewer = match &a.as_user {
        Some(e) => svc.viewer_for_email(&Email::parse(e)?).await?,
        None => kizuki_search::access::centre_viewer(),
    };
    let text = a.query.join(" ");
    let mut q = Query::parse(&text, Some(&app.taxonomy))?;
    q.limit = a.limit;
    let r = svc.search(q, viewer.clone()).await?;
    if a.json {
        let out =
            serde_json::json!({ "query": text, "viewer": viewer_label(&viewer), "results": r });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    let who = match (&a.as_user, &viewer) {
        (Some(e), v) => format!("{e} ({})", viewer_label(v)),
        (None, _) => "管理者（すべて） / administrator (everything)".to_owned(),
    };
    println!("{} 件 / hits — as {who}", r.total);
    let mut orgs = HashMap::new();
    for h in &r.hits {
        let org = match h.meta.org {
            Some(id) => org_name(app, &mut orgs, id).await,
            None => "センター".to_owned(),
        };
        let kind = match h.kind {
            kizuki_search::DocKind::Report => format!("報告 #{}", h.id),
            kizuki_search::DocKind::Case => format!("事例 case {}", h.id),
            kizuki_search::DocKind::Lesson => {
                format!("教訓 case {} lesson {}", h.id, h.lesson_no.unwrap_or(0))
            }
        };
        println!();
        println!("[{kind}] {}", inert(&h.title.to_marked("【", "】")));
        println!(
            "  {}年度 · {} · {} · TLP:{} · {}",
            h.meta
                .fiscal_year
                .map_or_else(|| "-".to_owned(), |y| y.to_string()),
            app.taxonomy
                .label(Vocabulary::Sector, &h.meta.sector, Lang::Ja),
            app.taxonomy
                .label(Vocabulary::EventType, &h.meta.event_type, Lang::Ja),
            h.meta.tlp.to_uppercase(),
            org
        );
        println!("  {}", inert(&h.snippet.to_marked("【", "】")));
    }
    println!();
    for f in &r.facets {
        if f.values.is_empty() {
            continue;
        }
        let vocab = match f.field.as_str() {
            "sector" => Some(Vocabulary::Sector),
            "event_type" => Some(Vocabulary::EventType),
            "cause" => Some(Vocabulary::Cause),
            _ => None,
        };
        let mut parts = Vec::new();
        for v in f.values.iter().take(8) {
            let label = match (vocab, f.field.as_str()) {
                (Some(voc), _) => app.taxonomy.label(voc, &v.value, Lang::Ja).to_owned(),
                (None, "severity") => format!("レベル{}", v.value),
                (None, "org") => match v.value.parse() {
                    Ok(id) => org_name(app, &mut orgs, id).await,
                    Err(_) => v.value.clone(),
                },
                _ => v.value.clone(),
            };
            parts.push(format!("{label} {}", v.count));
        }
        println!("{}: {}", f.field, parts.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}

fn viewer_label(v: &Viewer) -> &'static str {
    use kizuki_domain::user::Role;
    match v.role() {
        None => "public: published cases only",
        Some(r) if r.is_centre() => "centre: all but TLP:RED not addressed to them",
        Some(Role::Ministry) => "ministry: TLP:CLEAR/GREEN, AMBER of its sectors or shared with it",
        Some(_) => "own organisation + TLP:CLEAR/GREEN + AMBER shared with it",
    }
}

async fn org_name(app: &App, cache: &mut HashMap<i64, String>, id: i64) -> String {
    if let Some(n) = cache.get(&id) {
        return n.clone();
    }
    let n = app
        .store
        .get_org(kizuki_domain::ids::OrgId(id))
        .await
        .map_or_else(|_| format!("org {id}"), |o| o.org.name);
    cache.insert(id, n.clone());
    n
}

pub async fn reindex(app: &App, data_dir: &Path) -> Result<ExitCode> {
    let svc =
        SearchService::open(data_dir, app.store.clone()).context("cannot open the search index")?;
    svc.index().set_writer_options(WriterOptions {
        threads: 2,
        heap_bytes: 512 << 20,
    });
    // A length for the bar: every report plus every case and lesson.
    let reports = app
        .store
        .list_reports(&ReportFilter::default(), Page::new(1, 1))
        .await?
        .total;
    let cases = app.store.list_cases(None).await?;
    let docs = reports
        + cases
            .iter()
            .map(|c| 1 + c.content.lessons.len() as u64)
            .sum::<u64>();
    let pb = bar(Some(docs), "reindex");
    let started = Instant::now();
    let r = kizuki_search::follow::rebuild(svc.index(), &app.store, &mut |p| {
        pb.set_position(p.docs);
    })
    .await;
    pb.finish_and_clear();
    let p = match r {
        Ok(p) => p,
        Err(SearchError::Busy(dir)) => bail!(
            "the search index in {dir} is in use by a running kizuki server; stop it first (the server keeps the index current by itself)"
        ),
        Err(e) => return Err(e.into()),
    };
    println!(
        "reindexed {} documents from {} changes in {:.1} s; index at {} ({:.0} MiB)",
        svc.index().num_docs(),
        p.changes,
        started.elapsed().as_secs_f64(),
        data_dir.join(kizuki_search::INDEX_DIR).display(),
        svc.index().size_on_disk() as f64 / 1048576.0
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn gen_reports(app: &App, a: GenArgs) -> Result<ExitCode> {
    let synth = Synth::new(a.seed, &app.taxonomy);
    let mut org_ids = Vec::with_capacity(synth.orgs().len());
    for o in synth.orgs() {
        let id = match app.store.org_by_key(&o.key).await? {
            Some(org) => org.id,
            None => {
                let org = NewOrganisation {
                    key: o.key.clone(),
                    name: o.name.clone(),
                    kind: OrgKind::Operator,
                    sectors: vec![Code(o.sector.clone())],
                    region: None,
                }
                .parse(&app.taxonomy)?;
                app.store.create_org(org).await?.id
            }
        };
        org_ids.push(id);
    }
    let pb = bar(Some(a.reports), "generating");
    let started = Instant::now();
    for i in 0..a.reports {
        let s = synth.report(i);
        let org_id = org_ids
            .get(s.org)
            .copied()
            .context("synthetic organisation missing")?;
        let mut stages = s.stages.into_iter();
        let Some((kind, at, text)) = stages.next() else {
            continue;
        };
        let r = app
            .store
            .create_report(NewReport {
                org_id,
                details: s.details,
                first: NewStage {
                    kind,
                    at,
                    text,
                    author: None,
                },
            })
            .await?;
        for (kind, at, text) in stages {
            app.store
                .add_stage(
                    r.id,
                    NewStage {
                        kind,
                        at,
                        text,
                        author: None,
                    },
                )
                .await?;
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    println!(
        "wrote {} synthetic reports (seed {}) in {:.1} s; run `kizuki reindex` or any search to index them",
        a.reports,
        a.seed,
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn import_csv(app: &App, a: ImportCsvArgs) -> Result<ExitCode> {
    let mapping = Mapping::load(&a.mapping)?;
    let files = csv::csv_files(&a.files)?;
    if files.is_empty() {
        bail!("no CSV files found in {:?}", a.files);
    }
    let started = Instant::now();
    let pb = bar(None, "checking");
    let tx = app.taxonomy.clone();
    let m = mapping.clone();
    let prepared = {
        let pb = pb.clone();
        tokio::task::spawn_blocking(move || {
            csv::prepare(&files, &m, &tx, &mut |p| {
                if let ImportProgress::Checked { rows } = p {
                    pb.set_position(rows);
                }
            })
        })
        .await??
    };
    pb.finish_and_clear();
    if !prepared.errors.is_empty() {
        for e in prepared.errors.iter().take(20) {
            eprintln!("{e}");
        }
        if prepared.errors.len() > 20 {
            eprintln!("… and {} more", prepared.errors.len() - 20);
        }
        if !a.skip_invalid {
            eprintln!(
                "{} of {} rows have errors; nothing was written (fix them, or pass --skip-invalid to import the other rows)",
                prepared.errors.len(),
                prepared.rows
            );
            return Ok(ExitCode::FAILURE);
        }
    }
    let checked = started.elapsed();
    let pb = bar(Some(prepared.reports.len() as u64), "importing");
    let summary = csv::write(app, &mapping, prepared, &mut |p| {
        if let ImportProgress::Written { rows, .. } = p {
            pb.set_position(rows);
        }
    })
    .await?;
    pb.finish_and_clear();
    println!(
        "imported {} reports from {} rows in {} files in {:.1} s (checking {:.1} s){}{}",
        summary.written,
        summary.rows,
        summary.files,
        started.elapsed().as_secs_f64(),
        checked.as_secs_f64(),
        if summary.skipped.is_empty() {
            String::new()
        } else {
            format!("; skipped {} rows with errors", summary.skipped.len())
        },
        if summary.created_org {
            format!("; created organisation '{}'", mapping.organisation.key)
        } else {
            String::new()
        }
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn bench(cmd: BenchCommand) -> Result<ExitCode> {
    let BenchCommand::Search(a) = cmd;
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: this is a debug build; timings mean little (cargo run --release -- bench search)"
        );
    }
    let tx = kizuki_dataset::default_taxonomy()?;
    let work_dir = a.work_dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("kizuki-bench-{}", std::process::id()))
    });
    let cfg = BenchConfig {
        sizes: a.sizes.clone(),
        seed: a.seed,
        work_dir: work_dir.clone(),
        iterations: a.iterations.max(1),
        similar_samples: a.similar,
        fts5: !a.no_fts5,
        threads: a.threads,
    };
    let report =
        tokio::task::spawn_blocking(move || run_bench(&cfg, &tx, &mut |line| eprintln!("{line}")))
            .await??;
    let _ = std::fs::remove_dir(&work_dir);
    println!("{report}");
    if let Some(out) = a.out {
        std::fs::write(&out, &report).with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::exclusions_as_values;
    use std::ffi::OsString;

    fn args(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn exclusions_go_behind_a_double_dash_and_options_stay() {
        assert_eq!(
            exclusions_as_values(args(&["kizuki", "search", "カード", "-三井住友", "--json"])),
            args(&["kizuki", "search", "カード", "--json", "--", "-三井住友"])
        );
        let plain = args(&["kizuki", "search", "カード", "--as", "a@b.jp"]);
        assert_eq!(exclusions_as_values(plain.clone()), plain);
        let escaped = args(&["kizuki", "search", "--", "-x"]);
        assert_eq!(exclusions_as_values(escaped.clone()), escaped);
        let other = args(&["kizuki", "user", "disable", "--email", "-x"]);
        assert_eq!(exclusions_as_values(other.clone()), other);
    }
}
