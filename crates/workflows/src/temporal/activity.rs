//! Running one of our activities inside a Temporal worker.

use super::sdk::{ActivityContext, ActivityError as SdkError, BoxFuture};
use super::Envelope;
use crate::registry::ActivityFn;
use crate::{ActivityCtx, ActivityEnv};
use serde_json::Value;
use std::sync::Arc;
use temporalio_sdk::activities::{ActivityDefinitions, ActivityImplementer};
use temporalio_sdk::ApplicationFailure;
use tokio_util::sync::CancellationToken;

/// An activity's body and the platform parts it works with.
pub struct Implementation {
    /// The body.
    pub run: ActivityFn,
    /// Store and data directory.
    pub env: ActivityEnv,
}

impl ActivityImplementer for Implementation {
    // Each activity type registers itself with its implementation (see
    // `activity_def!`); there is nothing to register in bulk.
    fn register_all(self: Arc<Self>, _defs: &mut ActivityDefinitions) {}
}

/// Runs an activity for Temporal: unwraps the envelope, keys the effects by
/// the workflow and the activity's id (stable across attempts), and reports
/// a non-retryable error as one Temporal will not retry.
pub fn execute(
    implementation: Option<Arc<Implementation>>,
    ctx: ActivityContext,
    input: Value,
) -> BoxFuture<'static, Result<Value, SdkError>> {
    Box::pin(async move {
        let imp = implementation.ok_or_else(|| {
            SdkError::from(ApplicationFailure::non_retryable(
                "activity registered without its implementation",
            ))
        })?;
        let envelope: Envelope = serde_json::from_value(input).map_err(|e| {
            SdkError::from(ApplicationFailure::non_retryable(format!(
                "activity input is not an envelope: {e}"
            )))
        })?;
        let info = ctx.info();
        let cancelled = CancellationToken::new();
        let actx = ActivityCtx {
            env: imp.env.clone(),
            tenant: envelope.tenant,
            run_id: envelope.run_id,
            // The run, then the workflow id (a schedule's firings share the
            // run they were made from but each has its own workflow id; a
            // retried run keeps it), then the activity's place in the run.
            idempotency_key: format!(
                "{}/{}/{}",
                envelope.run_id,
                info.workflow_id.as_deref().unwrap_or_default(),
                info.activity_id
            ),
            attempt: info.attempt,
            cancelled: cancelled.clone(),
        };
        // Heartbeats tell Temporal this worker is alive, so an attempt on a
        // worker that died is retried after the heartbeat timeout rather
        // than the whole start-to-close timeout; their answers carry
        // cancellation, passed on to the activity.
        let body = (imp.run)(actx, envelope.input);
        tokio::pin!(body);
        let result = loop {
            tokio::select! {
                r = &mut body => break r,
                _ = tokio::time::sleep(super::HEARTBEAT_EVERY) => {
                    let _ = ctx.record_heartbeat(()).await;
                    if ctx.is_cancelled() {
                        cancelled.cancel();
                    }
                }
            }
        };
        match result {
            Ok(v) => Ok(v),
            Err(e) if e.retryable => Err(ApplicationFailure::new(e.message).into()),
            Err(e) => Err(ApplicationFailure::non_retryable(e.message).into()),
        }
    })
}

/// The activity through which a workflow on Temporal reports progress: it
/// lands on the run's row, where the API reads it.
pub const PROGRESS: &str = "bizosaas.progress";

async fn progress(
    ctx: ActivityCtx,
    p: domain::workflows::Progress,
) -> Result<(), domain::workflows::ActivityError> {
    let fail = |e: store::StoreError| domain::workflows::ActivityError::retryable(e.to_string());
    let mut tx = ctx.env.store.runner().await.map_err(fail)?;
    store::workflows::record_progress(&mut tx, ctx.run_id.as_uuid(), &p)
        .await
        .map_err(fail)?;
    tx.commit().await.map_err(fail)
}

/// The activity through which a schedule's firing on Temporal gets a run
/// row of its own (see [`super::enter`]).
pub const INDEX_RUN: &str = "bizosaas.index_run";

/// A firing of a Temporal schedule, as the workflow sees it start.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Firing {
    /// Temporal's workflow id: the schedule's, with the firing time.
    pub workflow_id: String,
    /// The workflow type the schedule starts.
    pub workflow_type: String,
    /// The schedule's input.
    pub input: Value,
}

async fn index_run(
    ctx: ActivityCtx,
    firing: Firing,
) -> Result<domain::RunId, domain::workflows::ActivityError> {
    use domain::workflows::ActivityError;
    let owner = ctx
        .tenant
        .map_or_else(|| "platform".to_string(), |t| t.to_string());
    // The row's key is what the engine turns back into this workflow id.
    let key = firing
        .workflow_id
        .strip_prefix(&format!("{owner}/"))
        .ok_or_else(|| {
            ActivityError::non_retryable(format!(
                "workflow id {:?} does not belong to {owner}",
                firing.workflow_id
            ))
        })?;
    let run = store::workflows::NewRun {
        id: domain::RunId::new(),
        tenant: ctx.tenant,
        workflow_type: firing.workflow_type,
        dedup_key: key.to_string(),
        input: firing.input.to_string(),
        parent: None,
        schedule: None,
    };
    let fail = |e: store::StoreError| ActivityError::retryable(e.to_string());
    let mut tx = ctx.env.store.runner().await.map_err(fail)?;
    // A retried attempt finds the row the first one made.
    let (row, _) = store::workflows::insert(&mut tx, &run, chrono::Utc::now())
        .await
        .map_err(fail)?;
    tx.commit().await.map_err(fail)?;
    Ok(domain::RunId::from_uuid(row.id))
}

/// The platform's own activities every worker registers.
pub fn bookkeeping_defs() -> [crate::ActivityDef; 2] {
    [
        crate::activity_def!(PROGRESS, progress),
        crate::activity_def!(INDEX_RUN, index_run),
    ]
}
