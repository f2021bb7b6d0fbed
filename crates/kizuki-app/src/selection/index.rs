//! Similar-case counting for case selection from the search index: a
//! [`SimilarityOracle`] backed by [`kizuki_search::SearchIndex::similar`], so the
//! `similar-cases` and `trend` signals use the index's distinctive-term search (CJK bigrams,
//! normalised text, BM25) instead of the built-in classification comparison.
//!
//! The index ranks every candidate it finds, however weakly related; a found report only
//! counts as similar when the index's own reasons add up to
//! [`IndexSimilarity::THRESHOLD`] points on the same table as the built-in oracle
//! ([`crate::selection::ClassificationSimilarity`]): same event type 2, each shared cause 2,
//! same sector 1, each shared key term (at most 3) 1, a shared named system or vendor 2. That
//! keeps the two oracles comparable and every count explainable.
//!
//! Only reports count (cases and lessons are the same incidents written up); the selection
//! then keeps the reports of the survey period and the earlier periods by their filing date.

use crate::error::{AppError, AppResult};
use crate::selection::{SimilarEach, SimilarReport, SimilarityOracle};
use kizuki_domain::ids::ReportId;
use kizuki_domain::report::Report;
use kizuki_domain::taxonomy::{Lang, Taxonomy, Vocabulary};
use kizuki_search::{
    DocKind, IndexDoc, SearchError, SearchIndex, SearchService, SimilarItem, SimilarOptions,
    SimilarTo, Viewer,
};
use std::sync::Arc;

/// How many items to ask the index for. Above what the index re-ranks per source (its text
/// candidates plus those naming the same system or vendor), so nothing it found is cut off.
pub const INDEX_LIMIT: usize = 200;

/// The name shown with the ranking when the index counted.
pub const INDEX_ORACLE_NAME: &str = "全文検索索引（特徴語＋分類の一致）";

/// Similar reports from the search index, seen as the coordinating centre sees them (every
/// report; selection is an analyst's task). Cheap to clone, so the lookups can be handed to a
/// blocking thread.
#[derive(Clone)]
pub struct IndexSimilarity {
    index: SearchIndex,
    viewer: Viewer,
    tx: Arc<Taxonomy>,
}

impl IndexSimilarity {
    /// Points a found report needs to count as similar (see the module notes).
    pub const THRESHOLD: u32 = 4;

    pub fn new(index: SearchIndex, tx: &Taxonomy) -> IndexSimilarity {
        IndexSimilarity {
            index,
            viewer: kizuki_search::access::centre_viewer(),
            tx: Arc::new(tx.clone()),
        }
    }

    /// Points and the reasons behind them, for one item found similar to `report`.
    fn judge(&self, report: &Report, item: &SimilarItem) -> (u32, String) {
        let r = &item.reasons;
        let mut points = 0;
        let mut why = Vec::new();
        let event = report.details.event_type.as_str();
        if r.same_event_type && event != "other" {
            points += 2;
            why.push(format!(
                "事象「{}」",
                self.tx.label(Vocabulary::EventType, event, Lang::Ja)
            ));
        }
        for c in r.shared_causes.iter().filter(|c| c.as_str() != "unknown") {
            points += 2;
            why.push(format!(
                "原因「{}」",
                self.tx.label(Vocabulary::Cause, c, Lang::Ja)
            ));
        }
        if item.meta.sector == report.details.sector.as_str() {
            points += 1;
            why.push(format!(
                "分野「{}」",
                self.tx
                    .label(Vocabulary::Sector, &item.meta.sector, Lang::Ja)
            ));
        }
        let terms: Vec<&str> = r.key_terms.iter().take(3).map(String::as_str).collect();
        if !terms.is_empty() {
            points += terms.len() as u32;
            why.push(format!("特徴語「{}」", terms.join("」「")));
        }
        if let Some(n) = r.shared_systems.iter().chain(&r.shared_vendors).next() {
            points += 2;
            why.push(format!("共通のベンダ・システム「{n}」"));
        }
        (points, why.join("・"))
    }
}

/// The index's similarity over a running search service, brought up to date first so that
/// reports filed a moment ago count. When another process holds the index for writing (a
/// running server, seen from the CLI) it is only re-read: that process keeps it current. Any
/// other failure to catch up is logged and the index is used as it stands: it is still the
/// better similarity, and a ranking must not fail because the follower did.
pub async fn index_oracle(svc: &SearchService, tx: &Taxonomy) -> IndexSimilarity {
    match svc.catch_up().await {
        Ok(_) => {}
        Err(SearchError::Busy(_)) => {
            if let Err(e) = svc.index().refresh() {
                tracing::warn!(error = %e, "search index could not be re-read for selection");
            }
        }
        Err(e) => tracing::warn!(error = %e, "search index could not catch up for selection"),
    }
    IndexSimilarity::new(svc.index().clone(), tx)
}

