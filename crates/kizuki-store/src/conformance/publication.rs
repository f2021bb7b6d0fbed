//! Conformance for publication: the pseudonym map is versioned, decisions are last
//! write wins, sign-off only appends (a stale append conflicts), a publish writes its
//! snapshot in the same transaction and a withdrawal removes it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::{case_content, new_org, t0};
use crate::*;
use chrono::Duration;
use kizuki_domain::anonymise::{Pseudonym, PseudonymMap};
use kizuki_domain::signoff::{SignOff, SignOffState, Signer, fingerprint};
use kizuki_domain::taxonomy::{Code, Lang};
use kizuki_domain::user::Role;

async fn user(store: &dyn Store, org: OrgId, email: &str, role: Role) -> User {
    store
        .create_user(
            NewUser {
                org_id: org,
                email: Email::parse(email).unwrap(),
                display_name: "利用者".into(),
                role,
                lang: Lang::Ja,
            },
            "$argon2id$x",
        )
        .await
        .unwrap()
}

pub async fn pseudonym_map_is_versioned_and_decisions_round_trip(store: DynStore) {
    let org = store.create_org(new_org("op", "railway")).await.unwrap();
    let editor = user(&*store, org.id, "ed@example.jp", Role::Editor).await;
    let case = store
        .create_case(Some(2019), None, case_content(1), None, t0())
        .await
        .unwrap();

    let empty = store.pseudonym_map(case.id).await.unwrap();
    assert_eq!(empty.version, 0);
    assert!(empty.map.is_empty());

    let map = PseudonymMap::from_entries(vec![Pseudonym {
        real: "東都鉄道".into(),
        label: "重要インフラ事業者".into(),
    }])
    .unwrap();
    let disclosed = Disclosed::new(Some(Code("railway".into())), None, None).unwrap();
    let saved = store
        .set_pseudonym_map(case.id, 0, map.clone(), disclosed.clone(), editor.id, t0())
        .await
        .unwrap();
    assert_eq!(saved.version, 1);
    let back = store.pseudonym_map(case.id).await.unwrap();
    assert_eq!(back, saved);
    assert_eq!(back.disclosed, disclosed);

    // A form opened before that save is refused, with the version it missed.
    let err = store
        .set_pseudonym_map(case.id, 0, PseudonymMap::new(), disclosed, editor.id, t0())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                current: Current::Version(1),
                ..
            }
        ),
        "{err:?}"
    );

    // Decisions: set, overwrite (last write wins), clear.
    store
        .decide_candidate(
            case.id,
            "date:2019-04-26",
            Some(Decision::Ignored("改元前の連休".into())),
            editor.id,
            t0(),
        )
        .await
        .unwrap();
    store
        .decide_candidate(
            case.id,
            "email:a@b.jp",
            Some(Decision::Accepted("［メールアドレス］".into())),
            editor.id,
            t0(),
        )
        .await
        .unwrap();
    store
        .decide_candidate(
            case.id,
            "email:a@b.jp",
            Some(Decision::Relabelled("担当者の連絡先".into())),
            editor.id,
            t0() + Duration::seconds(1),
        )
        .await
        .unwrap();
    let rows = store.candidate_decisions(case.id).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].candidate, "date:2019-04-26");
    assert_eq!(rows[0].decision, Decision::Ignored("改元前の連休".into()));
    assert_eq!(
        rows[1].decision,
        Decision::Relabelled("担当者の連絡先".into())
    );
    assert_eq!(rows[1].at, t0() + Duration::seconds(1));
    store
        .decide_candidate(case.id, "email:a@b.jp", None, editor.id, t0())
        .await
        .unwrap();
    assert_eq!(store.candidate_decisions(case.id).await.unwrap().len(), 1);

    let missing = store.pseudonym_map(CaseId(9_999)).await.unwrap_err();
    assert!(
        matches!(missing, StoreError::NotFound { .. }),
        "{missing:?}"
    );
}

