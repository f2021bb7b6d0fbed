//! Keeping the index in step with the database. The store appends every committed change to
//! its change feed; the index applies changes in feed order and commits the last position it
//! applied together with the documents. After a crash the index therefore resumes from its
//! last commit, and re-applying a change is harmless (a change replaces whole documents).
//! The database stays the truth: deleting the index directory and following the feed from
//! position 0 rebuilds it.

use crate::doc::{IndexDoc, case_group, report_group};
use crate::error::{SearchError, SearchResult};
use crate::index::SearchIndex;
use kizuki_domain::case::{Case, CaseContent};
use kizuki_domain::ids::{CaseId, ReportId};
use kizuki_domain::taxonomy::Tlp;
use kizuki_store::{DynStore, Entity, StoreError};
use std::collections::{BTreeSet, HashSet};

/// How far a catch-up has come, for progress bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// Changes read from the feed so far.
    pub changes: u64,
    /// Documents written so far.
    pub docs: u64,
    /// Feed position reached.
    pub seq: i64,
}

/// Changes read from the feed per request.
const FEED_BATCH: usize = 2_000;
/// Documents buffered before a commit; a commit costs a segment flush and an fsync.
const COMMIT_EVERY_DOCS: u64 = 50_000;
/// Concurrent reads from the store while fetching a batch.
const FETCH_LANES: usize = 4;
/// The fewest reports a lane reads: a lane's reads cost a round trip whatever their number,
/// so a small batch is read by one lane.
const LANE_MIN: usize = 250;