fn index_error(report: ReportId, e: SearchError) -> AppError {
    AppError::Internal(format!("similar reports of report {report}: {e}"))
}

impl SimilarityOracle for IndexSimilarity {
    fn name(&self) -> &str {
        INDEX_ORACLE_NAME
    }

    fn similar(&self, report: &Report) -> AppResult<Vec<SimilarReport>> {
        let opts = SimilarOptions {
            limit: INDEX_LIMIT,
            use_classification: true,
        };
        // A report the index has not caught up with yet is described from the store instead,
        // so a fresh report is still scored (and never fails the whole ranking).
        let found = match self
            .index
            .similar(&SimilarTo::Report(report.id), &self.viewer, &opts)
        {
            Ok(f) => f,
            Err(SearchError::NotIndexed(_)) => self
                .index
                .similar(
                    &SimilarTo::Doc(Box::new(IndexDoc::from_report(report))),
                    &self.viewer,
                    &opts,
                )
                .map_err(|e| index_error(report.id, e))?,
            Err(e) => return Err(index_error(report.id, e)),
        };
        Ok(found
            .items
            .iter()
            .filter(|it| it.kind == DocKind::Report && it.id != report.id.0)
            .filter_map(|it| {
                let (points, why) = self.judge(report, it);
                (points >= Self::THRESHOLD).then_some(SimilarReport {
                    report_id: ReportId(it.id),
                    why,
                })
            })
            .collect())
    }

