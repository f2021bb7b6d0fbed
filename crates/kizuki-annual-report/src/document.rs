//! A plain printable document — a title, a few labelled facts, sections of paragraphs and
//! labelled items — for records that are not the annual report (an interview's minutes and
//! answers). It renders as Markdown here and as a PDF in `kizuki-pdf`, from the same model.

use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// A document to print.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    pub title: String,
    pub subtitle: String,
    /// Labelled facts shown under the title (日時, 場所, 出席者 …).
    pub facts: Vec<Fact>,
    pub sections: Vec<DocSection>,
    /// A closing line in small print (what the document is, when it was made).
    pub footer: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fact {
    pub label: String,
    pub value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocSection {
    pub heading: String,
    pub blocks: Vec<Block>,
}

/// A paragraph, or an item with a label (a question and its answer, a statement and who
/// said it) and notes in small print under it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Block {
    Paragraph {
        text: String,
    },
    Item {
        label: String,
        text: String,
        notes: Vec<String>,
    },
}

/// Markdown special characters at the start of a line or inline, escaped so text typed by a
/// user stays text.
fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '!'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Text over several lines as Markdown lines, each escaped, blank lines kept as breaks.
fn md_lines(out: &mut String, prefix: &str, s: &str) {
    for line in s.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            let _ = writeln!(out, "{}", prefix.trim_end());
        } else {
            let _ = writeln!(out, "{prefix}{}", md(line));
        }
    }
}

impl Document {
    /// CommonMark.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# {}\n", md(&self.title));
        if !self.subtitle.is_empty() {
            let _ = writeln!(out, "{}\n", md(&self.subtitle));
        }
        for f in &self.facts {
            let _ = writeln!(
                out,
                "- **{}**: {}",
                md(&f.label),
                md(&f.value.replace('\n', " "))
            );
        }
        if !self.facts.is_empty() {
            out.push('\n');
        }
        for s in &self.sections {
            let _ = writeln!(out, "## {}\n", md(&s.heading));
            for b in &s.blocks {
                match b {
                    Block::Paragraph { text } => {
                        md_lines(&mut out, "", text);
                        out.push('\n');
                    }
                    Block::Item { label, text, notes } => {
                        let _ = writeln!(out, "### {}\n", md(label));
                        md_lines(&mut out, "", text);
                        out.push('\n');
                        for n in notes {
                            md_lines(&mut out, "> ", n);
                        }
                        if !notes.is_empty() {
                            out.push('\n');
                        }
                    }
                }
            }
        }
        if !self.footer.is_empty() {
            let _ = writeln!(out, "---\n\n{}", md(&self.footer));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_keeps_the_structure_and_escapes_what_users_typed() {
        let d = Document {
            title: "ヒアリング記録".into(),
            subtitle: "2019年度 事例1".into(),
            facts: vec![Fact {
                label: "日時".into(),
                value: "2020-02-10 14:00".into(),
            }],
            sections: vec![DocSection {
                heading: "発言".into(),
                blocks: vec![
                    Block::Item {
                        label: "1. 情報システム部長".into(),
                        text: "# 見出しではない\n<script>x</script>".into(),
                        notes: vec!["利用: 公表不可".into()],
                    },
                    Block::Paragraph {
                        text: "段落".into(),
                    },
                ],
            }],
            footer: String::new(),
        };
        let md = d.to_markdown();
        assert!(md.starts_with("# ヒアリング記録\n"), "{md}");
        assert!(md.contains("- **日時**: 2020-02-10 14:00"), "{md}");
        assert!(md.contains("### 1. 情報システム部長"), "{md}");
        assert!(md.contains("\\# 見出しではない"), "{md}");
        assert!(md.contains("\\<script\\>"), "{md}");
        assert!(md.contains("> 利用: 公表不可"), "{md}");
        assert!(!md.contains("\n<script>"), "{md}");
    }
}
