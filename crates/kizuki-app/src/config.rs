//! Configuration: defaults, then `kizuki.toml` in the data dir, then `KIZUKI_*` environment
//! variables, then command-line flags. Secrets are never printed.

use crate::error::{AppError, AppResult};
use crate::ops::backup::{BackupPolicy, parse_interval};
use crate::security::ip_allowlist::{Allowlist, ProxyConfig};
use kizuki_domain::deadlines::DeadlinePolicy;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";
pub const DEFAULT_DATA_DIR: &str = "./kizuki-data";

/// What `kizuki.toml` may set.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    addr: Option<String>,
    database_url: Option<String>,
    backup: Option<BackupSection>,
    /// `[deadlines]`: `first = "24h"`, `follow_up = "72h"`, `final = "1month"`.
    deadlines: Option<DeadlinePolicy>,
    /// Reminders: `public_url` for links, `[smtp]`, `[webhook]`, `[reminders]`.
    public_url: Option<String>,
    smtp: Option<crate::notify::SmtpSection>,
    webhook: Option<crate::notify::WebhookSection>,
    reminders: Option<crate::notify::RemindersSection>,
    /// `[audit]`: `keep = "400d"`, `force = true` for less than a year.
    audit: Option<crate::security::audit_log::AuditSection>,
    /// `[security]`: `contact = "security@…"`, where vulnerabilities are reported.
    security: Option<SecuritySection>,
    /// Fair limits and metrics: `[limits]`, `[metrics]`, `[warnings]`.
    limits: Option<LimitsSection>,
    metrics: Option<MetricsSection>,
    warnings: Option<WarningsSection>,
    /// `[web]`: `secure_cookies = true` behind TLS, `trusted_proxies = ["10.0.0.0/8"]`.
    web: Option<WebSection>,
    /// `[sqlite]`: `max_batch = 256`, `checkpoints = "thread"` or `"writer"`.
    sqlite: Option<SqliteSection>,
    /// `[report]`: `fonts = ["/path/to/font.ttf"]` for the annual report's PDF.
    report: Option<ReportSection>,
    /// `[interviews]`: `max_attachment_mb = 20`, the largest file an operator may attach.
    interviews: Option<InterviewsSection>,
}

/// `[interviews]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct InterviewsSection {
    max_attachment_mb: Option<u64>,
}

/// The attachment limit from `KIZUKI_MAX_ATTACHMENT_MB` or `[interviews] max_attachment_mb`
/// (whole MiB, 1 to 1024), else 20 MiB.
fn attachment_limit(
    f: InterviewsSection,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<crate::interviews::attachments::AttachmentLimit, String> {
    let mb = match env("KIZUKI_MAX_ATTACHMENT_MB") {
        Some(v) => Some(v.trim().parse::<u64>().map_err(|_| {
            format!("KIZUKI_MAX_ATTACHMENT_MB: '{v}' is not a whole number of MiB")
        })?),
        None => f.max_attachment_mb,
    };
    match mb {
        None => Ok(crate::interviews::attachments::AttachmentLimit::default()),
        Some(n @ 1..=1024) => Ok(crate::interviews::attachments::AttachmentLimit(
            n * 1024 * 1024,
        )),
        Some(n) => Err(format!(
            "interviews.max_attachment_mb: {n} is outside 1 to 1024"
        )),
    }
}

/// `[web]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebSection {
    secure_cookies: Option<bool>,
    trusted_proxies: Option<Vec<String>>,
}

/// `[sqlite]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SqliteSection {
    max_batch: Option<usize>,
    checkpoints: Option<String>,
}

/// `[report]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportSection {
    fonts: Option<Vec<PathBuf>>,
}

/// How the web server sits in its deployment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebConfig {
    /// Served behind TLS: the session cookie is `Secure` and the headers ask for HTTPS only.
    /// `[web] secure_cookies` or `KIZUKI_SECURE_COOKIES=1`.
    pub secure_cookies: bool,
    /// Whose `X-Forwarded-For` to believe: `[web] trusted_proxies` or
    /// `KIZUKI_TRUSTED_PROXIES` (comma-separated addresses or CIDR blocks); none by default.
    pub proxy: ProxyConfig,
}

