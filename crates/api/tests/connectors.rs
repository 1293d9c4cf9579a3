//! Connectors through the API, against the real WordPress of the services
//! script: connecting checks the fields live and keeps the password only in
//! the secret store; syncs run as workflows into the local copy (full,
//! incremental, tombstones, no duplicates); write-through changes reach
//! WordPress first; a revoked password marks the connection; tenants are
//! walled. On SQLite and PostgreSQL.

use anyhow::{bail, Result};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use testkit::wordpress::WordPressSite;
use testkit::{Db, TestApp, TestTenant};

async fn connect(app: &TestApp, t: &TestTenant, fields: Value) -> Result<reqwest::Response> {
    Ok(app
        .request(
            Method::POST,
            "/api/v1/connectors/wordpress/connect",
            &t.token,
        )
        .json(&fields)
        .send()
        .await?)
}

async fn connected(app: &TestApp, t: &TestTenant, site: &WordPressSite) -> Result<()> {
    let res = connect(app, t, site.connect_fields()).await?;
    anyhow::ensure!(
        res.status() == StatusCode::OK,
        "connect: {}",
        res.text().await?
    );
    Ok(())
}

/// Starts a sync and waits for its run to end; returns the run.
async fn sync(app: &TestApp, t: &TestTenant, resource: &str, full: bool) -> Result<Value> {
    let res = app
        .request(
            Method::POST,
            &format!("/api/v1/connectors/wordpress/sync/{resource}?full={full}"),
            &t.token,
        )
        .send()
        .await?;
    anyhow::ensure!(
        res.status() == StatusCode::ACCEPTED,
        "sync: {}",
        res.text().await?
    );
    let run: Value = res.json().await?;
    let id = run["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let d = app
            .get_json(&format!("/api/v1/workflows/{id}"), &t.token)
            .await?;
        match d["status"].as_str() {
            Some("succeeded" | "failed" | "cancelled") => return Ok(d),
            _ if Instant::now() > deadline => bail!("the sync did not end: {d:#}"),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Every record a listing gives, page by page.
async fn all(app: &TestApp, t: &TestTenant, resource: &str, query: &str) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = app
            .get_json(
                &format!("/api/v1/connectors/wordpress/data/{resource}?limit=200{query}{cursor}"),
                &t.token,
            )
            .await?;
        out.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return Ok(out),
        }
    }
}

fn ids(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| r["external_id"].as_str().unwrap().to_string())
        .collect()
}

async fn connecting_checks_the_fields_live_and_keeps_the_password_only_in_the_secret_store(
    db: Db,
) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let site = WordPressSite::from_env();
    let res = connect(&app, &acme, site.connect_fields()).await?;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await?;
    assert_eq!(body["connection"]["status"], "connected");
    assert_eq!(body["connection"]["settings"]["site_url"], site.url);
    assert_eq!(body["connection"]["settings"]["username"], "admin");
    assert!(
        !body.to_string().contains(&site.app_password),
        "no password in the answer"
    );
    let listed = app.get_json("/api/v1/connectors", &acme.token).await?;
    assert!(!listed.to_string().contains(&site.app_password));
    let wp = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "wordpress")
        .unwrap();
    assert_eq!(wp["connection"]["status"], "connected");
    let audit = app
        .get_json("/api/v1/audit-logs?action=connector.connect", &acme.token)
        .await?;
    assert_eq!(audit["items"].as_array().unwrap().len(), 1);
    assert!(!audit.to_string().contains(&site.app_password));
    Ok(())
}

async fn a_wrong_password_is_a_field_error_and_saves_nothing(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let site = WordPressSite::from_env();
    let mut fields = site.connect_fields();
    fields["application_password"] = json!("abcd efgh ijkl mnop qrst uvwx");
    let res = connect(&app, &acme, fields).await?;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: Value = res.json().await?;
    assert_eq!(problem["errors"][0]["field"], "application_password");
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("WordPress refused the credentials"));
    assert!(!problem.to_string().contains("abcd efgh"));
    let wp = app
        .get_json("/api/v1/connectors/wordpress", &acme.token)
        .await?;
    assert!(wp["connection"].is_null(), "nothing saved");
    Ok(())
}

