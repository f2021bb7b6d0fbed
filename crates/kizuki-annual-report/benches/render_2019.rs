//! Benchmark (not a test): building the 2019 report model, with its seven generated diagrams,
//! and rendering it as HTML and Markdown.
//!
//! `cargo bench -p kizuki-annual-report --bench render_2019` (add `--profile dev` for a debug build).
//! Prints the data size and the best and median of repeated runs; figures go in
//! docs/PERFORMANCE.md.

use kizuki_annual_report::{ReportModel, render_html, render_markdown};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const RUNS: usize = 30;

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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/surveys/2019");
    let tx = kizuki_dataset::default_taxonomy()?;
    let data = kizuki_dataset::load_survey_dir(&dir, &tx)?;
    let cases: Vec<_> = data.cases.into_iter().map(|c| c.case).collect();
    let survey = data.survey;

    let model = ReportModel::build(&survey, &cases, &tx);
    let html = render_html(&model);
    let md = render_markdown(&model);
    let events: usize = cases
        .iter()
        .map(|c| c.steps.len() + c.responses.len())
        .sum();
    let actors: usize = cases.iter().map(|c| c.actors.len()).sum();
    println!(
        "data: 2019 survey, {} cases, {actors} actors, {events} steps+responses; \
         output: HTML {} bytes, Markdown {} bytes",
        cases.len(),
        html.len(),
        md.len()
    );

    let (best, median) = time(RUNS, || ReportModel::build(&survey, &cases, &tx));
    println!("model + 7 diagrams   best {best:>10.2?}  median {median:>10.2?}");
    let (best, median) = time(RUNS, || render_html(&model));
    println!("HTML (from model)    best {best:>10.2?}  median {median:>10.2?}");
    let (best, median) = time(RUNS, || render_markdown(&model));
    println!("Markdown (from model) best {best:>9.2?}  median {median:>10.2?}");
    let (best, median) = time(RUNS, || {
        let m = ReportModel::build(&survey, &cases, &tx);
        (render_html(&m), render_markdown(&m))
    });
    println!("all: model+HTML+MD   best {best:>10.2?}  median {median:>10.2?}");
    Ok(())
}
