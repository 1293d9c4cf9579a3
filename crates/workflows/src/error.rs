//! How a workflow ends other than with a result.

use chrono::{DateTime, Utc};
use domain::workflows::RunStatus;

/// Why a workflow did not return a result (yet).
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// An activity failed for good (non-retryable, or out of attempts).
    #[error("activity {activity} failed: {message}")]
    ActivityFailed {
        /// The activity.
        activity: String,
        /// Its error.
        message: String,
    },
    /// A child workflow failed.
    #[error("child workflow {workflow} failed: {message}")]
    ChildFailed {
        /// The child's workflow type.
        workflow: String,
        /// Its error.
        message: String,
    },
    /// The workflow itself decided to fail.
    #[error("{0}")]
    Failed(String),
    /// Its input does not fit the workflow.
    #[error("invalid input: {0}")]
    BadInput(String),
    /// Someone asked the run to stop.
    #[error("cancelled on request")]
    Cancelled,
    /// The run must wait (a retry's backoff, a timer, a child) and continues
    /// at `until`; the engine lets go of it meanwhile. Workflow code passes it
    /// on with `?` and never makes one.
    #[error("waiting until {until}")]
    Suspended {
        /// When it continues.
        until: DateTime<Utc>,
        /// What it waits in (`retrying` or `sleeping`).
        status: RunStatus,
        /// The error of the attempt that is being retried.
        error: Option<String>,
    },
    /// The journal does not match the code: the workflow changed under a
    /// running run.
    #[error("the workflow's code no longer matches its history: {0}")]
    Nondeterminism(String),
    /// The engine's own storage failed; the run is tried again later.
    #[error("the workflow engine could not record progress: {0}")]
    Engine(String),
}

impl WorkflowError {
    /// For `map_err` on input deserialization.
    pub fn bad_input(e: impl std::fmt::Display) -> Self {
        Self::BadInput(e.to_string())
    }
    /// For errors of the engine's storage.
    pub fn engine(e: impl std::fmt::Display) -> Self {
        Self::Engine(e.to_string())
    }
}

/// How a storage failure reaches an engine's caller: an outage is
/// `Unavailable` (the API answers 503), a missing row `NotFound`.
pub(crate) fn engine_error(e: store::StoreError) -> domain::workflows::EngineError {
    use domain::workflows::EngineError;
    match e {
        store::StoreError::Unavailable(m) => EngineError::Unavailable(m),
        store::StoreError::NotFound => EngineError::NotFound,
        other => EngineError::Other(other.to_string()),
    }
}
