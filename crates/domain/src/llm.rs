//! Talking to a language model: the request, the answer, its stream of
//! events and the errors every provider's are mapped onto.

use futures_core::Stream;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// Who said a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Speaker {
    /// The member.
    User,
    /// The model.
    Assistant,
    /// A tool's result, answering one of the model's tool calls.
    Tool,
}

/// A tool the model asked to run, with its arguments as JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The provider's id for the call; the result quotes it.
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// The arguments (an object, per the tool's schema).
    pub arguments: serde_json::Value,
}

/// One turn of a conversation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    /// Who said it.
    pub speaker: Speaker,
    /// The text (for a tool turn, the tool's result).
    pub text: String,
    /// The tools the model asked for in this (assistant) turn.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// For a tool turn, the call it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl Turn {
    /// A member's message.
    pub fn user(text: impl Into<String>) -> Self {
        Self {
            speaker: Speaker::User,
            text: text.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }
    /// The model's message, with the tools it asked for.
    pub fn assistant(text: impl Into<String>, tool_calls: Vec<ToolCall>) -> Self {
        Self {
            speaker: Speaker::Assistant,
            text: text.into(),
            tool_calls,
            tool_call_id: None,
        }
    }
    /// A tool's result for the call `id`.
    pub fn tool_result(id: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            speaker: Speaker::Tool,
            text: text.into(),
            tool_calls: Vec::new(),
            tool_call_id: Some(id.into()),
        }
    }
}

/// A tool offered to the model, described by a JSON Schema.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// Name the model calls it by.
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// JSON Schema of its arguments (an object schema).
    pub parameters: serde_json::Value,
}

/// What to ask the model.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatRequest {
    /// The provider's model name.
    pub model: String,
    /// Instructions that frame the whole conversation.
    pub system: Option<String>,
    /// The conversation so far, oldest first.
    pub turns: Vec<Turn>,
    /// Sampling temperature (0–2).
    pub temperature: Option<f32>,
    /// Most tokens to generate.
    pub max_tokens: Option<u32>,
    /// Tools the model may call.
    pub tools: Vec<ToolSpec>,
}

/// Tokens a call used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Generated tokens.
    pub output_tokens: u64,
}

/// Why the model stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// It finished its answer.
    Stop,
    /// It hit the token limit.
    Length,
    /// It wants tools run.
    ToolCalls,
    /// The provider filtered the answer.
    ContentFilter,
}

/// A whole answer.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatAnswer {
    /// The text.
    pub text: String,
    /// Tools it asked for.
    pub tool_calls: Vec<ToolCall>,
    /// Why it stopped.
    pub finish: FinishReason,
    /// Tokens used.
    pub usage: Usage,
}

/// What a streamed answer yields, in order: text deltas and whole tool
/// calls as they complete, then one `Done`.
#[derive(Clone, Debug, PartialEq)]
pub enum ChatEvent {
    /// More text.
    Text(String),
    /// A tool call, reassembled from its deltas.
    ToolCall(ToolCall),
    /// The end, with why and what it used.
    Done {
        /// Why it stopped.
        finish: FinishReason,
        /// Tokens used.
        usage: Usage,
    },
}

/// Every provider's failures, in the few kinds a caller acts on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LlmError {
    /// The provider refused the key.
    #[error("{provider} refused the API key: {message}")]
    InvalidKey {
        /// Which provider.
        provider: &'static str,
        /// What it said.
        message: String,
    },
    /// Too many requests; the provider asked to wait.
    #[error("{provider} is rate limiting this key: {message}")]
    RateLimited {
        /// Which provider.
        provider: &'static str,
        /// Seconds it asked to wait, when it said.
        retry_after: Option<u64>,
        /// What it said.
        message: String,
    },
    /// The conversation does not fit the model's context window.
    #[error("the conversation is longer than the model's context: {0}")]
    ContextTooLong(String),
    /// The provider refused the request as malformed (a bad model name…).
    #[error("{provider} refused the request: {message}")]
    Refused {
        /// Which provider.
        provider: &'static str,
        /// What it said.
        message: String,
    },
    /// The provider failed (5xx or overloaded).
    #[error("{provider} failed ({status}): {message}")]
    Upstream {
        /// Which provider.
        provider: &'static str,
        /// The HTTP status.
        status: u16,
        /// What it said.
        message: String,
    },
    /// No answer in time.
    #[error("{provider} did not answer within {} s", .after.as_secs())]
    Timeout {
        /// Which provider.
        provider: &'static str,
        /// The limit.
        after: Duration,
    },
    /// The provider could not be reached, or spoke something unreadable.
    #[error("{provider} could not be reached: {message}")]
    Unreachable {
        /// Which provider.
        provider: &'static str,
        /// Why.
        message: String,
    },
}

/// Texts embedded: one vector per text, in the order given.
#[derive(Clone, Debug, PartialEq)]
pub struct Embeddings {
    /// The vectors.
    pub vectors: Vec<Vec<f32>>,
    /// Tokens the texts took.
    pub input_tokens: u64,
}

/// A streamed answer.
pub type ChatStream = Pin<Box<dyn Stream<Item = Result<ChatEvent, LlmError>> + Send>>;

/// A future a provider returns.
pub type LlmFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, LlmError>> + Send + 'a>>;

/// A language model provider, called with one tenant's key.
pub trait ChatModel: Send + Sync {
    /// The provider's name for people.
    fn provider(&self) -> &'static str;

    /// Asks for a whole answer.
    fn chat<'a>(&'a self, req: &'a ChatRequest) -> LlmFuture<'a, ChatAnswer>;

    /// Asks for an answer as a stream of events. Dropping the stream ends
    /// the upstream request.
    fn chat_stream<'a>(&'a self, req: &'a ChatRequest) -> LlmFuture<'a, ChatStream>;

    /// The models the key may use.
    fn models(&self) -> LlmFuture<'_, Vec<String>>;

    /// Embeds `texts` with `model`. Providers without embeddings (Anthropic)
    /// refuse, saying so.
    fn embed<'a>(&'a self, model: &'a str, texts: &'a [String]) -> LlmFuture<'a, Embeddings> {
        let _ = (model, texts);
        Box::pin(async move {
            Err(LlmError::Refused {
                provider: self.provider(),
                message: "this provider offers no embeddings".into(),
            })
        })
    }
}
