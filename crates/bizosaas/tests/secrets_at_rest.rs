//! Provider keys and connector credentials never rest in plain text: after
//! the real binary stored OpenAI, Anthropic and OpenRouter keys and
//! connected the real WordPress with an application password, then synced
//! from it (local sealed store, and OpenBao), no secret string is in any
//! table or column of the database, as text or as bytes, nor in the
//! database files, nor anywhere in the server's log output (at debug
//! level). With OpenBao they are readable at their paths.

use anyhow::{Context, Result};
use sqlx::{Column, Row};
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use testkit::llm::ProviderSim;
use testkit::vault::TestVault;
use testkit::{Db, TestDb};

const BIN: &str = env!("CARGO_BIN_EXE_bizosaas");
const KEYS: [(&str, &str); 3] = [
    ("openai", "sk-proj-AtRestOpenAiKey0000000000001"),
    ("anthropic", "sk-ant-api03-AtRestAnthropicKey0002"),
    ("openrouter", "sk-or-v1-AtRestOpenRouterKey000003"),
];

struct Server {
    env: Vec<(String, String)>,
    data: std::path::PathBuf,
}

impl Server {
    fn command(&self) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--data-dir")
            .arg(&self.data)
            .env_remove("DATABASE_URL");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    fn admin(&self, args: &[&str]) -> Result<String> {
        let out = self.command().arg("admin").args(args).output()?;
        anyhow::ensure!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8(out.stdout)?.trim().to_string())
    }

    fn start(&self) -> Result<(Child, String)> {
        let mut child = self
            .command()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let mut out = child.stdout.take().unwrap();
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while out.read(&mut byte)? == 1 && byte[0] != b'\n' {
            line.push(byte[0]);
        }
        let line = String::from_utf8(line)?;
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .context("address line")?;
        child.stdout = Some(out);
        Ok((child, format!("http://{addr}")))
    }
}

