//! The directory over the API: forwarding a CLEAR/GREEN report and the forwards one may see
//! (`/reports/{id}/forwards`, `/forwarded`), an organisation's points of contact
//! (`/orgs/{id}/contacts`, `/contacts`), and disabling an organisation (`/orgs/{id}/active`).
//! Access is decided before a body is read, so a caller who may not act learns nothing from
//! the shape of what it sent.

use super::extract::{ApiJson, ApiPath};
use super::{ApiUser, json_body, stale_to_412};
use crate::error::{ApiError, ApiErrorBody};
use crate::state::WebState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kizuki_app::{directory as dir, reports};
use kizuki_domain::ids::{OrgId, ReportId};
use kizuki_domain::org::ContactInput;
use serde::Deserialize;
use utoipa::ToSchema;

#[utoipa::path(
    get, path = "/reports/{id}/forwards", tag = "reports",
    params(("id" = i64, Path, description = "Report id")),
    responses(
        (status = 200, description = "`forwards` the caller may see (all at the centre, its own sent or received otherwise); `can_forward` and the `targets` it may forward to", body = Object),
        (status = 404, description = "No such report, or not visible to the caller", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_forwards(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    let r = reports::get(&st.app, &p, ReportId(id)).await?;
    let v = reports::forwarding::view(&st.app, &p, &r).await?;
    Ok((StatusCode::OK, Json(v)).into_response())
}

/// A forward: the organisations and a note.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForwardDto {
    /// Organisation ids: operators of the sectors the ministry oversees (any operator for the
    /// centre), not the report's own.
    #[serde(default)]
    pub to: Vec<i64>,
    /// Up to 1,000 characters.
    #[serde(default)]
    pub note: String,
}

#[utoipa::path(
    post, path = "/reports/{id}/forwards", tag = "reports",
    params(("id" = i64, Path, description = "Report id")),
    request_body = ForwardDto,
    responses(
        (status = 201, description = "Forwarded and recorded; the forwards made", body = Object),
        (status = 403, description = "Not a CLEAR/GREEN report, or the caller is neither a ministry nor the centre's content staff", body = ApiErrorBody),
        (status = 404, description = "No such report, or not visible to the caller", body = ApiErrorBody),
        (status = 422, description = "No organisation (`to`), one it cannot go to (`to[i]`), or a note too long (`note`)", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn forward(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
    body: Result<ApiJson<ForwardDto>, ApiError>,
) -> Result<Response, ApiError> {
    reports::forwarding::check(&st.app, &p, ReportId(id)).await?;
    let b = json_body(body)?;
    let to: Vec<OrgId> = b.to.into_iter().map(OrgId).collect();
    let saved = reports::forwarding::forward(&st.app, &p, ReportId(id), &to, &b.note).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"forwards": saved})),
    )
        .into_response())
}

#[utoipa::path(
    get, path = "/forwarded", tag = "reports",
    responses(
        (status = 200, description = "Reports forwarded to the caller's organisation, newest first, leaving out those it can no longer read", body = Object),
    ),
    security(("bearer" = []))
)]
pub async fn forwarded(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
) -> Result<Response, ApiError> {
    let rows = reports::forwarding::inbox(&st.app, &p).await?;
    Ok((StatusCode::OK, Json(serde_json::json!({"forwarded": rows}))).into_response())
}

#[utoipa::path(
    get, path = "/contacts", tag = "directory",
    responses(
        (status = 200, description = "Every enabled organisation whose contacts the caller may read, with counts and the oldest confirmation", body = Object),
    ),
    security(("bearer" = []))
)]
pub async fn contact_books(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
) -> Result<Response, ApiError> {
    let books = dir::contact_books(&st.app, &p).await?;
    Ok((
        StatusCode::OK,
        Json(serde_json::json!({"organisations": books})),
    )
        .into_response())
}

