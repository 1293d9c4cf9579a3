//! The embedded runner's [`WorkflowCtx`]: each step is journaled in
//! `workflow_steps`, and a replay returns what the journal holds.

use super::Shared;
use crate::{ActivityCtx, ActivityOptions, WorkflowCtx, WorkflowError};
use chrono::{DateTime, TimeDelta, Utc};
use domain::workflows::{Progress, RunStatus};
use domain::{RunId, TenantId};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::workflows::{self as repo, AttemptEnd, NewRun, RunRow, StepRow};
use tokio_util::sync::CancellationToken;

/// How long a parent waits before looking at a child again by itself; the
/// child's end wakes it sooner.
const CHILD_RECHECK: TimeDelta = TimeDelta::minutes(10);

/// How long a run waiting for a signal sleeps before looking again by
/// itself; the signal's arrival wakes it sooner.
const SIGNAL_RECHECK: TimeDelta = TimeDelta::minutes(10);

/// A run being executed by the embedded runner.
#[derive(Clone)]
pub struct EmbeddedCtx {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    run: RunRow,
    journal: Mutex<HashMap<i32, StepRow>>,
    seq: AtomicI32,
    cancel: CancellationToken,
}

impl EmbeddedCtx {
    pub(super) fn new(
        shared: Arc<Shared>,
        run: RunRow,
        steps: Vec<StepRow>,
        cancel: CancellationToken,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                shared,
                run,
                journal: Mutex::new(steps.into_iter().map(|s| (s.seq, s)).collect()),
                seq: AtomicI32::new(0),
                cancel,
            }),
        }
    }

    fn next_step(&self) -> Result<(i32, Option<StepRow>), WorkflowError> {
        if self.inner.cancel.is_cancelled() {
            return Err(WorkflowError::Cancelled);
        }
        let seq = self.inner.seq.fetch_add(1, Ordering::Relaxed);
        let recorded = self
            .inner
            .journal
            .lock()
            .expect("journal lock")
            .remove(&seq);
        Ok((seq, recorded))
    }

    fn expect_kind(step: &StepRow, seq: i32, kind: &str, name: &str) -> Result<(), WorkflowError> {
        if step.kind == kind && step.name == name {
            return Ok(());
        }
        Err(WorkflowError::Nondeterminism(format!(
            "step {seq} is {} {:?} in the history, but the code now reaches {kind} {name:?}",
            step.kind, step.name
        )))
    }

    async fn runner_tx(&self) -> Result<repo::RunnerTx, WorkflowError> {
        self.inner
            .shared
            .store
            .runner()
            .await
            .map_err(WorkflowError::engine)
    }

    async fn end_attempt(
        &self,
        seq: i32,
        attempt: i32,
        end: AttemptEnd<'_>,
    ) -> Result<(), WorkflowError> {
        let mut tx = self.runner_tx().await?;
        repo::end_attempt(&mut tx, self.inner.run.id, seq, attempt, end, Utc::now())
            .await
            .map_err(WorkflowError::engine)?;
        tx.commit().await.map_err(WorkflowError::engine)
    }

    async fn put_step(
        &self,
        seq: i32,
        kind: &str,
        name: &str,
        status: &str,
        output: Option<&str>,
        wake_at: Option<DateTime<Utc>>,
    ) -> Result<(), WorkflowError> {
        let mut tx = self.runner_tx().await?;
        repo::put_step(
            &mut tx,
            &self.inner.run,
            seq,
            kind,
            name,
            status,
            output,
            wake_at,
            None,
            Utc::now(),
        )
        .await
        .map_err(WorkflowError::engine)?;
        tx.commit().await.map_err(WorkflowError::engine)
    }
}

fn parse_output(name: &str, output: Option<&str>) -> Result<Value, WorkflowError> {
    serde_json::from_str(output.unwrap_or("null")).map_err(|e| WorkflowError::ActivityFailed {
        activity: name.into(),
        message: format!("its recorded output is not JSON: {e}"),
    })
}

impl WorkflowCtx for EmbeddedCtx {
    fn tenant(&self) -> Option<TenantId> {
        self.inner.run.tenant_id.map(TenantId::from_uuid)
    }

    fn run_id(&self) -> String {
        self.inner.run.id.to_string()
    }

