//! The web server. For now a read-only page listing the surveys and their cases, so that
//! `cargo run --release` shows the 2019 survey; the full application replaces it.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use kizuki_app::App;
use kizuki_domain::case::SECTION_HEADINGS;
use kizuki_domain::taxonomy::{Lang, Vocabulary};
use std::net::SocketAddr;

pub fn router(app: App) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(app)
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    app: App,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(app).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn home(State(app): State<App>) -> Response {
    match home_page(&app).await {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "home page failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

async fn home_page(app: &App) -> Result<String, kizuki_store::StoreError> {
    let mut body = String::new();
    for s in app.store.list_surveys().await? {
        let fy = s.content.fiscal_year;
        body.push_str(&format!(
            "<h2>{} <small>{}</small></h2><ol>",
            esc(&s.content.title),
            esc(&fy.wareki_label())
        ));
        for c in app.store.list_cases(Some(fy.year())).await? {
            let cat = app.taxonomy.label(
                Vocabulary::CaseCategory,
                c.content.category.as_str(),
                Lang::Ja,
            );
            body.push_str(&format!(
                "<li value=\"{}\"><strong>{}</strong> <span>{}</span></li>",
                c.content.number,
                esc(&c.content.title),
                esc(cat)
            ));
        }
        body.push_str("</ol>");
    }
    if body.is_empty() {
        body.push_str("<p>調査はまだありません。</p>");
    }
    let sections: Vec<&str> = SECTION_HEADINGS.iter().map(|(ja, _)| *ja).collect();
    Ok(format!(
        "<!doctype html><html lang=\"ja\"><head><meta charset=\"utf-8\"><title>kizuki</title></head>\
         <body><h1>kizuki 気付き</h1>{body}<p>各事例: {}</p></body></html>",
        esc(&sections.join("・"))
    ))
}
