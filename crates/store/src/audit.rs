//! The audit log: appended in the transaction of the change it records.

use crate::changes::Topic;
use crate::tx::{with_conn, TenantTx, Tx};
use crate::Result;
use chrono::{DateTime, Utc};
use domain::audit::{AuditEntry, AuditFilter, NewAuditEntry};
use domain::paging::{Cursor, Limit, Page};
use domain::{AuditId, Scoped, TenantId, TokenId, UserId};
use sqlx::types::Json;
use sqlx::{Database, QueryBuilder};
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    tenant_id: Uuid,
    user_id: Option<Uuid>,
    token_id: Option<Uuid>,
    action: String,
    resource_type: String,
    resource_id: Option<String>,
    metadata: String,
    ip_address: Option<String>,
    user_agent: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<Row> for AuditEntry {
    fn from(r: Row) -> Self {
        AuditEntry {
            id: AuditId::from_uuid(r.id),
            tenant_id: TenantId::from_uuid(r.tenant_id),
            user_id: r.user_id.map(UserId::from_uuid),
            token_id: r.token_id.map(TokenId::from_uuid),
            action: r.action,
            resource_type: r.resource_type,
            resource_id: r.resource_id,
            // Written by `record` from a serde_json value; text that is not
            // JSON (a hand-edited row) is shown as a JSON string, not dropped.
            metadata: serde_json::from_str(&r.metadata).unwrap_or_else(|_| {
                serde_json::value::to_raw_value(&r.metadata).expect("a string always serializes")
            }),
            ip_address: r.ip_address,
            user_agent: r.user_agent,
            created_at: r.created_at,
        }
    }
}

/// Appends an entry for the transaction's tenant and actor. The platform's
/// own work is audited too, so this takes either kind of transaction.
pub async fn record<S: Scoped>(tx: &mut Tx<S>, entry: NewAuditEntry) -> Result<AuditEntry> {
    let e = entry.into_entry(tx.scope());
    tx.touch(Topic::AuditLog);
    with_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO audit_logs (id, tenant_id, user_id, token_id, action, resource_type, resource_id, metadata, ip_address, user_agent, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    )
    .bind(e.id.as_uuid())
    .bind(e.tenant_id.as_uuid())
    .bind(e.user_id.map(|u| u.as_uuid()))
    .bind(e.token_id.map(|t| t.as_uuid()))
    .bind(&e.action)
    .bind(&e.resource_type)
    .bind(&e.resource_id)
    .bind(Json(&e.metadata))
    .bind(&e.ip_address)
    .bind(&e.user_agent)
    .bind(e.created_at)
    .execute(c).await.map(|r| r.rows_affected())
    })?;
    Ok(e)
}

const COLUMNS: &str = "SELECT id, tenant_id, user_id, token_id, action, resource_type, resource_id, CAST(metadata AS TEXT) AS metadata, ip_address, user_agent, created_at FROM audit_logs WHERE tenant_id = ";

fn list_query<'a, DB>(
    tenant: Uuid,
    f: &'a AuditFilter,
    after: Option<Uuid>,
    fetch: i64,
) -> QueryBuilder<'a, DB>
where
    DB: Database,
    Uuid: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    &'a String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    DateTime<Utc>: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let mut q = QueryBuilder::new(COLUMNS);
    q.push_bind(tenant);
    if let Some(a) = &f.action {
        q.push(" AND action = ").push_bind(a);
    }
    if let Some(r) = &f.resource_type {
        q.push(" AND resource_type = ").push_bind(r);
    }
    if let Some(s) = f.since {
        q.push(" AND created_at >= ").push_bind(s);
    }
    if let Some(u) = f.until {
        q.push(" AND created_at < ").push_bind(u);
    }
    if let Some(id) = after {
        q.push(" AND id < ").push_bind(id);
    }
    q.push(" ORDER BY id DESC LIMIT ").push_bind(fetch);
    q
}

/// The tenant's entries, newest first: for a member, or for the export
/// workflow a member started.
pub async fn list<S: Scoped>(
    tx: &mut Tx<S>,
    filter: &AuditFilter,
    cursor: Option<Cursor>,
    limit: Limit,
) -> Result<Page<AuditEntry>> {
    let tenant = tx.tenant().as_uuid();
    let after = cursor.map(Cursor::id);
    let fetch = i64::from(limit.get()) + 1;
    let rows: Vec<Row> = with_conn!(tx, |c| list_query(tenant, filter, after, fetch)
        .build_query_as()
        .fetch_all(c)
        .await)?;
    Ok(Page::from_overfetch(
        rows.into_iter().map(AuditEntry::from).collect(),
        limit,
        |e| e.id.as_uuid(),
    ))
}

/// Whether an entry exists for the tenant (to reject cursors it never issued).
pub async fn exists(tx: &mut TenantTx, id: Uuid) -> Result<bool> {
    let tenant = tx.tenant().as_uuid();
    let found: Option<(i32,)> = with_conn!(tx, |c| sqlx::query_as(
        "SELECT 1 FROM audit_logs WHERE tenant_id = $1 AND id = $2"
    )
    .bind(tenant)
    .bind(id)
    .fetch_optional(c)
    .await)?;
    Ok(found.is_some())
}

/// Whether the tenant's log already records `action` on `resource_id` (so a
/// retried step that audits does it once).
pub async fn records<S: Scoped>(tx: &mut Tx<S>, action: &str, resource_id: &str) -> Result<bool> {
    let tenant = tx.tenant().as_uuid();
    let found: Option<(i32,)> = with_conn!(tx, |c| sqlx::query_as(
        "SELECT 1 FROM audit_logs WHERE tenant_id = $1 AND action = $2 AND resource_id = $3"
    )
    .bind(tenant)
    .bind(action)
    .bind(resource_id)
    .fetch_optional(c)
    .await)?;
    Ok(found.is_some())
}
