//! Durable workflows: what a run is, how activities retry, and the port both
//! engines (the embedded runner and Temporal) implement.

use crate::paging::{Cursor, Limit};
use crate::{RunId, TenantId, TenantScope};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// Where a run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Accepted, waiting for a worker.
    Queued,
    /// A worker is executing it.
    Running,
    /// An activity failed and will be tried again after a backoff.
    Retrying,
    /// Waiting on a timer, a child workflow or a signal.
    Sleeping,
    /// Finished with a result.
    Succeeded,
    /// Stopped by an error that retrying would not fix (or retries ran out).
    Failed,
    /// Stopped because someone asked.
    Cancelled,
}

impl RunStatus {
    /// Every status, in the order a run passes through them.
    pub const ALL: [RunStatus; 7] = [
        Self::Queued,
        Self::Running,
        Self::Retrying,
        Self::Sleeping,
        Self::Succeeded,
        Self::Failed,
        Self::Cancelled,
    ];

    /// The stored and serialized name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Retrying => "retrying",
            Self::Sleeping => "sleeping",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Reads a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether the run has ended (nothing more will execute).
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an activity is retried.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1: never retried).
    pub max_attempts: u32,
    /// Wait before the second attempt.
    pub initial_backoff: Duration,
    /// Each further wait is this many times the last.
    pub multiplier: f64,
    /// Waits never grow beyond this.
    pub max_backoff: Duration,
    /// One attempt may take this long before it counts as failed.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_secs(1),
            multiplier: 2.0,
            max_backoff: Duration::from_secs(300),
            timeout: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (1-based), before
    /// jitter: `initial × multiplier^(attempt-1)`, capped.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .multiplier
            .powi(attempt.saturating_sub(1).min(64) as i32);
        let secs = (self.initial_backoff.as_secs_f64() * exp).min(self.max_backoff.as_secs_f64());
        Duration::from_secs_f64(secs.max(0.0))
    }

    /// The backoff with "equal jitter": half fixed, half random, so retries
    /// of many runs failing together spread out instead of arriving at once.
    /// `unit` is a random number in [0, 1).
    pub fn jittered_backoff(&self, attempt: u32, unit: f64) -> Duration {
        let base = self.backoff(attempt);
        base / 2 + base.mul_f64(unit.clamp(0.0, 1.0) / 2.0)
    }
}

/// Why an activity attempt failed, as the activity reports it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{message}")]
pub struct ActivityError {
    /// What went wrong, for people.
    pub message: String,
    /// Whether another attempt could succeed.
    pub retryable: bool,
}

impl ActivityError {
    /// A failure another attempt may not have (an outage, a timeout).
    pub fn retryable(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: true,
        }
    }
    /// A failure that retrying cannot fix (bad input, a refused request).
    pub fn non_retryable(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: false,
        }
    }
}

/// A request to start a run.
#[derive(Clone, Debug)]
pub struct StartRun {
    /// The tenant it runs for; `None` for platform maintenance.
    pub tenant: Option<TenantId>,
    /// Who asked (audited), when a tenant's member or token did.
    pub requested_by: Option<TenantScope>,
    /// A registered workflow type.
    pub workflow_type: String,
    /// Its input.
    pub input: serde_json::Value,
    /// Workflow id: starting again with the same key returns the same run.
    pub dedup_key: Option<String>,
}

/// A message for a live run, which its code takes with `ctx.signal(name)`.
/// Signals wait in the order they arrived until the run asks for one of
/// their name. They are stored as given: they are not for secrets.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Signal {
    /// What the run waits for: 1 to 100 letters, digits, `.`, `_` or `-`.
    pub name: String,
    /// Any JSON, up to 64 KiB (default `null`).
    #[serde(default)]
    pub payload: serde_json::Value,
}

/// The largest signal payload, serialized.
pub const SIGNAL_PAYLOAD_MAX: usize = 64 * 1024;

