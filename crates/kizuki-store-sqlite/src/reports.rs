//! Information reports in SQLite: the report row with its filter columns, its stages,
//! history and links.

use crate::*;
use kizuki_store::prelude::*;

pub(crate) fn link_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ReportLink> {
    let kind: String = r.get("kind")?;
    Ok(ReportLink {
        from: ReportId(r.get("from_id")?),
        to: ReportId(r.get("to_id")?),
        kind: LinkKind::parse(&kind).ok_or_else(|| codec::bad("report_links.kind", &kind))?,
        at: time_from(&r.get::<_, String>("at")?)?,
        by: r.get::<_, Option<i64>>("by_user")?.map(UserId),
    })
}

pub(crate) fn report_exists(c: &Connection, id: ReportId) -> StoreResult<()> {
    let found: Option<i64> = c
        .query_row("SELECT id FROM reports WHERE id = ?1", [id.0], |r| r.get(0))
        .optional()
        .map_err(db_err)?;
    found
        .map(|_| ())
        .ok_or_else(|| StoreError::not_found("report", id))
}

pub(crate) fn load_report(c: &Connection, id: ReportId) -> StoreResult<Report> {
    let row = c
        .query_row(
            "SELECT org_id, version, status, reported_at, updated_at, details
             FROM reports WHERE id = ?1",
            [id.0],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                ))
            },
        )
        .optional()
        .map_err(db_err)?
        .ok_or_else(|| StoreError::not_found("report", id))?;
    let (org_id, version, status, reported_at, updated_at, details) = row;
    let mut st = c
        .prepare_cached(
            "SELECT seq, kind, at, text, author FROM report_stages
             WHERE report_id = ?1 ORDER BY seq",
        )
        .map_err(db_err)?;
    let stages = st
        .query_map([id.0], |r| {
            let kind: String = r.get(1)?;
            Ok(Stage {
                seq: r.get(0)?,
                kind: StageKind::parse(&kind)
                    .ok_or_else(|| codec::bad("report_stages.kind", &kind))?,
                at: time_from(&r.get::<_, String>(2)?)?,
                text: r.get(3)?,
                author: r.get::<_, Option<i64>>(4)?.map(UserId),
            })
        })
        .map_err(db_err)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db_err)?;
    let case_id = c
        .query_row(
            "SELECT id FROM cases WHERE report_id = ?1 ORDER BY id LIMIT 1",
            [id.0],
            |r| r.get::<_, i64>(0),
        )
        .optional()
        .map_err(db_err)?
        .map(CaseId);
    Ok(Report {
        id,
        version,
        org_id: OrgId(org_id),
        status: ReportStatus::parse(&status)
            .ok_or_else(|| db_err(codec::bad("reports.status", &status)))?,
        reported_at: time_from(&reported_at).map_err(db_err)?,
        updated_at: time_from(&updated_at).map_err(db_err)?,
        details: from_json(&details).map_err(db_err)?,
        stages,
        case_id,
    })
}

pub(crate) fn write_report_columns(
    tx: &Transaction<'_>,
    id: ReportId,
    d: &ReportDetails,
) -> StoreResult<()> {
    tx.execute(
        "UPDATE reports SET sector = ?2, event_type = ?3, severity = ?4, tlp = ?5, details = ?6,
         occurred_fy = ?7 WHERE id = ?1",
        params![
            id.0,
            d.sector.as_str(),
            d.event_type.as_str(),
            d.severity.map(|s| s.level()),
            d.tlp.code(),
            to_json(d).map_err(db_err)?,
            d.occurred_fiscal_year()
        ],
    )
    .map_err(db_err)?;
    tx.execute("DELETE FROM report_causes WHERE report_id = ?1", [id.0])
        .map_err(db_err)?;
    for cause in &d.causes {
        tx.execute(
            "INSERT OR IGNORE INTO report_causes (report_id, cause) VALUES (?1, ?2)",
            params![id.0, cause.as_str()],
        )
        .map_err(db_err)?;
    }
    Ok(())
}

pub(crate) fn bump_report(
    tx: &Transaction<'_>,
    id: ReportId,
    at: DateTime<Utc>,
    by: Option<UserId>,
    action: &str,
) -> StoreResult<Report> {
    tx.execute(
        "UPDATE reports SET version = version + 1, updated_at = ?2 WHERE id = ?1",
        params![id.0, time_to(at)],
    )
    .map_err(db_err)?;
    let r = load_report(tx, id)?;
    record_history(tx, Entity::Report, id.0, r.version, at, by, action, &r)?;
    Ok(r)
}

pub(crate) fn report_conflict(tx: &Transaction<'_>, id: ReportId) -> StoreError {
    match load_report(tx, id) {
        Ok(cur) => StoreError::Conflict {
            entity: "report",
            current: Current::Report(Box::new(cur)),
        },
        Err(e) => e,
    }
}

