//! Conformance of the survey year: dropping a case out of its survey, reopening a confirmed
//! selection so another can be confirmed, the append-only cooperation history (a stale count
//! conflicts, of concurrent appends one wins) and the published editions (numbered per year,
//! kept byte for byte, numbered apart under concurrency).

use super::{a_user, an_org, case_content, file, survey_content, t0};
use crate::*;
use chrono::{Duration, NaiveDate};

pub async fn drop_case_takes_it_out_of_its_survey(store: DynStore) {
    let org = an_org(store.as_ref()).await;
    let r = file(store.as_ref(), org.id, "事例の元", t0()).await;
    let c1 = store
        .create_case(Some(2019), Some(r.id), case_content(1), None, t0())
        .await
        .unwrap();
    let c2 = store
        .create_case(Some(2019), None, case_content(2), None, t0())
        .await
        .unwrap();
    let by = a_user(store.as_ref(), org.id, "an@example.jp").await;
    let before = store.changes_since(0, 10_000).await.unwrap().len();
    let at = t0() + Duration::hours(2);

    let dropped = store.drop_case(c1.id, 1, Some(by.id), at).await.unwrap();
    assert_eq!(dropped.survey_year, None);
    assert_eq!(dropped.version, 2);
    assert_eq!(
        dropped.content, c1.content,
        "the number and content are kept"
    );
    assert_eq!(dropped.report_id, Some(r.id));
    assert_eq!(store.get_case(c1.id).await.unwrap(), dropped);
    assert_eq!(
        store.list_cases(Some(2019)).await.unwrap(),
        vec![c2.clone()]
    );
    assert_eq!(store.case_by_number(2019, 1).await.unwrap(), None);
    assert!(
        store.list_cases(None).await.unwrap().contains(&dropped),
        "the case itself stays"
    );
    let h = store.case_history(c1.id).await.unwrap();
    assert_eq!(
        h.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        vec!["create", "drop"]
    );
    let last = h.last().unwrap();
    assert_eq!(last.version, 2);
    assert_eq!(last.at, at);
    assert_eq!(last.user_id, Some(by.id));
    let changes = store.changes_since(0, 10_000).await.unwrap();
    assert!(
        changes[before..]
            .iter()
            .any(|ch| ch.entity == Entity::Case && ch.id == c1.id.0),
        "search indexes must hear of it: {changes:?}"
    );

    // A stale version conflicts with the case as it is, and changes nothing.
    match store.drop_case(c2.id, 7, None, at).await {
        Err(StoreError::Conflict {
            entity: "case",
            current: Current::Case(cur),
        }) => assert_eq!(*cur, c2),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(store.get_case(c2.id).await.unwrap(), c2);
    match store.drop_case(c1.id, 1, None, at).await {
        Err(StoreError::Conflict {
            current: Current::Case(cur),
            ..
        }) => assert_eq!(*cur, dropped),
        other => panic!("expected a conflict, got {other:?}"),
    }
    // A case in no survey cannot leave one.
    let again = store.drop_case(c1.id, 2, None, at).await;
    assert!(matches!(again, Err(StoreError::Invalid(_))), "{again:?}");
    assert_eq!(store.case_history(c1.id).await.unwrap().len(), 2);
    let missing = store.drop_case(CaseId(987_654), 1, None, at).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { entity: "case", .. })),
        "{missing:?}"
    );

    // The number is free again, and the report may become a case of the survey again.
    let back = store
        .create_case(Some(2019), Some(r.id), case_content(1), None, at)
        .await
        .unwrap();
    assert_eq!(store.case_by_number(2019, 1).await.unwrap(), Some(back));
    assert!(store.check().await.unwrap().is_empty());
}

fn member(r: ReportId, chosen: bool, rank: u32) -> SelectionMember {
    SelectionMember {
        report_id: r,
        chosen,
        rank,
        category: None,
        case_id: None,
    }
}

