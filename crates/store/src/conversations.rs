//! Conversations with agents and their messages. A conversation belongs to
//! the member (or API token) who started it: the functions here take the
//! acting one from the transaction and touch only theirs.

use crate::tx::{with_conn, TenantTx};
use crate::Result;
use chrono::{DateTime, Utc};
use domain::llm::ToolCall;
use domain::paging::{Cursor, Limit, Page};
use domain::{Actor, AgentId, ConversationId, TenantId, TokenId, UserId};
use sqlx::types::Json;
use uuid::Uuid;

/// A conversation.
#[derive(Clone, Debug, PartialEq)]
pub struct Conversation {
    /// Id.
    pub id: ConversationId,
    /// Owner tenant.
    pub tenant_id: TenantId,
    /// The agent.
    pub agent_id: AgentId,
    /// The member who started it.
    pub user_id: Option<UserId>,
    /// Or the API token that did.
    pub token_id: Option<TokenId>,
    /// Its first words.
    pub title: String,
    /// Started.
    pub created_at: DateTime<Utc>,
    /// Last message.
    pub updated_at: DateTime<Utc>,
}

/// One message.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatMessage {
    /// Id (time-ordered).
    pub id: Uuid,
    /// The conversation.
    pub conversation_id: ConversationId,
    /// `user`, `assistant` or `tool`.
    pub role: String,
    /// The text (a tool's result for `tool`).
    pub content: String,
    /// Tools the assistant called.
    pub tool_calls: Vec<ToolCall>,
    /// For a tool result, the call it answers.
    pub tool_call_id: Option<String>,
    /// The model that wrote it.
    pub model: Option<String>,
    /// Prompt tokens of the call that wrote it.
    pub input_tokens: i64,
    /// Tokens it took.
    pub output_tokens: i64,
    /// How long the call took.
    pub latency_ms: i64,
    /// Written.
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ConversationRow {
    id: Uuid,
    tenant_id: Uuid,
    agent_id: Uuid,
    user_id: Option<Uuid>,
    token_id: Option<Uuid>,
    title: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<ConversationRow> for Conversation {
    fn from(r: ConversationRow) -> Self {
        Self {
            id: ConversationId::from_uuid(r.id),
            tenant_id: TenantId::from_uuid(r.tenant_id),
            agent_id: AgentId::from_uuid(r.agent_id),
            user_id: r.user_id.map(UserId::from_uuid),
            token_id: r.token_id.map(TokenId::from_uuid),
            title: r.title,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct MessageRow {
    id: Uuid,
    conversation_id: Uuid,
    role: String,
    content: String,
    tool_calls: Json<Vec<ToolCall>>,
    tool_call_id: Option<String>,
    model: Option<String>,
    input_tokens: i64,
    output_tokens: i64,
    latency_ms: i64,
    created_at: DateTime<Utc>,
}

impl From<MessageRow> for ChatMessage {
    fn from(r: MessageRow) -> Self {
        Self {
            id: r.id,
            conversation_id: ConversationId::from_uuid(r.conversation_id),
            role: r.role,
            content: r.content,
            tool_calls: r.tool_calls.0,
            tool_call_id: r.tool_call_id,
            model: r.model,
            input_tokens: r.input_tokens,
            output_tokens: r.output_tokens,
            latency_ms: r.latency_ms,
            created_at: r.created_at,
        }
    }
}

const CONVERSATION_COLUMNS: &str =
    "id, tenant_id, agent_id, user_id, token_id, title, created_at, updated_at";

/// The owner columns for the acting user or token (the platform owns none).
fn owner(actor: Actor) -> (Option<Uuid>, Option<Uuid>) {
    match actor {
        Actor::User(u) => (Some(u.as_uuid()), None),
        Actor::Token(t) => (None, Some(t.as_uuid())),
        Actor::System => (None, None),
    }
}

/// Starts a conversation for the acting member or token.
pub async fn create(
    tx: &mut TenantTx,
    id: ConversationId,
    agent: AgentId,
    title: &str,
    now: DateTime<Utc>,
) -> Result<Conversation> {
    let tenant = tx.tenant();
    let (user, token) = owner(tx.actor());
    with_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO conversations (id, tenant_id, agent_id, user_id, token_id, title, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)"
    )
    .bind(id.as_uuid())
    .bind(tenant.as_uuid())
    .bind(agent.as_uuid())
    .bind(user)
    .bind(token)
    .bind(title)
    .bind(now)
    .execute(c)
    .await
    .map(drop)
    })?;
    Ok(Conversation {
        id,
        tenant_id: tenant,
        agent_id: agent,
        user_id: user.map(UserId::from_uuid),
        token_id: token.map(TokenId::from_uuid),
        title: title.to_string(),
        created_at: now,
        updated_at: now,
    })
}

/// One of the acting member's (or token's) conversations.
pub async fn get_own(tx: &mut TenantTx, id: ConversationId) -> Result<Option<Conversation>> {
    let tenant = tx.tenant().as_uuid();
    let (user, token) = owner(tx.actor());
    let sql = format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE tenant_id = $1 AND id = $2 \
         AND (user_id = $3 OR token_id = $4)"
    );
    let row: Option<ConversationRow> = with_conn!(tx, |c| sqlx::query_as(&sql)
        .bind(tenant)
        .bind(id.as_uuid())
        .bind(user)
        .bind(token)
        .fetch_optional(c)
        .await)?;
    Ok(row.map(Into::into))
}

