//! Bulk imports through the API: `POST /api/v1/reports/bulk` hands a JSON array of
//! reports to a bounded queue served by a fixed number of workers and answers at once with a
//! job id; `GET /api/v1/imports/{id}` shows the job and, once done, every item's result (its
//! field errors, or the id it was filed under). A full queue, or an organisation that already
//! has its share of it, is answered 429 with `Retry-After`: a burst from one caller waits in
//! its own line instead of taking the server's time from everyone else.
//!
//! The valid items of a job are filed together in one transaction (`reports::file_prepared`);
//! invalid items are reported and skipped. Jobs live in this server's memory (the last
//! [`KEEP_FINISHED`] finished ones), so behind several nodes a client polls the node that took
//! the job.

use super::ApiUser;
use super::dto::ReportInputDto;
use super::extract::{ApiBytes, ApiPath, Rejection};
use crate::error::{ApiError, ApiErrorBody, FieldProblem, WebError};
use crate::i18n;
use crate::state::WebState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kizuki_app::App;
use kizuki_app::auth::Principal;
use kizuki_app::config::LimitsConfig;
use kizuki_app::reports;
use kizuki_domain::report::ReportInput;
use kizuki_domain::taxonomy::Lang;
use kizuki_store::NewReport;
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::mpsc;
use utoipa::ToSchema;

/// Finished jobs remembered for polling; older ones are forgotten first.
pub const KEEP_FINISHED: usize = 1024;
/// The largest bulk body. The API's body limit (`extract::BODY_LIMIT`) is this, so a larger
/// body is refused 413 in the API's error shape before it is buffered and the handler never
/// sees one; the handler only limits the number of items (`bulk_max_items`).
pub const MAX_BODY: usize = 2 * 1024 * 1024;

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Done,
    /// The store refused the batch; nothing was filed.
    Failed,
}

/// One item of a finished job: the report it became, or what is wrong with it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ItemResult {
    /// The item's position in the submitted array, from 0.
    pub index: usize,
    /// The report filed, when the item was valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_id: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblemDto>,
}

/// A field problem of one item (`field` as in the single-report API).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldProblemDto {
    pub field: String,
    pub message_ja: String,
    pub message_en: String,
}

impl From<FieldProblem> for FieldProblemDto {
    fn from(f: FieldProblem) -> Self {
        FieldProblemDto {
            field: f.field,
            message_ja: f.message_ja,
            message_en: f.message_en,
        }
    }
}

/// A bulk-import job as `GET /api/v1/imports/{id}` shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportJobDto {
    pub id: String,
    pub status: JobStatus,
    /// Items submitted.
    pub total: usize,
    /// Items filed (when done).
    pub created: usize,
    /// Items refused (when done).
    pub invalid: usize,
    /// Every item's result, in submitted order (when done).
    pub items: Vec<ItemResult>,
    /// Why a failed job failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

struct JobRecord {
    owner: kizuki_domain::ids::UserId,
    org: kizuki_domain::ids::OrgId,
    view: ImportJobDto,
}

struct Job {
    id: String,
    principal: Principal,
    items: Vec<serde_json::Value>,
}

#[derive(Default)]
struct JobTable {
    jobs: HashMap<String, JobRecord>,
    finished: VecDeque<String>,
}

struct QueueInner {
    tx: mpsc::Sender<Job>,
    /// Taken by [`ImportQueue::start`]; the workers share it.
    rx: Mutex<Option<mpsc::Receiver<Job>>>,
    table: Mutex<JobTable>,
    config: LimitsConfig,
    running: AtomicUsize,
    /// How long the last job took, for the `Retry-After` estimate.
    last_job_ms: AtomicU64,
}

impl QueueInner {
    fn table(&self) -> std::sync::MutexGuard<'_, JobTable> {
        match self.table.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn set_status(&self, id: &str, status: JobStatus) {
        if let Some(j) = self.table().jobs.get_mut(id) {
            j.view.status = status;
        }
    }

    fn finish(&self, id: &str, view: ImportJobDto) {
        let mut t = self.table();
        if let Some(j) = t.jobs.get_mut(id) {
            j.view = view;
        }
        t.finished.push_back(id.to_owned());
        while t.finished.len() > KEEP_FINISHED {
            if let Some(old) = t.finished.pop_front() {
                t.jobs.remove(&old);
            }
        }
    }
}

/// The bounded queue of bulk-import jobs and its workers.
#[derive(Clone)]
pub struct ImportQueue {
    inner: Arc<QueueInner>,
}

impl std::fmt::Debug for ImportQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportQueue")
            .field("depth", &self.depth())
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}

