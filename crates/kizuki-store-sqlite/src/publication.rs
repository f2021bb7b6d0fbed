//! Publication: pseudonym maps, candidate decisions, the append-only sign-off
//! history and the published snapshots.

use async_trait::async_trait;
use kizuki_store::prelude::*;

use crate::codec::{from_json, time_from, time_to, to_json};
use crate::{SqliteStore, db_err, load_case};
use chrono::{DateTime, Utc};
use kizuki_domain::anonymise::{Decision, Disclosed, PseudonymMap};
use kizuki_domain::case::CaseContent;
use kizuki_domain::ids::{CaseId, UserId};
use kizuki_domain::signoff::{Action, Transition};
use kizuki_store::{
    Current, DecisionRow, Publication, StoreError, StoreResult, StoredMap, check_snapshot,
};
use rusqlite::{Connection, OptionalExtension, params};

const PUB_COLS: &str =
    "case_id, survey_year, number, fingerprint, content, html, published_at, published_by";

fn pub_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Publication> {
    Ok(Publication {
        case_id: CaseId(r.get(0)?),
        survey_year: r.get(1)?,
        number: r.get(2)?,
        fingerprint: r.get(3)?,
        content: from_json::<CaseContent>(&r.get::<_, String>(4)?)?,
        html: r.get(5)?,
        published_at: time_from(&r.get::<_, String>(6)?)?,
        published_by: UserId(r.get(7)?),
    })
}

fn load_map(c: &Connection, case: CaseId) -> StoreResult<StoredMap> {
    let row: Option<(i64, String, String)> = c
        .query_row(
            "SELECT version, entries, disclosed FROM pseudonym_maps WHERE case_id = ?1",
            [case.0],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .map_err(db_err)?;
    match row {
        None => {
            // A case that does not exist has no map either; say so rather than invent one.
            load_case(c, case)?;
            Ok(StoredMap {
                version: 0,
                map: PseudonymMap::new(),
                disclosed: Disclosed::default(),
            })
        }
        Some((version, entries, disclosed)) => Ok(StoredMap {
            version,
            // PseudonymMap deserialises through its checks, so a hand-edited row is refused.
            map: from_json(&entries).map_err(db_err)?,
            disclosed: from_json(&disclosed).map_err(db_err)?,
        }),
    }
}

fn history(c: &Connection, case: CaseId) -> StoreResult<Vec<Transition>> {
    let mut st = c
        .prepare("SELECT body FROM signoff_transitions WHERE case_id = ?1 ORDER BY seq")
        .map_err(db_err)?;
    let rows = st
        .query_map([case.0], |r| {
            from_json::<Transition>(&r.get::<_, String>(0)?)
        })
        .map_err(db_err)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_err)
}

#[async_trait]
impl PublicationStore for SqliteStore {
    async fn pseudonym_map(&self, case: CaseId) -> StoreResult<kizuki_store::StoredMap> {
        self.read_store(move |c| load_map(c, case)).await
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
        self.write(move |tx| {
            let current = load_map(tx, case)?;
            if current.version != expected_version {
                return Err(StoreError::Conflict {
                    entity: "pseudonym map",
                    current: Current::Version(current.version),
                });
            }
            let version = current.version + 1;
            tx.execute(
                "INSERT INTO pseudonym_maps (case_id, version, entries, disclosed, by_user, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (case_id) DO UPDATE SET version = excluded.version,
                   entries = excluded.entries, disclosed = excluded.disclosed,
                   by_user = excluded.by_user, at = excluded.at",
                params![
                    case.0,
                    version,
                    to_json(&map).map_err(db_err)?,
                    to_json(&disclosed).map_err(db_err)?,
                    by.0,
                    time_to(at)
                ],
            )
            .map_err(db_err)?;
            Ok(StoredMap {
                version,
                map,
                disclosed,
            })
        })
        .await
    }

