//! kizuki's web server: server-rendered pages (Japanese first, English on request) for
//! operators and the centre, and the JSON API under `/api/v1` with its OpenAPI document.
//! Everything it serves, templates and static files included, is embedded in the binary.

pub mod api;
pub mod error;
pub mod error_page;
pub mod form;
pub mod i18n;
// Fair limits and metrics.
pub mod limits;
pub mod metrics;
pub mod pages;
pub mod render;
pub mod routes;
pub mod search;
pub mod security;
pub mod session;
pub mod state;
pub mod tables;

use axum::Router;
use axum::extract::Path;
use axum::extract::{DefaultBodyLimit, FromRef};
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kizuki_app::App;
use kizuki_app::presence::Presence;
use kizuki_app::security::sessions::Sessions;
use metrics::MetricsState;
use pages::{auth, cases, publication, reports, triage};
use render::Views;
use state::WebState;
use std::net::SocketAddr;
use std::sync::Arc;

/// Options that differ between deployments.
#[derive(Debug, Clone, Default)]
pub struct WebOptions {
    /// Mark the session cookie `Secure` (set when served behind TLS).
    pub secure_cookies: bool,
    /// Security: TLS headers and trusted proxies.
    pub security: security::SecurityOptions,
    /// Report-stage deadlines, `[deadlines]` in kizuki.toml.
    pub deadlines: kizuki_domain::deadlines::DeadlinePolicy,
    /// The search index and its follower. Without it the search page, the search
    /// API and similar cases answer that search is unavailable.
    pub search: Option<kizuki_search::SearchService>,
    /// Fair limits, the bulk-import queue, metrics and warnings.
    pub ops: metrics::OpsOptions,
    /// Japanese font files for the annual report's PDF, tried before the usual locations.
    pub pdf_fonts: Vec<std::path::PathBuf>,
    /// The largest interview attachment kept (`[interviews] max_attachment_mb`).
    pub max_attachment: kizuki_app::interviews::attachments::AttachmentLimit,
    /// How long audit entries are kept (`[audit] keep`), shown on the audit page.
    pub audit_retention: kizuki_app::security::audit_log::AuditRetention,
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

/// The whole application. Fails when the embedded templates or message catalogues are broken.
pub fn router_with(app: App, opts: WebOptions) -> Result<Router, String> {
    i18n::check()?;
    let views = Views::load(i18n::catalogue(), app.taxonomy.clone())?;
    let (api_router, openapi) = api::router();
    let openapi_json = serde_json::to_string_pretty(&openapi).map_err(|e| e.to_string())?;
    let security = security::Security::new(&app, opts.security.clone());
    // Browser sessions live in the database, shared by every node.
    let sessions = Arc::new(Sessions::new(app.clone()));
    let mut limits = limits::Limits::new(opts.ops.limits.clone());
    if kizuki_app::shared_limits::needed(&app) {
        limits = limits.shared_with(app.clone());
    }
    let st = WebState {
        security,
        app,
        views: Arc::new(views),
        sessions,
        presence: Arc::new(Presence::new()),
        deadlines: opts.deadlines,
        secure_cookies: opts.secure_cookies,
        pdf_fonts: Arc::new(opts.pdf_fonts.clone()),
        max_attachment: opts.max_attachment,
        audit_retention: opts.audit_retention,
        openapi: Arc::new(openapi_json),
        search: opts.search.clone(),
        limits: Arc::new(limits),
        bulk: kizuki_app::reports::bulk::BulkQueue::new(kizuki_app::reports::bulk::BulkConfig {
            queue: opts.ops.limits.bulk_queue,
            workers: opts.ops.limits.bulk_workers,
        }),
        bulk_max_items: opts.ops.limits.bulk_max_items,
        metrics: Arc::new(metrics::Metrics::new(
            opts.ops.metrics.clone(),
            opts.ops.warnings.clone(),
            opts.ops.data_dir.clone(),
        )),
    };
    // The import workers and the resource watch run on the server's runtime (a router built
    // outside one, as in unit tests, has neither).
    if tokio::runtime::Handle::try_current().is_ok() {
        if opts.ops.start_import_workers {
            st.bulk.start(st.app.clone());
        }
        metrics::spawn_watcher(&MetricsState::from_ref(&st));
    }
    let pages = Router::new()
        .route("/", get(auth::home))
        .route("/login", get(auth::login_form).post(auth::login))
        // Security: the second factor, and enrolment where it is required.
        .route("/audit", get(pages::audit::view))
        .route("/audit/export", get(pages::audit::export))
        .route("/login/mfa", get(pages::mfa::form).post(pages::mfa::verify))
        .route(
            "/login/mfa/enrol",
            get(pages::mfa::enrol_form).post(pages::mfa::enrol),
        )
        .route("/logout", post(auth::logout))
        // Accounts: one's own password.
        .route(
            "/account/password",
            get(pages::account::form).post(pages::account::change),
        )
        .route(
            "/account/tokens",
            get(pages::account::tokens).post(pages::account::create_token),
        )
        // One's own second factor.
        .route("/account/mfa", get(pages::account::mfa))
        .route("/account/mfa/start", post(pages::account::mfa_start))
        .route("/account/mfa/confirm", post(pages::account::mfa_confirm))
        .route(
            "/account/mfa/recovery-codes",
            post(pages::account::mfa_renew),
        )
        .route("/account/mfa/reset", post(pages::account::mfa_reset))
        .route(
            "/account/tokens/{id}/revoke",
            post(pages::account::revoke_token),
        )
        .route("/org/users", get(pages::org::users).post(pages::org::add))
        .route(
            "/org/allowlist",
            get(pages::org::allowlist).post(pages::org::allowlist_add),
        )
        .route("/org/allowlist/remove", post(pages::org::allowlist_remove))
        .route(
            "/org/tokens",
            get(pages::org::tokens).post(pages::org::issue_token),
        )
        .route("/org/tokens/{id}/revoke", post(pages::org::revoke_token))
        // The centre's administration: the directory's organisations.
        .route(
            "/admin/orgs",
            get(pages::org::organisations).post(pages::org::add_org),
        )
        .route(
            "/admin/orgs/{id}",
            get(pages::org::edit_org_form).post(pages::org::edit_org),
        )
        .route("/admin/orgs/{id}/disable", post(pages::org::disable_org))
        .route("/admin/orgs/{id}/enable", post(pages::org::enable_org))
        // Points of contact: one's own, another organisation's, and the list of them.
        .route(
            "/org/contacts",
            get(pages::contacts::own).post(pages::contacts::save_own),
        )
        .route(
            "/orgs/{id}/contacts",
            get(pages::contacts::of_org).post(pages::contacts::save_of_org),
        )
        .route("/contacts", get(pages::contacts::book))
        .route("/forwarded", get(pages::forwarding::inbox))
        .route("/org/users/{id}/disable", post(pages::org::disable))
        .route("/org/users/{id}/enable", post(pages::org::enable))
        .route("/org/users/{id}/role", post(pages::org::set_role))
        .route("/lang", post(auth::set_lang))
        .route("/reports", get(reports::list).post(reports::create))
        .route("/reports.csv", get(reports::csv))
        .route("/reports/new", get(reports::new_form))
        .route(
            "/reports/on-behalf",
            get(reports::behalf_form).post(reports::behalf_create),
        )
        .route("/reports/incident", post(reports::incident))
        .route("/reports/{id}", get(reports::detail))
        .route(
            "/reports/{id}/edit",
            get(reports::edit_form).post(reports::update),
        )
        .route("/reports/{id}/stages", post(reports::add_stage))
        .route("/reports/{id}/sharing", post(reports::save_sharing))
        .route("/reports/{id}/forward", post(pages::forwarding::forward))
        .route("/reports/{id}/triage", get(triage::form).post(triage::save))
        .route("/reports/{id}/links", post(triage::link))
        .route("/reports/{id}/links/{other}/delete", post(triage::unlink))
        .route("/cases", get(cases::list))
        .route("/cases/preview", post(cases::preview))
        .route("/cases/{id}", get(cases::view))
        .route("/cases/{id}/edit", get(cases::edit_form).post(cases::save))
        .route("/cases/{id}/diagram.svg", get(cases::diagram))
        // Publication: review, sign-off, and the public portal (no login).
        .route("/cases/{id}/anonymise", get(publication::review))
        .route("/cases/{id}/anonymise/decisions", post(publication::decide))
        .route("/cases/{id}/anonymise/map", post(publication::save_map))
        .route("/cases/{id}/anonymised.svg", get(publication::preview_svg))
        .route(
            "/cases/{id}/signoff",
            get(publication::signoff).post(publication::answer),
        )
        .route(
            "/cases/{id}/signoff/action",
            post(publication::editor_action),
        )
        .route("/public", get(publication::index))
        .route("/public/report.css", get(publication::report_css))
        .route("/public/cases/{file}", get(publication::case))
        .route("/public/surveys/{file}", get(publication::survey))
        .route("/public/lessons", get(pages::lessons::public_themes))
        .route("/public/stats", get(pages::stats::public_page))
        .route("/public/lessons/{key}", get(pages::lessons::public_theme))
        .route("/surveys", get(cases::surveys))
        .route(
            "/surveys/new",
            get(pages::surveys::new_form).post(pages::surveys::create),
        )
        .route("/surveys/{year}", get(cases::survey))
        .route(
            "/surveys/{year}/edit",
            get(pages::surveys::edit_form).post(pages::surveys::save),
        )
        .route(
            "/surveys/{year}/lessons",
            get(pages::surveys::lessons_form).post(pages::surveys::lessons_save),
        )
        .route(
            "/surveys/{year}/cases/new",
            get(pages::surveys::new_case_form).post(pages::surveys::create_case),
        )
        .route(
            "/surveys/{year}/publish",
            get(pages::surveys::publish_page).post(pages::surveys::publish),
        )
        .route(
            "/surveys/{year}/replacement",
            post(pages::surveys::accept_replacement),
        )
        .route(
            "/surveys/{year}/selection/reopen",
            post(pages::surveys::reopen_selection),
        )
        .route(
            "/cases/{id}/cooperation",
            get(pages::surveys::cooperation_page).post(pages::surveys::cooperation_record),
        )
        .route(
            "/surveys/{year}/report/{format}",
            get(pages::annual_report::download),
        )
        // Selection.
        .route(
            "/surveys/{year}/selection",
            get(pages::selection::show).post(pages::selection::propose),
        )
        .route(
            "/surveys/{year}/selection/overrides",
            post(pages::selection::set_override),
        )
        .route(
            "/surveys/{year}/selection/overrides/delete",
            post(pages::selection::delete_override),
        )
        .route(
            "/surveys/{year}/selection/weights",
            post(pages::selection::set_weights),
        )
        .route(
            "/surveys/{year}/selection/confirm",
            post(pages::selection::confirm),
        )
        // Interviews with the operators of selected cases.
        .route("/interviews", get(pages::interviews::inbox))
        .route(
            "/cases/{id}/interviews",
            get(pages::interviews::case_page).post(pages::interviews::request),
        )
        .route("/interviews/{id}", get(pages::interviews::show))
        .route("/interviews/{id}/answer", post(pages::interviews::answer))
        .route("/interviews/{id}/request", post(pages::interviews::resend))
        .route(
            "/interviews/{id}/questions",
            post(pages::interviews::add_questions),
        )
        .route(
            "/interviews/{id}/answers",
            post(pages::interviews::save_answer),
        )
        .route("/interviews/{id}/consent", post(pages::interviews::consent))
        .route(
            "/interviews/{id}/minutes",
            get(pages::interviews::minutes_form).post(pages::interviews::minutes_save),
        )
        // The upload counts its own bytes against the configured limit as they arrive.
        .route(
            "/interviews/{id}/attachments",
            post(pages::interviews::upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/attachments/{id}", get(pages::interviews::download))
        .route(
            "/interviews/{id}/record.md",
            get(pages::interviews::record_md),
        )
        .route(
            "/interviews/{id}/record.pdf",
            get(pages::interviews::record_pdf),
        )
        .route(
            "/interview-templates",
            get(pages::interviews::templates_page),
        )
        .route(
            "/interview-templates/{category}",
            post(pages::interviews::template_save),
        )
        .route("/lessons", get(cases::lessons))
        .route("/lessons/themes", get(pages::lessons::themes))
        .route(
            "/lessons/themes/new",
            get(pages::lessons::new_form).post(pages::lessons::create),
        )
        .route("/lessons/themes/{key}", get(pages::lessons::theme))
        .route("/lessons/themes/{key}/csv", get(pages::lessons::theme_csv))
        .route(
            "/lessons/themes/{key}/xlsx",
            get(pages::lessons::theme_xlsx),
        )
        .route("/lessons/adoption", get(pages::adoption::figures))
        .route("/lessons/adoption/csv", get(pages::adoption::figures_csv))
        .route("/lessons/adoption/xlsx", get(pages::adoption::figures_xlsx))
        .route(
            "/orgs/{id}/assessment",
            get(pages::adoption::assessment).post(pages::adoption::answer),
        )
        .route("/orgs/{id}/assessment/{key}", get(pages::adoption::history))
        .route("/followups", get(pages::adoption::list))
        .route(
            "/cases/{id}/followups",
            get(pages::adoption::case_measures).post(pages::adoption::create),
        )
        .route(
            "/followups/{id}",
            get(pages::adoption::item).post(pages::adoption::update),
        )
        .route(
            "/lessons/themes/{key}/edit",
            get(pages::lessons::edit_form).post(pages::lessons::update),
        )
        .route(
            "/lessons/tag/{lesson}",
            get(pages::lessons::tag_form).post(pages::lessons::tag_save),
        )
        .route("/presence", post(cases::presence))
        // Search.
        .route("/search", get(pages::search::page))
        // Statistics.
        .route("/stats", get(pages::stats::page))
        .route("/stats/csv", get(pages::stats::csv))
        .route("/stats/xlsx", get(pages::stats::xlsx))
        .fallback(|| async { error::WebError::NotFound })
        // Fair limits: a signed-in user's form posts, inside the session layer.
        .layer(middleware::from_fn_with_state(
            st.clone(),
            limits::page_layer,
        ))
        // Accounts: a one-time password is replaced before anything else; inside
        // the session layer, which it reads.
        .layer(middleware::from_fn_with_state(
            st.clone(),
            pages::account::require_password_change,
        ))
        .layer(middleware::from_fn_with_state(st.clone(), session::layer));
    Ok(Router::new()
        .route("/healthz", get(|| async { "ok" }))
        // Metrics: loopback or the `[metrics] token` only, see metrics.rs.
        .route("/metrics", get(metrics::endpoint))
        .route("/static/{name}", get(asset))
        .nest("/api/v1", api_router)
        .merge(pages)
        // Security: only routes classified in `routes::route_table` answer.
        .route_layer(middleware::from_fn(routes::require_classified))
        .route_layer(middleware::from_fn(metrics::tag))
        .layer(middleware::from_fn_with_state(st.clone(), security::layer))
        .layer(middleware::from_fn_with_state(st.clone(), metrics::track))
        .with_state(st))
}

/// The application with default options.
pub fn router(app: App) -> Result<Router, String> {
    router_with(app, WebOptions::default())
}

/// Serves `app` with the default options until `shutdown` resolves.
pub async fn serve(
    app: App,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with_options(app, listener, shutdown, WebOptions::default()).await
}

impl WebOptions {
    /// The options the configuration sets: TLS and proxies (`[web]`), report-stage deadlines,
    /// PDF fonts, fair limits, metrics and warnings. The search index is the caller's to add.
    pub fn from_config(config: &kizuki_app::Config) -> WebOptions {
        WebOptions {
            secure_cookies: config.web.secure_cookies,
            // Behind TLS the cookie is Secure and the headers ask for HTTPS only.
            security: security::SecurityOptions {
                tls: config.web.secure_cookies,
                proxy: config.web.proxy.clone(),
            },
            deadlines: config.deadlines,
            pdf_fonts: config.pdf_fonts.clone(),
            max_attachment: config.max_attachment,
            audit_retention: config.audit,
            ops: metrics::OpsOptions::from_config(config),
            search: None,
        }
    }
}

/// Serves `app` with `opts` until `shutdown` resolves.
pub async fn serve_with_options(
    app: App,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    opts: WebOptions,
) -> std::io::Result<()> {
    let router = router_with(app, opts).map_err(std::io::Error::other)?;
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
