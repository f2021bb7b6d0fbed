//! `kizuki check` for PostgreSQL: the schema version, then kizuki's invariants (every report
//! starts with a first report, stages count 1..n, the cause index agrees, cooperation entries
//! and editions count 1..n, records decode).
//! Physical integrity is PostgreSQL's own (checksums, WAL); see docs/OPERATIONS.md.

use crate::cached::Cached as _;
use crate::rows::{load_case, load_report, load_survey};
use crate::{SCHEMA_VERSION, pg_err};
use kizuki_domain::ids::{CaseId, ReportId};
use kizuki_store::{Problem, StoreResult};

const RESTORE: &str = "restore the latest pg_dump backup (docs/OPERATIONS.md)";

fn problem(what: String, fix: &str) -> Problem {
    Problem {
        what,
        fix: fix.to_owned(),
    }
}

pub async fn run(c: &deadpool_postgres::Client) -> StoreResult<Vec<Problem>> {
    let mut out = Vec::new();
    let version: i64 = c
        .cached_query_opt("SELECT version FROM kizuki_schema", &[])
        .await
        .map_err(pg_err)?
        .map_or(0, |r| r.get(0));
    if version != SCHEMA_VERSION {
        out.push(problem(
            format!("schema version {version}, expected {SCHEMA_VERSION}"),
            "start this kizuki version once to migrate",
        ));
        return Ok(out);
    }
    let ids =
        |rows: Vec<tokio_postgres::Row>| -> Vec<i64> { rows.iter().map(|r| r.get(0)).collect() };
    let reports = ids(c
        .cached_query("SELECT id FROM reports ORDER BY id", &[])
        .await
        .map_err(pg_err)?);
    for id in reports {
        match load_report(c, ReportId(id)).await {
            Err(e) => out.push(problem(format!("report {id} cannot be read: {e}"), RESTORE)),
            Ok(r) => {
                let causes: Vec<String> = c
                    .cached_query(
                        "SELECT cause FROM report_causes WHERE report_id = $1 ORDER BY cause",
                        &[&id],
                    )
                    .await
                    .map_err(pg_err)?
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                out.extend(Problem::of_report(&r, &causes, RESTORE));
            }
        }
    }
    let cases = ids(c
        .cached_query("SELECT id FROM cases ORDER BY id", &[])
        .await
        .map_err(pg_err)?);
    for id in cases {
        if let Err(e) = load_case(c, CaseId(id)).await {
            out.push(problem(format!("case {id} cannot be read: {e}"), RESTORE));
        }
    }
    let surveys: Vec<i32> = c
        .cached_query("SELECT fiscal_year FROM surveys ORDER BY fiscal_year", &[])
        .await
        .map_err(pg_err)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for fy in surveys {
        if let Err(e) = load_survey(c, fy).await {
            out.push(problem(format!("survey {fy} cannot be read: {e}"), RESTORE));
        }
    }
    // The survey year: cooperation histories and editions decode and count 1, 2, 3….
    let cooperating = ids(c
        .cached_query(
            "SELECT DISTINCT case_id FROM cooperation_records ORDER BY case_id",
            &[],
        )
        .await
        .map_err(pg_err)?);
    for id in cooperating {
        match crate::year::cooperation_history(c, CaseId(id)).await {
            Err(e) => out.push(problem(
                format!("case {id} cooperation history cannot be read: {e}"),
                RESTORE,
            )),
            Ok(h) => out.extend(Problem::of_cooperation(CaseId(id), &h, RESTORE)),
        }
    }
    let published: Vec<i32> = c
        .cached_query(
            "SELECT DISTINCT survey_year FROM editions ORDER BY survey_year",
            &[],
        )
        .await
        .map_err(pg_err)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for fy in published {
        match crate::year::editions(c, fy).await {
            Err(e) => out.push(problem(
                format!("survey {fy} editions cannot be read: {e}"),
                RESTORE,
            )),
            Ok(eds) => out.extend(Problem::of_editions(fy, &eds, RESTORE)),
        }
    }
    // Publication: a published case without the operator's approval is
    // `kizuki_app::publication::check`'s finding (it also names the approved text), so the
    // store does not report it a second time.
    Ok(out)
}