impl Signal {
    /// Checks the name and the payload's size; the error says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        let name_ok = (1..=100).contains(&self.name.len())
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !name_ok {
            return Err(format!(
                "signal name {:?} must be 1 to 100 letters, digits, `.`, `_` or `-`",
                self.name
            ));
        }
        let size = self.payload.to_string().len();
        if size > SIGNAL_PAYLOAD_MAX {
            return Err(format!(
                "signal payload is {size} bytes; at most {SIGNAL_PAYLOAD_MAX} are accepted"
            ));
        }
        Ok(())
    }
}

/// What starting a run did.
#[derive(Clone, Debug)]
pub struct Started {
    /// The run (new, or the one with the same dedup key).
    pub run: RunSummary,
    /// Whether this call created it.
    pub created: bool,
}

/// A run, as listings show it.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RunSummary {
    /// Run id.
    pub id: RunId,
    /// Workflow type.
    pub workflow_type: String,
    /// Workflow id given at start (dedup key).
    pub workflow_key: String,
    /// Where it stands.
    pub status: RunStatus,
    /// When it was accepted.
    pub created_at: DateTime<Utc>,
    /// When a worker first picked it up.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// Activity attempts made so far.
    pub attempts: u32,
    /// Progress the workflow reported.
    pub progress: Option<Progress>,
    /// The error that stopped it, or of the last failed attempt.
    pub last_error: Option<String>,
    /// When a retrying or sleeping run continues.
    pub next_run_at: Option<DateTime<Utc>>,
}

/// Progress a workflow reports: `done` of `total` (when known), and a note.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Progress {
    /// Units done.
    pub done: u64,
    /// Units in all, when known.
    pub total: Option<u64>,
    /// What it is doing.
    pub note: Option<String>,
}

/// A run with its history.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RunDetail {
    /// The run.
    #[serde(flatten)]
    pub run: RunSummary,
    /// Its input.
    pub input: serde_json::Value,
    /// Its result, once succeeded.
    pub output: Option<serde_json::Value>,
    /// Activities, timers and child workflows, in order.
    pub steps: Vec<StepRecord>,
}

/// One step of a run's history.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StepRecord {
    /// Position in the run.
    pub seq: u32,
    /// `activity`, `timer` or `child`.
    pub kind: String,
    /// Activity or workflow type, or the timer's label.
    pub name: String,
    /// `running`, `retrying`, `waiting`, `succeeded`, `failed` or `cancelled`.
    pub status: String,
    /// Its attempts.
    pub attempts: Vec<AttemptRecord>,
    /// When the step began.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
}

/// One attempt of an activity.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AttemptRecord {
    /// 1-based.
    pub attempt: u32,
    /// `running`, `succeeded`, `failed`, `lost` (its worker died) or `cancelled`.
    pub outcome: String,
    /// The error it failed with.
    pub error: Option<String>,
    /// When it began.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// How long it took, in milliseconds.
    pub duration_ms: Option<u64>,
}

/// Which runs a listing returns.
#[derive(Clone, Copy, Debug)]
pub struct RunFilter {
    /// Only runs in this status.
    pub status: Option<RunStatus>,
    /// Page size.
    pub limit: Limit,
    /// Continue after this position (newest first).
    pub cursor: Option<Cursor>,
}

/// When a schedule starts runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cadence {
    /// Every so often, from when the schedule was made.
    Every(Duration),
    /// A cron expression with seconds (`sec min hour day month weekday`), UTC.
    Cron(String),
}

/// A schedule to create or replace (by name).
#[derive(Clone, Debug)]
pub struct ScheduleSpec {
    /// The tenant its runs belong to; `None` for platform maintenance.
    pub tenant: Option<TenantId>,
    /// Unique per tenant; making a schedule with an existing name replaces it.
    pub name: String,
    /// The workflow each firing starts.
    pub workflow_type: String,
    /// Its input.
    pub input: serde_json::Value,
    /// When.
    pub cadence: Cadence,
}

/// What an engine reports when it cannot do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The engine (its database or server) cannot be reached now; nothing
    /// was accepted.
    #[error("the workflow engine is unavailable: {0}")]
    Unavailable(String),
    /// No such run for this tenant.
    #[error("no such workflow run")]
    NotFound,
    /// The request does not fit the run's state (cancel a finished run).
    #[error("{0}")]
    Conflict(String),
    /// The request itself is wrong (an unknown workflow type, bad input).
    #[error("{0}")]
    Invalid(String),
    /// Anything else.
    #[error("workflow engine error: {0}")]
    Other(String),
}

