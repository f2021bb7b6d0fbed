//! An interview's record as a document in Japanese — the request and answers, the written
//! questions and answers, the minutes with each statement's section, step and consent, and
//! the list of attachments — for download as Markdown or PDF.

use super::InterviewView;
use kizuki_annual_report::document::{Block, DocSection, Document, Fact};
use kizuki_domain::interview::Reply;
use kizuki_store::AnswerState;

fn dt(t: &chrono::NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// A recorded moment in Japan time.
fn at(t: chrono::DateTime<chrono::Utc>) -> String {
    dt(&t.with_timezone(&kizuki_domain::clock::jst()).naive_local())
}

/// The document of interview `v`, with the users' names from `name`.
pub fn document(
    v: &InterviewView,
    name: &dyn Fn(kizuki_domain::ids::UserId) -> String,
) -> Document {
    let i = &v.interview;
    let b = &i.body;
    let r = &b.request;
    let year = v
        .survey_year
        .map_or_else(String::new, |y| format!("{y}年度 "));
    let mut facts = vec![
        Fact {
            label: "事例".into(),
            value: format!("{year}事例{} {}", v.case_number, v.case_title),
        },
        Fact {
            label: "状況".into(),
            value: v.status_label.into(),
        },
        Fact {
            label: "形式".into(),
            value: r.mode.label_ja().into(),
        },
        Fact {
            label: "候補日時".into(),
            value: r.proposed.iter().map(dt).collect::<Vec<_>>().join("、"),
        },
    ];
    if let Some(t) = &b.minutes.held_at {
        facts.push(Fact {
            label: "実施日時".into(),
            value: dt(t),
        });
    }
    let place = if b.minutes.place.is_empty() {
        &r.place
    } else {
        &b.minutes.place
    };
    if !place.is_empty() {
        facts.push(Fact {
            label: "場所".into(),
            value: place.clone(),
        });
    }
    if !b.minutes.attendees.is_empty() {
        facts.push(Fact {
            label: "出席者".into(),
            value: b.minutes.attendees.clone(),
        });
    }

    let mut sections = Vec::new();
    let mut exchange = vec![Block::Item {
        label: format!("依頼（{}、{}）", name(r.sent_by), at(r.sent_at)),
        text: if r.note.is_empty() {
            "（連絡事項なし）".into()
        } else {
            r.note.clone()
        },
        notes: vec![format!("出席者（センター）: {}", r.attendees)],
    }];
    for a in &b.answers {
        let what = match &a.reply {
            Reply::Accepted { on } => format!("受諾: {}", dt(on)),
            Reply::Proposed { proposed } => format!(
                "日程の再提案: {}",
                proposed.iter().map(dt).collect::<Vec<_>>().join("、")
            ),
            Reply::Declined => "辞退".into(),
        };
        exchange.push(Block::Item {
            label: format!("回答（{}、{}）", name(a.by), at(a.at)),
            text: what,
            notes: [
                (!a.attendees.is_empty()).then(|| format!("出席者（事業者）: {}", a.attendees)),
                (!a.note.is_empty()).then(|| a.note.clone()),
            ]
            .into_iter()
            .flatten()
            .collect(),
        });
    }
    sections.push(DocSection {
        heading: "依頼と回答".into(),
        blocks: exchange,
    });

    if !v.questions.is_empty() {
        sections.push(DocSection {
            heading: "書面の質問と回答".into(),
            blocks: v
                .questions
                .iter()
                .map(|q| Block::Item {
                    label: format!("質問{}（{}）{}", q.position, q.part.label_ja(), q.text),
                    text: match q.state {
                        AnswerState::Submitted => q.answer.clone(),
                        AnswerState::Draft => "（回答は下書きのまま、未提出）".into(),
                        AnswerState::Open => "（未回答）".into(),
                    },
                    notes: q.due.map(|d| format!("期限: {d}")).into_iter().collect(),
                })
                .collect(),
        });
    }

    sections.push(DocSection {
        heading: "議事録".into(),
        blocks: if v.statements.is_empty() {
            vec![Block::Paragraph {
                text: "（まだ記録されていません）".into(),
            }]
        } else {
            v.statements
                .iter()
                .map(|s| {
                    let mut notes = Vec::new();
                    if let Some(p) = s.part_label {
                        notes.push(format!("章: {p}"));
                    }
                    if let Some(l) = &s.step_label {
                        notes.push(format!("手順: {l}"));
                    }
                    notes.push(match &s.statement.consent {
                        Some(c) => format!(
                            "利用: {}（{}、{}）",
                            c.usage.label_ja(),
                            name(c.by),
                            at(c.at)
                        ),
                        None => "利用: 同意未確認".into(),
                    });
                    Block::Item {
                        label: if s.statement.speaker.is_empty() {
                            format!("発言{}", s.statement.id)
                        } else {
                            format!("発言{} {}", s.statement.id, s.statement.speaker)
                        },
                        text: s.statement.text.clone(),
                        notes,
                    }
                })
                .collect()
        },
    });

    if !v.attachments.is_empty() {
        sections.push(DocSection {
            heading: "添付資料".into(),
            blocks: v
                .attachments
                .iter()
                .map(|a| Block::Item {
                    label: a.filename.clone(),
                    text: format!("{}、{} バイト", a.media_type, a.size),
                    notes: vec![format!("SHA-256: {}", a.sha256)],
                })
                .collect(),
        });
    }

    Document {
        title: "ヒアリング記録".into(),
        subtitle: format!("{year}事例{} {}", v.case_number, v.case_title),
        facts,
        sections,
        footer: format!(
            "kizuki ヒアリング {}（版 {}、{} 更新）。取扱注意: 公表不可の発言を含むことがあります。",
            i.id,
            i.version,
            at(i.updated_at)
        ),
    }
}

/// A rendered record, ready to download.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
    pub file_name: String,
}

/// Interview `id`'s record as Markdown (`pdf` false) or PDF, for whoever may see the
/// interview; each export is audited, since it carries statements not for publication.
pub async fn render(
    app: &crate::App,
    p: &crate::auth::Principal,
    id: kizuki_domain::ids::InterviewId,
    pdf: bool,
    fonts: &[std::path::PathBuf],
) -> crate::error::AppResult<Rendered> {
    let v = super::view(app, p, id).await?;
    let names = super::names(app).await?;
    let doc = document(&v, &|u| {
        names.get(&u).cloned().unwrap_or_else(|| format!("#{u}"))
    });
    let stem = format!("interview-{id}");
    let out = if pdf {
        let fonts = fonts.to_vec();
        let bytes = tokio::task::spawn_blocking(move || {
            kizuki_pdf::render_document_with_fonts(&doc, &fonts)
        })
        .await
        .map_err(|e| crate::error::AppError::Internal(format!("PDF task: {e}")))?
        .map_err(|e| crate::error::AppError::Internal(format!("PDF: {e}")))?;
        Rendered {
            bytes,
            content_type: "application/pdf",
            file_name: format!("{stem}.pdf"),
        }
    } else {
        Rendered {
            bytes: doc.to_markdown().into_bytes(),
            content_type: "text/markdown; charset=utf-8",
            file_name: format!("{stem}.md"),
        }
    };
    crate::security::audit_log::note(
        app,
        crate::security::audit::actor_user(p.user_id),
        crate::security::audit::actions::EXPORT,
        format!("interview:{id}"),
        &serde_json::json!({"format": if pdf { "pdf" } else { "md" }}),
    )
    .await?;
    Ok(out)
}
