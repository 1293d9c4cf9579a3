//! A local stand-in for the LLM providers' key-checking endpoints, faithful
//! to their published APIs:
//! - OpenAI `GET /v1/models` with `Authorization: Bearer`; a bad key is 401
//!   `{"error": {"message", "type": "invalid_request_error", "code": "invalid_api_key"}}`.
//! - Anthropic `GET /v1/models` with `x-api-key` and `anthropic-version`
//!   (400 without the version); a bad key is 401
//!   `{"type": "error", "error": {"type": "authentication_error", "message"}}`;
//!   the list pages with `has_more`, `first_id`, `last_id`.
//! - OpenRouter `GET /api/v1/key` with `Authorization: Bearer`; a bad key is
//!   401 `{"error": {"message", "code": 401}}`.
//! - An OpenAI-compatible server at `/compat/v1/models`.
//!
//! Rate limits: a key marked with [`ProviderSim::rate_limit`] gets 429 with
//! `retry-after`, in each provider's error shape.
//!
//! The chat endpoints are in [`crate::llm_chat`].

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the simulator knows and has seen.
#[derive(Default)]
pub(crate) struct SimState {
    valid: HashSet<String>,
    limited: HashSet<String>,
    calls: usize,
    ids: u64,
    /// Keys whose next requests fail: the status, and how many more.
    pub(crate) failures: HashMap<String, (u16, usize)>,
    /// Keys whose next request is rate limited for this many seconds.
    pub(crate) limit_once: HashMap<String, u64>,
    /// Keys whose answers come late.
    pub(crate) delays: HashMap<String, Duration>,
    /// The pause between streamed chunks.
    pub(crate) chunk_pause: Option<Duration>,
    /// Set when a client left a stream before its end.
    pub(crate) cut: Arc<AtomicBool>,
    /// Every chat request, in order.
    pub(crate) requests: Vec<crate::llm_chat::Recorded>,
}

impl SimState {
    pub(crate) fn next_id(&mut self) -> u64 {
        self.ids += 1;
        self.ids
    }
}

/// The simulator, on 127.0.0.1.
#[derive(Clone)]
pub struct ProviderSim {
    /// `http://127.0.0.1:port`.
    pub base: String,
    keys: Arc<Mutex<SimState>>,
}

pub(crate) fn bearer(h: &HeaderMap) -> Option<String> {
    h.get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::to_string)
}

fn masked(key: &str) -> String {
    let n = key.len();
    if n < 8 {
        return "***".into();
    }
    format!("{}***************{}", &key[..3], &key[n - 4..])
}

impl ProviderSim {
    /// Starts the simulator.
    pub async fn start() -> anyhow::Result<Self> {
        let keys = Arc::new(Mutex::new(SimState::default()));
        let app = Router::new()
            .route("/openai/v1/models", get(openai_models))
            .route("/compat/v1/models", get(openai_models))
            .route("/anthropic/v1/models", get(anthropic_models))
            .route("/openrouter/api/v1/key", get(openrouter_key))
            .route("/openrouter/api/v1/models", get(openrouter_models))
            .route(
                "/openai/v1/chat/completions",
                post(crate::llm_chat::openai_chat),
            )
            .route(
                "/compat/v1/chat/completions",
                post(crate::llm_chat::openai_chat),
            )
            .route(
                "/openrouter/api/v1/chat/completions",
                post(crate::llm_chat::openai_chat),
            )
            .route(
                "/openai/v1/embeddings",
                post(crate::llm_chat::openai_embeddings),
            )
            .route(
                "/compat/v1/embeddings",
                post(crate::llm_chat::openai_embeddings),
            )
            .route(
                "/anthropic/v1/messages",
                post(crate::llm_chat::anthropic_messages),
            )
            .with_state(keys.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { base, keys })
    }

    /// Endpoints of the app pointing here (compatible endpoints on loopback allowed).
    pub fn endpoints(&self) -> ai::providers::Endpoints {
        ai::providers::Endpoints {
            openai: format!("{}/openai/v1", self.base),
            anthropic: format!("{}/anthropic/v1", self.base),
            openrouter: format!("{}/openrouter/api/v1", self.base),
            allow_private_endpoints: true,
            local: None,
        }
    }

    /// The base URL of the OpenAI-compatible server.
    pub fn compatible_base(&self) -> String {
        format!("{}/compat/v1", self.base)
    }

    /// Makes a key valid at every provider.
    pub fn accept(&self, key: &str) {
        self.keys.lock().unwrap().valid.insert(key.to_string());
    }

    /// Revokes a key at the providers.
    pub fn reject(&self, key: &str) {
        self.keys.lock().unwrap().valid.remove(key);
    }

    /// Answers 429 for a key.
    pub fn rate_limit(&self, key: &str) {
        self.keys.lock().unwrap().limited.insert(key.to_string());
    }

    /// How many requests the providers received.
    pub fn calls(&self) -> usize {
        self.keys.lock().unwrap().calls
    }

    /// The next `times` chat requests with `key` fail with `status` (500,
    /// 503, or 529 for Anthropic's overloaded).
    pub fn fail_next(&self, key: &str, status: u16, times: usize) {
        self.keys
            .lock()
            .unwrap()
            .failures
            .insert(key.to_string(), (status, times));
    }

    /// The next chat request with `key` gets 429 with `retry-after: secs`.
    pub fn rate_limit_once(&self, key: &str, secs: u64) {
        self.keys
            .lock()
            .unwrap()
            .limit_once
            .insert(key.to_string(), secs);
    }

