//! The audit log as a service: seals events onto the chain kept in the store (retrying when
//! another writer appended first), records reads of restricted reports, and verifies the
//! whole chain for `kizuki audit verify` and the admin's audit page.

use crate::App;
use crate::auth::{self, Principal};
use crate::error::{AppError, AppResult};
use crate::security::audit::{
    self, AuditEntry, AuditEvent, BrokenAt, ChainSummary, actions, actor_user,
};
use kizuki_domain::access::{Action, Resource};
use kizuki_domain::report::Report;
use kizuki_domain::taxonomy::Tlp;
use kizuki_store::{AuditQuery, AuditRecord, StoreError};

/// How often to re-seal when other writers keep appending first; each retry re-reads the
/// head, so only a very busy log needs more than one.
const RETRIES: usize = 16;

fn to_record(e: AuditEntry) -> AuditRecord {
    AuditRecord {
        seq: e.seq,
        at: e.at,
        actor: e.actor,
        action: e.action,
        target: e.target,
        detail: e.detail,
        prev_hash: e.prev_hash,
        hash: e.hash,
    }
}

fn from_record(r: AuditRecord) -> AuditEntry {
    AuditEntry {
        seq: r.seq,
        at: r.at,
        actor: r.actor,
        action: r.action,
        target: r.target,
        detail: r.detail,
        prev_hash: r.prev_hash,
        hash: r.hash,
    }
}

