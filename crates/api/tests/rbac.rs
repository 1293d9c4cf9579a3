//! The RBAC matrix: every authenticated operation of the OpenAPI document ×
//! every role. An operation without a rule here fails the test, so a new
//! endpoint cannot ship without deciding who may call it.

use anyhow::{bail, Result};
use domain::roles::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use testkit::{Db, TestApp};

/// The least role allowed, and a valid body, for each operation.
fn rule(method: &str, path: &str) -> Option<(Role, Value)> {
    let none = Value::Null;
    Some(match (method, path) {
        ("get", "/api/v1/audit-logs") => (Role::Viewer, none),
        ("get", "/api/v1/tenant") => (Role::Viewer, none),
        ("patch", "/api/v1/tenant") => (Role::Owner, json!({ "name": "Renamed" })),
        ("get", "/api/v1/tokens") => (Role::Admin, none),
        ("post", "/api/v1/tokens") => (Role::Admin, json!({ "name": "t", "scopes": ["read"] })),
        ("get", "/api/v1/tokens/{id}") => (Role::Admin, none),
        ("delete", "/api/v1/tokens/{id}") => (Role::Admin, none),
        ("get", "/api/v1/me") => (Role::Viewer, none),
        ("patch", "/api/v1/me") => (Role::Viewer, json!({ "name": "Renamed Me" })),
        ("get", "/api/v1/me/tokens") => (Role::Viewer, none),
        ("post", "/api/v1/me/tokens") => (Role::Viewer, json!({ "name": "t", "scopes": ["read"] })),
        ("delete", "/api/v1/me/tokens/{id}") => (Role::Viewer, none),
        ("get", "/api/v1/members") => (Role::Viewer, none),
        ("patch", "/api/v1/members/{user_id}") => (Role::Admin, json!({ "role": "viewer" })),
        ("delete", "/api/v1/members/{user_id}") => (Role::Admin, none),
        ("get", "/api/v1/invitations") => (Role::Admin, none),
        ("post", "/api/v1/invitations") => (
            Role::Admin,
            json!({ "email": "new@elsewhere.io", "role": "viewer" }),
        ),
        ("delete", "/api/v1/invitations/{id}") => (Role::Admin, none),
        ("post", "/auth/logout") => (Role::Viewer, none),
        ("post", "/auth/switch") => (Role::Viewer, json!({ "tenant": "acme" })),
        // A weak new password: allowed callers get as far as validation
        // without ending the sessions the rest of the matrix signs in with.
        ("post", "/api/v1/me/password") => (
            Role::Viewer,
            json!({ "current_password": "x", "new_password": "short" }),
        ),
        ("post", "/auth/logout-all") => (Role::Viewer, none),
        ("get", "/api/v1/vault/keys") => (Role::Admin, none),
        ("post", "/api/v1/vault/keys/{service}") => (Role::Admin, json!({ "api_key": RBAC_KEY })),
        ("delete", "/api/v1/vault/keys/{service}") => (Role::Admin, none),
        ("post", "/api/v1/vault/keys/{service}/test") => (Role::Admin, none),
        ("get", "/api/v1/workflows") => (Role::Viewer, none),
        ("post", "/api/v1/workflows") => {
            (Role::Admin, json!({ "workflow_type": "audit_log.export" }))
        }
        ("get", "/api/v1/workflows/{id}") => (Role::Viewer, none),
        ("post", "/api/v1/workflows/{id}/cancel") => (Role::Admin, none),
        ("post", "/api/v1/workflows/{id}/retry") => (Role::Admin, none),
        ("post", "/api/v1/workflows/{id}/signal") => {
            (Role::Admin, json!({ "name": "go", "payload": 1 }))
        }
        ("get", "/api/v1/agent-templates") => (Role::Viewer, none),
        ("get", "/api/v1/agents") => (Role::Viewer, none),
        // The second allowed role to create it finds the name taken (409).
        ("post", "/api/v1/agents") => (Role::Admin, json!({ "template": "blog-outliner" })),
        ("get", "/api/v1/agents/{id}") => (Role::Viewer, none),
        ("put", "/api/v1/agents/{id}") => (Role::Member, json!({ "name": "Renamed" })),
        ("delete", "/api/v1/agents/{id}") => (Role::Admin, none),
        ("get", "/api/v1/agents/{id}/config") => (Role::Viewer, none),
        ("put", "/api/v1/agents/{id}/config") => (
            Role::Member,
            json!({ "system_prompt": "You help.", "temperature": 0.5, "max_tokens": 100,
                    "provider": "openai", "model": "gpt-4o-mini" }),
        ),
        ("post", "/api/v1/agents/{id}/chat") => (Role::Viewer, json!({ "message": "hi" })),
        ("get", "/api/v1/conversations") => (Role::Viewer, none),
        ("get", "/api/v1/usage") => (Role::Admin, none),
        ("get", "/api/v1/usage/budget") => (Role::Admin, none),
        ("put", "/api/v1/usage/budget") => (Role::Admin, json!({ "monthly_tokens": 1000000 })),
        ("get", "/api/v1/conversations/{id}") => (Role::Viewer, none),
        ("delete", "/api/v1/conversations/{id}") => (Role::Viewer, none),
        ("post", "/api/v1/conversations/{id}/approvals/{approval_id}/approve") => {
            (Role::Viewer, none)
        }
        ("post", "/api/v1/conversations/{id}/approvals/{approval_id}/reject") => {
            (Role::Viewer, none)
        }
        ("get", "/api/v1/connectors") => (Role::Viewer, none),
        ("get", "/api/v1/connectors/{id}") => (Role::Viewer, none),
        ("post", "/api/v1/connectors/{id}/connect") => (Role::Admin, json!({})),
        ("delete", "/api/v1/connectors/{id}/connect") => (Role::Admin, none),
        ("put", "/api/v1/connectors/{id}/schedule") => {
            (Role::Admin, json!({ "interval_minutes": null }))
        }
        ("post", "/api/v1/connectors/{id}/sync/{resource}") => (Role::Member, none),
        ("get", "/api/v1/connectors/{id}/data/{resource}") => (Role::Viewer, none),
        ("post", "/api/v1/connectors/{id}/data/{resource}") => {
            (Role::Member, json!({ "title": "x" }))
        }
        ("get", "/api/v1/connectors/{id}/data/{resource}/{external_id}") => (Role::Viewer, none),
        ("put", "/api/v1/connectors/{id}/data/{resource}/{external_id}") => {
            (Role::Member, json!({ "title": "x" }))
        }
        ("delete", "/api/v1/connectors/{id}/data/{resource}/{external_id}") => (Role::Member, none),
        _ => return None,
    })
}

