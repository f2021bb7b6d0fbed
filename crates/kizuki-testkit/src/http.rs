//! One HTTP client for the tests: to the router in process (`tower::ServiceExt::oneshot`, for
//! most tests) or to a running server over a real socket (hyper's client), with the same
//! helpers either way: forms with the session cookie and CSRF token, JSON with bearer tokens,
//! and answers as status, headers and text or JSON.

use crate::app::Site;
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use kizuki_web::session::{COOKIE_NAME, CSRF_FIELD, CSRF_HEADER};
use std::net::SocketAddr;
use std::sync::Arc;
use tower::ServiceExt;

/// The address in-process requests come from: a local client, as a test's connection to a
/// server on 127.0.0.1 would be.
pub const IN_PROCESS_PEER: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 50_000);

/// One HTTP answer.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    /// Every header line in order (a repeated header appears once per line).
    pub headers: Vec<(String, String)>,
    /// The body as text (invalid UTF-8 replaced).
    pub body: String,
    /// The body as sent.
    pub bytes: Vec<u8>,
}

impl Resp {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON; panics with the body when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The CSRF token of the first form on the page.
    pub fn csrf(&self) -> String {
        let field = format!("name=\"{CSRF_FIELD}\" value=\"");
        let at = self
            .body
            .find(&field)
            .unwrap_or_else(|| panic!("no CSRF field in: {}", self.body));
        let rest = &self.body[at + field.len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    }

    async fn from_response(res: Response<Body>) -> Resp {
        let (parts, body) = res.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .unwrap_or_else(|e| panic!("reading the body: {e}"));
        Resp::new(parts.status, &parts.headers, bytes.to_vec())
    }

    fn new(status: StatusCode, headers: &HeaderMap, bytes: Vec<u8>) -> Resp {
        let headers = headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        Resp {
            status: status.as_u16(),
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            bytes,
        }
    }
}

/// `pairs` as an `application/x-www-form-urlencoded` body.
pub fn form_body(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn build_request(
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> Request<Body> {
    let method = Method::from_bytes(method.as_bytes()).unwrap_or_else(|e| panic!("{method}: {e}"));
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .body(Body::from(body.to_vec()))
        .unwrap_or_else(|e| panic!("request {path}: {e}"));
    for (k, v) in headers {
        let name = HeaderName::from_bytes(k.as_bytes()).unwrap_or_else(|e| panic!("{k}: {e}"));
        let value = HeaderValue::from_str(v).unwrap_or_else(|e| panic!("{k}: {v}: {e}"));
        req.headers_mut().append(name, value);
    }
    req
}

/// A client for a server on a real socket, such as `http://127.0.0.1:PORT` (hyper's client,
/// keeping connections for reuse).
#[derive(Clone)]
pub struct Socket {
    base: String,
    http: HyperClient<HttpConnector, Body>,
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket").field("base", &self.base).finish()
    }
}

impl Socket {
    /// A client for the server at `base` (`http://host:port`, no path).
    pub fn new(base: &str) -> Socket {
        Socket {
            base: base.trim_end_matches('/').to_owned(),
            http: HyperClient::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends one request; an error when the server is not there or the connection breaks.
    pub async fn try_send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> Result<Resp, String> {
        let req = build_request(method, &format!("{}{path}", self.base), headers, body);
        let res = self.http.request(req).await.map_err(|e| e.to_string())?;
        let (parts, incoming) = res.into_parts();
        let bytes = axum::body::to_bytes(Body::new(incoming), usize::MAX)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Resp::new(parts.status, &parts.headers, bytes.to_vec()))
    }
}

/// Where a [`Client`]'s requests go.
#[derive(Clone)]
enum Transport {
    /// The router itself, called in process.
    Router(Router),
    /// A server on a socket.
    Socket(Socket),
}

/// A browser-like client: keeps the session cookie, follows no redirect by itself, and passes
/// the second factor with the recovery codes the test app enrolled.
#[derive(Clone)]
pub struct Client {
    transport: Transport,
    site: Option<Arc<Site>>,
    /// The session cookie (`kizuki_session=…`) the client sends.
    pub cookie: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let to = match &self.transport {
            Transport::Router(_) => "in process".to_owned(),
            Transport::Socket(s) => s.base.clone(),
        };
        f.debug_struct("Client")
            .field("to", &to)
            .field("cookie", &self.cookie)
            .finish()
    }
}

impl Client {
    pub(crate) fn in_process(router: Router, site: Option<Arc<Site>>) -> Client {
        Client {
            transport: Transport::Router(router),
            site,
            cookie: None,
        }
    }

    pub(crate) fn over_socket(socket: Socket, site: Option<Arc<Site>>) -> Client {
        Client {
            transport: Transport::Socket(socket),
            site,
            cookie: None,
        }
    }

    /// An anonymous client for the server at `base` (`http://host:port`).
    pub fn at(base: &str) -> Client {
        Client::over_socket(Socket::new(base), None)
    }

    /// The same client with the session cookie `cookie` (`kizuki_session=…`).
    pub fn with_cookie(mut self, cookie: &str) -> Client {
        self.cookie = Some(cookie.to_owned());
        self
    }

    /// The same client (its cookie) from now on talking to where `other` talks: another node,
    /// or the server restarted.
    pub fn move_to(&mut self, other: &Client) {
        self.transport = other.transport.clone();
        self.site = other.site.clone();
    }

    /// Sends one request as given: no cookie is added and none is kept.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> Resp {
        match &self.transport {
            Transport::Router(router) => {
                let mut h: Vec<(&str, String)> = Vec::with_capacity(headers.len() + 2);
                if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
                    h.push(("host", "localhost".to_owned()));
                }
                if !headers
                    .iter()
                    .any(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                {
                    h.push(("content-length", body.len().to_string()));
                }
                h.extend_from_slice(headers);
                let mut req = build_request(method, path, &h, body);
                // What `into_make_service_with_connect_info` gives a handler on a socket.
                req.extensions_mut().insert(ConnectInfo(IN_PROCESS_PEER));
                let res = router
                    .clone()
                    .oneshot(req)
                    .await
                    .unwrap_or_else(|e| match e {});
                Resp::from_response(res).await
            }
            Transport::Socket(s) => s
                .try_send(method, path, headers, body)
                .await
                .unwrap_or_else(|e| panic!("{method} {}{path}: {e}", s.base)),
        }
    }

    fn remember(&mut self, r: &Resp) {
        let prefix = format!("{COOKIE_NAME}=");
        for (k, v) in &r.headers {
            if k.eq_ignore_ascii_case("set-cookie")
                && let Some(c) = v.split(';').next()
                && c.starts_with(&prefix)
            {
                self.cookie = Some(c.to_owned());
            }
        }
    }

    /// Sends one request with the session cookie, and keeps the cookie the answer sets.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> Resp {
        let mut h: Vec<(&str, String)> =
            self.cookie.iter().map(|c| ("cookie", c.clone())).collect();
        h.extend_from_slice(headers);
        let r = self.send(method, path, &h, body).await;
        self.remember(&r);
        r
    }

