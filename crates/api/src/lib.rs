//! The HTTP edge of BizOSaaS: the `/api/v1` router, authentication, errors as
//! problem+json, the OpenAPI document, health and metrics.
//!
//! Handlers speak domain types and the store; every failure becomes an
//! [`ApiError`], mapped to HTTP once, in [`problem`].

mod app;
mod auth;
mod extract;
mod idempotency;
mod metrics;
mod openapi;
mod problem;
mod request_id;
mod routes;
mod server;
mod state;
mod throttle;

pub use app::router;
pub use auth::{resolve as resolve_bearer, TokenCache};
pub use metrics::Metrics;
pub use openapi::ApiDoc;
pub use problem::{ApiError, Problem};
pub use server::Server;
pub use state::{AppState, WebConfig};
