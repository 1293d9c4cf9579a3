//! Chatting with each provider's models through one trait, against the
//! provider simulator (each provider's documented wire format).

use ai::chat::call::CallPolicy;
use ai::chat::Models;
use ai::providers::{Endpoints, Provider};
use anyhow::Result;
use domain::llm::{ChatEvent, ChatModel, ChatRequest, FinishReason, LlmError, ToolSpec, Turn};
use domain::secrets::SecretString;
use futures::StreamExt;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use testkit::llm::ProviderSim;

const KEY: &str = "sk-test-chat-0123456789";
const ALL: [Provider; 4] = [
    Provider::OpenAi,
    Provider::Anthropic,
    Provider::OpenRouter,
    Provider::Compatible,
];

fn quick() -> CallPolicy {
    CallPolicy {
        timeout: Duration::from_secs(5),
        rate_limit_retries: 2,
        max_wait: Duration::from_secs(3),
        backoff: Duration::from_millis(20),
    }
}

async fn sim() -> Result<ProviderSim> {
    let sim = ProviderSim::start().await?;
    sim.accept(KEY);
    Ok(sim)
}

fn model(sim: &ProviderSim, provider: Provider, policy: CallPolicy) -> Arc<dyn ChatModel> {
    let models = Models::new(sim.endpoints(), policy, "https://bizosaas.test");
    let base = sim.compatible_base();
    let base = (provider == Provider::Compatible).then_some(base.as_str());
    models
        .for_key(provider, base, SecretString::from(KEY.to_string()))
        .expect("a model")
}

fn ask(text: &str) -> ChatRequest {
    ChatRequest {
        model: "m".into(),
        system: Some("You are terse.".into()),
        turns: vec![Turn::user(text)],
        temperature: Some(0.2),
        max_tokens: Some(64),
        tools: vec![],
    }
}

fn with_calculator(mut req: ChatRequest) -> ChatRequest {
    req.tools = vec![ToolSpec {
        name: "calculator".into(),
        description: "Evaluates an arithmetic expression.".into(),
        parameters: json!({"type": "object", "properties": {"expression": {"type": "string"}}, "required": ["expression"]}),
    }];
    req
}

async fn collect(model: &dyn ChatModel, req: &ChatRequest) -> Result<Vec<ChatEvent>, LlmError> {
    let mut stream = model.chat_stream(req).await?;
    let mut out = Vec::new();
    while let Some(ev) = stream.next().await {
        out.push(ev?);
    }
    Ok(out)
}

#[tokio::test]
async fn openai_and_compatible_endpoints_embed_and_anthropic_says_it_cannot() -> Result<()> {
    let sim = sim().await?;
    let texts = vec!["red shoes".to_string(), "blue hat".to_string()];
    for provider in [Provider::OpenAi, Provider::Compatible] {
        let e = model(&sim, provider, quick())
            .embed("text-embedding-3-small", &texts)
            .await?;
        assert_eq!(e.vectors.len(), 2);
        assert_eq!(e.vectors[1], testkit::llm_chat::embedding_of("blue hat"));
        assert_eq!(e.input_tokens, 4);
    }
    let refused = model(&sim, Provider::Anthropic, quick())
        .embed("claude", &texts)
        .await
        .unwrap_err();
    assert!(matches!(refused, LlmError::Refused { .. }), "{refused}");
    Ok(())
}

