//! `/dashboard/connectors`: every connector with the workspace's connection
//! to it; one connector's page connects it (its fields, checked live),
//! syncs its resources (the run's live progress on its workflow page),
//! sets its schedule and disconnects it.

use crate::nav::{self, ConnectorEntry, CONNECTOR_CATALOGUE};
use crate::origin::Origin;
use crate::render::{inline_problem, page, status_of, Chrome, PageError};
use crate::session::{CheckedForm, Csrf, NoFields, SignedIn};
use app::connectors::{self, ConnectorView, Schedule, SyncRequest};
use app::App;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::tokens::Scope;
use domain::validation::FieldError;
use serde::Deserialize;
use std::collections::BTreeMap;

/// A row of the catalogue: what it is, and the workspace's connection if
/// the connector is available in this version.
struct Row {
    entry: &'static ConnectorEntry,
    view: Option<ConnectorView>,
}

/// The status badge of a connector: its class and its words.
fn badge(view: Option<&ConnectorView>) -> (&'static str, &'static str) {
    match view {
        None => ("badge-muted", "Coming later"),
        Some(v) => match v.connection.as_ref().map(|c| c.status.as_str()) {
            None => ("badge-muted", "Not connected"),
            Some("needs_reconnect") => ("badge-danger", "Needs reconnecting"),
            Some(_) => ("badge-ok", "Connected"),
        },
    }
}

impl Row {
    fn badge(&self) -> (&'static str, &'static str) {
        badge(self.view.as_ref())
    }

    fn records(&self) -> i64 {
        self.view
            .as_ref()
            .map_or(0, |v| v.resources.iter().map(|r| r.records).sum())
    }

    fn last_sync(&self) -> String {
        self.view
            .as_ref()
            .and_then(|v| v.connection.as_ref())
            .and_then(|c| c.last_sync_at)
            .map_or_else(
                || "—".into(),
                |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
            )
    }
}

#[derive(Template)]
#[template(path = "connectors.html")]
struct ConnectorsPage {
    chrome: Chrome,
    rows: Vec<Row>,
}

/// `GET /dashboard/connectors`.
pub async fn list(
    State(state): State<App>,
    user: SignedIn,
    csrf: Csrf,
) -> Result<Response, PageError> {
    let mut views = connectors::list(&state, &user.principal).await?;
    let rows = CONNECTOR_CATALOGUE
        .iter()
        .map(|entry| Row {
            entry,
            view: views
                .iter()
                .position(|v| v.id == entry.id)
                .map(|i| views.remove(i)),
        })
        .collect();
    Ok(page(
        StatusCode::OK,
        &ConnectorsPage {
            chrome: Chrome::new("Connectors", &csrf.0, Some(user.profile), "connectors"),
            rows,
        },
    ))
}

/// A field of the connect form.
struct FormField {
    name: String,
    label: String,
    kind: &'static str,
    help: String,
    value: String,
}

#[derive(Template)]
#[template(path = "connector.html")]
struct ConnectorPage {
    chrome: Chrome,
    entry: &'static ConnectorEntry,
    view: Option<ConnectorView>,
    fields: Vec<FormField>,
    is_admin: bool,
    can_write: bool,
    notice: Option<String>,
    message: Option<String>,
    errors: Vec<FieldError>,
}

impl ConnectorPage {
    fn status(&self) -> (&'static str, &'static str) {
        badge(self.view.as_ref())
    }

    fn interval(&self) -> String {
        self.view
            .as_ref()
            .and_then(|v| v.connection.as_ref())
            .and_then(|c| c.sync_interval_minutes)
            .map_or_else(String::new, |m| m.to_string())
    }
}

