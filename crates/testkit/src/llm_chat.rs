//! The chat endpoints of the provider simulator, in each provider's wire
//! format as documented:
//! - OpenAI Chat Completions, `POST /v1/chat/completions` (also OpenRouter's
//!   `/api/v1/chat/completions` and the compatible server's): `choices`,
//!   `tool_calls` with JSON-string `arguments`, `usage`; streamed as
//!   `data: {chunk}` lines with `delta`s, tool calls by `index`, a usage
//!   chunk when `stream_options.include_usage`, then `data: [DONE]`.
//!   Errors `{"error": {"message", "type", "code"}}`: 401 `invalid_api_key`,
//!   429 `rate_limit_exceeded` with `retry-after`, 400
//!   `context_length_exceeded`, 500 `server_error`.
//! - Anthropic Messages, `POST /v1/messages` with `x-api-key` and
//!   `anthropic-version`: top-level `system`, `max_tokens` required, content
//!   blocks (`text`, `tool_use`, `tool_result`), `stop_reason`, `usage`;
//!   streamed as named events `message_start`, `content_block_start`,
//!   `ping`, `content_block_delta` (`text_delta`, `input_json_delta`),
//!   `content_block_stop`, `message_delta`, `message_stop`. Errors
//!   `{"type": "error", "error": {"type", "message"}}`: 401
//!   `authentication_error`, 429 `rate_limit_error`, 400
//!   `invalid_request_error` ("prompt is too long"), 529 `overloaded_error`.
//!
//! The model is a script, so tests know the answer: the reply to the last
//! user message is `You said: <it>`; a message `call <tool> <json>` naming
//! an offered tool gets that tool call; a tool's result gets `The tool
//! said: <result>`. Tokens are counted as words; a prompt of more than
//! [`CONTEXT_WORDS`] words is too long.

use super::llm::{bearer, judge, Outcome, SimState};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::Uri;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The context window of the scripted model, in words.
pub const CONTEXT_WORDS: usize = 4096;

/// A request the simulator received, for tests to inspect.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// The path.
    pub path: String,
    /// The headers.
    pub headers: HeaderMap,
    /// The JSON body.
    pub body: Value,
}

/// What the scripted model answers.
struct Reply {
    text: String,
    tool: Option<(String, Value)>,
    input_words: usize,
}

fn words(s: &str) -> usize {
    s.split_whitespace().count()
}

