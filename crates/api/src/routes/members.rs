//! Members of the tenant: list, change role, remove.

use crate::auth::Auth;
use crate::extract::{ApiJson, ApiQuery, Origin};
use crate::problem::{ApiError, Problem};
use app::input::PageParams;
use app::members::{self, MemberPage, MemberView, UpdateMember};
use app::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

/// The tenant's members.
#[utoipa::path(get, path = "/api/v1/members", tag = "members", security(("bearer" = [])), params(PageParams), responses(
    (status = 200, body = MemberPage),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn list(
    State(state): State<App>,
    Auth(who): Auth,
    ApiQuery(q): ApiQuery<PageParams>,
) -> Result<Json<MemberPage>, ApiError> {
    Ok(Json(members::list(&state, &who, q).await?))
}

/// Changes a member's role (admin; owners only for owners). The member's
/// sessions end, so the new role applies at once.
#[utoipa::path(patch, path = "/api/v1/members/{user_id}", tag = "members", security(("bearer" = [])), request_body = UpdateMember,
    params(("user_id" = String, Path, description = "The member's user id")),
    responses(
        (status = 200, body = MemberView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Would leave the tenant without an owner", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update(
    State(state): State<App>,
    Auth(who): Auth,
    Origin(origin): Origin,
    Path(user_id): Path<String>,
    ApiJson(body): ApiJson<UpdateMember>,
) -> Result<Json<MemberView>, ApiError> {
    Ok(Json(
        members::update(&state, &who, origin, &user_id, body).await?,
    ))
}

/// Removes a member from the tenant (admin; owners only for owners); their
/// sessions in this tenant end.
#[utoipa::path(delete, path = "/api/v1/members/{user_id}", tag = "members", security(("bearer" = [])),
    params(("user_id" = String, Path, description = "The member's user id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Would leave the tenant without an owner", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn remove(
    State(state): State<App>,
    Auth(who): Auth,
    Origin(origin): Origin,
    Path(user_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    members::remove(&state, &who, origin, &user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
