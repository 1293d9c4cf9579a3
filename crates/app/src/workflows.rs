//! Workflow runs of the tenant: start, list, read with history, cancel,
//! retry and signal. Whichever engine is configured answers (DESIGN §10).

use crate::input::parse_id;
use crate::{access, App, AppError};
use domain::tokens::Scope;
use domain::workflows::{RunDetail, RunFilter, RunStatus, RunSummary, Signal, StartRun};
use domain::Principal;
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
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
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
pub async fn start(
    state: &App,
    who: &Principal,
    key: Option<String>,
    body: StartWorkflow,
) -> Result<domain::workflows::Started, AppError> {
    let scope = access::require(who, Scope::Admin)?;
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
    Ok(started)
}

/// The tenant's runs, newest first.
pub async fn list(state: &App, who: &Principal, q: RunQuery) -> Result<RunPage, AppError> {
    let scope = access::require(who, Scope::Read)?;
    let (limit, cursor) = crate::input::paging(q.limit, q.cursor.as_deref())?;
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(RunStatus::parse(s).ok_or_else(|| {
            AppError::field(
                "status",
                format!("`{s}` is not a run status; use one of queued, running, retrying, sleeping, succeeded, failed, cancelled"),
            )
        })?),
    };
    let items = state
        .workflows
        .list(
            &scope,
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
    Ok(RunPage { items, next_cursor })
}

/// One run with its steps and their attempts.
pub async fn get(state: &App, who: &Principal, id: &str) -> Result<RunDetail, AppError> {
    let scope = access::require(who, Scope::Read)?;
    let id: RunId = parse_id(id, "id")?;
    Ok(state.workflows.get(&scope, id).await?)
}

/// Asks a run to stop (admin); it ends as `cancelled`.
pub async fn cancel(state: &App, who: &Principal, id: &str) -> Result<RunSummary, AppError> {
    let scope = access::require(who, Scope::Admin)?;
    let id: RunId = parse_id(id, "id")?;
    Ok(state.workflows.cancel(&scope, id).await?)
}

/// Runs a failed or cancelled run again from the step that stopped it (admin).
pub async fn retry(state: &App, who: &Principal, id: &str) -> Result<RunSummary, AppError> {
    let scope = access::require(who, Scope::Admin)?;
    let id: RunId = parse_id(id, "id")?;
    Ok(state.workflows.retry(&scope, id).await?)
}

/// Sends a signal to a live run (admin): the run takes it when its code
/// waits for a signal of that name; earlier signals wait in order.
pub async fn signal(
    state: &App,
    who: &Principal,
    id: &str,
    body: Signal,
) -> Result<RunSummary, AppError> {
    let scope = access::require(who, Scope::Admin)?;
    let id: RunId = parse_id(id, "id")?;
    let run = state.workflows.signal(&scope, id, body).await?;
    Ok(run)
}
