//! Conformance for browser sessions in the database: a session reads back as written under
//! the SHA-256 of its id, updates change only the fields they name, a one-time notice is taken
//! once, and deleting a user's sessions or purging expired ones removes exactly those. An
//! instance secret is made once and then read back the same by every caller, racing or not.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::t0;
use crate::*;
use chrono::Duration;
use kizuki_domain::taxonomy::Lang;

fn record(user: Option<i64>, created: DateTime<Utc>) -> SessionRecord {
    SessionRecord {
        user: user.map(UserId),
        csrf: format!("csrf-{user:?}-{}", created.timestamp_micros()),
        lang: Lang::Ja,
        created,
        seen: created,
        flash: None,
        pending: None,
    }
}

pub async fn sessions_round_trip(store: DynStore) {
    let key = SessionKey::of("session-id-1");
    let mut s = record(Some(7), t0());
    s.lang = Lang::En;
    s.seen = t0() + Duration::seconds(90);
    s.flash = Some("保存しました".into());
    store.insert_session(&key, &s).await.unwrap();
    assert_eq!(store.session(&key).await.unwrap(), Some(s.clone()));

    // A login halfway through, with every field of its own.
    let half = SessionKey::of("session-id-2");
    let mut p = record(None, t0());
    p.pending = Some(PendingLogin {
        user: UserId(8),
        next: "/reports?q=改元".into(),
        enrol: true,
    });
    store.insert_session(&half, &p).await.unwrap();
    assert_eq!(store.session(&half).await.unwrap(), Some(p));
    assert_eq!(store.session(&key).await.unwrap(), Some(s.clone()));

    // Unknown ids read as nothing; a taken key is refused, not overwritten.
    assert_eq!(
        store
            .session(&SessionKey::of("session-id-3"))
            .await
            .unwrap(),
        None
    );
    let other = record(Some(9), t0());
    assert!(matches!(
        store.insert_session(&key, &other).await,
        Err(StoreError::Duplicate { .. })
    ));
    assert_eq!(store.session(&key).await.unwrap(), Some(s));

    store.delete_session(&key).await.unwrap();
    assert_eq!(store.session(&key).await.unwrap(), None);
    // Deleting again is not an error.
    store.delete_session(&key).await.unwrap();
    assert!(store.session(&half).await.unwrap().is_some());
}

