//! Stage-deadline reminders: "due soon" and "overdue" e-mails through SMTP and an
//! outbound webhook, each sent once per report, stage, kind and channel even across
//! restarts and with several app nodes on one database.
//!
//! [`plan::plan`] decides what is due (pure, with the injected clock); [`run_once`] claims
//! each reminder in the store (an atomic insert-if-absent, see `kizuki_store::ReminderClaim`)
//! and only the node holding the claim delivers it; [`run_loop`] repeats that from `serve`.
//! A failed delivery is logged and handed back with a growing retry time; it never stops
//! the server.

pub mod message;
pub mod plan;
pub mod smtp;
pub mod tls;
pub mod webhook;

use crate::App;
use crate::error::AppResult;
use crate::reports::deadlines::owes_stages;
use chrono::TimeDelta;
use kizuki_domain::deadlines::DeadlinePolicy;
use kizuki_domain::report::{Report, ReportStatus};
use kizuki_domain::user::Email;
use kizuki_store::{Page, ReminderChannel, ReminderClaim, ReminderKey, ReportFilter};
use plan::{Channels, Planned};
use serde::Deserialize;
use smtp::{SmtpAuth, SmtpConfig, SmtpTls};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tls::ExtraCa;
use webhook::{WebhookConfig, WebhookUrl};

/// `[smtp]` in `kizuki.toml`; the password may come from `KIZUKI_SMTP_PASSWORD` instead.
/// `Debug` hides the password.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSection {
    host: String,
    /// Default by `tls`: 587, 465 or 25.
    port: Option<u16>,
    /// `starttls` (default), `implicit` or `none`.
    tls: Option<String>,
    /// With `tls = "none"`: a relay on the internal network, not only on loopback.
    #[serde(default)]
    allow_plain: bool,
    ca_file: Option<PathBuf>,
    username: Option<String>,
    password: Option<String>,
    from: String,
    #[serde(default = "yes")]
    enabled: bool,
    helo: Option<String>,
}

impl std::fmt::Debug for SmtpSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSection")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field(
                "password",
                &self.password.as_ref().map(|_| "<set, not shown>"),
            )
            .finish_non_exhaustive()
    }
}

/// `[webhook]` in `kizuki.toml`; the secret may come from `KIZUKI_WEBHOOK_SECRET` instead.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSection {
    url: String,
    secret: Option<String>,
    /// Plain `http://` to a loopback or private address.
    #[serde(default)]
    allow_http: bool,
    ca_file: Option<PathBuf>,
    #[serde(default = "yes")]
    enabled: bool,
}

impl std::fmt::Debug for WebhookSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSection")
            .field("url", &self.url)
            .field("secret", &self.secret.as_ref().map(|_| "<set, not shown>"))
            .field("allow_http", &self.allow_http)
            .finish_non_exhaustive()
    }
}

/// `[reminders]` in `kizuki.toml`: `lead = "6h"`, `every = "5m"`, `overdue_window = "30d"`,
/// `max_attempts = 5`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemindersSection {
    lead: Option<String>,
    every: Option<String>,
    overdue_window: Option<String>,
    max_attempts: Option<u32>,
}

fn yes() -> bool {
    true
}

/// When reminders go out and how hard delivery tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReminderSettings {
    /// "Due soon" goes out this long before the deadline.
    pub lead: TimeDelta,
    /// "Overdue" goes out only while the deadline passed at most this long ago.
    pub overdue_window: TimeDelta,
    /// How often the loop in `serve` looks.
    pub every: Duration,
    /// Deliveries of one reminder before it is given up (and reported by `kizuki check`).
    pub max_attempts: u32,
    /// How long a claim keeps other nodes off while it is being delivered.
    pub lease: TimeDelta,
    /// The pause before the first retry of a failed reminder; it doubles with each attempt.
    pub retry: TimeDelta,
}

