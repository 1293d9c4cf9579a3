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

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Keys {
    valid: HashSet<String>,
    limited: HashSet<String>,
    calls: usize,
}

/// The simulator, on 127.0.0.1.
#[derive(Clone)]
pub struct ProviderSim {
    /// `http://127.0.0.1:port`.
    pub base: String,
    keys: Arc<Mutex<Keys>>,
}

fn bearer(h: &HeaderMap) -> Option<String> {
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
        let keys = Arc::new(Mutex::new(Keys::default()));
        let app = Router::new()
            .route("/openai/v1/models", get(openai_models))
            .route("/compat/v1/models", get(openai_models))
            .route("/anthropic/v1/models", get(anthropic_models))
            .route("/openrouter/api/v1/key", get(openrouter_key))
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
}

enum Outcome {
    Valid,
    Limited,
    Invalid,
}

fn judge(keys: &Mutex<Keys>, key: &str) -> Outcome {
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

async fn openai_models(State(keys): State<Arc<Mutex<Keys>>>, h: HeaderMap) -> Response {
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
        Outcome::Limited => (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "20")], Json(json!({"error": {
            "message": "Rate limit reached for requests. Please try again in 20s.",
            "type": "requests", "param": null, "code": "rate_limit_exceeded"}}))).into_response(),
        Outcome::Invalid => (StatusCode::UNAUTHORIZED, Json(json!({"error": {
            "message": format!("Incorrect API key provided: {}. You can find your API key at https://platform.openai.com/account/api-keys.", masked(&key)),
            "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}))).into_response(),
    }
}

async fn anthropic_models(State(keys): State<Arc<Mutex<Keys>>>, h: HeaderMap) -> Response {
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
        Outcome::Limited => (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "15")], Json(json!({"type": "error", "error": {
            "type": "rate_limit_error", "message": "Number of requests has exceeded your rate limit"}}))).into_response(),
        Outcome::Invalid => (StatusCode::UNAUTHORIZED, Json(json!({"type": "error", "error": {
            "type": "authentication_error", "message": "invalid x-api-key"}}))).into_response(),
    }
}

async fn openrouter_key(State(keys): State<Arc<Mutex<Keys>>>, h: HeaderMap) -> Response {
    let key = bearer(&h).unwrap_or_default();
    match judge(&keys, &key) {
        Outcome::Valid => Json(json!({"data": {
            "label": masked(&key), "usage": 0.0, "limit": null, "limit_remaining": null,
            "is_free_tier": false, "is_provisioning_key": false,
            "rate_limit": {"requests": 200, "interval": "10s"}
        }}))
        .into_response(),
        Outcome::Limited => (
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
