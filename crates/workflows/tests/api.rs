//! `/api/v1/workflows` on both backends: start (deduplicated), list, read
//! with history, cancel and retry; validation; roles; tenant walls.

mod support;

use anyhow::Result;
use domain::roles::Role;
use domain::workflows::RunStatus;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use support::*;
use testkit::{Db, TestDb};

fn run_id(v: &Value) -> domain::RunId {
    v["id"].as_str().unwrap().parse().unwrap()
}

async fn problem(res: reqwest::Response, status: StatusCode) -> Result<Value> {
    assert_eq!(res.status(), status);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    Ok(res.json().await?)
}

async fn an_admin_starts_a_run_and_reads_its_history(db: Db) -> Result<()> {
    let app = app(TestDb::create(db).await?).await?;
    let t = app.tenant("Acme").await?;
    let run = start_script(&app, &t.token, json!([effect_step("a"), effect_step("b")])).await?;
    assert_eq!(run["workflow_type"], "test.script");
    finished(&app, t.id, run_id(&run)).await?;
    let d = app
        .get_json(
            &format!("/api/v1/workflows/{}", run["id"].as_str().unwrap()),
            &t.token,
        )
        .await?;
    assert_eq!(d["status"], "succeeded");
    assert_eq!(d["output"], json!(["a", "b"]));
    assert_eq!(d["steps"].as_array().unwrap().len(), 2);
    assert_eq!(d["steps"][0]["attempts"][0]["outcome"], "succeeded");
    assert!(d["steps"][0]["attempts"][0]["duration_ms"].is_u64());
    let page = app
        .get_json("/api/v1/workflows?status=succeeded", &t.token)
        .await?;
    assert_eq!(page["items"][0]["id"], run["id"]);
    assert!(app
        .get_json("/api/v1/workflows?status=failed", &t.token)
        .await?["items"]
        .as_array()
        .unwrap()
        .is_empty());
    Ok(())
}

async fn the_same_idempotency_key_returns_the_same_run_with_200(db: Db) -> Result<()> {
    let app = app(TestDb::create(db).await?).await?;
    let t = app.tenant("Acme").await?;
    let send = || {
        app.request(Method::POST, "/api/v1/workflows", &t.token)
            .header("Idempotency-Key", "export-1")
            .json(&json!({ "workflow_type": "audit_log.export" }))
            .send()
    };
    let first = send().await?;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await?;
    let again = send().await?;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.json::<Value>().await?["id"], first["id"]);
    assert_eq!(first["workflow_key"], "export-1");
    Ok(())
}

