//! Conformance for `check` and publication: a case on the portal whose sign-off
//! history has no operator approval is `kizuki_app::publication::check`'s finding, so the
//! store's own check leaves it alone (one problem, one line), and the store hands back the
//! publication and history that check reads.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::{an_org, case_content, t0};
use crate::*;
use kizuki_domain::signoff::{SignOffState, Signer, fingerprint};
use kizuki_domain::taxonomy::Lang;
use kizuki_domain::user::Role;

pub async fn check_leaves_unapproved_publications_to_the_app(store: DynStore) {
    let org = an_org(store.as_ref()).await;
    let editor = store
        .create_user(
            NewUser {
                org_id: org.id,
                email: Email::parse("ed@example.jp").unwrap(),
                display_name: "編集".into(),
                role: Role::Editor,
                lang: Lang::Ja,
            },
            "$argon2id$x",
        )
        .await
        .unwrap();
    let content = case_content(5);
    let case = store
        .create_case(Some(2019), None, content.clone(), None, t0())
        .await
        .unwrap();
    assert!(store.check().await.unwrap().is_empty());
    // Written straight to the store, past the sign-off rules: published, never approved.
    let publish = Transition {
        from: SignOffState::Draft,
        to: SignOffState::Published,
        action: Action::Publish {
            fingerprint: fingerprint(&content),
        },
        by: Signer {
            user: editor.id,
            role: Role::Editor,
        },
        at: t0(),
    };
    let snapshot = PublicationSnapshot {
        content,
        html: "<article>事例5</article>".into(),
    };
    store
        .append_signoff(case.id, 0, publish, Some(snapshot))
        .await
        .unwrap();
    let problems = store.check().await.unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    // What the publication check reads to find it: the publication, and a history with a
    // publish and no approval.
    let published = store.list_publications(None).await.unwrap();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].case_id, case.id);
    assert_eq!(published[0].slug(), "2019-5");
    let history = store.signoff_history(case.id).await.unwrap();
    assert_eq!(history.len(), 1, "{history:?}");
    assert!(matches!(history[0].action, Action::Publish { .. }));
}
