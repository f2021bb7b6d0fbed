//! Organisations in SQLite: operators, the centre and ministries, with their sectors.

use crate::*;
use kizuki_store::prelude::*;

pub(crate) const ORG_COLS: &str = "id, key, name, kind, sectors, region, version, active";

pub(crate) fn org_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Organisation> {
    let kind: String = r.get("kind")?;
    let sectors: String = r.get("sectors")?;
    Ok(Organisation {
        id: OrgId(r.get("id")?),
        version: r.get("version")?,
        active: r.get("active")?,
        org: NewOrganisation {
            key: r.get("key")?,
            name: r.get("name")?,
            kind: OrgKind::parse(&kind).ok_or_else(|| codec::bad("organisations.kind", &kind))?,
            sectors: from_json::<Vec<Code>>(&sectors)?,
            region: r.get::<_, Option<String>>("region")?.map(Code),
        },
    })
}

pub(crate) fn load_org(c: &Connection, id: OrgId) -> StoreResult<Organisation> {
    c.prepare_cached(&format!(
        "SELECT {ORG_COLS} FROM organisations WHERE id = ?1"
    ))
    .and_then(|mut st| st.query_row([id.0], org_row).optional())
    .map_err(db_err)?
    .ok_or_else(|| StoreError::not_found("organisation", id))
}

#[async_trait]
impl OrgStore for SqliteStore {
    async fn create_org(&self, org: NewOrganisation) -> StoreResult<Organisation> {
        let now = self.now();
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO organisations (key, name, kind, sectors, region, version)
                 VALUES (?1, ?2, ?3, ?4, ?5, 1)",
                params![
                    org.key,
                    org.name,
                    org.kind.code(),
                    to_json(&org.sectors).map_err(db_err)?,
                    org.region.as_ref().map(Code::as_str)
                ],
            )
            .map_err(db_err)?;
            let id = tx.last_insert_rowid();
            record_change(tx, Entity::Organisation, id, now)?;
            load_org(tx, OrgId(id))
        })
        .await
    }

    async fn get_org(&self, id: OrgId) -> StoreResult<Organisation> {
        self.read_store(move |c| load_org(c, id)).await
    }

    async fn org_by_key(&self, key: &str) -> StoreResult<Option<Organisation>> {
        let key = key.to_owned();
        self.read(move |c| {
            c.query_row(
                &format!("SELECT {ORG_COLS} FROM organisations WHERE key = ?1"),
                [key],
                org_row,
            )
            .optional()
        })
        .await
    }

    async fn list_orgs(&self) -> StoreResult<Vec<Organisation>> {
        self.read(|c| {
            let mut st = c.prepare(&format!("SELECT {ORG_COLS} FROM organisations ORDER BY id"))?;
            st.query_map([], org_row)?.collect()
        })
        .await
    }

    async fn update_org(
        &self,
        id: OrgId,
        expected_version: i64,
        org: NewOrganisation,
    ) -> StoreResult<Organisation> {
        let now = self.now();
        self.write(move |tx| {
            if !expect_version(tx, "organisations", "id", id.0, expected_version)? {
                return Err(StoreError::Conflict {
                    entity: "organisation",
                    current: Current::Organisation(Box::new(load_org(tx, id)?)),
                });
            }
            tx.execute(
                "UPDATE organisations SET key = ?2, name = ?3, kind = ?4, sectors = ?5,
                 region = ?6, version = version + 1 WHERE id = ?1",
                params![
                    id.0,
                    org.key,
                    org.name,
                    org.kind.code(),
                    to_json(&org.sectors).map_err(db_err)?,
                    org.region.as_ref().map(Code::as_str)
                ],
            )
            .map_err(db_err)?;
            record_change(tx, Entity::Organisation, id.0, now)?;
            load_org(tx, id)
        })
        .await
    }
}
