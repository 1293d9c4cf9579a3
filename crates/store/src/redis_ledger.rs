//! Monthly model budgets kept in Redis (when `redis.url` is set), so every
//! instance holds against the same numbers. Holding and settling are each
//! one Lua script, which Redis runs atomically: concurrent calls, from any
//! instance, cannot spend past the budget.
//!
//! Per tenant and month a hash holds what is used and reserved, and a
//! sorted set the holds themselves, each scored by when its lease ends. A
//! hold that is never settled (its instance died) lapses when its lease
//! ends: the next hold of the tenant gives its reservation back. A settle
//! after the lease still counts what the call used.

use crate::budgets::{Budget, MonthUse};
use crate::{Result, StoreError};
use domain::TenantId;
use redis::aio::ConnectionManager;
use redis::Script;
use std::time::Duration;

/// How long keys of a month outlive their last use: past the month's end,
/// for the report of the month before.
const KEEP_SECS: u64 = 40 * 24 * 3600;

/// What a hold script answers: whether it fits, and the month's use as the
/// script found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reserved {
    /// The hold's member, to settle with; `None`: it did not fit.
    pub hold: Option<String>,
    /// The month's use before this hold.
    pub before: MonthUse,
}

/// The budget ledger in Redis.
#[derive(Clone)]
pub struct RedisLedger {
    conn: ConnectionManager,
    prefix: String,
    lease: Duration,
    hold: std::sync::Arc<Script>,
    settle: std::sync::Arc<Script>,
    read: std::sync::Arc<Script>,
    admit: std::sync::Arc<Script>,
}

// Gives back the reservations of holds whose lease ended. (`0 - x`, not
// `-x`: Lua would hand Redis `-0`, which HINCRBY refuses.)
const LAPSE: &str = r#"
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
for _, m in ipairs(lapsed) do
  local t, c = string.match(m, '|(%-?%d+)|(%-?%d+)$')
  redis.call('HINCRBY', KEYS[1], 'reserved_tokens', 0 - tonumber(t))
  redis.call('HINCRBY', KEYS[1], 'reserved_cost', 0 - tonumber(c))
end
if #lapsed > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1]) end
local h = redis.call('HMGET', KEYS[1], 'used_tokens', 'used_cost', 'reserved_tokens', 'reserved_cost')
local use = {tonumber(h[1]) or 0, tonumber(h[2]) or 0, tonumber(h[3]) or 0, tonumber(h[4]) or 0}
"#;

// KEYS: the month's hash, its holds. ARGV: now (ms), lease (ms), token
// limit and cost limit (-1: none), tokens, cost, hold id, seconds to keep.
const HOLD: &str = r#"
local lt, lc, t, c = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
if (lt >= 0 and use[1] + use[3] + t > lt) or (lc >= 0 and use[2] + use[4] + c > lc) then
  return {0, use[1], use[2], use[3], use[4]}
end
redis.call('HINCRBY', KEYS[1], 'reserved_tokens', t)
redis.call('HINCRBY', KEYS[1], 'reserved_cost', c)
redis.call('ZADD', KEYS[2], tonumber(ARGV[1]) + tonumber(ARGV[2]), ARGV[7] .. '|' .. t .. '|' .. c)
redis.call('EXPIRE', KEYS[1], ARGV[8])
redis.call('EXPIRE', KEYS[2], ARGV[8])
return {1, use[1], use[2], use[3], use[4]}
"#;

// KEYS: the month's hash, its holds. ARGV: the hold's member, tokens and
// cost used, seconds to keep.
const SETTLE: &str = r#"
if redis.call('ZREM', KEYS[2], ARGV[1]) == 1 then
  local t, c = string.match(ARGV[1], '|(%-?%d+)|(%-?%d+)$')
  redis.call('HINCRBY', KEYS[1], 'reserved_tokens', 0 - tonumber(t))
  redis.call('HINCRBY', KEYS[1], 'reserved_cost', 0 - tonumber(c))
