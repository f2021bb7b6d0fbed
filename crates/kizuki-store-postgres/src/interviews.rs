//! Interviews in PostgreSQL: the interview record as one versioned JSON document, its written
//! questions (numbered 1, 2, 3… and versioned one by one), the operator's attachments with
//! their bytes, the editors' question templates and the claims on interview notices. Version
//! checks and numbering lock the row they depend on (`FOR UPDATE`), so writers on several nodes
//! take turns; the notice claim is one `INSERT … ON CONFLICT DO UPDATE … WHERE` statement, as
//! the reminders' is, so of several nodes exactly one sees a row affected.

use crate::cached::Cached as _;
use async_trait::async_trait;
use kizuki_store::prelude::*;

use crate::rows::{from_json, json};
use crate::{PgStore, pg_err};
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use deadpool_postgres::Transaction;
use kizuki_domain::ids::{CaseId, InterviewId, UserId};
use kizuki_domain::interview::{InterviewBody, Part};
use kizuki_store::{
    AnswerState, Attachment, Current, Interview, NewAttachment, NewQuestion, NoticeClaim,
    NoticeKey, NoticeOf, NoticeRecord, Question, QuestionTemplate, SaveAnswer, StoreError,
    StoreResult,
};
use tokio_postgres::Row;

fn bad(column: &str, value: &str) -> StoreError {
    StoreError::Invalid(format!("unexpected value {value:?} in {column}"))
}

const INTERVIEW_COLS: &str =
    "id, case_id, version, body, created_by, created_at, updated_by, updated_at";

fn interview_row(r: &Row) -> StoreResult<Interview> {
    let body: String = r.get(3);
    Ok(Interview {
        id: InterviewId(r.get(0)),
        case_id: CaseId(r.get(1)),
        version: r.get(2),
        body: from_json::<InterviewBody>("interviews.body", &body)?,
        created_by: UserId(r.get(4)),
        created_at: r.get(5),
        updated_by: UserId(r.get(6)),
        updated_at: r.get(7),
    })
}

async fn load_interview<C: GenericClient + Sync>(c: &C, id: InterviewId) -> StoreResult<Interview> {
    c.cached_query_opt(
        &format!("SELECT {INTERVIEW_COLS} FROM interviews WHERE id = $1"),
        &[&id.0],
    )
    .await
    .map_err(pg_err)?
    .map(|r| interview_row(&r))
    .transpose()?
    .ok_or_else(|| StoreError::not_found("interview", id))
}

/// Locks the interview row for the rest of the transaction and returns its version, so
/// version checks and question numbering see no other writer in between.
async fn lock_interview(tx: &Transaction<'_>, id: InterviewId) -> StoreResult<i64> {
    tx.cached_query_opt(
        "SELECT version FROM interviews WHERE id = $1 FOR UPDATE",
        &[&id.0],
    )
    .await
    .map_err(pg_err)?
    .map(|r| r.get(0))
    .ok_or_else(|| StoreError::not_found("interview", id))
}

const QUESTION_COLS: &str = "id, interview_id, position, part, text, due_on, answer, state, \
                             version, answered_by, answered_at";

fn question_row(r: &Row) -> StoreResult<Question> {
    let position: i32 = r.get(2);
    let part: String = r.get(3);
    let state: String = r.get(7);
    Ok(Question {
        id: r.get(0),
        interview_id: InterviewId(r.get(1)),
        position: u32::try_from(position)
            .map_err(|_| bad("interview_questions.position", &position.to_string()))?,
        part: Part::parse(&part).ok_or_else(|| bad("interview_questions.part", &part))?,
        text: r.get(4),
        due: r.get(5),
        answer: r.get(6),
        state: AnswerState::parse(&state)
            .ok_or_else(|| bad("interview_questions.state", &state))?,
        version: r.get(8),
        answered_by: r.get::<_, Option<i64>>(9).map(UserId),
        answered_at: r.get(10),
    })
}

