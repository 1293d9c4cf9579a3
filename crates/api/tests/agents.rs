//! AI agents over the API: the seven core agents, the catalogue, creating
//! from templates, configuration with validation and audit, the agent's
//! own edit permission, and isolation between tenants.

use anyhow::Result;
use domain::roles::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use testkit::{Db, TestApp};

const CORE: [&str; 7] = [
    "content-writer",
    "seo-analyst",
    "crm-assistant",
    "ecommerce-manager",
    "marketing-strategist",
    "analytics-reporter",
    "customer-support",
];

async fn agents(app: &TestApp, token: &str) -> Result<Vec<Value>> {
    let page = app.get_json("/api/v1/agents?limit=200", token).await?;
    Ok(page["items"].as_array().cloned().unwrap_or_default())
}

async fn create(app: &TestApp, token: &str, body: Value) -> Result<reqwest::Response> {
    Ok(app
        .request(Method::POST, "/api/v1/agents", token)
        .json(&body)
        .send()
        .await?)
}

fn config() -> Value {
    json!({
        "system_prompt": "You answer questions about our opening hours.",
        "instructions": ["Answer in one sentence."],
        "temperature": 0.4,
        "max_tokens": 256,
        "provider": "anthropic",
        "model": "claude-haiku-4-5",
        "tools": ["current_datetime"],
        "run_without_approval": false,
        "permissions": { "chat": "viewer", "edit": "admin" },
        "knowledge_bases": []
    })
}

async fn the_seven_core_agents_are_there_from_the_first_visit(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let first = agents(&app, &acme.token).await?;
    let mut templates: Vec<_> = first
        .iter()
        .map(|a| a["template"].as_str().unwrap().to_string())
        .collect();
    templates.sort();
    let mut core = CORE.map(String::from).to_vec();
    core.sort();
    assert_eq!(templates, core);
    assert!(first
        .iter()
        .all(|a| a["config"]["system_prompt"].as_str().unwrap().len() > 80));
    assert_eq!(agents(&app, &acme.token).await?.len(), 7, "seeded once");
    Ok(())
}

async fn a_deleted_core_agent_stays_deleted(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let id = agents(&app, &acme.token).await?[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let res = app
        .request(Method::DELETE, &format!("/api/v1/agents/{id}"), &acme.token)
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(agents(&app, &acme.token).await?.len(), 6);
    Ok(())
}

async fn the_catalogue_offers_templates_by_business_function(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let list = app.get_json("/api/v1/agent-templates", &acme.token).await?;
    let items = list["items"].as_array().unwrap();
    assert!(items.len() >= 37, "{}", items.len());
    let functions: std::collections::HashSet<_> = items
        .iter()
        .map(|t| t["function"].as_str().unwrap())
        .collect();
    assert!(functions.len() >= 8, "{functions:?}");
    Ok(())
}

async fn an_agent_made_from_a_template_takes_its_prompt_and_tools(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let res = create(&app, &acme.token, json!({ "template": "pricing-analyst" })).await?;
    assert_eq!(res.status(), StatusCode::CREATED);
    let agent: Value = res.json().await?;
    assert_eq!(agent["name"], "Pricing Analyst");
    assert_eq!(agent["template"], "pricing-analyst");
    assert_eq!(agent["config"]["tools"], json!(["calculator"]));
    assert_eq!(
        agent["config"]["permissions"],
        json!({ "chat": "member", "edit": "admin" })
    );
    Ok(())
}

async fn a_new_config_is_kept_and_audited_with_before_and_after(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let agent: Value = create(&app, &acme.token, json!({ "template": "faq-builder" }))
        .await?
        .json()
        .await?;
    let id = agent["id"].as_str().unwrap();
    let res = app
        .request(
            Method::PUT,
            &format!("/api/v1/agents/{id}/config"),
            &acme.token,
        )
        .json(&config())
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await?);
    let stored = app
        .get_json(&format!("/api/v1/agents/{id}/config"), &acme.token)
        .await?;
    assert_eq!(stored, config());
    let log = app
        .get_json(
            "/api/v1/audit-logs?action=agent.config_updated",
            &acme.token,
        )
        .await?;
    let entry = &log["items"][0];
    assert_eq!(entry["resource_id"], id);
    assert_eq!(entry["metadata"]["before"]["tools"], json!([]));
    assert_eq!(entry["metadata"]["after"]["model"], "claude-haiku-4-5");
    Ok(())
}

async fn a_bad_config_is_refused_naming_each_field_and_changes_nothing(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let agent: Value = create(&app, &acme.token, json!({ "template": "sop-writer" }))
        .await?
        .json()
        .await?;
    let id = agent["id"].as_str().unwrap();
    let mut bad = config();
    bad["temperature"] = json!(2.5);
    bad["tools"] = json!(["teleport"]);
    bad["max_tokens"] = json!(0);
    let res = app
        .request(
            Method::PUT,
            &format!("/api/v1/agents/{id}/config"),
            &acme.token,
        )
        .json(&bad)
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let p: Value = res.json().await?;
    let fields: Vec<_> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["temperature", "max_tokens", "tools[0]"]);
    let stored = app
        .get_json(&format!("/api/v1/agents/{id}/config"), &acme.token)
        .await?;
    assert_eq!(stored, agent["config"], "nothing changed");
    Ok(())
}

