//! Conformance for lesson themes and tags: themes are versioned and ordered, a lesson's tags
//! change only from the set the editor saw, and an unknown theme is refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::{a_user, case_content, new_org, t0};
use crate::*;
use chrono::Duration;
use kizuki_domain::adoption::{Assessment, AssessmentInput, FollowStatus, FollowUp, Standing};
use kizuki_domain::ids::{CaseId, OrgId, UserId};
use kizuki_domain::lessons::{Theme, ThemeInput};

fn theme(key: &str, name: &str) -> Theme {
    ThemeInput {
        key: key.into(),
        name_ja: name.into(),
        name_en: key.into(),
        description_ja: format!("{name}についての教訓"),
        keywords: "鍵語一, 鍵語二".into(),
        ..ThemeInput::default()
    }
    .parse()
    .unwrap()
}

fn keys(tags: &[LessonTag]) -> Vec<&str> {
    tags.iter().map(|t| t.theme.as_str()).collect()
}

pub async fn lesson_themes_are_versioned_and_ordered(store: DynStore) {
    assert!(store.list_themes().await.unwrap().is_empty());
    let b = store
        .save_theme(&theme("b-theme", "二番目"), 0, None, t0())
        .await
        .unwrap();
    assert_eq!((b.version, b.position), (1, 1));
    let a = store
        .save_theme(&theme("a-theme", "三番目"), 0, None, t0())
        .await
        .unwrap();
    assert_eq!(a.position, 2, "a new theme goes to the end of the list");
    assert!(matches!(
        store
            .save_theme(&theme("a-theme", "重複"), 0, None, t0())
            .await,
        Err(StoreError::Duplicate { .. })
    ));
    let listed: Vec<String> = store
        .list_themes()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.theme.key.to_string())
        .collect();
    assert_eq!(listed, ["b-theme", "a-theme"], "by position, not by key");

    let mut edited = b.theme.clone();
    edited.name_en = "Second".into();
    edited.retired = true;
    let later = t0() + Duration::hours(1);
    let saved = store.save_theme(&edited, 1, None, later).await.unwrap();
    assert_eq!((saved.version, saved.position), (2, 1));
    assert_eq!(saved.theme, edited);
    assert_eq!(saved.updated_at, later);
    match store
        .save_theme(&theme("b-theme", "古い版から"), 1, None, later)
        .await
    {
        Err(StoreError::Conflict { current, .. }) => assert_eq!(current.version(), 2),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        store
            .save_theme(&theme("nothing", "無い"), 3, None, later)
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(store.list_themes().await.unwrap()[0], saved);
}

pub async fn lesson_tags_change_only_from_what_was_seen(store: DynStore) {
    for (k, n) in [
        ("mfa", "多要素認証"),
        ("logs", "ログの保存"),
        ("backup", "代替手段"),
    ] {
        store.save_theme(&theme(k, n), 0, None, t0()).await.unwrap();
    }
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<String>>();
    let lesson = "case:7:0";
    assert!(store.lesson_tags(Some(lesson)).await.unwrap().is_empty());
    let tags = store
        .set_lesson_themes(lesson, &[], &s(&["mfa", "logs"]), None, t0())
        .await
        .unwrap();
    assert_eq!(keys(&tags), ["logs", "mfa"]);
    // Someone who saw no tags cannot overwrite the two now there.
    match store
        .set_lesson_themes(lesson, &[], &s(&["backup"]), None, t0())
        .await
    {
        Err(StoreError::Conflict { .. }) => {}
        other => panic!("{other:?}"),
    }
    // Order and repeats do not count; a kept tag keeps its time.
    let later = t0() + Duration::hours(2);
    let tags = store
        .set_lesson_themes(
            lesson,
            &s(&["mfa", "logs", "mfa"]),
            &s(&["backup", "mfa"]),
            None,
            later,
        )
        .await
        .unwrap();
    assert_eq!(keys(&tags), ["backup", "mfa"]);
    assert_eq!(tags[0].at, later);
    assert_eq!(tags[1].at, t0(), "the kept tag is not re-dated");
    // An unknown theme is refused and nothing changes.
    assert!(matches!(
        store
            .set_lesson_themes(
                lesson,
                &s(&["backup", "mfa"]),
                &s(&["nothing"]),
                None,
                later
            )
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        keys(&store.lesson_tags(Some(lesson)).await.unwrap()),
        ["backup", "mfa"]
    );
    store
        .set_lesson_themes("common:2019:0", &[], &s(&["logs"]), None, later)
        .await
        .unwrap();
    let all: Vec<(String, String)> = store
        .lesson_tags(None)
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.lesson, t.theme))
        .collect();
    assert_eq!(
        all,
        [
            ("case:7:0".to_owned(), "backup".to_owned()),
            ("case:7:0".to_owned(), "mfa".to_owned()),
            ("common:2019:0".to_owned(), "logs".to_owned()),
        ]
    );
    store
        .set_lesson_themes(lesson, &s(&["mfa", "backup"]), &[], None, later)
        .await
        .unwrap();
    assert!(store.lesson_tags(Some(lesson)).await.unwrap().is_empty());
}

