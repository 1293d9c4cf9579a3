//! What only the embedded runner does, on SQLite and PostgreSQL: a run
//! survives its worker dying or stopping, and schedules fire once per period
//! across runners and restarts. (What every engine does is in `engines.rs`.)

mod support;

use anyhow::Result;
use chrono::Utc;
use domain::workflows::{Cadence, RunStatus, ScheduleSpec};
use serde_json::json;
use std::time::Duration;
use support::*;
use testkit::{Db, TestDb};

async fn a_run_whose_worker_died_mid_activity_completes_on_another_with_each_effect_once(
    db: Db,
) -> Result<()> {
    let test_db = TestDb::create(db).await?;
    let shared = test_db.share();
    let mut first = app(test_db).await?;
    let t = first.tenant("Acme").await?;
    let slow = json!({ "do": "effect", "label": "slow", "hold_first_ms": 60_000 });
    let run = start(
        &first,
        t.id,
        json!({ "steps": [effect_step("one"), slow, effect_step("three")] }),
    )
    .await?;
    wait_until(&first, t.id, run, 10, |d| d.steps.len() == 2).await?;
    first.kill_runner();

    let second = app(shared).await?;
    let d = finished(&second, t.id, run).await?;
    assert_eq!(d.run.status, RunStatus::Succeeded, "{d:#?}");
    assert_eq!(d.output, Some(json!(["one", "slow", "three"])));
    assert_eq!(
        d.steps[0].attempts.len(),
        1,
        "a finished step is not run again"
    );
    let outcomes: Vec<_> = d.steps[1]
        .attempts
        .iter()
        .map(|a| a.outcome.as_str())
        .collect();
    assert_eq!(outcomes, ["lost", "succeeded"]);
    assert_eq!(effects_of(run), (3, 1), "each effect applied exactly once");
    Ok(())
}

async fn schedules_fire_once_per_period_across_two_runners(db: Db) -> Result<()> {
    let test_db = TestDb::create(db).await?;
    let shared = test_db.share();
    let one = app(test_db).await?;
    let two = app(shared).await?;
    let t = one.tenant("Acme").await?;
    one.workflows
        .schedule(ScheduleSpec {
            tenant: Some(t.id),
            name: "tick".into(),
            workflow_type: "test.script".into(),
            input: json!({ "steps": [] }),
            cadence: Cadence::Every(Duration::from_secs(1)),
        })
        .await?;
    let began = Utc::now();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let runs = scheduled_runs(&one, t.id).await?;
    let elapsed = (Utc::now() - began).num_milliseconds() as usize / 1000;
    let mut keys: Vec<_> = runs.iter().map(|r| r.workflow_key.clone()).collect();
    keys.dedup();
    assert_eq!(keys.len(), runs.len(), "no firing twice: {keys:?}");
    assert!(
        (3..=elapsed + 1).contains(&runs.len()),
        "{} firings in {elapsed} s: {keys:?}",
        runs.len()
    );
    drop(two);
    Ok(())
}

async fn scheduled_runs(
    app: &testkit::TestApp,
    tenant: domain::TenantId,
) -> Result<Vec<domain::workflows::RunSummary>> {
    let all = app
        .workflows
        .list(
            &domain::Principal::operator(tenant).scope(),
            domain::workflows::RunFilter {
                status: None,
                limit: domain::paging::Limit::parse(Some(200)).unwrap(),
                cursor: None,
            },
        )
        .await?;
    let mut runs: Vec<_> = all
        .into_iter()
        .filter(|r| r.workflow_key.starts_with("schedule/tick/"))
        .collect();
    runs.sort_by(|a, b| a.workflow_key.cmp(&b.workflow_key));
    Ok(runs)
}

async fn a_schedule_that_missed_periods_while_stopped_fires_once_on_restart(db: Db) -> Result<()> {
    let mut app = app(TestDb::create(db).await?).await?;
    let t = app.tenant("Acme").await?;
    app.stop_runner().await;
    app.workflows
        .schedule(ScheduleSpec {
            tenant: Some(t.id),
            name: "tick".into(),
            workflow_type: "test.script".into(),
            input: json!({ "steps": [] }),
            cadence: Cadence::Every(Duration::from_secs(1)),
        })
        .await?;
    tokio::time::sleep(Duration::from_millis(3300)).await;
    assert!(
        scheduled_runs(&app, t.id).await?.is_empty(),
        "nothing fires while stopped"
    );
    app.start_runner();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let runs = scheduled_runs(&app, t.id).await?;
    assert_eq!(runs.len(), 1, "three missed periods fire once: {runs:#?}");
    Ok(())
}

async fn a_run_cut_short_by_a_graceful_stop_is_handed_back_at_once(db: Db) -> Result<()> {
    let test_db = TestDb::create(db).await?;
    let shared = test_db.share();
    let mut first = app(test_db).await?;
    let t = first.tenant("Acme").await?;
    let slow = json!({ "do": "effect", "label": "slow", "hold_first_ms": 60_000 });
    let run = start(&first, t.id, json!({ "steps": [slow] })).await?;
    wait_until(&first, t.id, run, 10, |d| d.steps.len() == 1).await?;
    first.stop_runner().await;
    let second = app(shared).await?;
    // Well inside the 3 s lease: the stopped worker let go instead of dying.
    let d = wait_until(&second, t.id, run, 2, |d| d.run.status.is_terminal()).await?;
    assert_eq!(d.run.status, RunStatus::Succeeded);
    Ok(())
}

testkit::on_both_backends!(
    a_run_whose_worker_died_mid_activity_completes_on_another_with_each_effect_once,
    schedules_fire_once_per_period_across_two_runners,
    a_schedule_that_missed_periods_while_stopped_fires_once_on_restart,
    a_run_cut_short_by_a_graceful_stop_is_handed_back_at_once,
);
