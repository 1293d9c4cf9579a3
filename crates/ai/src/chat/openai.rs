//! OpenAI's Chat Completions API, and the servers that speak it: OpenRouter
//! (with its attribution headers) and any OpenAI-compatible base URL
//! (Ollama, vLLM, llama.cpp's server, LM Studio).

use super::call::{self, CallPolicy, ErrorShape, Transport};
use super::stream::{self, Decode};
use domain::llm::{
    ChatAnswer, ChatEvent, ChatModel, ChatRequest, ChatStream, Embeddings, FinishReason, LlmError,
    LlmFuture, Speaker, ToolCall, Usage,
};
use domain::secrets::{ExposeSecret, SecretString};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Which server speaks the dialect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// OpenAI itself (`max_completion_tokens`).
    OpenAi,
    /// OpenRouter (`HTTP-Referer` and `X-Title` name the calling app).
    OpenRouter,
    /// Any compatible server; a blank key sends no `Authorization`.
    Compatible,
}

/// A Chat Completions client for one key.
pub struct OpenAiChat {
    transport: Transport,
    base: String,
    key: SecretString,
    flavor: Flavor,
    policy: CallPolicy,
    /// The platform's public address, for OpenRouter's `HTTP-Referer`.
    referer: String,
}

impl OpenAiChat {
    /// A client for `base` (e.g. `https://api.openai.com/v1`).
    pub fn new(
        transport: Transport,
        base: &str,
        key: SecretString,
        flavor: Flavor,
        policy: CallPolicy,
        referer: &str,
    ) -> Self {
        Self {
            transport,
            base: base.trim_end_matches('/').to_string(),
            key,
            flavor,
            policy,
            referer: referer.to_string(),
        }
    }

    fn name(&self) -> &'static str {
        match self.flavor {
            Flavor::OpenAi => "OpenAI",
            Flavor::OpenRouter => "OpenRouter",
            Flavor::Compatible => "the OpenAI-compatible endpoint",
        }
    }

    /// Sends `body` as it is to `path` (e.g. `/chat/completions`) with this
    /// key, retrying as every call does, and hands back the response with
    /// its body unread: the gateway streams it on to its caller untouched.
    pub async fn relay(&self, path: &str, body: bytes::Bytes) -> Result<Relayed, LlmError> {
        let url = format!("{}{path}", self.base);
        call::send(self, &self.policy, &self.transport, || {
            self.authorised(self.transport.http().post(&url))
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone())
        })
        .await
        .map(|res| Relayed {
            res,
            provider: self.name(),
        })
    }

    fn post(&self, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.authorised(self.transport.http().post(format!("{}{path}", self.base)))
            .json(body)
    }

    fn authorised(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let key = self.key.expose_secret();
        let rb = if key.is_empty() && self.flavor == Flavor::Compatible {
            rb
        } else {
            rb.bearer_auth(key)
        };
        match self.flavor {
            Flavor::OpenRouter => rb
                .header("HTTP-Referer", &self.referer)
                .header("X-Title", "BizOSaaS"),
            _ => rb,
        }
    }

    fn body(&self, req: &ChatRequest, stream: bool) -> Value {
        let mut messages = Vec::with_capacity(req.turns.len() + 1);
        if let Some(system) = &req.system {
            messages.push(json!({ "role": "system", "content": system }));
        }
        for t in &req.turns {
            messages.push(match t.speaker {
                Speaker::User => json!({ "role": "user", "content": t.text }),
                Speaker::Assistant if t.tool_calls.is_empty() => {
                    json!({ "role": "assistant", "content": t.text })
                }
                Speaker::Assistant => json!({
                    "role": "assistant",
                    "content": if t.text.is_empty() { Value::Null } else { json!(t.text) },
                    "tool_calls": t.tool_calls.iter().map(|c| json!({
                        "id": c.id,
                        "type": "function",
                        "function": { "name": c.name, "arguments": c.arguments.to_string() },
                    })).collect::<Vec<_>>(),
                }),
                Speaker::Tool => json!({
                    "role": "tool",
                    "tool_call_id": t.tool_call_id,
                    "content": t.text,
                }),
            });
        }
        let mut body = json!({ "model": req.model, "messages": messages });
        if let Some(t) = req.temperature {
            body["temperature"] = json!(t);
        }
        if let Some(n) = req.max_tokens {
            let field = match self.flavor {
                Flavor::OpenAi => "max_completion_tokens",
                _ => "max_tokens",
            };
            body[field] = json!(n);
        }
        if !req.tools.is_empty() {
            body["tools"] = req
                .tools
                .iter()
                .map(|t| {
                    json!({ "type": "function", "function": {
                        "name": t.name, "description": t.description, "parameters": t.parameters,
                    }})
                })
                .collect();
        }
        if stream {
            body["stream"] = json!(true);
            body["stream_options"] = json!({ "include_usage": true });
        }
        body
    }
}

