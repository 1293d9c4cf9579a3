//! Workflows across `serve` processes: one killed with SIGKILL in the middle
//! of an activity (the next finishes the run, each effect exactly once), a
//! connector sync killed mid-page (the next resumes after the last page it
//! committed, storing nothing twice), and two sharing a database (a
//! schedule fires once per period).

use anyhow::{bail, Context, Result};
use reqwest::Client;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use testkit::{Db, TestDb};

const BIN: &str = env!("CARGO_BIN_EXE_bizosaas");

/// How `serve` reaches the test database.
fn command(data: &Path, db: &TestDb) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--data-dir")
        .arg(data)
        .env_remove("DATABASE_URL")
        .env_remove("RUST_LOG")
        .env("BIZOS_WORKFLOWS_LEASE_SECS", "2")
        .env("BIZOS_WORKFLOWS_POLL_MS", "100");
    if db.db == Db::Postgres {
        c.env("BIZOS_DATABASE_URL", &db.config.url).env(
            "BIZOS_DATABASE_MIGRATION_URL",
            db.owner_url().expect("a PostgreSQL test database"),
        );
    }
    c
}

fn serve(data: &Path, db: &TestDb) -> Result<(Child, String)> {
    serve_with(command(data, db))
}

fn serve_with(mut cmd: Command) -> Result<(Child, String)> {
    let mut child = cmd
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line)?;
    let base = line
        .split("http://")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .context("address line")?;
    Ok((child, format!("http://{base}")))
}

fn admin(data: &Path, db: &TestDb, args: &[&str]) -> Result<String> {
    let out = command(data, db).arg("admin").args(args).output()?;
    anyhow::ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?.trim().to_string())
}

async fn run_until(
    client: &Client,
    base: &str,
    token: &str,
    id: &str,
    secs: u64,
    done: impl Fn(&Value) -> bool,
) -> Result<Value> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let d: Value = client
            .get(format!("{base}/api/v1/workflows/{id}"))
            .bearer_auth(token)
            .send()
            .await?
            .json()
            .await?;
        if done(&d) {
            return Ok(d);
        }
        if Instant::now() > deadline {
            bail!("run did not get there in {secs} s: {d:#}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn steps_in(d: &Value, status: &str) -> usize {
    d["steps"]
        .as_array()
        .map_or(0, |s| s.iter().filter(|s| s["status"] == status).count())
}

/// Four audited changes, so an export has pages to write.
async fn audit_some(client: &Client, base: &str, token: &str) -> Result<()> {
    for i in 0..4 {
        client
            .post(format!("{base}/api/v1/tokens"))
            .bearer_auth(token)
            .json(&json!({ "name": format!("reader {i}"), "scopes": ["read"] }))
            .send()
            .await?
            .error_for_status()?;
    }
    Ok(())
}

/// The finished export holds each entry once, and was audited once.
async fn assert_exported_once(
    client: &Client,
    base: &str,
    token: &str,
    data: &Path,
    run: &Value,
) -> Result<()> {
    let entries = run["output"]["entries"].as_u64().unwrap() as usize;
    let text = std::fs::read_to_string(data.join(run["output"]["file"].as_str().unwrap()))?;
    let mut ids: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ids.len(), entries);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), entries, "no entry written twice");
    let exported: Value = client
        .get(format!(
            "{base}/api/v1/audit-logs?action=audit_log.exported"
        ))
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(exported["items"].as_array().unwrap().len(), 1);
    Ok(())
}

