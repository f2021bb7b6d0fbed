//! `kizuki check` for SQLite: the file's own integrity, foreign keys, then kizuki's
//! invariants (every report starts with a first report, stages count 1..n, cooperation
//! entries and editions count 1..n, records decode).

use super::{SCHEMA_VERSION, load_case, load_report, load_survey};
use kizuki_domain::ids::{CaseId, ReportId};
use kizuki_store::{Problem, StoreResult};
use rusqlite::Connection;

const RESTORE: &str = "restore the latest backup with `kizuki restore FILE`";

fn problem(what: impl Into<String>, fix: &str) -> Problem {
    Problem {
        what: what.into(),
        fix: fix.to_owned(),
    }
}

pub fn run(c: &Connection) -> StoreResult<Vec<Problem>> {
    let mut out = Vec::new();
    // A damaged file can fail the very first query; that is a finding, not a crash.
    let integrity: Vec<String> = match c
        .prepare("PRAGMA integrity_check")
        .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
    {
        Ok(v) => v,
        Err(e) => vec![format!("integrity check could not run: {e}")],
    };
    if integrity != ["ok"] {
        for line in integrity.into_iter().take(20) {
            out.push(problem(format!("database file damaged: {line}"), RESTORE));
        }
        return Ok(out);
    }
    let fk: rusqlite::Result<Vec<(String, i64)>> = c
        .prepare("PRAGMA foreign_key_check")
        .and_then(|mut st| st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect());
    match fk {
        Ok(rows) => {
            for (table, rowid) in rows {
                out.push(problem(
                    format!("{table} row {rowid} refers to a missing record"),
                    RESTORE,
                ));
            }
        }
        Err(e) => out.push(problem(format!("foreign key check failed: {e}"), RESTORE)),
    }
    let version: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap_or(-1);
    if version != SCHEMA_VERSION {
        out.push(problem(
            format!("schema version {version}, expected {SCHEMA_VERSION}"),
            "open the database with this kizuki version to migrate it",
        ));
        return Ok(out);
    }
    let ids = |sql: &str| -> Vec<i64> {
        c.prepare(sql)
            .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
            .unwrap_or_default()
    };
    for id in ids("SELECT id FROM reports ORDER BY id") {
        match load_report(c, ReportId(id)) {
            Err(e) => out.push(problem(format!("report {id} cannot be read: {e}"), RESTORE)),
            Ok(r) => {
                let causes: Vec<String> = c
                    .prepare("SELECT cause FROM report_causes WHERE report_id = ?1 ORDER BY cause")
                    .and_then(|mut st| st.query_map([id], |r| r.get(0))?.collect())
                    .unwrap_or_default();
                out.extend(Problem::of_report(&r, &causes, RESTORE));
            }
        }
    }
    for id in ids("SELECT id FROM cases ORDER BY id") {
        if let Err(e) = load_case(c, CaseId(id)) {
            out.push(problem(format!("case {id} cannot be read: {e}"), RESTORE));
        }
    }
    for fy in ids("SELECT fiscal_year FROM surveys ORDER BY fiscal_year") {
        let fy = i32::try_from(fy).unwrap_or_default();
        if let Err(e) = load_survey(c, fy) {
            out.push(problem(format!("survey {fy} cannot be read: {e}"), RESTORE));
        }
    }
    // The survey year: cooperation histories and editions decode and count 1, 2, 3….
    for id in ids("SELECT DISTINCT case_id FROM cooperation_records ORDER BY case_id") {
        match crate::year::cooperation_history(c, CaseId(id)) {
            Err(e) => out.push(problem(
                format!("case {id} cooperation history cannot be read: {e}"),
                RESTORE,
            )),
            Ok(h) => out.extend(Problem::of_cooperation(CaseId(id), &h, RESTORE)),
        }
    }
    for fy in ids("SELECT DISTINCT survey_year FROM editions ORDER BY survey_year") {
        let fy = i32::try_from(fy).unwrap_or_default();
        match crate::year::editions(c, fy) {
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

/// Whether `e`, or an error it was caused by, is SQLite saying the file is damaged or is not
/// a database: what `kizuki check` answers with "restore a backup" even when the database
/// cannot be opened at all.
pub fn is_corruption(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(err) = next {
        if let Some(rusqlite::Error::SqliteFailure(f, _)) = err.downcast_ref::<rusqlite::Error>()
            && matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase
            )
        {
            return true;
        }
        next = err.source();
    }
    false
}

/// What `kizuki check` tells the operator when damage keeps the database from opening.
pub const RESTORE_ADVICE: &str = RESTORE;
