//! Organisations in PostgreSQL: operators, the centre and ministries, with their sectors.

use crate::*;
use kizuki_store::prelude::*;

#[async_trait]
impl OrgStore for PgStore {
    async fn create_org(&self, org: NewOrganisation) -> StoreResult<Organisation> {
        let now = self.now();
        in_tx!(self, |tx| {
            let row = tx
                .cached_query_one(
                    "INSERT INTO organisations (key, name, kind, sectors, region, version)
                     VALUES ($1, $2, $3, $4, $5, 1) RETURNING id",
                    &[
                        &org.key,
                        &org.name,
                        &org.kind.code(),
                        &json(&org.sectors)?,
                        &org.region.as_ref().map(Code::as_str),
                    ],
                )
                .await
                .map_err(pg_err)?;
            let id: i64 = row.get(0);
            record_change(&tx, Entity::Organisation, id, now).await?;
            load_org(&tx, OrgId(id)).await
        })
    }

    async fn get_org(&self, id: OrgId) -> StoreResult<Organisation> {
        load_org(&self.client().await?, id).await
    }

    async fn org_by_key(&self, key: &str) -> StoreResult<Option<Organisation>> {
        let c = self.client().await?;
        c.cached_query_opt(
            &format!("SELECT {ORG_COLS} FROM organisations WHERE key = $1"),
            &[&key],
        )
        .await
        .map_err(pg_err)?
        .map(|r| org_row(&r))
        .transpose()
    }

    async fn list_orgs(&self) -> StoreResult<Vec<Organisation>> {
        let c = self.client().await?;
        c.cached_query(
            &format!("SELECT {ORG_COLS} FROM organisations ORDER BY id"),
            &[],
        )
        .await
        .map_err(pg_err)?
        .iter()
        .map(org_row)
        .collect()
    }

    async fn update_org(
        &self,
        id: OrgId,
        expected_version: i64,
        org: NewOrganisation,
    ) -> StoreResult<Organisation> {
        let now = self.now();
        in_tx!(self, |tx| {
            let v = lock_version(
                &tx,
                "organisations",
                "id",
                &id.0,
                "organisation",
                id.to_string(),
            )
            .await?;
            if v != expected_version {
                return Err(StoreError::Conflict {
                    entity: "organisation",
                    current: Current::Organisation(Box::new(load_org(&tx, id).await?)),
                });
            }
            tx.cached_execute(
                "UPDATE organisations SET key = $2, name = $3, kind = $4, sectors = $5,
                 region = $6, version = version + 1 WHERE id = $1",
                &[
                    &id.0,
                    &org.key,
                    &org.name,
                    &org.kind.code(),
                    &json(&org.sectors)?,
                    &org.region.as_ref().map(Code::as_str),
                ],
            )
            .await
            .map_err(pg_err)?;
            record_change(&tx, Entity::Organisation, id.0, now).await?;
            load_org(&tx, id).await
        })
    }
}
