//! The OpenAI-compatible gateway (`/v1`): a tenant's own apps use the
//! platform as their model gateway with an API token holding the `gateway`
//! scope. Errors are problem+json that also carry OpenAI's `error` object,
//! so OpenAI's client libraries read them as they read OpenAI's.

use crate::auth::Auth;
use crate::problem::Problem;
use app::gateway::{self, ModelList, Reply};
use app::{App, AppError};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// A problem in both shapes: RFC 9457 and OpenAI's `error`.
fn problem(e: AppError) -> Response {
    let mut p = Problem::from(e);
    let kind = match p.status {
        400 | 422 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        409 => "invalid_request_error",
        429 => "rate_limit_error",
        _ => "api_error",
    };
    let param = p.errors.first().map(|f| f.field.clone());
    p.error = Some(json!({ "message": p.detail, "type": kind, "param": param, "code": p.title }));
    p.into_response()
}

fn answer(reply: Result<Reply, AppError>) -> Response {
    match reply {
        Ok(Reply::Json(bytes)) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            bytes,
        )
            .into_response(),
        Ok(Reply::Events(stream)) => {
            let mut res = Response::new(Body::from_stream(stream));
            let h = res.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            h.insert("x-accel-buffering", HeaderValue::from_static("no"));
            res
        }
        Err(e) => problem(e),
    }
}

/// Creates a chat completion, as OpenAI's `POST /v1/chat/completions`,
/// with the model named `provider/model`; `"stream": true` answers with
/// server-sent chunks ending in `data: [DONE]`.
#[utoipa::path(post, path = "/v1/chat/completions", tag = "gateway", security(("bearer" = [])),
    request_body(content = Object, content_type = "application/json",
        description = "OpenAI's chat completion request; `model` is `provider/model` (e.g. `openai/gpt-4o-mini`)"),
    responses(
        (status = 200, description = "OpenAI's chat completion, or its chunks as server-sent events with `\"stream\": true`", body = Object),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn chat_completions(State(state): State<App>, Auth(who): Auth, body: Bytes) -> Response {
    answer(gateway::chat_completions(&state, &who, body).await)
}

/// Creates embeddings, as OpenAI's `POST /v1/embeddings`, through a
/// provider that speaks OpenAI's dialect.
#[utoipa::path(post, path = "/v1/embeddings", tag = "gateway", security(("bearer" = [])),
    request_body(content = Object, content_type = "application/json",
        description = "OpenAI's embeddings request; `model` is `provider/model`"),
    responses(
        (status = 200, description = "OpenAI's embeddings list", body = Object),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn embeddings(State(state): State<App>, Auth(who): Auth, body: Bytes) -> Response {
    answer(gateway::embeddings(&state, &who, body).await)
}

/// Lists the models the workspace can use, as OpenAI's `GET /v1/models`,
/// each named `provider/model`.
#[utoipa::path(get, path = "/v1/models", tag = "gateway", security(("bearer" = [])),
    responses((status = 200, body = ModelList),
        (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn models(
    State(state): State<App>,
    Auth(who): Auth,
) -> Result<Json<ModelList>, Response> {
    gateway::models(&state, &who)
        .await
        .map(Json)
        .map_err(problem)
}
