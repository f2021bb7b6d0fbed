//! Information reports in PostgreSQL: the report row with its filter columns, its stages,
//! history and links.

use crate::*;
use kizuki_store::prelude::*;

pub(crate) async fn write_report_columns(
    tx: &Transaction<'_>,
    id: ReportId,
    d: &ReportDetails,
) -> StoreResult<()> {
    tx.cached_execute(
        "UPDATE reports SET sector = $2, event_type = $3, severity = $4, tlp = $5, details = $6,
         occurred_fy = $7 WHERE id = $1",
        &[
            &id.0,
            &d.sector.as_str(),
            &d.event_type.as_str(),
            &d.severity.map(|s| i16::from(s.level())),
            &d.tlp.code(),
            &json(d)?,
            &d.occurred_fiscal_year(),
        ],
    )
    .await
    .map_err(pg_err)?;
    tx.cached_execute("DELETE FROM report_causes WHERE report_id = $1", &[&id.0])
        .await
        .map_err(pg_err)?;
    for cause in &d.causes {
        tx.cached_execute(
            "INSERT INTO report_causes (report_id, cause) VALUES ($1, $2)
             ON CONFLICT DO NOTHING",
            &[&id.0, &cause.as_str()],
        )
        .await
        .map_err(pg_err)?;
    }
    Ok(())
}

pub(crate) async fn bump_report(
    tx: &Transaction<'_>,
    id: ReportId,
    at: DateTime<Utc>,
    by: Option<UserId>,
    action: &str,
) -> StoreResult<Report> {
    tx.cached_execute(
        "UPDATE reports SET version = version + 1, updated_at = $2 WHERE id = $1",
        &[&id.0, &at],
    )
    .await
    .map_err(pg_err)?;
    let r = load_report(tx, id).await?;
    record_history(
        tx,
        Revision {
            entity: Entity::Report,
            id: id.0,
            version: r.version,
            at,
            by,
            action,
            snapshot: &r,
        },
    )
    .await?;
    Ok(r)
}

pub(crate) async fn report_conflict(tx: &Transaction<'_>, id: ReportId) -> StoreError {
    match load_report(tx, id).await {
        Ok(cur) => StoreError::Conflict {
            entity: "report",
            current: Current::Report(Box::new(cur)),
        },
        Err(e) => e,
    }
}

pub(crate) async fn check_report_version(
    tx: &Transaction<'_>,
    id: ReportId,
    expected: i64,
) -> StoreResult<()> {
    let v = lock_version(tx, "reports", "id", &id.0, "report", id.to_string()).await?;
    if v == expected {
        Ok(())
    } else {
        Err(report_conflict(tx, id).await)
    }
}

pub(crate) async fn insert_stage(
    tx: &Transaction<'_>,
    id: ReportId,
    seq: i32,
    s: &NewStage,
) -> StoreResult<()> {
    tx.cached_execute(
        "INSERT INTO report_stages (report_id, seq, kind, at, text, author)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &id.0,
            &seq,
            &s.kind.code(),
            &s.at,
            &s.text,
            &s.author.map(|u| u.0),
        ],
    )
    .await
    .map_err(pg_err)?;
    Ok(())
}

