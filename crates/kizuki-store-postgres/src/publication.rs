//! Publication: pseudonym maps, candidate decisions, the append-only sign-off
//! history and the published snapshots. Writes lock the case row first, so two nodes
//! appending to one sign-off see the same conflict one node would.

use crate::cached::Cached as _;
use async_trait::async_trait;
use kizuki_store::prelude::*;

use crate::rows::{from_json, json, load_case};
use crate::{PgStore, pg_err};
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use deadpool_postgres::Transaction;
use kizuki_domain::anonymise::{Decision, Disclosed, PseudonymMap};
use kizuki_domain::case::CaseContent;
use kizuki_domain::ids::{CaseId, UserId};
use kizuki_domain::signoff::{Action, Transition};
use kizuki_store::{
    Current, DecisionRow, Publication, StoreError, StoreResult, StoredMap, check_snapshot,
};
use tokio_postgres::Row;

const PUB_COLS: &str =
    "case_id, survey_year, number, fingerprint, content, html, published_at, published_by";

fn pub_row(r: &Row) -> StoreResult<Publication> {
    let number: i32 = r.get(2);
    Ok(Publication {
        case_id: CaseId(r.get(0)),
        survey_year: r.get(1),
        number: u32::try_from(number)
            .map_err(|_| StoreError::Invalid(format!("publications.number {number}")))?,
        fingerprint: r.get(3),
        content: from_json::<CaseContent>("publications.content", &r.get::<_, String>(4))?,
        html: r.get(5),
        published_at: r.get(6),
        published_by: UserId(r.get(7)),
    })
}

fn number_param(n: u32) -> StoreResult<i32> {
    i32::try_from(n).map_err(|_| StoreError::Invalid(format!("case number {n}")))
}

async fn load_map<C: GenericClient + Sync>(c: &C, case: CaseId) -> StoreResult<StoredMap> {
    let row = c
        .cached_query_opt(
            "SELECT version, entries, disclosed FROM pseudonym_maps WHERE case_id = $1",
            &[&case.0],
        )
        .await
        .map_err(pg_err)?;
    match row {
        None => {
            // A case that does not exist has no map either; say so rather than invent one.
            load_case(c, case).await?;
            Ok(StoredMap {
                version: 0,
                map: PseudonymMap::new(),
                disclosed: Disclosed::default(),
            })
        }
        Some(r) => Ok(StoredMap {
            version: r.get(0),
            // PseudonymMap deserialises through its checks, so a hand-edited row is refused.
            map: from_json("pseudonym_maps.entries", &r.get::<_, String>(1))?,
            disclosed: from_json("pseudonym_maps.disclosed", &r.get::<_, String>(2))?,
        }),
    }
}

/// Locks the case row for the rest of the transaction (and checks that it exists).
async fn lock_case(tx: &Transaction<'_>, case: CaseId) -> StoreResult<Option<i32>> {
    tx.cached_query_opt(
        "SELECT survey_year FROM cases WHERE id = $1 FOR UPDATE",
        &[&case.0],
    )
    .await
    .map_err(pg_err)?
    .map(|r| r.get::<_, Option<i32>>(0))
    .ok_or_else(|| StoreError::not_found("case", case))
}

#[async_trait]
impl PublicationStore for PgStore {
    async fn pseudonym_map(&self, case: CaseId) -> StoreResult<kizuki_store::StoredMap> {
        let client = self.client().await?;
        load_map(&client, case).await
    }

    async fn set_pseudonym_map(
        &self,
        case: CaseId,
        expected_version: i64,
        map: kizuki_domain::anonymise::PseudonymMap,
        disclosed: kizuki_domain::anonymise::Disclosed,
        by: UserId,
        at: DateTime<Utc>,
    ) -> StoreResult<kizuki_store::StoredMap> {
        in_tx!(self, |tx| {
            lock_case(&tx, case).await?;
            let current = load_map(&tx, case).await?;
            if current.version != expected_version {
                return Err(StoreError::Conflict {
                    entity: "pseudonym map",
                    current: Current::Version(current.version),
                });
            }
            let version = current.version + 1;
            tx.cached_execute(
                "INSERT INTO pseudonym_maps (case_id, version, entries, disclosed, by_user, at)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (case_id) DO UPDATE SET version = excluded.version,
                   entries = excluded.entries, disclosed = excluded.disclosed,
                   by_user = excluded.by_user, at = excluded.at",
                &[
                    &case.0,
                    &version,
                    &json(&map)?,
                    &json(&disclosed)?,
                    &by.0,
                    &at,
                ],
            )
            .await
            .map_err(pg_err)?;
            Ok(StoredMap {
                version,
                map,
                disclosed,
            })
        })
    }

    async fn candidate_decisions(
        &self,
        case: CaseId,
    ) -> StoreResult<Vec<kizuki_store::DecisionRow>> {
        let client = self.client().await?;
        let rows = client
            .cached_query(
                "SELECT candidate_id, decision, value, by_user, at FROM candidate_decisions
                 WHERE case_id = $1 ORDER BY candidate_id COLLATE \"C\"",
                &[&case.0],
            )
            .await
            .map_err(pg_err)?;
        rows.iter()
            .map(|r| {
                let code: String = r.get(1);
                let value: String = r.get(2);
                let decision = Decision::parse(&code, &value).map_err(|e| {
                    StoreError::Invalid(format!("candidate_decisions.decision: {e}"))
                })?;
                Ok(DecisionRow {
                    candidate: r.get(0),
                    decision,
                    by: UserId(r.get(3)),
                    at: r.get(4),
                })
            })
            .collect()
    }