/// Text of a message's `content`: a string, or an array of blocks.
fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| match b["type"].as_str() {
                Some("text") => b["text"].as_str().map(str::to_string),
                Some("tool_result") => Some(text_of(&b["content"])),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

fn script(system: &str, messages: &[Value], tools: &[String]) -> Reply {
    let input_words = words(system)
        + messages
            .iter()
            .map(|m| words(&text_of(&m["content"])))
            .sum::<usize>();
    let last = messages.last().cloned().unwrap_or(Value::Null);
    let tool_result = last["role"] == "tool"
        || last["content"]
            .as_array()
            .is_some_and(|b| b.iter().any(|b| b["type"] == "tool_result"));
    if tool_result {
        return Reply {
            text: format!("The tool said: {}", text_of(&last["content"])),
            tool: None,
            input_words,
        };
    }
    let said = text_of(&last["content"]);
    if let Some(rest) = said.strip_prefix("call ") {
        let (name, args) = rest.split_once(' ').unwrap_or((rest, "{}"));
        if tools.iter().any(|t| t == name) {
            let args = serde_json::from_str(args).unwrap_or_else(|_| json!({}));
            return Reply {
                text: String::new(),
                tool: Some((name.to_string(), args)),
                input_words,
            };
        }
    }
    Reply {
        text: format!("You said: {said}"),
        tool: None,
        input_words,
    }
}

/// The failure a key is set up for, if any, in the provider's own words;
/// `None` lets the request through.
async fn gate(
    state: &Arc<Mutex<SimState>>,
    key: &str,
    path: &str,
    headers: &HeaderMap,
    body: &Value,
    anthropic: bool,
) -> Option<Response> {
    let (outcome, delay, fail) = {
        let mut s = state.lock().unwrap();
        s.requests.push(Recorded {
            path: path.to_string(),
            headers: headers.clone(),
            body: body.clone(),
        });
        let fail = match s.failures.get_mut(key) {
            Some((status, n)) if *n > 0 => {
                *n -= 1;
                Some(*status)
            }
            _ => None,
        };
        let once = s.limit_once.remove(key);
        let delay = s.delays.get(key).copied();
        drop(s);
        let outcome = match once {
            Some(secs) => Outcome::LimitedFor(secs),
            None => judge(state, key),
        };
        (outcome, delay, fail)
    };
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    let error = |status: u16, kind: &str, code: &str, message: &str| -> Response {
        let status = StatusCode::from_u16(status).unwrap();
        let body = if anthropic {
            json!({"type": "error", "error": {"type": kind, "message": message}})
        } else {
            json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
        };
        (status, Json(body)).into_response()
    };
    let limited = |secs: u64| -> Response {
        let mut r = if anthropic {
            error(
                429,
                "rate_limit_error",
                "",
                "Number of request tokens has exceeded your per-minute rate limit",
            )
        } else {
            error(
                429,
                "requests",
                "rate_limit_exceeded",
                "Rate limit reached for requests. Please try again later.",
            )
        };
        r.headers_mut()
            .insert("retry-after", secs.to_string().parse().unwrap());
        r
    };
    match outcome {
        Outcome::Invalid if anthropic => {
            return Some(error(401, "authentication_error", "", "invalid x-api-key"))
        }
        Outcome::Invalid => {
            return Some(error(
                401,
                "invalid_request_error",
                "invalid_api_key",
                "Incorrect API key provided.",
            ))
        }
        Outcome::Limited => return Some(limited(20)),
        Outcome::LimitedFor(secs) => return Some(limited(secs)),
        Outcome::Valid => {}
    }
    if let Some(status) = fail {
        return Some(if anthropic && status == 529 {
            error(529, "overloaded_error", "", "Overloaded")
        } else if anthropic {
            error(status, "api_error", "", "Internal server error")
        } else {
            error(
                status,
                "server_error",
                "",
                "The server had an error while processing your request.",
            )
        });
    }
    None
}

fn tool_names(body: &Value, anthropic: bool) -> Vec<String> {
    body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| {
            if anthropic {
                t["name"].as_str()
            } else {
                t["function"]["name"].as_str()
            }
            .map(str::to_string)
        })
        .collect()
}

/// A body that sends `frames` one by one, `pause` apart, and notes in
/// `cut` if the client went away before the last.
fn streamed(frames: Vec<String>, pause: Option<Duration>, cut: Arc<AtomicBool>) -> Response {
    struct Watch(Arc<AtomicBool>, bool);
    impl Drop for Watch {
        fn drop(&mut self) {
            if !self.1 {
                self.0.store(true, Ordering::SeqCst);
            }
        }
    }
    let total = frames.len();
    let stream = futures::stream::unfold(
        (frames.into_iter().enumerate(), Watch(cut, false)),
        move |(mut it, mut watch)| async move {
            let (i, frame) = it.next()?;
            if let Some(p) = pause {
                tokio::time::sleep(p).await;
            }
            if i + 1 == total {
                watch.1 = true;
            }
            Some((Ok::<_, Infallible>(Bytes::from(frame)), (it, watch)))
        },
    );
    Response::builder()
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(Body::from_stream(stream))
        .unwrap()
}