/// The provider key the BYOK operations store (the simulator accepts it).
const RBAC_KEY: &str = "sk-or-v1-rbac-matrix-0000";

/// Operations anyone may call.
const PUBLIC: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("post", "/auth/register"),
    ("post", "/auth/register/confirm"),
    ("post", "/auth/login"),
    ("post", "/auth/invitations/accept"),
];

/// Operations of the OpenAI-compatible gateway: no role reaches them, only
/// an API token with the `gateway` scope (tests/gateway.rs).
const GATEWAY: &[(&str, &str)] = &[
    ("post", "/v1/chat/completions"),
    ("post", "/v1/embeddings"),
    ("get", "/v1/models"),
];

const ROLES: [Role; 4] = [Role::Viewer, Role::Member, Role::Admin, Role::Owner];

async fn every_operation_admits_exactly_the_roles_its_rule_names(db: Db) -> Result<()> {
    // One sign-in per check, all from 127.0.0.1: the per-address throttle is
    // not what this test is about.
    let config = app::Settings {
        login_attempts_per_minute: 10_000,
        ..Default::default()
    };
    let app = TestApp::spawn_with(testkit::TestDb::create(db).await?, config).await?;
    let acme = app.tenant("Acme").await?;
    app.llm.accept(RBAC_KEY);
    for role in ROLES {
        app.member(acme.id, &format!("{role}@acme.io"), role)
            .await?;
    }
    let doc: Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await?
        .json()
        .await?;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            if !secured {
                if !PUBLIC.contains(&(method.as_str(), path.as_str())) {
                    bail!("{method} {path} has no security and is not in the public list");
                }
                continue;
            }
            if GATEWAY.contains(&(method.as_str(), path.as_str())) {
                for role in ROLES {
                    let session = app
                        .member_session(acme.id, &format!("{role}@acme.io"))
                        .await?;
                    let m = Method::from_bytes(method.to_uppercase().as_bytes())?;
                    let res = app
                        .request(m, path, &session)
                        .json(&json!({}))
                        .send()
                        .await?;
                    assert_eq!(
                        res.status(),
                        StatusCode::FORBIDDEN,
                        "{role} {method} {path}"
                    );
                    let p: Value = res.json().await?;
                    assert!(
                        p["detail"].as_str().unwrap().contains("`gateway` scope"),
                        "{p}"
                    );
                    checked += 1;
                }
                continue;
            }
            let Some((least, body)) = rule(method, path) else {
                bail!("{method} {path} has no RBAC rule: add one to tests/rbac.rs");
            };
            let url = path
                .replace("{id}", &uuid::Uuid::now_v7().to_string())
                .replace("{user_id}", &uuid::Uuid::now_v7().to_string())
                .replace("{approval_id}", &uuid::Uuid::now_v7().to_string())
                .replace("{service}", "openrouter")
                .replace("{resource}", "posts")
                .replace("{external_id}", "1");
            for role in ROLES {
                let session = app
                    .member_session(acme.id, &format!("{role}@acme.io"))
                    .await?;
                let mut req = app.request(
                    Method::from_bytes(method.to_uppercase().as_bytes())?,
                    &url,
                    &session,
                );
                if !body.is_null() {
                    req = req.json(&body);
                }
                let res = req.send().await?;
                let status = res.status();
                if role >= least {
                    assert_ne!(
                        status,
                        StatusCode::FORBIDDEN,
                        "{role} may {method} {path}: {}",
                        res.text().await?
                    );
                    // The password change is sent a weak new password (see its rule).
                    let validated =
                        path == "/api/v1/me/password" && status == StatusCode::UNPROCESSABLE_ENTITY;
                    // The agent's rule creates the same template each time.
                    let taken = path == "/api/v1/agents" && status == StatusCode::CONFLICT;
                    assert!(
                        status.is_success()
                            || status == StatusCode::NOT_FOUND
                            || validated
                            || taken,
                        "{role} {method} {path}: {status}"
                    );
                } else {
                    assert_eq!(
                        status,
                        StatusCode::FORBIDDEN,
                        "{role} may not {method} {path}"
                    );
                    let p: Value = res.json().await?;
                    assert!(
                        p["detail"]
                            .as_str()
                            .unwrap()
                            .contains(&format!("`{least}` role")),
                        "the 403 names the role: {p}"
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 17 * 4, "checked {checked}");
    Ok(())
}

testkit::on_both_backends!(every_operation_admits_exactly_the_roles_its_rule_names);