impl Default for ReminderSettings {
    fn default() -> Self {
        ReminderSettings {
            lead: TimeDelta::hours(6),
            overdue_window: TimeDelta::days(30),
            every: Duration::from_secs(300),
            max_attempts: 5,
            lease: TimeDelta::minutes(10),
            retry: TimeDelta::minutes(5),
        }
    }
}

/// Everything about reminders from the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NotifyConfig {
    /// The address people reach kizuki at, for links in reminders (`public_url`); `serve`
    /// falls back to its listening address.
    pub public_url: Option<String>,
    /// `None` when there is no `[smtp]` or it is not enabled.
    pub smtp: Option<SmtpConfig>,
    /// `None` when there is no `[webhook]` or it is not enabled.
    pub webhook: Option<WebhookConfig>,
    pub reminders: ReminderSettings,
}

/// `30s`, `5m`, `6h`, `7d`: one whole number and a unit; errors name `field`.
fn parse_duration(field: &str, s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n.parse().map_err(|_| {
        format!(
            "{field}: 「{s}」は期間として読めません（例: 6h） / '{s}' is not a duration like 6h"
        )
    })?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => {
            return Err(format!(
                "{field}: 「{s}」の単位は s、m、h、d のいずれかです / unit must be s, m, h or d"
            ));
        }
    };
    if secs == 0 {
        return Err(format!(
            "{field}: 0 は指定できません / must be more than zero"
        ));
    }
    Ok(Duration::from_secs(secs))
}

fn delta(field: &str, s: &str) -> Result<TimeDelta, String> {
    let d = parse_duration(field, s)?;
    TimeDelta::from_std(d).map_err(|_| format!("{field}: 「{s}」は長すぎます / too long"))
}

/// `ca_file` for `section`, relative to the data dir, read and checked now.
fn extra_ca(
    section: &str,
    path: Option<&Path>,
    data_dir: &Path,
) -> Result<Option<ExtraCa>, String> {
    path.map(|p| ExtraCa::load(&data_dir.join(p)).map_err(|e| format!("{section}.ca_file: {e}")))
        .transpose()
}

/// `[smtp]` checked: an address to send from, a mode with its port, plain SMTP only to an
/// internal relay, and a password only over TLS.
fn smtp_config(
    s: SmtpSection,
    data_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<SmtpConfig, String> {
    let from = Email::parse(&s.from).map_err(|e| {
        format!(
            "smtp.from: 「{}」はメールアドレスとして不正です / not an e-mail address: {e}",
            s.from
        )
    })?;
    let host = s.host.trim().to_owned();
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err("smtp.host: ホスト名を指定してください / give a host name".into());
    }
    let helo = s.helo.unwrap_or_else(|| "kizuki".into());
    if helo.is_empty() || !helo.chars().all(|c| c.is_ascii_graphic()) {
        return Err(
            "smtp.helo: 空白を含まない ASCII の名前にしてください / must be ASCII without spaces"
                .into(),
        );
    }
    let mode = match s.tls.as_deref() {
        None => SmtpTls::default(),
        Some(v) => SmtpTls::parse(v).ok_or_else(|| {
            format!(
                "smtp.tls: 「{v}」は starttls、implicit、none のいずれかです / must be starttls, implicit or none"
            )
        })?,
    };
    if mode == SmtpTls::None && !tls::is_loopback(&host) {
        if !s.allow_plain {
            return Err(format!(
                "smtp.tls: 暗号化なし（tls = \"none\"）で送れるのはループバック（localhost、127.0.0.1、::1）の中継だけです。社内ネットワークの中継なら allow_plain = true も指定してください / plain SMTP is for a relay on loopback; for one on the internal network ({host}) also set allow_plain = true"
            ));
        }
        if !tls::is_internal(&host) {
            return Err(format!(
                "smtp.allow_plain: 暗号化なしで送れるのは社内アドレス（{}）の中継だけです / plain SMTP only to a private address, not {host}",
                tls::INTERNAL_HOSTS
            ));
        }
    }
    let password = env("KIZUKI_SMTP_PASSWORD").or(s.password);
    let auth = match (s.username, password) {
        (None, None) => None,
        (Some(username), Some(password)) if !username.trim().is_empty() => Some(SmtpAuth {
            username: username.trim().to_owned(),
            password,
        }),
        (Some(_), None) => {
            return Err(
                "smtp.password: smtp.username があるのでパスワードを指定してください（または KIZUKI_SMTP_PASSWORD） / give the password (or KIZUKI_SMTP_PASSWORD)"
                    .into(),
            );
        }
        _ => {
            return Err(
                "smtp.username: パスワードがあるので利用者名を指定してください / give the user name the password belongs to"
                    .into(),
            );
        }
    };
    if auth.is_some() && mode == SmtpTls::None {
        return Err(
            "smtp.username: 暗号化なし（tls = \"none\"）ではパスワードを送りません。starttls か implicit にしてください / no AUTH over plain SMTP; use tls = \"starttls\" or \"implicit\""
                .into(),
        );
    }
    Ok(SmtpConfig {
        port: s.port.unwrap_or(mode.default_port()),
        host,
        tls: mode,
        ca: extra_ca("smtp", s.ca_file.as_deref(), data_dir)?,
        auth,
        from,
        helo,
        timeout: Duration::from_secs(30),
    })
}