impl ImportQueue {
    /// A queue of `config.bulk_queue` waiting jobs; no worker runs until [`start`](Self::start).
    pub fn new(config: LimitsConfig) -> ImportQueue {
        let (tx, rx) = mpsc::channel(config.bulk_queue.max(1));
        ImportQueue {
            inner: Arc::new(QueueInner {
                tx,
                rx: Mutex::new(Some(rx)),
                table: Mutex::new(JobTable::default()),
                config,
                running: AtomicUsize::new(0),
                last_job_ms: AtomicU64::new(0),
            }),
        }
    }

    /// Starts `config.bulk_workers` workers on the current runtime (once; later calls do
    /// nothing). They stop when the queue is dropped.
    pub fn start(&self, app: App) {
        let rx = match self.inner.rx.lock() {
            Ok(mut g) => g.take(),
            Err(p) => p.into_inner().take(),
        };
        let Some(rx) = rx else { return };
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        for _ in 0..self.inner.config.bulk_workers.max(1) {
            tokio::spawn(worker(Arc::downgrade(&self.inner), rx.clone(), app.clone()));
        }
    }

    /// Jobs waiting for a worker.
    pub fn depth(&self) -> usize {
        self.inner.tx.max_capacity() - self.inner.tx.capacity()
    }

    pub fn capacity(&self) -> usize {
        self.inner.tx.max_capacity()
    }

    /// Jobs being processed now.
    pub fn running(&self) -> usize {
        self.inner.running.load(Ordering::Relaxed)
    }

    /// Waiting and running jobs one organisation may have: half the queue, so one caller
    /// can never hold all of it.
    fn per_org(&self) -> usize {
        (self.capacity() / 2).max(1)
    }

    /// Seconds until a slot is likely free: the waiting jobs at the last job's pace.
    fn retry_after_secs(&self) -> u64 {
        let per_job = self.inner.last_job_ms.load(Ordering::Relaxed).max(1000);
        let ahead = (self.depth() + self.running()) as u64;
        let workers = self.inner.config.bulk_workers.max(1) as u64;
        (ahead * per_job / workers / 1000).clamp(1, 300)
    }

    fn full(&self) -> WebError {
        WebError::TooManyRequests {
            code: "queue_full",
            retry_after_secs: self.retry_after_secs(),
        }
    }

    /// Queues `items` for `p`; the job's id, or 429 when the queue (or the organisation's
    /// share of it) is full.
    fn submit(
        &self,
        p: &Principal,
        id: String,
        items: Vec<serde_json::Value>,
    ) -> Result<ImportJobDto, WebError> {
        let view = ImportJobDto {
            id: id.clone(),
            status: JobStatus::Queued,
            total: items.len(),
            created: 0,
            invalid: 0,
            items: Vec::new(),
            message: None,
        };
        {
            let mut t = self.inner.table();
            let mine = t
                .jobs
                .values()
                .filter(|j| {
                    j.org == p.org_id
                        && matches!(j.view.status, JobStatus::Queued | JobStatus::Running)
                })
                .count();
            if mine >= self.per_org() {
                return Err(self.full());
            }
            // Recorded before it is sent, so a fast worker always finds it.
            t.jobs.insert(
                id.clone(),
                JobRecord {
                    owner: p.user_id,
                    org: p.org_id,
                    view: view.clone(),
                },
            );
        }
        let job = Job {
            id: id.clone(),
            principal: p.clone(),
            items,
        };
        if self.inner.tx.try_send(job).is_err() {
            self.inner.table().jobs.remove(&id);
            return Err(self.full());
        }
        Ok(view)
    }

    /// The job as its submitter sees it; anyone else is told it does not exist.
    fn get(&self, p: &Principal, id: &str) -> Option<ImportJobDto> {
        let t = self.inner.table();
        t.jobs
            .get(id)
            .filter(|j| j.owner == p.user_id)
            .map(|j| j.view.clone())
    }
}

