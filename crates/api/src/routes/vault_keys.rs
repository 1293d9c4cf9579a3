//! Bring your own key: the tenant's LLM provider keys, kept in the secret
//! store; the database holds only a reference and a masked hint.

use crate::auth::Auth;
use crate::extract::{ApiJson, ApiQuery, Origin};
use crate::problem::{ApiError, Problem};
use app::keys::{self, AddKey, AddKeyQuery, KeyList, KeyView};
use app::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

/// Stores a key for a provider, checked with the provider first unless
/// `?validate=false`. Storing again replaces the key.
#[utoipa::path(post, path = "/api/v1/vault/keys/{service}", tag = "byok", security(("bearer" = [])),
    params(("service" = String, Path, description = "`openai`, `anthropic`, `openrouter`, or a name for an OpenAI-compatible endpoint"), AddKeyQuery),
    request_body = AddKey,
    responses(
        (status = 201, body = KeyView, description = "Stored"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Invalid input, or the provider rejected the key (its reason in `detail`)"),
        (status = 429, body = Problem, content_type = "application/problem+json", description = "The provider is rate limiting the key"),
        (status = 503, body = Problem, content_type = "application/problem+json", description = "Secret store or provider unavailable; nothing stored"),
    ))]
pub async fn add(
    State(state): State<App>,
    Auth(who): Auth,
    Origin(origin): Origin,
    Path(service): Path<String>,
    ApiQuery(q): ApiQuery<AddKeyQuery>,
    ApiJson(body): ApiJson<AddKey>,
) -> Result<(StatusCode, Json<KeyView>), ApiError> {
    let validate = q.validate.unwrap_or(true);
    let key = keys::add(&state, &who, origin, &service, validate, body).await?;
    Ok((StatusCode::CREATED, Json(key)))
}

/// Lists the tenant's keys, masked.
#[utoipa::path(get, path = "/api/v1/vault/keys", tag = "byok", security(("bearer" = [])),
    responses(
        (status = 200, body = KeyList),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(State(state): State<App>, Auth(who): Auth) -> Result<Json<KeyList>, ApiError> {
    let items = keys::list(&state, &who).await?;
    Ok(Json(KeyList { items }))
}

/// Checks a stored key with its provider again and records the result.
#[utoipa::path(post, path = "/api/v1/vault/keys/{service}/test", tag = "byok", security(("bearer" = [])),
    params(("service" = String, Path, description = "The key's service")),
    responses(
        (status = 200, body = KeyView, description = "The key with the new result (`last_test_ok`, `last_test_detail`)"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn test(
    State(state): State<App>,
    Auth(who): Auth,
    Origin(origin): Origin,
    Path(service): Path<String>,
) -> Result<Json<KeyView>, ApiError> {
    Ok(Json(keys::test(&state, &who, origin, &service).await?))
}

/// Revokes a key: destroyed in the secret store and forgotten.
#[utoipa::path(delete, path = "/api/v1/vault/keys/{service}", tag = "byok", security(("bearer" = [])),
    params(("service" = String, Path, description = "The key's service")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn revoke(
    State(state): State<App>,
    Auth(who): Auth,
    Origin(origin): Origin,
    Path(service): Path<String>,
) -> Result<StatusCode, ApiError> {
    keys::revoke(&state, &who, origin, &service).await?;
    Ok(StatusCode::NO_CONTENT)
}
