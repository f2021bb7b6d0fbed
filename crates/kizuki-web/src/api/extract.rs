//! The API's extractors: axum's `Query`, `Path`, `Json` and `Bytes`, wrapped so that every
//! rejection answers the API's error shape (`{code, message_ja, message_en, fields}`) naming
//! the part of the request it concerns, instead of axum's English text/plain. The one
//! rejection type, [`Rejection`], is built from axum's typed rejections (never from their
//! text) and mapped to HTTP in one place, `crate::error`.

use crate::error::{ApiError, WebError};
use axum::Json;
use axum::body::Bytes;
use axum::extract::path::ErrorKind;
use axum::extract::rejection::{
    BytesRejection, FailedToBufferBody, JsonRejection, PathRejection, QueryRejection,
};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, RawPathParams, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use std::error::Error as StdError;

pub use crate::error::Rejection;
pub use crate::error::rejection::BODY_LIMIT;

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
