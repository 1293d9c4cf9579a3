//! A tenant's AI agents, and whether its core agents were seeded.

use crate::tx::{with_conn, TenantTx};
use crate::Result;
use chrono::{DateTime, Utc};
use domain::agents::AgentConfig;
use domain::paging::{Cursor, Limit, Page};
use domain::{AgentId, TenantId};
use sqlx::types::Json;
use uuid::Uuid;

/// An agent.
#[derive(Clone, Debug, PartialEq)]
pub struct Agent {
    /// Id.
    pub id: AgentId,
    /// Owner tenant.
    pub tenant_id: TenantId,
    /// Name, unique in the tenant.
    pub name: String,
    /// The catalogue template it was made from.
    pub template: Option<String>,
    /// What it does.
    pub description: String,
    /// Its configuration.
    pub config: AgentConfig,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    tenant_id: Uuid,
    name: String,
    template: Option<String>,
    description: String,
    config: Json<AgentConfig>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Row> for Agent {
    fn from(r: Row) -> Self {
        Self {
            id: AgentId::from_uuid(r.id),
            tenant_id: TenantId::from_uuid(r.tenant_id),
            name: r.name,
            template: r.template,
            description: r.description,
            config: r.config.0,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

macro_rules! select {
    ($tail:literal) => {
        concat!(
            "SELECT id, tenant_id, name, template, description, config, created_at, updated_at FROM agents ",
            $tail
        )
    };
}

/// Stores a new agent; a name the tenant already uses is a conflict.
pub async fn insert(tx: &mut TenantTx, agent: &Agent) -> Result<()> {
    let tenant = tx.tenant().as_uuid();
    with_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO agents (id, tenant_id, name, template, description, config, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    )
    .bind(agent.id.as_uuid())
    .bind(tenant)
    .bind(&agent.name)
    .bind(&agent.template)
    .bind(&agent.description)
    .bind(Json(&agent.config))
    .bind(agent.created_at)
    .bind(agent.updated_at)
    .execute(c)
    .await
    .map(drop)
    })?;
    Ok(())
}

/// The tenant's agents, newest first.
pub async fn list(tx: &mut TenantTx, cursor: Option<Cursor>, limit: Limit) -> Result<Page<Agent>> {
    let tenant = tx.tenant().as_uuid();
    let after = cursor.map(Cursor::id).unwrap_or(Uuid::max());
    let fetch = i64::from(limit.get()) + 1;
    let sql = select!("WHERE tenant_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3");
    let rows: Vec<Row> = with_conn!(tx, |c| sqlx::query_as(sql)
        .bind(tenant)
        .bind(after)
        .bind(fetch)
        .fetch_all(c)
        .await)?;
    Ok(Page::from_overfetch(
        rows.into_iter().map(Agent::from).collect(),
        limit,
        |a| a.id.as_uuid(),
    ))
}

/// One of the tenant's agents.
pub async fn get(tx: &mut TenantTx, id: AgentId) -> Result<Agent> {
    let tenant = tx.tenant().as_uuid();
    let row: Row = with_conn!(tx, |c| sqlx::query_as(select!(
        "WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant)
    .bind(id.as_uuid())
    .fetch_one(c)
    .await)?;
    Ok(row.into())
}

/// Saves an agent's name, description and configuration.
pub async fn update(tx: &mut TenantTx, agent: &Agent) -> Result<()> {
    let tenant = tx.tenant().as_uuid();
    let n = with_conn!(tx, |c| sqlx::query(
        "UPDATE agents SET name = $1, description = $2, config = $3, updated_at = $4 \
         WHERE tenant_id = $5 AND id = $6"
    )
    .bind(&agent.name)
    .bind(&agent.description)
    .bind(Json(&agent.config))
    .bind(agent.updated_at)
    .bind(tenant)
    .bind(agent.id.as_uuid())
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    if n == 0 {
        return Err(crate::StoreError::NotFound);
    }
    Ok(())
}

/// Deletes an agent; whether there was one.
pub async fn delete(tx: &mut TenantTx, id: AgentId) -> Result<bool> {
    let tenant = tx.tenant().as_uuid();
    let n = with_conn!(tx, |c| sqlx::query(
        "DELETE FROM agents WHERE tenant_id = $1 AND id = $2"
    )
    .bind(tenant)
    .bind(id.as_uuid())
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Notes that the tenant's core agents are seeded; `false` if they were
/// already (so of two concurrent first visits, one seeds).
pub async fn mark_seeded(tx: &mut TenantTx, now: DateTime<Utc>) -> Result<bool> {
    let tenant = tx.tenant().as_uuid();
    let n = with_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO agent_seedings (tenant_id, seeded_at) VALUES ($1, $2) ON CONFLICT (tenant_id) DO NOTHING"
    )
    .bind(tenant)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// Whether the tenant's core agents were seeded.
pub async fn seeded(tx: &mut TenantTx) -> Result<bool> {
    let tenant = tx.tenant().as_uuid();
    let row: Option<(i32,)> = with_conn!(tx, |c| sqlx::query_as(
        "SELECT 1 FROM agent_seedings WHERE tenant_id = $1"
    )
    .bind(tenant)
    .fetch_optional(c)
    .await)?;
    Ok(row.is_some())
}
