//! Writes the 2019 report as PDF, for looking at it by eye:
//! `cargo run -p kizuki-pdf --example pdf_2019 -- OUT.pdf`.

use kizuki_annual_report::ReportModel;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "target/report-2019.pdf".into()),
    );
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/surveys/2019");
    let tx = kizuki_dataset::default_taxonomy()?;
    let data = kizuki_dataset::load_survey_dir(&root, &tx)?;
    let cases: Vec<_> = data.cases.into_iter().map(|c| c.case).collect();
    let model = ReportModel::build(&data.survey, &cases, &tx);
    let pdf = kizuki_pdf::render_pdf(&model)?;
    std::fs::write(&out, pdf)?;
    println!("wrote {}", out.display());
    Ok(())
}
