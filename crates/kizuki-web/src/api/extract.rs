//! The API's extractors: axum's `Query`, `Path`, `Json` and `Bytes`, wrapped so that every
//! rejection answers the API's error shape (`{code, message_ja, message_en, fields}`) naming
//! the part of the request it concerns, instead of axum's English text/plain. The one
//! rejection type, [`Rejection`], is built from axum's typed rejections (never from their
//! text) and mapped to HTTP in one place, `crate::error`.

use crate::error::{ApiError, FieldProblem, WebError};
use crate::i18n;
use axum::Json;
use axum::body::Bytes;
use axum::extract::path::ErrorKind;
use axum::extract::rejection::{
    BytesRejection, FailedToBufferBody, JsonRejection, PathRejection, QueryRejection,
};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, RawPathParams, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use kizuki_domain::taxonomy::Lang;
use serde::de::DeserializeOwned;
use std::error::Error as StdError;

/// The largest request body the API reads; larger ones are refused 413 before they are
/// buffered. The same as the bulk import's limit, which is the largest body any route needs.
pub const BODY_LIMIT: usize = super::imports::MAX_BODY;

/// Why a request could not be taken apart, with what names the part at fault.
#[derive(Debug)]
pub enum Rejection {
    /// The query string did not fit the operation's parameters; `param` when the parameter
    /// is known (a missing or unknown one is only named in `detail`).
    Query {
        param: Option<String>,
        detail: String,
    },
    /// A path segment did not parse as its parameter's type.
    Path {
        param: Option<String>,
        value: Option<String>,
        expected: Option<&'static str>,
        detail: String,
    },
    /// The body is not JSON; line and column are 1-based, 0 when unknown.
    JsonSyntax {
        line: usize,
        column: usize,
        detail: String,
    },
    /// The body is JSON but not of the operation's shape (a wrong type, a missing or unknown
    /// field); `field` is the path inside the body (`rules.count`, `[3].title`).
    JsonData {
        field: Option<String>,
        line: usize,
        column: usize,
        detail: String,
    },
    /// A JSON body without `Content-Type: application/json`.
    JsonContentType,
    /// The body is longer than [`BODY_LIMIT`].
    TooLarge,
    /// The body could not be read (the connection broke off mid-body).
    BodyUnreadable { detail: String },
    /// The path exists, not with this method.
    MethodNotAllowed { allowed: Vec<&'static str> },
}

impl Rejection {
    /// The HTTP status and the stable machine code (also the catalogue key `errors.<code>`).
    pub fn status_code(&self) -> (StatusCode, &'static str) {
        match self {
            Rejection::Query { .. } => (StatusCode::BAD_REQUEST, "invalid_query"),
            Rejection::Path { .. } => (StatusCode::BAD_REQUEST, "invalid_path"),
            Rejection::JsonSyntax { .. } => (StatusCode::BAD_REQUEST, "malformed_json"),
            // The same answer as a body whose values the domain refuses: 422, field by field.
            Rejection::JsonData { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "validation"),
            Rejection::JsonContentType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Rejection::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Rejection::BodyUnreadable { .. } => (StatusCode::BAD_REQUEST, "bad_request"),
            Rejection::MethodNotAllowed { .. } => {
                (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
            }
        }
    }

    /// The message naming the part at fault, in one language.
    pub fn message(&self, lang: Lang) -> String {
        let cat = i18n::catalogue();
        let f = |key: &str, args: &[(&str, String)]| cat.fmt(lang, key, args);
        match self {
            Rejection::Query {
                param: Some(p),
                detail,
            } => f(
                "errors.invalid_query_param",
                &[("name", p.clone()), ("detail", detail.clone())],
            ),
            Rejection::Query {
                param: None,
                detail,
            } => f("errors.invalid_query_detail", &[("detail", detail.clone())]),
            Rejection::Path {
                param,
                value,
                expected,
                detail,
            } => f(
                "errors.invalid_path_param",
                &[
                    ("name", param.clone().unwrap_or_else(|| "?".into())),
                    ("value", value.clone().unwrap_or_default()),
                    ("expected", expected_words(*expected, lang)),
                    ("detail", detail.clone()),
                ],
            ),
            Rejection::JsonSyntax {
                line,
                column,
                detail,
            } => f(
                "errors.malformed_json_at",
                &[
                    ("line", line.to_string()),
                    ("column", column.to_string()),
                    ("detail", detail.clone()),
                ],
            ),
            Rejection::JsonData { .. } => cat.get(lang, "errors.validation").to_owned(),
            Rejection::JsonContentType => cat.get(lang, "errors.unsupported_media_type").into(),
            Rejection::TooLarge => f(
                "errors.payload_too_large_limit",
                &[("limit", BODY_LIMIT.to_string())],
            ),
            Rejection::BodyUnreadable { detail } => {
                f("errors.body_unreadable", &[("detail", detail.clone())])
            }
            Rejection::MethodNotAllowed { allowed } => f(
                "errors.method_not_allowed_allow",
                &[("allowed", allowed.join(", "))],
            ),
        }
    }

    /// The field a JSON data error concerns, as a validation error names its field.
    pub fn fields(&self) -> Vec<FieldProblem> {
        let Rejection::JsonData {
            field,
            line,
            column,
            detail,
        } = self
        else {
            return Vec::new();
        };
        let cat = i18n::catalogue();
        let args = [
            ("field", field.clone().unwrap_or_else(|| "body".into())),
            ("line", line.to_string()),
            ("column", column.to_string()),
            ("detail", detail.clone()),
        ];
        vec![FieldProblem {
            field: field.clone().unwrap_or_else(|| "body".into()),
            message_ja: cat.fmt(Lang::Ja, "errors.json_field", &args),
            message_en: cat.fmt(Lang::En, "errors.json_field", &args),
        }]
    }
}

/// A parameter's Rust type in words (`i64` → 整数 / an integer).
fn expected_words(expected: Option<&'static str>, lang: Lang) -> String {
    let integer = expected.is_some_and(|t| {
        matches!(
            t,
            "i8" | "i16" | "i32" | "i64" | "i128" | "u8" | "u16" | "u32" | "u64" | "u128"
        )
    });
    let key = if integer {
        "errors.expected_integer"
    } else {
        "errors.expected_value"
    };
    i18n::catalogue().get(lang, key).to_owned()
}

impl From<Rejection> for ApiError {
    fn from(r: Rejection) -> Self {
        ApiError(WebError::Rejected(r))
    }
}

/// The `serde_path_to_error` error axum wraps in a query or JSON rejection, found through
/// the rejection's source chain (axum keeps it as the boxed cause).
fn path_error<'a, E: StdError + 'static>(
    e: &'a (dyn StdError + 'static),
) -> Option<&'a serde_path_to_error::Error<E>> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(found) = err.downcast_ref::<serde_path_to_error::Error<E>>() {
            return Some(found);
        }
        cur = err.source();
    }
    None
}

