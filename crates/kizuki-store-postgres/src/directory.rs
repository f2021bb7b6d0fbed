//! PostgreSQL side of the directory beyond accounts: organisations enabled or not, their
//! contacts, and forwarded reports. Saving contacts locks the organisation's row first, so
//! two admins on different nodes take turns and the second sees the version moved.

use crate::cached::Cached as _;
use async_trait::async_trait;
use kizuki_store::prelude::*;

use crate::rows::{from_json, json};
use crate::{PgStore, pg_err};
use chrono::{DateTime, Utc};
use kizuki_domain::ids::{OrgId, ReportId, UserId};
use kizuki_domain::org::{Contact, Organisation};
use kizuki_store::{Current, Entity, Forward, NewForward, OrgContacts, StoreError, StoreResult};

async fn org_exists(c: &impl deadpool_postgres::GenericClient, org: OrgId) -> StoreResult<()> {
    c.cached_query_opt("SELECT id FROM organisations WHERE id = $1", &[&org.0])
        .await
        .map_err(pg_err)?
        .map(|_| ())
        .ok_or_else(|| StoreError::not_found("organisation", org))
}

async fn load_contacts(
    c: &impl deadpool_postgres::GenericClient,
    org: OrgId,
) -> StoreResult<OrgContacts> {
    let row = c
        .cached_query_opt(
            "SELECT version, body, updated_at, updated_by FROM org_contacts WHERE org_id = $1",
            &[&org.0],
        )
        .await
        .map_err(pg_err)?;
    Ok(match row {
        None => OrgContacts {
            org_id: org,
            version: 0,
            contacts: Vec::new(),
            updated_at: None,
            updated_by: None,
        },
        Some(r) => OrgContacts {
            org_id: org,
            version: r.get(0),
            contacts: from_json::<Vec<Contact>>("org_contacts.body", r.get(1))?,
            updated_at: Some(r.get(2)),
            updated_by: r.get::<_, Option<i64>>(3).map(UserId),
        },
    })
}

fn forward_row(r: &tokio_postgres::Row) -> Forward {
    Forward {
        id: r.get(0),
        report_id: ReportId(r.get(1)),
        from_org: OrgId(r.get(2)),
        to_org: OrgId(r.get(3)),
        by: UserId(r.get(4)),
        note: r.get(5),
        at: r.get(6),
    }
}

const FORWARD_COLS: &str = "id, report_id, from_org, to_org, by_user, note, at";

#[async_trait]
impl DirectoryStore for PgStore {
    async fn set_org_active(&self, id: OrgId, active: bool) -> StoreResult<Organisation> {
        let now = self.now();
        in_tx!(self, |tx| {
            let changed = tx
                .cached_execute(
                    "UPDATE organisations SET active = $2, version = version + 1 WHERE id = $1",
                    &[&id.0, &active],
                )
                .await
                .map_err(pg_err)?;
            if changed == 0 {
                return Err(StoreError::not_found("organisation", id));
            }
            crate::feed::record_change(&tx, Entity::Organisation, id.0, now).await?;
            crate::load_org(&tx, id).await
        })
    }

    async fn org_contacts(&self, org: OrgId) -> StoreResult<OrgContacts> {
        let c = self.client().await?;
        org_exists(&c, org).await?;
        load_contacts(&c, org).await
    }

    async fn set_org_contacts(
        &self,
        org: OrgId,
        expected_version: i64,
        contacts: &[Contact],
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<OrgContacts> {
        let body = json(&contacts)?;
        in_tx!(self, |tx| {
            let locked = tx
                .cached_query_opt(
                    "SELECT id FROM organisations WHERE id = $1 FOR UPDATE",
                    &[&org.0],
                )
                .await
                .map_err(pg_err)?;
            if locked.is_none() {
                return Err(StoreError::not_found("organisation", org));
            }
            let current = load_contacts(&tx, org).await?;
            if current.version != expected_version {
                return Err(StoreError::Conflict {
                    entity: "contacts",
                    current: Current::Version(current.version),
                });
            }
            tx.cached_execute(
                "INSERT INTO org_contacts (org_id, version, body, updated_at, updated_by)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (org_id) DO UPDATE SET version = excluded.version,
                     body = excluded.body, updated_at = excluded.updated_at,
                     updated_by = excluded.updated_by",
                &[
                    &org.0,
                    &(expected_version + 1),
                    &body,
                    &at,
                    &by.map(|u| u.0),
                ],
            )
            .await
            .map_err(pg_err)?;
            load_contacts(&tx, org).await
        })
    }

    async fn forward_report(&self, f: NewForward) -> StoreResult<Vec<Forward>> {
        in_tx!(self, |tx| {
            let found = tx
                .cached_query_opt("SELECT id FROM reports WHERE id = $1", &[&f.report_id.0])
                .await
                .map_err(pg_err)?;
            if found.is_none() {
                return Err(StoreError::not_found("report", f.report_id));
            }
            let mut out = Vec::with_capacity(f.to_orgs.len());
            for to in &f.to_orgs {
                org_exists(&tx, *to).await?;
                let row = tx
                    .cached_query_one(
                        &format!(
                            "INSERT INTO report_forwards (report_id, from_org, to_org, by_user, note, at)
                             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {FORWARD_COLS}"
                        ),
                        &[&f.report_id.0, &f.from_org.0, &to.0, &f.by.0, &f.note, &f.at],
                    )
                    .await
                    .map_err(pg_err)?;
                out.push(forward_row(&row));
            }
            Ok(out)
        })
    }

    async fn report_forwards(&self, report: ReportId) -> StoreResult<Vec<Forward>> {
        let c = self.client().await?;
        Ok(c.cached_query(
            &format!("SELECT {FORWARD_COLS} FROM report_forwards WHERE report_id = $1 ORDER BY id"),
            &[&report.0],
        )
        .await
        .map_err(pg_err)?
        .iter()
        .map(forward_row)
        .collect())
    }

    async fn forwards_to(&self, org: OrgId, limit: usize) -> StoreResult<Vec<Forward>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let c = self.client().await?;
        Ok(c.cached_query(
            &format!(
                "SELECT {FORWARD_COLS} FROM report_forwards WHERE to_org = $1
                     ORDER BY id DESC LIMIT $2"
            ),
            &[&org.0, &limit],
        )
        .await
        .map_err(pg_err)?
        .iter()
        .map(forward_row)
        .collect())
    }
}
