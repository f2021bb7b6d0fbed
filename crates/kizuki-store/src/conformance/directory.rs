//! Conformance for the directory beyond accounts: an organisation is disabled and enabled as
//! a new version; contacts are versioned and a stale save is refused with the version now
//! stored; forwards are kept per report and listed per recipient, newest first.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::{new_org, t0};
use crate::*;
use chrono::{Duration, NaiveDate};
use kizuki_domain::org::{Contact, Hours};
use kizuki_domain::taxonomy::Lang;
use kizuki_domain::user::Role;

fn contact(name: &str) -> Contact {
    Contact {
        role: "CSIRT窓口".into(),
        name: name.into(),
        hours: Hours::AroundTheClock,
        phone: "03-0000-0000".into(),
        email: format!("{name}@example.jp"),
        deputy: "副部長".into(),
        decides: "サービス停止".into(),
        confirmed_on: NaiveDate::from_ymd_opt(2026, 4, 1).unwrap(),
    }
}

pub async fn orgs_are_disabled_and_enabled_as_versions(store: DynStore) {
    let org = store.create_org(new_org("dis", "water")).await.unwrap();
    assert!(org.active);
    let off = store.set_org_active(org.id, false).await.unwrap();
    assert!(!off.active);
    assert_eq!(off.version, org.version + 1);
    assert!(!store.get_org(org.id).await.unwrap().active);
    assert!(
        store
            .list_orgs()
            .await
            .unwrap()
            .iter()
            .any(|o| o.id == org.id && !o.active)
    );
    let on = store.set_org_active(org.id, true).await.unwrap();
    assert!(on.active);
    assert!(matches!(
        store.set_org_active(OrgId(999_999), false).await,
        Err(StoreError::NotFound { .. })
    ));
}

pub async fn contacts_are_versioned(store: DynStore) {
    let org = store.create_org(new_org("con", "water")).await.unwrap();
    let empty = store.org_contacts(org.id).await.unwrap();
    assert_eq!((empty.version, empty.contacts.len()), (0, 0));
    let saved = store
        .set_org_contacts(org.id, 0, &[contact("a"), contact("b")], None, t0())
        .await
        .unwrap();
    assert_eq!(saved.version, 1);
    assert_eq!(saved.updated_at, Some(t0()));
    assert_eq!(
        store.org_contacts(org.id).await.unwrap().contacts,
        vec![contact("a"), contact("b")]
    );
    match store
        .set_org_contacts(org.id, 0, &[contact("c")], None, t0())
        .await
    {
        Err(StoreError::Conflict { current, .. }) => assert_eq!(current.version(), 1),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(store.org_contacts(org.id).await.unwrap().contacts.len(), 2);
    assert!(matches!(
        store.org_contacts(OrgId(999_999)).await,
        Err(StoreError::NotFound { .. })
    ));
}

pub async fn forwards_are_kept_per_report_and_recipient(store: DynStore) {
    let ministry = store.create_org(new_org("fwm", "water")).await.unwrap();
    let a = store.create_org(new_org("fwa", "water")).await.unwrap();
    let b = store.create_org(new_org("fwb", "water")).await.unwrap();
    let u = store
        .create_user(
            NewUser {
                org_id: ministry.id,
                email: Email::parse("fw@example.jp").unwrap(),
                display_name: "省".into(),
                role: Role::Ministry,
                lang: Lang::Ja,
            },
            "$argon2id$x",
        )
        .await
        .unwrap();
    let r = store
        .create_report(NewReport {
            org_id: a.id,
            details: super::details("転送", "water"),
            first: super::first_stage(t0()),
        })
        .await
        .unwrap();
    let first = store
        .forward_report(NewForward {
            report_id: r.id,
            from_org: ministry.id,
            to_orgs: vec![a.id, b.id],
            by: u.id,
            note: "ご参考まで".into(),
            at: t0(),
        })
        .await
        .unwrap();
    assert_eq!(first.len(), 2);
    store
        .forward_report(NewForward {
            report_id: r.id,
            from_org: ministry.id,
            to_orgs: vec![b.id],
            by: u.id,
            note: "再送".into(),
            at: t0() + Duration::hours(1),
        })
        .await
        .unwrap();
    let all = store.report_forwards(r.id).await.unwrap();
    assert_eq!(
        all.iter().map(|f| f.to_org).collect::<Vec<_>>(),
        vec![a.id, b.id, b.id]
    );
    let to_b = store.forwards_to(b.id, 10).await.unwrap();
    assert_eq!(
        to_b.iter().map(|f| f.note.as_str()).collect::<Vec<_>>(),
        vec!["再送", "ご参考まで"]
    );
    assert_eq!(store.forwards_to(b.id, 1).await.unwrap().len(), 1);
    // Forwarding to an organisation that does not exist keeps nothing of the batch.
    assert!(matches!(
        store
            .forward_report(NewForward {
                report_id: r.id,
                from_org: ministry.id,
                to_orgs: vec![a.id, OrgId(999_999)],
                by: u.id,
                note: String::new(),
                at: t0(),
            })
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(store.report_forwards(r.id).await.unwrap().len(), 3);
}