    async fn call_activity(
        &self,
        name: &'static str,
        input: Value,
        opts: &ActivityOptions,
    ) -> Result<Value, WorkflowError> {
        let (seq, recorded) = self.next_step()?;
        let shared = &self.inner.shared;
        if let Some(step) = &recorded {
            Self::expect_kind(step, seq, "activity", name)?;
            match step.status.as_str() {
                "succeeded" => return parse_output(name, step.output.as_deref()),
                "failed" => {
                    return Err(WorkflowError::ActivityFailed {
                        activity: name.into(),
                        message: step.last_error.clone().unwrap_or_default(),
                    })
                }
                "cancelled" => return Err(WorkflowError::Cancelled),
                "retrying" => {
                    if let Some(until) = step.wake_at.filter(|w| *w > Utc::now()) {
                        return Err(WorkflowError::Suspended {
                            until,
                            status: RunStatus::Retrying,
                            error: step.last_error.clone(),
                        });
                    }
                }
                _ => {}
            }
        }
        let Some(def) = shared.registry.get_activity(name) else {
            return Err(WorkflowError::ActivityFailed {
                activity: name.into(),
                message: "no activity of that name is registered on this worker".into(),
            });
        };
        let attempt = {
            let mut tx = self.runner_tx().await?;
            let n = repo::begin_attempt(
                &mut tx,
                &self.inner.run,
                seq,
                name,
                &shared.worker,
                Utc::now(),
            )
            .await
            .map_err(WorkflowError::engine)?;
            tx.commit().await.map_err(WorkflowError::engine)?;
            n
        };
        let used = (attempt - recorded.as_ref().map_or(0, |s| s.retry_base)).max(1) as u32;
        let actx = ActivityCtx {
            env: shared.env.clone(),
            tenant: self.tenant(),
            run_id: RunId::from_uuid(self.inner.run.id),
            idempotency_key: format!("{}/{seq}", self.inner.run.id),
            attempt: used,
            cancelled: self.inner.cancel.child_token(),
        };
        let timeout = opts.retry.timeout;
        let started = Instant::now();
        let result = tokio::select! {
            r = tokio::time::timeout(timeout, (def.run)(actx, input)) => Some(r.unwrap_or_else(|_| {
                Err(domain::workflows::ActivityError::retryable(format!(
                    "timed out after {}", humanize(timeout)
                )))
            })),
            _ = self.inner.cancel.cancelled() => None,
        };
        let seconds = started.elapsed().as_secs_f64();
        match result {
            None => {
                shared.metrics.activity(name, "cancelled", seconds);
                self.end_attempt(seq, attempt, AttemptEnd::Cancelled)
                    .await?;
                Err(WorkflowError::Cancelled)
            }
            Some(Ok(out)) => {
                shared.metrics.activity(name, "succeeded", seconds);
                let text = out.to_string();
                self.end_attempt(seq, attempt, AttemptEnd::Succeeded(&text))
                    .await?;
                Ok(out)
            }
            Some(Err(e)) if e.retryable && used < opts.retry.max_attempts => {
                shared.metrics.activity(name, "failed", seconds);
                let wait = opts.retry.jittered_backoff(used, rand::random::<f64>());
                let until = Utc::now() + TimeDelta::from_std(wait).unwrap_or(TimeDelta::zero());
                let message = format!("attempt {used} failed: {}", e.message);
                self.end_attempt(seq, attempt, AttemptEnd::Retrying(&message, until))
                    .await?;
                Err(WorkflowError::Suspended {
                    until,
                    status: RunStatus::Retrying,
                    error: Some(message),
                })
            }
            Some(Err(e)) => {
                shared.metrics.activity(name, "failed", seconds);
                let message = if e.retryable {
                    format!("{} (gave up after {used} attempts)", e.message)
                } else {
                    e.message
                };
                self.end_attempt(seq, attempt, AttemptEnd::Failed(&message))
                    .await?;
                Err(WorkflowError::ActivityFailed {
                    activity: name.into(),
                    message,
                })
            }
        }
    }

    async fn sleep(&self, label: &'static str, duration: Duration) -> Result<(), WorkflowError> {
        let (seq, recorded) = self.next_step()?;
        let now = Utc::now();
        let wake = match &recorded {
            Some(step) => {
                Self::expect_kind(step, seq, "timer", label)?;
                if step.status == "succeeded" {
                    return Ok(());
                }
                step.wake_at.unwrap_or(now)
            }
            None => now + TimeDelta::from_std(duration).unwrap_or(TimeDelta::zero()),
        };
        if wake <= now {
            return self
                .put_step(seq, "timer", label, "succeeded", None, Some(wake))
                .await;
        }
        if recorded.is_none() {
            self.put_step(seq, "timer", label, "waiting", None, Some(wake))
                .await?;
        }
        Err(WorkflowError::Suspended {
            until: wake,
            status: RunStatus::Sleeping,
            error: None,
        })
    }

