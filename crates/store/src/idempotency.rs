//! Remembered responses of creating POSTs sent with an `Idempotency-Key`.

use crate::tx::{with_conn, SystemTx, TenantTx};
use crate::{Result, StoreError};
use chrono::{DateTime, TimeDelta, Utc};

/// How long a key is remembered: a retry within a day gets the first
/// response; after that the key is forgotten (and purged).
pub const RETENTION: TimeDelta = TimeDelta::hours(24);

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
    let tenant = tx.tenant().as_uuid();
    let row: Option<(String, i32, String)> = with_conn!(tx, |c| {
        sqlx::query_as(
        "SELECT request_hash, status, body FROM idempotency_keys WHERE tenant_id = $1 AND key = $2 AND created_at >= $3"
    )
    .bind(tenant)
    .bind(key)
    .bind(Utc::now() - RETENTION)
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
    let tenant = tx.tenant().as_uuid();
    // A key past its retention (not purged yet) is taken over; a live one
    // is a conflict.
    let saved = with_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO idempotency_keys (tenant_id, key, request_hash, status, body, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (tenant_id, key) DO UPDATE SET request_hash = excluded.request_hash, status = excluded.status, \
         body = excluded.body, created_at = excluded.created_at WHERE idempotency_keys.created_at < $7"
    )
    .bind(tenant)
    .bind(key)
    .bind(&response.request_hash)
    .bind(i32::from(response.status))
    .bind(&response.body)
    .bind(Utc::now())
    .bind(Utc::now() - RETENTION)
    .execute(c).await.map(|r| r.rows_affected())
    })?;
    if saved == 0 {
        return Err(StoreError::Conflict("idempotency_keys_pkey".into()));
    }
    Ok(())
}

/// Deletes the tenant's remembered responses older than [`RETENTION`];
/// returns how many.
pub async fn purge_expired(tx: &mut SystemTx, now: DateTime<Utc>) -> Result<u64> {
    let tenant = tx.tenant().as_uuid();
    Ok(with_conn!(tx, |c| {
        sqlx::query("DELETE FROM idempotency_keys WHERE tenant_id = $1 AND created_at < $2")
            .bind(tenant)
            .bind(now - RETENTION)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?)
}
