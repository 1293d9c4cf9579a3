//! What every engine does with the same workflow code, on the embedded
//! runner (SQLite and PostgreSQL) and on Temporal: runs complete, activities
//! retry with backoff and stop on non-retryable errors, timers and child
//! workflows wait durably, signals reach runs in order, a workflow id starts
//! one run, schedules start runs of their tenant until removed, and tenants
//! are walled.

mod support;

use anyhow::Result;
use domain::workflows::{Cadence, RunStatus, ScheduleSpec, StartRun};
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;
use support::*;
use testkit::{Db, TestDb};

async fn a_run_of_three_activities_succeeds_and_records_each_step(
    db: Db,
    on: Engine,
) -> Result<()> {
    let app = app_on(TestDb::create(db).await?, on).await?;
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
    on: Engine,
) -> Result<()> {
    let app = app_on(TestDb::create(db).await?, on).await?;
    let t = app.tenant("Acme").await?;
    let flaky = json!({ "do": "effect", "label": "flaky", "fail_times": 2 });
    let run = start(&app, t.id, json!({ "steps": [flaky], "backoff_ms": 200 })).await?;
    let retrying = wait_until(&app, t.id, run, 10, is(RunStatus::Retrying)).await?;
    assert!(retrying
        .run
        .last_error
        .as_deref()
        .unwrap()
        .contains("flaky failed on attempt"));
    if on == Engine::Embedded {
        // Temporal keeps its retry timer to itself.
        assert!(
            retrying.run.next_run_at.is_some(),
            "a retrying run says when it continues"
        );
    }

    let d = finished(&app, t.id, run).await?;
    assert_eq!(d.run.status, RunStatus::Succeeded, "{d:#?}");
    let attempts = &d.steps[0].attempts;
    let outcomes: Vec<_> = attempts.iter().map(|a| a.outcome.as_str()).collect();
    assert_eq!(outcomes, ["failed", "failed", "succeeded"]);
    assert!(attempts[0]
        .error
        .as_deref()
        .unwrap()
        .contains("flaky failed on attempt"));
    // Backoffs of 200 ms then 400 ms; the embedded runner's equal jitter
    // keeps at least half of each, so the step took at least 300 ms.
    let step = &d.steps[0];
    let took = step.finished_at.unwrap() - step.started_at;
    assert!(
        took.num_milliseconds() >= 295,
        "retried without backoff: {took:?}"
    );
    assert_eq!(d.run.attempts, 3);
    Ok(())
}

async fn a_non_retryable_failure_stops_the_run_with_its_error(db: Db, on: Engine) -> Result<()> {
    let app = app_on(TestDb::create(db).await?, on).await?;
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

async fn a_retryable_failure_that_outlasts_its_attempts_fails_the_run(
    db: Db,
    on: Engine,
) -> Result<()> {
    let app = app_on(TestDb::create(db).await?, on).await?;
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
        .contains("upstream failed on attempt 2"));
    assert_eq!(d.steps[0].attempts.len(), 2);
    Ok(())
}

