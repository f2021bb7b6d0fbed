//! Metrics and warnings: `/metrics` in the Prometheus text format (requests by
//! route class and status, a latency histogram, database pool use, import-queue depth,
//! search-index lag, free disk in the data dir, age of the newest backup, rate-limit
//! refusals), and a background check that logs a warning once when a resource passes its
//! `[warnings]` threshold, before it runs out, and an info line when it is back under.
//!
//! Counting is lock-free on the request path: per route class, a fixed array of atomic
//! counters indexed by status and one per histogram bucket. `/metrics` answers callers on the
//! loopback interface, or anyone with the `[metrics] token` (docs/OPERATIONS.md).

use crate::security::ClientAddr;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kizuki_app::config::{MetricsConfig, WarningsConfig};
use kizuki_app::security::same_secret;
use kizuki_store::PoolStatus;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Statuses 100..=599 each have a counter.
const STATUSES: usize = 500;

struct ClassStats {
    by_status: Vec<AtomicU64>,
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl ClassStats {
    fn new() -> ClassStats {
        ClassStats {
            by_status: (0..STATUSES).map(|_| AtomicU64::new(0)).collect(),
            buckets: Default::default(),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }

    fn record(&self, status: u16, took: Duration) {
        let i = usize::from(status.clamp(100, 599) - 100);
        self.by_status[i].fetch_add(1, Ordering::Relaxed);
        let secs = took.as_secs_f64();
        // Buckets are cumulative in the exposition; here each request counts once, in the
        // first bucket it fits, and rendering sums them up.
        if let Some(b) = BUCKETS.iter().position(|le| secs <= *le) {
            self.buckets[b].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }
}

/// A resource the warnings watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Pool,
    Queue,
    Disk,
}

impl Resource {
    pub const ALL: [Resource; 3] = [Resource::Pool, Resource::Queue, Resource::Disk];

    pub fn label(self) -> &'static str {
        match self {
            Resource::Pool => "db_pool",
            Resource::Queue => "import_queue",
            Resource::Disk => "disk",
        }
    }
}

/// The deployment settings of fair limits, metrics and warnings, from `[limits]`, `[metrics]`
/// and `[warnings]`.
#[derive(Debug, Clone)]
pub struct OpsOptions {
    pub limits: kizuki_app::config::LimitsConfig,
    pub metrics: MetricsConfig,
    pub warnings: WarningsConfig,
    /// The data dir, for free space and the newest backup.
    pub data_dir: Option<PathBuf>,
    /// `false` accepts bulk jobs but processes none (tests of a full queue).
    pub start_import_workers: bool,
}

impl Default for OpsOptions {
    fn default() -> Self {
        OpsOptions {
            limits: Default::default(),
            metrics: Default::default(),
            warnings: Default::default(),
            data_dir: None,
            start_import_workers: true,
        }
    }
}

impl OpsOptions {
    /// The settings as loaded by [`kizuki_app::Config`].
    pub fn from_config(c: &kizuki_app::Config) -> OpsOptions {
        OpsOptions {
            limits: c.limits.clone(),
            metrics: c.metrics.clone(),
            warnings: c.warnings.clone(),
            data_dir: Some(c.data_dir.clone()),
            start_import_workers: true,
        }
    }
}

/// The server's figures.
pub struct Metrics {
    classes: RwLock<HashMap<String, Arc<ClassStats>>>,
    /// Changes the search index is behind the store; -1 until someone reports it.
    index_lag: AtomicI64,
    over: [AtomicBool; 3],
    /// The data dir, for free space and backups; `None` when not known (tests, PostgreSQL
    /// deployments without one).
    pub data_dir: Option<PathBuf>,
    pub config: MetricsConfig,
    pub warnings: WarningsConfig,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

impl Metrics {
    pub fn new(
        config: MetricsConfig,
        warnings: WarningsConfig,
        data_dir: Option<PathBuf>,
    ) -> Metrics {
        Metrics {
            classes: RwLock::new(HashMap::new()),
            index_lag: AtomicI64::new(-1),
            over: Default::default(),
            data_dir,
            config,
            warnings,
        }
    }

    /// Counts one answered request.
    pub fn record(&self, class: &str, status: u16, took: Duration) {
        let known = self.classes.read().ok().and_then(|m| m.get(class).cloned());
        let stats = match known {
            Some(s) => s,
            // The first request of a class; classes are a small fixed set, so this write
            // lock is taken a dozen times in a server's life.
            None => match self.classes.write() {
                Ok(mut m) => m
                    .entry(class.to_owned())
                    .or_insert_with(|| Arc::new(ClassStats::new()))
                    .clone(),
                Err(_) => return,
            },
        };
        stats.record(status, took);
    }

