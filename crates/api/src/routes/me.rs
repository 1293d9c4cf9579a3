//! The signed-in user: profile and tenants.

use crate::auth::Auth;
use crate::extract::{ApiJson, Origin};
use crate::problem::{ApiError, Problem};
use app::profile::{self, Profile, UpdateProfile};
use app::App;
use axum::extract::State;
use axum::Json;

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", security(("bearer" = [])), responses(
    (status = 200, body = Profile),
    (status = 422, description = "The bearer is an API token, not a user", body = Problem, content_type = "application/problem+json"),
))]
pub async fn get(State(state): State<App>, Auth(who): Auth) -> Result<Json<Profile>, ApiError> {
    Ok(Json(profile::get(&state, &who).await?))
}

/// Changes the signed-in user's name or email.
#[utoipa::path(patch, path = "/api/v1/me", tag = "auth", security(("bearer" = [])), request_body = UpdateProfile, responses(
    (status = 200, body = Profile),
    (status = 401, description = "The current password is wrong", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "Another account has this email", body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn update(
    State(state): State<App>,
    Auth(who): Auth,
    Origin(origin): Origin,
    ApiJson(body): ApiJson<UpdateProfile>,
) -> Result<Json<Profile>, ApiError> {
    Ok(Json(profile::update(&state, &who, origin, body).await?))
}
