//! OpenAI's Chat Completions wire format to and from the provider-neutral
//! request and answer, for providers that speak another dialect
//! (Anthropic's Messages API): the request is read into a [`ChatRequest`],
//! the answer written back as a completion or as completion chunks.

use crate::AppError;
use domain::llm::{
    ChatAnswer, ChatEvent, ChatRequest, FinishReason, ToolCall, ToolSpec, Turn, Usage,
};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
struct Request {
    messages: Vec<Message>,
    #[serde(default)]
    temperature: Option<f32>,
    #[serde(default)]
    max_tokens: Option<u32>,
    #[serde(default)]
    max_completion_tokens: Option<u32>,
    #[serde(default)]
    tools: Vec<Tool>,
}

#[derive(Deserialize)]
struct Message {
    role: String,
    #[serde(default)]
    content: Option<Value>,
    #[serde(default)]
    tool_calls: Vec<WireCall>,
    #[serde(default)]
    tool_call_id: Option<String>,
}

#[derive(Deserialize)]
struct WireCall {
    id: String,
    function: WireFunction,
}

#[derive(Deserialize)]
struct WireFunction {
    name: String,
    #[serde(default)]
    arguments: String,
}

#[derive(Deserialize)]
struct Tool {
    function: ToolFunction,
}

#[derive(Deserialize)]
struct ToolFunction {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    parameters: Option<Value>,
}

/// The text of a message's content: a string, or the text parts of a list.
fn text(content: &Option<Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

/// Reads a Chat Completions request for `model`.
pub fn request(body: &[u8], model: &str) -> Result<ChatRequest, AppError> {
    let req: Request = serde_json::from_slice(body).map_err(|e| {
        AppError::MalformedBody(format!("the request is not a chat completion request: {e}"))
    })?;
    let mut system = Vec::new();
    let mut turns = Vec::with_capacity(req.messages.len());
    for (i, m) in req.messages.iter().enumerate() {
        match m.role.as_str() {
            "system" | "developer" => system.push(text(&m.content)),
            "user" => turns.push(Turn::user(text(&m.content))),
            "assistant" => turns.push(Turn::assistant(
                text(&m.content),
                m.tool_calls
                    .iter()
                    .map(|c| ToolCall {
                        id: c.id.clone(),
                        name: c.function.name.clone(),
                        arguments: serde_json::from_str(&c.function.arguments)
                            .unwrap_or_else(|_| json!({})),
                    })
                    .collect(),
            )),
            "tool" => turns.push(Turn::tool_result(
                m.tool_call_id.clone().unwrap_or_default(),
                text(&m.content),
            )),
            other => {
                return Err(AppError::field(
                    &format!("messages[{i}].role"),
                    format!("`{other}` is not system, developer, user, assistant or tool"),
                ))
            }
        }
    }
    if turns.is_empty() {
        return Err(AppError::field(
            "messages",
            "must hold at least one user message",
        ));
    }
    Ok(ChatRequest {
        model: model.to_string(),
        system: (!system.is_empty()).then(|| system.join("\n\n")),
        turns,
        temperature: req.temperature,
        max_tokens: req.max_completion_tokens.or(req.max_tokens),
        tools: req
            .tools
            .into_iter()
            .map(|t| ToolSpec {
                name: t.function.name,
                description: t.function.description,
                parameters: t
                    .function
                    .parameters
                    .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
            })
            .collect(),
    })
}

fn finish(f: FinishReason) -> &'static str {
    match f {
        FinishReason::Stop => "stop",
        FinishReason::Length => "length",
        FinishReason::ToolCalls => "tool_calls",
        FinishReason::ContentFilter => "content_filter",
    }
}

fn usage(u: Usage) -> Value {
    json!({
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.input_tokens + u.output_tokens,
    })
}

fn wire_call(c: &ToolCall) -> Value {
    json!({
        "id": c.id,
        "type": "function",
        "function": { "name": c.name, "arguments": c.arguments.to_string() },
    })
}

/// A whole answer as a `chat.completion`, named `model` as the caller
/// asked for it.
pub fn completion(id: &str, created: i64, model: &str, a: &ChatAnswer) -> Value {
    let mut message = json!({
        "role": "assistant",
        "content": if a.text.is_empty() && !a.tool_calls.is_empty() { Value::Null } else { json!(a.text) },
    });
    if !a.tool_calls.is_empty() {
        message["tool_calls"] = a.tool_calls.iter().map(wire_call).collect();
    }
    json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{ "index": 0, "message": message, "finish_reason": finish(a.finish) }],
        "usage": usage(a.usage),
    })
}

