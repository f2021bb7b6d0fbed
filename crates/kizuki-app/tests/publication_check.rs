//! `kizuki check` and publication: the demo's published 2019 cases pass; a
//! published case whose candidate decision was removed, and a case put on the portal with
//! no operator approval, are both reported by name.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "helpers of tests stop at the line that failed, as the tests do"
)]

use kizuki_app::publication::snapshot_of;
use kizuki_app::{publication, survey};
use kizuki_domain::clock::Clock;
use kizuki_domain::signoff::{Action, SignOffState, Signer, Transition, fingerprint};
use kizuki_domain::user::Role;
use kizuki_testkit::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_cases_need_an_approval_and_decided_candidates() {
    // The demo at 2026-11-27 09:00 JST.
    let t = TestApp::builder().seed(3).demo().build().await;
    let (app, clock) = (t.app.clone(), t.clock.clone());
    let pubs = app.store.list_publications(Some(2019)).await.unwrap();
    assert!(!pubs.is_empty(), "the demo publishes the 2019 cases");
    assert!(publication::check::problems(&app).await.unwrap().is_empty());
    let clean = survey::check(&app, &survey::CheckOptions::default())
        .await
        .unwrap();
    assert!(clean.is_empty(), "{clean:?}");

    // Someone clears a decision on a published case: the candidate is undecided again.
    let mut cleared = None;
    for p in &pubs {
        if let Some(d) = app
            .store
            .candidate_decisions(p.case_id)
            .await
            .unwrap()
            .first()
        {
            app.store
                .decide_candidate(p.case_id, &d.candidate, None, d.by, clock.now())
                .await
                .unwrap();
            cleared = Some((p.slug(), d.candidate.clone()));
            break;
        }
    }
    let (slug, candidate) = cleared.expect("a seeded case has a decided candidate");
    let problems = publication::check::problems(&app).await.unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].what.contains(&slug), "{problems:?}");
    assert!(problems[0].what.contains("未判断"), "{problems:?}");
    assert!(problems[0].what.contains(&candidate), "{problems:?}");

    // A case put on the portal without the operator's approval.
    let mut content = app
        .store
        .list_cases(Some(2019))
        .await
        .unwrap()
        .remove(0)
        .content;
    content.number = 99;
    let case = app
        .store
        .create_case(Some(2019), None, content.clone(), None, clock.now())
        .await
        .unwrap();
    let editor = app
        .store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.user.role == Role::Editor)
        .unwrap();
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
        at: clock.now(),
    };
    app.store
        .append_signoff(case.id, 0, publish, Some(snapshot_of(&content)))
        .await
        .unwrap();
    let problems = survey::check(&app, &survey::CheckOptions::default())
        .await
        .unwrap();
    let unapproved: Vec<_> = problems
        .iter()
        .filter(|p| p.what.contains("2019-99"))
        .collect();
    assert!(
        unapproved.iter().any(|p| p.what.contains("承認")),
        "{problems:?}"
    );
}
