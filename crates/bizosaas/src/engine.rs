//! Sets up the workflow engine the app uses.

use crate::config::{Config, EngineKind};
use anyhow::Context;
use domain::workflows::{Cadence, ScheduleSpec, WorkflowEngine};
use std::sync::Arc;
use store::Store;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use workflows::builtin::maintenance;
use workflows::embedded::{EmbeddedEngine, RunnerConfig, RunnerHandle};
use workflows::temporal::{TemporalConfig, TemporalEngine};
use workflows::{ActivityEnv, ConnectorEnv, Registry, WorkflowMetrics};

/// The engine the app uses, and what to stop when the server stops.
pub struct Running {
    /// For the app state.
    pub workflows: app::Workflows,
    /// The embedded engine, when runs execute in this process's database.
    pub embedded: Option<EmbeddedEngine>,
    /// The embedded runner, when this process executes runs.
    pub runner: Option<RunnerHandle>,
}

/// Which engine, with what: the configured one unless a caller (a test)
/// supplies its workflows, runner settings or Temporal cluster.
pub struct EngineParts {
    /// Workflows and activities.
    pub registry: Arc<Registry>,
    /// Runner settings for the embedded engine.
    pub runner: RunnerConfig,
    /// The Temporal cluster, when runs go there.
    pub temporal: Option<TemporalConfig>,
}

impl EngineParts {
    /// The configured engine with the built-in workflows.
    pub fn configured(config: &Config) -> Self {
        Self {
            registry: Arc::new(workflows::builtin::registry()),
            runner: config.workflows.runner(),
            temporal: (config.workflows.engine == EngineKind::Temporal)
                .then(|| config.temporal.client_config()),
        }
    }
}

/// Starts the engine: the embedded runner in this process, or a client of
/// Temporal; the platform's schedules are made sure of (on Temporal, in a
/// background task that waits for the cluster, stopped by `stop`).
pub async fn start(
    config: &Config,
    store: &Store,
    parts: EngineParts,
    connectors: ConnectorEnv,
    tasks: &TaskTracker,
    stop: &CancellationToken,
) -> anyhow::Result<Running> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
    let metrics = WorkflowMetrics::default();
    let env = ActivityEnv {
        store: store.clone(),
        data_dir: config.data_dir.clone(),
        connectors: Some(connectors),
    };
    // A registry without the purge (a test's own) gets no purge schedule.
    let purge = parts
        .registry
        .get_workflow(maintenance::PURGE)
        .is_some()
        .then(|| purge_schedule(config));
    match parts.temporal {
        None => {
            let engine = EmbeddedEngine::new(
                store.clone(),
                parts.registry,
                env,
                parts.runner,
                metrics.clone(),
            );
            if let Some(schedule) = purge {
                engine
                    .schedule(schedule)
                    .await
                    .context("cannot set up the daily purge schedule")?;
            }
            let runner = engine.spawn_runner();
            tracing::info!(
                worker = engine.worker_id(),
                "embedded workflow runner started"
            );
            Ok(Running {
                workflows: app::Workflows {
                    engine: Arc::new(engine.clone()),
                    metrics,
                },
                embedded: Some(engine),
                runner: Some(runner),
            })
        }
        Some(temporal) => {
            tracing::info!(address = %temporal.address, namespace = %temporal.namespace, "workflows run on Temporal; start `bizosaas worker` to execute them");
            let engine =
                TemporalEngine::new(temporal, store.clone(), parts.registry, metrics.clone());
            if let Some(schedule) = purge {
                // Temporal may be down now; the schedule is made when it answers.
                let setup = engine.clone();
                let stop = stop.clone();
                tasks.spawn(async move {
                    let mut wait = std::time::Duration::from_secs(1);
                    while let Err(e) = setup.schedule(schedule.clone()).await {
                        tracing::warn!(error = %e, "cannot set up the daily purge schedule on Temporal yet");
                        tokio::select! {
                            _ = stop.cancelled() => return,
                            _ = tokio::time::sleep(wait) => {}
                        }
                        wait = (wait * 2).min(std::time::Duration::from_secs(60));
                    }
                });
            }
            Ok(Running {
                workflows: app::Workflows {
                    engine: Arc::new(engine),
                    metrics,
                },
                embedded: None,
                runner: None,
            })
        }
    }
}

/// The daily purge of what can no longer be used.
pub fn purge_schedule(config: &Config) -> ScheduleSpec {
    ScheduleSpec {
        tenant: None,
        name: maintenance::PURGE_SCHEDULE.into(),
        workflow_type: maintenance::PURGE.into(),
        input: serde_json::json!({}),
        cadence: Cadence::Cron(config.workflows.purge_cron.clone()),
    }
}

/// Runs a Temporal worker until the process is asked to stop.
pub async fn worker(
    config: &Config,
    store: &Store,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
    let env = ActivityEnv {
        store: store.clone(),
        data_dir: config.data_dir.clone(),
        connectors: Some(ConnectorEnv {
            secrets: config.secret_store(store)?,
            registry: config.connectors(),
        }),
    };
    workflows::temporal::run_worker(
        &config.temporal.client_config(),
        Arc::new(workflows::builtin::registry()),
        env,
        shutdown,
    )
    .await
    .map_err(anyhow::Error::msg)
}
