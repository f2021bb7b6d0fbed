//! Interviews in SQLite: the interview record as one versioned JSON document, its written
//! questions (numbered 1, 2, 3… and versioned one by one), the operator's attachments with
//! their bytes, the editors' question templates and the claims on interview notices. Every
//! write goes through the one writer connection, so reading a version (or the last position)
//! and writing after it cannot interleave with another writer; the notice claim is still one
//! `INSERT … ON CONFLICT DO UPDATE … WHERE` statement, atomic on its own as the PostgreSQL one
//! must be.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use kizuki_store::prelude::*;

use super::{SqliteStore, db_err, load_case};
use crate::codec::{self, from_json, time_from, time_to, to_json};
use kizuki_domain::ids::{CaseId, InterviewId, UserId};
use kizuki_domain::interview::{InterviewBody, Part};
use kizuki_store::{
    AnswerState, Attachment, Current, Interview, NewAttachment, NewQuestion, NoticeClaim,
    NoticeKey, NoticeOf, NoticeRecord, Question, QuestionTemplate, SaveAnswer, StoreError,
    StoreResult,
};
use rusqlite::{Connection, OptionalExtension, params};

/// Days are stored as ISO 8601 text, so they sort and compare as text.
const DATE: &str = "%Y-%m-%d";

const INTERVIEW_COLS: &str =
    "id, case_id, version, body, created_by, created_at, updated_by, updated_at";

fn interview_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Interview> {
    Ok(Interview {
        id: InterviewId(r.get(0)?),
        case_id: CaseId(r.get(1)?),
        version: r.get(2)?,
        body: from_json::<InterviewBody>(&r.get::<_, String>(3)?)?,
        created_by: UserId(r.get(4)?),
        created_at: time_from(&r.get::<_, String>(5)?)?,
        updated_by: UserId(r.get(6)?),
        updated_at: time_from(&r.get::<_, String>(7)?)?,
    })
}

fn load_interview(c: &Connection, id: InterviewId) -> StoreResult<Interview> {
    c.query_row(
        &format!("SELECT {INTERVIEW_COLS} FROM interviews WHERE id = ?1"),
        [id.0],
        interview_row,
    )
    .optional()
    .map_err(db_err)?
    .ok_or_else(|| StoreError::not_found("interview", id))
}

/// Said as what it is, before a foreign key would refuse the write as merely invalid.
fn interview_exists(c: &Connection, id: InterviewId) -> StoreResult<()> {
    c.query_row("SELECT 1 FROM interviews WHERE id = ?1", [id.0], |_| Ok(()))
        .optional()
        .map_err(db_err)?
        .ok_or_else(|| StoreError::not_found("interview", id))
}

const QUESTION_COLS: &str = "id, interview_id, position, part, text, due_on, answer, state, \
                             version, answered_by, answered_at";

fn question_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Question> {
    let part: String = r.get(3)?;
    let state: String = r.get(7)?;
    Ok(Question {
        id: r.get(0)?,
        interview_id: InterviewId(r.get(1)?),
        position: r.get(2)?,
        part: Part::parse(&part).ok_or_else(|| codec::bad("interview_questions.part", &part))?,
        text: r.get(4)?,
        due: r
            .get::<_, Option<String>>(5)?
            .map(|d| {
                NaiveDate::parse_from_str(&d, DATE)
                    .map_err(|_| codec::bad("interview_questions.due_on", &d))
            })
            .transpose()?,
        answer: r.get(6)?,
        state: AnswerState::parse(&state)
            .ok_or_else(|| codec::bad("interview_questions.state", &state))?,
        version: r.get(8)?,
        answered_by: r.get::<_, Option<i64>>(9)?.map(UserId),
        answered_at: r
            .get::<_, Option<String>>(10)?
            .map(|t| time_from(&t))
            .transpose()?,
    })
}

fn load_question(c: &Connection, id: i64) -> StoreResult<Question> {
    c.query_row(
        &format!("SELECT {QUESTION_COLS} FROM interview_questions WHERE id = ?1"),
        [id],
        question_row,
    )
    .optional()
    .map_err(db_err)?
    .ok_or_else(|| StoreError::not_found("question", id))
}

