//! Chatting with an agent: the member's message, the agent's answer
//! streamed from its model on the tenant's own key, the tools it calls run
//! in a bounded loop, and everything kept in the member's conversation.
//!
//! One path serves both the JSON answer and the event stream: the loop
//! reports [`ChatEvent`]s into a channel; the JSON caller drains it, the
//! streaming caller forwards it. When the receiver is gone (the client
//! disconnected), the loop stops and drops the upstream request.

use crate::agents::AgentView;
use crate::budgets::Hold;
use crate::input::{paging, parse_id, PageParams};
use crate::{access, App, AppError};
use ai::chat::Upstream;
use ai::providers::Provider;
use chrono::{DateTime, Utc};
use domain::audit::NewAuditEntry;
use domain::llm::{
    ChatEvent as ModelEvent, ChatModel, ChatRequest, LlmError, Speaker, ToolCall, Turn, Usage,
};
use domain::secrets::SecretPath;
use domain::tokens::Scope;
use domain::{AgentId, ConversationId, Principal, TenantScope};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::conversations::{self as repo, ChatMessage, Conversation};
use store::usage::{self, UsageRecord};
use store::{api_keys, audit};
use tokio::sync::mpsc;
use uuid::Uuid;

/// The provider name of the platform's own model server, which needs no key.
pub const LOCAL_SERVICE: &str = "local";
/// Most model calls one message may lead to (each tool round is one).
pub const MAX_STEPS: usize = 6;
/// The longest a whole answer, tool rounds included, may take.
pub const MAX_TIME: Duration = Duration::from_secs(180);
/// Longest message a member may send, in characters.
pub const MAX_MESSAGE_CHARS: usize = 32_000;
/// The context assumed for a model whose window is not known, in tokens.
pub const DEFAULT_CONTEXT_TOKENS: usize = 32_000;

/// A message to an agent.
#[derive(Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatInput {
    /// What the member says.
    pub message: String,
    /// The conversation to continue; a new one starts without it.
    pub conversation_id: Option<String>,
}

/// A stored message as shown.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MessageView {
    /// Id (time-ordered).
    pub id: Uuid,
    /// `user`, `assistant` or `tool`.
    pub role: String,
    /// The text (a tool's result for `tool`).
    pub content: String,
    /// Tools the assistant called.
    #[schema(value_type = Vec<Object>)]
    pub tool_calls: Vec<ToolCall>,
    /// For a tool result, the call it answers.
    pub tool_call_id: Option<String>,
    /// The model that wrote it.
    pub model: Option<String>,
    /// Prompt tokens of the call that wrote it.
    pub input_tokens: i64,
    /// Tokens it took.
    pub output_tokens: i64,
    /// How long the model took, in milliseconds.
    pub latency_ms: i64,
    /// Written (UTC).
    pub created_at: DateTime<Utc>,
}

impl From<ChatMessage> for MessageView {
    fn from(m: ChatMessage) -> Self {
        Self {
            id: m.id,
            role: m.role,
            content: m.content,
            tool_calls: m.tool_calls,
            tool_call_id: m.tool_call_id,
            model: m.model,
            input_tokens: m.input_tokens,
            output_tokens: m.output_tokens,
            latency_ms: m.latency_ms,
            created_at: m.created_at,
        }
    }
}

/// The agent's answer to one message.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChatReply {
    /// The conversation (new or continued).
    pub conversation_id: ConversationId,
    /// The answer's text.
    pub answer: String,
    /// What this message added after the member's: the agent's turns and
    /// the tools' results, in order.
    pub messages: Vec<MessageView>,
    /// Tokens used by all the model calls of this answer.
    pub input_tokens: u64,
    /// See `input_tokens`.
    pub output_tokens: u64,
    /// Tool calls that wait for the member's approval before they run (the
    /// answer carries on once each is approved or rejected).
    #[serde(default)]
    pub pending_approvals: Vec<crate::approvals::ApprovalView>,
}

