//! Connector syncs and the data tab, against the real WordPress of the
//! services script (`cargo bench -p api --bench connectors`):
//!
//! - **Sync**: 1,000 posts (bench posts are added to the seeded ones for
//!   the run and removed after). The floor is a bare paging loop with
//!   reqwest over the same listing (per_page=100, context=edit, every
//!   status, JSON parsed); BizOSaaS is a full sync through the embedded
//!   workflow runner into SQLite and into PostgreSQL, timed by the run's
//!   own start and finish. Median of 3 each.
//! - **Data tab**: `GET …/data/posts?limit=50&q=…` over 100,000 stored
//!   records, 16 connections for 10 s, p50 and p99 (a reqwest client here,
//!   whose own cost is inside the figures).

use anyhow::{Context, Result};
use chrono::Utc;
use domain::Principal;
use reqwest::Method;
use serde_json::{json, Map, Value};
use std::time::{Duration, Instant};
use store::synced::{self, NewRecord};
use testkit::wordpress::WordPressSite;
use testkit::{Db, TestApp};

const POSTS: u64 = 1_000;
const ROUNDS: usize = 3;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

async fn total_posts(site: &WordPressSite) -> Result<u64> {
    let r = site.get("posts?per_page=1&status=any&context=edit").await?;
    Ok(r.headers()["x-wp-total"].to_str()?.parse()?)
}

/// Adds bench posts until the site has `POSTS`; returns their ids.
async fn fill(site: &WordPressSite) -> Result<Vec<String>> {
    let missing = POSTS.saturating_sub(total_posts(site).await?);
    let mut ids = Vec::new();
    for chunk in (0..missing).collect::<Vec<_>>().chunks(8) {
        let made = futures::future::try_join_all(chunk.iter().map(|i| {
            site.create(
                "posts",
                json!({"title": format!("Bench post {i}"), "content": format!("<p>Bench body {i}</p>"), "status": "publish"}),
            )
        }))
        .await?;
        ids.extend(made.iter().map(|v| v["id"].to_string()));
    }
    Ok(ids)
}

/// The floor: page through the listing with reqwest and parse each page.
async fn bare_loop(site: &WordPressSite) -> Result<(f64, usize)> {
    let http = reqwest::Client::new();
    let started = Instant::now();
    let (mut page, mut seen) = (1u32, 0usize);
    loop {
        let r = http
            .get(format!("{}/wp-json/wp/v2/posts", site.url))
            .query(&[
                ("context", "edit"),
                ("per_page", "100"),
                ("page", &page.to_string()),
                ("orderby", "id"),
                ("order", "asc"),
                ("status", "any"),
            ])
            .basic_auth(&site.user, Some(&site.app_password))
            .send()
            .await?
            .error_for_status()?;
        let pages: u32 = r.headers()["x-wp-totalpages"].to_str()?.parse()?;
        let items: Vec<Value> = r.json().await?;
        seen += items.len();
        if page >= pages {
            return Ok((started.elapsed().as_secs_f64(), seen));
        }
        page += 1;
    }
}

