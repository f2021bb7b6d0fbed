//! Browser sessions in the database on PostgreSQL: the table holds only the SHA-256 of a
//! session id, so a leaked dump gives no cookie that would work.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "helpers of tests stop at the line that failed, as the tests do"
)]

use kizuki_domain::taxonomy::Lang;
use kizuki_store::conformance::t0;
use kizuki_store::prelude::*;
use kizuki_store::{SessionKey, SessionRecord};
use kizuki_testkit::PgSchema;

#[tokio::test]
async fn the_raw_session_id_is_not_in_the_table() {
    let Some(schema) = PgSchema::fresh() else {
        return;
    };
    let store = schema.store().await;
    let id = "5e551011d0000000000000000000000000000000000000000000000000000002";
    let key = SessionKey::of(id);
    store
        .insert_session(
            &key,
            &SessionRecord {
                user: Some(kizuki_domain::ids::UserId(4)),
                csrf: "c5rf".into(),
                lang: Lang::En,
                created: t0(),
                seen: t0(),
                flash: Some("note".into()),
                pending: None,
            },
        )
        .await
        .unwrap();
    let client = schema.raw_client().await;
    // Every row as text, all columns: the key is there, the id nowhere.
    let rows: Vec<String> = client
        .query("SELECT s::text FROM sessions s", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].contains(key.as_str()), "{}", rows[0]);
    assert!(!rows[0].contains(id), "{}", rows[0]);
}