/// What a streamed answer reports, in order.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChatEvent {
    /// The conversation this answer belongs to.
    Conversation {
        /// Its id.
        id: ConversationId,
    },
    /// More of the answer's text.
    Delta {
        /// The text.
        text: String,
    },
    /// The agent calls a tool.
    ToolCall {
        /// The call's id.
        id: String,
        /// The tool.
        name: String,
        /// Its arguments.
        arguments: Value,
    },
    /// A tool's result.
    ToolResult {
        /// The call it answers.
        id: String,
        /// The tool.
        name: String,
        /// What it returned (or why it failed).
        result: String,
    },
    /// A tool call waits for the member's approval (`POST
    /// /api/v1/conversations/{conversation}/approvals/{id}/approve` or
    /// `…/reject`).
    ApprovalNeeded {
        /// The waiting call.
        approval: crate::approvals::ApprovalView,
    },
    /// The answer is complete (or waits for approvals).
    Done {
        /// The whole text.
        answer: String,
        /// Prompt tokens, all calls.
        input_tokens: u64,
        /// Generated tokens, all calls.
        output_tokens: u64,
    },
    /// It failed part way; what was said so far is kept.
    Failed {
        /// The HTTP status the failure stands for.
        status: u16,
        /// What went wrong.
        detail: String,
    },
}

/// A conversation as listed.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConversationView {
    /// Id.
    pub id: ConversationId,
    /// The agent.
    pub agent_id: AgentId,
    /// Its first words.
    pub title: String,
    /// Started (UTC).
    pub created_at: DateTime<Utc>,
    /// Last message (UTC).
    pub updated_at: DateTime<Utc>,
}

