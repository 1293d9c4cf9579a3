//! Anthropic's Messages API: the `system` field of its own, `tool_use` and
//! `tool_result` content blocks, and its typed stream events.

use super::call::{self, CallPolicy, ErrorShape, Transport};
use super::stream::{self, Decode};
use domain::llm::{
    ChatAnswer, ChatEvent, ChatModel, ChatRequest, ChatStream, FinishReason, LlmError, LlmFuture,
    Speaker, ToolCall, Usage,
};
use domain::secrets::{ExposeSecret, SecretString};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The API version this client speaks.
const VERSION: &str = "2023-06-01";
/// The Messages API requires `max_tokens`; used when the agent sets none.
const DEFAULT_MAX_TOKENS: u32 = 4096;
const PROVIDER: &str = "Anthropic";

/// A Messages API client for one key.
pub struct AnthropicChat {
    transport: Transport,
    base: String,
    key: SecretString,
    policy: CallPolicy,
}

impl AnthropicChat {
    /// A client for `base` (e.g. `https://api.anthropic.com/v1`).
    pub fn new(transport: Transport, base: &str, key: SecretString, policy: CallPolicy) -> Self {
        Self {
            transport,
            base: base.trim_end_matches('/').to_string(),
            key,
            policy,
        }
    }

    fn authorised(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        rb.header("x-api-key", self.key.expose_secret())
            .header("anthropic-version", VERSION)
    }

    fn body(req: &ChatRequest, stream: bool) -> Value {
        let mut body = json!({
            "model": req.model,
            "max_tokens": req.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
            "messages": messages(req),
        });
        if let Some(system) = &req.system {
            body["system"] = json!(system);
        }
        // Anthropic's range is 0–1, where OpenAI's is 0–2.
        if let Some(t) = req.temperature {
            body["temperature"] = json!(t.clamp(0.0, 1.0));
        }
        if !req.tools.is_empty() {
            body["tools"] = req
                .tools
                .iter()
                .map(|t| json!({ "name": t.name, "description": t.description, "input_schema": t.parameters }))
                .collect();
        }
        if stream {
            body["stream"] = json!(true);
        }
        body
    }
}

