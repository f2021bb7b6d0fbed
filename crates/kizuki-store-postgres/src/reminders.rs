//! Reminders for PostgreSQL. The claim is one `INSERT … ON CONFLICT DO UPDATE …
//! WHERE` statement: PostgreSQL makes a concurrent insert of the same key wait for the first
//! and then either update (if the `WHERE` still holds) or do nothing, so of several nodes
//! exactly one sees a row affected.

use crate::cached::Cached as _;
use async_trait::async_trait;
use kizuki_store::prelude::*;

use crate::{PgStore, pg_err};
use chrono::{DateTime, Utc};
use kizuki_domain::ids::ReportId;
use kizuki_domain::report::StageKind;
use kizuki_store::{
    ReminderChannel, ReminderClaim, ReminderKey, ReminderKind, ReminderRecord, StoreError,
    StoreResult, sort_reminders,
};
use tokio_postgres::Row;

const COLS: &str = "report_id, stage, kind, channel, attempts, claimed_at, lease_until, sent_at, \
                    last_error";

fn bad(column: &str, value: &str) -> StoreError {
    StoreError::Invalid(format!("unexpected value {value:?} in reminders.{column}"))
}

fn row(r: &Row) -> StoreResult<ReminderRecord> {
    let stage: String = r.get(1);
    let kind: String = r.get(2);
    let channel: String = r.get(3);
    let attempts: i32 = r.get(4);
    Ok(ReminderRecord {
        key: ReminderKey {
            report: ReportId(r.get(0)),
            stage: StageKind::parse(&stage).ok_or_else(|| bad("stage", &stage))?,
            kind: ReminderKind::parse(&kind).ok_or_else(|| bad("kind", &kind))?,
            channel: ReminderChannel::parse(&channel).ok_or_else(|| bad("channel", &channel))?,
        },
        attempts: u32::try_from(attempts).map_err(|_| bad("attempts", &attempts.to_string()))?,
        claimed_at: r.get(5),
        lease_until: r.get(6),
        sent_at: r.get(7),
        last_error: r.get(8),
    })
}

fn rows(v: Vec<Row>) -> StoreResult<Vec<ReminderRecord>> {
    let mut out = v.iter().map(row).collect::<StoreResult<Vec<_>>>()?;
    sort_reminders(&mut out);
    Ok(out)
}

#[async_trait]
impl ReminderStore for PgStore {
    async fn claim_reminder(&self, claim: &kizuki_store::ReminderClaim) -> StoreResult<bool> {
        let c: &ReminderClaim = claim;
        let k = c.key;
        let max = i32::try_from(c.max_attempts).unwrap_or(i32::MAX);
        let n = self
            .client()
            .await?
            .cached_execute(
                "INSERT INTO reminders (report_id, stage, kind, channel, token, attempts,
                   claimed_at, lease_until) VALUES ($1, $2, $3, $4, $5, 1, $6, $7)
                 ON CONFLICT (report_id, stage, kind, channel) DO UPDATE SET
                   token = excluded.token, attempts = reminders.attempts + 1,
                   claimed_at = excluded.claimed_at, lease_until = excluded.lease_until
                 WHERE reminders.sent_at IS NULL AND reminders.lease_until <= $6
                   AND reminders.attempts < $8",
                &[
                    &k.report.0,
                    &k.stage.code(),
                    &k.kind.code(),
                    &k.channel.code(),
                    &c.token,
                    &c.now,
                    &c.lease_until,
                    &max,
                ],
            )
            .await
            .map_err(pg_err)?;
        Ok(n == 1)
    }

    async fn reminder_sent(
        &self,
        key: &kizuki_store::ReminderKey,
        token: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let n = self
            .client()
            .await?
            .cached_execute(
                "UPDATE reminders SET sent_at = $6, last_error = NULL WHERE report_id = $1
                   AND stage = $2 AND kind = $3 AND channel = $4 AND token = $5
                   AND sent_at IS NULL",
                &[
                    &key.report.0,
                    &key.stage.code(),
                    &key.kind.code(),
                    &key.channel.code(),
                    &token,
                    &at,
                ],
            )
            .await
            .map_err(pg_err)?;
        Ok(n == 1)
    }

    async fn release_reminder(
        &self,
        key: &kizuki_store::ReminderKey,
        token: &str,
        retry_at: DateTime<Utc>,
        error: &str,
    ) -> StoreResult<()> {
        self.client()
            .await?
            .cached_execute(
                "UPDATE reminders SET lease_until = $6, last_error = $7 WHERE report_id = $1
                   AND stage = $2 AND kind = $3 AND channel = $4 AND token = $5
                   AND sent_at IS NULL",
                &[
                    &key.report.0,
                    &key.stage.code(),
                    &key.kind.code(),
                    &key.channel.code(),
                    &token,
                    &retry_at,
                    &error,
                ],
            )
            .await
            .map_err(pg_err)?;
        Ok(())
    }

    async fn reminders_for(
        &self,
        report: ReportId,
    ) -> StoreResult<Vec<kizuki_store::ReminderRecord>> {
        let v = self
            .client()
            .await?
            .cached_query(
                &format!("SELECT {COLS} FROM reminders WHERE report_id = $1"),
                &[&report.0],
            )
            .await
            .map_err(pg_err)?;
        rows(v)
    }

    async fn failed_reminders(
        &self,
        min_attempts: u32,
    ) -> StoreResult<Vec<kizuki_store::ReminderRecord>> {
        let min = i32::try_from(min_attempts).unwrap_or(i32::MAX);
        let v = self
            .client()
            .await?
            .cached_query(
                &format!(
                    "SELECT {COLS} FROM reminders WHERE sent_at IS NULL AND attempts >= $1
                       AND last_error IS NOT NULL"
                ),
                &[&min],
            )
            .await
            .map_err(pg_err)?;
        rows(v)
    }
}