impl From<Conversation> for ConversationView {
    fn from(c: Conversation) -> Self {
        Self {
            id: c.id,
            agent_id: c.agent_id,
            title: c.title,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// A page of conversations.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConversationPage {
    /// Newest first.
    pub items: Vec<ConversationView>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// A conversation with its messages.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConversationDetail {
    /// The conversation.
    pub conversation: ConversationView,
    /// Its messages, oldest first.
    pub messages: Vec<MessageView>,
    /// Tool calls that waited for (or still wait for) the member's decision.
    #[serde(default)]
    pub approvals: Vec<crate::approvals::ApprovalView>,
}

/// Everything a chat needs, checked, with the member's message stored.
pub struct Prepared {
    state: App,
    scope: TenantScope,
    agent: AgentView,
    conversation: Conversation,
    model: Arc<dyn ChatModel>,
    history: Vec<Turn>,
    budget: Option<store::budgets::Budget>,
}

impl Prepared {
    /// The conversation the answer goes to.
    pub fn conversation_id(&self) -> ConversationId {
        self.conversation.id
    }
    pub(crate) fn agent(&self) -> &AgentView {
        &self.agent
    }
    pub(crate) fn state(&self) -> &App {
        &self.state
    }
    pub(crate) fn scope(&self) -> &TenantScope {
        &self.scope
    }
}

fn llm_error(e: LlmError, service: &str) -> AppError {
    match e {
        LlmError::InvalidKey { provider, message } => AppError::Conflict(format!(
            "{provider} refused the `{service}` key ({message}); replace it at /ai-agents/byok"
        )),
        LlmError::RateLimited { retry_after, .. } => AppError::TooManyRequests {
            detail: e.to_string(),
            retry_after: retry_after.unwrap_or(30),
        },
        LlmError::ContextTooLong(m) => AppError::field(
            "message",
            format!("the message does not fit the model's context even alone: {m}"),
        ),
        LlmError::Refused { .. } => {
            AppError::Conflict(format!("{e}; check the agent's provider and model"))
        }
        LlmError::Upstream { .. } | LlmError::Timeout { .. } | LlmError::Unreachable { .. } => {
            AppError::Unavailable(format!("{e}; nothing was lost, send the message again"))
        }
    }
}

/// The model client for the agent: its provider service's key from the
/// secret store (through its cache), or a 409 that says where to add one.
async fn model_for(
    state: &App,
    scope: &TenantScope,
    agent: &AgentView,
) -> Result<Arc<dyn ChatModel>, AppError> {
    let service = &agent.config.provider;
    model_for_service(state, scope, service)
        .await?
        .ok_or_else(|| {
            AppError::Conflict(if service == LOCAL_SERVICE {
                "this platform runs no local model (`ai.local_url`); give the agent a provider the workspace has a key for, or add one at /ai-agents/byok".into()
            } else {
                format!("this workspace has no `{service}` key for the agent to use; add one at /ai-agents/byok")
            })
        })
}

/// The model client for a BYOK service of the tenant, if it has a key.
pub(crate) async fn model_for_service(
    state: &App,
    scope: &TenantScope,
    service: &str,
) -> Result<Option<Arc<dyn ChatModel>>, AppError> {
    Ok(upstream_for_service(state, scope, service)
        .await?
        .map(|u| u.model()))
}

/// The provider client for a service of the tenant: the platform's own
/// model for `local` (when it runs one), else the tenant's BYOK key of
/// that service, read through the secret cache on every call.
pub(crate) async fn upstream_for_service(
    state: &App,
    scope: &TenantScope,
    service: &str,
) -> Result<Option<Upstream>, AppError> {
    if service == LOCAL_SERVICE {
        return Ok(state.models.local());
    }
    let mut tx = state.store.read(scope).await?;
    let key = api_keys::find(&mut tx, service).await?;
    tx.commit().await?;
    let Some(key) = key else {
        return Ok(None);
    };
    let path = SecretPath::parse(scope.tenant(), &key.vault_path).map_err(AppError::Internal)?;
    let secret = state.secrets.get(&path).await?;
    let api_key = secret
        .get("api_key")
        .cloned()
        .ok_or_else(|| AppError::Internal(format!("no api_key field at {path}")))?;
    state
        .models
        .upstream_for_key(
            Provider::for_service(service),
            key.base_url.as_deref(),
            api_key,
        )
        .map(Some)
        .map_err(|e| llm_error(e, service))
}

fn turn_of(m: &ChatMessage) -> Turn {
    match m.role.as_str() {
        "assistant" => Turn::assistant(&m.content, m.tool_calls.clone()),
        "tool" => Turn::tool_result(m.tool_call_id.clone().unwrap_or_default(), &m.content),
        _ => Turn::user(&m.content),
    }
}

fn may_chat(who: &Principal, agent: &AgentView) -> Result<(), AppError> {
    let least = agent.config.permissions.chat;
    if crate::agents::standing(who).is_some_and(|role| role >= least) {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!(
            "chatting with this agent needs the `{least}` role (its permissions say so)"
        )))
    }
}

/// Picks up the caller's own conversation where it stands (after its
/// waiting tool calls were decided), for the agent to carry on.
pub(crate) async fn resume(
    state: &App,
    who: &Principal,
    conversation: ConversationId,
) -> Result<Prepared, AppError> {
    let scope = access::require(who, Scope::Read)?;
    let mut tx = state.store.read(&scope).await?;
    let c = repo::get_own(&mut tx, conversation)
        .await?
        .ok_or_else(|| AppError::NotFound("no such conversation of yours".into()))?;
    let history = repo::messages(&mut tx, conversation)
        .await?
        .iter()
        .map(turn_of)
        .collect();
    tx.commit().await?;
    let agent = crate::agents::get(state, who, &c.agent_id.to_string()).await?;
    may_chat(who, &agent)?;
    let model = model_for(state, &scope, &agent).await?;
    let budget = crate::budgets::of(state, &scope).await?;
    Ok(Prepared {
        state: state.clone(),
        scope,
        agent,
        conversation: c,
        model,
        history,
        budget,
    })
}

/// Keeps a tool's result in the conversation.
pub(crate) async fn keep_tool_result(
    p: &Prepared,
    call: &ToolCall,
    result: &str,
) -> Result<MessageView, AppError> {
    let m = stored(
        p.conversation.id,
        Turn::tool_result(&call.id, result),
        None,
        Usage::default(),
        0,
    );
    save(p, &m).await?;
    Ok(MessageView::from(m))
}