async fn missing_unknown_and_malformed_fields_are_reported_together(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let res = connect(
        &app,
        &acme,
        json!({"site_url": "ftp://example.com", "username": 7, "colour": "blue"}),
    )
    .await?;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: Value = res.json().await?;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["site_url", "username", "application_password", "colour"]
    );
    Ok(())
}

async fn a_full_sync_stores_every_post_once_and_a_rerun_duplicates_nothing(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let site = WordPressSite::from_env();
    connected(&app, &acme, &site).await?;
    let run = sync(&app, &acme, "posts", true).await?;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    let seeded = all(&app, &acme, "posts", "&q=seeded+post").await?;
    assert_eq!(seeded.len(), 300, "every seeded post, once");
    assert!(
        run["progress"]["done"].as_u64().unwrap() >= 300,
        "progress counted: {run:#}"
    );
    let drafts = all(&app, &acme, "posts", "&q=seeded+post&status=draft").await?;
    assert_eq!(drafts.len(), 60, "every fifth is a draft");
    let again = sync(&app, &acme, "posts", true).await?;
    assert_eq!(again["status"], "succeeded");
    let mut after = ids(&all(&app, &acme, "posts", "&q=seeded+post").await?);
    after.sort();
    after.dedup();
    assert_eq!(after.len(), 300, "a rerun duplicates nothing");
    let wp = app
        .get_json("/api/v1/connectors/wordpress", &acme.token)
        .await?;
    assert_eq!(wp["connection"]["sync_status"], "succeeded");
    assert!(wp["connection"]["last_sync_at"].is_string());
    let posts = wp["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "posts")
        .unwrap();
    assert!(posts["records"].as_i64().unwrap() >= 300);
    Ok(())
}

async fn an_incremental_sync_brings_what_changed_and_a_full_one_buries_what_was_deleted(
    db: Db,
) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let site = WordPressSite::from_env();
    connected(&app, &acme, &site).await?;
    let tag = uuid::Uuid::now_v7().simple().to_string();
    let doomed = site
        .create(
            "pages",
            json!({"title": format!("Doomed {tag}"), "status": "publish"}),
        )
        .await?;
    let doomed_id = doomed["id"].to_string();
    assert_eq!(
        sync(&app, &acme, "pages", false).await?["status"],
        "succeeded"
    );
    assert_eq!(
        all(&app, &acme, "pages", &format!("&q={tag}")).await?.len(),
        1
    );

    // Changed in WordPress, not through the platform.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    site.update(
        "pages",
        &doomed_id,
        json!({"title": format!("Renamed {tag}")}),
    )
    .await?;
    let run = sync(&app, &acme, "pages", false).await?;
    assert_eq!(run["status"], "succeeded");
    assert!(
        run["output"]["records"].as_u64().unwrap() < 100,
        "incremental: {run:#}"
    );
    assert_eq!(run["output"]["mode"], "incremental");
    let found = all(&app, &acme, "pages", &format!("&q={tag}")).await?;
    assert_eq!(found[0]["title"], format!("Renamed {tag}"));

    site.delete("pages", &doomed_id).await?;
    let run = sync(&app, &acme, "pages", true).await?;
    assert!(run["output"]["deleted"].as_u64().unwrap() >= 1, "{run:#}");
    assert!(all(&app, &acme, "pages", &format!("&q={tag}"))
        .await?
        .is_empty());
    let tombstones = all(&app, &acme, "pages", &format!("&q={tag}&deleted=true")).await?;
    assert_eq!(ids(&tombstones), [doomed_id]);
    Ok(())
}

