//! The embedded runner on SQLite and PostgreSQL: runs complete, retry with
//! backoff, stop on non-retryable errors, sleep durably, wait for children,
//! survive a dead worker, and fire schedules once per period.

mod support;

use anyhow::Result;
use chrono::Utc;
use domain::workflows::{Cadence, RunStatus, ScheduleSpec, StartRun, WorkflowEngine};
use serde_json::json;
use std::time::Duration;
use support::*;
use testkit::{Db, TestDb};

async fn a_run_of_three_activities_succeeds_and_records_each_step(db: Db) -> Result<()> {
    let app = app(TestDb::create(db).await?).await?;
    let t = app.tenant("Acme").await?;
    let run = start(
        &app,
        t.id,
        json!({ "steps": [effect_step("a"), effect_step("b"), effect_step("c")] }),
    )
    .await?;
    let d = finished(&app, t.id, run).await?;
    assert_eq!(d.run.status, RunStatus::Succeeded, "{d:#?}");
    assert_eq!(d.output, Some(json!(["a", "b", "c"])));
    assert_eq!(d.steps.len(), 3);
    for s in &d.steps {
        assert_eq!(
            (s.kind.as_str(), s.status.as_str()),
            ("activity", "succeeded")
        );
        assert_eq!(s.attempts.len(), 1);
        assert_eq!(s.attempts[0].outcome, "succeeded");
    }
    assert_eq!(d.run.attempts, 3);
    assert!(d.run.started_at.is_some() && d.run.finished_at.is_some());
    assert_eq!(effects_of(run), (3, 1));
    Ok(())
}

async fn an_activity_that_fails_twice_is_retried_with_backoff_and_then_succeeds(
    db: Db,
) -> Result<()> {
    let app = app(TestDb::create(db).await?).await?;
    let t = app.tenant("Acme").await?;
    let flaky = json!({ "do": "effect", "label": "flaky", "fail_times": 2 });
    let run = start(&app, t.id, json!({ "steps": [flaky], "backoff_ms": 200 })).await?;
    let retrying = wait_until(&app, t.id, run, 10, is(RunStatus::Retrying)).await?;
    assert!(retrying
        .run
        .last_error
        .as_deref()
        .unwrap()
        .contains("flaky failed on attempt 1"));
    assert!(
        retrying.run.next_run_at.is_some(),
        "a retrying run says when it continues"
    );

    let d = finished(&app, t.id, run).await?;
    assert_eq!(d.run.status, RunStatus::Succeeded, "{d:#?}");
    let attempts = &d.steps[0].attempts;
    let outcomes: Vec<_> = attempts.iter().map(|a| a.outcome.as_str()).collect();
    assert_eq!(outcomes, ["failed", "failed", "succeeded"]);
    assert!(attempts[0].error.as_deref().unwrap().contains("attempt 1"));
    // Equal jitter keeps at least half of each wait: 100 ms, then 200 ms.
    let gap = |i: usize| attempts[i + 1].started_at - attempts[i].finished_at.unwrap();
    assert!(
        gap(0).num_milliseconds() >= 95,
        "first backoff {:?}",
        gap(0)
    );
    assert!(
        gap(1).num_milliseconds() >= 195,
        "second backoff {:?}",
        gap(1)
    );
    assert_eq!(d.run.attempts, 3);
    Ok(())
}

async fn a_non_retryable_failure_stops_the_run_with_its_error(db: Db) -> Result<()> {
    let app = app(TestDb::create(db).await?).await?;
    let t = app.tenant("Acme").await?;
    let bad = json!({ "do": "effect", "label": "charge", "fail_times": 5, "retryable": false });
    let run = start(
        &app,
        t.id,
        json!({ "steps": [effect_step("a"), bad, effect_step("never")] }),
    )
    .await?;
    let d = finished(&app, t.id, run).await?;
    assert_eq!(d.run.status, RunStatus::Failed);
    let err = d.run.last_error.unwrap();
    assert!(
        err.contains("activity test.effect failed: charge failed on attempt 1"),
        "{err}"
    );
    assert_eq!(d.steps.len(), 2, "nothing after the failed step ran");
    assert_eq!(d.steps[1].attempts.len(), 1, "never retried");
    Ok(())
}

