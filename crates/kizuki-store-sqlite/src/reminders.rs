//! Reminders for SQLite: the claim is one `INSERT … ON CONFLICT DO UPDATE … WHERE`
//! statement, so it either creates the row, takes over a lapsed unsent claim, or changes
//! nothing — and `changes()` tells which. Writes are serialised on the writer connection in
//! any case, but the statement is atomic on its own, as the PostgreSQL one must be.

use async_trait::async_trait;
use kizuki_store::prelude::*;

use crate::codec::{time_from, time_to};
use crate::{SqliteStore, db_err};
use chrono::{DateTime, Utc};
use kizuki_domain::ids::ReportId;
use kizuki_domain::report::StageKind;
use kizuki_store::{
    ReminderChannel, ReminderClaim, ReminderKey, ReminderKind, ReminderRecord, StoreResult,
    sort_reminders,
};
use rusqlite::params;

const COLS: &str = "report_id, stage, kind, channel, attempts, claimed_at, lease_until, sent_at, \
                    last_error";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ReminderRecord> {
    let text = |i: usize| r.get::<_, String>(i);
    let stage = text(1)?;
    let kind = text(2)?;
    let channel = text(3)?;
    Ok(ReminderRecord {
        key: ReminderKey {
            report: ReportId(r.get(0)?),
            stage: StageKind::parse(&stage)
                .ok_or_else(|| crate::codec::bad("reminders.stage", &stage))?,
            kind: ReminderKind::parse(&kind)
                .ok_or_else(|| crate::codec::bad("reminders.kind", &kind))?,
            channel: ReminderChannel::parse(&channel)
                .ok_or_else(|| crate::codec::bad("reminders.channel", &channel))?,
        },
        attempts: r.get(4)?,
        claimed_at: time_from(&text(5)?)?,
        lease_until: time_from(&text(6)?)?,
        sent_at: r
            .get::<_, Option<String>>(7)?
            .map(|s| time_from(&s))
            .transpose()?,
        last_error: r.get(8)?,
    })
}

fn sorted(mut v: Vec<ReminderRecord>) -> Vec<ReminderRecord> {
    sort_reminders(&mut v);
    v
}

#[async_trait]
impl ReminderStore for SqliteStore {
    async fn claim_reminder(&self, claim: &kizuki_store::ReminderClaim) -> StoreResult<bool> {
        let c: ReminderClaim = claim.clone();
        self.write(move |tx| {
            let k = c.key;
            let n = tx
                .execute(
                    "INSERT INTO reminders (report_id, stage, kind, channel, token, attempts, \
                     claimed_at, lease_until) VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7) \
                     ON CONFLICT (report_id, stage, kind, channel) DO UPDATE SET \
                     token = excluded.token, attempts = reminders.attempts + 1, \
                     claimed_at = excluded.claimed_at, lease_until = excluded.lease_until \
                     WHERE reminders.sent_at IS NULL AND reminders.lease_until <= ?6 \
                     AND reminders.attempts < ?8",
                    params![
                        k.report.0,
                        k.stage.code(),
                        k.kind.code(),
                        k.channel.code(),
                        c.token,
                        time_to(c.now),
                        time_to(c.lease_until),
                        c.max_attempts,
                    ],
                )
                .map_err(db_err)?;
            Ok(n == 1)
        })
        .await
    }

    async fn reminder_sent(
        &self,
        key: &kizuki_store::ReminderKey,
        token: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let key: ReminderKey = *key;
        let token: String = token.to_owned();
        self.write(move |tx| {
            let n = tx
                .execute(
                    "UPDATE reminders SET sent_at = ?6, last_error = NULL WHERE report_id = ?1 \
                     AND stage = ?2 AND kind = ?3 AND channel = ?4 AND token = ?5 \
                     AND sent_at IS NULL",
                    params![
                        key.report.0,
                        key.stage.code(),
                        key.kind.code(),
                        key.channel.code(),
                        token,
                        time_to(at),
                    ],
                )
                .map_err(db_err)?;
            Ok(n == 1)
        })
        .await
    }

    async fn release_reminder(
        &self,
        key: &kizuki_store::ReminderKey,
        token: &str,
        retry_at: DateTime<Utc>,
        error: &str,
    ) -> StoreResult<()> {
        let key: ReminderKey = *key;
        let token: String = token.to_owned();
        let error: String = error.to_owned();
        self.write(move |tx| {
            tx.execute(
                "UPDATE reminders SET lease_until = ?6, last_error = ?7 WHERE report_id = ?1 \
                 AND stage = ?2 AND kind = ?3 AND channel = ?4 AND token = ?5 AND sent_at IS NULL",
                params![
                    key.report.0,
                    key.stage.code(),
                    key.kind.code(),
                    key.channel.code(),
                    token,
                    time_to(retry_at),
                    error,
                ],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn reminders_for(
        &self,
        report: ReportId,
    ) -> StoreResult<Vec<kizuki_store::ReminderRecord>> {
        self.read(move |c| {
            let mut st = c.prepare(&format!(
                "SELECT {COLS} FROM reminders WHERE report_id = ?1 "
            ))?;
            st.query_map([report.0], row)?.collect()
        })
        .await
        .map(sorted)
    }

    async fn failed_reminders(
        &self,
        min_attempts: u32,
    ) -> StoreResult<Vec<kizuki_store::ReminderRecord>> {
        self.read(move |c| {
            let mut st = c.prepare(&format!(
                "SELECT {COLS} FROM reminders WHERE sent_at IS NULL AND attempts >= ?1 \
                 AND last_error IS NOT NULL"
            ))?;
            st.query_map([min_attempts], row)?.collect()
        })
        .await
        .map(sorted)
    }
}
