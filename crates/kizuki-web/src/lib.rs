//! kizuki's web server: server-rendered pages (Japanese first, English on request) for
//! operators and the centre, and the JSON API under `/api/v1` with its OpenAPI document.
//! Everything it serves, templates and static files included, is embedded in the binary.

pub mod api;
pub mod error;
pub mod form;
pub mod i18n;
pub mod pages;
pub mod render;
pub mod session;
pub mod state;

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kizuki_app::App;
use kizuki_app::presence::Presence;
use kizuki_app::reports::Deadlines;
use pages::{auth, cases, reports, triage};
use render::Views;
use session::Sessions;
use state::WebState;
use std::net::SocketAddr;
use std::sync::Arc;

/// Options that differ between deployments.
#[derive(Debug, Clone, Default)]
pub struct WebOptions {
    /// Mark the session cookie `Secure` (set when served behind TLS).
    pub secure_cookies: bool,
}

const STYLE: &str = include_str!("../static/style.css");
const SCRIPT: &str = include_str!("../static/app.js");

async fn asset(Path(name): Path<String>) -> Response {
    let (body, ty) = match name.as_str() {
        "style.css" => (STYLE, "text/css; charset=utf-8"),
        "app.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, ty),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}

/// Headers every answer carries: no framing by other sites, no MIME sniffing, no referrer
/// leaking record numbers to other sites.
async fn security_headers(req: axum::extract::Request, next: middleware::Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::X_FRAME_OPTIONS,
        header::HeaderValue::from_static("DENY"),
    );
    h.insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
        ),
    );
    res
}

/// The whole application. Fails when the embedded templates or message catalogues are broken.
pub fn router_with(app: App, opts: WebOptions) -> Result<Router, String> {
    i18n::check()?;
    let views = Views::load(i18n::catalogue(), app.taxonomy.clone())?;
    let (api_router, openapi) = api::router();
    let openapi_json = serde_json::to_string_pretty(&openapi).map_err(|e| e.to_string())?;
    let st = WebState {
        app,
        views: Arc::new(views),
        sessions: Arc::new(Sessions::default()),
        presence: Arc::new(Presence::new()),
        deadlines: Deadlines::default(),
        secure_cookies: opts.secure_cookies,
        openapi: Arc::new(openapi_json),
    };
    let pages = Router::new()
        .route("/", get(auth::home))
        .route("/login", get(auth::login_form).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/lang", post(auth::set_lang))
        .route("/reports", get(reports::list).post(reports::create))
        .route("/reports.csv", get(reports::csv))
        .route("/reports/new", get(reports::new_form))
        .route("/reports/incident", post(reports::incident))
        .route("/reports/{id}", get(reports::detail))
        .route(
            "/reports/{id}/edit",
            get(reports::edit_form).post(reports::update),
        )
        .route("/reports/{id}/stages", post(reports::add_stage))
        .route("/reports/{id}/triage", get(triage::form).post(triage::save))
        .route("/reports/{id}/links", post(triage::link))
        .route("/reports/{id}/links/{other}/delete", post(triage::unlink))
        .route("/cases", get(cases::list))
        .route("/cases/preview", post(cases::preview))
        .route("/cases/{id}", get(cases::view))
        .route("/cases/{id}/edit", get(cases::edit_form).post(cases::save))
        .route("/surveys", get(cases::surveys))
        .route("/surveys/{year}", get(cases::survey))
        .route("/lessons", get(cases::lessons))
        .route("/presence", post(cases::presence))
        .fallback(|| async { error::WebError::NotFound })
        .layer(middleware::from_fn_with_state(st.clone(), session::layer));
    Ok(Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/static/{name}", get(asset))
        .nest("/api/v1", api_router)
        .merge(pages)
        .layer(middleware::from_fn(security_headers))
        .with_state(st))
}

/// The application with default options.
pub fn router(app: App) -> Result<Router, String> {
    router_with(app, WebOptions::default())
}

/// Serves until `shutdown` resolves. `KIZUKI_SECURE_COOKIES=1` marks the session cookie
/// `Secure`, for deployments behind TLS.
pub async fn serve(
    app: App,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let opts = WebOptions {
        secure_cookies: std::env::var("KIZUKI_SECURE_COOKIES").is_ok_and(|v| v == "1"),
    };
    let router = router_with(app, opts).map_err(std::io::Error::other)?;
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
