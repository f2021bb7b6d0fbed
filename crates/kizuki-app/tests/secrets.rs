//! Secrets kept in the database are sealed: the database file alone does not reveal a TOTP
//! secret, secrets an older kizuki kept clear are sealed when the app starts, and a rotation
//! moves every secret to a new key while signing in keeps working.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "helpers of tests stop at the line that failed, as the tests do"
)]

use kizuki_app::App;
use kizuki_app::security::audit::actions;
use kizuki_app::security::mfa;
use kizuki_app::security::sealing::{self, KEY_FILE, KeySource, SealError, Sealer};
use kizuki_app::security::totp::TotpSecret;
use kizuki_domain::clock::Clock as _;
use kizuki_domain::user::User;
use kizuki_store::{AuditQuery, SecretSlot};
use kizuki_testkit::TestApp;
use std::sync::Arc;

async fn demo() -> TestApp {
    TestApp::builder().demo().seed(3).build().await
}

async fn first_user(t: &TestApp) -> User {
    t.user(&t.credentials[0].email).await
}

/// The stored column, read past the app as a stolen copy of the file would be.
fn raw_totp_column(t: &TestApp, user: &User) -> String {
    let c = rusqlite::Connection::open(t.db_path()).unwrap();
    c.query_row(
        "SELECT secret FROM user_mfa WHERE user_id = ?1",
        [user.id.0],
        |r| r.get(0),
    )
    .unwrap()
}

/// Moves the write-ahead log into the file and empties it, as a database at rest is.
fn checkpoint(t: &TestApp) {
    let c = rusqlite::Connection::open(t.db_path()).unwrap();
    c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
}

/// Every byte the database keeps on disk, at rest: the file and its write-ahead log.
fn database_bytes(t: &TestApp) -> Vec<u8> {
    checkpoint(t);
    let mut out = std::fs::read(t.db_path()).unwrap();
    let wal = t.db_path().with_extension("db-wal");
    if let Ok(more) = std::fs::read(wal) {
        out.extend(more);
    }
    out
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Enrols through the app and returns the secret the user typed into an authenticator.
async fn enrol(app: &App, t: &TestApp, user: &User) -> TotpSecret {
    let en = mfa::begin(app, user).await.unwrap();
    let secret = TotpSecret::from_base32(&en.secret_base32).unwrap();
    let code = secret.code_at(t.clock.now());
    assert!(mfa::confirm(app, user, &code).await.unwrap().is_some());
    secret
}

/// A later code than the one that confirmed (each step is accepted once).
async fn signs_in(app: &App, t: &TestApp, user: &User, secret: &TotpSecret) -> bool {
    t.clock.advance(chrono::Duration::seconds(30));
    mfa::verify_login(app, user.id, &secret.code_at(t.clock.now()))
        .await
        .unwrap()
}

async fn audited(t: &TestApp, action: &str) -> usize {
    t.app
        .store
        .audit_query(&AuditQuery {
            action: Some(action.to_owned()),
            limit: 100,
            ..AuditQuery::default()
        })
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn the_database_file_holds_no_clear_totp_secret() {
    let t = demo().await;
    let user = first_user(&t).await;
    let secret = enrol(&t.app, &t, &user).await;
    let clear = secret.to_base32();

    let column = raw_totp_column(&t, &user);
    assert!(column.starts_with("sealed:v1:"), "{column}");
    assert!(!column.contains(&clear), "{column}");
    assert!(
        !contains(&database_bytes(&t), &clear),
        "the TOTP secret is readable in the database file"
    );
    // With only the database and another key, nothing opens.
    let stranger = Sealer::ephemeral(&kizuki_app::seeded_rng(99));
    let err = stranger
        .open(&SecretSlot::Totp(user.id), column.as_bytes())
        .unwrap_err();
    assert!(matches!(err, SealError::UnknownKey { .. }), "{err}");
    // The app, holding the key, still signs the user in.
    assert!(signs_in(&t.app, &t, &user, &secret).await);
}

#[tokio::test]
async fn secrets_kept_clear_by_an_older_kizuki_are_sealed_at_start() {
    let t = demo().await;
    let user = first_user(&t).await;
    // What an older kizuki stored: the base32 secret as is, and a clear instance secret.
    let clear = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    let now = t.clock.now();
    t.app.store.mfa_begin(user.id, clear, now).await.unwrap();
    assert!(t.app.store.mfa_confirm(user.id, 1, now).await.unwrap());
    t.app
        .store
        .instance_secret("legacy", b"clear bytes")
        .await
        .unwrap();
    assert!(
        contains(&database_bytes(&t), "clear bytes"),
        "the check can see it"
    );

    let first = sealing::seal_at_start(&t.app).await.unwrap();
    assert!(first.resealed >= 2, "{first:?}");
    let column = raw_totp_column(&t, &user);
    assert!(
        column.starts_with("sealed:v1:") && !column.contains(clear),
        "{column}"
    );
    assert!(!contains(&database_bytes(&t), "clear bytes"));
    assert_eq!(audited(&t, actions::SECRETS_SEALED).await, 1);
    // The same secret behind the seal: the user's authenticator keeps working.
    let secret = TotpSecret::from_base32(clear).unwrap();
    assert!(signs_in(&t.app, &t, &user, &secret).await);
    // A second start has nothing left to seal and writes no entry.
    let again = sealing::seal_at_start(&t.app).await.unwrap();
    assert_eq!(again.resealed, 0, "{again:?}");
    assert_eq!(audited(&t, actions::SECRETS_SEALED).await, 1);
}

#[tokio::test]
async fn a_rotation_moves_every_secret_to_the_new_key() {
    let t = demo().await;
    let dir = tempfile::tempdir().unwrap();
    let no_env = |_: &str| None;
    let app = App {
        secrets: Arc::new(Sealer::load(dir.path(), &no_env, &t.app.rng).unwrap()),
        ..t.app.clone()
    };
    let user = first_user(&t).await;
    let secret = enrol(&app, &t, &user).await;
    let old = app.secrets.ring();
    let old_id = old.current().id().to_owned();
    assert!(raw_totp_column(&t, &user).starts_with(&format!("sealed:v1:{old_id}:")));

    let r = sealing::rotate(&app).await.unwrap();
    assert_ne!(r.new_id, old_id);
    assert_eq!(r.dropped, vec![old_id.clone()]);
    assert!(r.resealed.resealed >= 1, "{r:?}");
    assert_eq!(r.env_value, None, "the key file was rewritten");
    let column = raw_totp_column(&t, &user);
    assert!(
        column.starts_with(&format!("sealed:v1:{}:", r.new_id)),
        "{column}"
    );
    let file = std::fs::read_to_string(dir.path().join(KEY_FILE)).unwrap();
    assert!(
        file.contains(&r.new_id) && !file.contains(&old_id),
        "{file}"
    );
    assert_eq!(audited(&t, actions::SECRETS_ROTATED).await, 1);

    // The old key alone no longer opens anything; the app signs in with the new one.
    let old_only = Sealer::new(old, KeySource::Fixed);
    assert!(matches!(
        old_only.open(&SecretSlot::Totp(user.id), column.as_bytes()),
        Err(SealError::UnknownKey { .. })
    ));
    assert!(signs_in(&app, &t, &user, &secret).await);

    // A node started with a key of its own refuses before serving, naming the key it lacks.
    let wrong = App {
        secrets: Arc::new(Sealer::ephemeral(&kizuki_app::seeded_rng(5))),
        ..t.app.clone()
    };
    let err = sealing::seal_at_start(&wrong)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains(&r.new_id), "{err}");
}