async fn bad_starts_are_refused_with_a_reason(db: Db) -> Result<()> {
    let app = app(TestDb::create(db).await?).await?;
    let t = app.tenant("Acme").await?;
    let p = problem(
        post(
            &app,
            &t.token,
            "/api/v1/workflows",
            json!({ "workflow_type": "nope" }),
        )
        .await?,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await?;
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("known types: audit_log.export"),
        "{p}"
    );
    let p = problem(
        post(
            &app,
            &t.token,
            "/api/v1/workflows",
            json!({ "workflow_type": "maintenance.purge_expired" }),
        )
        .await?,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await?;
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("run by the platform"),
        "{p}"
    );
    let p = problem(
        post(
            &app,
            &t.token,
            "/api/v1/workflows",
            json!({ "workflow_type": "audit_log.export", "input": { "pace_ms": "slow" } }),
        )
        .await?,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await?;
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("invalid input for audit_log.export"),
        "{p}"
    );
    let p = problem(
        post(
            &app,
            &t.token,
            "/api/v1/workflows",
            json!({ "workflow_type": "audit_log.export", "workflow_key": "" }),
        )
        .await?,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await?;
    assert!(
        p["detail"].as_str().unwrap().contains("workflow_key"),
        "{p}"
    );
    let p = problem(
        app.get("/api/v1/workflows?status=done", &t.token)
            .send()
            .await?,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await?;
    assert_eq!(p["errors"][0]["field"], "status");
    let p = problem(
        app.get("/api/v1/workflows/not-a-uuid", &t.token)
            .send()
            .await?,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await?;
    assert_eq!(p["errors"][0]["field"], "id");
    let runs = app.get_json("/api/v1/workflows", &t.token).await?;
    assert!(
        runs["items"].as_array().unwrap().is_empty(),
        "nothing was started"
    );
    Ok(())
}

async fn members_may_watch_runs_but_only_admins_start_cancel_retry_or_signal(db: Db) -> Result<()> {
    let app = app(TestDb::create(db).await?).await?;
    let t = app.tenant("Acme").await?;
    let member = app.member(t.id, "m@acme.test", Role::Member).await?;
    let run = start_script(&app, &t.token, json!([{ "do": "sleep", "ms": 60_000 }])).await?;
    let id = run["id"].as_str().unwrap();
    assert_eq!(
        app.get_status("/api/v1/workflows", &member).await?,
        StatusCode::OK
    );
    assert_eq!(
        app.get_status(&format!("/api/v1/workflows/{id}"), &member)
            .await?,
        StatusCode::OK
    );
    for (path, body) in [
        (
            "/api/v1/workflows".to_string(),
            json!({ "workflow_type": "audit_log.export" }),
        ),
        (format!("/api/v1/workflows/{id}/cancel"), json!({})),
        (format!("/api/v1/workflows/{id}/retry"), json!({})),
        (
            format!("/api/v1/workflows/{id}/signal"),
            json!({ "name": "go" }),
        ),
    ] {
        let res = post(&app, &member, &path, body).await?;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
    }
    Ok(())
}

async fn cancelling_a_sleeping_run_ends_it_and_a_second_cancel_conflicts(db: Db) -> Result<()> {
    let app = app(TestDb::create(db).await?).await?;
    let t = app.tenant("Acme").await?;
    let run = start_script(
        &app,
        &t.token,
        json!([effect_step("a"), { "do": "sleep", "ms": 60_000 }, effect_step("never")]),
    )
    .await?;
    let id = run_id(&run);
    wait_until(&app, t.id, id, 10, is(RunStatus::Sleeping)).await?;
    let res = post(
        &app,
        &t.token,
        &format!("/api/v1/workflows/{id}/cancel"),
        json!({}),
    )
    .await?;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await?["status"], "cancelled");
    let p = problem(
        post(
            &app,
            &t.token,
            &format!("/api/v1/workflows/{id}/cancel"),
            json!({}),
        )
        .await?,
        StatusCode::CONFLICT,
    )
    .await?;
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("cancelled cannot be cancelled"),
        "{p}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let d = app
        .get_json(&format!("/api/v1/workflows/{id}"), &t.token)
        .await?;
    assert_eq!(d["status"], "cancelled");
    assert_eq!(
        d["steps"].as_array().unwrap().len(),
        2,
        "nothing ran after the cancel"
    );
    let log = app
        .get_json("/api/v1/audit-logs?action=workflow.cancelled", &t.token)
        .await?;
    assert_eq!(log["items"][0]["resource_id"], id.to_string());
    Ok(())
}

async fn cancelling_a_running_activity_stops_it(db: Db) -> Result<()> {
    let app = app(TestDb::create(db).await?).await?;
    let t = app.tenant("Acme").await?;
    let run = start_script(
        &app,
        &t.token,
        json!([{ "do": "effect", "label": "slow", "hold_first_ms": 60_000 }]),
    )
    .await?;
    let id = run_id(&run);
    wait_until(&app, t.id, id, 10, |d| d.steps.len() == 1).await?;
    let res = post(
        &app,
        &t.token,
        &format!("/api/v1/workflows/{id}/cancel"),
        json!({}),
    )
    .await?;
    assert_eq!(res.status(), StatusCode::OK);
    let d = wait_until(&app, t.id, id, 3, |d| d.run.status.is_terminal()).await?;
    assert_eq!(d.run.status, RunStatus::Cancelled);
    assert_eq!(d.steps[0].attempts[0].outcome, "cancelled");
    Ok(())
}

async fn retrying_a_failed_run_resumes_at_the_step_that_failed(db: Db) -> Result<()> {
    let app = app(TestDb::create(db).await?).await?;
    let t = app.tenant("Acme").await?;
    let gate = format!("gate-{}", uuid::Uuid::now_v7());
    let run = start_script(
        &app,
        &t.token,
        json!([effect_step("first"), { "do": "effect", "label": "gated", "gate": gate }]),
    )
    .await?;
    let id = run_id(&run);
    let failed = finished(&app, t.id, id).await?;
    assert_eq!(failed.run.status, RunStatus::Failed);
    open_gate(&gate);
    let res = post(
        &app,
        &t.token,
        &format!("/api/v1/workflows/{id}/retry"),
        json!({}),
    )
    .await?;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await?["status"], "queued");
    let d = wait_until(&app, t.id, id, 10, |d| d.run.status == RunStatus::Succeeded).await?;
    assert_eq!(
        d.steps[0].attempts.len(),
        1,
        "the finished step was not run again"
    );
    let outcomes: Vec<_> = d.steps[1]
        .attempts
        .iter()
        .map(|a| a.outcome.as_str())
        .collect();
    assert_eq!(outcomes, ["failed", "succeeded"]);
    let p = problem(
        post(
            &app,
            &t.token,
            &format!("/api/v1/workflows/{id}/retry"),
            json!({}),
        )
        .await?,
        StatusCode::CONFLICT,
    )
    .await?;
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("succeeded cannot be retried"),
        "{p}"
    );
    Ok(())
}

