//! Counts for the dashboard, each scoped to the transaction's tenant.
//!
//! [`METRICS`] is the registry of dashboard figures: a capability that lands
//! later (connectors, agents, knowledge) adds its line here and its card
//! appears on every dashboard.

use crate::tx::{with_conn, TenantTx};
use crate::Result;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

/// One figure of the dashboard.
pub struct Metric {
    /// Stable key.
    pub key: &'static str,
    /// What is counted.
    pub label: &'static str,
    /// A line of context.
    pub hint: &'static str,
    /// `SELECT COUNT(*) …` with `$1` the tenant id and, when `window` is
    /// set, `$2` the start of the window.
    sql: &'static str,
    /// Count only what happened within this window.
    window: Option<TimeDelta>,
}

/// Every dashboard figure, in display order.
pub const METRICS: &[Metric] = &[
    Metric {
        key: "members",
        label: "Members",
        hint: "people in this workspace",
        sql: "SELECT COUNT(*) FROM memberships WHERE tenant_id = $1",
        window: None,
    },
    Metric {
        key: "api_tokens",
        label: "API tokens",
        hint: "active, not revoked",
        sql: "SELECT COUNT(*) FROM api_tokens WHERE tenant_id = $1 AND revoked_at IS NULL",
        window: None,
    },
    Metric {
        key: "audit_events",
        label: "Audit events",
        hint: "in the last 7 days",
        sql: "SELECT COUNT(*) FROM audit_logs WHERE tenant_id = $1 AND created_at >= $2",
        window: Some(TimeDelta::days(7)),
    },
    Metric {
        key: "connections",
        label: "Connections",
        hint: "tools connected",
        sql: "SELECT COUNT(*) FROM connector_configs WHERE tenant_id = $1",
        window: None,
    },
    Metric {
        key: "synced_records",
        label: "Synced records",
        hint: "from connected tools, live",
        sql: "SELECT COUNT(*) FROM connector_records WHERE tenant_id = $1 AND deleted = false",
        window: None,
    },
];

/// The value of one figure for the transaction's tenant.
pub async fn count(tx: &mut TenantTx, metric: &Metric) -> Result<i64> {
    let tenant = tx.tenant().as_uuid();
    let since = metric.window.map(|w| Utc::now() - w);
    let (n,): (i64,) = with_conn!(tx, |c| {
        let q = sqlx::query_as(metric.sql).bind(tenant);
        match since {
            Some(s) => q.bind(s).fetch_one(c).await,
            None => q.fetch_one(c).await,
        }
    })?;
    Ok(n)
}

/// Audit entries per UTC day over the last `days` days, oldest first,
/// days without entries included as zero.
pub async fn audit_events_per_day(tx: &mut TenantTx, days: u32) -> Result<Vec<(NaiveDate, i64)>> {
    rows_per_day(tx, "audit_logs", days).await
}

/// Workflow runs started per UTC day over the last `days` days, oldest
/// first, days without runs included as zero.
pub async fn workflow_runs_per_day(tx: &mut TenantTx, days: u32) -> Result<Vec<(NaiveDate, i64)>> {
    rows_per_day(tx, "workflow_runs", days).await
}

/// Rows of a tenant table (one of ours, never input) per day of `created_at`.
async fn rows_per_day(
    tx: &mut TenantTx,
    table: &'static str,
    days: u32,
) -> Result<Vec<(NaiveDate, i64)>> {
    let tenant = tx.tenant().as_uuid();
    let today = Utc::now().date_naive();
    let first = today - TimeDelta::days(i64::from(days.max(1)) - 1);
    let since: DateTime<Utc> = first.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    // The day of each row, grouped in the database; the date expression
    // is the one place the two backends differ.
    let day = if tx.is_sqlite() {
        "substr(created_at, 1, 10)"
    } else {
        "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
    };
    let sql = format!(
        "SELECT {day} AS day, COUNT(*) FROM {table} WHERE tenant_id = $1 AND created_at >= $2 GROUP BY day"
    );
    let rows: Vec<(String, i64)> = with_conn!(tx, |c| sqlx::query_as(&sql)
        .bind(tenant)
        .bind(since)
        .fetch_all(c)
        .await)?;
    let mut buckets: Vec<(NaiveDate, i64)> = (0..i64::from(days.max(1)))
        .map(|d| (first + TimeDelta::days(d), 0))
        .collect();
    for (day, n) in rows {
        let Ok(day) = NaiveDate::parse_from_str(&day, "%Y-%m-%d") else {
            continue;
        };
        let i = (day - first).num_days();
        if let Some(b) = usize::try_from(i).ok().and_then(|i| buckets.get_mut(i)) {
            b.1 += n;
        }
    }
    Ok(buckets)
}
