//! API tokens over the API: authentication, scopes, idempotent creation,
//! revocation, and isolation between tenants.

use anyhow::Result;
use domain::tokens::Scope;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use testkit::{Db, TestApp};

async fn create(
    app: &TestApp,
    token: &str,
    key: Option<&str>,
    body: Value,
) -> Result<reqwest::Response> {
    let mut req = app
        .request(Method::POST, "/api/v1/tokens", token)
        .json(&body);
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    Ok(req.send().await?)
}

async fn a_created_token_is_shown_once_and_works(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let res = create(
        &app,
        &acme.token,
        None,
        json!({ "name": "ci", "scopes": ["read"] }),
    )
    .await?;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await?;
    let secret = body["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("bzs_"));
    let id = body["token"]["id"].as_str().unwrap();
    assert_eq!(
        uuid::Uuid::parse_str(id)?.get_version_num(),
        7,
        "ids are UUIDv7"
    );
    assert_eq!(
        app.get_status("/api/v1/tenant", &secret).await?,
        StatusCode::OK
    );
    let listed = app
        .get(&format!("/api/v1/tokens/{id}"), &acme.token)
        .send()
        .await?
        .text()
        .await?;
    assert!(!listed.contains(&secret), "the secret is never shown again");
    Ok(())
}

async fn requests_without_a_valid_token_are_unauthorized(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let none = app.client.get(app.url("/api/v1/audit-logs")).send().await?;
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(none.headers()["content-type"], "application/problem+json");
    let wrong_prefix = acme.token.replacen("bzs_", "xyz_", 1);
    let res = app.get("/api/v1/audit-logs", &wrong_prefix).send().await?;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.text().await?.contains("bzs_"));
    let unknown = format!("bzs_{}", "A".repeat(43));
    assert_eq!(
        app.get_status("/api/v1/audit-logs", &unknown).await?,
        StatusCode::UNAUTHORIZED
    );
    Ok(())
}

async fn a_read_token_cannot_write_and_is_told_the_scope_it_needs(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let read = app.token_for(acme.id, &[Scope::Read]).await?;
    assert_eq!(
        app.get_status("/api/v1/audit-logs", &read).await?,
        StatusCode::OK
    );
    let res = app
        .request(Method::POST, "/api/v1/tokens", &read)
        .json(&json!({ "name": "x", "scopes": ["read"] }))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let p: Value = res.json().await?;
    assert!(p["detail"].as_str().unwrap().contains("`admin`"));
    Ok(())
}

async fn a_revoked_token_stops_working_at_once(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let body: Value = create(
        &app,
        &acme.token,
        None,
        json!({ "name": "temp", "scopes": ["read"] }),
    )
    .await?
    .json()
    .await?;
    let (id, secret) = (
        body["token"]["id"].as_str().unwrap(),
        body["secret"].as_str().unwrap(),
    );
    assert_eq!(
        app.get_status("/api/v1/tenant", secret).await?,
        StatusCode::OK
    );
    let res = app
        .request(Method::DELETE, &format!("/api/v1/tokens/{id}"), &acme.token)
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.json::<Value>().await?["revoked_at"].is_string());
    assert_eq!(
        app.get_status("/api/v1/tenant", secret).await?,
        StatusCode::UNAUTHORIZED
    );
    let audit: Value = app
        .get_json("/api/v1/audit-logs?action=api_token.revoke", &acme.token)
        .await?;
    assert_eq!(audit["items"][0]["resource_id"], id);
    Ok(())
}