    /// A page.
    pub async fn get(&mut self, path: &str) -> Resp {
        self.request("GET", path, &[], b"").await
    }

    /// Posts a form as is (the caller supplies `_csrf`, or deliberately leaves it out).
    pub async fn post_raw(&mut self, path: &str, pairs: &[(&str, &str)]) -> Resp {
        let h = [(
            "content-type",
            "application/x-www-form-urlencoded".to_owned(),
        )];
        self.request("POST", path, &h, form_body(pairs).as_bytes())
            .await
    }

    /// Loads `form_page` for its CSRF token, then posts `pairs` with it to `path`.
    pub async fn post(&mut self, form_page: &str, path: &str, pairs: &[(&str, &str)]) -> Resp {
        let csrf = self.get(form_page).await.csrf();
        let mut all: Vec<(&str, &str)> = vec![(CSRF_FIELD, csrf.as_str())];
        all.extend_from_slice(pairs);
        self.post_raw(path, &all).await
    }

    /// Posts a form with the CSRF token in the `x-csrf-token` header, as the pages' scripts do.
    pub async fn post_with_csrf_header(
        &mut self,
        path: &str,
        csrf: &str,
        pairs: &[(&str, &str)],
    ) -> Resp {
        let h = [
            (
                "content-type",
                "application/x-www-form-urlencoded".to_owned(),
            ),
            (CSRF_HEADER, csrf.to_owned()),
        ];
        self.request("POST", path, &h, form_body(pairs).as_bytes())
            .await
    }

    /// Signs in, passing the second factor where the user has one; panics unless the server
    /// accepts.
    pub async fn login(&mut self, email: &str, password: &str) {
        let r = self
            .post(
                "/login",
                "/login",
                &[("email", email), ("password", password), ("next", "/")],
            )
            .await;
        assert_eq!(r.status, 303, "login failed: {}", r.body);
        if r.header("location")
            .is_some_and(|l| l.starts_with("/login/mfa"))
        {
            let code = match &self.site {
                Some(site) => site.mfa_code(email).await,
                None => None,
            }
            .unwrap_or_else(|| panic!("no MFA code for {email}"));
            let r = self
                .post("/login/mfa", "/login/mfa", &[("code", &code)])
                .await;
            assert_eq!(r.status, 303, "second factor refused: {}", r.body);
        }
    }

    /// A JSON API call under `/api/v1` with an optional bearer token and extra headers; no
    /// cookie is sent.
    pub async fn api(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        extra: &[(&str, String)],
        body: Option<&serde_json::Value>,
    ) -> Resp {
        let mut h: Vec<(&str, String)> = extra.to_vec();
        if let Some(t) = token {
            h.push(("authorization", format!("Bearer {t}")));
        }
        let bytes = body.map(|b| b.to_string()).unwrap_or_default();
        if body.is_some() {
            h.push(("content-type", "application/json".to_owned()));
        }
        self.send(method, &format!("/api/v1{path}"), &h, bytes.as_bytes())
            .await
    }
}
