//! Monthly model budgets (admins set them): every model call holds its
//! largest possible use before it starts and settles to what it used, so
//! concurrent calls cannot overspend; a call that does not fit is a 429
//! naming the budget. The holds are kept in the database, or in Redis when
//! `redis.url` is set, so that every instance shares them.

use crate::{access, App, AppError};
use chrono::{Datelike, TimeZone, Timelike, Utc};
use domain::audit::{NewAuditEntry, RequestOrigin};
use domain::tokens::Scope;
use domain::{Principal, TenantScope};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use store::budgets::{self, Budget, MonthUse};
use store::redis_ledger::RedisLedger;
use store::{audit, TenantTx};

/// The budget and this month's use.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BudgetView {
    /// Tokens (in and out) a month; absent: no limit.
    pub monthly_tokens: Option<i64>,
    /// US dollars a month; absent: no limit.
    pub monthly_cost_usd: Option<f64>,
    /// The month counted (`YYYY-MM`, UTC).
    pub month: String,
    /// Tokens used this month.
    pub used_tokens: i64,
    /// Dollars used this month.
    pub used_cost_usd: f64,
    /// Tokens held by answers still being written.
    pub reserved_tokens: i64,
    /// Model requests a minute each API token may make; absent: no limit.
    pub requests_per_minute: Option<i64>,
}

/// New limits; absent fields mean no limit of that kind.
#[derive(Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetBudget {
    /// Tokens a month, at least 1.
    pub monthly_tokens: Option<i64>,
    /// US dollars a month, more than 0.
    pub monthly_cost_usd: Option<f64>,
    /// Model requests a minute per API token (agents and the gateway), at
    /// least 1.
    #[serde(default)]
    pub requests_per_minute: Option<i64>,
}

/// A call's hold on the budget, released when it settles.
#[derive(Clone, Debug)]
pub struct Hold {
    month: String,
    tokens: i64,
    cost_micros: i64,
    /// The hold's member in Redis, when the ledger is there.
    redis: Option<String>,
}

/// Where budget holds and the month's use are kept.
#[derive(Clone, Default)]
pub enum Ledger {
    /// In the database, beside the calls (one instance, or instances that
    /// share it).
    #[default]
    Database,
    /// In Redis, shared by every instance.
    Redis(Arc<RedisLedger>),
}

/// The month a call counts in.
pub fn this_month() -> String {
    Utc::now().format("%Y-%m").to_string()
}

fn seconds_to_next_month() -> u64 {
    let now = Utc::now();
    let (y, m) = if now.month() == 12 {
        (now.year() + 1, 1)
    } else {
        (now.year(), now.month() + 1)
    };
    let next = Utc
        .with_ymd_and_hms(y, m, 1, 0, 0, 0)
        .single()
        .unwrap_or(now);
    (next - now).num_seconds().max(1) as u64
}

fn micros(usd: f64) -> i64 {
    (usd * 1e6).round() as i64
}

async fn month_use(
    state: &App,
    tx: &mut TenantTx,
    tenant: domain::TenantId,
    month: &str,
) -> Result<MonthUse, AppError> {
    Ok(match &state.ledger {
        Ledger::Database => budgets::month_use(tx, month).await?,
        Ledger::Redis(r) => r.month_use(tenant, month).await?,
    })
}

async fn view(state: &App, tx: &mut TenantTx, scope: &TenantScope) -> Result<BudgetView, AppError> {
    let budget = budgets::get(tx).await?.unwrap_or_default();
    let month = this_month();
    let used = month_use(state, tx, scope.tenant(), &month).await?;
    Ok(BudgetView {
        monthly_tokens: budget.monthly_tokens,
        monthly_cost_usd: budget.monthly_cost_micros.map(|c| c as f64 / 1e6),
        month,
        used_tokens: used.tokens,
        used_cost_usd: used.cost_micros as f64 / 1e6,
        reserved_tokens: used.reserved_tokens,
        requests_per_minute: budget.requests_per_minute,
    })
}

/// The budget and this month's use (admins).
pub async fn get(state: &App, who: &Principal) -> Result<BudgetView, AppError> {
    let scope = access::require(who, Scope::Admin)?;
    let mut tx = state.store.read(&scope).await?;
    let v = view(state, &mut tx, &scope).await?;
    tx.commit().await?;
    Ok(v)
}

/// Sets the limits (admins), audited.
pub async fn set(
    state: &App,
    who: &Principal,
    origin: RequestOrigin,
    body: SetBudget,
) -> Result<BudgetView, AppError> {
    let scope = access::require(who, Scope::Admin)?;
    let mut errors = Vec::new();
    if body.monthly_tokens.is_some_and(|t| t < 1) {
        errors.push(domain::validation::FieldError::new(
            "monthly_tokens",
            "must be at least 1",
        ));
    }
    if body.monthly_cost_usd.is_some_and(|c| !(c > 0.0 && c < 1e9)) {
        errors.push(domain::validation::FieldError::new(
            "monthly_cost_usd",
            "must be more than 0 (and under a billion)",
        ));
    }
    if body.requests_per_minute.is_some_and(|r| r < 1) {
        errors.push(domain::validation::FieldError::new(
            "requests_per_minute",
            "must be at least 1",
        ));
    }
    AppError::collect(errors)?;
    let budget = Budget {
        monthly_tokens: body.monthly_tokens,
        monthly_cost_micros: body.monthly_cost_usd.map(micros),
        requests_per_minute: body.requests_per_minute,
    };
    let mut tx = state.store.write(&scope).await?;
    budgets::set(&mut tx, budget, Utc::now()).await?;
    audit::record(
        &mut tx,
        NewAuditEntry::new(
            "usage.budget_set",
            "tenant",
            Some(scope.tenant().to_string()),
        )
        .with_metadata(serde_json::json!({
            "monthly_tokens": body.monthly_tokens,
            "monthly_cost_usd": body.monthly_cost_usd,
            "requests_per_minute": body.requests_per_minute,
        }))
        .from_origin(origin),
    )
    .await?;
    let v = view(state, &mut tx, &scope).await?;
    tx.commit().await?;
    Ok(v)
}