/// A provider's successful answer to a relayed request, its body unread.
pub struct Relayed {
    res: reqwest::Response,
    provider: &'static str,
}

impl Relayed {
    /// The body as it arrives.
    pub fn into_stream(
        self,
    ) -> impl futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send {
        use futures::TryStreamExt;
        self.res
            .bytes_stream()
            .map_err(|e| std::io::Error::other(e.without_url()))
    }

    /// The whole body.
    pub async fn whole(self) -> Result<bytes::Bytes, LlmError> {
        let provider = self.provider;
        self.res
            .bytes()
            .await
            .map_err(|e| unreadable(provider, e.without_url()))
    }
}

impl ErrorShape for OpenAiChat {
    fn provider(&self) -> &'static str {
        self.name()
    }

    fn classify(&self, status: StatusCode, headers: &HeaderMap, body: &str) -> LlmError {
        let provider = self.name();
        let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        let err = &parsed["error"];
        let message = err["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("HTTP {status}"));
        let code = err["code"].as_str().unwrap_or_default();
        match status.as_u16() {
            401 | 403 => LlmError::InvalidKey { provider, message },
            429 => LlmError::RateLimited {
                provider,
                retry_after: call::retry_after(headers),
                message,
            },
            400 | 413
                if code == "context_length_exceeded"
                    || message.contains("context length")
                    || message.contains("context_length") =>
            {
                LlmError::ContextTooLong(message)
            }
            s if s >= 500 => LlmError::Upstream {
                provider,
                status: s,
                message,
            },
            _ => LlmError::Refused { provider, message },
        }
    }
}

#[derive(Deserialize)]
struct Completion {
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct Choice {
    message: WireMessage,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Vec<WireToolCall>,
}

#[derive(Deserialize)]
struct WireToolCall {
    id: String,
    function: WireFunction,
}

#[derive(Deserialize)]
struct WireFunction {
    name: String,
    arguments: String,
}

#[derive(Deserialize, Default, Clone, Copy)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

impl From<WireUsage> for Usage {
    fn from(u: WireUsage) -> Self {
        Usage {
            input_tokens: u.prompt_tokens,
            output_tokens: u.completion_tokens,
        }
    }
}

fn finish(reason: Option<&str>) -> FinishReason {
    match reason {
        Some("length") => FinishReason::Length,
        Some("tool_calls") | Some("function_call") => FinishReason::ToolCalls,
        Some("content_filter") => FinishReason::ContentFilter,
        _ => FinishReason::Stop,
    }
}

/// Arguments arrive as a JSON string; one that does not parse is kept as
/// a string, for the tool's validation to refuse with a clear message.
fn arguments(raw: &str) -> Value {
    if raw.trim().is_empty() {
        return json!({});
    }
    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()))
}

fn unreadable(provider: &'static str, e: impl std::fmt::Display) -> LlmError {
    LlmError::Unreachable {
        provider,
        message: format!("the answer could not be read: {e}"),
    }
}