/// Checks the caller, the agent and the message, finds the key, and keeps
/// the member's message (starting a conversation if none is named).
pub async fn prepare(
    state: &App,
    who: &Principal,
    agent_id: &str,
    input: ChatInput,
) -> Result<Prepared, AppError> {
    let scope = access::require(who, Scope::Read)?;
    let agent = crate::agents::get(state, who, agent_id).await?;
    may_chat(who, &agent)?;
    let message = input.message.trim();
    if message.is_empty() || message.chars().count() > MAX_MESSAGE_CHARS {
        return Err(AppError::field(
            "message",
            format!("must be 1 to {MAX_MESSAGE_CHARS} characters"),
        ));
    }
    let conversation_id = input
        .conversation_id
        .as_deref()
        .map(|raw| parse_id::<ConversationId>(raw, "conversation_id"))
        .transpose()?;
    let model = model_for(state, &scope, &agent).await?;
    let budget = crate::budgets::of(state, &scope).await?;
    crate::budgets::admit(state, &scope, budget).await?;
    let now = Utc::now();
    let mut tx = state.store.write(&scope).await?;
    let (conversation, history) = match conversation_id {
        Some(id) => {
            let c = repo::get_own(&mut tx, id)
                .await?
                .filter(|c| c.agent_id == agent.id)
                .ok_or_else(|| {
                    AppError::NotFound("no such conversation of yours with this agent".into())
                })?;
            let waiting = store::approvals::of_conversation(&mut tx, id)
                .await?
                .into_iter()
                .filter(|a| a.status == "pending")
                .count();
            if waiting > 0 {
                return Err(AppError::Conflict(format!(
                    "{waiting} tool call(s) of this conversation wait for your approval: approve or reject them first (POST /api/v1/conversations/{id}/approvals/{{approval_id}}/approve or /reject)"
                )));
            }
            let history = repo::messages(&mut tx, id)
                .await?
                .iter()
                .map(turn_of)
                .collect();
            (c, history)
        }
        None => {
            let title: String = message.chars().take(80).collect();
            let c = repo::create(&mut tx, ConversationId::new(), agent.id, &title, now).await?;
            (c, Vec::new())
        }
    };
    repo::add_message(
        &mut tx,
        &stored(
            conversation.id,
            Turn::user(message),
            None,
            Usage::default(),
            0,
        ),
    )
    .await?;
    tx.commit().await?;
    let mut history: Vec<Turn> = history;
    history.push(Turn::user(message));
    Ok(Prepared {
        state: state.clone(),
        scope,
        agent,
        conversation,
        model,
        history,
        budget,
    })
}

fn stored(
    conversation: ConversationId,
    turn: Turn,
    model: Option<&str>,
    usage: Usage,
    latency_ms: i64,
) -> ChatMessage {
    ChatMessage {
        id: Uuid::now_v7(),
        conversation_id: conversation,
        role: match turn.speaker {
            Speaker::User => "user",
            Speaker::Assistant => "assistant",
            Speaker::Tool => "tool",
        }
        .into(),
        content: turn.text,
        tool_calls: turn.tool_calls,
        tool_call_id: turn.tool_call_id,
        model: model.map(str::to_string),
        input_tokens: usage.input_tokens as i64,
        output_tokens: usage.output_tokens as i64,
        latency_ms,
        created_at: Utc::now(),
    }
}

/// Keeps the newest turns that fit `budget` tokens (about four characters
/// each), never starting on a tool result or an assistant's tool call
/// whose results were cut: the system prompt is sent apart and always.
pub fn trim(turns: &[Turn], budget: usize) -> Vec<Turn> {
    let cost = |t: &Turn| {
        (t.text.len()
            + t.tool_calls
                .iter()
                .map(|c| c.arguments.to_string().len() + c.name.len())
                .sum::<usize>())
            / 4
            + 4
    };
    let mut used = 0;
    let mut start = turns.len();
    while start > 0 {
        let c = cost(&turns[start - 1]);
        if used + c > budget && start < turns.len() {
            break;
        }
        used += c;
        start -= 1;
    }
    // A conversation must begin with the member speaking.
    while start < turns.len().saturating_sub(1) && turns[start].speaker != Speaker::User {
        start += 1;
    }
    turns[start..].to_vec()
}

