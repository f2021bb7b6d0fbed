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

/// Records that `p` read `r`, when its label calls for it.
pub async fn record_read(app: &App, p: &Principal, r: &Report, via: &str) -> AppResult<()> {
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