    /// Each lookup is a search of the index's files (about a second for a few hundred
    /// candidates in all), so they run on a blocking thread, not on the async worker that
    /// also serves requests; the answers are those of [`IndexSimilarity::similar`].
    fn similar_each<'a>(&'a self, reports: &'a [Report]) -> SimilarEach<'a> {
        let oracle = self.clone();
        let reports = reports.to_vec();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                reports
                    .iter()
                    .map(|r| oracle.similar(r))
                    .collect::<AppResult<Vec<_>>>()
            })
            .await
            .map_err(|e| AppError::Internal(format!("similar reports lookup failed: {e}")))?
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::App;
    use crate::selection::rank;
    use crate::test_support::file;
    use kizuki_domain::report::ReportInput;
    use kizuki_domain::selection::Candidate;

    async fn demo() -> (App, kizuki_testkit::TestApp) {
        crate::test_support::demo(7).await
    }

    /// Another Emotet infection by mail, worded differently from case 5.
    fn emotet(title: &str, sector: &str) -> ReportInput {
        ReportInput {
            title: title.into(),
            sector: sector.into(),
            event_type: "malware".into(),
            causes: vec!["suspicious-mail".into(), "suspicious-file".into()],
            summary: "取引先を装った不審メールの添付ファイルを開きマクロを有効にしたため、端末がEmotetに感染した。"
                .into(),
            ..Default::default()
        }
    }

    fn unrelated() -> ReportInput {
        ReportInput {
            title: "台風による変電設備の浸水".into(),
            sector: "electricity".into(),
            event_type: "unavailability".into(),
            causes: vec!["disaster".into()],
            summary: "大雨で変電所が浸水し、一部地域で停電が発生した。".into(),
            ..Default::default()
        }
    }

    fn find(cands: &[Candidate], id: ReportId) -> &Candidate {
        cands.iter().find(|c| c.report_id == id).unwrap()
    }

    #[tokio::test]
    async fn the_index_counts_similar_reports_by_period_and_says_why() {
        let (app, _dir) = demo().await;
        let case5 = app
            .store
            .case_by_number(2019, 5)
            .await
            .unwrap()
            .unwrap()
            .report_id
            .unwrap();
        let now = file(
            &app,
            "demo-finance",
            "2019-12-10T10:00:00+09:00",
            emotet("Emotet感染による不審メールの大量送信", "finance"),
        )
        .await;
        let before = file(
            &app,
            "demo-railway",
            "2018-06-01T10:00:00+09:00",
            emotet("添付ファイルのマクロ実行によるEmotet感染", "railway"),
        )
        .await;
        let other = file(
            &app,
            "demo-electricity",
            "2019-09-30T10:00:00+09:00",
            unrelated(),
        )
        .await;
        let index = SearchIndex::in_ram().unwrap();
        kizuki_search::follow::catch_up(&index, &app.store, &mut |_| {})
            .await
            .unwrap();
        let oracle = IndexSimilarity::new(index.clone(), &app.taxonomy);

        let r5 = app.store.get_report(case5).await.unwrap();
        let found = oracle.similar(&r5).unwrap();
        let ids: Vec<ReportId> = found.iter().map(|s| s.report_id).collect();
        assert!(
            ids.contains(&now.id) && ids.contains(&before.id),
            "{found:?}"
        );
        assert!(!ids.contains(&other.id), "a flood is not an Emotet case");
        assert!(!ids.contains(&case5), "never itself");
        let why = &found.iter().find(|s| s.report_id == now.id).unwrap().why;
        assert!(why.contains("事象「マルウェア等の感染」"), "{why}");
        assert!(why.contains("原因「不審メール等の受信」"), "{why}");

        let ranking = rank(&app, 2019, &[], None, Some(&oracle)).await.unwrap();
        assert_eq!(ranking.similarity, INDEX_ORACLE_NAME);
        let c5 = find(&ranking.candidates, case5);
        let similar = c5.score("similar-cases").unwrap();
        assert!(
            similar.evidence.contains("今期1件・過去1件"),
            "{}",
            similar.evidence
        );
        assert_eq!(similar.value.map(|v| v.get()), Some(2));
        let trend = c5.score("trend").unwrap();
        assert!(trend.evidence.contains("今期1件"), "{}", trend.evidence);
        // The flood has nothing like it anywhere.
        let c = find(&ranking.candidates, other.id);
        assert_eq!(
            c.score("similar-cases").unwrap().value.map(|v| v.get()),
            Some(0)
        );
    }

    /// The ranking's lookups leave the async worker free: on a single-threaded runtime another
    /// task keeps being polled while they run (an in-place lookup would finish within the
    /// first poll, before the other task could see it started), and the answers are those
    /// of the lookups one by one.
    #[tokio::test(flavor = "current_thread")]
    async fn the_lookups_run_off_the_async_worker() {
        use std::cell::Cell;
        let (app, _dir) = demo().await;
        let index = SearchIndex::in_ram().unwrap();
        kizuki_search::follow::catch_up(&index, &app.store, &mut |_| {})
            .await
            .unwrap();
        let oracle = IndexSimilarity::new(index, &app.taxonomy);
        let reports = app
            .store
            .list_reports(
                &kizuki_store::ReportFilter::default(),
                kizuki_store::Page::new(1, kizuki_store::Page::MAX_SIZE),
            )
            .await
            .unwrap()
            .items;
        assert!(reports.len() > 5, "the demo has reports");

        let (started, done, polled_meanwhile) = (Cell::new(false), Cell::new(false), Cell::new(0));
        let lookups = async {
            started.set(true);
            let found = oracle.similar_each(&reports).await;
            done.set(true);
            found
        };
        let other = async {
            while !done.get() {
                if started.get() {
                    polled_meanwhile.set(polled_meanwhile.get() + 1);
                }
                tokio::task::yield_now().await;
            }
        };
        let (found, ()) = tokio::join!(lookups, other);
        assert!(
            polled_meanwhile.get() > 0,
            "the worker was held for the whole lookup"
        );
        let one_by_one: Vec<Vec<SimilarReport>> =
            reports.iter().map(|r| oracle.similar(r).unwrap()).collect();
        assert_eq!(found.unwrap(), one_by_one);
        assert!(
            one_by_one.iter().any(|s| !s.is_empty()),
            "something is similar"
        );
    }

    #[tokio::test]
    async fn a_report_the_index_has_not_seen_is_described_from_the_store() {
        let (app, _dir) = demo().await;
        let index = SearchIndex::in_ram().unwrap();
        kizuki_search::follow::catch_up(&index, &app.store, &mut |_| {})
            .await
            .unwrap();
        // Filed after the index caught up: not in it.
        let late = file(
            &app,
            "demo-finance",
            "2019-12-10T10:00:00+09:00",
            emotet("Emotet感染による不審メールの大量送信", "finance"),
        )
        .await;
        let oracle = IndexSimilarity::new(index, &app.taxonomy);
        let found = oracle.similar(&late).unwrap();
        let case5 = app
            .store
            .case_by_number(2019, 5)
            .await
            .unwrap()
            .unwrap()
            .report_id
            .unwrap();
        assert_eq!(
            found.iter().map(|s| s.report_id).collect::<Vec<_>>(),
            vec![case5],
            "{found:?}"
        );
    }
}
