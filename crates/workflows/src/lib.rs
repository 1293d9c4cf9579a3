//! Durable workflows (DESIGN §10): one model for work, two engines.
//!
//! An activity is a plain async function from JSON input to JSON output that
//! may be tried more than once, so its effects are keyed by the idempotency
//! key it is given. A workflow is ordinary async code over a
//! [`WorkflowCtx`]: it calls activities, sleeps on durable timers, waits for
//! signals and starts child workflows, with loops and branches as it likes. It is written once;
//! the embedded runner ([`embedded`]) replays it from the journal it keeps in
//! the database, and Temporal replays it from its own history.

mod activity;
mod cadence;
mod change;
mod context;
mod error;
mod metrics;
mod registry;
mod start;

pub mod builtin;
pub mod embedded;
pub mod temporal;

pub use activity::{ActivityCtx, ActivityEnv, ConnectorEnv};
pub use cadence::{check as check_cadence, next_after};
pub use context::{ActivityOptions, WorkflowCtx};
pub use error::WorkflowError;
pub use metrics::WorkflowMetrics;
pub use registry::{ActivityDef, Registry, WorkflowDef};