/// `[webhook]` checked: an https:// URL (or an allowed internal http:// one) and a secret
/// long enough not to be guessed.
fn webhook_config(
    w: WebhookSection,
    data_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<WebhookConfig, String> {
    let url = WebhookUrl::parse(&w.url, w.allow_http).map_err(|e| format!("webhook.url: {e}"))?;
    let secret = env("KIZUKI_WEBHOOK_SECRET")
        .or(w.secret)
        .unwrap_or_default();
    // The secret is what receivers trust; a short one could be guessed.
    if secret.chars().count() < 16 {
        return Err(
            "webhook.secret: 16文字以上の秘密の値を指定してください（または KIZUKI_WEBHOOK_SECRET） / give a secret of at least 16 characters (or KIZUKI_WEBHOOK_SECRET)"
                .into(),
        );
    }
    Ok(WebhookConfig {
        url,
        secret,
        ca: extra_ca("webhook", w.ca_file.as_deref(), data_dir)?,
        attempts: 3,
        backoff: Duration::from_secs(2),
        timeout: Duration::from_secs(15),
    })
}

impl NotifyConfig {
    /// Checks the sections; errors name the section and field (`smtp.from`,
    /// `webhook.secret`, `reminders.lead`, …), Japanese first. A relative `ca_file` is
    /// read from `data_dir`, beside `kizuki.toml`.
    pub fn from_sections(
        public_url: Option<String>,
        smtp: Option<SmtpSection>,
        webhook: Option<WebhookSection>,
        reminders: Option<RemindersSection>,
        data_dir: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<NotifyConfig, String> {
        let public_url = public_url.or_else(|| env("KIZUKI_PUBLIC_URL"));
        if let Some(u) = &public_url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            return Err(format!(
                "public_url: 「{u}」は http:// か https:// で始めてください / must start with http:// or https://"
            ));
        }
        let r = reminders.unwrap_or_default();
        let mut settings = ReminderSettings::default();
        if let Some(s) = &r.lead {
            settings.lead = delta("reminders.lead", s)?;
        }
        if let Some(s) = &r.overdue_window {
            settings.overdue_window = delta("reminders.overdue_window", s)?;
        }
        if let Some(s) = &r.every {
            settings.every = parse_duration("reminders.every", s)?;
            if settings.every < Duration::from_secs(30) {
                return Err(
                    "reminders.every: 30秒以上にしてください / must be at least 30s".into(),
                );
            }
        }
        if let Some(n) = r.max_attempts {
            if n == 0 {
                return Err(
                    "reminders.max_attempts: 1以上にしてください / must be at least 1".into(),
                );
            }
            settings.max_attempts = n;
        }
        let smtp = match smtp {
            Some(s) if s.enabled => Some(smtp_config(s, data_dir, env)?),
            _ => None,
        };
        let webhook = match webhook {
            Some(w) if w.enabled => Some(webhook_config(w, data_dir, env)?),
            _ => None,
        };
        Ok(NotifyConfig {
            public_url,
            smtp,
            webhook,
            reminders: settings,
        })
    }

    pub fn is_enabled(&self) -> bool {
        self.smtp.is_some() || self.webhook.is_some()
    }
}

/// What one run did, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Reminders due and not yet sent.
    pub planned: usize,
    /// Delivered by this run.
    pub sent: usize,
    /// Claimed but not delivered (handed back for a later run).
    pub failed: usize,
    /// Held or given up elsewhere (another node, or too many attempts).
    pub not_claimed: usize,
}

