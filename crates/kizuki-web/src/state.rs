//! What every handler shares: the application services, the views, sessions and presence.

use crate::render::Views;
use kizuki_app::App;
use kizuki_app::presence::Presence;
use std::sync::Arc;

use crate::session::Sessions;

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
    pub openapi: Arc<String>,
    /// Security: login throttling, trusted proxies, response headers.
    pub security: crate::security::Security,
    /// Full-text search and similar cases; `None` when served without an index.
    pub search: Option<kizuki_search::SearchService>,
    /// Fair limits and metrics: the buckets, the bulk-import queue, the figures.
    pub limits: Arc<crate::limits::Limits>,
    pub imports: crate::api::imports::ImportQueue,
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl std::fmt::Debug for WebState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebState")
            .field("app", &self.app)
            .finish_non_exhaustive()
    }
}
