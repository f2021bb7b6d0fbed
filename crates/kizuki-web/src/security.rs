//! The web side of security: the client's address (computed once per request, behind proxies
//! only when configured), the security headers on every answer, and the checks login and
//! API tokens share — throttling, the organisation's IP allowlist and the audit trail.

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use kizuki_app::App;
use kizuki_app::security::headers::{HeaderOptions, api_headers, html_headers, no_store};
use kizuki_app::security::ip_allowlist::{ProxyConfig, client_addr};
use kizuki_app::security::throttle::LoginThrottle;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

/// Deployment settings for the checks here.
#[derive(Debug, Clone, Default)]
pub struct SecurityOptions {
    /// Served over TLS (directly or by a proxy): HSTS and `upgrade-insecure-requests`.
    pub tls: bool,
    /// Whom to believe about `X-Forwarded-For`; by default nobody.
    pub proxy: ProxyConfig,
}

/// What the checks share across requests.
#[derive(Clone)]
pub struct Security {
    pub opts: SecurityOptions,
    pub headers: HeaderOptions,
    pub throttle: Arc<LoginThrottle>,
}

impl Security {
    pub fn new(app: &App, opts: SecurityOptions) -> Security {
        Security {
            headers: HeaderOptions {
                tls: opts.tls,
                ..HeaderOptions::default()
            },
            throttle: Arc::new(LoginThrottle::new(
                kizuki_app::security::throttle::ThrottleConfig::default(),
                app.clock.clone(),
            )),
            opts,
        }
    }
}

/// The client's address as computed once by [`layer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // The layer always sets it; a route outside the layer counts as local.
        Ok(parts
            .extensions
            .get::<ClientAddr>()
            .copied()
            .unwrap_or(ClientAddr(IpAddr::V4(Ipv4Addr::LOCALHOST))))
    }
}

/// Computes the client address, refuses a forged or malformed forwarding chain, and adds
/// the security headers to whatever the handlers answer.
pub async fn layer(State(security): State<Security>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |c| c.0.ip());
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let addr = client_addr(&security.opts.proxy, peer, &forwarded);
    let path = req.uri().path().to_owned();
    let api = path.starts_with("/api/");
    let mut res = match addr {
        Ok(a) => {
            req.extensions_mut().insert(ClientAddr(a));
            next.run(req).await
        }
        // Refused in the project's error conventions, not axum's English text/plain.
        Err(e) => {
            // Only a listed proxy's header is read, so this is a proxy to look at.
            tracing::warn!(%peer, "refused a malformed X-Forwarded-For");
            crate::error::EarlyRefusal::ForwardedFor { entry: e.entry }.response(api)
        }
    };
    let pairs = if api {
        api_headers(&security.headers)
    } else {
        html_headers(&security.headers)
    };
    let h = res.headers_mut();
    for (name, value) in pairs {
        // A handler's own policy is stricter (a download is sandboxed): keep it.
        if name == "content-security-policy" && h.contains_key(name) {
            continue;
        }
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(HeaderName::from_static(name), v);
        }
    }
    // Anything but the fixed assets and the public portal may carry signed-in content.
    let public = path.starts_with("/static/") || path.starts_with("/public") || path == "/healthz";
    if !public {
        let (name, value) = no_store();
        h.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    res
}