fn answer(theme: &str, standing: Standing, note: &str) -> Assessment {
    AssessmentInput {
        theme: theme.into(),
        standing: standing.code().into(),
        note: note.into(),
    }
    .parse()
    .unwrap()
}

pub async fn self_assessments_keep_history_and_refuse_stale_answers(store: DynStore) {
    let a = store.create_org(new_org("op-a", "finance")).await.unwrap();
    let b = store.create_org(new_org("op-b", "finance")).await.unwrap();
    let user = a_user(store.as_ref(), a.id, "admin@a.example.jp").await;
    store
        .save_theme(&theme("mfa", "多要素認証"), 0, None, t0())
        .await
        .unwrap();
    store
        .save_theme(&theme("backup", "代替手段"), 0, None, t0())
        .await
        .unwrap();

    let first = store
        .record_assessment(
            a.id,
            &answer("mfa", Standing::NotStarted, "未検討"),
            0,
            Some(user.id),
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(first.org, a.id);
    assert_eq!(first.by, Some(user.id));
    assert_eq!(first.at, t0());
    // Starting from "no answer yet" again is stale now.
    let stale = store
        .record_assessment(a.id, &answer("mfa", Standing::InPlace, ""), 0, None, t0())
        .await;
    assert!(
        matches!(stale, Err(StoreError::Conflict { current: Current::Version(v), .. }) if v == first.id),
        "{stale:?}"
    );
    let second = store
        .record_assessment(
            a.id,
            &answer("mfa", Standing::InProgress, "VPN から導入中"),
            first.id,
            Some(user.id),
            t0() + Duration::days(30),
        )
        .await
        .unwrap();
    assert!(second.id > first.id);
    store
        .record_assessment(
            a.id,
            &answer("backup", Standing::InPlace, "手順書あり"),
            0,
            None,
            t0(),
        )
        .await
        .unwrap();
    store
        .record_assessment(
            b.id,
            &answer("mfa", Standing::NotApplicable, "外部接続なし"),
            0,
            None,
            t0(),
        )
        .await
        .unwrap();
    // Each organisation's answers are its own: b's first answer did not conflict with a's.
    let unknown = store
        .record_assessment(
            a.id,
            &answer("no-such", Standing::InPlace, ""),
            0,
            None,
            t0(),
        )
        .await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound { .. })),
        "{unknown:?}"
    );

    let history = store.assessment_history(a.id, "mfa").await.unwrap();
    let standings: Vec<Standing> = history.iter().map(|r| r.assessment.standing).collect();
    assert_eq!(standings, [Standing::InProgress, Standing::NotStarted]);
    assert_eq!(history[0], second);

    let current = store.current_assessments(None).await.unwrap();
    let seen: Vec<(OrgId, &str, Standing)> = current
        .iter()
        .map(|r| (r.org, r.assessment.theme.as_str(), r.assessment.standing))
        .collect();
    assert_eq!(
        seen,
        [
            (a.id, "backup", Standing::InPlace),
            (a.id, "mfa", Standing::InProgress),
            (b.id, "mfa", Standing::NotApplicable),
        ]
    );
    let only_b = store.current_assessments(Some(b.id)).await.unwrap();
    assert_eq!(only_b.len(), 1);
    assert_eq!(only_b[0].assessment.note, "外部接続なし");
}

fn item(owner: &str, status: FollowStatus) -> FollowUp {
    FollowUp {
        measure: "監視項目を追加する".into(),
        owner: owner.into(),
        due: chrono::NaiveDate::from_ymd_opt(2020, 3, 31),
        status,
        evidence: String::new(),
    }
}

