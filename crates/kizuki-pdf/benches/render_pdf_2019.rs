//! Benchmark (not a test): the 2019 report as PDF with typst, from loading the font to the
//! finished bytes.
//!
//! `cargo bench -p kizuki-pdf --bench render_pdf_2019` (add `--profile dev` for a debug build).
//! typst memoises across compilations, so every timed run starts with its caches emptied: the
//! figures are what a one-off `kizuki report --format pdf` costs. Figures go in
//! docs/PERFORMANCE.md.

use kizuki_annual_report::ReportModel;
use kizuki_pdf::{PdfFonts, PdfRenderer};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const RUNS: usize = 5;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/surveys/2019");
    let tx = kizuki_dataset::default_taxonomy()?;
    let data = kizuki_dataset::load_survey_dir(&dir, &tx)?;
    let cases: Vec<_> = data.cases.into_iter().map(|c| c.case).collect();

    let t = Instant::now();
    let fonts = PdfFonts::discover()?;
    let font_load = t.elapsed();
    println!(
        "fonts: {} ({:?}) loaded in {font_load:.2?}",
        fonts.families().join(", "),
        fonts.paths
    );
    let renderer = PdfRenderer::with_fonts(fonts)?;

    let mut times: Vec<Duration> = Vec::new();
    let mut size = 0;
    for _ in 0..RUNS {
        typst::comemo::evict(0);
        let t = Instant::now();
        let model = ReportModel::build(&data.survey, &cases, &tx);
        let pdf = renderer.render(&model)?;
        times.push(t.elapsed());
        size = black_box(pdf).len();
    }
    times.sort();
    println!(
        "data: 2019 survey, {} cases; PDF {size} bytes; {RUNS} cold runs (model + typeset + PDF)",
        cases.len()
    );
    println!(
        "PDF                  best {:>10.2?}  median {:>10.2?}",
        times[0],
        times[times.len() / 2]
    );
    Ok(())
}
