//! Bulk filing: a bounded queue of jobs, each a list of reports one caller submitted at once,
//! served by a fixed number of workers. A job's valid items are filed together in one
//! transaction through the one filing path ([`crate::reports::prepare`], then
//! [`crate::reports::file_prepared`]); invalid items are reported and skipped. A full queue,
//! or an organisation that already has its share of it, is refused with a time to come back,
//! so a burst from one caller waits in its own line instead of taking everyone's time.
//!
//! Jobs live in this node's memory (the last [`KEEP_FINISHED`] finished ones), so behind
//! several nodes a client polls the node that took the job.

use crate::App;
use crate::auth::Principal;
use crate::error::AppError;
use kizuki_domain::ValidationErrors;
use kizuki_domain::ids::{OrgId, ReportId, UserId};
use kizuki_domain::report::ReportInput;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::mpsc;

/// Finished jobs remembered for polling; older ones are forgotten first.
pub const KEEP_FINISHED: usize = 1024;

/// The queue's size and its workers (`[limits] bulk_queue` and `bulk_workers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkConfig {
    /// Jobs that may wait for a worker; one more is refused.
    pub queue: usize,
    /// Jobs processed at once.
    pub workers: usize,
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    Queued,
    Running,
    Done,
    /// The store refused the batch; nothing was filed.
    Failed,
}

/// What became of one submitted item.
#[derive(Debug, Clone)]
pub enum ItemOutcome {
    /// Not yet processed.
    Pending,
    /// Filed as this report.
    Filed(ReportId),
    /// Not a report input at all (its JSON shape), with the reason.
    Malformed(String),
    /// A report input whose fields are wrong.
    Invalid(ValidationErrors),
    /// The caller may not file a report with this sector and label.
    Refused,
    /// The decision could not be made (the cause is logged); nothing was filed for it.
    Unchecked,
}

/// One item of a job, by its position in the submitted list (from 0).
#[derive(Debug, Clone)]
pub struct ItemResult {
    pub index: usize,
    pub outcome: ItemOutcome,
}

/// A job as its submitter sees it.
#[derive(Debug, Clone)]
pub struct JobView {
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
    pub message: Option<String>,
}

/// The queue, or the organisation's share of it, is full: come back after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueFull {
    pub retry_after_secs: u64,
}

/// A submitted item: a report input, or why it is not one.
pub type Item = Result<ReportInput, String>;

struct JobRecord {
    owner: UserId,
    org: OrgId,
    view: JobView,
}

struct Job {
    id: String,
    principal: Principal,
    items: Vec<Item>,
}

#[derive(Default)]
struct JobTable {
    jobs: HashMap<String, JobRecord>,
    finished: VecDeque<String>,
}

struct QueueInner {
    tx: mpsc::Sender<Job>,
    /// Taken by [`BulkQueue::start`]; the workers share it.
    rx: Mutex<Option<mpsc::Receiver<Job>>>,
    table: Mutex<JobTable>,
    config: BulkConfig,
    running: AtomicUsize,
    /// How long the last job took, for the time-to-come-back estimate.
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