    /// How far the search index is behind the store's change feed, in changes. The search
    /// follower calls this as it catches up.
    pub fn set_index_lag(&self, changes: u64) {
        self.index_lag.store(
            i64::try_from(changes).unwrap_or(i64::MAX),
            Ordering::Relaxed,
        );
    }

    /// Requests answered so far with this class and status (for tests and the load test).
    pub fn requests(&self, class: &str, status: u16) -> u64 {
        self.classes
            .read()
            .ok()
            .and_then(|m| m.get(class).cloned())
            .map_or(0, |s| {
                s.by_status[usize::from(status.clamp(100, 599) - 100)].load(Ordering::Relaxed)
            })
    }

    fn set_over(&self, r: Resource, over: bool) {
        self.over[r as usize].store(over, Ordering::Relaxed);
    }
}

/// The route class a response was answered under, set by [`tag`].
#[derive(Debug, Clone)]
struct RouteTag(String);

/// `ReportCreate` → `report_create`.
fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Route layer: notes the matched route's class on the response for [`track`].
pub async fn tag(req: Request, next: Next) -> Response {
    let class = req
        .extensions()
        .get::<MatchedPath>()
        .and_then(|m| crate::routes::class_of(req.method().as_str(), m.as_str()))
        .map(|c| snake(&format!("{c:?}")));
    let mut res = next.run(req).await;
    if let Some(c) = class {
        res.extensions_mut().insert(RouteTag(c));
    }
    res
}

/// Outermost layer: times every request and counts it by class and status (`unmatched`
/// for requests no route took).
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let res = next.run(req).await;
    let class = res
        .extensions()
        .get::<RouteTag>()
        .map_or("unmatched", |t| t.0.as_str());
    metrics.record(class, res.status().as_u16(), started.elapsed());
    res
}

/// What `/metrics` and the resource watch read of the server's state.
#[derive(Clone)]
pub struct MetricsState {
    pub app: kizuki_app::App,
    pub metrics: Arc<Metrics>,
    pub limits: Arc<crate::limits::Limits>,
    pub bulk: kizuki_app::reports::bulk::BulkQueue,
    pub search: Option<kizuki_search::SearchService>,
}

/// Whether the caller may read the figures: from the loopback interface, or with the
/// configured token.
fn permitted(cfg: &MetricsConfig, addr: std::net::IpAddr, headers: &HeaderMap) -> bool {
    if addr.is_loopback() {
        return true;
    }
    let sent = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    matches!((&cfg.token, sent), (Some(want), Some(got)) if same_secret(want, got.trim()))
}

/// `GET /metrics`.
pub async fn endpoint(
    State(st): State<MetricsState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
) -> Response {
    if !permitted(&st.metrics.config, addr, &headers) {
        return (
            StatusCode::FORBIDDEN,
            "メトリクスはループバックまたはトークンでのみ参照できます / metrics: loopback or [metrics] token only\n",
        )
            .into_response();
    }
    let text = render(&st, &sample(&st).await).await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// What the warnings look at, read at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sample {
    pub pool: Option<PoolStatus>,
    pub queue_depth: usize,
    pub queue_capacity: usize,
    /// Bytes free to the server on the data dir's file system.
    pub disk_free: Option<u64>,
}

fn disk_free(dir: Option<&PathBuf>) -> Option<u64> {
    let dir = dir?;
    match fs4::available_space(dir) {
        Ok(b) => Some(b),
        Err(e) => {
            tracing::debug!(dir = %dir.display(), error = %e, "statvfs failed");
            None
        }
    }
}

async fn sample(st: &MetricsState) -> Sample {
    let dir = st.metrics.data_dir.clone();
    // statvfs is quick, but it is a system call that can block on a network file system.
    let disk = tokio::task::spawn_blocking(move || disk_free(dir.as_ref()))
        .await
        .ok()
        .flatten();
    Sample {
        pool: kizuki_app::ops::health::pool_status(&st.app),
        queue_depth: st.bulk.depth(),
        queue_capacity: st.bulk.capacity(),
        disk_free: disk,
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

async fn render(st: &MetricsState, s: &Sample) -> String {
    let m = &st.metrics;
    let mut out = String::with_capacity(16 * 1024);
    let classes: Vec<(String, Arc<ClassStats>)> = m
        .classes
        .read()
        .map(|c| c.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let mut classes = classes;
    classes.sort_by(|a, b| a.0.cmp(&b.0));

    family(
        &mut out,
        "kizuki_http_requests_total",
        "counter",
        "Requests answered, by route class and status.",
    );
    for (class, c) in &classes {
        for (i, n) in c.by_status.iter().enumerate() {
            let n = n.load(Ordering::Relaxed);
            if n > 0 {
                let _ = writeln!(
                    out,
                    "kizuki_http_requests_total{{class=\"{class}\",status=\"{}\"}} {n}",
                    i + 100
                );
            }
        }
    }
    family(
        &mut out,
        "kizuki_http_request_duration_seconds",
        "histogram",
        "Time to answer, by route class.",
    );
    for (class, c) in &classes {
        let mut cumulative = 0;
        for (le, b) in BUCKETS.iter().zip(&c.buckets) {
            cumulative += b.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "kizuki_http_request_duration_seconds_bucket{{class=\"{class}\",le=\"{le}\"}} {cumulative}"
            );
        }
        let count = c.count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "kizuki_http_request_duration_seconds_bucket{{class=\"{class}\",le=\"+Inf\"}} {count}"
        );
        let sum = c.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(
            out,
            "kizuki_http_request_duration_seconds_sum{{class=\"{class}\"}} {sum}"
        );
        let _ = writeln!(
            out,
            "kizuki_http_request_duration_seconds_count{{class=\"{class}\"}} {count}"
        );
    }

    family(
        &mut out,
        "kizuki_rate_limited_total",
        "counter",
        "Requests refused with 429 by a fair-limit bucket, by scope.",
    );
    for (scope, n) in st.limits.refused() {
        let _ = writeln!(
            out,
            "kizuki_rate_limited_total{{scope=\"{}\"}} {n}",
            scope.label()
        );
    }
    family(
        &mut out,
        "kizuki_rate_limit_buckets",
        "gauge",
        "Token buckets held in memory.",
    );
    let _ = writeln!(out, "kizuki_rate_limit_buckets {}", st.limits.buckets());

    if let Some(p) = s.pool {
        family(
            &mut out,
            "kizuki_db_pool_in_use",
            "gauge",
            "Database connections in use.",
        );
        let _ = writeln!(out, "kizuki_db_pool_in_use {}", p.in_use);
        family(
            &mut out,
            "kizuki_db_pool_size",
            "gauge",
            "Database connections the pool keeps.",
        );
        let _ = writeln!(out, "kizuki_db_pool_size {}", p.size);
        family(
            &mut out,
            "kizuki_db_pool_waiting",
            "gauge",
            "Callers waiting for a database connection.",
        );
        let _ = writeln!(out, "kizuki_db_pool_waiting {}", p.waiting);
    }

    family(
        &mut out,
        "kizuki_import_queue_depth",
        "gauge",
        "Bulk-import jobs waiting for a worker.",
    );
    let _ = writeln!(out, "kizuki_import_queue_depth {}", s.queue_depth);
    family(
        &mut out,
        "kizuki_import_queue_capacity",
        "gauge",
        "Bulk-import jobs that may wait.",
    );
    let _ = writeln!(out, "kizuki_import_queue_capacity {}", s.queue_capacity);
    family(
        &mut out,
        "kizuki_import_jobs_running",
        "gauge",
        "Bulk-import jobs being processed.",
    );
    let _ = writeln!(out, "kizuki_import_jobs_running {}", st.bulk.running());

    if let Some(search) = &st.search {
        // Every change after the index's committed position.
        let after = search.index().last_seq();
        match kizuki_app::ops::health::changes_after(&st.app, after).await {
            Ok(n) => m.set_index_lag(n),
            Err(e) => tracing::debug!(error = %e, "index lag unavailable"),
        }
    }
    let lag = m.index_lag.load(Ordering::Relaxed);
    if lag >= 0 {
        family(
            &mut out,
            "kizuki_search_index_lag",
            "gauge",
            "Store changes the search index has not taken in yet.",
        );
        let _ = writeln!(out, "kizuki_search_index_lag {lag}");
    }
    if let Some(free) = s.disk_free {
        family(
            &mut out,
            "kizuki_disk_free_bytes",
            "gauge",
            "Free space on the data dir's file system.",
        );
        let _ = writeln!(out, "kizuki_disk_free_bytes {free}");
    }
    if let Some(dir) = &m.data_dir {
        let backups = dir.join("backups");
        let now = st.app.clock.now();
        let age =
            tokio::task::spawn_blocking(move || kizuki_app::ops::backup::newest_age(&backups, now))
                .await;
        if let Ok(Ok(Some(age))) = age {
            family(
                &mut out,
                "kizuki_backup_age_seconds",
                "gauge",
                "Seconds since the newest scheduled backup in <data dir>/backups.",
            );
            let _ = writeln!(out, "kizuki_backup_age_seconds {}", age.num_seconds());
        }
    }
    family(
        &mut out,
        "kizuki_resource_warning",
        "gauge",
        "1 while a resource is past its [warnings] threshold.",
    );
    for r in Resource::ALL {
        let _ = writeln!(
            out,
            "kizuki_resource_warning{{resource=\"{}\"}} {}",
            r.label(),
            u8::from(m.over[r as usize].load(Ordering::Relaxed))
        );
    }
    out
}

/// A resource passing its threshold (`crossed`) or coming back under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub resource: Resource,
    pub crossed: bool,
    pub detail: String,
}

/// Which resources are past their thresholds, so each crossing is told once.
#[derive(Debug, Clone)]
pub struct Watch {
    cfg: WarningsConfig,
    over: [bool; 3],
}

impl Watch {
    pub fn new(cfg: WarningsConfig) -> Watch {
        Watch {
            cfg,
            over: [false; 3],
        }
    }

