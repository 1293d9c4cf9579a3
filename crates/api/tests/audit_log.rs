//! The audit log: written with every change, listed newest first, filtered,
//! paged, exported, and walled per tenant.

use anyhow::Result;
use domain::audit::{NewAuditEntry, RequestOrigin};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use testkit::{Db, TestApp};

async fn rename(app: &TestApp, token: &str, name: &str) -> Result<()> {
    let res = app
        .request(Method::PATCH, "/api/v1/tenant", token)
        .json(&json!({ "name": name }))
        .send()
        .await?;
    anyhow::ensure!(
        res.status() == StatusCode::OK,
        "rename failed: {}",
        res.text().await?
    );
    Ok(())
}

async fn entries(app: &TestApp, token: &str, query: &str) -> Result<Value> {
    let res = app
        .get(&format!("/api/v1/audit-logs{query}"), token)
        .send()
        .await?;
    anyhow::ensure!(
        res.status() == StatusCode::OK,
        "list failed: {}",
        res.text().await?
    );
    Ok(res.json().await?)
}

async fn page_cache_hits(app: &TestApp) -> Result<u64> {
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await?
        .text()
        .await?;
    Ok(text
        .lines()
        .find(|l| l.starts_with(r#"cache_lookups_total{cache="audit_pages",outcome="hit"}"#))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0))
}

async fn a_mutating_call_writes_one_audit_entry_with_actor_and_origin(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let res = app
        .request(Method::PATCH, "/api/v1/tenant", &acme.token)
        .header("user-agent", "spec-test/1.0")
        .json(&json!({ "name": "Acme Renamed" }))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    let page = entries(&app, &acme.token, "?action=tenant.update").await?;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let e = &items[0];
    assert_eq!(e["resource_type"], "tenant");
    assert_eq!(e["resource_id"], acme.id.to_string());
    assert_eq!(e["metadata"]["name"]["to"], "Acme Renamed");
    assert_eq!(e["ip_address"], "127.0.0.1");
    assert_eq!(e["user_agent"], "spec-test/1.0");
    assert!(e["token_id"].is_string(), "the acting token is recorded");
    Ok(())
}

async fn entries_are_listed_newest_first_and_paged_by_cursor(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    for i in 0..5 {
        rename(&app, &acme.token, &format!("Acme {i}")).await?;
    }
    let first = entries(&app, &acme.token, "?action=tenant.update&limit=2").await?;
    assert_eq!(first["items"][0]["metadata"]["name"]["to"], "Acme 4");
    assert_eq!(first["items"][1]["metadata"]["name"]["to"], "Acme 3");
    let cursor = first["next_cursor"].as_str().expect("more pages");
    let second = entries(
        &app,
        &acme.token,
        &format!("?action=tenant.update&limit=2&cursor={cursor}"),
    )
    .await?;
    assert_eq!(second["items"][0]["metadata"]["name"]["to"], "Acme 2");
    let cursor = second["next_cursor"].as_str().expect("more pages");
    let last = entries(
        &app,
        &acme.token,
        &format!("?action=tenant.update&limit=2&cursor={cursor}"),
    )
    .await?;
    assert_eq!(last["items"].as_array().unwrap().len(), 1);
    assert!(last["next_cursor"].is_null());
    Ok(())
}

async fn entries_are_filtered_by_action_resource_type_and_time(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    rename(&app, &acme.token, "Acme 1").await?;
    let between = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    rename(&app, &acme.token, "Acme 2").await?;

    let tokens = entries(&app, &acme.token, "?resource_type=api_token").await?;
    assert!(tokens["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["resource_type"] == "api_token"));
    let since = between.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let after = entries(
        &app,
        &acme.token,
        &format!("?action=tenant.update&since={since}"),
    )
    .await?;
    assert_eq!(after["items"].as_array().unwrap().len(), 1);
    assert_eq!(after["items"][0]["metadata"]["name"]["to"], "Acme 2");
    let before = entries(
        &app,
        &acme.token,
        &format!("?action=tenant.update&until={since}"),
    )
    .await?;
    assert_eq!(before["items"].as_array().unwrap().len(), 1);
    assert_eq!(before["items"][0]["metadata"]["name"]["to"], "Acme 1");
    Ok(())
}

/// An export holds every member's email and address at once, more than a
/// member needs to see what happened: members and read tokens list pages,
/// only admins export.
async fn only_admins_export_the_log_while_members_page_through_it(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let member = app
        .member(acme.id, "mel@acme.io", domain::roles::Role::Member)
        .await?;
    let read = app
        .token_for(acme.id, &[domain::tokens::Scope::Read])
        .await?;
    for who in [&member, &read] {
        assert_eq!(
            app.get_status("/api/v1/audit-logs", who).await?,
            StatusCode::OK
        );
        for format in ["csv", "jsonl"] {
            let res = app
                .get(&format!("/api/v1/audit-logs?format={format}"), who)
                .send()
                .await?;
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{format}");
            let p: Value = res.json().await?;
            assert!(p["detail"].as_str().unwrap().contains("admin"), "{p}");
        }
    }
    Ok(())
}

async fn the_log_exports_as_csv_and_json_lines(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    rename(&app, &acme.token, "=HYPERLINK(\"x\")").await?;
    let csv = app
        .get("/api/v1/audit-logs?format=csv", &acme.token)
        .send()
        .await?;
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(csv.headers()["content-type"]
        .to_str()?
        .starts_with("text/csv"));
    let text = csv.text().await?;
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with("id,created_at,action"));
    assert_eq!(
        text.lines().count(),
        1 + 3,
        "header + tenant.create + api_token.create + tenant.update"
    );
    let jsonl = app
        .get(
            "/api/v1/audit-logs?format=jsonl&action=tenant.update",
            &acme.token,
        )
        .send()
        .await?
        .text()
        .await?;
    let rows: Vec<Value> = jsonl
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["action"], "tenant.update");
    Ok(())
}

async fn a_rejected_request_writes_nothing(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let before = entries(&app, &acme.token, "").await?["items"]
        .as_array()
        .unwrap()
        .len();
    let res = app
        .request(Method::PATCH, "/api/v1/tenant", &acme.token)
        .json(&json!({ "name": "" }))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app
        .request(Method::POST, "/api/v1/tokens", &acme.token)
        .json(&json!({ "name": "x", "scopes": [] }))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let after = entries(&app, &acme.token, "").await?["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, after);
    Ok(())
}

async fn tenant_b_cannot_list_page_into_or_change_tenant_a_entries(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let a = app.tenant("Tenant A").await?;
    let b = app.tenant("Tenant B").await?;
    rename(&app, &a.token, "A secret name").await?;

    let b_view = entries(&app, &b.token, "?limit=200").await?;
    for e in b_view["items"].as_array().unwrap() {
        assert_eq!(
            e["tenant_id"],
            b.id.to_string(),
            "B sees only its own entries"
        );
    }
    let export = app
        .get("/api/v1/audit-logs?format=jsonl", &b.token)
        .send()
        .await?
        .text()
        .await?;
    assert!(!export.contains(&a.id.to_string()));
    assert!(!export.contains("A secret name"));

    // A cursor taken from A's log is refused for B rather than paging into A.
    let a_page = entries(&app, &a.token, "?limit=1").await?;
    let a_cursor = a_page["next_cursor"].as_str().unwrap();
    let res = app
        .get(&format!("/api/v1/audit-logs?cursor={a_cursor}"), &b.token)
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // No endpoint changes or deletes audit entries.
    let a_entry = a_page["items"][0]["id"].as_str().unwrap();
    for method in [Method::DELETE, Method::PATCH, Method::PUT] {
        let res = app
            .request(method, &format!("/api/v1/audit-logs/{a_entry}"), &b.token)
            .send()
            .await?;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }
    Ok(())
}

async fn a_new_entry_is_listed_at_once_after_the_same_page_was_served(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    rename(&app, &acme.token, "First").await?;
    let first = entries(&app, &acme.token, "?limit=5").await?;
    let hits = page_cache_hits(&app).await?;
    assert_eq!(first, entries(&app, &acme.token, "?limit=5").await?);
    assert_eq!(
        page_cache_hits(&app).await?,
        hits + 1,
        "served from the cache"
    );

    rename(&app, &acme.token, "Second").await?;
    let after = entries(&app, &acme.token, "?limit=5").await?;
    assert_eq!(after["items"][0]["metadata"]["name"]["to"], "Second");
    Ok(())
}

async fn a_page_served_to_one_tenant_is_never_served_to_another(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let a = app.tenant("Tenant A").await?;
    let b = app.tenant("Tenant B").await?;
    rename(&app, &a.token, "Only A").await?;
    entries(&app, &a.token, "?limit=50").await?;
    let b_view = entries(&app, &b.token, "?limit=50").await?;
    for e in b_view["items"].as_array().unwrap() {
        assert_eq!(e["tenant_id"], b.id.to_string());
    }
    Ok(())
}

async fn an_entry_written_by_another_instance_is_listed_within_a_second(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    entries(&app, &acme.token, "?limit=5").await?;
    let hits = page_cache_hits(&app).await?;
    entries(&app, &acme.token, "?limit=5").await?;
    assert_eq!(
        page_cache_hits(&app).await?,
        hits + 1,
        "served from the cache"
    );

    // Another server (PostgreSQL) or the admin CLI (SQLite) on the same database.
    let other = app.db.store().await?;
    let mut tx = other
        .write(&domain::Principal::operator(acme.id).scope())
        .await?;
    store::audit::record(
        &mut tx,
        NewAuditEntry {
            action: "test.elsewhere".into(),
            resource_type: "test".into(),
            resource_id: None,
            metadata: json!({}),
            origin: RequestOrigin::default(),
        },
    )
    .await?;
    tx.commit().await?;

    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let page = entries(&app, &acme.token, "?limit=5").await?;
        if page["items"][0]["action"] == "test.elsewhere" {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the other instance's entry never showed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

testkit::on_both_backends!(
    a_new_entry_is_listed_at_once_after_the_same_page_was_served,
    a_page_served_to_one_tenant_is_never_served_to_another,
    an_entry_written_by_another_instance_is_listed_within_a_second,
    a_mutating_call_writes_one_audit_entry_with_actor_and_origin,
    entries_are_listed_newest_first_and_paged_by_cursor,
    entries_are_filtered_by_action_resource_type_and_time,
    only_admins_export_the_log_while_members_page_through_it,
    the_log_exports_as_csv_and_json_lines,
    a_rejected_request_writes_nothing,
    tenant_b_cannot_list_page_into_or_change_tenant_a_entries,
);
