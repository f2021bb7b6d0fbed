//! The annual survey report as an A4 PDF, typeset with typst from `kizuki-annual-report`'s model.
//!
//! A fixed typst template (`report.typ`, compiled into the crate) reads the model as JSON from
//! an in-memory file; diagrams travel inside it as SVG text and are placed as vector images.
//! A second template (`document.typ`) typesets a plain [`Document`] (an interview's record) in
//! the same style. Nothing is read from disk but the font files, and the PDF carries no
//! timestamp, so the same model gives the same PDF.
//!
//! ```text
//! let pdf = kizuki_pdf::render_pdf(&model)?;           // finds a Japanese font itself
//! let renderer = kizuki_pdf::PdfRenderer::new()?;      // or load fonts once, render often
//! let pdf = renderer.render(&model)?;
//! let pdf = renderer.render_document(&document)?;      // a plain document, same fonts
//! ```

mod fonts;
mod world;

pub use fonts::{FONT_CANDIDATES, FONT_ENV, FONT_PACKAGE, PdfFonts};

use kizuki_annual_report::{Document, ReportModel};
use serde_json::json;
use std::path::PathBuf;
use typst::diag::{Severity, SourceDiagnostic};
use typst::foundations::Smart;
use typst_layout::PagedDocument;

/// Why a PDF could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// No font that covers Japanese was found; the message says what to install.
    #[error(
        "no Japanese font found for the PDF report (looked in: {searched}); install one with \
         `apt-get install {FONT_PACKAGE}` (or fonts-noto-cjk), or name font files in \
         {FONT_ENV}. HTML and Markdown reports do not need it."
    )]
    NoJapaneseFont { searched: String },
    /// The template failed to typeset the model (a bug, not a data problem).
    #[error("typesetting the PDF report failed: {0}")]
    Typeset(String),
    /// Writing the typeset document as PDF failed.
    #[error("writing the PDF failed: {0}")]
    Export(String),
    #[error("encoding the report for the PDF template failed: {0}")]
    Encode(#[from] serde_json::Error),
}

/// How the report's pages are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// A4 upright, as a printed report.
    #[default]
    Portrait,
    /// A4 on its side, like the slides the reference report was published as: wider diagrams,
    /// each case opening with its diagram.
    Landscape,
}

/// A PDF renderer with its fonts loaded, for rendering many reports.
#[derive(Debug)]
pub struct PdfRenderer {
    fonts: PdfFonts,
    base: world::Base,
}

impl PdfRenderer {
    /// Finds and loads a Japanese font (see [`PdfFonts::discover`]).
    pub fn new() -> Result<PdfRenderer, PdfError> {
        PdfRenderer::with_fonts(PdfFonts::discover()?)
    }

    /// Uses fonts the caller loaded (see [`PdfFonts::from_paths`], [`PdfFonts::from_bytes`]).
    pub fn with_fonts(fonts: PdfFonts) -> Result<PdfRenderer, PdfError> {
        let base = world::Base::new(&fonts)?;
        Ok(PdfRenderer { fonts, base })
    }

    pub fn fonts(&self) -> &PdfFonts {
        &self.fonts
    }

    /// Typesets the report as an A4 PDF.
    pub fn render(&self, model: &ReportModel) -> Result<Vec<u8>, PdfError> {
        self.render_in(model, Layout::Portrait)
    }

    /// Typesets the report as an A4 PDF in `layout`.
    pub fn render_in(&self, model: &ReportModel, layout: Layout) -> Result<Vec<u8>, PdfError> {
        let (document, _warnings) = self.typeset(model, layout)?;
        export(
            &document,
            format!("kizuki-annual-report-{}", model.fiscal_year),
        )
    }

    /// Typesets a plain document (title, facts, sections) as an A4 PDF in the report's style.
    pub fn render_document(&self, doc: &Document) -> Result<Vec<u8>, PdfError> {
        let (document, _warnings) = self.typeset_document(doc)?;
        export(&document, format!("kizuki-document-{}", doc.title))
    }

    /// Lays the report out into pages, with typst's warnings (which a well-formed template
    /// should not produce).
    fn typeset(
        &self,
        model: &ReportModel,
        layout: Layout,
    ) -> Result<(PagedDocument, Vec<String>), PdfError> {
        self.compile(
            world::Template::Report,
            serde_json::to_value(model)?,
            layout,
        )
    }

    /// Like [`PdfRenderer::typeset`], for a plain document.
    fn typeset_document(&self, doc: &Document) -> Result<(PagedDocument, Vec<String>), PdfError> {
        self.compile(
            world::Template::Document,
            serde_json::to_value(doc)?,
            Layout::Portrait,
        )
    }

    /// Compiles `template` with `{ model, fonts, fake_bold, landscape }` as its `/model.json`.
    fn compile(
        &self,
        template: world::Template,
        model: serde_json::Value,
        layout: Layout,
    ) -> Result<(PagedDocument, Vec<String>), PdfError> {
        let input = json!({
            "model": model,
            "landscape": layout == Layout::Landscape,
            "fonts": self.fonts.families,
            "fake_bold": !self.fonts.has_bold,
        });
        let world = world::ReportWorld::new(&self.base, template, serde_json::to_vec(&input)?);
        let result = typst::compile::<PagedDocument>(&world);
        let warnings = result
            .warnings
            .iter()
            .map(|w| w.message.to_string())
            .collect();
        let document = result
            .output
            .map_err(|errs| PdfError::Typeset(describe(&errs)))?;
        Ok((document, warnings))
    }
}

