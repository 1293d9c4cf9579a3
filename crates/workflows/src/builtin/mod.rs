//! The platform's own workflows: maintenance, exports and connector syncs.

pub mod audit_export;
pub mod connector_sync;
pub mod maintenance;

use crate::Registry;

/// Every built-in workflow and activity.
pub fn registry() -> Registry {
    let mut r = Registry::new();
    maintenance::register(&mut r);
    audit_export::register(&mut r);
    connector_sync::register(&mut r);
    r
}
