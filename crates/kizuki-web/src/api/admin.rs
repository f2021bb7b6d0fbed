//! Administration over the API, the same app functions as the pages and the command line:
//! the directory's organisations (`/orgs`, the system administrator), an organisation's users
//! (`/orgs/{id}/users`, `/users/{id}/active`, `/users/{id}/role`), its sign-in allowlist and
//! its users' API tokens (its operator admins, the system administrator for any), and the
//! audit log's export. Access is decided before a body is read; another organisation's
//! records are "not found".

use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::{ApiUser, json_body};
use crate::error::{ApiError, ApiErrorBody};
use crate::security::ClientAddr;
use crate::state::WebState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kizuki_app::directory as dir;
use kizuki_domain::ids::{OrgId, UserId};
use serde::Deserialize;
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

/// A secret shown once is never kept by a cache.
fn no_store(mut res: Response) -> Response {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

#[utoipa::path(
    get, path = "/orgs", tag = "admin",
    responses(
        (status = 200, description = "Every organisation with its kind, sectors, region, active accounts and whether it is enabled", body = Object),
        (status = 404, description = "The caller is not the system administrator", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_orgs(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
) -> Result<Response, ApiError> {
    let orgs = dir::organisations(&st.app, &p).await?;
    Ok((StatusCode::OK, Json(json!({"organisations": orgs}))).into_response())
}

/// A new organisation, as `kizuki org add` takes it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrgDto {
    pub name: String,
    /// `operator`, `ministry`, `centre` or `vendor`.
    pub kind: String,
    /// Codes or Japanese labels: one for an operator, one or more for a ministry.
    #[serde(default)]
    pub sectors: Vec<String>,
    /// Made from the name when left out.
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
}

#[utoipa::path(
    post, path = "/orgs", tag = "admin",
    request_body = NewOrgDto,
    responses(
        (status = 201, description = "Added", body = Object),
        (status = 404, description = "The caller is not the system administrator", body = ApiErrorBody),
        (status = 422, description = "A name or key taken, a kind or sector that does not read", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn add_org(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    body: Result<ApiJson<NewOrgDto>, ApiError>,
) -> Result<Response, ApiError> {
    dir::require_system(&st.app, &p).await?;
    let b = json_body(body)?;
    let req = kizuki_app::accounts::OrgRequest {
        name: b.name,
        kind: b.kind,
        sectors: b.sectors,
        key: b.key,
        region: b.region,
    };
    let org = dir::add_org(&st.app, &p, &req).await?;
    Ok((StatusCode::CREATED, Json(org)).into_response())
}

#[utoipa::path(
    get, path = "/orgs/{id}/users", tag = "admin",
    params(("id" = i64, Path, description = "Organisation id")),
    responses(
        (status = 200, description = "The organisation's accounts and the roles the caller may grant there", body = Object),
        (status = 404, description = "No such organisation, or not one the caller administers", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_users(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    let v = dir::users(&st.app, &p, Some(OrgId(id))).await?;
    Ok((StatusCode::OK, Json(v)).into_response())
}

/// A new account.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserDto {
    pub email: String,
    /// A role the caller may grant in the organisation (`reporter`, `operator_admin`, …).
    pub role: String,
    /// The name shown; the e-mail's local part when left out.
    #[serde(default)]
    pub name: String,
}

#[utoipa::path(
    post, path = "/orgs/{id}/users", tag = "admin",
    params(("id" = i64, Path, description = "Organisation id")),
    request_body = NewUserDto,
    responses(
        (status = 201, description = "Added; `password` is a one-time password, shown this once, to be changed at first sign-in", body = Object),
        (status = 403, description = "A role the caller may not grant", body = ApiErrorBody),
        (status = 404, description = "No such organisation, or not one the caller administers", body = ApiErrorBody),
        (status = 409, description = "The e-mail address has an account", body = ApiErrorBody),
        (status = 422, description = "An e-mail or role that does not read", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn add_user(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
    body: Result<ApiJson<NewUserDto>, ApiError>,
) -> Result<Response, ApiError> {
    dir::require_manage(&st.app, &p, OrgId(id)).await?;
    let b = json_body(body)?;
    let (user, password) = dir::add(&st.app, &p, OrgId(id), &b.email, &b.role, &b.name).await?;
    Ok(no_store(
        (
            StatusCode::CREATED,
            Json(json!({"user": user, "password": password})),
        )
            .into_response(),
    ))
}

/// Whether the account is enabled.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserActiveDto {
    pub active: bool,
}

#[utoipa::path(
    put, path = "/users/{id}/active", tag = "admin",
    params(("id" = i64, Path, description = "User id")),
    request_body = UserActiveDto,
    responses(
        (status = 200, description = "Done; disabling revokes the account's tokens and ends its sessions at their next request", body = Object),
        (status = 400, description = "One's own account, or an account of a disabled organisation to enable", body = ApiErrorBody),
        (status = 404, description = "No such account, or not of an organisation the caller administers", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn set_user_active(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
    body: Result<ApiJson<UserActiveDto>, ApiError>,
) -> Result<Response, ApiError> {
    dir::require_user(&st.app, &p, UserId(id)).await?;
    let b = json_body(body)?;
    let u = dir::set_active(&st.app, &p, UserId(id), b.active).await?;
    Ok((StatusCode::OK, Json(u)).into_response())
}

/// The account's new role.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserRoleDto {
    pub role: String,
}

#[utoipa::path(
    put, path = "/users/{id}/role", tag = "admin",
    params(("id" = i64, Path, description = "User id")),
    request_body = UserRoleDto,
    responses(
        (status = 200, description = "Done; it applies from the account's next request", body = Object),
        (status = 400, description = "One's own role", body = ApiErrorBody),
        (status = 403, description = "A role (old or new) the caller may not grant", body = ApiErrorBody),
        (status = 404, description = "No such account, or not of an organisation the caller administers", body = ApiErrorBody),
        (status = 422, description = "A role that does not read or does not fit the organisation", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn set_user_role(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
    body: Result<ApiJson<UserRoleDto>, ApiError>,
) -> Result<Response, ApiError> {
    dir::require_user(&st.app, &p, UserId(id)).await?;
    let b = json_body(body)?;
    let u = dir::set_role(&st.app, &p, UserId(id), &b.role).await?;
    Ok((StatusCode::OK, Json(u)).into_response())
}

#[utoipa::path(
    get, path = "/orgs/{id}/allowlist", tag = "admin",
    params(("id" = i64, Path, description = "Organisation id")),
    responses(
        (status = 200, description = "The networks the organisation's users may sign in from (none: anywhere), and whether the caller's address is let in", body = Object),
        (status = 404, description = "No such organisation, or not one the caller administers", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_allowlist(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ClientAddr(from): ClientAddr,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    let v = dir::allowlist(&st.app, &p, Some(OrgId(id)), from).await?;
    Ok((StatusCode::OK, Json(v)).into_response())
}

/// One network added to or removed from the allowlist.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllowlistEditDto {
    /// An address or CIDR block, IPv4 or IPv6.
    pub cidr: String,
    /// `true` removes it; left out, it is added.
    #[serde(default)]
    pub remove: bool,
}

#[utoipa::path(
    post, path = "/orgs/{id}/allowlist", tag = "admin",
    params(("id" = i64, Path, description = "Organisation id")),
    request_body = AllowlistEditDto,
    responses(
        (status = 200, description = "Saved; the list as it now is", body = Object),
        (status = 404, description = "No such organisation, or not one the caller administers", body = ApiErrorBody),
        (status = 422, description = "A network that does not read (`cidr`), or a change to one's own organisation's list that would shut the caller's address out", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn edit_allowlist(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ClientAddr(from): ClientAddr,
    ApiPath(id): ApiPath<i64>,
    body: Result<ApiJson<AllowlistEditDto>, ApiError>,
) -> Result<Response, ApiError> {
    dir::require_manage(&st.app, &p, OrgId(id)).await?;
    let b = json_body(body)?;
    dir::edit_allowlist(&st.app, &p, OrgId(id), &b.cidr, !b.remove, from).await?;
    let v = dir::allowlist(&st.app, &p, Some(OrgId(id)), from).await?;
    Ok((StatusCode::OK, Json(v)).into_response())
}

#[utoipa::path(
    get, path = "/orgs/{id}/tokens", tag = "admin",
    params(("id" = i64, Path, description = "Organisation id")),
    responses(
        (status = 200, description = "The API tokens of the organisation's users, without secrets", body = Object),
        (status = 404, description = "No such organisation, or not one the caller administers", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_tokens(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    let v = dir::tokens(&st.app, &p, Some(OrgId(id))).await?;
    Ok((StatusCode::OK, Json(v)).into_response())
}

/// A token for one of the organisation's users.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenDto {
    pub user: i64,
    #[serde(default)]
    pub label: String,
}

#[utoipa::path(
    post, path = "/orgs/{id}/tokens", tag = "admin",
    params(("id" = i64, Path, description = "Organisation id")),
    request_body = NewTokenDto,
    responses(
        (status = 201, description = "Issued; `secret` is shown this once", body = Object),
        (status = 404, description = "No such organisation or user, or not one the caller administers", body = ApiErrorBody),
        (status = 422, description = "A label that does not read", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn issue_token(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
    body: Result<ApiJson<NewTokenDto>, ApiError>,
) -> Result<Response, ApiError> {
    dir::require_manage(&st.app, &p, OrgId(id)).await?;
    let b = json_body(body)?;
    let user = UserId(b.user);
    dir::require_user_in(&st.app, &p, user, OrgId(id)).await?;
    let (token, secret) = dir::issue_token(&st.app, &p, user, &b.label).await?;
    Ok(no_store(
        (
            StatusCode::CREATED,
            Json(
                json!({"id": token.id, "user": token.user_id, "label": token.label,
                        "secret": secret}),
            ),
        )
            .into_response(),
    ))
}

#[utoipa::path(
    post, path = "/tokens/{id}/revoke", tag = "admin",
    params(("id" = i64, Path, description = "Token id")),
    responses(
        (status = 200, description = "Revoked (revoking again changes nothing)", body = Object),
        (status = 404, description = "No such token, or not of a user of an organisation the caller administers", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn revoke_token(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    let t = dir::revoke_token(&st.app, &p, id).await?;
    Ok((
        StatusCode::OK,
        Json(json!({"id": t.id, "user": t.user_id, "label": t.label,
                    "revoked_at": t.revoked_at})),
    )
        .into_response())
}

/// The days of the audit log to export.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditExportParams {
    /// The first day (Japan time): `2026-04-01`, `令和8年4月1日`, `R8.4.1`.
    #[serde(default)]
    pub from: String,
    /// The last day.
    #[serde(default)]
    pub to: String,
}

#[utoipa::path(
    get, path = "/audit/export", tag = "admin",
    params(AuditExportParams),
    responses(
        (status = 200, description = "The entries of those days as JSON Lines (`application/x-ndjson`), each with `prev_hash` and `hash`; `kizuki audit verify --file` checks the file on its own. The export is itself recorded.", content_type = "application/x-ndjson", body = String),
        (status = 404, description = "The caller is not the system administrator", body = ApiErrorBody),
        (status = 422, description = "A day that does not read (`from`, `to`)", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn export_audit(
    State(st): State<WebState>,
    ApiUser(p): ApiUser,
    ApiQuery(q): ApiQuery<AuditExportParams>,
) -> Result<Response, ApiError> {
    Ok(crate::pages::audit::export_days(&st, &p, &q.from, &q.to).await?)
}
