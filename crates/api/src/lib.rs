//! The HTTP edge of BizOSaaS: the `/api/v1` router, authentication, errors as
//! problem+json, the OpenAPI document, health and metrics.
//!
//! Handlers extract, call one use case of [`app`] and answer JSON; every
//! failure is an [`app::AppError`], mapped to HTTP once, in [`problem`].

mod app_router;
mod auth;
pub mod extract;
pub mod idempotency;
pub mod listener;
mod metrics;
mod openapi;
mod problem;
mod request_id;
pub mod routes;

pub use app_router::{not_found, router, router_with};
pub use auth::{bearer, Auth};
pub use openapi::{document as openapi_document, ApiDoc};
pub use problem::{ApiError, Problem};
