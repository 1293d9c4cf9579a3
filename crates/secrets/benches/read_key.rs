//! What reading a tenant's provider key adds to a chat request: p50 and p99
//! of `SecretStore::get` at the key's path, through OpenBao on loopback and
//! through the local sealed store (SQLite and PostgreSQL), with the
//! revocation-aware cache on (as served) and off (every read to the store).
//!
//! `cargo bench -p secrets --bench read_key` (needs `scripts/services.sh`'s
//! environment for OpenBao and PostgreSQL; without it those rows are left
//! out, this being a measurement, not a test).

use domain::secrets::{Secret, SecretPath, SecretStore};
use domain::validation::DisplayName;
use std::sync::Arc;
use std::time::{Duration, Instant};
use testkit::vault::TestVault;
use testkit::{Db, TestDb};

const READS: usize = 20_000;
const WARMUP: usize = 500;

struct Figures {
    p50: Duration,
    p99: Duration,
    max: Duration,
}

async fn measure(store: &Arc<dyn SecretStore>, path: &SecretPath) -> Figures {
    for _ in 0..WARMUP {
        store.get(path).await.expect("read");
    }
    let mut times = Vec::with_capacity(READS);
    for _ in 0..READS {
        let t = Instant::now();
        let s = store.get(path).await.expect("read");
        times.push(t.elapsed());
        std::hint::black_box(s);
    }
    times.sort();
    Figures {
        p50: times[READS / 2],
        p99: times[READS * 99 / 100],
        max: times[READS - 1],
    }
}

fn show(d: Duration) -> String {
    if d < Duration::from_millis(1) {
        format!("{:.1} µs", d.as_secs_f64() * 1e6)
    } else {
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    }
}

async fn run(label: &str, db: Db, vault: bool) -> anyhow::Result<()> {
    let test_db = TestDb::create(db).await?;
    let store = test_db.store().await?;
    store.listen_for_changes().await;
    let tenant = store::tenants::create(&store, &DisplayName::parse("Bench").unwrap())
        .await?
        .id;
    let dir = tempfile::tempdir()?;
    let backend = if vault {
        secrets::Backend::Vault(TestVault::create().await?.token_config().await?)
    } else {
        secrets::Backend::Local(secrets::local::keyring::KeySource::File(
            dir.path().join("master.key"),
        ))
    };
    let path = SecretPath::api_key(tenant, "openai").unwrap();
    for (cache, ttl) in [
        ("cache on", Duration::from_secs(60)),
        ("cache off", Duration::ZERO),
    ] {
        let secrets = secrets::open(&backend, &store, ttl)?;
        let key = "sk-proj-bench-0000000000000000".to_string();
        secrets
            .put(&path, &Secret::single("api_key", key.into()))
            .await?;
        let f = measure(&secrets, &path).await;
        println!(
            "| {label} | {cache} | {} | {} | {} |",
            show(f.p50),
            show(f.p99),
            show(f.max)
        );
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        println!("{READS} reads after {WARMUP} warm-up reads, one at a time");
        println!("| store | cache | p50 | p99 | max |");
        println!("|---|---|---|---|---|");
        run("local sealed store, SQLite", Db::Sqlite, false).await?;
        if std::env::var("BIZOSAAS_TEST_PG_ADMIN_URL").is_ok() {
            run("local sealed store, PostgreSQL", Db::Postgres, false).await?;
        }
        if std::env::var("BIZOSAAS_TEST_VAULT_ADDR").is_ok() {
            run("OpenBao (KV v2, loopback)", Db::Sqlite, true).await?;
        }
        Ok(())
    })
}
