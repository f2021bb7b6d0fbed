//! Browser sessions in the database: the file holds only the SHA-256 of a session id, so a
//! leaked copy of it gives no cookie that would work.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "helpers of tests stop at the line that failed, as the tests do"
)]

use kizuki_domain::ids::UserId;
use kizuki_domain::taxonomy::Lang;
use kizuki_store::conformance::t0;
use kizuki_store::prelude::*;
use kizuki_store::{PendingLogin, SessionKey, SessionRecord};
use kizuki_store_sqlite::SqliteStore;

#[tokio::test]
async fn the_raw_session_id_is_not_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kizuki.db");
    let store = SqliteStore::open(&path).unwrap();
    let id = "5e551011d0000000000000000000000000000000000000000000000000000001";
    let key = SessionKey::of(id);
    store
        .insert_session(
            &key,
            &SessionRecord {
                user: None,
                csrf: "c5rf".into(),
                lang: Lang::Ja,
                created: t0(),
                seen: t0(),
                flash: None,
                pending: Some(PendingLogin {
                    user: UserId(1),
                    next: "/".into(),
                    enrol: false,
                }),
            },
        )
        .await
        .unwrap();
    let c = rusqlite::Connection::open(&path).unwrap();
    let keys: Vec<String> = c
        .prepare("SELECT key FROM sessions")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(keys, vec![key.as_str().to_owned()]);
    // No column of any row holds the id (every column read as text).
    let n: i64 = c
        .query_row(
            "SELECT count(*) FROM sessions WHERE
               instr(key || ' ' || ifnull(user_id, '') || ' ' || csrf || ' ' || lang || ' '
                     || created_at || ' ' || seen_at || ' ' || ifnull(flash, '') || ' '
                     || ifnull(pending_user, '') || ' ' || ifnull(pending_next, ''), ?1) > 0",
            [id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 0);
    drop(store);
    // Nor anywhere in the file's bytes (WAL checkpointed on close).
    let mut bytes = std::fs::read(&path).unwrap();
    if let Ok(wal) = std::fs::read(dir.path().join("kizuki.db-wal")) {
        bytes.extend(wal);
    }
    assert!(
        !bytes.windows(id.len()).any(|w| w == id.as_bytes()),
        "the raw id is in the database file"
    );
    assert!(
        bytes
            .windows(key.as_str().len())
            .any(|w| w == key.as_str().as_bytes()),
        "the key should be there"
    );
}