/// Reports that may still owe a stage: new or triaged, not written up as a case.
async fn open_reports(app: &App) -> AppResult<Vec<Report>> {
    let mut out = Vec::new();
    for status in [ReportStatus::New, ReportStatus::Triaged] {
        let filter = ReportFilter {
            status: Some(status),
            ..ReportFilter::default()
        };
        let mut n = 1;
        loop {
            let page = app
                .store
                .list_reports(&filter, Page::new(n, Page::MAX_SIZE))
                .await?;
            let done = u64::from(n) >= page.pages();
            out.extend(page.items.into_iter().filter(owes_stages));
            if done {
                break;
            }
            n += 1;
        }
    }
    Ok(out)
}

/// A fresh claim token (random per attempt), shared by reminders and interview notices.
pub(crate) fn token(app: &App) -> String {
    let mut buf = [0u8; 16];
    app.fill_random(&mut buf);
    hex::encode(buf)
}

async fn deliver(
    cfg: &NotifyConfig,
    public_url: &str,
    p: &Planned,
    now: chrono::DateTime<chrono::Utc>,
    token: &str,
) -> Result<(), String> {
    match p.key.channel {
        ReminderChannel::MailOperator | ReminderChannel::MailCentre => {
            let Some(smtp) = &cfg.smtp else {
                return Err("SMTP が設定されていません / no SMTP configured".into());
            };
            let text = message::mail_text(p, now, public_url);
            let msg = smtp::build_message(&smtp.from, &p.to, &text.subject, &text.body, now, token)
                .map_err(|e| e.to_string())?;
            smtp::send(smtp, &msg).await.map_err(|e| e.to_string())
        }
        ReminderChannel::Webhook => {
            let Some(hook) = &cfg.webhook else {
                return Err("webhook が設定されていません / no webhook configured".into());
            };
            let event = message::webhook_event(p, now, public_url, token);
            let body = serde_json::to_vec(&event).map_err(|e| e.to_string())?;
            webhook::post(hook, &event.event, &body)
                .await
                .map_err(|e| e.to_string())
        }
    }
}

