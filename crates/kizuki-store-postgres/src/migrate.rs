//! Embedded migrations for PostgreSQL. Several nodes may start at once, so migrating takes an
//! advisory lock and each step is applied in its own transaction with the version bump.

use crate::pg_err;
use kizuki_store::{StoreError, StoreResult};

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
    // Changes numbered by their readers, and an API token's first use: version 13.
    include_str!("../migrations/0013_feed_and_token_use.sql"),
    // Token buckets shared by every node: version 14.
    include_str!("../migrations/0014_rate_buckets.sql"),
    include_str!("../migrations/0015_lesson_themes.sql"),
    // Self-assessments and countermeasure follow-up: version 16.
    include_str!("../migrations/0016_adoption.sql"),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

const LOCK: i64 = 7_245_840;

pub async fn run(client: &mut tokio_postgres::Client) -> StoreResult<()> {
    client
        .batch_execute("CREATE TABLE IF NOT EXISTS kizuki_schema (version BIGINT NOT NULL);")
        .await
        .map_err(pg_err)?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK])
        .await
        .map_err(pg_err)?;
    let out = apply(client).await;
    let _ = client
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK])
        .await;
    out
}

async fn apply(client: &mut tokio_postgres::Client) -> StoreResult<()> {
    let current: i64 = client
        .query_opt("SELECT version FROM kizuki_schema", &[])
        .await
        .map_err(pg_err)?
        .map_or(0, |r| r.get(0));
    if current > SCHEMA_VERSION {
        return Err(StoreError::Invalid(format!(
            "database schema version {current} is newer than this kizuki ({SCHEMA_VERSION}); upgrade kizuki"
        )));
    }
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(current).unwrap_or(0))
    {
        let tx = client.transaction().await.map_err(pg_err)?;
        tx.batch_execute(sql).await.map_err(pg_err)?;
        tx.execute("DELETE FROM kizuki_schema", &[])
            .await
            .map_err(pg_err)?;
        let v = i64::try_from(i + 1).unwrap_or(i64::MAX);
        tx.execute("INSERT INTO kizuki_schema (version) VALUES ($1)", &[&v])
            .await
            .map_err(pg_err)?;
        tx.commit().await.map_err(pg_err)?;
    }
    Ok(())
}
