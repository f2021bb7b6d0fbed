//! `kizuki bench intake`: durable report submissions through the HTTP API under load.
//! It starts `kizuki serve` as a child on a fresh data dir (SQLite, or a
//! throwaway schema of `--database-url`), makes API tokens for two operator organisations,
//! and drives the load from a second process (this binary again, `bench load`), so the
//! load generator never shares a runtime with the server. `--flood` runs the fairness
//! scenario: organisation Y files at a fixed rate alone, then while organisation X floods.

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use kizuki_store::{DynStore, Page, ReportFilter};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// `kizuki bench …`: the search benchmark, the intake benchmark and its load process.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    #[command(flatten)]
    Search(super::search_cmd::BenchCommand),
    /// API intake throughput and latency (64 keep-alive clients POSTing reports), or with
    /// --flood one organisation's latency while another floods. Build with --release.
    Intake(IntakeArgs),
    /// The load generator `bench intake` starts in a second process.
    #[command(hide = true)]
    Load(LoadArgs),
    /// The disk alone: small durable writes (4 KiB + fsync, 50 a second) for --seconds, with
    /// their latency percentiles and the slowest, to tell the disk's stalls from the server's.
    Disk(DiskArgs),
}

#[derive(Debug, Args)]
pub struct DiskArgs {
    /// Where to write the probe file (the data dir's disk is the one that matters).
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
}

#[derive(Debug, Args)]
pub struct IntakeArgs {
    /// Concurrent keep-alive clients (in --flood mode: the flooding organisation's).
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Measured seconds per phase.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Seconds of load before measuring starts.
    #[arg(long, default_value_t = 2)]
    pub warmup: u64,
    /// The fairness scenario: org Y files at --rate alone, then while org X floods.
    #[arg(long)]
    pub flood: bool,
    /// Org Y's fixed request rate per second in --flood mode.
    #[arg(long, default_value_t = 20)]
    pub rate: u32,
    /// In --flood mode, how many times to run the pair of phases (Y alone, then Y while X
    /// floods). Y's samples are pooled per phase kind, so slow moments of the machine fall
    /// on both sides alike and the p99s rest on rounds × duration × rate samples each.
    #[arg(long, default_value_t = 3)]
    pub rounds: u32,
    /// In --flood mode, X's clients wait as `Retry-After` asks (one second, its smallest
    /// value) after a 429, as a client following the API's rules does; without it they
    /// retry at once, as an attacker would.
    #[arg(long)]
    pub polite: bool,
    /// Synthetic reports written before the run (`kizuki gen`), so the database is not empty.
    #[arg(long, default_value_t = 0)]
    pub preload: u64,
    /// Keep the rate limits on in the throughput run (they are switched off there by
    /// default, since the defaults allow one organisation 50 requests/s; --flood keeps them).
    #[arg(long)]
    pub keep_limits: bool,
    /// A kizuki.toml to give the server (e.g. its `[limits]`).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Keep the temporary data dir (and the PostgreSQL schema) afterwards.
    #[arg(long)]
    pub keep: bool,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    #[arg(long)]
    pub addr: String,
    /// Closed-loop clients, each sending its next report as soon as the last is answered.
    #[arg(long, default_value_t = 0)]
    pub clients: usize,
    #[arg(long, default_value = "")]
    pub token: String,
    /// Open-loop requests per second on a fixed schedule (the steady organisation).
    #[arg(long, default_value_t = 0)]
    pub steady_rate: u32,
    #[arg(long, default_value = "")]
    pub steady_token: String,
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    #[arg(long, default_value_t = 2)]
    pub warmup: u64,
    /// Closed-loop clients wait a second after a 429 (see `IntakeArgs::polite`).
    #[arg(long)]
    pub polite: bool,
}

