//! `kizuki bench search`: the search index against SQLite FTS5 (trigram tokenizer) on the
//! same synthetic reports in the same run, with every engine's match counts checked against
//! a brute-force scan, because a fast wrong answer is not a win.
//!
//! Both engines get the same normalised text (so they differ only in how they tokenise),
//! the same queries and the same filters. Our engine's timing covers the whole answer a page
//! needs: top 10 with snippets, total and all facet counts. FTS5's covers a count and the top
//! 10 by rank with `snippet()`.

use crate::synth::Synth;
use kizuki_domain::ids::{OrgId, ReportId};
use kizuki_domain::taxonomy::Taxonomy;
use kizuki_search::access::{Viewer, may_see};
use kizuki_search::doc::IndexDoc;
use kizuki_search::error::{SearchError, SearchResult};
use kizuki_search::index::{SearchIndex, WriterOptions};
use kizuki_search::normalize::normalize;
use kizuki_search::query::Query;
use kizuki_search::similar::{SimilarOptions, SimilarTo};
use rusqlite::params_from_iter;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct BenchConfig {
    pub sizes: Vec<u64>,
    pub seed: u64,
    /// Where the indexes are built (emptied first).
    pub work_dir: PathBuf,
    /// Timed runs of each query.
    pub iterations: usize,
    /// Reports whose similar items are timed.
    pub similar_samples: usize,
    /// Also build and query SQLite FTS5.
    pub fts5: bool,
    /// Indexing threads for the search index.
    pub threads: usize,
}

/// A word the brute-force scan understands: a Japanese string (substring) or Latin words
/// (whole words, next to each other when there are several).
#[derive(Debug, Clone)]
enum Needle {
    Japanese(String),
    Latin(String),
}

#[derive(Debug, Clone, Default)]
struct Filter {
    sector: Option<&'static str>,
    fiscal_year: Option<i32>,
    tlp: Option<&'static str>,
    /// Run as an operator of this organisation (access rule applies).
    member_of: Option<i64>,
}

#[derive(Debug, Clone)]
struct BenchQuery {
    class: &'static str,
    /// As typed into kizuki.
    text: &'static str,
    needles: Vec<Needle>,
    filter: Filter,
}

fn queries() -> Vec<BenchQuery> {
    // Needles are normalised once, as the engine normalises the query.
    let j = |s: &str| Needle::Japanese(normalize(s));
    let l = |s: &str| Needle::Latin(normalize(s));
    let q = |class, text, needles, filter| BenchQuery {
        class,
        text,
        needles,
        filter,
    };
    let none = Filter::default;
    vec![
        q("common term", "障害", vec![j("障害")], none()),
        q("common term", "停止", vec![j("停止")], none()),
        q("common term", "メール", vec![j("メール")], none()),
        q("common term", "affected", vec![l("affected")], none()),
        q(
            "two terms",
            "不正 ログイン",
            vec![j("不正"), j("ログイン")],
            none(),
        ),
        q("two terms", "端末 感染", vec![j("端末"), j("感染")], none()),
        q(
            "two terms",
            "power outage",
            vec![l("power"), l("outage")],
            none(),
        ),
        q("rare term", "閏秒", vec![j("閏秒")], none()),
        q("rare term", "BlackCat", vec![l("blackcat")], none()),
        q("rare term", "改元", vec![j("改元")], none()),
        q(
            "phrase",
            "\"ウイルススキャンを実施\"",
            vec![j("ウイルススキャンを実施")],
            none(),
        ),
        q(
            "phrase",
            "\"データベースファイルが破損\"",
            vec![j("データベースファイルが破損")],
            none(),
        ),
        q(
            "phrase",
            "\"power outage\"",
            vec![l("power outage")],
            none(),
        ),
        q(
            "facet filter",
            "障害 sector:railway",
            vec![j("障害")],
            Filter {
                sector: Some("railway"),
                ..Filter::default()
            },
        ),
        q(
            "facet filter",
            "メール fy:2020",
            vec![j("メール")],
            Filter {
                fiscal_year: Some(2020),
                ..Filter::default()
            },
        ),
        q(
            "facet filter",
            "停止 tlp:clear",
            vec![j("停止")],
            Filter {
                tlp: Some("clear"),
                ..Filter::default()
            },
        ),
        q(
            "as operator",
            "障害",
            vec![j("障害")],
            Filter {
                member_of: Some(1),
                ..Filter::default()
            },
        ),
        q(
            "as operator",
            "メール",
            vec![j("メール")],
            Filter {
                member_of: Some(1),
                ..Filter::default()
            },
        ),
    ]
}

