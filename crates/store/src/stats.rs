//! Counts for the dashboard, each scoped to the transaction's tenant.

use crate::tx::{with_conn, TenantTx};
use crate::Result;
use chrono::{DateTime, Utc};

/// Members of the tenant.
pub async fn members(tx: &mut TenantTx) -> Result<i64> {
    let tenant = tx.scope().tenant().as_uuid();
    let (n,): (i64,) = with_conn!(tx, |c| sqlx::query_as(
        "SELECT COUNT(*) FROM memberships WHERE tenant_id = $1"
    )
    .bind(tenant)
    .fetch_one(c)
    .await)?;
    Ok(n)
}

/// API tokens of the tenant that are not revoked.
pub async fn active_tokens(tx: &mut TenantTx) -> Result<i64> {
    let tenant = tx.scope().tenant().as_uuid();
    let (n,): (i64,) = with_conn!(tx, |c| sqlx::query_as(
        "SELECT COUNT(*) FROM api_tokens WHERE tenant_id = $1 AND revoked_at IS NULL"
    )
    .bind(tenant)
    .fetch_one(c)
    .await)?;
    Ok(n)
}

/// Audit entries of the tenant since a moment.
pub async fn audit_events_since(tx: &mut TenantTx, since: DateTime<Utc>) -> Result<i64> {
    let tenant = tx.scope().tenant().as_uuid();
    let (n,): (i64,) = with_conn!(tx, |c| sqlx::query_as(
        "SELECT COUNT(*) FROM audit_logs WHERE tenant_id = $1 AND created_at >= $2"
    )
    .bind(tenant)
    .bind(since)
    .fetch_one(c)
    .await)?;
    Ok(n)
}
