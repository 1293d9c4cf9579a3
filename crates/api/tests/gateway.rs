//! The OpenAI-compatible gateway against the provider simulator: who may
//! call it, routing by `provider/model` to the tenant's own key, answers
//! whole and streamed (relayed, or translated from Anthropic's), embeddings,
//! the model list, errors in both problem shapes, usage and budgets, and
//! the wall between tenants.

use anyhow::{Context, Result};
use domain::tokens::Scope;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;
use testkit::{Db, TestApp};

const OPENAI_KEY: &str = "sk-proj-gateway-tests-00000001";
const ANTHROPIC_KEY: &str = "sk-ant-api03-gateway-tests-0001";

/// Acme with an OpenAI key and a gateway token.
async fn ready(app: &TestApp) -> Result<(testkit::TestTenant, String)> {
    let acme = app.tenant("Acme").await?;
    app.add_llm_key(&acme.token, "openai", OPENAI_KEY).await?;
    let gateway = app.token_for(acme.id, &[Scope::Gateway]).await?;
    Ok((acme, gateway))
}

async fn complete(app: &TestApp, token: &str, body: Value) -> Result<reqwest::Response> {
    Ok(app
        .request(Method::POST, "/v1/chat/completions", token)
        .json(&body)
        .send()
        .await?)
}

fn hello(model: &str) -> Value {
    json!({ "model": model, "messages": [
        { "role": "system", "content": "You are terse." },
        { "role": "user", "content": "hello there" },
    ]})
}

/// The JSON payloads of a stream's `data:` lines, and whether it ended
/// with `[DONE]`.
fn chunks(body: &str) -> (Vec<Value>, bool) {
    let data: Vec<&str> = body
        .split("\n\n")
        .filter_map(|f| f.strip_prefix("data: "))
        .collect();
    let done = data.last() == Some(&"[DONE]");
    (
        data.iter()
            .filter_map(|d| serde_json::from_str(d).ok())
            .collect(),
        done,
    )
}

fn streamed_text(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect()
}

