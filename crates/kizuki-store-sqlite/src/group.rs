//! Group commit for the SQLite writer: one thread owns the write connection and runs every
//! queued write, as many as are waiting, in one `BEGIN IMMEDIATE` transaction with one
//! commit (one fsync with `synchronous = FULL`). Each write runs in its own savepoint, so
//! one that fails is rolled back alone and its batch-mates still commit; every caller hears
//! back only after the commit, so an acknowledged write is on disk exactly as before.
//!
//! Checkpoints (copying the WAL back into the database file) run on a thread of their own,
//! not after a commit on the writer: a checkpoint that copies thousands of pages and syncs
//! the file would otherwise stall every caller waiting on the next batch.

use kizuki_store::{StoreError, StoreResult};
use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How the writer groups and checkpoints; the configuration's `[sqlite]` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqliteOptions {
    /// Most writes in one transaction. Bounded so a long queue still commits (and answers) in
    /// slices instead of holding every caller until the queue drains; 1 turns group commit
    /// off (one transaction and fsync per write), for comparisons and diagnosis.
    pub max_batch: usize,
    /// Leave checkpoints to the writer as SQLite does by default, instead of a thread of
    /// their own, for comparisons and diagnosis.
    pub checkpoints_on_writer: bool,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            max_batch: 256,
            checkpoints_on_writer: false,
        }
    }
}

/// After a commit, the checkpointer waits this long for more commits before it checkpoints,
/// so one checkpoint covers a burst of them.
const CHECKPOINT_AFTER: Duration = Duration::from_millis(250);

/// The writer's own automatic checkpoint (in pages of 4 KiB), kept only as a backstop should
/// the checkpointer fall behind; SQLite's default of 1,000 would put it back on the writer.
const BACKSTOP_PAGES: i64 = 10_000;

/// The checkpointer thread and the channel the writer nudges it through after a commit.
struct Checkpointer {
    kick: mpsc::SyncSender<()>,
    thread: JoinHandle<()>,
}

impl Checkpointer {
    /// Opens a second connection to the writer's file and starts the thread, and moves the
    /// writer's automatic checkpoint out of the way. `None` (checkpoints stay on the writer)
    /// for an in-memory database or when the second connection cannot be opened.
    fn start(writer: &Connection, on_writer: bool) -> Option<Checkpointer> {
        if on_writer {
            return None;
        }
        let path = writer.path().filter(|p| !p.is_empty())?.to_owned();
        let opened = Connection::open(&path).and_then(|c| {
            c.busy_timeout(Duration::from_secs(1))?;
            // The checkpoint syncs the WAL before and the database file after copying.
            c.execute_batch("PRAGMA synchronous = FULL")?;
            Ok(c)
        });
        let conn = match opened {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "no checkpointer connection; the writer checkpoints");
                return None;
            }
        };
        let (kick, kicks) = mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("kizuki-sqlite-checkpointer".into())
            .spawn(move || checkpoints(&conn, &kicks))
            .map_err(
                |e| tracing::warn!(error = %e, "no checkpointer thread; the writer checkpoints"),
            )
            .ok()?;
        if let Err(e) = writer.pragma_update(None, "wal_autocheckpoint", BACKSTOP_PAGES) {
            tracing::warn!(error = %e, "could not raise wal_autocheckpoint");
        }
        Some(Checkpointer { kick, thread })
    }

    /// Tells the thread a commit happened; never blocks the writer.
    fn nudge(&self) {
        let _ = self.kick.try_send(());
    }

    /// Runs a last checkpoint and waits for the thread.
    fn stop(self) {
        drop(self.kick);
        let _ = self.thread.join();
    }
}

/// The checkpointer's loop: after a commit, wait [`CHECKPOINT_AFTER`] (taking the nudges of
/// further commits), then checkpoint. Ends, after a last checkpoint, when the writer stops.
fn checkpoints(conn: &Connection, kicks: &mpsc::Receiver<()>) {
    while kicks.recv().is_ok() {
        let due = Instant::now() + CHECKPOINT_AFTER;
        let mut stopping = false;
        loop {
            let left = due.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match kicks.recv_timeout(left) {
                Ok(()) => {}
                Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    stopping = true;
                    break;
                }
            }
        }
        // PASSIVE copies what no reader still needs, without waiting for readers and
        // without taking the write lock, so the writer's batches go on meanwhile.
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "SQLite checkpoint failed; the next one retries");
        }
        if stopping {
            return;
        }
    }
}

/// Called once the batch's fate is known: `Ok` after the commit, or the reason it failed.
type Done = Box<dyn FnOnce(Result<(), String>) + Send>;

