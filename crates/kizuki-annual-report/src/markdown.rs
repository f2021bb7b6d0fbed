//! Markdown rendering of the report (CommonMark with GitHub-style tables).
//!
//! By default each diagram is embedded as a `data:` URI, so the report is one self-contained
//! file; [`DiagramLinks::Files`] links to SVG files written beside it instead, for renderers
//! that refuse `data:` images.

use crate::model::{
    HEADING_ABOUT, HEADING_CRITERIA, HEADING_METHOD, HEADING_PURPOSE, Paragraph, ReportModel,
};
use base64::Engine as _;
use std::fmt::Write;

/// How the Markdown refers to the case diagrams.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DiagramLinks {
    /// Embed each SVG as a base64 `data:` URI.
    #[default]
    Inline,
    /// Link to `{prefix}case-{n}.svg`; write the files from [`diagram_files`].
    Files { prefix: String },
}

/// The file name of case `n`'s diagram under [`DiagramLinks::Files`].
pub fn diagram_file_name(number: u32) -> String {
    format!("case-{number}.svg")
}

/// Every case diagram as (file name, SVG), for writing beside a Markdown file rendered with
/// [`DiagramLinks::Files`].
pub fn diagram_files(model: &ReportModel) -> Vec<(String, String)> {
    model
        .cases
        .iter()
        .map(|c| (diagram_file_name(c.number), c.diagram.svg.clone()))
        .collect()
}

/// The report as Markdown, diagrams embedded.
pub fn render_markdown(model: &ReportModel) -> String {
    render_markdown_with(model, &DiagramLinks::Inline)
}

/// The report as Markdown, with diagrams referred to as `links` says.
pub fn render_markdown_with(model: &ReportModel, links: &DiagramLinks) -> String {
    let mut out = String::with_capacity(256 * 1024);
    let _ = writeln!(out, "# {}\n", inline(&model.title));
    let _ = writeln!(out, "{}\n", inline(&model.fiscal_year_label));

    let _ = writeln!(out, "## {HEADING_ABOUT}\n");
    let _ = writeln!(out, "### {HEADING_PURPOSE}\n");
    paras(&mut out, &model.purpose);
    let _ = writeln!(out, "### {HEADING_METHOD}\n");
    paras(&mut out, &model.method);
    let _ = writeln!(out, "### {HEADING_CRITERIA}\n");
    paras(&mut out, &model.criteria.intro);
    let _ = writeln!(out, "**{}**\n", inline(&model.criteria.period));
    list(&mut out, &model.criteria.main);
    if !model.criteria.also_considered.is_empty() {
        let _ = writeln!(out, "{}\n", inline(&model.criteria.also_considered));
    }

    let ov = &model.overview;
    let _ = writeln!(out, "## {}\n", inline(&ov.heading));
    for g in &ov.groups {
        let _ = writeln!(out, "### {}\n", inline(&g.label));
        let _ = writeln!(
            out,
            "| {} |",
            ov.columns
                .iter()
                .map(|c| cell(c))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        out.push_str("|---:|---|---|---|\n");
        for r in &g.rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                r.number,
                cell(&r.title),
                cell(&r.impact),
                cell(&r.cause)
            );
        }
        out.push('\n');
    }
    list(&mut out, &ov.remarks);

    let cl = &model.common_lessons;
    let _ = writeln!(out, "## {}\n", inline(&cl.heading));
    for g in &cl.groups {
        let _ = writeln!(out, "### {}\n", inline(&g.heading));
        for l in &g.lessons {
            let title = if l.title.is_empty() {
                String::new()
            } else {
                format!("**{}** ", inline(&l.title))
            };
            let _ = writeln!(out, "- {title}{}{}", inline(&l.text), inline(&l.citation));
        }
        out.push('\n');
    }
    let _ = writeln!(out, "{}\n", inline(&cl.note));

    for c in &model.cases {
        let _ = writeln!(out, "## {}\n", inline(&c.heading));
        let _ = writeln!(out, "*{}*\n", inline(&c.category_label));
        list(&mut out, &c.overview);
        let src = match links {
            DiagramLinks::Inline => format!(
                "data:image/svg+xml;base64,{}",
                base64::engine::general_purpose::STANDARD.encode(c.diagram.svg.as_bytes())
            ),
            DiagramLinks::Files { prefix } => {
                format!("{prefix}{}", diagram_file_name(c.number))
            }
        };
        let _ = writeln!(out, "![{}]({src})\n", inline(&c.diagram.caption));
        for s in &c.sections {
            let _ = writeln!(out, "### {}\n", inline(&s.heading));
            list(&mut out, &s.points);
        }
        let _ = writeln!(out, "### {}\n", inline(&c.lessons_heading));
        for l in &c.lessons {
            let _ = writeln!(out, "#### {}\n", inline(&l.title));
            for p in &l.paragraphs {
                let _ = writeln!(out, "{}\n", inline(p));
            }
        }
    }
    if let Some(a) = &model.appendix {
        let _ = writeln!(out, "## {}\n", inline(&a.heading));
        let _ = writeln!(out, "{}\n", inline(&a.note));
        for t in &a.tables {
            let _ = writeln!(out, "### {}\n", inline(&t.title));
            let row = |cells: &[String]| {
                let cells: Vec<String> = cells.iter().map(|c| cell(c)).collect();
                format!("| {} |", cells.join(" | "))
            };
            let _ = writeln!(out, "{}", row(&t.header));
            let _ = writeln!(out, "|{}", " --- |".repeat(t.header.len()));
            for r in &t.rows {
                let _ = writeln!(out, "{}", row(r));
            }
            out.push('\n');
        }
    }
    // Exactly one newline at the end.
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

fn paras(out: &mut String, ps: &[Paragraph]) {
    for p in ps {
        let _ = writeln!(out, "{}\n", inline(&p.text));
    }
}

fn list(out: &mut String, items: &[String]) {
    if items.is_empty() {
        return;
    }
    for i in items {
        let _ = writeln!(out, "- {}", inline(i));
    }
    out.push('\n');
}

/// Escapes Markdown syntax in running text, and starts no line with a block marker.
fn inline(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    // "1. " or "- " at the start would turn a paragraph into a list.
    let starts_block = out.starts_with(['-', '+', '='])
        || out
            .char_indices()
            .find(|(_, c)| !c.is_ascii_digit())
            .is_some_and(|(i, c)| i > 0 && (c == '.' || c == ')'));
    if starts_block {
        out.insert(0, '\\');
    }
    out
}

/// Text for a table cell: as [`inline`], with line breaks flattened.
fn cell(s: &str) -> String {
    inline(s.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_syntax_in_text_is_escaped() {
        assert_eq!(inline("a|b*c"), "a\\|b\\*c");
        assert_eq!(inline("1. 番号"), "\\1. 番号");
        assert_eq!(inline("- 項目"), "\\- 項目");
        assert_eq!(inline("2019年"), "2019年");
    }
}