/// The usage report grouped by `group`, once it shows `calls` calls (the
/// gateway records off the hot path).
async fn usage_with(app: &TestApp, token: &str, group: &str, calls: i64) -> Result<Value> {
    for _ in 0..100 {
        let report = app
            .get_json(&format!("/api/v1/usage?group_by={group}"), token)
            .await?;
        if report["total"]["calls"] == calls {
            return Ok(report);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("the usage never showed {calls} calls")
}

async fn only_a_token_with_the_gateway_scope_may_call_it(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let (acme, gateway) = ready(&app).await?;
    let res = complete(&app, &acme.token, hello("openai/gpt-4o-mini")).await?;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let p: Value = res.json().await?;
    assert!(
        p["detail"].as_str().unwrap().contains("`gateway` scope"),
        "{p}"
    );
    assert_eq!(
        p["error"]["type"], "permission_error",
        "OpenAI's clients read `error`: {p}"
    );
    let elsewhere = app.get_status("/api/v1/agents", &gateway).await?;
    assert_eq!(
        elsewhere,
        StatusCode::FORBIDDEN,
        "a gateway token reads no tenant data"
    );
    Ok(())
}

async fn a_completion_goes_to_the_tenants_key_under_the_providers_model_name(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let (_, gateway) = ready(&app).await?;
    let res = complete(&app, &gateway, hello("openai/gpt-4o-mini")).await?;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await?;
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "You said: hello there"
    );
    let sent = app.llm.chat_requests().pop().context("a request")?;
    assert_eq!(sent.body["model"], "gpt-4o-mini");
    assert_eq!(
        sent.body["messages"][0]["content"], "You are terse.",
        "the rest goes as it came"
    );
    let auth = sent.headers["authorization"].to_str()?;
    assert_eq!(auth, format!("Bearer {OPENAI_KEY}"));
    Ok(())
}

async fn a_stream_is_relayed_with_the_usage_frame_only_when_asked_for(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let (_, gateway) = ready(&app).await?;
    let mut body = hello("openai/gpt-4o-mini");
    body["stream"] = json!(true);
    let res = complete(&app, &gateway, body.clone()).await?;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let (plain, done) = chunks(&res.text().await?);
    assert!(done, "the stream ends with [DONE]");
    assert_eq!(streamed_text(&plain), "You said: hello there");
    assert!(
        plain.iter().all(|c| c.get("usage").is_none()),
        "not asked for: {plain:?}"
    );
    let sent = app.llm.chat_requests().pop().context("a request")?;
    assert_eq!(
        sent.body["stream_options"]["include_usage"], true,
        "the gateway asks for it"
    );
    body["stream_options"] = json!({ "include_usage": true });
    let (with_usage, _) = chunks(&complete(&app, &gateway, body).await?.text().await?);
    let last = with_usage.last().context("chunks")?;
    assert_eq!(last["usage"]["prompt_tokens"], 5, "{last}");
    Ok(())
}

async fn anthropic_models_answer_in_openais_format_whole_and_streamed(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let (acme, gateway) = ready(&app).await?;
    app.add_llm_key(&acme.token, "anthropic", ANTHROPIC_KEY)
        .await?;
    let model = "anthropic/claude-3-5-haiku-latest";
    let whole: Value = complete(&app, &gateway, hello(model)).await?.json().await?;
    assert_eq!(whole["object"], "chat.completion", "{whole}");
    assert_eq!(whole["model"], model);
    assert_eq!(
        whole["choices"][0]["message"]["content"],
        "You said: hello there"
    );
    assert!(whole["usage"]["completion_tokens"].as_u64() > Some(0));
    let sent = app.llm.chat_requests().pop().context("a request")?;
    assert_eq!(sent.path, "/anthropic/v1/messages");
    assert_eq!(
        sent.body["system"], "You are terse.",
        "Anthropic's own system field"
    );
    let mut body = hello(model);
    body["stream"] = json!(true);
    let (streamed, done) = chunks(&complete(&app, &gateway, body).await?.text().await?);
    assert!(done);
    assert_eq!(streamed_text(&streamed), "You said: hello there");
    assert!(streamed
        .iter()
        .all(|c| c["object"] == "chat.completion.chunk"));
    Ok(())
}

async fn a_tool_call_comes_back_in_openais_shape_from_either_provider(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let (acme, gateway) = ready(&app).await?;
    app.add_llm_key(&acme.token, "anthropic", ANTHROPIC_KEY)
        .await?;
    for model in ["openai/gpt-4o-mini", "anthropic/claude-3-5-haiku-latest"] {
        let body = json!({ "model": model,
            "messages": [{ "role": "user", "content": "call lookup {\"sku\":\"A-1\"}" }],
            "tools": [{ "type": "function", "function": { "name": "lookup", "description": "Finds a product",
                "parameters": { "type": "object", "properties": { "sku": { "type": "string" } } } } }] });
        let answer: Value = complete(&app, &gateway, body.clone()).await?.json().await?;
        let call = &answer["choices"][0]["message"]["tool_calls"][0];
        assert_eq!(call["function"]["name"], "lookup", "{model}: {answer}");
        let args: Value = serde_json::from_str(call["function"]["arguments"].as_str().unwrap())?;
        assert_eq!(args["sku"], "A-1");
        assert_eq!(answer["choices"][0]["finish_reason"], "tool_calls");
        let mut body = body;
        body["messages"].as_array_mut().unwrap().extend([
            json!({ "role": "assistant", "content": null, "tool_calls": [call] }),
            json!({ "role": "tool", "tool_call_id": call["id"], "content": "in stock" }),
        ]);
        let after: Value = complete(&app, &gateway, body).await?.json().await?;
        assert_eq!(
            after["choices"][0]["message"]["content"], "The tool said: in stock",
            "{model}"
        );
    }
    Ok(())
}

async fn a_model_name_without_a_provider_or_a_key_gets_a_clear_problem(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let (_, gateway) = ready(&app).await?;
    let res = complete(&app, &gateway, hello("gpt-4o-mini")).await?;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let p: Value = res.json().await?;
    assert!(
        p["detail"].as_str().unwrap().contains("provider/model"),
        "{p}"
    );
    assert_eq!(p["error"]["param"], "model");
    let res = complete(&app, &gateway, hello("anthropic/claude-3-5-haiku-latest")).await?;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let p: Value = res.json().await?;
    assert!(
        p["detail"].as_str().unwrap().contains("/ai-agents/byok"),
        "{p}"
    );
    let res = app
        .request(Method::POST, "/v1/chat/completions", &gateway)
        .body("{not json")
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    Ok(())
}

async fn provider_failures_come_back_as_problems_in_both_shapes(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let (_, gateway) = ready(&app).await?;
    app.llm.reject(OPENAI_KEY);
    let res = complete(&app, &gateway, hello("openai/gpt-4o-mini")).await?;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let p: Value = res.json().await?;
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("replace it at /ai-agents/byok"),
        "{p}"
    );
    assert!(!p.to_string().contains(OPENAI_KEY), "the key never shows");
    app.llm.accept(OPENAI_KEY);
    app.llm.fail_next(OPENAI_KEY, 500, 2);
    let res = complete(&app, &gateway, hello("openai/gpt-4o-mini")).await?;
    assert_eq!(
        res.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "a 5xx is retried once, then reported"
    );
    app.llm.rate_limit(OPENAI_KEY);
    let res = complete(&app, &gateway, hello("openai/gpt-4o-mini")).await?;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    let p: Value = res.json().await?;
    assert_eq!(p["error"]["type"], "rate_limit_error", "{p}");
    Ok(())
}