/// A time as a `timestamptz` column gives it back: whole microseconds since 2000-01-01,
/// cut the way tokio-postgres converts it.
pub(crate) fn as_stored(t: DateTime<Utc>) -> DateTime<Utc> {
    let base = DateTime::<Utc>::from_naive_utc_and_offset(
        chrono::NaiveDate::from_ymd_opt(2000, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .unwrap_or_default(),
        Utc,
    );
    match (t - base).num_microseconds() {
        Some(us) => base + chrono::Duration::microseconds(us),
        None => t,
    }
}

/// Inserts one report with its first stage, causes, history entry and change-feed entry in
/// one statement, so a filing outside a transaction is atomic on its own and costs one round
/// trip: intake on PostgreSQL is bound by round trips, not by the work of each insert.
pub(crate) async fn insert_report<C: deadpool_postgres::GenericClient + Sync>(
    c: &C,
    report: &NewReport,
) -> StoreResult<Report> {
    let at = report.first.at;
    let day = jst_date(at);
    // Dates before 1873 have no 年度; they cannot be filed, so any number will do.
    let fy = FiscalYear::of(day).map_or(day.year(), FiscalYear::year);
    let d = &report.details;
    let details = json(d)?;
    let stored_at = as_stored(at);
    // The result is built here instead of read back; its id is filled in once known.
    let mut r = Report {
        id: ReportId(0),
        version: 1,
        org_id: report.org_id,
        status: ReportStatus::New,
        reported_at: stored_at,
        updated_at: stored_at,
        details: serde_json::from_str(&details).map_err(StoreError::backend)?,
        stages: vec![kizuki_domain::report::Stage {
            seq: 1,
            kind: report.first.kind,
            at: stored_at,
            text: report.first.text.clone(),
            author: report.first.author,
        }],
        case_id: None,
    };
    // The history snapshot is the report as serialised, whose first member is the id the
    // insert draws: the statement puts the id in front of the rest of the text.
    let snapshot = json(&r)?;
    let rest = snapshot
        .strip_prefix(r#"{"id":0"#)
        .ok_or_else(|| StoreError::Invalid("a report's snapshot must begin with its id".into()))?;
    let causes: Vec<&str> = d.causes.iter().map(Code::as_str).collect();
    let author = report.first.author.map(|u| u.0);
    let row = c
        .cached_query_one(
            r#"WITH r AS (
                 INSERT INTO reports (org_id, version, status, reported_at, updated_at,
                   fiscal_year, sector, event_type, severity, tlp, details, occurred_fy)
                 VALUES ($1, 1, 'new', $2, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id),
               s AS (INSERT INTO report_stages (report_id, seq, kind, at, text, author)
                 SELECT id, 1, $10, $2, $11, $12 FROM r),
               c AS (INSERT INTO report_causes (report_id, cause)
                 SELECT DISTINCT r.id, x FROM r, unnest($13::text[]) AS x),
               h AS (INSERT INTO history (entity, entity_id, version, at, user_id, action,
                   snapshot)
                 SELECT 'report', id, 1, $2, $12, 'create', '{"id":' || id || $14 FROM r),
               p AS (INSERT INTO changes_pending (entity, entity_id, at)
                 SELECT 'report', id, $2 FROM r)
             SELECT id FROM r"#,
            &[
                &report.org_id.0,
                &at,
                &fy,
                &d.sector.as_str(),
                &d.event_type.as_str(),
                &d.severity.map(|s| i16::from(s.level())),
                &d.tlp.code(),
                &details,
                &d.occurred_fiscal_year(),
                &report.first.kind.code(),
                &report.first.text,
                &author,
                &causes,
                &rest,
            ],
        )
        .await
        .map_err(pg_err)?;
    r.id = ReportId(row.get(0));
    Ok(r)
}

#[async_trait]
impl ReportStore for PgStore {
    async fn link_reports(&self, link: ReportLink) -> StoreResult<()> {
        if link.from == link.to {
            return Err(StoreError::Invalid(format!(
                "report {} cannot be linked to itself",
                link.from
            )));
        }
        in_tx!(self, |tx| {
            for id in [link.from, link.to] {
                lock_version(&tx, "reports", "id", &id.0, "report", id.to_string()).await?;
            }
            tx.cached_execute(
                "DELETE FROM report_links WHERE (from_id = $1 AND to_id = $2)
                 OR (from_id = $2 AND to_id = $1)",
                &[&link.from.0, &link.to.0],
            )
            .await
            .map_err(pg_err)?;
            tx.cached_execute(
                "INSERT INTO report_links (from_id, to_id, kind, at, by_user)
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &link.from.0,
                    &link.to.0,
                    &link.kind.code(),
                    &link.at,
                    &link.by.map(|u| u.0),
                ],
            )
            .await
            .map_err(pg_err)?;
            record_change(&tx, Entity::Report, link.from.0, link.at).await?;
            record_change(&tx, Entity::Report, link.to.0, link.at).await
        })
    }

    async fn unlink_reports(&self, a: ReportId, b: ReportId) -> StoreResult<()> {
        let now = self.now();
        in_tx!(self, |tx| {
            let n = tx
                .cached_execute(
                    "DELETE FROM report_links WHERE (from_id = $1 AND to_id = $2)
                     OR (from_id = $2 AND to_id = $1)",
                    &[&a.0, &b.0],
                )
                .await
                .map_err(pg_err)?;
            if n > 0 {
                record_change(&tx, Entity::Report, a.0, now).await?;
                record_change(&tx, Entity::Report, b.0, now).await?;
            }
            Ok(())
        })
    }

    async fn report_links(&self, id: ReportId) -> StoreResult<Vec<ReportLink>> {
        let c = self.client().await?;
        c.cached_query(
            "SELECT from_id, to_id, kind, at, by_user FROM report_links
             WHERE from_id = $1 OR to_id = $1 ORDER BY at, from_id, to_id",
            &[&id.0],
        )
        .await
        .map_err(pg_err)?
        .iter()
        .map(|r| {
            let kind: String = r.get(2);
            Ok(ReportLink {
                from: ReportId(r.get(0)),
                to: ReportId(r.get(1)),
                kind: LinkKind::parse(&kind)
                    .ok_or_else(|| StoreError::Invalid(format!("report_links.kind {kind:?}")))?,
                at: r.get(3),
                by: r.get::<_, Option<i64>>(4).map(UserId),
            })
        })
        .collect()
    }

    async fn create_report(&self, report: NewReport) -> StoreResult<Report> {
        insert_report(&self.client().await?, &report).await
    }

    async fn create_reports(&self, reports: Vec<NewReport>) -> StoreResult<Vec<Report>> {
        if reports.is_empty() {
            return Ok(Vec::new());
        }
        in_tx!(self, |tx| {
            let mut out = Vec::with_capacity(reports.len());
            for r in &reports {
                out.push(insert_report(&tx, r).await?);
            }
            Ok(out)
        })
    }

    async fn get_report(&self, id: ReportId) -> StoreResult<Report> {
        load_report(&self.client().await?, id).await
    }

    async fn get_reports(&self, ids: &[ReportId]) -> StoreResult<Vec<Report>> {
        load_reports(&self.client().await?, ids).await
    }

    async fn update_report(
        &self,
        id: ReportId,
        expected_version: i64,
        details: ReportDetails,
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<Report> {
        in_tx!(self, |tx| {
            check_report_version(&tx, id, expected_version).await?;
            write_report_columns(&tx, id, &details).await?;
            bump_report(&tx, id, at, by, "update").await
        })
    }

    async fn set_report_status(
        &self,
        id: ReportId,
        expected_version: i64,
        status: ReportStatus,
        by: Option<UserId>,
        at: DateTime<Utc>,
    ) -> StoreResult<Report> {
        in_tx!(self, |tx| {
            check_report_version(&tx, id, expected_version).await?;
            tx.cached_execute(
                "UPDATE reports SET status = $2 WHERE id = $1",
                &[&id.0, &status.code()],
            )
            .await
            .map_err(pg_err)?;
            bump_report(&tx, id, at, by, &format!("status:{}", status.code())).await
        })
    }

    async fn add_stage(&self, id: ReportId, stage: NewStage) -> StoreResult<Report> {
        in_tx!(self, |tx| {
            lock_version(&tx, "reports", "id", &id.0, "report", id.to_string()).await?;
            let next: i32 = tx
                .cached_query_one(
                    "SELECT COALESCE(MAX(seq), 0) + 1 FROM report_stages WHERE report_id = $1",
                    &[&id.0],
                )
                .await
                .map_err(pg_err)?
                .get(0);
            insert_stage(&tx, id, next, &stage).await?;
            bump_report(
                &tx,
                id,
                stage.at,
                stage.author,
                &format!("stage:{}", stage.kind.code()),
            )
            .await
        })
    }

    async fn list_reports(&self, filter: &ReportFilter, page: Page) -> StoreResult<Paged<Report>> {
        let c = self.client().await?;
        let w = kizuki_store::sql::report_where(filter, &PgDialect);
        let where_sql = w.sql;
        let order = kizuki_store::sql::report_order(filter.sort);
        let args: Vec<Box<dyn ToSql + Sync + Send>> = w.args.into_iter().map(pg_value).collect();
        let params: Vec<&(dyn ToSql + Sync)> = args
            .iter()
            .map(|a| a.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let total: i64 = c
            .query_one(
                &format!("SELECT COUNT(*) FROM reports {where_sql}"),
                &params,
            )
            .await
            .map_err(pg_err)?
            .get(0);
        let limit = i64::from(page.size);
        let offset = i64::try_from(page.offset()).unwrap_or(i64::MAX);
        let mut params = params;
        let n = params.len();
        params.push(&limit);
        params.push(&offset);
        let ids: Vec<i64> = c
            .query(
                &format!(
                    "SELECT id FROM reports {where_sql} ORDER BY {order} LIMIT ${} OFFSET ${}",
                    n + 1,
                    n + 2
                ),
                &params,
            )
            .await
            .map_err(pg_err)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut items = Vec::with_capacity(ids.len());
        for id in ids {
            items.push(load_report(&c, ReportId(id)).await?);
        }
        Ok(Paged {
            items,
            total: u64::try_from(total).unwrap_or(0),
            page,
        })
    }

    async fn report_history(&self, id: ReportId) -> StoreResult<Vec<HistoryEntry>> {
        history(&self.client().await?, Entity::Report, id.0).await
    }
}

/// PostgreSQL numbers its placeholders `$1` and binds a list as one array.
pub(crate) struct PgDialect;

impl kizuki_store::sql::Dialect for PgDialect {
    fn placeholder(&self, n: usize) -> String {
        format!("${n}")
    }

    fn binds_arrays(&self) -> bool {
        true
    }
}

/// A shared parameter as PostgreSQL binds it, typed as its column.
fn pg_value(v: kizuki_store::sql::SqlValue) -> Box<dyn ToSql + Sync + Send> {
    use kizuki_store::sql::SqlValue as S;
    match v {
        S::I16(i) => Box::new(i),
        S::I32(i) => Box::new(i),
        S::I64(i) => Box::new(i),
        S::Text(t) => Box::new(t),
        S::I64List(l) => Box::new(l),
        S::TextList(l) => Box::new(l),
    }
}
