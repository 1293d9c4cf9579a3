//! The dashboard and the sections whose capability has not landed yet.

use crate::chart::DailyBars;
use crate::nav;
use crate::render::{page, Chrome, PageError};
use crate::session::{Csrf, SignedIn};
use app::dashboard::{self, Figure};
use app::App;
use askama::Template;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
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

#[derive(Template)]
#[template(path = "pending.html")]
struct PendingPage {
    chrome: Chrome,
    heading: &'static str,
    holds: &'static str,
    next_step: &'static str,
    next_href: &'static str,
}

/// A section that is not built yet: what it will hold, and the first step.
pub async fn pending(uri: Uri, user: SignedIn, csrf: Csrf) -> Result<Response, PageError> {
    let key = uri.path().trim_start_matches('/');
    let section = nav::section(key).ok_or(PageError::NotFound)?;
    let p = section.pending.as_ref().ok_or(PageError::NotFound)?;
    Ok(page(
        StatusCode::OK,
        &PendingPage {
            chrome: Chrome::new(section.label, &csrf.0, Some(user.profile), section.key),
            heading: section.label,
            holds: p.holds,
            next_step: p.next_step,
            next_href: p.next_href,
        },
    ))
}