/// The tenant's budget, if it has one (read once per message).
pub async fn of(state: &App, scope: &TenantScope) -> Result<Option<Budget>, AppError> {
    let mut tx = state.store.read(scope).await?;
    let b = budgets::get(&mut tx).await?;
    tx.commit().await?;
    Ok(b)
}

/// Counts a model request of the calling API token against its rate, or
/// refuses it with a 429 that names the rate. Members signed in are not
/// rate limited here (their sign-in is, and the monthly budget holds).
pub async fn admit(
    state: &App,
    scope: &TenantScope,
    budget: Option<Budget>,
) -> Result<(), AppError> {
    let (Some(limit), domain::Actor::Token(token)) =
        (budget.and_then(|b| b.requests_per_minute), scope.actor())
    else {
        return Ok(());
    };
    let now = Utc::now();
    let minute = now.format("%Y-%m-%dT%H:%M").to_string();
    let admitted = match &state.ledger {
        Ledger::Database => {
            let mut tx = state.store.write(scope).await?;
            let ok = budgets::admit_request(&mut tx, token, &minute, limit).await?;
            tx.commit().await?;
            ok
        }
        Ledger::Redis(r) => {
            r.admit_request(scope.tenant(), token, &minute, limit)
                .await?
        }
    };
    if admitted {
        return Ok(());
    }
    Err(AppError::TooManyRequests {
        detail: format!(
            "this API token may make {limit} model requests a minute (the workspace's rate, PUT /api/v1/usage/budget) and has made them this minute"
        ),
        retry_after: (60 - u64::from(now.second())).max(1),
    })
}

/// Holds `tokens` and `cost_micros` for a call, or refuses it with a 429
/// that names the budget.
pub async fn hold(
    state: &App,
    scope: &TenantScope,
    budget: Budget,
    tokens: i64,
    cost_micros: i64,
) -> Result<Hold, AppError> {
    let month = this_month();
    let (redis, used) = match &state.ledger {
        Ledger::Database => {
            let mut tx = state.store.write(scope).await?;
            let fits = budgets::reserve(&mut tx, &month, budget, tokens, cost_micros).await?;
            let used = budgets::month_use(&mut tx, &month).await?;
            tx.commit().await?;
            (fits.then_some(None), used)
        }
        Ledger::Redis(r) => {
            let reserved = r
                .reserve(scope.tenant(), &month, budget, tokens, cost_micros)
                .await?;
            (reserved.hold.map(Some), reserved.before)
        }
    };
    let Some(redis) = redis else {
        let limit = match (budget.monthly_tokens, budget.monthly_cost_micros) {
            (Some(t), _) if (used.tokens + used.reserved_tokens).saturating_add(tokens) > t => format!(
                "{} of its {t} tokens this month are used or held, and this answer may take up to {tokens}",
                used.tokens + used.reserved_tokens
            ),
            (_, Some(c)) => format!(
                "${:.4} of its ${:.4} this month is used or held, and this answer may cost up to ${:.4}",
                (used.cost_micros + used.reserved_cost_micros) as f64 / 1e6,
                c as f64 / 1e6,
                cost_micros as f64 / 1e6
            ),
            _ => "it is used up".into(),
        };
        return Err(AppError::TooManyRequests {
            detail: format!(
                "the workspace's monthly model budget does not allow this: {limit}; an admin can raise it (PUT /api/v1/usage/budget)"
            ),
            retry_after: seconds_to_next_month(),
        });
    };
    Ok(Hold {
        month,
        tokens,
        cost_micros,
        redis,
    })
}

/// Releases a hold and counts what the call used: in the caller's
/// transaction (the one that records the call) when the ledger is the
/// database; in Redis just before that transaction commits otherwise (a
/// failed commit then leaves the use counted, never forgotten).
pub async fn settle(
    state: &App,
    tx: &mut TenantTx,
    hold: &Hold,
    tokens: i64,
    cost_micros: i64,
) -> Result<(), AppError> {
    match (&hold.redis, &state.ledger) {
        (Some(member), Ledger::Redis(r)) => {
            r.settle(tx.tenant(), &hold.month, member, tokens, cost_micros)
                .await?
        }
        _ => {
            budgets::settle(
                tx,
                &hold.month,
                (hold.tokens, hold.cost_micros),
                (tokens, cost_micros),
            )
            .await?
        }
    }
    Ok(())
}