pub async fn reopened_selection_makes_way_for_another(store: DynStore) {
    let org = an_org(store.as_ref()).await;
    let a = file(store.as_ref(), org.id, "A", t0()).await;
    let b = file(store.as_ref(), org.id, "B", t0()).await;
    store.create_survey(survey_content(2019)).await.unwrap();
    let new = |members| NewSelection {
        survey_year: 2019,
        snapshot: r#"{"案":1}"#.into(),
        members,
        by: None,
        at: t0(),
    };
    let s1 = store
        .save_selection(new(vec![member(a.id, true, 1), member(b.id, false, 2)]))
        .await
        .unwrap();

    // Only a confirmed selection can be reopened.
    let draft = store.reopen_selection(s1.id, 1, None, t0()).await;
    assert!(matches!(draft, Err(StoreError::Invalid(_))), "{draft:?}");
    assert_eq!(store.get_selection(s1.id).await.unwrap(), s1);
    let missing = store.reopen_selection(987_654, 1, None, t0()).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "{missing:?}"
    );

    let confirmed_at = t0() + Duration::hours(1);
    let confirmed = store
        .confirm_selection(
            s1.id,
            1,
            None,
            confirmed_at,
            vec![CaseDraft {
                report_id: a.id,
                content: case_content(1),
            }],
        )
        .await
        .unwrap();
    let case_a = store.case_by_number(2019, 1).await.unwrap().unwrap();

    // A stale version conflicts with the selection as it is.
    match store.reopen_selection(s1.id, 1, None, t0()).await {
        Err(StoreError::Conflict {
            entity: "selection",
            current: Current::Selection(cur),
        }) => assert_eq!(*cur, confirmed),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(
        store.confirmed_selection(2019).await.unwrap(),
        Some(confirmed.clone())
    );

    let before = store.changes_since(0, 10_000).await.unwrap().len();
    let reopened = store
        .reopen_selection(s1.id, 2, None, t0() + Duration::hours(2))
        .await
        .unwrap();
    assert_eq!(reopened.status, SelectionStatus::Reopened);
    assert_eq!(reopened.version, 3);
    assert_eq!(reopened.snapshot, confirmed.snapshot);
    assert_eq!(
        reopened.members, confirmed.members,
        "members keep their cases"
    );
    assert_eq!(reopened.confirmed_at, Some(confirmed_at));
    assert_eq!(store.get_selection(s1.id).await.unwrap(), reopened);
    assert_eq!(store.confirmed_selection(2019).await.unwrap(), None);
    assert_eq!(
        store.get_case(case_a.id).await.unwrap(),
        case_a,
        "the cases it created stay"
    );
    let changes = store.changes_since(0, 10_000).await.unwrap();
    assert!(
        changes[before..]
            .iter()
            .any(|ch| ch.entity == Entity::Selection && ch.id == s1.id),
        "{changes:?}"
    );
    // Reopened is not confirmed: neither reopened again nor confirmed again.
    let twice = store.reopen_selection(s1.id, 3, None, t0()).await;
    assert!(matches!(twice, Err(StoreError::Invalid(_))), "{twice:?}");
    let reconfirm = store
        .confirm_selection(s1.id, 3, None, t0(), Vec::new())
        .await;
    assert!(
        matches!(reconfirm, Err(StoreError::Invalid(_))),
        "{reconfirm:?}"
    );

    // A new proposal of the survey can be saved and confirmed.
    let s2 = store
        .save_selection(new(vec![member(a.id, true, 2), member(b.id, true, 1)]))
        .await
        .unwrap();
    let decided = store
        .confirm_selection(
            s2.id,
            1,
            None,
            t0() + Duration::hours(3),
            vec![CaseDraft {
                report_id: b.id,
                content: case_content(2),
            }],
        )
        .await
        .unwrap();
    assert_eq!(decided.status, SelectionStatus::Confirmed);
    let by_report = |r: ReportId| decided.members.iter().find(|m| m.report_id == r).unwrap();
    assert_eq!(by_report(a.id).case_id, Some(case_a.id), "kept its case");
    assert!(by_report(b.id).case_id.is_some());
    assert_eq!(
        store.confirmed_selection(2019).await.unwrap(),
        Some(decided.clone())
    );
    assert_eq!(
        store.get_selection(s1.id).await.unwrap().status,
        SelectionStatus::Reopened
    );
    // And that one, still, is the survey's only decision.
    let s3 = store.save_selection(new(Vec::new())).await.unwrap();
    let third = store
        .confirm_selection(s3.id, 1, None, t0(), Vec::new())
        .await;
    assert!(matches!(third, Err(StoreError::Invalid(_))), "{third:?}");
    assert!(store.check().await.unwrap().is_empty());
}

