//! Behind PgBouncer in transaction-pooling mode (one server connection for
//! every client), a tenant's setting must not outlive its transaction: the
//! next client's transaction runs on the same server connection.

use anyhow::Result;
use domain::audit::{AuditFilter, NewAuditEntry};
use domain::paging::Limit;
use domain::validation::DisplayName;
use domain::TenantId;
use sqlx::{ConnectOptions, Connection};
use std::str::FromStr;
use store::{audit, tenants, Store};
use testkit::{Db, TestDb};

/// The store through PgBouncer, on a freshly migrated database.
async fn behind_pgbouncer() -> Result<(TestDb, Store)> {
    let mut db = TestDb::create(Db::Postgres).await?;
    db.store().await?.close().await;
    db.route_through_pgbouncer()?;
    let store = db.store().await?;
    Ok((db, store))
}

/// A connection of its own through PgBouncer, as another client would have.
async fn raw_client(db: &TestDb) -> Result<sqlx::PgConnection> {
    Ok(sqlx::postgres::PgConnectOptions::from_str(&db.config.url)?
        .connect()
        .await?)
}

async fn tenant_setting(c: &mut sqlx::PgConnection) -> Result<Option<String>> {
    let (v,): (Option<String>,) = sqlx::query_as("SELECT current_setting('app.tenant_id', true)")
        .fetch_one(c)
        .await?;
    Ok(v.filter(|v| !v.is_empty()))
}

async fn new_tenant(store: &Store, name: &str) -> Result<TenantId> {
    Ok(tenants::create(
        store,
        &DisplayName::parse(name).map_err(anyhow::Error::msg)?,
    )
    .await?
    .id)
}

/// The newest `n` audit entries the transaction's tenant may see.
async fn page(
    tx: &mut store::TenantTx,
    n: u32,
) -> Result<domain::paging::Page<domain::audit::AuditEntry>> {
    Ok(audit::list(
        tx,
        &AuditFilter::default(),
        None,
        Limit::parse(Some(n)).unwrap(),
    )
    .await?)
}

async fn backend_pid(c: &mut sqlx::PgConnection) -> Result<i32> {
    let (p,): (i32,) = sqlx::query_as("SELECT pg_backend_pid()")
        .fetch_one(c)
        .await?;
    Ok(p)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pooler_shares_one_server_connection_so_a_session_setting_would_leak() -> Result<()> {
    // The hazard itself, so the next test is known to be able to see it.
    let (db, _store) = behind_pgbouncer().await?;
    let mut a = raw_client(&db).await?;
    let mut b = raw_client(&db).await?;
    assert_eq!(
        backend_pid(&mut a).await?,
        backend_pid(&mut b).await?,
        "one server connection"
    );
    sqlx::query("SELECT set_config('app.tenant_id', 'someone', false)")
        .execute(&mut a)
        .await?;
    assert_eq!(tenant_setting(&mut b).await?.as_deref(), Some("someone"));
    sqlx::query("RESET app.tenant_id").execute(&mut a).await?;
    a.close().await?;
    b.close().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_tenant_setting_outlives_a_read_or_a_write_through_the_pooler() -> Result<()> {
    let (db, store) = behind_pgbouncer().await?;
    let acme = new_tenant(&store, "Acme").await?;
    let scope = domain::Principal::operator(acme).scope();
    let mut observer = raw_client(&db).await?;

    let mut tx = store.write(&scope).await?;
    audit::record(&mut tx, NewAuditEntry::new("test.write", "thing", None)).await?;
    tx.commit().await?;
    assert_eq!(tenant_setting(&mut observer).await?, None, "after a write");

    let mut tx = store.read(&scope).await?;
    page(&mut tx, 10).await?;
    tx.commit().await?;
    assert_eq!(tenant_setting(&mut observer).await?, None, "after a read");

    // Nor does one dropped half way.
    let mut tx = store.read(&scope).await?;
    page(&mut tx, 10).await?;
    drop(tx);
    assert_eq!(
        tenant_setting(&mut observer).await?,
        None,
        "after an abandoned read"
    );
    observer.close().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tenants_interleaved_on_one_server_connection_never_see_each_others_rows() -> Result<()>
{
    let (_db, store) = behind_pgbouncer().await?;
    let tenants = [
        new_tenant(&store, "Acme").await?,
        new_tenant(&store, "Globex").await?,
    ];
    const ROUNDS: usize = 40;
    let mut tasks = tokio::task::JoinSet::new();
    for (i, tenant) in tenants.into_iter().enumerate() {
        let store = store.clone();
        tasks.spawn(async move {
            let scope = domain::Principal::operator(tenant).scope();
            let mine = format!("tenant{i}.write");
            for round in 0..ROUNDS {
                let mut tx = store.write(&scope).await?;
                audit::record(&mut tx, NewAuditEntry::new(&mine, "thing", None)).await?;
                tx.commit().await?;
                let mut tx = store.read(&scope).await?;
                let page = page(&mut tx, 200).await?;
                tx.commit().await?;
                let writes: Vec<_> = page
                    .items
                    .iter()
                    .filter(|e| e.action.ends_with(".write"))
                    .collect();
                anyhow::ensure!(
                    writes
                        .iter()
                        .all(|e| e.action == mine && e.tenant_id == tenant),
                    "round {round}: tenant {i} saw another tenant's rows"
                );
                anyhow::ensure!(
                    writes.len() == round + 1,
                    "round {round}: {} rows",
                    writes.len()
                );
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}