/// Tuning of the embedded database's writer (the PostgreSQL backend ignores it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqliteTuning {
    /// Most writes in one group-commit transaction; 1 turns group commit off.
    /// `[sqlite] max_batch` or `KIZUKI_SQLITE_MAX_BATCH`.
    pub max_batch: usize,
    /// Leave WAL checkpoints to the writer, as SQLite does by default, instead of a thread
    /// of their own: `[sqlite] checkpoints = "writer"` or `KIZUKI_SQLITE_CHECKPOINT=writer`.
    pub checkpoints_on_writer: bool,
}

impl Default for SqliteTuning {
    fn default() -> Self {
        SqliteTuning {
            max_batch: 256,
            checkpoints_on_writer: false,
        }
    }
}

/// `[security]`: where vulnerabilities are reported.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecuritySection {
    contact: Option<String>,
}

/// `[backup]`: `every = "6h"`, `keep = 28`, or `every = "off"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BackupSection {
    every: String,
    #[serde(default = "default_keep")]
    keep: usize,
}

fn default_keep() -> usize {
    DEFAULT_BACKUP.keep
}

/// Scheduled backups are on unless switched off: a database nobody backs up is the
/// reference's case 2 waiting to happen.
pub const DEFAULT_BACKUP: BackupPolicy = BackupPolicy {
    every: std::time::Duration::from_secs(6 * 3600),
    keep: 28,
};

#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    pub data_dir: PathBuf,
    pub addr: SocketAddr,
    /// A PostgreSQL URL; `None` means the embedded SQLite file in the data dir.
    pub database_url: Option<String>,
    /// `None` when scheduled backups are switched off.
    pub backup: Option<BackupPolicy>,
    /// How long after detection each report stage is due.
    pub deadlines: DeadlinePolicy,
    /// Stage-deadline reminders by e-mail and webhook.
    pub notify: crate::notify::NotifyConfig,
    /// Audit retention, `[audit] keep`.
    pub audit: crate::security::audit_log::AuditRetention,
    /// Where to report a vulnerability, `[security] contact`; `None` until set.
    pub security_contact: Option<String>,
    /// Fair limits: `[limits]`.
    pub limits: LimitsConfig,
    /// Who may read `/metrics`: `[metrics]`.
    pub metrics: MetricsConfig,
    /// Resource warnings before exhaustion: `[warnings]`.
    pub warnings: WarningsConfig,
    /// TLS and proxies in front of the server: `[web]`.
    pub web: WebConfig,
    /// The embedded database's writer: `[sqlite]`.
    pub sqlite: SqliteTuning,
    /// Japanese font files for PDF output, tried before the usual package locations:
    /// `[report] fonts` or `KIZUKI_PDF_FONTS` (colon-separated).
    pub pdf_fonts: Vec<PathBuf>,
    /// The largest interview attachment kept (`[interviews] max_attachment_mb`).
    pub max_attachment: crate::interviews::attachments::AttachmentLimit,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("addr", &self.addr)
            .field("backup", &self.backup)
            .field("notify", &self.notify)
            .field(
                "database_url",
                &self.database_url.as_ref().map(|_| "<set, not shown>"),
            )
            .field("limits", &self.limits)
            .field("metrics", &self.metrics)
            .field("warnings", &self.warnings)
            .field("web", &self.web)
            .field("sqlite", &self.sqlite)
            .field("pdf_fonts", &self.pdf_fonts)
            .finish()
    }
}

/// Values given on the command line (they win over everything else).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub addr: Option<String>,
    pub database_url: Option<String>,
}

