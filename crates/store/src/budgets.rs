//! Monthly model budgets and their use, reserved before a call and settled
//! after it, so that concurrent calls cannot spend past the budget.

use crate::changes::Topic;
use crate::tx::{with_conn, TenantTx};
use crate::Result;
use chrono::{DateTime, Utc};

/// A tenant's monthly limits; `None` is no limit of that kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Budget {
    /// Tokens (in and out) a month.
    pub monthly_tokens: Option<i64>,
    /// Cost a month, in millionths of a US dollar.
    pub monthly_cost_micros: Option<i64>,
    /// Model requests a minute, per API token.
    pub requests_per_minute: Option<i64>,
}

impl Budget {
    /// Whether no limit of any kind is set.
    pub fn is_empty(&self) -> bool {
        self.monthly_tokens.is_none()
            && self.monthly_cost_micros.is_none()
            && self.requests_per_minute.is_none()
    }
}

/// What a month has used, and holds for calls still running.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MonthUse {
    /// Tokens used.
    pub tokens: i64,
    /// Cost used, micro-dollars.
    pub cost_micros: i64,
    /// Tokens held by running calls.
    pub reserved_tokens: i64,
    /// Cost held by running calls.
    pub reserved_cost_micros: i64,
}

/// The tenant's budget, if it set one.
pub async fn get(tx: &mut TenantTx) -> Result<Option<Budget>> {
    let tenant = tx.tenant().as_uuid();
    let row: Option<(Option<i64>, Option<i64>, Option<i64>)> = with_conn!(tx, |c| {
        sqlx::query_as(
        "SELECT monthly_tokens, monthly_cost_micros, requests_per_minute FROM llm_budgets WHERE tenant_id = $1"
    )
    .bind(tenant)
    .fetch_optional(c)
    .await
    })?;
    Ok(row.map(|(t, c, r)| Budget {
        monthly_tokens: t,
        monthly_cost_micros: c,
        requests_per_minute: r,
    }))
}

/// Sets (or, with no limits, removes) the tenant's budget.
pub async fn set(tx: &mut TenantTx, b: Budget, now: DateTime<Utc>) -> Result<()> {
    tx.touch(Topic::Budgets);
    let tenant = tx.tenant().as_uuid();
    if b.is_empty() {
        with_conn!(tx, |c| sqlx::query(
            "DELETE FROM llm_budgets WHERE tenant_id = $1"
        )
        .bind(tenant)
        .execute(c)
        .await
        .map(drop))?;
        return Ok(());
    }
    with_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO llm_budgets (tenant_id, monthly_tokens, monthly_cost_micros, requests_per_minute, updated_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id) DO UPDATE SET monthly_tokens = $2, \
         monthly_cost_micros = $3, requests_per_minute = $4, updated_at = $5"
    )
    .bind(tenant)
    .bind(b.monthly_tokens)
    .bind(b.monthly_cost_micros)
    .bind(b.requests_per_minute)
    .bind(now)
    .execute(c)
    .await
    .map(drop)
    })?;
    Ok(())
}

async fn ensure_month(tx: &mut TenantTx, month: &str) -> Result<()> {
    let tenant = tx.tenant().as_uuid();
    with_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO llm_budget_months (tenant_id, month) VALUES ($1, $2) ON CONFLICT (tenant_id, month) DO NOTHING"
    )
    .bind(tenant)
    .bind(month)
    .execute(c)
    .await
    .map(drop)
    })?;
    Ok(())
}

/// Holds `tokens` and `cost_micros` of `month` for a call if the budget
/// still has room for them, in one conditional statement; `false` if not.
pub async fn reserve(
    tx: &mut TenantTx,
    month: &str,
    budget: Budget,
    tokens: i64,
    cost_micros: i64,
) -> Result<bool> {
    ensure_month(tx, month).await?;
    let tenant = tx.tenant().as_uuid();
    // A missing limit stands in as the largest value: the condition holds.
    let token_limit = budget.monthly_tokens.unwrap_or(i64::MAX);
    let cost_limit = budget.monthly_cost_micros.unwrap_or(i64::MAX);
    let n = with_conn!(tx, |c| {
        sqlx::query(
        "UPDATE llm_budget_months SET reserved_tokens = reserved_tokens + $3, reserved_cost_micros = reserved_cost_micros + $4 \
         WHERE tenant_id = $1 AND month = $2 \
         AND tokens + reserved_tokens <= $5 - $3 AND cost_micros + reserved_cost_micros <= $6 - $4"
    )
    .bind(tenant)
    .bind(month)
    .bind(tokens)
    .bind(cost_micros)
    .bind(token_limit)
    .bind(cost_limit)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// Releases a call's hold and counts what it really used.
pub async fn settle(
    tx: &mut TenantTx,
    month: &str,
    held: (i64, i64),
    used: (i64, i64),
) -> Result<()> {
    ensure_month(tx, month).await?;
    let tenant = tx.tenant().as_uuid();
    with_conn!(tx, |c| {
        sqlx::query(
        "UPDATE llm_budget_months SET reserved_tokens = reserved_tokens - $3, reserved_cost_micros = reserved_cost_micros - $4, \
         tokens = tokens + $5, cost_micros = cost_micros + $6 WHERE tenant_id = $1 AND month = $2"
    )
    .bind(tenant)
    .bind(month)
    .bind(held.0)
    .bind(held.1)
    .bind(used.0)
    .bind(used.1)
    .execute(c)
    .await
    .map(drop)
    })?;
    Ok(())
}

/// What `month` has used so far.
pub async fn month_use(tx: &mut TenantTx, month: &str) -> Result<MonthUse> {
    let tenant = tx.tenant().as_uuid();
    let row: Option<(i64, i64, i64, i64)> = with_conn!(tx, |c| {
        sqlx::query_as(
        "SELECT tokens, cost_micros, reserved_tokens, reserved_cost_micros FROM llm_budget_months \
         WHERE tenant_id = $1 AND month = $2"
    )
    .bind(tenant)
    .bind(month)
    .fetch_optional(c)
    .await
    })?;
    Ok(row
        .map(
            |(tokens, cost_micros, reserved_tokens, reserved_cost_micros)| MonthUse {
                tokens,
                cost_micros,
                reserved_tokens,
                reserved_cost_micros,
            },
        )
        .unwrap_or_default())
}

/// Counts one request of the acting API token in `minute` if it stays
/// within `limit`, in one conditional upsert; `false` when the token has
/// used its rate.
pub async fn admit_request(
    tx: &mut TenantTx,
    token: domain::TokenId,
    minute: &str,
    limit: i64,
) -> Result<bool> {
    let tenant = tx.tenant().as_uuid();
    let counted: Option<(i64,)> = with_conn!(tx, |c| {
        sqlx::query_as(
        "INSERT INTO llm_token_minutes (tenant_id, token_id, minute, requests) VALUES ($1, $2, $3, 1) \
         ON CONFLICT (tenant_id, token_id, minute) DO UPDATE SET requests = llm_token_minutes.requests + 1 \
         WHERE llm_token_minutes.requests < $4 RETURNING requests"
    )
    .bind(tenant)
    .bind(token.as_uuid())
    .bind(minute)
    .bind(limit)
    .fetch_optional(c)
    .await
    })?;
    Ok(counted.is_some_and(|(n,)| n <= limit))
}
