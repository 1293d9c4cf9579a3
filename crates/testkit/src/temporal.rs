//! A Temporal worker inside a test process, on its own thread (the SDK's
//! worker is not `Send`), on a task queue of its own.

use std::sync::Arc;
use tokio::sync::oneshot;
use workflows::temporal::TemporalConfig;

/// The test cluster's settings with a fresh task queue, so workers of other
/// tests (other databases) never take this test's tasks. Under `CI=true` a
/// missing cluster fails the test.
pub fn config() -> TemporalConfig {
    let address = std::env::var("BIZOSAAS_TEST_TEMPORAL_ADDRESS").expect(
        "BIZOSAAS_TEST_TEMPORAL_ADDRESS is not set: Temporal tests need the dev server. \\
         Run `scripts/test.sh` (or `scripts/services.sh` and source the env file it writes).",
    );
    let mut c = TemporalConfig::local(address);
    c.task_queue = format!("bizosaas-test-{}", uuid::Uuid::now_v7().simple());
    c
}

/// A worker polling until dropped.
pub struct WorkerThread {
    stop: Option<oneshot::Sender<()>>,
}

impl WorkerThread {
    /// Starts a worker for `registry`, its activities writing to the
    /// database at `db` and to `data_dir`. It has a runtime and a
    /// connection pool of its own, as a worker process would, so it outlives
    /// the test's runtime without touching it.
    pub fn spawn(
        config: TemporalConfig,
        registry: Arc<workflows::Registry>,
        db: store::DbConfig,
        data_dir: std::path::PathBuf,
    ) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the test worker");
            let outcome = rt.block_on(async move {
                let store = store::Store::connect(&db)
                    .await
                    .map_err(|e| e.to_string())?;
                let env = workflows::ActivityEnv { store, data_dir };
                workflows::temporal::run_worker(&config, registry, env, async move {
                    let _ = stopped.await;
                })
                .await
            });
            if let Err(e) = outcome {
                eprintln!("test Temporal worker stopped: {e}");
            }
        });
        Self { stop: Some(stop) }
    }
}

impl Drop for WorkerThread {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}
