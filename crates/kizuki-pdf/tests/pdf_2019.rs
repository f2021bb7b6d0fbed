//! The 2019 report as PDF, checked through the text `pdftotext` (poppler-utils) extracts:
//! every case title and overview row, the six headings of every case, each diagram's step and
//! response numbers, the common lessons' citations; A4 pages, an embedded font, each case on a
//! page of its own, no overview row split across pages; and the same text on every run.
//!
//! Without `pdftotext` or a Japanese font these tests print "skipped: …" and pass, so that a
//! machine without them can still run the rest of the suite.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "helpers of tests stop at the line that failed, as the tests do"
)]

use kizuki_annual_report::ReportModel;
use kizuki_domain::case::CaseContent;
use kizuki_domain::survey::SurveyContent;
use kizuki_pdf::{FONT_PACKAGE, PdfError, PdfFonts, PdfRenderer};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn load() -> (SurveyContent, Vec<CaseContent>, ReportModel) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/surveys/2019");
    let tx = kizuki_dataset::default_taxonomy().unwrap();
    let data = kizuki_dataset::load_survey_dir(&dir, &tx).unwrap();
    let cases: Vec<CaseContent> = data.cases.into_iter().map(|c| c.case).collect();
    let model = ReportModel::build(&data.survey, &cases, &tx);
    (data.survey, cases, model)
}

/// The report of the 2019 survey's first case alone, changed by `change`.
fn first_case_report(change: impl FnOnce(&mut CaseContent)) -> ReportModel {
    let (survey, mut cases, _) = load();
    cases.truncate(1);
    change(&mut cases[0]);
    let tx = kizuki_dataset::default_taxonomy().unwrap();
    ReportModel::build(&survey, &cases, &tx)
}

fn tool_available(name: &str) -> bool {
    Command::new(name).arg("-v").output().is_ok()
}

/// Whitespace removed: PDF text extraction breaks lines and spaces Latin from Japanese.
fn squash(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

struct Rendered {
    pdf: Vec<u8>,
    /// One entry per page, whitespace removed.
    pages: Vec<String>,
    text: String,
}

fn pdftotext(pdf: &[u8], dir: &Path, name: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, pdf).unwrap();
    let out = Command::new("pdftotext")
        .arg("-enc")
        .arg("UTF-8")
        .arg(&path)
        .arg("-")
        .output()
        .unwrap();
    assert!(out.status.success(), "pdftotext failed");
    String::from_utf8(out.stdout).unwrap()
}

/// Says why a test did nothing. Written to stderr directly: libtest captures `println!` of
/// passing tests, and a skip must not pass unnoticed.
fn skip(why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "skipped: {why}");
}

/// Renders once per test binary; `None` (after saying why) when the tools are missing.
fn rendered() -> Option<&'static Rendered> {
    static CELL: OnceLock<Result<Rendered, String>> = OnceLock::new();
    let r = CELL.get_or_init(|| {
        if !tool_available("pdftotext") {
            return Err("pdftotext not found (apt-get install poppler-utils)".to_owned());
        }
        let renderer = PdfRenderer::new().map_err(|e| e.to_string())?;
        let (_, _, model) = load();
        let pdf = renderer.render(&model).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let text = pdftotext(&pdf, dir.path(), "report.pdf");
        let pages = text.split('\u{c}').map(squash).collect();
        Ok(Rendered { pdf, pages, text })
    });
    match r {
        Ok(r) => Some(r),
        Err(why) => {
            skip(why);
            None
        }
    }
}

