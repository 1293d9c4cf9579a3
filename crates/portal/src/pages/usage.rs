//! `/ai-agents/usage`: what the workspace's model calls used and cost over
//! the last 30 days: tokens per day as a chart, then by agent and by model.

use crate::chart::DailyBars;
use crate::render::{page, Chrome, PageError};
use crate::session::{Csrf, SignedIn};
use app::agents;
use app::input::PageParams;
use app::usage::{self, UsageQuery, UsageRow};
use app::App;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{NaiveDate, TimeDelta, Utc};

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

/// `GET /ai-agents/usage` (admins).
pub async fn show(
    State(state): State<App>,
    user: SignedIn,
    csrf: Csrf,
) -> Result<Response, PageError> {
    let (days, total) = rows(&state, &user, "day").await?;
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
    let names = agents::list(&state, &user.principal, PageParams::largest())
        .await?
        .items;
    let by_agent = rows(&state, &user, "agent")
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
    let by_model = rows(&state, &user, "model").await?.0;
    Ok(page(
        StatusCode::OK,
        &UsagePage {
            chrome: Chrome::new("Usage", &csrf.0, Some(user.profile), "agents"),
            title: "Tokens per day",
            chart: DailyBars::new(&points),
            total,
            by_agent,
            by_model,
        },
    ))
}
