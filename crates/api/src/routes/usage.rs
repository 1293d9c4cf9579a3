//! The usage report and the monthly budget.

use crate::auth::Auth;
use crate::extract::{ApiJson, ApiQuery, Origin};
use crate::problem::{ApiError, Problem};
use app::budgets::{self, BudgetView, SetBudget};
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

/// The monthly model budget and this month's use (admin).
#[utoipa::path(get, path = "/api/v1/usage/budget", tag = "agents", security(("bearer" = [])),
    responses((status = 200, body = BudgetView)))]
pub async fn budget(
    State(state): State<App>,
    Auth(who): Auth,
) -> Result<Json<BudgetView>, ApiError> {
    Ok(Json(budgets::get(&state, &who).await?))
}

/// Sets the monthly model budget in tokens, dollars or both; absent fields
/// mean no limit of that kind (admin). A model call that might not fit
/// what is left is refused with 429 naming the budget.
#[utoipa::path(put, path = "/api/v1/usage/budget", tag = "agents", security(("bearer" = [])), request_body = SetBudget,
    responses((status = 200, body = BudgetView), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn set_budget(
    State(state): State<App>,
    Auth(who): Auth,
    Origin(origin): Origin,
    ApiJson(body): ApiJson<SetBudget>,
) -> Result<Json<BudgetView>, ApiError> {
    Ok(Json(budgets::set(&state, &who, origin, body).await?))
}
