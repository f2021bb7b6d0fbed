//! Conformance for write throughput: `create_reports` is one all-or-none
//! transaction with its change feed in order, and many concurrent `create_report` calls
//! (which SQLite commits in groups) each commit exactly once, while a failing one leaves
//! the others that ran beside it untouched.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::{details, first_stage, new_org, t0};
use crate::*;
use chrono::Duration;
use std::collections::HashSet;

fn new_report(org: OrgId, title: &str, minutes: i64) -> NewReport {
    NewReport {
        org_id: org,
        details: details(title, "railway"),
        first: first_stage(t0() + Duration::minutes(minutes)),
    }
}

async fn feed_head(store: &dyn Store) -> i64 {
    let mut head = 0;
    loop {
        let page = store.changes_since(head, 1000).await.unwrap();
        match page.last() {
            Some(c) => head = c.seq,
            None => return head,
        }
    }
}

async fn reports_in_feed(store: &dyn Store, after: i64) -> Vec<i64> {
    store
        .changes_since(after, 100_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.entity == Entity::Report)
        .map(|c| c.id)
        .collect()
}

pub async fn create_reports_in_one_batch(store: DynStore) {
    let org = store.create_org(new_org("batch", "railway")).await.unwrap();
    let start = feed_head(store.as_ref()).await;
    assert!(store.create_reports(Vec::new()).await.unwrap().is_empty());
    assert_eq!(
        feed_head(store.as_ref()).await,
        start,
        "an empty batch writes nothing"
    );

    let titles = ["一件目", "二件目", "三件目", "四件目"];
    let batch: Vec<NewReport> = titles
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut r = new_report(org.id, t, i as i64);
            // Finer than any backend keeps: what comes back must be what is stored.
            r.first.at += Duration::nanoseconds(789 * i as i64);
            r
        })
        .collect();
    let made = store.create_reports(batch.clone()).await.unwrap();
    assert_eq!(made.len(), titles.len());
    for ((r, want), title) in made.iter().zip(&batch).zip(titles) {
        assert_eq!(
            r.details.title, title,
            "results come back in the order given"
        );
        assert_eq!(r.org_id, org.id);
        assert_eq!(r.version, 1);
        assert!(
            (r.reported_at - want.first.at)
                .num_microseconds()
                .unwrap()
                .abs()
                <= 1
        );
        assert_eq!(r.stages.len(), 1);
        assert_eq!(store.get_report(r.id).await.unwrap(), *r);
        assert_eq!(
            store.report_history(r.id).await.unwrap().len(),
            1,
            "each report of a batch has its own history entry"
        );
    }
    let ids: Vec<i64> = made.iter().map(|r| r.id.0).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids ascend: {ids:?}");
    assert_eq!(reports_in_feed(store.as_ref(), start).await, ids);
}

pub async fn create_reports_is_all_or_none(store: DynStore) {
    let org = store.create_org(new_org("aon", "railway")).await.unwrap();
    let start = feed_head(store.as_ref()).await;
    let batch = vec![
        new_report(org.id, "良い一件", 0),
        // No such organisation: the whole batch must fail.
        new_report(OrgId(987_654), "存在しない組織", 1),
        new_report(org.id, "良い二件", 2),
    ];
    assert!(store.create_reports(batch).await.is_err());
    assert_eq!(
        feed_head(store.as_ref()).await,
        start,
        "a failed batch leaves no change-feed entry"
    );
    let listed = store
        .list_reports(&ReportFilter::default(), Page::default())
        .await
        .unwrap();
    assert_eq!(listed.total, 0, "a failed batch stores no report");
}

pub async fn concurrent_creates_all_commit(store: DynStore) {
    let a = store
        .create_org(new_org("conc-a", "railway"))
        .await
        .unwrap();
    let b = store
        .create_org(new_org("conc-b", "finance"))
        .await
        .unwrap();
    let start = feed_head(store.as_ref()).await;
    let n = 64;
    let mut tasks = Vec::new();
    for i in 0..n {
        let store = store.clone();
        let org = if i % 2 == 0 { a.id } else { b.id };
        tasks.push(tokio::spawn(async move {
            let title = format!("同時{i}");
            let r = store
                .create_report(new_report(org, &title, i))
                .await
                .unwrap();
            (title, org, r)
        }));
    }
    let mut ids = HashSet::new();
    for t in tasks {
        let (title, org, r) = t.await.unwrap();
        assert_eq!(r.details.title, title);
        assert_eq!(r.org_id, org);
        assert!(ids.insert(r.id.0), "id {} handed out twice", r.id.0);
        assert_eq!(store.get_report(r.id).await.unwrap(), r);
    }
    assert_eq!(ids.len(), n as usize);
    let fed = reports_in_feed(store.as_ref(), start).await;
    assert_eq!(fed.len(), ids.len(), "one change per report, none twice");
    assert_eq!(fed.iter().copied().collect::<HashSet<_>>(), ids);
}

pub async fn concurrent_failure_spares_others(store: DynStore) {
    let org = store.create_org(new_org("spare", "railway")).await.unwrap();
    let start = feed_head(store.as_ref()).await;
    let mut tasks = Vec::new();
    for i in 0..48_i64 {
        let store = store.clone();
        // Every fourth one names a missing organisation and must fail on its own.
        let bad = i % 4 == 3;
        let target = if bad { OrgId(900_000 + i) } else { org.id };
        tasks.push(tokio::spawn(async move {
            let out = store
                .create_report(new_report(target, &format!("混在{i}"), i))
                .await;
            (bad, out)
        }));
    }
    let mut good = HashSet::new();
    for t in tasks {
        match t.await.unwrap() {
            (true, out) => assert!(out.is_err(), "a report of a missing organisation"),
            (false, out) => {
                let r = out.expect("a valid report must commit beside a failing one");
                assert_eq!(store.get_report(r.id).await.unwrap(), r);
                good.insert(r.id.0);
            }
        }
    }
    assert_eq!(good.len(), 36);
    let fed: HashSet<i64> = reports_in_feed(store.as_ref(), start)
        .await
        .into_iter()
        .collect();
    assert_eq!(fed, good, "the feed holds exactly the committed reports");
    let listed = store
        .list_reports(&ReportFilter::default(), Page::default())
        .await
        .unwrap();
    assert_eq!(listed.total, 36);
}
