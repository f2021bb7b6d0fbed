//! PostgreSQL side of the security records: audit log, MFA, recovery codes, IP
//! allowlists and report sharing.

use crate::cached::Cached as _;
use async_trait::async_trait;
use kizuki_store::prelude::*;

use crate::{PgStore, pg_err};
use chrono::{DateTime, Utc};
use kizuki_domain::ids::{OrgId, ReportId, UserId};
use kizuki_store::{
    AuditQuery, AuditRecord, MfaRecord, OrgAllowlist, ReportSharing, SecretSlot, StoreError,
    StoreResult, StoredSecret,
};
use tokio_postgres::types::ToSql;

const AUDIT_COLS: &str = "seq, at, actor, action, target, detail, prev_hash, hash";

fn to_sql(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn audit_row(r: &tokio_postgres::Row) -> AuditRecord {
    AuditRecord {
        seq: u64::try_from(r.get::<_, i64>(0)).unwrap_or(0),
        at: r.get(1),
        actor: r.get(2),
        action: r.get(3),
        target: r.get(4),
        detail: r.get(5),
        prev_hash: r.get(6),
        hash: r.get(7),
    }
}

/// The chain trigger answers "someone else appended first" as a unique violation; say so
/// without echoing hashes.
fn audit_err(e: tokio_postgres::Error) -> StoreError {
    match pg_err(e) {
        StoreError::Duplicate { .. } => StoreError::Duplicate {
            what: "audit entry".into(),
        },
        other => other,
    }
}

async fn insert_audit(
    c: &impl deadpool_postgres::GenericClient,
    e: &AuditRecord,
) -> StoreResult<()> {
    c.cached_execute(
        &format!("INSERT INTO audit_log ({AUDIT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"),
        &[
            &to_sql(e.seq),
            &e.at,
            &e.actor,
            &e.action,
            &e.target,
            &e.detail,
            &e.prev_hash,
            &e.hash,
        ],
    )
    .await
    .map_err(audit_err)?;
    Ok(())
}

async fn load_allowlist(
    c: &impl deadpool_postgres::GenericClient,
    org: OrgId,
) -> StoreResult<OrgAllowlist> {
    allowlist_where(c, "$1", &org.0)
        .await?
        .ok_or_else(|| StoreError::not_found("organisation", org))
}

/// The allowlist of the organisation whose id `org_expr` gives (an SQL expression of the one
/// parameter `key`); `None` when there is no such organisation. One statement: every API
/// call and login asks for it.
pub(crate) async fn allowlist_where(
    c: &impl deadpool_postgres::GenericClient,
    org_expr: &str,
    key: &(dyn ToSql + Sync),
) -> StoreResult<Option<OrgAllowlist>> {
    let row = c
        .cached_query_opt(
            &format!(
                "SELECT o.id, a.entries, a.version, a.updated_at, a.updated_by
                 FROM organisations o LEFT JOIN org_allowlists a ON a.org_id = o.id
                 WHERE o.id = {org_expr}"
            ),
            &[key],
        )
        .await
        .map_err(pg_err)?;
    Ok(row.map(|row| {
        let org_id = OrgId(row.get(0));
        match row.get::<_, Option<String>>(1) {
            Some(entries) => OrgAllowlist {
                org_id,
                entries,
                version: row.get(2),
                updated_at: row.get(3),
                updated_by: row.get::<_, Option<i64>>(4).map(UserId),
            },
            None => OrgAllowlist {
                org_id,
                entries: String::new(),
                version: 0,
                updated_at: None,
                updated_by: None,
            },
        }
    }))
}

/// The organisations and people each report is shared with, in the order asked; two
/// statements sent together whatever the number of reports.
async fn sharing_of(
    c: &impl deadpool_postgres::GenericClient,
    reports: &[ReportId],
) -> StoreResult<Vec<ReportSharing>> {
    let ids: Vec<i64> = reports.iter().map(|r| r.0).collect();
    let params: [&(dyn ToSql + Sync); 1] = [&ids];
    let orgs = c.cached_query(
        "SELECT report_id, org_id FROM report_shares WHERE report_id = ANY($1)
         ORDER BY report_id, org_id",
        &params,
    );
    let users = c.cached_query(
        "SELECT report_id, user_id FROM report_recipients WHERE report_id = ANY($1)
         ORDER BY report_id, user_id",
        &params,
    );
    let (orgs, users) = tokio::join!(orgs, users);
    let mut by_id: std::collections::HashMap<i64, ReportSharing> = ids
        .iter()
        .map(|id| (*id, ReportSharing::default()))
        .collect();
    for r in orgs.map_err(pg_err)? {
        if let Some(s) = by_id.get_mut(&r.get::<_, i64>(0)) {
            s.orgs.push(OrgId(r.get(1)));
        }
    }
    for r in users.map_err(pg_err)? {
        if let Some(s) = by_id.get_mut(&r.get::<_, i64>(0)) {
            s.users.push(UserId(r.get(1)));
        }
    }
    Ok(ids
        .iter()
        .map(|id| by_id.get(id).cloned().unwrap_or_default())
        .collect())
}

async fn report_exists(c: &impl deadpool_postgres::GenericClient, id: ReportId) -> StoreResult<()> {
    c.cached_query_opt("SELECT id FROM reports WHERE id = $1", &[&id.0])
        .await
        .map_err(pg_err)?
        .map(|_| ())
        .ok_or_else(|| StoreError::not_found("report", id))
}

#[async_trait]
impl SecurityStore for PgStore {
    async fn audit_head(&self) -> StoreResult<Option<kizuki_store::AuditRecord>> {
        let c = self.client().await?;
        Ok(c.cached_query_opt(
            &format!("SELECT {AUDIT_COLS} FROM audit_log ORDER BY seq DESC LIMIT 1"),
            &[],
        )
        .await
        .map_err(pg_err)?
        .map(|r| audit_row(&r)))
    }

    async fn audit_insert(&self, entry: kizuki_store::AuditRecord) -> StoreResult<()> {
        let c = self.client().await?;
        insert_audit(&c, &entry).await
    }

    async fn audit_range(
        &self,
        from_seq: u64,
        limit: usize,
    ) -> StoreResult<Vec<kizuki_store::AuditRecord>> {
        let c = self.client().await?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        Ok(c.cached_query(
            &format!("SELECT {AUDIT_COLS} FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT $2"),
            &[&to_sql(from_seq), &limit],
        )
        .await
        .map_err(pg_err)?
        .iter()
        .map(audit_row)
        .collect())
    }

    async fn audit_query(
        &self,
        query: &kizuki_store::AuditQuery,
    ) -> StoreResult<Vec<kizuki_store::AuditRecord>> {
        let q: &AuditQuery = query;
        let c = self.client().await?;
        let limit = i64::try_from(q.limit.max(1)).unwrap_or(i64::MAX);
        let before = q.before_seq.map(to_sql);
        Ok(c.cached_query(
            &format!(
                "SELECT {AUDIT_COLS} FROM audit_log
                     WHERE ($1::text IS NULL OR actor = $1) AND ($2::text IS NULL OR action = $2)
                       AND ($3::text IS NULL OR target = $3) AND ($4::bigint IS NULL OR seq < $4)
                     ORDER BY seq DESC LIMIT $5"
            ),
            &[&q.actor, &q.action, &q.target, &before, &limit],
        )
        .await
        .map_err(pg_err)?
        .iter()
        .map(audit_row)
        .collect())
    }

    async fn audit_purge(
        &self,
        checkpoint: kizuki_store::AuditRecord,
        through: u64,
    ) -> StoreResult<()> {
        in_tx!(self, |tx| {
            insert_audit(&tx, &checkpoint).await?;
            // The delete trigger refuses any entry the checkpoint does not cover.
            tx.cached_execute("DELETE FROM audit_log WHERE seq <= $1", &[&to_sql(through)])
                .await
                .map_err(pg_err)?;
            Ok(())
        })
    }

    async fn mfa(&self, user: UserId) -> StoreResult<Option<kizuki_store::MfaRecord>> {
        let c = self.client().await?;
        Ok(c.cached_query_opt(
            "SELECT user_id, secret, created_at, confirmed_at, last_step FROM user_mfa
                 WHERE user_id = $1",
            &[&user.0],
        )
        .await
        .map_err(pg_err)?
        .map(|r| MfaRecord {
            user_id: UserId(r.get(0)),
            secret: r.get(1),
            created_at: r.get(2),
            confirmed_at: r.get(3),
            last_step: r
                .get::<_, Option<i64>>(4)
                .and_then(|v| u64::try_from(v).ok()),
        }))
    }

    async fn mfa_begin(&self, user: UserId, secret: &str, at: DateTime<Utc>) -> StoreResult<()> {
        let c = self.client().await?;
        // One statement, so two browsers enrolling at once cannot replace a confirmed secret.
        let n = c
            .cached_execute(
                "INSERT INTO user_mfa (user_id, secret, created_at) VALUES ($1, $2, $3)
                 ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret,
                     created_at = excluded.created_at, confirmed_at = NULL, last_step = NULL
                 WHERE user_mfa.confirmed_at IS NULL",
                &[&user.0, &secret, &at],
            )
            .await
            .map_err(pg_err)?;
        if n == 0 {
            return Err(StoreError::Invalid(
                "MFA is already set up for this user; remove it first".into(),
            ));
        }
        Ok(())
    }

    async fn mfa_confirm(&self, user: UserId, step: u64, at: DateTime<Utc>) -> StoreResult<bool> {
        let c = self.client().await?;
        let n = c
            .cached_execute(
                "UPDATE user_mfa SET confirmed_at = $2, last_step = $3
                 WHERE user_id = $1 AND confirmed_at IS NULL",
                &[&user.0, &at, &to_sql(step)],
            )
            .await
            .map_err(pg_err)?;
        Ok(n == 1)
    }

    async fn mfa_use_step(
        &self,
        user: UserId,
        expected_last: Option<u64>,
        step: u64,
    ) -> StoreResult<bool> {
        let c = self.client().await?;
        let step = to_sql(step);
        let n = match expected_last {
            Some(last) => {
                c.cached_execute(
                    "UPDATE user_mfa SET last_step = $3
                     WHERE user_id = $1 AND confirmed_at IS NOT NULL AND last_step = $2 AND $3 > $2",
                    &[&user.0, &to_sql(last), &step],
                )
                .await
            }
            None => {
                c.cached_execute(
                    "UPDATE user_mfa SET last_step = $2
                     WHERE user_id = $1 AND confirmed_at IS NOT NULL AND last_step IS NULL",
                    &[&user.0, &step],
                )
                .await
            }
        }
        .map_err(pg_err)?;
        Ok(n == 1)
    }

    async fn mfa_remove(&self, user: UserId) -> StoreResult<()> {
        in_tx!(self, |tx| {
            tx.cached_execute("DELETE FROM recovery_codes WHERE user_id = $1", &[&user.0])
                .await
                .map_err(pg_err)?;
            tx.cached_execute("DELETE FROM user_mfa WHERE user_id = $1", &[&user.0])
                .await
                .map_err(pg_err)?;
            Ok(())
        })
    }

    async fn stored_secrets(&self) -> StoreResult<Vec<StoredSecret>> {
        let c = self.client().await?;
        let mut out = Vec::new();
        for r in c
            .cached_query("SELECT user_id, secret FROM user_mfa ORDER BY user_id", &[])
            .await
            .map_err(pg_err)?
        {
            out.push(StoredSecret {
                slot: SecretSlot::Totp(UserId(r.get(0))),
                value: r.get::<_, String>(1).into_bytes(),
            });
        }
        for r in c
            .cached_query(
                "SELECT name, value FROM instance_secrets ORDER BY name",
                &[],
            )
            .await
            .map_err(pg_err)?
        {
            out.push(StoredSecret {
                slot: SecretSlot::Instance(r.get(0)),
                value: r.get(1),
            });
        }
        Ok(out)
    }

    async fn replace_secret(&self, slot: &SecretSlot, old: &[u8], new: &[u8]) -> StoreResult<bool> {
        let c = self.client().await?;
        let n = match slot {
            SecretSlot::Totp(user) => {
                c.cached_execute(
                    "UPDATE user_mfa SET secret = $3 WHERE user_id = $1 AND secret = $2",
                    &[
                        &user.0,
                        &StoredSecret::text(old)?,
                        &StoredSecret::text(new)?,
                    ],
                )
                .await
            }
            SecretSlot::Instance(name) => {
                c.cached_execute(
                    "UPDATE instance_secrets SET value = $3 WHERE name = $1 AND value = $2",
                    &[name, &old, &new],
                )
                .await
            }
        }
        .map_err(pg_err)?;
        Ok(n == 1)
    }

    async fn set_recovery_codes(
        &self,
        user: UserId,
        hashes: &[String],
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        in_tx!(self, |tx| {
            tx.cached_execute("DELETE FROM recovery_codes WHERE user_id = $1", &[&user.0])
                .await
                .map_err(pg_err)?;
            for h in hashes {
                tx.cached_execute(
                    "INSERT INTO recovery_codes (user_id, hash, created_at) VALUES ($1, $2, $3)
                     ON CONFLICT DO NOTHING",
                    &[&user.0, h, &at],
                )
                .await
                .map_err(pg_err)?;
            }
            Ok(())
        })
    }

    async fn use_recovery_code(
        &self,
        user: UserId,
        hash: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let c = self.client().await?;
        let n = c
            .cached_execute(
                "UPDATE recovery_codes SET used_at = $3
                 WHERE user_id = $1 AND hash = $2 AND used_at IS NULL",
                &[&user.0, &hash, &at],
            )
            .await
            .map_err(pg_err)?;
        Ok(n == 1)
    }

    async fn recovery_codes_left(&self, user: UserId) -> StoreResult<usize> {
        let c = self.client().await?;
        let n: i64 = c
            .cached_query_one(
                "SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
                &[&user.0],
            )
            .await
            .map_err(pg_err)?
            .get(0);
        Ok(usize::try_from(n).unwrap_or(0))
    }

    async fn org_allowlist(&self, org: OrgId) -> StoreResult<kizuki_store::OrgAllowlist> {
        let c = self.client().await?;
        load_allowlist(&c, org).await
    }

    async fn set_org_allowlist(
        &self,
        org: OrgId,
        expected_version: i64,
        entries: &str,
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<kizuki_store::OrgAllowlist> {
        in_tx!(self, |tx| {
            // Lock the organisation row so two editors on different nodes serialise here.
            tx.cached_execute(
                "SELECT id FROM organisations WHERE id = $1 FOR UPDATE",
                &[&org.0],
            )
            .await
            .map_err(pg_err)?;
            let current = load_allowlist(&tx, org).await?;
            if current.version != expected_version {
                return Err(StoreError::Invalid(format!(
                    "the allowlist was changed by someone else (now version {})",
                    current.version
                )));
            }
            tx.cached_execute(
                "INSERT INTO org_allowlists (org_id, entries, version, updated_at, updated_by)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (org_id) DO UPDATE SET entries = excluded.entries,
                     version = excluded.version, updated_at = excluded.updated_at,
                     updated_by = excluded.updated_by",
                &[
                    &org.0,
                    &entries,
                    &(expected_version + 1),
                    &at,
                    &by.map(|u| u.0),
                ],
            )
            .await
            .map_err(pg_err)?;
            let out = load_allowlist(&tx, org).await?;
            Ok(out)
        })
    }

    async fn report_sharing(&self, report: ReportId) -> StoreResult<kizuki_store::ReportSharing> {
        let c = self.client().await?;
        report_exists(&c, report).await?;
        Ok(sharing_of(&c, &[report]).await?.pop().unwrap_or_default())
    }

    async fn reports_sharing(
        &self,
        reports: &[ReportId],
    ) -> StoreResult<Vec<kizuki_store::ReportSharing>> {
        sharing_of(&self.client().await?, reports).await
    }

    async fn set_report_sharing(
        &self,
        report: ReportId,
        expected_version: Option<i64>,
        sharing: &kizuki_store::ReportSharing,
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<kizuki_domain::report::Report> {
        let id: ReportId = report;
        in_tx!(self, |tx| {
            match expected_version {
                Some(v) => crate::reports::check_report_version(&tx, id, v).await?,
                None => {
                    crate::feed::lock_version(
                        &tx,
                        "reports",
                        "id",
                        &id.0,
                        "report",
                        id.to_string(),
                    )
                    .await?;
                }
            }
            tx.cached_execute("DELETE FROM report_shares WHERE report_id = $1", &[&id.0])
                .await
                .map_err(pg_err)?;
            tx.cached_execute(
                "DELETE FROM report_recipients WHERE report_id = $1",
                &[&id.0],
            )
            .await
            .map_err(pg_err)?;
            for o in &sharing.orgs {
                tx.cached_execute(
                    "INSERT INTO report_shares (report_id, org_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    &[&id.0, &o.0],
                )
                .await
                .map_err(pg_err)?;
            }
            for u in &sharing.users {
                tx.cached_execute(
                    "INSERT INTO report_recipients (report_id, user_id) VALUES ($1, $2)
                     ON CONFLICT DO NOTHING",
                    &[&id.0, &u.0],
                )
                .await
                .map_err(pg_err)?;
            }
            tx.cached_execute(
                "UPDATE reports SET version = version + 1, updated_at = $2 WHERE id = $1",
                &[&id.0, &at],
            )
            .await
            .map_err(pg_err)?;
            let r = crate::load_report(&tx, id).await?;
            // The history row also puts the report in the change feed: sharing changes who
            // may find it, so the search index must hear of it.
            crate::feed::record_history(
                &tx,
                crate::feed::Revision {
                    entity: kizuki_store::Entity::Report,
                    id: id.0,
                    version: r.version,
                    at,
                    by,
                    action: "share",
                    snapshot: &kizuki_store::SharingSnapshot {
                        report: &r,
                        sharing,
                    },
                },
            )
            .await?;
            Ok(r)
        })
    }
}