pub async fn session_key_is_the_sha256_of_the_id(store: DynStore) {
    // The FIPS 180-2 test vector: the key is SHA-256, in lower-case hex.
    assert_eq!(
        SessionKey::of("abc").as_str(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let id = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
    let key = SessionKey::of(id);
    assert_ne!(key.as_str(), id);
    store
        .insert_session(&key, &record(Some(1), t0()))
        .await
        .unwrap();
    assert!(store.session(&SessionKey::of(id)).await.unwrap().is_some());
    // The store looks up what it is given: the key used as if it were an id finds nothing,
    // so nothing hashes twice or stores the key's preimage under another name.
    assert_eq!(
        store.session(&SessionKey::of(key.as_str())).await.unwrap(),
        None
    );
}

pub async fn session_updates_change_only_named_fields(store: DynStore) {
    let key = SessionKey::of("upd");
    let base = record(None, t0());
    store.insert_session(&key, &base).await.unwrap();

    let lang = SessionUpdate {
        lang: Some(Lang::En),
        ..SessionUpdate::default()
    };
    assert!(store.update_session(&key, &lang).await.unwrap());
    let mut want = base.clone();
    want.lang = Lang::En;
    assert_eq!(store.session(&key).await.unwrap(), Some(want.clone()));

    let seen = t0() + Duration::minutes(3) + Duration::microseconds(17);
    let touch = SessionUpdate {
        seen: Some(seen),
        ..SessionUpdate::default()
    };
    assert!(store.update_session(&key, &touch).await.unwrap());
    want.seen = seen;
    assert_eq!(store.session(&key).await.unwrap(), Some(want.clone()));

    let pending = PendingLogin {
        user: UserId(3),
        next: "/cases/1".into(),
        enrol: false,
    };
    let both = SessionUpdate {
        flash: Some(Some("言語を変更しました".into())),
        pending: Some(Some(pending.clone())),
        ..SessionUpdate::default()
    };
    assert!(store.update_session(&key, &both).await.unwrap());
    want.flash = Some("言語を変更しました".into());
    want.pending = Some(pending);
    assert_eq!(store.session(&key).await.unwrap(), Some(want.clone()));

    // The notice is taken once.
    assert_eq!(
        store.take_session_flash(&key).await.unwrap().as_deref(),
        Some("言語を変更しました")
    );
    assert_eq!(store.take_session_flash(&key).await.unwrap(), None);
    want.flash = None;
    assert_eq!(store.session(&key).await.unwrap(), Some(want.clone()));

    // Clearing the pending login leaves the rest.
    let clear = SessionUpdate {
        pending: Some(None),
        ..SessionUpdate::default()
    };
    assert!(store.update_session(&key, &clear).await.unwrap());
    want.pending = None;
    assert_eq!(store.session(&key).await.unwrap(), Some(want));

    // Nothing to update for an unknown session, and nothing is created.
    let ghost = SessionKey::of("ghost");
    assert!(!store.update_session(&ghost, &lang).await.unwrap());
    assert!(
        !store
            .update_session(&ghost, &SessionUpdate::default())
            .await
            .unwrap()
    );
    assert_eq!(store.session(&ghost).await.unwrap(), None);
    assert_eq!(store.take_session_flash(&ghost).await.unwrap(), None);

    // Two requests taking one notice at once: exactly one gets it.
    let note = SessionUpdate {
        flash: Some(Some("once".into())),
        ..SessionUpdate::default()
    };
    for _ in 0..5 {
        assert!(store.update_session(&key, &note).await.unwrap());
        let (a, b) = tokio::join!(
            {
                let s = store.clone();
                let k = key.clone();
                tokio::spawn(async move { s.take_session_flash(&k).await.unwrap() })
            },
            {
                let s = store.clone();
                let k = key.clone();
                tokio::spawn(async move { s.take_session_flash(&k).await.unwrap() })
            }
        );
        let got: Vec<String> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
        assert_eq!(got, vec!["once".to_owned()]);
    }
}

pub async fn delete_user_sessions_ends_signed_in_and_pending(store: DynStore) {
    let a = UserId(11);
    let b = UserId(12);
    let a1 = SessionKey::of("a1");
    let a2 = SessionKey::of("a2");
    let a_half = SessionKey::of("a-half");
    let b1 = SessionKey::of("b1");
    let b_half = SessionKey::of("b-half");
    let anon = SessionKey::of("anon");
    store
        .insert_session(&a1, &record(Some(a.0), t0()))
        .await
        .unwrap();
    store
        .insert_session(&a2, &record(Some(a.0), t0() + Duration::seconds(1)))
        .await
        .unwrap();
    let mut half = record(None, t0());
    half.pending = Some(PendingLogin {
        user: a,
        next: "/".into(),
        enrol: false,
    });
    store.insert_session(&a_half, &half).await.unwrap();
    store
        .insert_session(&b1, &record(Some(b.0), t0()))
        .await
        .unwrap();
    let mut half_b = record(None, t0());
    half_b.pending = Some(PendingLogin {
        user: b,
        next: "/".into(),
        enrol: true,
    });
    store.insert_session(&b_half, &half_b).await.unwrap();
    store
        .insert_session(&anon, &record(None, t0()))
        .await
        .unwrap();

    assert_eq!(store.delete_user_sessions(a).await.unwrap(), 3);
    for k in [&a1, &a2, &a_half] {
        assert_eq!(store.session(k).await.unwrap(), None, "{k:?}");
    }
    for k in [&b1, &b_half, &anon] {
        assert!(store.session(k).await.unwrap().is_some(), "{k:?}");
    }
    assert_eq!(store.delete_user_sessions(a).await.unwrap(), 0);
}

pub async fn purge_sessions_removes_idle_and_too_old(store: DynStore) {
    let now = t0() + Duration::hours(20);
    let idle_before = now - Duration::minutes(30);
    let created_before = now - Duration::hours(12);
    let mut cases = Vec::new();
    // (name, created, seen, survives)
    for (name, created, seen, keep) in [
        (
            "fresh",
            now - Duration::hours(1),
            now - Duration::minutes(1),
            true,
        ),
        (
            "just-idle-enough",
            now - Duration::hours(1),
            idle_before,
            true,
        ),
        (
            "idle",
            now - Duration::hours(1),
            idle_before - Duration::microseconds(1),
            false,
        ),
        (
            "too-old-but-busy",
            created_before - Duration::seconds(1),
            now,
            false,
        ),
        ("at-the-limit", created_before, now, true),
    ] {
        let key = SessionKey::of(name);
        let mut s = record(Some(1), created);
        s.seen = seen;
        store.insert_session(&key, &s).await.unwrap();
        cases.push((name, key, keep));
    }
    assert_eq!(
        store
            .purge_sessions(idle_before, created_before)
            .await
            .unwrap(),
        2
    );
    for (name, key, keep) in &cases {
        assert_eq!(store.session(key).await.unwrap().is_some(), *keep, "{name}");
    }
    assert_eq!(
        store
            .purge_sessions(idle_before, created_before)
            .await
            .unwrap(),
        0
    );
}

pub async fn instance_secret_is_made_once(store: DynStore) {
    let first = [7u8; 32];
    // Absent: the candidate is stored and returned.
    assert_eq!(
        store.instance_secret("csrf", &first).await.unwrap(),
        first.to_vec()
    );
    // Present: a later call, with whatever candidate, gets the stored value.
    assert_eq!(
        store.instance_secret("csrf", &[9u8; 32]).await.unwrap(),
        first.to_vec()
    );
    // Names are independent of each other.
    assert_eq!(
        store.instance_secret("other", &[1, 2, 3]).await.unwrap(),
        vec![1, 2, 3]
    );
    assert_eq!(
        store.instance_secret("csrf", &[]).await.unwrap(),
        first.to_vec()
    );
}

pub async fn concurrent_instance_secret_calls_agree(store: DynStore) {
    // Nodes starting together each offer their own candidate; all must end up with one value.
    let tasks: Vec<_> = (0..8u8)
        .map(|i| {
            let s = store.clone();
            tokio::spawn(async move { s.instance_secret("race", &[i; 32]).await.unwrap() })
        })
        .collect();
    let mut got = Vec::new();
    for t in tasks {
        got.push(t.await.unwrap());
    }
    let winner = got[0].clone();
    assert!(got.iter().all(|v| *v == winner), "{got:?}");
    assert!((0..8u8).any(|i| winner == vec![i; 32]), "{winner:?}");
    assert_eq!(
        store.instance_secret("race", &[99u8; 32]).await.unwrap(),
        winner
    );
}

/// A bucket every node shares: full at first, one token per second at 60 a minute, never
/// more than the burst, and of many takes at one instant exactly the burst succeed.
pub async fn shared_buckets_refill_cap_and_refuse(store: DynStore) {
    let t = 1_700_000_000_000_i64;
    for i in 0..3 {
        assert_eq!(
            store.take_shared_token("org:1", 60, 3, t).await.unwrap(),
            None,
            "take {i}"
        );
    }
    let wait = store.take_shared_token("org:1", 60, 3, t).await.unwrap();
    assert_eq!(wait, Some(1000), "an empty bucket waits a whole second");
    // Another key has its own bucket.
    assert_eq!(
        store.take_shared_token("org:2", 60, 3, t).await.unwrap(),
        None
    );
    // Half a second refills half a token: still refused, with half a second to wait.
    assert_eq!(
        store
            .take_shared_token("org:1", 60, 3, t + 500)
            .await
            .unwrap(),
        Some(500)
    );
    assert_eq!(
        store
            .take_shared_token("org:1", 60, 3, t + 1000)
            .await
            .unwrap(),
        None
    );
    assert!(
        store
            .take_shared_token("org:1", 60, 3, t + 1000)
            .await
            .unwrap()
            .is_some()
    );
    // An hour later the bucket holds the burst, not an hour's worth.
    let later = t + 3_600_000;
    for _ in 0..3 {
        assert_eq!(
            store
                .take_shared_token("org:1", 60, 3, later)
                .await
                .unwrap(),
            None
        );
    }
    assert!(
        store
            .take_shared_token("org:1", 60, 3, later)
            .await
            .unwrap()
            .is_some()
    );
    // A clock a moment behind (another node's) neither refills nor breaks the bucket.
    assert!(
        store
            .take_shared_token("org:1", 60, 3, later - 5000)
            .await
            .unwrap()
            .is_some()
    );

    let mut tasks = Vec::new();
    for _ in 0..16 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.take_shared_token("org:race", 60, 5, t).await.unwrap()
        }));
    }
    let mut granted = 0;
    for task in tasks {
        if task.await.unwrap().is_none() {
            granted += 1;
        }
    }
    assert_eq!(granted, 5, "of 16 takes at once, exactly the burst succeed");
}
