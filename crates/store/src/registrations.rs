//! Registrations waiting for their email link (only the link's hash is kept).

use crate::connect::Store;
use crate::tx::{with_conn, with_pool, TenantTx};
use crate::Result;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A registration not yet confirmed.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PendingRegistration {
    /// Id.
    pub id: Uuid,
    /// Email (validated when registered).
    pub email: String,
    /// Display name.
    pub name: String,
    /// The workspace to create.
    pub tenant_name: String,
    /// argon2id hash of the chosen password.
    pub password_hash: String,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
    /// When it was used.
    pub used_at: Option<DateTime<Utc>>,
}

/// What a new pending registration holds.
pub struct NewRegistration<'a> {
    /// Hash of the link token.
    pub token_hash: &'a str,
    /// Email.
    pub email: &'a str,
    /// Display name.
    pub name: &'a str,
    /// Workspace name.
    pub tenant_name: &'a str,
    /// Password hash.
    pub password_hash: &'a str,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
}

/// Keeps a registration until its link is followed.
pub async fn create(store: &Store, r: &NewRegistration<'_>) -> Result<()> {
    const SQL: &str = "INSERT INTO pending_registrations (id, token_hash, email, name, tenant_name, password_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    let id = Uuid::now_v7();
    let now = Utc::now();
    with_pool!(store, |p| sqlx::query(SQL)
        .bind(id)
        .bind(r.token_hash)
        .bind(r.email)
        .bind(r.name)
        .bind(r.tenant_name)
        .bind(r.password_hash)
        .bind(now)
        .bind(r.expires_at)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The registration behind a link token's hash.
pub async fn find_by_hash(store: &Store, hash: &str) -> Result<Option<PendingRegistration>> {
    const SQL: &str = "SELECT id, email, name, tenant_name, password_hash, expires_at, used_at FROM pending_registrations WHERE token_hash = $1";
    Ok(with_pool!(store, |p| sqlx::query_as(SQL)
        .bind(hash)
        .fetch_optional(p)
        .await)?)
}

/// Uses the link, inside the transaction that creates the account; a link
/// already used is not found.
pub async fn mark_used(tx: &mut TenantTx, id: Uuid) -> Result<()> {
    let n = with_conn!(tx, |c| sqlx::query(
        "UPDATE pending_registrations SET used_at = $1 WHERE id = $2 AND used_at IS NULL"
    )
    .bind(Utc::now())
    .bind(id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    if n == 0 {
        return Err(crate::StoreError::NotFound);
    }
    Ok(())
}