    async fn candidate_decisions(
        &self,
        case: CaseId,
    ) -> StoreResult<Vec<kizuki_store::DecisionRow>> {
        self.read_store(move |c| {
            let mut st = c
                .prepare(
                    "SELECT candidate_id, decision, value, by_user, at FROM candidate_decisions
                     WHERE case_id = ?1 ORDER BY candidate_id",
                )
                .map_err(db_err)?;
            let rows = st
                .query_map([case.0], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                })
                .map_err(db_err)?;
            let mut out = Vec::new();
            for row in rows {
                let (candidate, code, value, by, at) = row.map_err(db_err)?;
                let decision = Decision::parse(&code, &value).map_err(|e| {
                    StoreError::Invalid(format!("candidate_decisions.decision: {e}"))
                })?;
                out.push(DecisionRow {
                    candidate,
                    decision,
                    by: UserId(by),
                    at: time_from(&at).map_err(db_err)?,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn decide_candidate(
        &self,
        case: CaseId,
        candidate: &str,
        decision: Option<kizuki_domain::anonymise::Decision>,
        by: UserId,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let candidate: String = candidate.to_owned();
        self.write(move |tx| {
            load_case(tx, case)?;
            match decision {
                None => {
                    tx.execute(
                        "DELETE FROM candidate_decisions WHERE case_id = ?1 AND candidate_id = ?2",
                        params![case.0, candidate],
                    )
                    .map_err(db_err)?;
                }
                Some(d) => {
                    tx.execute(
                        "INSERT INTO candidate_decisions
                           (case_id, candidate_id, decision, value, by_user, at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                         ON CONFLICT (case_id, candidate_id) DO UPDATE SET
                           decision = excluded.decision, value = excluded.value,
                           by_user = excluded.by_user, at = excluded.at",
                        params![case.0, candidate, d.code(), d.value(), by.0, time_to(at)],
                    )
                    .map_err(db_err)?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn signoff_history(
        &self,
        case: CaseId,
    ) -> StoreResult<Vec<kizuki_domain::signoff::Transition>> {
        self.read_store(move |c| history(c, case)).await
    }

    async fn append_signoff(
        &self,
        case: CaseId,
        expected_len: usize,
        t: kizuki_domain::signoff::Transition,
        snapshot: Option<kizuki_store::PublicationSnapshot>,
    ) -> StoreResult<()> {
        check_snapshot(&t, snapshot.as_ref())?;
        self.write(move |tx| {
            let stored = load_case(tx, case)?;
            let len: i64 = tx
                .query_row(
                    "SELECT COUNT(*) FROM signoff_transitions WHERE case_id = ?1",
                    [case.0],
                    |r| r.get(0),
                )
                .map_err(db_err)?;
            if usize::try_from(len).ok() != Some(expected_len) {
                return Err(StoreError::Conflict {
                    entity: "sign-off",
                    current: Current::Version(len),
                });
            }
            tx.execute(
                "INSERT INTO signoff_transitions
                   (case_id, seq, from_state, to_state, action, by_user, at, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    case.0,
                    len + 1,
                    t.from.code(),
                    t.to.code(),
                    t.action.code(),
                    t.by.user.0,
                    time_to(t.at),
                    to_json(&t).map_err(db_err)?
                ],
            )
            .map_err(db_err)?;
            // Publishing or withdrawing changes what the public may find.
            crate::record_change(tx, kizuki_store::Entity::Case, case.0, t.at)?;
            match (&t.action, snapshot) {
                (Action::Publish { fingerprint }, Some(snap)) => {
                    tx.execute(
                        "INSERT INTO publications
                           (case_id, survey_year, number, fingerprint, content, html,
                            published_at, published_by)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                         ON CONFLICT (case_id) DO UPDATE SET survey_year = excluded.survey_year,
                           number = excluded.number, fingerprint = excluded.fingerprint,
                           content = excluded.content, html = excluded.html,
                           published_at = excluded.published_at,
                           published_by = excluded.published_by",
                        params![
                            case.0,
                            stored.survey_year,
                            snap.content.number,
                            fingerprint.to_string(),
                            to_json(&snap.content).map_err(db_err)?,
                            snap.html,
                            time_to(t.at),
                            t.by.user.0
                        ],
                    )
                    .map_err(db_err)?;
                }
                (Action::Withdraw { .. }, _) => {
                    tx.execute("DELETE FROM publications WHERE case_id = ?1", [case.0])
                        .map_err(db_err)?;
                }
                _ => {}
            }
            Ok(())
        })
        .await
    }

    async fn publication(
        &self,
        survey_year: i32,
        number: u32,
    ) -> StoreResult<Option<kizuki_store::Publication>> {
        self.read(move |c| {
            c.query_row(
                &format!(
                    "SELECT {PUB_COLS} FROM publications WHERE survey_year = ?1 AND number = ?2"
                ),
                params![survey_year, number],
                pub_row,
            )
            .optional()
        })
        .await
    }

    async fn list_publications(
        &self,
        survey_year: Option<i32>,
    ) -> StoreResult<Vec<kizuki_store::Publication>> {
        self.read(move |c| {
            let mut st = c.prepare(&format!(
                "SELECT {PUB_COLS} FROM publications
                 WHERE ?1 IS NULL OR survey_year = ?1
                 ORDER BY survey_year IS NULL, survey_year, number, case_id"
            ))?;
            let rows = st.query_map([survey_year], pub_row)?;
            rows.collect()
        })
        .await
    }
}