async fn an_unknown_template_and_a_missing_config_are_refused(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let res = create(&app, &acme.token, json!({ "template": "astrologer" })).await?;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let p: Value = res.json().await?;
    assert_eq!(p["errors"][0]["field"], "template");
    let res = create(
        &app,
        &acme.token,
        json!({ "description": "no name, no config" }),
    )
    .await?;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    Ok(())
}

async fn a_name_in_use_is_a_conflict(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let res = create(
        &app,
        &acme.token,
        json!({ "name": "Helper", "config": config() }),
    )
    .await?;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = create(
        &app,
        &acme.token,
        json!({ "name": "Helper", "config": config() }),
    )
    .await?;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    Ok(())
}

async fn the_agents_own_edit_role_is_enforced(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let member = app.member(acme.id, "member@acme.io", Role::Member).await?;
    let agent: Value = create(&app, &acme.token, json!({ "template": "translator" }))
        .await?
        .json()
        .await?;
    let id = agent["id"].as_str().unwrap();
    let rename = |token: &str| {
        app.request(Method::PUT, &format!("/api/v1/agents/{id}"), token)
            .json(&json!({ "name": "Localizer" }))
            .send()
    };
    assert_eq!(
        rename(&member).await?.status(),
        StatusCode::FORBIDDEN,
        "edit is admin by default"
    );
    let mut open = agent["config"].clone();
    open["permissions"]["edit"] = json!("member");
    let res = app
        .request(
            Method::PUT,
            &format!("/api/v1/agents/{id}/config"),
            &acme.token,
        )
        .json(&open)
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(rename(&member).await?.status(), StatusCode::OK);
    let mut lock = open.clone();
    lock["permissions"]["edit"] = json!("owner");
    let res = app
        .request(Method::PUT, &format!("/api/v1/agents/{id}/config"), &member)
        .json(&lock)
        .send()
        .await?;
    assert_eq!(
        res.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "a member cannot hand it above themselves"
    );
    Ok(())
}

async fn another_tenants_agent_is_not_found(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let globex = app.tenant("Globex").await?;
    let agent: Value = create(&app, &acme.token, json!({ "template": "translator" }))
        .await?
        .json()
        .await?;
    let id = agent["id"].as_str().unwrap();
    for (method, path) in [
        (Method::GET, format!("/api/v1/agents/{id}")),
        (Method::GET, format!("/api/v1/agents/{id}/config")),
        (Method::DELETE, format!("/api/v1/agents/{id}")),
    ] {
        let res = app.request(method, &path, &globex.token).send().await?;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let res = app
        .request(
            Method::PUT,
            &format!("/api/v1/agents/{id}/config"),
            &globex.token,
        )
        .json(&config())
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(agents(&app, &globex.token)
        .await?
        .iter()
        .all(|a| a["id"] != id));
    assert_eq!(
        app.get_json(&format!("/api/v1/agents/{id}"), &acme.token)
            .await?["name"],
        "Translator & Localizer"
    );
    Ok(())
}

async fn a_tenant_token_stands_for_the_role_its_widest_scope_matches(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let token = |scope: &'static str| {
        let app = &app;
        let owner = acme.token.clone();
        async move {
            let issued: Value = app
                .request(Method::POST, "/api/v1/tokens", &owner)
                .json(&json!({ "name": format!("ci {scope}"), "scopes": [scope] }))
                .send()
                .await?
                .json()
                .await?;
            anyhow::Ok(issued["secret"].as_str().unwrap().to_string())
        }
    };
    let (admin, write) = (token("admin").await?, token("write").await?);
    // A core agent: editing it needs the admin role.
    let id = agents(&app, &acme.token).await?[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let rename = |token: String, name: &'static str| {
        app.request(Method::PUT, &format!("/api/v1/agents/{id}"), &token)
            .json(&json!({ "name": name }))
            .send()
    };
    assert_eq!(
        rename(write, "Writer").await?.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(rename(admin, "Admin's").await?.status(), StatusCode::OK);
    Ok(())
}

testkit::on_both_backends!(
    the_seven_core_agents_are_there_from_the_first_visit,
    a_deleted_core_agent_stays_deleted,
    the_catalogue_offers_templates_by_business_function,
    an_agent_made_from_a_template_takes_its_prompt_and_tools,
    a_new_config_is_kept_and_audited_with_before_and_after,
    a_bad_config_is_refused_naming_each_field_and_changes_nothing,
    an_unknown_template_and_a_missing_config_are_refused,
    a_name_in_use_is_a_conflict,
    the_agents_own_edit_role_is_enforced,
    a_tenant_token_stands_for_the_role_its_widest_scope_matches,
    another_tenants_agent_is_not_found,
);
