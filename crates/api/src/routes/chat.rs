//! Chat with an agent (a JSON answer, or server-sent events with
//! `Accept: text/event-stream`) and the caller's conversations.

use crate::auth::Auth;
use crate::extract::{ApiJson, ApiQuery, Origin};
use crate::problem::{ApiError, Problem};
use app::approvals::{self, Decided};
use app::chat::{self, ChatEvent, ChatInput, ChatReply, ConversationDetail, ConversationPage};
use app::input::PageParams;
use app::App;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::convert::Infallible;
use tokio::sync::mpsc;

fn wants_events(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("text/event-stream"))
}

/// The problem a failure part way stands for, as the stream's last event.
async fn failed(e: app::AppError) -> ChatEvent {
    let res = ApiError(e).into_response();
    let status = res.status().as_u16();
    let body = axum::body::to_bytes(res.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let detail = serde_json::from_slice::<Problem>(&body)
        .map(|p| p.detail)
        .unwrap_or_else(|_| "the answer failed".into());
    ChatEvent::Failed { status, detail }
}

/// Sends a message to an agent. With `Accept: text/event-stream` the answer
/// streams as events (`conversation`, `delta`, `tool_call`, `tool_result`,
/// then `done` or `failed`); otherwise it comes whole. A client that
/// disconnects stops the model's answer; what was said is kept.
#[utoipa::path(post, path = "/api/v1/agents/{id}/chat", tag = "agents", security(("bearer" = [])), request_body = ChatInput,
    params(("id" = String, Path, description = "Agent id")),
    responses(
        (status = 200, description = "The answer, whole (JSON) or streamed (text/event-stream, one ChatEvent per event)", content(
            (ChatReply = "application/json"),
            (ChatEvent = "text/event-stream"),
        )),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No key for the agent's provider, or the provider refused it", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn send(
    State(state): State<App>,
    Auth(who): Auth,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ChatInput>,
) -> Result<Response, ApiError> {
    if !wants_events(&headers) {
        return Ok(Json(chat::send(&state, &who, &id, body).await?).into_response());
    }
    // Refusals (no key, no such agent, a bad message) are answered as
    // problems before the stream starts.
    let prepared = chat::prepare(&state, &who, &id, body).await?;
    Ok(stream(prepared))
}

/// The answer as server-sent events, one [`ChatEvent`] each.
fn stream(prepared: chat::Prepared) -> Response {
    let (tx, rx) = mpsc::channel(64);
    let last = tx.clone();
    tokio::spawn(async move {
        if let Err(e) = chat::run(prepared, tx).await {
            let _ = last.send(failed(e).await).await;
        }
    });
    let events = futures::stream::unfold(rx, |mut rx| async move {
        let ev = rx.recv().await?;
        let name = match &ev {
            ChatEvent::Conversation { .. } => "conversation",
            ChatEvent::Delta { .. } => "delta",
            ChatEvent::ToolCall { .. } => "tool_call",
            ChatEvent::ToolResult { .. } => "tool_result",
            ChatEvent::ApprovalNeeded { .. } => "approval_needed",
            ChatEvent::Done { .. } => "done",
            ChatEvent::Failed { .. } => "failed",
        };
        let event = Event::default()
            .event(name)
            .json_data(&ev)
            .unwrap_or_else(|_| Event::default().event("failed"));
        Some((Ok::<_, Infallible>(event), rx))
    });
    (
        StatusCode::OK,
        [(header::CACHE_CONTROL, "no-cache")],
        Sse::new(events).keep_alive(KeepAlive::default()),
    )
        .into_response()
}

async fn decided(
    state: App,
    who: domain::Principal,
    headers: HeaderMap,
    (conversation, approval): (String, String),
    approve: bool,
) -> Result<Response, ApiError> {
    match approvals::decide(&state, &who, &conversation, &approval, approve).await? {
        Decided::Waiting(reply) => Ok(Json(reply).into_response()),
        Decided::Resume(p) if wants_events(&headers) => Ok(stream(*p)),
        Decided::Resume(p) => Ok(Json(chat::run_whole(*p).await?).into_response()),
    }
}

/// Approves a tool call that waits in the caller's conversation: the tool
/// runs, and once no call waits any more the agent carries on, answering
/// as `…/chat` does (JSON, or events with `Accept: text/event-stream`).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/approvals/{approval_id}/approve", tag = "agents", security(("bearer" = [])),
    params(("id" = String, Path, description = "Conversation id"), ("approval_id" = String, Path, description = "Approval id")),
    responses(
        (status = 200, description = "The agent's answer from there, whole or streamed", content(
            (ChatReply = "application/json"),
            (ChatEvent = "text/event-stream"),
        )),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already decided", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn approve(
    State(state): State<App>,
    Auth(who): Auth,
    headers: HeaderMap,
    Path(ids): Path<(String, String)>,
) -> Result<Response, ApiError> {
    decided(state, who, headers, ids, true).await
}

/// Rejects a tool call that waits in the caller's conversation: it never
/// runs, the model is told so, and the agent carries on.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/approvals/{approval_id}/reject", tag = "agents", security(("bearer" = [])),
    params(("id" = String, Path, description = "Conversation id"), ("approval_id" = String, Path, description = "Approval id")),
    responses(
        (status = 200, description = "The agent's answer from there, whole or streamed", content(
            (ChatReply = "application/json"),
            (ChatEvent = "text/event-stream"),
        )),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already decided", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn reject(
    State(state): State<App>,
    Auth(who): Auth,
    headers: HeaderMap,
    Path(ids): Path<(String, String)>,
) -> Result<Response, ApiError> {
    decided(state, who, headers, ids, false).await
}

/// The caller's conversations, newest first.
#[utoipa::path(get, path = "/api/v1/conversations", tag = "agents", security(("bearer" = [])), params(PageParams),
    responses((status = 200, body = ConversationPage), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<App>,
    Auth(who): Auth,
    ApiQuery(q): ApiQuery<PageParams>,
) -> Result<Json<ConversationPage>, ApiError> {
    Ok(Json(chat::list(&state, &who, q).await?))
}

/// One of the caller's conversations with its messages.
#[utoipa::path(get, path = "/api/v1/conversations/{id}", tag = "agents", security(("bearer" = [])),
    params(("id" = String, Path, description = "Conversation id")),
    responses((status = 200, body = ConversationDetail), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get(
    State(state): State<App>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> Result<Json<ConversationDetail>, ApiError> {
    Ok(Json(chat::get(&state, &who, &id).await?))
}

/// Deletes one of the caller's conversations with its messages.
#[utoipa::path(delete, path = "/api/v1/conversations/{id}", tag = "agents", security(("bearer" = [])),
    params(("id" = String, Path, description = "Conversation id")),
    responses((status = 204, description = "Deleted"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn delete(
    State(state): State<App>,
    Auth(who): Auth,
    Origin(origin): Origin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    chat::delete(&state, &who, origin, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