async fn a_retryable_failure_that_outlasts_its_attempts_fails_the_run(db: Db) -> Result<()> {
    let app = app(TestDb::create(db).await?).await?;
    let t = app.tenant("Acme").await?;
    let down = json!({ "do": "effect", "label": "upstream", "fail_times": 10 });
    let run = start(
        &app,
        t.id,
        json!({ "steps": [down], "max_attempts": 2, "backoff_ms": 10 }),
    )
    .await?;
    let d = finished(&app, t.id, run).await?;
    assert_eq!(d.run.status, RunStatus::Failed);
    assert!(d
        .run
        .last_error
        .unwrap()
        .contains("gave up after 2 attempts"));
    assert_eq!(d.steps[0].attempts.len(), 2);
    Ok(())
}

async fn a_durable_timer_lets_go_of_the_run_and_resumes_it(db: Db) -> Result<()> {
    let app = app(TestDb::create(db).await?).await?;
    let t = app.tenant("Acme").await?;
    let run = start(&app, t.id, json!({ "steps": [effect_step("before"), { "do": "sleep", "ms": 600 }, effect_step("after")] })).await?;
    let sleeping = wait_until(&app, t.id, run, 10, is(RunStatus::Sleeping)).await?;
    assert_eq!(sleeping.steps[1].kind, "timer");
    assert_eq!(sleeping.steps[1].status, "waiting");
    let d = finished(&app, t.id, run).await?;
    assert_eq!(d.output, Some(json!(["before", "slept 600 ms", "after"])));
    let slept = d.steps[2].started_at - d.steps[0].started_at;
    assert!(slept.num_milliseconds() >= 590, "{slept:?}");
    Ok(())
}

async fn a_child_workflow_runs_separately_and_its_result_reaches_the_parent(db: Db) -> Result<()> {
    let app = app(TestDb::create(db).await?).await?;
    let t = app.tenant("Acme").await?;
    let run = start(&app, t.id, json!({ "steps": [effect_step("parent"), { "do": "child", "steps": [effect_step("kid")] }] })).await?;
    let d = finished(&app, t.id, run).await?;
    assert_eq!(d.run.status, RunStatus::Succeeded, "{d:#?}");
    assert_eq!(d.output, Some(json!(["parent", "child: kid"])));
    assert_eq!(d.steps[1].kind, "child");
    let runs = app
        .workflows
        .list(
            t.id,
            domain::workflows::RunFilter {
                status: None,
                limit: domain::paging::Limit::parse(None).unwrap(),
                cursor: None,
            },
        )
        .await?;
    assert_eq!(runs.len(), 2, "the child is a run of its own");
    Ok(())
}

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
            tenant,
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

async fn starting_twice_with_one_workflow_key_gives_one_run(db: Db) -> Result<()> {
    let app = app(TestDb::create(db).await?).await?;
    let t = app.tenant("Acme").await?;
    let req = || StartRun {
        tenant: Some(t.id),
        requested_by: None,
        workflow_type: "test.script".into(),
        input: json!({ "steps": [effect_step("once")] }),
        dedup_key: Some("nightly-2026-11-26".into()),
    };
    let first = app.workflows.start(req()).await?;
    let again = app.workflows.start(req()).await?;
    assert!(first.created && !again.created);
    assert_eq!(first.run.id, again.run.id);
    finished(&app, t.id, first.run.id).await?;
    assert_eq!(effects_of(first.run.id), (1, 1));
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
    a_run_of_three_activities_succeeds_and_records_each_step,
    an_activity_that_fails_twice_is_retried_with_backoff_and_then_succeeds,
    a_non_retryable_failure_stops_the_run_with_its_error,
    a_retryable_failure_that_outlasts_its_attempts_fails_the_run,
    a_durable_timer_lets_go_of_the_run_and_resumes_it,
    a_child_workflow_runs_separately_and_its_result_reaches_the_parent,
    a_run_whose_worker_died_mid_activity_completes_on_another_with_each_effect_once,
    schedules_fire_once_per_period_across_two_runners,
    a_schedule_that_missed_periods_while_stopped_fires_once_on_restart,
    starting_twice_with_one_workflow_key_gives_one_run,
    a_run_cut_short_by_a_graceful_stop_is_handed_back_at_once,
);
