//! Cooperation records and editions refuse edits and removals through plain SQL on
//! PostgreSQL, and `kizuki check` notices when one was removed anyway (the guard dropped
//! first). Needs `KIZUKI_TEST_POSTGRES_URL`; without it the test says it skipped.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "helpers of tests stop at the line that failed, as the tests do"
)]

use chrono::NaiveDate;
use kizuki_domain::ids::CaseId;
use kizuki_domain::taxonomy::Lang;
use kizuki_domain::user::{Email, NewUser, Role};
use kizuki_store::conformance::{case_content, new_org, survey_content, t0};
use kizuki_store::prelude::*;
use kizuki_store::{CooperationStatus, NewCooperation, NewEdition};
use kizuki_testkit::PgSchema;

/// A case with two cooperation entries and a survey with two editions.
async fn fill(store: &dyn Store) -> CaseId {
    let org = store.create_org(new_org("op-a", "railway")).await.unwrap();
    let editor = store
        .create_user(
            NewUser {
                org_id: org.id,
                email: Email::parse("ed@example.jp").unwrap(),
                display_name: "編集者".into(),
                role: Role::Editor,
                lang: Lang::Ja,
            },
            "$argon2id$x",
        )
        .await
        .unwrap();
    store.create_survey(survey_content(2019)).await.unwrap();
    let case = store
        .create_case(Some(2019), None, case_content(1), None, t0())
        .await
        .unwrap();
    for (seq, status) in [CooperationStatus::Requested, CooperationStatus::Agreed]
        .into_iter()
        .enumerate()
    {
        store
            .append_cooperation(NewCooperation {
                case_id: case.id,
                expected_seq: u32::try_from(seq).unwrap(),
                status,
                on: NaiveDate::from_ymd_opt(2019, 6, 3).unwrap(),
                contact: "担当".into(),
                reason: String::new(),
                by: Some(editor.id),
                at: t0(),
            })
            .await
            .unwrap();
    }
    for _ in 0..2 {
        store
            .publish_edition(NewEdition {
                survey_year: 2019,
                snapshot: "{}".into(),
                by: editor.id,
                at: t0(),
            })
            .await
            .unwrap();
    }
    assert!(store.check().await.unwrap().is_empty());
    case.id
}

const REFUSED: &[&str] = &[
    "UPDATE cooperation_records SET reason = 'x' WHERE seq = 1",
    "DELETE FROM cooperation_records WHERE seq = 1",
    "UPDATE editions SET snapshot = '{\"x\":1}' WHERE number = 1",
    "DELETE FROM editions WHERE number = 1",
];

fn gaps_found(problems: &[kizuki_store::Problem], case: CaseId) {
    let what: Vec<&str> = problems.iter().map(|p| p.what.as_str()).collect();
    assert!(
        what.contains(&format!("case {case} cooperation entries are numbered [2]").as_str()),
        "{what:?}"
    );
    assert!(
        what.contains(&"survey 2019 editions are numbered [2]"),
        "{what:?}"
    );
}

#[tokio::test]
async fn year_records_are_append_only_and_checked() {
    let Some(schema) = PgSchema::fresh() else {
        return;
    };
    let store = schema.store().await;
    let case = fill(&store).await;
    let client = schema.raw_client().await;
    for sql in REFUSED {
        assert!(
            client.execute(*sql, &[]).await.is_err(),
            "{sql} must be refused"
        );
    }
    assert_eq!(store.cooperation_history(case).await.unwrap().len(), 2);
    assert_eq!(store.editions(2019).await.unwrap().len(), 2);
    client
        .batch_execute(
            "DROP TRIGGER cooperation_records_append_only ON cooperation_records;
             DELETE FROM cooperation_records WHERE seq = 1;
             DROP TRIGGER editions_immutable ON editions;
             DELETE FROM editions WHERE number = 1;",
        )
        .await
        .unwrap();
    gaps_found(&store.check().await.unwrap(), case);
}