/// Appends `event` to the chain and returns the stored entry.
pub async fn record(app: &App, event: AuditEvent) -> AppResult<AuditEntry> {
    for _ in 0..RETRIES {
        let head = app.store.audit_head().await?.map(from_record);
        let entry = audit::seal(head.as_ref(), event.clone());
        match app.store.audit_insert(to_record(entry.clone())).await {
            Ok(()) => return Ok(entry),
            Err(StoreError::Duplicate { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Internal(
        "audit log: too many concurrent writers".into(),
    ))
}

/// Records an event now, as `actor`. A failure to write the trail is logged and returned.
/// Records a change by `user` to `target` (`report:12`, `case:3`) with the record before and
/// after, as the audit log keeps every change.
pub async fn change(
    app: &App,
    user: kizuki_domain::ids::UserId,
    target: impl Into<String>,
    before: serde_json::Value,
    after: serde_json::Value,
) -> AppResult<AuditEntry> {
    note(
        app,
        crate::security::audit::actor_user(user),
        crate::security::audit::actions::CHANGE,
        target,
        &serde_json::json!({"before": before, "after": after}),
    )
    .await
}

pub async fn note(
    app: &App,
    actor: impl Into<String>,
    action: &str,
    target: impl Into<String>,
    detail: &serde_json::Value,
) -> AppResult<AuditEntry> {
    let ev = AuditEvent::new(app.clock.now(), actor, action, target, detail);
    let out = record(app, ev).await;
    if let Err(e) = &out {
        tracing::error!(error = %e, action, "audit entry could not be written");
    }
    out
}

/// Whether reading a report with this label is recorded (TLP:AMBER, AMBER+STRICT, RED).
pub fn read_is_audited(tlp: Tlp) -> bool {
    matches!(tlp, Tlp::Amber | Tlp::AmberStrict | Tlp::Red)
}

/// Records that `p` read `r`, when its label calls for it; called by
/// [`crate::reports::read`], the one read of record.
pub(crate) async fn record_read(app: &App, p: &Principal, r: &Report, via: &str) -> AppResult<()> {
    if read_is_audited(r.details.tlp) {
        note(
            app,
            actor_user(p.user_id),
            actions::READ,
            format!("report:{}", r.id),
            &serde_json::json!({"tlp": r.details.tlp.code(), "via": via}),
        )
        .await?;
    }
    Ok(())
}

/// Every entry, oldest first.
pub async fn all_entries(app: &App) -> AppResult<Vec<AuditEntry>> {
    const PAGE: usize = 1000;
    let mut out: Vec<AuditEntry> = Vec::new();
    let mut from = 0u64;
    loop {
        let batch = app.store.audit_range(from, PAGE).await?;
        let n = batch.len();
        if let Some(last) = batch.last() {
            from = last.seq + 1;
        }
        out.extend(batch.into_iter().map(from_record));
        if n < PAGE {
            return Ok(out);
        }
    }
}

/// Verifies the whole chain as stored.
pub async fn verify(app: &App) -> AppResult<Result<ChainSummary, BrokenAt>> {
    Ok(audit::verify_chain(&all_entries(app).await?))
}

/// The newest entries matching `query`, for the admin's audit page; "not found" for anyone
/// `access::decide` does not let read the audit log.
pub async fn search(app: &App, p: &Principal, query: &AuditQuery) -> AppResult<Vec<AuditEntry>> {
    auth::require_found(app, p, Action::Read, &Resource::AuditLog, "page", "audit").await?;
    Ok(app
        .store
        .audit_query(query)
        .await?
        .into_iter()
        .map(from_record)
        .collect())
}

// Audit retention and export.

/// The shortest retention accepted without `force = true`: a year, so a fiscal year's
/// incidents can still be traced back when the annual survey looks at them.
pub const MIN_KEEP_DAYS: i64 = 365;
/// The default: a year and a month, so the whole of last fiscal year is still there when the
/// survey of it runs in the spring.
pub const DEFAULT_KEEP_DAYS: i64 = 400;

/// `[audit]` in kizuki.toml: `keep = "400d"` (days, weeks or years: `"400d"`, `"60w"`,
/// `"2y"`), and `force = true` to accept less than a year.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSection {
    pub keep: Option<String>,
    #[serde(default)]
    pub force: bool,
}

/// How long audit entries are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditRetention {
    pub keep_days: i64,
}

impl Default for AuditRetention {
    fn default() -> Self {
        AuditRetention {
            keep_days: DEFAULT_KEEP_DAYS,
        }
    }
}

impl AuditRetention {
    pub fn keep(&self) -> chrono::Duration {
        chrono::Duration::days(self.keep_days)
    }
}

/// Reads a retention period: a whole number of days (`d`), weeks (`w`) or years (`y`, 365
/// days). Errors say what was wrong in both languages.
pub fn parse_keep(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(|| {
        format!("「{t}」に単位（d, w, y）を付けてください / '{t}' needs a unit: d, w or y (e.g. \"400d\")")
    })?;
    let (n, unit) = t.split_at(split);
    let n: i64 = n.parse().map_err(|_| {
        format!(
            "「{t}」は数字で始めてください / '{t}' must start with a whole number (e.g. \"400d\")"
        )
    })?;
    let days = match unit {
        "d" => n,
        "w" => n.saturating_mul(7),
        "y" => n.saturating_mul(365),
        _ => {
            return Err(format!(
                "「{t}」の単位は d, w, y のいずれかです / '{t}': the unit must be d, w or y"
            ));
        }
    };
    if days < 1 {
        return Err(format!(
            "「{t}」は1日以上にしてください / '{t}' must be at least a day"
        ));
    }
    Ok(days)
}

impl AuditSection {
    /// The retention this section asks for; less than [`MIN_KEEP_DAYS`] is refused unless
    /// `force = true`, since a short audit trail is the reference's case 7.
    pub fn retention(&self) -> Result<AuditRetention, String> {
        let Some(keep) = &self.keep else {
            return Ok(AuditRetention::default());
        };
        let keep_days = parse_keep(keep).map_err(|e| format!("audit.keep: {e}"))?;
        if keep_days < MIN_KEEP_DAYS && !self.force {
            return Err(format!(
                "audit.keep: {keep_days}日は短すぎます（{MIN_KEEP_DAYS}日以上、または force = true） / \
                 {keep_days} days is shorter than a year; keep at least {MIN_KEEP_DAYS} days or set \
                 force = true in [audit]"
            ));
        }
        Ok(AuditRetention { keep_days })
    }
}

/// What a purge did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purged {
    /// Every entry up to and including this seq was deleted.
    pub through: u64,
    pub deleted: usize,
    /// The checkpoint appended first, which now anchors the chain.
    pub checkpoint: AuditEntry,
}