/// One pass: plan, claim, deliver, record. Store errors end the pass (the loop logs them
/// and tries again next time); delivery errors are per reminder and only logged.
pub async fn run_once(
    app: &App,
    cfg: &NotifyConfig,
    public_url: &str,
    policy: &DeadlinePolicy,
) -> AppResult<RunSummary> {
    let mut summary = RunSummary::default();
    if !cfg.is_enabled() {
        return Ok(summary);
    }
    let settings = &cfg.reminders;
    let clock = app.clock.as_ref();
    let candidates: Vec<Report> = open_reports(app)
        .await?
        .into_iter()
        .filter(|r| !plan::due_now(r, policy, clock, settings).is_empty())
        .collect();
    if candidates.is_empty() {
        return Ok(summary);
    }
    // Sent, given up, or held / waiting for its retry time: nothing to claim now. Leaving
    // them out saves a write per reminder per run; the claim itself is what guarantees once.
    let now = clock.now();
    let mut settled = HashSet::new();
    let mut attempts: HashMap<ReminderKey, u32> = HashMap::new();
    for r in &candidates {
        for rec in app.store.reminders_for(r.id).await? {
            if rec.sent_at.is_some()
                || rec.attempts >= settings.max_attempts
                || rec.lease_until > now
            {
                settled.insert(rec.key);
            }
            attempts.insert(rec.key, rec.attempts);
        }
    }
    let users = app.store.list_users().await?;
    let channels = Channels {
        mail: cfg.smtp.is_some(),
        webhook: cfg.webhook.is_some(),
    };
    let planned = plan::plan(
        &candidates,
        &users,
        policy,
        clock,
        settings,
        channels,
        &settled,
    );
    summary.planned = planned.len();
    for p in planned {
        let now = clock.now();
        let token = token(app);
        let claim = ReminderClaim {
            key: p.key,
            token: token.clone(),
            now,
            lease_until: now + settings.lease,
            max_attempts: settings.max_attempts,
        };
        if !app.store.claim_reminder(&claim).await? {
            summary.not_claimed += 1;
            continue;
        }
        let key = p.key;
        match deliver(cfg, public_url, &p, now, &token).await {
            Ok(()) => {
                if app.store.reminder_sent(&key, &token, clock.now()).await? {
                    summary.sent += 1;
                    tracing::info!(report = %key.report, stage = key.stage.code(),
                        kind = key.kind.code(), channel = key.channel.code(), "reminder sent");
                } else {
                    // The lease ran out mid-delivery and another node took over; it may send
                    // again. A longer lease (or a faster relay) avoids this.
                    tracing::warn!(report = %key.report, "reminder delivered after its lease ran out");
                    summary.sent += 1;
                }
            }
            Err(e) => {
                summary.failed += 1;
                let tried = attempts.get(&key).copied().unwrap_or(0) + 1;
                let factor = 1i32 << tried.saturating_sub(1).min(10);
                let retry_at = clock.now() + settings.retry * factor;
                tracing::warn!(report = %key.report, stage = key.stage.code(),
                    kind = key.kind.code(), channel = key.channel.code(), attempt = tried,
                    error = %e, "reminder not delivered; will retry");
                app.store
                    .release_reminder(&key, &token, retry_at, &e)
                    .await?;
            }
        }
    }
    Ok(summary)
}

