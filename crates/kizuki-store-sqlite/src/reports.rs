//! Information reports in SQLite: the report row with its filter columns, its stages, history and links.

use crate::*;
use kizuki_store::prelude::*;

#[async_trait]
impl ReportStore for SqliteStore {
    async fn link_reports(&self, link: ReportLink) -> StoreResult<()> {
        self.write(move |tx| {
            if link.from == link.to {
                return Err(StoreError::Invalid(format!(
                    "report {} cannot be linked to itself",
                    link.from
                )));
            }
            report_exists(tx, link.from)?;
            report_exists(tx, link.to)?;
            tx.execute(
                "DELETE FROM report_links WHERE (from_id = ?1 AND to_id = ?2)
                 OR (from_id = ?2 AND to_id = ?1)",
                params![link.from.0, link.to.0],
            )
            .map_err(db_err)?;
            tx.execute(
                "INSERT INTO report_links (from_id, to_id, kind, at, by_user)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    link.from.0,
                    link.to.0,
                    link.kind.code(),
                    time_to(link.at),
                    link.by.map(|u| u.0)
                ],
            )
            .map_err(db_err)?;
            record_change(tx, Entity::Report, link.from.0, link.at)?;
            record_change(tx, Entity::Report, link.to.0, link.at)
        })
        .await
    }

    async fn unlink_reports(&self, a: ReportId, b: ReportId) -> StoreResult<()> {
        let now = self.now();
        self.write(move |tx| {
            let n = tx
                .execute(
                    "DELETE FROM report_links WHERE (from_id = ?1 AND to_id = ?2)
                     OR (from_id = ?2 AND to_id = ?1)",
                    params![a.0, b.0],
                )
                .map_err(db_err)?;
            if n > 0 {
                record_change(tx, Entity::Report, a.0, now)?;
                record_change(tx, Entity::Report, b.0, now)?;
            }
            Ok(())
        })
        .await
    }

    async fn report_links(&self, id: ReportId) -> StoreResult<Vec<ReportLink>> {
        self.read(move |c| {
            let mut st = c.prepare_cached(
                "SELECT from_id, to_id, kind, at, by_user FROM report_links
                 WHERE from_id = ?1 OR to_id = ?1 ORDER BY at, from_id, to_id",
            )?;
            st.query_map([id.0], link_row)?.collect()
        })
        .await
    }

    async fn create_report(&self, report: NewReport) -> StoreResult<Report> {
        self.write(move |tx| insert_report(tx, &report)).await
    }

    async fn create_reports(&self, reports: Vec<NewReport>) -> StoreResult<Vec<Report>> {
        if reports.is_empty() {
            return Ok(Vec::new());
        }
        self.write(move |tx| reports.iter().map(|r| insert_report(tx, r)).collect())
            .await
    }

    async fn get_report(&self, id: ReportId) -> StoreResult<Report> {
        self.read_store(move |c| load_report(c, id)).await
    }

    async fn update_report(
        &self,
        id: ReportId,
        expected_version: i64,
        details: ReportDetails,
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<Report> {
        self.write(move |tx| {
            if !expect_version(tx, "reports", "id", id.0, expected_version)? {
                return Err(report_conflict(tx, id));
            }
            write_report_columns(tx, id, &details)?;
            bump_report(tx, id, at, by, "update")
        })
        .await
    }

    async fn set_report_status(
        &self,
        id: ReportId,
        expected_version: i64,
        status: ReportStatus,
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<Report> {
        self.write(move |tx| {
            if !expect_version(tx, "reports", "id", id.0, expected_version)? {
                return Err(report_conflict(tx, id));
            }
            tx.execute(
                "UPDATE reports SET status = ?2 WHERE id = ?1",
                params![id.0, status.code()],
            )
            .map_err(db_err)?;
            bump_report(tx, id, at, by, &format!("status:{}", status.code()))
        })
        .await
    }

    async fn add_stage(&self, id: ReportId, stage: NewStage) -> StoreResult<Report> {
        self.write(move |tx| {
            let next: Option<i64> = tx
                .query_row(
                    "SELECT (SELECT COALESCE(MAX(seq), 0) + 1 FROM report_stages
                             WHERE report_id = r.id)
                     FROM reports r WHERE r.id = ?1",
                    [id.0],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db_err)?;
            let seq = next.ok_or_else(|| StoreError::not_found("report", id))?;
            insert_stage(tx, id, seq, &stage)?;
            bump_report(
                tx,
                id,
                stage.at,
                stage.author,
                &format!("stage:{}", stage.kind.code()),
            )
        })
        .await
    }

    async fn list_reports(&self, filter: &ReportFilter, page: Page) -> StoreResult<Paged<Report>> {
        let filter = filter.clone();
        self.read_store(move |c| {
            let mut wh: Vec<String> = Vec::new();
            let mut args: Vec<rusqlite::types::Value> = Vec::new();
            let arg = |args: &mut Vec<rusqlite::types::Value>, v: rusqlite::types::Value| {
                args.push(v);
                format!("?{}", args.len())
            };
            use rusqlite::types::Value as V;
            if let Some(fy) = filter.fiscal_year {
                wh.push(format!(
                    "fiscal_year = {}",
                    arg(&mut args, V::Integer(fy.into()))
                ));
            }
            if let Some(s) = &filter.sector {
                wh.push(format!("sector = {}", arg(&mut args, V::Text(s.clone()))));
            }
            if let Some(s) = &filter.event_type {
                wh.push(format!(
                    "event_type = {}",
                    arg(&mut args, V::Text(s.clone()))
                ));
            }
            if let Some(s) = &filter.cause {
                wh.push(format!(
                    "EXISTS (SELECT 1 FROM report_causes rc WHERE rc.report_id = reports.id
                     AND rc.cause = {})",
                    arg(&mut args, V::Text(s.clone()))
                ));
            }
            if let Some(s) = filter.severity {
                wh.push(format!(
                    "severity = {}",
                    arg(&mut args, V::Integer(s.into()))
                ));
            }
            if let Some(s) = filter.status {
                wh.push(format!(
                    "status = {}",
                    arg(&mut args, V::Text(s.code().into()))
                ));
            }
            if let Some(t) = filter.tlp {
                wh.push(format!(
                    "tlp = {}",
                    arg(&mut args, V::Text(t.code().into()))
                ));
            }
            if let Some(o) = filter.org_id {
                wh.push(format!("org_id = {}", arg(&mut args, V::Integer(o.0))));
            }
            if let Some(orgs) = &filter.visible_orgs {
                if orgs.is_empty() {
                    wh.push("0".into());
                } else {
                    let list: Vec<String> = orgs
                        .iter()
                        .map(|o| arg(&mut args, V::Integer(o.0)))
                        .collect();
                    wh.push(format!("org_id IN ({})", list.join(",")));
                }
            }
            // Security (issue 6).
            if let Some(vis) = &filter.visibility {
                wh.push(security::visibility_where(vis, &mut args));
            }
            let where_sql = if wh.is_empty() {
                String::new()
            } else {
                format!("WHERE {}", wh.join(" AND "))
            };
            let order = match filter.sort {
                ReportSort::ReportedDesc => "reported_at DESC, id DESC",
                ReportSort::ReportedAsc => "reported_at ASC, id ASC",
                ReportSort::SeverityDesc => {
                    "severity IS NULL, severity DESC, reported_at DESC, id DESC"
                }
                ReportSort::UpdatedDesc => "updated_at DESC, id DESC",
            };
            let total: i64 = c
                .query_row(
                    &format!("SELECT COUNT(*) FROM reports {where_sql}"),
                    rusqlite::params_from_iter(args.iter()),
                    |r| r.get(0),
                )
                .map_err(db_err)?;
            let limit = arg(&mut args, V::Integer(page.size.into()));
            let offset = arg(
                &mut args,
                V::Integer(i64::try_from(page.offset()).unwrap_or(i64::MAX)),
            );
            let ids: Vec<i64> = {
                let mut st = c
                    .prepare(&format!(
                        "SELECT id FROM reports {where_sql} ORDER BY {order}
                         LIMIT {limit} OFFSET {offset}"
                    ))
                    .map_err(db_err)?;
                st.query_map(rusqlite::params_from_iter(args.iter()), |r| r.get(0))
                    .map_err(db_err)?
                    .collect::<rusqlite::Result<_>>()
                    .map_err(db_err)?
            };
            let items = ids
                .into_iter()
                .map(|id| load_report(c, ReportId(id)))
                .collect::<StoreResult<Vec<_>>>()?;
            Ok(Paged {
                items,
                total: u64::try_from(total).unwrap_or(0),
                page,
            })
        })
        .await
    }

    async fn report_history(&self, id: ReportId) -> StoreResult<Vec<HistoryEntry>> {
        self.read(move |c| history(c, Entity::Report, id.0)).await
    }
}
