//! BYOK with OpenBao as the secret store: keys at the documented paths,
//! destroyed on revocation, and an outage that loses nothing.

use anyhow::Result;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use testkit::proxy::TcpProxy;
use testkit::vault::TestVault;
use testkit::{Db, TestApp};

const KEYS: [(&str, &str); 3] = [
    ("openai", "sk-proj-vault-openai-key-0001"),
    ("anthropic", "sk-ant-api03-vault-anthropic-0002"),
    ("openrouter", "sk-or-v1-vault-openrouter-0003"),
];

async fn add(app: &TestApp, token: &str, service: &str, key: &str) -> Result<reqwest::Response> {
    Ok(app
        .request(
            Method::POST,
            &format!("/api/v1/vault/keys/{service}"),
            token,
        )
        .json(&json!({ "api_key": key }))
        .send()
        .await?)
}

async fn revoke(app: &TestApp, token: &str, service: &str) -> Result<StatusCode> {
    Ok(app
        .request(
            Method::DELETE,
            &format!("/api/v1/vault/keys/{service}"),
            token,
        )
        .send()
        .await?
        .status())
}

async fn keys_are_readable_in_the_vault_at_the_documented_paths(db: Db) -> Result<()> {
    let vault = TestVault::create().await?;
    let app = TestApp::spawn_with_vault(db, vault.token_config().await?).await?;
    let acme = app.tenant("Acme").await?;
    for (service, key) in KEYS {
        app.llm.accept(key);
        assert_eq!(
            add(&app, &acme.token, service, key).await?.status(),
            StatusCode::CREATED
        );
        let stored = vault
            .read(&format!("tenants/{}/api_keys/{service}", acme.id))
            .await?
            .expect("stored in the vault");
        assert_eq!(stored["api_key"], key);
    }
    Ok(())
}

async fn revoking_destroys_every_version_in_the_vault(db: Db) -> Result<()> {
    let vault = TestVault::create().await?;
    let app = TestApp::spawn_with_vault(db, vault.token_config().await?).await?;
    let acme = app.tenant("Acme").await?;
    let (service, key) = KEYS[0];
    app.llm.accept(key);
    app.llm.accept("sk-proj-second-version-9999");
    add(&app, &acme.token, service, key).await?;
    add(&app, &acme.token, service, "sk-proj-second-version-9999").await?;
    let path = format!("tenants/{}/api_keys/{service}", acme.id);
    assert!(vault.has_metadata(&path).await?);
    assert_eq!(
        revoke(&app, &acme.token, service).await?,
        StatusCode::NO_CONTENT
    );
    assert_eq!(vault.read(&path).await?, None);
    assert!(
        !vault.has_metadata(&path).await?,
        "no version or metadata is left"
    );
    Ok(())
}

async fn a_vault_outage_gives_503_loses_nothing_and_heals_without_a_restart(db: Db) -> Result<()> {
    let vault = TestVault::create().await?;
    let proxy = TcpProxy::start(vault.addr.trim_start_matches("http://").to_string()).await?;
    let mut config = vault.token_config().await?;
    config.addr = format!("http://127.0.0.1:{}", proxy.port());
    let app = TestApp::spawn_with_vault(db, config).await?;
    let acme = app.tenant("Acme").await?;
    let (service, key) = KEYS[0];
    app.llm.accept(key);
    let (other, other_key) = KEYS[1];
    app.llm.accept(other_key);
    add(&app, &acme.token, other, other_key).await?;

    proxy.take_down();
    let res = add(&app, &acme.token, service, key).await?;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let problem: Value = res.json().await?;
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("secret store unavailable"));
    assert_eq!(
        revoke(&app, &acme.token, other).await?,
        StatusCode::SERVICE_UNAVAILABLE
    );

    // Nothing half-written: no reference without its secret, and the key
    // whose revocation failed is still there, in both places.
    let listed = app.get_json("/api/v1/vault/keys", &acme.token).await?;
    let services: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["service"].as_str().unwrap())
        .collect();
    assert_eq!(services, [other]);
    assert_eq!(
        vault
            .read(&format!("tenants/{}/api_keys/{service}", acme.id))
            .await?,
        None
    );
    assert!(vault
        .read(&format!("tenants/{}/api_keys/{other}", acme.id))
        .await?
        .is_some());

    proxy.bring_up();
    assert_eq!(
        add(&app, &acme.token, service, key).await?.status(),
        StatusCode::CREATED
    );
    assert_eq!(
        revoke(&app, &acme.token, other).await?,
        StatusCode::NO_CONTENT
    );
    Ok(())
}

async fn tenant_b_cannot_reach_tenant_a_keys_in_the_vault(db: Db) -> Result<()> {
    let vault = TestVault::create().await?;
    let app = TestApp::spawn_with_vault(db, vault.token_config().await?).await?;
    let a = app.tenant("Tenant A").await?;
    let b = app.tenant("Tenant B").await?;
    let (service, key) = KEYS[0];
    app.llm.accept(key);
    add(&app, &a.token, service, key).await?;
    assert!(app.get_json("/api/v1/vault/keys", &b.token).await?["items"]
        .as_array()
        .unwrap()
        .is_empty());
    for (method, path) in [
        (Method::POST, format!("/api/v1/vault/keys/{service}/test")),
        (Method::DELETE, format!("/api/v1/vault/keys/{service}")),
    ] {
        let res = app.request(method, &path, &b.token).send().await?;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }
    assert!(vault
        .read(&format!("tenants/{}/api_keys/{service}", a.id))
        .await?
        .is_some());
    Ok(())
}

testkit::on_both_backends!(
    keys_are_readable_in_the_vault_at_the_documented_paths,
    revoking_destroys_every_version_in_the_vault,
    a_vault_outage_gives_503_loses_nothing_and_heals_without_a_restart,
    tenant_b_cannot_reach_tenant_a_keys_in_the_vault,
);
