//! Browser sessions as records: creating, finding, touching, expiring and purging them in the
//! store, the CSRF token of each, and the instance secret anonymous tokens derive from. The
//! web crate only carries the id in a cookie; every node reads the same sessions here.
//!
//! Anonymous visitors cost no write: their session is not stored until it has something to
//! keep (a language, a notice, a login halfway through). Until then its id is the cookie's
//! value and its CSRF token is derived from the id under an instance secret shared by all
//! nodes (see [`derive_csrf`]), so a form rendered by one node posts to any other.

use crate::App;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, KeyInit, Mac};
use kizuki_domain::ids::UserId;
use kizuki_domain::taxonomy::Lang;
use kizuki_store::{
    DynStore, SecretSlot, SessionKey, SessionRecord, SessionUpdate, StoreError, StoreResult,
};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use tokio::sync::OnceCell;

/// A login halfway through: who, where to go afterwards, and whether the user must first
/// enrol an authenticator (required for their role, not set up yet).
pub use kizuki_store::PendingLogin;

// ASVS 3.3: 30 minutes idle, 12 hours at most, then sign in again.
const IDLE: i64 = 30 * 60;
const ABSOLUTE: i64 = 12 * 3600;
/// `seen` is written back only when it is older than this, so a page view costs no database
/// write while a session is busy: one write a minute per active session at most. The idle
/// limit is then accurate to a minute (a session may live up to IDLE + TOUCH after its last
/// use), which ASVS's 30 minutes allow.
const TOUCH: i64 = 60;
/// Expired rows are purged at most this often by each node (from the request path, in the
/// background), which bounds the table to the sessions of the last half-hour.
const PURGE_EVERY: i64 = 60;
/// Ids are 32 random bytes in hex; anything else in the cookie is not looked up.
const ID_LEN: usize = 64;
/// Tries at a fresh id: a collision of 256 random bits only happens with a badly seeded
/// generator (tests restart one with the same seed), and then the next id differs.
const CREATE_TRIES: usize = 16;
/// The instance secret (in the store, shared by all nodes) anonymous CSRF tokens derive from.
const CSRF_SECRET: &str = "session-csrf";
/// Bytes of a freshly made instance secret (the HMAC-SHA256 block is 64; 32 is its strength).
const SECRET_LEN: usize = 32;
/// Domain separation: the secret keys nothing else the same way.
const CSRF_CONTEXT: &[u8] = b"kizuki anonymous session csrf v1\0";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionData {
    pub id: String,
    pub user: Option<UserId>,
    pub csrf: String,
    pub lang: Lang,
    pub created: DateTime<Utc>,
    pub seen: DateTime<Utc>,
    /// A one-time notice for the next page ("保存しました").
    pub flash: Option<String>,
    /// The password was right, the second factor is still to come.
    pub pending: Option<PendingLogin>,
}

impl SessionData {
    /// An anonymous session in Japanese that nothing has been kept in yet.
    pub fn unsaved(id: String, csrf: String, now: DateTime<Utc>) -> SessionData {
        SessionData {
            id,
            user: None,
            csrf,
            lang: Lang::Ja,
            created: now,
            seen: now,
            flash: None,
            pending: None,
        }
    }

    fn from_record(id: &str, r: SessionRecord) -> SessionData {
        SessionData {
            id: id.to_owned(),
            user: r.user,
            csrf: r.csrf,
            lang: r.lang,
            created: r.created,
            seen: r.seen,
            flash: r.flash,
            pending: r.pending,
        }
    }

    fn record(&self) -> SessionRecord {
        SessionRecord {
            user: self.user,
            csrf: self.csrf.clone(),
            lang: self.lang,
            created: self.created,
            seen: self.seen,
            flash: self.flash.clone(),
            pending: self.pending.clone(),
        }
    }
}

/// The sessions, in the store. One-time notices are the exception to "write through at
/// once": many handlers that set or show one are not async, so the notice is held here for
/// the request and written by the web layer's session middleware before the answer goes out
/// (see [`Sessions::flush`]).
pub struct Sessions {
    store: DynStore,
    /// Clock and random source of the app (a new session's times, ids and instance secret).
    app: App,
    /// The key of [`derive_csrf`], read from the store once (first request) and kept.
    csrf_key: OnceCell<Vec<u8>>,
    /// Unix seconds of this node's last purge of expired sessions.
    last_purge: AtomicI64,
    /// Notices set during a request, by session id, until the layer stores them.
    flash_set: Mutex<HashMap<String, String>>,
    /// Sessions whose notice a page showed during a request, until the layer clears it.
    flash_shown: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("store", &self.store.backend())
            .finish_non_exhaustive()
    }
}

