//! Tool calls that change something outside the platform wait for the
//! member: approved, the tool runs once and the agent carries on; rejected,
//! it never runs; the wait survives a restart; an agent may be configured
//! to act without asking; and only the conversation's member decides.

use anyhow::{Context, Result};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use testkit::{Db, TestApp};

const KEY: &str = "sk-proj-approval-tests-0000001";
const SEND: &str =
    r#"call send_email {"to":"buyer@example.com","subject":"Your quote","body":"It is 42."}"#;

/// Acme with an OpenAI key and an agent that may send email.
async fn ready(app: &TestApp, without_asking: bool) -> Result<(testkit::TestTenant, String)> {
    let acme = app.tenant("Acme").await?;
    app.add_llm_key(&acme.token, "openai", KEY).await?;
    let created: Value = app
        .request(Method::POST, "/api/v1/agents", &acme.token)
        .json(&json!({ "template": "customer-support" }))
        .send()
        .await?
        .json()
        .await?;
    let id = created["id"].as_str().context("an agent")?.to_string();
    let mut config = created["config"].clone();
    config["tools"] = json!(["send_email"]);
    config["run_without_approval"] = json!(without_asking);
    let res = app
        .request(
            Method::PUT,
            &format!("/api/v1/agents/{id}/config"),
            &acme.token,
        )
        .json(&config)
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await?);
    Ok((acme, id))
}

async fn say(app: &TestApp, token: &str, agent: &str, body: Value) -> Result<reqwest::Response> {
    Ok(app
        .request(Method::POST, &format!("/api/v1/agents/{agent}/chat"), token)
        .json(&body)
        .send()
        .await?)
}

async fn decide(
    app: &TestApp,
    token: &str,
    reply: &Value,
    verb: &str,
) -> Result<reqwest::Response> {
    let path = format!(
        "/api/v1/conversations/{}/approvals/{}/{verb}",
        reply["conversation_id"].as_str().unwrap(),
        reply["pending_approvals"][0]["id"].as_str().unwrap()
    );
    Ok(app.request(Method::POST, &path, token).send().await?)
}

async fn an_email_waits_for_approval_and_is_sent_once_approved(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let (acme, agent) = ready(&app, false).await?;
    let reply: Value = say(&app, &acme.token, &agent, json!({ "message": SEND }))
        .await?
        .json()
        .await?;
    assert_eq!(
        reply["pending_approvals"][0]["tool"], "send_email",
        "{reply}"
    );
    assert_eq!(reply["pending_approvals"][0]["status"], "pending");
    assert!(
        app.outbox.sent().is_empty(),
        "nothing is sent before the approval"
    );
    let more = json!({ "message": "hello?", "conversation_id": reply["conversation_id"] });
    let res = say(&app, &acme.token, &agent, more).await?;
    assert_eq!(
        res.status(),
        StatusCode::CONFLICT,
        "the conversation waits for the decision"
    );
    let res = decide(&app, &acme.token, &reply, "approve").await?;
    assert_eq!(res.status(), StatusCode::OK);
    let after: Value = res.json().await?;
    assert_eq!(
        after["answer"], "The tool said: sent to buyer@example.com",
        "{after}"
    );
    let sent = app.outbox.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].subject, "Your quote");
    let again = decide(&app, &acme.token, &reply, "approve").await?;
    assert_eq!(again.status(), StatusCode::CONFLICT, "decided once");
    assert_eq!(app.outbox.sent().len(), 1, "and run once");
    let log = app
        .get_json("/api/v1/audit-logs?action=agent.tool_approved", &acme.token)
        .await?;
    assert_eq!(log["items"][0]["metadata"]["tool"], "send_email");
    Ok(())
}

async fn a_rejected_call_never_runs_and_the_model_is_told(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let (acme, agent) = ready(&app, false).await?;
    let reply: Value = say(&app, &acme.token, &agent, json!({ "message": SEND }))
        .await?
        .json()
        .await?;
    let after: Value = decide(&app, &acme.token, &reply, "reject")
        .await?
        .json()
        .await?;
    assert!(
        after["answer"]
            .as_str()
            .unwrap()
            .contains("rejected this call"),
        "{after}"
    );
    assert!(app.outbox.sent().is_empty());
    Ok(())
}

async fn the_wait_survives_a_restart(db: Db) -> Result<()> {
    let mut app = TestApp::spawn(db).await?;
    let (acme, agent) = ready(&app, false).await?;
    let reply: Value = say(&app, &acme.token, &agent, json!({ "message": SEND }))
        .await?
        .json()
        .await?;
    let restarted = app.restart().await?;
    restarted.llm.accept(KEY);
    let conversation = restarted
        .get_json(
            &format!(
                "/api/v1/conversations/{}",
                reply["conversation_id"].as_str().unwrap()
            ),
            &acme.token,
        )
        .await?;
    assert_eq!(
        conversation["approvals"][0]["status"], "pending",
        "{conversation}"
    );
    let res = decide(&restarted, &acme.token, &reply, "approve").await?;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(restarted.outbox.sent().len(), 1, "sent by the new instance");
    Ok(())
}

async fn an_agent_allowed_to_act_without_asking_sends_at_once(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let (acme, agent) = ready(&app, true).await?;
    let reply: Value = say(&app, &acme.token, &agent, json!({ "message": SEND }))
        .await?
        .json()
        .await?;
    assert_eq!(reply["pending_approvals"], json!([]), "{reply}");
    assert_eq!(reply["answer"], "The tool said: sent to buyer@example.com");
    assert_eq!(app.outbox.sent().len(), 1);
    Ok(())
}

async fn only_the_conversations_member_decides(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let (acme, agent) = ready(&app, false).await?;
    let reply: Value = say(&app, &acme.token, &agent, json!({ "message": SEND }))
        .await?
        .json()
        .await?;
    let colleague = app
        .member(acme.id, "sam@acme.io", domain::roles::Role::Admin)
        .await?;
    let res = decide(&app, &colleague, &reply, "approve").await?;
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "another member's conversation"
    );
    let globex = app.tenant("Globex").await?;
    let res = decide(&app, &globex.token, &reply, "approve").await?;
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "another tenant's conversation"
    );
    assert!(app.outbox.sent().is_empty());
    Ok(())
}

testkit::on_both_backends!(
    an_email_waits_for_approval_and_is_sent_once_approved,
    a_rejected_call_never_runs_and_the_model_is_told,
    the_wait_survives_a_restart,
    an_agent_allowed_to_act_without_asking_sends_at_once,
    only_the_conversations_member_decides,
);
