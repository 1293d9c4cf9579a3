//! What a tenant asks of one of its runs, and which runs can take it:
//! the rules both engines apply.

use domain::workflows::{EngineError, RunStatus, Signal};

/// What a tenant asks of one of its runs.
#[derive(Clone, Copy)]
pub(crate) enum Change<'a> {
    Cancel,
    Retry,
    Signal(&'a Signal),
}

impl Change<'_> {
    /// Whether the change is well formed and a run in `status` can take it.
    pub(crate) fn check(self, status: RunStatus) -> Result<(), EngineError> {
        if let Change::Signal(signal) = self {
            signal.validate().map_err(EngineError::Invalid)?;
        }
        let (allowed, verb) = match self {
            Change::Cancel => (!status.is_terminal(), "cancelled"),
            Change::Signal(_) => (!status.is_terminal(), "signalled"),
            Change::Retry => (
                matches!(status, RunStatus::Failed | RunStatus::Cancelled),
                "retried",
            ),
        };
        if allowed {
            return Ok(());
        }
        Err(EngineError::Conflict(format!(
            "a run that is {status} cannot be {verb}"
        )))
    }

    /// The audit action it is recorded as.
    pub(crate) fn action(self) -> &'static str {
        match self {
            Change::Cancel => "workflow.cancelled",
            Change::Retry => "workflow.retried",
            Change::Signal(_) => "workflow.signalled",
        }
    }
}
