//! Agents and the gateway on the platform's own model: a real language
//! model (Qwen2.5-Coder-0.5B under llama.cpp's server, on this machine, no
//! key, no network) answers, streamed, and a tool call makes the round trip.

use anyhow::{Context, Result};
use domain::tokens::Scope;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use testkit::sse::events;
use testkit::{Db, TestApp};

/// An agent on the local model with the calculator, answering greedily.
async fn local_agent(app: &TestApp, token: &str) -> Result<String> {
    let created: Value = app
        .request(Method::POST, "/api/v1/agents", token)
        .json(&json!({ "template": "pricing-analyst" }))
        .send()
        .await?
        .json()
        .await?;
    let id = created["id"].as_str().context("an agent")?.to_string();
    let mut config = created["config"].clone();
    config["provider"] = json!("local");
    config["model"] = json!(testkit::llm::local_model());
    config["system_prompt"] = json!("You are a precise assistant. Use tools when they help.");
    config["instructions"] = json!([]);
    config["tools"] = json!(["calculator"]);
    config["temperature"] = json!(0.0);
    config["max_tokens"] = json!(96);
    let res = app
        .request(Method::PUT, &format!("/api/v1/agents/{id}/config"), token)
        .json(&config)
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await?);
    Ok(id)
}

async fn an_agent_on_the_local_model_calls_a_tool_and_answers_streamed(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let id = local_agent(&app, &acme.token).await?;
    let res = app
        .request(
            Method::POST,
            &format!("/api/v1/agents/{id}/chat"),
            &acme.token,
        )
        .header("accept", "text/event-stream")
        .json(&json!({ "message": "What is 23 times 19? Use the calculator." }))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    let evs = events(&res.text().await?);
    let call = evs
        .iter()
        .find(|e| e.0 == "tool_call")
        .context("a tool call")?;
    assert_eq!(call.1["name"], "calculator", "{evs:?}");
    let result = evs
        .iter()
        .find(|e| e.0 == "tool_result")
        .context("its result")?;
    assert_eq!(result.1["result"], "437", "{evs:?}");
    let deltas = evs.iter().filter(|e| e.0 == "delta").count();
    let done = evs.iter().find(|e| e.0 == "done").context("the end")?;
    let answer = done.1["answer"].as_str().unwrap_or_default();
    assert!(
        answer.contains("437"),
        "the model used the tool's result: {evs:?}"
    );
    assert!(deltas > 1, "the answer came in pieces: {evs:?}");
    Ok(())
}

async fn the_gateway_serves_the_local_model_without_a_key(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let gateway = app.token_for(acme.id, &[Scope::Gateway]).await?;
    let model = format!("local/{}", testkit::llm::local_model());
    let list = app.get_json("/v1/models", &gateway).await?;
    assert!(
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == model.as_str()),
        "{list}"
    );
    let res = app
        .request(Method::POST, "/v1/chat/completions", &gateway)
        .json(
            &json!({ "model": model, "temperature": 0, "max_tokens": 16, "stream": true,
            "messages": [{ "role": "user", "content": "Say hello." }] }),
        )
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await?;
    assert!(body.trim_end().ends_with("data: [DONE]"), "{body}");
    let text: String = body
        .split("\n\n")
        .filter_map(|f| f.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    assert!(!text.trim().is_empty(), "{body}");
    Ok(())
}

testkit::on_both_backends!(
    an_agent_on_the_local_model_calls_a_tool_and_answers_streamed,
    the_gateway_serves_the_local_model_without_a_key,
);
