//! The index end to end over a real SQLite store: normalisation and bigrams as a user meets
//! them, access rules inside queries (hits, totals, facets), phrases, exclusions, filters,
//! following the change feed across a restart, and similar cases on the 2019 survey.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "helpers of tests stop at the line that failed, as the tests do"
)]

use chrono::{DateTime, TimeZone, Utc};
use kizuki_domain::ids::OrgId;
use kizuki_domain::org::{NewOrganisation, OrgKind};
use kizuki_domain::report::{ReportInput, StageKind};
use kizuki_domain::taxonomy::{Code, Taxonomy};
use kizuki_search::access::{centre_viewer, ministry_viewer, operator_viewer};
use kizuki_search::follow::catch_up;
use kizuki_search::{DocKind, Query, SearchIndex, SimilarOptions, SimilarTo, Viewer};
use kizuki_store::{DynStore, NewReport, NewStage};
use kizuki_store_sqlite::SqliteStore;
use std::sync::Arc;

struct World {
    _dir: tempfile::TempDir,
    store: DynStore,
    tx: Taxonomy,
    index: SearchIndex,
    index_dir: std::path::PathBuf,
}

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 3, 0, 0).unwrap()
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("k.db")).unwrap();
        let index_dir = dir.path().join("index");
        World {
            index: SearchIndex::open(&index_dir).unwrap(),
            index_dir,
            store: Arc::new(store),
            tx: kizuki_dataset::default_taxonomy().unwrap(),
            _dir: dir,
        }
    }

    async fn org(&self, key: &str, kind: OrgKind, sector: &str) -> OrgId {
        let o = NewOrganisation {
            key: key.into(),
            name: key.into(),
            kind,
            sectors: vec![Code(sector.into())],
            region: None,
        }
        .parse(&self.tx)
        .unwrap();
        self.store.create_org(o).await.unwrap().id
    }

    async fn report(
        &self,
        org: OrgId,
        title: &str,
        summary: &str,
        tlp: &str,
        when: DateTime<Utc>,
    ) -> i64 {
        self.report_with(org, title, summary, tlp, when, "railway", "malware")
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn report_with(
        &self,
        org: OrgId,
        title: &str,
        summary: &str,
        tlp: &str,
        when: DateTime<Utc>,
        sector: &str,
        event_type: &str,
    ) -> i64 {
        let details = ReportInput {
            title: title.into(),
            sector: sector.into(),
            event_type: event_type.into(),
            summary: summary.into(),
            tlp: tlp.into(),
            causes: vec!["suspicious-mail".into()],
            ..Default::default()
        }
        .parse(&self.tx)
        .unwrap();
        let r = self
            .store
            .create_report(NewReport {
                org_id: org,
                details,
                first: NewStage {
                    kind: StageKind::First,
                    at: when,
                    text: summary.into(),
                    author: None,
                },
            })
            .await
            .unwrap();
        r.id.0
    }

    async fn sync(&self) {
        catch_up(&self.index, &self.store, &mut |_| {})
            .await
            .unwrap();
    }

    fn ids(&self, q: &str, v: &Viewer) -> Vec<i64> {
        let mut ids: Vec<i64> = self
            .index
            .search(&Query::new(q), v)
            .unwrap()
            .hits
            .iter()
            .map(|h| h.id)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Imports the 2019 survey the way `kizuki import survey` does: report, then case.
    async fn survey_2019(&self) -> Vec<(u32, i64)> {
        let files: Vec<(String, String)> = kizuki_dataset::SURVEY_2019
            .iter()
            .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
            .collect();
        let data = kizuki_dataset::parse_survey_files(&files, &self.tx).unwrap();
        let details = data.report_details(&self.tx).unwrap();
        let mut out = Vec::new();
        for (c, d) in data.cases.iter().zip(details) {
            let org = match self.store.org_by_key(&c.report.organisation).await.unwrap() {
                Some(o) => o.id,
                None => {
                    self.org(&c.report.organisation, OrgKind::Operator, &c.report.sector)
                        .await
                }
            };
            let r = self
                .store
                .create_report(NewReport {
                    org_id: org,
                    details: d,
                    first: NewStage {
                        kind: StageKind::First,
                        at: c.report.reported_at(),
                        text: c.report.summary.clone(),
                        author: None,
                    },
                })
                .await
                .unwrap();
            let case = self
                .store
                .create_case(Some(2019), Some(r.id), c.case.clone(), None, at(2020, 3, 1))
                .await
                .unwrap();
            out.push((c.case.number, case.id.0));
        }
        out
    }
}

#[tokio::test]
async fn width_and_case_variants_find_the_same_report() {
    let w = World::new();
    let a = w.org("op-a", OrgKind::Operator, "railway").await;
    let id = w
        .report(
            a,
            "ＥＭＯＴＥＴ感染の疑い",
            "添付ファイルを開いた端末がemotetに感染した。",
            "green",
            at(2024, 5, 1),
        )
        .await;
    w.report(
        a,
        "停電",
        "変電所の機器故障による停電。",
        "green",
        at(2024, 5, 2),
    )
    .await;
    w.sync().await;
    for q in ["ｅｍｏｔｅｔ", "Emotet", "EMOTET", "emotet感染"] {
        assert_eq!(w.ids(q, &centre_viewer()), vec![id], "{q}");
    }
    // Half-width katakana query against full-width text.
    assert_eq!(w.ids("ﾌｧｲﾙ", &centre_viewer()), vec![id]);
}

#[tokio::test]
async fn era_change_finds_case_1_of_the_2019_survey() {
    let w = World::new();
    let cases = w.survey_2019().await;
    w.sync().await;
    let case1 = cases.iter().find(|(n, _)| *n == 1).unwrap().1;
    let r = w
        .index
        .search(
            &Query {
                kinds: vec![DocKind::Case],
                ..Query::new("改元")
            },
            &centre_viewer(),
        )
        .unwrap();
    assert_eq!(r.hits.first().map(|h| h.id), Some(case1), "{:?}", r.hits);
    let h = &r.hits[0];
    assert!(
        h.title
            .highlights
            .iter()
            .any(|x| &h.title.text[x.clone()] == "改元")
    );
    // Lessons are documents of their own.
    let r = w
        .index
        .search(&Query::new("kind:lesson 迅速な判断"), &centre_viewer())
        .unwrap();
    assert!(r.total >= 1, "a lesson about quick decisions (case 4)");
    assert!(r.hits.iter().all(|h| h.kind == DocKind::Lesson));
}

#[tokio::test]
async fn other_organisations_amber_reports_leak_nowhere() {
    let w = World::new();
    let a = w.org("op-a", OrgKind::Operator, "railway").await;
    let b = w.org("op-b", OrgKind::Operator, "finance").await;
    let m = w.org("min-rail", OrgKind::Ministry, "railway").await;
    let secret = w
        .report(
            a,
            "閏秒処理の不具合",
            "閏秒の挿入で運行管理システムが停止した。",
            "amber",
            at(2023, 6, 1),
        )
        .await;
    let strict = w
        .report(
            a,
            "閏秒の再発",
            "閏秒の扱いで再び停止。",
            "amber-strict",
            at(2023, 6, 2),
        )
        .await;
    let shared = w
        .report(
            b,
            "閏秒対策の共有",
            "閏秒への備えを共有する。",
            "green",
            at(2023, 6, 3),
        )
        .await;
    let clear = w
        .report(
            b,
            "閏秒の公開情報",
            "閏秒について公開する。",
            "clear",
            at(2023, 6, 4),
        )
        .await;
    w.sync().await;

    let as_b = operator_viewer(b);
    let r = w.index.search(&Query::new("閏秒"), &as_b).unwrap();
    assert_eq!(r.total, 2, "B sees its own two, not A's amber ones");
    let orgs = r.facets.iter().find(|f| f.field == "org").unwrap();
    assert_eq!(orgs.values.len(), 1, "{orgs:?}");
    assert_eq!(orgs.values[0].value, b.0.to_string());
    let tlps = r.facets.iter().find(|f| f.field == "tlp").unwrap();
    assert!(tlps.values.iter().all(|v| v.value != "amber"), "{tlps:?}");
    // Nothing of A's amber text can be found by B, not even as a count.
    let r = w
        .index
        .search(&Query::new("運行管理システム"), &as_b)
        .unwrap();
    assert_eq!(r.total, 0);
    assert!(
        r.facets.iter().all(|f| f.values.is_empty()),
        "{:?}",
        r.facets
    );
    assert!(r.hits.is_empty());

    assert_eq!(
        w.ids("閏秒", &operator_viewer(a)),
        vec![secret, strict, shared, clear]
    );
    assert_eq!(
        w.ids("閏秒", &centre_viewer()),
        vec![secret, strict, shared, clear]
    );
    assert!(
        w.ids("閏秒", &Viewer::Public).is_empty(),
        "reports are not published yet"
    );
    let ministry = ministry_viewer(m, &["railway"]);
    assert_eq!(
        w.ids("閏秒", &ministry),
        vec![secret, shared, clear],
        "amber of its sector, not strict"
    );

    // Similar items obey the same rule.
    let sim = w
        .index
        .similar(
            &SimilarTo::Report(kizuki_domain::ids::ReportId(shared)),
            &as_b,
            &SimilarOptions::default(),
        )
        .unwrap();
    assert!(
        sim.items.iter().all(|i| i.id != secret && i.id != strict),
        "{:?}",
        sim.items
    );
}

#[tokio::test]
async fn phrases_exclusions_single_characters_and_filters() {
    let w = World::new();
    let a = w.org("op-a", OrgKind::Operator, "railway").await;
    let adjacent = w
        .report(
            a,
            "件名A",
            "基幹システム障害が発生し、窓口を閉じた。",
            "green",
            at(2019, 5, 10),
        )
        .await;
    let apart = w
        .report(
            a,
            "件名B",
            "システムの設定を変えた後、別の障害が出た。訓練として記録。",
            "green",
            at(2020, 5, 10),
        )
        .await;
    let fire = w
        .report_with(
            a,
            "件名C",
            "倉庫で炎が上がった。",
            "green",
            at(2020, 6, 1),
            "logistics",
            "other",
        )
        .await;
    w.sync().await;
    let v = centre_viewer();
    assert_eq!(w.ids("システム 障害", &v), vec![adjacent, apart]);
    assert_eq!(w.ids("\"システム 障害\"", &v), vec![adjacent]);
    assert_eq!(
        w.ids("システム障害", &v),
        vec![adjacent],
        "unquoted Japanese is a substring"
    );
    assert_eq!(w.ids("システム -訓練", &v), vec![adjacent]);
    assert_eq!(w.ids("炎", &v), vec![fire], "one character");
    assert_eq!(w.ids("が", &v).len(), 3, "a particle is in all three");
    assert_eq!(w.ids("障害 fy:2019", &v), vec![adjacent]);
    assert_eq!(w.ids("障害 fy:令和2年度", &v), vec![apart]);
    assert_eq!(
        w.ids("sector:logistics", &v),
        vec![fire],
        "filters alone browse"
    );
    assert_eq!(w.ids("-sector:logistics", &v), vec![adjacent, apart]);
    let r = w.index.search(&Query::new("障害"), &v).unwrap();
    let fy = r.facets.iter().find(|f| f.field == "fiscal_year").unwrap();
    let counts: Vec<(&str, u64)> = fy
        .values
        .iter()
        .map(|x| (x.value.as_str(), x.count))
        .collect();
    assert_eq!(counts, vec![("2019", 1), ("2020", 1)]);
    assert!(r.hits.iter().all(|h| !h.snippet.highlights.is_empty()));
}

#[tokio::test]
async fn reports_are_found_by_the_year_they_occurred() {
    let w = World::new();
    let a = w.org("op-a", OrgKind::Operator, "railway").await;
    // Both filed in FY2020; one occurred on 31 March 2020 in Japan (FY2019), one unknown.
    let filed = at(2020, 5, 10);
    let known = w
        .report(a, "発生済み", "障害が起きた。", "green", filed)
        .await;
    let unknown = w
        .report(a, "発生不明", "障害が起きた。", "green", filed)
        .await;
    let r = w
        .store
        .get_report(kizuki_domain::ids::ReportId(known))
        .await
        .unwrap();
    let mut d = r.details.clone();
    d.occurred_at = Some(Utc.with_ymd_and_hms(2020, 3, 31, 14, 0, 0).unwrap());
    w.store
        .update_report(r.id, r.version, d, None, filed)
        .await
        .unwrap();
    w.sync().await;
    let v = centre_viewer();
    assert_eq!(w.ids("障害 fy:2020", &v), vec![known, unknown]);
    assert_eq!(w.ids("障害 発生年度:2019", &v), vec![known]);
    assert_eq!(w.ids("障害 発生年度:令和元年度", &v), vec![known]);
    assert_eq!(w.ids("occurred:2020", &v), Vec::<i64>::new());
    assert_eq!(w.ids("障害 -発生年度:2019", &v), vec![unknown]);
}

#[tokio::test]
async fn the_index_resumes_from_its_last_commit() {
    let mut w = World::new();
    let a = w.org("op-a", OrgKind::Operator, "railway").await;
    let first = w
        .report(
            a,
            "最初の報告",
            "改札機が停止した。",
            "green",
            at(2024, 1, 5),
        )
        .await;
    w.sync().await;
    let seq = w.index.last_seq();
    assert!(seq > 0);
    // Closing the index releases its writer, as a stopped process would.
    drop(std::mem::replace(
        &mut w.index,
        SearchIndex::in_ram().unwrap(),
    ));

    // Written while no index was following (a crash, or the server down).
    let second = w
        .report(
            a,
            "二件目",
            "改札機が再び停止した。",
            "green",
            at(2024, 1, 6),
        )
        .await;
    let index = SearchIndex::open(&w.index_dir).unwrap();
    assert_eq!(index.last_seq(), seq, "the position survived the restart");
    assert_eq!(index.num_docs(), 1, "nothing was rebuilt");
    let p = catch_up(&index, &w.store, &mut |_| {}).await.unwrap();
    assert_eq!(p.docs, 1, "only the new report was indexed");
    let r = index
        .search(&Query::new("改札機"), &centre_viewer())
        .unwrap();
    let mut ids: Vec<i64> = r.hits.iter().map(|h| h.id).collect();
    ids.sort_unstable();
    assert_eq!(ids, vec![first, second]);

    // An update replaces the document instead of adding another.
    let rep = w
        .store
        .get_report(kizuki_domain::ids::ReportId(first))
        .await
        .unwrap();
    let mut d = rep.details.clone();
    d.summary = "自動改札機の電源故障。".into();
    w.store
        .update_report(rep.id, rep.version, d, None, at(2024, 1, 7))
        .await
        .unwrap();
    catch_up(&index, &w.store, &mut |_| {}).await.unwrap();
    assert_eq!(index.num_docs(), 2);
    assert_eq!(
        index
            .search(&Query::new("電源故障"), &centre_viewer())
            .unwrap()
            .total,
        1
    );
}

#[tokio::test]
async fn similar_cases_come_with_reasons_and_lessons() {
    let w = World::new();
    let _ = w.survey_2019().await;
    let a = w.org("op-new", OrgKind::Operator, "medical").await;
    let id = w
        .report_with(
            a,
            "取引先を装った不審メールの添付ファイルからマルウェアに感染",
            "職員が取引先を装った不審メールの添付ファイル（Word文書）を開き、マクロを有効にしたため端末がEmotetに感染した。本件ではメールシステムに障害が発生し、システムの対応に影響が出た。",
            "green",
            at(2024, 2, 1),
            "medical",
            "malware",
        )
        .await;
    w.sync().await;
    let sim = w
        .index
        .similar(
            &SimilarTo::Report(kizuki_domain::ids::ReportId(id)),
            &operator_viewer(a),
            &SimilarOptions::default(),
        )
        .unwrap();
    let top = sim.items.first().expect("some similar item");
    assert!(
        top.title.contains("Emotet"),
        "{:?}",
        sim.items.iter().map(|i| &i.title).collect::<Vec<_>>()
    );
    assert!(top.reasons.same_event_type);
    assert!(!top.reasons.key_terms.is_empty());
    // Reasons are what the two share and few others do, never words every report uses, and
    // they read as written (ファイル), not as the index normalises them (フアイル).
    assert!(
        top.reasons.key_terms.iter().any(|t| t == "ファイル"),
        "{:?}",
        top.reasons.key_terms
    );
    for item in &sim.items {
        assert!(
            !item
                .reasons
                .key_terms
                .iter()
                .any(|t| t.contains("フア") || t.contains("ウエ")),
            "{:?}",
            item.reasons.key_terms
        );
        for generic in ["システム", "本件", "発生", "対応", "影響"] {
            assert!(
                !item.reasons.key_terms.iter().any(|t| t == generic),
                "{generic} given as a reason: {:?}",
                item.reasons.key_terms
            );
        }
    }
    assert!(!top.lessons.is_empty(), "the case's lessons come along");
    assert!(!sim.lessons.is_empty());
    assert!(
        sim.items
            .iter()
            .all(|i| i.id != id || i.kind != DocKind::Report),
        "not itself"
    );
    assert!(sim.items.len() <= 10);
}
