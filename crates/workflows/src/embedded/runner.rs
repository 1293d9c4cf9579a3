//! The runner's loops: claim due runs and fire due schedules, renew leases,
//! and settle each run when its workflow returns.

use super::{ActiveRun, EmbeddedCtx, Shared};
use crate::cadence;
use crate::WorkflowError;
use chrono::{TimeDelta, Utc};
use domain::workflows::RunStatus;
use domain::ScheduleId;
use std::sync::Arc;
use std::time::Duration;
use store::workflows::{self as repo, ClaimLimits, Claimed, NewRun, RunRow};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How long an engine failure (the database down) holds a run back.
const ENGINE_RETRY: TimeDelta = TimeDelta::seconds(5);

/// A running runner; stop it with [`RunnerHandle::shutdown`].
pub struct RunnerHandle {
    stop: CancellationToken,
    tasks: JoinSet<()>,
}

impl RunnerHandle {
    pub(super) fn spawn(shared: Arc<Shared>) -> Self {
        let stop = CancellationToken::new();
        let mut tasks = JoinSet::new();
        tasks.spawn(claim_loop(shared.clone(), stop.clone()));
        tasks.spawn(heartbeat_loop(shared, stop.clone()));
        Self { stop, tasks }
    }

    /// Stops taking work and lets go of what runs; a run cut short here is
    /// taken up again, by this or another process, when its lease ends.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        while self.tasks.join_next().await.is_some() {}
    }
}

async fn claim_loop(shared: Arc<Shared>, stop: CancellationToken) {
    let slots = Arc::new(Semaphore::new(shared.config.concurrency));
    let mut runs = JoinSet::new();
    let mut last_depth = std::time::Instant::now() - Duration::from_secs(60);
    let mut last_schedules = last_depth;
    loop {
        if stop.is_cancelled() {
            break;
        }
        // Schedules fire at second resolution: looking once per poll
        // interval is enough, and keeps a query off the busy loop.
        if last_schedules.elapsed() >= shared.config.poll {
            last_schedules = std::time::Instant::now();
            if let Err(e) = fire_schedules(&shared).await {
                tracing::warn!(error = %e, "could not fire due schedules");
            }
        }
        let free = slots.available_permits();
        let claimed = match claim(&shared, free).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "could not claim workflow runs");
                Vec::new()
            }
        };
        let full_batch = free > 0 && claimed.len() == free;
        for c in claimed {
            let permit = slots
                .clone()
                .try_acquire_owned()
                .expect("claimed no more runs than free slots");
            runs.spawn(execute(shared.clone(), c, permit, stop.clone()));
        }
        while runs.try_join_next().is_some() {}
        if last_depth.elapsed() > Duration::from_secs(2) {
            last_depth = std::time::Instant::now();
            update_queue_depth(&shared).await;
        }
        if full_batch && slots.available_permits() > 0 {
            continue;
        }
        let wait = match next_due_in(&shared).await {
            Some(d) => d.min(shared.config.poll),
            None => shared.config.poll,
        };
        tokio::select! {
            _ = shared.wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = stop.cancelled() => break,
        }
    }
    // Runs in flight see `stop` and let go of their leases.
    while runs.join_next().await.is_some() {}
}