/// Runs [`run_once`] now and then every `cfg.reminders.every` until `shutdown` changes.
/// Errors are logged; the loop goes on.
pub async fn run_loop(
    app: App,
    cfg: NotifyConfig,
    public_url: String,
    policy: DeadlinePolicy,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    if !cfg.is_enabled() {
        return;
    }
    loop {
        match run_once(&app, &cfg, &public_url, &policy).await {
            Ok(s) if s.planned > 0 => tracing::info!(?s, "reminder run"),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "reminder run failed"),
        }
        // Interview requests and written questions' deadlines go the same way.
        match crate::interviews::notices::run_once(&app, &cfg, &public_url).await {
            Ok(s) if s.planned > 0 => tracing::info!(?s, "interview notice run"),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "interview notice run failed"),
        }
        // So do countermeasure follow-up items' due dates.
        match crate::followups::run_once(&app, &cfg, &public_url).await {
            Ok(s) if s.planned > 0 => tracing::info!(?s, "follow-up reminder run"),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "follow-up reminder run failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(cfg.reminders.every) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Reminders given up after `max_attempts` (`[reminders] max_attempts`, the limit the
/// delivery loop stops at), for `kizuki check`: a deadline nobody was told about is worth a
/// look at the relay or the receiver.
pub async fn problems(app: &App, max_attempts: u32) -> AppResult<Vec<kizuki_store::Problem>> {
    Ok(app
        .store
        .failed_reminders(max_attempts)
        .await?
        .into_iter()
        .map(|r| kizuki_store::Problem {
            what: format!(
                "報告番号 {} の{}（{}、{}）のリマインダーを {} 回送れませんでした / reminder not delivered after {} attempts: {}",
                r.key.report,
                r.key.stage.label_ja(),
                r.key.kind.code(),
                r.key.channel.code(),
                r.attempts,
                r.attempts,
                r.last_error.unwrap_or_default()
            ),
            fix: "kizuki.toml の [smtp] / [webhook] と中継先を確認してください（期限は報告ページで確認できます） / check [smtp] / [webhook] and the relay or receiver".into(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::smtp::SmtpTls;
    use crate::config::{Config, Overrides};

    fn load(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, String> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("kizuki.toml"), text).unwrap();
        Config::load(dir.path(), &Overrides::default(), env).map_err(|e| e.to_string())
    }

    const FULL: &str = r#"
public_url = "https://kizuki.example.jp"
[smtp]
host = "127.0.0.1"
port = 2525
from = "kizuki@centre.example.jp"
[webhook]
url = "http://127.0.0.1:9000/hooks"
allow_http = true
secret = "0123456789abcdef-file"
[reminders]
lead = "12h"
every = "2m"
overdue_window = "7d"
max_attempts = 3
"#;

    #[test]
    fn sections_are_read_and_the_secret_is_not_printed() {
        let c = load(FULL, &|_| None).unwrap();
        let n = &c.notify;
        assert_eq!(n.public_url.as_deref(), Some("https://kizuki.example.jp"));
        let smtp = n.smtp.as_ref().unwrap();
        assert_eq!((smtp.host.as_str(), smtp.port), ("127.0.0.1", 2525));
        assert_eq!(smtp.tls, SmtpTls::StartTls);
        assert!(smtp.auth.is_none() && smtp.ca.is_none());
        assert_eq!(smtp.from.as_str(), "kizuki@centre.example.jp");
        let hook = n.webhook.as_ref().unwrap();
        assert_eq!(hook.url.to_string(), "http://127.0.0.1:9000/hooks");
        assert_eq!(hook.secret, "0123456789abcdef-file");
        assert_eq!(n.reminders.lead, chrono::TimeDelta::hours(12));
        assert_eq!(n.reminders.every.as_secs(), 120);
        assert_eq!(n.reminders.overdue_window, chrono::TimeDelta::days(7));
        assert_eq!(n.reminders.max_attempts, 3);
        assert!(!format!("{c:?}").contains("0123456789abcdef"));
        // The environment's secret wins, so the file need not hold it.
        let env = |k: &str| (k == "KIZUKI_WEBHOOK_SECRET").then(|| "from-the-environment!".into());
        let c = load(FULL, &env).unwrap();
        assert_eq!(c.notify.webhook.unwrap().secret, "from-the-environment!");
    }

    #[test]
    fn nothing_configured_means_no_reminders() {
        let c = load("", &|_| None).unwrap();
        assert!(!c.notify.is_enabled());
        let off = FULL.replace("port = 2525", "port = 2525\nenabled = false");
        let c = load(&off, &|_| None).unwrap();
        assert!(c.notify.smtp.is_none() && c.notify.webhook.is_some());
    }

    #[test]
    fn bad_values_name_their_field() {
        let cases = [
            (
                "url = \"http://127.0.0.1:9000/hooks\"",
                "url = \"http://hooks.example.jp/\"",
                "webhook.url",
            ),
            ("allow_http = true", "allow_http = false", "webhook.url"),
            ("port = 2525", "port = 2525\ntls = \"ssl\"", "smtp.tls"),
            (
                "port = 2525",
                "port = 2525\nca_file = \"missing-ca.pem\"",
                "smtp.ca_file",
            ),
            (
                "allow_http = true",
                "allow_http = true\nca_file = \"missing-ca.pem\"",
                "webhook.ca_file",
            ),
            (
                "secret = \"0123456789abcdef-file\"",
                "secret = \"short\"",
                "webhook.secret",
            ),
            (
                "from = \"kizuki@centre.example.jp\"",
                "from = \"not an address\"",
                "smtp.from",
            ),
            ("lead = \"12h\"", "lead = \"12 weeks\"", "reminders.lead"),
            ("every = \"2m\"", "every = \"5s\"", "reminders.every"),
            (
                "max_attempts = 3",
                "max_attempts = 0",
                "reminders.max_attempts",
            ),
            (
                "public_url = \"https://kizuki.example.jp\"",
                "public_url = \"kizuki.example.jp\"",
                "public_url",
            ),
        ];
        for (from, to, field) in cases {
            let err = load(&FULL.replace(from, to), &|_| None).unwrap_err();
            assert!(err.contains(field), "{field}: {err}");
            assert!(err.contains("kizuki.toml"), "{err}");
        }
    }

    fn smtp(
        lines: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<super::SmtpConfig, String> {
        let text = format!("[smtp]\nfrom = \"kizuki@centre.example.jp\"\n{lines}\n");
        load(&text, env).map(|c| c.notify.smtp.unwrap())
    }

    #[test]
    fn smtp_modes_ports_and_plain_only_inside() {
        let none = &|_: &str| None;
        let c = smtp("host = \"smtp.example.jp\"", none).unwrap();
        assert_eq!((c.tls, c.port), (SmtpTls::StartTls, 587));
        let c = smtp("host = \"smtp.example.jp\"\ntls = \"implicit\"", none).unwrap();
        assert_eq!((c.tls, c.port), (SmtpTls::Implicit, 465));
        let c = smtp("host = \"localhost\"\ntls = \"none\"", none).unwrap();
        assert_eq!((c.tls, c.port), (SmtpTls::None, 25));
        let c = smtp("host = \"::1\"\ntls = \"none\"\nport = 2525", none).unwrap();
        assert_eq!(c.port, 2525);
        // Plain to the internal network only when acknowledged; never to the outside.
        let e = smtp("host = \"10.0.0.25\"\ntls = \"none\"", none).unwrap_err();
        assert!(e.contains("smtp.tls") && e.contains("allow_plain"), "{e}");
        let c = smtp(
            "host = \"10.0.0.25\"\ntls = \"none\"\nallow_plain = true",
            none,
        )
        .unwrap();
        assert_eq!(c.tls, SmtpTls::None);
        let e = smtp(
            "host = \"smtp.example.jp\"\ntls = \"none\"\nallow_plain = true",
            none,
        )
        .unwrap_err();
        assert!(e.contains("smtp.allow_plain"), "{e}");
    }

    #[test]
    fn smtp_auth_takes_the_password_from_the_environment_and_never_shows_it() {
        let none = &|_: &str| None;
        let host = "host = \"smtp.example.jp\"\nusername = \"kizuki\"";
        let c = smtp(&format!("{host}\npassword = \"file-password\""), none).unwrap();
        let auth = c.auth.unwrap();
        assert_eq!(
            (auth.username.as_str(), auth.password.as_str()),
            ("kizuki", "file-password")
        );
        let env = |k: &str| (k == "KIZUKI_SMTP_PASSWORD").then(|| "env-password".to_owned());
        let text = format!(
            "[smtp]\nfrom = \"kizuki@centre.example.jp\"\n{host}\npassword = \"file-password\"\n"
        );
        let config = load(&text, &env).unwrap();
        assert_eq!(
            config
                .notify
                .smtp
                .as_ref()
                .unwrap()
                .auth
                .as_ref()
                .unwrap()
                .password,
            "env-password"
        );
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("env-password") && !shown.contains("file-password"),
            "{shown}"
        );
        let e = smtp(host, none).unwrap_err();
        assert!(
            e.contains("smtp.password") && e.contains("KIZUKI_SMTP_PASSWORD"),
            "{e}"
        );
        let e = smtp("host = \"smtp.example.jp\"\npassword = \"p\"", none).unwrap_err();
        assert!(e.contains("smtp.username"), "{e}");
        let e = smtp(
            "host = \"127.0.0.1\"\ntls = \"none\"\nusername = \"u\"\npassword = \"p\"",
            none,
        )
        .unwrap_err();
        assert!(e.contains("smtp.username") && e.contains("tls"), "{e}");
    }
}
