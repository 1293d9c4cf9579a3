//! AI agents: the catalogue, the tenant's agents, and their configuration.

use crate::auth::Auth;
use crate::extract::{ApiJson, ApiQuery, Origin};
use crate::idempotency::created;
use crate::problem::{ApiError, Problem};
use app::agents::{self, AgentPage, AgentView, CreateAgent, TemplateList, UpdateAgent};
use app::input::PageParams;
use app::App;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::Json;
use domain::agents::AgentConfig;

/// The catalogue of agent templates, by business function.
#[utoipa::path(get, path = "/api/v1/agent-templates", tag = "agents", security(("bearer" = [])),
    responses((status = 200, body = TemplateList)))]
pub async fn templates(Auth(who): Auth) -> Result<Json<TemplateList>, ApiError> {
    Ok(Json(agents::templates(&who)?))
}

/// The tenant's agents, newest first; the seven core agents are there from
/// the first visit.
#[utoipa::path(get, path = "/api/v1/agents", tag = "agents", security(("bearer" = [])), params(PageParams),
    responses((status = 200, body = AgentPage), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<App>,
    Auth(who): Auth,
    ApiQuery(q): ApiQuery<PageParams>,
) -> Result<Json<AgentPage>, ApiError> {
    Ok(Json(agents::list(&state, &who, q).await?))
}

/// Creates an agent from a template, from scratch, or a template changed (admin).
#[utoipa::path(post, path = "/api/v1/agents", tag = "agents", security(("bearer" = [])), request_body = CreateAgent,
    responses(
        (status = 201, body = AgentView),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<App>,
    Auth(who): Auth,
    Origin(origin): Origin,
    ApiJson(body): ApiJson<CreateAgent>,
) -> Result<Response, ApiError> {
    Ok(created(agents::create(&state, &who, origin, body).await?))
}

/// One agent.
#[utoipa::path(get, path = "/api/v1/agents/{id}", tag = "agents", security(("bearer" = [])),
    params(("id" = String, Path, description = "Agent id")),
    responses((status = 200, body = AgentView), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get(
    State(state): State<App>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> Result<Json<AgentView>, ApiError> {
    Ok(Json(agents::get(&state, &who, &id).await?))
}

/// Renames an agent or changes its description (its `permissions.edit` role).
#[utoipa::path(put, path = "/api/v1/agents/{id}", tag = "agents", security(("bearer" = [])), request_body = UpdateAgent,
    params(("id" = String, Path, description = "Agent id")),
    responses(
        (status = 200, body = AgentView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update(
    State(state): State<App>,
    Auth(who): Auth,
    Origin(origin): Origin,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateAgent>,
) -> Result<Json<AgentView>, ApiError> {
    Ok(Json(agents::update(&state, &who, origin, &id, body).await?))
}

/// Deletes an agent (admin).
#[utoipa::path(delete, path = "/api/v1/agents/{id}", tag = "agents", security(("bearer" = [])),
    params(("id" = String, Path, description = "Agent id")),
    responses((status = 200, body = AgentView), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn delete(
    State(state): State<App>,
    Auth(who): Auth,
    Origin(origin): Origin,
    Path(id): Path<String>,
) -> Result<Json<AgentView>, ApiError> {
    Ok(Json(agents::delete(&state, &who, origin, &id).await?))
}

/// An agent's configuration.
#[utoipa::path(get, path = "/api/v1/agents/{id}/config", tag = "agents", security(("bearer" = [])),
    params(("id" = String, Path, description = "Agent id")),
    responses((status = 200, body = AgentConfig), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn config(
    State(state): State<App>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> Result<Json<AgentConfig>, ApiError> {
    Ok(Json(agents::config(&state, &who, &id).await?))
}

/// Replaces an agent's configuration, validated whole and audited with the
/// configuration before and after (its `permissions.edit` role).
#[utoipa::path(put, path = "/api/v1/agents/{id}/config", tag = "agents", security(("bearer" = [])), request_body = AgentConfig,
    params(("id" = String, Path, description = "Agent id")),
    responses(
        (status = 200, body = AgentConfig),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn set_config(
    State(state): State<App>,
    Auth(who): Auth,
    Origin(origin): Origin,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AgentConfig>,
) -> Result<Json<AgentConfig>, ApiError> {
    Ok(Json(
        agents::set_config(&state, &who, origin, &id, body).await?,
    ))
}