/// Runs a tool the agent asked for: refused if the agent was not given
/// it; audited either way.
pub(crate) async fn run_tool(p: &Prepared, call: &ToolCall) -> Result<String, AppError> {
    let enabled = p.agent.config.tools.contains(&call.name);
    let result = if !enabled {
        Err(format!(
            "the tool `{}` is not enabled for this agent",
            call.name
        ))
    } else if let Some(r) = ai::tools::run_pure(&call.name, &call.arguments) {
        r
    } else if call.name == "audit_log_search" {
        audit_search(p, &call.arguments).await?
    } else if call.name == "send_email" {
        send_email(p, &call.arguments).await
    } else if ai::tools::find(&call.name).is_some_and(|t| t.connector.is_some()) {
        crate::connectors::run_tool(&p.state, &p.scope, &call.name, &call.arguments).await?
    } else {
        Err(format!("there is no tool named `{}`", call.name))
    };
    let mut tx = p.state.store.write(&p.scope).await?;
    audit::record(
        &mut tx,
        NewAuditEntry::new("agent.tool_called", "agent", Some(p.agent.id.to_string()))
            .with_metadata(json!({
                "tool": call.name,
                "conversation_id": p.conversation.id,
                "ok": result.is_ok(),
            })),
    )
    .await?;
    tx.commit().await?;
    Ok(match result {
        Ok(text) => text,
        Err(why) => format!("error: {why}"),
    })
}

/// The email tool: one plain-text message from the platform's sender. It
/// changes something outside, so it runs only once approved (or for an
/// agent configured to run such tools without asking).
async fn send_email(p: &Prepared, args: &Value) -> Result<String, String> {
    let to = args["to"].as_str().unwrap_or_default();
    let to = domain::validation::Email::parse(to).map_err(|e| format!("`to`: {e}"))?;
    let subject = args["subject"].as_str().unwrap_or_default().trim();
    let body = args["body"].as_str().unwrap_or_default();
    if subject.is_empty() || subject.chars().count() > 200 {
        return Err("`subject` must be 1 to 200 characters".into());
    }
    if body.trim().is_empty() || body.len() > 20_000 {
        return Err("`body` must be 1 to 20,000 bytes".into());
    }
    p.state
        .email
        .send(domain::email::OutgoingEmail {
            to: to.as_str().to_string(),
            subject: subject.to_string(),
            body: body.to_string(),
        })
        .await
        .map_err(|e| e.to_string())?;
    Ok(format!("sent to {}", to.as_str()))
}

/// The audit-log tool: the caller's own view of the log (they may list it),
/// without addresses, browsers or metadata, which the model does not need.
async fn audit_search(p: &Prepared, args: &Value) -> Result<Result<String, String>, AppError> {
    let since = match args["since"].as_str() {
        Some(s) => match DateTime::parse_from_rfc3339(s) {
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(_) => return Ok(Err(format!("`since` is not an RFC 3339 time: {s}"))),
        },
        None => None,
    };
    let limit = args["limit"].as_u64().unwrap_or(20).clamp(1, 50) as u32;
    let filter = domain::audit::AuditFilter {
        action: args["action"].as_str().map(str::to_string),
        resource_type: None,
        since,
        until: None,
    };
    let limit = domain::paging::Limit::parse(Some(limit)).map_err(AppError::Internal)?;
    let mut tx = p.state.store.read(&p.scope).await?;
    let page = audit::list(&mut tx, &filter, None, limit).await?;
    tx.commit().await?;
    let rows: Vec<Value> = page
        .items
        .iter()
        .map(|e| json!({ "at": e.created_at, "action": e.action, "resource": e.resource_type, "resource_id": e.resource_id }))
        .collect();
    Ok(Ok(Value::Array(rows).to_string()))
}