async fn embeddings_are_relayed_and_anthropic_says_it_has_none(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let (acme, gateway) = ready(&app).await?;
    app.add_llm_key(&acme.token, "anthropic", ANTHROPIC_KEY)
        .await?;
    let embed = |model: &str| {
        app.request(Method::POST, "/v1/embeddings", &gateway)
            .json(&json!({ "model": model, "input": ["red shoes", "blue hat"] }))
            .send()
    };
    let res = embed("openai/text-embedding-3-small").await?;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await?;
    assert_eq!(body["data"].as_array().map(Vec::len), Some(2));
    let first: Vec<f32> = serde_json::from_value(body["data"][0]["embedding"].clone())?;
    assert_eq!(first, testkit::llm_chat::embedding_of("red shoes"));
    let res = embed("anthropic/claude-3-5-haiku-latest").await?;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    Ok(())
}

async fn the_model_list_names_each_model_with_its_provider(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let (acme, gateway) = ready(&app).await?;
    app.add_llm_key(&acme.token, "anthropic", ANTHROPIC_KEY)
        .await?;
    let list = app.get_json("/v1/models", &gateway).await?;
    assert_eq!(list["object"], "list");
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert!(ids.contains(&"openai/gpt-4o-mini"), "{ids:?}");
    assert!(
        ids.iter().any(|id| id.starts_with("anthropic/claude")),
        "{ids:?}"
    );
    Ok(())
}

async fn every_call_is_counted_by_token_and_model(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let (acme, gateway) = ready(&app).await?;
    let mut streamed = hello("openai/gpt-4o-mini");
    streamed["stream"] = json!(true);
    complete(&app, &gateway, hello("openai/gpt-4o-mini"))
        .await?
        .text()
        .await?;
    complete(&app, &gateway, streamed).await?.text().await?;
    let by_model = usage_with(&app, &acme.token, "model", 2).await?;
    assert_eq!(by_model["rows"][0]["key"], "openai/gpt-4o-mini");
    assert_eq!(
        by_model["total"]["input_tokens"], 10,
        "five words each: {by_model}"
    );
    let by_token = usage_with(&app, &acme.token, "token", 2).await?;
    assert_eq!(by_token["rows"].as_array().map(Vec::len), Some(1));
    assert_ne!(
        by_token["rows"][0]["key"], "",
        "counted against the gateway token"
    );
    Ok(())
}

async fn a_call_past_the_budget_is_refused_naming_it(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let (acme, gateway) = ready(&app).await?;
    let res = app
        .request(Method::PUT, "/api/v1/usage/budget", &acme.token)
        .json(&json!({ "monthly_tokens": 100 }))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    let mut small = hello("openai/gpt-4o-mini");
    small["max_tokens"] = json!(20);
    assert_eq!(
        complete(&app, &gateway, small).await?.status(),
        StatusCode::OK
    );
    let res = complete(&app, &gateway, hello("openai/gpt-4o-mini")).await?;
    assert_eq!(
        res.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "no max_tokens holds 4096"
    );
    let mut huge = hello("openai/gpt-4o-mini");
    huge["max_tokens"] = json!(u64::MAX);
    let res = complete(&app, &gateway, huge).await?;
    assert_eq!(
        res.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "a huge max_tokens does not fit"
    );
    let p: Value = res.json().await?;
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("monthly model budget"),
        "{p}"
    );
    usage_with(&app, &acme.token, "day", 1).await?;
    let budget = app.get_json("/api/v1/usage/budget", &acme.token).await?;
    assert_eq!(
        budget["reserved_tokens"], 0,
        "the hold was settled: {budget}"
    );
    Ok(())
}