end
redis.call('HINCRBY', KEYS[1], 'used_tokens', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'used_cost', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"#;

// KEYS: the token's counter for the minute. ARGV: the limit.
const ADMIT: &str = r#"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], 120) end
if n > tonumber(ARGV[1]) then
  redis.call('DECR', KEYS[1])
  return 0
end
return 1
"#;

// KEYS: the month's hash, its holds. ARGV: now (ms).
const READ: &str = r#"
return {use[1], use[2], use[3], use[4]}
"#;

fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(format!("the budget ledger (Redis) failed: {e}"))
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn month_use(v: &[i64]) -> MonthUse {
    MonthUse {
        tokens: v[0],
        cost_micros: v[1],
        reserved_tokens: v[2],
        reserved_cost_micros: v[3],
    }
}

impl RedisLedger {
    /// Connects to `url` (`redis://host:port/db`); keys start with
    /// `prefix`; holds lapse after `lease`.
    pub async fn connect(url: &str, prefix: &str, lease: Duration) -> Result<Self> {
        let client =
            redis::Client::open(url).map_err(|e| StoreError::Config(format!("redis.url: {e}")))?;
        let conn = ConnectionManager::new(client).await.map_err(unavailable)?;
        Ok(Self {
            conn,
            prefix: prefix.to_string(),
            lease,
            hold: std::sync::Arc::new(Script::new(&format!("{LAPSE}{HOLD}"))),
            settle: std::sync::Arc::new(Script::new(SETTLE)),
            read: std::sync::Arc::new(Script::new(&format!("{LAPSE}{READ}"))),
            admit: std::sync::Arc::new(Script::new(ADMIT)),
        })
    }

    fn keys(&self, tenant: TenantId, month: &str) -> (String, String) {
        // The tenant in braces: a cluster keeps a tenant's keys in one slot.
        let base = format!("{}budget:{{{tenant}}}:{month}", self.prefix);
        (format!("{base}:use"), format!("{base}:holds"))
    }

    /// Holds `tokens` and `cost_micros` of `month` for a call if the budget
    /// still has room for them.
    pub async fn reserve(
        &self,
        tenant: TenantId,
        month: &str,
        budget: Budget,
        tokens: i64,
        cost_micros: i64,
    ) -> Result<Reserved> {
        let (usage, holds) = self.keys(tenant, month);
        let id = uuid::Uuid::now_v7().simple().to_string();
        let answer: Vec<i64> = self
            .hold
            .key(&usage)
            .key(&holds)
            .arg(now_ms())
            .arg(self.lease.as_millis() as i64)
            .arg(budget.monthly_tokens.unwrap_or(-1))
            .arg(budget.monthly_cost_micros.unwrap_or(-1))
            .arg(tokens)
            .arg(cost_micros)
            .arg(&id)
            .arg(KEEP_SECS)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(Reserved {
            hold: (answer[0] == 1).then(|| format!("{id}|{tokens}|{cost_micros}")),
            before: month_use(&answer[1..]),
        })
    }

    /// Releases a hold and counts what the call used.
    pub async fn settle(
        &self,
        tenant: TenantId,
        month: &str,
        hold: &str,
        tokens: i64,
        cost_micros: i64,
    ) -> Result<()> {
        let (usage, holds) = self.keys(tenant, month);
        let _: i64 = self
            .settle
            .key(&usage)
            .key(&holds)
            .arg(hold)
            .arg(tokens)
            .arg(cost_micros)
            .arg(KEEP_SECS)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// What `month` has used and holds (lapsed holds given back first).
    pub async fn month_use(&self, tenant: TenantId, month: &str) -> Result<MonthUse> {
        let (usage, holds) = self.keys(tenant, month);
        let v: Vec<i64> = self
            .read
            .key(&usage)
            .key(&holds)
            .arg(now_ms())
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(month_use(&v))
    }

    /// Counts one request of `token` in `minute` if it stays within
    /// `limit`; `false` when the token has used its rate.
    pub async fn admit_request(
        &self,
        tenant: TenantId,
        token: domain::TokenId,
        minute: &str,
        limit: i64,
    ) -> Result<bool> {
        let key = format!("{}rate:{{{tenant}}}:{token}:{minute}", self.prefix);
        let ok: i64 = self
            .admit
            .key(&key)
            .arg(limit)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(ok == 1)
    }
}
