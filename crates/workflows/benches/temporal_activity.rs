//! What an activity costs on Temporal (dev server, loopback) against a
//! direct call of the same function: workflows of 10 no-op activities and
//! of none, run one after another; the difference per activity is the
//! engine's overhead (`cargo bench -p workflows --bench temporal_activity`,
//! with `scripts/services.sh`'s environment).

use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use temporalio_client::WorkflowStartOptions;
use testkit::{Db, TestDb};
use workflows::temporal::{connect, Envelope, NamedWorkflow};
use workflows::{
    activity_def, workflow_def, ActivityCtx, ActivityOptions, Registry, WorkflowCtx, WorkflowError,
};

const ACTIVITIES: u64 = 10;
const RUNS: usize = 30;

#[derive(serde::Serialize, serde::Deserialize)]
struct Chain {
    n: u64,
    local: bool,
}

async fn chain<C: WorkflowCtx>(ctx: &C, input: Chain) -> Result<u64, WorkflowError> {
    let opts = ActivityOptions {
        local: input.local,
        ..Default::default()
    };
    let mut x = 0u64;
    for _ in 0..input.n {
        x = ctx.activity("bench.noop", &x, &opts).await?;
    }
    Ok(x)
}

async fn noop(_: ActivityCtx, n: u64) -> Result<u64, domain::workflows::ActivityError> {
    Ok(n + 1)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Ok(address) = std::env::var("BIZOSAAS_TEST_TEMPORAL_ADDRESS") else {
        println!("skipped: BIZOSAAS_TEST_TEMPORAL_ADDRESS is not set (run scripts/services.sh)");
        return Ok(());
    };
    let mut config = workflows::temporal::TemporalConfig::local(address);
    config.task_queue = format!("bizosaas-bench-{}", std::process::id());
    let mut registry = Registry::new();
    registry.workflow(workflow_def!(
        "bench.chain",
        chain,
        input = Chain,
        tenant_startable = false
    ));
    registry.activity(activity_def!("bench.noop", noop));
    let db = TestDb::create(Db::Sqlite).await?;
    let data = tempfile::tempdir()?;
    let _worker = testkit::temporal::WorkerThread::spawn(
        config.clone(),
        Arc::new(registry),
        db.config.clone(),
        data.path().into(),
        None,
    );
    let client = connect(&config).await.map_err(anyhow::Error::msg)?;
    let run = |n: u64, local: bool, i: usize| {
        let client = client.clone();
        let queue = config.task_queue.clone();
        async move {
            let envelope = Envelope {
                tenant: None,
                run_id: domain::RunId::new(),
                input: json!({ "n": n, "local": local }),
                scheduled: false,
            };
            let t = Instant::now();
            let h = client
                .start_workflow(
                    NamedWorkflow("bench.chain".into()),
                    json!(envelope),
                    WorkflowStartOptions::new(
                        queue,
                        format!("bench-{}-{n}-{local}-{i}", std::process::id()),
                    )
                    .build(),
                )
                .await?;
            let out: Value = h.get_result(Default::default()).await?;
            anyhow::ensure!(out == json!(n), "unexpected result {out}");
            Ok::<_, anyhow::Error>(t.elapsed().as_secs_f64() * 1000.0)
        }
    };
    // Warm up the worker's caches and connections.
    for i in 0..3 {
        run(ACTIVITIES, false, 1000 + i).await?;
        run(ACTIVITIES, true, 1000 + i).await?;
    }
    let mut report = Vec::new();
    for local in [false, true] {
        let (mut with, mut without) = (Vec::new(), Vec::new());
        for i in 0..RUNS {
            with.push(run(ACTIVITIES, local, i).await?);
            without.push(run(0, local, i).await?);
        }
        let mut per_activity: Vec<f64> = with
            .iter()
            .zip(&without)
            .map(|(w, o)| ((w - o) / ACTIVITIES as f64).max(0.0))
            .collect();
        per_activity.sort_by(f64::total_cmp);
        with.sort_by(f64::total_cmp);
        without.sort_by(f64::total_cmp);
        report.push((local, with, without, per_activity));
    }

    // The same function called directly.
    let store = db.store().await?;
    let ctx = ActivityCtx {
        env: workflows::ActivityEnv {
            store,
            data_dir: data.path().into(),
            connectors: None,
        },
        tenant: None,
        run_id: domain::RunId::new(),
        idempotency_key: "bench".into(),
        attempt: 1,
        cancelled: Default::default(),
    };
    let calls = 100_000u32;
    let t = Instant::now();
    let mut x = 0;
    for _ in 0..calls {
        x = noop(ctx.clone(), std::hint::black_box(x)).await.unwrap();
    }
    let direct_us = t.elapsed().as_secs_f64() * 1e6 / f64::from(calls);

    println!("Temporal dev server on loopback, {RUNS} runs each, one at a time:");
    for (local, with, without, per) in &report {
        let kind = if *local {
            "local activities"
        } else {
            "activities"
        };
        println!(
            "  {kind:<16}: workflow of {ACTIVITIES} p50 {:.1} ms, of 0 p50 {:.1} ms; per activity p50 {:.2} ms, p99 {:.2} ms",
            pct(with, 0.5),
            pct(without, 0.5),
            pct(per, 0.5),
            pct(per, 0.99)
        );
    }
    println!("  direct call of the same function: {direct_us:.3} µs");
    tokio::time::sleep(Duration::from_millis(100)).await;
    Ok(())
}
