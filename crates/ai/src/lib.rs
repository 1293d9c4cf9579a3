//! LLM providers and agents: which providers a tenant can bring a key for,
//! checking such a key, chatting with the providers' models, the catalogue
//! of agent templates and the tools agents may be given.

pub mod catalog;
pub mod chat;
pub mod prices;
pub mod providers;
pub mod tools;