    /// Compares a sample with the thresholds; returns what changed since the last one.
    pub fn observe(&mut self, s: &Sample) -> Vec<Transition> {
        let pct = u64::from;
        let pool = s.pool.filter(|p| p.size > 0).map(|p| {
            let over = (p.in_use as u64) * 100 >= pct(self.cfg.pool_percent) * p.size as u64
                || p.waiting > 0;
            (
                over,
                format!(
                    "接続 {}/{} 使用中、待ち {} / {} of {} connections in use, {} waiting",
                    p.in_use, p.size, p.waiting, p.in_use, p.size, p.waiting
                ),
            )
        });
        let queue = (s.queue_capacity > 0).then(|| {
            let over = (s.queue_depth as u64) * 100
                >= pct(self.cfg.queue_percent) * s.queue_capacity as u64;
            (
                over,
                format!(
                    "取込待ち {}/{} / {} of {} import slots waiting",
                    s.queue_depth, s.queue_capacity, s.queue_depth, s.queue_capacity
                ),
            )
        });
        let disk = s.disk_free.map(|free| {
            let mib = free / (1024 * 1024);
            (
                mib < self.cfg.disk_free_mb,
                format!(
                    "空き {mib} MiB（閾値 {} MiB） / {mib} MiB free (threshold {} MiB)",
                    self.cfg.disk_free_mb, self.cfg.disk_free_mb
                ),
            )
        });
        let mut out = Vec::new();
        for (r, seen) in Resource::ALL.into_iter().zip([pool, queue, disk]) {
            // A resource that cannot be read keeps its last state.
            let Some((over, detail)) = seen else { continue };
            let was = &mut self.over[r as usize];
            if over != *was {
                *was = over;
                out.push(Transition {
                    resource: r,
                    crossed: over,
                    detail,
                });
            }
        }
        out
    }