/// The path of a `serde_path_to_error` error, `None` when it is the whole value.
fn field_path(p: &serde_path_to_error::Path) -> Option<String> {
    let s = p.to_string();
    (s != "." && !s.is_empty()).then_some(s)
}

impl From<QueryRejection> for Rejection {
    fn from(r: QueryRejection) -> Self {
        match &r {
            QueryRejection::FailedToDeserializeQueryString(e) => {
                match path_error::<serde::de::value::Error>(e) {
                    Some(pe) => Rejection::Query {
                        param: field_path(pe.path()),
                        detail: pe.inner().to_string(),
                    },
                    None => Rejection::Query {
                        param: None,
                        detail: e.to_string(),
                    },
                }
            }
            // The enum is non-exhaustive: a kind axum adds later still answers the shape.
            _ => Rejection::Query {
                param: None,
                detail: r.body_text(),
            },
        }
    }
}

impl From<JsonRejection> for Rejection {
    fn from(r: JsonRejection) -> Self {
        match &r {
            JsonRejection::JsonDataError(e) => match path_error::<serde_json::Error>(e) {
                Some(pe) => Rejection::JsonData {
                    field: field_path(pe.path()),
                    line: pe.inner().line(),
                    column: pe.inner().column(),
                    detail: pe.inner().to_string(),
                },
                None => Rejection::JsonData {
                    field: None,
                    line: 0,
                    column: 0,
                    detail: e.to_string(),
                },
            },
            JsonRejection::JsonSyntaxError(e) => {
                // Inside a value the cause is wrapped with its path; trailing characters
                // after the value are serde_json's own error.
                let inner = path_error::<serde_json::Error>(e)
                    .map(serde_path_to_error::Error::inner)
                    .or_else(|| json_error(e));
                match inner {
                    Some(je) => Rejection::JsonSyntax {
                        line: je.line(),
                        column: je.column(),
                        detail: je.to_string(),
                    },
                    None => Rejection::JsonSyntax {
                        line: 0,
                        column: 0,
                        detail: e.to_string(),
                    },
                }
            }
            JsonRejection::MissingJsonContentType(_) => Rejection::JsonContentType,
            JsonRejection::BytesRejection(b) => bytes_rejection(b),
            _ => Rejection::BodyUnreadable {
                detail: r.body_text(),
            },
        }
    }
}

