//! What workflow code can do: the one interface both engines implement.

use crate::WorkflowError;
use domain::workflows::{Progress, RetryPolicy};
use domain::TenantId;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::future::Future;
use std::time::Duration;

/// How one activity call is run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ActivityOptions {
    /// Attempts, backoff and timeout.
    pub retry: RetryPolicy,
    /// A short activity (well under a few seconds, no heartbeats needed):
    /// Temporal runs it as a local activity, inside the workflow task on the
    /// worker that runs the workflow, without a round trip through the
    /// cluster's task queue per call. Its result is recorded in the history
    /// all the same. The embedded runner runs every activity that way.
    pub local: bool,
}

impl ActivityOptions {
    /// Options with this retry policy.
    pub fn retry(retry: RetryPolicy) -> Self {
        Self {
            retry,
            local: false,
        }
    }

    /// The same options for a short activity (see [`ActivityOptions::local`]).
    pub fn local(mut self) -> Self {
        self.local = true;
        self
    }
}

/// The context a workflow runs in. Each call is a durable step: on replay
/// (after a crash, a retry's backoff or a timer) a step that already finished
/// returns its recorded result instead of running again, so workflow code
/// must reach the same steps in the same order given the same results (no
/// clocks, randomness or I/O outside activities).
///
/// The futures carry no `Send` bound on purpose: Temporal's workflow context
/// is single-threaded. The embedded runner's are `Send`, which is what it needs.
#[allow(async_fn_in_trait)]
pub trait WorkflowCtx {
    /// The tenant the run belongs to (`None`: platform maintenance).
    fn tenant(&self) -> Option<TenantId>;

    /// The run's id, stable across replays.
    fn run_id(&self) -> String;

    /// Runs an activity (by its registered name) with retries per `opts`,
    /// or returns its recorded result.
    fn call_activity(
        &self,
        name: &'static str,
        input: Value,
        opts: &ActivityOptions,
    ) -> impl Future<Output = Result<Value, WorkflowError>>;

    /// Waits durably: the run is let go and continues after `duration`,
    /// even across restarts.
    fn sleep(
        &self,
        label: &'static str,
        duration: Duration,
    ) -> impl Future<Output = Result<(), WorkflowError>>;

    /// Runs a child workflow of the same tenant and waits for its result.
    fn child(
        &self,
        workflow_type: &'static str,
        input: Value,
    ) -> impl Future<Output = Result<Value, WorkflowError>>;

    /// Waits durably for the next signal named `name` (see
    /// [`domain::workflows::Signal`]) and returns its payload. Signals that
    /// arrived earlier wait in order, so none is missed.
    fn signal(&self, name: &str) -> impl Future<Output = Result<Value, WorkflowError>>;

    /// Reports progress, shown with the run (not journaled: the latest wins).
    fn progress(&self, progress: Progress) -> impl Future<Output = Result<(), WorkflowError>>;

    /// [`WorkflowCtx::call_activity`] with typed input and output.
    async fn activity<I: Serialize, O: DeserializeOwned>(
        &self,
        name: &'static str,
        input: &I,
        opts: &ActivityOptions,
    ) -> Result<O, WorkflowError> {
        let input = serde_json::to_value(input).map_err(WorkflowError::bad_input)?;
        let out = self.call_activity(name, input, opts).await?;
        serde_json::from_value(out).map_err(|e| WorkflowError::ActivityFailed {
            activity: name.into(),
            message: format!("its output does not have the expected shape: {e}"),
        })
    }
}