/// Deletes entries older than `keep`, behind a checkpoint appended in the same transaction,
/// so the shortened chain still verifies. `None` when nothing is old enough. Refuses to
/// purge a chain that does not verify: deleting would destroy the evidence.
pub async fn purge(app: &App, keep: chrono::Duration) -> AppResult<Option<Purged>> {
    for _ in 0..RETRIES {
        let entries = all_entries(app).await?;
        if let Err(broken) = audit::verify_chain(&entries) {
            return Err(AppError::Refused(format!(
                "{broken}; nothing purged (監査ログが検証できないため削除しません)"
            )));
        }
        let now = app.clock.now();
        let Some((through, event)) = audit::plan_purge(&entries, now - keep, now) else {
            return Ok(None);
        };
        let deleted = entries.iter().take_while(|e| e.seq <= through).count();
        let checkpoint = audit::seal(entries.last(), event);
        match app
            .store
            .audit_purge(to_record(checkpoint.clone()), through)
            .await
        {
            Ok(()) => {
                return Ok(Some(Purged {
                    through,
                    deleted,
                    checkpoint,
                }));
            }
            // Someone appended between our read and the purge: plan again on the new head.
            Err(StoreError::Duplicate { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Internal(
        "audit purge: too many concurrent writers".into(),
    ))
}

/// Runs [`purge`] at start and then once a day until `shutdown` changes (inside `serve`).
pub async fn run_retention(
    app: App,
    retention: AuditRetention,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    const DAY: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
    loop {
        match purge(&app, retention.keep()).await {
            Ok(Some(p)) => tracing::info!(
                through = p.through,
                deleted = p.deleted,
                checkpoint = p.checkpoint.seq,
                "audit retention: old entries purged behind a checkpoint"
            ),
            Ok(None) => tracing::debug!("audit retention: nothing old enough to purge"),
            Err(e) => tracing::error!(error = %e, "audit retention failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(DAY) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    pub entries: usize,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    /// The hash of the last entry written, to compare with a head kept elsewhere.
    pub last_hash: Option<String>,
}

/// Writes the entries whose day in Japan falls in `from..=to` as JSON Lines, one entry a
/// line with its `prev_hash` and `hash`, so the file verifies on its own
/// ([`verify_lines`]). The run is contiguous by seq: from the first entry on or after `from`
/// to the last on or before `to`.
pub async fn export(
    app: &App,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    out: &mut dyn std::io::Write,
) -> AppResult<Exported> {
    if to < from {
        return Err(AppError::Refused(format!(
            "--to {to} は --from {from} より前です / --to is before --from"
        )));
    }
    let entries = all_entries(app).await?;
    write_run(&entries, from, to, out)
}

/// The contiguous run of `entries` from the first on or after day `from` to the last on or
/// before day `to` (Japan time), written as JSON Lines.
fn write_run(
    entries: &[AuditEntry],
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    out: &mut dyn std::io::Write,
) -> AppResult<Exported> {
    use kizuki_domain::clock::jst_date;
    let start = entries.iter().position(|e| jst_date(e.at) >= from);
    let end = entries.iter().rposition(|e| jst_date(e.at) <= to);
    let run = match (start, end) {
        (Some(s), Some(e)) if s <= e => &entries[s..=e],
        _ => &entries[..0],
    };
    for e in run {
        writeln!(out, "{}", e.to_json_line()).map_err(|err| AppError::io("audit export", err))?;
    }
    out.flush()
        .map_err(|err| AppError::io("audit export", err))?;
    Ok(Exported {
        entries: run.len(),
        first_seq: run.first().map(|e| e.seq),
        last_seq: run.last().map(|e| e.seq),
        last_hash: run.last().map(|e| e.hash.clone()),
    })
}

/// A problem reading an export file, naming the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

/// Reads an export (JSON Lines; blank lines skipped) back into entries.
pub fn parse_lines(text: &str) -> Result<Vec<AuditEntry>, LineError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str::<AuditEntry>(l).map_err(|e| LineError {
                line: i + 1,
                message: format!("not an audit entry ({e})"),
            })
        })
        .collect()
}

/// Verifies an export on its own: readable, and a contiguous, intact, linked run.
pub fn verify_lines(text: &str) -> Result<Result<ChainSummary, BrokenAt>, LineError> {
    Ok(audit::verify_segment(&parse_lines(text)?))
}

/// [`export`] for the admin's audit page: the JSON Lines of `from..=to` (dates as typed, 和暦
/// or ISO; errors name `from` and `to`), itself recorded in the log. "Not found" for anyone
/// who may not read the audit log.
pub async fn export_as(
    app: &App,
    p: &Principal,
    from: &str,
    to: &str,
) -> AppResult<(Vec<u8>, Exported)> {
    auth::require_found(app, p, Action::Read, &Resource::AuditLog, "page", "audit").await?;
    let mut errs = kizuki_domain::ValidationErrors::default();
    let mut day = |field: &str, s: &str| match kizuki_domain::wareki::parse_date_strict(s.trim()) {
        Ok(d) => Some(d),
        Err(_) => {
            errs.push(kizuki_domain::FieldError::invalid(
                field,
                format!("日付「{s}」が読めません / not a date"),
            ));
            None
        }
    };
    let (from, to) = (day("from", from), day("to", to));
    let (Some(from), Some(to)) = (from, to) else {
        return Err(errs.into());
    };
    if to < from {
        return Err(kizuki_domain::FieldError::invalid(
            "to",
            "終わりの日が始まりの日より前です / the end is before the start",
        )
        .into());
    }
    let entries = all_entries(app).await?;
    let mut out = Vec::new();
    let done = write_run(&entries, from, to, &mut out)?;
    note(
        app,
        crate::security::audit::actor_user(p.user_id),
        actions::EXPORT,
        "audit",
        &serde_json::json!({"from": from, "to": to, "entries": done.entries}),
    )
    .await?;
    Ok((out, done))
}

#[cfg(test)]
mod retention_tests {
    use super::*;

    #[test]
    fn keep_periods() {
        assert_eq!(parse_keep("400d").unwrap(), 400);
        assert_eq!(parse_keep("60w").unwrap(), 420);
        assert_eq!(parse_keep("2y").unwrap(), 730);
        for bad in ["400", "d", "12m", "0d", "-3d"] {
            assert!(parse_keep(bad).is_err(), "{bad}");
        }
        let s = |keep: &str, force| AuditSection {
            keep: Some(keep.into()),
            force,
        };
        assert_eq!(AuditSection::default().retention().unwrap().keep_days, 400);
        assert_eq!(s("365d", false).retention().unwrap().keep_days, 365);
        let err = s("90d", false).retention().unwrap_err();
        assert!(err.contains("audit.keep") && err.contains("force"), "{err}");
        assert_eq!(s("90d", true).retention().unwrap().keep_days, 90);
    }

    #[tokio::test]
    async fn purge_keeps_the_chain_verifiable_and_exports_show_tampering() {
        let start = crate::test_support::at("2024-04-01T09:00:00+09:00");
        let (app, t) = crate::test_support::empty("2024-04-01T09:00:00+09:00", 1).await;
        let clock = &t.clock;
        // One entry a day for 30 days.
        for i in 0..30 {
            note(
                &app,
                "user:1",
                audit::actions::READ,
                format!("report:{i}"),
                &serde_json::json!({}),
            )
            .await
            .unwrap();
            clock.advance(chrono::Duration::days(1));
        }
        assert!(
            purge(&app, chrono::Duration::days(40))
                .await
                .unwrap()
                .is_none()
        );
        // Keep 10 days: the first 20 entries (days 0..=19) go, a checkpoint follows.
        let p = purge(&app, chrono::Duration::days(10))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((p.through, p.deleted), (20, 20));
        assert_eq!(p.checkpoint.seq, 31);
        let s = verify(&app).await.unwrap().unwrap();
        assert_eq!(
            (s.first_seq, s.last_seq, s.entries),
            (Some(21), Some(31), 11)
        );
        // Appending after a purge and purging again still verifies.
        note(
            &app,
            "user:1",
            audit::actions::READ,
            "report:x",
            &serde_json::json!({}),
        )
        .await
        .unwrap();
        clock.advance(chrono::Duration::days(5));
        assert!(
            purge(&app, chrono::Duration::days(10))
                .await
                .unwrap()
                .is_some()
        );
        assert!(verify(&app).await.unwrap().is_ok());

        // Export everything still there, verify it alone, then tamper with it.
        let mut out = Vec::new();
        let from = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        let to = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
        let x = export(&app, from, to, &mut out).await.unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), x.entries);
        let s = verify_lines(&text).unwrap().unwrap();
        assert_eq!(Some(s.head_hash), x.last_hash);
        let tampered = text.replacen("report:27", "report:99", 1);
        assert_ne!(tampered, text);
        let broken = verify_lines(&tampered).unwrap().unwrap_err();
        assert_eq!(broken.problem, audit::Break::Altered);
        let mut lines: Vec<&str> = text.lines().collect();
        lines.remove(2);
        let broken = verify_lines(&lines.join("\n")).unwrap().unwrap_err();
        assert_eq!(broken.problem, audit::Break::Sequence);
        // A date range exports only its days.
        let mut out = Vec::new();
        let day = kizuki_domain::clock::jst_date(start + chrono::Duration::days(25));
        let x = export(&app, day, day, &mut out).await.unwrap();
        assert_eq!(x.entries, 1);
    }

    #[test]
    fn export_lines_name_the_bad_line() {
        let err = parse_lines("\n{\"seq\":1}\n").unwrap_err();
        assert_eq!(err.line, 2);
    }
}
