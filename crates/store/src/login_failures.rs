//! Failed sign-ins per account and client address, and the lock they earn.

use crate::tx::with_pool;
use crate::{Result, Store};
use chrono::{DateTime, TimeDelta, Utc};
use domain::UserId;

/// Until when sign-ins to this account from this address are refused.
pub async fn locked_until(store: &Store, user: UserId, ip: &str) -> Result<Option<DateTime<Utc>>> {
    const SQL: &str =
        "SELECT locked_until FROM login_failures WHERE user_id = $1 AND ip_address = $2";
    let row: Option<(Option<DateTime<Utc>>,)> = with_pool!(store, |p| sqlx::query_as(SQL)
        .bind(user.as_uuid())
        .bind(ip)
        .fetch_optional(p)
        .await)?;
    Ok(row.and_then(|(until,)| until).filter(|t| *t > Utc::now()))
}

/// Counts a failed sign-in from `ip`; at `lock_after` in a row that address
/// is locked out of the account for `lock_for`. Returns whether this
/// failure locked it.
pub async fn record(
    store: &Store,
    user: UserId,
    ip: &str,
    lock_after: i32,
    lock_for: TimeDelta,
) -> Result<bool> {
    const SQL: &str = "INSERT INTO login_failures (user_id, ip_address, failures, locked_until, updated_at) \
        VALUES ($1, $2, 1, CASE WHEN 1 >= $3 THEN $4 ELSE NULL END, $5) \
        ON CONFLICT (user_id, ip_address) DO UPDATE SET \
        failures = login_failures.failures + 1, \
        locked_until = CASE WHEN login_failures.failures + 1 >= $3 THEN $4 ELSE login_failures.locked_until END, \
        updated_at = $5 \
        RETURNING failures";
    let now = Utc::now();
    let (n,): (i32,) = with_pool!(store, |p| sqlx::query_as(SQL)
        .bind(user.as_uuid())
        .bind(ip)
        .bind(lock_after)
        .bind(now + lock_for)
        .bind(now)
        .fetch_one(p)
        .await)?;
    Ok(n == lock_after)
}

/// Forgets the failures from `ip` after a successful sign-in from there.
pub async fn clear(store: &Store, user: UserId, ip: &str) -> Result<()> {
    with_pool!(store, |p| sqlx::query(
        "DELETE FROM login_failures WHERE user_id = $1 AND ip_address = $2"
    )
    .bind(user.as_uuid())
    .bind(ip)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}