/// The organisation numbers synthetic reports are filed under start here.
const ORG_BASE: i64 = 1;

fn doc(s: &Synth, i: u64) -> IndexDoc {
    IndexDoc::from_report(&s.stored_report(i, ORG_BASE))
}

fn viewer(f: &Filter) -> Viewer {
    match f.member_of {
        Some(o) => kizuki_search::access::operator_viewer(OrgId(o)),
        None => kizuki_search::access::centre_viewer(),
    }
}

fn latin_match(text: &str, words: &str) -> bool {
    text.match_indices(words).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + words.len()..].chars().next();
        let word_char = |c: char| c.is_alphanumeric() && !kizuki_search::analysis::is_cjk(c);
        !before.is_some_and(word_char) && !after.is_some_and(word_char)
    })
}

/// The truth for one document, by plain string search over the normalised fields.
fn brute_matches(q: &BenchQuery, d: &IndexDoc, title: &str, body: &str) -> bool {
    let f = &q.filter;
    if f.sector.is_some_and(|s| s != d.sector)
        || f.fiscal_year.is_some_and(|y| Some(y) != d.fiscal_year)
        || f.tlp.is_some_and(|t| t != d.tlp.code())
        || !may_see(&viewer(f), &d.audience())
    {
        return false;
    }
    q.needles.iter().all(|n| match n {
        Needle::Japanese(s) => title.contains(s.as_str()) || body.contains(s.as_str()),
        Needle::Latin(w) => latin_match(title, w) || latin_match(body, w),
    })
}