use hex::encode as hex;

/// Whether `id` is an id this server could have made (64 lower-case hex digits), so an
/// anonymous visitor's cookie can be kept as is; anything else is replaced by a fresh id.
pub fn well_formed(id: &str) -> bool {
    id.len() == ID_LEN && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The CSRF token of a session that is not stored: HMAC-SHA256 of its id under the instance
/// secret. Only a holder of the secret (a node) can make it, every node makes the same one,
/// and it is bound to the id, so a token read with one cookie is worthless with another.
pub fn derive_csrf(key: &[u8], id: &str) -> String {
    // HMAC takes keys of any length; `new_from_slice` only fails for fixed-size MACs.
    let Ok(mut mac) = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(CSRF_CONTEXT);
    mac.update(id.as_bytes());
    hex(mac.finalize().into_bytes())
}

/// Whether an update carries something worth a stored session; clearing a notice or a pending
/// login of a session that is not stored keeps nothing.
fn keeps_state(u: &SessionUpdate) -> bool {
    u.lang.is_some() || matches!(u.flash, Some(Some(_))) || matches!(u.pending, Some(Some(_)))
}

/// What the cookie's id names in the store.
pub enum Lookup {
    Live(SessionData),
    /// It was stored but has expired (now removed): the visitor gets a fresh id.
    Expired,
    /// Nothing stored: an anonymous visitor, or a malformed cookie.
    Absent,
}

fn expired(s: &SessionRecord, now: DateTime<Utc>) -> bool {
    now - s.seen > Duration::seconds(IDLE) || now - s.created > Duration::seconds(ABSOLUTE)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl Sessions {
    pub fn new(app: App) -> Sessions {
        Sessions {
            store: app.store.clone(),
            app,
            csrf_key: OnceCell::new(),
            last_purge: AtomicI64::new(i64::MIN),
            flash_set: Mutex::new(HashMap::new()),
            flash_shown: Mutex::new(HashSet::new()),
        }
    }

    /// The live session with this id; an expired one is removed and reads as none. A store
    /// failure is an error, never "no session" and never "signed in".
    pub async fn get(&self, id: &str, now: DateTime<Utc>) -> StoreResult<Option<SessionData>> {
        match self.lookup(id, now).await? {
            Lookup::Live(s) => Ok(Some(s)),
            Lookup::Expired | Lookup::Absent => Ok(None),
        }
    }

    pub async fn lookup(&self, id: &str, now: DateTime<Utc>) -> StoreResult<Lookup> {
        if !well_formed(id) {
            return Ok(Lookup::Absent);
        }
        let key = SessionKey::of(id);
        let Some(mut s) = self.store.session(&key).await? else {
            return Ok(Lookup::Absent);
        };
        if expired(&s, now) {
            self.store.delete_session(&key).await?;
            return Ok(Lookup::Expired);
        }
        // Touched coarsely (see TOUCH): no write on most page views.
        if now - s.seen > Duration::seconds(TOUCH) {
            let touch = SessionUpdate {
                seen: Some(now),
                ..SessionUpdate::default()
            };
            self.store.update_session(&key, &touch).await?;
            s.seen = now;
        }
        Ok(Lookup::Live(SessionData::from_record(id, s)))
    }

    /// The key anonymous CSRF tokens derive from: the instance secret, made by the first node
    /// that needs it (from the app's random source) and read once per process.
    async fn csrf_key(&self) -> StoreResult<&[u8]> {
        let key = self
            .csrf_key
            .get_or_try_init(|| async {
                let mut candidate = [0u8; SECRET_LEN];
                self.app.fill_random(&mut candidate);
                let slot = SecretSlot::Instance(CSRF_SECRET.to_owned());
                let sealed = self.app.seal_secret(&slot, &candidate);
                let stored = self.store.instance_secret(CSRF_SECRET, &sealed).await?;
                // Whichever node stored first, every node opens the same key.
                let key = self
                    .app
                    .open_secret(&slot, &stored)
                    .map_err(StoreError::backend)?;
                if key.is_empty() {
                    return Err(StoreError::Invalid(format!(
                        "instance_secrets.value of {CSRF_SECRET:?} is empty"
                    )));
                }
                Ok(key)
            })
            .await?;
        Ok(key.as_slice())
    }

    /// A session that is not stored: anonymous, in Japanese, its CSRF token derived from `id`.
    /// Nothing is written; it is stored once it has something to keep.
    pub async fn anonymous(&self, id: String, now: DateTime<Utc>) -> StoreResult<SessionData> {
        let csrf = derive_csrf(self.csrf_key().await?, &id);
        Ok(SessionData::unsaved(id, csrf, now))
    }

    pub fn fresh_id(&self) -> String {
        let mut id = [0u8; 32];
        self.app.fill_random(&mut id);
        hex(id)
    }

    /// Applies `u` to the session `id`, storing the session first when it is not stored yet
    /// and `u` has something to keep (an anonymous visitor's language, notice or half-done
    /// login). Its CSRF token is then the derived one the visitor's pages already carry.
    async fn keep(&self, id: &str, u: &SessionUpdate) -> StoreResult<()> {
        let key = SessionKey::of(id);
        if self.store.update_session(&key, u).await? || !keeps_state(u) {
            return Ok(());
        }
        let now = self.app.clock.now();
        let record = SessionRecord {
            user: None,
            csrf: derive_csrf(self.csrf_key().await?, id),
            lang: u.lang.unwrap_or(Lang::Ja),
            created: now,
            seen: now,
            flash: u.flash.clone().flatten(),
            pending: u.pending.clone().flatten(),
        };
        match self.store.insert_session(&key, &record).await {
            Ok(()) => Ok(()),
            // Another request of the same visitor stored it meanwhile: change that one.
            Err(StoreError::Duplicate { .. }) => {
                self.store.update_session(&key, u).await.map(|_| ())
            }
            Err(e) => Err(e),
        }
    }

    /// A session with a fresh id. A signed-in one is stored at once; an anonymous one (after
    /// logout, or before the second step of a login) only when it has something to keep: its
    /// language if not the default, else whatever is set on it later.
    pub async fn create(&self, user: Option<UserId>, lang: Lang) -> StoreResult<SessionData> {
        let now = self.app.clock.now();
        if user.is_none() {
            let s = self.anonymous(self.fresh_id(), now).await?;
            if lang != Lang::Ja {
                let u = SessionUpdate {
                    lang: Some(lang),
                    ..SessionUpdate::default()
                };
                self.keep(&s.id, &u).await?;
            }
            return Ok(SessionData { lang, ..s });
        }
        let mut csrf = [0u8; 32];
        self.app.fill_random(&mut csrf);
        let mut last = None;
        for _ in 0..CREATE_TRIES {
            let s = SessionData {
                id: self.fresh_id(),
                user,
                csrf: hex(csrf),
                lang,
                created: now,
                seen: now,
                flash: None,
                pending: None,
            };
            match self
                .store
                .insert_session(&SessionKey::of(&s.id), &s.record())
                .await
            {
                Ok(()) => return Ok(s),
                Err(e @ StoreError::Duplicate { .. }) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| StoreError::Invalid("no session id could be made".into())))
    }

    /// Ends the session `id` (logout, or a login that replaces it).
    pub async fn remove(&self, id: &str) -> StoreResult<()> {
        self.store.delete_session(&SessionKey::of(id)).await
    }

    /// Ends every session of `user`, signed in or halfway through a
    /// login, on every node, so none outlives a password change.
    pub async fn remove_user(&self, user: UserId) -> StoreResult<()> {
        self.store.delete_user_sessions(user).await.map(|_| ())
    }

    /// The session's language; an anonymous visitor's session is stored for it.
    pub async fn set_lang(&self, id: &str, lang: Lang) -> StoreResult<()> {
        let u = SessionUpdate {
            lang: Some(lang),
            ..SessionUpdate::default()
        };
        self.keep(id, &u).await
    }

    /// Marks a login halfway through (password right, MFA to come).
    pub async fn set_pending(&self, id: &str, pending: Option<PendingLogin>) -> StoreResult<()> {
        let u = SessionUpdate {
            pending: Some(pending),
            ..SessionUpdate::default()
        };
        self.keep(id, &u).await
    }

    /// A notice for the session's next page; stored by the session middleware when the request ends.
    pub fn set_flash(&self, id: &str, msg: &str) {
        lock(&self.flash_set).insert(id.to_owned(), msg.to_owned());
    }

    /// The notice loaded with the session, for the page being rendered; the session middleware clears it
    /// in the store when the request ends, so it is shown once.
    pub fn take_flash(&self, session: &SessionData) -> Option<String> {
        if session.flash.is_some() {
            lock(&self.flash_shown).insert(session.id.clone());
        }
        session.flash.clone()
    }

    /// Stores what [`Sessions::set_flash`] and [`Sessions::take_flash`] noted for these
    /// sessions during the request: a shown notice is cleared, a new one replaces it.
    pub async fn flush(&self, ids: &[&str]) -> StoreResult<()> {
        for id in ids {
            let shown = lock(&self.flash_shown).remove(*id);
            let set = lock(&self.flash_set).remove(*id);
            let flash = match (set, shown) {
                (Some(msg), _) => Some(Some(msg)),
                (None, true) => Some(None),
                (None, false) => None,
            };
            if flash.is_some() {
                let u = SessionUpdate {
                    flash,
                    ..SessionUpdate::default()
                };
                self.keep(id, &u).await?;
            }
        }
        Ok(())
    }

    /// Removes expired sessions in the background, at most once every `PURGE_EVERY`
    /// seconds on this node; a failure is logged and tried again next time.
    pub fn maybe_purge(&self, now: DateTime<Utc>) {
        let t = now.timestamp();
        let last = self.last_purge.load(Ordering::Relaxed);
        if t.saturating_sub(last) < PURGE_EVERY
            || self
                .last_purge
                .compare_exchange(last, t, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let store = self.store.clone();
        tokio::spawn(async move {
            // A minute's margin past the idle limit: another node whose clock is a little
            // behind must not lose a session it still counts as live.
            let idle = now - Duration::seconds(IDLE + TOUCH);
            let old = now - Duration::seconds(ABSOLUTE);
            match store.purge_sessions(idle, old).await {
                Ok(n) if n > 0 => tracing::debug!(purged = n, "expired sessions removed"),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, detail = ?e, "purging expired sessions failed")
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::{derive_csrf, keeps_state, well_formed};
    use kizuki_store::{PendingLogin, SessionUpdate};

    #[test]
    fn derived_tokens_depend_on_key_and_id() {
        let id = "0123456789abcdef".repeat(4);
        let t = derive_csrf(b"secret-one", &id);
        assert_eq!(t.len(), 64);
        assert!(t.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(t, derive_csrf(b"secret-one", &id), "not deterministic");
        assert_ne!(t, derive_csrf(b"secret-two", &id));
        assert_ne!(t, derive_csrf(b"secret-one", &"f".repeat(64)));
        assert_ne!(t, id);
    }

    #[test]
    fn only_canonical_ids_are_kept() {
        assert!(well_formed(&"a1".repeat(32)));
        assert!(
            !well_formed(&"A1".repeat(32)),
            "upper case would be a second key"
        );
        assert!(!well_formed(&"a1".repeat(31)));
        assert!(!well_formed(&"g1".repeat(32)));
        assert!(!well_formed(""));
    }

    #[test]
    fn clearing_keeps_nothing() {
        assert!(!keeps_state(&SessionUpdate::default()));
        let clear = SessionUpdate {
            flash: Some(None),
            pending: Some(None),
            ..SessionUpdate::default()
        };
        assert!(!keeps_state(&clear));
        let notice = SessionUpdate {
            flash: Some(Some("保存しました".into())),
            ..SessionUpdate::default()
        };
        assert!(keeps_state(&notice));
        let half = SessionUpdate {
            pending: Some(Some(PendingLogin {
                user: kizuki_domain::ids::UserId(1),
                next: "/".into(),
                enrol: false,
            })),
            ..SessionUpdate::default()
        };
        assert!(keeps_state(&half));
        let lang = SessionUpdate {
            lang: Some(kizuki_domain::taxonomy::Lang::En),
            ..SessionUpdate::default()
        };
        assert!(keeps_state(&lang));
    }
}
