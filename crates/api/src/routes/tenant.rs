//! The caller's tenant.

use crate::auth::Auth;
use crate::extract::{ApiJson, Origin};
use crate::problem::{ApiError, Problem};
use app::profile::{self, TenantView, UpdateTenant};
use app::App;
use axum::extract::State;
use axum::Json;

/// The caller's tenant.
#[utoipa::path(get, path = "/api/v1/tenant", tag = "tenant", security(("bearer" = [])), responses(
    (status = 200, body = TenantView),
    (status = 401, body = Problem, content_type = "application/problem+json"),
))]
pub async fn get(State(state): State<App>, Auth(who): Auth) -> Result<Json<TenantView>, ApiError> {
    Ok(Json(profile::tenant(&state, &who).await?))
}

/// Renames the caller's tenant (owner; or an API token with the admin scope).
#[utoipa::path(patch, path = "/api/v1/tenant", tag = "tenant", security(("bearer" = [])), request_body = UpdateTenant, responses(
    (status = 200, body = TenantView),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn update(
    State(state): State<App>,
    Auth(who): Auth,
    Origin(origin): Origin,
    ApiJson(body): ApiJson<UpdateTenant>,
) -> Result<Json<TenantView>, ApiError> {
    Ok(Json(
        profile::update_tenant(&state, &who, origin, body).await?,
    ))
}