/// One queued write: runs inside the batch's transaction and says whether it succeeded
/// (a failure is rolled back to its savepoint) and how to answer its caller.
type Job = Box<dyn FnOnce(&Transaction<'_>) -> (bool, Done) + Send>;

/// The writer thread and the queue to it. Dropping it lets the thread finish what is
/// queued, close the connection and exit.
pub(crate) struct Writer {
    queue: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    /// Transactions committed so far, to see how well writes are grouped.
    commits: Arc<AtomicU64>,
}

impl Writer {
    pub(crate) fn start(conn: Connection, opts: SqliteOptions) -> StoreResult<Writer> {
        let (queue, rx) = mpsc::channel::<Job>();
        let commits = Arc::new(AtomicU64::new(0));
        let counter = commits.clone();
        let thread = std::thread::Builder::new()
            .name("kizuki-sqlite-writer".into())
            .spawn(move || run(conn, rx, &counter, opts))
            .map_err(StoreError::backend)?;
        Ok(Writer {
            queue: Some(queue),
            thread: Some(thread),
            commits,
        })
    }

    /// How many transactions the writer has committed.
    pub(crate) fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Queues `f` and waits until its transaction has committed (or it failed).
    pub(crate) async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> StoreResult<T> + Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel::<StoreResult<T>>();
        let job: Job = Box::new(move |tx| {
            let out = f(tx);
            let ok = out.is_ok();
            let done: Done = Box::new(move |commit| {
                let reply = match (commit, out) {
                    // The item's own error stands whatever happened to the batch.
                    (_, Err(e)) => Err(e),
                    (Ok(()), Ok(v)) => Ok(v),
                    (Err(why), Ok(_)) => Err(StoreError::Backend(why.into())),
                };
                // The caller may have gone away (a cancelled request); the write stands.
                let _ = answer.send(reply);
            });
            (ok, done)
        });
        let queue = self
            .queue
            .as_ref()
            .ok_or_else(|| StoreError::Backend("the SQLite writer has stopped".into()))?;
        queue
            .send(job)
            .map_err(|_| StoreError::Backend("the SQLite writer has stopped".into()))?;
        answered.await.map_err(|_| {
            // The sender was dropped unanswered: the write panicked or its batch could not
            // begin (the thread logged why). Either way nothing of it was committed.
            StoreError::Backend("the write was not committed (see the server log)".into())
        })?
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the queue ends the thread's loop once it has run what is queued.
        self.queue = None;
        if let Some(t) = self.thread.take()
            && t.thread().id() != std::thread::current().id()
        {
            let _ = t.join();
        }
    }
}

fn run(mut conn: Connection, rx: mpsc::Receiver<Job>, commits: &AtomicU64, opts: SqliteOptions) {
    let max = opts.max_batch.clamp(1, 10_000);
    let checkpointer = Checkpointer::start(&conn, opts.checkpoints_on_writer);
    let mut queued: VecDeque<Job> = VecDeque::new();
    loop {
        if queued.is_empty() {
            match rx.recv() {
                Ok(j) => queued.push_back(j),
                Err(_) => break,
            }
        }
        // Everything that arrived while the last commit was syncing joins this batch.
        while queued.len() < max {
            match rx.try_recv() {
                Ok(j) => queued.push_back(j),
                Err(_) => break,
            }
        }
        if batch(&mut conn, &mut queued, max, commits)
            && let Some(c) = &checkpointer
        {
            c.nudge();
        }
    }
    drop(conn);
    if let Some(c) = checkpointer {
        c.stop();
    }
}

/// Runs one statement through the connection's statement cache (these run for every write).
fn sql(tx: &Transaction<'_>, statement: &str) -> rusqlite::Result<()> {
    tx.prepare_cached(statement)?.execute([])?;
    Ok(())
}

