//! The use cases of BizOSaaS, between the adapters (store, secrets, workflow
//! engines, providers) and the edges (the API and the portal).
//!
//! Each operation is a function of the application state, the caller and a
//! command, returning a domain value or an [`AppError`]. Roles and scopes,
//! validation, idempotency and the audit entry are decided here, once; the
//! edges only extract, call and render. Nothing here knows HTTP.

pub mod access;
pub mod agents;
pub mod approvals;
pub mod audit;
pub mod budgets;
pub mod chat;
pub mod connectors;
pub mod dashboard;
mod error;
pub mod gateway;
pub mod health;
pub mod idempotency;
pub mod identity;
pub mod input;
pub mod invitations;
pub mod keys;
pub mod members;
mod metrics;
pub mod origin;
mod page_cache;
pub mod profile;
pub mod sso;
mod state;
mod throttle;
pub mod tokens;
pub mod usage;
pub mod workflows;

pub use access::TokenCache;
pub use error::AppError;
pub use metrics::{HttpLabels, Metrics};
pub use state::{App, Parts, Settings, Workflows};
