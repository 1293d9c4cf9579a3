//! The dashboard: the workspace's figures and activity.

use crate::chart::DailyBars;
use crate::render::{page, Chrome, PageError};
use crate::session::{Csrf, SignedIn};
use app::dashboard::{self, Figure};
use app::App;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

/// One metric card.
pub struct Card {
    /// Stable key (for tests and styling).
    pub key: &'static str,
    /// What is counted.
    pub label: &'static str,
    /// The figure.
    pub value: String,
    /// A line of context.
    pub hint: &'static str,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    chrome: Chrome,
    cards: Vec<Card>,
    updated: String,
    title: &'static str,
    chart: DailyBars,
}

#[derive(Template)]
#[template(path = "dashboard_cards.html")]
struct Cards {
    cards: Vec<Card>,
    updated: String,
}

impl From<Figure> for Card {
    fn from(f: Figure) -> Self {
        Self {
            key: f.key,
            label: f.label,
            value: f.value.to_string(),
            hint: f.hint,
        }
    }
}

fn now_label() -> String {
    chrono::Utc::now().format("%H:%M:%S").to_string()
}

/// `GET /dashboard`.
pub async fn dashboard(
    State(state): State<App>,
    user: SignedIn,
    csrf: Csrf,
) -> Result<Response, PageError> {
    let overview = dashboard::overview(&state, &user.principal).await?;
    Ok(page(
        StatusCode::OK,
        &Dashboard {
            chrome: Chrome::new("Dashboard", &csrf.0, Some(user.profile), "dashboard"),
            cards: overview.figures.into_iter().map(Card::from).collect(),
            updated: now_label(),
            title: "Audit events per day",
            chart: DailyBars::new(&overview.audit_per_day),
        },
    ))
}

/// `GET /dashboard/cards`: the cards alone, for the refresh button.
pub async fn cards_fragment(
    State(state): State<App>,
    user: SignedIn,
) -> Result<Response, PageError> {
    let figures = dashboard::figures_now(&state, &user.principal).await?;
    let mut res = page(
        StatusCode::OK,
        &Cards {
            cards: figures.into_iter().map(Card::from).collect(),
            updated: now_label(),
        },
    );
    res.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(res)
}