/// The turns as Messages API messages: roles alternate, so a tool's result
/// (a `tool_result` block) joins the user message around it.
fn messages(req: &ChatRequest) -> Vec<Value> {
    let mut out: Vec<(String, Vec<Value>)> = Vec::new();
    for t in &req.turns {
        let (role, blocks) = match t.speaker {
            Speaker::User => ("user", vec![json!({ "type": "text", "text": t.text })]),
            Speaker::Tool => (
                "user",
                vec![json!({
                    "type": "tool_result",
                    "tool_use_id": t.tool_call_id,
                    "content": t.text,
                })],
            ),
            Speaker::Assistant => {
                let mut blocks = Vec::new();
                if !t.text.is_empty() {
                    blocks.push(json!({ "type": "text", "text": t.text }));
                }
                for c in &t.tool_calls {
                    blocks.push(json!({ "type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments }));
                }
                ("assistant", blocks)
            }
        };
        match out.last_mut() {
            Some((last, content)) if last == role => content.extend(blocks),
            _ => out.push((role.to_string(), blocks)),
        }
    }
    out.into_iter()
        .map(|(role, content)| json!({ "role": role, "content": content }))
        .collect()
}

fn finish(reason: Option<&str>) -> FinishReason {
    match reason {
        Some("max_tokens") => FinishReason::Length,
        Some("tool_use") => FinishReason::ToolCalls,
        Some("refusal") => FinishReason::ContentFilter,
        _ => FinishReason::Stop,
    }
}

fn unreadable(e: impl std::fmt::Display) -> LlmError {
    LlmError::Unreachable {
        provider: PROVIDER,
        message: format!("the answer could not be read: {e}"),
    }
}

/// An `error` object of the API, as the kind a caller acts on.
fn error_of(status: u16, error: &Value, headers: Option<&HeaderMap>) -> LlmError {
    let kind = error["type"].as_str().unwrap_or_default();
    let message = error["message"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| format!("HTTP {status}"));
    match kind {
        "authentication_error" | "permission_error" => LlmError::InvalidKey {
            provider: PROVIDER,
            message,
        },
        "rate_limit_error" => LlmError::RateLimited {
            provider: PROVIDER,
            retry_after: headers.and_then(call::retry_after),
            message,
        },
        "invalid_request_error" if message.contains("prompt is too long") => {
            LlmError::ContextTooLong(message)
        }
        "overloaded_error" | "api_error" => LlmError::Upstream {
            provider: PROVIDER,
            status: if status >= 500 { status } else { 529 },
            message,
        },
        _ if status >= 500 => LlmError::Upstream {
            provider: PROVIDER,
            status,
            message,
        },
        _ if status == 401 || status == 403 => LlmError::InvalidKey {
            provider: PROVIDER,
            message,
        },
        _ if status == 429 => LlmError::RateLimited {
            provider: PROVIDER,
            retry_after: headers.and_then(call::retry_after),
            message,
        },
        _ => LlmError::Refused {
            provider: PROVIDER,
            message,
        },
    }
}

impl ErrorShape for AnthropicChat {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn classify(&self, status: StatusCode, headers: &HeaderMap, body: &str) -> LlmError {
        let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        error_of(status.as_u16(), &parsed["error"], Some(headers))
    }
}

impl ChatModel for AnthropicChat {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn chat<'a>(&'a self, req: &'a ChatRequest) -> LlmFuture<'a, ChatAnswer> {
        Box::pin(async move {
            let body = Self::body(req, false);
            let url = format!("{}/messages", self.base);
            let res = call::send(self, &self.policy, &self.transport, || {
                self.authorised(self.transport.http().post(&url))
                    .json(&body)
            })
            .await?;
            let msg: Value = res.json().await.map_err(unreadable)?;
            let mut text = String::new();
            let mut tool_calls = Vec::new();
            for block in msg["content"].as_array().into_iter().flatten() {
                match block["type"].as_str() {
                    Some("text") => text.push_str(block["text"].as_str().unwrap_or_default()),
                    Some("tool_use") => tool_calls.push(ToolCall {
                        id: block["id"].as_str().unwrap_or_default().to_string(),
                        name: block["name"].as_str().unwrap_or_default().to_string(),
                        arguments: block["input"].clone(),
                    }),
                    _ => {}
                }
            }
            Ok(ChatAnswer {
                text,
                tool_calls,
                finish: finish(msg["stop_reason"].as_str()),
                usage: Usage {
                    input_tokens: msg["usage"]["input_tokens"].as_u64().unwrap_or(0),
                    output_tokens: msg["usage"]["output_tokens"].as_u64().unwrap_or(0),
                },
            })
        })
    }

    fn chat_stream<'a>(&'a self, req: &'a ChatRequest) -> LlmFuture<'a, ChatStream> {
        Box::pin(async move {
            let body = Self::body(req, true);
            let url = format!("{}/messages", self.base);
            let res = call::send(self, &self.policy, &self.transport, || {
                self.authorised(self.transport.http().post(&url))
                    .json(&body)
            })
            .await?;
            Ok(stream::decode(res, Events::default(), self.policy.timeout))
        })
    }

    fn models(&self) -> LlmFuture<'_, Vec<String>> {
        Box::pin(async move {
            let mut ids = Vec::new();
            let mut after: Option<String> = None;
            // The list pages by `after_id`; a bound keeps a misbehaving
            // server from looping.
            for _ in 0..20 {
                let mut url = format!("{}/models?limit=1000", self.base);
                if let Some(a) = &after {
                    url.push_str(&format!("&after_id={a}"));
                }
                let res = call::send(self, &self.policy, &self.transport, || {
                    self.authorised(self.transport.http().get(&url))
                })
                .await?;
                let page: Value = res.json().await.map_err(unreadable)?;
                ids.extend(
                    page["data"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|m| m["id"].as_str().map(str::to_string)),
                );
                match (page["has_more"].as_bool(), page["last_id"].as_str()) {
                    (Some(true), Some(last)) => after = Some(last.to_string()),
                    _ => break,
                }
            }
            Ok(ids)
        })
    }
}

/// Reads `message_start`, `content_block_*`, `message_delta` and
/// `message_stop`; a tool call's `input_json_delta`s gather until its
/// block stops.
#[derive(Default)]
struct Events {
    tool: Option<(String, String, String)>,
    finish: Option<FinishReason>,
    usage: Usage,
}

impl Decode for Events {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn event(
        &mut self,
        name: Option<&str>,
        data: &str,
    ) -> Result<(Vec<ChatEvent>, bool), LlmError> {
        let ev: Value = serde_json::from_str(data).map_err(unreadable)?;
        let kind = name.or_else(|| ev["type"].as_str()).unwrap_or_default();
        let mut out = Vec::new();
        match kind {
            "message_start" => {
                let u = &ev["message"]["usage"];
                self.usage.input_tokens = u["input_tokens"].as_u64().unwrap_or(0);
                self.usage.output_tokens = u["output_tokens"].as_u64().unwrap_or(0);
            }
            "content_block_start" => {
                let block = &ev["content_block"];
                match block["type"].as_str() {
                    Some("tool_use") => {
                        self.tool = Some((
                            block["id"].as_str().unwrap_or_default().to_string(),
                            block["name"].as_str().unwrap_or_default().to_string(),
                            String::new(),
                        ))
                    }
                    Some("text") => {
                        if let Some(t) = block["text"].as_str().filter(|t| !t.is_empty()) {
                            out.push(ChatEvent::Text(t.to_string()));
                        }
                    }
                    _ => {}
                }
            }
            "content_block_delta" => {
                let delta = &ev["delta"];
                match delta["type"].as_str() {
                    Some("text_delta") => {
                        if let Some(t) = delta["text"].as_str() {
                            out.push(ChatEvent::Text(t.to_string()));
                        }
                    }
                    Some("input_json_delta") => {
                        if let Some((_, _, json)) = &mut self.tool {
                            json.push_str(delta["partial_json"].as_str().unwrap_or_default());
                        }
                    }
                    _ => {}
                }
            }
            "content_block_stop" => {
                if let Some((id, name, json)) = self.tool.take() {
                    let arguments = if json.trim().is_empty() {
                        json!({})
                    } else {
                        serde_json::from_str(&json).unwrap_or(Value::String(json))
                    };
                    out.push(ChatEvent::ToolCall(ToolCall {
                        id,
                        name,
                        arguments,
                    }));
                }
            }
            "message_delta" => {
                if let Some(r) = ev["delta"]["stop_reason"].as_str() {
                    self.finish = Some(finish(Some(r)));
                }
                if let Some(n) = ev["usage"]["output_tokens"].as_u64() {
                    self.usage.output_tokens = n;
                }
                if let Some(n) = ev["usage"]["input_tokens"].as_u64() {
                    self.usage.input_tokens = n;
                }
            }
            "message_stop" => {
                out.push(ChatEvent::Done {
                    finish: self.finish.unwrap_or(FinishReason::Stop),
                    usage: self.usage,
                });
                return Ok((out, true));
            }
            "error" => return Err(error_of(529, &ev["error"], None)),
            _ => {}
        }
        Ok((out, false))
    }
}
