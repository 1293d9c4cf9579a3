//! `/workflows`: runs with live status, a run's steps, starting an export,
//! and the walls around them. Browser tests save screenshots under
//! `target/e2e/`.

use anyhow::{bail, Result};
use domain::roles::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use testkit::{Db, TestApp, MEMBER_PASSWORD};

async fn slow_export(app: &TestApp, token: &str) -> Result<String> {
    for i in 0..5 {
        app.request(Method::POST, "/api/v1/tokens", token)
            .json(&json!({ "name": format!("reader {i}"), "scopes": ["read"] }))
            .send()
            .await?;
    }
    let run: Value = app
        .request(Method::POST, "/api/v1/workflows", token)
        .json(&json!({ "workflow_type": "audit_log.export", "input": { "page_size": 1, "pace_ms": 400 } }))
        .send()
        .await?
        .json()
        .await?;
    Ok(run["id"].as_str().unwrap().to_string())
}

/// The run's status badge. The page swaps its content every 2 s while the
/// run is active, so a read can meet an element just replaced: read again.
async fn badge(chrome: &testkit::e2e::Chrome) -> String {
    for _ in 0..20 {
        if let Ok(text) = chrome.text("h1 .badge").await {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    String::new()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_page_follows_the_run_live_until_it_succeeds() -> Result<()> {
    let app = TestApp::spawn(Db::Sqlite).await?;
    let acme = app.tenant("Acme").await?;
    app.member(acme.id, "ada@acme.io", Role::Admin).await?;
    let chrome = app.chrome().await?;
    chrome.sign_in("ada@acme.io", MEMBER_PASSWORD).await?;
    chrome.goto("/workflows").await?;
    assert!(chrome.text("#runs").await?.contains("No workflow runs"));
    chrome.screenshot("workflows-empty").await?;

    let id = slow_export(&app, &acme.token).await?;
    chrome.goto(&format!("/workflows/{id}")).await?;
    let first = badge(&chrome).await;
    assert!(["queued", "running"].contains(&first.as_str()), "{first}");
    tokio::time::sleep(Duration::from_millis(900)).await;
    chrome.screenshot("workflow-run-live").await?;
    // No reload: the page refreshes itself while the run is active.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if badge(&chrome).await == "succeeded" {
            break;
        }
        if Instant::now() > deadline {
            bail!("the page never showed the run succeeding");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Ended runs stop refreshing, so the page is still from here on.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let steps = chrome.text("#run table").await?;
    assert!(steps.contains("audit_log.export_page"), "{steps}");
    assert!(steps.contains("audit_log.export_finish"), "{steps}");
    chrome.screenshot("workflow-run-succeeded").await?;

    chrome.goto("/workflows").await?;
    let runs = chrome.text("#runs").await?;
    assert!(
        runs.contains("audit_log.export") && runs.contains("succeeded"),
        "{runs}"
    );
    assert!(chrome
        .text("figure.chart figcaption")
        .await?
        .contains("1 in 30 days"));
    chrome.screenshot("workflows-list").await?;
    assert!(chrome.console_errors().await?.is_empty());
    chrome.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_starts_an_export_from_the_page() -> Result<()> {
    let app = TestApp::spawn(Db::Sqlite).await?;
    let acme = app.tenant("Acme").await?;
    app.member(acme.id, "ada@acme.io", Role::Admin).await?;
    let chrome = app.chrome().await?;
    chrome.sign_in("ada@acme.io", MEMBER_PASSWORD).await?;
    chrome.goto("/workflows").await?;
    chrome.click(".page-head form button").await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        chrome.path().await?.starts_with("/workflows/"),
        "{}",
        chrome.path().await?
    );
    assert!(chrome.text("h1").await?.contains("audit_log.export"));
    chrome.close().await
}

/// Waits for the signal `approve` and returns its payload.
async fn approval<C: workflows::WorkflowCtx>(
    ctx: &C,
    _input: Value,
) -> Result<Value, workflows::WorkflowError> {
    ctx.signal("approve").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_signals_a_waiting_run_from_its_page() -> Result<()> {
    let mut setup = testkit::WorkflowSetup::default();
    setup.registry.workflow(workflows::workflow_def!(
        "test.approval",
        approval,
        input = Value,
        tenant_startable = true
    ));
    let app =
        TestApp::spawn_with_workflows(testkit::TestDb::create(Db::Sqlite).await?, setup).await?;
    let acme = app.tenant("Acme").await?;
    app.member(acme.id, "ada@acme.io", Role::Admin).await?;
    let run: Value = app
        .request(Method::POST, "/api/v1/workflows", &acme.token)
        .json(&json!({ "workflow_type": "test.approval" }))
        .send()
        .await?
        .json()
        .await?;
    let id = run["id"].as_str().unwrap();
    let chrome = app.chrome().await?;
    chrome.sign_in("ada@acme.io", MEMBER_PASSWORD).await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        chrome.goto(&format!("/workflows/{id}")).await?;
        if chrome
            .text("#run .facts")
            .await?
            .contains("the signal approve")
        {
            break;
        }
        if Instant::now() > deadline {
            bail!("the page never showed the run waiting for its signal");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    chrome.fill("payload", r#"{"approved_by": "ada"}"#).await?;
    chrome.screenshot("workflow-run-waiting-for-signal").await?;
    chrome.click("#signal button").await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while badge(&chrome).await != "succeeded" {
        if Instant::now() > deadline {
            bail!("the signalled run never showed as succeeded");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let result = chrome.text("#run").await?;
    assert!(result.contains("approved_by"), "{result}");
    chrome.screenshot("workflow-run-signalled").await?;
    assert!(chrome.console_errors().await?.is_empty());
    chrome.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_with_a_payload_that_is_not_json_is_refused_with_the_reason() -> Result<()> {
    let app = TestApp::spawn(Db::Sqlite).await?;
    let acme = app.tenant("Acme").await?;
    let id = slow_export(&app, &acme.token).await?;
    app.member(acme.id, "ada@acme.io", Role::Admin).await?;
    let b = app.browser();
    b.sign_in("ada@acme.io", MEMBER_PASSWORD).await?;
    let page = format!("/workflows/{id}");
    let res = b
        .submit(
            &page,
            &format!("{page}/signal"),
            &[("name", "go"), ("payload", "{not json")],
        )
        .await?;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("the payload is not JSON"), "{}", res.body);
    Ok(())
}

async fn members_watch_runs_but_cannot_start_cancel_retry_or_signal(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let id = slow_export(&app, &acme.token).await?;
    app.member(acme.id, "mo@acme.io", Role::Member).await?;
    let b = app.browser();
    b.sign_in("mo@acme.io", MEMBER_PASSWORD).await?;
    let list = b.get("/workflows").await?;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("audit_log.export"));
    assert!(
        !list.body.contains("Export the audit log"),
        "no start button for members"
    );
    let run = b.get(&format!("/workflows/{id}")).await?;
    assert_eq!(run.status, StatusCode::OK);
    assert!(
        !run.body.contains("/cancel\""),
        "no cancel button for members"
    );
    let res = b.submit("/workflows", "/workflows/export", &[]).await?;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = b
        .submit("/workflows", &format!("/workflows/{id}/cancel"), &[])
        .await?;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(
        !run.body.contains("Send signal"),
        "no signal form for members"
    );
    let res = b
        .submit(
            "/workflows",
            &format!("/workflows/{id}/signal"),
            &[("name", "go")],
        )
        .await?;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    Ok(())
}

async fn another_tenants_run_is_not_found(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let globex = app.tenant("Globex").await?;
    let id = slow_export(&app, &acme.token).await?;
    app.member(globex.id, "gil@globex.io", Role::Admin).await?;
    let b = app.browser();
    b.sign_in("gil@globex.io", MEMBER_PASSWORD).await?;
    assert_eq!(
        b.get(&format!("/workflows/{id}")).await?.status,
        StatusCode::NOT_FOUND
    );
    assert!(!b.get("/workflows").await?.body.contains(&id));
    let res = b
        .submit("/workflows", &format!("/workflows/{id}/cancel"), &[])
        .await?;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    Ok(())
}

testkit::on_both_backends!(
    members_watch_runs_but_cannot_start_cancel_retry_or_signal,
    another_tenants_run_is_not_found,
);