#[test]
fn a_missing_font_names_the_package_to_install() {
    let err = PdfFonts::from_paths(&[]).unwrap_err();
    assert!(matches!(err, PdfError::NoJapaneseFont { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("apt-get install {FONT_PACKAGE}")),
        "{msg}"
    );
    assert!(msg.contains("fonts-ipaexfont-gothic"));
    // A file that is not a font is no better than none.
    let err = PdfFonts::from_paths(&[PathBuf::from(file!())]).unwrap_err();
    assert!(err.to_string().contains(FONT_PACKAGE));
}

#[test]
fn every_title_row_and_citation_is_in_the_pdf() {
    let Some(r) = rendered() else { return };
    let (survey, cases, model) = load();
    let all = squash(&r.text);
    assert!(all.contains(&squash(&model.title)));
    assert!(all.contains(&squash(&model.criteria.period)));
    for c in &cases {
        let row = squash(&format!("{}{}{}{}", c.number, c.title, c.impact, c.cause));
        let pages: Vec<usize> = r
            .pages
            .iter()
            .enumerate()
            .filter(|(_, p)| p.contains(&row))
            .map(|(i, _)| i)
            .collect();
        // On exactly one page: present, and not split across a page break.
        assert_eq!(pages.len(), 1, "overview row of case {}", c.number);
        assert!(all.contains(&squash(&format!("事例{} {}", c.number, c.title))));
    }
    for l in &survey.common_lessons {
        let mut cited = l.cases.clone();
        cited.sort_unstable();
        let citation = format!(
            "（事例{}）",
            cited
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
        assert!(
            all.contains(&squash(&format!("{}{citation}", l.text))),
            "common lesson citing {citation}"
        );
    }
}

#[test]
fn every_case_starts_a_page_with_its_headings_and_diagram() {
    let Some(r) = rendered() else { return };
    let (_, cases, _) = load();
    let starts: Vec<usize> = cases
        .iter()
        .map(|c| {
            let heading = squash(&format!("事例{} {}", c.number, c.title));
            r.pages
                .iter()
                .position(|p| p.starts_with(&heading))
                .unwrap_or_else(|| panic!("case {} does not start a page", c.number))
        })
        .collect();
    assert!(starts.windows(2).all(|w| w[0] < w[1]));
    for (i, c) in cases.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(r.pages.len());
        let chunk: String = r.pages[starts[i]..end].concat();
        let mut at = 0;
        for h in [
            "【1 背景】",
            "【2 検知】",
            "【3 対処】",
            "【4 原因】",
            "【5 再発に備えた対策】",
            "【6 得られた気付き・教訓】",
        ] {
            let found = chunk[at..]
                .find(&squash(h))
                .unwrap_or_else(|| panic!("case {} lacks {h} (in order)", c.number));
            at += found;
        }
        for l in &c.lessons {
            assert!(
                chunk.contains(&squash(&l.title)),
                "case {} lesson",
                c.number
            );
        }
        // The diagram is vector art whose text stays text.
        for s in &c.steps {
            assert!(
                chunk.contains(&format!("({})", s.number)),
                "case {} diagram step {}",
                c.number,
                s.number
            );
        }
        for s in &c.responses {
            assert!(
                chunk.contains(&format!("対処{}", s.number)),
                "case {} diagram response {}",
                c.number,
                s.number
            );
        }
        assert!(chunk.contains("凡例"));
    }
}

#[test]
fn pages_are_a4_numbered_and_the_font_is_embedded() {
    let Some(r) = rendered() else { return };
    let pages = r.pages.len() - usize::from(r.pages.last().is_some_and(String::is_empty));
    for (i, p) in r.pages.iter().take(pages).enumerate() {
        assert!(
            p.ends_with(&format!("{}/{}", i + 1, pages)),
            "page {} is numbered",
            i + 1
        );
    }
    if !tool_available("pdfinfo") || !tool_available("pdffonts") {
        skip("pdfinfo/pdffonts not found (apt-get install poppler-utils)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.pdf");
    std::fs::write(&path, &r.pdf).unwrap();
    let info = Command::new("pdfinfo").arg(&path).output().unwrap();
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(info.contains("595.276 x 841.89 pts (A4)"), "{info}");
    let fonts = Command::new("pdffonts").arg(&path).output().unwrap();
    let fonts = String::from_utf8_lossy(&fonts.stdout);
    let font_lines: Vec<&str> = fonts.lines().skip(2).collect();
    assert!(!font_lines.is_empty());
    for l in font_lines {
        // Columns: name type encoding emb sub uni ...
        let cols: Vec<&str> = l.split_whitespace().collect();
        let n = cols.len();
        assert!(n >= 7, "{l}");
        assert_eq!(cols[n - 5], "yes", "embedded: {l}");
        assert_eq!(cols[n - 4], "yes", "subset: {l}");
    }
}

#[test]
fn the_same_model_gives_the_same_pdf_text() {
    let Some(r) = rendered() else { return };
    let (_, _, model) = load();
    let again = PdfRenderer::new().unwrap().render(&model).unwrap();
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(pdftotext(&again, dir.path(), "again.pdf"), r.text);
}

#[test]
fn a_step_time_is_in_the_pdf() {
    // Needs the same tools as the 2019 report; rendered() says why when they are missing.
    if rendered().is_none() {
        return;
    }
    let model = first_case_report(|c| {
        c.steps[0].time = Some("10:30".into());
        c.responses[0].time = Some("3時間後".into());
    });
    let pdf = PdfRenderer::new().unwrap().render(&model).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let text = squash(&pdftotext(&pdf, tmp.path(), "timed.pdf"));
    assert!(text.contains("10:30"), "{text}");
    assert!(text.contains("3時間後"), "{text}");
}

#[test]
fn every_page_of_a_case_names_the_case() {
    let Some(r) = rendered() else { return };
    let (_, _, model) = load();
    let headings: Vec<String> = model.cases.iter().map(|c| squash(&c.heading)).collect();
    let first = r
        .pages
        .iter()
        .position(|p| p.contains(&headings[0]))
        .expect("the first case's page");
    let case_pages: Vec<&String> = r.pages[first..].iter().filter(|p| !p.is_empty()).collect();
    // Some cases run onto a second page: the check below is about those pages.
    assert!(
        case_pages.len() > headings.len(),
        "{} pages for {} cases",
        case_pages.len(),
        headings.len()
    );
    for (i, page) in case_pages.iter().enumerate() {
        assert!(
            headings.iter().any(|h| page.contains(h.as_str())),
            "page {} of the cases names no case: {}",
            i + 1,
            page.chars().take(80).collect::<String>()
        );
    }
}

#[test]
fn a_report_with_an_imprint_opens_with_a_cover() {
    if !tool_available("pdftotext") {
        return skip("pdftotext not found (apt-get install poppler-utils)");
    }
    let Ok(renderer) = PdfRenderer::new() else {
        return skip("no Japanese font");
    };
    let (_, _, model) = load();
    let model = model.with_imprint(kizuki_annual_report::Imprint {
        publisher: "試験センター".into(),
        date_label: "発行".into(),
        date: "2020年5月29日（令和2年5月29日）".into(),
        edition: Some(2),
    });
    let pdf = renderer.render(&model).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = pdftotext(&pdf, dir.path(), "cover.pdf");
    let cover = squash(text.split('\u{c}').next().unwrap());
    assert!(cover.contains(&squash(&model.title)), "{cover}");
    assert!(cover.contains("試験センター"), "{cover}");
    assert!(
        cover.contains("発行2020年5月29日（令和2年5月29日）"),
        "{cover}"
    );
    assert!(cover.contains("第2版"), "{cover}");
    // The cover stands alone: 補完調査とは begins on the next page.
    assert!(!cover.contains("補完調査とは"), "{cover}");
}

/// The pages and words of `pdf` with their boxes, as `pdftotext -bbox` writes them (XHTML).
fn bbox_html(pdf: &[u8], dir: &Path) -> String {
    let path = dir.join("bbox.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = Command::new("pdftotext")
        .args(["-bbox", "-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output()
        .unwrap();
    assert!(out.status.success(), "pdftotext -bbox failed");
    String::from_utf8(out.stdout).unwrap()
}

/// Every word on every page with the height poppler gives its box, which is the font size in
/// points.
fn word_sizes(pdf: &[u8], dir: &Path) -> Vec<(f64, String)> {
    let html = bbox_html(pdf, dir);
    let attr = |tag: &str, name: &str| -> f64 {
        let at = tag.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        let end = at + tag[at..].find('"').unwrap();
        tag[at..end].parse().unwrap()
    };
    html.split("<word ")
        .skip(1)
        .map(|w| {
            let (tag, rest) = w.split_once('>').unwrap();
            let word = rest.split("</word>").next().unwrap_or_default();
            (attr(tag, "yMax") - attr(tag, "yMin"), word.to_owned())
        })
        .collect()
}

#[test]
fn no_text_is_smaller_than_eight_points_diagrams_included() {
    let Some(r) = rendered() else { return };
    let dir = tempfile::tempdir().unwrap();
    let words = word_sizes(&r.pdf, dir.path());
    // The diagrams' actor names and callouts are words of the PDF too (vector text).
    let (_, _, model) = load();
    let svg = &model.cases[0].diagram.svg;
    let first = svg.split("<text ").nth(1).expect("a diagram with text");
    let label = first
        .split_once('>')
        .unwrap()
        .1
        .split("</text>")
        .next()
        .unwrap();
    assert!(
        words
            .iter()
            .any(|(_, w)| !w.is_empty() && label.contains(w.as_str())),
        "the first diagram's label {label:?} is not among the PDF's words"
    );
    let small: Vec<_> = words.iter().filter(|(h, _)| *h < 7.95).take(10).collect();
    assert!(small.is_empty(), "words under 8 pt: {small:?}");
}

#[test]
fn the_landscape_layout_opens_each_case_with_its_diagram_at_eight_points_or_more() {
    if !tool_available("pdftotext") {
        return skip("pdftotext not found (apt-get install poppler-utils)");
    }
    let renderer = match PdfRenderer::new() {
        Ok(r) => r,
        Err(e) => return skip(&e.to_string()),
    };
    let (_, _, model) = load();
    let pdf = renderer
        .render_in(&model, kizuki_pdf::Layout::Landscape)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let html = bbox_html(&pdf, dir.path());
    let pages: Vec<&str> = html.split("<page ").skip(1).collect();
    for p in &pages {
        let size = |name: &str| -> f64 {
            let at = p.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
            p[at..at + p[at..].find('"').unwrap()].parse().unwrap()
        };
        assert!(size("width") > size("height"), "a page on its side");
    }
    // Each case's first page has its heading and the diagram's first label.
    let words = |p: &str| -> String {
        p.split("<word ")
            .skip(1)
            .filter_map(|w| {
                w.split_once('>')
                    .map(|(_, r)| r.split("</word>").next().unwrap_or_default())
            })
            .collect()
    };
    for c in &model.cases {
        let heading = squash(&c.heading);
        let page = pages
            .iter()
            .map(|p| words(p))
            .find(|w| w.contains(&heading))
            .unwrap_or_else(|| panic!("no page opens {heading}"));
        let first = c.diagram.svg.split("<text ").nth(1).unwrap();
        let label = squash(
            first
                .split_once('>')
                .unwrap()
                .1
                .split("</text>")
                .next()
                .unwrap(),
        );
        assert!(
            page.contains(&label),
            "{heading}: its diagram ({label}) is not on its page"
        );
    }
    let small: Vec<_> = word_sizes(&pdf, dir.path())
        .into_iter()
        .filter(|(h, _)| *h < 7.95)
        .take(10)
        .collect();
    assert!(small.is_empty(), "words under 8 pt: {small:?}");
}

#[test]
fn a_diagram_taller_than_a_page_is_printed_in_slices_at_eight_points_or_more() {
    if rendered().is_none() {
        return;
    }
    // Forty steps: more than twice as tall as wide, which would have to shrink to fit a page.
    let model = first_case_report(|c| {
        let first = c.steps[0].clone();
        c.steps = (1..=40)
            .map(|n| kizuki_domain::case::Step {
                number: n,
                text: format!("第{n}段階の出来事を記録した"),
                ..first.clone()
            })
            .collect();
    });
    let d = &model.cases[0].diagram;
    assert!(d.height > 2.0 * d.width, "{} × {}", d.width, d.height);
    let pdf = PdfRenderer::new().unwrap().render(&model).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let words = word_sizes(&pdf, tmp.path());
    let small: Vec<_> = words.iter().filter(|(h, _)| *h < 7.95).take(10).collect();
    assert!(small.is_empty(), "words under 8 pt: {small:?}");
    let text = squash(&pdftotext(&pdf, tmp.path(), "tall.pdf"));
    for n in [1, 20, 40] {
        assert!(
            text.contains(&format!("第{n}段階の出来事を記録した")),
            "step {n}"
        );
    }
}
