//! Connectors to the tools a business already runs (DESIGN.md §9).
//!
//! A connector speaks one provider's API behind the [`Connector`] trait: it
//! says how it authenticates and which resources it has, and for each it
//! lists (paged, and incrementally from a time), gets, creates, updates and
//! deletes where the provider allows. What every connector needs (the
//! guarded HTTP client, retries with backoff and jitter, `Retry-After`, a
//! per-connection pause after a rate limit, paging helpers, error
//! normalisation) lives here once, in [`http`] and [`paging`]. Adding a
//! connector is one module and one line in [`Registry::builtin`].

mod connector;
mod error;
pub mod http;
mod model;
pub mod paging;
mod registry;
pub mod wordpress;

pub use connector::{Connection, Connector};
pub use error::{ConnectorError, FieldError};
pub use model::{
    AuthKind, Category, Field, FieldKind, ListRequest, Page, Record, ResourceSpec, Spec, Writes,
};
pub use registry::Registry;