impl ChatModel for OpenAiChat {
    fn provider(&self) -> &'static str {
        self.name()
    }

    fn chat<'a>(&'a self, req: &'a ChatRequest) -> LlmFuture<'a, ChatAnswer> {
        Box::pin(async move {
            let body = self.body(req, false);
            let res = call::send(self, &self.policy, &self.transport, || {
                self.post("/chat/completions", &body)
            })
            .await?;
            let provider = self.name();
            let c: Completion = res.json().await.map_err(|e| unreadable(provider, e))?;
            let choice = c
                .choices
                .into_iter()
                .next()
                .ok_or_else(|| unreadable(provider, "no choices"))?;
            Ok(ChatAnswer {
                text: choice.message.content.unwrap_or_default(),
                tool_calls: choice
                    .message
                    .tool_calls
                    .into_iter()
                    .map(|t| ToolCall {
                        id: t.id,
                        arguments: arguments(&t.function.arguments),
                        name: t.function.name,
                    })
                    .collect(),
                finish: finish(choice.finish_reason.as_deref()),
                usage: c.usage.unwrap_or_default().into(),
            })
        })
    }

    fn chat_stream<'a>(&'a self, req: &'a ChatRequest) -> LlmFuture<'a, ChatStream> {
        Box::pin(async move {
            let body = self.body(req, true);
            let res = call::send(self, &self.policy, &self.transport, || {
                self.post("/chat/completions", &body)
            })
            .await?;
            Ok(stream::decode(
                res,
                Chunks {
                    provider: self.name(),
                    ..Chunks::default()
                },
                self.policy.timeout,
            ))
        })
    }

    fn embed<'a>(&'a self, model: &'a str, texts: &'a [String]) -> LlmFuture<'a, Embeddings> {
        Box::pin(async move {
            #[derive(Deserialize)]
            struct Item {
                index: usize,
                embedding: Vec<f32>,
            }
            #[derive(Deserialize)]
            struct List {
                data: Vec<Item>,
                #[serde(default)]
                usage: Option<WireUsage>,
            }
            let body = json!({ "model": model, "input": texts });
            let res = call::send(self, &self.policy, &self.transport, || {
                self.post("/embeddings", &body)
            })
            .await?;
            let provider = self.name();
            let mut list: List = res.json().await.map_err(|e| unreadable(provider, e))?;
            if list.data.len() != texts.len() {
                return Err(unreadable(
                    provider,
                    format!("{} vectors for {} texts", list.data.len(), texts.len()),
                ));
            }
            list.data.sort_by_key(|i| i.index);
            Ok(Embeddings {
                vectors: list.data.into_iter().map(|i| i.embedding).collect(),
                input_tokens: list.usage.map_or(0, |u| u.prompt_tokens),
            })
        })
    }

    fn models(&self) -> LlmFuture<'_, Vec<String>> {
        Box::pin(async move {
            let res = call::send(self, &self.policy, &self.transport, || {
                self.authorised(self.transport.http().get(format!("{}/models", self.base)))
            })
            .await?;
            let provider = self.name();
            let list: Value = res.json().await.map_err(|e| unreadable(provider, e))?;
            Ok(list["data"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|m| m["id"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default())
        })
    }
}

/// Reassembles a Chat Completions stream: text deltas pass through, tool
/// calls gather by index until the choice finishes, usage comes last.
#[derive(Default)]
struct Chunks {
    provider: &'static str,
    calls: BTreeMap<u64, (String, String, String)>,
    finish: Option<FinishReason>,
    usage: Usage,
}

impl Chunks {
    fn flush_calls(&mut self) -> Vec<ChatEvent> {
        std::mem::take(&mut self.calls)
            .into_values()
            .map(|(id, name, args)| {
                ChatEvent::ToolCall(ToolCall {
                    id,
                    name,
                    arguments: arguments(&args),
                })
            })
            .collect()
    }
}

impl Decode for Chunks {
    fn provider(&self) -> &'static str {
        self.provider
    }

    fn event(
        &mut self,
        _name: Option<&str>,
        data: &str,
    ) -> Result<(Vec<ChatEvent>, bool), LlmError> {
        if data.trim() == "[DONE]" {
            let mut out = self.flush_calls();
            out.push(ChatEvent::Done {
                finish: self.finish.unwrap_or(FinishReason::Stop),
                usage: self.usage,
            });
            return Ok((out, true));
        }
        let chunk: Value = serde_json::from_str(data).map_err(|e| unreadable(self.provider, e))?;
        if let Some(err) = chunk.get("error") {
            return Err(LlmError::Upstream {
                provider: self.provider,
                status: err["code"].as_u64().unwrap_or(500) as u16,
                message: err["message"]
                    .as_str()
                    .unwrap_or("the stream failed")
                    .to_string(),
            });
        }
        if let Some(u) = chunk.get("usage").filter(|u| !u.is_null()) {
            if let Ok(u) = serde_json::from_value::<WireUsage>(u.clone()) {
                self.usage = u.into();
            }
        }
        let mut out = Vec::new();
        for choice in chunk["choices"].as_array().into_iter().flatten() {
            let delta = &choice["delta"];
            if let Some(text) = delta["content"].as_str().filter(|t| !t.is_empty()) {
                out.push(ChatEvent::Text(text.to_string()));
            }
            for call in delta["tool_calls"].as_array().into_iter().flatten() {
                let index = call["index"].as_u64().unwrap_or(0);
                let entry = self.calls.entry(index).or_default();
                if let Some(id) = call["id"].as_str() {
                    entry.0 = id.to_string();
                }
                if let Some(name) = call["function"]["name"].as_str() {
                    entry.1.push_str(name);
                }
                if let Some(args) = call["function"]["arguments"].as_str() {
                    entry.2.push_str(args);
                }
            }
            if let Some(reason) = choice["finish_reason"].as_str() {
                self.finish = Some(finish(Some(reason)));
                out.extend(self.flush_calls());
            }
        }
        Ok((out, false))
    }
}
