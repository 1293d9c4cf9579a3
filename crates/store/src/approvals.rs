//! Tool calls waiting for a member's approval, per conversation. Decided
//! once: the decision is one conditional update, so two clicks (or two
//! instances) cannot both run the tool.

use crate::tx::{with_conn, TenantTx};
use crate::Result;
use chrono::{DateTime, Utc};
use domain::{AgentId, ConversationId};
use sqlx::types::Json;
use uuid::Uuid;

/// A tool call that waits for, or got, a decision.
#[derive(Clone, Debug, PartialEq)]
pub struct Approval {
    /// Id.
    pub id: Uuid,
    /// The conversation it belongs to.
    pub conversation_id: ConversationId,
    /// The agent that asked.
    pub agent_id: AgentId,
    /// The model's id for the call (the result quotes it).
    pub tool_call_id: String,
    /// The tool.
    pub tool: String,
    /// Its arguments.
    pub arguments: serde_json::Value,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    /// Asked.
    pub created_at: DateTime<Utc>,
    /// Decided.
    pub decided_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    conversation_id: Uuid,
    agent_id: Uuid,
    tool_call_id: String,
    tool: String,
    arguments: Json<serde_json::Value>,
    status: String,
    created_at: DateTime<Utc>,
    decided_at: Option<DateTime<Utc>>,
}

impl From<Row> for Approval {
    fn from(r: Row) -> Self {
        Self {
            id: r.id,
            conversation_id: ConversationId::from_uuid(r.conversation_id),
            agent_id: AgentId::from_uuid(r.agent_id),
            tool_call_id: r.tool_call_id,
            tool: r.tool,
            arguments: r.arguments.0,
            status: r.status,
            created_at: r.created_at,
            decided_at: r.decided_at,
        }
    }
}

const COLUMNS: &str =
    "SELECT id, conversation_id, agent_id, tool_call_id, tool, arguments, status, \
     created_at, decided_at FROM tool_approvals WHERE tenant_id = $1";

/// Records a call that waits.
pub async fn create(tx: &mut TenantTx, a: &Approval) -> Result<()> {
    let tenant = tx.tenant().as_uuid();
    with_conn!(tx, |c| {
        sqlx::query(
            "INSERT INTO tool_approvals (id, tenant_id, conversation_id, agent_id, tool_call_id, tool, arguments, \
             status, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8)",
        )
        .bind(a.id)
        .bind(tenant)
        .bind(a.conversation_id.as_uuid())
        .bind(a.agent_id.as_uuid())
        .bind(&a.tool_call_id)
        .bind(&a.tool)
        .bind(Json(&a.arguments))
        .bind(a.created_at)
        .execute(c)
        .await
        .map(drop)
    })?;
    Ok(())
}

/// One approval of a conversation.
pub async fn get(
    tx: &mut TenantTx,
    conversation: ConversationId,
    id: Uuid,
) -> Result<Option<Approval>> {
    let tenant = tx.tenant().as_uuid();
    let sql = format!("{COLUMNS} AND conversation_id = $2 AND id = $3");
    let row: Option<Row> = with_conn!(tx, |c| sqlx::query_as(&sql)
        .bind(tenant)
        .bind(conversation.as_uuid())
        .bind(id)
        .fetch_optional(c)
        .await)?;
    Ok(row.map(Into::into))
}

/// The approvals of a conversation, oldest first.
pub async fn of_conversation(
    tx: &mut TenantTx,
    conversation: ConversationId,
) -> Result<Vec<Approval>> {
    let tenant = tx.tenant().as_uuid();
    let sql = format!("{COLUMNS} AND conversation_id = $2 ORDER BY id");
    let rows: Vec<Row> = with_conn!(tx, |c| sqlx::query_as(&sql)
        .bind(tenant)
        .bind(conversation.as_uuid())
        .fetch_all(c)
        .await)?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// Decides a pending approval (`approved` or `rejected`); `false` when it
/// was no longer pending.
pub async fn decide(tx: &mut TenantTx, id: Uuid, status: &str, now: DateTime<Utc>) -> Result<bool> {
    let tenant = tx.tenant().as_uuid();
    let n = with_conn!(tx, |c| {
        sqlx::query(
            "UPDATE tool_approvals SET status = $3, decided_at = $4 \
             WHERE tenant_id = $1 AND id = $2 AND status = 'pending'",
        )
        .bind(tenant)
        .bind(id)
        .bind(status)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}
