//! Page handlers, one module per area.

pub mod agents;
pub mod audit;
pub mod auth;
pub mod byok;
pub mod connectors;
pub mod dashboard;
pub mod records;
pub mod sections;
pub mod settings;
pub mod usage;
pub mod workflow_runs;
