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
