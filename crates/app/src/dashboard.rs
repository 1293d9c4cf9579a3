//! The dashboard's figures: one card per registered metric, and the daily
//! activity charts, each read in one snapshot of the tenant's data.

use crate::{access, App, AppError};
use chrono::NaiveDate;
use domain::tokens::Scope;
use domain::Principal;
use store::stats;

/// One figure.
#[derive(Clone, Debug)]
pub struct Figure {
    /// Stable key (for tests and styling).
    pub key: &'static str,
    /// What is counted.
    pub label: &'static str,
    /// The count.
    pub value: i64,
    /// A line of context.
    pub hint: &'static str,
}

/// The dashboard: its figures and the audit events of the last days.
#[derive(Clone, Debug)]
pub struct Overview {
    /// Every registered figure, in display order.
    pub figures: Vec<Figure>,
    /// Audit events per day, oldest first.
    pub audit_per_day: Vec<(NaiveDate, i64)>,
}

/// Days the activity charts cover.
pub const CHART_DAYS: u32 = 30;

async fn figures(tx: &mut store::TenantTx) -> Result<Vec<Figure>, AppError> {
    let mut figures = Vec::with_capacity(stats::METRICS.len());
    for m in stats::METRICS {
        figures.push(Figure {
            key: m.key,
            label: m.label,
            value: stats::count(tx, m).await?,
            hint: m.hint,
        });
    }
    Ok(figures)
}

/// The figures and the audit chart (any member).
pub async fn overview(state: &App, who: &Principal) -> Result<Overview, AppError> {
    let scope = access::require(who, Scope::Read)?;
    let mut tx = state.store.read(&scope).await?;
    let figures = figures(&mut tx).await?;
    let audit_per_day = stats::audit_events_per_day(&mut tx, CHART_DAYS).await?;
    tx.commit().await?;
    Ok(Overview {
        figures,
        audit_per_day,
    })
}

/// The figures alone, for a refresh (any member).
pub async fn figures_now(state: &App, who: &Principal) -> Result<Vec<Figure>, AppError> {
    let scope = access::require(who, Scope::Read)?;
    let mut tx = state.store.read(&scope).await?;
    let figures = figures(&mut tx).await?;
    tx.commit().await?;
    Ok(figures)
}

/// Workflow runs started per day, oldest first (any member).
pub async fn runs_per_day(state: &App, who: &Principal) -> Result<Vec<(NaiveDate, i64)>, AppError> {
    let scope = access::require(who, Scope::Read)?;
    let mut tx = state.store.read(&scope).await?;
    let days = stats::workflow_runs_per_day(&mut tx, CHART_DAYS).await?;
    tx.commit().await?;
    Ok(days)
}
