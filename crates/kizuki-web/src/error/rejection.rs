//! Why a request could not be taken apart (axum's rejections in the API's error shape): the
//! status, the stable code and messages that name the part at fault.

use super::{ApiError, FieldProblem, WebError};
use crate::i18n;
use axum::http::StatusCode;
use kizuki_domain::taxonomy::Lang;

/// The largest request body the API reads; larger ones are refused 413 before they are
/// buffered. The bulk import's body is the largest any route needs.
pub const BODY_LIMIT: usize = 2 * 1024 * 1024;

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
