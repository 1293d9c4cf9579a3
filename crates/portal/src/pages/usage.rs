//! `/ai-agents/usage`: what the workspace's model calls used and cost over
//! the last 30 days: tokens per day as a chart, then by agent and by model,
//! and the monthly budget with a form to change it.

use crate::chart::DailyBars;
use crate::origin::Origin;
use crate::render::inline_problem;
use crate::render::{page, Chrome, PageError};
use crate::session::CheckedForm;
use crate::session::{Csrf, SignedIn};
use app::agents;
use app::budgets::{self, BudgetView, SetBudget};
use app::input::PageParams;
use app::usage::{self, UsageQuery, UsageRow};
use app::App;
use askama::Template;
use axum::extract::Query;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::response::{IntoResponse, Redirect};
use chrono::{NaiveDate, TimeDelta, Utc};
use domain::validation::FieldError;
use serde::Deserialize;

const DAYS: u32 = 30;

#[derive(Template)]
#[template(path = "usage.html")]
struct UsagePage {
    chrome: Chrome,
    title: &'static str,
    chart: DailyBars,
    total: UsageRow,
    by_agent: Vec<(String, UsageRow)>,
    by_model: Vec<UsageRow>,
    budget: BudgetView,
    budget_tokens: String,
    budget_dollars: String,
    budget_rate: String,
    notice: Option<String>,
    message: Option<String>,
    errors: Vec<FieldError>,
}

async fn rows(
    state: &App,
    user: &SignedIn,
    group: &str,
) -> Result<(Vec<UsageRow>, UsageRow), PageError> {
    let r = usage::report(
        state,
        &user.principal,
        UsageQuery {
            group_by: Some(group.into()),
            days: Some(DAYS),
        },
    )
    .await?;
    Ok((r.rows, r.total))
}

/// Whether the budget was just saved.
#[derive(Deserialize)]
pub struct ShowQuery {
    saved: Option<String>,
}

/// `GET /ai-agents/usage` (admins).
pub async fn show(
    State(state): State<App>,
    user: SignedIn,
    csrf: Csrf,
    Query(q): Query<ShowQuery>,
) -> Result<Response, PageError> {
    let mut p = usage_page(&state, &user, &csrf).await?;
    p.notice = q.saved.map(|_| "Budget saved.".to_string());
    Ok(page(StatusCode::OK, &p))
}

async fn usage_page(state: &App, user: &SignedIn, csrf: &Csrf) -> Result<UsagePage, PageError> {
    let (days, total) = rows(state, user, "day").await?;
    let today = Utc::now().date_naive();
    let points: Vec<(NaiveDate, i64)> = (0..i64::from(DAYS))
        .rev()
        .map(|back| {
            let day = today - TimeDelta::days(back);
            let key = day.format("%Y-%m-%d").to_string();
            let tokens = days
                .iter()
                .find(|r| r.key == key)
                .map_or(0, |r| r.input_tokens + r.output_tokens);
            (day, tokens)
        })
        .collect();
    let names = agents::list(state, &user.principal, PageParams::largest())
        .await?
        .items;
    let by_agent = rows(state, user, "agent")
        .await?
        .0
        .into_iter()
        .map(|r| {
            let name = names
                .iter()
                .find(|a| a.id.to_string() == r.key)
                .map(|a| a.name.clone())
                .unwrap_or_else(|| {
                    if r.key.is_empty() {
                        "no agent".into()
                    } else {
                        "a deleted agent".into()
                    }
                });
            (name, r)
        })
        .collect();
    let by_model = rows(state, user, "model").await?.0;
    let budget = budgets::get(state, &user.principal).await?;
    Ok(UsagePage {
        chrome: Chrome::new("Usage", &csrf.0, Some(user.profile.clone()), "agents"),
        title: "Tokens per day",
        chart: DailyBars::new(&points),
        total,
        by_agent,
        by_model,
        budget_tokens: budget
            .monthly_tokens
            .map(|t| t.to_string())
            .unwrap_or_default(),
        budget_dollars: budget
            .monthly_cost_usd
            .map(|c| c.to_string())
            .unwrap_or_default(),
        budget_rate: budget
            .requests_per_minute
            .map(|r| r.to_string())
            .unwrap_or_default(),
        budget,
        notice: None,
        message: None,
        errors: Vec::new(),
    })
}

/// The budget form: blank fields are no limit.
#[derive(Deserialize)]
pub struct BudgetForm {
    #[serde(default)]
    monthly_tokens: String,
    #[serde(default)]
    monthly_cost_usd: String,
    #[serde(default)]
    requests_per_minute: String,
}

/// `POST /ai-agents/usage/budget` (admins).
pub async fn set_budget(
    State(state): State<App>,
    user: SignedIn,
    csrf: Csrf,
    Origin(origin): Origin,
    CheckedForm(f): CheckedForm<BudgetForm>,
) -> Result<Response, PageError> {
    let mut errors = Vec::new();
    let tokens = match f.monthly_tokens.trim() {
        "" => None,
        t => t.parse().map(Some).unwrap_or_else(|_| {
            errors.push(FieldError::new("monthly_tokens", "must be a whole number"));
            None
        }),
    };
    let cost = match f.monthly_cost_usd.trim() {
        "" => None,
        c => c.parse().map(Some).unwrap_or_else(|_| {
            errors.push(FieldError::new(
                "monthly_cost_usd",
                "must be an amount in dollars",
            ));
            None
        }),
    };
    let rate = match f.requests_per_minute.trim() {
        "" => None,
        r => r.parse().map(Some).unwrap_or_else(|_| {
            errors.push(FieldError::new(
                "requests_per_minute",
                "must be a whole number",
            ));
            None
        }),
    };
    let saved = match app::AppError::collect(errors) {
        Ok(()) => budgets::set(
            &state,
            &user.principal,
            origin,
            SetBudget {
                monthly_tokens: tokens,
                monthly_cost_usd: cost,
                requests_per_minute: rate,
            },
        )
        .await
        .map(drop),
        Err(e) => Err(e),
    };
    match saved {
        Ok(()) => Ok(Redirect::to("/ai-agents/usage?saved=1").into_response()),
        Err(e) => {
            let problem = inline_problem(e)?;
            let mut p = usage_page(&state, &user, &csrf).await?;
            p.message = Some(format!("Not saved: {}", problem.detail));
            p.errors = problem.errors;
            Ok(page(crate::render::status_of(problem.status), &p))
        }
    }
}
