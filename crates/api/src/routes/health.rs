//! Liveness and readiness.

use crate::problem::Problem;
use app::App;
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
pub async fn readyz(State(state): State<App>) -> Response {
    match app::health::readiness(&state).await {
        Ok(database) => Json(Health {
            status: "ready",
            database: Some(database),
        })
        .into_response(),
        Err(detail) => {
            let mut p = Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not-ready",
                "Not ready",
                detail,
            );
            p.retry_after = Some(1);
            p.into_response()
        }
    }
}