/// FTS5 MATCH text: each needle a quoted string (a substring for the trigram tokenizer).
fn fts_match(q: &BenchQuery) -> String {
    q.needles
        .iter()
        .map(|n| match n {
            Needle::Japanese(s) | Needle::Latin(s) => format!("\"{s}\""),
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

fn fts_where(q: &BenchQuery) -> (String, Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value as V;
    let mut w = String::new();
    let mut args: Vec<V> = vec![V::Text(fts_match(q))];
    let f = &q.filter;
    if let Some(s) = f.sector {
        args.push(V::Text(s.into()));
        let _ = write!(w, " AND d.sector = ?{}", args.len());
    }
    if let Some(y) = f.fiscal_year {
        args.push(V::Integer(i64::from(y)));
        let _ = write!(w, " AND d.fy = ?{}", args.len());
    }
    if let Some(t) = f.tlp {
        args.push(V::Text(t.into()));
        let _ = write!(w, " AND d.tlp = ?{}", args.len());
    }
    // The access rule of kizuki_domain::access in SQL, for the corpus's reports (nobody named
    // in a sharing list): an operator reads its own and CLEAR/GREEN; the centre all but RED.
    if let Some(o) = f.member_of {
        args.push(V::Integer(o));
        let _ = write!(
            w,
            " AND (d.org = ?{} OR d.tlp IN ('clear', 'green'))",
            args.len()
        );
    } else {
        w.push_str(" AND d.tlp <> 'red'");
    }
    (w, args)
}

#[derive(Debug, Clone, Default)]
struct Timings(Vec<Duration>);

impl Timings {
    fn pct(&self, p: f64) -> f64 {
        let mut v: Vec<f64> = self.0.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        v.sort_by(f64::total_cmp);
        if v.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
        v[rank.clamp(1, v.len()) - 1]
    }
}

fn rss_kb(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

fn dir_size(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| {
                    let path = e.path();
                    if path.is_dir() {
                        dir_size(&path)
                    } else {
                        e.metadata().map(|m| m.len()).unwrap_or(0)
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

fn mib(b: u64) -> String {
    format!("{:.0} MiB", b as f64 / (1024.0 * 1024.0))
}

fn sql(e: rusqlite::Error) -> SearchError {
    SearchError::Internal(format!("sqlite: {e}"))
}

/// Runs the benchmark, printing progress through `log` and returning the report (Markdown).
pub fn run(cfg: &BenchConfig, tx: &Taxonomy, log: &mut dyn FnMut(&str)) -> SearchResult<String> {
    let mut out = String::new();
    let synth = Synth::new(cfg.seed, tx);
    let qs = queries();
    let _ = writeln!(
        out,
        "seed {}, {} timed runs per query after one warm-up, {} indexing thread(s)\n",
        cfg.seed, cfg.iterations, cfg.threads
    );
    for &n in &cfg.sizes {
        log(&format!("== {n} reports"));
        let dir = cfg.work_dir.join(format!("n{n}"));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .map_err(|e| SearchError::io(format!("removing {}", dir.display()), e))?;
        }
        std::fs::create_dir_all(&dir)
            .map_err(|e| SearchError::io(format!("creating {}", dir.display()), e))?;

        // Truth first: one pass over the corpus answers every query.
        log("brute-force scan");
        let mut truth = vec![0u64; qs.len()];
        let t0 = Instant::now();
        for i in 0..n {
            let d = doc(&synth, i);
            let (title, body) = (normalize(&d.title), normalize(&d.body));
            for (k, q) in qs.iter().enumerate() {
                if brute_matches(q, &d, &title, &body) {
                    truth[k] += 1;
                }
            }
        }
        let brute_time = t0.elapsed();

        // The search index.
        log("building the search index");
        let index = SearchIndex::open(&dir.join("index"))?;
        index.set_writer_options(WriterOptions {
            threads: cfg.threads.max(1),
            heap_bytes: 256 << 20,
        });
        let mut build = Duration::ZERO;
        let mut batch = Vec::with_capacity(10_000);
        let mut i = 0;
        while i < n {
            batch.clear();
            let end = (i + 10_000).min(n);
            batch.extend((i..end).map(|k| doc(&synth, k)));
            let t = Instant::now();
            index.add(&batch, &[])?;
            build += t.elapsed();
            i = end;
        }
        let t = Instant::now();
        index.commit(1)?;
        index.finish_writes()?;
        build += t.elapsed();
        let index_size = dir_size(&dir.join("index"));
        let peak_build_kb = rss_kb("VmHWM:");
        log(&format!("built in {:.1} s", build.as_secs_f64()));

        let mut ours: Vec<(Timings, u64)> = Vec::new();
        for q in &qs {
            let query = Query {
                limit: 10,
                ..Query::new(q.text)
            };
            let v = viewer(&q.filter);
            let total = index.search(&query, &v)?.total;
            let mut t = Timings::default();
            for _ in 0..cfg.iterations {
                let s = Instant::now();
                let r = index.search(&query, &v)?;
                t.0.push(s.elapsed());
                std::hint::black_box(r);
            }
            ours.push((t, total));
        }
        let rss_query_kb = rss_kb("VmRSS:");

        // Similar items for a fixed sample of reports: first as the index happens to be in
        // the page cache after the queries, then after `warm` (what `serve` does at start)
        // for a second, disjoint sample.
        let step = (n / cfg.similar_samples.max(1) as u64).max(1);
        let time_similar = |offset: u64| -> Result<Timings, SearchError> {
            let mut sim = Timings::default();
            for k in 0..cfg.similar_samples as u64 {
                let id = ReportId(i64::try_from((k * step + offset) % n).unwrap_or(0) + 1);
                let s = Instant::now();
                let r = index.similar(
                    &SimilarTo::Report(id),
                    &kizuki_search::access::centre_viewer(),
                    &SimilarOptions::default(),
                )?;
                sim.0.push(s.elapsed());
                std::hint::black_box(r);
            }
            Ok(sim)
        };
        let sim = time_similar(0)?;
        let t = Instant::now();
        let warmed = index.warm()?;
        log(&format!(
            "read {} MiB of index files into the page cache in {:.1} s",
            warmed >> 20,
            t.elapsed().as_secs_f64()
        ));
        let sim_warm = time_similar(step / 2)?;
        drop(index);

        // SQLite FTS5 with the trigram tokenizer over the same normalised rows.
        let mut fts: Vec<Option<(Timings, u64)>> = vec![None; qs.len()];
        let mut fts_build = Duration::ZERO;
        let mut fts_size = 0;
        if cfg.fts5 {
            log("building SQLite FTS5 (trigram)");
            let path = dir.join("fts5.db");
            let mut c = rusqlite::Connection::open(&path).map_err(sql)?;
            c.execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
                 CREATE TABLE d (id INTEGER PRIMARY KEY, sector TEXT, fy INTEGER, tlp TEXT, org INTEGER);
                 CREATE VIRTUAL TABLE f USING fts5(title, body, tokenize = 'trigram');",
            )
            .map_err(sql)?;
            let mut i = 0;
            while i < n {
                let end = (i + 10_000).min(n);
                let rows: Vec<(IndexDoc, String, String)> = (i..end)
                    .map(|k| {
                        let d = doc(&synth, k);
                        let (t, b) = (normalize(&d.title), normalize(&d.body));
                        (d, t, b)
                    })
                    .collect();
                let t = Instant::now();
                let txn = c.transaction().map_err(sql)?;
                {
                    let mut ins_d = txn
                        .prepare_cached(
                            "INSERT INTO d (id, sector, fy, tlp, org) VALUES (?1, ?2, ?3, ?4, ?5)",
                        )
                        .map_err(sql)?;
                    let mut ins_f = txn
                        .prepare_cached("INSERT INTO f (rowid, title, body) VALUES (?1, ?2, ?3)")
                        .map_err(sql)?;
                    for (d, title, body) in &rows {
                        ins_d
                            .execute(rusqlite::params![
                                d.id,
                                d.sector,
                                d.fiscal_year,
                                d.tlp.code(),
                                d.org.map(|o| o.0)
                            ])
                            .map_err(sql)?;
                        ins_f
                            .execute(rusqlite::params![d.id, title, body])
                            .map_err(sql)?;
                    }
                }
                txn.commit().map_err(sql)?;
                fts_build += t.elapsed();
                i = end;
            }
            let t = Instant::now();
            c.execute_batch(
                "INSERT INTO f(f) VALUES ('optimize');
                 CREATE INDEX d_sector ON d (sector); CREATE INDEX d_fy ON d (fy);
                 CREATE INDEX d_tlp ON d (tlp); CREATE INDEX d_org ON d (org);",
            )
            .map_err(sql)?;
            fts_build += t.elapsed();
            fts_size = dir_size(&dir) - index_size;
            log(&format!("FTS5 built in {:.1} s", fts_build.as_secs_f64()));
            for (k, q) in qs.iter().enumerate() {
                let (wh, args) = fts_where(q);
                let count_sql =
                    format!("SELECT count(*) FROM f JOIN d ON d.id = f.rowid WHERE f MATCH ?1{wh}");
                let top_sql = format!(
                    "SELECT f.rowid, snippet(f, 1, '[', ']', '…', 16) FROM f JOIN d ON d.id = f.rowid
                     WHERE f MATCH ?1{wh} ORDER BY rank LIMIT 10"
                );
                let run = |c: &rusqlite::Connection| -> SearchResult<u64> {
                    let total: i64 = c
                        .prepare_cached(&count_sql)
                        .map_err(sql)?
                        .query_row(params_from_iter(args.iter()), |r| r.get(0))
                        .map_err(sql)?;
                    let mut st = c.prepare_cached(&top_sql).map_err(sql)?;
                    let rows: Vec<(i64, String)> = st
                        .query_map(params_from_iter(args.iter()), |r| {
                            Ok((r.get(0)?, r.get(1)?))
                        })
                        .map_err(sql)?
                        .collect::<Result<_, _>>()
                        .map_err(sql)?;
                    std::hint::black_box(rows);
                    Ok(u64::try_from(total).unwrap_or(0))
                };
                let total = run(&c)?;
                let mut t = Timings::default();
                for _ in 0..cfg.iterations {
                    let s = Instant::now();
                    run(&c)?;
                    t.0.push(s.elapsed());
                }
                fts[k] = Some((t, total));
            }
        }

        // Report.
        let _ = writeln!(out, "### {n} reports\n");
        let _ = writeln!(
            out,
            "| | kizuki-search (tantivy, bigrams) | SQLite FTS5 (trigram) |\n|---|---|---|"
        );
        let _ = writeln!(
            out,
            "| build time | {:.1} s | {} |",
            build.as_secs_f64(),
            if cfg.fts5 {
                format!("{:.1} s", fts_build.as_secs_f64())
            } else {
                "–".into()
            }
        );
        let _ = writeln!(
            out,
            "| size on disk | {} | {} |",
            mib(index_size),
            if cfg.fts5 {
                mib(fts_size)
            } else {
                "–".into()
            }
        );
        let _ = writeln!(
            out,
            "| process RSS: peak while building / after the queries | {} / {} | (same process) |",
            mib(peak_build_kb * 1024),
            mib(rss_query_kb * 1024)
        );
        let _ = writeln!(
            out,
            "| similar items, {} reports, index as the queries left it: p50 / p95 / p99 | {:.1} / {:.1} / {:.1} ms | – |",
            sim.0.len(),
            sim.pct(50.0),
            sim.pct(95.0),
            sim.pct(99.0)
        );
        let _ = writeln!(
            out,
            "| similar items, {} other reports, index files read into the page cache first (as `serve` does): p50 / p95 / p99 | {:.1} / {:.1} / {:.1} ms | – |",
            sim_warm.0.len(),
            sim_warm.pct(50.0),
            sim_warm.pct(95.0),
            sim_warm.pct(99.0)
        );
        let _ = writeln!(
            out,
            "| brute-force scan (all queries, one pass) | {:.1} s | |\n",
            brute_time.as_secs_f64()
        );
        let _ = writeln!(
            out,
            "| class | query | true matches | kizuki: matches | kizuki p50 / p95 / p99 ms | FTS5: matches | FTS5 p50 / p95 / p99 ms |\n|---|---|---:|---:|---|---:|---|"
        );
        let mut wrong = Vec::new();
        for (k, q) in qs.iter().enumerate() {
            let (t, total) = &ours[k];
            let mark = |got: u64| {
                if got == truth[k] {
                    format!("{got}")
                } else {
                    format!("**{got} WRONG**")
                }
            };
            if *total != truth[k] {
                wrong.push(format!(
                    "kizuki `{}`: {} instead of {}",
                    q.text, total, truth[k]
                ));
            }
            let fts_cell = match &fts[k] {
                Some((ft, ftotal)) => {
                    if *ftotal != truth[k] {
                        wrong.push(format!(
                            "FTS5 `{}`: {} instead of {}",
                            q.text, ftotal, truth[k]
                        ));
                    }
                    (
                        mark(*ftotal),
                        format!(
                            "{:.1} / {:.1} / {:.1}",
                            ft.pct(50.0),
                            ft.pct(95.0),
                            ft.pct(99.0)
                        ),
                    )
                }
                None => ("–".into(), "–".into()),
            };
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | {} | {:.1} / {:.1} / {:.1} | {} | {} |",
                q.class,
                q.text,
                truth[k],
                mark(*total),
                t.pct(50.0),
                t.pct(95.0),
                t.pct(99.0),
                fts_cell.0,
                fts_cell.1
            );
        }
        let _ = writeln!(out);
        // Per class, the worst p99 of its queries.
        let mut classes: Vec<&str> = qs.iter().map(|q| q.class).collect();
        classes.dedup();
        let _ = writeln!(
            out,
            "| class | kizuki worst p99 ms | FTS5 worst p99 ms |\n|---|---:|---:|"
        );
        for c in classes {
            let ks: Vec<usize> = (0..qs.len()).filter(|&k| qs[k].class == c).collect();
            let ours_p99 = ks.iter().map(|&k| ours[k].0.pct(99.0)).fold(0.0, f64::max);
            let fts_p99 = ks
                .iter()
                .filter_map(|&k| fts[k].as_ref().map(|x| x.0.pct(99.0)))
                .fold(0.0, f64::max);
            let _ = writeln!(
                out,
                "| {c} | {ours_p99:.1} | {} |",
                if cfg.fts5 {
                    format!("{fts_p99:.1}")
                } else {
                    "–".into()
                }
            );
        }
        let _ = writeln!(out);
        if wrong.is_empty() {
            let _ = writeln!(out, "All match counts agree with the brute-force scan.\n");
        } else {
            let _ = writeln!(out, "Wrong answers:\n");
            for w in wrong {
                let _ = writeln!(out, "- {w}");
            }
            let _ = writeln!(out);
        }
        log(&out);
        std::fs::remove_dir_all(&dir)
            .map_err(|e| SearchError::io(format!("removing {}", dir.display()), e))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_run_agrees_with_the_brute_force_scan() {
        let dir = tempfile::tempdir().unwrap();
        let tx = kizuki_dataset::default_taxonomy().unwrap();
        let report = run(
            &BenchConfig {
                sizes: vec![3000],
                seed: 3,
                work_dir: dir.path().to_owned(),
                iterations: 1,
                similar_samples: 3,
                fts5: true,
                threads: 1,
            },
            &tx,
            &mut |_| {},
        )
        .unwrap();
        assert!(
            !report.contains("kizuki `"),
            "our engine must match the scan:\n{report}"
        );
        // FTS5's trigram tokenizer cannot match two-character terms.
        assert!(report.contains("FTS5 `障害`"), "{report}");
    }
}