async fn a_page_is_created_changed_and_deleted_in_wordpress_through_the_platform(
    db: Db,
) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let site = WordPressSite::from_env();
    connected(&app, &acme, &site).await?;
    let res = app
        .request(
            Method::POST,
            "/api/v1/connectors/wordpress/data/pages",
            &acme.token,
        )
        .json(&json!({"title": "Made through BizOSaaS", "content": "<p>Hi</p>", "status": "draft"}))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::CREATED);
    let made: Value = res.json().await?;
    let id = made["external_id"].as_str().unwrap().to_string();
    let there: Value = site
        .get(&format!("pages/{id}?context=edit"))
        .await?
        .json()
        .await?;
    assert_eq!(there["title"]["raw"], "Made through BizOSaaS");
    let local = app
        .get_json(
            &format!("/api/v1/connectors/wordpress/data/pages/{id}"),
            &acme.token,
        )
        .await?;
    assert_eq!(local["status"], "draft");

    let res = app
        .request(
            Method::PUT,
            &format!("/api/v1/connectors/wordpress/data/pages/{id}"),
            &acme.token,
        )
        .json(&json!({"title": "Changed through BizOSaaS"}))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    let there: Value = site
        .get(&format!("pages/{id}?context=edit"))
        .await?
        .json()
        .await?;
    assert_eq!(there["title"]["raw"], "Changed through BizOSaaS");

    let res = app
        .request(
            Method::DELETE,
            &format!("/api/v1/connectors/wordpress/data/pages/{id}"),
            &acme.token,
        )
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(site.get(&format!("pages/{id}")).await?.status(), 404);
    let local = app
        .get_json(
            &format!("/api/v1/connectors/wordpress/data/pages/{id}"),
            &acme.token,
        )
        .await?;
    assert_eq!(local["deleted"], true);
    for action in ["create", "update", "delete"] {
        let audit = app
            .get_json(
                &format!("/api/v1/audit-logs?action=connector.record.{action}"),
                &acme.token,
            )
            .await?;
        assert_eq!(
            audit["items"].as_array().unwrap().len(),
            1,
            "{action} audited"
        );
    }
    Ok(())
}

async fn wordpress_validation_errors_come_back_field_by_field(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let site = WordPressSite::from_env();
    connected(&app, &acme, &site).await?;
    let res = app
        .request(
            Method::POST,
            "/api/v1/connectors/wordpress/data/posts",
            &acme.token,
        )
        .json(&json!({"title": "x", "status": "not-a-status"}))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: Value = res.json().await?;
    assert_eq!(problem["errors"][0]["field"], "status");
    Ok(())
}

async fn a_revoked_password_marks_the_connection_as_needing_reconnection(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let site = WordPressSite::from_env();
    let (uuid, password) = site.new_app_password("revoked in a test").await?;
    let mut fields = site.connect_fields();
    fields["application_password"] = json!(password);
    let res = connect(&app, &acme, fields).await?;
    assert_eq!(res.status(), StatusCode::OK);
    site.revoke_app_password(&uuid).await?;
    let run = sync(&app, &acme, "media", true).await?;
    assert_eq!(run["status"], "failed");
    let attempts = run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["name"] == "connector.sync_page")
        .map(|s| s["attempts"].as_array().map_or(1, Vec::len))
        .sum::<usize>();
    assert_eq!(attempts, 1, "refused credentials are not retried: {run:#}");
    let wp = app
        .get_json("/api/v1/connectors/wordpress", &acme.token)
        .await?;
    assert_eq!(wp["connection"]["status"], "needs_reconnect");
    assert!(wp["connection"]["last_error"]
        .as_str()
        .unwrap()
        .contains("refused the credentials"));
    let res = app
        .request(
            Method::POST,
            "/api/v1/connectors/wordpress/sync/media",
            &acme.token,
        )
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(res
        .text()
        .await?
        .contains("reconnect it at /dashboard/connectors/wordpress"));
    // Connecting again with a working password clears it.
    connected(&app, &acme, &site).await?;
    let wp = app
        .get_json("/api/v1/connectors/wordpress", &acme.token)
        .await?;
    assert_eq!(wp["connection"]["status"], "connected");
    Ok(())
}

