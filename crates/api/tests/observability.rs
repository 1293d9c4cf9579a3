//! Health, readiness and metrics, including a database that goes away and
//! comes back.

use anyhow::Result;
use reqwest::StatusCode;
use serde_json::Value;
use testkit::{Db, TestApp, TestDb};

async fn health_and_readiness_answer_when_all_is_well(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    assert_eq!(
        app.client.get(app.url("/healthz")).send().await?.status(),
        StatusCode::OK
    );
    let ready = app.client.get(app.url("/readyz")).send().await?;
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(ready.json::<Value>().await?["status"], "ready");
    Ok(())
}

async fn metrics_count_requests_by_route_and_status_and_show_the_pool(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    app.get("/api/v1/audit-logs?limit=5", &acme.token)
        .send()
        .await?;
    app.get("/api/v1/audit-logs?limit=0", &acme.token)
        .send()
        .await?;
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        text.contains(
            r#"http_requests_total{method="GET",route="/api/v1/audit-logs",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains(
        r#"http_requests_total{method="GET",route="/api/v1/audit-logs",status="422"} 1"#
    ));
    assert!(text.contains(r#"http_request_duration_seconds_bucket{le="0.005",method="GET",route="/api/v1/audit-logs",status="200"}"#));
    assert!(text.contains(r#"db_pool_connections{state="max"}"#));
    Ok(())
}

async fn migrations_not_applied_make_readyz_say_so(db: Db) -> Result<()> {
    let test_db = TestDb::create(db).await?;
    let store = store::Store::connect(&test_db.config).await?;
    let keys = tempfile::tempdir()?;
    let secrets = secrets::open(
        &secrets::Backend::Local(secrets::local::keyring::KeySource::File(
            keys.path().join("master.key"),
        )),
        &store,
        std::time::Duration::ZERO,
    )?;
    let state = app::App::new(
        store.clone(),
        app::Settings::default(),
        std::sync::Arc::new(testkit::MemoryOutbox::default()),
        secrets,
        ai::providers::KeyChecker::new(ai::providers::Endpoints::default()),
        idle_workflows(&store),
    );
    // The server always migrates before it serves, so the state is asked
    // directly: this is what `/readyz` answers with.
    let not_ready = app::health::readiness(&state).await.unwrap_err();
    assert!(not_ready.contains("migrations not applied"), "{not_ready}");
    Ok(())
}

testkit::on_both_backends!(
    health_and_readiness_answer_when_all_is_well,
    metrics_count_requests_by_route_and_status_and_show_the_pool,
    migrations_not_applied_make_readyz_say_so,
);

/// PostgreSQL behind a forwarder we can cut: readiness and API calls answer
/// 503 with a clear detail while it is gone, and recover without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_gives_503_and_the_server_recovers_by_itself() -> Result<()> {
    let mut test_db = TestDb::create(Db::Postgres).await?;
    test_db.store().await?; // migrate directly
    let proxy = test_db.route_through_proxy().await?;
    test_db.config.acquire_timeout = std::time::Duration::from_millis(500);
    let app = TestApp::spawn_with(
        test_db,
        app::Settings {
            token_cache_ttl: std::time::Duration::ZERO,
            ..Default::default()
        },
    )
    .await?;
    let acme = app.tenant("Acme").await?;
    assert_eq!(
        app.get_status("/api/v1/audit-logs", &acme.token).await?,
        StatusCode::OK
    );

    proxy.take_down();
    let ready = app.client.get(app.url("/readyz")).send().await?;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(ready.json::<Value>().await?["detail"]
        .as_str()
        .unwrap()
        .contains("unreachable"));
    let api = app.get("/api/v1/audit-logs", &acme.token).send().await?;
    assert_eq!(api.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(api.headers().contains_key("retry-after"));
    assert!(api.json::<Value>().await?["detail"]
        .as_str()
        .unwrap()
        .contains("database unavailable"));

    proxy.bring_up();
    let mut recovered = false;
    for _ in 0..50 {
        if app.client.get(app.url("/readyz")).send().await?.status() == StatusCode::OK {
            recovered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        recovered,
        "readyz turns 200 again once the database is back"
    );
    assert_eq!(
        app.get_status("/api/v1/audit-logs", &acme.token).await?,
        StatusCode::OK
    );
    Ok(())
}

/// An embedded engine whose runner is not started: readiness does not need it.
fn idle_workflows(store: &store::Store) -> app::Workflows {
    let metrics = workflows::WorkflowMetrics::default();
    let engine = workflows::embedded::EmbeddedEngine::new(
        store.clone(),
        std::sync::Arc::new(workflows::builtin::registry()),
        workflows::ActivityEnv {
            store: store.clone(),
            data_dir: std::env::temp_dir(),
            connectors: None,
        },
        Default::default(),
        metrics.clone(),
    );
    app::Workflows {
        engine: std::sync::Arc::new(engine),
        metrics,
    }
}
