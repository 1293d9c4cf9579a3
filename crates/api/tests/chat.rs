//! Chatting with agents over the API against the provider simulator: the
//! answer whole and streamed, tools, conversations, keys, errors, and the
//! walls between members and tenants.

use anyhow::{Context, Result};
use domain::roles::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use testkit::sse::events;
use testkit::{Db, TestApp};

const KEY: &str = "sk-proj-chat-tests-000000000001";

/// An agent from `template` on `provider`, returned with its id.
async fn agent(
    app: &TestApp,
    token: &str,
    template: &str,
    provider: &str,
    model: &str,
) -> Result<String> {
    let created: Value = app
        .request(Method::POST, "/api/v1/agents", token)
        .json(&json!({ "template": template }))
        .send()
        .await?
        .json()
        .await?;
    let id = created["id"].as_str().context("an agent")?.to_string();
    let mut config = created["config"].clone();
    config["provider"] = json!(provider);
    config["model"] = json!(model);
    let res = app
        .request(Method::PUT, &format!("/api/v1/agents/{id}/config"), token)
        .json(&config)
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    Ok(id)
}

/// Acme with an OpenAI key, and an agent from `template` on gpt-4o-mini.
async fn ready(app: &TestApp, template: &str) -> Result<(testkit::TestTenant, String)> {
    let acme = app.tenant("Acme").await?;
    app.add_llm_key(&acme.token, "openai", KEY).await?;
    let id = agent(app, &acme.token, template, "openai", "gpt-4o-mini").await?;
    Ok((acme, id))
}

async fn chat(app: &TestApp, token: &str, agent: &str, body: Value) -> Result<reqwest::Response> {
    Ok(app
        .request(Method::POST, &format!("/api/v1/agents/{agent}/chat"), token)
        .json(&body)
        .send()
        .await?)
}

async fn without_a_key_the_chat_says_where_to_add_one(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let id = agent(&app, &acme.token, "faq-builder", "openai", "gpt-4o-mini").await?;
    let res = chat(&app, &acme.token, &id, json!({ "message": "hello" })).await?;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let p: Value = res.json().await?;
    assert!(
        p["detail"].as_str().unwrap().contains("/ai-agents/byok"),
        "{p}"
    );
    Ok(())
}

async fn an_agent_answers_and_the_conversation_is_kept(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let (acme, id) = ready(&app, "faq-builder").await?;
    let first: Value = chat(&app, &acme.token, &id, json!({ "message": "hello there" }))
        .await?
        .json()
        .await?;
    assert_eq!(first["answer"], "You said: hello there");
    assert_eq!(first["output_tokens"], 4);
    let conversation = first["conversation_id"].as_str().unwrap();
    let second: Value = chat(
        &app,
        &acme.token,
        &id,
        json!({ "message": "and again", "conversation_id": conversation }),
    )
    .await?
    .json()
    .await?;
    assert_eq!(second["conversation_id"], conversation);
    let sent = app.llm.chat_requests().pop().unwrap().body;
    let roles: Vec<_> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].clone())
        .collect();
    assert_eq!(
        roles,
        [
            json!("system"),
            json!("user"),
            json!("assistant"),
            json!("user")
        ],
        "the history went along"
    );
    assert!(sent["messages"][0]["content"]
        .as_str()
        .unwrap()
        .starts_with("You write FAQ entries."));
    let detail = app
        .get_json(
            &format!("/api/v1/conversations/{conversation}"),
            &acme.token,
        )
        .await?;
    let kept: Vec<_> = detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kept, ["user", "assistant", "user", "assistant"]);
    assert_eq!(detail["messages"][1]["model"], "gpt-4o-mini");
    let list = app.get_json("/api/v1/conversations", &acme.token).await?;
    assert_eq!(list["items"][0]["title"], "hello there");
    Ok(())
}

