//! What is particular to the Temporal engine: an unreachable cluster, the
//! tenant walls around runs the database only indexes, cancel and retry
//! through Temporal, and schedules as Temporal schedules.

mod support;

use anyhow::Result;
use domain::workflows::{Cadence, RunStatus, ScheduleSpec};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;
use support::*;
use testkit::{Db, TestApp, TestDb, WorkflowSetup};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_temporal_gives_503_and_keeps_nothing_of_the_request() -> Result<()> {
    let mut config = testkit::temporal::config();
    // Nothing listens on a port just freed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    config.address = format!("127.0.0.1:{port}");
    let app = TestApp::spawn_with_workflows(
        TestDb::create(Db::Sqlite).await?,
        WorkflowSetup {
            registry: registry(),
            temporal: Some(config),
            ..Default::default()
        },
    )
    .await?;
    let t = app.tenant("Acme").await?;
    let res = post(
        &app,
        &t.token,
        "/api/v1/workflows",
        json!({ "workflow_type": "audit_log.export" }),
    )
    .await?;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let p: Value = res.json().await?;
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.contains("workflow engine is unreachable") && detail.contains(&port.to_string()),
        "{detail}"
    );
    let runs = app.get_json("/api/v1/workflows", &t.token).await?;
    assert!(
        runs["items"].as_array().unwrap().is_empty(),
        "no run recorded: {runs}"
    );
    let audited = app
        .get_json("/api/v1/audit-logs?action=workflow.started", &t.token)
        .await?;
    assert!(
        audited["items"].as_array().unwrap().is_empty(),
        "nothing audited: {audited}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_sleeping_temporal_run_ends_it() -> Result<()> {
    let app = app_on(TestDb::create(Db::Sqlite).await?, Engine::Temporal).await?;
    let t = app.tenant("Acme").await?;
    let run = start(&app, t.id, json!({ "steps": [effect_step("a"), { "do": "sleep", "ms": 60_000 }, effect_step("never")] })).await?;
    wait_until(&app, t.id, run, 10, is(RunStatus::Sleeping)).await?;
    let res = post(
        &app,
        &t.token,
        &format!("/api/v1/workflows/{run}/cancel"),
        json!({}),
    )
    .await?;
    assert_eq!(res.status(), StatusCode::OK);
    let d = wait_until(&app, t.id, run, 10, |d| d.run.status.is_terminal()).await?;
    assert_eq!(d.run.status, RunStatus::Cancelled);
    let again = post(
        &app,
        &t.token,
        &format!("/api/v1/workflows/{run}/cancel"),
        json!({}),
    )
    .await?;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(effects_of(run).0, 1, "the step after the timer never ran");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrying_a_failed_temporal_run_runs_it_again() -> Result<()> {
    let app = app_on(TestDb::create(Db::Sqlite).await?, Engine::Temporal).await?;
    let t = app.tenant("Acme").await?;
    let gate = format!("gate-{}", uuid::Uuid::now_v7());
    let run = start(&app, t.id, json!({ "steps": [effect_step("first"), { "do": "effect", "label": "gated", "gate": gate }] })).await?;
    let failed = finished(&app, t.id, run).await?;
    assert_eq!(failed.run.status, RunStatus::Failed);
    assert!(failed.run.last_error.unwrap().contains("gate"));
    open_gate(&gate);
    let res = post(
        &app,
        &t.token,
        &format!("/api/v1/workflows/{run}/retry"),
        json!({}),
    )
    .await?;
    assert_eq!(res.status(), StatusCode::OK);
    let d = wait_until(&app, t.id, run, 15, |d| {
        d.run.status == RunStatus::Succeeded
    })
    .await?;
    assert_eq!(d.output, Some(json!(["first", "gated"])));
    // The first activity's effect was keyed, so running it again changed nothing.
    assert_eq!(effects_of(run).1, 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_temporal_schedule_starts_a_run_each_period() -> Result<()> {
    let app = app_on(TestDb::create(Db::Sqlite).await?, Engine::Temporal).await?;
    let t = app.tenant("Acme").await?;
    let name = format!("tick-{}", uuid::Uuid::now_v7().simple());
    let spec = ScheduleSpec {
        tenant: Some(t.id),
        name: name.clone(),
        workflow_type: "test.script".into(),
        input: json!({ "steps": [effect_step("tick")] }),
        cadence: Cadence::Every(Duration::from_secs(1)),
    };
    app.workflows.schedule(spec.clone()).await?;
    // Making it again replaces it rather than adding a second schedule.
    app.workflows.schedule(spec).await?;
    // Once a second: at least two firings come, and never more than the
    // seconds that passed allow (under load a firing may come late).
    let started = std::time::Instant::now();
    while support::effects_with_label_prefix("tick") < 2 {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(15),
            "fewer than 2 firings in 15 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let fired = support::effects_with_label_prefix("tick");
    let allowed = started.elapsed().as_secs() as usize + 2;
    assert!(
        fired <= allowed,
        "{fired} firings, at most {allowed} expected"
    );
    let cron = ScheduleSpec {
        tenant: Some(t.id),
        name: name.clone(),
        workflow_type: "test.script".into(),
        input: json!({}),
        cadence: Cadence::Cron("30 * * * * *".into()),
    };
    let err = app.workflows.schedule(cron).await.unwrap_err();
    assert!(err.to_string().contains("minute resolution"), "{err}");
    assert!(app.workflows.unschedule(Some(t.id), &name).await?);
    Ok(())
}