async fn connector_page(
    state: &App,
    user: &SignedIn,
    csrf: &Csrf,
    id: &str,
    typed: &BTreeMap<String, String>,
) -> Result<ConnectorPage, PageError> {
    let entry = nav::connector(id).ok_or(PageError::NotFound)?;
    let view = match connectors::show(state, &user.principal, id).await {
        Ok(v) => Some(v),
        Err(app::AppError::NotFound(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let settings = view
        .as_ref()
        .and_then(|v| v.connection.as_ref())
        .map(|c| c.settings.clone())
        .unwrap_or_default();
    let fields = view
        .as_ref()
        .and_then(|v| v.auth["fields"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .map(|f| {
            let name = f["name"].as_str().unwrap_or_default().to_string();
            let secret = f["secret"].as_bool().unwrap_or(true);
            // A secret is never put back in a form, not even a failed one.
            let value = if secret {
                String::new()
            } else {
                typed
                    .get(&name)
                    .cloned()
                    .or_else(|| {
                        settings
                            .get(&name)
                            .and_then(|v| v.as_str())
                            .map(str::to_string)
                    })
                    .unwrap_or_default()
            };
            FormField {
                label: f["label"].as_str().unwrap_or_default().to_string(),
                kind: match f["kind"].as_str() {
                    Some("url") => "url",
                    Some("password") => "password",
                    _ => "text",
                },
                help: f["help"].as_str().unwrap_or_default().to_string(),
                value,
                name,
            }
        })
        .collect();
    Ok(ConnectorPage {
        chrome: Chrome::new(
            entry.name,
            &csrf.0,
            Some(user.profile.clone()),
            "connectors",
        ),
        entry,
        view,
        fields,
        is_admin: user.principal.has_scope(Scope::Admin),
        can_write: user.principal.has_scope(Scope::Write),
        notice: None,
        message: None,
        errors: vec![],
    })
}

/// `GET /dashboard/connectors/{id}`.
pub async fn show(
    State(state): State<App>,
    user: SignedIn,
    csrf: Csrf,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let p = connector_page(&state, &user, &csrf, &id, &BTreeMap::new()).await?;
    Ok(page(StatusCode::OK, &p))
}

/// `POST /dashboard/connectors/{id}/connect`: the connector's fields.
pub async fn connect(
    State(state): State<App>,
    user: SignedIn,
    csrf: Csrf,
    Origin(origin): Origin,
    Path(id): Path<String>,
    CheckedForm(mut form): CheckedForm<BTreeMap<String, String>>,
) -> Result<Response, PageError> {
    form.remove("csrf");
    let fields = form
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let done = connectors::connect(&state, &user.principal, origin, &id, fields).await;
    let mut p = connector_page(&state, &user, &csrf, &id, &form).await?;
    match done {
        Ok(_) => {
            p.notice = Some(format!(
                "{} is connected. Its credentials are in the secret store; sync a resource to bring its data in.",
                p.entry.name
            ));
            Ok(page(StatusCode::OK, &p))
        }
        Err(e) => {
            let problem = inline_problem(e)?;
            p.message = Some(format!("Not connected: {}", problem.detail));
            p.errors = problem.errors;
            Ok(page(status_of(problem.status), &p))
        }
    }
}

/// The sync form.
#[derive(Deserialize)]
pub struct SyncForm {
    full: Option<String>,
}

/// `POST /dashboard/connectors/{id}/sync/{resource}`: starts a sync and
/// shows its run, whose progress updates live.
pub async fn sync(
    State(state): State<App>,
    user: SignedIn,
    Path((id, resource)): Path<(String, String)>,
    CheckedForm(f): CheckedForm<SyncForm>,
) -> Result<Response, PageError> {
    let started = connectors::sync(
        &state,
        &user.principal,
        &id,
        &resource,
        None,
        SyncRequest {
            full: Some(f.full.is_some()),
        },
    )
    .await?;
    Ok(Redirect::to(&format!("/workflows/{}", started.run.id)).into_response())
}

/// The schedule form.
#[derive(Deserialize)]
pub struct ScheduleForm {
    #[serde(default)]
    interval_minutes: String,
}

/// `POST /dashboard/connectors/{id}/schedule`.
pub async fn schedule(
    State(state): State<App>,
    user: SignedIn,
    csrf: Csrf,
    Origin(origin): Origin,
    Path(id): Path<String>,
    CheckedForm(f): CheckedForm<ScheduleForm>,
) -> Result<Response, PageError> {
    let raw = f.interval_minutes.trim();
    let interval = if raw.is_empty() {
        Ok(None)
    } else {
        raw.parse::<i32>().map(Some)
    };
    let done = match interval {
        Ok(interval_minutes) => {
            connectors::set_schedule(
                &state,
                &user.principal,
                origin,
                &id,
                Schedule { interval_minutes },
            )
            .await
        }
        Err(_) => Err(app::AppError::field(
            "interval_minutes",
            "a whole number of minutes",
        )),
    };
    let mut p = connector_page(&state, &user, &csrf, &id, &BTreeMap::new()).await?;
    match done {
        Ok(v) => {
            p.notice = Some(match v.connection.and_then(|c| c.sync_interval_minutes) {
                Some(m) => format!("Every resource is synced every {m} minutes."),
                None => "Scheduled syncs are off.".into(),
            });
            Ok(page(StatusCode::OK, &p))
        }
        Err(e) => {
            let problem = inline_problem(e)?;
            p.message = Some(format!("Not saved: {}", problem.detail));
            p.errors = problem.errors;
            Ok(page(status_of(problem.status), &p))
        }
    }
}

/// `POST /dashboard/connectors/{id}/disconnect`.
pub async fn disconnect(
    State(state): State<App>,
    user: SignedIn,
    csrf: Csrf,
    Origin(origin): Origin,
    Path(id): Path<String>,
    CheckedForm(_): CheckedForm<NoFields>,
) -> Result<Response, PageError> {
    connectors::disconnect(&state, &user.principal, origin, &id).await?;
    let mut p = connector_page(&state, &user, &csrf, &id, &BTreeMap::new()).await?;
    p.notice = Some(format!(
        "{} is disconnected: its credentials are destroyed and its synced data deleted.",
        p.entry.name
    ));
    Ok(page(StatusCode::OK, &p))
}