pub async fn followups_are_one_per_measure_and_versioned(store: DynStore) {
    let a = store.create_org(new_org("op-a", "finance")).await.unwrap();
    let b = store.create_org(new_org("op-b", "railway")).await.unwrap();
    let user = a_user(store.as_ref(), a.id, "admin@a.example.jp").await;
    let other = a_user(store.as_ref(), b.id, "admin@b.example.jp").await;
    let case1 = store
        .create_case(Some(2019), None, case_content(1), None, t0())
        .await
        .unwrap();
    let case2 = store
        .create_case(Some(2019), None, case_content(2), None, t0())
        .await
        .unwrap();
    let new = |org: OrgId, case: CaseId, measure: u32, by: UserId| NewFollowUp {
        org,
        case,
        measure,
        item: item("情報システム部", FollowStatus::Planned),
        by,
        at: t0(),
    };
    let x = store
        .create_followup(&new(a.id, case1.id, 0, user.id))
        .await
        .unwrap();
    assert_eq!((x.version, x.measure, x.case), (1, 0, case1.id));
    assert_eq!(x.created_by, Some(user.id));
    assert_eq!(x.item.due, chrono::NaiveDate::from_ymd_opt(2020, 3, 31));
    assert_eq!(store.get_followup(x.id).await.unwrap(), x);
    let twice = store
        .create_followup(&new(a.id, case1.id, 0, user.id))
        .await;
    assert!(
        matches!(twice, Err(StoreError::Duplicate { .. })),
        "{twice:?}"
    );
    // Another organisation may follow the same countermeasure, and a may follow another.
    let y = store
        .create_followup(&new(b.id, case1.id, 0, other.id))
        .await
        .unwrap();
    let z = store
        .create_followup(&new(a.id, case2.id, 1, user.id))
        .await
        .unwrap();

    let done = FollowUp {
        evidence: "監視設定の画面写しを保存".into(),
        ..item("佐藤", FollowStatus::Done)
    };
    let later = t0() + Duration::days(10);
    let x2 = store
        .update_followup(x.id, 1, &done, user.id, later)
        .await
        .unwrap();
    assert_eq!(x2.version, 2);
    assert_eq!(x2.item, done);
    assert_eq!((x2.updated_at, x2.updated_by), (later, Some(user.id)));
    assert_eq!(x2.created_at, t0());
    let stale = store.update_followup(x.id, 1, &done, user.id, later).await;
    assert!(
        matches!(
            stale,
            Err(StoreError::Conflict {
                current: Current::Version(2),
                ..
            })
        ),
        "{stale:?}"
    );
    let missing = store
        .get_followup(kizuki_domain::ids::FollowUpId(x.id.0 + 1000))
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "{missing:?}"
    );

    let ids = |v: Vec<StoredFollowUp>| v.into_iter().map(|f| f.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.list_followups(None, None).await.unwrap()),
        [x.id.min(y.id), x.id.max(y.id), z.id]
    );
    assert_eq!(
        ids(store.list_followups(Some(a.id), None).await.unwrap()),
        [x.id, z.id]
    );
    assert_eq!(
        ids(store.list_followups(None, Some(case1.id)).await.unwrap()),
        [x.id.min(y.id), x.id.max(y.id)]
    );
    assert_eq!(
        ids(store
            .list_followups(Some(b.id), Some(case2.id))
            .await
            .unwrap()),
        []
    );

    // Their reminders are claimed once, apart from interviews'.
    let key = NoticeKey {
        of: NoticeOf::FollowUp(z.id),
        subject: "overdue-2020-03-31".into(),
    };
    let claim = |token: &str| NoticeClaim {
        key: key.clone(),
        token: token.into(),
        now: t0(),
        lease_until: t0() + Duration::minutes(5),
        max_attempts: 3,
    };
    assert!(store.claim_notice(&claim("a")).await.unwrap());
    assert!(!store.claim_notice(&claim("b")).await.unwrap());
    assert!(store.notice_sent(&key, "a", t0()).await.unwrap());
    let recorded = store.notices(NoticeOf::FollowUp(z.id)).await.unwrap();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].key, key);
    assert_eq!(recorded[0].sent_at, Some(t0()));
    assert!(
        store
            .notices(NoticeOf::FollowUp(x.id))
            .await
            .unwrap()
            .is_empty()
    );
}
