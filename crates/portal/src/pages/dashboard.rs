//! The dashboard and the sections whose capability has not landed yet.

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
}

/// The cards, from live data of the signed-in tenant.
async fn cards(state: &AppState, user: &SignedIn) -> Result<Vec<Card>, PageError> {
    let mut tx = state
        .store
        .read(&user.principal.scope())
        .await
        .map_err(api::ApiError::from)?;
    let week = chrono::Utc::now() - chrono::TimeDelta::days(7);
    let members = stats::members(&mut tx).await.map_err(api::ApiError::from)?;
    let tokens = stats::active_tokens(&mut tx)
        .await
        .map_err(api::ApiError::from)?;
    let events = stats::audit_events_since(&mut tx, week)
        .await
        .map_err(api::ApiError::from)?;
    tx.commit().await.map_err(api::ApiError::from)?;
    Ok(vec![
        Card {
            label: "Members",
            value: members.to_string(),
            hint: "people in this workspace",
        },
        Card {
            label: "API tokens",
            value: tokens.to_string(),
            hint: "active, not revoked",
        },
        Card {
            label: "Audit events",
            value: events.to_string(),
            hint: "in the last 7 days",
        },
    ])
}

/// `GET /dashboard`.
pub async fn dashboard(
    State(state): State<AppState>,
    user: SignedIn,
    csrf: Csrf,
) -> Result<Response, PageError> {
    let cards = cards(&state, &user).await?;
    Ok(page(
        StatusCode::OK,
        &Dashboard {
            chrome: Chrome::new("Dashboard", &csrf.0, Some(user.profile), "dashboard"),
            cards,
        },
    ))
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
