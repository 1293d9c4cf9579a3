//! [`WorkflowEngine`] over a Temporal cluster. The database keeps a row per
//! run (tenant, type, workflow id) so that runs are walled by tenant like
//! everything else and listings need no cluster-wide query; the run's status
//! and history come from Temporal, and its end is copied into the row.

use super::{connect, Envelope, InboxSignal, NamedWorkflow, TemporalConfig};
use crate::change::Change;
use crate::error::engine_error;
use crate::{Registry, WorkflowMetrics};
use chrono::{DateTime, Utc};
use domain::audit::NewAuditEntry;
use domain::workflows::{
    AttemptRecord, EngineError, EngineFuture, Progress, RunDetail, RunFilter, RunStatus,
    RunSummary, ScheduleSpec, Signal, StartRun, Started, StepRecord, WorkflowEngine,
};
use domain::{RunId, TenantId, TenantScope};
use futures::StreamExt;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use store::workflows::{self as repo, RunRow};
use store::{audit, Store};
use temporalio_client::errors::{WorkflowInteractionError, WorkflowStartError};
use temporalio_client::{
    Client, UntypedWorkflow, WorkflowCancelOptions, WorkflowDescribeOptions,
    WorkflowExecutionStatus, WorkflowFetchHistoryOptions, WorkflowIdReusePolicy,
    WorkflowSignalOptions, WorkflowStartOptions,
};
use temporalio_common::protos::temporal::api::common::v1::Payloads;
use temporalio_common::protos::temporal::api::failure::v1::Failure;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
use tokio::sync::OnceCell;

/// How many live runs of a listing are asked about at once.
const LISTING_CONCURRENCY: usize = 8;

/// The Temporal engine.
#[derive(Clone)]
pub struct TemporalEngine {
    inner: Arc<Inner>,
}

struct Inner {
    config: TemporalConfig,
    client: OnceCell<Client>,
    store: Store,
    registry: Arc<Registry>,
    metrics: WorkflowMetrics,
}

fn unavailable(e: impl std::fmt::Display) -> EngineError {
    EngineError::Unavailable(format!("Temporal: {e}"))
}

/// The Temporal workflow id of a run: its owner and its dedup key.
fn workflow_id(tenant: Option<Uuid>, key: &str) -> String {
    match tenant {
        Some(t) => format!("{t}/{key}"),
        None => format!("platform/{key}"),
    }
}
use uuid::Uuid;

/// The Temporal schedule id of a schedule; its firings' workflow ids are
/// this with the firing time appended.
fn schedule_id(tenant: Option<TenantId>, name: &str) -> String {
    workflow_id(tenant.map(|t| t.as_uuid()), &format!("schedule/{name}"))
}

fn payload_json(p: Option<&Payloads>) -> Option<Value> {
    let first = p?.payloads.first()?;
    serde_json::from_slice(&first.data).ok()
}

fn failure_message(f: Option<&Failure>) -> Option<String> {
    let mut f = f?;
    while let Some(cause) = f.cause.as_deref() {
        f = cause;
    }
    Some(f.message.clone())
}

fn time_of(seconds: i64, nanos: i32) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(seconds, nanos.max(0) as u32)
}

/// What Temporal says about a run.
struct Observed {
    status: RunStatus,
    steps: Vec<StepRecord>,
    output: Option<Value>,
    error: Option<String>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
}