#[tokio::test]
async fn every_provider_answers_a_chat_and_counts_its_tokens() -> Result<()> {
    let sim = sim().await?;
    for p in ALL {
        let a = model(&sim, p, quick()).chat(&ask("hello there")).await?;
        assert_eq!(a.text, "You said: hello there", "{p:?}");
        assert_eq!(a.finish, FinishReason::Stop);
        assert_eq!(
            (a.usage.input_tokens, a.usage.output_tokens),
            (5, 4),
            "{p:?}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_streamed_answer_reassembles_to_the_whole_answer() -> Result<()> {
    let sim = sim().await?;
    for p in ALL {
        let events = collect(&*model(&sim, p, quick()), &ask("stream this please")).await?;
        let text: String = events
            .iter()
            .filter_map(|e| match e {
                ChatEvent::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(text, "You said: stream this please", "{p:?}");
        assert!(
            events
                .iter()
                .filter(|e| matches!(e, ChatEvent::Text(_)))
                .count()
                > 1,
            "{p:?} streamed in pieces"
        );
        match events.last() {
            Some(ChatEvent::Done { finish, usage }) => {
                assert_eq!(*finish, FinishReason::Stop);
                assert_eq!(usage.output_tokens, 5, "{p:?}");
            }
            other => panic!("{p:?} ended with {other:?}"),
        }
    }
    Ok(())
}

#[tokio::test]
async fn a_tool_call_makes_the_round_trip_whole_and_streamed() -> Result<()> {
    let sim = sim().await?;
    for p in ALL {
        let m = model(&sim, p, quick());
        let req = with_calculator(ask(r#"call calculator {"expression":"6*7"}"#));
        let whole = m.chat(&req).await?;
        assert_eq!(whole.finish, FinishReason::ToolCalls, "{p:?}");
        assert_eq!(whole.tool_calls.len(), 1);
        assert_eq!(whole.tool_calls[0].name, "calculator");
        assert_eq!(
            whole.tool_calls[0].arguments,
            json!({"expression": "6*7"}),
            "{p:?}"
        );

        let streamed = collect(&*m, &req).await?;
        let call = streamed
            .iter()
            .find_map(|e| match e {
                ChatEvent::ToolCall(c) => Some(c.clone()),
                _ => None,
            })
            .expect("a streamed tool call");
        assert_eq!(
            call.arguments,
            json!({"expression": "6*7"}),
            "{p:?} reassembled the argument deltas"
        );
        assert!(matches!(
            streamed.last(),
            Some(ChatEvent::Done {
                finish: FinishReason::ToolCalls,
                ..
            })
        ));

        let mut next = req.clone();
        next.turns.push(Turn::assistant("", vec![call.clone()]));
        next.turns.push(Turn::tool_result(call.id.clone(), "42"));
        let answer = m.chat(&next).await?;
        assert_eq!(answer.text, "The tool said: 42", "{p:?}");
    }
    Ok(())
}

#[tokio::test]
async fn anthropic_gets_a_top_level_system_and_tool_results_in_user_turns() -> Result<()> {
    let sim = sim().await?;
    let m = model(&sim, Provider::Anthropic, quick());
    let mut req = with_calculator(ask("call calculator {}"));
    let call = m.chat(&req).await?.tool_calls.remove(0);
    req.turns.push(Turn::assistant("", vec![call.clone()]));
    req.turns.push(Turn::tool_result(call.id, "0"));
    m.chat(&req).await?;
    let sent = sim.chat_requests().pop().expect("a request").body;
    assert_eq!(sent["system"], "You are terse.");
    assert_eq!(sent["max_tokens"], 64);
    assert_eq!(sent["tools"][0]["input_schema"]["type"], "object");
    let roles: Vec<_> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].clone())
        .collect();
    assert_eq!(
        roles,
        vec![json!("user"), json!("assistant"), json!("user")]
    );
    assert_eq!(sent["messages"][1]["content"][0]["type"], "tool_use");
    assert_eq!(sent["messages"][2]["content"][0]["type"], "tool_result");
    Ok(())
}

#[tokio::test]
async fn openrouter_is_told_which_app_calls() -> Result<()> {
    let sim = sim().await?;
    model(&sim, Provider::OpenRouter, quick())
        .chat(&ask("hi"))
        .await?;
    let sent = sim.chat_requests().pop().expect("a request");
    assert_eq!(sent.headers["http-referer"], "https://bizosaas.test");
    assert_eq!(sent.headers["x-title"], "BizOSaaS");
    assert_eq!(sent.body["max_tokens"], 64);
    Ok(())
}

#[tokio::test]
async fn a_refused_key_is_an_invalid_key_at_every_provider() -> Result<()> {
    let sim = sim().await?;
    sim.reject(KEY);
    for p in ALL {
        let err = model(&sim, p, quick()).chat(&ask("hi")).await.unwrap_err();
        assert!(matches!(err, LlmError::InvalidKey { .. }), "{p:?}: {err:?}");
        assert!(!err.to_string().contains(KEY), "the key is not echoed");
    }
    Ok(())
}

#[tokio::test]
async fn a_rate_limit_is_retried_after_the_wait_the_provider_names() -> Result<()> {
    let sim = sim().await?;
    for p in [Provider::OpenAi, Provider::Anthropic] {
        sim.rate_limit_once(KEY, 1);
        let before = sim.chat_requests().len();
        let started = std::time::Instant::now();
        let a = model(&sim, p, quick()).chat(&ask("hi")).await?;
        assert_eq!(a.text, "You said: hi");
        assert_eq!(
            sim.chat_requests().len() - before,
            2,
            "{p:?}: one 429, one answer"
        );
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "{p:?} honoured retry-after"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_rate_limit_longer_than_the_bound_is_reported_at_once() -> Result<()> {
    let sim = sim().await?;
    sim.rate_limit(KEY);
    for p in ALL {
        let err = model(&sim, p, quick()).chat(&ask("hi")).await.unwrap_err();
        match err {
            LlmError::RateLimited { retry_after, .. } => assert_eq!(retry_after, Some(20), "{p:?}"),
            other => panic!("{p:?}: {other:?}"),
        }
    }
    assert_eq!(
        sim.chat_requests().len(),
        4,
        "no retries against a 20 s wait"
    );
    Ok(())
}

#[tokio::test]
async fn an_upstream_failure_is_retried_once_and_then_reported() -> Result<()> {
    let sim = sim().await?;
    let m = model(&sim, Provider::OpenAi, quick());
    sim.fail_next(KEY, 500, 1);
    assert_eq!(m.chat(&ask("hi")).await?.text, "You said: hi");
    sim.fail_next(KEY, 503, 2);
    let err = m.chat(&ask("hi")).await.unwrap_err();
    assert!(
        matches!(err, LlmError::Upstream { status: 503, .. }),
        "{err:?}"
    );
    assert_eq!(sim.chat_requests().len(), 4);
    Ok(())
}

#[tokio::test]
async fn anthropic_overloaded_is_an_upstream_failure() -> Result<()> {
    let sim = sim().await?;
    sim.fail_next(KEY, 529, 2);
    let err = model(&sim, Provider::Anthropic, quick())
        .chat(&ask("hi"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, LlmError::Upstream { status: 529, .. }),
        "{err:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_conversation_over_the_context_is_reported_as_too_long() -> Result<()> {
    let sim = sim().await?;
    let long = "word ".repeat(testkit::llm_chat::CONTEXT_WORDS + 1);
    for p in ALL {
        let err = model(&sim, p, quick()).chat(&ask(&long)).await.unwrap_err();
        assert!(matches!(err, LlmError::ContextTooLong(_)), "{p:?}: {err:?}");
    }
    Ok(())
}

#[tokio::test]
async fn a_provider_slower_than_the_timeout_times_out() -> Result<()> {
    let sim = sim().await?;
    sim.delay(KEY, Duration::from_secs(3));
    let policy = CallPolicy {
        timeout: Duration::from_millis(300),
        ..quick()
    };
    let err = model(&sim, Provider::OpenAi, policy)
        .chat(&ask("hi"))
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::Timeout { .. }), "{err:?}");
    Ok(())
}

#[tokio::test]
async fn dropping_a_stream_ends_the_upstream_request() -> Result<()> {
    let sim = sim().await?;
    sim.pause_between_chunks(Duration::from_millis(150));
    let m = model(&sim, Provider::Anthropic, quick());
    let mut stream = m
        .chat_stream(&ask("a fairly long answer to cut short"))
        .await?;
    assert!(matches!(stream.next().await, Some(Ok(ChatEvent::Text(_)))));
    drop(stream);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(sim.stream_was_cut(), "the provider saw the client leave");
    Ok(())
}

#[tokio::test]
async fn a_compatible_endpoint_on_loopback_is_refused_unless_allowed() -> Result<()> {
    let sim = sim().await?;
    let strict = Models::new(
        Endpoints {
            allow_private_endpoints: false,
            ..sim.endpoints()
        },
        quick(),
        "https://bizosaas.test",
    );
    let err = match strict.for_key(
        Provider::Compatible,
        Some(&sim.compatible_base()),
        SecretString::from(KEY.to_string()),
    ) {
        Err(e) => e,
        Ok(m) => m.chat(&ask("hi")).await.unwrap_err(),
    };
    assert!(matches!(err, LlmError::Refused { .. }), "{err:?}");
    assert!(sim.chat_requests().is_empty(), "nothing was sent");
    Ok(())
}

#[tokio::test]
async fn each_provider_lists_its_models() -> Result<()> {
    let sim = sim().await?;
    let openai = model(&sim, Provider::OpenAi, quick()).models().await?;
    assert!(openai.contains(&"gpt-4o-mini".to_string()));
    let anthropic = model(&sim, Provider::Anthropic, quick()).models().await?;
    assert!(anthropic.contains(&"claude-haiku-4-5".to_string()));
    let openrouter = model(&sim, Provider::OpenRouter, quick()).models().await?;
    assert!(openrouter.contains(&"openai/gpt-4o-mini".to_string()));
    Ok(())
}
