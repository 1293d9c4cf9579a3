//! The dashboard and the sections whose capability has not landed yet.

use crate::chart::DailyBars;
use crate::nav;
use crate::render::{page, Chrome, PageError};
use crate::session::{Csrf, SignedIn};
use api::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use store::stats;

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

fn store_err(e: store::StoreError) -> PageError {
    api::ApiError::from(e).into()
}

/// The cards of the registry ([`stats::METRICS`]), from live data.
async fn cards(tx: &mut store::TenantTx) -> Result<Vec<Card>, PageError> {
    let mut cards = Vec::with_capacity(stats::METRICS.len());
    for m in stats::METRICS {
        let n = stats::count(tx, m).await.map_err(store_err)?;
        cards.push(Card {
            key: m.key,
            label: m.label,
            value: n.to_string(),
            hint: m.hint,
        });
    }
    Ok(cards)
}

fn now_label() -> String {
    chrono::Utc::now().format("%H:%M:%S").to_string()
}

/// `GET /dashboard`.
pub async fn dashboard(
    State(state): State<AppState>,
    user: SignedIn,
    csrf: Csrf,
) -> Result<Response, PageError> {
    // The cards and the chart read one snapshot.
    let mut tx = state
        .store
        .read(&user.principal.scope())
        .await
        .map_err(store_err)?;
    let cards = cards(&mut tx).await?;
    let days = stats::audit_events_per_day(&mut tx, 30)
        .await
        .map_err(store_err)?;
    tx.commit().await.map_err(store_err)?;
    Ok(page(
        StatusCode::OK,
        &Dashboard {
            chrome: Chrome::new("Dashboard", &csrf.0, Some(user.profile), "dashboard"),
            cards,
            updated: now_label(),
            title: "Audit events per day",
            chart: DailyBars::new(&days),
        },
    ))
}

/// `GET /dashboard/cards`: the cards alone, for the refresh button.
pub async fn cards_fragment(
    State(state): State<AppState>,
    user: SignedIn,
) -> Result<Response, PageError> {
    let mut tx = state
        .store
        .read(&user.principal.scope())
        .await
        .map_err(store_err)?;
    let cards = cards(&mut tx).await?;
    tx.commit().await.map_err(store_err)?;
    let mut res = page(
        StatusCode::OK,
        &Cards {
            cards,
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