    pub fn is_over(&self, r: Resource) -> bool {
        self.over[r as usize]
    }
}

fn log(t: &Transition) {
    if t.crossed {
        tracing::warn!(resource = t.resource.label(), detail = %t.detail, "資源が閾値を超えました / resource past its warning threshold");
    } else {
        tracing::info!(resource = t.resource.label(), detail = %t.detail, "資源が閾値を下回りました / resource back under its warning threshold");
    }
}

/// Checks the resources every `[warnings] check_every_secs` until the server is gone (the
/// metrics are dropped with the router).
pub fn spawn_watcher(st: &MetricsState) {
    let weak: Weak<Metrics> = Arc::downgrade(&st.metrics);
    let every = st.metrics.warnings.check_every;
    let mut watch = Watch::new(st.metrics.warnings.clone());
    let app = st.app.clone();
    let imports = st.bulk.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(m) = weak.upgrade() else { return };
            let dir = m.data_dir.clone();
            let disk = tokio::task::spawn_blocking(move || disk_free(dir.as_ref()))
                .await
                .ok()
                .flatten();
            let s = Sample {
                pool: kizuki_app::ops::health::pool_status(&app),
                queue_depth: imports.depth(),
                queue_capacity: imports.capacity(),
                disk_free: disk,
            };
            for t in watch.observe(&s) {
                log(&t);
                m.set_over(t.resource, t.crossed);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> WarningsConfig {
        WarningsConfig {
            pool_percent: 80,
            queue_percent: 50,
            disk_free_mb: 100,
            check_every: Duration::from_secs(1),
        }
    }

    fn pool(in_use: usize, size: usize) -> Option<PoolStatus> {
        Some(PoolStatus {
            in_use,
            size,
            waiting: 0,
        })
    }

    #[test]
    fn a_crossing_is_told_once_and_the_recovery_once() {
        let mut w = Watch::new(cfg());
        let calm = Sample {
            pool: pool(1, 10),
            queue_depth: 0,
            queue_capacity: 8,
            disk_free: Some(500 * 1024 * 1024),
        };
        assert!(w.observe(&calm).is_empty());
        let busy = Sample {
            pool: pool(8, 10),
            ..calm
        };
        let t = w.observe(&busy);
        assert_eq!(t.len(), 1);
        assert_eq!((t[0].resource, t[0].crossed), (Resource::Pool, true));
        assert!(t[0].detail.contains("8/10"), "{}", t[0].detail);
        assert!(w.observe(&busy).is_empty(), "no repeat while still over");
        let t = w.observe(&calm);
        assert_eq!((t[0].resource, t[0].crossed), (Resource::Pool, false));
        assert!(!w.is_over(Resource::Pool));
    }

    #[test]
    fn queue_and_disk_thresholds_and_unreadable_values() {
        let mut w = Watch::new(cfg());
        let s = Sample {
            pool: None,
            queue_depth: 4,
            queue_capacity: 8,
            disk_free: Some(99 * 1024 * 1024),
        };
        let t = w.observe(&s);
        let got: Vec<_> = t.iter().map(|t| (t.resource, t.crossed)).collect();
        assert_eq!(got, vec![(Resource::Queue, true), (Resource::Disk, true)]);
        // Disk unreadable: it stays as it was; the queue drains.
        let t = w.observe(&Sample {
            queue_depth: 3,
            disk_free: None,
            ..s
        });
        let got: Vec<_> = t.iter().map(|t| (t.resource, t.crossed)).collect();
        assert_eq!(got, vec![(Resource::Queue, false)]);
        assert!(w.is_over(Resource::Disk));
    }

    #[test]
    fn waiting_callers_count_as_an_exhausted_pool() {
        let mut w = Watch::new(cfg());
        let t = w.observe(&Sample {
            pool: Some(PoolStatus {
                in_use: 2,
                size: 10,
                waiting: 1,
            }),
            ..Sample::default()
        });
        assert_eq!(t.len(), 1);
        assert!(t[0].crossed);
    }

    #[test]
    fn requests_are_counted_by_class_status_and_latency_bucket() {
        let m = Metrics::new(MetricsConfig::default(), cfg(), None);
        m.record("member", 200, Duration::from_millis(3));
        m.record("member", 200, Duration::from_millis(300));
        m.record("member", 429, Duration::from_micros(10));
        m.record("unmatched", 404, Duration::from_secs(60));
        assert_eq!(m.requests("member", 200), 2);
        assert_eq!(m.requests("member", 429), 1);
        assert_eq!(m.requests("report_create", 200), 0);
        let c = m.classes.read().unwrap().get("member").cloned().unwrap();
        let b: Vec<u64> = c
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        // 10 µs → ≤1 ms, 3 ms → ≤5 ms, 300 ms → ≤0.5 s.
        assert_eq!((b[0], b[2], b[8]), (1, 1, 1));
        assert_eq!(b.iter().sum::<u64>(), 3);
        // A minute is past every bucket: only +Inf (the count) has it.
        let u = m.classes.read().unwrap().get("unmatched").cloned().unwrap();
        assert_eq!(
            u.buckets
                .iter()
                .map(|b| b.load(Ordering::Relaxed))
                .sum::<u64>(),
            0
        );
        assert_eq!(u.count.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn class_names_are_snake_case() {
        assert_eq!(snake("ReportCreate"), "report_create");
        assert_eq!(snake("Public"), "public");
    }

    #[test]
    fn only_loopback_or_the_token_may_read() {
        let ext: std::net::IpAddr = "192.0.2.7".parse().unwrap();
        let lo: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let none = HeaderMap::new();
        let with = |t: &str| {
            let mut h = HeaderMap::new();
            h.insert(
                header::AUTHORIZATION,
                format!("Bearer {t}").parse().unwrap(),
            );
            h
        };
        let open = MetricsConfig::default();
        let guarded = MetricsConfig {
            token: Some("0123456789abcdef".into()),
        };
        assert!(permitted(&open, lo, &none));
        assert!(!permitted(&open, ext, &none));
        assert!(!permitted(&open, ext, &with("anything")));
        assert!(permitted(&guarded, ext, &with("0123456789abcdef")));
        assert!(!permitted(&guarded, ext, &with("0123456789abcdeX")));
    }
}