impl TemporalEngine {
    /// An engine for `config`; it connects on first use, so the server
    /// starts (and answers 503 for workflows) while Temporal is down.
    pub fn new(
        config: TemporalConfig,
        store: Store,
        registry: Arc<Registry>,
        metrics: WorkflowMetrics,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                client: OnceCell::new(),
                store,
                registry,
                metrics,
            }),
        }
    }

    async fn client(&self) -> Result<&Client, EngineError> {
        self.inner
            .client
            .get_or_try_init(|| connect(&self.inner.config))
            .await
            .map_err(EngineError::Unavailable)
    }

    async fn start_in_temporal(&self, row: &RunRow) -> Result<(), EngineError> {
        let client = self.client().await?;
        let envelope = Envelope {
            tenant: row.tenant_id.map(TenantId::from_uuid),
            run_id: RunId::from_uuid(row.id),
            input: serde_json::from_str(&row.input).unwrap_or(Value::Null),
            scheduled: false,
        };
        let options = WorkflowStartOptions::new(
            self.inner.config.task_queue.clone(),
            workflow_id(row.tenant_id, &row.dedup_key),
        )
        .id_reuse_policy(WorkflowIdReusePolicy::AllowDuplicateFailedOnly)
        .build();
        match client
            .start_workflow(
                NamedWorkflow(row.workflow_type.clone()),
                json!(envelope),
                options,
            )
            .await
        {
            // Started by an earlier attempt whose answer was lost: the same run.
            Ok(_) | Err(WorkflowStartError::AlreadyStarted { .. }) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn start_run(&self, req: StartRun) -> Result<Started, EngineError> {
        // The row and the audit entry commit only once Temporal has the run:
        // an outage leaves nothing behind, and a retry finds nothing to undo.
        let (row, created) = crate::start::record_start(
            &self.inner.store,
            &self.inner.registry,
            req,
            "temporal",
            async |row| self.start_in_temporal(row).await,
        )
        .await?;
        if created {
            self.inner.metrics.run(&row.workflow_type, "started");
        }
        Ok(Started {
            run: row.summary(),
            created,
        })
    }

    /// Reads a run's status and history from Temporal.
    async fn observe(&self, row: &RunRow) -> Result<Observed, EngineError> {
        let client = self.client().await?;
        let handle = client
            .get_workflow_handle::<UntypedWorkflow>(workflow_id(row.tenant_id, &row.dedup_key));
        let described = handle
            .describe(WorkflowDescribeOptions::default())
            .await
            .map_err(unavailable)?;
        let mut status = match described.status() {
            WorkflowExecutionStatus::Completed => RunStatus::Succeeded,
            WorkflowExecutionStatus::Failed
            | WorkflowExecutionStatus::Terminated
            | WorkflowExecutionStatus::TimedOut => RunStatus::Failed,
            WorkflowExecutionStatus::Canceled => RunStatus::Cancelled,
            _ => RunStatus::Running,
        };
        let events = handle
            .fetch_history(WorkflowFetchHistoryOptions::default())
            .into_events()
            .await
            .map_err(unavailable)?;
        let mut steps: Vec<StepRecord> = Vec::new();
        let mut by_event: HashMap<i64, usize> = HashMap::new();
        let (mut output, mut error) = (None, None);
        for ev in events {
            let at = ev
                .event_time
                .as_ref()
                .and_then(|t| time_of(t.seconds, t.nanos))
                .unwrap_or_else(Utc::now);
            let Some(attrs) = ev.attributes else { continue };
            match attrs {
                Attributes::ActivityTaskScheduledEventAttributes(a) => {
                    by_event.insert(ev.event_id, steps.len());
                    steps.push(StepRecord {
                        seq: steps.len() as u32,
                        kind: "activity".into(),
                        name: a.activity_type.map(|t| t.name).unwrap_or_default(),
                        status: "running".into(),
                        attempts: vec![],
                        started_at: at,
                        finished_at: None,
                    });
                }
                Attributes::ActivityTaskStartedEventAttributes(a) => {
                    if let Some(&i) = by_event.get(&a.scheduled_event_id) {
                        let last = failure_message(a.last_failure.as_ref());
                        // Temporal keeps the last attempt only; earlier ones
                        // failed, with the last failure it recorded.
                        steps[i].attempts = (1..a.attempt.max(1))
                            .map(|n| AttemptRecord {
                                attempt: n as u32,
                                outcome: "failed".into(),
                                error: last.clone(),
                                started_at: steps[i].started_at,
                                finished_at: None,
                                duration_ms: None,
                            })
                            .collect();
                        steps[i].attempts.push(AttemptRecord {
                            attempt: a.attempt.max(1) as u32,
                            outcome: "running".into(),
                            error: None,
                            started_at: at,
                            finished_at: None,
                            duration_ms: None,
                        });
                    }
                }
                Attributes::ActivityTaskCompletedEventAttributes(a) => {
                    end_step(
                        &mut steps,
                        &by_event,
                        a.scheduled_event_id,
                        "succeeded",
                        None,
                        at,
                    );
                }
                Attributes::ActivityTaskFailedEventAttributes(a) => {
                    let msg = failure_message(a.failure.as_ref());
                    end_step(
                        &mut steps,
                        &by_event,
                        a.scheduled_event_id,
                        "failed",
                        msg,
                        at,
                    );
                }
                Attributes::ActivityTaskTimedOutEventAttributes(a) => {
                    end_step(
                        &mut steps,
                        &by_event,
                        a.scheduled_event_id,
                        "failed",
                        Some("timed out".into()),
                        at,
                    );
                }
                Attributes::ActivityTaskCanceledEventAttributes(a) => {
                    end_step(
                        &mut steps,
                        &by_event,
                        a.scheduled_event_id,
                        "cancelled",
                        None,
                        at,
                    );
                }
                Attributes::TimerStartedEventAttributes(_) => {
                    by_event.insert(ev.event_id, steps.len());
                    steps.push(StepRecord {
                        seq: steps.len() as u32,
                        kind: "timer".into(),
                        name: "timer".into(),
                        status: "waiting".into(),
                        attempts: vec![],
                        started_at: at,
                        finished_at: None,
                    });
                }
                Attributes::TimerFiredEventAttributes(a) => {
                    if let Some(&i) = by_event.get(&a.started_event_id) {
                        steps[i].status = "succeeded".into();
                        steps[i].finished_at = Some(at);
                    }
                }
                Attributes::StartChildWorkflowExecutionInitiatedEventAttributes(a) => {
                    steps.push(StepRecord {
                        seq: steps.len() as u32,
                        kind: "child".into(),
                        name: a.workflow_type.map(|t| t.name).unwrap_or_default(),
                        status: "waiting".into(),
                        attempts: vec![],
                        started_at: at,
                        finished_at: None,
                    });
                }
                Attributes::WorkflowExecutionSignaledEventAttributes(a) => {
                    // A signal shows as a step of its own name, done when it
                    // arrived (the run takes it when it waits for it).
                    let name = payload_json(a.input.as_ref())
                        .and_then(|v| v.get("name").and_then(Value::as_str).map(str::to_owned))
                        .unwrap_or(a.signal_name);
                    steps.push(StepRecord {
                        seq: steps.len() as u32,
                        kind: "signal".into(),
                        name,
                        status: "succeeded".into(),
                        attempts: vec![],
                        started_at: at,
                        finished_at: Some(at),
                    });
                }
                Attributes::WorkflowExecutionCompletedEventAttributes(a) => {
                    output = payload_json(a.result.as_ref());
                }
                Attributes::WorkflowExecutionFailedEventAttributes(a) => {
                    error = failure_message(a.failure.as_ref());
                }
                Attributes::WorkflowExecutionCanceledEventAttributes(_) => {
                    error = Some("cancelled on request".into());
                }
                _ => {}
            }
        }
        // Waiting on a timer or a child is sleeping, as on the embedded runner.
        if status == RunStatus::Running && steps.last().is_some_and(|s| s.status == "waiting") {
            status = RunStatus::Sleeping;
        }
        // An activity between attempts shows as pending with its last failure.
        for p in &described.raw().pending_activities {
            if p.attempt > 1 && status == RunStatus::Running {
                status = RunStatus::Retrying;
                error = failure_message(p.last_failure.as_ref()).or(error);
            }
        }
        Ok(Observed {
            status,
            steps,
            output,
            error,
            started_at: described.start_time().map(DateTime::<Utc>::from),
            finished_at: described.close_time().map(DateTime::<Utc>::from),
        })
    }

    /// Copies an ended run's outcome into its row, so listings need not ask.
    async fn remember(&self, row: &RunRow, seen: &Observed) {
        if !seen.status.is_terminal() {
            return;
        }
        let Ok(mut tx) = self.inner.store.runner().await else {
            return;
        };
        let output = seen.output.as_ref().map(Value::to_string);
        let done = repo::record_outcome(
            &mut tx,
            row.id,
            seen.status,
            output.as_deref(),
            seen.error.as_deref(),
            seen.finished_at.unwrap_or_else(Utc::now),
        )
        .await;
        if done.is_ok() {
            let _ = tx.commit().await;
        }
    }

    fn summary(row: &RunRow, seen: Option<&Observed>) -> RunSummary {
        let mut s = row.summary();
        if let Some(o) = seen {
            s.status = o.status;
            s.started_at = o.started_at.or(s.started_at);
            s.finished_at = o.finished_at;
            s.last_error = o.error.clone().or(s.last_error);
            s.attempts = o.steps.iter().map(|st| st.attempts.len() as u32).sum();
            if s.progress.is_none() {
                let done = o.steps.iter().filter(|st| st.status == "succeeded").count() as u64;
                s.progress = (done > 0).then(|| Progress {
                    done,
                    total: None,
                    note: Some(format!("{done} steps done")),
                });
            }
        }
        s
    }

    async fn tenant_row(&self, scope: &TenantScope, id: RunId) -> Result<RunRow, EngineError> {
        let mut tx = self.inner.store.read(scope).await.map_err(engine_error)?;
        let row = repo::get(&mut tx, id)
            .await
            .map_err(engine_error)?
            .ok_or(EngineError::NotFound)?;
        tx.commit().await.map_err(engine_error)?;
        Ok(row)
    }

    async fn get_run(&self, scope: &TenantScope, id: RunId) -> Result<RunDetail, EngineError> {
        let row = self.tenant_row(scope, id).await?;
        let seen = self.observe(&row).await?;
        self.remember(&row, &seen).await;
        let input = serde_json::from_str(&row.input).unwrap_or(Value::Null);
        Ok(RunDetail {
            run: Self::summary(&row, Some(&seen)),
            input,
            output: seen.output.clone(),
            steps: seen.steps,
        })
    }

    async fn list_runs(
        &self,
        scope: &TenantScope,
        filter: RunFilter,
    ) -> Result<Vec<RunSummary>, EngineError> {
        let mut tx = self.inner.store.read(scope).await.map_err(engine_error)?;
        let rows = repo::list(&mut tx, &filter).await.map_err(engine_error)?;
        tx.commit().await.map_err(engine_error)?;
        // Live runs are asked about a few at a time.
        let asks: Vec<_> = rows.iter().map(|row| self.current(row)).collect();
        Ok(futures::stream::iter(asks)
            .buffered(LISTING_CONCURRENCY)
            .collect()
            .await)
    }

    /// A run as it is now: an ended run as its row remembers it, a live one
    /// as Temporal reports it (or as the row knows it, while Temporal cannot
    /// be asked).
    async fn current(&self, row: &RunRow) -> RunSummary {
        if row.status().is_terminal() {
            return row.summary();
        }
        match self.observe(row).await {
            Ok(seen) => {
                self.remember(row, &seen).await;
                Self::summary(row, Some(&seen))
            }
            Err(_) => row.summary(),
        }
    }

    async fn steer(
        &self,
        scope: &TenantScope,
        id: RunId,
        change: Change<'_>,
    ) -> Result<RunSummary, EngineError> {
        let row = self.tenant_row(scope, id).await?;
        let seen = self.observe(&row).await?;
        change.check(seen.status)?;
        let mut tx = self.inner.store.write(scope).await.map_err(engine_error)?;
        let mut metadata = json!({ "workflow_type": row.workflow_type, "previous_status": seen.status.as_str(), "engine": "temporal" });
        if let Change::Signal(signal) = change {
            metadata["signal"] = json!(signal.name);
        }
        let entry = NewAuditEntry::new(change.action(), "workflow_run", Some(id.to_string()))
            .with_metadata(metadata);
        audit::record(&mut tx, entry).await.map_err(engine_error)?;
        let mut summary = Self::summary(&row, Some(&seen));
        let wid = workflow_id(row.tenant_id, &row.dedup_key);
        match change {
            Change::Cancel => {
                self.client()
                    .await?
                    .get_workflow_handle::<UntypedWorkflow>(wid)
                    .cancel(
                        WorkflowCancelOptions::builder()
                            .reason("cancelled on request".to_string())
                            .build(),
                    )
                    .await
                    .map_err(unavailable)?;
            }
            Change::Signal(signal) => {
                self.client()
                    .await?
                    .get_workflow_handle::<NamedWorkflow>(wid)
                    .signal(InboxSignal, json!(signal), WorkflowSignalOptions::default())
                    .await
                    .map_err(|e| match e {
                        WorkflowInteractionError::NotFound(_) => EngineError::Conflict(
                            "the run ended before the signal reached it".into(),
                        ),
                        other => unavailable(other),
                    })?;
            }
            Change::Retry => {
                // A new execution under the same workflow id, from the start:
                // Temporal keeps no partial results to resume from.
                self.start_in_temporal(&row).await?;
                repo::mark_requeued(&mut tx, row.id, Utc::now())
                    .await
                    .map_err(engine_error)?;
                summary.status = RunStatus::Queued;
                summary.finished_at = None;
            }
        }
        tx.commit().await.map_err(engine_error)?;
        Ok(summary)
    }
}

impl TemporalEngine {
    /// A Temporal schedule per ours, replaced when it exists. Temporal
    /// schedules fire at minute resolution: a cron expression's seconds field
    /// must be `0`.
    async fn upsert_schedule(&self, spec: ScheduleSpec) -> Result<(), EngineError> {
        use temporalio_client::schedules::{
            CreateScheduleOptions, DeleteScheduleOptions, ScheduleAction, ScheduleSpec as TSpec,
        };
        if self
            .inner
            .registry
            .get_workflow(&spec.workflow_type)
            .is_none()
        {
            return Err(EngineError::Invalid(format!(
                "unknown workflow type {:?}",
                spec.workflow_type
            )));
        }
        crate::cadence::check(&spec.cadence).map_err(EngineError::Invalid)?;
        let when = match &spec.cadence {
            domain::workflows::Cadence::Every(d) => TSpec::from_interval(*d),
            domain::workflows::Cadence::Cron(c) => {
                let fields: Vec<&str> = c.split_whitespace().collect();
                if fields.len() != 6 || fields[0] != "0" {
                    return Err(EngineError::Invalid(format!(
                        "Temporal schedules fire at minute resolution; {c:?} needs `0` as its seconds field"
                    )));
                }
                TSpec::builder()
                    .cron_strings(vec![fields[1..].join(" ")])
                    .build()
            }
        };
        let id = schedule_id(spec.tenant, &spec.name);
        // Each firing gets a run of its own when it starts (see `enter`).
        let envelope = Envelope {
            tenant: spec.tenant,
            run_id: RunId::new(),
            input: spec.input.clone(),
            scheduled: true,
        };
        let action = ScheduleAction::start_workflow(
            NamedWorkflow(spec.workflow_type.clone()),
            json!(envelope),
            self.inner.config.task_queue.clone(),
            id.clone(),
        );
        let client = self.client().await?;
        let create = || {
            CreateScheduleOptions::builder()
                .action(action.clone())
                .spec(when.clone())
                .build()
        };
        match client.create_schedule(id.clone(), create()).await {
            Ok(_) => Ok(()),
            Err(temporalio_client::schedules::ScheduleError::Rpc(s))
                if s.code() == temporalio_client::tonic::Code::AlreadyExists =>
            {
                client
                    .get_schedule_handle(id.clone())
                    .delete(DeleteScheduleOptions::default())
                    .await
                    .map_err(unavailable)?;
                client
                    .create_schedule(id, create())
                    .await
                    .map(|_| ())
                    .map_err(unavailable)
            }
            Err(e) => Err(unavailable(e)),
        }
    }
}

fn end_step(
    steps: &mut [StepRecord],
    by_event: &HashMap<i64, usize>,
    scheduled: i64,
    status: &str,
    error: Option<String>,
    at: DateTime<Utc>,
) {
    let Some(&i) = by_event.get(&scheduled) else {
        return;
    };
    let step = &mut steps[i];
    step.status = status.into();
    step.finished_at = Some(at);
    if let Some(last) = step.attempts.last_mut() {
        last.outcome = status.into();
        last.error = error;
        last.finished_at = Some(at);
        last.duration_ms = Some((at - last.started_at).num_milliseconds().max(0) as u64);
    }
}

impl WorkflowEngine for TemporalEngine {
    fn name(&self) -> &'static str {
        "temporal"
    }

    fn start(&self, req: StartRun) -> EngineFuture<'_, Started> {
        Box::pin(self.start_run(req))
    }

    fn get<'a>(&'a self, scope: &'a TenantScope, id: RunId) -> EngineFuture<'a, RunDetail> {
        Box::pin(self.get_run(scope, id))
    }

    fn list<'a>(
        &'a self,
        scope: &'a TenantScope,
        filter: RunFilter,
    ) -> EngineFuture<'a, Vec<RunSummary>> {
        Box::pin(self.list_runs(scope, filter))
    }

    fn cancel<'a>(&'a self, scope: &'a TenantScope, id: RunId) -> EngineFuture<'a, RunSummary> {
        Box::pin(self.steer(scope, id, Change::Cancel))
    }

    fn retry<'a>(&'a self, scope: &'a TenantScope, id: RunId) -> EngineFuture<'a, RunSummary> {
        Box::pin(self.steer(scope, id, Change::Retry))
    }

    fn signal<'a>(
        &'a self,
        scope: &'a TenantScope,
        id: RunId,
        signal: Signal,
    ) -> EngineFuture<'a, RunSummary> {
        Box::pin(async move { self.steer(scope, id, Change::Signal(&signal)).await })
    }

    fn schedule(&self, spec: ScheduleSpec) -> EngineFuture<'_, ()> {
        Box::pin(self.upsert_schedule(spec))
    }

    fn unschedule<'a>(&'a self, tenant: Option<TenantId>, name: &'a str) -> EngineFuture<'a, bool> {
        Box::pin(async move {
            use temporalio_client::schedules::{DeleteScheduleOptions, ScheduleError};
            let id = schedule_id(tenant, name);
            let deleted = self
                .client()
                .await?
                .get_schedule_handle(id)
                .delete(DeleteScheduleOptions::default())
                .await;
            match deleted {
                Ok(_) => Ok(true),
                Err(ScheduleError::Rpc(s))
                    if s.code() == temporalio_client::tonic::Code::NotFound =>
                {
                    Ok(false)
                }
                Err(e) => Err(unavailable(e)),
            }
        })
    }
}