/// Inserts `questions` after the interview's last position; the caller has checked that the
/// interview exists. Runs on the writer, so no other writer numbers between the read and the
/// inserts.
fn insert_questions(
    c: &Connection,
    interview: InterviewId,
    questions: &[NewQuestion],
) -> StoreResult<Vec<Question>> {
    let last: i64 = c
        .query_row(
            "SELECT COALESCE(MAX(position), 0) FROM interview_questions WHERE interview_id = ?1",
            [interview.0],
            |r| r.get(0),
        )
        .map_err(db_err)?;
    let mut out = Vec::with_capacity(questions.len());
    let mut st = c
        .prepare_cached(
            "INSERT INTO interview_questions (interview_id, position, part, text, due_on, \
             answer, state, version) VALUES (?1, ?2, ?3, ?4, ?5, '', ?6, 1)",
        )
        .map_err(db_err)?;
    for (q, n) in questions.iter().zip(last + 1..) {
        let position =
            u32::try_from(n).map_err(|_| StoreError::Invalid(format!("question position {n}")))?;
        st.execute(params![
            interview.0,
            position,
            q.part.code(),
            q.text,
            q.due.map(|d| d.format(DATE).to_string()),
            AnswerState::Open.code(),
        ])
        .map_err(db_err)?;
        out.push(Question {
            id: c.last_insert_rowid(),
            interview_id: interview,
            position,
            part: q.part,
            text: q.text.clone(),
            due: q.due,
            answer: String::new(),
            state: AnswerState::Open,
            version: 1,
            answered_by: None,
            answered_at: None,
        });
    }
    Ok(out)
}

/// Everything of an attachment but its bytes, which only [`InterviewStore::attachment`] reads.
const ATTACHMENT_COLS: &str =
    "id, interview_id, filename, media_type, size, sha256, uploaded_by, uploaded_at";

fn attachment_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Attachment> {
    let size: i64 = r.get(4)?;
    Ok(Attachment {
        id: r.get(0)?,
        interview_id: InterviewId(r.get(1)?),
        filename: r.get(2)?,
        media_type: r.get(3)?,
        size: u64::try_from(size)
            .map_err(|_| codec::bad("interview_attachments.size", &size.to_string()))?,
        sha256: r.get(5)?,
        uploaded_by: UserId(r.get(6)?),
        uploaded_at: time_from(&r.get::<_, String>(7)?)?,
    })
}

const TEMPLATE_COLS: &str = "category, body, version, updated_by, updated_at";

fn template_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<QuestionTemplate> {
    Ok(QuestionTemplate {
        category: r.get(0)?,
        body: r.get(1)?,
        version: r.get(2)?,
        updated_by: UserId(r.get(3)?),
        updated_at: time_from(&r.get::<_, String>(4)?)?,
    })
}

fn load_template(c: &Connection, category: &str) -> rusqlite::Result<Option<QuestionTemplate>> {
    c.query_row(
        &format!("SELECT {TEMPLATE_COLS} FROM question_templates WHERE category = ?1"),
        [category],
        template_row,
    )
    .optional()
}

/// The columns of a notice row after the one naming its record.
const NOTICE_COLS: &str = "subject, attempts, lease_until, sent_at, last_error";

fn notice_row(of: NoticeOf, r: &rusqlite::Row<'_>) -> rusqlite::Result<NoticeRecord> {
    Ok(NoticeRecord {
        key: NoticeKey {
            of: of.with_id(r.get(0)?),
            subject: r.get(1)?,
        },
        attempts: r.get(2)?,
        lease_until: time_from(&r.get::<_, String>(3)?)?,
        sent_at: r
            .get::<_, Option<String>>(4)?
            .map(|t| time_from(&t))
            .transpose()?,
        last_error: r.get(5)?,
    })
}

#[async_trait]
impl InterviewStore for SqliteStore {
    async fn create_interview(
        &self,
        case: CaseId,
        body: InterviewBody,
        questions: Vec<NewQuestion>,
        by: UserId,
        at: DateTime<Utc>,
    ) -> StoreResult<Interview> {
        self.write(move |tx| {
            load_case(tx, case)?;
            tx.execute(
                "INSERT INTO interviews (case_id, version, body, created_by, created_at, \
                 updated_by, updated_at) VALUES (?1, 1, ?2, ?3, ?4, ?3, ?4)",
                params![case.0, to_json(&body).map_err(db_err)?, by.0, time_to(at)],
            )
            .map_err(db_err)?;
            let id = InterviewId(tx.last_insert_rowid());
            insert_questions(tx, id, &questions)?;
            load_interview(tx, id)
        })
        .await
    }

    async fn get_interview(&self, id: InterviewId) -> StoreResult<Interview> {
        self.read_store(move |c| load_interview(c, id)).await
    }

