//! The error answers every operation can give, added to the OpenAPI document from what the
//! operation takes apart: what a handler's own logic refuses is in its annotation;
//! what the shared extractors refuse (token, rate limit, path, query, body) is derived here
//! from the operation's security, parameters and body, so the two cannot drift apart.

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{
    Content, HeaderBuilder, ObjectBuilder, OpenApi, Ref, RefOr, ResponseBuilder, Type,
};

/// Operations that read their body raw (`ApiBytes`) rather than as `ApiJson`: no content-type
/// check (415) and no typed shape (422); their own refusals are in their annotations.
const RAW_BODY_OPERATIONS: &[&str] = &["post_bulk"];

/// Adds, to every operation, the error statuses its extractors can answer, each with the
/// error schema (and `Retry-After` for 429). A status the annotation already lists keeps its
/// description, with the extractor's reason added.
pub fn add_error_answers(doc: &mut OpenApi) {
    for item in doc.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            for (status, why) in extractor_answers(op) {
                add(op, status, &why);
            }
        }
    }
}

/// What the operation's extractors can refuse, by status.
fn extractor_answers(op: &Operation) -> Vec<(u16, String)> {
    let mut out: Vec<(u16, String)> = Vec::new();
    let mut push = |status: u16, why: &str| out.push((status, why.to_owned()));
    if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
        // `ApiUser`: the token, the address allowlist, the fair limits.
        push(
            401,
            "No bearer token, or an unknown, expired or revoked one (`unauthenticated`)",
        );
        push(
            403,
            "The caller's organisation does not allow this address (`forbidden`)",
        );
        push(
            429,
            "The token's or organisation's rate limit (`rate_limited`); see Retry-After",
        );
    }
    let has = |place: ParameterIn| {
        op.parameters.iter().flatten().any(|p| match p {
            RefOr::T(p) => p.parameter_in == place,
            RefOr::Ref(_) => false,
        })
    };
    if has(ParameterIn::Path) {
        push(
            400,
            "A path parameter is not of its type (`invalid_path`, naming it)",
        );
    }
    if has(ParameterIn::Query) {
        push(
            400,
            "A query parameter cannot be read (`invalid_query`, naming it)",
        );
    }
    if has(ParameterIn::Header) {
        // The only header parameter the API takes is `If-Match`, checked by the handler.
        push(400, "If-Match cannot be read as an ETag (`bad_request`)");
    }
    if op.request_body.is_some() {
        push(
            400,
            "The body is not JSON (`malformed_json`, with line and column)",
        );
        push(
            413,
            &format!(
                "The body is larger than {} bytes (`payload_too_large`)",
                super::extract::BODY_LIMIT
            ),
        );
        let raw = op
            .operation_id
            .as_deref()
            .is_some_and(|id| RAW_BODY_OPERATIONS.contains(&id));
        if !raw {
            push(
                415,
                "The body is not sent as application/json (`unsupported_media_type`)",
            );
            push(
                422,
                "The body's JSON is not of this shape (`validation`, naming the field)",
            );
        }
    }
    out
}

fn add(op: &mut Operation, status: u16, why: &str) {
    let responses = &mut op.responses.responses;
    match responses.get_mut(&status.to_string()) {
        Some(RefOr::T(r)) => {
            if !r.description.contains(why) {
                r.description = format!("{}; or: {why}", r.description);
            }
        }
        Some(RefOr::Ref(_)) => {}
        None => {
            let mut b = ResponseBuilder::new().description(why).content(
                "application/json",
                Content::new(Some(Ref::from_schema_name("ApiErrorBody"))),
            );
            if status == 429 {
                b = b.header(
                    "Retry-After",
                    HeaderBuilder::new()
                        .schema(Some(ObjectBuilder::new().schema_type(Type::Integer)))
                        .description(Some("Seconds to wait before trying again"))
                        .build(),
                );
            }
            responses.insert(status.to_string(), b.build().into());
        }
    }
}