/// Inserts `questions` after the interview's last position; the caller holds the interview
/// row's lock, so no other writer numbers between the read and the inserts.
async fn insert_questions(
    tx: &Transaction<'_>,
    interview: InterviewId,
    questions: &[NewQuestion],
) -> StoreResult<Vec<Question>> {
    let last: i32 = tx
        .cached_query_one(
            "SELECT COALESCE(MAX(position), 0) FROM interview_questions WHERE interview_id = $1",
            &[&interview.0],
        )
        .await
        .map_err(pg_err)?
        .get(0);
    let st = tx
        .prepare_cached(&format!(
            "INSERT INTO interview_questions (interview_id, position, part, text, due_on,
               answer, state, version) VALUES ($1, $2, $3, $4, $5, '', $6, 1)
             RETURNING {QUESTION_COLS}"
        ))
        .await
        .map_err(pg_err)?;
    let mut out = Vec::with_capacity(questions.len());
    for (q, position) in questions.iter().zip(last + 1..) {
        let row = tx
            .query_one(
                &st,
                &[
                    &interview.0,
                    &position,
                    &q.part.code(),
                    &q.text,
                    &q.due,
                    &AnswerState::Open.code(),
                ],
            )
            .await
            .map_err(pg_err)?;
        out.push(question_row(&row)?);
    }
    Ok(out)
}

/// Everything of an attachment but its bytes, which only [`InterviewStore::attachment`] reads.
const ATTACHMENT_COLS: &str =
    "id, interview_id, filename, media_type, size, sha256, uploaded_by, uploaded_at";

fn attachment_row(r: &Row) -> StoreResult<Attachment> {
    let size: i64 = r.get(4);
    Ok(Attachment {
        id: r.get(0),
        interview_id: InterviewId(r.get(1)),
        filename: r.get(2),
        media_type: r.get(3),
        size: u64::try_from(size)
            .map_err(|_| bad("interview_attachments.size", &size.to_string()))?,
        sha256: r.get(5),
        uploaded_by: UserId(r.get(6)),
        uploaded_at: r.get(7),
    })
}

const TEMPLATE_COLS: &str = "category, body, version, updated_by, updated_at";

fn template_row(r: &Row) -> QuestionTemplate {
    QuestionTemplate {
        category: r.get(0),
        body: r.get(1),
        version: r.get(2),
        updated_by: UserId(r.get(3)),
        updated_at: r.get(4),
    }
}

/// The category's template version, 0 when none is stored, its row locked if there is one.
async fn template_version(tx: &Transaction<'_>, category: &str) -> StoreResult<i64> {
    Ok(tx
        .cached_query_opt(
            "SELECT version FROM question_templates WHERE category = $1 FOR UPDATE",
            &[&category],
        )
        .await
        .map_err(pg_err)?
        .map_or(0, |r| r.get(0)))
}

/// The columns of a notice row after the one naming its record.
const NOTICE_COLS: &str = "subject, attempts, lease_until, sent_at, last_error";

fn notice_row(of: NoticeOf, r: &Row) -> StoreResult<NoticeRecord> {
    let attempts: i32 = r.get(2);
    Ok(NoticeRecord {
        key: NoticeKey {
            of: of.with_id(r.get(0)),
            subject: r.get(1),
        },
        attempts: u32::try_from(attempts)
            .map_err(|_| bad("notices.attempts", &attempts.to_string()))?,
        lease_until: r.get(3),
        sent_at: r.get(4),
        last_error: r.get(5),
    })
}

