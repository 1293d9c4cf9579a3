//! The binary as an operator uses it: serve, migrate, admin, doctor.

use anyhow::{Context, Result};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_bizosaas");

fn bizosaas(data: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--data-dir")
        .arg(data)
        .env_remove("DATABASE_URL")
        .env_remove("RUST_LOG");
    c
}

/// Starts `serve` on a free port and returns it with its base URL.
fn serve(data: &Path, extra: &[&str]) -> Result<(Child, String)> {
    let mut child = bizosaas(data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let base = line
        .split("http://")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .context("address line")?;
    Ok((child, format!("http://{base}")))
}

fn terminate(child: &mut Child) -> Result<std::process::ExitStatus> {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "serve did not stop within 10 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn serve_is_ready_on_an_empty_data_dir_and_stops_cleanly_on_sigterm() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let (mut child, base) = serve(&data, &[])?;
    let ready = reqwest::get(format!("{base}/readyz")).await?;
    assert_eq!(ready.status(), 200);
    assert!(
        data.join("bizosaas.db").exists(),
        "SQLite lives in the data dir"
    );
    let status = terminate(&mut child)?;
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
    Ok(())
}

#[tokio::test]
async fn admin_commands_give_a_token_that_the_api_accepts() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let out = bizosaas(dir.path())
        .args(["admin", "create-tenant", "--name", "Acme Corp"])
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8(out.stdout)?.contains("acme-corp"));
    let dup = bizosaas(dir.path())
        .args(["admin", "create-tenant", "--name", "acme corp"])
        .output()?;
    assert!(!dup.status.success());
    assert!(String::from_utf8(dup.stderr)?.contains("already exists"));

    let out = bizosaas(dir.path())
        .args(["admin", "create-token", "--tenant", "acme-corp"])
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout)?.trim().to_string();
    assert!(token.starts_with("bzs_"));

    let (mut child, base) = serve(dir.path(), &[])?;
    let res = reqwest::Client::new()
        .get(format!("{base}/api/v1/tenant"))
        .bearer_auth(&token)
        .send()
        .await?;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await?;
    assert_eq!(body["slug"], "acme-corp");
    terminate(&mut child)?;
    Ok(())
}

#[tokio::test]
async fn json_logs_carry_the_request_id_on_every_request_line() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (mut child, base) = serve(dir.path(), &["--log-format", "json"])?;
    reqwest::Client::new()
        .get(format!("{base}/healthz"))
        .header("x-request-id", "req-test-42")
        .send()
        .await?;
    terminate(&mut child)?;
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr)?;
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let request_lines: Vec<_> = lines
        .iter()
        .filter(|l| l["span"]["name"] == "request")
        .collect();
    assert!(
        !request_lines.is_empty(),
        "an access log line per request: {stderr}"
    );
    assert!(request_lines
        .iter()
        .all(|l| l["span"]["request_id"] == "req-test-42"));
    Ok(())
}

#[test]
fn migrate_and_doctor_succeed_on_the_embedded_default() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let out = bizosaas(dir.path()).arg("migrate").output()?;
    assert!(out.status.success());
    assert!(String::from_utf8(out.stdout)?.contains("migrations applied (sqlite)"));
    let out = bizosaas(dir.path()).arg("doctor").output()?;
    let text = String::from_utf8(out.stdout)?;
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("[ ok ] database reachable") && text.contains("[ ok ] migrations applied")
    );
    Ok(())
}

#[test]
fn doctor_fails_and_says_why_when_the_database_is_unreachable() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let out = bizosaas(dir.path())
        .arg("doctor")
        .env(
            "DATABASE_URL",
            "postgres://bizosaas_app:secret@127.0.0.1:1/none",
        )
        .env("BIZOS_DATABASE_ACQUIRE_TIMEOUT_SECS", "1")
        .output()?;
    let text = String::from_utf8(out.stdout)?;
    assert!(!out.status.success());
    assert!(text.contains("[FAIL] database reachable"), "{text}");
    assert!(!text.contains("secret"), "the password is redacted: {text}");
    Ok(())
}

#[test]
fn doctor_flags_a_runtime_role_that_bypasses_row_level_security() -> Result<()> {
    let admin = std::env::var("BIZOSAAS_TEST_PG_ADMIN_URL")
        .context("BIZOSAAS_TEST_PG_ADMIN_URL (run scripts/test.sh)")?;
    let dir = tempfile::tempdir()?;
    let out = bizosaas(dir.path())
        .arg("doctor")
        .env("DATABASE_URL", &admin)
        .output()?;
    let text = String::from_utf8(out.stdout)?;
    assert!(!out.status.success());
    assert!(text.contains("superuser"), "{text}");
    Ok(())
}
