//! The HTTP edge of BizOSaaS: the `/api/v1` router, authentication, errors as
//! problem+json, the OpenAPI document, health and metrics.
//!
//! Handlers speak domain types and the store; every failure becomes an
//! [`ApiError`], mapped to HTTP once, in [`problem`].

mod app;
mod auth;
pub mod extract;
pub mod idempotency;
mod metrics;
mod openapi;
mod page_cache;
mod problem;
mod request_id;
pub mod routes;
mod server;
pub mod sso;
mod state;
mod throttle;

pub use app::{not_found, router, router_with};
pub use auth::{resolve as resolve_bearer, Auth, TokenCache};
pub use metrics::Metrics;
pub use openapi::ApiDoc;
pub use problem::{ApiError, Problem};
pub use server::Server;
pub use state::{AppState, WebConfig, Workflows};