async fn a_durable_timer_lets_go_of_the_run_and_resumes_it(db: Db, on: Engine) -> Result<()> {
    let app = app_on(TestDb::create(db).await?, on).await?;
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

async fn a_child_workflow_runs_separately_and_its_result_reaches_the_parent(
    db: Db,
    on: Engine,
) -> Result<()> {
    let app = app_on(TestDb::create(db).await?, on).await?;
    let t = app.tenant("Acme").await?;
    let run = start(&app, t.id, json!({ "steps": [effect_step("parent"), { "do": "child", "steps": [effect_step("kid")] }] })).await?;
    let d = finished(&app, t.id, run).await?;
    assert_eq!(d.run.status, RunStatus::Succeeded, "{d:#?}");
    assert_eq!(d.output, Some(json!(["parent", "child: kid"])));
    assert_eq!(d.steps[1].kind, "child");
    let runs = app
        .workflows
        .list(
            &domain::Principal::operator(t.id).scope(),
            domain::workflows::RunFilter {
                status: None,
                limit: domain::paging::Limit::parse(None).unwrap(),
                cursor: None,
            },
        )
        .await?;
    // The embedded runner lists the child as a run of its own; on Temporal
    // it is part of its parent's history.
    let expected = if on == Engine::Embedded { 2 } else { 1 };
    assert_eq!(runs.len(), expected);
    Ok(())
}

async fn starting_twice_with_one_workflow_key_gives_one_run(db: Db, on: Engine) -> Result<()> {
    let app = app_on(TestDb::create(db).await?, on).await?;
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

async fn a_tenant_cannot_see_cancel_retry_or_signal_another_tenants_runs(
    db: Db,
    on: Engine,
) -> Result<()> {
    let app = app_on(TestDb::create(db).await?, on).await?;
    let a = app.tenant("Acme").await?;
    let b = app.tenant("Globex").await?;
    let run = start_script(&app, &a.token, json!([{ "do": "sleep", "ms": 60_000 }])).await?;
    let id = run["id"].as_str().unwrap();
    assert!(app.get_json("/api/v1/workflows", &b.token).await?["items"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(
        app.get_status(&format!("/api/v1/workflows/{id}"), &b.token)
            .await?,
        StatusCode::NOT_FOUND
    );
    for (action, body) in [
        ("cancel", json!({})),
        ("retry", json!({})),
        ("signal", json!({ "name": "go" })),
    ] {
        let res = post(
            &app,
            &b.token,
            &format!("/api/v1/workflows/{id}/{action}"),
            body,
        )
        .await?;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{action}");
    }
    let d = app
        .get_json(&format!("/api/v1/workflows/{id}"), &a.token)
        .await?;
    assert_ne!(d["status"], "cancelled");
    Ok(())
}

async fn a_signal_continues_a_waiting_run_with_its_payload(db: Db, on: Engine) -> Result<()> {
    let app = app_on(TestDb::create(db).await?, on).await?;
    let t = app.tenant("Acme").await?;
    let steps =
        json!([effect_step("asked"), { "do": "signal", "name": "approval" }, effect_step("done")]);
    let run = start_script(&app, &t.token, steps).await?;
    let id = run["id"].as_str().unwrap().to_owned();
    let asked =
        |d: &domain::workflows::RunDetail| d.steps.first().is_some_and(|s| s.status == "succeeded");
    let waiting = wait_until(&app, t.id, id.parse()?, 10, asked).await?;
    assert!(!waiting.run.status.is_terminal(), "{waiting:#?}");
    let body = json!({ "name": "approval", "payload": { "by": "ops" } });
    let res = send_signal(&app, &t.token, &id, body).await?;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let d = finished(&app, t.id, id.parse()?).await?;
    assert_eq!(d.run.status, RunStatus::Succeeded, "{d:#?}");
    assert_eq!(
        d.output,
        Some(json!(["asked", r#"approval: {"by":"ops"}"#, "done"]))
    );
    assert!(d
        .steps
        .iter()
        .any(|s| s.kind == "signal" && s.name == "approval"));
    Ok(())
}

async fn signals_that_arrive_before_the_run_waits_are_taken_in_order(
    db: Db,
    on: Engine,
) -> Result<()> {
    let app = app_on(TestDb::create(db).await?, on).await?;
    let t = app.tenant("Acme").await?;
    let steps = json!([
        { "do": "sleep", "ms": 500 },
        { "do": "signal", "name": "page" },
        { "do": "signal", "name": "page" },
    ]);
    let run = start_script(&app, &t.token, steps).await?;
    let id = run["id"].as_str().unwrap().to_owned();
    for (name, n) in [("page", 1), ("other", 0), ("page", 2)] {
        let body = json!({ "name": name, "payload": n });
        let res = send_signal(&app, &t.token, &id, body).await?;
        assert_eq!(res.status(), StatusCode::ACCEPTED);
    }
    let d = finished(&app, t.id, id.parse()?).await?;
    assert_eq!(
        d.output,
        Some(json!(["slept 500 ms", "page: 1", "page: 2"])),
        "{d:#?}"
    );
    Ok(())
}

async fn a_signal_to_an_ended_run_is_refused(db: Db, on: Engine) -> Result<()> {
    let app = app_on(TestDb::create(db).await?, on).await?;
    let t = app.tenant("Acme").await?;
    let run = start_script(&app, &t.token, json!([effect_step("only")])).await?;
    let id = run["id"].as_str().unwrap().to_owned();
    finished(&app, t.id, id.parse()?).await?;
    let res = send_signal(&app, &t.token, &id, json!({ "name": "late" })).await?;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let problem: serde_json::Value = res.json().await?;
    assert_eq!(
        problem["detail"],
        "a run that is succeeded cannot be signalled"
    );
    Ok(())
}

async fn a_tenants_schedule_starts_runs_only_it_sees_until_removed(
    db: Db,
    on: Engine,
) -> Result<()> {
    let app = app_on(TestDb::create(db).await?, on).await?;
    let a = app.tenant("Acme").await?;
    let b = app.tenant("Globex").await?;
    let name = format!("sync-{}", uuid::Uuid::now_v7().simple());
    let spec = ScheduleSpec {
        tenant: Some(a.id),
        name: name.clone(),
        workflow_type: "test.script".into(),
        input: json!({ "steps": [effect_step("scheduled")] }),
        cadence: Cadence::Every(Duration::from_secs(1)),
    };
    app.workflows.schedule(spec).await?;
    let succeeded = || async {
        let page = app.get_json("/api/v1/workflows", &a.token).await?;
        let items = page["items"].as_array().cloned().unwrap_or_default();
        anyhow::Ok(items.iter().filter(|r| r["status"] == "succeeded").count())
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while succeeded().await? < 2 {
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "fewer than 2 scheduled runs in 15 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let others = app.get_json("/api/v1/workflows", &b.token).await?;
    assert!(others["items"].as_array().unwrap().is_empty(), "{others}");
    assert!(app.workflows.unschedule(Some(a.id), &name).await?);
    assert!(!app.workflows.unschedule(Some(a.id), &name).await?);
    // A firing already under way may still finish; none starts after it.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let settled = app.get_json("/api/v1/workflows", &a.token).await?["items"]
        .as_array()
        .unwrap()
        .len();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let later = app.get_json("/api/v1/workflows", &a.token).await?["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(later, settled, "the removed schedule kept firing");
    Ok(())
}

on_every_engine!(
    a_tenant_cannot_see_cancel_retry_or_signal_another_tenants_runs,
    a_signal_continues_a_waiting_run_with_its_payload,
    signals_that_arrive_before_the_run_waits_are_taken_in_order,
    a_signal_to_an_ended_run_is_refused,
    a_tenants_schedule_starts_runs_only_it_sees_until_removed,
    a_run_of_three_activities_succeeds_and_records_each_step,
    an_activity_that_fails_twice_is_retried_with_backoff_and_then_succeeds,
    a_non_retryable_failure_stops_the_run_with_its_error,
    a_retryable_failure_that_outlasts_its_attempts_fails_the_run,
    a_durable_timer_lets_go_of_the_run_and_resumes_it,
    a_child_workflow_runs_separately_and_its_result_reaches_the_parent,
    starting_twice_with_one_workflow_key_gives_one_run,
);
