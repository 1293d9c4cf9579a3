//! [`WorkflowCtx`] over Temporal's workflow context: activities, timers and
//! child workflows become Temporal commands, replayed from its history.

use super::{Envelope, NamedActivity, NamedWorkflow};
use crate::{ActivityOptions, WorkflowCtx, WorkflowError};
use domain::workflows::{Progress, RetryPolicy};
use domain::{RunId, TenantId};
use serde_json::{json, Value};
use std::cell::Cell;
use std::time::Duration;
use temporalio_common::protos::temporal::api::failure::v1::Failure;
use temporalio_sdk::{
    ApplicationFailure, ChildWorkflowOptions, WorkflowContext, WorkflowTermination,
};

/// A run executing on a Temporal worker.
pub struct TemporalCtx<'a, W> {
    ctx: &'a WorkflowContext<W>,
    tenant: Option<TenantId>,
    run_id: RunId,
    children: Cell<u32>,
}

/// Opens the envelope a workflow was started with. A schedule's firing
/// first gets a run row of its own (through a local activity, so a replay
/// finds the same run), so tenants see it like any run they started.
pub async fn enter<'a, W: super::HasInbox + 'static>(
    ctx: &'a WorkflowContext<W>,
    workflow_type: &'static str,
    input: Value,
) -> Result<(TemporalCtx<'a, W>, Value), WorkflowTermination> {
    let envelope: Envelope = serde_json::from_value(input).map_err(|e| {
        termination(WorkflowError::BadInput(format!(
            "workflow input is not an envelope: {e}"
        )))
    })?;
    let mut run = TemporalCtx {
        ctx,
        tenant: envelope.tenant,
        run_id: envelope.run_id,
        children: Cell::new(0),
    };
    if envelope.scheduled {
        let firing = super::activity::Firing {
            workflow_id: ctx.workflow_id().to_string(),
            workflow_type: workflow_type.to_string(),
            input: envelope.input.clone(),
        };
        run.run_id = run
            .activity(super::activity::INDEX_RUN, &firing, &bookkeeping())
            .await
            .map_err(termination)?;
    }
    Ok((run, envelope.input))
}

/// Options of the platform's own short steps (progress, run index).
fn bookkeeping() -> ActivityOptions {
    ActivityOptions::retry(RetryPolicy {
        max_attempts: 3,
        timeout: Duration::from_secs(10),
        ..Default::default()
    })
    .local()
}

/// How a workflow error ends the Temporal workflow.
pub fn termination(e: WorkflowError) -> WorkflowTermination {
    match e {
        WorkflowError::Cancelled => WorkflowTermination::cancelled(),
        other => ApplicationFailure::non_retryable(other.to_string()).into(),
    }
}

fn retry_policy(p: &RetryPolicy) -> temporalio_common::RetryPolicy {
    temporalio_common::RetryPolicy::builder()
        .initial_interval(p.initial_backoff)
        .backoff_coefficient(p.multiplier)
        .maximum_interval(p.max_backoff)
        .maximum_attempts(p.max_attempts)
        .build()
}

/// The innermost message of a failure chain: the activity's own error.
fn root_message(f: &Failure) -> String {
    let mut f = f;
    while let Some(cause) = f.cause.as_deref() {
        f = cause;
    }
    f.message.clone()
}

impl<W> TemporalCtx<'_, W> {
    fn envelope(&self, input: Value) -> Value {
        json!(Envelope {
            tenant: self.tenant,
            run_id: self.run_id,
            input,
            scheduled: false,
        })
    }
}

impl<W: super::HasInbox + 'static> WorkflowCtx for TemporalCtx<'_, W> {
    fn tenant(&self) -> Option<TenantId> {
        self.tenant
    }

    fn run_id(&self) -> String {
        self.run_id.to_string()
    }

    async fn call_activity(
        &self,
        name: &'static str,
        input: Value,
        opts: &ActivityOptions,
    ) -> Result<Value, WorkflowError> {
        let envelope = self.envelope(input);
        let result = if opts.local {
            let options = temporalio_sdk::LocalActivityOptions::builder()
                .retry_policy(retry_policy(&opts.retry))
                .start_to_close_timeout(opts.retry.timeout)
                .build();
            self.ctx
                .execute_local_activity(NamedActivity(name), envelope, options)
                .await
        } else {
            let options =
                temporalio_sdk::ActivityOptions::with_start_to_close_timeout(opts.retry.timeout)
                    .retry_policy(retry_policy(&opts.retry))
                    .heartbeat_timeout(super::HEARTBEAT_TIMEOUT)
                    .build();
            self.ctx
                .execute_activity(NamedActivity(name), envelope, options)
                .await
        };
        result.map_err(|e| match e {
            temporalio_sdk::ActivityExecutionError::Cancelled(_) => WorkflowError::Cancelled,
            other => WorkflowError::ActivityFailed {
                activity: name.into(),
                message: other
                    .failure()
                    .map(root_message)
                    .unwrap_or_else(|| other.to_string()),
            },
        })
    }

    async fn sleep(&self, _label: &'static str, duration: Duration) -> Result<(), WorkflowError> {
        match self.ctx.timer(duration).await {
            temporalio_sdk::TimerResult::Fired => Ok(()),
            temporalio_sdk::TimerResult::Cancelled => Err(WorkflowError::Cancelled),
        }
    }

    async fn child(
        &self,
        workflow_type: &'static str,
        input: Value,
    ) -> Result<Value, WorkflowError> {
        let n = self.children.get();
        self.children.set(n + 1);
        let options = ChildWorkflowOptions::builder()
            .workflow_id(format!("{}/child-{n}", self.ctx.workflow_id()))
            .build();
        let failed = |message: String| WorkflowError::ChildFailed {
            workflow: workflow_type.into(),
            message,
        };
        let started = self
            .ctx
            .start_child_workflow(
                NamedWorkflow(workflow_type.into()),
                self.envelope(input),
                options,
            )
            .await
            .map_err(|e| failed(e.to_string()))?;
        started.result().await.map_err(|e| failed(e.to_string()))
    }

    async fn signal(&self, name: &str) -> Result<Value, WorkflowError> {
        self.ctx
            .wait_condition(|w: &W| w.inbox_ref().has(name))
            .await
            .map_err(|_| WorkflowError::Cancelled)?;
        self.ctx
            .state_mut(|w| w.inbox().take(name))
            .ok_or_else(|| WorkflowError::engine("a signal that arrived was gone when taken"))
    }

    async fn progress(&self, progress: Progress) -> Result<(), WorkflowError> {
        self.call_activity(super::activity::PROGRESS, json!(progress), &bookkeeping())
            .await
            .map(|_| ())
    }
}
