//! Accepting a start request, the same for both engines: the run's row and,
//! for a tenant's run, its audit entry, in one transaction.

use crate::error::engine_error;
use crate::Registry;
use chrono::{DateTime, Utc};
use domain::audit::NewAuditEntry;
use domain::workflows::{EngineError, StartRun};
use domain::{RunId, Scoped, SystemJob, SystemScope};
use serde_json::json;
use store::workflows::{self as repo, NewRun, RunRow};
use store::{audit, Store, Tx};

/// Records a start request unless a run with its workflow key exists, and
/// returns the run with whether it is new. `hand_over` runs before the
/// commit, only for a new run: an engine that must give the run to someone
/// else first (Temporal) fails there, and nothing is kept.
pub(crate) async fn record_start(
    store: &Store,
    registry: &Registry,
    req: StartRun,
    engine: &'static str,
    hand_over: impl AsyncFnOnce(&RunRow) -> Result<(), EngineError>,
) -> Result<(RunRow, bool), EngineError> {
    registry.check_start(&req)?;
    let id = RunId::new();
    let new = NewRun {
        id,
        tenant: req.tenant,
        workflow_type: req.workflow_type.clone(),
        dedup_key: req.dedup_key.clone().unwrap_or_else(|| id.to_string()),
        input: req.input.to_string(),
        parent: None,
        schedule: None,
    };
    let now = Utc::now();
    match req.tenant {
        Some(tenant) => {
            let tx = match req.requested_by {
                Some(scope) => store.write(&scope).await,
                None => {
                    let scope = SystemScope::new(tenant, SystemJob::WorkflowRunner);
                    return insert_audited(
                        store.system_write(&scope).await.map_err(engine_error)?,
                        &new,
                        now,
                        engine,
                        hand_over,
                    )
                    .await;
                }
            };
            insert_audited(tx.map_err(engine_error)?, &new, now, engine, hand_over).await
        }
        None => {
            let mut tx = store.runner().await.map_err(engine_error)?;
            let (row, created) = repo::insert(&mut tx, &new, now)
                .await
                .map_err(engine_error)?;
            if created {
                hand_over(&row).await?;
            }
            tx.commit().await.map_err(engine_error)?;
            Ok((row, created))
        }
    }
}

/// Inserts a tenant's run with its audit entry, for the member who asked or
/// for the platform (a schedule's firing).
async fn insert_audited<S: Scoped>(
    mut tx: Tx<S>,
    new: &NewRun,
    now: DateTime<Utc>,
    engine: &'static str,
    hand_over: impl AsyncFnOnce(&RunRow) -> Result<(), EngineError>,
) -> Result<(RunRow, bool), EngineError> {
    let (row, created) = repo::insert_for_tenant(&mut tx, new, now)
        .await
        .map_err(engine_error)?;
    if created {
        let entry =
            NewAuditEntry::new("workflow.started", "workflow_run", Some(new.id.to_string()))
                .with_metadata(json!({
                    "workflow_type": new.workflow_type,
                    "workflow_key": new.dedup_key,
                    "engine": engine,
                }));
        audit::record(&mut tx, entry).await.map_err(engine_error)?;
        hand_over(&row).await?;
    }
    tx.commit().await.map_err(engine_error)?;
    Ok((row, created))
}