/// Runs up to `max` queued jobs in one transaction. Jobs not reached (the batch was full or
/// the transaction broke) stay queued for the next one. Counts a commit in `commits`; true if
/// the batch committed.
fn batch(
    conn: &mut Connection,
    queued: &mut VecDeque<Job>,
    max: usize,
    commits: &AtomicU64,
) -> bool {
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            // Dropping the jobs answers their callers with an error; retrying here could
            // spin forever on a broken database file.
            tracing::error!(error = %e, jobs = queued.len(), "SQLite writer could not begin a transaction");
            queued.clear();
            return false;
        }
    };
    let mut done: Vec<Done> = Vec::new();
    let mut broken: Option<String> = None;
    while done.len() < max {
        let Some(job) = queued.pop_front() else { break };
        if let Err(e) = sql(&tx, "SAVEPOINT kizuki_item") {
            broken = Some(e.to_string());
            if done.is_empty() {
                // Failing on a fresh transaction: the database is unusable right now, and
                // queueing the job again would spin. Dropping it answers its caller.
                tracing::error!(error = %e, "SQLite writer could not open a savepoint");
            } else {
                // Not run: it goes first into the next transaction.
                queued.push_front(job);
            }
            break;
        }
        let ran = catch_unwind(AssertUnwindSafe(|| job(&tx)));
        let ok = match ran {
            Ok((ok, d)) => {
                done.push(d);
                ok
            }
            // The job's answer channel was dropped while unwinding, so its caller already
            // hears that the write failed.
            Err(_) => false,
        };
        let end = if ok {
            sql(&tx, "RELEASE kizuki_item")
        } else {
            sql(&tx, "ROLLBACK TO kizuki_item").and_then(|()| sql(&tx, "RELEASE kizuki_item"))
        };
        if let Err(e) = end {
            // SQLite may have rolled back the whole transaction after a hard error (disk
            // full, I/O): the earlier jobs of the batch are lost with it and must hear so.
            broken = Some(e.to_string());
            break;
        }
    }
    let outcome = match broken {
        Some(why) => {
            drop(tx);
            Err(format!("transaction rolled back: {why}"))
        }
        None => tx.commit().map_err(|e| format!("commit failed: {e}")),
    };
    if outcome.is_ok() {
        // Counted before anyone is answered, so a caller never sees its commit uncounted.
        commits.fetch_add(1, Ordering::Relaxed);
    }
    let committed = outcome.is_ok();
    for d in done {
        d(outcome.clone());
    }
    committed
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn writer(dir: &tempfile::TempDir) -> (Writer, std::path::PathBuf) {
        let path = dir.path().join("g.db");
        let c = Connection::open(&path).unwrap();
        c.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (v INTEGER NOT NULL)")
            .unwrap();
        (Writer::start(c, SqliteOptions::default()).unwrap(), path)
    }

    fn values(path: &std::path::Path) -> Vec<i64> {
        let c = Connection::open(path).unwrap();
        let mut st = c.prepare("SELECT v FROM t ORDER BY v").unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_queued_during_a_commit_share_the_next_one_and_failures_stay_alone() {
        let dir = tempfile::tempdir().unwrap();
        let (w, path) = writer(&dir);
        let w = Arc::new(w);
        // The first write holds the writer until the others have queued up behind it.
        let queued = Arc::new(AtomicU64::new(0));
        let started = Arc::new(AtomicU64::new(0));
        let slow = {
            let w = w.clone();
            let queued = queued.clone();
            let started = started.clone();
            tokio::spawn(async move {
                w.write(move |tx| {
                    started.store(1, Ordering::SeqCst);
                    let give_up = std::time::Instant::now() + Duration::from_secs(10);
                    while queued.load(Ordering::SeqCst) < 20 && std::time::Instant::now() < give_up
                    {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    // The last counted one sends right after counting, on its own thread.
                    std::thread::sleep(Duration::from_millis(50));
                    tx.execute("INSERT INTO t (v) VALUES (0)", [])
                        .map_err(StoreError::backend)
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        while started.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let mut rest = Vec::new();
        for i in 1..=20_i64 {
            let w = w.clone();
            let queued = queued.clone();
            rest.push(tokio::spawn(async move {
                // Counted just before `write` queues the job, in the same poll.
                queued.fetch_add(1, Ordering::SeqCst);
                w.write(move |tx| {
                    tx.execute("INSERT INTO t (v) VALUES (?1)", [i])
                        .map_err(StoreError::backend)?;
                    // Every fifth fails after writing: only its own row may vanish.
                    if i % 5 == 0 {
                        return Err(StoreError::Invalid(format!("item {i}")));
                    }
                    Ok(i)
                })
                .await
            }));
        }
        assert_eq!(slow.await.unwrap().unwrap(), 1);
        for (i, t) in (1..=20_i64).zip(rest) {
            match t.await.unwrap() {
                Ok(v) => assert_eq!(v, i),
                Err(e) => {
                    assert_eq!(i % 5, 0, "item {i} failed: {e}");
                    assert_eq!(e.to_string(), format!("item {i}"));
                }
            }
        }
        let want: Vec<i64> = (0..=20).filter(|i| i == &0 || i % 5 != 0).collect();
        assert_eq!(values(&path), want);
        assert_eq!(
            w.commits(),
            2,
            "the twenty queued writes committed together"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_checkpointer_not_the_writer_copies_the_wal_into_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let (w, path) = writer(&dir);
        let size = || std::fs::metadata(&path).map_or(0, |m| m.len());
        let before = size();
        // About 2 MiB in 20 commits: far below the writer's backstop of 10,000 pages, so
        // only the checkpointer can have moved it into the database file.
        for _ in 0..20 {
            w.write(|tx| {
                tx.execute_batch("CREATE TABLE IF NOT EXISTS b (x BLOB NOT NULL)")
                    .map_err(StoreError::backend)?;
                for _ in 0..100 {
                    tx.execute("INSERT INTO b (x) VALUES (randomblob(1000))", [])
                        .map_err(StoreError::backend)?;
                }
                Ok(())
            })
            .await
            .unwrap();
        }
        let give_up = std::time::Instant::now() + Duration::from_secs(10);
        while size() < before + 1_000_000 && std::time::Instant::now() < give_up {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            size() >= before + 1_000_000,
            "the database file grew from {before} to only {} bytes",
            size()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_write_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        let (w, path) = writer(&dir);
        let bad = w
            .write(|tx| -> StoreResult<()> {
                tx.execute("INSERT INTO t (v) VALUES (7)", [])
                    .map_err(StoreError::backend)?;
                panic!("a bug in a write");
            })
            .await;
        assert!(bad.is_err());
        w.write(|tx| {
            tx.execute("INSERT INTO t (v) VALUES (8)", [])
                .map_err(StoreError::backend)
        })
        .await
        .unwrap();
        assert_eq!(
            values(&path),
            vec![8],
            "the writer survives and the panicked row is gone"
        );
    }
}
