//! LLM providers. For now: which providers a tenant can bring a key for, and
//! checking such a key against the provider's own API before it is stored.

pub mod providers;
