//! Model calls and what they used, summed for the usage report.

use crate::tx::{with_conn, TenantTx};
use crate::Result;
use chrono::{DateTime, Utc};
use domain::{Actor, AgentId};
use uuid::Uuid;

/// One model call.
#[derive(Clone, Debug, PartialEq)]
pub struct UsageRecord {
    /// Id.
    pub id: Uuid,
    /// The agent it was for, if any.
    pub agent_id: Option<AgentId>,
    /// The BYOK service (`openai`, …).
    pub provider: String,
    /// The model.
    pub model: String,
    /// Prompt tokens.
    pub input_tokens: i64,
    /// Generated tokens.
    pub output_tokens: i64,
    /// Cost in millionths of a US dollar.
    pub cost_micros: i64,
    /// How long it took.
    pub latency_ms: i64,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// How the report groups calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// By UTC day (`YYYY-MM-DD`).
    Day,
    /// By agent id (empty: calls through no agent).
    Agent,
    /// By `provider/model`.
    Model,
    /// By API token id (empty: calls by signed-in members).
    Token,
}

/// The calls of one group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageSum {
    /// The group's key.
    pub key: String,
    /// Calls.
    pub calls: i64,
    /// Prompt tokens.
    pub input_tokens: i64,
    /// Generated tokens.
    pub output_tokens: i64,
    /// Cost in millionths of a US dollar.
    pub cost_micros: i64,
}

/// Records a call for the transaction's tenant and actor.
pub async fn record(tx: &mut TenantTx, r: &UsageRecord) -> Result<()> {
    record_all(tx, &[r]).await
}

/// Rows of one multi-row INSERT: 12 parameters each stay far below every
/// backend's limit on bound parameters.
const ROWS_PER_INSERT: usize = 256;

/// Records many calls of the transaction's tenant and actor with one
/// statement per [`ROWS_PER_INSERT`] calls, rather than one per call: the
/// gateway's usage writer records thousands a second.
pub async fn record_all(tx: &mut TenantTx, records: &[&UsageRecord]) -> Result<()> {
    let tenant = tx.tenant().as_uuid();
    let (user, token) = match tx.actor() {
        Actor::User(u) => (Some(u.as_uuid()), None),
        Actor::Token(t) => (None, Some(t.as_uuid())),
        Actor::System => (None, None),
    };
    for rows in records.chunks(ROWS_PER_INSERT) {
        with_conn!(tx, |c| {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO llm_usage (id, tenant_id, agent_id, user_id, token_id, provider, model, \
                 input_tokens, output_tokens, cost_micros, latency_ms, created_at) ",
            );
            q.push_values(rows, |mut b, r| {
                b.push_bind(r.id)
                    .push_bind(tenant)
                    .push_bind(r.agent_id.map(|a| a.as_uuid()))
                    .push_bind(user)
                    .push_bind(token)
                    .push_bind(r.provider.clone())
                    .push_bind(r.model.clone())
                    .push_bind(r.input_tokens)
                    .push_bind(r.output_tokens)
                    .push_bind(r.cost_micros)
                    .push_bind(r.latency_ms)
                    .push_bind(r.created_at);
            });
            q.build().execute(c).await.map(drop)
        })?;
    }
    Ok(())
}

const SUMS: &str = "COUNT(*), CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT), \
    CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT), CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT)";

/// The tenant's calls from `since` to `until`, summed per group, largest
/// cost first (days oldest first).
pub async fn summary(
    tx: &mut TenantTx,
    group: Group,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<UsageSum>> {
    let tenant = tx.tenant().as_uuid();
    let window = "FROM llm_usage WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3";
    let sums = |rows: Vec<(String, i64, i64, i64, i64)>| -> Vec<UsageSum> {
        rows.into_iter()
            .map(
                |(key, calls, input_tokens, output_tokens, cost_micros)| UsageSum {
                    key,
                    calls,
                    input_tokens,
                    output_tokens,
                    cost_micros,
                },
            )
            .collect()
    };
    match group {
        Group::Day | Group::Model => {
            let key = match (group, tx.is_sqlite()) {
                (Group::Day, true) => "substr(created_at, 1, 10)",
                (Group::Day, false) => "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
                _ => "provider || '/' || model",
            };
            let order = if group == Group::Day {
                "k"
            } else {
                "5 DESC, k"
            };
            let sql = format!("SELECT {key} AS k, {SUMS} {window} GROUP BY k ORDER BY {order}");
            let rows: Vec<(String, i64, i64, i64, i64)> = with_conn!(tx, |c| sqlx::query_as(&sql)
                .bind(tenant)
                .bind(since)
                .bind(until)
                .fetch_all(c)
                .await)?;
            Ok(sums(rows))
        }
        Group::Agent | Group::Token => {
            let column = if group == Group::Agent {
                "agent_id"
            } else {
                "token_id"
            };
            let sql = format!("SELECT {column} AS k, {SUMS} {window} GROUP BY k ORDER BY 5 DESC");
            let rows: Vec<(Option<Uuid>, i64, i64, i64, i64)> =
                with_conn!(tx, |c| sqlx::query_as(&sql)
                    .bind(tenant)
                    .bind(since)
                    .bind(until)
                    .fetch_all(c)
                    .await)?;
            Ok(sums(
                rows.into_iter()
                    .map(|(k, a, b, c, d)| {
                        (k.map(|u| u.to_string()).unwrap_or_default(), a, b, c, d)
                    })
                    .collect(),
            ))
        }
    }
}
