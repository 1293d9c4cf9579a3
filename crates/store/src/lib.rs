//! Storage for BizOSaaS on two backends, one codebase: SQLite (the embedded
//! default) and PostgreSQL (production, with row-level security).
//!
//! SQL text is shared where the dialects agree (both accept `$N` parameters);
//! the [`with_conn!`] macro runs one statement against whichever backend is
//! connected, so each repository function is written once.

mod connect;
mod error;
mod health;
mod tx;

pub mod agents;
pub mod api_keys;
pub mod approvals;
pub mod audit;
pub mod budgets;
pub mod changes;
pub mod connections;
pub mod conversations;
pub mod idempotency;
pub mod identities;
pub mod invitations;
pub mod login_failures;
pub mod memberships;
pub mod redis_ledger;
pub mod registrations;
pub mod sealed;
pub mod sessions;
pub mod stats;
pub mod synced;
pub mod tenants;
pub mod tokens;
pub mod usage;
pub mod users;
pub mod workflows;

pub use connect::{default_pool_size, redact_url, Backend, DbConfig, PoolStats, Store};
pub use error::StoreError;
pub use health::{MigrationStatus, SecurityReport};
pub use tx::{SystemTx, TenantTx, Tx};

/// Result of a store operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
