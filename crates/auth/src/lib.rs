//! Authentication primitives that know nothing of storage or HTTP.

pub mod password;
pub mod sso;
