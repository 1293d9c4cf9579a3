//! Throughput of the embedded runner: 1,000 runs of a workflow of three
//! no-op activities, from the first start to the last run finished, on
//! SQLite and on PostgreSQL (`cargo bench -p workflows --bench runs`;
//! PostgreSQL needs `scripts/services.sh`'s environment).

use domain::workflows::{StartRun, WorkflowEngine};
use domain::TenantId;
use std::sync::Arc;
use std::time::{Duration, Instant};
use testkit::{Db, TestDb};
use workflows::embedded::{EmbeddedEngine, RunnerConfig};
use workflows::{
    activity_def, workflow_def, ActivityCtx, ActivityOptions, Registry, WorkflowCtx, WorkflowError,
};

const RUNS: usize = 1_000;
const TENANTS: usize = 16;

async fn three_noops<C: WorkflowCtx>(ctx: &C, input: u64) -> Result<u64, WorkflowError> {
    let opts = ActivityOptions::default();
    let a: u64 = ctx.activity("bench.noop", &input, &opts).await?;
    let b: u64 = ctx.activity("bench.noop", &a, &opts).await?;
    ctx.activity("bench.noop", &b, &opts).await
}

async fn noop(_: ActivityCtx, n: u64) -> Result<u64, domain::workflows::ActivityError> {
    Ok(n + 1)
}

async fn bench(db: Db) -> anyhow::Result<()> {
    let test_db = TestDb::create(db).await?;
    let store = test_db.store().await?;
    let mut tenants = Vec::new();
    for i in 0..TENANTS {
        let name = domain::validation::DisplayName::parse(&format!("Bench {i}"))
            .map_err(anyhow::Error::msg)?;
        tenants.push(store::tenants::create(&store, &name).await?.id);
    }
    let mut registry = Registry::new();
    registry.workflow(workflow_def!(
        "bench.three_noops",
        three_noops,
        input = u64,
        tenant_startable = false
    ));
    registry.activity(activity_def!("bench.noop", noop));
    let data = tempfile::tempdir()?;
    let engine = EmbeddedEngine::new(
        store.clone(),
        Arc::new(registry),
        workflows::ActivityEnv {
            store: store.clone(),
            data_dir: data.path().into(),
            connectors: None,
        },
        RunnerConfig::default(),
        workflows::WorkflowMetrics::default(),
    );
    let runner = engine.spawn_runner();
    let began = Instant::now();
    let mut starts = tokio::task::JoinSet::new();
    for i in 0..RUNS {
        let engine = engine.clone();
        let tenant: TenantId = tenants[i % TENANTS];
        starts.spawn(async move {
            engine
                .start(StartRun {
                    tenant: Some(tenant),
                    requested_by: None,
                    workflow_type: "bench.three_noops".into(),
                    input: serde_json::json!(i),
                    dedup_key: None,
                })
                .await
        });
    }
    while let Some(r) = starts.join_next().await {
        r??;
    }
    let started = began.elapsed();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let mut tx = store.runner().await?;
        let counts = store::workflows::status_counts(&mut tx).await?;
        tx.commit().await?;
        let done: i64 = counts
            .iter()
            .filter(|(s, _)| s == "succeeded")
            .map(|(_, n)| n)
            .sum();
        if done as usize == RUNS {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "runs did not finish: {counts:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let total = began.elapsed();
    runner.shutdown().await;
    println!(
        "{:<10} {RUNS} runs x 3 activities over {TENANTS} tenants: all accepted in {:>6.2} s, all succeeded in {:>6.2} s ({:.0} runs/s, {:.0} activities/s)",
        match db { Db::Sqlite => "sqlite", Db::Postgres => "postgres" },
        started.as_secs_f64(),
        total.as_secs_f64(),
        RUNS as f64 / total.as_secs_f64(),
        (RUNS * 3) as f64 / total.as_secs_f64(),
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    bench(Db::Sqlite).await?;
    if std::env::var("BIZOSAAS_TEST_PG_ADMIN_URL").is_ok() {
        bench(Db::Postgres).await?;
    } else {
        println!(
            "postgres   skipped: BIZOSAAS_TEST_PG_ADMIN_URL is not set (run scripts/services.sh)"
        );
    }
    Ok(())
}