impl Config {
    /// Layers the sources; `env` is injected so tests need not touch the process environment.
    pub fn load(
        data_dir: &Path,
        cli: &Overrides,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> AppResult<Config> {
        let file_path = data_dir.join("kizuki.toml");
        let file: FileConfig = match std::fs::read_to_string(&file_path) {
            Ok(text) => toml::from_str(&text).map_err(|e| {
                AppError::Refused(format!("{}: {}", file_path.display(), e.message()))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => FileConfig::default(),
            Err(e) => return Err(AppError::io(file_path.display().to_string(), e)),
        };
        let addr_text = cli
            .addr
            .clone()
            .or_else(|| env("KIZUKI_ADDR"))
            .or(file.addr)
            .unwrap_or_else(|| DEFAULT_ADDR.to_owned());
        let addr = addr_text.parse().map_err(|_| {
            AppError::Refused(format!(
                "addr: '{addr_text}' is not an address like 127.0.0.1:8080"
            ))
        })?;
        let database_url = cli
            .database_url
            .clone()
            .or_else(|| env("KIZUKI_DATABASE_URL"))
            .or(file.database_url);
        let backup = match file.backup {
            None => Some(DEFAULT_BACKUP),
            Some(b) if b.every.trim() == "off" => None,
            Some(b) => {
                let every = parse_interval(&b.every).map_err(|e| {
                    AppError::Refused(format!("{}: backup.every: {e}", file_path.display()))
                })?;
                if b.keep == 0 {
                    return Err(AppError::Refused(format!(
                        "{}: backup.keep must be at least 1",
                        file_path.display()
                    )));
                }
                Some(BackupPolicy {
                    every,
                    keep: b.keep,
                })
            }
        };
        let deadlines = deadline_policy(file.deadlines.unwrap_or_default(), env)
            .map_err(|e| AppError::Refused(format!("{}: deadlines: {e}", file_path.display())))?;
        // Reminders.
        let notify = crate::notify::NotifyConfig::from_sections(
            file.public_url,
            file.smtp,
            file.webhook,
            file.reminders,
            data_dir,
            env,
        )
        .map_err(|e| AppError::Refused(format!("{}: {e}", file_path.display())))?;
        // Fair limits and metrics.
        let named = |e: String| AppError::Refused(format!("{}: {e}", file_path.display()));
        let limits = LimitsConfig::layer(file.limits.unwrap_or_default(), env).map_err(named)?;
        let metrics = MetricsConfig::layer(file.metrics.unwrap_or_default(), env).map_err(named)?;
        let warnings =
            WarningsConfig::layer(file.warnings.unwrap_or_default(), env).map_err(named)?;
        // Audit retention (a year at least unless forced) and the security contact.
        let audit = file
            .audit
            .unwrap_or_default()
            .retention()
            .map_err(|e| AppError::Refused(format!("{}: {e}", file_path.display())))?;
        let security_contact = file
            .security
            .and_then(|s| s.contact)
            .filter(|c| !c.trim().is_empty());
        let web = web_config(file.web.unwrap_or_default(), env).map_err(named)?;
        let sqlite = sqlite_tuning(file.sqlite.unwrap_or_default(), env).map_err(named)?;
        let max_attachment =
            attachment_limit(file.interviews.unwrap_or_default(), env).map_err(named)?;
        let pdf_fonts = match env("KIZUKI_PDF_FONTS") {
            Some(v) => v
                .split(':')
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
                .collect(),
            None => file.report.and_then(|r| r.fonts).unwrap_or_default(),
        };
        Ok(Config {
            max_attachment,
            web,
            sqlite,
            pdf_fonts,
            audit,
            security_contact,
            data_dir: data_dir.to_owned(),
            addr,
            database_url,
            backup,
            deadlines,
            notify,
            limits,
            metrics,
            warnings,
        })
    }
}

/// `[web]` with `KIZUKI_SECURE_COOKIES` and `KIZUKI_TRUSTED_PROXIES` laid over it.
fn web_config(f: WebSection, env: &dyn Fn(&str) -> Option<String>) -> Result<WebConfig, String> {
    let secure_cookies = match env("KIZUKI_SECURE_COOKIES") {
        Some(v) => v.trim() == "1" || v.trim() == "true",
        None => f.secure_cookies.unwrap_or(false),
    };
    let (entries, from) = match env("KIZUKI_TRUSTED_PROXIES") {
        Some(v) => (
            v.split(',')
                .map(|s| s.trim().to_owned())
                .collect::<Vec<_>>(),
            "KIZUKI_TRUSTED_PROXIES",
        ),
        None => (f.trusted_proxies.unwrap_or_default(), "web.trusted_proxies"),
    };
    let entries: Vec<String> = entries.into_iter().filter(|e| !e.is_empty()).collect();
    let proxy = if entries.is_empty() {
        ProxyConfig::default()
    } else {
        let trusted = Allowlist::parse(&entries.join("\n")).map_err(|errs| {
            format!(
                "{from}: {}",
                errs.iter()
                    .map(|e| e.message_en())
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        })?;
        ProxyConfig {
            trust_forwarded: true,
            trusted,
        }
    };
    Ok(WebConfig {
        secure_cookies,
        proxy,
    })
}

/// `[sqlite]` with `KIZUKI_SQLITE_MAX_BATCH` and `KIZUKI_SQLITE_CHECKPOINT` laid over it.
fn sqlite_tuning(
    f: SqliteSection,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<SqliteTuning, String> {
    let d = SqliteTuning::default();
    let max_batch = setting(
        env,
        "sqlite",
        "max_batch",
        f.max_batch,
        d.max_batch,
        1..=10_000,
    )?;
    let (mode, from) = match env("KIZUKI_SQLITE_CHECKPOINT") {
        Some(v) => (v, "KIZUKI_SQLITE_CHECKPOINT"),
        None => (
            f.checkpoints.unwrap_or_else(|| "thread".to_owned()),
            "sqlite.checkpoints",
        ),
    };
    let checkpoints_on_writer = match mode.trim() {
        "writer" => true,
        "thread" | "" => false,
        other => {
            return Err(format!(
                "{from}: '{other}' is neither \"thread\" nor \"writer\""
            ));
        }
    };
    Ok(SqliteTuning {
        max_batch,
        checkpoints_on_writer,
    })
}

/// The file's deadlines with `KIZUKI_DEADLINE_FIRST`, `_FOLLOW_UP` and `_FINAL` laid over
/// them; the three are checked together (a later stage may not be shorter).
fn deadline_policy(
    file: DeadlinePolicy,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<DeadlinePolicy, kizuki_domain::ValidationErrors> {
    use kizuki_domain::report::StageKind;
    let pick =
        |var: &str, stage: StageKind| env(var).unwrap_or_else(|| file.span(stage).to_string());
    DeadlinePolicy::from_config(
        &pick("KIZUKI_DEADLINE_FIRST", StageKind::First),
        &pick("KIZUKI_DEADLINE_FOLLOW_UP", StageKind::FollowUp),
        &pick("KIZUKI_DEADLINE_FINAL", StageKind::Final),
    )
}

// ---- Fair limits and metrics -------------------------------------------------------------

/// One token bucket: `per_minute` requests sustained, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_minute: u32,
    pub burst: u32,
}

/// `[limits]`: per-organisation, per-token and per-user (page writes) token buckets, and the
/// bulk-import queue. Each key may also come from `KIZUKI_LIMITS_<KEY>` (e.g.
/// `KIZUKI_LIMITS_ORG_PER_MINUTE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitsConfig {
    /// `false` switches every bucket off (the bulk queue stays bounded).
    pub enabled: bool,
    /// Every API call of one organisation, all its tokens together.
    pub org: Rate,
    /// Every API call made with one token.
    pub token: Rate,
    /// Form posts of one signed-in user.
    pub user_write: Rate,
    /// Reports in one `POST /api/v1/reports/bulk`.
    pub bulk_max_items: usize,
    /// Bulk jobs waiting for a worker; one more is answered 429.
    pub bulk_queue: usize,
    /// Bulk jobs processed at once.
    pub bulk_workers: usize,
}

impl Default for LimitsConfig {
    /// Generous enough that people at work never meet them; a script looping on the API
    /// does within seconds.
    fn default() -> Self {
        LimitsConfig {
            enabled: true,
            org: Rate {
                per_minute: 3000,
                burst: 600,
            },
            token: Rate {
                per_minute: 1200,
                burst: 300,
            },
            user_write: Rate {
                per_minute: 120,
                burst: 60,
            },
            bulk_max_items: 1000,
            bulk_queue: 8,
            bulk_workers: 1,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsSection {
    enabled: Option<bool>,
    org_per_minute: Option<u32>,
    org_burst: Option<u32>,
    token_per_minute: Option<u32>,
    token_burst: Option<u32>,
    user_write_per_minute: Option<u32>,
    user_write_burst: Option<u32>,
    bulk_max_items: Option<usize>,
    bulk_queue: Option<usize>,
    bulk_workers: Option<usize>,
}

/// The value of `section.key`: `KIZUKI_<SECTION>_<KEY>` over the file over the default, each
/// checked against `range`; errors name the key (and the variable when it came from there).
fn setting<T>(
    env: &dyn Fn(&str) -> Option<String>,
    section: &str,
    key: &str,
    file: Option<T>,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let var = format!("KIZUKI_{}_{}", section, key).to_uppercase();
    let (v, from) = match env(&var) {
        Some(text) => (
            text.trim()
                .parse::<T>()
                .map_err(|_| format!("{var}: '{text}' is not a number"))?,
            var,
        ),
        None => (file.unwrap_or(default), format!("{section}.{key}")),
    };
    if !range.contains(&v) {
        return Err(format!(
            "{from}: {v} is outside {}..={}",
            range.start(),
            range.end()
        ));
    }
    Ok(v)
}

impl LimitsConfig {
    fn layer(f: LimitsSection, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, String> {
        let d = LimitsConfig::default();
        let rate = |key: &str, file: Option<u32>, default: u32| {
            setting(env, "limits", key, file, default, 1..=10_000_000)
        };
        let enabled = match env("KIZUKI_LIMITS_ENABLED") {
            Some(v) => match v.trim() {
                "1" | "true" => true,
                "0" | "false" => false,
                other => {
                    return Err(format!(
                        "KIZUKI_LIMITS_ENABLED: '{other}' is not true or false"
                    ));
                }
            },
            None => f.enabled.unwrap_or(d.enabled),
        };
        Ok(LimitsConfig {
            enabled,
            org: Rate {
                per_minute: rate("org_per_minute", f.org_per_minute, d.org.per_minute)?,
                burst: rate("org_burst", f.org_burst, d.org.burst)?,
            },
            token: Rate {
                per_minute: rate("token_per_minute", f.token_per_minute, d.token.per_minute)?,
                burst: rate("token_burst", f.token_burst, d.token.burst)?,
            },
            user_write: Rate {
                per_minute: rate(
                    "user_write_per_minute",
                    f.user_write_per_minute,
                    d.user_write.per_minute,
                )?,
                burst: rate("user_write_burst", f.user_write_burst, d.user_write.burst)?,
            },
            bulk_max_items: setting(
                env,
                "limits",
                "bulk_max_items",
                f.bulk_max_items,
                d.bulk_max_items,
                1..=100_000,
            )?,
            bulk_queue: setting(
                env,
                "limits",
                "bulk_queue",
                f.bulk_queue,
                d.bulk_queue,
                1..=10_000,
            )?,
            bulk_workers: setting(
                env,
                "limits",
                "bulk_workers",
                f.bulk_workers,
                d.bulk_workers,
                1..=64,
            )?,
        })
    }
}

/// `[metrics]`: `/metrics` answers callers on the loopback interface; with `token` set
/// (or `KIZUKI_METRICS_TOKEN`), also anyone sending `Authorization: Bearer <token>`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct MetricsConfig {
    pub token: Option<String>,
}

impl std::fmt::Debug for MetricsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsConfig")
            .field("token", &self.token.as_ref().map(|_| "<set, not shown>"))
            .finish()
    }
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricsSection {
    token: Option<String>,
}

impl std::fmt::Debug for MetricsSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsSection { .. }")
    }
}

impl MetricsConfig {
    fn layer(f: MetricsSection, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, String> {
        let token = env("KIZUKI_METRICS_TOKEN")
            .or(f.token)
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty());
        // A short token guarded nothing: refuse it rather than expose the figures.
        if token.as_ref().is_some_and(|t| t.len() < 16) {
            return Err("metrics.token: use at least 16 characters".into());
        }
        Ok(MetricsConfig { token })
    }
}

/// `[warnings]`: a warning is logged once when a resource passes its threshold, before it
/// runs out, and an info line when it is back under (`KIZUKI_WARNINGS_<KEY>` also works).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarningsConfig {
    /// Database connections in use, in percent of the pool.
    pub pool_percent: u32,
    /// Bulk jobs waiting, in percent of the queue.
    pub queue_percent: u32,
    /// Free space on the data dir's file system, in MiB.
    pub disk_free_mb: u64,
    /// How often the background check looks.
    pub check_every: std::time::Duration,
}

impl Default for WarningsConfig {
    fn default() -> Self {
        WarningsConfig {
            pool_percent: 80,
            queue_percent: 75,
            disk_free_mb: 1024,
            check_every: std::time::Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WarningsSection {
    pool_percent: Option<u32>,
    queue_percent: Option<u32>,
    disk_free_mb: Option<u64>,
    check_every_secs: Option<u64>,
}

impl WarningsConfig {
    fn layer(f: WarningsSection, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, String> {
        let d = WarningsConfig::default();
        let check_every = std::time::Duration::from_secs(setting(
            env,
            "warnings",
            "check_every_secs",
            f.check_every_secs,
            d.check_every.as_secs(),
            1..=3600,
        )?);
        Ok(WarningsConfig {
            pool_percent: setting(
                env,
                "warnings",
                "pool_percent",
                f.pool_percent,
                d.pool_percent,
                1..=100,
            )?,
            queue_percent: setting(
                env,
                "warnings",
                "queue_percent",
                f.queue_percent,
                d.queue_percent,
                1..=100,
            )?,
            disk_free_mb: setting(
                env,
                "warnings",
                "disk_free_mb",
                f.disk_free_mb,
                d.disk_free_mb,
                0..=u64::MAX,
            )?,
            check_every,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let none = |_: &str| None;
        let c = Config::load(dir.path(), &Overrides::default(), &none).unwrap();
        assert_eq!(c.addr.to_string(), DEFAULT_ADDR);
        std::fs::write(
            dir.path().join("kizuki.toml"),
            "addr = \"127.0.0.1:9000\"\n",
        )
        .unwrap();
        let c = Config::load(dir.path(), &Overrides::default(), &none).unwrap();
        assert_eq!(c.addr.port(), 9000);
        let env = |k: &str| (k == "KIZUKI_ADDR").then(|| "127.0.0.1:9100".to_owned());
        let c = Config::load(dir.path(), &Overrides::default(), &env).unwrap();
        assert_eq!(c.addr.port(), 9100);
        let cli = Overrides {
            addr: Some("127.0.0.1:9200".into()),
            ..Default::default()
        };
        assert_eq!(
            Config::load(dir.path(), &cli, &env).unwrap().addr.port(),
            9200
        );
    }

    #[test]
    fn deployment_sections_layer_file_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let none = |_: &str| None;
        let c = Config::load(dir.path(), &Overrides::default(), &none).unwrap();
        assert!(!c.web.secure_cookies);
        assert!(
            !c.web.proxy.trust_forwarded,
            "no proxy is believed by default"
        );
        assert_eq!(c.sqlite, SqliteTuning::default());
        assert!(c.pdf_fonts.is_empty());
        std::fs::write(
            dir.path().join("kizuki.toml"),
            "[web]\nsecure_cookies = true\ntrusted_proxies = [\"10.0.0.0/8\"]\n\
             [sqlite]\nmax_batch = 16\ncheckpoints = \"writer\"\n\
             [report]\nfonts = [\"/fonts/a.ttf\"]\n",
        )
        .unwrap();
        let c = Config::load(dir.path(), &Overrides::default(), &none).unwrap();
        assert!(c.web.secure_cookies);
        assert!(c.web.proxy.trust_forwarded);
        assert!(c.web.proxy.trusted.permits("10.1.2.3".parse().unwrap()));
        assert!(!c.web.proxy.trusted.permits("192.0.2.1".parse().unwrap()));
        assert_eq!(
            c.sqlite,
            SqliteTuning {
                max_batch: 16,
                checkpoints_on_writer: true
            }
        );
        assert_eq!(c.pdf_fonts, vec![PathBuf::from("/fonts/a.ttf")]);
        let env = |k: &str| match k {
            "KIZUKI_SECURE_COOKIES" => Some("0".to_owned()),
            "KIZUKI_TRUSTED_PROXIES" => Some("192.0.2.0/24, 198.51.100.7".to_owned()),
            "KIZUKI_SQLITE_MAX_BATCH" => Some("1".to_owned()),
            "KIZUKI_SQLITE_CHECKPOINT" => Some("thread".to_owned()),
            "KIZUKI_PDF_FONTS" => Some("/x.otf:/y.otf".to_owned()),
            _ => None,
        };
        let c = Config::load(dir.path(), &Overrides::default(), &env).unwrap();
        assert!(!c.web.secure_cookies, "the environment wins over the file");
        assert!(c.web.proxy.trusted.permits("198.51.100.7".parse().unwrap()));
        assert!(!c.web.proxy.trusted.permits("10.1.2.3".parse().unwrap()));
        assert_eq!(c.sqlite.max_batch, 1);
        assert!(!c.sqlite.checkpoints_on_writer);
        assert_eq!(c.pdf_fonts.len(), 2);
        let bad = |k: &str| (k == "KIZUKI_TRUSTED_PROXIES").then(|| "not-an-address".to_owned());
        let err = Config::load(dir.path(), &Overrides::default(), &bad).unwrap_err();
        assert!(err.to_string().contains("KIZUKI_TRUSTED_PROXIES"), "{err}");
        let bad = |k: &str| (k == "KIZUKI_SQLITE_CHECKPOINT").then(|| "sometimes".to_owned());
        let err = Config::load(dir.path(), &Overrides::default(), &bad).unwrap_err();
        assert!(
            err.to_string().contains("KIZUKI_SQLITE_CHECKPOINT"),
            "{err}"
        );
    }

    #[test]
    fn backup_section() {
        let dir = tempfile::tempdir().unwrap();
        let load = |text: &str| {
            std::fs::write(dir.path().join("kizuki.toml"), text).unwrap();
            Config::load(dir.path(), &Overrides::default(), &|_| None)
        };
        assert_eq!(load("").unwrap().backup, Some(DEFAULT_BACKUP));
        let b = load("[backup]\nevery = \"1d\"\nkeep = 7\n")
            .unwrap()
            .backup
            .unwrap();
        assert_eq!((b.every.as_secs(), b.keep), (86_400, 7));
        assert_eq!(load("[backup]\nevery = \"off\"\n").unwrap().backup, None);
        let err = load("[backup]\nevery = \"often\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("backup.every"), "{err}");
        assert!(load("[backup]\nevery = \"6h\"\nkeep = 0\n").is_err());
    }

    #[test]
    fn deadlines_section_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let c = Config::load(dir.path(), &Overrides::default(), &|_| None).unwrap();
        assert_eq!(c.deadlines, DeadlinePolicy::default());
        std::fs::write(
            dir.path().join("kizuki.toml"),
            "[deadlines]\nfirst = \"12h\"\nfollow_up = \"48h\"\nfinal = \"2month\"\n",
        )
        .unwrap();
        let c = Config::load(dir.path(), &Overrides::default(), &|_| None).unwrap();
        let want = DeadlinePolicy::from_config("12h", "48h", "2month").unwrap();
        assert_eq!(c.deadlines, want);
        let env = |k: &str| (k == "KIZUKI_DEADLINE_FINAL").then(|| "1month".to_owned());
        let c = Config::load(dir.path(), &Overrides::default(), &env).unwrap();
        assert_eq!(
            c.deadlines,
            DeadlinePolicy::from_config("12h", "48h", "1month").unwrap()
        );
        // A later stage shorter than an earlier one is refused, naming the section.
        let env = |k: &str| (k == "KIZUKI_DEADLINE_FOLLOW_UP").then(|| "6h".to_owned());
        let err = Config::load(dir.path(), &Overrides::default(), &env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("deadlines"), "{err}");
    }

    #[test]
    fn bad_values_are_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("kizuki.toml"), "adr = 1\n").unwrap();
        let err = Config::load(dir.path(), &Overrides::default(), &|_| None).unwrap_err();
        assert!(err.to_string().contains("kizuki.toml"), "{err}");
        let cli = Overrides {
            addr: Some("nowhere".into()),
            ..Default::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let err = Config::load(dir.path(), &cli, &|_| None).unwrap_err();
        assert!(err.to_string().contains("nowhere"), "{err}");
    }

    #[test]
    fn audit_section() {
        let dir = tempfile::tempdir().unwrap();
        let load = |text: &str| {
            std::fs::write(dir.path().join("kizuki.toml"), text).unwrap();
            Config::load(dir.path(), &Overrides::default(), &|_| None)
        };
        let c = load("").unwrap();
        assert!(c.audit.keep_days >= 365);
        assert_eq!(c.security_contact, None);
        assert_eq!(
            load("[audit]\nkeep = \"2y\"\n").unwrap().audit.keep_days,
            730
        );
        let err = load("[audit]\nkeep = \"30d\"\n").unwrap_err().to_string();
        assert!(
            err.contains("audit.keep") && err.contains("kizuki.toml"),
            "{err}"
        );
        let c = load("[audit]\nkeep = \"30d\"\nforce = true\n").unwrap();
        assert_eq!(c.audit.keep_days, 30);
        let c = load("[security]\ncontact = \"security@example.jp\"\n").unwrap();
        assert_eq!(c.security_contact.as_deref(), Some("security@example.jp"));
    }

    #[test]
    fn debug_hides_the_database_url() {
        let dir = tempfile::tempdir().unwrap();
        let cli = Overrides {
            database_url: Some("postgres://u:secret@h/db".into()),
            ..Default::default()
        };
        let c = Config::load(dir.path(), &cli, &|_| None).unwrap();
        assert!(!format!("{c:?}").contains("secret"));
    }

    // Fair limits and metrics.
    #[test]
    fn limits_section_layers_defaults_file_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let c = Config::load(dir.path(), &Overrides::default(), &|_| None).unwrap();
        assert_eq!(c.limits, LimitsConfig::default());
        std::fs::write(
            dir.path().join("kizuki.toml"),
            "[limits]\norg_per_minute = 60\norg_burst = 5\nbulk_queue = 2\n",
        )
        .unwrap();
        let c = Config::load(dir.path(), &Overrides::default(), &|_| None).unwrap();
        assert_eq!(
            c.limits.org,
            Rate {
                per_minute: 60,
                burst: 5
            }
        );
        assert_eq!(c.limits.bulk_queue, 2);
        assert_eq!(c.limits.token, LimitsConfig::default().token);
        let env = |k: &str| (k == "KIZUKI_LIMITS_ORG_BURST").then(|| "9".to_owned());
        let c = Config::load(dir.path(), &Overrides::default(), &env).unwrap();
        assert_eq!((c.limits.org.per_minute, c.limits.org.burst), (60, 9));
        let env = |k: &str| (k == "KIZUKI_LIMITS_ENABLED").then(|| "false".to_owned());
        assert!(
            !Config::load(dir.path(), &Overrides::default(), &env)
                .unwrap()
                .limits
                .enabled
        );
    }

    #[test]
    fn limits_and_warnings_errors_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let load = |text: &str, env: &dyn Fn(&str) -> Option<String>| {
            std::fs::write(dir.path().join("kizuki.toml"), text).unwrap();
            Config::load(dir.path(), &Overrides::default(), env)
                .unwrap_err()
                .to_string()
        };
        let err = load("[limits]\ntoken_burst = 0\n", &|_| None);
        assert!(err.contains("limits.token_burst"), "{err}");
        let err = load("[limits]\nbulk_workers = 1000\n", &|_| None);
        assert!(err.contains("limits.bulk_workers"), "{err}");
        let err = load("[limits]\nburst = 3\n", &|_| None);
        assert!(err.contains("kizuki.toml"), "{err}");
        let err = load("", &|k| {
            (k == "KIZUKI_LIMITS_ORG_PER_MINUTE").then(|| "many".to_owned())
        });
        assert!(err.contains("KIZUKI_LIMITS_ORG_PER_MINUTE"), "{err}");
        let err = load("[warnings]\npool_percent = 101\n", &|_| None);
        assert!(err.contains("warnings.pool_percent"), "{err}");
        let err = load("[metrics]\ntoken = \"short\"\n", &|_| None);
        assert!(err.contains("metrics.token"), "{err}");
    }

    #[test]
    fn warnings_and_metrics_sections() {
        let dir = tempfile::tempdir().unwrap();
        let c = Config::load(dir.path(), &Overrides::default(), &|_| None).unwrap();
        assert_eq!(c.warnings, WarningsConfig::default());
        assert_eq!(c.metrics.token, None);
        std::fs::write(
            dir.path().join("kizuki.toml"),
            "[warnings]\npool_percent = 90\ndisk_free_mb = 512\ncheck_every_secs = 5\n\
             [metrics]\ntoken = \"0123456789abcdef-file\"\n",
        )
        .unwrap();
        let env = |k: &str| (k == "KIZUKI_WARNINGS_QUEUE_PERCENT").then(|| "50".to_owned());
        let c = Config::load(dir.path(), &Overrides::default(), &env).unwrap();
        assert_eq!(
            (
                c.warnings.pool_percent,
                c.warnings.queue_percent,
                c.warnings.disk_free_mb,
                c.warnings.check_every.as_secs()
            ),
            (90, 50, 512, 5)
        );
        assert_eq!(c.metrics.token.as_deref(), Some("0123456789abcdef-file"));
        // The token is a secret: never in Debug output.
        assert!(!format!("{c:?}").contains("0123456789abcdef"), "{c:?}");
        let env =
            |k: &str| (k == "KIZUKI_METRICS_TOKEN").then(|| "from-the-env-0123456".to_owned());
        let c = Config::load(dir.path(), &Overrides::default(), &env).unwrap();
        assert_eq!(c.metrics.token.as_deref(), Some("from-the-env-0123456"));
    }
}