async fn a_run_survives_its_serve_process_being_killed_mid_activity(db: Db) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let db = TestDb::create(db).await?;
    admin(&data, &db, &["create-tenant", "--name", "Acme"])?;
    let token = admin(&data, &db, &["create-token", "--tenant", "acme"])?;
    let client = Client::new();

    let (mut first, base) = serve(&data, &db)?;
    audit_some(&client, &base, &token).await?;
    let run: Value = client
        .post(format!("{base}/api/v1/workflows"))
        .bearer_auth(&token)
        .json(&json!({ "workflow_type": "audit_log.export", "input": { "page_size": 1, "pace_ms": 400 } }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let id = run["id"].as_str().unwrap().to_string();
    // Two pages written and the third in flight: kill it there.
    run_until(&client, &base, &token, &id, 20, |d| {
        steps_in(d, "succeeded") >= 2 && steps_in(d, "running") == 1
    })
    .await?;
    first.kill()?;
    first.wait()?;

    let (mut second, base) = serve(&data, &db)?;
    let d = run_until(&client, &base, &token, &id, 30, |d| {
        ["succeeded", "failed", "cancelled"].contains(&d["status"].as_str().unwrap_or(""))
    })
    .await?;
    assert_eq!(d["status"], "succeeded", "{d:#}");
    let outcomes: Vec<&str> = d["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["attempts"].as_array().unwrap())
        .map(|a| a["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == "lost").count(),
        1,
        "{outcomes:?}"
    );
    assert!(outcomes.iter().all(|o| *o == "lost" || *o == "succeeded"));

    assert_exported_once(&client, &base, &token, &data, &d).await?;
    second.kill()?;
    second.wait()?;
    Ok(())
}

/// `bizosaas serve` and `bizosaas worker` on the Temporal dev server, with a
/// task queue of this test's own.
fn on_temporal(mut c: Command, queue: &str) -> Command {
    let address = std::env::var("BIZOSAAS_TEST_TEMPORAL_ADDRESS")
        .expect("BIZOSAAS_TEST_TEMPORAL_ADDRESS is not set: run scripts/services.sh");
    c.env("BIZOS_WORKFLOWS_ENGINE", "temporal")
        .env("TEMPORAL_ADDRESS", address)
        .env("TEMPORAL_NAMESPACE", "default")
        .env("TEMPORAL_TASK_QUEUE", queue);
    c
}

fn worker(data: &Path, db: &TestDb, queue: &str) -> Result<Child> {
    Ok(on_temporal(command(data, db), queue)
        .arg("worker")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_temporal_run_survives_its_worker_being_killed_mid_activity() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let db = TestDb::create(Db::Sqlite).await?;
    let queue = format!("bizosaas-test-{}", std::process::id());
    admin(&data, &db, &["create-tenant", "--name", "Acme"])?;
    let token = admin(&data, &db, &["create-token", "--tenant", "acme"])?;
    let client = Client::new();
    let (mut server, base) = serve_with(on_temporal(command(&data, &db), &queue))?;
    let mut first = worker(&data, &db, &queue)?;
    audit_some(&client, &base, &token).await?;
    let run: Value = client
        .post(format!("{base}/api/v1/workflows"))
        .bearer_auth(&token)
        .json(&json!({ "workflow_type": "audit_log.export", "input": { "page_size": 1, "pace_ms": 800 } }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let id = run["id"].as_str().unwrap().to_string();
    run_until(&client, &base, &token, &id, 30, |d| {
        steps_in(d, "succeeded") >= 2 && steps_in(d, "running") == 1
    })
    .await?;
    first.kill()?;
    first.wait()?;

    let mut second = worker(&data, &db, &queue)?;
    let d = run_until(&client, &base, &token, &id, 60, |d| {
        ["succeeded", "failed", "cancelled"].contains(&d["status"].as_str().unwrap_or(""))
    })
    .await?;
    assert_eq!(d["status"], "succeeded", "{d:#}");
    let retried = d["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["attempts"].as_array().unwrap().len() == 2)
        .count();
    assert_eq!(retried, 1, "the killed attempt was tried again: {d:#}");
    assert_exported_once(&client, &base, &token, &data, &d).await?;
    for c in [&mut second, &mut server] {
        c.kill()?;
        c.wait()?;
    }
    Ok(())
}

/// Connects the real WordPress, behind a forwarder that answers each call
/// late, and starts a full sync of its posts; returns the run's id.
async fn start_slow_sync(client: &Client, base: &str, token: &str, slow: &str) -> Result<String> {
    let site = testkit::wordpress::WordPressSite::from_env();
    let mut fields = site.connect_fields();
    fields["site_url"] = json!(slow);
    client
        .post(format!("{base}/api/v1/connectors/wordpress/connect"))
        .bearer_auth(token)
        .json(&fields)
        .send()
        .await?
        .error_for_status()?;
    let run: Value = client
        .post(format!(
            "{base}/api/v1/connectors/wordpress/sync/posts?full=true"
        ))
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(run["id"].as_str().unwrap().to_string())
}

fn sync_pages_in(d: &Value, status: &str) -> usize {
    d["steps"].as_array().map_or(0, |s| {
        s.iter()
            .filter(|s| s["name"] == "connector.sync_page" && s["status"] == status)
            .count()
    })
}

/// Every seeded post is stored once, and the pages committed before the
/// kill were fetched once.
async fn assert_synced_once(client: &Client, base: &str, token: &str, d: &Value) -> Result<()> {
    assert_eq!(d["status"], "succeeded", "{d:#}");
    let attempts: Vec<usize> = d["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["attempts"].as_array().unwrap().len())
        .collect();
    assert_eq!(
        attempts.iter().filter(|&&n| n > 1).count(),
        1,
        "only the page in flight at the kill was fetched again: {d:#}"
    );
    assert!(attempts.iter().all(|&n| n <= 2), "{attempts:?}");
    let mut titles = Vec::new();
    let mut cursor = String::new();
    loop {
        let page: Value = client
            .get(format!(
                "{base}/api/v1/connectors/wordpress/data/posts?q=seeded+post&limit=200{cursor}"
            ))
            .bearer_auth(token)
            .send()
            .await?
            .json()
            .await?;
        for r in page["items"].as_array().unwrap() {
            titles.push(r["title"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(titles.len(), 300, "every seeded post");
    titles.sort();
    titles.dedup();
    assert_eq!(titles.len(), 300, "none twice");
    Ok(())
}

async fn a_sync_killed_mid_page_resumes_after_its_last_committed_page(db: Db) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let db = TestDb::create(db).await?;
    admin(&data, &db, &["create-tenant", "--name", "Acme"])?;
    let token = admin(&data, &db, &["create-token", "--tenant", "acme"])?;
    let client = Client::new();
    let site = testkit::wordpress::WordPressSite::from_env();
    let slow = testkit::slow_http::SlowHttp::start(&site.url, Duration::from_millis(700)).await?;
    let private = |mut c: Command| {
        c.env("BIZOS_AI_ALLOW_PRIVATE_ENDPOINTS", "true");
        c
    };
    let (mut first, base) = serve_with(private(command(&data, &db)))?;
    let id = start_slow_sync(&client, &base, &token, slow.url()).await?;
    // Two pages committed and the third in flight: kill it there.
    run_until(&client, &base, &token, &id, 30, |d| {
        sync_pages_in(d, "succeeded") >= 2 && sync_pages_in(d, "running") == 1
    })
    .await?;
    first.kill()?;
    first.wait()?;

    let (mut second, base) = serve_with(private(command(&data, &db)))?;
    let d = run_until(&client, &base, &token, &id, 60, |d| {
        ["succeeded", "failed", "cancelled"].contains(&d["status"].as_str().unwrap_or(""))
    })
    .await?;
    assert_synced_once(&client, &base, &token, &d).await?;
    second.kill()?;
    second.wait()?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_temporal_sync_killed_mid_page_resumes_after_its_last_committed_page() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let db = TestDb::create(Db::Sqlite).await?;
    let queue = format!("bizosaas-test-sync-{}", std::process::id());
    admin(&data, &db, &["create-tenant", "--name", "Acme"])?;
    let token = admin(&data, &db, &["create-token", "--tenant", "acme"])?;
    let client = Client::new();
    let site = testkit::wordpress::WordPressSite::from_env();
    let slow = testkit::slow_http::SlowHttp::start(&site.url, Duration::from_millis(700)).await?;
    let private = |mut c: Command| {
        c.env("BIZOS_AI_ALLOW_PRIVATE_ENDPOINTS", "true");
        c
    };
    let (mut server, base) = serve_with(private(on_temporal(command(&data, &db), &queue)))?;
    let spawn_worker = || -> Result<Child> {
        Ok(private(on_temporal(command(&data, &db), &queue))
            .arg("worker")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?)
    };
    let mut first = spawn_worker()?;
    let id = start_slow_sync(&client, &base, &token, slow.url()).await?;
    run_until(&client, &base, &token, &id, 60, |d| {
        sync_pages_in(d, "succeeded") >= 2 && sync_pages_in(d, "running") == 1
    })
    .await?;
    first.kill()?;
    first.wait()?;
    let mut second = spawn_worker()?;
    let d = run_until(&client, &base, &token, &id, 90, |d| {
        ["succeeded", "failed", "cancelled"].contains(&d["status"].as_str().unwrap_or(""))
    })
    .await?;
    assert_synced_once(&client, &base, &token, &d).await?;
    for c in [&mut second, &mut server] {
        c.kill()?;
        c.wait()?;
    }
    Ok(())
}

/// The daily purge's firings, by their dedup keys (platform runs have no
/// tenant, so they are read from the database directly).
async fn purge_firings(data: &Path, db: &TestDb) -> Result<Vec<String>> {
    const SQL: &str = "SELECT dedup_key FROM workflow_runs WHERE dedup_key LIKE 'schedule/daily-purge/%' ORDER BY dedup_key";
    Ok(match db.db {
        Db::Sqlite => {
            let url = format!("sqlite://{}", data.join("bizosaas.db").display());
            let pool = sqlx::SqlitePool::connect(&url).await?;
            sqlx::query_scalar(SQL).fetch_all(&pool).await?
        }
        Db::Postgres => {
            let pool = db.raw_superuser_pool().await?;
            sqlx::query_scalar(SQL).fetch_all(&pool).await?
        }
    })
}

async fn two_serve_processes_fire_a_schedule_once_per_period(db: Db) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let db = TestDb::create(db).await?;
    let every_second = |c: &mut Command| {
        c.env("BIZOS_WORKFLOWS_PURGE_CRON", "* * * * * *");
    };
    let mut cmd = command(&data, &db);
    every_second(&mut cmd);
    let (mut one, _) = serve_with(cmd)?;
    let mut cmd = command(&data, &db);
    every_second(&mut cmd);
    let (mut two, _) = serve_with(cmd)?;
    let began = Instant::now();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let firings = purge_firings(&data, &db).await?;
    let secs = began.elapsed().as_secs() as usize;
    let mut distinct = firings.clone();
    distinct.dedup();
    assert_eq!(distinct, firings, "a firing happened twice");
    assert!(
        (3..=secs + 2).contains(&firings.len()),
        "{} firings in about {secs} s: {firings:?}",
        firings.len()
    );
    one.kill()?;
    two.kill()?;
    one.wait()?;
    two.wait()?;
    Ok(())
}

testkit::on_both_backends!(
    a_run_survives_its_serve_process_being_killed_mid_activity,
    a_sync_killed_mid_page_resumes_after_its_last_committed_page,
    two_serve_processes_fire_a_schedule_once_per_period,
);