/// Lets the agent answer: model calls and tool rounds, at most
/// [`MAX_STEPS`] calls and [`MAX_TIME`], each turn stored as it ends.
/// Reports into `events`; stops when nobody listens any more.
pub async fn run(p: Prepared, events: mpsc::Sender<ChatEvent>) -> Result<ChatReply, AppError> {
    let started = Instant::now();
    let service = p.agent.config.provider.clone();
    // A connector's tools are offered only while the workspace has it.
    let connected = crate::connectors::connected(&p.state, &p.scope).await?;
    let tools: Vec<_> = p
        .agent
        .config
        .tools
        .iter()
        .filter_map(|t| ai::tools::find(t))
        .filter(|i| i.connector.is_none_or(|c| connected.iter().any(|m| m == c)))
        .map(|i| i.spec.clone())
        .collect();
    let budget = DEFAULT_CONTEXT_TOKENS.saturating_sub(
        p.agent.config.max_tokens as usize + p.agent.config.full_prompt().len() / 4,
    );
    let mut history = p.history.clone();
    let mut added = Vec::new();
    let mut total = Usage::default();
    let mut answer = String::new();
    let _ = events
        .send(ChatEvent::Conversation {
            id: p.conversation.id,
        })
        .await;
    for _ in 0..MAX_STEPS {
        let req = ChatRequest {
            model: p.agent.config.model.clone(),
            system: Some(p.agent.config.full_prompt()),
            turns: trim(&history, budget),
            temperature: Some(p.agent.config.temperature),
            max_tokens: Some(p.agent.config.max_tokens),
            tools: tools.clone(),
        };
        let hold = match p.budget {
            Some(budget) => Some(hold_for(&p, budget, &req, &service).await?),
            None => None,
        };
        let t0 = Instant::now();
        let mut stream = match p.model.chat_stream(&req).await {
            Ok(stream) => stream,
            Err(e) => {
                release(&p, hold.as_ref()).await?;
                return Err(llm_error(e, &service));
            }
        };
        let mut text = String::new();
        let mut calls = Vec::new();
        let mut usage = Usage::default();
        let mut gone = false;
        let mut failure = None;
        loop {
            let left = MAX_TIME.saturating_sub(started.elapsed());
            let next = match tokio::time::timeout(left, stream.next()).await {
                Ok(next) => next,
                Err(_) => {
                    failure = Some(AppError::Unavailable(format!(
                        "the answer took longer than {} s and was stopped",
                        MAX_TIME.as_secs()
                    )));
                    break;
                }
            };
            match next {
                None => break,
                Some(Ok(ModelEvent::Text(t))) => {
                    text.push_str(&t);
                    if events.send(ChatEvent::Delta { text: t }).await.is_err() {
                        gone = true;
                        break;
                    }
                }
                Some(Ok(ModelEvent::ToolCall(c))) => calls.push(c),
                Some(Ok(ModelEvent::Done { usage: u, .. })) => usage = u,
                Some(Err(e)) => {
                    failure = Some(llm_error(e, &service));
                    break;
                }
            }
        }
        // Dropping the stream ends the upstream request at once.
        drop(stream);
        total.input_tokens += usage.input_tokens;
        total.output_tokens += usage.output_tokens;
        let latency = t0.elapsed().as_millis() as i64;
        let turn = Turn::assistant(
            &text,
            if gone || failure.is_some() {
                Vec::new()
            } else {
                calls.clone()
            },
        );
        let message = (!turn.text.is_empty() || !turn.tool_calls.is_empty()).then(|| {
            stored(
                p.conversation.id,
                turn.clone(),
                Some(&p.agent.config.model),
                usage,
                latency,
            )
        });
        let call = UsageRecord {
            id: Uuid::now_v7(),
            agent_id: Some(p.agent.id),
            provider: service.clone(),
            model: p.agent.config.model.clone(),
            input_tokens: usage.input_tokens as i64,
            output_tokens: usage.output_tokens as i64,
            cost_micros: ai::prices::cost_micros(
                &service,
                &p.agent.config.model,
                usage.input_tokens,
                usage.output_tokens,
            ),
            latency_ms: latency,
            created_at: Utc::now(),
        };
        save_call(&p, message.as_ref(), &call, hold.as_ref()).await?;
        added.extend(message.map(MessageView::from));
        answer.push_str(&text);
        if gone {
            return Err(AppError::Unavailable(
                "the client left; the answer so far is kept".into(),
            ));
        }
        if let Some(e) = failure {
            return Err(e);
        }
        if calls.is_empty() {
            return Ok(done(&p, &events, answer, added, total, Vec::new()).await);
        }
        history.push(turn);
        let mut waiting = Vec::new();
        for call in &calls {
            let _ = events
                .send(ChatEvent::ToolCall {
                    id: call.id.clone(),
                    name: call.name.clone(),
                    arguments: call.arguments.clone(),
                })
                .await;
            if crate::approvals::must_wait(&p, call) {
                let approval = crate::approvals::ask(&p, call).await?;
                let _ = events
                    .send(ChatEvent::ApprovalNeeded {
                        approval: approval.clone(),
                    })
                    .await;
                waiting.push(approval);
                continue;
            }
            let result = run_tool(&p, call).await?;
            let m = keep_tool_result(&p, call, &result).await?;
            added.push(m);
            history.push(Turn::tool_result(&call.id, &result));
            if events
                .send(ChatEvent::ToolResult {
                    id: call.id.clone(),
                    name: call.name.clone(),
                    result,
                })
                .await
                .is_err()
            {
                return Err(AppError::Unavailable(
                    "the client left; the answer so far is kept".into(),
                ));
            }
        }
        if !waiting.is_empty() {
            return Ok(done(&p, &events, answer, added, total, waiting).await);
        }
        answer.clear();
    }
    Err(AppError::Unavailable(format!(
        "the agent called tools {MAX_STEPS} times without finishing its answer; what it did is kept in the conversation"
    )))
}