    /// Answers to `key` start only after `delay`.
    pub fn delay(&self, key: &str, delay: Duration) {
        self.keys
            .lock()
            .unwrap()
            .delays
            .insert(key.to_string(), delay);
    }

    /// Streams send a chunk every `pause`.
    pub fn pause_between_chunks(&self, pause: Duration) {
        self.keys.lock().unwrap().chunk_pause = Some(pause);
    }

    /// Whether a client left a stream before its end.
    pub fn stream_was_cut(&self) -> bool {
        self.keys.lock().unwrap().cut.load(Ordering::SeqCst)
    }

    /// The chat requests received, in order.
    pub fn chat_requests(&self) -> Vec<crate::llm_chat::Recorded> {
        self.keys.lock().unwrap().requests.clone()
    }
}

pub(crate) enum Outcome {
    Valid,
    Limited,
    LimitedFor(u64),
    Invalid,
}

pub(crate) fn judge(keys: &Mutex<SimState>, key: &str) -> Outcome {
    let mut k = keys.lock().unwrap();
    k.calls += 1;
    if k.limited.contains(key) {
        Outcome::Limited
    } else if k.valid.contains(key) {
        Outcome::Valid
    } else {
        Outcome::Invalid
    }
}

async fn openai_models(State(keys): State<Arc<Mutex<SimState>>>, h: HeaderMap) -> Response {
    let Some(key) = bearer(&h) else {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": {
            "message": "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            "type": "invalid_request_error", "param": null, "code": null}}))).into_response();
    };
    match judge(&keys, &key) {
        Outcome::Valid => Json(json!({"object": "list", "data": [
            {"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system"},
            {"id": "gpt-4o", "object": "model", "created": 1715367049, "owned_by": "system"},
            {"id": "text-embedding-3-small", "object": "model", "created": 1705948997, "owned_by": "system"}
        ]}))
        .into_response(),
        Outcome::Limited | Outcome::LimitedFor(_) => (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "20")], Json(json!({"error": {
            "message": "Rate limit reached for requests. Please try again in 20s.",
            "type": "requests", "param": null, "code": "rate_limit_exceeded"}}))).into_response(),
        Outcome::Invalid => (StatusCode::UNAUTHORIZED, Json(json!({"error": {
            "message": format!("Incorrect API key provided: {}. You can find your API key at https://platform.openai.com/account/api-keys.", masked(&key)),
            "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}))).into_response(),
    }
}

async fn anthropic_models(State(keys): State<Arc<Mutex<SimState>>>, h: HeaderMap) -> Response {
    if h.get("anthropic-version").is_none() {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"type": "error", "error": {
            "type": "invalid_request_error", "message": "anthropic-version: header is required"}})),
        )
            .into_response();
    }
    let key = h
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    match judge(&keys, &key) {
        Outcome::Valid => Json(json!({
            "data": [
                {"type": "model", "id": "claude-sonnet-4-5", "display_name": "Claude Sonnet 4.5", "created_at": "2025-09-29T00:00:00Z"},
                {"type": "model", "id": "claude-haiku-4-5", "display_name": "Claude Haiku 4.5", "created_at": "2025-10-15T00:00:00Z"}
            ],
            "has_more": false, "first_id": "claude-sonnet-4-5", "last_id": "claude-haiku-4-5"
        }))
        .into_response(),
        Outcome::Limited | Outcome::LimitedFor(_) => (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "15")], Json(json!({"type": "error", "error": {
            "type": "rate_limit_error", "message": "Number of requests has exceeded your rate limit"}}))).into_response(),
        Outcome::Invalid => (StatusCode::UNAUTHORIZED, Json(json!({"type": "error", "error": {
            "type": "authentication_error", "message": "invalid x-api-key"}}))).into_response(),
    }
}

async fn openrouter_key(State(keys): State<Arc<Mutex<SimState>>>, h: HeaderMap) -> Response {
    let key = bearer(&h).unwrap_or_default();
    match judge(&keys, &key) {
        Outcome::Valid => Json(json!({"data": {
            "label": masked(&key), "usage": 0.0, "limit": null, "limit_remaining": null,
            "is_free_tier": false, "is_provisioning_key": false,
            "rate_limit": {"requests": 200, "interval": "10s"}
        }}))
        .into_response(),
        Outcome::Limited | Outcome::LimitedFor(_) => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "10")],
            Json(json!({"error": {
            "message": "Rate limit exceeded", "code": 429}})),
        )
            .into_response(),
        Outcome::Invalid => (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": {
            "message": "User not found.", "code": 401}})),
        )
            .into_response(),
    }
}

/// OpenRouter's model list is public.
async fn openrouter_models() -> Response {
    Json(json!({"data": [
        {"id": "openai/gpt-4o-mini", "name": "OpenAI: GPT-4o-mini", "context_length": 128000},
        {"id": "anthropic/claude-haiku-4.5", "name": "Anthropic: Claude Haiku 4.5", "context_length": 200000}
    ]}))
    .into_response()
}

/// The name of the real local model every test app is given as the `local`
/// provider (scripts/llm/local-model.sh starts it; scripts/test.sh exports
/// its address). Without it the test fails, saying how to start it.
pub fn local_model() -> String {
    std::env::var("BIZOSAAS_TEST_LLM_MODEL").expect(
        "BIZOSAAS_TEST_LLM_URL and BIZOSAAS_TEST_LLM_MODEL are not set: run `bash scripts/llm/local-model.sh install && bash scripts/llm/local-model.sh start`, then `source /var/tmp/bizosaas-services/env`",
    )
}