/// `POST …/chat/completions` for OpenAI, OpenRouter and the compatible server.
pub(crate) async fn openai_chat(
    State(state): State<Arc<Mutex<SimState>>>,
    uri: Uri,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let key = bearer(&headers).unwrap_or_default();
    let path = uri.path().to_string();
    if let Some(r) = gate(&state, &key, &path, &headers, &body, false).await {
        return r;
    }
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let system: String = messages
        .iter()
        .filter(|m| m["role"] == "system")
        .map(|m| text_of(&m["content"]))
        .collect();
    let turns: Vec<Value> = messages
        .into_iter()
        .filter(|m| m["role"] != "system")
        .collect();
    let reply = script(&system, &turns, &tool_names(&body, false));
    if reply.input_words > CONTEXT_WORDS {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": {
            "message": format!("This model's maximum context length is {CONTEXT_WORDS} tokens. However, your messages resulted in {} tokens. Please reduce the length of the messages.", reply.input_words),
            "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}}))).into_response();
    }
    let model = body["model"].as_str().unwrap_or("gpt-4o-mini").to_string();
    let n = state.lock().unwrap().next_id();
    let call_id = format!("call_{n:024}");
    let usage = json!({
        "prompt_tokens": reply.input_words,
        "completion_tokens": words(&reply.text) + reply.tool.as_ref().map_or(0, |_| 8),
        "total_tokens": reply.input_words + words(&reply.text),
    });
    let finish = if reply.tool.is_some() {
        "tool_calls"
    } else {
        "stop"
    };
    if body["stream"] != true {
        let mut message = json!({"role": "assistant", "content": if reply.text.is_empty() { Value::Null } else { json!(reply.text) }, "refusal": null});
        if let Some((name, args)) = &reply.tool {
            message["tool_calls"] = json!([{"id": call_id, "type": "function", "function": {"name": name, "arguments": args.to_string()}}]);
        }
        return Json(json!({
            "id": format!("chatcmpl-{n}"), "object": "chat.completion", "created": 1733568000, "model": model,
            "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
            "usage": usage, "system_fingerprint": "fp_sim"
        }))
        .into_response();
    }
    let chunk = |choices: Value| {
        format!(
            "data: {}\n\n",
            json!({"id": format!("chatcmpl-{n}"), "object": "chat.completion.chunk", "created": 1733568000, "model": model, "system_fingerprint": "fp_sim", "choices": choices})
        )
    };
    let mut frames = vec![chunk(
        json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": null, "finish_reason": null}]),
    )];
    for w in reply.text.split_inclusive(' ') {
        frames.push(chunk(
            json!([{"index": 0, "delta": {"content": w}, "logprobs": null, "finish_reason": null}]),
        ));
    }
    if let Some((name, args)) = &reply.tool {
        frames.push(chunk(json!([{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}]}, "logprobs": null, "finish_reason": null}])));
        let args = args.to_string();
        let (a, b) = args.split_at(args.len() / 2);
        for part in [a, b] {
            frames.push(chunk(json!([{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": part}}]}, "logprobs": null, "finish_reason": null}])));
        }
    }
    frames.push(chunk(
        json!([{"index": 0, "delta": {}, "logprobs": null, "finish_reason": finish}]),
    ));
    if body["stream_options"]["include_usage"] == true {
        frames.push(format!(
            "data: {}\n\n",
            json!({"id": format!("chatcmpl-{n}"), "object": "chat.completion.chunk", "created": 1733568000, "model": model, "choices": [], "usage": usage})
        ));
    }
    frames.push("data: [DONE]\n\n".into());
    let (pause, cut) = {
        let s = state.lock().unwrap();
        (s.chunk_pause, s.cut.clone())
    };
    streamed(frames, pause, cut)
}

/// `POST /anthropic/v1/messages`.
pub(crate) async fn anthropic_messages(
    State(state): State<Arc<Mutex<SimState>>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if headers.get("anthropic-version").is_none() {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"type": "error", "error": {
            "type": "invalid_request_error", "message": "anthropic-version: header is required"}})),
        )
            .into_response();
    }
    let key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    if let Some(r) = gate(
        &state,
        &key,
        "/anthropic/v1/messages",
        &headers,
        &body,
        true,
    )
    .await
    {
        return r;
    }
    let invalid = |message: &str| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"type": "error", "error": {
            "type": "invalid_request_error", "message": message}})),
        )
            .into_response()
    };
    if body["max_tokens"].as_u64().is_none() {
        return invalid("max_tokens: Field required");
    }
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    if messages.iter().any(|m| m["role"] == "system") {
        return invalid("messages: Unexpected role \"system\". The Messages API accepts a top-level `system` parameter, not \"system\" as an input message role.");
    }
    if messages.windows(2).any(|w| w[0]["role"] == w[1]["role"]) {
        return invalid("messages: roles must alternate between \"user\" and \"assistant\"");
    }
    let system = text_of(&body["system"]);
    let reply = script(&system, &messages, &tool_names(&body, true));
    if reply.input_words > CONTEXT_WORDS {
        return invalid(&format!(
            "prompt is too long: {} tokens > {CONTEXT_WORDS} maximum",
            reply.input_words
        ));
    }
    let model = body["model"]
        .as_str()
        .unwrap_or("claude-haiku-4-5")
        .to_string();
    let n = state.lock().unwrap().next_id();
    let msg_id = format!("msg_{n:024}");
    let tool_id = format!("toolu_{n:024}");
    let out_words = words(&reply.text) + reply.tool.as_ref().map_or(0, |_| 8);
    let stop = if reply.tool.is_some() {
        "tool_use"
    } else {
        "end_turn"
    };
    let mut content = Vec::new();
    if !reply.text.is_empty() {
        content.push(json!({"type": "text", "text": reply.text}));
    }
    if let Some((name, args)) = &reply.tool {
        content.push(json!({"type": "tool_use", "id": tool_id, "name": name, "input": args}));
    }
    if body["stream"] != true {
        return Json(json!({
            "id": msg_id, "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": stop, "stop_sequence": null,
            "usage": {"input_tokens": reply.input_words, "output_tokens": out_words}
        }))
        .into_response();
    }
    let event = |name: &str, data: Value| format!("event: {name}\ndata: {data}\n\n");
    let mut frames = vec![event(
        "message_start",
        json!({"type": "message_start", "message": {
        "id": msg_id, "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": null, "stop_sequence": null,
        "usage": {"input_tokens": reply.input_words, "output_tokens": 1}}}),
    )];
    let mut index = 0;
    if !reply.text.is_empty() {
        frames.push(event("content_block_start", json!({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}})));
        frames.push(event("ping", json!({"type": "ping"})));
        for w in reply.text.split_inclusive(' ') {
            frames.push(event("content_block_delta", json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": w}})));
        }
        frames.push(event(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        ));
        index += 1;
    }
    if let Some((name, args)) = &reply.tool {
        frames.push(event("content_block_start", json!({"type": "content_block_start", "index": index, "content_block": {"type": "tool_use", "id": tool_id, "name": name, "input": {}}})));
        let args = args.to_string();
        let (a, b) = args.split_at(args.len() / 2);
        for part in ["", a, b] {
            frames.push(event("content_block_delta", json!({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": part}})));
        }
        frames.push(event(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        ));
    }
    frames.push(event("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": {"output_tokens": out_words}})));
    frames.push(event("message_stop", json!({"type": "message_stop"})));
    let (pause, cut) = {
        let s = state.lock().unwrap();
        (s.chunk_pause, s.cut.clone())
    };
    streamed(frames, pause, cut)
}

/// Dimensions of the simulator's embeddings.
pub const EMBEDDING_DIMENSIONS: usize = 8;

/// A text's embedding: the same text always gets the same unit vector.
pub fn embedding_of(text: &str) -> Vec<f32> {
    let mut v = [0f32; EMBEDDING_DIMENSIONS];
    for (i, b) in text.bytes().enumerate() {
        v[(i + b as usize) % EMBEDDING_DIMENSIONS] += f32::from(b) / 255.0;
    }
    let norm = v
        .iter()
        .map(|x| x * x)
        .sum::<f32>()
        .sqrt()
        .max(f32::EPSILON);
    v.iter().map(|x| x / norm).collect()
}

/// `POST …/embeddings` for OpenAI and the compatible server: `input` is a
/// string or a list of them; the answer is a `list` of `embedding`s by
/// `index`, with `usage.prompt_tokens` and `total_tokens` (words here).
pub(crate) async fn openai_embeddings(
    State(state): State<Arc<Mutex<SimState>>>,
    uri: Uri,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let key = bearer(&headers).unwrap_or_default();
    if let Some(r) = gate(&state, &key, uri.path(), &headers, &body, false).await {
        return r;
    }
    let inputs: Vec<String> = match &body["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) if items.iter().all(Value::is_string) && !items.is_empty() => items
            .iter()
            .map(|s| s.as_str().unwrap_or_default().to_string())
            .collect(),
        _ => {
            return (StatusCode::BAD_REQUEST, Json(json!({"error": {
                "message": "'input' is a required property and must be a string or an array of strings",
                "type": "invalid_request_error", "param": "input", "code": null}})))
                .into_response()
        }
    };
    let tokens: usize = inputs.iter().map(|s| words(s)).sum();
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, s)| json!({"object": "embedding", "index": i, "embedding": embedding_of(s)}))
        .collect();
    Json(json!({
        "object": "list", "data": data, "model": body["model"],
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens}
    }))
    .into_response()
}