async fn worker(
    queue: Weak<QueueInner>,
    rx: Arc<tokio::sync::Mutex<mpsc::Receiver<Job>>>,
    app: App,
) {
    loop {
        let job = { rx.lock().await.recv().await };
        let Some(job) = job else { return };
        let Some(q) = queue.upgrade() else { return };
        q.set_status(&job.id, JobStatus::Running);
        q.running.fetch_add(1, Ordering::Relaxed);
        let started = std::time::Instant::now();
        let view = run(&app, &job).await;
        q.last_job_ms.store(
            u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        q.running.fetch_sub(1, Ordering::Relaxed);
        q.finish(&job.id, view);
    }
}

fn problems(e: &kizuki_domain::ValidationErrors) -> Vec<FieldProblemDto> {
    e.iter()
        .map(|f| FieldProblemDto {
            field: f.field.clone(),
            message_ja: i18n::pick(&f.message_ja(), Lang::Ja).to_owned(),
            message_en: i18n::pick(&f.message_en(), Lang::En).to_owned(),
        })
        .collect()
}

/// Checks every item, files the valid ones in one transaction, and says what became of each.
async fn run(app: &App, job: &Job) -> ImportJobDto {
    let p = &job.principal;
    let mut results: Vec<ItemResult> = Vec::with_capacity(job.items.len());
    let mut batch = Vec::new();
    let mut batch_index = Vec::new();
    for (index, raw) in job.items.iter().enumerate() {
        let mut item = ItemResult {
            index,
            report_id: None,
            errors: Vec::new(),
        };
        match item_report(app, p, raw).await {
            Ok(new) => {
                batch_index.push(index);
                batch.push(new);
            }
            Err(errors) => item.errors = errors,
        }
        results.push(item);
    }
    let invalid = results.iter().filter(|r| !r.errors.is_empty()).count();
    let mut view = ImportJobDto {
        id: job.id.clone(),
        status: JobStatus::Done,
        total: job.items.len(),
        created: 0,
        invalid,
        items: Vec::new(),
        message: None,
    };
    if !batch.is_empty() {
        match reports::file_prepared(app, batch).await {
            Ok(reports) => {
                for (index, r) in batch_index.into_iter().zip(reports) {
                    results[index].report_id = Some(r.id.0);
                }
                view.created = results.iter().filter(|r| r.report_id.is_some()).count();
            }
            Err(e) => {
                tracing::error!(job = %job.id, error = %e, "bulk import failed");
                view.status = JobStatus::Failed;
                view.message = Some("保存できませんでした。何も登録されていません / the batch could not be stored; nothing was filed".into());
            }
        }
    }
    view.items = results;
    view
}

/// One item as a new report, or its problems.
async fn item_report(
    app: &App,
    p: &Principal,
    raw: &serde_json::Value,
) -> Result<NewReport, Vec<FieldProblemDto>> {
    let dto: ReportInputDto = serde_json::from_value(raw.clone()).map_err(|e| {
        vec![FieldProblemDto {
            field: String::new(),
            message_ja: format!("報告の形式が正しくありません（{e}）"),
            message_en: format!("not a report input: {e}"),
        }]
    })?;
    let details = ReportInput::from(dto)
        .parse(&app.taxonomy)
        .map_err(|e| problems(&e))?;
    // The same decision as filing one report through the API.
    reports::prepare(app, p, details)
        .await
        .map_err(|e| match e {
            kizuki_app::AppError::Forbidden(_) => vec![FieldProblemDto {
                field: "sector".into(),
                message_ja: "この分野・区分の報告は登録できません".into(),
                message_en: "you may not file a report with this sector and label".into(),
            }],
            other => {
                tracing::error!(error = %other, "deciding a bulk item failed");
                vec![FieldProblemDto {
                    field: String::new(),
                    message_ja: "この報告を確認できませんでした".into(),
                    message_en: "this report could not be checked".into(),
                }]
            }
        })
}

/// The reply to an accepted bulk import.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportAcceptedDto {
    pub id: String,
    pub status: JobStatus,
    pub total: usize,
    /// Where to poll for the result.
    pub location: String,
}