/// The acting member's (or token's) conversations, newest first.
pub async fn list_own(
    tx: &mut TenantTx,
    cursor: Option<Cursor>,
    limit: Limit,
) -> Result<Page<Conversation>> {
    let tenant = tx.tenant().as_uuid();
    let (user, token) = owner(tx.actor());
    let after = cursor.map(Cursor::id).unwrap_or(Uuid::max());
    let fetch = i64::from(limit.get()) + 1;
    let sql = format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE tenant_id = $1 \
         AND (user_id = $2 OR token_id = $3) AND id < $4 ORDER BY id DESC LIMIT $5"
    );
    let rows: Vec<ConversationRow> = with_conn!(tx, |c| sqlx::query_as(&sql)
        .bind(tenant)
        .bind(user)
        .bind(token)
        .bind(after)
        .bind(fetch)
        .fetch_all(c)
        .await)?;
    Ok(Page::from_overfetch(
        rows.into_iter().map(Into::into).collect(),
        limit,
        |c| c.id.as_uuid(),
    ))
}

/// Deletes one of the acting member's conversations with its messages.
pub async fn delete_own(tx: &mut TenantTx, id: ConversationId) -> Result<bool> {
    let tenant = tx.tenant().as_uuid();
    let (user, token) = owner(tx.actor());
    let n = with_conn!(tx, |c| {
        sqlx::query(
        "DELETE FROM conversations WHERE tenant_id = $1 AND id = $2 AND (user_id = $3 OR token_id = $4)"
    )
    .bind(tenant)
    .bind(id.as_uuid())
    .bind(user)
    .bind(token)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// Appends a message and marks the conversation as just used.
pub async fn add_message(tx: &mut TenantTx, m: &ChatMessage) -> Result<()> {
    let tenant = tx.tenant().as_uuid();
    with_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO chat_messages (id, tenant_id, conversation_id, role, content, tool_calls, tool_call_id, model, \
         input_tokens, output_tokens, latency_ms, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    )
    .bind(m.id)
    .bind(tenant)
    .bind(m.conversation_id.as_uuid())
    .bind(&m.role)
    .bind(&m.content)
    .bind(Json(&m.tool_calls))
    .bind(&m.tool_call_id)
    .bind(&m.model)
    .bind(m.input_tokens)
    .bind(m.output_tokens)
    .bind(m.latency_ms)
    .bind(m.created_at)
    .execute(c)
    .await
    .map(drop)
    })?;
    with_conn!(tx, |c| sqlx::query(
        "UPDATE conversations SET updated_at = $1 WHERE tenant_id = $2 AND id = $3"
    )
    .bind(m.created_at)
    .bind(tenant)
    .bind(m.conversation_id.as_uuid())
    .execute(c)
    .await
    .map(drop))?;
    Ok(())
}

/// A conversation's messages, oldest first.
pub async fn messages(tx: &mut TenantTx, id: ConversationId) -> Result<Vec<ChatMessage>> {
    let tenant = tx.tenant().as_uuid();
    let rows: Vec<MessageRow> = with_conn!(tx, |c| {
        sqlx::query_as(
        "SELECT id, conversation_id, role, content, tool_calls, tool_call_id, model, input_tokens, output_tokens, \
         latency_ms, created_at FROM chat_messages WHERE tenant_id = $1 AND conversation_id = $2 ORDER BY id"
    )
    .bind(tenant)
    .bind(id.as_uuid())
    .fetch_all(c)
    .await
    })?;
    Ok(rows.into_iter().map(Into::into).collect())
}
