//! Conformance of case selection: score overrides, saved selections (snapshot kept
//! byte for byte) and confirmation, which creates case drafts all-or-nothing.

use super::{an_org, case_content, file, survey_content, t0};
use crate::*;
use chrono::Duration;

fn ov(report_id: ReportId, key: &str, value: u8, reason: &str) -> ScoreOverrideRecord {
    ScoreOverrideRecord {
        survey_year: 2019,
        report_id,
        key: key.to_owned(),
        value,
        reason: reason.to_owned(),
        by: None,
        at: t0(),
    }
}

pub async fn selection_overrides_round_trip(store: DynStore) {
    let org = an_org(store.as_ref()).await;
    let a = file(store.as_ref(), org.id, "A", t0()).await;
    let b = file(store.as_ref(), org.id, "B", t0()).await;
    let missing = store
        .put_score_override(ov(a.id, "novelty", 2, "理由"))
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "no survey yet: {missing:?}"
    );
    store.create_survey(survey_content(2019)).await.unwrap();
    let first = store
        .put_score_override(ov(b.id, "novelty", 2, "新しい手口"))
        .await
        .unwrap();
    assert_eq!(first, ov(b.id, "novelty", 2, "新しい手口"));
    store
        .put_score_override(ov(a.id, "severity", 1, "軽微"))
        .await
        .unwrap();
    let mut again = ov(b.id, "novelty", 3, "前例なし");
    again.at = t0() + Duration::minutes(5);
    store.put_score_override(again.clone()).await.unwrap();
    let all = store.list_score_overrides(2019).await.unwrap();
    assert_eq!(all, vec![ov(a.id, "severity", 1, "軽微"), again]);
    assert!(store.list_score_overrides(2020).await.unwrap().is_empty());
    store
        .delete_score_override(2019, a.id, "severity")
        .await
        .unwrap();
    store
        .delete_score_override(2019, a.id, "severity")
        .await
        .unwrap();
    assert_eq!(store.list_score_overrides(2019).await.unwrap().len(), 1);
}

fn member(r: ReportId, chosen: bool, rank: u32) -> SelectionMember {
    SelectionMember {
        report_id: r,
        chosen,
        rank,
        category: Some("system-failure".into()),
        case_id: None,
    }
}

pub async fn selections_save_confirm_and_conflict(store: DynStore) {
    let org = an_org(store.as_ref()).await;
    let a = file(store.as_ref(), org.id, "A", t0()).await;
    let b = file(store.as_ref(), org.id, "B", t0()).await;
    let c = file(store.as_ref(), org.id, "C", t0()).await;
    store.create_survey(survey_content(2019)).await.unwrap();
    let existing = store
        .create_case(Some(2019), Some(a.id), case_content(1), None, t0())
        .await
        .unwrap();
    // Key order and non-ASCII must survive: the snapshot is what was decided.
    let snapshot = r#"{"z":1,"a":"実害あり（深刻度レベル2）","m":[3,1.5]}"#.to_owned();
    let new = |at| NewSelection {
        survey_year: 2019,
        snapshot: snapshot.clone(),
        members: vec![
            member(a.id, true, 1),
            member(b.id, true, 2),
            member(c.id, false, 3),
        ],
        by: None,
        at,
    };
    let s1 = store.save_selection(new(t0())).await.unwrap();
    let s2 = store
        .save_selection(new(t0() + Duration::minutes(1)))
        .await
        .unwrap();
    assert_eq!(s1.version, 1);
    assert_eq!(s1.status, SelectionStatus::Draft);
    assert_eq!(s1.snapshot, snapshot);
    assert_eq!(s1.members.len(), 3);
    assert_eq!(s1.created_at, t0());
    assert_eq!(store.get_selection(s1.id).await.unwrap(), s1);
    let listed = store.list_selections(2019).await.unwrap();
    assert_eq!(
        listed.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![s2.id, s1.id],
        "newest first"
    );
    assert_eq!(store.confirmed_selection(2019).await.unwrap(), None);
    let missing = store.save_selection(NewSelection {
        survey_year: 2031,
        ..new(t0())
    });
    assert!(matches!(missing.await, Err(StoreError::NotFound { .. })));

    // A stale version is a conflict carrying the selection as it is.
    let stale = store
        .confirm_selection(s1.id, 7, None, t0(), Vec::new())
        .await;
    match stale {
        Err(StoreError::Conflict {
            current: Current::Selection(cur),
            ..
        }) => assert_eq!(*cur, s1),
        other => panic!("{other:?}"),
    }
    // A draft whose number is taken fails the whole confirmation.
    let taken = store
        .confirm_selection(
            s1.id,
            1,
            None,
            t0(),
            vec![CaseDraft {
                report_id: b.id,
                content: case_content(1),
            }],
        )
        .await;
    assert!(
        matches!(taken, Err(StoreError::Duplicate { .. })),
        "{taken:?}"
    );
    assert_eq!(store.get_selection(s1.id).await.unwrap(), s1, "rolled back");
    assert_eq!(store.list_cases(Some(2019)).await.unwrap().len(), 1);
    // A report the selection did not choose cannot become a case through it.
    let unchosen = store
        .confirm_selection(
            s1.id,
            1,
            None,
            t0(),
            vec![CaseDraft {
                report_id: c.id,
                content: case_content(2),
            }],
        )
        .await;
    assert!(
        matches!(unchosen, Err(StoreError::Invalid(_))),
        "{unchosen:?}"
    );

    let before = store.changes_since(0, 10_000).await.unwrap();
    let at = t0() + Duration::hours(1);
    let done = store
        .confirm_selection(
            s1.id,
            1,
            None,
            at,
            vec![CaseDraft {
                report_id: b.id,
                content: case_content(2),
            }],
        )
        .await
        .unwrap();
    assert_eq!(done.status, SelectionStatus::Confirmed);
    assert_eq!(done.version, 2);
    assert_eq!(done.confirmed_at, Some(at));
    assert_eq!(done.snapshot, snapshot);
    let drafted = store.case_by_number(2019, 2).await.unwrap().unwrap();
    assert_eq!(drafted.report_id, Some(b.id));
    let by_report = |r: ReportId| done.members.iter().find(|m| m.report_id == r).unwrap();
    assert_eq!(by_report(a.id).case_id, Some(existing.id), "kept its case");
    assert_eq!(by_report(b.id).case_id, Some(drafted.id));
    assert_eq!(by_report(c.id).case_id, None);
    assert_eq!(
        store.get_report(b.id).await.unwrap().case_id,
        Some(drafted.id)
    );
    assert_eq!(
        store.confirmed_selection(2019).await.unwrap(),
        Some(done.clone())
    );
    let after = store.changes_since(0, 10_000).await.unwrap();
    let new_changes = &after[before.len()..];
    assert!(
        new_changes
            .iter()
            .any(|ch| ch.entity == Entity::Selection && ch.id == s1.id),
        "{new_changes:?}"
    );
    assert!(
        new_changes
            .iter()
            .any(|ch| ch.entity == Entity::Case && ch.id == drafted.id.0)
    );

    // One decision per survey: neither the same selection nor another can be confirmed again.
    let twice = store
        .confirm_selection(s1.id, 2, None, at, Vec::new())
        .await;
    assert!(matches!(twice, Err(StoreError::Invalid(_))), "{twice:?}");
    let other = store
        .confirm_selection(s2.id, 1, None, at, Vec::new())
        .await;
    assert!(matches!(other, Err(StoreError::Invalid(_))), "{other:?}");
    assert_eq!(
        store.get_selection(s2.id).await.unwrap().status,
        SelectionStatus::Draft
    );
}
