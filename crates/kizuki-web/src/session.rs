//! Browser sessions: a random id in an HttpOnly cookie, the session itself kept in memory
//! with its CSRF token, language and (once signed in) user. The id is replaced at login and
//! logout so a planted cookie cannot be carried into a signed-in session.

use crate::error::WebError;
use crate::form::FormData;
use crate::state::WebState;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};
use kizuki_app::auth::{self, Principal};
use kizuki_domain::ids::UserId;
use kizuki_domain::taxonomy::Lang;
use std::collections::HashMap;
use std::sync::Mutex;

pub const COOKIE_NAME: &str = "kizuki_session";
/// The hidden form field every POST carries.
pub const CSRF_FIELD: &str = "_csrf";
/// Header alternative for scripts (presence heartbeats, preview).
pub const CSRF_HEADER: &str = "x-csrf-token";

// Security (issue 6): ASVS 3.3 — 30 minutes idle, 12 hours at most, then sign in again.
const IDLE: i64 = 30 * 60;
const ABSOLUTE: i64 = 12 * 3600;
const MAX_SESSIONS: usize = 100_000;

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
    /// Security (issue 6): the password was right, the second factor is still to come.
    pub pending: Option<PendingLogin>,
}

/// A login halfway through: who, where to go afterwards, and whether the user must first
/// enrol an authenticator (required for their role, not set up yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingLogin {
    pub user: UserId,
    pub next: String,
    pub enrol: bool,
}

#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, SessionData>>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, SessionData>> {
        match self.map.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// The live session with this id, touched; expired sessions are dropped.
    pub fn get(&self, id: &str, now: DateTime<Utc>) -> Option<SessionData> {
        let mut map = self.lock();
        let s = map.get_mut(id)?;
        if now - s.seen > Duration::seconds(IDLE) || now - s.created > Duration::seconds(ABSOLUTE) {
            map.remove(id);
            return None;
        }
        s.seen = now;
        Some(s.clone())
    }

    pub fn create(&self, st: &WebState, user: Option<UserId>, lang: Lang) -> SessionData {
        let mut id = [0u8; 32];
        let mut csrf = [0u8; 32];
        st.app.fill_random(&mut id);
        st.app.fill_random(&mut csrf);
        let now = st.app.clock.now();
        let s = SessionData {
            id: hex(&id),
            user,
            csrf: hex(&csrf),
            lang,
            created: now,
            seen: now,
            flash: None,
            pending: None,
        };
        let mut map = self.lock();
        if map.len() >= MAX_SESSIONS {
            // Bounded memory: under a flood of anonymous sessions, drop the stalest.
            let cutoff = now - Duration::seconds(IDLE / 8);
            map.retain(|_, v| v.seen > cutoff);
        }
        map.insert(s.id.clone(), s.clone());
        s
    }

    pub fn remove(&self, id: &str) {
        self.lock().remove(id);
    }

    /// Accounts (issue 6): ends every session of `user`, signed in or halfway through a
    /// login, so none outlives a password change.
    pub fn remove_user(&self, user: UserId) {
        self.lock().retain(|_, s| {
            s.user != Some(user) && s.pending.as_ref().is_none_or(|p| p.user != user)
        });
    }

    pub fn set_lang(&self, id: &str, lang: Lang) {
        if let Some(s) = self.lock().get_mut(id) {
            s.lang = lang;
        }
    }

    /// Security (issue 6): marks a login halfway through (password right, MFA to come).
    pub fn set_pending(&self, id: &str, pending: Option<PendingLogin>) {
        if let Some(s) = self.lock().get_mut(id) {
            s.pending = pending;
        }
    }

    pub fn set_flash(&self, id: &str, msg: &str) {
        if let Some(s) = self.lock().get_mut(id) {
            s.flash = Some(msg.to_owned());
        }
    }

    pub fn take_flash(&self, id: &str) -> Option<String> {
        self.lock().get_mut(id).and_then(|s| s.flash.take())
    }
}