/// The boxed future every [`WorkflowEngine`] method returns.
pub type EngineFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, EngineError>> + Send + 'a>>;

/// Starts, watches and steers workflow runs. Adapters: the embedded runner
/// (runs in the database) and Temporal.
pub trait WorkflowEngine: Send + Sync {
    /// The engine's name (`embedded`, `temporal`).
    fn name(&self) -> &'static str;

    /// Starts a run, or returns the existing one with the same dedup key.
    fn start(&self, req: StartRun) -> EngineFuture<'_, Started>;

    /// One of the caller's tenant's runs with its history.
    fn get<'a>(&'a self, scope: &'a TenantScope, id: RunId) -> EngineFuture<'a, RunDetail>;

    /// The caller's tenant's runs, newest first.
    fn list<'a>(
        &'a self,
        scope: &'a TenantScope,
        filter: RunFilter,
    ) -> EngineFuture<'a, Vec<RunSummary>>;

    /// Asks a run to stop; it ends as cancelled.
    fn cancel<'a>(&'a self, scope: &'a TenantScope, id: RunId) -> EngineFuture<'a, RunSummary>;

    /// Runs a failed or cancelled run again from the step that stopped it.
    fn retry<'a>(&'a self, scope: &'a TenantScope, id: RunId) -> EngineFuture<'a, RunSummary>;

    /// Creates or replaces a schedule.
    fn schedule(&self, spec: ScheduleSpec) -> EngineFuture<'_, ()>;

    /// Removes a schedule by owner and name; the runs it started stay.
    /// Returns whether there was one.
    fn unschedule<'a>(&'a self, tenant: Option<TenantId>, name: &'a str) -> EngineFuture<'a, bool>;

    /// Delivers a signal to a live run (see [`Signal`]).
    fn signal<'a>(
        &'a self,
        scope: &'a TenantScope,
        id: RunId,
        signal: Signal,
    ) -> EngineFuture<'a, RunSummary>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            multiplier: 2.0,
            max_backoff: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn backoff_doubles_from_the_initial_wait_up_to_the_cap() {
        let p = policy();
        assert_eq!(p.backoff(1), Duration::from_millis(100));
        assert_eq!(p.backoff(2), Duration::from_millis(200));
        assert_eq!(p.backoff(4), Duration::from_millis(800));
        assert_eq!(p.backoff(5), Duration::from_secs(1));
        assert_eq!(p.backoff(60), Duration::from_secs(1));
    }

    #[test]
    fn jitter_keeps_at_least_half_of_the_backoff() {
        let p = policy();
        assert_eq!(p.jittered_backoff(2, 0.0), Duration::from_millis(100));
        assert_eq!(p.jittered_backoff(2, 1.0), Duration::from_millis(200));
        let mid = p.jittered_backoff(2, 0.5);
        assert!(mid > Duration::from_millis(100) && mid < Duration::from_millis(200));
    }

    #[test]
    fn signal_names_are_short_plain_words() {
        let signal = |name: &str| Signal {
            name: name.into(),
            payload: serde_json::Value::Null,
        };
        assert!(signal("approval.granted-2_b").validate().is_ok());
        for bad in ["", "has space", "slash/name", &"x".repeat(101)] {
            let err = signal(bad).validate().unwrap_err();
            assert!(err.contains("must be 1 to 100"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn signal_payloads_over_64_kib_are_refused() {
        let signal = Signal {
            name: "big".into(),
            payload: serde_json::Value::String("x".repeat(SIGNAL_PAYLOAD_MAX)),
        };
        assert!(signal.validate().unwrap_err().contains("at most 65536"));
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for s in RunStatus::ALL {
            assert_eq!(RunStatus::parse(s.as_str()), Some(s));
        }
        assert!(RunStatus::Failed.is_terminal());
        assert!(!RunStatus::Retrying.is_terminal());
    }
}
