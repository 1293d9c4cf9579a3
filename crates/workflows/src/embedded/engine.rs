//! [`WorkflowEngine`] over the database: starting, listing and steering runs.

use super::runner::RunnerHandle;
use super::{RunnerConfig, Shared};
use crate::change::Change;
use crate::error::engine_error;
use crate::{cadence, ActivityEnv, Registry, WorkflowMetrics};
use chrono::Utc;
use domain::audit::NewAuditEntry;
use domain::workflows::{
    Cadence, EngineError, EngineFuture, RunDetail, RunFilter, RunSummary, ScheduleSpec, Signal,
    StartRun, Started, WorkflowEngine,
};
use domain::{RunId, TenantId, TenantScope};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use store::workflows::{self as repo, RunRow};
use store::{audit, Store};
use tokio::sync::Notify;

/// The embedded engine: runs in this application's database.
#[derive(Clone)]
pub struct EmbeddedEngine {
    shared: Arc<Shared>,
}

impl EmbeddedEngine {
    /// An engine over `store` running `registry`'s workflows.
    pub fn new(
        store: Store,
        registry: Arc<Registry>,
        env: ActivityEnv,
        config: RunnerConfig,
        metrics: WorkflowMetrics,
    ) -> Self {
        let worker = format!(
            "{}:{}:{}",
            std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into()),
            std::process::id(),
            &uuid::Uuid::now_v7().simple().to_string()[24..]
        );
        Self {
            shared: Arc::new(Shared {
                store,
                registry,
                env,
                worker,
                config,
                metrics,
                wake: Notify::new(),
                active: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Starts executing runs in this process (claiming, heartbeats, schedules).
    pub fn spawn_runner(&self) -> RunnerHandle {
        RunnerHandle::spawn(self.shared.clone())
    }

    /// A platform run (one no tenant owns), for operators.
    pub async fn platform_run(&self, id: RunId) -> Result<RunSummary, EngineError> {
        let mut tx = self.shared.store.runner().await.map_err(engine_error)?;
        let row = repo::get_any(&mut tx, id.as_uuid())
            .await
            .map_err(engine_error)?
            .filter(|r| r.tenant_id.is_none())
            .ok_or(EngineError::NotFound)?;
        tx.commit().await.map_err(engine_error)?;
        Ok(row.summary())
    }

    /// This process's worker id, as leases record it.
    pub fn worker_id(&self) -> &str {
        &self.shared.worker
    }
}

fn detail(row: &RunRow, steps: Vec<domain::workflows::StepRecord>) -> RunDetail {
    let json = |s: &str| serde_json::from_str(s).unwrap_or_else(|_| json!(s));
    RunDetail {
        run: row.summary(),
        input: json(&row.input),
        output: row.output.as_deref().map(json),
        steps,
    }
}

impl EmbeddedEngine {
    async fn start_run(&self, req: StartRun) -> Result<Started, EngineError> {
        let shared = &self.shared;
        let (row, created) = crate::start::record_start(
            &shared.store,
            &shared.registry,
            req,
            "embedded",
            async |_| Ok(()),
        )
        .await?;
        if created {
            self.shared.metrics.run(&row.workflow_type, "started");
            self.shared.wake.notify_one();
        }
        Ok(Started {
            run: row.summary(),
            created,
        })
    }

    async fn get_run(&self, scope: &TenantScope, id: RunId) -> Result<RunDetail, EngineError> {
        let mut tx = self.shared.store.read(scope).await.map_err(engine_error)?;
        let row = repo::get(&mut tx, id)
            .await
            .map_err(engine_error)?
            .ok_or(EngineError::NotFound)?;
        let steps = repo::history(&mut tx, id).await.map_err(engine_error)?;
        tx.commit().await.map_err(engine_error)?;
        Ok(detail(&row, steps))
    }

    async fn list_runs(
        &self,
        scope: &TenantScope,
        filter: RunFilter,
    ) -> Result<Vec<RunSummary>, EngineError> {
        let mut tx = self.shared.store.read(scope).await.map_err(engine_error)?;
        let rows = repo::list(&mut tx, &filter).await.map_err(engine_error)?;
        tx.commit().await.map_err(engine_error)?;
        Ok(rows.iter().map(RunRow::summary).collect())
    }

    /// Applies `change` to a run the tenant has in a status `change`
    /// allows, audited, in one transaction.
    async fn steer(
        &self,
        scope: &TenantScope,
        id: RunId,
        change: Change<'_>,
    ) -> Result<RunRow, EngineError> {
        let mut tx = self.shared.store.write(scope).await.map_err(engine_error)?;
        let before = repo::get(&mut tx, id)
            .await
            .map_err(engine_error)?
            .ok_or(EngineError::NotFound)?;
        let status = before.status();
        change.check(status)?;
        let now = Utc::now();
        let mut metadata =
            json!({ "workflow_type": before.workflow_type, "previous_status": status.as_str() });
        let after = match change {
            Change::Cancel => repo::request_cancel(&mut tx, id, now).await,
            Change::Retry => repo::requeue(&mut tx, id, now).await,
            Change::Signal(signal) => {
                // The name is audited, not the payload, which is the run's data.
                metadata["signal"] = json!(signal.name);
                let payload = signal.payload.to_string();
                repo::send_signal(&mut tx, id, &signal.name, &payload, now).await
            }
        }
        .map_err(engine_error)?
        .ok_or(EngineError::NotFound)?;
        let entry = NewAuditEntry::new(change.action(), "workflow_run", Some(id.to_string()))
            .with_metadata(metadata);
        audit::record(&mut tx, entry).await.map_err(engine_error)?;
        tx.commit().await.map_err(engine_error)?;
        Ok(after)
    }

    async fn upsert_schedule(&self, spec: ScheduleSpec) -> Result<(), EngineError> {
        if self
            .shared
            .registry
            .get_workflow(&spec.workflow_type)
            .is_none()
        {
            return Err(EngineError::Invalid(format!(
                "unknown workflow type {:?}",
                spec.workflow_type
            )));
        }
        cadence::check(&spec.cadence).map_err(EngineError::Invalid)?;
        let now = Utc::now();
        let first = cadence::next_after(&spec.cadence, now, now).map_err(EngineError::Invalid)?;
        let (every, cron) = match &spec.cadence {
            Cadence::Every(d) => (Some(d.as_secs() as i64), None),
            Cadence::Cron(c) => (None, Some(c.as_str())),
        };
        let mut tx = self.shared.store.runner().await.map_err(engine_error)?;
        repo::upsert_schedule(
            &mut tx,
            spec.tenant,
            &spec.name,
            &spec.workflow_type,
            &spec.input.to_string(),
            every,
            cron,
            first,
            now,
        )
        .await
        .map_err(engine_error)?;
        tx.commit().await.map_err(engine_error)
    }
}

impl WorkflowEngine for EmbeddedEngine {
    fn name(&self) -> &'static str {
        "embedded"
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
        Box::pin(async move {
            let row = self.steer(scope, id, Change::Cancel).await?;
            self.shared.cancel_local(row.id);
            Ok(row.summary())
        })
    }

    fn retry<'a>(&'a self, scope: &'a TenantScope, id: RunId) -> EngineFuture<'a, RunSummary> {
        Box::pin(async move {
            let row = self.steer(scope, id, Change::Retry).await?;
            self.shared.wake.notify_one();
            Ok(row.summary())
        })
    }

    fn signal<'a>(
        &'a self,
        scope: &'a TenantScope,
        id: RunId,
        signal: Signal,
    ) -> EngineFuture<'a, RunSummary> {
        Box::pin(async move {
            let row = self.steer(scope, id, Change::Signal(&signal)).await?;
            self.shared.wake.notify_one();
            Ok(row.summary())
        })
    }

    fn schedule(&self, spec: ScheduleSpec) -> EngineFuture<'_, ()> {
        Box::pin(self.upsert_schedule(spec))
    }

    fn unschedule<'a>(&'a self, tenant: Option<TenantId>, name: &'a str) -> EngineFuture<'a, bool> {
        Box::pin(async move {
            let mut tx = self.shared.store.runner().await.map_err(engine_error)?;
            let existed = repo::delete_schedule(&mut tx, tenant, name)
                .await
                .map_err(engine_error)?;
            tx.commit().await.map_err(engine_error)?;
            Ok(existed)
        })
    }
}
