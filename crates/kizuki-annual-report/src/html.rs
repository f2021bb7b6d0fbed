//! HTML rendering of the report: a fragment for the web application and a standalone,
//! print-friendly page with the stylesheet embedded. Diagrams are inline SVG.

use crate::diagram::esc;
use crate::model::{
    HEADING_ABOUT, HEADING_CRITERIA, HEADING_METHOD, HEADING_PURPOSE, Paragraph, ReportModel,
};
use std::fmt::Write;

/// The report's stylesheet. Every rule is scoped under `.kz-report`, so the web application can
/// include it on a page that has its own styles.
pub const REPORT_CSS: &str = r#".kz-report{font-family:"IPAexGothic","IPAexゴシック","Noto Sans CJK JP","Noto Sans JP","Hiragino Sans","Yu Gothic",Meiryo,sans-serif;color:#1f2933;line-height:1.75;max-width:60rem;margin:0 auto;padding:0 1rem;font-size:1rem}
.kz-report h1{font-size:1.7rem;margin:.2rem 0 1.5rem;border-bottom:3px solid #1f5fa8;padding-bottom:.4rem}
.kz-report .kz-fy{margin:1.5rem 0 0;color:#51657d;font-weight:bold}
.kz-report h2{font-size:1.3rem;margin:2.2rem 0 .8rem;padding:.2rem .6rem;border-left:6px solid #1f5fa8;background:#f1f5fa}
.kz-report h3{font-size:1.08rem;margin:1.4rem 0 .5rem;color:#1f3f66}
.kz-report h4{font-size:1rem;margin:1rem 0 .2rem}
.kz-report h4::before{content:"• "}
.kz-report p{margin:.4rem 0}
.kz-report .kz-note{font-size:.88rem;color:#444}
.kz-report .kz-period{font-weight:bold}
.kz-report ul{margin:.4rem 0;padding-left:1.4rem}
.kz-report li{margin:.2rem 0}
.kz-report table{border-collapse:collapse;width:100%;font-size:.9rem;margin:.6rem 0}
.kz-report th,.kz-report td{border:1px solid #9aa5b1;padding:.35rem .5rem;vertical-align:top;text-align:left}
.kz-report thead th{background:#1f3f66;color:#fff}
.kz-report tr.kz-category th{background:#e3ebf5;color:#1f3f66}
.kz-report td.kz-no{text-align:center;width:3rem;white-space:nowrap}
.kz-report td.kz-title{font-weight:bold;width:22%}
.kz-report td.kz-title a{color:#1f3f66;text-decoration:none}
.kz-report td.kz-title a:hover{text-decoration:underline}
.kz-report .kz-cite{white-space:nowrap;color:#1f5fa8}
.kz-report .kz-case-meta{color:#51657d;font-size:.9rem;margin-top:-.4rem}
.kz-report ul.kz-case-overview{background:#f6f8fb;border:1px solid #d5dde6;padding:.6rem .8rem .6rem 2rem}
.kz-report figure.kz-figure{margin:1rem 0}
.kz-report figure.kz-figure svg{display:block;width:100%;height:auto;max-width:100%}
.kz-report figcaption{font-size:.85rem;color:#51657d;text-align:center}
@media (max-width:600px){
.kz-report table{display:block;overflow-x:auto}
}
@media print{
@page{size:A4;margin:15mm}
.kz-report{max-width:none;padding:0;font-size:10pt}
.kz-report section.kz-case{break-before:page}
.kz-report tr,.kz-report figure.kz-figure,.kz-report h4{break-inside:avoid}
.kz-report h2,.kz-report h3,.kz-report h4{break-after:avoid}
.kz-report thead{display:table-header-group}
}
"#;

/// The report as a standalone HTML page with its stylesheet embedded.
pub fn render_html(model: &ReportModel) -> String {
    let mut out = String::with_capacity(256 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"ja\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(out, "<title>{}</title>", esc(&model.title));
    out.push_str("<style>\n");
    out.push_str(REPORT_CSS);
    out.push_str("</style>\n</head>\n<body>\n");
    out.push_str(&render_html_fragment(model));
    out.push_str("</body>\n</html>\n");
    out
}

fn paras(out: &mut String, ps: &[Paragraph]) {
    for p in ps {
        if p.note {
            let _ = writeln!(out, "<p class=\"kz-note\">{}</p>", esc(&p.text));
        } else {
            let _ = writeln!(out, "<p>{}</p>", esc(&p.text));
        }
    }
}

fn list(out: &mut String, class: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    if class.is_empty() {
        out.push_str("<ul>\n");
    } else {
        let _ = writeln!(out, "<ul class=\"{class}\">");
    }
    for i in items {
        let _ = writeln!(out, "<li>{}</li>", esc(i));
    }
    out.push_str("</ul>\n");
}

/// The report as an `<article>` for embedding in a page that includes [`REPORT_CSS`].
pub fn render_html_fragment(model: &ReportModel) -> String {
    let mut out = String::with_capacity(256 * 1024);
    out.push_str("<article class=\"kz-report\" lang=\"ja\">\n<header>\n");
    let _ = writeln!(
        out,
        "<p class=\"kz-fy\">{}</p>",
        esc(&model.fiscal_year_label)
    );
    let _ = writeln!(out, "<h1>{}</h1>", esc(&model.title));
    out.push_str("</header>\n");

    out.push_str("<section class=\"kz-about\">\n");
    let _ = writeln!(out, "<h2>{HEADING_ABOUT}</h2>");
    let _ = writeln!(out, "<h3>{HEADING_PURPOSE}</h3>");
    paras(&mut out, &model.purpose);
    let _ = writeln!(out, "<h3>{HEADING_METHOD}</h3>");
    paras(&mut out, &model.method);
    let _ = writeln!(out, "<h3>{HEADING_CRITERIA}</h3>");
    paras(&mut out, &model.criteria.intro);
    let _ = writeln!(
        out,
        "<p class=\"kz-period\">{}</p>",
        esc(&model.criteria.period)
    );
    list(&mut out, "kz-criteria", &model.criteria.main);
    if !model.criteria.also_considered.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"kz-note\">{}</p>",
            esc(&model.criteria.also_considered)
        );
    }
    out.push_str("</section>\n");

    let ov = &model.overview;
    out.push_str("<section class=\"kz-overview\">\n");
    let _ = writeln!(out, "<h2>{}</h2>", esc(&ov.heading));
    out.push_str("<table>\n<thead><tr>");
    for c in &ov.columns {
        let _ = write!(out, "<th scope=\"col\">{}</th>", esc(c));
    }
    out.push_str("</tr></thead>\n");
    for g in &ov.groups {
        out.push_str("<tbody>\n");
        let _ = writeln!(
            out,
            "<tr class=\"kz-category\"><th colspan=\"4\" scope=\"rowgroup\">{}</th></tr>",
            esc(&g.label)
        );
        for r in &g.rows {
            let _ = writeln!(
                out,
                "<tr><td class=\"kz-no\">{}</td><td class=\"kz-title\"><a href=\"#case-{}\">{}</a></td><td>{}</td><td>{}</td></tr>",
                r.number,
                r.number,
                esc(&r.title),
                esc(&r.impact),
                esc(&r.cause)
            );
        }
        out.push_str("</tbody>\n");
    }
    out.push_str("</table>\n");
    list(&mut out, "kz-remarks", &ov.remarks);
    out.push_str("</section>\n");

    let cl = &model.common_lessons;
    out.push_str("<section class=\"kz-common-lessons\">\n");
    let _ = writeln!(out, "<h2>{}</h2>", esc(&cl.heading));
    for g in &cl.groups {
        let _ = writeln!(out, "<h3>{}</h3>\n<ul>", esc(&g.heading));
        for l in &g.lessons {
            let title = if l.title.is_empty() {
                String::new()
            } else {
                format!(
                    "<strong class=\"kz-lesson-title\">{}</strong> ",
                    esc(&l.title)
                )
            };
            let _ = writeln!(
                out,
                "<li>{title}{}<span class=\"kz-cite\">{}</span></li>",
                esc(&l.text),
                esc(&l.citation)
            );
        }
        out.push_str("</ul>\n");
    }
    let _ = writeln!(out, "<p class=\"kz-note\">{}</p>", esc(&cl.note));
    out.push_str("</section>\n");

    for c in &model.cases {
        let _ = writeln!(
            out,
            "<section class=\"kz-case\" id=\"case-{}\">\n<h2>{}</h2>",
            c.number,
            esc(&c.heading)
        );
        let _ = writeln!(
            out,
            "<p class=\"kz-case-meta\">{}</p>",
            esc(&c.category_label)
        );
        list(&mut out, "kz-case-overview", &c.overview);
        out.push_str("<figure class=\"kz-figure\">\n");
        out.push_str(&c.diagram.svg);
        let _ = writeln!(out, "<figcaption>{}</figcaption>", esc(&c.diagram.caption));
        out.push_str("</figure>\n");
        for s in &c.sections {
            let _ = writeln!(out, "<h3>{}</h3>", esc(&s.heading));
            list(&mut out, "", &s.points);
        }
        let _ = writeln!(out, "<h3>{}</h3>", esc(&c.lessons_heading));
        for l in &c.lessons {
            let _ = writeln!(out, "<h4>{}</h4>", esc(&l.title));
            for p in &l.paragraphs {
                let _ = writeln!(out, "<p>{}</p>", esc(p));
            }
        }
        out.push_str("</section>\n");
    }
    if let Some(a) = &model.appendix {
        let _ = writeln!(
            out,
            "<section class=\"kz-appendix\">\n<h2>{}</h2>\n<p class=\"kz-note\">{}</p>",
            esc(&a.heading),
            esc(&a.note)
        );
        for t in &a.tables {
            let _ = writeln!(
                out,
                "<h3>{}</h3>\n<table class=\"kz-table\">\n<thead><tr>",
                esc(&t.title)
            );
            for h in &t.header {
                let _ = write!(out, "<th>{}</th>", esc(h));
            }
            out.push_str("</tr></thead>\n<tbody>\n");
            for r in &t.rows {
                out.push_str("<tr>");
                for c in r {
                    let _ = write!(out, "<td>{}</td>", esc(c));
                }
                out.push_str("</tr>\n");
            }
            out.push_str("</tbody>\n</table>\n");
        }
        out.push_str("</section>\n");
    }
    out.push_str("</article>\n");
    out
}
