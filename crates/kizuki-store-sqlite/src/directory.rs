//! SQLite side of the directory beyond accounts: organisations enabled or not, their
//! contacts, and forwarded reports.

use crate::*;
use kizuki_domain::org::Contact;
use kizuki_store::{Forward, NewForward, OrgContacts};

fn load_contacts(c: &Connection, org: OrgId) -> StoreResult<OrgContacts> {
    let row = c
        .prepare_cached(
            "SELECT version, body, updated_at, updated_by FROM org_contacts WHERE org_id = ?1",
        )
        .and_then(|mut st| {
            st.query_row([org.0], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                ))
            })
            .optional()
        })
        .map_err(db_err)?;
    match row {
        None => Ok(OrgContacts {
            org_id: org,
            version: 0,
            contacts: Vec::new(),
            updated_at: None,
            updated_by: None,
        }),
        Some((version, body, at, by)) => Ok(OrgContacts {
            org_id: org,
            version,
            contacts: from_json::<Vec<Contact>>(&body).map_err(db_err)?,
            updated_at: Some(time_from(&at).map_err(db_err)?),
            updated_by: by.map(UserId),
        }),
    }
}

fn forward_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Forward> {
    Ok(Forward {
        id: r.get(0)?,
        report_id: ReportId(r.get(1)?),
        from_org: OrgId(r.get(2)?),
        to_org: OrgId(r.get(3)?),
        by: UserId(r.get(4)?),
        note: r.get(5)?,
        at: time_from(&r.get::<_, String>(6)?)?,
    })
}

const FORWARD_COLS: &str = "id, report_id, from_org, to_org, by_user, note, at";

#[async_trait]
impl DirectoryStore for SqliteStore {
    async fn set_org_active(&self, id: OrgId, active: bool) -> StoreResult<Organisation> {
        let now = self.now();
        self.write(move |tx| {
            let changed = tx
                .execute(
                    "UPDATE organisations SET active = ?2, version = version + 1 WHERE id = ?1",
                    params![id.0, active],
                )
                .map_err(db_err)?;
            if changed == 0 {
                return Err(StoreError::not_found("organisation", id));
            }
            record_change(tx, Entity::Organisation, id.0, now)?;
            crate::orgs::load_org(tx, id)
        })
        .await
    }

    async fn org_contacts(&self, org: OrgId) -> StoreResult<OrgContacts> {
        self.read_store(move |c| {
            crate::security::org_exists(c, org)?;
            load_contacts(c, org)
        })
        .await
    }

    async fn set_org_contacts(
        &self,
        org: OrgId,
        expected_version: i64,
        contacts: &[Contact],
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<OrgContacts> {
        let body = to_json(&contacts).map_err(db_err)?;
        self.write(move |tx| {
            crate::security::org_exists(tx, org)?;
            let current = load_contacts(tx, org)?;
            if current.version != expected_version {
                return Err(StoreError::Conflict {
                    entity: "contacts",
                    current: Current::Version(current.version),
                });
            }
            tx.execute(
                "INSERT INTO org_contacts (org_id, version, body, updated_at, updated_by)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (org_id) DO UPDATE SET version = excluded.version,
                     body = excluded.body, updated_at = excluded.updated_at,
                     updated_by = excluded.updated_by",
                params![
                    org.0,
                    expected_version + 1,
                    body,
                    time_to(at),
                    by.map(|u| u.0)
                ],
            )
            .map_err(db_err)?;
            load_contacts(tx, org)
        })
        .await
    }

    async fn forward_report(&self, f: NewForward) -> StoreResult<Vec<Forward>> {
        self.write(move |tx| {
            crate::reports::report_exists(tx, f.report_id)?;
            let mut out = Vec::with_capacity(f.to_orgs.len());
            for to in &f.to_orgs {
                crate::security::org_exists(tx, *to)?;
                tx.execute(
                    "INSERT INTO report_forwards (report_id, from_org, to_org, by_user, note, at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        f.report_id.0,
                        f.from_org.0,
                        to.0,
                        f.by.0,
                        f.note,
                        time_to(f.at)
                    ],
                )
                .map_err(db_err)?;
                out.push(Forward {
                    id: tx.last_insert_rowid(),
                    report_id: f.report_id,
                    from_org: f.from_org,
                    to_org: *to,
                    by: f.by,
                    note: f.note.clone(),
                    at: f.at,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn report_forwards(&self, report: ReportId) -> StoreResult<Vec<Forward>> {
        self.read(move |c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {FORWARD_COLS} FROM report_forwards WHERE report_id = ?1 ORDER BY id"
            ))?;
            st.query_map([report.0], forward_row)?.collect()
        })
        .await
    }

    async fn forwards_to(&self, org: OrgId, limit: usize) -> StoreResult<Vec<Forward>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {FORWARD_COLS} FROM report_forwards WHERE to_org = ?1
                 ORDER BY id DESC LIMIT ?2"
            ))?;
            st.query_map(params![org.0, limit], forward_row)?.collect()
        })
        .await
    }
}
