//! Workflow runs of the tenant: start, list, inspect, cancel, retry, signal.

use crate::auth::Auth;
use crate::extract::{ApiJson, ApiQuery};
use crate::idempotency::IdempotencyKey;
use crate::problem::{ApiError, Problem};
use app::workflows::{self, RunPage, RunQuery, StartWorkflow};
use app::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use domain::workflows::{RunDetail, RunSummary, Signal};

/// Starts a run (admin). `201` with the new run, or `200` with the run that
/// already has this workflow id.
#[utoipa::path(post, path = "/api/v1/workflows", tag = "workflows", security(("bearer" = [])), request_body = StartWorkflow,
    params(("Idempotency-Key" = Option<String>, Header, description = "Used as the workflow id when none is given")),
    responses(
        (status = 201, body = RunSummary, description = "Started"),
        (status = 200, body = RunSummary, description = "A run with this workflow id exists"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json", description = "The workflow engine is unreachable; nothing was started"),
    ))]
pub async fn start(
    State(state): State<App>,
    Auth(who): Auth,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(body): ApiJson<StartWorkflow>,
) -> Result<(StatusCode, Json<RunSummary>), ApiError> {
    let started = workflows::start(&state, &who, key, body).await?;
    let status = if started.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(started.run)))
}

/// The tenant's runs, newest first.
#[utoipa::path(get, path = "/api/v1/workflows", tag = "workflows", security(("bearer" = [])), params(RunQuery), responses(
    (status = 200, body = RunPage),
    (status = 422, body = Problem, content_type = "application/problem+json"),
    (status = 503, body = Problem, content_type = "application/problem+json"),
))]
pub async fn list(
    State(state): State<App>,
    Auth(who): Auth,
    ApiQuery(q): ApiQuery<RunQuery>,
) -> Result<Json<RunPage>, ApiError> {
    Ok(Json(workflows::list(&state, &who, q).await?))
}

/// One run with its steps and their attempts.
#[utoipa::path(get, path = "/api/v1/workflows/{id}", tag = "workflows", security(("bearer" = [])),
    params(("id" = String, Path, description = "Run id")),
    responses(
        (status = 200, body = RunDetail),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get(
    State(state): State<App>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> Result<Json<RunDetail>, ApiError> {
    Ok(Json(workflows::get(&state, &who, &id).await?))
}

/// Asks a run to stop (admin); it ends as `cancelled`.
#[utoipa::path(post, path = "/api/v1/workflows/{id}/cancel", tag = "workflows", security(("bearer" = [])),
    params(("id" = String, Path, description = "Run id")),
    responses(
        (status = 200, body = RunSummary),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "The run has ended"),
    ))]
pub async fn cancel(
    State(state): State<App>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> Result<Json<RunSummary>, ApiError> {
    Ok(Json(workflows::cancel(&state, &who, &id).await?))
}

/// Runs a failed or cancelled run again from the step that stopped it (admin).
#[utoipa::path(post, path = "/api/v1/workflows/{id}/retry", tag = "workflows", security(("bearer" = [])),
    params(("id" = String, Path, description = "Run id")),
    responses(
        (status = 200, body = RunSummary),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "The run has not failed or been cancelled"),
    ))]
pub async fn retry(
    State(state): State<App>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> Result<Json<RunSummary>, ApiError> {
    Ok(Json(workflows::retry(&state, &who, &id).await?))
}

/// Sends a signal to a live run (admin): the run takes it when its code
/// waits for a signal of that name; earlier signals wait in order.
#[utoipa::path(post, path = "/api/v1/workflows/{id}/signal", tag = "workflows", security(("bearer" = [])),
    params(("id" = String, Path, description = "Run id")),
    request_body = Signal,
    responses(
        (status = 202, body = RunSummary, description = "Delivered; the run takes it when it waits for it"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "The run has ended"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json", description = "The workflow engine is unreachable; nothing was sent"),
    ))]
pub async fn signal(
    State(state): State<App>,
    Auth(who): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Signal>,
) -> Result<(StatusCode, Json<RunSummary>), ApiError> {
    let run = workflows::signal(&state, &who, &id, body).await?;
    Ok((StatusCode::ACCEPTED, Json(run)))
}
