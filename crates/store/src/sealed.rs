//! Ciphertext of the local sealed secret store: what `secrets::local` seals,
//! kept per tenant and path. Nothing here can read it without the master key.

use crate::tx::{with_conn, SystemTx};
use crate::Result;
use chrono::{DateTime, Utc};

/// One sealed value: its data key wrapped by master key `key_id`, and the
/// value encrypted under that data key.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct SealedRow {
    /// Path within the tenant (`tenants/{id}/api_keys/openai`).
    pub path: String,
    /// Which master key wrapped the data key.
    pub key_id: String,
    /// Nonce and ciphertext of the data key.
    pub wrapped_key: Vec<u8>,
    /// Nonce and ciphertext of the value.
    pub ciphertext: Vec<u8>,
    /// Last written.
    pub updated_at: DateTime<Utc>,
}

/// Stores or replaces the sealed value at a path.
pub async fn put(tx: &mut SystemTx, row: &SealedRow) -> Result<()> {
    let tenant = tx.tenant().as_uuid();
    with_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO sealed_secrets (tenant_id, path, key_id, wrapped_key, ciphertext, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (tenant_id, path) DO UPDATE SET key_id = excluded.key_id, \
         wrapped_key = excluded.wrapped_key, ciphertext = excluded.ciphertext, updated_at = excluded.updated_at"
    )
    .bind(tenant)
    .bind(&row.path)
    .bind(&row.key_id)
    .bind(&row.wrapped_key)
    .bind(&row.ciphertext)
    .bind(row.updated_at)
    .execute(c)
    .await
    .map(|_| ())
    })?;
    Ok(())
}

/// The sealed value at a path.
pub async fn get(tx: &mut SystemTx, path: &str) -> Result<Option<SealedRow>> {
    let tenant = tx.tenant().as_uuid();
    Ok(with_conn!(tx, |c| sqlx::query_as(
        "SELECT path, key_id, wrapped_key, ciphertext, updated_at FROM sealed_secrets \
         WHERE tenant_id = $1 AND path = $2"
    )
    .bind(tenant)
    .bind(path)
    .fetch_optional(c)
    .await)?)
}

/// Deletes the sealed value at a path; true if there was one.
pub async fn delete(tx: &mut SystemTx, path: &str) -> Result<bool> {
    let tenant = tx.tenant().as_uuid();
    let n = with_conn!(tx, |c| sqlx::query(
        "DELETE FROM sealed_secrets WHERE tenant_id = $1 AND path = $2"
    )
    .bind(tenant)
    .bind(path)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Up to `limit` of the tenant's rows not wrapped by `key_id`, for re-wrapping.
pub async fn wrapped_by_other_keys(
    tx: &mut SystemTx,
    key_id: &str,
    limit: i64,
) -> Result<Vec<SealedRow>> {
    let tenant = tx.tenant().as_uuid();
    Ok(with_conn!(tx, |c| sqlx::query_as(
        "SELECT path, key_id, wrapped_key, ciphertext, updated_at FROM sealed_secrets \
         WHERE tenant_id = $1 AND key_id <> $2 ORDER BY path LIMIT $3"
    )
    .bind(tenant)
    .bind(key_id)
    .bind(limit)
    .fetch_all(c)
    .await)?)
}

/// How many of the tenant's rows are not wrapped by `key_id`.
pub async fn count_wrapped_by_other_keys(tx: &mut SystemTx, key_id: &str) -> Result<usize> {
    let tenant = tx.tenant().as_uuid();
    let n: i64 = with_conn!(tx, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM sealed_secrets WHERE tenant_id = $1 AND key_id <> $2"
    )
    .bind(tenant)
    .bind(key_id)
    .fetch_one(c)
    .await)?;
    Ok(n as usize)
}

/// Replaces a row's wrapped data key, only if it is still wrapped by
/// `old_key_id` (a concurrent write wins); true if replaced.
pub async fn rewrap(
    tx: &mut SystemTx,
    path: &str,
    old_key_id: &str,
    key_id: &str,
    wrapped_key: &[u8],
) -> Result<bool> {
    let tenant = tx.tenant().as_uuid();
    let n = with_conn!(tx, |c| sqlx::query(
        "UPDATE sealed_secrets SET key_id = $1, wrapped_key = $2 \
         WHERE tenant_id = $3 AND path = $4 AND key_id = $5"
    )
    .bind(key_id)
    .bind(wrapped_key)
    .bind(tenant)
    .bind(path)
    .bind(old_key_id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}
