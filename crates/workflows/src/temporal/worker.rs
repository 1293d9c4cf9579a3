//! `bizosaas worker`: a Temporal worker running the registered workflows
//! and activities.

use super::activity::{bookkeeping_defs, Implementation};
use super::{connect, TemporalConfig};
use crate::{ActivityEnv, Registry};
use std::future::Future;
use std::sync::Arc;
use temporalio_sdk::{Runtime, Worker, WorkerOptions};

/// Runs a worker on `config`'s task queue until `shutdown` resolves, then
/// lets in-flight tasks finish. The SDK's worker is not `Send`, so it runs
/// on a local task set of the calling thread.
pub async fn run_worker(
    config: &TemporalConfig,
    registry: Arc<Registry>,
    env: ActivityEnv,
    shutdown: impl Future<Output = ()>,
) -> Result<(), String> {
    let client = connect(config).await?;
    let runtime = Runtime::from_current_tokio(Default::default())
        .map_err(|e| format!("Temporal runtime: {e}"))?;
    let mut options = WorkerOptions::new(config.task_queue.clone()).build();
    for w in registry.workflows() {
        (w.temporal)(&mut options)?;
    }
    let bookkeeping = bookkeeping_defs();
    for a in registry.activities().chain(&bookkeeping) {
        (a.temporal)(
            &mut options,
            Arc::new(Implementation {
                run: a.run.clone(),
                env: env.clone(),
            }),
        );
    }
    let mut worker =
        Worker::new(&runtime, client, options).map_err(|e| format!("Temporal worker: {e}"))?;
    let stop = worker.shutdown_handle();
    tracing::info!(task_queue = %config.task_queue, namespace = %config.namespace, "Temporal worker polling");
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async move {
            let run = worker.run();
            tokio::pin!(run);
            tokio::pin!(shutdown);
            tokio::select! {
                r = &mut run => r.map_err(|e| e.to_string()),
                _ = &mut shutdown => {
                    stop();
                    run.await.map_err(|e| e.to_string())
                }
            }
        })
        .await
}
