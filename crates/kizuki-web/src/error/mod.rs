//! The web layer's one error type and its one mapping to HTTP. Pages and the API share the
//! mapping (status and stable code); pages get an HTML page in the visitor's language, the
//! API a JSON body `{code, message_ja, message_en, fields}`, also for the requests its
//! extractors cannot take apart (`api::extract`). Server errors say nothing about their
//! cause to the client; the cause goes to the log.

pub mod rejection;

pub use rejection::Rejection;

use crate::i18n;
use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use kizuki_app::AppError;
use kizuki_domain::ValidationErrors;
use kizuki_domain::taxonomy::Lang;
use kizuki_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug)]
pub enum WebError {
    App(AppError),
    /// A page needs a signed-in user.
    NeedLogin {
        next: String,
    },
    Csrf,
    NotFound,
    BadRequest(String),
    /// A body over a limit the handler counts itself (an attachment); says which limit.
    TooLarge(String),
    /// An API update came without `If-Match`.
    PreconditionRequired,
    /// An API update's `If-Match` named an old version.
    PreconditionFailed {
        current: i64,
    },
    Internal(String),
    /// Fair limits: a bucket is empty (`rate_limited`) or the bulk queue is full
    /// (`queue_full`); answered 429 with `Retry-After`.
    TooManyRequests {
        code: &'static str,
        retry_after_secs: u64,
    },
    /// A request the API's extractors could not take apart (axum's rejections in the API's
    /// error shape, naming the part at fault).
    Rejected(Rejection),
}

impl std::fmt::Display for WebError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WebError::App(e) => write!(f, "{e}"),
            WebError::NeedLogin { .. } => f.write_str("sign-in required"),
            WebError::Csrf => f.write_str("CSRF token missing or wrong"),
            WebError::NotFound => f.write_str("not found"),
            WebError::BadRequest(m) => write!(f, "bad request: {m}"),
            WebError::TooLarge(m) => write!(f, "too large: {m}"),
            WebError::PreconditionRequired => f.write_str("If-Match required"),
            WebError::PreconditionFailed { current } => {
                write!(f, "stale If-Match; current version {current}")
            }
            WebError::Internal(m) => write!(f, "internal: {m}"),
            WebError::TooManyRequests {
                code,
                retry_after_secs,
            } => write!(f, "{code}; retry after {retry_after_secs} s"),
            WebError::Rejected(r) => write!(f, "rejected: {r:?}"),
        }
    }
}

impl std::error::Error for WebError {}

impl From<AppError> for WebError {
    fn from(e: AppError) -> Self {
        WebError::App(e)
    }
}

impl From<StoreError> for WebError {
    fn from(e: StoreError) -> Self {
        WebError::App(AppError::Store(e))
    }
}

impl From<ValidationErrors> for WebError {
    fn from(e: ValidationErrors) -> Self {
        WebError::App(AppError::Validation(e))
    }
}

impl From<kizuki_domain::FieldError> for WebError {
    fn from(e: kizuki_domain::FieldError) -> Self {
        WebError::App(AppError::Validation(e.into()))
    }
}

impl WebError {
    /// The HTTP status and the stable machine code; the code also names the message in the
    /// catalogues (`errors.<code>`).
    pub fn status_code(&self) -> (StatusCode, &'static str) {
        match self {
            WebError::App(e) => match e {
                AppError::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation"),
                AppError::Store(StoreError::NotFound { .. }) => {
                    (StatusCode::NOT_FOUND, "not_found")
                }
                AppError::Store(StoreError::Conflict { .. }) => (StatusCode::CONFLICT, "conflict"),
                AppError::Store(StoreError::Duplicate { .. }) => {
                    (StatusCode::CONFLICT, "duplicate")
                }
                AppError::Store(StoreError::Invalid(_)) | AppError::Refused(_) => {
                    (StatusCode::BAD_REQUEST, "bad_request")
                }
                AppError::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
                AppError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
                AppError::Store(StoreError::Backend(_))
                | AppError::Dataset(_)
                | AppError::Io { .. }
                | AppError::Sealing(_)
                | AppError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            },
            WebError::NeedLogin { .. } => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            WebError::Csrf => (StatusCode::FORBIDDEN, "csrf"),
            WebError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            WebError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            WebError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            WebError::PreconditionRequired => {
                (StatusCode::PRECONDITION_REQUIRED, "precondition_required")
            }
            WebError::PreconditionFailed { .. } => {
                (StatusCode::PRECONDITION_FAILED, "precondition_failed")
            }
            WebError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            WebError::TooManyRequests { code, .. } => (StatusCode::TOO_MANY_REQUESTS, code),
            WebError::Rejected(r) => r.status_code(),
        }
    }

