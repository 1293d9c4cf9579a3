//! Temporal over TLS: a cluster whose certificate comes from a private CA,
//! and one that demands a client certificate (mutual TLS, as Temporal
//! Cloud's certificate authentication does). The dev server speaks plain
//! gRPC, so a TLS front with certificates made per test stands before it.

mod support;

use anyhow::Result;
use domain::workflows::RunStatus;
use reqwest::StatusCode;
use serde_json::json;
use support::*;
use testkit::temporal::TlsFront;
use testkit::{Db, TestApp, TestDb, WorkflowSetup};
use workflows::temporal::TlsFiles;

/// An app and its worker, both reaching Temporal through `front` with `files`.
async fn app_through(front: &TlsFront, files: TlsFiles) -> Result<TestApp> {
    let mut config = testkit::temporal::config();
    config.address = front.address.clone();
    config.tls = true;
    config.tls_files = files;
    TestApp::spawn_with_workflows(
        TestDb::create(Db::Sqlite).await?,
        WorkflowSetup {
            registry: registry(),
            temporal: Some(config),
            ..Default::default()
        },
    )
    .await
}

/// Starts a one-step run and returns its final state.
async fn run_one(app: &TestApp) -> Result<RunStatus> {
    let t = app.tenant("Acme").await?;
    let run = start_script(app, &t.token, json!([effect_step("over tls")])).await?;
    let id = run["id"].as_str().unwrap().parse()?;
    Ok(finished(app, t.id, id).await?.run.status)
}

/// Starting a run answers 503 with a detail that names the cause.
async fn start_refused(app: &TestApp) -> Result<String> {
    let t = app.tenant("Acme").await?;
    let res = post(
        app,
        &t.token,
        "/api/v1/workflows",
        json!({ "workflow_type": "audit_log.export" }),
    )
    .await?;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let p: serde_json::Value = res.json().await?;
    Ok(p["detail"].as_str().unwrap_or_default().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_go_through_a_cluster_whose_certificate_a_private_ca_signed() -> Result<()> {
    let front = TlsFront::start(false).await?;
    let ca_only = TlsFiles {
        ca: front.files.ca.clone(),
        ..Default::default()
    };
    let app = app_through(&front, ca_only).await?;
    assert_eq!(run_one(&app).await?, RunStatus::Succeeded);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_whose_certificate_is_not_trusted_is_unreachable() -> Result<()> {
    let front = TlsFront::start(false).await?;
    let app = app_through(&front, TlsFiles::default()).await?;
    let detail = start_refused(&app).await?;
    assert!(detail.contains("cannot reach Temporal"), "{detail}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_runs_with_the_client_certificate() -> Result<()> {
    let front = TlsFront::start(true).await?;
    let app = app_through(&front, front.files.clone()).await?;
    assert_eq!(run_one(&app).await?, RunStatus::Succeeded);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_refuses_a_client_without_a_certificate() -> Result<()> {
    let front = TlsFront::start(true).await?;
    let ca_only = TlsFiles {
        ca: front.files.ca.clone(),
        ..Default::default()
    };
    let app = app_through(&front, ca_only).await?;
    let detail = start_refused(&app).await?;
    assert!(detail.contains("Temporal"), "{detail}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_without_its_key_is_refused_with_the_reason() -> Result<()> {
    let front = TlsFront::start(true).await?;
    let no_key = TlsFiles {
        key: None,
        ..front.files.clone()
    };
    let app = app_through(&front, no_key).await?;
    let detail = start_refused(&app).await?;
    assert!(detail.contains("needs its key"), "{detail}");
    Ok(())
}
