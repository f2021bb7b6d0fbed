//! Embedded migrations, applied in order inside one transaction; `PRAGMA user_version`
//! records how far a database has come.

use rusqlite::Connection;

const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_tokens_links.sql"),
    include_str!("../migrations/0003_selection.sql"),
    include_str!("../migrations/0004_security.sql"),
    include_str!("../migrations/0005_publication.sql"),
    // Reminders.
    include_str!("../migrations/0006_reminders.sql"),
    // Accounts: version 7.
    include_str!("../migrations/0007_accounts.sql"),
    // Browser sessions in the database (shared by every node): version 8.
    include_str!("../migrations/0008_sessions.sql"),
    // The survey year: reopened selections, cooperation records, editions: version 9.
    include_str!("../migrations/0009_year.sql"),
    // Interviews: requests, minutes, written questions, attachments, notices: version 10.
    include_str!("../migrations/0010_interviews.sql"),
    // Organisations enabled or not, their contacts, forwarded reports: version 11.
    include_str!("../migrations/0011_org_admin.sql"),
    // The 年度 of a report's occurrence, beside the one it was filed in: version 12.
    include_str!("../migrations/0012_occurred_year.sql"),
    // An API token's first use: version 13.
    include_str!("../migrations/0013_token_use.sql"),
    // Token buckets shared by every node: version 14.
    include_str!("../migrations/0014_rate_buckets.sql"),
    include_str!("../migrations/0015_lesson_themes.sql"),
    // Self-assessments and countermeasure follow-up: version 16.
    include_str!("../migrations/0016_adoption.sql"),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub fn run(c: &mut Connection) -> rusqlite::Result<()> {
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let current: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > SCHEMA_VERSION {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "database schema version {current} is newer than this kizuki ({SCHEMA_VERSION}); \
             upgrade kizuki"
        )));
    }
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(current).unwrap_or(0))
    {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
    }
    tx.commit()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test stops at the line that failed")]

    use super::*;

    /// A database migrated to `version`, with one operator organisation (id 1).
    fn at_version(version: usize) -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let c = Connection::open(dir.path().join("k.db")).unwrap();
        c.execute_batch("PRAGMA foreign_keys = ON").unwrap();
        for (i, sql) in MIGRATIONS.iter().take(version).enumerate() {
            c.execute_batch(sql).unwrap();
            c.pragma_update(None, "user_version", i as i64 + 1).unwrap();
        }
        c.execute(
            "INSERT INTO organisations (id, key, name, kind, sectors, version)
               VALUES (1, 'op', 'op', 'operator', '[]', 1)",
            [],
        )
        .unwrap();
        (dir, c)
    }

    /// Version 9 rebuilds the selection tables; a database at version 8 must keep every
    /// selection and member (dropping the old table must not cascade to the members).
    #[test]
    fn version_9_keeps_selections_and_their_members() {
        let (_dir, mut c) = at_version(8);
        c.execute_batch(
            "INSERT INTO reports (id, org_id, version, status, reported_at, updated_at,
                                  fiscal_year, sector, event_type, tlp, details)
               VALUES (1, 1, 1, 'open', 't', 't', 2019, 'railway', 'x', 'amber', '{}'),
                      (2, 1, 1, 'open', 't', 't', 2019, 'railway', 'x', 'amber', '{}');
             INSERT INTO cases (id, survey_year, number, report_id, version, content)
               VALUES (5, 2019, 1, 1, 1, '{}');
             INSERT INTO selections (id, survey_year, version, status, snapshot, created_at)
               VALUES (3, 2019, 2, 'confirmed', '{\"a\":1}', 't'),
                      (4, 2019, 1, 'draft', '{}', 't');
             INSERT INTO selection_members (selection_id, report_id, chosen, rank, case_id)
               VALUES (3, 1, 1, 1, 5), (3, 2, 0, 2, NULL), (4, 2, 1, 1, NULL);",
        )
        .unwrap();
        run(&mut c).unwrap();
        let v: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        let members: Vec<(i64, i64, Option<i64>)> = c
            .prepare("SELECT selection_id, report_id, case_id FROM selection_members ORDER BY 1, 2")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(members, vec![(3, 1, Some(5)), (3, 2, None), (4, 2, None)]);
        let snapshot: String = c
            .query_row("SELECT snapshot FROM selections WHERE id = 3", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(snapshot, r#"{"a":1}"#);
        let dangling: i64 = c
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(dangling, 0);
        // The rebuilt tables still cascade, still allow one confirmed selection per survey,
        // and now allow a reopened one.
        c.execute("UPDATE selections SET status = 'reopened' WHERE id = 3", [])
            .unwrap();
        c.execute(
            "UPDATE selections SET status = 'confirmed' WHERE id = 4",
            [],
        )
        .unwrap();
        assert!(
            c.execute(
                "UPDATE selections SET status = 'confirmed' WHERE id = 3",
                []
            )
            .is_err()
        );
        assert!(
            c.execute("UPDATE selections SET status = 'gone' WHERE id = 3", [])
                .is_err()
        );
        c.execute("DELETE FROM selections WHERE id = 3", [])
            .unwrap();
        let left: i64 = c
            .query_row("SELECT count(*) FROM selection_members", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 1);
    }

    /// Version 12 fills the 年度 of occurrence of the reports already stored, by the date
    /// in Japan, and leaves it empty where the occurrence is unknown.
    #[test]
    fn version_12_gives_stored_reports_their_year_of_occurrence() {
        let (_dir, mut c) = at_version(8);
        c.execute_batch(
            "INSERT INTO reports (id, org_id, version, status, reported_at, updated_at,
                                  fiscal_year, sector, event_type, tlp, details)
               VALUES
                 (1, 1, 1, 'new', 't', 't', 2020, 'railway', 'x', 'amber',
                  '{\"occurred_at\":\"2020-03-31T14:30:00Z\"}'),
                 (2, 1, 1, 'new', 't', 't', 2020, 'railway', 'x', 'amber',
                  '{\"occurred_at\":\"2020-03-31T15:30:00.123456789Z\"}'),
                 (3, 1, 1, 'new', 't', 't', 2020, 'railway', 'x', 'amber',
                  '{\"occurred_at\":null}');",
        )
        .unwrap();
        run(&mut c).unwrap();
        let years: Vec<Option<i64>> = c
            .prepare("SELECT occurred_fy FROM reports ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(years, vec![Some(2019), Some(2020), None]);
    }
}
