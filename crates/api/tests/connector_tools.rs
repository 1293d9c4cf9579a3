//! Connector actions as agent tools, against the real WordPress: offered
//! only while the workspace has the connection; reading runs at once;
//! writing waits for the member's approval, then the post exists in
//! WordPress.

use anyhow::{Context, Result};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use testkit::wordpress::WordPressSite;
use testkit::{Db, TestApp, TestTenant};

const KEY: &str = "sk-proj-connector-tools-000001";

/// Acme with an OpenAI key and a content writer (made from its template,
/// with the WordPress tools it has by default).
async fn writer(app: &TestApp) -> Result<(TestTenant, String)> {
    let acme = app.tenant("Acme").await?;
    app.add_llm_key(&acme.token, "openai", KEY).await?;
    let created: Value = app
        .request(Method::POST, "/api/v1/agents", &acme.token)
        .json(&json!({ "template": "content-writer" }))
        .send()
        .await?
        .json()
        .await?;
    let tools = created["config"]["tools"].to_string();
    assert!(
        tools.contains("wordpress_create_post"),
        "by default: {tools}"
    );
    Ok((
        acme,
        created["id"].as_str().context("an agent")?.to_string(),
    ))
}

async fn connect(app: &TestApp, t: &TestTenant) -> Result<()> {
    let res = app
        .request(
            Method::POST,
            "/api/v1/connectors/wordpress/connect",
            &t.token,
        )
        .json(&WordPressSite::from_env().connect_fields())
        .send()
        .await?;
    anyhow::ensure!(res.status() == StatusCode::OK, "{}", res.text().await?);
    Ok(())
}

async fn say(app: &TestApp, t: &TestTenant, agent: &str, message: &str) -> Result<Value> {
    Ok(app
        .request(
            Method::POST,
            &format!("/api/v1/agents/{agent}/chat"),
            &t.token,
        )
        .json(&json!({ "message": message }))
        .send()
        .await?
        .json()
        .await?)
}

async fn the_content_writer_drafts_a_wordpress_post_once_a_member_approves(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let (acme, agent) = writer(&app).await?;
    connect(&app, &acme).await?;
    let site = WordPressSite::from_env();
    let tag = uuid::Uuid::now_v7().simple().to_string();
    let call = format!(
        r#"call wordpress_create_post {{"title":"Agent draft {tag}","content":"<p>Written by an agent.</p>"}}"#
    );
    let reply = say(&app, &acme, &agent, &call).await?;
    assert_eq!(
        reply["pending_approvals"][0]["tool"], "wordpress_create_post",
        "{reply}"
    );
    let before: Vec<Value> = site
        .get(&format!("posts?search={tag}&status=any&context=edit"))
        .await?
        .json()
        .await?;
    assert!(before.is_empty(), "nothing is written before the approval");
    let path = format!(
        "/api/v1/conversations/{}/approvals/{}/approve",
        reply["conversation_id"].as_str().unwrap(),
        reply["pending_approvals"][0]["id"].as_str().unwrap()
    );
    let res = app.request(Method::POST, &path, &acme.token).send().await?;
    assert_eq!(res.status(), StatusCode::OK);
    let after: Value = res.json().await?;
    assert!(
        after["answer"]
            .as_str()
            .unwrap()
            .contains("\"result\":\"created\""),
        "{after}"
    );
    let there: Vec<Value> = site
        .get(&format!("posts?search={tag}&status=any&context=edit"))
        .await?
        .json()
        .await?;
    assert_eq!(there.len(), 1, "the post exists in WordPress");
    assert_eq!(there[0]["status"], "draft", "a draft unless told otherwise");
    assert_eq!(there[0]["content"]["raw"], "<p>Written by an agent.</p>");
    let id = there[0]["id"].to_string();
    let local = app
        .get_json(
            &format!("/api/v1/connectors/wordpress/data/posts/{id}"),
            &acme.token,
        )
        .await?;
    assert_eq!(
        local["title"],
        format!("Agent draft {tag}"),
        "and in the local copy"
    );
    site.delete("posts", &id).await?;
    Ok(())
}

async fn listing_posts_runs_at_once_from_the_local_copy(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let (acme, agent) = writer(&app).await?;
    connect(&app, &acme).await?;
    let res = app
        .request(
            Method::POST,
            "/api/v1/connectors/wordpress/data/posts",
            &acme.token,
        )
        .json(&json!({"title": "Listed for the agent", "status": "draft"}))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::CREATED);
    let made: Value = res.json().await?;
    let reply = say(
        &app,
        &acme,
        &agent,
        r#"call wordpress_list_posts {"search":"listed for the agent"}"#,
    )
    .await?;
    assert_eq!(
        reply["pending_approvals"],
        json!([]),
        "reading needs no approval"
    );
    assert!(
        reply["answer"]
            .as_str()
            .unwrap()
            .contains("Listed for the agent"),
        "{reply}"
    );
    WordPressSite::from_env()
        .delete("posts", made["external_id"].as_str().unwrap())
        .await?;
    Ok(())
}

async fn wordpress_tools_are_not_offered_without_the_connection(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let (acme, agent) = writer(&app).await?;
    let reply = say(&app, &acme, &agent, r#"call wordpress_list_posts {}"#).await?;
    assert!(
        reply["answer"].as_str().unwrap().starts_with("You said:"),
        "{reply}"
    );
    let offered = app.llm.chat_requests().last().unwrap().body["tools"].to_string();
    assert!(!offered.contains("wordpress"), "{offered}");
    assert!(offered.contains("current_datetime"));
    Ok(())
}

async fn a_post_the_tool_cannot_make_comes_back_to_the_model_with_wordpress_reason(
    db: Db,
) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let (acme, agent) = writer(&app).await?;
    connect(&app, &acme).await?;
    let config: Value = app
        .get_json(&format!("/api/v1/agents/{agent}/config"), &acme.token)
        .await?;
    let mut config = config;
    config["run_without_approval"] = json!(true);
    let res = app
        .request(
            Method::PUT,
            &format!("/api/v1/agents/{agent}/config"),
            &acme.token,
        )
        .json(&config)
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await?);
    let reply = say(
        &app,
        &acme,
        &agent,
        r#"call wordpress_update_post {"id":"999999999","title":"Nowhere"}"#,
    )
    .await?;
    let answer = reply["answer"].as_str().unwrap();
    assert!(answer.contains("error:"), "{answer}");
    assert!(answer.contains("WordPress"), "{answer}");
    Ok(())
}

testkit::on_both_backends!(
    the_content_writer_drafts_a_wordpress_post_once_a_member_approves,
    listing_posts_runs_at_once_from_the_local_copy,
    wordpress_tools_are_not_offered_without_the_connection,
    a_post_the_tool_cannot_make_comes_back_to_the_model_with_wordpress_reason,
);