/// Writes streamed events as `chat.completion.chunk` frames.
pub struct Chunks {
    id: String,
    created: i64,
    model: String,
    include_usage: bool,
    calls: usize,
    started: bool,
}

impl Chunks {
    /// Frames for the answer `id` to a request for `model`.
    pub fn new(id: String, created: i64, model: String, include_usage: bool) -> Self {
        Self {
            id,
            created,
            model,
            include_usage,
            calls: 0,
            started: false,
        }
    }

    fn frame(&self, choices: Value, usage: Option<Value>) -> String {
        let mut chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
        });
        if let Some(u) = usage {
            chunk["usage"] = u;
        }
        format!("data: {chunk}\n\n")
    }

    /// The frames for one event (the end adds `[DONE]`).
    pub fn event(&mut self, e: &ChatEvent) -> String {
        let mut out = String::new();
        if !self.started {
            self.started = true;
            out.push_str(&self.frame(
                json!([{ "index": 0, "delta": { "role": "assistant", "content": "" }, "finish_reason": null }]),
                None,
            ));
        }
        match e {
            ChatEvent::Text(t) => out.push_str(&self.frame(
                json!([{ "index": 0, "delta": { "content": t }, "finish_reason": null }]),
                None,
            )),
            ChatEvent::ToolCall(c) => {
                let mut call = wire_call(c);
                call["index"] = json!(self.calls);
                self.calls += 1;
                out.push_str(&self.frame(
                    json!([{ "index": 0, "delta": { "tool_calls": [call] }, "finish_reason": null }]),
                    None,
                ));
            }
            ChatEvent::Done {
                finish: f,
                usage: u,
            } => {
                out.push_str(&self.frame(
                    json!([{ "index": 0, "delta": {}, "finish_reason": finish(*f) }]),
                    None,
                ));
                if self.include_usage {
                    out.push_str(&self.frame(json!([]), Some(usage(*u))));
                }
                out.push_str("data: [DONE]\n\n");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_messages_become_the_system_prompt_and_tool_turns_keep_their_call() {
        let body = json!({
            "model": "anthropic/claude-3-5-haiku-latest",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "time?"}]},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "now", "arguments": "{\"utc_offset\":\"+01:00\"}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "12:00"}
            ],
            "max_completion_tokens": 64
        });
        let r = request(body.to_string().as_bytes(), "claude-3-5-haiku-latest").unwrap();
        assert_eq!(r.system.as_deref(), Some("Be brief."));
        assert_eq!(r.turns.len(), 3);
        assert_eq!(r.turns[1].tool_calls[0].arguments["utc_offset"], "+01:00");
        assert_eq!(r.turns[2].tool_call_id.as_deref(), Some("c1"));
        assert_eq!(r.max_tokens, Some(64));
    }

    #[test]
    fn an_unknown_role_names_the_message() {
        let body = json!({"messages": [{"role": "robot", "content": "hi"}]});
        let e = request(body.to_string().as_bytes(), "m").unwrap_err();
        assert!(e.to_string().contains("messages[0].role"), "{e}");
    }

    #[test]
    fn a_stream_ends_with_the_finish_then_usage_when_asked_then_done() {
        let mut c = Chunks::new("chatcmpl-1".into(), 0, "anthropic/x".into(), true);
        let text = c.event(&ChatEvent::Text("Hi".into()));
        assert!(text.contains("\"role\":\"assistant\"") && text.contains("\"content\":\"Hi\""));
        let end = c.event(&ChatEvent::Done {
            finish: FinishReason::Stop,
            usage: Usage {
                input_tokens: 3,
                output_tokens: 1,
            },
        });
        let frames: Vec<&str> = end.split("\n\n").filter(|f| !f.is_empty()).collect();
        assert_eq!(frames.len(), 3);
        assert!(frames[0].contains("\"finish_reason\":\"stop\""));
        assert!(frames[1].contains("\"total_tokens\":4"));
        assert_eq!(frames[2], "data: [DONE]");
    }
}