#[utoipa::path(
    get, path = "/orgs/{id}/contacts", tag = "directory",
    params(("id" = i64, Path, description = "Organisation id")),
    responses(
        (status = 200, description = "The organisation's points of contact, `version` and `can_edit`", body = Object),
        (status = 404, description = "No such organisation, or its contacts are not the caller's to read", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_contacts(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    let v = dir::contacts(&st.app, &p, Some(OrgId(id))).await?;
    Ok((StatusCode::OK, Json(v)).into_response())
}

/// The whole list of contacts, against the `version` read.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactsDto {
    pub version: i64,
    /// Each with `role`, `name`, `hours` (`around_the_clock` or `office_hours`), `phone`
    /// and/or `email`, `deputy`, `decides`, `confirmed_on` (a date; today when left out).
    #[schema(value_type = Vec<Object>)]
    pub contacts: Vec<ContactInput>,
}

#[utoipa::path(
    put, path = "/orgs/{id}/contacts", tag = "directory",
    params(("id" = i64, Path, description = "Organisation id")),
    request_body = ContactsDto,
    responses(
        (status = 200, description = "Saved; the contacts with their new `version`", body = Object),
        (status = 404, description = "No such organisation, or not one the caller administers", body = ApiErrorBody),
        (status = 412, description = "Saved by someone else since `version`", body = ApiErrorBody),
        (status = 422, description = "A contact that does not read, by field (`contacts[2].email`)", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn put_contacts(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
    body: Result<ApiJson<ContactsDto>, ApiError>,
) -> Result<Response, ApiError> {
    dir::require_manage(&st.app, &p, OrgId(id)).await?;
    let b = json_body(body)?;
    let saved = dir::save_contacts(&st.app, &p, OrgId(id), b.version, &b.contacts)
        .await
        .map_err(stale_to_412)?;
    Ok((StatusCode::OK, Json(saved)).into_response())
}

/// Whether the organisation is enabled.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActiveDto {
    pub active: bool,
}

#[utoipa::path(
    put, path = "/orgs/{id}/active", tag = "directory",
    params(("id" = i64, Path, description = "Organisation id")),
    request_body = ActiveDto,
    responses(
        (status = 200, description = "Done; disabling also disabled `accounts_disabled` accounts (enabling enables none)", body = Object),
        (status = 400, description = "The administrator's own organisation cannot be disabled", body = ApiErrorBody),
        (status = 404, description = "No such organisation, or the caller is not the system administrator", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn set_active(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
    body: Result<ApiJson<ActiveDto>, ApiError>,
) -> Result<Response, ApiError> {
    dir::require_system(&st.app, &p).await?;
    let b = json_body(body)?;
    let (org, n) = dir::set_org_active(&st.app, &p, OrgId(id), b.active).await?;
    Ok((
        StatusCode::OK,
        Json(serde_json::json!({"organisation": org, "accounts_disabled": n})),
    )
        .into_response())
}

/// An organisation's name, sectors and region, against the `version` read. The key and the
/// kind do not change.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgEditDto {
    pub version: i64,
    pub name: String,
    /// Codes or Japanese labels: one for an operator, one or more for a ministry.
    #[serde(default)]
    pub sectors: Vec<String>,
    #[serde(default)]
    pub region: Option<String>,
}

#[utoipa::path(
    put, path = "/orgs/{id}", tag = "directory",
    params(("id" = i64, Path, description = "Organisation id")),
    request_body = OrgEditDto,
    responses(
        (status = 200, description = "Saved; the organisation with its new `version`", body = Object),
        (status = 404, description = "No such organisation, or the caller is not the system administrator", body = ApiErrorBody),
        (status = 412, description = "Changed by someone else since `version`", body = ApiErrorBody),
        (status = 422, description = "A name taken, sectors that do not fit the kind, an unknown region", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn edit_org(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
    body: Result<ApiJson<OrgEditDto>, ApiError>,
) -> Result<Response, ApiError> {
    dir::require_system(&st.app, &p).await?;
    let b = json_body(body)?;
    let edit = kizuki_app::accounts::OrgEdit {
        name: b.name,
        sectors: b.sectors,
        region: b.region,
    };
    let saved = dir::edit_org(&st.app, &p, OrgId(id), b.version, &edit)
        .await
        .map_err(stale_to_412)?;
    Ok((StatusCode::OK, Json(saved)).into_response())
}
