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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_flight_when_sigterm_arrives_is_answered_before_serve_exits_0() -> Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir()?;
    let (mut child, base) = serve(dir.path(), &[])?;
    let addr = base.trim_start_matches("http://").to_string();
    let body = r#"{"email":"nobody@acme.io","password":"not a password"}"#;
    let mut conn = tokio::net::TcpStream::connect(&addr).await?;
    // Headers and half the body now; the rest after the signal.
    let head = format!(
        "POST /auth/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await?;
    conn.write_all(&body.as_bytes()[..10]).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        child.try_wait()?.is_none(),
        "serve waits for the request in flight"
    );
    conn.write_all(&body.as_bytes()[10..]).await?;
    let mut answer = String::new();
    conn.read_to_string(&mut answer).await?;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    let status = terminate(&mut child)?;
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
    // New connections are refused once it stopped accepting.
    assert!(reqwest::get(format!("{base}/healthz")).await.is_err());
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
    assert!(text.contains("[ ok ] secret store (local)"), "{text}");
    Ok(())
}

#[test]
fn the_database_files_are_readable_by_their_owner_only() -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir()?;
    assert!(bizosaas(dir.path())
        .arg("migrate")
        .output()?
        .status
        .success());
    let db = dir.path().join("bizosaas.db");
    // A database an older version left world-readable is tightened too.
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644))?;
    assert!(bizosaas(dir.path())
        .arg("doctor")
        .output()?
        .status
        .success());
    for name in [
        "bizosaas.db",
        "bizosaas.db-wal",
        "bizosaas.db-shm",
        "master.key",
    ] {
        let path = dir.path().join(name);
        if path.exists() {
            let mode = std::fs::metadata(&path)?.permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{name}: {mode:o}");
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_checks_openbao_end_to_end_and_names_a_missing_mount() -> Result<()> {
    let dir = tempfile::tempdir()?;
    assert!(bizosaas(dir.path())
        .arg("migrate")
        .output()?
        .status
        .success());
    let vault = testkit::vault::TestVault::create().await?;
    let token = vault.token(Duration::from_secs(600)).await?;
    let run = |mount: &str| {
        bizosaas(dir.path())
            .arg("doctor")
            .env("BIZOS_SECRETS_BACKEND", "vault")
            .env("VAULT_ADDR", &vault.addr)
            .env("VAULT_TOKEN", &token)
            .env("VAULT_KV_MOUNT", mount)
            .output()
    };
    let out = run(&vault.mount)?;
    let text = String::from_utf8(out.stdout)?;
    assert!(out.status.success(), "{text}");
    assert!(text.contains("[ ok ] secret store (vault)"), "{text}");
    assert!(text.contains("write, read and delete round trip"), "{text}");
    let out = run("no-such-mount")?;
    let text = String::from_utf8(out.stdout)?;
    assert!(!out.status.success());
    assert!(text.contains("[FAIL] secret store (vault)"), "{text}");
    Ok(())
}

#[test]
fn rotating_the_master_key_replaces_the_key_file_and_keeps_it_private() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let key_file = dir.path().join("master.key");
    assert!(bizosaas(dir.path())
        .arg("migrate")
        .output()?
        .status
        .success());
    assert!(bizosaas(dir.path())
        .arg("doctor")
        .output()?
        .status
        .success());
    let before = std::fs::read_to_string(&key_file)?;
    let out = bizosaas(dir.path())
        .args(["admin", "rotate-master-key"])
        .output()?;
    let text = String::from_utf8(out.stdout)?;
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("new master key") && text.contains("done:"),
        "{text}"
    );
    let after = std::fs::read_to_string(&key_file)?;
    assert_ne!(before, after);
    assert_eq!(after.lines().filter(|l| !l.starts_with('#')).count(), 1);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key_file)?.permissions().mode() & 0o777,
        0o600
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

fn with_stdin(mut cmd: Command, input: &str) -> Result<std::process::Output> {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child.stdin.take().unwrap().write_all(input.as_bytes())?;
    Ok(child.wait_with_output()?)
}

async fn sign_in(base: &str, email: &str, password: &str) -> Result<reqwest::Response> {
    Ok(reqwest::Client::new()
        .post(format!("{base}/auth/login"))
        .json(&serde_json::json!({ "email": email, "password": password }))
        .send()
        .await?)
}

#[tokio::test]
async fn an_operator_creates_a_user_and_resets_the_password_which_ends_sessions() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let out = bizosaas(dir.path())
        .args(["admin", "create-tenant", "--name", "Acme"])
        .output()?;
    assert!(out.status.success());
    let mut cmd = bizosaas(dir.path());
    cmd.args([
        "admin",
        "create-user",
        "--email",
        "Ann@Acme.io",
        "--tenant",
        "acme",
        "--role",
        "admin",
    ]);
    let out = with_stdin(cmd, "first password here\n")?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let (mut child, base) = serve(dir.path(), &[])?;
    let res = sign_in(&base, "ann@acme.io", "first password here").await?;
    assert_eq!(res.status(), 200);
    let session: serde_json::Value = res.json().await?;
    assert_eq!(session["role"], "admin");
    let token = session["session"].as_str().unwrap().to_string();

    let mut cmd = bizosaas(dir.path());
    cmd.args(["admin", "reset-password", "--email", "ann@acme.io"]);
    let out = with_stdin(cmd, "second password here\n")?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8(out.stdout)?.contains("1 session(s) ended"));

    // The instance caches a verified session for at most its TTL (10 s by
    // default); a fresh sign-in with the old password fails at once.
    assert_eq!(
        sign_in(&base, "ann@acme.io", "first password here")
            .await?
            .status(),
        401
    );
    assert_eq!(
        sign_in(&base, "ann@acme.io", "second password here")
            .await?
            .status(),
        200
    );
    terminate(&mut child)?;

    let (mut child, base) = serve(dir.path(), &[])?;
    let res = reqwest::Client::new()
        .get(format!("{base}/api/v1/tenant"))
        .bearer_auth(&token)
        .send()
        .await?;
    assert_eq!(res.status(), 401, "the old session ended");
    terminate(&mut child)?;
    Ok(())
}

#[test]
fn create_user_refuses_a_weak_password_and_writes_nothing() -> Result<()> {
    let dir = tempfile::tempdir()?;
    bizosaas(dir.path())
        .args(["admin", "create-tenant", "--name", "Acme"])
        .output()?;
    let mut cmd = bizosaas(dir.path());
    cmd.args([
        "admin",
        "create-user",
        "--email",
        "ann@acme.io",
        "--tenant",
        "acme",
    ]);
    let out = with_stdin(cmd, "short\n")?;
    assert!(!out.status.success());
    assert!(String::from_utf8(out.stderr)?.contains("at least 12 characters"));
    let mut cmd = bizosaas(dir.path());
    cmd.args(["admin", "reset-password", "--email", "ann@acme.io"]);
    let out = with_stdin(cmd, "long enough password\n")?;
    assert!(!out.status.success(), "no such user was created");
    Ok(())
}
