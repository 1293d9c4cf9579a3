//! What the workspace's model calls used and cost (admins): by day, agent,
//! model or API token, over the last days.

use crate::{access, App, AppError};
use chrono::{DateTime, TimeDelta, Utc};
use domain::tokens::Scope;
use domain::Principal;
use serde::{Deserialize, Serialize};
use store::usage::{self, Group};

/// The report's options.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// `day` (default), `agent`, `model` or `token`.
    pub group_by: Option<String>,
    /// How many days back, 1 to 366 (default 30).
    pub days: Option<u32>,
}

/// One group's calls.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UsageRow {
    /// The day, agent id, `provider/model` or token id (empty: none).
    pub key: String,
    /// Model calls.
    pub calls: i64,
    /// Prompt tokens.
    pub input_tokens: i64,
    /// Generated tokens.
    pub output_tokens: i64,
    /// Cost in US dollars, from the shipped price table.
    pub cost_usd: f64,
}

/// The report.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UsageReport {
    /// How the rows are grouped.
    pub group_by: String,
    /// From (UTC).
    pub since: DateTime<Utc>,
    /// To (UTC).
    pub until: DateTime<Utc>,
    /// The groups.
    pub rows: Vec<UsageRow>,
    /// All groups together.
    pub total: UsageRow,
}

/// The usage report.
pub async fn report(state: &App, who: &Principal, q: UsageQuery) -> Result<UsageReport, AppError> {
    let scope = access::require(who, Scope::Admin)?;
    let group_by = q.group_by.unwrap_or_else(|| "day".into());
    let group = match group_by.as_str() {
        "day" => Group::Day,
        "agent" => Group::Agent,
        "model" => Group::Model,
        "token" => Group::Token,
        other => {
            return Err(AppError::field(
                "group_by",
                format!("`{other}` is not one of day, agent, model, token"),
            ))
        }
    };
    let days = q.days.unwrap_or(30);
    if !(1..=366).contains(&days) {
        return Err(AppError::field("days", "must be between 1 and 366"));
    }
    let until = Utc::now();
    let since = until - TimeDelta::days(i64::from(days));
    let mut tx = state.store.read(&scope).await?;
    let sums = usage::summary(&mut tx, group, since, until).await?;
    tx.commit().await?;
    let row = |s: &usage::UsageSum| UsageRow {
        key: s.key.clone(),
        calls: s.calls,
        input_tokens: s.input_tokens,
        output_tokens: s.output_tokens,
        cost_usd: s.cost_micros as f64 / 1e6,
    };
    let rows: Vec<UsageRow> = sums.iter().map(row).collect();
    let total = UsageRow {
        key: "total".into(),
        calls: sums.iter().map(|s| s.calls).sum(),
        input_tokens: sums.iter().map(|s| s.input_tokens).sum(),
        output_tokens: sums.iter().map(|s| s.output_tokens).sum(),
        cost_usd: sums.iter().map(|s| s.cost_micros).sum::<i64>() as f64 / 1e6,
    };
    Ok(UsageReport {
        group_by,
        since,
        until,
        rows,
        total,
    })
}
