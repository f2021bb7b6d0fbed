//! Conformance for lesson themes and tags: themes are versioned and ordered, a lesson's tags
//! change only from the set the editor saw, and an unknown theme is refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::t0;
use crate::*;
use chrono::Duration;
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