async fn a_retried_create_with_the_same_idempotency_key_makes_one_token(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let body = json!({ "name": "deploy", "scopes": ["write"] });
    let first = create(&app, &acme.token, Some("key-1"), body.clone()).await?;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await?;
    let again = create(&app, &acme.token, Some("key-1"), body).await?;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await?;
    assert_eq!(again["token"]["id"], first["token"]["id"]);
    assert!(
        again["secret"].is_null(),
        "secrets are not stored, so a replay cannot show one"
    );
    let list: Value = app.get_json("/api/v1/tokens", &acme.token).await?;
    assert_eq!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["name"] == "deploy")
            .count(),
        1
    );

    let other = create(
        &app,
        &acme.token,
        Some("key-1"),
        json!({ "name": "other", "scopes": ["read"] }),
    )
    .await?;
    assert_eq!(other.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        other.json::<Value>().await?["errors"][0]["field"],
        "Idempotency-Key"
    );
    Ok(())
}

async fn a_tenant_holds_a_bounded_number_of_active_tokens(db: Db) -> Result<()> {
    let settings = app::Settings {
        max_active_tokens: 3,
        ..Default::default()
    };
    let app = TestApp::spawn_with(testkit::TestDb::create(db).await?, settings).await?;
    let acme = app.tenant("Acme").await?; // holds the owner's token: 1 of 3
    let mut ids = Vec::new();
    for n in 0..2 {
        let res = create(
            &app,
            &acme.token,
            None,
            json!({ "name": format!("t{n}"), "scopes": ["read"] }),
        )
        .await?;
        assert_eq!(res.status(), StatusCode::CREATED);
        ids.push(
            res.json::<Value>().await?["token"]["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let full = create(
        &app,
        &acme.token,
        None,
        json!({ "name": "one more", "scopes": ["read"] }),
    )
    .await?;
    assert_eq!(full.status(), StatusCode::CONFLICT);
    let p: Value = full.json().await?;
    assert!(p["detail"].as_str().unwrap().contains("revoke one"), "{p}");
    // Revoking frees a place.
    let revoked = app
        .request(
            Method::DELETE,
            &format!("/api/v1/tokens/{}", ids[0]),
            &acme.token,
        )
        .send()
        .await?;
    assert_eq!(revoked.status(), StatusCode::OK);
    let again = create(
        &app,
        &acme.token,
        None,
        json!({ "name": "one more", "scopes": ["read"] }),
    )
    .await?;
    assert_eq!(again.status(), StatusCode::CREATED);
    Ok(())
}

async fn tenant_b_gets_not_found_for_tenant_a_tokens(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let a = app.tenant("Tenant A").await?;
    let b = app.tenant("Tenant B").await?;
    let body: Value = create(
        &app,
        &a.token,
        None,
        json!({ "name": "a-only", "scopes": ["read"] }),
    )
    .await?
    .json()
    .await?;
    let id = body["token"]["id"].as_str().unwrap();
    assert_eq!(
        app.get_status(&format!("/api/v1/tokens/{id}"), &b.token)
            .await?,
        StatusCode::NOT_FOUND
    );
    let del = app
        .request(Method::DELETE, &format!("/api/v1/tokens/{id}"), &b.token)
        .send()
        .await?;
    assert_eq!(del.status(), StatusCode::NOT_FOUND);
    let list = app
        .get("/api/v1/tokens", &b.token)
        .send()
        .await?
        .text()
        .await?;
    assert!(!list.contains("a-only"));
    // A's token still works: B's attempt changed nothing.
    assert_eq!(
        app.get("/api/v1/tenant", body["secret"].as_str().unwrap())
            .send()
            .await?
            .status(),
        StatusCode::OK
    );
    let tenant: Value = app.get_json("/api/v1/tenant", &b.token).await?;
    assert_eq!(tenant["id"], b.id.to_string());
    Ok(())
}

testkit::on_both_backends!(
    a_tenant_holds_a_bounded_number_of_active_tokens,
    a_created_token_is_shown_once_and_works,
    requests_without_a_valid_token_are_unauthorized,
    a_read_token_cannot_write_and_is_told_the_scope_it_needs,
    a_revoked_token_stops_working_at_once,
    a_retried_create_with_the_same_idempotency_key_makes_one_token,
    tenant_b_gets_not_found_for_tenant_a_tokens,
);