/// Writes typeset pages as PDF, without a timestamp so the same input gives the same bytes.
fn export(document: &PagedDocument, ident: String) -> Result<Vec<u8>, PdfError> {
    let options = typst_pdf::PdfOptions {
        ident: Smart::Custom(ident),
        creator: Smart::Custom(Some("kizuki".to_owned())),
        timestamp: None,
        ..typst_pdf::PdfOptions::default()
    };
    let pdf = typst_pdf::pdf(document, &options).map_err(|errs| PdfError::Export(describe(&errs)));
    // typst memoises across compilations; keep only what the last few runs used, so a
    // long-running server does not grow without bound.
    typst::comemo::evict(4);
    pdf
}

/// Typesets the report as an A4 PDF, finding a Japanese font on the system first.
pub fn render_pdf(model: &ReportModel) -> Result<Vec<u8>, PdfError> {
    PdfRenderer::new()?.render(model)
}

/// Like [`render_pdf`], trying the `fonts` files before the usual package locations.
pub fn render_pdf_with_fonts(model: &ReportModel, fonts: &[PathBuf]) -> Result<Vec<u8>, PdfError> {
    render_pdf_with_fonts_in(model, fonts, Layout::Portrait)
}

/// Like [`render_pdf_with_fonts`], in `layout`.
pub fn render_pdf_with_fonts_in(
    model: &ReportModel,
    fonts: &[PathBuf],
    layout: Layout,
) -> Result<Vec<u8>, PdfError> {
    PdfRenderer::with_fonts(PdfFonts::discover_in(fonts)?)?.render_in(model, layout)
}

/// Typesets a plain document as an A4 PDF, finding a Japanese font on the system first.
pub fn render_document(doc: &Document) -> Result<Vec<u8>, PdfError> {
    PdfRenderer::new()?.render_document(doc)
}

/// Like [`render_document`], trying the `fonts` files before the usual package locations.
pub fn render_document_with_fonts(doc: &Document, fonts: &[PathBuf]) -> Result<Vec<u8>, PdfError> {
    PdfRenderer::with_fonts(PdfFonts::discover_in(fonts)?)?.render_document(doc)
}

fn describe(diags: &[SourceDiagnostic]) -> String {
    diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| {
            let mut s = d.message.to_string();
            for h in &d.hints {
                s.push_str("; hint: ");
                s.push_str(&h.v);
            }
            s
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ReportModel {
        let files: Vec<(String, String)> = kizuki_dataset::SURVEY_2019
            .iter()
            .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
            .collect();
        let tx = kizuki_dataset::default_taxonomy().unwrap_or_else(|e| panic!("{e}"));
        let data =
            kizuki_dataset::parse_survey_files(&files, &tx).unwrap_or_else(|e| panic!("{e}"));
        let cases: Vec<_> = data.cases.into_iter().map(|c| c.case).collect();
        ReportModel::build(&data.survey, &cases, &tx)
    }

    #[test]
    fn the_template_typesets_without_warnings() {
        let renderer = match PdfRenderer::new() {
            Ok(r) => r,
            Err(e) => {
                use std::io::Write;
                let _ = writeln!(std::io::stderr(), "skipped: {e}");
                return;
            }
        };
        // With a statistics appendix whose text would be markup if read as such.
        let appendix = kizuki_annual_report::Appendix {
            heading: "付録 統計".into(),
            note: "#set page(paper: \"a5\")".into(),
            tables: vec![kizuki_annual_report::AppendixTable {
                title: "類型×分野".into(),
                header: vec!["事象の類型".into(), "鉄道".into(), "計".into()],
                rows: vec![
                    vec!["$x$".into(), "3".into(), "3".into()],
                    vec!["計".into(), "非表示".into(), String::new()],
                ],
            }],
        };
        for model in [sample(), sample().with_appendix(appendix)] {
            for layout in [Layout::Portrait, Layout::Landscape] {
                let (document, warnings) = renderer
                    .typeset(&model, layout)
                    .unwrap_or_else(|e| panic!("{e}"));
                assert!(warnings.is_empty(), "{layout:?}: {warnings:?}");
                assert!(document.pages().len() >= 10, "{layout:?}");
            }
        }
    }

    #[test]
    fn the_document_template_typesets_without_warnings() {
        use kizuki_annual_report::document::{Block, DocSection, Fact};
        let renderer = match PdfRenderer::new() {
            Ok(r) => r,
            Err(e) => {
                use std::io::Write;
                let _ = writeln!(std::io::stderr(), "skipped: {e}");
                return;
            }
        };
        let doc = Document {
            title: "ヒアリング記録".into(),
            subtitle: "事例1".into(),
            facts: vec![Fact {
                label: "日時".into(),
                value: "2020-02-10\n14:00".into(),
            }],
            sections: vec![DocSection {
                heading: "発言".into(),
                blocks: vec![
                    Block::Item {
                        label: "部長".into(),
                        text: "#set page(paper: \"a5\")\n$x$".into(),
                        notes: vec!["公表不可".into()],
                    },
                    Block::Paragraph {
                        text: String::new(),
                    },
                ],
            }],
            footer: "kizuki".into(),
        };
        let (document, warnings) = renderer
            .typeset_document(&doc)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(document.pages().len(), 1);
        // An empty document is still a page, not an error.
        let (empty, warnings) = renderer
            .typeset_document(&Document::default())
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(empty.pages().len(), 1);
    }
}
