//! Accounts at single sign-on providers, linked to users.

use crate::connect::Store;
use crate::tx::{with_conn, with_pool, TenantTx};
use crate::Result;
use chrono::Utc;
use domain::UserId;
use uuid::Uuid;

/// The user a provider account is linked to.
pub async fn find(store: &Store, provider: &str, subject: &str) -> Result<Option<UserId>> {
    const SQL: &str = "SELECT user_id FROM user_identities WHERE provider = $1 AND subject = $2";
    let row: Option<(Uuid,)> = with_pool!(store, |p| sqlx::query_as(SQL)
        .bind(provider)
        .bind(subject)
        .fetch_optional(p)
        .await)?;
    Ok(row.map(|(u,)| UserId::from_uuid(u)))
}

/// Whether the user already has an account linked at this provider.
pub async fn has_provider(store: &Store, user: UserId, provider: &str) -> Result<bool> {
    const SQL: &str = "SELECT COUNT(*) FROM user_identities WHERE user_id = $1 AND provider = $2";
    let (n,): (i64,) = with_pool!(store, |p| sqlx::query_as(SQL)
        .bind(user.as_uuid())
        .bind(provider)
        .fetch_one(p)
        .await)?;
    Ok(n > 0)
}

/// Links a provider account to a user, in the caller's transaction so the
/// audit entry lands with it. A second link of either side is a conflict.
pub async fn link(
    tx: &mut TenantTx,
    user: UserId,
    provider: &str,
    subject: &str,
    email: &str,
) -> Result<()> {
    with_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO user_identities (provider, subject, user_id, email, created_at) VALUES ($1, $2, $3, $4, $5)"
    )
    .bind(provider)
    .bind(subject)
    .bind(user.as_uuid())
    .bind(email)
    .bind(Utc::now())
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}
