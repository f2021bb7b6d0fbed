//! The annual survey report as a file: which cases go in for whom, and the one rendering path
//! (HTML, PDF, Markdown) that the survey page, the public portal and `kizuki report` share.

use crate::App;
use crate::auth::Principal;
use crate::error::{AppError, AppResult};
use kizuki_annual_report::ReportModel;

use std::path::PathBuf;

/// The file formats of the annual report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    Pdf,
    /// The PDF with its pages on their side, like the reference report's slides.
    PdfLandscape,
    Markdown,
}

impl Format {
    /// The format a download's name (`html`, `pdf`, `pdf-landscape`, `md`) asks for.
    pub fn from_extension(ext: &str) -> Option<Format> {
        match ext {
            "html" => Some(Format::Html),
            "pdf" => Some(Format::Pdf),
            "pdf-landscape" => Some(Format::PdfLandscape),
            "md" => Some(Format::Markdown),
            _ => None,
        }
    }

    /// The name [`Format::from_extension`] reads.
    pub fn code(self) -> &'static str {
        match self {
            Format::PdfLandscape => "pdf-landscape",
            other => other.extension(),
        }
    }

    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Html => "html",
            Format::Pdf | Format::PdfLandscape => "pdf",
            Format::Markdown => "md",
        }
    }

    /// The media type of a download in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Html => "text/html; charset=utf-8",
            Format::Pdf | Format::PdfLandscape => "application/pdf",
            Format::Markdown => "text/markdown; charset=utf-8",
        }
    }
}

/// Whose edition of the report: it decides which cases and which text go in.
#[derive(Debug, Clone, Copy)]
pub enum Edition<'a> {
    /// A signed-in member: the survey's cases as that member may read them.
    Member(&'a Principal),
    /// Anyone: a published edition (the latest when `None`), made of the published,
    /// anonymised cases as they were when the editors published the year.
    Public(Option<u32>),
    /// The operator of the service on the command line: every case as written.
    Operator,
}

/// A rendered report, ready to be written to a file or sent as a download.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub bytes: Vec<u8>,
    pub format: Format,
    /// `kizuki-survey-2019.pdf`.
    pub file_name: String,
}

/// The report model of survey `year` as `edition` sees it; "not found" when that edition has
/// no report of the year.
pub async fn model(app: &App, edition: Edition<'_>, year: i32) -> AppResult<ReportModel> {
    let (survey, cases) = match edition {
        Edition::Member(p) => {
            let v = crate::survey::cases::survey(app, p, year).await?;
            let cases: Vec<_> = v.cases.into_iter().map(|c| c.content).collect();
            (v.survey.content, cases)
        }
        Edition::Public(n) => return Ok(crate::publication::year::edition(app, year, n).await?.0),
        Edition::Operator => {
            let survey = app.store.get_survey(year).await?;
            let cases: Vec<_> = app
                .store
                .list_cases(Some(year))
                .await?
                .into_iter()
                .map(|c| c.content)
                .collect();
            if cases.is_empty() {
                return Err(AppError::Refused(format!("survey {year} has no cases yet")));
            }
            (survey.content, cases)
        }
    };
    let draft = kizuki_annual_report::build_report(&survey, &cases, &app.taxonomy);
    // The appendix a draft shows is the one publishing would freeze into the edition.
    Ok(draft
        .with_imprint(imprint(app, "作成", app.clock.now(), None).await?)
        .with_appendix(crate::stats::appendix(app, year).await?))
}

/// The cover's imprint: the coordinating centre as publisher (the first organisation of
/// kind centre in the directory), and the day in Japan with its 和暦.
pub(crate) async fn imprint(
    app: &App,
    date_label: &str,
    at: chrono::DateTime<chrono::Utc>,
    edition: Option<u32>,
) -> AppResult<kizuki_annual_report::Imprint> {
    let publisher = crate::directory::centre_org(app)
        .await?
        .map(|o| o.org.name)
        .unwrap_or_default();
    let day = kizuki_domain::clock::jst_date(at);
    Ok(kizuki_annual_report::Imprint {
        publisher,
        date_label: date_label.to_owned(),
        date: kizuki_domain::wareki::format_both(day),
        edition,
    })
}

/// Renders survey `year` for `edition` in `format`. PDF fonts: the `fonts` files first, then
/// the usual package locations.
pub async fn render(
    app: &App,
    edition: Edition<'_>,
    year: i32,
    format: Format,
    fonts: &[PathBuf],
) -> AppResult<Rendered> {
    let model = model(app, edition, year).await?;
    let bytes = render_model(model, format, fonts).await?;
    Ok(Rendered {
        bytes,
        format,
        file_name: match format {
            Format::PdfLandscape => format!("kizuki-survey-{year}-landscape.pdf"),
            _ => format!("kizuki-survey-{year}.{}", format.extension()),
        },
    })
}

/// Renders a model; typesetting a PDF takes about a second of CPU, so it runs off the async
/// workers.
pub async fn render_model(
    model: ReportModel,
    format: Format,
    fonts: &[PathBuf],
) -> AppResult<Vec<u8>> {
    Ok(match format {
        Format::Html => kizuki_annual_report::render_html(&model).into_bytes(),
        Format::Markdown => kizuki_annual_report::render_markdown(&model).into_bytes(),
        Format::Pdf | Format::PdfLandscape => {
            let fonts = fonts.to_vec();
            let layout = match format {
                Format::PdfLandscape => kizuki_pdf::Layout::Landscape,
                _ => kizuki_pdf::Layout::Portrait,
            };
            tokio::task::spawn_blocking(move || {
                kizuki_pdf::render_pdf_with_fonts_in(&model, &fonts, layout)
            })
            .await
            .map_err(|e| AppError::Internal(format!("PDF task: {e}")))?
            .map_err(|e| AppError::Internal(format!("PDF: {e}")))?
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kizuki_store::StoreError;

    #[test]
    fn formats_round_trip_through_their_extension() {
        for f in [Format::Html, Format::Pdf, Format::Markdown] {
            assert_eq!(Format::from_extension(f.extension()), Some(f));
        }
        for f in [
            Format::Html,
            Format::Pdf,
            Format::PdfLandscape,
            Format::Markdown,
        ] {
            assert_eq!(Format::from_extension(f.code()), Some(f));
        }
        assert_eq!(Format::from_extension("docx"), None);
    }

    #[tokio::test]
    async fn the_operator_edition_holds_every_case_and_the_public_one_waits_for_all() {
        let (app, _dir) = crate::test_support::demo(1).await;
        let md = render(&app, Edition::Operator, 2019, Format::Markdown, &[])
            .await
            .unwrap();
        let text = String::from_utf8(md.bytes).unwrap();
        assert_eq!(md.file_name, "kizuki-survey-2019.md");
        assert!(text.contains("事例7"), "all seven cases: {}", &text[..200]);
        assert!(matches!(
            render(&app, Edition::Operator, 2031, Format::Html, &[]).await,
            Err(AppError::Store(StoreError::NotFound { .. }))
        ));
    }
}