async fn the_answer_streams_as_server_sent_events(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    app.add_llm_key(&acme.token, "anthropic", KEY).await?;
    let id = agent(
        &app,
        &acme.token,
        "faq-builder",
        "anthropic",
        "claude-haiku-4-5",
    )
    .await?;
    let res = app
        .request(
            Method::POST,
            &format!("/api/v1/agents/{id}/chat"),
            &acme.token,
        )
        .header("accept", "text/event-stream")
        .json(&json!({ "message": "stream me an answer" }))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()?
        .starts_with("text/event-stream"));
    let evs = events(&res.text().await?);
    assert_eq!(evs.first().map(|e| e.0.as_str()), Some("conversation"));
    let text: String = evs
        .iter()
        .filter(|e| e.0 == "delta")
        .map(|e| e.1["text"].as_str().unwrap())
        .collect();
    assert_eq!(text, "You said: stream me an answer");
    assert!(evs.iter().filter(|e| e.0 == "delta").count() > 1);
    let done = evs.last().unwrap();
    assert_eq!(done.0, "done");
    assert_eq!(done.1["answer"], "You said: stream me an answer");
    Ok(())
}

async fn a_tool_call_runs_and_its_result_goes_back_to_the_model(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let (acme, id) = ready(&app, "pricing-analyst").await?;
    let reply: Value = chat(
        &app,
        &acme.token,
        &id,
        json!({ "message": r#"call calculator {"expression":"6*7"}"# }),
    )
    .await?
    .json()
    .await?;
    assert_eq!(reply["answer"], "The tool said: 42", "{reply}");
    let roles: Vec<_> = reply["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["assistant", "tool", "assistant"]);
    assert_eq!(reply["messages"][0]["tool_calls"][0]["name"], "calculator");
    assert_eq!(reply["messages"][1]["content"], "42");
    let log = app
        .get_json("/api/v1/audit-logs?action=agent.tool_called", &acme.token)
        .await?;
    assert_eq!(log["items"][0]["metadata"]["tool"], "calculator");
    Ok(())
}

async fn provider_failures_come_back_as_clear_problems(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let (acme, id) = ready(&app, "faq-builder").await?;
    app.llm.reject(KEY);
    let res = chat(&app, &acme.token, &id, json!({ "message": "hi" })).await?;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let p: Value = res.json().await?;
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("refused the `openai` key"),
        "{p}"
    );
    assert!(!p["detail"].as_str().unwrap().contains(KEY));
    app.llm.accept(KEY);
    app.llm.rate_limit(KEY);
    let res = chat(&app, &acme.token, &id, json!({ "message": "hi" })).await?;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["retry-after"], "20");
    Ok(())
}

async fn a_client_that_leaves_stops_the_upstream_answer(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let (acme, id) = ready(&app, "faq-builder").await?;
    app.llm
        .pause_between_chunks(std::time::Duration::from_millis(200));
    let mut res = app
        .request(
            Method::POST,
            &format!("/api/v1/agents/{id}/chat"),
            &acme.token,
        )
        .header("accept", "text/event-stream")
        .json(&json!({ "message": "a long answer that the member will not wait for" }))
        .send()
        .await?;
    let mut seen = String::new();
    while !seen.contains("event: delta") {
        seen.push_str(&String::from_utf8_lossy(
            &res.chunk().await?.context("more")?,
        ));
    }
    drop(res);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert!(app.llm.stream_was_cut(), "the provider saw the request end");
    Ok(())
}

async fn members_and_tenants_see_only_their_own_conversations(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let globex = app.tenant("Globex").await?;
    app.add_llm_key(&acme.token, "openai", KEY).await?;
    let id = agent(&app, &acme.token, "faq-builder", "openai", "gpt-4o-mini").await?;
    let reply: Value = chat(&app, &acme.token, &id, json!({ "message": "private" }))
        .await?
        .json()
        .await?;
    let conversation = reply["conversation_id"].as_str().unwrap();
    let other = app.member(acme.id, "other@acme.io", Role::Member).await?;
    for token in [&other, &globex.token] {
        let path = format!("/api/v1/conversations/{conversation}");
        assert_eq!(app.get_status(&path, token).await?, StatusCode::NOT_FOUND);
        let res = app.request(Method::DELETE, &path, token).send().await?;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        let list = app.get_json("/api/v1/conversations", token).await?;
        assert!(list["items"].as_array().unwrap().is_empty());
    }
    // Another tenant cannot continue it nor reach the agent.
    let res = chat(
        &app,
        &globex.token,
        &id,
        json!({ "message": "hi", "conversation_id": conversation }),
    )
    .await?;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    Ok(())
}

async fn one_tenants_key_is_never_used_for_another(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let globex = app.tenant("Globex").await?;
    app.add_llm_key(&acme.token, "openai", "sk-acme-key-000000000000001")
        .await?;
    app.add_llm_key(&globex.token, "openai", "sk-globex-key-00000000000002")
        .await?;
    let a = agent(&app, &acme.token, "faq-builder", "openai", "gpt-4o-mini").await?;
    let g = agent(&app, &globex.token, "faq-builder", "openai", "gpt-4o-mini").await?;
    chat(&app, &globex.token, &g, json!({ "message": "from globex" })).await?;
    chat(&app, &acme.token, &a, json!({ "message": "from acme" })).await?;
    let sent = app.llm.chat_requests();
    let auth =
        |r: &testkit::llm_chat::Recorded| r.headers["authorization"].to_str().unwrap().to_string();
    assert_eq!(auth(&sent[0]), "Bearer sk-globex-key-00000000000002");
    assert_eq!(auth(&sent[1]), "Bearer sk-acme-key-000000000000001");
    Ok(())
}

async fn a_viewer_may_not_chat_with_an_agent_for_members(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let (acme, id) = ready(&app, "faq-builder").await?;
    let viewer = app.member(acme.id, "viewer@acme.io", Role::Viewer).await?;
    let res = chat(&app, &viewer, &id, json!({ "message": "hi" })).await?;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = chat(&app, &acme.token, &id, json!({ "message": "   " })).await?;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    Ok(())
}

async fn every_model_call_is_counted_and_priced_by_agent_model_and_day(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    let globex = app.tenant("Globex").await?;
    app.add_llm_key(&acme.token, "openai", KEY).await?;
    let id = agent(
        &app,
        &acme.token,
        "pricing-analyst",
        "openai",
        "gpt-4o-mini",
    )
    .await?;
    let reply: Value = chat(
        &app,
        &acme.token,
        &id,
        json!({ "message": r#"call calculator {"expression":"1+1"}"# }),
    )
    .await?
    .json()
    .await?;
    let by_model = app
        .get_json("/api/v1/usage?group_by=model", &acme.token)
        .await?;
    let row = &by_model["rows"][0];
    assert_eq!(row["key"], "openai/gpt-4o-mini");
    assert_eq!(row["calls"], 2, "the tool round is a second call");
    assert_eq!(row["input_tokens"], reply["input_tokens"]);
    assert_eq!(row["output_tokens"], reply["output_tokens"]);
    let input = row["input_tokens"].as_f64().unwrap();
    let output = row["output_tokens"].as_f64().unwrap();
    let expected = ((0.15 * input + 0.60 * output).round()) / 1e6;
    assert!(
        (row["cost_usd"].as_f64().unwrap() - expected).abs() < 1e-9,
        "{row}"
    );
    let by_agent = app
        .get_json("/api/v1/usage?group_by=agent", &acme.token)
        .await?;
    assert_eq!(by_agent["rows"][0]["key"], id.as_str());
    let by_day = app.get_json("/api/v1/usage", &acme.token).await?;
    assert_eq!(
        by_day["rows"][0]["key"],
        chrono::Utc::now().format("%Y-%m-%d").to_string()
    );
    assert_eq!(by_day["total"]["calls"], 2);
    let theirs = app.get_json("/api/v1/usage", &globex.token).await?;
    assert_eq!(
        theirs["total"]["calls"], 0,
        "another tenant's calls are not counted"
    );
    let res = app
        .get("/api/v1/usage?group_by=planet", &acme.token)
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    Ok(())
}

async fn a_model_the_provider_does_not_offer_is_refused(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let acme = app.tenant("Acme").await?;
    app.add_llm_key(&acme.token, "openai", KEY).await?;
    let id = agent(&app, &acme.token, "faq-builder", "openai", "gpt-4o").await?;
    let mut config = app
        .get_json(&format!("/api/v1/agents/{id}/config"), &acme.token)
        .await?;
    config["model"] = json!("gpt-17-ultra");
    let res = app
        .request(
            Method::PUT,
            &format!("/api/v1/agents/{id}/config"),
            &acme.token,
        )
        .json(&config)
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let p: Value = res.json().await?;
    assert_eq!(p["errors"][0]["field"], "model");
    assert!(
        p["detail"].as_str().unwrap().contains("gpt-4o-mini"),
        "it names what is offered: {p}"
    );
    Ok(())
}

async fn thirty_two_concurrent_messages_never_spend_past_the_budget(db: Db) -> Result<()> {
    budget_holds_under_32_concurrent_messages(&TestApp::spawn(db).await?).await
}

async fn with_the_budget_in_redis_32_concurrent_messages_never_spend_past_it(db: Db) -> Result<()> {
    budget_holds_under_32_concurrent_messages(&TestApp::spawn_with_redis(db).await?).await
}

async fn budget_holds_under_32_concurrent_messages(app: &TestApp) -> Result<()> {
    let (acme, id) = ready(app, "faq-builder").await?;
    // Each message may take its prompt (~100 tokens) and 1,024 more: the
    // budget holds two such at a time, and far fewer than 32 in all.
    let limit = 2_500;
    let res = app
        .request(Method::PUT, "/api/v1/usage/budget", &acme.token)
        .json(&json!({ "monthly_tokens": limit }))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    let sends = (0..32).map(|i| {
        chat(
            app,
            &acme.token,
            &id,
            json!({ "message": format!("message {i}") }),
        )
    });
    let answers = futures::future::join_all(sends).await;
    let mut ok = 0;
    let mut refused = 0;
    for a in answers {
        let res = a?;
        match res.status() {
            StatusCode::OK => ok += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                refused += 1;
                let p: Value = res.json().await?;
                assert!(
                    p["detail"]
                        .as_str()
                        .unwrap()
                        .contains("monthly model budget"),
                    "{p}"
                );
            }
            other => panic!("{other}: {}", res.text().await?),
        }
    }
    assert!(ok >= 1 && refused >= 1, "{ok} answered, {refused} refused");
    let used = app.get_json("/api/v1/usage", &acme.token).await?;
    let spent = used["total"]["input_tokens"].as_i64().unwrap()
        + used["total"]["output_tokens"].as_i64().unwrap();
    assert!(spent <= limit, "spent {spent} of {limit}");
    assert_eq!(
        used["total"]["calls"], ok,
        "every answered message is one call"
    );
    let budget = app.get_json("/api/v1/usage/budget", &acme.token).await?;
    assert_eq!(budget["used_tokens"], spent);
    assert_eq!(budget["reserved_tokens"], 0, "every hold was settled");
    let globex = app.tenant("Globex").await?;
    let theirs = app.get_json("/api/v1/usage/budget", &globex.token).await?;
    assert_eq!(
        theirs["monthly_tokens"],
        Value::Null,
        "a budget is one tenant's"
    );
    assert_eq!(theirs["used_tokens"], 0);
    Ok(())
}

testkit::on_both_backends!(
    thirty_two_concurrent_messages_never_spend_past_the_budget,
    with_the_budget_in_redis_32_concurrent_messages_never_spend_past_it,
    a_model_the_provider_does_not_offer_is_refused,
    every_model_call_is_counted_and_priced_by_agent_model_and_day,
    without_a_key_the_chat_says_where_to_add_one,
    an_agent_answers_and_the_conversation_is_kept,
    the_answer_streams_as_server_sent_events,
    a_tool_call_runs_and_its_result_goes_back_to_the_model,
    provider_failures_come_back_as_clear_problems,
    a_client_that_leaves_stops_the_upstream_answer,
    members_and_tenants_see_only_their_own_conversations,
    one_tenants_key_is_never_used_for_another,
    a_viewer_may_not_chat_with_an_agent_for_members,
);
