//! `/workflows`: the workspace's workflow runs, live while any is active:
//! a chart of runs per day, the runs with their progress, and a run's steps
//! and attempts. Admins start an audit-log export, cancel, retry and
//! signal runs.

use crate::chart::DailyBars;
use crate::render::{page, Chrome, PageError};
use crate::session::{CheckedForm, Csrf, NoFields, SignedIn};
use app::workflows::{self as runs, RunQuery, StartWorkflow};
use app::{dashboard, App, AppError};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::tokens::Scope;
use domain::workflows::{RunDetail, RunStatus, RunSummary};
use domain::RunId;
use serde::Deserialize;

/// A run as a table row.
struct Row {
    id: String,
    workflow_type: String,
    status: &'static str,
    badge: &'static str,
    started: String,
    finished: String,
    attempts: u32,
    progress: Option<(u64, Option<u64>, String)>,
    last_error: String,
    active: bool,
}

fn badge(s: RunStatus) -> &'static str {
    match s {
        RunStatus::Succeeded => "badge-ok",
        RunStatus::Failed => "badge-danger",
        RunStatus::Cancelled | RunStatus::Queued => "badge-muted",
        RunStatus::Running | RunStatus::Retrying | RunStatus::Sleeping => "badge-live",
    }
}

fn when(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "—".into())
}

impl From<&RunSummary> for Row {
    fn from(r: &RunSummary) -> Self {
        Row {
            id: r.id.to_string(),
            workflow_type: r.workflow_type.clone(),
            status: r.status.as_str(),
            badge: badge(r.status),
            started: when(r.started_at),
            finished: when(r.finished_at),
            attempts: r.attempts,
            progress: r
                .progress
                .as_ref()
                .map(|p| (p.done, p.total, p.note.clone().unwrap_or_default())),
            last_error: r.last_error.clone().unwrap_or_default(),
            active: !r.status.is_terminal(),
        }
    }
}

#[derive(Template)]
#[template(path = "workflows.html")]
struct RunsPage {
    chrome: Chrome,
    chart: DailyBars,
    title: &'static str,
    status: String,
    statuses: [RunStatus; 7],
    rows: Vec<Row>,
    live: bool,
    is_admin: bool,
}

/// The page's query.
#[derive(Deserialize, Default)]
pub struct Filter {
    #[serde(default)]
    status: String,
}

/// `GET /workflows`.
pub async fn list(
    State(state): State<App>,
    user: SignedIn,
    csrf: Csrf,
    Query(f): Query<Filter>,
) -> Result<Response, PageError> {
    let query = RunQuery {
        status: (!f.status.is_empty()).then(|| f.status.clone()),
        limit: Some(50),
        cursor: None,
    };
    let runs = runs::list(&state, &user.principal, query).await?.items;
    let per_day = dashboard::runs_per_day(&state, &user.principal).await?;
    let rows: Vec<Row> = runs.iter().map(Row::from).collect();
    let p = RunsPage {
        chrome: Chrome::new(
            "Workflows",
            &csrf.0,
            Some(user.profile.clone()),
            "workflows",
        ),
        chart: DailyBars::new(&per_day),
        title: "Workflow runs per day",
        status: f.status,
        statuses: RunStatus::ALL,
        live: rows.iter().any(|r| r.active),
        rows,
        is_admin: user.principal.has_scope(Scope::Admin),
    };
    Ok(page(StatusCode::OK, &p))
}

/// A step as shown.
struct StepRow {
    seq: u32,
    kind: String,
    name: String,
    status: String,
    attempts: Vec<AttemptRow>,
}

struct AttemptRow {
    attempt: u32,
    outcome: String,
    badge: &'static str,
    started: String,
    duration: String,
    error: String,
}

#[derive(Template)]
#[template(path = "workflow_run.html")]
struct RunPage {
    chrome: Chrome,
    run: Row,
    key: String,
    input: String,
    output: String,
    next_run_at: String,
    steps: Vec<StepRow>,
    is_admin: bool,
    can_cancel: bool,
    can_retry: bool,
    /// The signal the run waits for now, when the engine knows.
    waiting_for: String,
}