/// Applies every change after the index's last position. Returns the progress made.
/// `progress` is called after every batch.
pub async fn catch_up(
    index: &SearchIndex,
    store: &DynStore,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> SearchResult<Progress> {
    let r = apply_feed(index, store, progress).await;
    if r.is_err() {
        // Whatever was queued but not committed is dropped, so a retry neither loses nor
        // duplicates documents.
        let idx = index.clone();
        let _ = tokio::task::spawn_blocking(move || idx.rollback()).await;
    }
    r
}

async fn apply_feed(
    index: &SearchIndex,
    store: &DynStore,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> SearchResult<Progress> {
    // On an empty index (first run or rebuild) nothing needs deleting before adding.
    let fresh = index.last_seq() == 0 && index.num_docs() == 0;
    let mut done = Progress {
        seq: index.last_seq(),
        ..Progress::default()
    };
    let mut pending_docs = 0u64;
    let mut committed_seq = done.seq;
    // On a fresh index, groups already added in this run are the only ones to replace.
    let mut seen: HashSet<String> = HashSet::new();
    loop {
        let changes = store.changes_since(done.seq, FEED_BATCH).await?;
        let Some(last) = changes.last() else { break };
        let last_seq = last.seq;
        let mut reports = BTreeSet::new();
        let mut cases = BTreeSet::new();
        for c in &changes {
            match c.entity {
                Entity::Report => {
                    reports.insert(c.id);
                }
                Entity::Case => {
                    cases.insert(c.id);
                }
                // Organisations, users and surveys are not indexed.
                _ => {}
            }
        }
        let (docs, groups) = fetch(store, reports, cases).await?;
        let idx = index.clone();
        let n = docs.len() as u64;
        let groups: Vec<String> = if fresh {
            groups
                .into_iter()
                .filter(|g| !seen.insert(g.clone()))
                .collect()
        } else {
            groups
        };
        tokio::task::spawn_blocking(move || idx.add(&docs, &groups))
            .await
            .map_err(|e| SearchError::Internal(e.to_string()))??;
        pending_docs += n;
        done.changes += changes.len() as u64;
        done.docs += n;
        done.seq = last_seq;
        if pending_docs >= COMMIT_EVERY_DOCS || changes.len() < FEED_BATCH {
            commit(index, done.seq).await?;
            committed_seq = done.seq;
            pending_docs = 0;
        }
        progress(done);
    }
    if committed_seq != done.seq {
        commit(index, done.seq).await?;
    }
    Ok(done)
}

async fn commit(index: &SearchIndex, seq: i64) -> SearchResult<()> {
    let idx = index.clone();
    tokio::task::spawn_blocking(move || idx.commit(seq))
        .await
        .map_err(|e| SearchError::Internal(e.to_string()))?
}

/// Reads the current state of the changed records. A record that no longer exists is only
/// removed. Cases follow their report (owner, TLP, sector), so a changed report also
/// re-indexes its case.
async fn fetch(
    store: &DynStore,
    reports: BTreeSet<i64>,
    mut cases: BTreeSet<i64>,
) -> SearchResult<(Vec<IndexDoc>, Vec<String>)> {
    let mut docs = Vec::new();
    let mut groups = Vec::new();
    let ids: Vec<i64> = reports.into_iter().collect();
    let mut lanes = tokio::task::JoinSet::new();
    let per_lane = ids.len().div_ceil(FETCH_LANES).max(LANE_MIN);
    for chunk in ids.chunks(per_lane) {
        let chunk = chunk.to_vec();
        let store = store.clone();
        lanes.spawn(async move {
            let ids: Vec<ReportId> = chunk.iter().copied().map(ReportId).collect();
            let found = store.get_reports(&ids).await?;
            // Sharing only widens AMBER (organisations) and RED (people); the other labels
            // need no read.
            let shared: Vec<ReportId> = found
                .iter()
                .filter(|r| matches!(r.details.tlp, Tlp::Amber | Tlp::Red))
                .map(|r| r.id)
                .collect();
            let sharing: std::collections::HashMap<ReportId, _> = shared
                .iter()
                .copied()
                .zip(store.reports_sharing(&shared).await?)
                .collect();
            let mut found = found.into_iter().peekable();
            let mut out = Vec::with_capacity(chunk.len());
            // Both are in id order: an id the store did not return has no report any more.
            for id in chunk {
                let Some(r) = found.next_if(|r| r.id.0 == id) else {
                    out.push((id, None));
                    continue;
                };
                let doc = IndexDoc::from_report(&r);
                let doc = match sharing.get(&r.id) {
                    Some(sh) => doc.with_sharing(&sh.orgs, &sh.users),
                    None => doc,
                };
                out.push((id, Some((r.case_id, doc))));
            }
            Ok::<_, StoreError>(out)
        });
    }
    let mut fetched = Vec::with_capacity(ids.len());
    while let Some(r) = lanes.join_next().await {
        fetched.extend(r.map_err(|e| SearchError::Internal(e.to_string()))??);
    }
    fetched.sort_by_key(|(id, _)| *id);
    for (id, r) in fetched {
        groups.push(report_group(id));
        if let Some((case_id, doc)) = r {
            if let Some(c) = case_id {
                cases.insert(c.0);
            }
            docs.push(doc);
        }
    }
    for id in cases {
        groups.push(case_group(id));
        let case = match store.get_case(CaseId(id)).await {
            Ok(c) => c,
            Err(StoreError::NotFound { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        let report = match case.report_id {
            Some(r) => match store.get_report(r).await {
                Ok(r) => Some(r),
                Err(StoreError::NotFound { .. }) => None,
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        let published = published_content(store, &case).await?;
        docs.extend(IndexDoc::from_case(
            &case,
            report.as_ref(),
            published.as_ref(),
        ));
    }
    Ok((docs, groups))
}

/// The published snapshot of a case, if it is published now.
async fn published_content(store: &DynStore, case: &Case) -> SearchResult<Option<CaseContent>> {
    let found = match case.survey_year {
        Some(y) => store.publication(y, case.content.number).await?,
        None => store
            .list_publications(None)
            .await?
            .into_iter()
            .find(|p| p.case_id == case.id),
    };
    Ok(found.filter(|p| p.case_id == case.id).map(|p| p.content))
}

/// Empties the index and rebuilds it from the whole change feed.
pub async fn rebuild(
    index: &SearchIndex,
    store: &DynStore,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> SearchResult<Progress> {
    let idx = index.clone();
    tokio::task::spawn_blocking(move || {
        idx.clear()?;
        idx.commit(0)
    })
    .await
    .map_err(|e| SearchError::Internal(e.to_string()))??;
    let p = catch_up(index, store, progress).await?;
    let idx = index.clone();
    tokio::task::spawn_blocking(move || idx.finish_writes())
        .await
        .map_err(|e| SearchError::Internal(e.to_string()))??;
    Ok(p)
}
