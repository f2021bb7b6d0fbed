//! `kizuki report`: the annual survey report from the stored survey, as HTML, PDF or Markdown.

use anyhow::Result;
use kizuki_app::App;
use kizuki_app::survey::annual_report::{self, Edition};
use kizuki_domain::fiscal::FiscalYear;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Html,
    Pdf,
    /// The PDF on landscape pages, like the reference report's slides.
    PdfLandscape,
    Md,
}

impl From<Format> for annual_report::Format {
    fn from(f: Format) -> Self {
        match f {
            Format::Html => annual_report::Format::Html,
            Format::Pdf => annual_report::Format::Pdf,
            Format::PdfLandscape => annual_report::Format::PdfLandscape,
            Format::Md => annual_report::Format::Markdown,
        }
    }
}

pub async fn run(
    app: &App,
    survey: &str,
    format: Format,
    out: &Path,
    fonts: &[PathBuf],
) -> Result<()> {
    let fy = FiscalYear::parse(survey).map_err(|e| anyhow::anyhow!("--survey: {e}"))?;
    let r = annual_report::render(app, Edition::Operator, fy.year(), format.into(), fonts).await?;
    std::fs::write(out, &r.bytes).map_err(|e| anyhow::anyhow!("writing {}: {e}", out.display()))?;
    println!(
        "wrote the {} report of survey {} to {} ({} bytes)",
        match format {
            Format::Html => "HTML",
            Format::Pdf => "PDF",
            Format::PdfLandscape => "landscape PDF",
            Format::Md => "Markdown",
        },
        fy.year(),
        out.display(),
        r.bytes.len()
    );
    Ok(())
}
