//! Liveness and readiness.

use crate::problem::Problem;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

/// Health answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` or `ready`.
    pub status: &'static str,
    /// The database backend, on `/readyz`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<&'static str>,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok",
        database: None,
    })
}

/// The process can serve: the database answers and its schema is current.
#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, body = Health),
    (status = 503, description = "Not ready; `detail` names what", body = Problem, content_type = "application/problem+json")
))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    let not_ready = |detail: String| {
        let mut p = Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not-ready",
            "Not ready",
            detail,
        );
        p.retry_after = Some(1);
        p.into_response()
    };
    if let Err(e) = state.store.ping().await {
        return not_ready(format!(
            "database ({}) unreachable: {e}",
            state.store.backend().name()
        ));
    }
    match state.store.migration_status().await {
        Ok(s) if s.pending.is_empty() => Json(Health {
            status: "ready",
            database: Some(state.store.backend().name()),
        })
        .into_response(),
        Ok(s) => not_ready(format!(
            "database migrations not applied: {}",
            s.pending.join(", ")
        )),
        Err(e) => not_ready(format!("could not read migration state: {e}")),
    }
}
