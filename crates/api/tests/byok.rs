//! BYOK: tenants' own provider keys, checked with the provider, kept in the
//! secret store (local sealed store here; OpenBao in `byok_vault.rs`), listed
//! masked, re-tested and revoked; admins only; walled per tenant.

use anyhow::Result;
use domain::roles::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use testkit::{Db, TestApp};

const OPENAI: &str = "sk-proj-abcdefghijklmnopqrstuvwxyzOPEN";

async fn add(app: &TestApp, token: &str, service: &str, body: Value) -> Result<reqwest::Response> {
    Ok(app
        .request(
            Method::POST,
            &format!("/api/v1/vault/keys/{service}"),
            token,
        )
        .json(&body)
        .send()
        .await?)
}

async fn listed(app: &TestApp, token: &str) -> Result<Vec<Value>> {
    Ok(app.get_json("/api/v1/vault/keys", token).await?["items"]
        .as_array()
        .unwrap()
        .clone())
}

async fn a_key_the_provider_accepts_is_stored_and_listed_masked(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    app.llm.accept(OPENAI);
    let res = add(&app, &acme.token, "openai", json!({ "api_key": OPENAI })).await?;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await?;
    assert_eq!(body["masked_key"], "…OPEN");
    assert_eq!(body["last_test_ok"], true);
    assert!(!body.to_string().contains(OPENAI));

    let keys = listed(&app, &acme.token).await?;
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["service"], "openai");
    assert_eq!(keys[0]["provider"], "OpenAI");
    assert!(keys[0]["added_by"].as_str().unwrap().starts_with("token:"));
    assert!(!serde_json::to_string(&keys)?.contains(OPENAI));
    Ok(())
}

async fn a_key_the_provider_rejects_gives_422_with_its_reason_and_stores_nothing(
    db: Db,
) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let res = add(
        &app,
        &acme.token,
        "anthropic",
        json!({ "api_key": "sk-ant-wrong-key-0000" }),
    )
    .await?;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: Value = res.json().await?;
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("Anthropic rejected the key: invalid x-api-key"),
        "{detail}"
    );
    assert!(!detail.contains("sk-ant-wrong-key-0000"));
    assert!(listed(&app, &acme.token).await?.is_empty());
    Ok(())
}

async fn validate_false_stores_without_asking_the_provider(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let res = app
        .request(
            Method::POST,
            "/api/v1/vault/keys/openrouter?validate=false",
            &acme.token,
        )
        .json(&json!({ "api_key": "sk-or-v1-unchecked-1234" }))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(app.llm.calls(), 0);
    assert!(res.json::<Value>().await?["last_test_ok"].is_null());
    Ok(())
}

async fn testing_a_key_again_records_what_the_provider_says_now(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    app.llm.accept(OPENAI);
    add(&app, &acme.token, "openai", json!({ "api_key": OPENAI })).await?;
    app.llm.reject(OPENAI);
    let res = app
        .request(Method::POST, "/api/v1/vault/keys/openai/test", &acme.token)
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    let key: Value = res.json().await?;
    assert_eq!(key["last_test_ok"], false);
    assert!(key["last_test_detail"]
        .as_str()
        .unwrap()
        .contains("Incorrect API key"));
    assert!(
        !key.to_string().contains(OPENAI),
        "the provider's message is scrubbed"
    );
    Ok(())
}

async fn revoking_removes_the_key_from_the_store_and_the_list(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    app.llm.accept(OPENAI);
    add(&app, &acme.token, "openai", json!({ "api_key": OPENAI })).await?;
    let res = app
        .request(Method::DELETE, "/api/v1/vault/keys/openai", &acme.token)
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(listed(&app, &acme.token).await?.is_empty());
    let path = domain::secrets::SecretPath::api_key(acme.id, "openai").unwrap();
    assert!(matches!(
        app.state().secrets.get(&path).await,
        Err(domain::secrets::SecretStoreError::NotFound(_))
    ));
    let audit = app
        .get_json("/api/v1/audit-logs?resource_type=api_key", &acme.token)
        .await?;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["api_key.revoke", "api_key.create"]);
    let again = app
        .request(Method::DELETE, "/api/v1/vault/keys/openai", &acme.token)
        .send()
        .await?;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    Ok(())
}

async fn an_openai_compatible_service_is_checked_at_its_base_url(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    app.llm.accept("local-llm-key-5678");
    let missing = add(
        &app,
        &acme.token,
        "my-vllm",
        json!({ "api_key": "local-llm-key-5678" }),
    )
    .await?;
    assert_eq!(missing.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(missing.text().await?.contains("base_url"));
    let res = add(
        &app,
        &acme.token,
        "my-vllm",
        json!({ "api_key": "local-llm-key-5678", "base_url": app.llm.compatible_base() }),
    )
    .await?;
    assert_eq!(res.status(), StatusCode::CREATED);
    let key: Value = res.json().await?;
    assert_eq!(key["base_url"], app.llm.compatible_base());
    assert!(key["last_test_detail"]
        .as_str()
        .unwrap()
        .contains("3 models"));
    Ok(())
}

async fn a_rate_limited_check_gives_429_with_when_to_retry(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    app.llm.rate_limit(OPENAI);
    let res = add(&app, &acme.token, "openai", json!({ "api_key": OPENAI })).await?;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["retry-after"], "20");
    assert!(listed(&app, &acme.token).await?.is_empty());
    Ok(())
}

