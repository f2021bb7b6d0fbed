//! Error pages after the fact: a refusal answered with a bare status (by a handler, an
//! extractor or axum itself) gets the error page in the visitor's language on its way out.

use crate::error::ErrorPage;
use crate::render::Views;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use kizuki_app::App;
use kizuki_app::security::sessions::SessionData;
use std::sync::Arc;

/// What rendering an error page needs: the templates, and the app to read a signed-in
/// visitor's language.
#[derive(Clone)]
pub struct ErrorPages {
    pub views: Arc<Views>,
    pub app: App,
}

impl std::fmt::Debug for ErrorPages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ErrorPages").finish_non_exhaustive()
    }
}

/// Axum's own rejections on a page (a `Path`, `Query` or `Form` that cannot be read) answer
/// English text/plain; told apart by status and content type (never their text), they get
/// the error page in the visitor's language like every other refusal.
fn rejection_page(res: &Response) -> Option<ErrorPage> {
    let plain = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !plain {
        return None;
    }
    let code = match res.status() {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "validation",
        _ => return None,
    };
    Some(ErrorPage { code })
}

impl ErrorPages {
    /// Replaces the bare body of an error response with a page in the visitor's language.
    pub async fn render(&self, sess: &SessionData, res: Response) -> Response {
        let Some(info) = res
            .extensions()
            .get::<ErrorPage>()
            .cloned()
            .or_else(|| rejection_page(&res))
        else {
            return res;
        };
        let status = res.status();
        let mut headers = res.headers().clone();
        let lang = match sess.user {
            Some(u) => kizuki_app::auth::lang_of(&self.app, u, sess.lang).await,
            None => sess.lang,
        };
        // A signed-in visitor keeps the header they navigate with; an account that can no
        // longer be read (disabled meanwhile) gets the signed-out one.
        let user = match sess.user {
            Some(u) => kizuki_app::auth::principal(&self.app, u)
                .await
                .ok()
                .map(|p| crate::pages::user_json(&p)),
            None => None,
        };
        let ctx = serde_json::json!({
            "lang": lang.code(),
            "code": info.code,
            "status": status.as_u16(),
            "csrf": sess.csrf,
            "path": "/",
            "user": user,
            "flash": null,
        });
        match self.views.render("error.html", ctx) {
            Ok(html) => {
                headers.insert(
                    header::CONTENT_TYPE,
                    header::HeaderValue::from_static("text/html; charset=utf-8"),
                );
                headers.remove(header::CONTENT_LENGTH);
                let mut out = (status, html).into_response();
                out.headers_mut().extend(headers);
                out
            }
            Err(e) => {
                tracing::error!(error = %e, "error page failed to render");
                res
            }
        }
    }
}