/// Latency and outcome counts of one group of clients over the measured window.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Stats {
    /// Requests started in the measured window and answered.
    pub requests: u64,
    /// 201 Created answers (durable reports).
    pub created: u64,
    pub status_429: u64,
    /// Other non-201 answers.
    pub other_status: u64,
    /// Connection failures and unreadable answers.
    pub io_errors: u64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// One answered or failed request of the measured window: (latency in µs, HTTP status, or 0
/// for an I/O failure). Raw samples rather than percentiles, so phases can be pooled.
pub type Measured = (u64, u16);

/// What `bench load` prints (as JSON) for `bench intake`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LoadResult {
    pub window_s: f64,
    pub closed: Vec<Measured>,
    pub steady: Vec<Measured>,
    /// Created reports over the whole run, warm-up included, for the database check.
    pub created_total: u64,
    /// Answered requests over the whole run (any status), warm-up included.
    pub answered_total: u64,
    /// CPU seconds the load process used, warm-up included.
    pub cpu_s: f64,
}

#[derive(Debug, Serialize)]
struct IntakeReport {
    backend: &'static str,
    mode: &'static str,
    clients: usize,
    duration_s: u64,
    warmup_s: u64,
    limits: &'static str,
    preload: u64,
    reports_before: u64,
    reports_after: u64,
    loadavg_before: String,
    loadavg_after: String,
    /// Median fsync of 4 KiB in the data dir just before and after the run.
    fsync_ms_before: Option<f64>,
    fsync_ms_after: Option<f64>,
    throughput: Option<Stats>,
    steady_rate: Option<u32>,
    /// Pairs of phases run (--flood); the stats below pool every round's samples.
    rounds: u32,
    /// Y's p99 in ms per round: (alone, while X floods), to show how much rounds differ.
    round_p99_ms: Vec<(f64, f64)>,
    steady_unloaded: Option<Stats>,
    steady_loaded: Option<Stats>,
    flood: Option<Stats>,
    /// CPU milliseconds per answered request (warm-up included; a request is a created
    /// report unless refused) in the server and in the load process: with two cores,
    /// 2,000 ms / (their sum) bounds the reachable rate.
    server_cpu_ms_per_request: f64,
    load_cpu_ms_per_request: f64,
}

