//! Writes the 2019 report as HTML, Markdown and one SVG per case diagram into a folder, for
//! looking at the output by eye: `cargo run -p kizuki-annual-report --example report_2019 -- OUTDIR`.

use kizuki_annual_report::{ReportModel, diagram_files, render_html, render_markdown};
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "target/report-2019".into()),
    );
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/surveys/2019");
    let tx = kizuki_dataset::default_taxonomy()?;
    let data = kizuki_dataset::load_survey_dir(&root, &tx)?;
    let cases: Vec<_> = data.cases.into_iter().map(|c| c.case).collect();
    let model = ReportModel::build(&data.survey, &cases, &tx);
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("report-2019.html"), render_html(&model))?;
    std::fs::write(out.join("report-2019.md"), render_markdown(&model))?;
    for (name, svg) in diagram_files(&model) {
        std::fs::write(out.join(name), svg)?;
    }
    println!("wrote {}", out.display());
    Ok(())
}
