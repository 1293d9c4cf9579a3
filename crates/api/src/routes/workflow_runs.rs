//! Workflow runs of the tenant: start, list, read with history, cancel,
//! retry and signal. Whichever engine is configured answers (DESIGN §10).

use super::parse_id;
use crate::auth::Auth;
use crate::extract::{ApiJson, ApiQuery};
use crate::idempotency::IdempotencyKey;
use crate::problem::{ApiError, Problem};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use domain::tokens::Scope;
use domain::workflows::{RunDetail, RunFilter, RunStatus, RunSummary, Signal, StartRun};
use domain::RunId;
use serde::{Deserialize, Serialize};

/// A request to start a run.
#[derive(Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartWorkflow {
    /// A workflow type a tenant may start (`audit_log.export`).
    pub workflow_type: String,
    /// Its input (default `{}`).
    #[serde(default)]
    pub input: Option<serde_json::Value>,
    /// Workflow id: starting again with the same id returns the same run.
    /// Defaults to the `Idempotency-Key` header, else the new run's id.
    #[serde(default)]
    pub workflow_key: Option<String>,
}

/// A page of runs.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RunPage {
    /// Runs, newest first.
    pub items: Vec<RunSummary>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// Listing parameters.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RunQuery {
    /// Only runs in this status (`queued`, `running`, `retrying`, `sleeping`,
    /// `succeeded`, `failed`, `cancelled`).
    pub status: Option<String>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

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
    State(state): State<AppState>,
    auth: Auth,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(body): ApiJson<StartWorkflow>,
) -> Result<Response, ApiError> {
    let scope = auth.require(Scope::Admin)?;
    let started = state
        .workflows
        .start(StartRun {
            tenant: Some(scope.tenant()),
            requested_by: Some(scope),
            workflow_type: body.workflow_type,
            input: body.input.unwrap_or_else(|| serde_json::json!({})),
            dedup_key: body.workflow_key.or(key),
        })
        .await?;
    let status = if started.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(started.run)).into_response())
}

/// The tenant's runs, newest first.
#[utoipa::path(get, path = "/api/v1/workflows", tag = "workflows", security(("bearer" = [])), params(RunQuery), responses(
    (status = 200, body = RunPage),
    (status = 422, body = Problem, content_type = "application/problem+json"),
    (status = 503, body = Problem, content_type = "application/problem+json"),
))]
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<RunQuery>,
) -> Result<Json<RunPage>, ApiError> {
    let scope = auth.require(Scope::Read)?;
    let (limit, cursor) = super::paging(q.limit, q.cursor.as_deref())?;
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(RunStatus::parse(s).ok_or_else(|| {
            ApiError::field(
                "status",
                format!("`{s}` is not a run status; use one of queued, running, retrying, sleeping, succeeded, failed, cancelled"),
            )
        })?),
    };
    let items = state
        .workflows
        .list(
            scope.tenant(),
            RunFilter {
                status,
                limit,
                cursor,
            },
        )
        .await?;
    let next_cursor = (items.len() == limit.get() as usize)
        .then(|| items.last())
        .flatten()
        .map(|r| domain::paging::Cursor::after(r.id.as_uuid()).encode());
    Ok(Json(RunPage { items, next_cursor }))
}

/// One run with its steps and their attempts.
#[utoipa::path(get, path = "/api/v1/workflows/{id}", tag = "workflows", security(("bearer" = [])),
    params(("id" = String, Path, description = "Run id")),
    responses(
        (status = 200, body = RunDetail),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<RunDetail>, ApiError> {
    let scope = auth.require(Scope::Read)?;
    let id: RunId = parse_id(&id, "id")?;
    Ok(Json(state.workflows.get(scope.tenant(), id).await?))
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
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<RunSummary>, ApiError> {
    let scope = auth.require(Scope::Admin)?;
    let id: RunId = parse_id(&id, "id")?;
    Ok(Json(state.workflows.cancel(&scope, id).await?))
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
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<RunSummary>, ApiError> {
    let scope = auth.require(Scope::Admin)?;
    let id: RunId = parse_id(&id, "id")?;
    Ok(Json(state.workflows.retry(&scope, id).await?))
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
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Signal>,
) -> Result<(StatusCode, Json<RunSummary>), ApiError> {
    let scope = auth.require(Scope::Admin)?;
    let id: RunId = parse_id(&id, "id")?;
    let run = state.workflows.signal(&scope, id, body).await?;
    Ok((StatusCode::ACCEPTED, Json(run)))
}