    /// The `Retry-After` header a refusal carries.
    fn retry_after(&self) -> Option<header::HeaderValue> {
        match self {
            WebError::TooManyRequests {
                retry_after_secs, ..
            } => Some(header::HeaderValue::from(*retry_after_secs)),
            _ => None,
        }
    }

    fn log_if_server_error(&self) {
        if self.status_code().0.is_server_error() {
            // Debug carries the whole chain, down to the backend's own error.
            tracing::error!(error = %self, detail = ?self, "request failed");
        }
    }

    pub fn validation(&self) -> Option<&ValidationErrors> {
        match self {
            WebError::App(AppError::Validation(v)) => Some(v),
            _ => None,
        }
    }
}

/// What the session layer needs to render an error page after the fact.
#[derive(Debug, Clone)]
pub struct ErrorPage {
    pub code: &'static str,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        self.log_if_server_error();
        if let WebError::NeedLogin { next } = &self {
            let q: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("next", next)
                .finish();
            return Redirect::to(&format!("/login?{q}")).into_response();
        }
        let (status, code) = self.status_code();
        let mut res = (status, code).into_response();
        if let Some(v) = self.retry_after() {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        res.extensions_mut().insert(ErrorPage { code });
        res
    }
}

/// One field's problem in an API error.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldProblem {
    pub field: String,
    pub message_ja: String,
    pub message_en: String,
}

/// The API's error body; `code` is stable, the messages are for people.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiErrorBody {
    pub code: String,
    pub message_ja: String,
    pub message_en: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldProblem>,
    /// With `precondition_failed`: the version the record is at now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<i64>,
}

/// The same errors for the JSON API.
#[derive(Debug)]
pub struct ApiError(pub WebError);