    async fn list_interviews(&self, case: Option<CaseId>) -> StoreResult<Vec<Interview>> {
        self.read(move |c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {INTERVIEW_COLS} FROM interviews WHERE ?1 IS NULL OR case_id = ?1 \
                 ORDER BY id"
            ))?;
            st.query_map([case.map(|c| c.0)], interview_row)?.collect()
        })
        .await
    }

    async fn update_interview(
        &self,
        id: InterviewId,
        expected_version: i64,
        body: InterviewBody,
        by: UserId,
        at: DateTime<Utc>,
    ) -> StoreResult<Interview> {
        self.write(move |tx| {
            let current = load_interview(tx, id)?;
            if current.version != expected_version {
                return Err(StoreError::Conflict {
                    entity: "interview",
                    current: Current::Version(current.version),
                });
            }
            tx.execute(
                "UPDATE interviews SET body = ?2, version = version + 1, updated_by = ?3, \
                 updated_at = ?4 WHERE id = ?1",
                params![id.0, to_json(&body).map_err(db_err)?, by.0, time_to(at)],
            )
            .map_err(db_err)?;
            load_interview(tx, id)
        })
        .await
    }

    async fn add_questions(
        &self,
        id: InterviewId,
        questions: Vec<NewQuestion>,
    ) -> StoreResult<Vec<Question>> {
        self.write(move |tx| {
            interview_exists(tx, id)?;
            insert_questions(tx, id, &questions)
        })
        .await
    }

    async fn questions(&self, id: InterviewId) -> StoreResult<Vec<Question>> {
        self.read(move |c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {QUESTION_COLS} FROM interview_questions WHERE interview_id = ?1 \
                 ORDER BY position"
            ))?;
            st.query_map([id.0], question_row)?.collect()
        })
        .await
    }

    async fn save_answer(&self, a: SaveAnswer) -> StoreResult<Question> {
        self.write(move |tx| {
            let current = load_question(tx, a.question)?;
            // The version first: a writer that saw an older question must look again either
            // way, and then sees that it was submitted.
            if current.version != a.expected_version {
                return Err(StoreError::Conflict {
                    entity: "question",
                    current: Current::Version(current.version),
                });
            }
            if current.state == AnswerState::Submitted {
                return Err(StoreError::Invalid(
                    "the answer was submitted and can no longer be changed".into(),
                ));
            }
            let state = if a.submit {
                AnswerState::Submitted
            } else {
                AnswerState::Draft
            };
            tx.execute(
                "UPDATE interview_questions SET answer = ?2, state = ?3, version = version + 1, \
                 answered_by = ?4, answered_at = ?5 WHERE id = ?1",
                params![a.question, a.answer, state.code(), a.by.0, time_to(a.at)],
            )
            .map_err(db_err)?;
            load_question(tx, a.question)
        })
        .await
    }

    async fn add_attachment(&self, a: NewAttachment) -> StoreResult<Attachment> {
        self.write(move |tx| {
            interview_exists(tx, a.interview_id)?;
            let size = i64::try_from(a.content.len())
                .map_err(|_| StoreError::Invalid("attachment too large".into()))?;
            tx.execute(
                "INSERT INTO interview_attachments (interview_id, filename, media_type, size, \
                 sha256, content, uploaded_by, uploaded_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    a.interview_id.0,
                    a.filename,
                    a.media_type,
                    size,
                    a.sha256,
                    a.content,
                    a.by.0,
                    time_to(a.at)
                ],
            )
            .map_err(db_err)?;
            Ok(Attachment {
                id: tx.last_insert_rowid(),
                interview_id: a.interview_id,
                filename: a.filename,
                media_type: a.media_type,
                size: size.unsigned_abs(),
                sha256: a.sha256,
                uploaded_by: a.by,
                uploaded_at: a.at,
            })
        })
        .await
    }

    async fn attachments(&self, id: InterviewId) -> StoreResult<Vec<Attachment>> {
        self.read(move |c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {ATTACHMENT_COLS} FROM interview_attachments WHERE interview_id = ?1 \
                 ORDER BY id"
            ))?;
            st.query_map([id.0], attachment_row)?.collect()
        })
        .await
    }

    async fn attachment(&self, id: i64) -> StoreResult<(Attachment, Vec<u8>)> {
        self.read_store(move |c| {
            c.query_row(
                &format!(
                    "SELECT {ATTACHMENT_COLS}, content FROM interview_attachments WHERE id = ?1"
                ),
                [id],
                |r| Ok((attachment_row(r)?, r.get::<_, Vec<u8>>(8)?)),
            )
            .optional()
            .map_err(db_err)?
            .ok_or_else(|| StoreError::not_found("attachment", id))
        })
        .await
    }

    async fn question_template(&self, category: &str) -> StoreResult<Option<QuestionTemplate>> {
        let category = category.to_owned();
        self.read(move |c| load_template(c, &category)).await
    }

    async fn put_question_template(
        &self,
        category: &str,
        body: &str,
        expected_version: i64,
        by: UserId,
        at: DateTime<Utc>,
    ) -> StoreResult<QuestionTemplate> {
        let category = category.to_owned();
        let body = body.to_owned();
        self.write(move |tx| {
            // None stored counts as version 0, so the first save is checked like the others.
            let current = load_template(tx, &category)
                .map_err(db_err)?
                .map_or(0, |t| t.version);
            if current != expected_version {
                return Err(StoreError::Conflict {
                    entity: "question template",
                    current: Current::Version(current),
                });
            }
            tx.execute(
                &format!(
                    "INSERT INTO question_templates ({TEMPLATE_COLS}) VALUES (?1, ?2, ?3, ?4, ?5) \
                     ON CONFLICT (category) DO UPDATE SET body = excluded.body, \
                     version = excluded.version, updated_by = excluded.updated_by, \
                     updated_at = excluded.updated_at"
                ),
                params![category, body, current + 1, by.0, time_to(at)],
            )
            .map_err(db_err)?;
            Ok(QuestionTemplate {
                category,
                body,
                version: current + 1,
                updated_by: by,
                updated_at: at,
            })
        })
        .await
    }

    async fn claim_notice(&self, claim: &NoticeClaim) -> StoreResult<bool> {
        let c: NoticeClaim = claim.clone();
        let (table, col) = c.key.of.table();
        self.write(move |tx| {
            let n = tx
                .execute(
                    &format!(
                        "INSERT INTO {table} ({col}, subject, token, attempts, \
                         claimed_at, lease_until) VALUES (?1, ?2, ?3, 1, ?4, ?5) \
                         ON CONFLICT ({col}, subject) DO UPDATE SET \
                         token = excluded.token, attempts = {table}.attempts + 1, \
                         claimed_at = excluded.claimed_at, lease_until = excluded.lease_until \
                         WHERE {table}.sent_at IS NULL \
                         AND {table}.lease_until <= ?4 \
                         AND {table}.attempts < ?6"
                    ),
                    params![
                        c.key.of.id(),
                        c.key.subject,
                        c.token,
                        time_to(c.now),
                        time_to(c.lease_until),
                        c.max_attempts,
                    ],
                )
                .map_err(db_err)?;
            Ok(n == 1)
        })
        .await
    }

    async fn notice_sent(
        &self,
        key: &NoticeKey,
        token: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let key = key.clone();
        let token = token.to_owned();
        let (table, col) = key.of.table();
        self.write(move |tx| {
            let n = tx
                .execute(
                    &format!(
                        "UPDATE {table} SET sent_at = ?4, last_error = NULL \
                         WHERE {col} = ?1 AND subject = ?2 AND token = ?3 \
                         AND sent_at IS NULL"
                    ),
                    params![key.of.id(), key.subject, token, time_to(at)],
                )
                .map_err(db_err)?;
            Ok(n == 1)
        })
        .await
    }

    async fn release_notice(
        &self,
        key: &NoticeKey,
        token: &str,
        retry_at: DateTime<Utc>,
        error: &str,
    ) -> StoreResult<()> {
        let key = key.clone();
        let token = token.to_owned();
        let error = error.to_owned();
        let (table, col) = key.of.table();
        self.write(move |tx| {
            tx.execute(
                &format!(
                    "UPDATE {table} SET lease_until = ?4, last_error = ?5 \
                     WHERE {col} = ?1 AND subject = ?2 AND token = ?3 AND sent_at IS NULL"
                ),
                params![key.of.id(), key.subject, token, time_to(retry_at), error],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn notices(&self, of: NoticeOf) -> StoreResult<Vec<NoticeRecord>> {
        let (table, col) = of.table();
        let mut v = self
            .read(move |c| {
                let mut st = c.prepare_cached(&format!(
                    "SELECT {col}, {NOTICE_COLS} FROM {table} WHERE {col} = ?1"
                ))?;
                st.query_map([of.id()], |r| notice_row(of, r))?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        // Sorted here rather than by the database, so both backends agree whatever collation
        // a PostgreSQL database was created with: by subject as bytes.
        v.sort_by(|a, b| a.key.subject.cmp(&b.key.subject));
        Ok(v)
    }
}
