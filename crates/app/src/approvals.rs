//! Tool calls that wait for a member: a tool that changes something
//! outside the platform (sending an email; connector actions later) runs
//! only once the member whose conversation it is approves it, unless the
//! agent is configured to run such tools without asking. The wait is kept
//! in the database, so it survives a restart; once every waiting call of a
//! conversation is decided, the agent carries on from the results.

use crate::chat::{self, ChatReply, Prepared};
use crate::input::parse_id;
use crate::{access, App, AppError};
use chrono::{DateTime, Utc};
use domain::audit::NewAuditEntry;
use domain::llm::ToolCall;
use domain::tokens::Scope;
use domain::{ConversationId, Principal};
use serde::{Deserialize, Serialize};
use serde_json::json;
use store::approvals::{self as repo, Approval};
use store::{audit, conversations};
use uuid::Uuid;

/// A call waiting for, or given, a decision.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApprovalView {
    /// Id (for `…/approvals/{id}/approve`).
    pub id: Uuid,
    /// The model's id for the call.
    pub tool_call_id: String,
    /// The tool.
    pub tool: String,
    /// Its arguments.
    #[schema(value_type = Object)]
    pub arguments: serde_json::Value,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    /// Asked (UTC).
    pub created_at: DateTime<Utc>,
}

impl From<Approval> for ApprovalView {
    fn from(a: Approval) -> Self {
        Self {
            id: a.id,
            tool_call_id: a.tool_call_id,
            tool: a.tool,
            arguments: a.arguments,
            status: a.status,
            created_at: a.created_at,
        }
    }
}

/// Whether a call must wait for a member before it runs.
pub(crate) fn must_wait(p: &Prepared, call: &ToolCall) -> bool {
    p.agent().config.tools.contains(&call.name)
        && ai::tools::find(&call.name).is_some_and(|t| t.changes_outside)
        && !p.agent().config.run_without_approval
}

/// Records that `call` waits, audited.
pub(crate) async fn ask(p: &Prepared, call: &ToolCall) -> Result<ApprovalView, AppError> {
    let a = Approval {
        id: Uuid::now_v7(),
        conversation_id: p.conversation_id(),
        agent_id: p.agent().id,
        tool_call_id: call.id.clone(),
        tool: call.name.clone(),
        arguments: call.arguments.clone(),
        status: "pending".into(),
        created_at: Utc::now(),
        decided_at: None,
    };
    let mut tx = p.state().store.write(p.scope()).await?;
    repo::create(&mut tx, &a).await?;
    audit::record(
        &mut tx,
        NewAuditEntry::new(
            "agent.tool_approval_asked",
            "agent",
            Some(a.agent_id.to_string()),
        )
        .with_metadata(
            json!({ "tool": a.tool, "conversation_id": a.conversation_id, "approval_id": a.id }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(a.into())
}

/// The calls of a conversation still waiting.
pub(crate) async fn pending(
    state: &App,
    scope: &domain::TenantScope,
    conversation: ConversationId,
) -> Result<Vec<ApprovalView>, AppError> {
    let mut tx = state.store.read(scope).await?;
    let all = repo::of_conversation(&mut tx, conversation).await?;
    tx.commit().await?;
    Ok(all
        .into_iter()
        .filter(|a| a.status == "pending")
        .map(Into::into)
        .collect())
}

/// What a decision leads to.
pub enum Decided {
    /// Every waiting call is decided: the agent carries on.
    Resume(Box<Prepared>),
    /// Other calls still wait; nothing more happens yet.
    Waiting(ChatReply),
}

/// Approves (runs the tool) or rejects a waiting call of the caller's own
/// conversation; when none waits any more, the agent carries on.
pub async fn decide(
    state: &App,
    who: &Principal,
    conversation: &str,
    approval: &str,
    approve: bool,
) -> Result<Decided, AppError> {
    let scope = access::require(who, Scope::Read)?;
    let conversation: ConversationId = parse_id(conversation, "conversation_id")?;
    let approval: Uuid = parse_id(approval, "approval_id")?;
    let mut tx = state.store.write(&scope).await?;
    conversations::get_own(&mut tx, conversation)
        .await?
        .ok_or_else(|| AppError::NotFound("no such conversation of yours".into()))?;
    let a = repo::get(&mut tx, conversation, approval)
        .await?
        .ok_or_else(|| AppError::NotFound("no such approval in this conversation".into()))?;
    let status = if approve { "approved" } else { "rejected" };
    if !repo::decide(&mut tx, a.id, status, Utc::now()).await? {
        return Err(AppError::Conflict(format!(
            "this call was already {}; nothing was run again",
            a.status
        )));
    }
    audit::record(
        &mut tx,
        NewAuditEntry::new(
            if approve {
                "agent.tool_approved"
            } else {
                "agent.tool_rejected"
            },
            "agent",
            Some(a.agent_id.to_string()),
        )
        .with_metadata(
            json!({ "tool": a.tool, "conversation_id": conversation, "approval_id": a.id }),
        ),
    )
    .await?;
    tx.commit().await?;
    let p = chat::resume(state, who, conversation).await?;
    let call = ToolCall {
        id: a.tool_call_id.clone(),
        name: a.tool.clone(),
        arguments: a.arguments.clone(),
    };
    let result = if approve {
        chat::run_tool(&p, &call).await?
    } else {
        "the member rejected this call, so it did not run; do not try it again unless they ask"
            .into()
    };
    chat::keep_tool_result(&p, &call, &result).await?;
    let waiting = pending(state, &scope, conversation).await?;
    if waiting.is_empty() {
        return Ok(Decided::Resume(Box::new(
            chat::resume(state, who, conversation).await?,
        )));
    }
    Ok(Decided::Waiting(ChatReply {
        conversation_id: conversation,
        answer: String::new(),
        messages: Vec::new(),
        input_tokens: 0,
        output_tokens: 0,
        pending_approvals: waiting,
    }))
}