/// Set by a handler that replaced the session (login, logout) so the cookie follows.
#[derive(Debug, Clone)]
pub struct NewSessionId(pub String);

fn cookie_value(parts_headers: &axum::http::HeaderMap) -> Option<String> {
    parts_headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE_NAME)
        .map(|(_, v)| v.to_owned())
}

pub fn set_cookie(st: &WebState, id: &str) -> Option<HeaderValue> {
    let secure = if st.secure_cookies { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}={id}; Path=/; HttpOnly; SameSite=Lax{secure}"
    ))
    .ok()
}

/// Gives every page request a session (anonymous until login), sets its cookie when new,
/// and renders error pages in the visitor's language.
pub async fn layer(State(st): State<WebState>, mut req: Request, next: Next) -> Response {
    let now = st.app.clock.now();
    let existing = cookie_value(req.headers()).and_then(|id| st.sessions.get(&id, now));
    let (sess, fresh) = match existing {
        Some(s) => (s, false),
        None => (st.sessions.create(&st, None, Lang::Ja), true),
    };
    req.extensions_mut().insert(sess.clone());
    let mut res = next.run(req).await;
    let new_id = res.extensions().get::<NewSessionId>().map(|n| n.0.clone());
    let cookie_id = match new_id {
        Some(id) => Some(id),
        None if fresh => Some(sess.id.clone()),
        None => None,
    };
    if let Some(v) = cookie_id.and_then(|id| set_cookie(&st, &id)) {
        res.headers_mut().append(SET_COOKIE, v);
    }
    crate::error::render_error_page(&st, &sess, res).await
}

/// Who is looking at the page: the session and, when signed in, the principal.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub session: SessionData,
    pub principal: Option<Principal>,
    pub lang: Lang,
    pub path: String,
}

impl FromRequestParts<WebState> for Viewer {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, st: &WebState) -> Result<Self, Self::Rejection> {
        let session = parts
            .extensions
            .get::<SessionData>()
            .cloned()
            .ok_or_else(|| WebError::Internal("page route without session layer".into()))?;
        let principal = match session.user {
            Some(u) => match auth::principal(&st.app, u).await {
                Ok(p) => Some(p),
                Err(kizuki_app::AppError::Unauthenticated) => None,
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        let lang = principal.as_ref().map_or(session.lang, |p| p.lang);
        let path = parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned());
        Ok(Viewer {
            session,
            principal,
            lang,
            path,
        })
    }
}

/// A signed-in viewer; anyone else is sent to the login page and brought back afterwards.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub viewer: Viewer,
    pub p: Principal,
}

impl FromRequestParts<WebState> for SignedIn {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, st: &WebState) -> Result<Self, Self::Rejection> {
        let viewer = Viewer::from_request_parts(parts, st).await?;
        match viewer.principal.clone() {
            Some(p) => Ok(SignedIn { viewer, p }),
            None => Err(WebError::NeedLogin {
                next: if parts.method == Method::GET {
                    viewer.path.clone()
                } else {
                    "/".to_owned()
                },
            }),
        }
    }
}

/// A posted form whose CSRF token matched the session's.
#[derive(Debug, Clone)]
pub struct Posted(pub FormData);

const MAX_FORM: usize = 1024 * 1024;

impl FromRequest<WebState> for Posted {
    type Rejection = WebError;

    async fn from_request(req: Request, st: &WebState) -> Result<Self, Self::Rejection> {
        let session = req
            .extensions()
            .get::<SessionData>()
            .cloned()
            .ok_or(WebError::Csrf)?;
        let header = req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = Bytes::from_request(req, st)
            .await
            .map_err(|_| WebError::BadRequest("unreadable form".into()))?;
        if body.len() > MAX_FORM {
            return Err(WebError::BadRequest("form too large".into()));
        }
        let form = FormData::parse(&body);
        let sent = header.unwrap_or_else(|| form.get(CSRF_FIELD).to_owned());
        if !same_secret(&sent, &session.csrf) {
            return Err(WebError::Csrf);
        }
        Ok(Posted(form))
    }
}