fn entry(case: CaseId, expected_seq: u32, status: CooperationStatus) -> NewCooperation {
    NewCooperation {
        case_id: case,
        expected_seq,
        status,
        on: NaiveDate::from_ymd_opt(2019, 6, 3).unwrap() + Duration::days(i64::from(expected_seq)),
        contact: format!("情報システム部 担当{expected_seq} 03-0000-000{expected_seq}"),
        reason: String::new(),
        by: None,
        at: t0() + Duration::minutes(i64::from(expected_seq)),
    }
}

pub async fn cooperation_history_appends_in_order(store: DynStore) {
    let org = an_org(store.as_ref()).await;
    let analyst = a_user(store.as_ref(), org.id, "an@example.jp").await;
    let case = store
        .create_case(Some(2019), None, case_content(1), None, t0())
        .await
        .unwrap();
    let other = store
        .create_case(Some(2019), None, case_content(2), None, t0())
        .await
        .unwrap();
    assert!(store.cooperation_history(case.id).await.unwrap().is_empty());

    let mut asked = entry(case.id, 0, CooperationStatus::Requested);
    asked.by = Some(analyst.id);
    let first = store.append_cooperation(asked.clone()).await.unwrap();
    assert_eq!(
        first,
        CooperationRecord {
            case_id: case.id,
            seq: 1,
            status: CooperationStatus::Requested,
            on: asked.on,
            contact: asked.contact.clone(),
            reason: String::new(),
            by: Some(analyst.id),
            at: asked.at,
        }
    );
    let mut declined = entry(case.id, 1, CooperationStatus::Declined);
    declined.reason = "社内調整がつかないため（再発防止策の公表前）".into();
    let second = store.append_cooperation(declined.clone()).await.unwrap();
    assert_eq!(second.seq, 2);
    assert_eq!(second.status, CooperationStatus::Declined);
    assert_eq!(second.reason, declined.reason);

    // A writer that saw another count conflicts and appends nothing.
    for stale in [0, 1, 3] {
        match store
            .append_cooperation(entry(case.id, stale, CooperationStatus::Agreed))
            .await
        {
            Err(StoreError::Conflict {
                entity: "cooperation",
                current: Current::Version(2),
            }) => {}
            other => panic!("expected a conflict at 2 for {stale}, got {other:?}"),
        }
    }
    let history = store.cooperation_history(case.id).await.unwrap();
    assert_eq!(
        history,
        vec![first, second],
        "oldest first, read back whole"
    );

    // Each case counts on its own.
    let third = store
        .append_cooperation(entry(other.id, 0, CooperationStatus::Agreed))
        .await
        .unwrap();
    assert_eq!(third.seq, 1);
    assert_eq!(store.cooperation_history(case.id).await.unwrap().len(), 2);
    assert_eq!(
        store.cooperation_history(other.id).await.unwrap(),
        vec![third]
    );

    let missing = store
        .append_cooperation(entry(CaseId(987_654), 0, CooperationStatus::Requested))
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { entity: "case", .. })),
        "{missing:?}"
    );
    assert!(store.check().await.unwrap().is_empty());
}