/// Ends an answer (whole, or waiting for approvals): the last event, and
/// the reply.
async fn done(
    p: &Prepared,
    events: &mpsc::Sender<ChatEvent>,
    answer: String,
    messages: Vec<MessageView>,
    total: Usage,
    pending_approvals: Vec<crate::approvals::ApprovalView>,
) -> ChatReply {
    let _ = events
        .send(ChatEvent::Done {
            answer: answer.clone(),
            input_tokens: total.input_tokens,
            output_tokens: total.output_tokens,
        })
        .await;
    ChatReply {
        conversation_id: p.conversation.id,
        answer,
        messages,
        input_tokens: total.input_tokens,
        output_tokens: total.output_tokens,
        pending_approvals,
    }
}

/// Keeps what a model call wrote (if anything) and what it used, and
/// settles its hold on the budget, together.
async fn save_call(
    p: &Prepared,
    m: Option<&ChatMessage>,
    call: &UsageRecord,
    hold: Option<&Hold>,
) -> Result<(), AppError> {
    let mut tx = p.state.store.write(&p.scope).await?;
    if let Some(m) = m {
        repo::add_message(&mut tx, m).await?;
    }
    usage::record(&mut tx, call).await?;
    if let Some(h) = hold {
        crate::budgets::settle(
            &p.state,
            &mut tx,
            h,
            call.input_tokens + call.output_tokens,
            call.cost_micros,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Holds the most a call may use: its prompt (about four characters a
/// token) and all the tokens it may write.
async fn hold_for(
    p: &Prepared,
    budget: store::budgets::Budget,
    req: &ChatRequest,
    service: &str,
) -> Result<Hold, AppError> {
    let chars = req.system.as_deref().map_or(0, str::len)
        + req.turns.iter().map(|t| t.text.len()).sum::<usize>();
    let prompt = (chars / 4 + 1) as u64;
    let most = u64::from(p.agent.config.max_tokens);
    let cost = ai::prices::cost_micros(service, &req.model, prompt, most);
    crate::budgets::hold(&p.state, &p.scope, budget, (prompt + most) as i64, cost).await
}

/// Gives a hold back when the call did not happen.
async fn release(p: &Prepared, hold: Option<&Hold>) -> Result<(), AppError> {
    if let Some(h) = hold {
        let mut tx = p.state.store.write(&p.scope).await?;
        crate::budgets::settle(&p.state, &mut tx, h, 0, 0).await?;
        tx.commit().await?;
    }
    Ok(())
}

async fn save(p: &Prepared, m: &ChatMessage) -> Result<(), AppError> {
    let mut tx = p.state.store.write(&p.scope).await?;
    repo::add_message(&mut tx, m).await?;
    tx.commit().await?;
    Ok(())
}

/// Runs a prepared answer and waits for the whole of it.
pub async fn run_whole(prepared: Prepared) -> Result<ChatReply, AppError> {
    // Room for every event: nobody reads them until the answer is done.
    let (tx, mut rx) = mpsc::channel(1024);
    let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let reply = run(prepared, tx).await;
    let _ = drain.await;
    reply
}

/// Sends a message and waits for the whole answer.
pub async fn send(
    state: &App,
    who: &Principal,
    agent_id: &str,
    input: ChatInput,
) -> Result<ChatReply, AppError> {
    run_whole(prepare(state, who, agent_id, input).await?).await
}

/// The caller's conversations, newest first.
pub async fn list(
    state: &App,
    who: &Principal,
    q: PageParams,
) -> Result<ConversationPage, AppError> {
    let scope = access::require(who, Scope::Read)?;
    let (limit, cursor) = paging(q.limit, q.cursor.as_deref())?;
    let mut tx = state.store.read(&scope).await?;
    let page = repo::list_own(&mut tx, cursor, limit).await?;
    tx.commit().await?;
    Ok(ConversationPage {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    })
}

/// One of the caller's conversations with its messages.
pub async fn get(state: &App, who: &Principal, id: &str) -> Result<ConversationDetail, AppError> {
    let scope = access::require(who, Scope::Read)?;
    let id: ConversationId = parse_id(id, "id")?;
    let mut tx = state.store.read(&scope).await?;
    let c = repo::get_own(&mut tx, id)
        .await?
        .ok_or_else(|| AppError::NotFound("no such conversation of yours".into()))?;
    let messages = repo::messages(&mut tx, id).await?;
    let approvals = store::approvals::of_conversation(&mut tx, id).await?;
    tx.commit().await?;
    Ok(ConversationDetail {
        conversation: c.into(),
        messages: messages.into_iter().map(Into::into).collect(),
        approvals: approvals.into_iter().map(Into::into).collect(),
    })
}

/// Deletes one of the caller's conversations, audited.
pub async fn delete(
    state: &App,
    who: &Principal,
    origin: domain::audit::RequestOrigin,
    id: &str,
) -> Result<(), AppError> {
    let scope = access::require(who, Scope::Read)?;
    let id: ConversationId = parse_id(id, "id")?;
    let mut tx = state.store.write(&scope).await?;
    if !repo::delete_own(&mut tx, id).await? {
        return Err(AppError::NotFound("no such conversation of yours".into()));
    }
    audit::record(
        &mut tx,
        NewAuditEntry::new("conversation.deleted", "conversation", Some(id.to_string()))
            .from_origin(origin),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(n: usize) -> String {
        "word ".repeat(n)
    }

    #[test]
    fn trimming_drops_the_oldest_turns_and_starts_with_the_member() {
        let turns = vec![
            Turn::user(words(400)),
            Turn::assistant(words(400), vec![]),
            Turn::user(words(10)),
            Turn::assistant(words(10), vec![]),
            Turn::user("now"),
        ];
        let kept = trim(&turns, 100);
        assert_eq!(kept.len(), 3);
        assert_eq!(kept[0].speaker, Speaker::User);
        assert_eq!(kept.last().unwrap().text, "now");
    }

    #[test]
    fn the_last_message_is_kept_even_alone() {
        let turns = vec![Turn::user(words(1000))];
        assert_eq!(trim(&turns, 10).len(), 1);
    }
}