async fn claim(shared: &Shared, free: usize) -> store::Result<Vec<Claimed>> {
    if free == 0 {
        return Ok(Vec::new());
    }
    let now = Utc::now();
    let lease_until = now + lease(shared);
    let mut tx = shared.store.runner().await?;
    let claimed = repo::claim(
        &mut tx,
        &shared.worker,
        now,
        lease_until,
        ClaimLimits {
            max: free,
            per_tenant: shared.config.per_tenant,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(claimed)
}

fn lease(shared: &Shared) -> TimeDelta {
    TimeDelta::from_std(shared.config.lease).unwrap_or(TimeDelta::seconds(30))
}

async fn next_due_in(shared: &Shared) -> Option<Duration> {
    let mut tx = shared.store.runner().await.ok()?;
    let next = repo::next_due(&mut tx).await.ok()??;
    let _ = tx.commit().await;
    Some((next - Utc::now()).to_std().unwrap_or(Duration::ZERO))
}

async fn update_queue_depth(shared: &Shared) {
    let Ok(mut tx) = shared.store.runner().await else {
        return;
    };
    if let Ok(depth) = repo::queue_depth(&mut tx, Utc::now()).await {
        shared.metrics.queue_depth(depth);
    }
    let _ = tx.commit().await;
}

/// Starts a run for every schedule that is due, once per firing: the run's
/// dedup key is the schedule and the firing time, and the schedule moves on
/// only from the time it was read at, so two workers never both fire it.
async fn fire_schedules(shared: &Shared) -> store::Result<()> {
    let now = Utc::now();
    let mut tx = shared.store.runner().await?;
    let due = repo::due_schedules(&mut tx, now).await?;
    if due.is_empty() {
        return tx.commit().await;
    }
    let mut fired = Vec::new();
    for s in due {
        let cadence = cadence::from_row(s.every_secs, s.cron.as_deref());
        let next = match cadence::next_after(&cadence, s.next_fire_at, now) {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(schedule = %s.name, error = %e, "schedule cannot fire again");
                now + TimeDelta::days(365)
            }
        };
        if !repo::advance_schedule(&mut tx, s.id, s.next_fire_at, next).await? {
            continue;
        }
        let run = NewRun {
            id: domain::RunId::new(),
            tenant: s.tenant_id.map(domain::TenantId::from_uuid),
            workflow_type: s.workflow_type.clone(),
            dedup_key: format!(
                "schedule/{}/{}",
                s.name,
                s.next_fire_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
            input: s.input.clone(),
            parent: None,
            schedule: Some(ScheduleId::from_uuid(s.id)),
        };
        let (_, created) = repo::insert(&mut tx, &run, now).await?;
        if created {
            fired.push(s.workflow_type);
        }
    }
    tx.commit().await?;
    for workflow in fired {
        tracing::info!(%workflow, "schedule fired");
        shared.metrics.run(&workflow, "started");
    }
    Ok(())
}

async fn heartbeat_loop(shared: Arc<Shared>, stop: CancellationToken) {
    let every = shared.config.lease / 3;
    let mut last_ok = std::time::Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.cancelled() => return,
        }
        let ids: Vec<uuid::Uuid> = shared
            .active
            .lock()
            .expect("active runs lock")
            .keys()
            .copied()
            .collect();
        if ids.is_empty() {
            last_ok = std::time::Instant::now();
            continue;
        }
        match renew(&shared).await {
            Ok(held) => {
                last_ok = std::time::Instant::now();
                let active = shared.active.lock().expect("active runs lock");
                for id in &ids {
                    let Some(run) = active.get(id) else { continue };
                    match held.iter().find(|(h, _)| h == id) {
                        None => run.lost.cancel(),
                        Some((_, true)) => run.cancel.cancel(),
                        Some((_, false)) => {}
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not renew workflow leases");
                // Past most of the lease another worker may take these runs:
                // stop before two workers execute one run.
                if last_ok.elapsed() > shared.config.lease.mul_f64(0.8) {
                    for run in shared.active.lock().expect("active runs lock").values() {
                        run.lost.cancel();
                    }
                }
            }
        }
    }
}

async fn renew(shared: &Shared) -> store::Result<Vec<(uuid::Uuid, bool)>> {
    let mut tx = shared.store.runner().await?;
    let held = repo::heartbeat(&mut tx, &shared.worker, Utc::now() + lease(shared)).await?;
    tx.commit().await?;
    Ok(held)
}

async fn execute(
    shared: Arc<Shared>,
    claimed: Claimed,
    _slot: OwnedSemaphorePermit,
    stop: CancellationToken,
) {
    let run = claimed.run;
    let cancel = CancellationToken::new();
    let lost = CancellationToken::new();
    if run.cancel_requested {
        cancel.cancel();
    }
    shared.active.lock().expect("active runs lock").insert(
        run.id,
        ActiveRun {
            cancel: cancel.clone(),
            lost: lost.clone(),
        },
    );
    let outcome = match shared.registry.get_workflow(&run.workflow_type) {
        None => Some(Err(WorkflowError::Failed(format!(
            "no workflow of type {:?} is registered on this worker",
            run.workflow_type
        )))),
        Some(def) => {
            let input = serde_json::from_str(&run.input).unwrap_or(serde_json::Value::Null);
            let ctx = EmbeddedCtx::new(shared.clone(), run.clone(), claimed.steps, cancel);
            let body = (def.embedded)(ctx, input);
            tokio::select! {
                r = body => Some(r),
                _ = lost.cancelled() => None,
                _ = stop.cancelled() => None,
            }
        }
    };
    shared
        .active
        .lock()
        .expect("active runs lock")
        .remove(&run.id);
    match outcome {
        Some(result) => settle(&shared, &run, result).await,
        None if stop.is_cancelled() => {
            // Shutting down: hand the run back at once instead of waiting
            // for the lease to run out.
            let _ = release(&shared, &run, RunStatus::Queued, Utc::now(), None).await;
        }
        None => tracing::warn!(run = %run.id, "lost the lease on a run; another worker has it"),
    }
    shared.wake.notify_one();
}

async fn settle(shared: &Shared, run: &RunRow, result: Result<serde_json::Value, WorkflowError>) {
    let now = Utc::now();
    let outcome = match result {
        Ok(out) => {
            finish(
                shared,
                run,
                RunStatus::Succeeded,
                Some(&out.to_string()),
                None,
            )
            .await
        }
        Err(WorkflowError::Suspended {
            until,
            status,
            error,
        }) => release(shared, run, status, until, error.as_deref()).await,
        Err(WorkflowError::Cancelled) => {
            finish(
                shared,
                run,
                RunStatus::Cancelled,
                None,
                Some("cancelled on request"),
            )
            .await
        }
        Err(WorkflowError::Engine(e)) => {
            tracing::warn!(run = %run.id, error = %e, "workflow engine failure; the run continues later");
            release(
                shared,
                run,
                RunStatus::Retrying,
                now + ENGINE_RETRY,
                Some(&format!(
                    "the workflow engine could not record progress: {e}"
                )),
            )
            .await
        }
        Err(e) => finish(shared, run, RunStatus::Failed, None, Some(&e.to_string())).await,
    };
    if let Err(e) = outcome {
        // The lease runs out and the run is taken up again; nothing is lost.
        tracing::warn!(run = %run.id, error = %e, "could not record the end of a run step");
    }
}

async fn finish(
    shared: &Shared,
    run: &RunRow,
    status: RunStatus,
    output: Option<&str>,
    error: Option<&str>,
) -> store::Result<()> {
    let mut tx = shared.store.runner().await?;
    let held = repo::finish(
        &mut tx,
        run.id,
        &shared.worker,
        status,
        output,
        error,
        Utc::now(),
    )
    .await?;
    tx.commit().await?;
    if held {
        let outcome = match status {
            RunStatus::Succeeded => "succeeded",
            RunStatus::Cancelled => "cancelled",
            _ => "failed",
        };
        shared.metrics.run(&run.workflow_type, outcome);
        tracing::info!(run = %run.id, workflow = %run.workflow_type, %status, "workflow run ended");
    }
    Ok(())
}

async fn release(
    shared: &Shared,
    run: &RunRow,
    status: RunStatus,
    until: chrono::DateTime<Utc>,
    error: Option<&str>,
) -> store::Result<()> {
    let mut tx = shared.store.runner().await?;
    repo::release(
        &mut tx,
        run.id,
        &shared.worker,
        status,
        until,
        error,
        Utc::now(),
    )
    .await?;
    tx.commit().await
}