async fn disconnecting_destroys_the_credentials_and_the_local_copy(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let site = WordPressSite::from_env();
    connected(&app, &acme, &site).await?;
    assert_eq!(
        sync(&app, &acme, "media", true).await?["status"],
        "succeeded"
    );
    let wp = app
        .get_json("/api/v1/connectors/wordpress", &acme.token)
        .await?;
    let path = format!(
        "tenants/{}/connections/{}",
        acme.id.as_uuid(),
        wp["connection"]["id"].as_str().unwrap()
    );
    let res = app
        .request(
            Method::DELETE,
            "/api/v1/connectors/wordpress/connect",
            &acme.token,
        )
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let secret = domain::secrets::SecretPath::parse(acme.id, &path).map_err(anyhow::Error::msg)?;
    assert!(matches!(
        app.state().secrets.get(&secret).await,
        Err(domain::secrets::SecretStoreError::NotFound(_))
    ));
    let wp = app
        .get_json("/api/v1/connectors/wordpress", &acme.token)
        .await?;
    assert!(wp["connection"].is_null());
    let data = app
        .get_status("/api/v1/connectors/wordpress/data/media", &acme.token)
        .await?;
    assert_eq!(data, StatusCode::NOT_FOUND);
    Ok(())
}

async fn one_tenant_never_sees_another_tenants_connection_or_records(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let globex = app.tenant("Globex").await?;
    let site = WordPressSite::from_env();
    connected(&app, &acme, &site).await?;
    assert_eq!(
        sync(&app, &acme, "media", true).await?["status"],
        "succeeded"
    );
    let theirs = app
        .get_json("/api/v1/connectors/wordpress", &globex.token)
        .await?;
    assert!(theirs["connection"].is_null());
    assert_eq!(theirs["resources"][2]["records"], 0);
    assert_eq!(
        app.get_status("/api/v1/connectors/wordpress/data/media", &globex.token)
            .await?,
        StatusCode::NOT_FOUND
    );
    // Their own connection sees their own (empty) copy, not Acme's.
    connected(&app, &globex, &site).await?;
    assert!(all(&app, &globex, "media", "").await?.is_empty());
    assert!(all(&app, &acme, "media", "").await?.len() >= 100);
    Ok(())
}

async fn listing_parameters_are_validated(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let site = WordPressSite::from_env();
    connected(&app, &acme, &site).await?;
    for (query, field) in [
        ("sort=colour", "sort"),
        ("limit=0", "limit"),
        ("cursor=not-a-cursor", "cursor"),
    ] {
        let res = app
            .get(
                &format!("/api/v1/connectors/wordpress/data/posts?{query}"),
                &acme.token,
            )
            .send()
            .await?;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        let problem: Value = res.json().await?;
        assert_eq!(problem["errors"][0]["field"], field, "{query}");
    }
    assert_eq!(
        app.get_status("/api/v1/connectors/wordpress/data/comments", &acme.token)
            .await?,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get_status("/api/v1/connectors/nosuch", &acme.token)
            .await?,
        StatusCode::NOT_FOUND
    );
    Ok(())
}

async fn the_data_pages_in_order_without_gaps_or_repeats(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let site = WordPressSite::from_env();
    connected(&app, &acme, &site).await?;
    assert_eq!(
        sync(&app, &acme, "pages", true).await?["status"],
        "succeeded"
    );
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = app
            .get_json(
                &format!(
                    "/api/v1/connectors/wordpress/data/pages?q=seeded&sort=title&limit=7{cursor}"
                ),
                &acme.token,
            )
            .await?;
        for r in page["items"].as_array().unwrap() {
            seen.push(r["title"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 120);
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "in title order across pages");
    Ok(())
}

testkit::on_both_backends!(
    connecting_checks_the_fields_live_and_keeps_the_password_only_in_the_secret_store,
    a_wrong_password_is_a_field_error_and_saves_nothing,
    missing_unknown_and_malformed_fields_are_reported_together,
    a_full_sync_stores_every_post_once_and_a_rerun_duplicates_nothing,
    an_incremental_sync_brings_what_changed_and_a_full_one_buries_what_was_deleted,
    a_page_is_created_changed_and_deleted_in_wordpress_through_the_platform,
    wordpress_validation_errors_come_back_field_by_field,
    a_revoked_password_marks_the_connection_as_needing_reconnection,
    disconnecting_destroys_the_credentials_and_the_local_copy,
    one_tenant_never_sees_another_tenants_connection_or_records,
    listing_parameters_are_validated,
    the_data_pages_in_order_without_gaps_or_repeats,
);
