//! The usage report.

use crate::auth::Auth;
use crate::extract::ApiQuery;
use crate::problem::{ApiError, Problem};
use app::usage::{self, UsageQuery, UsageReport};
use app::App;
use axum::extract::State;
use axum::Json;

/// What the workspace's model calls used and cost, by day, agent, model or
/// API token (admin).
#[utoipa::path(get, path = "/api/v1/usage", tag = "agents", security(("bearer" = [])), params(UsageQuery),
    responses((status = 200, body = UsageReport), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn report(
    State(state): State<App>,
    Auth(who): Auth,
    ApiQuery(q): ApiQuery<UsageQuery>,
) -> Result<Json<UsageReport>, ApiError> {
    Ok(Json(usage::report(&state, &who, q).await?))
}
