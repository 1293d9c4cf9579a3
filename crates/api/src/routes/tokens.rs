//! API tokens of the tenant: create (shown once), list, read, revoke.

use crate::auth::Auth;
use crate::extract::{ApiJson, ApiQuery, Origin};
use crate::idempotency::{created, IdempotencyKey};
use crate::problem::{ApiError, Problem};
use app::input::PageParams;
use app::tokens::{self, CreateToken, CreatedToken, TokenPage, TokenView};
use app::App;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::Json;

/// Creates a tenant token (admin), with no scope beyond the caller's own.
/// Send `Idempotency-Key` to make retries safe.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", security(("bearer" = [])), request_body = CreateToken,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried create return the first result")),
    responses(
        (status = 201, body = CreatedToken),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<App>,
    Auth(who): Auth,
    Origin(origin): Origin,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(body): ApiJson<CreateToken>,
) -> Result<Response, ApiError> {
    Ok(created(
        tokens::create(&state, &who, origin, key, body).await?,
    ))
}

/// Creates a personal token for the signed-in user: it acts as them, never
/// beyond their current role, and dies when they leave the tenant.
#[utoipa::path(post, path = "/api/v1/me/tokens", tag = "tokens", security(("bearer" = [])), request_body = CreateToken,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried create return the first result")),
    responses(
        (status = 201, body = CreatedToken),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_personal(
    State(state): State<App>,
    Auth(who): Auth,
    Origin(origin): Origin,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(body): ApiJson<CreateToken>,
) -> Result<Response, ApiError> {
    Ok(created(
        tokens::create_personal(&state, &who, origin, key, body).await?,
    ))
}

/// The tenant's tokens, newest first (admin).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", security(("bearer" = [])), params(PageParams), responses(
    (status = 200, body = TokenPage),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn list(
    State(state): State<App>,
    Auth(who): Auth,
    ApiQuery(q): ApiQuery<PageParams>,
) -> Result<Json<TokenPage>, ApiError> {
    Ok(Json(tokens::list(&state, &who, q).await?))
}

/// The signed-in user's personal tokens, newest first.
#[utoipa::path(get, path = "/api/v1/me/tokens", tag = "tokens", security(("bearer" = [])), params(PageParams), responses(
    (status = 200, body = TokenPage),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn list_personal(
    State(state): State<App>,
    Auth(who): Auth,
    ApiQuery(q): ApiQuery<PageParams>,
) -> Result<Json<TokenPage>, ApiError> {
    Ok(Json(tokens::list_personal(&state, &who, q).await?))
}

/// Revokes one of the signed-in user's personal tokens at once.
#[utoipa::path(delete, path = "/api/v1/me/tokens/{id}", tag = "tokens", security(("bearer" = [])),
    params(("id" = String, Path, description = "Token id")),
    responses((status = 200, body = TokenView), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn revoke_personal(
    State(state): State<App>,
    Auth(who): Auth,
    Origin(origin): Origin,
    Path(id): Path<String>,
) -> Result<Json<TokenView>, ApiError> {
    Ok(Json(
        tokens::revoke_personal(&state, &who, origin, &id).await?,
    ))
}

/// One token (admin).
#[utoipa::path(get, path = "/api/v1/tokens/{id}", tag = "tokens", security(("bearer" = [])),
    params(("id" = String, Path, description = "Token id")),
    responses((status = 200, body = TokenView), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get(
    State(state): State<App>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> Result<Json<TokenView>, ApiError> {
    Ok(Json(tokens::get(&state, &who, &id).await?))
}

/// Revokes a token at once (admin).
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", security(("bearer" = [])),
    params(("id" = String, Path, description = "Token id")),
    responses((status = 200, body = TokenView), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn revoke(
    State(state): State<App>,
    Auth(who): Auth,
    Origin(origin): Origin,
    Path(id): Path<String>,
) -> Result<Json<TokenView>, ApiError> {
    Ok(Json(tokens::revoke(&state, &who, origin, &id).await?))
}
