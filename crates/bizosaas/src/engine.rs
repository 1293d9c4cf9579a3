//! Sets up the configured workflow engine for `serve`.

use crate::config::{Config, EngineKind};
use anyhow::Context;
use domain::workflows::{Cadence, ScheduleSpec, WorkflowEngine};
use std::sync::Arc;
use store::Store;
use workflows::builtin::maintenance;
use workflows::embedded::{EmbeddedEngine, RunnerHandle};
use workflows::temporal::TemporalEngine;
use workflows::{ActivityEnv, WorkflowMetrics};

/// The engine the API uses, and what to stop when the server stops.
pub struct Running {
    /// For the app state.
    pub workflows: api::Workflows,
    /// The embedded runner, when this process executes runs.
    pub runner: Option<RunnerHandle>,
}

/// Starts the engine: the embedded runner in this process, with the
/// platform's schedules made sure of.
pub async fn start(config: &Config, store: &Store) -> anyhow::Result<Running> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
    let metrics = WorkflowMetrics::default();
    let env = ActivityEnv {
        store: store.clone(),
        data_dir: config.data_dir.clone(),
    };
    match config.workflows.engine {
        EngineKind::Embedded => {
            let engine = EmbeddedEngine::new(
                store.clone(),
                Arc::new(workflows::builtin::registry()),
                env,
                config.workflows.runner(),
                metrics.clone(),
            );
            engine
                .schedule(purge_schedule(config))
                .await
                .context("cannot set up the daily purge schedule")?;
            let runner = engine.spawn_runner();
            tracing::info!(
                worker = engine.worker_id(),
                "embedded workflow runner started"
            );
            Ok(Running {
                workflows: api::Workflows {
                    engine: Arc::new(engine),
                    metrics,
                },
                runner: Some(runner),
            })
        }
        EngineKind::Temporal => {
            let temporal = config.temporal.client_config();
            tracing::info!(address = %temporal.address, namespace = %temporal.namespace, "workflows run on Temporal; start `bizosaas worker` to execute them");
            let engine = TemporalEngine::new(
                temporal,
                store.clone(),
                Arc::new(workflows::builtin::registry()),
                metrics.clone(),
            );
            // Temporal may be down now; the schedule is made when it answers.
            let schedule = purge_schedule(config);
            let setup = engine.clone();
            tokio::spawn(async move {
                let mut wait = std::time::Duration::from_secs(1);
                while let Err(e) = setup.schedule(schedule.clone()).await {
                    tracing::warn!(error = %e, "cannot set up the daily purge schedule on Temporal yet");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(std::time::Duration::from_secs(60));
                }
            });
            Ok(Running {
                workflows: api::Workflows {
                    engine: Arc::new(engine),
                    metrics,
                },
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
