//! The annual survey report (補完調査 報告書): one model built from a survey and its cases,
//! rendered as HTML (standalone page or fragment) and Markdown, with a generated SVG diagram
//! per case. The PDF renderer lives in `kizuki-pdf` and uses the same model.
//!
//! ```text
//! let model = ReportModel::build(&survey, &cases, &taxonomy);
//! let page = render_html(&model);
//! let md = render_markdown(&model);
//! ```
//!
//! Output depends only on the input: no clock, no hash-map iteration, fixed number formatting.

pub mod diagram;
// Plain printable documents (an interview's record) beside the annual report.
pub mod document;
mod html;
mod markdown;
pub mod model;
pub mod text;

pub use document::Document;
pub use html::{REPORT_CSS, render_html, render_html_fragment};
pub use markdown::{
    DiagramLinks, diagram_file_name, diagram_files, render_markdown, render_markdown_with,
};
pub use model::{Appendix, AppendixTable, Imprint, ReportModel};

use kizuki_domain::case::CaseContent;
use kizuki_domain::survey::SurveyContent;
use kizuki_domain::taxonomy::Taxonomy;

/// Builds the report model; the same as [`ReportModel::build`].
pub fn build_report(survey: &SurveyContent, cases: &[CaseContent], tx: &Taxonomy) -> ReportModel {
    ReportModel::build(survey, cases, tx)
}