/// Three requests a minute per token: the fourth of 8 concurrent requests
/// on one token is refused, naming the rate; another token is not.
async fn the_request_rate_holds_per_token(app: &TestApp) -> Result<()> {
    let (acme, gateway) = ready(app).await?;
    let res = app
        .request(Method::PUT, "/api/v1/usage/budget", &acme.token)
        .json(&json!({ "requests_per_minute": 3 }))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    let sends = (0..8).map(|_| complete(app, &gateway, hello("openai/gpt-4o-mini")));
    let mut ok = 0;
    for res in futures::future::join_all(sends).await {
        let res = res?;
        match res.status() {
            StatusCode::OK => ok += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(res.headers().contains_key("retry-after"));
                let p: Value = res.json().await?;
                assert!(
                    p["detail"]
                        .as_str()
                        .unwrap()
                        .contains("3 model requests a minute"),
                    "{p}"
                );
            }
            other => panic!("{other}: {}", res.text().await?),
        }
    }
    // Unless the minute turned during the burst, exactly three got through.
    assert!((3..=6).contains(&ok), "{ok} answered");
    let other = app.token_for(acme.id, &[Scope::Gateway]).await?;
    assert_eq!(
        complete(app, &other, hello("openai/gpt-4o-mini"))
            .await?
            .status(),
        StatusCode::OK
    );
    Ok(())
}

async fn a_tokens_request_rate_is_enforced_under_concurrency(db: Db) -> Result<()> {
    the_request_rate_holds_per_token(&TestApp::spawn(db).await?).await
}

async fn a_tokens_request_rate_is_enforced_in_redis_too(db: Db) -> Result<()> {
    the_request_rate_holds_per_token(&TestApp::spawn_with_redis(db).await?).await
}

async fn one_tenants_gateway_token_never_uses_anothers_key(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let (_, _) = ready(&app).await?;
    let globex = app.tenant("Globex").await?;
    let theirs = app.token_for(globex.id, &[Scope::Gateway]).await?;
    let res = complete(&app, &theirs, hello("openai/gpt-4o-mini")).await?;
    assert_eq!(
        res.status(),
        StatusCode::CONFLICT,
        "Globex has no OpenAI key of its own"
    );
    app.add_llm_key(&globex.token, "openai", "sk-proj-globex-gateway-0000001")
        .await?;
    assert_eq!(
        complete(&app, &theirs, hello("openai/gpt-4o-mini"))
            .await?
            .status(),
        StatusCode::OK
    );
    let sent = app.llm.chat_requests().pop().context("a request")?;
    assert_eq!(
        sent.headers["authorization"].to_str()?,
        "Bearer sk-proj-globex-gateway-0000001"
    );
    let report = usage_with(&app, &globex.token, "day", 1).await?;
    assert_eq!(report["total"]["calls"], 1, "Globex sees only its own call");
    Ok(())
}

/// `/v1` has its own, lighter middleware stack: what it answers by itself
/// (a wrong method, an unknown path, a body over the limit) is still a
/// problem carrying the request id.
async fn the_gateways_own_refusals_are_problems_with_a_request_id(db: Db) -> Result<()> {
    let app = TestApp::spawn(db).await?;
    let (_acme, gateway) = ready(&app).await?;
    let huge = "x".repeat(2 * 1024 * 1024);
    let answers = [
        (
            app.request(Method::GET, "/v1/chat/completions", &gateway)
                .send()
                .await?,
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            app.request(Method::POST, "/v1/completions/legacy", &gateway)
                .send()
                .await?,
            StatusCode::NOT_FOUND,
        ),
        (
            complete(
                &app,
                &gateway,
                json!({ "model": "openai/gpt-4o-mini", "messages": [
                    { "role": "user", "content": huge }
                ]}),
            )
            .await?,
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    for (res, status) in answers {
        assert_eq!(res.status(), status);
        let id = res
            .headers()
            .get("x-request-id")
            .context("a request id header")?
            .to_str()?
            .to_string();
        assert_eq!(
            res.headers()["content-type"],
            "application/problem+json",
            "{status}"
        );
        let body: Value = res.json().await?;
        assert_eq!(body["status"], status.as_u16());
        assert_eq!(body["request_id"], id.as_str());
    }
    Ok(())
}

testkit::on_both_backends!(
    only_a_token_with_the_gateway_scope_may_call_it,
    a_completion_goes_to_the_tenants_key_under_the_providers_model_name,
    a_stream_is_relayed_with_the_usage_frame_only_when_asked_for,
    anthropic_models_answer_in_openais_format_whole_and_streamed,
    a_tool_call_comes_back_in_openais_shape_from_either_provider,
    a_model_name_without_a_provider_or_a_key_gets_a_clear_problem,
    provider_failures_come_back_as_problems_in_both_shapes,
    embeddings_are_relayed_and_anthropic_says_it_has_none,
    the_model_list_names_each_model_with_its_provider,
    every_call_is_counted_by_token_and_model,
    a_call_past_the_budget_is_refused_naming_it,
    one_tenants_gateway_token_never_uses_anothers_key,
    a_tokens_request_rate_is_enforced_under_concurrency,
    a_tokens_request_rate_is_enforced_in_redis_too,
    the_gateways_own_refusals_are_problems_with_a_request_id,
);
