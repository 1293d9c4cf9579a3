//! Signed-in sessions: only the hash of their token is stored.

use crate::connect::Store;
use crate::tx::{fetch_by_hash, with_conn, SystemTx, TenantTx, Tx};
use crate::Result;
use chrono::{DateTime, Utc};
use domain::tokens::GeneratedToken;
use domain::{Scoped, SessionId, TenantId, UserId};
use uuid::Uuid;

/// A stored session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// Id.
    pub id: SessionId,
    /// The tenant it is signed in to.
    pub tenant_id: TenantId,
    /// The user.
    pub user_id: UserId,
    /// Last request seen.
    pub last_seen_at: DateTime<Utc>,
    /// Absolute expiry.
    pub expires_at: DateTime<Utc>,
    /// When it was ended.
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    tenant_id: Uuid,
    user_id: Uuid,
    last_seen_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<Row> for Session {
    fn from(r: Row) -> Self {
        Session {
            id: SessionId::from_uuid(r.id),
            tenant_id: TenantId::from_uuid(r.tenant_id),
            user_id: UserId::from_uuid(r.user_id),
            last_seen_at: r.last_seen_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
        }
    }
}

/// Starts a session for the transaction's tenant and acting user.
pub async fn create(
    tx: &mut TenantTx,
    user: UserId,
    token: &GeneratedToken,
    expires_at: DateTime<Utc>,
) -> Result<Session> {
    let now = Utc::now();
    let s = Session {
        id: SessionId::new(),
        tenant_id: tx.tenant(),
        user_id: user,
        last_seen_at: now,
        expires_at,
        revoked_at: None,
    };
    with_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO sessions (id, tenant_id, user_id, token_hash, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    )
    .bind(s.id.as_uuid())
    .bind(s.tenant_id.as_uuid())
    .bind(user.as_uuid())
    .bind(&token.hash)
    .bind(now)
    .bind(now)
    .bind(expires_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(s)
}

/// Finds a session by the hash of a presented token (keyed lookup).
pub async fn find_by_hash(store: &Store, hash: &str) -> Result<Option<Session>> {
    let row: Option<Row> = fetch_by_hash(store, "SELECT id, tenant_id, user_id, last_seen_at, expires_at, revoked_at FROM sessions WHERE token_hash = $1", hash).await?;
    Ok(row.map(Into::into))
}

/// Ends a session of the transaction's tenant.
pub async fn revoke(tx: &mut TenantTx, id: SessionId) -> Result<()> {
    let tenant = tx.tenant().as_uuid();
    with_conn!(tx, |c| {
        sqlx::query("UPDATE sessions SET revoked_at = COALESCE(revoked_at, $1) WHERE tenant_id = $2 AND id = $3")
        .bind(Utc::now())
        .bind(tenant)
        .bind(id.as_uuid())
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Records activity, which keeps the session within its idle timeout.
pub async fn touch(tx: &mut TenantTx, id: SessionId) -> Result<()> {
    let tenant = tx.tenant().as_uuid();
    with_conn!(tx, |c| sqlx::query(
        "UPDATE sessions SET last_seen_at = $1 WHERE tenant_id = $2 AND id = $3"
    )
    .bind(Utc::now())
    .bind(tenant)
    .bind(id.as_uuid())
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Ends every session of a user in the transaction's tenant ("log out
/// everywhere", and after a password reset or change, which the platform
/// does on the user's behalf in each of their tenants). Returns how many
/// were open.
pub async fn revoke_all_of_user<S: Scoped>(tx: &mut Tx<S>, user: UserId) -> Result<u64> {
    let tenant = tx.tenant().as_uuid();
    let n = with_conn!(tx, |c| {
        sqlx::query(
        "UPDATE sessions SET revoked_at = $1 WHERE tenant_id = $2 AND user_id = $3 AND revoked_at IS NULL"
    )
    .bind(Utc::now())
    .bind(tenant)
    .bind(user.as_uuid())
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(n)
}

/// Deletes the tenant's sessions that can no longer be used (expired or
/// revoked); returns how many.
pub async fn purge_ended(tx: &mut SystemTx, now: DateTime<Utc>) -> Result<u64> {
    let tenant = tx.tenant().as_uuid();
    Ok(with_conn!(tx, |c| {
        sqlx::query(
            "DELETE FROM sessions WHERE tenant_id = $1 AND (expires_at < $2 OR revoked_at IS NOT NULL)",
        )
        .bind(tenant)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?)
}