async fn bizosaas_sync(db: Db, site: &WordPressSite) -> Result<Vec<f64>> {
    let app = TestApp::spawn(db).await?;
    let t = app.tenant("Bench").await?;
    app.request(
        Method::POST,
        "/api/v1/connectors/wordpress/connect",
        &t.token,
    )
    .json(&site.connect_fields())
    .send()
    .await?
    .error_for_status()?;
    let mut times = Vec::new();
    for _ in 0..ROUNDS {
        let run: Value = app
            .request(
                Method::POST,
                "/api/v1/connectors/wordpress/sync/posts?full=true",
                &t.token,
            )
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let id = run["id"].as_str().context("run")?.to_string();
        let d = loop {
            let d = app
                .get_json(&format!("/api/v1/workflows/{id}"), &t.token)
                .await?;
            if d["status"] == "succeeded" {
                break d;
            }
            anyhow::ensure!(d["status"] != "failed", "{d:#}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let at = |k: &str| chrono::DateTime::parse_from_rfc3339(d[k].as_str().unwrap()).unwrap();
        let first_step = d["steps"][0]["attempts"][0]["started_at"]
            .as_str()
            .map(|s| chrono::DateTime::parse_from_rfc3339(s).unwrap());
        let began = first_step.unwrap_or_else(|| at("created_at"));
        times.push((at("finished_at") - began).as_seconds_f64());
        anyhow::ensure!(d["output"]["records"].as_u64() >= Some(POSTS), "{d:#}");
    }
    Ok(times)
}

async fn data_tab(db: Db) -> Result<(f64, f64, usize)> {
    let app = TestApp::spawn(db).await?;
    let t = app.tenant("Bench").await?;
    let site = WordPressSite::from_env();
    app.request(
        Method::POST,
        "/api/v1/connectors/wordpress/connect",
        &t.token,
    )
    .json(&site.connect_fields())
    .send()
    .await?
    .error_for_status()?;
    let conn = app
        .get_json("/api/v1/connectors/wordpress", &t.token)
        .await?["connection"]["id"]
        .as_str()
        .context("connected")?
        .parse::<uuid::Uuid>()?;
    let scope = Principal::operator(t.id).scope();
    let words = [
        "launch", "pricing", "recipe", "guide", "review", "update", "story", "events",
    ];
    for chunk in (0..100_000usize).collect::<Vec<_>>().chunks(1000) {
        let recs: Vec<NewRecord> = chunk
            .iter()
            .map(|&i| NewRecord {
                external_id: i.to_string(),
                title: format!("{} {} number {i}", words[i % 8], words[(i / 8) % 8]),
                status: Some(if i % 5 == 0 { "draft" } else { "publish" }.into()),
                fields: Map::from_iter([("slug".to_string(), json!(format!("post-{i}")))]),
                raw: json!({"id": i}),
                remote_updated_at: Some(Utc::now()),
            })
            .collect();
        let mut tx = app.store.write(&scope).await?;
        synced::upsert(&mut tx, conn, "posts", &recs, None, Utc::now()).await?;
        tx.commit().await?;
    }
    let url = app.url("/api/v1/connectors/wordpress/data/posts?limit=50&q=pricing+guide");
    let deadline = Instant::now() + Duration::from_secs(10);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (url, token) = (url.clone(), t.token.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let mut lat = Vec::new();
                while Instant::now() < deadline {
                    let s = Instant::now();
                    let r = http.get(&url).bearer_auth(&token).send().await?;
                    anyhow::ensure!(r.status() == 200, "{}", r.text().await?);
                    r.bytes().await?;
                    lat.push(s.elapsed().as_secs_f64() * 1000.0);
                }
                Ok::<_, anyhow::Error>(lat)
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    all.sort_by(f64::total_cmp);
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    Ok((pct(0.50), pct(0.99), all.len()))
}

fn main() -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        // `BENCH_ONLY=data` or `=sync` runs one half.
        let only = std::env::var("BENCH_ONLY").unwrap_or_default();
        let site = WordPressSite::from_env();
        if only != "data" {
            sync_bench(&site).await?;
        }
        if only != "sync" {
            for db in [Db::Sqlite, Db::Postgres] {
                let (p50, p99, n) = data_tab(db).await?;
                println!("data tab, 100,000 records, q=\"pricing guide\", 16 connections, 10 s on {db:?}: {n} requests, p50 {p50:.2} ms, p99 {p99:.2} ms");
            }
        }
        Ok(())
    })
}

async fn sync_bench(site: &WordPressSite) -> Result<()> {
    let added = fill(site).await?;
    let outcome = async {
        let mut bare = Vec::new();
        let mut seen = 0;
        for _ in 0..ROUNDS {
            let (s, n) = bare_loop(site).await?;
            bare.push(s);
            seen = n;
        }
        let bare = median(bare);
        println!(
            "sync, bare reqwest paging loop: {seen} posts in {:.0} ms",
            bare * 1000.0
        );
        for db in [Db::Sqlite, Db::Postgres] {
            let s = median(bizosaas_sync(db, site).await?);
            println!(
                "sync, bizosaas full sync on {db:?}: {:.0} ms, {:.2}x the bare loop",
                s * 1000.0,
                s / bare
            );
        }
        Ok::<_, anyhow::Error>(())
    }
    .await;
    for id in &added {
        site.delete("posts", id).await?;
    }
    outcome
}