async fn bad_signals_are_refused_with_a_reason_and_leave_nothing(db: Db) -> Result<()> {
    let app = app(TestDb::create(db).await?).await?;
    let t = app.tenant("Acme").await?;
    let steps = json!([{ "do": "signal", "name": "go" }, effect_step("after")]);
    let run = start_script(&app, &t.token, steps).await?;
    let path = format!("/api/v1/workflows/{}/signal", run["id"].as_str().unwrap());
    let huge = "x".repeat(domain::workflows::SIGNAL_PAYLOAD_MAX);
    for (body, says) in [
        (json!({ "name": "not ok" }), "must be 1 to 100 letters"),
        (json!({ "name": "go", "payload": huge }), "at most 65536"),
        (json!({ "name": "go", "extra": 1 }), "unknown field `extra`"),
    ] {
        let p = problem(
            post(&app, &t.token, &path, body).await?,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await?;
        assert!(p["detail"].as_str().unwrap().contains(says), "{p}");
    }
    let audit = app.get_json("/api/v1/audit-logs", &t.token).await?;
    assert!(
        !audit.to_string().contains("workflow.signalled"),
        "a refused signal is not audited"
    );
    // The run still waits: none of the refused signals reached it.
    let d = app
        .get_json(
            &format!("/api/v1/workflows/{}", run["id"].as_str().unwrap()),
            &t.token,
        )
        .await?;
    assert_ne!(d["status"], "succeeded");
    post(&app, &t.token, &path, json!({ "name": "go" })).await?;
    let d = finished(&app, t.id, run_id(&run)).await?;
    assert_eq!(d.output, Some(json!(["go: null", "after"])));
    Ok(())
}

async fn postgres_row_security_hides_runs_from_other_tenants_and_from_unscoped_sessions(
) -> Result<()> {
    let test_db = TestDb::create(Db::Postgres).await?;
    let pool = test_db.raw_app_pool().await?;
    let app = app(test_db).await?;
    let a = app.tenant("Acme").await?;
    let b = app.tenant("Globex").await?;
    let steps = json!([{ "do": "signal", "name": "go" }, effect_step("x")]);
    let run = start_script(&app, &a.token, steps).await?;
    send_signal(
        &app,
        &a.token,
        run["id"].as_str().unwrap(),
        json!({ "name": "go" }),
    )
    .await?;
    finished(&app, a.id, run_id(&run)).await?;
    for table in [
        "workflow_runs",
        "workflow_steps",
        "workflow_attempts",
        "workflow_signals",
    ] {
        let unscoped: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&pool)
            .await?;
        assert_eq!(unscoped, 0, "{table} without a tenant");
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
            .bind(b.id.to_string())
            .execute(&mut *tx)
            .await?;
        let as_b: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&mut *tx)
            .await?;
        assert_eq!(as_b, 0, "{table} as another tenant");
        sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
            .bind(a.id.to_string())
            .execute(&mut *tx)
            .await?;
        let as_a: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&mut *tx)
            .await?;
        assert!(as_a >= 1, "{table} as its tenant");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_row_security_walls_workflow_tables() -> Result<()> {
    postgres_row_security_hides_runs_from_other_tenants_and_from_unscoped_sessions().await
}

async fn run_metrics_are_exported(db: Db) -> Result<()> {
    let app = app(TestDb::create(db).await?).await?;
    let t = app.tenant("Acme").await?;
    let run = start_script(&app, &t.token, json!([effect_step("a")])).await?;
    finished(&app, t.id, run_id(&run)).await?;
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        text.contains(r#"workflow_runs_total{workflow="test.script",outcome="started"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"workflow_runs_total{workflow="test.script",outcome="succeeded"} 1"#));
    assert!(text.contains("workflow_activity_duration_seconds_count{activity=\"test.effect\",outcome=\"succeeded\"} 1"));
    assert!(text.contains("workflow_queue_depth"));
    Ok(())
}

testkit::on_both_backends!(
    an_admin_starts_a_run_and_reads_its_history,
    the_same_idempotency_key_returns_the_same_run_with_200,
    bad_starts_are_refused_with_a_reason,
    members_may_watch_runs_but_only_admins_start_cancel_retry_or_signal,
    bad_signals_are_refused_with_a_reason_and_leave_nothing,
    cancelling_a_sleeping_run_ends_it_and_a_second_cancel_conflicts,
    cancelling_a_running_activity_stops_it,
    retrying_a_failed_run_resumes_at_the_step_that_failed,
    run_metrics_are_exported,
);
