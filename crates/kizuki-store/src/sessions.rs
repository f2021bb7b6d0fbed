//! Browser sessions as stored: kept in the database so every `kizuki serve` node behind a load
//! balancer sees every session, and a restart signs nobody out. Only the SHA-256 of the session
//! id (the cookie's value) is stored, so a leaked database yields no live cookies.

use chrono::{DateTime, Utc};
use kizuki_domain::ids::UserId;
use kizuki_domain::taxonomy::Lang;
use sha2::{Digest, Sha256};

/// The stored key of a session: the hex SHA-256 of its id. It can only be made from the id,
/// so no backend is ever handed the id itself. Ids carry 256 random bits, so a fast hash is
/// enough (as for API tokens): there is nothing a slow hash would protect from guessing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionKey(String);

impl SessionKey {
    pub fn of(id: &str) -> SessionKey {
        let digest = Sha256::digest(id.as_bytes());
        SessionKey(hex::encode(digest))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A login halfway through: who, where to go afterwards, and whether the user must first
/// enrol an authenticator (required for their role, not set up yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingLogin {
    pub user: UserId,
    pub next: String,
    pub enrol: bool,
}

/// One browser session as stored (its id is not part of it, only its [`SessionKey`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// The signed-in user; `None` for an anonymous session or a login halfway through.
    pub user: Option<UserId>,
    pub csrf: String,
    pub lang: Lang,
    pub created: DateTime<Utc>,
    /// Last use, for the idle limit; callers update it coarsely (see `kizuki-web`'s session).
    pub seen: DateTime<Utc>,
    /// A one-time notice for the next page.
    pub flash: Option<String>,
    /// A login half done: the password was right, the second factor is still to come.
    pub pending: Option<PendingLogin>,
}

/// The fields [`SessionStore::update_session`](crate::SessionStore::update_session) changes: each `Some`
/// replaces the stored value (`Some(None)` clears an optional one); `None` leaves it alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionUpdate {
    pub lang: Option<Lang>,
    pub seen: Option<DateTime<Utc>>,
    pub flash: Option<Option<String>>,
    pub pending: Option<Option<PendingLogin>>,
}

impl SessionUpdate {
    pub fn is_empty(&self) -> bool {
        self == &SessionUpdate::default()
    }
}