pub async fn signoff_appends_publishes_and_withdraws(store: DynStore) {
    let org = store.create_org(new_org("op", "railway")).await.unwrap();
    let editor = user(&*store, org.id, "ed@example.jp", Role::Editor).await;
    let reporter = user(&*store, org.id, "rep@example.jp", Role::Reporter).await;
    let content = case_content(3);
    let case = store
        .create_case(Some(2019), None, content.clone(), None, t0())
        .await
        .unwrap();
    let fp = fingerprint(&content);
    let ed = Signer {
        user: editor.id,
        role: Role::Editor,
    };
    let rep = Signer {
        user: reporter.id,
        role: Role::Reporter,
    };

    let mut s = SignOff::new();
    let steps = [
        (Action::Send { fingerprint: fp }, ed),
        (Action::Approve { fingerprint: fp }, rep),
        (Action::MarkPublishable { fingerprint: fp }, ed),
    ];
    for (i, (a, by)) in steps.into_iter().enumerate() {
        let at = t0() + Duration::minutes(i64::try_from(i).unwrap());
        let t = s.apply(a, by, at).unwrap().clone();
        store.append_signoff(case.id, i, t, None).await.unwrap();
    }
    assert!(store.list_publications(None).await.unwrap().is_empty());

    // A stale append (someone else appended first) conflicts and writes nothing.
    let mut other = s.clone();
    let t = other
        .apply(
            Action::Withdraw {
                reason: "取り下げ".into(),
            },
            ed,
            t0() + Duration::minutes(5),
        )
        .unwrap()
        .clone();
    let err = store.append_signoff(case.id, 2, t, None).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                current: Current::Version(3),
                ..
            }
        ),
        "{err:?}"
    );

    // A publish without its snapshot is refused, and nothing is appended.
    let publish = s
        .clone()
        .apply(
            Action::Publish { fingerprint: fp },
            ed,
            t0() + Duration::minutes(10),
        )
        .unwrap()
        .clone();
    let err = store
        .append_signoff(case.id, 3, publish.clone(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert_eq!(store.signoff_history(case.id).await.unwrap().len(), 3);

    s.apply(publish.action.clone(), ed, publish.at).unwrap();
    store
        .append_signoff(
            case.id,
            3,
            publish,
            Some(PublicationSnapshot {
                content: content.clone(),
                html: "<article>事例3</article>".into(),
            }),
        )
        .await
        .unwrap();
    let p = store.publication(2019, 3).await.unwrap().unwrap();
    assert_eq!(p.case_id, case.id);
    assert_eq!(p.content, content);
    assert_eq!(p.fingerprint, fp.to_string());
    assert_eq!(p.html, "<article>事例3</article>");
    assert_eq!(p.published_by, editor.id);
    assert_eq!(p.published_at, t0() + Duration::minutes(10));
    assert_eq!(p.slug(), "2019-3");
    assert_eq!(store.list_publications(Some(2019)).await.unwrap(), vec![p]);
    assert!(
        store
            .list_publications(Some(2020))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.publication(2019, 4).await.unwrap().is_none());

    // The stored history replays to the same state, with who and when intact.
    let history = store.signoff_history(case.id).await.unwrap();
    assert_eq!(history, s.history());
    let replayed = SignOff::replay(history).unwrap();
    assert_eq!(replayed.state(), SignOffState::Published);
    assert_eq!(replayed.history()[1].by, rep);

    // Withdrawing takes it off the portal in the same transaction.
    let t = s
        .apply(
            Action::Withdraw {
                reason: "事業者の依頼".into(),
            },
            ed,
            t0() + Duration::minutes(20),
        )
        .unwrap()
        .clone();
    store.append_signoff(case.id, 4, t, None).await.unwrap();
    assert!(store.publication(2019, 3).await.unwrap().is_none());
    assert_eq!(store.signoff_history(case.id).await.unwrap().len(), 5);
}
