//! `kizuki report`: the annual survey report from the stored survey, as HTML, PDF or Markdown.

use anyhow::{Context, Result, bail};
use kizuki_app::App;
use kizuki_domain::fiscal::FiscalYear;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Html,
    Pdf,
    Md,
}

pub async fn run(app: &App, survey: &str, format: Format, out: &Path) -> Result<()> {
    let fy = FiscalYear::parse(survey).map_err(|e| anyhow::anyhow!("--survey: {e}"))?;
    let data = kizuki_app::survey::export_survey(app, fy.year()).await?;
    if data.cases.is_empty() {
        bail!("survey {} has no cases yet", fy.year());
    }
    let cases: Vec<_> = data.cases.into_iter().map(|c| c.case).collect();
    let model = kizuki_report::build_report(&data.survey, &cases, &app.taxonomy);
    let bytes = match format {
        Format::Html => kizuki_report::render_html(&model).into_bytes(),
        Format::Md => kizuki_report::render_markdown(&model).into_bytes(),
        // Typesetting is CPU-bound; keep it off the async workers.
        Format::Pdf => tokio::task::spawn_blocking(move || kizuki_pdf::render_pdf(&model))
            .await
            .context("PDF rendering stopped")??,
    };
    std::fs::write(out, &bytes).with_context(|| format!("writing {}", out.display()))?;
    println!(
        "wrote the {} report of survey {} to {} ({} bytes)",
        match format {
            Format::Html => "HTML",
            Format::Pdf => "PDF",
            Format::Md => "Markdown",
        },
        fy.year(),
        out.display(),
        bytes.len()
    );
    Ok(())
}
