//! Upserting synced connector records, as a sync's pages do: 20,000
//! records in pages of 250 (Shopify's largest), each page one transaction,
//! first as new rows, then again over the same external ids (a re-sync),
//! on SQLite and on PostgreSQL (`cargo bench -p store --bench upsert`;
//! PostgreSQL needs `scripts/services.sh`'s environment).

use chrono::Utc;
use domain::validation::DisplayName;
use domain::Principal;
use serde_json::{json, Map};
use std::time::Instant;
use store::connections::{self, Connection};
use store::synced::{self, NewRecord};
use testkit::{Db, TestDb};
use uuid::Uuid;

const RECORDS: usize = 20_000;
const PAGE: usize = 250;

fn records(round: usize) -> Vec<NewRecord> {
    (0..RECORDS)
        .map(|i| {
            let mut fields = Map::new();
            fields.insert("email".into(), json!(format!("customer{i}@example.com")));
            fields.insert("first_name".into(), json!(format!("Customer {i}")));
            fields.insert("total_spent".into(), json!(format!("{}.00", i % 977)));
            NewRecord {
                external_id: format!("gid://shopify/Customer/{}", 1_000_000 + i),
                title: format!("Customer {i} (round {round})"),
                status: Some("enabled".into()),
                raw: json!({"id": i, "email": format!("customer{i}@example.com"), "tags": ["vip"], "round": round}),
                fields,
                remote_updated_at: Some(Utc::now()),
            }
        })
        .collect()
}

async fn bench(db: Db) -> anyhow::Result<()> {
    let test_db = TestDb::create(db).await?;
    let store = test_db.store().await?;
    let tenant = store::tenants::create(
        &store,
        &DisplayName::parse("Bench").map_err(anyhow::Error::msg)?,
    )
    .await?
    .id;
    let scope = Principal::operator(tenant).scope();
    let id = Uuid::now_v7();
    let now = Utc::now();
    let mut tx = store.write(&scope).await?;
    connections::insert(
        &mut tx,
        &Connection::new(
            id,
            tenant,
            "shopify",
            &format!("tenants/{}/connections/{id}", tenant.as_uuid()),
            Map::new(),
            now,
        ),
    )
    .await?;
    tx.commit().await?;
    for (round, label) in ["new rows", "re-sync of the same ids"].iter().enumerate() {
        let all = records(round);
        let pass = Uuid::now_v7();
        let started = Instant::now();
        for page in all.chunks(PAGE) {
            let mut tx = store.write(&scope).await?;
            synced::upsert(&mut tx, id, "customers", page, Some(pass), Utc::now()).await?;
            tx.commit().await?;
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{db:?} upsert, {label}: {RECORDS} records in pages of {PAGE}: {:.0} ms, {:.0} records/s",
            secs * 1000.0,
            RECORDS as f64 / secs
        );
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        bench(Db::Sqlite).await?;
        bench(Db::Postgres).await
    })
}
