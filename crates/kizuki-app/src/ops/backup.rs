//! Scheduled online backups with retention: `[backup] every = "6h", keep = 28` in
//! kizuki.toml. The copy itself is the backend's ([`OnlineBackup`]: the embedded database
//! copies itself while writers go on); here is when to take one, how the files are named (by
//! their UTC time, so that name order is time order) and which are kept.

use crate::error::{AppError, AppResult};
use chrono::{DateTime, Utc};
use kizuki_domain::clock::Clock;
use kizuki_store::OnlineBackup;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const PREFIX: &str = "kizuki-";
const SUFFIX: &str = ".db";

/// How often to back up and how many backups to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupPolicy {
    pub every: Duration,
    pub keep: usize,
}

/// Parses `90s`, `30m`, `6h`, `1d` (one number, one unit).
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("'{s}' needs a unit: s, m, h or d (e.g. \"6h\")"))?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("'{s}' must start with a whole number (e.g. \"6h\")"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("'{s}': unit must be s, m, h or d")),
    };
    if secs < 60 {
        return Err(format!("'{s}' is too often; back up at most once a minute"));
    }
    Ok(Duration::from_secs(secs))
}

fn file_name(at: DateTime<Utc>) -> String {
    format!("{PREFIX}{}{SUFFIX}", at.format("%Y%m%dT%H%M%S%.3fZ"))
}

fn time_of(name: &str) -> Option<DateTime<Utc>> {
    let stamp = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%S%.3fZ")
        .ok()
        .map(|t| t.and_utc())
}

