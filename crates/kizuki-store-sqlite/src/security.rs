//! SQLite side of the security records: audit log, MFA, recovery codes, IP
//! allowlists and report sharing.

use async_trait::async_trait;
use kizuki_store::prelude::*;

use crate::codec::{time_from, time_to};
use crate::{SqliteStore, db_err};
use chrono::{DateTime, Utc};
use kizuki_domain::ids::{OrgId, ReportId, UserId};
use kizuki_domain::report::Report;
use kizuki_store::{
    AuditQuery, AuditRecord, MfaRecord, OrgAllowlist, ReportSharing, SecretSlot, StoreError,
    StoreResult, StoredSecret,
};
use rusqlite::{OptionalExtension, Transaction, params};

const AUDIT_COLS: &str = "seq, at, actor, action, target, detail, prev_hash, hash";

fn seq_to_sql(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

fn audit_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRecord> {
    let seq: i64 = r.get(0)?;
    Ok(AuditRecord {
        seq: u64::try_from(seq).unwrap_or(0),
        at: time_from(&r.get::<_, String>(1)?)?,
        actor: r.get(2)?,
        action: r.get(3)?,
        target: r.get(4)?,
        detail: r.get(5)?,
        prev_hash: r.get(6)?,
        hash: r.get(7)?,
    })
}

/// The chain triggers answer with an abort; a caller can act on that only as "someone else
/// appended first", so it becomes a duplicate.
fn audit_err(e: rusqlite::Error) -> StoreError {
    match db_err(e) {
        StoreError::Invalid(m) if m.contains("audit chain") => StoreError::Duplicate {
            what: "audit entry".into(),
        },
        StoreError::Duplicate { .. } => StoreError::Duplicate {
            what: "audit entry".into(),
        },
        other => other,
    }
}

fn insert_audit(tx: &Transaction<'_>, e: &AuditRecord) -> StoreResult<()> {
    tx.execute(
        &format!("INSERT INTO audit_log ({AUDIT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
        params![
            seq_to_sql(e.seq),
            time_to(e.at),
            e.actor,
            e.action,
            e.target,
            e.detail,
            e.prev_hash,
            e.hash
        ],
    )
    .map_err(audit_err)?;
    Ok(())
}

fn mfa_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MfaRecord> {
    Ok(MfaRecord {
        user_id: UserId(r.get(0)?),
        secret: r.get(1)?,
        created_at: time_from(&r.get::<_, String>(2)?)?,
        confirmed_at: r
            .get::<_, Option<String>>(3)?
            .map(|s| time_from(&s))
            .transpose()?,
        last_step: r
            .get::<_, Option<i64>>(4)?
            .and_then(|v| u64::try_from(v).ok()),
    })
}

pub(crate) fn load_allowlist(c: &rusqlite::Connection, org: OrgId) -> StoreResult<OrgAllowlist> {
    // Cached statement: every API call reads the allowlist, so preparing it once matters.
    let row = c
        .prepare_cached(
            "SELECT entries, version, updated_at, updated_by FROM org_allowlists
             WHERE org_id = ?1",
        )
        .map_err(db_err)?
        .query_row([org.0], |r| {
            Ok(OrgAllowlist {
                org_id: org,
                entries: r.get(0)?,
                version: r.get(1)?,
                updated_at: Some(time_from(&r.get::<_, String>(2)?)?),
                updated_by: r.get::<_, Option<i64>>(3)?.map(UserId),
            })
        })
        .optional()
        .map_err(db_err)?;
    Ok(row.unwrap_or(OrgAllowlist {
        org_id: org,
        entries: String::new(),
        version: 0,
        updated_at: None,
        updated_by: None,
    }))
}

/// The organisations and people a report is shared with, none for an unknown report.
fn sharing_of(c: &rusqlite::Connection, id: ReportId) -> StoreResult<ReportSharing> {
    let orgs = c
        .prepare_cached("SELECT org_id FROM report_shares WHERE report_id = ?1 ORDER BY org_id")
        .and_then(|mut st| {
            st.query_map([id.0], |r| r.get(0).map(OrgId))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(db_err)?;
    let users = c
        .prepare_cached(
            "SELECT user_id FROM report_recipients WHERE report_id = ?1 ORDER BY user_id",
        )
        .and_then(|mut st| {
            st.query_map([id.0], |r| r.get(0).map(UserId))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(db_err)?;
    Ok(ReportSharing { orgs, users })
}

pub(crate) fn org_exists(c: &rusqlite::Connection, org: OrgId) -> StoreResult<()> {
    let found: Option<i64> = c
        .prepare_cached("SELECT id FROM organisations WHERE id = ?1")
        .map_err(db_err)?
        .query_row([org.0], |r| r.get(0))
        .optional()
        .map_err(db_err)?;
    found
        .map(|_| ())
        .ok_or_else(|| StoreError::not_found("organisation", org))
}

#[async_trait]
impl SecurityStore for SqliteStore {
    async fn audit_head(&self) -> StoreResult<Option<kizuki_store::AuditRecord>> {
        self.read(|c| {
            c.query_row(
                &format!("SELECT {AUDIT_COLS} FROM audit_log ORDER BY seq DESC LIMIT 1"),
                [],
                audit_row,
            )
            .optional()
        })
        .await
    }

    async fn audit_insert(&self, entry: kizuki_store::AuditRecord) -> StoreResult<()> {
        self.write(move |tx| insert_audit(tx, &entry)).await
    }

    async fn audit_range(
        &self,
        from_seq: u64,
        limit: usize,
    ) -> StoreResult<Vec<kizuki_store::AuditRecord>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |c| {
            let mut st = c.prepare(&format!(
                "SELECT {AUDIT_COLS} FROM audit_log WHERE seq >= ?1 ORDER BY seq LIMIT ?2"
            ))?;
            st.query_map(params![seq_to_sql(from_seq), limit], audit_row)?
                .collect()
        })
        .await
    }

    async fn audit_query(
        &self,
        query: &kizuki_store::AuditQuery,
    ) -> StoreResult<Vec<kizuki_store::AuditRecord>> {
        let q: &AuditQuery = query;
        let q = q.clone();
        self.read(move |c| {
            let limit = i64::try_from(q.limit.max(1)).unwrap_or(i64::MAX);
            let mut st = c.prepare(&format!(
                "SELECT {AUDIT_COLS} FROM audit_log
                 WHERE (?1 IS NULL OR actor = ?1) AND (?2 IS NULL OR action = ?2)
                   AND (?3 IS NULL OR target = ?3) AND (?4 IS NULL OR seq < ?4)
                 ORDER BY seq DESC LIMIT ?5"
            ))?;
            st.query_map(
                params![
                    q.actor,
                    q.action,
                    q.target,
                    q.before_seq.map(seq_to_sql),
                    limit
                ],
                audit_row,
            )?
            .collect()
        })
        .await
    }

    async fn audit_purge(
        &self,
        checkpoint: kizuki_store::AuditRecord,
        through: u64,
    ) -> StoreResult<()> {
        self.write(move |tx| {
            insert_audit(tx, &checkpoint)?;
            // The delete trigger refuses any entry the checkpoint does not cover.
            tx.execute(
                "DELETE FROM audit_log WHERE seq <= ?1",
                [seq_to_sql(through)],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn mfa(&self, user: UserId) -> StoreResult<Option<kizuki_store::MfaRecord>> {
        self.read(move |c| {
            c.query_row(
                "SELECT user_id, secret, created_at, confirmed_at, last_step FROM user_mfa
                 WHERE user_id = ?1",
                [user.0],
                mfa_row,
            )
            .optional()
        })
        .await
    }

    async fn mfa_begin(&self, user: UserId, secret: &str, at: DateTime<Utc>) -> StoreResult<()> {
        let secret = secret.to_owned();
        self.write(move |tx| {
            let confirmed: Option<Option<String>> = tx
                .query_row(
                    "SELECT confirmed_at FROM user_mfa WHERE user_id = ?1",
                    [user.0],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db_err)?;
            if matches!(confirmed, Some(Some(_))) {
                return Err(StoreError::Invalid(
                    "MFA is already set up for this user; remove it first".into(),
                ));
            }
            tx.execute(
                "INSERT INTO user_mfa (user_id, secret, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret,
                     created_at = excluded.created_at, confirmed_at = NULL, last_step = NULL",
                params![user.0, secret, time_to(at)],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn mfa_confirm(&self, user: UserId, step: u64, at: DateTime<Utc>) -> StoreResult<bool> {
        self.write(move |tx| {
            let n = tx
                .execute(
                    "UPDATE user_mfa SET confirmed_at = ?2, last_step = ?3
                     WHERE user_id = ?1 AND confirmed_at IS NULL",
                    params![user.0, time_to(at), seq_to_sql(step)],
                )
                .map_err(db_err)?;
            Ok(n == 1)
        })
        .await
    }

    async fn mfa_use_step(
        &self,
        user: UserId,
        expected_last: Option<u64>,
        step: u64,
    ) -> StoreResult<bool> {
        self.write(move |tx| {
            let step = seq_to_sql(step);
            let n = match expected_last {
                Some(last) => tx.execute(
                    "UPDATE user_mfa SET last_step = ?3
                     WHERE user_id = ?1 AND confirmed_at IS NOT NULL AND last_step = ?2 AND ?3 > ?2",
                    params![user.0, seq_to_sql(last), step],
                ),
                None => tx.execute(
                    "UPDATE user_mfa SET last_step = ?2
                     WHERE user_id = ?1 AND confirmed_at IS NOT NULL AND last_step IS NULL",
                    params![user.0, step],
                ),
            }
            .map_err(db_err)?;
            Ok(n == 1)
        })
        .await
    }

    async fn mfa_remove(&self, user: UserId) -> StoreResult<()> {
        self.write(move |tx| {
            tx.execute("DELETE FROM recovery_codes WHERE user_id = ?1", [user.0])
                .map_err(db_err)?;
            tx.execute("DELETE FROM user_mfa WHERE user_id = ?1", [user.0])
                .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn stored_secrets(&self) -> StoreResult<Vec<StoredSecret>> {
        self.read(|c| {
            let mut out = Vec::new();
            let mut st = c.prepare("SELECT user_id, secret FROM user_mfa ORDER BY user_id")?;
            for r in st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))? {
                let (user, secret) = r?;
                out.push(StoredSecret {
                    slot: SecretSlot::Totp(UserId(user)),
                    value: secret.into_bytes(),
                });
            }
            let mut st = c.prepare("SELECT name, value FROM instance_secrets ORDER BY name")?;
            for r in st.query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
            })? {
                let (name, value) = r?;
                out.push(StoredSecret {
                    slot: SecretSlot::Instance(name),
                    value,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn replace_secret(&self, slot: &SecretSlot, old: &[u8], new: &[u8]) -> StoreResult<bool> {
        let (slot, old, new) = (slot.clone(), old.to_vec(), new.to_vec());
        self.write(move |tx| {
            let n = match &slot {
                SecretSlot::Totp(user) => tx.execute(
                    "UPDATE user_mfa SET secret = ?3 WHERE user_id = ?1 AND secret = ?2",
                    params![user.0, StoredSecret::text(&old)?, StoredSecret::text(&new)?],
                ),
                SecretSlot::Instance(name) => tx.execute(
                    "UPDATE instance_secrets SET value = ?3 WHERE name = ?1 AND value = ?2",
                    params![name, old, new],
                ),
            }
            .map_err(db_err)?;
            Ok(n == 1)
        })
        .await
    }

    async fn set_recovery_codes(
        &self,
        user: UserId,
        hashes: &[String],
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let hashes = hashes.to_vec();
        self.write(move |tx| {
            tx.execute("DELETE FROM recovery_codes WHERE user_id = ?1", [user.0])
                .map_err(db_err)?;
            for h in &hashes {
                tx.execute(
                    "INSERT INTO recovery_codes (user_id, hash, created_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT DO NOTHING",
                    params![user.0, h, time_to(at)],
                )
                .map_err(db_err)?;
            }
            Ok(())
        })
        .await
    }

    async fn use_recovery_code(
        &self,
        user: UserId,
        hash: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let hash = hash.to_owned();
        self.write(move |tx| {
            let n = tx
                .execute(
                    "UPDATE recovery_codes SET used_at = ?3
                     WHERE user_id = ?1 AND hash = ?2 AND used_at IS NULL",
                    params![user.0, hash, time_to(at)],
                )
                .map_err(db_err)?;
            Ok(n == 1)
        })
        .await
    }

    async fn recovery_codes_left(&self, user: UserId) -> StoreResult<usize> {
        self.read(move |c| {
            let n: i64 = c.query_row(
                "SELECT count(*) FROM recovery_codes WHERE user_id = ?1 AND used_at IS NULL",
                [user.0],
                |r| r.get(0),
            )?;
            Ok(usize::try_from(n).unwrap_or(0))
        })
        .await
    }

    async fn org_allowlist(&self, org: OrgId) -> StoreResult<kizuki_store::OrgAllowlist> {
        self.read_store(move |c| {
            org_exists(c, org)?;
            load_allowlist(c, org)
        })
        .await
    }

    async fn set_org_allowlist(
        &self,
        org: OrgId,
        expected_version: i64,
        entries: &str,
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<kizuki_store::OrgAllowlist> {
        let entries = entries.to_owned();
        self.write(move |tx| {
            org_exists(tx, org)?;
            let current = load_allowlist(tx, org)?;
            if current.version != expected_version {
                return Err(StoreError::Invalid(format!(
                    "the allowlist was changed by someone else (now version {})",
                    current.version
                )));
            }
            tx.execute(
                "INSERT INTO org_allowlists (org_id, entries, version, updated_at, updated_by)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (org_id) DO UPDATE SET entries = excluded.entries,
                     version = excluded.version, updated_at = excluded.updated_at,
                     updated_by = excluded.updated_by",
                params![
                    org.0,
                    entries,
                    expected_version + 1,
                    time_to(at),
                    by.map(|u| u.0)
                ],
            )
            .map_err(db_err)?;
            load_allowlist(tx, org)
        })
        .await
    }

    async fn report_sharing(&self, report: ReportId) -> StoreResult<kizuki_store::ReportSharing> {
        let id: ReportId = report;
        self.read_store(move |c| {
            crate::reports::report_exists(c, id)?;
            sharing_of(c, id)
        })
        .await
    }

    async fn reports_sharing(
        &self,
        reports: &[ReportId],
    ) -> StoreResult<Vec<kizuki_store::ReportSharing>> {
        let ids = reports.to_vec();
        self.read_store(move |c| ids.into_iter().map(|id| sharing_of(c, id)).collect())
            .await
    }

    async fn set_report_sharing(
        &self,
        report: ReportId,
        expected_version: Option<i64>,
        sharing: &kizuki_store::ReportSharing,
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<Report> {
        let id: ReportId = report;
        let sharing = sharing.clone();
        self.write(move |tx| {
            crate::reports::report_exists(tx, id)?;
            if let Some(v) = expected_version
                && !crate::feed::expect_version(tx, "reports", "id", id.0, v)?
            {
                return Err(crate::reports::report_conflict(tx, id));
            }
            tx.execute("DELETE FROM report_shares WHERE report_id = ?1", [id.0])
                .map_err(db_err)?;
            tx.execute("DELETE FROM report_recipients WHERE report_id = ?1", [id.0])
                .map_err(db_err)?;
            for o in &sharing.orgs {
                tx.execute(
                    "INSERT INTO report_shares (report_id, org_id) VALUES (?1, ?2)
                     ON CONFLICT DO NOTHING",
                    params![id.0, o.0],
                )
                .map_err(db_err)?;
            }
            for u in &sharing.users {
                tx.execute(
                    "INSERT INTO report_recipients (report_id, user_id) VALUES (?1, ?2)
                     ON CONFLICT DO NOTHING",
                    params![id.0, u.0],
                )
                .map_err(db_err)?;
            }
            tx.execute(
                "UPDATE reports SET version = version + 1, updated_at = ?2 WHERE id = ?1",
                params![id.0, time_to(at)],
            )
            .map_err(db_err)?;
            let r = crate::reports::load_report(tx, id)?;
            let snapshot = kizuki_store::SharingSnapshot {
                report: &r,
                sharing: &sharing,
            };
            crate::feed::record_history(
                tx,
                kizuki_store::Entity::Report,
                id.0,
                r.version,
                at,
                by,
                "share",
                &snapshot,
            )?;
            // The history row also puts the report in the change feed: sharing changes who
            // may find it, so the search index must hear of it.
            Ok(r)
        })
        .await
    }
}