impl<E: Into<WebError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        e.log_if_server_error();
        let (status, code) = match &e {
            WebError::NeedLogin { .. } => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            other => other.status_code(),
        };
        let cat = i18n::catalogue();
        let key = format!("errors.{code}");
        if let WebError::Rejected(r) = &e {
            return rejected(status, code, r);
        }
        let fields = e
            .validation()
            .map(|v| {
                v.iter()
                    .map(|f| FieldProblem {
                        field: f.field.clone(),
                        message_ja: i18n::pick(&f.message_ja(), Lang::Ja).to_owned(),
                        message_en: i18n::pick(&f.message_en(), Lang::En).to_owned(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let current_version = match &e {
            WebError::PreconditionFailed { current } => Some(*current),
            _ => None,
        };
        let (mut message_ja, mut message_en) = (
            cat.get(Lang::Ja, &key).to_owned(),
            cat.get(Lang::En, &key).to_owned(),
        );
        // A 400 says what was wrong (If-Match, the bulk body); the text is the API's own.
        if let WebError::BadRequest(detail) | WebError::TooLarge(detail) = &e {
            message_ja = format!("{message_ja}（{detail}）");
            message_en = format!("{message_en}: {detail}");
        }
        let body = ApiErrorBody {
            code: code.to_owned(),
            message_ja,
            message_en,
            fields,
            current_version,
        };
        let mut res = (status, Json(body)).into_response();
        if let Some(v) = e.retry_after() {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if status == StatusCode::UNAUTHORIZED
            && let Ok(v) = header::HeaderValue::from_str("Bearer realm=\"kizuki\"")
        {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        res
    }
}

/// A rejection's answer: its own messages naming the part at fault, and for 405 `Allow`.
fn rejected(status: StatusCode, code: &str, r: &Rejection) -> Response {
    let body = ApiErrorBody {
        code: code.to_owned(),
        message_ja: r.message(Lang::Ja),
        message_en: r.message(Lang::En),
        fields: r.fields(),
        current_version: None,
    };
    let mut res = (status, Json(body)).into_response();
    if let Rejection::MethodNotAllowed { allowed } = r
        && let Ok(v) = header::HeaderValue::from_str(&allowed.join(", "))
    {
        res.headers_mut().insert(header::ALLOW, v);
    }
    res
}

/// Refusals made before the session layer runs: a forged or malformed
/// `X-Forwarded-For` (`security::layer`) and a path that exists without the request's method
/// (`routes::require_classified`). The API answers its error shape; a page gets a short page
/// in both languages, Japanese first, because without a session there is no visitor's
/// language to choose (and no session is started for a request refused this early).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EarlyRefusal {
    /// An `X-Forwarded-For` hop from a trusted proxy that is not an address.
    ForwardedFor { entry: String },
    /// The path exists, not with this method; `allowed` goes to `Allow`.
    MethodNotAllowed { allowed: Vec<&'static str> },
}

/// How much of a refused `X-Forwarded-For` entry is echoed back: enough to recognise it, not
/// a whole forged header.
const ECHO_CHARS: usize = 64;

impl EarlyRefusal {
    /// The HTTP status and the stable machine code (also the catalogue key `errors.<code>`).
    pub fn status_code(&self) -> (StatusCode, &'static str) {
        match self {
            EarlyRefusal::ForwardedFor { .. } => (StatusCode::BAD_REQUEST, "bad_forwarded_for"),
            EarlyRefusal::MethodNotAllowed { .. } => {
                (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
            }
        }
    }

    /// The message naming what was wrong, in one language.
    pub fn message(&self, lang: Lang) -> String {
        let cat = i18n::catalogue();
        match self {
            EarlyRefusal::ForwardedFor { entry } => {
                let mut shown: String = entry.chars().take(ECHO_CHARS).collect();
                if entry.chars().count() > ECHO_CHARS {
                    shown.push('…');
                }
                cat.fmt(lang, "errors.bad_forwarded_for_entry", &[("entry", shown)])
            }
            EarlyRefusal::MethodNotAllowed { allowed } => cat.fmt(
                lang,
                "errors.method_not_allowed_allow",
                &[("allowed", allowed.join(", "))],
            ),
        }
    }

    /// The answer: the API's error shape under `/api/`, the bilingual page elsewhere.
    pub fn response(self, api: bool) -> Response {
        let (status, code) = self.status_code();
        let mut res = if api {
            match &self {
                // The API's 405 already has its rejection; one mapping, not two.
                EarlyRefusal::MethodNotAllowed { allowed } => {
                    return ApiError::from(WebError::Rejected(Rejection::MethodNotAllowed {
                        allowed: allowed.clone(),
                    }))
                    .into_response();
                }
                EarlyRefusal::ForwardedFor { .. } => {
                    let body = ApiErrorBody {
                        code: code.to_owned(),
                        message_ja: self.message(Lang::Ja),
                        message_en: self.message(Lang::En),
                        fields: Vec::new(),
                        current_version: None,
                    };
                    (status, Json(body)).into_response()
                }
            }
        } else {
            let html = self.page(code);
            (
                status,
                [(
                    header::CONTENT_TYPE,
                    header::HeaderValue::from_static("text/html; charset=utf-8"),
                )],
                html,
            )
                .into_response()
        };
        if let EarlyRefusal::MethodNotAllowed { allowed } = &self
            && let Ok(v) = header::HeaderValue::from_str(&allowed.join(", "))
        {
            res.headers_mut().insert(header::ALLOW, v);
        }
        res
    }

    /// A short page, Japanese first and English beside, from the catalogues only (no
    /// templates: they expect a session's context).
    fn page(&self, code: &str) -> String {
        let cat = i18n::catalogue();
        let section = |lang: Lang| {
            format!(
                "<section lang=\"{l}\"><h1>{title}</h1><p>{msg}</p><p>{hint}</p>\
                 <p><a href=\"/\">{home}</a></p></section>",
                l = lang.code(),
                title = kizuki_domain::text::escape_html(cat.get(lang, &format!("errors.{code}"))),
                msg = kizuki_domain::text::escape_html(&self.message(lang)),
                hint =
                    kizuki_domain::text::escape_html(cat.get(lang, &format!("errors.hint_{code}"))),
                home = kizuki_domain::text::escape_html(cat.get(lang, "errors.home")),
            )
        };
        format!(
            "<!doctype html>\n<html lang=\"ja\"><head><meta charset=\"utf-8\">\
             <title>{status} {title}</title>\
             <link rel=\"stylesheet\" href=\"/static/style.css\"></head>\
             <body><main>{ja}{en}</main></body></html>\n",
            status = self.status_code().0.as_u16(),
            title = kizuki_domain::text::escape_html(cat.get(Lang::Ja, &format!("errors.{code}"))),
            ja = section(Lang::Ja),
            en = section(Lang::En),
        )
    }
}