pub(crate) fn insert_stage(
    tx: &Transaction<'_>,
    id: ReportId,
    seq: i64,
    s: &NewStage,
) -> StoreResult<()> {
    let mut st = tx
        .prepare_cached(
            "INSERT INTO report_stages (report_id, seq, kind, at, text, author)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .map_err(db_err)?;
    st.execute(params![
        id.0,
        seq,
        s.kind.code(),
        time_to(s.at),
        s.text,
        s.author.map(|u| u.0)
    ])
    .map_err(db_err)?;
    Ok(())
}

/// Inserts one report with its first stage, history entry and change-feed entry.
pub(crate) fn insert_report(tx: &Transaction<'_>, report: &NewReport) -> StoreResult<Report> {
    let at = report.first.at;
    let day = jst_date(at);
    // Dates before 1873 have no 年度; they cannot be filed, so any number will do.
    let fy = FiscalYear::of(day).map_or(day.year(), FiscalYear::year);
    let d = &report.details;
    let details = to_json(d).map_err(db_err)?;
    let at_text = time_to(at);
    // All columns in one insert, for intake speed: a new report has no causes to
    // clear, so `write_report_columns` would only repeat work here.
    tx.prepare_cached(
        "INSERT INTO reports (org_id, version, status, reported_at, updated_at,
         fiscal_year, sector, event_type, severity, tlp, details, occurred_fy)
         VALUES (?1, 1, 'new', ?2, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .and_then(|mut st| {
        st.execute(params![
            report.org_id.0,
            at_text,
            fy,
            d.sector.as_str(),
            d.event_type.as_str(),
            d.severity.map(|s| s.level()),
            d.tlp.code(),
            details,
            d.occurred_fiscal_year()
        ])
    })
    .map_err(db_err)?;
    let id = ReportId(tx.last_insert_rowid());
    for cause in &d.causes {
        tx.prepare_cached("INSERT OR IGNORE INTO report_causes (report_id, cause) VALUES (?1, ?2)")
            .and_then(|mut st| st.execute(params![id.0, cause.as_str()]))
            .map_err(db_err)?;
    }
    insert_stage(tx, id, 1, &report.first)?;
    // The report as `load_report` would read it back, built here instead of re-read: times
    // at the stored precision and the details through their stored JSON.
    let stored_at = time_from(&at_text).map_err(db_err)?;
    let r = Report {
        id,
        version: 1,
        org_id: report.org_id,
        status: ReportStatus::New,
        reported_at: stored_at,
        updated_at: stored_at,
        details: from_json(&details).map_err(db_err)?,
        stages: vec![Stage {
            seq: 1,
            kind: report.first.kind,
            at: stored_at,
            text: report.first.text.clone(),
            author: report.first.author,
        }],
        case_id: None,
    };
    record_history(
        tx,
        Entity::Report,
        id.0,
        1,
        at,
        report.first.author,
        "create",
        &r,
    )?;
    Ok(r)
}

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

    async fn get_reports(&self, ids: &[ReportId]) -> StoreResult<Vec<Report>> {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        self.read_store(move |c| {
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                match load_report(c, id) {
                    Ok(r) => out.push(r),
                    Err(StoreError::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(out)
        })
        .await
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
            let w = kizuki_store::sql::report_where(&filter, &SqliteDialect);
            let where_sql = w.sql;
            let order = kizuki_store::sql::report_order(filter.sort);
            let mut args: Vec<rusqlite::types::Value> =
                w.args.into_iter().flat_map(sql_values).collect();
            let arg = |args: &mut Vec<rusqlite::types::Value>, v: rusqlite::types::Value| {
                args.push(v);
                format!("?{}", args.len())
            };
            use rusqlite::types::Value as V;
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

/// SQLite numbers its placeholders `?1` and binds one parameter per list element.
pub(crate) struct SqliteDialect;

impl kizuki_store::sql::Dialect for SqliteDialect {
    fn placeholder(&self, n: usize) -> String {
        format!("?{n}")
    }

    fn binds_arrays(&self) -> bool {
        false
    }
}

/// A shared parameter as SQLite binds it (a list never reaches here: see `binds_arrays`).
fn sql_values(v: kizuki_store::sql::SqlValue) -> Vec<rusqlite::types::Value> {
    use kizuki_store::sql::SqlValue as S;
    use rusqlite::types::Value as V;
    match v {
        S::I16(i) => vec![V::Integer(i.into())],
        S::I32(i) => vec![V::Integer(i.into())],
        S::I64(i) => vec![V::Integer(i)],
        S::Text(t) => vec![V::Text(t)],
        S::I64List(l) => l.into_iter().map(V::Integer).collect(),
        S::TextList(l) => l.into_iter().map(V::Text).collect(),
    }
}