/// The scheduled backups in `dir`, oldest first.
pub fn list(dir: &Path) -> AppResult<Vec<(DateTime<Utc>, PathBuf)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(AppError::io(format!("reading {}", dir.display()), e)),
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(t) = time_of(&name) {
            out.push((t, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Takes one backup into `dir` and removes the oldest beyond `keep`.
pub async fn backup_now(
    store: &dyn OnlineBackup,
    dir: &Path,
    at: DateTime<Utc>,
    keep: usize,
) -> AppResult<PathBuf> {
    std::fs::create_dir_all(dir)
        .map_err(|e| AppError::io(format!("creating {}", dir.display()), e))?;
    let path = dir.join(file_name(at));
    // Write under a temporary name: a crash mid-backup never looks like a finished backup.
    let partial = dir.join(format!(".partial-{}", file_name(at)));
    store.backup_to(&partial).await?;
    std::fs::rename(&partial, &path)
        .map_err(|e| AppError::io(format!("finishing {}", path.display()), e))?;
    prune(dir, keep)?;
    Ok(path)
}

/// Removes all but the newest `keep` scheduled backups; returns what was removed.
pub fn prune(dir: &Path, keep: usize) -> AppResult<Vec<PathBuf>> {
    let all = list(dir)?;
    let excess = all.len().saturating_sub(keep.max(1));
    let mut removed = Vec::new();
    for (_, p) in all.into_iter().take(excess) {
        std::fs::remove_file(&p)
            .map_err(|e| AppError::io(format!("removing {}", p.display()), e))?;
        removed.push(p);
    }
    Ok(removed)
}

/// How long ago the newest backup was taken (for metrics and warnings).
pub fn newest_age(dir: &Path, now: DateTime<Utc>) -> AppResult<Option<chrono::Duration>> {
    Ok(list(dir)?.last().map(|(t, _)| now - *t))
}

/// When the next backup is due: `every` after the newest, or now if there is none.
pub fn next_due(dir: &Path, policy: BackupPolicy, now: DateTime<Utc>) -> AppResult<DateTime<Utc>> {
    let every = chrono::Duration::from_std(policy.every).unwrap_or(chrono::Duration::hours(6));
    Ok(list(dir)?.last().map_or(now, |(t, _)| *t + every))
}

/// Runs until `shutdown` resolves, taking a backup whenever one is due.
pub async fn run_schedule(
    store: Arc<dyn OnlineBackup>,
    dir: PathBuf,
    policy: BackupPolicy,
    clock: Arc<dyn Clock>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let now = clock.now();
        let wait = match next_due(&dir, policy, now) {
            Ok(due) => (due - now).to_std().unwrap_or(Duration::ZERO),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the backup folder");
                policy.every
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
        match backup_now(store.as_ref(), &dir, clock.now(), policy.keep).await {
            Ok(p) => tracing::info!(path = %p.display(), "scheduled backup written"),
            Err(e) => {
                tracing::error!(error = %e, "scheduled backup failed");
                // Retry after a pause rather than spinning on a full disk.
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(300)) => {}
                    _ = shutdown.changed() => return,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kizuki_store_sqlite::SqliteStore;

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("6h").unwrap(), Duration::from_secs(21_600));
        assert_eq!(parse_interval("1d").unwrap(), Duration::from_secs(86_400));
        assert_eq!(parse_interval("30m").unwrap(), Duration::from_secs(1_800));
        assert!(parse_interval("6").unwrap_err().contains("unit"));
        assert!(parse_interval("6w").is_err());
        assert!(parse_interval("5s").unwrap_err().contains("too often"));
    }

    /// A task creating organisations one after another until told to stop; it answers how
    /// many it created.
    fn org_writer(
        store: &SqliteStore,
    ) -> (
        std::sync::Arc<std::sync::atomic::AtomicBool>,
        tokio::task::JoinHandle<u32>,
    ) {
        use kizuki_store::prelude::*;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let task = {
            let store = store.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut n = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let org = kizuki_domain::org::NewOrganisation {
                        key: format!("op-{n}"),
                        name: format!("事業者{n}"),
                        kind: kizuki_domain::org::OrgKind::Operator,
                        sectors: vec![kizuki_domain::taxonomy::Code("railway".into())],
                        region: None,
                    };
                    store.create_org(org).await.unwrap();
                    n += 1;
                }
                n
            })
        };
        (stop, task)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn backup_runs_while_writers_go_on() {
        use kizuki_store::prelude::*;
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("kizuki.db")).unwrap();
        let (stop, writer) = org_writer(&store);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let at = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let path = backup_now(&store, &dir.path().join("backups"), at, 3)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let written = writer.await.unwrap();
        let copy = SqliteStore::open(&path).unwrap();
        assert!(copy.check().await.unwrap().is_empty());
        let in_backup = copy.list_orgs().await.unwrap().len();
        assert!(
            in_backup > 0,
            "the backup holds what was committed before it"
        );
        assert!(
            in_backup < written as usize,
            "writers went on during and after the backup ({in_backup} of {written})"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_backup_of_a_large_database_finishes_while_a_writer_commits_without_pause() {
        use kizuki_store::prelude::*;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("kizuki.db");
        let store = SqliteStore::open(&db).unwrap();
        {
            // ≈ 16 MiB, i.e. thousands of pages: copied a few at a time, a backup would start
            // over after each of the writer's commits and never finish.
            let c = rusqlite::Connection::open(&db).unwrap();
            c.execute_batch(
                "CREATE TABLE filler (x BLOB NOT NULL);
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 16000)
                 INSERT INTO filler SELECT randomblob(1000) FROM n;",
            )
            .unwrap();
        }
        let (stop, writer) = org_writer(&store);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let backups = dir.path().join("backups");
        let backup = backup_now(
            &store,
            &backups,
            DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
                .unwrap()
                .to_utc(),
            3,
        );
        let path = tokio::time::timeout(Duration::from_secs(10), backup).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let written = writer.await.unwrap();
        let path = path
            .unwrap_or_else(|_| {
                panic!("the backup did not finish within 10 s while the writer went on")
            })
            .unwrap();
        assert!(written > 10, "the writer kept committing ({written})");
        let copy = rusqlite::Connection::open(&path).unwrap();
        let rows: i64 = copy
            .query_row("SELECT count(*) FROM filler", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 16000);
        drop(copy);
        assert!(
            SqliteStore::open(&path)
                .unwrap()
                .check()
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn backups_are_kept_up_to_the_limit_and_scheduled_after_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("kizuki.db")).unwrap();
        let backups = dir.path().join("backups");
        let t0 = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let policy = BackupPolicy {
            every: Duration::from_secs(6 * 3600),
            keep: 3,
        };
        assert_eq!(
            next_due(&backups, policy, t0).unwrap(),
            t0,
            "none yet: due now"
        );
        for h in 0..5 {
            backup_now(
                &store,
                &backups,
                t0 + chrono::Duration::hours(6 * h),
                policy.keep,
            )
            .await
            .unwrap();
        }
        let kept = list(&backups).unwrap();
        assert_eq!(kept.len(), 3);
        assert_eq!(
            kept[0].0,
            t0 + chrono::Duration::hours(12),
            "the oldest went first"
        );
        let newest = t0 + chrono::Duration::hours(24);
        assert_eq!(
            next_due(&backups, policy, newest).unwrap(),
            newest + chrono::Duration::hours(6)
        );
        assert_eq!(
            newest_age(&backups, newest + chrono::Duration::hours(1))
                .unwrap()
                .unwrap(),
            chrono::Duration::hours(1)
        );
        // Each backup is a complete database that opens and checks clean.
        let copy = SqliteStore::open(&kept[2].1).unwrap();
        use kizuki_store::prelude::*;
        assert!(copy.check().await.unwrap().is_empty());
    }
}
