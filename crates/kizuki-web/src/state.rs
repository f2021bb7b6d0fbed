//! What every handler shares: the application services, the views, sessions and presence;
//! and the parts of it each middleware takes (`FromRef`), so that the middlewares and the
//! error pages depend on their own parts and not on the whole.

use crate::error_page::ErrorPages;
use crate::limits::Limits;
use crate::metrics::{Metrics, MetricsState};
use crate::render::Views;
use crate::security::Security;
use crate::session::SessionLayer;
use axum::extract::FromRef;
use kizuki_app::App;
use kizuki_app::presence::Presence;
use kizuki_app::reports::bulk::BulkQueue;
use kizuki_app::security::sessions::Sessions;
use std::sync::Arc;

#[derive(Clone)]
pub struct WebState {
    pub app: App,
    pub views: Arc<Views>,
    pub sessions: Arc<Sessions>,
    pub presence: Arc<Presence>,
    /// Report-stage deadlines as configured (`[deadlines]`).
    pub deadlines: kizuki_domain::deadlines::DeadlinePolicy,
    /// Set behind TLS so the session cookie is never sent in clear.
    pub secure_cookies: bool,
    /// Japanese font files for PDF downloads, tried before the usual locations.
    pub pdf_fonts: Arc<Vec<std::path::PathBuf>>,
    /// The largest interview attachment kept.
    pub max_attachment: kizuki_app::interviews::attachments::AttachmentLimit,
    /// How long audit entries are kept, for the audit page to say.
    pub audit_retention: kizuki_app::security::audit_log::AuditRetention,
    pub openapi: Arc<String>,
    /// Security: login throttling, trusted proxies, response headers.
    pub security: Security,
    /// Full-text search and similar cases; `None` when served without an index.
    pub search: Option<kizuki_search::SearchService>,
    /// Fair limits: the buckets per organisation, token and user.
    pub limits: Arc<Limits>,
    /// This node's bulk-filing queue.
    pub bulk: BulkQueue,
    /// The most reports one bulk request may carry.
    pub bulk_max_items: usize,
    pub metrics: Arc<Metrics>,
}

impl std::fmt::Debug for WebState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebState")
            .field("app", &self.app)
            .finish_non_exhaustive()
    }
}

impl FromRef<WebState> for App {
    fn from_ref(st: &WebState) -> App {
        st.app.clone()
    }
}

impl FromRef<WebState> for ErrorPages {
    fn from_ref(st: &WebState) -> ErrorPages {
        ErrorPages {
            views: st.views.clone(),
            app: st.app.clone(),
        }
    }
}

impl FromRef<WebState> for SessionLayer {
    fn from_ref(st: &WebState) -> SessionLayer {
        SessionLayer {
            sessions: st.sessions.clone(),
            pages: ErrorPages::from_ref(st),
            secure_cookies: st.secure_cookies,
        }
    }
}

impl FromRef<WebState> for Security {
    fn from_ref(st: &WebState) -> Security {
        st.security.clone()
    }
}

impl FromRef<WebState> for Arc<Limits> {
    fn from_ref(st: &WebState) -> Arc<Limits> {
        st.limits.clone()
    }
}

impl FromRef<WebState> for Arc<Metrics> {
    fn from_ref(st: &WebState) -> Arc<Metrics> {
        st.metrics.clone()
    }
}

impl FromRef<WebState> for MetricsState {
    fn from_ref(st: &WebState) -> MetricsState {
        MetricsState {
            app: st.app.clone(),
            metrics: st.metrics.clone(),
            limits: st.limits.clone(),
            bulk: st.bulk.clone(),
            search: st.search.clone(),
        }
    }
}
