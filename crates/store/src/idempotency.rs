//! Remembered responses of creating POSTs sent with an `Idempotency-Key`.

use crate::tx::{with_conn, TenantTx};
use crate::Result;
use chrono::Utc;

/// A response stored under a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredResponse {
    /// Hash of method, path and body of the original request.
    pub request_hash: String,
    /// HTTP status.
    pub status: u16,
    /// JSON body (with secrets removed).
    pub body: String,
}

/// The response stored for `key`, if any.
pub async fn find(tx: &mut TenantTx, key: &str) -> Result<Option<StoredResponse>> {
    let tenant = tx.scope().tenant().as_uuid();
    let row: Option<(String, i32, String)> = with_conn!(tx, |c| {
        sqlx::query_as(
        "SELECT request_hash, status, body FROM idempotency_keys WHERE tenant_id = $1 AND key = $2"
    )
    .bind(tenant)
    .bind(key)
    .fetch_optional(c)
    .await
    })?;
    Ok(row.map(|(request_hash, status, body)| StoredResponse {
        request_hash,
        status: status as u16,
        body,
    }))
}

/// Stores a response in the transaction that produced it. A concurrent
/// request with the same key makes this fail with a conflict, and the
/// caller's whole transaction rolls back.
pub async fn save(tx: &mut TenantTx, key: &str, response: &StoredResponse) -> Result<()> {
    let tenant = tx.scope().tenant().as_uuid();
    with_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO idempotency_keys (tenant_id, key, request_hash, status, body, created_at) VALUES ($1, $2, $3, $4, $5, $6)"
    )
    .bind(tenant)
    .bind(key)
    .bind(&response.request_hash)
    .bind(i32::from(response.status))
    .bind(&response.body)
    .bind(Utc::now())
    .execute(c).await.map(|r| r.rows_affected())
    })?;
    Ok(())
}