async fn bad_input_is_refused_with_the_field_named(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    for (service, body, field) in [
        ("openai", json!({ "api_key": "short" }), "api_key"),
        (
            "openai",
            json!({ "api_key": " sk-with-spaces-123 " }),
            "api_key",
        ),
        (
            "openai",
            json!({ "api_key": OPENAI, "base_url": "https://x.example/v1" }),
            "base_url",
        ),
        ("Bad Name!", json!({ "api_key": OPENAI }), "service"),
        (
            "vllm",
            json!({ "api_key": OPENAI, "base_url": "ftp://nope" }),
            "base_url",
        ),
    ] {
        let res = add(&app, &acme.token, service, body).await?;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{service}");
        let problem: Value = res.json().await?;
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    let unknown = add(&app, &acme.token, "openai", json!({ "key": OPENAI })).await?;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(listed(&app, &acme.token).await?.is_empty());
    Ok(())
}

async fn a_key_with_control_characters_is_refused_checked_or_not(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    for path in [
        "/api/v1/vault/keys/openai",
        "/api/v1/vault/keys/openai?validate=false",
    ] {
        for key in [
            "sk-proj-zqx\ndef-1234567",
            "sk-proj-zqx\tdef-1234567",
            "sk-proj-zqx\u{0}-1234567",
        ] {
            let res = app
                .request(Method::POST, path, &acme.token)
                .json(&json!({ "api_key": key }))
                .send()
                .await?;
            assert_eq!(
                res.status(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "{path} {key:?}"
            );
            let problem: Value = res.json().await?;
            assert_eq!(problem["errors"][0]["field"], "api_key", "{problem}");
            assert!(
                // Not hex, so no request id can contain it by chance.
                !problem.to_string().contains("zqx"),
                "the key is not echoed: {problem}"
            );
        }
    }
    assert_eq!(app.llm.calls(), 0, "nothing was sent to the provider");
    assert!(
        listed(&app, &acme.token).await?.is_empty(),
        "nothing was stored"
    );
    Ok(())
}

async fn only_admins_manage_keys(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let member = app.member(acme.id, "mo@acme.test", Role::Member).await?;
    app.llm.accept(OPENAI);
    assert_eq!(
        add(&app, &member, "openai", json!({ "api_key": OPENAI }))
            .await?
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get_status("/api/v1/vault/keys", &member).await?,
        StatusCode::FORBIDDEN
    );
    add(&app, &acme.token, "openai", json!({ "api_key": OPENAI })).await?;
    for (method, path) in [
        (Method::POST, "/api/v1/vault/keys/openai/test"),
        (Method::DELETE, "/api/v1/vault/keys/openai"),
    ] {
        let res = app.request(method, path, &member).send().await?;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
    }
    Ok(())
}

async fn tenant_b_can_never_read_test_or_revoke_tenant_a_keys(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let a = app.tenant("Tenant A").await?;
    let b = app.tenant("Tenant B").await?;
    app.llm.accept(OPENAI);
    add(&app, &a.token, "openai", json!({ "api_key": OPENAI })).await?;

    assert!(listed(&app, &b.token).await?.is_empty());
    for (method, path) in [
        (Method::POST, "/api/v1/vault/keys/openai/test"),
        (Method::DELETE, "/api/v1/vault/keys/openai"),
    ] {
        let res = app.request(method, path, &b.token).send().await?;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
    // B storing its own openai key touches nothing of A's.
    app.llm.accept("sk-b-key-000000000000");
    add(
        &app,
        &b.token,
        "openai",
        json!({ "api_key": "sk-b-key-000000000000" }),
    )
    .await?;
    let a_keys = listed(&app, &a.token).await?;
    assert_eq!(a_keys[0]["masked_key"], "…OPEN");
    let a_path = domain::secrets::SecretPath::api_key(a.id, "openai").unwrap();
    let a_secret = app.state().secrets.get(&a_path).await?;
    use domain::secrets::ExposeSecret;
    assert_eq!(a_secret.get("api_key").unwrap().expose_secret(), OPENAI);
    Ok(())
}

testkit::on_both_backends!(
    a_key_the_provider_accepts_is_stored_and_listed_masked,
    a_key_the_provider_rejects_gives_422_with_its_reason_and_stores_nothing,
    validate_false_stores_without_asking_the_provider,
    testing_a_key_again_records_what_the_provider_says_now,
    revoking_removes_the_key_from_the_store_and_the_list,
    an_openai_compatible_service_is_checked_at_its_base_url,
    a_rate_limited_check_gives_429_with_when_to_retry,
    bad_input_is_refused_with_the_field_named,
    a_key_with_control_characters_is_refused_checked_or_not,
    only_admins_manage_keys,
    tenant_b_can_never_read_test_or_revoke_tenant_a_keys,
);
