//! A plain document (an interview's record) as PDF, checked through the text `pdftotext`
//! (poppler-utils) extracts: title, facts, headings, item labels, notes and the footer are
//! there, characters that mean something to typst come out literally, line breaks are kept,
//! pages are numbered, and the same document gives the same bytes.
//!
//! Without `pdftotext` or a Japanese font these tests print "skipped: …" and pass, so that a
//! machine without them can still run the rest of the suite.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "helpers of tests stop at the line that failed, as the tests do"
)]

use kizuki_annual_report::Document;
use kizuki_annual_report::document::{Block, DocSection, Fact};
use kizuki_pdf::PdfRenderer;
use std::path::Path;
use std::process::Command;

/// Typst markup, math, labels and references, a comment and an escape: all must print as typed.
const SPECIAL: &str = "#let x = 1 $a^2$ *太字* _下線_ [括弧] <ラベル> @参照 \\ // `code`";

fn sample() -> Document {
    Document {
        title: "ヒアリング記録".into(),
        subtitle: "2019年度 事例1 システム障害".into(),
        facts: vec![
            Fact {
                label: "日時".into(),
                value: "2020年2月10日 14:00〜15:30".into(),
            },
            Fact {
                label: "出席者".into(),
                value: "情報システム部長\n運用課長".into(),
            },
        ],
        sections: vec![
            DocSection {
                heading: "議事概要".into(),
                blocks: vec![Block::Paragraph {
                    text: format!("一行目の記録です。{SPECIAL}\n二行目の記録です。"),
                }],
            },
            DocSection {
                heading: "質問と回答".into(),
                blocks: vec![
                    Block::Item {
                        label: "問1. 障害を検知した経緯".into(),
                        text: "監視アラートで検知した。".into(),
                        notes: vec!["利用区分: 公表不可".into()],
                    },
                    Block::Item {
                        label: "問2. 再発防止策".into(),
                        text: String::new(),
                        notes: Vec::new(),
                    },
                ],
            },
        ],
        footer: "kizuki で作成したヒアリング記録".into(),
    }
}

fn tool_available(name: &str) -> bool {
    Command::new(name).arg("-v").output().is_ok()
}

/// Whitespace removed: PDF text extraction breaks lines and spaces Latin from Japanese.
fn squash(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
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

/// A renderer, or `None` (after saying why) when there is no Japanese font.
fn renderer() -> Option<PdfRenderer> {
    match PdfRenderer::new() {
        Ok(r) => Some(r),
        Err(e) => {
            skip(&e.to_string());
            None
        }
    }
}

#[test]
fn a_document_renders_as_the_same_pdf_every_time() {
    let Some(renderer) = renderer() else { return };
    let doc = sample();
    let pdf = renderer.render_document(&doc).unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    assert_eq!(renderer.render_document(&doc).unwrap(), pdf);
    // A fresh renderer (fonts loaded again) gives the same bytes too.
    let fonts = renderer.fonts().paths.clone();
    assert_eq!(
        kizuki_pdf::render_document_with_fonts(&doc, &fonts).unwrap(),
        pdf
    );
    // The PDF follows the document: another title, another PDF.
    let mut other = doc.clone();
    other.title = "別の記録".into();
    assert_ne!(renderer.render_document(&other).unwrap(), pdf);
}

#[test]
fn every_part_of_the_document_is_in_the_pdf_as_typed() {
    let Some(renderer) = renderer() else { return };
    if !tool_available("pdftotext") {
        skip("pdftotext not found (apt-get install poppler-utils)");
        return;
    }
    let doc = sample();
    let pdf = renderer.render_document(&doc).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = pdftotext(&pdf, dir.path(), "document.pdf");
    let all = squash(&text);
    for s in [
        "ヒアリング記録",
        "2019年度事例1システム障害",
        "日時",
        "2020年2月10日14:00〜15:30",
        "出席者",
        "議事概要",
        "質問と回答",
        "問1.障害を検知した経緯",
        "監視アラートで検知した。",
        "利用区分:公表不可",
        "問2.再発防止策",
        "kizukiで作成したヒアリング記録",
    ] {
        assert!(all.contains(s), "{s} missing from {text}");
    }
    // Typst's special characters come out literally, none swallowed or interpreted.
    assert!(
        all.contains(&squash(SPECIAL)),
        "{SPECIAL} missing from {text}"
    );
    for c in ['#', '$', '*', '_', '[', ']', '<', '>', '@', '\\', '`'] {
        assert!(text.contains(c), "{c} missing from {text}");
    }
    // Line breaks typed by the user stay line breaks.
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    assert!(lines.contains(&"情報システム部長"), "{text}");
    assert!(lines.contains(&"運用課長"), "{text}");
    assert!(lines.contains(&"二行目の記録です。"), "{text}");
    // One page, numbered like the report's.
    let pages: Vec<String> = text
        .split('\u{c}')
        .map(squash)
        .filter(|p| !p.is_empty())
        .collect();
    assert_eq!(pages.len(), 1, "{text}");
    assert!(pages[0].ends_with("1/1"), "{text}");
}

#[test]
fn a_long_document_numbers_every_page() {
    let Some(renderer) = renderer() else { return };
    if !tool_available("pdftotext") {
        skip("pdftotext not found (apt-get install poppler-utils)");
        return;
    }
    let mut doc = sample();
    doc.sections = (1..=12)
        .map(|i| DocSection {
            heading: format!("節{i}"),
            blocks: (1..=6)
                .map(|j| Block::Item {
                    label: format!("問{i}-{j}"),
                    text: "回答の記録。".repeat(20),
                    notes: vec![format!("注{i}-{j}")],
                })
                .collect(),
        })
        .collect();
    let pdf = renderer.render_document(&doc).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = pdftotext(&pdf, dir.path(), "long.pdf");
    let pages: Vec<String> = text
        .split('\u{c}')
        .map(squash)
        .filter(|p| !p.is_empty())
        .collect();
    assert!(pages.len() > 1, "{text}");
    for (i, p) in pages.iter().enumerate() {
        assert!(
            p.ends_with(&format!("{}/{}", i + 1, pages.len())),
            "page {} is numbered",
            i + 1
        );
    }
    assert!(squash(&text).contains("注12-6"));
}