#[utoipa::path(
    post, path = "/reports/bulk", tag = "reports",
    request_body(content = Vec<ReportInputDto>,
        description = "Reports to file, at most `[limits] bulk_max_items` (default 1000)"),
    responses(
        (status = 202, description = "Queued; poll the Location for per-item results", body = ImportAcceptedDto,
         headers(("Location" = String, description = "/api/v1/imports/{id}"))),
        (status = 400, description = "Not a JSON array, or too many items", body = ApiErrorBody),
        (status = 403, description = "Only operators file reports", body = ApiErrorBody),
        (status = 429, description = "Rate limit, or the import queue is full; see Retry-After", body = ApiErrorBody,
         headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
    security(("bearer" = []))
)]
pub(super) async fn post_bulk(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiBytes(body): ApiBytes,
) -> Result<Response, ApiError> {
    p.require_operator().map_err(WebError::from)?;
    let items: Vec<serde_json::Value> = serde_json::from_slice(&body).map_err(|e| {
        if e.is_data() {
            ApiError(WebError::BadRequest(format!(
                "body must be a JSON array of reports: {e}"
            )))
        } else {
            // Not JSON at all: the same answer, with line and column, as any other body.
            ApiError::from(Rejection::JsonSyntax {
                line: e.line(),
                column: e.column(),
                detail: e.to_string(),
            })
        }
    })?;
    let max = st.imports.inner.config.bulk_max_items;
    if items.is_empty() || items.len() > max {
        return Err(ApiError(WebError::BadRequest(format!(
            "between 1 and {max} reports per request, not {}",
            items.len()
        ))));
    }
    let mut raw = [0u8; 12];
    st.app.fill_random(&mut raw);
    let id = hex::encode(raw);
    let view = st.imports.submit(&p, id, items)?;
    let location = format!("/api/v1/imports/{}", view.id);
    let mut res = (
        StatusCode::ACCEPTED,
        Json(ImportAcceptedDto {
            id: view.id,
            status: view.status,
            total: view.total,
            location: location.clone(),
        }),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

#[utoipa::path(
    get, path = "/imports/{id}", tag = "reports",
    params(("id" = String, Path, description = "The job id from POST /reports/bulk")),
    responses(
        (status = 200, description = "The job; per-item results once done", body = ImportJobDto),
        (status = 404, description = "No such job of the caller's (or forgotten)", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn get_import(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ImportJobDto>, ApiError> {
    st.imports
        .get(&p, &id)
        .map(Json)
        .ok_or(ApiError(WebError::NotFound))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kizuki_domain::ids::{OrgId, UserId};
    use kizuki_domain::user::Role;

    fn principal(user: i64, org: i64) -> Principal {
        Principal {
            user_id: UserId(user),
            org_id: OrgId(org),
            role: Role::Reporter,
            lang: Lang::Ja,
            display_name: "試験".into(),
            email: format!("u{user}@example.jp"),
        }
    }

    fn queue(size: usize) -> ImportQueue {
        ImportQueue::new(LimitsConfig {
            bulk_queue: size,
            ..LimitsConfig::default()
        })
    }

    #[test]
    fn a_full_queue_refuses_with_retry_after() {
        let q = queue(4);
        let items = || vec![serde_json::json!({})];
        // Two organisations, two jobs each: the queue is full (no worker runs here).
        for (i, org) in [1, 1, 2, 2].into_iter().enumerate() {
            q.submit(&principal(org, org), format!("j{i}"), items())
                .unwrap();
        }
        assert_eq!(q.depth(), 4);
        let e = q
            .submit(&principal(3, 3), "j4".into(), items())
            .unwrap_err();
        match e {
            WebError::TooManyRequests {
                code,
                retry_after_secs,
            } => {
                assert_eq!(code, "queue_full");
                assert!(retry_after_secs >= 1);
            }
            other => panic!("{other:?}"),
        }
        // The refused job is not remembered.
        assert!(q.get(&principal(3, 3), "j4").is_none());
    }

    #[test]
    fn one_organisation_gets_at_most_half_the_queue() {
        let q = queue(4);
        let a = principal(1, 1);
        q.submit(&a, "a1".into(), vec![]).unwrap();
        q.submit(&a, "a2".into(), vec![]).unwrap();
        assert!(q.submit(&a, "a3".into(), vec![]).is_err());
        // Another organisation still finds room.
        q.submit(&principal(2, 2), "b1".into(), vec![]).unwrap();
    }

    #[test]
    fn only_the_submitter_sees_a_job_and_finished_jobs_are_bounded() {
        let q = queue(2);
        let a = principal(1, 1);
        q.submit(&a, "a1".into(), vec![serde_json::json!(1)])
            .unwrap();
        assert_eq!(q.get(&a, "a1").unwrap().status, JobStatus::Queued);
        assert!(
            q.get(&principal(2, 1), "a1").is_none(),
            "same org, other user"
        );
        for i in 0..KEEP_FINISHED + 5 {
            let id = format!("f{i}");
            q.inner.table().jobs.insert(
                id.clone(),
                JobRecord {
                    owner: a.user_id,
                    org: a.org_id,
                    view: ImportJobDto {
                        id: id.clone(),
                        status: JobStatus::Done,
                        total: 0,
                        created: 0,
                        invalid: 0,
                        items: vec![],
                        message: None,
                    },
                },
            );
            let view = q.get(&a, &id).unwrap();
            q.inner.finish(&id, view);
        }
        assert!(
            q.get(&a, "f0").is_none(),
            "the oldest finished job is forgotten"
        );
        assert!(q.get(&a, &format!("f{}", KEEP_FINISHED + 4)).is_some());
    }
}