fn run_page(detail: RunDetail, chrome: Chrome, is_admin: bool) -> RunPage {
    let status = detail.run.status;
    let waiting_for = detail
        .steps
        .last()
        .filter(|s| s.kind == "signal" && s.status == "waiting" && !status.is_terminal())
        .map(|s| s.name.clone())
        .unwrap_or_default();
    RunPage {
        waiting_for,
        chrome,
        key: detail.run.workflow_key.clone(),
        next_run_at: when(detail.run.next_run_at),
        run: Row::from(&detail.run),
        input: serde_json::to_string_pretty(&detail.input).unwrap_or_default(),
        output: detail
            .output
            .map(|o| serde_json::to_string_pretty(&o).unwrap_or_default())
            .unwrap_or_default(),
        steps: detail
            .steps
            .into_iter()
            .map(|s| StepRow {
                seq: s.seq + 1,
                kind: s.kind,
                name: s.name,
                status: s.status,
                attempts: s
                    .attempts
                    .into_iter()
                    .map(|a| AttemptRow {
                        attempt: a.attempt,
                        badge: match a.outcome.as_str() {
                            "succeeded" => "badge-ok",
                            "running" => "badge-live",
                            "failed" | "lost" => "badge-danger",
                            _ => "badge-muted",
                        },
                        outcome: a.outcome,
                        started: a.started_at.format("%H:%M:%S%.3f").to_string(),
                        duration: a.duration_ms.map(|d| format!("{d} ms")).unwrap_or_default(),
                        error: a.error.unwrap_or_default(),
                    })
                    .collect(),
            })
            .collect(),
        is_admin,
        can_cancel: !status.is_terminal(),
        can_retry: matches!(status, RunStatus::Failed | RunStatus::Cancelled),
    }
}

/// A run's id from its address: anything but a run id is no page at all.
fn run_id(raw: &str) -> Result<&str, PageError> {
    raw.parse::<RunId>()
        .map(|_| raw)
        .map_err(|_| PageError::NotFound)
}

/// `GET /workflows/{id}`.
pub async fn show(
    State(state): State<App>,
    user: SignedIn,
    csrf: Csrf,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let detail = runs::get(&state, &user.principal, run_id(&id)?).await?;
    let chrome = Chrome::new(
        detail.run.workflow_type.clone(),
        &csrf.0,
        Some(user.profile.clone()),
        "workflows",
    );
    Ok(page(
        StatusCode::OK,
        &run_page(detail, chrome, user.principal.has_scope(Scope::Admin)),
    ))
}

/// `POST /workflows/export`: starts an export of the audit log (admins).
pub async fn start_export(
    State(state): State<App>,
    user: SignedIn,
    CheckedForm(_): CheckedForm<NoFields>,
) -> Result<Response, PageError> {
    let export = StartWorkflow {
        workflow_type: workflows::builtin::audit_export::EXPORT.into(),
        input: None,
        workflow_key: None,
    };
    let started = runs::start(&state, &user.principal, None, export).await?;
    Ok(Redirect::to(&format!("/workflows/{}", started.run.id)).into_response())
}

/// `POST /workflows/{id}/cancel` (admins).
pub async fn cancel(
    State(state): State<App>,
    user: SignedIn,
    Path(id): Path<String>,
    CheckedForm(_): CheckedForm<NoFields>,
) -> Result<Response, PageError> {
    let run = runs::cancel(&state, &user.principal, run_id(&id)?).await?;
    Ok(Redirect::to(&format!("/workflows/{}", run.id)).into_response())
}

/// `POST /workflows/{id}/retry` (admins).
pub async fn retry(
    State(state): State<App>,
    user: SignedIn,
    Path(id): Path<String>,
    CheckedForm(_): CheckedForm<NoFields>,
) -> Result<Response, PageError> {
    let run = runs::retry(&state, &user.principal, run_id(&id)?).await?;
    Ok(Redirect::to(&format!("/workflows/{}", run.id)).into_response())
}

/// The signal form of a run's page.
#[derive(serde::Deserialize)]
pub struct SignalForm {
    name: String,
    /// JSON; empty means `null`.
    #[serde(default)]
    payload: String,
}

/// `POST /workflows/{id}/signal` (admins).
pub async fn signal(
    State(state): State<App>,
    user: SignedIn,
    Path(id): Path<String>,
    CheckedForm(form): CheckedForm<SignalForm>,
) -> Result<Response, PageError> {
    let payload = match form.payload.trim() {
        "" => serde_json::Value::Null,
        text => serde_json::from_str(text)
            .map_err(|e| AppError::field("payload", format!("the payload is not JSON: {e}")))?,
    };
    let signal = domain::workflows::Signal {
        name: form.name.trim().to_string(),
        payload,
    };
    let run = runs::signal(&state, &user.principal, run_id(&id)?, signal).await?;
    Ok(Redirect::to(&format!("/workflows/{}", run.id)).into_response())
}