pub async fn run(cmd: BenchCommand, database_url: Option<String>) -> Result<ExitCode> {
    match cmd {
        BenchCommand::Search(c) => super::search_cmd::bench(c).await,
        BenchCommand::Intake(a) => intake(a, database_url).await,
        BenchCommand::Disk(a) => disk(&a),
        BenchCommand::Load(a) => {
            let r = load(&a).await?;
            println!("{}", serde_json::to_string(&r)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

// ---- the driver --------------------------------------------------------------------------

const RAILWAY: &str = "reporter@railway.example.jp";
const FINANCE: &str = "reporter@finance.example.jp";

/// Where the benchmark's server keeps its data, and how the children reach it.
struct Target {
    dir: PathBuf,
    /// The PostgreSQL URL the children use (with the throwaway schema) and the schema.
    pg: Option<(String, String, String)>,
}

impl Target {
    fn args(&self) -> Vec<String> {
        let mut a = vec!["--data-dir".to_owned(), self.dir.display().to_string()];
        if let Some((_, url, _)) = &self.pg {
            a.push("--database-url".to_owned());
            a.push(url.clone());
        }
        a
    }

    async fn store(&self) -> Result<DynStore> {
        Ok(match &self.pg {
            Some((base, _, schema)) => Arc::new(
                kizuki_store_postgres::PgStore::connect_in_schema(base, Some(schema)).await?,
            ),
            None => Arc::new(kizuki_store_sqlite::SqliteStore::open(
                &kizuki_store_sqlite::datadir::DataDir::new(&self.dir).db_path(),
            )?),
        })
    }
}

/// CPU seconds (user + system) a process has used so far, from `/proc/PID/stat`; `None`
/// where there is no procfs.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after its ')'.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on every Linux this runs on.
    Some(ticks / 100.0)
}

/// Small durable writes (4 KiB, then `fsync`) in `dir`, `pause` apart, until `count` are done
/// or `until` passes: each one's start (from the first) and duration, in ms.
fn fsync_probe(
    dir: &Path,
    count: usize,
    pause: Duration,
    until: Option<Instant>,
) -> std::io::Result<Vec<(f64, f64)>> {
    use std::io::Write;
    let path = dir.join("fsync-probe");
    let mut f = std::fs::File::create(&path)?;
    let block = [0u8; 4096];
    let start = Instant::now();
    let mut out = Vec::new();
    while out.len() < count && until.is_none_or(|u| Instant::now() < u) {
        let t = Instant::now();
        f.write_all(&block)?;
        f.sync_data()?;
        out.push((
            (t - start).as_secs_f64() * 1000.0,
            t.elapsed().as_secs_f64() * 1000.0,
        ));
        std::thread::sleep(pause);
    }
    drop(f);
    std::fs::remove_file(&path)?;
    Ok(out)
}

/// The median time of 20 small durable writes in `dir`: what one commit costs on this disk
/// right now, so a run can be read against the disk's state.
fn fsync_ms(dir: &Path) -> Option<f64> {
    let mut times: Vec<f64> = fsync_probe(dir, 20, Duration::ZERO, None)
        .ok()?
        .into_iter()
        .map(|(_, ms)| ms)
        .collect();
    times.sort_by(f64::total_cmp);
    times.get(times.len() / 2).copied()
}

/// `kizuki bench disk`: the disk's own tail, with nothing else of kizuki running.
fn disk(a: &DiskArgs) -> Result<ExitCode> {
    let until = Instant::now() + Duration::from_secs(a.seconds.max(1));
    let samples = fsync_probe(&a.dir, usize::MAX, Duration::from_millis(20), Some(until))
        .with_context(|| format!("writing a probe file in {}", a.dir.display()))?;
    let mut ms: Vec<u64> = samples.iter().map(|(_, d)| (d * 1000.0) as u64).collect();
    ms.sort_unstable();
    println!(
        "{} fsyncs of 4 KiB in {} s: p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.1} ms",
        ms.len(),
        a.seconds,
        percentile(&ms, 50.0),
        percentile(&ms, 99.0),
        percentile(&ms, 99.9),
        ms.last().map_or(0.0, |m| *m as f64 / 1000.0)
    );
    let mut slowest = samples;
    slowest.sort_by(|x, y| y.1.total_cmp(&x.1));
    let listed: Vec<String> = slowest
        .iter()
        .take(5)
        .map(|(at, d)| format!("{d:.1} ms at +{:.1} s", at / 1000.0))
        .collect();
    println!("slowest: {}", listed.join(", "));
    Ok(ExitCode::SUCCESS)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn kizuki(exe: &Path, t: &Target, args: &[&str]) -> Result<String> {
    let out = Command::new(exe)
        .args(t.args())
        .args(args)
        .env("KIZUKI_LOG", "warn")
        .output()
        .with_context(|| format!("running kizuki {}", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "kizuki {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

async fn report_count(t: &Target) -> Result<u64> {
    let store = t.store().await?;
    Ok(store
        .list_reports(&ReportFilter::default(), Page::new(1, 1))
        .await?
        .total)
}

/// The server child; killed when dropped, so an error on the way out leaves no process.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn intake(a: IntakeArgs, database_url: Option<String>) -> Result<ExitCode> {
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; timings mean little (build with --release)");
    }
    let exe = std::env::current_exe().context("finding this program's path")?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let id = format!("{}_{stamp}", std::process::id());
    let dir = std::env::temp_dir().join(format!("kizuki-bench-intake-{id}"));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let pg = match &database_url {
        Some(base) => {
            let schema = format!("bench_intake_{id}");
            // Creates the schema and its tables; the children then find them ready.
            kizuki_store_postgres::PgStore::connect_in_schema(base, Some(&schema))
                .await
                .context("preparing a PostgreSQL schema for the benchmark")?;
            let sep = if base.contains('?') { '&' } else { '?' };
            let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
            Some((base.clone(), url, schema))
        }
        None => None,
    };
    let t = Target { dir, pg };
    let out = intake_on(&a, &exe, &t).await;
    if a.keep {
        eprintln!("kept {}", t.dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&t.dir);
        if let Some((base, _, schema)) = &t.pg {
            let _ = kizuki_store_postgres::PgStore::drop_schema(base, schema).await;
        }
    }
    let report = out?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(ExitCode::SUCCESS)
}

async fn intake_on(a: &IntakeArgs, exe: &Path, t: &Target) -> Result<IntakeReport> {
    if let Some(cfg) = &a.config {
        std::fs::copy(cfg, t.dir.join("kizuki.toml"))
            .with_context(|| format!("copying {}", cfg.display()))?;
    }
    kizuki(exe, t, &["init"])?;
    if a.preload > 0 {
        kizuki(
            exe,
            t,
            &["gen", "--reports", &a.preload.to_string(), "--seed", "1"],
        )?;
    }
    let token_x = kizuki(
        exe,
        t,
        &["token", "create", "--email", RAILWAY, "--label", "bench"],
    )?
    .trim()
    .to_owned();
    let token_y = kizuki(
        exe,
        t,
        &["token", "create", "--email", FINANCE, "--label", "bench"],
    )?
    .trim()
    .to_owned();
    let reports_before = report_count(t).await?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let addr = format!("127.0.0.1:{port}");
    let limits_off = !a.flood && !a.keep_limits;
    let log = std::fs::File::create(t.dir.join("server.log"))?;
    let mut serve = Command::new(exe);
    serve
        .args(t.args())
        .args(["serve", "--addr", &addr])
        .env("KIZUKI_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log);
    if limits_off {
        serve.env("KIZUKI_LIMITS_ENABLED", "false");
    }
    let server = Server(serve.spawn().context("starting kizuki serve")?);
    wait_ready(&addr).await?;
    let loadavg_before = loadavg();
    let fsync_ms_before = fsync_ms(&t.dir);
    let load_args = |clients: usize, rate: u32| -> Vec<String> {
        vec![
            "bench".into(),
            "load".into(),
            "--addr".into(),
            addr.clone(),
            "--clients".into(),
            clients.to_string(),
            "--token".into(),
            token_x.clone(),
            "--steady-rate".into(),
            rate.to_string(),
            "--steady-token".into(),
            token_y.clone(),
            "--duration".into(),
            a.duration.to_string(),
            "--warmup".into(),
            a.warmup.to_string(),
        ]
        .into_iter()
        .chain(a.polite.then(|| "--polite".to_owned()))
        .collect()
    };
    let mut created = 0;
    let mut report = IntakeReport {
        backend: if t.pg.is_some() { "postgres" } else { "sqlite" },
        mode: if a.flood { "flood" } else { "throughput" },
        clients: a.clients,
        duration_s: a.duration,
        warmup_s: a.warmup,
        limits: if limits_off { "off" } else { "on" },
        preload: a.preload,
        reports_before,
        reports_after: 0,
        loadavg_before,
        loadavg_after: String::new(),
        fsync_ms_before,
        fsync_ms_after: None,
        throughput: None,
        steady_rate: None,
        rounds: 0,
        round_p99_ms: Vec::new(),
        steady_unloaded: None,
        steady_loaded: None,
        flood: None,
        server_cpu_ms_per_request: 0.0,
        load_cpu_ms_per_request: 0.0,
    };
    let mut answered = 0;
    let server_cpu_before = cpu_seconds(server.0.id()).unwrap_or(0.0);
    let mut load_cpu = 0.0;
    if a.flood {
        let rounds = a.rounds.max(1);
        let (mut alone_all, mut loaded_all, mut flood_all) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            let alone = run_load(exe, &load_args(0, a.rate)).await?;
            // X and Y in processes of their own, so Y's schedule never waits behind X's
            // clients in the load generator and only the server is shared.
            let (x_args, y_args) = (load_args(a.clients, 0), load_args(0, a.rate));
            let (x, y) = tokio::join!(run_load(exe, &x_args), run_load(exe, &y_args));
            let (x, y) = (x?, y?);
            created += alone.created_total + x.created_total + y.created_total;
            load_cpu += alone.cpu_s + x.cpu_s + y.cpu_s;
            answered += alone.answered_total + x.answered_total + y.answered_total;
            report.round_p99_ms.push((
                Stats::of(&alone.steady, alone.window_s).p99_ms,
                Stats::of(&y.steady, y.window_s).p99_ms,
            ));
            alone_all.extend(alone.steady);
            loaded_all.extend(y.steady);
            flood_all.extend(x.closed);
        }
        let window = (a.duration.max(1) * u64::from(rounds)) as f64;
        report.rounds = rounds;
        report.steady_rate = Some(a.rate);
        report.steady_unloaded = Some(Stats::of(&alone_all, window));
        report.steady_loaded = Some(Stats::of(&loaded_all, window));
        report.flood = Some(Stats::of(&flood_all, window));
    } else {
        let r = run_load(exe, &load_args(a.clients, 0)).await?;
        created += r.created_total;
        load_cpu += r.cpu_s;
        answered += r.answered_total;
        report.throughput = Some(Stats::of(&r.closed, r.window_s));
    }
    report.loadavg_after = loadavg();
    report.fsync_ms_after = fsync_ms(&t.dir);
    if answered > 0 {
        let server_cpu = cpu_seconds(server.0.id()).unwrap_or(0.0) - server_cpu_before;
        report.server_cpu_ms_per_request = server_cpu * 1000.0 / answered as f64;
        report.load_cpu_ms_per_request = load_cpu * 1000.0 / answered as f64;
    }
    drop(server);
    report.reports_after = report_count(t).await?;
    // Every acknowledged report must be in the database, and nothing else.
    if report.reports_after != report.reports_before + created {
        bail!(
            "the database holds {} reports, expected {} before + {created} acknowledged",
            report.reports_after,
            report.reports_before
        );
    }
    Ok(report)
}

async fn run_load(exe: &Path, args: &[String]) -> Result<LoadResult> {
    let out = tokio::process::Command::new(exe)
        .args(args)
        .env("KIZUKI_LOG", "warn")
        .stderr(Stdio::inherit())
        .output()
        .await
        .context("running the load process")?;
    if !out.status.success() {
        bail!("the load process failed ({})", out.status);
    }
    serde_json::from_slice(&out.stdout).context("reading the load process's result")
}

async fn wait_ready(addr: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(s) = TcpStream::connect(addr).await {
            let mut c = Conn::new(s);
            if let Ok((200, _)) = c.exchange("GET", "/healthz", "", "", addr).await {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the server on {addr} did not answer /healthz within 60 s")
}

fn print_stats(label: &str, s: &Stats) {
    println!(
        "{label}: {:.0} reports/s; latency p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms; \
         {} requests, {} created, {} × 429, {} other statuses, {} I/O errors",
        s.per_second,
        s.p50_ms,
        s.p95_ms,
        s.p99_ms,
        s.max_ms,
        s.requests,
        s.created,
        s.status_429,
        s.other_status,
        s.io_errors
    );
}

fn print_report(r: &IntakeReport) {
    println!(
        "kizuki bench intake: {} on {}, {} s measured after {} s warm-up, rate limits {}",
        r.mode, r.backend, r.duration_s, r.warmup_s, r.limits
    );
    println!(
        "database: {} reports before ({} preloaded), {} after (all acknowledged reports present)",
        r.reports_before, r.preload, r.reports_after
    );
    println!(
        "load average before {}, after {}",
        r.loadavg_before, r.loadavg_after
    );
    let ms = |v: Option<f64>| v.map_or_else(|| "?".to_owned(), |v| format!("{v:.2} ms"));
    println!(
        "fsync of 4 KiB (median of 20) before {}, after {}",
        ms(r.fsync_ms_before),
        ms(r.fsync_ms_after)
    );
    println!(
        "CPU per answered request: server {:.3} ms, load process {:.3} ms",
        r.server_cpu_ms_per_request, r.load_cpu_ms_per_request
    );
    if let Some(s) = &r.throughput {
        print_stats(&format!("{} clients", r.clients), s);
    }
    if let (Some(u), Some(l)) = (&r.steady_unloaded, &r.steady_loaded) {
        let rate = r.steady_rate.unwrap_or(0);
        println!(
            "{} rounds of (Y alone, Y while X floods), samples pooled per phase kind",
            r.rounds
        );
        print_stats(&format!("org Y at {rate}/s alone"), u);
        print_stats(&format!("org Y at {rate}/s, X flooding"), l);
        if let Some(f) = &r.flood {
            print_stats(&format!("org X, {} clients", r.clients), f);
        }
        let rounds: Vec<String> = r
            .round_p99_ms
            .iter()
            .map(|(a, b)| format!("{a:.1} / {b:.1}"))
            .collect();
        println!(
            "org Y p99 per round, alone / flooded (ms): {}",
            rounds.join(", ")
        );
        if u.p99_ms > 0.0 && u.p50_ms > 0.0 {
            println!(
                "org Y loaded / unloaded: p50 {:.2}×, p95 {:.2}×, p99 {:.2}× (goal for p99 ≤ 2×)",
                l.p50_ms / u.p50_ms,
                l.p95_ms / u.p95_ms.max(f64::MIN_POSITIVE),
                l.p99_ms / u.p99_ms
            );
        }
    }
}

// ---- the load process --------------------------------------------------------------------

/// One keep-alive HTTP/1.1 connection. A tiny client of our own: the server's answers are
/// small JSON with a length, and a dependency would only add weight to the binary.
struct Conn {
    r: BufReader<TcpStream>,
}

impl Conn {
    fn new(s: TcpStream) -> Conn {
        let _ = s.set_nodelay(true);
        Conn {
            r: BufReader::new(s),
        }
    }

    /// Sends one request and reads the whole answer: (status, body).
    async fn exchange(
        &mut self,
        method: &str,
        path: &str,
        token: &str,
        body: &str,
        host: &str,
    ) -> std::io::Result<(u16, Vec<u8>)> {
        let auth = if token.is_empty() {
            String::new()
        } else {
            format!("Authorization: Bearer {token}\r\n")
        };
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.r.get_mut().write_all(req.as_bytes()).await?;
        let bad =
            |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
        let mut line = String::new();
        if self.r.read_line(&mut line).await? == 0 {
            return Err(bad("connection closed"));
        }
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("status line"))?;
        let mut length: Option<usize> = None;
        let mut chunked = false;
        loop {
            line.clear();
            if self.r.read_line(&mut line).await? == 0 {
                return Err(bad("headers cut short"));
            }
            let h = line.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
                if k == "content-length" {
                    length = v.parse().ok();
                } else if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
                    chunked = true;
                }
            }
        }
        let mut out = Vec::new();
        if chunked {
            loop {
                line.clear();
                self.r.read_line(&mut line).await?;
                let n = usize::from_str_radix(line.trim(), 16).map_err(|_| bad("chunk size"))?;
                let mut chunk = vec![0; n + 2];
                self.r.read_exact(&mut chunk).await?;
                chunk.truncate(n);
                out.extend_from_slice(&chunk);
                if n == 0 {
                    break;
                }
            }
        } else if let Some(n) = length {
            out.resize(n, 0);
            self.r.read_exact(&mut out).await?;
        }
        Ok((status, out))
    }
}

/// One answered request: when it was due, how long it took, and its status (0 = I/O error).
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    micros: u64,
    status: u16,
}

fn report_body(who: &str, n: u64) -> String {
    serde_json::json!({
        "title": format!("負荷試験 {who}-{n}"),
        "sector": if who.starts_with('y') { "finance" } else { "railway" },
        "event_type": "unavailability",
        "causes": ["equipment-failure"],
        "severity": 2,
        "affected_service": "予約サービス",
        "impact_description": "一部の利用者が予約できなかった",
        "tlp": "amber",
        "summary": "負荷試験のための報告です。",
    })
    .to_string()
}

/// A client that sends its next report as soon as the last one is answered.
async fn closed_client(
    addr: String,
    token: String,
    who: String,
    until: Instant,
    polite: bool,
) -> Vec<Sample> {
    let mut out = Vec::new();
    let mut conn: Option<Conn> = None;
    let mut n = 0u64;
    while Instant::now() < until {
        n += 1;
        let start = Instant::now();
        let status = send(&mut conn, &addr, &token, &report_body(&who, n)).await;
        out.push(Sample {
            at: start,
            micros: start.elapsed().as_micros() as u64,
            status,
        });
        if status == 0 {
            // Do not spin on a refusing port.
            tokio::time::sleep(Duration::from_millis(10)).await;
        } else if status == 429 && polite {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    out
}

/// A client that sends on a fixed schedule; latency counts from when a request was due, so
/// a slow server cannot hide its delay by holding the client back.
async fn steady_client(
    addr: String,
    token: String,
    who: String,
    first: Instant,
    every: Duration,
    until: Instant,
) -> Vec<Sample> {
    let mut out = Vec::new();
    let mut conn: Option<Conn> = None;
    let mut due = first;
    let mut n = 0u64;
    while due < until {
        tokio::time::sleep_until(due.into()).await;
        n += 1;
        let status = send(&mut conn, &addr, &token, &report_body(&who, n)).await;
        out.push(Sample {
            at: due,
            micros: due.elapsed().as_micros() as u64,
            status,
        });
        due += every;
    }
    out
}

/// Sends one report on the connection (opening it when needed); 0 for an I/O failure.
async fn send(conn: &mut Option<Conn>, addr: &str, token: &str, body: &str) -> u16 {
    if conn.is_none() {
        match TcpStream::connect(addr).await {
            Ok(s) => *conn = Some(Conn::new(s)),
            Err(_) => return 0,
        }
    }
    let Some(c) = conn.as_mut() else { return 0 };
    match c
        .exchange("POST", "/api/v1/reports", token, body, addr)
        .await
    {
        Ok((status, _)) => status,
        Err(_) => {
            *conn = None;
            0
        }
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

/// The samples that started in the measured window (from `from` on).
fn measured(samples: &[Sample], from: Instant) -> Vec<Measured> {
    samples
        .iter()
        .filter(|x| x.at >= from)
        .map(|x| (x.micros, x.status))
        .collect()
}

impl Stats {
    /// Counts and latency percentiles of `samples` taken over `window` seconds.
    fn of(samples: &[Measured], window: f64) -> Stats {
        let mut s = Stats::default();
        let mut lat: Vec<u64> = Vec::new();
        for &(micros, status) in samples {
            s.requests += 1;
            match status {
                201 => s.created += 1,
                429 => s.status_429 += 1,
                0 => s.io_errors += 1,
                _ => s.other_status += 1,
            }
            // Latency is that of answered requests, refusals included (they must be fast too).
            if status != 0 {
                lat.push(micros);
            }
        }
        lat.sort_unstable();
        s.per_second = s.created as f64 / window.max(f64::MIN_POSITIVE);
        s.p50_ms = percentile(&lat, 50.0);
        s.p95_ms = percentile(&lat, 95.0);
        s.p99_ms = percentile(&lat, 99.0);
        s.max_ms = lat.last().map_or(0.0, |m| *m as f64 / 1000.0);
        s
    }
}

/// Steady clients share the rate; a few connections so one slow answer does not delay the
/// next due request.
const STEADY_CONNS: u32 = 4;

async fn load(a: &LoadArgs) -> Result<LoadResult> {
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(a.warmup);
    let until = measure_from + Duration::from_secs(a.duration);
    let mut closed = Vec::new();
    for i in 0..a.clients {
        closed.push(tokio::spawn(closed_client(
            a.addr.clone(),
            a.token.clone(),
            format!("x{i}"),
            until,
            a.polite,
        )));
    }
    let mut steady = Vec::new();
    if a.steady_rate > 0 {
        let conns = STEADY_CONNS.min(a.steady_rate);
        let every = Duration::from_secs_f64(f64::from(conns) / f64::from(a.steady_rate));
        for i in 0..conns {
            // Staggered so the organisation's requests are evenly spaced.
            let first = start + every.mul_f64(f64::from(i) / f64::from(conns));
            steady.push(tokio::spawn(steady_client(
                a.addr.clone(),
                a.steady_token.clone(),
                format!("y{i}"),
                first,
                every,
                until,
            )));
        }
    }
    let mut closed_samples = Vec::new();
    for t in closed {
        closed_samples.extend(t.await?);
    }
    let mut steady_samples = Vec::new();
    for t in steady {
        steady_samples.extend(t.await?);
    }
    let window = a.duration.max(1) as f64;
    let created_total = closed_samples
        .iter()
        .chain(&steady_samples)
        .filter(|s| s.status == 201)
        .count() as u64;
    Ok(LoadResult {
        window_s: window,
        closed: measured(&closed_samples, measure_from),
        steady: measured(&steady_samples, measure_from),
        created_total,
        answered_total: closed_samples
            .iter()
            .chain(&steady_samples)
            .filter(|s| s.status != 0)
            .count() as u64,
        cpu_s: cpu_seconds(std::process::id()).unwrap_or(0.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_count_only_the_measured_window_and_rank_latencies() {
        let t = Instant::now();
        let later = t + Duration::from_secs(1);
        let mut samples = vec![Sample {
            at: t,
            micros: 999_000,
            status: 201,
        }];
        for (i, status) in [201, 201, 429, 500, 0].into_iter().enumerate() {
            samples.push(Sample {
                at: later,
                micros: (i as u64 + 1) * 1000,
                status,
            });
        }
        let s = Stats::of(&measured(&samples, later), 2.0);
        assert_eq!(s.requests, 5, "the warm-up sample is left out");
        assert_eq!(
            (s.created, s.status_429, s.other_status, s.io_errors),
            (2, 1, 1, 1)
        );
        assert_eq!(s.per_second, 1.0);
        // Four answered: 1, 2, 3, 4 ms (the I/O error has no latency).
        assert_eq!(s.max_ms, 4.0);
        assert_eq!(s.p50_ms, 3.0);
        assert_eq!(s.p99_ms, 4.0);
    }

    #[tokio::test]
    async fn the_client_reads_length_and_chunked_answers_on_one_connection() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            let mut r = BufReader::new(s);
            for answer in [
                "HTTP/1.1 201 Created\r\nContent-Length: 5\r\n\r\nhello",
                "HTTP/1.1 429 Too Many Requests\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            ] {
                // Read one request: headers, then its body by Content-Length.
                let mut len = 0;
                loop {
                    let mut line = String::new();
                    r.read_line(&mut line).await.unwrap();
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap();
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; len];
                r.read_exact(&mut body).await.unwrap();
                assert_eq!(body, b"{}");
                r.get_mut().write_all(answer.as_bytes()).await.unwrap();
            }
        });
        let mut c = Conn::new(TcpStream::connect(&addr).await.unwrap());
        let (s1, b1) = c.exchange("POST", "/x", "t", "{}", &addr).await.unwrap();
        let (s2, b2) = c.exchange("POST", "/x", "t", "{}", &addr).await.unwrap();
        assert_eq!((s1, b1.as_slice()), (201, &b"hello"[..]));
        assert_eq!((s2, b2.as_slice()), (429, &b"abcde"[..]));
        server.await.unwrap();
    }
}