    async fn decide_candidate(
        &self,
        case: CaseId,
        candidate: &str,
        decision: Option<kizuki_domain::anonymise::Decision>,
        by: UserId,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        in_tx!(self, |tx| {
            lock_case(&tx, case).await?;
            match decision {
                None => {
                    tx.cached_execute(
                        "DELETE FROM candidate_decisions WHERE case_id = $1 AND candidate_id = $2",
                        &[&case.0, &candidate],
                    )
                    .await
                    .map_err(pg_err)?;
                }
                Some(d) => {
                    tx.cached_execute(
                        "INSERT INTO candidate_decisions
                           (case_id, candidate_id, decision, value, by_user, at)
                         VALUES ($1, $2, $3, $4, $5, $6)
                         ON CONFLICT (case_id, candidate_id) DO UPDATE SET
                           decision = excluded.decision, value = excluded.value,
                           by_user = excluded.by_user, at = excluded.at",
                        &[&case.0, &candidate, &d.code(), &d.value(), &by.0, &at],
                    )
                    .await
                    .map_err(pg_err)?;
                }
            }
            Ok(())
        })
    }

    async fn signoff_history(
        &self,
        case: CaseId,
    ) -> StoreResult<Vec<kizuki_domain::signoff::Transition>> {
        let client = self.client().await?;
        let rows = client
            .cached_query(
                "SELECT body FROM signoff_transitions WHERE case_id = $1 ORDER BY seq",
                &[&case.0],
            )
            .await
            .map_err(pg_err)?;
        rows.iter()
            .map(|r| from_json::<Transition>("signoff_transitions.body", &r.get::<_, String>(0)))
            .collect()
    }

    async fn append_signoff(
        &self,
        case: CaseId,
        expected_len: usize,
        t: kizuki_domain::signoff::Transition,
        snapshot: Option<kizuki_store::PublicationSnapshot>,
    ) -> StoreResult<()> {
        check_snapshot(&t, snapshot.as_ref())?;
        in_tx!(self, |tx| {
            let survey_year = lock_case(&tx, case).await?;
            let len: i64 = tx
                .cached_query_one(
                    "SELECT COUNT(*) FROM signoff_transitions WHERE case_id = $1",
                    &[&case.0],
                )
                .await
                .map_err(pg_err)?
                .get(0);
            if usize::try_from(len).ok() != Some(expected_len) {
                return Err(StoreError::Conflict {
                    entity: "sign-off",
                    current: Current::Version(len),
                });
            }
            tx.cached_execute(
                "INSERT INTO signoff_transitions
                   (case_id, seq, from_state, to_state, action, by_user, at, body)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &case.0,
                    &(len + 1),
                    &t.from.code(),
                    &t.to.code(),
                    &t.action.code(),
                    &t.by.user.0,
                    &t.at,
                    &json(&t)?,
                ],
            )
            .await
            .map_err(pg_err)?;
            // Publishing or withdrawing changes what the public may find.
            crate::record_change(&tx, kizuki_store::Entity::Case, case.0, t.at).await?;
            match (&t.action, snapshot) {
                (Action::Publish { fingerprint }, Some(snap)) => {
                    tx.cached_execute(
                        &format!(
                            "INSERT INTO publications ({PUB_COLS})
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                             ON CONFLICT (case_id) DO UPDATE SET
                               survey_year = excluded.survey_year, number = excluded.number,
                               fingerprint = excluded.fingerprint, content = excluded.content,
                               html = excluded.html, published_at = excluded.published_at,
                               published_by = excluded.published_by"
                        ),
                        &[
                            &case.0,
                            &survey_year,
                            &number_param(snap.content.number)?,
                            &fingerprint.to_string(),
                            &json(&snap.content)?,
                            &snap.html,
                            &t.at,
                            &t.by.user.0,
                        ],
                    )
                    .await
                    .map_err(pg_err)?;
                }
                (Action::Withdraw { .. }, _) => {
                    tx.cached_execute("DELETE FROM publications WHERE case_id = $1", &[&case.0])
                        .await
                        .map_err(pg_err)?;
                }
                _ => {}
            }
            Ok(())
        })
    }

    async fn publication(
        &self,
        survey_year: i32,
        number: u32,
    ) -> StoreResult<Option<kizuki_store::Publication>> {
        let client = self.client().await?;
        client
            .cached_query_opt(
                &format!(
                    "SELECT {PUB_COLS} FROM publications WHERE survey_year = $1 AND number = $2"
                ),
                &[&survey_year, &number_param(number)?],
            )
            .await
            .map_err(pg_err)?
            .map(|r| pub_row(&r))
            .transpose()
    }

    async fn list_publications(
        &self,
        survey_year: Option<i32>,
    ) -> StoreResult<Vec<kizuki_store::Publication>> {
        let client = self.client().await?;
        let rows = client
            .cached_query(
                &format!(
                    "SELECT {PUB_COLS} FROM publications
                     WHERE $1::INTEGER IS NULL OR survey_year = $1
                     ORDER BY survey_year IS NULL, survey_year, number, case_id"
                ),
                &[&survey_year],
            )
            .await
            .map_err(pg_err)?;
        rows.iter().map(pub_row).collect()
    }
}