    fn finish(&self, id: &str, view: JobView) {
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

/// The bounded queue of bulk-filing jobs and its workers.
#[derive(Clone)]
pub struct BulkQueue {
    inner: Arc<QueueInner>,
}

impl std::fmt::Debug for BulkQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BulkQueue")
            .field("depth", &self.depth())
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}

impl BulkQueue {
    /// A queue of `config.queue` waiting jobs; no worker runs until [`start`](Self::start).
    pub fn new(config: BulkConfig) -> BulkQueue {
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        BulkQueue {
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

    /// Starts `config.workers` workers on the current runtime (once; later calls do
    /// nothing). They stop when the queue is dropped.
    pub fn start(&self, app: App) {
        let rx = match self.inner.rx.lock() {
            Ok(mut g) => g.take(),
            Err(p) => p.into_inner().take(),
        };
        let Some(rx) = rx else { return };
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        for _ in 0..self.inner.config.workers.max(1) {
            tokio::spawn(worker(Arc::downgrade(&self.inner), rx.clone(), app.clone()));
        }
    }

    /// Jobs waiting for a worker.
    pub fn depth(&self) -> usize {
        self.inner.tx.max_capacity() - self.inner.tx.capacity()
    }

    /// Jobs that may wait at most.
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
        let workers = self.inner.config.workers.max(1) as u64;
        (ahead * per_job / workers / 1000).clamp(1, 300)
    }

    fn full(&self) -> QueueFull {
        QueueFull {
            retry_after_secs: self.retry_after_secs(),
        }
    }

    /// Queues `items` for `p` under a fresh id drawn from the app's random source.
    pub fn submit(&self, app: &App, p: &Principal, items: Vec<Item>) -> Result<JobView, QueueFull> {
        let mut raw = [0u8; 12];
        app.fill_random(&mut raw);
        self.submit_as(p, hex::encode(raw), items)
    }

    /// Queues `items` for `p` as job `id`; refused when the queue, or the organisation's
    /// share of it, is full.
    fn submit_as(&self, p: &Principal, id: String, items: Vec<Item>) -> Result<JobView, QueueFull> {
        let view = JobView {
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
    pub fn get(&self, p: &Principal, id: &str) -> Option<JobView> {
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
        let view = run(&app, job.id.clone(), &job.principal, job.items).await;
        q.last_job_ms.store(
            u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        q.running.fetch_sub(1, Ordering::Relaxed);
        q.finish(&job.id, view);
    }
}

/// Checks every item, files the valid ones in one transaction, and says what became of each.
async fn run(app: &App, id: String, p: &Principal, items: Vec<Item>) -> JobView {
    let total = items.len();
    let mut results: Vec<ItemResult> = Vec::with_capacity(total);
    let mut batch = Vec::new();
    let mut batch_index = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let outcome = match item {
            Err(why) => ItemOutcome::Malformed(why),
            Ok(input) => match input.parse(&app.taxonomy) {
                Err(errs) => ItemOutcome::Invalid(errs),
                // The same decision as filing one report.
                Ok(details) => match crate::reports::prepare(app, p, details).await {
                    Ok(new) => {
                        batch_index.push(index);
                        batch.push(new);
                        ItemOutcome::Pending
                    }
                    Err(AppError::Forbidden(_)) => ItemOutcome::Refused,
                    Err(e) => {
                        tracing::error!(job = %id, error = %e, "deciding a bulk item failed");
                        ItemOutcome::Unchecked
                    }
                },
            },
        };
        results.push(ItemResult { index, outcome });
    }
    let invalid = results
        .iter()
        .filter(|r| !matches!(r.outcome, ItemOutcome::Pending))
        .count();
    let mut view = JobView {
        id,
        status: JobStatus::Done,
        total,
        created: 0,
        invalid,
        items: Vec::new(),
        message: None,
    };
    if !batch.is_empty() {
        match crate::reports::file_prepared(app, batch).await {
            Ok(reports) => {
                for (index, r) in batch_index.into_iter().zip(reports) {
                    results[index].outcome = ItemOutcome::Filed(r.id);
                }
                view.created = results
                    .iter()
                    .filter(|r| matches!(r.outcome, ItemOutcome::Filed(_)))
                    .count();
            }
            Err(e) => {
                tracing::error!(job = %view.id, error = %e, "bulk filing failed");
                view.status = JobStatus::Failed;
                view.message = Some(
                    "保存できませんでした。何も登録されていません / the batch could not be stored; nothing was filed"
                        .into(),
                );
            }
        }
    }
    view.items = results;
    view
}

#[cfg(test)]
mod tests {
    use super::*;
    use kizuki_domain::taxonomy::Lang;
    use kizuki_domain::user::Role;

    fn principal(user: i64, org: i64) -> Principal {
        Principal {
            user_id: UserId(user),
            org_id: OrgId(org),
            role: Role::Reporter,
            lang: Lang::Ja,
            display_name: "試験".into(),
            email: format!("u{user}@example.jp"),
            org: None,
        }
    }

    fn queue(size: usize) -> BulkQueue {
        BulkQueue::new(BulkConfig {
            queue: size,
            workers: 1,
        })
    }

    fn one() -> Vec<Item> {
        vec![Err("not a report".into())]
    }

    #[test]
    fn a_full_queue_refuses_with_a_time_to_come_back() {
        let q = queue(4);
        // Two organisations, two jobs each: the queue is full (no worker runs here).
        for (i, org) in [1, 1, 2, 2].into_iter().enumerate() {
            q.submit_as(&principal(org, org), format!("j{i}"), one())
                .unwrap();
        }
        assert_eq!(q.depth(), 4);
        let e = q
            .submit_as(&principal(3, 3), "j4".into(), one())
            .unwrap_err();
        assert!(e.retry_after_secs >= 1);
        // The refused job is not remembered.
        assert!(q.get(&principal(3, 3), "j4").is_none());
    }

    #[test]
    fn one_organisation_gets_at_most_half_the_queue() {
        let q = queue(4);
        let a = principal(1, 1);
        q.submit_as(&a, "a1".into(), vec![]).unwrap();
        q.submit_as(&a, "a2".into(), vec![]).unwrap();
        assert!(q.submit_as(&a, "a3".into(), vec![]).is_err());
        // Another organisation still finds room.
        q.submit_as(&principal(2, 2), "b1".into(), vec![]).unwrap();
    }

    #[test]
    fn only_the_submitter_sees_a_job_and_finished_jobs_are_bounded() {
        let q = queue(2);
        let a = principal(1, 1);
        q.submit_as(&a, "a1".into(), one()).unwrap();
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
                    view: JobView {
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

    #[tokio::test]
    async fn a_job_files_the_valid_items_and_names_the_rest() {
        let (app, _dir) = crate::test_support::demo(3).await;
        let reporter = crate::test_support::operator_principal(&app).await;
        let good: ReportInput = crate::test_support::sample_input();
        let bad = ReportInput {
            title: String::new(),
            ..good.clone()
        };
        let view = run(
            &app,
            "t1".into(),
            &reporter,
            vec![Ok(good), Err("not an object".into()), Ok(bad)],
        )
        .await;
        assert_eq!(view.status, JobStatus::Done);
        assert_eq!((view.total, view.created, view.invalid), (3, 1, 2));
        assert!(matches!(view.items[0].outcome, ItemOutcome::Filed(_)));
        assert!(matches!(view.items[1].outcome, ItemOutcome::Malformed(_)));
        match &view.items[2].outcome {
            ItemOutcome::Invalid(errs) => {
                assert!(errs.iter().any(|e| e.field == "title"), "{errs:?}")
            }
            other => panic!("{other:?}"),
        }
    }
}