    async fn child(
        &self,
        workflow_type: &'static str,
        input: Value,
    ) -> Result<Value, WorkflowError> {
        let (seq, recorded) = self.next_step()?;
        let shared = &self.inner.shared;
        let run = &self.inner.run;
        let mut tx = self.runner_tx().await?;
        let now = Utc::now();
        let child_id = match &recorded {
            Some(step) => {
                Self::expect_kind(step, seq, "child", workflow_type)?;
                match step.status.as_str() {
                    "succeeded" => return parse_output(workflow_type, step.output.as_deref()),
                    "failed" => {
                        return Err(WorkflowError::ChildFailed {
                            workflow: workflow_type.into(),
                            message: step.last_error.clone().unwrap_or_default(),
                        })
                    }
                    _ => step.child_id,
                }
            }
            None => None,
        };
        let child = match child_id {
            Some(id) => repo::get_any(&mut tx, id)
                .await
                .map_err(WorkflowError::engine)?,
            None => None,
        };
        let Some(child) = child else {
            if shared.registry.get_workflow(workflow_type).is_none() {
                return Err(WorkflowError::ChildFailed {
                    workflow: workflow_type.into(),
                    message: "no workflow of that type is registered".into(),
                });
            }
            let new = NewRun {
                id: RunId::new(),
                tenant: self.tenant(),
                workflow_type: workflow_type.into(),
                dedup_key: format!("{}/{seq}", run.id),
                input: input.to_string(),
                parent: Some(RunId::from_uuid(run.id)),
                schedule: None,
            };
            let (child, _) = repo::insert(&mut tx, &new, now)
                .await
                .map_err(WorkflowError::engine)?;
            repo::put_step(
                &mut tx,
                run,
                seq,
                "child",
                workflow_type,
                "waiting",
                None,
                None,
                Some(child.id),
                now,
            )
            .await
            .map_err(WorkflowError::engine)?;
            tx.commit().await.map_err(WorkflowError::engine)?;
            shared.wake.notify_one();
            return Err(WorkflowError::Suspended {
                until: now + CHILD_RECHECK,
                status: RunStatus::Sleeping,
                error: None,
            });
        };
        let (status, output, error) = match child.status() {
            RunStatus::Succeeded => ("succeeded", child.output.clone(), None),
            RunStatus::Failed | RunStatus::Cancelled => (
                "failed",
                None,
                Some(
                    child
                        .last_error
                        .clone()
                        .unwrap_or_else(|| child.status.clone()),
                ),
            ),
            _ => {
                return Err(WorkflowError::Suspended {
                    until: now + CHILD_RECHECK,
                    status: RunStatus::Sleeping,
                    error: None,
                })
            }
        };
        repo::put_step(
            &mut tx,
            run,
            seq,
            "child",
            workflow_type,
            status,
            output.as_deref(),
            None,
            Some(child.id),
            now,
        )
        .await
        .map_err(WorkflowError::engine)?;
        tx.commit().await.map_err(WorkflowError::engine)?;
        match error {
            None => parse_output(workflow_type, output.as_deref()),
            Some(message) => Err(WorkflowError::ChildFailed {
                workflow: workflow_type.into(),
                message,
            }),
        }
    }

    async fn signal(&self, name: &str) -> Result<Value, WorkflowError> {
        let (seq, recorded) = self.next_step()?;
        if let Some(step) = &recorded {
            Self::expect_kind(step, seq, "signal", name)?;
            if step.status == "succeeded" {
                return parse_output(name, step.output.as_deref());
            }
        }
        let run = &self.inner.run;
        let now = Utc::now();
        let mut tx = self.runner_tx().await?;
        let payload = repo::take_signal(&mut tx, run.id, name, seq, now)
            .await
            .map_err(WorkflowError::engine)?;
        let status = if payload.is_some() {
            "succeeded"
        } else {
            "waiting"
        };
        if payload.is_some() || recorded.is_none() {
            repo::put_step(
                &mut tx,
                run,
                seq,
                "signal",
                name,
                status,
                payload.as_deref(),
                None,
                None,
                now,
            )
            .await
            .map_err(WorkflowError::engine)?;
        }
        tx.commit().await.map_err(WorkflowError::engine)?;
        match payload {
            Some(p) => parse_output(name, Some(&p)),
            None => Err(WorkflowError::Suspended {
                until: now + SIGNAL_RECHECK,
                status: RunStatus::Sleeping,
                error: None,
            }),
        }
    }

    async fn progress(&self, progress: Progress) -> Result<(), WorkflowError> {
        let mut tx = self.runner_tx().await?;
        repo::set_progress(
            &mut tx,
            self.inner.run.id,
            &self.inner.shared.worker,
            &progress,
        )
        .await
        .map_err(WorkflowError::engine)?;
        tx.commit().await.map_err(WorkflowError::engine)
    }
}

/// "1.5 s", "300 ms": durations in error messages people read.
fn humanize(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}