/// A bare `serde_json::Error` in a rejection's source chain.
fn json_error<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a serde_json::Error> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(found) = err.downcast_ref::<serde_json::Error>() {
            return Some(found);
        }
        cur = err.source();
    }
    None
}

fn bytes_rejection(r: &BytesRejection) -> Rejection {
    match r {
        BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => {
            Rejection::TooLarge
        }
        other => Rejection::BodyUnreadable {
            detail: other.body_text(),
        },
    }
}

impl From<BytesRejection> for Rejection {
    fn from(r: BytesRejection) -> Self {
        bytes_rejection(&r)
    }
}

/// A path rejection; `names` are the route's parameter names, to name the one at fault when
/// axum parsed a lone parameter without its key.
fn path_rejection(r: &PathRejection, names: &[String]) -> Result<Rejection, WebError> {
    let PathRejection::FailedToDeserializePathParams(e) = r else {
        // MissingPathParams: a handler on a route without parameters, the server's fault.
        return Err(WebError::Internal(format!("path: {}", r.body_text())));
    };
    let lone = || (names.len() == 1).then(|| names[0].clone());
    let detail = e.kind().to_string();
    Ok(match e.kind() {
        ErrorKind::ParseErrorAtKey {
            key,
            value,
            expected_type,
        } => Rejection::Path {
            param: Some(key.clone()),
            value: Some(value.clone()),
            expected: Some(expected_type),
            detail,
        },
        ErrorKind::ParseErrorAtIndex {
            index,
            value,
            expected_type,
        } => Rejection::Path {
            param: names.get(*index).cloned(),
            value: Some(value.clone()),
            expected: Some(expected_type),
            detail,
        },
        ErrorKind::ParseError {
            value,
            expected_type,
        } => Rejection::Path {
            param: lone(),
            value: Some(value.clone()),
            expected: Some(expected_type),
            detail,
        },
        ErrorKind::InvalidUtf8InPathParam { key } => Rejection::Path {
            param: Some(key.clone()),
            value: None,
            expected: None,
            detail,
        },
        ErrorKind::DeserializeError { key, value, .. } => Rejection::Path {
            param: Some(key.clone()),
            value: Some(value.clone()),
            expected: None,
            detail,
        },
        // A handler whose parameter types do not fit its route: the server's fault.
        ErrorKind::WrongNumberOfParameters { .. } | ErrorKind::UnsupportedType { .. } => {
            return Err(WebError::Internal(format!("path: {detail}")));
        }
        _ => Rejection::Path {
            param: lone(),
            value: None,
            expected: None,
            detail,
        },
    })
}

/// `Query<T>` answering the API's error shape.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(v)) => Ok(ApiQuery(v)),
            Err(r) => Err(Rejection::from(r).into()),
        }
    }
}

/// `Path<T>` answering the API's error shape.
#[derive(Debug, Clone)]
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => Ok(ApiPath(v)),
            Err(r) => {
                let names: Vec<String> = RawPathParams::from_request_parts(parts, state)
                    .await
                    .map(|raw| raw.iter().map(|(k, _)| k.to_owned()).collect())
                    .unwrap_or_default();
                Err(match path_rejection(&r, &names) {
                    Ok(rej) => rej.into(),
                    Err(e) => ApiError(e),
                })
            }
        }
    }
}

/// `Json<T>` answering the API's error shape.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(r) => Err(Rejection::from(r).into()),
        }
    }
}

/// The raw body (`Bytes`) answering the API's error shape.
#[derive(Debug, Clone)]
pub struct ApiBytes(pub Bytes);

impl<S> FromRequest<S> for ApiBytes
where
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Bytes::from_request(req, state).await {
            Ok(b) => Ok(ApiBytes(b)),
            Err(r) => Err(Rejection::from(r).into()),
        }
    }
}
