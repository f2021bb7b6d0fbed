//! Browser sessions on the wire: a random id in an HttpOnly cookie, the middleware that gives
//! every page request its session, and the extractors (`Viewer`, `SignedIn`, `Posted` with its
//! CSRF check). The sessions themselves are records kept by [`kizuki_app::security::sessions`], so
//! every node behind a load balancer knows every session and a restart signs nobody out. The
//! id is replaced at login and logout so a planted cookie cannot be carried into a signed-in
//! session.

use crate::error::WebError;
use crate::error_page::ErrorPages;
use crate::form::FormData;
use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kizuki_app::App;
use kizuki_app::auth::{self, Principal};
use kizuki_app::security::same_secret;
use kizuki_app::security::sessions::{Lookup, well_formed};
pub use kizuki_app::security::sessions::{PendingLogin, SessionData, Sessions};
use kizuki_domain::taxonomy::Lang;
use kizuki_store::StoreError;
use std::sync::Arc;

pub const COOKIE_NAME: &str = "kizuki_session";
/// The hidden form field every POST carries.
pub const CSRF_FIELD: &str = "_csrf";
/// Header alternative for scripts (presence heartbeats, preview).
pub const CSRF_HEADER: &str = "x-csrf-token";

/// What the session middleware needs of the server's state.
#[derive(Debug, Clone)]
pub struct SessionLayer {
    pub sessions: Arc<Sessions>,
    pub pages: ErrorPages,
    /// Served behind TLS: the cookie is `Secure`.
    pub secure_cookies: bool,
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

/// The session cookie for `id`; `secure` behind TLS, so it is never sent in clear.
pub fn set_cookie(secure: bool, id: &str) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}={id}; Path=/; HttpOnly; SameSite=Lax{secure}"
    ))
    .ok()
}

/// Gives every page request a session (anonymous until login), sets its cookie when new,
/// stores the notices set or shown meanwhile, and renders error pages in the visitor's
/// language. A visitor without a stored session gets an unsaved anonymous one, keeping the
/// cookie's id when it is well formed, so an anonymous page view writes nothing. A store
/// failure answers an opaque 500 (the cause is logged); the request is never served as if
/// signed in.
pub async fn layer(State(st): State<SessionLayer>, mut req: Request, next: Next) -> Response {
    let now = st.pages.app.clock.now();
    st.sessions.maybe_purge(now);
    let cookie = cookie_value(req.headers());
    let found = match &cookie {
        Some(id) => match st.sessions.lookup(id, now).await {
            Ok(l) => l,
            Err(e) => return store_failure(&st, e).await,
        },
        None => Lookup::Absent,
    };
    let (sess, fresh) = match (found, cookie) {
        (Lookup::Live(s), _) => (s, false),
        (found, cookie) => {
            // A visitor never stored keeps the id of a well-formed cookie (one id across
            // requests and nodes); no cookie, a malformed one or an expired session's gets a
            // fresh id, never the old one.
            let (id, fresh) = match cookie {
                Some(id) if matches!(found, Lookup::Absent) && well_formed(&id) => (id, false),
                _ => (st.sessions.fresh_id(), true),
            };
            match st.sessions.anonymous(id, now).await {
                Ok(s) => (s, fresh),
                Err(e) => return store_failure(&st, e).await,
            }
        }
    };
    req.extensions_mut().insert(sess.clone());
    let mut res = next.run(req).await;
    let new_id = res.extensions().get::<NewSessionId>().map(|n| n.0.clone());
    let mut ids = vec![sess.id.as_str()];
    ids.extend(new_id.as_deref());
    if let Err(e) = st.sessions.flush(&ids).await {
        // The request's own work is done; only its notice is lost.
        tracing::error!(error = %e, detail = ?e, "storing a session notice failed");
    }
    let cookie_id = match new_id {
        Some(id) => Some(id),
        None if fresh => Some(sess.id.clone()),
        None => None,
    };
    if let Some(v) = cookie_id.and_then(|id| set_cookie(st.secure_cookies, &id)) {
        res.headers_mut().append(SET_COOKIE, v);
    }
    st.pages.render(&sess, res).await
}

/// The answer when the session cannot be read or made: 500 with the error page, rendered for
/// an anonymous visitor, the cause in the log only.
async fn store_failure(st: &SessionLayer, e: StoreError) -> Response {
    let res = WebError::from(e).into_response();
    let nobody = SessionData::unsaved(String::new(), String::new(), st.pages.app.clock.now());
    st.pages.render(&nobody, res).await
}

/// Who is looking at the page: the session and, when signed in, the principal.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub session: SessionData,
    pub principal: Option<Principal>,
    pub lang: Lang,
    pub path: String,
}

impl<S> FromRequestParts<S> for Viewer
where
    S: Send + Sync,
    App: FromRef<S>,
{
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, st: &S) -> Result<Self, Self::Rejection> {
        let app = App::from_ref(st);
        let session = parts
            .extensions
            .get::<SessionData>()
            .cloned()
            .ok_or_else(|| WebError::Internal("page route without session layer".into()))?;
        let principal = match session.user {
            Some(u) => match auth::principal(&app, u).await {
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

impl<S> FromRequestParts<S> for SignedIn
where
    S: Send + Sync,
    App: FromRef<S>,
{
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, st: &S) -> Result<Self, Self::Rejection> {
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

impl<S: Send + Sync> FromRequest<S> for Posted {
    type Rejection = WebError;

    async fn from_request(req: Request, st: &S) -> Result<Self, Self::Rejection> {
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

/// Whether `sent` is the viewer's CSRF token, for posts read field by field (uploads).
pub fn csrf_matches(v: &Viewer, sent: &str) -> bool {
    same_secret(sent, &v.session.csrf)
}