#[async_trait]
impl InterviewStore for PgStore {
    async fn create_interview(
        &self,
        case: CaseId,
        body: InterviewBody,
        questions: Vec<NewQuestion>,
        by: UserId,
        at: DateTime<Utc>,
    ) -> StoreResult<Interview> {
        let body = json(&body)?;
        in_tx!(self, |tx| {
            // Said as what it is, before the foreign key would refuse it as merely invalid.
            tx.cached_query_opt("SELECT 1 FROM cases WHERE id = $1", &[&case.0])
                .await
                .map_err(pg_err)?
                .ok_or_else(|| StoreError::not_found("case", case))?;
            let row = tx
                .cached_query_one(
                    &format!(
                        "INSERT INTO interviews (case_id, version, body, created_by, created_at,
                           updated_by, updated_at) VALUES ($1, 1, $2, $3, $4, $3, $4)
                         RETURNING {INTERVIEW_COLS}"
                    ),
                    &[&case.0, &body, &by.0, &at],
                )
                .await
                .map_err(pg_err)?;
            let interview = interview_row(&row)?;
            // Nobody else can see the new row before the commit, so no lock is needed.
            insert_questions(&tx, interview.id, &questions).await?;
            Ok(interview)
        })
    }

    async fn get_interview(&self, id: InterviewId) -> StoreResult<Interview> {
        load_interview(&self.client().await?, id).await
    }

    async fn list_interviews(&self, case: Option<CaseId>) -> StoreResult<Vec<Interview>> {
        self.client()
            .await?
            .cached_query(
                &format!(
                    "SELECT {INTERVIEW_COLS} FROM interviews
                     WHERE $1::BIGINT IS NULL OR case_id = $1 ORDER BY id"
                ),
                &[&case.map(|c| c.0)],
            )
            .await
            .map_err(pg_err)?
            .iter()
            .map(interview_row)
            .collect()
    }

    async fn update_interview(
        &self,
        id: InterviewId,
        expected_version: i64,
        body: InterviewBody,
        by: UserId,
        at: DateTime<Utc>,
    ) -> StoreResult<Interview> {
        let body = json(&body)?;
        in_tx!(self, |tx| {
            let current = lock_interview(&tx, id).await?;
            if current != expected_version {
                return Err(StoreError::Conflict {
                    entity: "interview",
                    current: Current::Version(current),
                });
            }
            let row = tx
                .cached_query_one(
                    &format!(
                        "UPDATE interviews SET body = $2, version = version + 1,
                           updated_by = $3, updated_at = $4
                         WHERE id = $1 RETURNING {INTERVIEW_COLS}"
                    ),
                    &[&id.0, &body, &by.0, &at],
                )
                .await
                .map_err(pg_err)?;
            interview_row(&row)
        })
    }

    async fn add_questions(
        &self,
        id: InterviewId,
        questions: Vec<NewQuestion>,
    ) -> StoreResult<Vec<Question>> {
        in_tx!(self, |tx| {
            lock_interview(&tx, id).await?;
            insert_questions(&tx, id, &questions).await
        })
    }

    async fn questions(&self, id: InterviewId) -> StoreResult<Vec<Question>> {
        self.client()
            .await?
            .cached_query(
                &format!(
                    "SELECT {QUESTION_COLS} FROM interview_questions WHERE interview_id = $1
                     ORDER BY position"
                ),
                &[&id.0],
            )
            .await
            .map_err(pg_err)?
            .iter()
            .map(question_row)
            .collect()
    }

    async fn save_answer(&self, a: SaveAnswer) -> StoreResult<Question> {
        in_tx!(self, |tx| {
            let row = tx
                .cached_query_opt(
                    "SELECT version, state FROM interview_questions WHERE id = $1 FOR UPDATE",
                    &[&a.question],
                )
                .await
                .map_err(pg_err)?
                .ok_or_else(|| StoreError::not_found("question", a.question))?;
            let version: i64 = row.get(0);
            let state: String = row.get(1);
            // The version first: a writer that saw an older question must look again either
            // way, and then sees that it was submitted.
            if version != a.expected_version {
                return Err(StoreError::Conflict {
                    entity: "question",
                    current: Current::Version(version),
                });
            }
            if state == AnswerState::Submitted.code() {
                return Err(StoreError::Invalid(
                    "the answer was submitted and can no longer be changed".into(),
                ));
            }
            let next = if a.submit {
                AnswerState::Submitted
            } else {
                AnswerState::Draft
            };
            let row = tx
                .cached_query_one(
                    &format!(
                        "UPDATE interview_questions SET answer = $2, state = $3,
                           version = version + 1, answered_by = $4, answered_at = $5
                         WHERE id = $1 RETURNING {QUESTION_COLS}"
                    ),
                    &[&a.question, &a.answer, &next.code(), &a.by.0, &a.at],
                )
                .await
                .map_err(pg_err)?;
            question_row(&row)
        })
    }

    async fn add_attachment(&self, a: NewAttachment) -> StoreResult<Attachment> {
        let size = i64::try_from(a.content.len())
            .map_err(|_| StoreError::Invalid("attachment too large".into()))?;
        in_tx!(self, |tx| {
            // Said as what it is, before the foreign key would refuse it as merely invalid.
            tx.cached_query_opt(
                "SELECT 1 FROM interviews WHERE id = $1",
                &[&a.interview_id.0],
            )
            .await
            .map_err(pg_err)?
            .ok_or_else(|| StoreError::not_found("interview", a.interview_id))?;
            let row = tx
                .cached_query_one(
                    &format!(
                        "INSERT INTO interview_attachments (interview_id, filename, media_type,
                           size, sha256, content, uploaded_by, uploaded_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                         RETURNING {ATTACHMENT_COLS}"
                    ),
                    &[
                        &a.interview_id.0,
                        &a.filename,
                        &a.media_type,
                        &size,
                        &a.sha256,
                        &a.content,
                        &a.by.0,
                        &a.at,
                    ],
                )
                .await
                .map_err(pg_err)?;
            attachment_row(&row)
        })
    }

    async fn attachments(&self, id: InterviewId) -> StoreResult<Vec<Attachment>> {
        self.client()
            .await?
            .cached_query(
                &format!(
                    "SELECT {ATTACHMENT_COLS} FROM interview_attachments WHERE interview_id = $1
                     ORDER BY id"
                ),
                &[&id.0],
            )
            .await
            .map_err(pg_err)?
            .iter()
            .map(attachment_row)
            .collect()
    }

    async fn attachment(&self, id: i64) -> StoreResult<(Attachment, Vec<u8>)> {
        let row = self
            .client()
            .await?
            .cached_query_opt(
                &format!(
                    "SELECT {ATTACHMENT_COLS}, content FROM interview_attachments WHERE id = $1"
                ),
                &[&id],
            )
            .await
            .map_err(pg_err)?
            .ok_or_else(|| StoreError::not_found("attachment", id))?;
        Ok((attachment_row(&row)?, row.get(8)))
    }

    async fn question_template(&self, category: &str) -> StoreResult<Option<QuestionTemplate>> {
        Ok(self
            .client()
            .await?
            .cached_query_opt(
                &format!("SELECT {TEMPLATE_COLS} FROM question_templates WHERE category = $1"),
                &[&category],
            )
            .await
            .map_err(pg_err)?
            .map(|r| template_row(&r)))
    }

    async fn put_question_template(
        &self,
        category: &str,
        body: &str,
        expected_version: i64,
        by: UserId,
        at: DateTime<Utc>,
    ) -> StoreResult<QuestionTemplate> {
        in_tx!(self, |tx| {
            let conflict = |current| StoreError::Conflict {
                entity: "question template",
                current: Current::Version(current),
            };
            // None stored counts as version 0, so the first save is checked like the others.
            let current = template_version(&tx, category).await?;
            if current != expected_version {
                return Err(conflict(current));
            }
            let row = if current == 0 {
                // No row to lock yet: of two first saves, the second waits on the key and then
                // inserts nothing.
                tx.cached_query_opt(
                    &format!(
                        "INSERT INTO question_templates ({TEMPLATE_COLS})
                         VALUES ($1, $2, 1, $3, $4)
                         ON CONFLICT (category) DO NOTHING RETURNING {TEMPLATE_COLS}"
                    ),
                    &[&category, &body, &by.0, &at],
                )
                .await
                .map_err(pg_err)?
            } else {
                tx.cached_query_opt(
                    &format!(
                        "UPDATE question_templates SET body = $2, version = version + 1,
                           updated_by = $3, updated_at = $4
                         WHERE category = $1 RETURNING {TEMPLATE_COLS}"
                    ),
                    &[&category, &body, &by.0, &at],
                )
                .await
                .map_err(pg_err)?
            };
            match row {
                Some(r) => Ok(template_row(&r)),
                // Another node saved the first version meanwhile; this statement sees it.
                None => Err(conflict(template_version(&tx, category).await?)),
            }
        })
    }

    async fn claim_notice(&self, claim: &NoticeClaim) -> StoreResult<bool> {
        let c = claim;
        let max = i32::try_from(c.max_attempts).unwrap_or(i32::MAX);
        let (table, col) = c.key.of.table();
        let n = self
            .client()
            .await?
            .cached_execute(
                &format!(
                    "INSERT INTO {table} ({col}, subject, token, attempts,
                       claimed_at, lease_until) VALUES ($1, $2, $3, 1, $4, $5)
                     ON CONFLICT ({col}, subject) DO UPDATE SET
                       token = excluded.token, attempts = {table}.attempts + 1,
                       claimed_at = excluded.claimed_at, lease_until = excluded.lease_until
                     WHERE {table}.sent_at IS NULL
                       AND {table}.lease_until <= $4
                       AND {table}.attempts < $6"
                ),
                &[
                    &c.key.of.id(),
                    &c.key.subject,
                    &c.token,
                    &c.now,
                    &c.lease_until,
                    &max,
                ],
            )
            .await
            .map_err(pg_err)?;
        Ok(n == 1)
    }

    async fn notice_sent(
        &self,
        key: &NoticeKey,
        token: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let (table, col) = key.of.table();
        let n = self
            .client()
            .await?
            .cached_execute(
                &format!(
                    "UPDATE {table} SET sent_at = $4, last_error = NULL
                     WHERE {col} = $1 AND subject = $2 AND token = $3 AND sent_at IS NULL"
                ),
                &[&key.of.id(), &key.subject, &token, &at],
            )
            .await
            .map_err(pg_err)?;
        Ok(n == 1)
    }

    async fn release_notice(
        &self,
        key: &NoticeKey,
        token: &str,
        retry_at: DateTime<Utc>,
        error: &str,
    ) -> StoreResult<()> {
        let (table, col) = key.of.table();
        self.client()
            .await?
            .cached_execute(
                &format!(
                    "UPDATE {table} SET lease_until = $4, last_error = $5
                     WHERE {col} = $1 AND subject = $2 AND token = $3 AND sent_at IS NULL"
                ),
                &[&key.of.id(), &key.subject, &token, &retry_at, &error],
            )
            .await
            .map_err(pg_err)?;
        Ok(())
    }

    async fn notices(&self, of: NoticeOf) -> StoreResult<Vec<NoticeRecord>> {
        let (table, col) = of.table();
        let mut v = self
            .client()
            .await?
            .cached_query(
                &format!("SELECT {col}, {NOTICE_COLS} FROM {table} WHERE {col} = $1"),
                &[&of.id()],
            )
            .await
            .map_err(pg_err)?
            .iter()
            .map(|r| notice_row(of, r))
            .collect::<StoreResult<Vec<_>>>()?;
        // Sorted here rather than by the database, whose collation may ignore punctuation:
        // by subject as bytes, as in SQLite.
        v.sort_by(|a, b| a.key.subject.cmp(&b.key.subject));
        Ok(v)
    }
}
