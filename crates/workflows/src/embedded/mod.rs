//! The embedded durable runner: runs live in the database (SQLite or
//! PostgreSQL, the same code), workers take them under leases they renew by
//! heartbeat, and a run whose worker died is taken up again when its lease
//! runs out, replaying its journal up to where it stopped.

mod ctx;
mod engine;
mod runner;

pub use ctx::EmbeddedCtx;
pub use engine::EmbeddedEngine;
pub use runner::RunnerHandle;

use crate::{ActivityEnv, Registry, WorkflowMetrics};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::Store;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Settings of the embedded runner.
#[derive(Clone, Debug)]
pub struct RunnerConfig {
    /// Runs one process executes at once.
    pub concurrency: usize,
    /// Runs of one tenant executing at once, across all processes.
    pub per_tenant: usize,
    /// How long a worker's claim on a run lasts without a heartbeat; a
    /// crashed worker's runs are taken up after this.
    pub lease: Duration,
    /// How often an idle worker looks for due runs and schedules that other
    /// processes created.
    pub poll: Duration,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            concurrency: 32,
            per_tenant: 8,
            lease: Duration::from_secs(30),
            poll: Duration::from_millis(500),
        }
    }
}

/// A run this process is executing.
struct ActiveRun {
    /// Someone asked it to stop.
    cancel: CancellationToken,
    /// This worker no longer holds its lease: drop it without writing.
    lost: CancellationToken,
}

/// What the engine, the runner and every run's context share.
pub(crate) struct Shared {
    store: Store,
    registry: Arc<Registry>,
    env: ActivityEnv,
    worker: String,
    config: RunnerConfig,
    metrics: WorkflowMetrics,
    /// Wakes the runner: a run was started, released or finished here.
    wake: Notify,
    active: Mutex<HashMap<Uuid, ActiveRun>>,
}

impl Shared {
    fn cancel_local(&self, run: Uuid) {
        if let Some(a) = self.active.lock().expect("active runs lock").get(&run) {
            a.cancel.cancel();
        }
    }
}