pub async fn concurrent_cooperation_appends_one_wins(store: DynStore) {
    let case = store
        .create_case(Some(2019), None, case_content(1), None, t0())
        .await
        .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            let mut e = entry(case.id, 0, CooperationStatus::Requested);
            e.contact = format!("node-{i}");
            tokio::spawn(async move { store.append_cooperation(e).await })
        })
        .collect();
    let mut won = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(r) => won.push(r),
            Err(StoreError::Conflict {
                current: Current::Version(1),
                ..
            }) => {}
            Err(e) => panic!("a losing append must be a conflict at 1: {e:?}"),
        }
    }
    assert_eq!(won.len(), 1, "exactly one append of seq 1 wins");
    assert_eq!(store.cooperation_history(case.id).await.unwrap(), won);
}

pub async fn editions_are_numbered_and_kept_whole(store: DynStore) {
    let org = an_org(store.as_ref()).await;
    let editor = a_user(store.as_ref(), org.id, "ed@example.jp").await;
    let new = |year, snapshot: &str, at| NewEdition {
        survey_year: year,
        snapshot: snapshot.to_owned(),
        by: editor.id,
        at,
    };
    let no_survey = store.publish_edition(new(2019, "{}", t0())).await;
    assert!(
        matches!(
            no_survey,
            Err(StoreError::NotFound {
                entity: "survey",
                ..
            })
        ),
        "{no_survey:?}"
    );
    store.create_survey(survey_content(2019)).await.unwrap();
    store.create_survey(survey_content(2020)).await.unwrap();
    assert!(store.editions(2019).await.unwrap().is_empty());

    // Key order, spacing, line ends and non-ASCII must survive: it is what was published.
    let snap1 = "{\"z\": 1,\r\n  \"a\":\"令和元年度（2019）— 事例①\",\"n\":[1.50, 2e3]}\n";
    let first = store.publish_edition(new(2019, snap1, t0())).await.unwrap();
    assert_eq!(
        first,
        Edition {
            survey_year: 2019,
            number: 1,
            snapshot: snap1.to_owned(),
            published_by: editor.id,
            published_at: t0(),
        }
    );
    let second = store
        .publish_edition(new(2019, r#"{"版":2}"#, t0() + Duration::days(30)))
        .await
        .unwrap();
    assert_eq!(second.number, 2);
    let other_year = store.publish_edition(new(2020, "{}", t0())).await.unwrap();
    assert_eq!(other_year.number, 1, "each survey counts on its own");

    assert_eq!(
        store.editions(2019).await.unwrap(),
        vec![first.clone(), second.clone()]
    );
    assert_eq!(store.edition(2019, 1).await.unwrap(), first);
    assert_eq!(store.edition(2019, 1).await.unwrap().snapshot, snap1);
    assert_eq!(store.edition(2019, 2).await.unwrap(), second);
    assert_eq!(store.editions(2020).await.unwrap(), vec![other_year]);
    assert!(store.editions(2021).await.unwrap().is_empty());
    match store.edition(2019, 3).await {
        Err(StoreError::NotFound {
            entity: "edition",
            id,
        }) => assert_eq!(id, "2019-3"),
        other => panic!("expected not found, got {other:?}"),
    }
    assert!(matches!(
        store.edition(2021, 1).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(store.check().await.unwrap().is_empty());
}

pub async fn concurrent_publishes_get_their_own_numbers(store: DynStore) {
    let org = an_org(store.as_ref()).await;
    let editor = a_user(store.as_ref(), org.id, "ed@example.jp").await;
    store.create_survey(survey_content(2019)).await.unwrap();
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .publish_edition(NewEdition {
                        survey_year: 2019,
                        snapshot: format!("{{\"node\":{i}}}"),
                        by: editor.id,
                        at: t0(),
                    })
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.push(t.await.unwrap().number);
    }
    numbers.sort_unstable();
    assert_eq!(numbers, vec![1, 2, 3, 4, 5, 6]);
    let stored = store.editions(2019).await.unwrap();
    assert_eq!(stored.iter().map(|e| e.number).collect::<Vec<_>>(), numbers);
}