fn stop(mut child: Child) -> Result<String> {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait()?.is_none() {
        anyhow::ensure!(Instant::now() < deadline, "serve did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut logs = String::new();
    child.stderr.take().unwrap().read_to_string(&mut logs)?;
    child.stdout.take().unwrap().read_to_string(&mut logs)?;
    Ok(logs)
}

/// The WordPress application password this process connected with (its
/// spaces included, as given, and without them, as WordPress reads it).
static CONNECTION_SECRET: std::sync::OnceLock<[String; 2]> = std::sync::OnceLock::new();

fn find_keys(haystack: &[u8], place: &str) -> Result<()> {
    let connection = CONNECTION_SECRET
        .get()
        .map(|s| s.iter().map(String::as_str).collect::<Vec<_>>());
    for key in KEYS
        .iter()
        .map(|(_, k)| *k)
        .chain(connection.unwrap_or_default())
    {
        let found = haystack.windows(key.len()).any(|w| w == key.as_bytes());
        anyhow::ensure!(!found, "{key} found in {place}");
    }
    Ok(())
}

/// Every column of every row of every table, as text and as bytes.
async fn scan_database(db: &TestDb, data: &Path) -> Result<usize> {
    let mut values = 0;
    match db.db {
        Db::Sqlite => {
            for f in std::fs::read_dir(data)? {
                let f = f?.path();
                if f.is_file() && f.extension().is_none_or(|e| e != "key") {
                    find_keys(&std::fs::read(&f)?, &f.display().to_string())?;
                }
            }
            let url = format!("sqlite://{}", data.join("bizosaas.db").display());
            let pool = sqlx::SqlitePool::connect(&url).await?;
            let tables: Vec<String> =
                sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
                    .fetch_all(&pool)
                    .await?;
            for t in tables {
                for row in sqlx::query(&format!("SELECT * FROM \"{t}\""))
                    .fetch_all(&pool)
                    .await?
                {
                    for c in row.columns() {
                        if let Ok(Some(v)) =
                            row.try_get_unchecked::<Option<Vec<u8>>, _>(c.ordinal())
                        {
                            find_keys(&v, &format!("{t}.{}", c.name()))?;
                            values += 1;
                        }
                    }
                }
            }
        }
        Db::Postgres => {
            let pool = db.raw_superuser_pool().await?;
            let columns: Vec<(String, String, String)> = sqlx::query_as(
                "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns WHERE table_schema = 'public'",
            )
            .fetch_all(&pool)
            .await?;
            for (t, c, ty) in columns {
                let sql = if ty == "bytea" {
                    format!("SELECT \"{c}\" FROM \"{t}\" WHERE \"{c}\" IS NOT NULL")
                } else {
                    format!("SELECT convert_to(\"{c}\"::text, 'UTF8') FROM \"{t}\" WHERE \"{c}\" IS NOT NULL")
                };
                for v in sqlx::query_scalar::<_, Vec<u8>>(&sql)
                    .fetch_all(&pool)
                    .await?
                {
                    find_keys(&v, &format!("{t}.{c}"))?;
                    values += 1;
                }
            }
        }
    }
    Ok(values)
}

async fn no_key_rests_in_plain_text(db: Db, vault: Option<TestVault>) -> Result<()> {
    let test_db = TestDb::create(db).await?;
    let dir = tempfile::tempdir()?;
    let sim = ProviderSim::start().await?;
    let e = sim.endpoints();
    let mut env = vec![
        // The test WordPress listens on loopback.
        (
            "BIZOS_AI_ALLOW_PRIVATE_ENDPOINTS".to_string(),
            "true".to_string(),
        ),
        ("BIZOS_AI_OPENAI_BASE_URL".to_string(), e.openai),
        ("BIZOS_AI_ANTHROPIC_BASE_URL".to_string(), e.anthropic),
        ("BIZOS_AI_OPENROUTER_BASE_URL".to_string(), e.openrouter),
    ];
    if db == Db::Postgres {
        env.push(("DATABASE_URL".into(), test_db.config.url.clone()));
        env.push((
            "BIZOS_DATABASE_MIGRATION_URL".into(),
            test_db.owner_url().unwrap().to_string(),
        ));
    }
    if let Some(v) = &vault {
        env.push(("BIZOS_SECRETS_BACKEND".into(), "vault".into()));
        env.push(("VAULT_ADDR".into(), v.addr.clone()));
        env.push((
            "VAULT_TOKEN".into(),
            v.token(Duration::from_secs(600)).await?,
        ));
        env.push(("VAULT_KV_MOUNT".into(), v.mount.clone()));
    }
    let server = Server {
        env,
        data: dir.path().join("data"),
    };
    let (child, base) = server.start()?;
    server.admin(&["create-tenant", "--name", "Acme"])?;
    let token = server.admin(&["create-token", "--tenant", "acme"])?;
    let http = reqwest::Client::new();
    for (service, key) in KEYS {
        sim.accept(key);
        let res = http
            .post(format!("{base}/api/v1/vault/keys/{service}"))
            .bearer_auth(&token)
            .json(&serde_json::json!({ "api_key": key }))
            .send()
            .await?;
        anyhow::ensure!(res.status() == 201, "{service}: {}", res.text().await?);
        let tested = http
            .post(format!("{base}/api/v1/vault/keys/{service}/test"))
            .bearer_auth(&token)
            .send()
            .await?;
        anyhow::ensure!(
            tested.status() == 200,
            "{service} test: {}",
            tested.text().await?
        );
    }
    let site = testkit::wordpress::WordPressSite::from_env();
    let (app_password_id, app_password) = site.new_app_password("secrets at rest").await?;
    CONNECTION_SECRET
        .set([app_password.clone(), app_password.replace(' ', "")])
        .ok();
    let mut fields = site.connect_fields();
    fields["application_password"] = serde_json::json!(app_password);
    let connected = http
        .post(format!("{base}/api/v1/connectors/wordpress/connect"))
        .bearer_auth(&token)
        .json(&fields)
        .send()
        .await?;
    anyhow::ensure!(
        connected.status() == 200,
        "connect: {}",
        connected.text().await?
    );
    let connected_body = connected.text().await?;
    find_keys(connected_body.as_bytes(), "the connect answer")?;
    let run: serde_json::Value = http
        .post(format!(
            "{base}/api/v1/connectors/wordpress/sync/media?full=true"
        ))
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await?;
    let run_id = run["id"].as_str().context("a sync run")?.to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let d: serde_json::Value = http
            .get(format!("{base}/api/v1/workflows/{run_id}"))
            .bearer_auth(&token)
            .send()
            .await?
            .json()
            .await?;
        if d["status"] == "succeeded" {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline && d["status"] != "failed",
            "sync: {d:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let connection: serde_json::Value = http
        .get(format!("{base}/api/v1/connectors/wordpress"))
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await?;
    let connection_id = connection["connection"]["id"]
        .as_str()
        .context("connected")?
        .to_string();
    let listed = http
        .get(format!("{base}/api/v1/vault/keys"))
        .bearer_auth(&token)
        .send()
        .await?
        .text()
        .await?;
    find_keys(listed.as_bytes(), "the key list")?;
    let tenant: serde_json::Value = http
        .get(format!("{base}/api/v1/tenant"))
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await?;
    let tenant_id = tenant["id"].as_str().context("tenant id")?.to_string();
    let logs = stop(child)?;
    assert!(
        find_keys(KEYS[1].1.as_bytes(), "a control").is_err(),
        "the scan finds a key where there is one"
    );
    assert!(logs.contains("DEBUG"), "logs were captured at debug level");
    find_keys(logs.as_bytes(), "the server's log output")?;
    let scanned = scan_database(&test_db, &server.data).await?;
    assert!(
        scanned > 50,
        "the scan read the database ({scanned} values)"
    );

    if let Some(v) = &vault {
        for (service, key) in KEYS {
            let path = format!("tenants/{tenant_id}/api_keys/{service}");
            assert_eq!(
                v.read(&path).await?.context("readable at its path")?["api_key"],
                key
            );
        }
        let path = format!("tenants/{tenant_id}/connections/{connection_id}");
        assert_eq!(
            v.read(&path).await?.context("readable at its path")?["application_password"],
            app_password.as_str()
        );
    }
    site.revoke_app_password(&app_password_id).await?;
    Ok(())
}

async fn in_the_local_sealed_store(db: Db) -> Result<()> {
    no_key_rests_in_plain_text(db, None).await
}

async fn in_openbao(db: Db) -> Result<()> {
    no_key_rests_in_plain_text(db, Some(TestVault::create().await?)).await
}

testkit::on_both_backends!(in_the_local_sealed_store, in_openbao);
